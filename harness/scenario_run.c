/*
 * scenario_run.c — the scenario interpreter: runs a scenario's steps against a server on the
 * peer layer (peer.h) and judges each expect (scenario.h has the contract, docs/replay.md the
 * meaning of each step).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

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
    sc_failure *f;
} run;

static void vlog(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(const run *r, const char *fmt, ...)
{
    va_list ap;
    if (!r->env->verbose)
        return;
    fprintf(stderr, "[%9.3f ms] ", (double)(sock_now_ns() - r->t0) / 1e6);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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

/* The largest expect, in bytes. */
static uint64_t largest_expect(const scenario *s)
{
    uint64_t best = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->steps[i].kind == SC_EXPECT_BYTES) {
            uint64_t o = 0;
            for (size_t j = 0; j < s->steps[i].nitems; j++)
                o += sc_item_size(&s->steps[i].items[j], s->framing);
            if (o * s->steps[i].reps > best)
                best = o * s->steps[i].reps;
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
                if (r->env->lenient_send && c->closed != SOCK_OPEN) {
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

static int do_expect_bytes(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, total;
    int64_t deadline = sock_now_ms() + st->ms;
    uint8_t *want = step_buffer(r->s, st, &one, &blen);
    char exp[256], act[512];
    int rc = 0;
    if (want == NULL)
        return fail(r, i, "memory", "the expected bytes", "out of memory");
    total = one * st->reps;
    for (uint64_t checked = 0;;) {
        uint64_t have = c->in_len < total ? c->in_len : total;
        for (uint64_t off = checked; off < have;) {
            uint64_t w = off % blen, k = have - off < blen - w ? have - off : blen - w;
            if (memcmp(c->inbox + off, want + w, (size_t)k) != 0) {
                size_t j = 0;
                char a[100], b[100];
                while (c->inbox[off + j] == want[w + j])
                    j++;
                hexdump(want + w + j, k - j < 16 ? (size_t)(k - j) : 16, a, sizeof a);
                hexdump(c->inbox + off + j, k - j < 16 ? (size_t)(k - j) : 16, b, sizeof b);
                snprintf(exp, sizeof exp, "byte %llu = %s", (unsigned long long)(off + j), a);
                snprintf(act, sizeof act, "byte %llu = %s", (unsigned long long)(off + j), b);
                rc = fail(r, i, "mismatch", exp, act);
                goto out;
            }
            off += k;
        }
        checked = have;
        if (have == total)
            break;
        if (ended(c) || sock_now_ms() >= deadline) {
            char what[32];
            const char *how = c->closed != SOCK_OPEN ? sock_close_name(c->closed) : "timeout";
            snprintf(what, sizeof what, "short-%s", how);
            snprintf(exp, sizeof exp, "%llu bytes within %ld ms", (unsigned long long)total,
                     st->ms);
            snprintf(act, sizeof act, "%zu bytes, then %s", c->in_len, how);
            rc = fail(r, i, what, exp, act);
            r->f->got = c->in_len;
            goto out;
        }
        pump_until(r, deadline);
    }
    peer_consume(c, (size_t)total);
out:
    free(want);
    return rc;
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

static int do_expect_alive(run *r, size_t i)
{
    uint8_t w[16], back[16];
    size_t n;
    int fd, kind = SOCK_OPEN;
    char act[512];
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
    close(fd);
    return 0;
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

/* Steps that need something the environment lacks: a script or setup error (exit 2). */
static int check_env(const run *r)
{
    for (size_t i = 0; i < r->s->n; i++) {
        const sc_step *st = &r->s->steps[i];
        if ((st->kind == SC_SERVER_TERM || st->kind == SC_SERVER_STOP ||
             st->kind == SC_SERVER_START || st->kind == SC_EXPECT_RELEASED) &&
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
        fprintf(stderr, "[%9.3f ms] line %d: ", (double)(sock_now_ns() - r->t0) / 1e6, st->line);
        sc_print_step(stderr, r->s, st);
        fputc('\n', stderr);
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
        return 0;
    }
    case SC_EXPECT_BYTES:
        return do_expect_bytes(r, i, c);
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
    if (r.peers == NULL || r.all == NULL) {
        free(r.peers);
        free(r.all);
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
    free(r.peers);
    free(r.all);
    return rc;
}
