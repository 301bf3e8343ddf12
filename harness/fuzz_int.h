/*
 * fuzz_int.h — inside `framespec fuzz`: the campaign's configuration, a worker and its reports
 * (fuzz.c runs programs in a worker; fuzz_cli.c parses the command and supervises). Not for
 * other modules.
 */
#ifndef FRAMESPEC_FUZZ_INT_H
#define FRAMESPEC_FUZZ_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "fuzz_cov.h"
#include "server.h"

#define MAX_JOBS 64
/* programs at once per job (--concurrency): lanes, fuzz_lanes.c */
#define MAX_CONCURRENCY 1024
#define DEFAULT_CONCURRENCY 1
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
    unsigned concurrency; /* programs at once per job (--concurrency; 1: one at a time) */
    bool pcap;
    int verbose;
    unsigned max_findings; /* stop after this many new findings (0: no limit) */
    const char *until;     /* stop at a finding under one of these requirement ids or prefixes
                            * (comma-separated), or NULL */
    fz_program *corpus;
    size_t ncorpus;
    cov_mode coverage;     /* --coverage (COV_NONE: black-box) */
    cov_shared *cov;       /* the campaign's coverage, shared by the workers (or NULL) */
    FILE *cov_csv;         /* DIR/coverage.csv (the parent's), or NULL */
    unsigned servers_per_job; /* --coverage with --concurrency N: N servers per job, each its own
                               * worker process running one program at a time (jobs counts them
                               * all); 0 otherwise */
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
    unsigned not_alone;   /* programs that failed beside others and held when run alone */
    unsigned deaths;      /* times the server was found dead beside other programs */
    char last_death[96];  /* how it ended, the last time */
    uint64_t audits;      /* descriptor audits of the server, all programs drained */
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
    /* many programs at once (fuzz_lanes.c): lanes are threads of this process */
    pthread_rwlock_t rw;      /* held shared by a program beside others, exclusive by whatever
                               * acts on the whole server or must run alone */
    pthread_mutex_t rep_mu;   /* rep */
    pthread_mutex_t srv_mu;   /* srv's keeper reports, read beside other programs */
    sc_server locked_ops;     /* ops through srv_mu (beside other programs) */
    cov_worker cov;           /* its server's coverage map (--coverage) */
} worker;

/* A program's verdict: the requirement and the way it failed (its signature), and the
 * engine's failure. */
typedef struct {
    char req[32];
    char what[32];
    int kind;             /* the failing step's kind */
    sc_failure f;
} verdict;

/* fuzz_cli.c: does the finding file `name` (REQ-HASH.scenario) fall under one of `list`'s
 * requirement ids or prefixes (--until)? */
bool fz_until_matches(const char *list, const char *name);
/* fuzz.c: start (or restart) the worker's server; 0 or -1 (printed). Alone only. */
int ensure_server(worker *w);
/* fuzz.c: a fresh server (--exec) for what follows; ensure_server() starts it. Alone only. */
void restart_server(worker *w);
/* fuzz.c: run program p once, alone (shared false: the worker's whole oracle; it starts the
 * server when down) or beside other programs (shared true: without descriptor counts, which are
 * the whole server's; the server is not started). Returns 0 held, 1 violated (*v filled), 2
 * setup error, 3 inconclusive (the server's declared idle timeout explains the close that failed
 * it; *v filled), 4 (shared) the server is down: run it alone. *keep gets the scenario when
 * not NULL (the caller frees it). */
int run_program(worker *w, const fz_program *p, verdict *v, scenario *keep, bool shared);
/* fuzz.c: shrink, confirm and write a finding (program `index`, first verdict *first), or
 * count it as a duplicate; updates w->rep (the caller holds rep_mu and runs alone). */
void handle_finding(worker *w, uint64_t index, const fz_program *orig, const verdict *first);

/* Set by fz_on_signal() (SIGINT, SIGTERM, SIGUSR1): end the campaign. */
extern volatile sig_atomic_t g_stop, g_signalled;
void fz_on_signal(int sig);
/* A worker: runs programs against its server until its deadline, --runs or a stop; reports to
 * cfg's pipe. Returns its exit code (2: setup error). */
int fz_worker_main(worker *w);

#endif
