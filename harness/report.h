/*
 * report.h — the run's outputs: TAP version 14 on stdout, JUnit XML, and the JSON report.
 */
#ifndef FRAMESPEC_REPORT_H
#define FRAMESPEC_REPORT_H

#include <stdio.h>

#include "fs.h"

/* One case's outcome, as reported. Strings are owned by the record (report_free). */
typedef struct {
    const fs_case *c;
    int status;           /* FS_PASS / FS_FAIL / FS_SKIP */
    long duration_ms;
    char *message, *expected, *actual, *close_kind, *wirelog;
    char *repro;          /* a reproducer (scenario script) or NULL */
    char *repro_cmd;      /* the one-line command that runs it */
} report_case;

typedef struct {
    const fs_config *cfg;
    report_case *cases;
    size_t n;
    long total_ms;
    const char *target_text; /* what was judged: address or exec command */
} report;

/* Print the TAP line (and YAML diagnostics for failures) of case number `num` (1-based). */
void report_tap_case(FILE *out, const report_case *rc, size_t num, uint64_t seed);

/* Write JUnit XML to `path` (testsuite "framespec", classname = group). Returns 0 or -1 (errno). */
int report_junit(const report *r, const char *path);

/* Write the JSON report to `path`: {"summary": {...}, "cases": [...]}. Returns 0 or -1 (errno). */
int report_json(const report *r, const char *path);

/* Count statuses. */
void report_counts(const report *r, size_t *passed, size_t *failed, size_t *skipped);

/* Write `s` as a JSON string literal (with quotes) to f; NULL writes null. */
void json_string(FILE *f, const char *s);

#endif
