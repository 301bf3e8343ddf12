/*
 * fuzz_cov.c — coverage guidance for `framespec fuzz` from AFL++-instrumented servers. fuzz_cov.h
 * has the contracts and the protocol (AFL++'s afl-compiler-rt.o.c, afl-fuzz-bitmap.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_cov.h"
#include "sock.h"

/* A corpus program and the edge it is kept for (the rarest it reached, when it joined). */
typedef struct {
    fz_program p;
    uint32_t edge;
    uint32_t ms;       /* how long it ran (ms) */
    uint32_t det_full;  /* its deterministic variants (det_count()): 0 unless it reached an
                         * edge never reached before */
    uint32_t det_total; /* of those, the ones it runs: DET_MAX at most, and DET_BUDGET_MS of its
                         * run time; spread over them all */
    atomic_uint det_next; /* the next of them to run (every job takes from it) */
    atomic_int ready;  /* written, readable (entries are never changed once ready) */
} cov_entry;

/* ---- the deterministic stage ---- */

/* a program's deterministic variants, at most (a long program would have thousands), and the
 * time they may take together, in the program's own run time (a slow program gets fewer: 600
 * variants of a 300 ms program would stall a job for three minutes) */
#define DET_MAX 600
#define DET_BUDGET_MS 3000

/* The sizes a deterministic variant appends: the generator's small sizes and its boundaries
 * (fuzz_program.c pick_size(): 0-16, 255/256, 65535/65536, max - 1, max), the way AFL's
 * deterministic stage walks its "interesting values". A maximum over 1 MiB is left to the
 * generator (one draw in 200 there): such a frame costs tens of milliseconds. */
static const uint64_t det_sizes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                     255, 256, 65535, 65536, UINT64_MAX - 1, UINT64_MAX};
#define DET_NSIZES (sizeof det_sizes / sizeof det_sizes[0])

/* The header bytes of a frame of len bytes under f (0 for raw and line: nothing to split). */
static uint64_t header_bytes(const fz_target *t, uint64_t len)
{
    if (wire_is_raw(t->framing) || wire_is_line(t->framing))
        return 0;
    return wire_frame_size(t->framing, (size_t)len) - len;
}

/* Frame v put at index pos (1..nframes: after frame pos - 1) of send action o->a[at]: within it
 * when it has room, else by splitting it in two sends (the frames before, then v and the rest):
 * the bytes on that connection are the same but for v. Write boundaries are dropped. Returns
 * false (o unchanged) when a split has no room for its action. */
static bool insert_frame(fz_program *o, size_t at, size_t pos, uint64_t v)
{
    fz_action *a = &o->a[at], *b;
    a->by = 0; /* the old boundaries would fall elsewhere */
    a->ncuts = 0;
    if (a->nframes < FZ_MAX_FRAMES) {
        memmove(&a->frames[pos + 1], &a->frames[pos], (a->nframes - pos) * sizeof a->frames[0]);
        a->frames[pos] = v;
        a->nframes++;
        return true;
    }
    if (o->n == FZ_MAX_ACTIONS)
        return false;
    memmove(&o->a[at + 2], &o->a[at + 1], (o->n - at - 1) * sizeof o->a[0]);
    o->n++;
    b = &o->a[at + 1];
    *b = *a;
    b->nframes = 0;
    b->frames[b->nframes++] = v;
    for (size_t j = pos; j < a->nframes; j++)
        b->frames[b->nframes++] = a->frames[j];
    a->nframes = pos;
    return true;
}

/*
 * The k-th deterministic variant of p (AFL's deterministic stage, for a program that reached a
 * new edge: each state it reached, one step further): for each send, one more frame of each
 * size of det_sizes after each of its frames, in its last repetition (insert_frame()); then for
 * each send, each frame's
 * header cut after each of its bytes, with a 1 ms pause (the header arrives in two pieces).
 * Returns false when k is past the last (k = 0, 1, ... enumerates them all: det_count()).
 */
