/*
 * demo.c -- `aftersale-worker demo`: its options, help and argument checks;
 * the demo itself is src/demo.c (include/asw/demo.h, docs/demo.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "asw/cmd.h"
#include "asw/demo.h"

static int demo_main(int argc, char **argv);

static const asw_cmd_option demo_options[] = {
    {'n', "orders", "N", "orders to generate (default 3000, about 22k events)"},
    {'s', "seed", "S", "generator seed (default 1)"},
    {'p', "partitions", "P", "input partitions (default 4, 1..64)"},
    {'v', "verbose", NULL, "log at info level (default: warnings only) to stderr"},
    {0}};

const asw_cmd asw_demo_cmd = {
    .name = "demo",
    .summary = "the whole pipeline on an in-process mock Kafka cluster, a report",
    .synopsis = "[--orders N] [--seed S] [--partitions P]\n"
                "[--verbose]",
    .description =
        "Run the whole pipeline on an in-process mock Kafka cluster (no broker needed):\n"
        "produce a deterministic sample stream, process it with the worker, read the\n"
        "decisions and refund records back, print a report, and check the outputs\n"
        "against the offline replay of the same events.",
    .options = demo_options,
    .exit_status = "0 run complete and outputs match the replay, 1 failure or\n"
                   "mismatch, 2 usage",
    .run = demo_main,
};

/* Parse a whole decimal number in [min, max]. Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Returns -1 to go on, or the exit code (0 after -h). */
static int demo_parse_args(int argc, char **argv, asw_demo_opts *o) {
    o->seed = 1;
    o->orders = 3000;
    o->partitions = 4;
    o->verbose = false;
    uint64_t v;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_demo_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_u64(optarg, 1, 1000000, &v) != 0) {
                fprintf(stderr, "aftersale-worker demo: --orders needs 1..1000000, not '%s'\n",
                        optarg);
                return 2;
            }
            o->orders = (int32_t)v;
            break;
        case 's':
            if (parse_u64(optarg, 0, UINT64_MAX, &v) != 0) {
                fprintf(stderr, "aftersale-worker demo: --seed needs a number >= 0, not '%s'\n",
                        optarg);
                return 2;
            }
            o->seed = v;
            break;
        case 'p':
            if (parse_u64(optarg, 1, 64, &v) != 0) {
                fprintf(stderr, "aftersale-worker demo: --partitions needs 1..64, not '%s'\n",
                        optarg);
                return 2;
            }
            o->partitions = (int32_t)v;
            break;
        case 'v':
            o->verbose = true;
            break;
        default:
            return asw_cmd_usage(&asw_demo_cmd, opt);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "aftersale-worker demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

static int demo_main(int argc, char **argv) {
    asw_demo_opts o;
    int rc = demo_parse_args(argc, argv, &o);
    return rc >= 0 ? rc : asw_demo_run(&o);
}
