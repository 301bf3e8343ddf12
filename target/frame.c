/*
 * frame.c — frame codec for Erlang {packet,N}, parameterised length fields and varints.
 * See frame.h for the contract.
 */
#include "frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The name that starts a spec: sets the kind, field size and byte order. Returns 0 or -1. */
static int parse_base(const char *tok, framing_t *f)
{
    static const struct {
        const char *name;
        framing_kind kind;
        uint8_t size;
        bool le;
    } names[] = {
        {"0", FRAMING_RAW, 0, false},    {"raw", FRAMING_RAW, 0, false},
        {"line", FRAMING_LINE, 0, false}, {"varint", FRAMING_VARINT, 0, false},
        {"1", FRAMING_LEN, 1, false},    {"u8", FRAMING_LEN, 1, false},
        {"2", FRAMING_LEN, 2, false},    {"u16", FRAMING_LEN, 2, false},
        {"3", FRAMING_LEN, 3, false},    {"u24", FRAMING_LEN, 3, false},
        {"4", FRAMING_LEN, 4, false},    {"u32", FRAMING_LEN, 4, false},
        {"8", FRAMING_LEN, 8, false},    {"u64", FRAMING_LEN, 8, false},
        {"u8le", FRAMING_LEN, 1, false}, {"u16le", FRAMING_LEN, 2, true},
        {"u24le", FRAMING_LEN, 3, true}, {"u32le", FRAMING_LEN, 4, true},
        {"u64le", FRAMING_LEN, 8, true}, {"len=1", FRAMING_LEN, 1, false},
        {"len=2", FRAMING_LEN, 2, false}, {"len=3", FRAMING_LEN, 3, false},
        {"len=4", FRAMING_LEN, 4, false}, {"len=8", FRAMING_LEN, 8, false},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(tok, names[i].name) == 0) {
            f->kind = names[i].kind;
            f->size = names[i].size;
            f->le = names[i].le;
            return 0;
        }
    }
    return -1;
}

/* A decimal integer in [lo, hi] (the whole token). Returns 0 or -1. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int frame_parse_framing(const char *spec, framing_t *out, char *err, size_t errlen)
{
    char buf[256], *save = NULL, *tok;
    framing_t f = {0};
    unsigned seen = 0; /* bit per parameter: be/le, offset, adjust, strip, limit */
    long long v;

    if (spec == NULL || *spec == '\0')
        return fail(err, errlen, "empty framing (try 4, u32le, varint or len=4,adjust=-4)");
    size_t slen = strlen(spec);
    if (slen >= sizeof buf)
        return fail(err, errlen, "'%.32s...' is too long for a framing", spec);
    memcpy(buf, spec, slen + 1);
    tok = strtok_r(buf, ",", &save);
    if (tok == NULL || parse_base(tok, &f) < 0) {
        if (tok != NULL && strncmp(tok, "len=", 4) == 0)
            return fail(err, errlen, "len: must be 1, 2, 3, 4 or 8 (bytes of the "
                        "length field), or use varint");
        return fail(err, errlen, "unknown framing '%s' (known: raw, line, 1, 2, 4, "
                    "u8, u16, u24, u32, u64, u16le, u24le, u32le, u64le, varint, len=N)",
                    tok ? tok : "");
    }
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
        const char *eq = strchr(tok, '=');
        size_t klen = eq ? (size_t)(eq - tok) : strlen(tok);
        const char *val = eq ? eq + 1 : "";
        unsigned bit;
        if (f.kind == FRAMING_RAW || f.kind == FRAMING_LINE)
            return fail(err, errlen, "%s takes no parameters ('%s')",
                        f.kind == FRAMING_RAW ? "raw" : "line", tok);
        if (!eq && (strcmp(tok, "be") == 0 || strcmp(tok, "le") == 0))
            bit = 1;
        else if (eq && klen == 6 && strncmp(tok, "offset", 6) == 0)
            bit = 2;
        else if (eq && klen == 6 && strncmp(tok, "adjust", 6) == 0)
            bit = 4;
        else if (eq && klen == 5 && strncmp(tok, "strip", 5) == 0)
            bit = 8;
        else if (eq && klen == 5 && strncmp(tok, "limit", 5) == 0)
            bit = 16;
        else
            return fail(err, errlen, "unknown parameter '%s' (known: be, le, "
                        "offset=N, adjust=N, strip=N, limit=payload|frame)", tok);
        if (seen & bit)
            return fail(err, errlen, "%.*s: given twice", bit == 1 ? 10 : (int)klen,
                        bit == 1 ? "byte order" : tok);
        seen |= bit;
        switch (bit) {
        case 1:
            if (f.kind == FRAMING_VARINT)
                return fail(err, errlen, "%s: a varint has no byte order", tok);
            f.le = strcmp(tok, "le") == 0 && f.size > 1;
            break;
        case 2:
            if (parse_int(val, 0, FRAME_MAX_OFFSET, &v) < 0)
                return fail(err, errlen, "offset: '%s' is not an integer from 0 to %u",
                            val, FRAME_MAX_OFFSET);
            f.offset = (uint8_t)v;
            break;
        case 4:
            if (parse_int(val, -FRAME_MAX_ADJUST, FRAME_MAX_ADJUST, &v) < 0)
                return fail(err, errlen, "adjust: '%s' is not an integer from %d to 0",
                            val, -FRAME_MAX_ADJUST);
            if (v > 0)
                return fail(err, errlen, "adjust: %lld is positive; the length field "
                            "must count at least the payload (adjust <= 0; -(offset + size) counts "
                            "the whole frame)", v);
            f.adjust = (int32_t)v;
            break;
        case 8:
            if (parse_int(val, 0, 255, &v) < 0)
                return fail(err, errlen, "strip: '%s' is not an integer from 0 to 255",
                            val);
            f.strip = (uint8_t)v;
            break;
        default:
            if (strcmp(val, "payload") == 0)
                f.limit_frame = false;
            else if (strcmp(val, "frame") == 0)
                f.limit_frame = true;
            else
                return fail(err, errlen, "limit: '%s' is not 'payload' or 'frame'",
                            val);
        }
    }
    if (f.kind == FRAMING_LEN && f.size < 8 && (uint64_t)-(int64_t)f.adjust > (1ull << (8 * f.size)) - 1)
        return fail(err, errlen, "adjust: %d leaves no payload a %u-byte length can "
                    "express", (int)f.adjust, f.size);
    if (f.strip > f.offset + (f.kind == FRAMING_LEN ? f.size : 0u))
        return fail(err, errlen, "strip: %u is more than the header's fixed %u bytes "
                    "(offset + length field)", f.strip,
                    f.offset + (f.kind == FRAMING_LEN ? f.size : 0u));
    *out = f;
    return 0;
}

