/*
 * fuzz.c — `framespec fuzz`: the campaign. Workers (--jobs) each run programs (fuzz_program.c),
 * many at once (fuzz_lanes.c), through the scenario engine against their own server instance
 * (--exec) or the shared --target; a program that violates the oracle is shrunk by delta
 * debugging (alone), confirmed by three `framespec replay` runs of its file, and written to
 * DIR/findings/<requirement>-<hash>.scenario.
 * docs/fuzzing.md explains campaigns; fuzz.h the programs and the oracle.
 *
 * Files in DIR are named by content hash and written by rename(2), so several machines (or
 * campaigns) may share DIR, the way AFL++ instances share a sync directory:
 *   DIR/findings/REQ-HASH.scenario   one per requirement and failure signature
 *   DIR/findings/REQ-HASH.pcap       with --pcap: the confirmed replay, captured
 *   DIR/corpus/HASH.scenario         programs that found something; read at the start of a
 *                                    campaign and mutated (a quarter of the programs)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "netns.h"
#include "fuzz.h"
#include "opts.h"
#include "replay.h"
#include "scratch.h"
#include "server.h"

#include "ddmin.h"
#include "fuzz_int.h"

volatile sig_atomic_t g_stop, g_signalled;

void fz_on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    g_signalled = 1;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

/* ---- running one program ---- */

void restart_server(worker *w)
{
    unsigned starts = w->srv.starts;
    if (w->cfg->exec == NULL)
        return;
    if (w->srv.keeper > 0)
        server_stop_wait(&w->srv, 500, NULL, 0); /* no grace needed: SIGKILL after 0.5 s */
    memset(&w->srv, 0, sizeof w->srv);
    w->srv.starts = starts; /* its log then replaces the last one's (server.c) */
    w->programs_on_server = 0;
}

int ensure_server(worker *w)
{
    if (w->cfg->exec == NULL)
        return 0;
    if (w->srv.pid > 0 && server_running(&w->srv))
        return 0;
    restart_server(w); /* what the last one left behind */
    if (server_start(&w->srv, w->cfg->exec, NULL, w->cfg->t.scale) < 0)
        return -1;
    w->env.addr = w->srv.addr;
    sc_server_local(&w->ops, &w->srv);
    w->env.srv = &w->ops;
    w->env.netns = w->cfg->t.netns;
    if (w->env.addr.family == AF_UNIX)
        w->t.netns = w->env.netns = false; /* a unix socket has no packets to drop */
    /* servers may open descriptors lazily: one echo first, so that the first program's count of
     * them (its baseline, RESOURCES-2) is taken from a server that has served */
    {
        fz_program none = {.n = 0};
        scenario s;
        if (fz_derive(&none, &w->cfg->t, &s, NULL, 0) == 0) {
            sc_env quiet = w->env;
            quiet.quiet = true;
            sc_run(&s, &quiet, "warm-up", NULL);
            sc_free(&s);
        }
    }
    signal(SIGINT, SIG_IGN); /* scratch_dir() installs its own SIGINT cleanup: the parent decides */
    return 0;
}


/* An echo stream that stopped after `got` bytes, exactly before a frame: before a zero-length
 * frame it is FRAMING-2's failure, before a frame of exactly the maximum LIMITS-1's; otherwise
 * the step's own requirement (`req`). */
static fs_req where_it_stopped(const worker *w, const scenario *s, const sc_step *st,
                                size_t got, fs_req req)
{
    uint64_t at = 0;
    for (uint64_t r = 0; r < st->reps; r++)
        for (size_t i = 0; i < st->nitems; i++) {
            const sc_item *it = &st->items[i];
            uint64_t n = sc_item_size(it, s->framing);
            if (at + n > got || (n == 0 && at == got)) {
                if (at != got || !it->framed)
                    return req;
                if (it->p.len == 0 && !wire_is_raw(s->framing) && !wire_is_line(s->framing))
                    return REQ_FRAMING_2;
                if (it->p.len == w->cfg->t.max_payload &&
                    it->p.len <= wire_max_expressible(s->framing))
                    return REQ_LIMITS_1;
                return req;
            }
            at += n;
        }
    return req;
}

/* Was the server down on purpose when step `upto` failed: that step starts it, or a `server
 * term`, `server stop` or `flood ... then term` came before it with no `server start` since? */
