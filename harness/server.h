/*
 * server.h — the server under test when framespec launches it (--exec): pick a free port,
 * substitute {port}, start it in its own process group, wait until it accepts, watch its pid,
 * stop it. Used by `framespec run` and `framespec replay`.
 */
#ifndef FRAMESPEC_SERVER_H
#define FRAMESPEC_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "sock.h"

typedef struct {
    pid_t pid;           /* 0 when not running */
    const char *exec;    /* the --exec template as given */
    char cmd[4096];      /* the command as run ({port} substituted) */
    sock_addr addr;      /* where it listens */
    bool fixed_addr;     /* addr came from --target (no {port}) */
    bool term_sent;      /* SIGTERM already sent to the running process */
    char log_path[64];   /* its stdout and stderr */
    int status;          /* wait status once it has exited */
} server_proc;

/*
 * Start `exec` (run by /bin/sh as "exec CMD"). With {port} in it, a free port on 127.0.0.1 is
 * substituted and becomes s->addr; otherwise `addr` (from --target) must say where it listens.
 * Waits up to 10 s x scale until it accepts. Returns 0, or -1 after printing why to stderr.
 */
int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale);

/*
 * Start the server again after it stopped: with same_port (or a fixed --target address) the same
 * command as before, so it must bind the same port again; otherwise a new free port for {port}.
 * Waits up to 10 s x scale until it accepts. Returns 0, or -1 with why[0..n) saying how it ended
 * or that it does not accept, followed by the tail of its output.
 */
int server_restart(server_proc *s, bool same_port, double scale, char *why, size_t n);

/* True while the process runs; once it has exited, records s->status and returns false. */
bool server_running(server_proc *s);

/* "killed by signal 13 (SIGPIPE)" / "exited with status 1" for s->status. */
void server_describe_exit(const server_proc *s, char *out, size_t n);

/* Describe a wait status the same way. */
void server_describe_status(int status, char *out, size_t n);

/* Print the last 2 KiB of the server's output to stderr. */
void server_print_log_tail(const server_proc *s);

/* SIGTERM, without waiting (once per process). */
void server_term(server_proc *s);

/*
 * Stop the server: SIGTERM (unless already sent), wait up to timeout_ms for it to exit, then
 * SIGKILL its process group. how[0..n) (may be NULL) gets "exited with status 0 after 12 ms" or
 * "did not exit within 5000 ms of SIGTERM: killed". Returns 0 when it exited by itself, 1 when it
 * had to be killed; 0 too when it was not running (how then says how it had ended).
 */
int server_stop_wait(server_proc *s, int64_t timeout_ms, char *how, size_t n);

/* server_stop_wait() with 5 s; notes an unclean exit on `notes` (TAP comment lines; NULL for
 * none). */
void server_stop(server_proc *s, FILE *notes);

#endif
