/*
 * cases_close.c — groups `halfclose` and `reset`: the peer's FIN and the peer's RST
 * (docs/spec.md HALFCLOSE-*, RESET-*).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cases.h"
#include "scenario.h"

/* Expect a clean FIN: `kind` is what fs_transfer saw after all echoes. */
static void require_fin(fs_ctx *c, int kind, const char *what)
{
    if (kind < 0 || fs_done(c))
        return;
    fs_close_kind(c, kind);
    if (kind != SOCK_EOF) {
        fs_expected(c, "%s: every echo, then EOF (FIN)", what);
        fs_actual(c, "every echo, then %s", sock_close_name(kind));
        fs_fail(c, "%s: the server closed with %s instead of FIN", what, sock_close_name(kind));
    }
}

/* Send complete frames + `tail` (an incomplete frame) then SHUT_WR; expect the complete frames'
 * echoes then FIN. */
static void shut_wr_after(fs_ctx *c, size_t count, const uint8_t *tail, size_t tail_len,
                          const char *what)
{
    size_t sizes[] = {100, 0, 7, 1000, 33}, len;
    uint8_t *w = fs_frames(c, count, sizes, 5, &len), *msg;
    int fd;
    if (w == NULL)
        return;
    msg = malloc(len + tail_len + 1);
    fd = msg ? fs_connect(c) : -1;
    if (fd >= 0) {
        memcpy(msg, w, len);
        if (tail_len)
            memcpy(msg + len, tail, tail_len);
        require_fin(c, fs_transfer(c, fd, msg, len + tail_len, w, len, true, 10000, what), what);
        fs_close(c, fd);
    }
    free(msg);
    free(w);
}

/*
 * halfclose.at_boundary — 50 frames, then shutdown(SHUT_WR) at a frame boundary: every echo
 * arrives, then EOF. ECONNRESET fails (the server closed with unread data or with SO_LINGER 0),
 * and so does a server that never closes, or drops echoes once it sees EOF.
 */
void case_halfclose_at_boundary(fs_ctx *c)
{
    shut_wr_after(c, 50, NULL, 0, "50 frames then SHUT_WR");
}

/*
 * halfclose.mid_frame — frames, then half of a frame's payload, then SHUT_WR: the complete frames
 * are echoed, the partial one is dropped (never echoed in part), then FIN.
 */
void case_halfclose_mid_frame(fs_ctx *c)
{
    uint8_t payload[64], partial[80];
    size_t n;
    fs_payload(c, payload, sizeof payload, 9);
    n = fs_frame(c, payload, sizeof payload, partial);
    shut_wr_after(c, 10, partial, n / 2, "10 frames, half a frame, then SHUT_WR");
}

/*
 * halfclose.mid_header — frames, then part of a header (line framing: part of a line), then
 * SHUT_WR: the complete frames are echoed, then FIN. Framings 2, 4 and line (FS_NEEDS_FRAMED,
 * FS_NOT_U8: a 1-byte header cannot be split).
 */
void case_halfclose_mid_header(fs_ctx *c)
{
    static const uint8_t partial_line[] = {'p', 'a', 'r'};
    uint8_t partial_hdr[WIRE_MAX_HEADER];
    size_t hl = wire_encode_header(c->cfg->framing, wire_split_len(c->cfg->framing), partial_hdr);
    if (wire_is_line(c->cfg->framing))
        shut_wr_after(c, 10, partial_line, sizeof partial_line, "10 lines, part of one, SHUT_WR");
    else
        shut_wr_after(c, 10, partial_hdr, hl - 1, "10 frames, part of a header, then SHUT_WR");
}

/*
 * halfclose.large_transfer — 64 MiB of frames ending in SHUT_WR, read while sending: nothing is
 * lost, then FIN. A server that closes before reading to EOF makes the kernel send RST and the
 * tail of the echoes is lost.
 */
void case_halfclose_large_transfer(fs_ctx *c)
{
    size_t per = fs_max_payload(c, 65536), total = 64u << 20, count, len;
    size_t sizes[1];
    uint8_t *w;
    int fd;
    if (wire_is_raw(c->cfg->framing))
        per = 65536;
    sizes[0] = per;
    count = total / wire_frame_size(c->cfg->framing, per);
    w = fs_frames(c, count, sizes, 1, &len);
    if (w == NULL)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        require_fin(c, fs_transfer(c, fd, w, len, w, len, true, 60000, "64 MiB then SHUT_WR"),
                    "64 MiB then SHUT_WR");
        fs_close(c, fd);
    }
    free(w);
}

