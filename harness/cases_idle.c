/*
 * cases_idle.c — group `idle`: the server's idle timeout (docs/spec.md IDLE-*). These cases run
 * only when --idle-timeout gives the server's timeout T.
 */
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "scenario.h"

/* Tolerance past T that still counts as on time: max(0.5 s, T / 4), scaled. */
static int64_t tolerance_ms(const fs_ctx *c)
{
    double t = (double)c->cfg->idle_ms / 4;
    return fs_ms(c, t > 500 ? t : 500);
}

/* Read until close; the connection must close with FIN between 0.9 T and T + tolerance after t0,
 * having echoed exactly want[0..want_len). */
static void expect_idle_close(fs_ctx *c, int fd, int64_t t0, const uint8_t *want, size_t want_len,
                              const char *what)
{
    int64_t tmax = c->cfg->idle_ms + tolerance_ms(c), elapsed, early;
    uint8_t *data = NULL;
    size_t len = 0;
    int kind;
    early = c->cfg->idle_ms * 9 / 10 - 50 - (sock_now_ms() - t0);
    fs_repro_bytes(c, fd, "expect", want, want_len, 1000);
    if (early > 0)
        fs_repro_op(c, fd, SC_EXPECT_OPEN, (long)early);
    fs_repro_op(c, fd, SC_EXPECT_EOF, (long)(tmax - (early > 0 ? early : 0)));
    kind = fs_read_to_close(c, fd, (double)(tmax + 1000) / c->cfg->scale, 1 << 20, &data, &len);
    elapsed = sock_now_ms() - t0;
    fs_close_kind(c, kind);
    if (len != want_len || (len && want && memcmp(data, want, len) != 0)) {
        fs_expected(c, "%s: %zu echoed bytes before the close", what, want_len);
        fs_actual(c, "%zu bytes", len);
        fs_fail(c, "%s: the echo before the idle close is wrong", what);
    } else if (kind == SOCK_TIMEOUT) {
        fs_expected(c, "%s: closed (FIN) within %lld ms (T %lld ms + tolerance)", what,
                    (long long)tmax, (long long)c->cfg->idle_ms);
        fs_actual(c, "still open after %lld ms", (long long)elapsed);
        fs_fail(c, "%s: not closed after the idle timeout", what);
    } else if (kind != SOCK_EOF) {
        fs_expected(c, "%s: FIN after the idle timeout", what);
        fs_actual(c, "%s after %lld ms", sock_close_name(kind), (long long)elapsed);
        fs_fail(c, "%s: idle close was %s, not FIN", what, sock_close_name(kind));
    } else if (elapsed < c->cfg->idle_ms * 9 / 10 - 50 || elapsed > tmax) {
        fs_expected(c, "%s: FIN between %lld and %lld ms", what,
                    (long long)(c->cfg->idle_ms * 9 / 10), (long long)tmax);
        fs_actual(c, "FIN after %lld ms", (long long)elapsed);
        fs_fail(c, "%s: closed after %lld ms, outside the idle timeout's tolerance", what,
                (long long)elapsed);
    } else {
        fs_log(c, "closed with FIN after %lld ms (T = %lld ms)", (long long)elapsed,
               (long long)c->cfg->idle_ms);
    }
    free(data);
}

/*
 * idle.silent_closed — a connection that sends nothing is closed after T, within the tolerance
 * (max(0.5 s, T/4), scaled), with FIN.
 */
void case_idle_silent_closed(fs_ctx *c)
{
    int64_t t0 = sock_now_ms();
    int fd = fs_connect(c);
    if (fd < 0)
        return;
    expect_idle_close(c, fd, t0, NULL, 0, "silent connection");
    fs_close(c, fd);
}

/*
 * idle.keepalive_frames — a connection that sends a zero-length frame every T/4 (raw: one byte,
 * line: an empty line) stays open past 2 x T, and still echoes at the end.
 */
void case_idle_keepalive_frames(fs_ctx *c)
{
    uint8_t ka[8], payload[16], wire[32];
    size_t kn, n;
    int64_t end;
    int fd = fs_connect(c);
    if (fd < 0)
        return;
    kn = wire_is_raw(c->cfg->framing) ? (ka[0] = 'k', 1) : fs_frame(c, NULL, 0, ka);
    end = sock_now_ms() + c->cfg->idle_ms * 22 / 10;
    while (!fs_done(c) && sock_now_ms() < end) {
        if (fs_send(c, fd, ka, kn) == 0)
            fs_expect(c, fd, ka, kn, 2000, "keepalive frame");
        fs_sleep(c, (double)c->cfg->idle_ms / 4);
    }
    fs_payload(c, payload, sizeof payload, 1);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (!fs_done(c) && fs_send(c, fd, wire, n) == 0)
        fs_expect(c, fd, wire, n, 2000, "a frame after 2.2 x T of keepalives");
    fs_close(c, fd);
}

/*
 * idle.half_header — a connection that sends one frame and then half a header (line: part of a
 * line) and goes silent gets its echo, then is closed after T with FIN. Not raw: it has no
 * partial frames.
 */
void case_idle_half_header(fs_ctx *c)
{
    uint8_t payload[8], msg[8 + 2 * WIRE_MAX_HEADER], hdr[WIRE_MAX_HEADER];
    size_t n, hl = wire_encode_header(c->cfg->framing, wire_split_len(c->cfg->framing), hdr);
    int64_t t0;
    int fd;
    size_t tail;
    fs_payload(c, payload, sizeof payload, 2);
    n = fs_frame(c, payload, sizeof payload, msg);
    fd = fs_connect(c);
    if (fd < 0)
        return;
    if (wire_is_line(c->cfg->framing)) {
        memcpy(msg + n, "part", 4); /* part of a line */
        tail = 4;
    } else if (hl > 1) {
        memcpy(msg + n, hdr, hl - 1); /* part of a header */
        tail = hl - 1;
    } else {
        tail = wire_encode_header(c->cfg->framing, 5, msg + n); /* {packet,1}: a header
                                                                  * announcing 5, no payload */
    }
    if (fs_send(c, fd, msg, n + tail) == 0 &&
        fs_expect(c, fd, msg, n, 2000, "echo before the partial header") == 0) {
        t0 = sock_now_ms();
        expect_idle_close(c, fd, t0, NULL, 0, "half a header, then silence");
    }
    fs_close(c, fd);
}
