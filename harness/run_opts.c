/*
 * run_opts.c — `framespec run`'s options: the usage text, run's own option table (the shared
 * ones are opts.h's: OPTS_SERVER_LONG) and what they say together. See run_state.h run_parse.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opts.h"
#include "scenario.h"
#include "scratch.h"

#include "run_state.h"

static void run_usage(FILE *out)
{
    fputs("usage: framespec run (--target HOST:PORT | --target unix:PATH | --exec 'CMD ... {port} ...')\n"
          "                     [--framing F] [--max-frame BYTES] [--idle-timeout SECONDS]\n"
          "                     [--case GLOB]... [--exclude GLOB]... [--junit FILE] [--json FILE]\n"
          "                     [--html FILE] [--label TEXT] [--expect FILE] [--write-expect FILE]\n"
          "                     [--seed N] [--timeout-scale X] [--repeat N] [--strict]\n"
          "                     [--conns N] [--cycles N] [--repro-dir DIR] [--timeout SECONDS]\n"
          "                     [--keep-logs] [--keepalive I,N,C] [--user-timeout MS]\n"
          "                     [--netns] [--loss PCT] [-v]\n"
          "\n"
          "Run the conformance catalogue against a framed echo server; TAP version 14 on stdout.\n"
          "\n"
          "  --target ADDR        a running server: HOST:PORT, [V6]:PORT or unix:PATH\n"
          "  --exec 'CMD'         start the server: {port} becomes a free port; framespec waits\n"
          "                       until it accepts, watches its pid, restarts it if it dies,\n"
          "                       and stops and starts it for lifecycle.* and backpressure.rss\n"
          "  --framing F          0|raw, 1|u8, 2|u16, 4|u32 (default), line (Erlang {packet,N});\n"
          "                       u24, u64, u16le, u24le, u32le, u64le, varint; parameters after\n"
          "                       commas: be|le, offset=N, adjust=N, strip=N, limit=payload|frame\n"
          "                       (e.g. 4,adjust=-4,limit=frame; docs/spec.md, Framings)\n"
          "  --max-frame BYTES    the server's largest payload, or whole frame with limit=frame\n"
          "                       (default 16M; K/M/G ok)\n"
          "  --idle-timeout S     the server's idle timeout; idle.* cases skip without it\n"
          "  --case GLOB          run only matching ids or groups (repeatable), e.g. 'halfclose.*'\n"
          "  --exclude GLOB       skip matching ids or groups (repeatable)\n"
          "  --junit FILE         write JUnit XML;  --json FILE: write the JSON report\n"
          "  --html FILE          write the HTML report (framespec report: matrix, reproducers,\n"
          "                       wire timelines; needs Debian's python3-jinja2)\n"
          "  --label TEXT         the implementation's name in the JSON and HTML reports\n"
          "  --seed N             seed for random slicing (default: from the clock; printed)\n"
          "  --timeout-scale X    multiply every deadline and timing threshold (slow machines,\n"
          "                       sanitizer builds), default 1\n"
          "  --conns N            connections in concurrency.simultaneous (default 500)\n"
          "  --cycles N           cycles in concurrency.churn (default 2000)\n"
          "  --repeat N           run every selected case N times with the same server; a case\n"
          "                       that fails k of N runs is flaky (default 1)\n"
          "  --strict             failing SHOULD cases fail the run (default: they warn), and so\n"
          "                       do cases --expect lists as failing that now pass\n"
          "  --expect FILE        known verdicts, a line each: CASE VERDICT [LEVEL] [WHY]\n"
          "                       (# comments): a case that fails as listed is an expected\n"
          "                       failure (TAP # TODO, JUnit skipped, JSON xfail) and does not\n"
          "                       fail the run; a listed failure that passes is 'fixed'; a\n"
          "                       flaky one may do either; a new failure fails the run\n"
          "  --write-expect FILE  write this run's failures in that format (a starting file)\n"
          "  --repro-dir DIR      write each failing case's reproducer to DIR/ID.scenario\n"
          "  --timeout SECONDS    end the whole run by then: the case running is stopped and the\n"
          "                       rest are not run; all of them fail (default: no limit beyond\n"
          "                       each case's own deadline)\n"
          "  --keep-logs          keep the server's log (its stdout and stderr, first and last\n"
          "                       64 KiB) in $TMPDIR/framespec-XXXXXX; removed at exit otherwise\n"
          "  --keepalive I,N,C    the server's TCP keepalive: TCP_KEEPIDLE I s, TCP_KEEPINTVL N\n"
          "                       s, TCP_KEEPCNT C probes (what deadpeer.* hold it to)\n"
          "  --user-timeout MS    the server's TCP_USER_TIMEOUT in ms (deadpeer.pending)\n"
          "  --netns              run the server and the cases in a private network namespace\n"
          "                       (loopback only; needs root and nft). Entered by itself when a\n"
          "                       deadpeer.* case is selected; without root those are skipped\n"
          "  --loss PCT           drop PCT % of TCP packets at random, both directions\n"
          "                       (nftables in the namespace; implies --netns; timing scale x\n"
          "                       (1 + PCT)); latency.* and deadpeer.alive_silent are skipped\n"
          "  -v                   wire log on stderr\n"
          "\n"
          "Verdicts: pass; fail (a MUST requirement broken in every run); warn (only SHOULD\n"
          "requirements broken: TAP '# TODO SHOULD', not a failure unless --strict); flaky (failed k\n"
          "of N runs: fails the run for a MUST case); skip (does not apply); with --expect, xfail\n"
          "(failed as listed) and fixed (listed as failing, passed).\n"
          "Exit status: 0 nothing failed (warnings allowed), 1 a case failed or a MUST case was\n"
          "flaky, or the server died between cases or could not be restarted, or --timeout was\n"
          "reached; 2 usage error, target unreachable, a server that daemonizes, or a report file\n"
          "that cannot be written.\n",
          out);
}

/* The options of run's own (the shared ones are opts.h's). Returns 1 taken, 2 a bad value. */
static int take_run_option(run_state *rs, int ch, const char *arg)
{
    uint64_t v;
    switch (ch) {
    case 'c':
    case 'x':
        if ((ch == 'c' ? rs->ncases : rs->nexcludes) == MAX_GLOBS)
            return opts_bad("run", ch == 'c' ? "--case" : "--exclude", arg,
                            "too many of them (64 at most)");
        if (ch == 'c')
            rs->cases[rs->ncases++] = arg;
        else
            rs->excludes[rs->nexcludes++] = arg;
        return 1;
    case 'J': rs->junit = arg; return 1;
    case 'j': rs->json = arg; return 1;
    case 'H': rs->html = arg; return 1;
    case 'R': rs->repro_dir = arg; return 1;
    case 'S': rs->strict = true; return 1;
    case 'E': rs->expect_path = arg; return 1;
    case 'W': rs->write_expect = arg; return 1;
    case 'K': scratch_keep(true); return 1;
    case 'N': rs->netns_asked = true; return 1;
    case 'v': rs->cfg.verbose++; return 1;
    case 'l':
        if (*arg == '\0' || strlen(arg) > 200)
            return opts_bad("run", "--label", arg, "expected a name of 1..200 characters");
        rs->label = arg;
        return 1;
    case 'n':
        if (opts_u64(arg, 1, SC_MAX_CONNS, &v) < 0)
            return opts_bad("run", "--conns", arg, "expected 1..4096 (the connections a "
                            "scenario holds at most)");
        rs->cfg.conns = (unsigned)v;
        return 1;
    case 'y':
        if (opts_u64(arg, 1, 10000000, &v) < 0)
            return opts_bad("run", "--cycles", arg, "expected 1..10000000");
        rs->cfg.cycles = (unsigned)v;
        return 1;
    case 'r':
        if (opts_u64(arg, 1, 1000, &v) < 0)
            return opts_bad("run", "--repeat", arg, "expected a number of runs 1..1000");
        rs->repeat = (unsigned)v;
        return 1;
    case 'k':
        if (opts_keepalive(arg, rs->cfg.keepalive) < 0)
            return opts_bad("run", "--keepalive", arg, "expected IDLE,INTVL,CNT: seconds, "
                            "seconds, probes (1..32767), e.g. 1,1,2");
        return 1;
    case 'u':
        if (opts_u64(arg, 1, 2147483647, &v) < 0 || strpbrk(arg, "KMGkmg"))
            return opts_bad("run", "--user-timeout", arg, "expected milliseconds 1..2147483647 "
                            "(the server's TCP_USER_TIMEOUT), e.g. 3000");
        rs->cfg.user_timeout_ms = (int64_t)v;
        return 1;
    case 'L':
        if (opts_seconds(arg, &rs->cfg.loss_pct) < 0 || rs->cfg.loss_pct < 0.01 ||
            rs->cfg.loss_pct >= 50)
            return opts_bad("run", "--loss", arg, "expected a percentage of packets to drop, "
                            "0.01 to below 50");
        rs->netns_asked = true;
        return 1;
    default:
        return 0;
    }
}

