/*
 * replay.h — `framespec replay` (replay.c).
 */
#ifndef FRAMESPEC_REPLAY_H
#define FRAMESPEC_REPLAY_H

#include <sys/types.h>

#include "sock.h"

/* `framespec replay FILE ...` (argv[0] = "replay"). Returns the exit code: 0, 1 or 2. */
int replay_main(int argc, char **argv);
/* `framespec shrink SCENARIO ...` (shrink.c): exit 0 written, 1 nothing to shrink, 2 usage. */
int shrink_main(int argc, char **argv);

/* Capture the TCP traffic to a's port on lo into the file pcap with tcpdump (--immediate-mode)
 * or tshark, whichever is installed. Returns the capture's pid once the file exists, or -1
 * after printing why (a unix socket, no tool, not permitted: it needs CAP_NET_RAW). The capture
 * gets SIGINT (flush and exit) if framespec dies. Stop it with capture_stop(). */
pid_t capture_start(const sock_addr *a, const char *pcap, int verbose);
/* Let the last packets land (200 ms), then SIGINT the capture and reap it. pid <= 0: nothing. */
void capture_stop(pid_t pid);

#endif
