/*
 * wire.c — frame building for the harness. See wire.h.
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wire_framing wire_default_framing(void)
{
    wire_framing f = {.kind = WIRE_LEN, .width = 4};
    snprintf(f.name, sizeof f.name, "4");
    return f;
}

/* The name a spec starts with. Returns 0, or -1 when it is not one. */
static int wire_base(const char *tok, wire_framing *f)
{
    static const char *const widths[] = {"", "1", "2", "3", "4", "", "", "", "8"};
    unsigned w;
    char le[4] = "";
    if (!strcmp(tok, "0") || !strcmp(tok, "raw")) {
        f->kind = WIRE_RAW;
        return 0;
    }
    if (!strcmp(tok, "line") || !strcmp(tok, "varint")) {
        f->kind = tok[0] == 'l' ? WIRE_LINE : WIRE_VARINT;
        return 0;
    }
    for (w = 1; w <= 8; w++) {
        char u[8], len[8];
        if (widths[w][0] == '\0')
            continue;
        snprintf(u, sizeof u, "u%u", 8 * w);
        snprintf(len, sizeof len, "len=%u", w);
        if (!strcmp(tok, widths[w]) || !strcmp(tok, u) || !strcmp(tok, len))
            break;
        if (!strncmp(tok, u, strlen(u)) && !strcmp(tok + strlen(u), "le")) {
            snprintf(le, sizeof le, "le");
            break;
        }
    }
    if (w > 8)
        return -1;
    f->kind = WIRE_LEN;
    f->width = w;
    f->little = le[0] != '\0' && w > 1;
    return 0;
}

