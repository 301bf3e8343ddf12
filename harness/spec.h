/*
 * spec.h — the requirements of docs/spec.md, with their levels, and the checks the scenario
 * engine makes under a fixed requirement. One table each (spec.c): the cases (catalogue.c), the
 * engine (scenario_*.c) and the fuzzer's oracle (fuzz_program.c) name requirements with the
 * REQ_ constants below and take ids and levels from here; docs/spec.md owns the wording and
 * pytest/test_20_catalogue.py keeps the two in step.
 *
 * `grep -n 'HALFCLOSE.5' harness/` lands on this table's row, the catalogue's row and the step
 * that judges it (REQ_HALFCLOSE_5 in scenario_*.c, or the CHK_ row that names it).
 */
#ifndef FRAMESPEC_SPEC_H
#define FRAMESPEC_SPEC_H

#include <stddef.h>

/* A requirement's level (docs/spec.md, RFC 2119): MUST (and MUST NOT) or SHOULD. A case's level
 * is MUST when any requirement it checks is MUST; a failing SHOULD requirement is a warning. */
typedef enum { FS_MUST = 0, FS_SHOULD = 1 } fs_level;

/* Every requirement of docs/spec.md: X(ENUM_NAME, "ID", level). */
#define FS_REQUIREMENTS(X)                                                                     \
    X(FRAMING_1, "FRAMING-1", FS_MUST)                                                         \
    X(FRAMING_2, "FRAMING-2", FS_MUST)                                                         \
    X(FRAMING_3, "FRAMING-3", FS_MUST)                                                         \
    X(FRAMING_4, "FRAMING-4", FS_MUST)                                                         \
    X(SEGMENTATION_1, "SEGMENTATION-1", FS_MUST)                                               \
    X(SEGMENTATION_2, "SEGMENTATION-2", FS_MUST)                                               \
    X(SEGMENTATION_3, "SEGMENTATION-3", FS_MUST)                                               \
    X(SEGMENTATION_4, "SEGMENTATION-4", FS_MUST)                                               \
    X(SEGMENTATION_5, "SEGMENTATION-5", FS_MUST)                                               \
    X(LIMITS_1, "LIMITS-1", FS_MUST)                                                           \
    X(LIMITS_2, "LIMITS-2", FS_MUST)                                                           \
    X(LIMITS_3, "LIMITS-3", FS_MUST)                                                           \
    X(LIMITS_4, "LIMITS-4", FS_SHOULD)                                                         \
    X(LIMITS_5, "LIMITS-5", FS_MUST)                                                           \
    X(LIMITS_6, "LIMITS-6", FS_MUST)                                                           \
    X(LIMITS_7, "LIMITS-7", FS_MUST)                                                           \
    X(HALFCLOSE_1, "HALFCLOSE-1", FS_MUST)                                                     \
    X(HALFCLOSE_2, "HALFCLOSE-2", FS_MUST)                                                     \
    X(HALFCLOSE_3, "HALFCLOSE-3", FS_MUST)                                                     \
    X(HALFCLOSE_4, "HALFCLOSE-4", FS_SHOULD)                                                   \
    X(HALFCLOSE_5, "HALFCLOSE-5", FS_MUST)                                                     \
    X(RESET_1, "RESET-1", FS_MUST)                                                             \
    X(RESET_2, "RESET-2", FS_MUST)                                                             \
    X(RESET_3, "RESET-3", FS_MUST)                                                             \
    X(RESET_4, "RESET-4", FS_MUST)                                                             \
    X(RESET_5, "RESET-5", FS_MUST)                                                             \
    X(IDLE_1, "IDLE-1", FS_MUST)                                                               \
    X(IDLE_2, "IDLE-2", FS_MUST)                                                               \
    X(IDLE_3, "IDLE-3", FS_MUST)                                                               \
    X(BACKPRESSURE_1, "BACKPRESSURE-1", FS_MUST)                                               \
    X(BACKPRESSURE_2, "BACKPRESSURE-2", FS_MUST)                                               \
    X(BACKPRESSURE_3, "BACKPRESSURE-3", FS_MUST)                                               \
    X(BACKPRESSURE_4, "BACKPRESSURE-4", FS_SHOULD)                                             \
    X(CONCURRENCY_1, "CONCURRENCY-1", FS_MUST)                                                 \
    X(CONCURRENCY_2, "CONCURRENCY-2", FS_MUST)                                                 \
    X(CONCURRENCY_3, "CONCURRENCY-3", FS_MUST)                                                 \
    X(LATENCY_1, "LATENCY-1", FS_MUST)                                                         \
    X(LATENCY_2, "LATENCY-2", FS_MUST)                                                         \
    X(RESOURCES_1, "RESOURCES-1", FS_MUST)                                                     \
    X(RESOURCES_2, "RESOURCES-2", FS_MUST)                                                     \
    X(RESOURCES_3, "RESOURCES-3", FS_SHOULD)                                                   \
    X(LIFECYCLE_1, "LIFECYCLE-1", FS_MUST)                                                     \
    X(LIFECYCLE_2, "LIFECYCLE-2", FS_SHOULD)                                                   \
    X(DEADPEER_1, "DEADPEER-1", FS_MUST)                                                       \
    X(DEADPEER_2, "DEADPEER-2", FS_MUST)                                                       \
    X(DEADPEER_3, "DEADPEER-3", FS_SHOULD)                                                     \
    X(DEADPEER_4, "DEADPEER-4", FS_MUST)                                                       \
    X(DEADPEER_5, "DEADPEER-5", FS_MUST)

