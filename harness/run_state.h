/*
 * run_state.h — inside `framespec run` (run.c, run_server.c): the state of a run and the outcome
 * of one run of a case. Not for other modules.
 */
#ifndef FRAMESPEC_RUN_STATE_H
#define FRAMESPEC_RUN_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "expect.h"
#include "fs.h"
#include "opts.h"
#include "report.h"
#include "server.h"

#define MAX_GLOBS 64
/* Under --loss: the delay of a data segment lost twice in a row (Linux's minimum RTO 200 ms,
 * doubled: tcp(7), RFC 6298 5.5), and of a handshake whose SYN is (initial RTO 1 s, then 2 s). */
#define LOSS_TWICE_MS 600
#define LOSS_SYN_TWICE_MS 3000

typedef struct {
    fs_config cfg;
    opts_server so;    /* the shared options as given (opts.h: target, exec, timeout_s ...);
                        * framing, max_frame, seed and scale copied into cfg */
    const char *junit, *json, *repro_dir;
    const char *html;  /* --html FILE: the page framespec report renders from the JSON report */
    const char *label; /* --label TEXT: the implementation's name in the reports */
    const char *cases[MAX_GLOBS], *excludes[MAX_GLOBS];
    size_t ncases, nexcludes;
    bool idle_given;
    bool netns_asked; /* --netns (or --loss): a namespace is required, not just wanted */
    unsigned repeat; /* --repeat N */
    bool strict;     /* --strict */
    const char *expect_path;  /* --expect FILE, or NULL */
    expect_list expect;       /* its lines (empty without --expect) */
    const char *write_expect; /* --write-expect FILE, or NULL */
    int64_t deadline_ms; /* --timeout: the whole run ends by then (sock_now_ms); 0 = none */
    /* --exec state */
    server_proc srv;
    unsigned restarts;
    bool down_on_purpose; /* a case stopped the server (SIGTERM/stop) and has not started it */
    char gone[512];       /* why the server is down for good (no more restarts); "" while not */
    bool setup_error;     /* the run cannot judge (a daemonizing server): exit 2 */
    unsigned outside_deaths; /* deaths between cases: they fail the run */
    char *death_repro;    /* the scenario of the case resources.alive hands on (cfg.death_repro) */
    bool death_seen;      /* that case's own scenario saw the death (its `expect server-alive`) */
} run_state;

/* One run of one case. */
typedef struct {
    int status; /* FS_PASS / FS_FAIL / FS_SKIP */
    bool should_only; /* failed a SHOULD requirement only (fs_warn) */
    long duration_ms;
    report_diag d;
    char *note; /* what a passing run measured (a TAP comment), or NULL; the caller frees */
} run_outcome;

/* Parse run's options into rs (run_opts.c): --help prints the usage and exits 0. Returns 0, or
 * 2 after printing why (an unknown option, a bad value, options that contradict each other). */
int run_parse(int argc, char **argv, run_state *rs);

/* The --exec server between and during cases (run_server.c). */

/* After a case: did the server die? Then record how (how[0..hn)), and restart it. A server a
 * case stopped on purpose and left stopped is started again without counting as a death. After
 * a failed case it waits up to 100 ms x scale for news of a death, so that it is charged here.
 * Returns true when it died. */
bool run_server_check(run_state *rs, const char *case_id, bool failed, char *how, size_t hn);
/* Before a case: a server that died since the last check died outside any case (counted,
 * restarted, charged to no case; it fails the run). */
void run_server_precheck(run_state *rs, const char *next_id);
/* A case asked for a server lifecycle step over fd (fs.h FS_CTL_*): do it and answer. */
void run_serve_ctl(run_state *rs, int fd);

#endif
