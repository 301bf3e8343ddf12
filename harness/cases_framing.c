/*
 * cases_framing.c — groups `framing` and `segmentation`: echo semantics, and independence from
 * how TCP slices the byte stream (docs/spec.md FRAMING-*, SEGMENTATION-*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cases.h"
#include "scenario.h"

/* Send `wire` on a fresh connection and expect it back byte-identical. */
static void echo_once(fs_ctx *c, const uint8_t *wire, size_t len, const char *what)
{
    int fd = fs_connect(c);
    if (fd < 0)
        return;
    if (fs_send(c, fd, wire, len) == 0)
        fs_expect(c, fd, wire, len, 5000, what);
    fs_close(c, fd);
}

/*
 * framing.single — one frame of 100 bytes comes back byte-identical.
 * The most basic contract; everything else builds on it.
 */
void case_framing_single(fs_ctx *c)
{
    size_t sizes[] = {100}, len;
    uint8_t *w = fs_frames(c, 1, sizes, 1, &len);
    if (w == NULL)
        return;
    echo_once(c, w, len, "one frame");
    free(w);
}

/*
 * framing.sequence — 100 frames of varied sizes sent back to back come back exactly once, in
 * order, and nothing else follows (a server that duplicates or drops a frame fails here).
 */
void case_framing_sequence(fs_ctx *c)
{
    size_t sizes[] = {1, 17, 255, 3, 1000, 64, 0, 4096, 2}, len;
    uint8_t *w = fs_frames(c, 100, sizes, 9, &len), *extra = NULL;
    size_t extra_len = 0;
    int fd, kind;
    if (w == NULL)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        if (fs_send(c, fd, w, len) == 0 && fs_expect(c, fd, w, len, 5000, "100 frames") == 0) {
            fs_repro_op(c, fd, SC_EXPECT_OPEN, 200);
            kind = fs_read_to_close(c, fd, 200, 65536, &extra, &extra_len);
            if (extra_len > 0) {
                fs_expected(c, "nothing after the 100 echoes");
                fs_actual(c, "%zu more bytes", extra_len);
                fs_fail(c, "the server sent %zu bytes more than the echoes", extra_len);
            } else if (kind != SOCK_TIMEOUT) {
                fs_close_kind(c, kind);
                fs_fail(c, "the server closed (%s) a connection that did nothing wrong",
                        sock_close_name(kind));
            }
            free(extra);
        }
        fs_close(c, fd);
    }
    free(w);
}

/*
 * framing.zero_length — a zero-length frame (a header of 0) is echoed as a zero-length frame, and
 * the connection stays usable: a frame sent after it is echoed too.
 */
void case_framing_zero_length(fs_ctx *c)
{
    size_t sizes[] = {0, 5, 0, 0, 3}, len;
    uint8_t *w = fs_frames(c, 5, sizes, 5, &len);
    if (w == NULL)
        return;
    echo_once(c, w, len, "zero-length frames between others");
    free(w);
}

/*
 * framing.all_bytes — payloads carrying each of the 256 byte values round-trip (the payload is
 * opaque: no text handling, no sign extension, no NUL termination). Not line framing (FS_NOT_LINE).
 */
void case_framing_all_bytes(fs_ctx *c)
{
    uint8_t payload[256], wire[2 * (256 + 8)];
    size_t per = fs_max_payload(c, 256), off = 0;
    for (int i = 0; i < 256; i++)
        payload[i] = (uint8_t)(255 - i);
    /* {packet,1} carries at most 255 bytes: two frames cover all 256 values */
    for (size_t start = 0; start < 256; start += per)
        off += fs_frame(c, payload + start, 256 - start < per ? 256 - start : per, wire + off);
    echo_once(c, wire, off, "all 256 byte values");
}

/*
 * framing.line_terminator — with line framing (FS_LINE_ONLY) the '\n' ends the frame and is echoed
 * with it; an empty line is a zero-length frame; '\r' is payload like any other byte.
 */
void case_framing_line_terminator(fs_ctx *c)
{
    static const char lines[] = "hello\n\nwith\rcarriage return\n";
    echo_once(c, (const uint8_t *)lines, sizeof lines - 1, "three lines");
}

/*
 * segmentation.header_split — the header split at every offset, the two pieces sent with a pause
 * between them (TCP_NODELAY on our side, so they leave as separate segments): a server that
 * assumes one read returns a whole header fails.
 */