static bool down_on_purpose(const scenario *s, size_t upto)
{
    bool down = false;
    for (size_t i = 0; i <= upto && i < s->n; i++) {
        if (s->steps[i].kind == SC_SERVER_TERM || s->steps[i].kind == SC_SERVER_STOP ||
            (s->steps[i].kind == SC_FLOOD && s->steps[i].how == 2))
            down = true;
        else if (s->steps[i].kind == SC_SERVER_START)
            down = i == upto; /* a start that failed */
    }
    return down;
}

/* Is the worker's server running (under --exec)? Beside other programs, its keeper's reports
 * are read under srv_mu; within ms, waiting for a death being reported. */
static bool server_alive(worker *w, bool shared, int ms)
{
    bool up;
    if (shared)
        pthread_mutex_lock(&w->srv_mu);
    up = ms > 0 ? server_running_wait(&w->srv, ms) : server_running(&w->srv);
    if (shared)
        pthread_mutex_unlock(&w->srv_mu);
    return up;
}

int run_program(worker *w, const fz_program *p, verdict *v, scenario *keep, bool shared)
{
    scenario s;
    fs_req alt[ALT_CAP];
    fz_target t = w->t;
    sc_env env = w->env;
    int rc;
    if (shared) {
        if (w->cfg->exec && !server_alive(w, true, 0))
            return 4; /* it died beside other programs: judged alone, which starts it again */
        t.skip_released = true; /* descriptor counts are the whole server's: fuzz_lanes.c */
        env.srv = w->cfg->exec ? &w->locked_ops : NULL;
    } else if (ensure_server(w) < 0)
        return 2;
    if (fz_derive(p, &t, &s, alt, ALT_CAP) < 0) {
        fprintf(stderr, "framespec fuzz: out of memory\n");
        return 2;
    }
    memset(v, 0, sizeof *v);
    rc = sc_run(&s, shared ? &env : &w->env, "fuzz", &v->f);
    if (rc == 1 && v->f.idle_note[0] != '\0')
        rc = 3;
    if (rc == 1) {
        const sc_step *st = &s.steps[v->f.step];
        fs_req req = v->f.req != REQ_NONE ? v->f.req : REQ_FRAMING_1;
        snprintf(v->what, sizeof v->what, "%s", v->f.what);
        /* under the echo contract alone, where the echo stopped names the requirement; a
         * step owed under another one (HALFCLOSE-1, LIMITS-4 ...) keeps it, and its level */
        if (st->kind == SC_EXPECT_BYTES && !strncmp(v->f.what, "short", 5) &&
            (req == REQ_FRAMING_1 || (req >= REQ_SEGMENTATION_1 && req <= REQ_SEGMENTATION_5)))
            req = where_it_stopped(w, &s, st, v->f.got, req);
        /* nothing ever came back on this connection while an older one was open: the server
         * serves one connection at a time */
        if ((!strcmp(v->f.what, "short-timeout") || !strcmp(v->f.what, "open")) &&
            v->f.conn_rx == 0 && v->f.fresh_echo == 0 && v->f.step < ALT_CAP &&
            alt[v->f.step] != REQ_NONE)
            req = alt[v->f.step];
        if (w->cfg->exec && !down_on_purpose(&s, v->f.step) && !server_alive(w, shared, 50)) {
            /* whatever step noticed it, the server died: the last step's requirement names why */
            for (size_t i = s.n; i-- > 0;)
                if (s.steps[i].kind == SC_EXPECT_ALIVE) {
                    req = s.steps[i].req;
                    break;
                }
            snprintf(v->what, sizeof v->what, "dead");
        }
        snprintf(v->req, sizeof v->req, "%s", fs_req_id(req));
        v->kind = st->kind;
    }
    if (keep)
        *keep = s;
    else
        sc_free(&s);
    return rc;
}

static bool same(const verdict *a, const verdict *b)
{
    return !strcmp(a->req, b->req) && !strcmp(a->what, b->what);
}

/* Does p still violate the oracle the way `want` does, in 2 of at most 3 runs (so that shrinking
 * does not trade a reliable reproducer for a lucky one, nor drop a good reduction because a race
 * in the server went the other way once under load)? A candidate that does not violate at its
 * first run costs one run. 1 yes, 0 no, -1 setup error. */