/* "KEY=INTEGER" with the integer in [lo, hi]: returns 0, or -1. */
static int wire_int(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    long long n;
    if (*v == '\0')
        return -1;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static void wire_name(wire_framing *f)
{
    char *p = f->name, *e = f->name + sizeof f->name;
    if (f->kind == WIRE_RAW || f->kind == WIRE_LINE) {
        snprintf(f->name, sizeof f->name, "%s", f->kind == WIRE_RAW ? "raw" : "line");
        return;
    }
    if (f->kind == WIRE_VARINT)
        p += snprintf(p, (size_t)(e - p), "varint");
    else if (!f->little && f->width != 3 && f->width != 8)
        p += snprintf(p, (size_t)(e - p), "%u", f->width);
    else
        p += snprintf(p, (size_t)(e - p), "u%u%s", 8 * f->width, f->little ? "le" : "");
    if (f->offset)
        p += snprintf(p, (size_t)(e - p), ",offset=%u", f->offset);
    if (f->adjust)
        p += snprintf(p, (size_t)(e - p), ",adjust=%lld", (long long)f->adjust);
    if (f->strip)
        p += snprintf(p, (size_t)(e - p), ",strip=%u", f->strip);
    if (f->limit_frame)
        snprintf(p, (size_t)(e - p), ",limit=frame");
}

int wire_parse_framing(const char *s, wire_framing *out, char *err, size_t errlen)
{
    wire_framing f = {0};
    const char *p = s;
    bool have_order = false, have[4] = {false, false, false, false};
    long long v;
    char tok[64];

#define WIRE_ERR(...) ((void)snprintf(err, errlen, __VA_ARGS__), -1)
    if (s == NULL || *s == '\0')
        return WIRE_ERR("empty framing (try 4, u32le, varint or len=4,adjust=-4)");
    for (int first = 1; *p != '\0'; first = 0) {
        size_t n = strcspn(p, ",");
        const char *val;
        int which;
        if (n >= sizeof tok)
            return WIRE_ERR("'%.20s...' is too long for a framing parameter", p);
        memcpy(tok, p, n);
        tok[n] = '\0';
        p += n + (p[n] == ',');
        if (first) {
            if (wire_base(tok, &f) == 0)
                continue;
            if (!strncmp(tok, "len=", 4))
                return WIRE_ERR("len: must be 1, 2, 3, 4 or 8 (bytes of the length field), or "
                                "use varint");
            return WIRE_ERR("unknown framing '%s' (known: raw, line, 1, 2, 4, u8, u16, u24, u32, "
                            "u64, u16le, u24le, u32le, u64le, varint, len=N)", tok);
        }
        if (!wire_has_header(f))
            return WIRE_ERR("%s takes no parameters ('%s')", f.kind == WIRE_RAW ? "raw" : "line",
                            tok);
        if (!strcmp(tok, "be") || !strcmp(tok, "le")) {
            if (have_order)
                return WIRE_ERR("byte order: given twice");
            if (f.kind == WIRE_VARINT)
                return WIRE_ERR("%s: a varint has no byte order", tok);
            have_order = true;
            f.little = tok[0] == 'l' && f.width > 1;
            continue;
        }
        val = strchr(tok, '=');
        which = !val ? -1 : !strncmp(tok, "offset=", 7) ? 0 : !strncmp(tok, "adjust=", 7) ? 1
                : !strncmp(tok, "strip=", 6) ? 2 : !strncmp(tok, "limit=", 6) ? 3 : -1;
        if (which < 0)
            return WIRE_ERR("unknown parameter '%s' (known: be, le, offset=N, adjust=N, strip=N, "
                            "limit=payload|frame)", tok);
        if (have[which])
            return WIRE_ERR("%.*s: given twice", (int)(val - tok), tok);
        have[which] = true;
        val++;
        if (which == 0) {
            if (wire_int(val, 0, 64, &v) < 0)
                return WIRE_ERR("offset: '%s' is not an integer from 0 to 64", val);
            f.offset = (unsigned)v;
        } else if (which == 1) {
            if (wire_int(val, -65535, 65535, &v) < 0)
                return WIRE_ERR("adjust: '%s' is not an integer from -65535 to 0", val);
            if (v > 0)
                return WIRE_ERR("adjust: %lld is positive; the length field must count at least "
                                "the payload (adjust <= 0; -(offset + size) counts the whole "
                                "frame)", v);
            f.adjust = v;
        } else if (which == 2) {
            if (wire_int(val, 0, 255, &v) < 0)
                return WIRE_ERR("strip: '%s' is not an integer from 0 to 255", val);
            f.strip = (unsigned)v;
        } else if (!strcmp(val, "frame") || !strcmp(val, "payload")) {
            f.limit_frame = val[0] == 'f';
        } else {
            return WIRE_ERR("limit: '%s' is not 'payload' or 'frame'", val);
        }
    }
    if (f.kind == WIRE_LEN && f.width < 8 && (uint64_t)-f.adjust > (1ull << (8 * f.width)) - 1)
        return WIRE_ERR("adjust: %lld leaves no payload a %u-byte length can express",
                        (long long)f.adjust, f.width);
    if (f.strip > f.offset + (f.kind == WIRE_LEN ? f.width : 0))
        return WIRE_ERR("strip: %u is more than the header's fixed %u bytes (offset + length "
                        "field)", f.strip, f.offset + (f.kind == WIRE_LEN ? f.width : 0));
#undef WIRE_ERR
    wire_name(&f);
    *out = f;
    return 0;
}

const char *wire_framing_name(const wire_framing *f)
{
    return f->name;
}

/* Bytes of a base-128 varint holding v. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    for (; v > 0x7f; v >>= 7)
        n++;
    return n;
}

size_t wire_header_size(wire_framing f, uint64_t len)
{
    if (f.kind == WIRE_LEN)
        return f.offset + f.width;
    if (f.kind == WIRE_VARINT)
        return f.offset + varint_len(len + (uint64_t)-f.adjust);
    return 0;
}

uint64_t wire_max_expressible(wire_framing f)
{
    uint64_t field_max;
    if (!wire_has_header(f))
        return 0xFFFFFFFFull;
    field_max = f.kind == WIRE_VARINT || f.width == 8 ? UINT64_MAX : (1ull << (8 * f.width)) - 1;
    return field_max - (uint64_t)-f.adjust;
}

uint64_t wire_max_payload(wire_framing f, uint64_t max)
{
    uint64_t best = max, expr = wire_max_expressible(f);
    if (f.limit_frame) {
        /* the header size can only grow with the payload (varint): walk down to the largest fit */
        size_t h = wire_header_size(f, max);
        best = max > h ? max - h : 0;
        while (best > 0 && wire_header_size(f, best) + best > max)
            best--;
        if (wire_header_size(f, best) + best > max)
            return 0;
    }
    return best < expr ? best : expr;
}

uint64_t wire_split_len(wire_framing f)
{
    return wire_max_expressible(f) < 300 ? wire_max_expressible(f) : 300;
}

size_t wire_frame_size(wire_framing f, size_t len)
{
    return wire_header_size(f, len) + len + (f.kind == WIRE_LINE ? 1 : 0);
}

