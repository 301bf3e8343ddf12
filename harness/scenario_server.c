/*
 * scenario_server.c — the interpreter's steps about the server itself: its process (server term,
 * stop, start, expect server-exit, expect server-alive), its descriptors and memory against a
 * baseline (expect server-released, expect server-memory), and peers that vanish (vanish,
 * middlebox-reset, expect released). Also the ops of a server this process owns.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "scenario_exec.h"

/* The server's pid, or 0. */
static pid_t rx_pid(const run *r)
{
    return r->env->srv ? r->env->srv->pid(r->env->srv->arg) : 0;
}

/* The alive probe, the one definition: a fresh connection gets a frame echoed within ms. A
 * probe whose close the server's idle timeout explains (under --loss) is made again on a fresh
 * connection, three times at most. 1 yes; 0 no, with why[0..n). With open_fds, the server's
 * descriptors are counted while the probe's connection is still open (-1: not counted). */
static int probe_counting(const run *r, int64_t ms, char *why, size_t n, int *open_fds)
{
    uint8_t w[WIRE_MAX_HEADER + 5 + 1]; /* a header, "alive", a line's newline */
    size_t len = wire_encode(r->s->framing, (const uint8_t *)"alive", 5, w);
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t deadline = sock_now_ms() + ms;
        int fd = sock_connect(&r->env->addr, deadline), err;
        peer p;
        peer *all[1] = {&p};
        bool ok, again;
        if (fd < 0) {
            snprintf(why, n, "connect: %s", sock_errno_name(-fd));
            return 0;
        }
        peer_init(&p, fd, 65536, NULL, NULL);
        err = peer_send(&p, w, len, deadline, all, 1, NULL);
        while (err == 0 && p.in_len < len && !rx_ended(&p) && sock_now_ms() < deadline) {
            peer_check_acked(&p);
            peer_poll(all, 1, 20);
        }
        ok = err == 0 && p.in_len >= len && memcmp(p.inbox, w, len) == 0;
        if (err < 0)
            snprintf(why, n, "send: %s", sock_errno_name(-err));
        else if (!ok && p.in_len >= len)
            snprintf(why, n, "the echo differs");
        else if (!ok)
            snprintf(why, n, "%zu of %zu bytes echoed, then %s", p.in_len, len,
                     p.closed != SOCK_OPEN ? sock_close_name(p.closed) : "nothing (timeout)");
        again = !ok && rx_idle_explains(r, &p, true, why + strlen(why), 0);
        if (open_fds)
            *open_fds = ok && rx_pid(r) > 0 ? server_count_fds(rx_pid(r)) : -1;
        peer_free(&p);
        if (ok)
            return 1;
        if (!again)
            return 0;
    }
    return 0;
}

static int probe(const run *r, int64_t ms, char *why, size_t n)
{
    return probe_counting(r, ms, why, n, NULL);
}

int rx_fresh_echo(const run *r, int ms)
{
    char why[128];
    return probe(r, ms, why, sizeof why);
}

/* expect server-alive: with --exec the process lives, and a fresh connection echoes a frame
 * within 5 s x scale. */
int rx_expect_alive(run *r, size_t i)
{
    char act[512];
    const sc_server *srv = r->env->srv;
    if (srv && !srv->running(srv->arg, act, sizeof act))
        return rx_fail(r, i, "dead", SC_ALIVE_EXPECTED, act);
    if (!probe(r, (int64_t)(5000 * rx_scale(r)), act, sizeof act))
        return rx_fail(r, i, "no-echo", "a fresh connection echoes a frame", act);
    return 0;
}

void rx_baseline(run *r)
{
    pid_t pid = rx_pid(r);
    int64_t end;
    int open_fds = -1;
    long nap_ns = 50000;
    char why[128];
    if (pid <= 0)
        return;
    probe_counting(r, (int64_t)(1000 * rx_scale(r)), why, sizeof why, &open_fds);
    /* the fewest descriptors seen in 20 ms: the echo's connection (and an earlier scenario's)
     * may take that long to go; done as soon as the count is one under what it was while the
     * echo's connection was open (a fuzz campaign counts before every program) */
    end = sock_now_ms() + 20;
    r->server_fds = server_count_fds(pid);
    while (r->server_fds >= 0 && !(open_fds > 0 && r->server_fds < open_fds) &&
           sock_now_ms() < end) {
        struct timespec ts = {0, nap_ns};
        int n;
        nanosleep(&ts, NULL);
        nap_ns = nap_ns < 1000000 ? nap_ns * 2 : 1000000;
        n = server_count_fds(pid);
        if (n >= 0 && n < r->server_fds)
            r->server_fds = n;
    }
    r->server_rss_kb = server_rss_kb(pid);
    rx_log(r, "server baseline: %d descriptors, %ld KiB resident", r->server_fds,
           r->server_rss_kb);
}