static int still(worker *w, const fz_program *p, const verdict *want, int *trials)
{
    int hits = 0;
    for (int k = 0; k < 3; k++) {
        verdict v;
        int rc;
        (*trials)++;
        rc = run_program(w, p, &v, NULL, false);
        if (rc == 2)
            return -1;
        if (rc == 1 && same(&v, want))
            hits++;
        else if (k == 0 || hits == 0)
            return 0;
        if (hits == 2)
            return 1;
    }
    return 0;
}

/* The lines of p's scenario as a finding prints it: `framing`, then every step (SIZE_MAX when
 * it cannot be derived). */
static size_t scenario_lines(const fz_program *p, const fz_target *t)
{
    scenario s;
    size_t n;
    if (fz_derive(p, t, &s, NULL, 0) < 0)
        return SIZE_MAX;
    n = s.n + 1;
    sc_free(&s);
    return n;
}

/* ---- shrinking ---- */

/* When a stop was first seen (g_stop), + 20 s: the end of any shrink under way. */
static int64_t stop_end(void)
{
    static int64_t at;
    if (at == 0)
        at = sock_now_ms() + 20000;
    return at;
}

/* Delta debugging (ddmin, Zeller 2002) over the actions, then simpler values action by action:
 * fewer frames, smaller sizes, no repetition, no slicing, no pauses, fewer connections. Only a
 * candidate that violates the same requirement in the same way is kept. */
/* The programs shrinking accepted, oldest first (the original is chain[0]): the last CHAIN_MAX. */
typedef struct {
    fz_program p[CHAIN_MAX];
    size_t n;
} chain;

static void chain_add(chain *c, const fz_program *p)
{
    if (c->n == CHAIN_MAX) {
        memmove(&c->p[1], &c->p[2], (CHAIN_MAX - 2) * sizeof c->p[0]); /* keep the original */
        c->n--;
    }
    c->p[c->n++] = *p;
}

/* One shrink: the finding's program, the verdict it must keep, its trial count and chain. */
typedef struct {
    worker *w;
    fz_program *best;
    const verdict *want;
    int *trials;
    chain *ch;
    int64_t end;   /* ms: SHRINK_MS after it began */
    bool progress; /* a candidate kept the verdict since this was last cleared */
    bool failed;   /* a run could not be made: give up */
} shrinker;

/* Whether the shrink may try another candidate: within SHRINK_TRIALS and its deadline; a stop
 * asked for meanwhile (--until, --max-findings, SIGINT) leaves it 20 s more. */
static bool budget(const shrinker *k)
{
    int64_t end = g_stop && k->end > stop_end() ? stop_end() : k->end;
    return !k->failed && *k->trials < SHRINK_TRIALS && sock_now_ms() < end;
}

/* Runs cand (not after a run could not be made); when it keeps the verdict it becomes the best
 * (and joins the chain). */
static void try_cand(shrinker *k, const fz_program *cand)
{
    int r = k->failed ? 0 : still(k->w, cand, k->want, k->trials);
    if (r < 0) {
        k->failed = true;
    } else if (r == 1) {
        *k->best = *cand;
        chain_add(k->ch, k->best);
        k->progress = true;
    }
}

/* Smaller values in action i: connection 0, fewer repetitions, no cuts or pauses, fewer and
 * smaller frames, a shorter partial frame or silence. */
