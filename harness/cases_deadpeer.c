/*
 * cases_deadpeer.c — group `deadpeer` (docs/spec.md DEADPEER-*): peers that vanish without a FIN
 * or an RST, silent peers that are alive, and RSTs injected by a middlebox. Each case writes its
 * scenario (fs.h) and runs it.
 *
 * These cases run in framespec's private network namespace (netns.h), where the engine's
 * `vanish` step makes one connection's peer vanish exactly as a crashed host does: nftables
 * drops every packet of its 4-tuple, in both directions (vanish.h). The server promises its
 * timeouts on framespec's command line, as with --idle-timeout: --keepalive IDLE,INTVL,CNT
 * (tcp(7) TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; RFC 1122 4.2.3.6) and --user-timeout MS
 * (tcp(7) TCP_USER_TIMEOUT; RFC 5482). "Released" is vanish.h's: no process holds the server's
 * socket, and it has left ESTABLISHED and CLOSE-WAIT.
 */
#include "cases.h"
#include "vanish.h"

/* Connect `conn` and exchange one frame: the server's timers then run from its last activity. */
static void dp_open(fs_ctx *c, const char *conn, unsigned size)
{
    const char *f = fs_frame(c, size);
    fs_sc(c, "connect %s", conn);
    fs_sc(c, "%s send %s", conn, f);
    fs_sc(c, "%s expect %s within %lld", conn, f, (long long)fs_ms(c, 2000));
}

static int64_t keepalive_total_ms(const fs_ctx *c)
{
    return vn_keepalive_ms(c->cfg->keepalive, c->cfg->user_timeout_ms);
}

/* vn_tolerance_ms(), scaled. */
static int64_t dp_tolerance(const fs_ctx *c, int64_t promise_ms, bool idle_timeout)
{
    return fs_ms(c, (double)vn_tolerance_ms(promise_ms, idle_timeout));
}

/*
 * deadpeer.idle — an idle connection's peer vanishes (every packet dropped: no FIN, no RST). The
 * server must release it within IDLE + INTVL x CNT (--keepalive) or the idle timeout, whichever
 * is shorter, plus the tolerance (max(1 s, a quarter), and VN_LINGER_MS after an idle timeout).
 */
void case_deadpeer_idle(fs_ctx *c)
{
    int64_t promise = keepalive_total_ms(c);
    bool via_idle = false;
    if (c->cfg->idle_ms > 0 && (promise == 0 || c->cfg->idle_ms < promise)) {
        promise = c->cfg->idle_ms;
        via_idle = true;
    }
    dp_open(c, "c1", 16);
    fs_sc(c, "c1 vanish");
    fs_sc(c, "c1 expect released within %lld  # promised %lld ms by %s",
          (long long)(promise + dp_tolerance(c, promise, via_idle)), (long long)promise,
          via_idle ? "the idle timeout" : "keepalive");
    fs_sc(c, "c1 abort");
    fs_sc_run(c);
}

/*
 * deadpeer.pending — the peer vanishes while the server has an unacknowledged echo in flight: the
 * server's packets to it are dropped first, a frame is sent (the server receives it and echoes
 * it into the void: its tx queue shows the unacknowledged bytes), then the peer's packets are
 * dropped too. Keepalive does not probe while data is outstanding; only TCP_USER_TIMEOUT or an
 * application timeout releases it before ~15 minutes of retransmissions (tcp_retries2). With
 * --user-timeout (else --idle-timeout) it must be released within that promise + tolerance
 * (DEADPEER-2, MUST); with only --keepalive it is watched for max(10 s, 2 x keepalive) and a
 * connection still held then is a warning (DEADPEER-3, SHOULD).
 */
void case_deadpeer_pending(fs_ctx *c)
{
    int64_t promise = c->cfg->user_timeout_ms;
    bool via_idle = false;
    if (promise == 0 && c->cfg->idle_ms > 0) {
        promise = c->cfg->idle_ms;
        via_idle = true;
    }
    dp_open(c, "c1", 16);
    fs_sc(c, "c1 vanish pending");
    if (promise > 0) {
        fs_sc(c, "c1 expect released within %lld  # DEADPEER-2: promised %lld ms by %s",
              (long long)(promise + dp_tolerance(c, promise, via_idle)), (long long)promise,
              via_idle ? "the idle timeout" : "--user-timeout");
    } else {
        int64_t watch = 2 * keepalive_total_ms(c) > 10000 ? 2 * keepalive_total_ms(c) : 10000;
        fs_sc(c, "c1 expect released within %lld  # DEADPEER-3: nothing promised (give "
                 "--user-timeout); keepalive does not probe while data is unacknowledged",
              (long long)fs_ms(c, (double)watch));
    }
    fs_sc(c, "c1 abort");
    fs_sc_run(c);
}

/*
 * deadpeer.alive_silent — a peer that sends nothing but whose kernel answers the keepalive probes
 * is not closed by keepalive: silent for 2 x (IDLE + INTVL x CNT) + 1 s (shortened to 0.9 x the
 * idle timeout when one is given), the connection still echoes.
 */
void case_deadpeer_alive_silent(fs_ctx *c)
{
    int64_t total = keepalive_total_ms(c), window = 2 * total + 1000;
    const char *f = fs_frame(c, 16);
    if (c->cfg->idle_ms > 0) {
        if (c->cfg->idle_ms <= (int64_t)c->cfg->keepalive[0] * 1000 + 500) {
            fs_skip(c, "the idle timeout (%lld ms) closes a silent connection before its first "
                       "keepalive probe (%d s)",
                    (long long)c->cfg->idle_ms, c->cfg->keepalive[0]);
            return;
        }
        if (window > c->cfg->idle_ms * 9 / 10)
            window = c->cfg->idle_ms * 9 / 10;
        if (window <= total + 500) {
            fs_skip(c, "the idle timeout (%lld ms) closes a silent connection before keepalive "
                       "would have given up on a dead one (%lld ms): nothing to tell apart",
                    (long long)c->cfg->idle_ms, (long long)total);
            return;
        }
    }
    dp_open(c, "c1", 16);
    fs_sc(c, "c1 expect open for %lld  # keepalive probes answered", (long long)window);
    fs_echo(c, "c1", f, 2000);
    fs_sc(c, "c1 close");
    if (fs_sc_run(c) == 0)
        fs_note(c, "still open and echoing after %lld ms of silence (keepalive %d + %d x %d s)",
                (long long)window, c->cfg->keepalive[0], c->cfg->keepalive[1],
                c->cfg->keepalive[2]);
}

/*
 * deadpeer.middlebox_reset — a middlebox injects an RST: the server's packets to one client are
 * answered with an RST (nft `reject with tcp reset`), the client itself never sends one. The
 * server must survive, release that connection within 2 s (scaled), and go on serving a
 * connection opened before and a new one.
 */
void case_deadpeer_middlebox_reset(fs_ctx *c)
{
    const char *f = fs_frame(c, 64);
    dp_open(c, "c1", 64);
    dp_open(c, "c2", 64);
    fs_sc(c, "c1 middlebox-reset");
    fs_sc(c, "c1 expect released within %lld", (long long)fs_ms(c, 2000));
    fs_echo(c, "c2", f, 2000);
    fs_sc(c, "c2 close");
    fs_sc(c, "c1 abort");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}
