/*
 * proxy_relay.c — the relay of `framespec proxy` (proxy_relay.h): listeners, connections, the
 * epoll loop, and the operations the toxics queue (proxy_chain.c) carried out on the sockets.
 */
#include "proxy_relay.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capture.h"
#include "sock.h"

enum { H_LISTEN, H_CONN, H_WAKE };

typedef struct px_conn px_conn;
typedef struct px_proxy px_proxy;

typedef struct {
    int kind;
    px_proxy *p;  /* H_LISTEN */
    px_conn *c;   /* H_CONN */
    int side;     /* H_CONN: 0 the client, 1 the upstream */
} px_handle;

struct px_conn {
    px_conn *prev, *next, *grave_next;
    px_proxy *p;
    int fd[2];           /* [0] the client, [1] the upstream; -1 closed */
    px_handle h[2];
    px_dir dir[2];       /* [PX_UP] reads fd[0], writes fd[1]; [PX_DOWN] the other way */
    bool connecting;     /* the upstream's handshake */
    bool rd_eof[2];      /* read 0 from fd[side] */
    bool wr_shut[2];     /* SHUT_WR done on fd[side] */
    bool want_out[2];    /* a write to fd[side] met a full send buffer */
    uint32_t ev[2];      /* the interest registered for fd[side] */
    bool dead;
    uint64_t seed;
    uint64_t id;         /* its number on its proxy, from 1 */
    capture *rec;        /* --record: what the server side of it saw (NULL: not recorded) */
    int64_t rec_t0;      /* us: its start */
};

struct px_proxy {
    px_info info;
    sock_addr up;
    bool up_ok;      /* up resolved: else its clients get an RST */
    int lfd;
    px_handle lh;
    px_conn *conns;
    px_proxy *grave_next;
    bool dead;
};

struct px_relay {
    pthread_mutex_t mu;
    int ep, wakefd;
    px_handle wh;
    wire_framing f;
    uint64_t max;
    size_t max_conns, nconns;
    px_proxy *px[PX_MAX_PROXIES];
    size_t npx;
    px_conn *grave;        /* closed: freed by the loop before it waits again */
    px_proxy *grave_px;    /* removed proxies: freed with the grave */
    uint64_t seed;
    bool dry;              /* px_relay_dry(): nothing is bound */
    px_record_fn rec_fn;   /* px_relay_record() */
    void *rec_arg;
    bool timed;            /* a toxic was set once: operations may wait for their time */
    bool paused;           /* listeners off: out of descriptors or at max_conns */
    int64_t pause_until_ms;
};

static int64_t now_us(void)
{
    return sock_now_ns() / 1000;
}

static void wake(px_relay *r)
{
    uint64_t one = 1;
    if (write(r->wakefd, &one, sizeof one) < 0) {
        /* the counter is full: the loop is awake already */
    }
}

/* ---- recording (--record): the server's side of each connection, as a capture ---- */

/* An event on c's server side: data (server false: the proxy's write to it; true: its bytes),
 * or a close kind; past PX_RECORD_MAX bytes the connection is no longer recorded. */
static void rec(px_conn *c, cap_kind kind, bool server, const uint8_t *p, size_t n)
{
    char err[200];
    cap_conn *cc;
    int64_t t;
    if (c->rec == NULL || c->rec->n == 0)
        return;
    cc = &c->rec->c[0];
    t = now_us() - c->rec_t0;
    if (kind == CAP_WRITE || kind == CAP_SRV_DATA) {
        if (n == 0)
            return;
        if ((server ? cc->nsrv : cc->ncli) + n > PX_RECORD_MAX ||
            cap_data(cc, server, p, n, t, err, sizeof err) < 0) {
            snprintf(c->rec->note, sizeof c->rec->note, "not recorded past %u MiB",
                     PX_RECORD_MAX >> 20);
            cap_free(c->rec); /* the connection is dropped from the record (n = 0) */
        }
        return;
    }
    if (cap_event_add(cc, kind, t) < 0)
        cap_free(c->rec);
}