static void shrink_action(shrinker *k, size_t i)
{
    fz_program *best = k->best;
    const fz_target *t = &k->w->cfg->t;
    fz_program cand;
    if (best->a[i].conn != 0) {
        cand = *best;
        cand.a[i].conn = 0;
        try_cand(k, &cand);
    }
    if (best->a[i].reps > 1) {
        cand = *best;
        cand.a[i].reps = 1;
        try_cand(k, &cand);
        if (best->a[i].reps > 2) {
            cand = *best;
            cand.a[i].reps = best->a[i].reps / 2;
            try_cand(k, &cand);
        }
    }
    if (best->a[i].by || best->a[i].ncuts || best->a[i].pause_ms) {
        cand = *best;
        cand.a[i].by = 0;
        cand.a[i].ncuts = 0;
        cand.a[i].pause_ms = 0;
        try_cand(k, &cand);
    }
    for (size_t c = 0; c < best->a[i].ncuts && budget(k); c++) {
        cand = *best;
        memmove(&cand.a[i].cuts[c], &cand.a[i].cuts[c + 1],
                (cand.a[i].ncuts - c - 1) * sizeof cand.a[i].cuts[0]);
        cand.a[i].ncuts--;
        try_cand(k, &cand);
    }
    if (best->a[i].pause_ms) {
        cand = *best;
        cand.a[i].pause_ms = 0;
        try_cand(k, &cand);
    }
    if (best->a[i].kind == A_SEND)
        for (size_t f = 0; best->a[i].nframes > 1 && f < best->a[i].nframes && budget(k); f++) {
            cand = *best;
            memmove(&cand.a[i].frames[f], &cand.a[i].frames[f + 1],
                    (cand.a[i].nframes - f - 1) * sizeof cand.a[i].frames[0]);
            cand.a[i].nframes--;
            try_cand(k, &cand);
        }
    /* a flood's frame size stays (the one before a SIGTERM's too): smaller frames only make it
     * slower (a server that buffers without bound takes a byte at a time as readily as a
     * frame) */
    for (size_t f = 0; f < best->a[i].nframes && best->a[i].kind != A_FLOOD &&
                       best->a[i].kind != A_TERM && budget(k);
         f++) {
        uint64_t v = best->a[i].frames[f];
        const uint64_t tries[] = {0, 1, v / 2, v - 1};
        if (best->a[i].kind == A_OVERSIZE) {
            if (v > t->max_payload + 1) {
                cand = *best;
                cand.a[i].frames[f] = t->max_payload + 1;
                try_cand(k, &cand);
            }
            continue;
        }
        for (size_t j = 0; j < 4 && budget(k); j++) {
            if (v == 0 || tries[j] >= best->a[i].frames[f])
                continue;
            if (best->a[i].kind != A_SEND && tries[j] == 0)
                continue;
            cand = *best;
            cand.a[i].frames[f] = tries[j];
            if (cand.a[i].partial >= wire_frame_size(t->framing, (size_t)tries[j]))
                cand.a[i].partial = tries[j] > 0 ? 1 : 0;
            try_cand(k, &cand);
        }
    }
    if (best->a[i].partial > 1) {
        cand = *best;
        cand.a[i].partial = best->a[i].partial / 2;
        try_cand(k, &cand);
    }
    if (best->a[i].kind == A_SILENCE && best->a[i].ms > 1 &&
        !(t->idle_s > 0 && best->a[i].ms > (long)(t->idle_s * 1000)) &&
        !(t->keepalive_s > 0 && best->a[i].ms >= (long)(t->keepalive_s * 1000) + 500)) {
        cand = *best;
        cand.a[i].ms = 1;
        try_cand(k, &cand);
    }
}

/* A program whose failure depends on how its writes reach the server (a header read in two
 * pieces or in one) fails now and then only, and each reduction of it would then be kept or
 * dropped by luck; a pause after each write of its sliced sends makes every write arrive alone
 * (TCP cannot merge them, and the server reads each before the next), which is what such a
 * failure needs. Tried first; kept when it keeps the verdict (shrinking tries the pauses out
 * again later, and the confirmations step back to a program with them when they were needed). */
static void stabilize(shrinker *k)
{
    fz_program cand = *k->best;
    const wire_framing *f = &k->w->cfg->t.framing;
    bool any = false;
    for (size_t i = 0; i < cand.n; i++) {
        fz_action *a = &cand.a[i];
        uint64_t bytes = 0, writes;
        if (a->kind != A_SEND || a->pause_ms || (a->by == 0 && a->ncuts == 0))
            continue;
        for (size_t j = 0; j < a->nframes; j++)
            bytes += wire_frame_size(*f, (size_t)a->frames[j]) * a->reps;
        writes = a->by ? bytes / a->by + 1 : a->ncuts + 1;
        if (writes <= 256) { /* 256 ms at most */
            a->pause_ms = 1;
            any = true;
        }
    }
    if (any)
        try_cand(k, &cand);
}

/* ddmin.h's operations on a program's actions. */
static size_t dd_count(void *ctx)
{
    return ((shrinker *)ctx)->best->n;
}

