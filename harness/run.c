/*
 * run.c — `framespec run` and `framespec list`: select cases, manage the server under test
 * (--target, or --exec: start it on a free port, watch its pid, restart it when it dies, and stop
 * or start it when a case asks), run each case in its own process with a deadline (--repeat N
 * times, with the same server), settle verdicts (report.h), print TAP, write JUnit and JSON.
 *
 * Exit codes (a CI gate relies on them): 0 no case failed the gate (warnings of SHOULD cases do
 * not, unless --strict); 1 a case failed, or a MUST case was flaky, or the --exec server died
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

#define MAX_GLOBS 64
/* Under --loss: the delay of a data segment lost twice in a row (Linux's minimum RTO 200 ms,
 * doubled: tcp(7), RFC 6298 5.5), and of a handshake whose SYN is (initial RTO 1 s, then 2 s). */
#define LOSS_TWICE_MS 600
#define LOSS_SYN_TWICE_MS 3000

typedef struct {
    fs_config cfg;
    const char *target;
    const char *exec;
    const char *junit, *json, *repro_dir;
    const char *html;  /* --html FILE: the page framespec report renders from the JSON report */
    const char *label; /* --label TEXT: the implementation's name in the reports */
    const char *cases[MAX_GLOBS], *excludes[MAX_GLOBS];
    size_t ncases, nexcludes;
    bool idle_given;
    bool netns_asked; /* --netns (or --loss): a namespace is required, not just wanted */
    unsigned repeat; /* --repeat N */
    bool strict;     /* --strict */
    int64_t deadline_ms; /* --timeout: the whole run ends by then (sock_now_ms); 0 = none */
    double timeout_s;
    /* --exec state */
    server_proc srv;
    unsigned restarts;
    bool down_on_purpose; /* a case stopped the server (SIGTERM/stop) and has not started it */
    char gone[512];       /* why the server is down for good (no more restarts); "" while not */
    bool setup_error;     /* the run cannot judge (a daemonizing server): exit 2 */
    unsigned outside_deaths; /* deaths between cases: they fail the run */
    char *death_repro;    /* the scenario of the case the server last died in (cfg.death_repro) */
} run_state;

/* One run of one case. */
typedef struct {
    int status; /* FS_PASS / FS_FAIL / FS_SKIP */
    bool should_only; /* failed a SHOULD requirement only (fs_warn) */
    long duration_ms;
    report_diag d;
    char *note; /* what a passing run measured (a TAP comment), or NULL; the caller frees */
} run_outcome;

static const char *group_of(const char *id, char *buf, size_t n)
{
    const char *dot = strchr(id, '.');
    size_t l = dot ? (size_t)(dot - id) : strlen(id);
    if (l >= n)
        l = n - 1;
    memcpy(buf, id, l);
    buf[l] = '\0';
    return buf;
}

static bool selected(const run_state *rs, const fs_case *c)
{
    char group[64];
    bool in = rs->ncases == 0;
    group_of(c->id, group, sizeof group);
    for (size_t i = 0; i < rs->ncases && !in; i++)
        in = fnmatch(rs->cases[i], c->id, 0) == 0 || strcmp(rs->cases[i], group) == 0;
    for (size_t i = 0; i < rs->nexcludes && in; i++)
        in = !(fnmatch(rs->excludes[i], c->id, 0) == 0 || strcmp(rs->excludes[i], group) == 0);
    return in;
}

/* The framings `list --markdown` names in its "applies" column (one of each kind of header). */
static const char *const all_framings[] = {"raw", "1", "2", "4", "line", "u24", "u64le",
                                           "4,adjust=-4", "varint"};

/* Why a case with `flags` does not apply to framing f with --max-frame max (bytes), or NULL. A
 * reason that names values is formatted into buf[0..n). */
static wire_framing line_framing(void)
{
    wire_framing f = wire_default_framing();
    char err[64];
    wire_parse_framing("line", &f, err, sizeof err);
    return f;
}

static const char *framing_excludes(unsigned flags, wire_framing f, uint64_t max, char *buf,
                                    size_t n)
{
    if ((flags & FS_LINE_ONLY) && !wire_is_line(f))
        return "only for line framing";
    if ((flags & FS_NEEDS_HEADER) && !wire_has_header(f))
        return wire_is_raw(f) ? "raw framing has no frames" : "line framing has no header";
    if ((flags & FS_NEEDS_FRAMED) && wire_is_raw(f))
        return "raw framing has no frames";
    if ((flags & FS_NOT_LINE) && wire_is_line(f))
        return "line framing cannot carry '\\n' inside a payload";
    if ((flags & FS_NOT_U8) && wire_has_header(f) && wire_header_size(f, wire_split_len(f)) < 2)
        return "a 1-byte header cannot be split";
    if ((flags & FS_NEEDS_VARINT) && f.kind != WIRE_VARINT)
        return "only for a varint length";
    if ((flags & FS_NEEDS_ADJUST) && f.adjust == 0)
        return "only for a length that counts more than the payload (adjust < 0)";
    if ((flags & FS_NEEDS_OVER_MAX) && wire_has_header(f) &&
        wire_max_payload(f, max) >= wire_max_expressible(f)) {
        snprintf(buf, n, "framing %s cannot announce more than --max-frame %llu: its header holds "
                         "at most %llu", wire_framing_name(&f), (unsigned long long)max,
                 (unsigned long long)wire_max_expressible(f));
        return buf;
    }
    return NULL;
}

/* Why a case does not apply to this run (its flags, fs.h), or NULL. A reason that names values
 * is formatted into buf[0..n). */
