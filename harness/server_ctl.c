/*
 * server_ctl.c — a case's requests to the runner about the --exec server (SIGTERM, stop, start
 * again) and its /proc probes (descriptors, resident memory). See fs.h.
 */
#include "fs.h"
#include "server.h"
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the --exec server's lifecycle: requests to the runner ---- */

static const char *ctl_name(int op)
{
    return op == FS_CTL_TERM ? "SIGTERM" : op == FS_CTL_STOP ? "stop" : "start";
}

/* Ask the runner for `op` and wait for the reply (60 s scaled). Returns 0, or -1 (case failed). */
static int ctl(fs_ctx *c, int op, fs_ctl_reply *rep)
{
    fs_ctl_request rq = {.op = op};
    int64_t deadline = fs_deadline(c, 60000);
    memset(rep, 0, sizeof *rep);
    if (c->ctl_fd < 0) {
        fs_fail(c, "this case needs --exec: framespec must launch the server to %s it",
                ctl_name(op));
        return -1;
    }
    if (send(c->ctl_fd, &rq, sizeof rq, MSG_NOSIGNAL) != (ssize_t)sizeof rq) {
        fs_fail(c, "cannot ask the runner for a server %s: %s", ctl_name(op), strerror(errno));
        return -1;
    }
    for (;;) {
        struct pollfd pf = {.fd = c->ctl_fd, .events = POLLIN};
        int64_t left = deadline - sock_now_ms();
        ssize_t n;
        if (left <= 0) {
            fs_fail(c, "the runner did not answer a server %s request within %lld ms",
                    ctl_name(op), (long long)fs_ms(c, 60000));
            return -1;
        }
        poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
        n = recv(c->ctl_fd, rep, sizeof *rep, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof *rep)
            return 0;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        fs_fail(c, "the runner's answer to a server %s request was cut short", ctl_name(op));
        return -1;
    }
}

int fs_server_term(fs_ctx *c)
{
    fs_ctl_reply rep;
    fs_log(c, "SIGTERM to the server (pid %d)", (int)c->cfg->server_pid);
    fs_repro_op(c, -1, SC_SERVER_TERM, 0);
    return ctl(c, FS_CTL_TERM, &rep);
}

int fs_server_stop(fs_ctx *c, char *how, size_t n)
{
    fs_ctl_reply rep;
    fs_repro_op(c, -1, SC_SERVER_STOP, 0);
    if (ctl(c, FS_CTL_STOP, &rep) < 0)
        return -1;
    fs_log(c, "server (pid %d) stopped: %s", (int)c->cfg->server_pid, rep.text);
    c->cfg->server_pid = 0;
    if (how)
        snprintf(how, n, "%s", rep.text);
    return 0;
}

int fs_server_start(fs_ctx *c, bool same_port, char *why, size_t n)
{
    fs_ctl_reply rep;
    fs_repro_op(c, -1, SC_SERVER_START, same_port ? 1 : 0);
    if (ctl(c, same_port ? FS_CTL_START_SAME : FS_CTL_START_NEW, &rep) < 0)
        return -1;
    if (rep.rc != 0) {
        fs_log(c, "the server did not start again: %s", rep.text);
        if (why)
            snprintf(why, n, "%s", rep.text);
        return 1;
    }
    c->cfg->addr = rep.addr;
    c->cfg->server_pid = rep.pid;
    fs_log(c, "server started again: pid %d on %s", (int)rep.pid, rep.addr.text);
    return 0;
}

int fs_server_fds(const fs_ctx *c)
{
    return server_count_fds(c->cfg->server_pid);
}

long fs_server_rss_kb(const fs_ctx *c)
{
    char path[64], line[256];
    FILE *f;
    long kb = -1;
    if (c->cfg->server_pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)c->cfg->server_pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}
