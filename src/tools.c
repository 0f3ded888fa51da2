/*
 * tools.c -- the user tools: `produce` writes JSON Lines events to a topic as
 * framed Avro (or lines as they are, with --raw), `consume` prints any of the
 * project's topics as JSON Lines. Both use the project's own codec, so what
 * they write is exactly what the worker reads and what they print is exactly
 * what the worker wrote. See docs/tools.md.
 *
 * Neither tool joins a consumer group or commits anything: they are safe to
 * point at a running pipeline.
 */
#include "asw/tools.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/changelog.h"
#include "asw/cli.h"
#include "asw/cmd.h"
#include "asw/config.h"
#include "asw/jsonl.h"
#include "asw/kafka.h"
#include "asw/log.h"
#include "asw/registry.h"

#define METADATA_TIMEOUT_MS 10000
#define CREATE_TIMEOUT_MS   30000
/* How long a created topic may take to show in metadata. */
#define POLL_MS 100

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse a whole decimal integer in [min, max]. Returns 0 or -1. */
static int parse_int(const char *s, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The options both tools start with: the topic, and how to reach Kafka. */
// clang-format off
#define TOOL_OPTIONS(topic_help)                                                        \
    {'t', "topic", "T", topic_help},                                                    \
    {'c', "config", "FILE", "configuration file (librdkafka keys pass through)"},        \
    {'b', "brokers", "LIST", "bootstrap.servers (overrides the file)"}
// clang-format on

/* ---- produce ---- */

enum { OPT_RAW = ASW_CMD_LONG_ONLY };

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
    .run = asw_cmd_produce,
};

typedef struct produce_opts {
    const char *topic;
    const char *config_path;
    const char *brokers;
    const char *key;
    const char *in_path;
    int32_t partitions; /* 0: never create the topic */
    bool raw;
} produce_opts;

/* Returns -1 to go on, or the exit code (0 after -h). */
static int produce_parse_args(int argc, char **argv, produce_opts *o) {
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
            if (parse_int(optarg, 1, INT32_MAX, &n) != 0) {
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

/* Delivery reports, counted by the producer's dr_msg_cb (the ctx owner). */
typedef struct delivery {
    int64_t delivered;
    int64_t failed;
    char first_error[256];
} delivery;

/* @locality the thread that calls rd_kafka_poll/flush (this one). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    asw_kafka_ctx *ctx = opaque;
    delivery *d = ctx->owner;
    if (!m->err) {
        d->delivered++;
        return;
    }
    if (d->failed++ == 0)
        snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
}

static void producer_setup(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
}

static void warn_partitions(asw_log *log, const char *topic, int32_t have, int32_t want) {
    if (want > 0 && have != want)
        asw_log_write(log, ASW_LOG_WARN, "topic_partitions",
                      "topic=%s partitions=%" PRId32 " requested=%" PRId32
                      " msg=\"topic exists; its partitions are left as they are\"",
                      topic, have, want);
}

/*
 * Make sure the topic exists: create it with `partitions` when it does not
 * and partitions > 0; warn when it exists with another count. Returns 0, or
 * -1 with a message in err.
 */
static int ensure_topic(rd_kafka_t *rk, const asw_config *cfg, asw_log *log, const char *topic,
                        int32_t partitions, char *err, size_t errlen) {
    int32_t have = 0;
    int r = asw_kafka_partition_count(rk, topic, METADATA_TIMEOUT_MS, &have, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        warn_partitions(log, topic, have, partitions);
        return 0;
    }
    if (partitions <= 0) {
        snprintf(err, errlen, "topic %s does not exist; create it or pass --partitions N", topic);
        return -1;
    }
    long long rf = -1;
    parse_int(asw_config_get(cfg, "topic.replication.factor"), -1, INT16_MAX, &rf);
    if (asw_kafka_create_topic(rk, topic, partitions, (int32_t)rf, false, CREATE_TIMEOUT_MS, err,
                               errlen) != 0)
        return -1;
    asw_log_write(log, ASW_LOG_INFO, "topic_created",
                  "topic=%s partitions=%" PRId32 " replication_factor=%lld", topic, partitions, rf);
    return 0;
}

/* Produce one record (copied: RD_KAFKA_MSG_F_COPY; `value` is not const only
 * because librdkafka's type check wants void *), waiting for room in a full
 * queue. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *topic, const void *key,
                                       size_t keylen, void *value, size_t len,
                                       const volatile sig_atomic_t *stop) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE(value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || *stop)
            return e;
        rd_kafka_poll(rk, POLL_MS); /* delivery reports make room */
    }
}

