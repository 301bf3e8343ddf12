/*
 * cases.h — every case function of the catalogue, registered in catalogue.c. A source file holds
 * one group, or two related ones: cases_framing.c framing and segmentation, cases_close.c
 * halfclose and reset; every other group has its own cases_GROUP.c.
 */
#ifndef FRAMESPEC_CASES_H
#define FRAMESPEC_CASES_H

#include "fs.h"

/* cases_framing.c */
void case_framing_single(fs_ctx *c);
void case_framing_sequence(fs_ctx *c);
void case_framing_zero_length(fs_ctx *c);
void case_framing_all_bytes(fs_ctx *c);
void case_framing_line_terminator(fs_ctx *c);
void case_segmentation_header_split(fs_ctx *c);
void case_segmentation_payload_split(fs_ctx *c);
void case_segmentation_byte_by_byte(fs_ctx *c);
void case_segmentation_coalesced(fs_ctx *c);
void case_segmentation_random_slices(fs_ctx *c);
/* cases_limits.c */
void case_limits_exact_max(fs_ctx *c);
void case_limits_over_max(fs_ctx *c);
void case_limits_over_max_huge(fs_ctx *c);
void case_limits_echoes_first(fs_ctx *c);
void case_limits_others_served(fs_ctx *c);
void case_limits_short_length(fs_ctx *c);
void case_limits_varint_overlong(fs_ctx *c);
void case_limits_varint_overflow(fs_ctx *c);
/* cases_close.c */
void case_halfclose_at_boundary(fs_ctx *c);
void case_halfclose_mid_frame(fs_ctx *c);
void case_halfclose_mid_header(fs_ctx *c);
void case_halfclose_large_transfer(fs_ctx *c);
void case_halfclose_queued_echoes(fs_ctx *c);
void case_reset_mid_header(fs_ctx *c);
void case_reset_mid_payload(fs_ctx *c);
void case_reset_echo_pending(fs_ctx *c);
void case_reset_echoes_in_flight(fs_ctx *c);
void case_reset_fin_before_echoes(fs_ctx *c);
void case_reset_burst(fs_ctx *c);
/* cases_idle.c */
void case_idle_silent_closed(fs_ctx *c);
void case_idle_keepalive_frames(fs_ctx *c);
void case_idle_half_header(fs_ctx *c);
/* cases_backpressure.c */
void case_backpressure_bounded(fs_ctx *c);
void case_backpressure_others_served(fs_ctx *c);
void case_backpressure_rss(fs_ctx *c);
/* cases_concurrency.c */
void case_concurrency_simultaneous(fs_ctx *c);
void case_concurrency_stalled_peer(fs_ctx *c);
void case_concurrency_churn(fs_ctx *c);
/* cases_latency.c */
void case_latency_ping_pong(fs_ctx *c);
void case_latency_pipelined(fs_ctx *c);
/* cases_resources.c */
void case_resources_descriptors(fs_ctx *c);
void case_resources_alive(fs_ctx *c);
/* cases_lifecycle.c */
void case_lifecycle_restart_same_port(fs_ctx *c);
void case_lifecycle_sigterm_flush(fs_ctx *c);
/* cases_deadpeer.c */
void case_deadpeer_idle(fs_ctx *c);
void case_deadpeer_pending(fs_ctx *c);
void case_deadpeer_alive_silent(fs_ctx *c);
void case_deadpeer_middlebox_reset(fs_ctx *c);

#endif
