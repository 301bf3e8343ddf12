/*
 * vanish.c — a connection's server end in the kernel's tables, and its release (vanish.h).
 */
#include "vanish.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"

static const char *const state_names[] = {
    "?", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
    "CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV"};

const char *vn_state_name(int st)
{
    return st >= 0 && st < (int)(sizeof state_names / sizeof state_names[0]) ? state_names[st]
                                                                              : "?";
}

bool vn_tcp_entry(const vn_conn *d, int *state, unsigned long *txq, unsigned long *inode)
{
    static const char *const files[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int i = 0; i < 2; i++) {
        char line[512], loc[64], rem[64];
        FILE *f;
        if (d->local[i][0] == '\0' || (f = fopen(files[i], "re")) == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned st;
            unsigned long tx, rx, ino;
            if (sscanf(line, " %*u: %63s %63s %x %lx:%lx %*x:%*x %*x %*u %*d %lu", loc, rem, &st,
                       &tx, &rx, &ino) != 6)
                continue;
            if (strcmp(loc, d->local[i]) != 0 || strcmp(rem, d->remote[i]) != 0)
                continue;
            if (ino == 0)
                continue; /* no descriptor's socket: a TIME-WAIT entry of an older connection on
                           * the same ports, or an orphan after close() (never ESTABLISHED or
                           * CLOSE-WAIT) */
            *state = (int)st;
            *txq = tx;
            *inode = ino;
            fclose(f);
            return true;
        }
        fclose(f);
    }
    return false;
}

/* Does process `pid` hold a descriptor whose link reads `want` ("socket:[INODE]")? */
static bool pid_holds(const char *pid, const char *want)
{
    char path[300], link[64];
    DIR *dir;
    struct dirent *e;
    bool found = false;
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    if ((dir = opendir(path)) == NULL)
        return false;
    while (!found && (e = readdir(dir)) != NULL) {
        ssize_t n;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, e->d_name);
        n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(dir);
    return found;
}

/* The pid of a process holding a descriptor of socket `inode` (server_pid first when > 0), or
 * 0. */
