/*
 * peer.h — the scenario engine's I/O layer: one client connection with its inbox, read while
 * anything is sent so that a large send cannot deadlock against a server that echoes.
 *
 * A peer owns a non-blocking descriptor and an inbox (heap, grown in steps up to a cap). How the
 * connection ended is the first close kind observed on it (sock_close_kind(), the harness's one
 * classifier): the kernel reports an error once and reads EOF afterwards, so a later read must
 * not overwrite it. Every wait takes a deadline in milliseconds on CLOCK_MONOTONIC
 * (sock_now_ms()). Used by the scenario interpreter (scenario_run.c), and so by `framespec
 * replay`, the reproducers of failing cases and `framespec fuzz`.
 */
#ifndef FRAMESPEC_PEER_H
#define FRAMESPEC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a peer reports as it happens (the scenario engine's wire log): event is "recv" (buf[0..n)
 * arrived), "send" (buf[0..n) was taken by the kernel) or "closed" (n is the close kind). */
struct peer_s;
typedef void (*peer_log_fn)(void *arg, const struct peer_s *p, const char *event,
                            const uint8_t *buf, size_t n);

/* The writes of a peer remembered for attribution: the last PEER_WRITES (peer_heard_by()). */
#define PEER_WRITES 256
#define PEER_ACKS 32

typedef struct peer_s {
    int fd;          /* -1 once closed by us */
    uint8_t *inbox;  /* what arrived and no expect consumed yet; owned */
    size_t in_len;   /* bytes in inbox */
    size_t in_cap;   /* bytes allocated */
    size_t in_max;   /* the cap: at in_max the peer stops reading until peer_consume() */
    int closed;      /* SOCK_OPEN, or the first close kind observed (SOCK_EOF, SOCK_RESET, ...),
                      * by a read or by a send */
    bool rd_done;    /* a read returned 0 or an error: nothing more will arrive. A send that
                      * meets RST does not end reading: what was queued before it is still read */
    bool noread;     /* `stop-reading`: what arrives stays in the kernel's receive queue */
    uint64_t rx;     /* bytes received since peer_init() */
    uint64_t tx;     /* bytes the kernel took from us since peer_init() */
    int64_t t_open;  /* sock_now_ms() at peer_init() */
    int64_t t_closed; /* sock_now_ms() when the close kind was first observed (0: not yet) */
    uint64_t acked_at_close; /* then: the bytes of ours the server had acknowledged (all of
                              * tx on a unix socket), and */
    unsigned retrans;        /* the segments retransmitted (peer_tcp_acked()) */
    int64_t t_all_acked;     /* when peer_check_acked() first saw all of tx acknowledged since
                              * the last write (0: not seen) */
    uint64_t acked_seen;     /* the most it saw acknowledged, and when that advanced (a ring of
                              * the last PEER_ACKS moments, 10 ms apart at least) */
    int64_t acks[PEER_ACKS];
    uint64_t nacks;
    int64_t writes[PEER_WRITES]; /* when each began (sock_now_ms()): a ring, writes[nwrites %
                                  * PEER_WRITES] is the next */
    uint64_t nwrites;
    peer_log_fn log; /* may be NULL */
    void *log_arg;
} peer;

/* Take ownership of connected descriptor fd (non-blocking); the inbox grows up to in_max bytes.
 * log (may be NULL) gets what happens on it, with log_arg. */
void peer_init(peer *p, int fd, size_t in_max, peer_log_fn log, void *log_arg);

/* Close the descriptor (if open) and free the inbox. The peer is then unused (fd -1). */
void peer_free(peer *p);

/* Read what is available now into the inbox without waiting (nothing when noread, rd_done or
 * full). Records the first close kind. Returns the bytes read. */
size_t peer_pump(peer *p);
/* The same, reading at most max bytes: a peer that reads at a pace of its own. */
size_t peer_pump_at_most(peer *p, size_t max);

/* Wait up to ms (0 or less: do not wait) for input on any of ps[0..n) that may read
 * (n <= 4096), then pump those that have some. With nothing to wait on, sleeps ms. */
void peer_poll(peer *const *ps, size_t n, int ms);

/*
 * Send buf[0..len) on p by deadline_ms, pumping ps[0..n) (p among them or not) whenever the
 * socket's send buffer is full, so echoes never back up into a deadlock. Returns 0, or -errno:
 * -ETIMEDOUT at the deadline, -EPIPE/-ECONNRESET when the peer closed (also recorded as p's
 * close kind, the first one observed), -EBADF when p is closed. *sent (may be NULL) gets the
 * bytes the kernel took. Never raises SIGPIPE (MSG_NOSIGNAL).
 */
int peer_send(peer *p, const uint8_t *buf, size_t len, int64_t deadline_ms, peer *const *ps,
              size_t n, size_t *sent);

/* Drop the first k bytes of the inbox (k <= in_len); reading resumes if it was full. */
void peer_consume(peer *p, size_t k);

/* The last moment by t_ms at which the server heard from p, as far as p saw: the start of p's
 * latest write (or SHUT_WR) by then, or the latest advance of its acknowledgments by then
 * (peer_check_acked()), or when p connected. */
int64_t peer_heard_by(const peer *p, int64_t t_ms);

/* TCP_INFO of p's socket (tcp(7), Linux 4.1+): *acked gets the bytes of ours the server has
 * acknowledged (tcpi_bytes_acked without the SYN, at most p->tx), *retrans the segments
 * retransmitted. Returns 0, or -1 (not TCP, or closed). */
int peer_tcp_acked(const peer *p, uint64_t *acked, unsigned *retrans);

/* Sample what the server has acknowledged of p's bytes (TCP_INFO; everything at once on a unix
 * socket): note when it advanced, and when all of them were first seen acknowledged
 * (p->t_all_acked). Called as p is read. */
void peer_check_acked(peer *p);

/* Has the server closed the connection (its FIN arrived: CLOSE-WAIT in TCP_INFO) even though p
 * has not read up to it (stop-reading, flood)? Then the close is recorded as FIN, now. */
bool peer_fin_pending(peer *p);

/* shutdown(2) p's descriptor (SHUT_WR: our FIN, remembered as a write: the server hears it). */
void peer_shutdown(peer *p, int how);

/* Close our side: a plain close(2) (with unread input the kernel sends RST: RFC 2525 §2.17), or
 * with rst, SO_LINGER {1,0} first so that it sends RST in any case (socket(7)). */
void peer_close(peer *p, bool rst);

#endif
