/*
 * case.c — how a case writes its scenario and runs it with the one interpreter (fs.h): the
 * scenario text, the items of the run's framing, and the verdict the engine gives.
 */
#include "fs.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many runs of a scenario whose failure the server's idle timeout explains. */
#define IDLE_ATTEMPTS 3

void fs_ctx_free(fs_ctx *c)
{
    while (c->strs) {
        fs_str *n = c->strs->next;
        free(c->strs);
        c->strs = n;
    }
    free(c->text);
    c->text = NULL;
    c->len = c->cap = 0;
}

void fs_echo(fs_ctx *c, const char *conn, const char *items, double ms)
{
    fs_sc(c, "%s send %s", conn, items);
    fs_sc(c, "%s expect %s within %lld", conn, items, (long long)fs_ms(c, ms));
}

__attribute__((format(printf, 2, 0))) static char *vfmt(fs_ctx *c, const char *fmt, va_list ap)
{
    va_list aq;
    int n;
    fs_str *s;
    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0 || (s = malloc(sizeof *s + (size_t)n + 1)) == NULL) {
        c->lost = true;
        return NULL;
    }
    vsnprintf(s->text, (size_t)n + 1, fmt, ap);
    s->next = c->strs;
    c->strs = s;
    return s->text;
}

const char *fs_fmt(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = vfmt(c, fmt, ap);
    va_end(ap);
    return s ? s : "";
}

