/*
 * scenario_lex.c — the scenario parser's tokens and values: a line's words and quoted strings,
 * numbers, milliseconds, payloads and items checked against the framing and the bounds, byte
 * offsets, and the bytes a step accounts for (scenario_lang.h).
 */
#include "scenario_lang.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int lx_err(const pctx *p, const char *at, const char *fmt, ...)
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

tok lx_next(pctx *p)
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
tok lx_peek(pctx *p)
{
    const char *save = p->pos;
    tok k = lx_next(p);
    p->pos = save;
    return k;
}

bool lx_is(tok k, const char *word)
{
    size_t l = strlen(word);
    return (size_t)(k.e - k.t) == l && memcmp(k.t, word, l) == 0;
}

bool lx_empty(tok k)
{
    return k.t == k.e;
}

/* A decimal (K/M/G ok) in [lo, hi] from the token's [t + skip, e). */
int lx_u64(tok k, size_t skip, uint64_t lo, uint64_t hi, uint64_t *v)
{
    char num[32];
    size_t l = (size_t)(k.e - k.t);
    if (l <= skip || l - skip >= sizeof num)
        return -1;
    memcpy(num, k.t + skip, l - skip);
    num[l - skip] = '\0';
    return opts_u64(num, lo, hi, v);
}

static int lx_hexval(int ch)
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

