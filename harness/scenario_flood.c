/*
 * scenario_flood.c — the interpreter's steps for peers that do not read or never stop sending:
 * flood (BACKPRESSURE-1, -2; then shutdown: HALFCLOSE-5; then term: LIFECYCLE-2), stream ...
 * then term (LIFECYCLE-2), and ping (LATENCY-1). Each is the one definition of what it
 * measures: BACKPRESSURE-1's bound, the slow reader, a peer that stops reading.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scenario_exec.h"

/* The slow reader of `flood ... then shutdown`: 64 KiB every 2 ms, about 32 MB/s. */
#define SLOW_READ_CHUNK 65536
#define SLOW_READ_EVERY_NS 2000000

/*
 * Send buf[0..blen) again and again on c, which does not read, until the server has taken
 * nothing for quiet_ms, more than `limit` bytes were taken, or give_up (sock_now_ms()) passes:
 * the one definition of "the server stopped reading a peer that does not read". Returns the
 * bytes taken; *err gets 0, -ETIMEDOUT (it stopped reading) or the send's -errno.
 */
static uint64_t fill(peer *c, const uint8_t *buf, uint64_t blen, uint64_t limit, int64_t give_up,
                     int64_t quiet_ms, peer *const *all, size_t nall, int *err)
{
    uint64_t sent = 0;
    bool was = c->noread;
    c->noread = true;
    *err = 0;
    while (sent <= limit && sock_now_ms() < give_up) {
        uint64_t off = sent % blen;
        size_t got = 0;
        *err = peer_send(c, buf + off, (size_t)(blen - off), sock_now_ms() + quiet_ms, all, nall,
                         &got);
        sent += got;
        if (peer_fin_pending(c))
            break; /* the server closed it: what it reads now it discards */
        if (*err == -ETIMEDOUT && got == 0)
            break; /* the window stayed shut: the server stopped reading */
        if (*err < 0 && *err != -ETIMEDOUT)
            break;
    }
    c->noread = was;
    return sent;
}

/* The most bytes the kernel may hold for one connection between a peer that does not read and
 * a server that stopped reading: the largest send and receive buffers of both ends, as TCP may
 * autotune them (tcp_wmem[2], tcp_rmem[2]) or an application ask for them (SO_SNDBUF and
 * SO_RCVBUF: twice net.core.wmem_max / rmem_max). tcp(7), socket(7). Read once a process (a
 * fuzz worker's lanes may race to read it: each computes the same value). A
 * measurement would not do: the same kernel gave a reference echo server 9.1 MB and echod 13.8 MB
 * in one run, since autotuning follows how the application reads. */
static uint64_t kernel_buffering(void)
{
    static uint64_t cached; /* __atomic: fuzz_lanes.c's threads */
    static const char *const files[4] = {"/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem",
                                         "/proc/sys/net/core/wmem_max", "/proc/sys/net/core/rmem_max"};
    uint64_t v[4] = {4u << 20, 6u << 20, 212992, 212992}; /* Linux's defaults */
    uint64_t got = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (got)
        return got;
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(files[i], "r");
        unsigned long long a, b, c;
        if (f == NULL)
            continue;
        if (i < 2 && fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3)
            v[i] = c;
        else if (i >= 2 && fscanf(f, "%llu", &a) == 1)
            v[i] = a;
        fclose(f);
    }
    got = 2 * ((v[0] > 2 * v[2] ? v[0] : 2 * v[2]) + (v[1] > 2 * v[3] ? v[1] : 2 * v[3]));
    __atomic_store_n(&cached, got, __ATOMIC_RELAXED);
    return got;
}

uint64_t sc_flood_bound(uint64_t largest)
{
    uint64_t k = kernel_buffering();
    return k + 2 * largest + (2u << 20) + k / 4;
}

/* The largest item of a step, on the wire. */
static uint64_t largest_item(const scenario *s, const sc_step *st)
{
    uint64_t best = 0;
    for (size_t k = 0; k < st->nitems; k++)
        if (sc_item_size(&st->items[k], s->framing) > best)
            best = sc_item_size(&st->items[k], s->framing);
    return best;
}

/* flood ... then shutdown: the server stopped reading with its queues full; SHUT_WR now (its
 * FIN waits behind what it has not read), then read slowly (so that the server's own queue is
 * still full when it reaches our FIN: a fast reader lets it drain first): the echo of every
 * whole item sent, then FIN, or after a partial item a close. */
