/*
 * import.c — `framespec import FILE`: a packet capture (pcap, pcapng) or an strace log of a
 * client, read into connections (capture.h), written as a scenario that `framespec replay` runs
 * against any server. What the client did is kept as it did it: its bytes in its own write
 * boundaries, its pauses over 5 ms, its SHUT_WR, close or RST. What is expected of the server
 * is the oracle's (--oracle):
 *   echo     the spec's echo rules, as `framespec fuzz` derives them (fuzz_program.c): every
 *            complete frame echoed (FRAMING-1; SEGMENTATION-4/-5 when frames shared a write or
 *            spanned writes), after SHUT_WR the echoes then FIN (HALFCLOSE-1; HALFCLOSE-2 after
 *            a partial frame), an oversized or malformed header closed promptly (LIMITS-2,
 *            LIMITS-6, LIMITS-7, the echoes before it LIMITS-4), the server alive at the end;
 *   capture  the server's bytes as captured, in the capture's order among the client's actions,
 *            and its close (FIN or RST): regression testing for any protocol;
 *   close    only how the server closed (its bytes are read and not judged).
 * The scenario is parsed back before it is written (a scenario import cannot replay is a bug).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture.h"
#include "fs.h"
#include "opts.h"
#include "scenario.h"
#include "wire.h"

/* A pause between the client's actions longer than this is kept (ms). */
#define PAUSE_MIN_MS 5
/* Raw items are cut to this many bytes (a scenario's payload is bounded by --max-frame + 1). */
#define RAW_CHUNK (64u << 10)
/* An expect's deadline: 1 s, + 20 MB/s of its bytes (as fuzz_program.c), or 3 x what the
 * capture showed, at most a minute. */
#define EXPECT_MS 1000
/* `frame P xK` for at most this many copies (the parser's bound on repetitions is larger). */
#define SAME_MAX 1000000
/* A client that closed this long (us) after its last action had waited for what it was owed. */
#define WAITED_US 50000
#define EXPECT_MAX_MS 60000

typedef enum { OR_ECHO, OR_CAPTURE, OR_CLOSE } oracle;
static const char *const ORACLES[] = {"echo", "capture", "close"};

typedef struct {
    const char *file, *out, *server, *format;
    opts_server so;      /* --framing and --max-frame: the one table and parser (opts.h) */
    wire_framing framing;
    bool framing_set;
    uint64_t max_frame;  /* the server's maximum (so.max_frame: under limit=frame, the frame's) */
    size_t only;        /* --connection N (1-based); 0: all */
    oracle orc;
    bool orc_set;
} imopts;

/* One connection while it is written. */
typedef struct {
    const cap_conn *c;
    int name;            /* c<name> */
    size_t next;         /* its next event */
    bool connected, done, shut, bad;
    uint64_t sent;       /* client bytes sent so far */
    uint64_t framed;     /* client bytes decoded into whole frames (or up to a bad header) */
    uint64_t expected;   /* echo bytes already expected */
    bool split_seen, many_seen; /* since the last expect: a frame over writes; frames in one */
    uint64_t cur_send, cur_expect; /* decoding cursors (frame starts) of items() */
    bool srv_closed;     /* the server's FIN or RST was expected */
    int64_t last_us;     /* its last event's time */
} wconn;

typedef struct {
    const imopts *o;
    FILE *out;
    wconn *w;
    size_t n;
    int64_t last_us;     /* the last event written, any connection */
    const char *cp_source; /* capture.source: "pcap", "pcapng", "strace" */
    bool reset_seen, inflight_close, oversize_seen;
    uint64_t sleeps_capped;
} writer;

