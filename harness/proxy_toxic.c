/*
 * proxy_toxic.c — the toxic table, --toxic's parser, and what toxics do to one direction of one
 * connection (proxy_toxic.h). Toxiproxy's types follow its toxics folder (latency.go, bandwidth.go,
 * slow_close.go, timeout.go, reset_peer.go, slicer.go, limit_data.go, noop.go).
 */
#include "proxy_toxic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const split_at[] = {"boundary", "header", "every", NULL};
static const char *const reset_at[] = {"boundary", "header", "payload", NULL};
static const char *const length_value[] = {"plus_one", "max_plus_one", "u32_max", NULL};

#define MS(n, d) {n, d, 0, 86400000, NULL, "ms"}
#define NUM(n, d, lo, hi, u) {n, d, lo, hi, NULL, u}
#define FIRST NUM("first", 0, 0, INT64_MAX, "frames")
#define COUNT(d) NUM("count", d, 0, INT64_MAX, "frames (0: all)")
#define AFTER(d) NUM("after_frames", d, 0, INT64_MAX, "frames")

const tx_def tx_defs[TX_NTYPES] = {
    [TX_LATENCY] = {"latency", false, "delay each chunk by latency +- jitter",
                    {MS("latency", 0), MS("jitter", 0)}},
    [TX_BANDWIDTH] = {"bandwidth", false, "at most rate KB/s (1 KB = 1000 bytes)",
                      {NUM("rate", 0, 0, 1000000000, "KB/s")}},
    [TX_SLOW_CLOSE] = {"slow_close", false, "hold the FIN for delay",
                       {MS("delay", 0)}},
    [TX_TIMEOUT] = {"timeout", false,
                    "drop every byte; close the connection after timeout without data (0: never)",
                    {MS("timeout", 0)}},
    [TX_RESET_PEER] = {"reset_peer", false,
                       "at the first bytes (dropped) or FIN, wait timeout, then RST both sides",
                       {MS("timeout", 0)}},
    [TX_SLICER] = {"slicer", false, "cut each chunk into writes of about average_size bytes",
                   {NUM("average_size", 0, 0, INT64_MAX, "bytes"),
                    NUM("size_variation", 0, 0, INT64_MAX, "bytes"),
                    NUM("delay", 0, 0, 86400000000, "us")}},
    [TX_LIMIT_DATA] = {"limit_data", false, "close the connection after bytes bytes",
                       {NUM("bytes", 0, 0, INT64_MAX, "bytes")}},
    [TX_NOOP] = {"noop", false, "nothing (Toxiproxy's noop)", {{0}}},
    [TX_FRAME_SPLIT] = {"frame_split", true,
                        "write a frame in pieces: at the header/payload boundary, after header "
                        "byte `byte`, or every `every` bytes, with a pause between",
                        {{"at", 0, 0, 2, split_at, ""}, NUM("byte", 1, 1, WIRE_MAX_HEADER - 1, "bytes"),
                         NUM("every", 1, 1, INT64_MAX, "bytes"), MS("pause", 1), FIRST, COUNT(0)}},
    [TX_FRAME_COALESCE] = {"frame_coalesce", true,
                           "write `frames` frames in one write (fewer when `wait` passes first)",
                           {NUM("frames", 2, 2, 1000, "frames"), FIRST, COUNT(0), MS("wait", 100)}},
    [TX_FRAME_DELAY] = {"frame_delay", true, "delay each frame by latency +- jitter",
                        {MS("latency", 100), MS("jitter", 0), FIRST, COUNT(0)}},
    [TX_FRAME_STALL] = {"frame_stall", true, "after after_frames frames, forward nothing for duration",
                        {AFTER(1), MS("duration", 1000)}},
    [TX_FRAME_RESET] = {"frame_reset", true,
                        "after after_frames frames (then a header byte, or the header and a payload "
                        "byte, with at=header|payload), RST both sides",
                        {AFTER(1), {"at", 0, 0, 2, reset_at, ""}}},
    [TX_FRAME_SHUTDOWN] = {"frame_shutdown", true,
                           "after after_frames frames, SHUT_WR (FIN) towards the destination; "
                           "later bytes are dropped",
                           {AFTER(1)}},
    [TX_FRAME_CLOSE] = {"frame_close", true,
                        "after after_frames frames, close both sides with what follows still queued",
                        {AFTER(1)}},
    [TX_VANISH] = {"vanish", true,
                   "after after_frames frames, forward nothing more and never send FIN or RST "
                   "(a dead peer)",
                   {AFTER(0)}},
    [TX_FRAME_LENGTH] = {"frame_length", true,
                         "rewrite the length field: the payload + 1, the maximum + 1, or 2^32-1",
                         {{"value", 0, 0, 2, length_value, ""}, FIRST, COUNT(1)}},
    [TX_FRAME_DROP] = {"frame_drop", true,
                       "drop frames (breaks TCP's contract: for protocols with their own retries)",
                       {FIRST, COUNT(1)}},
    [TX_FRAME_DUP] = {"frame_dup", true,
                      "send frames twice (breaks TCP's contract: for protocols with their own "
                      "retries)",
                      {FIRST, COUNT(1)}},
};

