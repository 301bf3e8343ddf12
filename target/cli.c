/*
 * cli.c — option value parsing. See cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

int cli_parse_size(const char *s, uint64_t limit, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'K':
    case 'k':
        mult = 1024;
        end++;
        break;
    case 'M':
    case 'm':
        mult = 1024 * 1024;
        end++;
        break;
    case 'G':
    case 'g':
        mult = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        return -1;
    }
    if (*end != '\0' || v > limit / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

int cli_parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= 0.0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_keepalive(const char *s, int out[3])
{
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        long v;
        if (p == NULL || *p < '0' || *p > '9')
            return -1;
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno != 0 || v < 1 || v > 32767)
            return -1;
        if (i < 2 ? *end != ',' : *end != '\0')
            return -1;
        out[i] = (int)v;
        p = end + 1;
    }
    return 0;
}

int cli_parse_millis(const char *s, unsigned *out)
{
    char *end;
    long long v;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 2147483647)
        return -1;
    *out = (unsigned)v;
    return 0;
}
