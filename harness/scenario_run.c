/*
 * scenario_run.c — the scenario interpreter, the one judge: runs a scenario's steps against a
 * server on the peer layer (peer.h) and judges each expect (scenario.h has the contract,
 * docs/replay.md the meaning of each step). This file holds the core (failures, the wire log,
 * sets of connections, repeats), the connection steps and the expects of bytes and closes;
 * scenario_flood.c the peers that do not read or keep sending, scenario_server.c the server's
 * process and the peers that vanish.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scenario_exec.h"

/* A send buffer holds whole copies of a step's items, at most this many bytes (or one copy). */
#define SEND_BUF_MAX (1u << 20)

/* ---- the wire log ---- */

static bool logging(const run *r)
{
    return r->env->log != NULL || r->env->verbose > 0;
}

__attribute__((format(printf, 2, 0))) static void vlog_line(const run *r, const char *fmt,
                                                            va_list ap)
{
    char *line = NULL;
    if (!logging(r) || vasprintf(&line, fmt, ap) < 0)
        return;
    if (r->env->log != NULL) {
        r->env->log(r->env->arg, line);
    } else {
        /* one write a line: the fuzzer's workers and its progress share stderr */
        char *out = NULL;
        int n = asprintf(&out, "[%9.3f ms] %s\n", (double)(sock_now_ns() - r->t0_ns) / 1e6, line);
        if (n > 0 && fwrite(out, 1, (size_t)n, stderr) != (size_t)n)
            clearerr(stderr);
        free(out);
    }
    free(line);
}

void rx_log(const run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(r, fmt, ap);
    va_end(ap);
}

void rx_note(const run *r, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    if (text == NULL)
        return;
    rx_log(r, "%s", text);
    if (r->env->note)
        r->env->note(r->env->arg, text);
    free(text);
}

static void hexdump(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%02x", i ? " " : "", p[i]);
}

/* The peers' events, in the wire log's format (harness/html/framespec_report.py reads it:
 * "fd N send|recv K bytes: HEX", "fd N: closed: FIN"). */
static void wire_event(void *arg, const peer *p, const char *event, const uint8_t *buf, size_t n)
{
    const run *r = arg;
    char h[100];
    if (!logging(r))
        return;
    if (strcmp(event, "closed") == 0) {
        rx_log(r, "fd %d: closed: %s", p->fd, sock_close_name((int)n));
        return;
    }
    hexdump(buf, n < 24 ? n : 24, h, sizeof h);
    rx_log(r, "fd %d %s %zu bytes: %s%s", p->fd, event, n, h, n > 24 ? " ..." : "");
}

/* ---- failures ---- */

double rx_scale(const run *r)
{
    return r->env->scale > 0 ? r->env->scale : 1.0;
}

const char *rx_name(const run *r, const sc_step *st)
{
    int c = r->conn_failed >= 0 ? r->conn_failed : st->conn;
    return c >= 0 ? r->s->names[c] : "";
}

const char *sc_failure_close(const sc_failure *f)
{
    return f->close_kind != SOCK_OPEN ? sock_close_name(f->close_kind) : NULL;
}

/* IDLE-1's earliest close: 0.9 x T - 50 ms (a server may round its timer down). */
static int64_t idle_early_ms(int64_t idle_ms)
{
    return idle_ms * 9 / 10 - 50;
}

/* Under --loss, a FIN lost twice arrives this late (ms): what we did that long before it may
 * have crossed it, unheard. */
#define CROSS_MS 600

/*
 * Does the server's declared idle timeout explain that c was closed? Under --loss a retransmitted
 * segment waits 200 ms, 400 ms, ...: a connection the harness keeps busy can look idle to the
 * server, which then rightly closes it. It does explain it when the server had heard nothing
 * from c for IDLE-1's earliest close (0.9 T - 50 ms) before the close arrived: not our writes,
 * nor the advance of its acknowledgments (peer_heard_by()); under --loss what came within
 * CROSS_MS of the close may have crossed it and does not count. When the failure is bytes owed
 * that never came (`owed`), it does not when the server had acknowledged all we sent that long
 * before the close: it owed the echo (a server waiting for bytes we never sent, or one that
 * dropped an echo). The arithmetic goes to note[0..n).
 */
