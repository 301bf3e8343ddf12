/*
 * server.c — the --exec server process. See server.h.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Substitute every {port}. Returns 0, or -1 when the command is too long. */
static int build_cmd(server_proc *s, int port)
{
    const char *p = s->exec;
    size_t o = 0;
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    while (*p) {
        const char *piece = p;
        size_t l = 1;
        if (strncmp(p, "{port}", 6) == 0) {
            piece = num;
            l = strlen(num);
            p += 6;
        } else {
            p++;
        }
        if (o + l >= sizeof s->cmd)
            return -1;
        memcpy(s->cmd + o, piece, l);
        o += l;
    }
    s->cmd[o] = '\0';
    return 0;
}

void server_describe_status(int st, char *out, size_t n)
{
    if (WIFSIGNALED(st)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(st));
        snprintf(out, n, "killed by signal %d (SIG%s)", WTERMSIG(st), abbrev ? abbrev : "?");
    } else if (WIFEXITED(st)) {
        snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
    } else {
        snprintf(out, n, "wait status 0x%x", st);
    }
}

void server_describe_exit(const server_proc *s, char *out, size_t n)
{
    server_describe_status(s->status, out, n);
}

/* The last `cap - 1` bytes of the server's output into buf (NUL-terminated). Returns the length. */
static size_t log_tail(const server_proc *s, char *buf, size_t cap)
{
    FILE *f;
    long sz;
    size_t n;
    buf[0] = '\0';
    if (cap < 2 || (f = fopen(s->log_path, "r")) == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, sz > (long)cap - 1 ? sz - (long)cap + 1 : 0, SEEK_SET);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

void server_print_log_tail(const server_proc *s)
{
    char buf[2048];
    if (log_tail(s, buf, sizeof buf) > 0)
        fprintf(stderr, "framespec: the server's output (%s), last part:\n%s\n", s->log_path, buf);
}

bool server_running(server_proc *s)
{
    int st;
    if (s->pid <= 0)
        return false;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->status = st;
        s->pid = 0;
        return false;
    }
    return true;
}

/* Pick the port and build s->cmd. Returns 0, or -1 with why. */
static int prepare(server_proc *s, const char *exec, const sock_addr *addr, char *why, size_t n)
{
    char err[256];
    s->exec = exec;
    if (strstr(exec, "{port}") != NULL) {
        char a[64];
        int port = free_port();
        if (port < 0 || build_cmd(s, port) < 0) {
            snprintf(why, n, "cannot pick a free port, or the --exec command is too long");
            return -1;
        }
        snprintf(a, sizeof a, "127.0.0.1:%d", port);
        if (sock_parse_addr(a, &s->addr, err, sizeof err) < 0) {
            snprintf(why, n, "%s", err);
            return -1;
        }
    } else if (addr != NULL) {
        snprintf(s->cmd, sizeof s->cmd, "%s", exec);
        s->addr = *addr;
        s->fixed_addr = true;
    } else {
        snprintf(why, n, "--exec needs {port} in the command, or --target saying where it listens");
        return -1;
    }
    return 0;
}

/* Run s->cmd and wait until it accepts on s->addr. Returns 0, or -1 with why (+ its output). */
static int spawn(server_proc *s, double scale, char *why, size_t n)
{
    char line[sizeof s->cmd + 8];
    int64_t deadline;
    int logfd;

    if (s->log_path[0] == '\0')
        snprintf(s->log_path, sizeof s->log_path, "/tmp/framespec-server-%d.log", (int)getpid());
    logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* "exec" so that the pid we watch is the server's, not a shell's */
    snprintf(line, sizeof line, "exec %s", s->cmd);
    s->term_sent = false;
    s->pid = fork();
    if (s->pid < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        s->pid = 0;
        if (logfd >= 0)
            close(logfd);
        return -1;
    }
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        setpgid(0, 0);
        dup2(devnull, 0);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    if (logfd >= 0)
        close(logfd);
    deadline = sock_now_ms() + (int64_t)(10000 * scale);
    for (;;) {
        int fd = sock_connect(&s->addr, sock_now_ms() + 200);
        struct timespec ts = {0, 20 * 1000000};
        size_t used;
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (!server_running(s)) {
            char how[96];
            server_describe_exit(s, how, sizeof how);
            used = (size_t)snprintf(why, n, "the --exec server %s before it accepted a connection "
                                            "on %s; its output ends with:\n",
                                    how, s->addr.text);
        } else if (sock_now_ms() > deadline) {
            used = (size_t)snprintf(why, n, "the --exec server does not accept connections on %s "
                                            "after %.0f s; its output ends with:\n",
                                    s->addr.text, 10 * scale);
            server_stop_wait(s, 2000, NULL, 0);
        } else {
            nanosleep(&ts, NULL);
            continue;
        }
        if (used < n)
            log_tail(s, why + used, n - used > 1024 ? 1024 : n - used);
        return -1;
    }
}

int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale)
{
    char why[2048];
    if (prepare(s, exec, addr, why, sizeof why) < 0 || spawn(s, scale, why, sizeof why) < 0) {
        fprintf(stderr, "framespec: %s\n  command: %s\n", why, s->cmd);
        return -1;
    }
    return 0;
}

int server_restart(server_proc *s, bool same_port, double scale, char *why, size_t n)
{
    if (s->pid > 0) {
        snprintf(why, n, "the server is still running");
        return -1;
    }
    if (!same_port && !s->fixed_addr && prepare(s, s->exec, NULL, why, n) < 0)
        return -1;
    return spawn(s, scale, why, n);
}

void server_term(server_proc *s)
{
    if (s->pid > 0 && !s->term_sent) {
        kill(s->pid, SIGTERM);
        s->term_sent = true;
    }
}

int server_stop_wait(server_proc *s, int64_t timeout_ms, char *how, size_t n)
{
    int64_t t0 = sock_now_ms(), deadline = t0 + timeout_ms;
    char what[96];
    int st;
    if (s->pid <= 0) {
        if (how) {
            server_describe_status(s->status, what, sizeof what);
            snprintf(how, n, "had already %s", what);
        }
        return 0;
    }
    server_term(s);
    while (sock_now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000000};
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->status = st;
            s->pid = 0;
            if (how) {
                server_describe_status(st, what, sizeof what);
                snprintf(how, n, "%s %lld ms after SIGTERM", what,
                         (long long)(sock_now_ms() - t0));
            }
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    kill(-s->pid, SIGKILL);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->status = st;
    s->pid = 0;
    if (how)
        snprintf(how, n, "did not exit within %lld ms of SIGTERM: killed", (long long)timeout_ms);
    return 1;
}

void server_stop(server_proc *s, FILE *notes)
{
    char how[160];
    bool running = s->pid > 0;
    int killed = server_stop_wait(s, 5000, how, sizeof how);
    if (!running || notes == NULL)
        return;
    if (killed) {
        fprintf(notes, "# the server %s\n", how);
    } else if (!(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0) &&
               !(WIFSIGNALED(s->status) &&
                 (WTERMSIG(s->status) == SIGTERM || WTERMSIG(s->status) == SIGINT))) {
        server_describe_status(s->status, how, sizeof how);
        fprintf(notes, "# the server %s after SIGTERM\n", how);
    }
}
