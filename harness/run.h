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

#endif