/*
 * Read fd until the peer closes, at most `rate` bytes per millisecond (a slow reader), within
 * `timeout_ms` (scaled), keeping at most `limit` bytes. Returns the close kind (SOCK_TIMEOUT at the
 * deadline); *data (malloc'ed, may be NULL) and *len get what was read.
 */
static int read_slowly_to_close(fs_ctx *c, int fd, size_t rate, double timeout_ms, size_t limit,
                                uint8_t **data, size_t *len)
{
    int64_t t0 = sock_now_ms(), deadline = fs_deadline(c, timeout_ms);
    size_t got = 0;
    uint8_t *buf = malloc(limit ? limit : 1);
    int kind = SOCK_TIMEOUT;
    *data = buf;
    *len = 0;
    if (buf == NULL) {
        fs_fail(c, "out of memory for %zu bytes", limit);
        return SOCK_ERROR;
    }
    while (sock_now_ms() < deadline && got < limit) {
        size_t allowed = (size_t)(sock_now_ms() - t0 + 1) * rate, want = limit - got;
        ssize_t n;
        if (got >= allowed) {
            poll(NULL, 0, 2);
            continue;
        }
        if (want > allowed - got)
            want = allowed - got;
        if (want > 65536)
            want = 65536;
        n = recv(fd, buf + got, want, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            sock_wait_readable(fd, sock_now_ms() + 10 < deadline ? sock_now_ms() + 10 : deadline);
            continue;
        }
        kind = fs_observe(c, fd, n, n < 0 ? errno : 0);
        break;
    }
    fs_log(c, "fd %d read %zu bytes slowly (%zu bytes/ms), then %s", fd, got, rate,
           sock_close_name(got >= limit ? SOCK_OPEN : kind));
    *len = got;
    return got >= limit ? SOCK_OPEN : kind;
}

/*
 * halfclose.queued_echoes — a peer writes frames without reading until the server stops taking
 * them (the server's own queue fills, then the kernel buffers: megabytes), sends SHUT_WR, waits
 * 500 ms, and then reads, slowly (32 MB/s), so that the server's queue is still full when it
 * reaches our FIN: every echo of a complete frame must arrive, then FIN. A server that closes (or
 * aborts) the connection when it reads EOF drops the echoes it still holds in user space. The
 * other halfclose cases read while they send, so such a server's queue is empty at EOF and they
 * cannot see that; and a fast reader would let it catch up before EOF.
 */
void case_halfclose_queued_echoes(fs_ctx *c)
{
    size_t flen, fsz, sent, whole, len = 0;
    uint8_t *frames = fs_fill_frames(c, &flen, &fsz), *data = NULL;
    int fd, kind;
    if (frames == NULL)
        return;
    fd = fs_connect(c);
    if (fd < 0)
        goto out;
    sent = fs_fill_until_blocked(c, fd, frames, flen, 500, 64u << 20);
    whole = wire_is_raw(c->cfg->framing) ? sent : sent - sent % fsz;
    fs_log(c, "fd %d: %zu bytes sent without reading (%zu in complete frames); SHUT_WR", fd, sent,
           whole);
    fs_shutdown(c, fd, SHUT_WR);
    fs_sleep(c, 500);
    fs_repro(c, "# framespec run reads these echoes slowly (32 MB/s); a script reads at once");
    fs_repro_fill_echoes(c, fd, frames, flen, whole, 30000);
    kind = read_slowly_to_close(c, fd, 32000, 60000, whole + (1u << 20), &data, &len);
    fs_close_kind(c, kind);
    {
        size_t off = fs_fill_mismatch(data, len < whole ? len : whole, frames, flen);
        if (off != SIZE_MAX)
            fs_fail(c, "echoes after SHUT_WR differ within bytes %zu..%zu", off, off + flen);
    }
    if (!fs_done(c) && len != whole) {
        fs_expected(c, "all %zu echoed bytes of the complete frames sent before SHUT_WR, then FIN",
                    whole);
        fs_actual(c, "%zu bytes, then %s", len, sock_close_name(kind));
        if (len < whole && kind == SOCK_EOF)
            fs_fail(c, "%zu of %zu echoed bytes, then FIN: the server closed when it read our "
                       "FIN and dropped the %zu bytes of echoes it still held; flush pending "
                       "writes before closing (RFC 9293 3.6: CLOSE-WAIT may still send)",
                    len, whole, whole - len);
        else
            fs_fail(c, "%zu of %zu echoed bytes after SHUT_WR, then %s", len, whole,
                    sock_close_name(kind));
    } else if (!fs_done(c) && kind != SOCK_EOF) {
        fs_expected(c, "every echo, then FIN");
        fs_actual(c, "every echo, then %s", sock_close_name(kind));
        fs_fail(c, "after every echo the server closed with %s instead of FIN",
                sock_close_name(kind));
    }
    fs_close(c, fd);
out:
    free(data);
    free(frames);
}