const char *px_stream_name(px_stream s)
{
    return s == PX_UP ? "upstream" : "downstream";
}

int tx_find(const char *name, size_t len)
{
    for (int i = 0; i < TX_NTYPES; i++)
        if (strlen(tx_defs[i].name) == len && !memcmp(tx_defs[i].name, name, len))
            return i;
    return -1;
}

int tx_attr_find(tx_type t, const char *name)
{
    for (int i = 0; i < TX_MAX_ATTRS && tx_defs[t].attrs[i].name; i++)
        if (!strcmp(tx_defs[t].attrs[i].name, name))
            return i;
    return -1;
}

void tx_init(px_toxic *t, tx_type type, px_stream s)
{
    memset(t, 0, sizeof *t);
    t->type = type;
    t->stream = s;
    t->toxicity = 1.0;
    snprintf(t->name, sizeof t->name, "%s_%s", tx_defs[type].name, px_stream_name(s));
    for (int i = 0; i < TX_MAX_ATTRS && tx_defs[type].attrs[i].name; i++)
        t->attr[i] = tx_defs[type].attrs[i].def;
}

/* What attribute a takes, for a message: "a number 0..86400000 (ms)" or "boundary|header|..." */
static void attr_takes(const tx_attr *a, char *out, size_t n)
{
    if (a->words) {
        size_t k = 0;
        out[0] = '\0';
        for (int i = 0; a->words[i] && k < n; i++)
            k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "|" : "", a->words[i]);
    } else {
        snprintf(out, n, "a whole number %" PRId64 "..%" PRId64 " (%s)", a->min, a->max, a->unit);
    }
}

int tx_set_attr(px_toxic *t, int i, const char *text, char *err, size_t n)
{
    const tx_attr *a = &tx_defs[t->type].attrs[i];
    char takes[160], *end;
    long long v;
    if (a->words)
        for (int w = 0; a->words[w]; w++)
            if (!strcmp(a->words[w], text)) {
                t->attr[i] = w;
                return 0;
            }
    errno = 0;
    v = strtoll(text, &end, 10);
    if (text[0] != '\0' && *end == '\0' && errno == 0 && v >= a->min && v <= a->max) {
        t->attr[i] = v;
        return 0;
    }
    attr_takes(a, takes, sizeof takes);
    snprintf(err, n, "%s's %s '%s': takes %s", tx_defs[t->type].name, a->name, text, takes);
    return -1;
}

