/*
 * baseline_echod — a plain thread-per-connection, blocking framed echo server.
 *
 * It is the yardstick for echod's benchmarks and the bug-free base of the harness's mutant
 * servers: simple enough to be obviously right, with none of echod's event-loop machinery.
 * Each connection gets a thread that reads a frame (through a small buffered reader), writes it
 * back with one writev, and repeats. A blocking write simply stops the thread from reading, which
 * is all the backpressure a peer that never reads gets (the kernel buffers bound it).
 *
 * Same command line as echod for --listen, --framing, --max-frame and --idle-timeout (the idle
 * timeout is SO_RCVTIMEO). SIGTERM/SIGINT exit 0 at once: nothing is ever pending in user space.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"
#include "net.h"

#define RBUF_SIZE 65536

static framing_t g_framing = FRAMING_U32;
static uint64_t g_max = FRAME_DEFAULT_MAX;
static double g_idle = 0.0;

/* A blocking buffered reader over one socket. */
typedef struct {
    int fd;
    uint8_t buf[RBUF_SIZE];
    size_t off, len;
} reader;

/* Refill when empty. Returns bytes available, 0 on EOF, -1 on error or idle timeout. */
static ssize_t fill(reader *r)
{
    ssize_t n;
    if (r->off < r->len)
        return (ssize_t)(r->len - r->off);
    do
        n = recv(r->fd, r->buf, sizeof r->buf, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    r->off = 0;
    r->len = (size_t)n;
    return n;
}

/* Read exactly len bytes. Returns 1, 0 on EOF before the first byte, -1 on EOF later or error. */
static int read_exact(reader *r, uint8_t *dst, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = fill(r);
        size_t take;
        if (n <= 0)
            return (n == 0 && got == 0) ? 0 : -1;
        take = r->len - r->off;
        if (take > len - got)
            take = len - got;
        memcpy(dst + got, r->buf + r->off, take);
        r->off += take;
        got += take;
    }
    return 1;
}

static int write_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* Our FIN, then wait (at most 2 s) for the peer's before close(): closing with unread input would
 * make Linux answer with RST and the peer could lose echoes it has not read (tcp(7)). */
static void lingering_close(int fd)
{
    char sink[4096];
    struct timeval tv = {2, 0};
    shutdown(fd, SHUT_WR);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(fd, sink, sizeof sink, 0) > 0)
        ;
    close(fd);
}

/* Read one line into *out (grown as needed). Returns length incl. '\n', 0 on EOF, -1 on error. */
static ssize_t read_line(reader *r, uint8_t **out, size_t *cap, uint32_t max)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = fill(r);
        uint8_t *nl;
        size_t take;
        if (n <= 0)
            return (n == 0 && got == 0) ? 0 : -1;
        nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        take = nl ? (size_t)(nl - (r->buf + r->off)) + 1 : r->len - r->off;
        if (got + take > (size_t)max + 1)
            return -1; /* longer than the maximum line */
        if (got + take > *cap) {
            size_t ncap = (got + take) * 2;
            uint8_t *p = realloc(*out, ncap);
            if (p == NULL)
                return -1;
            *out = p;
            *cap = ncap;
        }
        memcpy(*out + got, r->buf + r->off, take);
        r->off += take;
        got += take;
        if (nl)
            return (ssize_t)got;
    }
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    reader *r = malloc(sizeof *r);
    uint8_t *payload = NULL;
    size_t cap = 0, hlen = frame_header_size(g_framing);
    uint32_t max = frame_max_expressible(g_framing);
    int one = 1;

    if (g_max < max)
        max = (uint32_t)g_max;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (g_idle > 0) {
        struct timeval tv = {(time_t)g_idle, (suseconds_t)((g_idle - (time_t)g_idle) * 1e6)};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    if (r == NULL)
        goto out;
    r->fd = fd;
    r->off = r->len = 0;
    for (;;) {
        uint8_t hdr[4];
        uint64_t len = 0;
        struct iovec iov[2];
        int rc;

        if (g_framing == FRAMING_RAW) {
            ssize_t n = fill(r);
            if (n <= 0)
                break;
            iov[0].iov_base = r->buf + r->off;
            iov[0].iov_len = (size_t)n;
            r->off = r->len;
            if (write_all(fd, iov, 1) < 0)
                break;
            continue;
        }
        if (g_framing == FRAMING_LINE) {
            ssize_t n = read_line(r, &payload, &cap, max);
            if (n <= 0)
                break;
            iov[0].iov_base = payload;
            iov[0].iov_len = (size_t)n;
            if (write_all(fd, iov, 1) < 0)
                break;
            continue;
        }
        rc = read_exact(r, hdr, hlen);
        if (rc <= 0)
            break; /* EOF at a frame boundary, mid-header, or an error */
        for (size_t i = 0; i < hlen; i++)
            len = (len << 8) | hdr[i];
        if (len > max)
            break; /* oversized: close without reading the payload */
        if (len > cap) {
            uint8_t *p = realloc(payload, (size_t)len);
            if (p == NULL)
                break;
            payload = p;
            cap = (size_t)len;
        }
        if (len > 0 && read_exact(r, payload, (size_t)len) <= 0)
            break; /* EOF mid-payload: drop the partial frame */
        iov[0].iov_base = hdr;
        iov[0].iov_len = hlen;
        iov[1].iov_base = payload;
        iov[1].iov_len = (size_t)len;
        if (write_all(fd, iov, 2) < 0)
            break;
    }
out:
    lingering_close(fd);
    free(payload);
    free(r);
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static void usage(FILE *out)
{
    fputs("usage: baseline_echod [--listen HOST:PORT|unix:PATH] [--framing F] [--max-frame BYTES]\n"
          "                      [--idle-timeout SECONDS]\n"
          "A plain thread-per-connection blocking framed echo server (benchmark baseline).\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"framing", required_argument, NULL, 'f'},
        {"max-frame", required_argument, NULL, 'm'}, {"idle-timeout", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *spec = "127.0.0.1:0";
    char err[NET_ERR_LEN], name[256];
    pthread_attr_t attr;
    int ch, lfd;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            spec = optarg;
            break;
        case 'f':
            if (frame_parse_framing(optarg, &g_framing) < 0) {
                fprintf(stderr, "baseline_echod: invalid --framing '%s'\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (cli_parse_size(optarg, 0xFFFFFFFFu, &g_max) < 0 || g_max == 0) {
                fprintf(stderr, "baseline_echod: invalid --max-frame '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i':
            if (cli_parse_seconds(optarg, &g_idle) < 0) {
                fprintf(stderr, "baseline_echod: invalid --idle-timeout '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "baseline_echod: unknown option or missing value: '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    net_raise_nofile(err);
    lfd = net_listen(spec, 4096, err);
    if (lfd < 0 || net_local_name(lfd, name, sizeof name, err) < 0) {
        fprintf(stderr, "baseline_echod: cannot listen on %s: %s\n", spec, err);
        return 1;
    }
    printf("listening on %s\n", name);
    fflush(stdout);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        pthread_t t;
        int fd;
        poll(&pfd, 1, -1); /* the listener is non-blocking (net_listen) */
        fd = net_accept(lfd, err);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000); /* out of descriptors: do not spin on a readable listener */
            continue;
        }
        /* The connection thread does blocking I/O. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
            pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
}
