/*
 * server_ctl.c — the --exec server as a case process's interpreter drives it (fs.h,
 * fs_server_ops()): the runner owns the process, so SIGTERM, stop and start are requests to
 * it over the case's ctl socket; the pid is the one it gave.
 */
#include "fs.h"
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Ask the runner for `op` (with ms: how long it may wait, e.g. for the server to exit) and wait
 * for the reply: 60 s scaled, or ms + 5 s scaled when longer. Returns 0, or -1 with why in
 * rep->text. */
static int ctl(fs_ctx *c, int op, int64_t ms, fs_ctl_reply *rep)
{
    fs_ctl_request rq = {.op = op, .ms = ms};
    int64_t wait = ms + fs_ms(c, 5000) > fs_ms(c, 60000) ? ms + fs_ms(c, 5000) : fs_ms(c, 60000);
    int64_t deadline = sock_now_ms() + wait;
    memset(rep, 0, sizeof *rep);
    if (send(c->ctl_fd, &rq, sizeof rq, MSG_NOSIGNAL) != (ssize_t)sizeof rq) {
        snprintf(rep->text, sizeof rep->text, "cannot ask the runner: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        struct pollfd pf = {.fd = c->ctl_fd, .events = POLLIN};
        int64_t left = deadline - sock_now_ms();
        ssize_t n;
        if (left <= 0) {
            snprintf(rep->text, sizeof rep->text, "the runner did not answer within %lld ms",
                     (long long)wait);
            return -1;
        }
        poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
        n = recv(c->ctl_fd, rep, sizeof *rep, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof *rep)
            return 0;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        snprintf(rep->text, sizeof rep->text, "the runner's answer was cut short");
        return -1;
    }
}

static pid_t ctl_pid(void *arg)
{
    fs_ctx *c = arg;
    return server_pid_alive(c->cfg->server_pid) ? c->cfg->server_pid : 0;
}

static bool ctl_running(void *arg, char *how, size_t n)
{
    fs_ctx *c = arg;
    if (server_pid_alive(c->cfg->server_pid))
        return true;
    snprintf(how, n, "pid %d has exited (the runner says how after the case)",
             (int)c->cfg->server_pid);
    return false;
}

static int ctl_term(void *arg)
{
    fs_ctl_reply rep;
    return ctl(arg, FS_CTL_TERM, 0, &rep);
}

static int ctl_stop(void *arg, int64_t ms, char *how, size_t n)
{
    fs_ctx *c = arg;
    fs_ctl_reply rep;
    int rc = ctl(c, FS_CTL_STOP, ms, &rep);
    snprintf(how, n, "%s", rep.text);
    if (rc < 0)
        return -1;
    c->cfg->server_pid = 0;
    return rep.rc != 0 ? 1 : 0;
}

static int ctl_start(void *arg, bool same_port, sock_addr *addr, char *why, size_t n)
{
    fs_ctx *c = arg;
    fs_ctl_reply rep;
    if (ctl(c, same_port ? FS_CTL_START_SAME : FS_CTL_START_NEW, 0, &rep) < 0 || rep.rc != 0) {
        snprintf(why, n, "%s", rep.text);
        return -1;
    }
    c->cfg->addr = rep.addr;
    c->cfg->server_pid = rep.pid;
    *addr = rep.addr;
    return 0;
}

const sc_server *fs_server_ops(fs_ctx *c, sc_server *ops)
{
    if (c->ctl_fd < 0)
        return NULL;
    *ops = (sc_server){.arg = c, .pid = ctl_pid, .running = ctl_running, .term = ctl_term,
                       .stop = ctl_stop, .start = ctl_start};
    return ops;
}
