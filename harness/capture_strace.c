/*
 * capture_strace.c — `framespec import` of an strace log of the client (capture.h): the
 * connections its connect() calls opened on stream sockets, and on each, in log order, its
 * writes, its reads (the server's bytes, its FIN, its RST), its shutdown, SO_LINGER and close.
 *
 * The log is read as strace writes it (strace(1); in strace's source: src/strace.c printleader()
 * for the line's leader, src/util.c string_quote() for strings, src/syscall.c for the result and
 * the unfinished/resumed pairs, src/net.c, src/msghdr.c, src/io.c for the arguments):
 *   leader   `[pid  N] ` (-f writing to stderr), `N  ` (-f -o FILE), or nothing; then a time:
 *            -t/-tt `12:34:56[.123456]`, -ttt `1700000000.123456`, -r `     0.000123` (since
 *            the previous line: summed here), or none (every time is 0);
 *   a call   `NAME(ARG, ...) = RESULT`, RESULT `N`, `-1 ERRNO (text)` or `?`, then what -T
 *            (` <0.000012>`) or -yy adds, ignored; ` <unfinished ...>` ends a call another
 *            pid's line interrupted, and that pid's `<... NAME resumed>` line ends it: the two
 *            texts are joined and read as one line;
 *   strings  `"..."` in C escapes (\n \t \r \v \f \\ \" and octal \0 to \377) or, with -x/-xx,
 *            \xHH; `"..."...` when -s cut it;
 *   fds      `3`, or with -y/-yy `3<socket:[1234]>`, `3<TCP:[127.0.0.1:40000->127.0.0.1:7000]>`
 *            (`3<TCPv6:[[::1]:40000->[::1]:7000]>`).
 * A write's bytes are the first RESULT bytes of its strings; a read's strings are its RESULT
 * bytes. Bytes strace did not show are never invented: a cut string is an error naming the -s
 * that holds it. Descriptors are keyed by number alone: the threads of one process share them
 * (the processes of a fork do not; a client that forks is read as one).
 *
 * The input is hostile (fuzz/import_strace_fuzz.c): nothing reads past it, nothing recurses,
 * every size it sets is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "capture_strace_int.h"

/* Fibonacci hashing of a descriptor number into the fd table. */
static size_t st_hash(int fd)
{
    return (size_t)((uint32_t)fd * 2654435761u);
}

/* The descriptor fd's entry: NULL when it has none and !create (or out of memory). The pointer
 * is valid until the next call that creates an entry. */
static st_fd *st_fd_get(st_reader *r, int fd, bool create)
{
    size_t i;
    if (r->fd_cap)
        for (i = st_hash(fd) & (r->fd_cap - 1); r->fds[i].used; i = (i + 1) & (r->fd_cap - 1))
            if (r->fds[i].fd == fd)
                return &r->fds[i];
    if (!create)
        return NULL;
    if ((r->fd_used + 1) * 2 > r->fd_cap) {
        size_t cap = r->fd_cap ? r->fd_cap * 2 : 64;
        st_fd *t = calloc(cap, sizeof *t);
        if (t == NULL)
            return NULL;
        for (size_t k = 0; k < r->fd_cap; k++)
            if (r->fds[k].used) {
                for (i = st_hash(r->fds[k].fd) & (cap - 1); t[i].used; i = (i + 1) & (cap - 1))
                    ;
                t[i] = r->fds[k];
            }
        free(r->fds);
        r->fds = t;
        r->fd_cap = cap;
    }
    for (i = st_hash(fd) & (r->fd_cap - 1); r->fds[i].used; i = (i + 1) & (r->fd_cap - 1))
        ;
    r->fds[i] = (st_fd){.fd = fd, .used = true, .conn = NO_CONN};
    r->fd_used++;
    return &r->fds[i];
}

/* Forget what the descriptor was (closed, or made again by socket()). */
static void st_fd_reset(st_fd *f)
{
    *f = (st_fd){.fd = f->fd, .used = true, .conn = NO_CONN};
}

/* Add "; text" to c->notes once; a note that does not fit is dropped. */
static void st_note(cap_conn *c, const char *text)
{
    size_t l = strlen(c->notes), t = strlen(text);
    if (strstr(c->notes, text) != NULL || l + t + 3 > sizeof c->notes)
        return;
    snprintf(c->notes + l, sizeof c->notes - l, "%s%s", l ? "; " : "", text);
}

