/*
 * echod — the framespec reference framed echo server.
 *
 * One epoll event loop per thread (--threads N, default 1), level-triggered, non-blocking sockets;
 * with N > 1 each loop has its own listener on the same port (SO_REUSEPORT, socket(7)) and the
 * kernel spreads connections across them. Each connection runs the sans-I/O state machine of
 * conn.c; this file only does syscalls, timers and signals.
 *
 * Behaviours and where they come from:
 *  - framing: Erlang gen_tcp {packet,0|1|2|4|line} (inet:setopts/2), and length fields of other
 *    sizes, byte orders, offsets and adjustments, and varints: see frame.h.
 *  - half-close: when the peer's FIN arrives (read returns 0) every complete frame is echoed, then
 *    shutdown(SHUT_WR) sends our FIN (RFC 9293 3.6: a half-closed connection may still send).
 *  - close: before close(2) we shut down our side and read until the peer's FIN for at most
 *    LINGER_MS ("lingering close"): Linux sends RST instead of FIN when a socket is closed with
 *    unread data in its receive queue (RFC 9293 3.6 / RFC 2525 2.17, Linux tcp(7)), which would make
 *    the peer drop echoes it has not read yet.
 *  - SIGPIPE: ignored, and every send uses MSG_NOSIGNAL; EPIPE/ECONNRESET release one connection.
 *  - Nagle: TCP_NODELAY on every accepted socket, and a frame's header and payload always leave in
 *    one send (they are contiguous in the input buffer), so no ~40 ms delayed-ACK stall.
 *  - idle timeout: a connection that neither received nor sent a byte for T seconds is flushed and
 *    closed with FIN; a connection whose echoes are blocked on a peer that does not read is not
 *    idle (it is held by backpressure, bounded by the high-water mark).
 *  - out of descriptors: accept4(2) fails with EMFILE/ENFILE before it looks at the backlog, so
 *    it fails even when no connection waits, and the listener stays readable while one does.
 *    echod then stops watching the listener and goes back to its loop (serving and closing the
 *    connections it has); it tries again as soon as one of its connections closes, or after
 *    ACCEPT_PAUSE_MS. Connections that arrive meanwhile wait in the listen backlog (nginx's
 *    choice, ngx_event_accept.c; libuv instead accepts and closes them, uv__emfile_trick). The
 *    message is logged at most once per EMFILE_LOG_MS, with a count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conn.h"
#include "frame.h"
#include "net.h"
#include "version.h"

/* How long a closing connection waits for the peer's FIN after ours, in ms. */
#define LINGER_MS 2000
/* How long SIGTERM waits for pending echoes to drain before exiting anyway, in ms. */
#define STOP_DRAIN_MS 5000
/* How long accepting pauses after EMFILE/ENFILE before it is tried again, in ms (a connection of
 * this loop closing resumes it at once). */
#define ACCEPT_PAUSE_MS 100
/* At most one "out of descriptors" message per this many ms (per loop), with a count. */
#define EMFILE_LOG_MS 1000
#define MAX_EVENTS 256
/* At most this many reads per readiness event for one connection. */
#define READ_ROUNDS 8

typedef struct econn econn;
struct econn {
    int fd;
    uint32_t events; /* epoll interest registered now */
    bool lingering;  /* our FIN is sent; waiting for the peer's */
    bool peer_eof;   /* the peer's FIN was read */
    uint64_t mark;   /* ms: last activity (active list) or linger start (linger list) */
    econn *prev, *next;
    conn c;
};

/* A list of connections ordered by `mark`: every timer of a list has the same duration, so
 * appending on each touch keeps it sorted and expiry pops from the head in O(1). */
typedef struct {
    econn *head, *tail;
    size_t n;
} clist;

/* Options, read-only once the loops run. */
static struct {
    const char *listen_spec;
    framing_t framing;
    uint64_t max_frame;
    uint64_t idle_ms; /* 0: no idle timeout */
    int keepalive[3];
    bool keepalive_on;
    unsigned user_timeout_ms; /* TCP_USER_TIMEOUT; 0: not set (the kernel's default) */
    uint64_t hwm;
    int verbose;
    unsigned threads;
    char unix_path[128];
} S;

