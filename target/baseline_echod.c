/*
 * baseline_echod — a plain thread-per-connection, blocking framed echo server.
 *
 * It is the yardstick for echod's benchmarks and the bug-free base of the harness's mutant
 * servers: simple enough to be obviously right, with none of echod's event-loop machinery.
 * Each connection gets a thread that reads a frame (through a small buffered reader), writes it
 * back with one writev, and repeats. A blocking write simply stops the thread from reading, which
 * is all the backpressure a peer that never reads receives (the kernel buffers bound it).
 *
 * Same command line as echod for --listen, --framing, --max-frame, --idle-timeout (the idle
 * timeout is the poll(2) timeout of a thread waiting for input), --keepalive and --user-timeout
 * (socket options of each accepted connection: a dead peer makes poll/recv fail with ETIMEDOUT). SIGTERM/SIGINT (read from a
 * signalfd by the accepting thread): stop accepting, let every connection finish the frame it is
 * echoing (a stop pipe wakes the threads waiting for input), then close it the lingering way (FIN,
 * then discard input until the peer's FIN, at most 2 s), and exit 0 within 5 s. Exiting at once
 * would close connections with unread input, which the kernel answers with RST, discarding the
 * echoes still in the send buffer (RFC 1122 4.2.2.13). shutdown(SHUT_RD) cannot wake them: after
 * it Linux reads EOF before the peer's FIN, and the lingering close would end too early.
 *
 * MUTANTS. Built with -DMUTANT_<NAME> (target/CMakeLists.txt builds each mutant listed in
 * target/mutants.txt as build/bin/mutant_<name>) this file becomes a deliberately broken server
 * with one realistic bug, so that the suite can be shown to catch it (pytest/test_30_mutants.py).
 * Each #ifdef below names its bug and the group of cases meant to catch it; a MUTANT_<NAME> added
 * here needs its line in target/mutants.txt (the build refuses a mismatch). The mutants of a
 * framing parameter (off_by_header, varint_eleven, adjust_sign) show under that parameter only:
 * mutants.txt names the framing they are judged under (GROUP@FRAMING); the others are judged
 * under framing 4.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"
#include "net.h"

#define RBUF_SIZE 65536

static framing_t g_framing = {.kind = FRAMING_LEN, .size = 4};
static uint64_t g_max = FRAME_DEFAULT_MAX;
static double g_idle = 0.0;
static int g_keepalive[3];      /* --keepalive IDLE,INTVL,CNT */
static bool g_keepalive_on;
static unsigned g_user_timeout; /* --user-timeout MS; 0: not set */

/* The connection threads still running, for a graceful stop. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t done; /* signalled when a connection thread ends */
    size_t threads;
} g_conns = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

/* A connection thread is about to start. */
static void conns_add(void)
{
    pthread_mutex_lock(&g_conns.mu);
    g_conns.threads++;
    pthread_mutex_unlock(&g_conns.mu);
}

/* A connection thread ends. */
static void conns_thread_done(void)
{
    pthread_mutex_lock(&g_conns.mu);
    g_conns.threads--;
    pthread_cond_signal(&g_conns.done);
    pthread_mutex_unlock(&g_conns.mu);
}

/* Readable (and never drained) once SIGTERM/SIGINT arrived: wakes every connection thread that
 * waits for input. */
static int g_stop_pipe[2] = {-1, -1};

/* Set once SIGTERM/SIGINT arrived; connection threads check it between frames. */
static atomic_bool g_stop;

static bool stopping(void)
{
    return atomic_load_explicit(&g_stop, memory_order_relaxed);
}

/* A blocking buffered reader over one socket. */
typedef struct {
    int fd;
    int idle_ms; /* poll timeout while waiting for input: the idle timeout; -1 = none */
    uint8_t buf[RBUF_SIZE];
    size_t off, len;
} reader;

/* Refill when empty: wait for input (or the stop pipe, or the idle timeout), then recv. Returns
 * bytes available, 0 on EOF or when stopping with nothing to read, -1 on error or idle timeout. */