static bool det_variant(const fz_program *p, const fz_target *t, uint64_t k, fz_program *out)
{
    uint64_t cap = wire_max_expressible(t->framing);
    cap = t->max_payload < cap ? t->max_payload : cap;
    for (size_t i = 0; i < p->n; i++) {
        const fz_action *a = &p->a[i];
        size_t npos = a->nframes;
        if (a->kind != A_SEND)
            continue;
        if (k < DET_NSIZES * npos) {
            uint64_t v = det_sizes[k % DET_NSIZES];
            size_t pos = (size_t)(k / DET_NSIZES) + 1, at = i; /* after frame pos - 1 */
            v = v == UINT64_MAX ? cap : v == UINT64_MAX - 1 ? (cap ? cap - 1 : 0) : v;
            if (v > cap || (v + 2 > cap && cap > (1u << 20)))
                v = v > cap && cap <= (1u << 20) ? cap : 0; /* (a variant already made) */
            *out = *p;
            if (a->reps > 1) {
                /* in the last repetition: it becomes a send of its own, after the others (the
                 * state they reached is kept) */
                if (out->n == FZ_MAX_ACTIONS)
                    return true; /* no room: the program as it is */
                memmove(&out->a[i + 2], &out->a[i + 1], (p->n - i - 1) * sizeof p->a[0]);
                out->n++;
                out->a[i + 1] = *a;
                out->a[i + 1].reps = 1;
                out->a[i + 1].pause_ms = 0;
                out->a[i].reps--;
                out->a[i].by = 0;
                out->a[i].ncuts = 0;
                at = i + 1;
            }
            if (!insert_frame(out, at, pos, v))
                *out = *p;
            return true;
        }
        k -= DET_NSIZES * npos;
    }
    for (size_t i = 0; i < p->n; i++) {
        const fz_action *a = &p->a[i];
        uint64_t at = 0;
        if (a->kind != A_SEND)
            continue;
        for (size_t j = 0; j < a->nframes; j++) {
            uint64_t h = header_bytes(t, a->frames[j]);
            if (h > 1 && k < h - 1) {
                *out = *p;
                out->a[i].by = 0;
                out->a[i].ncuts = 1;
                out->a[i].cuts[0] = at + 1 + k;
                out->a[i].pause_ms = 1;
                return true;
            }
            k -= h > 1 ? h - 1 : 0;
            at += wire_frame_size(t->framing, (size_t)a->frames[j]);
        }
    }
    return false;
}

/* How many deterministic variants p has (det_variant()). */
static uint32_t det_count(const fz_program *p, const fz_target *t)
{
    uint32_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->a[i].kind != A_SEND)
            continue;
        n += (uint32_t)(DET_NSIZES * p->a[i].nframes);
        for (size_t j = 0; j < p->a[i].nframes; j++) {
            uint64_t h = header_bytes(t, p->a[i].frames[j]);
            n += h > 1 ? (uint32_t)(h - 1) : 0;
        }
    }
    return n;
}

struct cov_shared {
    pthread_rwlock_t lock;      /* the campaign's servers: programs hold it shared, a judgement
                                 * alone exclusively (process-shared, writer-preferring) */
    cov_mode mode;
    size_t size;                /* the segment's bytes (AFL_MAP_SIZE) */
    size_t scan;                /* the bytes the server may write (its map size) */
    atomic_uint_fast64_t edges; /* map bytes some program reached */
    atomic_uint claimed;        /* corpus entries taken (some perhaps not ready yet) */
    atomic_uint ndet;           /* det[] taken */
    atomic_uint det[COV_CORPUS_MAX]; /* corpus entries with deterministic variants, oldest
                                      * first (each + 1: 0 while being written) */
    uint8_t *virgin;            /* [scan]: AFL's virgin bits, 0xff where nothing was seen */
    atomic_uint *hits;          /* [scan]: how many programs reached each edge */
    cov_entry *corpus;          /* [COV_CORPUS_MAX] */
};

