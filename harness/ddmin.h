/*
 * ddmin.h — the one delta-debugging loop (Zeller and Hildebrandt, "Simplifying and Isolating
 * Failure-Inducing Input", IEEE TSE 2002: ddmin's complement steps, without its subset
 * steps but with a first pass that tries each unit alone) shared by `framespec fuzz` (the
 * actions of a program, fuzz.c) and `framespec shrink` (the steps of a scenario, shrink.c).
 * The caller owns the input and its best reduction so far; the loop only says which units to
 * try without.
 */
#ifndef FRAMESPEC_DDMIN_H
#define FRAMESPEC_DDMIN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    /* Units in the best input so far. */
    size_t (*count)(void *ctx);
    /* Try a candidate made from the best input: unit i alone (only), or without the units
     * [i, i + n). 1: it kept the failure, and is the best input now; 0: it did not (the best
     * is unchanged); -1: it could not be run (the reduction ends). */
    int (*attempt)(void *ctx, size_t i, size_t n, bool only);
    /* May another candidate be tried (trials and time left)? */
    bool (*budget)(void *ctx);
} dd_ops;

/* Reduce the caller's input while it keeps its failure: each unit alone, the last first (a
 * failure is usually one unit's, and a candidate without it fails fast); then chunks of half,
 * a quarter ... one unit removed at a time, a chunk size again after every pass that removed
 * something. Returns the candidates tried. */
size_t dd_reduce(const dd_ops *ops, void *ctx);

#endif
