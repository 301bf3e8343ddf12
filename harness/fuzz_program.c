/*
 * fuzz_program.c — the fuzzer's programs: the generator, the oracle (program -> scenario with
 * expects citing docs/spec.md) and the one-line text form. fuzz.h has the contracts.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "vanish.h"

/* Bytes a connection may owe in echoes while it does not read (what was owed when it stopped,
 * and what it sends meanwhile): they must fit the kernel's queues (the peer's receive buffer and
 * the server's send buffer, 128 KiB or more each on Linux, less the server's own reading
 * buffer), or a send would stall and what reached the server would depend on timing. */
#define STOPPED_BYTES_MAX (32u << 10)

uint64_t fz_next(fz_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fz_below(fz_rng *r, uint64_t n)
{
    return n ? fz_next(r) % n : 0;
}

/* ---- the generator ---- */

/* The largest payload a frame may have here. */
static uint64_t frame_cap(const fz_target *t)
{
    uint64_t m = wire_max_expressible(t->framing);
    return t->max_payload < m ? t->max_payload : m;
}

/* A payload size: small ones most often (65 %: 0..16, 0..300), the boundaries (0, 1, 255/256,
 * 65535/65536, max - 1, max) often (27 %), random ones up to 128 KiB sometimes (8 %). */
static uint64_t pick_size(fz_rng *r, const fz_target *t)
{
    uint64_t cap = frame_cap(t), v;
    uint64_t roll = fz_below(r, 100);
    if (roll < 40)
        v = fz_below(r, 17);
    else if (roll < 65)
        v = fz_below(r, 301);
    else if (roll < 92) {
        static const uint64_t b[] = {0, 1, 255, 256, 65535, 65536};
        size_t k = (size_t)fz_below(r, 8);
        /* a maximum over 1 MiB costs milliseconds per frame (16 MiB: ~40 ms there and back):
         * one draw in 200 keeps it, so that such frames stay a few percent of the campaign's
         * time (still one program in ~500) */
        if (k >= 6 && cap > (1u << 20) && fz_below(r, 200) != 0)
            k = (size_t)fz_below(r, 6);
        v = k < 6 ? b[k] : k == 6 ? (cap ? cap - 1 : 0) : cap;
    } else
        v = fz_below(r, (cap < (128u << 10) ? cap : (128u << 10)) + 1);
    return v > cap ? cap : v;
}

/* Write boundaries for n bytes: none, every `by` bytes, or a few random cuts. */
static void pick_slicing(fz_rng *r, fz_action *a, uint64_t n)
{
    uint64_t roll = fz_below(r, 100);
    a->by = 0;
    a->ncuts = 0;
    a->pause_ms = 0;
    if (n < 2 || roll < 45)
        return;
    if (roll < 60) {
        a->by = 1 + fz_below(r, n < 8 ? n : 8);
        if (n / a->by > 256)
            a->by = n / 256 + 1; /* at most ~256 writes */
    } else {
        size_t k = 1 + (size_t)fz_below(r, FZ_MAX_CUTS);
        uint64_t prev = 0;
        for (size_t i = 0; i < k; i++) {
            uint64_t room = n - 1 - prev;
            uint64_t c;
            if (room == 0)
                break;
            /* half of the cuts fall within a few bytes (inside a header), half anywhere */
            c = prev + 1 + fz_below(r, fz_below(r, 2) && room > 8 ? 8 : room);
            if (c >= n)
                break;
            a->cuts[a->ncuts++] = c;
            prev = c;
        }
    }
    /* pauses (so that TCP cannot merge the writes: each reaches the server alone) in one sliced
     * send of eight, between six writes at most: a program's pauses stay within a few ms, and
     * they cost a campaign a tenth of its programs per second */
    if (fz_below(r, 8) == 0 && (a->by ? n / a->by : a->ncuts) <= 6)
        a->pause_ms = 1;
}

/* Bytes of the send action under framing f. */
static uint64_t send_bytes(const fz_action *a, wire_framing f)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->nframes; i++)
        n += wire_frame_size(f, (size_t)a->frames[i]);
    return n * a->reps;
}

static void fill_action(fz_rng *r, const fz_target *t, fz_action *a, int nconn);

/* A random action of the common kinds (the costly ones are fz_generate()'s to add). */
static void random_action(fz_rng *r, const fz_target *t, fz_action *a, int nconn)
{
    static const unsigned weights[A_NKINDS] = {
        [A_SEND] = 40, [A_DRAIN] = 14, [A_STOP_READ] = 4, [A_RESUME] = 3, [A_SHUT_WR] = 7,
        [A_SHUT_MID] = 5, [A_ABORT] = 6, [A_CLOSE] = 6, [A_OVERSIZE] = 5, [A_SILENCE] = 2,
        [A_PING] = 3,
    };
    unsigned total = 0, roll;
    memset(a, 0, sizeof *a);
    for (int k = 0; k < A_NKINDS; k++)
        total += weights[k];
    roll = (unsigned)fz_below(r, total);
    for (int k = 0; k < A_NKINDS; k++) {
        if (roll < weights[k]) {
            a->kind = (fz_akind)k;
            break;
        }
        roll -= weights[k];
    }
    fill_action(r, t, a, nconn);
}

