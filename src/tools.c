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
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/changelog.h"
#include "asw/cli.h"
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
    int32_t rf = asw_config_settings(cfg)->topic.replication_factor;
    if (asw_kafka_create_topic(rk, topic, partitions, rf, false, CREATE_TIMEOUT_MS, err, errlen) !=
        0)
        return -1;
    asw_log_write(log, ASW_LOG_INFO, "topic_created",
                  "topic=%s partitions=%" PRId32 " replication_factor=%" PRId32, topic, partitions,
                  rf);
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

int asw_tools_produce(const asw_produce_opts *o) {
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
    const char *name = strcmp(o->in_path, "-") == 0 ? "<stdin>" : o->in_path;

    int rc = 2;
    if (open_tool("produce", o->config_path, o->brokers, ASW_KAFKA_TOOL_PRODUCER, &ctx,
                  producer_setup, &cfg, &log, &rk) != 0)
        goto done;

    rc = 1;
    if (!o->raw && !(codec = asw_codec_new(err, sizeof err))) {
        fprintf(stderr, "aftersale-worker produce: %s\n", err);
        goto done;
    }
    if (!o->raw && use_registry(cfg, codec, o->topic, &registry, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker produce: %s\n", err);
        goto done;
    }
    in = strcmp(o->in_path, "-") == 0 ? stdin : fopen(o->in_path, "r");
    if (!in) {
        fprintf(stderr, "aftersale-worker produce: %s: %s\n", o->in_path, strerror(errno));
        goto done;
    }
    if (ensure_topic(rk, cfg, log, o->topic, o->partitions, err, sizeof err) != 0) {
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
        if (o->raw) {
            key = o->key;
            keylen = o->key ? strlen(o->key) : 0;
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
        rd_kafka_resp_err_t e = produce_one(rk, o->topic, key, keylen, val, vallen, stop);
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
    fprintf(stderr, "produced %" PRId64 " records to %s\n", dr.delivered, o->topic);
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

int asw_tools_consume(const asw_consume_opts *o) {
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

    int rc = 2;
    if (open_tool("consume", o->config_path, o->brokers, ASW_KAFKA_TOOL_CONSUMER, &ctx, NULL, &cfg,
                  &log, &rk) != 0)
        goto done;

    rc = 1;
    if (!(codec = asw_codec_new(err, sizeof err)) ||
        use_registry(cfg, codec, NULL, &registry, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker consume: %s\n", err);
        goto done;
    }
    int r = asw_kafka_partition_count(rk, o->topic, METADATA_TIMEOUT_MS, &nparts, err, sizeof err);
    if (r != 0) {
        if (r > 0)
            snprintf(err, sizeof err, "topic %s does not exist", o->topic);
        fprintf(stderr, "aftersale-worker consume: %s\n", err);
        goto done;
    }
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int32_t p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, o->topic, p)->offset =
            o->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) {
        fprintf(stderr, "aftersale-worker consume: assigning %s: %s\n", o->topic,
                rd_kafka_err2str(e));
        goto done;
    }
    at_eof = asw_calloc((size_t)nparts, sizeof *at_eof);

    const volatile sig_atomic_t *stop = asw_cli_stop_on_signals();
    int64_t last_activity = now_ms();
    rc = 0;
    while (!*stop) {
        if (o->idle_exit_ms >= 0 && neof == nparts && now_ms() - last_activity >= o->idle_exit_ms)
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
                          "topic=%s partition=%" PRId32 " error=\"%s\"", o->topic, p,
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
        if (o->max && consumed >= o->max)
            break;
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "aftersale-worker consume: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    fprintf(stderr, "consumed %" PRId64 " records from %s\n", consumed, o->topic);
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