size_t wire_encode_field(wire_framing f, uint64_t field, uint8_t out[WIRE_MAX_HEADER])
{
    size_t n = 0;
    if (!wire_has_header(f))
        return 0;
    for (; n < f.offset; n++)
        out[n] = (uint8_t)(WIRE_PREAMBLE + n);
    if (f.kind == WIRE_VARINT) {
        while (field > 0x7f) {
            out[n++] = (uint8_t)(0x80 | (field & 0x7f));
            field >>= 7;
        }
        out[n++] = (uint8_t)field;
        return n;
    }
    for (unsigned i = 0; i < f.width; i++) {
        unsigned shift = f.little ? 8 * i : 8 * (f.width - 1 - i);
        out[n++] = (uint8_t)(field >> shift);
    }
    return n;
}

size_t wire_encode_header(wire_framing f, uint64_t len, uint8_t out[WIRE_MAX_HEADER])
{
    return wire_encode_field(f, len + (uint64_t)-f.adjust, out);
}

size_t wire_encode(wire_framing f, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t h = wire_encode_header(f, len, out);
    if (len > 0)
        memcpy(out + h, payload, len);
    if (f.kind == WIRE_LINE)
        out[h + len] = '\n';
    return wire_frame_size(f, len);
}

wire_cut wire_next_header(wire_framing f, const uint8_t *buf, size_t n, uint64_t max,
                          size_t *size, uint64_t *payload)
{
    uint64_t field = 0;
    size_t h = f.offset;
    *size = 0;
    *payload = 0;
    if (n < f.offset)
        return WIRE_CUT_MORE;
    if (f.kind == WIRE_VARINT) {
        for (unsigned i = 0;; i++) {
            uint8_t b;
            if (h >= n)
                return WIRE_CUT_MORE;
            b = buf[h++];
            if (i == 9 && b > 1) {
                *size = h;
                return WIRE_CUT_MALFORMED; /* over 64 bits (LIMITS-7) */
            }
            field |= (uint64_t)(b & 0x7f) << (7 * i);
            if (!(b & 0x80))
                break;
            if (i == 9) {
                *size = h;
                return WIRE_CUT_MALFORMED; /* longer than 10 bytes (LIMITS-7) */
            }
        }
    } else {
        if (n < h + f.width)
            return WIRE_CUT_MORE;
        for (unsigned i = 0; i < f.width; i++) {
            unsigned shift = f.little ? 8 * i : 8 * (f.width - 1 - i);
            field |= (uint64_t)buf[h + i] << shift;
        }
        h += f.width;
    }
    *size = h;
    if (field < (uint64_t)-f.adjust)
        return WIRE_CUT_MALFORMED; /* less than the header it is part of (LIMITS-6) */
    *payload = field - (uint64_t)-f.adjust;
    return *payload > wire_max_payload(f, max) ? WIRE_CUT_OVERSIZE : WIRE_CUT_FRAME;
}

wire_cut wire_next_frame(wire_framing f, const uint8_t *buf, size_t n, uint64_t max,
                         size_t *size, uint64_t *payload)
{
    uint64_t limit = wire_max_payload(f, max);
    size_t h;
    wire_cut c;
    *size = 0;
    *payload = 0;
    if (n == 0)
        return WIRE_CUT_MORE;
    if (f.kind == WIRE_RAW) {
        *size = n;
        *payload = n;
        return WIRE_CUT_FRAME;
    }
    if (f.kind == WIRE_LINE) {
        /* no further than the longest line a server takes (the rest cannot change the cut) */
        const uint8_t *nl = memchr(buf, '\n', n <= limit ? n : (size_t)limit + 1);
        if (nl == NULL)
            return n > limit ? (*size = n, WIRE_CUT_OVERSIZE) : WIRE_CUT_MORE;
        *payload = (uint64_t)(nl - buf);
        *size = (size_t)(nl - buf) + 1;
        return *payload > limit ? WIRE_CUT_OVERSIZE : WIRE_CUT_FRAME;
    }
    c = wire_next_header(f, buf, n, max, &h, payload);
    if (c != WIRE_CUT_FRAME) {
        if (c == WIRE_CUT_MORE)
            *payload = 0;
        return c;
    }
    if (n - h < *payload) {
        *payload = 0;
        return WIRE_CUT_MORE;
    }
    *size = h + (size_t)*payload;
    return WIRE_CUT_FRAME;
}
