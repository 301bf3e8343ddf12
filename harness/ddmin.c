/*
 * ddmin.c — the delta-debugging loop shared by fuzz.c and shrink.c (ddmin.h).
 */
#include "ddmin.h"

size_t dd_reduce(const dd_ops *o, void *ctx)
{
    size_t chunk, tried = 0;
    for (size_t i = o->count(ctx); i-- > 0 && o->count(ctx) > 1 && o->budget(ctx);) {
        tried++;
        if (o->attempt(ctx, i, 1, true) < 0)
            return tried;
    }
    chunk = o->count(ctx) / 2 ? o->count(ctx) / 2 : 1;
    while (o->budget(ctx)) {
        bool progress = false;
        for (size_t i = 0; i < o->count(ctx) && o->budget(ctx);) {
            size_t total = o->count(ctx), n = i + chunk <= total ? chunk : total - i;
            int r;
            if (n == total) {
                i += n;
                continue;
            }
            tried++;
            r = o->attempt(ctx, i, n, false);
            if (r < 0)
                return tried;
            if (r == 1)
                progress = true; /* the units after them moved down to i */
            else
                i += n;
        }
        if (!progress) {
            if (chunk == 1)
                break;
            chunk /= 2;
        }
    }
    return tried;
}
