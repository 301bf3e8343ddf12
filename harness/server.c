/*
 * server.c — the --exec server process. See server.h.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"

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

/* ---- the log: head and tail of the server's output ---- */

#define LOG_HEAD (64 * 1024)
#define LOG_TAIL (64 * 1024)

typedef struct {
    int fd;
    size_t head;        /* bytes of the head written (<= LOG_HEAD) */
    off_t end;          /* file size */
    uint64_t after;     /* bytes seen after the head */
    uint8_t ring[LOG_TAIL];
    size_t ring_len, ring_pos; /* the last ring_len bytes, oldest at ring_pos when full */
} logcap;

static void ring_add(logcap *l, const uint8_t *p, size_t n)
{
    if (n >= LOG_TAIL) {
        memcpy(l->ring, p + n - LOG_TAIL, LOG_TAIL);
        l->ring_len = LOG_TAIL;
        l->ring_pos = 0;
        return;
    }
    while (n > 0) {
        size_t at = (l->ring_pos + l->ring_len) % LOG_TAIL, k;
        if (l->ring_len < LOG_TAIL) {
            k = LOG_TAIL - l->ring_len;
            if (k > LOG_TAIL - at)
                k = LOG_TAIL - at;
        } else {
            at = l->ring_pos;
            k = LOG_TAIL - at;
        }
        if (k > n)
            k = n;
        memcpy(l->ring + at, p, k);
        if (l->ring_len < LOG_TAIL)
            l->ring_len += k;
        else
            l->ring_pos = (l->ring_pos + k) % LOG_TAIL;
        p += k;
        n -= k;
    }
}

/* The file past the head becomes: a line saying how much was left out, then the last LOG_TAIL
 * bytes. Done when the file reaches head + 2 x LOG_TAIL, so writing costs at most twice. */
static void log_compact(logcap *l)
{
    char mark[128];
    int ml = snprintf(mark, sizeof mark, "\n[framespec: %llu bytes of the server's output left "
                                          "out here]\n",
                      (unsigned long long)(l->after - l->ring_len));
    off_t o = (off_t)l->head;
    size_t first = l->ring_len < LOG_TAIL ? l->ring_len : LOG_TAIL - l->ring_pos;
    if (pwrite(l->fd, mark, (size_t)ml, o) != ml)
        return;
    o += ml;
    if (pwrite(l->fd, l->ring + (l->ring_len < LOG_TAIL ? 0 : l->ring_pos), first, o) !=
        (ssize_t)first)
        return;
    o += (off_t)first;
    if (l->ring_len == LOG_TAIL && l->ring_pos > 0) {
        if (pwrite(l->fd, l->ring, l->ring_pos, o) != (ssize_t)l->ring_pos)
            return;
        o += (off_t)l->ring_pos;
    }
    if (ftruncate(l->fd, o) == 0)
        l->end = o;
}

static void log_write(logcap *l, const uint8_t *p, size_t n)
{
    if (l->fd < 0)
        return;
    if (l->head < LOG_HEAD) {
        size_t k = LOG_HEAD - l->head < n ? LOG_HEAD - l->head : n;
        if (pwrite(l->fd, p, k, (off_t)l->head) == (ssize_t)k) {
            l->head += k;
            l->end = (off_t)l->head;
        }
        p += k;
        n -= k;
    }
    if (n == 0)
        return;
    ring_add(l, p, n);
    l->after += n;
    if (pwrite(l->fd, p, n, l->end) == (ssize_t)n)
        l->end += (off_t)n;
    if (l->end > (off_t)(LOG_HEAD + 2 * LOG_TAIL))
        log_compact(l);
}

/* ---- the keeper ---- */

typedef struct {
    char type;  /* 'P': the server started (pid); 'X': it exited (status, left) */
    int pid;
    int status;
    int left;   /* 'X': processes still below the keeper (it left them running) */
} keeper_msg;

