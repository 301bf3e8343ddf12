/*
 * fuzz_lanes.c — a `framespec fuzz` worker: many programs at once against its server.
 *
 * A worker runs --concurrency lanes (threads of its process); each lane runs one program at a
 * time through the one engine (fuzz.c run_program(), scenario_run.c), so a program waiting out
 * a silence, a pause or a deadline costs a sleeping lane, not the job. Verdicts stay per
 * program: every connection of a program is its own, and the engine judges nothing across
 * programs. What acts on the whole server runs alone, with the other lanes drained first (the
 * worker's rwlock, writer-preferring, taken exclusively):
 *   - programs that SIGTERM or restart the server, or make a peer vanish (nftables rules in the
 *     worker's namespace): A_TERM, A_RESTART, A_VANISH;
 *   - a program that failed beside others: queued, and judged again alone with the others of
 *     the queue once AGAIN_BATCH are waiting, or the first has waited AGAIN_WAIT_MS (or the
 *     campaign ends): only a failure alone is a
 *     finding (its shrinking and confirmation are as they always were, alone); one that holds
 *     alone is counted (report.not_alone), never reported as a violation. A latency bound, or
 *     a deadline on a loaded machine, may fail beside others and hold alone;
 *   - a server found dead beside others is counted (the summary says how it ended, and the
 *     campaign exits 1: a death is a death, even when no program alone reproduces it), started
 *     again alone, and the program that found it dead runs again beside the others;
 *   - descriptor counts (RESOURCES-2, RESET-4): the server's /proc/PID/fd is the whole server's,
 *     so beside others a program is derived without `expect server-released`. Instead, every
 *     CHECK_EVERY programs the server's descriptors beyond its warm-up count are compared with
 *     ours beyond our own (each program's connections are open at both ends), without draining;
 *     when the server's exceed ours by more than CHECK_SLACK three checks running, the lanes are
 *     drained and the server's count must come back to its warm-up count within 1 s. When it
 *     does not, the last RING programs run again alone, with the whole oracle, and the first
 *     that fails is the finding.
 * With --concurrency 1 every program runs alone, as before lanes existed.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fs.h"
#include "fuzz.h"
#include "server.h"

#include "fuzz_int.h"

/* Descriptor checks beside others: one every CHECK_EVERY programs; an audit (drained) after
 * CHECK_STRIKES checks in a row found the server holding more than CHECK_SLACK descriptors
 * beyond ours (connections the one end has closed and the other not yet); the last RING programs
 * are the suspects. */
#define CHECK_EVERY 64
#define CHECK_SLACK 32
#define CHECK_STRIKES 3
#define RING 1024
/* Programs that failed beside others are judged again alone this many at a time, or when the
 * first of them has waited AGAIN_WAIT_MS (a rare failure is not left waiting for others). */
#define AGAIN_BATCH 16
#define AGAIN_WAIT_MS 250
/* A lane's stack: the engine keeps a poll set of up to SC_MAX_CONNS on it (peer.c). */
#define LANE_STACK (1u << 20)

typedef struct {
    worker *w;
    unsigned n;                 /* lanes */
    uint64_t next;              /* the next program of this worker: index w->id + next * jobs */
    int64_t next_report;
    /* under rep_mu: */
    uint64_t ring[RING];        /* the last programs run beside others (a ring), */
    uint64_t nran;              /* ... and how many ran since the last audit */
    /* programs that failed beside others, to judge alone: every lane may add one after the
     * AGAIN_BATCH-th, before the first to see it drains the others */
    uint64_t again[AGAIN_BATCH + MAX_CONCURRENCY];
    size_t nagain;
    int64_t again_since;        /* when the first of them was queued (ms) */
    unsigned strikes;           /* descriptor checks in a row over CHECK_SLACK */
    /* counted alone (or before the lanes start), read beside others: */
    int base_fds;               /* the server's descriptors after its warm-up (-1: not yet) */
    int base_self;              /* ours then */
    unsigned base_starts;       /* ... counted for this start of it (server_proc.starts) */
    /* a lane that is done waits for the others: the server's keeper dies with the thread that
     * forked it (PR_SET_PDEATHSIG follows the thread, prctl(2)) */
    pthread_cond_t all_done;
    unsigned started, finished; /* under rep_mu */
} lanes;