/* One event loop: a thread with its own epoll set, listener (SO_REUSEPORT) and connections. */
typedef struct loop {
    int epfd, lfd, stopfd;
    bool shared_lfd; /* unix sockets: one listener shared by every loop (EPOLLEXCLUSIVE) */
    clist active, linger;
    uint64_t now;
    bool stopping;
    uint64_t stop_deadline;
    uint64_t accept_paused_until; /* ms; 0 = the listener is watched */
    uint64_t emfile_logged_at;    /* ms of the last "out of descriptors" message; 0 = never */
    uint64_t emfile_unlogged;     /* accept failures since that message */
    uint64_t accepted, closed;
    pthread_t thread;
} loop;

static char tag_listen, tag_stop;

__attribute__((format(printf, 2, 3))) static void logmsg(int level, const char *fmt, ...)
{
    va_list ap;
    if (level > S.verbose)
        return;
    fputs("echod: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void list_remove(clist *l, econn *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->n--;
}

static void list_append(clist *l, econn *e)
{
    e->prev = l->tail;
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

/* Restart the idle clock: move to the tail of the active list. */
static void touch(loop *L, econn *e)
{
    e->mark = L->now;
    if (L->active.tail != e) {
        list_remove(&L->active, e);
        list_append(&L->active, e);
    }
}

static void close_conn(loop *L, econn *e)
{
    list_remove(e->lingering ? &L->linger : &L->active, e);
    close(e->fd); /* also removes it from the epoll set */
    logmsg(1, "fd %d closed (%s): %llu bytes in, %llu bytes out, %llu frames", e->fd,
           conn_why_name(e->c.why), (unsigned long long)e->c.bytes_in,
           (unsigned long long)e->c.bytes_out, (unsigned long long)e->c.frames_in);
    conn_free(&e->c);
    free(e);
    L->closed++;
    if (L->accept_paused_until)
        L->accept_paused_until = L->now; /* a descriptor is free: accept again after this round */
}

static void set_events(loop *L, econn *e, uint32_t want)
{
    struct epoll_event ev = {.events = want, .data.ptr = e};
    if (want == e->events)
        return;
    if (epoll_ctl(L->epfd, EPOLL_CTL_MOD, e->fd, &ev) < 0)
        logmsg(0, "epoll_ctl(MOD, fd %d): %s", e->fd, strerror(errno));
    e->events = want;
}

/* Everything is echoed and no more input is wanted: send our FIN and wait for the peer's. */
static void finish(loop *L, econn *e)
{
    if (shutdown(e->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        logmsg(1, "shutdown(fd %d, SHUT_WR): %s", e->fd, strerror(errno));
    if (e->peer_eof) {
        close_conn(L, e);
        return;
    }
    list_remove(&L->active, e);
    conn_free(&e->c); /* nothing more is echoed: give the buffer back now */
    e->lingering = true;
    e->mark = L->now;
    list_append(&L->linger, e);
    set_events(L, e, EPOLLIN);
}

/* After our FIN: read and discard until the peer's FIN, an error, or the linger deadline. */
static void linger_read(loop *L, econn *e)
{
    char sink[16384];
    for (;;) {
        ssize_t n = recv(e->fd, sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        close_conn(L, e); /* FIN (n == 0) or an error */
        return;
    }
}

/* One read. Returns 2 when the read filled all the room offered, 1 when fewer bytes arrived,
 * 0 when nothing to do (EAGAIN, FIN, or not reading now), -1 on a socket error. */
static int do_read(loop *L, econn *e)
{
    size_t room;
    uint8_t *p = conn_read_space(&e->c, &room);
    ssize_t n;

    if (p == NULL) {
        if (e->c.why == CONN_WHY_NOMEM)
            logmsg(0, "fd %d: out of memory growing the input buffer; closing", e->fd);
        return 0;
    }
    do
        n = recv(e->fd, p, room, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        conn_on_read(&e->c, (size_t)n);
        touch(L, e);
        if (e->c.why == CONN_WHY_TOO_LONG)
            logmsg(1, "fd %d: header announces %llu bytes, max is %llu%s; closing", e->fd,
                   (unsigned long long)e->c.announced, (unsigned long long)e->c.dec.max,
                   S.framing.limit_frame ? " (whole frame)" : "");
        else if (e->c.why == CONN_WHY_MALFORMED)
            logmsg(1, "fd %d: malformed header (varint over 10 bytes or 2^64, or a length under "
                   "the header's own size); closing", e->fd);
        return (size_t)n == room ? 2 : 1;
    }
    if (n == 0) {
        e->peer_eof = true;
        conn_on_eof(&e->c);
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    logmsg(1, "fd %d: recv: %s", e->fd, strerror(errno));
    e->c.why = CONN_WHY_ERROR;
    return -1;
}

/* Write as much of the echo queue as the socket takes. Returns 0, or -1 on a socket error. */
static int do_write(loop *L, econn *e)
{
    size_t len;
    const uint8_t *p;
    while ((p = conn_write_space(&e->c, &len)) != NULL && len > 0) {
        ssize_t n = send(e->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            conn_on_written(&e->c, (size_t)n);
            touch(L, e); /* sending is activity too */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        logmsg(1, "fd %d: send: %s", e->fd, strerror(errno));
        e->c.why = CONN_WHY_ERROR;
        return -1;
    }
    return 0;
}

/* After I/O: close, or register the interest the state machine has now. */
static void settle(loop *L, econn *e)
{
    uint32_t want = 0;
    if (conn_done(&e->c)) {
        finish(L, e);
        return;
    }
    if (conn_wants_read(&e->c))
        want |= EPOLLIN;
    if (conn_wants_write(&e->c))
        want |= EPOLLOUT;
    set_events(L, e, want);
}

static void on_conn_event(loop *L, econn *e, uint32_t ev)
{
    if (e->lingering) {
        linger_read(L, e);
        return;
    }
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_wants_read(&e->c)) {
        /* Read, echo, and read again while bytes keep coming (a pipelining or bulk peer): a
         * recv that finds nothing costs less than going back to epoll_wait and being woken.
         * Bounded so that one busy peer cannot starve the others. */
        for (int round = 0; round < READ_ROUNDS; round++) {
            int r = do_read(L, e);
            if (r < 0 || (conn_wants_write(&e->c) && do_write(L, e) < 0)) {
                close_conn(L, e);
                return;
            }
            if (r == 0 || !conn_wants_read(&e->c))
                break;
        }
    } else if (conn_wants_write(&e->c) && do_write(L, e) < 0) {
        close_conn(L, e);
        return;
    }
    if ((ev & EPOLLERR) && !conn_wants_read(&e->c) && !conn_wants_write(&e->c) &&
        !conn_done(&e->c)) {
        close_conn(L, e);
        return;
    }
    settle(L, e);
}

static void add_conn(loop *L, int fd)
{
    char err[NET_ERR_LEN];
    struct epoll_event ev;
    econn *e = calloc(1, sizeof *e);

    if (e == NULL || conn_init(&e->c, &S.framing, S.max_frame, (size_t)S.hwm) < 0) {
        logmsg(0, "out of memory for a new connection; closing fd %d", fd);
        free(e);
        close(fd);
        return;
    }
    e->fd = fd;
    if (net_set_nodelay(fd, err) < 0)
        logmsg(1, "fd %d: %s", fd, err);
    if (S.keepalive_on &&
        net_set_keepalive(fd, S.keepalive[0], S.keepalive[1], S.keepalive[2], err) < 0)
        logmsg(0, "fd %d: %s", fd, err);
    if (S.user_timeout_ms && net_set_user_timeout(fd, S.user_timeout_ms, err) < 0)
        logmsg(0, "fd %d: %s", fd, err);
    ev.events = EPOLLIN;
    ev.data.ptr = e;
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        logmsg(0, "epoll_ctl(ADD, fd %d): %s", fd, strerror(errno));
        conn_free(&e->c);
        free(e);
        close(fd);
        return;
    }
    e->events = EPOLLIN;
    e->mark = L->now;
    list_append(&L->active, e);
    L->accepted++;
    logmsg(1, "fd %d accepted (%zu open)", fd, L->active.n + L->linger.n);
}

/* Stop watching the listener until expire_timers() resumes it (after ACCEPT_PAUSE_MS, or at once
 * when a connection of this loop closes). */
static void pause_accepting(loop *L)
{
    if (epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->lfd, NULL) < 0)
        logmsg(0, "epoll_ctl(DEL listener): %s", strerror(errno));
    L->accept_paused_until = L->now + ACCEPT_PAUSE_MS;
}

/* accept4 failed for want of descriptors or memory: log it (at most once per EMFILE_LOG_MS, with
 * the count of failures since the last message) and pause accepting. */
static void out_of_descriptors(loop *L, const char *err)
{
    L->emfile_unlogged++;
    if (L->emfile_logged_at == 0 || L->now - L->emfile_logged_at >= EMFILE_LOG_MS) {
        logmsg(0, "out of descriptors (%s) with %zu connections open: new connections wait in "
                  "the backlog until one closes (%llu failed accepts since the last message)",
               err, L->active.n + L->linger.n, (unsigned long long)L->emfile_unlogged);
        L->emfile_logged_at = L->now;
        L->emfile_unlogged = 0;
    }
    pause_accepting(L);
}

static void on_accept(loop *L)
{
    char err[NET_ERR_LEN];
    for (;;) {
        int fd = net_accept(L->lfd, err);
        if (fd >= 0) {
            add_conn(L, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* never retry here: accept4 would fail again at once (a busy loop) */
            out_of_descriptors(L, err);
            return;
        }
        logmsg(0, "%s", err);
        pause_accepting(L);
        return;
    }
}

/* SIGTERM/SIGINT: stop accepting, take what is already readable, flush every echo, close. */
static void begin_stop(loop *L)
{
    econn *e, *next;
    if (L->stopping)
        return;
    L->stopping = true;
    L->stop_deadline = L->now + STOP_DRAIN_MS;
    if (L->lfd >= 0) {
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->lfd, NULL);
        if (!L->shared_lfd)
            close(L->lfd); /* a shared (unix) listener is closed by main() */
        L->lfd = -1;
    }
    logmsg(1, "stopping: draining %zu connections", L->active.n);
    for (e = L->active.head; e != NULL; e = next) {
        next = e->next;
        while (conn_wants_read(&e->c)) {
            int r = do_read(L, e);
            if (r < 0)
                break;
            if (r == 0)
                break;
            if (do_write(L, e) < 0)
                break;
        }
        if (e->c.why == CONN_WHY_ERROR) {
            close_conn(L, e);
            continue;
        }
        conn_drain(&e->c, CONN_WHY_SHUTDOWN);
        if (do_write(L, e) < 0) {
            close_conn(L, e);
            continue;
        }
        settle(L, e);
    }
}

static void expire_timers(loop *L)
{
    econn *e;
    while (S.idle_ms > 0 && (e = L->active.head) != NULL && e->mark + S.idle_ms <= L->now) {
        if (conn_wants_write(&e->c)) {
            touch(L, e); /* blocked on a peer that does not read: backpressure, not idleness */
            continue;
        }
        logmsg(1, "fd %d: idle for %llu ms; closing", e->fd, (unsigned long long)S.idle_ms);
        conn_drain(&e->c, CONN_WHY_IDLE);
        settle(L, e);
    }
    while ((e = L->linger.head) != NULL && e->mark + LINGER_MS <= L->now)
        close_conn(L, e);
    if (L->accept_paused_until && L->accept_paused_until <= L->now && L->lfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | (L->shared_lfd ? EPOLLEXCLUSIVE : 0),
                                 .data.ptr = &tag_listen};
        L->accept_paused_until = 0;
        if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->lfd, &ev) < 0)
            logmsg(0, "epoll_ctl(ADD listener): %s", strerror(errno));
    }
}

/* Milliseconds until the next timer, or -1 when none. */
static int next_timeout(loop *L)
{
    uint64_t next = UINT64_MAX;
    if (S.idle_ms > 0 && L->active.head)
        next = L->active.head->mark + S.idle_ms;
    if (L->linger.head && L->linger.head->mark + LINGER_MS < next)
        next = L->linger.head->mark + LINGER_MS;
    if (L->accept_paused_until && L->accept_paused_until < next)
        next = L->accept_paused_until;
    if (L->stopping && L->stop_deadline < next)
        next = L->stop_deadline;
    if (next == UINT64_MAX)
        return -1;
    return next <= L->now ? 0 : (int)(next - L->now > 60000 ? 60000 : next - L->now);
}

static void usage(FILE *out)
{
    fputs("usage: echod [--listen HOST:PORT | --listen unix:PATH] [--framing F] [--max-frame BYTES]\n"
          "             [--idle-timeout SECONDS] [--keepalive IDLE,INTVL,CNT] [--user-timeout MS]\n"
          "             [--hwm BYTES] [--threads N] [-v] [--version]\n"
          "\n"
          "A framed echo server: every complete frame is sent back byte-identical.\n"
          "\n"
          "  --listen ADDR          where to listen (default 127.0.0.1:0; port 0 picks a free port)\n"
          "  --framing F            0|raw, 1|u8, 2|u16, 4|u32 (default), line — Erlang {packet,N};\n"
          "                         u24, u64, u16le, u24le, u32le, u64le, varint; parameters after\n"
          "                         commas: be|le, offset=N, adjust=N, strip=N, limit=payload|frame\n"
          "                         (e.g. 4,adjust=-4 counts the header; docs/spec.md, Framings)\n"
          "  --max-frame BYTES      largest payload accepted, or whole frame with limit=frame\n"
          "                         (default 16M; K/M/G suffixes); clamped to what the header\n"
          "                         can express\n"
          "  --idle-timeout SECONDS close a connection silent this long (default: never)\n"
          "  --keepalive I,N,C      SO_KEEPALIVE with TCP_KEEPIDLE I s, TCP_KEEPINTVL N s, TCP_KEEPCNT C:\n"
          "                         an idle connection whose peer vanished is dropped after\n"
          "                         I + N x C s (tcp(7); Linux default 7200 + 75 x 9 s)\n"
          "  --user-timeout MS      TCP_USER_TIMEOUT (RFC 5482): drop a connection whose sent data\n"
          "                         stays unacknowledged MS ms (a peer that vanished with echoes in\n"
          "                         flight; keepalive does not probe while data is outstanding)\n"
          "  --hwm BYTES            echo-queue high-water mark per connection (default 256K)\n"
          "  --threads N            N event loops, one per thread, sharing the port with\n"
          "                         SO_REUSEPORT (default 1)\n"
          "  -v, --verbose          log connections to stderr (twice: more)\n"
          "  --version              print the version and exit\n"
          "\n"
          "Prints 'listening on ADDR' once bound. SIGTERM/SIGINT: stop accepting, flush, exit 0.\n",
          out);
}

static void bad_option(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "echod: invalid %s '%s': %s\n", opt, val, why);
    fputs("Try 'echod --help'.\n", stderr);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"framing", required_argument, NULL, 'f'},
        {"max-frame", required_argument, NULL, 'm'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"keepalive", required_argument, NULL, 'k'},
        {"user-timeout", required_argument, NULL, 'u'},
        {"hwm", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    double secs;

    S.listen_spec = "127.0.0.1:0";
    S.framing = (framing_t){.kind = FRAMING_LEN, .size = 4};
    S.max_frame = FRAME_DEFAULT_MAX;
    S.hwm = CONN_DEFAULT_HWM;
    S.threads = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            S.listen_spec = optarg;
            break;
        case 'f':
            {
                char why[256];
                if (frame_parse_framing(optarg, &S.framing, why, sizeof why) < 0)
                    bad_option("--framing", optarg, why);
            }
            break;
        case 'm':
            if (cli_parse_size(optarg, 0xFFFFFFFFu, &S.max_frame) < 0 || S.max_frame == 0)
                bad_option("--max-frame", optarg, "expected bytes from 1 to 4294967295 (K/M/G ok)");
            break;
        case 'i':
            if (cli_parse_seconds(optarg, &secs) < 0 || secs <= 0.0)
                bad_option("--idle-timeout", optarg, "expected seconds > 0, e.g. 30 or 0.5");
            S.idle_ms = (uint64_t)(secs * 1000.0 + 0.5);
            if (S.idle_ms == 0)
                S.idle_ms = 1;
            break;
        case 'k':
            if (cli_parse_keepalive(optarg, S.keepalive) < 0)
                bad_option("--keepalive", optarg, "expected IDLE,INTVL,CNT, e.g. 60,10,5");
            S.keepalive_on = true;
            break;
        case 'u':
            if (cli_parse_millis(optarg, &S.user_timeout_ms) < 0)
                bad_option("--user-timeout", optarg, "expected milliseconds 1..2147483647, e.g. 30000");
            break;
        case 'w':
            if (cli_parse_size(optarg, (uint64_t)1 << 40, &S.hwm) < 0 || S.hwm == 0)
                bad_option("--hwm", optarg, "expected bytes > 0 (K/M/G ok)");
            break;
        case 't': {
            uint64_t n;
            if (cli_parse_size(optarg, 256, &n) < 0 || n == 0)
                bad_option("--threads", optarg, "expected 1..256");
            S.threads = (unsigned)n;
            break;
        }
        case 'v':
            S.verbose++;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("echod %s\n", FRAMESPEC_VERSION);
            exit(0);
        case ':':
            fprintf(stderr, "echod: option '%s' needs a value\nTry 'echod --help'.\n",
                    argv[optind - 1]);
            exit(2);
        default:
            fprintf(stderr, "echod: unknown option '%s'\nTry 'echod --help'.\n", argv[optind - 1]);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "echod: unexpected argument '%s'\nTry 'echod --help'.\n", argv[optind]);
        exit(2);
    }
    if (S.framing.limit_frame && S.max_frame <= frame_header_size(&S.framing, 0)) {
        fprintf(stderr, "echod: --max-frame %llu leaves no room for a payload: under limit=frame the "
                "maximum counts the %zu-byte header too\nTry 'echod --help'.\n",
                (unsigned long long)S.max_frame, frame_header_size(&S.framing, 0));
        exit(2);
    }
}

