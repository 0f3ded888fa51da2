/*
 * kafka.c -- librdkafka handles from the configuration, log routing, and
 * topic metadata / creation; see kafka.h.
 */
#include "asw/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* librdkafka's syslog levels into ours. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    asw_kafka_ctx *ctx = rd_kafka_opaque(rk);
    if (!ctx)
        return;
    /* Every passthrough property goes to every client, so a consumer-only
     * property makes the producer warn that it ignores it: expected, not
     * worth a warning. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by this"))
        level = 7;
    asw_log_level l = level <= 3   ? ASW_LOG_ERROR
                      : level == 4 ? ASW_LOG_WARN
                      : level <= 6 ? ASW_LOG_INFO
                                   : ASW_LOG_DEBUG;
    asw_log_write(ctx->log, l, "librdkafka", "client=%s facility=%s msg=\"%s\"", rd_kafka_name(rk),
                  fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
               size_t errlen) {
    char rderr[256];
    if (rd_kafka_conf_set(conf, key, value, rderr, sizeof rderr) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s: %s", key, rderr);
        return -1;
    }
    return 0;
}

/* Set a default the user may override in the config file: a librdkafka
 * property the config holds passed through already. */
static int set_default(rd_kafka_conf_t *conf, const asw_config *cfg, const char *key,
                       const char *value, char *err, size_t errlen) {
    if (asw_config_get(cfg, key))
        return 0;
    return set(conf, key, value, err, errlen);
}

/* set_default() of a number of milliseconds. */
static int set_default_ms(rd_kafka_conf_t *conf, const asw_config *cfg, const char *key,
                          int64_t value, char *err, size_t errlen) {
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, value);
    return set_default(conf, cfg, key, v, err, errlen);
}

/* With an HTTP view, librdkafka's statistics feed /metrics every 15 s
 * unless statistics.interval.ms says otherwise (0 turns them off). */
static int stats_default(rd_kafka_conf_t *conf, const asw_config *cfg, char *err, size_t errlen) {
    if (!asw_config_settings(cfg)->http.listen[0])
        return 0;
    return set_default(conf, cfg, "statistics.interval.ms", "15000", err, errlen);
}

