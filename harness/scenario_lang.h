/*
 * scenario_lang.h — inside the scenario language: the parser's state and tokens (scenario_lex.c
 * reads values, scenario_parse.c lines and keywords) and the keyword table that the parser and
 * the printer (scenario_print.c) share. Not for other modules.
 */
#ifndef FRAMESPEC_SCENARIO_LANG_H
#define FRAMESPEC_SCENARIO_LANG_H

#include "scenario.h"

/* ---- the parser's state and tokens (scenario_parse.c, scenario_lex.c) ---- */

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

typedef struct pctx pctx;
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

/* A token for messages: at most SC_QUOTE_MAX characters, then "...". */
#define QUOTE(k) (int)((k).e - (k).t > SC_QUOTE_MAX ? SC_QUOTE_MAX : (k).e - (k).t), (k).t, \
                 ((k).e - (k).t > SC_QUOTE_MAX ? "..." : "")

/* Print "name:line:col: error: ..." (printf format) at `at` in the line. Returns -1. */
int lx_err(const pctx *p, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The next token (a word, or a "quoted string" with escapes); lx_peek() does not take it. */
tok lx_next(pctx *p);
tok lx_peek(pctx *p);
/* Is the token this word / empty? */
bool lx_is(tok k, const char *word);
bool lx_empty(tok k);
/* A decimal (K/M/G ok) in [lo, hi] from the token's [t + skip, e). 0, or -1. */
int lx_u64(tok k, size_t skip, uint64_t lo, uint64_t hi, uint64_t *v);
/* A valid connection name: a letter or _, then letters, digits, _ or -; at most 31. */
bool lx_name_ok(tok k);
/* PAYLOAD: "text" | hex:HEX | size:N | text:N into *out. 0, or -1 (printed). */
int lx_payload(pctx *p, tok k, sc_payload *out);
void lx_payload_free(sc_payload *pl);
/* ITEM [ITEM ...] (`frame PAYLOAD` / `raw PAYLOAD`) into st->items. 0, or -1 (printed). */
int lx_items(pctx *p, sc_step *st, bool frames_only);
/* [xN]; MS; a sleep's MS (bounded unless long sleeps are allowed); `word MS`. 0, or -1. */
int lx_reps(pctx *p, sc_step *st);
int lx_ms(pctx *p, tok k, long *ms);
int lx_sleep_ms(pctx *p, tok k, long *ms);
int lx_word_ms(pctx *p, const char *word, long *ms);
/* Account the step's bytes against SC_MAX_BYTES. 0, or -1 (printed). */
int lx_account(pctx *p, const sc_step *st, tok at);
/* Byte offsets "O,O,..." (increasing, inside [1, total)) into a new array. 0, or -1. */
int lx_offsets(pctx *p, const char *word, uint64_t total, uint64_t **out, size_t *n);


typedef struct {
    const char *word, *word2; /* `word [word2]`; word2 NULL: the parse function reads on */
    sc_kind kind;
    int conn;                 /* 0: no connection; 1: one (default c); 2: one or a set */
    int (*parse)(pctx *, sc_step *);
    void (*print)(FILE *, const scenario *, const sc_step *);
} sc_keyword;

/* The table (scenario_parse.c): the first row of a kind is the one printed. */
extern const sc_keyword sc_keywords[];
extern const size_t sc_nkeywords;

/* The printers of the rows (scenario_print.c): what follows the keyword, with a leading space. */
void sc_pr_none(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_framing(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_connect(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_send(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_shutdown(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_ms(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_reps(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_server_start(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_within(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_close(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_for(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_expect_bytes(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_vanish(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_alive(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_ping(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_flood(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_stream(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_expect_prefix(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_memory(FILE *out, const scenario *s, const sc_step *st);

#endif
