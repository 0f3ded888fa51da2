/*
 * rules_topic.c -- the ruleset control topic reader (rules_topic.h).
 */
#include "asw/rules_topic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/rules_codec.h"

#define TOPIC_MAX 256

struct asw_rules_topic {
    asw_log *log;
    asw_rulebook *book;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    char topic[TOPIC_MAX];
    int64_t lead_ms, wait_max_ms;
    int64_t next_offset; /* after the last record read */
    int64_t eof_offset;  /* the end the last partition EOF reported, -1 none */
    int64_t caught_up_at;
    int64_t decided_max; /* the largest event time decided, INT64_MIN none */
    bool started;        /* read whole once: later changes are news, logged at info */
    asw_rules_topic_stats stats;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t asw_rules_applies_from(const asw_rule_change *c, int64_t timestamp, int64_t lead_ms) {
    if (timestamp < 0 || timestamp > INT64_MAX / 4)
        return c->effective_time;
    int64_t earliest = timestamp + lead_ms;
    return c->effective_time > earliest ? c->effective_time : earliest;
}

asw_rules_topic *asw_rules_topic_new(const asw_config *cfg, asw_kafka_ctx *ctx, asw_rulebook *book,
                                     asw_log *log, char *err, size_t errlen) {
    asw_rules_topic *t = asw_calloc(1, sizeof *t);
    t->log = log;
    t->book = book;
    const asw_settings *s = asw_config_settings(cfg);
    snprintf(t->topic, sizeof t->topic, "%s", s->rules.topic);
    t->lead_ms = s->rules.lead_ms;
    t->wait_max_ms = s->rules.wait_max_ms;
    t->eof_offset = -1;
    t->decided_max = INT64_MIN;
    t->stats.through = INT64_MIN;
    t->rk = asw_kafka_new(cfg, ASW_KAFKA_RULES_CONSUMER, ctx, NULL, NULL, err, errlen);
    if (!t->rk) {
        free(t);
        return NULL;
    }
    return t;
}

void asw_rules_topic_destroy(asw_rules_topic *t) {
    if (!t)
        return;
    if (t->q)
        rd_kafka_queue_destroy(t->q);
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
    free(t);
}

/* One record of the topic. */
static void take(asw_rules_topic *t, const rd_kafka_message_t *m) {
    t->next_offset = m->offset + 1;
    char err[256] = "";
    asw_rule_change c;
    memset(&c, 0, sizeof c);
    char key[ASW_RULE_KEY_LEN];
    bool ok = m->payload && m->len > 0 &&
              asw_rule_change_parse(m->payload, m->len, &c, err, sizeof err) == 0;
    if (!m->payload || m->len == 0)
        snprintf(err, sizeof err, "a record without a value (a change is never deleted)");
    if (ok) {
        asw_rule_change_key(&c, key);
        if (m->key_len != strlen(key) || memcmp(m->key, key, m->key_len) != 0) {
            snprintf(err, sizeof err, "the record key is not the change's key %s", key);
            ok = false;
        }
    }
    if (!ok) {
        t->stats.invalid++;
        asw_log_write(t->log, ASW_LOG_WARN, "rules_change_invalid",
                      "topic=%s offset=%" PRId64 " error=\"%s\"", t->topic, m->offset, err);
        asw_rule_change_clear(&c);
        return;
    }
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    int64_t from =
        asw_rules_applies_from(&c, tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts, t->lead_ms);
    int added = asw_rulebook_add(t->book, key, &c, from, m->offset);
    if (added == 1) {
        t->stats.changes++;
        bool late = t->decided_max != INT64_MIN && from <= t->decided_max;
        if (late)
            t->stats.late++;
        const asw_ruleset *rs = asw_rulebook_at(t->book, from);
        asw_log_write(t->log,
                      late         ? ASW_LOG_WARN
                      : t->started ? ASW_LOG_INFO
                                   : ASW_LOG_DEBUG,
                      late ? "rules_change_late" : "rules_change",
                      "key=%s op=%s effective_time=%" PRId64 " applies_from=%" PRId64
                      " offset=%" PRId64 " version=%s",
                      key, asw_rule_op_name(c.op), c.effective_time, from, m->offset,
                      asw_ruleset_version(rs));
    } else if (added == 0) {
        t->stats.duplicates++;
    } else {
        t->stats.invalid++;
    }
    asw_rule_change_clear(&c);
}

/* Read what is there, waiting at most timeout_ms for the first record. */
static int drain(asw_rules_topic *t, int timeout_ms) {
    int n = 0;
    for (rd_kafka_message_t *m = rd_kafka_consume_queue(t->q, timeout_ms); m;
         m = rd_kafka_consume_queue(t->q, 0)) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            t->eof_offset = m->offset;
        else if (m->err)
            asw_log_write(t->log, ASW_LOG_WARN, "rules_topic_error", "topic=%s error=%s", t->topic,
                          rd_kafka_message_errstr(m));
        else
            take(t, m);
        rd_kafka_message_destroy(m);
        n++;
    }
    return n;
}