static int flood_then_shutdown(run *r, size_t i, peer *c, const uint8_t *buf, uint64_t blen,
                               uint64_t one, uint64_t sent)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t whole = rx_item_boundary(r->s, st, one, sent, NULL);
    int64_t deadline = sock_now_ms() + st->ms;
    rx_stream s = {buf, blen, whole, 0};
    char exp[256], act[512];
    rx_log(r, "fd %d shutdown(SHUT_WR) after %llu bytes (%llu in whole items)", c->fd,
           (unsigned long long)sent, (unsigned long long)whole);
    peer_shutdown(c, SHUT_WR);
    c->noread = true;
    while (s.pos < whole && !rx_ended(c) && sock_now_ms() < deadline) {
        struct timespec ts = {0, SLOW_READ_EVERY_NS};
        if (sock_wait_readable(c->fd, sock_now_ms() + 100) > 0) {
            c->noread = false;
            peer_pump_at_most(c, SLOW_READ_CHUNK);
            c->noread = true;
        }
        if (rx_stream_take(c, &s, exp, act) < 0)
            break;
        nanosleep(&ts, NULL);
    }
    c->noread = false;
    if (rx_await_stream(r, i, c, &s, deadline, st->ms) != 0) {
        r->f->req = fs_check_req[CHK_SHUT_QUEUED];
        if (c->closed == SOCK_EOF && s.pos < whole)
            snprintf(r->f->actual, sizeof r->f->actual, "%llu of %llu echoed bytes, then FIN: "
                     "the server closed when it read our FIN and dropped the %llu bytes of "
                     "echoes it still held; flush pending writes before closing (RFC 9293 "
                     "3.6: CLOSE-WAIT may still send)", (unsigned long long)s.pos,
                     (unsigned long long)whole, (unsigned long long)(whole - s.pos));
        return 1;
    }
    while (!rx_ended(c) && c->in_len == 0 && sock_now_ms() < deadline)
        rx_pump_until(r, deadline);
    snprintf(exp, sizeof exp, "after the echo of the %llu bytes of whole items, %s",
             (unsigned long long)whole, whole == sent ? "FIN" : "a close");
    if (c->in_len > 0 || !rx_ended(c) || (whole == sent && c->closed != SOCK_EOF)) {
        snprintf(act, sizeof act, "%s", c->in_len > 0 ? "more bytes"
                                        : !rx_ended(c)  ? "still open"
                                                        : sock_close_name(c->closed));
        return rx_fail_check(r, i, whole == sent ? CHK_SHUT_FIN : CHK_SHUT_PARTIAL,
                             c->in_len > 0  ? "bytes"
                             : !rx_ended(c) ? "open"
                                            : sock_close_name(c->closed),
                             exp, act);
    }
    return 0;
}

/* flood (then nothing): read again, send the rest of the copy it was in (taking the echoes as
 * they come, so that the inbox holds what arrives in 10 ms, not all the kernel held), then
 * await every echo (BACKPRESSURE-2). */
static int flood_then_read(run *r, size_t i, peer *c, const uint8_t *buf, uint64_t blen,
                           uint64_t one, uint64_t sent)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t end = sent + (one - sent % one) % one;
    int64_t deadline = sock_now_ms() + (int64_t)(10000 * rx_scale(r));
    rx_stream s = {buf, blen, end, 0};
    char exp[256], act[256];
    while (sent < end) {
        size_t got = 0;
        int err = peer_send(c, buf + sent % blen, (size_t)(end - sent), sock_now_ms() + 10,
                            r->all, r->s->nnames, &got);
        sent += got;
        if (rx_stream_take(c, &s, exp, act) < 0)
            return rx_fail_check(r, i, CHK_FLOOD_ECHOES, "mismatch", exp, act);
        if ((err < 0 && err != -ETIMEDOUT) || (sent < end && sock_now_ms() > deadline)) {
            snprintf(act, sizeof act, "send failed after %llu bytes: %s",
                     (unsigned long long)sent,
                     err < 0 && err != -ETIMEDOUT ? sock_errno_name(-err) : "no progress");
            return rx_fail_check(r, i, CHK_FLOOD_ECHOES, "send",
                                 "the server reads again once the peer reads", act);
        }
    }
    if (rx_await_stream(r, i, c, &s, sock_now_ms() + st->ms, st->ms) != 0) {
        r->f->req = fs_check_req[CHK_FLOOD_ECHOES];
        return 1;
    }
    return 0;
}

