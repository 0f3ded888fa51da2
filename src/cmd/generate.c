/*
 * generate.c -- `aftersale-worker generate`: a deterministic sample stream
 * (src/gen.c) as JSON Lines on stdout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "asw/buf.h"
#include "asw/cmd.h"
#include "asw/gen.h"
#include "asw/jsonl.h"

static const asw_cmd_option options[] = {
    {'s', "seed", "N", "generator seed (default 1)"},
    {'n', "orders", "N", "orders to generate, 1..100000000 (default 1000)"},
    {'a', "active", "N", "orders interleaved at a time, 1..64 (default 16)"},
    {0}};

static int generate_main(int argc, char **argv) {
    unsigned long long seed = 1;
    long orders = 1000, active = 16;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_generate_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 's':
            seed = strtoull(optarg, &end, 10);
            break;
        case 'n':
            orders = strtol(optarg, &end, 10);
            break;
        case 'a':
            active = strtol(optarg, &end, 10);
            break;
        default:
            return asw_cmd_usage(&asw_generate_cmd, opt);
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "aftersale-worker generate: not a number: '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "aftersale-worker generate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (orders < 1 || orders > 100000000 || active < 1 || active > 64) {
        fprintf(stderr, "aftersale-worker generate: --orders 1..1e8, --active 1..64\n");
        return 2;
    }
    asw_gen *g = asw_gen_new(seed, (int32_t)orders, (int32_t)active);
    asw_buf buf = ASW_BUF_INIT;
    asw_event ev;
    int rc = 0;
    while (asw_gen_next(g, &ev)) {
        asw_buf_reset(&buf);
        asw_jsonl_format_event(&ev, &buf);
        asw_event_clear(&ev);
        if (fwrite(buf.data, 1, buf.len, stdout) != buf.len) {
            fprintf(stderr, "aftersale-worker generate: write failed: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    asw_buf_free(&buf);
    asw_gen_destroy(g);
    return rc;
}

const asw_cmd asw_generate_cmd = {
    .name = "generate",
    .summary = "a deterministic sample stream (JSON Lines) exercising every rule",
    .synopsis = "[--seed N] [--orders N] [--active N]",
    .description = "Print a stream of events in the JSON Lines form replay and produce read, made\n"
                   "by a seeded generator so that it exercises every rule: applications (some of\n"
                   "them invalid), successes, withdrawals, closures, external refunds, clawbacks.",
    .options = options,
    .exit_status = "0 done, 1 write failure, 2 usage",
    .run = generate_main,
};