/* After a finding: once a descriptor finding is recorded, later programs skip that check (a
 * leaking server would make each of them wait 5 s, and hide every other bug). Alone. */
static void learn(worker *w, const verdict *v)
{
    if (!strcmp(v->what, "fds"))
        w->t.skip_released = true;
}

/* The worker's report to the parent. The caller holds rep_mu. */
static void send_report(worker *w)
{
    if (write(w->report_fd, &w->rep, sizeof w->rep) != (ssize_t)sizeof w->rep)
        g_stop = 1; /* the parent is gone */
}

/* Program `index` of the campaign (the same program for the same seed and index). */
static void generate(const config *cfg, uint64_t index, fz_program *p)
{
    fz_rng rng = {cfg->seed * 0x9E3779B97F4A7C15ull + index};
    fz_next(&rng);
    if (cfg->cov != NULL)
        cov_generate(cfg->cov, &rng, &cfg->t, cfg->corpus, cfg->ncorpus, p);
    else
        fz_generate(&rng, &cfg->t, cfg->corpus, cfg->ncorpus, p);
}

/* Does p act on the whole server (it must run alone)? */
static bool whole_server(const fz_program *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->a[i].kind == A_TERM || p->a[i].kind == A_RESTART || p->a[i].kind == A_VANISH)
            return true;
    return false;
}

/* The engine's server operations beside other programs: the keeper's reports read under
 * srv_mu (only pid and running are used then: the rest act on the whole server, alone). */
static pid_t locked_pid(void *arg)
{
    worker *w = arg;
    pid_t pid;
    pthread_mutex_lock(&w->srv_mu);
    pid = w->ops.pid(w->ops.arg);
    pthread_mutex_unlock(&w->srv_mu);
    return pid;
}

static bool locked_running(void *arg, char *how, size_t n)
{
    worker *w = arg;
    bool up;
    pthread_mutex_lock(&w->srv_mu);
    up = w->ops.running(w->ops.arg, how, n);
    pthread_mutex_unlock(&w->srv_mu);
    return up;
}

/* Alone, rep_mu held: when the server is not running, it died beside other programs (after a
 * program alone it is always started again): count it, and how it ended, for the summary (a
 * death is a MUST violation even when no program alone reproduces it: exit 1). */
static void count_death(lanes *L)
{
    worker *w = L->w;
    if (L->n < 2 || w->cfg->exec == NULL || server_running(&w->srv))
        return;
    w->rep.deaths++;
    server_describe_exit(&w->srv, w->rep.last_death, sizeof w->rep.last_death);
}

/* Judge program `index` (p) alone: the lane holds the rwlock exclusively, and rep_mu is taken
 * for all of it (a finding's shrinking included). `again`: it failed beside others first.
 * Returns run_program()'s code (1: a finding was handled). With --exec the server is running
 * when it returns (or rep.error is 2: it could not be started). */
