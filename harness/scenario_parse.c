/*
 * scenario_parse.c — the scenario language's keyword table and its parser (text -> steps). The
 * grammar is docs/replay.md; scenario.h has the contracts; the printer (scenario_print.c) reads
 * the same table.
 *
 * One table (sc_keywords[] below) names every step: its words, whether it takes a connection
 * (or a set of them), the function that parses the rest of its line and the one that prints it
 * back. Adding a keyword is one row and two small functions.
 */
#include "scenario_lang.h"

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

/* An open `repeat`: where it is, and what the connections were when it began. */
typedef struct {
    size_t step;        /* its index in s->steps */
    int line;
    uint64_t bytes;     /* s->bytes before its body */
    unsigned char *states; /* each connection's state class at the repeat (malloc'ed) */
    size_t nstates;
} open_repeat;

struct pctx {
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
    open_repeat rep[SC_MAX_DEPTH]; /* the repeats whose `end` is still to come */
    int depth;
};

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
    if (it->p.len > s->payload_bound + 1)
        return perr(p, at.t, "a payload of %llu bytes is over --max-frame + 1 (%llu); give a "
                             "larger --max-frame to allow it",
                    (unsigned long long)it->p.len, (unsigned long long)s->payload_bound + 1);
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

/* Account the step's bytes against SC_MAX_BYTES: what it sends or awaits, x reps. A flood
 * holds one copy of its items and matches its echoes as they come; inside a repeat the body's
 * bytes count once per iteration (added at its `end`). */
static int account(pctx *p, const sc_step *st, tok at)
{
    uint64_t n = 0, one = 0;
    for (size_t i = 0; i < st->nitems; i++)
        one += sc_item_size(&st->items[i], p->s->framing);
    if (st->kind == SC_FLOOD || st->kind == SC_STREAM)
        n = one;
    else if (one > 0 && st->reps > SC_MAX_BYTES / one)
        n = SC_MAX_BYTES + 1;
    else if (st->kind != SC_REPEAT)
        n = one * st->reps;
    if (p->s->bytes + n > SC_MAX_BYTES)
        return perr(p, at.t, "the scenario's payloads would hold more than %llu MiB",
                    SC_MAX_BYTES >> 20);
    p->s->bytes += n;
    return 0;
}

/* A list of byte offsets "O,O,..." (increasing, each in [1, total)) into a new array. */
static int parse_offsets(pctx *p, const char *word, uint64_t total, uint64_t **out, size_t *n)
{
    tok k = next(p);
    const char *q = k.t;
    size_t cap = 0;
    if (empty(k))
        return perr(p, k.t, "%s needs byte offsets: %s 3,10", word, word);
    while (q < k.e) {
        const char *c = memchr(q, ',', (size_t)(k.e - q));
        tok one = {q, c ? c : k.e, false};
        uint64_t v;
        if (*n == SC_MAX_CUTS)
            return perr(p, q, "at most %d offsets", SC_MAX_CUTS);
        if (tok_u64(one, 0, 1, UINT64_MAX, &v) < 0 || v >= total ||
            (*n > 0 && v <= (*out)[*n - 1]))
            return perr(p, q, "%s O,O,... needs increasing byte offsets inside the %llu bytes "
                              "sent, got '%.*s%s'", word, (unsigned long long)total, QUOTE(one));
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            uint64_t *nv = realloc(*out, nc * sizeof *nv);
            if (nv == NULL)
                return perr(p, q, "out of memory");
            *out = nv;
            cap = nc;
        }
        (*out)[(*n)++] = v;
        q = c ? c + 1 : k.e;
        if (c != NULL && q == k.e)
            return perr(p, c, "%s O,O,...: a comma with no offset after it", word);
    }
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
    if (p->seen_step)
        return perr(p, p->start, "'framing' must come before every other step (it says how "
                                 "all of them are encoded)");
    p->s->framing = st->framing;
    return 0;
}

/* A connection, or a set of them, as written before a step or after `connect`: NAME (default
 * c), or NAME1..NAMEn (a set: the same prefix, then the first and the last number). */
