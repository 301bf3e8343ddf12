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

/* Every framing with a length field the tests run under: Erlang's, the other sizes and byte
 * orders, preambles, header-inclusive lengths, whole-frame limits, varints. */
static const char *const headered[] = {
    "1",      "2",      "4",      "u24",   "u64",    "u16le", "u24le", "u32le", "u64le", "varint",
    "4,adjust=-4", "u32le,offset=2,adjust=-6,limit=frame", "u24,offset=1", "varint,offset=3,adjust=-3",
    "u16,limit=frame", "u64le,offset=5,adjust=-13,strip=13",
};
#define N_HEADERED (sizeof headered / sizeof headered[0])

static char name_buf[FRAME_NAME_LEN];
#define NAME(f) frame_framing_name(&(f), name_buf, sizeof name_buf)

/* Parse a framing the tests rely on (a failure is a failed check and gives framing 4). */
static framing_t F(const char *spec)
{
    framing_t f = {.kind = FRAMING_LEN, .size = 4};
    char err[256];
    check(frame_parse_framing(spec, &f, err, sizeof err) == 0, "parse %s: %s", spec, err);
    return f;
}

/* Build header+payload for a headered framing into out; returns total length. */
static size_t build(framing_t f, const uint8_t *p, size_t len, uint8_t *out)
{
    uint8_t hdr[FRAME_MAX_HEADER];
    size_t hl;
    int rc = frame_encode_header(&f, 0xFFFFFFFFu, p, len, hdr, &hl);
    check(rc == FRAME_ENC_OK, "encode %zu bytes framing %s", len, NAME(f));
    memcpy(out, hdr, hl);
    if (len > 0)
        memcpy(out + hl, p, len);
    return hl + len;
}

/* Feed buf[0..len) growing one byte at a time (the caller's window grows); expect exactly one
 * frame at the very end whose payload is `payload`. */
static void test_split_every_offset(void)
{
    uint8_t payload[300], wire[300 + FRAME_MAX_HEADER];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    for (size_t k = 0; k < N_HEADERED; k++) {
        framing_t f = F(headered[k]);
        size_t plen = frame_max_expressible(&f) < 300 ? 200 : 300;
        size_t hl = frame_header_size(&f, plen);
        size_t total = build(f, payload, plen, wire);
        frame_decoder d;
        frame fr;
        frame_decoder_init(&d, &f, 0);
        for (size_t cut = 0; cut < total; cut++) {
            int r = frame_decode(&d, wire, cut, &fr);
            check(r == FRAME_NEED_MORE, "framing %s: split at %zu gives need-more (got %d)",
                  NAME(f), cut, r);
            check(cut >= hl ? fr.need == total : fr.need == 0, "framing %s: need %zu at cut %zu",
                  NAME(f), fr.need, cut);
        }
        check(frame_decode(&d, wire, total, &fr) == FRAME_OK && fr.payload_len == plen &&
                  fr.consumed == total && fr.payload == wire + hl &&
                  memcmp(fr.payload, payload, plen) == 0,
              "framing %s: whole frame decodes zero-copy", NAME(f));
    }
}

static void test_zero_length_and_many(void)
{
    for (size_t k = 0; k < N_HEADERED; k++) {
        framing_t f = F(headered[k]);
        uint8_t wire[256];
        size_t off = 0, n = 0;
        frame_decoder d;
        frame fr;
        off += build(f, NULL, 0, wire + off);
        off += build(f, (const uint8_t *)"ab", 2, wire + off);
        off += build(f, NULL, 0, wire + off);
        frame_decoder_init(&d, &f, 0);
        for (size_t pos = 0; pos < off; pos += fr.consumed) {
            if (frame_decode(&d, wire + pos, off - pos, &fr) != FRAME_OK)
                break;
            n++;
        }
        check(n == 3, "framing %s: zero-length frames decode (%zu of 3)", NAME(f), n);
    }
}

