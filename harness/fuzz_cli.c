/*
 * fuzz_cli.c — `framespec fuzz`'s command: its options (the shared ones are opts.h's), the
 * output directory and corpus, and the campaign: the workers forked (fuzz.c runs each), their
 * reports read, progress printed, --until and --max-findings applied, the summary and the exit
 * code. See fuzz.h and docs/fuzzing.md.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_int.h"
#include "netns.h"
#include "opts.h"
#include "scratch.h"

/* ---- the corpus ---- */

/* Read the DIR/corpus scenarios (the programs in their "# program:" lines) into cfg->corpus. */
static void fz_load_corpus(config *cfg)
{
    char dir[4096];
    DIR *d;
    struct dirent *e;
    snprintf(dir, sizeof dir, "%s/corpus", cfg->out);
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL && cfg->ncorpus < MAX_CORPUS) {
        char path[4400], line[4096];
        FILE *f;
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 9, ".scenario") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "# program: ", 11) == 0) {
                fz_program p;
                if (fz_decode(line + 11, &cfg->t, &p) == 0) {
                    fz_program *nc = realloc(cfg->corpus, (cfg->ncorpus + 1) * sizeof *nc);
                    if (nc) {
                        cfg->corpus = nc;
                        cfg->corpus[cfg->ncorpus++] = p;
                    }
                }
                break;
            }
        fclose(f);
    }
    closedir(d);
}

/* mkdir -p: the directory and any missing parents. Returns 0 or -1 (printed). */
static int fz_make_dir(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "framespec fuzz: cannot create %s: %s\n", p, strerror(errno));
                return -1;
            }
            *s = '/';
        }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "framespec fuzz: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

bool fz_until_matches(const char *list, const char *name)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l > 0 && strncmp(name, p, l) == 0 && (p[l - 1] == '-' || name[l] == '-'))
            return true;
        p += l + (comma ? 1 : 0);
    }
    return false;
}

/* ---- the command ---- */

static void usage(FILE *out)
{
    fputs("usage: framespec fuzz (--target HOST:PORT | --exec 'CMD ... {port} ...')\n"
          "                      [--framing F] [--max-frame BYTES] [--idle-timeout S]\n"
          "                      [--keepalive I,N,C] [--user-timeout MS]\n"
          "                      [--seconds S | --runs N] [--seed N]\n"
          "                      [--jobs J] [--concurrency N] [--coverage afl|afl-blind]\n"
          "                      [--out DIR] [--pcap]\n"
          "                      [--timeout-scale X]\n"
          "                      [--until REQ,...] [--max-findings N] [-v]\n"
          "\n"
          "Stateful fuzzing over real sockets: random programs on one to three connections\n"
          "(boundary sizes, random slicing and pauses, coalesced bursts, a peer that stops\n"
          "reading, SHUT_WR at a boundary or mid-frame, RST, close with echoes in flight,\n"
          "oversized headers, silence, ping-pong, a flood from a peer that does not read and,\n"
          "with --exec, SIGTERM and restarts), judged by an oracle that cites docs/spec.md. A\n"
          "violation is shrunk, confirmed by 3 `framespec replay` runs and written as a replay\n"
          "file.\n"
          "\n"
          "  --framing F        the server's framing (default 4; any of docs/spec.md, Framings:\n"
          "                     u24, u32le, varint, 4,adjust=-4,limit=frame, ...)\n"
          "  --max-frame BYTES  the server's largest payload, or whole frame with limit=frame\n"
          "                     (default 16M; K/M/G ok)\n"
          "  --idle-timeout S   the server's idle timeout: silences past it must end in FIN\n"
          "  --keepalive I,N,C  the server's TCP keepalive (TCP_KEEPIDLE s, TCP_KEEPINTVL s,\n"
          "                     TCP_KEEPCNT): silences past I + N x C must not close a peer\n"
          "  --user-timeout MS  the server's TCP_USER_TIMEOUT. With --exec, a TCP server and\n"
          "                     root, this or --keepalive (or --idle-timeout) lets peers\n"
          "                     vanish (nftables, in a network namespace of framespec's):\n"
          "                     the server must release them within its promise\n"
          "  --seconds S        run for S seconds (default 60)\n"
          "  --runs N           run N programs instead (with --seed: the same N programs)\n"
          "  --seed N           programs come from this seed (default 1)\n"
          "  --jobs J           J workers; with --exec each has its own server (default 1)\n"
          "  --concurrency N    programs at once per job, against its server (default 1: one\n"
          "                     at a time; 32 for a server with an idle timeout, whose\n"
          "                     silences would stall a job). A program that SIGTERMs or\n"
          "                     restarts the server, or makes a peer vanish, runs alone; a\n"
          "                     failure beside others is judged again alone before it counts\n"
          "  --coverage afl     (--exec) guidance from the server's own coverage: a server\n"
          "                     built with AFL++'s afl-clang-fast or afl-cc writes its edges\n"
          "                     to a map of framespec's; programs that reach new edges join\n"
          "                     a corpus, and most programs are mutations of them, chosen\n"
          "                     towards rare edges. One program at a time per server:\n"
          "                     --concurrency N runs N servers per job. Edges over time in\n"
          "                     DIR/coverage.csv\n"
          "  --coverage afl-blind  edges counted, programs as without guidance (to compare)\n"
          "  --out DIR          findings and corpus (default fuzz-out): DIR/findings/*.scenario,\n"
          "                     DIR/corpus/*.scenario; share DIR to merge campaigns\n"
          "  --pcap             capture each finding's confirmed replay as DIR/findings/*.pcap\n"
          "  --timeout-scale X  multiply the oracle's deadlines (slow servers, sanitizers)\n"
          "  --max-findings N   stop after N new findings\n"
          "  --until REQ,...    stop at a confirmed finding (3 of 3 replays) under one of these\n"
          "                     requirement ids or prefixes (HALFCLOSE-1, LIMITS-)\n"
          "\n"
          "Exit 0: no MUST finding (SHOULD findings are warnings); 1: MUST findings, or (with\n"
          "--concurrency) the server died beside other programs; 2: usage or setup error (the\n"
          "server does not start, DIR cannot be written).\n",
          out);
}