bool rx_idle_explains(const run *r, const peer *c, bool owed, char *note, size_t n)
{
    int64_t idle = r->env->idle_ms, early = idle_early_ms(idle), quiet;
    if (idle <= 0 || c->closed == SOCK_OPEN || c->t_closed == 0)
        return false;
    quiet = c->t_closed - peer_heard_by(c, c->t_closed - (r->env->lossy ? CROSS_MS : 5));
    rx_log(r, "idle timeout? the %s came %lld ms after the server last heard from us; %llu of "
           "%llu bytes acknowledged then (all of them since %lld ms before it)",
           sock_close_name(c->closed), (long long)quiet, (unsigned long long)c->acked_at_close,
           (unsigned long long)c->tx,
           c->t_all_acked ? (long long)(c->t_closed - c->t_all_acked) : -1LL);
    if (owed && c->t_all_acked > 0 && c->t_all_acked <= c->t_closed &&
        c->t_closed - c->t_all_acked >= early)
        return false; /* it had every byte for that long, and owed their echo */
    if (quiet < early)
        return false;
    snprintf(note, n, "the server's idle timeout (%lld ms) explains this %s: it had heard "
             "nothing from us for %lld ms (%llu of our %llu bytes acknowledged then, %u segments "
             "retransmitted: under --loss each waits 200 ms, 400 ms, ...)", (long long)idle,
             sock_close_name(c->closed), (long long)quiet, (unsigned long long)c->acked_at_close,
             (unsigned long long)c->tx, c->retrans);
    return true;
}

int rx_fail(run *r, size_t i, const char *what, const char *exp, const char *act)
{
    const sc_step *st = &r->s->steps[i];
    sc_failure *f = r->f;
    int conn = r->conn_failed >= 0 ? r->conn_failed : st->conn;
    f->step = i;
    f->iteration = r->depth > 0 ? r->iter[r->depth - 1] : 0;
    f->conn = conn;
    f->conn_rx = conn >= 0 ? r->peers[conn].rx : 0;
    f->close_kind = conn >= 0 ? r->peers[conn].closed : SOCK_OPEN;
    f->req = st->req != REQ_NONE ? st->req : r->s->requirement;
    f->idle_note[0] = '\0';
    /* a close the failure is about: seen by expect open, met by a send, or ending an expect */
    if (conn >= 0 && (!strcmp(what, "closed") || !strcmp(what, "send") ||
                      (!strncmp(what, "short-", 6) && strcmp(what, "short-timeout") != 0)))
        rx_idle_explains(r, &r->peers[conn], what[0] == 's' && what[1] == 'h', f->idle_note,
                      sizeof f->idle_note);
    snprintf(f->what, sizeof f->what, "%s", what);
    snprintf(f->expected, sizeof f->expected, "%s", exp);
    snprintf(f->actual, sizeof f->actual, "%s", act);
    rx_log(r, "FAIL at step %zu (%s): expected %s; actual %s", i + 1, what, exp, act);
    return 1;
}

/* "FAIL FILE:LINE: step", expected, actual, and the requirement judged (replay's output). */
static void print_failure(const run *r, const sc_failure *f)
{
    const sc_step *st = &r->s->steps[f->step];
    if (st->line > 0)
        printf("FAIL %s:%d: ", r->file, st->line);
    else
        printf("FAIL %s: step %zu: ", r->file, f->step + 1);
    sc_print_step(stdout, r->s, st);
    if (f->iteration > 0)
        printf("  (iteration %llu)", (unsigned long long)f->iteration);
    if (st->set != NULL && f->conn >= 0)
        printf("  (on %s)", r->s->names[f->conn]);
    printf("\n  expected: %s\n  actual:   %s\n", f->expected, f->actual);
    if (f->req != REQ_NONE)
        printf("  violated: %s (%s)\n", fs_req_id(f->req), fs_level_name(fs_req_level(f->req)));
    if (f->idle_note[0])
        printf("  note:     %s\n", f->idle_note);
    fflush(stdout);
}


/* rx_fail(), then under req unless it is REQ_NONE (the step's tag then). */
static int fail_req(run *r, size_t i, fs_req req, const char *what, const char *exp,
                    const char *act)
{
    rx_fail(r, i, what, exp, act);
    if (req != REQ_NONE)
        r->f->req = req;
    return 1;
}

int rx_fail_check(run *r, size_t i, fs_check chk, const char *what, const char *exp,
                  const char *act)
{
    return fail_req(r, i, fs_check_req[chk], what, exp, act);
}