bool lx_name_ok(tok k)
{
    if (lx_empty(k) || k.e - k.t >= 32 || !(isalpha((unsigned char)*k.t) || *k.t == '_'))
        return false;
    for (const char *s = k.t; s < k.e; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* ---- payloads and items ---- */

void lx_payload_free(sc_payload *pl)
{
    free(pl->bytes);
    pl->bytes = NULL;
}

/* PAYLOAD: "text" | hex:HEX | size:N | text:N. */
int lx_payload(pctx *p, tok k, sc_payload *out)
{
    memset(out, 0, sizeof *out);
    if (lx_empty(k))
        return lx_err(p, k.t, "expected a payload: \"text\", hex:HEX, size:N or text:N");
    if (*k.t == '"') {
        size_t n = 0;
        if (k.unterminated || k.e - k.t < 2)
            return lx_err(p, k.t, "unterminated string: the closing \" is missing");
        out->bytes = malloc((size_t)(k.e - k.t));
        if (out->bytes == NULL)
            return lx_err(p, k.t, "out of memory");
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
                if (s + 2 < k.e - 1 && lx_hexval(s[1]) >= 0 && lx_hexval(s[2]) >= 0) {
                    out->bytes[n++] = (uint8_t)(lx_hexval(s[1]) * 16 + lx_hexval(s[2]));
                    s += 2;
                    break;
                }
                /* fall through */
            default:
                lx_payload_free(out);
                return lx_err(p, s - 1, "unknown escape '\\%c' (use \\n \\r \\t \\0 \\\\ \\\" \\xHH)",
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
            return lx_err(p, k.t, "hex: needs an even number of hex digits");
        out->kind = SC_P_BYTES;
        out->len = nd / 2;
        if (nd == 0)
            return 0;
        out->bytes = malloc(nd / 2);
        if (out->bytes == NULL)
            return lx_err(p, k.t, "out of memory");
        for (size_t i = 0; i < nd; i += 2) {
            const char *s = k.t + 4 + i;
            if (lx_hexval(s[0]) < 0 || lx_hexval(s[1]) < 0) {
                lx_payload_free(out);
                return lx_err(p, lx_hexval(s[0]) < 0 ? s : s + 1, "not a hex digit");
            }
            out->bytes[i / 2] = (uint8_t)(lx_hexval(s[0]) * 16 + lx_hexval(s[1]));
        }
        return 0;
    }
    if ((k.e - k.t >= 5 && memcmp(k.t, "size:", 5) == 0) ||
        (k.e - k.t >= 5 && memcmp(k.t, "text:", 5) == 0)) {
        out->kind = *k.t == 's' ? SC_P_SIZE : SC_P_TEXT;
        if (lx_u64(k, 5, 0, 1ull << 32, &out->len) < 0)
            return lx_err(p, k.t + 5, "%.5s needs a byte count 0..4G (K/M/G ok), got '%.*s%s'",
                        k.t, QUOTE(((tok){k.t + 5, k.e, false})));
        return 0;
    }
    return lx_err(p, k.t, "expected a payload: \"text\", hex:HEX, size:N or text:N; got '%.*s%s'",
                QUOTE(k));
}

/* Does a frame payload of this framing hold a '\n' (not allowed with line framing)? */
static bool lx_has_newline(const sc_payload *pl)
{
    if (pl->kind == SC_P_SIZE)
        return pl->len > '\n';
    if (pl->kind == SC_P_TEXT)
        return false;
    return pl->len > 0 && memchr(pl->bytes, '\n', (size_t)pl->len) != NULL;
}

/* Check one item against the framing and the limits. */
static int lx_item_fits(pctx *p, tok at, const sc_item *it)
{
    scenario *s = p->s;
    if (it->framed && it->p.len > wire_max_expressible(s->framing))
        return lx_err(p, at.t, "a frame payload of %llu bytes does not fit framing %s (at most %llu)",
                    (unsigned long long)it->p.len, wire_framing_name(&s->framing),
                    (unsigned long long)wire_max_expressible(s->framing));
    if (it->p.len > s->payload_bound + 1)
        return lx_err(p, at.t, "a payload of %llu bytes is over --max-frame + 1 (%llu); give a "
                             "larger --max-frame to allow it",
                    (unsigned long long)it->p.len, (unsigned long long)s->payload_bound + 1);
    if (it->framed && wire_is_line(s->framing) && lx_has_newline(&it->p))
        return lx_err(p, at.t, "a line-framing payload cannot contain '\\n' (size:N does past 10 "
                             "bytes; text:N never does)");
    return 0;
}

/* ITEM [ITEM ...] where ITEM is `frame PAYLOAD` or `raw PAYLOAD`. Allocates st->items. */
int lx_items(pctx *p, sc_step *st, bool frames_only)
{
    size_t cap = 0;
    for (;;) {
        tok k = lx_peek(p), pk;
        sc_item it;
        if (!lx_is(k, "frame") && !(lx_is(k, "raw") && !frames_only)) {
            if (st->nitems > 0)
                return 0;
            return lx_err(p, k.t, "expected 'frame'%s, got '%.*s%s'",
                        frames_only ? "" : " or 'raw'", QUOTE(k));
        }
        lx_next(p);
        it.framed = lx_is(k, "frame");
        pk = lx_next(p);
        if (lx_payload(p, pk, &it.p) < 0)
            return -1;
        if (lx_item_fits(p, pk, &it) < 0) {
            lx_payload_free(&it.p);
            return -1;
        }
        if (st->nitems == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sc_item *ni = realloc(st->items, nc * sizeof *ni);
            if (ni == NULL) {
                lx_payload_free(&it.p);
                return lx_err(p, k.t, "out of memory");
            }
            st->items = ni;
            cap = nc;
        }
        st->items[st->nitems++] = it;
    }
}

/* [xN]: N copies, 1..100000000. */
int lx_reps(pctx *p, sc_step *st)
{
    tok k = lx_peek(p);
    st->reps = 1;
    if (lx_empty(k) || *k.t != 'x')
        return 0;
    lx_next(p);
    if (lx_u64(k, 1, 1, 100000000, &st->reps) < 0)
        return lx_err(p, k.t, "xN needs a count 1..100000000, got '%.*s%s'", QUOTE(k));
    return 0;
}

int lx_ms(pctx *p, tok k, long *ms)
{
    uint64_t v;
    if (lx_u64(k, 0, 0, 86400000, &v) < 0)
        return lx_err(p, k.t, "expected milliseconds (0..86400000), got '%.*s%s'", QUOTE(k));
    *ms = (long)v;
    return 0;
}

/* A sleep or pause: over SC_MAX_SLEEP_MS only when long sleeps are allowed. */
int lx_sleep_ms(pctx *p, tok k, long *ms)
{
    if (lx_ms(p, k, ms) < 0)
        return -1;
    if (*ms > SC_MAX_SLEEP_MS && !p->s->long_sleeps)
        return lx_err(p, k.t, "a wait of %ld ms is longer than %d ms: give --timeout SECONDS to "
                            "allow it", *ms, SC_MAX_SLEEP_MS);
    return 0;
}

/* `word MS` */
int lx_word_ms(pctx *p, const char *word, long *ms)
{
    tok k = lx_next(p);
    if (!lx_is(k, word))
        return lx_err(p, k.t, "expected '%s MS', got '%.*s%s'", word, QUOTE(k));
    return lx_ms(p, lx_next(p), ms);
}

/* Account the step's bytes against SC_MAX_BYTES: what it sends or awaits, x reps. A flood
 * holds one copy of its items and matches its echoes as they come; inside a repeat the body's
 * bytes count once per iteration (added at its `end`). */
int lx_account(pctx *p, const sc_step *st, tok at)
{
    uint64_t n = 0, one = sc_items_size(p->s, st);
    if (st->kind == SC_FLOOD || st->kind == SC_STREAM)
        n = one;
    else if (one > 0 && st->reps > SC_MAX_BYTES / one)
        n = SC_MAX_BYTES + 1;
    else if (st->kind != SC_REPEAT)
        n = one * st->reps;
    if (p->s->bytes + n > SC_MAX_BYTES)
        return lx_err(p, at.t, "the scenario's payloads would hold more than %llu MiB",
                    SC_MAX_BYTES >> 20);
    p->s->bytes += n;
    return 0;
}

/* A list of byte offsets "O,O,..." (increasing, each in [1, total)) into a new array. */
int lx_offsets(pctx *p, const char *word, uint64_t total, uint64_t **out, size_t *n)
{
    tok k = lx_next(p);
    const char *q = k.t;
    size_t cap = 0;
    if (lx_empty(k))
        return lx_err(p, k.t, "%s needs byte offsets: %s 3,10", word, word);
    while (q < k.e) {
        const char *c = memchr(q, ',', (size_t)(k.e - q));
        tok one = {q, c ? c : k.e, false};
        uint64_t v;
        if (*n == SC_MAX_CUTS)
            return lx_err(p, q, "at most %d offsets", SC_MAX_CUTS);
        if (lx_u64(one, 0, 1, UINT64_MAX, &v) < 0 || v >= total ||
            (*n > 0 && v <= (*out)[*n - 1]))
            return lx_err(p, q, "%s O,O,... needs increasing byte offsets inside the %llu bytes "
                              "sent, got '%.*s%s'", word, (unsigned long long)total, QUOTE(one));
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            uint64_t *nv = realloc(*out, nc * sizeof *nv);
            if (nv == NULL)
                return lx_err(p, q, "out of memory");
            *out = nv;
            cap = nc;
        }
        (*out)[(*n)++] = v;
        q = c ? c + 1 : k.e;
        if (c != NULL && q == k.e)
            return lx_err(p, c, "%s O,O,...: a comma with no offset after it", word);
    }
    return 0;
}

