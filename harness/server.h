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
    char log_path[64];   /* its stdout and stderr */
    int status;          /* wait status once it has exited */
} server_proc;

/*
 * Start `exec` (run by /bin/sh as "exec CMD"). With {port} in it, a free port on 127.0.0.1 is
 * substituted and becomes s->addr; otherwise `addr` (from --target) must say where it listens.
 * Waits up to 10 s x scale until it accepts. Returns 0, or -1 after printing why to stderr.
 */
int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale);

/* True while the process runs; once it has exited, records s->status and returns false. */
bool server_running(server_proc *s);

/* "killed by signal 13 (SIGPIPE)" / "exited with status 1" for s->status. */
void server_describe_exit(const server_proc *s, char *out, size_t n);

/* Describe a wait status the same way. */
void server_describe_status(int status, char *out, size_t n);

/* Print the last 2 KiB of the server's output to stderr. */
void server_print_log_tail(const server_proc *s);

/* SIGTERM, wait up to 5 s, then SIGKILL the process group. Notes an unclean exit on `notes`
 * (TAP comment lines; NULL for none). Removes the log unless keep_log. */
void server_stop(server_proc *s, FILE *notes);

#endif
