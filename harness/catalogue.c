/*
 * catalogue.c — the single registration list of conformance cases, in run order.
 * Ids are stable: CI configurations and reports refer to them. Requirements are docs/spec.md ids.
 * Flags (fs.h) are the one statement of when a case applies: framings, options, capabilities.
 */
#include <string.h>

#include "cases.h"

#define H FS_NEEDS_HEADER
#define F FS_NEEDS_FRAMED
#define I FS_NEEDS_IDLE
#define X FS_NEEDS_EXEC
#define N FS_NEEDS_NETNS
#define NL FS_NO_LOSS
#define LO FS_LINE_ONLY
#define NLF FS_NOT_LINE
#define N1 FS_NOT_U8
#define OM FS_NEEDS_OVER_MAX
#define T FS_NEEDS_TCP
#define KA FS_NEEDS_KEEPALIVE
#define IP FS_NEEDS_IDLE_PROMISE
#define AP FS_NEEDS_ANY_PROMISE
#define VI FS_NEEDS_VARINT
#define AD FS_NEEDS_ADJUST
#define MC FS_MANY_CONNS

const fs_case fs_cases[] = {
    {"framing.single", "FRAMING-1", "one frame is echoed byte-identical", case_framing_single, F, 10},
    {"framing.sequence", "FRAMING-1", "100 frames echoed exactly once, in order, nothing more",
     case_framing_sequence, F, 10},
    {"framing.zero_length", "FRAMING-2", "zero-length frames are echoed and the connection goes on",
     case_framing_zero_length, F, 10},
    {"framing.all_bytes", "FRAMING-3", "payloads with all 256 byte values round-trip",
     case_framing_all_bytes, F | NLF, 10},
    {"framing.line_terminator", "FRAMING-4", "line framing: '\\n' ends a frame and is echoed",
     case_framing_line_terminator, LO, 10},
    {"segmentation.header_split", "SEGMENTATION-1", "header split at every offset, with pauses",
     case_segmentation_header_split, H, 10},
    {"segmentation.payload_split", "SEGMENTATION-2", "payload in three pieces, with pauses",
     case_segmentation_payload_split, 0, 10},
    {"segmentation.byte_by_byte", "SEGMENTATION-3", "one byte per write, 2 ms apart",
     case_segmentation_byte_by_byte, 0, 10},
    {"segmentation.coalesced", "SEGMENTATION-4", "300 frames in one write",
     case_segmentation_coalesced, 0, 10},
    {"segmentation.random_slices", "SEGMENTATION-5", "200 frames in seeded random slices",
     case_segmentation_random_slices, 0, 20},
    {"limits.exact_max", "LIMITS-1", "a frame of exactly the maximum (payload, or whole frame) is echoed",
     case_limits_exact_max, F, 60},
    {"limits.over_max", "LIMITS-2,LIMITS-5", "a header announcing max+1 closes promptly",
     case_limits_over_max, F | OM, 15},
    {"limits.over_max_huge", "LIMITS-2,LIMITS-3", "a header announcing 2^N-1 closes promptly, no allocation",
     case_limits_over_max_huge, H | OM, 15},
    {"limits.echoes_first", "LIMITS-4", "echoes of earlier frames arrive before the close",
     case_limits_echoes_first, F | OM, 10},
    {"limits.others_served", "LIMITS-5", "other connections are served meanwhile",
     case_limits_others_served, F | OM, 15},
    {"limits.short_length", "LIMITS-6", "a length under the header's own size closes promptly",
     case_limits_short_length, H | AD, 10},
    {"limits.varint_overlong", "LIMITS-7", "an 11-byte varint closes promptly",
     case_limits_varint_overlong, VI, 10},
    {"limits.varint_overflow", "LIMITS-7", "a 10-byte varint past 2^64 closes promptly",
     case_limits_varint_overflow, VI, 10},
    {"halfclose.at_boundary", "HALFCLOSE-1,HALFCLOSE-4", "SHUT_WR after 50 frames: every echo, then FIN",
     case_halfclose_at_boundary, 0, 15},
    {"halfclose.mid_frame", "HALFCLOSE-2", "SHUT_WR mid-payload: complete frames echoed, then FIN",
     case_halfclose_mid_frame, F, 15},
    {"halfclose.mid_header", "HALFCLOSE-2", "SHUT_WR mid-header: complete frames echoed, then FIN",
     case_halfclose_mid_header, F | N1, 15},
    {"halfclose.large_transfer", "HALFCLOSE-3,HALFCLOSE-4", "64 MiB ending in SHUT_WR: nothing lost, then FIN",
     case_halfclose_large_transfer, 0, 90},
    {"halfclose.queued_echoes", "HALFCLOSE-5",
     "SHUT_WR while the server holds echoes for a peer that has not read: all, then FIN",
     case_halfclose_queued_echoes, 0, 90},
    {"reset.mid_header", "RESET-1", "RST mid-header: server alive, others served",
     case_reset_mid_header, 0, 15},
    {"reset.mid_payload", "RESET-1", "RST mid-payload: server alive, others served",
     case_reset_mid_payload, 0, 15},
    {"reset.echo_pending", "RESET-1", "RST with echoes pending: server alive, others served",
     case_reset_echo_pending, 0, 15},
    {"reset.echoes_in_flight", "RESET-2", "close with thousands of echoes in flight (SIGPIPE trap)",
     case_reset_echoes_in_flight, 0, 30},
    {"reset.fin_before_echoes", "RESET-5",
     "peers close (FIN) before their echoes arrive: RST, then EPIPE (SIGPIPE trap after FIN)",
     case_reset_fin_before_echoes, 0, 30},
    {"reset.burst", "RESET-3", "200 concurrent resets are survived", case_reset_burst, MC, 30},
    {"idle.silent_closed", "IDLE-1", "a silent connection is closed after the timeout, with FIN",
     case_idle_silent_closed, I, 60},
    {"idle.keepalive_frames", "IDLE-2", "zero-length keepalive frames keep a connection open past 2T",
     case_idle_keepalive_frames, I, 60},
    {"idle.half_header", "IDLE-3", "half a header then silence: closed after the timeout",
     case_idle_half_header, F | I, 60},
    {"backpressure.bounded", "BACKPRESSURE-1,BACKPRESSURE-2", "a non-reading peer is bounded; then every echo arrives",
     case_backpressure_bounded, 0, 90},
    {"backpressure.others_served", "BACKPRESSURE-3", "others are served while a peer does not read",
     case_backpressure_others_served, 0, 40},
    {"backpressure.rss", "BACKPRESSURE-4,RESOURCES-3", "memory stays bounded while a peer does not read",
     case_backpressure_rss, X, 60},
    {"concurrency.simultaneous", "CONCURRENCY-1", "--conns (500) simultaneous connections all echo",
     case_concurrency_simultaneous, MC, 60},
    {"concurrency.stalled_peer", "CONCURRENCY-2", "a peer holding half a frame delays nobody",
     case_concurrency_stalled_peer, 0, 60},
    {"concurrency.churn", "CONCURRENCY-3", "--cycles (2000) connect/echo/close cycles",
     case_concurrency_churn, 0, 120},
    {"latency.ping_pong", "LATENCY-1", "small-frame ping-pong p90 far below the 40 ms Nagle stall",
     case_latency_ping_pong, NL, 20},
    {"latency.pipelined", "LATENCY-2", "pipelined bursts of small frames without stalls",
     case_latency_pipelined, NL, 20},
    {"lifecycle.restart_same_port", "LIFECYCLE-1",
     "restarted at once on the same port while its old connections are in TIME_WAIT",
     case_lifecycle_restart_same_port, X | T | MC, 60},
    {"lifecycle.sigterm_flush", "LIFECYCLE-2",
     "on SIGTERM: whole echoes, then FIN (not RST), and exit within 5 s",
     case_lifecycle_sigterm_flush, X, 60},
    {"deadpeer.idle", "DEADPEER-1",
     "an idle peer vanishes (no FIN, no RST): released within keepalive or the idle timeout",
     case_deadpeer_idle, N | IP, 30},
    {"deadpeer.pending", "DEADPEER-2,DEADPEER-3",
     "a peer vanishes with echoes in flight: released within the user timeout",
     case_deadpeer_pending, N | AP, 30},
    {"deadpeer.alive_silent", "DEADPEER-4",
     "a silent peer that answers keepalive probes is not closed by keepalive",
     case_deadpeer_alive_silent, N | NL | KA, 30},
    {"deadpeer.middlebox_reset", "DEADPEER-5",
     "an RST injected by a middlebox: that connection released, the others served",
     case_deadpeer_middlebox_reset, N, 30},
    {"resources.descriptors", "RESOURCES-2,RESET-4", "descriptors back to baseline after churn, RST, half-close",
     case_resources_descriptors, X, 60},
    {"resources.alive", "RESOURCES-1", "the server process never died during the run",
     case_resources_alive, X, 15},
};

const size_t fs_ncases = sizeof fs_cases / sizeof fs_cases[0];

fs_level fs_case_level(const fs_case *c)
{
    const char *p = c->requirements;
    while (*p) {
        size_t l = strcspn(p, ",");
        fs_req r = fs_req_find(p, l);
        if (r == REQ_NONE || fs_req_level(r) != FS_SHOULD)
            return FS_MUST; /* MUST, or an unknown id (the catalogue test rejects those) */
        p += l + (p[l] == ',');
    }
    return FS_SHOULD;
}
