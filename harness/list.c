/*
 * list.c — `framespec list`: the catalogue (id, level, requirements, description), docs/cases.md
 * (--markdown, with when each case applies, from its flags) and the requirement table
 * (--requirements); and the one statement of which framings a case's flags exclude.
 */
#include <stdio.h>
#include <string.h>

#include "run.h"

const char *run_case_group(const char *id, char *buf, size_t n)
{
    const char *dot = strchr(id, '.');
    size_t l = dot ? (size_t)(dot - id) : strlen(id);
    if (l >= n)
        l = n - 1;
    memcpy(buf, id, l);
    buf[l] = '\0';
    return buf;
}

/* The framings `list --markdown` names in its "applies" column (one of each kind of header). */
static const char *const all_framings[] = {"raw", "1", "2", "4", "line", "u24", "u64le",
                                           "4,adjust=-4", "varint"};

/* Erlang's line framing. */
static wire_framing line_framing(void)
{
    wire_framing f = wire_default_framing();
    char err[64];
    wire_parse_framing("line", &f, err, sizeof err);
    return f;
}

const char *run_framing_excludes(unsigned flags, wire_framing f, uint64_t max, char *buf,
                                 size_t n)
{
    if ((flags & FS_LINE_ONLY) && !wire_is_line(f))
        return "only for line framing";
    if ((flags & FS_NEEDS_HEADER) && !wire_has_header(f))
        return wire_is_raw(f) ? "raw framing has no frames" : "line framing has no header";
    if ((flags & FS_NEEDS_FRAMED) && wire_is_raw(f))
        return "raw framing has no frames";
    if ((flags & FS_NOT_LINE) && wire_is_line(f))
        return "line framing cannot carry '\\n' inside a payload";
    if ((flags & FS_NOT_U8) && wire_has_header(f) && wire_header_size(f, wire_split_len(f)) < 2)
        return "a 1-byte header cannot be split";
    if ((flags & FS_NEEDS_VARINT) && f.kind != WIRE_VARINT)
        return "only for a varint length";
    if ((flags & FS_NEEDS_ADJUST) && f.adjust == 0)
        return "only for a length that counts more than the payload (adjust < 0)";
    if ((flags & FS_NEEDS_OVER_MAX) && wire_has_header(f) &&
        wire_max_payload(f, max) >= wire_max_expressible(f)) {
        snprintf(buf, n, "framing %s cannot announce more than --max-frame %llu: its header holds "
                         "at most %llu", wire_framing_name(&f), (unsigned long long)max,
                 (unsigned long long)wire_max_expressible(f));
        return buf;
    }
    return NULL;
}

/* Append part to out[0..n) at *o, after "; " unless it is the first. */
static void add_part(char *out, size_t n, size_t *o, const char *part)
{
    if (*o < n)
        *o += (size_t)snprintf(out + *o, n - *o, "%s%s", *o ? "; " : "", part);
}

/* What a case needs, from its flags: the "applies" column of `list --markdown`, into
 * out[0..n) (parts joined with "; "), or "all". */