/* The action's values for its kind (a->kind set, the rest zero). */
static void fill_action(fz_rng *r, const fz_target *t, fz_action *a, int nconn)
{
    a->conn = (int)fz_below(r, (uint64_t)nconn);
    a->reps = 1;
    switch (a->kind) {
    case A_SEND:
        a->nframes = 1 + (size_t)fz_below(r, FZ_MAX_FRAMES);
        for (size_t i = 0; i < a->nframes; i++)
            a->frames[i] = pick_size(r, t);
        if (fz_below(r, 5) == 0)
            a->reps = 2 + fz_below(r, 30); /* a coalesced burst */
        while (a->reps > 1 && send_bytes(a, t->framing) > (4u << 20))
            a->reps /= 2;
        pick_slicing(r, a, send_bytes(a, t->framing));
        break;
    case A_SHUT_MID:
    case A_ABORT: {
        uint64_t whole;
        a->frames[0] = 1 + pick_size(r, t);
        if (a->frames[0] > frame_cap(t))
            a->frames[0] = frame_cap(t);
        whole = wire_frame_size(t->framing, (size_t)a->frames[0]);
        a->partial = whole > 1 ? 1 + fz_below(r, whole - 1) : 0;
        if (a->kind == A_ABORT && fz_below(r, 3) == 0)
            a->partial = 0;
        a->nframes = 1;
        break;
    }
    case A_OVERSIZE: {
        uint64_t hi = wire_max_expressible(t->framing);
        a->nframes = 1;
        if (t->max_payload >= hi) {
            a->kind = A_SEND; /* no header can announce more than the maximum */
            a->frames[0] = pick_size(r, t);
            break;
        }
        a->frames[0] = fz_below(r, 2) ? t->max_payload + 1
                                      : t->max_payload + 1 + fz_below(r, hi - t->max_payload);
        a->partial = fz_below(r, 2) ? 0 : fz_below(r, 64);
        break;
    }
    case A_PING: {
        uint64_t cap = frame_cap(t) < 64 ? frame_cap(t) : 64;
        a->nframes = 1 + (size_t)fz_below(r, 2);
        for (size_t i = 0; i < a->nframes; i++)
            a->frames[i] = cap ? 1 + fz_below(r, cap) : 0;
        a->reps = 5 + fz_below(r, 16);
        break;
    }
    case A_FLOOD:
        a->nframes = 1;
        a->frames[0] = 4096 + fz_below(r, 61441);
        if (a->frames[0] > frame_cap(t))
            a->frames[0] = frame_cap(t);
        a->partial = fz_below(r, 2); /* 1: SHUT_WR once the server stopped reading */
        break;
    case A_TERM:
        /* frames of 1-4 KiB, flooded until the server stops reading, then SIGTERM */
        a->nframes = 1;
        a->frames[0] = 1024 + fz_below(r, 3073);
        if (a->frames[0] > frame_cap(t))
            a->frames[0] = frame_cap(t);
        break;
    case A_CLOSE:
        a->partial = fz_below(r, 2); /* 1: frames and the FIN in one segment (RESET-5) */
        break;
    case A_SHUT_WR:
        /* half of the time, 1-3 small frames and the FIN in one segment (cork): the server
         * reads the EOF with echoes still to write, whatever the scheduling (HALFCLOSE-1) */
        if (fz_below(r, 2) == 0) {
            a->partial = 1;
            a->nframes = 1 + (size_t)fz_below(r, 3);
            for (size_t i = 0; i < a->nframes; i++) {
                uint64_t v = fz_below(r, 65);
                a->frames[i] = v < frame_cap(t) ? v : frame_cap(t);
            }
        }
        break;
    case A_VANISH: {
        /* the kinds the server has a promise for: idle (keepalive or an idle timeout), with an
         * echo in flight (a user timeout or an idle timeout), a middlebox's RST (always) */
        uint64_t kinds[3], nk = 0;
        if (t->keepalive[0] > 0 || t->idle_s > 0)
            kinds[nk++] = 0;
        if (t->user_timeout_ms > 0 || t->idle_s > 0)
            kinds[nk++] = 1;
        kinds[nk++] = 2;
        a->partial = kinds[fz_below(r, nk)];
        break;
    }
    case A_SILENCE:
        if (t->keepalive_s > 0 && fz_below(r, 16) == 0 &&
            (t->idle_s <= 0 || t->idle_s > t->keepalive_s + 1.5)) {
            a->ms = (long)(t->keepalive_s * 1000) + 500; /* past the keepalive time */
            break;
        }
        if (t->idle_s > 0 && fz_below(r, 4) == 0)
            a->ms = (long)(t->idle_s * 1000) + 1; /* past the idle timeout */
        else if (t->idle_s > 0 && fz_below(r, 4) == 0)
            a->ms = (long)(t->idle_s * 250);      /* well under it */
        else
            a->ms = fz_below(r, 32) == 0 ? 5 + (long)fz_below(r, 16) : 1 + (long)fz_below(r, 2);
        break;
    default:
        break;
    }
}

