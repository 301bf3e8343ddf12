/*
 * cases_deadpeer.c — group `deadpeer` (docs/spec.md DEADPEER-*): peers that vanish without a FIN
 * or an RST, silent peers that are alive, and RSTs injected by a middlebox.
 *
 * These cases run in framespec's private network namespace (netns.h), where nftables rules in the
 * table `inet framespec` make one connection's peer vanish exactly as a crashed host does: every
 * packet of its 4-tuple is dropped, in both directions (on the namespace's loopback both ends are
 * 127.0.0.1 or ::1, so the two ports name the connection). The runner removes a case's rules
 * when the case process has ended (run.c), however it ended. The server promises its timeouts on
 * framespec's command line, as with --idle-timeout: --keepalive IDLE,INTVL,CNT (tcp(7)
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; RFC 1122 4.2.3.6) and --user-timeout MS (tcp(7)
 * TCP_USER_TIMEOUT; RFC 5482).
 *
 * "Released" is vanish.h's: no process holds the server's socket, and it has left ESTABLISHED
 * and CLOSE-WAIT.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cases.h"
#include "scenario.h"
#include "netns.h"
#include "vanish.h"

/* One connection of a case: the case's end (fd) and the server's (vanish.h). */
typedef struct {
    int fd;
    vn_conn v;
    int64_t t_last;         /* sock_now_ms() when the last echo arrived: the server's idle and
                             * keepalive timers count from its last activity, about then */
} dp_conn;

/* Pause between polls of the kernel's tables (not a step of the scenario: not recorded). */
static void dp_pause(int ms)
{
    poll(NULL, 0, ms);
}

/* Run an nft script in the namespace; fails the case when nft does. */
static int dp_nft(fs_ctx *c, const char *script)
{
    char err[512];
    fs_log(c, "nft: %.*s", (int)strcspn(script, "\n"), script);
    if (netns_nft(script, (int)fs_ms(c, 5000), err, sizeof err) < 0) {
        fs_fail(c, "cannot set up the namespace's rules: %s", err);
        return -1;
    }
    return 0;
}

/* Drop every packet from the server to the client (to_client) and/or back. */
static int dp_drop(fs_ctx *c, const dp_conn *d, bool to_client, bool to_server)
{
    char script[320], cn[16];
    vn_rules("drops", &d->v, to_client, to_server, false, script, sizeof script);
    fs_repro(c, "# here nftables drops every packet %s of %s (ports %u, %u): framespec run does "
                "that in its network namespace, replay cannot",
             to_client && to_server ? "in both directions" : to_client ? "to the client" : "to the server",
             fs_conn_name(c, d->fd, cn, sizeof cn), d->v.cport, d->v.sport);
    return dp_nft(c, script);
}

/*
 * Connect, exchange one frame, and find the server's socket (its inode in /proc/net/tcp{,6}, and
 * a process holding it). Returns 0, or -1 after failing the case.
 */
static int dp_open(fs_ctx *c, dp_conn *d, unsigned seed)
{
    uint8_t payload[16], wire[32];
    size_t n;
    int state = 0;
    unsigned long txq, inode;
    char why[256];

    memset(d, 0, sizeof *d);
    d->fd = fs_connect(c);
    if (d->fd < 0)
        return -1;
    fs_payload(c, payload, sizeof payload, seed);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (fs_send(c, d->fd, wire, n) < 0 ||
        fs_expect(c, d->fd, wire, n, 2000, "an echo before the peer vanishes") < 0)
        return -1;
    d->t_last = sock_now_ms();
    if (vn_identify(d->fd, (int)fs_ms(c, 1000), &d->v, why, sizeof why) < 0) {
        fs_fail(c, "%s", why);
        return -1;
    }
    if (vn_holder(c->cfg->server_pid, d->v.inode) == 0) {
        fs_fail(c, "no process holds the server's socket (inode %lu) after it echoed",
                d->v.inode);
        return -1;
    }
    vn_tcp_entry(&d->v, &state, &txq, &inode);
    fs_log(c, "server socket: port %u -> %u, inode %lu, %s", d->v.sport, d->v.cport, d->v.inode,
           vn_state_name(state));
    return 0;
}

