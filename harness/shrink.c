/*
 * shrink.c — `framespec shrink SCENARIO (--exec CMD | --target ADDR)`: the fuzzer's delta
 * debugging (ddmin.c, the same loop `framespec fuzz` shrinks its programs with) for any
 * scenario file and any server: an import, a reproducer, a hand-written script. A candidate is
 * kept only when it fails the same way as the original: the same requirement, the same kind of
 * failure ("mismatch", "short-RST", "dead" ...) at the same kind of step. Then smaller payloads
 * (every copy of a payload on its connection at once, so an echo still matches what was sent),
 * then CONFIRM replays of the shortest; if it does not fail every time, the reductions before
 * it are confirmed in turn, as the fuzzer does (fuzz.c handle_finding()).
 *
 * Each run gets a fresh server (--exec: started, then stopped); with --target the server is
 * the user's, and a run that killed it makes every later candidate fail to connect (not kept).
 *
 * A scenario's expectations are literal, so a reduction can fail for a reason of its own (a
 * send removed, its echo still awaited) that looks the same. So a candidate is kept only when a
 * correct server passes it too: --reference CMD, by default the echod installed beside framespec
 * (an echo scenario); --no-reference for a protocol without one (the result is then only as
 * sound as the signature).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddmin.h"
#include "fs.h"
#include "opts.h"
#include "scenario.h"
#include "server.h"
#include "sock.h"

#define SHRINK_CONFIRM 3     /* replays of the result, each must fail the same way */
#define SHRINK_CHAIN 16      /* the last reductions kept, to step back to */
#define SHRINK_TRIALS_MAX 2000

typedef struct {
    fs_req req;
    char what[32];
    sc_kind kind;
} signature;

typedef struct {
    opts_server so;
    const char *file, *out, *keep;
    char *reference;     /* --reference CMD (owned), or NULL (--no-reference) */
    unsigned starts;     /* server starts so far (each start's log replaces the last's) */
    double seconds;
    int verbose;
    /* the best scenario so far, and the reductions accepted (texts, oldest first) */
    scenario best;
    char *chain[SHRINK_CHAIN];
    size_t nchain;
    signature want;
    unsigned trials;
    int64_t end;
    bool failed;
} shrinker;

static void usage(FILE *out)
{
    fputs("usage: framespec shrink SCENARIO (--target HOST:PORT | --exec 'CMD ... {port} ...')\n"
          "                        [-o OUT] [--keep REQ-ID] [--seconds S] [--max-frame BYTES]\n"
          "                        [--timeout-scale X] [--idle-timeout S] [-v]\n"
          "\n"
          "Make a failing scenario (an import, a reproducer, a hand-written script) as short as\n"
          "it can be while it fails the same way: the same requirement, the same kind of\n"
          "failure at the same kind of step. Steps are removed by delta debugging (the loop\n"
          "framespec fuzz shrinks its findings with), then payloads made smaller; the result\n"
          "must fail 3 replays of 3 (else the reduction before it is tried).\n"
          "\n"
          "  -o FILE            write the result there (default: stdout)\n"
          "  --keep REQ-ID      the requirement the original must violate, and every reduction\n"
          "  --seconds S        stop reducing after S seconds (default 300)\n"
          "  --reference CMD    a correct server ('CMD ... {port} ...'), which every reduction\n"
          "                     must pass (default: the echod beside framespec)\n"
          "  --no-reference     none (a protocol echod does not speak): a reduction may then\n"
          "                     fail any server\n"
          "  --exec, --target, --max-frame, --timeout-scale, --idle-timeout: as replay's\n"
          "\n"
          "Exit 0: written; 1: the scenario passes (nothing to shrink) or fails otherwise than\n"
          "--keep says; 2: usage, script error or an unreachable server.\n",
          out);
}

