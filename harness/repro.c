/*
 * repro.c — records what a case does as a scenario script in the `framespec replay` grammar
 * (docs/replay.md), so that every failing case comes with a reproducer that runs alone.
 *
 * The recorder formats the harness's *own* bytes (what it sent, what it expects back): it splits
 * them into frames of the run's framing to print compact steps. It never parses what the server
 * sent.
 */
#include <stdio.h>
#include <string.h>

#include "fs.h"

void fs_repro(fs_ctx *c, const char *fmt, ...)
{
    fs_result *r = c->res;
    size_t room = sizeof r->repro - r->repro_len;
    int n;
    va_list ap;
    if (!c->recording || r->repro_truncated)
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->repro + r->repro_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 80 >= room) {
        static const char note[] = "# ... truncated: the case did more than this script holds\n";
        r->repro[r->repro_len] = '\0';
        if (room > sizeof note) {
            memcpy(r->repro + r->repro_len, note, sizeof note);
            r->repro_len += sizeof note - 1;
        }
        r->repro_truncated = 1;
        return;
    }
    r->repro_len += (size_t)n;
    r->repro[r->repro_len++] = '\n';
    r->repro[r->repro_len] = '\0';
}

const char *fs_conn_name(fs_ctx *c, int fd, char *buf, size_t n)
{
    if (fd >= 0 && (size_t)fd < sizeof c->names / sizeof c->names[0] && c->names[fd] != 0)
        snprintf(buf, n, "c%u", c->names[fd]);
    else
        snprintf(buf, n, "fd%d", fd);
    return buf;
}

void fs_repro_connect(fs_ctx *c, int fd)
{
    char name[16];
    if (fd < 0 || (size_t)fd >= sizeof c->names / sizeof c->names[0])
        return;
    c->names[fd] = ++c->nconn;
    c->first_close[fd] = SOCK_OPEN; /* a new connection: nothing observed on it yet */
    fs_repro(c, "connect %s", fs_conn_name(c, fd, name, sizeof name));
}

/* Is p[0..len) the size:N pattern (byte i = i % 256)? */
static bool is_size_pattern(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)i)
            return false;
    return true;
}

static bool is_text(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

/* Write a PAYLOAD token for p[0..len) into out (may be long: hex of the bytes). */
static void payload_token(const uint8_t *p, size_t len, char *out, size_t n)
{
    size_t o = 0;
    if (len > 0 && is_size_pattern(p, len)) {
        snprintf(out, n, "size:%zu", len);
        return;
    }
    if (len == 0) {
        snprintf(out, n, "\"\"");
        return;
    }
    if (is_text(p, len)) {
        out[o++] = '"';
        for (size_t i = 0; i < len && o + 3 < n; i++) {
            if (p[i] == '"' || p[i] == '\\')
                out[o++] = '\\';
            out[o++] = (char)p[i];
        }
        out[o++] = '"';
        out[o] = '\0';
        return;
    }
    o = (size_t)snprintf(out, n, "hex:");
    for (size_t i = 0; i < len && o + 3 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%02x", p[i]);
}

/* Length of the complete frame at p[0..len) in the run's framing, or 0 when incomplete. Sets the
 * payload's offset and length. */
static size_t frame_at(const fs_ctx *c, const uint8_t *p, size_t len, size_t *poff, size_t *plen)
{
    wire_framing f = c->cfg->framing;
    size_t hl = wire_header_size(f);
    if (f == WIRE_RAW)
        return 0;
    if (f == WIRE_LINE) {
        const uint8_t *nl = memchr(p, '\n', len);
        if (nl == NULL)
            return 0;
        *poff = 0;
        *plen = (size_t)(nl - p);
        return *plen + 1;
    }
    if (len < hl)
        return 0;
    {
        uint64_t n = 0;
        for (size_t i = 0; i < hl; i++)
            n = n << 8 | p[i];
        if (n > len - hl)
            return 0;
        *poff = hl;
        *plen = (size_t)n;
        return hl + (size_t)n;
    }
}

void fs_repro_bytes(fs_ctx *c, int fd, const char *verb, const uint8_t *buf, size_t len,
                    long within_ms)
{
    static char tok[2 * 70000 + 16];
    char name[16], within[48] = "";
    size_t off = 0;
    if (!c->recording || c->res->repro_truncated)
        return;
    fs_conn_name(c, fd, name, sizeof name);
    if (within_ms >= 0)
        snprintf(within, sizeof within, " within %ld", within_ms);
    while (off < len) {
        size_t poff = 0, plen = 0, flen = frame_at(c, buf + off, len - off, &poff, &plen), reps = 1;
        if (flen == 0 || (plen > 65536 && !is_size_pattern(buf + off + poff, plen))) {
            /* raw bytes: a partial frame, raw framing, or a payload too big to print */
            size_t n = len - off, hl = wire_header_size(c->cfg->framing);
            if (flen != 0)
                n = flen;
            if (flen == 0 && hl > 0 && n > hl && is_size_pattern(buf + off + hl, n - hl)) {
                /* a partial frame of the harness's own: its header, then a size: prefix */
                payload_token(buf + off, hl, tok, sizeof tok);
                fs_repro(c, "%s %s raw %s%s", name, verb, tok, within);
                off += hl;
                n -= hl;
            }
            if (is_size_pattern(buf + off, n)) {
                fs_repro(c, "%s %s raw size:%zu%s", name, verb, n, within);
                off += n;
                continue;
            }
            while (n > 0) {
                size_t k = n > 32768 ? 32768 : n;
                payload_token(buf + off, k, tok, sizeof tok);
                fs_repro(c, "%s %s raw %s%s", name, verb, tok, within);
                off += k;
                n -= k;
            }
            continue;
        }
        /* identical frames that follow: xN */
        while (off + flen * (reps + 1) <= len &&
               memcmp(buf + off, buf + off + flen * reps, flen) == 0)
            reps++;
        payload_token(buf + off + poff, plen, tok, sizeof tok);
        if (reps > 1)
            fs_repro(c, "%s %s frame %s x%zu%s", name, verb, tok, reps, within);
        else
            fs_repro(c, "%s %s frame %s%s", name, verb, tok, within);
        off += flen * reps;
    }
}

void fs_repro_frames(fs_ctx *c, int fd, const char *verb, const uint8_t *payload, size_t plen,
                     size_t reps, long within_ms)
{
    static char tok[2 * 70000 + 16];
    char name[16], within[48] = "", times[32] = "";
    if (!c->recording || c->res->repro_truncated || reps == 0)
        return;
    payload_token(payload, plen, tok, sizeof tok);
    if (within_ms >= 0)
        snprintf(within, sizeof within, " within %ld", within_ms);
    if (reps > 1)
        snprintf(times, sizeof times, " x%zu", reps);
    fs_repro(c, "%s %s frame %s%s%s", fs_conn_name(c, fd, name, sizeof name), verb, tok, times,
             within);
}
