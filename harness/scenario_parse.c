/*
 * scenario_parse.c — the scenario language's keyword table, its parser (text -> steps) and its
 * printer (steps -> text). The grammar is docs/replay.md; scenario.h has the contracts.
 *
 * One table (keywords[] below) names every step: its words, whether it takes a connection, the
 * function that parses the rest of its line and the one that prints it back. Adding a keyword is
 * one row and two small functions.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "opts.h"

/* ---- the parser's context ---- */

typedef struct {
    const char *t, *e;  /* the token [t, e) */
    bool unterminated;  /* a "string without its closing quote */
} tok;

enum { CS_NONE, CS_OPEN, CS_SHUT, CS_CLOSED, CS_GONE }; /* a connection's state while parsing
                                                         * (CS_GONE: its peer vanished) */

typedef struct {
    scenario *s;
    const char *name;   /* the file, for messages */
    FILE *err;
    int line;
    const char *start;  /* the line, for columns */
    const char *end;    /* the line's end */
    const char *pos;    /* the next token starts at or after this */
    struct {
        unsigned char state;
        int line;       /* where it last changed */
    } *conns;           /* parallel to s->names */
    size_t conns_cap;
    bool seen_step;     /* a step other than `framing` was parsed */
} pctx;

static int perr(const pctx *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(const pctx *p, const char *at, const char *fmt, ...)
{
    va_list ap;
    if (at < p->start || at > p->end)
        at = p->start;
    fprintf(p->err, "%s:%d:%d: error: ", p->name, p->line, (int)(at - p->start) + 1);
    va_start(ap, fmt);
    vfprintf(p->err, fmt, ap);
    va_end(ap);
    fputc('\n', p->err);
    return -1;
}

/* A token for messages: at most SC_QUOTE_MAX characters, then "...". */
#define QUOTE(k) (int)((k).e - (k).t > SC_QUOTE_MAX ? SC_QUOTE_MAX : (k).e - (k).t), (k).t, \
                 ((k).e - (k).t > SC_QUOTE_MAX ? "..." : "")

static tok next(pctx *p)
{
    tok k = {0};
    const char *s = p->pos;
    while (s < p->end && (*s == ' ' || *s == '\t'))
        s++;
    k.t = s;
    if (s < p->end && *s == '"') {
        s++;
        while (s < p->end && *s != '"') {
            if (*s == '\\' && s + 1 < p->end)
                s++;
            s++;
        }
        if (s < p->end)
            s++;
        else
            k.unterminated = true;
    } else {
        while (s < p->end && *s != ' ' && *s != '\t')
            s++;
    }
    k.e = s;
    p->pos = s;
    return k;
}

/* Look at the next token without taking it. */
static tok peek(pctx *p)
{
    const char *save = p->pos;
    tok k = next(p);
    p->pos = save;
    return k;
}

static bool is(tok k, const char *word)
{
    size_t l = strlen(word);
    return (size_t)(k.e - k.t) == l && memcmp(k.t, word, l) == 0;
}

static bool empty(tok k)
{
    return k.t == k.e;
}

/* A decimal (K/M/G ok) in [lo, hi] from the token's [t + skip, e). */
static int tok_u64(tok k, size_t skip, uint64_t lo, uint64_t hi, uint64_t *v)
{
    char num[32];
    size_t l = (size_t)(k.e - k.t);
    if (l <= skip || l - skip >= sizeof num)
        return -1;
    memcpy(num, k.t + skip, l - skip);
    num[l - skip] = '\0';
    return opts_u64(num, lo, hi, v);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch < 0 || ch > 255)
        return -1; /* a byte over 0x7f in a signed char: tolower() must not see it */
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static bool valid_name(tok k)
{
    if (empty(k) || k.e - k.t >= 32 || !(isalpha((unsigned char)*k.t) || *k.t == '_'))
        return false;
    for (const char *s = k.t; s < k.e; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* ---- payloads and items ---- */

static void payload_free(sc_payload *pl)
{
    free(pl->bytes);
    pl->bytes = NULL;
}

static void items_free(sc_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        payload_free(&items[i].p);
    free(items);
}

/* PAYLOAD: "text" | hex:HEX | size:N | text:N. */
static int parse_payload(pctx *p, tok k, sc_payload *out)
{
    memset(out, 0, sizeof *out);
    if (empty(k))
        return perr(p, k.t, "expected a payload: \"text\", hex:HEX, size:N or text:N");
    if (*k.t == '"') {
        size_t n = 0;
        if (k.unterminated || k.e - k.t < 2)
            return perr(p, k.t, "unterminated string: the closing \" is missing");
        out->bytes = malloc((size_t)(k.e - k.t));
        if (out->bytes == NULL)
            return perr(p, k.t, "out of memory");
        for (const char *s = k.t + 1; s < k.e - 1; s++) {
            if (*s != '\\') {
                out->bytes[n++] = (uint8_t)*s;
                continue;
            }
            s++;
            switch (*s) {
            case 'n': out->bytes[n++] = '\n'; break;
            case 'r': out->bytes[n++] = '\r'; break;
            case 't': out->bytes[n++] = '\t'; break;
            case '0': out->bytes[n++] = 0; break;
            case '\\': out->bytes[n++] = '\\'; break;
            case '"': out->bytes[n++] = '"'; break;
            case 'x':
                if (s + 2 < k.e - 1 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    out->bytes[n++] = (uint8_t)(hexval(s[1]) * 16 + hexval(s[2]));
                    s += 2;
                    break;
                }
                /* fall through */
            default:
                payload_free(out);
                return perr(p, s - 1, "unknown escape '\\%c' (use \\n \\r \\t \\0 \\\\ \\\" \\xHH)",
                            *s);
            }
        }
        out->kind = SC_P_BYTES;
        out->len = n;
        return 0;
    }
    if (k.e - k.t >= 4 && memcmp(k.t, "hex:", 4) == 0) {
        size_t nd = (size_t)(k.e - k.t - 4);
        if (nd % 2 != 0)
            return perr(p, k.t, "hex: needs an even number of hex digits");
        out->kind = SC_P_BYTES;
        out->len = nd / 2;
        if (nd == 0)
            return 0;
        out->bytes = malloc(nd / 2);
        if (out->bytes == NULL)
            return perr(p, k.t, "out of memory");
        for (size_t i = 0; i < nd; i += 2) {
            const char *s = k.t + 4 + i;
            if (hexval(s[0]) < 0 || hexval(s[1]) < 0) {
                payload_free(out);
                return perr(p, hexval(s[0]) < 0 ? s : s + 1, "not a hex digit");
            }
            out->bytes[i / 2] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
        }
        return 0;
    }
    if ((k.e - k.t >= 5 && memcmp(k.t, "size:", 5) == 0) ||
        (k.e - k.t >= 5 && memcmp(k.t, "text:", 5) == 0)) {
        out->kind = *k.t == 's' ? SC_P_SIZE : SC_P_TEXT;
        if (tok_u64(k, 5, 0, 1ull << 32, &out->len) < 0)
            return perr(p, k.t + 5, "%.5s needs a byte count 0..4G (K/M/G ok), got '%.*s%s'",
                        k.t, QUOTE(((tok){k.t + 5, k.e, false})));
        return 0;
    }
    return perr(p, k.t, "expected a payload: \"text\", hex:HEX, size:N or text:N; got '%.*s%s'",
                QUOTE(k));
}

/* The payload's byte i. */
static uint8_t payload_byte(const sc_payload *pl, uint64_t i)
{
    switch (pl->kind) {
    case SC_P_SIZE: return (uint8_t)i;
    case SC_P_TEXT: return (uint8_t)('a' + i % 26);
    default: return pl->bytes[i];
    }
}

uint64_t sc_item_size(const sc_item *it, wire_framing f)
{
    return it->framed ? wire_frame_size(f, (size_t)it->p.len) : it->p.len;
}

void sc_item_bytes(const sc_item *it, wire_framing f, uint8_t *out)
{
    size_t hl = it->framed ? wire_encode_header(f, it->p.len, out) : 0;
    uint8_t *p = out + hl;
    uint64_t len = it->p.len, period = it->p.kind == SC_P_SIZE ? 256 : 26 * 256;
    if (it->p.kind == SC_P_BYTES) {
        if (len > 0)
            memcpy(p, it->p.bytes, (size_t)len);
    } else {
        /* one period of the pattern, then copies of what is done (doubling): a 16 MiB payload
         * is built in milliseconds, not tens of them */
        uint64_t done = len < period ? len : period;
        for (uint64_t i = 0; i < done; i++)
            p[i] = payload_byte(&it->p, i);
        while (done < len) {
            uint64_t k = done <= len - done ? done : len - done;
            memcpy(p + done, p, (size_t)k);
            done += k;
        }
    }
    if (it->framed && wire_is_line(f))
        out[hl + it->p.len] = '\n';
}

/* Does a frame payload of this framing hold a '\n' (not allowed with line framing)? */
static bool payload_has_newline(const sc_payload *pl)
{
    if (pl->kind == SC_P_SIZE)
        return pl->len > '\n';
    if (pl->kind == SC_P_TEXT)
        return false;
    return pl->len > 0 && memchr(pl->bytes, '\n', (size_t)pl->len) != NULL;
}

/* Check one item against the framing and the limits. */
static int item_fits(pctx *p, tok at, const sc_item *it)
{
    scenario *s = p->s;
    if (it->framed && it->p.len > wire_max_expressible(s->framing))
        return perr(p, at.t, "a frame payload of %llu bytes does not fit framing %s (at most %llu)",
                    (unsigned long long)it->p.len, wire_framing_name(&s->framing),
                    (unsigned long long)wire_max_expressible(s->framing));
    if (it->p.len > s->max_frame + 1)
        return perr(p, at.t, "a payload of %llu bytes is over --max-frame + 1 (%llu); give a "
                             "larger --max-frame to allow it",
                    (unsigned long long)it->p.len, (unsigned long long)s->max_frame + 1);
    if (it->framed && wire_is_line(s->framing) && payload_has_newline(&it->p))
        return perr(p, at.t, "a line-framing payload cannot contain '\\n' (size:N does past 10 "
                             "bytes; text:N never does)");
    return 0;
}

/* ITEM [ITEM ...] where ITEM is `frame PAYLOAD` or `raw PAYLOAD`. Allocates st->items. */
static int parse_items(pctx *p, sc_step *st, bool frames_only)
{
    size_t cap = 0;
    for (;;) {
        tok k = peek(p), pk;
        sc_item it;
        if (!is(k, "frame") && !(is(k, "raw") && !frames_only)) {
            if (st->nitems > 0)
                return 0;
            return perr(p, k.t, "expected 'frame'%s, got '%.*s%s'",
                        frames_only ? "" : " or 'raw'", QUOTE(k));
        }
        next(p);
        it.framed = is(k, "frame");
        pk = next(p);
        if (parse_payload(p, pk, &it.p) < 0)
            return -1;
        if (item_fits(p, pk, &it) < 0) {
            payload_free(&it.p);
            return -1;
        }
        if (st->nitems == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sc_item *ni = realloc(st->items, nc * sizeof *ni);
            if (ni == NULL) {
                payload_free(&it.p);
                return perr(p, k.t, "out of memory");
            }
            st->items = ni;
            cap = nc;
        }
        st->items[st->nitems++] = it;
    }
}

/* The bytes a send or expect stands for, items x reps. */
static uint64_t step_bytes(const scenario *s, const sc_step *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < st->nitems; i++)
        n += sc_item_size(&st->items[i], s->framing);
    return n * st->reps;
}

/* [xN]: N copies, 1..100000000. */
static int parse_reps(pctx *p, sc_step *st)
{
    tok k = peek(p);
    st->reps = 1;
    if (empty(k) || *k.t != 'x')
        return 0;
    next(p);
    if (tok_u64(k, 1, 1, 100000000, &st->reps) < 0)
        return perr(p, k.t, "xN needs a count 1..100000000, got '%.*s%s'", QUOTE(k));
    return 0;
}

static int parse_ms_tok(pctx *p, tok k, long *ms)
{
    uint64_t v;
    if (tok_u64(k, 0, 0, 86400000, &v) < 0)
        return perr(p, k.t, "expected milliseconds (0..86400000), got '%.*s%s'", QUOTE(k));
    *ms = (long)v;
    return 0;
}

/* A sleep or pause: over SC_MAX_SLEEP_MS only when long sleeps are allowed. */
static int parse_sleep_ms(pctx *p, tok k, long *ms)
{
    if (parse_ms_tok(p, k, ms) < 0)
        return -1;
    if (*ms > SC_MAX_SLEEP_MS && !p->s->long_sleeps)
        return perr(p, k.t, "a wait of %ld ms is longer than %d ms: give --timeout SECONDS to "
                            "allow it", *ms, SC_MAX_SLEEP_MS);
    return 0;
}

/* `word MS` */
static int parse_word_ms(pctx *p, const char *word, long *ms)
{
    tok k = next(p);
    if (!is(k, word))
        return perr(p, k.t, "expected '%s MS', got '%.*s%s'", word, QUOTE(k));
    return parse_ms_tok(p, next(p), ms);
}

/* Account the step's bytes against SC_MAX_BYTES. */
static int account(pctx *p, const sc_step *st, tok at)
{
    uint64_t n = 0, one = 0;
    for (size_t i = 0; i < st->nitems; i++)
        one += sc_item_size(&st->items[i], p->s->framing);
    if (st->kind == SC_FLOOD)
        n = st->limit + one; /* what it may send */
    else if (one > 0 && st->reps > SC_MAX_BYTES / one)
        n = SC_MAX_BYTES + 1;
    else
        n = one * st->reps;
    if (p->s->bytes + n > SC_MAX_BYTES)
        return perr(p, at.t, "the scenario's payloads would hold more than %llu MiB",
                    SC_MAX_BYTES >> 20);
    p->s->bytes += n;
    return 0;
}

/* ---- one small function per keyword ---- */

static bool is_keyword(tok k);

static int kw_framing(pctx *p, sc_step *st)
{
    tok k = next(p);
    char f[128] = "", why[256];
    if ((size_t)(k.e - k.t) < sizeof f)
        memcpy(f, k.t, (size_t)(k.e - k.t));
    if (wire_parse_framing(f, &st->framing, why, sizeof why) < 0)
        return perr(p, k.t, "framing '%.*s%s': %s", QUOTE(k), why);
    if (p->seen_step || p->s->n > 0)
        return perr(p, p->start, "'framing' must come before every other step (it says how "
                                 "all of them are encoded)");
    p->s->framing = st->framing;
    return 0;
}

static int kw_connect(pctx *p, sc_step *st)
{
    tok k = next(p);
    char name[32] = "c";
    if (!empty(k)) {
        if (!valid_name(k))
            return perr(p, k.t, "bad connection name '%.*s%s' (a letter or _, then letters, "
                                "digits, _ or -; at most 31)", QUOTE(k));
        if (is_keyword(k))
            return perr(p, k.t, "'%.*s' is a step's keyword: name the connection otherwise",
                        (int)(k.e - k.t), k.t);
        memcpy(name, k.t, (size_t)(k.e - k.t));
        name[k.e - k.t] = '\0';
    }
    st->conn = sc_conn(p->s, name);
    if (st->conn < 0)
        return perr(p, k.t, "too many connections (at most %d) or out of memory", SC_MAX_CONNS);
    return 0;
}

/* send ITEM... [xN] [by N | at O,O,...] [pause MS] */
static int parse_send_tail(pctx *p, sc_step *st)
{
    tok k;
    uint64_t total;
    if (parse_reps(p, st) < 0)
        return -1;
    total = step_bytes(p->s, st);
    k = peek(p);
    if (is(k, "by")) {
        next(p);
        k = next(p);
        if (tok_u64(k, 0, 1, 1u << 30, &st->by) < 0)
            return perr(p, k.t, "by N needs a byte count 1..1G, got '%.*s%s'", QUOTE(k));
    } else if (is(k, "at")) {
        const char *s;
        next(p);
        k = next(p);
        s = k.t;
        while (s < k.e) {
            const char *c = memchr(s, ',', (size_t)(k.e - s));
            tok one = {s, c ? c : k.e, false};
            uint64_t v;
            if (st->ncuts == SC_MAX_CUTS)
                return perr(p, s, "at most %d cut points", SC_MAX_CUTS);
            if (tok_u64(one, 0, 1, UINT64_MAX, &v) < 0 || v >= total ||
                (st->ncuts > 0 && v <= st->cuts[st->ncuts - 1]))
                return perr(p, s, "at O,O,... needs increasing byte offsets inside the %llu "
                                  "bytes sent, got '%.*s%s'",
                            (unsigned long long)total, QUOTE(one));
            st->cuts[st->ncuts++] = v;
            s = c ? c + 1 : k.e;
            if (c != NULL && s == k.e)
                return perr(p, c, "at O,O,...: a comma with no offset after it");
        }
        if (st->ncuts == 0)
            return perr(p, k.t, "at needs byte offsets: at 3,10");
    }
    if (is(peek(p), "pause")) {
        next(p);
        if (parse_sleep_ms(p, next(p), &st->pause_ms) < 0)
            return -1;
    }
    return 0;
}

static int kw_send(pctx *p, sc_step *st)
{
    if (parse_items(p, st, false) < 0)
        return -1;
    return parse_send_tail(p, st);
}

/* send-sliced frame PAYLOAD by N [pause MS]: the older spelling of `send frame P by N` */
static int kw_send_sliced(pctx *p, sc_step *st)
{
    if (parse_items(p, st, true) < 0 || parse_send_tail(p, st) < 0)
        return -1;
    if (st->by == 0)
        return perr(p, p->pos, "send-sliced needs 'by N'");
    return 0;
}

static int kw_shutdown(pctx *p, sc_step *st)
{
    tok k = next(p);
    if (is(k, "wr"))
        st->how = SHUT_WR;
    else if (is(k, "rd"))
        st->how = SHUT_RD;
    else if (is(k, "rdwr"))
        st->how = SHUT_RDWR;
    else
        return perr(p, k.t, "shutdown takes wr, rd or rdwr, got '%.*s%s'", QUOTE(k));
    return 0;
}

static int kw_none(pctx *p, sc_step *st)
{
    (void)p;
    (void)st;
    return 0;
}

static int kw_sleep(pctx *p, sc_step *st)
{
    return parse_sleep_ms(p, next(p), &st->ms);
}

static int kw_server_start(pctx *p, sc_step *st)
{
    tok k = next(p);
    if (is(k, "same-port"))
        st->how = 1;
    else if (!is(k, "new-port"))
        return perr(p, k.t, "server start takes same-port or new-port, got '%.*s%s'", QUOTE(k));
    return 0;
}

static int kw_within(pctx *p, sc_step *st)
{
    return parse_word_ms(p, "within", &st->ms);
}

static int kw_for(pctx *p, sc_step *st)
{
    return parse_word_ms(p, "for", &st->ms);
}

static int kw_expect_bytes(pctx *p, sc_step *st)
{
    if (parse_items(p, st, false) < 0 || parse_reps(p, st) < 0)
        return -1;
    return kw_within(p, st);
}

/* ping ITEM... [xN] p90 within MS: N round trips of at most 10000 */
static int kw_ping(pctx *p, sc_step *st)
{
    tok k;
    if (parse_items(p, st, false) < 0 || parse_reps(p, st) < 0)
        return -1;
    if (st->reps > 10000)
        return perr(p, p->start, "ping takes at most x10000 round trips");
    k = next(p);
    if (!is(k, "p90"))
        return perr(p, k.t, "expected 'p90 within MS' (the 90th percentile round trip), got "
                            "'%.*s%s'", QUOTE(k));
    return kw_within(p, st);
}

/* flood ITEM... at-most BYTES [then shutdown | then term] within MS */
static int kw_flood(pctx *p, sc_step *st)
{
    tok k;
    if (parse_items(p, st, false) < 0)
        return -1;
    if (step_bytes(p->s, st) == 0)
        return perr(p, p->start, "flood needs items of at least one byte to send");
    k = next(p);
    if (!is(k, "at-most"))
        return perr(p, k.t, "expected 'at-most BYTES' (what the server may take from a peer that "
                            "does not read), got '%.*s%s'", QUOTE(k));
    k = next(p);
    if (tok_u64(k, 0, 1, SC_MAX_BYTES / 2, &st->limit) < 0)
        return perr(p, k.t, "at-most needs a byte count 1..%lluM (K/M/G ok), got '%.*s%s'",
                    (SC_MAX_BYTES / 2) >> 20, QUOTE(k));
    if (is(peek(p), "then")) {
        next(p);
        k = next(p);
        if (is(k, "shutdown"))
            st->how = 1;
        else if (is(k, "term"))
            st->how = 2;
        else
            return perr(p, k.t, "expected 'then shutdown' (SHUT_WR once the server stops "
                                "reading) or 'then term' (SIGTERM then), got '%.*s%s'", QUOTE(k));
    }
    return kw_within(p, st);
}

/* expect prefix ITEM... [xN] then eof within MS */
static int kw_expect_prefix(pctx *p, sc_step *st)
{
    tok k;
    if (parse_items(p, st, false) < 0 || parse_reps(p, st) < 0)
        return -1;
    k = next(p);
    if (!is(k, "then") || !is(next(p), "eof"))
        return perr(p, k.t, "expected 'then eof within MS' after the items of 'expect prefix'");
    return kw_within(p, st);
}

/* vanish [pending] */
static int kw_vanish(pctx *p, sc_step *st)
{
    tok k = peek(p);
    if (is(k, "pending")) {
        next(p);
        st->how = 1;
    }
    return 0;
}

/* ---- printing ---- */

static void print_payload(FILE *out, const sc_payload *pl)
{
    bool text = true;
    if (pl->kind == SC_P_SIZE || pl->kind == SC_P_TEXT) {
        fprintf(out, "%s:%llu", pl->kind == SC_P_SIZE ? "size" : "text",
                (unsigned long long)pl->len);
        return;
    }
    for (uint64_t i = 0; i < pl->len; i++)
        if (pl->bytes[i] < 0x20 || pl->bytes[i] > 0x7e)
            text = false;
    if (text) {
        fputc('"', out);
        for (uint64_t i = 0; i < pl->len; i++) {
            if (pl->bytes[i] == '"' || pl->bytes[i] == '\\')
                fputc('\\', out);
            fputc(pl->bytes[i], out);
        }
        fputc('"', out);
        return;
    }
    fputs("hex:", out);
    for (uint64_t i = 0; i < pl->len; i++)
        fprintf(out, "%02x", pl->bytes[i]);
}

static void print_items(FILE *out, const sc_step *st)
{
    for (size_t i = 0; i < st->nitems; i++) {
        fprintf(out, " %s ", st->items[i].framed ? "frame" : "raw");
        print_payload(out, &st->items[i].p);
    }
    if (st->reps > 1)
        fprintf(out, " x%llu", (unsigned long long)st->reps);
}

static void pr_none(FILE *out, const scenario *s, const sc_step *st)
{
    (void)out;
    (void)s;
    (void)st;
}

static void pr_framing(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " %s", wire_framing_name(&st->framing));
}

static void pr_connect(FILE *out, const scenario *s, const sc_step *st)
{
    fprintf(out, " %s", s->names[st->conn]);
}

static void pr_send(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    print_items(out, st);
    if (st->by)
        fprintf(out, " by %llu", (unsigned long long)st->by);
    for (size_t i = 0; i < st->ncuts; i++)
        fprintf(out, "%s%llu", i ? "," : " at ", (unsigned long long)st->cuts[i]);
    if (st->pause_ms)
        fprintf(out, " pause %ld", st->pause_ms);
}

static void pr_shutdown(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fputs(st->how == SHUT_WR ? " wr" : st->how == SHUT_RD ? " rd" : " rdwr", out);
}

static void pr_ms(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " %ld", st->ms);
}

