/*
 * result.c — what a case reports (fail, warn, note, skip, expected/actual), what it observed on
 * its descriptors (the first close kind), its wire log, and its clocks (deadlines scaled by
 * --timeout-scale). See fs.h.
 */
#include "fs.h"
#include "server.h"
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- results ---- */

__attribute__((format(printf, 3, 0))) static void vset(char *dst, size_t n, const char *fmt, va_list ap)
{
    vsnprintf(dst, n, fmt, ap);
}

/* fs_fail (should 0) and fs_warn (should 1): the first failure wins, but a MUST failure
 * replaces a SHOULD one. */
__attribute__((format(printf, 3, 0))) static void vfail(fs_ctx *c, int should, const char *fmt,
                                                       va_list ap)
{
    if (c->res->status != FS_PASS && !(c->res->should_only && !should))
        return;
    c->res->status = FS_FAIL;
    c->res->should_only = should;
    vset(c->res->message, sizeof c->res->message, fmt, ap);
    fs_log(c, "%s: %s", should ? "WARN (SHOULD)" : "FAIL", c->res->message);
}

void fs_fail(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 0, fmt, ap);
    va_end(ap);
}

void fs_warn(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 1, fmt, ap);
    va_end(ap);
}

void fs_note(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(c->res->note, sizeof c->res->note, fmt, ap);
    va_end(ap);
    fs_log(c, "%s", c->res->note);
}

void fs_skip(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    if (c->res->status != FS_PASS)
        return;
    c->res->status = FS_SKIP;
    va_start(ap, fmt);
    vset(c->res->message, sizeof c->res->message, fmt, ap);
    va_end(ap);
}

void fs_expected(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(c->res->expected, sizeof c->res->expected, fmt, ap);
    va_end(ap);
}

void fs_actual(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(c->res->actual, sizeof c->res->actual, fmt, ap);
    va_end(ap);
}

void fs_close_kind(fs_ctx *c, int kind)
{
    snprintf(c->res->close_kind, sizeof c->res->close_kind, "%s", sock_close_name(kind));
}

fs_fdinfo *fs_fd(fs_ctx *c, int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= c->nfds) {
        size_t n = (size_t)fd + 64;
        fs_fdinfo *t = realloc(c->fds, n * sizeof *t);
        if (t == NULL)
            return NULL;
        memset(t + c->nfds, 0, (n - c->nfds) * sizeof *t);
        c->fds = t;
        c->nfds = n;
    }
    return &c->fds[fd];
}

int fs_observe(fs_ctx *c, int fd, ssize_t n, int err)
{
    fs_fdinfo *info = fs_fd(c, fd);
    int kind = sock_close_kind(n, err), first = info ? info->first_close : SOCK_OPEN;
    const char *what = n == 0 ? "read returned 0" : sock_errno_name(err);
    if (kind == SOCK_OPEN)
        return first;
    if (first != SOCK_OPEN) {
        if (kind != first)
            fs_log(c, "fd %d: %s, after an %s: the first counts", fd, what, sock_close_name(first));
        return first;
    }
    if (info)
        info->first_close = (uint8_t)kind;
    fs_log(c, "fd %d: %s: %s", fd, what, sock_close_name(kind));
    fs_close_kind(c, kind);
    return kind;
}

void fs_log(fs_ctx *c, const char *fmt, ...)
{
    char line[512];
    int n;
    va_list ap;
    fs_result *r = c->res;
    double t = (double)(sock_now_ns() - c->t0_ns) / 1e6;

    n = snprintf(line, sizeof line, "[%9.3f ms] ", t);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    line[n] = '\0';
    if (c->cfg->verbose)
        fputs(line, stderr);
    /* keep the most recent part: drop the older half when full */
    if (r->wirelog_len + (size_t)n >= sizeof r->wirelog) {
        size_t keep = r->wirelog_len / 2;
        memmove(r->wirelog, r->wirelog + r->wirelog_len - keep, keep);
        r->wirelog_len = keep;
    }
    memcpy(r->wirelog + r->wirelog_len, line, (size_t)n + 1);
    r->wirelog_len += (size_t)n;
}

bool fs_done(const fs_ctx *c)
{
    return c->res->status != FS_PASS;
}

/* ---- time ---- */

int64_t fs_ms(const fs_ctx *c, double ms)
{
    return (int64_t)(ms * c->cfg->scale + 0.5);
}

int64_t fs_deadline(const fs_ctx *c, double ms)
{
    return sock_now_ms() + fs_ms(c, ms);
}

void fs_sleep(fs_ctx *c, double ms)
{
    fs_repro_op(c, -1, SC_SLEEP, (long)(ms + 0.5));
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}
