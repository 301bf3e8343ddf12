/*
 * fs.h — the conformance runner's case API: configuration, the per-case context, the case
 * catalogue, what a case reports, and how it builds and runs its scenario.
 *
 * A case is a scenario (scenario.h): it writes its steps in the scenario language (fs_sc()) and
 * runs them with the one interpreter (fs_sc_run()); what the engine judges is the case's
 * verdict, and the same text is its reproducer, so a failing case's reproducer fails alone
 * exactly as the case did. Every case runs in its own forked process with a deadline (as
 * libuv's test runner does), so a case that hangs or crashes cannot take the run with it.
 * Timings a case writes into its steps are scaled by --timeout-scale (fs_ms()).
 */
#ifndef FRAMESPEC_FS_H
#define FRAMESPEC_FS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scenario.h"
#include "sock.h"
#include "spec.h"
#include "wire.h"

/* What the run was told about the server under test. */
typedef struct {
    sock_addr addr;
    wire_framing framing;
    uint64_t max_frame;   /* --max-frame: the server's maximum, bytes: the payload, or with
                           * limit=frame the whole frame (clamped to what the header holds) */
    uint64_t max_payload; /* the largest payload the server accepts: max_frame, or under
                           * limit=frame the largest whose whole frame fits (wire_max_payload) */
    int64_t idle_ms;      /* the server's idle timeout, ms; 0 = not given (idle cases skip) */
    double scale;         /* --timeout-scale */
    uint64_t seed;        /* --seed */
    unsigned conns;       /* concurrency.simultaneous connections (default 500) */
    unsigned cycles;      /* concurrency.churn cycles (default 2000) */
    int verbose;          /* -v: wire log on stderr */
    pid_t server_pid;     /* --exec: the server's pid; 0 otherwise */
    const char *exec_cmd; /* --exec command as given, or NULL */
    int keepalive[3];        /* --keepalive: the server's TCP_KEEPIDLE s, TCP_KEEPINTVL s,
                              * TCP_KEEPCNT probes; keepalive[0] == 0: not given */
    int64_t user_timeout_ms; /* --user-timeout: the server's TCP_USER_TIMEOUT, ms; 0 = not given */
    bool netns;              /* the run is inside framespec's private network namespace (netns.h) */
    char netns_why[192];     /* why there is no namespace (deadpeer cases skip with it), or "" */
    double loss_pct;         /* --loss: TCP packets dropped at random, percent; 0 = none */
    unsigned server_deaths;  /* --exec: times the server died so far in this run */
    char last_death[160];    /* --exec: how it died last ("killed by signal 13 (SIGPIPE) in ...") */
    const char *death_repro; /* --exec: the reproducer of a case during which it died
                              * (resources.alive hands it on), or NULL: the last one whose own
                              * `expect server-alive` saw it die, else the last one */
    char death_case[200];    /* how it died during that case ("killed by ... during ID") */
} fs_config;

/* The outcome of one run of a case (the verdict over --repeat runs is report.h's). */
enum { FS_PASS = 0, FS_FAIL = 1, FS_SKIP = 2 };

/*
 * What a case reports travels as records appended to a file of the runner's (a memfd the case
 * process inherits, run.c), written as they happen with one write(2) each: a case that hangs
 * and is killed, or crashes, leaves everything it reported until then. The runner reads the
 * file once the case process has ended (fs_result_read()). No field has a fixed size; what is
 * bounded is said where it is read: the wire log keeps its last FS_WIRELOG_KEEP bytes (and says
 * how many lines it left out), a reproducer FS_REPRO_MAX bytes (and says it was cut), the file
 * FS_RECORDS_MAX bytes (past it only verdict records are written).
 */
#define FS_WIRELOG_KEEP (64u << 10)
#define FS_REPRO_MAX (16u << 20)
#define FS_RECORDS_MAX (256u << 20)

/* The case process's side: where its records go, and what it has reported so far (the first
 * failure wins). */
typedef struct {
    int fd;              /* the records file; -1: nothing is kept (the verdict still counts) */
    int status;          /* FS_PASS, FS_FAIL or FS_SKIP */
    int should_only;     /* the failure is of a SHOULD requirement (fs_warn): verdict warn */
    uint64_t written;    /* bytes written to fd */
    uint64_t repro_len;  /* bytes of scenario recorded */
    int repro_truncated; /* the scenario reached FS_REPRO_MAX: the tail is missing */
} fs_result;

/* The runner's side: one run of a case, as its records said. Strings are malloc'd (NULL when
 * not reported); fs_report_free() frees them. */
