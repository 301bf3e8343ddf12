/*
 * result.c — what a case reports (fail, warn, note, skip, expected/actual, close kind, the
 * requirement broken, its reproducer, its wire log) as records the runner reads back, and its
 * clock (--timeout-scale). See fs.h.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- results: records appended to the case's records file (fs.h) ---- */

enum { R_STATUS = 1, R_MESSAGE, R_EXPECTED, R_ACTUAL, R_CLOSE_KIND, R_NOTE, R_WIRELOG, R_REPRO,
       R_REQUIREMENT };

/* One record: type (1 byte), length (4 bytes, host order), the bytes; one write(2), retried
 * while partial. Past FS_RECORDS_MAX only R_STATUS and R_MESSAGE are written: what the verdict
 * needs. */
static void put(fs_ctx *c, int type, const void *data, size_t len)
{
    fs_result *r = c->res;
    uint8_t head[5];
    struct iovec iov[2] = {{head, sizeof head}, {(void *)data, len}};
    size_t total = sizeof head + len, done = 0;
    uint32_t l32 = (uint32_t)len;
    if (r->fd < 0 || len > UINT32_MAX ||
        (r->written + total > FS_RECORDS_MAX && type != R_STATUS && type != R_MESSAGE))
        return;
    head[0] = (uint8_t)type;
    memcpy(head + 1, &l32, 4);
    while (done < total) {
        ssize_t n = writev(r->fd, iov, 2);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += (size_t)n;
        for (int k = 0; k < 2 && n > 0; k++) {
            size_t t = (size_t)n < iov[k].iov_len ? (size_t)n : iov[k].iov_len;
            iov[k].iov_base = (uint8_t *)iov[k].iov_base + t;
            iov[k].iov_len -= t;
            n -= (ssize_t)t;
        }
    }
    r->written += total;
}

static void put_str(fs_ctx *c, int type, const char *s)
{
    put(c, type, s, strlen(s));
}

static void put_status(fs_ctx *c)
{
    int v[2] = {c->res->status, c->res->should_only};
    put(c, R_STATUS, v, sizeof v);
}

/* printf into a malloc'd string (NULL when out of memory). */
__attribute__((format(printf, 1, 0))) static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

/* fs_fail (should 0) and fs_warn (should 1): the first failure wins, but a MUST failure
 * replaces a SHOULD one. */
