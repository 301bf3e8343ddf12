/*
 * proxy_chain.c — one direction of one proxied connection: its bytes cut into pieces at frame
 * boundaries (when a frame toxic is on it), passed through its toxics in the order they were
 * added, and queued as operations for the relay (proxy_toxic.h).
 */
#include "proxy_toxic.h"

#include <stdlib.h>
#include <string.h>

typedef enum { PC_DATA, PC_EOF, PC_SHUT, PC_RST, PC_CLOSE, PC_VANISH } pc_kind;

/* A piece on its way through the toxics: bytes it does not own, or a close. */
typedef struct {
    pc_kind kind;
    const uint8_t *p;
    size_t n;
    int64_t at;        /* not before, us */
    bool cut;          /* starts a send() of its own */
    uint64_t frame;    /* the frame it belongs to */
    px_part part;
    size_t part_off;   /* offset of p[0] in its header or payload */
    uint64_t plen;     /* its frame's payload (known once the header is whole) */
    bool part_end, frame_end;
} piece;

static uint64_t rnd(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* latency +- jitter in us (Toxiproxy's latency.go: rand.Int63n(2*jitter) - jitter) */
static int64_t jittered(uint64_t *seed, int64_t latency_ms, int64_t jitter_ms)
{
    int64_t d = latency_ms * 1000;
    if (jitter_ms > 0)
        d += (int64_t)(rnd(seed) % (uint64_t)(2 * jitter_ms * 1000)) - jitter_ms * 1000;
    return d < 0 ? 0 : d;
}

static bool roll(uint64_t *seed, double toxicity)
{
    return (double)(rnd(seed) >> 11) / 9007199254740992.0 < toxicity;
}

/* ---- the frame tracker ---- */

/* Cut the next piece off p[0..n) (n > 0): up to the end of a header, a payload or a line; all of
 * it without frames. Fills where it lies in pc; returns its length. */
static size_t track(px_tracker *t, const uint8_t *p, size_t n, piece *pc)
{
    size_t k;
    pc->frame = t->frame;
    pc->plen = t->plen;
    pc->part_end = pc->frame_end = false;
    if (t->broken || t->f.kind == WIRE_RAW) {
        pc->part = PX_PART_RAW;
        pc->part_off = 0;
        if (!t->broken) { /* raw: each read is a frame */
            pc->part_end = pc->frame_end = true;
            pc->plen = n;
            t->frame++;
        }
        return n;
    }
    if (t->f.kind == WIRE_LINE) {
        uint64_t limit = wire_max_payload(t->f, t->max);
        const uint8_t *nl = memchr(p, '\n', n);
        pc->part = PX_PART_PAYLOAD;
        pc->part_off = (size_t)t->line;
        k = nl ? (size_t)(nl - p) + 1 : n;
        t->line += k;
        if (nl) {
            pc->part_end = pc->frame_end = true;
            pc->plen = t->line - 1;
            t->line = 0;
            t->frame++;
        } else if (t->line > limit) {
            t->broken = true;
        }
        return k;
    }
    if (!t->in_payload) {
        size_t h, room = WIRE_MAX_HEADER - t->nhdr, take = n < room ? n : room;
        uint64_t pl;
        wire_cut c;
        memcpy(t->hdr + t->nhdr, p, take);
        c = wire_next_header(t->f, t->hdr, t->nhdr + take, t->max, &h, &pl);
        pc->part = PX_PART_HEADER;
        pc->part_off = t->nhdr;
        if (c == WIRE_CUT_MORE) {
            t->nhdr += take;
            return take;
        }
        k = h - t->nhdr;
        t->nhdr = 0;
        if (c != WIRE_CUT_FRAME) {
            t->broken = true; /* the server closes here (LIMITS-2, -6, -7): no frames after it */
            return k;
        }
        pc->part_end = true;
        pc->plen = t->plen = pl;
        t->hlen = h;
        if (pl == 0) {
            pc->frame_end = true;
            t->frame++;
        } else {
            t->in_payload = true;
            t->left = pl;
        }
        return k;
    }
    k = n < t->left ? n : (size_t)t->left;
    pc->part = PX_PART_PAYLOAD;
    pc->part_off = (size_t)(t->plen - t->left);
    t->left -= k;
    if (t->left == 0) {
        pc->part_end = pc->frame_end = true;
        t->in_payload = false;
        t->frame++;
    }
    return k;
}

/* ---- the end of the chain: the queue ---- */

static int enqueue(px_dir *d, const piece *pc)
{
    px_op *op;
    size_t n = pc->kind == PC_DATA ? pc->n : 0;
    if (d->ended || (pc->kind == PC_DATA && d->shut)) {
        d->dropped += n;
        return 0;
    }
    if ((pc->kind == PC_EOF || pc->kind == PC_SHUT) && d->shut)
        return 0;
    if (pc->kind == PC_DATA && n == 0)
        return 0;
    op = malloc(sizeof *op + n);
    if (op == NULL)
        return -1;
    op->next = NULL;
    op->at_us = pc->at > d->last_us ? pc->at : d->last_us;
    d->last_us = op->at_us;
    op->cut = pc->cut;
    op->kind = PX_OP_DATA;
    op->len = n;
    op->off = 0;
    if (n)
        memcpy(op->data, pc->p, n);
    switch (pc->kind) {
    case PC_DATA:
        break;
    case PC_EOF:
    case PC_SHUT:
        op->kind = PX_OP_SHUT;
        d->shut = true;
        break;
    case PC_RST:
        op->kind = PX_OP_RST;
        break;
    case PC_CLOSE:
        op->kind = PX_OP_CLOSE;
        break;
    case PC_VANISH:
        op->kind = PX_OP_VANISH;
        break;
    }
    if (op->kind != PX_OP_DATA && op->kind != PX_OP_SHUT)
        d->ended = true;
    if (d->tail)
        d->tail->next = op;
    else
        d->head = op;
    d->tail = op;
    d->queued += n;
    return 0;
}

static int feed(px_dir *d, size_t i, piece *pc);

/* A piece of kind k (no bytes) at `at` into the toxics after stub i. */
static int emit_ctl(px_dir *d, size_t i, pc_kind k, int64_t at)
{
    piece c = {.kind = k, .at = at};
    return feed(d, i + 1, &c);
}

/* Bytes a stub holds (coalesce, dup, frame_length) out as one piece of their own. */
static int emit_held(px_dir *d, size_t i, const piece *like)
{
    px_stub *st = &d->stub[i];
    piece c = *like;
    int rc;
    st->wake_us = 0;
    if (st->nheld == 0)
        return 0;
    c.kind = PC_DATA;
    c.p = st->held;
    c.n = st->nheld;
    c.cut = true;
    c.part = PX_PART_RAW;
    rc = feed(d, i + 1, &c);
    st->nheld = 0;
    st->cut_next = true;
    return rc;
}

static int hold(px_stub *st, const uint8_t *p, size_t n)
{
    if (st->nheld + n > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        uint8_t *b;
        while (cap < st->nheld + n)
            cap *= 2;
        b = realloc(st->held, cap);
        if (b == NULL)
            return -1;
        st->held = b;
        st->cap = cap;
    }
    memcpy(st->held + st->nheld, p, n);
    st->nheld += n;
    return 0;
}

/* Is frame f one the toxic selects (its attributes first, first + 1 = count)? */
static bool selected(const px_stub *st, uint64_t frame, int first)
{
    uint64_t lo = (uint64_t)st->tx.attr[first], cnt = (uint64_t)st->tx.attr[first + 1];
    return frame >= lo && (cnt == 0 || frame - lo < cnt);
}

/* Pass the first k bytes of pc on (a piece of its own), keep the rest in pc. */
static int pass_head(px_dir *d, size_t i, piece *pc, size_t k)
{
    piece a = *pc;
    int rc;
    a.n = k;
    a.part_end = a.frame_end = false;
    rc = feed(d, i + 1, &a);
    pc->p += k;
    pc->n -= k;
    pc->part_off += k;
    return rc;
}

/* ---- the toxics ---- */

/* A removed toxic's held bytes, straight to the queue (nothing after it may act on them). */
static int hold_flush_to_queue(px_dir *d, px_stub *st, piece *like)
{
    like->kind = PC_DATA;
    like->p = st->held;
    like->n = st->nheld;
    like->cut = true;
    st->nheld = 0;
    return enqueue(d, like);
}

/* A toxic added (or a connection started): its timers. */
static void stub_arm(px_stub *st, int64_t now_us)
{
    if (st->active && st->tx.type == TX_TIMEOUT && st->tx.attr[0] > 0)
        st->wake_us = now_us + st->tx.attr[0] * 1000;
}

/* A timer of stub i went off (timeout: no data for its time; reset_peer: its wait is over). */
static int stub_wake(px_dir *d, size_t i, int64_t now_us)
{
    px_stub *st = &d->stub[i];
    if (st->tx.type == TX_FRAME_COALESCE) {
        /* fewer frames than it waits for came within `wait`: they go as they are */
        piece c = {.kind = PC_DATA, .at = now_us};
        st->held_frames = 0;
        return emit_held(d, i, &c);
    }
    if (st->fired)
        return 0;
    st->fired = true;
    return emit_ctl(d, i, st->tx.type == TX_RESET_PEER ? PC_RST : PC_CLOSE, now_us);
}

/* slicer (Toxiproxy's slicer.go chunk()): halve [a, b) around its middle (+- size_variation)
 * until a piece is within size_variation of average_size; each piece a write of its own,
 * `delay` us after the one before. */
static int slice(px_dir *d, size_t i, const piece *pc, size_t a, size_t b, int64_t *at, int depth)
{
    px_stub *st = &d->stub[i];
    int64_t avg = st->tx.attr[0] > 0 ? st->tx.attr[0] : 1, var = st->tx.attr[1];
    if ((int64_t)(b - a) - avg <= var || b - a <= 1 || depth > 60) {
        piece c = *pc;
        c.p = pc->p + a;
        c.n = b - a;
        c.part_off = pc->part_off + a;
        c.part_end = pc->part_end && b == pc->n;
        c.frame_end = pc->frame_end && b == pc->n;
        c.cut = true;
        c.at = *at;
        *at += st->tx.attr[2];
        return feed(d, i + 1, &c);
    }
    {
        size_t mid = a + (b - a) / 2;
        if (var > 0) {
            int64_t m = (int64_t)mid + (int64_t)(rnd(d->seed) % (uint64_t)(2 * var)) - var;
            mid = m <= (int64_t)a ? a + 1 : m >= (int64_t)b ? b - 1 : (size_t)m;
        }
        if (slice(d, i, pc, a, mid, at, depth + 1) < 0)
            return -1;
        return slice(d, i, pc, mid, b, at, depth + 1);
    }
}

/* Toxiproxy's types on a piece at stub i. */
static int stub_toxiproxy(px_dir *d, size_t i, piece *pc)
{
    px_stub *st = &d->stub[i];
    const int64_t *a = st->tx.attr;
    switch (st->tx.type) {
    case TX_LATENCY:
        if (pc->kind == PC_DATA)
            pc->at += jittered(d->seed, a[0], a[1]);
        break;
    case TX_BANDWIDTH:
        if (pc->kind == PC_DATA && a[0] > 0) {
            /* rate KB/s = rate bytes/ms: n bytes go after n * 1000 / rate us, in pieces of at
             * most rate * 100 bytes (100 ms each), as Toxiproxy's bandwidth.go sends them */
            size_t most = (uint64_t)a[0] * 100 < pc->n ? (size_t)a[0] * 100 : pc->n;
            if (st->clock_us < pc->at)
                st->clock_us = pc->at;
            while (pc->n > most) {
                piece c = *pc;
                st->clock_us += (int64_t)most * 1000 / a[0];
                c.at = st->clock_us;
                if (pass_head(d, i, &c, most) < 0)
                    return -1;
                *pc = c;
            }
            st->clock_us += (int64_t)pc->n * 1000 / a[0];
            pc->at = st->clock_us;
        }
        break;
    case TX_SLOW_CLOSE:
        if (pc->kind == PC_EOF)
            pc->at += a[0] * 1000;
        break;
    case TX_TIMEOUT:
        if (pc->kind == PC_DATA) {
            d->dropped += pc->n;
            if (a[0] > 0 && !st->fired)
                st->wake_us = pc->at + a[0] * 1000; /* its timer starts again at each chunk */
            return 0;
        }
        if (pc->kind == PC_EOF && !st->fired) {
            st->fired = true;
            st->wake_us = 0;
            return emit_ctl(d, i, PC_CLOSE, pc->at);
        }
        break;
    case TX_RESET_PEER:
        if (pc->kind == PC_DATA || pc->kind == PC_EOF) {
            if (pc->kind == PC_DATA)
                d->dropped += pc->n;
            if (!st->fired && st->wake_us == 0) {
                if (a[0] == 0) {
                    st->fired = true;
                    return emit_ctl(d, i, PC_RST, pc->at);
                }
                st->wake_us = pc->at + a[0] * 1000;
            }
            return 0;
        }
        break;
    case TX_SLICER:
        if (pc->kind == PC_DATA && pc->n > 0) {
            int64_t at = pc->at;
            return slice(d, i, pc, 0, pc->n, &at, 0);
        }
        break;
    case TX_LIMIT_DATA:
        if (pc->kind == PC_DATA || pc->kind == PC_EOF) {
            uint64_t left = (uint64_t)a[0] - st->bytes;
            if (st->fired) {
                d->dropped += pc->n;
                return 0;
            }
            if (pc->kind == PC_DATA && pc->n < left) {
                st->bytes += pc->n;
                break;
            }
            if (pc->kind == PC_DATA && left > 0 && pass_head(d, i, pc, (size_t)left) < 0)
                return -1;
            st->bytes = (uint64_t)a[0];
            d->dropped += pc->kind == PC_DATA ? pc->n : 0;
            st->fired = true;
            return emit_ctl(d, i, PC_CLOSE, pc->at);
        }
        break;
    default:
        break;
    }
    return feed(d, i + 1, pc);
}

/* frame_reset, frame_shutdown, frame_close, vanish: has their moment come in pc? At the
 * boundary after `after_frames` frames (pc passed on first when it ends the last of them), or
 * with frame_reset's at=header|payload inside the next frame: after its first header byte, or
 * after its header and first payload byte (a frame without payload: after its header). Passes
 * what goes before the moment; *now says it has come (pc keeps what follows it). */
static int after_frames(px_dir *d, size_t i, piece *pc, bool *now)
{
    px_stub *st = &d->stub[i];
    uint64_t k = (uint64_t)st->tx.attr[0];
    int at = st->tx.type == TX_FRAME_RESET ? (int)st->tx.attr[1] : 0;
    *now = false;
    if (pc->kind != PC_DATA)
        return 0;
    if (pc->frame > k || (pc->frame == k && (at == 0 || pc->part == PX_PART_RAW))) {
        *now = true; /* (k = 0, or frames no longer followed) */
        return 0;
    }
    if (pc->frame + 1 == k && pc->frame_end && at == 0) {
        if (feed(d, i + 1, pc) < 0)
            return -1;
        pc->n = 0;
        *now = true;
        return 0;
    }
    if (pc->frame < k)
        return 0;
    /* frame k itself, at=header or at=payload */
    if ((at == 1 && pc->part == PX_PART_HEADER) || pc->part == PX_PART_PAYLOAD) {
        if (pc->part_off == 0 && pc->n > 1 && pass_head(d, i, pc, 1) < 0)
            return -1;
        *now = pc->part_off >= 1;
        return 0;
    }
    if (pc->part == PX_PART_HEADER && pc->frame_end) { /* at=payload, no payload */
        if (feed(d, i + 1, pc) < 0)
            return -1;
        pc->n = 0;
        *now = true;
    }
    return 0;
}

/* frame_length: the selected frame's header, held until whole, with its field rewritten. */
static int rewrite_length(px_dir *d, size_t i, piece *pc)
{
    px_stub *st = &d->stub[i];
    uint8_t h[WIRE_MAX_HEADER];
    size_t n;
    if (hold(st, pc->p, pc->n) < 0)
        return -1;
    if (!pc->part_end)
        return d->tr.broken ? emit_held(d, i, pc) : 0; /* oversize, malformed: as it came */
    switch (st->tx.attr[0]) {
    case 0:
        n = wire_encode_header(d->tr.f, pc->plen + 1, h);
        break;
    case 1:
        n = wire_encode_header(d->tr.f, wire_max_payload(d->tr.f, d->tr.max) + 1, h);
        break;
    default:
        n = wire_encode_field(d->tr.f, 0xffffffffull, h);
        break;
    }
    memcpy(h, st->held, d->tr.f.offset); /* the client's own preamble, not the harness's */
    st->nheld = 0;
    if (hold(st, h, n) < 0)
        return -1;
    {
        piece c = *pc;
        c.p = st->held;
        c.n = st->nheld;
        c.part_off = 0;
        st->nheld = 0;
        return feed(d, i + 1, &c);
    }
}

/* frame_split's cut before pc: a write of its own, `pause_ms` after the piece before it. */
static void split_pause(px_stub *st, piece *pc, int64_t pause_ms)
{
    if (pc->at < st->clock_us)
        pc->at = st->clock_us;
    pc->at += pause_ms * 1000;
    pc->cut = true;
    st->clock_us = pc->at;
}

/* framespec's frame toxics on a piece at stub i. */
static int stub_frames(px_dir *d, size_t i, piece *pc)
{
    px_stub *st = &d->stub[i];
    const int64_t *a = st->tx.attr;
    bool now;
    switch (st->tx.type) {
    case TX_FRAME_SPLIT:
        if (pc->kind != PC_DATA || !selected(st, pc->frame, 4))
            break;
        /* a pause is counted from the piece before it (st->clock_us: the last one passed) */
        if (a[0] == 0 && pc->part == PX_PART_PAYLOAD && pc->part_off == 0 && d->tr.hlen > 0) {
            split_pause(st, pc, a[3]);
        } else if (a[0] == 1 && pc->part == PX_PART_HEADER && pc->part_off < (size_t)a[1] &&
                   pc->part_off + pc->n > (size_t)a[1]) {
            if (pass_head(d, i, pc, (size_t)a[1] - pc->part_off) < 0)
                return -1;
            split_pause(st, pc, a[3]);
        } else if (a[0] == 2) {
            /* every `every` bytes of the frame (header and payload) */
            while (pc->n > 0) {
                uint64_t to = (uint64_t)a[2] - st->frame_off % (uint64_t)a[2];
                size_t k = to < pc->n ? (size_t)to : pc->n;
                if (st->frame_off % (uint64_t)a[2] == 0 && st->frame_off > 0)
                    split_pause(st, pc, a[3]);
                st->frame_off += k;
                if (k == pc->n)
                    break;
                if (pass_head(d, i, pc, k) < 0)
                    return -1;
            }
            if (pc->frame_end)
                st->frame_off = 0;
        }
        if (pc->frame_end)
            st->cut_next = true; /* the next frame does not join the split one's last write */
        if (pc->part == PX_PART_HEADER && pc->part_off == 0)
            pc->cut = true;
        if (pc->at > st->clock_us)
            st->clock_us = pc->at;
        break;
    case TX_FRAME_COALESCE:
        if (pc->kind == PC_DATA && selected(st, pc->frame, 1) && pc->part != PX_PART_RAW) {
            if (hold(st, pc->p, pc->n) < 0)
                return -1;
            if (st->wake_us == 0)
                st->wake_us = pc->at + a[3] * 1000; /* what is held goes by then at the latest */
            if (pc->frame_end && ++st->held_frames == (uint64_t)a[0]) {
                st->held_frames = 0;
                return emit_held(d, i, pc);
            }
            return 0;
        }
        st->held_frames = 0;
        if (emit_held(d, i, pc) < 0)
            return -1;
        break;
    case TX_FRAME_DELAY:
        if (pc->kind == PC_DATA && selected(st, pc->frame, 2)) {
            if (pc->part_off == 0 && (pc->part == PX_PART_HEADER || d->tr.hlen == 0 ||
                                      d->tr.f.kind == WIRE_LINE))
                st->delay_us = jittered(d->seed, a[0], a[1]);
            pc->at += st->delay_us;
        }
        break;
    case TX_FRAME_STALL:
        if (pc->kind == PC_DATA && !st->fired && pc->frame_end && pc->frame + 1 == (uint64_t)a[0]) {
            st->fired = true;
            st->clock_us = pc->at + a[1] * 1000;
            if (feed(d, i + 1, pc) < 0)
                return -1;
            return 0;
        }
        if (st->fired && pc->at < st->clock_us)
            pc->at = st->clock_us;
        if (!st->fired && a[0] == 0) {
            st->fired = true;
            st->clock_us = pc->at + a[1] * 1000;
            pc->at = st->clock_us;
        }
        break;
    case TX_FRAME_RESET:
    case TX_FRAME_SHUTDOWN:
    case TX_FRAME_CLOSE:
    case TX_VANISH:
        if (st->fired) {
            if (pc->kind == PC_DATA)
                d->dropped += pc->n;
            return pc->kind == PC_DATA || pc->kind == PC_EOF ? 0 : feed(d, i + 1, pc);
        }
        if (after_frames(d, i, pc, &now) < 0)
            return -1;
        if (now) {
            static const pc_kind ctl[] = {[TX_FRAME_RESET] = PC_RST,
                                          [TX_FRAME_SHUTDOWN] = PC_SHUT,
                                          [TX_FRAME_CLOSE] = PC_CLOSE, [TX_VANISH] = PC_VANISH};
            st->fired = true;
            d->dropped += pc->n;
            return emit_ctl(d, i, ctl[st->tx.type], pc->at);
        }
        break;
    case TX_FRAME_LENGTH:
        if (pc->kind == PC_DATA && pc->part == PX_PART_HEADER && selected(st, pc->frame, 1))
            return rewrite_length(d, i, pc);
        break;
    case TX_FRAME_DROP:
        if (pc->kind == PC_DATA && selected(st, pc->frame, 0) && pc->part != PX_PART_RAW) {
            d->dropped += pc->n;
            return 0;
        }
        break;
    case TX_FRAME_DUP:
        if (pc->kind == PC_DATA && selected(st, pc->frame, 0) && pc->part != PX_PART_RAW) {
            if (hold(st, pc->p, pc->n) < 0 || feed(d, i + 1, pc) < 0)
                return -1;
            return pc->frame_end ? emit_held(d, i, pc) : 0;
        }
        break;
    default:
        break;
    }
    return feed(d, i + 1, pc);
}

static int stub_feed(px_dir *d, size_t i, piece *pc)
{
    if (tx_defs[d->stub[i].tx.type].frames)
        return stub_frames(d, i, pc);
    return stub_toxiproxy(d, i, pc);
}

/* Through stub i and those after it, then the queue. */
static int feed(px_dir *d, size_t i, piece *pc)
{
    for (; i < d->nstub; i++) {
        px_stub *st = &d->stub[i];
        if (!st->active)
            continue;
        if (pc->kind == PC_DATA && st->cut_next) {
            pc->cut = true;
            st->cut_next = false;
        }
        return stub_feed(d, i, pc);
    }
    return enqueue(d, pc);
}

/* ---- the direction ---- */

static void stub_start(px_stub *st, const px_toxic *t, uint64_t *seed)
{
    memset(st, 0, sizeof *st);
    st->tx = *t;
    st->active = roll(seed, t->toxicity);
}

int px_dir_init(px_dir *d, const px_toxic *list, size_t n, px_stream s, wire_framing f,
                uint64_t max, uint64_t *seed, int64_t now_us)
{
    memset(d, 0, sizeof *d);
    d->seed = seed;
    d->tr.f = f;
    d->tr.max = max;
    return px_dir_update(d, list, n, s, now_us);
}

int px_dir_update(px_dir *d, const px_toxic *list, size_t n, px_stream s, int64_t now_us)
{
    px_stub next[PX_MAX_TOXICS];
    size_t k = 0;
    bool track = false;
    for (size_t j = 0; j < n; j++) {
        bool kept = false;
        if (list[j].stream != s)
            continue;
        if (k == PX_MAX_TOXICS)
            return -1;
        for (size_t i = 0; i < d->nstub && !kept; i++)
            if (!strcmp(d->stub[i].tx.name, list[j].name) && d->stub[i].tx.type == list[j].type) {
                next[k] = d->stub[i];
                next[k].tx = list[j];
                d->stub[i].tx.name[0] = '\0'; /* taken */
                kept = true;
            }
        if (!kept) {
            stub_start(&next[k], &list[j], d->seed);
            stub_arm(&next[k], now_us);
        }
        track |= tx_defs[list[j].type].frames;
        k++;
    }
    /* a removed toxic lets what it held through, and its timers go */
    for (size_t i = 0; i < d->nstub; i++)
        if (d->stub[i].tx.name[0] != '\0') {
            piece c = {.kind = PC_DATA, .at = now_us};
            int rc = d->stub[i].nheld ? hold_flush_to_queue(d, &d->stub[i], &c) : 0;
            free(d->stub[i].held);
            d->stub[i].held = NULL;
            d->stub[i].nheld = 0;
            if (rc < 0)
                return -1;
        }
    memcpy(d->stub, next, k * sizeof next[0]);
    d->nstub = k;
    d->track = track;
    return 0;
}

void px_dir_follow(px_dir *d, const uint8_t *p, size_t n)
{
    while (n > 0) {
        piece pc;
        size_t k = track(&d->tr, p, n, &pc);
        p += k;
        n -= k;
    }
}

int px_dir_data(px_dir *d, const uint8_t *p, size_t n, int64_t now_us)
{
    while (n > 0) {
        piece pc = {.kind = PC_DATA, .at = now_us};
        size_t k;
        if (d->track) {
            k = track(&d->tr, p, n, &pc);
        } else {
            /* no frame toxic: one piece, and the frames followed (one added later knows where
             * they are) */
            px_dir_follow(d, p, n);
            k = n;
            pc.part = PX_PART_RAW;
        }
        pc.p = p;
        pc.n = k;
        if (feed(d, 0, &pc) < 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}

int px_dir_eof(px_dir *d, int64_t now_us)
{
    piece pc = {.kind = PC_EOF, .at = now_us};
    return feed(d, 0, &pc);
}

int px_dir_tick(px_dir *d, int64_t now_us)
{
    for (size_t i = 0; i < d->nstub; i++) {
        px_stub *st = &d->stub[i];
        if (st->active && st->wake_us != 0 && st->wake_us <= now_us) {
            st->wake_us = 0;
            if (stub_wake(d, i, now_us) < 0)
                return -1;
        }
    }
    return 0;
}

int64_t px_dir_next_us(const px_dir *d)
{
    int64_t t = d->head ? d->head->at_us : 0;
    for (size_t i = 0; i < d->nstub; i++)
        if (d->stub[i].active && d->stub[i].wake_us != 0 && (t == 0 || d->stub[i].wake_us < t))
            t = d->stub[i].wake_us;
    return t;
}

px_op *px_dir_pop(px_dir *d)
{
    px_op *op = d->head;
    if (op) {
        d->head = op->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued -= op->len;
    }
    return op;
}

void px_dir_free(px_dir *d)
{
    px_op *op;
    while ((op = px_dir_pop(d)) != NULL)
        free(op);
    for (size_t i = 0; i < d->nstub; i++)
        free(d->stub[i].held);
    d->nstub = 0;
}