static int parse_conns(pctx *p, tok k, sc_step *st)
{
    char name[32] = "c", first[32];
    const char *dots = NULL;
    unsigned long lo, hi;
    size_t pl;
    for (const char *q = k.t; q + 1 < k.e; q++)
        if (q[0] == '.' && q[1] == '.') {
            dots = q;
            break;
        }
    if (dots == NULL) {
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
            return perr(p, k.t, "too many connections (at most %d) or out of memory",
                        SC_MAX_CONNS);
        return 0;
    }
    /* NAME1..NAMEn: split each side into its prefix and its number */
    pl = (size_t)(dots - k.t);
    while (pl > 0 && isdigit((unsigned char)k.t[pl - 1]))
        pl--;
    if (pl == 0 || pl == (size_t)(dots - k.t) || (size_t)(dots - k.t) >= sizeof first ||
        (size_t)(k.e - dots - 2) <= pl || memcmp(k.t, dots + 2, pl) != 0)
        return perr(p, k.t, "a set of connections is NAME1..NAMEn (one prefix, then numbers: "
                            "c1..c500), got '%.*s%s'", QUOTE(k));
    memcpy(first, k.t, (size_t)(dots - k.t));
    first[dots - k.t] = '\0';
    {
        tok a = {k.t, dots, false}, b = {dots + 2, k.e, false};
        char *end;
        if (!valid_name(a) || !valid_name(b))
            return perr(p, k.t, "bad connection names in '%.*s%s'", QUOTE(k));
        lo = strtoul(first + pl, &end, 10);
        hi = strtoul(dots + 2 + pl, &end, 10);
        if (end != k.e || lo >= hi || hi - lo >= SC_MAX_CONNS)
            return perr(p, k.t, "a set NAME1..NAMEn needs a first number below the last, and at "
                                "most %d connections, got '%.*s%s'", SC_MAX_CONNS, QUOTE(k));
    }
    st->nset = hi - lo + 1;
    st->set = malloc(st->nset * sizeof *st->set);
    if (st->set == NULL)
        return perr(p, k.t, "out of memory");
    for (unsigned long i = lo; i <= hi; i++) {
        snprintf(name, sizeof name, "%.*s%lu", (int)pl, k.t, i);
        st->set[i - lo] = sc_conn(p->s, name);
        if (st->set[i - lo] < 0)
            return perr(p, k.t, "too many connections (at most %d)", SC_MAX_CONNS);
    }
    st->conn = st->set[0];
    return 0;
}

/* requirement REQ-ID: what the steps that name none check (a reproducer names its case's) */
static int kw_requirement(pctx *p, sc_step *st)
{
    tok k = next(p);
    st->req = fs_req_find(k.t, (size_t)(k.e - k.t));
    if (st->req == REQ_NONE)
        return perr(p, k.t, "unknown requirement '%.*s%s' (framespec list --requirements shows "
                            "them)", QUOTE(k));
    if (p->seen_step)
        return perr(p, p->start, "'requirement' must come before every step but 'framing'");
    p->s->requirement = st->req;
    return 0;
}

static int kw_connect(pctx *p, sc_step *st)
{
    return parse_conns(p, next(p), st);
}

