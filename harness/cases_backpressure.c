/*
 * cases_backpressure.c — group `backpressure` (docs/spec.md BACKPRESSURE-*): a peer that does
 * not read. Each case writes its scenario (fs.h) and runs it; the bound on what such a peer gets
 * accepted is the engine's (`flood ... at-most kernel`: sc_flood_bound()).
 */
#include "cases.h"

/* The frame a peer that does not read sends again and again: 64 KiB of payload (raw: 64 KiB
 * chunks), or the largest payload the server accepts when that is less. */
static const char *fill_frame(fs_ctx *c)
{
    return fs_frame(c, wire_is_raw(c->cfg->framing) ? 65536 : fs_max_payload(c, 65536));
}

/*
 * backpressure.bounded — write without reading: the bytes the server accepts stay under the
 * kernel's bound (BACKPRESSURE-1: the most the kernel may buffer between the two ends, from its
 * limits, + 2 x the frame + 2 MiB + 25 %: sc_flood_bound()). Then the peer reads again: every
 * echo arrives intact (BACKPRESSURE-2); then SHUT_WR, and FIN. A server that buffers without
 * bound for a peer that never reads fails.
 */
void case_backpressure_bounded(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 flood %s at-most kernel within %lld", fill_frame(c),
          (long long)fs_ms(c, 30000));
    fs_sc(c, "c1 shutdown wr");
    fs_sc(c, "c1 expect eof within %lld  # HALFCLOSE-1", (long long)fs_ms(c, 5000));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * backpressure.others_served — while one peer writes and never reads (and the server has stopped
 * reading it), another connection is served within 1 s.
 */
void case_backpressure_others_served(fs_ctx *c)
{
    const char *f = fs_frame(c, 32);
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 stop-reading");
    fs_sc(c, "c1 send %s x4096  # until the server stops taking bytes (256 MiB at most)",
          fill_frame(c));
    fs_sc(c, "connect c2");
    fs_echo(c, "c2", f, 1000);
    fs_sc(c, "c2 close");
    fs_sc(c, "c1 abort");
    fs_sc_run(c);
}

/*
 * backpressure.rss — (--exec) the server's resident memory grows by less than 64 MiB while a peer
 * writes up to 160 MiB and never reads. The server must echo a first frame on that connection
 * before the fill: one that accepts nothing, or never reads, fails here instead of passing with
 * the fill in the kernel's buffers. The server is restarted first (on a new port), so the
 * baseline is clean whatever ran before: a server that buffered an earlier case's load keeps that
 * memory resident (the allocator holds it for reuse), this load would reuse it, and the growth
 * measured would be about zero.
 */
void case_backpressure_rss(fs_ctx *c)
{
    const char *f = fill_frame(c);
    fs_sc(c, "server stop");
    fs_sc(c, "server start new-port  # a clean memory baseline");
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s", f);
    fs_sc(c, "c1 expect %s within %lld  # the server reads this peer", f, (long long)fs_ms(c, 5000));
    fs_sc(c, "c1 stop-reading");
    fs_sc(c, "c1 send %s x2560  # until the server stops taking bytes (160 MiB at most)", f);
    fs_sc(c, "expect server-memory at-most 64M");
    fs_sc(c, "c1 abort");
    fs_sc_run(c);
}
