/*
 * report.c — verdicts, TAP 14, JUnit XML (libxml2 xmlwriter) and JSON (jansson). See report.h.
 */
#include "report.h"
#include "expect.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void report_diag_free(report_diag *d)
{
    free(d->message);
    free(d->expected);
    free(d->actual);
    free(d->close_kind);
    free(d->wirelog);
    free(d->requirement);
    free(d->repro);
    free(d->repro_cmd);
    memset(d, 0, sizeof *d);
}

void report_settle(report_case *rc, bool strict)
{
    if (rc->runs == 0)
        rc->verdict = REPORT_SKIP;
    else if (rc->failures == 0)
        rc->verdict = REPORT_PASS;
    else if (rc->failures < rc->runs)
        rc->verdict = REPORT_FLAKY;
    else if (rc->level == FS_SHOULD && !strict)
        rc->verdict = REPORT_WARN;
    else
        rc->verdict = REPORT_FAIL;
    rc->expect = REPORT_UNLISTED;
    if (rc->listed == NULL || rc->verdict == REPORT_SKIP)
        return;
    if (rc->listed->verdict == REPORT_FAIL || rc->listed->verdict == REPORT_WARN ||
        rc->listed->verdict == REPORT_FLAKY) {
        if (rc->listed->verdict == REPORT_WARN && rc->verdict != REPORT_PASS &&
            rc->level == FS_MUST)
            return; /* listed for a SHOULD, now breaks a MUST: a new failure */
        if (rc->verdict != REPORT_PASS)
            rc->expect = REPORT_XFAIL;
        else if (rc->listed->verdict != REPORT_FLAKY)
            rc->expect = REPORT_FIXED;
    }
}

bool report_gate_fails(const report *r, const report_case *rc)
{
    if (rc->expect == REPORT_XFAIL)
        return false;
    if (rc->expect == REPORT_FIXED)
        return r->strict;
    return rc->verdict == REPORT_FAIL ||
           (rc->verdict == REPORT_FLAKY && (rc->level == FS_MUST || r->strict));
}

const char *report_status_name(const report_case *rc)
{
    if (rc->expect == REPORT_XFAIL)
        return "xfail";
    if (rc->expect == REPORT_FIXED)
        return "fixed";
    return report_verdict_name(rc->verdict);
}

void report_totals_of(const report *r, report_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < r->n; i++) {
        if (r->cases[i].expect != REPORT_UNLISTED) {
            *(r->cases[i].expect == REPORT_XFAIL ? &t->expected : &t->fixed) += 1;
            continue;
        }
        switch (r->cases[i].verdict) {
        case REPORT_PASS:
            t->passed++;
            break;
        case REPORT_FAIL:
            t->failed++;
            break;
        case REPORT_WARN:
            t->warnings++;
            break;
        case REPORT_FLAKY:
            t->flaky++;
            break;
        case REPORT_SKIP:
            t->skipped++;
            break;
        }
    }
}

/* "2, 5, 7" — the failing runs' numbers. */
static void failed_runs_text(const report_case *rc, char *out, size_t n)
{
    size_t o = 0, shown = rc->failures < 32 ? rc->failures : 32;
    out[0] = '\0';
    for (size_t i = 0; i < shown && o + 16 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%u", i ? ", " : "", rc->failed_run[i]);
    if (shown < rc->failures && o + 8 < n)
        snprintf(out + o, n - o, ", ...");
}

/* The one-line message of a case: for a flaky case, how often it failed comes first. */
static void headline(const report_case *rc, char *out, size_t n)
{
    const char *m = rc->d.message ? rc->d.message : "";
    if (rc->verdict == REPORT_FLAKY) {
        char runs[160];
        failed_runs_text(rc, runs, sizeof runs);
        snprintf(out, n, "flaky: failed %u of %u runs (run%s %s); first failure: %s", rc->failures,
                 rc->runs, rc->failures > 1 ? "s" : "", runs, m);
    } else {
        snprintf(out, n, "%s", m);
    }
}

/* "fixed: ID passed; remove it from FILE (line N lists it as fail)". */
static void fixed_text(const report *r, const report_case *rc, char *out, size_t n)
{
    snprintf(out, n, "fixed: %s passed; remove it from %s (line %u lists it as %s)%s", rc->c->id,
             r->expect_path ? r->expect_path : "the --expect file", rc->listed ? rc->listed->line : 0,
             rc->listed ? report_verdict_name(rc->listed->verdict) : "failing",
             r->strict ? "; --strict fails a listed case that passes" : "");
}

/* ---- TAP ---- */

/* s on one line for a TAP directive's reason: newlines become spaces and '#' is escaped as "\#"
 * (TAP 14's escape: an unescaped '#' would start another directive). */
static void tap_oneline(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        if (*s == '\n' || *s == '\r')
            out[o++] = ' ';
        else if (*s == '#')
            o += (size_t)snprintf(out + o, n - o, "\\#");
        else
            out[o++] = *s;
    }
    out[o] = '\0';
}

