/*
 * cases_lifecycle.c — group `lifecycle`: stopping and starting the server (docs/spec.md
 * LIFECYCLE-*). These need --exec: the runner stops and starts the server when a case asks
 * (fs_server_term/stop/start).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cases.h"
#include "scenario.h"
#include "server.h"

/* The TCP port of the target, or 0 (unix socket). */
static int target_port(const fs_ctx *c)
{
    const sock_addr *a = &c->cfg->addr;
    if (a->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return 0;
}

/* Sockets in TIME_WAIT (state 06 of /proc/net/tcp, proc(5)) whose local port is `port`. */
static int time_wait_count(int port)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = 0;
    for (size_t i = 0; i < 2; i++) {
        char line[512];
        FILE *f = fopen(tables[i], "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            char local[128], state[8];
            char *colon;
            if (sscanf(line, " %*s %127s %*s %7s", local, state) != 2)
                continue;
            colon = strrchr(local, ':');
            if (colon && strcmp(state, "06") == 0 && strtol(colon + 1, NULL, 16) == port)
                n++;
        }
        fclose(f);
    }
    return n;
}

/* Why a server did not start (server_restart(): a first line, then the tail of its output) as one
 * line: "exited with status 1 ... (its last words: bind: Address already in use)". */
static void why_line(const char *why, char *out, size_t n)
{
    char reason[512];
    const char *p = why + strcspn(why, "\n"), *last = NULL;
    size_t last_len = 0;
    server_why_reason(why, reason, sizeof reason);
    while (*p) {
        size_t l;
        p += *p == '\n';
        l = strcspn(p, "\n");
        if (l > 0) {
            last = p;
            last_len = l;
        }
        p += l;
    }
    if (last)
        snprintf(out, n, "%.*s (its last words: %.*s)", (int)strlen(reason), reason,
                 (int)last_len, last);
    else
        snprintf(out, n, "%.*s (no output)", (int)strlen(reason), reason);
}

/*
 * lifecycle.restart_same_port — (--exec, TCP: TIME_WAIT and SO_REUSEADDR are TCP's) 20
 * connections, each with one echo done; the server is stopped (SIGTERM, SIGKILL after 5 s) and we
 * read each connection to its close and close ours, so the server's side of each, which closed
 * first, goes through TIME_WAIT (RFC 9293 3.6.1: 2 MSL, 60 s on Linux). Then the same command
 * starts it again at once on the same port. A listening socket without SO_REUSEADDR cannot bind
 * while those TIME_WAIT entries last (socket(7)): the server fails to come back after a crash or
 * a deploy for a minute.
 */
void case_lifecycle_restart_same_port(fs_ctx *c)
{
    enum { N = 20 };
    int fds[N], port = target_port(c), tw, rc;
    size_t opened = 0, n;
    uint8_t payload[32], wire[48];
    char how[256], why[2048];
    fs_payload(c, payload, sizeof payload, 11);
    n = fs_frame(c, payload, sizeof payload, wire);
    while (opened < N && !fs_done(c)) {
        int fd = fs_connect(c);
        if (fd < 0)
            break;
        fds[opened++] = fd;
        if (fs_send(c, fd, wire, n) == 0)
            fs_expect(c, fd, wire, n, 5000, "an echo before the restart");
    }
    if (!fs_done(c) && fs_server_stop(c, how, sizeof how) == 0) {
        fs_log(c, "the server %s", how);
        for (size_t i = 0; i < opened; i++) {
            uint8_t *d = NULL;
            size_t dl;
            fs_read_to_close(c, fds[i], 2000, 4096, &d, &dl);
            free(d);
        }
    }
    for (size_t i = 0; i < opened; i++)
        fs_close(c, fds[i]);
    if (fs_done(c))
        return;
    fs_sleep(c, 20); /* our FINs reach the server's side: FIN-WAIT-2 becomes TIME_WAIT */
    tw = time_wait_count(port);
    fs_log(c, "%d connections on port %d in TIME_WAIT; starting the server again", tw, port);
    rc = fs_server_start(c, true, why, sizeof why);
    if (rc < 0)
        return;
    if (rc > 0) {
        char first[400];
        why_line(why, first, sizeof first);
        fs_expected(c, "the server starts again at once on port %d while %d connections of its "
                    "last run are in TIME_WAIT", port, tw);
        fs_actual(c, "%.480s", why);
        fs_fail(c, "the server could not start again on port %d (%d connections in TIME_WAIT): "
                "%s; set SO_REUSEADDR on the listening socket before bind() (socket(7))",
                port, tw, first);
        return;
    }
    if (tw == 0)
        fs_log(c, "no connection of the old server was in TIME_WAIT (it closed them with RST?): "
                  "the restart did not have to work around TIME_WAIT");
    fs_alive(c, "after a restart on the same port");
}

