/*
 * conn.c — echod's connection state machine (sans-I/O). See conn.h for the buffer layout.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* The smallest room worth a read() when the frame's size is not known yet. */
#define CONN_MIN_ROOM 4096u
/* A buffer grown past this for a large frame is given back once it empties. */
#define CONN_SHRINK_ABOVE (1024u * 1024u)

int conn_init(conn *c, const framing_t *framing, uint64_t max, size_t hwm)
{
    memset(c, 0, sizeof *c);
    frame_decoder_init(&c->dec, framing, max);
    c->hwm = hwm ? hwm : CONN_DEFAULT_HWM;
    c->buf = malloc(CONN_INITIAL_CAP);
    if (c->buf == NULL) {
        c->state = CONN_CLOSED;
        return -1;
    }
    c->cap = CONN_INITIAL_CAP;
    c->state = CONN_OPEN;
    return 0;
}

void conn_free(conn *c)
{
    free(c->buf);
    c->buf = NULL;
    c->cap = c->wpos = c->dpos = c->len = 0;
    c->state = CONN_CLOSED;
}

static size_t pending(const conn *c)
{
    return c->dpos - c->wpos;
}

/* Move the live bytes [wpos, len) to the front of the buffer. */
static void compact(conn *c)
{
    if (c->wpos == 0)
        return;
    memmove(c->buf, c->buf + c->wpos, c->len - c->wpos);
    c->len -= c->wpos;
    c->dpos -= c->wpos;
    c->wpos = 0;
}

uint8_t *conn_read_space(conn *c, size_t *room)
{
    size_t want, partial;

    *room = 0;
    if (c->state != CONN_OPEN || pending(c) > c->hwm)
        return NULL;
    partial = c->len - c->dpos;
    /* Room for the rest of the current frame when its size is known (it is <= max: checked by
     * the decoder before need was set), else a small read's worth. */
    want = c->need > partial ? c->need - partial : 0;
    if (want < CONN_MIN_ROOM)
        want = CONN_MIN_ROOM;
    if (c->cap - c->len < want) {
        compact(c);
        if (c->cap - c->len < want) {
            /* Grow geometrically, and to twice what this frame needs so that reads stay large
             * while it arrives: at most 2 x (echo queue + one max frame + header). */
            size_t ncap = c->cap * 2;
            uint8_t *nbuf;
            if (ncap < 2 * (c->len + want))
                ncap = 2 * (c->len + want);
            nbuf = realloc(c->buf, ncap);
            if (nbuf == NULL) {
                conn_drain(c, CONN_WHY_NOMEM);
                return NULL;
            }
            c->buf = nbuf;
            c->cap = ncap;
        }
    }
    *room = c->cap - c->len;
    if (*room > CONN_READ_CHUNK)
        *room = CONN_READ_CHUNK;
    return c->buf + c->len;
}

size_t conn_on_read(conn *c, size_t n)
{
    size_t frames = 0;
    frame f;

    if (c->state != CONN_OPEN || n > c->cap - c->len)
        return 0;
    c->len += n;
    c->bytes_in += n;
    while (c->dpos < c->len) {
        int r = frame_decode(&c->dec, c->buf + c->dpos, c->len - c->dpos, &f);
        if (r == FRAME_OK) {
            c->dpos += f.consumed;
            c->need = 0;
            frames++;
            continue;
        }
        if (r == FRAME_NEED_MORE) {
            c->need = f.need;
            break;
        }
        /* FRAME_ERR_TOO_LONG or _MALFORMED: keep the echoes before it, drop the bad header and
         * what follows. */
        c->announced = f.announced;
        c->len = c->dpos;
        c->need = 0;
        c->state = CONN_DRAINING;
        c->why = r == FRAME_ERR_MALFORMED ? CONN_WHY_MALFORMED : CONN_WHY_TOO_LONG;
        break;
    }
    c->frames_in += frames;
    return frames;
}

void conn_on_eof(conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    conn_drain(c, c->len > c->dpos ? CONN_WHY_EOF_MID : CONN_WHY_EOF);
}

void conn_drain(conn *c, conn_why why)
{
    if (c->state != CONN_OPEN)
        return;
    c->len = c->dpos; /* a partial frame is never echoed */
    c->need = 0;
    c->dec.scanned = 0;
    c->state = CONN_DRAINING;
    c->why = why;
}

const uint8_t *conn_write_space(const conn *c, size_t *len)
{
    if (c->state == CONN_CLOSED || c->buf == NULL) {
        *len = 0;
        return NULL;
    }
    *len = pending(c);
    return c->buf + c->wpos;
}

void conn_on_written(conn *c, size_t n)
{
    if (c->state == CONN_CLOSED || n > pending(c))
        return;
    c->wpos += n;
    c->bytes_out += n;
    if (c->wpos == c->len) {
        c->wpos = c->dpos = c->len = 0;
        if (c->cap > CONN_SHRINK_ABOVE) {
            uint8_t *nbuf = realloc(c->buf, CONN_INITIAL_CAP);
            if (nbuf != NULL) {
                c->buf = nbuf;
                c->cap = CONN_INITIAL_CAP;
            }
        }
    }
}

bool conn_wants_read(const conn *c)
{
    return c->state == CONN_OPEN && pending(c) <= c->hwm;
}

bool conn_wants_write(const conn *c)
{
    return c->state != CONN_CLOSED && pending(c) > 0;
}

bool conn_done(const conn *c)
{
    return c->state == CONN_DRAINING && pending(c) == 0;
}

size_t conn_buffered(const conn *c)
{
    return c->len - c->wpos;
}

const char *conn_why_name(conn_why why)
{
    static const char *const names[] = {
        [CONN_WHY_NONE] = "none",         [CONN_WHY_EOF] = "eof",
        [CONN_WHY_EOF_MID] = "eof-mid-frame", [CONN_WHY_TOO_LONG] = "frame-too-long",
        [CONN_WHY_IDLE] = "idle-timeout", [CONN_WHY_SHUTDOWN] = "shutdown",
        [CONN_WHY_ERROR] = "socket-error", [CONN_WHY_NOMEM] = "out-of-memory",
        [CONN_WHY_MALFORMED] = "malformed-header",
    };
    if ((unsigned)why < sizeof names / sizeof names[0])
        return names[why];
    return "?";
}