/* expect server-released within MS: the server's descriptors back to the baseline. */
int rx_expect_released(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    int64_t t0 = sock_now_ms(), deadline = t0 + st->ms;
    long nap_ns = 100000;
    char exp[256], act[512];
    int n;
    for (;;) {
        n = server_count_fds(rx_pid(r));
        if (n < 0 || r->server_fds < 0)
            return 0; /* nothing to count (the server exited: server-alive judges that) */
        if (n <= r->server_fds || sock_now_ms() >= deadline)
            break;
        {
            /* the server is usually microseconds behind: look again soon, then less often
             * (0.1 ms doubling to 10 ms) */
            struct timespec ts = {0, nap_ns};
            peer_poll(r->all, r->s->nnames, 0);
            nanosleep(&ts, NULL);
            nap_ns = nap_ns < 5000000 ? nap_ns * 2 : 10000000;
        }
    }
    if (n <= r->server_fds) {
        rx_note(r, "descriptors back to %d within %lld ms", r->server_fds,
                (long long)(sock_now_ms() - t0));
        return 0;
    }
    snprintf(exp, sizeof exp, "the server's descriptors back to %d within %ld ms", r->server_fds,
             st->ms);
    snprintf(act, sizeof act, "%d descriptors open (%d more): a descriptor leak", n,
             n - r->server_fds);
    return rx_fail(r, i, "fds", exp, act);
}

/* expect server-memory at-most BYTES: resident memory grew by at most that since the
 * baseline. */
int rx_expect_memory(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    long now = server_rss_kb(rx_pid(r));
    char exp[256], act[256];
    if (now < 0 || r->server_rss_kb < 0)
        return rx_fail(r, i, "memory", "the server's resident memory (/proc/PID/status)",
                       "cannot be read (the server exited?)");
    rx_note(r, "resident memory %ld KiB -> %ld KiB (%+ld KiB)", r->server_rss_kb, now,
            now - r->server_rss_kb);
    if ((uint64_t)(now > r->server_rss_kb ? now - r->server_rss_kb : 0) * 1024 <= st->limit)
        return 0;
    snprintf(exp, sizeof exp, "resident memory grows by at most %llu KiB",
             (unsigned long long)st->limit / 1024);
    if (now - r->server_rss_kb >= 1024)
        snprintf(act, sizeof act, "memory grew by %ld MiB (%ld -> %ld KiB resident)",
                 (now - r->server_rss_kb) / 1024, r->server_rss_kb, now);
    else
        snprintf(act, sizeof act, "memory grew by %ld KiB (%ld -> %ld KiB resident)",
                 now - r->server_rss_kb, r->server_rss_kb, now);
    return rx_fail(r, i, "memory", exp, act);
}

int rx_term(run *r, size_t i)
{
    rx_log(r, "SIGTERM to the server (pid %d)", (int)rx_pid(r));
    r->termed = true;
    if (r->env->srv->term(r->env->srv->arg) < 0)
        return rx_fail(r, i, "no-term", "SIGTERM is sent to the server", "it cannot be asked");
    return 0;
}

/* server start: on failure, the reason (and for the same port, the connections in TIME_WAIT
 * that a listening socket without SO_REUSEADDR cannot bind past: LIFECYCLE-1). */
static int start_again(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    const sc_server *srv = r->env->srv;
    unsigned port = sock_port(&r->env->addr.sa);
    int tw = st->how == 1 && port ? vn_time_wait(port) : 0;
    char why[2048], act[512];
    sock_addr addr;
    if (srv->start(srv->arg, st->how == 1, &addr, why, sizeof why) < 0) {
        char reason[300];
        server_why_reason(why, reason, sizeof reason);
        if (st->how == 1)
            snprintf(act, sizeof act, "%s; %d connections of its last run were in TIME_WAIT on "
                     "port %u: set SO_REUSEADDR on the listening socket before bind() "
                     "(socket(7))", reason, tw, port);
        else
            snprintf(act, sizeof act, "%s", reason);
        return rx_fail(r, i, "no-start", "the server starts again and accepts", act);
    }
    r->env->addr = addr;
    rx_log(r, "server started again on %s (pid %d; %d connections were in TIME_WAIT on its old "
              "port)", addr.text, (int)rx_pid(r), tw);
    r->termed = false;
    rx_baseline(r);
    return 0;
}

