/*
 * cases_resources.c — group `resources` (docs/spec.md RESOURCES-*): what --exec lets framespec
 * see of the server process. Each case writes its scenario (fs.h) and runs it.
 */
#include <stdlib.h>
#include <string.h>

#include "cases.h"

/*
 * resources.descriptors — (--exec) the server's open descriptors return to their baseline (counted
 * when the scenario starts, after one echo) within 5 s after 100 connect/echo/close cycles, 50
 * resets mid-frame and 50 half-closes.
 */
void case_resources_descriptors(fs_ctx *c)
{
    uint8_t hdr[WIRE_MAX_HEADER];
    size_t hl = wire_encode_header(c->cfg->framing, 16, hdr);
    const char *f = fs_frame(c, 16);
    long long ms = (long long)fs_ms(c, 2000);
    fs_sc(c, "repeat 100");
    fs_sc(c, "  connect c1");
    fs_sc(c, "  c1 send %s", f);
    fs_sc(c, "  c1 expect %s within %lld", f, ms);
    fs_sc(c, "  c1 close");
    fs_sc(c, "end");
    fs_sc(c, "repeat 50");
    fs_sc(c, "  connect c1");
    fs_sc(c, "  c1 send %s", hl > 0 ? fs_raw(c, hdr, hl) : "raw \"rst\"");
    fs_sc(c, "  sleep 1");
    fs_sc(c, "  c1 abort");
    fs_sc(c, "end");
    fs_sc(c, "repeat 50");
    fs_sc(c, "  connect c1");
    fs_sc(c, "  c1 send %s", f);
    fs_sc(c, "  c1 shutdown wr");
    fs_sc(c, "  c1 expect prefix %s then eof within %lld", f, ms);
    fs_sc(c, "  c1 close");
    fs_sc(c, "end");
    fs_sc(c, "expect server-released within %lld  # RESOURCES-2", (long long)fs_ms(c, 5000));
    fs_sc_run(c);
}

/* The reproducer of the case the server died in, its `expect server-alive` steps tagged
 * RESOURCES-1, and then `expect server-alive at-end`: the server may die after that case's
 * last step, or after a step that failed first (a server that queues without bound fails the
 * flood's bound, then dies by SIGPIPE when the flooding peer's close resets the connection),
 * when its connections are closed. */
static void death_scenario(fs_ctx *c, const char *repro)
{
    const char *p = repro;
    fs_sc(c, "# the server died during another case: %s", c->cfg->death_case);
    fs_sc(c, "# this is that case's reproducer: replayed alone, it makes the server die, at the "
             "latest once every connection is closed");
    while (*p) {
        size_t l = strcspn(p, "\n");
        const char *hash = memchr(p, '#', l);
        const char *line = fs_fmt(c, "%.*s", (int)l, p);
        /* an at-end step (a death during this very case) is replaced by the one below */
        if (strstr(line, "expect server-alive at-end") != NULL)
            fs_sc(c, "# %s", line);
        else if (strstr(line, "expect server-alive") != NULL)
            fs_sc(c, "%.*s  # RESOURCES-1", (int)(hash ? hash - p : (long)l), p);
        else
            fs_sc(c, "%.*s", (int)l, p);
        p += l + (p[l] == '\n');
    }
    fs_sc(c, "expect server-alive at-end  # RESOURCES-1");
}

/*
 * resources.alive — (--exec) the server process did not die at any point of this run (the runner
 * watches its pid between cases and restarts it when it dies). When it died, the reproducer is
 * the one of the case it died in (its `expect server-alive` steps tagged RESOURCES-1).
 */
void case_resources_alive(fs_ctx *c)
{
    if (c->cfg->server_deaths > 0) {
        if (c->cfg->death_repro) {
            death_scenario(c, c->cfg->death_repro);
            fs_result_repro(c, c->text, c->len);
        }
        fs_violated(c, REQ_RESOURCES_1);
        fs_expected(c, "the server process alive throughout the run");
        fs_actual(c, "it died %u time(s); last: %s", c->cfg->server_deaths, c->cfg->last_death);
        fs_fail(c, "RESOURCES-1: the server died %u time(s) during the run; last: %s",
                c->cfg->server_deaths, c->cfg->last_death);
        return;
    }
    fs_sc(c, "expect server-alive");
    fs_sc_run(c);
}