/* One ATTR=V of a --toxic spec (the pseudo-attributes toxicity and name too). */
static int spec_attr(px_toxic *t, char *kv, char *err, size_t n)
{
    char *eq = strchr(kv, '=');
    int i;
    if (eq == NULL) {
        snprintf(err, n, "'%s': expected ATTRIBUTE=VALUE", kv);
        return -1;
    }
    *eq = '\0';
    if (!strcmp(kv, "toxicity")) {
        char *end;
        double p = strtod(eq + 1, &end);
        if (eq[1] == '\0' || *end != '\0' || !(p >= 0 && p <= 1)) {
            snprintf(err, n, "toxicity '%s': takes a probability from 0 to 1", eq + 1);
            return -1;
        }
        t->toxicity = p;
        return 0;
    }
    if (!strcmp(kv, "name")) {
        if (eq[1] == '\0' || strlen(eq + 1) >= sizeof t->name) {
            snprintf(err, n, "name '%s': takes 1 to %zu characters", eq + 1, sizeof t->name - 1);
            return -1;
        }
        snprintf(t->name, sizeof t->name, "%s", eq + 1);
        return 0;
    }
    i = tx_attr_find(t->type, kv);
    if (i < 0) {
        size_t k = 0;
        char names[200] = "";
        for (int j = 0; j < TX_MAX_ATTRS && tx_defs[t->type].attrs[j].name && k < sizeof names; j++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s, ", tx_defs[t->type].attrs[j].name);
        snprintf(err, n, "%s has no attribute '%s' (it has: %stoxicity, name)", tx_defs[t->type].name,
                 kv, names);
        return -1;
    }
    return tx_set_attr(t, i, eq + 1, err, n);
}

int tx_parse_spec(const char *spec, px_toxic *out, char *err, size_t n)
{
    char buf[512], *colon, *attrs = NULL, *save = NULL;
    px_stream s = PX_DOWN;
    int type;
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, n, "longer than %zu characters", sizeof buf - 1);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", spec);
    colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    type = tx_find(buf, strlen(buf));
    if (type < 0) {
        snprintf(err, n, "no toxic type '%s' (framespec proxy --list-toxics lists them)", buf);
        return -1;
    }
    if (colon) {
        char *rest = colon + 1, *c2 = strchr(rest, ':');
        if (c2)
            *c2 = '\0';
        if (!strcmp(rest, "upstream") || !strcmp(rest, "up"))
            s = PX_UP;
        else if (!strcmp(rest, "downstream") || !strcmp(rest, "down"))
            s = PX_DOWN;
        else if (strchr(rest, '=') && c2 == NULL)
            attrs = rest; /* TYPE:ATTR=V */
        else {
            snprintf(err, n, "stream '%s': takes upstream (client to server) or downstream", rest);
            return -1;
        }
        if (c2)
            attrs = c2 + 1;
    }
    tx_init(out, (tx_type)type, s);
    for (char *kv = attrs ? strtok_r(attrs, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save))
        if (spec_attr(out, kv, err, n) < 0)
            return -1;
    return 0;
}

const char *tx_unfit(const px_toxic *t, wire_framing f)
{
    if (t->type == TX_FRAME_LENGTH && !wire_has_header(f))
        return "frame_length rewrites a length field: give a framing that has one (--framing 4)";
    if (t->type == TX_FRAME_SPLIT && t->attr[0] == 1 && !wire_has_header(f))
        return "frame_split at=header splits a header: give a framing that has one (--framing 4)";
    if (tx_defs[t->type].frames && wire_is_raw(f))
        return "frame toxics need frames: raw framing has none (each read counts as one)";
    return NULL;
}

void tx_print_types(void *file)
{
    FILE *f = file;
    for (int t = 0; t < TX_NTYPES; t++) {
        fprintf(f, "  %-15s %s%s\n", tx_defs[t].name, tx_defs[t].what,
                tx_defs[t].frames ? " [framing]" : "");
        for (int i = 0; i < TX_MAX_ATTRS && tx_defs[t].attrs[i].name; i++) {
            char takes[160];
            const tx_attr *a = &tx_defs[t].attrs[i];
            attr_takes(a, takes, sizeof takes);
            if (a->words)
                fprintf(f, "      %s=%s (default %s)\n", a->name, takes, a->words[a->def]);
            else
                fprintf(f, "      %s=N: %s, default %" PRId64 "\n", a->name, takes, a->def);
        }
    }
}
