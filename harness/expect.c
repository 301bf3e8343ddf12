/*
 * expect.c — known verdicts for a CI gate: --expect FILE and --write-expect FILE. See expect.h.
 */
#include "expect.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"

#define EXPECT_MAX_LINE 4096

static int verdict_of(const char *w, report_verdict *v)
{
    for (int i = REPORT_PASS; i <= REPORT_SKIP; i++)
        if (!strcmp(w, report_verdict_name((report_verdict)i))) {
            *v = (report_verdict)i;
            return 0;
        }
    return -1;
}

static bool known_case(const char *id)
{
    for (size_t i = 0; i < fs_ncases; i++)
        if (!strcmp(fs_cases[i].id, id))
            return true;
    return false;
}

/* The next word of *p (spaces and tabs separate), NUL-terminated in place; NULL at the end. */
static char *word(char **p)
{
    char *s = *p, *w;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return NULL;
    w = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = '\0';
    *p = s;
    return w;
}

/* One line (without its newline) into e. Returns 0, 1 for a blank or comment line, or -1 with
 * the reason in err. */
static int parse_line(const expect_list *l, char *text, expect_entry *e, char *err, size_t errn)
{
    char *p = text, *id, *v, *rest;
    size_t wl;
    bool leveled = false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 1;
    id = word(&p);
    if ((v = word(&p)) == NULL || verdict_of(v, &e->verdict) < 0) {
        snprintf(err, errn, "expected 'CASE VERDICT [LEVEL] [WHY]' with VERDICT pass, fail, "
                 "warn, flaky or skip; got '%s%s%s'", id, v ? " " : "", v ? v : "");
        return -1;
    }
    if (!known_case(id)) {
        snprintf(err, errn, "no case '%s' in the catalogue ('framespec list' prints the ids; "
                 "a case that was renamed or removed must be renamed or removed here too)", id);
        return -1;
    }
    if (expect_find(l, id) != NULL) {
        snprintf(err, errn, "case '%s' is listed twice (line %u first)", id,
                 expect_find(l, id)->line);
        return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    e->level = NULL;
    wl = strcspn(p, " \t");
    if ((wl == 4 && !strncmp(p, "MUST", 4)) || (wl == 6 && !strncmp(p, "SHOULD", 6)) ||
        (wl == 1 && *p == '-')) {
        e->level = strndup(p, wl);
        leveled = true;
        p += wl;
    }
    rest = p;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    for (size_t n = strlen(rest); n > 0 && isspace((unsigned char)rest[n - 1]); n--)
        rest[n - 1] = '\0';
    e->id = strdup(id);
    e->why = strdup(rest);
    if (e->id == NULL || e->why == NULL || (leveled && e->level == NULL)) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    return 0;
}

int expect_load(const char *path, expect_list *out, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    char text[EXPECT_MAX_LINE + 2], why[512];
    unsigned line = 0;
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    out->path = path;
    if (f == NULL) {
        snprintf(err, errn, "cannot read --expect %s: %s (write one with --write-expect)", path,
                 strerror(errno));
        return -1;
    }
    while (fgets(text, sizeof text, f) != NULL) {
        size_t len = strlen(text);
        expect_entry e = {0};
        int rc;
        line++;
        if (len > EXPECT_MAX_LINE && text[len - 1] != '\n') {
            snprintf(why, sizeof why, "the line is longer than %d bytes", EXPECT_MAX_LINE);
            goto bad;
        }
        text[strcspn(text, "\r\n")] = '\0';
        rc = parse_line(out, text, &e, why, sizeof why);
        if (rc == 1)
            continue;
        if (rc == 0 && out->n == cap) {
            expect_entry *grown = realloc(out->e, (cap ? cap * 2 : 32) * sizeof *grown);
            if (grown == NULL) {
                snprintf(why, sizeof why, "out of memory");
                rc = -1;
            } else {
                out->e = grown;
                cap = cap ? cap * 2 : 32;
            }
        }
        if (rc < 0) {
            free(e.id);
            free(e.why);
            free(e.level);
            goto bad;
        }
        e.line = line;
        out->e[out->n++] = e;
    }
    if (ferror(f)) {
        snprintf(why, sizeof why, "read error: %s", strerror(errno));
        goto bad;
    }
    fclose(f);
    return 0;
bad:
    snprintf(err, errn, "--expect %s:%u: %s", path, line, why);
    fclose(f);
    expect_free(out);
    return -1;
}

const expect_entry *expect_find(const expect_list *l, const char *id)
{
    for (size_t i = 0; l && i < l->n; i++)
        if (!strcmp(l->e[i].id, id))
            return &l->e[i];
    return NULL;
}

void expect_free(expect_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].id);
        free(l->e[i].why);
        free(l->e[i].level);
    }
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* s as a reason on one line: at most 200 bytes of printable ASCII ('?' for the rest). */
static void reason(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < n && o < 200; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : (*s == '\n' || *s == '\t') ? ' ' : '?';
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

int expect_write(const report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    char day[32], why[256];
    time_t now = time(NULL);
    int err;
    if (f == NULL)
        return -1;
    strftime(day, sizeof day, "%Y-%m-%d", gmtime(&now));
    fprintf(f, "# framespec run --write-expect, %s, framespec %s\n# target: %s\n"
               "# Commit this file and run with --expect FILE: these failures no longer fail the "
               "run,\n# a new one does, and --strict fails the run when one listed here passes.\n"
               "# CASE%-28s VERDICT LEVEL  WHY\n",
            day, FRAMESPEC_VERSION, r->target_text ? r->target_text : "?", "");
    for (size_t i = 0; i < r->n; i++) {
        const report_case *rc = &r->cases[i];
        if (rc->verdict == REPORT_PASS || rc->verdict == REPORT_SKIP)
            continue;
        reason(why, sizeof why, rc->listed && rc->listed->why[0] ? rc->listed->why : rc->d.message);
        fprintf(f, "%-32s %-7s %-6s %s\n", rc->c->id, report_verdict_name(rc->verdict),
                fs_level_name(rc->level), why);
    }
    err = ferror(f);
    if (fclose(f) != 0 || err) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}