void fz_mutate(fz_rng *r, const fz_target *t, fz_program *p, const fz_program *other)
{
    size_t i = p->n ? (size_t)fz_below(r, p->n) : 0;
    switch (fz_below(r, 8)) {
    case 0: /* insert a new action */
        if (p->n < FZ_MAX_ACTIONS) {
            memmove(&p->a[i + 1], &p->a[i], (p->n - i) * sizeof p->a[0]);
            random_action(r, t, &p->a[i], FZ_MAX_CONNS);
            p->n++;
        }
        break;
    case 1: /* delete one */
        if (p->n > 1) {
            memmove(&p->a[i], &p->a[i + 1], (p->n - i - 1) * sizeof p->a[0]);
            p->n--;
        }
        break;
    case 2: /* another size for one frame of a send, sliced again */
        if (p->n > 0 && p->a[i].kind == A_SEND && p->a[i].nframes > 0) {
            p->a[i].frames[fz_below(r, p->a[i].nframes)] = pick_size(r, t);
            pick_slicing(r, &p->a[i], send_bytes(&p->a[i], t->framing));
            break;
        }
        goto replace;
    case 3: /* one more frame in a send */
        if (p->n > 0 && p->a[i].kind == A_SEND && p->a[i].nframes < FZ_MAX_FRAMES) {
            p->a[i].frames[p->a[i].nframes++] = pick_size(r, t);
            pick_slicing(r, &p->a[i], send_bytes(&p->a[i], t->framing));
            break;
        }
        goto replace;
    case 4: /* other write boundaries and pauses for a send */
        if (p->n > 0 && p->a[i].kind == A_SEND) {
            pick_slicing(r, &p->a[i], send_bytes(&p->a[i], t->framing));
            break;
        }
        goto replace;
    case 5: /* an action again, right after itself or anywhere after it */
        if (p->n > 0 && p->n < FZ_MAX_ACTIONS) {
            size_t to = i + 1 + (size_t)fz_below(r, p->n - i);
            fz_action a = p->a[i];
            memmove(&p->a[to + 1], &p->a[to], (p->n - to) * sizeof p->a[0]);
            p->a[to] = a;
            p->n++;
        }
        break;
    case 6: /* splice: this program's first actions, the other's last */
        if (other != NULL && other->n > 0) {
            size_t j = (size_t)fz_below(r, other->n), keep = i + 1 <= p->n ? i + 1 : p->n;
            size_t take = other->n - j;
            if (keep + take > FZ_MAX_ACTIONS)
                take = FZ_MAX_ACTIONS - keep;
            memcpy(&p->a[keep], &other->a[j], take * sizeof p->a[0]);
            p->n = keep + take;
            break;
        }
        /* fall through */
    default:
    replace:
        if (p->n > 0)
            random_action(r, t, &p->a[i], FZ_MAX_CONNS);
        break;
    }
}

void fz_generate(fz_rng *r, const fz_target *t, const fz_program *corpus, size_t ncorpus,
                 fz_program *out)
{
    int nconn;
    memset(out, 0, sizeof *out);
    if (ncorpus > 0 && fz_below(r, 4) == 0) {
        *out = corpus[fz_below(r, ncorpus)];
        for (uint64_t k = 1 + fz_below(r, 3); k > 0; k--)
            fz_mutate(r, t, out, &corpus[fz_below(r, ncorpus)]);
        return;
    }
    nconn = fz_below(r, 10) < 6 ? 1 : fz_below(r, 3) < 2 ? 2 : 3;
    out->n = 1 + (size_t)fz_below(r, 10);
    for (size_t i = 0; i < out->n; i++)
        random_action(r, t, &out->a[i], nconn);
    {
        /* the costly actions (a flood fills the kernel's queues: ~0.1-0.3 s; SIGTERM and a
         * restart start a process: ~0.15 s; a peer that vanishes waits for the server's
         * promise: seconds) replace one action in a few programs of 10,000, so that they cost
         * the campaign a few percent of its programs per second. A vanish, in 3 programs of
         * 100, costs seconds each time: where the server makes promises, testing them takes
         * most of the campaign */
        unsigned rare = (unsigned)fz_below(r, 10000);
        fz_action *a = &out->a[fz_below(r, out->n)];
        fz_akind k = rare < 6 ? A_FLOOD : rare < 10 && t->exec && !wire_is_raw(t->framing) ? A_TERM
                     : rare < 14 && t->exec ? A_RESTART : rare < 314 && t->netns ? A_VANISH
                                                                               : A_NKINDS;
        if (k != A_NKINDS) {
            int conn = a->conn;
            memset(a, 0, sizeof *a);
            a->kind = k;
            fill_action(r, t, a, nconn);
            a->conn = conn;
        }
    }
}

/* ---- the oracle ---- */

typedef struct {
    int state;             /* 0 not yet connected, 1 open, 2 done */
    int name;              /* scenario connection index */
    int order;             /* when it connected */
    bool stopped;
    uint64_t stopped_bytes;
    size_t pending[FZ_MAX_ACTIONS]; /* send actions whose echoes have not been awaited */
    size_t npending;
    long quiet_ms;         /* the sleeps since it last sent (the server's idle clock) */
} cmodel;

typedef struct {
    const fz_program *p;
    const fz_target *t;
    scenario *s;
    cmodel c[FZ_MAX_CONNS];
    int nconnected;
    bool reset_seen;       /* an RST from us: abort, or close with unread input */
    bool inflight_close;   /* close with echoes in flight */
    bool corked_close;     /* frames and FIN in one segment, their echoes due after it */
    bool oversize_seen;
    fs_req *alt;
    size_t alt_cap;
    int err;
} derive;

static long ms_scaled(const derive *d, double ms)
{
    return (long)(ms * d->t->scale + 0.5);
}

static sc_item *frame_items(const derive *d, const uint64_t *sizes, size_t n)
{
    sc_item *it = calloc(n ? n : 1, sizeof *it);
    if (it == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        it[i].framed = !wire_is_raw(d->t->framing);
        it[i].p.kind = wire_is_line(d->t->framing) ? SC_P_TEXT : SC_P_SIZE;
        it[i].p.len = sizes[i];
    }
    return it;
}

/* Append st to the scenario; st's arrays go with it (freed instead after an error). */
static void add(derive *d, sc_step *st)
{
    if (d->err) {
        sc_step_free(st);
        return;
    }
    if (sc_append(d->s, st) == NULL) /* it freed the step's arrays */
        d->err = -1;
}

/* Add step st (its kind, connection, reps, ms, req ...) with frames of sizes[0..n) as its items. */
static void add_frames(derive *d, sc_step st, const uint64_t *sizes, size_t n)
{
    st.items = frame_items(d, sizes, n);
    st.nitems = st.items ? n : 0;
    if (st.items == NULL)
        d->err = -1;
    add(d, &st); /* frees st's arrays after an error */
}

/* Is an older connection than the one named `name` open (so a server serving one at a time
 * would ignore it)? */
static bool older_open(const derive *d, int name);