/* Long enough for every queued record to get its delivery report:
 * message.timeout.ms bounds each record's life. -1 = wait forever. */
static int flush_timeout_ms(rd_kafka_t *rk) {
    char v[32];
    size_t n = sizeof v;
    long long t = 300000;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.timeout.ms", v, &n) == RD_KAFKA_CONF_OK)
        parse_int(v, 0, INT_MAX, &t);
    if (t == 0)
        return -1;
    return t > INT_MAX - 30000 ? INT_MAX : (int)t + 30000;
}

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/*
 * What both tools start with: the effective config, a logger, and a Kafka
 * client of `role` whose opaque is ctx (its log is set here). On failure
 * prints "aftersale-worker <cmd>: <why>" and returns -1; whatever was made
 * is in the out-parameters for the caller's clean-up.
 */
static int open_tool(const char *cmd, const char *config_path, const char *brokers,
                     asw_kafka_role role, asw_kafka_ctx *ctx, void (*setup)(rd_kafka_conf_t *),
                     asw_config **cfg, asw_log **log, rd_kafka_t **rk) {
    char err[512];
    *cfg = asw_cli_config(config_path, brokers, err, sizeof err);
    if (*cfg) {
        *log = asw_cli_log(*cfg);
        ctx->log = *log;
        *rk = asw_kafka_new(*cfg, role, ctx, NULL, setup, err, sizeof err);
    }
    if (*rk)
        return 0;
    fprintf(stderr, "aftersale-worker %s: %s\n", cmd, err);
    return -1;
}

/*
 * With schema.registry.url set: a registry client in *out, and the codec's
 * ids the registry's. With `topic`, the six event schemas are registered
 * under <topic>-value (TopicNameStrategy) and events are framed with their
 * ids (produce); without, ids are looked up as records arrive (consume).
 * Returns 0 (*out NULL without a registry), or -1 with one line in err.
 */