static int apply_role(rd_kafka_conf_t *conf, const asw_config *cfg, asw_kafka_role role,
                      const char *txn_id, char *err, size_t errlen) {
    const asw_settings *s = asw_config_settings(cfg);
    const char *app = s->application_id;
    char group[256], instance[512];
    switch (role) {
    case ASW_KAFKA_WORKER_CONSUMER:
        /* Static membership (KIP-345) when the worker has a stable identity:
         * a worker restarted with its worker.id rejoins as the same member
         * and gets its partitions back without a rebalance of the group, and
         * its producer (same transactional id) fences its predecessor. A
         * worker without one is a dynamic member: a static id that changed
         * with every start would leave a ghost holding partitions until its
         * session expired. */
        asw_kafka_transactional_id(cfg, instance, sizeof instance);
        return set(conf, "group.id", app, err, errlen) ||
                       (s->worker_id[0] && set(conf, "group.instance.id", instance, err, errlen)) ||
                       /* A member that dies is noticed after this long; its
                        * partitions wait that long for a new owner. */
                       set_default_ms(conf, cfg, "session.timeout.ms", s->kafka.session_timeout_ms,
                                      err, errlen) ||
                       set(conf, "enable.auto.commit", "false", err, errlen) ||
                       set(conf, "enable.auto.offset.store", "false", err, errlen) ||
                       set(conf, "isolation.level", "read_committed", err, errlen) ||
                       set(conf, "partition.assignment.strategy", "cooperative-sticky", err,
                           errlen) ||
                       set(conf, "enable.partition.eof", "false", err, errlen) ||
                       set_default(conf, cfg, "auto.offset.reset", "earliest", err, errlen) ||
                       stats_default(conf, cfg, err, errlen)
                   ? -1
                   : 0;
    case ASW_KAFKA_WORKER_PRODUCER:
        return set(conf, "transactional.id", txn_id, err, errlen) ||
                       set(conf, "enable.idempotence", "true", err, errlen) ||
                       /* A worker killed mid-transaction blocks read_committed readers
                        * of its partitions until this expires, unless a successor with
                        * the same worker.id fences it first. */
                       set_default_ms(conf, cfg, "transaction.timeout.ms",
                                      s->kafka.transaction_timeout_ms, err, errlen) ||
                       set_default(conf, cfg, "partitioner", "murmur2_random", err, errlen) ||
                       /* Right after a commit the coordinator answers the next
                        * transaction's AddOffsetsToTxn with CONCURRENT_TRANSACTIONS
                        * until the markers are written, a few milliseconds; at
                        * librdkafka's 100 ms retry backoff every such commit waits
                        * 100 ms more (Java's producer retries these after 20 ms). */
                       set_default(conf, cfg, "retry.backoff.ms", "20", err, errlen) ||
                       stats_default(conf, cfg, err, errlen)
                   ? -1
                   : 0;
    case ASW_KAFKA_RESTORE_CONSUMER:
        snprintf(group, sizeof group, "%s-restore", app);
        return set(conf, "group.id", group, err, errlen) ||
                       set(conf, "enable.auto.commit", "false", err, errlen) ||
                       set(conf, "isolation.level", "read_committed", err, errlen) ||
                       set(conf, "enable.partition.eof", "true", err, errlen) ||
                       set(conf, "auto.offset.reset", "earliest", err, errlen) ||
                       /* A restore waits for the end of a partition: the
                        * broker should answer at once, in large fetches, and
                        * the fetcher must not pause on a full local queue
                        * (librdkafka 2.0 resumes it up to a second later). */
                       set(conf, "fetch.wait.max.ms", "10", err, errlen) ||
                       set(conf, "max.partition.fetch.bytes", "8388608", err, errlen) ||
                       set(conf, "queued.min.messages", "10000000", err, errlen) ||
                       set(conf, "queued.max.messages.kbytes", "262144", err, errlen)
                   ? -1
                   : 0;
    case ASW_KAFKA_RULES_CONSUMER:
        /* Unlike the restorer, it follows a topic that rarely changes: the
         * broker holds each fetch until a change comes (fetch.wait.max.ms,
         * librdkafka's 500 ms), rather than answering 100 times a second. */
        snprintf(group, sizeof group, "%s-rules", app);
        return set(conf, "group.id", group, err, errlen) ||
                       set(conf, "enable.auto.commit", "false", err, errlen) ||
                       set(conf, "isolation.level", "read_committed", err, errlen) ||
                       set(conf, "enable.partition.eof", "true", err, errlen) ||
                       set(conf, "auto.offset.reset", "earliest", err, errlen)
                   ? -1
                   : 0;
    case ASW_KAFKA_TOOL_PRODUCER:
        return set(conf, "enable.idempotence", "true", err, errlen) ||
                       set_default(conf, cfg, "partitioner", "murmur2_random", err, errlen)
                   ? -1
                   : 0;
    case ASW_KAFKA_TOOL_CONSUMER:
        snprintf(group, sizeof group, "%s-tool", app);
        return set(conf, "group.id", group, err, errlen) ||
                       set(conf, "enable.auto.commit", "false", err, errlen) ||
                       set(conf, "isolation.level", "read_committed", err, errlen) ||
                       set(conf, "enable.partition.eof", "true", err, errlen)
                   ? -1
                   : 0;
    }
    snprintf(err, errlen, "unknown client role %d", (int)role);
    return -1;
}

static rd_kafka_type_t role_type(asw_kafka_role role) {
    return role == ASW_KAFKA_WORKER_PRODUCER || role == ASW_KAFKA_TOOL_PRODUCER ? RD_KAFKA_PRODUCER
                                                                                : RD_KAFKA_CONSUMER;
}

/* The conf of a role: the passthrough properties (all of them, or all but
 * the broker list), then the role's own settings. NULL with a message in err. */
