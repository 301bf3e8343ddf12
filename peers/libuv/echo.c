/*
 * echo — a framed echo server as a libuv programmer writes it, after libuv's own guide
 * (docs/code/tcp-echo-server/main.c: alloc_buffer mallocs suggested_size, echo_read uv_writes what
 * arrived and, on nread < 0, uv_close()s the client), with a 4-byte big-endian length prefix
 * (Erlang {packet,4}) and a uv_timer per connection for the idle timeout. Not written for
 * framespec: a peer to judge.
 *
 * Build: cc -O2 -o echo echo.c $(pkg-config --cflags --libs libuv)   (Debian libuv1-dev)
 * Run:   echo PORT [IDLE_SECONDS] [--fixed]
 *
 * --fixed applies what peers/libuv/README.md says a user should change: ignore SIGPIPE; on
 * UV_EOF, uv_shutdown() (which completes after the queued writes) and close in its callback;
 * uv_read_stop() while the stream's write_queue_size is above HWM, uv_read_start() again when a
 * write completes below it; and on SIGTERM (uv_signal_t) close the listener, uv_read_stop() and
 * uv_shutdown() every connection, read and discard until the peer's FIN, and let uv_run() return
 * when the last one is closed (an unreferenced timer closes the stragglers after GRACE_MS).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_FRAME (16u << 20)
#define HWM (256u << 10)
#define GRACE_MS 3000 /* --fixed, SIGTERM: how long connections may take to flush and see the FIN */

typedef struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    uv_timer_t idle;
    char *buf;
    size_t len, cap;
    int closing, reading, shutting;
    struct conn *prev, *next; /* every open connection, for SIGTERM */
} conn;

static uv_loop_t *loop;
static uv_tcp_t server;
static uint64_t idle_ms;
static int fixed;
static conn *conns;

static void on_idle_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_close(uv_handle_t *h)
{
    conn *c = (conn *)h;
    if (c->prev)
        c->prev->next = c->next;
    else if (conns == c)
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->buf);
    if (idle_ms) {
        c->idle.data = c;
        uv_close((uv_handle_t *)&c->idle, on_idle_closed);
    } else {
        free(c);
    }
}

static void close_conn(conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (idle_ms)
        uv_timer_stop(&c->idle);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void alloc_buffer(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void echo_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf);

static void echo_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    if (status)
        fprintf(stderr, "Write error %s\n", uv_strerror(status));
    free(req);
    if (fixed && !c->closing && !c->shutting && !c->reading && c->tcp.write_queue_size < HWM / 2) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, alloc_buffer, echo_read);
    }
}

typedef struct {
    uv_write_t req;
    char data[];
} write_req;

static void free_write(uv_write_t *req, int status)
{
    echo_write(req, status);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    close_conn(req->data);
    free(req);
}

static void on_idle(uv_timer_t *t)
{
    close_conn(t->data);
}

static void echo_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = (conn *)client;
    if (nread > 0) {
        size_t off = 0;
        if (idle_ms)
            uv_timer_again(&c->idle);
        if (c->len + (size_t)nread > c->cap) {
            c->cap = (c->len + (size_t)nread) * 2;
            c->buf = realloc(c->buf, c->cap);
        }
        memcpy(c->buf + c->len, buf->base, (size_t)nread);
        c->len += (size_t)nread;
        while (c->len - off >= 4) {
            unsigned char *h = (unsigned char *)c->buf + off;
            uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            write_req *w;
            uv_buf_t out;
            if (n > MAX_FRAME) {
                free(buf->base);
                close_conn(c);
                return;
            }
            if (c->len - off < 4 + (size_t)n)
                break;
            w = malloc(sizeof *w + 4 + n);
            memcpy(w->data, c->buf + off, 4 + (size_t)n);
            out = uv_buf_init(w->data, 4 + n);
            w->req.data = c;
            uv_write(&w->req, client, &out, 1, free_write);
            off += 4 + (size_t)n;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        if (fixed && client->write_queue_size > HWM) {
            uv_read_stop(client);
            c->reading = 0;
        }
    } else if (nread < 0) {
        if (nread != UV_EOF)
            fprintf(stderr, "Read error %s\n", uv_err_name((int)nread));
        if (fixed && nread == UV_EOF) {
            uv_shutdown_t *req = malloc(sizeof *req);
            req->data = c;
            uv_read_stop(client);
            c->shutting = 1;
            if (uv_shutdown(req, client, on_shutdown) == 0) {
                free(buf->base);
                return;
            }
            free(req);
        }
        close_conn(c);
    }
    free(buf->base);
}

static void on_new_connection(uv_stream_t *server, int status)
{
    conn *c;
    if (status < 0) {
        fprintf(stderr, "New connection error %s\n", uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        if (idle_ms) {
            uv_timer_init(loop, &c->idle);
            c->idle.data = c;
            uv_timer_start(&c->idle, on_idle, idle_ms, idle_ms);
        }
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, alloc_buffer, echo_read);
    } else {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

/* SIGTERM, after our FIN: input is read and discarded until the peer's FIN, so that the close does
 * not meet unread input (which would send RST, RFC 1122 4.2.2.13) */
static void discard_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
    free(buf->base);
    if (nread < 0)
        close_conn((conn *)client);
}

static void on_term_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    free(req);
    if (status == 0 && !c->closing)
        uv_read_start((uv_stream_t *)&c->tcp, alloc_buffer, discard_read);
    else
        close_conn(c);
}

static void on_grace(uv_timer_t *t)
{
    (void)t;
    for (conn *c = conns; c != NULL; c = c->next)
        close_conn(c);
}

static void on_sigterm(uv_signal_t *sig, int signum)
{
    static uv_timer_t grace;
    (void)signum;
    uv_close((uv_handle_t *)sig, NULL);
    uv_close((uv_handle_t *)&server, NULL);
    for (conn *c = conns; c != NULL; c = c->next) {
        uv_shutdown_t *req;
        if (c->closing || c->shutting)
            continue; /* already flushing after the peer's FIN */
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        c->shutting = 1;
        req = malloc(sizeof *req);
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_term_shutdown) != 0) {
            free(req);
            close_conn(c);
        }
    }
    uv_timer_init(loop, &grace);
    uv_timer_start(&grace, on_grace, GRACE_MS, 0);
    uv_unref((uv_handle_t *)&grace); /* uv_run() returns when the connections are closed */
}

int main(int argc, char **argv)
{
    static uv_signal_t term;
    struct sockaddr_in addr;
    int r, port;
    if (argc < 2) {
        fprintf(stderr, "usage: echo PORT [IDLE_SECONDS] [--fixed]\n");
        return 2;
    }
    port = atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--fixed"))
            fixed = 1;
        else
            idle_ms = (uint64_t)atoi(argv[i]) * 1000;
    }
    if (fixed)
        signal(SIGPIPE, SIG_IGN); /* the guide's example does not: a write to a reset peer kills it */
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    r = uv_listen((uv_stream_t *)&server, 128, on_new_connection);
    if (r) {
        fprintf(stderr, "Listen error %s\n", uv_strerror(r));
        return 1;
    }
    if (fixed) {
        uv_signal_init(loop, &term);
        uv_signal_start(&term, on_sigterm, SIGTERM);
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