static void applies_text(unsigned flags, char *out, size_t n)
{
    const size_t nall = sizeof all_framings / sizeof all_framings[0];
    char names[160] = "", part[200], why[160];
    size_t o = 0, in = 0, no = 0;
    bool not_raw = true; /* the case applies to every framing except raw */
    bool hdr_only = true; /* ... to every framing with a length field */
    out[0] = '\0';
    for (size_t i = 0; i < nall; i++) {
        wire_framing f = wire_default_framing();
        bool applies;
        wire_parse_framing(all_framings[i], &f, why, sizeof why);
        applies = run_framing_excludes(flags, f, 0, why, sizeof why) == NULL;
        if (applies && no < sizeof names)
            no += (size_t)snprintf(names + no, sizeof names - no, "%s%s", in ? ", " : "",
                                   wire_framing_name(&f));
        in += applies;
        not_raw = not_raw && applies == (!wire_is_raw(f));
        hdr_only = hdr_only && applies == wire_has_header(f);
    }
    if (flags & FS_NEEDS_VARINT) {
        add_part(out, n, &o, "varint lengths only");
    } else if (flags & FS_NEEDS_ADJUST) {
        add_part(out, n, &o, "length fields with adjust < 0 only");
    } else if (not_raw) {
        add_part(out, n, &o, "framed (not raw)");
    } else if (hdr_only) {
        add_part(out, n, &o, "length fields (not raw or line)");
    } else if (flags & FS_NOT_U8) {
        add_part(out, n, &o, "framed (not raw), not a 1-byte header");
    } else if (in < nall) {
        snprintf(part, sizeof part, in == 1 ? "%s framing only" : "framings %s", names);
        add_part(out, n, &o, part);
    }
    if (flags & FS_NEEDS_OVER_MAX)
        add_part(out, n, &o,
                 run_framing_excludes(flags, line_framing(), 0, why, sizeof why) == NULL
                     ? "length fields only with --max-frame below their header's largest length"
                     : "--max-frame below the header's largest length");
    if (flags & FS_NEEDS_IDLE)
        add_part(out, n, &o, "--idle-timeout");
    if (flags & FS_NEEDS_NETNS)
        add_part(out, n, &o, "--exec, TCP, as root (network namespace)");
    else if (flags & FS_NEEDS_EXEC)
        add_part(out, n, &o, "--exec");
    if ((flags & FS_NEEDS_TCP) && !(flags & FS_NEEDS_NETNS))
        add_part(out, n, &o, "TCP (not a unix socket)");
    if (flags & FS_MANY_CONNS)
        add_part(out, n, &o, "under --loss an idle timeout over 3 s");
    if (flags & FS_NO_LOSS)
        add_part(out, n, &o, "not under --loss");
    if (flags & FS_NEEDS_KEEPALIVE)
        add_part(out, n, &o, "--keepalive");
    if (flags & FS_NEEDS_IDLE_PROMISE)
        add_part(out, n, &o, "--keepalive or --idle-timeout");
    if (flags & FS_NEEDS_ANY_PROMISE)
        add_part(out, n, &o, "--user-timeout, --idle-timeout or --keepalive");
    if (o == 0)
        snprintf(out, n, "all");
}

int list_main(int argc, char **argv)
{
    bool markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    if (argc > 1 && strcmp(argv[1], "--requirements") == 0) {
        for (int i = 1; i < REQ_COUNT; i++)
            printf("%-16s %s\n", fs_requirements[i].id, fs_level_name(fs_requirements[i].level));
        return 0;
    }
    if (argc > 1 && !markdown) {
        fprintf(stderr, "usage: framespec list [--markdown | --requirements]\n");
        return 2;
    }
    if (markdown) {
        char group[64] = "";
        puts("# framespec case catalogue\n");
        puts("Generated by `framespec list --markdown`; do not edit. Requirements are in "
             "[spec.md](spec.md).\n");
        puts("A case's **level** is MUST when any requirement it checks is a MUST, else SHOULD. "
             "A failing MUST case fails the run; a failing SHOULD case is a warning (TAP "
             "`# TODO SHOULD`, JSON `\"status\": \"warn\"`) unless `--strict` is given. Under "
             "`--repeat N` a case that fails some runs but not all is **flaky**: a flaky MUST "
             "case fails the run.\n");
        for (size_t i = 0; i < fs_ncases; i++) {
            const fs_case *c = &fs_cases[i];
            char g[64], applies[512];
            run_case_group(c->id, g, sizeof g);
            if (strcmp(g, group) != 0) {
                printf("%s## %s\n\n| id | level | requirements | applies | what it checks |\n"
                       "|---|---|---|---|---|\n",
                       group[0] ? "\n" : "", g);
                snprintf(group, sizeof group, "%s", g);
            }
            applies_text(c->flags, applies, sizeof applies);
            printf("| `%s` | %s | %s | %s | %s |\n", c->id, fs_level_name(fs_case_level(c)),
                   c->requirements, applies, c->description);
        }
        return 0;
    }
    for (size_t i = 0; i < fs_ncases; i++)
        printf("%-30s %-6s %-28s %s\n", fs_cases[i].id,
               fs_level_name(fs_case_level(&fs_cases[i])), fs_cases[i].requirements,
               fs_cases[i].description);
    return 0;
}