/* The notes of the setsockopt() bits in opts (NODELAY_ON...). */
static void st_opts_note(cap_conn *c, unsigned opts)
{
    static const char *const name[] = {"TCP_NODELAY on", "TCP_NODELAY off", "TCP_CORK on",
                                       "TCP_CORK off"};
    for (unsigned k = 0; k < 4; k++)
        if (opts & (1u << k))
            st_note(c, name[k]);
}

/* An event's time on c: the line's, never before c's previous event (nor before 0). */
static int64_t st_t(const st_reader *r, const cap_conn *c)
{
    int64_t t = r->now < 0 ? 0 : r->now, last = c->nev ? c->ev[c->nev - 1].t_us : c->t0_us;
    return t < last ? last : t;
}

/* An event without bytes on f's connection. 0 or -1. */
static int st_event(st_reader *r, st_fd *f, cap_kind kind)
{
    cap_conn *c = &r->cp->c[f->conn];
    if (cap_event_add(c, kind, st_t(r, c)) < 0)
        return st_fail(r, "out of memory");
    return 0;
}

/* Take a time at *p (-tt/-t clock, -ttt or -r seconds) and set r->now; *p after it and its
 * space. No time there leaves *p and r->now as they were. */
static void st_time(st_reader *r, const char **pp, const char *e)
{
    const char *p = *pp;
    uint64_t a, b = 0, c = 0, f = 0;
    int64_t v;
    bool clock;
    if (!st_uint(&p, e, 12, &a) || p >= e || (*p != ':' && *p != '.'))
        return;
    clock = *p == ':';
    if (clock && (a > 99 || !(p++, st_uint(&p, e, 2, &b)) || p >= e || *p++ != ':' ||
                  !st_uint(&p, e, 2, &c) || b > 59 || c > 60))
        return;
    if (p < e && *p == '.') {
        const char *d = ++p;
        int k = 0;
        while (p < e && st_digit(*p) && k < 9)
            k++, p++;
        if (k == 0 || (p < e && st_digit(*p)))
            return;
        for (int i = 0; i < 6; i++)
            f = f * 10 + (uint64_t)(i < k ? d[i] - '0' : 0);
    } else if (!clock)
        return;
    if (p >= e || *p != ' ')
        return;
    *pp = p + 1;
    v = clock ? (int64_t)((a * 3600 + b * 60 + c) * ST_US + f) : (int64_t)(a * ST_US + f);
    if (r->tmode == TM_NONE)
        r->tmode = clock ? TM_CLOCK : v >= 100000000 * ST_US ? TM_UNIX : TM_REL;
    if (clock != (r->tmode == TM_CLOCK))
        return; /* a time of another kind than the log's first: not one of strace's */
    if (clock) {
        v += r->day;
        if (r->have_t0 && v + ST_DAY_US / 2 < r->last && r->day < ST_MAX_DAYS * ST_DAY_US)
            r->day += ST_DAY_US, v += ST_DAY_US; /* past midnight */
    } else if (r->tmode == TM_REL)
        v = v > INT64_MAX / 4 - r->last ? INT64_MAX / 4 : r->last + v;
    r->last = v;
    if (!r->have_t0) {
        r->have_t0 = true;
        r->t0 = v;
        if (r->tmode == TM_UNIX)
            r->cp->t0_unix_us = v;
    }
    r->now = v - r->t0;
}

/* The descriptor at the start of the first argument: "3" or "3<TCP:[...]>". true with *fd and
 * *ann (the text inside <...>, empty without), *pp after it. */
static bool st_fdarg(const char **pp, const char *e, int *fd, span *ann)
{
    const char *p = *pp;
    uint64_t v;
    while (p < e && *p == ' ')
        p++;
    if (!st_uint(&p, e, 9, &v))
        return false;
    *fd = (int)v;
    *ann = (span){p, p};
    if (p < e && *p == '<') {
        const char *q = p + 1;
        while (q < e && !(*q == '>' && (q + 1 == e || q[1] == ',' || q[1] == ')')))
            q++;
        if (q >= e)
            return false;
        *ann = (span){p + 1, q};
        p = q + 1;
    }
    *pp = p;
    return true;
}

/* With -yy a connected descriptor shows its ends, 3<TCP:[127.0.0.1:40000->127.0.0.1:7000]>:
 * they replace "fd 3 -> ..." as the connection's tuple. */