/* A YAML double-quoted scalar. */
static void yaml_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void yaml_field(FILE *f, const char *key, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    fprintf(f, "  %s: ", key);
    yaml_string(f, value);
    fputc('\n', f);
}

void report_tap_case(FILE *out, const report *r, const report_case *rc, size_t num)
{
    const char *id = rc->c->id;
    char line[1024];
    if (rc->expect == REPORT_FIXED && !r->strict) {
        fixed_text(r, rc, line, sizeof line);
        fprintf(out, "ok %zu - %s\n# %s\n", num, id, line);
        fflush(out);
        return;
    }
    if (rc->verdict == REPORT_PASS && rc->expect != REPORT_FIXED) {
        fprintf(out, "ok %zu - %s\n", num, id);
        fflush(out);
        return;
    }
    if (rc->verdict == REPORT_SKIP) {
        fprintf(out, "ok %zu - %s # SKIP %s\n", num, id, rc->d.message ? rc->d.message : "");
        fflush(out);
        return;
    }
    headline(rc, line, sizeof line);
    if (rc->expect == REPORT_FIXED)
        fixed_text(r, rc, line, sizeof line);
    if (rc->expect == REPORT_XFAIL) {
        char why[512];
        tap_oneline(why, sizeof why, rc->listed->why[0] ? rc->listed->why : line);
        fprintf(out, "not ok %zu - %s # TODO expected: %s\n", num, id, why);
    } else if (report_gate_fails(r, rc)) {
        fprintf(out, "not ok %zu - %s\n", num, id);
    } else {
        /* a SHOULD that failed: a TODO, which TAP consumers do not count as a failure */
        for (char *p = line; *p; p++)
            if (*p == '\n')
                *p = ' ';
        fprintf(out, "not ok %zu - %s # TODO SHOULD: %s\n", num, id, line);
    }
    fputs("  ---\n", out);
    yaml_field(out, "message", line);
    fprintf(out, "  verdict: %s\n  level: %s\n  requirements: [%s]\n",
            report_verdict_name(rc->verdict), fs_level_name(rc->level), rc->c->requirements);
    if (r->repeat > 1) {
        char runs[160];
        failed_runs_text(rc, runs, sizeof runs);
        fprintf(out, "  runs: %u\n  failures: %u\n  failed_runs: [%s]\n", rc->runs, rc->failures,
                runs);
    }
    yaml_field(out, "violated", rc->d.requirement);
    yaml_field(out, "expected", rc->d.expected);
    yaml_field(out, "actual", rc->d.actual);
    if (rc->d.close_kind && *rc->d.close_kind)
        fprintf(out, "  close: %s\n", rc->d.close_kind);
    fprintf(out, "  seed: %llu\n  duration_ms: %ld\n", (unsigned long long)r->cfg->seed,
            rc->duration_ms);
    yaml_field(out, "repro_command", rc->d.repro_cmd);
    if (rc->d.repro) {
        const char *p = rc->d.repro;
        fputs("  repro: |\n", out);
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(out, "    %.*s\n", (int)l, p);
            p += l + (nl ? 1 : 0);
        }
    }
    fputs("  ...\n", out);
    fflush(out);
}

