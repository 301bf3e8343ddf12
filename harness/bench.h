/*
 * bench.h — `framespec bench`, the load generator (see bench.c).
 */
#ifndef FRAMESPEC_BENCH_H
#define FRAMESPEC_BENCH_H

#include <stdint.h>

#include "wire.h"

typedef struct {
    const char *target;   /* "HOST:PORT" or "unix:PATH" (or where --exec listens) */
    const char *exec;     /* command to start the server ({port} = a free port), or NULL */
    double rate;          /* open loop: frames/s over all connections; 0 = closed loop */
    wire_framing framing;
    unsigned conns;       /* connections */
    unsigned depth;       /* frames in flight per connection */
    uint32_t size_min, size_max; /* payload bytes */
    double duration, warmup;     /* seconds */
    uint64_t seed;
    double scale;         /* --timeout-scale: the server's start and the connects */
    const char *json;     /* report file, or NULL */
    const char *label;    /* name printed in the report, or NULL */
} bench_opts;

/* Run a load as configured. Returns 0 (no error), 1 (an echo was wrong or a connection was
 * lost), 2 (cannot connect). Prints one report line to stdout. */
int bench_run(const bench_opts *o);

/* `framespec bench ARGS`: parse options (argv[0] is "bench") and run. Returns the exit code. */
int bench_main(int argc, char **argv);

#endif
