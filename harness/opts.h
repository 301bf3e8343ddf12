/*
 * opts.h — option value parsing for the framespec CLI (no atoi: strtoull/strtod with checks).
 */
#ifndef FRAMESPEC_OPTS_H
#define FRAMESPEC_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* Integer in [lo, hi], with an optional K/M/G (binary) suffix. Returns 0 or -1. */
int opts_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* "N" or "MIN:MAX" byte counts (K/M/G ok), MIN <= MAX. Returns 0 or -1. */
int opts_range(const char *s, uint64_t *lo, uint64_t *hi);
/* Seconds >= 0 (fractions allowed), at most 1e6. Returns 0 or -1. */
int opts_seconds(const char *s, double *out);
/* "IDLE,INTVL,CNT": three whole numbers 1..32767 (tcp(7) TCP_KEEPIDLE s, TCP_KEEPINTVL s,
 * TCP_KEEPCNT probes). Returns 0 or -1. */
int opts_keepalive(const char *s, int out[3]);
/* Print "framespec CMD: invalid OPT 'VAL': WHY" and a hint to stderr; returns 2 (usage error). */
int opts_bad(const char *cmd, const char *opt, const char *val, const char *why);

/* ---- the options every command that drives a server shares (run, replay, fuzz, bench) ----
 * One table (OPTS_SERVER_LONG, for a command's getopt_long table), one parser of each value
 * (opts_server_take()), one clamp of --max-frame (opts_server_finish()). */
enum { OPT_TARGET = 0x1000, OPT_EXEC, OPT_FRAMING, OPT_MAX_FRAME, OPT_TIMEOUT, OPT_SEED,
       OPT_SCALE, OPT_IDLE };
#define OPTS_SERVER_LONG                                                                       \
    {"target", required_argument, NULL, OPT_TARGET},                                           \
        {"exec", required_argument, NULL, OPT_EXEC},                                           \
        {"framing", required_argument, NULL, OPT_FRAMING},                                     \
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},                                 \
        {"timeout", required_argument, NULL, OPT_TIMEOUT},                                     \
        {"seed", required_argument, NULL, OPT_SEED},                                           \
        {"timeout-scale", required_argument, NULL, OPT_SCALE},                                 \
        {"idle-timeout", required_argument, NULL, OPT_IDLE}

typedef struct {
    const char *target;    /* --target HOST:PORT | [V6]:PORT | unix:PATH, or NULL */
    const char *exec;      /* --exec 'CMD ... {port} ...', or NULL */
    wire_framing framing;  /* --framing (default 4) */
    uint64_t max_frame;    /* --max-frame: the server's maximum, bytes: the payload, or with
                            * limit=frame the whole frame (default 16 MiB); clamped by
                            * opts_server_finish() to what the header can express */
    uint64_t max_payload;  /* the largest payload the server accepts (wire_max_payload()) */
    bool max_frame_given;
    double timeout_s;      /* --timeout: the whole command ends by then, s (0: no limit) */
    uint64_t seed;         /* --seed */
    bool seed_given;
    double scale;          /* --timeout-scale (default 1) */
    double idle_s;         /* --idle-timeout: the server's declared idle timeout, s, 0 < S <= 3600
                            * (0: not given). Closes it explains are attributed to it, not
                            * failed (scenario_run.c rx_idle_explains()), and `before-idle` steps
                            * fail on them; run's idle.* cases and fuzz's silences judge it */
} opts_server;

/* Defaults: framing 4, --max-frame 16 MiB, scale 1, nothing else given. */
void opts_server_init(opts_server *o);
/* Take shared option ch (OPT_*) with its value arg for command cmd ("run"). Returns 1 when taken,
 * 0 when ch is not one of them, 2 after printing why the value is bad. */
int opts_server_take(const char *cmd, int ch, const char *arg, opts_server *o);
/* After parsing: clamp --max-frame to what the framing's header can express (as the server
 * clamps it) and compute max_payload. Returns 0, or 2 after printing why (under limit=frame a
 * --max-frame that leaves no payload). */
int opts_server_finish(const char *cmd, opts_server *o);

#endif