/* The keeper's direct children (orphans of the server land here too), up to max. */
static size_t keeper_children(pid_t *out, size_t max)
{
    char path[64], buf[4096];
    size_t n = 0;
    ssize_t r;
    int fd;
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    for (char *p = buf, *e; n < max; p = e) {
        long v = strtol(p, &e, 10);
        if (e == p)
            break;
        out[n++] = (pid_t)v;
    }
    return n;
}

/* sig to every process below the keeper that is its direct child, and to their process groups. */
static void keeper_signal_all(pid_t srv, int sig)
{
    pid_t kids[512];
    size_t n = keeper_children(kids, 512);
    if (srv > 0)
        kill(-srv, sig);
    for (size_t i = 0; i < n; i++) {
        kill(-kids[i], sig);
        kill(kids[i], sig);
    }
}

static void keeper_send(int fd, char type, int pid, int status, int left)
{
    keeper_msg m = {.type = type, .pid = pid, .status = status, .left = left};
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(3);
}

/*
 * The keeper process (never returns): runs `line` with /bin/sh in its own process group, stdout
 * and stderr into the capped log, reports the server's pid and exit on report_fd, and on
 * SIGUSR1/SIGTERM/SIGINT/SIGHUP (framespec stopping it, or dying: PR_SET_PDEATHSIG) stops every
 * process below it: SIGTERM, then SIGKILL after grace_ms, reaping them all, then exits.
 */
static void keeper_main(const char *line, int logfd, int report_fd, pid_t parent, int grace_ms)
{
    static logcap lc;
    sigset_t set;
    int sfd, out[2], devnull;
    pid_t srv;
    bool srv_alive = true, stopping = false;
    int64_t kill_at = 0;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_NAME, "framespec-keep");
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || pipe2(out, O_CLOEXEC) < 0)
        _exit(3);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    srv = fork();
    if (srv < 0)
        _exit(3);
    if (srv == 0) {
        sigset_t none;
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        /* an AFL++-instrumented server takes an open 199 for afl-fuzz's fork server and waits
         * on 198 (afl-compiler-rt.o.c __afl_start_forkserver): never hand it ours */
        close(198);
        close(199);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    setpgid(srv, srv);
    close(out[1]);
    if (devnull >= 0)
        close(devnull);
    lc.fd = logfd;
    keeper_send(report_fd, 'P', srv, 0, 0);
    for (;;) {
        struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = out[0], .events = POLLIN}};
        int timeout = -1;
        struct signalfd_siginfo si;
        static pid_t kids[512];
        if (stopping) {
            int64_t left = kill_at - sock_now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        if (poll(pf, out[0] >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
            _exit(3);
        if (out[0] >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            static uint8_t buf[65536];
            ssize_t r = read(out[0], buf, sizeof buf);
            if (r > 0) {
                log_write(&lc, buf, (size_t)r);
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(out[0]);
                out[0] = -1;
            }
        }
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo != SIGCHLD && !stopping) {
                stopping = true;
                keeper_signal_all(srv_alive ? srv : 0, SIGTERM);
                kill_at = sock_now_ms() + grace_ms;
            }
        }
        for (;;) {
            int st;
            pid_t w = waitpid(-1, &st, WNOHANG);
            if (w <= 0)
                break;
            if (w == srv) {
                srv_alive = false;
                keeper_send(report_fd, 'X', srv, st, (int)keeper_children(kids, 512));
            }
        }
        if (stopping && sock_now_ms() >= kill_at) {
            keeper_signal_all(srv_alive ? srv : 0, SIGKILL);
            kill_at = sock_now_ms() + 100;
        }
        if (!srv_alive && keeper_children(kids, 1) == 0 && (out[0] < 0 || stopping)) {
            /* nothing below us any more: whatever is left in the pipe, then exit */
            if (out[0] >= 0) {
                static uint8_t buf[65536];
                ssize_t r;
                fcntl(out[0], F_SETFL, O_NONBLOCK);
                while ((r = read(out[0], buf, sizeof buf)) > 0)
                    log_write(&lc, buf, (size_t)r);
            }
            _exit(0);
        }
    }
}

