/*
 * proxy_toxic_fuzz — framespec proxy's --toxic parser (harness/proxy_toxic.c tx_parse_spec())
 * and what toxics do to one direction of a connection (harness/proxy_chain.c), on any input.
 *
 * Input: lines "toxic SPEC" (at most 8; each parsed: a refusal must say why), a line
 * "framing NAME" (default 4), then the stream: the rest of the input, cut into reads by its
 * first bytes (a byte each: a read of 1 + b % 64 bytes, or with b = 255 the source's FIN), each
 * read some ms after the one before (the timers are run as time goes). Checks: the operations
 * come out in time order; nothing follows a close, RST or vanish, nor data a SHUT_WR; bytes the
 * toxics only delay or cut (latency, bandwidth, slicer, slow_close, noop, frame_split,
 * frame_coalesce, frame_delay, frame_stall, toxicity 0 or not) come out exactly as they went
 * in, and the FIN as a SHUT_WR after them.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proxy_toxic.h"

static bool lossless(tx_type t)
{
    return t == TX_LATENCY || t == TX_BANDWIDTH || t == TX_SLICER || t == TX_SLOW_CLOSE ||
           t == TX_NOOP || t == TX_FRAME_SPLIT || t == TX_FRAME_COALESCE ||
           t == TX_FRAME_DELAY || t == TX_FRAME_STALL;
}

/* Take the queue's operations; check them; append their bytes to out. */
static void drain(px_dir *d, uint8_t *out, size_t *nout, size_t cap, int64_t *last, int *ended)
{
    px_op *op;
    while ((op = px_dir_pop(d)) != NULL) {
        FUZZ_CHECK(op->at_us >= *last, "operation at %lld after one at %lld",
                   (long long)op->at_us, (long long)*last);
        *last = op->at_us;
        FUZZ_CHECK(*ended == 0 || (*ended == 1 && op->kind != PX_OP_DATA && op->kind != PX_OP_SHUT),
                   "operation %d after the end (%d)", (int)op->kind, *ended);
        if (op->kind == PX_OP_DATA) {
            FUZZ_CHECK(op->len > 0 && op->off == 0, "data op of %zu bytes at %zu", op->len,
                       op->off);
            if (*nout + op->len <= cap)
                memcpy(out + *nout, op->data, op->len);
            *nout += op->len;
        } else {
            *ended = op->kind == PX_OP_SHUT ? (*ended > 1 ? *ended : 1) : 2;
        }
        free(op);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_toxic tox[8];
    size_t ntox = 0, nin = 0, nout = 0, pos = 0;
    wire_framing f = wire_default_framing();
    px_dir d;
    uint64_t seed = 1;
    int64_t now = 1000000, last = 0;
    int ended = 0;
    bool keep = true, eof = false;
    uint8_t *in, *out;
    char line[256], err[400];
    /* the lines */
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : 0;
        if (nl == NULL || len >= sizeof line)
            break;
        memcpy(line, data + pos, len);
        line[len] = '\0';
        if (!strncmp(line, "toxic ", 6) && ntox < 8) {
            err[0] = '\0';
            if (tx_parse_spec(line + 6, &tox[ntox], err, sizeof err) == 0)
                ntox++;
            else
                FUZZ_CHECK(err[0] != '\0', "a refused spec without a reason: %s", line + 6);
        } else if (!strncmp(line, "framing ", 8)) {
            if (wire_parse_framing(line + 8, &f, err, sizeof err) < 0)
                f = wire_default_framing();
        } else {
            break;
        }
        pos += len + 1;
    }
    for (size_t i = 0; i < ntox; i++) {
        if (tx_unfit(&tox[i], f))
            return 0; /* refused at the command line */
        keep &= lossless(tox[i].type) || tox[i].toxicity <= 0;
        tox[i].stream = PX_UP;
        snprintf(tox[i].name, sizeof tox[i].name, "t%zu", i);
    }
    in = malloc(size + 1);
    out = malloc(4 * size + 64);
    FUZZ_CHECK(in && out, "out of memory");
    FUZZ_CHECK(px_dir_init(&d, tox, ntox, PX_UP, f, 300, &seed, now) == 0, "px_dir_init");
    while (pos < size && !eof) {
        uint8_t b = data[pos++];
        size_t n = 1 + b % 64;
        now += (b % 7) * 1000;
        FUZZ_CHECK(px_dir_tick(&d, now) == 0, "tick");
        if (b == 255) {
            eof = true;
            FUZZ_CHECK(px_dir_eof(&d, now) == 0, "eof");
        } else {
            if (n > size - pos)
                n = size - pos;
            memcpy(in + nin, data + pos, n);
            FUZZ_CHECK(px_dir_data(&d, data + pos, n, now) == 0, "data");
            nin += n;
            pos += n;
        }
        drain(&d, out, &nout, 4 * size + 64, &last, &ended);
    }
    /* time goes on: every timer runs */
    for (int k = 0; k < 40; k++) {
        int64_t next = px_dir_next_us(&d);
        if (next == 0)
            break;
        now = next > now ? next : now;
        FUZZ_CHECK(px_dir_tick(&d, now) == 0, "tick");
        drain(&d, out, &nout, 4 * size + 64, &last, &ended);
    }
    if (keep) {
        FUZZ_CHECK(nout == nin && memcmp(in, out, nin) == 0,
                   "%zu bytes in, %zu out, through toxics that only delay or cut", nin, nout);
        FUZZ_CHECK(ended == (eof ? 1 : 0), "the FIN became %d", ended);
    }
    px_dir_free(&d);
    free(in);
    free(out);
    return 0;
}