/* One event loop, run by one thread until stopped and drained. */
static void *run_loop(void *arg)
{
    loop *L = arg;
    struct epoll_event evs[MAX_EVENTS];
    L->now = mono_ms();
    for (;;) {
        int n = epoll_wait(L->epfd, evs, MAX_EVENTS, next_timeout(L));
        bool stop = false;
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "echod: epoll_wait: %s\n", strerror(errno));
            exit(1);
        }
        L->now = mono_ms();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                if (L->lfd >= 0)
                    on_accept(L);
            } else if (p == &tag_stop) {
                epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->stopfd, NULL); /* level-triggered: once */
                stop = true;
            } else {
                on_conn_event(L, p, evs[i].events);
            }
        }
        /* after the batch: begin_stop() closes connections whose events may still be in evs[]
         * after the stop's (a use after free, seen with ASan: SIGTERM with resets arriving) */
        if (stop)
            begin_stop(L);
        expire_timers(L);
        if (L->stopping) {
            if (L->active.n == 0 && L->linger.n == 0)
                break;
            if (L->now >= L->stop_deadline) {
                logmsg(0, "stopping: %zu connections still had echoes pending after %d ms",
                       L->active.n, STOP_DRAIN_MS);
                break;
            }
        }
    }
    /* Stopped: whatever did not drain by the deadline is closed now. */
    while (L->active.head != NULL)
        close_conn(L, L->active.head);
    while (L->linger.head != NULL)
        close_conn(L, L->linger.head);
    close(L->epfd);
    return NULL;
}

