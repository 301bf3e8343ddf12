/*
 * repro.c — records what a case does as a scenario script in the `framespec replay` grammar
 * (docs/replay.md), so that every failing case comes with a reproducer that runs alone.
 *
 * The recorder formats the harness's *own* bytes (what it sent, what it expects back): it splits
 * them into frames of the run's framing to print compact steps. It never parses what the server
 * sent. Every step is printed by the scenario printer (sc_print_step(): the keyword table of
 * scenario_parse.c), so a reproducer is spelt exactly as `framespec replay` reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "scenario.h"

void fs_repro(fs_ctx *c, const char *fmt, ...)
{
    fs_result *r = c->res;
    char *text = NULL;
    int n;
    va_list ap;
    if (!c->recording || r->repro_truncated)
        return;
    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (r->repro_len + (uint64_t)n + 1 > FS_REPRO_MAX) {
        static const char note[] = "# ... truncated: the case did more than this script holds\n";
        fs_result_repro(c, note, sizeof note - 1);
        r->repro_truncated = 1;
    } else {
        text[n] = '\n'; /* vasprintf left room for its NUL */
        fs_result_repro(c, text, (size_t)n + 1);
        r->repro_len += (uint64_t)n + 1;
    }
    free(text);
}

const char *fs_conn_name(fs_ctx *c, int fd, char *buf, size_t n)
{
    if (fd >= 0 && (size_t)fd < c->nfds && c->fds[fd].name != 0)
        snprintf(buf, n, "c%u", c->fds[fd].name);
    else
        snprintf(buf, n, "fd%d", fd);
    return buf;
}

/* Record one step on connection fd (-1: none), printed by the scenario printer. st->items are
 * borrowed. */
static void record(fs_ctx *c, int fd, sc_step *st)
{
    scenario s;
    char name[16], *text = NULL;
    size_t len = 0;
    FILE *m;
    if (!c->recording || c->res->repro_truncated)
        return;
    sc_init(&s);
    s.framing = c->cfg->framing;
    st->conn = fd >= 0 ? sc_conn(&s, fs_conn_name(c, fd, name, sizeof name)) : -1;
    if (fd >= 0 && st->conn < 0) {
        sc_free(&s); /* out of memory: the step is not recorded */
        return;
    }
    m = open_memstream(&text, &len);
    if (m != NULL) {
        sc_print_step(m, &s, st);
        fclose(m);
        fs_repro(c, "%s", text);
    }
    free(text);
    sc_free(&s);
}

void fs_repro_op(fs_ctx *c, int fd, int kind, long arg)
{
    sc_step st = {.kind = (sc_kind)kind, .reps = 1, .ms = arg, .how = (int)arg};
    record(c, fd, &st);
}

void fs_repro_connect(fs_ctx *c, int fd)
{
    fs_fdinfo *info = fs_fd(c, fd);
    if (info == NULL)
        return;
    info->name = ++c->nconn;
    info->first_close = SOCK_OPEN; /* a new connection: nothing observed on it yet */
    fs_repro_op(c, fd, SC_CONNECT, 0);
}

/* Is p[0..len) the size:N pattern (byte i = i % 256)? */
static bool is_size_pattern(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)i)
            return false;
    return true;
}

/* A payload for p[0..len): size:N when it is that pattern, else the bytes (borrowed). */
static sc_payload payload_of(const uint8_t *p, size_t len)
{
    sc_payload pl = {.kind = SC_P_BYTES, .len = len, .bytes = (uint8_t *)p};
    if (len > 0 && is_size_pattern(p, len))
        pl = (sc_payload){.kind = SC_P_SIZE, .len = len};
    return pl;
}

/* Record a send, an expect or round trips (verb "send"/"expect"/"ping") of one item, reps
 * times. */
static void record_item(fs_ctx *c, int fd, const char *verb, bool framed, sc_payload pl,
                        size_t reps, long within_ms)
{
    sc_item it = {.framed = framed, .p = pl};
    sc_step st = {.kind = !strcmp(verb, "send") ? SC_SEND : !strcmp(verb, "ping") ? SC_PING
                                                                                 : SC_EXPECT_BYTES,
                  .items = &it,
                  .nitems = 1, .reps = reps ? reps : 1, .ms = within_ms};
    record(c, fd, &st);
}

void fs_repro_raw_size(fs_ctx *c, int fd, const char *verb, size_t n, long within_ms)
{
    record_item(c, fd, verb, false, (sc_payload){.kind = SC_P_SIZE, .len = n}, 1, within_ms);
}

/* Size of the header at p[0..len) when it is one the harness writes (wire_encode_header's bytes,
 * preamble included) for a payload of *n bytes; 0 when incomplete or not one of ours (a hostile
 * header is recorded as bytes). */
