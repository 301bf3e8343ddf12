/*
 * cases_latency.c — group `latency` (docs/spec.md LATENCY-*): no Nagle/delayed-ACK stalls. Each
 * case writes its scenario (fs.h) and runs it; the round trips are the engine's `ping` step.
 */
#include "cases.h"

/* The p90 limit: 20 ms scaled, capped at 30 ms: the stall this detects is 40 ms whatever the
 * machine, so a larger limit could not see it. */
static long long latency_limit_ms(const fs_ctx *c)
{
    return fs_ms(c, 20) < 30 ? (long long)fs_ms(c, 20) : 30;
}

/*
 * latency.ping_pong — 200 round trips of a 16-byte frame: the p90 round trip must be under
 * 20 ms, far below the ~40 ms stall a server gets when it writes the header and the payload in
 * two writes without TCP_NODELAY (Nagle waits for our delayed ACK).
 */
void case_latency_ping_pong(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 ping %s x200 p90 within %lld", fs_frame(c, 16), latency_limit_ms(c));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * latency.pipelined — 20 bursts of 50 small frames, each burst in one write: the p90 time for a
 * whole burst to come back must be under 20 ms.
 */
void case_latency_pipelined(fs_ctx *c)
{
    static const size_t sizes[] = {16, 3, 40};
    const char *burst = "";
    for (size_t i = 0; i < 50; i++) /* listed: a ping's xN counts round trips */
        burst = fs_fmt(c, "%s%s%s", burst, i ? " " : "", fs_frame(c, sizes[i % 3]));
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 ping %s x20 p90 within %lld", burst, latency_limit_ms(c));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}
