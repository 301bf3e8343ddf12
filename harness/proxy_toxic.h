/*
 * proxy_toxic.h — the toxics of `framespec proxy`: Toxiproxy's own types, implemented as
 * Toxiproxy defines them (github.com/Shopify/toxiproxy, its toxics folder), and framespec's frame
 * toxics, which follow the framing with the harness's own decoder (wire_next_header()).
 *
 * A toxic acts on one direction of every connection of a proxy: upstream is client -> server,
 * downstream is server -> client (Toxiproxy's streams). Its toxicity is rolled once per
 * connection and direction, when the connection starts or the toxic is added (Toxiproxy's
 * toxics/toxic.go ToxicStub.Run). Bytes pass through the direction's toxics in the order they
 * were added, as pieces: the bytes of one read, cut at frame, header and payload boundaries
 * when a frame toxic is on the direction. What comes out is a queue of operations for the relay
 * (proxy_relay.c): data to send (each with a not-before time, and whether it starts a send() of
 * its own), SHUT_WR, RST, close, vanish.
 *
 * Times are CLOCK_MONOTONIC microseconds (sock_now_ns() / 1000).
 */
#ifndef FRAMESPEC_PROXY_TOXIC_H
#define FRAMESPEC_PROXY_TOXIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* The streams: upstream (client -> server), downstream (server -> client). */
typedef enum { PX_UP = 0, PX_DOWN = 1 } px_stream;

typedef enum {
    /* Toxiproxy's */
    TX_LATENCY, TX_BANDWIDTH, TX_SLOW_CLOSE, TX_TIMEOUT, TX_RESET_PEER, TX_SLICER,
    TX_LIMIT_DATA, TX_NOOP,
    /* framespec's: they follow the framing */
    TX_FRAME_SPLIT, TX_FRAME_COALESCE, TX_FRAME_DELAY, TX_FRAME_STALL, TX_FRAME_RESET,
    TX_FRAME_SHUTDOWN, TX_FRAME_CLOSE, TX_VANISH, TX_FRAME_LENGTH, TX_FRAME_DROP, TX_FRAME_DUP,
    TX_NTYPES
} tx_type;

#define TX_MAX_ATTRS 6
#define TX_NAME_MAX 64

/* One attribute of a toxic type: a whole number in [min, max] (Toxiproxy's attributes are JSON
 * integers), or one of `words` (stored as its index; JSON gives the word or the index). */
typedef struct {
    const char *name;
    int64_t def, min, max;
    const char *const *words; /* NULL: a number */
    const char *unit;         /* "ms", "us", "bytes", "KB/s" (1000 bytes/s), "frames", "" */
} tx_attr;

typedef struct {
    const char *name;    /* the type, as Toxiproxy's JSON and --toxic spell it */
    bool frames;         /* framespec's: needs the framing */
    const char *what;    /* one line, for --help and the man page */
    tx_attr attrs[TX_MAX_ATTRS];
} tx_def;

/* The types, indexed by tx_type: the one table (usage text, JSON and --toxic read it). */
extern const tx_def tx_defs[TX_NTYPES];

/* A toxic as configured: the API's JSON {name, type, stream, toxicity, attributes}. */
typedef struct {
    char name[TX_NAME_MAX]; /* default TYPE_STREAM, e.g. latency_downstream */
    tx_type type;
    px_stream stream;
    double toxicity;        /* 0..1, default 1: the chance a connection gets it */
    int64_t attr[TX_MAX_ATTRS]; /* in tx_defs[type].attrs order */
} px_toxic;

/* The stream's name: "upstream" or "downstream". */
const char *px_stream_name(px_stream s);
/* The type named `name` (len bytes), or -1. */
int tx_find(const char *name, size_t len);
/* The index of attribute `name` of type t, or -1. */
int tx_attr_find(tx_type t, const char *name);
/* A toxic of type t on stream s with the defaults (name TYPE_STREAM, toxicity 1). */
void tx_init(px_toxic *t, tx_type type, px_stream s);
/* Set attribute i of t from text (a number, or one of its words). 0, or -1 with a message in
 * err[0..n) naming the attribute, the value and what it takes. */
int tx_set_attr(px_toxic *t, int i, const char *text, char *err, size_t n);
/* Parse --toxic 'TYPE[:STREAM][:ATTR=V,ATTR=V...]' (pseudo-attributes: toxicity=P, name=N).
 * 0, or -1 with a message in err[0..n) naming the part that is wrong and what it takes. */
int tx_parse_spec(const char *spec, px_toxic *out, char *err, size_t n);
/* Why toxic t cannot act under framing f (frame_length and frame_split at=header need a length
 * field; frame toxics need frames), or NULL. */
const char *tx_unfit(const px_toxic *t, wire_framing f);
/* Print the types and their attributes (for --help and `framespec proxy --list-toxics`). */
void tx_print_types(void *file);

/* ---- one direction of one connection: the toxics' state and the operations they produce ---- */

typedef enum { PX_OP_DATA, PX_OP_SHUT, PX_OP_RST, PX_OP_CLOSE, PX_OP_VANISH } px_op_kind;