/* AFL's hit-count buckets (afl-fuzz-bitmap.c count_class_lookup8). */
static uint8_t bucket(uint8_t c)
{
    return c == 0 ? 0 : c == 1 ? 1 : c == 2 ? 2 : c == 3 ? 4 : c < 8 ? 8 : c < 16 ? 16
           : c < 32 ? 32 : c < 128 ? 64 : 128;
}

/* The modes' names, the one table (--coverage's values). */
static const char *const mode_names[] = {[COV_NONE] = "none", [COV_AFL] = "afl",
                                         [COV_AFL_BLIND] = "afl-blind"};

int cov_parse_mode(const char *arg, cov_mode *mode)
{
    for (int m = COV_AFL; m <= COV_AFL_BLIND; m++)
        if (!strcmp(arg, mode_names[m])) {
            *mode = (cov_mode)m;
            return 0;
        }
    return -1;
}

const char *cov_mode_name(cov_mode mode)
{
    return mode_names[mode];
}

/* ---- the binary ---- */

/* The first word of the command that is not VAR=value or `exec`, into word[0..n). */
static int first_word(const char *exec, char *word, size_t n)
{
    const char *p = exec;
    for (;;) {
        size_t l;
        while (*p == ' ' || *p == '\t')
            p++;
        l = strcspn(p, " \t");
        if (l == 0 || l >= n)
            return -1;
        memcpy(word, p, l);
        word[l] = '\0';
        p += l;
        if (strcmp(word, "exec") != 0 && (strchr(word, '=') == NULL || word[0] == '='))
            return 0;
    }
}

/* The path of `word` as sh would run it (PATH when it has no '/'), into path[0..n). */
static int resolve(const char *word, char *path, size_t n)
{
    const char *dirs = getenv("PATH");
    if (strchr(word, '/')) {
        snprintf(path, n, "%s", word);
        return access(path, X_OK);
    }
    for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
        size_t l = strcspn(d, ":");
        if ((size_t)snprintf(path, n, "%.*s/%s", (int)l, l ? d : ".", word) < n &&
            access(path, X_OK) == 0)
            return 0;
        d += l + (d[l] == ':');
    }
    return -1;
}

/* Run `path` once with AFL_DUMP_MAP_SIZE=1 (stdin /dev/null, fds 198/199 closed, 5 s at most):
 * the size it prints, or 0. */