int rx_server_step(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    const sc_server *srv = r->env->srv;
    char how[512], exp[128];
    switch (st->kind) {
    case SC_SERVER_TERM:
        return rx_term(r, i);
    case SC_SERVER_STOP:
        srv->stop(srv->arg, (int64_t)(5000 * rx_scale(r)), how, sizeof how);
        rx_log(r, "server stopped: %s", how);
        return 0;
    case SC_SERVER_START:
        return start_again(r, i);
    case SC_EXPECT_EXIT: {
        int rc = srv->stop(srv->arg, st->ms, how, sizeof how);
        rx_log(r, "server: %s", how);
        if (rc == 0)
            return 0;
        snprintf(exp, sizeof exp, "the server exits by itself within %ld ms of SIGTERM", st->ms);
        return rx_fail_check(r, i, CHK_TERM_EXIT, rc < 0 ? "no-stop" : "killed", exp, how);
    }
    default:
        return 0;
    }
}

/* ---- peers that vanish ---- */

/* Run an nft script in the namespace for step i. 0, or 1 after failing it. */
static int nft(run *r, size_t i, const char *script)
{
    char err[512];
    rx_log(r, "nft: %.*s", (int)strcspn(script, "\n"), script);
    if (netns_nft(script, (int)(5000 * rx_scale(r)), err, sizeof err) < 0)
        return rx_fail(r, i, "nft", "the namespace's rules are set", err);
    return 0;
}

void rx_chain_remove(run *r)
{
    char script[160], err[512];
    if (r->chain[0] == '\0')
        return;
    /* this run's rules go with it, however it ended */
    snprintf(script, sizeof script, "flush chain inet framespec %s\ndelete chain inet framespec "
             "%s\n", r->chain, r->chain);
    if (netns_nft(script, 5000, err, sizeof err) < 0)
        fprintf(stderr, "%s: cannot remove the chain %s: %s\n", r->file, r->chain, err);
    r->chain[0] = '\0';
}

/* A frame (4 KiB of payload, or the server's largest payload when smaller) sent on a peer
 * about to vanish: its echo meets the rule (the middlebox's RST, or bytes in flight for ever). */
static int send_doomed(run *r, size_t i, peer *c, bool middlebox)
{
    sc_item it = {.framed = !wire_is_raw(r->s->framing),
                  .p = {.kind = wire_is_line(r->s->framing) ? SC_P_TEXT : SC_P_SIZE,
                        .len = r->s->payload_bound > 4096 ? 4096 : r->s->payload_bound}};
    uint64_t n = sc_item_size(&it, r->s->framing);
    uint8_t *buf = malloc((size_t)n);
    size_t sent = 0;
    int err;
    if (buf == NULL)
        return rx_fail(r, i, "memory", "a frame is sent", "out of memory");
    sc_item_bytes(&it, r->s->framing, buf);
    err = peer_send(c, buf, (size_t)n, sock_now_ms() + (int64_t)(2000 * rx_scale(r)), r->all,
                    r->s->nnames, &sent);
    free(buf);
    if (err < 0 && !middlebox)
        return rx_fail(r, i, "send", "a frame is sent before the peer vanishes",
                       sock_errno_name(-err));
    return 0;
}

/* vanish and middlebox-reset: find the server's end of c, then drop every packet of the
 * connection (both directions; pending: first the server's, then an echo is sent into the void,
 * then ours), or answer the server's packets with an RST (middlebox). The rules go to a chain of
 * this run's, removed when it ends. The peer is then gone: nothing more is read or sent on it. */
