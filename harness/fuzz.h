/*
 * fuzz.h — `framespec fuzz`: stateful fuzzing of any framed echo server over real sockets.
 *
 * A *program* is a short list of actions on one to three connections (send frames, sliced or
 * coalesced, with pauses; stop and resume reading; SHUT_WR at a boundary or mid-frame; RST;
 * close with echoes in flight; an oversized header; silence). The *oracle* (fuzz_derive()) turns
 * a program into a scenario (scenario.h) by adding the expects that docs/spec.md requires, each
 * citing its requirement id, so a program is run, judged, printed and replayed by the same engine
 * as `framespec replay`. Shrinking works on the actions and derives the expects again, so a
 * shrunk program is always judged by the whole oracle.
 */
#ifndef FRAMESPEC_FUZZ_H
#define FRAMESPEC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario.h"
#include "wire.h"

#define FZ_MAX_ACTIONS 24
#define FZ_MAX_FRAMES 4
#define FZ_MAX_CUTS 6
#define FZ_MAX_CONNS 3

typedef enum {
    A_SEND,      /* frames[0..nframes) x reps, cut into writes (by / cuts), pause between */
    A_DRAIN,     /* await every echo pending on the connection */
    A_STOP_READ, /* stop reading (the kernel's queues fill) */
    A_RESUME,    /* read again */
    A_SHUT_WR,   /* shutdown(SHUT_WR) at a frame boundary; partial 1: frames[0..nframes) first,
                  * corked, so that they and the FIN arrive in one segment */
    A_SHUT_MID,  /* `partial` bytes of a frame of frames[0] bytes, then SHUT_WR */
    A_ABORT,     /* `partial` bytes of a frame of frames[0] bytes (0: none), then RST */
    A_CLOSE,     /* close(2), echoes possibly in flight; partial 1: echoes awaited, then 8 small
                  * frames and the FIN in one segment (TCP_CORK) */
    A_OVERSIZE,  /* a header announcing frames[0] > max, then `partial` payload bytes */
    A_SILENCE,   /* nothing for ms milliseconds */
    A_PING,      /* reps round trips of frames[0..nframes), one at a time (LATENCY-1) */
    A_FLOOD,     /* frames of frames[0] bytes, sent without reading until the server stops
                  * taking them; then every echo (BACKPRESSURE-1, -2); partial 1: SHUT_WR
                  * first, and then every echo of a whole frame and the close (HALFCLOSE-5) */
    A_TERM,      /* (--exec) frames of frames[0] bytes flooded until the server stops reading,
                  * then SIGTERM: a prefix of their echoes ending at a frame boundary, then FIN
                  * (LIFECYCLE-2); a new server on a new port for what follows */
    A_RESTART,   /* (--exec) SIGTERM with the connections open and drained; their FIN
                  * (LIFECYCLE-2); the server started again on the same port at once, while
                  * those connections are in TIME_WAIT on its side (LIFECYCLE-1) */
    A_VANISH,    /* (in framespec's network namespace) the peer vanishes, idle (partial 0:
                  * DEADPEER-1), with an echo in flight (1: DEADPEER-2) or by a middlebox's RST
                  * (2: DEADPEER-5); the server must release the connection in time */
    A_NKINDS
} fz_akind;

typedef struct {
    fz_akind kind;
    int conn;                        /* 0..FZ_MAX_CONNS-1 */
    size_t nframes;
    uint64_t frames[FZ_MAX_FRAMES];  /* payload sizes */
    uint64_t reps;
    uint64_t by;                     /* bytes per write (0: none) */
    uint64_t cuts[FZ_MAX_CUTS];      /* write boundaries (increasing; used when by is 0) */
    size_t ncuts;
    long pause_ms;
    uint64_t partial;                /* A_SHUT_MID, A_ABORT, A_OVERSIZE; A_FLOOD, A_CLOSE,
                                      * A_SHUT_WR: 0 or 1; A_VANISH: 0, 1 or 2 */
    long ms;                         /* A_SILENCE */
} fz_action;

typedef struct {
    fz_action a[FZ_MAX_ACTIONS];
    size_t n;
} fz_program;

/* What the generator and the oracle know about the server. */
typedef struct {
    wire_framing framing;
    uint64_t max_payload; /* the server's largest payload (bytes; under limit=frame the largest
                           * payload whose whole frame fits --max-frame: wire_max_payload) */
    double idle_s;        /* its idle timeout (0: none) */
    double keepalive_s;   /* its keepalive promise IDLE + INTVL x CNT, s (0: none): a peer
                           * silent longer than that still echoes (DEADPEER-4) */
    int keepalive[3];     /* --keepalive IDLE,INTVL,CNT ({0}: none) */
    int64_t user_timeout_ms; /* --user-timeout (0: none) */
    bool netns;           /* workers and servers run in framespec's network namespace: peers can
                           * vanish (A_VANISH) */
    bool exec;            /* framespec launched it: its descriptors can be counted */
    bool skip_released;   /* do not count them: a descriptor finding is already recorded, and
                           * each program that leaks would wait 5 s for nothing */
    double scale;         /* timeout scale (1.0) */
} fz_target;

/* A small PRNG (splitmix64): the same seed gives the same programs. */
typedef struct {
    uint64_t s;
} fz_rng;
uint64_t fz_next(fz_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t fz_below(fz_rng *r, uint64_t n);

/* A new random program from r, or (with a corpus) a mutation of one of its programs. */
void fz_generate(fz_rng *r, const fz_target *t, const fz_program *corpus, size_t ncorpus,
                 fz_program *out);

/* Change p in one way (a corpus entry, 1-3 times per program): an action inserted, deleted,
 * replaced or duplicated (right after itself or later), a frame's size, one more frame in a
 * send, a send's write boundaries and pauses, or a splice (p's first actions, `other`'s last;
 * other may be NULL). p stays within FZ_MAX_ACTIONS, FZ_MAX_FRAMES and t's sizes. */
void fz_mutate(fz_rng *r, const fz_target *t, fz_program *p, const fz_program *other);

/*
 * The oracle: the scenario that program p must pass (expects with requirement ids from
 * docs/spec.md). alt_req[0..alt_cap) (may be NULL; steps past alt_cap get nothing) gets, for an
 * expect that awaits echoes or a close while an older connection is open, REQ_CONCURRENCY_1: what
 * it means when nothing ever arrived there and a fresh connection is not served either.
 * Returns 0, or -1 out of memory (s freed).
 */
int fz_derive(const fz_program *p, const fz_target *t, scenario *s, fs_req *alt_req,
              size_t alt_cap);

/* The program as one line of text ("# program: v1 framing=F max=N ..." in findings and corpus
 * files), and back. fz_decode returns 0, or -1 when the line is not a program, was found under
 * another framing or maximum than t's, or holds a value out of range (negative, sizes over what
 * t allows, a partial frame as long as the frame, cuts that do not increase). */
void fz_encode(FILE *out, const fz_program *p, const fz_target *t);
int fz_decode(const char *line, const fz_target *t, fz_program *p);

/* `framespec fuzz ...` (argv[0] = "fuzz"). Returns the exit code: 0 no finding, 1 findings,
 * 2 usage or setup error. */
int fuzz_main(int argc, char **argv);

#endif