/* Wait until the connection is released or `deadline` passes (polling every 20 ms). Returns
 * the ms from t0 to the release, or -1 (why[] says what held it at the deadline). */
static int64_t dp_wait_released(fs_ctx *c, const dp_conn *d, int64_t t0, int64_t deadline,
                                char *why, size_t n)
{
    fs_repro(c, "# here framespec watches the server release the connection (%lld ms at most)",
             (long long)(deadline - sock_now_ms()));
    for (;;) {
        int64_t now = sock_now_ms();
        if (vn_released(c->cfg->server_pid, &d->v, why, n))
            return now - t0;
        if (now > deadline)
            return -1;
        dp_pause(20);
    }
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
    int64_t promise = keepalive_total_ms(c), tol, t0, took;
    bool via_idle = false;
    char why[256], what[96];
    dp_conn d;
    if (c->cfg->idle_ms > 0 && (promise == 0 || c->cfg->idle_ms < promise)) {
        promise = c->cfg->idle_ms;
        via_idle = true;
    }
    if (!via_idle && c->cfg->user_timeout_ms > 0)
        snprintf(what, sizeof what, "keepalive %d,%d,%d with a %lld ms user timeout",
                 c->cfg->keepalive[0], c->cfg->keepalive[1], c->cfg->keepalive[2],
                 (long long)c->cfg->user_timeout_ms);
    else if (!via_idle)
        snprintf(what, sizeof what, "keepalive %d + %d x %d s", c->cfg->keepalive[0],
                 c->cfg->keepalive[1], c->cfg->keepalive[2]);
    else
        snprintf(what, sizeof what, "the idle timeout");
    tol = dp_tolerance(c, promise, via_idle);
    if (dp_open(c, &d, 1) == 0 && !vn_wait_acked(&d.v, (int)fs_ms(c, 1000)))
        fs_fail(c, "the server's socket still has unacknowledged bytes 1 s after its echo");
    else if (!fs_done(c) && dp_drop(c, &d, true, true) == 0) {
        t0 = d.t_last; /* the server's timers run from its last activity */
        took = dp_wait_released(c, &d, t0, t0 + promise + tol, why, sizeof why);
        if (took < 0) {
            fs_expected(c, "released within %lld ms (%s = %lld ms, + %lld ms tolerance)",
                        (long long)(promise + tol), what, (long long)promise, (long long)tol);
            fs_actual(c, "not released after %lld ms: %s", (long long)(sock_now_ms() - t0), why);
            fs_fail(c, "the server still holds a connection whose peer vanished %lld ms after "
                       "the last echo (promised: %s)",
                    (long long)(sock_now_ms() - t0), what);
        } else {
            fs_note(c, "released %lld ms after the last echo (promised %lld ms by %s; "
                       "tolerance %lld ms%s)",
                    (long long)took, (long long)promise, what, (long long)tol,
                    via_idle ? ", with a lingering close" : "");
        }
    }
    if (d.fd > 0)
        fs_abort(c, d.fd);
}

/*
 * deadpeer.pending — the peer vanishes while the server has an unacknowledged echo in flight: the
 * server's packets to it are dropped first, a frame is sent (the server receives it and echoes
 * it into the void: its tx queue must show the unacknowledged bytes), then the peer's packets
 * are dropped too. Keepalive does not probe while data is outstanding; only TCP_USER_TIMEOUT or
 * an application timeout releases it before ~15 minutes of retransmissions (tcp_retries2).
 * With --user-timeout (else --idle-timeout) it must be released within that promise + tolerance
 * (DEADPEER-2, MUST); with only --keepalive it is watched for max(10 s, 2 x keepalive) and a
 * connection still held then is a warning (DEADPEER-3, SHOULD).
 */
