/*
 * capture_pcap.c — `framespec import` of a packet capture (pcap or pcapng, read with libpcap's
 * pcap_fopen_offline: Debian libpcap-dev): every TCP connection reassembled from both directions
 * by sequence number, as a receiving TCP would (RFC 9293 3.10.7.4: a segment's bytes below the
 * next expected sequence number were already received, and are taken once; bytes beyond it wait
 * until the ones before them arrive). A byte the capture does not hold is never invented: a hole
 * that is still open at the end is an error that names its sequence numbers.
 *
 * The client's write boundaries are its segments' boundaries (in order, after reassembly): on
 * loopback, one write is usually one segment; Nagle and TSO may merge or split them elsewhere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"

/* Segments held while the bytes before them are missing: at most this many, and bytes. */
#define OOO_MAX 4096
#define OOO_BYTES (64u << 20)
#define FLOWS_MAX CAP_MAX_CONNS

typedef struct {
    int family;         /* AF_INET or AF_INET6 */
    uint8_t ip[16];
    uint16_t port;
} endpoint;

typedef struct {
    uint32_t seq, len;
    int64_t t_us;
    uint8_t *data;      /* owned */
} ooo_seg;

typedef struct {
    bool based;         /* nxt is known (its SYN, or its first segment) */
    uint32_t nxt;       /* the next sequence number expected */
    bool fin_pending;   /* its FIN arrived before bytes it follows */
    uint32_t fin_seq;
    bool fin, rst;      /* delivered */
    bool seen;          /* any segment of this direction */
    ooo_seg *ooo;
    size_t nooo;
    uint64_t ooo_bytes;
} direction;

typedef struct {
    endpoint cli, srv;
    size_t conn;        /* index in capture.c */
    direction d[2];     /* 0: client -> server, 1: server -> client */
    bool done;          /* an RST, or both FINs: a new SYN on its ports is a new connection */
} flow;

typedef struct {
    capture *cp;
    const char *name;
    char *err;
    size_t n;
    bool have_server;
    endpoint server;    /* --server (ip all zero: any host) */
    bool server_any_host;
    flow *flows;
    size_t nflows, cap;
    uint64_t packets, tcp, skipped_no_role;
    int64_t first_us;
} reader;

static void ep_str(const endpoint *e, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(e->family, e->ip, ip, sizeof ip);
    snprintf(out, n, e->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, e->port);
}

static bool ep_eq(const endpoint *a, const endpoint *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16) == 0;
}

static bool is_server(const reader *r, const endpoint *e)
{
    if (!r->have_server || e->port != r->server.port)
        return false;
    return r->server_any_host || ep_eq(e, &r->server);
}

