/*
 * check.c — the socket helpers conformance cases are written with: connect, send, expect echoes,
 * read to the close, transfer, fill a peer that does not read, shutdown/abort/close, and the
 * liveness check. See fs.h.
 */
#include "fs.h"
#include "server.h"
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- sockets ---- */

/* A new connection on fd: forget what an earlier one with the same number showed. */
static void track(fs_ctx *c, int fd)
{
    fs_fdinfo *info = fs_fd(c, fd);
    if (info)
        info->first_close = SOCK_OPEN;
}


static void hex(const uint8_t *p, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && o + 4 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%02x", i ? " " : "", p[i]);
}

static void log_bytes(fs_ctx *c, int fd, const char *dir, const uint8_t *p, size_t n)
{
    char h[100];
    hex(p, n < 24 ? n : 24, h, sizeof h);
    fs_log(c, "fd %d %s %zu bytes: %s%s", fd, dir, n, h, n > 24 ? " ..." : "");
}

int fs_connect(fs_ctx *c)
{
    int fd = sock_connect(&c->cfg->addr, fs_deadline(c, 5000));
    if (fd < 0) {
        fs_fail(c, "connect to %s: %s (%s)", c->cfg->addr.text, sock_errno_name(-fd),
                strerror(-fd));
        return -1;
    }
    fs_repro_connect(c, fd);
    fs_log(c, "fd %d connected to %s", fd, c->cfg->addr.text);
    return fd;
}

int fs_send(fs_ctx *c, int fd, const void *buf, size_t len)
{
    int rc;
    fs_repro_bytes(c, fd, "send", buf, len, -1);
    rc = sock_send_all(fd, buf, len, fs_deadline(c, 10000));
    if (rc < 0) {
        int kind = rc == -ETIMEDOUT ? SOCK_TIMEOUT : fs_observe(c, fd, -1, -rc);
        fs_log(c, "fd %d send %zu bytes: %s", fd, len, sock_errno_name(-rc));
        fs_fail(c, "send of %zu bytes failed: %s%s", len, sock_errno_name(-rc),
                kind == SOCK_RESET ? " (the server reset the connection: RST)" : "");
        return -1;
    }
    log_bytes(c, fd, "sent", buf, len);
    return 0;
}

size_t fs_send_quiet(fs_ctx *c, int fd, const void *buf, size_t len)
{
    int err;
    size_t sent = sock_send_until(fd, buf, len, fs_deadline(c, 2000), NULL, NULL, &err);
    if (err != 0 && err != -ETIMEDOUT) {
        fs_observe(c, fd, -1, -err);
        fs_log(c, "fd %d send: %s (ignored)", fd, sock_errno_name(-err));
    }
    fs_log(c, "fd %d sent %zu of %zu bytes", fd, sent, len);
    fs_repro_bytes(c, fd, "send", buf, sent, -1);
    return sent;
}

/* Describe the first difference of got vs want at stream offset base. */
static void describe_mismatch(fs_ctx *c, const char *what, size_t off, const uint8_t *want,
                              size_t wantlen, const uint8_t *got, size_t gotlen)
{
    char hw[100], hg[100];
    size_t n = 16;
    hex(want, wantlen < n ? wantlen : n, hw, sizeof hw);
    hex(got, gotlen < n ? gotlen : n, hg, sizeof hg);
    fs_expected(c, "%s: byte %zu = %s", what, off, hw);
    fs_actual(c, "byte %zu = %s", off, hg);
    fs_fail(c, "%s: echo differs at byte %zu", what, off);
}

int fs_expect(fs_ctx *c, int fd, const uint8_t *want, size_t len, double timeout_ms,
              const char *what)
{
    int64_t deadline = fs_deadline(c, timeout_ms);
    size_t got = 0;
    uint8_t buf[65536];
    fs_repro_bytes(c, fd, "expect", want, len, (long)fs_ms(c, timeout_ms));
    while (got < len) {
        size_t want_n = len - got < sizeof buf ? len - got : sizeof buf;
        ssize_t n = recv(fd, buf, want_n, 0);
        if (n > 0) {
            log_bytes(c, fd, "recv", buf, (size_t)n);
            if (memcmp(buf, want + got, (size_t)n) != 0) {
                size_t i = 0;
                while (buf[i] == want[got + i])
                    i++;
                describe_mismatch(c, what, got + i, want + got + i, len - got - i, buf + i,
                                  (size_t)n - i);
                return -1;
            }
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int rc = sock_wait_readable(fd, deadline);
            if (rc > 0)
                continue;
            fs_close_kind(c, SOCK_TIMEOUT);
            fs_expected(c, "%s: %zu bytes within %lld ms", what, len, (long long)fs_ms(c, timeout_ms));
            fs_actual(c, "%zu bytes, then nothing (timeout)", got);
            fs_fail(c, "%s: timed out after %zu of %zu echoed bytes", what, got, len);
            return -1;
        }
        {
            const char *e = sock_close_name(fs_observe(c, fd, n, n < 0 ? errno : 0));
            fs_expected(c, "%s: %zu bytes", what, len);
            fs_actual(c, "%zu bytes, then %s", got, e);
            fs_fail(c, "%s: connection closed (%s) after %zu of %zu echoed bytes", what, e, got,
                    len);
            return -1;
        }
    }
    return 0;
}

