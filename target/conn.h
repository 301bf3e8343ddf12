/*
 * conn.h — echod's per-connection state machine, without sockets ("sans-I/O").
 *
 * The event loop (echod.c) does the syscalls; this module decides what to read, what to echo
 * and when to close. The same code is driven by fuzz/conn_fuzz.c with fuzzed events.
 *
 * One buffer holds everything the connection owns:
 *
 *     0        wpos            dpos              len            cap
 *     |  free  | echo pending  | partial frame   |    room      |
 *
 * [wpos, dpos) are complete frames not yet written back (the echo is the received bytes, header
 * included, so it is sent straight from the input buffer); [dpos, len) is the frame being
 * received. The output queue's high-water mark bounds what a peer that never reads can make us
 * hold: once dpos - wpos > hwm we stop reading (EPOLLIN off) until it drains. The buffer grows
 * to at most 2 x (hwm + one max frame + header + 4 KiB) (or stays at its initial 16 KiB); it never
 * grows to a length a header announced before that length was checked against the maximum.
 */
#ifndef FRAMESPEC_CONN_H
#define FRAMESPEC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Default high-water mark of the echo queue: 256 KiB. */
#define CONN_DEFAULT_HWM (256u * 1024u)
/* Initial buffer size and the most one read asks for: 16 KiB and 64 KiB. */
#define CONN_INITIAL_CAP (16u * 1024u)
#define CONN_READ_CHUNK (64u * 1024u)

typedef enum {
    CONN_OPEN = 0,   /* reading and echoing */
    CONN_DRAINING,   /* no more input (peer's FIN, a bad header, shutdown): flush, then close */
    CONN_CLOSED,     /* closed: every call is a no-op */
} conn_state;

/* Why a connection stopped reading (for logs and tests). */
typedef enum {
    CONN_WHY_NONE = 0,
    CONN_WHY_EOF,      /* peer's FIN at a frame boundary */
    CONN_WHY_EOF_MID,  /* peer's FIN inside a frame: the partial frame is dropped */
    CONN_WHY_TOO_LONG, /* header announced more than the maximum */
    CONN_WHY_IDLE,     /* idle timeout */
    CONN_WHY_SHUTDOWN, /* server shutting down (SIGTERM) */
    CONN_WHY_ERROR,    /* ECONNRESET, EPIPE or another socket error */
    CONN_WHY_NOMEM,    /* buffer allocation failed */
    CONN_WHY_MALFORMED, /* a varint over 10 bytes or 2^64, or a length under the header */
} conn_why;

typedef struct {
    frame_decoder dec;
    uint8_t *buf;   /* owned; freed by conn_free() */
    size_t cap;     /* allocated bytes of buf */
    size_t wpos;    /* first byte not yet echoed */
    size_t dpos;    /* end of complete frames */
    size_t len;     /* end of received bytes */
    size_t hwm;     /* high-water mark of the echo queue, bytes */
    size_t need;    /* bytes the current partial frame needs in total, when known */
    conn_state state;
    conn_why why;
    uint64_t frames_in;   /* complete frames decoded */
    uint64_t bytes_in;    /* bytes received */
    uint64_t bytes_out;   /* bytes echoed */
    uint64_t announced;   /* CONN_WHY_TOO_LONG: the announced length */
} conn;

/*
 * Initialise a connection for `framing` (copied) with maximum `max` bytes (payload, or whole
 * frame with limit=frame; 0 = 16 MiB; clamped as frame_effective_max()) and echo-queue high-water mark `hwm` bytes (0 = 256 KiB). Allocates the initial
 * 16 KiB buffer. Returns 0, or -1 when out of memory (nothing to free then).
 */
int conn_init(conn *c, const framing_t *framing, uint64_t max, size_t hwm);

/* Release the buffer; the connection becomes CONN_CLOSED. Safe to call twice. */
void conn_free(conn *c);

/*
 * Where the next read should put bytes. Returns a pointer into the connection's buffer and sets
 * *room (> 0), or returns NULL with *room = 0 when the connection must not read now (draining,
 * closed, or the echo queue is above the high-water mark). May grow or compact the buffer; on
 * allocation failure it returns NULL and moves to CONN_DRAINING with CONN_WHY_NOMEM.
 */
uint8_t *conn_read_space(conn *c, size_t *room);

/*
 * Account for `n` bytes (1 <= n <= *room of the last conn_read_space) read into the read space and
 * decode the complete frames among them. A header over the maximum (or a malformed one) moves
 * the connection to CONN_DRAINING (CONN_WHY_TOO_LONG, CONN_WHY_MALFORMED): earlier echoes are still flushed, nothing after the bad
 * header is kept. Returns the number of new complete frames.
 */
size_t conn_on_read(conn *c, size_t n);

/*
 * The peer's FIN arrived (read returned 0). Complete frames stay queued; a partial frame is
 * dropped (CONN_WHY_EOF_MID). The connection drains, then wants to close.
 */
void conn_on_eof(conn *c);

/* Stop reading for `why` (idle timeout, shutdown): flush what is queued, then close. */
void conn_drain(conn *c, conn_why why);

/* Bytes waiting to be echoed: returns a pointer to them and sets *len (0 when nothing waits). */
const uint8_t *conn_write_space(const conn *c, size_t *len);

/* `n` bytes (n <= the last conn_write_space length) were written to the peer. */
void conn_on_written(conn *c, size_t n);

/* True when the connection wants to read (state open and queue under the high-water mark). */
bool conn_wants_read(const conn *c);

/* True when the connection has something to write. */
bool conn_wants_write(const conn *c);

/* True when the connection is draining and everything is written: shut down and close it now. */
bool conn_done(const conn *c);

/* Bytes the connection buffers right now (echo queue + partial frame). */
size_t conn_buffered(const conn *c);

/* Short name of a conn_why value ("eof", "too-long", ...); a static string. */
const char *conn_why_name(conn_why why);

#endif
