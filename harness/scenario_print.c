/*
 * scenario_print.c — the scenario language's printer (steps -> text), through the keyword table
 * of scenario_parse.c, so that what it prints parses back to the same steps.
 */
#include "scenario_lang.h"

#include <sys/socket.h>

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

static void print_offsets(FILE *out, const char *word, const uint64_t *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%llu", i ? "," : word, (unsigned long long)o[i]);
}

/* The connection (or set: "c1..c500") a step acts on, as written. */
static void sc_print_conn(FILE *out, const scenario *s, const sc_step *st)
{
    if (st->set != NULL && st->nset > 1)
        fprintf(out, "%s..%s", s->names[st->set[0]], s->names[st->set[st->nset - 1]]);
    else
        fputs(s->names[st->conn], out);
}

void sc_pr_none(FILE *out, const scenario *s, const sc_step *st)
{
    (void)out;
    (void)s;
    (void)st;
}

void sc_pr_framing(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " %s", wire_framing_name(&st->framing));
}

void sc_pr_connect(FILE *out, const scenario *s, const sc_step *st)
{
    fputc(' ', out);
    sc_print_conn(out, s, st);
}

void sc_pr_send(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    print_items(out, st);
    if (st->by)
        fprintf(out, " by %llu", (unsigned long long)st->by);
    print_offsets(out, " at ", st->cuts, st->ncuts);
    if (st->pause_ms)
        fprintf(out, " pause %ld", st->pause_ms);
    print_offsets(out, " after ", st->pause_at, st->npause_at);
}

void sc_pr_shutdown(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fputs(st->how == SHUT_WR ? " wr" : st->how == SHUT_RD ? " rd" : " rdwr", out);
}

void sc_pr_ms(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " %ld", st->ms);
}

void sc_pr_reps(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " %llu", (unsigned long long)st->reps);
}

void sc_pr_server_start(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fputs(st->how == 1 ? " same-port" : " new-port", out);
}

void sc_pr_within(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " within %ld", st->ms);
}

void sc_pr_close(FILE *out, const scenario *s, const sc_step *st)
{
    sc_pr_within(out, s, st);
    if (st->how & SC_BEFORE_IDLE)
        fputs(" before-idle", out);
    if (st->how & SC_DISCARDING)
        fputs(" discarding", out);
}

void sc_pr_for(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " for %ld", st->ms);
}

void sc_pr_expect_bytes(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    sc_pr_within(out, s, st);
}

void sc_pr_alive(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    if (st->how == 1)
        fputs(" at-end", out);
}

void sc_pr_vanish(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    if (st->how == 1)
        fputs(" pending", out);
}

void sc_pr_ping(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fputs(" p90", out);
    sc_pr_within(out, s, st);
}

void sc_pr_flood(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fputs(st->judged ? " at-most " : " up-to ", out);
    if (st->limit == SC_KERNEL)
        fputs("kernel", out);
    else
        fprintf(out, "%llu", (unsigned long long)st->limit);
    fputs(st->how == 1 ? " then shutdown" : st->how == 2 ? " then term" : "", out);
    sc_pr_within(out, s, st);
}

void sc_pr_stream(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fprintf(out, " then term after %ld", st->after_ms);
    sc_pr_within(out, s, st);
}

void sc_pr_expect_prefix(FILE *out, const scenario *s, const sc_step *st)
{
    print_items(out, st);
    fputs(" then eof", out);
    sc_pr_within(out, s, st);
}

void sc_pr_memory(FILE *out, const scenario *s, const sc_step *st)
{
    (void)s;
    fprintf(out, " at-most %llu", (unsigned long long)st->limit);
}

void sc_print_step(FILE *out, const scenario *s, const sc_step *st)
{
    for (size_t i = 0; i < sc_nkeywords; i++) {
        const sc_keyword *kw = &sc_keywords[i];
        if (kw->kind != st->kind)
            continue;
        if (kw->conn && st->conn >= 0) {
            sc_print_conn(out, s, st);
            fputc(' ', out);
        }
        fprintf(out, "%s%s%s", kw->word, kw->word2 ? " " : "", kw->word2 ? kw->word2 : "");
        kw->print(out, s, st);
        if (st->kind == SC_REQUIREMENT)
            fprintf(out, " %s", fs_req_id(st->req));
        else if (st->req != REQ_NONE)
            fprintf(out, "  # %s", fs_req_id(st->req));
        return;
    }
}

void sc_print(FILE *out, const scenario *s)
{
    int depth = 0;
    fprintf(out, "framing %s\n", wire_framing_name(&s->framing));
    if (s->requirement != REQ_NONE)
        fprintf(out, "requirement %s\n", fs_req_id(s->requirement));
    for (size_t i = 0; i < s->n; i++) {
        if (s->steps[i].kind == SC_FRAMING || s->steps[i].kind == SC_REQUIREMENT)
            continue;
        if (s->steps[i].kind == SC_END && depth > 0)
            depth--;
        for (int d = 0; d < depth; d++)
            fputs("  ", out);
        sc_print_step(out, s, &s->steps[i]);
        fputc('\n', out);
        if (s->steps[i].kind == SC_REPEAT)
            depth++;
    }
}