const char *frame_framing_name(const framing_t *f, char *buf, size_t n)
{
    int k;
    size_t used;
    switch (f->kind) {
    case FRAMING_RAW:
        snprintf(buf, n, "raw");
        return buf;
    case FRAMING_LINE:
        snprintf(buf, n, "line");
        return buf;
    case FRAMING_VARINT:
        k = snprintf(buf, n, "varint");
        break;
    default:
        if (!f->le && (f->size == 1 || f->size == 2 || f->size == 4))
            k = snprintf(buf, n, "%u", f->size);
        else
            k = snprintf(buf, n, "u%u%s", 8u * f->size, f->le ? "le" : "");
    }
    used = k < 0 ? 0 : (size_t)k;
    if (f->offset && used < n)
        used += (size_t)snprintf(buf + used, n - used, ",offset=%u", f->offset);
    if (f->adjust && used < n)
        used += (size_t)snprintf(buf + used, n - used, ",adjust=%d", (int)f->adjust);
    if (f->strip && used < n)
        used += (size_t)snprintf(buf + used, n - used, ",strip=%u", f->strip);
    if (f->limit_frame && used < n)
        snprintf(buf + used, n - used, ",limit=frame");
    return buf;
}

/* Bytes of the varint encoding of v: 1..10. */
static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t frame_header_size(const framing_t *f, uint64_t payload_len)
{
    switch (f->kind) {
    case FRAMING_LEN:
        return (size_t)f->offset + f->size;
    case FRAMING_VARINT:
        return (size_t)f->offset + varint_size(payload_len - (uint64_t)(int64_t)f->adjust);
    default:
        return 0;
    }
}

uint64_t frame_max_expressible(const framing_t *f)
{
    uint64_t field;
    if (f->kind == FRAMING_RAW || f->kind == FRAMING_LINE)
        return 0xFFFFFFFFu;
    field = f->kind == FRAMING_VARINT || f->size == 8 ? UINT64_MAX : (1ull << (8 * f->size)) - 1;
    return field - (uint64_t)-(int64_t)f->adjust; /* the parser keeps -adjust <= field */
}

uint64_t frame_effective_max(const framing_t *f, uint64_t max)
{
    uint64_t lim = frame_max_expressible(f);
    if (f->limit_frame && f->kind == FRAMING_LEN) {
        uint64_t hl = (uint64_t)f->offset + f->size;
        lim = lim > UINT64_MAX - hl ? UINT64_MAX : lim + hl;
    } else if (f->limit_frame) {
        lim = UINT64_MAX; /* varint: the header grows with the length */
    }
    if (max == 0)
        max = FRAME_DEFAULT_MAX;
    if (max > FRAME_MAX_MAX)
        max = FRAME_MAX_MAX;
    return max > lim ? lim : max;
}

void frame_decoder_init(frame_decoder *d, const framing_t *framing, uint64_t max)
{
    d->framing = *framing;
    d->max = frame_effective_max(framing, max);
    d->scanned = 0;
}

