/*
 * cases_lifecycle.c — group `lifecycle`: stopping and starting the server (docs/spec.md
 * LIFECYCLE-*). These need --exec: the runner stops and starts the server when the scenario
 * says so. Each case writes its scenario (fs.h) and runs it.
 */
#include "cases.h"

/*
 * lifecycle.restart_same_port — (--exec, TCP: TIME_WAIT and SO_REUSEADDR are TCP's) 20
 * connections, each with one echo done; the server is stopped (SIGTERM, SIGKILL after 5 s) and we
 * read each connection to its close and close ours, so the server's side of each, which closed
 * first, goes through TIME_WAIT (RFC 9293 3.6.1: 2 MSL, 60 s on Linux). Then the same command
 * starts it again at once on the same port. A listening socket without SO_REUSEADDR cannot bind
 * while those TIME_WAIT entries last (socket(7)): the server fails to come back after a crash or
 * a deploy for a minute.
 */
void case_lifecycle_restart_same_port(fs_ctx *c)
{
    const char *f = fs_frame(c, 32);
    fs_sc(c, "connect c1..c20");
    fs_sc(c, "c1..c20 send %s", f);
    fs_sc(c, "c1..c20 expect %s within %lld", f, (long long)fs_ms(c, 5000));
    fs_sc(c, "server stop");
    fs_sc(c, "c1..c20 expect closed within %lld", (long long)fs_ms(c, 2000));
    fs_sc(c, "c1..c20 close");
    fs_sc(c, "sleep 20  # our FINs reach the server's side: FIN-WAIT-2 becomes TIME_WAIT");
    fs_sc(c, "server start same-port");
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}

/*
 * lifecycle.sigterm_flush — (--exec, SHOULD) a peer is sending 1 KiB frames and reading their
 * echoes when the server gets SIGTERM (after 200 ms); it goes on sending for 200 ms (a busy client
 * does not know yet), then stops at a frame boundary and reads to the close. It must read an
 * exact prefix of the echo stream, ending at a frame boundary, then EOF (FIN): the server flushed
 * the echoes of the frames it had read, shut down its side, and drained the rest. A server that
 * exits at once closes with unread input, so its kernel sends RST and discards the echoes still
 * in its send buffer (RFC 1122 4.2.2.13). The server must then exit within 5 s; it is started
 * again (on a new port) for the remaining cases. Blind spot: a server that drops the echoes
 * queued in user space at SIGTERM but still closes with FIN at a frame boundary looks the same as
 * one that flushed (the peer cannot tell which frames the server had read).
 */
void case_lifecycle_sigterm_flush(fs_ctx *c)
{
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 stream %s then term after 200 within %lld", fs_frame(c, 1024),
          (long long)fs_ms(c, 15000));
    fs_sc(c, "c1 close");
    fs_sc(c, "expect server-exit within %lld", (long long)fs_ms(c, 5000));
    fs_sc(c, "server start new-port");
    fs_sc_run(c);
}