static void simple(derive *d, sc_kind kind, int conn, long ms, fs_req req)
{
    sc_step st = {.kind = kind, .conn = conn, .reps = 1, .ms = ms, .req = req};
    add(d, &st);
    if ((kind == SC_EXPECT_EOF || kind == SC_EXPECT_CLOSED) && d->alt && !d->err &&
        d->s->n <= d->alt_cap && older_open(d, conn))
        d->alt[d->s->n - 1] = REQ_CONCURRENCY_1;
}

/* The connection's scenario name, connecting it on first use. Returns its model, or NULL when it
 * is done (its actions after that are ignored). */
static cmodel *use(derive *d, int conn)
{
    cmodel *c = &d->c[conn];
    if (c->state == 2)
        return NULL;
    if (c->state == 0) {
        char name[16];
        snprintf(name, sizeof name, "c%d", ++d->nconnected);
        c->name = sc_conn(d->s, name);
        c->order = d->nconnected;
        c->state = 1;
        if (c->name < 0)
            d->err = -1;
        else
            simple(d, SC_CONNECT, c->name, 0, REQ_NONE);
    }
    return c;
}

static void resume(derive *d, cmodel *c)
{
    if (!c->stopped)
        return;
    simple(d, SC_RESUME_READING, c->name, 0, REQ_NONE);
    c->stopped = false;
    c->stopped_bytes = 0;
}

static bool older_open(const derive *d, int name)
{
    const cmodel *c = NULL;
    for (int i = 0; i < FZ_MAX_CONNS; i++)
        if (d->c[i].state == 1 && d->c[i].name == name)
            c = &d->c[i];
    if (c == NULL)
        return false;
    for (int i = 0; i < FZ_MAX_CONNS; i++)
        if (&d->c[i] != c && d->c[i].state == 1 && d->c[i].order < c->order)
            return true;
    return false;
}

/* Await the echoes of every pending send on c. `context` is the requirement the echoes are
 * owed under here (FRAMING-1, or HALFCLOSE-1 after SHUT_WR, ...); under FRAMING-1 a sliced send
 * cites SEGMENTATION-5, a send of several frames in one write SEGMENTATION-4. Where the echo stops (before a zero-length frame: FRAMING-2; before a
 * frame of exactly the maximum: LIMITS-1) is judged when it fails (fuzz.c). */
static void await_echoes(derive *d, cmodel *c, fs_req context, bool should_only)
{
    resume(d, c);
    for (size_t k = 0; k < c->npending; k++) {
        const fz_action *a = &d->p->a[c->pending[k]];
        fs_req req = context;
        uint64_t bytes = send_bytes(a, d->t->framing);
        sc_step st = {.kind = SC_EXPECT_BYTES, .conn = c->name, .reps = a->reps};
        if (!should_only && context == REQ_FRAMING_1) {
            if (a->by || a->ncuts)
                req = REQ_SEGMENTATION_5; /* any slicing of the stream gives the same echo */
            else if (a->nframes * a->reps > 1)
                req = REQ_SEGMENTATION_4; /* many frames in one write (one segment, one read) */
        }
        st.req = req;
        st.ms = ms_scaled(d, 1000 + (double)bytes / 20000.0); /* 1 s + 20 MB/s */
        add_frames(d, st, a->frames, a->nframes);
        if (d->alt && !d->err && d->s->n <= d->alt_cap && older_open(d, c->name))
            d->alt[d->s->n - 1] = REQ_CONCURRENCY_1;
    }
    c->npending = 0;
}

/* A frame of `size` payload bytes and its echo, at once: a zero-length frame keeps the connection
 * open (IDLE-2); a small one after a long silence shows it is still served (DEADPEER-4). */
static void echo_now(derive *d, cmodel *c, uint64_t size, fs_req req)
{
    resume(d, c);
    await_echoes(d, c, REQ_FRAMING_1, false);
    add_frames(d, (sc_step){.kind = SC_SEND, .conn = c->name, .reps = 1}, &size, 1);
    add_frames(d, (sc_step){.kind = SC_EXPECT_BYTES, .conn = c->name, .reps = 1,
                            .ms = ms_scaled(d, 1000), .req = req}, &size, 1);
    c->quiet_ms = 0;
}

static void keepalive(derive *d, cmodel *c)
{
    echo_now(d, c, 0, REQ_IDLE_2);
}

/* Raw bytes: the first `partial` bytes of a frame of `size` payload bytes. */
static void send_partial(derive *d, cmodel *c, uint64_t size, uint64_t partial)
{
    wire_framing f = d->t->framing;
    size_t hl = wire_header_size(f, size);
    sc_step st = {.kind = SC_SEND, .conn = c->name, .reps = 1};
    uint8_t hdr[WIRE_MAX_HEADER];
    uint64_t head = partial < hl ? partial : hl;
    st.items = calloc(2, sizeof *st.items);
    if (st.items == NULL) {
        d->err = -1;
        return;
    }
    if (head > 0) {
        wire_encode_header(f, size, hdr);
        st.items[st.nitems].p.kind = SC_P_BYTES;
        st.items[st.nitems].p.len = head;
        st.items[st.nitems].p.bytes = malloc((size_t)head);
        if (st.items[st.nitems].p.bytes == NULL) {
            free(st.items);
            d->err = -1;
            return;
        }
        memcpy(st.items[st.nitems].p.bytes, hdr, (size_t)head);
        st.nitems++;
    }
    if (partial > head) {
        st.items[st.nitems].p.kind = wire_is_line(f) ? SC_P_TEXT : SC_P_SIZE;
        st.items[st.nitems].p.len = partial - head;
        st.nitems++;
    }
    if (st.nitems == 0) {
        free(st.items);
        return;
    }
    add(d, &st);
}

/* The connection's end: we closed it (close or abort) or it is awaited to close. */
static void finish(derive *d, cmodel *c, sc_kind how)
{
    if (how != (sc_kind)-1)
        simple(d, how, c->name, 0, REQ_NONE);
    c->state = 2;
}

