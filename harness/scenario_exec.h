/*
 * scenario_exec.h — inside the interpreter: the state of one sc_run() and the helpers its step
 * files share (scenario_run.c: the core and the connection steps; scenario_flood.c: flood,
 * stream and ping; scenario_server.c: the server's process, descriptors, memory, and peers
 * that vanish). Not for other modules.
 */
#ifndef FRAMESPEC_SCENARIO_EXEC_H
#define FRAMESPEC_SCENARIO_EXEC_H

#include <stdarg.h>

#include "scenario.h"
#include "vanish.h"

typedef struct {
    const scenario *s;
    sc_env *env;
    const char *file;
    peer *peers;        /* one per connection name */
    peer **all;         /* pointers to them, for peer_poll() */
    int64_t t0_ns;
    int server_fds;     /* the server's descriptors at the baseline (-1 unknown) */
    long server_rss_kb; /* its resident memory at the baseline, KiB (-1 unknown) */
    bool termed;        /* a SIGTERM was sent: the server may close any connection, so a send
                         * that meets the close does not fail (the expects judge it) */
    vn_conn *gone;      /* per connection: its server end, once its peer vanished (vanish.h) */
    char chain[32];     /* this run's nftables chain, or "" until the first vanish */
    sc_failure *f;
    uint64_t iter[SC_MAX_DEPTH]; /* the iteration of each repeat being run (1-based) */
    int depth;
    int conn_failed;    /* the connection a set step failed on (-1: the step's own) */
} run;

/* Fill in the failure of step i (what: a word; exp/act: text). Returns 1. */
int rx_fail(run *r, size_t i, const char *what, const char *exp, const char *act);
/* rx_fail() under check chk's requirement (spec.h fs_check_req[]). Returns 1. */
int rx_fail_check(run *r, size_t i, fs_check chk, const char *what, const char *exp,
                  const char *act);
/* A line of the wire log (printf format): to env->log, or stderr when verbose. */
void rx_log(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What a measurement step measured, for env->note (printf format); logged too. */
void rx_note(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does the server's declared idle timeout explain that c was closed (scenario_run.c has the
 * rule)? owed: the failure is bytes that never came. The arithmetic goes to note[0..n). */
bool rx_idle_explains(const run *r, const peer *c, bool owed, char *note, size_t n);
/* --timeout-scale (1 when not set). */
double rx_scale(const run *r);
/* The step's connection name (the set's member the step is at, in a set step). */
const char *rx_name(const run *r, const sc_step *st);

/* Wait for input on every connection until deadline_ms at most (100 ms per call). */
void rx_pump_until(run *r, int64_t deadline_ms);
/* Nothing more will arrive on c: its reads ended (FIN, RST) or we closed it. */
bool rx_ended(const peer *c);

/* One copy of a step's items, repeated into a new buffer of at most 1 MiB (or one copy). *one
 * gets one copy's size, *blen the buffer's. NULL: out of memory. */
uint8_t *rx_step_buffer(const scenario *s, const sc_step *st, uint64_t *one, uint64_t *blen);
/* The end of the last whole item at or before stream offset pos (items of st, one copy `one`
 * bytes, repeated; raw framing: pos, every byte ends an item); *next (when not NULL) gets the
 * end of the item pos is in (pos itself when an item ends there). */
uint64_t rx_item_boundary(const scenario *s, const sc_step *st, uint64_t one, uint64_t pos,
                          uint64_t *next);

/* An expected byte stream: want[0..blen) repeated, total bytes in all, pos of them matched. */
typedef struct {
    const uint8_t *want;
    uint64_t blen, total, pos;
} rx_stream;

/* Take from c's inbox what matches the stream at its pos (up to total). 0, or -1 at the first
 * byte that differs (exp/act[0..256) say where and what: the one mismatch describer). */
int rx_stream_take(peer *c, rx_stream *s, char *exp, char *act);
/* Await the whole stream on c until deadline_ms: 0 when it arrived; 1 after failing step i
 * ("mismatch", or "short-FIN" / "short-RST" / "short-timeout": f->got is what had arrived). */
int rx_await_stream(run *r, size_t i, peer *c, rx_stream *s, int64_t deadline_ms, long ms);
/* What arrives on c until it closes (deadline_ms) is a prefix of s (from s->pos on) that ends
 * where an item of step i ends, and the close is FIN. 0, or 1 after failing step i (under req,
 * or the step's tag when req is REQ_NONE). */
int rx_prefix_then_eof(run *r, size_t i, peer *c, rx_stream *s, uint64_t one,
                       int64_t deadline_ms, long ms, fs_req req);

/* Steps (scenario_flood.c). Each returns 0, or 1 after failing step i. */
int rx_flood(run *r, size_t i, peer *c);
int rx_stream_term(run *r, size_t i, peer *c);
int rx_ping(run *r, size_t i, peer *c);

/* Steps (scenario_server.c). Each returns 0, or 1 after failing step i. */
int rx_server_step(run *r, size_t i);
int rx_expect_alive(run *r, size_t i);
int rx_expect_released(run *r, size_t i);
int rx_expect_memory(run *r, size_t i);
int rx_vanish(run *r, size_t i, peer *c);
int rx_expect_gone(run *r, size_t i);
/* The baselines (descriptors, memory) of a server that has just started, or of the scenario's
 * start: counted after one echo (a server may open some lazily). */
void rx_baseline(run *r);
/* SIGTERM to the server (for flood/stream ... then term). 0, or 1 after failing step i. */
int rx_term(run *r, size_t i);
/* Does a fresh connection get a frame echoed within ms? 1 yes, 0 no. */
int rx_fresh_echo(const run *r, int ms);
/* Remove this run's nftables chain, if it made one. */
void rx_chain_remove(run *r);

#endif