static int judge_alone(lanes *L, uint64_t index, const fz_program *p, bool again)
{
    worker *w = L->w;
    verdict v;
    unsigned before;
    int rc;
    /* --coverage with other servers running programs at the same time (fuzz_cov.h cov_lock()) */
    bool campaign = w->cfg->cov != NULL && w->cfg->jobs > 1, held;
    pthread_mutex_lock(&w->rep_mu);
    count_death(L);
    /* a leaking server no longer checked for leaks is restarted now and then, before the leak
     * exhausts its descriptors */
    if (w->t.skip_released && w->programs_on_server > 200)
        restart_server(w);
    cov_begin(&w->cov); /* --coverage: one program at a time, so the map is this one's */
    held = campaign && cov_lock(w->cfg->cov, false, &g_stop);
    rc = run_program(w, p, &v, NULL, false);
    cov_end(&w->cov, &w->t, p);
    if (held)
        cov_unlock(w->cfg->cov);
    if (campaign && rc == 1 && !g_stop) {
        /* it failed beside the other servers' programs: judged again with none running, and
         * kept alone for its shrinking and confirmations */
        held = cov_lock(w->cfg->cov, true, &g_stop);
        again = true;
        rc = run_program(w, p, &v, NULL, false);
    } else
        held = false;
    if (again && rc == 0)
        w->rep.not_alone++;
    if (rc == 3) {
        w->rep.inconclusive++;
        if (w->cfg->verbose)
            fprintf(stderr, "framespec fuzz: worker %u: program %" PRIu64 " inconclusive: %s: "
                            "%s\n", w->id, index, v.f.actual, v.f.idle_note);
    }
    if (rc == 2)
        w->rep.error = 2;
    if (rc == 1) {
        if (w->cfg->verbose)
            fprintf(stderr, "framespec fuzz: worker %u: program %" PRIu64 " violates %s (%s): "
                            "%s; shrinking\n", w->id, index, v.req, v.what, v.f.actual);
        before = w->rep.findings;
        handle_finding(w, index, p, &v);
        learn(w, &v);
        /* --until and --max-findings stop this worker at once (the parent stops the others):
         * the lanes finish their programs, and what is queued is not judged */
        if (w->rep.findings > before &&
            ((w->cfg->until && w->rep.last_confirmed >= CONFIRM_RUNS &&
              fz_until_matches(w->cfg->until, w->rep.last)) ||
             (w->cfg->max_findings && w->rep.findings >= w->cfg->max_findings)))
            g_stop = 1;
        restart_server(w); /* a fresh server for what follows */
        send_report(w);
    }
    if (held)
        cov_unlock(w->cfg->cov);
    /* up again before the other lanes go on: a finding (or a failure that did not confirm)
     * leaves it stopped (restart_server()), and a lane beside others that found it down would
     * count a death that never happened */
    if (w->cfg->exec && ensure_server(w) < 0)
        w->rep.error = 2;
    pthread_mutex_unlock(&w->rep_mu);
    return rc;
}

/* The server's descriptors (alone, --exec), -1 when it is not running. */
static int server_fds(worker *w)
{
    return w->srv.pid > 0 && server_running(&w->srv) ? server_count_fds(w->srv.pid) : -1;
}

/* The baselines of the descriptor checks: the server's and ours, now (alone). */
static void set_base(lanes *L)
{
    L->base_fds = server_fds(L->w);
    L->base_self = server_count_fds(getpid());
    L->base_starts = L->w->srv.starts;
}

/* A descriptor audit (alone; every lane drained): back to the count after the server's warm-up
 * within 1 s (x scale), or the last programs run beside others run again alone, with the whole
 * oracle, until one fails (the finding). */
static void audit(lanes *L)
{
    worker *w = L->w;
    int64_t until = sock_now_ms() + (int64_t)(1000 * w->cfg->t.scale);
    int fds = server_fds(w);
    uint64_t *ring, n;
    if (fds < 0 || w->t.skip_released)
        return;
    if (L->base_fds < 0 || L->base_starts != w->srv.starts) {
        set_base(L); /* a server started since: its count now is its baseline */
        return;
    }
    while (fds > L->base_fds && sock_now_ms() < until) {
        poll(NULL, 0, 10);
        fds = server_fds(w);
    }
    pthread_mutex_lock(&w->rep_mu);
    w->rep.audits++;
    n = L->nran < RING ? L->nran : RING;
    ring = malloc(RING * sizeof *ring);
    if (ring)
        memcpy(ring, L->ring, RING * sizeof *ring);
    L->nran = 0;
    L->strikes = 0;
    pthread_mutex_unlock(&w->rep_mu);
    if (fds > L->base_fds && ring != NULL) {
        if (w->cfg->verbose)
            fprintf(stderr, "framespec fuzz: worker %u: the server holds %d descriptors (%d after "
                            "its warm-up): running the last %" PRIu64 " programs again alone\n",
                    w->id, fds, L->base_fds, n);
        for (uint64_t k = 0; k < n && !g_stop; k++) {
            fz_program p;
            generate(w->cfg, ring[k], &p);
            if (judge_alone(L, ring[k], &p, false) == 1)
                break;
        }
    }
    free(ring);
    if (!w->t.skip_released)
        set_base(L); /* not reproduced alone: what it holds now is the baseline */
}

