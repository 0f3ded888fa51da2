/*
 * tools.c -- `aftersale-worker produce` and `consume`: their options, help
 * and argument checks; what they do is src/tools.c (include/asw/tools.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/cmd.h"
#include "asw/tools.h"

/* The options both tools start with: the topic, and how to reach Kafka. */
// clang-format off
#define TOOL_OPTIONS(topic_help)                                                        \
    {'t', "topic", "T", topic_help},                                                    \
    {'c', "config", "FILE", "configuration file (librdkafka keys pass through)"},        \
    {'b', "brokers", "LIST", "bootstrap.servers (overrides the file)"}
// clang-format on

/* ---- produce ---- */

enum { OPT_RAW = ASW_CMD_LONG_ONLY };

static int produce_main(int argc, char **argv);

static const asw_cmd_option produce_options[] = {
    TOOL_OPTIONS("topic to produce to (required)"),
    {'p', "partitions", "N",
     "create T with N partitions if it does not exist\n"
     "(replication factor: topic.replication.factor)"},
    {OPT_RAW, "raw", NULL, "produce each line's bytes unchanged (no parsing)"},
    {'k', "key", "K", "with --raw: the key of every record (default: null)"},
    {0}};

const asw_cmd asw_produce_cmd = {
    .name = "produce",
    .summary = "JSON Lines events into a topic as framed Avro, keyed by order_id",
    .synopsis = "--topic T [-c CONFIG | -b BROKERS]\n"
                "[--partitions N] [--raw [--key K]]\n"
                "EVENTS.jsonl|-",
    .description =
        "Produce each event of a JSON Lines file ('-' = stdin) to topic T, Avro-encoded\n"
        "and keyed by order_id, through an idempotent producer. Blank lines are skipped;\n"
        "the first line that is not a valid event stops the run after flushing what was\n"
        "produced before it.",
    .options = produce_options,
    .exit_status = "0 all delivered, 1 bad line or failed delivery, 2 usage/config",
    .run = produce_main,
};

/* Returns -1 to go on, or the exit code (0 after -h). */
static int produce_parse_args(int argc, char **argv, asw_produce_opts *o) {
    memset(o, 0, sizeof *o);
    long long n;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_produce_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 't':
            o->topic = optarg;
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case 'b':
            o->brokers = optarg;
            break;
        case 'p':
            if (asw_cmd_parse_int(optarg, 1, INT32_MAX, &n) != 0) {
                fprintf(stderr,
                        "aftersale-worker produce: --partitions needs a number >= 1, "
                        "not '%s'\n",
                        optarg);
                return 2;
            }
            o->partitions = (int32_t)n;
            break;
        case OPT_RAW:
            o->raw = true;
            break;
        case 'k':
            o->key = optarg;
            break;
        default:
            return asw_cmd_usage(&asw_produce_cmd, opt);
        }
    }
    if (!o->topic || !o->topic[0]) {
        fprintf(stderr, "aftersale-worker produce: --topic is required\n");
        return 2;
    }
    if (o->key && !o->raw) {
        fprintf(stderr, "aftersale-worker produce: --key goes with --raw (events are keyed "
                        "by order_id)\n");
        return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "aftersale-worker produce: exactly one EVENTS file (or -) is needed\n");
        return 2;
    }
    o->in_path = argv[optind];
    return -1;
}

static int produce_main(int argc, char **argv) {
    asw_produce_opts o;
    int rc = produce_parse_args(argc, argv, &o);
    return rc >= 0 ? rc : asw_tools_produce(&o);
}

/* ---- consume ---- */

enum { OPT_FROM_BEGINNING = ASW_CMD_LONG_ONLY, OPT_IDLE_EXIT, OPT_MAX };

static int consume_main(int argc, char **argv);

static const asw_cmd_option consume_options[] = {
    TOOL_OPTIONS("topic to read (required)"),
    {OPT_FROM_BEGINNING, "from-beginning", NULL, "start at the beginning (default: at the end)"},
    {OPT_IDLE_EXIT, "idle-exit", "SECONDS",
     "exit once every partition is at its end and nothing\n"
     "arrived for SECONDS (default: until SIGINT/SIGTERM)"},
    {OPT_MAX, "max", "N", "exit after N records"},
    {0}};

const asw_cmd asw_consume_cmd = {
    .name = "consume",
    .summary = "a topic as JSON Lines (read_committed), with partition and offset",
    .synopsis = "--topic T [-c CONFIG | -b BROKERS]\n"
                "[--from-beginning] [--idle-exit SECONDS]\n"
                "[--max N]",
    .description =
        "Print every record of every partition of T (read_committed) as one JSON object\n"
        "a line, decoded by its schema id, with \"partition\" and \"offset\" added.\n"
        "Records that do not decode print as DeadLetter, null values as Tombstone.",
    .options = consume_options,
    .exit_status = "0 stopped normally, 1 Kafka or output failure, 2 usage/config",
    .run = consume_main,
};

/* Returns -1 to go on, or the exit code (0 after -h). */
static int consume_parse_args(int argc, char **argv, asw_consume_opts *o) {
    memset(o, 0, sizeof *o);
    o->idle_exit_ms = -1;
    long long n;
    char *end;
    double secs;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_consume_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 't':
            o->topic = optarg;
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case 'b':
            o->brokers = optarg;
            break;
        case OPT_FROM_BEGINNING:
            o->from_beginning = true;
            break;
        case OPT_IDLE_EXIT:
            errno = 0;
            secs = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(secs) || secs < 0 || secs > 86400.0) {
                fprintf(stderr,
                        "aftersale-worker consume: --idle-exit needs seconds between 0 and "
                        "86400, not '%s'\n",
                        optarg);
                return 2;
            }
            o->idle_exit_ms = (int64_t)(secs * 1000.0);
            break;
        case OPT_MAX:
            if (asw_cmd_parse_int(optarg, 1, INT64_MAX, &n) != 0) {
                fprintf(stderr, "aftersale-worker consume: --max needs a number >= 1, not '%s'\n",
                        optarg);
                return 2;
            }
            o->max = n;
            break;
        default:
            return asw_cmd_usage(&asw_consume_cmd, opt);
        }
    }
    if (!o->topic || !o->topic[0]) {
        fprintf(stderr, "aftersale-worker consume: --topic is required\n");
        return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "aftersale-worker consume: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

static int consume_main(int argc, char **argv) {
    asw_consume_opts o;
    int rc = consume_parse_args(argc, argv, &o);
    return rc >= 0 ? rc : asw_tools_consume(&o);
}