static size_t header_at(wire_framing f, const uint8_t *p, size_t len, uint64_t *n)
{
    uint8_t mine[WIRE_MAX_HEADER];
    uint64_t field = 0;
    size_t fl = 0;
    if (!wire_has_header(f) || len <= f.offset)
        return 0;
    if (f.kind == WIRE_LEN) {
        if (len < f.offset + f.width)
            return 0;
        for (unsigned i = 0; i < f.width; i++)
            field = field << 8 | p[f.offset + (f.little ? f.width - 1 - i : i)];
        fl = f.width;
    } else {
        for (size_t i = 0; i < 10 && f.offset + i < len && fl == 0; i++) {
            field |= (uint64_t)(p[f.offset + i] & 0x7f) << (7 * i);
            if (!(p[f.offset + i] & 0x80))
                fl = i + 1;
        }
        if (fl == 0)
            return 0;
    }
    if (field < (uint64_t)-f.adjust)
        return 0;
    *n = field - (uint64_t)-f.adjust;
    if (wire_encode_header(f, *n, mine) != f.offset + fl || memcmp(mine, p, f.offset + fl) != 0)
        return 0;
    return f.offset + fl;
}

/* Length of the complete frame at p[0..len) in the run's framing, or 0 when incomplete. Sets the
 * payload's offset and length. */
static size_t frame_at(const fs_ctx *c, const uint8_t *p, size_t len, size_t *poff, size_t *plen)
{
    wire_framing f = c->cfg->framing;
    uint64_t n = 0;
    size_t hl;
    if (wire_is_raw(f))
        return 0;
    if (wire_is_line(f)) {
        const uint8_t *nl = memchr(p, '\n', len);
        if (nl == NULL)
            return 0;
        *poff = 0;
        *plen = (size_t)(nl - p);
        return *plen + 1;
    }
    hl = header_at(f, p, len, &n);
    if (hl == 0 || n > len - hl)
        return 0;
    *poff = hl;
    *plen = (size_t)n;
    return hl + (size_t)n;
}

void fs_repro_bytes(fs_ctx *c, int fd, const char *verb, const uint8_t *buf, size_t len,
                    long within_ms)
{
    size_t off = 0;
    if (!c->recording || c->res->repro_truncated)
        return;
    while (off < len) {
        size_t poff = 0, plen = 0, flen = frame_at(c, buf + off, len - off, &poff, &plen), reps = 1;
        if (flen == 0 || (plen > 65536 && !is_size_pattern(buf + off + poff, plen))) {
            /* raw bytes: a partial frame, raw framing, or a payload too big to print */
            uint64_t announced;
            size_t n = len - off, hl = header_at(c->cfg->framing, buf + off, len - off, &announced);
            if (flen != 0)
                n = flen;
            if (flen == 0 && hl > 0 && n > hl && is_size_pattern(buf + off + hl, n - hl)) {
                /* a partial frame of the harness's own: its header, then a size: prefix */
                record_item(c, fd, verb, false, payload_of(buf + off, hl), 1, within_ms);
                off += hl;
                n -= hl;
            }
            if (is_size_pattern(buf + off, n)) {
                record_item(c, fd, verb, false, payload_of(buf + off, n), 1, within_ms);
                off += n;
                continue;
            }
            while (n > 0) {
                size_t k = n > 32768 ? 32768 : n;
                record_item(c, fd, verb, false, payload_of(buf + off, k), 1, within_ms);
                off += k;
                n -= k;
            }
            continue;
        }
        /* identical frames that follow: xN */
        while (off + flen * (reps + 1) <= len &&
               memcmp(buf + off, buf + off + flen * reps, flen) == 0)
            reps++;
        record_item(c, fd, verb, true, payload_of(buf + off + poff, plen), reps, within_ms);
        off += flen * reps;
    }
}

void fs_repro_frames(fs_ctx *c, int fd, const char *verb, const uint8_t *payload, size_t plen,
                     size_t reps, long within_ms)
{
    if (reps == 0)
        return;
    record_item(c, fd, verb, true, payload_of(payload, plen), reps, within_ms);
}

void fs_repro_flood(fs_ctx *c, int fd, const uint8_t *payload, size_t plen, size_t at_most,
                    long within_ms)
{
    sc_item it = {.framed = !wire_is_raw(c->cfg->framing), .p = payload_of(payload, plen)};
    sc_step st = {.kind = SC_FLOOD, .items = &it, .nitems = 1, .reps = 1, .limit = at_most,
                  .ms = within_ms};
    record(c, fd, &st);
}
