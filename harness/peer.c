/*
 * peer.c — one client connection of the scenario engine (peer.h).
 */
#include "peer.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"

/* poll() at most this many peers at once: a scenario's connections (SC_MAX_CONNS); 64 KiB of
 * stack for the pollfds and their peers */
#define POLL_MAX 4096

void peer_init(peer *p, int fd, size_t in_max)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->in_max = in_max;
    p->closed = SOCK_OPEN;
}

void peer_free(peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->inbox);
    p->inbox = NULL;
    p->in_len = p->in_cap = 0;
    p->fd = -1;
}

static bool may_read(const peer *p)
{
    return p->fd >= 0 && !p->rd_done && !p->noread && p->in_len < p->in_max;
}

/* Record how the connection ended: the first kind observed wins. */
static void observe(peer *p, ssize_t n, int err)
{
    int kind = sock_close_kind(n, err);
    if (kind != SOCK_OPEN && p->closed == SOCK_OPEN) {
        p->closed = kind;
        p->close_err = n == 0 ? 0 : err;
    }
}

size_t peer_pump(peer *p)
{
    return peer_pump_at_most(p, SIZE_MAX);
}

size_t peer_pump_at_most(peer *p, size_t max)
{
    size_t total = 0;
    while (may_read(p) && total < max) {
        ssize_t n;
        if (p->in_cap - p->in_len < 65536) {
            /* 128 KiB, then 1 MiB, then the cap + 64 KiB in one step: pages never written are
             * never resident, and there is no chain of copies on the way to the cap (under ASan
             * a realloc copies: one more step at the cap once doubled replay's peak) */
            size_t nc = p->in_cap == 0       ? 131072
                        : p->in_cap < (1u << 20) ? (1u << 20)
                                                 : p->in_max + 65536;
            uint8_t *b;
            if (nc > p->in_max + 65536)
                nc = p->in_max + 65536;
            if (nc <= p->in_cap)
                break; /* at the cap (reading stops at in_max, 64 KiB before it) */
            b = realloc(p->inbox, nc);
            if (b == NULL)
                return total;
            p->inbox = b;
            p->in_cap = nc;
        }
        {
            size_t room = p->in_cap - p->in_len;
            if (room > max - total)
                room = max - total;
            n = recv(p->fd, p->inbox + p->in_len, room, 0);
            if (n > 0) {
                p->in_len += (size_t)n;
                p->rx += (uint64_t)n;
                total += (size_t)n;
                if ((size_t)n < room)
                    break; /* the queue is empty now: the next poll says when there is more */
                continue;
            }
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        observe(p, n, n < 0 ? errno : 0);
        p->rd_done = true;
        break;
    }
    return total;
}

void peer_poll(peer *const *ps, size_t n, int ms)
{
    struct pollfd pf[POLL_MAX];
    peer *who[POLL_MAX];
    size_t k = 0;
    if (ms < 0)
        ms = 0; /* a deadline just passed: look, do not wait (poll(-1) waits for ever) */
    for (size_t i = 0; i < n && k < POLL_MAX; i++)
        if (may_read(ps[i])) {
            pf[k].fd = ps[i]->fd;
            pf[k].events = POLLIN;
            who[k++] = ps[i];
        }
    if (k == 0) {
        if (ms > 0)
            poll(NULL, 0, ms);
        return;
    }
    if (poll(pf, k, ms) <= 0)
        return;
    for (size_t i = 0; i < k; i++)
        if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
            peer_pump(who[i]);
}

typedef struct {
    peer *const *ps;
    size_t n;
} pump_set;

static void pump_them(void *arg)
{
    const pump_set *set = arg;
    peer_poll(set->ps, set->n, 0);
}

int peer_send(peer *p, const uint8_t *buf, size_t len, int64_t deadline_ms, peer *const *ps,
              size_t n, size_t *sent)
{
    pump_set set = {ps, n};
    size_t done = 0;
    int err = -EBADF;
    if (p->fd >= 0) {
        done = sock_send_until(p->fd, buf, len, deadline_ms, pump_them, &set, &err);
        if (err != 0 && err != -ETIMEDOUT)
            observe(p, -1, -err);
        peer_poll(ps, n, 0);
    }
    if (sent)
        *sent = done;
    return err;
}

void peer_consume(peer *p, size_t k)
{
    if (k > p->in_len)
        k = p->in_len;
    if (k == 0)
        return; /* nothing taken (and the inbox may not exist yet) */
    memmove(p->inbox, p->inbox + k, p->in_len - k);
    p->in_len -= k;
}

void peer_close(peer *p, bool rst)
{
    if (p->fd < 0)
        return;
    if (rst)
        sock_abort(p->fd);
    else
        close(p->fd);
    p->fd = -1;
}
