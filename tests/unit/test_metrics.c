/*
 * test_metrics.c -- the HTTP endpoint's answers from a worker view: the
 * Prometheus text, liveness and readiness.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "asw/metrics.h"

static asw_partition_view parts[3];

static asw_worker_view view(void) {
    asw_worker_view v;
    memset(&v, 0, sizeof v);
    memset(parts, 0, sizeof parts);
    strcpy(v.topic, "in");
    v.started = v.joined = true;
    v.n_parts = 3;
    v.parts = parts;
    parts[0] = (asw_partition_view){.assigned = true,
                                    .committed = 40,
                                    .high = 100,
                                    .has_stream_time = true,
                                    .stream_time = 1700000000000,
                                    .orders = 7};
    parts[2] = (asw_partition_view){.assigned = true, .committed = -1, .high = 5};
    return v;
}

static char *text_of(const asw_worker_view *v) {
    asw_buf b = ASW_BUF_INIT;
    asw_metrics_format(v, &b);
    asw_buf_append(&b, "", 1);
    return (char *)b.data;
}

#define HAS(text, line) cr_assert(strstr(text, line "\n") != NULL, "no line '%s'", line)

Test(metrics, counts_partitions_and_the_histogram_are_in_the_text) {
    asw_worker_view v = view();
    v.counts.decisions[ASW_OUT_REJECTED] = 3;
    v.counts.reasons[ASW_R_APPLICATION_LIMIT_REACHED] = 2;
    v.counts.dead_letters[asw_dead_letter_index("LATE_EVENT")] = 4;
    v.counts.dead_letters[asw_dead_letter_index("no such code")] = 1;
    v.commits = 5;
    v.commit_buckets[0] = 2; /* <= 5 ms */
    v.commit_buckets[4] = 3; /* <= 100 ms */
    v.commit_count = 5;
    v.commit_ms_sum = 250;
    char *t = text_of(&v);
    HAS(t, "asw_decisions_total{outcome=\"REJECTED\"} 3");
    HAS(t, "asw_decision_reasons_total{reason=\"APPLICATION_LIMIT_REACHED\"} 2");
    HAS(t, "asw_dead_letters_total{error=\"LATE_EVENT\"} 4");
    HAS(t, "asw_late_events_total 4");
    HAS(t, "asw_dead_letters_total{error=\"OTHER\"} 1");
    HAS(t, "asw_transactions_total{result=\"committed\"} 5");
    HAS(t, "asw_commit_duration_seconds_bucket{le=\"0.005\"} 2");
    HAS(t, "asw_commit_duration_seconds_bucket{le=\"0.05\"} 2");
    HAS(t, "asw_commit_duration_seconds_bucket{le=\"0.1\"} 5");
    HAS(t, "asw_commit_duration_seconds_bucket{le=\"+Inf\"} 5");
    HAS(t, "asw_commit_duration_seconds_sum 0.250000");
    HAS(t, "asw_partition_lag{topic=\"in\",partition=\"0\"} 60");
    HAS(t, "asw_partition_stream_time_ms{topic=\"in\",partition=\"0\"} 1700000000000");
    HAS(t, "asw_partition_orders{topic=\"in\",partition=\"0\"} 7");
    HAS(t, "asw_assigned_partitions 2");
    HAS(t, "asw_up 1");
    cr_assert_null(strstr(t, "partition=\"1\""), "partition 1 is not assigned");
    cr_assert_null(strstr(t, "asw_partition_lag{topic=\"in\",partition=\"2\"}"),
                   "no lag without a committed offset");
    cr_assert_null(strstr(t, "asw_partition_stream_time_ms{topic=\"in\",partition=\"2\"}"));
    free(t);
}

static int answer(int (*fn)(const asw_worker_view *, asw_buf *), const asw_worker_view *v,
                  const char *want) {
    asw_buf b = ASW_BUF_INIT;
    int status = fn(v, &b);
    asw_buf_append(&b, "", 1);
    cr_assert_str_eq((char *)b.data, want);
    asw_buf_free(&b);
    return status;
}

Test(metrics, health_is_503_with_the_reason_once_fatal) {
    asw_worker_view v = view();
    cr_assert_eq(answer(asw_metrics_health, &v, "ok\n"), 200);
    v.fatal = true;
    strcpy(v.fatal_reason, "fenced");
    cr_assert_eq(answer(asw_metrics_health, &v, "fatal: fenced\n"), 503);
    cr_assert_eq(answer(asw_metrics_ready, &v, "not ready: fatal: fenced\n"), 503);
}

Test(metrics, ready_once_joined_and_every_assigned_partition_processes) {
    asw_worker_view v = view();
    cr_assert_eq(answer(asw_metrics_ready, &v, "ready\n"), 200);
    v.joined = false;
    cr_assert_eq(answer(asw_metrics_ready, &v, "not ready: waiting for the group's assignment\n"),
                 503);
    v.started = false;
    cr_assert_eq(answer(asw_metrics_ready, &v, "not ready: starting\n"), 503);
    v = view();
    parts[0].restoring = true;
    parts[2].quarantined = true;
    cr_assert_eq(answer(asw_metrics_ready, &v,
                        "not ready: partition 0 restoring, partition 2 quarantined\n"),
                 503);
}

