/*
 * bench.c — `framespec bench`: a load generator for framed echo servers, closed loop by default,
 * open loop with --rate.
 *
 * Closed loop: each connection keeps --depth frames in flight: as each echo completes, the next
 * frame is sent. Open loop (--rate R frames/s over all connections): each connection has a frame
 * due every --conns / R seconds on a fixed schedule (the connections' schedules spread over one
 * interval); a frame that falls due while --depth frames are in flight is not sent and is
 * counted as late. Every echoed byte is compared with what was sent (frame seq s carries payload
 * bytes derived from s, so a reordered, duplicated or corrupted echo is an error). Round-trip
 * time is measured per frame, in ns, from the moment it is queued for sending (open loop: the
 * time it was due) to the moment its last echoed byte arrives, and kept in a log-bucket
 * histogram (HdrHistogram style): values below 64 ns exactly, above that 32 sub-buckets per
 * power of two, a bucket reported by its middle (within 1.6%).
 *
 * One epoll loop, one thread: on a 2-core machine the server under test gets the other core.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"
#include "report.h"
#include "scratch.h"
#include "server.h"
#include "sock.h"
#include "wire.h"
#include "version.h"

/* The send queues of all connections together (--conns x --depth frames of --size) are held in
 * memory: at most this many bytes, checked before anything is allocated. */
#define MAX_QUEUE_BYTES (128ull << 20)
/* --rate below one frame per this many seconds per connection is refused (and the interval in
 * ns cannot overflow) */
#define MAX_INTERVAL_S 3600.0

/* Log-bucket histogram of nanoseconds: v < HIST_SUB has index v; above, with msb the index of
 * v's highest set bit, index = (msb - 5) * 32 + (v >> (msb - 5)) (32 sub-buckets per power of
 * two). */
#define HIST_SUB 64
#define HIST_BUCKETS (64 * 32 + 64)

typedef struct {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;
} hist;

static size_t hist_index(uint64_t v)
{
    int msb;
    if (v < HIST_SUB)
        return (size_t)v;
    msb = 63 - __builtin_clzll(v);
    return (size_t)(msb - 5) * 32 + (size_t)(v >> (msb - 5));
}

static uint64_t hist_value(size_t idx)
{
    size_t shift, sub;
    if (idx < HIST_SUB)
        return idx;
    shift = idx / 32 - 1;
    sub = idx % 32 + 32;
    return ((uint64_t)sub << shift) + (((uint64_t)1 << shift) >> 1); /* bucket middle */
}

static void hist_add(hist *h, uint64_t v)
{
    size_t i = hist_index(v);
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    h->count[i]++;
    h->total++;
}

static uint64_t hist_percentile(const hist *h, double p)
{
    uint64_t want, seen = 0;
    if (h->total == 0)
        return 0;
    want = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= want)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

typedef struct {
    uint32_t len;  /* payload bytes */
    uint32_t seed; /* payload pattern offset */
    int64_t t_ns;  /* queued at */
} inflight;

typedef struct {
    int fd;
    bool dead;
    uint32_t events;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    inflight *q; /* ring of `depth` entries */
    size_t qh, qn;
    size_t rx_off; /* bytes of the head frame (header + payload) already received */
    uint64_t seq;
    int64_t next_send; /* open loop: when the next frame is due (ns) */
} bconn;

typedef struct {
    bench_opts o;
    sock_addr addr;
    bconn *conns;
    uint8_t *ref; /* payload pattern source: ref[seed .. seed + len) */
    size_t hlen; /* the longest header of this run's frames (a varint's: for the --size max) */
    uint64_t rng;
    hist h;
    uint64_t frames, bytes, errors, late;
    bool counting;
    int64_t interval_ns; /* open loop: per connection */
    char first_error[256];
} bench;

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void bench_error(bench *b, bconn *c, const char *what)
{
    if (b->first_error[0] == '\0')
        snprintf(b->first_error, sizeof b->first_error, "%s", what);
    b->errors++;
    c->dead = true;
    close(c->fd);
    c->fd = -1;
}

