/*
 * test_worker_mock.c -- the worker's error paths on librdkafka's mock
 * cluster, with errors injected by rd_kafka_mock_push_request_errors():
 * an abortable error aborts, rolls every partition's state back to the last
 * commit and rewinds, after which the worker ends in exactly the state a
 * clean run gives; a fatal error (fenced producer, authorization) ends the
 * worker with a reason; states survive a restart through the changelog.
 *
 * The mock cluster is not a broker (it shows aborted records to
 * read_committed readers, discards transactional offsets, never fences):
 * these tests check the worker's own handling, not exactly-once delivery,
 * which tests/integration proves on Apache Kafka.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/config.h"
#include "asw/gen.h"
#include "asw/processor.h"
#include "asw/worker.h"

/* RD_KAFKAP_* ApiKeys (librdkafka's rdkafka_protocol.h is not installed). */
#define APIKEY_PRODUCE 0
#define APIKEY_END_TXN 26

#define PARTITIONS 2
#define ORDERS     150

typedef struct fixture {
    rd_kafka_t *mrk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    asw_config *cfg;
    asw_log *log;
    asw_ruleset *rules;
    asw_processor *expected[PARTITIONS]; /* a clean run over the same input */
    int64_t produced;
} fixture;

static fixture fx;

static uint32_t fnv(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void set(const char *k, const char *v) {
    char err[256];
    cr_assert_eq(asw_config_set(fx.cfg, k, v, err, sizeof err), 0, "%s: %s", k, err);
}

/* Produce the generated stream to the mock, each order to a known
 * partition, and feed the same events to per-partition reference
 * processors. */
static void produce_input(void) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx.mc), err,
                      sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    asw_codec *codec = asw_codec_new(err, sizeof err);
    asw_gen *g = asw_gen_new(11, ORDERS, 8);
    asw_buf buf = ASW_BUF_INIT;
    asw_event ev;
    int64_t offsets[PARTITIONS] = {0};
    while (asw_gen_next(g, &ev)) {
        int32_t part = (int32_t)(fnv(ev.order_id) % PARTITIONS);
        cr_assert_eq(asw_codec_encode_event(codec, &ev, &buf), ASW_CODEC_OK);
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_PARTITION(part),
                                       RD_KAFKA_V_KEY(ev.order_id, strlen(ev.order_id)),
                                       RD_KAFKA_V_VALUE(buf.data, buf.len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
        asw_source src = {"events", part, offsets[part]++};
        asw_result res;
        asw_processor_apply(fx.expected[part], &ev, &src, &res);
        asw_event_clear(&ev);
        fx.produced++;
    }
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
    asw_buf_free(&buf);
    asw_gen_destroy(g);
    asw_codec_destroy(codec);
    rd_kafka_destroy(p);
}

static void setup(void) {
    char err[256];
    memset(&fx, 0, sizeof fx);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    fx.mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(fx.mrk, "%s", err);
    fx.mc = rd_kafka_mock_cluster_new(fx.mrk, 1);
    cr_assert_not_null(fx.mc);
    const char *topics[] = {"events", "decisions", "records", "dlq", "mockapp-changelog"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(rd_kafka_mock_topic_create(fx.mc, topics[i], PARTITIONS, 1), 0);

    fx.cfg = asw_config_new();
    set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx.mc));
    set("application.id", "mockapp");
    set("worker.id", "w1");
    set("topic.input", "events");
    set("topic.decisions", "decisions");
    set("topic.refund_records", "records");
    set("topic.dlq", "dlq");
    /* Commits happen when a test says so. */
    set("commit.interval.ms", "600000");
    set("commit.max.records", "1000000");
    set("transaction.timeout.ms", "900000");
    set("log_level", "2");
    /* The mock coordinator only rebalances a departed member away after its
     * session times out; keep that short. */
    set("session.timeout.ms", "6000");
    set("heartbeat.interval.ms", "500");
    set("fetch.wait.max.ms", "50");
    fx.log = asw_log_new(stderr, getenv("ASW_TEST_LOG") ? ASW_LOG_DEBUG : ASW_LOG_ERROR);
    fx.rules = asw_ruleset_new();
    const asw_settings *s = asw_config_settings(fx.cfg);
    for (int p = 0; p < PARTITIONS; p++)
        fx.expected[p] = asw_processor_new(s->ruleset, &s->state, false);
    produce_input();
}