/* A requirement: REQ_NONE (0: none named), then one constant per row above, in order. */
typedef enum {
    REQ_NONE = 0,
#define FS_REQ_ENUM(name, id, level) REQ_##name,
    FS_REQUIREMENTS(FS_REQ_ENUM)
#undef FS_REQ_ENUM
    REQ_COUNT
} fs_req;

typedef struct {
    const char *id; /* "HALFCLOSE-1" */
    fs_level level;
} fs_requirement;

/* fs_requirements[r] for r in 1..REQ_COUNT-1 (entry 0 is REQ_NONE: id "", MUST). */
extern const fs_requirement fs_requirements[REQ_COUNT];

/* The requirement whose id is id[0..len) ("HALFCLOSE-1"), or REQ_NONE when unknown. */
fs_req fs_req_find(const char *id, size_t len);
/* Its id ("" for REQ_NONE or a value out of range). */
const char *fs_req_id(fs_req r);
/* Its level (FS_MUST for REQ_NONE). */
fs_level fs_req_level(fs_req r);
/* "MUST" or "SHOULD". */
const char *fs_level_name(fs_level level);

/*
 * The engine's checks whose requirement does not depend on the step's tag: what the step judges
 * beyond the bytes its tag is about. A step tagged by its case or the oracle (`# HALFCLOSE-1`
 * in a scenario) is judged under its tag otherwise.
 */
typedef enum {
    CHK_PING_ECHO,      /* ping: every round trip's echo, intact, within 1 s x scale (the
                         * timing is the step's tag's): FRAMING-1 */
    CHK_FLOOD_BOUND,    /* flood ... at-most: the server stops taking bytes from a peer that
                         * does not read: BACKPRESSURE-1 */
    CHK_FLOOD_ECHOES,   /* flood: once the peer reads again, every echo of what it sent:
                         * BACKPRESSURE-2 */
    CHK_SHUT_QUEUED,    /* flood ... then shutdown: the echoes the server held when it read our
                         * FIN are all sent: HALFCLOSE-5 */
    CHK_SHUT_FIN,       /* flood ... then shutdown: then FIN (the last item was whole):
                         * HALFCLOSE-1 */
    CHK_SHUT_PARTIAL,   /* flood ... then shutdown: after a partial item, a close: HALFCLOSE-2 */
    CHK_TERM_PREFIX,    /* flood/stream ... then term: a prefix of the echoes that ends where an
                         * item ends, then FIN: LIFECYCLE-2 */
    CHK_TERM_EXIT,      /* expect server-exit: the server exits by itself, in time, after
                         * SIGTERM: LIFECYCLE-2 */
    CHK_COUNT
} fs_check;

/* The requirement each check judges (spec.c). */
extern const fs_req fs_check_req[CHK_COUNT];

#endif