/* ---- framespec's side ---- */

/* Read the keeper's reports, waiting up to timeout_ms for the first. Returns 0, or -1 when the
 * keeper is gone (its pipe closed). */
static int read_reports(server_proc *s, int timeout_ms)
{
    struct pollfd pf = {.fd = s->status_fd, .events = POLLIN};
    if (s->status_fd < 0)
        return -1;
    if (poll(&pf, 1, timeout_ms) <= 0)
        return 0;
    for (;;) {
        keeper_msg m;
        ssize_t r = read(s->status_fd, &m, sizeof m);
        if (r == (ssize_t)sizeof m) {
            if (m.type == 'P') {
                s->pid = m.pid;
            } else if (m.type == 'X' && m.pid == s->pid) {
                s->status = m.status;
                s->left_behind = m.left;
                s->pid = 0;
            }
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        /* EOF: the keeper exited (or was killed): the server cannot be running any more */
        close(s->status_fd);
        s->status_fd = -1;
        if (s->pid > 0) {
            s->status = 0x7f00; /* exited 127: unknown */
            s->pid = 0;
        }
        return -1;
    }
}

/* The last `cap - 1` bytes of the server's output into buf (NUL-terminated). Returns the length. */
static size_t log_tail(const server_proc *s, char *buf, size_t cap)
{
    int fd;
    off_t sz, from;
    ssize_t n;
    buf[0] = '\0';
    if (cap < 2 || s->log_path[0] == '\0' ||
        (fd = open(s->log_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return 0;
    sz = lseek(fd, 0, SEEK_END);
    from = sz > (off_t)cap - 1 ? sz - (off_t)cap + 1 : 0;
    n = pread(fd, buf, cap - 1, from);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

void server_print_log_tail(const server_proc *s)
{
    char buf[2048];
    if (log_tail(s, buf, sizeof buf) > 0)
        fprintf(stderr, "framespec: the server's output, last part (%s):\n%s\n",
                scratch_kept() ? s->log_path : "--keep-logs keeps the whole log", buf);
}

bool server_running(server_proc *s)
{
    if (s->pid <= 0)
        return false;
    read_reports(s, 0);
    return s->pid > 0;
}

void server_why_reason(const char *why, char *out, size_t n)
{
    size_t l = strcspn(why, "\n"), tl = sizeof SERVER_OUTPUT_TAG - 1;
    if (l >= tl && strncmp(why + l - tl, SERVER_OUTPUT_TAG, tl) == 0)
        l -= tl;
    snprintf(out, n, "%.*s", (int)l, why);
}

bool server_running_wait(server_proc *s, int ms)
{
    int64_t end = sock_now_ms() + ms;
    while (server_running(s)) {
        int64_t left = end - sock_now_ms();
        if (left <= 0)
            return true;
        read_reports(s, (int)left);
    }
    return false;
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

/* Stop the keeper and everything below it, and reap it. */
static void stop_keeper(server_proc *s)
{
    int64_t deadline;
    int st;
    if (s->keeper <= 0)
        return;
    kill(s->keeper, SIGUSR1);
    deadline = sock_now_ms() + 3000;
    while (waitpid(s->keeper, &st, WNOHANG) == 0) {
        if (sock_now_ms() > deadline) {
            /* the keeper itself is stuck: the last resort */
            if (s->pid > 0)
                kill(-s->pid, SIGKILL);
            kill(s->keeper, SIGKILL);
            waitpid(s->keeper, &st, 0);
            break;
        }
        read_reports(s, 10);
    }
    read_reports(s, 0); /* the keeper has exited: what it reported last, up to EOF */
    if (s->status_fd >= 0) {
        close(s->status_fd);
        s->status_fd = -1;
    }
    s->keeper = 0;
    if (s->pid > 0) {
        s->status = 0x0009; /* killed by SIGKILL */
        s->pid = 0;
    }
}

/* Run s->cmd under a new keeper and wait until it accepts on s->addr and survives the readiness
 * connection. Returns 0, or -1 with why (+ its output) after stopping everything. */
static int spawn(server_proc *s, double scale, char *why, size_t n)
{
    char line[sizeof s->cmd + 8], how[96];
    int64_t deadline;
    int logfd, rep[2];
    pid_t parent = getpid();
    size_t used;

    if (s->starts > 0)
        scratch_rename("server.log", "server.prev.log");
    logfd = scratch_create("server.log", s->log_path, sizeof s->log_path);
    if (logfd < 0) {
        fprintf(stderr, "framespec: cannot create the server's log file %s: %s; its output is "
                        "discarded\n", s->log_path, strerror(errno));
        s->log_path[0] = '\0';
    }
    if (pipe2(rep, O_CLOEXEC) < 0) {
        snprintf(why, n, "pipe: %s", strerror(errno));
        if (logfd >= 0)
            close(logfd);
        return -1;
    }
    /* "exec" so that the pid we watch is the server's, not a shell's */
    snprintf(line, sizeof line, "exec %s", s->cmd);
    s->term_sent = false;
    s->status = 0;
    s->left_behind = 0;
    s->pid = 0;
    s->starts++;
    fflush(stdout);
    fflush(stderr);
    s->keeper = fork();
    if (s->keeper < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        s->keeper = 0;
        close(rep[0]);
        close(rep[1]);
        if (logfd >= 0)
            close(logfd);
        return -1;
    }
    if (s->keeper == 0) {
        close(rep[0]);
        keeper_main(line, logfd, rep[1], parent, 1000);
    }
    close(rep[1]);
    if (logfd >= 0)
        close(logfd);
    s->status_fd = rep[0];
    fcntl(s->status_fd, F_SETFL, O_NONBLOCK);
    deadline = sock_now_ms() + 5000;
    while (s->pid <= 0 && s->status_fd >= 0 && sock_now_ms() < deadline)
        read_reports(s, 50);
    if (s->pid <= 0) {
        snprintf(why, n, "the keeper process could not start the server");
        stop_keeper(s);
        return -1;
    }
    deadline = sock_now_ms() + (int64_t)(10000 * scale);
    for (;;) {
        int fd = sock_connect(&s->addr, sock_now_ms() + 200);
        struct timespec ts = {0, 20 * 1000000};
        if (fd >= 0) {
            /* the readiness connection: connected, closed without data. A server that dies of
             * it dies now, and that is this start's failure, not the next case's. */
            int64_t settle = sock_now_ms() + (int64_t)(100 * scale);
            close(fd);
            while (server_running(s) && sock_now_ms() < settle)
                read_reports(s, 10);
            if (server_running(s))
                return 0;
            server_describe_exit(s, how, sizeof how);
            if (s->left_behind > 0 && WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0)
                used = (size_t)snprintf(
                    why, n, "the server exited with status 0 right after start, leaving %d "
                            "process(es) running (does it daemonize? framespec must be its "
                            "parent: run it in the foreground); they were stopped",
                    s->left_behind);
            else
                used = (size_t)snprintf(why, n, "the --exec server %s right after framespec's "
                                                "readiness connection to %s (connected and closed "
                                                "without data)",
                                        how, s->addr.text);
        } else if (!server_running(s)) {
            server_describe_exit(s, how, sizeof how);
            if (WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0)
                used = (size_t)snprintf(
                    why, n, "the server exited with status 0 right after start, before it "
                            "accepted on %s (does it daemonize? framespec must be its parent: "
                            "run it in the foreground)%s",
                    s->addr.text, s->left_behind > 0 ? "; what it left running was stopped" : "");
            else
                used = (size_t)snprintf(why, n, "the --exec server %s before it accepted a "
                                                "connection on %s",
                                        how, s->addr.text);
        } else if (sock_now_ms() > deadline) {
            used = (size_t)snprintf(why, n, "the --exec server does not accept connections on %s "
                                            "after %.0f s",
                                    s->addr.text, 10 * scale);
        } else {
            nanosleep(&ts, NULL);
            continue;
        }
        server_stop_wait(s, 2000, NULL, 0);
        if (used < n)
            used += (size_t)snprintf(why + used, n - used, "%s\n", SERVER_OUTPUT_TAG);
        if (used < n)
            log_tail(s, why + used, n - used > 1024 ? 1024 : n - used);
        return -1;
    }
}

int server_start(server_proc *s, const char *exec, const sock_addr *addr, double scale)
{
    char why[2048] = "";
    s->status_fd = -1;
    s->scale = scale;
    if (prepare(s, exec, addr, why, sizeof why) < 0 || spawn(s, scale, why, sizeof why) < 0) {
        fprintf(stderr, "framespec: %s\n  command: %s\n", why, s->cmd);
        return -1;
    }
    return 0;
}

int server_restart(server_proc *s, bool same_port, double scale, char *why, size_t n)
{
    if (server_running(s)) {
        snprintf(why, n, "the server is still running");
        return -1;
    }
    stop_keeper(s); /* what the last one left behind */
    if (!same_port && !s->fixed_addr && prepare(s, s->exec, NULL, why, n) < 0)
        return -1;
    return spawn(s, scale, why, n);
}

void server_term(server_proc *s)
{
    if (s->pid > 0 && !s->term_sent) {
        if (kill(-s->pid, SIGTERM) < 0)
            kill(s->pid, SIGTERM);
        s->term_sent = true;
    }
}

int server_stop_wait(server_proc *s, int64_t timeout_ms, char *how, size_t n)
{
    int64_t t0 = sock_now_ms(), deadline = t0 + timeout_ms;
    char what[96];
    if (!server_running(s)) {
        stop_keeper(s);
        if (how) {
            server_describe_status(s->status, what, sizeof what);
            snprintf(how, n, "had already %s", what);
        }
        return 0;
    }
    server_term(s);
    while (server_running(s) && sock_now_ms() < deadline)
        read_reports(s, 5);
    if (!server_running(s)) {
        if (how) {
            server_describe_status(s->status, what, sizeof what);
            snprintf(how, n, "%s %lld ms after SIGTERM", what, (long long)(sock_now_ms() - t0));
        }
        stop_keeper(s);
        return 0;
    }
    stop_keeper(s);
    if (how)
        snprintf(how, n, "did not exit within %lld ms of SIGTERM: killed", (long long)timeout_ms);
    return 1;
}

void server_stop(server_proc *s, FILE *notes)
{
    char how[160];
    bool running = server_running(s);
    int left = !running && s->keeper > 0 ? s->left_behind : 0;
    int killed = server_stop_wait(s, 5000, how, sizeof how);
    if (notes == NULL)
        return;
    if (!running) {
        if (left > 0)
            fprintf(notes, "# the server had left %d process(es) running when it exited; they "
                           "were stopped\n", left);
        return;
    }
    if (killed) {
        fprintf(notes, "# the server %s\n", how);
    } else if (!(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0) &&
               !(WIFSIGNALED(s->status) &&
                 (WTERMSIG(s->status) == SIGTERM || WTERMSIG(s->status) == SIGINT))) {
        server_describe_status(s->status, how, sizeof how);
        fprintf(notes, "# the server %s after SIGTERM\n", how);
    }
    if (s->left_behind > 0)
        fprintf(notes, "# the server left %d process(es) running when it exited; they were "
                       "stopped\n", s->left_behind);
}

int server_count_fds(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    int n = 0;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

long server_rss_kb(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    long kb = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
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

bool server_pid_alive(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    char *p;
    if (pid <= 0)
        return false;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    if (p == NULL)
        return false;
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}