void fs_sc(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        c->lost = true;
        return;
    }
    if (c->len + (size_t)n + 2 > c->cap) {
        size_t nc = (c->len + (size_t)n + 2) * 2;
        char *t = realloc(c->text, nc);
        if (t == NULL) {
            c->lost = true; /* fs_sc_run() fails the case: its scenario is short of this line */
            return;
        }
        c->text = t;
        c->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(c->text + c->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->len += (size_t)n;
    c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
}

const char *fs_raw(fs_ctx *c, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    const char *r;
    if (hex == NULL)
        return "";
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", p[i]);
    hex[2 * n] = '\0';
    r = fs_fmt(c, "raw hex:%s", hex);
    free(hex);
    return r;
}

size_t fs_max_payload(const fs_ctx *c, size_t limit)
{
    return c->cfg->max_payload < limit ? (size_t)c->cfg->max_payload : limit;
}

const char *fs_frame(fs_ctx *c, uint64_t n)
{
    if (n > c->cfg->max_payload)
        n = c->cfg->max_payload;
    return fs_fmt(c, "frame %s:%llu", wire_is_line(c->cfg->framing) ? "text" : "size",
                  (unsigned long long)n);
}

/* count frames of sizes cycling through sizes[0..nsizes), with " xK" when reps allows it and
 * count is K > 1 whole cycles. */
static const char *frames_text(fs_ctx *c, const size_t *sizes, size_t nsizes, size_t count,
                               bool reps)
{
    bool cycles = reps && count > nsizes && count % nsizes == 0;
    size_t len = 0;
    char *out = NULL;
    FILE *m = open_memstream(&out, &len);
    const char *r;
    if (m == NULL)
        return "";
    for (size_t i = 0; i < (cycles ? nsizes : count); i++)
        fprintf(m, "%s%s", i ? " " : "", fs_frame(c, sizes[i % nsizes]));
    if (cycles)
        fprintf(m, " x%zu", count / nsizes);
    fclose(m);
    r = fs_fmt(c, "%s", out ? out : "");
    free(out);
    return r;
}

const char *fs_frames(fs_ctx *c, const size_t *sizes, size_t nsizes, size_t count)
{
    return frames_text(c, sizes, nsizes, count, true);
}

const char *fs_frame_list(fs_ctx *c, const size_t *sizes, size_t nsizes, size_t count)
{
    return frames_text(c, sizes, nsizes, count, false);
}

uint64_t fs_rand(fs_ctx *c)
{
    uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The engine's wire log and notes, into the case's records. */
static void case_log(void *arg, const char *line)
{
    fs_log(arg, "%s", line);
}

static void case_note(void *arg, const char *text)
{
    fs_note(arg, "%s", text);
}

/* The case's first requirement (what an untagged step checks). */
static fs_req first_requirement(const fs_ctx *c)
{
    const char *r = c->requirements ? c->requirements : "";
    return fs_req_find(r, strcspn(r, ","));
}

/* Report failure f of step st as the case's verdict. */
static void report(fs_ctx *c, const scenario *s, const sc_failure *f)
{
    const sc_step *st = &s->steps[f->step];
    fs_req req = f->req;
    char *text = NULL, where[96] = "";
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m != NULL) {
        sc_step bare = *st;
        bare.req = REQ_NONE;
        sc_print_step(m, s, &bare);
        fclose(m);
    }
    if (f->iteration > 0 && st->set != NULL && f->conn >= 0)
        snprintf(where, sizeof where, " (iteration %llu, on %s)",
                 (unsigned long long)f->iteration, s->names[f->conn]);
    else if (f->iteration > 0)
        snprintf(where, sizeof where, " (iteration %llu)", (unsigned long long)f->iteration);
    else if (st->set != NULL && f->conn >= 0)
        snprintf(where, sizeof where, " (on %s)", s->names[f->conn]);
    fs_expected(c, "%s", f->expected);
    fs_actual(c, "%s", f->actual);
    if (sc_failure_close(f))
        fs_close_kind(c, sc_failure_close(f));
    fs_violated(c, req);
    if (fs_req_level(req) == FS_SHOULD)
        fs_warn(c, "%s: expected %s; got %s, at line %d `%s`%s", fs_req_id(req), f->expected,
                f->actual, st->line, text ? text : "", where);
    else
        fs_fail(c, "%s: expected %s; got %s, at line %d `%s`%s", fs_req_id(req), f->expected,
                f->actual, st->line, text ? text : "", where);
    free(text);
}

int fs_sc_run(fs_ctx *c)
{
    scenario s;
    sc_server ops;
    sc_failure f;
    sc_env env = {.verbose = c->cfg->verbose, .quiet = true, .inbox_min = 1u << 20,
                  .scale = c->cfg->scale, .netns = c->cfg->netns, .idle_ms = c->cfg->idle_ms,
                  .lossy = c->cfg->loss_pct > 0,
                  .log = case_log, .note = case_note, .arg = c};
    char *errs = NULL;
    size_t elen = 0;
    FILE *err = open_memstream(&errs, &elen);
    int rc = 2;
    sc_init(&s);
    s.framing = c->cfg->framing;
    s.payload_bound = c->cfg->max_payload;
    s.long_sleeps = true;
    s.requirement = first_requirement(c);
    if (c->lost) {
        if (err)
            fclose(err);
        fs_fail(c, "out of memory while writing the case's scenario");
        goto out;
    }
    if (err == NULL || c->text == NULL ||
        sc_parse_buf(&s, "case", c->text, c->len, err) < 0) {
        if (err)
            fclose(err);
        fs_fail(c, "framespec bug: the case's scenario is not valid: %s (please report it)",
                errs && *errs ? errs : "out of memory");
        goto out;
    }
    fclose(err);
    fs_result_repro(c, c->text, c->len);
    env.srv = fs_server_ops(c, &ops);
    for (int attempt = 1; attempt <= IDLE_ATTEMPTS; attempt++) {
        env.addr = c->cfg->addr; /* a restart of an earlier attempt may have moved it */
        rc = sc_run(&s, &env, "case", &f);
        if (rc != 1 || f.idle_note[0] == '\0')
            break;
        fs_log(c, "attempt %d of %d inconclusive: %s", attempt, IDLE_ATTEMPTS, f.idle_note);
    }
    if (rc == 2)
        fs_fail(c, "framespec bug: the case's scenario cannot run here (see the log; please "
                   "report it)");
    else if (rc == 1 && f.idle_note[0] != '\0')
        fs_skip(c, "inconclusive in %d attempts: %s: %s", IDLE_ATTEMPTS, f.actual, f.idle_note);
    else if (rc == 1)
        report(c, &s, &f);
out:
    free(errs);
    sc_free(&s);
    return rc;
}
