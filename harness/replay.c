/*
 * replay.c — `framespec replay FILE`: run a scenario script against a server, deterministically.
 *
 * The grammar (docs/replay.md) — one step per line, `#` starts a comment, connections are named
 * (default `c`):
 *
 *     framing 0|1|2|4|line
 *     connect [NAME]
 *     [NAME] send frame PAYLOAD [xN]          PAYLOAD: "text" (C escapes) | hex:HEX | size:N
 *     [NAME] send raw PAYLOAD                 bytes as they are (partial headers, garbage)
 *     [NAME] send-sliced frame PAYLOAD by N [pause MS]
 *     [NAME] shutdown wr|rd|rdwr
 *     [NAME] abort                            SO_LINGER {1,0} then close: RST
 *     [NAME] close
 *     [NAME] stop-reading                     (extension) leave echoes unread in the kernel:
 *                                             a later close then sends RST; sends on it stop
 *                                             after 2 s without progress instead of failing
 *     [NAME] cork                             (extension) TCP_CORK: later sends wait for the
 *                                             close, so the data and the FIN share a segment
 *     server term|stop                        (extension, --exec) SIGTERM; stop also waits 5 s
 *                                             for the exit, then SIGKILL
 *     server start same-port|new-port         (extension, --exec) start it again, wait until
 *                                             it accepts
 *     sleep MS
 *     [NAME] expect frame PAYLOAD [xN] within MS
 *     [NAME] expect raw PAYLOAD within MS     (extension: bytes that are not whole frames)
 *     [NAME] expect eof within MS             clean FIN: read returns 0
 *     [NAME] expect reset within MS           ECONNRESET
 *     [NAME] expect closed within MS          either
 *     [NAME] expect open for MS               nothing arrives, nothing closes
 *     expect server-alive                     --exec: pid alive; and a fresh connection echoes
 *
 * Every connection reads whatever arrives into its own inbox while the script sends (so a large
 * `send` cannot deadlock against a server that echoes), and `expect` steps consume the inbox.
 * Exit 0: every expect held; 1: one failed (line, expected, actual); 2: script or usage error
 * (line and column), or the target is unreachable.
 */
#include "replay.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opts.h"
#include "scratch.h"
#include "server.h"
#include "sock.h"
#include "wire.h"

#define MAX_CONNS 4096
/* Memory bounds (issue: a flooding server took replay to 1.4 GB). A scenario's payloads live in
 * memory: each at most --max-frame + 1 bytes (the +1 lets a script send max+1), all of them
 * together at most MAX_SCRIPT_BYTES; checked while parsing, before anything is allocated. An
 * inbox holds at most max(INBOX_MIN, the largest expect) + 1 MiB: then that connection stops
 * reading until an expect consumes its inbox. */
#define MAX_SCRIPT_BYTES (512ull << 20)
#define INBOX_MIN (64u << 20)
/* a single sleep longer than this needs --timeout (which bounds the whole replay) */
#define MAX_SLEEP_MS 60000

typedef enum {
    ST_FRAMING, ST_CONNECT, ST_SEND, ST_SEND_RAW, ST_SEND_SLICED, ST_SHUTDOWN, ST_ABORT,
    ST_CLOSE, ST_SLEEP, ST_STOP_READING, ST_CORK, ST_EXPECT_BYTES, ST_EXPECT_EOF, ST_EXPECT_RESET,
    ST_EXPECT_CLOSED, ST_EXPECT_OPEN, ST_EXPECT_ALIVE, ST_SERVER_TERM, ST_SERVER_STOP,
    ST_SERVER_START,
} step_kind;

/* Steps that name no connection. */
static bool connless(step_kind k)
{
    return k == ST_FRAMING || k == ST_SLEEP || k == ST_EXPECT_ALIVE || k == ST_CONNECT ||
           k == ST_SERVER_TERM || k == ST_SERVER_STOP || k == ST_SERVER_START;
}

typedef struct {
    step_kind kind;
    int line;
    char conn[32];
    uint8_t *data; /* payload (frame steps) or bytes (raw steps), owned */
    size_t len;
    size_t reps;   /* xN */
    bool framed;   /* data is a payload to encode (else raw bytes) */
    long ms;       /* within / for / sleep / pause */
    size_t slice;  /* send-sliced: bytes per write */
    int how;       /* shutdown */
    wire_framing framing;
    char text[256]; /* the step as written, for messages */
} step;

typedef struct {
    char name[32];
    int fd;
    uint8_t *inbox;
    size_t in_len, in_cap;
    int closed; /* SOCK_OPEN, SOCK_EOF, SOCK_RESET, SOCK_ERROR */
    bool noread; /* `stop-reading`: leave what arrives in the kernel's receive queue */
    bool full;   /* the inbox reached r->inbox_cap: not read until an expect consumes it */
} rconn;

typedef struct {
    step *steps;
    size_t n, cap;
    rconn conns[MAX_CONNS];
    size_t nconns;
    wire_framing framing;
    sock_addr addr;
    server_proc srv;
    int verbose;
    int64_t t0;
    uint64_t max_frame;     /* --max-frame: the largest payload a step may hold (+1) */
    uint64_t script_bytes;  /* payload bytes of all steps so far */
    size_t inbox_cap;       /* see INBOX_MIN */
    bool timeout_given;     /* --timeout: long sleeps allowed */
} replay;