/* ---- waiting ---- */

void rx_pump_until(run *r, int64_t deadline_ms)
{
    int64_t left = deadline_ms - sock_now_ms(); /* read once: poll() must not get a negative */
    peer_poll(r->all, r->s->nnames, left <= 0 ? 0 : left > 100 ? 100 : (int)left);
}

bool rx_ended(const peer *c)
{
    return c->rd_done || c->fd < 0;
}

/* Pump for exactly ms (echoes arriving meanwhile do not cut it short). */
static void rx_pump_for(run *r, long ms)
{
    int64_t end = sock_now_ms() + ms;
    while (sock_now_ms() < end)
        rx_pump_until(r, end);
}

/* ---- items and streams ---- */

uint8_t *rx_step_buffer(const scenario *s, const sc_step *st, uint64_t *one, uint64_t *blen)
{
    uint64_t o = sc_items_size(s, st), m;
    uint8_t *b;
    m = o == 0 ? 1 : SEND_BUF_MAX / o;
    if (m < 1)
        m = 1;
    if (st->kind != SC_FLOOD && st->kind != SC_STREAM && m > st->reps)
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

uint64_t rx_item_boundary(const scenario *s, const sc_step *st, uint64_t one, uint64_t pos,
                          uint64_t *next)
{
    uint64_t base = one ? pos - pos % one : 0, at = 0, best = base, after = pos;
    if (wire_is_raw(s->framing) || one == 0) {
        /* a raw byte stream is echoed byte by byte: every byte ends an item */
        if (next)
            *next = pos;
        return wire_is_raw(s->framing) ? pos : 0;
    }
    for (size_t k = 0; k < st->nitems; k++) {
        at += sc_item_size(&st->items[k], s->framing);
        if (base + at <= pos)
            best = base + at;
        else if (after == pos)
            after = base + at;
    }
    if (next)
        *next = best == pos ? pos : after;
    return best;
}

int rx_stream_take(peer *c, rx_stream *s, char *exp, char *act)
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
            snprintf(exp, 256, "the echo: byte %llu = %s", (unsigned long long)(s->pos + off + j),
                     a);
            snprintf(act, 256, "an echo that differs: byte %llu = %s",
                     (unsigned long long)(s->pos + off + j), b);
            return -1;
        }
        off += n;
    }
    peer_consume(c, k);
    s->pos += k;
    return 0;
}

int rx_await_stream(run *r, size_t i, peer *c, rx_stream *s, int64_t deadline_ms, long ms)
{
    char exp[256], act[256];
    for (;;) {
        if (rx_stream_take(c, s, exp, act) < 0)
            return rx_fail(r, i, "mismatch", exp, act);
        if (s->pos == s->total)
            return 0;
        peer_check_acked(c);
        if (rx_ended(c) || sock_now_ms() >= deadline_ms) {
            char what[32];
            const char *how = c->closed != SOCK_OPEN ? sock_close_name(c->closed) : "timeout";
            snprintf(what, sizeof what, "short-%s", how);
            snprintf(exp, sizeof exp, "%llu bytes within %ld ms", (unsigned long long)s->total,
                     ms);
            snprintf(act, sizeof act, "%llu bytes, then %s", (unsigned long long)s->pos, how);
            rx_fail(r, i, what, exp, act);
            r->f->got = (size_t)s->pos;
            return 1;
        }
        rx_pump_until(r, deadline_ms);
    }
}


