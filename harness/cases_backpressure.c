/*
 * cases_backpressure.c — group `backpressure` (docs/spec.md BACKPRESSURE-*): a peer that does not read. With the
 * reference echo server of our own that measures the kernel's buffering.
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include "cases.h"
#include "scenario.h"

/*
 * The kernel buffering of a socket pair of the target's family, measured: a reference echo server
 * of our own (a forked process: read up to 64 KiB, write it back, blocking) gets the same load, a
 * peer that writes and never reads. It stops reading as soon as its writes block, so what it
 * accepts is the kernel's buffering in both directions (with TCP autotuning as it happens under
 * this load) plus 64 KiB. Returns 0 when it cannot be measured.
 */
static size_t kernel_buffering(fs_ctx *c, const uint8_t *frames, size_t flen)
{
    sock_addr a = c->cfg->addr;
    char path[108];
    int lfd, fd;
    size_t k = 0;
    socklen_t sl = sizeof a.sa;
    pid_t child;

    lfd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return 0;
    if (a.family == AF_UNIX) {
        /* an abstract socket (Linux unix(7)): no file to create or leave behind */
        struct sockaddr_un *su = (struct sockaddr_un *)&a.sa;
        int pl = snprintf(path, sizeof path, "framespec-k-%d", (int)getpid());
        memset(su->sun_path, 0, sizeof su->sun_path);
        memcpy(su->sun_path + 1, path, (size_t)pl);
        a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)pl);
    } else if (a.family == AF_INET) {
        ((struct sockaddr_in *)&a.sa)->sin_port = 0;
    } else {
        ((struct sockaddr_in6 *)&a.sa)->sin6_port = 0;
    }
    if (bind(lfd, (struct sockaddr *)&a.sa, a.len) < 0 || listen(lfd, 1) < 0 ||
        (a.family != AF_UNIX && getsockname(lfd, (struct sockaddr *)&a.sa, &sl) < 0)) {
        close(lfd);
        return 0;
    }
    child = fork();
    if (child == 0) {
        static char buf[65536];
        int s;
        alarm(60); /* bounded: the reference server never outlives the case */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* nor a case killed at its deadline */
        s = accept(lfd, NULL, NULL);
        for (;;) {
            ssize_t n = read(s, buf, sizeof buf), w = 0;
            if (n <= 0)
                _exit(0);
            while (w < n) {
                ssize_t m = write(s, buf + w, (size_t)(n - w));
                if (m <= 0)
                    _exit(0);
                w += m;
            }
        }
    }
    if (child > 0) {
        bool rec = c->recording;
        c->recording = false; /* our own reference server: not part of the scenario */
        fd = sock_connect(&a, fs_deadline(c, 2000));
        if (fd >= 0) {
            k = fs_fill_until_blocked(c, fd, frames, flen, 300, 1u << 30);
            close(fd);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        c->recording = rec;
    }
    close(lfd);
    fs_log(c, "a reference echo server that stops reading when blocked accepted %zu bytes", k);
    return k;
}

/*
 * backpressure.bounded — write without reading: the bytes the server accepts stay under the
 * kernel buffering of such a socket pair (measured against a reference echo server that stops
 * reading when its writes block) + 2 x max frame + slack (2 MiB + a quarter of the measured
 * buffering: TCP autotuning varies between connections). Then shut down writing and read: every echo of a complete frame arrives intact, then
 * FIN. A server that buffers without bound for a peer that never reads fails.
 */
