/*
 * metrics.c -- counts, Prometheus text, liveness and readiness; see
 * metrics.h.
 */
#include "asw/metrics.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int asw_commit_bucket_ms[ASW_COMMIT_BUCKETS] = {5,   10,  25,   50,   100,
                                                      250, 500, 1000, 2500, 10000};

static const char *const extra_codes[] = {"EMPTY_VALUE",   "KEY_MISMATCH", "OUTPUT_TOO_LARGE",
                                          "INVALID_EVENT", "LATE_EVENT",   "OTHER"};

int asw_dead_letter_index(const char *code) {
    for (int i = 0; i < ASW_CODEC_E__COUNT; i++)
        if (strcmp(code, asw_codec_err_name((asw_codec_err)i)) == 0)
            return i;
    for (int i = 0; i < ASW_DL__COUNT - ASW_CODEC_E__COUNT; i++)
        if (strcmp(code, extra_codes[i]) == 0)
            return ASW_CODEC_E__COUNT + i;
    return ASW_DL_OTHER;
}

const char *asw_dead_letter_name(int index) {
    if (index < ASW_CODEC_E__COUNT)
        return asw_codec_err_name((asw_codec_err)index);
    return extra_codes[index - ASW_CODEC_E__COUNT];
}

void asw_counts_add(asw_counts *into, const asw_counts *from) {
    _Static_assert(sizeof(asw_counts) % sizeof(int64_t) == 0, "asw_counts holds int64_t only");
    int64_t *a = (int64_t *)into;
    const int64_t *b = (const int64_t *)from;
    for (size_t i = 0; i < sizeof(asw_counts) / sizeof(int64_t); i++)
        a[i] += b[i];
}

/* ---- librdkafka statistics ---- */

static void head(asw_buf *out, const char *name, const char *type, const char *help);

static int64_t jint(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int cmp_broker(const void *a, const void *b) {
    return strcmp(((const asw_kafka_broker_stats *)a)->name,
                  ((const asw_kafka_broker_stats *)b)->name);
}

int asw_kafka_stats_parse(const char *json, size_t len, asw_kafka_stats *out) {
    json_t *o = json_loadb(json, len, 0, NULL);
    if (!json_is_object(o) || !json_is_object(json_object_get(o, "brokers"))) {
        json_decref(o);
        return -1;
    }
    int64_t reports = out->reports;
    memset(out, 0, sizeof *out);
    out->reports = reports;
    out->present = true;
    out->msg_cnt = jint(o, "msg_cnt");
    out->replyq = jint(o, "replyq");
    out->tx = jint(o, "tx");
    out->tx_bytes = jint(o, "tx_bytes");
    out->rx = jint(o, "rx");
    out->rx_bytes = jint(o, "rx_bytes");
    out->rebalance_cnt = jint(json_object_get(o, "cgrp"), "rebalance_cnt");
    json_t *txn = json_object_get(json_object_get(o, "eos"), "txn_state");
    if (json_is_string(txn))
        snprintf(out->txn_state, sizeof out->txn_state, "%s", json_string_value(txn));
    const char *name;
    json_t *b;
    json_object_foreach(json_object_get(o, "brokers"), name, b) {
        /* Bootstrap and internal brokers (no node id) and the logical
         * coordinator handles (a second view of a real broker) say nothing
         * a platform team can act on. */
        json_t *source = json_object_get(b, "source");
        bool logical =
            json_is_string(source) && (strcmp(json_string_value(source), "logical") == 0 ||
                                       strcmp(json_string_value(source), "internal") == 0);
        if (logical || jint(b, "nodeid") < 0 || out->n_brokers == ASW_STATS_BROKERS)
            continue;
        asw_kafka_broker_stats *k = &out->brokers[out->n_brokers++];
        snprintf(k->name, sizeof k->name, "%s", name);
        json_t *state = json_object_get(b, "state");
        k->up = json_is_string(state) && strcmp(json_string_value(state), "UP") == 0;
        json_t *rtt = json_object_get(b, "rtt");
        k->rtt_avg_us = jint(rtt, "avg");
        k->rtt_p99_us = jint(rtt, "p99");
        k->outbuf_cnt = jint(b, "outbuf_cnt");
        k->waitresp_cnt = jint(b, "waitresp_cnt");
        k->txerrs = jint(b, "txerrs");
        k->rxerrs = jint(b, "rxerrs");
        k->req_timeouts = jint(b, "req_timeouts");
    }
    qsort(out->brokers, (size_t)out->n_brokers, sizeof out->brokers[0], cmp_broker);
    json_t *t;
    json_object_foreach(json_object_get(o, "topics"), name, t) {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p) out->fetchq_cnt +=
            jint(p, "fetchq_cnt");
    }
    json_decref(o);
    return 0;
}

