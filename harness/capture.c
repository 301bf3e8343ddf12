/*
 * capture.c — the model `framespec import` reads captures into (capture.h): connections, their
 * bytes in each direction and their events, with the bounds that keep a hostile capture from
 * growing them without limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

void cap_init(capture *cp)
{
    memset(cp, 0, sizeof *cp);
}

FILE *cap_open(const char *path, struct stat *sb, const char *give, char *err, size_t n)
{
    FILE *f = fopen(path, "rb");
    const char *why = f == NULL || fstat(fileno(f), sb) < 0 ? strerror(errno)
                      : S_ISDIR(sb->st_mode)               ? "a directory"
                      : S_ISREG(sb->st_mode) && sb->st_size == 0 ? "empty" : NULL;
    if (why == NULL)
        return f;
    snprintf(err, n, "%s: %s: give %s", path, why, give);
    if (f)
        fclose(f);
    return NULL;
}

void cap_free(capture *cp)
{
    for (size_t i = 0; i < cp->n; i++) {
        free(cp->c[i].cli);
        free(cp->c[i].srv);
        free(cp->c[i].ev);
    }
    free(cp->c);
    memset(cp, 0, sizeof *cp);
}

cap_conn *cap_new_conn(capture *cp, const char *tuple, int64_t t_us)
{
    cap_conn *c;
    if (cp->n >= CAP_MAX_CONNS)
        return NULL;
    if (cp->n == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 16;
        cap_conn *m = realloc(cp->c, cap * sizeof *m);
        if (m == NULL)
            return NULL;
        cp->c = m;
        cp->cap = cap;
    }
    c = &cp->c[cp->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->tuple, sizeof c->tuple, "%s", tuple);
    c->t0_us = t_us;
    return c;
}

int cap_event_add(cap_conn *c, cap_kind kind, int64_t t_us)
{
    if (c->nev == c->ev_cap) {
        size_t cap = c->ev_cap ? c->ev_cap * 2 : 16;
        cap_event *m = realloc(c->ev, cap * sizeof *m);
        if (m == NULL)
            return -1;
        c->ev = m;
        c->ev_cap = cap;
    }
    c->ev[c->nev++] = (cap_event){.kind = kind, .t_us = t_us};
    return 0;
}

int cap_data(cap_conn *c, bool server, const uint8_t *p, size_t len, int64_t t_us, char *err,
             size_t n)
{
    uint8_t **buf = server ? &c->srv : &c->cli;
    uint64_t *used = server ? &c->nsrv : &c->ncli, *cap = server ? &c->srv_cap : &c->cli_cap;
    if (len == 0)
        return 0;
    if (*used + len > CAP_MAX_BYTES) {
        snprintf(err, n, "%s: the %s sent more than %llu MiB on one connection: more than a "
                 "scenario holds (import a shorter capture, or one connection of it)", c->tuple,
                 server ? "server" : "client", (unsigned long long)(CAP_MAX_BYTES >> 20));
        return -1;
    }
    if (*used + len > *cap) {
        uint64_t want = *cap ? *cap : 4096;
        uint8_t *m;
        while (want < *used + len)
            want *= 2;
        if (want > CAP_MAX_BYTES)
            want = CAP_MAX_BYTES;
        m = realloc(*buf, (size_t)want);
        if (m == NULL) {
            snprintf(err, n, "out of memory");
            return -1;
        }
        *buf = m;
        *cap = want;
    }
    memcpy(*buf + *used, p, len);
    /* consecutive reads of the server's bytes are one event: what the client received between
     * two of its own actions */
    if (server && c->nev > 0 && c->ev[c->nev - 1].kind == CAP_SRV_DATA) {
        c->ev[c->nev - 1].len += len;
        *used += len;
        return 0;
    }
    if (cap_event_add(c, server ? CAP_SRV_DATA : CAP_WRITE, t_us) < 0) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    c->ev[c->nev - 1].off = *used;
    c->ev[c->nev - 1].len = len;
    *used += len;
    return 0;
}
