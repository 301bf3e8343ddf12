/*
 * capture.h — `framespec import`: what a client did on its connections, read from a packet
 * capture (capture_pcap.c, libpcap) or from an strace log of the client (capture_strace.c), and
 * the scenario written from it (capture.c). Both readers produce the same model: per connection,
 * the client's bytes in its write boundaries, its half-close, close or RST, and what the server
 * sent and how it closed, each event with its time. Nothing is invented: bytes a capture does not
 * hold (a gap in the sequence numbers, a string strace cut) are an error naming them.
 *
 * Memory: a connection's bytes are held in memory, each direction at most CAP_MAX_BYTES (the
 * scenario language's own bound, SC_MAX_BYTES); a capture over it is an error that says so.
 */
#ifndef FRAMESPEC_CAPTURE_H
#define FRAMESPEC_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "wire.h"

/* The bytes one direction of one connection may hold (the scenario language's SC_MAX_BYTES). */
#define CAP_MAX_BYTES (512ull << 20)
/* Connections in one capture at most. */
#define CAP_MAX_CONNS 100000

typedef enum {
    CAP_WRITE,     /* client: one write (send, writev, a TCP segment): off, len into cli */
    CAP_SHUT_WR,   /* client: shutdown(SHUT_WR), or its FIN on the wire */
    CAP_CLOSE,     /* client: close() (FIN; on the wire, a FIN then nothing more) */
    CAP_ABORT,     /* client: close() with SO_LINGER {1,0}, or its RST on the wire */
    CAP_SRV_DATA,  /* server: bytes the client received (read, recv, a segment): off, len in srv */
    CAP_SRV_FIN,   /* server: FIN (read returned 0) */
    CAP_SRV_RST,   /* server: RST (ECONNRESET) */
} cap_kind;

typedef struct {
    cap_kind kind;
    int64_t t_us;    /* microseconds since the capture's first event */
    uint64_t off;    /* CAP_WRITE: into cli; CAP_SRV_DATA: into srv */
    uint64_t len;
} cap_event;

typedef struct {
    char tuple[160];     /* "127.0.0.1:40000 -> 127.0.0.1:7000" (client -> server), or "fd 3" */
    int64_t t0_us;       /* its first event (or connect), since the capture's first event */
    uint8_t *cli;        /* the client's bytes, in order; owned */
    uint64_t ncli, cli_cap;
    uint8_t *srv;        /* the server's bytes, in order; owned */
    uint64_t nsrv, srv_cap;
    cap_event *ev;       /* in time order; owned */
    size_t nev, ev_cap;
    bool handshake;      /* pcap: its SYN was seen (strace: its connect) */
    char notes[256];     /* what else the capture showed (TCP_NODELAY, TCP_CORK, EPIPE ...) */
} cap_conn;

typedef struct capture {
    cap_conn *c;          /* in the order the connections began; owned */
    size_t n, cap;
    char source[64];      /* "pcap", "pcapng" or "strace" */
    int64_t t0_unix_us;   /* wall-clock time of the first event (0 when unknown, strace -r) */
    char note[256];       /* what was left out, for the user (empty: nothing) */
} capture;

void cap_init(capture *cp);
/* Open a file to import for reading, with its stat in *sb. NULL with "PATH: why: give ..."
 * (`give`: what to give instead) in err[0..n) when it cannot be opened, is a directory, or is
 * empty (a pipe is read as it is). */
FILE *cap_open(const char *path, struct stat *sb, const char *give, char *err, size_t n);
void cap_free(capture *cp);
/* A new connection at the end of cp->c (zeroed, tuple copied). NULL when out of memory or over
 * CAP_MAX_CONNS. The pointer stays valid until the next cap_new_conn(). */
cap_conn *cap_new_conn(capture *cp, const char *tuple, int64_t t_us);
/* Append len bytes to the client's (server == false) or the server's side of c, and the event
 * (CAP_WRITE / CAP_SRV_DATA) at t_us. 0, or -1 with a message in err[0..n) (over CAP_MAX_BYTES,
 * out of memory). */