static void st_yy_tuple(cap_conn *c, span ann)
{
    const char *arrow;
    char a[64], b[64];
    if (strncmp(c->tuple, "fd ", 3) != 0 || ann.e <= ann.p || ann.e[-1] != ']')
        return;
    ann.e--;
    if (st_starts(ann, "TCP:["))
        ann.p += 5;
    else if (st_starts(ann, "TCPv6:["))
        ann.p += 7;
    else
        return;
    if ((arrow = memmem(ann.p, (size_t)(ann.e - ann.p), "->", 2)) == NULL)
        return;
    st_copy(a, sizeof a, ann.p, arrow);
    st_copy(b, sizeof b, arrow + 2, ann.e);
    snprintf(c->tuple, sizeof c->tuple, "%s -> %s", a, b);
}

/* The address of a connect(): {sa_family=AF_INET, sin_port=htons(7000),
 * sin_addr=inet_addr("127.0.0.1")}, AF_INET6 with sin6_port= and inet_pton(AF_INET6, "::1",
 * &sin6_addr), AF_UNIX with sun_path="..." or sun_path=@"...". *fam 0 for another family.
 * 0, 1 (malformed: *what says what was expected), or -1 (out of memory). */
static int st_sockaddr(st_reader *r, span s, int *fam, char *addr, size_t an, unsigned *port,
                       const char **what)
{
    span v, pv;
    const char *q;
    uint64_t pn;
    bool cut;
    int rc;
    bool at = false;
    *fam = 0;
    *what = "{sa_family=AF_..., ...}";
    if (!st_field(s, "sa_family=", &v))
        return 1;
    if (st_is(v, "AF_INET")) {
        *fam = AF_INET, *what = "sin_port=htons(PORT), sin_addr=inet_addr(\"ADDRESS\")";
        if (!st_field(s, "sin_port=", &pv) || !st_field(s, "sin_addr=inet_addr(", &v))
            return 1;
    } else if (st_is(v, "AF_INET6")) {
        *fam = AF_INET6, *what = "sin6_port=htons(PORT), inet_pton(AF_INET6, \"ADDRESS\", ...)";
        if (!st_field(s, "sin6_port=", &pv) || !st_field(s, "inet_pton(", &v))
            return 1;
    } else if (st_is(v, "AF_UNIX") || st_is(v, "AF_LOCAL")) {
        *fam = AF_UNIX, *what = "sun_path=\"PATH\"";
        if (!st_field(s, "sun_path=", &v)) {
            snprintf(addr, an, "(unnamed)");
            return 0;
        }
        at = v.p < v.e && *v.p == '@'; /* an abstract name: shown as "@NAME" */
        v.p += at;
    } else
        return 0;
    if (*fam != AF_UNIX) {
        pv.p += st_starts(pv, "htons(") ? 6 : (size_t)(pv.e - pv.p);
        if (!st_uint(&pv.p, pv.e, 5, &pn) || pn > 65535 || pv.p >= pv.e || *pv.p != ')')
            return 1;
        *port = (unsigned)pn;
        if ((q = memchr(v.p, '"', (size_t)(v.e - v.p))) == NULL)
            return 1;
        v.p = q;
    }
    r->ndata = 0;
    if ((rc = st_str(r, &v.p, v.e, &cut)) != 0)
        return rc;
    addr[0] = '@';
    st_copy(addr + at, an - at, (const char *)r->data, (const char *)r->data + r->ndata);
    return 0;
}

/* Whether a connection to addr:port (family fam) is one --server keeps. */
static bool st_server_match(const st_reader *r, int fam, const char *addr, unsigned port)
{
    uint8_t ip[16];
    if (!r->have_server)
        return true;
    if (fam == AF_UNIX || port != r->server_port)
        return false;
    return r->server_any_host || (fam == r->server_family && inet_pton(fam, addr, ip) == 1 &&
                                  memcmp(ip, r->server_ip, fam == AF_INET ? 4 : 16) == 0);
}

/* connect(fd, ADDRESS, LEN) = 0 or -1 EINPROGRESS: a new connection on fd (unless fd is no
 * stream socket, is connected already, or --server names another server). 0 or -1. */