/* What the options say together: a server to judge, {port} or --target with --exec, --netns
 * and --loss with --exec; --max-frame clamped; a seed from the clock when none was given.
 * Returns 0, or 2 after printing why. */
static int check_run_options(run_state *rs)
{
    if (rs->so.exec == NULL && rs->so.target == NULL) {
        fprintf(stderr, "framespec run: give the server to judge: --target HOST:PORT, --target "
                        "unix:PATH, or --exec 'CMD ... {port} ...'\nTry 'framespec run --help'.\n");
        return 2;
    }
    if (rs->so.exec && !strstr(rs->so.exec, "{port}") && rs->so.target == NULL) {
        fprintf(stderr, "framespec run: --exec needs {port} in the command (framespec picks a "
                        "free port), or --target telling where the command listens\n");
        return 2;
    }
    if (rs->netns_asked && rs->so.exec == NULL) {
        fprintf(stderr, "framespec run: %s needs --exec: framespec starts the server inside its "
                        "own network namespace (it cannot move a running --target server)\n",
                rs->cfg.loss_pct > 0 ? "--loss" : "--netns");
        return 2;
    }
    if (opts_server_finish("run", &rs->so) != 0)
        return 2;
    if (!rs->so.seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rs->so.seed = (uint64_t)ts.tv_nsec % 1000000 + (uint64_t)ts.tv_sec % 1000 * 1000000;
    }
    rs->cfg.framing = rs->so.framing;
    rs->cfg.max_frame = rs->so.max_frame;
    rs->cfg.max_payload = rs->so.max_payload;
    rs->cfg.seed = rs->so.seed;
    rs->cfg.scale = rs->so.scale;
    rs->cfg.idle_ms = (int64_t)(rs->so.idle_s * 1000 + 0.5);
    rs->idle_given = rs->so.idle_s > 0;
    return 0;
}