static void usage(FILE *out)
{
    fputs("usage: framespec import FILE [--framing F] [--max-frame BYTES]\n"
          "                        [--server [HOST:]PORT] [--connection N | --all]\n"
          "                        [--oracle echo|capture|close] [--format pcap|strace]\n"
          "                        [-o OUT.scenario]\n"
          "\n"
          "Turn a packet capture (tcpdump -w: pcap or pcapng) or an strace log of a client\n"
          "(strace -f -tt -s 99999 -o LOG CLIENT) into a scenario that framespec replay runs\n"
          "against any server: each connection in capture order, the client's bytes in its own\n"
          "writes, its pauses over 5 ms, its SHUT_WR, close or RST, and what the server owes.\n"
          "\n"
          "  --framing F        the protocol's framing (any of framespec run's; default 4)\n"
          "  --max-frame BYTES  the server's maximum (default 16M): a larger header is a refusal\n"
          "  --server [HOST:]PORT  the server's side (pcap: default, the side that answered the\n"
          "                     SYN; needed when the handshake is not in the capture; strace:\n"
          "                     only the connections to it)\n"
          "  --connection N     only the Nth connection (1-based, in capture order); --all: every\n"
          "                     one (the default)\n"
          "  --oracle O         echo: the spec's echo rules (default with --framing); capture: the\n"
          "                     server's bytes and close as captured (default without); close:\n"
          "                     only how the server closed\n"
          "  --format F         pcap or strace (default: from the file's first bytes)\n"
          "  -o FILE            write the scenario there (default: stdout)\n"
          "\n"
          "Exit 0: written; 2: usage, or a capture that cannot be imported (the message names\n"
          "the problem and the fix: a gap, a cut packet or string, one direction only ...).\n"
          "The connections found are listed on stderr. docs/replay.md: \"From a capture to a\n"
          "reproducer\".\n",
          out);
}