void report_tap_summary(FILE *out, const report *r)
{
    report_totals t;
    char line[1024];
    report_totals_of(r, &t);
    for (size_t i = 0; i < r->n; i++)
        if (r->cases[i].expect == REPORT_FIXED) {
            fixed_text(r, &r->cases[i], line, sizeof line);
            fprintf(out, "# %s\n", line);
        }
    fprintf(out, "%zu passed, %zu failed, %zu warnings, %zu flaky, %zu skipped", t.passed,
            t.failed, t.warnings, t.flaky, t.skipped);
    if (r->expect_path)
        fprintf(out, ", %zu expected, %zu fixed", t.expected, t.fixed);
    fputc('\n', out);
    fflush(out);
}

/* ---- JUnit ---- */

/* The length (1..4) of the well-formed UTF-8 sequence at p (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF) that XML 1.0 allows (its Char production: not U+FFFE or
 * U+FFFF), or 0. A NUL ends the string, so p[1..3] are read only while they continue it. */
static size_t utf8_xml_len(const unsigned char *p)
{
    unsigned cp;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return n;
}

/* A copy of s that XML 1.0 can carry in UTF-8: control characters other than \t \n \r, and
 * every byte that does not start a well-formed UTF-8 character (a hostile server's bytes, a
 * command line in another encoding), become '?'. NULL when s is NULL or out of memory. */
static char *xml_safe(const char *s)
{
    char *d;
    size_t n;
    if (s == NULL || (d = strdup(s)) == NULL)
        return NULL;
    for (unsigned char *p = (unsigned char *)d; *p; p += n) {
        n = utf8_xml_len(p);
        if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')) {
            *p = '?';
            n = 1;
        }
    }
    return d;
}

static const xmlChar *X(const char *s)
{
    return (const xmlChar *)s;
}

static void xml_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    char *v = xml_safe(value ? value : "");
    xmlTextWriterWriteAttribute(w, X(name), X(v ? v : ""));
    free(v);
}

static void xml_attr_num(xmlTextWriterPtr w, const char *name, size_t value)
{
    xmlTextWriterWriteFormatAttribute(w, X(name), "%zu", value);
}

static void xml_property(xmlTextWriterPtr w, const char *name, const char *value)
{
    xmlTextWriterStartElement(w, X("property"));
    xml_attr(w, "name", name);
    xml_attr(w, "value", value);
    xmlTextWriterEndElement(w);
}

static void xml_text(xmlTextWriterPtr w, const char *text)
{
    char *v = xml_safe(text);
    if (v)
        xmlTextWriterWriteString(w, X(v));
    free(v);
}

/* The diagnostics of a case that did not pass, as the text of a <failure> or <system-out>. */
static char *diagnostics(const report *r, const report_case *rc, const char *line)
{
    char *buf = NULL, runs[160];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    if (rc->expect == REPORT_XFAIL)
        fprintf(f, "EXPECTED FAILURE (%s line %u: %s %s): %s\n", r->expect_path, rc->listed->line,
                report_verdict_name(rc->listed->verdict), rc->listed->why, line);
    else if (!report_gate_fails(r, rc))
        fprintf(f, "WARNING (%s, not counted as a failure; --strict makes it one): %s\n",
                fs_level_name(rc->level), line);
    fprintf(f, "verdict: %s\nlevel: %s\nrequirements: %s\n", report_verdict_name(rc->verdict),
            fs_level_name(rc->level), rc->c->requirements);
    if (r->repeat > 1) {
        failed_runs_text(rc, runs, sizeof runs);
        fprintf(f, "runs: %u, failed: %u (%s)\n", rc->runs, rc->failures, runs);
    }
    if (rc->d.expected && *rc->d.expected)
        fprintf(f, "expected: %s\n", rc->d.expected);
    if (rc->d.actual && *rc->d.actual)
        fprintf(f, "actual: %s\n", rc->d.actual);
    if (rc->d.close_kind && *rc->d.close_kind)
        fprintf(f, "close: %s\n", rc->d.close_kind);
    fprintf(f, "seed: %llu\n", (unsigned long long)r->cfg->seed);
    if (rc->d.repro_cmd)
        fprintf(f, "repro: %s\n", rc->d.repro_cmd);
    if (rc->d.repro)
        fprintf(f, "reproducer%s:\n%s", r->repeat > 1 ? " (first failing run)" : "", rc->d.repro);
    fclose(f);
    return buf;
}