static int parse_args(int argc, char **argv, shrinker *k)
{
    static const struct option lo[] = {
        OPTS_SERVER_LONG,
        {"output", required_argument, NULL, 'o'}, {"keep", required_argument, NULL, 'k'},
        {"seconds", required_argument, NULL, 's'}, {"verbose", no_argument, NULL, 'v'},
        {"reference", required_argument, NULL, 'r'}, {"no-reference", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int ch, rc;
    bool none = false;
    opts_server_init(&k->so);
    k->seconds = 300;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
        rc = opts_server_take("shrink", ch, optarg, &k->so);
        if (rc == 2)
            return 2;
        if (rc == 1)
            continue;
        switch (ch) {
        case 'o': k->out = optarg; break;
        case 'r':
            free(k->reference);
            k->reference = strdup(optarg);
            break;
        case 'R': none = true; break;
        case 'v': k->verbose++; break;
        case 'k':
            if (fs_req_find(optarg, strlen(optarg)) == REQ_NONE)
                return opts_bad("shrink", "--keep", optarg, "not a requirement id of "
                                "docs/spec.md (framespec list --requirements)");
            k->keep = optarg;
            break;
        case 's':
            if (opts_seconds(optarg, &k->seconds) < 0 || k->seconds <= 0)
                return opts_bad("shrink", "--seconds", optarg, "expected seconds > 0");
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            fprintf(stderr, "framespec shrink: unknown option or missing value '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || (k->so.target == NULL && k->so.exec == NULL)) {
        fprintf(stderr, "framespec shrink: %s\n", optind != argc - 1 ? "one scenario file"
                : "which server? --exec 'CMD ... {port} ...' or --target HOST:PORT");
        usage(stderr);
        return 2;
    }
    k->file = argv[optind];
    if (none) {
        free(k->reference);
        k->reference = NULL;
    } else if (k->reference == NULL) {
        /* the echod installed beside this binary (bin/framespec, bin/echod) */
        char self[4096];
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 16);
        char *slash = l > 0 ? (self[l] = '\0', strrchr(self, '/')) : NULL;
        if (slash)
            memcpy(slash + 1, "echod", sizeof "echod"); /* room: readlink left 16 bytes */
        if (slash == NULL || access(self, X_OK) != 0 ||
            asprintf(&k->reference, "%s --listen 127.0.0.1:{port} --max-frame %" PRIu64, self,
                     k->so.max_frame) < 0) {
            k->reference = NULL;
            fprintf(stderr, "framespec shrink: no echod beside framespec to check reductions "
                            "against: give --reference 'CMD ... {port} ...' (a correct server), "
                            "or --no-reference\n");
            return 2;
        }
    }
    return 0;
}

/* The text of s's steps, except [skip, skip + nskip) (only: step `only` alone). malloc'd. */
static char *text_of(const scenario *s, size_t skip, size_t nskip, long only)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        return NULL;
    fprintf(m, "framing %s\n", wire_framing_name(&s->framing));
    for (size_t i = 0; i < s->n; i++) {
        if (s->steps[i].kind == SC_FRAMING || (only >= 0 ? (long)i != only
                                                         : i >= skip && i < skip + nskip))
            continue;
        sc_print_step(m, s, &s->steps[i]);
        fputc('\n', m);
    }
    fclose(m);
    return text;
}

/* Parse text into s. 0, or -1 with s freed (what the parser had appended is the caller's to
 * free otherwise: scenario.h). */
static int parse_text(const shrinker *k, const char *text, scenario *s, FILE *err)
{
    sc_init(s);
    s->payload_bound = k->so.max_payload;
    s->long_sleeps = true;
    if (sc_parse_buf(s, "candidate", text, strlen(text), err) == 0)
        return 0;
    sc_free(s);
    return -1;
}

/* One run of s against a fresh server (--exec) or the target. 1 failed (*f), 0 held, -1 the
 * server could not be started or reached. */
static int run_once(shrinker *k, const char *exec, const scenario *s, sc_failure *f)
{
    server_proc srv = {.starts = k->starts};
    sc_server ops;
    sc_env env = {.inbox_min = 64u << 20, .quiet = true, .scale = k->so.scale,
                  .idle_ms = (int64_t)(k->so.idle_s * 1000 + 0.5), .verbose = k->verbose > 1};
    int rc;
    char err[256];
    memset(f, 0, sizeof *f);
    if (exec == NULL && sock_parse_addr(k->so.target, &env.addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec shrink: --target: %s\n", err);
        return -1;
    }
    if (exec) {
        if (server_start(&srv, exec, NULL, k->so.scale) < 0)
            return -1;
        k->starts = srv.starts;
        env.addr = srv.addr;
        sc_server_local(&ops, &srv);
        env.srv = &ops;
    }
    rc = sc_run(s, &env, k->file, f);
    if (exec)
        server_stop(&srv, NULL);
    return rc == 2 ? -1 : rc;
}

static bool same(const shrinker *k, const scenario *s, const sc_failure *f)
{
    return f->req == k->want.req && !strcmp(f->what, k->want.what) && f->step < s->n &&
           s->steps[f->step].kind == k->want.kind;
}

/* Does the reference server (a correct one) pass s? Always, without one. */
static bool passes_reference(shrinker *k, const scenario *s)
{
    sc_failure f;
    return k->reference == NULL || run_once(k, k->reference, s, &f) == 0;
}

static bool budget(void *ctx)
{
    const shrinker *k = ctx;
    return !k->failed && k->trials < SHRINK_TRIALS_MAX && sock_now_ms() < k->end;
}

/* Try the scenario `text`: kept (the best, and in the chain) when it fails the same way. 1 kept,
 * 0 not, -1 the server could not be run. Takes text. */
static int try_text(shrinker *k, char *text)
{
    scenario s;
    sc_failure f;
    FILE *null = fopen("/dev/null", "w");
    int rc;
    if (text == NULL || null == NULL ||
        (k->nchain > 0 && !strcmp(text, k->chain[k->nchain - 1])) || /* no change */
        parse_text(k, text, &s, null) < 0) {
        if (null)
            fclose(null);
        free(text);
        return 0; /* a reduction that is no script (a connection used before its connect) */
    }
    fclose(null);
    k->trials++;
    rc = run_once(k, k->so.exec, &s, &f);
    if (rc == 1 && same(k, &s, &f) && passes_reference(k, &s)) {
        sc_free(&k->best);
        k->best = s;
        if (k->nchain == SHRINK_CHAIN) {
            free(k->chain[1]); /* keep the original */
            memmove(&k->chain[1], &k->chain[2], (SHRINK_CHAIN - 2) * sizeof k->chain[0]);
            k->nchain--;
        }
        k->chain[k->nchain++] = text;
        if (k->verbose)
            fprintf(stderr, "framespec shrink: trial %u: %zu steps\n", k->trials, s.n);
        return 1;
    }
    sc_free(&s);
    free(text);
    if (rc < 0)
        k->failed = true;
    return rc < 0 ? -1 : 0;
}

static size_t dd_count(void *ctx)
{
    return ((shrinker *)ctx)->best.n;
}

static int dd_attempt(void *ctx, size_t i, size_t n, bool only)
{
    shrinker *k = ctx;
    return try_text(k, text_of(&k->best, i, n, only ? (long)i : -1));
}

/* Is item b's payload the same as a's (kind, length, bytes)? */
static bool same_payload(const sc_payload *a, const sc_payload *b)
{
    return a->kind == b->kind && a->len == b->len &&
           (a->kind != SC_P_BYTES || a->len == 0 || !memcmp(a->bytes, b->bytes, (size_t)a->len));
}

/* Every item on connection conn whose payload is `from` (a copy) becomes size:len (text:len
 * under line framing). */
static void substitute(scenario *s, int conn, const sc_payload *from, uint64_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        sc_step *st = &s->steps[i];
        if (st->conn != conn)
            continue;
        for (size_t j = 0; j < st->nitems; j++) {
            sc_payload *p = &st->items[j].p;
            if (!same_payload(p, from))
                continue;
            free(p->bytes);
            p->bytes = NULL;
            p->kind = wire_is_line(s->framing) ? SC_P_TEXT : SC_P_SIZE;
            p->len = len;
        }
    }
}

/* Smaller payloads: each payload sent, with every copy of it on its connection (its echo, its
 * repeats), as 1 byte, then half its length, until a pass changes nothing. */
static void smaller_payloads(shrinker *k)
{
    bool progress = true;
    while (progress && budget(k)) {
        progress = false;
        for (size_t i = 0; i < k->best.n && budget(k); i++) {
            for (size_t j = 0; j < k->best.steps[i].nitems && budget(k); j++) {
                const sc_step *st = &k->best.steps[i];
                sc_payload from = st->items[j].p;
                const uint64_t lens[] = {1, from.len / 2};
                if (st->kind != SC_SEND || from.len <= 1 || !st->items[j].framed)
                    continue;
                if (from.kind == SC_P_BYTES) {
                    /* a copy: the best scenario (and its items) change when one is kept */
                    if ((from.bytes = malloc((size_t)from.len)) == NULL)
                        continue;
                    memcpy(from.bytes, st->items[j].p.bytes, (size_t)from.len);
                } else
                    from.bytes = NULL;
                for (size_t l = 0; l < 2 && budget(k); l++) {
                    scenario cand;
                    char *text;
                    if (lens[l] == 0 || lens[l] >= from.len || (l == 1 && lens[1] == lens[0]) ||
                        sc_copy(&cand, &k->best) < 0)
                        continue;
                    substitute(&cand, st->conn, &from, lens[l]);
                    text = text_of(&cand, 0, 0, -1);
                    sc_free(&cand);
                    if (try_text(k, text) == 1) {
                        progress = true;
                        break;
                    }
                }
                free(from.bytes);
            }
        }
    }
}

/* Replays of the result, and the reductions before it, newest first: the first that fails the
 * same way every time is written. Returns its chain index, or -1 (none: flaky all along). */
static long confirm(shrinker *k)
{
    for (size_t c = k->nchain; c-- > 0;) {
        scenario s;
        FILE *null = fopen("/dev/null", "w");
        int n = 0, runs;
        if (null == NULL)
            return -1;
        if (parse_text(k, k->chain[c], &s, null) < 0) {
            fclose(null);
            continue;
        }
        fclose(null);
        for (runs = 0; runs < SHRINK_CONFIRM; runs++) {
            sc_failure f;
            if (run_once(k, k->so.exec, &s, &f) == 1 && same(k, &s, &f))
                n++;
            else
                break;
        }
        sc_free(&s);
        if (n == SHRINK_CONFIRM)
            return (long)c;
    }
    return -1;
}

static int write_result(const shrinker *k, long c, size_t steps_before, int64_t t0)
{
    scenario s;
    FILE *out = k->out ? fopen(k->out, "w") : stdout, *null = fopen("/dev/null", "w");
    size_t steps = 0;
    if (null && parse_text(k, k->chain[c], &s, null) == 0) {
        steps = s.n;
        sc_free(&s);
    }
    if (null)
        fclose(null);
    if (out == NULL) {
        fprintf(stderr, "framespec shrink: cannot write %s: %s\n", k->out, strerror(errno));
        return 2;
    }
    fprintf(out, "# framespec shrink of %s: %zu steps to %zu in %u trials (%.1f s); violated %s "
            "(%s): %s; the same in %d of %d replays\n", k->file, steps_before, steps, k->trials,
            (double)(sock_now_ms() - t0) / 1000.0, fs_req_id(k->want.req),
            fs_req_level(k->want.req) == FS_SHOULD ? "SHOULD" : "MUST", k->want.what,
            SHRINK_CONFIRM, SHRINK_CONFIRM);
    fputs(k->chain[c], out);
    if (k->out && fclose(out) != 0) {
        fprintf(stderr, "framespec shrink: cannot write %s: %s\n", k->out, strerror(errno));
        return 2;
    }
    if (k->out)
        fprintf(stderr, "framespec shrink: wrote %s (%zu steps, from %zu)\n", k->out, steps,
                steps_before);
    return 0;
}

int shrink_main(int argc, char **argv)
{
    shrinker k;
    sc_failure f;
    scenario orig;
    static const dd_ops ops = {dd_count, dd_attempt, budget};
    int rc;
    long c;
    size_t before;
    int64_t t0 = sock_now_ms();
    memset(&k, 0, sizeof k);
    rc = parse_args(argc, argv, &k);
    if (rc == 0 && opts_server_finish("shrink", &k.so) != 0)
        rc = 2;
    if (rc != 0) {
        free(k.reference);
        return rc < 0 ? 0 : rc;
    }
    sc_init(&orig);
    orig.framing = k.so.framing;
    orig.payload_bound = k.so.max_payload;
    orig.long_sleeps = true;
    if (sc_parse_file(&orig, k.file, stderr) < 0) {
        sc_free(&orig);
        free(k.reference);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run_once(&k, k.so.exec, &orig, &f);
    if (rc == 0)
        fprintf(stderr, "framespec shrink: %s passes against this server: nothing to shrink\n",
                k.file);
    else if (rc == 1 && k.keep && f.req != fs_req_find(k.keep, strlen(k.keep))) {
        fprintf(stderr, "framespec shrink: %s fails %s (%s), not --keep %s\n", k.file,
                fs_req_id(f.req), f.what, k.keep);
        rc = 0;
    } else if (rc == 1 && !passes_reference(&k, &orig)) {
        fprintf(stderr, "framespec shrink: %s fails the reference server too (%s): it expects "
                        "what a correct server does not do (--reference CMD names a correct "
                        "server; --no-reference shrinks without one)\n", k.file, k.reference);
        rc = -1;
    }
    if (rc != 1) {
        sc_free(&orig);
        free(k.reference);
        return rc == 0 ? 1 : 2;
    }
    k.want.req = f.req;
    snprintf(k.want.what, sizeof k.want.what, "%s", f.what);
    k.want.kind = orig.steps[f.step].kind;
    fprintf(stderr, "framespec shrink: %s fails %s (%s) at line %d: shrinking\n", k.file,
            fs_req_id(f.req), f.what, orig.steps[f.step].line);
    before = orig.n;
    k.chain[0] = text_of(&orig, 0, 0, -1);
    k.nchain = k.chain[0] != NULL;
    k.best = orig;
    k.end = sock_now_ms() + (int64_t)(k.seconds * 1000);
    dd_reduce(&ops, &k);
    smaller_payloads(&k);
    c = confirm(&k);
    if (c < 0) {
        fprintf(stderr, "framespec shrink: no reduction (nor the original) failed %d replays of "
                        "%d the same way: a failure of timing; try replay --repeat\n",
                SHRINK_CONFIRM, SHRINK_CONFIRM);
        rc = 1;
    } else
        rc = write_result(&k, c, before, t0);
    sc_free(&k.best);
    for (size_t i = 0; i < k.nchain; i++)
        free(k.chain[i]);
    free(k.reference);
    return rc;
}