/* A_SILENCE: nothing for a->ms; keepalives before the idle timeout, the server's FIN after
 * it, an echo after a silence past the keepalive time (DEADPEER-4). */
static void act_silence(derive *d, const fz_action *a)
{
    wire_framing f = d->t->framing;
    bool past_idle = d->t->idle_s > 0 && a->ms > (long)(d->t->idle_s * 1000);
    /* past the keepalive time, but not the idle timeout: every open connection is still
     * served afterwards (DEADPEER-4); its echoes are awaited first, so that it is silent */
    bool past_keepalive = !past_idle && d->t->keepalive_s > 0 &&
                          a->ms >= (long)(d->t->keepalive_s * 1000) + 500;
    if (past_keepalive)
        for (int k = 0; k < FZ_MAX_CONNS; k++)
            if (d->c[k].state == 1)
                await_echoes(d, &d->c[k], REQ_FRAMING_1, false);
    if (!past_idle && d->t->idle_s > 0) {
        /* a connection must not drift past the idle timeout by sleeps that each stay under
         * it: one quiet for 60 % of it sends a keepalive (a zero-length frame) first, which
         * must be echoed and keep it open (IDLE-2) */
        for (int k = 0; k < FZ_MAX_CONNS; k++) {
            cmodel *o = &d->c[k];
            if (o->state != 1 || o->quiet_ms + a->ms < (long)(d->t->idle_s * 600))
                continue;
            if (wire_is_raw(f)) {
                await_echoes(d, o, REQ_FRAMING_1, false);
                finish(d, o, SC_CLOSE); /* raw framing has no keepalive frame */
                continue;
            }
            keepalive(d, o);
        }
    }
    if (past_idle)
        for (int k = 0; k < FZ_MAX_CONNS; k++)
            if (d->c[k].state == 1)
                resume(d, &d->c[k]); /* a server may count a blocked peer as busy, not idle */
    simple(d, SC_SLEEP, -1, a->ms, REQ_NONE);
    for (int k = 0; k < FZ_MAX_CONNS; k++)
        d->c[k].quiet_ms += a->ms;
    if (past_keepalive)
        for (int k = 0; k < FZ_MAX_CONNS; k++)
            if (d->c[k].state == 1)
                echo_now(d, &d->c[k], 5, REQ_DEADPEER_4);
    if (!past_idle)
        return;
    /* every open connection was idle that long: its echoes, then the server's FIN */
    for (int k = 0; k < FZ_MAX_CONNS; k++) {
        cmodel *o = &d->c[k];
        if (o->state != 1)
            continue;
        await_echoes(d, o, REQ_IDLE_1, false);
        simple(d, SC_EXPECT_EOF, o->name, ms_scaled(d, 500) + 500, REQ_IDLE_1);
        finish(d, o, SC_CLOSE);
    }
    return;
}

/* A_SEND on c (action i): the frames, cut as the action says; their echoes are owed. */
static void act_send(derive *d, cmodel *c, const fz_action *a, size_t i)
{
    wire_framing f = d->t->framing;
    sc_step st = {.kind = SC_SEND, .conn = c->name, .reps = a->reps, .by = a->by,
                  .ncuts = a->ncuts, .pause_ms = a->pause_ms};
    uint64_t bytes = send_bytes(a, f);
    if (a->nframes == 0)
        return;
    if (c->stopped && c->stopped_bytes + bytes > STOPPED_BYTES_MAX)
        resume(d, c);
    if (c->stopped)
        c->stopped_bytes += bytes;
    st.cuts = a->ncuts ? malloc(a->ncuts * sizeof *st.cuts) : NULL;
    if (a->ncuts && st.cuts == NULL) {
        d->err = -1;
        return;
    }
    if (a->ncuts)
        memcpy(st.cuts, a->cuts, a->ncuts * sizeof *st.cuts);
    /* cuts that no longer increase or fall inside (after shrinking) are dropped: first the
     * order, then the bound */
    for (size_t k = 1; k < st.ncuts; k++)
        if (st.cuts[k] <= st.cuts[k - 1])
            st.ncuts = k;
    while (st.ncuts > 0 && st.cuts[st.ncuts - 1] >= bytes)
        st.ncuts--;
    if (st.by > bytes)
        st.by = 0;
    add_frames(d, st, a->frames, a->nframes);
    c->pending[c->npending++] = i;
    c->quiet_ms = 0;
    return;
}

/* A_VANISH on c: the peer vanishes (idle, with an echo in flight, or by a middlebox's RST) and
 * the server must release it within its promise. */
static void act_vanish(derive *d, cmodel *c, const fz_action *a)
{
    /* the promise (vanish.h) from the last activity: an echo just before it vanishes */
    int64_t promise = 2000, idle = (int64_t)(d->t->idle_s * 1000), wait;
    bool via_idle = false;
    fs_req req = REQ_DEADPEER_5;
    if (!d->t->netns)
        return;
    if (a->partial == 0) {
        promise = vn_keepalive_ms(d->t->keepalive, d->t->user_timeout_ms);
        req = REQ_DEADPEER_1;
    } else if (a->partial == 1) {
        promise = d->t->user_timeout_ms;
        req = REQ_DEADPEER_2;
    }
    if (a->partial < 2 && idle > 0 && (promise == 0 || idle < promise)) {
        promise = idle;
        via_idle = true;
    }
    if (promise == 0)
        return; /* nothing promised (a corpus entry from another campaign) */
    wait = a->partial == 2 ? ms_scaled(d, 2000)
                           : ms_scaled(d, (double)(promise + vn_tolerance_ms(promise, via_idle)));
    /* the others are quiet while we wait, for as long as `wait`: one that could reach 60 % of
     * the idle timeout meanwhile is closed first (the server may rightly close it, or not) */
    for (int k = 0; k < FZ_MAX_CONNS; k++) {
        cmodel *o = &d->c[k];
        if (o == c || o->state != 1)
            continue;
        if (idle > 0 && o->quiet_ms + wait >= idle * 6 / 10) {
            await_echoes(d, o, REQ_FRAMING_1, false);
            finish(d, o, SC_CLOSE);
        } else {
            o->quiet_ms += wait;
        }
    }
    echo_now(d, c, 5, REQ_FRAMING_1);
    add(d, &(sc_step){.kind = a->partial == 2 ? SC_MIDDLEBOX_RESET : SC_VANISH,
                      .conn = c->name, .reps = 1, .how = a->partial == 1});
    simple(d, SC_EXPECT_GONE, c->name, wait, req);
    finish(d, c, SC_ABORT);
}

