/*
 * rules.c -- `aftersale-worker rules`: write and read the ruleset control
 * topic (rules.topic, docs/rules.md).
 *
 *   rules show                      the changes on the topic and the ruleset now
 *   rules set --limit/--percent/--shops ... --effective-time T
 *   rules enable-shop SHOP --effective-time T
 *   rules disable-shop SHOP --effective-time T
 *
 * A change is validated as the worker validates it, written once (its key
 * is a hash of its canonical form: the same command twice writes one
 * record), and refused when its effective time is less than
 * rules.topic.lead.ms ahead: a worker may already be deciding events of
 * that time.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/cli.h"
#include "asw/cmd.h"
#include "asw/config.h"
#include "asw/kafka.h"
#include "asw/log.h"
#include "asw/rulebook.h"
#include "asw/rules_codec.h"
#include "asw/rules_topic.h"

#define TIMEOUT_MS 30000

enum {
    OPT_EFFECTIVE = ASW_CMD_LONG_ONLY,
    OPT_LIMIT,
    OPT_PERCENT,
    OPT_SHOPS,
    OPT_FORMAT,
    OPT_AT,
    OPT_DRY_RUN
};

static const asw_cmd_option options[] = {
    {'c', "config", "FILE", "configuration file (rules.*, librdkafka keys)"},
    {'b', "brokers", "LIST", "bootstrap.servers (overrides the file)"},
    {'t', "topic", "T", "the control topic (default: rules.topic)"},
    {OPT_EFFECTIVE, "effective-time", "TIME",
     "the event time the change applies from: epoch\n"
     "ms, YYYY-MM-DDTHH:MM:SS[.mmm]Z or now+N (N with\n"
     "ms, s, m, h or d); at least the lead ahead"},
    {OPT_LIMIT, "limit", "N", "set: the application limit (1..1000)"},
    {OPT_PERCENT, "percent", "P", "set: the rollout percentage (0..100)"},
    {OPT_SHOPS, "shops", "LIST", "set: '*' or shop ids separated by ','\n(ends every exclusion)"},
    {OPT_DRY_RUN, "dry-run", NULL, "print the record, write nothing"},
    {OPT_FORMAT, "format", "F",
     "show: text (default) or jsonl (a ruleset file\nfor replay --rules)"},
    {OPT_AT, "at", "TIME", "show: the ruleset in effect at TIME (default: now)"},
    {0}};

typedef struct rules_opts {
    const char *action, *shop, *config_path, *brokers, *topic, *effective, *format, *at;
    const char *limit, *percent, *shops;
    bool dry_run;
} rules_opts;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil), so no timegm() is needed. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Epoch ms, an ISO 8601 UTC time, or now+N[unit]. */
static int parse_time(const char *s, int64_t now, int64_t *out) {
    long long v;
    if (asw_cmd_parse_int(s, 0, INT64_MAX / 4, &v) == 0) {
        *out = v;
        return 0;
    }
    if (strncmp(s, "now+", 4) == 0) {
        char *end;
        errno = 0;
        long long n = strtoll(s + 4, &end, 10);
        if (errno || end == s + 4 || n < 0)
            return -1;
        static const struct {
            const char *unit;
            long long ms;
        } units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                     {"h", 3600000}, {"d", 86400000}, {"", 1}};
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(end, units[i].unit) == 0 && n <= INT64_MAX / 8 / units[i].ms) {
                *out = now + n * units[i].ms;
                return 0;
            }
        return -1;
    }
    int year, mon, day, hour, min, sec, ms = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &used) != 6)
        return -1;
    const char *rest = s + used;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9' && digits < 3; rest++, digits++)
            ms = ms * 10 + (*rest - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(rest, "Z") != 0 || year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 ||
        hour > 23 || min > 59 || sec > 60)
        return -1;
    int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    *out = secs * 1000 + ms;
    return 0;
}