static void pr_server_start(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fputs(st->how == 1 ? " same-port" : " new-port", out);
}

static void pr_within(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " within %ld", st->ms);
}

static void pr_for(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " for %ld", st->ms);
}

static void pr_expect_bytes(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    pr_within(out, s, st);
}

static void pr_vanish(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    if (st->how == 1)
        fputs(" pending", out);
}

static void pr_ping(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fputs(" p90", out);
    pr_within(out, s, st);
}

static void pr_flood(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fprintf(out, " at-most %llu%s", (unsigned long long)st->limit,
            st->how == 1 ? " then shutdown" : st->how == 2 ? " then term" : "");
    pr_within(out, s, st);
}

static void pr_expect_prefix(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fputs(" then eof", out);
    pr_within(out, s, st);
}

/* ---- the table ---- */

typedef struct {
    const char *word, *word2; /* `word [word2]`; word2 NULL: the parse function reads on */
    sc_kind kind;
    bool conn;                /* takes a connection name (default c) */
    int (*parse)(pctx *, sc_step *);
    void (*print)(FILE *, const scenario *, const sc_step *);
} keyword;

/* The first row of a kind is the one printed (send-sliced is read, and printed as send). */
static const keyword keywords[] = {
    {"framing", NULL, SC_FRAMING, false, kw_framing, pr_framing},
    {"connect", NULL, SC_CONNECT, false, kw_connect, pr_connect},
    {"send", NULL, SC_SEND, true, kw_send, pr_send},
    {"send-sliced", NULL, SC_SEND, true, kw_send_sliced, pr_send},
    {"shutdown", NULL, SC_SHUTDOWN, true, kw_shutdown, pr_shutdown},
    {"abort", NULL, SC_ABORT, true, kw_none, pr_none},
    {"close", NULL, SC_CLOSE, true, kw_none, pr_none},
    {"stop-reading", NULL, SC_STOP_READING, true, kw_none, pr_none},
    {"resume-reading", NULL, SC_RESUME_READING, true, kw_none, pr_none},
    {"cork", NULL, SC_CORK, true, kw_none, pr_none},
    {"ping", NULL, SC_PING, true, kw_ping, pr_ping},
    {"flood", NULL, SC_FLOOD, true, kw_flood, pr_flood},
    {"vanish", NULL, SC_VANISH, true, kw_vanish, pr_vanish},
    {"middlebox-reset", NULL, SC_MIDDLEBOX_RESET, true, kw_none, pr_none},
    {"sleep", NULL, SC_SLEEP, false, kw_sleep, pr_ms},
    {"server", "term", SC_SERVER_TERM, false, kw_none, pr_none},
    {"server", "stop", SC_SERVER_STOP, false, kw_none, pr_none},
    {"server", "start", SC_SERVER_START, false, kw_server_start, pr_server_start},
    {"expect", "eof", SC_EXPECT_EOF, true, kw_within, pr_within},
    {"expect", "reset", SC_EXPECT_RESET, true, kw_within, pr_within},
    {"expect", "closed", SC_EXPECT_CLOSED, true, kw_within, pr_within},
    {"expect", "open", SC_EXPECT_OPEN, true, kw_for, pr_for},
    {"expect", "server-alive", SC_EXPECT_ALIVE, false, kw_none, pr_none},
    {"expect", "server-released", SC_EXPECT_RELEASED, false, kw_within, pr_within},
    {"expect", "prefix", SC_EXPECT_PREFIX, true, kw_expect_prefix, pr_expect_prefix},
    {"expect", "released", SC_EXPECT_GONE, true, kw_within, pr_within},
    {"expect", NULL, SC_EXPECT_BYTES, true, kw_expect_bytes, pr_expect_bytes},
};
#define NKEYWORDS (sizeof keywords / sizeof keywords[0])

