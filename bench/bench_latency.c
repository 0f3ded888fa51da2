/*
 * bench_latency.c -- append-to-visible latency of decisions, for the
 * throughput harness (bench/throughput.py), against a worker already
 * running on INPUT_TOPIC.
 *
 * It produces the events of a JSON Lines file to INPUT_TOPIC at a steady
 * RATE (events/s; idempotent producer, keys = order ids, the partitioner
 * of the `produce` tool), and notes when each record is appended (its
 * delivery report: acknowledged by the broker). Meanwhile it reads
 * DECISIONS_TOPIC read_committed from its end; for each decision the
 * latency is the time from the append of the input record it names
 * (source_partition, source_offset) until the decision is read, both on
 * this process's monotonic clock. It stops when every AfterSaleApplied
 * produced has its decision (or after a timeout) and prints one JSON line:
 *
 *   {"events":N,"rate":R,"decisions":D,"p50_ms":..,"p99_ms":..,"max_ms":..,
 *    "warmup_s":W,"steady_decisions":..,"steady_p50_ms":..,"steady_p99_ms":..,
 *    "steady_max_ms":..}
 *
 * The figures are given twice: over every decision, and over the decisions
 * of records appended after the first WARMUP_S seconds (default 0), when
 * the worker's first transactions on its new topics are behind it. Each
 * second's count and largest latency go to stderr.
 *
 * Usage: asw-bench-latency BROKERS INPUT_TOPIC DECISIONS_TOPIC EVENTS.jsonl RATE [WARMUP_S]
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/jsonl.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "asw-bench-latency: %s: %s\n", what, why);
    exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die(k, err);
}

/* Append times by partition and offset (offsets of one run are dense). */
#define MAX_PARTS 256
static struct {
    double *t;
    int64_t base, n;
} appended[MAX_PARTS];

static void note_append(int32_t p, int64_t off, double t) {
    if (p < 0 || p >= MAX_PARTS)
        return;
    if (!appended[p].t) {
        appended[p].base = off;
        appended[p].n = 1 << 16;
        appended[p].t = calloc((size_t)appended[p].n, sizeof(double));
    }
    int64_t i = off - appended[p].base;
    if (i < 0)
        return;
    while (i >= appended[p].n) {
        appended[p].t = realloc(appended[p].t, (size_t)appended[p].n * 2 * sizeof(double));
        memset(appended[p].t + appended[p].n, 0, (size_t)appended[p].n * sizeof(double));
        appended[p].n *= 2;
    }
    appended[p].t[i] = t;
}

static double append_time(int32_t p, int64_t off) {
    if (p < 0 || p >= MAX_PARTS || !appended[p].t)
        return 0;
    int64_t i = off - appended[p].base;
    return i >= 0 && i < appended[p].n ? appended[p].t[i] : 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err)
        die("delivery", rd_kafka_err2str(m->err));
    note_append(m->partition, m->offset, now_s());
}

/* The q-quantile of n sorted values, in milliseconds (1 = the largest). */
static double pct(const double *v, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t i = (size_t)((double)n * q);
    return v[i < n ? i : n - 1] * 1000;
}

