/*
 * cases_concurrency.c — group `concurrency` (docs/spec.md CONCURRENCY-*).
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

/*
 * concurrency.simultaneous — --conns (default 500) connections open at once (all handshakes
 * started together); each sends one frame with its own payload once connected, and every echo
 * is checked (poll loop, deadline 20 s scaled).
 */
void case_concurrency_simultaneous(fs_ctx *c)
{
    unsigned n = c->cfg->conns;
    int *fds = calloc(n, sizeof *fds);
    size_t *got = calloc(n, sizeof *got);
    struct pollfd *pf = calloc(n, sizeof *pf);
    uint8_t payload[100], wire[128], buf[256];
    size_t flen = 0, done = 0, opened = 0, good = 0;
    int64_t deadline;
    if (fds == NULL || got == NULL || pf == NULL) {
        fs_fail(c, "out of memory");
        goto out;
    }
    /* every handshake in flight at once (a lost SYN costs its 1 s RTO once, not once per
     * connection in turn); each connection sends its frame as soon as its handshake completes,
     * so none sits idle waiting for the slowest handshake (under --loss: seconds) */
    for (unsigned i = 0; i < n; i++) {
        /* a unix socket's connect() does not wait in a handshake: EAGAIN means the backlog is
         * full, so those connect one after another, as before */
        fds[i] = c->cfg->addr.family == AF_UNIX ? sock_connect(&c->cfg->addr, fs_deadline(c, 5000))
                                                : sock_connect_start(&c->cfg->addr);
        pf[i].fd = fds[i];
        pf[i].events = POLLOUT;
    }
    opened = n; /* each fds[i] >= 0 is closed at the end */
    deadline = fs_deadline(c, 5000);
    for (size_t left = n; left > 0;) {
        int64_t wait = deadline - sock_now_ms();
        if (poll(pf, n, wait > 0 ? (int)(wait < 100 ? wait : 100) : 0) < 0 && errno != EINTR)
            break;
        for (unsigned i = 0; i < n; i++) {
            if (pf[i].events != POLLOUT)
                continue; /* connected and sent already */
            if (fds[i] >= 0 && pf[i].revents == 0 && sock_now_ms() < deadline)
                continue; /* still in its handshake */
            if (fds[i] >= 0) {
                int rc = sock_connect_finish(fds[i], deadline);
                if (rc < 0)
                    fds[i] = rc; /* closed */
            }
            if (fds[i] < 0) {
                fs_expected(c, "%u simultaneous connections", n);
                fs_actual(c, "connect #%u failed: %s", i + 1, sock_errno_name(-fds[i]));
                fs_fail(c, "connection %u of %u failed: %s", i + 1, n,
                        sock_errno_name(-fds[i]));
                goto out;
            }
            fs_repro_connect(c, fds[i]);
            fs_payload(c, payload, sizeof payload, i);
            flen = fs_frame(c, payload, sizeof payload, wire);
            fs_repro_bytes(c, fds[i], "send", wire, flen, -1);
            if (sock_send_all(fds[i], wire, flen, fs_deadline(c, 5000)) < 0) {
                fs_fail(c, "send on connection %u failed", i + 1);
                goto out;
            }
            pf[i].fd = -1;
            pf[i].events = 0;
            left--;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        pf[i].fd = fds[i];
        pf[i].events = POLLIN;
    }
    fs_log(c, "%u connections open, each sent its frame", n);
    for (unsigned i = 0; i < n; i++) {
        fs_payload(c, payload, sizeof payload, i);
        flen = fs_frame(c, payload, sizeof payload, wire);
        fs_repro_bytes(c, fds[i], "expect", wire, flen, (long)fs_ms(c, 20000));
    }
    deadline = fs_deadline(c, 20000);
    while (done < n && sock_now_ms() < deadline) {
        if (poll(pf, n, 100) < 0 && errno != EINTR)
            break;
        for (unsigned i = 0; i < n; i++) {
            ssize_t r;
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = recv(fds[i], buf, sizeof buf, 0);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r > 0) {
                fs_payload(c, payload, sizeof payload, i);
                fs_frame(c, payload, sizeof payload, wire);
                if (got[i] + (size_t)r <= flen && memcmp(buf, wire + got[i], (size_t)r) == 0) {
                    got[i] += (size_t)r;
                    if (got[i] < flen)
                        continue;
                    good++;
                }
            }
            if (got[i] < flen && done - good < 5) /* the first few bad ones, for the report */
                fs_log(c, "connection %u: %zu of %zu echo bytes, then %s", i + 1, got[i], flen,
                       r > 0 ? "wrong bytes" : r == 0 ? "FIN" : sock_errno_name(errno));
            pf[i].fd = -1;
            done++;
        }
    }
    fs_log(c, "%zu of %u echoes correct", good, n);
    if (good < n) {
        fs_expected(c, "%u connections each get their own echo", n);
        fs_actual(c, "%zu correct, %zu wrong or closed, %zu missing", good, done - good, n - done);
        fs_fail(c, "only %zu of %u simultaneous connections got their echo", good, n);
    }
out:
    for (size_t i = 0; i < opened; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(got);
    free(pf);
}

/*
 * concurrency.stalled_peer — one peer holds half a frame and goes silent; meanwhile 50 other
 * connections, one after another, each get their echo within 1 s.
 */
void case_concurrency_stalled_peer(fs_ctx *c)
{
    size_t sizes[] = {10000}, len;
    uint8_t *w = fs_frames(c, 1, sizes, 1, &len), payload[64], wire[80];
    int stalled;
    if (w == NULL)
        return;
    stalled = fs_connect(c);
    if (stalled >= 0 && fs_send(c, stalled, w, len / 2) == 0) {
        for (unsigned i = 0; i < 50 && !fs_done(c); i++) {
            int fd = sock_connect(&c->cfg->addr, fs_deadline(c, 1000));
            size_t n;
            if (fd < 0) {
                fs_fail(c, "connection %u while a peer is stalled: %s", i + 1,
                        sock_errno_name(-fd));
                break;
            }
            fs_repro_connect(c, fd);
            fs_payload(c, payload, sizeof payload, i);
            n = fs_frame(c, payload, sizeof payload, wire);
            if (fs_send(c, fd, wire, n) == 0)
                fs_expect(c, fd, wire, n, 1000, "a connection while another holds half a frame");
            fs_close(c, fd);
        }
    }
    if (stalled >= 0)
        fs_close(c, stalled);
    free(w);
}

/*
 * concurrency.churn — --cycles (default 2000) connect / echo / close cycles, one after another.
 * A server that leaks a resource per connection, or accepts slowly, fails.
 */
void case_concurrency_churn(fs_ctx *c)
{
    uint8_t payload[16], wire[32], back[32];
    int64_t t0 = sock_now_ms();
    unsigned cycles = c->cfg->cycles;
    if (c->cfg->loss_pct > 0 && cycles > 200) {
        /* each lost SYN or SYN-ACK costs the 1 s initial RTO (RFC 6298 2.1), one cycle after
         * another: 2000 cycles would take minutes and prove nothing more */
        cycles = 200;
        fs_log(c, "--loss: %u cycles instead of %u", cycles, c->cfg->cycles);
    }
    for (unsigned i = 0; i < cycles && !fs_done(c); i++) {
        int fd = sock_connect(&c->cfg->addr, fs_deadline(c, 5000));
        size_t n;
        int kind = SOCK_OPEN;
        if (fd < 0) {
            fs_expected(c, "%u connect/echo/close cycles", cycles);
            fs_actual(c, "cycle %u: connect: %s", i + 1, sock_errno_name(-fd));
            fs_fail(c, "cycle %u of %u: connect failed: %s", i + 1, cycles,
                    sock_errno_name(-fd));
            break;
        }
        fs_payload(c, payload, sizeof payload, i);
        n = fs_frame(c, payload, sizeof payload, wire);
        if (sock_send_all(fd, wire, n, fs_deadline(c, 5000)) < 0 ||
            sock_recv_exact(fd, back, n, fs_deadline(c, 5000), &kind) != (ssize_t)n ||
            memcmp(back, wire, n) != 0) {
            fs_repro(c, "# %u connect/echo/close cycles succeeded before this one", i);
            fs_repro_connect(c, fd);
            fs_repro_bytes(c, fd, "send", wire, n, -1);
            fs_repro_bytes(c, fd, "expect", wire, n, (long)fs_ms(c, 5000));
            fs_close_kind(c, kind);
            fs_expected(c, "%u connect/echo/close cycles", cycles);
            fs_actual(c, "cycle %u: no correct echo (%s)", i + 1, sock_close_name(kind));
            fs_fail(c, "cycle %u of %u: no correct echo", i + 1, cycles);
        }
        close(fd);
    }
    fs_log(c, "%u cycles in %lld ms", cycles, (long long)(sock_now_ms() - t0));
}