/* Open `other`, send `bytes` on a second connection, abort it (RST), then `other` must still be
 * served and the server alive. */
static void abort_after(fs_ctx *c, const uint8_t *bytes, size_t len, const char *what)
{
    uint8_t payload[32], wire[48];
    size_t n;
    int other = fs_connect(c), fd;
    if (other < 0)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        fs_repro_op(c, fd, SC_STOP_READING, 0);
        fs_send_quiet(c, fd, bytes, len);
        fs_sleep(c, 20); /* let the server read it, so the RST meets a connection mid-frame */
        fs_abort(c, fd);
    }
    fs_sleep(c, 20);
    fs_payload(c, payload, sizeof payload, 4);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (!fs_done(c) && fs_send(c, other, wire, n) == 0)
        fs_expect(c, other, wire, n, 5000, "another connection, after the RST");
    fs_close(c, other);
    if (!fs_done(c))
        fs_alive(c, what);
}

/*
 * reset.mid_header — a peer sends part of a header and aborts (SO_LINGER {1,0}: RST). The server
 * survives and another connection is still served.
 */
void case_reset_mid_header(fs_ctx *c)
{
    uint8_t wire[WIRE_MAX_HEADER + 16];
    size_t hl;
    memset(wire, 'h', sizeof wire);
    hl = wire_encode_header(c->cfg->framing, wire_split_len(c->cfg->framing), wire);
    abort_after(c, wire, hl > 1 ? hl - 1 : 1, "after an RST mid-header");
}

/*
 * reset.mid_payload — a peer sends a header and part of the payload, then aborts (RST).
 */
void case_reset_mid_payload(fs_ctx *c)
{
    size_t sizes[] = {5000}, len;
    uint8_t *w = fs_frames(c, 1, sizes, 1, &len);
    if (w == NULL)
        return;
    abort_after(c, w, len / 2, "after an RST mid-payload");
    free(w);
}

/*
 * reset.echo_pending — a peer sends 50 frames and aborts at once, while their echoes are being
 * written: the server's writes meet the RST.
 */
void case_reset_echo_pending(fs_ctx *c)
{
    size_t sizes[] = {1000}, len;
    uint8_t *w = fs_frames(c, 50, sizes, 1, &len);
    if (w == NULL)
        return;
    abort_after(c, w, len, "after an RST with echoes pending");
    free(w);
}

/*
 * reset.echoes_in_flight — three times: a peer sends thousands of frames (8 MiB) without reading
 * and closes; its kernel answers the server's next segments with RST, so the server's writes fail
 * with EPIPE/ECONNRESET. A server that does not ignore SIGPIPE (or use MSG_NOSIGNAL) dies here.
 */
void case_reset_echoes_in_flight(fs_ctx *c)
{
    size_t sizes[] = {1024}, len;
    uint8_t *w = fs_frames(c, 8192, sizes, 1, &len);
    if (w == NULL)
        return;
    for (int round = 0; round < 3 && !fs_done(c); round++) {
        int fd = fs_connect(c);
        if (fd < 0)
            break;
        fs_repro_op(c, fd, SC_STOP_READING, 0);
        fs_send_quiet(c, fd, w, len);
        fs_close(c, fd); /* unread echoes in our receive queue: the kernel sends RST */
        fs_sleep(c, 100);
        fs_alive(c, "after a peer closed with echoes in flight (the SIGPIPE trap)");
    }
    free(w);
}

/* Read (and drop) whatever has arrived on fd, without waiting. */
static void drain_now(fs_ctx *c, int fd)
{
    uint8_t buf[65536];
    ssize_t n;
    size_t total = 0;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        total += (size_t)n;
    if (total)
        fs_log(c, "fd %d: read %zu bytes of echoes before closing", fd, total);
}

/*
 * Send `len` bytes on fd while reading (and dropping) the echoes, so that nothing is left unread
 * when we close. Returns 0, or -1 when the send failed.
 */
typedef struct {
    fs_ctx *c;
    int fd;
} drain_arg;

static void drain_it(void *arg)
{
    drain_arg *d = arg;
    drain_now(d->c, d->fd);
}

