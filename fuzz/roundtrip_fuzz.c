/*
 * roundtrip_fuzz — payloads -> frame_encode_header -> one stream -> frame_decode with random
 * chunking -> the same payloads. The encoder must refuse exactly what does not fit: a payload over
 * the maximum (or over what the header expresses), or a line containing '\n'.
 *
 * Input: byte 0 framing (fuzz_common.h's table; raw has no frames and is skipped), bytes 1-2 maximum, then records: 2-byte length + that many payload bytes.
 */
#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "fuzz_common.h"
#include "fuzz_framings.h"

#define MAX_PAYLOADS 512
#define STREAM_CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stream[STREAM_CAP];
    const uint8_t *pl[MAX_PAYLOADS];
    size_t plen[MAX_PAYLOADS], np = 0, slen = 0, start = 0, visible = 0, got = 0;
    fuzz_in in = {data, size};
    framing_t f = fuzz_framing(fuzz_u8(&in));
    uint64_t max = fuzz_u16(&in);
    uint32_t rng = 7;
    frame_decoder d;
    frame fr;

    if (f.kind == FRAMING_RAW)
        return 0;
    frame_decoder_init(&d, &f, max);
    while (in.n > 0 && np < MAX_PAYLOADS) {
        size_t len = fuzz_u16(&in), hl;
        uint8_t hdr[FRAME_MAX_HEADER];
        uint64_t fhl;
        int rc;
        bool has_nl;
        if (len > in.n)
            len = in.n;
        has_nl = len > 0 && memchr(in.p, '\n', len) != NULL;
        rc = frame_encode_header(&f, max, in.p, len, hdr, &hl);
        fhl = frame_header_size(&f, len);
        if (len > frame_max_expressible(&f) || (f.limit_frame ? fhl + len > d.max : len > d.max)) {
            FUZZ_CHECK(rc == FRAME_ENC_TOO_LONG, "encoder accepted %zu > max %llu", len,
                       (unsigned long long)d.max);
        } else if (f.kind == FRAMING_LINE && has_nl) {
            FUZZ_CHECK(rc == FRAME_ENC_BAD_LINE, "encoder accepted a line with '\\n'");
        } else {
            FUZZ_CHECK(rc == FRAME_ENC_OK && hl == fhl, "encoder refused %zu <= max %llu (rc %d)",
                       len, (unsigned long long)d.max, rc);
            if (slen + hl + len + 1 <= STREAM_CAP) {
                memcpy(stream + slen, hdr, hl);
                memcpy(stream + slen + hl, in.p, len);
                slen += hl + len;
                if (f.kind == FRAMING_LINE)
                    stream[slen++] = '\n';
                pl[np] = in.p;
                plen[np++] = len;
            }
        }
        in.p += len;
        in.n -= len;
    }
    /* decode with random chunking */
    for (;;) {
        int r = frame_decode(&d, stream + start, visible - start, &fr);
        if (r == FRAME_OK) {
            FUZZ_CHECK(got < np, "more frames decoded than encoded");
            FUZZ_CHECK(fr.payload_len == plen[got] &&
                           (plen[got] == 0 || memcmp(fr.payload, pl[got], plen[got]) == 0),
                       "payload %zu differs after the round trip", got);
            got++;
            start += fr.consumed;
            continue;
        }
        FUZZ_CHECK(r == FRAME_NEED_MORE, "decoder error %d on an encoded stream", r);
        if (visible == slen)
            break;
        rng = rng * 1103515245u + 12345u;
        visible += 1 + (rng >> 16) % 300;
        if (visible > slen)
            visible = slen;
    }
    FUZZ_CHECK(got == np && start == slen, "decoded %zu of %zu payloads", got, np);
    return 0;
}
