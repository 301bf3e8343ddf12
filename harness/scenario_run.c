/*
 * scenario_run.c — the scenario interpreter: runs a scenario's steps against a server on the
 * peer layer (peer.h) and judges each expect (scenario.h has the contract, docs/replay.md the
 * meaning of each step).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"
#include "netns.h"
#include "vanish.h"

/* A send buffer holds whole copies of a step's items, at most this many bytes (or one copy). */
#define SEND_BUF_MAX (1u << 20)

typedef struct {
    const scenario *s;
    sc_env *env;
    const char *file;
    peer *peers;        /* one per connection name */
    peer **all;         /* pointers to them, for peer_poll() */
    int64_t t0;
    int server_fds;     /* the server's descriptors before the first connect (-1 unknown) */
    bool termed;        /* a `server term` ran: the server may close any connection, so a send
                         * that meets the close does not fail (the expects judge it) */
    vn_conn *gone;      /* per connection: its server end, once its peer vanished (vanish.h) */
    char chain[32];     /* this run's nftables chain, or "" until the first vanish */
    sc_failure *f;
} run;

static void vlog(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(const run *r, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    size_t len = 0;
    FILE *m;
    if (!r->env->verbose || (m = open_memstream(&line, &len)) == NULL)
        return;
    fprintf(m, "[%9.3f ms] ", (double)(sock_now_ns() - r->t0) / 1e6);
    va_start(ap, fmt);
    vfprintf(m, fmt, ap);
    va_end(ap);
    fputc('\n', m);
    fclose(m);
    /* one write a line: the fuzzer's workers and its progress share stderr */
    fwrite(line, 1, len, stderr);
    free(line);
}

/* Wait for input until deadline_ms at most (100 ms per call, so the caller looks again). */
static void pump_until(run *r, int64_t deadline_ms)
{
    int64_t left = deadline_ms - sock_now_ms(); /* read once: poll() must not get a negative */
    peer_poll(r->all, r->s->nnames, left <= 0 ? 0 : left > 100 ? 100 : (int)left);
}

static void pump(run *r, int ms)
{
    peer_poll(r->all, r->s->nnames, ms);
}

/* Nothing more will arrive on c: its reads ended (FIN, RST) or we closed it. */
static bool ended(const peer *c)
{
    return c->rd_done || c->fd < 0;
}

/* Pump for exactly ms (echoes arriving meanwhile do not cut it short). */
static void pump_for(run *r, long ms)
{
    int64_t end = sock_now_ms() + ms;
    while (sock_now_ms() < end)
        pump_until(r, end);
}

static double scale(const run *r)
{
    return r->env->scale > 0 ? r->env->scale : 1.0;
}

/* Fill in the failure of step i. Returns 1. */
static int fail(run *r, size_t i, const char *what, const char *fmt_exp, const char *act)
{
    const sc_step *st = &r->s->steps[i];
    sc_failure *f = r->f;
    f->step = i;
    f->conn_rx = st->conn >= 0 ? r->peers[st->conn].rx : 0;
    f->req = st->req;
    snprintf(f->what, sizeof f->what, "%s", what);
    snprintf(f->expected, sizeof f->expected, "%s", fmt_exp);
    snprintf(f->actual, sizeof f->actual, "%s", act);
    if (!r->env->quiet) {
        if (st->line > 0)
            printf("FAIL %s:%d: ", r->file, st->line);
        else
            printf("FAIL %s: step %zu: ", r->file, i + 1);
        sc_print_step(stdout, r->s, st);
        printf("\n  expected: %s\n  actual:   %s\n", f->expected, f->actual);
        fflush(stdout);
    }
    return 1;
}

static void hexdump(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%02x", i ? " " : "", p[i]);
}

/* One copy of a step's items, repeated m times into a new buffer (m whole copies, at most
 * SEND_BUF_MAX bytes unless one copy is larger). *one and *blen get the sizes. NULL: no memory. */
static uint8_t *step_buffer(const scenario *s, const sc_step *st, uint64_t *one, uint64_t *blen)
{
    uint64_t o = 0, m;
    uint8_t *b;
    for (size_t i = 0; i < st->nitems; i++)
        o += sc_item_size(&st->items[i], s->framing);
    m = o == 0 ? 1 : SEND_BUF_MAX / o;
    if (m < 1)
        m = 1;
    if (m > st->reps)
        m = st->reps;
    b = malloc(o * m > 0 ? (size_t)(o * m) : 1);
    if (b == NULL)
        return NULL;
    for (uint64_t k = 0, at = 0; k < m; k++)
        for (size_t i = 0; i < st->nitems; i++) {
            sc_item_bytes(&st->items[i], s->framing, b + at);
            at += sc_item_size(&st->items[i], s->framing);
        }
    *one = o;
    *blen = o * m;
    return b;
}

/* The most bytes a step may need to hold in a connection's inbox. */
static uint64_t largest_expect(const scenario *s)
{
    uint64_t best = 0;
    for (size_t i = 0; i < s->n; i++) {
        const sc_step *st = &s->steps[i];
        uint64_t o = 0, n;
        for (size_t j = 0; j < st->nitems; j++)
            o += sc_item_size(&st->items[j], s->framing);
        /* expect and expect prefix take what arrives as it matches; the echoes of a flood
         * arrive while it sends the rest of its last copy */
        n = st->kind == SC_EXPECT_BYTES || st->kind == SC_EXPECT_PREFIX ? o * st->reps
            : st->kind == SC_FLOOD                                    ? st->limit + o
            : st->kind == SC_PING                                     ? o
                                                                      : 0;
        if (n > best)
            best = n;
    }
    return best;
}

/* The server's open descriptors, or -1. */
static int server_fds(const sc_env *env)
{
    return env->srv ? server_count_fds(env->srv->pid) : -1;
}

static int do_send(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, total, pos = 0;
    size_t cut = 0;
    uint8_t *buf = step_buffer(r->s, st, &one, &blen);
    char act[256];
    int rc = 0;
    if (buf == NULL)
        return fail(r, i, "memory", "the bytes are sent", "out of memory");
    total = one * st->reps;
    while (pos < total) {
        /* the next write ends at the next cut, `by` bytes on, or the end */
        uint64_t end = total;
        if (st->by)
            end = pos + st->by < total ? pos + st->by : total;
        else if (cut < st->ncuts)
            end = st->cuts[cut++];
        while (pos < end) {
            uint64_t off = pos % blen, k = end - pos < blen - off ? end - pos : blen - off;
            size_t sent = 0;
            /* 10 s (2 s on a connection that does not read) without progress, scaled */
            int err = peer_send(c, buf + off, (size_t)k,
                                sock_now_ms() + (int64_t)((c->noread ? 2000 : 10000) * scale(r)),
                                r->all, r->s->nnames, &sent);
            pos += sent;
            if (err == -ETIMEDOUT && sent > 0)
                continue; /* progress: a new deadline */
            if (err == -ETIMEDOUT && c->noread) {
                /* a peer that does not read cannot send everything: that is the point */
                vlog(r, "%s: sent %llu of %llu bytes before the window closed",
                     r->s->names[st->conn], (unsigned long long)pos, (unsigned long long)total);
                goto out;
            }
            if (err < 0) {
                if ((r->env->lenient_send || r->termed) && c->closed != SOCK_OPEN) {
                    vlog(r, "%s: send: %s (the expects judge it)", r->s->names[st->conn],
                         sock_errno_name(-err));
                    goto out;
                }
                snprintf(act, sizeof act, "send failed after %llu of %llu bytes: %s",
                         (unsigned long long)pos, (unsigned long long)total,
                         sock_errno_name(-err));
                rc = fail(r, i, "send", "the bytes are sent", act);
                goto out;
            }
        }
        if (pos < total && st->pause_ms > 0)
            pump_for(r, st->pause_ms);
    }
out:
    free(buf);
    return rc;
}

/* An expected byte stream: want[0..blen) repeated, total bytes in all, pos of them matched. */
typedef struct {
    const uint8_t *want;
    uint64_t blen, total, pos;
} stream;

/* Match what waits in c's inbox against the stream at s->pos, taking (peer_consume()) what
 * matches, up to s->total: the inbox never holds more than what arrived since the last call.
 * Returns 0, or -1 at the first byte that differs (exp/act[0..256) say where and what). */
static int stream_take(peer *c, stream *s, char *exp, char *act)
{
    size_t k = c->in_len;
    if (k > s->total - s->pos)
        k = (size_t)(s->total - s->pos);
    for (size_t off = 0; off < k;) {
        uint64_t w = (s->pos + off) % s->blen;
        size_t n = k - off < s->blen - w ? k - off : (size_t)(s->blen - w);
        if (memcmp(c->inbox + off, s->want + w, n) != 0) {
            size_t j = 0;
            char a[100], b[100];
            while (c->inbox[off + j] == s->want[w + j])
                j++;
            hexdump(s->want + w + j, n - j < 16 ? n - j : 16, a, sizeof a);
            hexdump(c->inbox + off + j, n - j < 16 ? n - j : 16, b, sizeof b);
            snprintf(exp, 256, "byte %llu = %s", (unsigned long long)(s->pos + off + j), a);
            snprintf(act, 256, "byte %llu = %s", (unsigned long long)(s->pos + off + j), b);
            return -1;
        }
        off += n;
    }
    peer_consume(c, k);
    s->pos += k;
    return 0;
}

/* Await the whole stream on c until deadline_ms: 0 when it arrived; 1 after failing step i
 * ("mismatch", or "short-FIN" / "short-RST" / "short-timeout": f->got is what had arrived). */
static int await_stream(run *r, size_t i, peer *c, stream *s, int64_t deadline_ms, long ms)
{
    char exp[256], act[256];
    for (;;) {
        if (stream_take(c, s, exp, act) < 0)
            return fail(r, i, "mismatch", exp, act);
        if (s->pos == s->total)
            return 0;
        if (ended(c) || sock_now_ms() >= deadline_ms) {
            char what[32];
            const char *how = c->closed != SOCK_OPEN ? sock_close_name(c->closed) : "timeout";
            snprintf(what, sizeof what, "short-%s", how);
            snprintf(exp, sizeof exp, "%llu bytes within %ld ms", (unsigned long long)s->total,
                     ms);
            snprintf(act, sizeof act, "%llu bytes, then %s", (unsigned long long)s->pos, how);
            fail(r, i, what, exp, act);
            r->f->got = (size_t)s->pos;
            return 1;
        }
        pump_until(r, deadline_ms);
    }
}

static int prefix_then_eof(run *r, size_t i, peer *c, stream *s, uint64_t one,
                           int64_t deadline_ms, long ms);

/* expect ITEMS (every byte of them) and expect prefix ITEMS then eof (prefix). */
static int do_expect_stream(run *r, size_t i, peer *c, bool prefix)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen;
    uint8_t *want = step_buffer(r->s, st, &one, &blen);
    stream s = {want, blen, 0, 0};
    int64_t deadline = sock_now_ms() + st->ms;
    int rc;
    if (want == NULL)
        return fail(r, i, "memory", "the expected bytes", "out of memory");
    s.total = one * st->reps;
    rc = prefix ? prefix_then_eof(r, i, c, &s, one, deadline, st->ms)
                : await_stream(r, i, c, &s, deadline, st->ms);
    free(want);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ping: reps round trips of one copy of the items; the echo of each is awaited before the next
 * is sent. An echo that differs or does not come is FRAMING-1's failure; a p90 round trip over
 * st->ms is the step's own (LATENCY-1 in the fuzzer's programs). */
