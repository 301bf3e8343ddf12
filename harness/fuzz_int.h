/*
 * fuzz_int.h — inside `framespec fuzz`: the campaign's configuration, a worker and its reports
 * (fuzz.c runs programs in a worker; fuzz_cli.c parses the command and supervises). Not for
 * other modules.
 */
#ifndef FRAMESPEC_FUZZ_INT_H
#define FRAMESPEC_FUZZ_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "server.h"

#define MAX_JOBS 64
#define MAX_CORPUS 4096
/* shrinking one finding stops after this many trials or this many seconds */
#define SHRINK_TRIALS 400
#define SHRINK_MS 90000
/* a finding is replayed this many times against a fresh server; shrinking steps back to a
 * less reduced program when the most reduced one does not fail every time */
#define CONFIRM_RUNS 3
/* the programs a shrink kept, the original first: a less reduced one is the finding when the
 * most reduced does not fail every confirmation */
#define CHAIN_MAX 32
/* the steps of a program's scenario that may have an alternative requirement (fz_derive()'s
 * alt_req: a server that serves one connection at a time) */
#define ALT_CAP 512

typedef struct {
    const char *exec;
    const char *target;
    const char *out;
    fz_target t;
    uint64_t max_frame;  /* --max-frame as given (clamped): what a finding's replay line says */
    uint64_t seed;
    uint64_t runs;       /* 0: until --seconds */
    double seconds;
    unsigned jobs;
    bool pcap;
    int verbose;
    unsigned max_findings; /* stop after this many new findings (0: no limit) */
    const char *until;     /* stop at a finding under one of these requirement ids or prefixes
                            * (comma-separated), or NULL */
    fz_program *corpus;
    size_t ncorpus;
} config;

/* What a worker tells the parent (a pipe; one record per report, PIPE_BUF-atomic). */
typedef struct {
    unsigned worker;
    uint64_t runs;        /* programs run so far */
    unsigned findings;    /* new findings written */
    unsigned dups;        /* findings already in DIR */
    unsigned dups_should; /* of those, SHOULD-level */
    unsigned should;      /* of the new ones, SHOULD-level */
    unsigned inconclusive; /* programs whose failure the server's idle timeout explains */
    bool done;
    int error;            /* 2: setup error */
    char last[200];       /* the last finding's file name */
    int last_confirmed;   /* in how many of CONFIRM_RUNS replays it failed (fewer: flaky) */
} report;

typedef struct {
    const config *cfg;
    unsigned id;
    server_proc srv;
    sc_server ops;   /* srv as the interpreter drives it */
    sc_env env;
    int report_fd;
    report rep;
    int64_t deadline_ms;
    fz_target t;              /* what this worker's oracle knows (cfg->t, and what it learnt) */
    unsigned programs_on_server; /* programs run since the server started */
} worker;

/* Set by fz_on_signal() (SIGINT, SIGTERM, SIGUSR1): end the campaign. */
extern volatile sig_atomic_t g_stop, g_signalled;
void fz_on_signal(int sig);
/* A worker: runs programs against its server until its deadline, --runs or a stop; reports to
 * cfg's pipe. Returns its exit code (2: setup error). */
int fz_worker_main(worker *w);

#endif