/* The bytes of one sendmsg() to the server (the first `sent` bytes of iov[0..n)) as one write. */
static void rec_iov(px_conn *c, const struct iovec *iov, int n, size_t sent)
{
    uint8_t *tmp;
    size_t k = 0;
    if (c->rec == NULL)
        return;
    if (n == 1 || iov[0].iov_len >= sent) {
        rec(c, CAP_WRITE, false, iov[0].iov_base, sent);
        return;
    }
    tmp = malloc(sent);
    if (tmp == NULL) {
        cap_free(c->rec);
        return;
    }
    for (int i = 0; i < n && k < sent; i++) {
        size_t m = iov[i].iov_len < sent - k ? iov[i].iov_len : sent - k;
        memcpy(tmp + k, iov[i].iov_base, m);
        k += m;
    }
    rec(c, CAP_WRITE, false, tmp, sent);
    free(tmp);
}

static void rec_start(px_relay *r, px_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST] = "?", tuple[200];
    struct timeval tv;
    if (r->rec_fn == NULL || (c->rec = malloc(sizeof *c->rec)) == NULL)
        return;
    cap_init(c->rec);
    snprintf(c->rec->source, sizeof c->rec->source, "framespec proxy");
    gettimeofday(&tv, NULL);
    c->rec->t0_unix_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    c->rec_t0 = now_us();
    if (getsockname(c->fd[1], (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, NULL, 0, NI_NUMERICHOST);
    snprintf(tuple, sizeof tuple, "%s:%u -> %s", host, sock_port(&ss), c->p->info.upstream);
    if (cap_new_conn(c->rec, tuple, 0) == NULL) {
        free(c->rec);
        c->rec = NULL;
        return;
    }
    c->rec->c[0].handshake = true;
}

/* c ended: hand its record over (a connection without a byte or an event is not kept). */
static void rec_done(px_relay *r, px_conn *c)
{
    if (c->rec == NULL)
        return;
    if (r->rec_fn && c->rec->n == 1 && c->rec->c[0].nev > 0)
        r->rec_fn(r->rec_arg, c->p->info.name, c->id, c->rec);
    cap_free(c->rec);
    free(c->rec);
    c->rec = NULL;
}

/* ---- connections ---- */

static void set_interest(px_relay *r, px_conn *c, int side)
{
    uint32_t ev = 0;
    px_dir *src = &c->dir[side];
    struct epoll_event e;
    if (c->fd[side] < 0 || c->ev[side] == UINT32_MAX)
        return;
    if (c->rd_eof[side] && c->wr_shut[side]) {
        /* read to its FIN and sent ours: nothing more to do on it (its EPOLLHUP would spin) */
        epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd[side], NULL);
        c->ev[side] = UINT32_MAX;
        return;
    }
    if (!c->connecting && !c->rd_eof[side] && src->queued < PX_HIGH_WATER && !src->ended)
        ev |= EPOLLIN;
    if ((side == 1 && c->connecting) || c->want_out[side])
        ev |= EPOLLOUT;
    if (ev == c->ev[side])
        return;
    e.events = ev;
    e.data.ptr = &c->h[side];
    epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd[side], &e);
    c->ev[side] = ev;
}

/* Close c: each side with an RST (rst[side]) or a plain close; off its proxy's list, into the
 * grave. */
static void conn_end(px_relay *r, px_conn *c, const bool rst[2])
{
    if (c->dead)
        return;
    if (c->fd[1] >= 0 && !c->connecting)
        rec(c, rst[1] ? CAP_ABORT : CAP_CLOSE, false, NULL, 0);
    rec_done(r, c);
    for (int s = 0; s < 2; s++)
        if (c->fd[s] >= 0) {
            epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd[s], NULL);
            if (rst[s])
                sock_abort(c->fd[s]);
            else
                close(c->fd[s]);
            c->fd[s] = -1;
        }
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->p->info.active--;
    r->nconns--;
    c->grave_next = r->grave;
    r->grave = c;
}

/* RST both sides (an RST came from one of them, or a toxic's reset). */
static void conn_reset(px_relay *r, px_conn *c)
{
    static const bool both[2] = {true, true};
    c->p->info.resets++;
    conn_end(r, c, both);
}

/* A vanished side: no FIN and no RST ever. Root (CAP_NET_ADMIN) closes it in TCP_REPAIR mode,
 * which sends nothing (Linux tcp(7), TCP_REPAIR; what CRIU uses); without it the descriptor is
 * closed with an RST after all, and the proxy says so once. */