static int send_reading(fs_ctx *c, int fd, const uint8_t *p, size_t len)
{
    drain_arg d = {c, fd};
    int err;
    fs_repro_bytes(c, fd, "send", p, len, -1);
    sock_send_until(fd, p, len, fs_deadline(c, 10000), drain_it, &d, &err);
    if (err != 0 && err != -ETIMEDOUT)
        fs_observe(c, fd, -1, -err);
    return err == 0 ? 0 : -1;
}

/*
 * reset.fin_before_echoes — the SIGPIPE trap after the peer's FIN. A peer sends a burst of frames
 * and closes normally (FIN, nothing unread on its side), before the echoes arrive: TCP_CORK makes
 * the burst and the FIN leave in one segment, so the server has the FIN before it writes. Its
 * first echo reaches a closed socket, whose kernel answers RST (RFC 1122 4.2.2.13: data after
 * CLOSE). The connection was in CLOSE-WAIT, so Linux reports that RST as EPIPE (tcp_reset()), and
 * the server's very next write fails with EPIPE and raises SIGPIPE unless it ignores SIGPIPE or
 * uses MSG_NOSIGNAL (send(2)): checking every write and stopping at the first error does not help.
 * reset.echoes_in_flight, where the RST meets an ESTABLISHED connection, reports ECONNRESET first
 * and cannot show this. Rounds of several sizes, so that a server that writes one echo per frame
 * and one that writes per read both meet a second write: 2 small frames, 20 and 60 frames of
 * 1 KiB, 2 frames of 30 KiB (all under one 64 KiB loopback segment), and 1 MiB sent while reading
 * the echoes, then closed with nothing unread. After each round the server must be alive.
 */
void case_reset_fin_before_echoes(fs_ctx *c)
{
    static const struct {
        size_t count, size;
        bool corked;
    } rounds[] = {{2, 16, true}, {20, 1024, true}, {60, 1024, true}, {2, 30000, true},
                  {1024, 1024, false}};
    for (size_t i = 0; i < sizeof rounds / sizeof rounds[0] && !fs_done(c); i++) {
        size_t sizes[1] = {rounds[i].size}, len;
        uint8_t *w = fs_frames(c, rounds[i].count, sizes, 1, &len);
        if (w == NULL)
            return;
        for (int rep = 0; rep < 3 && !fs_done(c); rep++) {
            char what[320];
            int fd = fs_connect(c);
            if (fd < 0)
                break;
            if (rounds[i].corked) {
                fs_cork(c, fd);
                fs_send(c, fd, w, len);
            } else if (send_reading(c, fd, w, len) == 0) {
                drain_now(c, fd);
            }
            fs_close(c, fd); /* FIN: nothing unread on our side */
            fs_sleep(c, 20);
            snprintf(what, sizeof what, "after a peer sent %zu frames of %zu bytes%s and closed "
                     "(FIN) before their echoes arrived: its writes met RST, then EPIPE "
                     "(SIGPIPE unless ignored or MSG_NOSIGNAL)", rounds[i].count, rounds[i].size,
                     rounds[i].corked ? " in one segment with the FIN" : "");
            fs_alive(c, what);
        }
        free(w);
    }
}

/*
 * reset.burst — 200 connections each send part of a frame, then all abort (RST) at once. The
 * server survives and keeps serving.
 */
void case_reset_burst(fs_ctx *c)
{
    enum { N = 200 };
    int fds[N];
    size_t sizes[] = {3000}, len, opened = 0;
    uint8_t *w = fs_frames(c, 1, sizes, 1, &len);
    if (w == NULL)
        return;
    for (size_t i = 0; i < N; i++) {
        fds[i] = sock_connect(&c->cfg->addr, fs_deadline(c, 5000));
        if (fds[i] < 0)
            break;
        opened++;
        fs_repro_connect(c, fds[i]);
        fs_repro_bytes(c, fds[i], "send", w, 1 + (i * 37) % (len - 1), -1);
        send(fds[i], w, 1 + (i * 37) % (len - 1), MSG_NOSIGNAL);
    }
    fs_log(c, "%zu connections opened, each sent part of a frame; aborting all", opened);
    fs_sleep(c, 50);
    for (size_t i = 0; i < opened; i++)
        fs_abort(c, fds[i]);
    if (opened < N) {
        fs_expected(c, "%d connections", N);
        fs_actual(c, "%zu", opened);
        fs_fail(c, "only %zu of %d connections could be opened", opened, N);
    }
    fs_sleep(c, 100);
    if (!fs_done(c))
        fs_alive(c, "after 200 concurrent resets");
    free(w);
}
