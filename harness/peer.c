/*
 * peer.c — one client connection of the scenario engine (peer.h).
 */
#include "peer.h"

#include <errno.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"

/* tcpi_state values (include/net/tcp_states.h; linux/tcp.h does not export them) */
#define PEER_CLOSE_WAIT 8
#define PEER_LAST_ACK 9

/* poll() at most this many peers at once: a scenario's connections (SC_MAX_CONNS); 64 KiB of
 * stack for the pollfds and their peers */
#define POLL_MAX 4096

void peer_init(peer *p, int fd, size_t in_max, peer_log_fn log, void *log_arg)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->in_max = in_max;
    p->closed = SOCK_OPEN;
    p->t_open = sock_now_ms();
    p->log = log;
    p->log_arg = log_arg;
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
        p->t_closed = sock_now_ms();
        /* what the server had acknowledged when it closed (its FIN or RST carries it) */
        if (peer_tcp_acked(p, &p->acked_at_close, &p->retrans) < 0) {
            p->acked_at_close = p->tx;
            p->retrans = 0;
        }
        if (p->log)
            p->log(p->log_arg, p, "closed", NULL, (size_t)kind);
    }
}

size_t peer_pump(peer *p)
{
    return peer_pump_at_most(p, SIZE_MAX);
}

size_t peer_pump_at_most(peer *p, size_t max)
{
    size_t total = 0;
    peer_check_acked(p); /* when the server had every byte: sampled as we read */
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
                if (p->log)
                    p->log(p->log_arg, p, "recv", p->inbox + p->in_len, (size_t)n);
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
        int64_t t = sock_now_ms();
        done = sock_send_until(p->fd, buf, len, deadline_ms, pump_them, &set, &err);
        if (done > 0) {
            p->writes[p->nwrites % PEER_WRITES] = t;
            p->nwrites++;
            p->tx += done;
            p->t_all_acked = 0; /* new bytes, not acknowledged yet */
            if (p->log)
                p->log(p->log_arg, p, "send", buf, done);
        }
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

void peer_shutdown(peer *p, int how)
{
    if (p->fd < 0)
        return;
    if (how != SHUT_RD) {
        /* our FIN reaches the server as a write would: it is heard */
        p->writes[p->nwrites % PEER_WRITES] = sock_now_ms();
        p->nwrites++;
    }
    shutdown(p->fd, how);
}

int64_t peer_heard_by(const peer *p, int64_t t_ms)
{
    int64_t best = p->t_open;
    uint64_t n = p->nwrites, oldest = n > PEER_WRITES ? n - PEER_WRITES : 0;
    while (n > oldest) {
        n--;
        if (p->writes[n % PEER_WRITES] <= t_ms) {
            if (p->writes[n % PEER_WRITES] > best)
                best = p->writes[n % PEER_WRITES];
            break;
        }
    }
    n = p->nacks;
    oldest = n > PEER_ACKS ? n - PEER_ACKS : 0;
    while (n > oldest) {
        n--;
        if (p->acks[n % PEER_ACKS] <= t_ms) {
            if (p->acks[n % PEER_ACKS] > best)
                best = p->acks[n % PEER_ACKS];
            break;
        }
    }
    return best;
}

int peer_tcp_acked(const peer *p, uint64_t *acked, unsigned *retrans)
{
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (p->fd < 0 || getsockopt(p->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 ||
        l < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return -1;
    /* bytes_acked counts the SYN (and our FIN once acknowledged) */
    *acked = ti.tcpi_bytes_acked > 0 ? ti.tcpi_bytes_acked - 1 : 0;
    if (*acked > p->tx)
        *acked = p->tx;
    *retrans = ti.tcpi_total_retrans;
    return 0;
}

void peer_check_acked(peer *p)
{
    uint64_t acked;
    unsigned retrans;
    int64_t now;
    if (p->tx == p->acked_seen || p->fd < 0 || p->closed != SOCK_OPEN)
        return;
    now = sock_now_ms();
    if (peer_tcp_acked(p, &acked, &retrans) < 0)
        acked = p->tx; /* not TCP: a unix socket has it at once */
    if (acked > p->acked_seen) {
        p->acked_seen = acked;
        if (p->nacks > 0 && now - p->acks[(p->nacks - 1) % PEER_ACKS] < 10)
            p->acks[(p->nacks - 1) % PEER_ACKS] = now;
        else
            p->acks[p->nacks++ % PEER_ACKS] = now;
    }
    if (acked >= p->tx && p->t_all_acked == 0)
        p->t_all_acked = now;
}

bool peer_fin_pending(peer *p)
{
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    if (p->closed != SOCK_OPEN)
        return true;
    if (p->fd < 0 || getsockopt(p->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
        return false;
    if (ti.tcpi_state != PEER_CLOSE_WAIT && ti.tcpi_state != PEER_LAST_ACK)
        return false;
    observe(p, 0, 0); /* the server's FIN waits behind what we have not read */
    return true;
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
