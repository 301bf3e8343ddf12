/*
 * frame.h — the framespec frame codec used by echod.
 *
 * A framing is one of (docs/spec.md, "Framings", has the grammar and the mapping to Netty's and
 * tokio's parameters):
 *   raw      Erlang {packet,0}: no framing, bytes are echoed as they come;
 *   line     Erlang {packet,line}: a frame ends with '\n';
 *   length   a fixed-size unsigned length field of 1, 2, 3, 4 or 8 bytes, big- or little-endian,
 *            after `offset` bytes of preamble; the bytes after the field are field + `adjust`
 *            (adjust <= 0: -(offset + size) makes the length count the whole frame). Erlang
 *            {packet,1|2|4} (Erlang inet docs, inet:setopts/2, option `packet`) is offset 0,
 *            adjust 0, big-endian;
 *   varint   the same with a base-128 varint length field (Protocol Buffers' delimited streams:
 *            writeDelimitedTo, Go protodelim): 7 bits a byte, least significant group first, the
 *            high bit set on every byte but the last; at most 10 bytes, the tenth at most 1
 *            (the 64-bit range).
 * The payload is everything after the length field; the echo of a frame is the frame itself,
 * byte for byte (preamble and header included). The maximum counts the payload (Erlang
 * packet_size, tokio with adjust 0) or, with `limit=frame`, the whole frame (Netty
 * maxFrameLength).
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    FRAMING_RAW = 0, /* {packet,0} */
    FRAMING_LEN,     /* a fixed-size length field */
    FRAMING_VARINT,  /* a base-128 varint length field */
    FRAMING_LINE,    /* {packet,line} */
} framing_kind;

/* Most preamble bytes (offset), most |adjust|, longest varint, longest header. */
#define FRAME_MAX_OFFSET 64u
#define FRAME_MAX_ADJUST 65535
#define FRAME_VARINT_MAX 10u
#define FRAME_MAX_HEADER (FRAME_MAX_OFFSET + FRAME_VARINT_MAX)
/* Room for frame_framing_name(): the longest canonical name fits. */
#define FRAME_NAME_LEN 96

/* A framing, as frame_parse_framing() builds it. Compare with frame_framing_name(). */
typedef struct {
    framing_kind kind;
    uint8_t size;     /* FRAMING_LEN: length field bytes 1, 2, 3, 4 or 8 (else 0) */
    bool le;          /* FRAMING_LEN: little-endian field (false for size 1) */
    uint8_t offset;   /* preamble bytes before the length field, 0..FRAME_MAX_OFFSET */
    int32_t adjust;   /* bytes after the field = field value + adjust; -FRAME_MAX_ADJUST..0 */
    uint8_t strip;    /* Netty initialBytesToStrip / tokio num_skip: recorded, no wire effect */
    bool limit_frame; /* the maximum counts the whole frame, not the payload */
} framing_t;

/* Default maximum: 16 MiB (payload, or whole frame with limit=frame). */
#define FRAME_DEFAULT_MAX (16u * 1024u * 1024u)
/* The largest maximum echod accepts: 4 GiB - 1 (a frame is held in memory). */
#define FRAME_MAX_MAX 0xFFFFFFFFu

/* Return values of frame_decode(). */
enum {
    FRAME_ERR_MALFORMED = -2, /* a varint over 10 bytes or past 2^64, or a length under adjust */
    FRAME_ERR_TOO_LONG = -1,  /* the header (or a line) announces more than the maximum */
    FRAME_NEED_MORE = 0,      /* no complete frame yet: read more bytes and call again */
    FRAME_OK = 1,             /* one complete frame in *out */
};

/* Decoder configuration and the little state an incremental line scan needs. */
typedef struct {
    framing_t framing;
    uint64_t max;   /* the maximum, clamped to what the header expresses (see limit_frame) */
    size_t scanned; /* line framing: bytes of the current partial line already searched */
} frame_decoder;

