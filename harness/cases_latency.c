/*
 * cases_latency.c — group `latency` (docs/spec.md LATENCY-*).
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

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p90 limit: 20 ms scaled, capped at 30 ms: the stall this detects is 40 ms whatever the
 * machine, so a larger limit could not see it. */
static int64_t latency_limit_ms(const fs_ctx *c)
{
    return fs_ms(c, 20) < 30 ? fs_ms(c, 20) : 30;
}

/* Check the p90 of samples (microseconds) against latency_limit_ms(). */
static void check_p90(fs_ctx *c, int64_t *us, size_t n, const char *what)
{
    int64_t limit = latency_limit_ms(c) * 1000;
    if (n == 0)
        return;
    qsort(us, n, sizeof *us, cmp_i64);
    fs_log(c, "%s: %zu samples, p50 %.3f ms, p90 %.3f ms, max %.3f ms", what, n,
           (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000, (double)us[n - 1] / 1000);
    if (us[n * 9 / 10] > limit) {
        fs_expected(c, "%s: p90 round trip < %lld ms (far below the ~40 ms Nagle/delayed-ACK "
                    "stall)", what, (long long)(limit / 1000));
        fs_actual(c, "p50 %.3f ms, p90 %.3f ms over %zu samples", (double)us[n / 2] / 1000,
                  (double)us[n * 9 / 10] / 1000, n);
        fs_fail(c, "%s: p90 %.1f ms: a Nagle/delayed-ACK stall. The usual cause: one small "
                "write per frame with Nagle on (no TCP_NODELAY), so each write waits for the ACK "
                "of the previous segment, which the peer delays (~40 ms); header and payload in "
                "separate writes is one way to get it. Fix: TCP_NODELAY, or write a burst's "
                "echoes in one call", what, (double)us[n * 9 / 10] / 1000);
    }
}

/*
 * latency.ping_pong — 200 round trips of a 16-byte frame (at most 5 s): the p90 round trip must be
 * under 20 ms, far below the ~40 ms stall a server gets when it writes the header and the
 * payload in two writes without TCP_NODELAY (Nagle waits for our delayed ACK).
 */
void case_latency_ping_pong(fs_ctx *c)
{
    uint8_t payload[16], wire[32];
    int64_t us[200], end = fs_deadline(c, 5000);
    size_t n, count = 0;
    int fd = fs_connect(c);
    if (fd < 0)
        return;
    fs_payload(c, payload, sizeof payload, 8);
    n = fs_frame(c, payload, sizeof payload, wire);
    fs_repro_frames(c, fd, "ping", payload, sizeof payload, 200, (long)latency_limit_ms(c));
    {
        bool rec = c->recording;
        c->recording = false; /* the ping step stands for the round trips */
        while (count < 200 && sock_now_ms() < end && !fs_done(c)) {
            int64_t t = sock_now_ns();
            if (sock_send_all(fd, wire, n, fs_deadline(c, 2000)) < 0) {
                fs_fail(c, "send failed in round trip %zu", count + 1);
                break;
            }
            if (fs_expect(c, fd, wire, n, 2000, "ping-pong") < 0)
                break;
            us[count++] = (sock_now_ns() - t) / 1000;
        }
        c->recording = rec;
    }
    if (!fs_done(c))
        check_p90(c, us, count, "ping-pong");
    fs_close(c, fd);
}

/*
 * latency.pipelined — 20 bursts of 50 small frames, each burst in one write: the p90 time for a
 * whole burst to come back must be under 20 ms.
 */
void case_latency_pipelined(fs_ctx *c)
{
    size_t sizes[] = {16, 3, 40}, len;
    uint8_t *w = fs_frames(c, 50, sizes, 3, &len);
    int64_t us[20];
    size_t count = 0;
    int fd;
    if (w == NULL)
        return;
    fd = fs_connect(c);
    while (fd >= 0 && count < 20 && !fs_done(c)) {
        int64_t t = sock_now_ns();
        bool rec = c->recording;
        fs_repro_bytes(c, fd, "send", w, len, -1);
        fs_repro_bytes(c, fd, "expect", w, len, (long)latency_limit_ms(c));
        c->recording = false;
        if (fs_send(c, fd, w, len) < 0 || fs_expect(c, fd, w, len, 2000, "burst") < 0) {
            c->recording = rec;
            break;
        }
        c->recording = rec;
        us[count++] = (sock_now_ns() - t) / 1000;
        fs_sleep(c, 1);
    }
    if (!fs_done(c))
        check_p90(c, us, count, "50-frame burst");
    if (fd >= 0)
        fs_close(c, fd);
    free(w);
}
