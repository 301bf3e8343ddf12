/*
 * wire.c — frame building for the harness. See wire.h.
 */
#include "wire.h"

#include <string.h>

int wire_parse_framing(const char *s, wire_framing *out)
{
    if (!strcmp(s, "0") || !strcmp(s, "raw"))
        *out = WIRE_RAW;
    else if (!strcmp(s, "1") || !strcmp(s, "u8"))
        *out = WIRE_U8;
    else if (!strcmp(s, "2") || !strcmp(s, "u16"))
        *out = WIRE_U16;
    else if (!strcmp(s, "4") || !strcmp(s, "u32"))
        *out = WIRE_U32;
    else if (!strcmp(s, "line"))
        *out = WIRE_LINE;
    else
        return -1;
    return 0;
}

const char *wire_framing_name(wire_framing f)
{
    switch (f) {
    case WIRE_RAW:
        return "raw";
    case WIRE_U8:
        return "1";
    case WIRE_U16:
        return "2";
    case WIRE_U32:
        return "4";
    case WIRE_LINE:
        return "line";
    }
    return "?";
}

size_t wire_header_size(wire_framing f)
{
    return (f == WIRE_U8 || f == WIRE_U16 || f == WIRE_U32) ? (size_t)f : 0;
}

uint64_t wire_max_expressible(wire_framing f)
{
    return f == WIRE_U8 ? 0xFF : f == WIRE_U16 ? 0xFFFF : 0xFFFFFFFFull;
}

size_t wire_frame_size(wire_framing f, size_t len)
{
    return wire_header_size(f) + len + (f == WIRE_LINE ? 1 : 0);
}

size_t wire_encode_header(wire_framing f, uint64_t len, uint8_t out[4])
{
    size_t h = wire_header_size(f);
    for (size_t i = 0; i < h; i++)
        out[i] = (uint8_t)(len >> (8 * (h - 1 - i)));
    return h;
}

size_t wire_encode(wire_framing f, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t h = wire_encode_header(f, len, out);
    if (len > 0)
        memcpy(out + h, payload, len);
    if (f == WIRE_LINE)
        out[h + len] = '\n';
    return wire_frame_size(f, len);
}
