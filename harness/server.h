/*
 * server.h — the server under test when framespec launches it (--exec): pick a free port,
 * substitute {port}, start it, wait until it accepts, watch it, stop it. Used by `framespec run`,
 * `framespec replay` and `framespec bench`.
 *
 * Nothing the server starts outlives framespec. Each start forks a keeper process that makes
 * itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, Linux 3.4; it gets SIGTERM when
 * framespec dies, PR_SET_PDEATHSIG) and runs the server as its child, in a process group of its
 * own. Whatever the server forks stays below the keeper even when it double-forks and calls
 * setsid() (a daemon), because orphans are re-parented to the nearest subreaper. Stopping sends
 * SIGTERM to the server's process group, waits, then has the keeper send SIGTERM and, 1 s later,
 * SIGKILL to every process still below it, and reaps them all.
 *
 * The keeper also carries the server's stdout and stderr (a pipe) into a log file in framespec's
 * private directory (scratch.h), capped: the first 64 KiB and the last 64 KiB are kept, with a
 * line saying how many bytes were left out between them. A server that writes without end costs
 * neither disk nor memory. A restart renames the previous log to server.prev.log.
 */
#ifndef FRAMESPEC_SERVER_H
#define FRAMESPEC_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "sock.h"

typedef struct server_proc_s {
    pid_t pid;           /* the server's pid (the keeper's child); 0 when not running */
    pid_t keeper;        /* the keeper; 0 when none */
    int status_fd;       /* the keeper's reports (read end of a pipe); -1 when none */
    const char *exec;    /* the --exec template as given */
    char cmd[4096];      /* the command as run ({port} substituted) */
    sock_addr addr;      /* where it listens */
    bool fixed_addr;     /* addr came from --target (no {port}) */
    bool term_sent;      /* SIGTERM already sent to the running process */
    unsigned starts;     /* how many times it was started */
    double scale;        /* the --timeout-scale server_start() was given */
    char log_path[4096]; /* its stdout and stderr (capped; see above) */
    int status;          /* wait status once it has exited */
    int left_behind;     /* processes it left running when it exited (a daemon's children) */
} server_proc;

/*
 * Start `exec` (run by /bin/sh as "exec CMD"). With {port} in it, a free port on 127.0.0.1 is
 * substituted and becomes s->addr; otherwise `addr` (from --target) must say where it listens.
 * Waits up to 10 s x scale until it accepts, then 100 ms x scale more to see that it survived the
 * readiness connection (connected and closed without data). Returns 0, or -1 after printing why
 * to stderr: it exited, or exited with status 0 leaving processes behind ("does it
 * daemonize?"), or does not accept, or died right after the readiness connection. Everything it
 * started is stopped before -1 is returned.
 */
int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale);

/*
 * Start the server again after it stopped: with same_port (or a fixed --target address) the same
 * command as before, so it must bind the same port again; otherwise a new free port for {port}.
 * Waits as server_start() does. Returns 0, or -1 with why[0..n) saying how it ended or that it
 * does not accept, followed by the tail of its output.
 */
int server_restart(server_proc *s, bool same_port, double scale, char *why, size_t n);

/* In a why[] of server_restart() (and server_start()'s message), what separates the one-line
 * reason from the tail of the server's output. */
#define SERVER_OUTPUT_TAG "; its output ends with:"

/* The reason alone: the first line of a why[] without SERVER_OUTPUT_TAG, into out[0..n). */
void server_why_reason(const char *why, char *out, size_t n);

/* True while the server process runs; once it has exited, records s->status (and
 * s->left_behind) and returns false. Never blocks. */
bool server_running(server_proc *s);

/* server_running(), but waits up to ms for news of an exit first (a server that crashed a moment
 * ago may still be tearing down): returns false as soon as it is known to have exited. */
bool server_running_wait(server_proc *s, int ms);

/* "killed by signal 13 (SIGPIPE)" / "exited with status 1" for s->status. */
void server_describe_exit(const server_proc *s, char *out, size_t n);

/* Describe a wait status the same way. */
void server_describe_status(int status, char *out, size_t n);

/* The descriptors process pid has open (the entries of /proc/PID/fd), or -1 when pid <= 0 or
 * it cannot be read (it exited). */
int server_count_fds(pid_t pid);

/* Resident set size of process pid in KiB (/proc/PID/status VmRSS), or -1. */
long server_rss_kb(pid_t pid);

/* Is process pid alive (not a zombie: /proc/PID/stat), whoever its parent is? */
bool server_pid_alive(pid_t pid);

/* Print the last 2 KiB of the server's output to stderr. */
void server_print_log_tail(const server_proc *s);

/* SIGTERM to the server's process group, without waiting (once per start). */
void server_term(server_proc *s);

/*
 * Stop the server: SIGTERM to its process group (unless already sent), wait up to timeout_ms for
 * it to exit, then stop everything still below the keeper (SIGTERM, SIGKILL 1 s later) and reap
 * the keeper. how[0..n) (may be NULL) gets "exited with status 0 12 ms after SIGTERM" or "did not
 * exit within 5000 ms of SIGTERM: killed". Returns 0 when it exited by itself, 1 when it had to be
 * killed; 0 too when it was not running (how then says how it had ended).
 */
int server_stop_wait(server_proc *s, int64_t timeout_ms, char *how, size_t n);

/* server_stop_wait() with 5 s; notes an unclean exit, and processes it left behind, on `notes`
 * (TAP comment lines; NULL for none). */
void server_stop(server_proc *s, FILE *notes);

#endif
