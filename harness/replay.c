/*
 * replay.c — `framespec replay FILE`: run a scenario script against a server, deterministically.
 *
 * The grammar is docs/replay.md; the parser is scenario_parse.c, the interpreter
 * scenario_run.c, the connections peer.c. This file is the command: its options, the server
 * (--target or --exec), and an optional capture (--pcap).
 *
 * Exit 0: every expect held; 1: one failed (line, expected, actual) or --timeout was reached;
 * 2: script or usage error (file:line:col), or the target is unreachable.
 */
#include "replay.h"

#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "opts.h"
#include "scenario.h"
#include "scratch.h"
#include "server.h"
#include "sock.h"

/* An inbox holds at most max(INBOX_MIN, the largest expect) + 1 MiB: then that connection stops
 * reading until an expect consumes its inbox (a flooding server took replay to 1.4 GB once). */
#define INBOX_MIN (64u << 20)

/* ---- capture ---- */

pid_t capture_start(const sock_addr *a, const char *pcap, int verbose)
{
    char filter[64];
    const char *tool = NULL;
    pid_t pid;
    int port;
    if (a->family == AF_UNIX) {
        fprintf(stderr, "framespec replay: --pcap: unix sockets cannot be captured\n");
        return -1;
    }
    if (access("/usr/bin/tcpdump", X_OK) == 0 || access("/usr/sbin/tcpdump", X_OK) == 0)
        tool = "tcpdump";
    else if (access("/usr/bin/tshark", X_OK) == 0)
        tool = "tshark";
    if (tool == NULL) {
        fprintf(stderr, "framespec replay: --pcap needs tcpdump or tshark (apt-get install "
                        "tcpdump)\n");
        return -1;
    }
    port = (int)sock_port(&a->sa);
    snprintf(filter, sizeof filter, "tcp port %d", port);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGINT); /* flushes and exits when replay dies (--timeout) */
        dup2(devnull, 1);
        if (!verbose)
            dup2(devnull, 2);
        if (strcmp(tool, "tcpdump") == 0)
            execlp("tcpdump", "tcpdump", "--immediate-mode", "-i", "lo", "-U", "-w", pcap, filter,
                   (char *)NULL);
        else
            execlp("tshark", "tshark", "-i", "lo", "-w", pcap, "-f", filter, (char *)NULL);
        _exit(127);
    }
    /* give the capture a moment to open the interface */
    for (int i = 0; i < 50; i++) {
        struct stat sb;
        int st;
        if (stat(pcap, &sb) == 0)
            break;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "framespec replay: %s could not capture (not permitted? it needs "
                            "CAP_NET_RAW)\n", tool);
            return -1;
        }
        poll(NULL, 0, 20);
    }
    poll(NULL, 0, 100);
    fprintf(stderr, "framespec replay: capturing %s on lo with %s into %s\n", filter, tool, pcap);
    return pid;
}

void capture_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    poll(NULL, 0, 200); /* let the last packets land */
    kill(pid, SIGINT);
    waitpid(pid, NULL, 0);
}

/* ---- the command ---- */

static void replay_usage(FILE *out)
{
    fputs("usage: framespec replay FILE (--target HOST:PORT|unix:PATH | --exec 'CMD ... {port} ...')\n"
          "                        [--framing F] [--max-frame BYTES] [--timeout SECONDS]\n"
          "                        [--repeat N] [--timeout-scale X] [--idle-timeout S]\n"
          "                        [--pcap FILE] [--pcap-optional] [--keep-logs] [-v]\n"
          "\n"
          "Run a scenario script (grammar: docs/replay.md).\n"
          "\n"
          "  --framing F        the framing of a script that has no 'framing' line (default 4)\n"
          "  --max-frame BYTES  the server's maximum, as run's (default 16M; K/M/G ok): a step's\n"
          "                     payload may hold one byte more (an oversized frame); checked\n"
          "                     while parsing, before anything is allocated\n"
          "  --timeout SECONDS  end the whole replay by then (exit 1); also allows a single sleep\n"
          "                     longer than 60000 ms\n"
          "  --repeat N         run it up to N times, against the same server, and stop at the\n"
          "                     first failing run (a timing-dependent failure: a flaky case's\n"
          "                     reproducer command says how many)\n"
          "  --timeout-scale X  multiply the engine's own deadlines (as framespec run's)\n"
          "  --idle-timeout S   the server's idle timeout, as run's: a close it explains is\n"
          "                     reported as such, and fails a `before-idle` step\n"
          "  --pcap FILE        capture the exchange with tcpdump or tshark; when it cannot\n"
          "                     capture, exit 2 (with --pcap-optional: say so and go on)\n"
          "  --keep-logs        keep the --exec server's log in $TMPDIR/framespec-XXXXXX\n"
          "\n"
          "Exit 0: every expect held; 1: an expect failed (line, expected, actual) or --timeout\n"
          "was reached; 2: script error (line:column), an empty script or a directory, a capture\n"
          "that failed, or the target unreachable.\n",
          out);
}

/* replay's options: the shared ones (opts.h; --framing is the framing of a script that names
 * none, --max-frame the server's maximum; --seed has nothing to seed) and its own. Returns
 * 0, or the exit code. */
