/*
 * capture_strace_lex.c — the strace reader's values (capture_strace_int.h): a call's arguments
 * and result, strace's quoted strings (C escapes, -x/-xx hex, `"..."...` when -s cut them) and
 * iovec arrays, read without reading past the line and without recursion.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_strace_int.h"

/* Write "FILE:LINE: message" into r->err; returns -1. */
int __attribute__((format(printf, 2, 3))) st_fail(st_reader *r, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(r->err, r->n, "%s:%lu: ", r->name, r->line);
    if (k >= 0 && (size_t)k < r->n) {
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->n - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Grow *buf (elements of size el) to hold need elements. 0, or -1 when out of memory. */
int st_grow(void **buf, size_t *cap, size_t need, size_t el)
{
    size_t c = *cap ? *cap : 64;
    void *m;
    if (need <= *cap)
        return 0;
    while (c < need)
        c = c > SIZE_MAX / 4 ? need : c * 2;
    if (c > SIZE_MAX / el || (m = realloc(*buf, c * el)) == NULL)
        return -1;
    *buf = m;
    *cap = c;
    return 0;
}

/* Whether s is exactly lit; st_starts: whether it begins with it. */
bool st_is(span s, const char *lit)
{
    size_t l = strlen(lit);
    return (size_t)(s.e - s.p) == l && memcmp(s.p, lit, l) == 0;
}

bool st_starts(span s, const char *lit)
{
    size_t l = strlen(lit);
    return (size_t)(s.e - s.p) >= l && memcmp(s.p, lit, l) == 0;
}

/* An ASCII decimal digit (not isdigit(): no locale, no int promotion of a signed char). */
bool st_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits at *p (at most maxd of them, at least one): true with the value, *p after. */
bool st_uint(const char **p, const char *e, int maxd, uint64_t *v)
{
    const char *q = *p;
    *v = 0;
    while (q < e && st_digit(*q) && q - *p < maxd)
        *v = *v * 10 + (uint64_t)(*q++ - '0');
    if (q == *p || (q < e && st_digit(*q)))
        return false;
    *p = q;
    return true;
}

/* The end of one argument or field from p: the ',' or the closing bracket at depth 0, or e.
 * Brackets nest by counting (no recursion); a string is skipped whole, escapes and all. */
const char *st_skip_value(const char *p, const char *e)
{
    size_t depth = 0;
    while (p < e) {
        char c = *p;
        if (c == '"') {
            for (p++; p < e && *p != '"'; p++)
                if (*p == '\\' && p + 1 < e)
                    p++;
            if (p < e)
                p++;
            continue;
        }
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if (c == ')' || c == ']' || c == '}') {
            if (depth == 0)
                return p;
            depth--;
        } else if (c == ',' && depth == 0)
            return p;
        p++;
    }
    return e;
}

/* Split the arguments from p (just after "NAME(") into a[0..*na), spaces trimmed, at most max
 * kept. Returns the position after the closing ')', or NULL when the list does not close. */
const char *st_args(const char *p, const char *e, span *a, size_t max, size_t *na)
{
    *na = 0;
    for (bool first = true;; first = false) {
        const char *q;
        span s;
        while (p < e && *p == ' ')
            p++;
        if (first && p < e && *p == ')')
            return p + 1;
        q = st_skip_value(p, e);
        if (q >= e)
            return NULL;
        s = (span){p, q};
        while (s.e > s.p && s.e[-1] == ' ')
            s.e--;
        if (*na < max)
            a[(*na)++] = s;
        if (*q == ')')
            return q + 1;
        if (*q != ',')
            return NULL;
        p = q + 1;
    }
}

/* The result after the arguments: " = 5", " = -1 EAGAIN (...)", " = ?" (strace pads with
 * spaces before '='). Whatever follows it (-T's <0.000012>, -yy's <...>) is ignored. */
bool st_result(const char *p, const char *e, st_res *res)
{
    bool neg;
    uint64_t v;
    size_t k = 0;
    memset(res, 0, sizeof *res);
    while (p < e && *p == ' ')
        p++;
    if (p >= e || *p++ != '=')
        return false;
    while (p < e && *p == ' ')
        p++;
    if (p < e && *p == '?') {
        res->kind = RES_UNKNOWN;
        return true;
    }
    neg = p < e && *p == '-';
    p += neg;
    if (!st_uint(&p, e, 18, &v))
        return false;
    res->val = neg ? -(int64_t)v : (int64_t)v;
    if (!neg)
        return true;
    res->kind = RES_ERR;
    if (p < e && *p == ' ')
        for (p++; p < e && k < sizeof res->err - 1 && ((*p >= 'A' && *p <= 'Z') || st_digit(*p) ||
                                                      *p == '_');)
            res->err[k++] = *p++;
    return true;
}

/* The value of the element that starts with `key` ("msg_iov=", "inet_pton(") at the top level
 * of the struct or array s: true with *v (what follows the key), false when there is none. */
bool st_field(span s, const char *key, span *v)
{
    size_t l = strlen(key);
    const char *p = s.p;
    if (p >= s.e || (*p != '{' && *p != '['))
        return false;
    for (p++; p < s.e;) {
        const char *q;
        while (p < s.e && *p == ' ')
            p++;
        q = st_skip_value(p, s.e);
        if ((size_t)(q - p) >= l && memcmp(p, key, l) == 0) {
            *v = (span){p + l, q};
            return true;
        }
        if (q >= s.e || *q != ',')
            return false;
        p = q + 1;
    }
    return false;
}

/* The value of a hex digit, or -1. */
int st_hex(char c)
{
    const char *d = "0123456789abcdef0123456789ABCDEF", *m = c ? strchr(d, c) : NULL;
    return m ? (int)(m - d) % 16 : -1;
}

/* Copy [p, e) into out[0..n) as text: a byte outside printable ASCII becomes '?'; cut to fit. */
void st_copy(char *out, size_t n, const char *p, const char *e)
{
    size_t k = 0;
    for (; p < e && k + 1 < n; p++)
        out[k++] = *p >= ' ' && *p < 127 ? *p : '?';
    out[k] = '\0';
}

/* Decode the string at *pp (its opening quote) onto r->data; *cut when strace's -s cut it (the
 * closing quote is followed by "..."). 0 with *pp after it, 1 when it is no string strace
 * writes, or -1 (out of memory; message set). */
int st_str(st_reader *r, const char **pp, const char *e, bool *cut)
{
    const char *p = *pp;
    void *b = r->data;
    uint8_t *o;
    if (p >= e || *p != '"')
        return 1;
    if (st_grow(&b, &r->data_cap, r->ndata + (size_t)(e - p), 1) < 0) /* out <= in */
        return st_fail(r, "out of memory");
    r->data = b;
    o = r->data + r->ndata;
    for (p++; p < e && *p != '"';) {
        unsigned v = (unsigned char)*p++;
        if (v == '\\') {
            const char *esc = "n\nt\tr\rv\vf\fa\ab\b\\\\\"\"''??";
            const char *m;
            if (p >= e)
                return 1;
            v = (unsigned char)*p++;
            if (v == 'x') {
                if (e - p < 2 || st_hex(p[0]) < 0 || st_hex(p[1]) < 0)
                    return 1;
                v = (unsigned)(st_hex(p[0]) * 16 + st_hex(p[1]));
                p += 2;
            } else if (v >= '0' && v <= '7') {
                v -= '0';
                for (int k = 0; k < 2 && p < e && *p >= '0' && *p <= '7'; k++)
                    v = v * 8 + (unsigned)(*p++ - '0');
                if (v > 255)
                    return 1;
            } else if (v != 0 && (m = strchr(esc, (int)v)) != NULL && (m - esc) % 2 == 0)
                v = (unsigned char)m[1];
            else
                return 1;
        }
        *o++ = (uint8_t)v;
    }
    if (p >= e)
        return 1;
    p++;
    *cut = e - p >= 3 && memcmp(p, "...", 3) == 0;
    *pp = p + (*cut ? 3 : 0);
    r->ndata = (size_t)(o - r->data);
    return 0;
}

/* Decode an iovec array ("[{iov_base="ab", iov_len=2}, ...]") onto r->data. *valid: the bytes
 * known in order from its start (up to and including the first string -s cut, or before an
 * element strace did not show). 0, 1 (not an array), or -1 (out of memory). */
int st_iov(st_reader *r, span s, uint64_t *valid)
{
    const char *p = s.p;
    bool whole = true;
    *valid = 0;
    if (p >= s.e || *p++ != '[')
        return 1;
    while (p < s.e && whole) {
        const char *q;
        span el, base;
        while (p < s.e && *p == ' ')
            p++;
        if (p >= s.e || *p == ']')
            break;
        q = st_skip_value(p, s.e);
        el = (span){p, q};
        if (st_field(el, "iov_base=", &base) && base.p < base.e && *base.p == '"') {
            size_t before = r->ndata;
            bool cut = false;
            int rc = st_str(r, &base.p, base.e, &cut);
            if (rc != 0)
                return rc;
            *valid += r->ndata - before;
            whole = !cut;
        } else
            whole = false; /* "..." (strace's -s cut the array), or an address */
        if (q >= s.e || *q != ',')
            break;
        p = q + 1;
    }
    return 0;
}
