/*
 * report_html.h — `framespec report OUT.html REPORT.json...` and `run --html FILE`: the HTML
 * page is rendered by harness/html/framespec_report.py (Jinja2 templates and escaping: Debian
 * python3-jinja2), which the build copies to build/share/framespec/ with report.html.j2 and
 * docs/spec.md (the requirement texts). This C side only finds and runs it.
 *
 * The tool is $FRAMESPEC_REPORT_TOOL, else DIR/../share/framespec/framespec_report.py where DIR
 * holds the framespec binary (/proc/self/exe); the interpreter is $FRAMESPEC_PYTHON, else
 * /usr/bin/python3 (Debian's, which sees python3-jinja2: a pyenv python3 on PATH does not).
 */
#ifndef FRAMESPEC_REPORT_HTML_H
#define FRAMESPEC_REPORT_HTML_H

#include <stddef.h>

/*
 * Render the JSON reports jsons[0..n) (run or bench reports, each "NAME=PATH" or "PATH") into
 * OUT. Runs the tool as a child and waits at most 120 s (then kills it). Its messages go to
 * stderr. Returns 0 when the page was written, 2 otherwise (the tool missing, not runnable, its
 * own usage or input error, or the deadline), with a message on stderr naming `cmd` and the
 * fix.
 */
int report_html(const char *cmd, const char *out, const char *const *jsons, size_t n);

/* `framespec report ...`: argv[0] is "report". Returns the exit status (0 written, 2 otherwise). */
int report_main(int argc, char **argv);

#endif
