/*
 * replay.h — `framespec replay` (replay.c).
 */
#ifndef FRAMESPEC_REPLAY_H
#define FRAMESPEC_REPLAY_H

/* `framespec replay FILE ...` (argv[0] = "replay"). Returns the exit code: 0, 1 or 2. */
int replay_main(int argc, char **argv);

#endif
