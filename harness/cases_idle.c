/*
 * cases_idle.c — group `idle`: the server's idle timeout (docs/spec.md IDLE-*). These cases run
 * only when --idle-timeout gives the server's timeout T. Each writes its scenario (fs.h) and runs
 * it.
 */
#include "cases.h"

/* The connection must stay open until 0.9 T - 50 ms after the step's start, then close with FIN
 * by T + the tolerance (max(0.5 s, T/4), scaled). */
static void expect_idle_close(fs_ctx *c, const char *conn)
{
    double t = (double)c->cfg->idle_ms / 4;
    int64_t tmax = c->cfg->idle_ms + fs_ms(c, t > 500 ? t : 500);
    int64_t early = c->cfg->idle_ms * 9 / 10 - 50;
    if (early > 0)
        fs_sc(c, "%s expect open for %lld", conn, (long long)early);
    fs_sc(c, "%s expect eof within %lld", conn, (long long)(tmax - (early > 0 ? early : 0)));
    fs_sc(c, "%s close", conn);
}

/*
 * idle.silent_closed — a connection that sends nothing is closed after T, within the tolerance
 * (max(0.5 s, T/4), scaled), with FIN.
 */
void case_idle_silent_closed(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    expect_idle_close(c, "c1");
    fs_sc_run(c);
}

/*
 * idle.keepalive_frames — a connection that sends a zero-length frame every T/4 (raw: one byte,
 * line: an empty line) and reads its echo stays open past 2.2 x T, and still echoes at the end.
 */
void case_idle_keepalive_frames(fs_ctx *c)
{
    const char *ka = wire_is_raw(c->cfg->framing) ? "raw \"k\"" : "frame \"\"";
    const char *f = fs_frame(c, 16);
    long long quarter = (long long)(c->cfg->idle_ms / 4);
    fs_sc(c, "connect c1");
    fs_sc(c, "repeat %lld", (long long)(c->cfg->idle_ms * 22 / 10 / (quarter > 0 ? quarter : 1)));
    fs_echo(c, "  c1", ka, 2000);
    fs_sc(c, "  sleep %lld", quarter);
    fs_sc(c, "end");
    fs_echo(c, "c1", f, 2000);
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * idle.half_header — a connection that sends one frame and then half a header (line: part of a
 * line; {packet,1}: a header announcing 5 and no payload) and goes silent gets its echo, then is
 * closed after T with FIN. Not raw: it has no partial frames.
 */
void case_idle_half_header(fs_ctx *c)
{
    uint8_t hdr[WIRE_MAX_HEADER];
    uint64_t n = wire_split_len(c->cfg->framing);
    size_t hl = wire_encode_header(c->cfg->framing, n, hdr);
    const char *f = fs_frame(c, 8), *tail;
    if (wire_is_line(c->cfg->framing))
        tail = "raw \"part\"";
    else if (hl > 1)
        tail = fs_raw(c, hdr, hl - 1);
    else
        tail = fs_raw(c, hdr, wire_encode_header(c->cfg->framing, 5, hdr));
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s %s", f, tail);
    fs_sc(c, "c1 expect %s within %lld", f, (long long)fs_ms(c, 2000));
    expect_idle_close(c, "c1");
    fs_sc_run(c);
}