void asw_rules_topic_poll(asw_rules_topic *t) {
    if (t->q)
        drain(t, 0);
}

int asw_rules_topic_catch_up(asw_rules_topic *t, int timeout_ms, char *err, size_t errlen) {
    int64_t at = now_ms(), deadline = at + timeout_ms;
    int64_t lo, hi;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(t->rk, t->topic, 0, &lo, &hi, timeout_ms);
    if (e) {
        snprintf(err, errlen, "rules topic %s: end offset: %s", t->topic, rd_kafka_err2str(e));
        return -1;
    }
    /* Read to hi: every record below it taken, or an EOF at or past it
     * (compaction may have removed the last offsets below it). */
    while (t->next_offset < hi && t->eof_offset < hi) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "rules topic %s: not read to offset %" PRId64 " within %d ms",
                     t->topic, hi, timeout_ms);
            return -1;
        }
        drain(t, (int)(left < 100 ? left : 100));
    }
    drain(t, 0);
    t->caught_up_at = at;
    t->stats.through = at + t->lead_ms / 2;
    t->stats.catch_ups++;
    return 0;
}

int asw_rules_topic_start(asw_rules_topic *t, rd_kafka_t *admin, int timeout_ms, char *err,
                          size_t errlen) {
    int32_t n = 0;
    int rc = asw_kafka_partition_count(admin, t->topic, timeout_ms, &n, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        static const char *const conf[] = {"cleanup.policy", "compact", "message.timestamp.type",
                                           "LogAppendTime", NULL};
        if (asw_kafka_create_topic_conf(admin, t->topic, 1, -1, conf, timeout_ms, err, errlen))
            return -1;
        asw_log_write(t->log, ASW_LOG_INFO, "topic_created",
                      "topic=%s partitions=1 compact=true timestamps=LogAppendTime", t->topic);
    } else if (n != 1) {
        snprintf(err, errlen,
                 "rules topic %s has %" PRId32 " partitions: it must have one (changes apply in "
                 "one order)",
                 t->topic, n);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(t->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errlen, "rules topic %s: assign: %s", t->topic, rd_kafka_err2str(e));
        return -1;
    }
    t->q = rd_kafka_queue_get_consumer(t->rk);
    /* A topic just created may have no leader for a moment: its end offset
     * is then an error, tried again until the timeout. */
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (asw_rules_topic_catch_up(t, left > 1000 ? (int)left : 1000, err, errlen) == 0)
            break;
        if (left <= 0)
            return -1;
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
    t->started = true;
    asw_log_write(t->log, ASW_LOG_INFO, "rules_topic_read",
                  "topic=%s changes=%zu invalid=%" PRId64 " offset=%" PRId64 " lead_ms=%" PRId64
                  " version_now=%s",
                  t->topic, asw_rulebook_count(t->book), t->stats.invalid, t->next_offset,
                  t->lead_ms, asw_ruleset_version(asw_rulebook_at(t->book, t->caught_up_at)));
    return 0;
}

int64_t asw_rules_topic_through(const asw_rules_topic *t) {
    return t->stats.through;
}
int64_t asw_rules_topic_caught_up_at(const asw_rules_topic *t) {
    return t->caught_up_at;
}
int64_t asw_rules_topic_lead_ms(const asw_rules_topic *t) {
    return t->lead_ms;
}
int64_t asw_rules_topic_wait_max_ms(const asw_rules_topic *t) {
    return t->wait_max_ms;
}

void asw_rules_topic_decided(asw_rules_topic *t, int64_t event_time) {
    if (event_time > t->decided_max)
        t->decided_max = event_time;
}

void asw_rules_topic_count_wait(asw_rules_topic *t, int64_t ms, bool expired) {
    t->stats.waits++;
    t->stats.wait_ms += ms;
    if (expired)
        t->stats.wait_expired++;
}

void asw_rules_topic_get_stats(const asw_rules_topic *t, asw_rules_topic_stats *out) {
    *out = t->stats;
    out->offset = t->next_offset;
}