/* A label value with \, " and newline escaped (Prometheus text format). */
static void label_value(asw_buf *out, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            asw_buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            asw_buf_append_str(out, "\\n");
        else
            asw_buf_append(out, v, 1);
    }
}

static const char *const client_names[2] = {"consumer", "producer"};

/* One line per client that has statistics: name{client="..."} value. */
static void per_client(asw_buf *out, const asw_worker_view *v, const char *name, const char *type,
                       const char *help, int64_t (*get)(const asw_kafka_stats *)) {
    bool any = v->kafka[0].present || v->kafka[1].present;
    if (!any)
        return;
    asw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int c = 0; c < 2; c++)
        if (v->kafka[c].present)
            asw_buf_printf(out, "%s{client=\"%s\"} %" PRId64 "\n", name, client_names[c],
                           get(&v->kafka[c]));
}

/* One line per client and broker. */
static void per_broker(asw_buf *out, const asw_worker_view *v, const char *name, const char *type,
                       const char *help, const char *extra_label,
                       double (*get)(const asw_kafka_broker_stats *)) {
    bool any = false;
    for (int c = 0; c < 2; c++)
        any |= v->kafka[c].present && v->kafka[c].n_brokers > 0;
    if (!any)
        return;
    if (help)
        asw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int c = 0; c < 2; c++)
        for (int i = 0; v->kafka[c].present && i < v->kafka[c].n_brokers; i++) {
            const asw_kafka_broker_stats *b = &v->kafka[c].brokers[i];
            asw_buf_printf(out, "%s{client=\"%s\",broker=\"", name, client_names[c]);
            label_value(out, b->name);
            asw_buf_printf(out, "\"%s} %.6g\n", extra_label ? extra_label : "", get(b));
        }
}

static int64_t st_reports(const asw_kafka_stats *s) {
    return s->reports;
}
static int64_t st_msg_cnt(const asw_kafka_stats *s) {
    return s->msg_cnt;
}
static int64_t st_replyq(const asw_kafka_stats *s) {
    return s->replyq;
}
static int64_t st_tx(const asw_kafka_stats *s) {
    return s->tx;
}
static int64_t st_rx(const asw_kafka_stats *s) {
    return s->rx;
}
static int64_t st_tx_bytes(const asw_kafka_stats *s) {
    return s->tx_bytes;
}
static int64_t st_rx_bytes(const asw_kafka_stats *s) {
    return s->rx_bytes;
}
static int64_t st_fetchq(const asw_kafka_stats *s) {
    return s->fetchq_cnt;
}
static int64_t st_rebalances(const asw_kafka_stats *s) {
    return s->rebalance_cnt;
}
static double br_up(const asw_kafka_broker_stats *b) {
    return b->up;
}
static double br_rtt_avg(const asw_kafka_broker_stats *b) {
    return (double)b->rtt_avg_us / 1e6;
}
static double br_rtt_p99(const asw_kafka_broker_stats *b) {
    return (double)b->rtt_p99_us / 1e6;
}
static double br_outbuf(const asw_kafka_broker_stats *b) {
    return (double)b->outbuf_cnt;
}
static double br_waitresp(const asw_kafka_broker_stats *b) {
    return (double)b->waitresp_cnt;
}
static double br_errors(const asw_kafka_broker_stats *b) {
    return (double)(b->txerrs + b->rxerrs);
}
static double br_timeouts(const asw_kafka_broker_stats *b) {
    return (double)b->req_timeouts;
}

