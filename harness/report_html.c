/*
 * report_html.c — find and run the HTML report tool. See report_html.h.
 */
#include "report_html.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define REPORT_DEADLINE_S 120

static int tool_path(char *out, size_t n)
{
    const char *env = getenv("FRAMESPEC_REPORT_TOOL");
    char exe[PATH_MAX];
    ssize_t len;
    char *slash;
    if (env && *env) {
        if ((size_t)snprintf(out, n, "%s", env) >= n)
            return -1;
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(out, n, "%s/../share/framespec/framespec_report.py", exe) >= n)
        return -1;
    return 0;
}

int report_html(const char *cmd, const char *out, const char *const *jsons, size_t n)
{
    char tool[PATH_MAX + 64];
    const char *py = getenv("FRAMESPEC_PYTHON");
    char **argv;
    pid_t pid;
    int st = 0, rc;
    struct timespec t0, now;

    if (py == NULL || *py == '\0')
        py = "/usr/bin/python3";
    if (tool_path(tool, sizeof tool) < 0 || access(tool, R_OK) < 0) {
        fprintf(stderr, "framespec %s: the report tool %s is missing: build framespec with cmake "
                "(it copies harness/html/ to build/share/framespec/), or set FRAMESPEC_REPORT_TOOL\n",
                cmd, tool);
        return 2;
    }
    if (access(py, X_OK) < 0) {
        fprintf(stderr, "framespec %s: %s: %s: install Debian's python3 and python3-jinja2, or set "
                "FRAMESPEC_PYTHON to a Python that has Jinja2\n", cmd, py, strerror(errno));
        return 2;
    }
    argv = calloc(n + 4, sizeof *argv);
    if (argv == NULL) {
        fprintf(stderr, "framespec %s: out of memory\n", cmd);
        return 2;
    }
    argv[0] = (char *)py;
    argv[1] = tool;
    argv[2] = (char *)out;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = (char *)jsons[i];
    rc = posix_spawn(&pid, py, NULL, NULL, argv, environ);
    free(argv);
    if (rc != 0) {
        fprintf(stderr, "framespec %s: cannot run %s: %s\n", cmd, py, strerror(rc));
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            fprintf(stderr, "framespec %s: waitpid: %s\n", cmd, strerror(errno));
            return 2;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= REPORT_DEADLINE_S) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            fprintf(stderr, "framespec %s: the report tool took more than %d s: stopped\n", cmd,
                    REPORT_DEADLINE_S);
            return 2;
        }
        usleep(20000);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
        fprintf(stderr, "framespec %s: the report tool failed (python3-jinja2 installed?)\n", cmd);
    return 2;
}

static void usage(FILE *f)
{
    fputs("usage: framespec report OUT.html [NAME=]REPORT.json|DIR... [--title TEXT]\n"
          "\n"
          "Render JSON reports as one self-contained HTML page (no fetches): the matrix of cases x\n"
          "implementations (one column per `run --json` report), each failure's requirement,\n"
          "expected vs actual, reproducer and wire timeline (SVG), the round-trip percentiles\n"
          "of `bench --json` results on one chart, and the edges reached over time by\n"
          "`fuzz --coverage` campaigns (a campaign's --out DIR, with its coverage.csv) on\n"
          "another. NAME names a column or series (default: the report's --label, else its\n"
          "file or directory name).\n"
          "Exit status: 0 written; 2 usage, an unreadable report, or the page not writable.\n",
          f);
}

int report_main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "framespec report: give the page to write and at least one JSON report "
                        "or fuzz campaign directory\n");
        usage(stderr);
        return 2;
    }
    return report_html("report", argv[1], (const char *const *)argv + 2, (size_t)argc - 2);
}