static int do_ping(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    sc_step one_copy = *st;
    uint64_t one, blen;
    uint8_t *buf;
    int64_t *us = malloc(st->reps * sizeof *us);
    char exp[256], act[256];
    int rc = 0;
    one_copy.reps = 1;
    buf = step_buffer(r->s, &one_copy, &one, &blen);
    if (buf == NULL || us == NULL) {
        free(buf);
        free(us);
        return fail(r, i, "memory", "round trips", "out of memory");
    }
    c->noread = false;
    for (uint64_t k = 0; k < st->reps && rc == 0; k++) {
        int64_t t = sock_now_ns();
        long within = (long)((1000 + (double)one / 20000.0) * scale(r));
        stream s = {buf, blen, one, 0};
        size_t sent = 0;
        int err = peer_send(c, buf, (size_t)one, sock_now_ms() + (int64_t)(10000 * scale(r)),
                            r->all, r->s->nnames, &sent);
        if (err < 0) {
            snprintf(act, sizeof act, "send failed in round trip %llu: %s",
                     (unsigned long long)k + 1, sock_errno_name(-err));
            rc = fail(r, i, "send", "the bytes are sent", act);
            r->f->req = "FRAMING-1";
            break;
        }
        rc = await_stream(r, i, c, &s, sock_now_ms() + within, within);
        if (rc != 0)
            r->f->req = "FRAMING-1"; /* the echo itself, not its timing */
        us[k] = (sock_now_ns() - t) / 1000;
    }
    if (rc == 0) {
        size_t n = (size_t)st->reps;
        qsort(us, n, sizeof *us, cmp_i64);
        vlog(r, "%s: %zu round trips: p50 %.3f ms, p90 %.3f ms, max %.3f ms", r->s->names[st->conn],
             n, (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000,
             (double)us[n - 1] / 1000);
        if (us[n * 9 / 10] > (int64_t)st->ms * 1000) {
            snprintf(exp, sizeof exp, "p90 round trip under %ld ms over %zu round trips", st->ms,
                     n);
            snprintf(act, sizeof act, "p50 %.3f ms, p90 %.3f ms (a ~40 ms stall is Nagle "
                     "waiting for a delayed ACK: TCP_NODELAY, or one write per echo)",
                     (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000);
            rc = fail(r, i, "slow", exp, act);
        }
    }
    free(buf);
    free(us);
    return rc;
}

/* The end of the last whole item at or before stream offset pos, for items of st repeated
 * (one copy: `one` bytes). */
static uint64_t item_boundary(const scenario *s, const sc_step *st, uint64_t one, uint64_t pos)
{
    uint64_t base = one ? pos - pos % one : 0, at = 0, best = base;
    for (size_t k = 0; k < st->nitems; k++) {
        at += sc_item_size(&st->items[k], s->framing);
        if (base + at <= pos)
            best = base + at;
    }
    return best;
}

/* flood ... then shutdown: the server stopped reading with its queues full; SHUT_WR now (its
 * FIN waits behind what it has not read), then read: the echo of every whole item sent, then
 * FIN, or after a partial item a close (HALFCLOSE-5: echoes the server holds when it reads the
 * FIN are all sent first; HALFCLOSE-1, -2). */
static int flood_then_shutdown(run *r, size_t i, peer *c, const uint8_t *buf, uint64_t blen,
                               uint64_t one, uint64_t sent)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t whole = item_boundary(r->s, st, one, sent);
    int64_t deadline = sock_now_ms() + st->ms;
    stream s = {buf, blen, whole, 0};
    char exp[256], act[256];
    int rc;
    shutdown(c->fd, SHUT_WR);
    vlog(r, "%s: shutdown wr after %llu bytes (%llu in whole items)", r->s->names[st->conn],
         (unsigned long long)sent, (unsigned long long)whole);
    /* read at about 32 MB/s (64 KiB every 2 ms), as halfclose.queued_echoes does: the server's
     * own queue is then still full when it reaches our FIN (a fast reader drains it before) */
    c->noread = true;
    while (s.pos < whole && !ended(c) && sock_now_ms() < deadline) {
        struct timespec ts = {0, 2000000};
        if (sock_wait_readable(c->fd, sock_now_ms() + 100) > 0) {
            c->noread = false;
            peer_pump_at_most(c, 65536);
            c->noread = true;
        }
        if (stream_take(c, &s, exp, act) < 0)
            break;
        nanosleep(&ts, NULL);
    }
    c->noread = false;
    rc = await_stream(r, i, c, &s, deadline, st->ms);
    if (rc != 0) {
        r->f->req = "HALFCLOSE-5";
        return rc;
    }
    while (!ended(c) && c->in_len == 0 && sock_now_ms() < deadline)
        pump_until(r, deadline);
    snprintf(exp, sizeof exp, "after the echo of the %llu bytes of whole items, %s",
             (unsigned long long)whole, whole == sent ? "FIN" : "a close");
    if (c->in_len > 0 || !ended(c) || (whole == sent && c->closed != SOCK_EOF)) {
        snprintf(act, sizeof act, "%s", c->in_len > 0 ? "more bytes"
                                        : !ended(c)     ? "still open"
                                                        : sock_close_name(c->closed));
        rc = fail(r, i, c->in_len > 0 ? "bytes" : !ended(c) ? "open" : sock_close_name(c->closed),
                  exp, act);
        r->f->req = whole == sent ? "HALFCLOSE-1" : "HALFCLOSE-2";
    }
    return rc;
}

/* flood: a peer that does not read sends the items again and again until the server stops
 * taking bytes (nothing taken for FLOOD_QUIET_MS x scale) or more than st->limit were taken
 * (the step's failure: BACKPRESSURE-1 in the fuzzer's programs). Then it reads again, sends the
 * rest of the copy it was in, and awaits the echo of everything sent (BACKPRESSURE-2). */
#define FLOOD_QUIET_MS 50
static int do_flood(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, sent = 0;
    uint8_t *buf = step_buffer(r->s, st, &one, &blen);
    char exp[256], act[256];
    int rc = 0, err = 0;
    int64_t give_up = sock_now_ms() + st->ms;
    stream s;
    if (buf == NULL)
        return fail(r, i, "memory", "the bytes are sent", "out of memory");
    c->noread = true;
    /* a server that reads slowly but never stops would keep it sending: the step's time bounds
     * this part too */
    while (sent <= st->limit && sock_now_ms() < give_up) {
        uint64_t off = sent % blen;
        size_t got = 0;
        err = peer_send(c, buf + off, (size_t)(blen - off),
                        sock_now_ms() + (int64_t)(FLOOD_QUIET_MS * scale(r)), r->all,
                        r->s->nnames, &got);
        sent += got;
        if (err == -ETIMEDOUT && got == 0)
            break; /* the window stayed shut: the server stopped reading */
        if (err < 0 && err != -ETIMEDOUT)
            break;
    }
    c->noread = false;
    vlog(r, "%s: flood: the server took %llu bytes%s", r->s->names[st->conn],
         (unsigned long long)sent, sent > st->limit ? " and was still reading" : "");
    if (sent > st->limit) {
        snprintf(exp, sizeof exp, "the server stops reading a peer that does not read after at "
                 "most %llu bytes", (unsigned long long)st->limit);
        snprintf(act, sizeof act, "it took %llu bytes and was still reading (it buffers without "
                 "bound)", (unsigned long long)sent);
        rc = fail(r, i, "unbounded", exp, act);
        r->f->req = "BACKPRESSURE-1"; /* whatever the step's tag says (then term: LIFECYCLE-2) */
        goto out;
    }
    if (err < 0 && err != -ETIMEDOUT) {
        snprintf(act, sizeof act, "send failed after %llu bytes: %s", (unsigned long long)sent,
                 sock_errno_name(-err));
        rc = fail(r, i, "send", "the server holds the connection while the peer does not read",
                  act);
        r->f->req = "BACKPRESSURE-2";
        goto out;
    }
    if (st->how == 1) {
        rc = flood_then_shutdown(r, i, c, buf, blen, one, sent);
        goto out;
    }
    if (st->how == 2) {
        /* then term: SIGTERM to a server that stopped reading (unread input waits in its
         * receive queue, echoes in its own queue); what arrives is a prefix of the echoes
         * that ends at an item boundary, then FIN (LIFECYCLE-2) */
        server_term(r->env->srv);
        r->termed = true;
        vlog(r, "%s: SIGTERM after %llu bytes", r->s->names[st->conn], (unsigned long long)sent);
        s = (stream){buf, blen, sent, 0};
        rc = prefix_then_eof(r, i, c, &s, one, sock_now_ms() + st->ms, st->ms);
        if (rc != 0)
            r->f->req = "LIFECYCLE-2";
        goto out;
    }
    {
        /* the rest of the copy it was in, taking the echoes as they come (so that the inbox
         * holds what arrives in 10 ms, not all the kernel held), then every echo */
        uint64_t end = sent + (one - sent % one) % one;
        int64_t deadline = sock_now_ms() + (int64_t)(10000 * scale(r));
        s = (stream){buf, blen, end, 0};
        while (sent < end) {
            size_t got = 0;
            err = peer_send(c, buf + sent % blen, (size_t)(end - sent), sock_now_ms() + 10,
                            r->all, r->s->nnames, &got);
            sent += got;
            if (stream_take(c, &s, exp, act) < 0) {
                rc = fail(r, i, "mismatch", exp, act);
                r->f->req = "BACKPRESSURE-2";
                goto out;
            }
            if ((err < 0 && err != -ETIMEDOUT) || (sent < end && sock_now_ms() > deadline)) {
                snprintf(act, sizeof act, "send failed after %llu bytes: %s",
                         (unsigned long long)sent,
                         err < 0 && err != -ETIMEDOUT ? sock_errno_name(-err) : "no progress");
                rc = fail(r, i, "send", "the server reads again once the peer reads", act);
                r->f->req = "BACKPRESSURE-2";
                goto out;
            }
        }
    }
    rc = await_stream(r, i, c, &s, sock_now_ms() + st->ms, st->ms);
    if (rc != 0)
        r->f->req = "BACKPRESSURE-2";
out:
    free(buf);
    return rc;
}

/* expect prefix: what arrives until the close is a prefix of the items' bytes (x reps) that ends
 * where an item ends, and the close is FIN. */
/* What arrives on c until it closes (deadline_ms) is a prefix of the stream s (from s->pos on)
 * that ends where an item of st ends (item_boundary()), and the close is FIN. 0, or 1 after
 * failing step i. */
static int prefix_then_eof(run *r, size_t i, peer *c, stream *s, uint64_t one,
                           int64_t deadline_ms, long ms)
{
    const sc_step *st = &r->s->steps[i];
    char exp[256], act[256];
    bool boundary;
    c->noread = false;
    for (;;) {
        if (stream_take(c, s, exp, act) < 0)
            return fail(r, i, "mismatch", exp, act);
        if (c->in_len > 0) {
            snprintf(act, sizeof act, "%zu bytes more than all %llu", c->in_len,
                     (unsigned long long)s->total);
            return fail(r, i, "bytes", "a prefix of the items, then FIN", act);
        }
        if (ended(c) || sock_now_ms() >= deadline_ms)
            break;
        pump_until(r, deadline_ms);
    }
    snprintf(exp, sizeof exp, "a prefix of the %llu bytes that ends where an item ends, then FIN "
             "within %ld ms", (unsigned long long)s->total, ms);
    if (!ended(c)) {
        snprintf(act, sizeof act, "%llu bytes, then still open", (unsigned long long)s->pos);
        return fail(r, i, "open", exp, act);
    }
    boundary = one == 0 || item_boundary(r->s, st, one, s->pos) == s->pos;
    vlog(r, "%s: %llu of %llu bytes, then %s", r->s->names[st->conn], (unsigned long long)s->pos,
         (unsigned long long)s->total, sock_close_name(c->closed));
    if (!boundary || c->closed != SOCK_EOF) {
        snprintf(act, sizeof act, "%llu bytes%s, then %s", (unsigned long long)s->pos,
                 boundary ? "" : " (inside an item)", sock_close_name(c->closed));
        return fail(r, i, boundary ? sock_close_name(c->closed) : "partial", exp, act);
    }
    return 0;
}

static int do_expect_close(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    int64_t deadline = sock_now_ms() + st->ms;
    char exp[256], act[512];
    const char *want = st->kind == SC_EXPECT_EOF     ? "FIN (read returns 0)"
                       : st->kind == SC_EXPECT_RESET ? "RST (ECONNRESET)"
                                                     : "FIN or RST";
    bool was_noread = c->noread;
    c->noread = false; /* to see the close, read */
    while (!ended(c) && c->in_len == 0 && sock_now_ms() < deadline)
        pump_until(r, deadline);
    c->noread = was_noread;
    snprintf(exp, sizeof exp, "%s within %ld ms", want, st->ms);
    if (c->in_len > 0) {
        snprintf(act, sizeof act, "%zu unexpected bytes arrived first", c->in_len);
        return fail(r, i, "bytes", exp, act);
    }
    if (c->closed == SOCK_OPEN || !ended(c))
        return fail(r, i, "open", exp, "still open (timeout)");
    if ((st->kind == SC_EXPECT_EOF && c->closed != SOCK_EOF) ||
        (st->kind == SC_EXPECT_RESET && c->closed != SOCK_RESET)) {
        snprintf(act, sizeof act, "%s", sock_close_name(c->closed));
        return fail(r, i, sock_close_name(c->closed), exp, act);
    }
    return 0;
}

/* expect server-alive: the process lives (--exec), a fresh connection echoes a frame, and after
 * our SHUT_WR (at a frame boundary) the server closes that connection with FIN within 1 s x
 * scale. The last part is HALFCLOSE-1's: a server that never closes after the peer's FIN keeps
 * every finished connection (and its descriptor) for ever. */
static int do_expect_alive(run *r, size_t i)
{
    uint8_t w[16], back[16];
    size_t n;
    ssize_t got;
    int fd, kind = SOCK_OPEN;
    long ms = (long)(1000 * scale(r));
    char exp[256], act[512];
    if (r->env->srv && r->env->srv->pid > 0 && !server_running(r->env->srv)) {
        server_describe_exit(r->env->srv, act, sizeof act);
        return fail(r, i, "dead", "the server process alive", act);
    }
    n = wire_encode(r->s->framing, (const uint8_t *)"alive", 5, w);
    fd = sock_connect(&r->env->addr, sock_now_ms() + 5000);
    if (fd < 0) {
        snprintf(act, sizeof act, "connect: %s", sock_errno_name(-fd));
        return fail(r, i, "no-connect", "a fresh connection echoes a frame", act);
    }
    if (sock_send_all(fd, w, n, sock_now_ms() + 5000) < 0 ||
        sock_recv_exact(fd, back, n, sock_now_ms() + 5000, &kind) != (ssize_t)n ||
        memcmp(back, w, n) != 0) {
        close(fd);
        snprintf(act, sizeof act, "no echo (%s)", sock_close_name(kind));
        return fail(r, i, "no-echo", "a fresh connection echoes a frame", act);
    }
    shutdown(fd, SHUT_WR);
    got = sock_recv_exact(fd, back, 1, sock_now_ms() + ms, &kind);
    close(fd);
    if (got == 0 && kind == SOCK_EOF)
        return 0;
    snprintf(exp, sizeof exp, "after the echo and our SHUT_WR, the server's FIN within %ld ms "
             "(the probe connection of expect server-alive)", ms);
    snprintf(act, sizeof act, "%s", got > 0 ? "more bytes" : kind == SOCK_TIMEOUT ?
             "still open: the server never closes after the peer's FIN" : sock_close_name(kind));
    fail(r, i, got > 0 ? "alive-bytes" : kind == SOCK_TIMEOUT ? "alive-open" : "alive-RST", exp,
         act);
    r->f->req = "HALFCLOSE-1";
    return 1;
}

/* Does a fresh connection get a frame echoed within ms? 1 yes, 0 no. */
static int fresh_echo(const run *r, int ms)
{
    uint8_t w[16], back[16];
    int64_t deadline = sock_now_ms() + ms;
    size_t n = wire_encode(r->s->framing, (const uint8_t *)"probe", 5, w);
    int kind = SOCK_OPEN, ok, fd = sock_connect(&r->env->addr, deadline);
    if (fd < 0)
        return 0;
    ok = sock_send_all(fd, w, n, deadline) == 0 &&
         sock_recv_exact(fd, back, n, deadline, &kind) == (ssize_t)n && memcmp(back, w, n) == 0;
    close(fd);
    return ok;
}

static int do_expect_released(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    int64_t deadline = sock_now_ms() + st->ms;
    char exp[256], act[512];
    int n;
    for (;;) {
        n = server_fds(r->env);
        if (n < 0 || r->server_fds < 0)
            return 0; /* nothing to count (the server exited: server-alive judges that) */
        if (n <= r->server_fds || sock_now_ms() >= deadline)
            break;
        {
            /* the server is usually microseconds behind: look again soon */
            struct timespec ts = {0, 100000};
            pump(r, 0);
            nanosleep(&ts, NULL);
        }
    }
    if (n <= r->server_fds)
        return 0;
    snprintf(exp, sizeof exp, "the server's descriptors back to %d within %ld ms", r->server_fds,
             st->ms);
    snprintf(act, sizeof act, "%d descriptors open (%d more)", n, n - r->server_fds);
    return fail(r, i, "fds", exp, act);
}

/* Run an nft script in the namespace for step i. 0, or 1 after failing it. */
static int nft(run *r, size_t i, const char *script)
{
    char err[512];
    vlog(r, "nft: %.*s", (int)strcspn(script, "\n"), script);
    if (netns_nft(script, (int)(5000 * scale(r)), err, sizeof err) < 0)
        return fail(r, i, "nft", "the namespace's rules are set", err);
    return 0;
}

/* vanish and middlebox-reset: find the server's end of c, then drop every packet of the
 * connection (both directions; pending: first the server's, then an echo is sent into the void,
 * then ours), or answer the server's packets with an RST (middlebox). The rules go to a chain of
 * this run's, removed when it ends. The peer is then gone: nothing more is read or sent on it. */
static int do_vanish(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    vn_conn *v = &r->gone[st->conn];
    bool middlebox = st->kind == SC_MIDDLEBOX_RESET, pending = st->how == 1;
    char why[256], script[512];
    if (vn_identify(c->fd, (int)(1000 * scale(r)), v, why, sizeof why) < 0)
        return fail(r, i, "identify", "the server's end of the connection in /proc/net/tcp", why);
    if (r->chain[0] == '\0') {
        snprintf(r->chain, sizeof r->chain, "v%d", (int)getpid());
        snprintf(script, sizeof script, "add chain inet framespec %s { type filter hook output "
                 "priority -10 ; }\n", r->chain);
        if (nft(r, i, script) != 0) {
            r->chain[0] = '\0';
            return 1;
        }
    }
    if (!middlebox && !pending && !vn_wait_acked(v, (int)(1000 * scale(r))))
        return fail(r, i, "unacked", "the server's echoes acknowledged before the peer vanishes "
                    "(its send queue empty)", "its send queue still holds bytes after 1 s");
    vn_rules(r->chain, v, true, !middlebox && !pending, middlebox, script, sizeof script);
    if (nft(r, i, script) != 0)
        return 1;
    if (middlebox || pending) {
        /* a frame whose echo meets the rule: the middlebox's RST, or bytes in flight for ever */
        sc_item it = {.framed = !wire_is_raw(r->s->framing),
                      .p = {.kind = wire_is_line(r->s->framing) ? SC_P_TEXT : SC_P_SIZE,
                            .len = r->s->max_frame > 4097 ? 4096 : r->s->max_frame - 1}};
        uint64_t n = sc_item_size(&it, r->s->framing);
        uint8_t *buf = malloc((size_t)n);
        size_t sent = 0;
        int err;
        if (buf == NULL)
            return fail(r, i, "memory", "a frame is sent", "out of memory");
        sc_item_bytes(&it, r->s->framing, buf);
        err = peer_send(c, buf, (size_t)n, sock_now_ms() + (int64_t)(2000 * scale(r)), r->all,
                        r->s->nnames, &sent);
        free(buf);
        if (err < 0 && !middlebox)
            return fail(r, i, "send", "a frame is sent before the peer vanishes",
                        sock_errno_name(-err));
    }
    if (pending) {
        int state = 0;
        unsigned long txq = 0, inode;
        int64_t until = sock_now_ms() + (int64_t)(2000 * scale(r));
        while (!(vn_tcp_entry(v, &state, &txq, &inode) && txq > 0)) {
            if (sock_now_ms() > until)
                return fail(r, i, "no-echo", "the server echoes the frame into the void (its "
                            "send queue holds unacknowledged bytes)", vn_state_name(state));
            poll(NULL, 0, 5);
        }
        vlog(r, "%s: the server has %lu bytes unacknowledged", r->s->names[st->conn], txq);
        vn_rules(r->chain, v, false, true, false, script, sizeof script);
        if (nft(r, i, script) != 0)
            return 1;
    }
    c->noread = true;
    return 0;
}

/* expect released: the server no longer holds c's connection (vanish.h), within st->ms. */
static int do_expect_gone(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    int64_t t0 = sock_now_ms(), deadline = t0 + st->ms;
    pid_t pid = r->env->srv ? r->env->srv->pid : 0;
    char why[256], exp[128];
    (void)c;
    for (;;) {
        if (vn_released(pid, &r->gone[st->conn], why, sizeof why)) {
            vlog(r, "%s: released after %lld ms", r->s->names[st->conn],
                 (long long)(sock_now_ms() - t0));
            return 0;
        }
        if (sock_now_ms() > deadline)
            break;
        poll(NULL, 0, 20);
    }
    snprintf(exp, sizeof exp, "the server releases the connection within %ld ms", st->ms);
    return fail(r, i, "held", exp, why);
}

/* A server started by the scenario: its descriptors (expect server-released) are counted from
 * here, after one echo (a server may open some lazily), at the fewest seen in 20 ms (the echo's
 * connection may take that long to go). */
static void new_baseline(run *r)
{
    int64_t end;
    if (r->server_fds < 0)
        return;
    fresh_echo(r, 1000);
    end = sock_now_ms() + 20;
    r->server_fds = server_fds(r->env);
    while (r->server_fds >= 0 && sock_now_ms() < end) {
        struct timespec ts = {0, 500000};
        int n;
        nanosleep(&ts, NULL);
        n = server_fds(r->env);
        if (n >= 0 && n < r->server_fds)
            r->server_fds = n;
    }
}

/* Steps that need something the environment lacks: a script or setup error (exit 2). */
static int check_env(const run *r)
{
    for (size_t i = 0; i < r->s->n; i++) {
        const sc_step *st = &r->s->steps[i];
        if ((st->kind == SC_VANISH || st->kind == SC_MIDDLEBOX_RESET) &&
            (!r->env->netns || r->env->addr.family == AF_UNIX)) {
            fprintf(stderr, "%s:%d:1: error: '", r->file, st->line);
            sc_print_step(stderr, r->s, st);
            fprintf(stderr, "' needs framespec's network namespace: run it as root with --exec "
                            "and a TCP server (it enters one itself)\n");
            return 2;
        }
        if ((st->kind == SC_SERVER_TERM || st->kind == SC_SERVER_STOP ||
             st->kind == SC_SERVER_START || st->kind == SC_EXPECT_RELEASED ||
             (st->kind == SC_FLOOD && st->how == 2)) &&
            (r->env->srv == NULL || r->env->srv->exec == NULL)) {
            fprintf(stderr, "%s:%d:1: error: '", r->file, st->line);
            sc_print_step(stderr, r->s, st);
            fprintf(stderr, "' needs --exec (framespec must launch the server to %s)\n",
                    st->kind == SC_EXPECT_RELEASED ? "count its descriptors"
                                                   : "stop and start it");
            return 2;
        }
    }
    return 0;
}

static int step(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    peer *c = st->conn >= 0 ? &r->peers[st->conn] : NULL;
    const char *name = st->conn >= 0 ? r->s->names[st->conn] : "";
    char act[2048];
    if (r->env->verbose) {
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (m != NULL) {
            sc_print_step(m, r->s, st);
            fclose(m);
            vlog(r, "line %d: %s", st->line, text);
        }
        free(text);
    }
    switch (st->kind) {
    case SC_FRAMING:
        return 0;
    case SC_CONNECT: {
        int fd = sock_connect(&r->env->addr, sock_now_ms() + 5000);
        if (fd < 0) {
            snprintf(act, sizeof act, "connect: %s", sock_errno_name(-fd));
            return fail(r, i, "no-connect", "the connection is accepted", act);
        }
        peer_free(c);
        peer_init(c, fd, c->in_max);
        return 0;
    }
    case SC_SEND:
        return do_send(r, i, c);
    case SC_SHUTDOWN:
        if (c->fd >= 0)
            shutdown(c->fd, st->how);
        return 0;
    case SC_ABORT:
    case SC_CLOSE:
        peer_close(c, st->kind == SC_ABORT);
        return 0;
    case SC_STOP_READING:
        c->noread = true;
        return 0;
    case SC_RESUME_READING:
        c->noread = false;
        pump(r, 0);
        return 0;
    case SC_CORK: {
        int one = 1;
        if (r->env->addr.family != AF_UNIX &&
            setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) < 0)
            vlog(r, "%s: TCP_CORK: %s", name, strerror(errno));
        return 0;
    }
    case SC_SLEEP:
        pump_for(r, st->ms);
        return 0;
    case SC_SERVER_TERM:
        server_term(r->env->srv);
        r->termed = true;
        return 0;
    case SC_SERVER_STOP:
        server_stop_wait(r->env->srv, 5000, act, sizeof act);
        vlog(r, "server %s", act);
        return 0;
    case SC_SERVER_START: {
        char why[2048];
        sc_env *env = r->env; /* the address moves with a new port */
        if (server_restart(env->srv, st->how == 1, 1.0, why, sizeof why) < 0) {
            snprintf(act, sizeof act, "%.500s", why);
            return fail(r, i, "no-start", "the server starts again and accepts", act);
        }
        env->addr = env->srv->addr;
        vlog(r, "server started again on %s (pid %d)", env->addr.text, (int)env->srv->pid);
        new_baseline(r);
        r->termed = false;
        return 0;
    }
    case SC_EXPECT_BYTES:
        return do_expect_stream(r, i, c, false);
    case SC_EXPECT_EOF:
    case SC_EXPECT_RESET:
    case SC_EXPECT_CLOSED:
        return do_expect_close(r, i, c);
    case SC_EXPECT_OPEN: {
        int64_t end = sock_now_ms() + st->ms;
        char exp[256];
        while (sock_now_ms() < end && !ended(c) && c->closed == SOCK_OPEN && c->in_len == 0)
            pump_until(r, end);
        if (c->in_len == 0 && c->closed == SOCK_OPEN)
            return 0;
        snprintf(exp, sizeof exp, "nothing arrives and nothing closes for %ld ms", st->ms);
        if (c->in_len > 0)
            snprintf(act, sizeof act, "%zu bytes arrived", c->in_len);
        else
            snprintf(act, sizeof act, "closed: %s", sock_close_name(c->closed));
        return fail(r, i, c->in_len > 0 ? "bytes" : "closed", exp, act);
    }
    case SC_EXPECT_ALIVE:
        return do_expect_alive(r, i);
    case SC_PING:
        return do_ping(r, i, c);
    case SC_FLOOD:
        return do_flood(r, i, c);
    case SC_EXPECT_PREFIX:
        return do_expect_stream(r, i, c, true);
    case SC_VANISH:
    case SC_MIDDLEBOX_RESET:
        return do_vanish(r, i, c);
    case SC_EXPECT_GONE:
        return do_expect_gone(r, i, c);
    case SC_EXPECT_RELEASED:
        return do_expect_released(r, i);
    }
    return 0;
}