/* send ITEM... [xN] [by N | at O,O,...] [pause MS [after O,O,...]] */
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
        next(p);
        if (parse_offsets(p, "at", total, &st->cuts, &st->ncuts) < 0)
            return -1;
    }
    if (is(peek(p), "pause")) {
        next(p);
        if (parse_sleep_ms(p, next(p), &st->pause_ms) < 0)
            return -1;
        if (is(peek(p), "after")) {
            const char *at = next(p).t;
            if (st->ncuts == 0)
                return perr(p, at, "pause MS after O,...: the offsets are some of the step's "
                                   "'at' cuts, and it has none");
            if (parse_offsets(p, "after", total, &st->pause_at, &st->npause_at) < 0)
                return -1;
            for (size_t i = 0, j = 0; i < st->npause_at; i++) {
                while (j < st->ncuts && st->cuts[j] < st->pause_at[i])
                    j++;
                if (j == st->ncuts || st->cuts[j] != st->pause_at[i])
                    return perr(p, at, "pause MS after O,...: %llu is not one of the 'at' cuts",
                                (unsigned long long)st->pause_at[i]);
            }
        }
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

/* flood ITEM... (at-most | up-to) (BYTES | kernel) [then shutdown | then term] within MS */
static int kw_flood(pctx *p, sc_step *st)
{
    tok k;
    if (parse_items(p, st, false) < 0)
        return -1;
    if (step_bytes(p->s, st) == 0)
        return perr(p, p->start, "flood needs items of at least one byte to send");
    k = next(p);
    if (!is(k, "at-most") && !is(k, "up-to"))
        return perr(p, k.t, "expected 'at-most BYTES' (what the server may take from a peer that "
                            "does not read) or 'up-to BYTES' (where the flood stops), got "
                            "'%.*s%s'", QUOTE(k));
    st->judged = is(k, "at-most");
    k = next(p);
    if (is(k, "kernel"))
        st->limit = SC_KERNEL;
    else if (tok_u64(k, 0, 1, SC_MAX_BYTES / 2, &st->limit) < 0)
        return perr(p, k.t, "expected a byte count 1..%lluM (K/M/G ok) or 'kernel', got "
                            "'%.*s%s'", (SC_MAX_BYTES / 2) >> 20, QUOTE(k));
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

/* stream ITEM... then term after MS within MS */
static int kw_stream(pctx *p, sc_step *st)
{
    tok k;
    if (parse_items(p, st, false) < 0)
        return -1;
    if (step_bytes(p->s, st) == 0)
        return perr(p, p->start, "stream needs items of at least one byte to send");
    k = next(p);
    if (!is(k, "then") || !is(next(p), "term"))
        return perr(p, k.t, "expected 'then term after MS within MS' after the items of "
                            "'stream'");
    st->how = 2;
    if (parse_word_ms(p, "after", &st->after_ms) < 0)
        return -1;
    return kw_within(p, st);
}

/* expect server-memory at-most BYTES */
static int kw_memory(pctx *p, sc_step *st)
{
    tok k = next(p);
    if (!is(k, "at-most"))
        return perr(p, k.t, "expected 'at-most BYTES' (how much the server's resident memory "
                            "may grow), got '%.*s%s'", QUOTE(k));
    k = next(p);
    if (tok_u64(k, 0, 0, 1ull << 40, &st->limit) < 0)
        return perr(p, k.t, "at-most needs a byte count (K/M/G ok), got '%.*s%s'", QUOTE(k));
    return 0;
}

/* The class of a connection's state that a repeat's body must leave as it found it. */
static unsigned char state_class(unsigned char state)
{
    return state == CS_CLOSED ? CS_NONE : state;
}

/* repeat N: the steps up to its `end`, N times */
static int kw_repeat(pctx *p, sc_step *st)
{
    tok k = next(p);
    open_repeat *o;
    if (tok_u64(k, 0, 1, 10000000, &st->reps) < 0)
        return perr(p, k.t, "repeat N needs a count 1..10000000, got '%.*s%s'", QUOTE(k));
    if (p->depth == SC_MAX_DEPTH)
        return perr(p, p->start, "repeats nest %d deep at most", SC_MAX_DEPTH);
    o = &p->rep[p->depth];
    memset(o, 0, sizeof *o);
    o->step = p->s->n;
    o->line = p->line;
    o->bytes = p->s->bytes;
    if (p->s->nnames > 0) {
        o->states = malloc(p->s->nnames);
        if (o->states == NULL)
            return perr(p, k.t, "out of memory");
        for (size_t i = 0; i < p->s->nnames; i++)
            o->states[i] = i < p->conns_cap ? state_class(p->conns[i].state) : CS_NONE;
        o->nstates = p->s->nnames;
    }
    p->depth++;
    return 0;
}

/* end: closes the innermost repeat, whose body must leave every connection as it found it, so
 * that each iteration starts where the first did. */
static int kw_end(pctx *p, sc_step *st)
{
    open_repeat *o;
    sc_step *rp;
    uint64_t body;
    (void)st;
    if (p->depth == 0)
        return perr(p, p->start, "'end' without a 'repeat'");
    o = &p->rep[p->depth - 1];
    for (size_t i = 0; i < p->s->nnames; i++) {
        unsigned char was = i < o->nstates ? o->states[i] : CS_NONE;
        unsigned char now = i < p->conns_cap ? state_class(p->conns[i].state) : CS_NONE;
        if (was != now)
            return perr(p, p->start, "the repeat at line %d leaves connection '%s' %s: each "
                                     "iteration must find the connections as the first did",
                        o->line, p->s->names[i], now == CS_NONE ? "closed" : "open");
    }
    rp = &p->s->steps[o->step];
    rp->span = p->s->n - o->step; /* the body, and this `end` once it is pushed */
    body = p->s->bytes - o->bytes;
    if (body > 0 && rp->reps - 1 > (SC_MAX_BYTES - p->s->bytes) / body)
        return perr(p, p->start, "the scenario's payloads would hold more than %llu MiB (the "
                                 "repeat at line %d, %llu times)", SC_MAX_BYTES >> 20, o->line,
                    (unsigned long long)rp->reps);
    p->s->bytes += body * (rp->reps - 1);
    free(o->states);
    o->states = NULL;
    p->depth--;
    return 0;
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

/* ---- the table ---- */

/* The first row of a kind is the one printed (send-sliced is read, and printed as send). conn:
 * 0 none, 1 one connection, 2 one or a set (c1..c500). */
const sc_keyword sc_keywords[] = {
    {"framing", NULL, SC_FRAMING, 0, kw_framing, sc_pr_framing},
    {"requirement", NULL, SC_REQUIREMENT, 0, kw_requirement, sc_pr_none},
    {"connect", NULL, SC_CONNECT, 0, kw_connect, sc_pr_connect},
    {"send", NULL, SC_SEND, 2, kw_send, sc_pr_send},
    {"send-sliced", NULL, SC_SEND, 2, kw_send_sliced, sc_pr_send},
    {"shutdown", NULL, SC_SHUTDOWN, 2, kw_shutdown, sc_pr_shutdown},
    {"abort", NULL, SC_ABORT, 2, kw_none, sc_pr_none},
    {"close", NULL, SC_CLOSE, 2, kw_none, sc_pr_none},
    {"stop-reading", NULL, SC_STOP_READING, 2, kw_none, sc_pr_none},
    {"resume-reading", NULL, SC_RESUME_READING, 2, kw_none, sc_pr_none},
    {"cork", NULL, SC_CORK, 2, kw_none, sc_pr_none},
    {"ping", NULL, SC_PING, 1, kw_ping, sc_pr_ping},
    {"flood", NULL, SC_FLOOD, 1, kw_flood, sc_pr_flood},
    {"stream", NULL, SC_STREAM, 1, kw_stream, sc_pr_stream},
    {"vanish", NULL, SC_VANISH, 1, kw_vanish, sc_pr_vanish},
    {"middlebox-reset", NULL, SC_MIDDLEBOX_RESET, 1, kw_none, sc_pr_none},
    {"sleep", NULL, SC_SLEEP, 0, kw_sleep, sc_pr_ms},
    {"repeat", NULL, SC_REPEAT, 0, kw_repeat, sc_pr_reps},
    {"end", NULL, SC_END, 0, kw_end, sc_pr_none},
    {"server", "term", SC_SERVER_TERM, 0, kw_none, sc_pr_none},
    {"server", "stop", SC_SERVER_STOP, 0, kw_none, sc_pr_none},
    {"server", "start", SC_SERVER_START, 0, kw_server_start, sc_pr_server_start},
    {"expect", "eof", SC_EXPECT_EOF, 2, kw_within, sc_pr_within},
    {"expect", "reset", SC_EXPECT_RESET, 2, kw_within, sc_pr_within},
    {"expect", "closed", SC_EXPECT_CLOSED, 2, kw_within, sc_pr_within},
    {"expect", "open", SC_EXPECT_OPEN, 2, kw_for, sc_pr_for},
    {"expect", "server-alive", SC_EXPECT_ALIVE, 0, kw_none, sc_pr_none},
    {"expect", "server-released", SC_EXPECT_RELEASED, 0, kw_within, sc_pr_within},
    {"expect", "server-memory", SC_EXPECT_MEMORY, 0, kw_memory, sc_pr_memory},
    {"expect", "server-exit", SC_EXPECT_EXIT, 0, kw_within, sc_pr_within},
    {"expect", "prefix", SC_EXPECT_PREFIX, 2, kw_expect_prefix, sc_pr_expect_prefix},
    {"expect", "released", SC_EXPECT_GONE, 1, kw_within, sc_pr_within},
    {"expect", NULL, SC_EXPECT_BYTES, 2, kw_expect_bytes, sc_pr_expect_bytes},
};
const size_t sc_nkeywords = sizeof sc_keywords / sizeof sc_keywords[0];

static bool is_keyword(tok k)
{
    for (size_t i = 0; i < sc_nkeywords; i++)
        if (is(k, sc_keywords[i].word))
            return true;
    return false;
}

static const char STEP_LIST[] = "framing, requirement, connect, send, shutdown, abort, close, stop-reading, "
                                "resume-reading, cork, ping, flood, stream, vanish, "
                                "middlebox-reset, sleep, repeat, end, server, expect";

/* The row for `k` and the token after it. */
static const sc_keyword *lookup(pctx *p, tok k)
{
    tok k2 = peek(p);
    const sc_keyword *any = NULL;
    for (size_t i = 0; i < sc_nkeywords; i++) {
        if (!is(k, sc_keywords[i].word))
            continue;
        if (sc_keywords[i].word2 == NULL) {
            if (any == NULL)
                any = &sc_keywords[i];
            continue;
        }
        if (is(k2, sc_keywords[i].word2)) {
            next(p);
            return &sc_keywords[i];
        }
    }
    if (any == NULL && is(k, "server"))
        perr(p, k2.t, "server takes term, stop or start, got '%.*s%s'", QUOTE(k2));
    return any;
}

/* ---- connections ---- */

/* The connection rules for connection c: checked while parsing, so a script that cannot make
 * sense never runs. */
static int conn_rule(pctx *p, const sc_step *st, int c, const char *at)
{
    const char *name = p->s->names[c];
    if (st->kind == SC_CONNECT) {
        if (p->conns[c].state == CS_OPEN || p->conns[c].state == CS_SHUT)
            return perr(p, at, "connection '%s' is already open (since line %d): close it first",
                        name, p->conns[c].line);
        p->conns[c].state = CS_OPEN;
        p->conns[c].line = p->line;
        return 0;
    }
    switch (p->conns[c].state) {
    case CS_NONE:
        return perr(p, at, "no connection named '%s' (connect it first: 'connect %s')", name,
                    name);
    case CS_CLOSED:
        return perr(p, at, "connection '%s' was closed at line %d: connect it again first", name,
                    p->conns[c].line);
    case CS_GONE:
        if (st->kind != SC_EXPECT_GONE && st->kind != SC_CLOSE && st->kind != SC_ABORT)
            return perr(p, at, "the peer of connection '%s' vanished at line %d: only 'expect "
                               "released', close and abort can follow", name, p->conns[c].line);
        break;
    case CS_SHUT:
        if (st->kind == SC_SEND || st->kind == SC_PING || st->kind == SC_FLOOD ||
            st->kind == SC_STREAM)
            return perr(p, at, "connection '%s' was shut down for writing at line %d: nothing "
                               "can be sent on it", name, p->conns[c].line);
        break;
    }
    if (st->kind == SC_EXPECT_GONE && p->conns[c].state != CS_GONE)
        return perr(p, at, "'expect released' on '%s' needs its peer to vanish first (vanish or "
                           "middlebox-reset)", name);
    if (st->kind == SC_VANISH || st->kind == SC_MIDDLEBOX_RESET) {
        p->conns[c].state = CS_GONE;
        p->conns[c].line = p->line;
    } else if (st->kind == SC_CLOSE || st->kind == SC_ABORT) {
        p->conns[c].state = CS_CLOSED;
        p->conns[c].line = p->line;
    } else if ((st->kind == SC_SHUTDOWN && st->how != SHUT_RD) ||
               (st->kind == SC_FLOOD && st->how == 1)) {
        p->conns[c].state = CS_SHUT;
        p->conns[c].line = p->line;
    }
    return 0;
}

/* conn_rule() for the step's connection, or each of its set. */
static int conn_rules(pctx *p, const sc_step *st, const char *at)
{
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
    if (st->set == NULL)
        return conn_rule(p, st, st->conn, at);
    for (size_t i = 0; i < st->nset; i++)
        if (conn_rule(p, st, st->set[i], at) < 0)
            return -1;
    return 0;
}

/* ---- lines ---- */

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

/* Cut the line at its comment ('#' outside a string); returns the comment's text after '#', or
 * NULL. */
static const char *cut_comment(pctx *p)
{
    for (const char *q = p->start; q < p->end; q++) {
        if (*q == '"') {
            for (q++; q < p->end && *q != '"'; q++)
                if (*q == '\\' && q + 1 < p->end)
                    q++;
            if (q == p->end)
                break;
        } else if (*q == '#') {
            const char *c = q + 1;
            p->end = q;
            return c;
        }
    }
    return NULL;
}

/* The requirement a comment [c, e) tags its step with: its first word, when that is an id. */
static fs_req comment_tag(const char *c, const char *e)
{
    const char *w;
    if (c == NULL)
        return REQ_NONE;
    while (c < e && (*c == ' ' || *c == '\t'))
        c++;
    for (w = c; w < e && *w != ' ' && *w != '\t' && *w != ':' && *w != ','; w++)
        ;
    return fs_req_find(c, (size_t)(w - c));
}

/* The keyword's row and the step's connection (or set) for the line's first tokens. */
static const sc_keyword *step_head(pctx *p, sc_step *st, tok *name)
{
    tok k = next(p);
    const sc_keyword *kw;
    if (!is_keyword(k)) {
        tok n = k;
        bool set = memchr(k.t, '.', (size_t)(k.e - k.t)) != NULL;
        if (!set && !valid_name(k)) {
            perr(p, k.t, "unknown step '%.*s%s' (steps: %s; a connection name may come first)",
                 QUOTE(k), STEP_LIST);
            return NULL;
        }
        *name = n;
        k = next(p);
        if (!is_keyword(k)) {
            perr(p, k.t, "unknown step '%.*s%s' after the connection name '%.*s' (steps: %s)",
                 QUOTE(k), (int)(n.e - n.t), n.t, STEP_LIST);
            return NULL;
        }
    }
    kw = lookup(p, k);
    if (kw == NULL) {
        if (!is(k, "server"))
            perr(p, k.t, "unknown step '%.*s%s'", QUOTE(k));
        return NULL;
    }
    st->kind = kw->kind;
    if (!kw->conn && !empty(*name)) {
        perr(p, name->t, "'%s%s%s' takes no connection name", kw->word, kw->word2 ? " " : "",
             kw->word2 ? kw->word2 : "");
        return NULL;
    }
    if (kw->conn && parse_conns(p, *name, st) < 0)
        return NULL;
    if (kw->conn == 1 && st->set != NULL) {
        perr(p, name->t, "'%s%s%s' takes one connection, not a set", kw->word,
             kw->word2 ? " " : "", kw->word2 ? kw->word2 : "");
        return NULL;
    }
    return kw;
}

/* One line [start, end): a step, a comment or nothing. */
static int parse_line(pctx *p)
{
    sc_step st;
    const sc_keyword *kw;
    tok k, name = {0};
    const char *line_end = p->end, *comment = cut_comment(p);
    p->pos = p->start;
    if (empty(peek(p)))
        return 0;
    memset(&st, 0, sizeof st);
    st.line = p->line;
    st.conn = -1;
    st.reps = 1;
    st.req = comment_tag(comment, line_end);
    kw = step_head(p, &st, &name);
    if (kw == NULL || kw->parse(p, &st) < 0) {
        sc_step_free(&st);
        return -1;
    }
    k = next(p);
    if (!empty(k)) {
        sc_step_free(&st);
        return perr(p, k.t, "unexpected '%.*s%s' at the end of the step", QUOTE(k));
    }
    if (conn_rules(p, &st, empty(name) ? p->start : name.t) < 0 ||
        account(p, &st, (tok){p->start, p->end, false}) < 0) {
        sc_step_free(&st);
        return -1;
    }
    if (st.kind != SC_FRAMING && st.kind != SC_REQUIREMENT)
        p->seen_step = true;
    if (push(p->s, &st) < 0) {
        sc_step_free(&st);
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
    if (rc == 0 && p.depth > 0) {
        p.start = p.end = end;
        rc = perr(&p, end, "the repeat at line %d has no 'end'", p.rep[p.depth - 1].line);
    }
    for (int d = 0; d < p.depth; d++)
        free(p.rep[d].states);
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

