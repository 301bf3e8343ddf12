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

/* ---- one small function per keyword ---- */

static bool is_keyword(tok k);

static int kw_framing(pctx *p, sc_step *st)
{
    tok k = lx_next(p);
    char f[128] = "", why[256];
    if ((size_t)(k.e - k.t) < sizeof f)
        memcpy(f, k.t, (size_t)(k.e - k.t));
    if (wire_parse_framing(f, &st->framing, why, sizeof why) < 0)
        return lx_err(p, k.t, "framing '%.*s%s': %s", QUOTE(k), why);
    if (p->seen_step)
        return lx_err(p, p->start, "'framing' must come before every other step (it says how "
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
    for (const char *q = k.t; q != NULL && q + 1 < k.e; q++)
        if (q[0] == '.' && q[1] == '.') {
            dots = q;
            break;
        }
    if (dots == NULL) {
        if (!lx_empty(k)) {
            if (!lx_name_ok(k))
                return lx_err(p, k.t, "bad connection name '%.*s%s' (a letter or _, then letters, "
                                    "digits, _ or -; at most 31)", QUOTE(k));
            if (is_keyword(k))
                return lx_err(p, k.t, "'%.*s' is a step's keyword: name the connection otherwise",
                            (int)(k.e - k.t), k.t);
            memcpy(name, k.t, (size_t)(k.e - k.t));
            name[k.e - k.t] = '\0';
        }
        st->conn = sc_conn(p->s, name);
        if (st->conn < 0)
            return lx_err(p, k.t, "too many connections (at most %d) or out of memory",
                        SC_MAX_CONNS);
        return 0;
    }
    /* NAME1..NAMEn: split each side into its prefix and its number */
    pl = (size_t)(dots - k.t);
    while (pl > 0 && isdigit((unsigned char)k.t[pl - 1]))
        pl--;
    if (pl == 0 || pl == (size_t)(dots - k.t) || (size_t)(dots - k.t) >= sizeof first ||
        (size_t)(k.e - dots - 2) <= pl || memcmp(k.t, dots + 2, pl) != 0)
        return lx_err(p, k.t, "a set of connections is NAME1..NAMEn (one prefix, then numbers: "
                            "c1..c500), got '%.*s%s'", QUOTE(k));
    memcpy(first, k.t, (size_t)(dots - k.t));
    first[dots - k.t] = '\0';
    {
        tok a = {k.t, dots, false}, b = {dots + 2, k.e, false};
        char *end;
        if (!lx_name_ok(a) || !lx_name_ok(b))
            return lx_err(p, k.t, "bad connection names in '%.*s%s'", QUOTE(k));
        lo = strtoul(first + pl, &end, 10);
        hi = strtoul(dots + 2 + pl, &end, 10);
        if (end != k.e || lo >= hi || hi - lo >= SC_MAX_CONNS)
            return lx_err(p, k.t, "a set NAME1..NAMEn needs a first number below the last, and at "
                                "most %d connections, got '%.*s%s'", SC_MAX_CONNS, QUOTE(k));
    }
    st->nset = hi - lo + 1;
    st->set = malloc(st->nset * sizeof *st->set);
    if (st->set == NULL)
        return lx_err(p, k.t, "out of memory");
    for (unsigned long i = lo; i <= hi; i++) {
        snprintf(name, sizeof name, "%.*s%lu", (int)pl, k.t, i);
        st->set[i - lo] = sc_conn(p->s, name);
        if (st->set[i - lo] < 0)
            return lx_err(p, k.t, "too many connections (at most %d)", SC_MAX_CONNS);
    }
    st->conn = st->set[0];
    return 0;
}

/* requirement REQ-ID: what the steps that name none check (a reproducer names its case's) */
static int kw_requirement(pctx *p, sc_step *st)
{
    tok k = lx_next(p);
    st->req = fs_req_find(k.t, (size_t)(k.e - k.t));
    if (st->req == REQ_NONE)
        return lx_err(p, k.t, "unknown requirement '%.*s%s' (framespec list --requirements shows "
                            "them)", QUOTE(k));
    if (p->seen_step)
        return lx_err(p, p->start, "'requirement' must come before every step but 'framing'");
    p->s->requirement = st->req;
    return 0;
}

static int kw_connect(pctx *p, sc_step *st)
{
    return parse_conns(p, lx_next(p), st);
}

/* send ITEM... [xN] [by N | at O,O,...] [pause MS [after O,O,...]] */
static int parse_send_tail(pctx *p, sc_step *st)
{
    tok k;
    uint64_t total;
    if (lx_reps(p, st) < 0)
        return -1;
    total = sc_items_size(p->s, st) * st->reps;
    k = lx_peek(p);
    if (lx_is(k, "by")) {
        lx_next(p);
        k = lx_next(p);
        if (lx_u64(k, 0, 1, 1u << 30, &st->by) < 0)
            return lx_err(p, k.t, "by N needs a byte count 1..1G, got '%.*s%s'", QUOTE(k));
    } else if (lx_is(k, "at")) {
        lx_next(p);
        if (lx_offsets(p, "at", total, &st->cuts, &st->ncuts) < 0)
            return -1;
    }
    if (lx_is(lx_peek(p), "pause")) {
        lx_next(p);
        if (lx_sleep_ms(p, lx_next(p), &st->pause_ms) < 0)
            return -1;
        if (lx_is(lx_peek(p), "after")) {
            const char *at = lx_next(p).t;
            if (st->ncuts == 0)
                return lx_err(p, at, "pause MS after O,...: the offsets are some of the step's "
                                   "'at' cuts, and it has none");
            if (lx_offsets(p, "after", total, &st->pause_at, &st->npause_at) < 0)
                return -1;
            for (size_t i = 0, j = 0; i < st->npause_at; i++) {
                while (j < st->ncuts && st->cuts[j] < st->pause_at[i])
                    j++;
                if (j == st->ncuts || st->cuts[j] != st->pause_at[i])
                    return lx_err(p, at, "pause MS after O,...: %llu is not one of the 'at' cuts",
                                (unsigned long long)st->pause_at[i]);
            }
        }
    }
    return 0;
}

static int kw_send(pctx *p, sc_step *st)
{
    if (lx_items(p, st, false) < 0)
        return -1;
    return parse_send_tail(p, st);
}

/* send-sliced frame PAYLOAD by N [pause MS]: the older spelling of `send frame P by N` */
static int kw_send_sliced(pctx *p, sc_step *st)
{
    if (lx_items(p, st, true) < 0 || parse_send_tail(p, st) < 0)
        return -1;
    if (st->by == 0)
        return lx_err(p, p->pos, "send-sliced needs 'by N'");
    return 0;
}

static int kw_shutdown(pctx *p, sc_step *st)
{
    tok k = lx_next(p);
    if (lx_is(k, "wr"))
        st->how = SHUT_WR;
    else if (lx_is(k, "rd"))
        st->how = SHUT_RD;
    else if (lx_is(k, "rdwr"))
        st->how = SHUT_RDWR;
    else
        return lx_err(p, k.t, "shutdown takes wr, rd or rdwr, got '%.*s%s'", QUOTE(k));
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
    return lx_sleep_ms(p, lx_next(p), &st->ms);
}

static int kw_server_start(pctx *p, sc_step *st)
{
    tok k = lx_next(p);
    if (lx_is(k, "same-port"))
        st->how = 1;
    else if (!lx_is(k, "new-port"))
        return lx_err(p, k.t, "server start takes same-port or new-port, got '%.*s%s'", QUOTE(k));
    return 0;
}

static int kw_within(pctx *p, sc_step *st)
{
    return lx_word_ms(p, "within", &st->ms);
}

/* expect eof|reset|closed within MS [before-idle]: before-idle (how 1) is a refusal's close,
 * one the server's declared idle timeout must not explain (scenario_run.c) */
static int kw_close(pctx *p, sc_step *st)
{
    if (kw_within(p, st) < 0)
        return -1;
    /* either order, each once */
    for (int k = 0; k < 2; k++) {
        if (lx_is(lx_peek(p), "before-idle") && !(st->how & SC_BEFORE_IDLE)) {
            lx_next(p);
            st->how |= SC_BEFORE_IDLE;
        } else if (lx_is(lx_peek(p), "discarding") && !(st->how & SC_DISCARDING)) {
            lx_next(p);
            st->how |= SC_DISCARDING;
        }
    }
    return 0;
}

static int kw_for(pctx *p, sc_step *st)
{
    return lx_word_ms(p, "for", &st->ms);
}

static int kw_expect_bytes(pctx *p, sc_step *st)
{
    if (lx_items(p, st, false) < 0 || lx_reps(p, st) < 0)
        return -1;
    return kw_within(p, st);
}

/* ping ITEM... [xN] p90 within MS: N round trips of at most 10000 */
static int kw_ping(pctx *p, sc_step *st)
{
    tok k;
    if (lx_items(p, st, false) < 0 || lx_reps(p, st) < 0)
        return -1;
    if (st->reps > 10000)
        return lx_err(p, p->start, "ping takes at most x10000 round trips");
    k = lx_next(p);
    if (!lx_is(k, "p90"))
        return lx_err(p, k.t, "expected 'p90 within MS' (the 90th percentile round trip), got "
                            "'%.*s%s'", QUOTE(k));
    return kw_within(p, st);
}

/* flood ITEM... (at-most | up-to) (BYTES | kernel) [then shutdown | then term] within MS */
static int kw_flood(pctx *p, sc_step *st)
{
    tok k;
    if (lx_items(p, st, false) < 0)
        return -1;
    if (sc_items_size(p->s, st) == 0)
        return lx_err(p, p->start, "flood needs items of at least one byte to send");
    k = lx_next(p);
    if (!lx_is(k, "at-most") && !lx_is(k, "up-to"))
        return lx_err(p, k.t, "expected 'at-most BYTES' (what the server may take from a peer that "
                            "does not read) or 'up-to BYTES' (where the flood stops), got "
                            "'%.*s%s'", QUOTE(k));
    st->judged = lx_is(k, "at-most");
    k = lx_next(p);
    if (lx_is(k, "kernel"))
        st->limit = SC_KERNEL;
    else if (lx_u64(k, 0, 1, SC_MAX_BYTES / 2, &st->limit) < 0)
        return lx_err(p, k.t, "expected a byte count 1..%lluM (K/M/G ok) or 'kernel', got "
                            "'%.*s%s'", (SC_MAX_BYTES / 2) >> 20, QUOTE(k));
    if (lx_is(lx_peek(p), "then")) {
        lx_next(p);
        k = lx_next(p);
        if (lx_is(k, "shutdown"))
            st->how = 1;
        else if (lx_is(k, "term"))
            st->how = 2;
        else
            return lx_err(p, k.t, "expected 'then shutdown' (SHUT_WR once the server stops "
                                "reading) or 'then term' (SIGTERM then), got '%.*s%s'", QUOTE(k));
    }
    return kw_within(p, st);
}

/* stream ITEM... then term after MS within MS */
static int kw_stream(pctx *p, sc_step *st)
{
    tok k;
    if (lx_items(p, st, false) < 0)
        return -1;
    if (sc_items_size(p->s, st) == 0)
        return lx_err(p, p->start, "stream needs items of at least one byte to send");
    k = lx_next(p);
    if (!lx_is(k, "then") || !lx_is(lx_next(p), "term"))
        return lx_err(p, k.t, "expected 'then term after MS within MS' after the items of "
                            "'stream'");
    st->how = 2;
    if (lx_word_ms(p, "after", &st->after_ms) < 0)
        return -1;
    return kw_within(p, st);
}

/* expect server-memory at-most BYTES */
static int kw_memory(pctx *p, sc_step *st)
{
    tok k = lx_next(p);
    if (!lx_is(k, "at-most"))
        return lx_err(p, k.t, "expected 'at-most BYTES' (how much the server's resident memory "
                            "may grow), got '%.*s%s'", QUOTE(k));
    k = lx_next(p);
    if (lx_u64(k, 0, 0, 1ull << 40, &st->limit) < 0)
        return lx_err(p, k.t, "at-most needs a byte count (K/M/G ok), got '%.*s%s'", QUOTE(k));
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
    tok k = lx_next(p);
    open_repeat *o;
    if (lx_u64(k, 0, 1, 10000000, &st->reps) < 0)
        return lx_err(p, k.t, "repeat N needs a count 1..10000000, got '%.*s%s'", QUOTE(k));
    if (p->depth == SC_MAX_DEPTH)
        return lx_err(p, p->start, "repeats nest %d deep at most", SC_MAX_DEPTH);
    o = &p->rep[p->depth];
    memset(o, 0, sizeof *o);
    o->step = p->s->n;
    o->line = p->line;
    o->bytes = p->s->bytes;
    if (p->s->nnames > 0) {
        o->states = malloc(p->s->nnames);
        if (o->states == NULL)
            return lx_err(p, k.t, "out of memory");
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
        return lx_err(p, p->start, "'end' without a 'repeat'");
    o = &p->rep[p->depth - 1];
    for (size_t i = 0; i < p->s->nnames; i++) {
        unsigned char was = i < o->nstates ? o->states[i] : CS_NONE;
        unsigned char now = i < p->conns_cap ? state_class(p->conns[i].state) : CS_NONE;
        if (was != now)
            return lx_err(p, p->start, "the repeat at line %d leaves connection '%s' %s: each "
                                     "iteration must find the connections as the first did",
                        o->line, p->s->names[i], now == CS_NONE ? "closed" : "open");
    }
    rp = &p->s->steps[o->step];
    rp->span = p->s->n - o->step; /* the body, and this `end` once it is pushed */
    body = p->s->bytes - o->bytes;
    if (body > 0 && rp->reps - 1 > (SC_MAX_BYTES - p->s->bytes) / body)
        return lx_err(p, p->start, "the scenario's payloads would hold more than %llu MiB (the "
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
    if (lx_items(p, st, false) < 0 || lx_reps(p, st) < 0)
        return -1;
    k = lx_next(p);
    if (!lx_is(k, "then") || !lx_is(lx_next(p), "eof"))
        return lx_err(p, k.t, "expected 'then eof within MS' after the items of 'expect prefix'");
    return kw_within(p, st);
}

/* expect server-alive [at-end] */
static int kw_alive(pctx *p, sc_step *st)
{
    if (lx_is(lx_peek(p), "at-end")) {
        lx_next(p);
        st->how = 1;
    }
    return 0;
}

static int kw_vanish(pctx *p, sc_step *st)
{
    tok k = lx_peek(p);
    if (lx_is(k, "pending")) {
        lx_next(p);
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
    {"expect", "eof", SC_EXPECT_EOF, 2, kw_close, sc_pr_close},
    {"expect", "reset", SC_EXPECT_RESET, 2, kw_close, sc_pr_close},
    {"expect", "closed", SC_EXPECT_CLOSED, 2, kw_close, sc_pr_close},
    {"expect", "open", SC_EXPECT_OPEN, 2, kw_for, sc_pr_for},
    {"expect", "server-alive", SC_EXPECT_ALIVE, 0, kw_alive, sc_pr_alive},
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
        if (lx_is(k, sc_keywords[i].word))
            return true;
    return false;
}

static const char STEP_LIST[] = "framing, requirement, connect, send, shutdown, abort, close, stop-reading, "
                                "resume-reading, cork, ping, flood, stream, vanish, "
                                "middlebox-reset, sleep, repeat, end, server, expect";

/* The row for `k` and the token after it. */
static const sc_keyword *lookup(pctx *p, tok k)
{
    tok k2 = lx_peek(p);
    const sc_keyword *any = NULL;
    for (size_t i = 0; i < sc_nkeywords; i++) {
        if (!lx_is(k, sc_keywords[i].word))
            continue;
        if (sc_keywords[i].word2 == NULL) {
            if (any == NULL)
                any = &sc_keywords[i];
            continue;
        }
        if (lx_is(k2, sc_keywords[i].word2)) {
            lx_next(p);
            return &sc_keywords[i];
        }
    }
    if (any == NULL && lx_is(k, "server"))
        lx_err(p, k2.t, "server takes term, stop or start, got '%.*s%s'", QUOTE(k2));
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
            return lx_err(p, at, "connection '%s' is already open (since line %d): close it first",
                        name, p->conns[c].line);
        p->conns[c].state = CS_OPEN;
        p->conns[c].line = p->line;
        return 0;
    }
    switch (p->conns[c].state) {
    case CS_NONE:
        return lx_err(p, at, "no connection named '%s' (connect it first: 'connect %s')", name,
                    name);
    case CS_CLOSED:
        return lx_err(p, at, "connection '%s' was closed at line %d: connect it again first", name,
                    p->conns[c].line);
    case CS_GONE:
        if (st->kind != SC_EXPECT_GONE && st->kind != SC_CLOSE && st->kind != SC_ABORT)
            return lx_err(p, at, "the peer of connection '%s' vanished at line %d: only 'expect "
                               "released', close and abort can follow", name, p->conns[c].line);
        break;
    case CS_SHUT:
        if (st->kind == SC_SEND || st->kind == SC_PING || st->kind == SC_FLOOD ||
            st->kind == SC_STREAM)
            return lx_err(p, at, "connection '%s' was shut down for writing at line %d: nothing "
                               "can be sent on it", name, p->conns[c].line);
        break;
    }
    if (st->kind == SC_EXPECT_GONE && p->conns[c].state != CS_GONE)
        return lx_err(p, at, "'expect released' on '%s' needs its peer to vanish first (vanish or "
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
            return lx_err(p, at, "out of memory");
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
    tok k = lx_next(p);
    const sc_keyword *kw;
    if (!is_keyword(k)) {
        tok n = k;
        bool set = memchr(k.t, '.', (size_t)(k.e - k.t)) != NULL;
        if (!set && !lx_name_ok(k)) {
            lx_err(p, k.t, "unknown step '%.*s%s' (steps: %s; a connection name may come first)",
                 QUOTE(k), STEP_LIST);
            return NULL;
        }
        *name = n;
        k = lx_next(p);
        if (!is_keyword(k)) {
            lx_err(p, k.t, "unknown step '%.*s%s' after the connection name '%.*s' (steps: %s)",
                 QUOTE(k), (int)(n.e - n.t), n.t, STEP_LIST);
            return NULL;
        }
    }
    kw = lookup(p, k);
    if (kw == NULL) {
        if (!lx_is(k, "server"))
            lx_err(p, k.t, "unknown step '%.*s%s'", QUOTE(k));
        return NULL;
    }
    st->kind = kw->kind;
    if (!kw->conn && !lx_empty(*name)) {
        lx_err(p, name->t, "'%s%s%s' takes no connection name", kw->word, kw->word2 ? " " : "",
             kw->word2 ? kw->word2 : "");
        return NULL;
    }
    if (kw->conn && parse_conns(p, *name, st) < 0)
        return NULL;
    if (kw->conn == 1 && st->set != NULL) {
        lx_err(p, name->t, "'%s%s%s' takes one connection, not a set", kw->word,
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
    if (lx_empty(lx_peek(p)))
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
    k = lx_next(p);
    if (!lx_empty(k)) {
        sc_step_free(&st);
        return lx_err(p, k.t, "unexpected '%.*s%s' at the end of the step", QUOTE(k));
    }
    if (conn_rules(p, &st, lx_empty(name) ? p->start : name.t) < 0 ||
        lx_account(p, &st, (tok){p->start, p->end, false}) < 0) {
        sc_step_free(&st);
        return -1;
    }
    if (p->s->n > 0 && p->s->steps[p->s->n - 1].kind == SC_EXPECT_ALIVE &&
        p->s->steps[p->s->n - 1].how == 1) {
        sc_step_free(&st);
        return lx_err(p, p->start, "nothing may follow 'expect server-alive at-end' (line %d): "
                      "it runs last, after every connection is closed",
                      p->s->steps[p->s->n - 1].line);
    }
    if (st.kind != SC_FRAMING && st.kind != SC_REQUIREMENT)
        p->seen_step = true;
    if (sc_append(p->s, &st) == NULL) /* it freed the step */
        return lx_err(p, p->start, "out of memory");
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
            rc = lx_err(&p, nul, "a NUL byte: a scenario is text");
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
        rc = lx_err(&p, end, "the repeat at line %d has no 'end'", p.rep[p.depth - 1].line);
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

