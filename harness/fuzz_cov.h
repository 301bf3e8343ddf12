/*
 * fuzz_cov.h — `framespec fuzz --coverage afl`: guidance from the server's own coverage, read from
 * a server built with AFL++'s compilers (afl-clang-fast, afl-cc; cargo-afl), through the
 * shared-memory map those builds write to. Not for other modules than the fuzzer's.
 *
 * How an instrumented binary is driven (AFL++ 4.04c instrumentation/afl-compiler-rt.o.c, read
 * for this; docs/fuzzing.md "Coverage guidance"):
 *   - at start-up its runtime attaches the System V segment named by __AFL_SHM_ID (decimal), and
 *     refuses (exit 1) a map larger than 64 KiB unless AFL_MAP_SIZE says at least that; it sets
 *     map[0] to 1 once attached: the proof that our segment is the one it writes;
 *   - each edge it executes increments its byte (8 bits, never wrapping to 0);
 *   - AFL_DUMP_MAP_SIZE=1 makes it print the map size it needs and exit;
 *   - the bytes "__AFL_SHM_ID\0" are in every instrumented binary (afl-fuzz's own check);
 *   - with descriptor 199 open it would take it for afl-fuzz's fork server: the server is
 *     started with 198 and 199 closed (server.c).
 * Coverage is read after each program with AFL's hit-count buckets (afl-fuzz-bitmap.c
 * count_class_lookup8: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128-255): a program that reaches an
 * edge, or a bucket of an edge, that no program reached before joins the corpus. Attribution is
 * exact because a server instance runs one program at a time under --coverage (more instances:
 * --concurrency N runs N servers per job, each its own worker process and map).
 */
#ifndef FRAMESPEC_FUZZ_COV_H
#define FRAMESPEC_FUZZ_COV_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

/* programs kept for their coverage, for the whole campaign (every job) */
#define COV_CORPUS_MAX 4096
/* AFL++'s smallest map (MAP_SIZE): the segment is never smaller */
#define COV_MIN_MAP (1u << 16)

typedef enum {
    COV_NONE,
    COV_AFL,       /* --coverage afl: guided */
    COV_AFL_BLIND, /* --coverage afl-blind: edges counted, programs generated as without it (the
                    * black-box side of a comparison on the same server) */
} cov_mode;

/* The campaign's coverage, shared by every job (memory mapped before the workers fork). */
typedef struct cov_shared cov_shared;

/* A worker's server map. */
typedef struct {
    cov_shared *sh;
    int shm_id;       /* the System V segment (removed at once: it lives while attached) */
    uint8_t *map;     /* what the server writes; NULL: no coverage */
    int64_t began_ms; /* when the program began (cov_begin()) */
    bool verbose;     /* say each program that joins the corpus, and why (-vv) */
} cov_worker;

/* "afl" or "afl-blind" as a mode; -1 for anything else. cov_mode_name() is the way back
 * ("none" for COV_NONE). */
int cov_parse_mode(const char *arg, cov_mode *mode);
const char *cov_mode_name(cov_mode mode);

/*
 * Is the server of the --exec command line `exec` an AFL++-instrumented binary, and what map
 * does it need? The binary is the command's first word (after VAR=value words and `exec`),
 * looked up in PATH as sh would. It must be an ELF file containing "__AFL_SHM_ID\0"; when it
 * contains "AFL_DUMP_MAP_SIZE" it is run once with AFL_DUMP_MAP_SIZE=1 (5 s at most) and the
 * number it prints is the map size it needs. *need gets that size in bytes (COV_MIN_MAP when it
 * says nothing). Returns 0, or -1 with why[0..n) naming the problem and the fix.
 */
int cov_check_exec(const char *exec, size_t *need, char *why, size_t n);

/* The shared state for a map of `need` bytes (cov_check_exec()), in memory every forked worker
 * shares; NULL out of memory (printed). Never freed: it ends with the processes. */
cov_shared *cov_shared_new(size_t need, cov_mode mode);

/* The campaign's servers run programs at the same time (--coverage with --jobs or --concurrency
 * over 1): a program runs holding the campaign's lock shared; a program that failed is judged
 * again holding it exclusively (every other server's program finished first, none starts
 * meanwhile), as lanes are within a job (fuzz_lanes.c): a deadline or a p90 missed on a loaded
 * machine is not a finding. Waits in steps of 200 ms; returns false (not held) once *stop is
 * set. cov_unlock() releases either. */
bool cov_lock(cov_shared *sh, bool alone, volatile sig_atomic_t *stop);
void cov_unlock(cov_shared *sh);

/* A worker's segment: created, attached, marked removed (it goes when the last process detaches),
 * and named in this process's environment (__AFL_SHM_ID, AFL_MAP_SIZE) for the servers it
 * starts. Returns 0, or -1 with why[0..n). */
int cov_worker_attach(cov_worker *cw, cov_shared *sh, char *why, size_t n);

/* Did the server attach our segment (its runtime sets map[0] to 1)? Call once the server is up,
 * before the first cov_begin(). */
bool cov_attached(const cov_worker *cw);

/* Before a program: the map cleared (what the server did before is nobody's). */
void cov_begin(cov_worker *cw);

/* After program p (alone; t: what the generator knows of the server): its coverage bucketed and
 * merged into the campaign's; when it reached something new, p joins the corpus (while it has
 * room), and when that was an edge never reached, its deterministic variants are queued (see
 * cov_generate()). Returns the edges it reached first. */
unsigned cov_end(cov_worker *cw, const fz_target *t, const fz_program *p);

/* A program. Under --coverage afl, three in four come from the coverage corpus: half of them
 * (while there are any) are deterministic variants of a program that reached an edge never
 * reached before, the newest half of the time, one at random otherwise (AFL's deterministic
 * stage: one more frame of each of the generator's small and boundary sizes after each frame of
 * each send, each frame's header cut after each of its bytes; 600 at most a program),
 * the others (all of them when no variant is left) 1-4 mutations (fz_mutate()) of a corpus
 * program chosen towards rare edges (of four drawn at random, the one whose rarest edge the
 * fewest programs reached, weighed by how long it ran). The last quarter (and all programs
 * while the corpus is empty, or under afl-blind) are fz_generate()'s with the findings' corpus
 * fc[0..nfc). */
void cov_generate(cov_shared *sh, fz_rng *r, const fz_target *t, const fz_program *fc,
                  size_t nfc, fz_program *out);

/* The campaign's figures: edges reached, programs in the coverage corpus. */
void cov_figures(const cov_shared *sh, uint64_t *edges, uint64_t *corpus);

#endif