static int queue_frame(bench *b, bconn *c, int64_t now)
{
    uint32_t len = b->o.size_min;
    uint32_t seed = (uint32_t)(c->seq++ % 256);
    inflight *f;
    size_t need;

    if (b->o.size_max > b->o.size_min)
        len += (uint32_t)(rng_next(&b->rng) % (b->o.size_max - b->o.size_min + 1));
    need = b->hlen + len + 1;
    if (c->out_len + need > c->out_cap) {
        /* doubling, but never past what --depth frames can take */
        size_t most = (size_t)b->o.depth * (b->hlen + b->o.size_max + 1);
        size_t ncap = (c->out_len + need) * 2 > most ? most : (c->out_len + need) * 2;
        uint8_t *p;
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + need > c->out_cap) {
            if (ncap < c->out_len + need)
                ncap = c->out_len + need;
            p = realloc(c->out, ncap);
            if (p == NULL)
                return -1;
            c->out = p;
            c->out_cap = ncap;
        }
    }
    c->out_len += wire_encode(b->o.framing, b->ref + seed, len, c->out + c->out_len);
    f = &c->q[(c->qh + c->qn) % b->o.depth];
    f->len = len;
    f->seed = seed;
    f->t_ns = now;
    c->qn++;
    return 0;
}

static int flush_out(bench *b, bconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        bench_error(b, c, n < 0 ? sock_errno_name(errno) : "send returned 0");
        return -1;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Do bytes p[0..n) equal bytes [off, off + n) of frame f as sent? */
static bool echo_matches(const bench *b, const inflight *f, const uint8_t *hdr, size_t hl,
                         size_t off, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t k;
        if (off < hl) {
            k = hl - off < n ? hl - off : n;
            if (memcmp(p, hdr + off, k) != 0)
                return false;
        } else if (off - hl < f->len) {
            size_t po = off - hl;
            k = f->len - po < n ? f->len - po : n;
            if (memcmp(p, b->ref + f->seed + po, k) != 0)
                return false;
        } else {
            k = 1;
            if (*p != '\n')
                return false;
        }
        off += k;
        p += k;
        n -= k;
    }
    return true;
}

