/*
 * frame.c — Erlang {packet,N} frame codec. See frame.h for the contract.
 */
#include "frame.h"

#include <string.h>

int frame_parse_framing(const char *name, framing_t *out)
{
    static const struct {
        const char *name;
        framing_t f;
    } names[] = {
        {"0", FRAMING_RAW}, {"raw", FRAMING_RAW}, {"1", FRAMING_U8},     {"u8", FRAMING_U8},
        {"2", FRAMING_U16}, {"u16", FRAMING_U16}, {"4", FRAMING_U32},    {"u32", FRAMING_U32},
        {"line", FRAMING_LINE},
    };
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return -1;
}

const char *frame_framing_name(framing_t f)
{
    switch (f) {
    case FRAMING_RAW:
        return "raw";
    case FRAMING_U8:
        return "1";
    case FRAMING_U16:
        return "2";
    case FRAMING_U32:
        return "4";
    case FRAMING_LINE:
        return "line";
    }
    return "?";
}

size_t frame_header_size(framing_t f)
{
    switch (f) {
    case FRAMING_U8:
        return 1;
    case FRAMING_U16:
        return 2;
    case FRAMING_U32:
        return 4;
    default:
        return 0;
    }
}

uint32_t frame_max_expressible(framing_t f)
{
    switch (f) {
    case FRAMING_U8:
        return 0xFFu;
    case FRAMING_U16:
        return 0xFFFFu;
    default:
        return 0xFFFFFFFFu;
    }
}

static uint32_t clamp_max(framing_t framing, uint64_t max)
{
    uint32_t lim = frame_max_expressible(framing);
    if (max == 0)
        max = FRAME_DEFAULT_MAX;
    return max > lim ? lim : (uint32_t)max;
}

void frame_decoder_init(frame_decoder *d, framing_t framing, uint64_t max)
{
    d->framing = framing;
    d->max = clamp_max(framing, max);
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

int frame_decode(frame_decoder *d, const uint8_t *buf, size_t len, frame *out)
{
    size_t hlen = frame_header_size(d->framing);
    uint64_t announced = 0;

    out->payload = NULL;
    out->payload_len = 0;
    out->consumed = 0;
    out->announced = 0;
    out->need = 0;

    if (d->framing == FRAMING_LINE)
        return decode_line(d, buf, len, out);
    if (d->framing == FRAMING_RAW) {
        if (len == 0)
            return FRAME_NEED_MORE;
        out->payload = buf;
        out->payload_len = len < d->max ? len : d->max;
        out->consumed = out->payload_len;
        out->announced = out->payload_len;
        return FRAME_OK;
    }
    if (len < hlen)
        return FRAME_NEED_MORE;
    for (size_t i = 0; i < hlen; i++)
        announced = (announced << 8) | buf[i];
    out->announced = announced;
    /* Compare before any arithmetic: hlen + announced is only formed once it is <= max. */
    if (announced > d->max)
        return FRAME_ERR_TOO_LONG;
    out->need = hlen + (size_t)announced;
    if (len - hlen < (size_t)announced)
        return FRAME_NEED_MORE;
    out->payload = buf + hlen;
    out->payload_len = (size_t)announced;
    out->consumed = out->need;
    out->need = 0;
    return FRAME_OK;
}

int frame_encode_header(framing_t framing, uint64_t max, const uint8_t *payload, size_t len,
                        uint8_t hdr[4], size_t *hdr_len)
{
    size_t hlen = frame_header_size(framing);
    *hdr_len = 0;
    if ((uint64_t)len > clamp_max(framing, max) && framing != FRAMING_RAW)
        return FRAME_ENC_TOO_LONG;
    if (framing == FRAMING_LINE && len > 0 && memchr(payload, '\n', len) != NULL)
        return FRAME_ENC_BAD_LINE;
    for (size_t i = 0; i < hlen; i++)
        hdr[i] = (uint8_t)((uint64_t)len >> (8 * (hlen - 1 - i)));
    *hdr_len = hlen;
    return FRAME_ENC_OK;
}
