/*
 * proxy_relay.h — `framespec proxy`'s relay: one epoll loop over every proxy's listener and
 * connections. Each accepted client gets a non-blocking connection to the proxy's upstream; the
 * bytes of each direction go through that direction's toxics (proxy_toxic.h) and out in order.
 *
 * Faithful without toxics (RFC 9293 semantics, as a user of the two ends sees them):
 * - a FIN from one side (read returns 0) becomes a SHUT_WR towards the other once what came
 *   before it is sent: a half-close stays a half-close, never a close;
 * - an RST from one side (ECONNRESET, or EPIPE writing to it) becomes an RST to the other
 *   (SO_LINGER {1,0}, Linux tcp(7)); what was queued for the side that reset is discarded, as
 *   its kernel would;
 * - backpressure: a side is not read while its direction holds PX_HIGH_WATER bytes or more for
 *   a destination that does not drain (so memory per connection stays bounded, besides bytes a
 *   frame toxic holds: at most its frames);
 * - an upstream that refuses (or cannot be reached) gets the client an RST;
 * - TCP_NODELAY on both sides: the proxy adds no Nagle delay of its own.
 * A connection ends (both descriptors closed) when both directions have forwarded their FIN, or
 * at an RST, a toxic's close or vanish.
 *
 * Thread safety: px_relay_run() runs the loop in the calling thread; the other functions may be
 * called from any thread (the API's): they take the relay's mutex, which the loop holds except
 * while it waits, and wake the loop.
 */
#ifndef FRAMESPEC_PROXY_RELAY_H
#define FRAMESPEC_PROXY_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy_toxic.h"

/* Bytes a direction may hold for its destination before its source stops being read. */
#define PX_HIGH_WATER (256u << 10)
/* Proxies one relay holds at most. */
#define PX_MAX_PROXIES 64

typedef struct px_relay px_relay;

/* A proxy as the API shows it (Toxiproxy's JSON: name, listen, upstream, enabled, toxics). */
typedef struct {
    char name[64];
    char listen[160];   /* as bound ("127.0.0.1:PORT") when enabled, else as given */
    char upstream[160];
    bool enabled;
    px_toxic toxics[PX_MAX_TOXICS];
    size_t ntox;
    uint64_t conns, active, bytes_up, bytes_down, resets; /* counters since it was created */
} px_info;

/* A relay for framing f (the servers' maximum frame max, bytes) and at most max_conns
 * connections at once (over it, a listener waits). NULL with a message in err[0..n). */
px_relay *px_relay_new(wire_framing f, uint64_t max, size_t max_conns, char *err, size_t n);
/* Stop, close every descriptor (connections get a FIN, or an RST when bytes were unread) and
 * free. */
void px_relay_free(px_relay *r);

/* Add proxy `name` listening on `listen` ("HOST:PORT", port 0 for any) and forwarding to
 * `upstream` (HOST:PORT or unix:PATH; one that does not resolve is kept, and its clients get an
 * RST, as Toxiproxy dials per connection), with toxics list[0..n) and enabled or not. 0; -1
 * with a message in err (too many proxies or toxics); -2 the name exists; -3 the listen failed
 * (err has why: a bad address, "address already in use" ...). */
int px_relay_add(px_relay *r, const char *name, const char *listen, const char *upstream,
                 bool enabled, const px_toxic *list, size_t n, char *err, size_t errn);
/* Remove proxy `name`, closing its listener and connections. 0, or -2 no such proxy. */
int px_relay_remove(px_relay *r, const char *name);
/* Change a proxy's listen, upstream (NULL: keep) and enabled state; a changed address closes
 * its connections (Toxiproxy's proxy.Update). 0; -3 as px_relay_add; -2 no such proxy. */
int px_relay_update(px_relay *r, const char *name, const char *listen, const char *upstream,
                    bool enabled, char *err, size_t errn);
/* Replace a proxy's toxics by list[0..n) (live connections follow: px_dir_update()). 0, or -2
 * no such proxy. */
int px_relay_set_toxics(px_relay *r, const char *name, const px_toxic *list, size_t n);
/* A copy of proxy `name` (or, name NULL, of the index-th proxy) into *out. 0, or -2. */
int px_relay_get(px_relay *r, const char *name, size_t index, px_info *out);
/* --record: what the server side of a connection saw (the proxy's writes to it, after the
 * upstream toxics, each send() a write; its bytes and its FIN or RST; the proxy's SHUT_WR,
 * close or RST towards it), as a capture of one connection (capture.h), handed to fn when the
 * connection ends, in the relay's thread (cp is freed after). */
typedef struct capture capture;
typedef void (*px_record_fn)(void *arg, const char *proxy, uint64_t id, capture *cp);
/* Bytes of each direction a connection's record holds at most (past them it is dropped). */
#define PX_RECORD_MAX (64u << 20)
/* Close every listener and connection (a FIN each; an RST where bytes were unread); the
 * proxies stay, disabled. */
void px_relay_close_all(px_relay *r);
/* Record every connection that starts from now on (fn NULL: stop). */
void px_relay_record(px_relay *r, px_record_fn fn, void *arg);
/* From now on, proxies bind nothing (their listen stays as given): for fuzz/proxy_api_fuzz.c,
 * which drives the API without sockets. */
void px_relay_dry(px_relay *r);
/* The framing the relay's frame toxics follow. */
wire_framing px_relay_framing(px_relay *r);
/* How many proxies. */
size_t px_relay_count(px_relay *r);

/* `framespec proxy ...` (proxy.c; argv[0] = "proxy"). Returns the exit code: 0, 1 or 2. */
int proxy_main(int argc, char **argv);

/* Run the loop until *stop is set (a signal handler) or deadline_ms (0: none) passes. 0, or -1
 * with a message on stderr. */
int px_relay_run(px_relay *r, volatile sig_atomic_t *stop, int64_t deadline_ms);

#endif
