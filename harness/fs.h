/*
 * fs.h — the conformance runner's case API: configuration, the per-case context, the case
 * catalogue and the check helpers cases are written with.
 *
 * Every case runs in its own forked process with a deadline (as libuv's test runner does), so a
 * case that hangs or crashes cannot take the run with it. Inside a case every wait has a deadline
 * too; the helpers below take timeouts in milliseconds *before* scaling: fs_ms() applies
 * --timeout-scale.
 */
#ifndef FRAMESPEC_FS_H
#define FRAMESPEC_FS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sock.h"
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
} fs_config;

/* The outcome of one run of a case (the verdict over --repeat runs is report.h's). */
enum { FS_PASS = 0, FS_FAIL = 1, FS_SKIP = 2 };

/* A requirement's level (docs/spec.md, RFC 2119): MUST (and MUST NOT) or SHOULD. A case's level
 * is MUST when any requirement it checks is MUST; a failing SHOULD-only case is a warning. */
typedef enum { FS_MUST = 0, FS_SHOULD = 1 } fs_level;

typedef struct {
    const char *id; /* "HALFCLOSE-1" */
    fs_level level;
} fs_requirement;

/* Every requirement of docs/spec.md (spec.c; a test keeps it in step with the document). */
extern const fs_requirement fs_requirements[];
extern const size_t fs_nrequirements;
/* Level of requirement id[0..len), or -1 when the id is unknown. */
int fs_requirement_level(const char *id, size_t len);
/* "MUST" or "SHOULD". */
const char *fs_level_name(fs_level level);

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

/* The case process's side: where its records go, and what it has reported so far (fs_done(),
 * the first failure wins). */
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
    char *note;        /* what a passing run measured (a TAP comment line), or NULL */
    char *wirelog;     /* the wire log's last FS_WIRELOG_KEEP bytes (whole lines) */
    char *repro;       /* the scenario script this case ran (framespec replay grammar) */
    size_t repro_len;
} fs_report;

/* Read the records of fd (from its start) into *out (zeroed first). Returns 0, or -1 when the
 * file cannot be read (out holds what was read before). */
int fs_result_read(int fd, fs_report *out);
void fs_report_free(fs_report *r);

/* What a case knows about one of its descriptors. */
typedef struct {
    unsigned name;       /* connection number (1-based) in the scenario; 0 = none */
    uint8_t first_close; /* first close kind observed on it (SOCK_OPEN: none yet) */
} fs_fdinfo;

/* The context a case runs with. */
typedef struct {
    fs_config *cfg; /* the case process's own copy: fs_server_start() updates addr and pid */
    fs_result *res;
    int64_t t0_ns;  /* case start, for wire-log timestamps */
    unsigned nconn; /* connections opened (for wire-log and scenario names) */
    fs_fdinfo *fds; /* per descriptor, indexed by fd: grown on demand (fs_fd()) to cover every
                     * descriptor a case uses, however high; freed with the case process */
    size_t nfds;    /* entries in fds */
    bool recording; /* scenario recording on (off while fs_alive checks) */
    uint64_t rng;   /* case's own random state, seeded from --seed and the case id */
    int ctl_fd;     /* --exec: the runner's end for server lifecycle requests; -1 otherwise */
} fs_ctx;

/* A case's level: MUST when any requirement it names is MUST, else SHOULD (spec.c). */
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

/* ---- results and observations (result.c) ---- */

/* Mark the case failed with a one-line message (printf format); the first failure wins, except
 * that it replaces an earlier fs_warn() (a MUST failure outranks a SHOULD one). */