static bool is_keyword(tok k)
{
    for (size_t i = 0; i < NKEYWORDS; i++)
        if (is(k, keywords[i].word))
            return true;
    return false;
}

static const char STEP_LIST[] = "framing, connect, send, shutdown, abort, close, stop-reading, "
                                "resume-reading, cork, ping, flood, vanish, middlebox-reset, sleep, "
                                "server, expect";

/* The row for `k` and the token after it. */
static const keyword *lookup(pctx *p, tok k)
{
    tok k2 = peek(p);
    const keyword *any = NULL;
    for (size_t i = 0; i < NKEYWORDS; i++) {
        if (!is(k, keywords[i].word))
            continue;
        if (keywords[i].word2 == NULL) {
            if (any == NULL)
                any = &keywords[i];
            continue;
        }
        if (is(k2, keywords[i].word2)) {
            next(p);
            return &keywords[i];
        }
    }
    if (any == NULL && is(k, "server"))
        perr(p, k2.t, "server takes term, stop or start, got '%.*s%s'", QUOTE(k2));
    return any;
}

/* ---- connections ---- */

int sc_conn(scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nnames; i++)
        if (strcmp(s->names[i], name) == 0)
            return (int)i;
    if (s->nnames == SC_MAX_CONNS)
        return -1;
    if (s->nnames == s->names_cap) {
        size_t nc = s->names_cap ? s->names_cap * 2 : 8;
        char(*nn)[32] = realloc(s->names, nc * sizeof *nn);
        if (nn == NULL)
            return -1;
        s->names = nn;
        s->names_cap = nc;
    }
    snprintf(s->names[s->nnames], sizeof s->names[0], "%s", name);
    return (int)s->nnames++;
}

