/*
 * opts.h — option value parsing for the framespec CLI (no atoi: strtoull/strtod with checks).
 */
#ifndef FRAMESPEC_OPTS_H
#define FRAMESPEC_OPTS_H

#include <stdint.h>

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

#endif
