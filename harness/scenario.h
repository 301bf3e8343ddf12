/*
 * scenario.h — the scenario language as data, and its one interpreter: what every conformance
 * case of `framespec run` builds and runs, what a failing case prints as its reproducer, what
 * `framespec replay` runs, and what `framespec fuzz` generates, shrinks and writes as findings.
 * A verdict is decided here and nowhere else. The grammar is docs/replay.md; its keywords are
 * one table (scenario_parse.c) that both the parser and the printer use.
 *
 *   text --sc_parse_*()--> scenario (steps) --sc_run() (scenario_run.c)--> held, or a failure
 *                                            --sc_print()--> text
 *
 * A scenario owns everything it points to; sc_free() releases it. Payloads are kept as written
 * (size:N is not expanded until it is sent), so a scenario's memory is its text's, and the
 * bytes it will send or await are bounded while parsing (SC_MAX_BYTES).
 */
#ifndef FRAMESPEC_SCENARIO_H
#define FRAMESPEC_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "peer.h"
#include "server.h"
#include "sock.h"
#include "spec.h"
#include "wire.h"

/* All the payload bytes of a scenario (x its repetitions) at most: 512 MiB. */
#define SC_MAX_BYTES (512ull << 20)
/* A single sleep or pause longer than this (ms) needs long sleeps allowed (replay --timeout). */
#define SC_MAX_SLEEP_MS 60000
/* At most this many connection names, cut points per step, and nested repeats. */
#define SC_MAX_CONNS 4096
#define SC_MAX_CUTS 4096
#define SC_MAX_DEPTH 4
/* Error messages quote at most this many characters of a bad token. */
#define SC_QUOTE_MAX 40
/* flood ... at-most kernel: BACKPRESSURE-1's bound, from the kernel's limits when the step runs
 * (sc_flood_bound()). */
#define SC_KERNEL UINT64_MAX
/* A peer that does not read (stop-reading, flood) concludes that the server stopped reading it
 * when nothing more was taken for this long (ms, x --timeout-scale). */
#define SC_QUIET_MS 200
/* expect eof|reset|closed modifiers (sc_step.how, bits): `before-idle`, `discarding`. */
#define SC_BEFORE_IDLE 1
#define SC_DISCARDING 2

typedef enum {
    SC_FRAMING, SC_CONNECT, SC_SEND, SC_SHUTDOWN, SC_ABORT, SC_CLOSE, SC_STOP_READING,
    SC_RESUME_READING, SC_CORK, SC_SLEEP, SC_SERVER_TERM, SC_SERVER_STOP, SC_SERVER_START,
    SC_EXPECT_BYTES, SC_EXPECT_EOF, SC_EXPECT_RESET, SC_EXPECT_CLOSED, SC_EXPECT_OPEN,
    SC_EXPECT_ALIVE, SC_EXPECT_RELEASED, SC_PING, SC_FLOOD, SC_EXPECT_PREFIX,
    SC_VANISH, SC_MIDDLEBOX_RESET, SC_EXPECT_GONE, SC_REPEAT, SC_END, SC_EXPECT_MEMORY,
    SC_EXPECT_EXIT, SC_STREAM, SC_REQUIREMENT,
} sc_kind;

/* A payload as written: "text" / hex:HEX (bytes held), size:N (byte i = i mod 256), or text:N
 * (byte i = 'a' + i mod 26: no '\n', so it suits line framing). */
typedef enum { SC_P_BYTES, SC_P_SIZE, SC_P_TEXT } sc_pkind;
typedef struct {
    sc_pkind kind;
    uint64_t len;   /* bytes */
    uint8_t *bytes; /* SC_P_BYTES only; owned (may be NULL when len is 0) */
} sc_payload;

/* One item of a send or expect: a frame (the payload encoded in the scenario's framing) or raw
 * bytes as they are. */
typedef struct {
    bool framed;
    sc_payload p;
} sc_item;

