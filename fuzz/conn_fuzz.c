/*
 * conn_fuzz — echod's own connection state machine (target/conn.c, the code the server runs)
 * driven by fuzzed events: reads of any size, writes that take only part of the buffer, EAGAIN,
 * the peer's FIN, ECONNRESET (the connection is freed), idle ticks.
 *
 * Checked after every event:
 *  - the echoed bytes are always a prefix of the bytes received (an echo is the complete frames
 *    as they came, so the output can never be anything else);
 *  - the buffer stays under its bound: 2 x (high-water mark + max frame + header + 4 KiB), or the
 *    initial 16 KiB;
 *  - once the connection is done (drained), it has echoed exactly the complete frames an
 *    independent model of the framing finds in the input, stopping at an oversized or
 *    malformed header;
 *  - after close nothing is touched: every call on a freed connection is a no-op (ASan would see
 *    a use after free).
 */
#include <string.h>

#include "conn.h"
#include "fuzz_common.h"
#include "fuzz_framings.h"

#define WIRE_CAP (1u << 20)

/* The length field of a frame at in[0..len) (after the preamble): sets *v and *fl; returns 1, 0
 * when incomplete, -1 when malformed (a varint whose tenth byte is over 1). */
static int model_field(const framing_t *f, const uint8_t *in, size_t len, uint64_t *v, size_t *fl)
{
    *v = 0;
    if (f->kind == FRAMING_LEN) {
        if (len < f->size)
            return 0;
        for (size_t i = 0; i < f->size; i++)
            *v |= (uint64_t)in[i] << (8 * (f->le ? i : f->size - 1 - i));
        *fl = f->size;
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        if (i == 9 && in[i] > 1)
            return -1;
        *v |= (uint64_t)(in[i] & 0x7f) << (7 * i);
        if (!(in[i] & 0x80)) {
            *fl = i + 1;
            return 1;
        }
    }
    return 0;
}

/* The model: bytes of complete frames at the start of in[0..len), stopping at an incomplete,
 * oversized or malformed frame (*bad set for the last two). Written apart from frame.c on
 * purpose. */
