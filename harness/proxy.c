/*
 * proxy.c — `framespec proxy`: a frame-aware fault-injecting proxy between any client and any
 * framed server (proxy_relay.h: the relay; proxy_toxic.h: the toxics). Its command line; the
 * Toxiproxy-compatible HTTP API comes with --api.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "fs.h"
#include "opts.h"
#include "proxy_api.h"
#include "proxy_relay.h"
#include "sock.h"

#define PROXY_MAX_CONNS_DEFAULT 10000

static volatile sig_atomic_t g_proxy_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_proxy_stop = 1;
}

static int usage(FILE *f)
{
    fprintf(f,
            "usage: framespec proxy [--listen HOST:PORT --upstream HOST:PORT] [--name NAME]\n"
            "                       [--api [HOST:]PORT] [--framing F] [--max-frame BYTES]\n"
            "                       [--toxic SPEC]... [--record DIR [--oracle O]] [--max-conns N]\n"
            "                       [--seconds S] [--list-toxics]\n"
            "\n"
            "Relay every connection to --listen to --upstream, both directions, faithfully: a\n"
            "half-close stays a half-close (SHUT_WR), an RST from one side becomes an RST to the\n"
            "other, a destination that does not drain stops the source being read\n"
            "(backpressure), an upstream that refuses gets the client an RST. Toxics inject\n"
            "faults per direction; framespec's frame toxics act at frame boundaries of the\n"
            "framing (the harness's own decoder).\n"
            "\n"
            "  --listen HOST:PORT   where clients connect (port 0: any; the bound address is\n"
            "                       printed on stdout: 'framespec proxy: NAME listening on ...')\n"
            "  --upstream ADDR      the server: HOST:PORT, [V6]:PORT or unix:PATH\n"
            "  --name NAME          the proxy's name (default framespec)\n"
            "  --api [HOST:]PORT    serve Toxiproxy's HTTP API there (HOST default 127.0.0.1;\n"
            "                       Toxiproxy's port is 8474): its clients create proxies and\n"
            "                       toxics, framespec's frame toxics among them. With --api,\n"
            "                       --listen and --upstream are optional\n"
            "  --framing F          the protocol's framing (any of framespec run's; default 4)\n"
            "  --max-frame BYTES    the server's maximum (default 16M): frame toxics stop\n"
            "                       following frames after a larger header\n"
            "  --toxic SPEC         TYPE[:upstream|downstream][:ATTR=V,...] (repeatable; the\n"
            "                       stream defaults to downstream, server to client; toxicity=P\n"
            "                       and name=N set Toxiproxy's fields), e.g.\n"
            "                       'frame_reset:downstream:after_frames=3'\n"
            "  --record DIR         write each connection as the server saw it (after the\n"
            "                       upstream toxics): DIR/NAME-N.scenario (the proxy's writes\n"
            "                       as steps, the server's bytes and close as expectations:\n"
            "                       import's capture oracle; replay it against the server\n"
            "                       alone) and DIR/NAME-N.pcap\n"
            "  --oracle O           what a recorded scenario expects of the server: capture\n"
            "                       (default: its bytes and close as recorded), echo (the\n"
            "                       spec's echo rules, for an echo server) or close\n"
            "  --max-conns N        connections at once (default %d; over it clients wait in\n"
            "                       the listen backlog)\n"
            "  --seconds S          stop after S seconds (default: at SIGINT or SIGTERM)\n"
            "  --list-toxics        the toxic types and their attributes\n"
            "\n"
            "At the end it prints what each proxy relayed. Exit 0; 2: a bad option (the\n"
            "message names it); 1: the relay failed (a listen that failed, epoll).\n",
            PROXY_MAX_CONNS_DEFAULT);
    return f == stdout ? 0 : 2;
}

typedef struct {
    const char *listen, *upstream, *name, *api, *record, *oracle;
    opts_server so;
    px_toxic tox[PX_MAX_TOXICS];
    size_t ntox;
    uint64_t max_conns;
    double seconds;
} proxy_opts;

static int parse(int argc, char **argv, proxy_opts *o)
{
    enum { O_LISTEN = 1, O_UPSTREAM, O_NAME, O_TOXIC, O_MAXC, O_SECONDS, O_LIST, O_HELP, O_API,
           O_RECORD, O_ORACLE };
    static const struct option longs[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"upstream", required_argument, NULL, O_UPSTREAM},
        {"name", required_argument, NULL, O_NAME},
        {"api", required_argument, NULL, O_API},
        {"record", required_argument, NULL, O_RECORD},
        {"oracle", required_argument, NULL, O_ORACLE},
        {"toxic", required_argument, NULL, O_TOXIC},
        {"max-conns", required_argument, NULL, O_MAXC},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"list-toxics", no_argument, NULL, O_LIST},
        {"help", no_argument, NULL, O_HELP},
        {"framing", required_argument, NULL, OPT_FRAMING},
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {NULL, 0, NULL, 0}};
    int ch, rc;
    char err[400];
    memset(o, 0, sizeof *o);
    opts_server_init(&o->so);
    o->name = "framespec";
    o->oracle = "capture";
    o->max_conns = PROXY_MAX_CONNS_DEFAULT;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if ((rc = opts_server_take("proxy", ch, optarg, &o->so)) == 2)
            return 2;
        if (rc == 1)
            continue;
        switch (ch) {
        case O_LISTEN:
            o->listen = optarg;
            break;
        case O_UPSTREAM:
            o->upstream = optarg;
            break;
        case O_API:
            o->api = optarg;
            break;
        case O_RECORD:
            o->record = optarg;
            break;
        case O_ORACLE:
            if (strcmp(optarg, "capture") && strcmp(optarg, "echo") && strcmp(optarg, "close"))
                return opts_bad("proxy", "--oracle", optarg, "expected capture, echo or close");
            o->oracle = optarg;
            break;
        case O_NAME:
            if (optarg[0] == '\0' || strlen(optarg) >= 64 || strchr(optarg, '/'))
                return opts_bad("proxy", "--name", optarg, "expected 1 to 63 characters, no '/'");
            o->name = optarg;
            break;
        case O_TOXIC:
            if (o->ntox == PX_MAX_TOXICS)
                return opts_bad("proxy", "--toxic", optarg, "at most 32 toxics");
            if (tx_parse_spec(optarg, &o->tox[o->ntox], err, sizeof err) < 0)
                return opts_bad("proxy", "--toxic", optarg, err);
            for (size_t i = 0; i < o->ntox; i++)
                if (!strcmp(o->tox[i].name, o->tox[o->ntox].name))
                    return opts_bad("proxy", "--toxic", optarg,
                                    "a toxic of that name is already set: give name=OTHER");
            o->ntox++;
            break;
        case O_MAXC:
            if (opts_u64(optarg, 1, 1000000, &o->max_conns) < 0)
                return opts_bad("proxy", "--max-conns", optarg, "expected 1..1000000");
            break;
        case O_SECONDS:
            if (opts_seconds(optarg, &o->seconds) < 0 || o->seconds <= 0)
                return opts_bad("proxy", "--seconds", optarg, "expected seconds > 0");
            break;
        case O_LIST:
            printf("toxic types (attributes: --toxic TYPE:STREAM:ATTR=V,...):\n");
            tx_print_types(stdout);
            return 0;
        case 'h':
        case O_HELP:
            return usage(stdout);
        default:
            fprintf(stderr, "framespec proxy: unknown option '%s'\n", argv[optind - 1]);
            return usage(stderr);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "framespec proxy: unexpected argument '%s'\n", argv[optind]);
        return usage(stderr);
    }
    if ((rc = opts_server_finish("proxy", &o->so)) != 0)
        return rc;
    if ((o->listen == NULL) != (o->upstream == NULL) ||
        (o->listen == NULL && o->api == NULL)) {
        fprintf(stderr, "framespec proxy: give --listen HOST:PORT and --upstream HOST:PORT (or "
                        "--api PORT, whose clients create proxies)\n");
        return 2;
    }
    if (o->upstream) {
        sock_addr a;
        if (sock_parse_addr(o->upstream, &a, err, sizeof err) < 0)
            return opts_bad("proxy", "--upstream", o->upstream, err);
    }
    for (size_t i = 0; i < o->ntox; i++) {
        const char *why = tx_unfit(&o->tox[i], o->so.framing);
        if (why)
            return opts_bad("proxy", "--toxic", o->tox[i].name, why);
    }
    return -1;
}

/* --record DIR: each connection's record, written when it ends (the relay's thread). */
typedef struct {
    const char *dir, *oracle;
    wire_framing f;
    uint64_t max;
    uint64_t written, failed;
} recorder;

