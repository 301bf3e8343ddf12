/*
 * wire.h — how the harness builds frames. Written apart from echod's codec (target/frame.c) on
 * purpose: the oracle shares no code with what it judges. The harness never decodes a server's
 * output; it knows what it sent and an echo is the same bytes back. It decodes only a client's
 * bytes it did not write itself (wire_next_frame(): a capture's, for `framespec import`).
 *
 * Framings (docs/spec.md, "Framings"): Erlang gen_tcp {packet,0|1|2|4|line} (a big-endian
 * unsigned header with the payload length, or a '\n' terminator), and the parameterised form:
 * a length field of 1, 2, 3, 4 or 8 bytes (big- or little-endian) or a base-128 varint, after
 * `offset` preamble bytes, counting the payload plus -adjust bytes (adjust = -(offset + size)
 * counts the whole frame), with the maximum counting the payload or (limit=frame) the whole
 * frame. A frame is preamble + length field + payload; its echo is the same bytes.
 */
#ifndef FRAMESPEC_WIRE_H
#define FRAMESPEC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { WIRE_RAW = 0, WIRE_LEN, WIRE_VARINT, WIRE_LINE } wire_kind;

/* The longest header the harness writes: a 64-byte preamble and a 10-byte varint. */
#define WIRE_MAX_HEADER 74
/* The byte a preamble is made of: preamble byte i is WIRE_PREAMBLE + i (echoed verbatim). */
#define WIRE_PREAMBLE 0xC0

typedef struct {
    wire_kind kind;
    unsigned width;   /* WIRE_LEN: bytes of the length field (1, 2, 3, 4, 8) */
    bool little;      /* WIRE_LEN: little-endian field */
    unsigned offset;  /* preamble bytes before the field (0..64) */
    int64_t adjust;   /* payload = field + adjust (-65535..0) */
    unsigned strip;   /* recorded for the Netty/tokio mapping; no wire effect */
    bool limit_frame; /* --max-frame counts the whole frame, not the payload */
    char name[96];    /* the canonical name, as wire_framing_name() returns it */
} wire_framing;

/* Erlang {packet,4}: the default framing. */
wire_framing wire_default_framing(void);
/* Parse "0"/"raw", "line", "1"/"u8", "2"/"u16", "3"/"u24", "4"/"u32", "8"/"u64" (each length name
 * with an "le" suffix too), "varint", "len=N", then ",be", ",le", ",offset=N", ",adjust=N",
 * ",strip=N", ",limit=payload|frame". Returns 0, or -1 with a message naming the parameter in
 * err[0..errlen). */
int wire_parse_framing(const char *s, wire_framing *out, char *err, size_t errlen);
/* The canonical name ("raw", "1", "2", "4", "line", "u24", "u32le", "varint", ... then the
 * parameters that are not defaults, e.g. "u32le,offset=2,adjust=-6,limit=frame"): f->name. */
const char *wire_framing_name(const wire_framing *f);
static inline bool wire_is_raw(wire_framing f) { return f.kind == WIRE_RAW; }
static inline bool wire_is_line(wire_framing f) { return f.kind == WIRE_LINE; }
/* A length field (fixed or varint): the framings with a header. */
static inline bool wire_has_header(wire_framing f) { return f.kind == WIRE_LEN || f.kind == WIRE_VARINT; }
/* Header bytes (preamble + length field) of a frame of `len` payload bytes: offset + width, or
 * offset + the varint's size; 0 for raw and line. */
size_t wire_header_size(wire_framing f, uint64_t len);
/* Largest payload the header can express: 2^(8 x width) - 1 + adjust (varint: 2^64 - 1 +
 * adjust; raw, line: 4294967295). */
uint64_t wire_max_expressible(wire_framing f);
/* Largest payload a server with maximum `max` accepts: max, or under limit=frame the largest
 * payload whose whole frame is <= max; never over wire_max_expressible(f). 0 when none fits. */
uint64_t wire_max_payload(wire_framing f, uint64_t max);
/* A payload length for the cases that split a header: 300 (its varint takes 2 bytes), or the
 * largest the framing holds when that is less. */
uint64_t wire_split_len(wire_framing f);
/* Bytes a frame with `len` payload bytes takes on the wire (header + payload, + 1 for line). */
size_t wire_frame_size(wire_framing f, size_t len);
/* Write the header announcing a `len`-byte payload into out[0..wire_header_size(f, len)): the
 * preamble, then the field len - adjust (the low 8 x width bits of it, so a len above
 * wire_max_expressible(f) is truncated: callers check it). It may announce more than any max
 * frame: used for hostile headers. Returns the header size in bytes (0 for raw and line). */
size_t wire_encode_header(wire_framing f, uint64_t len, uint8_t out[WIRE_MAX_HEADER]);
/* Write the preamble and a raw field value (no adjust) into out: for headers that announce less
 * than the header itself (field < -adjust). Returns the bytes written. */
size_t wire_encode_field(wire_framing f, uint64_t field, uint8_t out[WIRE_MAX_HEADER]);
/* Write header + payload (+ '\n' for line) into out (wire_frame_size bytes). Returns that size. */
size_t wire_encode(wire_framing f, const uint8_t *payload, size_t len, uint8_t *out);

/* What wire_next_frame() found at the start of a buffer. */
typedef enum {
    WIRE_CUT_FRAME,     /* a whole frame: *size bytes on the wire, *payload of them payload */
    WIRE_CUT_MORE,      /* not a whole frame yet: more bytes are needed */
    WIRE_CUT_OVERSIZE,  /* a header announcing more than the maximum (LIMITS-2; line: no '\n'
                         * within the maximum): *size = the header's bytes */
    WIRE_CUT_MALFORMED, /* a field under -adjust (LIMITS-6), a varint over 64 bits (LIMITS-7):
                         * *size = the header's bytes read */
} wire_cut;

/* Decode the first frame of what a CLIENT sent, buf[0..n), in framing f, for a server whose
 * maximum is `max` (--max-frame; under limit=frame it counts the whole frame): how
 * `framespec import` and the proxy find frame boundaries in a stream. Raw framing: the whole
 * buffer is one "frame" (an echo owes every byte). Never reads past n. */
wire_cut wire_next_frame(wire_framing f, const uint8_t *buf, size_t n, uint64_t max,
                         size_t *size, uint64_t *payload);

/* Decode only the header at the start of buf[0..n) (length-field and varint framings, as
 * wire_next_frame() does): WIRE_CUT_FRAME when it is whole (*size = its bytes, *payload = the
 * payload it announces, within the maximum), MORE, or OVERSIZE / MALFORMED (*size = the header's
 * bytes read; OVERSIZE: *payload = what it announced). How the proxy follows frames as a stream
 * without holding their payloads. */
wire_cut wire_next_header(wire_framing f, const uint8_t *buf, size_t n, uint64_t max,
                          size_t *size, uint64_t *payload);

#endif