static void vanish_fd(int fd)
{
    static bool said;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof one) == 0) {
        close(fd);
        return;
    }
    if (!said) {
        said = true;
        fprintf(stderr, "framespec proxy: vanish needs CAP_NET_ADMIN (root) for TCP_REPAIR; "
                        "without it the side gets an RST\n");
    }
    sock_abort(fd);
}

static void conn_vanish(px_relay *r, px_conn *c)
{
    static const bool none[2] = {false, false};
    for (int s = 0; s < 2; s++)
        if (c->fd[s] >= 0) {
            epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd[s], NULL);
            vanish_fd(c->fd[s]);
            c->fd[s] = -1;
        }
    conn_end(r, c, none);
}

/* Both directions forwarded their FIN and hold nothing: a clean end. */
static void conn_maybe_done(px_relay *r, px_conn *c)
{
    static const bool none[2] = {false, false};
    if (!c->dead && c->rd_eof[0] && c->rd_eof[1] && c->wr_shut[0] && c->wr_shut[1] &&
        c->dir[0].head == NULL && c->dir[1].head == NULL)
        conn_end(r, c, none);
}

/* Send what is due in direction d to its destination (fd[1 - d]). */
static void flush(px_relay *r, px_conn *c, int d)
{
    px_dir *q = &c->dir[d];
    int dst = 1 - d;
    int64_t now = now_us();
    if (c->connecting)
        return; /* the upstream's handshake: conn_connected() flushes */
    while (!c->dead && q->head && q->head->at_us <= now) {
        px_op *op = q->head;
        if (op->kind == PX_OP_DATA) {
            struct iovec iov[64];
            int n = 0;
            ssize_t sent;
            for (px_op *o = op; o && n < 64 && o->kind == PX_OP_DATA && o->at_us <= now &&
                                (o == op || !o->cut);
                 o = o->next)
                iov[n++] = (struct iovec){o->data + o->off, o->len - o->off};
            sent = sendmsg(c->fd[dst], &(struct msghdr){.msg_iov = iov, .msg_iovlen = (size_t)n},
                           MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    c->want_out[dst] = true;
                    break;
                }
                if (errno == EINTR)
                    continue;
                if (dst == 1)
                    rec(c, CAP_SRV_RST, true, NULL, 0);
                conn_reset(r, c); /* EPIPE, ECONNRESET: the destination reset */
                return;
            }
            if (d == PX_UP)
                rec_iov(c, iov, n, (size_t)sent);
            if (d == PX_UP)
                c->p->info.bytes_up += (uint64_t)sent;
            else
                c->p->info.bytes_down += (uint64_t)sent;
            while (sent > 0) {
                size_t left = q->head->len - q->head->off;
                if ((size_t)sent < left) {
                    q->head->off += (size_t)sent; /* queued counts it until it is popped */
                    sent = 0;
                    c->want_out[dst] = true;
                } else {
                    sent -= (ssize_t)left;
                    q->head->off = q->head->len;
                    free(px_dir_pop(q));
                }
            }
            if (c->want_out[dst])
                break;
            continue;
        }
        px_dir_pop(q);
        switch (op->kind) {
        case PX_OP_SHUT:
            shutdown(c->fd[dst], SHUT_WR);
            c->wr_shut[dst] = true;
            if (dst == 1)
                rec(c, CAP_SHUT_WR, false, NULL, 0);
            break;
        case PX_OP_RST:
            conn_reset(r, c);
            break;
        case PX_OP_CLOSE: {
            static const bool none[2] = {false, false};
            conn_end(r, c, none);
            break;
        }
        default:
            conn_vanish(r, c);
            break;
        }
        free(op);
    }
    if (c->dead)
        return;
    set_interest(r, c, dst);
    set_interest(r, c, d);
    conn_maybe_done(r, c);
}