static int dd_attempt(void *ctx, size_t i, size_t n, bool only)
{
    shrinker *k = ctx;
    fz_program cand = *k->best;
    bool before = k->progress = false;
    if (only) {
        cand.a[0] = k->best->a[i];
        cand.n = 1;
    } else {
        memmove(&cand.a[i], &cand.a[i + n], (cand.n - i - n) * sizeof cand.a[0]);
        cand.n -= n;
    }
    try_cand(k, &cand);
    return k->failed ? -1 : k->progress != before;
}

static bool dd_budget(void *ctx)
{
    return budget(ctx);
}

/* Shrinks *best while it keeps the verdict want, within SHRINK_TRIALS runs and SHRINK_MS: each
 * action alone, then fewer actions (halving chunks: ddmin.c, the loop `framespec shrink` uses
 * too), then smaller values. Every program that kept it joins ch. */
static void shrink(worker *w, fz_program *best, const verdict *want, int *trials, chain *ch)
{
    shrinker k = {.w = w, .best = best, .want = want, .trials = trials, .ch = ch,
                  .end = sock_now_ms() + SHRINK_MS};
    static const dd_ops ops = {dd_count, dd_attempt, dd_budget};
    stabilize(&k);
    /* a program whose runs take seconds (a vanished peer, a long silence) shrinks in a few
     * trials: each action alone comes first */
    dd_reduce(&ops, &k);
    /* values, until a whole pass changes nothing */
    k.progress = true;
    while (k.progress && budget(&k)) {
        k.progress = false;
        for (size_t i = 0; i < best->n && budget(&k); i++)
            shrink_action(&k, i);
    }
}

/* ---- findings ---- */

static char *finding_text(worker *w, const fz_program *p, const verdict *v, const char *header,
                          size_t *len);
static int write_atomically(const char *path, const char *text, size_t len);

/* Run `framespec replay FILE` (this very binary) against a fresh server, as a user would, with
 * the campaign's --timeout-scale, until deadline_ms. Returns its exit status (0, 1, 2), or -1
 * when it could not run or was killed at the deadline; out[0..n) gets the start of its stdout. */
static int replay_once(worker *w, const char *file, int64_t deadline_ms, char *out, size_t n)
{
    char maxf[32], idle[32], scale[32], self[4096];
    int fds[2], st;
    size_t got = 0;
    pid_t pid;
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0 || pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    self[l] = '\0';
    snprintf(maxf, sizeof maxf, "%" PRIu64, w->cfg->max_frame);
    snprintf(idle, sizeof idle, "%g", w->cfg->t.idle_s);
    snprintf(scale, sizeof scale, "%g", w->cfg->t.scale);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        if (devnull >= 0)
            dup2(devnull, 2);
        /* the campaign's deadlines (--timeout-scale: a confirmation judges as the program's
         * run did); --idle-timeout last: without one, the list ends before it */
        execl(self, "framespec", "replay", file, "--max-frame", maxf, "--timeout", "120",
              "--timeout-scale", scale, w->cfg->exec ? "--exec" : "--target", w->cfg->exec ? w->cfg->exec : w->cfg->target,
              w->cfg->t.idle_s > 0 ? "--idle-timeout" : (char *)NULL, idle, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int64_t left = deadline_ms - sock_now_ms();
        ssize_t r;
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&pf, 1, left > 1000 ? 1000 : (int)left) <= 0)
            continue;
        r = read(fds[0], got + 1 < n ? out + got : (char[64]){0}, got + 1 < n ? n - 1 - got : 64);
        if (r <= 0)
            break;
        if (got + 1 < n)
            got += (size_t)r;
    }
    out[got < n ? got : n - 1] = '\0';
    close(fds[0]);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* How many of CONFIRM_RUNS `framespec replay` runs of p's finding file (every step, as
 * written) fail under v's requirement at v's failing step or a later one (a race that let the
 * failing step hold leaves the violation to a later step: finding_text()). -1 on a setup error. */