int fs_read_to_close(fs_ctx *c, int fd, double timeout_ms, size_t limit, uint8_t **data,
                     size_t *len)
{
    int64_t deadline = fs_deadline(c, timeout_ms);
    size_t cap = 0, got = 0;
    uint8_t *buf = NULL;
    int kind = SOCK_TIMEOUT;
    for (;;) {
        ssize_t n;
        if (got == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *p;
            if (got >= limit) {
                kind = SOCK_OPEN;
                break;
            }
            p = realloc(buf, ncap);
            if (p == NULL) {
                kind = SOCK_ERROR;
                break;
            }
            buf = p;
            cap = ncap;
        }
        n = recv(fd, buf + got, cap - got, 0);
        if (n > 0) {
            log_bytes(c, fd, "recv", buf + got, (size_t)n);
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int rc = sock_wait_readable(fd, deadline);
            if (rc > 0)
                continue;
            kind = SOCK_TIMEOUT;
            break;
        }
        kind = fs_observe(c, fd, n, n < 0 ? errno : 0);
        break;
    }
    fs_log(c, "fd %d read %zu bytes, then %s", fd, got, sock_close_name(kind));
    *data = buf;
    *len = got;
    return kind;
}

int fs_transfer(fs_ctx *c, int fd, const uint8_t *out, size_t outlen, const uint8_t *expect,
                size_t expect_len, bool shut_wr, double timeout_ms, const char *what)
{
    int64_t deadline = fs_deadline(c, timeout_ms);
    size_t sent = 0, got = 0;
    bool shut = false, waiting_close = false;
    uint8_t buf[65536];

    fs_log(c, "fd %d transfer: sending %zu bytes, expecting %zu back%s", fd, outlen, expect_len,
           shut_wr ? ", then SHUT_WR" : "");
    {
        fs_repro_bytes(c, fd, "send", out, outlen, -1);
        if (shut_wr)
            fs_repro_op(c, fd, SC_SHUTDOWN, SHUT_WR);
        fs_repro_bytes(c, fd, "expect", expect, expect_len, (long)fs_ms(c, timeout_ms));
        if (shut_wr)
            fs_repro_op(c, fd, SC_EXPECT_EOF, (long)fs_ms(c, 5000));
    }
    int64_t last_progress = sock_now_ms();
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        /* fail at the case's deadline, or when no byte has moved for 5 s (scaled) */
        int64_t stall = last_progress + fs_ms(c, 5000);
        int64_t left = (stall < deadline ? stall : deadline) - sock_now_ms();
        ssize_t n;
        if (sent == outlen && shut_wr && !shut) {
            shutdown(fd, SHUT_WR);
            fs_log(c, "fd %d shutdown(SHUT_WR) after %zu bytes", fd, sent);
            shut = true;
        }
        if (got == expect_len && !shut_wr && sent == outlen)
            return SOCK_OPEN;
        if (got == expect_len && shut && !waiting_close) {
            /* everything is echoed: the close must follow within 5 s (scaled) */
            int64_t close_by = fs_deadline(c, 5000);
            if (close_by < deadline)
                deadline = close_by;
            waiting_close = true;
        }
        if (sent < outlen)
            pf.events |= POLLOUT;
        if (left <= 0 && waiting_close) {
            fs_close_kind(c, SOCK_TIMEOUT);
            fs_expected(c, "%s: %zu bytes echoed, then FIN", what, expect_len);
            fs_actual(c, "all %zu bytes echoed, then the connection stayed open", got);
            fs_fail(c, "%s: every echo arrived but the server never closed after our SHUT_WR",
                    what);
            return -1;
        }
        if (left <= 0) {
            fs_close_kind(c, SOCK_TIMEOUT);
            fs_expected(c, "%s: %zu bytes echoed%s", what, expect_len, shut_wr ? ", then FIN" : "");
            fs_actual(c, "sent %zu of %zu, received %zu, then nothing (timeout)", sent, outlen,
                      got);
            fs_fail(c, "%s: timed out%s (sent %zu of %zu bytes, %zu of %zu echoed)", what,
                    stall < deadline ? ": no byte moved for 5 s" : "", sent, outlen, got,
                    expect_len);
            return -1;
        }
        if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
            fs_fail(c, "poll: %s", strerror(errno));
            return -1;
        }
        if (pf.revents & POLLOUT) {
            n = send(fd, out + sent, outlen - sent > 262144 ? 262144 : outlen - sent,
                     MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                last_progress = sock_now_ms();
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                int err = errno;
                fs_observe(c, fd, n, err);
                errno = err;
                fs_expected(c, "%s: %zu bytes sent and echoed", what, outlen);
                fs_actual(c, "send failed with %s after %zu bytes (%zu echoed)",
                          sock_errno_name(errno), sent, got);
                fs_fail(c, "%s: send failed (%s) after %zu of %zu bytes", what,
                        sock_errno_name(errno), sent, outlen);
                return -1;
            }
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (got + (size_t)n > expect_len) {
                    fs_expected(c, "%s: exactly %zu bytes", what, expect_len);
                    fs_actual(c, "at least %zu bytes", got + (size_t)n);
                    fs_fail(c, "%s: the server echoed more than was sent", what);
                    return -1;
                }
                if (memcmp(buf, expect + got, (size_t)n) != 0) {
                    size_t i = 0;
                    while (buf[i] == expect[got + i])
                        i++;
                    describe_mismatch(c, what, got + i, expect + got + i, expect_len - got - i,
                                      buf + i, (size_t)n - i);
                    return -1;
                }
                got += (size_t)n;
                last_progress = sock_now_ms();
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            {
                int kind = fs_observe(c, fd, n, n < 0 ? errno : 0);
                fs_log(c, "fd %d: %s after %zu sent, %zu received", fd, sock_close_name(kind), sent,
                       got);
                if (got < expect_len) {
                    fs_expected(c, "%s: %zu bytes echoed%s", what, expect_len,
                                shut_wr ? ", then FIN" : "");
                    fs_actual(c, "%zu bytes, then %s", got, sock_close_name(kind));
                    fs_fail(c, "%s: connection closed (%s) after %zu of %zu echoed bytes", what,
                            sock_close_name(kind), got, expect_len);
                    return -1;
                }
                return kind;
            }
        }
    }
}