static void teardown(void) {
    for (int p = 0; p < PARTITIONS; p++)
        asw_processor_destroy(fx.expected[p]);
    asw_ruleset_destroy(fx.rules);
    asw_log_destroy(fx.log);
    asw_config_destroy(fx.cfg);
    rd_kafka_mock_cluster_destroy(fx.mc);
    rd_kafka_destroy(fx.mrk);
}

TestSuite(worker_mock, .init = setup, .fini = teardown, .timeout = 120);

static asw_worker *start_worker(void) {
    char err[512];
    asw_worker *w = asw_worker_new(fx.cfg, fx.log, err, sizeof err);
    cr_assert_not_null(w, "%s", err);
    cr_assert_eq(asw_worker_start(w, err, sizeof err), 0, "%s", err);
    return w;
}

/* Step until at least `n` records were consumed in total. */
static void consume_until(asw_worker *w, int64_t n) {
    asw_worker_stats st;
    for (int i = 0; i < 3000; i++) {
        cr_assert_eq(asw_worker_step(w, 20), 0, "%s", asw_worker_error(w));
        asw_worker_get_stats(w, &st);
        if (st.consumed >= n)
            return;
    }
    cr_assert_fail("only %lld of %lld records consumed", (long long)st.consumed, (long long)n);
}

/* Step, committing now and then, until everything is committed. */
static void run_to_end(asw_worker *w) {
    for (int i = 0; i < 3000; i++) {
        cr_assert_eq(asw_worker_step(w, 20), 0, "%s", asw_worker_error(w));
        if (i % 50 == 49)
            cr_assert_geq(asw_worker_commit(w), 0, "%s", asw_worker_error(w));
        if (asw_worker_lag(w) == 0)
            return;
    }
    cr_assert_fail("the worker did not catch up");
}

static void assert_states_equal_expected(const asw_worker *w) {
    for (int p = 0; p < PARTITIONS; p++) {
        const asw_processor *got = asw_worker_partition(w, p);
        cr_assert_not_null(got, "partition %d not assigned", p);
        cr_assert(asw_processor_equal(got, fx.expected[p]), "partition %d state differs", p);
    }
}