static const char *not_applicable(const run_state *rs, const fs_case *c, char *buf, size_t n)
{
    const char *why = framing_excludes(c->flags, rs->cfg.framing, rs->cfg.max_frame, buf, n);
    if (why != NULL)
        return why;
    if ((c->flags & FS_NEEDS_IDLE) && !rs->idle_given)
        return "no --idle-timeout given (the server's idle timeout)";
    if ((c->flags & FS_NEEDS_EXEC) && rs->exec == NULL)
        return "needs --exec (framespec must launch the server to see its pid)";
    if ((c->flags & FS_NEEDS_NETNS) && rs->exec == NULL)
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

/* Append part to out[0..n) at *o, after "; " unless it is the first. */
static void add_part(char *out, size_t n, size_t *o, const char *part)
{
    if (*o < n)
        *o += (size_t)snprintf(out + *o, n - *o, "%s%s", *o ? "; " : "", part);
}

/* What a case needs, from its flags: the "applies" column of `list --markdown`, into
 * out[0..n) (parts joined with "; "), or "all". */
static void applies_text(unsigned flags, char *out, size_t n)
{
    const size_t nall = sizeof all_framings / sizeof all_framings[0];
    char names[160] = "", part[200], why[160];
    size_t o = 0, in = 0, no = 0;
    bool not_raw = true; /* the case applies to every framing except raw */
    bool hdr_only = true; /* ... to every framing with a length field */
    out[0] = '\0';
    for (size_t i = 0; i < nall; i++) {
        wire_framing f = wire_default_framing();
        bool applies;
        wire_parse_framing(all_framings[i], &f, why, sizeof why);
        applies = framing_excludes(flags, f, 0, why, sizeof why) == NULL;
        if (applies && no < sizeof names)
            no += (size_t)snprintf(names + no, sizeof names - no, "%s%s", in ? ", " : "",
                                   wire_framing_name(&f));
        in += applies;
        not_raw = not_raw && applies == (!wire_is_raw(f));
        hdr_only = hdr_only && applies == wire_has_header(f);
    }
    if (flags & FS_NEEDS_VARINT) {
        add_part(out, n, &o, "varint lengths only");
    } else if (flags & FS_NEEDS_ADJUST) {
        add_part(out, n, &o, "length fields with adjust < 0 only");
    } else if (not_raw) {
        add_part(out, n, &o, "framed (not raw)");
    } else if (hdr_only) {
        add_part(out, n, &o, "length fields (not raw or line)");
    } else if (flags & FS_NOT_U8) {
        add_part(out, n, &o, "framed (not raw), not a 1-byte header");
    } else if (in < nall) {
        snprintf(part, sizeof part, in == 1 ? "%s framing only" : "framings %s", names);
        add_part(out, n, &o, part);
    }
    if (flags & FS_NEEDS_OVER_MAX)
        add_part(out, n, &o,
                 framing_excludes(flags, line_framing(), 0, why, sizeof why) == NULL
                     ? "length fields only with --max-frame below their header's largest length"
                     : "--max-frame below the header's largest length");
    if (flags & FS_NEEDS_IDLE)
        add_part(out, n, &o, "--idle-timeout");
    if (flags & FS_NEEDS_NETNS)
        add_part(out, n, &o, "--exec, TCP, as root (network namespace)");
    else if (flags & FS_NEEDS_EXEC)
        add_part(out, n, &o, "--exec");
    if ((flags & FS_NEEDS_TCP) && !(flags & FS_NEEDS_NETNS))
        add_part(out, n, &o, "TCP (not a unix socket)");
    if (flags & FS_NO_LOSS)
        add_part(out, n, &o, "not under --loss");
    if (flags & FS_NEEDS_KEEPALIVE)
        add_part(out, n, &o, "--keepalive");
    if (flags & FS_NEEDS_IDLE_PROMISE)
        add_part(out, n, &o, "--keepalive or --idle-timeout");
    if (flags & FS_NEEDS_ANY_PROMISE)
        add_part(out, n, &o, "--user-timeout, --idle-timeout or --keepalive");
    if (o == 0)
        snprintf(out, n, "all");
}

/* ---- the server under --exec ---- */

/* Start the server again for the remaining cases (a new port when the command has {port}: the
 * old one may be held by TIME_WAIT). A death during the restart's own readiness check is the
 * restart's failure. Returns 0, or -1 after marking the server down for good (rs->gone): the
 * remaining cases are then not run, and no further restart is tried. */
static int restart_for_the_rest(run_state *rs)
{
    char why[2048];
    if (server_restart(&rs->srv, false, rs->cfg.scale, why, sizeof why) == 0) {
        rs->cfg.addr = rs->srv.addr;
        rs->cfg.server_pid = rs->srv.pid;
        printf("# server restarted (%s)\n", rs->cfg.addr.text);
        fflush(stdout);
        return 0;
    }
    rs->cfg.server_pid = 0;
    server_why_reason(why, rs->gone, sizeof rs->gone);
    printf("# could not restart the server: %s\n# the remaining cases are not run\n", rs->gone);
    fflush(stdout);
    fprintf(stderr, "framespec: %s\n", why);
    return -1;
}

/* The server exited with status 0 leaving processes behind: it daemonized. framespec cannot
 * watch it, restart it or stop it by pid, so the run cannot judge: say so once. */
static bool daemonized(run_state *rs)
{
    if (rs->srv.left_behind <= 0 || !WIFEXITED(rs->srv.status) ||
        WEXITSTATUS(rs->srv.status) != 0)
        return false;
    snprintf(rs->gone, sizeof rs->gone,
             "the server exited with status 0 right after start, leaving %d process(es) running "
             "(does it daemonize? framespec must be its parent: run it in the foreground)",
             rs->srv.left_behind);
    fprintf(stderr, "framespec: %s; they were stopped\n", rs->gone);
    printf("# %s\n# the remaining cases are not run\n", rs->gone);
    fflush(stdout);
    server_stop_wait(&rs->srv, 1000, NULL, 0);
    rs->cfg.server_pid = 0;
    rs->setup_error = true;
    return true;
}

/* The server died (how: "killed by signal 11 (SIGSEGV)") at `when` ("during ID"): count and
 * record it, show its output's tail, and restart it for the remaining cases. */
static void died(run_state *rs, const char *how, const char *when)
{
    rs->cfg.server_deaths++;
    snprintf(rs->cfg.last_death, sizeof rs->cfg.last_death, "%s %s", how, when);
    printf("# the server %s %s; restarting it for the remaining cases\n", how, when);
    fflush(stdout);
    server_print_log_tail(&rs->srv);
    if (restart_for_the_rest(rs) == 0)
        rs->restarts++;
}

/* After a case: did the --exec server die? Then record how, and restart it. Returns true when
 * it died. A server that a case stopped on purpose (lifecycle cases) and left stopped is started
 * again without counting as a death. After a failed case framespec waits up to 100 ms x scale
 * for news of a death (a crash that made the case fail may still be tearing the process down),
 * so that it is charged to this case and not to the next. */
static bool server_check(run_state *rs, const char *case_id, bool failed, char *how, size_t hn)
{
    if (rs->exec == NULL || rs->gone[0] ||
        server_running_wait(&rs->srv, failed ? (int)(100 * rs->cfg.scale) : 2))
        return false;
    if (rs->down_on_purpose) {
        rs->down_on_purpose = false;
        printf("# %s left the server stopped; starting it again for the remaining cases\n",
               case_id);
        restart_for_the_rest(rs);
        return false;
    }
    if (daemonized(rs))
        return false;
    server_describe_exit(&rs->srv, how, hn);
    {
        char when[128];
        snprintf(when, sizeof when, "during %s", case_id);
        died(rs, how, when);
    }
    return true;
}

/* Before a case: a server that died since the last check (after the previous case ended, or
 * right after a restart) died outside any case. It is noted and counted, restarted, and charged
 * to no case; such a death fails the run (rs->cfg.server_deaths). */
static void server_precheck(run_state *rs, const char *next_id)
{
    char how[96];
    if (rs->exec == NULL || rs->gone[0] || rs->down_on_purpose || server_running(&rs->srv))
        return;
    if (daemonized(rs))
        return;
    server_describe_exit(&rs->srv, how, sizeof how);
    rs->outside_deaths++;
    {
        char when[128];
        snprintf(when, sizeof when, "between cases (before %s: no case is charged)", next_id);
        died(rs, how, when);
    }
}

/* A case asked for a server lifecycle step (fs_server_term/stop/start): do it and answer. */
static void serve_ctl(run_state *rs, int fd)
{
    fs_ctl_request rq;
    fs_ctl_reply rep;
    int64_t stop_ms = (int64_t)(5000 * rs->cfg.scale);
    if (recv(fd, &rq, sizeof rq, MSG_DONTWAIT) != (ssize_t)sizeof rq)
        return;
    memset(&rep, 0, sizeof rep);
    switch (rq.op) {
    case FS_CTL_TERM:
        rs->down_on_purpose = true;
        snprintf(rep.text, sizeof rep.text, "SIGTERM sent to pid %d", (int)rs->srv.pid);
        server_term(&rs->srv);
        break;
    case FS_CTL_STOP:
        rs->down_on_purpose = true;
        rep.rc = server_stop_wait(&rs->srv, rq.ms > 0 ? rq.ms : stop_ms, rep.text,
                                  sizeof rep.text);
        rs->cfg.server_pid = 0;
        break;
    case FS_CTL_START_SAME:
    case FS_CTL_START_NEW:
        if (server_running(&rs->srv))
            server_stop_wait(&rs->srv, stop_ms, NULL, 0);
        rs->down_on_purpose = true;
        if (server_restart(&rs->srv, rq.op == FS_CTL_START_SAME, rs->cfg.scale, rep.text,
                           sizeof rep.text) == 0) {
            rs->down_on_purpose = false;
            rs->cfg.addr = rs->srv.addr;
            rs->cfg.server_pid = rs->srv.pid;
            rep.pid = rs->srv.pid;
            rep.addr = rs->srv.addr;
        } else {
            rs->cfg.server_pid = 0;
            rep.rc = 1;
        }
        break;
    default:
        rep.rc = 1;
        snprintf(rep.text, sizeof rep.text, "unknown request %d", rq.op);
    }
    if (send(fd, &rep, sizeof rep, MSG_NOSIGNAL) != (ssize_t)sizeof rep)
        fprintf(stderr, "framespec run: cannot answer a case's server request: %s\n",
                strerror(errno));
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

/* Run case fc once in its own process (deadline: its timeout x scale), serving its server
 * requests meanwhile; *o gets the outcome. The case's records go to `records` (a memfd,
 * emptied here), read once its process has ended. */
static void run_once(run_state *rs, const fs_case *fc, int records, run_outcome *o)
{
    fs_report rep = {0};
    fs_result res = {.fd = records};
    int64_t t0 = sock_now_ms(), deadline = t0 + (int64_t)(fc->timeout_s * 1000 * rs->cfg.scale);
    pid_t child, parent;
    int st = 0, ctl[2] = {-1, -1};
    bool timed_out = false, overall = false;
    char na_buf[512];
    const char *na = not_applicable(rs, fc, na_buf, sizeof na_buf);

    memset(o, 0, sizeof *o);
    if (ftruncate(records, 0) < 0 || lseek(records, 0, SEEK_SET) < 0)
        res.fd = -1; /* the verdict still comes from the exit status below */
    if (na != NULL) {
        o->status = FS_SKIP;
        o->d.message = strdup(na);
        return;
    }
    if (rs->deadline_ms > 0 && t0 >= rs->deadline_ms) {
        char msg[160];
        snprintf(msg, sizeof msg, "not run: the --timeout of %g s for the whole run was reached",
                 rs->timeout_s);
        o->status = FS_FAIL;
        o->d.message = strdup(msg);
        return;
    }
    server_precheck(rs, fc->id);
    if (rs->gone[0]) {
        char msg[sizeof rs->gone + 64];
        snprintf(msg, sizeof msg, "not run: %s", rs->gone);
        o->status = FS_SKIP;
        o->d.message = strdup(msg);
        return;
    }
    if (fc->flags & FS_NEEDS_NETNS) {
        /* a deadpeer case waits for the server's promised timeouts: allow twice the longest */
        const int *k = rs->cfg.keepalive;
        int64_t p = ((int64_t)k[0] + (int64_t)k[1] * k[2]) * 1000;
        if (rs->cfg.user_timeout_ms > p)
            p = rs->cfg.user_timeout_ms;
        if (rs->cfg.idle_ms > p)
            p = rs->cfg.idle_ms;
        deadline += (int64_t)(2 * (double)p * rs->cfg.scale);
    }
    if (rs->deadline_ms > 0 && deadline > rs->deadline_ms) {
        deadline = rs->deadline_ms;
        overall = true;
    }
    if (rs->exec && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        o->status = FS_FAIL;
        o->d.message = strdup("socketpair for the case's server requests failed");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    parent = getpid();
    child = fork();
    if (child < 0) {
        o->status = FS_FAIL;
        o->d.message = strdup("fork failed");
        if (ctl[0] >= 0) {
            close(ctl[0]);
            close(ctl[1]);
        }
        return;
    }
    if (child == 0) {
        fs_config cfg = rs->cfg; /* the case's own copy: its server requests update it */
        fs_ctx ctx = {.cfg = &cfg, .res = &res, .t0_ns = sock_now_ns(),
                      .rng = rs->cfg.seed ^ hash_id(fc->id), .ctl_fd = ctl[1],
                      .requirements = fc->requirements};
        if (ctl[0] >= 0)
            close(ctl[0]);
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
        _exit(res.status == FS_PASS ? 0 : res.status == FS_SKIP ? 3 : res.should_only ? 5 : 4);
    }
    if (ctl[1] >= 0)
        close(ctl[1]);
    for (;;) {
        struct pollfd pf = {.fd = ctl[0], .events = POLLIN};
        pid_t w = waitpid(child, &st, WNOHANG);
        if (w == child)
            break;
        if (sock_now_ms() > deadline) {
            kill(child, SIGKILL);
            waitpid(child, &st, 0);
            timed_out = true;
            break;
        }
        if (ctl[0] >= 0 && poll(&pf, 1, 2) > 0 && (pf.revents & POLLIN)) {
            serve_ctl(rs, ctl[0]);
        } else if (ctl[0] < 0 || pf.revents != 0) {
            struct timespec ts = {0, 2 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (ctl[0] >= 0)
        close(ctl[0]);
    if ((fc->flags & FS_NEEDS_NETNS) && rs->cfg.netns) {
        /* the case's rules (its engine's chain, v<pid>: scenario_server.c) go here too, once its
         * process has ended, however it ended: created if absent, so that the deletion holds */
        char err[512], script[256];
        snprintf(script, sizeof script, "add chain inet framespec v%d { type filter hook output "
                 "priority -10 ; }\nflush chain inet framespec v%d\ndelete chain inet framespec "
                 "v%d\n", (int)child, (int)child, (int)child);
        if (netns_nft(script, 5000, err, sizeof err) < 0)
            fprintf(stderr, "framespec run: cannot remove %s's nftables rules: %s\n", fc->id,
                    err);
    }
    o->duration_ms = (long)(sock_now_ms() - t0);
    if (res.fd >= 0 && fs_result_read(records, &rep) < 0)
        fprintf(stderr, "framespec run: cannot read %s's records: %s\n", fc->id, strerror(errno));
    o->status = rep.status;
    o->should_only = rep.should_only != 0;
    if (!timed_out && WIFEXITED(st) && WEXITSTATUS(st) >= 3 && WEXITSTATUS(st) <= 5) {
        /* the exit status says the verdict (the records may not have been kept) */
        o->status = WEXITSTATUS(st) == 3 ? FS_SKIP : FS_FAIL;
        o->should_only = WEXITSTATUS(st) == 5;
    }
    if (timed_out) {
        const char *last = rep.message ? rep.message : "";
        if (overall)
            o->d.message = fmt_or_null(
                "stopped: the --timeout of %g s for the whole run was reached during this "
                "case%s%s", rs->timeout_s, last[0] ? "; last: " : "", last);
        else
            o->d.message = fmt_or_null(
                "case timed out after %.0f s (the server stopped answering?)%s%s",
                fc->timeout_s * rs->cfg.scale, last[0] ? "; last: " : "", last);
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
        o->d.message = rep.message;
        rep.message = NULL;
    }
    o->d.expected = rep.expected;
    o->d.actual = rep.actual;
    o->d.close_kind = rep.close_kind;
    o->d.requirement = rep.requirement;
    o->d.wirelog = rep.wirelog;
    o->note = rep.status == FS_PASS ? rep.note : NULL;
    if (o->note == rep.note)
        rep.note = NULL;
    rep.expected = rep.actual = rep.close_kind = rep.wirelog = rep.requirement = NULL;
    {
        char how[96];
        if (server_check(rs, fc->id, o->status == FS_FAIL, how, sizeof how)) {
            size_t ml = strlen(how) + (o->d.message ? strlen(o->d.message) : 0) + 64;
            char *msg = malloc(ml);
            if (msg != NULL) {
                snprintf(msg, ml, "the server %s during this case%s%s", how,
                         o->d.message ? "; " : "", o->d.message ? o->d.message : "");
                free(o->d.message);
                o->d.message = msg;
            }
            o->status = FS_FAIL;
            o->should_only = false; /* a server death breaks RESOURCES-1, a MUST */
            if (rep.repro != NULL) {
                /* resources.alive hands it on: replayed alone, it makes the server die */
                free(rs->death_repro);
                rs->death_repro = strdup(rep.repro);
                rs->cfg.death_repro = rs->death_repro;
            }
        }
    }
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

/* The options replay needs to run a reproducer as the case ran it: a larger --max-frame (the
 * scenario's payloads may hold it + 1), and --timeout-scale. Static. */
static const char *replay_options(const run_state *rs)
{
    static char opts[128];
    int n = 0;
    opts[0] = '\0';
    if (rs->cfg.max_frame > (16u << 20))
        n = snprintf(opts, sizeof opts, " --max-frame %llu", (unsigned long long)rs->cfg.max_frame);
    if (rs->cfg.scale != 1.0 && n >= 0 && (size_t)n < sizeof opts)
        snprintf(opts + n, sizeof opts - (size_t)n, " --timeout-scale %g", rs->cfg.scale);
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
                 rs->exec ? "--exec '" : "--target ", rs->exec ? rs->exec : rs->cfg.addr.text,
                 rs->exec ? "'" : "", replay_options(rs), wire_framing_name(&rs->cfg.framing),
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
             rs->exec ? "--exec '" : "--target ", rs->exec ? rs->exec : rs->cfg.addr.text,
             rs->exec ? "'" : "", replay_options(rs));
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

static void run_usage(FILE *out)
{
    fputs("usage: framespec run (--target HOST:PORT | --target unix:PATH | --exec 'CMD ... {port} ...')\n"
          "                     [--framing F] [--max-frame BYTES] [--idle-timeout SECONDS]\n"
          "                     [--case GLOB]... [--exclude GLOB]... [--junit FILE] [--json FILE]\n"
          "                     [--html FILE] [--label TEXT]\n"
          "                     [--seed N] [--timeout-scale X] [--repeat N] [--strict]\n"
          "                     [--conns N] [--cycles N] [--repro-dir DIR] [--timeout SECONDS]\n"
          "                     [--keep-logs] [--keepalive I,N,C] [--user-timeout MS]\n"
          "                     [--netns] [--loss PCT] [-v]\n"
          "\n"
          "Run the conformance catalogue against a framed echo server; TAP version 14 on stdout.\n"
          "\n"
          "  --target ADDR        a running server: HOST:PORT, [V6]:PORT or unix:PATH\n"
          "  --exec 'CMD'         start the server: {port} becomes a free port; framespec waits\n"
          "                       until it accepts, watches its pid, restarts it if it dies,\n"
          "                       and stops and starts it for lifecycle.* and backpressure.rss\n"
          "  --framing F          0|raw, 1|u8, 2|u16, 4|u32 (default), line (Erlang {packet,N});\n"
          "                       u24, u64, u16le, u24le, u32le, u64le, varint; parameters after\n"
          "                       commas: be|le, offset=N, adjust=N, strip=N, limit=payload|frame\n"
          "                       (e.g. 4,adjust=-4,limit=frame; docs/spec.md, Framings)\n"
          "  --max-frame BYTES    the server's largest payload, or whole frame with limit=frame\n"
          "                       (default 16M; K/M/G ok)\n"
          "  --idle-timeout S     the server's idle timeout; idle.* cases skip without it\n"
          "  --case GLOB          run only matching ids or groups (repeatable), e.g. 'halfclose.*'\n"
          "  --exclude GLOB       skip matching ids or groups (repeatable)\n"
          "  --junit FILE         write JUnit XML;  --json FILE: write the JSON report\n"
          "  --html FILE          write the HTML report (framespec report: matrix, reproducers,\n"
          "                       wire timelines; needs Debian's python3-jinja2)\n"
          "  --label TEXT         the implementation's name in the JSON and HTML reports\n"
          "  --seed N             seed for random slicing (default: from the clock; printed)\n"
          "  --timeout-scale X    multiply every deadline and timing threshold (slow machines,\n"
          "                       sanitizer builds), default 1\n"
          "  --conns N            connections in concurrency.simultaneous (default 500)\n"
          "  --cycles N           cycles in concurrency.churn (default 2000)\n"
          "  --repeat N           run every selected case N times with the same server; a case\n"
          "                       that fails k of N runs is flaky (default 1)\n"
          "  --strict             failing SHOULD cases fail the run (default: they warn)\n"
          "  --repro-dir DIR      write each failing case's reproducer to DIR/ID.scenario\n"
          "  --timeout SECONDS    end the whole run by then: the case running is stopped and the\n"
          "                       rest are not run; all of them fail (default: no limit beyond\n"
          "                       each case's own deadline)\n"
          "  --keep-logs          keep the server's log (its stdout and stderr, first and last\n"
          "                       64 KiB) in $TMPDIR/framespec-XXXXXX; removed at exit otherwise\n"
          "  --keepalive I,N,C    the server's TCP keepalive: TCP_KEEPIDLE I s, TCP_KEEPINTVL N\n"
          "                       s, TCP_KEEPCNT C probes (what deadpeer.* hold it to)\n"
          "  --user-timeout MS    the server's TCP_USER_TIMEOUT in ms (deadpeer.pending)\n"
          "  --netns              run the server and the cases in a private network namespace\n"
          "                       (loopback only; needs root and nft). Entered by itself when a\n"
          "                       deadpeer.* case is selected; without root those are skipped\n"
          "  --loss PCT           drop PCT % of TCP packets at random, both directions\n"
          "                       (nftables in the namespace; implies --netns; timing scale x\n"
          "                       (1 + PCT)); latency.* and deadpeer.alive_silent are skipped\n"
          "  -v                   wire log on stderr\n"
          "\n"
          "Verdicts: pass; fail (a MUST requirement broken in every run); warn (only SHOULD\n"
          "requirements broken: TAP '# TODO SHOULD', not a failure unless --strict); flaky (failed k\n"
          "of N runs: fails the run for a MUST case); skip (does not apply).\n"
          "Exit status: 0 nothing failed (warnings allowed), 1 a case failed or a MUST case was\n"
          "flaky, or the server died between cases or could not be restarted, or --timeout was\n"
          "reached; 2 usage error, target unreachable, a server that daemonizes, or a report file\n"
          "that cannot be written.\n",
          out);
}

static int parse_run(int argc, char **argv, run_state *rs)
{
    static const struct option lo[] = {
        {"target", required_argument, NULL, 't'},      {"exec", required_argument, NULL, 'e'},
        {"framing", required_argument, NULL, 'f'},     {"max-frame", required_argument, NULL, 'm'},
        {"idle-timeout", required_argument, NULL, 'i'}, {"case", required_argument, NULL, 'c'},
        {"exclude", required_argument, NULL, 'x'},     {"junit", required_argument, NULL, 'J'},
        {"json", required_argument, NULL, 'j'},        {"seed", required_argument, NULL, 's'},
        {"timeout-scale", required_argument, NULL, 'T'}, {"conns", required_argument, NULL, 'n'},
        {"cycles", required_argument, NULL, 'y'},      {"repro-dir", required_argument, NULL, 'R'},
        {"repeat", required_argument, NULL, 'r'},      {"strict", no_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},           {"help", no_argument, NULL, 'h'},
        {"timeout", required_argument, NULL, 'W'},     {"keep-logs", no_argument, NULL, 'K'},
        {"netns", no_argument, NULL, 'N'},             {"keepalive", required_argument, NULL, 'k'},
        {"user-timeout", required_argument, NULL, 'u'}, {"loss", required_argument, NULL, 'L'},
        {"html", required_argument, NULL, 'H'},        {"label", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    uint64_t v;
    double d;
    char why[256];
    bool seed_given = false;

    rs->cfg.framing = wire_default_framing();
    rs->cfg.max_frame = 16u << 20;
    rs->cfg.scale = 1.0;
    rs->cfg.conns = 500;
    rs->cfg.cycles = 2000;
    rs->repeat = 1;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        switch (ch) {
        case 't':
            rs->target = optarg;
            break;
        case 'e':
            rs->exec = optarg;
            break;
        case 'f':
            if (wire_parse_framing(optarg, &rs->cfg.framing, why, sizeof why) < 0)
                return opts_bad("run", "--framing", optarg, why);
            break;
        case 'm':
            if (opts_u64(optarg, 1, 0xFFFFFFFFull, &rs->cfg.max_frame) < 0)
                return opts_bad("run", "--max-frame", optarg, "expected bytes 1..4294967295 (K/M/G ok)");
            break;
        case 'i':
            if (opts_seconds(optarg, &d) < 0 || d <= 0)
                return opts_bad("run", "--idle-timeout", optarg, "expected seconds > 0");
            rs->cfg.idle_ms = (int64_t)(d * 1000 + 0.5);
            rs->idle_given = true;
            break;
        case 'c':
            if (rs->ncases == MAX_GLOBS)
                return opts_bad("run", "--case", optarg, "too many --case options (64 at most)");
            rs->cases[rs->ncases++] = optarg;
            break;
        case 'x':
            if (rs->nexcludes == MAX_GLOBS)
                return opts_bad("run", "--exclude", optarg, "too many --exclude options");
            rs->excludes[rs->nexcludes++] = optarg;
            break;
        case 'J':
            rs->junit = optarg;
            break;
        case 'j':
            rs->json = optarg;
            break;
        case 'H':
            rs->html = optarg;
            break;
        case 'l':
            if (*optarg == '\0' || strlen(optarg) > 200)
                return opts_bad("run", "--label", optarg, "expected a name of 1..200 characters");
            rs->label = optarg;
            break;
        case 'R':
            rs->repro_dir = optarg;
            break;
        case 's':
            if (opts_u64(optarg, 0, UINT64_MAX, &rs->cfg.seed) < 0)
                return opts_bad("run", "--seed", optarg, "expected a non-negative integer");
            seed_given = true;
            break;
        case 'T':
            if (opts_seconds(optarg, &rs->cfg.scale) < 0 || rs->cfg.scale < 0.1 ||
                rs->cfg.scale > 100)
                return opts_bad("run", "--timeout-scale", optarg, "expected a factor 0.1..100");
            break;
        case 'n':
            if (opts_u64(optarg, 1, SC_MAX_CONNS, &v) < 0)
                return opts_bad("run", "--conns", optarg, "expected 1..4096 (the connections "
                                "a scenario holds at most)");
            rs->cfg.conns = (unsigned)v;
            break;
        case 'y':
            if (opts_u64(optarg, 1, 10000000, &v) < 0)
                return opts_bad("run", "--cycles", optarg, "expected 1..10000000");
            rs->cfg.cycles = (unsigned)v;
            break;
        case 'r':
            if (opts_u64(optarg, 1, 1000, &v) < 0)
                return opts_bad("run", "--repeat", optarg, "expected a number of runs 1..1000");
            rs->repeat = (unsigned)v;
            break;
        case 'S':
            rs->strict = true;
            break;
        case 'W':
            if (opts_seconds(optarg, &rs->timeout_s) < 0 || rs->timeout_s <= 0)
                return opts_bad("run", "--timeout", optarg, "expected seconds > 0");
            break;
        case 'K':
            scratch_keep(true);
            break;
        case 'N':
            rs->netns_asked = true;
            break;
        case 'k':
            if (opts_keepalive(optarg, rs->cfg.keepalive) < 0)
                return opts_bad("run", "--keepalive", optarg,
                                "expected IDLE,INTVL,CNT: seconds, seconds, probes (1..32767), "
                                "e.g. 1,1,2");
            break;
        case 'u':
            if (opts_u64(optarg, 1, 2147483647, &v) < 0 || strpbrk(optarg, "KMGkmg"))
                return opts_bad("run", "--user-timeout", optarg,
                                "expected milliseconds 1..2147483647 (the server's "
                                "TCP_USER_TIMEOUT), e.g. 3000");
            rs->cfg.user_timeout_ms = (int64_t)v;
            break;
        case 'L':
            if (opts_seconds(optarg, &rs->cfg.loss_pct) < 0 || rs->cfg.loss_pct < 0.01 ||
                rs->cfg.loss_pct >= 50)
                return opts_bad("run", "--loss", optarg,
                                "expected a percentage of packets to drop, 0.01 to below 50");
            rs->netns_asked = true;
            break;
        case 'v':
            rs->cfg.verbose++;
            break;
        case 'h':
            run_usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "framespec run: %s '%s'\nTry 'framespec run --help'.\n",
                    ch == ':' ? "missing value for" : "unknown option or missing value:",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "framespec run: unexpected argument '%s'\nTry 'framespec run --help'.\n",
                argv[optind]);
        return 2;
    }
    if (rs->exec == NULL && rs->target == NULL) {
        fprintf(stderr, "framespec run: give the server to judge: --target HOST:PORT, --target "
                        "unix:PATH, or --exec 'CMD ... {port} ...'\nTry 'framespec run --help'.\n");
        return 2;
    }
    if (rs->exec && !strstr(rs->exec, "{port}") && rs->target == NULL) {
        fprintf(stderr, "framespec run: --exec needs {port} in the command (framespec picks a "
                        "free port), or --target telling where the command listens\n");
        return 2;
    }
    if (rs->netns_asked && rs->exec == NULL) {
        fprintf(stderr, "framespec run: %s needs --exec: framespec starts the server inside its "
                        "own network namespace (it cannot move a running --target server)\n",
                rs->cfg.loss_pct > 0 ? "--loss" : "--netns");
        return 2;
    }
    if (!rs->cfg.framing.limit_frame && rs->cfg.max_frame > wire_max_expressible(rs->cfg.framing))
        rs->cfg.max_frame = wire_max_expressible(rs->cfg.framing);
    rs->cfg.max_payload = wire_max_payload(rs->cfg.framing, rs->cfg.max_frame);
    if (rs->cfg.framing.limit_frame && rs->cfg.max_payload == 0) {
        fprintf(stderr, "framespec run: --max-frame %llu leaves no room for a payload: under "
                        "limit=frame the maximum counts the %zu-byte header too\n",
                (unsigned long long)rs->cfg.max_frame, wire_header_size(rs->cfg.framing, 0));
        return 2;
    }
    if (!seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rs->cfg.seed = (uint64_t)ts.tv_nsec % 1000000 + (uint64_t)ts.tv_sec % 1000 * 1000000;
    }
    return 0;
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
    if (rs->netns_asked && rs->target && rs->cfg.addr.family == AF_UNIX) {
        fprintf(stderr, "framespec run: %s needs a TCP server: nftables rules and loss act on TCP "
                        "packets, and %s is a unix socket\n",
                rs->cfg.loss_pct > 0 ? "--loss" : "--netns", rs->cfg.addr.text);
        return -1;
    }
    if (!wanted || rs->exec == NULL || (rs->target && rs->cfg.addr.family == AF_UNIX))
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

int run_main(int argc, char **argv)
{
    run_state *rs = calloc(1, sizeof *rs);
    report r = {0};
    int records;
    size_t nsel = 0, num = 0, gate_failures = 0;
    unsigned must_failures;
    char err[256];
    int rc, fd;
    int64_t t0;
    bool tty = isatty(2);

    if (rs == NULL)
        return 2;
    rc = parse_run(argc, argv, rs);
    if (rc != 0) {
        free(rs);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    for (size_t i = 0; i < fs_ncases; i++)
        nsel += selected(rs, &fs_cases[i]);
    if (nsel == 0) {
        fprintf(stderr, "framespec run: no case matches the --case/--exclude patterns; "
                        "'framespec list' shows the ids\n");
        free(rs);
        return 2;
    }
    if (rs->target && sock_parse_addr(rs->target, &rs->cfg.addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec run: --target: %s\n", err);
        free(rs);
        return 2;
    }
    /* A report that cannot be written is a usage error found now, not after the run; an old
     * report at the path is emptied, so that CI never reads a stale one. */
    if ((rs->junit && report_preflight("run", "--junit", rs->junit) < 0) ||
        (rs->json && report_preflight("run", "--json", rs->json) < 0) ||
        (rs->html && report_preflight("run", "--html", rs->html) < 0)) {
        free(rs);
        return 2;
    }
    if (enter_netns(rs) < 0) {
        free(rs);
        return 2;
    }
    if (rs->timeout_s > 0)
        rs->deadline_ms = sock_now_ms() + (int64_t)(rs->timeout_s * 1000);
    if (rs->exec) {
        rs->cfg.exec_cmd = rs->exec;
        if (server_start(&rs->srv, rs->exec, rs->target ? &rs->cfg.addr : NULL, rs->cfg.scale) < 0) {
            free(rs);
            return 2;
        }
        rs->cfg.addr = rs->srv.addr;
        rs->cfg.server_pid = rs->srv.pid;
    } else {
        fd = sock_connect(&rs->cfg.addr, sock_now_ms() + (int64_t)(5000 * rs->cfg.scale));
        if (fd < 0) {
            fprintf(stderr, "framespec run: cannot connect to %s: %s (%s); is the server "
                            "running and listening there?\n",
                    rs->cfg.addr.text, sock_errno_name(-fd), strerror(-fd));
            free(rs);
            return 2;
        }
        close(fd);
    }
    /* the cases' records (fs.h): a file in memory, never on disk, gone with the last process
     * that holds it */
    records = memfd_create("framespec-case-records", MFD_CLOEXEC);
    r.cases = calloc(nsel, sizeof *r.cases);
    if (records < 0 || r.cases == NULL) {
        fprintf(stderr, "framespec run: %s\n", records < 0 ? "memfd_create failed" : "out of memory");
        server_stop(&rs->srv, NULL);
        return 2;
    }
    if (rs->repro_dir && mkdir(rs->repro_dir, 0755) < 0 && errno != EEXIST)
        fprintf(stderr, "framespec run: cannot create --repro-dir %s: %s\n", rs->repro_dir,
                strerror(errno));
    r.cfg = &rs->cfg;
    r.target_text = rs->exec ? rs->exec : rs->cfg.addr.text;
    r.label = rs->label;
    r.repeat = rs->repeat;
    r.strict = rs->strict;

    printf("TAP version 14\n1..%zu\n", nsel);
    printf("# framespec: target %s, framing %s, max frame %llu, idle timeout %s, seed %llu, "
           "timeout scale %g\n",
           rs->exec ? rs->srv.cmd : rs->cfg.addr.text, wire_framing_name(&rs->cfg.framing),
           (unsigned long long)rs->cfg.max_frame,
           rs->idle_given ? "given" : "not given", (unsigned long long)rs->cfg.seed,
           rs->cfg.scale);
    if (rs->cfg.netns)
        printf("# network namespace: framespec's own (loopback only; nftables table inet "
               "framespec)%s\n",
               rs->cfg.loss_pct > 0 ? "" : "; no loss");
    if (rs->cfg.loss_pct > 0)
        printf("# --loss %g: %g %% of TCP packets dropped at random, in both directions; timing "
               "scale raised to %g\n",
               rs->cfg.loss_pct, rs->cfg.loss_pct, rs->cfg.scale);
    if (rs->repeat > 1 || rs->strict)
        printf("# every case runs %u time(s) with the same server%s\n", rs->repeat,
               rs->strict ? "; --strict: failing SHOULD cases fail the run" : "");
    fflush(stdout);
    t0 = sock_now_ms();
    for (size_t i = 0; i < fs_ncases; i++) {
        const fs_case *fc = &fs_cases[i];
        report_case *rcase;
        bool skipped;
        if (!selected(rs, fc))
            continue;
        rcase = &r.cases[num++];
        rcase->c = fc;
        rcase->level = fs_case_level(fc);
        must_failures = 0;
        for (unsigned run = 1; run <= rs->repeat; run++) {
            run_outcome o;
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
        gate_failures += report_gate_fails(&r, rcase);
        r.n = num;
        if (tty)
            fputs("\r\033[K", stderr);
        report_tap_case(stdout, &r, rcase, num);
    }
    r.total_ms = (long)(sock_now_ms() - t0);
    if (rs->cfg.loss_pct > 0)
        printf("# --loss %g: nftables dropped %lld TCP packets during the run\n", rs->cfg.loss_pct,
               netns_loss_dropped());
    server_stop(&rs->srv, stdout);
    if (rs->restarts)
        printf("# the server was restarted %u time(s) after dying\n", rs->restarts);
    if (rs->outside_deaths)
        printf("# the server died %u time(s) between cases: the run fails\n", rs->outside_deaths);
    if (rs->deadline_ms > 0 && sock_now_ms() >= rs->deadline_ms)
        printf("# the --timeout of %g s for the whole run was reached\n", rs->timeout_s);
    printf("# seed %llu; %ld ms\n", (unsigned long long)rs->cfg.seed, r.total_ms);
    report_tap_summary(stdout, &r);
    rc = gate_failures || rs->outside_deaths || rs->gone[0] ? 1 : 0;
    if (rs->setup_error)
        rc = 2;
    if (rs->junit && report_junit(&r, rs->junit) < 0) {
        fprintf(stderr, "framespec run: cannot write --junit %s: %s\n", rs->junit, strerror(errno));
        rc = 2;
    }
    if (rs->json && report_json(&r, rs->json) < 0) {
        fprintf(stderr, "framespec run: cannot write --json %s: %s\n", rs->json, strerror(errno));
        rc = 2;
    }
    if (rs->html && write_html(rs, &r) != 0)
        rc = 2;
    for (size_t i = 0; i < r.n; i++)
        report_diag_free(&r.cases[i].d);
    free(r.cases);
    close(records);
    free(rs->death_repro);
    free(rs);
    return rc;
}

int list_main(int argc, char **argv)
{
    bool markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    if (argc > 1 && strcmp(argv[1], "--requirements") == 0) {
        for (int i = 1; i < REQ_COUNT; i++)
            printf("%-16s %s\n", fs_requirements[i].id, fs_level_name(fs_requirements[i].level));
        return 0;
    }
    if (argc > 1 && !markdown) {
        fprintf(stderr, "usage: framespec list [--markdown | --requirements]\n");
        return 2;
    }
    if (markdown) {
        char group[64] = "";
        puts("# framespec case catalogue\n");
        puts("Generated by `framespec list --markdown`; do not edit. Requirements are in "
             "[spec.md](spec.md).\n");
        puts("A case's **level** is MUST when any requirement it checks is a MUST, else SHOULD. "
             "A failing MUST case fails the run; a failing SHOULD case is a warning (TAP "
             "`# TODO SHOULD`, JSON `\"status\": \"warn\"`) unless `--strict` is given. Under "
             "`--repeat N` a case that fails some runs but not all is **flaky**: a flaky MUST "
             "case fails the run.\n");
        for (size_t i = 0; i < fs_ncases; i++) {
            const fs_case *c = &fs_cases[i];
            char g[64], applies[512];
            group_of(c->id, g, sizeof g);
            if (strcmp(g, group) != 0) {
                printf("%s## %s\n\n| id | level | requirements | applies | what it checks |\n"
                       "|---|---|---|---|---|\n",
                       group[0] ? "\n" : "", g);
                snprintf(group, sizeof group, "%s", g);
            }
            applies_text(c->flags, applies, sizeof applies);
            printf("| `%s` | %s | %s | %s | %s |\n", c->id, fs_level_name(fs_case_level(c)),
                   c->requirements, applies, c->description);
        }
        return 0;
    }
    for (size_t i = 0; i < fs_ncases; i++)
        printf("%-30s %-6s %-28s %s\n", fs_cases[i].id,
               fs_level_name(fs_case_level(&fs_cases[i])), fs_cases[i].requirements,
               fs_cases[i].description);
    return 0;
}
