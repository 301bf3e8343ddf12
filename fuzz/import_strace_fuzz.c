/*
 * import_strace_fuzz — framespec import's strace reader (harness/capture_strace.c) on any bytes.
 *
 * Input: an strace log's bytes (seeds: corpus/import_strace_fuzz/, real logs of a client,
 * trimmed). An input whose first line is "#server SPEC" names the server (--server SPEC; the
 * reader skips the line as it skips every line that is no call). The log must be read or refused
 * with a message, never crash, hang or leak (LeakSanitizer under libFuzzer). Of what is read:
 * there is a connection, each was seen connecting, each has its events in time order (none before
 * 0 nor before the connection began), each within the bytes of its direction, and the bytes of
 * each direction are exactly its events' (none invented, none lost); a connection without events
 * is fine.
 */
#include <string.h>

#include "capture.h"
#include "fuzz_common.h"

static void check(const capture *cp)
{
    FUZZ_CHECK(cp->n > 0, "a log read without a connection");
    FUZZ_CHECK(strcmp(cp->source, "strace") == 0, "source '%s'", cp->source);
    for (size_t i = 0; i < cp->n; i++) {
        const cap_conn *c = &cp->c[i];
        uint64_t cli = 0, srv = 0;
        int64_t t = c->t0_us;
        FUZZ_CHECK(c->handshake, "connection %zu: its connect not marked", i);
        FUZZ_CHECK(memchr(c->tuple, '\0', sizeof c->tuple) != NULL &&
                       memchr(c->notes, '\0', sizeof c->notes) != NULL,
                   "connection %zu: tuple or notes not terminated", i);
        FUZZ_CHECK(c->t0_us >= 0, "connection %zu: began at %lld", i, (long long)c->t0_us);
        for (size_t k = 0; k < c->nev; k++) {
            const cap_event *e = &c->ev[k];
            FUZZ_CHECK(e->t_us >= t, "connection %zu event %zu: time %lld after %lld", i, k,
                       (long long)e->t_us, (long long)t);
            t = e->t_us;
            if (e->kind == CAP_WRITE) {
                FUZZ_CHECK(e->off == cli && e->len > 0 && e->len <= c->ncli - e->off,
                           "connection %zu: write at %llu+%llu, after %llu of %llu bytes", i,
                           (unsigned long long)e->off, (unsigned long long)e->len,
                           (unsigned long long)cli, (unsigned long long)c->ncli);
                cli += e->len;
            } else if (e->kind == CAP_SRV_DATA) {
                FUZZ_CHECK(e->off == srv && e->len > 0 && e->len <= c->nsrv - e->off,
                           "connection %zu: server bytes at %llu+%llu, after %llu of %llu", i,
                           (unsigned long long)e->off, (unsigned long long)e->len,
                           (unsigned long long)srv, (unsigned long long)c->nsrv);
                srv += e->len;
            } else
                FUZZ_CHECK(e->kind >= CAP_SHUT_WR && e->kind <= CAP_SRV_RST && e->len == 0,
                           "connection %zu event %zu: kind %d, %llu bytes", i, k, (int)e->kind,
                           (unsigned long long)e->len);
        }
        FUZZ_CHECK(cli == c->ncli && srv == c->nsrv,
                   "connection %zu: events hold %llu/%llu bytes, the connection %llu/%llu", i,
                   (unsigned long long)cli, (unsigned long long)srv,
                   (unsigned long long)c->ncli, (unsigned long long)c->nsrv);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capture cp;
    char err[2048] = "", server[64];
    const char *srv = NULL;
    if (size > 8 && memcmp(data, "#server ", 8) == 0) {
        size_t k = 0;
        for (size_t i = 8; i < size && data[i] != '\n' && k + 1 < sizeof server; i++)
            server[k++] = data[i] ? (char)data[i] : '?';
        server[k] = '\0';
        srv = server;
    }
    if (cap_read_strace_buf((const char *)data, size, "fuzz", srv, &cp, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
        FUZZ_CHECK(srv != NULL || strncmp(err, "fuzz", 4) == 0, "a refusal without its place: %s",
                   err);
        FUZZ_CHECK(cp.n == 0 && cp.c == NULL, "a refused log left %zu connections", cp.n);
        cap_free(&cp);
        return 0;
    }
    check(&cp);
    cap_free(&cp);
    return 0;
}