typedef struct {
    sc_kind kind;
    int line;            /* in the file; 0 for generated steps */
    int conn;            /* index into scenario.names (a set's first); -1: no connection */
    int *set;            /* a set step (`c1..c500 send ...`): the nset connections it acts on,
                          * owned; NULL: conn alone */
    size_t nset;
    sc_item *items;      /* send/expect/ping/flood/stream: owned */
    size_t nitems;
    uint64_t reps;       /* xN: the items N times (1); ping: N round trips; repeat: iterations */
    uint64_t limit;      /* flood: at-most/up-to BYTES (SC_KERNEL: sc_flood_bound());
                          * expect server-memory: the growth allowed, bytes */
    bool judged;         /* flood: `at-most` (exceeding the limit fails: BACKPRESSURE-1), not
                          * `up-to` (the limit is only where it stops sending) */
    uint64_t by;         /* send: bytes per write (0: as few writes as the kernel allows) */
    uint64_t *cuts;      /* send: write boundaries (byte offsets, increasing), owned */
    size_t ncuts;
    uint64_t *pause_at;  /* send: `pause MS after O,...`: pause only after the writes that end at
                          * these cuts (a subset of cuts, increasing), owned; none: every write */
    size_t npause_at;
    long pause_ms;       /* send: pause between writes */
    long ms;             /* within / for / sleep; ping: the p90 round trip limit */
    long after_ms;       /* stream: SIGTERM after this long, and it goes on this long after */
    int how;             /* shutdown: SHUT_WR/RD/RDWR; server start: 1 same-port; flood, stream:
                          * 1 then shutdown, 2 then term; vanish: 1 pending (an echo in flight);
                          * expect server-alive: 1 at-end (the last step, run after every
                          * connection is closed, even after a failure); expect eof, reset,
                          * closed: SC_BEFORE_IDLE (a close the server's declared idle timeout
                          * explains does not count: a refusal, not a timeout) and/or
                          * SC_DISCARDING (bytes before the close are read, not judged) */
    size_t span;         /* repeat: the steps of its body, its `end` included */
    wire_framing framing;
    fs_req req;          /* the requirement this step checks (`# REQ-ID`), or REQ_NONE */
} sc_step;

typedef struct {
    sc_step *steps;      /* owned */
    size_t n, cap;
    char (*names)[32];   /* connection names, owned */
    size_t nnames, names_cap;
    wire_framing framing;  /* the `framing` step's, or 4 */
    fs_req requirement;    /* the `requirement` step's: what an untagged step checks (REQ_NONE:
                            * nothing stated) */
    uint64_t payload_bound; /* the server's largest payload (wire_max_payload() of its
                             * --max-frame): a parse bound (a payload may hold payload_bound + 1
                             * bytes, to send the server's max + 1), and the most the engine
                             * sends in a frame of its own (`vanish pending`). replay parses
                             * with --max-frame itself (the larger under limit=frame), then
                             * narrows it under the script's framing */
    uint64_t bytes;        /* the parser's count: payload bytes x repetitions (<= SC_MAX_BYTES) */
    bool long_sleeps;      /* sleeps over SC_MAX_SLEEP_MS allowed */
} scenario;

/* What a failed `expect server-alive` expected when the server process had exited (the runner
 * tells a death a case's own scenario saw from one it found after the case). */
#define SC_ALIVE_EXPECTED "the server process alive"

/* An empty scenario: framing 4, payload_bound 16 MiB. */
void sc_init(scenario *s);
/* Free what s owns; s is then empty (sc_init state, keeping payload_bound and long_sleeps). */
void sc_free(scenario *s);