void case_segmentation_header_split(fs_ctx *c)
{
    uint8_t payload[40], wire[40 + WIRE_MAX_HEADER];
    size_t len, hl = wire_header_size(c->cfg->framing, sizeof payload);
    int fd;
    fs_payload(c, payload, sizeof payload, 1);
    len = fs_frame(c, payload, sizeof payload, wire);
    fd = fs_connect(c);
    if (fd < 0)
        return;
    for (size_t cut = 1; cut <= hl && !fs_done(c); cut++) {
        char what[64];
        snprintf(what, sizeof what, "frame split at byte %zu", cut);
        if (fs_send(c, fd, wire, cut) < 0)
            break;
        fs_sleep(c, 20);
        if (fs_send(c, fd, wire + cut, len - cut) < 0)
            break;
        fs_expect(c, fd, wire, len, 5000, what);
    }
    fs_close(c, fd);
}

/*
 * segmentation.payload_split — a 3000-byte payload sent in three pieces with pauses; a server that
 * echoes what one read returned, or waits for one read to hold the whole payload, fails.
 */
void case_segmentation_payload_split(fs_ctx *c)
{
    size_t sizes[] = {3000}, len;
    uint8_t *w = fs_frames(c, 1, sizes, 1, &len);
    int fd;
    if (w == NULL)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        size_t a = len / 3, b = 2 * len / 3;
        if (fs_send(c, fd, w, a) == 0) {
            fs_sleep(c, 20);
            if (fs_send(c, fd, w + a, b - a) == 0) {
                fs_sleep(c, 20);
                if (fs_send(c, fd, w + b, len - b) == 0)
                    fs_expect(c, fd, w, len, 5000, "payload in three pieces");
            }
        }
        fs_close(c, fd);
    }
    free(w);
}

/*
 * segmentation.byte_by_byte — two frames sent one byte per write with 2 ms pauses, so TCP cannot
 * merge them: every read the server makes returns one byte.
 */
void case_segmentation_byte_by_byte(fs_ctx *c)
{
    size_t sizes[] = {12, 0}, len;
    uint8_t *w = fs_frames(c, 2, sizes, 2, &len);
    int fd;
    if (w == NULL)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        for (size_t i = 0; i < len && !fs_done(c); i++) {
            fs_send(c, fd, w + i, 1);
            fs_sleep(c, 2);
        }
        if (!fs_done(c))
            fs_expect(c, fd, w, len, 5000, "frames sent one byte per write");
        fs_close(c, fd);
    }
    free(w);
}

/*
 * segmentation.coalesced — 300 frames in one write: a server that takes one read as one frame
 * echoes the first and loses the rest.
 */
void case_segmentation_coalesced(fs_ctx *c)
{
    size_t sizes[] = {10, 0, 100, 33, 1}, len;
    uint8_t *w = fs_frames(c, 300, sizes, 5, &len);
    if (w == NULL)
        return;
    echo_once(c, w, len, "300 frames in one write");
    free(w);
}

/*
 * segmentation.random_slices — 200 frames of random sizes sent in random slices (1..3000 bytes)
 * with occasional pauses; the slicing comes from --seed, printed with every failure.
 */
void case_segmentation_random_slices(fs_ctx *c)
{
    size_t sizes[64], len, pos = 0;
    uint8_t *w;
    int fd;
    for (size_t i = 0; i < 64; i++)
        sizes[i] = (size_t)(fs_rand(c) % 3000);
    w = fs_frames(c, 200, sizes, 64, &len);
    if (w == NULL)
        return;
    fd = fs_connect(c);
    if (fd >= 0) {
        /* send and read concurrently in slices */
        uint8_t *got = malloc(len);
        size_t rcv = 0;
        if (got == NULL) {
            fs_fail(c, "out of memory");
            pos = rcv = len;
        }
        while (!fs_done(c) && (pos < len || rcv < len)) {
            if (pos < len) {
                size_t n = 1 + (size_t)(fs_rand(c) % 3000);
                if (n > len - pos)
                    n = len - pos;
                if (fs_send(c, fd, w + pos, n) < 0)
                    break;
                pos += n;
                if (fs_rand(c) % 8 == 0)
                    fs_sleep(c, 1);
            }
            for (;;) {
                ssize_t r = recv(fd, got + rcv, len - rcv, 0);
                if (r <= 0)
                    break;
                if (memcmp(got + rcv, w + rcv, (size_t)r) != 0) {
                    fs_expected(c, "echo of the sliced stream (seed %llu)",
                                (unsigned long long)c->cfg->seed);
                    fs_actual(c, "differs within bytes %zu..%zu", rcv, rcv + (size_t)r);
                    fs_fail(c, "echo differs within bytes %zu..%zu", rcv, rcv + (size_t)r);
                    break;
                }
                rcv += (size_t)r;
            }
            if (pos == len && rcv < len && !fs_done(c)) {
                fs_expect(c, fd, w + rcv, len - rcv, 5000, "randomly sliced stream");
                rcv = len;
            }
        }
        free(got);
        fs_close(c, fd);
    }
    free(w);
}