static int st_connect(st_reader *r, st_fd *f, int fd, const span *a, size_t na,
                      const st_res *res)
{
    char addr[112], peer[128], tuple[160];
    const char *what;
    unsigned port = 0;
    int fam, rc;
    cap_conn *c;
    if ((f && (f->kind == SK_OTHER || f->conn != NO_CONN)) ||
        (res->kind == RES_ERR && strcmp(res->err, "EINPROGRESS") != 0))
        return 0;
    if (na < 2)
        return st_fail(r, "connect(%d, ...): expected connect(FD, ADDRESS, LEN)", fd);
    if ((rc = st_sockaddr(r, a[1], &fam, addr, sizeof addr, &port, &what)) != 0)
        return rc < 0 ? -1 : st_fail(r, "connect(%d, ...): expected %s", fd, what);
    if (fam == 0)
        return 0; /* AF_UNSPEC, AF_NETLINK...: no connection */
    if (f == NULL && (f = st_fd_get(r, fd, true)) == NULL)
        return st_fail(r, "out of memory");
    if (fam == AF_INET6)
        snprintf(peer, sizeof peer, "[%s]:%u", addr, port);
    else if (fam == AF_INET)
        snprintf(peer, sizeof peer, "%s:%u", addr, port);
    else
        snprintf(peer, sizeof peer, "%s", addr);
    snprintf(tuple, sizeof tuple, "fd %d -> %s", fd, peer);
    if (!st_server_match(r, fam, addr, port)) {
        f->conn = IGNORED;
        if (r->ignored++ == 0)
            snprintf(r->ignored_first, sizeof r->ignored_first, "%s", peer);
        return 0;
    }
    if ((c = cap_new_conn(r->cp, tuple, r->now < 0 ? 0 : r->now)) == NULL)
        return st_fail(r, "more than %d connections, or out of memory", CAP_MAX_CONNS);
    f->conn = (long)(r->cp->n - 1);
    c->handshake = true;
    st_opts_note(c, f->opts);
    return 0;
}

/* A write (server false: write, send, sendto, writev, sendmsg) or a read (server true: read,
 * recv, recvfrom, readv, recvmsg) of RESULT bytes, d the argument holding them (shape 's' a
 * string, 'v' an iovec array, 'm' a msghdr). 0 or -1. */
static int st_data(st_reader *r, st_fd *f, const char *call, char shape, span d,
                   const st_res *res, bool server)
{
    cap_conn *c = &r->cp->c[f->conn];
    uint64_t valid = 0;
    char sub[512];
    int rc = 1;
    if (res->kind == RES_ERR) {
        bool reset = strcmp(res->err, "ECONNRESET") == 0;
        if (server && reset && !f->rst) {
            f->rst = true;
            return st_event(r, f, CAP_SRV_RST);
        }
        if (!server && (reset || strcmp(res->err, "EPIPE") == 0))
            st_note(c, reset ? "ECONNRESET on a write (the server reset)"
                             : "EPIPE on a write (the server had closed)");
        return 0; /* EAGAIN, EINTR...: nothing happened */
    }
    if (res->val == 0) {
        if (!server || f->fin)
            return 0;
        f->fin = true;
        return st_event(r, f, CAP_SRV_FIN);
    }
    r->ndata = 0;
    if (shape == 's') {
        bool cut = false;
        if ((rc = st_str(r, &d.p, d.e, &cut)) == 0)
            valid = r->ndata;
    } else if (shape == 'v')
        rc = st_iov(r, d, &valid);
    else if (st_field(d, "msg_iov=", &d))
        rc = st_iov(r, d, &valid);
    if (rc != 0)
        return rc < 0 ? -1 : st_fail(r, "%s(%d, ...) = %lld: expected its bytes as %s", call,
                                      f->fd, (long long)res->val,
                                      shape == 's' ? "a \"string\"" : shape == 'v'
                                      ? "[{iov_base=\"...\", ...}]" : "{..., msg_iov=[...], ...}");
    if (valid < (uint64_t)res->val)
        return st_fail(r, "%s(%d, ...) shows %llu of %lld bytes: strace cut the string (its -s); "
                       "record with -s %lld or more (-s 99999)", call, f->fd,
                       (unsigned long long)valid, (long long)res->val, (long long)res->val);
    if (cap_data(c, server, r->data, (size_t)res->val, st_t(r, c), sub, sizeof sub) < 0)
        return st_fail(r, "%s", sub);
    return 0;
}

/* setsockopt(fd, LEVEL, NAME, VALUE, LEN) = 0: SO_LINGER {l_onoff=1, l_linger=0} makes fd's
 * close an RST; TCP_NODELAY and TCP_CORK are noted (now, or at fd's connect). 0 or -1. */
