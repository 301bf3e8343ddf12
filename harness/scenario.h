/*
 * scenario.h — the scenario language as data: what `framespec replay` runs, what a failing case
 * prints as its reproducer, and what `framespec fuzz` generates, shrinks and writes as findings.
 * The grammar is docs/replay.md; its keywords are one table (scenario_parse.c) that both the
 * parser and the printer use.
 *
 *   file --sc_parse_*()--> scenario (steps) --sc_run() (scenario_run.c)--> held, or a failure
 *                                            --sc_print()--> file
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

#include "peer.h"
#include "server.h"
#include "sock.h"
#include "wire.h"

/* All the payload bytes of a scenario (x its repetitions) at most: 512 MiB. */
#define SC_MAX_BYTES (512ull << 20)
/* A single sleep or pause longer than this (ms) needs long sleeps allowed (replay --timeout). */
#define SC_MAX_SLEEP_MS 60000
/* At most this many connection names and cut points per step. */
#define SC_MAX_CONNS 4096
#define SC_MAX_CUTS 64
/* Error messages quote at most this many characters of a bad token. */
#define SC_QUOTE_MAX 40

typedef enum {
    SC_FRAMING, SC_CONNECT, SC_SEND, SC_SHUTDOWN, SC_ABORT, SC_CLOSE, SC_STOP_READING,
    SC_RESUME_READING, SC_CORK, SC_SLEEP, SC_SERVER_TERM, SC_SERVER_STOP, SC_SERVER_START,
    SC_EXPECT_BYTES, SC_EXPECT_EOF, SC_EXPECT_RESET, SC_EXPECT_CLOSED, SC_EXPECT_OPEN,
    SC_EXPECT_ALIVE, SC_EXPECT_RELEASED, SC_PING, SC_FLOOD, SC_EXPECT_PREFIX,
    SC_VANISH, SC_MIDDLEBOX_RESET, SC_EXPECT_GONE,
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
    int conn;            /* index into scenario.names; -1 for steps without a connection */
    sc_item *items;      /* send/expect: owned */
    size_t nitems;
    uint64_t reps;       /* xN: the items N times (1); ping: N round trips */
    uint64_t limit;      /* flood: at-most BYTES the server may take from a peer that does not
                          * read */
    uint64_t by;         /* send: bytes per write (0: as few writes as the kernel allows) */
    uint64_t cuts[SC_MAX_CUTS]; /* send: write boundaries (byte offsets, increasing) */
    size_t ncuts;
    long pause_ms;       /* send: pause between writes */
    long ms;             /* within / for / sleep; ping: the p90 round trip limit */
    int how;             /* shutdown: SHUT_WR/RD/RDWR; server start: 1 same-port; flood: 1 then
                          * shutdown, 2 then term; vanish: 1 pending (an echo in flight) */
    wire_framing framing;
    const char *req;     /* the requirement this step checks (docs/spec.md id), static; or NULL */
} sc_step;

typedef struct {
    sc_step *steps;      /* owned */
    size_t n, cap;
    char (*names)[32];   /* connection names, owned */
    size_t nnames, names_cap;
    wire_framing framing;  /* the `framing` step's, or 4 */
    uint64_t max_frame;    /* a step's payloads may hold max_frame + 1 bytes (to send max + 1):
                            * replay's --max-frame */
    uint64_t bytes;        /* payload bytes x repetitions so far (<= SC_MAX_BYTES) */
    bool long_sleeps;      /* sleeps over SC_MAX_SLEEP_MS allowed */
} scenario;

/* An empty scenario: framing 4, max_frame 16 MiB. */
void sc_init(scenario *s);
/* Free what s owns; s is then empty (sc_init state, keeping max_frame and long_sleeps). */
void sc_free(scenario *s);