void case_deadpeer_pending(fs_ctx *c)
{
    int64_t promise = c->cfg->user_timeout_ms, tol, t0, took, until;
    const char *by = "--user-timeout";
    uint8_t payload[4096], wire[4200];
    char why[256];
    size_t n;
    int state = 0;
    unsigned long txq = 0, inode;
    dp_conn d;
    if (promise == 0 && c->cfg->idle_ms > 0) {
        promise = c->cfg->idle_ms;
        by = "the idle timeout";
    }
    tol = promise ? dp_tolerance(c, promise, c->cfg->user_timeout_ms == 0) : 0;
    if (dp_open(c, &d, 2) < 0 || dp_drop(c, &d, true, false) < 0)
        goto out;
    fs_payload(c, payload, sizeof payload, 3);
    n = fs_frame(c, payload, fs_max_payload(c, sizeof payload), wire);
    t0 = sock_now_ms();
    if (fs_send(c, d.fd, wire, n) < 0)
        goto out;
    /* the echo leaves the server and is lost: it shows as unacknowledged bytes */
    until = fs_deadline(c, 2000);
    while (!(vn_tcp_entry(&d.v, &state, &txq, &inode) && txq > 0)) {
        if (sock_now_ms() > until) {
            fs_fail(c, "the server did not echo the frame (its send queue stayed empty: %s)",
                    vn_state_name(state));
            goto out;
        }
        dp_pause(5);
    }
    fs_log(c, "server socket has %lu unacknowledged bytes", txq);
    if (dp_drop(c, &d, false, true) < 0)
        goto out;
    if (promise) {
        took = dp_wait_released(c, &d, t0, t0 + promise + tol, why, sizeof why);
        if (took < 0) {
            fs_expected(c, "released within %lld ms (%s %lld ms + %lld ms tolerance)",
                        (long long)(promise + tol), by, (long long)promise, (long long)tol);
            fs_actual(c, "not released after %lld ms, %lu bytes unacknowledged: %s",
                      (long long)(sock_now_ms() - t0), txq, why);
            fs_fail(c, "the server still holds a connection whose peer vanished with %lu echo "
                       "bytes in flight (promised: %s %lld ms)",
                    txq, by, (long long)promise);
        } else {
            fs_note(c, "released %lld ms after the unacknowledged echo was sent (promised %lld ms "
                       "by %s; tolerance %lld ms%s)",
                    (long long)took, (long long)promise, by, (long long)tol,
                    c->cfg->user_timeout_ms ? "" : ", with a lingering close");
        }
    } else {
        int64_t watch = 2 * keepalive_total_ms(c) > 10000 ? 2 * keepalive_total_ms(c) : 10000;
        took = dp_wait_released(c, &d, t0, t0 + fs_ms(c, (double)watch), why, sizeof why);
        if (took < 0) {
            fs_expected(c, "released in bounded time: TCP_USER_TIMEOUT or an application "
                           "timeout (none was promised: give --user-timeout)");
            fs_actual(c, "still held after %lld ms with %lu bytes unacknowledged: %s",
                      (long long)(sock_now_ms() - t0), txq, why);
            fs_warn(c, "a connection whose peer vanished with echoes in flight is still held "
                       "after %lld ms: keepalive does not probe while data is unacknowledged, "
                       "and Linux retransmits for ~15 min (tcp_retries2)",
                    (long long)(sock_now_ms() - t0));
        } else {
            fs_note(c, "released %lld ms after the unacknowledged echo was sent (nothing promised)",
                    (long long)took);
        }
    }
out:
    if (d.fd > 0)
        fs_abort(c, d.fd);
}

/*
 * deadpeer.alive_silent — a peer that sends nothing but whose kernel answers the keepalive probes
 * is not closed by keepalive: silent for 2 x (IDLE + INTVL x CNT) + 1 s (shortened to 0.9 x the
 * idle timeout when one is given), the connection still echoes.
 */