/* A_TERM, A_RESTART (--exec): SIGTERM during a flood on c, or with every connection idle,
 * and the server started again (a new port, or the same one while its connections are in
 * TIME_WAIT). */
static void act_lifecycle(derive *d, cmodel *c, const fz_action *a)
{
    bool term = a->kind == A_TERM;
    /* every connection drained, and one echo on each: the server has accepted it (a
     * connection still in the listen backlog when the server closes its listener is reset
     * by the kernel, and that is no fault of the server's) */
    for (int k = 0; k < FZ_MAX_CONNS; k++)
        if (d->c[k].state == 1)
            echo_now(d, &d->c[k], 5, REQ_FRAMING_1);
    /* A_TERM: a flood until the server stops reading (it holds unread input and echoes
     * not yet sent), SIGTERM, then what it reads is a prefix of the echoes, ending at a
     * frame boundary, then FIN; A_RESTART: SIGTERM with every connection idle */
    if (term)
        add_frames(d, (sc_step){.kind = SC_FLOOD, .conn = c->name, .reps = 1,
                                .limit = SC_KERNEL, .how = 2, .req = REQ_LIFECYCLE_2,
                                .ms = ms_scaled(d, 30000)},
                   a->frames, 1);
    else
        simple(d, SC_SERVER_TERM, -1, 0, REQ_NONE);
    /* every connection: FIN within 5 s; then we close our ends (TIME_WAIT on its side) */
    for (int k = 0; k < FZ_MAX_CONNS; k++)
        if (d->c[k].state == 1 && !(term && &d->c[k] == c))
            simple(d, SC_EXPECT_EOF, d->c[k].name, ms_scaled(d, 5000), REQ_LIFECYCLE_2);
    for (int k = 0; k < FZ_MAX_CONNS; k++)
        if (d->c[k].state == 1)
            finish(d, &d->c[k], SC_CLOSE);
    simple(d, SC_SERVER_STOP, -1, 0, REQ_NONE);
    add(d, &(sc_step){.kind = SC_SERVER_START, .conn = -1, .reps = 1, .how = term ? 0 : 1,
                      .req = term ? REQ_NONE : REQ_LIFECYCLE_1});
    return;
}

/* A_SHUT_WR / A_SHUT_MID: a half-close, maybe mid-frame or corked with its frames; then the
 * echoes owed before the FIN, and the server's FIN (HALFCLOSE-1) or close (HALFCLOSE-2). */
static void act_shutdown(derive *d, cmodel *c, const fz_action *a, size_t i)
{
    bool framed = !wire_is_raw(d->t->framing);
    bool mid = a->kind == A_SHUT_MID && framed && a->partial > 0;
    if (mid)
        send_partial(d, c, a->frames[0], a->partial);
    if (a->kind == A_SHUT_WR && a->partial == 1 && framed && a->nframes > 0) {
        /* the frames and the FIN in one segment: TCP_CORK holds the frames until the
         * shutdown sends the FIN with them */
        simple(d, SC_CORK, c->name, 0, REQ_NONE);
        add_frames(d, (sc_step){.kind = SC_SEND, .conn = c->name, .reps = 1}, a->frames,
                   a->nframes);
        c->pending[c->npending++] = i; /* their echoes are owed before the FIN */
    }
    {
        sc_step st = {.kind = SC_SHUTDOWN, .conn = c->name, .reps = 1, .how = SHUT_WR};
        add(d, &st);
    }
    await_echoes(d, c, mid ? REQ_HALFCLOSE_2 : REQ_HALFCLOSE_1, false);
    if (mid)
        simple(d, SC_EXPECT_CLOSED, c->name, ms_scaled(d, 1000), REQ_HALFCLOSE_2);
    else
        simple(d, SC_EXPECT_EOF, c->name, ms_scaled(d, 1000), REQ_HALFCLOSE_1);
    finish(d, c, SC_CLOSE);
}

/* A_OVERSIZE: a header announcing more than the server's maximum, maybe with part of its
 * payload. */
static void act_oversize(derive *d, cmodel *c, const fz_action *a)
{
    wire_framing f = d->t->framing;
    bool framed = !wire_is_raw(f);
    uint8_t hdr[WIRE_MAX_HEADER];
    size_t hl = wire_header_size(f, a->frames[0]);
    sc_step st = {.kind = SC_SEND, .conn = c->name, .reps = 1};
    if (!framed || wire_is_line(f) || a->frames[0] <= d->t->max_payload ||
        a->frames[0] > wire_max_expressible(f))
        return;
    st.items = calloc(2, sizeof *st.items);
    if (st.items == NULL || (st.items[0].p.bytes = malloc(hl)) == NULL) {
        free(st.items);
        d->err = -1;
        return;
    }
    wire_encode_header(f, a->frames[0], hdr);
    memcpy(st.items[0].p.bytes, hdr, hl);
    st.items[0].p.kind = SC_P_BYTES;
    st.items[0].p.len = hl;
    st.nitems = 1;
    if (a->partial > 0) {
        st.items[1].p.kind = SC_P_SIZE;
        st.items[1].p.len = a->partial;
        st.nitems = 2;
    }
    /* the echoes of the frames before it SHOULD come first (LIMITS-4); then a prompt close
     * (LIMITS-2) */
    resume(d, c);
    add(d, &st);
    await_echoes(d, c, REQ_LIMITS_4, true);
    simple(d, SC_EXPECT_CLOSED, c->name, ms_scaled(d, 1000), REQ_LIMITS_2);
    if (!d->err)
        d->s->steps[d->s->n - 1].how = SC_BEFORE_IDLE; /* before-idle: a refusal, as limits.* judge it */
    finish(d, c, SC_CLOSE);
    d->oversize_seen = true;
}

