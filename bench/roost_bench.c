/* bench/roost_bench.c — `roost-bench SUBCOMMAND [options]`: runs one benchmark and prints one
 * JSON object on stdout (progress goes to stderr). Figures, not gates: see docs/benchmarks.md. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/log.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} subcommand_t;

static const subcommand_t s_subcommands[] = {
    {"skynet", bench_skynet,
     "skynet [--actors 1000000] [--workers N]   tree of actors summing 0..N-1"},
    {"pingpong", bench_pingpong,
     "pingpong [--pairs 1000] [--seconds 5] [--window 4] [--timers N] [--workers N] [--spin-us N]  "
     " local actor pairs"},
    {"remote", bench_remote,
     "remote [--seconds 5] [--pairs 2000] [--window 8] [--port 27100] [--spin-us N] [--curve 1] "
     "[--io worker|thread] [--paced-rate MSGS] [--timeline 1]"
     "   two nodes over ZeroMQ on loopback (--curve 1: with CurveZMQ; --paced-rate: the latency "
     "phase at MSGS msgs/s instead of half the peak; --timeline 1: its round trips per 5 ms on "
     "stderr)"},
    {"store", bench_store,
     "store [--nodes 3] [--rf 3] [--consistency QUORUM] [--sync batch] [--seconds 10] [--window "
     "256] [--value 200] [--port 28000] [--direct 1] [--io thread|worker] [--compaction "
     "universal|level] [--keys N] [--rate R] [--timeline 1] "
     "[--join 1 --rate 1000]   "
     "replicated writes through real roostd processes (--rate: the paced phase at R writes/s "
     "instead of half the peak; --timeline 1: its writes per 100 ms on stderr; --join 1: the pause "
     "while one more node joins under that load)"},
    {"chat", bench_chat,
     "chat [--pairs 200] [--seconds 10] [--workers N]   1:1 messages through the messaging "
     "actors on one in-process node (RocksDB, RF 1)"},
    {"connections", bench_connections,
     "connections [--count 20000] [--edges N] [--clients N] [--sources N] [--hold 10] "
     "[--base-port 29000] [--ping-ms 15000] [--rate N]   idle authenticated WebSockets held by "
     "local edges: "
     "memory per "
     "connection"},
    {"connections-worker", bench_conn_worker,
     "connections-worker …   (internal: one client process of `connections`)"},
    {"idle", bench_idle,
     "idle [--actors 1000000] [--workers N]   memory and rate of activating idle actors"},
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: roost-bench SUBCOMMAND [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof s_subcommands / sizeof *s_subcommands; i++)
        fprintf(out, "  %s\n", s_subcommands[i].usage);
    fprintf(out, "\nEach prints one JSON object on stdout; progress goes to stderr.\n");
}

int main(int argc, char **argv)
{
    roost_log_init("bench", ROOST_LOG_WARN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof s_subcommands / sizeof *s_subcommands; i++) {
        if (strcmp(argv[1], s_subcommands[i].name) == 0) {
            if (argc > 2 && strcmp(argv[2], "--help") == 0) {
                printf("usage: roost-bench %s\n", s_subcommands[i].usage);
                return 0;
            }
            return s_subcommands[i].run(argc, argv);
        }
    }
    fprintf(stderr, "roost-bench: unknown subcommand \"%s\"\n", argv[1]);
    s_usage(stderr);
    return 2;
}
