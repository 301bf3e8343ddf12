/*
 * report.c — TAP 14, JUnit XML and JSON output. See report.h.
 */
#include "report.h"

#include <errno.h>
#include <string.h>

void report_counts(const report *r, size_t *passed, size_t *failed, size_t *skipped)
{
    *passed = *failed = *skipped = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->cases[i].status == FS_PASS)
            (*passed)++;
        else if (r->cases[i].status == FS_FAIL)
            (*failed)++;
        else
            (*skipped)++;
    }
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

void json_string(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\n':
        case '\t':
            fputc(ch, f);
            break;
        default:
            if (ch < 0x20)
                fputc('?', f); /* not allowed in XML 1.0 */
            else
                fputc(ch, f);
        }
    }
}

void report_tap_case(FILE *out, const report_case *rc, size_t num, uint64_t seed)
{
    const char *id = rc->c->id;
    if (rc->status == FS_PASS) {
        fprintf(out, "ok %zu - %s\n", num, id);
    } else if (rc->status == FS_SKIP) {
        fprintf(out, "ok %zu - %s # SKIP %s\n", num, id, rc->message ? rc->message : "");
    } else {
        fprintf(out, "not ok %zu - %s\n  ---\n  message: ", num, id);
        yaml_string(out, rc->message);
        fprintf(out, "\n  requirements: [%s]\n", rc->c->requirements);
        if (rc->expected && *rc->expected) {
            fputs("  expected: ", out);
            yaml_string(out, rc->expected);
            fputc('\n', out);
        }
        if (rc->actual && *rc->actual) {
            fputs("  actual: ", out);
            yaml_string(out, rc->actual);
            fputc('\n', out);
        }
        if (rc->close_kind && *rc->close_kind)
            fprintf(out, "  close: %s\n", rc->close_kind);
        fprintf(out, "  seed: %llu\n  duration_ms: %ld\n", (unsigned long long)seed,
                rc->duration_ms);
        if (rc->repro_cmd) {
            fputs("  repro_command: ", out);
            yaml_string(out, rc->repro_cmd);
            fputc('\n', out);
        }
        if (rc->repro) {
            const char *p = rc->repro;
            fputs("  repro: |\n", out);
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                fprintf(out, "    %.*s\n", (int)l, p);
                p += l + (nl ? 1 : 0);
            }
        }
        fputs("  ...\n", out);
    }
    fflush(out);
}

int report_junit(const report *r, const char *path)
{
    size_t passed, failed, skipped;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    report_counts(r, &passed, &failed, &skipped);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"framespec\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" "
               "errors=\"0\" time=\"%.3f\">\n",
            r->n, failed, skipped, (double)r->total_ms / 1000);
    fprintf(f, "  <testsuite name=\"framespec\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" "
               "errors=\"0\" time=\"%.3f\">\n",
            r->n, failed, skipped, (double)r->total_ms / 1000);
    fputs("    <properties>\n      <property name=\"target\" value=\"", f);
    xml_text(f, r->target_text);
    fprintf(f, "\"/>\n      <property name=\"framing\" value=\"%s\"/>\n"
               "      <property name=\"seed\" value=\"%llu\"/>\n    </properties>\n",
            wire_framing_name(r->cfg->framing), (unsigned long long)r->cfg->seed);
    for (size_t i = 0; i < r->n; i++) {
        const report_case *rc = &r->cases[i];
        const char *dot = strchr(rc->c->id, '.');
        int glen = dot ? (int)(dot - rc->c->id) : (int)strlen(rc->c->id);
        fprintf(f, "    <testcase classname=\"framespec.%.*s\" name=\"%s\" time=\"%.3f\"", glen,
                rc->c->id, rc->c->id, (double)rc->duration_ms / 1000);
        if (rc->status == FS_PASS) {
            fputs("/>\n", f);
            continue;
        }
        fputs(">\n", f);
        if (rc->status == FS_SKIP) {
            fputs("      <skipped message=\"", f);
            xml_text(f, rc->message);
            fputs("\"/>\n", f);
        } else {
            fputs("      <failure message=\"", f);
            xml_text(f, rc->message);
            fputs("\" type=\"nonconformance\">", f);
            fprintf(f, "requirements: %s\n", rc->c->requirements);
            if (rc->expected && *rc->expected) {
                fputs("expected: ", f);
                xml_text(f, rc->expected);
                fputc('\n', f);
            }
            if (rc->actual && *rc->actual) {
                fputs("actual: ", f);
                xml_text(f, rc->actual);
                fputc('\n', f);
            }
            if (rc->close_kind && *rc->close_kind)
                fprintf(f, "close: %s\n", rc->close_kind);
            fprintf(f, "seed: %llu\n", (unsigned long long)r->cfg->seed);
            if (rc->repro_cmd) {
                fputs("repro: ", f);
                xml_text(f, rc->repro_cmd);
                fputc('\n', f);
            }
            fputs("</failure>\n", f);
            if (rc->wirelog && *rc->wirelog) {
                fputs("      <system-out>", f);
                xml_text(f, rc->wirelog);
                fputs("</system-out>\n", f);
            }
        }
        fputs("    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (fclose(f) != 0)
        return -1;
    return 0;
}

int report_json(const report *r, const char *path)
{
    size_t passed, failed, skipped;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    report_counts(r, &passed, &failed, &skipped);
    fprintf(f, "{\n  \"summary\": {\"passed\": %zu, \"failed\": %zu, \"skipped\": %zu, "
               "\"total\": %zu, \"duration_ms\": %ld},\n",
            passed, failed, skipped, r->n, r->total_ms);
    fputs("  \"target\": ", f);
    json_string(f, r->target_text);
    fprintf(f, ",\n  \"framing\": \"%s\",\n  \"max_frame\": %llu,\n  \"seed\": %llu,\n",
            wire_framing_name(r->cfg->framing), (unsigned long long)r->cfg->max_frame,
            (unsigned long long)r->cfg->seed);
    fputs("  \"cases\": [\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const report_case *rc = &r->cases[i];
        const char *st = rc->status == FS_PASS ? "pass" : rc->status == FS_FAIL ? "fail" : "skip";
        const char *p = rc->c->requirements;
        fputs("    {\"id\": ", f);
        json_string(f, rc->c->id);
        fputs(", \"requirements\": [", f);
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            fprintf(f, "\"%.*s\"%s", (int)l, p, comma ? ", " : "");
            p += l + (comma ? 1 : 0);
        }
        fprintf(f, "], \"status\": \"%s\", \"duration_ms\": %ld,\n     \"detail\": ", st,
                rc->duration_ms);
        json_string(f, rc->message && *rc->message ? rc->message : NULL);
        fputs(", \"expected\": ", f);
        json_string(f, rc->expected && *rc->expected ? rc->expected : NULL);
        fputs(", \"actual\": ", f);
        json_string(f, rc->actual && *rc->actual ? rc->actual : NULL);
        fputs(", \"close\": ", f);
        json_string(f, rc->close_kind && *rc->close_kind ? rc->close_kind : NULL);
        fputs(",\n     \"repro\": ", f);
        json_string(f, rc->repro);
        fputs(", \"repro_command\": ", f);
        json_string(f, rc->repro_cmd);
        fputs(", \"wire_log\": ", f);
        json_string(f, rc->status == FS_FAIL ? rc->wirelog : NULL);
        fprintf(f, "}%s\n", i + 1 < r->n ? "," : "");
    }
    fputs("  ]\n}\n", f);
    if (fclose(f) != 0)
        return -1;
    (void)errno;
    return 0;
}
