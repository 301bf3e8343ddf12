/*
 * cases_resources.c — group `resources` (docs/spec.md RESOURCES-*): what --exec lets framespec see of the
 * server process.
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include "cases.h"

/*
 * resources.descriptors — (--exec) the server's open descriptors return to their baseline within
 * 5 s after 100 connect/echo/close cycles, 50 resets mid-frame and 50 half-closes.
 */
void case_resources_descriptors(fs_ctx *c)
{
    uint8_t payload[16], wire[32], back[32];
    size_t n;
    int base, now = -1;
    int64_t deadline;
    fs_repro(c, "# framespec run counts the server's descriptors (/proc/PID/fd) around this "
                "churn; a script cannot");
    fs_payload(c, payload, sizeof payload, 2);
    n = fs_frame(c, payload, sizeof payload, wire);
    if (!fs_alive(c, "before counting descriptors"))
        return;
    fs_sleep(c, 200);
    base = fs_server_fds(c);
    if (base < 0) {
        fs_fail(c, "cannot list /proc/%d/fd", (int)c->cfg->server_pid);
        return;
    }
    for (int i = 0; i < 200 && !fs_done(c); i++) {
        int fd = sock_connect(&c->cfg->addr, fs_deadline(c, 5000)), kind;
        if (fd < 0) {
            fs_fail(c, "connect %d: %s", i + 1, sock_errno_name(-fd));
            break;
        }
        if (i < 100) { /* echo, close */
            sock_send_all(fd, wire, n, fs_deadline(c, 2000));
            sock_recv_exact(fd, back, n, fs_deadline(c, 2000), &kind);
            close(fd);
        } else if (i < 150) { /* RST mid-frame */
            send(fd, wire, n / 2, MSG_NOSIGNAL);
            fs_sleep(c, 1);
            sock_abort(fd);
        } else { /* half-close at a boundary, read to EOF */
            uint8_t *d = NULL;
            size_t dl;
            sock_send_all(fd, wire, n, fs_deadline(c, 2000));
            shutdown(fd, SHUT_WR);
            fs_read_to_close(c, fd, 2000, 4096, &d, &dl);
            free(d);
            close(fd);
        }
    }
    fs_log(c, "descriptors before: %d", base);
    deadline = fs_deadline(c, 5000);
    while (sock_now_ms() < deadline) {
        now = fs_server_fds(c);
        if (now >= 0 && now <= base)
            break;
        fs_sleep(c, 50);
    }
    fs_log(c, "descriptors after: %d", now);
    if (!fs_done(c) && now > base) {
        fs_expected(c, "open descriptors back to %d within 5 s", base);
        fs_actual(c, "%d open (%d more) after 200 connections closed", now, now - base);
        fs_fail(c, "descriptor leak: %d descriptors not released after churn, RST and half-close",
                now - base);
    }
}

/*
 * resources.alive — (--exec) the server process did not die at any point of this run (the runner
 * watches its pid between cases and restarts it when it dies).
 */
void case_resources_alive(fs_ctx *c)
{
    if (c->cfg->server_deaths > 0) {
        fs_expected(c, "the server process alive throughout the run");
        fs_actual(c, "it died %u time(s); last: %s", c->cfg->server_deaths, c->cfg->last_death);
        fs_fail(c, "the server died %u time(s) during the run", c->cfg->server_deaths);
        return;
    }
    fs_alive(c, "at the end of the run");
}
