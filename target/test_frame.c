/*
 * test_frame.c — unit tests of the frame codec (frame.c) and the connection state machine
 * (conn.c), run by ctest. Prints TAP; exits 1 when any check fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "frame.h"

static int n_checks, n_failed;

__attribute__((format(printf, 2, 3))) static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    n_checks++;
    if (ok)
        return;
    n_failed++;
    printf("# FAIL: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static const framing_t headered[] = {FRAMING_U8, FRAMING_U16, FRAMING_U32};

/* Build header+payload for a headered framing into out; returns total length. */
static size_t build(framing_t f, const uint8_t *p, size_t len, uint8_t *out)
{
    uint8_t hdr[4];
    size_t hl;
    int rc = frame_encode_header(f, 0xFFFFFFFFu, p, len, hdr, &hl);
    check(rc == FRAME_ENC_OK, "encode %zu bytes framing %s", len, frame_framing_name(f));
    memcpy(out, hdr, hl);
    if (len > 0)
        memcpy(out + hl, p, len);
    return hl + len;
}

/* Feed buf[0..len) growing one byte at a time (the caller's window grows); expect exactly one
 * frame at the very end whose payload is `payload`. */
static void test_split_every_offset(void)
{
    uint8_t payload[300], wire[310];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    for (size_t k = 0; k < 3; k++) {
        framing_t f = headered[k];
        size_t plen = f == FRAMING_U8 ? 200 : 300;
        size_t total = build(f, payload, plen, wire);
        frame_decoder d;
        frame fr;
        frame_decoder_init(&d, f, 0);
        for (size_t cut = 0; cut < total; cut++) {
            int r = frame_decode(&d, wire, cut, &fr);
            check(r == FRAME_NEED_MORE, "framing %s: split at %zu gives need-more (got %d)",
                  frame_framing_name(f), cut, r);
            if (cut >= frame_header_size(f))
                check(fr.need == total, "need %zu at cut %zu", fr.need, cut);
        }
        check(frame_decode(&d, wire, total, &fr) == FRAME_OK && fr.payload_len == plen &&
                  fr.consumed == total && fr.payload == wire + frame_header_size(f) &&
                  memcmp(fr.payload, payload, plen) == 0,
              "framing %s: whole frame decodes zero-copy", frame_framing_name(f));
    }
}

static void test_zero_length_and_many(void)
{
    for (size_t k = 0; k < 3; k++) {
        framing_t f = headered[k];
        uint8_t wire[64];
        size_t off = 0, n = 0;
        frame_decoder d;
        frame fr;
        off += build(f, NULL, 0, wire + off);
        off += build(f, (const uint8_t *)"ab", 2, wire + off);
        off += build(f, NULL, 0, wire + off);
        frame_decoder_init(&d, f, 0);
        for (size_t pos = 0; pos < off; pos += fr.consumed) {
            if (frame_decode(&d, wire + pos, off - pos, &fr) != FRAME_OK)
                break;
            n++;
        }
        check(n == 3, "framing %s: zero-length frames decode (%zu of 3)", frame_framing_name(f),
              n);
    }
}

