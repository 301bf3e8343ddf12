/*
 * expect.c — known verdicts for a CI gate: reading --expect FILE (the parser is expect_parse.c)
 * and writing --write-expect FILE. See expect.h.
 */
#include "expect.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"

static bool known_case(const char *id)
{
    for (size_t i = 0; i < fs_ncases; i++)
        if (!strcmp(fs_cases[i].id, id))
            return true;
    return false;
}

int expect_load(const char *path, expect_list *out, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    char *text = malloc(EXPECT_MAX_FILE + 1);
    size_t len = 0;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (f == NULL || text == NULL) {
        snprintf(err, errn, "cannot read --expect %s: %s (write one with --write-expect)", path,
                 f == NULL ? strerror(errno) : "out of memory");
    } else if ((len = fread(text, 1, EXPECT_MAX_FILE + 1, f)) > EXPECT_MAX_FILE) {
        snprintf(err, errn, "--expect %s: larger than %d bytes: is it the right file?", path,
                 EXPECT_MAX_FILE);
    } else if (ferror(f)) {
        snprintf(err, errn, "cannot read --expect %s: %s", path, strerror(errno));
    } else {
        rc = expect_parse(path, text, len, known_case, out, err, errn);
    }
    if (f)
        fclose(f);
    free(text);
    return rc;
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
        bool kept = rc->listed && rc->listed->verdict == REPORT_FLAKY && rc->verdict == REPORT_PASS;
        if ((rc->verdict == REPORT_PASS && !kept) || rc->verdict == REPORT_SKIP)
            continue;
        reason(why, sizeof why, rc->listed && rc->listed->why[0] ? rc->listed->why : rc->d.message);
        fprintf(f, "%-32s %-7s %-6s %s\n", rc->c->id,
                report_verdict_name(kept ? REPORT_FLAKY : rc->verdict),
                kept ? (rc->listed->level ? rc->listed->level : "-") : fs_level_name(rc->level),
                why);
    }
    err = ferror(f);
    if (fclose(f) != 0 || err) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}