static void format_time(int64_t ms, char *buf, size_t len) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm)) {
        snprintf(buf, len, "%" PRId64, ms);
        return;
    }
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("aftersale-worker rules: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, rules_opts *o) {
    memset(o, 0, sizeof *o);
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_rules_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'b':
            o->brokers = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case OPT_EFFECTIVE:
            o->effective = optarg;
            break;
        case OPT_LIMIT:
            o->limit = optarg;
            break;
        case OPT_PERCENT:
            o->percent = optarg;
            break;
        case OPT_SHOPS:
            o->shops = optarg;
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            break;
        case OPT_FORMAT:
            o->format = optarg;
            break;
        case OPT_AT:
            o->at = optarg;
            break;
        default:
            return asw_cmd_usage(&asw_rules_cmd, opt);
        }
    }
    if (optind >= argc)
        return usage_error("%s", "an action is needed: show, set, enable-shop or disable-shop");
    o->action = argv[optind++];
    bool shop_action =
        strcmp(o->action, "enable-shop") == 0 || strcmp(o->action, "disable-shop") == 0;
    if (!shop_action && strcmp(o->action, "set") != 0 && strcmp(o->action, "show") != 0)
        return usage_error("unknown action '%s' (show, set, enable-shop, disable-shop)", o->action);
    if (shop_action) {
        if (optind >= argc)
            return usage_error("%s needs a shop id", o->action);
        o->shop = argv[optind++];
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    bool show = strcmp(o->action, "show") == 0;
    if (show && (o->effective || o->limit || o->percent || o->shops || o->dry_run))
        return usage_error("%s", "show takes --format and --at only");
    if (!show && (o->format || o->at))
        return usage_error("%s", "--format and --at go with show");
    if (!show && !o->effective)
        return usage_error("%s needs --effective-time", o->action);
    if (shop_action && (o->limit || o->percent || o->shops))
        return usage_error("%s takes no --limit, --percent or --shops", o->action);
    if (strcmp(o->action, "set") == 0 && !o->limit && !o->percent && !o->shops)
        return usage_error("%s", "set needs --limit, --percent or --shops");
    if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "jsonl") != 0)
        return usage_error("--format is text or jsonl, not '%s'", o->format);
    return -1;
}

/* The change the options describe, validated as the worker validates a
 * record. Returns 0, or the exit code. */
static int build_change(const rules_opts *o, int64_t now, int64_t lead, asw_rule_change *c) {
    memset(c, 0, sizeof *c);
    if (parse_time(o->effective, now, &c->effective_time) != 0)
        return usage_error("--effective-time: '%s' is not epoch ms, "
                           "YYYY-MM-DDTHH:MM:SS[.mmm]Z or now+N[ms|s|m|h|d]",
                           o->effective);
    long long v;
    if (strcmp(o->action, "set") == 0) {
        c->op = ASW_RULE_SET;
        if (o->limit) {
            if (asw_cmd_parse_int(o->limit, 1, 1000, &v) != 0)
                return usage_error("--limit must be 1..1000, not '%s'", o->limit);
            c->has_limit = true;
            c->limit = (int32_t)v;
        }
        if (o->percent) {
            if (asw_cmd_parse_int(o->percent, 0, 100, &v) != 0)
                return usage_error("--percent must be 0..100, not '%s'", o->percent);
            c->has_percent = true;
            c->percent = (int32_t)v;
        }
        c->shops = asw_strdup(o->shops);
    } else {
        c->op =
            strcmp(o->action, "enable-shop") == 0 ? ASW_RULE_ENABLE_SHOP : ASW_RULE_DISABLE_SHOP;
        c->shop_id = asw_strdup(o->shop);
    }
    if (!asw_rule_change_valid(c))
        return usage_error("%s", c->op == ASW_RULE_SET
                                     ? "--shops must be '*' or shop ids separated by ','"
                                     : "a shop id is 1..128 bytes, without ',' or blanks at "
                                       "either end, and not '*'");
    if (c->effective_time < now + lead) {
        char at[40], min[40];
        format_time(c->effective_time, at, sizeof at);
        format_time(now + lead, min, sizeof min);
        fprintf(stderr,
                "aftersale-worker rules: effective time %s is less than rules.topic.lead.ms "
                "(%" PRId64 " ms) ahead: workers may already be deciding events of that time, "
                "and a replay would decide them otherwise. Use %s or later (now+%" PRId64 "ms)\n",
                at, lead, min, lead);
        return 2;
    }
    return 0;
}

static void print_ruleset(const asw_ruleset *rs, FILE *out) {
    asw_buf shops = ASW_BUF_INIT, denied = ASW_BUF_INIT;
    asw_ruleset_shops_text(rs, &shops);
    asw_ruleset_denied_text(rs, &denied);
    asw_buf_append(&shops, "", 1);
    asw_buf_append(&denied, "", 1);
    fprintf(out, "%s limit=%d percent=%d shops=%s", asw_ruleset_version(rs),
            (int)asw_ruleset_limit(rs), (int)asw_ruleset_percent(rs), (const char *)shops.data);
    if (denied.len > 1)
        fprintf(out, " excluded=%s", (const char *)denied.data);
    asw_buf_free(&shops);
    asw_buf_free(&denied);
}