static int replay_confirms(worker *w, const fz_program *p, const verdict *v)
{
    char file[4096], want[4200], req[64], out[4096];
    size_t len;
    /* the file's lines: "# program:", "framing", then a line per step */
    unsigned long failing_line = (unsigned long)v->f.step + 3;
    char *text = finding_text(w, p, v, "", &len);
    int k = 0;
    if (text == NULL)
        return -1;
    snprintf(file, sizeof file, "%s/findings/.confirm-%d.scenario", w->cfg->out, (int)getpid());
    if (write_atomically(file, text, len) < 0) {
        free(text);
        return -1;
    }
    free(text);
    snprintf(want, sizeof want, "FAIL %s:", file);
    snprintf(req, sizeof req, "violated: %s (", v->req);
    for (int r = 0; r < CONFIRM_RUNS && !(g_stop && sock_now_ms() > stop_end()); r++) {
        int rc = replay_once(w, file, sock_now_ms() + (int64_t)(180000 * w->cfg->t.scale), out,
                             sizeof out);
        if (rc == 2)
            break; /* the script or the server's start failed: not a confirmation */
        k += rc == 1 && strncmp(out, want, strlen(want)) == 0 &&
             strtoul(out + strlen(want), NULL, 10) >= failing_line && strstr(out, req) != NULL;
    }
    unlink(file);
    return k;
}