static int st_setsockopt(st_reader *r, st_fd *f, int fd, const span *a, size_t na,
                         const st_res *res)
{
    span v;
    const char *p;
    uint64_t on, lg;
    unsigned bit;
    if (res->kind != RES_VAL || na < 4)
        return 0;
    if (st_is(a[1], "SOL_SOCKET") && st_is(a[2], "SO_LINGER")) {
        if (!st_field(a[3], "l_onoff=", &v) || !st_uint(&v.p, v.e, 10, &on) ||
            !st_field(a[3], "l_linger=", &v))
            return 0;
        p = v.p;
        if (f == NULL && (f = st_fd_get(r, fd, true)) == NULL)
            return st_fail(r, "out of memory");
        f->linger0 = on != 0 && st_uint(&p, v.e, 10, &lg) && lg == 0;
        return 0;
    }
    if (!st_is(a[1], "SOL_TCP") && !st_is(a[1], "IPPROTO_TCP"))
        return 0;
    p = a[3].p + 1;
    if (!st_starts(a[3], "[") || !st_uint(&p, a[3].e, 10, &on))
        return 0;
    if (st_is(a[2], "TCP_NODELAY"))
        bit = on ? NODELAY_ON : NODELAY_OFF;
    else if (st_is(a[2], "TCP_CORK"))
        bit = on ? CORK_ON : CORK_OFF;
    else
        return 0;
    if (f == NULL && (f = st_fd_get(r, fd, true)) == NULL)
        return st_fail(r, "out of memory");
    if (f->conn >= 0)
        st_opts_note(&r->cp->c[f->conn], bit);
    else
        f->opts |= (uint8_t)bit;
    return 0;
}

typedef enum {
    K_SOCKET, K_CONNECT, K_SETSOCKOPT, K_CLOSE, K_SHUTDOWN, K_WRITE, K_READ, K_HIDDEN
} st_kind;

static const struct {
    const char *name;
    st_kind kind;
    char shape;         /* K_WRITE, K_READ: where the bytes are ('s', 'v', 'm') */
    int flags;          /* K_READ: the flags argument (MSG_PEEK reads nothing), or -1 */
} st_calls[] = {
    {"socket", K_SOCKET, 0, -1},        {"connect", K_CONNECT, 0, -1},
    {"setsockopt", K_SETSOCKOPT, 0, -1}, {"close", K_CLOSE, 0, -1},
    {"shutdown", K_SHUTDOWN, 0, -1},    {"write", K_WRITE, 's', -1},
    {"send", K_WRITE, 's', -1},         {"sendto", K_WRITE, 's', -1},
    {"writev", K_WRITE, 'v', -1},       {"sendmsg", K_WRITE, 'm', -1},
    {"read", K_READ, 's', -1},          {"recv", K_READ, 's', 3},
    {"recvfrom", K_READ, 's', 3},       {"readv", K_READ, 'v', -1},
    {"recvmsg", K_READ, 'm', 2},        {"sendfile", K_HIDDEN, 0, -1},
    {"sendfile64", K_HIDDEN, 0, -1},    {"sendmmsg", K_HIDDEN, 0, -1},
    {"recvmmsg", K_HIDDEN, 0, -1},      {"splice", K_HIDDEN, 0, -1},
};

/* socket(FAMILY, TYPE, PROTO) = fd: fd is a stream socket (AF_INET, AF_INET6, AF_UNIX with
 * SOCK_STREAM) or another kind, whatever it was before (a close strace did not show). */
static int st_socket(st_reader *r, const span *a, size_t na, const st_res *res)
{
    st_fd *f;
    bool stream;
    if (res->kind != RES_VAL || na < 2 || res->val < 0 || res->val > INT_MAX)
        return 0;
    stream = (st_is(a[0], "AF_INET") || st_is(a[0], "AF_INET6") || st_is(a[0], "AF_UNIX") ||
              st_is(a[0], "AF_LOCAL")) &&
             st_starts(a[1], "SOCK_STREAM") && (a[1].e - a[1].p == 11 || a[1].p[11] == '|');
    if ((f = st_fd_get(r, (int)res->val, true)) == NULL)
        return st_fail(r, "out of memory");
    st_fd_reset(f);
    f->kind = stream ? SK_STREAM : SK_OTHER;
    return 0;
}

/* One call's text (a whole line, or an unfinished call joined with its end). Calls on a
 * descriptor that is no connection are skipped after their first argument. 0 or -1. */
