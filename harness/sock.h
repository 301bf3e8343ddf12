/*
 * sock.h — the harness's own socket helpers. The harness shares no code with echod (an oracle
 * shares nothing with what it judges), so these are written apart from target/net.c.
 *
 * Every wait takes a deadline in milliseconds on CLOCK_MONOTONIC (sock_now_ms()); nothing here
 * blocks past it. Errors are returned as -errno (e.g. -ECONNRESET) so callers can name them.
 */
#ifndef FRAMESPEC_SOCK_H
#define FRAMESPEC_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A resolved target address. */
typedef struct {
    struct sockaddr_storage sa;
    socklen_t len;
    int family; /* AF_INET, AF_INET6 or AF_UNIX */
    char text[160]; /* as given: "HOST:PORT" or "unix:PATH" */
} sock_addr;

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t sock_now_ms(void);
/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t sock_now_ns(void);

/*
 * Resolve "HOST:PORT", "[V6]:PORT" or "unix:PATH" (numeric hosts and "localhost"; PORT a decimal
 * 1..65535, checked here because getaddrinfo() wraps larger numbers). Returns 0, or
 * -1 with a message in err[0..errlen).
 */
int sock_parse_addr(const char *text, sock_addr *out, char *err, size_t errlen);

/*
 * Connect a non-blocking socket to `a`, waiting until `deadline_ms`. TCP sockets get TCP_NODELAY.
 * Returns the descriptor (still non-blocking), or -errno (-ETIMEDOUT at the deadline).
 */
int sock_connect(const sock_addr *a, int64_t deadline_ms);
/* Has the connect() begun on non-blocking fd (sock_connect_start()) completed, without waiting?
 * 1 yes, 0 still in its handshake, or -errno (SO_ERROR: ECONNREFUSED ...). fd stays open. */
int sock_connect_check(int fd);
/* The TCP port of an AF_INET or AF_INET6 address (host order), or 0 (a unix socket). */
unsigned sock_port(const struct sockaddr_storage *ss);

/* The first half of sock_connect(), so that many connections can be in their handshakes at once
 * (the scenario engine's `connect c1..c500`): a non-blocking fd whose connect() is done or in
 * progress (TCP_NODELAY set), or -errno. */
int sock_connect_start(const sock_addr *a);

/*
 * The peer layer's one send loop (peer_send(): every send of the scenario engine): send
 * buf[0..len) on non-blocking fd until all of it is sent, the socket fails, or `deadline_ms`
 * passes while its send buffer is full. While it is full,
 * on_full(arg) (may be NULL) runs every 10 ms or less: callers read their peers' echoes there,
 * so that a server that echoes cannot deadlock them. Never raises SIGPIPE (MSG_NOSIGNAL).
 * Returns the bytes sent; *err gets 0, -ETIMEDOUT, or the send's -errno (-EPIPE, -ECONNRESET:
 * sock_close_kind() says what they mean).
 */
size_t sock_send_until(int fd, const void *buf, size_t len, int64_t deadline_ms,
                       void (*on_full)(void *arg), void *arg, int *err);

enum { SOCK_OPEN = 0, SOCK_EOF, SOCK_RESET, SOCK_TIMEOUT, SOCK_ERROR };

/*
 * The harness's one close-kind classifier: what a recv() result `n` (or a failed send(): n < 0)
 * with errno `err` says about how the peer closed. recv() returning 0 is FIN (SOCK_EOF).
 * ECONNRESET and EPIPE are RST (SOCK_RESET): Linux reports a peer's RST as ECONNRESET, or as
 * EPIPE when the peer's FIN had arrived before it (tcp_reset() in CLOSE-WAIT); on a unix socket
 * they mean the peer closed with unread data, or closed. EAGAIN/EINTR (and n > 0) are SOCK_OPEN;
 * anything else is SOCK_ERROR. The error is reported once: afterwards the socket reads as EOF,
 * so callers keep the first kind observed on a connection (peer.h).
 */
int sock_close_kind(ssize_t n, int err);

/* Name of a close kind: "open", "FIN", "RST", "timeout", "error". */
const char *sock_close_name(int kind);

/*
 * Wait for readability until `deadline_ms`. Returns 1 readable, 0 at the deadline, -errno on error.
 */
int sock_wait_readable(int fd, int64_t deadline_ms);

/* Close with SO_LINGER {1,0}: the kernel sends RST (socket(7)). */
void sock_abort(int fd);

/* Name of an errno value ("ECONNRESET"); for unknown values "E<number>". Static or per-thread. */
const char *sock_errno_name(int err);

#endif
