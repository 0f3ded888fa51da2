/*
 * bench_ceiling.c -- the ceiling of the throughput harness (bench/throughput.py):
 * a do-nothing transactional passthrough written with librdkafka, doing what
 * the worker does around its rules and nothing else.
 *
 * It joins a consumer group on the input topic (read_committed, no auto
 * commit), and for every input record produces the same number of output
 * records of the same size as the worker wrote per input on the same stream
 * (an average, spread exactly: after k inputs it has written
 * round(k * out_per_in) records), keyed by the input's key, round-robin over
 * the output topics (the worker's: decisions, refund records, changelog), in one
 * transaction per commit.interval.ms or commit.max.records, whichever comes
 * first, with the consumed offsets sent to the transaction. It stops once
 * `events` input records are committed and prints one JSON line:
 *
 *   {"events":N,"seconds":S,"outputs":N,"output_bytes":N,"commits":N}
 *
 * where seconds runs from its first input record to its last commit (as
 * the harness times the worker).
 *
 * Usage: asw-bench-ceiling BROKERS INPUT_TOPIC OUTPUT_TOPIC[,TOPIC...] GROUP EVENTS
 *                          OUT_PER_IN OUT_BYTES COMMIT_MS COMMIT_MAX
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "asw-bench-ceiling: %s: %s\n", what, why);
    exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die(k, err);
}

static void check(rd_kafka_error_t *e, const char *what) {
    if (e) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        die(what, msg);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err)
        die("delivery", rd_kafka_err2str(m->err));
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr,
                "usage: %s BROKERS INPUT OUTPUT GROUP EVENTS OUT_PER_IN OUT_BYTES COMMIT_MS "
                "COMMIT_MAX\n",
                argv[0]);
        return 2;
    }
    const char *brokers = argv[1], *input = argv[2], *group = argv[4];
    /* OUTPUT: topics separated by commas, written round-robin */
    char *outs[16];
    int n_outs = 0;
    for (char *t = strtok(argv[3], ","); t && n_outs < 16; t = strtok(NULL, ","))
        outs[n_outs++] = t;
    if (n_outs == 0)
        die("output", "no topic");
    long events = strtol(argv[5], NULL, 10);
    double out_per_in = strtod(argv[6], NULL);
    size_t out_bytes = (size_t)strtol(argv[7], NULL, 10);
    double commit_s = strtod(argv[8], NULL) / 1000.0;
    long commit_max = strtol(argv[9], NULL, 10);
    char err[512], txn_id[256];
    snprintf(txn_id, sizeof txn_id, "%s-ceiling-%d", group, (int)getpid());

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", brokers);
    set(cc, "group.id", group);
    set(cc, "isolation.level", "read_committed");
    set(cc, "enable.auto.commit", "false");
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "partition.assignment.strategy", "cooperative-sticky");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!consumer)
        die("consumer", err);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, input, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(consumer, sub))
        die("subscribe", input);
    rd_kafka_topic_partition_list_destroy(sub);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", brokers);
    set(pc, "transactional.id", txn_id);
    set(pc, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!producer)
        die("producer", err);
    check(rd_kafka_init_transactions(producer, 30000), "init_transactions");

    char *value = malloc(out_bytes ? out_bytes : 1);
    memset(value, 'x', out_bytes);
    long consumed = 0, committed = 0, in_txn = 0, outputs = 0, commits = 0;
    long long output_bytes = 0;
    double first = 0, last = 0, txn_start = 0;
    bool open = false;
    while (committed < events) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 10);
        if (m && !m->err) {
            if (!first)
                first = now_s();
            if (!open) {
                check(rd_kafka_begin_transaction(producer), "begin_transaction");
                open = true;
                txn_start = now_s();
            }
            consumed++;
            in_txn++;
            /* Outputs due after `consumed` inputs: round(consumed * out_per_in). */
            long due = (long)(consumed * out_per_in + 0.5);
            for (; outputs < due; outputs++) {
                for (;;) {
                    rd_kafka_resp_err_t e =
                        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(outs[outputs % n_outs]),
                                          RD_KAFKA_V_KEY(m->key, m->key_len),
                                          RD_KAFKA_V_VALUE(value, out_bytes), RD_KAFKA_V_END);
                    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        rd_kafka_poll(producer, 10);
                        continue;
                    }
                    if (e)
                        die("produce", rd_kafka_err2str(e));
                    break;
                }
                output_bytes += (long long)(out_bytes + m->key_len);
            }
        }
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_poll(producer, 0);
        if (open && (in_txn >= commit_max || now_s() - txn_start >= commit_s)) {
            rd_kafka_topic_partition_list_t *pos;
            if (rd_kafka_assignment(consumer, &pos))
                die("assignment", "failed");
            rd_kafka_position(consumer, pos);
            rd_kafka_consumer_group_metadata_t *meta = rd_kafka_consumer_group_metadata(consumer);
            check(rd_kafka_send_offsets_to_transaction(producer, pos, meta, 30000),
                  "send_offsets_to_transaction");
            rd_kafka_consumer_group_metadata_destroy(meta);
            rd_kafka_topic_partition_list_destroy(pos);
            check(rd_kafka_commit_transaction(producer, 30000), "commit_transaction");
            open = false;
            committed += in_txn;
            in_txn = 0;
            commits++;
            last = now_s();
        }
    }
    printf("{\"events\":%ld,\"seconds\":%.3f,\"outputs\":%ld,\"output_bytes\":%lld,"
           "\"commits\":%ld}\n",
           committed, last - first, outputs, output_bytes, commits);
    free(value);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return 0;
}