Test(metrics, dead_letter_codes_round_trip) {
    for (int i = 0; i < ASW_DL__COUNT; i++)
        cr_assert_eq(asw_dead_letter_index(asw_dead_letter_name(i)), i, "%s",
                     asw_dead_letter_name(i));
    cr_assert_eq(asw_dead_letter_index("KEY_MISMATCH"), ASW_DL_KEY_MISMATCH);
}

/* A trimmed statistics document of librdkafka 2.0.2 (STATISTICS.md). */
static const char stats_json[] =
    "{\"name\":\"rdkafka#producer-1\",\"type\":\"producer\",\"replyq\":2,\"msg_cnt\":7,"
    "\"tx\":120,\"tx_bytes\":9000,\"rx\":118,\"rx_bytes\":8000,"
    "\"brokers\":{"
    "\"b2:9092/2\":{\"nodeid\":2,\"source\":\"learned\",\"state\":\"DOWN\","
    "\"rtt\":{\"avg\":0,\"p99\":0},\"outbuf_cnt\":3,\"waitresp_cnt\":0,\"txerrs\":1,"
    "\"rxerrs\":2,\"req_timeouts\":4},"
    "\"b1:9092/1\":{\"nodeid\":1,\"source\":\"learned\",\"state\":\"UP\","
    "\"rtt\":{\"avg\":1500,\"p99\":20000},\"outbuf_cnt\":0,\"waitresp_cnt\":1,\"txerrs\":0,"
    "\"rxerrs\":0,\"req_timeouts\":0},"
    "\"b1:9092/bootstrap\":{\"nodeid\":-1,\"source\":\"configured\",\"state\":\"UP\"},"
    "\"TxnCoordinator\":{\"nodeid\":1,\"source\":\"logical\",\"state\":\"UP\"}},"
    "\"topics\":{\"in\":{\"partitions\":{\"0\":{\"fetchq_cnt\":5},\"1\":{\"fetchq_cnt\":6}}}},"
    "\"cgrp\":{\"rebalance_cnt\":3},\"eos\":{\"txn_state\":\"InTransaction\"}}";

Test(metrics, librdkafka_statistics_parse_into_real_brokers_by_name) {
    asw_kafka_stats k;
    memset(&k, 0, sizeof k);
    k.reports = 4;
    cr_assert_eq(asw_kafka_stats_parse(stats_json, strlen(stats_json), &k), 0);
    cr_assert(k.present);
    cr_assert_eq(k.reports, 4, "parse leaves the report count to the caller");
    cr_assert_eq(k.msg_cnt, 7);
    cr_assert_eq(k.tx, 120);
    cr_assert_eq(k.rx_bytes, 8000);
    cr_assert_eq(k.fetchq_cnt, 11);
    cr_assert_eq(k.rebalance_cnt, 3);
    cr_assert_str_eq(k.txn_state, "InTransaction");
    cr_assert_eq(k.n_brokers, 2, "bootstrap and logical handles are left out");
    cr_assert_str_eq(k.brokers[0].name, "b1:9092/1");
    cr_assert(k.brokers[0].up);
    cr_assert_eq(k.brokers[0].rtt_p99_us, 20000);
    cr_assert_str_eq(k.brokers[1].name, "b2:9092/2");
    cr_assert_not(k.brokers[1].up);
    cr_assert_eq(k.brokers[1].req_timeouts, 4);
    cr_assert_eq(asw_kafka_stats_parse("[]", 2, &k), -1);
    cr_assert_eq(asw_kafka_stats_parse("{\"x\":1}", 7, &k), -1);
}

Test(metrics, librdkafka_statistics_are_in_the_text_only_when_reported) {
    asw_worker_view v = view();
    char *t = text_of(&v);
    cr_assert_null(strstr(t, "asw_kafka_"), "no statistics, no asw_kafka_ lines");
    free(t);
    cr_assert_eq(asw_kafka_stats_parse(stats_json, strlen(stats_json), &v.kafka[1]), 0);
    v.kafka[1].reports = 2;
    t = text_of(&v);
    HAS(t, "asw_kafka_stats_reports_total{client=\"producer\"} 2");
    HAS(t, "asw_kafka_queue_messages{client=\"producer\"} 7");
    HAS(t, "asw_kafka_txn_state_info{state=\"InTransaction\"} 1");
    HAS(t, "asw_kafka_broker_up{client=\"producer\",broker=\"b1:9092/1\"} 1");
    HAS(t, "asw_kafka_broker_up{client=\"producer\",broker=\"b2:9092/2\"} 0");
    HAS(t,
        "asw_kafka_broker_rtt_seconds{client=\"producer\",broker=\"b1:9092/1\",quantile=\"0.99\"} "
        "0.02");
    HAS(t, "asw_kafka_broker_errors_total{client=\"producer\",broker=\"b2:9092/2\"} 3");
    cr_assert_null(strstr(t, "client=\"consumer\""), "the consumer reported nothing");
    cr_assert_null(strstr(t, "asw_kafka_fetch_queue_messages"), "a consumer metric");
    free(t);
}