static int st_call(st_reader *r, const char *p, const char *e)
{
    char name[16];
    size_t ln = 0, na, k;
    span a[ST_MAX_ARGS], ann = {p, p};
    st_res res;
    st_fd *f = NULL;
    const char *q;
    int fd = -1;
    st_kind kind;
    while (p < e && ln < sizeof name - 1 && ((*p >= 'a' && *p <= 'z') || st_digit(*p) || *p == '_'))
        name[ln++] = *p++;
    name[ln] = '\0';
    if (p >= e || *p++ != '(')
        return 0;
    for (k = 0; k < sizeof st_calls / sizeof st_calls[0] && strcmp(st_calls[k].name, name); k++)
        ;
    if (k == sizeof st_calls / sizeof st_calls[0])
        return 0;
    kind = st_calls[k].kind;
    if (kind != K_SOCKET) {
        const char *fp = p;
        if (!st_fdarg(&fp, e, &fd, &ann))
            return 0;
        f = st_fd_get(r, fd, false);
    }
    if (kind != K_SOCKET && kind != K_CONNECT && kind != K_SETSOCKOPT &&
        (f == NULL || (kind != K_CLOSE && f->conn < 0)))
        return 0;
    q = st_args(p, e, a, ST_MAX_ARGS, &na);
    if (q == NULL || !st_result(q, e, &res)) {
        if ((f && f->conn >= 0) || (kind == K_CONNECT && !(f && f->kind == SK_OTHER)))
            return st_fail(r, "%s(%d, ...): expected %s(ARGUMENTS) = RESULT", name, fd, name);
        return 0;
    }
    if (res.kind == RES_UNKNOWN)
        return 0; /* it never returned (the process ended in it) */
    if (f && f->conn >= 0 && ann.e > ann.p)
        st_yy_tuple(&r->cp->c[f->conn], ann);
    switch (kind) {
    case K_SOCKET:
        return st_socket(r, a, na, &res);
    case K_CONNECT:
        return st_connect(r, f, fd, a, na, &res);
    case K_SETSOCKOPT:
        return st_setsockopt(r, f, fd, a, na, &res);
    case K_CLOSE:
        if (res.kind == RES_ERR && strcmp(res.err, "EBADF") == 0)
            return 0;
        if (f->conn >= 0 && st_event(r, f, f->linger0 ? CAP_ABORT : CAP_CLOSE) < 0)
            return -1;
        st_fd_reset(f);
        return 0;
    case K_SHUTDOWN:
        if (res.kind != RES_VAL || na < 2 || f->shut ||
            !(st_is(a[1], "SHUT_WR") || st_is(a[1], "SHUT_RDWR")))
            return 0;
        f->shut = true;
        return st_event(r, f, CAP_SHUT_WR);
    case K_WRITE:
    case K_READ: {
        int fl = st_calls[k].flags;
        if (res.kind == RES_VAL && fl >= 0 && (size_t)fl < na &&
            memmem(a[fl].p, (size_t)(a[fl].e - a[fl].p), "MSG_PEEK", 8) != NULL)
            return 0; /* the bytes stay for the next read */
        return st_data(r, f, name, st_calls[k].shape, na >= 2 ? a[1] : (span){e, e}, &res,
                       kind == K_READ);
    }
    case K_HIDDEN:
        if (res.kind == RES_VAL && res.val > 0)
            return st_fail(r, "%s(%d, ...) = %lld: strace shows no bytes for %s: a client using "
                           "it cannot be imported from strace (capture the traffic: tcpdump -i lo "
                           "-w FILE)", name, fd, (long long)res.val, name);
        return 0;
    }
    return 0;
}

/* Keep pid's unfinished call (its text without " <unfinished ...>"). 0 or -1. */
static int st_pend_store(st_reader *r, long pid, const char *p, size_t len)
{
    st_pend *s = NULL;
    void *b;
    if (len > ST_MAX_UNFINISHED)
        return st_fail(r, "an unfinished call of over %u MiB: more than this reader holds",
                       ST_MAX_UNFINISHED >> 20);
    for (size_t i = 0; i < r->npend && !s; i++)
        if (r->pend[i].pid == pid)
            s = &r->pend[i];
    for (size_t i = 0; i < r->npend && !s; i++)
        if (!r->pend[i].busy)
            s = &r->pend[i];
    if (s == NULL) {
        if (r->npend >= ST_MAX_PENDING)
            return st_fail(r, "more than %d calls unfinished at once: not a log this reader "
                           "takes", ST_MAX_PENDING);
        b = r->pend;
        if (st_grow(&b, &r->pend_cap, r->npend + 1, sizeof *r->pend) < 0)
            return st_fail(r, "out of memory");
        r->pend = b;
        s = &r->pend[r->npend++];
        memset(s, 0, sizeof *s);
    }
    b = s->text;
    if (st_grow(&b, &s->cap, len ? len : 1, 1) < 0)
        return st_fail(r, "out of memory");
    s->text = b;
    memcpy(s->text, p, len);
    s->len = len;
    s->pid = pid;
    s->busy = true;
    return 0;
}