/* One decode result. Pointers refer into the buffer given to frame_decode(). */
typedef struct {
    const uint8_t *payload; /* FRAME_OK: first payload byte (inside the caller's buffer) */
    size_t payload_len;     /* FRAME_OK: payload bytes (line: without the final '\n') */
    size_t consumed;        /* FRAME_OK: the whole frame (preamble, header, payload, '\n') */
    uint64_t announced;     /* FRAME_OK/ERR: the payload the header announced (line ERR: max + 1;
                             * MALFORMED: the field value, or 0 for a bad varint) */
    size_t need;            /* NEED_MORE: total bytes this frame needs, when known (else 0) */
    size_t header_len;      /* OK/TOO_LONG/NEED_MORE with need: preamble + length field as sent
                             * (a redundant varint such as 80 00 is longer than canonical) */
} frame;

/*
 * Parse a framing: a name ("0"/"raw", "line", "1"/"u8", "2"/"u16", "3"/"u24", "4"/"u32",
 * "8"/"u64", each length name also with an "le" suffix as in "u32le", "varint", or "len=N"),
 * then comma-separated parameters: "be", "le", "offset=N" (0..64), "adjust=N" (-65535..0),
 * "strip=N" (0..offset + field size), "limit=payload|frame". Raw and line take none.
 * Returns 0 and sets *out, or -1 with a message naming the parameter in err[0..errlen).
 */
int frame_parse_framing(const char *spec, framing_t *out, char *err, size_t errlen);

/* Canonical name of a framing into buf[0..n) (FRAME_NAME_LEN is enough): "raw", "line", "1",
 * "2", "4", "u24", "u64", "u16le", ..., "varint", then the parameters that are not defaults
 * (",offset=2,adjust=-6,strip=6,limit=frame"). Returns buf. */
const char *frame_framing_name(const framing_t *f, char *buf, size_t n);

/* Bytes before the payload of a frame with `payload_len` payload bytes: offset + field size
 * (varint: its encoded size); 0 for raw and line. */
size_t frame_header_size(const framing_t *f, uint64_t payload_len);

/* Largest payload the header can express: 2^(8 x size) - 1 + adjust (varint: 2^64 - 1 +
 * adjust; raw/line: 0xFFFFFFFF). */
uint64_t frame_max_expressible(const framing_t *f);

/*
 * The maximum a decoder enforces for `max` (0 means the default, 16 MiB): the largest payload
 * (or, with limit=frame, whole frame) the header can express, FRAME_MAX_MAX, or max, whichever
 * is smallest. So {packet,1} never exceeds 255.
 */
uint64_t frame_effective_max(const framing_t *f, uint64_t max);

/* Initialise a decoder for `framing` with frame_effective_max(framing, max). */
void frame_decoder_init(frame_decoder *d, const framing_t *framing, uint64_t max);

/*
 * Decode the first frame of buf[0..len). The caller passes the unconsumed bytes, starting at a
 * frame boundary, each time more arrive; after FRAME_OK it drops out->consumed bytes.
 * Returns FRAME_OK, FRAME_NEED_MORE (out->need = bytes the frame needs in total when the header
 * is complete, else 0), FRAME_ERR_TOO_LONG (out->announced = the announced payload) or
 * FRAME_ERR_MALFORMED (a varint of 11 bytes or past 2^64 is refused as soon as its bytes are
 * seen; a field under -adjust announces less than the header itself). The length is compared
 * with the maximum before any arithmetic that could overflow, and nothing is allocated.
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
 * Encode the header for a payload of `len` bytes into hdr[0..FRAME_MAX_HEADER): `offset` zero
 * bytes of preamble, then the length field (field = len - adjust), setting *hdr_len (0 for raw
 * and line). For line framing pass the payload too (it must not contain '\n'); the caller then
 * sends the payload followed by "\n". `max` is as in frame_effective_max (0 = default).
 * Returns FRAME_ENC_OK, FRAME_ENC_TOO_LONG or FRAME_ENC_BAD_LINE.
 */
int frame_encode_header(const framing_t *framing, uint64_t max, const uint8_t *payload, size_t len,
                        uint8_t hdr[FRAME_MAX_HEADER], size_t *hdr_len);

#endif
