/*
 * wire.h — how the harness builds frames. Written apart from echod's codec (target/frame.c) on
 * purpose: the oracle shares no code with what it judges. The harness never decodes a server's
 * output; it knows what it sent and an echo is the same bytes back.
 *
 * Framings follow Erlang gen_tcp {packet,0|1|2|4|line}: a big-endian unsigned header with the
 * payload length (payload only), or a '\n' terminator.
 */
#ifndef FRAMESPEC_WIRE_H
#define FRAMESPEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { WIRE_RAW = 0, WIRE_U8 = 1, WIRE_U16 = 2, WIRE_U32 = 4, WIRE_LINE = 5 } wire_framing;

/* "0"/"raw", "1"/"u8", "2"/"u16", "4"/"u32", "line". Returns 0, or -1 when unknown. */
int wire_parse_framing(const char *s, wire_framing *out);
/* "raw", "1", "2", "4", "line". */
const char *wire_framing_name(wire_framing f);
/* Header bytes: 0, 1, 2 or 4. */
size_t wire_header_size(wire_framing f);
/* Largest length the header can express: 255, 65535, 4294967295 (raw, line: 4294967295). */
uint64_t wire_max_expressible(wire_framing f);
/* Bytes a frame with `len` payload bytes takes on the wire (header + payload, + 1 for line). */
size_t wire_frame_size(wire_framing f, size_t len);
/* Write the header announcing `len` into out[0..wire_header_size(f)) (at most 4 bytes; none for
 * raw and line): big-endian, the low 8 x size bits of len, so a len above
 * wire_max_expressible(f) is truncated (callers check it). It may announce more than any max
 * frame: used for hostile headers. Returns the header size in bytes. */
size_t wire_encode_header(wire_framing f, uint64_t len, uint8_t out[4]);
/* Write header + payload (+ '\n' for line) into out (wire_frame_size bytes). Returns that size. */
size_t wire_encode(wire_framing f, const uint8_t *payload, size_t len, uint8_t *out);

#endif