int run_parse(int argc, char **argv, run_state *rs)
{
    static const struct option lo[] = {
        OPTS_SERVER_LONG,
        {"case", required_argument, NULL, 'c'},
        {"exclude", required_argument, NULL, 'x'},     {"junit", required_argument, NULL, 'J'},
        {"json", required_argument, NULL, 'j'},        {"conns", required_argument, NULL, 'n'},
        {"cycles", required_argument, NULL, 'y'},      {"repro-dir", required_argument, NULL, 'R'},
        {"repeat", required_argument, NULL, 'r'},      {"strict", no_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},           {"help", no_argument, NULL, 'h'},
        {"keep-logs", no_argument, NULL, 'K'},         {"netns", no_argument, NULL, 'N'},
        {"keepalive", required_argument, NULL, 'k'},   {"user-timeout", required_argument, NULL, 'u'},
        {"loss", required_argument, NULL, 'L'},        {"html", required_argument, NULL, 'H'},
        {"label", required_argument, NULL, 'l'},       {"expect", required_argument, NULL, 'E'},
        {"write-expect", required_argument, NULL, 'W'}, {NULL, 0, NULL, 0},
    };
    int ch, rc;
    opts_server_init(&rs->so);
    rs->cfg.conns = 500;
    rs->cfg.cycles = 2000;
    rs->repeat = 1;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        if (ch == 'h') {
            run_usage(stdout);
            exit(0);
        }
        rc = opts_server_take("run", ch, optarg, &rs->so);
        if (rc == 0)
            rc = take_run_option(rs, ch, optarg);
        if (rc == 2)
            return 2;
        if (rc == 0) {
            fprintf(stderr, "framespec run: %s '%s'\nTry 'framespec run --help'.\n",
                    ch == ':' ? "missing value for" : "unknown option or missing value:",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "framespec run: unexpected argument '%s'\nTry 'framespec run --help'.\n",
                argv[optind]);
        return 2;
    }
    return check_run_options(rs);
}

