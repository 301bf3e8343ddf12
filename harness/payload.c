/*
 * payload.c — the bytes cases send: the case's seeded random generator, payloads and frames in the
 * run's framing. See fs.h.
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

/* ---- payloads and frames ---- */

uint64_t fs_rand(fs_ctx *c)
{
    uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fs_payload(const fs_ctx *c, uint8_t *out, size_t len, unsigned seed)
{
    if (wire_is_line(c->cfg->framing)) {
        for (size_t i = 0; i < len; i++)
            out[i] = (uint8_t)('!' + (i + seed) % 94); /* printable, never '\n' */
        return;
    }
    /* byte i = i % 256: the `size:N` payload of scenario scripts, so that reproducers stay short
     * (frames differ by their sizes) */
    (void)seed;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)i;
}

size_t fs_frame(const fs_ctx *c, const uint8_t *payload, size_t len, uint8_t *out)
{
    return wire_encode(c->cfg->framing, payload, len, out);
}

size_t fs_max_payload(const fs_ctx *c, size_t limit)
{
    return c->cfg->max_payload < limit ? (size_t)c->cfg->max_payload : limit;
}

uint8_t *fs_frames(fs_ctx *c, size_t count, const size_t *sizes, size_t nsizes, size_t *len)
{
    size_t total = 0, off = 0, maxp = 0;
    uint8_t *buf, *p;
    for (size_t i = 0; i < count; i++) {
        size_t s = fs_max_payload(c, sizes[i % nsizes]);
        total += wire_frame_size(c->cfg->framing, s);
        if (s > maxp)
            maxp = s;
    }
    buf = malloc(total ? total : 1);
    p = malloc(maxp ? maxp : 1);
    if (buf == NULL || p == NULL) {
        free(buf);
        free(p);
        fs_fail(c, "out of memory building %zu frames", count);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        size_t s = fs_max_payload(c, sizes[i % nsizes]);
        fs_payload(c, p, s, (unsigned)i);
        off += fs_frame(c, p, s, buf + off);
    }
    free(p);
    *len = total;
    return buf;
}
