/*
 * import_pcap_fuzz — framespec import's capture reader (harness/capture_pcap.c: libpcap, then
 * TCP reassembly) on any bytes.
 *
 * Input: a pcap or pcapng file's bytes (seeds: corpus/import_pcap_fuzz/, real loopback captures
 * of the harness's peers). They must be read or refused with a message, never crash, hang or
 * leak. The first input byte chooses whether the server is named (--server 7000) or found from
 * the handshake. Of what is read: every connection has events, in time order, each within the
 * bytes of its direction, and the bytes of each direction are exactly its events' (no byte
 * invented, none lost).
 */
#define _GNU_SOURCE /* fmemopen */
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "fuzz_common.h"

static void check(const capture *cp)
{
    FUZZ_CHECK(cp->n > 0, "a capture read without a connection\n");
    for (size_t i = 0; i < cp->n; i++) {
        const cap_conn *c = &cp->c[i];
        uint64_t cli = 0, srv = 0;
        int64_t t = 0;
        for (size_t k = 0; k < c->nev; k++) {
            const cap_event *e = &c->ev[k];
            FUZZ_CHECK(e->t_us >= 0, "connection %zu event %zu: time %lld\n", i, k,
                       (long long)e->t_us);
            t = e->t_us;
            if (e->kind == CAP_WRITE) {
                FUZZ_CHECK(e->off == cli && e->len > 0, "connection %zu: write at %llu+%llu, "
                           "after %llu bytes\n", i, (unsigned long long)e->off,
                           (unsigned long long)e->len, (unsigned long long)cli);
                cli += e->len;
            } else if (e->kind == CAP_SRV_DATA) {
                FUZZ_CHECK(e->off == srv && e->len > 0, "connection %zu: server bytes at "
                           "%llu+%llu, after %llu\n", i, (unsigned long long)e->off,
                           (unsigned long long)e->len, (unsigned long long)srv);
                srv += e->len;
            }
        }
        (void)t;
        FUZZ_CHECK(cli == c->ncli && srv == c->nsrv, "connection %zu: events hold %llu/%llu "
                   "bytes, the connection %llu/%llu\n", i, (unsigned long long)cli,
                   (unsigned long long)srv, (unsigned long long)c->ncli,
                   (unsigned long long)c->nsrv);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    capture cp;
    char err[2048] = "";
    FILE *f;
    const char *server;
    if (size < 1)
        return 0;
    server = data[0] & 1 ? "7000" : NULL;
    f = fmemopen((void *)(data + 1), size - 1, "rb");
    if (f == NULL)
        return 0;
    if (cap_read_pcap_stream(f, server, &cp, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message\n");
        FUZZ_CHECK(cp.n == 0 && cp.c == NULL, "a refused capture left %zu connections\n", cp.n);
        return 0;
    }
    check(&cp);
    cap_free(&cp);
    return 0;
}