int sc_run(const scenario *s, sc_env *env, const char *file, sc_failure *f)
{
    run r = {.s = s, .env = env, .file = file, .f = f, .t0 = sock_now_ns()};
    sc_failure spare;
    size_t in_max = env->inbox_min;
    int rc;
    if (r.f == NULL)
        r.f = &spare;
    memset(r.f, 0, sizeof *r.f);
    rc = check_env(&r);
    if (rc != 0)
        return rc;
    if (largest_expect(s) > in_max)
        in_max = (size_t)largest_expect(s);
    in_max += 1u << 20;
    r.peers = calloc(s->nnames ? s->nnames : 1, sizeof *r.peers);
    r.all = calloc(s->nnames ? s->nnames : 1, sizeof *r.all);
    r.gone = calloc(s->nnames ? s->nnames : 1, sizeof *r.gone);
    if (r.peers == NULL || r.all == NULL || r.gone == NULL) {
        free(r.peers);
        free(r.all);
        free(r.gone);
        fprintf(stderr, "%s: out of memory for %zu connections\n", file, s->nnames);
        return 2;
    }
    for (size_t i = 0; i < s->nnames; i++) {
        peer_init(&r.peers[i], -1, in_max);
        r.all[i] = &r.peers[i];
    }
    r.server_fds = server_fds(env);
    rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i++)
        rc = step(&r, i);
    r.f->fresh_echo = -1;
    if (rc == 1 && env->probe_on_fail)
        r.f->fresh_echo = fresh_echo(&r, 500);
    for (size_t i = 0; i < s->nnames; i++)
        peer_free(&r.peers[i]);
    if (r.chain[0] != '\0') {
        /* this run's rules go with it, however it ended */
        char script[160], err[512];
        snprintf(script, sizeof script, "flush chain inet framespec %s\ndelete chain inet "
                 "framespec %s\n", r.chain, r.chain);
        if (netns_nft(script, 5000, err, sizeof err) < 0)
            fprintf(stderr, "%s: cannot remove the chain %s: %s\n", file, r.chain, err);
    }
    free(r.peers);
    free(r.all);
    free(r.gone);
    return rc;
}
