/*
 * cases_close.c — groups `halfclose` and `reset`: the peer's FIN and the peer's RST
 * (docs/spec.md HALFCLOSE-*, RESET-*).
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cases.h"

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
 * SHUT_WR: the complete frames are echoed, then FIN.
 */
void case_halfclose_mid_header(fs_ctx *c)
{
    static const uint8_t partial_hdr[] = {0x00, 0x00, 0x00};
    static const uint8_t partial_line[] = {'p', 'a', 'r'};
    size_t hl = wire_header_size(c->cfg->framing);
    if (c->cfg->framing == WIRE_LINE)
        shut_wr_after(c, 10, partial_line, sizeof partial_line, "10 lines, part of one, SHUT_WR");
    else if (hl > 1)
        shut_wr_after(c, 10, partial_hdr, hl - 1, "10 frames, part of a header, then SHUT_WR");
    else
        fs_skip(c, "framing %s has a 1-byte header: it cannot be split",
                wire_framing_name(c->cfg->framing));
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
    if (c->cfg->framing == WIRE_RAW)
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
        char cn[16];
        fs_repro(c, "%s stop-reading", fs_conn_name(c, fd, cn, sizeof cn));
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
    uint8_t wire[16];
    size_t hl = wire_header_size(c->cfg->framing);
    memset(wire, 'h', sizeof wire);
    wire_encode_header(c->cfg->framing, 10, wire);
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
        char cn[16];
        if (fd < 0)
            break;
        fs_repro(c, "%s stop-reading", fs_conn_name(c, fd, cn, sizeof cn));
        fs_send_quiet(c, fd, w, len);
        fs_close(c, fd); /* unread echoes in our receive queue: the kernel sends RST */
        fs_sleep(c, 100);
        fs_alive(c, "after a peer closed with echoes in flight (the SIGPIPE trap)");
    }
    free(w);
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
