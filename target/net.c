/*
 * net.c — socket helpers for echod. See net.h.
 */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3))) static int fail(char *err, const char *fmt, ...)
{
    if (err != NULL) {
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, NET_ERR_LEN, fmt, ap);
        va_end(ap);
        errno = saved;
    }
    return -1;
}

static int listen_unix(const char *path, int backlog, char *err)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof sa.sun_path)
        return fail(err, "unix socket path too long (max %zu bytes): %s", sizeof sa.sun_path - 1,
                    path);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* Remove a stale socket left by an earlier run, but never a regular file. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(err, "socket(AF_UNIX): %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fail(err, "bind(%s): %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) < 0) {
        fail(err, "listen(%s): %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int net_listen(const char *spec, int backlog, char *err)
{
    return net_listen_opt(spec, backlog, 0, err);
}

int net_listen_opt(const char *spec, int backlog, int reuseport, char *err)
{
    char host[256];
    const char *colon, *port, *h;
    size_t hlen;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc, one = 1;

    if (strncmp(spec, "unix:", 5) == 0)
        return listen_unix(spec + 5, backlog, err);
    colon = strrchr(spec, ':');
    if (colon == NULL)
        return fail(err, "listen address '%s' is not HOST:PORT or unix:PATH", spec);
    port = colon + 1;
    h = spec;
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host || *port == '\0')
        return fail(err, "listen address '%s' is not HOST:PORT or unix:PATH", spec);
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return fail(err, "getaddrinfo(%s, %s): %s", host, port, gai_strerror(rc));
    fail(err, "no address for %s", spec);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fail(err, "socket: %s", strerror(errno));
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            fail(err, "setsockopt(SO_REUSEPORT): %s", strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            fail(err, "bind(%s): %s", spec, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        if (listen(fd, backlog) < 0) {
            fail(err, "listen(%s): %s", spec, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        break;
    }
    freeaddrinfo(res);
    return fd;
}

int net_local_name(int fd, char *out, size_t outlen, char *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN];

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return fail(err, "getsockname: %s", strerror(errno));
    if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *su = (const struct sockaddr_un *)&ss;
        snprintf(out, outlen, "unix:%s", su->sun_path);
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *si = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &si->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(si->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    } else {
        return fail(err, "getsockname: unknown address family %d", ss.ss_family);
    }
    return 0;
}

int net_accept(int lfd, char *err)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return fail(err, "accept4: %s", strerror(errno));
    return fd;
}

static int is_tcp(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return 0;
    return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

int net_set_nodelay(int fd, char *err)
{
    int one = 1;
    if (!is_tcp(fd))
        return 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return fail(err, "setsockopt(TCP_NODELAY): %s", strerror(errno));
    return 0;
}

int net_set_keepalive(int fd, int idle, int intvl, int cnt, char *err)
{
    int one = 1;
    if (!is_tcp(fd))
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
        return fail(err, "setsockopt(SO_KEEPALIVE): %s", strerror(errno));
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0)
        return fail(err, "setsockopt(TCP_KEEPIDLE): %s", strerror(errno));
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0)
        return fail(err, "setsockopt(TCP_KEEPINTVL): %s", strerror(errno));
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0)
        return fail(err, "setsockopt(TCP_KEEPCNT): %s", strerror(errno));
    return 0;
}

int net_set_user_timeout(int fd, unsigned ms, char *err)
{
    if (!is_tcp(fd))
        return 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) < 0)
        return fail(err, "setsockopt(TCP_USER_TIMEOUT): %s", strerror(errno));
    return 0;
}

long net_raise_nofile(char *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return fail(err, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return fail(err, "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    }
    return (long)rl.rlim_cur;
}