static size_t dump_map_size(const char *path)
{
    int out[2];
    char buf[64] = "";
    size_t got = 0;
    int64_t end = sock_now_ms() + 5000;
    pid_t pid;
    if (pipe2(out, O_CLOEXEC) < 0)
        return 0;
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(null, 2);
        close(198);
        close(199);
        setenv("AFL_DUMP_MAP_SIZE", "1", 1);
        unsetenv("__AFL_SHM_ID");
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    while (pid > 0 && got < sizeof buf - 1) {
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        int64_t left = end - sock_now_ms();
        ssize_t r;
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            break;
        r = read(out[0], buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(out[0]);
    if (pid > 0) {
        kill(pid, SIGKILL); /* a build that prints nothing would go on as the server */
        waitpid(pid, NULL, 0);
    }
    buf[got] = '\0';
    return (size_t)strtoull(buf, NULL, 10);
}

int cov_check_exec(const char *exec, size_t *need, char *why, size_t n)
{
    char word[1024], path[4096];
    int fd;
    struct stat st;
    uint8_t *img;
    bool marker, dump;
    if (first_word(exec, word, sizeof word) < 0) {
        snprintf(why, n, "cannot find the server's binary in --exec '%s'", exec);
        return -1;
    }
    if (resolve(word, path, sizeof path) < 0) {
        snprintf(why, n, "'%s' (the first word of --exec) is not an executable file, nor one in "
                         "PATH", word);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4) {
        snprintf(why, n, "cannot read %s: %s", path, strerror(fd < 0 ? errno : EINVAL));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) {
        snprintf(why, n, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (memcmp(img, "\177ELF", 4) != 0) {
        snprintf(why, n, "%s is not an ELF binary%s: --coverage afl needs the instrumented "
                         "server itself first in --exec", path,
                 memcmp(img, "#!", 2) ? "" : " (a script)");
        munmap(img, (size_t)st.st_size);
        return -1;
    }
    marker = memmem(img, (size_t)st.st_size, "__AFL_SHM_ID", sizeof "__AFL_SHM_ID") != NULL;
    dump = memmem(img, (size_t)st.st_size, "AFL_DUMP_MAP_SIZE", 17) != NULL;
    munmap(img, (size_t)st.st_size);
    if (!marker) {
        snprintf(why, n, "%s is not instrumented by AFL++ (no __AFL_SHM_ID in it): build it with "
                         "CC=afl-clang-fast (or afl-cc; cargo afl build for Rust)", path);
        return -1;
    }
    *need = dump ? dump_map_size(path) : 0;
    if (*need == 0)
        *need = COV_MIN_MAP;
    return 0;
}

/* ---- the campaign's map and corpus ---- */

cov_shared *cov_shared_new(size_t need, cov_mode mode)
{
    size_t scan = need, size = need < COV_MIN_MAP ? COV_MIN_MAP : need;
    size_t bytes = sizeof(cov_shared) + scan + scan * sizeof(atomic_uint) + 128 +
                   COV_CORPUS_MAX * sizeof(cov_entry);
    uint8_t *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cov_shared *sh;
    if (m == MAP_FAILED) {
        perror("framespec fuzz: --coverage: mmap");
        return NULL;
    }
    size = (size + 63) & ~(size_t)63;
    sh = (cov_shared *)m;
    sh->mode = mode;
    sh->size = size;
    sh->scan = scan;
    sh->virgin = m + sizeof *sh;
    memset(sh->virgin, 0xff, scan);
    sh->hits = (atomic_uint *)(((uintptr_t)(sh->virgin + scan) + 63) & ~(uintptr_t)63);
    sh->corpus = (cov_entry *)(((uintptr_t)(sh->hits + scan) + 63) & ~(uintptr_t)63);
    {
        pthread_rwlockattr_t ra;
        pthread_rwlockattr_init(&ra);
        pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
        pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&sh->lock, &ra);
        pthread_rwlockattr_destroy(&ra);
    }
    return sh; /* the rest is zero (anonymous memory) */
}

bool cov_lock(cov_shared *sh, bool alone, volatile sig_atomic_t *stop)
{
    for (;;) {
        struct timespec ts;
        int e;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        e = alone ? pthread_rwlock_timedwrlock(&sh->lock, &ts)
                  : pthread_rwlock_timedrdlock(&sh->lock, &ts);
        if (e == 0)
            return true;
        if (e != ETIMEDOUT || *stop)
            return false;
    }
}

void cov_unlock(cov_shared *sh)
{
    pthread_rwlock_unlock(&sh->lock);
}

int cov_worker_attach(cov_worker *cw, cov_shared *sh, char *why, size_t n)
{
    char v[32];
    cw->sh = sh;
    cw->shm_id = shmget(IPC_PRIVATE, sh->size, IPC_CREAT | IPC_EXCL | 0600);
    if (cw->shm_id < 0) {
        snprintf(why, n, "shmget(%zu bytes): %s (kernel.shmmax?)", sh->size, strerror(errno));
        return -1;
    }
    cw->map = shmat(cw->shm_id, NULL, 0);
    if (cw->map == (void *)-1) {
        snprintf(why, n, "shmat: %s", strerror(errno));
        shmctl(cw->shm_id, IPC_RMID, NULL);
        cw->map = NULL;
        return -1;
    }
    /* removed now: Linux lets the servers attach it while we are (shmctl(2)), and it cannot
     * outlive the campaign */
    shmctl(cw->shm_id, IPC_RMID, NULL);
    snprintf(v, sizeof v, "%d", cw->shm_id);
    setenv("__AFL_SHM_ID", v, 1);
    snprintf(v, sizeof v, "%zu", sh->size);
    setenv("AFL_MAP_SIZE", v, 1);
    /* what would make the runtime print its size and exit, or wait for afl-fuzz */
    unsetenv("AFL_DUMP_MAP_SIZE");
    unsetenv("AFL_OLD_FORKSERVER");
    unsetenv("AFL_DISABLE_LLVM_INSTRUMENTATION");
    unsetenv("__AFL_PERSISTENT");
    return 0;
}

bool cov_attached(const cov_worker *cw)
{
    return cw->map != NULL && __atomic_load_n(&cw->map[0], __ATOMIC_RELAXED) != 0;
}

void cov_begin(cov_worker *cw)
{
    if (cw->map != NULL)
        memset(cw->map, 0, cw->sh->scan);
    cw->began_ms = sock_now_ms();
}

/* The corpus's ready entries (a prefix, but for ones still being written). */
static unsigned corpus_count(const cov_shared *sh)
{
    unsigned c = atomic_load(&sh->claimed);
    return c < COV_CORPUS_MAX ? c : COV_CORPUS_MAX;
}

unsigned cov_end(cov_worker *cw, const fz_target *t, const fz_program *p)
{
    cov_shared *sh = cw->sh;
    unsigned fresh = 0;
    int news = 0;           /* 2: an edge never reached, 1: a new bucket of a known one */
    uint32_t key = 0, key_hits = UINT32_MAX;
    const uint64_t *w = (const uint64_t *)cw->map;
    if (cw->map == NULL)
        return 0;
    for (size_t k = 0; k < sh->scan / 8 + 1; k++) {
        if (k * 8 < sh->scan && w[k] == 0)
            continue; /* most of the map: nothing */
        for (size_t i = k * 8; i < k * 8 + 8 && i < sh->scan; i++) {
            uint8_t b, old;
            uint32_t h;
            if (i == 0 || cw->map[i] == 0)
                continue; /* map[0]: the runtime's "attached" mark */
            b = bucket(cw->map[i]);
            h = atomic_fetch_add_explicit(&sh->hits[i], 1, memory_order_relaxed) + 1;
            if (h < key_hits) {
                key_hits = h;
                key = (uint32_t)i;
            }
            if ((__atomic_load_n(&sh->virgin[i], __ATOMIC_RELAXED) & b) == 0)
                continue;
            old = __atomic_fetch_and(&sh->virgin[i], (uint8_t)~b, __ATOMIC_RELAXED);
            if ((old & b) == 0)
                continue; /* another job saw it first */
            if (old == 0xff) {
                fresh++;
                news = 2;
            } else if (news == 0)
                news = 1;
        }
    }
    if (fresh)
        atomic_fetch_add(&sh->edges, fresh);
    if (news > 0 && sh->mode == COV_AFL) {
        unsigned at = atomic_fetch_add(&sh->claimed, 1);
        if (at < COV_CORPUS_MAX) {
            sh->corpus[at].p = *p;
            sh->corpus[at].edge = key;
            sh->corpus[at].ms = (uint32_t)(sock_now_ms() - cw->began_ms);
            sh->corpus[at].det_full = news == 2 ? det_count(p, t) : 0;
            {
                uint32_t ms = sh->corpus[at].ms + 1, most = DET_BUDGET_MS / ms;
                most = most < DET_MAX ? most : DET_MAX;
                sh->corpus[at].det_total = sh->corpus[at].det_full < most ? sh->corpus[at].det_full
                                                                          : most;
            }
            atomic_store(&sh->corpus[at].ready, 1);
            if (sh->corpus[at].det_total > 0) {
                unsigned d = atomic_fetch_add(&sh->ndet, 1);
                if (d < COV_CORPUS_MAX)
                    atomic_store(&sh->det[d], at + 1);
            }
            if (cw->verbose) {
                /* -vv: one line (stdio locks the stream for it) */
                flockfile(stderr);
                fprintf(stderr, "framespec fuzz: corpus %u: %u new edge%s (rarest: map[%u]), %u "
                                "deterministic variants of %u: ", at, fresh, fresh == 1 ? "" : "s",
                        key, sh->corpus[at].det_total, sh->corpus[at].det_full);
                fz_encode(stderr, p, t);
                fputc('\n', stderr);
                funlockfile(stderr);
            }
        }
    }
    return fresh;
}

/* The k-th variant an entry runs: all of them in order when it runs them all, else its
 * det_total spread over all (a stride prime to their number), so that a long program's last
 * sends get their share. */
static uint64_t det_index(const cov_entry *e, unsigned k)
{
    uint64_t stride = 7919, a, b;
    if (e->det_full <= e->det_total)
        return k;
    for (;; stride += 2) { /* a stride prime to det_full visits each variant once */
        for (a = stride, b = e->det_full; b != 0;) {
            uint64_t r = a % b;
            a = b;
            b = r;
        }
        if (a == 1)
            break;
    }
    return (uint64_t)k * stride % e->det_full;
}

/* A ready corpus entry drawn at random among the first n (NULL: none ready among 8 tries). */
static const cov_entry *draw(const cov_shared *sh, fz_rng *r, unsigned n)
{
    for (int tries = 0; tries < 8; tries++) {
        const cov_entry *e = &sh->corpus[fz_below(r, n)];
        if (atomic_load(&((cov_entry *)e)->ready))
            return e;
    }
    return NULL;
}

void cov_generate(cov_shared *sh, fz_rng *r, const fz_target *t, const fz_program *fc,
                  size_t nfc, fz_program *out)
{
    unsigned n = sh->mode == COV_AFL ? corpus_count(sh) : 0;
    const cov_entry *best = NULL;
    uint64_t best_score = UINT64_MAX;
    if (n == 0 || fz_below(r, 4) == 0) {
        fz_generate(r, t, fc, nfc, out);
        return;
    }
    /* half of the rest: the deterministic stage of a program that reached a new edge and has
     * variants left: the newest such program half of the time (a state the server reached is
     * taken one step further at once, as a depth-first search would), else one drawn at random
     * among them (none is starved by newer ones) */
    if (fz_below(r, 2) == 0) {
        unsigned nd = atomic_load(&sh->ndet);
        nd = nd < COV_CORPUS_MAX ? nd : COV_CORPUS_MAX;
        for (int pass = 0; pass < 2 && nd > 0; pass++) {
            unsigned from = pass == 0 && fz_below(r, 2) ? (unsigned)fz_below(r, nd) : nd - 1;
            for (unsigned c = from + 1, seen = 0; c-- > 0 && seen < nd; seen++) {
                unsigned at = atomic_load(&sh->det[c]);
                cov_entry *e;
                unsigned k;
                if (at == 0)
                    continue;
                e = &sh->corpus[at - 1];
                if (atomic_load_explicit(&e->det_next, memory_order_relaxed) >= e->det_total)
                    continue;
                k = atomic_fetch_add(&e->det_next, 1);
                if (k < e->det_total && det_variant(&e->p, t, det_index(e, k), out))
                    return;
            }
        }
    }
    /* towards rare edges, and quick programs: of four drawn, the one whose edge fewer programs
     * reached, times what it costs to run (AFL's favoured entries weigh speed too) */
    for (int k = 0; k < 4; k++) {
        const cov_entry *e = draw(sh, r, n);
        uint64_t h = e ? (uint64_t)atomic_load_explicit(&sh->hits[e->edge], memory_order_relaxed) *
                             (e->ms + 2) : 0;
        if (e && h < best_score) {
            best = e;
            best_score = h;
        }
    }
    if (best == NULL) {
        fz_generate(r, t, fc, nfc, out);
        return;
    }
    *out = best->p;
    for (uint64_t k = 1 + fz_below(r, 4); k > 0; k--) {
        const cov_entry *o = draw(sh, r, n);
        fz_mutate(r, t, out, o ? &o->p : NULL);
    }
}

void cov_figures(const cov_shared *sh, uint64_t *edges, uint64_t *corpus)
{
    *edges = atomic_load(&((cov_shared *)sh)->edges);
    *corpus = corpus_count(sh);
}
