/*
 * expect_fuzz — the expectations file's parser (harness/expect_parse.c, framespec run --expect)
 * on any bytes.
 *
 * Input: a file's bytes. They must parse or be refused with a "--expect PATH:LINE: why" message,
 * never crash, hang or leak (LeakSanitizer under libFuzzer). Of what parses: every entry has an
 * id of a known shape (the stub catalogue below: GROUP.NAME in lower case), a verdict whose name
 * reads back, a level that is NULL, MUST, SHOULD or -, a reason without a newline, a line number
 * within the file and in increasing order, and no id twice (expect_find finds each entry itself).
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "expect.h"
#include "fuzz_common.h"

/* The stub catalogue: ids of the catalogue's shape, group.name in [a-z0-9_]. */
static bool known(const char *id)
{
    const char *dot = strchr(id, '.');
    if (dot == NULL || dot == id || dot[1] == '\0' || strchr(dot + 1, '.'))
        return false;
    for (const char *p = id; *p; p++)
        if (p != dot && !(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    expect_list l;
    char err[1024];
    unsigned lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (expect_parse("fuzz", (const char *)data, size, known, &l, err, sizeof err) < 0) {
        FUZZ_CHECK(strncmp(err, "--expect fuzz:", 14) == 0, "a refusal without its place: %s",
                   err);
        FUZZ_CHECK(l.n == 0 && l.e == NULL, "a refused file left %zu entries", l.n);
        return 0;
    }
    for (size_t i = 0; i < l.n; i++) {
        const expect_entry *e = &l.e[i];
        FUZZ_CHECK(known(e->id), "an entry with an unknown id '%s'", e->id);
        FUZZ_CHECK(e->verdict >= REPORT_PASS && e->verdict <= REPORT_SKIP &&
                       report_verdict_name(e->verdict) != NULL,
                   "entry %zu: verdict %d", i, (int)e->verdict);
        FUZZ_CHECK(e->level == NULL || !strcmp(e->level, "MUST") || !strcmp(e->level, "SHOULD") ||
                       !strcmp(e->level, "-"),
                   "entry %zu: level '%s'", i, e->level);
        FUZZ_CHECK(strchr(e->why, '\n') == NULL && strchr(e->why, '\r') == NULL,
                   "entry %zu: a reason over two lines", i);
        FUZZ_CHECK(e->line >= 1 && e->line <= lines && (i == 0 || e->line > l.e[i - 1].line),
                   "entry %zu: line %u of %u", i, e->line, lines);
        FUZZ_CHECK(expect_find(&l, e->id) == e, "entry %zu: '%s' listed twice", i, e->id);
    }
    expect_free(&l);
    return 0;
}