/* The options of fuzz's own (the shared ones are opts.h's). Returns 1 taken, 2 a bad value,
 * 0 not one of them. */
static int take_fuzz_option(config *cfg, int ch, const char *arg, bool *seconds_given)
{
    uint64_t v;
    switch (ch) {
    case 'o': cfg->out = arg; return 1;
    case 'p': cfg->pcap = true; return 1;
    case 'v': cfg->verbose++; return 1;
    case 'U': cfg->until = arg; return 1;
    case 's':
        if (opts_seconds(arg, &cfg->seconds) < 0 || cfg->seconds <= 0)
            return opts_bad("fuzz", "--seconds", arg, "expected seconds > 0");
        *seconds_given = true;
        return 1;
    case 'r':
        if (opts_u64(arg, 1, UINT64_MAX / 2, &cfg->runs) < 0)
            return opts_bad("fuzz", "--runs", arg, "expected a count >= 1");
        return 1;
    case 'j':
        if (opts_u64(arg, 1, MAX_JOBS, &v) < 0)
            return opts_bad("fuzz", "--jobs", arg, "expected 1..64");
        cfg->jobs = (unsigned)v;
        return 1;
    case 'C':
        if (opts_u64(arg, 1, MAX_CONCURRENCY, &v) < 0)
            return opts_bad("fuzz", "--concurrency", arg, "expected programs at once 1..1024");
        cfg->concurrency = (unsigned)v;
        return 1;
    case 'K': {
        int ka[3];
        if (opts_keepalive(arg, ka) < 0)
            return opts_bad("fuzz", "--keepalive", arg,
                            "expected IDLE,INTVL,CNT (seconds, seconds, probes: 1..32767)");
        cfg->t.keepalive_s = ka[0] + (double)ka[1] * ka[2];
        memcpy(cfg->t.keepalive, ka, sizeof ka);
        return 1;
    }
    case 'u':
        if (opts_u64(arg, 1, 2147483647, &v) < 0)
            return opts_bad("fuzz", "--user-timeout", arg, "expected milliseconds 1..2147483647");
        cfg->t.user_timeout_ms = (int64_t)v;
        return 1;
    case 'G':
        if (cov_parse_mode(arg, &cfg->coverage) < 0)
            return opts_bad("fuzz", "--coverage", arg, "expected afl or afl-blind");
        return 1;
    case 'M':
        if (opts_u64(arg, 1, 1000000, &v) < 0)
            return opts_bad("fuzz", "--max-findings", arg, "expected a count >= 1");
        cfg->max_findings = (unsigned)v;
        return 1;
    default:
        return 0;
    }
}