static void kafka_stats(asw_buf *out, const asw_worker_view *v) {
    per_client(out, v, "asw_kafka_stats_reports_total", "counter",
               "librdkafka statistics reports received (statistics.interval.ms).", st_reports);
    per_client(out, v, "asw_kafka_queue_messages", "gauge",
               "Messages in the client's produce queues (librdkafka msg_cnt).", st_msg_cnt);
    per_client(out, v, "asw_kafka_reply_queue_ops", "gauge",
               "Operations waiting for the worker to poll them (librdkafka replyq).", st_replyq);
    per_client(out, v, "asw_kafka_requests_sent_total", "counter",
               "Requests sent to brokers (librdkafka tx).", st_tx);
    per_client(out, v, "asw_kafka_responses_received_total", "counter",
               "Responses received from brokers (librdkafka rx).", st_rx);
    per_client(out, v, "asw_kafka_sent_bytes_total", "counter",
               "Bytes sent to brokers (librdkafka tx_bytes).", st_tx_bytes);
    per_client(out, v, "asw_kafka_received_bytes_total", "counter",
               "Bytes received from brokers (librdkafka rx_bytes).", st_rx_bytes);
    if (v->kafka[0].present) {
        head(out, "asw_kafka_fetch_queue_messages", "gauge",
             "Messages the consumer fetched and the worker has not polled yet (fetchq_cnt).");
        asw_buf_printf(out, "asw_kafka_fetch_queue_messages %" PRId64 "\n",
                       st_fetchq(&v->kafka[0]));
        head(out, "asw_kafka_group_rebalances_total", "counter",
             "Consumer group rebalances this worker took part in (cgrp.rebalance_cnt).");
        asw_buf_printf(out, "asw_kafka_group_rebalances_total %" PRId64 "\n",
                       st_rebalances(&v->kafka[0]));
    }
    if (v->kafka[1].present && v->kafka[1].txn_state[0]) {
        head(out, "asw_kafka_txn_state_info", "gauge",
             "1, labelled with the transactional producer's state (eos.txn_state).");
        asw_buf_printf(out, "asw_kafka_txn_state_info{state=\"");
        label_value(out, v->kafka[1].txn_state);
        asw_buf_printf(out, "\"} 1\n");
    }
    per_broker(out, v, "asw_kafka_broker_up", "gauge",
               "1 while the connection to the broker is UP.", NULL, br_up);
    per_broker(out, v, "asw_kafka_broker_rtt_seconds", "gauge",
               "Request round-trip time to the broker over the last statistics window.",
               ",quantile=\"avg\"", br_rtt_avg);
    per_broker(out, v, "asw_kafka_broker_rtt_seconds", "gauge", NULL, ",quantile=\"0.99\"",
               br_rtt_p99);
    per_broker(out, v, "asw_kafka_broker_outbuf_requests", "gauge",
               "Requests waiting to be sent to the broker.", NULL, br_outbuf);
    per_broker(out, v, "asw_kafka_broker_inflight_requests", "gauge",
               "Requests sent to the broker, waiting for its response.", NULL, br_waitresp);
    per_broker(out, v, "asw_kafka_broker_errors_total", "counter",
               "Transmit and receive errors with the broker.", NULL, br_errors);
    per_broker(out, v, "asw_kafka_broker_request_timeouts_total", "counter",
               "Requests to the broker that timed out.", NULL, br_timeouts);
}

