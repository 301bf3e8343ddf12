/*
 * run.h — `framespec run` and `framespec list` (run.c).
 */
#ifndef FRAMESPEC_RUN_H
#define FRAMESPEC_RUN_H

#include "fs.h"

/* `framespec run ARGS` (argv[0] = "run"). Returns the exit code: 0, 1 or 2. */
int run_main(int argc, char **argv);
/* `framespec list [--markdown | --requirements]`: the catalogue, one line per case (id, level,
 * requirements, description), or docs/cases.md, or the requirement ids with their levels. */
int list_main(int argc, char **argv);

/* Why a case with `flags` does not apply to framing f with --max-frame max (bytes), or NULL. A
 * reason that names values is formatted into buf[0..n) (list.c). */
const char *run_framing_excludes(unsigned flags, wire_framing f, uint64_t max, char *buf,
                                 size_t n);
/* The group of case id "group.name" into buf[0..n). Returns buf. */
const char *run_case_group(const char *id, char *buf, size_t n);

#endif
