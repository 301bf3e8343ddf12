/*
 * decode_fuzz — the frame decoder (target/frame.c) must not depend on how its input is sliced.
 *
 * Input: byte 0 picks the framing (fuzz_common.h's table: Erlang's, other length fields, varints),
 * bytes 1-2 the maximum (0 = default 16 MiB, else small values
 * so the limit is hit), bytes 3-4 seed the chunk schedule; the rest is the stream. The stream is
 * decoded three ways — all at once, with the caller's buffer growing one byte at a time, and
 * growing by scheduled chunks — and the three must give the same frames (offset, length) and the
 * same ending (need-more at the same offset, or the same error with the same announced length).
 * A malformed header (an 11-byte varint, one past 2^64, a length under the header) must be
 * refused within the varint's tenth byte, however the stream is sliced.
 */
#include <string.h>

#include "frame.h"
#include "fuzz_common.h"
#include "fuzz_framings.h"

#define MAX_FRAMES 4096

typedef struct {
    size_t n;
    size_t off[MAX_FRAMES], len[MAX_FRAMES];
    int end;           /* FRAME_NEED_MORE, FRAME_ERR_TOO_LONG or FRAME_ERR_MALFORMED */
    size_t end_off;    /* stream offset of the incomplete or bad frame */
    uint64_t announced;
} outcome;

/* Decode `data` revealing it `step(i)` bytes at a time (0 = all at once). */
FUZZ_HARNESS static void decode(const framing_t *f, uint64_t max, const uint8_t *data, size_t size, int mode,
                   uint32_t seed, outcome *o)
{
    frame_decoder d;
    size_t start = 0, visible = mode == 0 ? size : 0;
    uint32_t rng = seed | 1;
    frame fr;

    frame_decoder_init(&d, f, max);
    o->n = 0; /* the arrays are only read up to n: no need to clear 64 KiB per run */
    o->end = 0;
    o->end_off = 0;
    o->announced = 0;
    for (;;) {
        int r = frame_decode(&d, data + start, visible - start, &fr);
        if (r == FRAME_OK) {
            FUZZ_CHECK(fr.consumed > 0 && fr.consumed <= visible - start, "consumed %zu of %zu",
                       fr.consumed, visible - start);
            FUZZ_CHECK(f->limit_frame ? fr.consumed <= d.max : fr.payload_len <= d.max,
                       "frame %zu, payload %zu > max %llu", fr.consumed, fr.payload_len,
                       (unsigned long long)d.max);
            FUZZ_CHECK(fr.payload >= data + start && fr.payload + fr.payload_len <= data + visible,
                       "payload outside the buffer");
            if (o->n < MAX_FRAMES) {
                o->off[o->n] = (size_t)(fr.payload - data);
                o->len[o->n] = fr.payload_len;
            }
            o->n++;
            start += fr.consumed;
            continue;
        }
        if (r == FRAME_ERR_TOO_LONG || r == FRAME_ERR_MALFORMED) {
            uint64_t hl = fr.header_len;
            FUZZ_CHECK(r == FRAME_ERR_MALFORMED ||
                           (f->limit_frame ? d.max < hl || fr.announced > d.max - hl
                                           : fr.announced > d.max),
                       "error for %llu <= max %llu", (unsigned long long)fr.announced,
                       (unsigned long long)d.max);
            FUZZ_CHECK(r == FRAME_ERR_TOO_LONG || f->kind == FRAMING_VARINT || f->adjust < 0,
                       "malformed without a varint or an adjust");
            o->end = r;
            o->end_off = start;
            o->announced = fr.announced;
            return;
        }
        FUZZ_CHECK(r == FRAME_NEED_MORE, "unknown return %d", r);
        if (visible == size) {
            o->end = r;
            o->end_off = start;
            return;
        }
        if (mode == 1) {
            visible++;
        } else {
            rng = rng * 1103515245u + 12345u;
            visible += 1 + (rng >> 16) % 97;
            if (visible > size)
                visible = size;
        }
    }
}

FUZZ_HARNESS int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static outcome a, b, c;
    fuzz_in in = {data, size};
    framing_t f = fuzz_framing(fuzz_u8(&in));
    uint64_t max = fuzz_u16(&in);
    uint32_t seed = fuzz_u16(&in);

    if (f.kind == FRAMING_RAW)
        return 0; /* raw "frames" are whatever was visible: slicing-dependent by design */
    decode(&f, max, in.p, in.n, 0, seed, &a);
    decode(&f, max, in.p, in.n, 1, seed, &b);
    decode(&f, max, in.p, in.n, 2, seed, &c);
    FUZZ_CHECK(a.n == b.n && a.n == c.n, "frame counts differ: %zu / %zu / %zu", a.n, b.n, c.n);
    for (size_t i = 0; i < a.n && i < MAX_FRAMES; i++)
        FUZZ_CHECK(a.off[i] == b.off[i] && a.off[i] == c.off[i] && a.len[i] == b.len[i] &&
                       a.len[i] == c.len[i],
                   "frame %zu differs", i);
    FUZZ_CHECK(a.end == b.end && a.end == c.end, "endings differ: %d / %d / %d", a.end, b.end,
               c.end);
    FUZZ_CHECK(a.end_off == b.end_off && a.end_off == c.end_off, "ending offsets differ");
    FUZZ_CHECK(a.announced == b.announced && a.announced == c.announced,
               "announced lengths differ");
    return 0;
}