/* Read what fd[side] has (a bounded amount: fairness) into its direction. */
static void conn_read(px_relay *r, px_conn *c, int side, uint32_t ev)
{
    static uint8_t buf[64 << 10];
    px_dir *q = &c->dir[side];
    for (int k = 0; k < 4 && !c->dead && !c->rd_eof[side] && !q->ended; k++) {
        size_t room = PX_HIGH_WATER - (q->queued < PX_HIGH_WATER ? q->queued : PX_HIGH_WATER);
        ssize_t n;
        if (room == 0 && (ev & EPOLLHUP) && !(ev & EPOLLERR))
            room = sizeof buf; /* it sent its FIN: what is left is bounded (its HUP would spin) */
        if (room == 0) {
            if (ev & EPOLLERR)
                conn_reset(r, c); /* an RST while its bytes wait for a slow destination */
            return;
        }
        n = recv(c->fd[side], buf, room < sizeof buf ? room : sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            if (side == 1)
                rec(c, CAP_SRV_RST, true, NULL, 0);
            conn_reset(r, c); /* ECONNRESET (or ETIMEDOUT ...): the other side gets an RST */
            return;
        }
        if (n == 0) {
            if (side == 1)
                rec(c, CAP_SRV_FIN, true, NULL, 0);
            c->rd_eof[side] = true;
            if (px_dir_eof(q, now_us()) < 0)
                conn_reset(r, c);
            break;
        }
        if (side == 1)
            rec(c, CAP_SRV_DATA, true, buf, (size_t)n);
        if (q->nstub == 0 && q->head == NULL && !c->connecting && !q->shut && !q->ended) {
            /* no toxic and nothing queued: straight on, and only the rest is queued */
            ssize_t sent = send(c->fd[1 - side], buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                if (side == 0)
                    rec(c, CAP_SRV_RST, true, NULL, 0);
                conn_reset(r, c); /* EPIPE, ECONNRESET: the destination reset */
                return;
            }
            if (sent < 0)
                sent = 0;
            if (side == 0)
                rec(c, CAP_WRITE, false, buf, (size_t)sent);
            px_dir_follow(q, buf, (size_t)sent);
            if (side == PX_UP)
                c->p->info.bytes_up += (uint64_t)sent;
            else
                c->p->info.bytes_down += (uint64_t)sent;
            if (sent == n)
                continue;
            c->want_out[1 - side] = true;
            memmove(buf, buf + sent, (size_t)(n - sent));
            n -= sent;
        }
        if (px_dir_data(q, buf, (size_t)n, now_us()) < 0) {
            conn_reset(r, c); /* out of memory */
            return;
        }
        flush(r, c, side);
    }
    if (!c->dead)
        flush(r, c, side);
}

static void conn_new(px_relay *r, px_proxy *p, int cfd)
{
    px_conn *c = calloc(1, sizeof *c);
    struct epoll_event e;
    int one = 1, ufd;
    int64_t t = now_us();
    if (c == NULL) {
        sock_abort(cfd);
        return;
    }
    ufd = p->up_ok ? sock_connect_start(&p->up) : -EHOSTUNREACH;
    if (ufd < 0) {
        sock_abort(cfd); /* the upstream cannot be reached: the client gets an RST */
        free(c);
        p->info.resets++;
        return;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->p = p;
    c->fd[0] = cfd;
    c->fd[1] = ufd;
    c->connecting = true;
    c->seed = r->seed += 0x9e3779b97f4a7c15ull;
    for (int s = 0; s < 2; s++) {
        c->h[s] = (px_handle){H_CONN, p, c, s};
        if (px_dir_init(&c->dir[s], p->info.toxics, p->info.ntox, (px_stream)s, r->f, r->max,
                        &c->seed, t) < 0) {
            /* cannot happen: a proxy holds at most PX_MAX_TOXICS */
        }
    }
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->info.conns++;
    c->id = p->info.conns;
    p->info.active++;
    r->nconns++;
    c->ev[0] = 0;
    c->ev[1] = EPOLLOUT;
    e.events = 0;
    e.data.ptr = &c->h[0];
    epoll_ctl(r->ep, EPOLL_CTL_ADD, cfd, &e);
    e.events = EPOLLOUT;
    e.data.ptr = &c->h[1];
    epoll_ctl(r->ep, EPOLL_CTL_ADD, ufd, &e);
}

/* The upstream's handshake ended (EPOLLOUT or an error on it). */
static void conn_connected(px_relay *r, px_conn *c)
{
    int rc = sock_connect_check(c->fd[1]);
    if (rc == 0)
        return;
    if (rc < 0) {
        static const bool client_rst[2] = {true, false};
        c->p->info.resets++;
        conn_end(r, c, client_rst); /* refused: the client gets an RST */
        return;
    }
    c->connecting = false;
    rec_start(r, c);
    flush(r, c, PX_UP);
    if (!c->dead)
        flush(r, c, PX_DOWN);
}

static void conn_event(px_relay *r, px_conn *c, int side, uint32_t ev)
{
    if (c->dead)
        return;
    if (side == 1 && c->connecting) {
        conn_connected(r, c);
        return;
    }
    if (ev & EPOLLOUT) {
        c->want_out[side] = false;
        flush(r, c, 1 - side);
    }
    if (!c->dead && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        if (!c->rd_eof[side] && !c->dir[side].ended) {
            conn_read(r, c, side, ev);
        } else if (ev & EPOLLERR) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd[side], SOL_SOCKET, SO_ERROR, &err, &l);
            if (err != 0)
                conn_reset(r, c);
        } else if ((ev & EPOLLHUP) && c->ev[side] != UINT32_MAX) {
            /* nothing more to read from it and nothing can be sent: its HUP would spin */
            epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd[side], NULL);
            c->ev[side] = UINT32_MAX;
        }
    }
}