/* Judge the queued programs that failed beside others, alone (the lane holds the rwlock
 * exclusively). */
static void judge_queue(lanes *L)
{
    worker *w = L->w;
    uint64_t *q = malloc(sizeof L->again);
    size_t n;
    if (q == NULL)
        return;
    pthread_mutex_lock(&w->rep_mu);
    n = L->nagain;
    memcpy(q, L->again, n * sizeof *q);
    L->nagain = 0;
    w->rep.runs += n;
    w->programs_on_server += (unsigned)n;
    pthread_mutex_unlock(&w->rep_mu);
    for (size_t k = 0; k < n && !g_stop; k++) {
        fz_program p;
        generate(w->cfg, q[k], &p);
        judge_alone(L, q[k], &p, true);
    }
    free(q);
}

/* The next program index for a lane, or false when the campaign (or this worker) is done. */
static bool take_index(lanes *L, uint64_t *index)
{
    worker *w = L->w;
    const config *cfg = w->cfg;
    bool ok;
    pthread_mutex_lock(&w->rep_mu);
    *index = w->id + L->next * cfg->jobs;
    ok = !g_stop && w->rep.error == 0 &&
         (cfg->runs ? *index < cfg->runs : sock_now_ms() < w->deadline_ms);
    if (ok)
        L->next++;
    pthread_mutex_unlock(&w->rep_mu);
    return ok;
}

/* A descriptor check beside others (the lane holds the rwlock shared): does the server hold
 * more descriptors beyond its warm-up count than we hold beyond ours, by over CHECK_SLACK? */
static bool over_slack(lanes *L)
{
    worker *w = L->w;
    int srv, self;
    if (L->base_fds < 0 || L->base_starts != w->srv.starts)
        return false; /* the next audit counts the baselines of this server */
    pthread_mutex_lock(&w->srv_mu);
    srv = server_fds(w);
    pthread_mutex_unlock(&w->srv_mu);
    self = server_count_fds(getpid());
    return srv >= 0 && self >= 0 && (srv - L->base_fds) - (self - L->base_self) > CHECK_SLACK;
}

/* After a program beside others (the lane still holds the rwlock shared): count it, remember
 * it, queue it when it failed (rc 1), check descriptors every CHECK_EVERY. Returns what the lane
 * must do alone: 0 nothing, 1 an audit, 2 judge the queue. */
static int ran_beside(lanes *L, uint64_t index, int rc)
{
    worker *w = L->w;
    int todo = 0;
    bool check = false, queue_due;
    pthread_mutex_lock(&w->rep_mu);
    if (rc == 1) {
        if (L->nagain == 0)
            L->again_since = sock_now_ms();
        L->again[L->nagain++] = index; /* counted when judged alone */
    } else {
        w->rep.runs++;
        w->programs_on_server++;
        if (rc == 3)
            w->rep.inconclusive++;
        L->ring[L->nran++ % RING] = index;
        check = w->cfg->exec && !w->t.skip_released && L->nran % CHECK_EVERY == 0;
    }
    queue_due = L->nagain >= AGAIN_BATCH ||
                (L->nagain > 0 && sock_now_ms() - L->again_since >= AGAIN_WAIT_MS);
    if (sock_now_ms() >= L->next_report) {
        send_report(w);
        L->next_report = sock_now_ms() + 250;
    }
    pthread_mutex_unlock(&w->rep_mu);
    if (queue_due)
        return 2; /* a due audit comes at a later check: its strikes stay */
    if (check) {
        bool over = over_slack(L);
        pthread_mutex_lock(&w->rep_mu);
        L->strikes = over ? L->strikes + 1 : 0;
        todo = L->strikes >= CHECK_STRIKES || L->base_fds < 0 ||
                       L->base_starts != w->srv.starts ? 1 : 0;
        pthread_mutex_unlock(&w->rep_mu);
    }
    return todo;
}