typedef struct {
    int status;
    int should_only;
    char *message;     /* one line: why it failed or was skipped, or what it saw */
    char *expected, *actual;
    char *close_kind;  /* FIN / RST / timeout / open, or NULL when not applicable */
    char *requirement; /* the requirement id the failure broke ("HALFCLOSE-1"), or NULL */
    char *note;        /* what a passing run measured (a TAP comment line), or NULL */
    char *wirelog;     /* the wire log's last FS_WIRELOG_KEEP bytes (whole lines) */
    char *repro;       /* the scenario script this case ran (framespec replay grammar) */
    size_t repro_len;
} fs_report;

/* Read the records of fd (from its start) into *out (zeroed first). Returns 0, or -1 when the
 * file cannot be read (out holds what was read before). */
int fs_result_read(int fd, fs_report *out);
void fs_report_free(fs_report *r);

/* A string of the case's, freed with its context (fs_fmt()). */
typedef struct fs_str {
    struct fs_str *next;
    char text[];
} fs_str;

/* The context a case runs with. */
typedef struct {
    fs_config *cfg; /* the case process's own copy: a server restart updates addr and pid */
    fs_result *res;
    int64_t t0_ns;  /* case start, for wire-log timestamps */
    uint64_t rng;   /* case's own random state, seeded from --seed and the case id */
    int ctl_fd;     /* --exec: the runner's end for server lifecycle requests; -1 otherwise */
    const char *requirements; /* the case's requirement ids ("HALFCLOSE-1,HALFCLOSE-4") */
    char *text;     /* the scenario written so far (fs_sc()), malloc'ed */
    size_t len, cap;
    fs_str *strs;   /* fs_fmt()'s strings */
    bool lost;      /* a line or string could not be made (out of memory): fs_sc_run() fails
                     * the case rather than run a scenario short of it */
} fs_ctx;

/* Free what the context owns (its scenario text and strings). */
void fs_ctx_free(fs_ctx *c);

/* A case's level: MUST when any requirement it names is MUST, else SHOULD (catalogue.c). */
typedef struct fs_case fs_case;
fs_level fs_case_level(const fs_case *c);

/* Case flags: when a case applies. They are the one place that says so: the runner skips a case
 * whose flags exclude the run's framing, options or capabilities, with the reason (run.c
 * not_applicable()), and `framespec list --markdown` prints them as the "applies" column of
 * docs/cases.md. A case body skips only on what flags cannot say: what the run finds out, or a
 * bound of the case's own on option values (limits.exact_max: --max-frame up to 256 MiB;
 * deadpeer.alive_silent: an idle timeout that leaves room to tell keepalive apart). */
enum {
    FS_NEEDS_HEADER = 1 << 0,  /* a length field (fixed or varint): not raw or line */
    FS_NEEDS_FRAMED = 1 << 1,  /* not raw */
    FS_NEEDS_IDLE = 1 << 2,    /* --idle-timeout given */
    FS_NEEDS_EXEC = 1 << 3,    /* framespec launched the server (--exec) */
    FS_NEEDS_NETNS = 1 << 4,   /* a private network namespace (implies --exec, TCP); the run
                                * enters one when a selected case has this flag */
    FS_NO_LOSS = 1 << 5,       /* not meaningful under --loss (skipped there, saying why) */
    FS_LINE_ONLY = 1 << 6,     /* line framing only */
    FS_NOT_LINE = 1 << 7,      /* not line framing: a line's payload cannot carry '\n' */
    FS_NOT_U8 = 1 << 8,        /* not a 1-byte header (framing 1): it cannot be split */
    FS_NEEDS_OVER_MAX = 1 << 9, /* a length over --max-frame can be announced: line framing, or
                                 * a header framing whose --max-frame is below the largest
                                 * length its header holds (wire_max_expressible) */
    FS_NEEDS_TCP = 1 << 10,    /* the server listens on TCP, not on a unix socket */
    FS_NEEDS_KEEPALIVE = 1 << 11,    /* --keepalive given */
    FS_NEEDS_IDLE_PROMISE = 1 << 12, /* --keepalive or --idle-timeout given (what the server
                                      * promises for an idle peer that vanished) */
    FS_NEEDS_ANY_PROMISE = 1 << 13,  /* --user-timeout, --idle-timeout or --keepalive given
                                      * (what the server promises for dead peers) */
    FS_NEEDS_VARINT = 1 << 14,       /* a varint length field */
    FS_NEEDS_ADJUST = 1 << 15,       /* a length field that counts more than the payload
                                      * (adjust < 0): it can announce less than the header */
    FS_MANY_CONNS = 1 << 16,         /* opens many connections at once: under --loss the first
                                      * ones wait idle for the handshakes lost and retried (1 s,
                                      * 3 s), so a short idle timeout cannot be told apart */
};

struct fs_case {
    const char *id;           /* "group.name", stable */
    const char *requirements; /* "HALFCLOSE-1,HALFCLOSE-4" (docs/spec.md ids) */
    const char *description;  /* one line */
    void (*run)(fs_ctx *ctx);
    unsigned flags;
    double timeout_s;         /* the runner kills the case after timeout_s x scale */
};

