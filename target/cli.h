/*
 * cli.h — option value parsing shared by echod and the baseline server.
 * No atoi: every number is parsed with strtoull/strtod and checked for trailing junk and range.
 */
#ifndef FRAMESPEC_CLI_H
#define FRAMESPEC_CLI_H

#include <stdint.h>

/*
 * Parse a byte count: decimal digits, optionally followed by K, M or G (binary: KiB, MiB, GiB).
 * Returns 0 and sets *out, or -1 when the text is not a number or the value exceeds `limit`.
 */
int cli_parse_size(const char *s, uint64_t limit, uint64_t *out);

/* Parse seconds, fractions allowed ("1", "0.5"); must be >= 0 and <= 1e6. Returns 0 or -1. */
int cli_parse_seconds(const char *s, double *out);

/* Parse "IDLE,INTVL,CNT" (three positive integers, each <= 32767). Returns 0 or -1. */
int cli_parse_keepalive(const char *s, int out[3]);

/* Parse a whole number of milliseconds 1..2147483647 (no suffix), e.g. a TCP_USER_TIMEOUT.
 * Returns 0 and sets *out, or -1. */
int cli_parse_millis(const char *s, unsigned *out);

#endif
