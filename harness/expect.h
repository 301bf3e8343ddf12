/*
 * expect.h — known verdicts: `framespec run --expect FILE` and `--write-expect FILE`.
 *
 * The file is the format of peers/NAME/expected, one case a line:
 *     CASE VERDICT [LEVEL] [WHY...]
 * CASE a catalogue id (`framespec list`); VERDICT pass, fail, warn, flaky or skip; LEVEL MUST,
 * SHOULD or - (optional, informative); WHY the rest of the line. `#` starts a comment line;
 * blank lines are ignored. How a run weighs them (report.h, report_expect):
 *   a case listed fail or warn that fails (fail, warn or flaky) is an expected failure: it does
 *     not fail the run (TAP "# TODO expected: WHY", JUnit <skipped>, JSON status "xfail"), unless
 *     it is listed warn (a SHOULD broken) and now breaks a MUST requirement: a new failure;
 *   a case listed flaky accepts any outcome (a failure is expected, a pass is a pass);
 *   a case listed fail or warn that passes is "fixed": reported, and it fails the run under
 *     --strict, so that the file cannot rot;
 *   a case listed pass or skip, or not listed, is judged as without --expect.
 * This is how conformance suites are adopted as CI gates (QUIC interop runner allow-lists,
 * pytest's xfail and strict xfail).
 */
#ifndef FRAMESPEC_EXPECT_H
#define FRAMESPEC_EXPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"

typedef struct expect_entry {
    char *id;               /* the case id, as in the catalogue */
    report_verdict verdict; /* as listed */
    char *level;            /* "MUST", "SHOULD", "-", or NULL when the line has none */
    char *why;              /* the rest of the line ("" when none) */
    unsigned line;          /* 1-based line number in the file */
} expect_entry;

typedef struct {
    const char *path; /* the file (not owned: the option's argument) */
    expect_entry *e;  /* owned; n entries in file order */
    size_t n;
} expect_list;

#define EXPECT_MAX_LINE 4096       /* bytes in a line, at most */
#define EXPECT_MAX_FILE (1 << 20)  /* bytes in a file, at most */

/* Parse text[0..len) (a file's bytes; path names it in messages, not owned) into *out; known(id)
 * says whether the catalogue has a case id (NULL: any id). Returns 0, or -1 with "--expect
 * PATH:LINE: why" in err[0..errn) for a line longer than EXPECT_MAX_LINE, a NUL byte, a
 * malformed line, a verdict not in the list above, an unknown or twice-listed id; on failure
 * *out holds nothing. */
int expect_parse(const char *path, const char *text, size_t len, bool (*known)(const char *id),
                 expect_list *out, char *err, size_t errn);

/* Read PATH (at most EXPECT_MAX_FILE bytes) into *out. Returns 0, or -1 with a message naming PATH:LINE and the fix in
 * err[0..errn) for an unreadable file, a malformed line, a verdict or level not in the lists
 * above, a case id the catalogue (fs_cases) does not have, or an id listed twice (the caller
 * exits 2). On failure *out holds nothing. */
int expect_load(const char *path, expect_list *out, char *err, size_t errn);

/* The entry for case id, or NULL when the file does not list it. */
const expect_entry *expect_find(const expect_list *l, const char *id);

/* Free what expect_load allocated; *l is cleared. */
void expect_free(expect_list *l);

/* --write-expect: write r's verdicts to PATH in the format above: a header naming the target,
 * the framespec version and the date, then every case that failed, warned or was flaky (its
 * verdict over the runs, not the expectation's outcome), with the reason listed in r's --expect
 * file when it has one, else the failure's one-line message (at most 200 bytes, printable
 * ASCII). Passing and skipped cases are not written, except a case the --expect file lists as
 * flaky: a pass does not prove it fixed, so it stays flaky (regenerating the file keeps what
 * earlier runs learnt). Returns 0, or -1 with errno set. */
int expect_write(const report *r, const char *path);

#endif