/*
 * Parse buf[0..len) (a whole file; `name` for messages) and append its steps to s. Lines end in
 * LF or CRLF. On the first error prints "name:line:col: error: ..." to err (a bad token quoted at
 * most SC_QUOTE_MAX characters), frees everything the failed line allocated and returns -1 (s
 * keeps the earlier lines' steps; sc_free() it). Script errors caught here, before anything
 * runs: unknown keywords, bad payloads, sizes over max_frame + 1 or SC_MAX_BYTES, a connection
 * used before `connect`, after `close`/`abort` (until it connects again), a send after
 * `shutdown wr`, `framing` anywhere but before the first other step. Returns 0.
 */
int sc_parse_buf(scenario *s, const char *name, const char *buf, size_t len, FILE *err);

/* Read and parse a file (at most SC_MAX_BYTES of text). Returns 0, or -1 after printing why (a
 * directory, unreadable, empty of steps, or a script error). */
int sc_parse_file(scenario *s, const char *path, FILE *err);

/* Print one step (no newline) in the grammar; a step with a req gets "  # REQ". */
void sc_print_step(FILE *out, const scenario *s, const sc_step *st);
/* Print the whole scenario, one step per line, after a `framing` line. */
void sc_print(FILE *out, const scenario *s);

/* Append a generated step (line 0) to s; it takes ownership of st->items. Returns the step, or
 * NULL when out of memory (st->items freed). */
sc_step *sc_append(scenario *s, const sc_step *st);
/* Index of connection `name`, added when new. Returns -1 when out of memory or SC_MAX_CONNS. */
int sc_conn(scenario *s, const char *name);
/* Deep copy of src into dst (initialised here). Returns 0 or -1 (out of memory; dst freed). */
int sc_copy(scenario *dst, const scenario *src);
/* The bytes an item stands for (frame header included) under framing f. */
uint64_t sc_item_size(const sc_item *it, wire_framing f);
/* Write the item's bytes (sc_item_size()) to out. */
void sc_item_bytes(const sc_item *it, wire_framing f, uint8_t *out);

/* ---- running (scenario_run.c) ---- */

typedef struct {
    sock_addr addr;      /* where to connect */
    server_proc *srv;    /* the --exec server, or NULL (server steps are then script errors) */
    int verbose;         /* >0: log every step and chunk to stderr */
    bool quiet;          /* do not print FAIL lines (the fuzzer reads sc_failure) */
    bool lenient_send;   /* a send that meets the server's close is not itself a failure: the
                          * expects that follow judge the connection (the fuzzer's programs) */
    size_t inbox_min;    /* an inbox holds max(inbox_min, the largest expect) + 1 MiB */
    double scale;        /* send deadlines x this (--timeout-scale; 0 means 1) */
    bool probe_on_fail;  /* after a failure, while its connections are still open, see whether a
                          * fresh connection is echoed (sc_failure.fresh_echo) */
    bool netns;          /* this process is in framespec's network namespace (netns.h), with the
                          * server: vanish, middlebox-reset and expect released can run */
} sc_env;

/* Does s have steps that need framespec's network namespace (vanish, middlebox-reset)? */
bool sc_needs_netns(const scenario *s);

typedef struct {
    size_t step;         /* index of the step that failed */
    const char *req;     /* its requirement, or NULL */
    char what[32];       /* how, in a word: "mismatch", "short", "closed", "open", "dead", ... */
    char expected[256];
    char actual[512];
    size_t got;          /* expect frame/raw: the bytes that had arrived (all matching) */
    uint64_t conn_rx;    /* the bytes its connection received since it connected */
    int fresh_echo;      /* probe_on_fail: 1 a fresh connection echoed a frame within 500 ms,
                          * 0 it did not, -1 not probed */
} sc_failure;

/*
 * Run s's steps in order against env (`server start new-port` updates env->addr). Returns 0 when every expect held; 1 when one failed (*f
 * filled; printed as "FAIL FILE:LINE: step" unless env->quiet); 2 on an error that is the
 * script's or the setup's (printed): a server step without env->srv, too many connections.
 * Every connection is closed before it returns. Bounded in time: each step's wait has its own
 * deadline (within/for/sleep; a send gives up after 10 s x scale without progress, 2 s x scale
 * on a stop-reading connection, where that ends the send without failing it).
 */
int sc_run(const scenario *s, sc_env *env, const char *file, sc_failure *f);

#endif