int cap_data(cap_conn *c, bool server, const uint8_t *p, size_t len, int64_t t_us, char *err,
             size_t n);
/* Append an event without bytes (CAP_SHUT_WR, CAP_CLOSE, CAP_ABORT, CAP_SRV_FIN, CAP_SRV_RST). 0,
 * or -1 (out of memory). */
int cap_event_add(cap_conn *c, cap_kind kind, int64_t t_us);

/* Read a pcap or pcapng file (libpcap: pcap_open_offline) into cp: every TCP connection,
 * reassembled from both directions by sequence number (retransmissions and overlaps taken once,
 * out-of-order segments put in order). The server is the side that answered the SYN (SYN+ACK);
 * `server` ("PORT" or "HOST:PORT", may be NULL) names it instead, and a connection whose
 * handshake is not in the capture needs it. Link types: Ethernet, Linux cooked (SLL, SLL2: -i
 * any), raw IP, BSD loopback. Returns 0, or -1 with a message in err[0..n) that names the problem
 * and the fix: not a capture, truncated, a packet cut by the snap length (tcpdump -s 0), no TCP,
 * a gap (the missing sequence numbers), one direction only, interfaces of different link types
 * (libpcap refuses them: capture one interface, -i lo). */
int cap_read_pcap(const char *path, const char *server, capture *cp, char *err, size_t n);
/* The same from an open stream (fuzz/import_pcap_fuzz.c reads memory through fmemopen); it takes
 * ownership of f (closed). */
int cap_read_pcap_stream(FILE *f, const char *server, capture *cp, char *err, size_t n);

/* Read an strace log of the client (strace -f [-tt|-ttt|-r] [-x|-xx] [-yy] [-s N] [-o FILE]):
 * the connections its connect() calls open to a stream socket, their writes (write, writev,
 * send, sendto, sendmsg), reads (read, readv, recv, recvfrom, recvmsg: the server's bytes, 0 its
 * FIN, ECONNRESET its RST), shutdown, setsockopt (SO_LINGER {1,0}: the close is an RST;
 * TCP_NODELAY, TCP_CORK: noted) and close. `[pid N]` prefixes and -o's pid column, and
 * `<unfinished ...>` / `<... NAME resumed>` pairs are joined per pid. `server` ("PORT" or
 * "HOST:PORT", may be NULL) keeps only the connections to it. Returns 0, or -1 with a message in
 * err[0..n): a string cut by -s (`"..."...`: the -s needed), a resumed call never begun, a
 * line that does not parse, no connection. */
int cap_read_strace(const char *path, const char *server, capture *cp, char *err, size_t n);
/* The same from memory (fuzz/import_strace_fuzz.c); `name` is used in messages. */
int cap_read_strace_buf(const char *buf, size_t len, const char *name, const char *server,
                        capture *cp, char *err, size_t n);

/* Write cp as a pcap at path (capture_write.c: IPv4 TCP over Ethernet, a segment per event,
 * FIN for SHUT_WR and close, RST for an abort), which cap_read_pcap() reads back. 0, or -1 with
 * why in err[0..n). */
int cap_write_pcap(const capture *cp, const char *path, char *err, size_t n);

/* The scenario of every connection of cp as `framespec import` writes it (import.c), with
 * `origin` in its header, framing f, the server's maximum max_frame and the oracle ("echo",
 * "capture", "close"): malloc'd text in *text (the caller frees), *len bytes; parsed back
 * before it is returned. 0, or -1 (printed). */
int import_write(const capture *cp, const char *origin, wire_framing f, uint64_t max_frame,
                 const char *oracle_name, char **text, size_t *len);

/* `framespec import FILE [options]` (import.c): argv[0] is "import". Exit status 0 or 2. */
int import_main(int argc, char **argv);

#endif