/* The <testcase> content of a case --expect listed: an expected failure is <skipped> with the
 * listed reason and the diagnostics in <system-out>; a fixed case a <failure type="fixed"> under
 * --strict, else a <system-out> that says to remove it. */
static void junit_listed(xmlTextWriterPtr w, const report *r, const report_case *rc)
{
    char line[1024], msg[1200], *diag;
    if (rc->expect == REPORT_FIXED) {
        fixed_text(r, rc, line, sizeof line);
        xmlTextWriterStartElement(w, X(r->strict ? "failure" : "system-out"));
        if (r->strict) {
            xml_attr(w, "message", line);
            xml_attr(w, "type", "fixed");
        }
        xml_text(w, line);
        xmlTextWriterEndElement(w);
        return;
    }
    headline(rc, line, sizeof line);
    snprintf(msg, sizeof msg, "expected failure: %s", rc->listed->why[0] ? rc->listed->why : line);
    xmlTextWriterStartElement(w, X("skipped"));
    xml_attr(w, "message", msg);
    xmlTextWriterEndElement(w);
    diag = diagnostics(r, rc, line);
    xmlTextWriterStartElement(w, X("system-out"));
    xml_text(w, diag);
    xmlTextWriterEndElement(w);
    free(diag);
}

int report_preflight(const char *cmd, const char *opt, const char *path)
{
    struct stat sb;
    int fd;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "framespec %s: %s %s is a directory; give a file name\n", cmd, opt, path);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "framespec %s: cannot write %s %s: %s (does its directory exist and is "
                        "it writable?)\n", cmd, opt, path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

