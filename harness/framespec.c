/*
 * framespec — conformance suite, replay tool and load generator for framed echo servers.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "fuzz.h"
#include "proxy_relay.h"
#include "replay.h"
#include "capture.h"
#include "report_html.h"
#include "run.h"
#include "version.h"

static void usage(FILE *out)
{
    fputs("usage: framespec COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  run      run the conformance catalogue against a server (TAP, JUnit, JSON)\n"
          "  list     print the catalogue: id, level (MUST/SHOULD), requirements, description\n"
          "           (--markdown: docs/cases.md; --requirements: the spec ids and levels)\n"
          "  replay   run a scenario script (a reproducer) against a server\n"
          "  import   a packet capture or an strace log of a client, as a scenario to replay\n"
          "  shrink   make a failing scenario as short as it can be, failing the same way\n"
          "  proxy    a frame-aware fault-injecting proxy between any client and server\n"
          "  bench    load generator: frames/s, MB/s, round-trip percentiles\n"
          "  fuzz     stateful fuzzing over real sockets, with an echo oracle and shrinking\n"
          "  report   render JSON reports as one HTML page: matrix, failures, wire timelines\n"
          "\n"
          "Run 'framespec COMMAND --help' for a command's options; 'framespec --version' prints\n"
          "the version. The manual: man framespec.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("framespec %s\n", FRAMESPEC_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return run_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return list_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "replay"))
        return replay_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fuzz"))
        return fuzz_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import"))
        return import_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "shrink"))
        return shrink_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "proxy"))
        return proxy_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report"))
        return report_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench"))
        return bench_main(argc - 1, argv + 1);
    fprintf(stderr, "framespec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
