/*
 * opts.c — option value parsing. See opts.h.
 */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int opts_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end == 'K' || *end == 'k')
        mult = 1024;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024;
    if (mult > 1)
        end++;
    if (*end != '\0' || v > UINT64_MAX / mult)
        return -1;
    v *= mult;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int opts_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *colon = strchr(s, ':');
    char first[32];
    if (colon == NULL) {
        if (opts_u64(s, 0, UINT64_MAX, lo) < 0)
            return -1;
        *hi = *lo;
        return 0;
    }
    if ((size_t)(colon - s) >= sizeof first)
        return -1;
    memcpy(first, s, (size_t)(colon - s));
    first[colon - s] = '\0';
    if (opts_u64(first, 0, UINT64_MAX, lo) < 0 || opts_u64(colon + 1, 0, UINT64_MAX, hi) < 0)
        return -1;
    return *lo <= *hi ? 0 : -1;
}

int opts_seconds(const char *s, double *out)
{
    char *end;
    double v;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end != '\0' || !(v >= 0.0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

int opts_bad(const char *cmd, const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "framespec %s: invalid %s '%s': %s\nTry 'framespec %s --help'.\n", cmd, opt,
            val, why, cmd);
    return 2;
}

int opts_keepalive(const char *s, int out[3])
{
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        unsigned long v;
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        v = strtoul(p, &end, 10);
        if (errno != 0 || v < 1 || v > 32767 || *end != (i < 2 ? ',' : '\0'))
            return -1;
        out[i] = (int)v;
        p = end + 1;
    }
    return 0;
}

void opts_server_init(opts_server *o)
{
    memset(o, 0, sizeof *o);
    o->framing = wire_default_framing();
    o->max_frame = 16u << 20;
    o->scale = 1.0;
}

int opts_server_take(const char *cmd, int ch, const char *arg, opts_server *o)
{
    char why[256];
    switch (ch) {
    case OPT_TARGET:
        o->target = arg;
        return 1;
    case OPT_EXEC:
        o->exec = arg;
        return 1;
    case OPT_FRAMING:
        if (wire_parse_framing(arg, &o->framing, why, sizeof why) < 0)
            return opts_bad(cmd, "--framing", arg, why);
        return 1;
    case OPT_MAX_FRAME:
        if (opts_u64(arg, 1, 0xFFFFFFFFull, &o->max_frame) < 0)
            return opts_bad(cmd, "--max-frame", arg, "expected bytes 1..4294967295 (K/M/G ok)");
        o->max_frame_given = true;
        return 1;
    case OPT_TIMEOUT:
        if (opts_seconds(arg, &o->timeout_s) < 0 || o->timeout_s <= 0)
            return opts_bad(cmd, "--timeout", arg, "expected seconds > 0");
        return 1;
    case OPT_SEED:
        if (opts_u64(arg, 0, UINT64_MAX, &o->seed) < 0)
            return opts_bad(cmd, "--seed", arg, "expected a non-negative integer");
        o->seed_given = true;
        return 1;
    case OPT_IDLE:
        if (opts_seconds(arg, &o->idle_s) < 0 || o->idle_s <= 0 || o->idle_s > 3600)
            return opts_bad(cmd, "--idle-timeout", arg, "expected seconds, more than 0 and at "
                                                        "most 3600");
        return 1;
    case OPT_SCALE:
        if (opts_seconds(arg, &o->scale) < 0 || o->scale < 0.1 || o->scale > 100)
            return opts_bad(cmd, "--timeout-scale", arg, "expected a factor 0.1..100");
        return 1;
    default:
        return 0;
    }
}

int opts_server_finish(const char *cmd, opts_server *o)
{
    if (!o->framing.limit_frame && o->max_frame > wire_max_expressible(o->framing))
        o->max_frame = wire_max_expressible(o->framing); /* as the server clamps it */
    o->max_payload = wire_max_payload(o->framing, o->max_frame);
    if (o->max_payload == 0) {
        fprintf(stderr, "framespec %s: --max-frame %llu leaves no room for a payload: under "
                        "limit=frame the maximum counts the %zu-byte header too\n",
                cmd, (unsigned long long)o->max_frame, wire_header_size(o->framing, 0));
        return 2;
    }
    return 0;
}