int rx_prefix_then_eof(run *r, size_t i, peer *c, rx_stream *s, uint64_t one,
                       int64_t deadline_ms, long ms, fs_req req)
{
    const sc_step *st = &r->s->steps[i];
    char exp[256], act[256];
    bool boundary;
    c->noread = false;
    for (;;) {
        if (rx_stream_take(c, s, exp, act) < 0)
            return fail_req(r, i, req, "mismatch", exp, act);
        if (c->in_len > 0) {
            snprintf(act, sizeof act, "%zu bytes more than all %llu", c->in_len,
                     (unsigned long long)s->total);
            return fail_req(r, i, req, "bytes", "a prefix of the items, then FIN", act);
        }
        if (rx_ended(c) || sock_now_ms() >= deadline_ms)
            break;
        rx_pump_until(r, deadline_ms);
    }
    snprintf(exp, sizeof exp, "a prefix of the %llu bytes that ends where an item ends, then FIN "
             "within %ld ms", (unsigned long long)s->total, ms);
    if (!rx_ended(c)) {
        snprintf(act, sizeof act, "%llu bytes, then still open", (unsigned long long)s->pos);
        return fail_req(r, i, req, "open", exp, act);
    }
    boundary = one == 0 || rx_item_boundary(r->s, st, one, s->pos, NULL) == s->pos;
    rx_log(r, "%s: %llu of %llu bytes, then %s", rx_name(r, st), (unsigned long long)s->pos,
           (unsigned long long)s->total, sock_close_name(c->closed));
    if (!boundary || c->closed != SOCK_EOF) {
        snprintf(act, sizeof act, "%llu bytes%s, then %s%s", (unsigned long long)s->pos,
                 boundary ? "" : " (inside an item)", sock_close_name(c->closed),
                 c->closed == SOCK_RESET
                     ? ": the server closed with unread input, so its kernel reset the "
                       "connection and discarded the echoes not yet sent (RFC 1122 4.2.2.13)"
                     : "");
        return fail_req(r, i, req, boundary ? sock_close_name(c->closed) : "partial", exp,
                             act);
    }
    return 0;
}

/* ---- connection steps ---- */

/* The next write of a send step at pos ends at *cut's cut, `by` bytes on, or the end. */
static uint64_t next_write_end(const sc_step *st, uint64_t pos, uint64_t total, size_t *cut)
{
    if (st->by)
        return pos + st->by < total ? pos + st->by : total;
    while (*cut < st->ncuts && st->cuts[*cut] <= pos)
        (*cut)++;
    return *cut < st->ncuts ? st->cuts[*cut] : total;
}

/* Does a pause follow the write that ended at `end`? */
static bool pause_after(const sc_step *st, uint64_t end)
{
    if (st->pause_ms <= 0)
        return false;
    if (st->npause_at == 0)
        return true;
    for (size_t i = 0; i < st->npause_at; i++)
        if (st->pause_at[i] == end)
            return true;
    return false;
}

static int do_send(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, total, pos = 0;
    size_t cut = 0;
    uint8_t *buf = rx_step_buffer(r->s, st, &one, &blen);
    char act[256];
    int rc = 0;
    if (buf == NULL)
        return rx_fail(r, i, "memory", "the bytes are sent", "out of memory");
    total = one * st->reps;
    while (pos < total) {
        uint64_t end = next_write_end(st, pos, total, &cut);
        while (pos < end) {
            uint64_t off = pos % blen, k = end - pos < blen - off ? end - pos : blen - off;
            size_t sent = 0;
            /* 10 s without progress; SC_QUIET_MS on a connection that does not read */
            int err = peer_send(c, buf + off, (size_t)k,
                                sock_now_ms() + (int64_t)((c->noread ? SC_QUIET_MS : 10000) *
                                                          rx_scale(r)),
                                r->all, r->s->nnames, &sent);
            pos += sent;
            if (err == -ETIMEDOUT && sent > 0)
                continue; /* progress: a new deadline */
            if (err == -ETIMEDOUT && c->noread) {
                /* a peer that does not read cannot send everything: that is the point */
                rx_log(r, "%s: sent %llu of %llu bytes: the server stopped reading",
                       rx_name(r, st), (unsigned long long)pos, (unsigned long long)total);
                goto out;
            }
            if (err < 0) {
                /* a fill (a peer that does not read), the fuzzer's programs, a server told to
                 * stop: a send that meets the server's close ends; the steps after judge it */
                if ((r->env->lenient_send || r->termed || c->noread) && c->closed != SOCK_OPEN) {
                    rx_log(r, "%s: send: %s (the expects judge it)", rx_name(r, st),
                           sock_errno_name(-err));
                    goto out;
                }
                snprintf(act, sizeof act, "send failed after %llu of %llu bytes: %s",
                         (unsigned long long)pos, (unsigned long long)total,
                         sock_errno_name(-err));
                rc = rx_fail(r, i, "send", "the bytes are sent", act);
                goto out;
            }
        }
        if (pos < total && pause_after(st, pos))
            rx_pump_for(r, st->pause_ms);
    }
out:
    free(buf);
    return rc;
}