void case_backpressure_bounded(fs_ctx *c)
{
    size_t flen, fsz, k, bound, sent, whole, len = 0;
    uint8_t *frames = fs_fill_frames(c, &flen, &fsz), *data = NULL;
    int fd, kind;
    if (frames == NULL)
        return;
    /* TCP autotuning varies between connections: take the larger of two measurements */
    k = kernel_buffering(c, frames, flen);
    {
        size_t k2 = kernel_buffering(c, frames, flen);
        if (k2 > k)
            k = k2;
    }
    if (k == 0) {
        fs_fail(c, "could not measure the kernel's buffering with a local listener");
        goto out;
    }
    bound = k + 2 * (size_t)(c->cfg->max_frame < (1u << 30) ? c->cfg->max_frame : 1u << 30) +
            (2u << 20) + k / 4;
    fd = fs_connect(c);
    if (fd < 0)
        goto out;
    {
        /* the reproducer says it in one step: flood (the bound) then FIN after the echoes */
        size_t psz = wire_payload_size(c->cfg->framing, fsz);
        size_t hl = wire_header_size(c->cfg->framing, psz);
        fs_repro_flood(c, fd, frames + hl, psz, bound, (long)fs_ms(c, 10000 + bound / 20000.0));
        fs_repro_op(c, fd, SC_SHUTDOWN, SHUT_WR);
        fs_repro_op(c, fd, SC_EXPECT_EOF, (long)fs_ms(c, 5000));
        c->recording = false; /* and stays off: the steps above stand for the rest */
        sent = fs_fill_until_blocked(c, fd, frames, flen, 500, bound + 1);
    }
    if (sent > bound) {
        fs_expected(c, "the server stops reading after < %zu bytes (kernel buffering %zu + 2 x "
                    "max frame + 2 MiB + 25%%)", bound, k);
        fs_actual(c, "it accepted more than %zu bytes from a peer that never reads", sent - 1);
        fs_fail(c, "unbounded buffering: %zu bytes accepted from a peer that never reads", sent);
        fs_close(c, fd);
        goto out;
    }
    fs_log(c, "accepted %zu bytes (bound %zu): the server stopped reading", sent, bound);
    whole = wire_is_raw(c->cfg->framing) ? sent : sent - sent % fsz;
    fs_shutdown(c, fd, SHUT_WR);
    kind = fs_read_to_close(c, fd, 10000, whole + (1u << 20), &data, &len);
    fs_close_kind(c, kind);
    if (len != whole) {
        fs_expected(c, "%zu echoed bytes (the complete frames among %zu sent)", whole, sent);
        fs_actual(c, "%zu bytes, then %s", len, sock_close_name(kind));
        fs_fail(c, "after the peer started reading, %zu of %zu echoed bytes arrived", len, whole);
    } else {
        size_t off = fs_fill_mismatch(data, len, frames, flen);
        if (off != SIZE_MAX)
            fs_fail(c, "echoes after backpressure differ within bytes %zu..%zu", off, off + flen);
        if (!fs_done(c) && kind != SOCK_EOF)
            fs_fail(c, "after the echoes, the server closed with %s instead of FIN",
                    sock_close_name(kind));
    }
    fs_close(c, fd);
out:
    free(data);
    free(frames);
}

/*
 * backpressure.others_served — while one peer writes and never reads (and the server has stopped
 * reading it), another connection is served within 1 s.
 */
void case_backpressure_others_served(fs_ctx *c)
{
    size_t flen, fsz, n;
    uint8_t *frames = fs_fill_frames(c, &flen, &fsz), payload[32], wire[48];
    int stalled, fd;
    if (frames == NULL)
        return;
    stalled = fs_connect(c);
    if (stalled < 0)
        goto out;
    fs_fill_until_blocked(c, stalled, frames, flen, 300, 256u << 20);
    fd = fs_connect(c);
    if (fd >= 0) {
        fs_payload(c, payload, sizeof payload, 6);
        n = fs_frame(c, payload, sizeof payload, wire);
        if (fs_send(c, fd, wire, n) == 0)
            fs_expect(c, fd, wire, n, 1000, "another connection while one peer does not read");
        fs_close(c, fd);
    }
    fs_abort(c, stalled);
out:
    free(frames);
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
    size_t flen, fsz;
    uint8_t *frames;
    long rss0, rss1;
    char why[2048];
    int fd, rc;
    if (fs_server_stop(c, NULL, 0) < 0)
        return;
    rc = fs_server_start(c, false, why, sizeof why);
    if (rc != 0) {
        if (rc > 0)
            fs_fail(c, "could not restart the server for a clean memory baseline: %.300s", why);
        return;
    }
    frames = fs_fill_frames(c, &flen, &fsz);
    if (frames == NULL)
        return;
    rss0 = fs_server_rss_kb(c);
    fs_repro(c, "# framespec run measures the server's memory here; a script replays the traffic");
    fd = fs_connect(c);
    /* A server that never accepts or never reads would pass by holding nothing: the kernel's
     * buffers take the fill. It must first echo one frame, or the case cannot judge: a fail. */
    if (fd >= 0 && (fs_send(c, fd, frames, fsz) < 0 ||
                    fs_expect(c, fd, frames, fsz, 5000,
                              "the echo of a first frame (before the memory under a non-reading "
                              "peer can be judged, the server must be seen reading)") < 0)) {
        fs_abort(c, fd);
        fd = -1;
    }
    if (fd >= 0) {
        size_t sent = fs_fill_until_blocked(c, fd, frames, flen, 500, 160u << 20);
        rss1 = fs_server_rss_kb(c);
        fs_log(c, "rss %ld KiB -> %ld KiB after %zu bytes from a non-reading peer", rss0, rss1,
               sent);
        if (rss0 < 0 || rss1 < 0) {
            fs_fail(c, "cannot read the server's VmRSS from /proc");
        } else if (rss1 - rss0 > 64 * 1024) {
            fs_expected(c, "resident memory grows < 64 MiB while a peer does not read");
            fs_actual(c, "grew by %ld KiB (%ld -> %ld KiB) after %zu bytes were accepted",
                      rss1 - rss0, rss0, rss1, sent);
            fs_fail(c, "memory grew by %ld MiB for a peer that never reads (%zu bytes accepted)",
                    (rss1 - rss0) / 1024, sent);
        }
        fs_abort(c, fd);
    }
    free(frames);
}