/* Action i of the program: its steps, and the expects the oracle owes after it (each citing its
 * requirement). */
static void one_action(derive *d, size_t i)
{
    const fz_action *a = &d->p->a[i];
    wire_framing f = d->t->framing;
    bool framed = !wire_is_raw(f);
    cmodel *c;
    if ((a->kind == A_TERM || a->kind == A_RESTART) &&
        (!d->t->exec || (a->kind == A_TERM && wire_is_raw(f))))
        return; /* the server is not ours to signal; raw framing has no frame boundary */
    if (a->kind == A_SILENCE) {
        act_silence(d, a);
        return;
    }
    c = use(d, a->conn);
    if (c == NULL || d->err)
        return;
    switch (a->kind) {
    case A_SEND:
        act_send(d, c, a, i);
        return;
    case A_DRAIN:
        await_echoes(d, c, REQ_FRAMING_1, false);
        return;
    case A_STOP_READ: {
        uint64_t owed = 0;
        if (c->stopped)
            return;
        for (size_t k = 0; k < c->npending; k++)
            owed += send_bytes(&d->p->a[c->pending[k]], f);
        if (owed > STOPPED_BYTES_MAX / 2)
            await_echoes(d, c, REQ_FRAMING_1, false); /* what is owed must fit the queues too */
        simple(d, SC_STOP_READING, c->name, 0, REQ_NONE);
        c->stopped = true;
        c->stopped_bytes = owed > STOPPED_BYTES_MAX / 2 ? 0 : owed;
        return;
    }
    case A_RESUME:
        resume(d, c);
        return;
    case A_SHUT_WR:
    case A_SHUT_MID:
        act_shutdown(d, c, a, i);
        return;
    case A_ABORT:
        if (framed && a->partial > 0)
            send_partial(d, c, a->frames[0], a->partial);
        finish(d, c, SC_ABORT);
        d->reset_seen = true;
        return;
    case A_CLOSE:
        if (a->partial == 1 && framed) {
            /* RESET-5: nothing unread on our side, then frames and the FIN in one segment
             * (cork): the server reads both, and its echoes meet a closed socket (CLOSE-WAIT:
             * the first draws an RST, the next write fails with EPIPE, SIGPIPE unless ignored) */
            uint64_t one = 1;
            await_echoes(d, c, REQ_FRAMING_1, false);
            simple(d, SC_CORK, c->name, 0, REQ_NONE);
            add_frames(d, (sc_step){.kind = SC_SEND, .conn = c->name, .reps = 8}, &one, 1);
            d->corked_close = true;
        } else if (c->npending > 0) {
            d->inflight_close = true;
            d->reset_seen = true; /* unread echoes: the kernel sends RST */
        }
        finish(d, c, SC_CLOSE);
        return;
    case A_OVERSIZE:
        act_oversize(d, c, a);
        return;
    case A_PING: {
        long lim = ms_scaled(d, 20) < 30 ? ms_scaled(d, 20) : 30; /* as latency.ping_pong */
        if (a->nframes == 0)
            return;
        await_echoes(d, c, REQ_FRAMING_1, false);
        add_frames(d, (sc_step){.kind = SC_PING, .conn = c->name, .reps = a->reps, .ms = lim,
                                .req = REQ_LATENCY_1}, a->frames, a->nframes);
        c->quiet_ms = 0;
        return;
    }
    case A_FLOOD: {
        if (a->nframes == 0)
            return;
        await_echoes(d, c, REQ_FRAMING_1, false);
        add_frames(d, (sc_step){.kind = SC_FLOOD, .conn = c->name, .reps = 1,
                                .limit = SC_KERNEL, .judged = true, .ms = ms_scaled(d, 30000),
                                .how = a->partial == 1 && framed,
                                .req = REQ_BACKPRESSURE_1}, a->frames, 1);
        c->quiet_ms = 0;
        if (a->partial == 1 && framed)
            finish(d, c, SC_CLOSE); /* shut down, echoed and closed by the server */
        return;
    }
    case A_VANISH:
        act_vanish(d, c, a);
        return;
    case A_TERM:
    case A_RESTART:
        act_lifecycle(d, c, a);
        return;
    default:
        return;
    }
}

