/*
 * echo — a framed echo server as a libevent programmer writes it, after the libevent book's echo
 * server (evconnlistener + bufferevent, "Ref8_listener": echo_read_cb moves the input buffer to
 * the output buffer; echo_event_cb frees the bufferevent on BEV_EVENT_EOF or BEV_EVENT_ERROR),
 * with a 4-byte big-endian length prefix (Erlang {packet,4}) and a bufferevent read timeout for
 * the idle timeout. Not written for framespec: a peer to judge.
 *
 * Build: cc -O2 -o echo echo.c $(pkg-config --cflags --libs libevent)   (Debian libevent-dev)
 * Run:   echo PORT [IDLE_SECONDS] [--fixed]
 *
 * --fixed applies what peers/libevent/README.md says a user should change: ignore SIGPIPE; on
 * EOF, stop reading and free the bufferevent only once its output buffer is written (le-proxy.c's
 * close_on_finished_writecb), and the same before closing on an oversized header; stop reading while more than HWM bytes of echoes wait (le-proxy.c's
 * readcb / drained_writecb with bufferevent_setwatermark); and on SIGTERM (evsignal_new) disable
 * the listener, stop reading, shutdown(SHUT_WR) each connection once its output is written, read
 * and discard until the peer's FIN (at most GRACE seconds), then leave the loop and exit 0.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME (16u << 20)
#define HWM (256u << 10) /* --fixed: stop reading above this many bytes of pending echoes */

#define GRACE 3 /* --fixed, SIGTERM: seconds a connection may take to flush and see the FIN */

/* one connection (the bufferevent callbacks' ctx): the list lets SIGTERM reach every one */
struct conn {
    struct bufferevent *bev;
    struct conn *prev, *next;
};

static struct timeval idle_tv;
static int fixed, stopping;
static struct conn *conns;
static struct event_base *base;

static void conn_free(struct conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    bufferevent_free(k->bev);
    free(k);
    if (stopping && conns == NULL)
        event_base_loopexit(base, NULL);
}

static void close_when_written(struct bufferevent *bev, void *ctx)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(ctx);
}

static void drained(struct bufferevent *bev, void *ctx);
static void echo_event_cb(struct bufferevent *bev, short events, void *ctx);

static void echo_read_cb(struct bufferevent *bev, void *ctx)
{
    struct evbuffer *input = bufferevent_get_input(bev);
    struct evbuffer *output = bufferevent_get_output(bev);
    unsigned char hdr[4];
    while (evbuffer_get_length(input) >= 4) {
        uint32_t n;
        evbuffer_copyout(input, hdr, 4);
        n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (n > MAX_FRAME) {
            if (fixed && evbuffer_get_length(output) > 0) {
                /* the echoes of the frames before it first, as on EOF */
                bufferevent_disable(bev, EV_READ);
                bufferevent_setcb(bev, NULL, close_when_written, echo_event_cb, ctx);
                bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
                return;
            }
            conn_free(ctx);
            return;
        }
        if (evbuffer_get_length(input) < 4 + (size_t)n)
            break;
        evbuffer_remove_buffer(input, output, 4 + (size_t)n);
    }
    if (fixed && evbuffer_get_length(output) > HWM) {
        /* le-proxy.c: wait until the output has drained to half, then read again */
        bufferevent_setwatermark(bev, EV_WRITE, HWM / 2, 0);
        bufferevent_setcb(bev, echo_read_cb, drained, NULL, ctx);
        bufferevent_disable(bev, EV_READ);
    }
}

static void drained(struct bufferevent *bev, void *ctx)
{
    bufferevent_setcb(bev, echo_read_cb, NULL, echo_event_cb, ctx);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ);
    echo_read_cb(bev, ctx); /* frames that arrived meanwhile are in the input buffer */
}

static void echo_event_cb(struct bufferevent *bev, short events, void *ctx)
{
    if (fixed && (events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        /* le-proxy.c close_on_finished_writecb: flush, then free (which closes: FIN) */
        bufferevent_disable(bev, EV_READ);
        bufferevent_setcb(bev, NULL, close_when_written, echo_event_cb, ctx);
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(ctx);
}

/* SIGTERM, last steps of one connection: input after the FIN we sent is read and discarded, so
 * that closing does not meet unread input (which would send RST, RFC 1122 4.2.2.13) */
static void discard_read_cb(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void discard_event_cb(struct bufferevent *bev, short events, void *ctx)
{
    (void)bev;
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(ctx);
}

/* SIGTERM: the echoes of the frames read so far are written; send FIN, then drain */
static void shut_when_written(struct bufferevent *bev, void *ctx)
{
    struct timeval grace = {GRACE, 0};
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    bufferevent_setcb(bev, discard_read_cb, NULL, discard_event_cb, ctx);
    bufferevent_set_timeouts(bev, &grace, NULL);
    bufferevent_enable(bev, EV_READ);
}

static void on_sigterm(evutil_socket_t sig, short events, void *arg)
{
    struct timeval grace = {GRACE + 1, 0};
    (void)sig;
    (void)events;
    stopping = 1;
    evconnlistener_disable(arg);
    if (conns == NULL) {
        event_base_loopexit(base, NULL);
        return;
    }
    for (struct conn *k = conns, *next; k != NULL; k = next) {
        next = k->next; /* shut_when_written may free k */
        bufferevent_disable(k->bev, EV_READ);
        bufferevent_setcb(k->bev, NULL, shut_when_written, discard_event_cb, k);
        bufferevent_setwatermark(k->bev, EV_WRITE, 0, 0);
        shut_when_written(k->bev, k);
    }
    event_base_loopexit(base, &grace); /* a peer that never sends its FIN */
}

static void accept_conn_cb(struct evconnlistener *listener, evutil_socket_t fd,
                           struct sockaddr *address, int socklen, void *ctx)
{
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(listener), fd,
                                                     BEV_OPT_CLOSE_ON_FREE);
    struct conn *k = calloc(1, sizeof *k);
    int one = 1;
    (void)address;
    (void)socklen;
    (void)ctx;
    k->bev = bev;
    k->next = conns;
    if (conns)
        conns->prev = k;
    conns = k;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_setcb(bev, echo_read_cb, NULL, echo_event_cb, k);
    if (idle_tv.tv_sec > 0)
        bufferevent_set_timeouts(bev, &idle_tv, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    struct evconnlistener *listener;
    struct sockaddr_in sin;
    int port;

    if (argc < 2) {
        fprintf(stderr, "usage: echo PORT [IDLE_SECONDS] [--fixed]\n");
        return 2;
    }
    port = atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--fixed"))
            fixed = 1;
        else
            idle_tv.tv_sec = atoi(argv[i]);
    }
    if (fixed)
        signal(SIGPIPE, SIG_IGN); /* the book's example does not: a write to a reset peer kills it */
    base = event_base_new();
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    listener = evconnlistener_new_bind(base, accept_conn_cb, NULL,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                       (struct sockaddr *)&sin, sizeof sin);
    if (!listener) {
        perror("evconnlistener_new_bind");
        return 1;
    }
    if (fixed) {
        struct event *term = evsignal_new(base, SIGTERM, on_sigterm, listener);
        event_add(term, NULL);
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    event_base_dispatch(base);
    return 0;
}