/* Record `sent` bytes of the repeated `frames` (16 identical frames) as scenario steps. */
static void repro_fill(fs_ctx *c, int fd, const uint8_t *frames, size_t flen, size_t sent)
{
    size_t fsz = flen / 16, plen = wire_payload_size(c->cfg->framing, fsz);
    size_t hl = wire_header_size(c->cfg->framing, plen);
    if (!c->recording || sent == 0)
        return;
    if (wire_is_raw(c->cfg->framing)) {
        /* 64 KiB chunks of the size: pattern, back to back: the pattern goes on */
        fs_repro_raw_size(c, fd, "send", sent, -1);
        return;
    }
    fs_repro_frames(c, fd, "send", frames + hl, plen, sent / fsz, -1);
    if (sent % fsz)
        fs_repro_bytes(c, fd, "send", frames, sent % fsz, -1);
}

size_t fs_fill_until_blocked(fs_ctx *c, int fd, const uint8_t *frames, size_t flen,
                             double quiet_ms, size_t limit)
{
    size_t sent = 0;
    int64_t last = sock_now_ms(), hard = fs_deadline(c, 30000);
    while (sent < limit && sock_now_ms() < hard) {
        /* the frames again and again, until the server has taken nothing for quiet_ms (looked
         * at every 10 ms: the quiet time counts from the last byte taken) */
        size_t off = sent % flen, room = flen - off < limit - sent ? flen - off : limit - sent;
        int err;
        size_t n = sock_send_until(fd, frames + off, room, sock_now_ms() + 10, NULL, NULL, &err);
        sent += n;
        if (n > 0)
            last = sock_now_ms();
        if (err != 0 && err != -ETIMEDOUT) {
            fs_observe(c, fd, -1, -err);
            break;
        }
        if (err == -ETIMEDOUT && sock_now_ms() - last > fs_ms(c, quiet_ms))
            break;
    }
    fs_log(c, "fd %d: %zu bytes accepted without reading", fd, sent);
    repro_fill(c, fd, frames, flen, sent);
    return sent;
}