static int use_registry(const asw_config *cfg, asw_codec *codec, const char *topic,
                        asw_registry **out, char *err, size_t errlen) {
    asw_registry_options ro;
    *out = NULL;
    if (!asw_registry_options_from_config(cfg, &ro))
        return 0;
    asw_registry *r = asw_registry_new(&ro, err, errlen);
    asw_registry_options_clear(&ro);
    if (!r)
        return -1;
    asw_codec_forget_builtin_ids(codec);
    char subject[300];
    if (topic)
        asw_registry_value_subject(topic, subject, sizeof subject);
    for (int t = 0; topic && t < ASW_EV__COUNT; t++) {
        const char *rec = asw_codec_event_record((asw_event_type)t);
        int32_t id;
        /* The message names the URL and the subject's path. */
        if (asw_registry_register(r, subject, asw_codec_schema_text(rec), &id, err, errlen) !=
            ASW_REGISTRY_OK) {
            asw_registry_destroy(r);
            return -1;
        }
        if (asw_codec_use_id(codec, rec, id, err, errlen) != ASW_CODEC_OK) {
            asw_registry_destroy(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

/*
 * Before a record is formatted: bind its schema id when the codec does not
 * know it and the registry does. A 404 is left to the decoder (it reports
 * UNKNOWN_SCHEMA_ID); a registry that does not answer is an error (-1 with
 * err): consume shows what it can decode, and stops rather than guess.
 */
static int resolve_id(asw_registry *r, asw_codec *codec, const void *value, size_t len, char *err,
                      size_t errlen) {
    int32_t id;
    if (!r || !value || asw_changelog_is_record(value, len) ||
        asw_codec_peek_id(value, len, &id) != ASW_CODEC_OK || asw_codec_id_record(codec, id))
        return 0;
    const char *schema;
    asw_registry_err re = asw_registry_lookup(r, id, &schema, err, errlen);
    if (re == ASW_REGISTRY_E_NOT_FOUND)
        return 0;
    if (re != ASW_REGISTRY_OK)
        return -1;
    char why[512];
    if (asw_codec_register_writer(codec, id, schema, why, sizeof why) != ASW_CODEC_OK)
        fprintf(stderr, "aftersale-worker consume: schema id %" PRId32 ": %s\n", id, why);
    return 0;
}

int asw_cmd_produce(int argc, char **argv) {
    produce_opts o;
    int rc = produce_parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    char err[512], stop_reason[1024] = "";
    asw_config *cfg = NULL;
    asw_log *log = NULL;
    asw_codec *codec = NULL;
    asw_registry *registry = NULL;
    rd_kafka_t *rk = NULL;
    FILE *in = NULL;
    char *line = NULL;
    size_t cap = 0;
    asw_buf value = ASW_BUF_INIT;
    delivery dr = {0, 0, ""};
    asw_kafka_ctx ctx = {NULL, &dr};
    int64_t sent = 0;
    const char *name = strcmp(o.in_path, "-") == 0 ? "<stdin>" : o.in_path;

    rc = 2;
    if (open_tool("produce", o.config_path, o.brokers, ASW_KAFKA_TOOL_PRODUCER, &ctx,
                  producer_setup, &cfg, &log, &rk) != 0)
        goto done;

    rc = 1;
    if (!o.raw && !(codec = asw_codec_new(err, sizeof err))) {
        fprintf(stderr, "aftersale-worker produce: %s\n", err);
        goto done;
    }
    if (!o.raw && use_registry(cfg, codec, o.topic, &registry, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker produce: %s\n", err);
        goto done;
    }
    in = strcmp(o.in_path, "-") == 0 ? stdin : fopen(o.in_path, "r");
    if (!in) {
        fprintf(stderr, "aftersale-worker produce: %s: %s\n", o.in_path, strerror(errno));
        goto done;
    }
    if (ensure_topic(rk, cfg, log, o.topic, o.partitions, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker produce: %s\n", err);
        goto done;
    }

    const volatile sig_atomic_t *stop = asw_cli_stop_on_signals();
    ssize_t n;
    int64_t lineno = 0;
    while (!*stop && dr.failed == 0 && (n = getline(&line, &cap, in)) != -1) {
        lineno++;
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (is_blank(line, len))
            continue;
        const void *key;
        void *val;
        size_t keylen, vallen;
        asw_event ev;
        asw_event_init(&ev);
        if (o.raw) {
            key = o.key;
            keylen = o.key ? strlen(o.key) : 0;
            val = line;
            vallen = len;
        } else {
            if (asw_jsonl_parse_event(line, len, &ev, err, sizeof err) != 0) {
                snprintf(stop_reason, sizeof stop_reason, "%s:%" PRId64 ": %s", name, lineno, err);
                break;
            }
            if (asw_codec_encode_event(codec, &ev, &value) != ASW_CODEC_OK) {
                snprintf(stop_reason, sizeof stop_reason, "%s:%" PRId64 ": cannot encode the event",
                         name, lineno);
                asw_event_clear(&ev);
                break;
            }
            key = ev.order_id;
            keylen = strlen(ev.order_id);
            val = value.data;
            vallen = value.len;
        }
        rd_kafka_resp_err_t e = produce_one(rk, o.topic, key, keylen, val, vallen, stop);
        asw_event_clear(&ev);
        if (e) {
            snprintf(stop_reason, sizeof stop_reason,
                     "aftersale-worker produce: %s:%" PRId64 ": %s", name, lineno,
                     rd_kafka_err2str(e));
            break;
        }
        sent++;
        rd_kafka_poll(rk, 0); /* serve delivery reports as we go */
    }
    if (!stop_reason[0] && ferror(in))
        snprintf(stop_reason, sizeof stop_reason, "aftersale-worker produce: %s: %s", name,
                 strerror(errno));
    else if (!stop_reason[0] && *stop)
        snprintf(stop_reason, sizeof stop_reason,
                 "aftersale-worker produce: interrupted after line %" PRId64, lineno);

    /* Everything handed to librdkafka gets a report before we judge. */
    rd_kafka_flush(rk, flush_timeout_ms(rk));
    int64_t unreported = sent - dr.delivered - dr.failed;
    if (stop_reason[0])
        fprintf(stderr, "%s\n", stop_reason);
    if (dr.failed)
        fprintf(stderr,
                "aftersale-worker produce: %" PRId64 " of %" PRId64
                " records failed delivery; first error: %s\n",
                dr.failed, sent, dr.first_error);
    else if (unreported > 0)
        fprintf(stderr,
                "aftersale-worker produce: %" PRId64
                " records got no delivery report in time (broker unreachable?)\n",
                unreported);
    fprintf(stderr, "produced %" PRId64 " records to %s\n", dr.delivered, o.topic);
    rc = stop_reason[0] || dr.failed || unreported > 0 ? 1 : 0;
done:
    free(line);
    if (in && in != stdin)
        fclose(in);
    asw_buf_free(&value);
    if (rk)
        rd_kafka_destroy(rk);
    asw_codec_destroy(codec);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}

/* ---- consume ---- */

enum { OPT_FROM_BEGINNING = ASW_CMD_LONG_ONLY, OPT_IDLE_EXIT, OPT_MAX };

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
    .run = asw_cmd_consume,
};

typedef struct consume_opts {
    const char *topic;
    const char *config_path;
    const char *brokers;
    bool from_beginning;
    int64_t idle_exit_ms; /* -1: never */
    int64_t max;          /* 0: no limit */
} consume_opts;

/* Returns -1 to go on, or the exit code (0 after -h). */
static int consume_parse_args(int argc, char **argv, consume_opts *o) {
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
            if (parse_int(optarg, 1, INT64_MAX, &n) != 0) {
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

/* The error text of a value that does not decode: "NAME: message". */
static void describe_error(asw_codec_err e, const char *msg, const void *value, size_t len,
                           char *out, size_t outlen) {
    const char *name = asw_codec_err_name(e);
    if (e == ASW_CODEC_E_SHORT)
        snprintf(out, outlen, "%s: %zu bytes, no room for the 5-byte framing", name, len);
    else if (e == ASW_CODEC_E_MAGIC)
        snprintf(out, outlen, "%s: byte 0 is 0x%02x, not 0", name, *(const unsigned char *)value);
    else if (msg[0])
        snprintf(out, outlen, "%s: %s", name, msg);
    else
        snprintf(out, outlen, "%s", name);
}

void asw_tools_format_message(asw_codec *c, const void *key, size_t keylen, const void *value,
                              size_t len, const rd_kafka_headers_t *headers, int32_t partition,
                              int64_t offset, asw_buf *out) {
    size_t start = out->len;
    size_t nh = headers ? rd_kafka_header_cnt(headers) : 0;
    asw_jsonl_header *h = nh ? asw_calloc(nh, sizeof *h) : NULL;
    for (size_t i = 0; i < nh; i++)
        rd_kafka_header_get_all(headers, i, &h[i].name, &h[i].value, &h[i].len);

    if (!value) {
        asw_jsonl_format_tombstone(key, keylen, out);
        asw_jsonl_add_kafka_fields(out, start, h, nh, partition, offset);
        free(h);
        return;
    }
    char msg[512] = "";
    if (asw_changelog_is_record(value, len)) {
        /* The changelog's own records (src/changelog.c). */
        if (asw_changelog_describe(key, keylen, value, len, out, msg, sizeof msg) == 0) {
            asw_jsonl_add_kafka_fields(out, start, h, nh, partition, offset);
            free(h);
            return;
        }
    }
    int32_t id = 0;
    asw_codec_err e = asw_codec_peek_id(value, len, &id);
    if (e == ASW_CODEC_OK) {
        /* By the record the id is bound to: built-in, or a registry's. */
        const char *rec = asw_codec_id_record(c, id);
        rec = rec ? rec : "";
        if (strcmp(rec, "Decision") == 0) {
            asw_decision d;
            e = asw_codec_decode_decision(c, value, len, &d, msg, sizeof msg);
            if (e == ASW_CODEC_OK)
                asw_jsonl_format_decision(&d, out);
        } else if (strcmp(rec, "RefundRecord") == 0) {
            asw_refund_record r;
            e = asw_codec_decode_record(c, value, len, &r, msg, sizeof msg);
            if (e == ASW_CODEC_OK)
                asw_jsonl_format_record(&r, out);
        } else if (strcmp(rec, "OrderState") == 0) {
            asw_order *o = NULL;
            e = asw_codec_decode_state(c, value, len, &o, msg, sizeof msg);
            if (e == ASW_CODEC_OK)
                asw_jsonl_format_state(o, out);
            asw_order_destroy(o);
        } else if (strcmp(rec, "PartitionState") == 0) {
            int64_t t = 0;
            e = asw_codec_decode_partition_state(c, value, len, &t, msg, sizeof msg);
            if (e == ASW_CODEC_OK)
                asw_jsonl_format_partition_state(t, out);
        } else {
            /* Events, and every id the codec does not know: it names the
             * error (UNKNOWN_SCHEMA_ID, WRONG_RECORD). */
            asw_event ev;
            e = asw_codec_decode_event(c, value, len, &ev, msg, sizeof msg);
            if (e == ASW_CODEC_OK)
                asw_jsonl_format_event(&ev, out);
            asw_event_clear(&ev);
        }
    }
    if (e == ASW_CODEC_OK) {
        asw_jsonl_add_kafka_fields(out, start, h, nh, partition, offset);
    } else {
        char why[640];
        describe_error(e, msg, value, len, why, sizeof why);
        asw_jsonl_format_kafka_dead_letter(why, h, nh, value, len, out);
        asw_jsonl_add_kafka_fields(out, start, NULL, 0, partition, offset);
    }
    free(h);
}

int asw_cmd_consume(int argc, char **argv) {
    consume_opts o;
    int rc = consume_parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    char err[512];
    asw_config *cfg = NULL;
    asw_log *log = NULL;
    asw_codec *codec = NULL;
    asw_registry *registry = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    bool *at_eof = NULL;
    asw_buf line = ASW_BUF_INIT;
    asw_kafka_ctx ctx = {NULL, NULL};
    int64_t consumed = 0;
    int32_t nparts = 0, neof = 0;

    rc = 2;
    if (open_tool("consume", o.config_path, o.brokers, ASW_KAFKA_TOOL_CONSUMER, &ctx, NULL, &cfg,
                  &log, &rk) != 0)
        goto done;

    rc = 1;
    if (!(codec = asw_codec_new(err, sizeof err)) ||
        use_registry(cfg, codec, NULL, &registry, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker consume: %s\n", err);
        goto done;
    }
    int r = asw_kafka_partition_count(rk, o.topic, METADATA_TIMEOUT_MS, &nparts, err, sizeof err);
    if (r != 0) {
        if (r > 0)
            snprintf(err, sizeof err, "topic %s does not exist", o.topic);
        fprintf(stderr, "aftersale-worker consume: %s\n", err);
        goto done;
    }
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int32_t p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, o.topic, p)->offset =
            o.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) {
        fprintf(stderr, "aftersale-worker consume: assigning %s: %s\n", o.topic,
                rd_kafka_err2str(e));
        goto done;
    }
    at_eof = asw_calloc((size_t)nparts, sizeof *at_eof);

    const volatile sig_atomic_t *stop = asw_cli_stop_on_signals();
    int64_t last_activity = now_ms();
    rc = 0;
    while (!*stop) {
        if (o.idle_exit_ms >= 0 && neof == nparts && now_ms() - last_activity >= o.idle_exit_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, POLL_MS);
        if (!m) {
            fflush(stdout); /* idle: let a reader see what arrived */
            continue;
        }
        int32_t p = m->partition;
        bool known = p >= 0 && p < nparts;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (known && !at_eof[p]) {
                at_eof[p] = true;
                neof++;
            }
            last_activity = now_ms();
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            char fatal[256];
            bool is_fatal = m->err == RD_KAFKA_RESP_ERR__FATAL &&
                            rd_kafka_fatal_error(rk, fatal, sizeof fatal) != 0;
            if (is_fatal) {
                fprintf(stderr, "aftersale-worker consume: fatal Kafka error: %s\n", fatal);
                rc = 1;
                rd_kafka_message_destroy(m);
                break;
            }
            asw_log_write(log, ASW_LOG_WARN, "consume_error",
                          "topic=%s partition=%" PRId32 " error=\"%s\"", o.topic, p,
                          rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (known && at_eof[p]) {
            at_eof[p] = false;
            neof--;
        }
        last_activity = now_ms();
        rd_kafka_headers_t *hdrs = NULL;
        if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hdrs = NULL;
        if (resolve_id(registry, codec, m->payload, m->len, err, sizeof err) != 0) {
            fprintf(stderr, "aftersale-worker consume: %s\n", err);
            rc = 1;
            rd_kafka_message_destroy(m);
            break;
        }
        asw_buf_reset(&line);
        asw_tools_format_message(codec, m->key, m->key_len, m->payload, m->len, hdrs, p, m->offset,
                                 &line);
        rd_kafka_message_destroy(m);
        if (fwrite(line.data, 1, line.len, stdout) != line.len) {
            fprintf(stderr, "aftersale-worker consume: writing stdout: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        consumed++;
        if (o.max && consumed >= o.max)
            break;
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "aftersale-worker consume: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    fprintf(stderr, "consumed %" PRId64 " records from %s\n", consumed, o.topic);
done:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    free(at_eof);
    asw_buf_free(&line);
    asw_codec_destroy(codec);
    asw_registry_destroy(registry);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}
