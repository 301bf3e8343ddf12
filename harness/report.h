/*
 * report.h — the run's verdicts and outputs: TAP version 14 on stdout, JUnit XML (libxml2's
 * xmlwriter) and the JSON report (jansson).
 *
 * A case runs once, or --repeat N times with the same server. Its verdict over those runs:
 *   pass   no run failed;
 *   fail   every run failed and the case is MUST (or SHOULD under --strict);
 *   warn   every run failed and the case is SHOULD only (docs/spec.md levels): reported, but it
 *          does not fail the gate (TAP: "# TODO SHOULD: ..."; JUnit: no <failure>);
 *   flaky  k of N runs failed (0 < k < N): a flaky MUST case fails the gate, because the server
 *          does misbehave; a flaky SHOULD case warns (fails under --strict);
 *   skip   the case does not apply (framing, an option not given).
 * The diagnostics kept are the first failing run's.
 */
#ifndef FRAMESPEC_REPORT_H
#define FRAMESPEC_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "fs.h"

typedef enum { REPORT_PASS, REPORT_FAIL, REPORT_WARN, REPORT_FLAKY, REPORT_SKIP } report_verdict;

/* What --expect made of a case's verdict (expect.h): nothing (not listed, or judged as without
 * the file), an expected failure, or a listed failure that now passes. */
typedef enum { REPORT_UNLISTED, REPORT_XFAIL, REPORT_FIXED } report_expect;
struct expect_entry;

/* The diagnostics of one run of a case: malloc'ed strings (or NULL), owned by the holder. */
typedef struct {
    char *message; /* one line: why it failed, or why it was skipped */
    char *expected, *actual, *close_kind, *wirelog;
    char *requirement; /* the requirement id the failure broke ("HALFCLOSE-1"), or NULL */
    char *repro;     /* a reproducer (scenario script) or NULL */
    char *repro_cmd; /* the one-line command that runs it */
} report_diag;

/* Free the strings of d and clear it. */
void report_diag_free(report_diag *d);

/* One case's outcome over its runs. */
typedef struct {
    const fs_case *c;
    fs_level level;
    report_verdict verdict;
    unsigned runs;          /* runs that applied (not skipped) */
    unsigned failures;      /* of those, runs that failed */
    unsigned failed_run[32]; /* 1-based numbers of the (first 32) failing runs */
    long duration_ms;       /* all runs */
    report_diag d;          /* the first failing run's diagnostics (a skip: its reason) */
    const struct expect_entry *listed; /* its --expect line, or NULL (owned by the list) */
    report_expect expect;   /* set by report_settle from verdict and listed */
} report_case;

typedef struct {
    const fs_config *cfg;
    report_case *cases;
    size_t n;
    long total_ms;
    const char *target_text; /* what was judged: address or exec command */
    const char *label;       /* --label: the implementation's name, or NULL */
    unsigned repeat;         /* --repeat N (1 by default) */
    bool strict;             /* --strict: warnings fail, and so do fixed cases */
    const char *expect_path; /* --expect FILE, or NULL */
} report;

/* The cases by outcome: every case is counted once (an expected failure under expected, not
 * failed; a fixed case under fixed, not passed). */
typedef struct {
    size_t passed, failed, warnings, flaky, skipped, expected, fixed;
} report_totals;

/* Settle rc->verdict from its level, runs and failures (see above), then rc->expect from the
 * verdict and rc->listed (expect.h). */
void report_settle(report_case *rc, bool strict);

/* Does this case fail the gate (exit status 1)? A fail, or a flaky MUST case (any flaky case
 * under --strict), unless --expect lists it as failing; a fixed case under --strict. */
bool report_gate_fails(const report *r, const report_case *rc);

/* Count verdicts. */
void report_totals_of(const report *r, report_totals *t);

/* "pass", "fail", "warn", "flaky" or "skip" (defined in expect_parse.c, with the expectations
 * file's parser that reads them). */
const char *report_verdict_name(report_verdict v);

/* The case's status in the reports: "xfail" or "fixed" when --expect made it one, else its
 * verdict's name. */
const char *report_status_name(const report_case *rc);

/* Print the TAP line (with YAML diagnostics unless it passed or was skipped) of case number `num`
 * (1-based). */
void report_tap_case(FILE *out, const report *r, const report_case *rc, size_t num);

/* Print the summary line: "N passed, N failed, N warnings, N flaky, N skipped", and with
 * --expect ", N expected, N fixed"; then a "# fixed: remove ..." line per fixed case. */
void report_tap_summary(FILE *out, const report *r);

/*
 * Before a run: check that PATH (an --OPT of command CMD) can be written, by creating or
 * truncating it (an old report there is emptied, so a run that then fails to write it leaves no
 * stale report behind). Returns 0, or -1 after printing why to stderr (the caller exits 2).
 */
int report_preflight(const char *cmd, const char *opt, const char *path);

/* Write JUnit XML to `path` (testsuite "framespec", classname = framespec.GROUP): a case that
 * fails the gate gets a <failure> (type "nonconformance", "flaky", or "fixed" under --strict)
 * whose text holds the diagnostics and the reproducer; a warning only a <system-out>; an
 * expected failure <skipped message="expected failure: WHY"/> (so consumers count it as
 * skipped: the skipped attribute counts skips and expected failures). Returns 0, or -1 with
 * errno set when the file cannot be written. */
int report_junit(const report *r, const char *path);

/* Write the JSON report to `path`: {"summary": {passed, failed, warnings, flaky, skipped,
 * expected, fixed, total, duration_ms, repeat, strict}, "framespec_version", "target", "label"
 * (--label or null), "framing", "max_frame", "seed", "expect_file" (or null), "cases": [{id,
 * description, requirements, level, status (report_status_name), verdict (the verdict over the
 * runs, also for xfail and fixed), listed ({verdict, level, why, line} of its --expect line, or
 * null), fails_gate, runs, failures, failed_runs, duration_ms, detail, violated, expected,
 * actual, close, repro, repro_command, wire_log}]}; "expected" is the failing step's expected
 * value (not the expectations file); violated is the requirement id the (first) failure broke, or null
 * (strings null when absent; wire_log only for cases that did not pass). framespec report renders
 * it (report_html.h). Returns 0, or -1 with errno set. */
int report_json(const report *r, const char *path);

/* s (NULL: "") as a new JSON string for jansson: escaping is jansson's; bytes of a string that is
 * not valid UTF-8 (jansson refuses those) become '?'. The caller owns the reference. */
json_t *report_json_text(const char *s);

#endif