/* Parse --server: "PORT", "HOST:PORT" or "[V6]:PORT". 0, or -1 (message in r->err). */
static int parse_server(reader *r, const char *s)
{
    char host[128] = "";
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long port;
    r->have_server = true;
    r->server_any_host = colon == NULL;
    port = strtoul(colon ? colon + 1 : s, &end, 10);
    if (*end != '\0' || end == (colon ? colon + 1 : s) || port == 0 || port > 65535) {
        snprintf(r->err, r->n, "--server %s: expected PORT or HOST:PORT (e.g. 7000 or "
                 "127.0.0.1:7000)", s);
        return -1;
    }
    r->server.port = (uint16_t)port;
    if (colon == NULL)
        return 0;
    if ((size_t)(colon - s) >= sizeof host) {
        snprintf(r->err, r->n, "--server %s: the host is too long", s);
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (inet_pton(AF_INET, host, r->server.ip) == 1)
        r->server.family = AF_INET;
    else if (inet_pton(AF_INET6, host, r->server.ip) == 1)
        r->server.family = AF_INET6;
    else {
        snprintf(r->err, r->n, "--server %s: %s is not an IPv4 or IPv6 address", s, host);
        return -1;
    }
    return 0;
}

static flow *find_flow(reader *r, const endpoint *src, const endpoint *dst, int *dir)
{
    /* the newest first: a reused port pair is a new connection, and the old one is done */
    for (size_t i = r->nflows; i-- > 0;) {
        flow *f = &r->flows[i];
        if (ep_eq(&f->cli, src) && ep_eq(&f->srv, dst)) {
            *dir = 0;
            return f;
        }
        if (ep_eq(&f->srv, src) && ep_eq(&f->cli, dst)) {
            *dir = 1;
            return f;
        }
    }
    return NULL;
}

static flow *new_flow(reader *r, const endpoint *cli, const endpoint *srv, int64_t t_us)
{
    char a[64], b[64], tuple[160];
    cap_conn *c;
    flow *f;
    if (r->nflows >= FLOWS_MAX)
        return NULL;
    if (r->nflows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        flow *m = realloc(r->flows, cap * sizeof *m);
        if (m == NULL)
            return NULL;
        r->flows = m;
        r->cap = cap;
    }
    ep_str(cli, a, sizeof a);
    ep_str(srv, b, sizeof b);
    snprintf(tuple, sizeof tuple, "%s -> %s", a, b);
    c = cap_new_conn(r->cp, tuple, t_us);
    if (c == NULL)
        return NULL;
    f = &r->flows[r->nflows++];
    memset(f, 0, sizeof *f);
    f->cli = *cli;
    f->srv = *srv;
    f->conn = r->cp->n - 1;
    return f;
}

/* The bytes [seq, seq + len) of direction `dir` in order: delivered to the model. */
static int deliver(reader *r, flow *f, int dir, const uint8_t *p, uint32_t len, int64_t t_us)
{
    cap_conn *c = &r->cp->c[f->conn];
    f->d[dir].nxt += len;
    return cap_data(c, dir == 1, p, len, t_us, r->err, r->n);
}

static int fin_event(reader *r, flow *f, int dir, int64_t t_us)
{
    cap_conn *c = &r->cp->c[f->conn];
    direction *d = &f->d[dir];
    d->fin = true;
    d->fin_pending = false;
    d->nxt += 1;
    if (f->d[0].fin && f->d[1].fin)
        f->done = true;
    return cap_event_add(c, dir == 0 ? CAP_SHUT_WR : CAP_SRV_FIN, t_us);
}

/* Deliver what the held segments now continue, and a FIN that waited for them. */
static int drain(reader *r, flow *f, int dir, int64_t t_us)
{
    direction *d = &f->d[dir];
    bool more = true;
    while (more) {
        more = false;
        for (size_t i = 0; i < d->nooo; i++) {
            ooo_seg *s = &d->ooo[i];
            int32_t ahead = (int32_t)(s->seq - d->nxt);
            uint32_t skip = ahead < 0 ? d->nxt - s->seq : 0; /* (no negation of INT32_MIN) */
            if (ahead > 0)
                continue;
            if (skip < s->len && deliver(r, f, dir, s->data + skip, s->len - skip, s->t_us) < 0)
                return -1;
            d->ooo_bytes -= s->len;
            free(s->data);
            d->ooo[i] = d->ooo[--d->nooo];
            more = true;
            break;
        }
    }
    if (d->fin_pending && d->fin_seq == d->nxt)
        return fin_event(r, f, dir, t_us);
    return 0;
}

static int hold(reader *r, flow *f, int dir, uint32_t seq, const uint8_t *p, uint32_t len,
                int64_t t_us)
{
    direction *d = &f->d[dir];
    ooo_seg *m;
    if (d->nooo >= OOO_MAX || d->ooo_bytes + len > OOO_BYTES) {
        snprintf(r->err, r->n, "%s: %s: more than %u segments (or %u MiB) wait for bytes the "
                 "capture does not hold (from sequence number %" PRIu32 "): a gap; capture "
                 "again without losing packets (tcpdump -B 16384, a narrower filter)", r->name,
                 r->cp->c[f->conn].tuple, OOO_MAX, OOO_BYTES >> 20, d->nxt);
        return -1;
    }
    if (d->nooo % 64 == 0) {
        m = realloc(d->ooo, (d->nooo + 64) * sizeof *m);
        if (m == NULL)
            goto oom;
        d->ooo = m;
    }
    m = &d->ooo[d->nooo];
    m->data = malloc(len);
    if (m->data == NULL)
        goto oom;
    memcpy(m->data, p, len);
    m->seq = seq;
    m->len = len;
    m->t_us = t_us;
    d->nooo++;
    d->ooo_bytes += len;
    return 0;
oom:
    snprintf(r->err, r->n, "out of memory");
    return -1;
}

/* One TCP segment of flow f in direction dir. */
static int segment(reader *r, flow *f, int dir, uint32_t seq, uint8_t flags, const uint8_t *p,
                   uint32_t len, int64_t t_us)
{
    direction *d = &f->d[dir];
    cap_conn *c = &r->cp->c[f->conn];
    bool syn = flags & 0x02, fin = flags & 0x01, rst = flags & 0x04;
    d->seen = true;
    if (d->rst || (d->fin && len == 0 && !rst))
        return 0;
    if (syn) {
        if (!d->based) {
            d->based = true;
            d->nxt = seq + 1;
        }
        if (len == 0)
            return 0;
        seq += 1; /* data on the SYN (TCP Fast Open, RFC 7413): it follows the SYN's number */
    }
    if (rst) {
        d->rst = true;
        f->done = true;
        if (dir == 1)
            return cap_event_add(c, CAP_SRV_RST, t_us);
        if (d->fin) {
            /* an RST after the client's FIN: its FIN was a close (a half-closed socket reads
             * on), whose socket answered the server's bytes with RST (RFC 9293 3.10.7.4) */
            for (size_t k = c->nev; k-- > 0;)
                if (c->ev[k].kind == CAP_SHUT_WR) {
                    c->ev[k].kind = CAP_CLOSE;
                    break;
                }
            return 0;
        }
        return cap_event_add(c, CAP_ABORT, t_us);
    }
    if (!d->based) {
        d->based = true; /* no handshake in the capture: its first segment starts it */
        d->nxt = seq;
    }
    if (len > 0 && !d->fin) { /* bytes after a FIN are no stream's (RFC 9293 3.10.7.4) */
        int32_t ahead = (int32_t)(seq - d->nxt);
        uint32_t behind = d->nxt - seq; /* bytes of it already received, when ahead <= 0 */
        if (ahead > 0) {
            if (hold(r, f, dir, seq, p, len, t_us) < 0)
                return -1;
        } else if (behind < len) {
            if (deliver(r, f, dir, p + behind, len - behind, t_us) < 0 ||
                drain(r, f, dir, t_us) < 0)
                return -1;
        }
    }
    if (fin && !d->fin) {
        d->fin_pending = true;
        d->fin_seq = seq + len;
    }
    if (d->fin_pending && d->fin_seq == d->nxt && fin_event(r, f, dir, t_us) < 0)
        goto oom;
    return 0;
oom:
    snprintf(r->err, r->n, "out of memory");
    return -1;
}

/* The IP and TCP headers of one packet from its link-layer payload. 1 a TCP segment was read,
 * 0 not TCP (skipped), -1 an error (message). */
static int ip_tcp(reader *r, const uint8_t *p, size_t n, uint64_t pktno, int64_t t_us)
{
    endpoint src = {0}, dst = {0};
    size_t ihl, total, off;
    uint8_t proto;
    const uint8_t *tcp;
    uint32_t seq, len;
    flow *f;
    int dir;
    if (n < 1)
        return 0;
    if ((p[0] >> 4) == 4) {
        if (n < 20 || (ihl = (size_t)(p[0] & 15) * 4) < 20 || ihl > n)
            return 0;
        total = (size_t)p[2] << 8 | p[3];
        if (total < ihl || total > n)
            total = n;
        proto = p[9];
        if (proto != 6)
            return 0;
        if ((p[6] & 0x20) || ((p[6] & 0x1f) | p[7])) {
            snprintf(r->err, r->n, "%s: packet %" PRIu64 " is an IP fragment: fragments are not "
                     "reassembled (capture on the loopback interface, or where the traffic is "
                     "not fragmented)", r->name, pktno);
            return -1;
        }
        src.family = dst.family = AF_INET;
        memcpy(src.ip, p + 12, 4);
        memcpy(dst.ip, p + 16, 4);
    } else if ((p[0] >> 4) == 6) {
        if (n < 40)
            return 0;
        total = 40 + ((size_t)p[4] << 8 | p[5]);
        if (total > n)
            total = n;
        proto = p[6];
        ihl = 40;
        /* hop-by-hop, routing and destination options come before TCP */
        while ((proto == 0 || proto == 43 || proto == 60) && ihl + 8 <= total) {
            proto = p[ihl];
            ihl += ((size_t)p[ihl + 1] + 1) * 8;
        }
        if (proto != 6 || ihl > total)
            return 0;
        src.family = dst.family = AF_INET6;
        memcpy(src.ip, p + 8, 16);
        memcpy(dst.ip, p + 24, 16);
    } else
        return 0;
    tcp = p + ihl;
    if (total - ihl < 20 || (off = (size_t)(tcp[12] >> 4) * 4) < 20 || off > total - ihl)
        return 0;
    src.port = (uint16_t)(tcp[0] << 8 | tcp[1]);
    dst.port = (uint16_t)(tcp[2] << 8 | tcp[3]);
    seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
    len = (uint32_t)(total - ihl - off);
    r->tcp++;
    f = find_flow(r, &src, &dst, &dir);
    if (f != NULL && f->done && (tcp[13] & 0x12) == 0x02) {
        f = NULL; /* a SYN on the ports of a finished connection: a new one */
    }
    if (f == NULL) {
        const endpoint *cli, *srv;
        if ((tcp[13] & 0x12) == 0x02 && !is_server(r, &src))
            cli = &src, srv = &dst; /* a SYN: its sender is the client */
        else if ((tcp[13] & 0x12) == 0x12 || is_server(r, &src))
            cli = &dst, srv = &src; /* a SYN+ACK, or --server: its sender is the server */
        else if (is_server(r, &dst))
            cli = &src, srv = &dst;
        else {
            r->skipped_no_role++;
            return 1;
        }
        if (tcp[13] & 0x04)
            return 1; /* an RST of a connection not seen: nothing to import */
        f = new_flow(r, cli, srv, t_us);
        if (f == NULL) {
            snprintf(r->err, r->n, "%s: more than %u connections, or out of memory", r->name,
                     FLOWS_MAX);
            return -1;
        }
        dir = ep_eq(&src, cli) ? 0 : 1;
        r->cp->c[f->conn].handshake = (tcp[13] & 0x02) != 0;
    }
    return segment(r, f, dir, seq, tcp[13], tcp + off, len, t_us) < 0 ? -1 : 1;
}

/* The link-layer header's length for this packet, and whether it carries IP. -1: not IP. */
static long link_skip(int dlt, const uint8_t *p, size_t n)
{
    size_t eth = 14;
    uint16_t type;
    switch (dlt) {
    case DLT_EN10MB:
        if (n < 14)
            return -1;
        type = (uint16_t)(p[12] << 8 | p[13]);
        while ((type == 0x8100 || type == 0x88a8) && n >= eth + 4) {
            type = (uint16_t)(p[eth + 2] << 8 | p[eth + 3]);
            eth += 4;
        }
        return type == 0x0800 || type == 0x86dd ? (long)eth : -1;
    case DLT_LINUX_SLL:
        return n >= 16 && ((p[14] << 8 | p[15]) == 0x0800 || (p[14] << 8 | p[15]) == 0x86dd) ? 16 : -1;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        return n >= 20 && ((p[0] << 8 | p[1]) == 0x0800 || (p[0] << 8 | p[1]) == 0x86dd) ? 20 : -1;
#endif
    case DLT_NULL:
    case DLT_LOOP:
        return n >= 4 ? 4 : -1;
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        return 0;
    default:
        return -1;
    }
}

static bool dlt_supported(int dlt)
{
    uint8_t none[1] = {0};
    return dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_NULL || dlt == DLT_LOOP ||
           link_skip(dlt, none, 0) == 0
#ifdef DLT_LINUX_SLL2
           || dlt == DLT_LINUX_SLL2
#endif
        ;
}

/* After the last packet: every hole still open, every FIN still waiting, is a gap; a
 * connection whose server never sent a segment was captured one way only. */
static int finish(reader *r)
{
    for (size_t i = 0; i < r->nflows; i++) {
        flow *f = &r->flows[i];
        for (int dir = 0; dir < 2; dir++) {
            direction *d = &f->d[dir];
            uint32_t lo = UINT32_MAX;
            for (size_t k = 0; k < d->nooo; k++)
                if ((int32_t)(d->ooo[k].seq - d->nxt) < (int32_t)(lo - d->nxt) || lo == UINT32_MAX)
                    lo = d->ooo[k].seq;
            if (d->nooo > 0 || d->fin_pending) {
                uint32_t hi = d->nooo > 0 ? lo : d->fin_seq;
                snprintf(r->err, r->n, "%s: connection %zu (%s): the %s's sequence numbers %"
                         PRIu32 " to %" PRIu32 " (%" PRIu32 " bytes) are not in the capture: a "
                         "gap, which import does not invent; capture again without losing "
                         "packets (tcpdump -B 16384, a narrower filter: tcpdump says how many "
                         "it dropped)", r->name, f->conn + 1,
                         r->cp->c[f->conn].tuple, dir == 0 ? "client" : "server", d->nxt,
                         hi - 1, hi - d->nxt);
                return -1;
            }
        }
        if (!f->d[1].seen) {
            snprintf(r->err, r->n, "%s: connection %zu (%s): the capture holds the client's "
                     "packets only (one direction): capture both, e.g. tcpdump -i lo -w FILE "
                     "'tcp port %u'", r->name, f->conn + 1, r->cp->c[f->conn].tuple,
                     f->srv.port);
            return -1;
        }
    }
    if (r->cp->n > 0 && r->skipped_no_role > 0)
        snprintf(r->cp->note, sizeof r->cp->note, "%" PRIu64 " segments of connections whose "
                 "handshake is not in the capture were left out: --server PORT names the "
                 "server's side and imports them too", r->skipped_no_role);
    if (r->cp->n == 0) {
        if (r->tcp == 0)
            snprintf(r->err, r->n, "%s: no TCP segment in the capture's %" PRIu64 " packets: "
                     "capture the connection, e.g. tcpdump -i lo -w FILE 'tcp port 7000'",
                     r->name, r->packets);
        else
            snprintf(r->err, r->n, "%s: %" PRIu64 " TCP segments, but no connection's "
                     "handshake is in the capture: say which side is the server with --server "
                     "PORT (or HOST:PORT)", r->name, r->tcp);
        return -1;
    }
    return 0;
}

static void free_flows(reader *r)
{
    for (size_t i = 0; i < r->nflows; i++)
        for (int dir = 0; dir < 2; dir++) {
            for (size_t k = 0; k < r->flows[i].d[dir].nooo; k++)
                free(r->flows[i].d[dir].ooo[k].data);
            free(r->flows[i].d[dir].ooo);
        }
    free(r->flows);
}

/* Every packet of p. 0, or -1 (message). */
static int packets(reader *r, pcap_t *p)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int dlt = pcap_datalink(p), rc;
    if (!dlt_supported(dlt)) {
        const char *name = pcap_datalink_val_to_name(dlt);
        snprintf(r->err, r->n, "%s: link type %s (%d) is not supported (Ethernet, Linux cooked "
                 "-i any, raw IP, BSD loopback are): capture on lo or an Ethernet interface",
                 r->name, name ? name : "unknown", dlt);
        return -1;
    }
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        /* microseconds, clamped to [0, 2^62] (a pcapng's 64-bit time may be anything) */
        int64_t t = h->ts.tv_sec < 0 ? 0
                    : h->ts.tv_sec >= (int64_t)(1ull << 62) / 1000000 ? (int64_t)(1ull << 62)
                    : (int64_t)h->ts.tv_sec * 1000000 + (h->ts.tv_usec % 1000000);
        long skip;
        r->packets++;
        if (r->packets == 1) {
            r->first_us = t;
            r->cp->t0_unix_us = t;
        }
        if (h->caplen < h->len) {
            snprintf(r->err, r->n, "%s: packet %" PRIu64 " was cut to %u of its %u bytes by "
                     "the capture's snap length (%d): bytes import cannot invent; capture "
                     "again with tcpdump -s 0", r->name, r->packets, h->caplen, h->len,
                     pcap_snapshot(p));
            return -1;
        }
        skip = link_skip(dlt, data, h->caplen);
        if (skip < 0)
            continue;
        if (ip_tcp(r, data + skip, h->caplen - (size_t)skip, r->packets,
                   t - r->first_us < 0 ? 0 : t - r->first_us) < 0)
            return -1;
    }
    if (rc == PCAP_ERROR) {
        const char *why = pcap_geterr(p);
        snprintf(r->err, r->n, "%s: after %" PRIu64 " packets: %s (%s)", r->name, r->packets, why,
                 strstr(why, "interface") ? "interfaces of different link types: capture one "
                                            "interface, e.g. tcpdump -i lo"
                 : strstr(why, "truncated") ? "the capture was cut short: was tcpdump killed, "
                                              "or the file copied while it was written?"
                                            : "a damaged capture");
        return -1;
    }
    return finish(r);
}

