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
 * "Released" means both: no process holds a descriptor of the server's socket any more (every
 * /proc/PID/fd is searched for its inode, so a server that forks per connection is judged the
 * same way), and the socket has left ESTABLISHED and CLOSE-WAIT (the namespace's /proc/net/tcp
 * and tcp6, the table ss(8) reads too). An orphan still retransmitting its FIN (FIN-WAIT-1) is
 * released: the kernel frees it on its own.
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

/* /proc/net/tcp states (include/net/tcp_states.h) */
enum { TCP_ST_ESTABLISHED = 1, TCP_ST_CLOSE_WAIT = 8 };

static const char *const tcp_state_names[] = {
    "?", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
    "CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV"};

static const char *tcp_state_name(int st)
{
    return st >= 0 && st < (int)(sizeof tcp_state_names / sizeof tcp_state_names[0])
               ? tcp_state_names[st]
               : "?";
}

/* One connection of a case: the case's end (fd) and the server's socket (inode). */
typedef struct {
    int fd;
    unsigned cport, sport;  /* client (the case) and server ports */
    char local[2][48];      /* the server's end as /proc/net/tcp{,6} print it ("" = n/a) */
    char remote[2][48];     /* the case's end, likewise */
    unsigned long inode;    /* the server's socket */
    int64_t t_last;         /* sock_now_ms() when the last echo arrived: the server's idle and
                             * keepalive timers count from its last activity, about then */
} dp_conn;

/* The server socket's entry in /proc/net/tcp or tcp6: state, bytes unacknowledged (tx_queue)
 * and inode. Returns true when found. */
static bool tcp_entry(const dp_conn *d, int *state, unsigned long *txq, unsigned long *inode)
{
    static const char *const files[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int i = 0; i < 2; i++) {
        char line[512], loc[64], rem[64];
        FILE *f;
        if (d->local[i][0] == '\0' || (f = fopen(files[i], "re")) == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned st;
            unsigned long tx, rx, ino;
            if (sscanf(line, " %*u: %63s %63s %x %lx:%lx %*x:%*x %*x %*u %*d %lu", loc, rem, &st,
                       &tx, &rx, &ino) != 6)
                continue;
            if (strcmp(loc, d->local[i]) != 0 || strcmp(rem, d->remote[i]) != 0)
                continue;
            if (ino == 0)
                continue; /* no descriptor's socket: a TIME-WAIT entry of an older connection on
                           * the same ports, or an orphan after close() (never ESTABLISHED or
                           * CLOSE-WAIT) */
            *state = (int)st;
            *txq = tx;
            *inode = ino;
            fclose(f);
            return true;
        }
        fclose(f);
    }
    return false;
}

/* Does process `pid` hold a descriptor of socket `inode`? */
static bool pid_holds(const char *pid, const char *want)
{
    char path[300], link[64];
    DIR *dir;
    struct dirent *e;
    bool found = false;
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    if ((dir = opendir(path)) == NULL)
        return false;
    while (!found && (e = readdir(dir)) != NULL) {
        ssize_t n;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, e->d_name);
        n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(dir);
    return found;
}

/* The pid of a process holding a descriptor of socket `inode` (the server first), or 0. */
static pid_t inode_holder(const fs_ctx *c, unsigned long inode)
{
    char want[48], pid[24];
    DIR *proc;
    struct dirent *e;
    pid_t found = 0;
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    snprintf(pid, sizeof pid, "%d", (int)c->cfg->server_pid);
    if (c->cfg->server_pid > 0 && pid_holds(pid, want))
        return c->cfg->server_pid;
    if ((proc = opendir("/proc")) == NULL)
        return 0;
    while (!found && (e = readdir(proc)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && pid_holds(e->d_name, want))
            found = (pid_t)strtol(e->d_name, NULL, 10);
    closedir(proc);
    return found;
}

/* Format an address the way /proc/net/tcp (v4) and tcp6 print it: each 32-bit word of the
 * network-order address as the host reads it, %08X, then ':' and the port %04X. */
static void proc_addr(const struct sockaddr_storage *ss, char out[2][48])
{
    uint32_t w[4];
    out[0][0] = out[1][0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        unsigned port = ntohs(a->sin_port);
        memcpy(w, &a->sin_addr, 4);
        snprintf(out[0], 48, "%08X:%04X", w[0], port);
        /* the same peer seen by a dual-stack (::) socket: ::ffff:a.b.c.d */
        snprintf(out[1], 48, "0000000000000000%08X%08X:%04X", htonl(0xffff), w[0], port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(w, &a->sin6_addr, 16);
        snprintf(out[1], 48, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
                 ntohs(a->sin6_port));
    }
}

/* Pause between polls of the kernel's tables (not a step of the scenario: not recorded). */
static void dp_pause(int ms)
{
    poll(NULL, 0, ms);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)ss)->sin6_port);
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
    char script[256], cn[16];
    int n = 0;
    if (to_client)
        n += snprintf(script + n, sizeof script - (size_t)n,
                      "add rule inet framespec drops tcp sport %u tcp dport %u drop\n", d->sport,
                      d->cport);
    if (to_server)
        snprintf(script + n, sizeof script - (size_t)n,
                 "add rule inet framespec drops tcp sport %u tcp dport %u drop\n", d->cport,
                 d->sport);
    fs_repro(c, "# here nftables drops every packet %s of %s (ports %u, %u): framespec run does "
                "that in its network namespace, replay cannot",
             to_client && to_server ? "in both directions" : to_client ? "to the client" : "to the server",
             fs_conn_name(c, d->fd, cn, sizeof cn), d->cport, d->sport);
    return dp_nft(c, script);
}

/*
 * Connect, exchange one frame, and find the server's socket (its inode in /proc/net/tcp{,6}, and
 * a process holding it). Returns 0, or -1 after failing the case.
 */
