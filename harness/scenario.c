/*
 * scenario.c — a scenario as data (scenario.h): items and their bytes, steps and what they own,
 * copies, connection names.
 */
#include "scenario.h"

#include <stdlib.h>
#include <string.h>

/* The payload's byte i. */
static uint8_t payload_byte(const sc_payload *pl, uint64_t i)
{
    switch (pl->kind) {
    case SC_P_SIZE: return (uint8_t)i;
    case SC_P_TEXT: return (uint8_t)('a' + i % 26);
    default: return pl->bytes[i];
    }
}

uint64_t sc_item_size(const sc_item *it, wire_framing f)
{
    return it->framed ? wire_frame_size(f, (size_t)it->p.len) : it->p.len;
}

void sc_item_bytes(const sc_item *it, wire_framing f, uint8_t *out)
{
    size_t hl = it->framed ? wire_encode_header(f, it->p.len, out) : 0;
    uint8_t *p = out + hl;
    uint64_t len = it->p.len, period = it->p.kind == SC_P_SIZE ? 256 : 26 * 256;
    if (it->p.kind == SC_P_BYTES) {
        if (len > 0)
            memcpy(p, it->p.bytes, (size_t)len);
    } else {
        /* one period of the pattern, then copies of what is done (doubling): a 16 MiB payload
         * is built in milliseconds, not tens of them */
        uint64_t done = len < period ? len : period;
        for (uint64_t i = 0; i < done; i++)
            p[i] = payload_byte(&it->p, i);
        while (done < len) {
            uint64_t k = done <= len - done ? done : len - done;
            memcpy(p + done, p, (size_t)k);
            done += k;
        }
    }
    if (it->framed && wire_is_line(f))
        out[hl + it->p.len] = '\n';
}

void sc_step_free(sc_step *st)
{
    for (size_t i = 0; i < st->nitems; i++)
        free(st->items[i].p.bytes);
    free(st->items);
    free(st->set);
    free(st->cuts);
    free(st->pause_at);
    st->items = NULL;
    st->nitems = 0;
    st->set = NULL;
    st->nset = 0;
    st->cuts = st->pause_at = NULL;
    st->ncuts = st->npause_at = 0;
}

void sc_init(scenario *s)
{
    memset(s, 0, sizeof *s);
    s->framing = wire_default_framing();
    s->payload_bound = 16u << 20;
}

void sc_free(scenario *s)
{
    uint64_t bound = s->payload_bound;
    bool long_sleeps = s->long_sleeps;
    for (size_t i = 0; i < s->n; i++)
        sc_step_free(&s->steps[i]);
    free(s->steps);
    free(s->names);
    sc_init(s);
    s->payload_bound = bound;
    s->long_sleeps = long_sleeps;
}

uint64_t sc_items_size(const scenario *s, const sc_step *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < st->nitems; i++)
        n += sc_item_size(&st->items[i], s->framing);
    return n;
}

sc_step *sc_append(scenario *s, const sc_step *st)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        sc_step *ns = realloc(s->steps, nc * sizeof *ns);
        if (ns == NULL) {
            sc_step tmp = *st;
            sc_step_free(&tmp);
            return NULL;
        }
        s->steps = ns;
        s->cap = nc;
    }
    s->steps[s->n] = *st;
    return &s->steps[s->n++];
}

int sc_conn(scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nnames; i++)
        if (strcmp(s->names[i], name) == 0)
            return (int)i;
    if (s->nnames == SC_MAX_CONNS)
        return -1;
    if (s->nnames == s->names_cap) {
        size_t nc = s->names_cap ? s->names_cap * 2 : 8;
        char(*nn)[32] = realloc(s->names, nc * sizeof *nn);
        if (nn == NULL)
            return -1;
        s->names = nn;
        s->names_cap = nc;
    }
    snprintf(s->names[s->nnames], sizeof s->names[0], "%s", name);
    return (int)s->nnames++;
}

/* A copy of n elements of `size` bytes at p (NULL when n is 0); *ok false when out of memory. */
static void *dup_array(const void *p, size_t n, size_t size, bool *ok)
{
    void *d;
    if (n == 0 || p == NULL)
        return NULL;
    d = malloc(n * size);
    if (d == NULL)
        *ok = false;
    else
        memcpy(d, p, n * size);
    return d;
}

/* A deep copy of one step (its items' bytes, set, cuts). Returns 0 or -1 (nothing kept). */
static int step_copy(sc_step *dst, const sc_step *src)
{
    bool ok = true;
    *dst = *src;
    dst->items = dup_array(src->items, src->nitems, sizeof *src->items, &ok);
    if (!ok)
        dst->nitems = 0;
    for (size_t j = 0; ok && j < dst->nitems; j++) {
        const sc_payload *p = &src->items[j].p;
        dst->items[j].p.bytes = dup_array(p->bytes, (size_t)p->len, 1, &ok);
        if (!ok)
            dst->nitems = j; /* what was copied so far is freed below */
    }
    dst->set = dup_array(src->set, src->nset, sizeof *src->set, &ok);
    dst->cuts = dup_array(src->cuts, src->ncuts, sizeof *src->cuts, &ok);
    dst->pause_at = dup_array(src->pause_at, src->npause_at, sizeof *src->pause_at, &ok);
    if (!ok) {
        sc_step_free(dst);
        return -1;
    }
    return 0;
}

int sc_copy(scenario *dst, const scenario *src)
{
    *dst = *src;
    dst->steps = NULL;
    dst->n = dst->cap = 0;
    dst->names = NULL;
    dst->nnames = dst->names_cap = 0;
    for (size_t i = 0; i < src->nnames; i++)
        if (sc_conn(dst, src->names[i]) < 0)
            goto fail;
    for (size_t i = 0; i < src->n; i++) {
        sc_step st;
        if (step_copy(&st, &src->steps[i]) < 0 || sc_append(dst, &st) == NULL)
            goto fail;
    }
    return 0;
fail:
    sc_free(dst);
    return -1;
}

bool sc_needs_netns(const scenario *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->steps[i].kind == SC_VANISH || s->steps[i].kind == SC_MIDDLEBOX_RESET)
            return true;
    return false;
}