/* The connection rules: checked while parsing, so a script that cannot make sense never runs. */
static int conn_rules(pctx *p, const sc_step *st, const char *at)
{
    const char *name;
    if (st->conn < 0)
        return 0;
    if (p->conns_cap < p->s->nnames) {
        size_t nc = p->s->names_cap;
        void *nn = realloc(p->conns, nc * sizeof *p->conns);
        if (nn == NULL)
            return perr(p, at, "out of memory");
        p->conns = nn;
        memset(p->conns + p->conns_cap, 0, (nc - p->conns_cap) * sizeof *p->conns);
        p->conns_cap = nc;
    }
    name = p->s->names[st->conn];
    if (st->kind == SC_CONNECT) {
        if (p->conns[st->conn].state == CS_OPEN || p->conns[st->conn].state == CS_SHUT)
            return perr(p, at, "connection '%s' is already open (since line %d): close it first",
                        name, p->conns[st->conn].line);
        p->conns[st->conn].state = CS_OPEN;
        p->conns[st->conn].line = p->line;
        return 0;
    }
    switch (p->conns[st->conn].state) {
    case CS_NONE:
        return perr(p, at, "no connection named '%s' (connect it first: 'connect %s')", name,
                    name);
    case CS_CLOSED:
        return perr(p, at, "connection '%s' was closed at line %d: connect it again first", name,
                    p->conns[st->conn].line);
    case CS_GONE:
        if (st->kind != SC_EXPECT_GONE && st->kind != SC_CLOSE && st->kind != SC_ABORT)
            return perr(p, at, "the peer of connection '%s' vanished at line %d: only 'expect "
                               "released', close and abort can follow", name,
                        p->conns[st->conn].line);
        break;
    case CS_SHUT:
        if (st->kind == SC_SEND || st->kind == SC_PING || st->kind == SC_FLOOD)
            return perr(p, at, "connection '%s' was shut down for writing at line %d: nothing "
                               "can be sent on it", name, p->conns[st->conn].line);
        break;
    }
    if (st->kind == SC_EXPECT_GONE && p->conns[st->conn].state != CS_GONE)
        return perr(p, at, "'expect released' on '%s' needs its peer to vanish first (vanish or "
                           "middlebox-reset)", name);
    if (st->kind == SC_VANISH || st->kind == SC_MIDDLEBOX_RESET) {
        p->conns[st->conn].state = CS_GONE;
        p->conns[st->conn].line = p->line;
    } else if (st->kind == SC_CLOSE || st->kind == SC_ABORT) {
        p->conns[st->conn].state = CS_CLOSED;
        p->conns[st->conn].line = p->line;
    } else if ((st->kind == SC_SHUTDOWN && st->how != SHUT_RD) ||
               (st->kind == SC_FLOOD && st->how == 1)) {
        p->conns[st->conn].state = CS_SHUT;
        p->conns[st->conn].line = p->line;
    }
    return 0;
}