/* Check received bytes against the in-flight frames; complete frames are counted. */
static int consume(bench *b, bconn *c, const uint8_t *p, size_t n, int64_t now)
{
    while (n > 0) {
        inflight *f = &c->q[c->qh];
        size_t total = wire_frame_size(b->o.framing, f->len);
        size_t take = total - c->rx_off;
        uint8_t expect[WIRE_MAX_HEADER];
        size_t hl;
        if (c->qn == 0) {
            bench_error(b, c, "server sent bytes nobody asked for");
            return -1;
        }
        if (take > n)
            take = n;
        /* Compare what arrived with the frame as sent: header, payload (memcmp), '\n'. */
        hl = wire_encode_header(b->o.framing, f->len, expect);
        if (!echo_matches(b, f, expect, hl, c->rx_off, p, take)) {
            char msg[200];
            size_t bad = 0;
            while (bad < take && echo_matches(b, f, expect, hl, c->rx_off + bad, p + bad, 1))
                bad++;
            snprintf(msg, sizeof msg, "echo mismatch at byte %zu of frame %llu: got 0x%02x",
                     c->rx_off + bad, (unsigned long long)(c->seq - c->qn), p[bad]);
            bench_error(b, c, msg);
            return -1;
        }
        c->rx_off += take;
        p += take;
        n -= take;
        if (c->rx_off == total) {
            if (b->counting) {
                b->frames++;
                b->bytes += total;
                hist_add(&b->h, (uint64_t)(now - f->t_ns));
            }
            c->rx_off = 0;
            c->qh = (c->qh + 1) % b->o.depth;
            c->qn--;
            if (b->interval_ns == 0 && queue_frame(b, c, now) < 0) {
                bench_error(b, c, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

static void update_events(bench *b, int epfd, bconn *c)
{
    uint32_t want = EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = want, .data.ptr = c};
    (void)b;
    if (want != c->events && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = want;
}

static void print_report(const bench *b, double secs, FILE *out)
{
    fprintf(out,
            "%s: %u conns x %u in flight, %u..%u B frames, %.1f s: %.0f frames/s, %.2f MB/s, "
            "rtt p50 %.1f us p90 %.1f us p99 %.1f us p99.9 %.1f us, errors %llu\n",
            b->o.label ? b->o.label : b->addr.text, b->o.conns, b->o.depth, b->o.size_min,
            b->o.size_max, secs, (double)b->frames / secs, (double)b->bytes / secs / 1e6,
            hist_percentile(&b->h, 50) / 1e3, hist_percentile(&b->h, 90) / 1e3,
            hist_percentile(&b->h, 99) / 1e3, hist_percentile(&b->h, 99.9) / 1e3,
            (unsigned long long)b->errors);
    if (b->late)
        fprintf(out, "open loop: %llu frames could not be sent on time (--depth in flight)\n",
                (unsigned long long)b->late);
    if (b->first_error[0])
        fprintf(out, "first error: %s\n", b->first_error);
}

/* The results as one JSON object (jansson: strings such as --label are escaped). */
static int write_json(const bench *b, double secs, const char *path)
{
    json_t *o = json_object(), *rtt = json_object();
    int rc;
    json_object_set_new(o, "framespec_version", json_string(FRAMESPEC_VERSION));
    json_object_set_new(o, "target", report_json_text(b->addr.text));
    json_object_set_new(o, "label", report_json_text(b->o.label));
    json_object_set_new(o, "framing", report_json_text(wire_framing_name(&b->o.framing)));
    json_object_set_new(o, "conns", json_integer(b->o.conns));
    json_object_set_new(o, "depth", json_integer(b->o.depth));
    json_object_set_new(o, "size_min", json_integer(b->o.size_min));
    json_object_set_new(o, "size_max", json_integer(b->o.size_max));
    json_object_set_new(o, "seconds", json_real(secs));
    json_object_set_new(o, "frames", json_integer((json_int_t)b->frames));
    json_object_set_new(o, "bytes", json_integer((json_int_t)b->bytes));
    json_object_set_new(o, "frames_per_s", json_real((double)b->frames / secs));
    json_object_set_new(o, "mb_per_s", json_real((double)b->bytes / secs / 1e6));
    json_object_set_new(rtt, "p50", json_real(hist_percentile(&b->h, 50) / 1e3));
    json_object_set_new(rtt, "p90", json_real(hist_percentile(&b->h, 90) / 1e3));
    json_object_set_new(rtt, "p99", json_real(hist_percentile(&b->h, 99) / 1e3));
    json_object_set_new(rtt, "p999", json_real(hist_percentile(&b->h, 99.9) / 1e3));
    json_object_set_new(o, "rtt_us", rtt);
    json_object_set_new(o, "errors", json_integer((json_int_t)b->errors));
    json_object_set_new(o, "first_error", b->first_error[0] ? report_json_text(b->first_error) : json_null());
    json_object_set_new(o, "late", json_integer((json_int_t)b->late));
    json_object_set_new(o, "rate", json_real(b->o.rate));
    rc = json_dump_file(o, path, JSON_INDENT(2));
    json_decref(o);
    if (rc < 0) {
        fprintf(stderr, "framespec bench: cannot write --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Connects --conns connections to b->addr, each with a deadline of 5 s x --timeout-scale, and
 * registers them with epfd. Returns 0, 1 when out of memory, 2 when a connect fails (said on
 * stderr). */
static int bench_open(bench *b, int epfd, int64_t start)
{
    const bench_opts *o = &b->o;
    for (unsigned i = 0; i < o->conns; i++) {
        bconn *c = &b->conns[i];
        struct epoll_event ev;
        c->fd = sock_connect(&b->addr, sock_now_ms() + (int64_t)(5000 * o->scale));
        if (c->fd < 0) {
            fprintf(stderr, "framespec bench: connect to %s (connection %u): %s\n", b->addr.text,
                    i + 1, strerror(-c->fd));
            return 2;
        }
        c->q = calloc(o->depth, sizeof *c->q);
        if (c->q == NULL)
            return 1;
        if (b->interval_ns == 0) {
            for (unsigned d = 0; d < o->depth; d++)
                queue_frame(b, c, start);
        }
        /* open loop: spread the connections' schedules over one interval */
        c->next_send = start + (int64_t)i * b->interval_ns / (int64_t)o->conns;
        c->events = EPOLLIN | EPOLLOUT;
        ev.events = c->events;
        ev.data.ptr = c;
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    }
    return 0;
}

/* Open loop: sends what is due at now; latency counts from the due time (no coordinated
 * omission); a connection at --depth frames in flight is late and skips ahead. */
static void send_due(bench *b, int epfd, int64_t now)
{
    for (unsigned i = 0; i < b->o.conns; i++) {
        bconn *c = &b->conns[i];
        if (c->dead)
            continue;
        while (c->next_send <= now) {
            if (c->qn < b->o.depth) {
                if (queue_frame(b, c, c->next_send) < 0) {
                    bench_error(b, c, "out of memory");
                    break;
                }
            } else if (b->counting) {
                b->late++;
            }
            c->next_send += b->interval_ns;
        }
        if (!c->dead && flush_out(b, c) == 0)
            update_events(b, epfd, c);
    }
}

/* Waits for events: open loop until the next frame is due, with ns precision (epoll_pwait2,
 * Linux 5.11; epoll_wait's ms where it is missing), closed loop at most 100 ms. Returns
 * epoll's count (-1 with errno). */
static int bench_wait(bench *b, int epfd, struct epoll_event *evs, int max, int64_t now)
{
    int64_t due = now + 100000000;
    struct timespec ts;
    int n;
    if (b->interval_ns == 0)
        return epoll_wait(epfd, evs, max, 100);
    for (unsigned i = 0; i < b->o.conns; i++)
        if (!b->conns[i].dead && b->conns[i].next_send < due)
            due = b->conns[i].next_send;
    due -= sock_now_ns();
    if (due < 0)
        due = 0;
    ts.tv_sec = due / 1000000000;
    ts.tv_nsec = due % 1000000000;
    n = epoll_pwait2(epfd, evs, max, &ts, NULL);
    if (n < 0 && errno == ENOSYS)
        n = epoll_wait(epfd, evs, max, due > 1000000 ? (int)(due / 1000000) : 1);
    return n;
}

/* Reads and writes for n ready events; a FIN or an error ends that connection (bench_error).
 * Returns how many connections are still alive. */
static unsigned bench_events(bench *b, int epfd, const struct epoll_event *evs, int n,
                             int64_t now)
{
    unsigned alive = 0;
    for (int i = 0; i < n; i++) {
        bconn *c = evs[i].data.ptr;
        if (c->dead)
            continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            uint8_t buf[65536];
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r > 0) {
                if (consume(b, c, buf, (size_t)r, now) < 0)
                    continue;
            } else if (r == 0) {
                bench_error(b, c, "server closed the connection (FIN)");
                continue;
            } else if (errno != EAGAIN && errno != EINTR) {
                bench_error(b, c, sock_errno_name(errno));
                continue;
            }
        }
        if (flush_out(b, c) == 0)
            update_events(b, epfd, c);
    }
    for (unsigned i = 0; i < b->o.conns; i++)
        alive += !b->conns[i].dead;
    return alive;
}

/* Prints the report of secs measured seconds (and --json). Returns the exit code: 0, 1 when
 * nothing was echoed or a connection failed, 2 when --json cannot be written. */
static int bench_report(bench *b, double secs)
{
    int rc = b->errors ? 1 : 0;
    if (secs <= 0)
        secs = 1e-9;
    print_report(b, secs, stdout);
    if (b->frames == 0) {
        fprintf(stderr, "framespec bench: no frame was echoed in %.1f s: the server at %s "
                        "does not echo (or --duration is too short for it)\n", secs,
                b->addr.text);
        rc = 1;
    } else if (b->errors) {
        fprintf(stderr, "framespec bench: %llu error(s); first: %s\n",
                (unsigned long long)b->errors, b->first_error);
    }
    if (b->o.json && write_json(b, secs, b->o.json) < 0)
        rc = 2;
    return rc;
}

int bench_run(const bench_opts *o)
{
    bench *b = calloc(1, sizeof *b);
    server_proc srv = {0};
    char err[256];
    int epfd = -1, rc = 1;
    int64_t start, warm_end, end, next_progress;
    size_t ref_len;
    bool tty = isatty(2);

    if (b == NULL)
        return 1;
    b->o = *o;
    b->rng = o->seed;
    b->hlen = wire_header_size(o->framing, o->size_max); /* the longest header sent */
    if (o->target && sock_parse_addr(o->target, &b->addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec bench: %s\n", err);
        free(b);
        return 2;
    }
    if (o->exec) {
        if (server_start(&srv, o->exec, o->target ? &b->addr : NULL, o->scale) < 0) {
            free(b);
            return 2;
        }
        b->addr = srv.addr;
    }
    if (o->rate > 0)
        b->interval_ns = (int64_t)(1e9 * o->conns / o->rate);
    ref_len = (size_t)o->size_max + 256;
    b->ref = malloc(ref_len);
    b->conns = calloc(o->conns, sizeof *b->conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->ref == NULL || b->conns == NULL || epfd < 0) {
        fprintf(stderr, "framespec bench: out of memory or descriptors\n");
        goto out;
    }
    for (size_t i = 0; i < ref_len; i++)
        b->ref[i] = wire_is_line(o->framing) ? (uint8_t)('a' + i % 26) : (uint8_t)i;
    if ((rc = bench_open(b, epfd, sock_now_ns())) != 0)
        goto out;

    start = sock_now_ns();
    warm_end = start + (int64_t)(o->warmup * 1e9);
    end = warm_end + (int64_t)(o->duration * 1e9);
    next_progress = warm_end + 1000000000;
    b->counting = o->warmup <= 0;
    for (;;) {
        struct epoll_event evs[256];
        int64_t now = sock_now_ns();
        int n;
        if (now >= end)
            break;
        if (!b->counting && now >= warm_end)
            b->counting = true;
        if (tty && now >= next_progress) {
            double el = (double)(now - warm_end) / 1e9;
            fprintf(stderr, "\r%.0f s: %.0f frames/s, errors %llu   ", el,
                    (double)b->frames / el, (unsigned long long)b->errors);
            next_progress += 1000000000;
        }
        if (b->interval_ns > 0)
            send_due(b, epfd, now);
        n = bench_wait(b, epfd, evs, 256, now);
        if (bench_events(b, epfd, evs, n, sock_now_ns()) == 0)
            break;
    }
    if (tty)
        fputs("\r\033[K", stderr);
    rc = bench_report(b, (double)(sock_now_ns() - warm_end) / 1e9);
out:
    if (b->conns) {
        for (unsigned i = 0; i < o->conns; i++) {
            if (b->conns[i].fd > 0 && !b->conns[i].dead)
                close(b->conns[i].fd);
            free(b->conns[i].out);
            free(b->conns[i].q);
        }
    }
    if (epfd >= 0)
        close(epfd);
    free(b->conns);
    free(b->ref);
    free(b);
    server_stop(&srv, NULL);
    return rc;
}

static void bench_usage(FILE *out)
{
    fputs("usage: framespec bench (--target HOST:PORT|unix:PATH | --exec 'CMD {port}') [--framing F]\n"
          "                       [--conns N] [--depth N] [--size BYTES|MIN:MAX] [--duration S]\n"
          "                       [--warmup S] [--rate FRAMES_PER_S] [--seed N] [--label TEXT]\n"
          "                       [--json FILE] [--timeout SECONDS] [--keep-logs]\n"
          "\n"
          "Closed-loop load (default): each connection keeps --depth frames in flight. Open loop\n"
          "(--rate): frames are sent on a schedule and round trips count from the scheduled time.\n"
          "Every echoed byte is checked. Prints frames/s, MB/s and round-trip percentiles\n"
          "(p50/p90/p99/p99.9, log-bucket histogram) and errors; a progress line each second on a\n"
          "terminal.\n"
          "\n"
          "  --framing F      the server's framing (default 4; docs/spec.md, Framings: u32le,\n"
          "                   varint, 4,adjust=-4, ...); a varint header grows with --size\n"
          "  --max-frame B    the server's maximum (default 16M): --size must fit under it\n"
          "  --conns N        connections (default 1)\n"
          "  --depth N        frames in flight per connection (default 1: ping-pong); with --rate\n"
          "                   the most that may be in flight\n"
          "  --size B|MIN:MAX payload bytes per frame (default 64)\n"
          "  --duration S     measured seconds (default 5), after --warmup S (default 0.5)\n"
          "  --rate R         open loop: R frames per second over all connections (at least one\n"
          "                   per hour per connection)\n"
          "  --label TEXT     name of this run in the report and JSON\n"
          "  --json FILE      write the results as JSON\n"
          "  --timeout S      end the whole command by then (exit 1)\n"
          "  --timeout-scale X  multiply the server's start and connect deadlines (default 1)\n"
          "  --keep-logs      keep the --exec server's log in $TMPDIR/framespec-XXXXXX\n"
          "The send queues (--conns x --depth frames of --size) must fit in 128 MiB.\n"
          "Exit 0: every echo right; 1: an echo was wrong, a connection closed, no frame was\n"
          "echoed, or --timeout was reached; 2: usage, connect, or a --json file that cannot be\n"
          "written.\n",
          out);
}

/* bench's own options (the shared ones are opts.h's). Returns 1 taken, 2 a bad value, 0 not
 * one of them; *rate_text gets --rate as given. */
static int take_bench_option(bench_opts *o, int ch, const char *arg, const char **rate_text)
{
    uint64_t v, lo_, hi_;
    switch (ch) {
    case 'c':
    case 'd':
        if (opts_u64(arg, 1, 100000, &v) < 0)
            return opts_bad("bench", ch == 'c' ? "--conns" : "--depth", arg, "expected 1..100000");
        *(ch == 'c' ? &o->conns : &o->depth) = (unsigned)v;
        return 1;
    case 's':
        if (opts_range(arg, &lo_, &hi_) < 0 || hi_ > 64u * 1024 * 1024)
            return opts_bad("bench", "--size", arg, "expected BYTES or MIN:MAX (<= 64M)");
        o->size_min = (uint32_t)lo_;
        o->size_max = (uint32_t)hi_;
        return 1;
    case 'D':
        if (opts_seconds(arg, &o->duration) < 0 || o->duration <= 0)
            return opts_bad("bench", "--duration", arg, "expected seconds > 0");
        return 1;
    case 'w':
        if (opts_seconds(arg, &o->warmup) < 0)
            return opts_bad("bench", "--warmup", arg, "expected seconds >= 0");
        return 1;
    case 'r':
        if (opts_seconds(arg, &o->rate) < 0 || o->rate <= 0)
            return opts_bad("bench", "--rate", arg, "expected frames per second > 0");
        *rate_text = arg;
        return 1;
    case 'j': o->json = arg; return 1;
    case 'L': o->label = arg; return 1;
    case 'K': scratch_keep(true); return 1;
    default: return 0;
    }
}

/* What the options say together (a server; --size within the framing's header and the
 * server's --max-frame; --rate and the send queues within bounds). 0, or 2 after printing why. */
static int check_bench_options(bench_opts *o, opts_server *so, const char *rate_text)
{
    char why[256];
    uint64_t queue;
    if (so->target == NULL && so->exec == NULL) {
        fprintf(stderr, "framespec bench: give --target HOST:PORT|unix:PATH or --exec 'CMD {port}'\n");
        bench_usage(stderr);
        return 2;
    }
    if (opts_server_finish("bench", so) != 0)
        return 2;
    o->target = so->target;
    o->exec = so->exec;
    o->framing = so->framing;
    o->scale = so->scale;
    if (so->seed_given)
        o->seed = so->seed;
    if (o->size_max > so->max_payload) {
        fprintf(stderr, "framespec bench: --size %u is over the largest payload the server "
                        "accepts (%llu: framing %s, --max-frame %llu)\n", o->size_max,
                (unsigned long long)so->max_payload, wire_framing_name(&o->framing),
                (unsigned long long)so->max_frame);
        return 2;
    }
    if (o->rate > 0 && 1e9 * o->conns / o->rate > MAX_INTERVAL_S * 1e9) {
        snprintf(why, sizeof why, "at least %g frames per second for %u connection(s) (one per "
                                  "hour each)", o->conns / MAX_INTERVAL_S, o->conns);
        return opts_bad("bench", "--rate", rate_text, why);
    }
    queue = (uint64_t)o->conns * o->depth * (wire_header_size(o->framing, o->size_max) + o->size_max + 1);
    if (queue > MAX_QUEUE_BYTES) {
        fprintf(stderr, "framespec bench: --conns %u x --depth %u frames of up to %u bytes would "
                        "hold %llu MiB of send queues in memory; the limit is %llu MiB: lower "
                        "--depth, --conns or --size\n", o->conns, o->depth, o->size_max,
                (unsigned long long)(queue >> 20), MAX_QUEUE_BYTES >> 20);
        return 2;
    }
    return 0;
}

int bench_main(int argc, char **argv)
{
    static const struct option lo[] = {
        OPTS_SERVER_LONG,
        {"conns", required_argument, NULL, 'c'},  {"depth", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},   {"duration", required_argument, NULL, 'D'},
        {"warmup", required_argument, NULL, 'w'}, {"json", required_argument, NULL, 'j'},
        {"label", required_argument, NULL, 'L'},  {"rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {"keep-logs", no_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    bench_opts o = {.conns = 1, .depth = 1, .size_min = 64, .size_max = 64, .duration = 5.0,
                    .warmup = 0.5, .seed = 1};
    opts_server so;
    int ch, rc;
    const char *rate_text = NULL; /* --rate as given, for its error message */

    opts_server_init(&so);
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'h') {
            bench_usage(stdout);
            return 0;
        }
        if (ch == OPT_IDLE)
            return opts_bad("bench", "--idle-timeout", optarg, "bench judges no close (its "
                            "connections are never idle)");
        rc = opts_server_take("bench", ch, optarg, &so);
        if (rc == 0)
            rc = take_bench_option(&o, ch, optarg, &rate_text);
        if (rc == 2)
            return 2;
        if (rc == 0) {
            fprintf(stderr, "framespec bench: unknown option or missing value '%s'\n",
                    argv[optind - 1]);
            bench_usage(stderr);
            return 2;
        }
    }
    if (check_bench_options(&o, &so, rate_text) != 0)
        return 2;
    if (o.json && report_preflight("bench", "--json", o.json) < 0)
        return 2;
    scratch_deadline("bench", so.timeout_s, 1);
    return bench_run(&o);
}