static int parse_args(int argc, char **argv, imopts *o)
{
    static const struct option longs[] = {
        {"framing", required_argument, 0, OPT_FRAMING},
        {"max-frame", required_argument, 0, OPT_MAX_FRAME},
        {"server", required_argument, 0, 's'}, {"connection", required_argument, 0, 'c'},
        {"all", no_argument, 0, 'a'}, {"oracle", required_argument, 0, 'O'},
        {"format", required_argument, 0, 'F'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    char *end;
    int ch, rc;
    opts_server_init(&o->so);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (ch) {
        case OPT_FRAMING:
        case OPT_MAX_FRAME:
            if ((rc = opts_server_take("import", ch, optarg, &o->so)) != 1)
                return 2;
            o->framing_set |= ch == OPT_FRAMING;
            break;
        case 's':
            o->server = optarg;
            break;
        case 'c':
            errno = 0;
            o->only = strtoul(optarg, &end, 10);
            if (errno || *end || o->only == 0) {
                fprintf(stderr, "framespec import: --connection %s: expected a number from 1 "
                                "(the connections are listed on stderr)\n", optarg);
                return 2;
            }
            break;
        case 'a':
            o->only = 0;
            break;
        case 'O': {
            size_t k = 0;
            while (k < 3 && strcmp(optarg, ORACLES[k]))
                k++;
            if (k == 3) {
                fprintf(stderr, "framespec import: --oracle %s: expected echo, capture or "
                                "close\n", optarg);
                return 2;
            }
            o->orc = (oracle)k;
            o->orc_set = true;
            break;
        }
        case 'F':
            if (strcmp(optarg, "pcap") && strcmp(optarg, "strace")) {
                fprintf(stderr, "framespec import: --format %s: expected pcap or strace (pcapng "
                                "is pcap's)\n", optarg);
                return 2;
            }
            o->format = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "framespec import: %s\n", optind >= argc ? "which file? (a capture or "
                "an strace log)" : "one file at a time");
        usage(stderr);
        return 2;
    }
    o->file = argv[optind];
    if (opts_server_finish("import", &o->so) != 0)
        return 2;
    o->framing = o->so.framing;
    o->max_frame = o->so.max_frame;
    if (!o->orc_set)
        o->orc = o->framing_set ? OR_ECHO : OR_CAPTURE;
    return 0;
}

/* ---- payloads ---- */

/* Does a frame start at byte `at` of the client's stream? Decoded from *cur (a frame start at
 * or before `at`, or 0), which moves to the last frame start at or before `at` (calls with `at`
 * increasing decode each byte once). */
static bool frame_start(const writer *W, const cap_conn *c, uint64_t at, uint64_t *cur)
{
    uint64_t pos = *cur <= at ? *cur : 0;
    while (pos < at) {
        size_t size;
        uint64_t pl;
        if (wire_next_frame(W->o->framing, c->cli + pos, (size_t)(c->ncli - pos),
                            W->o->max_frame, &size, &pl) != WIRE_CUT_FRAME)
            return false;
        if (pos + size > at)
            break;
        pos += size;
        *cur = pos;
    }
    return pos == at;
}

/* Is p[0..n) the size:N pattern (byte i = i mod 256) or text:N (byte i = 'a' + i mod 26)? */
static int pattern(const uint8_t *p, uint64_t n)
{
    bool size = true, text = true;
    for (uint64_t i = 0; i < n && (size || text); i++) {
        size = size && p[i] == (uint8_t)i;
        text = text && p[i] == (uint8_t)('a' + i % 26);
    }
    return n >= 16 && size ? 1 : n >= 16 && text ? 2 : 0;
}

/* PAYLOAD for p[0..n): "text" when short and printable, size:N / text:N, else hex:. */
static void payload(FILE *out, const uint8_t *p, uint64_t n)
{
    bool printable = n <= 1024;
    int pat = pattern(p, n);
    if (pat) {
        fprintf(out, "%s:%" PRIu64, pat == 1 ? "size" : "text", n);
        return;
    }
    for (uint64_t i = 0; i < n && printable; i++)
        printable = p[i] >= 0x20 && p[i] < 0x7f;
    if (printable) {
        fputc('"', out);
        for (uint64_t i = 0; i < n; i++) {
            if (p[i] == '"' || p[i] == '\\')
                fputc('\\', out);
            fputc(p[i], out);
        }
        fputc('"', out);
        return;
    }
    fputs("hex:", out);
    {
        static const char digits[] = "0123456789abcdef";
        char buf[8192];
        size_t k = 0;
        for (uint64_t i = 0; i < n; i++) {
            buf[k++] = digits[p[i] >> 4];
            buf[k++] = digits[p[i] & 15];
            if (k == sizeof buf) {
                fwrite(buf, 1, k, out);
                k = 0;
            }
        }
        fwrite(buf, 1, k, out);
    }
}

/* Raw items for p[0..n), at most RAW_CHUNK bytes each, and never over what the parser takes
 * of one payload (the server's largest + 1). */
static void raw_items(const writer *W, const uint8_t *p, uint64_t n)
{
    uint64_t chunk = W->o->so.max_payload + 1 < RAW_CHUNK ? W->o->so.max_payload + 1 : RAW_CHUNK;
    for (uint64_t k = 0; k < n; k += chunk) {
        fputs(" raw ", W->out);
        payload(W->out, p + k, n - k < chunk ? n - k : chunk);
    }
}

/* Whether the client's bytes [from, to) of c are k >= 2 copies of one whole frame that starts a
 * frame at `from`: k, or 0. */
static uint64_t same_frames(const writer *W, const cap_conn *c, uint64_t from, uint64_t to,
                            uint64_t *cur)
{
    size_t size;
    uint64_t pl, k;
    if (wire_is_raw(W->o->framing) || to <= from ||
        wire_next_frame(W->o->framing, c->cli + from, (size_t)(c->ncli - from), W->o->max_frame,
                        &size, &pl) != WIRE_CUT_FRAME ||
        (to - from) % size != 0 || (k = (to - from) / size) < 2 || k > SAME_MAX ||
        !frame_start(W, c, from, cur))
        return 0;
    for (uint64_t i = 1; i < k; i++)
        if (memcmp(c->cli + from, c->cli + from + i * size, size) != 0)
            return 0;
    return k;
}

/* Items for the client's bytes [from, to) of c: `frame PAYLOAD` for each whole frame inside
 * whose encoding is the canonical one, raw bytes for the rest (a header split, a partial frame,
 * a non-canonical varint); k copies of one frame as `frame PAYLOAD xk`. *cur: the decoding
 * cursor of frame_start() (each caller keeps its own, as its `from` only grows). */
static void items(const writer *W, const cap_conn *c, uint64_t from, uint64_t to, uint64_t *cur)
{
    const imopts *o = W->o;
    uint64_t pos, raw_from = from, reps;
    FILE *out = W->out;
    if ((reps = same_frames(W, c, from, to, cur)) > 1) {
        items(W, c, from, from + (to - from) / reps, cur);
        fprintf(out, " x%" PRIu64, reps);
        return;
    }
    frame_start(W, c, from, cur); /* *cur: the last frame start at or before from */
    pos = *cur;
    while (pos < to) {
        size_t size;
        uint64_t pl;
        wire_cut k = wire_next_frame(o->framing, c->cli + pos, (size_t)(c->ncli - pos),
                                     o->max_frame, &size, &pl);
        if (k != WIRE_CUT_FRAME || wire_is_raw(o->framing))
            break;
        if (pos >= from && pos + size <= to) {
            size_t h = size - (size_t)pl - (wire_is_line(o->framing) ? 1 : 0);
            uint8_t enc[WIRE_MAX_HEADER];
            bool canon = wire_is_line(o->framing) ||
                         (wire_encode_header(o->framing, pl, enc) == h &&
                          !memcmp(enc, c->cli + pos, h));
            if (canon && pl <= o->so.max_payload) {
                if (raw_from < pos)
                    raw_items(W, c->cli + raw_from, pos - raw_from);
                fputs(" frame ", out);
                payload(out, c->cli + pos + h, pl);
                raw_from = pos + size;
            }
        }
        pos += size;
    }
    if (raw_from < to)
        raw_items(W, c->cli + raw_from, to - raw_from);
}

/* ---- the echo oracle ---- */

static long expect_ms(uint64_t bytes)
{
    uint64_t ms = EXPECT_MS + bytes / 20000;
    return (long)(ms > EXPECT_MAX_MS ? EXPECT_MAX_MS : ms);
}

/* Decode the client's bytes sent so far into whole frames: w->framed moves to the end of the
 * last whole frame. Returns the cut that stopped it (WIRE_CUT_MORE when all are whole). */
static wire_cut decode(const writer *W, wconn *w)
{
    for (;;) {
        size_t size;
        uint64_t pl;
        wire_cut k;
        if (w->framed >= w->sent)
            return WIRE_CUT_MORE;
        k = wire_next_frame(W->o->framing, w->c->cli + w->framed, (size_t)(w->sent - w->framed),
                            W->o->max_frame, &size, &pl);
        if (k != WIRE_CUT_FRAME)
            return k;
        w->framed += size;
    }
}

/* Expect the echoes owed on w (the whole frames sent and not yet expected), citing `req`, or
 * under FRAMING-1 what the writes made of them. */
static void await_echoes(writer *W, wconn *w, const char *req)
{
    uint64_t n = w->framed - w->expected;
    if (wire_is_raw(W->o->framing))
        n = (w->framed = w->sent) - w->expected;
    if (n == 0)
        return;
    if (req == NULL)
        req = w->split_seen ? "SEGMENTATION-5" : w->many_seen ? "SEGMENTATION-4" : "FRAMING-1";
    fprintf(W->out, "c%d expect", w->name);
    items(W, w->c, w->expected, w->framed, &w->cur_expect);
    fprintf(W->out, " within %ld  # %s\n", expect_ms(n), req);
    w->expected = w->framed;
    w->split_seen = w->many_seen = false;
}

/* Did the write [from, to) cut a frame, or hold more than one? (for the requirement cited) */
static void write_shape(writer *W, wconn *w, uint64_t from, uint64_t to)
{
    uint64_t pos = w->framed;
    unsigned whole = 0;
    while (pos < to) {
        size_t size;
        uint64_t pl;
        if (wire_next_frame(W->o->framing, w->c->cli + pos, (size_t)(to - pos), W->o->max_frame,
                            &size, &pl) != WIRE_CUT_FRAME) {
            w->split_seen = true; /* a frame this write does not finish */
            break;
        }
        if (pos < from)
            w->split_seen = true; /* it began in an earlier write */
        whole++;
        pos += size;
    }
    if (whole > 1)
        w->many_seen = true;
}

/* A bad header was sent on w: the echoes before it (LIMITS-4, a SHOULD), then a prompt close. */
static void refused(writer *W, wconn *w, wire_cut k)
{
    const char *req = k == WIRE_CUT_OVERSIZE ? "LIMITS-2"
                      : W->o->framing.kind == WIRE_VARINT ? "LIMITS-7" : "LIMITS-6";
    await_echoes(W, w, "LIMITS-4");
    fprintf(W->out, "c%d expect closed within %d before-idle  # %s\n", w->name, EXPECT_MS, req);
    fprintf(W->out, "c%d close\n", w->name);
    w->bad = w->done = true;
    W->oversize_seen = true;
}

/* A write whose bytes left with the client's FIN (the next event, at the same time: one
 * segment): `cork` keeps them together in the replay too (TCP_CORK, then the close or
 * shutdown sends both). */
static void cork_if_with_fin(writer *W, const wconn *w, const cap_event *e)
{
    const cap_event *n = e + 1;
    if (e->kind == CAP_WRITE && n < w->c->ev + w->c->nev && n->t_us == e->t_us &&
        (n->kind == CAP_SHUT_WR || n->kind == CAP_CLOSE) && !strncmp(W->cp_source, "pcap", 4))
        fprintf(W->out, "c%d cork\n", w->name);
}

static void echo_event(writer *W, wconn *w, const cap_event *e)
{
    switch (e->kind) {
    case CAP_WRITE: {
        wire_cut k;
        cork_if_with_fin(W, w, e);
        fprintf(W->out, "c%d send", w->name);
        items(W, w->c, e->off, e->off + e->len, &w->cur_send);
        fputc('\n', W->out);
        write_shape(W, w, e->off, e->off + e->len);
        w->sent = e->off + e->len;
        k = decode(W, w);
        if (k == WIRE_CUT_OVERSIZE || k == WIRE_CUT_MALFORMED)
            refused(W, w, k);
        return;
    }
    case CAP_SRV_DATA:
        await_echoes(W, w, NULL); /* the client read here: what it sent is owed by now */
        return;
    case CAP_SHUT_WR:
        fprintf(W->out, "c%d shutdown wr\n", w->name);
        w->shut = true;
        await_echoes(W, w, "HALFCLOSE-1");
        if (w->framed < w->sent)
            fprintf(W->out, "c%d expect closed within %d  # HALFCLOSE-2\n", w->name, EXPECT_MS);
        else
            fprintf(W->out, "c%d expect eof within %d  # HALFCLOSE-1\n", w->name, EXPECT_MS);
        return;
    case CAP_CLOSE:
    case CAP_ABORT:
        /* a client that waited before it closed waited for its echoes: they are owed by now */
        if (e->kind == CAP_CLOSE && e->t_us - w->last_us > WAITED_US)
            await_echoes(W, w, NULL);
        if (w->framed > w->expected && e->kind == CAP_CLOSE) {
            W->inflight_close = true; /* it closed with echoes unread: the kernel sends RST */
            W->reset_seen = true;
        }
        if (e->kind == CAP_ABORT)
            W->reset_seen = true;
        fprintf(W->out, "c%d %s\n", w->name, e->kind == CAP_ABORT ? "abort" : "close");
        w->done = true;
        return;
    default:
        /* the server's FIN or RST: what it owed the client by then comes first (a server
         * that closes a connection owing echoes fails here) */
        if (!w->shut)
            await_echoes(W, w, NULL);
        return;
    }
}

/* ---- the capture and close oracles ---- */

static void capture_event(writer *W, wconn *w, const cap_event *e, int64_t waited_us)
{
    int64_t waited_ms = waited_us / 1000;
    long ms = waited_ms > EXPECT_MAX_MS / 3 ? EXPECT_MAX_MS
              : waited_ms * 3 > EXPECT_MS   ? (long)(waited_ms * 3)
                                            : EXPECT_MS;
    switch (e->kind) {
    case CAP_WRITE:
        cork_if_with_fin(W, w, e);
        fprintf(W->out, "c%d send", w->name);
        items(W, w->c, e->off, e->off + e->len, &w->cur_send);
        fputc('\n', W->out);
        return;
    case CAP_SRV_DATA:
        if (W->o->orc == OR_CLOSE)
            return;
        fprintf(W->out, "c%d expect", w->name);
        raw_items(W, w->c->srv + e->off, e->len);
        fprintf(W->out, " within %ld\n", ms + expect_ms(e->len) - EXPECT_MS);
        return;
    case CAP_SRV_FIN:
    case CAP_SRV_RST:
        if (w->srv_closed) {
            /* an RST after its FIN (our later bytes met its closed socket): the connection
             * reports the first close it saw, which is expected already */
            fprintf(W->out, "c%d close\n", w->name);
            w->done = true;
            return;
        }
        w->srv_closed = true;
        fprintf(W->out, "c%d expect %s within %ld%s\n", w->name,
                e->kind == CAP_SRV_FIN ? "eof" : "reset", ms,
                W->o->orc == OR_CLOSE ? " discarding" : "");
        if (e->kind == CAP_SRV_RST) {
            fprintf(W->out, "c%d close\n", w->name);
            w->done = true;
        }
        return;
    case CAP_SHUT_WR:
        fprintf(W->out, "c%d shutdown wr\n", w->name);
        w->shut = true;
        return;
    case CAP_CLOSE:
    case CAP_ABORT:
        fprintf(W->out, "c%d %s\n", w->name, e->kind == CAP_ABORT ? "abort" : "close");
        w->done = true;
        return;
    }
}

/* ---- the scenario ---- */

/* The next event in time order over the connections written (ties: the earlier connection).
 * NULL when none is left; *which is its connection. */
static const cap_event *next_event(writer *W, size_t *which)
{
    static const cap_event connect_ev; /* a connection's connect: not one of its events */
    const cap_event *best = NULL;
    int64_t best_t = 0;
    for (size_t i = 0; i < W->n; i++) {
        wconn *w = &W->w[i];
        int64_t t;
        if (w->done || (w->connected && w->next >= w->c->nev))
            continue;
        t = w->connected ? w->c->ev[w->next].t_us : w->c->t0_us;
        if (best == NULL || t < best_t) {
            best = w->connected ? &w->c->ev[w->next] : &connect_ev;
            best_t = t;
            *which = i;
        }
    }
    return best;
}

/* A pause the client took before its action at t_us (since the last event written). */
static void pause_before(writer *W, int64_t t_us)
{
    int64_t ms = (t_us - W->last_us) / 1000;
    if (ms > PAUSE_MIN_MS) {
        if (ms > SC_MAX_SLEEP_MS) {
            ms = SC_MAX_SLEEP_MS; /* a longer sleep needs replay --timeout: kept at a minute */
            W->sleeps_capped++;
        }
        fprintf(W->out, "sleep %" PRId64 "\n", ms);
    }
}

static void steps(writer *W)
{
    const cap_event *e;
    size_t i;
    while ((e = next_event(W, &i)) != NULL) {
        wconn *w = &W->w[i];
        bool client = e->kind == CAP_WRITE || e->kind == CAP_SHUT_WR || e->kind == CAP_CLOSE ||
                      e->kind == CAP_ABORT;
        int64_t waited = e->t_us - w->last_us;
        if (!w->connected) {
            pause_before(W, w->c->t0_us);
            fprintf(W->out, "connect c%d\n", w->name);
            w->connected = true;
            W->last_us = w->last_us = w->c->t0_us;
            continue;
        }
        if (client)
            pause_before(W, e->t_us);
        if (W->o->orc == OR_ECHO)
            echo_event(W, w, e);
        else
            capture_event(W, w, e, waited);
        w->next++;
        if (e->t_us > W->last_us)
            W->last_us = e->t_us;
        w->last_us = e->t_us;
    }
    /* the end: what each connection still owes, then a plain close */
    for (i = 0; i < W->n; i++) {
        wconn *w = &W->w[i];
        if (!w->connected || w->done)
            continue;
        if (W->o->orc == OR_ECHO)
            await_echoes(W, w, NULL);
        fprintf(W->out, "c%d close\n", w->name);
    }
    if (W->o->orc == OR_ECHO)
        fprintf(W->out, "expect server-alive  # %s\n",
                W->inflight_close ? "RESET-2" : W->reset_seen ? "RESET-1"
                : W->oversize_seen ? "LIMITS-5" : "RESOURCES-1");
}

/* What the connection shows: "1234 bytes in 5 writes, then SHUT_WR; the server: 800 bytes,
 * then RST". */
static void describe(const cap_conn *c, char *out, size_t n)
{
    size_t writes = 0;
    const char *cend = "open at the end", *send = "open at the end";
    for (size_t k = 0; k < c->nev; k++) {
        switch (c->ev[k].kind) {
        case CAP_WRITE: writes++; break;
        case CAP_SHUT_WR: cend = "then SHUT_WR"; break;
        case CAP_CLOSE: cend = strcmp(cend, "then SHUT_WR") ? "then close" : "then SHUT_WR, close"; break;
        case CAP_ABORT: cend = "then RST"; break;
        case CAP_SRV_FIN: send = "then FIN"; break;
        case CAP_SRV_RST: send = "then RST"; break;
        default: break;
        }
    }
    snprintf(out, n, "the client sent %" PRIu64 " bytes in %zu writes, %s; the server sent %"
             PRIu64 " bytes, %s", c->ncli, writes, cend, c->nsrv, send);
}

static void header(writer *W, const capture *cp)
{
    const imopts *o = W->o;
    char when[64] = "", what[256];
    if (cp->t0_unix_us > 0) {
        time_t t = (time_t)(cp->t0_unix_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, ", from %Y-%m-%d %H:%M:%S UTC", &tm);
    }
    fprintf(W->out, "# framespec import of %s (%s)%s\n", o->file, cp->source, when);
    for (size_t i = 0; i < W->n; i++) {
        const cap_conn *c = W->w[i].c;
        describe(c, what, sizeof what);
        fprintf(W->out, "# c%d: connection %zu of %zu, %s, at +%.3f s%s: %s%s%s\n", W->w[i].name,
                (size_t)(c - cp->c) + 1, cp->n, c->tuple, (double)c->t0_us / 1e6,
                c->handshake ? "" : " (no handshake in the capture)", what,
                c->notes[0] ? "; " : "", c->notes);
    }
    if (o->orc == OR_ECHO)
        fprintf(W->out, "# oracle: echo (docs/spec.md, framing %s, max frame %" PRIu64 "): each "
                "complete frame echoed, SHUT_WR answered by the echoes then FIN, a header over "
                "the maximum refused\n", wire_framing_name(&o->framing), o->max_frame);
    else
        fprintf(W->out, "# oracle: %s: %s\n", ORACLES[o->orc], o->orc == OR_CAPTURE
                ? "the server's bytes and its close, as captured"
                : "how the server closed, as captured (its bytes are not judged)");
}

/* Write the scenario for the chosen connections into a memory buffer, and parse it back. */
static int write_scenario(const imopts *o, const capture *cp, char **text, size_t *len)
{
    writer W = {.o = o};
    scenario s;
    FILE *m;
    int rc;
    W.w = calloc(cp->n, sizeof *W.w);
    if (W.w == NULL)
        return -1;
    for (size_t i = 0; i < cp->n; i++)
        if (o->only == 0 || o->only == i + 1) {
            W.w[W.n].c = &cp->c[i];
            W.w[W.n].name = (int)W.n + 1;
            W.n++;
        }
    m = open_memstream(text, len);
    if (m == NULL) {
        free(W.w);
        return -1;
    }
    W.out = m;
    W.cp_source = cp->source;
    W.last_us = W.n ? W.w[0].c->t0_us : 0;
    header(&W, cp);
    fprintf(m, "framing %s\n", wire_framing_name(&o->framing));
    steps(&W);
    if (W.sleeps_capped)
        fprintf(m, "# %" PRIu64 " pauses over a minute were cut to a minute\n", W.sleeps_capped);
    fclose(m);
    free(W.w);
    sc_init(&s);
    s.payload_bound = o->so.max_payload;
    rc = sc_parse_buf(&s, "import", *text, *len, stderr);
    sc_free(&s);
    if (rc < 0) {
        fprintf(stderr, "framespec import: the scenario written does not parse (a bug of "
                        "import: please report it with the capture)\n");
        return -1;
    }
    return 0;
}

int import_write(const capture *cp, const char *origin, wire_framing f, uint64_t max_frame,
                 const char *oracle_name, char **text, size_t *len)
{
    imopts o = {0};
    opts_server_init(&o.so);
    o.file = origin;
    o.so.framing = o.framing = f;
    o.so.max_frame = max_frame;
    o.so.max_frame_given = true;
    if (opts_server_finish("import", &o.so) != 0)
        return -1;
    o.max_frame = o.so.max_frame;
    o.orc = OR_CAPTURE;
    for (int k = 0; k < 3; k++)
        if (!strcmp(oracle_name, ORACLES[k]))
            o.orc = (oracle)k;
    *text = NULL;
    return write_scenario(&o, cp, text, len);
}

/* pcap, pcapng or strace, from --format or the first bytes. */
static bool is_pcap(const imopts *o)
{
    unsigned char m[4] = {0};
    FILE *f;
    if (o->format)
        return !strcmp(o->format, "pcap");
    f = fopen(o->file, "rb");
    if (f == NULL)
        return false; /* the reader says why */
    if (fread(m, 1, 4, f) != 4)
        m[0] = 0;
    fclose(f);
    return !memcmp(m, "\xd4\xc3\xb2\xa1", 4) || !memcmp(m, "\xa1\xb2\xc3\xd4", 4) ||
           !memcmp(m, "\x4d\x3c\xb2\xa1", 4) || !memcmp(m, "\xa1\xb2\x3c\x4d", 4) ||
           !memcmp(m, "\x0a\x0d\x0d\x0a", 4);
}

int import_main(int argc, char **argv)
{
    imopts o = {0};
    capture cp;
    char err[2048], *text = NULL, what[256], mf[48] = "";
    size_t len = 0;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    {
        struct stat sb;
        const char *why = stat(o.file, &sb) < 0 ? strerror(errno)
                          : S_ISDIR(sb.st_mode) ? "a directory"
                          : S_ISREG(sb.st_mode) && sb.st_size == 0 ? "empty" : NULL;
        if (why != NULL) {
            fprintf(stderr, "framespec import: %s: %s: give a capture (tcpdump -w FILE) or an "
                            "strace log (strace -f -tt -s 99999 -o FILE CLIENT)\n", o.file, why);
            return 2;
        }
    }
    rc = is_pcap(&o) ? cap_read_pcap(o.file, o.server, &cp, err, sizeof err)
                     : cap_read_strace(o.file, o.server, &cp, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "framespec import: %s\n", err);
        return 2;
    }
    if (o.only > cp.n) {
        fprintf(stderr, "framespec import: --connection %zu: %s has %zu connection%s\n", o.only,
                o.file, cp.n, cp.n == 1 ? "" : "s");
        cap_free(&cp);
        return 2;
    }
    for (size_t i = 0; i < cp.n; i++) {
        describe(&cp.c[i], what, sizeof what);
        fprintf(stderr, "framespec import: connection %zu: %s: %s\n", i + 1, cp.c[i].tuple, what);
    }
    if (cp.note[0])
        fprintf(stderr, "framespec import: note: %s\n", cp.note);
    if (write_scenario(&o, &cp, &text, &len) < 0) {
        free(text);
        cap_free(&cp);
        return 2;
    }
    cap_free(&cp);
    if (o.out) {
        FILE *f = fopen(o.out, "w");
        bool ok = f != NULL && fwrite(text, 1, len, f) == len;
        if (f != NULL && fclose(f) != 0)
            ok = false;
        if (!ok) {
            fprintf(stderr, "framespec import: cannot write %s: %s\n", o.out, strerror(errno));
            free(text);
            return 2;
        }
        if (o.so.max_frame_given)
            snprintf(mf, sizeof mf, " --max-frame %" PRIu64, o.so.max_frame);
        fprintf(stderr, "framespec import: wrote %s; replay it: framespec replay %s%s "
                        "(--target HOST:PORT | --exec 'SERVER ... {port} ...')\n", o.out, o.out,
                mf);
    } else
        fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}