/* expect ITEMS (every byte of them) and expect prefix ITEMS then eof, by deadline. */
static int do_expect_stream(run *r, size_t i, peer *c, int64_t deadline)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen;
    uint8_t *want = rx_step_buffer(r->s, st, &one, &blen);
    rx_stream s = {want, blen, 0, 0};
    int rc;
    if (want == NULL)
        return rx_fail(r, i, "memory", "the expected bytes", "out of memory");
    s.total = one * st->reps;
    rc = st->kind == SC_EXPECT_PREFIX
             ? rx_prefix_then_eof(r, i, c, &s, one, deadline, st->ms, REQ_NONE)
             : rx_await_stream(r, i, c, &s, deadline, st->ms);
    free(want);
    return rc;
}

static int do_expect_close(run *r, size_t i, peer *c, int64_t deadline)
{
    const sc_step *st = &r->s->steps[i];
    char exp[256], act[512];
    const char *want = st->kind == SC_EXPECT_EOF     ? "FIN (read returns 0)"
                       : st->kind == SC_EXPECT_RESET ? "RST (ECONNRESET)"
                                                     : "FIN or RST";
    bool was_noread = c->noread;
    uint64_t discarded = 0;
    c->noread = false; /* to see the close, read */
    for (;;) {
        if ((st->how & SC_DISCARDING) && c->in_len > 0) {
            discarded += c->in_len;
            peer_consume(c, c->in_len); /* `discarding`: read, not judged */
        }
        if (rx_ended(c) || c->in_len > 0 || sock_now_ms() >= deadline)
            break;
        peer_check_acked(c);
        rx_pump_until(r, deadline);
    }
    if (discarded > 0)
        rx_log(r, "%s: %llu bytes read before the close (discarding)", rx_name(r, st),
               (unsigned long long)discarded);
    c->noread = was_noread;
    snprintf(exp, sizeof exp, "%s within %ld ms", want, st->ms);
    if (c->in_len > 0) {
        snprintf(act, sizeof act, "%zu unexpected bytes arrived first", c->in_len);
        return rx_fail(r, i, "bytes", exp, act);
    }
    if (c->closed == SOCK_OPEN || !rx_ended(c))
        return rx_fail(r, i, "open", exp, "still open (timeout)");
    if ((st->kind == SC_EXPECT_EOF && c->closed != SOCK_EOF) ||
        (st->kind == SC_EXPECT_RESET && c->closed != SOCK_RESET)) {
        snprintf(act, sizeof act, "%s", sock_close_name(c->closed));
        return rx_fail(r, i, sock_close_name(c->closed), exp, act);
    }
    if ((st->how & SC_BEFORE_IDLE) && rx_idle_explains(r, c, false, act, sizeof act)) {
        /* before-idle: a server that ignores the header and times the connection out is not
         * refusing it, however long `within` is (a timeout scale can make it the longer) */
        snprintf(exp, sizeof exp, "%s within %ld ms, not by the server's idle timeout", want,
                 st->ms);
        return rx_fail(r, i, "idle-close", exp, act);
    }
    return 0;
}

/* expect open for MS: nothing arrived and nothing closed by `end` (the step's start + MS). */
static int do_expect_open(run *r, size_t i, peer *c, int64_t end)
{
    const sc_step *st = &r->s->steps[i];
    char exp[256], act[256];
    while (sock_now_ms() < end && !rx_ended(c) && c->closed == SOCK_OPEN && c->in_len == 0) {
        peer_check_acked(c);
        rx_pump_until(r, end);
    }
    if (c->in_len == 0 && c->closed == SOCK_OPEN)
        return 0;
    snprintf(exp, sizeof exp, "nothing arrives and nothing closes for %ld ms", st->ms);
    if (c->in_len > 0)
        snprintf(act, sizeof act, "%zu bytes arrived", c->in_len);
    else
        snprintf(act, sizeof act, "closed: %s", sock_close_name(c->closed));
    return rx_fail(r, i, c->in_len > 0 ? "bytes" : "closed", exp, act);
}

/* connect: the connection, or every connection of a set with their handshakes all under way at
 * once (one lost SYN costs its retransmission once, not once per connection in turn), the other
 * connections read meanwhile (a close is seen when it comes). A unix socket's connect() does
 * not wait in a handshake (EAGAIN: the backlog is full), so those connect one after another. */
