/*
 * cases_framing.c — groups `framing` and `segmentation`: echo semantics, and independence from
 * how TCP slices the byte stream (docs/spec.md FRAMING-*, SEGMENTATION-*). Each case writes its
 * scenario (fs.h) and runs it.
 */
#include "cases.h"

/* Send `items` on a fresh connection (in `how` writes: "" for as few as the kernel allows) and
 * expect them back byte-identical within 5 s. */
static void echo_once(fs_ctx *c, const char *items, const char *how)
{
    fs_sc(c, "connect c1");
    fs_sc(c, "c1 send %s%s", items, how);
    fs_sc(c, "c1 expect %s within %lld", items, (long long)fs_ms(c, 5000));
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * framing.single — one frame of 100 bytes comes back byte-identical.
 * The most basic contract; everything else builds on it.
 */
void case_framing_single(fs_ctx *c)
{
    echo_once(c, fs_frame(c, 100), "");
}

/*
 * framing.sequence — 100 frames of varied sizes sent back to back come back exactly once, in
 * order, and nothing else follows for 200 ms (a server that duplicates or drops a frame fails
 * here, and so does one that closes a connection that did nothing wrong).
 */
void case_framing_sequence(fs_ctx *c)
{
    static const size_t sizes[] = {1, 17, 255, 3, 1000, 64, 0, 4096, 2, 33};
    const char *w = fs_frames(c, sizes, 10, 100);
    fs_sc(c, "connect c1");
    fs_echo(c, "c1", w, 5000);
    fs_sc(c, "c1 expect open for 200");
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * framing.zero_length — a zero-length frame (a header of 0) is echoed as a zero-length frame, and
 * the connection stays usable: a frame sent after it is echoed too.
 */
void case_framing_zero_length(fs_ctx *c)
{
    static const size_t sizes[] = {0, 5, 0, 0, 3};
    echo_once(c, fs_frames(c, sizes, 5, 5), "");
}

/*
 * framing.all_bytes — payloads carrying each of the 256 byte values round-trip (the payload is
 * opaque: no text handling, no sign extension, no NUL termination). Not line framing (FS_NOT_LINE).
 * {packet,1} carries at most 255 bytes: then two frames cover all 256 values.
 */
void case_framing_all_bytes(fs_ctx *c)
{
    char hex[2 * 256 + 1];
    size_t per = fs_max_payload(c, 256);
    const char *items = "";
    for (int i = 0; i < 256; i++)
        snprintf(hex + 2 * i, 3, "%02x", 255 - i);
    for (size_t start = 0; start < 256; start += per) {
        size_t n = 256 - start < per ? 256 - start : per;
        items = fs_fmt(c, "%s%sframe hex:%.*s", items, start ? " " : "", (int)(2 * n),
                       hex + 2 * start);
    }
    echo_once(c, items, "");
}

/*
 * framing.line_terminator — with line framing (FS_LINE_ONLY) the '\n' ends the frame and is echoed
 * with it; an empty line is a zero-length frame; '\r' is payload like any other byte.
 */
void case_framing_line_terminator(fs_ctx *c)
{
    echo_once(c, "frame \"hello\" frame \"\" frame \"with\\rcarriage return\"", "");
}

/*
 * segmentation.header_split — the header split at every offset, the two pieces sent with a
 * 20 ms pause between them (TCP_NODELAY on our side, so they leave as separate segments): a
 * server that assumes one read returns a whole header fails.
 */
void case_segmentation_header_split(fs_ctx *c)
{
    size_t hl = wire_header_size(c->cfg->framing, 40);
    const char *f = fs_frame(c, 40);
    fs_sc(c, "connect c1");
    for (size_t cut = 1; cut <= hl; cut++) {
        fs_sc(c, "c1 send %s at %zu pause 20", f, cut);
        fs_sc(c, "c1 expect %s within %lld", f, (long long)fs_ms(c, 5000));
    }
    fs_sc(c, "c1 close");
    fs_sc_run(c);
}

/*
 * segmentation.payload_split — a 3000-byte payload sent in three pieces with pauses; a server that
 * echoes what one read returned, or waits for one read to hold the whole payload, fails.
 */
void case_segmentation_payload_split(fs_ctx *c)
{
    size_t len = wire_frame_size(c->cfg->framing, fs_max_payload(c, 3000));
    echo_once(c, fs_frame(c, 3000), fs_fmt(c, " at %zu,%zu pause 20", len / 3, 2 * len / 3));
}

/*
 * segmentation.byte_by_byte — two frames sent one byte per write with 2 ms pauses, so TCP cannot
 * merge them: every read the server makes returns one byte.
 */
void case_segmentation_byte_by_byte(fs_ctx *c)
{
    static const size_t sizes[] = {12, 0};
    echo_once(c, fs_frames(c, sizes, 2, 2), " by 1 pause 2");
}

/*
 * segmentation.coalesced — 300 frames in one write: a server that takes one read as one frame
 * echoes the first and loses the rest.
 */
void case_segmentation_coalesced(fs_ctx *c)
{
    static const size_t sizes[] = {10, 0, 100, 33, 1};
    echo_once(c, fs_frames(c, sizes, 5, 300), "");
}

/*
 * segmentation.random_slices — 200 frames of random sizes sent in random slices (1..3000 bytes),
 * a 1 ms pause after one slice in eight, while the echoes are read; the sizes and the slicing
 * come from --seed, printed with every failure, and the reproducer carries the very offsets.
 */
void case_segmentation_random_slices(fs_ctx *c)
{
    size_t sizes[40], total = 0, pos = 0, n;
    const char *cuts = "", *pauses = "";
    for (size_t i = 0; i < 40; i++) {
        sizes[i] = fs_max_payload(c, (size_t)(fs_rand(c) % 3000));
        total += wire_frame_size(c->cfg->framing, sizes[i]);
    }
    total *= 5; /* 200 frames: the 40 sizes, five times */
    for (;;) {
        n = 1 + (size_t)(fs_rand(c) % 3000);
        if (pos + n >= total)
            break;
        pos += n;
        cuts = fs_fmt(c, "%s%s%zu", cuts, *cuts ? "," : "", pos);
        if (fs_rand(c) % 8 == 0)
            pauses = fs_fmt(c, "%s%s%zu", pauses, *pauses ? "," : "", pos);
    }
    echo_once(c, fs_frames(c, sizes, 40, 200),
              fs_fmt(c, "%s%s%s%s", *cuts ? " at " : "", cuts, *pauses ? " pause 1 after " : "",
                     pauses));
}
