#define _GNU_SOURCE /* open_memstream */
/*
 * scenario_fuzz — the scenario parser (harness/scenario_parse.c) on any text.
 *
 * Input: a scenario file's bytes. It must parse or be refused with a message, never crash, hang
 * or leak (LeakSanitizer under libFuzzer). A scenario that parses is printed with the same
 * keyword table (sc_print), and that text must parse again and print identically: the printer and
 * the parser agree on every step. A deep copy (sc_copy) must print identically too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "scenario.h"

/* The text of s as printed, malloc'd (caller frees). */
static char *printed(const scenario *s, size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    FUZZ_CHECK(m != NULL, "open_memstream failed");
    sc_print(m, s);
    fclose(m);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    scenario a, b, c;
    char *t1, *t2, *t3;
    size_t l1, l2, l3;
    if (sink == NULL)
        sink = fopen("/dev/null", "w");
    sc_init(&a);
    a.payload_bound = 1u << 20;
    if (sc_parse_buf(&a, "fuzz", (const char *)data, size, sink) < 0) {
        sc_free(&a);
        return 0;
    }
    t1 = printed(&a, &l1);
    sc_init(&b);
    b.payload_bound = a.payload_bound;
    FUZZ_CHECK(sc_parse_buf(&b, "printed", t1, l1, sink) == 0,
               "the printed scenario does not parse:\n%s", t1);
    t2 = printed(&b, &l2);
    FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0,
               "printed twice, the scenario differs:\n%s\n---\n%s", t1, t2);
    FUZZ_CHECK(sc_copy(&c, &a) == 0, "sc_copy failed");
    t3 = printed(&c, &l3);
    FUZZ_CHECK(l1 == l3 && memcmp(t1, t3, l1) == 0, "a copy prints differently");
    free(t1);
    free(t2);
    free(t3);
    sc_free(&a);
    sc_free(&b);
    sc_free(&c);
    return 0;
}