/* An operation for the relay, in order: the bytes it holds (owned, data[off..len)) or a close. */
typedef struct px_op {
    struct px_op *next;
    px_op_kind kind;
    bool cut;        /* starts a send() of its own (a split): never merged with what precedes */
    int64_t at_us;   /* not before (monotonic microseconds) */
    size_t len, off;
    uint8_t data[];
} px_op;

/* Where a piece lies in the framing. */
typedef enum { PX_PART_RAW, PX_PART_HEADER, PX_PART_PAYLOAD } px_part;

/* The stream's frames, followed as bytes pass (no payload is held). */
typedef struct {
    wire_framing f;
    uint64_t max;                  /* the server's maximum (--max-frame) */
    uint8_t hdr[WIRE_MAX_HEADER];  /* the current header's bytes so far */
    size_t nhdr;
    bool in_payload;
    uint64_t left;                 /* payload bytes left in the current frame */
    uint64_t plen;                 /* the current frame's payload (once its header is whole) */
    size_t hlen;                   /* the current frame's header bytes (once whole) */
    uint64_t frame;                /* the current frame's index (0-based) */
    uint64_t line;                 /* line: bytes of the current line so far */
    bool broken;                   /* an oversize or malformed header: no frames from here on */
} px_tracker;

/* A toxic's state on one direction of one connection. */
typedef struct {
    px_toxic tx;          /* its configuration (a copy: updates are copied in) */
    bool active;          /* the toxicity roll */
    bool fired;           /* reset_peer, limit_data, frame_reset/shutdown/close, vanish: done */
    bool cut_next;        /* the next piece starts a send() of its own */
    bool held_header;     /* frame_length: holding the selected frame's header */
    uint64_t frames;      /* frames that ended through it */
    uint64_t bytes;       /* limit_data: bytes forwarded */
    uint64_t frame_off;   /* frame_split every: bytes of the current frame so far */
    int64_t clock_us;     /* bandwidth: when the link is free; frame_stall: resume time */
    int64_t delay_us;     /* frame_delay: the current frame's delay */
    int64_t wake_us;      /* a timer (timeout, reset_peer): 0 none */
    uint8_t *held;        /* frame_coalesce, frame_dup, frame_length: bytes held; owned */
    size_t nheld, cap;
    uint64_t held_frames;
} px_stub;

#define PX_MAX_TOXICS 32

/* One direction of one connection: its toxics, its frames and its queue of operations. */
typedef struct {
    px_stub stub[PX_MAX_TOXICS];
    size_t nstub;
    px_tracker tr;
    bool track;            /* a frame toxic is on: pieces are cut at frame boundaries */
    px_op *head, *tail;
    size_t queued;         /* bytes in the queue (backpressure: the relay stops reading) */
    int64_t last_us;       /* at_us of the last operation queued (order is kept) */
    uint64_t dropped;      /* bytes toxics discarded (drop, timeout, after a close) */
    bool shut;             /* a SHUT_WR is queued: later bytes are dropped */
    bool ended;            /* a close, RST or vanish is queued: nothing more enters */
    uint64_t *seed;        /* the connection's random state (toxicity, jitter, slicer) */
} px_dir;

/* Start dir: the toxics of `list` on stream s (n of them), each rolled, framing f with maximum
 * max. 0, or -1 (more than PX_MAX_TOXICS). now_us starts their timers. */
int px_dir_init(px_dir *d, const px_toxic *list, size_t n, px_stream s, wire_framing f,
                uint64_t max, uint64_t *seed, int64_t now_us);
/* Bytes the source sent (p[0..n), not kept), read at now_us, through the toxics into the queue.
 * 0, or -1 out of memory. */
int px_dir_data(px_dir *d, const uint8_t *p, size_t n, int64_t now_us);
/* Bytes that went to the destination without the toxics (the relay's path when a direction
 * has none): only the frames are followed, so that a frame toxic added later knows where they
 * are. */
void px_dir_follow(px_dir *d, const uint8_t *p, size_t n);
/* The source's FIN: through the toxics (slow_close delays it), then SHUT_WR to the destination
 * (or a close, timeout and limit_data). 0 or -1 (out of memory). */
int px_dir_eof(px_dir *d, int64_t now_us);
/* Timers due at now_us (timeout, reset_peer): their operations. 0 or -1. */
int px_dir_tick(px_dir *d, int64_t now_us);
/* The earliest time something in d wants the relay: a timer or a queued operation's not-before
 * time (0: nothing). */
int64_t px_dir_next_us(const px_dir *d);
/* Replace the toxics by `list` (the API added, changed or removed some): a toxic kept keeps its
 * state and roll, a new one is rolled, a removed one lets what it held through. 0 or -1. */
int px_dir_update(px_dir *d, const px_toxic *list, size_t n, px_stream s, int64_t now_us);
/* Free the queue and what the toxics hold. */
void px_dir_free(px_dir *d);
/* Unlink the queue's head (the caller frees it). */
px_op *px_dir_pop(px_dir *d);

#endif