static void *lane_main(void *arg)
{
    lanes *L = arg;
    worker *w = L->w;
    uint64_t index;
    while (take_index(L, &index)) {
        fz_program p;
        verdict v;
        int rc = 4, todo = 0;
        bool beside = L->n > 1;
        generate(w->cfg, index, &p);
        if (beside && whole_server(&p))
            beside = false;
        for (int tries = 0; beside && rc == 4 && tries < 3; tries++) {
            pthread_rwlock_rdlock(&w->rw);
            rc = run_program(w, &p, &v, NULL, true);
            if (rc != 4 && rc != 2)
                todo = ran_beside(L, index, rc);
            pthread_rwlock_unlock(&w->rw);
            if ((rc == 1 || rc == 4) && w->cfg->verbose > 1)
                fprintf(stderr, "framespec fuzz: worker %u: program %" PRIu64 " %s beside others"
                                "%s%s%s%s%s\n", w->id, index, rc == 4 ? "found the server down"
                                : "failed", rc == 4 ? "" : " (", rc == 4 ? "" : v.req,
                        rc == 4 ? "" : ", ", rc == 4 ? "" : v.f.actual, rc == 4 ? "" : ")");
            if (rc == 4) {
                /* it died beside others: counted, and started again, alone */
                pthread_rwlock_wrlock(&w->rw);
                pthread_mutex_lock(&w->rep_mu);
                count_death(L);
                pthread_mutex_unlock(&w->rep_mu);
                if (ensure_server(w) < 0) {
                    pthread_mutex_lock(&w->rep_mu);
                    w->rep.error = 2;
                    pthread_mutex_unlock(&w->rep_mu);
                }
                pthread_rwlock_unlock(&w->rw);
            }
        }
        if (beside && rc != 2 && rc != 4) {
            if (todo != 0) {
                pthread_rwlock_wrlock(&w->rw);
                if (todo == 2)
                    judge_queue(L);
                else
                    audit(L);
                pthread_rwlock_unlock(&w->rw);
            }
            continue;
        }
        pthread_rwlock_wrlock(&w->rw);
        pthread_mutex_lock(&w->rep_mu);
        w->rep.runs++;
        w->programs_on_server++;
        if (sock_now_ms() >= L->next_report) {
            send_report(w); /* progress (beside others, ran_beside() sends it) */
            L->next_report = sock_now_ms() + 250;
        }
        pthread_mutex_unlock(&w->rep_mu);
        judge_alone(L, index, &p, beside);
        pthread_rwlock_unlock(&w->rw);
    }
    pthread_mutex_lock(&w->rep_mu);
    L->finished++;
    pthread_cond_broadcast(&L->all_done);
    while (L->finished < L->started)
        pthread_cond_wait(&L->all_done, &w->rep_mu);
    pthread_mutex_unlock(&w->rep_mu);
    return NULL;
}

/* Set up the worker's environment (its engine options, --target's address). 0 or 2. */
static int worker_env(worker *w)
{
    const config *cfg = w->cfg;
    w->t = cfg->t;
    w->env.quiet = true;
    w->env.lenient_send = true;
    w->env.probe_on_fail = true;
    w->env.verbose = cfg->verbose > 1;
    w->env.inbox_min = 64u << 20;
    w->env.scale = cfg->t.scale;
    w->env.idle_ms = (int64_t)(cfg->t.idle_s * 1000);
    if (cfg->target) {
        char err[256];
        if (sock_parse_addr(cfg->target, &w->env.addr, err, sizeof err) < 0) {
            fprintf(stderr, "framespec fuzz: --target: %s\n", err);
            return 2;
        }
    }
    return 0;
}