static int decode_line(frame_decoder *d, const uint8_t *buf, size_t len, frame *out)
{
    /* A line of max payload bytes needs max + 1 bytes with its '\n'; look no further. */
    size_t limit = (size_t)d->max + 1;
    size_t end = len < limit ? len : limit;
    size_t from = d->scanned < end ? d->scanned : end;
    const uint8_t *nl = end > from ? memchr(buf + from, '\n', end - from) : NULL;

    if (nl != NULL) {
        size_t n = (size_t)(nl - buf);
        out->payload = buf;
        out->payload_len = n;
        out->consumed = n + 1;
        out->announced = n;
        d->scanned = 0;
        return FRAME_OK;
    }
    if (len >= limit) {
        out->announced = limit; /* a line of at least max + 1 bytes, however it was sliced */
        d->scanned = 0;
        return FRAME_ERR_TOO_LONG;
    }
    d->scanned = len;
    return FRAME_NEED_MORE;
}

/*
 * Read the length field at buf[off..len): sets *field and *fl (its size). Returns 1, 0 when more
 * bytes are needed, or FRAME_ERR_MALFORMED for a varint past 10 bytes or 2^64 (decided on the
 * tenth byte, before an eleventh is waited for).
 */
static int read_field(const framing_t *f, const uint8_t *buf, size_t len, size_t off,
                      uint64_t *field, size_t *fl)
{
    uint64_t v = 0;
    if (f->kind == FRAMING_LEN) {
        if (len - off < f->size)
            return 0;
        for (size_t i = 0; i < f->size; i++) {
            size_t at = f->le ? off + f->size - 1 - i : off + i;
            v = (v << 8) | buf[at];
        }
        *field = v;
        *fl = f->size;
        return 1;
    }
    for (size_t i = 0; i < FRAME_VARINT_MAX; i++) {
        uint8_t b;
        if (off + i >= len)
            return 0;
        b = buf[off + i];
        if (i == FRAME_VARINT_MAX - 1 && b > 1)
            return FRAME_ERR_MALFORMED; /* an eleventh byte, or bits past 2^64 */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *field = v;
            *fl = i + 1;
            return 1;
        }
    }
    return FRAME_ERR_MALFORMED; /* not reached: the tenth byte decides */
}

int frame_decode(frame_decoder *d, const uint8_t *buf, size_t len, frame *out)
{
    const framing_t *f = &d->framing;
    uint64_t field = 0, n, under = (uint64_t)-(int64_t)f->adjust;
    size_t fl = 0, hl;
    int r;

    out->payload = NULL;
    out->payload_len = 0;
    out->consumed = 0;
    out->announced = 0;
    out->need = 0;
    out->header_len = 0;

    if (f->kind == FRAMING_LINE)
        return decode_line(d, buf, len, out);
    if (f->kind == FRAMING_RAW) {
        if (len == 0)
            return FRAME_NEED_MORE;
        out->payload = buf;
        out->payload_len = len < d->max ? len : (size_t)d->max;
        out->consumed = out->payload_len;
        out->announced = out->payload_len;
        return FRAME_OK;
    }
    if (len < f->offset)
        return FRAME_NEED_MORE;
    r = read_field(f, buf, len, f->offset, &field, &fl);
    if (r <= 0)
        return r;
    hl = f->offset + fl;
    out->header_len = hl;
    if (field < under) {
        out->announced = field; /* announces less than the header it is part of */
        return FRAME_ERR_MALFORMED;
    }
    n = field - under;
    out->announced = n;
    /* Compare before any arithmetic: hl + n is only formed once it is <= max (+ hl). */
    if (f->limit_frame ? (d->max < hl || n > d->max - hl) : n > d->max)
        return FRAME_ERR_TOO_LONG;
    out->need = hl + (size_t)n;
    if (len - hl < n)
        return FRAME_NEED_MORE;
    out->payload = buf + hl;
    out->payload_len = (size_t)n;
    out->consumed = out->need;
    out->need = 0;
    return FRAME_OK;
}

int frame_encode_header(const framing_t *f, uint64_t max, const uint8_t *payload, size_t len,
                        uint8_t hdr[FRAME_MAX_HEADER], size_t *hdr_len)
{
    uint64_t lim = frame_effective_max(f, max), field;
    size_t hl = frame_header_size(f, len);
    *hdr_len = 0;
    if (f->kind == FRAMING_RAW)
        return FRAME_ENC_OK;
    if ((uint64_t)len > frame_max_expressible(f) ||
        (f->limit_frame ? lim < hl || (uint64_t)len > lim - hl : (uint64_t)len > lim))
        return FRAME_ENC_TOO_LONG;
    if (f->kind == FRAMING_LINE)
        return len > 0 && memchr(payload, '\n', len) != NULL ? FRAME_ENC_BAD_LINE : FRAME_ENC_OK;
    memset(hdr, 0, f->offset);
    field = (uint64_t)len + (uint64_t)-(int64_t)f->adjust;
    if (f->kind == FRAMING_LEN) {
        for (size_t i = 0; i < f->size; i++) {
            uint8_t b = (uint8_t)(field >> (8 * (f->size - 1 - i)));
            hdr[f->offset + (f->le ? f->size - 1 - i : i)] = b;
        }
    } else {
        size_t i = f->offset;
        do {
            hdr[i++] = (uint8_t)((field & 0x7f) | (field >= 0x80 ? 0x80 : 0));
            field >>= 7;
        } while (field != 0);
    }
    *hdr_len = hl;
    return FRAME_ENC_OK;
}