int fz_derive(const fz_program *p, const fz_target *t, scenario *s, fs_req *alt_req,
              size_t alt_cap)
{
    derive d = {.p = p, .t = t, .s = s, .alt = alt_req, .alt_cap = alt_cap};
    sc_init(s);
    s->framing = t->framing;
    s->payload_bound = t->max_payload < UINT32_MAX ? t->max_payload : UINT32_MAX;
    s->long_sleeps = true;
    if (alt_req)
        memset(alt_req, 0, alt_cap * sizeof *alt_req);
    for (size_t i = 0; i < p->n && !d.err; i++)
        one_action(&d, i);
    /* the end: every echo still owed, then a plain close */
    for (int k = 0; k < FZ_MAX_CONNS && !d.err; k++)
        if (d.c[k].state == 1) {
            await_echoes(&d, &d.c[k], REQ_FRAMING_1, false);
            finish(&d, &d.c[k], SC_CLOSE);
        }
    /* the server survives all of it, and releases every connection */
    simple(&d, SC_EXPECT_ALIVE, -1, 0,
           d.corked_close    ? REQ_RESET_5
           : d.inflight_close ? REQ_RESET_2
           : d.reset_seen    ? REQ_RESET_1
           : d.oversize_seen ? REQ_LIMITS_5
           : d.nconnected    ? REQ_RESOURCES_1
                             : REQ_FRAMING_1); /* the empty program: a fresh connection's echo */
    if (t->exec && !t->skip_released)
        simple(&d, SC_EXPECT_RELEASED, -1, ms_scaled(&d, 5000), /* RESOURCES-2: within 5 s */
               d.reset_seen ? REQ_RESET_4 : REQ_RESOURCES_2);
    if (d.err) {
        sc_free(s);
        return -1;
    }
    return 0;
}

/* ---- text form ---- */

void fz_encode(FILE *out, const fz_program *p, const fz_target *t)
{
    fprintf(out, "v1 framing=%s max=%" PRIu64, wire_framing_name(&t->framing), t->max_payload);
    for (size_t i = 0; i < p->n; i++) {
        const fz_action *a = &p->a[i];
        fprintf(out, " %d:%d:%" PRIu64 ":%" PRIu64 ":%ld:%" PRIu64 ":%ld:", (int)a->kind, a->conn,
                a->reps, a->by, a->pause_ms, a->partial, a->ms);
        for (size_t k = 0; k < a->nframes; k++)
            fprintf(out, "%s%" PRIu64, k ? "," : "", a->frames[k]);
        fputc(':', out);
        for (size_t k = 0; k < a->ncuts; k++)
            fprintf(out, "%s%" PRIu64, k ? "," : "", a->cuts[k]);
    }
}

/* A list "a,b,c" of at most max numbers up to the next ':' or space. */
static const char *numbers(const char *s, uint64_t *v, size_t max, size_t *n)
{
    *n = 0;
    while (*s && *s != ':' && *s != ' ' && *s != '\n') {
        char *e;
        unsigned long long x = strtoull(s, &e, 10);
        if (e == s || *n == max)
            return NULL;
        v[(*n)++] = x;
        s = *e == ',' ? e + 1 : e;
    }
    return s;
}

/* Is action a valid under t (sizes within what the framing and the maximum allow)? */
static bool action_fits(const fz_action *a, const fz_target *t)
{
    uint64_t cap = frame_cap(t);
    if (a->nframes == 0 && (a->kind == A_SEND || a->kind == A_SHUT_MID ||
                            a->kind == A_ABORT || a->kind == A_OVERSIZE || a->kind == A_PING ||
                            a->kind == A_FLOOD || a->kind == A_TERM))
        return false;
    if (a->kind == A_PING && a->reps > 10000)
        return false;
    for (size_t i = 0; i < a->nframes; i++) {
        if (a->kind == A_OVERSIZE ? a->frames[i] <= t->max_payload ||
                                        a->frames[i] > wire_max_expressible(t->framing)
                                  : a->frames[i] > cap)
            return false;
    }
    if ((a->kind == A_SHUT_MID || a->kind == A_ABORT) &&
        a->partial >= wire_frame_size(t->framing, (size_t)a->frames[0]))
        return false;
    if (a->kind == A_OVERSIZE && a->partial > 65536)
        return false;
    if (((a->kind == A_FLOOD || a->kind == A_CLOSE || a->kind == A_SHUT_WR) && a->partial > 1) ||
        (a->kind == A_VANISH && a->partial > 2))
        return false;
    for (size_t k = 1; k < a->ncuts; k++)
        if (a->cuts[k] <= a->cuts[k - 1])
            return false;
    return a->by <= (1u << 30);
}

int fz_decode(const char *line, const fz_target *t, fz_program *p)
{
    const char *s = line;
    char framing[8];
    unsigned long long max;
    int head = 0;
    memset(p, 0, sizeof *p);
    /* a program is judged under the framing and maximum it was found with */
    if (sscanf(s, "v1 framing=%7s max=%llu%n", framing, &max, &head) != 2 || head == 0 ||
        strcmp(framing, wire_framing_name(&t->framing)) != 0 || max != t->max_payload)
        return -1;
    s += head;
    while (*s == ' ') {
        fz_action *a;
        int kind, conn, used = 0;
        unsigned long long reps, by, partial;
        long pause, ms;
        s++;
        if (*s == '\0' || *s == '\n')
            break;
        if (p->n == FZ_MAX_ACTIONS)
            return -1;
        a = &p->a[p->n];
        if (sscanf(s, "%d:%d:%llu:%llu:%ld:%llu:%ld:%n", &kind, &conn, &reps, &by, &pause,
                   &partial, &ms, &used) != 7 || used == 0)
            return -1;
        if (kind < 0 || kind >= A_NKINDS || conn < 0 || conn >= FZ_MAX_CONNS || reps < 1 ||
            reps > 100000 || pause < 0 || pause > 1000 || ms < 0 || ms > 86400000 ||
            strchr(s, '-') != NULL)
            return -1; /* out of range, or negative (strtoull and %llu would wrap it) */
        a->kind = (fz_akind)kind;
        a->conn = conn;
        a->reps = reps;
        a->by = by;
        a->pause_ms = pause;
        a->partial = partial;
        a->ms = ms;
        s = numbers(s + used, a->frames, FZ_MAX_FRAMES, &a->nframes);
        if (s == NULL || *s != ':')
            return -1;
        s = numbers(s + 1, a->cuts, FZ_MAX_CUTS, &a->ncuts);
        if (s == NULL || !action_fits(a, t))
            return -1;
        p->n++;
    }
    return p->n > 0 ? 0 : -1;
}
