/*
 * net.h — small socket helpers for echod (in the style of redis anet.c).
 *
 * Every wrapper retries EINTR, creates descriptors with SOCK_NONBLOCK|SOCK_CLOEXEC, closes what it
 * opened when a later step fails, and on error writes "syscall: strerror(errno)" into err
 * (NET_ERR_LEN bytes, always NUL-terminated) and returns -1.
 */
#ifndef FRAMESPEC_NET_H
#define FRAMESPEC_NET_H

#include <stddef.h>
#include <sys/socket.h>

#define NET_ERR_LEN 256

/*
 * Open a non-blocking listening socket for `spec`: "HOST:PORT", "[V6HOST]:PORT" or "unix:PATH".
 * Port 0 lets the kernel pick a free port. A stale unix socket file at PATH is removed first.
 * `backlog` is passed to listen(2). Returns the descriptor, or -1 with err set.
 */
int net_listen(const char *spec, int backlog, char *err);

/* As net_listen(), with SO_REUSEPORT set before bind when `reuseport` (TCP only): several
 * listeners, one per thread, can then share the port (socket(7)). */
int net_listen_opt(const char *spec, int backlog, int reuseport, char *err);

/*
 * Describe the local address of listening socket `fd` as "HOST:PORT", "[V6]:PORT" or "unix:PATH"
 * into out[0..outlen). Returns 0, or -1 with err set.
 */
int net_local_name(int fd, char *out, size_t outlen, char *err);

/*
 * accept4(SOCK_NONBLOCK|SOCK_CLOEXEC), retrying EINTR. Returns the new descriptor, or -1 with
 * errno set (EAGAIN when no connection waits, EMFILE/ENFILE when out of descriptors) and err set.
 */
int net_accept(int lfd, char *err);

/* Set TCP_NODELAY on a TCP socket (a no-op success on a unix socket). Returns 0 or -1 (err). */
int net_set_nodelay(int fd, char *err);

/*
 * Enable TCP keepalive: SO_KEEPALIVE with TCP_KEEPIDLE `idle` s, TCP_KEEPINTVL `intvl` s and
 * TCP_KEEPCNT `cnt` probes (Linux tcp(7)). A no-op success on a unix socket. Returns 0 or -1.
 */
int net_set_keepalive(int fd, int idle, int intvl, int cnt, char *err);

/*
 * TCP_USER_TIMEOUT `ms` milliseconds (Linux tcp(7), RFC 5482): the longest that transmitted data
 * may stay unacknowledged (or keepalive probes unanswered) before the kernel fails the connection
 * with ETIMEDOUT. Without it a connection whose peer vanished with echoes in flight is held for
 * tcp_retries2 retransmissions (about 15 minutes), and keepalive never fires while data is
 * outstanding. A no-op success on a unix socket. Returns 0 or -1 (err).
 */
int net_set_user_timeout(int fd, unsigned ms, char *err);

/* Raise the RLIMIT_NOFILE soft limit to the hard limit. Returns the new soft limit, or -1. */
long net_raise_nofile(char *err);

#endif