/* A string as JSON. */
static void json_string_out(const char *v, FILE *out) {
    json_t *j = json_string(v);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(d ? d : "\"\"", out);
    free(d);
    json_decref(j);
}

static void json_ruleset_fields(const asw_ruleset *rs, FILE *out) {
    asw_buf shops = ASW_BUF_INIT, denied = ASW_BUF_INIT;
    asw_ruleset_shops_text(rs, &shops);
    asw_ruleset_denied_text(rs, &denied);
    asw_buf_append(&shops, "", 1);
    asw_buf_append(&denied, "", 1);
    fprintf(out,
            "\"version\":\"%s\",\"limit\":%d,\"percent\":%d,\"shops\":", asw_ruleset_version(rs),
            (int)asw_ruleset_limit(rs), (int)asw_ruleset_percent(rs));
    json_string_out((const char *)shops.data, out);
    fputs(",\"excluded\":", out);
    json_string_out((const char *)denied.data, out);
    asw_buf_free(&shops);
    asw_buf_free(&denied);
}

static void show(const asw_rulebook *book, const char *topic, const rules_opts *o, int64_t at,
                 FILE *out) {
    size_t n = asw_rulebook_count(book);
    bool jsonl = o->format && strcmp(o->format, "jsonl") == 0;
    if (jsonl) {
        for (size_t i = 0; i < n; i++) {
            asw_rulebook_entry e;
            asw_rulebook_get(book, i, &e);
            asw_buf b = ASW_BUF_INIT;
            asw_rule_change_format(e.change, &b);
            asw_buf_append(&b, "", 1);
            fprintf(out,
                    "{\"key\":\"%s\",\"offset\":%" PRId64 ",\"applies_from\":%" PRId64
                    ",\"change\":%s,",
                    e.key, e.seq, e.from, (const char *)b.data);
            json_ruleset_fields(e.after, out);
            fputs("}\n", out);
            asw_buf_free(&b);
        }
        return;
    }
    fprintf(out, "rules topic %s: %zu change%s\nbase (the properties file): ", topic, n,
            n == 1 ? "" : "s");
    print_ruleset(asw_rulebook_base(book), out);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        asw_rulebook_entry e;
        asw_rulebook_get(book, i, &e);
        char from[40];
        format_time(e.from, from, sizeof from);
        asw_buf b = ASW_BUF_INIT;
        asw_rule_change_format(e.change, &b);
        asw_buf_append(&b, "", 1);
        fprintf(out, "from %s (%" PRId64 ") offset %" PRId64 " %s\n  %s\n  then: ", from, e.from,
                e.seq, e.key, (const char *)b.data);
        print_ruleset(e.after, out);
        fputc('\n', out);
        asw_buf_free(&b);
    }
    char when[40];
    format_time(at, when, sizeof when);
    fprintf(out, "in effect at %s: ", when);
    print_ruleset(asw_rulebook_at(book, at), out);
    fputc('\n', out);
}

/* Delivery of the one record. */
typedef struct delivered {
    rd_kafka_resp_err_t err;
    int64_t offset;
    bool done;
} delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    delivered *d = ((asw_kafka_ctx *)opaque)->owner;
    d->err = m->err;
    d->offset = m->offset;
    d->done = true;
}

static void producer_setup(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
}

static int write_change(const asw_config *cfg, asw_log *log, const char *topic,
                        const asw_rule_change *c, const char *key, const char *value) {
    char err[512];
    delivered d = {0};
    asw_kafka_ctx ctx = {log, &d};
    rd_kafka_t *rk =
        asw_kafka_new(cfg, ASW_KAFKA_TOOL_PRODUCER, &ctx, NULL, producer_setup, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "aftersale-worker rules: %s\n", err);
        return 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    if (!e)
        rd_kafka_flush(rk, TIMEOUT_MS);
    rd_kafka_destroy(rk);
    if (e || !d.done || d.err) {
        fprintf(stderr, "aftersale-worker rules: writing to %s: %s\n", topic,
                rd_kafka_err2str(e        ? e
                                 : d.done ? d.err
                                          : RD_KAFKA_RESP_ERR__TIMED_OUT));
        return 1;
    }
    char at[40];
    format_time(c->effective_time, at, sizeof at);
    printf("wrote %s to %s [0] at offset %" PRId64 ": %s (effective %s)\n", key, topic, d.offset,
           value, at);
    return 0;
}

