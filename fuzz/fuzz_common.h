/*
 * fuzz_common.h — small helpers shared by the fuzz targets: a byte reader over the fuzz input,
 * and a crash-on-failure check that works under libFuzzer, AFL++ and the standalone driver.
 */
#ifndef FRAMESPEC_FUZZ_COMMON_H
#define FRAMESPEC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Consume bytes from the front of the fuzz input; returns 0 once it is exhausted. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    uint8_t v = 0;
    if (in->n > 0) {
        v = *in->p++;
        in->n--;
    }
    return v;
}

static inline uint32_t fuzz_u16(fuzz_in *in)
{
    uint32_t hi = fuzz_u8(in);
    return (hi << 8) | fuzz_u8(in);
}

/* Abort with a message: libFuzzer and AFL++ record the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The harness's own loops are not worth coverage feedback (only the code under test is): they
 * would spend most of the time in comparison tracing. */
#if defined(__clang__)
#define FUZZ_HARNESS __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_HARNESS
#endif

#endif