static void test_limits(void)
{
    static const struct {
        framing_t f;
        uint64_t max;
        uint32_t clamped;
    } cases[] = {
        {FRAMING_U8, 0, 255},        {FRAMING_U8, 1000, 255},        {FRAMING_U8, 10, 10},
        {FRAMING_U16, 0, 65535},     {FRAMING_U16, 100, 100},        {FRAMING_U32, 0, FRAME_DEFAULT_MAX},
        {FRAMING_U32, 1ull << 40, 0xFFFFFFFFu}, {FRAMING_U32, 1000, 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        frame_decoder d;
        uint8_t wire[8] = {0};
        size_t hl = frame_header_size(cases[i].f);
        uint64_t v;
        frame fr;
        frame_decoder_init(&d, cases[i].f, cases[i].max);
        check(d.max == cases[i].clamped, "max clamp case %zu: %u", i, (unsigned)d.max);
        /* exactly max: need-more with need = header + max */
        v = d.max;
        for (size_t b = 0; b < hl; b++)
            wire[b] = (uint8_t)(v >> (8 * (hl - 1 - b)));
        check(frame_decode(&d, wire, hl, &fr) == FRAME_NEED_MORE && fr.need == hl + v,
              "case %zu: exactly max is accepted", i);
        /* max + 1, when the header can express it */
        if (v < frame_max_expressible(cases[i].f)) {
            v = (uint64_t)d.max + 1;
            for (size_t b = 0; b < hl; b++)
                wire[b] = (uint8_t)(v >> (8 * (hl - 1 - b)));
            check(frame_decode(&d, wire, hl, &fr) == FRAME_ERR_TOO_LONG && fr.announced == v,
                  "case %zu: max+1 is refused naming %llu", i, (unsigned long long)v);
        }
    }
    {
        frame_decoder d;
        frame fr;
        const uint8_t ff[4] = {0xFF, 0xFF, 0xFF, 0xFF};
        frame_decoder_init(&d, FRAMING_U32, 0);
        check(frame_decode(&d, ff, 4, &fr) == FRAME_ERR_TOO_LONG && fr.announced == 0xFFFFFFFFu,
              "0xFFFFFFFF refused with the default max");
    }
    {
        uint8_t hdr[4];
        size_t hl;
        check(frame_encode_header(FRAMING_U8, 0, NULL, 256, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses 256 bytes for {packet,1}");
        check(frame_encode_header(FRAMING_U16, 0, NULL, 65536, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses 65536 bytes for {packet,2}");
        check(frame_encode_header(FRAMING_U32, 100, NULL, 101, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses more than the maximum");
        check(frame_encode_header(FRAMING_U32, 0, NULL, 0x01020304, hdr, &hl) ==
                      FRAME_ENC_TOO_LONG,
              "encoder refuses more than the default 16 MiB");
        check(frame_encode_header(FRAMING_U32, 0xFFFFFFFFu, NULL, 0x01020304, hdr, &hl) ==
                      FRAME_ENC_OK &&
                  hl == 4 && hdr[0] == 1 && hdr[1] == 2 && hdr[2] == 3 && hdr[3] == 4,
              "encoder writes big-endian");
        check(frame_encode_header(FRAMING_LINE, 0, (const uint8_t *)"a\nb", 3, hdr, &hl) ==
                  FRAME_ENC_BAD_LINE,
              "encoder refuses a line with a newline inside");
    }
}

static void test_line(void)
{
    frame_decoder d;
    frame fr;
    const char *s = "hello\n\nworld";
    frame_decoder_init(&d, FRAMING_LINE, 8);
    /* grow the window byte by byte */
    for (size_t i = 0; i < 5; i++)
        check(frame_decode(&d, (const uint8_t *)s, i, &fr) == FRAME_NEED_MORE, "line partial %zu",
              i);
    check(frame_decode(&d, (const uint8_t *)s, 6, &fr) == FRAME_OK && fr.payload_len == 5 &&
              fr.consumed == 6,
          "line with \\n decodes without it in the payload");
    check(frame_decode(&d, (const uint8_t *)s + 6, 1, &fr) == FRAME_OK && fr.payload_len == 0 &&
              fr.consumed == 1,
          "empty line is a zero-length frame");
    check(frame_decode(&d, (const uint8_t *)s + 7, 5, &fr) == FRAME_NEED_MORE,
          "line without a final \\n needs more");
    check(frame_decode(&d, (const uint8_t *)"12345678\n", 9, &fr) == FRAME_OK &&
              fr.payload_len == 8,
          "line of exactly max");
    frame_decoder_init(&d, FRAMING_LINE, 8);
    check(frame_decode(&d, (const uint8_t *)"123456789\n", 10, &fr) == FRAME_ERR_TOO_LONG,
          "line of max+1 refused");
    frame_decoder_init(&d, FRAMING_LINE, 8);
    check(frame_decode(&d, (const uint8_t *)"123456789", 9, &fr) == FRAME_ERR_TOO_LONG,
          "line of max+1 refused before its \\n arrives");
}

static void test_all_bytes(void)
{
    uint8_t payload[256], wire[300];
    for (int i = 0; i < 256; i++)
        payload[i] = (uint8_t)i;
    for (size_t k = 1; k < 3; k++) {
        frame_decoder d;
        frame fr;
        size_t total = build(headered[k], payload, 256, wire);
        frame_decoder_init(&d, headered[k], 0);
        check(frame_decode(&d, wire, total, &fr) == FRAME_OK && fr.payload_len == 256 &&
                  memcmp(fr.payload, payload, 256) == 0,
              "all 256 byte values round-trip, framing %s", frame_framing_name(headered[k]));
    }
    {
        frame_decoder d;
        frame fr;
        frame_decoder_init(&d, FRAMING_RAW, 0);
        check(frame_decode(&d, payload, 0, &fr) == FRAME_NEED_MORE, "raw: nothing is need-more");
        check(frame_decode(&d, payload, 256, &fr) == FRAME_OK && fr.payload_len == 256,
              "raw: every byte is passed through");
    }
}

static void test_framing_names(void)
{
    const char *names[] = {"0", "raw", "1", "u8", "2", "u16", "4", "u32", "line"};
    framing_t f;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        check(frame_parse_framing(names[i], &f) == 0, "framing name %s", names[i]);
    check(frame_parse_framing("3", &f) < 0, "framing 3 refused");
}

/* conn.c: echo via the state machine with 1-byte reads and 1-byte writes. */
static void test_conn_byte_by_byte(void)
{
    uint8_t wire[200], out[200];
    size_t total = 0, got = 0;
    conn c;
    total += build(FRAMING_U16, (const uint8_t *)"hello", 5, wire + total);
    total += build(FRAMING_U16, NULL, 0, wire + total);
    total += build(FRAMING_U16, (const uint8_t *)"world!", 6, wire + total);
    wire[total++] = 0x00; /* half a header */
    check(conn_init(&c, FRAMING_U16, 0, 0) == 0, "conn_init");
    for (size_t i = 0; i < total; i++) {
        size_t room, len;
        uint8_t *p = conn_read_space(&c, &room);
        const uint8_t *w;
        check(p != NULL && room > 0, "read space at %zu", i);
        *p = wire[i];
        conn_on_read(&c, 1);
        while ((w = conn_write_space(&c, &len)) != NULL && len > 0) {
            out[got++] = w[0];
            conn_on_written(&c, 1);
        }
    }
    conn_on_eof(&c);
    check(c.why == CONN_WHY_EOF_MID, "EOF after half a header is eof-mid-frame");
    check(conn_done(&c), "done after EOF once everything is written");
    check(got == total - 1 && memcmp(out, wire, got) == 0, "echo is the complete frames");
    check(c.frames_in == 3, "3 frames");
    conn_free(&c);
}

/* conn.c: the high-water mark stops reading; an oversized header drains and closes. */
static void test_conn_hwm_and_too_long(void)
{
    conn c;
    size_t room, len, fed = 0;
    uint8_t *p;
    check(conn_init(&c, FRAMING_U8, 0, 1000) == 0, "conn_init");
    while ((p = conn_read_space(&c, &room)) != NULL && fed < 100000) {
        size_t n = room < 101 ? room : 101;
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)((fed + i) % 101 == 0 ? 100 : 'x');
        conn_on_read(&c, n);
        fed += n;
    }
    check(!conn_wants_read(&c) && conn_buffered(&c) < 1000 + CONN_READ_CHUNK + 300,
          "reading stops above the high-water mark (buffered %zu)", conn_buffered(&c));
    conn_write_space(&c, &len);
    conn_on_written(&c, len);
    check(conn_wants_read(&c), "reading resumes once drained");
    conn_free(&c);

    check(conn_init(&c, FRAMING_U16, 10, 0) == 0, "conn_init");
    p = conn_read_space(&c, &room);
    memcpy(p, "\x00\x01Z\x00\x0b", 5);
    conn_on_read(&c, 5);
    check(c.state == CONN_DRAINING && c.why == CONN_WHY_TOO_LONG && c.announced == 11,
          "header over the maximum drains");
    conn_write_space(&c, &len);
    check(len == 3, "the earlier echo is still queued (%zu)", len);
    conn_on_written(&c, len);
    check(conn_done(&c), "then done");
    conn_free(&c);
}

int main(void)
{
    printf("TAP version 14\n");
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"split_every_offset", test_split_every_offset},
        {"zero_length_and_many", test_zero_length_and_many},
        {"limits", test_limits},
        {"line", test_line},
        {"all_bytes", test_all_bytes},
        {"framing_names", test_framing_names},
        {"conn_byte_by_byte", test_conn_byte_by_byte},
        {"conn_hwm_and_too_long", test_conn_hwm_and_too_long},
    };
    size_t nt = sizeof tests / sizeof tests[0];
    printf("1..%zu\n", nt);
    for (size_t i = 0; i < nt; i++) {
        int before = n_failed;
        tests[i].fn();
        printf("%s %zu - %s\n", n_failed == before ? "ok" : "not ok", i + 1, tests[i].name);
    }
    printf("# %d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