/* The catalogue, in run order (catalogue.c). */
extern const fs_case fs_cases[];
extern const size_t fs_ncases;

/* ---- results (result.c) ---- */

/* Mark the case failed with a one-line message (printf format); the first failure wins, except
 * that it replaces an earlier fs_warn() (a MUST failure outranks a SHOULD one). */
void fs_fail(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark the case failed, but as a breach of a SHOULD requirement only: the verdict is warn, not
 * fail (unless --strict). printf format; the first failure wins. */
void fs_warn(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Say what a run measured ("released after 3012 ms"): printed as a TAP comment. printf format. */
void fs_note(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark the case skipped (not applicable, or inconclusive) with a reason. */
void fs_skip(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the expected / actual fields shown in the report (printf format). */
void fs_expected(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_actual(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record the close kind seen ("FIN", "RST", ...) and the requirement a failure broke. */
void fs_close_kind(fs_ctx *c, const char *kind);
void fs_violated(fs_ctx *c, fs_req req);
/* Append text[0..len) to the case's reproducer as it is. */
void fs_result_repro(fs_ctx *c, const char *text, size_t len);
/* Append a line to the wire log (and print it on stderr with -v). */
void fs_log(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `ms` scaled by --timeout-scale, rounded to whole ms. */
int64_t fs_ms(const fs_ctx *c, double ms);

/* ---- the case's scenario (case.c) ---- */

/* Append one line to the case's scenario (printf format; the newline is added). The text is in
 * the scenario language (docs/replay.md); a trailing `# REQ-ID` tags a step with the
 * requirement it checks (untagged steps check the case's first requirement). */
void fs_sc(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An echo on connection `conn` (as written before a step: "c1", or "  c1" inside a repeat):
 * `conn send ITEMS`, then `conn expect ITEMS within MS` (ms scaled). */
void fs_echo(fs_ctx *c, const char *conn, const char *items, double ms);
/* A string owned by the context until fs_ctx_free() (printf format); "" when out of memory. */
const char *fs_fmt(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One frame of a payload of n bytes in the scenario language: "frame size:N" (under line
 * framing "frame text:N": no '\n' inside), n at most the largest payload the server accepts. */
const char *fs_frame(fs_ctx *c, uint64_t n);
/* count frames whose payload sizes cycle through sizes[0..nsizes), each at most the largest
 * payload: "frame size:A frame size:B ... xK" when count is K > 1 whole cycles, else every
 * frame listed. fs_frame_list() lists every one, so that other items may follow in a step. */
const char *fs_frames(fs_ctx *c, const size_t *sizes, size_t nsizes, size_t count);
const char *fs_frame_list(fs_ctx *c, const size_t *sizes, size_t nsizes, size_t count);
/* Bytes p[0..n) as one raw item: "raw hex:..." (headers the harness writes by hand). */
const char *fs_raw(fs_ctx *c, const uint8_t *p, size_t n);
/* Largest payload the case may use: min(max_payload, limit). */
size_t fs_max_payload(const fs_ctx *c, size_t limit);
/* Next value of the case's seeded random generator. */
uint64_t fs_rand(fs_ctx *c);
/*
 * Run the case's scenario with the interpreter (scenario.h) against the server under test,
 * and record it as the case's reproducer. The engine's verdict is the case's: a failure is
 * reported (message, expected, actual, close, requirement) as a fail, or as a warning when the
 * requirement it broke is a SHOULD; a close that the server's idle timeout explains (under
 * --loss) is retried on fresh connections, twice at most, then reported as a skip that says
 * it was inconclusive. Returns 0 when it held, 1 when it failed (or was inconclusive), 2 when
 * the scenario is not valid (a framespec bug; the case fails saying so).
 */
int fs_sc_run(fs_ctx *c);

/* ---- the --exec server, as the interpreter drives it (server_ctl.c) ----
 * The runner owns the server process; a case asks it over ctl_fd and waits for the answer (at
 * most 60 s scaled). */

/* The ops (scenario.h) of the --exec server for case c; NULL without --exec. */
const sc_server *fs_server_ops(fs_ctx *c, sc_server *ops);

/* The messages behind them (a SOCK_SEQPACKET pair: one request, one reply; run.c serves). */
enum { FS_CTL_TERM = 1, FS_CTL_STOP, FS_CTL_START_SAME, FS_CTL_START_NEW };
typedef struct {
    int op;
    int64_t ms;      /* FS_CTL_STOP: how long to wait for the exit after SIGTERM */
} fs_ctl_request;
typedef struct {
    int rc;          /* 0 done; 1 the server did not come up, or had to be killed */
    pid_t pid;       /* after a start: the server's pid */
    sock_addr addr;  /* after a start: where it listens */
    char text[2048]; /* how it stopped, or why it did not start */
} fs_ctl_reply;

#endif
