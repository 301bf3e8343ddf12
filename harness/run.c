/*
 * run.c — `framespec run` and `framespec list`: select cases, manage the server under test
 * (--target, or --exec: start it on a free port, watch its pid, restart it when it dies, and stop
 * or start it when a case asks), run each case in its own process with a deadline (--repeat N
 * times, with the same server), settle verdicts (report.h), print TAP, write JUnit and JSON.
 *
 * Options: run_opts.c. Exit codes (a CI gate relies on them): 0 no case failed the gate
 * (warnings of SHOULD cases and --expect's expected failures do not; --strict makes warnings and
 * fixed cases fail); 1 a case failed, or a MUST case was flaky, or the --exec server died
 * between cases or could not be restarted, or --timeout was reached; 2 usage error (a port
 * outside 1..65535 too), the target is unreachable, the server daemonizes, or a --junit/--json
 * file cannot be written (checked before the run, and again when written).
 *
 * Deaths of the --exec server are charged where they happened: during a case to that case
 * (after a failed case framespec waits 100 ms x scale for the news), during a restart's
 * readiness check to the restart (the remaining cases are then skipped as "not run"), between
 * cases to no case (the run fails). Case processes die with framespec (PR_SET_PDEATHSIG).
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "opts.h"
#include "report.h"
#include "report_html.h"
#include "scratch.h"
#include "server.h"

#include "run_state.h"

static bool selected(const run_state *rs, const fs_case *c)
{
    char group[64];
    bool in = rs->ncases == 0;
    run_case_group(c->id, group, sizeof group);
    for (size_t i = 0; i < rs->ncases && !in; i++)
        in = fnmatch(rs->cases[i], c->id, 0) == 0 || strcmp(rs->cases[i], group) == 0;
    for (size_t i = 0; i < rs->nexcludes && in; i++)
        in = !(fnmatch(rs->excludes[i], c->id, 0) == 0 || strcmp(rs->excludes[i], group) == 0);
    return in;
}

/* Why a case does not apply to this run (its flags, fs.h), or NULL. A reason that names values
 * is formatted into buf[0..n). */
static const char *not_applicable(const run_state *rs, const fs_case *c, char *buf, size_t n)
{
    const char *why = run_framing_excludes(c->flags, rs->cfg.framing, rs->cfg.max_frame, buf, n);
    if (why != NULL)
        return why;
    if ((c->flags & FS_NEEDS_IDLE) && !rs->idle_given)
        return "no --idle-timeout given (the server's idle timeout)";
    if ((c->flags & FS_NEEDS_EXEC) && rs->so.exec == NULL)
        return "needs --exec (framespec must launch the server to see its pid)";
    if ((c->flags & FS_NEEDS_NETNS) && rs->so.exec == NULL)
        return "needs --exec: framespec starts the server inside its own network namespace "
               "(it cannot move a running --target server there)";
    if ((c->flags & (FS_NEEDS_NETNS | FS_NEEDS_TCP)) && rs->cfg.addr.family == AF_UNIX)
        return "needs a TCP server (this one listens on a unix socket)";
    if ((c->flags & FS_NEEDS_NETNS) && !rs->cfg.netns)
        return rs->cfg.netns_why[0] ? rs->cfg.netns_why : "no network namespace";
    if ((c->flags & FS_NO_LOSS) && rs->cfg.loss_pct > 0)
        return strncmp(c->id, "latency.", 8) == 0
                   ? "not meaningful under --loss: a lost segment waits for the retransmission "
                     "timeout (200 ms at least on Linux), far above the latency bounds"
                   : "not meaningful under --loss: lost keepalive probes make a live peer look "
                     "dead";
    if (rs->cfg.loss_pct > 0 && rs->cfg.idle_ms > 0 && (c->flags & FS_NEEDS_IDLE) == 0) {
        /* a correct server's idle timeout that loss makes fire: cases that cannot tell it apart
         * (the others attribute such a close, and retry: fs_sc_run()) */
        if (rs->cfg.idle_ms <= LOSS_TWICE_MS) {
            snprintf(buf, n, "cannot be judged under --loss with an idle timeout of %lld ms: a "
                     "segment lost twice waits %d ms (RTO 200 ms, then 400 ms), so a correct "
                     "server closes connections this case keeps busy",
                     (long long)rs->cfg.idle_ms, LOSS_TWICE_MS);
            return buf;
        }
        if ((c->flags & FS_MANY_CONNS) && rs->cfg.idle_ms <= LOSS_SYN_TWICE_MS) {
            snprintf(buf, n, "cannot be judged under --loss with an idle timeout of %lld ms: it "
                     "opens many connections at once, and a handshake whose SYN is lost twice "
                     "takes %d ms (initial RTO 1 s, then 2 s: RFC 6298), so a correct server "
                     "closes the first ones, idle meanwhile",
                     (long long)rs->cfg.idle_ms, LOSS_SYN_TWICE_MS);
            return buf;
        }
    }
    if ((c->flags & FS_NEEDS_KEEPALIVE) && rs->cfg.keepalive[0] == 0)
        return "no --keepalive given (the server's keepalive: IDLE,INTVL,CNT)";
    if ((c->flags & FS_NEEDS_IDLE_PROMISE) && rs->cfg.keepalive[0] == 0 && rs->cfg.idle_ms <= 0)
        return "no --keepalive or --idle-timeout given (what the server promises for an idle "
               "peer that vanished)";
    if ((c->flags & FS_NEEDS_ANY_PROMISE) && rs->cfg.user_timeout_ms <= 0 &&
        rs->cfg.idle_ms <= 0 && rs->cfg.keepalive[0] == 0)
        return "no --user-timeout, --idle-timeout or --keepalive given (what the server promises "
               "for dead peers)";
    return NULL;
}