static int do_connect(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    size_t n = st->set ? st->nset : 1, left = 0;
    int64_t deadline = sock_now_ms() + (int64_t)(5000 * rx_scale(r));
    bool unix_sock = r->env->addr.family == AF_UNIX;
    char act[128];
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        int c = st->set ? st->set[k] : st->conn;
        int fd = unix_sock ? sock_connect(&r->env->addr, deadline)
                           : sock_connect_start(&r->env->addr);
        peer_free(&r->peers[c]);
        peer_init(&r->peers[c], fd < 0 ? -1 : fd, r->peers[c].in_max, wire_event, r);
        r->peers[c].noread = !unix_sock; /* not read before its handshake is done */
        left += !unix_sock && fd >= 0;
        if (fd < 0) {
            r->conn_failed = c;
            snprintf(act, sizeof act, "connect: %s", sock_errno_name(-fd));
            rc = rx_fail(r, i, "no-connect", "the connection is accepted", act);
            break;
        }
    }
    while (rc == 0 && left > 0) {
        for (size_t k = 0; k < n && rc == 0; k++) {
            peer *c = &r->peers[st->set ? st->set[k] : st->conn];
            int d = c->noread && c->fd >= 0 ? sock_connect_check(c->fd) : 0;
            if (d == 0 && c->noread && c->fd >= 0 && sock_now_ms() >= deadline)
                d = -ETIMEDOUT;
            if (d > 0) {
                c->noread = false;
                c->t_open = sock_now_ms();
                left--;
            } else if (d < 0) {
                r->conn_failed = st->set ? st->set[k] : st->conn;
                snprintf(act, sizeof act, "connect: %s", sock_errno_name(-d));
                rc = rx_fail(r, i, "no-connect", "the connection is accepted", act);
            }
        }
        if (rc == 0 && left > 0)
            peer_poll(r->all, r->s->nnames, 5); /* the others are read meanwhile */
    }
    for (size_t k = 0; k < n; k++) {
        peer *c = &r->peers[st->set ? st->set[k] : st->conn];
        c->noread = false;
        if (rc == 0)
            rx_log(r, "fd %d connected to %s", c->fd, r->env->addr.text);
    }
    return rc;
}

/* One connection's part of a step (all of it, when the step names one). `deadline` is the
 * step's, shared by a set's members. */
static int conn_step(run *r, size_t i, peer *c, int64_t deadline)
{
    const sc_step *st = &r->s->steps[i];
    switch (st->kind) {
    case SC_SEND:
        return do_send(r, i, c);
    case SC_SHUTDOWN:
        if (c->fd >= 0) {
            rx_log(r, "fd %d shutdown(%s)", c->fd,
                   st->how == SHUT_WR ? "SHUT_WR" : st->how == SHUT_RD ? "SHUT_RD" : "SHUT_RDWR");
            peer_shutdown(c, st->how);
        }
        return 0;
    case SC_ABORT:
    case SC_CLOSE:
        rx_log(r, st->kind == SC_ABORT ? "fd %d abort: SO_LINGER {1,0} + close (RST)" : "fd %d close",
               c->fd);
        peer_close(c, st->kind == SC_ABORT);
        return 0;
    case SC_STOP_READING:
        c->noread = true;
        return 0;
    case SC_RESUME_READING:
        c->noread = false;
        peer_poll(r->all, r->s->nnames, 0);
        return 0;
    case SC_CORK: {
        int one = 1;
        if (r->env->addr.family != AF_UNIX &&
            setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) < 0)
            rx_log(r, "fd %d TCP_CORK: %s", c->fd, strerror(errno));
        return 0;
    }
    case SC_EXPECT_BYTES:
    case SC_EXPECT_PREFIX:
        return do_expect_stream(r, i, c, deadline);
    case SC_EXPECT_EOF:
    case SC_EXPECT_RESET:
    case SC_EXPECT_CLOSED:
        return do_expect_close(r, i, c, deadline);
    case SC_EXPECT_OPEN:
        return do_expect_open(r, i, c, deadline);
    case SC_PING:
        return rx_ping(r, i, c);
    case SC_FLOOD:
        return rx_flood(r, i, c);
    case SC_STREAM:
        return rx_stream_term(r, i, c);
    case SC_VANISH:
    case SC_MIDDLEBOX_RESET:
        return rx_vanish(r, i, c);
    default:
        return 0;
    }
}