/* The unfinished call a resumed line of pid ends. Without -o, strace prefixes no line with
 * [pid N] while it traces one process only: an unprefixed line (pid -1) ends the one call
 * unfinished, and a prefixed one may end a call begun unprefixed. NULL when there is none. */
static st_pend *st_pend_find(st_reader *r, long pid)
{
    st_pend *one = NULL;
    size_t busy = 0;
    for (size_t i = 0; i < r->npend; i++)
        if (r->pend[i].busy && r->pend[i].pid == pid)
            return &r->pend[i];
    for (size_t i = 0; i < r->npend; i++)
        if (r->pend[i].busy && (pid == -1 || r->pend[i].pid == -1))
            one = &r->pend[i], busy++;
    return busy == 1 ? one : NULL;
}

/* The line's leader: "[pid  N] " or -o's "N  " (*pid, else -1), then its time. */
static void st_leader(st_reader *r, const char **pp, const char *e, long *pid)
{
    const char *p = *pp, *q;
    uint64_t v;
    *pid = -1;
    while (p < e && *p == ' ')
        p++;
    q = p;
    if (e - p > 4 && memcmp(p, "[pid", 4) == 0) {
        for (q = p + 4; q < e && *q == ' '; q++)
            ;
        if (st_uint(&q, e, 9, &v) && q < e && *q == ']')
            *pid = (long)v, p = q + 1;
    } else if (st_uint(&q, e, 9, &v) && q < e && *q == ' ')
        *pid = (long)v, p = q;
    while (p < e && *p == ' ')
        p++;
    st_time(r, &p, e);
    for (int k = 0; k < 2 && p < e && *p == '['; k++) { /* -i's [ADDRESS], -n's [NUMBER] */
        for (q = p + 1; q < e && q - p < 24 && (st_hex(*q) >= 0 || *q == ' '); q++)
            ;
        if (q + 1 >= e || *q != ']' || q[1] != ' ')
            break;
        p = q + 2;
    }
    *pp = p;
}

/* One line [p, e) of the log. 0 or -1. */
static int st_line(st_reader *r, const char *p, const char *e)
{
    static const char unf[] = " <unfinished ...>";
    long pid;
    const size_t lu = sizeof unf - 1;
    while (e > p && (e[-1] == '\r' || e[-1] == ' '))
        e--;
    st_leader(r, &p, e, &pid);
    if (e - p > 5 && memcmp(p, "<... ", 5) == 0) {
        const char *q = memmem(p, (size_t)(e - p), " resumed>", 9);
        st_pend *s = NULL;
        void *b = r->join;
        size_t l;
        if (q == NULL)
            return 0;
        if ((s = st_pend_find(r, pid)) == NULL) {
            char nm[40];
            st_copy(nm, sizeof nm, p + 5, q);
            return st_fail(r, "a resumed call (<... %s resumed>) that never began in this log: "
                           "was strace attached mid-call? record with strace -f from the "
                           "client's start", nm);
        }
        q += 9;
        l = s->len + (size_t)(e - q);
        if (st_grow(&b, &r->join_cap, l ? l : 1, 1) < 0)
            return st_fail(r, "out of memory");
        r->join = b;
        memcpy(r->join, s->text, s->len);
        memcpy(r->join + s->len, q, (size_t)(e - q));
        s->busy = false;
        p = r->join;
        e = r->join + l;
    } else if (p >= e || *p < 'a' || *p > 'z')
        return 0; /* "+++ exited", "--- SIGPIPE", "strace: ...", blank */
    if ((size_t)(e - p) >= lu - 1 && memcmp(e - (lu - 1), unf + 1, lu - 1) == 0) {
        size_t l = (size_t)(e - p) - (lu - 1);
        if (l > 0 && p[l - 1] == ' ')
            l--;
        return st_pend_store(r, pid, p, l);
    }
    return st_call(r, p, e);
}

