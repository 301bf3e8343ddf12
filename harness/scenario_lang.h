/*
 * scenario_lang.h — inside the scenario language: the keyword table that the parser
 * (scenario_parse.c) and the printer (scenario_print.c) share. Not for other modules.
 */
#ifndef FRAMESPEC_SCENARIO_LANG_H
#define FRAMESPEC_SCENARIO_LANG_H

#include "scenario.h"

typedef struct pctx pctx;

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
void sc_pr_for(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_expect_bytes(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_vanish(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_ping(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_flood(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_stream(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_expect_prefix(FILE *out, const scenario *s, const sc_step *st);
void sc_pr_memory(FILE *out, const scenario *s, const sc_step *st);

/* The connection (or set: "c1..c500") a step acts on, as written. */
void sc_print_conn(FILE *out, const scenario *s, const sc_step *st);

#endif