static pid_t vn_holder(pid_t server_pid, unsigned long inode)
{
    char want[48], pid[24];
    DIR *proc;
    struct dirent *e;
    pid_t found = 0;
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    snprintf(pid, sizeof pid, "%d", (int)server_pid);
    if (server_pid > 0 && pid_holds(pid, want))
        return server_pid;
    if ((proc = opendir("/proc")) == NULL)
        return 0;
    while (!found && (e = readdir(proc)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && pid_holds(e->d_name, want))
            found = (pid_t)strtol(e->d_name, NULL, 10);
    closedir(proc);
    return found;
}

/* An address the way /proc/net/tcp (v4) and tcp6 print it: each 32-bit word of the
 * network-order address as the host reads it, %08X, then ':' and the port %04X. */
static void proc_addr(const struct sockaddr_storage *ss, char out[2][48])
{
    uint32_t w[4];
    out[0][0] = out[1][0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        unsigned port = ntohs(a->sin_port);
        memcpy(w, &a->sin_addr, 4);
        snprintf(out[0], 48, "%08X:%04X", w[0], port);
        /* the same peer seen by a dual-stack (::) socket: ::ffff:a.b.c.d */
        snprintf(out[1], 48, "0000000000000000%08X%08X:%04X", htonl(0xffff), w[0], port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(w, &a->sin6_addr, 16);
        snprintf(out[1], 48, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
                 ntohs(a->sin6_port));
    }
}

int vn_identify(int fd, int timeout_ms, vn_conn *d, char *why, size_t n)
{
    struct sockaddr_storage la, ra;
    socklen_t ll = sizeof la, rl = sizeof ra;
    int state = 0;
    unsigned long txq;
    int64_t until = sock_now_ms() + timeout_ms;
    memset(d, 0, sizeof *d);
    if (getsockname(fd, (struct sockaddr *)&la, &ll) < 0 ||
        getpeername(fd, (struct sockaddr *)&ra, &rl) < 0) {
        snprintf(why, n, "getsockname/getpeername: %s", strerror(errno));
        return -1;
    }
    if (la.ss_family != AF_INET && la.ss_family != AF_INET6) {
        snprintf(why, n, "not a TCP connection (a unix socket has no packets to drop)");
        return -1;
    }
    d->cport = sock_port(&la);
    d->sport = sock_port(&ra);
    proc_addr(&ra, d->local);
    proc_addr(&la, d->remote);
    while (!vn_tcp_entry(d, &state, &txq, &d->inode) || d->inode == 0) {
        if (sock_now_ms() > until) {
            snprintf(why, n, "the server's end of the connection (port %u to %u) is not in "
                             "/proc/net/tcp or tcp6 of this namespace",
                     d->sport, d->cport);
            return -1;
        }
        poll(NULL, 0, 10);
    }
    return 0;
}

bool vn_released(pid_t server_pid, const vn_conn *d, char *why, size_t n)
{
    int state = 0;
    unsigned long txq = 0, inode = 0;
    bool open_state = vn_tcp_entry(d, &state, &txq, &inode) &&
                      (state == VN_ESTABLISHED || state == VN_CLOSE_WAIT);
    pid_t holder = vn_holder(server_pid, d->inode);
    if (!open_state && holder == 0)
        return true;
    if (holder)
        snprintf(why, n, "pid %d still holds its descriptor (socket inode %lu), socket %s",
                 (int)holder, d->inode,
                 inode == d->inode ? vn_state_name(state) : "already failed by the kernel");
    else
        snprintf(why, n, "its socket is still %s", vn_state_name(state));
    return false;
}

void vn_rules(const char *chain, const vn_conn *d, bool to_client, bool to_server, bool reset,
              char *out, size_t n)
{
    int k = 0;
    out[0] = '\0';
    if (to_client)
        k += snprintf(out, n, "add rule inet framespec %s tcp sport %u tcp dport %u %s\n", chain,
                      d->sport, d->cport, reset ? "reject with tcp reset" : "drop");
    if (to_server && k >= 0 && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, "add rule inet framespec %s tcp sport %u tcp dport %u "
                                         "drop\n", chain, d->cport, d->sport);
}

int64_t vn_keepalive_ms(const int keepalive[3], int64_t user_timeout_ms)
{
    int64_t idle = (int64_t)keepalive[0] * 1000, intvl = (int64_t)keepalive[1] * 1000;
    if (keepalive[0] == 0)
        return 0;
    if (user_timeout_ms > 0) {
        int64_t probes = user_timeout_ms > idle ? (user_timeout_ms - idle + intvl - 1) / intvl : 1;
        return idle + (probes > 1 ? probes : 1) * intvl;
    }
    return idle + intvl * keepalive[2];
}

int64_t vn_tolerance_ms(int64_t promise_ms, bool idle_timeout)
{
    int64_t t = promise_ms / 4 > 1000 ? promise_ms / 4 : 1000;
    return t + (idle_timeout ? VN_LINGER_MS : 0);
}

bool vn_wait_acked(const vn_conn *d, int timeout_ms)
{
    int64_t until = sock_now_ms() + timeout_ms;
    for (;;) {
        int state = 0;
        unsigned long txq = 1, inode;
        if (vn_tcp_entry(d, &state, &txq, &inode) && txq == 0)
            return true;
        if (sock_now_ms() > until)
            return false;
        poll(NULL, 0, 2);
    }
}

int vn_time_wait(unsigned port)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = 0;
    for (size_t i = 0; i < 2; i++) {
        char line[512];
        FILE *f = fopen(tables[i], "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            char local[128], state[8];
            char *colon;
            if (sscanf(line, " %*s %127s %*s %7s", local, state) != 2)
                continue;
            colon = strrchr(local, ':');
            if (colon && strcmp(state, "06") == 0 && strtoul(colon + 1, NULL, 16) == port)
                n++;
        }
        fclose(f);
    }
    return n;
}
