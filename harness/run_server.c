/*
 * run_server.c — `framespec run`'s --exec server between and during cases: started again after
 * it dies (and the death charged to the case it happened in, or to none), a daemon refused, and
 * the lifecycle requests of cases (SIGTERM, stop, start) served. See run_state.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "run_state.h"

/* ---- the server under --exec ---- */

/* Start the server again for the remaining cases (a new port when the command has {port}: the
 * old one may be held by TIME_WAIT). A death during the restart's own readiness check is the
 * restart's failure. Returns 0, or -1 after marking the server down for good (rs->gone): the
 * remaining cases are then not run, and no further restart is tried. */
static int restart_for_the_rest(run_state *rs)
{
    char why[2048];
    if (server_restart(&rs->srv, false, rs->cfg.scale, why, sizeof why) == 0) {
        rs->cfg.addr = rs->srv.addr;
        rs->cfg.server_pid = rs->srv.pid;
        printf("# server restarted (%s)\n", rs->cfg.addr.text);
        fflush(stdout);
        return 0;
    }
    rs->cfg.server_pid = 0;
    server_why_reason(why, rs->gone, sizeof rs->gone);
    printf("# could not restart the server: %s\n# the remaining cases are not run\n", rs->gone);
    fflush(stdout);
    fprintf(stderr, "framespec: %s\n", why);
    return -1;
}

/* The server exited with status 0 leaving processes behind: it daemonized. framespec cannot
 * watch it, restart it or stop it by pid, so the run cannot judge: say so once. */
static bool daemonized(run_state *rs)
{
    if (rs->srv.left_behind <= 0 || !WIFEXITED(rs->srv.status) ||
        WEXITSTATUS(rs->srv.status) != 0)
        return false;
    snprintf(rs->gone, sizeof rs->gone,
             "the server exited with status 0 right after start, leaving %d process(es) running "
             "(does it daemonize? framespec must be its parent: run it in the foreground)",
             rs->srv.left_behind);
    fprintf(stderr, "framespec: %s; they were stopped\n", rs->gone);
    printf("# %s\n# the remaining cases are not run\n", rs->gone);
    fflush(stdout);
    server_stop_wait(&rs->srv, 1000, NULL, 0);
    rs->cfg.server_pid = 0;
    rs->setup_error = true;
    return true;
}

/* The server died (how: "killed by signal 11 (SIGSEGV)") at `when` ("during ID"): count and
 * record it, show its output's tail, and restart it for the remaining cases. */
static void died(run_state *rs, const char *how, const char *when)
{
    rs->cfg.server_deaths++;
    if (snprintf(rs->cfg.last_death, sizeof rs->cfg.last_death, "%s %s", how, when) < 0)
        rs->cfg.last_death[0] = '\0'; /* a long `how` is cut: the line above has all of it */
    printf("# the server %s %s; restarting it for the remaining cases\n", how, when);
    fflush(stdout);
    server_print_log_tail(&rs->srv);
    if (restart_for_the_rest(rs) == 0)
        rs->restarts++;
}

/* After a case: did the --exec server die? Then record how, and restart it. Returns true when
 * it died. A server that a case stopped on purpose (lifecycle cases) and left stopped is started
 * again without counting as a death. After a failed case framespec waits up to 100 ms x scale
 * for news of a death (a crash that made the case fail may still be tearing the process down),
 * so that it is charged to this case and not to the next. */
bool run_server_check(run_state *rs, const char *case_id, bool failed, char *how, size_t hn)
{
    if (rs->so.exec == NULL || rs->gone[0] ||
        server_running_wait(&rs->srv, failed ? (int)(100 * rs->cfg.scale) : 2))
        return false;
    if (rs->down_on_purpose) {
        rs->down_on_purpose = false;
        printf("# %s left the server stopped; starting it again for the remaining cases\n",
               case_id);
        restart_for_the_rest(rs);
        return false;
    }
    if (daemonized(rs))
        return false;
    server_describe_exit(&rs->srv, how, hn);
    {
        char when[128];
        snprintf(when, sizeof when, "during %s", case_id);
        died(rs, how, when);
    }
    return true;
}

/* Before a case: a server that died since the last check (after the previous case ended, or
 * right after a restart) died outside any case. It is noted and counted, restarted, and charged
 * to no case; such a death fails the run (rs->cfg.server_deaths). */
void run_server_precheck(run_state *rs, const char *next_id)
{
    char how[96];
    if (rs->so.exec == NULL || rs->gone[0] || rs->down_on_purpose || server_running(&rs->srv))
        return;
    if (daemonized(rs))
        return;
    server_describe_exit(&rs->srv, how, sizeof how);
    rs->outside_deaths++;
    {
        char when[128];
        snprintf(when, sizeof when, "between cases (before %s: no case is charged)", next_id);
        died(rs, how, when);
    }
}

/* A case asked for a server lifecycle step (fs_server_term/stop/start): do it and answer. */
void run_serve_ctl(run_state *rs, int fd)
{
    fs_ctl_request rq;
    fs_ctl_reply rep;
    int64_t stop_ms = (int64_t)(5000 * rs->cfg.scale);
    if (recv(fd, &rq, sizeof rq, MSG_DONTWAIT) != (ssize_t)sizeof rq)
        return;
    memset(&rep, 0, sizeof rep);
    switch (rq.op) {
    case FS_CTL_TERM:
        rs->down_on_purpose = true;
        snprintf(rep.text, sizeof rep.text, "SIGTERM sent to pid %d", (int)rs->srv.pid);
        server_term(&rs->srv);
        break;
    case FS_CTL_STOP:
        rs->down_on_purpose = true;
        rep.rc = server_stop_wait(&rs->srv, rq.ms > 0 ? rq.ms : stop_ms, rep.text,
                                  sizeof rep.text);
        rs->cfg.server_pid = 0;
        break;
    case FS_CTL_START_SAME:
    case FS_CTL_START_NEW:
        if (server_running(&rs->srv))
            server_stop_wait(&rs->srv, stop_ms, NULL, 0);
        rs->down_on_purpose = true;
        if (server_restart(&rs->srv, rq.op == FS_CTL_START_SAME, rs->cfg.scale, rep.text,
                           sizeof rep.text) == 0) {
            rs->down_on_purpose = false;
            rs->cfg.addr = rs->srv.addr;
            rs->cfg.server_pid = rs->srv.pid;
            rep.pid = rs->srv.pid;
            rep.addr = rs->srv.addr;
        } else {
            rs->cfg.server_pid = 0;
            rep.rc = 1;
        }
        break;
    default:
        rep.rc = 1;
        snprintf(rep.text, sizeof rep.text, "unknown request %d", rq.op);
    }
    if (send(fd, &rep, sizeof rep, MSG_NOSIGNAL) != (ssize_t)sizeof rep)
        fprintf(stderr, "framespec run: cannot answer a case's server request: %s\n",
                strerror(errno));
}