/* ---- running one case ---- */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void make_repro(run_state *rs, const fs_case *fc, const fs_report *res, run_outcome *o);

/* printf into a malloc'd string, or NULL when out of memory. */
__attribute__((format(printf, 1, 2))) static char *fmt_or_null(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* Did the case process end the way a case ends: exit status 0 (pass), 3 (skip), 4 (fail) or 5
 * (a SHOULD failure)? Anything else (a signal, a sanitizer's exit status 1) is a framespec bug. */
static bool case_exited(int st)
{
    return WIFEXITED(st) && (WEXITSTATUS(st) == 0 || (WEXITSTATUS(st) >= 3 && WEXITSTATUS(st) <= 5));
}

/* Why case fc is not run now (it does not apply, the --timeout of the run was reached, the
 * server is down for good), as o's verdict; or false when it is to run. */
static bool not_run(run_state *rs, const fs_case *fc, run_outcome *o)
{
    char buf[512], msg[sizeof rs->gone + 64];
    const char *na = not_applicable(rs, fc, buf, sizeof buf);
    if (na != NULL) {
        o->status = FS_SKIP;
        o->d.message = strdup(na);
        return true;
    }
    if (rs->deadline_ms > 0 && sock_now_ms() >= rs->deadline_ms) {
        snprintf(msg, sizeof msg, "not run: the --timeout of %g s for the whole run was reached",
                 rs->so.timeout_s);
        o->status = FS_FAIL;
        o->d.message = strdup(msg);
        return true;
    }
    run_server_precheck(rs, fc->id);
    if (rs->gone[0]) {
        snprintf(msg, sizeof msg, "not run: %s", rs->gone);
        o->status = FS_SKIP;
        o->d.message = strdup(msg);
        return true;
    }
    return false;
}

/* The longest a deadpeer case may wait for the server's promises (keepalive, user timeout, idle
 * timeout), ms. */
static int64_t longest_promise_ms(const run_state *rs)
{
    const int *k = rs->cfg.keepalive;
    int64_t p = ((int64_t)k[0] + (int64_t)k[1] * k[2]) * 1000;
    if (rs->cfg.user_timeout_ms > p)
        p = rs->cfg.user_timeout_ms;
    if (rs->cfg.idle_ms > p)
        p = rs->cfg.idle_ms;
    return p;
}

/* How long case fc's process may take, ms: its timeout x scale, and for a case that waits out
 * the idle timeout (2.2 T at most: idle.keepalive_frames) 3 T more, for a deadpeer case twice
 * the longest promise more. */
static int64_t case_budget_ms(const run_state *rs, const fs_case *fc)
{
    int64_t ms = (int64_t)(fc->timeout_s * 1000 * rs->cfg.scale);
    if (fc->flags & FS_NEEDS_IDLE)
        ms += (int64_t)(3 * (double)rs->cfg.idle_ms * rs->cfg.scale);
    if (fc->flags & FS_NEEDS_NETNS)
        ms += (int64_t)(2 * (double)longest_promise_ms(rs) * rs->cfg.scale);
    return ms;
}

/* When case fc's process must have ended (case_budget_ms() from t0); *overall when the run's
 * --timeout comes first. */
static int64_t case_deadline(const run_state *rs, const fs_case *fc, int64_t t0, bool *overall)
{
    int64_t deadline = t0 + case_budget_ms(rs, fc);
    *overall = rs->deadline_ms > 0 && deadline > rs->deadline_ms;
    return *overall ? rs->deadline_ms : deadline;
}

/* The case process: run fc with its own copy of the configuration; its records go to res, its
 * verdict is also its exit status (0 pass, 3 skip, 4 fail, 5 a SHOULD failure). */
static void __attribute__((noreturn)) case_process(const run_state *rs, const fs_case *fc,
                                                   fs_result *res, int ctl_fd, pid_t parent)
{
    fs_config cfg = rs->cfg; /* the case's own copy: its server requests update it */
    fs_ctx ctx = {.cfg = &cfg, .res = res, .t0_ns = sock_now_ns(),
                  .rng = rs->cfg.seed ^ hash_id(fc->id), .ctl_fd = ctl_fd,
                  .requirements = fc->requirements};
    /* a case never outlives framespec (SIGINT, --timeout, a crash) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    signal(SIGPIPE, SIG_IGN);
    fs_log(&ctx, "case %s (%s) against %s", fc->id, fc->requirements, rs->cfg.addr.text);
    fc->run(&ctx);
    fs_ctx_free(&ctx);
    fflush(stderr);
    /* the verdict is also the exit status: it counts even when no record could be kept */
    _exit(res->status == FS_PASS ? 0 : res->status == FS_SKIP ? 3 : res->should_only ? 5 : 4);
}

/* Wait for the case process `child` until deadline, serving its server requests on ctl (-1:
 * none); kill it at the deadline. *st gets its wait status; returns true when it timed out. */
static bool wait_case(run_state *rs, pid_t child, int ctl, int64_t deadline, int *st)
{
    for (;;) {
        struct pollfd pf = {.fd = ctl, .events = POLLIN};
        if (waitpid(child, st, WNOHANG) == child)
            return false;
        if (sock_now_ms() > deadline) {
            kill(child, SIGKILL);
            waitpid(child, st, 0);
            return true;
        }
        if (ctl >= 0 && poll(&pf, 1, 2) > 0 && (pf.revents & POLLIN)) {
            run_serve_ctl(rs, ctl);
        } else if (ctl < 0 || pf.revents != 0) {
            struct timespec ts = {0, 2 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

/* A deadpeer case's nftables rules (its engine's chain, v<pid>: scenario_server.c) go once its
 * process has ended, however it ended: created if absent, so that the deletion holds. */
static void remove_case_rules(const run_state *rs, const fs_case *fc, pid_t child)
{
    char err[512], script[256];
    if (!(fc->flags & FS_NEEDS_NETNS) || !rs->cfg.netns)
        return;
    snprintf(script, sizeof script, "add chain inet framespec v%d { type filter hook output "
             "priority -10 ; }\nflush chain inet framespec v%d\ndelete chain inet framespec "
             "v%d\n", (int)child, (int)child, (int)child);
    if (netns_nft(script, 5000, err, sizeof err) < 0)
        fprintf(stderr, "framespec run: cannot remove %s's nftables rules: %s\n", fc->id, err);
}

/* The verdict of a case process that ended with status st (timed_out: killed at its deadline;
 * overall: by the run's --timeout) and left the records rep: into o, taking rep's strings. */
static void settle_outcome(const run_state *rs, const fs_case *fc, int st, bool timed_out,
                           bool overall, fs_report *rep, run_outcome *o)
{
    o->status = rep->status;
    o->should_only = rep->should_only != 0;
    if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) >= 3 && WEXITSTATUS(st) <= 5) {
        /* the exit status says the verdict (the records may not have been kept) */
        o->status = WEXITSTATUS(st) == 3 ? FS_SKIP : FS_FAIL;
        o->should_only = WEXITSTATUS(st) == 5;
    }
    if (timed_out) {
        const char *last = rep->message ? rep->message : "";
        if (overall)
            o->d.message = fmt_or_null(
                "stopped: the --timeout of %g s for the whole run was reached during this "
                "case%s%s", rs->so.timeout_s, last[0] ? "; last: " : "", last);
        else
            o->d.message = fmt_or_null(
                "case timed out after %.0f s (the server stopped answering?)%s%s",
                (double)case_budget_ms(rs, fc) / 1000, last[0] ? "; last: " : "", last);
        o->status = FS_FAIL;
        o->should_only = false; /* the runner's own verdict: a MUST failure */
    } else if (!case_exited(st)) {
        char how[96], msg[256];
        server_describe_status(st, how, sizeof how);
        snprintf(msg, sizeof msg, "the case process %s (a framespec bug: please report it)", how);
        o->status = FS_FAIL;
        o->should_only = false;
        o->d.message = strdup(msg);
    } else {
        o->d.message = rep->message;
        rep->message = NULL;
    }
    o->d.expected = rep->expected;
    o->d.actual = rep->actual;
    o->d.close_kind = rep->close_kind;
    o->d.requirement = rep->requirement;
    o->d.wirelog = rep->wirelog;
    o->note = rep->status == FS_PASS ? rep->note : NULL;
    if (o->note == rep->note)
        rep->note = NULL;
    rep->expected = rep->actual = rep->close_kind = rep->wirelog = rep->requirement = NULL;
}

/* The server died during case fc (how): a RESOURCES-1 failure of the case, whose scenario
 * resources.alive hands on (replayed alone, it makes the server die). A death the case's own
 * `expect server-alive` saw is preferred: one the runner found after a case may have come from
 * an earlier case's connections (a server that dies by SIGPIPE when a queued write meets a
 * reset connection, sometimes), and that case's scenario alone may not make it die. */
static void charge_death(run_state *rs, const fs_case *fc, const char *how, const fs_report *rep,
                         run_outcome *o)
{
    bool seen = o->d.expected != NULL && strcmp(o->d.expected, SC_ALIVE_EXPECTED) == 0;
    size_t ml = strlen(how) + (o->d.message ? strlen(o->d.message) : 0) + 64;
    char *msg = malloc(ml);
    if (msg != NULL) {
        snprintf(msg, ml, "the server %s during this case%s%s", how, o->d.message ? "; " : "",
                 o->d.message ? o->d.message : "");
        free(o->d.message);
        o->d.message = msg;
    }
    o->status = FS_FAIL;
    o->should_only = false; /* a server death breaks RESOURCES-1, a MUST */
    if (rep->repro != NULL && (seen || !rs->death_seen)) {
        free(rs->death_repro);
        rs->death_repro = strdup(rep->repro);
        rs->cfg.death_repro = rs->death_repro;
        rs->death_seen = seen;
        snprintf(rs->cfg.death_case, sizeof rs->cfg.death_case, "%s during %s", how, fc->id);
    }
}

/* Run case fc once in its own process (deadline: its timeout x scale), serving its server
 * requests meanwhile; *o gets the outcome. The case's records go to `records` (a memfd,
 * emptied here), read once its process has ended. */
static void run_once(run_state *rs, const fs_case *fc, int records, run_outcome *o)
{
    fs_report rep = {0};
    fs_result res = {.fd = records};
    int64_t t0 = sock_now_ms(), deadline;
    pid_t child, parent = getpid();
    int st = 0, ctl[2] = {-1, -1};
    bool timed_out, overall;
    char how[96];

    memset(o, 0, sizeof *o);
    if (ftruncate(records, 0) < 0 || lseek(records, 0, SEEK_SET) < 0)
        res.fd = -1; /* the verdict still comes from the exit status below */
    if (not_run(rs, fc, o))
        return;
    deadline = case_deadline(rs, fc, t0, &overall);
    if (rs->so.exec && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        o->status = FS_FAIL;
        o->d.message = strdup("socketpair for the case's server requests failed");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    child = fork();
    if (child == 0) {
        if (ctl[0] >= 0)
            close(ctl[0]);
        case_process(rs, fc, &res, ctl[1], parent);
    }
    if (ctl[1] >= 0)
        close(ctl[1]);
    if (child < 0) {
        if (ctl[0] >= 0)
            close(ctl[0]);
        o->status = FS_FAIL;
        o->d.message = strdup("fork failed");
        return;
    }
    timed_out = wait_case(rs, child, ctl[0], deadline, &st);
    if (ctl[0] >= 0)
        close(ctl[0]);
    remove_case_rules(rs, fc, child);
    o->duration_ms = (long)(sock_now_ms() - t0);
    if (res.fd >= 0 && fs_result_read(records, &rep) < 0)
        fprintf(stderr, "framespec run: cannot read %s's records: %s\n", fc->id, strerror(errno));
    settle_outcome(rs, fc, st, timed_out, overall, &rep, o);
    if (run_server_check(rs, fc->id, o->status == FS_FAIL, how, sizeof how))
        charge_death(rs, fc, how, &rep, o);
    if (o->status == FS_FAIL)
        make_repro(rs, fc, &rep, o);
    fs_report_free(&rep);
}

/* Fold run number `run` (1-based) into the case's record: the first failing run's diagnostics
 * are kept (a skip's reason when no run applied). Takes the outcome's strings. */
static void take_outcome(report_case *rc, run_outcome *o, unsigned run)
{
    rc->duration_ms += o->duration_ms;
    if (o->status == FS_SKIP) {
        if (rc->d.message == NULL) {
            rc->d.message = o->d.message;
            o->d.message = NULL;
        }
    } else if (o->status == FS_FAIL) {
        if (rc->failures < sizeof rc->failed_run / sizeof rc->failed_run[0])
            rc->failed_run[rc->failures] = run;
        if (rc->failures++ == 0) {
            report_diag_free(&rc->d); /* a skip reason of an earlier run */
            rc->d = o->d;
            memset(&o->d, 0, sizeof o->d);
        }
    }
    if (o->status != FS_SKIP)
        rc->runs++;
    report_diag_free(&o->d);
}

/* The options replay needs to run case fc's reproducer as the case ran it: the server's
 * --max-frame when not the default (the scenario's payloads may hold its largest payload + 1),
 * --timeout-scale and --idle-timeout (the server's, as given: its closes are attributed, and
 * `before-idle` steps judge by it); --timeout (the case's budget) when the server's promises may make it
 * sleep past SC_MAX_SLEEP_MS (idle.keepalive_frames sleeps T / 4 at a time, the deadpeer cases
 * up to a promise). Static. */
static const char *replay_options(const run_state *rs, const fs_case *fc)
{
    static char opts[160];
    size_t n = 0;
    opts[0] = '\0';
    if (rs->cfg.max_frame != (16u << 20))
        n += (size_t)snprintf(opts + n, sizeof opts - n, " --max-frame %llu",
                              (unsigned long long)rs->cfg.max_frame);
    if (rs->cfg.scale != 1.0)
        n += (size_t)snprintf(opts + n, sizeof opts - n, " --timeout-scale %g", rs->cfg.scale);
    if (rs->idle_given)
        n += (size_t)snprintf(opts + n, sizeof opts - n, " --idle-timeout %g",
                              (double)rs->cfg.idle_ms / 1000.0);
    if (longest_promise_ms(rs) * rs->cfg.scale > SC_MAX_SLEEP_MS / 4)
        snprintf(opts + n, sizeof opts - n, " --timeout %lld",
                 (long long)((case_budget_ms(rs, fc) + 999) / 1000));
    return opts;
}

/* The failing case's scenario: a header naming it, the framing, the recorded steps. */
static void make_repro(run_state *rs, const fs_case *fc, const fs_report *res, run_outcome *rc)
{
    size_t cap = res->repro_len + 1024;
    char *script = malloc(cap), cmd[1400], path[1024] = "";
    int n;
    if (script == NULL)
        return;
    n = snprintf(script, cap,
                 "# framespec reproducer for %s (%s), seed %llu\n"
                 "# %s\n"
                 "# run it: framespec replay FILE %s%s%s%s\n"
                 "framing %s\n"
                 "requirement %.*s\n",
                 fc->id, fc->requirements, (unsigned long long)rs->cfg.seed, fc->description,
                 rs->so.exec ? "--exec '" : "--target ", rs->so.exec ? rs->so.exec : rs->cfg.addr.text,
                 rs->so.exec ? "'" : "", replay_options(rs, fc), wire_framing_name(&rs->cfg.framing),
                 (int)strcspn(fc->requirements, ","), fc->requirements);
    if (n > 0 && (size_t)n < cap) {
        if (res->repro_len > 0)
            memcpy(script + n, res->repro, res->repro_len);
        script[(size_t)n + res->repro_len] = '\0';
    }
    rc->d.repro = script;
    if (rs->repro_dir) {
        FILE *f;
        snprintf(path, sizeof path, "%s/%s.scenario", rs->repro_dir, fc->id);
        f = fopen(path, "w");
        if (f == NULL || fputs(script, f) < 0) {
            fprintf(stderr, "framespec run: cannot write %s: %s\n", path, strerror(errno));
            path[0] = '\0';
        }
        if (f)
            fclose(f);
    }
    snprintf(cmd, sizeof cmd, "framespec replay %s %s%s%s%s", path[0] ? path : "REPRO.scenario",
             rs->so.exec ? "--exec '" : "--target ", rs->so.exec ? rs->so.exec : rs->cfg.addr.text,
             rs->so.exec ? "'" : "", replay_options(rs, fc));
    rc->d.repro_cmd = strdup(cmd);
}

/* A flaky case's reproducer fails in some runs only: its command replays it as many times as
 * make a miss unlikely (k of N runs failed: 10 N / k runs, at most 100), saying so. */
static void flaky_repro(report_case *rc)
{
    unsigned k = rc->failures ? rc->failures : 1, n = (10 * rc->runs + k - 1) / k;
    char *cmd = NULL;
    if (rc->d.repro_cmd == NULL)
        return;
    if (n > 100)
        n = 100;
    if (asprintf(&cmd, "%s --repeat %u", rc->d.repro_cmd, n) >= 0) {
        free(rc->d.repro_cmd);
        rc->d.repro_cmd = cmd;
    }
}

/* ---- the command ---- */

/* --html FILE: the JSON report (--json's file, else one in the private directory) rendered by
 * framespec report. Returns 0, or 2 with a message. */
static int write_html(const run_state *rs, const report *r)
{
    char tmp[4096];
    const char *json = rs->json;
    if (json == NULL) {
        int fd = scratch_create("report.json", tmp, sizeof tmp);
        if (fd < 0) {
            fprintf(stderr, "framespec run: cannot create a JSON report for --html: %s\n",
                    strerror(errno));
            return 2;
        }
        close(fd);
        if (report_json(r, tmp) < 0) {
            fprintf(stderr, "framespec run: cannot write %s for --html: %s\n", tmp, strerror(errno));
            return 2;
        }
        json = tmp;
    }
    return report_html("run --html", rs->html, &json, 1);
}

/* Enter framespec's private network namespace (netns.h) before the server starts, when --netns or
 * --loss asks for it or a selected case needs it (and the server is one framespec starts, over
 * TCP). When it is only wanted and the process lacks the capabilities, the cases that need it
 * are skipped with the reason (cfg.netns_why). Returns 0, or -1 (exit 2) when a namespace that
 * was asked for cannot be made, or a half-made one cannot be used. */
static int enter_netns(run_state *rs)
{
    const char *why;
    char err[512];
    bool wanted = rs->netns_asked;
    for (size_t i = 0; i < fs_ncases && !wanted; i++)
        wanted = (fs_cases[i].flags & FS_NEEDS_NETNS) && selected(rs, &fs_cases[i]);
    if (rs->netns_asked && rs->so.target && rs->cfg.addr.family == AF_UNIX) {
        fprintf(stderr, "framespec run: %s needs a TCP server: nftables rules and loss act on TCP "
                        "packets, and %s is a unix socket\n",
                rs->cfg.loss_pct > 0 ? "--loss" : "--netns", rs->cfg.addr.text);
        return -1;
    }
    if (!wanted || rs->so.exec == NULL || (rs->so.target && rs->cfg.addr.family == AF_UNIX))
        return 0;
    why = netns_unavailable();
    if (why != NULL) {
        if (rs->netns_asked) {
            fprintf(stderr, "framespec run: %s %s\n",
                    rs->cfg.loss_pct > 0 ? "--loss" : "--netns", why);
            return -1;
        }
        snprintf(rs->cfg.netns_why, sizeof rs->cfg.netns_why, "%s", why);
        return 0;
    }
    switch (netns_enter(rs->cfg.loss_pct, err, sizeof err)) {
    case 0:
        break;
    case -2:
        if (!rs->netns_asked) {
            snprintf(rs->cfg.netns_why, sizeof rs->cfg.netns_why, "no network namespace: %.*s",
                     (int)(sizeof rs->cfg.netns_why - 32), err);
            return 0;
        }
        /* fall through */
    default:
        fprintf(stderr, "framespec run: cannot set up a private network namespace: %s\n", err);
        return -1;
    }
    rs->cfg.netns = true;
    if (rs->cfg.loss_pct > 0)
        /* a segment lost twice in a row, before the connection has an RTT sample, arrives 3 s
         * late (initial RTO 1 s, then 2 s: RFC 6298 2.1, 5.5): 5 % -> x6 */
        rs->cfg.scale *= 1 + rs->cfg.loss_pct;
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Everything before the first case: the options, the selection, the target, the reports'
 * paths (checked now, and an old report emptied, so that CI never reads a stale one), the
 * namespace, the server. Returns 0, or the exit code (2) after printing why. */
static int set_up(run_state *rs, int argc, char **argv, size_t *nsel)
{
    char err[256], err2[1024];
    int rc = run_parse(argc, argv, rs), fd;
    if (rc != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    for (size_t i = 0; i < fs_ncases; i++)
        *nsel += selected(rs, &fs_cases[i]);
    if (*nsel == 0) {
        fprintf(stderr, "framespec run: no case matches the --case/--exclude patterns; "
                        "'framespec list' shows the ids\n");
        return 2;
    }
    if (rs->so.target && sock_parse_addr(rs->so.target, &rs->cfg.addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec run: --target: %s\n", err);
        return 2;
    }
    if (rs->expect_path && expect_load(rs->expect_path, &rs->expect, err2, sizeof err2) < 0) {
        fprintf(stderr, "framespec run: %s\n", err2);
        return 2;
    }
    if ((rs->junit && report_preflight("run", "--junit", rs->junit) < 0) ||
        (rs->write_expect && report_preflight("run", "--write-expect", rs->write_expect) < 0) ||
        (rs->json && report_preflight("run", "--json", rs->json) < 0) ||
        (rs->html && report_preflight("run", "--html", rs->html) < 0) || enter_netns(rs) < 0)
        return 2;
    if (rs->so.timeout_s > 0)
        rs->deadline_ms = sock_now_ms() + (int64_t)(rs->so.timeout_s * 1000);
    if (rs->so.exec) {
        rs->cfg.exec_cmd = rs->so.exec;
        if (server_start(&rs->srv, rs->so.exec, rs->so.target ? &rs->cfg.addr : NULL, rs->cfg.scale) < 0)
            return 2;
        rs->cfg.addr = rs->srv.addr;
        rs->cfg.server_pid = rs->srv.pid;
        return 0;
    }
    fd = sock_connect(&rs->cfg.addr, sock_now_ms() + (int64_t)(5000 * rs->cfg.scale));
    if (fd < 0) {
        fprintf(stderr, "framespec run: cannot connect to %s: %s (%s); is the server running and "
                        "listening there?\n", rs->cfg.addr.text, sock_errno_name(-fd),
                strerror(-fd));
        return 2;
    }
    close(fd);
    return 0;
}

/* The TAP header and the comments that say how the run is made. */
static void print_header(const run_state *rs, size_t nsel)
{
    printf("TAP version 14\n1..%zu\n", nsel);
    printf("# framespec: target %s, framing %s, max frame %llu, idle timeout %s, seed %llu, "
           "timeout scale %g\n",
           rs->so.exec ? rs->srv.cmd : rs->cfg.addr.text, wire_framing_name(&rs->cfg.framing),
           (unsigned long long)rs->cfg.max_frame, rs->idle_given ? "given" : "not given",
           (unsigned long long)rs->cfg.seed, rs->cfg.scale);
    if (rs->cfg.netns)
        printf("# network namespace: framespec's own (loopback only; nftables table inet "
               "framespec)%s\n", rs->cfg.loss_pct > 0 ? "" : "; no loss");
    if (rs->cfg.loss_pct > 0)
        printf("# --loss %g: %g %% of TCP packets dropped at random, in both directions; timing "
               "scale raised to %g\n", rs->cfg.loss_pct, rs->cfg.loss_pct, rs->cfg.scale);
    if (rs->repeat > 1 || rs->strict)
        printf("# every case runs %u time(s) with the same server%s\n", rs->repeat,
               rs->strict ? "; --strict: failing SHOULD cases fail the run" : "");
    if (rs->expect_path)
        printf("# --expect %s: %zu case(s) listed; a failure listed there does not fail the run%s\n",
               rs->expect_path, rs->expect.n,
               rs->strict ? ", a listed failure that passes does (--strict)" : "");
    fflush(stdout);
}

/* Case fc's --repeat runs into rcase (settled, printed as TAP line num of nsel). Returns 1 when
 * it fails the gate. */
static int run_case(run_state *rs, report *r, const fs_case *fc, report_case *rcase, int records,
                    size_t num, size_t nsel)
{
    bool tty = isatty(2);
    unsigned must_failures = 0;
    rcase->c = fc;
    rcase->level = fs_case_level(fc);
    rcase->listed = expect_find(&rs->expect, fc->id);
    for (unsigned run = 1; run <= rs->repeat; run++) {
        run_outcome o;
        bool skipped;
        if (tty && rs->repeat > 1)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s (run %u/%u) ...", num, nsel, fc->id, run,
                    rs->repeat);
        else if (tty)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s ...", num, nsel, fc->id);
        run_once(rs, fc, records, &o);
        skipped = o.status == FS_SKIP;
        must_failures += o.status == FS_FAIL && !o.should_only;
        if (o.status == FS_PASS && o.note != NULL) {
            if (tty)
                fputs("\r\033[K", stderr);
            if (rs->repeat > 1)
                printf("# %s (run %u): %s\n", fc->id, run, o.note);
            else
                printf("# %s: %s\n", fc->id, o.note);
        }
        free(o.note);
        take_outcome(rcase, &o, run);
        if (skipped)
            break; /* does not apply: the same in every run */
    }
    if (rcase->failures > 0 && must_failures == 0)
        rcase->level = FS_SHOULD; /* only its SHOULD requirement was broken: a warning */
    report_settle(rcase, rs->strict);
    if (rcase->verdict == REPORT_FLAKY)
        flaky_repro(rcase);
    r->n = num;
    if (tty)
        fputs("\r\033[K", stderr);
    report_tap_case(stdout, r, rcase, num);
    return report_gate_fails(r, rcase) ? 1 : 0;
}

/* The end: the server stopped, the summary, the report files. Returns the exit code. */
static int finish(run_state *rs, report *r, size_t gate_failures)
{
    int rc;
    if (rs->cfg.loss_pct > 0)
        printf("# --loss %g: nftables dropped %lld TCP packets during the run\n",
               rs->cfg.loss_pct, netns_loss_dropped());
    server_stop(&rs->srv, stdout);
    if (rs->restarts)
        printf("# the server was restarted %u time(s) after dying\n", rs->restarts);
    if (rs->outside_deaths)
        printf("# the server died %u time(s) between cases: the run fails\n", rs->outside_deaths);
    if (rs->deadline_ms > 0 && sock_now_ms() >= rs->deadline_ms)
        printf("# the --timeout of %g s for the whole run was reached\n", rs->so.timeout_s);
    printf("# seed %llu; %ld ms\n", (unsigned long long)rs->cfg.seed, r->total_ms);
    report_tap_summary(stdout, r);
    rc = gate_failures || rs->outside_deaths || rs->gone[0] ? 1 : 0;
    if (rs->setup_error)
        rc = 2;
    if (rs->junit && report_junit(r, rs->junit) < 0) {
        fprintf(stderr, "framespec run: cannot write --junit %s: %s\n", rs->junit, strerror(errno));
        rc = 2;
    }
    if (rs->json && report_json(r, rs->json) < 0) {
        fprintf(stderr, "framespec run: cannot write --json %s: %s\n", rs->json, strerror(errno));
        rc = 2;
    }
    if (rs->html && write_html(rs, r) != 0)
        rc = 2;
    if (rs->write_expect && expect_write(r, rs->write_expect) < 0) {
        fprintf(stderr, "framespec run: cannot write --write-expect %s: %s\n", rs->write_expect,
                strerror(errno));
        rc = 2;
    }
    return rc;
}

int run_main(int argc, char **argv)
{
    run_state *rs = calloc(1, sizeof *rs);
    report r = {0};
    size_t nsel = 0, num = 0, gate_failures = 0;
    int rc, records;
    int64_t t0;
    if (rs == NULL)
        return 2;
    rc = set_up(rs, argc, argv, &nsel);
    if (rc != 0) {
        expect_free(&rs->expect);
        free(rs);
        return rc;
    }
    /* the cases' records (fs.h): a file in memory, never on disk, gone with the last process
     * that holds it */
    records = memfd_create("framespec-case-records", MFD_CLOEXEC);
    r.cases = calloc(nsel, sizeof *r.cases);
    if (records < 0 || r.cases == NULL) {
        fprintf(stderr, "framespec run: %s\n", records < 0 ? "memfd_create failed" : "out of memory");
        server_stop(&rs->srv, NULL);
        free(r.cases);
        expect_free(&rs->expect);
        free(rs);
        return 2;
    }
    if (rs->repro_dir && mkdir(rs->repro_dir, 0755) < 0 && errno != EEXIST)
        fprintf(stderr, "framespec run: cannot create --repro-dir %s: %s\n", rs->repro_dir,
                strerror(errno));
    r.cfg = &rs->cfg;
    r.target_text = rs->so.exec ? rs->so.exec : rs->cfg.addr.text;
    r.label = rs->label;
    r.repeat = rs->repeat;
    r.strict = rs->strict;
    r.expect_path = rs->expect_path;
    print_header(rs, nsel);
    t0 = sock_now_ms();
    for (size_t i = 0; i < fs_ncases; i++)
        if (selected(rs, &fs_cases[i])) {
            num++;
            gate_failures += (size_t)run_case(rs, &r, &fs_cases[i], &r.cases[num - 1], records,
                                              num, nsel);
        }
    r.total_ms = (long)(sock_now_ms() - t0);
    rc = finish(rs, &r, gate_failures);
    for (size_t i = 0; i < r.n; i++)
        report_diag_free(&r.cases[i].d);
    free(r.cases);
    close(records);
    free(rs->death_repro);
    expect_free(&rs->expect);
    free(rs);
    return rc;
}
