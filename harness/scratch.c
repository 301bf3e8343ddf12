/*
 * scratch.c — the private temporary directory. See scratch.h.
 */
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_TRACKED 32

static char dir[PATH_MAX];
static char tracked[MAX_TRACKED][PATH_MAX];
static size_t ntracked;
static pid_t owner;
static bool keep;
static volatile sig_atomic_t cleaning;

/* unlink/rmdir only: safe in a signal handler */
static void remove_all(void)
{
    for (size_t i = 0; i < ntracked; i++)
        if (tracked[i][0])
            unlink(tracked[i]);
    rmdir(dir);
}

void scratch_cleanup(void)
{
    if (dir[0] == '\0' || getpid() != owner || cleaning)
        return;
    cleaning = 1;
    if (keep)
        fprintf(stderr, "framespec: kept the logs in %s (--keep-logs)\n", dir);
    else
        remove_all();
    dir[0] = '\0';
}

static void on_signal(int sig)
{
    if (dir[0] != '\0' && getpid() == owner && !keep && !cleaning) {
        cleaning = 1;
        remove_all();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

const char *scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (dir[0] != '\0')
        return dir;
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if ((size_t)snprintf(dir, sizeof dir, "%s/framespec-XXXXXX", base) >= sizeof dir - 64) {
        dir[0] = '\0';
        errno = ENAMETOOLONG;
        fprintf(stderr, "framespec: $TMPDIR is too long (%s)\n", base);
        return NULL;
    }
    if (mkdtemp(dir) == NULL) {
        int e = errno;
        fprintf(stderr, "framespec: cannot create a private directory in %s: %s (set TMPDIR to a "
                        "writable directory)\n", base, strerror(e));
        dir[0] = '\0';
        errno = e;
        return NULL;
    }
    owner = getpid();
    atexit(scratch_cleanup);
    {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
    }
    return dir;
}

static int track(const char *name, char *path, size_t n)
{
    if (scratch_dir() == NULL)
        return -1;
    if (strchr(name, '/') != NULL || ntracked == MAX_TRACKED ||
        (size_t)snprintf(path, n, "%s/%s", dir, name) >= n ||
        strlen(path) >= sizeof tracked[0]) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (size_t i = 0; i < ntracked; i++)
        if (strcmp(tracked[i], path) == 0)
            return 0;
    snprintf(tracked[ntracked++], sizeof tracked[0], "%s", path);
    return 0;
}

int scratch_create(const char *name, char *path, size_t n)
{
    if (track(name, path, n) < 0)
        return -1;
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int scratch_rename(const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (track(from, a, sizeof a) < 0 || track(to, b, sizeof b) < 0)
        return -1;
    return rename(a, b);
}

void scratch_keep(bool k)
{
    keep = k;
}

bool scratch_kept(void)
{
    return keep;
}

static char deadline_msg[160];
static size_t deadline_len;
static int deadline_code;

static void on_deadline(int sig)
{
    (void)sig;
    if (write(2, deadline_msg, deadline_len) < 0) {
        /* nothing more to do: exiting anyway */
    }
    if (dir[0] != '\0' && getpid() == owner && !keep && !cleaning) {
        cleaning = 1;
        remove_all();
    }
    _exit(deadline_code);
}

void scratch_deadline(const char *cmd, double seconds, int exit_code)
{
    struct itimerval it = {0};
    struct sigaction sa = {.sa_handler = on_deadline};
    int n;
    if (seconds <= 0)
        return;
    n = snprintf(deadline_msg, sizeof deadline_msg,
                 "framespec %s: the --timeout of %g s was reached; stopping\n", cmd, seconds);
    deadline_len = n > 0 && (size_t)n < sizeof deadline_msg ? (size_t)n : 0;
    deadline_code = exit_code;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
}
