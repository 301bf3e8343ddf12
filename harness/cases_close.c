/*
 * cases_close.c — groups `halfclose` and `reset`: the peer's FIN and the peer's RST
 * (docs/spec.md HALFCLOSE-*, RESET-*). Each case writes its scenario (fs.h) and runs it.
 */
#include <stdlib.h>

#include "cases.h"

/* On a fresh connection: `frames` then `tail` (an incomplete frame, as items, or "") in one
 * write, then SHUT_WR; the complete frames' echoes within 10 s, then FIN within 5 s. */
static void shut_wr_after(fs_ctx *c, const char *frames, const char *tail)
{
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s%s%s", frames, *tail ? " " : "", tail);
    fs_sc(c, "c1 shutdown wr");
    fs_sc(c, "c1 expect %s within %lld", frames, (long long)fs_ms(c, 10000));
    fs_sc(c, "c1 expect eof within %lld", (long long)fs_ms(c, 5000));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/* count frames of the half-close cases' sizes (listed one by one when a tail follows). */
static const char *some_frames(fs_ctx *c, size_t count, bool tail)
{
    static const size_t sizes[] = {100, 0, 7, 1000, 33};
    return tail ? fs_frame_list(c, sizes, 5, count) : fs_frames(c, sizes, 5, count);
}

/* The first bytes of a frame whose payload is n bytes: header and payload up to `k` bytes in
 * all, as items. */
static const char *frame_start(fs_ctx *c, uint64_t n, size_t k)
{
    uint8_t hdr[WIRE_MAX_HEADER];
    size_t hl = wire_encode_header(c->cfg->framing, n, hdr);
    if (k <= hl)
        return fs_raw(c, hdr, k);
    return fs_fmt(c, "%s raw %s:%zu", hl ? fs_raw(c, hdr, hl) : "",
                  wire_is_line(c->cfg->framing) ? "text" : "size", k - hl);
}

/*
 * halfclose.at_boundary — 50 frames, then shutdown(SHUT_WR) at a frame boundary: every echo
 * arrives, then EOF. ECONNRESET fails (the server closed with unread data or with SO_LINGER 0),
 * and so does a server that never closes, or drops echoes once it sees EOF.
 */
void case_halfclose_at_boundary(fs_ctx *c)
{
    shut_wr_after(c, some_frames(c, 50, false), "");
}

/*
 * halfclose.mid_frame — frames, then half of a 64-byte frame, then SHUT_WR: the complete frames
 * are echoed, the partial one is dropped (never echoed in part), then FIN.
 */
void case_halfclose_mid_frame(fs_ctx *c)
{
    uint64_t n = fs_max_payload(c, 64);
    shut_wr_after(c, some_frames(c, 10, true), frame_start(c, n, wire_frame_size(c->cfg->framing, n) / 2));
}

/*
 * halfclose.mid_header — frames, then part of a header (line framing: part of a line), then
 * SHUT_WR: the complete frames are echoed, then FIN. Framings with a header of 2 bytes or more,
 * and line (FS_NEEDS_FRAMED, FS_NOT_U8).
 */
void case_halfclose_mid_header(fs_ctx *c)
{
    size_t hl = wire_header_size(c->cfg->framing, wire_split_len(c->cfg->framing));
    shut_wr_after(c, some_frames(c, 10, true),
                  wire_is_line(c->cfg->framing) ? "raw \"par\""
                                                : frame_start(c, wire_split_len(c->cfg->framing),
                                                              hl - 1));
}

/*
 * halfclose.large_transfer — 64 MiB of frames ending in SHUT_WR, read while sending: nothing is
 * lost, then FIN. A server that closes before reading to EOF makes the kernel send RST and the
 * tail of the echoes is lost.
 */
void case_halfclose_large_transfer(fs_ctx *c)
{
    size_t per = wire_is_raw(c->cfg->framing) ? 65536 : fs_max_payload(c, 65536);
    size_t count = (64u << 20) / wire_frame_size(c->cfg->framing, per);
    const char *f = fs_fmt(c, "%s x%zu", fs_frame(c, per), count);
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s", f);
    fs_sc(c, "c1 shutdown wr");
    fs_sc(c, "c1 expect %s within %lld", f, (long long)fs_ms(c, 60000));
    fs_sc(c, "c1 expect eof within %lld", (long long)fs_ms(c, 5000));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * halfclose.queued_echoes — a peer writes frames without reading until the server stops taking
 * them (the server's own queue fills, then the kernel buffers: megabytes; 64 MiB at most),
 * sends SHUT_WR and reads slowly (32 MB/s), so that the server's queue is still full when it
 * reaches our FIN: every echo of a complete frame must arrive, then FIN (HALFCLOSE-5). A server
 * that closes (or aborts) the connection when it reads EOF drops the echoes it still holds in
 * user space. The other halfclose cases read while they send, so such a server's queue is empty
 * at EOF and they cannot see that; and a fast reader would let it catch up before EOF.
 */
void case_halfclose_queued_echoes(fs_ctx *c)
{
    size_t per = wire_is_raw(c->cfg->framing) ? 65536 : fs_max_payload(c, 65536);
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 flood %s up-to 64M then shutdown within %lld", fs_frame(c, per),
          (long long)fs_ms(c, 60000));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/* Open c1, send `bytes` (a start of a frame, as items) on c2 without reading, abort c2 (RST)
 * once the server has read them; then c1 must still be served and the server alive. */
static void abort_after(fs_ctx *c, const char *bytes)
{
    const char *f = fs_frame(c, 32);
    fs_sc(c, "connect c1");
    fs_sc(c, "connect c2");
    fs_sc(c, "c2 stop-reading");
    fs_sc(c, "c2 send %s", bytes);
    fs_sc(c, "sleep 20  # the server reads it: the RST meets a connection mid-frame");
    fs_sc(c, "c2 abort");
    fs_sc(c, "sleep 20");
    fs_echo(c, "c1", f, 5000);
    fs_sc(c, "c1 close");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/*
 * reset.mid_header — a peer sends part of a header and aborts (SO_LINGER {1,0}: RST). The server
 * survives and another connection is still served.
 */
void case_reset_mid_header(fs_ctx *c)
{
    uint64_t n = wire_split_len(c->cfg->framing);
    size_t hl = wire_header_size(c->cfg->framing, n);
    abort_after(c, hl > 1 ? frame_start(c, n, hl - 1) : "raw \"h\"");
}

/*
 * reset.mid_payload — a peer sends a header and part of a 5000-byte payload, then aborts (RST).
 */
void case_reset_mid_payload(fs_ctx *c)
{
    uint64_t n = fs_max_payload(c, 5000);
    abort_after(c, frame_start(c, n, wire_frame_size(c->cfg->framing, n) / 2));
}

/*
 * reset.echo_pending — a peer sends 50 frames and aborts at once, while their echoes are being
 * written: the server's writes meet the RST.
 */
void case_reset_echo_pending(fs_ctx *c)
{
    abort_after(c, fs_fmt(c, "%s x50", fs_frame(c, 1000)));
}

/*
 * reset.echoes_in_flight — three times: a peer sends thousands of frames (8 MiB) without reading
 * and closes; its kernel answers the server's next segments with RST, so the server's writes fail
 * with EPIPE/ECONNRESET. A server that does not ignore SIGPIPE (or use MSG_NOSIGNAL) dies here.
 */
void case_reset_echoes_in_flight(fs_ctx *c)
{
    fs_sc(c, "repeat 3");
    fs_sc(c, "  connect c1");
    fs_sc(c, "  c1 stop-reading");
    fs_sc(c, "  c1 send %s x8192", fs_frame(c, 1024));
    fs_sc(c, "  c1 close  # unread echoes in our receive queue: the kernel sends RST");
    fs_sc(c, "  sleep 100");
    fs_sc(c, "  expect server-alive");
    fs_sc(c, "end");
    fs_sc_run(c);
}

/*
 * reset.fin_before_echoes — the SIGPIPE trap after the peer's FIN. A peer sends a burst of frames
 * and closes normally (FIN, nothing unread on its side), before the echoes arrive: TCP_CORK makes
 * the burst and the FIN leave in one segment, so the server has the FIN before it writes. Its
 * first echo reaches a closed socket, whose kernel answers RST (RFC 1122 4.2.2.13: data after
 * CLOSE). The connection was in CLOSE-WAIT, so Linux reports that RST as EPIPE (tcp_reset()), and
 * the server's very next write fails with EPIPE and raises SIGPIPE unless it ignores SIGPIPE or
 * uses MSG_NOSIGNAL (send(2)): checking every write and stopping at the first error does not help.
 * reset.echoes_in_flight, where the RST meets an ESTABLISHED connection, reports ECONNRESET first
 * and cannot show this. Rounds of several sizes, so that a server that writes one echo per frame
 * and one that writes per read both meet a second write: 2 small frames, 20 and 60 frames of
 * 1 KiB, 2 frames of 30 KiB (all under one 64 KiB loopback segment), three times each, and 1 MiB
 * sent while reading the echoes, then closed with nothing unread. After each the server must be
 * alive.
 */
void case_reset_fin_before_echoes(fs_ctx *c)
{
    static const struct {
        size_t count, size;
    } rounds[] = {{2, 16}, {20, 1024}, {60, 1024}, {2, 30000}};
    for (size_t i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
        fs_sc(c, "repeat 3");
        fs_sc(c, "  connect c1");
        fs_sc(c, "  c1 cork");
        fs_sc(c, "  c1 send %s x%zu", fs_frame(c, rounds[i].size), rounds[i].count);
        fs_sc(c, "  c1 close  # FIN with the burst: the echoes meet RST, then EPIPE");
        fs_sc(c, "  sleep 20");
        fs_sc(c, "  expect server-alive");
        fs_sc(c, "end");
    }
    /* 1 MiB while reading its echoes, then a close with only the last echoes in flight */
    fs_sc(c, "repeat 3");
    fs_sc(c, "  connect c1");
    fs_sc(c, "  c1 send %s x1023", fs_frame(c, 1024));
    fs_sc(c, "  c1 expect %s x1000 within %lld", fs_frame(c, 1024), (long long)fs_ms(c, 10000));
    fs_sc(c, "  c1 close");
    fs_sc(c, "  sleep 20");
    fs_sc(c, "  expect server-alive");
    fs_sc(c, "end");
    fs_sc_run(c);
}

/*
 * reset.burst — 200 connections each send part of a 3000-byte frame (of a different length),
 * then all abort (RST) at once. The server survives and keeps serving.
 */
void case_reset_burst(fs_ctx *c)
{
    uint64_t n = fs_max_payload(c, 3000);
    size_t len = wire_frame_size(c->cfg->framing, n);
    fs_sc(c, "connect c1..c200");
    for (size_t i = 0; i < 200; i++)
        fs_sc(c, "c%zu send %s", i + 1, frame_start(c, n, 1 + (i * 37) % (len - 1)));
    fs_sc(c, "sleep 50");
    fs_sc(c, "c1..c200 abort");
    fs_sc(c, "sleep 100");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}