/* ---- lines ---- */

static void step_free(sc_step *st)
{
    items_free(st->items, st->nitems);
    st->items = NULL;
    st->nitems = 0;
}

static int push(scenario *s, const sc_step *st)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        sc_step *ns = realloc(s->steps, nc * sizeof *ns);
        if (ns == NULL)
            return -1;
        s->steps = ns;
        s->cap = nc;
    }
    s->steps[s->n++] = *st;
    return 0;
}

/* One line [start, end): a step, a comment or nothing. */
static int parse_line(pctx *p)
{
    sc_step st;
    const keyword *kw;
    tok k, name = {0};
    const char *q;
    /* a comment starts at '#' outside a string */
    for (q = p->start; q < p->end; q++) {
        if (*q == '"') {
            for (q++; q < p->end && *q != '"'; q++)
                if (*q == '\\' && q + 1 < p->end)
                    q++;
            if (q == p->end)
                break;
        } else if (*q == '#') {
            p->end = q;
            break;
        }
    }
    p->pos = p->start;
    k = next(p);
    if (empty(k))
        return 0;
    memset(&st, 0, sizeof st);
    st.line = p->line;
    st.conn = -1;
    st.reps = 1;
    if (!is_keyword(k)) {
        if (!valid_name(k))
            return perr(p, k.t, "unknown step '%.*s%s' (steps: %s; a connection name may come "
                                "first)", QUOTE(k), STEP_LIST);
        name = k;
        k = next(p);
        if (!is_keyword(k))
            return perr(p, k.t, "unknown step '%.*s%s' after the connection name '%.*s' (steps: "
                                "%s)", QUOTE(k), (int)(name.e - name.t), name.t, STEP_LIST);
    }
    kw = lookup(p, k);
    if (kw == NULL)
        return is(k, "server") ? -1 : perr(p, k.t, "unknown step '%.*s%s'", QUOTE(k));
    st.kind = kw->kind;
    if (!kw->conn && !empty(name))
        return perr(p, name.t, "'%s%s%s' takes no connection name", kw->word,
                    kw->word2 ? " " : "", kw->word2 ? kw->word2 : "");
    if (kw->conn) {
        char nm[32] = "c";
        if (!empty(name)) {
            memcpy(nm, name.t, (size_t)(name.e - name.t));
            nm[name.e - name.t] = '\0';
        }
        st.conn = sc_conn(p->s, nm);
        if (st.conn < 0)
            return perr(p, k.t, "too many connections (at most %d)", SC_MAX_CONNS);
    }
    if (kw->parse(p, &st) < 0) {
        step_free(&st);
        return -1;
    }
    k = next(p);
    if (!empty(k)) {
        step_free(&st);
        return perr(p, k.t, "unexpected '%.*s%s' at the end of the step", QUOTE(k));
    }
    if (conn_rules(p, &st, empty(name) ? p->start : name.t) < 0 ||
        account(p, &st, (tok){p->start, p->end, false}) < 0) {
        step_free(&st);
        return -1;
    }
    if (st.kind != SC_FRAMING)
        p->seen_step = true;
    if (push(p->s, &st) < 0) {
        step_free(&st);
        return perr(p, p->start, "out of memory");
    }
    return 0;
}