static ssize_t fill(reader *r)
{
    ssize_t n;
    if (r->off < r->len)
        return (ssize_t)(r->len - r->off);
    for (;;) {
        struct pollfd pf[2] = {{.fd = r->fd, .events = POLLIN},
                               {.fd = g_stop_pipe[0], .events = POLLIN}};
        int rc = poll(pf, 2, r->idle_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            errno = EAGAIN; /* idle timeout */
            return -1;
        }
        if (rc > 0 && !(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return 0; /* stopping (SIGTERM), and nothing to read */
        break;
    }
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

/*
 * Read a frame's header (preamble and length field) into hdr[0..FRAME_MAX_HEADER), setting *hl
 * to its size and *field to the length field's value. Returns 1; 0 on EOF before the first byte;
 * -1 on EOF later or an error; -2 for a varint over 10 bytes or past 2^64 (frame.h).
 */
static int read_header(reader *r, uint8_t *hdr, size_t *hl, uint64_t *field)
{
    const framing_t *f = &g_framing;
    size_t n = f->offset;
    uint64_t v = 0;
    int rc;

    if (f->kind == FRAMING_LEN) {
        n += f->size;
        if ((rc = read_exact(r, hdr, n)) <= 0)
            return rc;
        for (size_t i = 0; i < f->size; i++) {
#ifdef MUTANT_LITTLE_ENDIAN
            bool le = !f->le; /* MUTANT little_endian (framing): reads the header LE */
#else
            bool le = f->le;
#endif
            v = (v << 8) | hdr[le ? n - 1 - i : f->offset + i];
        }
        *hl = n;
        *field = v;
        return 1;
    }
    if (n > 0 && (rc = read_exact(r, hdr, n)) <= 0)
        return rc;
    for (size_t i = 0;; i++) {
        uint8_t b;
#ifdef MUTANT_VARINT_ELEVEN
        /* MUTANT varint_eleven (limits): reads up to 11 varint bytes, and no range check on the
         * tenth: bits past 2^64 are dropped, so an overlong varint reads as a small length */
        if (i == 11)
            return -2;
#else
        if (i == FRAME_VARINT_MAX)
            return -2;
#endif
        if ((rc = read_exact(r, hdr + n, 1)) <= 0)
            return n == 0 ? rc : -1;
        b = hdr[n++];
#ifndef MUTANT_VARINT_ELEVEN
        if (i == FRAME_VARINT_MAX - 1 && b > 1)
            return -2;
#endif
        if (7 * i < 64)
            v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0)
            break;
    }
    *hl = n;
    *field = v;
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

#if !defined(MUTANT_RST_CLOSE) && !defined(MUTANT_FD_LEAK)
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
#endif

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

#if defined(MUTANT_UNBOUNDED) || defined(MUTANT_EOF_DROPS_QUEUE)
/*
 * The echo queue of MUTANTs unbounded and eof_drops_queue: a writer thread writes queued echoes, so
 * the reader does not wait for a peer that does not read.
 *  - unbounded: every echo is queued, without bound.
 *  - eof_drops_queue: the way event loops write (Node, Netty, asyncio): try the write at once and
 *    queue only what the socket does not take; the reader waits while more than QUEUE_HWM bytes
 *    are queued (bounded, so backpressure cases pass).
 */
#define QUEUE_HWM (4u << 20)

typedef struct echo_item {
    struct echo_item *next;
    size_t len;
    uint8_t data[];
} echo_item;

typedef struct {
    int fd;
    bool done;
    echo_item *head, *tail;
    size_t bytes;        /* queued, including the item being written */
    echo_item *writing;  /* popped by the writer, being written (it frees it) */
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* writer: items or done */
    pthread_cond_t space; /* reader: bytes fell to QUEUE_HWM */
    pthread_t writer;
} echo_queue;

static void *writer_main(void *arg)
{
    echo_queue *q = arg;
    for (;;) {
        echo_item *it;
        struct iovec iov;
        pthread_mutex_lock(&q->mu);
        while (q->head == NULL && !q->done)
            pthread_cond_wait(&q->cv, &q->mu);
        it = q->head;
        if (it == NULL) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->head = it->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->writing = it;
        pthread_mutex_unlock(&q->mu);
        iov.iov_base = it->data;
        iov.iov_len = it->len;
        write_all(q->fd, &iov, 1);
        pthread_mutex_lock(&q->mu);
        q->bytes = q->bytes >= it->len ? q->bytes - it->len : 0;
        q->writing = NULL;
        free(it);
        pthread_cond_signal(&q->space);
        pthread_mutex_unlock(&q->mu);
    }
}

static void queue_start(echo_queue *q, int fd)
{
    memset(q, 0, sizeof *q);
    q->fd = fd;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    pthread_cond_init(&q->space, NULL);
    pthread_create(&q->writer, NULL, writer_main, q);
}

/* Append bytes (caller holds q->mu). Returns 0 or -1. */
static int queue_append(echo_queue *q, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    echo_item *it = malloc(sizeof *it + hl + pl);
    if (it == NULL)
        return -1;
    it->next = NULL;
    it->len = hl + pl;
    if (hl)
        memcpy(it->data, h, hl);
    if (pl)
        memcpy(it->data + hl, p, pl);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->bytes += it->len;
    pthread_cond_signal(&q->cv);
    return 0;
}

static int queue_echo(echo_queue *q, const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    int rc;
    pthread_mutex_lock(&q->mu);
#ifdef MUTANT_EOF_DROPS_QUEUE
    while (q->bytes > QUEUE_HWM)
        pthread_cond_wait(&q->space, &q->mu);
    if (q->head == NULL && q->writing == NULL) {
        /* nothing queued: write now, and queue only what the socket does not take */
        struct iovec iov[2] = {{(void *)h, hl}, {(void *)p, pl}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(q->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        size_t done = n > 0 ? (size_t)n : 0;
        if (done == hl + pl) {
            pthread_mutex_unlock(&q->mu);
            return 0;
        }
        if (done < hl) {
            h += done;
            hl -= done;
        } else {
            p += done - hl;
            pl -= done - hl;
            hl = 0;
        }
    }
#endif
    rc = queue_append(q, h, hl, p, pl);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

#ifdef MUTANT_EOF_DROPS_QUEUE
/* MUTANT eof_drops_queue (halfclose): "the peer has gone": on EOF, drop what is still queued and
 * close at once. */
static void queue_drop(echo_queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->head != NULL) {
        echo_item *it = q->head;
        q->head = it->next;
        free(it);
    }
    q->tail = NULL;
    q->bytes = q->writing ? q->writing->len : 0;
    pthread_mutex_unlock(&q->mu);
    shutdown(q->fd, SHUT_RDWR); /* wakes a writer blocked in write: EPIPE */
}
#endif

/* Wait until the writer has written everything queued (unless dropped), then stop it. */
static void queue_finish(echo_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->done = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->writer, NULL);
}
#endif

#if defined(MUTANT_DEEP_LENGTHS) || defined(MUTANT_DEEP_SPLIT)
/*
 * The deep mutants (group "coverage" in target/mutants.txt): bugs behind a sequence of states of
 * one connection, as a protocol's command sequences or a parser's rarely taken paths are. Each
 * state is a branch of its own (DEEP_EDGE() keeps the compiler from merging them into a select),
 * so a build instrumented by AFL++ sees a new edge at each step, and `framespec fuzz --coverage
 * afl` can find them one step at a time; generation alone almost never strings the sequence
 * together. The values are arbitrary: not tuned to the generator (fuzz_program.c pick_size).
 */
#define DEEP_EDGE() __asm__ volatile("" ::: "memory")

/* The next state after a payload of len bytes, where `seq` (n values) is the sequence that
 * advances it: state k expects seq[k]; a mismatch starts again. Returns the new state (n: the
 * whole sequence was seen). */
static int deep_next(int st, uint64_t len, const uint64_t *seq, int n)
{
    switch (st) {
    case 0:
        if (len == seq[0]) { DEEP_EDGE(); return 1; }
        break;
    case 1:
        if (len == seq[1]) { DEEP_EDGE(); return 2; }
        break;
    case 2:
        if (len == seq[2]) { DEEP_EDGE(); return 3; }
        break;
    case 3:
        if (n > 3 && len == seq[3]) { DEEP_EDGE(); return 4; }
        break;
    case 4:
        if (n > 4 && len == seq[4]) { DEEP_EDGE(); return 5; }
        break;
    default:
        break;
    }
    return 0;
}
#endif
#ifdef MUTANT_DEEP_LENGTHS
/* MUTANT deep_lengths (coverage): payloads of 7, 2, 13, 0 and 11 bytes in a row on one
 * connection close it before the last one is echoed. */
static const uint64_t deep_seq[] = {7, 2, 13, 0, 11};
#define DEEP_N 5
#endif
#ifdef MUTANT_DEEP_SPLIT
/* MUTANT deep_split (coverage): after payloads of 4, 10 and 1 bytes in a row on one
 * connection, a next header of which exactly one byte has arrived is taken for a one-byte
 * legacy "bye" and the connection is closed (deep_split_bye()). */
static const uint64_t deep_seq[] = {4, 10, 1};
#define DEEP_N 3

/* Before the header that follows the sequence (st == DEEP_N): waits for input as read_header()
 * would. Returns 1 when exactly one byte of the header is there (the bug), -1 on EOF, an error
 * or the idle timeout (what read_header() would have ended on), 0 to go on. */
static int deep_split_bye(reader *r, int st, size_t hlen)
{
    ssize_t have;
    if (st != DEEP_N)
        return 0;
    DEEP_EDGE();
    have = fill(r);
    if (have <= 0)
        return -1;
    if ((size_t)have >= hlen) {
        DEEP_EDGE(); /* the whole header at once */
        return 0;
    }
    DEEP_EDGE(); /* a header in pieces */
    return have == 1 ? 1 : 0;
}
#endif

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    reader *r = malloc(sizeof *r);
    uint8_t *payload = NULL;
    size_t cap = 0, hlen = frame_header_size(&g_framing, 0);
    uint64_t max = frame_effective_max(&g_framing, g_max);
    uint64_t under = (uint64_t)-(int64_t)g_framing.adjust; /* the field counts this much more */
    int one = 1;
#if defined(MUTANT_DEEP_LENGTHS) || defined(MUTANT_DEEP_SPLIT)
    int deep = 0; /* the deep mutants' state: payloads of deep_seq seen in a row */
#endif
    {
        char err[NET_ERR_LEN];
#ifndef MUTANT_NO_KEEPALIVE
        if (g_keepalive_on &&
            net_set_keepalive(fd, g_keepalive[0], g_keepalive[1], g_keepalive[2], err) < 0)
            fprintf(stderr, "baseline_echod: %s\n", err);
#endif /* else MUTANT no_keepalive (deadpeer): --keepalive is accepted and ignored, so an idle
        * connection whose peer vanished (no FIN, no RST) is held forever */
#ifndef MUTANT_NO_USER_TIMEOUT
        if (g_user_timeout && net_set_user_timeout(fd, g_user_timeout, err) < 0)
            fprintf(stderr, "baseline_echod: %s\n", err);
#endif /* else MUTANT no_user_timeout (deadpeer): --user-timeout is accepted and ignored: a
        * peer that vanished with echoes unacknowledged is held for ~15 min of retransmissions
        * (tcp_retries2), since keepalive does not probe while data is outstanding */
    }
#ifndef MUTANT_SPLIT_WRITE
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#else
    (void)one; /* MUTANT split_write (latency): no TCP_NODELAY, and two writes per echo below */
#endif

#if defined(MUTANT_UNBOUNDED) || defined(MUTANT_EOF_DROPS_QUEUE)
    echo_queue q;
    queue_start(&q, fd);
#endif
    if (r == NULL)
        goto out;
    r->fd = fd;
    r->off = r->len = 0;
#ifdef MUTANT_NO_IDLE
    r->idle_ms = -1; /* MUTANT no_idle (idle): --idle-timeout is accepted and ignored */
#else
    r->idle_ms = g_idle > 0 ? (int)(g_idle * 1000 + 0.5) : -1;
#endif
#ifdef MUTANT_SILENCE_IS_DEATH
    /* MUTANT silence_is_death (deadpeer): --keepalive is implemented as an application
     * heartbeat, so a peer silent for IDLE + INTVL x CNT s is taken for dead and closed, though
     * its kernel would have answered every probe */
    if (g_keepalive_on && r->idle_ms < 0)
        r->idle_ms = (g_keepalive[0] + g_keepalive[1] * g_keepalive[2]) * 1000;
#endif
    for (;;) {
        uint8_t hdr[FRAME_MAX_HEADER];
        uint64_t len = 0, field = 0;
        struct iovec iov[2];
        int rc;

        if (stopping())
            break; /* SIGTERM: the frame before this one is echoed; close now */

        if (g_framing.kind == FRAMING_RAW) {
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
        if (g_framing.kind == FRAMING_LINE) {
            ssize_t n = read_line(r, &payload, &cap, (uint32_t)max);
            if (n <= 0)
                break;
            iov[0].iov_base = payload;
            iov[0].iov_len = (size_t)n;
            if (write_all(fd, iov, 1) < 0)
                break;
            continue;
        }
#ifdef MUTANT_ONE_READ
        /* MUTANT one_read (segmentation): takes one read as one frame. */
        {
            ssize_t n = recv(fd, r->buf, sizeof r->buf, 0);
            (void)rc;
            if (n < (ssize_t)hlen)
                break;
            for (size_t i = g_framing.offset; i < hlen; i++)
                len = (len << 8) | r->buf[i];
            iov[0].iov_base = r->buf;
            iov[0].iov_len = (size_t)n < hlen + len ? (size_t)n : hlen + (size_t)len;
            if (write_all(fd, iov, 1) < 0)
                break;
            continue;
        }
#endif
#ifdef MUTANT_RESET_PARKED
        /* MUTANT reset_parked (deadpeer): an ECONNRESET between frames is taken for a transient
         * error; the thread parks, holding the descriptor, until the server stops */
        if (fill(r) < 0 && errno == ECONNRESET)
            while (!stopping())
                poll(NULL, 0, 100);
#endif
#ifdef MUTANT_DEEP_SPLIT
        if (deep_split_bye(r, deep, hlen) != 0)
            break; /* MUTANT deep_split (coverage): the bug, or what ends any connection */
#endif
        rc = read_header(r, hdr, &hlen, &field);
#ifdef MUTANT_NO_HALFCLOSE_CLOSE
        if (rc == 0) /* MUTANT no_halfclose_close (halfclose): ignores the peer's FIN forever */
            for (;;)
                pause();
#endif
        if (rc <= 0)
            break; /* EOF at a frame boundary, mid-header, an error, or a malformed varint */
        if (field < under)
            break; /* announces less than the header it is part of: malformed */
#ifdef MUTANT_ADJUST_SIGN
        len = field + under; /* MUTANT adjust_sign (framing): subtracts the (negative) adjust */
#else
        len = field - under;
#endif
#if defined(MUTANT_NO_MAX_CHECK)
        /* MUTANT no_max_check (limits): trusts the header and waits for the payload */
#elif defined(MUTANT_REJECT_EXACT_MAX)
        if (len >= max) /* MUTANT reject_exact_max (limits): off by one */
            break;
#elif defined(MUTANT_OFF_BY_HEADER)
        if (len > max) /* MUTANT off_by_header (limits): the payload against a whole-frame max */
            break;
#else
        if (g_framing.limit_frame ? max < hlen || len > max - hlen : len > max)
            break; /* oversized: close without reading the payload */
#endif
#ifdef MUTANT_CLOSE_ON_ZERO
        if (len == 0) /* MUTANT close_on_zero (framing): treats an empty frame as "bye" */
            break;
#endif
        if (len > cap) {
            uint8_t *p = realloc(payload, (size_t)len);
            if (p == NULL)
                break;
            payload = p;
            cap = (size_t)len;
        }
        if (len > 0 && read_exact(r, payload, (size_t)len) <= 0)
            break; /* EOF mid-payload: drop the partial frame */
#if defined(MUTANT_DEEP_LENGTHS) || defined(MUTANT_DEEP_SPLIT)
        deep = deep_next(deep, len, deep_seq, DEEP_N);
#ifdef MUTANT_DEEP_LENGTHS
        if (deep == DEEP_N)
            break; /* MUTANT deep_lengths (coverage): the sequence's last echo never goes */
#endif
#endif
#ifdef MUTANT_DROP_ON_EOF
        {
            /* MUTANT drop_on_eof (halfclose): "the peer has shut down, why bother echoing" */
            struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
            if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLRDHUP))
                break;
        }
#endif
        iov[0].iov_base = hdr;
        iov[0].iov_len = hlen;
        iov[1].iov_base = payload;
        iov[1].iov_len = (size_t)len;
#if defined(MUTANT_UNBOUNDED) || defined(MUTANT_EOF_DROPS_QUEUE)
        /* MUTANT unbounded (backpressure): queues every echo for a writer thread, without bound;
         * MUTANT eof_drops_queue (halfclose): writes at once, queues the rest (bounded) */
        if (queue_echo(&q, hdr, hlen, payload, (size_t)len) < 0)
            break;
        continue;
#endif
#if defined(MUTANT_SPLIT_WRITE)
        if (write_all(fd, iov, 1) < 0 || write_all(fd, iov + 1, 1) < 0)
            break;
#else
        if (write_all(fd, iov, 2) < 0)
            break; /* EPIPE, ECONNRESET: the peer is gone (MUTANT sigpipe too: it checks) */
#endif
    }
out:
#ifdef MUTANT_EOF_DROPS_QUEUE
    /* MUTANT eof_drops_queue (halfclose): EOF (or an error) means "the peer is gone": what is
     * still queued is dropped and the connection closed at once */
    queue_drop(&q);
#endif
#if defined(MUTANT_UNBOUNDED) || defined(MUTANT_EOF_DROPS_QUEUE)
    queue_finish(&q);
#endif
#if defined(MUTANT_RST_CLOSE)
    {
        /* MUTANT rst_close (halfclose): "close it hard", SO_LINGER {1,0}: RST instead of FIN */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
#elif defined(MUTANT_FD_LEAK)
    {
        /* MUTANT fd_leak (resources): sends FIN and drains, but never close()s the descriptor */
        char sink[4096];
        struct timeval tv = {2, 0};
        shutdown(fd, SHUT_WR);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (recv(fd, sink, sizeof sink, 0) > 0)
            ;
    }
#else
    lingering_close(fd);
#endif
    free(payload);
    free(r);
    conns_thread_done();
    return NULL;
}

#if defined(MUTANT_SIGTERM_EXIT) || defined(MUTANT_ONE_CLIENT)
static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}
#endif

/* SIGTERM/SIGINT: stop accepting, wake every connection thread waiting for input (the stop pipe
 * becomes readable), and wait (at most 5 s) until each has closed its connection. */
static void graceful_stop(int lfd)
{
    struct timespec deadline;
    close(lfd);
    atomic_store(&g_stop, true);
    if (write(g_stop_pipe[1], "x", 1) != 1)
        perror("baseline_echod: write to the stop pipe");
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&g_conns.mu);
    while (g_conns.threads > 0)
        if (pthread_cond_timedwait(&g_conns.done, &g_conns.mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&g_conns.mu);
}

#ifdef MUTANT_NO_REUSEADDR
/* MUTANT no_reuseaddr (lifecycle): a listener made the textbook way, without SO_REUSEADDR: it
 * cannot bind while connections of an earlier run of the server sit in TIME_WAIT (socket(7)). */
static int listen_plain(const char *spec, char *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE},
                    *ai;
    int fd, rc;
    if (strncmp(spec, "unix:", 5) == 0 || colon == NULL || (size_t)(colon - spec) >= sizeof host)
        return net_listen(spec, 4096, err);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    rc = getaddrinfo(host[0] == '[' ? host + 1 : host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, NET_ERR_LEN, "getaddrinfo: %s", gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, NET_ERR_LEN, "%s: %s", fd < 0 ? "socket" : "bind/listen", strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}
#endif

static void usage(FILE *out)
{
    fputs("usage: baseline_echod [--listen HOST:PORT|unix:PATH] [--framing F] [--max-frame BYTES]\n"
          "                      [--idle-timeout SECONDS] [--keepalive IDLE,INTVL,CNT]\n"
          "                      [--user-timeout MS]   (the same meaning as echod's)\n"
          "A plain thread-per-connection blocking framed echo server (benchmark baseline).\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"framing", required_argument, NULL, 'f'},
        {"max-frame", required_argument, NULL, 'm'}, {"idle-timeout", required_argument, NULL, 'i'},
        {"keepalive", required_argument, NULL, 'k'}, {"user-timeout", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *spec = "127.0.0.1:0";
    char err[NET_ERR_LEN], name[256];
    pthread_attr_t attr;
    int ch, lfd, sfd;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            spec = optarg;
            break;
        case 'f':
            if (frame_parse_framing(optarg, &g_framing, err, sizeof err) < 0) {
                fprintf(stderr, "baseline_echod: invalid --framing '%s': %s\n", optarg, err);
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
        case 'k':
            if (cli_parse_keepalive(optarg, g_keepalive) < 0) {
                fprintf(stderr, "baseline_echod: invalid --keepalive '%s': expected IDLE,INTVL,CNT\n",
                        optarg);
                return 2;
            }
            g_keepalive_on = true;
            break;
        case 'u':
            if (cli_parse_millis(optarg, &g_user_timeout) < 0) {
                fprintf(stderr, "baseline_echod: invalid --user-timeout '%s': expected milliseconds\n",
                        optarg);
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
#ifndef MUTANT_SIGPIPE
    signal(SIGPIPE, SIG_IGN);
#endif /* else MUTANT sigpipe (reset): SIGPIPE is not ignored. Every write's result is checked
        * and the connection dropped at the first error, but after the peer's FIN the first
        * error is the EPIPE that raises SIGPIPE (the peer's RST arrived in CLOSE-WAIT) */
#if defined(MUTANT_SIGTERM_EXIT) || defined(MUTANT_ONE_CLIENT)
    /* MUTANT sigterm_exit (lifecycle): exits at once on SIGTERM, closing connections that have
     * unread input: the kernel sends RST and the echoes not yet sent are lost */
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    sfd = -1;
#else
    {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread: they inherit it */
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    }
#endif
    if (pipe2(g_stop_pipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "baseline_echod: pipe2: %s\n", strerror(errno));
        return 1;
    }
    net_raise_nofile(err);
#ifdef MUTANT_NO_REUSEADDR
    lfd = listen_plain(spec, err);
#else
    lfd = net_listen(spec, 4096, err);
#endif
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
        struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        pthread_t t;
        int fd;
        poll(pfd, sfd >= 0 ? 2 : 1, -1); /* the listener is non-blocking (net_listen) */
        if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
            graceful_stop(lfd);
            return 0;
        }
        fd = net_accept(lfd, err);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000); /* out of descriptors: do not spin on a readable listener */
            continue;
        }
        /* The connection thread does blocking I/O. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
            close(fd);
            continue;
        }
        conns_add();
#ifdef MUTANT_ONE_CLIENT
        /* MUTANT one_client (concurrency): serves one client at a time */
        (void)t;
        serve((void *)(intptr_t)fd);
#else
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) {
            conns_thread_done();
            close(fd);
        }
#endif
    }
}
