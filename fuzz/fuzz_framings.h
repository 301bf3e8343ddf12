/*
 * fuzz_framings.h — the framings the codec targets (decode, roundtrip, conn) cover. Not for
 * scenario_fuzz: the harness side never includes target/frame.h.
 */
#ifndef FRAMESPEC_FUZZ_FRAMINGS_H
#define FRAMESPEC_FUZZ_FRAMINGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/*
 * The framings the codec targets run under, by family (docs/spec.md, Framings). Byte 0 of an
 * input picks one; FRAMESPEC_FUZZ_FAMILY=erlang|length|varint narrows the choice to a family
 * (a campaign per family: ci/fuzz.sh --family). The first five keep the order the corpora were
 * made with (raw, 1, 2, 4, line).
 */
static const struct {
    const char *family, *spec;
} fuzz_framings[] = {
    {"erlang", "raw"},
    {"erlang", "1"},
    {"erlang", "2"},
    {"erlang", "4"},
    {"erlang", "line"},
    {"length", "u24"},
    {"length", "u64"},
    {"length", "u16le"},
    {"length", "u32le"},
    {"length", "4,adjust=-4"},
    {"length", "u32le,offset=2,adjust=-6,limit=frame"},
    {"length", "1,adjust=-1,limit=frame"},
    {"length", "u24le,offset=3"},
    {"length", "2,limit=frame"},
    {"varint", "varint"},
    {"varint", "varint,limit=frame"},
    {"varint", "varint,offset=2,adjust=-2"},
};

/* The framing byte b picks (within FRAMESPEC_FUZZ_FAMILY when it is set), parsed. */
static inline framing_t fuzz_framing(uint8_t b)
{
    static int idx[sizeof fuzz_framings / sizeof fuzz_framings[0]], n = -1;
    framing_t f;
    char err[256];
    if (n < 0) {
        const char *fam = getenv("FRAMESPEC_FUZZ_FAMILY");
        n = 0;
        for (size_t i = 0; i < sizeof fuzz_framings / sizeof fuzz_framings[0]; i++)
            if (fam == NULL || *fam == '\0' || strcmp(fam, fuzz_framings[i].family) == 0)
                idx[n++] = (int)i;
        if (n == 0) {
            fprintf(stderr, "FRAMESPEC_FUZZ_FAMILY=%s: no such family (erlang, length, varint)\n",
                    fam);
            abort();
        }
    }
    if (frame_parse_framing(fuzz_framings[idx[b % n]].spec, &f, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz framing %s: %s\n", fuzz_framings[idx[b % n]].spec, err);
        abort();
    }
    return f;
}

#endif
