/*
 * capture_write.c — a capture model (capture.h) written back as a pcap (libpcap's pcap_dump):
 * what `framespec proxy --record` keeps beside each scenario, so that the packets can be looked
 * at in Wireshark or tcpdump -r, and `framespec import` reads them back.
 *
 * Each connection becomes IPv4 TCP over Ethernet (DLT_EN10MB, as a capture of lo): the
 * handshake, then one segment per event (a write larger than a segment's 65,495 bytes is cut into
 * several), FIN for SHUT_WR and close, RST for an abort, with sequence and acknowledgement
 * numbers that follow the bytes (RFC 9293), the client's ISN 1000 and the server's 5000.
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"

#define SEG_MAX 65495u /* IPv4's total length, less its header and TCP's */

enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

typedef struct {
    uint32_t ip[2];     /* [0] client, [1] server (network order) */
    uint16_t port[2];   /* host order */
    uint32_t seq[2];    /* next sequence number of each side */
} flow;

static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One segment from side `from` (0 client, 1 server) at t_us (wall clock, us). */
static void segment(pcap_dumper_t *d, flow *fl, int from, int flags, const uint8_t *p, size_t n,
                    int64_t t_us)
{
    static uint8_t pkt[14 + 20 + 20 + SEG_MAX];
    uint8_t *ip = pkt + 14, *tcp = ip + 20;
    struct pcap_pkthdr h;
    uint16_t total = (uint16_t)(40 + n);
    uint32_t v;
    memset(pkt, 0, 14 + 40);
    pkt[12] = 0x08; /* IPv4 */
    ip[0] = 0x45;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[8] = 64;
    ip[9] = 6; /* TCP */
    memcpy(ip + 12, &fl->ip[from], 4);
    memcpy(ip + 16, &fl->ip[1 - from], 4);
    v = ip_checksum(ip, 20);
    ip[10] = (uint8_t)(v >> 8);
    ip[11] = (uint8_t)v;
    tcp[0] = (uint8_t)(fl->port[from] >> 8);
    tcp[1] = (uint8_t)fl->port[from];
    tcp[2] = (uint8_t)(fl->port[1 - from] >> 8);
    tcp[3] = (uint8_t)fl->port[1 - from];
    v = htonl(fl->seq[from]);
    memcpy(tcp + 4, &v, 4);
    v = htonl(flags & F_ACK ? fl->seq[1 - from] : 0);
    memcpy(tcp + 8, &v, 4);
    tcp[12] = 5 << 4;
    tcp[13] = (uint8_t)flags;
    tcp[14] = 0xff; /* window */
    tcp[15] = 0xff;
    if (n)
        memcpy(tcp + 20, p, n);
    h.ts.tv_sec = (time_t)(t_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(t_us % 1000000);
    h.caplen = h.len = (bpf_u_int32)(14 + total);
    pcap_dump((u_char *)d, &h, pkt);
    fl->seq[from] += (uint32_t)n + ((flags & (F_SYN | F_FIN)) ? 1 : 0);
}

/* "A.B.C.D:P -> E.F.G.H:Q" into fl; other tuples (an strace "fd 3") get 127.0.0.1:40000+i ->
 * 127.0.0.1:7000. */
static void flow_of(const cap_conn *c, size_t i, flow *fl)
{
    unsigned a[4], b[4], pa, pb;
    memset(fl, 0, sizeof *fl);
    if (sscanf(c->tuple, "%u.%u.%u.%u:%u -> %u.%u.%u.%u:%u", &a[0], &a[1], &a[2], &a[3], &pa,
               &b[0], &b[1], &b[2], &b[3], &pb) == 10 && pa < 65536 && pb < 65536) {
        fl->ip[0] = htonl(a[0] << 24 | (a[1] & 255) << 16 | (a[2] & 255) << 8 | (a[3] & 255));
        fl->ip[1] = htonl(b[0] << 24 | (b[1] & 255) << 16 | (b[2] & 255) << 8 | (b[3] & 255));
        fl->port[0] = (uint16_t)pa;
        fl->port[1] = (uint16_t)pb;
    } else {
        fl->ip[0] = fl->ip[1] = htonl(0x7f000001);
        fl->port[0] = (uint16_t)(40000 + i % 20000);
        fl->port[1] = 7000;
    }
    fl->seq[0] = 1000;
    fl->seq[1] = 5000;
}

int cap_write_pcap(const capture *cp, const char *path, char *err, size_t n)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535 + 54);
    pcap_dumper_t *d;
    if (p == NULL) {
        snprintf(err, n, "pcap_open_dead failed");
        return -1;
    }
    d = pcap_dump_open(p, path);
    if (d == NULL) {
        snprintf(err, n, "%s: %s", path, pcap_geterr(p));
        pcap_close(p);
        return -1;
    }
    for (size_t i = 0; i < cp->n; i++) {
        const cap_conn *c = &cp->c[i];
        int64_t t0 = cp->t0_unix_us;
        flow fl;
        flow_of(c, i, &fl);
        segment(d, &fl, 0, F_SYN, NULL, 0, t0 + c->t0_us);
        segment(d, &fl, 1, F_SYN | F_ACK, NULL, 0, t0 + c->t0_us);
        segment(d, &fl, 0, F_ACK, NULL, 0, t0 + c->t0_us);
        for (size_t k = 0; k < c->nev; k++) {
            const cap_event *e = &c->ev[k];
            int64_t t = t0 + e->t_us;
            switch (e->kind) {
            case CAP_WRITE:
            case CAP_SRV_DATA: {
                int from = e->kind == CAP_WRITE ? 0 : 1;
                const uint8_t *b = (from == 0 ? c->cli : c->srv) + e->off;
                for (uint64_t o = 0; o < e->len; o += SEG_MAX) {
                    size_t len = e->len - o < SEG_MAX ? (size_t)(e->len - o) : SEG_MAX;
                    segment(d, &fl, from, F_PSH | F_ACK, b + o, len, t);
                }
                break;
            }
            case CAP_SHUT_WR:
            case CAP_CLOSE:
                segment(d, &fl, 0, F_FIN | F_ACK, NULL, 0, t);
                break;
            case CAP_ABORT:
                segment(d, &fl, 0, F_RST | F_ACK, NULL, 0, t);
                break;
            case CAP_SRV_FIN:
                segment(d, &fl, 1, F_FIN | F_ACK, NULL, 0, t);
                break;
            case CAP_SRV_RST:
                segment(d, &fl, 1, F_RST | F_ACK, NULL, 0, t);
                break;
            }
        }
    }
    pcap_dump_close(d);
    pcap_close(p);
    return 0;
}
