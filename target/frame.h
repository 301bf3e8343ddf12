/*
 * frame.h — the framespec frame codec used by echod.
 *
 * Framings follow Erlang gen_tcp {packet, 0|1|2|4|line} (Erlang inet docs, inet:setopts/2,
 * option `packet`): a 1-, 2- or 4-byte big-endian unsigned header giving the length of the
 * payload only (not counting the header), then the payload. `raw` (packet 0) has no framing at
 * all; `line` ends a frame with '\n'.
 *
 * The decoder is pure and incremental in the picohttpparser style: the caller owns the bytes,
 * keeps the unconsumed ones in one contiguous buffer, and calls frame_decode() with that buffer
 * whenever it grows. The decoder never allocates, never touches a socket and keeps no global
 * state; a complete frame is returned as a pointer into the caller's buffer (zero-copy).
 *
 * NOTE: the conformance harness (harness/) must never include this file: an oracle shares no
 * code with what it judges.
 */
#ifndef FRAMESPEC_FRAME_H
#define FRAMESPEC_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FRAMING_RAW = 0,  /* {packet,0}: no framing, bytes are echoed as they come */
    FRAMING_U8 = 1,   /* {packet,1}: 1-byte length, payload <= 255 */
    FRAMING_U16 = 2,  /* {packet,2}: 2-byte big-endian length, payload <= 65535 */
    FRAMING_U32 = 4,  /* {packet,4}: 4-byte big-endian length */
    FRAMING_LINE = 5, /* {packet,line}: a frame ends with '\n' */
} framing_t;

/* Default maximum payload size: 16 MiB. */
#define FRAME_DEFAULT_MAX (16u * 1024u * 1024u)

/* Return values of frame_decode(). */
enum {
    FRAME_ERR_TOO_LONG = -1, /* the header (or a line) announces more than the maximum */
    FRAME_NEED_MORE = 0,     /* no complete frame yet: read more bytes and call again */
    FRAME_OK = 1,            /* one complete frame in *out */
};

/* Decoder configuration and the little state an incremental line scan needs. */
typedef struct {
    framing_t framing;
    uint32_t max;   /* maximum payload bytes, already clamped to what the header expresses */
    size_t scanned; /* line framing: bytes of the current partial line already searched */
} frame_decoder;

/* One decode result. Pointers refer into the buffer given to frame_decode(). */
typedef struct {
    const uint8_t *payload; /* FRAME_OK: first payload byte (inside the caller's buffer) */
    size_t payload_len;     /* FRAME_OK: payload bytes (line: without the final '\n') */
    size_t consumed;        /* FRAME_OK: header + payload (+ '\n') bytes to drop from the buffer */
    uint64_t announced;     /* FRAME_OK/ERR: the length the header announced (line ERR: max + 1) */
    size_t need;            /* NEED_MORE: total bytes this frame needs, when known (else 0) */
} frame;

/*
 * Parse a framing name: "0"/"raw", "1"/"u8", "2"/"u16", "4"/"u32", "line".
 * Returns 0 and sets *out, or -1 when the name is unknown.
 */
int frame_parse_framing(const char *name, framing_t *out);

/* Canonical name of a framing ("raw", "1", "2", "4", "line"); a static string. */
const char *frame_framing_name(framing_t f);

/* Header size in bytes: 0 (raw, line), 1, 2 or 4. */
size_t frame_header_size(framing_t f);

/* Largest payload the framing's header can express: 255, 65535, 0xFFFFFFFF (raw/line: 0xFFFFFFFF). */
uint32_t frame_max_expressible(framing_t f);

/*
 * Initialise a decoder. `max` is the largest accepted payload in bytes (0 means the default,
 * 16 MiB); it is clamped to frame_max_expressible(framing), so {packet,1} never exceeds 255.
 */
void frame_decoder_init(frame_decoder *d, framing_t framing, uint64_t max);

/*
 * Decode the first frame of buf[0..len). The caller passes the unconsumed bytes, starting at a
 * frame boundary, each time more arrive; after FRAME_OK it drops out->consumed bytes.
 * Returns FRAME_OK, FRAME_NEED_MORE (out->need = bytes the frame needs in total when the header
 * is complete, else 0) or FRAME_ERR_TOO_LONG (out->announced = the announced length). The length
 * is compared with the maximum before any arithmetic, so a hostile 0xFFFFFFFF cannot overflow.
 * Raw framing returns every available byte (up to max) as one frame; zero bytes is NEED_MORE.
 */
int frame_decode(frame_decoder *d, const uint8_t *buf, size_t len, frame *out);

/* Return values of frame_encode_header(). */
enum {
    FRAME_ENC_OK = 0,
    FRAME_ENC_TOO_LONG = -1, /* payload exceeds the maximum or what the header can express */
    FRAME_ENC_BAD_LINE = -2, /* line framing: the payload contains '\n' */
};

/*
 * Encode the header for a payload of `len` bytes into hdr[0..4) (big-endian), setting *hdr_len to
 * 0, 1, 2 or 4. For line framing pass the payload too (it must not contain '\n'); the caller then
 * sends the payload followed by "\n". `max` is clamped as in frame_decoder_init (0 = default).
 * Returns FRAME_ENC_OK, FRAME_ENC_TOO_LONG or FRAME_ENC_BAD_LINE.
 */
int frame_encode_header(framing_t framing, uint64_t max, const uint8_t *payload, size_t len,
                        uint8_t hdr[4], size_t *hdr_len);

#endif