static int parse_replay(int argc, char **argv, opts_server *so, sc_env *env, const char **pcap,
                        bool *pcap_optional, uint64_t *repeat)
{
    static const struct option lo[] = {
        OPTS_SERVER_LONG,
        {"pcap", required_argument, NULL, 'p'},   {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {"keep-logs", no_argument, NULL, 'K'},
        {"pcap-optional", no_argument, NULL, 'P'}, {"repeat", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc;
    opts_server_init(so);
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        if (ch == OPT_SEED)
            return opts_bad("replay", "--seed", optarg, "replay makes no random choice (a "
                            "reproducer holds the slicing it was run with)");
        rc = opts_server_take("replay", ch, optarg, so);
        if (rc == 2)
            return 2;
        if (rc == 1)
            continue;
        switch (ch) {
        case 'p': *pcap = optarg; break;
        case 'P': *pcap_optional = true; break;
        case 'K': scratch_keep(true); break;
        case 'v': env->verbose++; break;
        case 'r':
            if (opts_u64(optarg, 1, 1000, repeat) < 0)
                return opts_bad("replay", "--repeat", optarg, "expected a number of runs 1..1000");
            break;
        case 'h':
            replay_usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "framespec replay: unknown option or missing value '%s'\n",
                    argv[optind - 1]);
            replay_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || (so->target == NULL && so->exec == NULL)) {
        replay_usage(stderr);
        return 2;
    }
    env->scale = so->scale;
    env->idle_ms = (int64_t)(so->idle_s * 1000 + 0.5);
    return 0;
}

int replay_main(int argc, char **argv)
{
    scenario sc;
    server_proc srv = {0};
    sc_server ops;
    sc_env env = {.inbox_min = INBOX_MIN};
    opts_server so;
    const char *pcap = NULL, *file, *target, *exec;
    char err[256];
    int rc;
    pid_t cap = -1;
    double timeout_s;
    bool pcap_optional = false;
    uint64_t repeat = 1, run = 0;

    rc = parse_replay(argc, argv, &so, &env, &pcap, &pcap_optional, &repeat);
    if (rc != 0)
        return rc;
    target = so.target;
    exec = so.exec;
    timeout_s = so.timeout_s;
    sc_init(&sc);
    sc.framing = so.framing;
    sc.payload_bound = so.max_frame;
    sc.long_sleeps = timeout_s > 0;
    file = argv[optind];
    scratch_deadline("replay", timeout_s, 1);
    if (sc_parse_file(&sc, file, stderr) < 0) {
        sc_free(&sc);
        return 2;
    }
    /* --max-frame is the server's maximum under the script's framing, as run's: its largest
     * payload bounds what the engine sends on its own (a vanishing peer's last frame) */
    so.framing = sc.framing;
    if (opts_server_finish("replay", &so) != 0) {
        sc_free(&sc);
        return 2;
    }
    sc.payload_bound = so.max_payload;
    signal(SIGPIPE, SIG_IGN);
    if (sc_needs_netns(&sc)) {
        /* vanish, middlebox-reset: the server and the rules live in a namespace of our own */
        const char *why = netns_unavailable();
        char nerr[512];
        int rc_ns;
        if (exec == NULL || why != NULL) {
            fprintf(stderr, "framespec replay: %s makes peers vanish (nftables rules): %s\n", file,
                    exec == NULL ? "that needs --exec (framespec starts the server inside its "
                                   "own network namespace)" : why);
            sc_free(&sc);
            return 2;
        }
        rc_ns = netns_enter(0, nerr, sizeof nerr);
        if (rc_ns < 0) {
            fprintf(stderr, "framespec replay: cannot enter a network namespace: %s\n", nerr);
            sc_free(&sc);
            return 2;
        }
        env.netns = true;
    }
    if (target && sock_parse_addr(target, &env.addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec replay: --target: %s\n", err);
        sc_free(&sc);
        return 2;
    }
    if (exec) {
        if (server_start(&srv, exec, target ? &env.addr : NULL, env.scale) < 0) {
            sc_free(&sc);
            return 2;
        }
        env.addr = srv.addr;
        sc_server_local(&ops, &srv);
        env.srv = &ops;
    } else {
        int fd = sock_connect(&env.addr, sock_now_ms() + 5000);
        if (fd < 0) {
            fprintf(stderr, "framespec replay: cannot connect to %s: %s\n", env.addr.text,
                    sock_errno_name(-fd));
            sc_free(&sc);
            return 2;
        }
        close(fd);
    }
    if (pcap) {
        cap = capture_start(&env.addr, pcap, env.verbose);
        if (cap < 0 && !pcap_optional) {
            fprintf(stderr, "framespec replay: no capture, so not replaying (--pcap-optional goes "
                            "on without one)\n");
            server_stop(&srv, NULL);
            sc_free(&sc);
            return 2;
        }
    }
    do {
        run++;
        rc = sc_run(&sc, &env, file, NULL);
    } while (rc == 0 && run < repeat);
    capture_stop(cap);
    if (rc == 0)
        printf("ok: %zu steps of %s held against %s%s\n", sc.n, file, env.addr.text,
               repeat > 1 ? " in every run" : "");
    if (repeat > 1)
        printf("%s in run %llu of at most %llu\n", rc == 0 ? "held" : "failed",
               (unsigned long long)run, (unsigned long long)repeat);
    server_stop(&srv, NULL);
    sc_free(&sc);
    return rc;
}