/*
 * Parse buf[0..len) (a whole file; `name` for messages) and append its steps to s. Lines end in
 * LF or CRLF. A comment after a step whose first word is a requirement id (`# HALFCLOSE-1`)
 * tags the step with it. On the first error prints "name:line:col: error: ..." to err (a bad
 * token quoted at most SC_QUOTE_MAX characters), frees everything the failed line allocated
 * and returns -1 (s keeps the earlier lines' steps; sc_free() it). Script errors caught here,
 * before anything runs: unknown keywords, bad payloads, sizes over payload_bound + 1 or
 * SC_MAX_BYTES, a connection used before `connect`, after `close`/`abort` (until it connects
 * again), a send after `shutdown wr`, `framing` anywhere but before the first other step, a
 * `repeat` without its `end` or whose body leaves a connection otherwise than it found it.
 * Returns 0.
 */
int sc_parse_buf(scenario *s, const char *name, const char *buf, size_t len, FILE *err);

/* Read and parse a file (at most SC_MAX_BYTES of text). Returns 0, or -1 after printing why (a
 * directory, unreadable, empty of steps, or a script error). */
int sc_parse_file(scenario *s, const char *path, FILE *err);

/* Print one step (no newline) in the grammar; a step with a req gets "  # REQ-ID". */
void sc_print_step(FILE *out, const scenario *s, const sc_step *st);
/* Print the whole scenario, one step per line (a repeat's body indented), after a `framing`
 * line. */
void sc_print(FILE *out, const scenario *s);

/* Append a generated step (line 0) to s; it takes ownership of st->items, st->set, st->cuts
 * and st->pause_at. Returns the step, or NULL when out of memory (they are freed). */
sc_step *sc_append(scenario *s, const sc_step *st);
/* Index of connection `name`, added when new. Returns -1 when out of memory or SC_MAX_CONNS. */
int sc_conn(scenario *s, const char *name);
/* Deep copy of src into dst (initialised here). Returns 0 or -1 (out of memory; dst freed). */
int sc_copy(scenario *dst, const scenario *src);
/* Free what one step owns (items and their bytes, set, cuts, pause_at); st is left empty. */
void sc_step_free(sc_step *st);
/* The bytes an item stands for (frame header included) under framing f. */
uint64_t sc_item_size(const sc_item *it, wire_framing f);
/* The bytes one copy of st's items stands for (xN not counted), under s's framing. */
uint64_t sc_items_size(const scenario *s, const sc_step *st);
/* Write the item's bytes (sc_item_size()) to out. */
void sc_item_bytes(const sc_item *it, wire_framing f, uint8_t *out);
/* Does s have steps that need framespec's network namespace (vanish, middlebox-reset)? */
bool sc_needs_netns(const scenario *s);

/* ---- the server under test, as the interpreter drives it ---- */

/*
 * What the interpreter may do to the --exec server. `framespec replay` and `framespec fuzz`
 * own the process (sc_server_local(), below); `framespec run`'s case processes ask the
 * runner, which owns it (server_ctl.c). Each function gets `arg`.
 */
typedef struct {
    void *arg;
    /* the server's pid, or 0 when none runs */
    pid_t (*pid)(void *arg);
    /* false once it has exited; then how[0..n) says how ("killed by signal 13 (SIGPIPE)") */
    bool (*running)(void *arg, char *how, size_t n);
    /* SIGTERM, without waiting. 0, or -1 when it cannot be asked */
    int (*term)(void *arg);
    /* SIGTERM (unless sent), wait up to ms for the exit, then kill what is left; how[0..n) says
     * which. 0: it exited by itself; 1: it had to be killed; -1: it cannot be asked */
    int (*stop)(void *arg, int64_t ms, char *how, size_t n);
    /* start it again (same_port: on the port it had) and wait until it accepts; *addr gets
     * where. 0, or -1 with why[0..n) (how it ended, and the tail of its output) */
    int (*start)(void *arg, bool same_port, sock_addr *addr, char *why, size_t n);
} sc_server;

/* ops for a server_proc this process owns (server.h); p must outlive ops. */
void sc_server_local(sc_server *ops, server_proc *p);

/* ---- running ---- */