int report_junit(const report *r, const char *path)
{
    report_totals t;
    size_t gate = 0;
    char num[32];
    FILE *f = fopen(path, "w");
    xmlOutputBufferPtr ob;
    xmlTextWriterPtr w;
    int err;
    if (f == NULL)
        return -1;
    ob = xmlOutputBufferCreateFile(f, NULL);
    w = ob ? xmlNewTextWriter(ob) : NULL;
    if (w == NULL) {
        if (ob)
            xmlOutputBufferClose(ob);
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    report_totals_of(r, &t);
    for (size_t i = 0; i < r->n; i++)
        gate += report_gate_fails(r, &r->cases[i]);
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, X("  "));
    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
    for (int level = 0; level < 2; level++) {
        xmlTextWriterStartElement(w, X(level == 0 ? "testsuites" : "testsuite"));
        xml_attr(w, "name", "framespec");
        xml_attr_num(w, "tests", r->n);
        xml_attr_num(w, "failures", gate);
        xml_attr_num(w, "skipped", t.skipped + t.expected);
        xml_attr(w, "errors", "0");
        xmlTextWriterWriteFormatAttribute(w, X("time"), "%.3f", (double)r->total_ms / 1000);
    }
    xmlTextWriterStartElement(w, X("properties"));
    xml_property(w, "framespec_version", FRAMESPEC_VERSION);
    xml_property(w, "target", r->target_text);
    xml_property(w, "framing", wire_framing_name(&r->cfg->framing));
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->cfg->seed);
    xml_property(w, "seed", num);
    snprintf(num, sizeof num, "%u", r->repeat);
    xml_property(w, "repeat", num);
    xml_property(w, "strict", r->strict ? "true" : "false");
    if (r->expect_path) {
        xml_property(w, "expect_file", r->expect_path);
        snprintf(num, sizeof num, "%zu", t.expected);
        xml_property(w, "expected_failures", num);
        snprintf(num, sizeof num, "%zu", t.fixed);
        xml_property(w, "fixed", num);
    }
    snprintf(num, sizeof num, "%zu", t.warnings);
    xml_property(w, "warnings", num);
    snprintf(num, sizeof num, "%zu", t.flaky);
    xml_property(w, "flaky", num);
    xmlTextWriterEndElement(w);
    for (size_t i = 0; i < r->n; i++) {
        const report_case *rc = &r->cases[i];
        const char *dot = strchr(rc->c->id, '.');
        char cls[96], line[1024], *diag;
        snprintf(cls, sizeof cls, "framespec.%.*s",
                 dot ? (int)(dot - rc->c->id) : (int)strlen(rc->c->id), rc->c->id);
        xmlTextWriterStartElement(w, X("testcase"));
        xml_attr(w, "classname", cls);
        xml_attr(w, "name", rc->c->id);
        xmlTextWriterWriteFormatAttribute(w, X("time"), "%.3f", (double)rc->duration_ms / 1000);
        if (rc->verdict == REPORT_SKIP) {
            xmlTextWriterStartElement(w, X("skipped"));
            xml_attr(w, "message", rc->d.message);
            xmlTextWriterEndElement(w);
        } else if (rc->expect != REPORT_UNLISTED) {
            junit_listed(w, r, rc);
        } else if (rc->verdict != REPORT_PASS) {
            headline(rc, line, sizeof line);
            diag = diagnostics(r, rc, line);
            xmlTextWriterStartElement(w, X("properties"));
            xml_property(w, "verdict", report_verdict_name(rc->verdict));
            xml_property(w, "level", fs_level_name(rc->level));
            xmlTextWriterEndElement(w);
            if (report_gate_fails(r, rc)) {
                xmlTextWriterStartElement(w, X("failure"));
                xml_attr(w, "message", line);
                xml_attr(w, "type", rc->verdict == REPORT_FLAKY ? "flaky" : "nonconformance");
                xml_text(w, diag);
                xmlTextWriterEndElement(w);
                if (rc->d.wirelog && *rc->d.wirelog) {
                    xmlTextWriterStartElement(w, X("system-out"));
                    xml_text(w, rc->d.wirelog);
                    xmlTextWriterEndElement(w);
                }
            } else {
                /* a warning: visible in the test's output, not a <failure> */
                xmlTextWriterStartElement(w, X("system-out"));
                xml_text(w, diag);
                if (rc->d.wirelog && *rc->d.wirelog) {
                    xml_text(w, "wire log:\n");
                    xml_text(w, rc->d.wirelog);
                }
                xmlTextWriterEndElement(w);
            }
            free(diag);
        }
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndDocument(w); /* closes testsuite and testsuites */
    xmlFreeTextWriter(w);        /* flushes into f (which it does not close) */
    err = ferror(f);
    if (fclose(f) != 0 || err) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* ---- JSON ---- */

/* s as a JSON string (bytes that are not UTF-8 become '?'), or null when empty. */
json_t *report_json_text(const char *s)
{
    json_t *j;
    char *copy;
    if (s == NULL)
        s = "";
    if ((j = json_string(s)) != NULL)
        return j;
    if ((copy = strdup(s)) == NULL)
        return json_string("");
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j ? j : json_string("");
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? report_json_text(s) : json_null();
}

/* A case's --expect line as {verdict, level, why, line}, or null. */
static json_t *listed_json(const expect_entry *e)
{
    json_t *o;
    if (e == NULL)
        return json_null();
    o = json_object();
    json_object_set_new(o, "verdict", json_string(report_verdict_name(e->verdict)));
    json_object_set_new(o, "level", str_or_null(e->level));
    json_object_set_new(o, "why", report_json_text(e->why));
    json_object_set_new(o, "line", json_integer(e->line));
    return o;
}

static json_t *case_json(const report *r, const report_case *rc)
{
    json_t *o = json_object(), *reqs = json_array(), *failed = json_array();
    const char *p = rc->c->requirements;
    char line[1024];
    bool diag = rc->verdict != REPORT_PASS && rc->verdict != REPORT_SKIP;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(reqs, json_stringn(p, l));
        p += l + (comma ? 1 : 0);
    }
    for (unsigned i = 0; i < rc->failures && i < 32; i++)
        json_array_append_new(failed, json_integer(rc->failed_run[i]));
    headline(rc, line, sizeof line);
    json_object_set_new(o, "id", json_string(rc->c->id));
    json_object_set_new(o, "description", json_string(rc->c->description));
    json_object_set_new(o, "requirements", reqs);
    json_object_set_new(o, "level", json_string(fs_level_name(rc->level)));
    json_object_set_new(o, "status", json_string(report_status_name(rc)));
    json_object_set_new(o, "verdict", json_string(report_verdict_name(rc->verdict)));
    json_object_set_new(o, "listed", listed_json(rc->listed));
    json_object_set_new(o, "fails_gate", json_boolean(report_gate_fails(r, rc)));
    json_object_set_new(o, "runs", json_integer(rc->runs));
    json_object_set_new(o, "failures", json_integer(rc->failures));
    json_object_set_new(o, "failed_runs", failed);
    json_object_set_new(o, "duration_ms", json_integer(rc->duration_ms));
    json_object_set_new(o, "detail", str_or_null(rc->verdict == REPORT_PASS ? NULL : line));
    json_object_set_new(o, "violated", str_or_null(rc->d.requirement));
    json_object_set_new(o, "expected", str_or_null(rc->d.expected));
    json_object_set_new(o, "actual", str_or_null(rc->d.actual));
    json_object_set_new(o, "close", str_or_null(rc->d.close_kind));
    json_object_set_new(o, "repro", str_or_null(rc->d.repro));
    json_object_set_new(o, "repro_command", str_or_null(rc->d.repro_cmd));
    json_object_set_new(o, "wire_log", str_or_null(diag ? rc->d.wirelog : NULL));
    return o;
}