/* What the options say together; --max-frame clamped (opts_server_finish()) and taken as the
 * largest payload (under limit=frame, the largest whose whole frame fits). Returns 0, or 2
 * after printing why. */
static int check_fuzz_options(config *cfg, opts_server *so, bool seconds_given)
{
    if ((so->target == NULL) == (so->exec == NULL)) {
        fprintf(stderr, "framespec fuzz: give exactly one of --target and --exec\n");
        usage(stderr);
        return 2;
    }
    cfg->t.idle_s = so->idle_s;
    if (cfg->runs && seconds_given) {
        fprintf(stderr, "framespec fuzz: give --seconds or --runs, not both\n");
        return 2;
    }
    if (cfg->coverage != COV_NONE && so->exec == NULL) {
        fprintf(stderr, "framespec fuzz: --coverage needs --exec: framespec starts the "
                        "instrumented server and hands it its coverage map\n");
        return 2;
    }
    if (cfg->coverage != COV_NONE && cfg->concurrency > 1) {
        /* a server instance runs one program at a time, so that a program's edges are its own:
         * N at once per job are N servers, each driven by a worker process of its own */
        if (cfg->jobs * cfg->concurrency > MAX_JOBS) {
            fprintf(stderr, "framespec fuzz: --coverage with --jobs %u --concurrency %u runs %u "
                            "servers, one program at a time each: at most %d\n", cfg->jobs,
                    cfg->concurrency, cfg->jobs * cfg->concurrency, MAX_JOBS);
            return 2;
        }
        cfg->servers_per_job = cfg->concurrency;
        cfg->jobs *= cfg->concurrency;
        cfg->concurrency = 1;
    }
    if (so->exec && cfg->jobs > 1 && strstr(so->exec, "{port}") == NULL) {
        fprintf(stderr, "framespec fuzz: --jobs %u with --exec needs {port} in the command: each "
                        "job starts its own server on its own port\n", cfg->jobs);
        return 2;
    }
    if (opts_server_finish("fuzz", so) != 0)
        return 2;
    if (so->max_payload < 5) {
        fprintf(stderr, "framespec fuzz: --max-frame %" PRIu64 " leaves %" PRIu64 " bytes of "
                        "payload, below the 5 a fresh connection is probed with\n",
                so->max_frame, so->max_payload);
        return 2;
    }
    cfg->target = so->target;
    cfg->exec = so->exec;
    cfg->t.framing = so->framing;
    cfg->t.max_payload = so->max_payload;
    cfg->max_frame = so->max_frame;
    cfg->t.scale = so->scale;
    if (so->seed_given)
        cfg->seed = so->seed;
    if (wire_is_raw(cfg->t.framing) && cfg->t.idle_s > 0)
        fprintf(stderr, "framespec fuzz: note: raw framing has no keepalive frame, so the "
                        "programs' silences stay short of --idle-timeout\n");
    cfg->t.exec = cfg->exec != NULL;
    return 0;
}