static int rate_seconds(size_t n, double rate) {
    return (int)((double)n / rate) + 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s BROKERS INPUT DECISIONS EVENTS.jsonl RATE [WARMUP_S]\n",
                argv[0]);
        return 2;
    }
    const char *brokers = argv[1], *input = argv[2], *decisions = argv[3];
    double rate = strtod(argv[5], NULL);
    double warmup_s = argc == 7 ? strtod(argv[6], NULL) : 0;
    char err[512];
    asw_codec *codec = asw_codec_new(err, sizeof err);
    if (!codec)
        die("codec", err);

    /* The events, encoded once. */
    FILE *f = fopen(argv[4], "r");
    if (!f)
        die(argv[4], "cannot open");
    asw_buf *frames = NULL;
    char **keys = NULL;
    size_t n = 0, cap = 0, applied = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        asw_event ev;
        if (asw_jsonl_parse_event(line, (size_t)len, &ev, err, sizeof err) != 0)
            die("event", err);
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            frames = realloc(frames, cap * sizeof *frames);
            keys = realloc(keys, cap * sizeof *keys);
        }
        frames[n] = (asw_buf)ASW_BUF_INIT;
        if (asw_codec_encode_event(codec, &ev, &frames[n]) != ASW_CODEC_OK)
            die("encode", ev.event_id);
        keys[n] = strdup(ev.order_id);
        applied += ev.type == ASW_EV_APPLIED;
        asw_event_clear(&ev);
        n++;
    }
    free(line);
    fclose(f);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", brokers);
    set(pc, "enable.idempotence", "true");
    set(pc, "partitioner", "murmur2_random");
    set(pc, "linger.ms", "1");
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!producer)
        die("producer", err);
    /* Warm the producer up before the clock starts: the input topic's
     * leaders known and the idempotent producer id acquired, so that the
     * first records are not held back and then appended in one burst. */
    const rd_kafka_metadata_t *imd;
    rd_kafka_topic_t *it = rd_kafka_topic_new(producer, input, NULL);
    if (rd_kafka_metadata(producer, 0, it, &imd, 10000) || imd->topic_cnt != 1 ||
        imd->topics[0].err)
        die(input, "no such topic");
    rd_kafka_metadata_destroy(imd);
    rd_kafka_topic_destroy(it);
    /* librdkafka has no call that says the producer id is acquired; on
     * one broker on this machine it takes a few milliseconds. */
    for (int i = 0; i < 50; i++)
        rd_kafka_poll(producer, 10);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", brokers);
    set(cc, "group.id", "asw-bench-latency");
    set(cc, "isolation.level", "read_committed");
    set(cc, "enable.auto.commit", "false");
    set(cc, "fetch.wait.max.ms", "5");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!consumer)
        die("consumer", err);
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *dt = rd_kafka_topic_new(consumer, decisions, NULL);
    if (rd_kafka_metadata(consumer, 0, dt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err)
        die(decisions, "no such topic");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    /* From each partition's end as it is now, before anything is fed: an
     * explicit offset, not OFFSET_END, which the consumer resolves only at
     * its first fetch (by then the first decisions may be written). */
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t id = md->topics[0].partitions[i].id;
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(consumer, decisions, id, &lo, &hi, 10000))
            die(decisions, "no watermarks");
        rd_kafka_topic_partition_list_add(l, decisions, id)->offset = hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(dt);
    if (rd_kafka_assign(consumer, l))
        die("assign", decisions);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_poll_set_consumer(consumer);
    for (int i = 0; i < 20; i++) { /* let the assignment settle at the end */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 50);
        if (m)
            rd_kafka_message_destroy(m);
    }

    double *lat = malloc((applied + 1) * sizeof *lat);
    double *when = malloc((applied + 1) * sizeof *when); /* append, seconds from start */
    size_t got = 0, sent = 0;
    double start = now_s(), deadline = 0;
    while (got < applied) {
        double t = now_s();
        /* Send what is due by now at the rate. */
        while (sent < n && (double)sent / rate <= t - start) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(input), RD_KAFKA_V_KEY(keys[sent], strlen(keys[sent])),
                RD_KAFKA_V_VALUE(frames[sent].data, frames[sent].len), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            if (e)
                die("produce", rd_kafka_err2str(e));
            sent++;
        }
        if (sent == n && deadline == 0)
            deadline = now_s() + 60;
        if (deadline && now_s() > deadline)
            break;
        rd_kafka_poll(producer, 0);
        /* Every decision readable now, so that this tool's own backlog is
         * not counted as the worker's latency. */
        for (int wait_ms = 1;; wait_ms = 0) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, wait_ms);
            if (!m)
                break;
            if (!m->err) {
                asw_decision d;
                if (asw_codec_decode_decision(codec, m->payload, m->len, &d, err, sizeof err) ==
                    ASW_CODEC_OK) {
                    double at = append_time(d.source_partition, d.source_offset);
                    if (at > 0 && got < applied) {
                        when[got] = at - start;
                        lat[got++] = now_s() - at;
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_flush(producer, 10000);
    /* Each second of the run on stderr: how the latency settles after the
     * worker's first transactions. */
    for (int sec = 0;; sec++) {
        size_t k = 0;
        double worst = 0;
        for (size_t i = 0; i < got; i++)
            if (when[i] >= sec && when[i] < sec + 1) {
                k++;
                worst = lat[i] > worst ? lat[i] : worst;
            }
        if (k == 0 && sec > rate_seconds(n, rate))
            break;
        fprintf(stderr, "second %d: %zu decisions, max %.0f ms\n", sec, k, worst * 1000);
    }
    /* The steady state: decisions of records appended after the warm-up. */
    size_t steady = 0;
    for (size_t i = 0; i < got; i++)
        if (when[i] >= warmup_s)
            when[steady++] = lat[i];
    qsort(lat, got, sizeof *lat, cmp_double);
    qsort(when, steady, sizeof *when, cmp_double);
    printf("{\"events\":%zu,\"rate\":%.0f,\"decisions\":%zu,\"expected\":%zu,"
           "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,\"warmup_s\":%.1f,"
           "\"steady_decisions\":%zu,\"steady_p50_ms\":%.1f,\"steady_p99_ms\":%.1f,"
           "\"steady_max_ms\":%.1f}\n",
           sent, rate, got, applied, pct(lat, got, 0.5), pct(lat, got, 0.99), pct(lat, got, 1),
           warmup_s, steady, pct(when, steady, 0.5), pct(when, steady, 0.99), pct(when, steady, 1));
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    for (size_t i = 0; i < n; i++) {
        asw_buf_free(&frames[i]);
        free(keys[i]);
    }
    free(frames);
    free(keys);
    free(lat);
    free(when);
    asw_codec_destroy(codec);
    return got == applied ? 0 : 1;
}