static void record_one(void *arg, const char *proxy, uint64_t id, capture *cp)
{
    recorder *rc = arg;
    char path[4096], origin[200], err[300], *text = NULL;
    size_t len = 0;
    FILE *f;
    bool ok;
    snprintf(origin, sizeof origin, "framespec proxy %s, connection %" PRIu64, proxy, id);
    snprintf(path, sizeof path, "%s/%s-%" PRIu64 ".pcap", rc->dir, proxy, id);
    if (cap_write_pcap(cp, path, err, sizeof err) < 0 ||
        import_write(cp, origin, rc->f, rc->max, rc->oracle, &text, &len) < 0) {
        rc->failed++;
        free(text);
        return;
    }
    snprintf(path, sizeof path, "%s/%s-%" PRIu64 ".scenario", rc->dir, proxy, id);
    f = fopen(path, "w");
    ok = f != NULL && fwrite(text, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "framespec proxy: --record: cannot write %s: %s\n", path, strerror(errno));
        rc->failed++;
    } else {
        rc->written++;
    }
    free(text);
}

int proxy_main(int argc, char **argv)
{
    recorder rec = {0};
    proxy_opts o;
    px_relay *r;
    px_api *api = NULL;
    char err[400];
    int rc = parse(argc, argv, &o);
    struct sigaction sa;
    px_info info;
    if (rc >= 0)
        return rc;
    r = px_relay_new(o.so.framing, o.so.max_frame, (size_t)o.max_conns, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "framespec proxy: %s\n", err);
        return 1;
    }
    if (o.record) {
        struct stat sb;
        if (mkdir(o.record, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "framespec proxy: --record %s: %s\n", o.record, strerror(errno));
            px_relay_free(r);
            return 2;
        }
        if (stat(o.record, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "framespec proxy: --record %s: not a directory\n", o.record);
            px_relay_free(r);
            return 2;
        }
        rec = (recorder){o.record, o.oracle, o.so.framing, o.so.max_frame, 0, 0};
        px_relay_record(r, record_one, &rec);
    }
    if (o.listen) {
        rc = px_relay_add(r, o.name, o.listen, o.upstream, true, o.tox, o.ntox, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "framespec proxy: --listen %s: %s\n", o.listen, err);
            px_relay_free(r);
            return 1;
        }
        px_relay_get(r, o.name, 0, &info);
        printf("framespec proxy: %s listening on %s -> %s (framing %s, %zu toxic%s)\n",
               info.name, info.listen, info.upstream, wire_framing_name(&o.so.framing),
               info.ntox, info.ntox == 1 ? "" : "s");
    }
    if (o.api) {
        char bound[200];
        api = px_api_start(r, o.api, bound, sizeof bound, err, sizeof err);
        if (api == NULL) {
            fprintf(stderr, "framespec proxy: --api %s: %s\n", o.api, err);
            px_relay_free(r);
            return 1;
        }
        printf("framespec proxy: API (Toxiproxy's) on http://%s\n", bound);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    rc = px_relay_run(r, &g_proxy_stop,
                      o.seconds > 0 ? sock_now_ms() + (int64_t)(o.seconds * 1000) : 0);
    px_api_stop(api);
    px_relay_close_all(r); /* open connections are recorded too */
    if (o.record)
        printf("framespec proxy: recorded %" PRIu64 " connection%s in %s%s (replay one against the "
               "server alone: framespec replay %s/NAME-N.scenario --target HOST:PORT)\n",
               rec.written, rec.written == 1 ? "" : "s", o.record,
               rec.failed ? " (some could not be written: see above)" : "", o.record);
    for (size_t i = 0; px_relay_get(r, NULL, i, &info) == 0; i++)
        printf("framespec proxy: %s: %" PRIu64 " connections (%" PRIu64 " open, %" PRIu64
               " reset), %" PRIu64 " bytes upstream, %" PRIu64 " bytes downstream\n",
               info.name, info.conns, info.active, info.resets, info.bytes_up, info.bytes_down);
    px_relay_free(r);
    return rc < 0 ? 1 : 0;
}