/* Record `bytes` of a stream of identical frames (frame[0..fsz), payload[0..plen)) as steps. */
static void repro_stream(fs_ctx *c, int fd, const char *verb, const uint8_t *payload, size_t plen,
                         const uint8_t *frame, size_t fsz, size_t bytes, long within_ms)
{
    fs_repro_frames(c, fd, verb, payload, plen, bytes / fsz, within_ms);
    if (bytes % fsz)
        fs_repro_bytes(c, fd, verb, frame, bytes % fsz, within_ms);
}

/* Check bytes received at stream offset `at` against the stream the case sends (`w`, period
 * wlen). Returns the first differing offset, or SIZE_MAX when they match. */
static size_t stream_mismatch(const uint8_t *w, size_t wlen, size_t at, const uint8_t *got,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != w[(at + i) % wlen])
            return at + i;
    return SIZE_MAX;
}

/*
 * lifecycle.sigterm_flush — (--exec, SHOULD) a peer is sending 1 KiB frames and reading their
 * echoes when the server gets SIGTERM; it goes on sending for 200 ms (a busy client does not know
 * yet), then stops at a frame boundary and reads to the close. It must read an exact prefix of the
 * echo stream, ending at a frame boundary, then EOF (FIN): the server flushed the echoes of the
 * frames it had read, shut down its side, and drained the rest. A server that exits at once
 * closes with unread input, so its kernel sends RST and discards the echoes still in its send
 * buffer (RFC 1122 4.2.2.13). The server must then exit within 5 s; it is started again (on a new
 * port) for the remaining cases. Blind spot: a server that drops the echoes queued in user space
 * at SIGTERM but still closes with FIN at a frame boundary looks the same as one that flushed
 * (the peer cannot tell which frames the server had read).
 */