static void head(asw_buf *out, const char *name, const char *type, const char *help) {
    asw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Topic names are [A-Za-z0-9._-]: nothing to escape in a label. */
static void per_partition(asw_buf *out, const asw_worker_view *v, const char *name,
                          const char *type, const char *help,
                          int64_t (*value)(const asw_partition_view *),
                          bool (*has)(const asw_partition_view *)) {
    head(out, name, type, help);
    for (int32_t p = 0; p < v->n_parts; p++) {
        const asw_partition_view *pv = &v->parts[p];
        if (pv->assigned && (!has || has(pv)))
            asw_buf_printf(out, "%s{topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64 "\n", name,
                           v->topic, p, value(pv));
    }
}

static int64_t lag_of(const asw_partition_view *p) {
    return p->high > p->committed ? p->high - p->committed : 0;
}
static bool lag_known(const asw_partition_view *p) {
    return p->high >= 0 && p->committed >= 0 && !p->restoring && !p->quarantined;
}
static int64_t committed_of(const asw_partition_view *p) {
    return p->committed;
}
static bool committed_known(const asw_partition_view *p) {
    return p->committed >= 0;
}
static int64_t stream_time_of(const asw_partition_view *p) {
    return p->stream_time;
}
static bool stream_time_known(const asw_partition_view *p) {
    return p->has_stream_time;
}
static int64_t orders_of(const asw_partition_view *p) {
    return p->orders;
}
static int64_t restoring_of(const asw_partition_view *p) {
    return p->restoring;
}
static int64_t quarantined_of(const asw_partition_view *p) {
    return p->quarantined;
}
static int64_t restore_left_of(const asw_partition_view *p) {
    int64_t left = p->restore_total - p->restore_read;
    return p->restoring && left > 0 ? left : 0;
}

void asw_metrics_format(const asw_worker_view *v, asw_buf *out) {
    const asw_counts *c = &v->counts;
    head(out, "asw_events_total", "counter", "Input events decoded, by type (committed).");
    for (int t = 0; t < ASW_EV__COUNT; t++)
        asw_buf_printf(out, "asw_events_total{type=\"%s\"} %" PRId64 "\n",
                       asw_event_type_name((asw_event_type)t), c->events[t]);
    head(out, "asw_decisions_total", "counter", "Decisions written, by outcome (committed).");
    for (int o = 0; o < ASW_OUT__COUNT; o++)
        asw_buf_printf(out, "asw_decisions_total{outcome=\"%s\"} %" PRId64 "\n",
                       asw_outcome_name((asw_outcome)o), c->decisions[o]);
    head(out, "asw_decision_reasons_total", "counter",
         "Decisions naming each rejection reason (committed).");
    for (int r = 0; r < ASW_R__COUNT; r++)
        asw_buf_printf(out, "asw_decision_reasons_total{reason=\"%s\"} %" PRId64 "\n",
                       asw_reason_name((asw_reason)r), c->reasons[r]);
    head(out, "asw_decisions_duplicate_total", "counter",
         "Decisions re-emitted as duplicate = true (committed).");
    asw_buf_printf(out, "asw_decisions_duplicate_total %" PRId64 "\n", c->duplicates);
    head(out, "asw_refund_records_total", "counter",
         "Refund records written, by status (committed).");
    for (int s = 0; s < ASW_RS__COUNT; s++)
        asw_buf_printf(out, "asw_refund_records_total{status=\"%s\"} %" PRId64 "\n",
                       asw_record_status_name((asw_record_status)s), c->records[s]);
    head(out, "asw_over_refunds_total", "counter",
         "Refund records with over_refund: more refunded than paid (committed). Alert on any.");
    asw_buf_printf(out, "asw_over_refunds_total %" PRId64 "\n", c->over_refunds);
    head(out, "asw_dead_letters_total", "counter", "Dead letters written, by error (committed).");
    for (int d = 0; d < ASW_DL__COUNT; d++)
        asw_buf_printf(out, "asw_dead_letters_total{error=\"%s\"} %" PRId64 "\n",
                       asw_dead_letter_name(d), c->dead_letters[d]);
    head(out, "asw_late_events_total", "counter",
         "Events dead-lettered as LATE_EVENT (SPEC 7), among asw_dead_letters_total.");
    asw_buf_printf(out, "asw_late_events_total %" PRId64 "\n", c->dead_letters[ASW_DL_LATE_EVENT]);
    head(out, "asw_transactions_total", "counter", "Transactions, by result.");
    asw_buf_printf(out, "asw_transactions_total{result=\"committed\"} %" PRId64 "\n", v->commits);
    asw_buf_printf(out, "asw_transactions_total{result=\"aborted\"} %" PRId64 "\n", v->aborts);
    head(out, "asw_producers_renewed_total", "counter",
         "Fenced producers replaced (the coordinator aborted a transaction past its timeout).");
    asw_buf_printf(out, "asw_producers_renewed_total %" PRId64 "\n", v->producers_renewed);
    head(out, "asw_commit_duration_seconds", "histogram",
         "Time to write the changelog and commit a transaction.");
    int64_t cum = 0;
    for (int b = 0; b < ASW_COMMIT_BUCKETS; b++) {
        cum += v->commit_buckets[b];
        asw_buf_printf(out, "asw_commit_duration_seconds_bucket{le=\"%g\"} %" PRId64 "\n",
                       asw_commit_bucket_ms[b] / 1000.0, cum);
    }
    cum += v->commit_buckets[ASW_COMMIT_BUCKETS];
    asw_buf_printf(out, "asw_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRId64 "\n", cum);
    asw_buf_printf(out, "asw_commit_duration_seconds_sum %.6f\n", v->commit_ms_sum / 1000.0);
    asw_buf_printf(out, "asw_commit_duration_seconds_count %" PRId64 "\n", v->commit_count);
    head(out, "asw_restored_orders_total", "counter", "Orders rebuilt from the changelog.");
    asw_buf_printf(out, "asw_restored_orders_total %" PRId64 "\n", v->restored_orders);
    head(out, "asw_changelog_corrupt_total", "counter",
         "Changelog records that could not be decoded during a restore.");
    asw_buf_printf(out, "asw_changelog_corrupt_total %" PRId64 "\n", v->changelog_corrupt);

    if (v->rules_on) {
        head(out, "asw_rules_changes_total", "counter",
             "Ruleset changes read from the control topic (rules.topic).");
        asw_buf_printf(out, "asw_rules_changes_total %" PRId64 "\n", v->rules_changes);
        head(out, "asw_rules_invalid_total", "counter",
             "Control topic records that are not a valid change (skipped).");
        asw_buf_printf(out, "asw_rules_invalid_total %" PRId64 "\n", v->rules_invalid);
        head(out, "asw_rules_late_changes_total", "counter",
             "Changes that apply at or before an event time already decided (a replay would "
             "decide those events otherwise).");
        asw_buf_printf(out, "asw_rules_late_changes_total %" PRId64 "\n", v->rules_late);
        head(out, "asw_rules_waits_total", "counter",
             "Batches that waited for the control topic to catch up to an event's time.");
        asw_buf_printf(out, "asw_rules_waits_total %" PRId64 "\n", v->rules_waits);
        head(out, "asw_rules_wait_expired_total", "counter",
             "Waits that ran out (rules.topic.wait.max.ms): events decided with the changes "
             "known.");
        asw_buf_printf(out, "asw_rules_wait_expired_total %" PRId64 "\n", v->rules_wait_expired);
        head(out, "asw_rules_wait_seconds_total", "counter",
             "Time spent waiting for the control topic.");
        asw_buf_printf(out, "asw_rules_wait_seconds_total %.3f\n", v->rules_wait_ms / 1000.0);
        head(out, "asw_rules_complete_through_ms", "gauge",
             "Event time up to which the ruleset is known complete, epoch milliseconds.");
        asw_buf_printf(out, "asw_rules_complete_through_ms %" PRId64 "\n", v->rules_through);
        head(out, "asw_rules_offset", "gauge", "Next control topic offset to read.");
        asw_buf_printf(out, "asw_rules_offset %" PRId64 "\n", v->rules_offset);
        head(out, "asw_ruleset_info", "gauge",
             "The ruleset version in effect at the last read of the control topic.");
        asw_buf_printf(out, "asw_ruleset_info{version=\"%s\"} 1\n", v->rules_version);
    }

    kafka_stats(out, v);

    per_partition(out, v, "asw_partition_lag", "gauge",
                  "Input records after the last committed offset (high watermark - committed).",
                  lag_of, lag_known);
    per_partition(out, v, "asw_partition_committed_offset", "gauge",
                  "Next input offset to process after the last commit.", committed_of,
                  committed_known);
    per_partition(out, v, "asw_partition_stream_time_ms", "gauge",
                  "Stream time of the partition (SPEC 7), epoch milliseconds.", stream_time_of,
                  stream_time_known);
    per_partition(out, v, "asw_partition_orders", "gauge", "Orders held in state.", orders_of,
                  NULL);
    per_partition(out, v, "asw_partition_restoring", "gauge",
                  "1 while the partition's state is rebuilt from its changelog.", restoring_of,
                  NULL);
    per_partition(out, v, "asw_partition_restore_remaining", "gauge",
                  "Changelog records still to read while restoring.", restore_left_of, NULL);
    per_partition(out, v, "asw_partition_quarantined", "gauge",
                  "1 when the partition's changelog could not be restored whole: nothing is "
                  "decided there.",
                  quarantined_of, NULL);
    int assigned = 0;
    for (int32_t p = 0; p < v->n_parts; p++)
        assigned += v->parts[p].assigned;
    head(out, "asw_assigned_partitions", "gauge", "Input partitions assigned to this worker.");
    asw_buf_printf(out, "asw_assigned_partitions %d\n", assigned);
    head(out, "asw_up", "gauge", "1 while the worker is not fatal.");
    asw_buf_printf(out, "asw_up %d\n", v->fatal ? 0 : 1);
}

int asw_metrics_health(const asw_worker_view *v, asw_buf *out) {
    if (v->fatal) {
        asw_buf_printf(out, "fatal: %s\n", v->fatal_reason);
        return 503;
    }
    asw_buf_append_str(out, "ok\n");
    return 200;
}

int asw_metrics_ready(const asw_worker_view *v, asw_buf *out) {
    if (v->fatal) {
        asw_buf_printf(out, "not ready: fatal: %s\n", v->fatal_reason);
        return 503;
    }
    if (!v->started || !v->joined) {
        asw_buf_append_str(out, v->started ? "not ready: waiting for the group's assignment\n"
                                           : "not ready: starting\n");
        return 503;
    }
    int bad = 0;
    for (int32_t p = 0; p < v->n_parts; p++) {
        const asw_partition_view *pv = &v->parts[p];
        if (pv->assigned && (pv->restoring || pv->quarantined)) {
            asw_buf_printf(out, "%spartition %" PRId32 " %s", bad ? ", " : "not ready: ", p,
                           pv->restoring ? "restoring" : "quarantined");
            bad++;
        }
    }
    if (bad) {
        asw_buf_append_str(out, "\n");
        return 503;
    }
    asw_buf_append_str(out, "ready\n");
    return 200;
}