static int rules_main(int argc, char **argv) {
    rules_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char err[512];
    asw_config *cfg = asw_cli_config(o.config_path, o.brokers, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "aftersale-worker rules: %s\n", err);
        return 2;
    }
    const char *topic = o.topic ? o.topic : asw_config_settings(cfg)->rules.topic;
    if (!topic[0]) {
        asw_config_destroy(cfg);
        return usage_error("%s", "no control topic: set rules.topic or pass --topic");
    }
    if (o.topic && asw_config_set(cfg, "rules.topic", o.topic, err, sizeof err) != 0) {
        asw_config_destroy(cfg);
        return usage_error("--topic: %s", err);
    }
    int64_t now = now_ms();
    int64_t lead = asw_config_settings(cfg)->rules.lead_ms;
    asw_rule_change c;
    memset(&c, 0, sizeof c);
    asw_log *log = asw_cli_log(cfg);
    asw_rulebook *book = asw_rulebook_new(asw_config_settings(cfg)->ruleset);
    asw_rules_topic *t = NULL;
    rd_kafka_t *admin = NULL;
    asw_buf value = ASW_BUF_INIT;
    rc = 1;
    bool is_show = strcmp(o.action, "show") == 0;
    int64_t at = now;
    if (is_show && o.at && parse_time(o.at, now, &at) != 0) {
        rc = usage_error("--at: '%s' is not a time", o.at);
        goto done;
    }
    if (!is_show) {
        int brc = build_change(&o, now, lead, &c);
        if (brc != 0) {
            rc = brc;
            goto done;
        }
        asw_rule_change_format(&c, &value);
        asw_buf_append(&value, "", 1);
    }
    char key[ASW_RULE_KEY_LEN] = "";
    if (!is_show)
        asw_rule_change_key(&c, key);
    if (o.dry_run) {
        printf("%s %s\n", key, (const char *)value.data);
        rc = 0;
        goto done;
    }
    asw_kafka_ctx ctx = {log, NULL};
    admin = asw_kafka_new(cfg, ASW_KAFKA_TOOL_PRODUCER, &ctx, NULL, NULL, err, sizeof err);
    t = admin ? asw_rules_topic_new(cfg, &ctx, book, log, err, sizeof err) : NULL;
    if (!t || asw_rules_topic_start(t, admin, TIMEOUT_MS, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker rules: %s\n", err);
        goto done;
    }
    if (is_show) {
        show(book, topic, &o, at, stdout);
        rc = 0;
        goto done;
    }
    for (size_t i = 0; i < asw_rulebook_count(book); i++) {
        asw_rulebook_entry e;
        asw_rulebook_get(book, i, &e);
        if (strcmp(e.key, key) == 0) {
            printf("%s is on %s already (offset %" PRId64 "): nothing written\n", key, topic,
                   e.seq);
            rc = 0;
            goto done;
        }
    }
    rc = write_change(cfg, log, topic, &c, key, (const char *)value.data);
done:
    asw_rules_topic_destroy(t);
    if (admin)
        rd_kafka_destroy(admin);
    asw_buf_free(&value);
    asw_rule_change_clear(&c);
    asw_rulebook_destroy(book);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}

const asw_cmd asw_rules_cmd = {
    .name = "rules",
    .summary = "write and read the ruleset control topic (rollout shop by shop)",
    .synopsis = "show [-c CONFIG | -b BROKERS] [-t T]\n"
                "    [--format text|jsonl] [--at TIME]\n"
                "set [-c CONFIG | -b BROKERS] [-t T]\n"
                "    [--limit N] [--percent P] [--shops LIST]\n"
                "    --effective-time TIME [--dry-run]\n"
                "enable-shop|disable-shop SHOP\n"
                "    [-c CONFIG | -b BROKERS] [-t T]\n"
                "    --effective-time TIME [--dry-run]",
    .description =
        "The ruleset control topic (rules.topic) holds changes of the ruleset, each\n"
        "applying to events whose event_time is at or after its effective time; every\n"
        "worker reads it whole at start-up and follows it while running, so a rollout\n"
        "needs no restart (docs/rules.md).\n"
        "\n"
        "set, enable-shop and disable-shop validate the change as a worker would, and\n"
        "write it once: its key is a hash of the change, and a change already on the\n"
        "topic is not written again. The effective time must be at least\n"
        "rules.topic.lead.ms ahead of now. The topic is created when missing (one\n"
        "partition, compacted, LogAppendTime). show prints every change in the order\n"
        "they apply, with the ruleset version after each, and the ruleset in effect now\n"
        "(or --at TIME); --format jsonl prints a ruleset file for replay --rules.",
    .options = options,
    .exit_status = "0 written, already there, or shown; 1 Kafka error; 2 usage,\n"
                   "configuration or a refused change",
    .run = rules_main,
};