/* Log the step as written (verbose or with a log sink). */
static void log_step(const run *r, const sc_step *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m;
    if (!logging(r) || (m = open_memstream(&text, &len)) == NULL)
        return;
    sc_print_step(m, r->s, st);
    fclose(m);
    rx_log(r, "line %d: %s", st->line, text);
    free(text);
}

static int run_steps(run *r, size_t from, size_t to);

/* Does the body [from, to) connect every connection it uses before using it (so that running
 * an iteration again starts on fresh connections)? */
static bool self_contained(const run *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const sc_step *st = &r->s->steps[i];
        bool fresh = false;
        if (st->conn < 0 || st->kind == SC_CONNECT)
            continue;
        for (size_t j = from; j < i && !fresh; j++)
            fresh = r->s->steps[j].kind == SC_CONNECT && r->s->steps[j].conn == st->conn &&
                    r->s->steps[j].set == NULL;
        if (!fresh)
            return false;
    }
    return true;
}

/* repeat N: its body N times (the steps after it, up to its end). An iteration whose failure
 * the server's idle timeout explains (under --loss) runs again on fresh connections, when the
 * body makes its own: three times at most, and N/10 + 10 times in all. */
static int do_repeat(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    bool again_ok = self_contained(r, i + 1, i + st->span);
    uint64_t budget = st->reps / 10 + 10;
    int rc = 0, tries = 0;
    r->depth++;
    for (uint64_t k = 1; k <= st->reps && rc == 0; k++) {
        r->iter[r->depth - 1] = k;
        rc = run_steps(r, i + 1, i + st->span);
        if (rc == 1 && r->f->idle_note[0] && again_ok && tries < 3 && budget > 0) {
            rx_log(r, "iteration %llu again, on fresh connections: %s", (unsigned long long)k,
                   r->f->idle_note);
            for (size_t j = i + 1; j < i + st->span; j++)
                if (r->s->steps[j].kind == SC_CONNECT)
                    peer_close(&r->peers[r->s->steps[j].conn], false);
            rc = 0;
            tries++;
            budget--;
            k--;
            continue;
        }
        tries = 0;
    }
    r->depth--;
    return rc;
}

static int step(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    int64_t deadline = sock_now_ms() + st->ms;
    log_step(r, st);
    r->conn_failed = -1;
    switch (st->kind) {
    case SC_FRAMING:
    case SC_REQUIREMENT:
    case SC_END:
        return 0;
    case SC_CONNECT:
        return do_connect(r, i);
    case SC_SLEEP:
        rx_pump_for(r, st->ms);
        return 0;
    case SC_SERVER_TERM:
    case SC_SERVER_STOP:
    case SC_SERVER_START:
    case SC_EXPECT_EXIT:
        return rx_server_step(r, i);
    case SC_EXPECT_ALIVE:
        return rx_expect_alive(r, i);
    case SC_EXPECT_RELEASED:
        return rx_expect_released(r, i);
    case SC_EXPECT_MEMORY:
        return rx_expect_memory(r, i);
    case SC_EXPECT_GONE:
        return rx_expect_gone(r, i);
    case SC_REPEAT:
        return do_repeat(r, i);
    default:
        break;
    }
    if (st->set == NULL)
        return conn_step(r, i, &r->peers[st->conn], deadline);
    for (size_t k = 0; k < st->nset; k++) {
        r->conn_failed = st->set[k];
        if (conn_step(r, i, &r->peers[st->set[k]], deadline) != 0)
            return 1;
    }
    r->conn_failed = -1;
    return 0;
}

/* Steps [from, to): a repeat runs its body and the loop goes on after its end. */
static int run_steps(run *r, size_t from, size_t to)
{
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++) {
        rc = step(r, i);
        if (r->s->steps[i].kind == SC_REPEAT)
            i += r->s->steps[i].span;
    }
    return rc;
}

/* Every step. A last `expect server-alive at-end` runs after the others, even after one failed:
 * every connection closed first (as the end of a run closes them: RST where bytes are unread),
 * then SC_QUIET_MS x scale for what that makes the server do (write into a reset connection:
 * EPIPE, SIGPIPE unless ignored). Its failure is the scenario's, whatever failed before (a dead
 * server outranks it); when it holds, an earlier failure stands. Returns 0 or 1. */
