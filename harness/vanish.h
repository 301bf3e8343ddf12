/*
 * vanish.h — peers that vanish, seen from the kernel: one TCP connection's server end in the
 * namespace's tables, nftables rules that drop its packets (no FIN, no RST: a crashed host), and
 * whether the server has released it. Used by the deadpeer cases (cases_deadpeer.c) and by the
 * scenario engine's `vanish` and `expect released` steps (scenario_run.c), inside framespec's
 * private network namespace (netns.h).
 *
 * "Released" means both: no process holds a descriptor of the server's socket any more (every
 * /proc/PID/fd is searched for its inode, the server's own first, so a server that forks per
 * connection is judged the same way), and the socket has left ESTABLISHED and CLOSE-WAIT (the
 * namespace's /proc/net/tcp and tcp6, the table ss(8) reads too). An orphan still retransmitting
 * its FIN (FIN-WAIT-1) is released: the kernel frees it on its own.
 */
#ifndef FRAMESPEC_VANISH_H
#define FRAMESPEC_VANISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One connection: its ports and the server's socket. */
typedef struct {
    unsigned cport, sport;  /* client (framespec) and server ports */
    char local[2][48];      /* the server's end as /proc/net/tcp and tcp6 print it ("" = n/a) */
    char remote[2][48];     /* the client's end, likewise */
    unsigned long inode;    /* the server's socket (0: not found yet) */
} vn_conn;

/* /proc/net/tcp states (include/net/tcp_states.h) */
enum { VN_ESTABLISHED = 1, VN_CLOSE_WAIT = 8 };

/* "ESTABLISHED", "CLOSE-WAIT", ... for a /proc/net/tcp state. */
const char *vn_state_name(int st);

/*
 * Fill *d for connected TCP socket fd (our end): the ports, and the server's socket as
 * /proc/net/tcp{,6} of this namespace show it, waiting up to timeout_ms for it to appear.
 * Returns 0, or -1 with the reason in why[0..n).
 */
int vn_identify(int fd, int timeout_ms, vn_conn *d, char *why, size_t n);

/* Wait up to timeout_ms until the server's socket has nothing unacknowledged (tx queue 0: our
 * ACK of its last echo went out; a delayed ACK takes up to 40 ms, more under load). A peer that
 * vanishes before that leaves data in flight, and keepalive does not probe then: the
 * connection would not be idle. Returns true when it is. */
bool vn_wait_acked(const vn_conn *d, int timeout_ms);

/* The server socket's entry: its state, the bytes it has sent and not had acknowledged (tx
 * queue) and its inode. Returns true when found. */
bool vn_tcp_entry(const vn_conn *d, int *state, unsigned long *txq, unsigned long *inode);


/* Has the server released the connection (see above)? When not, why[0..n) says what holds it. */
bool vn_released(pid_t server_pid, const vn_conn *d, char *why, size_t n);

/*
 * The nft rules (nft(8) syntax, into out[0..n)) that drop every packet of the connection from the
 * server to the client (to_client) and/or back (to_server), in chain `chain` of table
 * `inet framespec`; with reset, the server's packets are answered with an RST instead (a
 * middlebox: `reject with tcp reset`). On loopback both ends are the same address, so the two
 * ports name the connection.
 */
void vn_rules(const char *chain, const vn_conn *d, bool to_client, bool to_server, bool reset,
              char *out, size_t n);

/*
 * When keepalive gives up on a peer that answers nothing, in ms after the last activity, for
 * keepalive[3] = {TCP_KEEPIDLE s, TCP_KEEPINTVL s, TCP_KEEPCNT} (keepalive[0] == 0: none, 0 is
 * returned): IDLE + INTVL x CNT. With TCP_USER_TIMEOUT (user_timeout_ms > 0) as well, Linux
 * ignores TCP_KEEPCNT and gives up at the first probe timer (IDLE + k x INTVL, k >= 1) at or
 * after the user timeout (tcp(7) TCP_USER_TIMEOUT; net/ipv4/tcp_timer.c tcp_keepalive_timer).
 */
int64_t vn_keepalive_ms(const int keepalive[3], int64_t user_timeout_ms);

/* A server closing on its idle timeout sends its FIN and may then wait this long for the peer's
 * FIN before close() (a lingering close, as echod's and Apache httpd's: reading the peer's last
 * input keeps the kernel from answering it with an RST, RFC 1122 4.2.2.13). The peer is gone, so
 * that wait runs out; it is allowed on top of an idle-timeout promise. The kernel's own timeouts
 * (keepalive, TCP_USER_TIMEOUT) fail the socket: nothing to linger for. */
#define VN_LINGER_MS 2000

/* The tolerance past a promise of promise_ms (unscaled, ms): max(1 s, a quarter of it), plus
 * VN_LINGER_MS when the promise is an idle timeout. */
int64_t vn_tolerance_ms(int64_t promise_ms, bool idle_timeout);

/* Sockets in TIME_WAIT (state 06 of /proc/net/tcp and tcp6, proc(5)) whose local port is
 * `port`. */
int vn_time_wait(unsigned port);

#endif