int rx_vanish(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    vn_conn *v = &r->gone[st->conn];
    bool middlebox = st->kind == SC_MIDDLEBOX_RESET, pending = st->how == 1;
    char why[256], script[512];
    if (vn_identify(c->fd, (int)(1000 * rx_scale(r)), v, why, sizeof why) < 0)
        return rx_fail(r, i, "identify", "the server's end of the connection in /proc/net/tcp",
                       why);
    if (r->chain[0] == '\0') {
        snprintf(r->chain, sizeof r->chain, "v%d", (int)getpid());
        snprintf(script, sizeof script, "add chain inet framespec %s { type filter hook output "
                 "priority -10 ; }\n", r->chain);
        if (nft(r, i, script) != 0) {
            r->chain[0] = '\0';
            return 1;
        }
    }
    if (!middlebox && !pending && !vn_wait_acked(v, (int)(1000 * rx_scale(r))))
        return rx_fail(r, i, "unacked", "the server's echoes acknowledged before the peer "
                       "vanishes (its send queue empty)", "its send queue still holds bytes "
                       "after 1 s");
    vn_rules(r->chain, v, true, !middlebox && !pending, middlebox, script, sizeof script);
    if (nft(r, i, script) != 0)
        return 1;
    if ((middlebox || pending) && send_doomed(r, i, c, middlebox) != 0)
        return 1;
    if (pending) {
        int state = 0;
        unsigned long txq = 0, inode;
        int64_t until = sock_now_ms() + (int64_t)(2000 * rx_scale(r));
        while (!(vn_tcp_entry(v, &state, &txq, &inode) && txq > 0)) {
            if (sock_now_ms() > until)
                return rx_fail(r, i, "no-echo", "the server echoes the frame into the void (its "
                               "send queue holds unacknowledged bytes)", vn_state_name(state));
            poll(NULL, 0, 5);
        }
        rx_log(r, "%s: the server has %lu bytes unacknowledged", rx_name(r, st), txq);
        vn_rules(r->chain, v, false, true, false, script, sizeof script);
        if (nft(r, i, script) != 0)
            return 1;
    }
    c->noread = true;
    return 0;
}

/* Did the peer of st's connection vanish with an echo in flight (`vanish pending`)? */
static bool vanished_pending(const run *r, size_t i)
{
    for (size_t k = i; k-- > 0;)
        if (r->s->steps[k].kind == SC_VANISH && r->s->steps[k].conn == r->s->steps[i].conn)
            return r->s->steps[k].how == 1;
    return false;
}

/* expect released: the server no longer holds the connection (vanish.h), within st->ms. */
int rx_expect_gone(run *r, size_t i)
{
    const sc_step *st = &r->s->steps[i];
    int64_t t0 = sock_now_ms(), deadline = t0 + st->ms;
    char why[256], exp[128], act[512];
    for (;;) {
        if (vn_released(rx_pid(r), &r->gone[st->conn], why, sizeof why)) {
            rx_note(r, "%s: released after %lld ms", rx_name(r, st),
                    (long long)(sock_now_ms() - t0));
            return 0;
        }
        if (sock_now_ms() > deadline)
            break;
        poll(NULL, 0, 20);
    }
    snprintf(exp, sizeof exp, "the server releases the connection within %ld ms", st->ms);
    snprintf(act, sizeof act, "still held after %lld ms: %s%s", (long long)(sock_now_ms() - t0),
             why, vanished_pending(r, i)
                      ? "; keepalive does not probe while data is unacknowledged, and Linux "
                        "retransmits for ~15 min (tcp_retries2): TCP_USER_TIMEOUT, or an "
                        "application timeout, bounds it"
                      : "");
    return rx_fail(r, i, "held", exp, act);
}

/* ---- a server this process owns ---- */

static pid_t local_pid(void *arg)
{
    server_proc *p = arg;
    return p->pid > 0 && server_running(p) ? p->pid : 0;
}

static bool local_running(void *arg, char *how, size_t n)
{
    server_proc *p = arg;
    if (server_running(p))
        return true;
    server_describe_exit(p, how, n);
    return false;
}

static int local_term(void *arg)
{
    server_term(arg);
    return 0;
}

static int local_stop(void *arg, int64_t ms, char *how, size_t n)
{
    return server_stop_wait(arg, ms, how, n);
}

static int local_start(void *arg, bool same_port, sock_addr *addr, char *why, size_t n)
{
    server_proc *p = arg;
    if (server_restart(p, same_port, p->scale > 0 ? p->scale : 1.0, why, n) < 0)
        return -1;
    *addr = p->addr;
    return 0;
}

void sc_server_local(sc_server *ops, server_proc *p)
{
    *ops = (sc_server){.arg = p, .pid = local_pid, .running = local_running, .term = local_term,
                       .stop = local_stop, .start = local_start};
}