int report_json(const report *r, const char *path)
{
    report_totals t;
    json_t *root = json_object(), *summary = json_object(), *cases = json_array();
    FILE *f;
    int rc = 0;
    report_totals_of(r, &t);
    json_object_set_new(summary, "passed", json_integer((json_int_t)t.passed));
    json_object_set_new(summary, "failed", json_integer((json_int_t)t.failed));
    json_object_set_new(summary, "warnings", json_integer((json_int_t)t.warnings));
    json_object_set_new(summary, "flaky", json_integer((json_int_t)t.flaky));
    json_object_set_new(summary, "skipped", json_integer((json_int_t)t.skipped));
    json_object_set_new(summary, "expected", json_integer((json_int_t)t.expected));
    json_object_set_new(summary, "fixed", json_integer((json_int_t)t.fixed));
    json_object_set_new(summary, "total", json_integer((json_int_t)r->n));
    json_object_set_new(summary, "duration_ms", json_integer(r->total_ms));
    json_object_set_new(summary, "repeat", json_integer(r->repeat));
    json_object_set_new(summary, "strict", json_boolean(r->strict));
    json_object_set_new(root, "summary", summary);
    json_object_set_new(root, "framespec_version", json_string(FRAMESPEC_VERSION));
    json_object_set_new(root, "target", str_or_null(r->target_text));
    json_object_set_new(root, "label", str_or_null(r->label));
    json_object_set_new(root, "framing", json_string(wire_framing_name(&r->cfg->framing)));
    json_object_set_new(root, "max_frame", json_integer((json_int_t)r->cfg->max_frame));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->cfg->seed));
    json_object_set_new(root, "expect_file", str_or_null(r->expect_path));
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(cases, case_json(r, &r->cases[i]));
    json_object_set_new(root, "cases", cases);
    f = fopen(path, "w");
    if (f == NULL) {
        json_decref(root);
        return -1;
    }
    if (json_dumpf(root, f, JSON_INDENT(2)) < 0 || fputc('\n', f) == EOF)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    json_decref(root);
    return rc;
}