uint8_t *fs_fill_frames(fs_ctx *c, size_t *flen, size_t *frame_size)
{
    size_t sizes[1] = {fs_max_payload(c, 65536)};
    if (wire_is_raw(c->cfg->framing))
        sizes[0] = 65536;
    *frame_size = wire_frame_size(c->cfg->framing, sizes[0]);
    return fs_frames(c, 16, sizes, 1, flen);
}

void fs_repro_fill_echoes(fs_ctx *c, int fd, const uint8_t *frames, size_t flen, size_t whole,
                          double within_ms)
{
    size_t fsz = flen / 16, plen = wire_payload_size(c->cfg->framing, fsz);
    size_t hl = wire_header_size(c->cfg->framing, plen);
    char cn[16];
    fs_conn_name(c, fd, cn, sizeof cn);
    if (wire_is_raw(c->cfg->framing))
        fs_repro_raw_size(c, fd, "expect", whole, (long)fs_ms(c, within_ms));
    else
        fs_repro_frames(c, fd, "expect", frames + hl, plen, whole / fsz, (long)fs_ms(c, within_ms));
    fs_repro_op(c, fd, SC_EXPECT_EOF, (long)fs_ms(c, 5000));
}

size_t fs_fill_mismatch(const uint8_t *data, size_t len, const uint8_t *frames, size_t flen)
{
    for (size_t off = 0; off < len; off += flen) {
        size_t n = len - off < flen ? len - off : flen;
        if (memcmp(data + off, frames, n) != 0)
            return off;
    }
    return SIZE_MAX;
}

void fs_cork(fs_ctx *c, int fd)
{
    int one = 1;
    fs_repro_op(c, fd, SC_CORK, 0);
    if (c->cfg->addr.family == AF_UNIX)
        return;
    if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) < 0)
        fs_log(c, "fd %d TCP_CORK: %s", fd, sock_errno_name(errno));
    else
        fs_log(c, "fd %d TCP_CORK on", fd);
}

void fs_shutdown(fs_ctx *c, int fd, int how)
{
    const char *name = how == SHUT_WR ? "SHUT_WR" : how == SHUT_RD ? "SHUT_RD" : "SHUT_RDWR";
    fs_repro_op(c, fd, SC_SHUTDOWN, how);
    if (shutdown(fd, how) < 0)
        fs_log(c, "fd %d shutdown(%s): %s", fd, name, sock_errno_name(errno));
    else
        fs_log(c, "fd %d shutdown(%s)", fd, name);
}

void fs_abort(fs_ctx *c, int fd)
{
    fs_repro_op(c, fd, SC_ABORT, 0);
    fs_log(c, "fd %d abort: SO_LINGER {1,0} + close (RST)", fd);
    sock_abort(fd);
}

void fs_close(fs_ctx *c, int fd)
{
    fs_repro_op(c, fd, SC_CLOSE, 0);
    fs_log(c, "fd %d close", fd);
    close(fd);
}

static bool pid_running(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    char *p;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    if (p == NULL)
        return false;
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The check behind fs_alive(); not recorded in the scenario (fs_alive records one step). */
static bool alive_check(fs_ctx *c, const char *after)
{
    uint8_t payload[16], frame[32];
    size_t n;
    int fd;
    if (c->cfg->server_pid > 0 && !pid_running(c->cfg->server_pid)) {
        fs_expected(c, "the server process %d alive", (int)c->cfg->server_pid);
        fs_actual(c, "it has exited");
        fs_fail(c, "the server died %s", after);
        return false;
    }
    fs_payload(c, payload, sizeof payload, 99);
    n = fs_frame(c, payload, sizeof payload, frame);
    fd = sock_connect(&c->cfg->addr, fs_deadline(c, 5000));
    if (fd < 0) {
        fs_expected(c, "a fresh connection echoes a frame");
        fs_actual(c, "connect: %s", sock_errno_name(-fd));
        fs_fail(c, "the server stopped accepting %s (connect: %s)", after, sock_errno_name(-fd));
        return false;
    }
    track(c, fd);
    fs_log(c, "fd %d: checking the server is alive %s", fd, after);
    if (fs_send(c, fd, frame, n) < 0 || fs_expect(c, fd, frame, n, 5000, "alive check") < 0) {
        close(fd);
        fs_fail(c, "the server stopped serving %s", after);
        return false;
    }
    close(fd);
    return true;
}

bool fs_alive(fs_ctx *c, const char *after)
{
    bool ok, rec = c->recording;
    fs_repro_op(c, -1, SC_EXPECT_ALIVE, 0);
    c->recording = false;
    ok = alive_check(c, after);
    c->recording = rec;
    return ok;
}