static int write_atomically(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    int fd;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len || close(fd) < 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The scenario text of program p, with a header. Returns malloc'd text (caller frees). */
static char *finding_text(worker *w, const fz_program *p, const verdict *v, const char *header,
                          size_t *len)
{
    scenario s;
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    if (m == NULL)
        return NULL;
    fputs(header, m);
    fputs("# program: ", m);
    fz_encode(m, p, &w->cfg->t);
    fputc('\n', m);
    if (fz_derive(p, &w->cfg->t, &s, NULL, 0) == 0) {
        /* every step, not only those up to the one that failed: when a race lets that step
         * hold, a later one may still catch the violation (mutant_rst_close: the echoes of
         * 21 frames all arrive before its RST, which the `expect eof` after them then sees; a
         * file cut after `expect frame` passed 2 replays in 6, where its fuzz run's 3 failed) */
        if (v && v->f.step < s.n)
            /* the requirement as judged (where it stopped) */
            s.steps[v->f.step].req = fs_req_find(v->req, strlen(v->req));
        fprintf(m, "framing %s\n", wire_framing_name(&s.framing));
        for (size_t i = 0; i < s.n; i++) {
            sc_print_step(m, &s, &s.steps[i]);
            fputc('\n', m);
        }
        sc_free(&s);
    }
    fclose(m);
    return text;
}

/* Line breaks (and the spaces that end the text) become single spaces, in place. */
static void one_line(char *s)
{
    size_t n = 0;
    for (char *p = s; *p; p++)
        if (*p != '\r')
            s[n++] = *p == '\n' ? ' ' : *p;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    s[n] = '\0';
}

void handle_finding(worker *w, uint64_t index, const fz_program *orig, const verdict *first)
{
    fz_program best = *orig;
    char idle_opt[48] = "", scale_opt[48] = "";
    verdict v;
    int trials = 0, confirmed = 0, level;
    char sig[128], path[4096], pcap[4096], *header;
    uint64_t h;
    size_t len;
    char *text;
    struct stat sb;
    size_t lines_before = scenario_lines(orig, &w->cfg->t);
    int64_t t0 = sock_now_ms();

    level = fs_req_level(fs_req_find(first->req, strlen(first->req)));
    snprintf(sig, sizeof sig, "%s/%s/%d", first->req, first->what, first->kind);
    h = fnv1a(sig, strlen(sig), 0xcbf29ce484222325ull);
    snprintf(path, sizeof path, "%s/findings/%s-%016" PRIx64 ".scenario", w->cfg->out, first->req,
             h);
    if (stat(path, &sb) == 0) {
        /* the same requirement, violated the same way, is already a finding: no shrinking */
        w->rep.dups++;
        if (level == FS_SHOULD)
            w->rep.dups_should++;
        return;
    }
    {
        /* most reduced first; the first that fails CONFIRM_RUNS times of CONFIRM_RUNS wins; if
         * none does, the one that failed most often (flaky, and said so) */
        chain *ch = malloc(sizeof *ch);
        int best_k = 0;
        int64_t give_up;
        if (ch == NULL)
            return;
        ch->n = 0;
        chain_add(ch, orig);
        shrink(w, &best, first, &trials, ch);
        give_up = sock_now_ms() + 30000; /* stepping back: 30 s at most */
        for (size_t i = ch->n; i-- > 0 && best_k < CONFIRM_RUNS && sock_now_ms() < give_up;) {
            verdict shown;
            int k;
            /* the program's verdict here, on a fresh server (its failing step and requirement:
             * what a confirmation must see) */
            restart_server(w);
            if (run_program(w, &ch->p[i], &shown, NULL, false) != 1 || !same(&shown, first))
                continue;
            k = replay_confirms(w, &ch->p[i], &shown);
            if (k < 0) {
                free(ch);
                return;
            }
            if (k > best_k) {
                best_k = k;
                best = ch->p[i];
                v = shown;
            }
        }
        free(ch);
        confirmed = best_k;
        if (confirmed == 0)
            return; /* could not reproduce at all: not a finding */
    }
    /* a comment line each: a server's output quoted in them loses its line breaks */
    one_line(v.f.expected);
    one_line(v.f.actual);
    if (w->cfg->t.idle_s > 0)
        snprintf(idle_opt, sizeof idle_opt, " --idle-timeout %g", w->cfg->t.idle_s);
    if (w->cfg->t.scale != 1)
        snprintf(scale_opt, sizeof scale_opt, " --timeout-scale %g", w->cfg->t.scale);
    if (asprintf(&header,
             "# framespec fuzz finding: %s (%s) violated: %s\n"
             "# seed %" PRIu64 ", program %" PRIu64 "; shrunk from %zu to %zu scenario lines in %d "
             "trials (%.1f s); the same violation in %d of %d replays%s\n"
             "# expected: %s\n"
             "# observed: %s\n"
             "# replay:   framespec replay %s --max-frame %" PRIu64 "%s%s%s %s%s%s\n",
             first->req, level == FS_SHOULD ? "SHOULD" : "MUST", first->what, w->cfg->seed, index,
             lines_before, scenario_lines(&best, &w->cfg->t), trials,
             (double)(sock_now_ms() - t0) / 1000.0, confirmed, CONFIRM_RUNS,
             confirmed < CONFIRM_RUNS ? " (flaky)" : "", v.f.expected, v.f.actual,
             path, w->cfg->max_frame,
             w->cfg->t.idle_s * 1000 > SC_MAX_SLEEP_MS ? " --timeout 86400" : "", scale_opt, idle_opt,
             w->cfg->exec ? "--exec '" : "--target ",
             w->cfg->exec ? w->cfg->exec : w->cfg->target, w->cfg->exec ? "'" : "") < 0)
        return;
    text = finding_text(w, &best, &v, header, &len);
    free(header);
    if (stat(path, &sb) == 0) {
        /* another job wrote it while this one shrank (a corpus shared through --coverage
         * hands the same program to every job) */
        free(text);
        w->rep.dups++;
        if (level == FS_SHOULD)
            w->rep.dups_should++;
        return;
    }
    if (text == NULL || write_atomically(path, text, len) < 0) {
        fprintf(stderr, "framespec fuzz: cannot write %s: %s\n", path, strerror(errno));
        free(text);
        return;
    }
    free(text);
    /* the corpus: the shrunk program, by its own hash */
    {
        char *prog = NULL, cpath[4096];
        size_t plen = 0;
        FILE *m = open_memstream(&prog, &plen);
        if (m) {
            fz_encode(m, &best, &w->cfg->t);
            fclose(m);
            snprintf(cpath, sizeof cpath, "%s/corpus/%016" PRIx64 ".scenario", w->cfg->out,
                     fnv1a(prog, plen, 0xcbf29ce484222325ull));
            text = finding_text(w, &best, &v, "# framespec fuzz corpus entry\n", &len);
            if (text)
                write_atomically(cpath, text, len);
            free(text);
        }
        free(prog);
    }
    if (w->cfg->pcap && ensure_server(w) == 0) {
        pid_t cap;
        snprintf(pcap, sizeof pcap, "%.*s.pcap", (int)(strlen(path) - strlen(".scenario")), path);
        cap = capture_start(&w->env.addr, pcap, 0);
        if (cap > 0) {
            run_program(w, &best, &v, NULL, false);
            capture_stop(cap);
        }
    }
    w->rep.findings++;
    w->rep.last_confirmed = confirmed;
    if (level == FS_SHOULD)
        w->rep.should++;
    snprintf(w->rep.last, sizeof w->rep.last, "%s", strrchr(path, '/') + 1);
}