/* ---- listeners ---- */

static void listeners_pause(px_relay *r, bool pause)
{
    if (r->paused == pause)
        return;
    r->paused = pause;
    for (size_t i = 0; i < r->npx; i++)
        if (r->px[i]->lfd >= 0) {
            struct epoll_event e = {.events = pause ? 0 : EPOLLIN, .data.ptr = &r->px[i]->lh};
            epoll_ctl(r->ep, EPOLL_CTL_MOD, r->px[i]->lfd, &e);
        }
}

static void accept_all(px_relay *r, px_proxy *p)
{
    for (int k = 0; k < 64 && r->nconns < r->max_conns; k++) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: the backlog waits 100 ms */
                listeners_pause(r, true);
                r->pause_until_ms = sock_now_ms() + 100;
            }
            return;
        }
        conn_new(r, p, fd);
    }
    if (r->nconns >= r->max_conns)
        listeners_pause(r, true);
}

/* sock_parse_addr(), and port 0 (any) too. */
static int parse_listen(const char *text, sock_addr *a, char *err, size_t n)
{
    size_t l = strlen(text);
    char tmp[sizeof a->text];
    if (l >= 2 && l < sizeof tmp && !strcmp(text + l - 2, ":0")) {
        snprintf(tmp, sizeof tmp, "%.*s:1", (int)(l - 2), text);
        if (sock_parse_addr(tmp, a, err, n) < 0)
            return -1;
        if (a->family == AF_INET)
            ((struct sockaddr_in *)&a->sa)->sin_port = 0;
        else if (a->family == AF_INET6)
            ((struct sockaddr_in6 *)&a->sa)->sin6_port = 0;
        return 0;
    }
    return sock_parse_addr(text, a, err, n);
}

/* Bind and listen on p->info.listen, reported as bound. 0, or -1 with why in err. */
static int proxy_listen(px_relay *r, px_proxy *p, char *err, size_t n)
{
    sock_addr a;
    int one = 1, fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct epoll_event e;
    if (parse_listen(p->info.listen, &a, err, n) < 0)
        return -1;
    if (r->dry) {
        p->info.enabled = true;
        return 0;
    }
    fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a.sa, a.len) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(err, n, "listen tcp %s: %s", p->info.listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (a.family != AF_UNIX) {
        char host[NI_MAXHOST];
        if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, NULL, 0, NI_NUMERICHOST))
            snprintf(host, sizeof host, "?");
        snprintf(p->info.listen, sizeof p->info.listen, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
                 host, sock_port(&ss));
    }
    p->lfd = fd;
    p->lh = (px_handle){H_LISTEN, p, NULL, 0};
    e.events = r->paused ? 0 : EPOLLIN;
    e.data.ptr = &p->lh;
    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &e);
    p->info.enabled = true;
    return 0;
}

static void proxy_close_all(px_relay *r, px_proxy *p)
{
    static const bool none[2] = {false, false};
    if (p->lfd >= 0) {
        epoll_ctl(r->ep, EPOLL_CTL_DEL, p->lfd, NULL);
        close(p->lfd);
        p->lfd = -1;
    }
    while (p->conns)
        conn_end(r, p->conns, none);
    p->info.enabled = false;
}

static px_proxy *find(px_relay *r, const char *name, size_t *at)
{
    for (size_t i = 0; i < r->npx; i++)
        if (!strcmp(r->px[i]->info.name, name)) {
            if (at)
                *at = i;
            return r->px[i];
        }
    return NULL;
}

/* ---- the public functions ---- */