/* --server: "PORT", "HOST:PORT" or "[V6]:PORT" (as capture_pcap.c reads it). 0 or -1. */
static int st_server(st_reader *r, const char *s)
{
    const char *colon = strrchr(s, ':'), *h = s, *why = NULL;
    char host[128], *end;
    unsigned long port = strtoul(colon ? colon + 1 : s, &end, 10);
    size_t hl = colon ? (size_t)(colon - s) : 0;
    r->have_server = true;
    r->server_any_host = colon == NULL;
    r->server_port = (unsigned)port;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    if (*end != '\0' || end == (colon ? colon + 1 : s) || port == 0 || port > 65535)
        why = "expected PORT or HOST:PORT (e.g. 7000 or 127.0.0.1:7000)";
    else if (hl >= sizeof host)
        why = "the host is too long";
    else if (colon) {
        memcpy(host, h, hl);
        host[hl] = '\0';
        r->server_family = inet_pton(AF_INET, host, r->server_ip) == 1    ? AF_INET
                           : inet_pton(AF_INET6, host, r->server_ip) == 1 ? AF_INET6
                                                                          : 0;
        if (r->server_family == 0)
            why = "the host is not an IPv4 or IPv6 address";
    }
    if (why)
        snprintf(r->err, r->n, "--server %s: %s", s, why);
    return why ? -1 : 0;
}

/* Free what the reader owns (not the capture). */
static void st_free(st_reader *r)
{
    for (size_t i = 0; i < r->npend; i++)
        free(r->pend[i].text);
    free(r->pend);
    free(r->fds);
    free(r->data);
    free(r->join);
}

/* capture.h. Lines are split at '\n' ('\r' before it dropped); cp is initialised here, and
 * freed again on an error. */
int cap_read_strace_buf(const char *buf, size_t len, const char *name, const char *server,
                        capture *cp, char *err, size_t n)
{
    st_reader r = {.cp = cp, .name = name ? name : "strace", .err = err, .n = n};
    const char *p = buf, *end = buf + len;
    int rc = 0;
    cap_init(cp);
    if (server && st_server(&r, server) < 0)
        return -1;
    if (len == 0) {
        snprintf(err, n, "%s: empty", r.name);
        return -1;
    }
    snprintf(cp->source, sizeof cp->source, "strace");
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        r.line++;
        rc = st_line(&r, p, nl ? nl : end);
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && cp->n == 0) {
        if (r.ignored)
            snprintf(err, n, "%s: no connection to --server %s: the log's %zu go elsewhere (the "
                     "first to %s)", r.name, server, r.ignored, r.ignored_first);
        else
            snprintf(err, n, "%s: no connection: the log has no connect() of a stream socket "
                     "(record the client with strace -f from its start, -e trace=network,read,"
                     "write,close,shutdown,setsockopt or all)", r.name);
        rc = -1;
    }
    st_free(&r);
    if (rc < 0)
        cap_free(cp);
    return rc;
}

/* capture.h: the whole file in memory (up to ST_MAX_FILE), then cap_read_strace_buf. */
int cap_read_strace(const char *path, const char *server, capture *cp, char *err, size_t n)
{
    struct stat sb = {0};
    char *buf = NULL;
    size_t len = 0, cap = 0, got, hint = 65536;
    int rc = -1;
    FILE *f = cap_open(path, &sb, "the log strace wrote (strace -f -o FILE)", err, n);
    cap_init(cp);
    if (f == NULL)
        return -1;
    if (S_ISREG(sb.st_mode) && sb.st_size > 0 && (uint64_t)sb.st_size <= ST_MAX_FILE)
        hint = (size_t)sb.st_size + 1; /* (a pipe's size is no hint) */
    for (;;) {
        void *b = buf;
        if (len == cap && st_grow(&b, &cap, len ? len + 65536 : hint, 1) < 0) {
            snprintf(err, n, "%s: out of memory", path);
            break;
        }
        buf = b;
        if ((got = fread(buf + len, 1, cap - len, f)) == 0 || (len += got) > ST_MAX_FILE) {
            if (ferror(f))
                snprintf(err, n, "%s: %s", path, strerror(errno ? errno : EIO));
            else if (len > ST_MAX_FILE)
                snprintf(err, n, "%s: over %llu GiB: more than this reader takes (trace only "
                         "the client's calls: -e trace=network,read,write,close,shutdown,"
                         "setsockopt)", path, (unsigned long long)(ST_MAX_FILE >> 30));
            else
                rc = 0;
            break;
        }
    }
    fclose(f);
    if (rc == 0)
        rc = cap_read_strace_buf(buf, len, path, server, cp, err, n);
    free(buf);
    return rc;
}