/* Set up loop i: its epoll set, its listener (or the shared one), the stop eventfd. */
static int loop_init(loop *L, int lfd, bool shared, int stopfd)
{
    struct epoll_event ev;
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L->epfd < 0) {
        fprintf(stderr, "echod: epoll_create1: %s\n", strerror(errno));
        return -1;
    }
    L->lfd = lfd;
    L->shared_lfd = shared;
    L->stopfd = stopfd;
    ev.events = EPOLLIN | (shared ? EPOLLEXCLUSIVE : 0);
    ev.data.ptr = &tag_listen;
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        fprintf(stderr, "echod: epoll_ctl(ADD listener): %s\n", strerror(errno));
        return -1;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = &tag_stop;
    epoll_ctl(L->epfd, EPOLL_CTL_ADD, stopfd, &ev);
    return 0;
}

int main(int argc, char **argv)
{
    char err[NET_ERR_LEN], name[256], fname[FRAME_NAME_LEN];
    struct signalfd_siginfo si;
    sigset_t mask;
    loop *loops;
    long nofile;
    int lfd, sfd, stopfd;
    bool unix_sock;
    uint64_t one = 1, accepted = 0, closed = 0;

    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    nofile = net_raise_nofile(err);
    if (nofile < 0)
        logmsg(0, "%s", err);
    unix_sock = strncmp(S.listen_spec, "unix:", 5) == 0;

    lfd = net_listen_opt(S.listen_spec, 4096, S.threads > 1 && !unix_sock, err);
    if (lfd < 0) {
        fprintf(stderr, "echod: cannot listen on %s: %s\n", S.listen_spec, err);
        return 1;
    }
    if (unix_sock)
        snprintf(S.unix_path, sizeof S.unix_path, "%s", S.listen_spec + 5);
    if (net_local_name(lfd, name, sizeof name, err) < 0) {
        fprintf(stderr, "echod: %s\n", err);
        return 1;
    }

    /* Signals go to a signalfd read by this thread; the loops get a stop eventfd. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    loops = calloc(S.threads, sizeof *loops);
    if (sfd < 0 || stopfd < 0 || loops == NULL) {
        fprintf(stderr, "echod: signalfd/eventfd: %s\n", strerror(errno));
        return 1;
    }
    for (unsigned i = 0; i < S.threads; i++) {
        int fd = lfd;
        if (i > 0 && !unix_sock) {
            /* another listener on the very port the first one got (port 0 resolved) */
            fd = net_listen_opt(name, 4096, true, err);
            if (fd < 0) {
                fprintf(stderr, "echod: listener %u on %s (SO_REUSEPORT): %s\n", i, name, err);
                return 1;
            }
        }
        if (loop_init(&loops[i], fd, unix_sock && S.threads > 1, stopfd) < 0)
            return 1;
    }

    printf("listening on %s\n", name);
    fflush(stdout);
    logmsg(1, "framing %s, max frame %llu bytes (%s), idle timeout %llu ms, %u thread(s), "
           "descriptors %ld", frame_framing_name(&S.framing, fname, sizeof fname),
           (unsigned long long)frame_effective_max(&S.framing, S.max_frame),
           S.framing.limit_frame ? "whole frame" : "payload",
           (unsigned long long)S.idle_ms, S.threads, nofile);

    for (unsigned i = 0; i < S.threads; i++) {
        if (pthread_create(&loops[i].thread, NULL, run_loop, &loops[i]) != 0) {
            fprintf(stderr, "echod: pthread_create: %s\n", strerror(errno));
            return 1;
        }
    }
    while (read(sfd, &si, sizeof si) != (ssize_t)sizeof si && errno == EINTR)
        ;
    logmsg(1, "signal %u received: stopping", si.ssi_signo);
    if (write(stopfd, &one, sizeof one) != (ssize_t)sizeof one)
        logmsg(0, "eventfd write: %s", strerror(errno));
    for (unsigned i = 0; i < S.threads; i++) {
        pthread_join(loops[i].thread, NULL);
        accepted += loops[i].accepted;
        closed += loops[i].closed;
    }
    if (unix_sock) {
        close(lfd);
        unlink(S.unix_path);
    }
    logmsg(1, "exiting: %llu connections accepted, %llu closed", (unsigned long long)accepted,
           (unsigned long long)closed);
    free(loops);
    return 0;
}