__attribute__((format(printf, 3, 0))) static void vfail(fs_ctx *c, int should, const char *fmt,
                                                       va_list ap)
{
    char *msg;
    if (c->res->status != FS_PASS && !(c->res->should_only && !should))
        return;
    c->res->status = FS_FAIL;
    c->res->should_only = should;
    put_status(c);
    msg = vfmt(fmt, ap);
    put_str(c, R_MESSAGE, msg ? msg : "(out of memory)");
    fs_log(c, "%s: %s", should ? "WARN (SHOULD)" : "FAIL", msg ? msg : "");
    free(msg);
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

/* Put a printf-formatted record of `type`; returns the text (caller frees; NULL: no memory). */
__attribute__((format(printf, 3, 0))) static char *vput(fs_ctx *c, int type, const char *fmt,
                                                       va_list ap)
{
    char *s = vfmt(fmt, ap);
    if (s != NULL)
        put_str(c, type, s);
    return s;
}

void fs_note(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = vput(c, R_NOTE, fmt, ap);
    va_end(ap);
    if (s != NULL)
        fs_log(c, "%s", s);
    free(s);
}

void fs_skip(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    if (c->res->status != FS_PASS)
        return;
    c->res->status = FS_SKIP;
    put_status(c);
    va_start(ap, fmt);
    free(vput(c, R_MESSAGE, fmt, ap));
    va_end(ap);
}

void fs_expected(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(vput(c, R_EXPECTED, fmt, ap));
    va_end(ap);
}

void fs_actual(fs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(vput(c, R_ACTUAL, fmt, ap));
    va_end(ap);
}

void fs_close_kind(fs_ctx *c, const char *kind)
{
    put_str(c, R_CLOSE_KIND, kind);
}

void fs_violated(fs_ctx *c, fs_req req)
{
    if (req != REQ_NONE)
        put_str(c, R_REQUIREMENT, fs_req_id(req));
}

void fs_result_repro(fs_ctx *c, const char *text, size_t len)
{
    put(c, R_REPRO, text, len);
}

/* ---- reading them back (the runner) ---- */

static void set_text(char **dst, const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return;
    memcpy(s, p, n);
    s[n] = '\0';
    free(*dst);
    *dst = s;
}

/* Append p[0..n) to a malloc'd text of *len bytes, keeping at most `keep` bytes (the newest:
 * whole lines) when keep > 0, or stopping at `cap` bytes (and saying so) when cap > 0. */
static void append(char **dst, size_t *len, const uint8_t *p, size_t n, size_t keep, size_t cap,
                   size_t *dropped)
{
    char *s;
    if (cap > 0 && *len + n > cap) {
        static const char cut[] = "# ... cut: the case recorded more than this script holds\n";
        if (*len >= cap)
            return;
        n = cap - *len;
        s = realloc(*dst, *len + n + sizeof cut);
        if (s == NULL)
            return;
        memcpy(s + *len, p, n);
        memcpy(s + *len + n, cut, sizeof cut);
        *dst = s;
        *len = cap + sizeof cut - 1; /* over cap: nothing more is taken */
        return;
    }
    s = realloc(*dst, *len + n + 1);
    if (s == NULL)
        return;
    memcpy(s + *len, p, n);
    *len += n;
    s[*len] = '\0';
    *dst = s;
    if (keep > 0 && *len > 2 * keep) {
        /* drop the oldest lines, down to `keep` bytes */
        size_t cut = *len - keep;
        while (cut < *len && s[cut - 1] != '\n')
            cut++;
        for (size_t i = 0; i < cut; i++)
            *dropped += s[i] == '\n';
        memmove(s, s + cut, *len - cut + 1);
        *len -= cut;
    }
}

int fs_result_read(int fd, fs_report *out)
{
    uint8_t head[5], *buf = NULL;
    size_t cap = 0, wl_len = 0, dropped = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -1;
    for (;;) {
        uint32_t len;
        ssize_t n = read(fd, head, sizeof head);
        if (n == 0)
            break;
        if (n != (ssize_t)sizeof head) {
            rc = n < 0 ? -1 : 0; /* a record cut short by a kill: what came before counts */
            break;
        }
        memcpy(&len, head + 1, 4);
        if (len + 1 > cap) {
            uint8_t *b = realloc(buf, (size_t)len + 1);
            if (b == NULL) {
                rc = -1;
                break;
            }
            buf = b;
            cap = (size_t)len + 1;
        }
        if (len > 0 && read(fd, buf, len) != (ssize_t)len)
            break;
        switch (head[0]) {
        case R_STATUS:
            if (len == 2 * sizeof(int)) {
                memcpy(&out->status, buf, sizeof(int));
                memcpy(&out->should_only, buf + sizeof(int), sizeof(int));
            }
            break;
        case R_MESSAGE: set_text(&out->message, buf, len); break;
        case R_EXPECTED: set_text(&out->expected, buf, len); break;
        case R_ACTUAL: set_text(&out->actual, buf, len); break;
        case R_CLOSE_KIND: set_text(&out->close_kind, buf, len); break;
        case R_NOTE: set_text(&out->note, buf, len); break;
        case R_REQUIREMENT: set_text(&out->requirement, buf, len); break;
        case R_WIRELOG:
            append(&out->wirelog, &wl_len, buf, len, FS_WIRELOG_KEEP, 0, &dropped);
            break;
        case R_REPRO:
            append(&out->repro, &out->repro_len, buf, len, 0, FS_REPRO_MAX, &dropped);
            break;
        default:
            break;
        }
    }
    free(buf);
    if (dropped > 0 && out->wirelog != NULL) {
        char *s = NULL;
        if (asprintf(&s, "[... %zu earlier lines left out]\n%s", dropped, out->wirelog) >= 0) {
            free(out->wirelog);
            out->wirelog = s;
        }
    }
    return rc;
}

void fs_report_free(fs_report *r)
{
    free(r->message);
    free(r->expected);
    free(r->actual);
    free(r->close_kind);
    free(r->requirement);
    free(r->note);
    free(r->wirelog);
    free(r->repro);
    memset(r, 0, sizeof *r);
}

void fs_log(fs_ctx *c, const char *fmt, ...)
{
    char *body, *line = NULL;
    va_list ap;
    double t = (double)(sock_now_ns() - c->t0_ns) / 1e6;
    int n;
    va_start(ap, fmt);
    body = vfmt(fmt, ap);
    va_end(ap);
    n = asprintf(&line, "[%9.3f ms] %s\n", t, body ? body : "(out of memory)");
    free(body);
    if (n < 0)
        return;
    if (c->cfg->verbose)
        fputs(line, stderr);
    put(c, R_WIRELOG, line, (size_t)n);
    free(line);
}

/* ---- time ---- */

int64_t fs_ms(const fs_ctx *c, double ms)
{
    return (int64_t)(ms * c->cfg->scale + 0.5);
}