Test(worker_mock, abortable_commit_error_rolls_state_back_and_ends_like_a_clean_run) {
    asw_worker *w = start_worker();
    consume_until(w, 60);
    cr_assert_eq(asw_worker_commit(w), 0, "%s", asw_worker_error(w));

    asw_processor *at_commit[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        at_commit[p] = asw_processor_clone(asw_worker_partition(w, p));

    consume_until(w, 140);
    /* KIP-360: an unknown producer id is abortable, not fatal. */
    rd_kafka_mock_push_request_errors(fx.mc, APIKEY_END_TXN, 1,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    cr_assert_eq(asw_worker_commit(w), 1, "expected an abort: %s", asw_worker_error(w));
    for (int p = 0; p < PARTITIONS; p++) {
        cr_assert(asw_processor_equal(asw_worker_partition(w, p), at_commit[p]),
                  "partition %d is not back at the last commit", p);
        asw_processor_destroy(at_commit[p]);
    }

    /* The rewound records are processed again and the end state is exactly
     * that of a clean run: nothing lost, nothing applied twice. */
    run_to_end(w);
    assert_states_equal_expected(w);
    asw_worker_stats st;
    asw_worker_get_stats(w, &st);
    cr_assert_eq(st.aborts, 1);
    cr_assert_gt(st.consumed, fx.produced, "the aborted records were consumed again");
    cr_assert_eq(asw_worker_close(w), 0);
    asw_worker_destroy(w);
}

Test(worker_mock, two_threads_abort_roll_back_and_end_like_a_clean_run) {
    set("num.threads", "2");
    asw_worker *w = start_worker();
    /* A batch may take every record queued: the first transaction is the
     * one that surely holds records. */
    consume_until(w, 60);
    rd_kafka_mock_push_request_errors(fx.mc, APIKEY_END_TXN, 1,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    cr_assert_eq(asw_worker_commit(w), 1, "expected an abort: %s", asw_worker_error(w));
    run_to_end(w);
    assert_states_equal_expected(w);
    asw_worker_stats st;
    asw_worker_get_stats(w, &st);
    cr_assert_geq(st.consumed, fx.produced, "every record processed (some twice after the abort)");
    cr_assert_eq(st.aborts, 1);
    cr_assert_eq(asw_worker_close(w), 0);
    asw_worker_destroy(w);
}

Test(worker_mock, failed_delivery_aborts_the_transaction_and_recovers) {
    asw_worker *w = start_worker();
    consume_until(w, 40);
    cr_assert_eq(asw_worker_commit(w), 0, "%s", asw_worker_error(w));
    rd_kafka_mock_push_request_errors(fx.mc, APIKEY_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    consume_until(w, 90);
    cr_assert_eq(asw_worker_commit(w), 1, "expected an abort: %s", asw_worker_error(w));
    run_to_end(w);
    assert_states_equal_expected(w);
    asw_worker_destroy(w);
}

/* A fenced producer whose group member was not fenced (nobody else has
 * its worker.id: the coordinator aborted a transaction that outlived its
 * timeout) is renewed, and the worker goes on from its last commit. */
Test(worker_mock, fenced_producer_is_renewed_and_its_transaction_rolled_back) {
    asw_worker *w = start_worker();
    consume_until(w, 30);
    cr_assert_eq(asw_worker_commit(w), 0, "%s", asw_worker_error(w));
    consume_until(w, 70);
    rd_kafka_mock_push_request_errors(fx.mc, APIKEY_END_TXN, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    cr_assert_eq(asw_worker_commit(w), 1, "expected a roll-back: %s", asw_worker_error(w));
    asw_worker_stats st;
    asw_worker_get_stats(w, &st);
    cr_assert_eq(st.producers_renewed, 1);
    run_to_end(w);
    assert_states_equal_expected(w);
    cr_assert_eq(asw_worker_close(w), 0);
    asw_worker_destroy(w);
}

/* Fenced again and again with no commit in between: something else holds
 * the transactional id; the worker stops with the reason. */
Test(worker_mock, a_producer_fenced_over_and_over_is_fatal_with_a_reason) {
    asw_worker *w = start_worker();
    consume_until(w, 30);
    int rc = 0, commits = 0;
    for (; commits < 5 && rc >= 0; commits++) {
        rd_kafka_mock_push_request_errors(fx.mc, APIKEY_END_TXN, 1,
                                          RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
        asw_worker_stats st;
        asw_worker_get_stats(w, &st);
        consume_until(w, st.consumed + 5); /* a transaction open again */
        rc = asw_worker_commit(w);
    }
    cr_assert_eq(rc, -1);
    cr_assert_eq(commits, 4, "three renewals, then the fourth fence is fatal");
    cr_assert(strstr(asw_worker_error(w), "fenced 3 times") != NULL, "reason: %s",
              asw_worker_error(w));
    cr_assert_eq(asw_worker_step(w, 10), -1, "no more work after a fatal error");
    cr_assert_eq(asw_worker_close(w), -1);
    asw_worker_destroy(w);
}

Test(worker_mock, authorization_failure_on_produce_is_fatal) {
    asw_worker *w = start_worker();
    consume_until(w, 20);
    cr_assert_eq(asw_worker_commit(w), 0, "%s", asw_worker_error(w));
    rd_kafka_mock_push_request_errors(fx.mc, APIKEY_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    int rc = 0;
    for (int i = 0; i < 1000 && rc >= 0; i++) {
        rc = asw_worker_step(w, 20);
        if (rc >= 0 && i % 20 == 19)
            rc = asw_worker_commit(w);
    }
    cr_assert_eq(rc, -1, "authorization failure must end the worker");
    cr_assert(strstr(asw_worker_error(w), "AUTHORIZATION") != NULL, "reason: %s",
              asw_worker_error(w));
    asw_worker_destroy(w);
}

Test(worker_mock, successor_rebuilds_the_states_from_the_changelog) {
    asw_worker *w = start_worker();
    run_to_end(w);
    assert_states_equal_expected(w);
    cr_assert_eq(asw_worker_close(w), 0);
    asw_worker_stats st1;
    asw_worker_get_stats(w, &st1);
    cr_assert_gt(st1.changelog, 0);
    asw_worker_destroy(w);

    /* A new worker of the same application restores every partition before
     * processing it; with no input left, its states are the restored ones. */
    set("worker.id", "w2");
    asw_worker *w2 = start_worker();
    for (int i = 0; i < 1500 && (!asw_worker_partition(w2, 0) || !asw_worker_partition(w2, 1)); i++)
        cr_assert_eq(asw_worker_step(w2, 20), 0, "%s", asw_worker_error(w2));
    asw_worker_stats st;
    asw_worker_get_stats(w2, &st);
    cr_assert_gt(st.restored, 0);
    assert_states_equal_expected(w2);
    asw_worker_destroy(w2);
}

/* Produce `n` merchant card checks on one order: each is remembered in the
 * order's state (to re-emit on a duplicate), so the state grows with n. */
static void produce_card_checks(const char *order_id, int n) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx.mc), err,
                      sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    asw_codec *codec = asw_codec_new(err, sizeof err);
    asw_buf buf = ASW_BUF_INIT;
    for (int i = 0; i < n; i++) {
        char id[64];
        asw_event ev;
        asw_event_init(&ev);
        snprintf(id, sizeof id, "card-check-event-%04d", i);
        ev.event_id = strdup(id);
        ev.order_id = strdup(order_id);
        snprintf(id, sizeof id, "card-check-application-%04d", i);
        ev.aftersale_id = strdup(id);
        ev.sku_order_id = strdup("BIG-1");
        ev.shop_id = strdup("s1");
        ev.refund_id = strdup("");
        ev.event_time = 1700000000000 + i;
        ev.initiator = ASW_INIT_MERCHANT_CARD;
        ev.aftersale_type = ASW_AT_EXCHANGE;
        ev.order.order_status = ASW_OS_SHIPPED;
        ev.order.order_paid_amount = ev.order.sku_paid_amount = 1000;
        cr_assert_eq(asw_codec_encode_event(codec, &ev, &buf), ASW_CODEC_OK);
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_KEY(order_id, strlen(order_id)),
                                       RD_KAFKA_V_VALUE(buf.data, buf.len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
        asw_event_clear(&ev);
    }
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
    asw_buf_free(&buf);
    asw_codec_destroy(codec);
    rd_kafka_destroy(p);
}

Test(worker_mock, a_busy_order_never_makes_a_changelog_record_too_large) {
    /* librdkafka's smallest message.max.bytes, and an order whose whole
     * state outgrows it many times: the changelog holds it entity by entity
     * (one record per remembered decision), so every record stays small and
     * the partition goes on. */
    set("message.max.bytes", "1000");
    produce_card_checks("BIG", 40);
    asw_worker *w = start_worker();
    run_to_end(w);
    const asw_order *big = asw_processor_get(asw_worker_partition(w, 0), "BIG");
    cr_assert_not_null(big);
    cr_assert_eq(asw_order_decided_count(big), 40);
    asw_order *kept = asw_order_clone(big);
    cr_assert_eq(asw_worker_close(w), 0, "%s", asw_worker_error(w));
    asw_worker_destroy(w);

    /* A successor rebuilds the same order from those records. */
    set("worker.id", "w2");
    asw_worker *w2 = start_worker();
    for (int i = 0; i < 1500 && !asw_worker_partition(w2, 0); i++)
        cr_assert_eq(asw_worker_step(w2, 20), 0, "%s", asw_worker_error(w2));
    const asw_order *back = asw_processor_get(asw_worker_partition(w2, 0), "BIG");
    cr_assert_not_null(back);
    cr_assert(asw_order_equal(kept, back), "the restored order differs");
    asw_order_destroy(kept);
    asw_worker_destroy(w2);
}