static int dp_open(fs_ctx *c, dp_conn *d, unsigned seed)
{
    uint8_t payload[16], wire[32];
    struct sockaddr_storage la, ra;
    socklen_t ll = sizeof la, rl = sizeof ra;
    size_t n;
    int state = 0;
    unsigned long txq;
    int64_t until;

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
    if (getsockname(d->fd, (struct sockaddr *)&la, &ll) < 0 ||
        getpeername(d->fd, (struct sockaddr *)&ra, &rl) < 0) {
        fs_fail(c, "getsockname/getpeername: %s", strerror(errno));
        return -1;
    }
    d->cport = port_of(&la);
    d->sport = port_of(&ra);
    proc_addr(&ra, d->local);
    proc_addr(&la, d->remote);
    until = fs_deadline(c, 1000);
    while (!tcp_entry(d, &state, &txq, &d->inode) || d->inode == 0) {
        if (sock_now_ms() > until) {
            fs_fail(c, "the server's end of the connection (port %u to %u) is not in "
                       "/proc/net/tcp or tcp6 of the namespace",
                    d->sport, d->cport);
            return -1;
        }
        dp_pause(10);
    }
    if (inode_holder(c, d->inode) == 0) {
        fs_fail(c, "no process holds the server's socket (inode %lu) after it echoed",
                d->inode);
        return -1;
    }
    fs_log(c, "server socket: port %u -> %u, inode %lu, %s", d->sport, d->cport, d->inode,
           tcp_state_name(state));
    return 0;
}

/* Released: no process holds the server's socket, and it is not ESTABLISHED or CLOSE-WAIT. When
 * not, *why says what still holds it. */
static bool dp_released(const fs_ctx *c, const dp_conn *d, char *why, size_t n)
{
    int state = 0;
    unsigned long txq = 0, inode = 0;
    bool open_state = tcp_entry(d, &state, &txq, &inode) &&
                      (state == TCP_ST_ESTABLISHED || state == TCP_ST_CLOSE_WAIT);
    pid_t holder = inode_holder(c, d->inode);
    if (!open_state && holder == 0)
        return true;
    if (holder)
        snprintf(why, n, "pid %d still holds its descriptor (socket inode %lu), socket %s",
                 (int)holder, d->inode,
                 inode == d->inode ? tcp_state_name(state) : "already failed by the kernel");
    else
        snprintf(why, n, "its socket is still %s", tcp_state_name(state));
    return false;
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
        if (dp_released(c, d, why, n))
            return now - t0;
        if (now > deadline)
            return -1;
        dp_pause(20);
    }
}

/* When keepalive gives up on a peer that answers nothing, in ms after the last activity: IDLE +
 * INTVL x CNT; 0 without --keepalive. With TCP_USER_TIMEOUT as well, Linux ignores TCP_KEEPCNT
 * and gives up at the first probe timer (IDLE + k x INTVL, k >= 1) at or after the user timeout
 * (tcp(7) TCP_USER_TIMEOUT; net/ipv4/tcp_timer.c tcp_keepalive_timer). */
static int64_t keepalive_total_ms(const fs_ctx *c)
{
    const int *k = c->cfg->keepalive;
    int64_t idle = (int64_t)k[0] * 1000, intvl = (int64_t)k[1] * 1000, ut = c->cfg->user_timeout_ms;
    if (k[0] == 0)
        return 0;
    if (ut > 0) {
        int64_t probes = ut > idle ? (ut - idle + intvl - 1) / intvl : 1;
        return idle + (probes > 1 ? probes : 1) * intvl;
    }
    return idle + intvl * k[2];
}

/* A server closing on its idle timeout sends its FIN and may then wait this long for the
 * peer's FIN before close() (a lingering close, as echod's and Apache httpd's: reading the
 * peer's last input keeps the kernel from answering it with an RST, RFC 1122 4.2.2.13). The
 * peer is gone, so that wait runs out; it is allowed on top of an idle-timeout promise. The
 * kernel's own timeouts (keepalive, TCP_USER_TIMEOUT) fail the socket: nothing to linger for. */
#define DP_LINGER_MS 2000

/* The tolerance past a promised time: max(1 s, a quarter of it), plus DP_LINGER_MS when the
 * promise is the idle timeout; scaled. */
static int64_t dp_tolerance(const fs_ctx *c, int64_t promise_ms, bool idle_timeout)
{
    double t = promise_ms / 4 > 1000 ? (double)promise_ms / 4 : 1000;
    return fs_ms(c, t + (idle_timeout ? DP_LINGER_MS : 0));
}

/*
 * deadpeer.idle — an idle connection's peer vanishes (every packet dropped: no FIN, no RST). The
 * server must release it within IDLE + INTVL x CNT (--keepalive) or the idle timeout, whichever
 * is shorter, plus the tolerance (max(1 s, a quarter), and DP_LINGER_MS after an idle timeout).
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
    if (dp_open(c, &d, 1) == 0 && dp_drop(c, &d, true, true) == 0) {
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
    while (!(tcp_entry(&d, &state, &txq, &inode) && txq > 0)) {
        if (sock_now_ms() > until) {
            fs_fail(c, "the server did not echo the frame (its send queue stayed empty: %s)",
                    tcp_state_name(state));
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
    char script[160], why[256], cn[16];
    size_t n;
    int64_t t0, took;
    dp_conn d, other;
    memset(&other, 0, sizeof other);
    if (dp_open(c, &d, 6) < 0 || dp_open(c, &other, 7) < 0)
        goto out;
    snprintf(script, sizeof script,
             "add rule inet framespec drops tcp sport %u tcp dport %u reject with tcp reset\n",
             d.sport, d.cport);
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
