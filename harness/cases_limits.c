/*
 * cases_limits.c — group `limits`: the maximum frame (docs/spec.md LIMITS-*).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cases.h"
#include "scenario.h"

/* The biggest exact-max frame this suite sends (bigger --max-frame values skip limits.exact_max). */
#define EXACT_MAX_LIMIT (256u * 1024u * 1024u)

/*
 * Build the start of an oversized frame announcing `announced` bytes into out (for line framing:
 * max + 1 bytes without '\n'). Returns its length, or 0 when the framing cannot express it.
 */
static size_t oversized_start(fs_ctx *c, uint64_t announced, uint8_t *out, size_t cap)
{
    if (wire_is_line(c->cfg->framing)) {
        size_t n = (size_t)c->cfg->max_frame + 1;
        if (n > cap)
            return 0;
        memset(out, 'z', n);
        return n;
    }
    if (announced > wire_max_expressible(c->cfg->framing))
        return 0;
    return wire_encode_header(c->cfg->framing, announced, out);
}

/*
 * After an oversized header: keep sending payload bytes (a server waiting for the payload never
 * closes) and read, until the server closes or `limit_ms` (scaled) passes. Whatever arrived must
 * equal want[0..want_len). Returns the close kind, or -1 after failing the case.
 */
static int expect_prompt_close(fs_ctx *c, int fd, const uint8_t *want, size_t want_len,
                               double limit_ms, const char *what)
{
    int64_t t0 = sock_now_ms(), deadline = fs_deadline(c, limit_ms);
    uint8_t filler[512], buf[65536];
    size_t got = 0, sent = 0;
    int kind = SOCK_TIMEOUT;
    memset(filler, 'z', sizeof filler);
    /* the scenario: some payload bytes (a server waiting for them never closes), the echoes of
     * the earlier frames, then a close */
    fs_repro_bytes(c, fd, "send", filler, sizeof filler, -1);
    fs_repro_bytes(c, fd, "expect", want, want_len, (long)fs_ms(c, limit_ms));
    fs_repro_op(c, fd, SC_EXPECT_CLOSED, (long)fs_ms(c, limit_ms));
    while (sock_now_ms() < deadline) {
        ssize_t n = send(fd, filler, sizeof filler, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            kind = fs_observe(c, fd, n, errno);
        for (;;) {
            n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (got + (size_t)n > want_len || memcmp(buf, want + got, (size_t)n) != 0) {
                    fs_expected(c, "%s: %zu echoed bytes, then a close", what, want_len);
                    fs_actual(c, "%zu bytes that are not the earlier echoes", got + (size_t)n);
                    fs_fail(c, "%s: the server sent bytes that are not echoes of complete frames",
                            what);
                    return -1;
                }
                got += (size_t)n;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                kind = fs_observe(c, fd, n, n < 0 ? errno : 0);
            break;
        }
        if (kind != SOCK_TIMEOUT)
            break;
        sock_wait_readable(fd, sock_now_ms() + 10);
    }
    fs_log(c, "fd %d: %s after %lld ms; %zu filler bytes sent, %zu bytes echoed", fd,
           sock_close_name(kind), (long long)(sock_now_ms() - t0), sent, got);
    fs_close_kind(c, kind);
    if (kind == SOCK_TIMEOUT) {
        fs_expected(c, "%s: the server closes within %lld ms (FIN or RST)", what,
                    (long long)fs_ms(c, limit_ms));
        fs_actual(c, "still open after %lld ms while %zu more payload bytes were sent",
                  (long long)fs_ms(c, limit_ms), sent);
        fs_fail(c, "%s: the server did not close; it is waiting for the payload", what);
        return -1;
    }
    if (got < want_len) {
        fs_expected(c, "%s: the %zu echoed bytes of earlier frames, then a close", what, want_len);
        fs_actual(c, "%zu bytes, then %s", got, sock_close_name(kind));
        if (kind == SOCK_RESET && sent > 0)
            fs_fail(c, "%s: echoes of earlier frames were lost (%zu of %zu bytes): the server "
                    "closed with unread input (payload bytes we kept sending), so its RST "
                    "discarded the echoes it had not sent yet (RFC 1122 4.2.2.13); with Nagle "
                    "holding small echoes back this happens in some runs only. Fix: "
                    "shutdown(SHUT_WR), read to the peer's FIN, then close; and TCP_NODELAY",
                    what, got, want_len);
        else
            fs_fail(c, "%s: echoes of earlier frames were lost (%zu of %zu bytes)", what, got,
                    want_len);
        return -1;
    }
    return kind;
}

/*
 * limits.exact_max — a frame of exactly the maximum is echoed, and a small frame after it too (an
 * off-by-one `len >= max` check fails here). The maximum counts the payload, or under
 * limit=frame the whole frame: the payload is then --max-frame minus the header (Netty's
 * maxFrameLength), and a server that counts the payload only passes too (this case cannot see
 * it; limits.over_max does).
 */
void case_limits_exact_max(fs_ctx *c)
{
    size_t max = (size_t)c->cfg->max_payload, len;
    uint8_t *payload, *wire;
    int fd;
    if (max > EXACT_MAX_LIMIT) {
        fs_skip(c, "--max-frame %zu is over the %u bytes this case sends", max, EXACT_MAX_LIMIT);
        return;
    }
    payload = malloc(max + 1);
    wire = malloc(max + 64 + 2 * WIRE_MAX_HEADER);
    if (payload == NULL || wire == NULL) {
        fs_fail(c, "out of memory for a %zu-byte frame", max);
        goto out;
    }
    fs_payload(c, payload, max, 5);
    len = fs_frame(c, payload, max, wire);
    len += fs_frame(c, payload, 3, wire + len);
    fd = fs_connect(c);
    if (fd >= 0) {
        fs_transfer(c, fd, wire, len, wire, len, false, 30000, "frame of exactly max bytes");
        fs_close(c, fd);
    }
out:
    free(payload);
    free(wire);
}

/* On a fresh connection send `prefix` (complete frames) then bad[0..n) (a header the server must
 * refuse), and expect the echoes of prefix, then a prompt close (1 s, scaled). `note` goes to the
 * wire log. */
static void refused(fs_ctx *c, const uint8_t *prefix, size_t prefix_len, const uint8_t *bad,
                    size_t n, const char *note, const char *what)
{
    uint8_t *msg = malloc(prefix_len + n);
    int fd = msg ? fs_connect(c) : -1;
    if (msg == NULL)
        fs_fail(c, "out of memory");
    if (fd >= 0) {
        if (prefix_len)
            memcpy(msg, prefix, prefix_len);
        memcpy(msg + prefix_len, bad, n);
        fs_log(c, "fd %d: %s", fd, note);
        if (fs_send(c, fd, msg, prefix_len + n) == 0)
            expect_prompt_close(c, fd, prefix, prefix_len, 1000, what);
        fs_close(c, fd);
    }
    free(msg);
}

/* Send `prefix` (complete frames) then an oversized header announcing `announced` on a fresh
 * connection and expect the echoes of prefix, then a prompt close. The cases that call it have
 * FS_NEEDS_OVER_MAX: the runner skips them when the header cannot announce more than max. */
static void oversized(fs_ctx *c, uint64_t announced, const uint8_t *prefix, size_t prefix_len,
                      const char *what)
{
    size_t cap = (size_t)c->cfg->max_frame + 16 + WIRE_MAX_HEADER;
    uint8_t *start = malloc(cap);
    size_t n;
    if (start == NULL) {
        fs_fail(c, "out of memory");
        return;
    }
    n = (wire_is_line(c->cfg->framing) || announced > c->cfg->max_payload)
            ? oversized_start(c, announced, start, cap)
            : 0;
    if (n == 0) {
        /* FS_NEEDS_OVER_MAX keeps such runs out (run.c); reaching here is the catalogue's bug */
        fs_fail(c, "framing %s cannot announce %llu bytes (more than --max-frame %llu): the case "
                   "lacks FS_NEEDS_OVER_MAX (a framespec bug: please report it)",
                wire_framing_name(&c->cfg->framing), (unsigned long long)announced,
                (unsigned long long)c->cfg->max_frame);
        free(start);
        return;
    }
    {
        char note[160];
        snprintf(note, sizeof note, "header announcing %llu payload bytes (max %llu%s)",
                 (unsigned long long)announced, (unsigned long long)c->cfg->max_frame,
                 c->cfg->framing.limit_frame ? ", whole frame" : "");
        refused(c, prefix, prefix_len, start, n, note, what);
    }
    free(start);
}

/*
 * limits.over_max — a header announcing --max-frame + 1 makes the server close promptly (1 s,
 * FIN or RST) while we keep sending payload bytes: a server that waits for the payload fails.
 * With line framing: a line of max + 1 bytes without '\n'.
 */
void case_limits_over_max(fs_ctx *c)
{
    oversized(c, c->cfg->max_payload + 1, NULL, 0, "header announcing max + 1");
    if (!fs_done(c))
        fs_alive(c, "after an oversized header");
}

/*
 * limits.over_max_huge — a header announcing the largest length the framing expresses
 * (0xFFFFFFFF for {packet,4}) closes promptly too, and the server does not reserve that memory
 * (with --exec: resident memory grows by less than 64 MiB). Length fields only: line framing has no
 * header to announce a length.
 */
void case_limits_over_max_huge(fs_ctx *c)
{
    long rss0 = fs_server_rss_kb(c), rss1;
    oversized(c, wire_max_expressible(c->cfg->framing), NULL, 0, "header announcing 2^N - 1");
    rss1 = fs_server_rss_kb(c);
    if (!fs_done(c) && rss0 > 0 && rss1 > 0 && rss1 - rss0 > 64 * 1024) {
        fs_expected(c, "resident memory grows < 64 MiB after a hostile header");
        fs_actual(c, "grew by %ld KiB (%ld -> %ld KiB)", rss1 - rss0, rss0, rss1);
        fs_fail(c, "the server allocated for the announced length");
    }
    if (!fs_done(c))
        fs_alive(c, "after a header announcing 2^N - 1");
}

/*
 * limits.echoes_first — ten complete frames, then an oversized header in the same write: the ten
 * echoes arrive before the close.
 */
void case_limits_echoes_first(fs_ctx *c)
{
    size_t sizes[] = {10, 0, 200}, len;
    uint8_t *w = fs_frames(c, 10, sizes, 3, &len);
    if (w == NULL)
        return;
    oversized(c, c->cfg->max_payload + 1, w, len, "ten frames, then an oversized header");
    free(w);
}

/*
 * limits.others_served — while one connection is closed for an oversized header, another one,
 * opened before, keeps being served, and new connections are accepted.
 */
void case_limits_others_served(fs_ctx *c)
{
    uint8_t payload[32], wire[32 + WIRE_MAX_HEADER];
    size_t n;
    int other = fs_connect(c);
    if (other < 0)
        return;
    fs_payload(c, payload, sizeof payload, 3);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (fs_send(c, other, wire, n) == 0 && fs_expect(c, other, wire, n, 5000, "before") == 0) {
        oversized(c, c->cfg->max_payload + 1, NULL, 0, "oversized header on another connection");
        if (!fs_done(c) && fs_send(c, other, wire, n) == 0)
            fs_expect(c, other, wire, n, 5000, "the other connection, after the oversized one");
    }
    fs_close(c, other);
    if (!fs_done(c))
        fs_alive(c, "after an oversized header");
}

/*
 * limits.short_length — a length field that announces less than the header it is part of
 * (adjust < 0, field = -adjust - 1: 3 for a 4-byte header-inclusive length) makes the server
 * close promptly (LIMITS-6; echoes of earlier frames are LIMITS-4's, limits.echoes_first).
 * Netty throws CorruptedFrameException ("Adjusted frame length ... is less than
 * lengthFieldEndOffset"), tokio "provided length would overflow after adjustment". A server that
 * adds -adjust instead (a wrong sign) waits for a payload.
 */
void case_limits_short_length(fs_ctx *c)
{
    uint8_t bad[WIRE_MAX_HEADER];
    size_t n = wire_encode_field(c->cfg->framing, (uint64_t)-c->cfg->framing.adjust - 1, bad);
    refused(c, NULL, 0, bad, n, "a length field under the header's own size",
            "a length under the header");
    if (!fs_done(c))
        fs_alive(c, "after a length under the header");
}

/* A varint of ten bytes (after the preamble) whose first nine are 0x80 and the tenth `tenth`,
 * plus an eleventh 0x00 when the tenth has the continuation bit: refused promptly (LIMITS-7). */
static void bad_varint(fs_ctx *c, uint8_t tenth, const char *what)
{
    uint8_t bad[WIRE_MAX_HEADER + 2];
    size_t n = wire_encode_field(c->cfg->framing, 0, bad) - 1; /* the preamble */
    memset(bad + n, 0x80, 9);
    n += 9;
    bad[n++] = tenth;
    if (tenth & 0x80)
        bad[n++] = 0x00; /* an eleventh byte: a reader that accepts it has a zero-length frame */
    refused(c, NULL, 0, bad, n, what, what);
    if (!fs_done(c))
        fs_alive(c, what);
}

/*
 * limits.varint_overlong — a varint of eleven bytes (ten with the continuation bit, then 0x00:
 * the value 0, redundantly encoded): the server refuses it by the tenth byte and closes promptly
 * (LIMITS-7). Protocol Buffers' readRawVarint64 throws "malformedVarint" after ten bytes; Go's
 * binary.Uvarint returns n < 0 (overflow).
 */
void case_limits_varint_overlong(fs_ctx *c)
{
    bad_varint(c, 0x80, "an 11-byte varint");
}

/*
 * limits.varint_overflow — a varint of ten bytes whose tenth byte is 2: bits past 2^64. Refused
 * and closed promptly (LIMITS-7); a reader that drops the high bits reads the length 0.
 */
void case_limits_varint_overflow(fs_ctx *c)
{
    bad_varint(c, 0x02, "a 10-byte varint past 2^64");
}
