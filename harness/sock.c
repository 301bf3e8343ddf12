/*
 * sock.c — the harness's socket helpers. See sock.h.
 */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t sock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int sock_parse_addr(const char *text, sock_addr *out, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char host[128];
    const char *colon, *h;
    size_t hl;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->text, sizeof out->text, "%s", text);
    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *su = (struct sockaddr_un *)&out->sa;
        size_t pl = strlen(text + 5);
        if (pl == 0 || pl >= sizeof su->sun_path) {
            snprintf(err, errlen, "unix socket path '%s' is empty or too long", text + 5);
            return -1;
        }
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, text + 5, pl + 1);
        out->len = sizeof *su;
        out->family = AF_UNIX;
        return 0;
    }
    colon = strrchr(text, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "address '%s' is not HOST:PORT or unix:PATH", text);
        return -1;
    }
    h = text;
    hl = (size_t)(colon - text);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host) {
        snprintf(err, errlen, "address '%s' is not HOST:PORT or unix:PATH", text);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    {
        /* getaddrinfo() takes "70000" and wraps it to port 4464: check the range ourselves */
        char *end;
        unsigned long port;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || errno != 0 || colon[1] < '0' || colon[1] > '9' || port == 0 ||
            port > 65535) {
            snprintf(err, errlen, "port '%s' in '%s' is not a number 1..65535", colon + 1, text);
            return -1;
        }
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", text, gai_strerror(rc));
        return -1;
    }
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->family = res->ai_family;
    freeaddrinfo(res);
    return 0;
}

static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = deadline_ms - sock_now_ms();
        int rc;
        if (left < 0)
            left = 0;
        rc = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (rc > 0)
            return 1;
        if (rc == 0 && sock_now_ms() >= deadline_ms)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

int sock_wait_readable(int fd, int64_t deadline_ms)
{
    return wait_fd(fd, POLLIN, deadline_ms);
}

/* The outcome of a completed connect() on fd: 0, or -errno (SO_ERROR). */
static int connect_error(int fd)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        return -errno;
    return -soerr;
}

/* Wait until deadline_ms for fd's connect() to complete. 0, or -errno after closing fd
 * (-ETIMEDOUT at the deadline). */
static int connect_finish(int fd, int64_t deadline_ms)
{
    int rc = wait_fd(fd, POLLOUT, deadline_ms);
    if (rc <= 0) {
        close(fd);
        return rc == 0 ? -ETIMEDOUT : rc;
    }
    rc = connect_error(fd);
    if (rc < 0)
        close(fd);
    return rc;
}

int sock_connect_check(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int rc;
    if (poll(&pf, 1, 0) <= 0)
        return 0;
    rc = connect_error(fd);
    return rc < 0 ? rc : 1;
}

unsigned sock_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return 0;
}

int sock_connect(const sock_addr *a, int64_t deadline_ms)
{
    int fd = sock_connect_start(a), rc;
    if (fd < 0)
        return fd;
    rc = connect_finish(fd, deadline_ms);
    return rc < 0 ? rc : fd;
}

int sock_connect_start(const sock_addr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, rc;

    if (fd < 0)
        return -errno;
    if (a->family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    do
        rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
    while (rc < 0 && errno == EINTR);
    if (rc == 0 || errno == EINPROGRESS || errno == EAGAIN)
        return fd;
    rc = -errno;
    close(fd);
    return rc;
}

size_t sock_send_until(int fd, const void *buf, size_t len, int64_t deadline_ms,
                       void (*on_full)(void *arg), void *arg, int *err)
{
    const char *p = buf;
    size_t sent = 0;
    *err = 0;
    while (sent < len) {
        ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int64_t now = sock_now_ms();
            int rc;
            if (now >= deadline_ms) {
                *err = -ETIMEDOUT;
                break;
            }
            if (on_full)
                on_full(arg);
            /* short waits, so that on_full runs again while the buffer stays full */
            rc = wait_fd(fd, POLLOUT, on_full && deadline_ms - now > 10 ? now + 10 : deadline_ms);
            if (rc < 0) {
                *err = rc;
                break;
            }
            continue;
        }
        *err = n < 0 ? -errno : -EIO;
        break;
    }
    return sent;
}

int sock_close_kind(ssize_t n, int err)
{
    if (n > 0)
        return SOCK_OPEN;
    if (n == 0)
        return SOCK_EOF;
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
        return SOCK_OPEN;
    case ECONNRESET:
    case EPIPE:
        return SOCK_RESET;
    default:
        return SOCK_ERROR;
    }
}

const char *sock_close_name(int kind)
{
    switch (kind) {
    case SOCK_OPEN:
        return "open";
    case SOCK_EOF:
        return "FIN";
    case SOCK_RESET:
        return "RST";
    case SOCK_TIMEOUT:
        return "timeout";
    default:
        return "error";
    }
}

void sock_abort(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

const char *sock_errno_name(int err)
{
    static __thread char buf[16];
    const char *n = strerrorname_np(err);
    if (n != NULL)
        return n;
    snprintf(buf, sizeof buf, "E%d", err);
    return buf;
}
