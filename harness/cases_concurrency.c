/*
 * cases_concurrency.c — group `concurrency` (docs/spec.md CONCURRENCY-*). Each case writes its
 * scenario (fs.h) and runs it.
 */
#include "cases.h"

/*
 * concurrency.simultaneous — --conns (default 500) connections open at once (all handshakes
 * under way together), each sends one frame, and every echo is awaited with one deadline of
 * 20 s (scaled).
 */
void case_concurrency_simultaneous(fs_ctx *c)
{
    const char *f = fs_frame(c, 100);
    const char *all = c->cfg->conns > 1 ? fs_fmt(c, "c1..c%u", c->cfg->conns) : "c1";
    fs_sc(c, "connect %s", all);
    fs_sc(c, "%s send %s", all, f);
    fs_sc(c, "%s expect %s within %lld", all, f, (long long)fs_ms(c, 20000));
    fs_sc(c, "%s close", all);
    fs_sc_run(c);
}

/*
 * concurrency.stalled_peer — one peer holds half a frame and goes silent; meanwhile 50 other
 * connections, one after another, each get their echo within 1 s.
 */
void case_concurrency_stalled_peer(fs_ctx *c)
{
    uint64_t n = fs_max_payload(c, 10000);
    uint8_t hdr[WIRE_MAX_HEADER];
    size_t hl = wire_encode_header(c->cfg->framing, n, hdr), half = wire_frame_size(c->cfg->framing, n) / 2;
    const char *f = fs_frame(c, 64);
    fs_sc(c, "connect stalled");
    if (hl > 0)
        fs_sc(c, "stalled send %s raw %s:%zu", fs_raw(c, hdr, hl),
              wire_is_line(c->cfg->framing) ? "text" : "size", half - hl);
    else
        fs_sc(c, "stalled send raw %s:%zu", wire_is_line(c->cfg->framing) ? "text" : "size", half);
    fs_sc(c, "repeat 50");
    fs_sc(c, "  connect c1");
    fs_echo(c, "  c1", f, 1000);
    fs_sc(c, "  c1 close");
    fs_sc(c, "end");
    fs_sc(c, "stalled close");
    fs_sc_run(c);
}

/*
 * concurrency.churn — --cycles (default 2000) connect / echo / close cycles, one after another.
 * A server that leaks a resource per connection, or accepts slowly, fails. Under --loss, 200
 * cycles: each lost SYN or SYN-ACK costs the 1 s initial RTO (RFC 6298 2.1), one cycle after
 * another, and 2000 would take minutes to prove nothing more.
 */
void case_concurrency_churn(fs_ctx *c)
{
    unsigned cycles = c->cfg->cycles;
    const char *f = fs_frame(c, 16);
    if (c->cfg->loss_pct > 0 && cycles > 200)
        cycles = 200;
    fs_sc(c, "repeat %u", cycles);
    fs_sc(c, "  connect c1");
    fs_echo(c, "  c1", f, 5000);
    fs_sc(c, "  c1 close");
    fs_sc(c, "end");
    fs_sc_run(c);
}