int sc_parse_buf(scenario *s, const char *name, const char *buf, size_t len, FILE *err)
{
    pctx p = {.s = s, .name = name, .err = err};
    const char *at = buf, *end = buf + len;
    int rc = 0;
    p.seen_step = s->n > 0;
    while (at < end) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        const char *le = nl ? nl : end;
        const char *nul;
        p.line++;
        p.start = at;
        p.end = le;
        if (p.end > p.start && p.end[-1] == '\r')
            p.end--; /* CRLF */
        nul = p.end > p.start ? memchr(p.start, '\0', (size_t)(p.end - p.start)) : NULL;
        if (nul != NULL) {
            rc = perr(&p, nul, "a NUL byte: a scenario is text");
            break;
        }
        if (parse_line(&p) < 0) {
            rc = -1;
            break;
        }
        at = nl ? nl + 1 : end;
    }
    free(p.conns);
    return rc;
}

int sc_parse_file(scenario *s, const char *path, FILE *err)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;
    if (f == NULL) {
        fprintf(err, "framespec: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(err, "framespec: %s is a directory; give a scenario file (the reproducers of a "
                     "run are DIR/ID.scenario, the fuzzer's findings DIR/findings/*.scenario)\n",
                path);
        fclose(f);
        return -1;
    }
    for (;;) {
        size_t n;
        if (cap - len < 65536) {
            char *nb;
            if (len >= SC_MAX_BYTES) {
                fprintf(err, "framespec: %s is larger than %llu MiB; not a scenario\n", path,
                        SC_MAX_BYTES >> 20);
                free(buf);
                fclose(f);
                return -1;
            }
            nb = realloc(buf, cap ? cap * 2 : 65536);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                fprintf(err, "framespec: out of memory reading %s\n", path);
                return -1;
            }
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(err, "framespec: cannot read %s: %s\n", path, strerror(errno));
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = sc_parse_buf(s, path, buf, len, err);
    free(buf);
    if (rc == 0 && s->n == 0) {
        fprintf(err, "framespec: %s has no steps (an empty scenario checks nothing); "
                     "docs/replay.md has the grammar\n", path);
        return -1;
    }
    return rc;
}

/* ---- the rest of the API ---- */

void sc_init(scenario *s)
{
    memset(s, 0, sizeof *s);
    s->framing = wire_default_framing();
    s->max_frame = 16u << 20;
}

void sc_free(scenario *s)
{
    uint64_t max_frame = s->max_frame;
    bool long_sleeps = s->long_sleeps;
    for (size_t i = 0; i < s->n; i++)
        step_free(&s->steps[i]);
    free(s->steps);
    free(s->names);
    sc_init(s);
    s->max_frame = max_frame;
    s->long_sleeps = long_sleeps;
}

sc_step *sc_append(scenario *s, const sc_step *st)
{
    if (push(s, st) < 0) {
        items_free(st->items, st->nitems);
        return NULL;
    }
    s->bytes += step_bytes(s, st);
    return &s->steps[s->n - 1];
}

int sc_copy(scenario *dst, const scenario *src)
{
    *dst = *src;
    dst->steps = NULL;
    dst->n = dst->cap = 0;
    dst->names = NULL;
    dst->nnames = dst->names_cap = 0;
    for (size_t i = 0; i < src->nnames; i++)
        if (sc_conn(dst, src->names[i]) < 0)
            goto fail;
    for (size_t i = 0; i < src->n; i++) {
        sc_step st = src->steps[i];
        st.items = st.nitems ? calloc(st.nitems, sizeof *st.items) : NULL;
        if (st.nitems && st.items == NULL)
            goto fail;
        for (size_t j = 0; j < st.nitems; j++) {
            st.items[j] = src->steps[i].items[j];
            if (st.items[j].p.bytes != NULL) {
                st.items[j].p.bytes = malloc((size_t)st.items[j].p.len);
                if (st.items[j].p.bytes == NULL) {
                    items_free(st.items, j);
                    goto fail;
                }
                memcpy(st.items[j].p.bytes, src->steps[i].items[j].p.bytes,
                       (size_t)st.items[j].p.len);
            }
        }
        if (push(dst, &st) < 0) {
            items_free(st.items, st.nitems);
            goto fail;
        }
    }
    return 0;
fail:
    sc_free(dst);
    return -1;
}

void sc_print_step(FILE *out, const scenario *s, const sc_step *st)
{
    for (size_t i = 0; i < NKEYWORDS; i++) {
        const keyword *kw = &keywords[i];
        if (kw->kind != st->kind)
            continue;
        if (kw->conn && st->conn >= 0)
            fprintf(out, "%s ", s->names[st->conn]);
        fprintf(out, "%s%s%s", kw->word, kw->word2 ? " " : "", kw->word2 ? kw->word2 : "");
        kw->print(out, s, st);
        if (st->req)
            fprintf(out, "  # %s", st->req);
        return;
    }
}

void sc_print(FILE *out, const scenario *s)
{
    fprintf(out, "framing %s\n", wire_framing_name(&s->framing));
    for (size_t i = 0; i < s->n; i++) {
        if (s->steps[i].kind == SC_FRAMING)
            continue;
        sc_print_step(out, s, &s->steps[i]);
        fputc('\n', out);
    }
}

bool sc_needs_netns(const scenario *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->steps[i].kind == SC_VANISH || s->steps[i].kind == SC_MIDDLEBOX_RESET)
            return true;
    return false;
}