static void vlog(replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(replay *r, const char *fmt, ...)
{
    va_list ap;
    if (!r->verbose)
        return;
    fprintf(stderr, "[%9.3f ms] ", (double)(sock_now_ns() - r->t0) / 1e6);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- parsing ---- */

typedef struct {
    const char *file;
    int line;
    const char *start; /* the line, for column numbers */
    replay *r;
} pctx;

static int perr(const pctx *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(const pctx *p, const char *at, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d:%d: error: ", p->file, p->line, (int)(at - p->start) + 1);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Next token: a quoted string stays one token. Returns its start; *end after it. */
static const char *token(const char *s, const char **end)
{
    s = skip_ws(s);
    if (*s == '"') {
        const char *e = s + 1;
        while (*e && *e != '"') {
            if (*e == '\\' && e[1])
                e++;
            e++;
        }
        *end = *e == '"' ? e + 1 : e;
        return s;
    }
    *end = s;
    while (**end && **end != ' ' && **end != '\t')
        (*end)++;
    return s;
}

static bool tok_is(const char *t, const char *e, const char *word)
{
    size_t l = strlen(word);
    return (size_t)(e - t) == l && strncmp(t, word, l) == 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* A payload of n bytes (a frame's payload when framed) fits the framing's header, --max-frame
 * + 1 and what is left of MAX_SCRIPT_BYTES? Checked before it is allocated. Returns 0 or -1. */
static int payload_fits(const pctx *p, const char *t, uint64_t n, bool framed)
{
    replay *r = p->r;
    if (framed && n > wire_max_expressible(r->framing))
        return perr(p, t, "a frame payload of %llu bytes does not fit framing %s (at most %llu)",
                    (unsigned long long)n, wire_framing_name(r->framing),
                    (unsigned long long)wire_max_expressible(r->framing));
    if (n > r->max_frame + 1)
        return perr(p, t, "a payload of %llu bytes is over --max-frame + 1 (%llu); give a larger "
                          "--max-frame to allow it",
                    (unsigned long long)n, (unsigned long long)r->max_frame + 1);
    if (r->script_bytes + n > MAX_SCRIPT_BYTES)
        return perr(p, t, "the scenario's payloads would hold more than %llu MiB in memory",
                    MAX_SCRIPT_BYTES >> 20);
    r->script_bytes += n;
    return 0;
}

/* PAYLOAD: "text" | hex:HEX | size:N (a frame's payload when framed). Allocates *out. */
static int parse_payload(const pctx *p, const char *t, const char *e, bool framed, uint8_t **out,
                         size_t *len)
{
    uint8_t *b;
    size_t n = 0;
    if (*t == '"') {
        if (e - t < 2 || e[-1] != '"')
            return perr(p, t, "unterminated string");
        if (payload_fits(p, t, (uint64_t)(e - t), framed) < 0)
            return -1;
        b = malloc((size_t)(e - t));
        if (b == NULL)
            return perr(p, t, "out of memory");
        for (const char *s = t + 1; s < e - 1; s++) {
            if (*s != '\\') {
                b[n++] = (uint8_t)*s;
                continue;
            }
            s++;
            switch (*s) {
            case 'n': b[n++] = '\n'; break;
            case 'r': b[n++] = '\r'; break;
            case 't': b[n++] = '\t'; break;
            case '0': b[n++] = 0; break;
            case '\\': b[n++] = '\\'; break;
            case '"': b[n++] = '"'; break;
            case 'x':
                if (s + 2 < e && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    b[n++] = (uint8_t)(hexval(s[1]) * 16 + hexval(s[2]));
                    s += 2;
                    break;
                }
                /* fall through */
            default:
                free(b);
                return perr(p, s - 1, "unknown escape '\\%c' (use \\n \\r \\t \\0 \\\\ \\\" \\xHH)", *s);
            }
        }
    } else if (e - t >= 4 && strncmp(t, "hex:", 4) == 0) {
        if ((e - t - 4) % 2 != 0)
            return perr(p, t, "hex: needs an even number of hex digits");
        if (payload_fits(p, t, (uint64_t)(e - t - 4) / 2, framed) < 0)
            return -1;
        b = malloc((size_t)(e - t) / 2 + 1);
        if (b == NULL)
            return perr(p, t, "out of memory");
        for (const char *s = t + 4; s < e; s += 2) {
            if (hexval(s[0]) < 0 || hexval(s[1]) < 0) {
                free(b);
                return perr(p, s, "not a hex digit");
            }
            b[n++] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
        }
    } else if (e - t >= 5 && strncmp(t, "size:", 5) == 0) {
        char num[32];
        uint64_t v;
        if ((size_t)(e - t - 5) >= sizeof num)
            return perr(p, t, "size: too long");
        memcpy(num, t + 5, (size_t)(e - t - 5));
        num[e - t - 5] = '\0';
        if (opts_u64(num, 0, 1ull << 32, &v) < 0)
            return perr(p, t + 5, "size:N needs a byte count (K/M/G ok), at most 4G");
        if (payload_fits(p, t, v, framed) < 0)
            return -1;
        b = malloc(v ? (size_t)v : 1);
        if (b == NULL)
            return perr(p, t, "out of memory for size:%llu", (unsigned long long)v);
        for (uint64_t i = 0; i < v; i++)
            b[i] = (uint8_t)i;
        n = (size_t)v;
    } else {
        return perr(p, t, "expected a payload: \"text\", hex:HEX or size:N");
    }
    *out = b;
    *len = n;
    return 0;
}

static int parse_ms(const pctx *p, const char *t, const char *e, long *ms)
{
    char num[32];
    uint64_t v;
    if (t == e || (size_t)(e - t) >= sizeof num)
        return perr(p, t, "expected milliseconds");
    memcpy(num, t, (size_t)(e - t));
    num[e - t] = '\0';
    if (opts_u64(num, 0, 86400000, &v) < 0)
        return perr(p, t, "expected milliseconds (0..86400000), got '%s'", num);
    *ms = (long)v;
    return 0;
}

/* "xN": N copies, 1..100000000. */
static int parse_reps(const pctx *p, const char *t, const char *e, size_t *reps)
{
    uint64_t v;
    char num[24] = "";
    if ((size_t)(e - t - 1) < sizeof num)
        memcpy(num, t + 1, (size_t)(e - t - 1));
    if (opts_u64(num, 1, 100000000, &v) < 0)
        return perr(p, t, "xN needs a count 1..100000000");
    *reps = (size_t)v;
    return 0;
}

static bool valid_name(const char *t, const char *e)
{
    if (t == e || !(isalpha((unsigned char)*t) || *t == '_'))
        return false;
    for (const char *s = t; s < e; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool is_verb(const char *t, const char *e)
{
    static const char *const verbs[] = {"framing", "connect", "send",   "send-sliced",
                                        "shutdown", "abort",   "close",  "sleep",
                                        "expect",   "stop-reading", "cork", "server"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (tok_is(t, e, verbs[i]))
            return true;
    return false;
}

static int parse_line(replay *r, pctx *p, char *line)
{
    step st;
    const char *t, *e, *s = line;
    char *hash = NULL;

    /* strip a comment (outside quotes) */
    for (char *q = line; *q; q++) {
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++)
                if (*q == '\\' && q[1])
                    q++;
            if (!*q)
                break;
        } else if (*q == '#') {
            hash = q;
            break;
        }
    }
    if (hash)
        *hash = '\0';
    t = token(s, &e);
    if (t == e)
        return 0; /* blank */
    memset(&st, 0, sizeof st);
    st.line = p->line;
    st.reps = 1;
    snprintf(st.text, sizeof st.text, "%s", skip_ws(line));
    for (size_t l = strlen(st.text); l > 0 && (st.text[l - 1] == ' ' || st.text[l - 1] == '\t' ||
                                              st.text[l - 1] == '\r');)
        st.text[--l] = '\0';
    snprintf(st.conn, sizeof st.conn, "c");
    if (!is_verb(t, e)) {
        if (!valid_name(t, e) || (size_t)(e - t) >= sizeof st.conn)
            return perr(p, t, "expected a step (framing, connect, send, send-sliced, shutdown, "
                              "abort, close, sleep, expect) or a connection name");
        memcpy(st.conn, t, (size_t)(e - t));
        st.conn[e - t] = '\0';
        t = token(e, &e);
        if (!is_verb(t, e))
            return perr(p, t, "expected a step after the connection name");
    }
    if (tok_is(t, e, "framing")) {
        t = token(e, &e);
        {
            char f[16] = "";
            if ((size_t)(e - t) < sizeof f)
                memcpy(f, t, (size_t)(e - t));
            if (wire_parse_framing(f, &st.framing) < 0)
                return perr(p, t, "framing must be 0, 1, 2, 4 or line");
        }
        st.kind = ST_FRAMING;
        r->framing = st.framing; /* payload encoding below depends on it */
    } else if (tok_is(t, e, "connect")) {
        st.kind = ST_CONNECT;
        t = token(e, &e);
        if (t != e) {
            if (!valid_name(t, e) || (size_t)(e - t) >= sizeof st.conn)
                return perr(p, t, "bad connection name");
            memcpy(st.conn, t, (size_t)(e - t));
            st.conn[e - t] = '\0';
        }
    } else if (tok_is(t, e, "send") || tok_is(t, e, "send-sliced")) {
        bool sliced = tok_is(t, e, "send-sliced");
        t = token(e, &e);
        if (tok_is(t, e, "raw") && !sliced) {
            t = token(e, &e);
            if (parse_payload(p, t, e, false, &st.data, &st.len) < 0)
                return -1;
            st.kind = ST_SEND_RAW;
        } else if (tok_is(t, e, "frame")) {
            t = token(e, &e);
            if (parse_payload(p, t, e, true, &st.data, &st.len) < 0)
                return -1;
            st.framed = true;
            st.kind = sliced ? ST_SEND_SLICED : ST_SEND;
            t = token(e, &e);
            if (!sliced && t != e && *t == 'x') {
                if (parse_reps(p, t, e, &st.reps) < 0)
                    return -1;
                t = token(e, &e);
            }
            if (sliced) {
                uint64_t v;
                char num[24] = "";
                if (!tok_is(t, e, "by"))
                    return perr(p, t, "send-sliced needs 'by N'");
                t = token(e, &e);
                if ((size_t)(e - t) < sizeof num)
                    memcpy(num, t, (size_t)(e - t));
                if (opts_u64(num, 1, 1u << 30, &v) < 0)
                    return perr(p, t, "by N needs a byte count >= 1");
                st.slice = (size_t)v;
                t = token(e, &e);
                if (tok_is(t, e, "pause")) {
                    t = token(e, &e);
                    if (parse_ms(p, t, e, &st.ms) < 0)
                        return -1;
                    t = token(e, &e);
                }
            }
            if (t != e)
                return perr(p, t, "unexpected '%.*s'", (int)(e - t), t);
        } else {
            return perr(p, t, "expected 'frame'%s", sliced ? "" : " or 'raw'");
        }
        if (st.framed && r->framing == WIRE_LINE && memchr(st.data, '\n', st.len))
            return perr(p, t, "a line-framing payload cannot contain '\\n'");
        if (st.framed && st.len > wire_max_expressible(r->framing))
            return perr(p, t, "payload of %zu bytes does not fit framing %s", st.len,
                        wire_framing_name(r->framing));
    } else if (tok_is(t, e, "shutdown")) {
        t = token(e, &e);
        if (tok_is(t, e, "wr"))
            st.how = SHUT_WR;
        else if (tok_is(t, e, "rd"))
            st.how = SHUT_RD;
        else if (tok_is(t, e, "rdwr"))
            st.how = SHUT_RDWR;
        else
            return perr(p, t, "shutdown takes wr, rd or rdwr");
        st.kind = ST_SHUTDOWN;
    } else if (tok_is(t, e, "abort")) {
        st.kind = ST_ABORT;
    } else if (tok_is(t, e, "stop-reading")) {
        st.kind = ST_STOP_READING;
    } else if (tok_is(t, e, "cork")) {
        st.kind = ST_CORK;
    } else if (tok_is(t, e, "server")) {
        t = token(e, &e);
        if (tok_is(t, e, "term")) {
            st.kind = ST_SERVER_TERM;
        } else if (tok_is(t, e, "stop")) {
            st.kind = ST_SERVER_STOP;
        } else if (tok_is(t, e, "start")) {
            st.kind = ST_SERVER_START;
            t = token(e, &e);
            if (tok_is(t, e, "same-port"))
                st.how = 1;
            else if (!tok_is(t, e, "new-port"))
                return perr(p, t, "server start takes same-port or new-port");
        } else {
            return perr(p, t, "server takes term, stop or start");
        }
    } else if (tok_is(t, e, "close")) {
        st.kind = ST_CLOSE;
    } else if (tok_is(t, e, "sleep")) {
        t = token(e, &e);
        if (parse_ms(p, t, e, &st.ms) < 0)
            return -1;
        if (st.ms > MAX_SLEEP_MS && !r->timeout_given)
            return perr(p, t, "a sleep of %ld ms is longer than %d ms: give --timeout SECONDS to "
                              "allow it", st.ms, MAX_SLEEP_MS);
        st.kind = ST_SLEEP;
    } else if (tok_is(t, e, "expect")) {
        t = token(e, &e);
        if (tok_is(t, e, "server-alive")) {
            st.kind = ST_EXPECT_ALIVE;
        } else if (tok_is(t, e, "open")) {
            t = token(e, &e);
            if (!tok_is(t, e, "for"))
                return perr(p, t, "expect open needs 'for MS'");
            t = token(e, &e);
            if (parse_ms(p, t, e, &st.ms) < 0)
                return -1;
            st.kind = ST_EXPECT_OPEN;
        } else {
            if (tok_is(t, e, "frame") || tok_is(t, e, "raw")) {
                bool framed = tok_is(t, e, "frame");
                t = token(e, &e);
                if (parse_payload(p, t, e, framed, &st.data, &st.len) < 0)
                    return -1;
                st.framed = framed;
                st.kind = ST_EXPECT_BYTES;
                t = token(e, &e);
                if (t != e && *t == 'x') {
                    if (parse_reps(p, t, e, &st.reps) < 0)
                        return -1;
                    t = token(e, &e);
                }
            } else if (tok_is(t, e, "eof")) {
                st.kind = ST_EXPECT_EOF;
                t = token(e, &e);
            } else if (tok_is(t, e, "reset")) {
                st.kind = ST_EXPECT_RESET;
                t = token(e, &e);
            } else if (tok_is(t, e, "closed")) {
                st.kind = ST_EXPECT_CLOSED;
                t = token(e, &e);
            } else {
                return perr(p, t, "expect takes frame, raw, eof, reset, closed, open or "
                                  "server-alive");
            }
            if (!tok_is(t, e, "within"))
                return perr(p, t, "expected 'within MS'");
            t = token(e, &e);
            if (parse_ms(p, t, e, &st.ms) < 0)
                return -1;
        }
    } else {
        return perr(p, t, "unknown step");
    }
    t = token(e, &e);
    if (t != e)
        return perr(p, t, "unexpected '%.*s' at the end of the step", (int)(e - t), t);
    if (st.framed) {
        /* encode the payload once into the frame bytes */
        size_t fl = wire_frame_size(r->framing, st.len);
        uint8_t *fb = malloc(fl ? fl : 1);
        if (fb == NULL)
            return perr(p, line, "out of memory");
        wire_encode(r->framing, st.data, st.len, fb);
        free(st.data);
        st.data = fb;
        st.len = fl;
    }
    if (st.kind == ST_EXPECT_BYTES) {
        /* the whole expected stream must fit an inbox */
        if (st.len > 0 && st.reps > MAX_SCRIPT_BYTES / st.len) {
            free(st.data);
            return perr(p, line, "this expect awaits more than %llu MiB at once; split it",
                        MAX_SCRIPT_BYTES >> 20);
        }
        if (st.len * st.reps + (1u << 20) > r->inbox_cap)
            r->inbox_cap = st.len * st.reps + (1u << 20);
    }
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        step *ns = realloc(r->steps, nc * sizeof *ns);
        if (ns == NULL)
            return perr(p, line, "out of memory");
        r->steps = ns;
        r->cap = nc;
    }
    r->steps[r->n++] = st;
    return 0;
}

static int parse_file(replay *r, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    pctx p = {.file = path, .r = r};
    int rc = 0;
    struct stat sb;
    if (f == NULL) {
        fprintf(stderr, "framespec replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "framespec replay: %s is a directory; give a scenario file (the "
                        "reproducers of a run are DIR/ID.scenario)\n", path);
        fclose(f);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        p.line++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        p.start = line;
        if (parse_line(r, &p, line) < 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    if (rc == 0 && r->n == 0) {
        fprintf(stderr, "framespec replay: %s has no steps (an empty scenario checks nothing); "
                        "docs/replay.md has the grammar\n", path);
        return -1;
    }
    return rc;
}

/* ---- running ---- */

static rconn *find_conn(replay *r, const char *name)
{
    for (size_t i = 0; i < r->nconns; i++)
        if (strcmp(r->conns[i].name, name) == 0)
            return &r->conns[i];
    return NULL;
}

/* Read what is available on c into its inbox (non-blocking). */
static void pump(replay *r, rconn *c)
{
    for (;;) {
        ssize_t n;
        if (c->fd < 0 || c->closed != SOCK_OPEN || c->noread)
            return;
        c->full = c->in_len >= r->inbox_cap;
        if (c->full) {
            vlog(r, "%s inbox full (%zu bytes): not reading until an expect consumes it", c->name,
                 c->in_len);
            return;
        }
        if (c->in_cap - c->in_len < 65536) {
            /* 128 KiB, then 1 MiB, then the cap in one step: pages of it that are never written
             * are never resident, and there is no chain of copies (nor, under ASan, a
             * quarantine of the discarded buffers) on the way to it */
            size_t nc = c->in_cap == 0 ? 131072 : c->in_cap < (1u << 20) ? (1u << 20)
                                                                        : r->inbox_cap + 65536;
            if (nc > r->inbox_cap + 65536)
                nc = r->inbox_cap + 65536;
            uint8_t *p = realloc(c->inbox, nc);
            if (p == NULL)
                return;
            c->inbox = p;
            c->in_cap = nc;
        }
        n = recv(c->fd, c->inbox + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            vlog(r, "%s recv %zd bytes", c->name, n);
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        vlog(r, "%s recv: %s", c->name, n == 0 ? "FIN" : sock_errno_name(errno));
        c->closed = sock_close_kind(n, n < 0 ? errno : 0);
        return;
    }
}

/* Wait up to `ms` for activity on any open connection, reading it into inboxes. */
static void pump_all(replay *r, int ms)
{
    struct pollfd pf[MAX_CONNS];
    size_t n = 0;
    for (size_t i = 0; i < r->nconns; i++) {
        if (r->conns[i].fd >= 0 && r->conns[i].closed == SOCK_OPEN && !r->conns[i].noread &&
            r->conns[i].in_len < r->inbox_cap) {
            pf[n].fd = r->conns[i].fd;
            pf[n].events = POLLIN;
            n++;
        }
    }
    if (n == 0) {
        if (ms > 0)
            poll(NULL, 0, ms);
        return;
    }
    poll(pf, n, ms);
    for (size_t i = 0; i < r->nconns; i++)
        pump(r, &r->conns[i]);
}

/* Send bytes on c, reading every connection's input meanwhile. Returns 0 or -errno. */
static int send_bytes(replay *r, rconn *c, const uint8_t *p, size_t len, int64_t deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
            if (sock_now_ms() > deadline)
                return -ETIMEDOUT;
            pump_all(r, 0);
            poll(&pf, 1, 10);
            continue;
        }
        /* the first close observed wins: an RST reported here reads as EOF afterwards */
        if (c->closed == SOCK_OPEN)
            c->closed = sock_close_kind(n, errno);
        return -errno;
    }
    pump_all(r, 0);
    return 0;
}

static void hexdump(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%02x", i ? " " : "", p[i]);
}

static int fail_step(const step *st, const char *file, const char *expected, const char *actual)
{
    printf("FAIL %s:%d: %s\n  expected: %s\n  actual:   %s\n", file, st->line, st->text, expected,
           actual);
    return 1;
}

static int run_steps(replay *r, const char *file)
{
    for (size_t i = 0; i < r->n; i++) {
        step *st = &r->steps[i];
        rconn *c = NULL;
        char exp[256], act[512];
        if ((st->kind == ST_SERVER_TERM || st->kind == ST_SERVER_STOP ||
             st->kind == ST_SERVER_START) && r->srv.exec == NULL) {
            fprintf(stderr, "%s:%d:1: error: '%s' needs --exec (framespec must launch the "
                            "server to stop and start it)\n", file, st->line, st->text);
            return 2;
        }
        if (!connless(st->kind)) {
            c = find_conn(r, st->conn);
            if (c == NULL) {
                fprintf(stderr, "%s:%d:1: error: no connection named '%s' (connect it first)\n",
                        file, st->line, st->conn);
                return 2;
            }
        }
        vlog(r, "line %d: %s", st->line, st->text);
        switch (st->kind) {
        case ST_FRAMING:
            break;
        case ST_CONNECT: {
            int fd = sock_connect(&r->addr, sock_now_ms() + 5000);
            if (fd < 0) {
                snprintf(act, sizeof act, "connect: %s", sock_errno_name(-fd));
                return fail_step(st, file, "the connection is accepted", act);
            }
            c = find_conn(r, st->conn);
            if (c == NULL) {
                if (r->nconns == MAX_CONNS) {
                    fprintf(stderr, "%s:%d: too many connections\n", file, st->line);
                    return 2;
                }
                c = &r->conns[r->nconns++];
                snprintf(c->name, sizeof c->name, "%s", st->conn);
            } else if (c->fd >= 0) {
                close(c->fd);
            }
            c->fd = fd;
            c->in_len = 0;
            c->closed = SOCK_OPEN;
            break;
        }
        case ST_STOP_READING:
            c->noread = true;
            break;
        case ST_CORK: {
            int one = 1;
            if (r->addr.family != AF_UNIX &&
                setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) < 0)
                vlog(r, "%s: TCP_CORK: %s", c->name, strerror(errno));
            break;
        }
        case ST_SERVER_TERM:
            server_term(&r->srv);
            break;
        case ST_SERVER_STOP:
            server_stop_wait(&r->srv, 5000, act, sizeof act);
            vlog(r, "server %s", act);
            break;
        case ST_SERVER_START: {
            char why[2048];
            if (server_restart(&r->srv, st->how == 1, 1.0, why, sizeof why) < 0) {
                snprintf(act, sizeof act, "%.500s", why);
                return fail_step(st, file, "the server starts again and accepts", act);
            }
            r->addr = r->srv.addr;
            vlog(r, "server started again on %s (pid %d)", r->addr.text, (int)r->srv.pid);
            break;
        }
        case ST_SEND:
        case ST_SEND_RAW:
            for (size_t k = 0; k < st->reps; k++) {
                int rc = send_bytes(r, c, st->data, st->len,
                                    sock_now_ms() + (c->noread ? 2000 : 10000));
                if (rc == -ETIMEDOUT && c->noread) {
                    /* a peer that does not read cannot send everything: that is the point */
                    vlog(r, "%s: sent %zu of %zu copies before the window closed", c->name, k,
                         st->reps);
                    break;
                }
                if (rc < 0) {
                    snprintf(act, sizeof act, "send failed: %s after %zu of %zu copies",
                             sock_errno_name(-rc), k, st->reps);
                    return fail_step(st, file, "the bytes are sent", act);
                }
            }
            break;
        case ST_SEND_SLICED:
            for (size_t off = 0; off < st->len; off += st->slice) {
                size_t k = st->len - off < st->slice ? st->len - off : st->slice;
                int rc = send_bytes(r, c, st->data + off, k, sock_now_ms() + 10000);
                if (rc < 0) {
                    snprintf(act, sizeof act, "send failed: %s", sock_errno_name(-rc));
                    return fail_step(st, file, "the bytes are sent", act);
                }
                if (st->ms > 0 && off + k < st->len)
                    pump_all(r, (int)st->ms);
            }
            break;
        case ST_SHUTDOWN:
            shutdown(c->fd, st->how);
            break;
        case ST_ABORT:
            sock_abort(c->fd);
            c->fd = -1;
            c->closed = SOCK_ERROR;
            break;
        case ST_CLOSE:
            close(c->fd);
            c->fd = -1;
            c->closed = SOCK_ERROR;
            break;
        case ST_SLEEP: {
            int64_t end = sock_now_ms() + st->ms;
            while (sock_now_ms() < end)
                pump_all(r, (int)(end - sock_now_ms()));
            break;
        }
        case ST_EXPECT_BYTES: {
            size_t total = st->len * st->reps;
            int64_t deadline = sock_now_ms() + st->ms;
            for (;;) {
                /* compare what is there so far */
                size_t have = c->in_len < total ? c->in_len : total;
                for (size_t off = 0; off < have; off += st->len) {
                    size_t k = have - off < st->len ? have - off : st->len;
                    if (memcmp(c->inbox + off, st->data, k) != 0) {
                        size_t j = 0;
                        char a[100], b[100];
                        while (c->inbox[off + j] == st->data[j])
                            j++;
                        hexdump(st->data + j, st->len - j < 16 ? st->len - j : 16, a, sizeof a);
                        hexdump(c->inbox + off + j, have - off - j < 16 ? have - off - j : 16, b,
                                sizeof b);
                        snprintf(exp, sizeof exp, "byte %zu = %s", off + j, a);
                        snprintf(act, sizeof act, "byte %zu = %s", off + j, b);
                        return fail_step(st, file, exp, act);
                    }
                }
                if (have == total)
                    break;
                if (c->closed != SOCK_OPEN || sock_now_ms() >= deadline) {
                    snprintf(exp, sizeof exp, "%zu bytes within %ld ms", total, st->ms);
                    snprintf(act, sizeof act, "%zu bytes, then %s", c->in_len,
                             c->closed != SOCK_OPEN ? sock_close_name(c->closed) : "timeout");
                    return fail_step(st, file, exp, act);
                }
                pump_all(r, (int)(deadline - sock_now_ms() > 100 ? 100 : deadline - sock_now_ms()));
            }
            memmove(c->inbox, c->inbox + total, c->in_len - total);
            c->in_len -= total;
            break;
        }
        case ST_EXPECT_EOF:
        case ST_EXPECT_RESET:
        case ST_EXPECT_CLOSED: {
            int64_t deadline = sock_now_ms() + st->ms;
            const char *want = st->kind == ST_EXPECT_EOF     ? "FIN (read returns 0)"
                               : st->kind == ST_EXPECT_RESET ? "RST (ECONNRESET)"
                                                             : "FIN or RST";
            while (c->closed == SOCK_OPEN && c->in_len == 0 && sock_now_ms() < deadline)
                pump_all(r, (int)(deadline - sock_now_ms() > 100 ? 100 : deadline - sock_now_ms()));
            if (c->in_len > 0) {
                snprintf(exp, sizeof exp, "%s within %ld ms", want, st->ms);
                snprintf(act, sizeof act, "%zu unexpected bytes arrived first", c->in_len);
                return fail_step(st, file, exp, act);
            }
            if (c->closed == SOCK_OPEN ||
                (st->kind == ST_EXPECT_EOF && c->closed != SOCK_EOF) ||
                (st->kind == ST_EXPECT_RESET && c->closed != SOCK_RESET)) {
                snprintf(exp, sizeof exp, "%s within %ld ms", want, st->ms);
                snprintf(act, sizeof act, "%s", c->closed == SOCK_OPEN ? "still open (timeout)"
                                                : sock_close_name(c->closed));
                return fail_step(st, file, exp, act);
            }
            break;
        }
        case ST_EXPECT_OPEN: {
            int64_t end = sock_now_ms() + st->ms;
            while (sock_now_ms() < end && c->closed == SOCK_OPEN && c->in_len == 0)
                pump_all(r, (int)(end - sock_now_ms()));
            if (c->in_len > 0 || c->closed != SOCK_OPEN) {
                snprintf(exp, sizeof exp, "nothing arrives and nothing closes for %ld ms", st->ms);
                if (c->in_len > 0)
                    snprintf(act, sizeof act, "%zu bytes arrived", c->in_len);
                else
                    snprintf(act, sizeof act, "closed: %s", sock_close_name(c->closed));
                return fail_step(st, file, exp, act);
            }
            break;
        }
        case ST_EXPECT_ALIVE: {
            uint8_t w[16];
            uint8_t back[16];
            size_t n;
            int fd, kind = SOCK_OPEN;
            if (r->srv.pid > 0 && !server_running(&r->srv)) {
                server_describe_exit(&r->srv, act, sizeof act);
                return fail_step(st, file, "the server process alive", act);
            }
            n = wire_encode(r->framing, (const uint8_t *)"alive", 5, w);
            fd = sock_connect(&r->addr, sock_now_ms() + 5000);
            if (fd < 0) {
                snprintf(act, sizeof act, "connect: %s", sock_errno_name(-fd));
                return fail_step(st, file, "a fresh connection echoes a frame", act);
            }
            if (sock_send_all(fd, w, n, sock_now_ms() + 5000) < 0 ||
                sock_recv_exact(fd, back, n, sock_now_ms() + 5000, &kind) != (ssize_t)n ||
                memcmp(back, w, n) != 0) {
                close(fd);
                snprintf(act, sizeof act, "no echo (%s)", sock_close_name(kind));
                return fail_step(st, file, "a fresh connection echoes a frame", act);
            }
            close(fd);
            break;
        }
        }
    }
    return 0;
}

/* ---- capture ---- */

static pid_t start_capture(const replay *r, const char *pcap)
{
    char filter[64];
    const char *tool = NULL;
    pid_t pid;
    int port;
    if (r->addr.family == AF_UNIX) {
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
    port = r->addr.family == AF_INET ? ntohs(((const struct sockaddr_in *)&r->addr.sa)->sin_port)
                                     : ntohs(((const struct sockaddr_in6 *)&r->addr.sa)->sin6_port);
    snprintf(filter, sizeof filter, "tcp port %d", port);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGINT); /* flushes and exits when replay dies (--timeout) */
        dup2(devnull, 1);
        if (!r->verbose)
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

static void stop_capture(pid_t pid)
{
    if (pid <= 0)
        return;
    poll(NULL, 0, 200); /* let the last packets land */
    kill(pid, SIGINT);
    waitpid(pid, NULL, 0);
}

/* ---- the command ---- */

/* Free everything a replay owns (steps, inboxes, the replay itself); closes its sockets. */
static void replay_free(replay *r)
{
    for (size_t i = 0; i < r->nconns; i++) {
        if (r->conns[i].fd >= 0)
            close(r->conns[i].fd);
        free(r->conns[i].inbox);
    }
    for (size_t i = 0; i < r->n; i++)
        free(r->steps[i].data);
    free(r->steps);
    free(r);
}

static void replay_usage(FILE *out)
{
    fputs("usage: framespec replay FILE (--target HOST:PORT|unix:PATH | --exec 'CMD ... {port} ...')\n"
          "                        [--max-frame BYTES] [--timeout SECONDS] [--pcap FILE]\n"
          "                        [--pcap-optional] [--keep-logs] [-v]\n"
          "\n"
          "Run a scenario script (grammar: docs/replay.md).\n"
          "\n"
          "  --max-frame BYTES  the largest payload a step may hold, + 1 (default 16M; K/M/G ok);\n"
          "                     checked while parsing, before anything is allocated\n"
          "  --timeout SECONDS  end the whole replay by then (exit 1); also allows a single sleep\n"
          "                     longer than 60000 ms\n"
          "  --pcap FILE        capture the exchange with tcpdump or tshark; when it cannot\n"
          "                     capture, exit 2 (with --pcap-optional: say so and go on)\n"
          "  --keep-logs        keep the --exec server's log in $TMPDIR/framespec-XXXXXX\n"
          "\n"
          "Exit 0: every expect held; 1: an expect failed (line, expected, actual) or --timeout\n"
          "was reached; 2: script error (line:column), an empty script or a directory, a capture\n"
          "that failed, or the target unreachable.\n",
          out);
}

int replay_main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"target", required_argument, NULL, 't'}, {"exec", required_argument, NULL, 'e'},
        {"pcap", required_argument, NULL, 'p'},   {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {"max-frame", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 'W'}, {"keep-logs", no_argument, NULL, 'K'},
        {"pcap-optional", no_argument, NULL, 'P'}, {NULL, 0, NULL, 0},
    };
    replay *r = calloc(1, sizeof *r);
    const char *target = NULL, *exec = NULL, *pcap = NULL, *file;
    char err[256];
    int ch, rc;
    pid_t cap = -1;
    double timeout_s = 0;
    bool pcap_optional = false;

    if (r == NULL)
        return 2;
    r->framing = WIRE_U32;
    r->max_frame = 16u << 20;
    r->inbox_cap = INBOX_MIN + (1u << 20);
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        switch (ch) {
        case 't':
            target = optarg;
            break;
        case 'e':
            exec = optarg;
            break;
        case 'p':
            pcap = optarg;
            break;
        case 'P':
            pcap_optional = true;
            break;
        case 'm':
            if (opts_u64(optarg, 1, 0xFFFFFFFFull, &r->max_frame) < 0) {
                free(r);
                return opts_bad("replay", "--max-frame", optarg,
                                "expected bytes 1..4294967295 (K/M/G ok)");
            }
            break;
        case 'W':
            if (opts_seconds(optarg, &timeout_s) < 0 || timeout_s <= 0) {
                free(r);
                return opts_bad("replay", "--timeout", optarg, "expected seconds > 0");
            }
            r->timeout_given = true;
            break;
        case 'K':
            scratch_keep(true);
            break;
        case 'v':
            r->verbose++;
            break;
        case 'h':
            replay_usage(stdout);
            free(r);
            return 0;
        default:
            fprintf(stderr, "framespec replay: unknown option or missing value '%s'\n",
                    argv[optind - 1]);
            replay_usage(stderr);
            free(r);
            return 2;
        }
    }
    if (optind != argc - 1 || (target == NULL && exec == NULL)) {
        replay_usage(stderr);
        free(r);
        return 2;
    }
    file = argv[optind];
    scratch_deadline("replay", timeout_s, 1);
    if (parse_file(r, file) < 0) {
        replay_free(r);
        return 2;
    }
    r->framing = WIRE_U32;
    /* the framing in force at run time is the first `framing` step's (or 4) */
    for (size_t i = 0; i < r->n; i++)
        if (r->steps[i].kind == ST_FRAMING) {
            r->framing = r->steps[i].framing;
            break;
        }
    signal(SIGPIPE, SIG_IGN);
    if (target && sock_parse_addr(target, &r->addr, err, sizeof err) < 0) {
        fprintf(stderr, "framespec replay: --target: %s\n", err);
        replay_free(r);
        return 2;
    }
    if (exec) {
        if (server_start(&r->srv, exec, target ? &r->addr : NULL, 1.0) < 0) {
            replay_free(r);
            return 2;
        }
        r->addr = r->srv.addr;
    } else {
        int fd = sock_connect(&r->addr, sock_now_ms() + 5000);
        if (fd < 0) {
            fprintf(stderr, "framespec replay: cannot connect to %s: %s\n", r->addr.text,
                    sock_errno_name(-fd));
            replay_free(r);
            return 2;
        }
        close(fd);
    }
    if (pcap) {
        cap = start_capture(r, pcap);
        if (cap < 0 && !pcap_optional) {
            fprintf(stderr, "framespec replay: no capture, so not replaying (--pcap-optional goes "
                            "on without one)\n");
            server_stop(&r->srv, NULL);
            replay_free(r);
            return 2;
        }
    }
    r->t0 = sock_now_ns();
    rc = run_steps(r, file);
    stop_capture(cap);
    if (rc == 0)
        printf("ok: %zu steps of %s held against %s\n", r->n, file, r->addr.text);
    server_stop(&r->srv, NULL);
    replay_free(r);
    return rc;
}