/* flood: a peer that does not read sends the items again and again (fill()) until the server
 * stops taking bytes or more than st->limit were taken: with at-most that fails the step
 * (BACKPRESSURE-1), with up-to it is where the flood stops. Then, by st->how: read and await
 * every echo, SHUT_WR and read slowly, or SIGTERM. The sending is bounded by st->ms too. */
int rx_flood(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, sent, limit = st->limit;
    uint8_t *buf = rx_step_buffer(r->s, st, &one, &blen);
    char exp[256], act[256];
    int rc = 0, err;
    if (buf == NULL)
        return rx_fail(r, i, "memory", "the bytes are sent", "out of memory");
    if (limit == SC_KERNEL) {
        limit = sc_flood_bound(largest_item(r->s, st));
        rx_log(r, "%s: the bound is %llu bytes", rx_name(r, st), (unsigned long long)limit);
    }
    sent = fill(c, buf, blen, limit, sock_now_ms() + st->ms,
                (int64_t)(SC_QUIET_MS * rx_scale(r)), r->all, r->s->nnames, &err);
    rx_note(r, "%s: a peer that does not read got %llu bytes accepted (%s %llu)%s",
            rx_name(r, st), (unsigned long long)sent, st->judged ? "bound" : "up to",
            (unsigned long long)limit, sent > limit ? "; the server was still reading" : "");
    if (c->closed == SOCK_EOF && !rx_ended(c)) {
        snprintf(act, sizeof act, "the server closed the connection (FIN) after %llu bytes, while "
                 "the peer was sending and had not read its echoes", (unsigned long long)sent);
        rc = rx_fail_check(r, i, CHK_FLOOD_ECHOES, "closed",
                           "the server holds the connection while the peer does not read", act);
    } else if (sent > limit && st->judged) {
        snprintf(exp, sizeof exp, "the server stops reading a peer that does not read after at "
                 "most %llu bytes", (unsigned long long)limit);
        snprintf(act, sizeof act, "it took %llu bytes and was still reading (it buffers without "
                 "bound)", (unsigned long long)sent);
        rc = rx_fail_check(r, i, CHK_FLOOD_BOUND, "unbounded", exp, act);
    } else if (err < 0 && err != -ETIMEDOUT) {
        snprintf(act, sizeof act, "send failed after %llu bytes: %s", (unsigned long long)sent,
                 sock_errno_name(-err));
        rc = rx_fail_check(r, i, CHK_FLOOD_ECHOES, "send",
                           "the server holds the connection while the peer does not read", act);
    } else if (st->how == 1) {
        rc = flood_then_shutdown(r, i, c, buf, blen, one, sent);
    } else if (st->how == 2) {
        /* then term: SIGTERM to a server that stopped reading (unread input waits in its
         * receive queue, echoes in its own queue) */
        rx_stream s = {buf, blen, sent, 0};
        rc = rx_term(r, i);
        if (rc == 0)
            rc = rx_prefix_then_eof(r, i, c, &s, one, sock_now_ms() + st->ms, st->ms,
                                    fs_check_req[CHK_TERM_PREFIX]);
    } else {
        rc = flood_then_read(r, i, c, buf, blen, one, sent);
    }
    free(buf);
    return rc;
}

/* stream ... then term: a peer sends the items again and again while it reads their echoes;
 * after after_ms the server gets SIGTERM; the peer goes on for after_ms more (a busy client
 * does not know yet), finishes the item it is in, stops and reads to the close: what arrives
 * is an exact prefix of the echoes that ends where an item ends, then FIN (LIFECYCLE-2). */