void case_lifecycle_sigterm_flush(fs_ctx *c)
{
    enum { PERIOD = 64 };
    size_t plen = fs_max_payload(c, 1024), fsz, wlen, sent = 0, got = 0, before_term = 0;
    uint8_t payload[1024], frame[1100], *w = NULL, buf[65536];
    int64_t term_at, stop_at = 0, deadline;
    bool termed = false, sending = true;
    int fd, kind = SOCK_OPEN, rc;
    char how[256], why[2048];

    /* the stream: one frame, repeated */
    fs_payload(c, payload, plen, 0);
    fsz = fs_frame(c, payload, plen, frame);
    wlen = fsz * PERIOD;
    w = malloc(wlen);
    if (w == NULL) {
        fs_fail(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < PERIOD; i++)
        memcpy(w + i * fsz, frame, fsz);
    fd = fs_connect(c);
    if (fd < 0)
        goto out;
    term_at = sock_now_ms() + 200;
    deadline = fs_deadline(c, 15000);
    while (sock_now_ms() < deadline && kind == SOCK_OPEN && !fs_done(c)) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t now = sock_now_ms();
        ssize_t n;
        if (!termed && now >= term_at) {
            before_term = sent;
            repro_stream(c, fd, "send", payload, plen, frame, fsz, sent, -1);
            if (fs_server_term(c) < 0)
                break;
            termed = true;
            stop_at = sock_now_ms() + 200;
        }
        if (sending && termed && now >= stop_at && sent % fsz == 0) {
            sending = false;
            fs_log(c, "fd %d: stopped sending after %zu bytes (%zu after SIGTERM)", fd, sent,
                   sent - before_term);
        }
        if (sending)
            pf.events |= POLLOUT;
        poll(&pf, 1, 10);
        if (sending && (pf.revents & POLLOUT)) {
            size_t off = sent % wlen, room = wlen - off;
            if (termed && now >= stop_at && room > fsz - sent % fsz)
                room = fsz - sent % fsz; /* past the stop: only finish the current frame */
            n = send(fd, w + off, room, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fs_observe(c, fd, n, errno);
                sending = false; /* the server is gone: what it sent is still to be read */
            }
        }
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t bad = stream_mismatch(w, wlen, got, buf, (size_t)n);
            if (bad != SIZE_MAX || got + (size_t)n > sent) {
                fs_expected(c, "the echo of the stream sent, byte for byte");
                if (bad != SIZE_MAX)
                    fs_actual(c, "byte %zu differs", bad);
                else
                    fs_actual(c, "more bytes than were sent (%zu)", got + (size_t)n);
                fs_fail(c, "the echo differs from what was sent");
                break;
            }
            got += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            kind = fs_observe(c, fd, n, n < 0 ? errno : 0);
        }
    }
    /* the scenario: which echoes arrive before the close depends on timing; what must hold is
     * whole frames, then FIN */
    repro_stream(c, fd, "send", payload, plen, frame, fsz, sent - before_term, -1);
    repro_stream(c, fd, "expect", payload, plen, frame, fsz, got, (long)fs_ms(c, 15000));
    {
        fs_repro_op(c, fd, SC_EXPECT_EOF, (long)fs_ms(c, 15000));
    }
    if (!fs_done(c)) {
        bool whole = wire_is_raw(c->cfg->framing) || got % fsz == 0;
        fs_close_kind(c, kind == SOCK_OPEN ? SOCK_TIMEOUT : kind);
        fs_log(c, "fd %d: sent %zu bytes, read %zu bytes of echoes, then %s", fd, sent, got,
               kind == SOCK_OPEN ? "nothing (timeout)" : sock_close_name(kind));
        if (kind != SOCK_EOF || !whole) {
            fs_expected(c, "after SIGTERM: whole echoed frames (a prefix of what was sent), then "
                        "FIN, within %lld ms", (long long)fs_ms(c, 15000));
            fs_actual(c, "%zu bytes echoed (%s), then %s", got,
                      whole ? "whole frames" : "ends inside a frame",
                      kind == SOCK_OPEN ? "the connection stayed open" : sock_close_name(kind));
            if (kind == SOCK_RESET)
                fs_fail(c, "the server answered SIGTERM with RST: it closed the connection with "
                           "unread input, so its kernel reset it and discarded the echoes not yet "
                           "sent (RFC 1122 4.2.2.13); on SIGTERM stop reading, flush, "
                           "shutdown(SHUT_WR) and drain until the peer's FIN, then exit");
            else if (kind == SOCK_OPEN)
                fs_fail(c, "the server did not close the connection within %lld ms of SIGTERM",
                        (long long)fs_ms(c, 15000));
            else if (!whole)
                fs_fail(c, "after SIGTERM the echo stream ended inside a frame (%zu bytes)", got);
            else
                fs_fail(c, "after SIGTERM the connection ended with %s", sock_close_name(kind));
        }
    }
    fs_close(c, fd);
    if (fs_server_stop(c, how, sizeof how) < 0)
        goto out;
    if (strstr(how, "killed") != NULL) {
        fs_expected(c, "the server exits within %lld ms of SIGTERM", (long long)fs_ms(c, 5000));
        fs_actual(c, "it %s", how);
        fs_fail(c, "the server %s", how);
    }
    rc = fs_server_start(c, false, why, sizeof why);
    if (rc > 0)
        fs_fail(c, "the server could not be started again after SIGTERM: %.300s", why);
out:
    free(w);
}