static void test_limits(void)
{
    static const struct {
        const char *f;
        uint64_t max;
        uint64_t clamped;
    } cases[] = {
        {"1", 0, 255},        {"1", 1000, 255},        {"1", 10, 10},
        {"2", 0, 65535},     {"2", 100, 100},        {"4", 0, FRAME_DEFAULT_MAX},
        {"4", 1ull << 40, 0xFFFFFFFFu}, {"4", 1000, 1000}, {"1,adjust=-1", 0, 254},
        {"1,limit=frame", 0, 256}, {"u16le,offset=2,adjust=-4,limit=frame", 0, 65535 - 4 + 4},
        {"u64", 0, FRAME_DEFAULT_MAX}, {"varint,limit=frame", 1000, 1000},
        {"4,adjust=-4,limit=frame", 1000, 1000}, {"u24le", 0, 0xFFFFFF},
        {"u24le", 1ull << 30, 0xFFFFFF},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        framing_t f = F(cases[i].f);
        frame_decoder d;
        uint8_t wire[FRAME_MAX_HEADER];
        size_t hl;
        uint64_t v;
        frame fr;
        frame_decoder_init(&d, &f, cases[i].max);
        check(d.max == cases[i].clamped, "max clamp case %zu: %llu", i, (unsigned long long)d.max);
        /* exactly max (a payload, or a whole frame under limit=frame): need = header + payload */
        v = d.max;
        if (f.limit_frame)
            for (size_t h = frame_header_size(&f, 0); h <= FRAME_MAX_HEADER; h++)
                if (frame_header_size(&f, d.max - h) == h) {
                    v = d.max - h;
                    break;
                }
        check(frame_encode_header(&f, cases[i].max, NULL, v, wire, &hl) == FRAME_ENC_OK,
              "case %zu: encodes exactly max", i);
        check(frame_decode(&d, wire, hl, &fr) == FRAME_NEED_MORE && fr.need == hl + v &&
                  (!f.limit_frame || fr.need == d.max),
              "case %zu (%s): exactly max is accepted (need %zu)", i, cases[i].f, fr.need);
        check(frame_encode_header(&f, cases[i].max, NULL, v + 1, wire, &hl) == FRAME_ENC_TOO_LONG,
              "case %zu: the encoder refuses max + 1", i);
        /* max + 1, when the header can express it */
        if (v < frame_max_expressible(&f)) {
            check(frame_encode_header(&f, 0xFFFFFFFFu, NULL, v + 1, wire, &hl) == FRAME_ENC_OK,
                  "case %zu: encode max + 1 under a larger max", i);
            check(frame_decode(&d, wire, hl, &fr) == FRAME_ERR_TOO_LONG && fr.announced == v + 1,
                  "case %zu (%s): max+1 is refused naming %llu", i, cases[i].f,
                  (unsigned long long)(v + 1));
        }
    }
    {
        framing_t f4 = F("4");
        frame_decoder d;
        frame fr;
        const uint8_t ff[4] = {0xFF, 0xFF, 0xFF, 0xFF};
        frame_decoder_init(&d, &f4, 0);
        check(frame_decode(&d, ff, 4, &fr) == FRAME_ERR_TOO_LONG && fr.announced == 0xFFFFFFFFu,
              "0xFFFFFFFF refused with the default max");
    }
    {
        framing_t u8 = F("1"), u16 = F("2"), u32 = F("4"), line = F("line"), le = F("u32le");
        framing_t incl = F("u24le,offset=2,adjust=-5");
        uint8_t hdr[FRAME_MAX_HEADER];
        size_t hl;
        check(frame_encode_header(&u8, 0, NULL, 256, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses 256 bytes for {packet,1}");
        check(frame_encode_header(&u16, 0, NULL, 65536, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses 65536 bytes for {packet,2}");
        check(frame_encode_header(&u32, 100, NULL, 101, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses more than the maximum");
        check(frame_encode_header(&u32, 0, NULL, 0x01020304, hdr, &hl) == FRAME_ENC_TOO_LONG,
              "encoder refuses more than the default 16 MiB");
        check(frame_encode_header(&u32, 0xFFFFFFFFu, NULL, 0x01020304, hdr, &hl) == FRAME_ENC_OK &&
                  hl == 4 && hdr[0] == 1 && hdr[1] == 2 && hdr[2] == 3 && hdr[3] == 4,
              "encoder writes big-endian");
        check(frame_encode_header(&le, 0xFFFFFFFFu, NULL, 0x01020304, hdr, &hl) == FRAME_ENC_OK &&
                  hl == 4 && hdr[0] == 4 && hdr[1] == 3 && hdr[2] == 2 && hdr[3] == 1,
              "encoder writes little-endian");
        check(frame_encode_header(&incl, 0, NULL, 0x10, hdr, &hl) == FRAME_ENC_OK && hl == 5 &&
                  hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 0x15 && hdr[3] == 0 && hdr[4] == 0,
              "encoder: a preamble, then a header-inclusive little-endian length");
        check(frame_encode_header(&line, 0, (const uint8_t *)"a\nb", 3, hdr, &hl) ==
                  FRAME_ENC_BAD_LINE,
              "encoder refuses a line with a newline inside");
    }
}

static void test_line(void)
{
    frame_decoder d;
    frame fr;
    const char *s = "hello\n\nworld";
    framing_t line = F("line");
    frame_decoder_init(&d, &line, 8);
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
    frame_decoder_init(&d, &line, 8);
    check(frame_decode(&d, (const uint8_t *)"123456789\n", 10, &fr) == FRAME_ERR_TOO_LONG,
          "line of max+1 refused");
    frame_decoder_init(&d, &line, 8);
    check(frame_decode(&d, (const uint8_t *)"123456789", 9, &fr) == FRAME_ERR_TOO_LONG,
          "line of max+1 refused before its \\n arrives");
}

static void test_all_bytes(void)
{
    uint8_t payload[256], wire[300];
    for (int i = 0; i < 256; i++)
        payload[i] = (uint8_t)i;
    for (size_t k = 0; k < N_HEADERED; k++) {
        framing_t f = F(headered[k]);
        frame_decoder d;
        frame fr;
        size_t total;
        if (frame_max_expressible(&f) < 256)
            continue;
        total = build(f, payload, 256, wire);
        frame_decoder_init(&d, &f, 0);
        check(frame_decode(&d, wire, total, &fr) == FRAME_OK && fr.payload_len == 256 &&
                  memcmp(fr.payload, payload, 256) == 0,
              "all 256 byte values round-trip, framing %s", NAME(f));
    }
    {
        framing_t raw = F("raw");
        frame_decoder d;
        frame fr;
        frame_decoder_init(&d, &raw, 0);
        check(frame_decode(&d, payload, 0, &fr) == FRAME_NEED_MORE, "raw: nothing is need-more");
        check(frame_decode(&d, payload, 256, &fr) == FRAME_OK && fr.payload_len == 256,
              "raw: every byte is passed through");
    }
}

static void test_framing_names(void)
{
    static const char *const canon[][2] = {
        {"0", "raw"}, {"raw", "raw"}, {"1", "1"}, {"u8", "1"}, {"u8le", "1"}, {"2", "2"},
        {"u16", "2"}, {"4", "4"}, {"u32", "4"}, {"line", "line"}, {"3", "u24"}, {"8", "u64"},
        {"len=2,le", "u16le"}, {"u32le,be", "4"}, {"varint", "varint"},
        {"len=4,be,offset=0,adjust=-4,strip=0", "4,adjust=-4"},
        {"len=4,le,offset=2,adjust=-6,limit=frame", "u32le,offset=2,adjust=-6,limit=frame"},
        {"4,limit=payload", "4"}, {"u16,strip=2", "2,strip=2"},
    };
    /* each refused spec and the parameter its message must name */
    static const char *const bad[][2] = {
        {"5", "unknown framing"}, {"len=5", "len:"}, {"", "empty"}, {"4,adjust=1", "adjust:"},
        {"1,adjust=-256", "adjust:"}, {"4,adjust=x", "adjust:"}, {"4,offset=65", "offset:"},
        {"4,offset=-1", "offset:"}, {"4,strip=5", "strip:"}, {"4,limit=header", "limit:"},
        {"varint,le", "le:"}, {"line,limit=frame", "line takes no parameters"},
        {"raw,be", "raw takes no parameters"}, {"4,be,le", "byte order: given twice"},
        {"4,offset=1,offset=2", "offset: given twice"}, {"4,magic=1", "unknown parameter"},
        {"4,adjust=", "adjust:"},
    };
    char err[256];
    framing_t f;
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        int rc = frame_parse_framing(canon[i][0], &f, err, sizeof err);
        check(rc == 0 && strcmp(NAME(f), canon[i][1]) == 0, "framing %s is %s (got %s)",
              canon[i][0], canon[i][1], rc == 0 ? name_buf : err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        check(frame_parse_framing(bad[i][0], &f, err, sizeof err) < 0 &&
                  strstr(err, bad[i][1]) != NULL,
              "framing '%s' refused naming '%s' (got '%s')", bad[i][0], bad[i][1], err);
    }
}

/* Varints: every split point of headers from 1 to 5 bytes, then the malformed ones, decided on
 * the tenth byte without waiting for an eleventh. And header-inclusive lengths under the header. */
static void test_varint_and_malformed(void)
{
    static const uint64_t sizes[] = {0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152,
                                     FRAME_DEFAULT_MAX, 0xFFFFFFFFu};
    framing_t v = F("varint"), incl = F("4,adjust=-4"), pre = F("u16le,offset=2,adjust=-4");
    uint8_t hdr[FRAME_MAX_HEADER], bad[12];
    frame_decoder d;
    frame fr;
    size_t hl;
    frame_decoder_init(&d, &v, 0xFFFFFFFFu);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t want = sizes[i] < 128 ? 1 : sizes[i] < 16384 ? 2 : sizes[i] < 2097152 ? 3
                    : sizes[i] < (1u << 28) ? 4 : 5;
        check(frame_encode_header(&v, 0xFFFFFFFFu, NULL, sizes[i], hdr, &hl) == FRAME_ENC_OK &&
                  hl == want && frame_header_size(&v, sizes[i]) == want,
              "varint of %llu is %zu bytes (got %zu)", (unsigned long long)sizes[i], want, hl);
        for (size_t cut = 0; cut < hl; cut++)
            check(frame_decode(&d, hdr, cut, &fr) == FRAME_NEED_MORE && fr.need == 0,
                  "varint %llu: cut %zu of its header needs more", (unsigned long long)sizes[i],
                  cut);
        check(frame_decode(&d, hdr, hl, &fr) == (sizes[i] ? FRAME_NEED_MORE : FRAME_OK) &&
                  fr.announced == sizes[i] && (sizes[i] == 0 || fr.need == hl + sizes[i]),
              "varint %llu: the whole header announces it", (unsigned long long)sizes[i]);
    }
    memset(bad, 0x80, sizeof bad);
    for (size_t cut = 0; cut < 10; cut++)
        check(frame_decode(&d, bad, cut, &fr) == FRAME_NEED_MORE, "10 continuation bytes: cut %zu",
              cut);
    check(frame_decode(&d, bad, 10, &fr) == FRAME_ERR_MALFORMED,
          "a tenth byte with a continuation (an 11-byte varint) is malformed at once");
    bad[9] = 0x02;
    check(frame_decode(&d, bad, 10, &fr) == FRAME_ERR_MALFORMED,
          "a tenth byte of 2 (past 2^64) is malformed");
    memset(bad, 0xFF, 9);
    bad[9] = 0x01;
    check(frame_decode(&d, bad, 10, &fr) == FRAME_ERR_TOO_LONG && fr.announced == UINT64_MAX,
          "2^64 - 1 is well-formed, and too long");
    bad[0] = 0x80, bad[1] = 0x00;
    check(frame_decode(&d, bad, 2, &fr) == FRAME_OK && fr.consumed == 2 && fr.payload_len == 0,
          "a redundant (overlong) varint of 0 is a zero-length frame");

    frame_decoder_init(&d, &incl, 0);
    check(frame_decode(&d, (const uint8_t *)"\0\0\0\3", 4, &fr) == FRAME_ERR_MALFORMED &&
              fr.announced == 3,
          "a header-inclusive length of 3 (under the 4-byte header) is malformed");
    check(frame_decode(&d, (const uint8_t *)"\0\0\0\4", 4, &fr) == FRAME_OK && fr.consumed == 4,
          "a header-inclusive length of 4 is a zero-length frame");
    frame_decoder_init(&d, &pre, 0);
    check(frame_decode(&d, (const uint8_t *)"PP\3\0", 4, &fr) == FRAME_ERR_MALFORMED,
          "a length of 3 under a 4-byte preamble + header is malformed");
    check(frame_decode(&d, (const uint8_t *)"PP\6\0xy", 6, &fr) == FRAME_OK &&
              fr.payload_len == 2 && fr.consumed == 6 && memcmp(fr.payload, "xy", 2) == 0,
          "after a 2-byte preamble, a little-endian length of 6 counts 2 payload bytes");
}

/* conn.c: echo via the state machine with 1-byte reads and 1-byte writes. */
static void test_conn_byte_by_byte(void)
{
    uint8_t wire[200], out[200];
    size_t total = 0, got = 0;
    conn c;
    framing_t u16 = F("2");
    total += build(u16, (const uint8_t *)"hello", 5, wire + total);
    total += build(u16, NULL, 0, wire + total);
    total += build(u16, (const uint8_t *)"world!", 6, wire + total);
    wire[total++] = 0x00; /* half a header */
    check(conn_init(&c, &u16, 0, 0) == 0, "conn_init");
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
    framing_t u8 = F("1"), u16 = F("2"), v = F("varint");
    check(conn_init(&c, &u8, 0, 1000) == 0, "conn_init");
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

    check(conn_init(&c, &u16, 10, 0) == 0, "conn_init");
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

    check(conn_init(&c, &v, 10, 0) == 0, "conn_init varint");
    p = conn_read_space(&c, &room);
    memcpy(p, "\x01Z\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 12);
    conn_on_read(&c, 12);
    check(c.state == CONN_DRAINING && c.why == CONN_WHY_MALFORMED,
          "an 11-byte varint drains (why %s)", conn_why_name(c.why));
    conn_write_space(&c, &len);
    check(len == 2, "the earlier echo is still queued (%zu)", len);
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
        {"varint_and_malformed", test_varint_and_malformed},
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
