/*
 * expect_parse.c — the expectations file's parser (see expect.h), apart from the file I/O and
 * the catalogue so that fuzz/expect_fuzz.c can fuzz it; and the verdicts' names (report.h), which
 * the file's VERDICT column spells.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

const char *report_verdict_name(report_verdict v)
{
    static const char *const names[] = {"pass", "fail", "warn", "flaky", "skip"};
    return names[v];
}

static int verdict_of(const char *w, report_verdict *v)
{
    for (int i = REPORT_PASS; i <= REPORT_SKIP; i++)
        if (!strcmp(w, report_verdict_name((report_verdict)i))) {
            *v = (report_verdict)i;
            return 0;
        }
    return -1;
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
static int parse_line(const expect_list *l, char *text, bool (*known)(const char *id),
                      expect_entry *e, char *err, size_t errn)
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
                 "warn, flaky or skip; got '%.100s%s%.40s'", id, v ? " " : "", v ? v : "");
        return -1;
    }
    if (known != NULL && !known(id)) {
        snprintf(err, errn, "no case '%.200s' in the catalogue ('framespec list' prints the ids; "
                 "a case that was renamed or removed must be renamed or removed here too)", id);
        return -1;
    }
    if (expect_find(l, id) != NULL) {
        snprintf(err, errn, "case '%.200s' is listed twice (line %u first)", id,
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

int expect_parse(const char *path, const char *text, size_t len, bool (*known)(const char *id),
                 expect_list *out, char *err, size_t errn)
{
    char line[EXPECT_MAX_LINE + 1], why[512];
    unsigned num = 0;
    size_t cap = 0, at = 0;
    memset(out, 0, sizeof *out);
    out->path = path;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        expect_entry e = {0};
        int rc;
        num++;
        if (n > EXPECT_MAX_LINE) {
            snprintf(why, sizeof why, "the line is longer than %d bytes", EXPECT_MAX_LINE);
            goto bad;
        }
        if (memchr(text + at, '\0', n) != NULL) {
            snprintf(why, sizeof why, "a NUL byte: not a text file");
            goto bad;
        }
        memcpy(line, text + at, n);
        line[n] = '\0';
        line[strcspn(line, "\r")] = '\0';
        at += n + (nl ? 1 : 0);
        rc = parse_line(out, line, known, &e, why, sizeof why);
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
        e.line = num;
        out->e[out->n++] = e;
    }
    return 0;
bad:
    snprintf(err, errn, "--expect %s:%u: %s", path, num, why);
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