static size_t model_prefix(const framing_t *f, uint64_t max, const uint8_t *in, size_t len,
                           int *bad)
{
    size_t off = 0;
    *bad = 0;
    if (f->kind == FRAMING_RAW)
        return len;
    while (off < len) {
        if (f->kind == FRAMING_LINE) {
            size_t i = off;
            while (i < len && in[i] != '\n' && i - off <= max)
                i++;
            if (i - off > max) {
                *bad = 1;
                return off;
            }
            if (i == len)
                return off;
            off = i + 1;
            continue;
        }
        {
            uint64_t n = 0, hl;
            size_t fl = 0;
            int r;
            if (len - off < f->offset)
                return off;
            r = model_field(f, in + off + f->offset, len - off - f->offset, &n, &fl);
            if (r == 0)
                return off;
            if (r < 0 || n < (uint64_t)(-(int64_t)f->adjust)) {
                *bad = 1; /* malformed */
                return off;
            }
            n -= (uint64_t)(-(int64_t)f->adjust);
            hl = f->offset + fl;
            if (f->limit_frame ? n + hl > max || n > max : n > max) {
                *bad = 1;
                return off;
            }
            if (len - off - hl < n)
                return off;
            off += hl + (size_t)n;
        }
    }
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t in[WIRE_CAP], out[WIRE_CAP];
    fuzz_in fz = {data, size};
    framing_t f = fuzz_framing(fuzz_u8(&fz));
    uint64_t max_req = 1 + fuzz_u16(&fz) % 70000;
    size_t hwm = 1 + fuzz_u16(&fz) % 8192, in_len = 0, out_len = 0, bound;
    bool closed = false, eof = false;
    int bad;
    conn c;

    if (conn_init(&c, &f, max_req, hwm) < 0)
        return 0;
    bound = 2 * (hwm + c.dec.max + FRAME_MAX_HEADER + 4096);
    if (bound < CONN_INITIAL_CAP)
        bound = CONN_INITIAL_CAP;
    while (fz.n > 0) {
        uint8_t op = fuzz_u8(&fz);
        size_t room, len, k;
        uint8_t *p;
        const uint8_t *w;
        switch (op % 8) {
        case 0:
        case 1:
        case 2: /* a read of 1..n bytes, taken from the fuzz input */
            p = conn_read_space(&c, &room);
            if (closed || eof) {
                FUZZ_CHECK(closed ? p == NULL : 1, "read space after close");
                break;
            }
            if (p == NULL)
                break; /* not reading now (above the high-water mark, draining) */
            k = 1 + fuzz_u16(&fz) % 5000;
            if (k > room)
                k = room;
            if (k > fz.n)
                k = fz.n;
            if (k == 0 || in_len + k > WIRE_CAP)
                break;
            memcpy(p, fz.p, k);
            memcpy(in + in_len, fz.p, k);
            fz.p += k;
            fz.n -= k;
            in_len += k;
            conn_on_read(&c, k);
            break;
        case 3: /* a write that takes only part of what is offered */
        case 4: /* a write that takes everything */
            w = conn_write_space(&c, &len);
            if (closed) {
                FUZZ_CHECK(len == 0, "write space after close");
                break;
            }
            k = op % 8 == 3 ? fuzz_u16(&fz) % (len + 1) : len;
            if (k > 0) {
                FUZZ_CHECK(out_len + k <= WIRE_CAP, "echo longer than the input");
                memcpy(out + out_len, w, k);
                out_len += k;
                conn_on_written(&c, k);
            }
            break;
        case 5: /* EAGAIN: the loop asks for read space and gets no bytes */
            conn_read_space(&c, &room);
            break;
        case 6: /* the peer's FIN */
            conn_on_eof(&c);
            eof = true;
            break;
        case 7: /* ECONNRESET (free it) or an idle tick */
            if (fuzz_u8(&fz) & 1) {
                conn_free(&c);
                closed = true;
            } else {
                conn_drain(&c, CONN_WHY_IDLE);
                eof = true;
            }
            break;
        }
        /* invariants */
        FUZZ_CHECK(out_len <= in_len && memcmp(out, in, out_len) == 0,
                   "echo is not a prefix of the input (%zu echoed, %zu received)", out_len,
                   in_len);
        FUZZ_CHECK(c.cap <= bound && conn_buffered(&c) <= c.cap,
                   "buffer %zu (cap %zu) over its bound %zu", conn_buffered(&c), c.cap, bound);
        if (!closed && conn_done(&c)) {
            size_t want = model_prefix(&f, c.dec.max, in, in_len, &bad);
            FUZZ_CHECK(out_len == want, "done after %zu echoed bytes; the model says %zu (%s)",
                       out_len, want, conn_why_name(c.why));
            FUZZ_CHECK(!bad || c.why == CONN_WHY_TOO_LONG || c.why == CONN_WHY_MALFORMED || eof,
                       "oversized frame not detected (%s)", conn_why_name(c.why));
        }
    }
    /* the end: flush, FIN, flush; then everything complete has been echoed */
    if (!closed) {
        size_t len;
        const uint8_t *w = conn_write_space(&c, &len);
        if (len) {
            memcpy(out + out_len, w, len);
            out_len += len;
            conn_on_written(&c, len);
        }
        conn_on_eof(&c);
        FUZZ_CHECK(conn_done(&c), "not done after FIN and a full flush (%s)",
                   conn_why_name(c.why));
        FUZZ_CHECK(out_len == model_prefix(&f, c.dec.max, in, in_len, &bad),
                   "final echo %zu bytes, model %zu", out_len,
                   model_prefix(&f, c.dec.max, in, in_len, &bad));
        conn_free(&c);
    }
    /* calls after close are no-ops */
    {
        size_t room, len;
        FUZZ_CHECK(conn_read_space(&c, &room) == NULL && room == 0, "read space after close");
        conn_write_space(&c, &len);
        FUZZ_CHECK(len == 0, "write space after close");
        conn_on_read(&c, 1);
        conn_on_written(&c, 1);
        conn_on_eof(&c);
        conn_free(&c);
    }
    return 0;
}