int cap_read_pcap_stream(FILE *f, const char *server, capture *cp, char *err, size_t n)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    reader r = {.cp = cp, .name = "capture", .err = err, .n = n};
    unsigned char magic[4] = {0};
    pcap_t *p;
    int rc;
    cap_init(cp);
    if (server && parse_server(&r, server) < 0) {
        fclose(f);
        return -1;
    }
    if (fread(magic, 1, 4, f) == 4 && !memcmp(magic, "\x0a\x0d\x0d\x0a", 4))
        snprintf(cp->source, sizeof cp->source, "pcapng");
    else
        snprintf(cp->source, sizeof cp->source, "pcap");
    rewind(f);
    p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (p == NULL) {
        fclose(f);
        snprintf(err, n, "not a capture libpcap reads (pcap or pcapng): %s", ebuf);
        return -1;
    }
    rc = packets(&r, p);
    pcap_close(p); /* closes f */
    free_flows(&r);
    if (rc < 0)
        cap_free(cp);
    return rc;
}

int cap_read_pcap(const char *path, const char *server, capture *cp, char *err, size_t n)
{
    char sub[1024];
    struct stat sb;
    int rc;
    FILE *f = cap_open(path, &sb, "a capture file (tcpdump -w FILE)", err, n);
    cap_init(cp);
    if (f == NULL)
        return -1;
    rc = cap_read_pcap_stream(f, server, cp, sub, sizeof sub);
    if (rc < 0) {
        /* name the file, not "capture" */
        if (!strncmp(sub, "capture: ", 9))
            snprintf(err, n, "%s: %s", path, sub + 9);
        else
            snprintf(err, n, "%s: %s", path, sub);
    }
    return rc;
}
