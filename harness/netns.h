/*
 * netns.h — framespec's private network namespace (run --netns, the deadpeer cases, --loss).
 *
 * The namespace is anonymous: netns_enter() moves the framespec process itself into a new one
 * with unshare(CLONE_NEWNET) (Linux network_namespaces(7)), so the --exec server, the case
 * processes and every nft command it runs live there too, on the namespace's own loopback
 * (127.0.0.1, ::1). Nothing is named or mounted (nothing for `ip netns list` to show), and the
 * kernel frees the namespace, with its nftables table and every socket in it, when the last
 * process in it exits: SIGINT, --timeout or a crash of framespec cannot leave it behind.
 *
 * Rules live in one table, `inet framespec`, with chains on the output hook (on loopback every
 * packet, in both directions, passes output once):
 *   vPID   priority -10: the per-connection rules of one scenario run (`vanish`,
 *          `middlebox-reset`: drop a 4-tuple, or reject with tcp reset), in the process PID
 *          that runs it (a case process, replay, a fuzz worker); added on its first vanish and
 *          deleted when the run ends (scenario_server.c), or, for a case process killed first,
 *          by the runner once it has ended (run.c);
 *   loss   priority 0:   with --loss PCT, `meta l4proto tcp numgen random mod 10000 < PCT*100
 *          counter drop` (nft(8) numgen; the counter shows that loss really happened).
 */
#ifndef FRAMESPEC_NETNS_H
#define FRAMESPEC_NETNS_H

#include <stddef.h>

/*
 * Why this process cannot create a network namespace with rules, or NULL when it can: it needs
 * CAP_SYS_ADMIN (unshare(CLONE_NEWNET)) and CAP_NET_ADMIN (loopback up, nftables) in its
 * effective set (/proc/self/status CapEff), and the nft program (Debian package nftables).
 * The text names what is missing and the fix; it is static.
 */
const char *netns_unavailable(void);

/*
 * Move this process into a new network namespace, bring its loopback up (SIOCSIFFLAGS), and
 * create the table above; with loss_pct > 0 (percent, 0 < loss_pct < 100) add the loss rule.
 * Call it before starting any process that must share the namespace. Returns 0; -2 when it
 * failed and the process is back in (or never left) its old namespace; -1 when it failed and the
 * process could not go back (setns) and is in a half-made namespace: exit. The reason is in
 * err[0..n).
 */
int netns_enter(double loss_pct, char *err, size_t n);

/*
 * Run `nft -f -` with `script` (nft(8) syntax, e.g. "add rule inet framespec drops tcp sport 1
 * tcp dport 2 drop\n") on stdin, in this process's namespace, within timeout_ms milliseconds
 * (the child is killed after that). Returns 0 with what nft printed (its first n-1 bytes: the
 * answer of a `list` command) in err[0..n), or -1 with nft's first error line (or why it could
 * not run) there.
 */
int netns_nft(const char *script, int timeout_ms, char *err, size_t n);

/* Packets the --loss rule has dropped so far (its nft counter), or -1 (no loss rule). */
long long netns_loss_dropped(void);

/* The path of the nft program (PATH, then /usr/sbin and /sbin), or NULL. Static storage. */
const char *netns_nft_path(void);

#endif
