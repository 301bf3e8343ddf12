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

void server_print_log_tail(const server_proc *s)
{
    char buf[2048];
    FILE *f = fopen(s->log_path, "r");
    long sz;
    size_t n;
    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    if (n > 0)
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

int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale)
{
    char err[256], line[sizeof s->cmd + 8];
    int64_t deadline;
    int logfd;

    s->exec = exec;
    if (strstr(exec, "{port}") != NULL) {
        char a[64];
        int port = free_port();
        if (port < 0 || build_cmd(s, port) < 0) {
            fprintf(stderr, "framespec: cannot pick a free port, or the --exec command is too long\n");
            return -1;
        }
        snprintf(a, sizeof a, "127.0.0.1:%d", port);
        if (sock_parse_addr(a, &s->addr, err, sizeof err) < 0)
            return -1;
    } else if (addr != NULL) {
        snprintf(s->cmd, sizeof s->cmd, "%s", exec);
        s->addr = *addr;
        s->fixed_addr = true;
    } else {
        fprintf(stderr, "framespec: --exec needs {port} in the command, or --target saying where "
                        "it listens\n");
        return -1;
    }
    if (s->log_path[0] == '\0')
        snprintf(s->log_path, sizeof s->log_path, "/tmp/framespec-server-%d.log", (int)getpid());
    logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* "exec" so that the pid we watch is the server's, not a shell's */
    snprintf(line, sizeof line, "exec %s", s->cmd);
    s->pid = fork();
    if (s->pid < 0) {
        fprintf(stderr, "framespec: fork: %s\n", strerror(errno));
        s->pid = 0;
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
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (!server_running(s)) {
            char how[96];
            server_describe_exit(s, how, sizeof how);
            fprintf(stderr, "framespec: the --exec server %s before it accepted a connection\n"
                            "  command: %s\n", how, s->cmd);
            server_print_log_tail(s);
            return -1;
        }
        if (sock_now_ms() > deadline) {
            fprintf(stderr, "framespec: the --exec server does not accept connections on %s "
                            "after %.0f s\n  command: %s\n", s->addr.text, 10 * scale, s->cmd);
            server_print_log_tail(s);
            server_stop(s, NULL);
            return -1;
        }
        nanosleep(&ts, NULL);
    }
}

void server_stop(server_proc *s, FILE *notes)
{
    int st;
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        struct timespec ts = {0, 10 * 1000000};
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            bool by_term = WIFSIGNALED(st) && (WTERMSIG(st) == SIGTERM || WTERMSIG(st) == SIGINT);
            if (notes && !(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !by_term) {
                char how[96];
                server_describe_status(st, how, sizeof how);
                fprintf(notes, "# the server %s after SIGTERM\n", how);
            }
            s->status = st;
            s->pid = 0;
            return;
        }
        nanosleep(&ts, NULL);
    }
    if (notes)
        fprintf(notes, "# the server did not exit within 5 s of SIGTERM; killed\n");
    kill(-s->pid, SIGKILL);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->status = st;
    s->pid = 0;
}