void fs_fail(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark the case failed, but as a breach of one of its SHOULD requirements only (its other,
 * MUST, requirements did not apply to this run): the verdict is warn, not fail (unless --strict).
 * printf format; the first failure wins. */
void fs_warn(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Say what a run measured ("released after 3012 ms"): printed as a TAP comment. printf format. */
void fs_note(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark the case skipped (not applicable) with a reason. */
void fs_skip(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the expected / actual fields shown in the report (printf format). */
void fs_expected(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_actual(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record the close kind seen (SOCK_EOF, SOCK_RESET, ...) in the case's result. */
void fs_close_kind(fs_ctx *c, int kind);
/*
 * Note what fd showed about how the server closed it: the result of a recv() (n >= 0) or of a
 * failed send() or recv() (n < 0, errno `err`), classified by sock_close_kind(). The first close
 * observed on a connection wins: once Linux has reported an RST (ECONNRESET or EPIPE) the socket
 * reads as EOF, so a later recv() returning 0 is not a FIN. Logs the first observation, sets the
 * case's close kind from it, and returns it (SOCK_OPEN while nothing closed).
 */
int fs_observe(fs_ctx *c, int fd, ssize_t n, int err);
/* Append a line to the wire log (and print it on stderr with -v). */
void fs_log(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True once the case has failed or been skipped: cases return early on it. */
bool fs_done(const fs_ctx *c);

/* ---- time (result.c) ---- */

/* `ms` scaled by --timeout-scale. */
int64_t fs_ms(const fs_ctx *c, double ms);
/* A deadline `ms` (scaled) from now, on sock_now_ms()'s clock. */
int64_t fs_deadline(const fs_ctx *c, double ms);
/* Sleep `ms` milliseconds (not scaled: used for pauses that split TCP segments); recorded as a
 * `sleep` step of the scenario. */
void fs_sleep(fs_ctx *c, double ms);

/* ---- payloads and frames (payload.c) ---- */

/* Fill out[0..len) with a fixed pattern. Line framing: printable bytes, never '\n'
 * (out[i] = '!' + (i + seed) % 94). Every other framing: out[i] = i % 256 and `seed` is ignored
 * (the `size:N` payload of scenario scripts, so that reproducers stay short). */
void fs_payload(const fs_ctx *c, uint8_t *out, size_t len, unsigned seed);
/* Encode one frame of the run's framing into out (wire_frame_size bytes). Returns its size. */
size_t fs_frame(const fs_ctx *c, const uint8_t *payload, size_t len, uint8_t *out);
/* Largest payload the case may use: min(max_payload, limit). */
size_t fs_max_payload(const fs_ctx *c, size_t limit);
/* Build `count` frames with payload sizes from sizes[i % nsizes], each clamped to max_payload
 * (frame i's payload is fs_payload(..., i): only in line framing does it depend on i), into a
 * malloc'ed buffer (caller frees); *len gets its size in bytes. Returns NULL (and fails the case)
 * when out of memory. */
uint8_t *fs_frames(fs_ctx *c, size_t count, const size_t *sizes, size_t nsizes, size_t *len);
/* Next value of the case's seeded random generator. */
uint64_t fs_rand(fs_ctx *c);

/* ---- scenario recording (repro.c): every failing case comes with a replayable script ---- */

/* Append text[0..len) to the case's scenario as it is (fs_repro() adds the line). */
void fs_result_repro(fs_ctx *c, const char *text, size_t len);
/* Append one line (printf format) to the case's scenario; past FS_REPRO_MAX bytes a comment
 * says the rest is missing, and nothing more is recorded. */
void fs_repro(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fd's entry in c->fds, growing the table to cover it (new entries zero: no name, SOCK_OPEN).
 * NULL when fd < 0 or out of memory. */
fs_fdinfo *fs_fd(fs_ctx *c, int fd);
/* Name a connection in the scenario ("c3"); "fdN" for a descriptor never registered. */
const char *fs_conn_name(fs_ctx *c, int fd, char *buf, size_t n);
/* Record bytes sent on fd (`verb` "send") or expected back (`verb` "expect", within_ms >= 0) as
 * frame steps: split into frames of the run's framing, payloads as size:N, "text" or hex:,
 * repeats as xN; a partial frame as raw bytes. */
void fs_repro_bytes(fs_ctx *c, int fd, const char *verb, const uint8_t *buf, size_t len,
                    long within_ms);
/* Record `reps` identical frames with payload[0..plen) ("send", "expect ... within" or, verb
 * "ping", `reps` round trips whose p90 must be under within_ms). */
void fs_repro_frames(fs_ctx *c, int fd, const char *verb, const uint8_t *payload, size_t plen,
                     size_t reps, long within_ms);
/* Register a connection opened with sock_connect() (its name, and no close observed on it yet)
 * and record `connect`. */
void fs_repro_connect(fs_ctx *c, int fd);
/* Record a step without payload on connection fd (-1: a step without one): kind is an sc_kind
 * of scenario.h; arg is its milliseconds (sleep, expect ... within/for), its shutdown `how`
 * (SHUT_WR, ...) or, for `server start`, 1 for same-port. */
void fs_repro_op(fs_ctx *c, int fd, int kind, long arg);
/* Record `flood frame PAYLOAD at-most BYTES within MS` (raw PAYLOAD with raw framing): what a
 * case that measures backpressure checks, as one step. */
void fs_repro_flood(fs_ctx *c, int fd, const uint8_t *payload, size_t plen, size_t at_most,
                    long within_ms);
/* Record `send raw size:N` (verb "send") or `expect raw size:N within MS` (verb "expect"). */
void fs_repro_raw_size(fs_ctx *c, int fd, const char *verb, size_t n, long within_ms);

/* ---- sockets (check.c) ---- */

/* Connect to the target (deadline 5 s scaled). Returns a non-blocking fd, or -1 (case failed). */
int fs_connect(fs_ctx *c);
/* Send all bytes (deadline 10 s scaled). Returns 0, or -1 (case failed, naming errno). */
int fs_send(fs_ctx *c, int fd, const void *buf, size_t len);
/* Send, ignoring errors (for peers that are about to abort). Returns bytes sent. */
size_t fs_send_quiet(fs_ctx *c, int fd, const void *buf, size_t len);
/*
 * Read exactly `len` bytes within `timeout_ms` (scaled) and compare them with `want`. Returns 0, or
 * -1 after failing the case with expected/actual (first differing offset, close kind seen).
 */
int fs_expect(fs_ctx *c, int fd, const uint8_t *want, size_t len, double timeout_ms,
              const char *what);
/*
 * Read until the peer closes or `timeout_ms` (scaled) passes, up to `limit` bytes. Returns the
 * close kind (SOCK_EOF, SOCK_RESET, SOCK_TIMEOUT, SOCK_ERROR) and stores what was read in a
 * malloc'ed *data / *len (may be NULL when nothing was read; caller frees).
 */
int fs_read_to_close(fs_ctx *c, int fd, double timeout_ms, size_t limit, uint8_t **data,
                     size_t *len);
/*
 * Send `out` while reading the echo concurrently (so neither side's buffers fill), then, if
 * `shut_wr`, shutdown(SHUT_WR) and read until close. The echo must equal `expect` exactly.
 * Returns the close kind seen (SOCK_OPEN when not shut down and all echoed), or -1 after failing
 * the case.
 */
int fs_transfer(fs_ctx *c, int fd, const uint8_t *out, size_t outlen, const uint8_t *expect,
                size_t expect_len, bool shut_wr, double timeout_ms, const char *what);
/* 16 frames of payload min(max, 64 KiB) (raw: 64 KiB chunks) into a malloc'ed buffer of *flen
 * bytes, to be sent repeatedly; *frame_size gets one frame's size. NULL (case failed) when out of
 * memory. */
uint8_t *fs_fill_frames(fs_ctx *c, size_t *flen, size_t *frame_size);
/*
 * Send `frames` (flen bytes, repeated) on fd without reading, until nothing is accepted for
 * `quiet_ms` (scaled), `limit` bytes were accepted, or 30 s (scaled) passed: a peer that never
 * reads. Returns the bytes accepted (recorded as frame steps).
 */
size_t fs_fill_until_blocked(fs_ctx *c, int fd, const uint8_t *frames, size_t flen,
                             double quiet_ms, size_t limit);
/* Record the echoes of the first `whole` bytes of a fill (complete frames of fs_fill_frames())
 * as expect steps (within `within_ms`, scaled), then the FIN (within 5 s). */
void fs_repro_fill_echoes(fs_ctx *c, int fd, const uint8_t *frames, size_t flen, size_t whole,
                          double within_ms);
/* Where `len` bytes read back differ from the fill stream (frames repeated): the offset of the
 * first 16-frame period that differs, or SIZE_MAX when they match. */
size_t fs_fill_mismatch(const uint8_t *data, size_t len, const uint8_t *frames, size_t flen);
/* TCP_CORK on fd (a no-op on a unix socket): what is sent next waits for the close, so the data
 * and the FIN leave in one segment (tcp(7)). Recorded as `cork`. */
void fs_cork(fs_ctx *c, int fd);
/* shutdown(fd, how) with a wire-log line. */
void fs_shutdown(fs_ctx *c, int fd, int how);
/* Close with RST (SO_LINGER {1,0}), logged. */
void fs_abort(fs_ctx *c, int fd);
/* Plain close, logged. */
void fs_close(fs_ctx *c, int fd);
/*
 * The server is alive: (with --exec) its pid exists, and a fresh connection echoes a frame
 * within 5 s (scaled). Returns true, or false after failing the case saying which.
 */
bool fs_alive(fs_ctx *c, const char *after);
/* ---- the --exec server's lifecycle (lifecycle cases, clean baselines; server_ctl.c) ----
 * The runner owns the server process; a case asks it over ctl_fd and waits for the answer (at
 * most 60 s scaled). Each returns 0, or -1 after failing the case (no --exec, or no answer). */

/* SIGTERM to the server; returns at once, without waiting for it to exit. */
int fs_server_term(fs_ctx *c);
/*
 * Stop the server: SIGTERM, wait up to 5 s (scaled) for it to exit, then SIGKILL its process
 * group. `how` (may be NULL) gets how it ended: "exited with status 0 after 12 ms",
 * "killed by signal 9 (SIGKILL) after 5000 ms (it ignored SIGTERM)". Until fs_server_start()
 * succeeds the runner knows the server is down on purpose (not a death of the server).
 */
int fs_server_stop(fs_ctx *c, char *how, size_t n);
/*
 * Start the server again with the same command, and wait (10 s scaled) until it accepts. With
 * same_port the command is the one that ran before (the same port); otherwise a command with
 * {port} gets a new free port. On success c->cfg->addr and server_pid are the new server's and
 * it returns 0. When it does not come up it returns 1 with the reason in why[0..n): how it exited
 * and the tail of its output (the case decides whether that fails it); -1 as above.
 */
int fs_server_start(fs_ctx *c, bool same_port, char *why, size_t n);

/* The messages behind them (a SOCK_SEQPACKET pair: one request, one reply; run.c serves). */
enum { FS_CTL_TERM = 1, FS_CTL_STOP, FS_CTL_START_SAME, FS_CTL_START_NEW };
typedef struct {
    int op;
} fs_ctl_request;
typedef struct {
    int rc;          /* 0 done; 1 the server did not come up (text says why) */
    pid_t pid;       /* after a start: the server's pid */
    sock_addr addr;  /* after a start: where it listens */
    char text[2048]; /* how it stopped, or why it did not start */
} fs_ctl_reply;

/* Open descriptors of the server (--exec), or -1. */
int fs_server_fds(const fs_ctx *c);
/* Resident set size of the server in KiB (--exec), or -1. */
long fs_server_rss_kb(const fs_ctx *c);

#endif