static int parse_fuzz(int argc, char **argv, config *cfg, opts_server *so)
{
    static const struct option lo[] = {
        OPTS_SERVER_LONG,
        {"seconds", required_argument, NULL, 's'},  {"runs", required_argument, NULL, 'r'},
        {"jobs", required_argument, NULL, 'j'},     {"out", required_argument, NULL, 'o'},
        {"concurrency", required_argument, NULL, 'C'},
        {"coverage", required_argument, NULL, 'G'},
        {"pcap", no_argument, NULL, 'p'},           {"max-findings", required_argument, NULL, 'M'},
        {"until", required_argument, NULL, 'U'},    {"keepalive", required_argument, NULL, 'K'},
        {"user-timeout", required_argument, NULL, 'u'},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool seconds_given = false;
    int ch, rc;
    opts_server_init(so);
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        rc = opts_server_take("fuzz", ch, optarg, so);
        if (rc == 0)
            rc = take_fuzz_option(cfg, ch, optarg, &seconds_given);
        if (rc == 2)
            return 2;
        if (rc == 0) {
            fprintf(stderr, "framespec fuzz: unknown option or missing value '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "framespec fuzz: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return check_fuzz_options(cfg, so, seconds_given);
}

/* Before the workers: a namespace where peers may vanish (with --exec and a keepalive or user
 * timeout promise), a reachable --target, the output directories, the corpus. 0, or 2. */
static int set_up_fuzz(config *cfg)
{
    char dir[4200];
    if (cfg->exec && (cfg->t.keepalive[0] > 0 || cfg->t.user_timeout_ms > 0)) {
        /* peers that vanish need the server in a namespace of ours, where nftables rules drop
         * a connection's packets: entered now, before any server or worker starts */
        const char *why = netns_unavailable();
        char nerr[512];
        int rc_ns = why ? -2 : netns_enter(0, nerr, sizeof nerr);
        if (rc_ns == 0)
            cfg->t.netns = true;
        else if (rc_ns == -1) {
            fprintf(stderr, "framespec fuzz: cannot set up a network namespace: %s\n", nerr);
            return 2;
        } else
            fprintf(stderr, "framespec fuzz: note: no peers vanish in this campaign (DEADPEER-1, "
                            "-2, -5): %s\n", why ? why : nerr);
    }
    if (cfg->target) {
        /* an unreachable target is a setup error, not a finding */
        sock_addr a;
        char err[256];
        int fd;
        if (sock_parse_addr(cfg->target, &a, err, sizeof err) < 0) {
            fprintf(stderr, "framespec fuzz: --target: %s\n", err);
            return 2;
        }
        fd = sock_connect(&a, sock_now_ms() + 5000);
        if (fd < 0) {
            fprintf(stderr, "framespec fuzz: cannot connect to %s: %s\n", a.text,
                    sock_errno_name(-fd));
            return 2;
        }
        close(fd);
    }
    snprintf(dir, sizeof dir, "%s/findings", cfg->out);
    if (fz_make_dir(cfg->out) < 0 || fz_make_dir(dir) < 0)
        return 2;
    snprintf(dir, sizeof dir, "%s/corpus", cfg->out);
    if (fz_make_dir(dir) < 0)
        return 2;
    fz_load_corpus(cfg);
    if (cfg->coverage != COV_NONE) {
        size_t need;
        char why[600];
        if (cov_check_exec(cfg->exec, &need, why, sizeof why) < 0) {
            fprintf(stderr, "framespec fuzz: --coverage %s: %s\n",
                    cov_mode_name(cfg->coverage), why);
            return 2;
        }
        cfg->cov = cov_shared_new(need, cfg->coverage);
        if (cfg->cov == NULL)
            return 2;
        snprintf(dir, sizeof dir, "%s/coverage.csv", cfg->out);
        cfg->cov_csv = fopen(dir, "w");
        if (cfg->cov_csv == NULL) {
            fprintf(stderr, "framespec fuzz: cannot write %s: %s\n", dir, strerror(errno));
            return 2;
        }
        fprintf(cfg->cov_csv, "seconds,programs,edges,corpus,findings\n");
        fprintf(stderr, "framespec fuzz: --coverage %s: the server's map is %zu bytes\n",
                cov_mode_name(cfg->coverage), need);
    }
    return 0;
}

/* The campaign's state in the parent: the workers' pids and last reports. */
typedef struct {
    config *cfg;
    pid_t pids[MAX_JOBS];
    report last[MAX_JOBS];
    int fd;              /* the read end of the workers' reports */
    int64_t t0;
    bool fork_failed;
} campaign;

/* Fork the workers (each with its own server under --exec). */
static void start_workers(campaign *c, int fds[2])
{
    config *cfg = c->cfg;
    for (unsigned j = 0; j < cfg->jobs; j++) {
        worker w;
        pid_t pid;
        memset(&w, 0, sizeof w);
        w.cfg = cfg;
        w.id = j;
        w.report_fd = fds[1];
        w.rep.worker = j;
        w.deadline_ms = c->t0 + (int64_t)(cfg->seconds * 1000);
        pid = fork();
        c->pids[j] = pid > 0 ? pid : 0;
        if (pid < 0) {
            perror("framespec fuzz: fork");
            c->fork_failed = true;
            g_stop = 1;
            return;
        }
        if (pid == 0) {
            int rc;
            close(fds[0]);
            rc = fz_worker_main(&w);
            scratch_cleanup();
            _exit(rc);
        }
    }
}

/* A worker's report r: new findings said, --until and --max-findings applied. Returns true
 * when that worker is done. */
static bool take_report(campaign *c, const report *r)
{
    config *cfg = c->cfg;
    bool fresh = r->findings > c->last[r->worker].findings;
    double t = (double)(sock_now_ms() - c->t0) / 1000;
    if (fresh && r->last_confirmed < CONFIRM_RUNS)
        fprintf(stderr, "framespec fuzz: %.1f s: finding: %s/findings/%s (flaky: %d of %d "
                        "replays)\n", t, cfg->out, r->last, r->last_confirmed, CONFIRM_RUNS);
    else if (fresh)
        fprintf(stderr, "framespec fuzz: %.1f s: finding: %s/findings/%s\n", t, cfg->out, r->last);
    c->last[r->worker] = *r;
    /* --until: a confirmed finding only (a flaky one is written, and fuzzing goes on) */
    if (fresh && r->last_confirmed >= CONFIRM_RUNS && cfg->until && fz_until_matches(cfg->until, r->last))
        g_stop = 1;
    if (cfg->max_findings) {
        unsigned found = 0;
        for (unsigned j = 0; j < cfg->jobs; j++)
            found += c->last[j].findings;
        if (found >= cfg->max_findings)
            g_stop = 1;
    }
    return r->done;
}

/* A worker killed by a signal before it reported done (a crash: a framespec bug) ends the
 * campaign with an error (exit 2), said; one that exited has reported done, or will (the pipe
 * holds its report). Returns how many crashed. */
static unsigned reap_dead(campaign *c)
{
    unsigned dead = 0;
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (unsigned j = 0; j < c->cfg->jobs; j++)
            if (c->pids[j] == pid) {
                c->pids[j] = 0;
                if (c->last[j].done || !WIFSIGNALED(st))
                    continue;
                fprintf(stderr, "framespec fuzz: worker %u died of signal %d before it was done: "
                                "a framespec bug, please report it with the command line\n", j,
                        WTERMSIG(st));
                c->last[j].done = true;
                c->last[j].error = 2;
                g_stop = 1;
                dead++;
            }
    return dead;
}

/* A line of DIR/coverage.csv: seconds since the start, programs run, edges reached, programs in
 * the coverage corpus, findings. */
static void coverage_line(const campaign *c, int64_t now)
{
    uint64_t runs = 0, edges, corpus;
    unsigned found = 0;
    for (unsigned j = 0; j < c->cfg->jobs; j++) {
        runs += c->last[j].runs;
        found += c->last[j].findings;
    }
    cov_figures(c->cfg->cov, &edges, &corpus);
    fprintf(c->cfg->cov_csv, "%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u\n",
            (double)(now - c->t0) / 1000, runs, edges, corpus, found);
    fflush(c->cfg->cov_csv);
}

/* Read the workers' reports until every one is done, printing progress; stop them on a signal,
 * --until or --max-findings, and kill them at the hard end. */
static void supervise(campaign *c)
{
    config *cfg = c->cfg;
    unsigned running = 0;
    bool stopping = false;
    int64_t next_print = c->t0 + 1000, next_csv = c->t0 + 1000, hard_end;
    for (unsigned j = 0; j < cfg->jobs; j++)
        running += c->pids[j] > 0;
    /* runs: no time limit of their own, but never more than a day; seconds: the shrinking of a
     * last finding may take SHRINK_MS more */
    hard_end = cfg->runs ? c->t0 + 86400000 : c->t0 + (int64_t)(cfg->seconds * 1000) + SHRINK_MS + 30000;
    while (running > 0) {
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int64_t now = sock_now_ms();
        if (now >= hard_end) {
            for (unsigned j = 0; j < cfg->jobs; j++)
                if (c->pids[j] > 0)
                    kill(c->pids[j], SIGTERM); /* the keepers follow (PR_SET_PDEATHSIG) */
            break;
        }
        if (g_stop && !stopping) {
            /* each worker ends its program (or shrink), stops its server and reports done;
             * the hard end above still bounds it */
            for (unsigned j = 0; j < cfg->jobs; j++)
                if (c->pids[j] > 0)
                    kill(c->pids[j], SIGUSR1);
            stopping = true;
            if (hard_end > now + 30000)
                hard_end = now + 30000;
        }
        if (poll(&pf, 1, 200) > 0) {
            report r;
            ssize_t n = read(c->fd, &r, sizeof r);
            if (n == 0)
                break;
            if (n == (ssize_t)sizeof r && r.worker < cfg->jobs && take_report(c, &r))
                running--;
        }
        running -= reap_dead(c);
        now = sock_now_ms();
        if (now >= next_csv && cfg->cov_csv != NULL) {
            coverage_line(c, now);
            next_csv = now + 1000;
        }
        if (now >= next_print) {
            uint64_t runs = 0;
            unsigned found = 0;
            char edges[96] = "";
            for (unsigned j = 0; j < cfg->jobs; j++) {
                runs += c->last[j].runs;
                found += c->last[j].findings;
            }
            if (cfg->cov != NULL) {
                uint64_t e, corpus;
                cov_figures(cfg->cov, &e, &corpus);
                snprintf(edges, sizeof edges, ", %" PRIu64 " edges, corpus %" PRIu64, e, corpus);
            }
            fprintf(stderr, "framespec fuzz: %.0f s: %" PRIu64 " programs (%.0f/s)%s, %u findings\n",
                    (double)(now - c->t0) / 1000, runs, (double)runs * 1000.0 / (double)(now - c->t0),
                    edges, found);
            next_print = now + (isatty(2) ? 1000 : 10000);
        }
    }
    if (cfg->cov_csv != NULL)
        coverage_line(c, sock_now_ms());
}

/* The summary line; the exit code: 2 setup error, 1 MUST findings (new or already in DIR), 0. */
static int summarize(const campaign *c)
{
    const config *cfg = c->cfg;
    uint64_t runs = 0;
    unsigned found = 0, dups = 0, should = 0, dups_should = 0, inconclusive = 0, not_alone = 0;
    unsigned deaths = 0;
    const char *last_death = "";
    uint64_t audits = 0;
    int err = 0;
    double secs = (double)(sock_now_ms() - c->t0) / 1000.0;
    for (unsigned j = 0; j < cfg->jobs; j++) {
        runs += c->last[j].runs;
        found += c->last[j].findings;
        dups += c->last[j].dups;
        should += c->last[j].should;
        dups_should += c->last[j].dups_should;
        inconclusive += c->last[j].inconclusive;
        not_alone += c->last[j].not_alone;
        deaths += c->last[j].deaths;
        if (c->last[j].deaths)
            last_death = c->last[j].last_death;
        audits += c->last[j].audits;
        if (c->last[j].error)
            err = c->last[j].error;
    }
    {
        unsigned per = cfg->servers_per_job > 1 ? cfg->servers_per_job : 1, jobs = cfg->jobs / per;
        printf("fuzz: %" PRIu64 " programs in %.1f s (%.0f/s) with %u job%s x %u %s; %u new "
               "finding%s (%u SHOULD), %u already in %s/findings\n",
               runs, secs, secs > 0 ? (double)runs / secs : 0.0, jobs, jobs > 1 ? "s" : "",
               per > 1 ? per : cfg->concurrency,
               per > 1 ? "servers (one program at a time each)" : "at once", found,
               found == 1 ? "" : "s", should, dups, cfg->out);
    }
    if (cfg->cov != NULL) {
        uint64_t edges, corpus;
        cov_figures(cfg->cov, &edges, &corpus);
        printf("fuzz: coverage (%s): %" PRIu64 " edges of the server reached; %" PRIu64
               " programs in the coverage corpus; edges over time in %s/coverage.csv\n",
               cfg->coverage == COV_AFL ? "guided" : "counted, not guiding", edges, corpus,
               cfg->out);
    }
    if (audits > 0)
        printf("fuzz: %" PRIu64 " descriptor audit%s of the server%s, other programs drained first\n",
               audits, audits == 1 ? "" : "s", cfg->jobs > 1 ? "s" : "");
    if (not_alone > 0)
        printf("fuzz: %u program%s failed beside others and held alone (not findings: a server "
               "slowed by its load, or a bug of load only)\n", not_alone,
               not_alone == 1 ? "" : "s");
    if (inconclusive > 0)
        printf("fuzz: %u program%s inconclusive: the server's --idle-timeout explains the close "
               "that failed %s (-v names them)\n", inconclusive, inconclusive == 1 ? "" : "s",
               inconclusive == 1 ? "it" : "them");
    if (deaths > 0)
        printf("fuzz: the server died %u time%s beside other programs (the last: %s) and was "
               "started again: a MUST violation (RESOURCES-1) with no finding file, since no "
               "program alone reproduced it; look for it with --concurrency 1, or with framespec "
               "run's concurrency cases\n", deaths, deaths == 1 ? "" : "s",
               last_death[0] ? last_death : "how, unknown");
    if (err || c->fork_failed)
        return 2;
    if (g_signalled)
        fprintf(stderr, "framespec fuzz: interrupted\n");
    return found - should + dups - dups_should > 0 || deaths > 0 ? 1 : 0;
}

int fuzz_main(int argc, char **argv)
{
    config cfg = {.out = "fuzz-out", .seed = 1, .seconds = 60, .jobs = 1,
                  .concurrency = DEFAULT_CONCURRENCY};
    opts_server so;
    campaign c;
    int fds[2], status = 0, rc;
    rc = parse_fuzz(argc, argv, &cfg, &so);
    if (rc == 0)
        rc = set_up_fuzz(&cfg);
    if (rc != 0)
        return rc;
    scratch_deadline("fuzz", so.timeout_s, 1);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, fz_on_signal); /* before the fork: a worker never dies of an early SIGUSR1 */
    if (pipe2(fds, O_CLOEXEC) < 0) {
        perror("framespec fuzz: pipe");
        return 2;
    }
    memset(&c, 0, sizeof c);
    c.cfg = &cfg;
    c.fd = fds[0];
    c.t0 = sock_now_ms();
    fprintf(stderr, "framespec fuzz: %s %s, framing %s, max frame %" PRIu64 ", %u %s%s, seed %"
                    PRIu64 ", %s; corpus: %zu programs; findings in %s/findings\n",
            cfg.exec ? "--exec" : "--target", cfg.exec ? cfg.exec : cfg.target,
            wire_framing_name(&cfg.t.framing), cfg.t.max_payload, cfg.jobs,
            cfg.servers_per_job > 1 ? "server" : "job", cfg.jobs > 1 ? "s" : "",
            cfg.seed, cfg.runs ? "--runs" : "--seconds", cfg.ncorpus, cfg.out);
    fflush(NULL);
    start_workers(&c, fds);
    close(fds[1]);
    signal(SIGINT, fz_on_signal);
    signal(SIGTERM, fz_on_signal);
    supervise(&c);
    signal(SIGTERM, SIG_IGN);
    while (wait(&status) > 0)
        ;
    close(fds[0]);
    rc = summarize(&c);
    if (cfg.cov_csv != NULL)
        fclose(cfg.cov_csv);
    free(cfg.corpus);
    return rc;
}