static int run_at_end(run *r)
{
    size_t n = r->s->n;
    int rc, end_rc;
    if (n == 0 || r->s->steps[n - 1].kind != SC_EXPECT_ALIVE || r->s->steps[n - 1].how != 1)
        return run_steps(r, 0, n);
    rc = run_steps(r, 0, n - 1);
    for (size_t i = 0; i < r->s->nnames; i++)
        peer_free(&r->peers[i]);
    rx_log(r, "every connection closed; the server has %d ms", (int)(SC_QUIET_MS * rx_scale(r)));
    {
        int64_t ns = (int64_t)(SC_QUIET_MS * rx_scale(r) * 1e6);
        struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
        nanosleep(&ts, NULL);
    }
    r->depth = 0;
    r->conn_failed = -1;
    end_rc = run_steps(r, n - 1, n);
    return end_rc != 0 ? end_rc : rc;
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
             st->kind == SC_EXPECT_MEMORY || st->kind == SC_EXPECT_EXIT ||
             ((st->kind == SC_FLOOD || st->kind == SC_STREAM) && st->how == 2)) &&
            r->env->srv == NULL) {
            fprintf(stderr, "%s:%d:1: error: '", r->file, st->line);
            sc_print_step(stderr, r->s, st);
            fprintf(stderr, "' needs --exec (framespec must launch the server to %s)\n",
                    st->kind == SC_EXPECT_RELEASED ? "count its descriptors"
                    : st->kind == SC_EXPECT_MEMORY ? "read its memory"
                                                   : "stop and start it");
            return 2;
        }
    }
    return 0;
}

/* The most bytes a step may need to hold in a connection's inbox: an expect takes what arrives
 * as it matches, a flood's and a ping's echoes are matched as they come. */
static uint64_t largest_expect(const scenario *s)
{
    uint64_t best = 0;
    for (size_t i = 0; i < s->n; i++) {
        const sc_step *st = &s->steps[i];
        uint64_t o = sc_items_size(s, st), n;
        n = st->kind == SC_EXPECT_BYTES || st->kind == SC_EXPECT_PREFIX ? o * st->reps
            : st->kind == SC_FLOOD || st->kind == SC_STREAM || st->kind == SC_PING ? o
                                                                                    : 0;
        if (n > best)
            best = n;
    }
    return best;
}

static bool has_step(const scenario *s, sc_kind kind)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->steps[i].kind == kind)
            return true;
    return false;
}

int sc_run(const scenario *s, sc_env *env, const char *file, sc_failure *f)
{
    run r = {.s = s, .env = env, .file = file, .f = f, .t0_ns = sock_now_ns(), .server_fds = -1,
             .server_rss_kb = -1, .conn_failed = -1};
    sc_failure spare;
    size_t in_max = env->inbox_min, nn = s->nnames ? s->nnames : 1;
    int rc;
    if (r.f == NULL)
        r.f = &spare;
    memset(r.f, 0, sizeof *r.f);
    r.f->conn = -1;
    rc = check_env(&r);
    if (rc != 0)
        return rc;
    if (largest_expect(s) > in_max)
        in_max = (size_t)largest_expect(s);
    in_max += 1u << 20;
    r.peers = calloc(nn, sizeof *r.peers);
    r.all = calloc(nn, sizeof *r.all);
    r.gone = calloc(nn, sizeof *r.gone);
    if (r.peers == NULL || r.all == NULL || r.gone == NULL) {
        free(r.peers);
        free(r.all);
        free(r.gone);
        fprintf(stderr, "%s: out of memory for %zu connections\n", file, s->nnames);
        return 2;
    }
    for (size_t i = 0; i < s->nnames; i++) {
        peer_init(&r.peers[i], -1, in_max, wire_event, &r);
        r.all[i] = &r.peers[i];
    }
    if (env->srv && (has_step(s, SC_EXPECT_RELEASED) || has_step(s, SC_EXPECT_MEMORY)))
        rx_baseline(&r);
    rc = run_at_end(&r);
    if (rc == 1 && !env->quiet)
        print_failure(&r, r.f);
    r.f->fresh_echo = -1;
    if (rc == 1 && env->probe_on_fail)
        r.f->fresh_echo = rx_fresh_echo(&r, 500);
    for (size_t i = 0; i < s->nnames; i++)
        peer_free(&r.peers[i]);
    rx_chain_remove(&r);
    free(r.peers);
    free(r.all);
    free(r.gone);
    return rc;
}