px_relay *px_relay_new(wire_framing f, uint64_t max, size_t max_conns, char *err, size_t n)
{
    px_relay *r = calloc(1, sizeof *r);
    struct epoll_event e;
    if (r == NULL) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->f = f;
    r->max = max;
    r->max_conns = max_conns;
    r->seed = (uint64_t)sock_now_ns();
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->ep < 0 || r->wakefd < 0) {
        snprintf(err, n, "epoll/eventfd: %s", strerror(errno));
        px_relay_free(r);
        return NULL;
    }
    r->wh.kind = H_WAKE;
    e.events = EPOLLIN;
    e.data.ptr = &r->wh;
    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->wakefd, &e);
    return r;
}

static void bury(px_relay *r)
{
    while (r->grave) {
        px_conn *c = r->grave;
        r->grave = c->grave_next;
        px_dir_free(&c->dir[0]);
        px_dir_free(&c->dir[1]);
        free(c);
    }
    while (r->grave_px) {
        px_proxy *p = r->grave_px;
        r->grave_px = p->grave_next;
        free(p);
    }
}

void px_relay_free(px_relay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->npx; i++) {
        proxy_close_all(r, r->px[i]);
        free(r->px[i]);
    }
    bury(r);
    if (r->ep >= 0)
        close(r->ep);
    if (r->wakefd >= 0)
        close(r->wakefd);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int px_relay_add(px_relay *r, const char *name, const char *listen, const char *upstream,
                 bool enabled, const px_toxic *list, size_t n, char *err, size_t errn)
{
    px_proxy *p;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    if (find(r, name, NULL)) {
        rc = -2;
        goto out;
    }
    if (r->npx == PX_MAX_PROXIES || n > PX_MAX_TOXICS || (p = calloc(1, sizeof *p)) == NULL) {
        snprintf(err, errn, "at most %d proxies of %d toxics each", PX_MAX_PROXIES, PX_MAX_TOXICS);
        rc = -1;
        goto out;
    }
    p->lfd = -1;
    snprintf(p->info.name, sizeof p->info.name, "%s", name);
    snprintf(p->info.listen, sizeof p->info.listen, "%s", listen);
    snprintf(p->info.upstream, sizeof p->info.upstream, "%s", upstream);
    if (n)
        memcpy(p->info.toxics, list, n * sizeof *list);
    p->info.ntox = n;
    r->timed |= n > 0;
    /* an upstream that does not resolve is kept (Toxiproxy dials it per connection): its
     * clients get an RST */
    p->up_ok = sock_parse_addr(upstream, &p->up, err, errn) == 0;
    if (enabled && proxy_listen(r, p, err, errn) < 0) {
        free(p);
        rc = -3;
        goto out;
    }
    r->px[r->npx++] = p;
out:
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc;
}