void case_deadpeer_alive_silent(fs_ctx *c)
{
    int64_t total = keepalive_total_ms(c), window;
    uint8_t payload[16], wire[32];
    size_t n;
    dp_conn d;
    window = 2 * total + 1000;
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
    if (dp_open(c, &d, 4) < 0)
        goto out;
    fs_repro_op(c, d.fd, SC_EXPECT_OPEN, (long)window);
    {
        uint8_t *data = NULL;
        size_t len = 0;
        int kind = fs_read_to_close(c, d.fd, (double)window / c->cfg->scale, 4096, &data, &len);
        free(data);
        if (kind != SOCK_TIMEOUT || len != 0) {
            fs_close_kind(c, kind);
            fs_expected(c, "open and silent for %lld ms (keepalive probes answered)",
                        (long long)window);
            fs_actual(c, "%s after %zu unexpected bytes", sock_close_name(kind), len);
            fs_fail(c, "a silent peer that answers keepalive probes was %s",
                    kind == SOCK_TIMEOUT ? "sent unexpected bytes" : "disconnected");
            goto out;
        }
    }
    fs_payload(c, payload, sizeof payload, 5);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (fs_send(c, d.fd, wire, n) == 0 &&
        fs_expect(c, d.fd, wire, n, 2000, "a frame after the silence") == 0)
        fs_note(c, "still open and echoing after %lld ms of silence (keepalive %d + %d x %d s)",
                (long long)window, c->cfg->keepalive[0], c->cfg->keepalive[1],
                c->cfg->keepalive[2]);
out:
    if (d.fd > 0)
        fs_close(c, d.fd);
}

/*
 * deadpeer.middlebox_reset — a middlebox injects an RST: the server's packets to one client are
 * answered with an RST (nft `reject with tcp reset`), the client itself never sends one. The
 * server must survive, release that connection within 2 s (scaled), and go on serving a
 * connection opened before and a new one.
 */
void case_deadpeer_middlebox_reset(fs_ctx *c)
{
    uint8_t payload[64], wire[80];
    char script[320], why[256], cn[16];
    size_t n;
    int64_t t0, took;
    dp_conn d, other;
    memset(&other, 0, sizeof other);
    if (dp_open(c, &d, 6) < 0 || dp_open(c, &other, 7) < 0)
        goto out;
    vn_rules("drops", &d.v, true, false, true, script, sizeof script);
    fs_repro(c, "# here nftables answers the server's packets to %s with an RST (a middlebox); "
                "replay cannot",
             fs_conn_name(c, d.fd, cn, sizeof cn));
    if (dp_nft(c, script) < 0)
        goto out;
    fs_payload(c, payload, sizeof payload, 8);
    n = fs_frame(c, payload, sizeof payload, wire);
    t0 = sock_now_ms();
    if (fs_send(c, d.fd, wire, n) < 0)
        goto out;
    took = dp_wait_released(c, &d, t0, t0 + fs_ms(c, 2000), why, sizeof why);
    if (took < 0) {
        fs_expected(c, "the reset connection released within %lld ms", (long long)fs_ms(c, 2000));
        fs_actual(c, "%s", why);
        fs_fail(c, "the server did not release a connection reset by a middlebox");
        goto out;
    }
    fs_payload(c, payload, sizeof payload, 9);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (fs_send(c, other.fd, wire, n) < 0 ||
        fs_expect(c, other.fd, wire, n, 2000, "a connection opened before the reset") < 0)
        goto out;
    if (fs_alive(c, "a middlebox reset one connection"))
        fs_note(c, "released %lld ms after the injected RST; other connections served", (long long)took);
out:
    if (other.fd > 0)
        fs_close(c, other.fd);
    if (d.fd > 0)
        fs_abort(c, d.fd);
}