typedef struct {
    sock_addr addr;      /* where to connect */
    const sc_server *srv; /* the --exec server, or NULL (server steps are then script errors) */
    int verbose;         /* >0: log every step and chunk (to `log`, or stderr) */
    bool quiet;          /* do not print FAIL lines (the caller reads sc_failure) */
    bool lenient_send;   /* a send that meets the server's close is not itself a failure: the
                          * expects that follow judge the connection (the fuzzer's programs) */
    size_t inbox_min;    /* an inbox holds max(inbox_min, the largest expect) + 1 MiB */
    double scale;        /* engine deadlines x this (--timeout-scale; 0 means 1) */
    bool probe_on_fail;  /* after a failure, while its connections are still open, see whether a
                          * fresh connection is echoed (sc_failure.fresh_echo) */
    bool netns;          /* this process is in framespec's network namespace (netns.h), with the
                          * server: vanish, middlebox-reset and expect released can run */
    int64_t idle_ms;     /* the server's declared idle timeout, ms (0: none): a close of a
                          * connection it explains is attributed (sc_failure.idle_note) */
    bool lossy;          /* packets are dropped (--loss): a FIN may arrive late, after bytes
                          * we sent while it was on its way */
    /* the wire log: one line a call, without a newline (NULL: stderr, timestamped, when
     * verbose). A sink gets every line, verbose or not */
    void (*log)(void *arg, const char *line);
    /* what a measurement step measured ("p90 0.1 ms over 200 round trips") (may be NULL) */
    void (*note)(void *arg, const char *text);
    void *arg;           /* for log and note */
} sc_env;

typedef struct {
    size_t step;         /* index of the step that failed */
    uint64_t iteration;  /* inside a repeat: the iteration (1-based) of the innermost; 0 none */
    fs_req req;          /* the requirement judged: the check's (spec.h) or the step's tag */
    char what[32];       /* how, in a word: "mismatch", "short-FIN", "closed", "open", "dead" */
    char expected[256];
    char actual[512];
    int conn;            /* the connection it failed on (a set's member), or -1 */
    int close_kind;      /* how that connection had closed (SOCK_OPEN: it had not) */
    size_t got;          /* expect frame/raw: the bytes that had arrived (all matching) */
    uint64_t conn_rx;    /* the bytes its connection received since it connected */
    int fresh_echo;      /* probe_on_fail: 1 a fresh connection echoed a frame within 500 ms,
                          * 0 it did not, -1 not probed */
    char idle_note[320]; /* non-empty: the server's declared idle timeout explains the close
                          * this failure saw, with the arithmetic (not a violation) */
} sc_failure;

/*
 * Run s's steps in order against env (`server start new-port` updates env->addr). Returns 0 when
 * every expect held; 1 when one failed (*f filled; printed as "FAIL FILE:LINE: step" unless
 * env->quiet); 2 on an error that is the script's or the setup's (printed): a server step
 * without env->srv, a vanish or middlebox-reset without framespec's network namespace, out of
 * memory for the connections. Every connection is closed, and every nftables rule
 * it added removed, before it returns. Bounded in time: each step's wait has its own deadline
 * (within/for/sleep; a send gives up after 10 s x scale without progress; on a connection that
 * does not read that ends the send after SC_QUIET_MS x scale, without failing it).
 */
int sc_run(const scenario *s, sc_env *env, const char *file, sc_failure *f);

/* "FIN"/"RST"/... of f's connection, or NULL when it had not closed. */
const char *sc_failure_close(const sc_failure *f);

/*
 * BACKPRESSURE-1's bound for a flood whose largest item is `largest` bytes on the wire: the most
 * the kernel may buffer for one connection between a peer that does not read and a server that
 * stopped reading (both ends' largest send and receive buffers: tcp_wmem[2], tcp_rmem[2], or
 * twice wmem_max / rmem_max for an application's SO_SNDBUF / SO_RCVBUF; tcp(7), socket(7)),
 * plus 2 x largest + 2 MiB + a quarter of the kernel's figure. The one definition: cases and
 * the fuzzer's oracle both write `flood ... at-most kernel`.
 */
uint64_t sc_flood_bound(uint64_t largest);

#endif
