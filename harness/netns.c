/*
 * netns.c — framespec's private network namespace and its nftables table (see netns.h).
 */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sock.h"

#define CAP_NET_ADMIN_BIT 12
#define CAP_SYS_ADMIN_BIT 21

const char *netns_nft_path(void)
{
    static char found[4096];
    const char *path = getenv("PATH");
    const char *fixed[] = {"/usr/sbin/nft", "/sbin/nft"};
    if (found[0])
        return found;
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t l = colon ? (size_t)(colon - path) : strlen(path);
        if (l > 0 && l + 5 < sizeof found) {
            snprintf(found, sizeof found, "%.*s/nft", (int)l, path);
            if (access(found, X_OK) == 0)
                return found;
        }
        path += l + (colon ? 1 : 0);
    }
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (access(fixed[i], X_OK) == 0) {
            snprintf(found, sizeof found, "%s", fixed[i]);
            return found;
        }
    found[0] = '\0';
    return NULL;
}

/* The effective capability set (/proc/self/status CapEff), or 0 when unreadable. */
static unsigned long long cap_effective(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "CapEff:", 7) == 0) {
            caps = strtoull(line + 7, NULL, 16);
            break;
        }
    fclose(f);
    return caps;
}

const char *netns_unavailable(void)
{
    unsigned long long caps = cap_effective();
    bool sys = caps & (1ull << CAP_SYS_ADMIN_BIT), net = caps & (1ull << CAP_NET_ADMIN_BIT);
    if (!sys && !net)
        return "needs CAP_SYS_ADMIN and CAP_NET_ADMIN to create a private network namespace "
               "with nftables rules (run framespec as root)";
    if (!sys)
        return "needs CAP_SYS_ADMIN to create a private network namespace (run framespec as root)";
    if (!net)
        return "needs CAP_NET_ADMIN for loopback and nftables rules in its network namespace "
               "(run framespec as root)";
    if (netns_nft_path() == NULL)
        return "needs the nft program (Debian package nftables: apt-get install nftables)";
    return NULL;
}

/* Bring interface "lo" up in this process's namespace. */
static int loopback_up(char *err, size_t n)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, n, "socket(AF_INET) for the loopback: %s", strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        snprintf(err, n, "cannot bring the namespace's loopback up: %s", strerror(errno));
        close(s);
        return -1;
    }
    close(s);
    return 0;
}

int netns_enter(double loss_pct, char *err, size_t n)
{
    char script[1024];
    int len, old = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (old < 0) {
        snprintf(err, n, "cannot open /proc/self/ns/net: %s", strerror(errno));
        return -2;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(err, n, "unshare(CLONE_NEWNET): %s (%s)", strerror(errno),
                 errno == EPERM ? "needs CAP_SYS_ADMIN: run framespec as root" : "kernel support?");
        close(old);
        return -2;
    }
    len = snprintf(script, sizeof script,
                   "add table inet framespec\n"
                   "add chain inet framespec loss { type filter hook output priority 0; "
                   "policy accept; }\n");
    if (loss_pct > 0)
        snprintf(script + len, sizeof script - (size_t)len,
                 "add rule inet framespec loss meta l4proto tcp numgen random mod 10000 < %u "
                 "counter drop\n",
                 (unsigned)(loss_pct * 100 + 0.5));
    if (loopback_up(err, n) < 0 || netns_nft(script, 10000, err, n) < 0) {
        /* back to the namespace framespec came from; the new one goes with its last user */
        int rc = setns(old, CLONE_NEWNET) == 0 ? -2 : -1;
        close(old);
        return rc;
    }
    close(old);
    return 0;
}

int netns_nft(const char *script, int timeout_ms, char *err, size_t n)
{
    const char *nft = netns_nft_path();
    int in[2], out[2], st = 0;
    char buf[2048];
    size_t got = 0, slen = strlen(script), sent = 0;
    int64_t deadline = sock_now_ms() + timeout_ms;
    pid_t pid, parent = getpid();
    bool killed = false;

    if (nft == NULL) {
        snprintf(err, n, "the nft program is missing (Debian package nftables)");
        return -1;
    }
    if (pipe2(in, O_CLOEXEC) < 0)
        goto sys;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        goto sys;
    }
    pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        goto sys;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* a pipe end that already is 0, 1 or 2 (framespec started with them closed) keeps its
         * number: clear its close-on-exec flag instead of dup2() */
        int map[3] = {in[0], out[1], out[1]};
        for (int fd = 0; fd < 3; fd++)
            if (map[fd] == fd)
                fcntl(fd, F_SETFD, 0);
            else
                dup2(map[fd], fd);
        execl(nft, "nft", "-f", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    for (;;) {
        struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN}, {.fd = in[1], .events = POLLOUT}};
        int64_t left = deadline - sock_now_ms();
        int np = in[1] >= 0 ? 2 : 1;
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (poll(pf, (nfds_t)np, (int)left) < 0 && errno != EINTR) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (np == 2 && pf[1].revents) {
            ssize_t w = write(in[1], script + sent, slen - sent);
            if (w > 0)
                sent += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                sent = slen;
            if (sent == slen) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (pf[0].revents) {
            char sink[512];
            ssize_t r = got < sizeof buf - 1 ? read(out[0], buf + got, sizeof buf - 1 - got)
                                             : read(out[0], sink, sizeof sink); /* keep the start */
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                break;
            if (r > 0 && got < sizeof buf - 1)
                got += (size_t)r;
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    close(out[0]);
    buf[got] = '\0';
    {
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
        if (w != pid) {
            snprintf(err, n, "waitpid for nft: %s", strerror(errno));
            return -1;
        }
    }
    if (!killed && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        snprintf(err, n, "%s", buf); /* what nft printed (a `list` command's answer) */
        return 0;
    }
    {
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = '\0';
        if (killed)
            snprintf(err, n, "nft did not finish within %d ms", timeout_ms);
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
            snprintf(err, n, "cannot run %s", nft);
        else
            snprintf(err, n, "nft failed (%s): %s", WIFEXITED(st) ? "exit status" : "killed",
                     buf[0] ? buf : "no message");
    }
    return -1;
sys:
    snprintf(err, n, "cannot run nft: %s", strerror(errno));
    return -1;
}

long long netns_loss_dropped(void)
{
    char out[2048];
    const char *p;
    if (netns_nft("list chain inet framespec loss\n", 5000, out, sizeof out) < 0 ||
        (p = strstr(out, "counter packets ")) == NULL)
        return -1;
    return strtoll(p + strlen("counter packets "), NULL, 10);
}
