/*
 * capture_strace_int.h — inside the strace reader (capture_strace.c reads calls, lines and
 * pairs; capture_strace_lex.c reads values: arguments, results, strings, iovecs). Not for other
 * modules: capture.h is the reader's contract.
 */
#ifndef FRAMESPEC_CAPTURE_STRACE_INT_H
#define FRAMESPEC_CAPTURE_STRACE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"

#define ST_MAX_FILE (2ull << 30)        /* bytes of a log cap_read_strace reads */
#define ST_MAX_UNFINISHED (16u << 20)   /* bytes of one pid's unfinished call */
#define ST_MAX_PENDING 4096             /* pids in an unfinished call at once */
#define ST_MAX_ARGS 6                   /* arguments of a call looked at (the rest skipped) */
#define ST_US 1000000ll
#define ST_DAY_US (86400 * ST_US)
#define ST_MAX_DAYS 100000              /* -tt midnights counted at most */

typedef struct {
    const char *p, *e;                  /* [p, e) inside the line */
} span;

enum { SK_UNKNOWN, SK_STREAM, SK_OTHER };             /* what socket() made of a descriptor */
enum { NO_CONN = -1, IGNORED = -2 };                  /* st_fd.conn when not a connection */
enum { NODELAY_ON = 1, NODELAY_OFF = 2, CORK_ON = 4, CORK_OFF = 8 };
enum { TM_NONE, TM_CLOCK, TM_UNIX, TM_REL };          /* -tt, -ttt, -r */
enum { RES_VAL, RES_ERR, RES_UNKNOWN };

typedef struct {
    int fd;
    bool used;          /* the hash slot holds fd */
    uint8_t kind;       /* SK_* */
    bool linger0;       /* SO_LINGER {1,0}: its close is an RST */
    bool fin, rst, shut; /* already recorded on its connection */
    uint8_t opts;       /* setsockopt notes made before the connect */
    long conn;          /* index in cp->c, NO_CONN or IGNORED */
} st_fd;

typedef struct {
    long pid;
    bool busy;          /* holds an unfinished call */
    char *text;         /* the call's text before " <unfinished ...>"; owned */
    size_t len, cap;
} st_pend;

typedef struct {
    int kind;           /* RES_* */
    int64_t val;
    char err[24];       /* RES_ERR: "ECONNRESET" */
} st_res;

typedef struct {
    capture *cp;
    const char *name;   /* the file, in messages */
    char *err;
    size_t n;
    unsigned long line;
    bool have_server, server_any_host;
    int server_family;
    uint8_t server_ip[16];
    unsigned server_port;
    size_t ignored;     /* connections to another server */
    char ignored_first[160];
    int tmode;          /* TM_* */
    bool have_t0;
    int64_t t0, last, day, now; /* microseconds; now: since the first timestamp */
    st_fd *fds;         /* open addressing on fd; owned */
    size_t fd_cap, fd_used;
    st_pend *pend;      /* owned */
    size_t npend, pend_cap;
    uint8_t *data;      /* the decoded bytes of the current call; owned */
    size_t ndata, data_cap;
    char *join;         /* an unfinished call joined with its resumed line; owned */
    size_t join_cap;
} st_reader;

/* Write "FILE:LINE: message" into r->err; returns -1. */
int __attribute__((format(printf, 2, 3))) st_fail(st_reader *r, const char *fmt, ...);

/* Grow *buf (elements of size el) to hold need elements. 0, or -1 when out of memory. */
int st_grow(void **buf, size_t *cap, size_t need, size_t el);

/* Whether s is exactly lit; st_starts: whether it begins with it. */
bool st_is(span s, const char *lit);

bool st_starts(span s, const char *lit);

/* An ASCII decimal digit (not isdigit(): no locale, no int promotion of a signed char). */
bool st_digit(char c);

/* Decimal digits at *p (at most maxd of them, at least one): true with the value, *p after. */
bool st_uint(const char **p, const char *e, int maxd, uint64_t *v);

/* The end of one argument or field from p: the ',' or the closing bracket at depth 0, or e.
 * Brackets nest by counting (no recursion); a string is skipped whole, escapes and all. */
const char *st_skip_value(const char *p, const char *e);

/* Split the arguments from p (just after "NAME(") into a[0..*na), spaces trimmed, at most max
 * kept. Returns the position after the closing ')', or NULL when the list does not close. */
const char *st_args(const char *p, const char *e, span *a, size_t max, size_t *na);

/* The result after the arguments: " = 5", " = -1 EAGAIN (...)", " = ?" (strace pads with
 * spaces before '='). Whatever follows it (-T's <0.000012>, -yy's <...>) is ignored. */
bool st_result(const char *p, const char *e, st_res *res);

/* The value of the element that starts with `key` ("msg_iov=", "inet_pton(") at the top level
 * of the struct or array s: true with *v (what follows the key), false when there is none. */
bool st_field(span s, const char *key, span *v);

/* The value of a hex digit, or -1. */
int st_hex(char c);

/* Copy [p, e) into out[0..n) as text: a byte outside printable ASCII becomes '?'; cut to fit. */
void st_copy(char *out, size_t n, const char *p, const char *e);

/* Decode the string at *pp (its opening quote) onto r->data; *cut when strace's -s cut it (the
 * closing quote is followed by "..."). 0 with *pp after it, 1 when it is no string strace
 * writes, or -1 (out of memory; message set). */
int st_str(st_reader *r, const char **pp, const char *e, bool *cut);

/* Decode an iovec array ("[{iov_base="ab", iov_len=2}, ...]") onto r->data. *valid: the bytes
 * known in order from its start (up to and including the first string -s cut, or before an
 * element strace did not show). 0, 1 (not an array), or -1 (out of memory). */
int st_iov(st_reader *r, span s, uint64_t *valid);

#endif