/* Start the lanes and wait for them. Returns how many started (0: none could). */
static unsigned run_lanes(lanes *L)
{
    pthread_t *tids = calloc(L->n, sizeof *tids);
    pthread_attr_t attr;
    unsigned started = 0;
    if (tids == NULL)
        return 0;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, LANE_STACK);
    pthread_mutex_lock(&L->w->rep_mu);
    L->started = L->n; /* until pthread_create says otherwise: no lane leaves before */
    pthread_mutex_unlock(&L->w->rep_mu);
    for (unsigned k = 0; k < L->n; k++) {
        int e = pthread_create(&tids[k], &attr, lane_main, L);
        if (e != 0) {
            fprintf(stderr, "framespec fuzz: worker %u: %u of %u lanes (pthread_create: %s)\n",
                    L->w->id, started, L->n, strerror(e));
            break;
        }
        started++;
    }
    pthread_mutex_lock(&L->w->rep_mu);
    L->started = started;
    pthread_cond_broadcast(&L->all_done);
    pthread_mutex_unlock(&L->w->rep_mu);
    pthread_attr_destroy(&attr);
    for (unsigned k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    free(tids);
    return started;
}

int fz_worker_main(worker *w)
{
    const config *cfg = w->cfg;
    lanes *L = calloc(1, sizeof *L);
    pthread_rwlockattr_t ra;
    int rc;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* a process group of its own (its keepers and servers join it): a terminal's Ctrl-C reaches
     * the parent only, which stops the workers with SIGUSR1 ("stop after this program") */
    setpgid(0, 0);
    signal(SIGINT, SIG_IGN);
    if (L == NULL || worker_env(w) != 0) {
        free(L);
        return 2;
    }
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&w->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&w->rep_mu, NULL);
    pthread_mutex_init(&w->srv_mu, NULL);
    pthread_cond_init(&L->all_done, NULL);
    w->locked_ops = (sc_server){.arg = w, .pid = locked_pid, .running = locked_running};
    L->w = w;
    L->n = cfg->concurrency > 0 ? cfg->concurrency : 1;
    {
        /* a lane holds up to FZ_MAX_CONNS connections and a probe's */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    L->base_fds = -1;
    if (cfg->cov != NULL) {
        char why[300];
        w->cov.verbose = cfg->verbose > 1;
        if (cov_worker_attach(&w->cov, cfg->cov, why, sizeof why) < 0) {
            fprintf(stderr, "framespec fuzz: --coverage: %s\n", why);
            w->rep.error = 2;
        }
    }
    if (w->rep.error == 0 && ensure_server(w) < 0)
        w->rep.error = 2;
    if (w->rep.error == 0 && cfg->cov != NULL && !cov_attached(&w->cov)) {
        fprintf(stderr, "framespec fuzz: --coverage: the server did not attach its coverage map "
                        "(the runtime of an AFL++ build marks it when it does): is the "
                        "instrumented binary the one --exec runs, without "
                        "AFL_DISABLE_LLVM_INSTRUMENTATION?\n");
        w->rep.error = 2;
    }
    if (w->rep.error != 0) {
        w->rep.error = 2;
        w->rep.done = true;
        send_report(w);
        free(L);
        return 2;
    }
    {
        /* first, the empty program: does a fresh connection get a frame echoed at all? */
        fz_program none = {.n = 0};
        verdict v;
        rc = run_program(w, &none, &v, NULL, false);
        if (rc == 2) {
            w->rep.error = 2;
            g_stop = 1;
        } else if (rc == 1) {
            handle_finding(w, 0, &none, &v);
            learn(w, &v);
            send_report(w);
        }
    }
    if (cfg->exec && !w->t.skip_released && server_running(&w->srv))
        set_base(L); /* after the warm-up echo */
    if (!g_stop && run_lanes(L) == 0)
        w->rep.error = 2;
    if (!g_signalled)
        judge_queue(L); /* what failed beside others last, alone (the lanes are done) */
    w->rep.done = true;
    send_report(w);
    if (cfg->exec)
        server_stop(&w->srv, NULL);
    rc = w->rep.error;
    free(L);
    return rc;
}