int rx_stream_term(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    uint64_t one, blen, sent = 0;
    uint8_t *buf = rx_step_buffer(r->s, st, &one, &blen);
    int64_t t0 = sock_now_ms(), deadline = t0 + st->ms, stop_at = 0;
    rx_stream s;
    char exp[256], act[256];
    int rc;
    if (buf == NULL)
        return rx_fail(r, i, "memory", "the bytes are sent", "out of memory");
    s = (rx_stream){buf, blen, 0, 0};
    c->noread = false;
    while (sock_now_ms() < deadline && !rx_ended(c)) {
        int64_t now = sock_now_ms();
        uint64_t room = blen - sent % blen;
        size_t got = 0;
        int err;
        if (stop_at == 0 && now >= t0 + st->after_ms) {
            if (rx_term(r, i) != 0) {
                free(buf);
                return 1;
            }
            stop_at = sock_now_ms() + st->after_ms;
            rx_log(r, "%s: SIGTERM after %llu bytes sent", rx_name(r, st),
                   (unsigned long long)sent);
        }
        if (stop_at != 0 && now >= stop_at) {
            uint64_t end;
            rx_item_boundary(r->s, st, one, sent, &end);
            if (end == sent || now >= stop_at + (int64_t)(1000 * rx_scale(r)))
                break; /* at an item's end (or it cannot finish one): stop sending */
            if (room > end - sent)
                room = end - sent; /* past the stop: only finish the current item */
        }
        err = peer_send(c, buf + sent % blen, (size_t)room, now + 10, r->all, r->s->nnames, &got);
        sent += got;
        s.total = sent;
        if (rx_stream_take(c, &s, exp, act) < 0) {
            free(buf);
            return rx_fail_check(r, i, CHK_TERM_PREFIX, "mismatch", exp, act);
        }
        if (err < 0 && err != -ETIMEDOUT)
            break; /* the server is gone: what it sent is still to be read */
    }
    rx_log(r, "%s: stopped sending after %llu bytes", rx_name(r, st), (unsigned long long)sent);
    if (stop_at == 0 && rx_term(r, i) != 0) {
        free(buf); /* it closed before the SIGTERM was due: the prefix below judges it */
        return 1;
    }
    s.total = sent;
    rc = rx_prefix_then_eof(r, i, c, &s, one, deadline, st->ms, fs_check_req[CHK_TERM_PREFIX]);
    free(buf);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ping: reps round trips of one copy of the items; the echo of each is awaited before the next
 * is sent. An echo that differs or does not come within 1 s x scale is CHK_PING_ECHO's failure;
 * a p90 round trip over st->ms is the step's own (LATENCY-1, -2). */
int rx_ping(run *r, size_t i, peer *c)
{
    const sc_step *st = &r->s->steps[i];
    sc_step one_copy = *st;
    uint64_t one, blen;
    uint8_t *buf;
    int64_t *us = malloc(st->reps * sizeof *us);
    char exp[256], act[256];
    int rc = 0;
    one_copy.reps = 1;
    buf = rx_step_buffer(r->s, &one_copy, &one, &blen);
    if (buf == NULL || us == NULL) {
        free(buf);
        free(us);
        return rx_fail(r, i, "memory", "round trips", "out of memory");
    }
    c->noread = false;
    for (uint64_t k = 0; k < st->reps && rc == 0; k++) {
        int64_t t = sock_now_ns();
        long within = (long)((1000 + (double)one / 20000.0) * rx_scale(r));
        rx_stream s = {buf, blen, one, 0};
        size_t sent = 0;
        int err = peer_send(c, buf, (size_t)one, sock_now_ms() + (int64_t)(10000 * rx_scale(r)),
                            r->all, r->s->nnames, &sent);
        if (err < 0) {
            snprintf(act, sizeof act, "send failed in round trip %llu: %s",
                     (unsigned long long)k + 1, sock_errno_name(-err));
            rc = rx_fail_check(r, i, CHK_PING_ECHO, "send", "the bytes are sent", act);
            break;
        }
        rc = rx_await_stream(r, i, c, &s, sock_now_ms() + within, within);
        if (rc != 0)
            r->f->req = fs_check_req[CHK_PING_ECHO]; /* the echo itself, not its timing */
        us[k] = (sock_now_ns() - t) / 1000;
    }
    if (rc == 0) {
        size_t n = (size_t)st->reps;
        qsort(us, n, sizeof *us, cmp_i64);
        rx_note(r, "%s: %zu round trips: p50 %.3f ms, p90 %.3f ms, max %.3f ms", rx_name(r, st),
                n, (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000,
                (double)us[n - 1] / 1000);
        if (us[n * 9 / 10] > (int64_t)st->ms * 1000) {
            snprintf(exp, sizeof exp, "p90 round trip under %ld ms over %zu round trips", st->ms,
                     n);
            snprintf(act, sizeof act, "p50 %.3f ms, p90 %.3f ms: a Nagle/delayed-ACK stall (one "
                     "small write per frame with Nagle on waits ~40 ms for the peer's delayed "
                     "ACK); fix: TCP_NODELAY, or write a burst's echoes in one call",
                     (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000);
            rc = rx_fail(r, i, "slow", exp, act);
        }
    }
    free(buf);
    free(us);
    return rc;
}