int px_relay_remove(px_relay *r, const char *name)
{
    size_t at;
    px_proxy *p;
    pthread_mutex_lock(&r->mu);
    p = find(r, name, &at);
    if (p) {
        proxy_close_all(r, p);
        p->dead = true;
        r->px[at] = r->px[--r->npx];
        p->grave_next = r->grave_px;
        r->grave_px = p;
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return p ? 0 : -2;
}

int px_relay_update(px_relay *r, const char *name, const char *listen, const char *upstream,
                    bool enabled, char *err, size_t errn)
{
    px_proxy *p;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    p = find(r, name, NULL);
    if (p == NULL) {
        rc = -2;
    } else {
        bool differs = (listen && strcmp(listen, p->info.listen)) ||
                       (upstream && strcmp(upstream, p->info.upstream));
        if (differs || !enabled)
            proxy_close_all(r, p);
        if (listen)
            snprintf(p->info.listen, sizeof p->info.listen, "%s", listen);
        if (upstream) {
            snprintf(p->info.upstream, sizeof p->info.upstream, "%s", upstream);
            p->up_ok = sock_parse_addr(upstream, &p->up, err, errn) == 0;
        }
        if (enabled && p->lfd < 0 && proxy_listen(r, p, err, errn) < 0)
            rc = -3;
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc;
}

int px_relay_set_toxics(px_relay *r, const char *name, const px_toxic *list, size_t n)
{
    px_proxy *p;
    pthread_mutex_lock(&r->mu);
    p = find(r, name, NULL);
    if (p && n <= PX_MAX_TOXICS) {
        int64_t t = now_us();
        if (n)
            memcpy(p->info.toxics, list, n * sizeof *list);
        p->info.ntox = n;
        r->timed |= n > 0;
        for (px_conn *c = p->conns; c; c = c->next)
            for (int s = 0; s < 2; s++)
                if (!c->dead && px_dir_update(&c->dir[s], list, n, (px_stream)s, t) < 0)
                    conn_reset(r, c); /* out of memory */
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return p ? 0 : -2;
}

int px_relay_get(px_relay *r, const char *name, size_t index, px_info *out)
{
    px_proxy *p;
    pthread_mutex_lock(&r->mu);
    p = name ? find(r, name, NULL) : index < r->npx ? r->px[index] : NULL;
    if (p)
        *out = p->info;
    pthread_mutex_unlock(&r->mu);
    return p ? 0 : -2;
}

void px_relay_close_all(px_relay *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npx; i++)
        proxy_close_all(r, r->px[i]);
    pthread_mutex_unlock(&r->mu);
}

void px_relay_record(px_relay *r, px_record_fn fn, void *arg)
{
    pthread_mutex_lock(&r->mu);
    r->rec_fn = fn;
    r->rec_arg = arg;
    pthread_mutex_unlock(&r->mu);
}

void px_relay_dry(px_relay *r)
{
    r->dry = true;
}

wire_framing px_relay_framing(px_relay *r)
{
    return r->f; /* set once, at px_relay_new() */
}

size_t px_relay_count(px_relay *r)
{
    size_t n;
    pthread_mutex_lock(&r->mu);
    n = r->npx;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Timers and delayed operations that are due; the wait until the next one (ms, -1 none). */
static int due(px_relay *r)
{
    int64_t t = now_us(), next = 0;
    if (!r->timed)
        return -1; /* without toxics every operation is due at once: nothing waits on a timer */
    for (size_t i = 0; i < r->npx; i++) {
        px_conn *c = r->px[i]->conns;
        while (c) {
            px_conn *after = c->next;
            for (int d = 0; d < 2 && !c->dead; d++) {
                int64_t w = px_dir_next_us(&c->dir[d]);
                if (w != 0 && w <= t) {
                    if (px_dir_tick(&c->dir[d], t) < 0)
                        conn_reset(r, c);
                    else if (!c->want_out[1 - d])
                        flush(r, c, d);
                    w = c->dead ? 0 : px_dir_next_us(&c->dir[d]);
                }
                if (w != 0 && !c->connecting &&
                    !(c->want_out[1 - d] && c->dir[d].head && c->dir[d].head->at_us <= t) &&
                    (next == 0 || w < next))
                    next = w;
            }
            c = after;
        }
    }
    if (next == 0)
        return -1;
    return next <= t ? 0 : (int)((next - t + 999) / 1000);
}

int px_relay_run(px_relay *r, volatile sig_atomic_t *stop, int64_t deadline_ms)
{
    struct epoll_event ev[256];
    pthread_mutex_lock(&r->mu);
    while (!*stop && (deadline_ms == 0 || sock_now_ms() < deadline_ms)) {
        int n, wait = due(r);
        bury(r);
        if (r->paused && r->nconns < r->max_conns && sock_now_ms() >= r->pause_until_ms)
            listeners_pause(r, false);
        if (r->paused && (wait < 0 || wait > 100))
            wait = 100;
        if (deadline_ms && (wait < 0 || wait > deadline_ms - sock_now_ms()))
            wait = (int)(deadline_ms - sock_now_ms() > 0 ? deadline_ms - sock_now_ms() : 0);
        if (wait < 0 || wait > 1000)
            wait = 1000; /* *stop is looked at every second at least */
        pthread_mutex_unlock(&r->mu);
        n = epoll_wait(r->ep, ev, 256, wait);
        pthread_mutex_lock(&r->mu);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "framespec proxy: epoll_wait: %s\n", strerror(errno));
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            px_handle *h = ev[i].data.ptr;
            if (h->kind == H_WAKE) {
                uint64_t v;
                if (read(r->wakefd, &v, sizeof v) < 0) {
                    /* nothing to read: another wake took it */
                }
            } else if (h->kind == H_LISTEN) {
                if (!h->p->dead && h->p->lfd >= 0)
                    accept_all(r, h->p);
            } else {
                conn_event(r, h->c, h->side, ev[i].events);
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}
