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

typedef struct {
    int fd;          /* -1 once closed by us */
    uint8_t *inbox;  /* what arrived and no expect consumed yet; owned */
    size_t in_len;   /* bytes in inbox */
    size_t in_cap;   /* bytes allocated */
    size_t in_max;   /* the cap: at in_max the peer stops reading until peer_consume() */
    int closed;      /* SOCK_OPEN, or the first close kind observed (SOCK_EOF, SOCK_RESET, ...),
                      * by a read or by a send */
    bool rd_done;    /* a read returned 0 or an error: nothing more will arrive. A send that
                      * meets RST does not end reading: what was queued before it is still read */
    int close_err;   /* the errno that reported it (0 for FIN) */
    bool noread;     /* `stop-reading`: what arrives stays in the kernel's receive queue */
    uint64_t rx;     /* bytes received since peer_init() */
} peer;

/* Take ownership of connected descriptor fd (non-blocking); the inbox grows up to in_max bytes. */
void peer_init(peer *p, int fd, size_t in_max);

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

/* Close our side: a plain close(2) (with unread input the kernel sends RST: RFC 2525 §2.17), or
 * with rst, SO_LINGER {1,0} first so that it sends RST in any case (socket(7)). */
void peer_close(peer *p, bool rst);

#endif
