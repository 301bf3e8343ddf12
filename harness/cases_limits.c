/*
 * cases_limits.c — group `limits`: the maximum frame and malformed headers (docs/spec.md
 * LIMITS-*). Each case writes its scenario (fs.h) and runs it.
 */
#include <string.h>

#include "cases.h"

/* The biggest exact-max frame this suite sends (bigger --max-frame values skip limits.exact_max). */
#define EXACT_MAX_LIMIT (256u * 1024u * 1024u)

/* Payload bytes sent after a header the server must refuse: a server waiting for the payload
 * gets some (512, or its largest payload when less), and still must not wait for the rest. */
static unsigned long long filler(const fs_ctx *c)
{
    return fs_max_payload(c, 512);
}

/*
 * limits.exact_max — a frame of exactly the maximum is echoed, and a small frame after it too (an
 * off-by-one `len >= max` check fails here). The maximum counts the payload, or under
 * limit=frame the whole frame: the payload is then --max-frame minus the header (Netty's
 * maxFrameLength), and a server that counts the payload only passes too (this case cannot see
 * it; limits.over_max does).
 */
void case_limits_exact_max(fs_ctx *c)
{
    const char *w;
    if (c->cfg->max_payload > EXACT_MAX_LIMIT) {
        fs_skip(c, "--max-frame %llu is over the %u bytes this case sends",
                (unsigned long long)c->cfg->max_payload, EXACT_MAX_LIMIT);
        return;
    }
    w = fs_fmt(c, "%s %s", fs_frame(c, c->cfg->max_payload), fs_frame(c, 3));
    fs_sc(c, "connect c1");
    fs_echo(c, "c1", w, 30000);
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/* The start of a frame announcing `announced` payload bytes, as items: its header and filler()
 * payload bytes (line framing: a line of max + 1 bytes without '\n'). */
static const char *oversized(fs_ctx *c, uint64_t announced)
{
    uint8_t hdr[WIRE_MAX_HEADER];
    size_t n;
    if (wire_is_line(c->cfg->framing))
        return fs_fmt(c, "raw text:%llu", (unsigned long long)c->cfg->max_frame + 1);
    n = wire_encode_header(c->cfg->framing, announced, hdr);
    return fs_fmt(c, "%s raw size:%llu", fs_raw(c, hdr, n), filler(c));
}

/* On connection `conn` (open): `prefix` (complete frames, or "") then `bad` (a start the server
 * must refuse) in one write; the echoes of prefix (LIMITS-4), then a prompt close, FIN or RST,
 * within 1 s (LIMITS-2 and the case's others). */
static void refused(fs_ctx *c, const char *conn, const char *prefix, const char *bad)
{
    fs_sc(c, "%s send %s%s%s", conn, prefix, *prefix ? " " : "", bad);
    if (*prefix)
        fs_sc(c, "%s expect %s within %lld  # LIMITS-4", conn, prefix, (long long)fs_ms(c, 1000));
    fs_sc(c, "%s expect closed within %lld before-idle", conn, (long long)fs_ms(c, 1000));
    fs_sc(c, "%s close", conn);
}

/*
 * limits.over_max — a header announcing --max-frame + 1 (and some payload bytes after it) makes
 * the server close promptly (1 s, FIN or RST): a server that waits for the payload fails. With
 * line framing: a line of max + 1 bytes without '\n'. Then the server still serves (LIMITS-5).
 */
void case_limits_over_max(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    refused(c, "c1", "", oversized(c, c->cfg->max_payload + 1));
    fs_sc(c, "expect server-alive  # LIMITS-5");
    fs_sc_run(c);
}

/*
 * limits.over_max_huge — a header announcing the largest length the framing expresses
 * (0xFFFFFFFF for {packet,4}) closes promptly too, and the server does not reserve that memory
 * (with --exec: resident memory grows by less than 64 MiB: LIMITS-3). Length fields only: line
 * framing has no header to announce a length.
 */
void case_limits_over_max_huge(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    refused(c, "c1", "", oversized(c, wire_max_expressible(c->cfg->framing)));
    if (c->cfg->exec_cmd)
        fs_sc(c, "expect server-memory at-most 64M  # LIMITS-3");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/*
 * limits.echoes_first — ten complete frames, then an oversized header in the same write: the ten
 * echoes arrive before the close.
 */
void case_limits_echoes_first(fs_ctx *c)
{
    static const size_t sizes[] = {10, 0, 200};
    fs_sc(c, "connect c1");
    refused(c, "c1", fs_frame_list(c, sizes, 3, 10),
            oversized(c, c->cfg->max_payload + 1));
    fs_sc_run(c);
}

/*
 * limits.others_served — while one connection is closed for an oversized header, another one,
 * opened before, keeps being served, and new connections are accepted.
 */
void case_limits_others_served(fs_ctx *c)
{
    const char *f = fs_frame(c, 32);
    long long ms = (long long)fs_ms(c, 5000);
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s", f);
    fs_sc(c, "c1 expect %s within %lld", f, ms);
    fs_sc(c, "connect c2");
    refused(c, "c2", "", oversized(c, c->cfg->max_payload + 1));
    fs_sc(c, "c1 send %s", f);
    fs_sc(c, "c1 expect %s within %lld", f, ms);
    fs_sc(c, "c1 close");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/*
 * limits.short_length — a length field that announces less than the header it is part of
 * (adjust < 0, field = -adjust - 1: 3 for a 4-byte header-inclusive length) makes the server
 * close promptly (LIMITS-6; echoes of earlier frames are LIMITS-4's, limits.echoes_first).
 * Netty throws CorruptedFrameException ("Adjusted frame length ... is less than
 * lengthFieldEndOffset"), tokio "provided length would overflow after adjustment". A server that
 * adds -adjust instead (a wrong sign) waits for a payload.
 */
void case_limits_short_length(fs_ctx *c)
{
    uint8_t bad[WIRE_MAX_HEADER];
    size_t n = wire_encode_field(c->cfg->framing, (uint64_t)-c->cfg->framing.adjust - 1, bad);
    fs_sc(c, "connect c1");
    refused(c, "c1", "", fs_fmt(c, "%s raw size:%llu", fs_raw(c, bad, n), filler(c)));
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/* A varint of ten bytes (after the preamble) whose first nine are 0x80 and the tenth `tenth`,
 * plus an eleventh 0x00 when the tenth has the continuation bit: refused promptly (LIMITS-7). */
static void bad_varint(fs_ctx *c, uint8_t tenth)
{
    uint8_t bad[WIRE_MAX_HEADER + 2];
    size_t n = wire_encode_field(c->cfg->framing, 0, bad) - 1; /* the preamble */
    memset(bad + n, 0x80, 9);
    n += 9;
    bad[n++] = tenth;
    if (tenth & 0x80)
        bad[n++] = 0x00; /* an eleventh byte: a reader that accepts it has a zero-length frame */
    fs_sc(c, "connect c1");
    refused(c, "c1", "", fs_fmt(c, "%s raw size:%llu", fs_raw(c, bad, n), filler(c)));
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/*
 * limits.varint_overlong — a varint of eleven bytes (ten with the continuation bit, then 0x00:
 * the value 0, redundantly encoded): the server refuses it by the tenth byte and closes promptly
 * (LIMITS-7). Protocol Buffers' readRawVarint64 throws "malformedVarint" after ten bytes; Go's
 * binary.Uvarint returns n < 0 (overflow).
 */
void case_limits_varint_overlong(fs_ctx *c)
{
    bad_varint(c, 0x80);
}

/*
 * limits.varint_overflow — a varint of ten bytes whose tenth byte is 2: bits past 2^64. Refused
 * and closed promptly (LIMITS-7); a reader that drops the high bits reads the length 0.
 */
void case_limits_varint_overflow(fs_ctx *c)
{
    bad_varint(c, 0x02);
}