static rd_kafka_conf_t *role_conf(const asw_config *cfg, asw_kafka_role role, const char *txn_id,
                                  bool with_brokers, char *err, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < asw_config_kafka_count(cfg); i++) {
        const char *k, *v;
        asw_config_kafka_at(cfg, i, &k, &v);
        if (!with_brokers &&
            (strcmp(k, "bootstrap.servers") == 0 || strcmp(k, "metadata.broker.list") == 0))
            continue;
        if (set(conf, k, v, err, errlen) != 0)
            goto fail;
    }
    if (apply_role(conf, cfg, role, txn_id, err, errlen) != 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *asw_kafka_new(const asw_config *cfg, asw_kafka_role role, asw_kafka_ctx *ctx,
                          const char *transactional_id, void (*setup)(rd_kafka_conf_t *conf),
                          char *err, size_t errlen) {
    rd_kafka_conf_t *conf = role_conf(cfg, role, transactional_id, true, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_opaque(conf, ctx);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (setup)
        setup(conf);
    char rderr[512];
    rd_kafka_t *rk = rd_kafka_new(role_type(role), conf, rderr, sizeof rderr);
    if (!rk) {
        snprintf(err, errlen, "cannot create Kafka client: %s", rderr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return rk; /* the conf now belongs to rk */
}

/* ---- settings that must agree with each other ---- */

/* The first `key` in backquotes in a librdkafka message that the config
 * set, so that the refusal names its line. */
static const char *blamed_key(const asw_config *cfg, const char *msg, char *key, size_t keylen) {
    for (const char *p = strchr(msg, '`'); p; p = strchr(p, '`')) {
        const char *end = strchr(p + 1, '`');
        if (!end)
            break;
        snprintf(key, keylen, "%.*s", (int)(end - p - 1), p + 1);
        if (asw_config_origin(cfg, key))
            return key;
        p = end + 1;
    }
    return NULL;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* librdkafka's own rules across properties (message.timeout.ms against
 * transaction.timeout.ms, linger.ms, socket.timeout.ms, ...), applied by
 * rd_kafka_new() to each of the worker's clients as `run` builds them.
 * Without the broker list no client connects anywhere. */
static int check_client_rules(const asw_config *cfg, char *err, size_t errlen) {
    static const asw_kafka_role roles[] = {ASW_KAFKA_WORKER_PRODUCER, ASW_KAFKA_WORKER_CONSUMER,
                                           ASW_KAFKA_RESTORE_CONSUMER, ASW_KAFKA_RULES_CONSUMER};
    char txn_id[512];
    asw_kafka_transactional_id(cfg, txn_id, sizeof txn_id);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        rd_kafka_conf_t *conf = role_conf(cfg, roles[i], txn_id, false, err, errlen);
        if (!conf)
            return -1;
        rd_kafka_conf_set_log_cb(conf, quiet_log);
        char rderr[512], key[128];
        rd_kafka_t *rk = rd_kafka_new(role_type(roles[i]), conf, rderr, sizeof rderr);
        if (rk) {
            rd_kafka_destroy(rk);
            continue;
        }
        rd_kafka_conf_destroy(conf);
        const char *k = blamed_key(cfg, rderr, key, sizeof key);
        const char *o = k ? asw_config_origin(cfg, k) : NULL;
        snprintf(err, errlen, "%s%s%s", o ? o : "", o ? ": " : "", rderr);
        return -1;
    }
    return 0;
}

int asw_kafka_check_config(const asw_config *cfg, char *err, size_t errlen) {
    return asw_config_check(cfg, err, errlen) || check_client_rules(cfg, err, errlen) ? -1 : 0;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A topic in fresh metadata: 1 when missing, 0 with its partition count and
 * whether every partition has a leader, -1 on error (message in err). */
static int topic_lookup(rd_kafka_t *rk, const char *topic, int timeout_ms, int32_t *count,
                        bool *led, char *err, size_t errlen) {
    /* All topics, not just this one: a metadata request naming a missing
     * topic makes a broker with auto.create.topics.enable create it, with
     * the default partition count, behind our back. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e) {
        snprintf(err, errlen, "metadata for topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    int rc = 1;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            rc = 1;
        } else if (t->err) {
            snprintf(err, errlen, "metadata for topic %s: %s", topic, rd_kafka_err2str(t->err));
            rc = -1;
        } else {
            *count = t->partition_cnt;
            *led = t->partition_cnt > 0;
            for (int j = 0; j < t->partition_cnt; j++)
                if (t->partitions[j].err || t->partitions[j].leader < 0)
                    *led = false;
            rc = 0;
        }
        break;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

int asw_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int32_t *count,
                              char *err, size_t errlen) {
    bool led;
    return topic_lookup(rk, topic, timeout_ms, count, &led, err, errlen);
}

int asw_kafka_create_topic(rd_kafka_t *rk, const char *topic, int32_t partitions,
                           int32_t replication_factor, bool compact, int timeout_ms, char *err,
                           size_t errlen) {
    static const char *const compacted[] = {"cleanup.policy", "compact", NULL};
    return asw_kafka_create_topic_conf(rk, topic, partitions, replication_factor,
                                       compact ? compacted : NULL, timeout_ms, err, errlen);
}

int asw_kafka_create_topic_conf(rd_kafka_t *rk, const char *topic, int32_t partitions,
                                int32_t replication_factor, const char *const *conf, int timeout_ms,
                                char *err, size_t errlen) {
    int rc = -1;
    char rderr[256];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, replication_factor, rderr, sizeof rderr);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    if (!nt) {
        snprintf(err, errlen, "topic %s: %s", topic, rderr);
        goto done;
    }
    for (size_t i = 0; conf && conf[i]; i += 2)
        if (rd_kafka_NewTopic_set_config(nt, conf[i], conf[i + 1])) {
            snprintf(err, errlen, "topic %s: cannot set %s", topic, conf[i]);
            goto done;
        }
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, rderr, sizeof rderr);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(err, errlen, "creating topic %s: timed out", topic);
        goto done;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "creating topic %s: %s", topic, rd_kafka_event_error_string(ev));
        goto done;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    if (n == 1 && rd_kafka_topic_result_error(tr[0]) &&
        rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(err, errlen, "creating topic %s: %s", topic,
                 rd_kafka_topic_result_error_string(tr[0]));
        goto done;
    }
    /* The controller answers before every broker's metadata cache knows the
     * topic and before its partitions have leaders. Using it earlier fails
     * as an unknown topic, or holds the first records produced to it until
     * librdkafka's next metadata refresh (hundreds of milliseconds that the
     * first transaction of a new worker would wait). */
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int32_t parts;
        bool led = false;
        /* A topic-level error such as LEADER_NOT_AVAILABLE is "not yet" here. */
        int r = topic_lookup(rk, topic, timeout_ms, &parts, &led, err, errlen);
        if (r == 0 && led) {
            rc = 0;
            goto done;
        }
        if (mono_ms() >= deadline) {
            if (r < 0)
                goto done; /* its message is in err */
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "topic %s was created but its partitions have no leader in metadata",
             topic);
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

void asw_kafka_transactional_id(const asw_config *cfg, char *buf, size_t len) {
    const asw_settings *s = asw_config_settings(cfg);
    const char *app = s->application_id, *wid = s->worker_id;
    if (wid[0]) {
        snprintf(buf, len, "%s-%s", app, wid);
        return;
    }
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s-%s-%ld", app, host, (long)getpid());
}

/* Big-endian reads of a Kafka protocol buffer; false when it is too short. */
static bool be16(const uint8_t **p, const uint8_t *end, int16_t *out) {
    if (end - *p < 2)
        return false;
    *out = (int16_t)(((*p)[0] << 8) | (*p)[1]);
    *p += 2;
    return true;
}

static bool be32(const uint8_t **p, const uint8_t *end, int32_t *out) {
    if (end - *p < 4)
        return false;
    *out = (int32_t)(((uint32_t)(*p)[0] << 24) | ((uint32_t)(*p)[1] << 16) |
                     ((uint32_t)(*p)[2] << 8) | (uint32_t)(*p)[3]);
    *p += 4;
    return true;
}

int asw_kafka_assignment_has(const void *buf, size_t len, const char *topic, int32_t partition) {
    const uint8_t *p = buf, *end = p + len;
    int16_t version, tlen;
    int32_t ntopics;
    if (!buf || !be16(&p, end, &version) || version < 0 || !be32(&p, end, &ntopics) || ntopics < 0)
        return -1;
    for (int32_t t = 0; t < ntopics; t++) {
        if (!be16(&p, end, &tlen) || tlen < 0 || end - p < tlen)
            return -1;
        bool ours = (size_t)tlen == strlen(topic) && memcmp(p, topic, (size_t)tlen) == 0;
        p += tlen;
        int32_t nparts, part;
        if (!be32(&p, end, &nparts) || nparts < 0)
            return -1;
        for (int32_t i = 0; i < nparts; i++) {
            if (!be32(&p, end, &part))
                return -1;
            if (ours && part == partition)
                return 1;
        }
    }
    return 0;
}
