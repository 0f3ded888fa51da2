/*
 * demo.c -- `aftersale-worker demo`: the zero-infrastructure demo.
 *
 * 1. librdkafka's mock cluster starts in-process (three brokers on
 *    localhost listeners) with the input, output, dead-letter and changelog
 *    topics;
 * 2. the built-in generator's deterministic stream is produced to the input
 *    topic, Avro-encoded and keyed by order_id, through the produce tool's
 *    idempotent producer (murmur2_random: keys land where Java puts them);
 * 3. the same worker loop as `run` (asw_worker_step) processes it until
 *    every input record is committed;
 * 4. the decisions, refund records and dead letters are read back and
 *    summarised on stdout, and compared, order by order, with the offline
 *    replay of the same events (the per-record step of src/replay.c).
 *
 * The mock is not a real broker (in librdkafka 2.0.2 it shows aborted
 * records to read_committed readers and discards transactional offsets), so
 * the demo never claims exactly-once: that is what the integration tests on
 * Apache Kafka are for. See docs/demo.md.
 *
 * @locality everything runs on the caller's thread; librdkafka callbacks
 *           are served from rd_kafka_poll/flush/consumer_poll and
 *           asw_worker_step on it.
 */
#include "asw/demo.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/cli.h"
#include "asw/codec.h"
#include "asw/config.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "asw/kafka.h"
#include "asw/log.h"
#include "asw/processor.h"
#include "asw/worker.h"

#define DEMO_APP_ID    "aftersale-demo"
#define DEMO_WORKER_ID "demo-1"
/* The rollout of the property test: shops s7, s8 and s9 are not in it, so
 * MULTI_REFUND_NOT_ENABLED shows up too. */
#define DEMO_SHOPS       "s0,s1,s2,s3,s4,s5,s6"
#define DEMO_ACTIVE      16 /* orders interleaved by the generator */
#define DEMO_BAD_RECORDS 2
#define DEMO_BAD_EVERY   1000 /* a bad record after this many events */
#define MOCK_BROKERS     3
#define FLUSH_TIMEOUT_MS 60000
#define RUN_TIMEOUT_MS   120000
#define STEP_MS          50
#define DRAINED_HOLD_MS  500 /* lag 0 held this long means done */
#define READ_TIMEOUT_MS  30000
#define META_TIMEOUT_MS  10000
#define TOPIC_MAX        256
#define OVER_EXAMPLES    3
#define EXAMPLE_LINE_MAX 400
#define DLQ_ERROR_KINDS  8
#define DIFF_MAX         2048

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- outputs as the self-check compares them ---- */

enum { OUT_DECISION = 0, OUT_RECORD = 1 };

/* One output: its order, its place in the stream it came from, and its
 * canonical JSON line (source_partition/source_offset zeroed). */
typedef struct demo_out {
    char *order_id;
    int kind;
    int64_t seq;
    char *line;
} demo_out;

typedef struct demo_outs {
    demo_out *v;
    size_t n, cap;
    asw_buf scratch;
} demo_outs;

static void outs_free(demo_outs *o) {
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].order_id);
        free(o->v[i].line);
    }
    free(o->v);
    asw_buf_free(&o->scratch);
    memset(o, 0, sizeof *o);
}

/* Take the scratch buffer's JSON line (without its '\n') as an output. */
static void outs_push(demo_outs *o, const char *order_id, int kind) {
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 1024;
        o->v = asw_realloc(o->v, o->cap * sizeof *o->v);
    }
    size_t len = o->scratch.len;
    while (len > 0 && o->scratch.data[len - 1] == '\n')
        len--;
    demo_out *e = &o->v[o->n];
    e->order_id = asw_strdup(order_id);
    e->kind = kind;
    e->seq = (int64_t)o->n;
    e->line = asw_strndup((const char *)o->scratch.data, len);
    o->n++;
}

/* Where a decision came from differs between Kafka and the replay by
 * design (the replay does not know the offsets the mock gave); everything
 * else must be equal. */
static void outs_add_decision(demo_outs *o, const asw_decision *d) {
    asw_decision c = *d;
    c.source_partition = 0;
    c.source_offset = 0;
    asw_buf_reset(&o->scratch);
    asw_jsonl_format_decision(&c, &o->scratch);
    outs_push(o, d->order_id, OUT_DECISION);
}

static void outs_add_record(demo_outs *o, const asw_refund_record *r) {
    asw_buf_reset(&o->scratch);
    asw_jsonl_format_record(r, &o->scratch);
    outs_push(o, r->order_id, OUT_RECORD);
}

/* Kind, then order, then the order the stream produced them in: each
 * order's outputs in sequence, whatever the partition interleaving. */
static int out_cmp(const void *pa, const void *pb) {
    const demo_out *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    int c = strcmp(a->order_id, b->order_id);
    if (c)
        return c;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Position of v[i] among the outputs of its kind and order (1-based). */
static size_t pos_in_order(const demo_outs *o, size_t i) {
    size_t k = 1;
    while (i > 0 && o->v[i - 1].kind == o->v[i].kind &&
           strcmp(o->v[i - 1].order_id, o->v[i].order_id) == 0) {
        i--;
        k++;
    }
    return k;
}

static void describe_out(const demo_outs *o, size_t i, const char *who, char *buf, size_t len) {
    if (i >= o->n) {
        snprintf(buf, len, "  %-7s (nothing more)\n", who);
        return;
    }
    const demo_out *e = &o->v[i];
    snprintf(buf, len, "  %-7s order %s, %s #%zu: %.600s\n", who, e->order_id,
             e->kind == OUT_DECISION ? "decision" : "refund record", pos_in_order(o, i), e->line);
}

/*
 * Sort both sides and compare them. Returns true when equal; otherwise
 * writes the first difference (both sides' entries) into diff.
 */
static bool outs_compare(demo_outs *kafka, demo_outs *replay, char *diff, size_t difflen) {
    qsort(kafka->v, kafka->n, sizeof *kafka->v, out_cmp);
    qsort(replay->v, replay->n, sizeof *replay->v, out_cmp);
    size_t i = 0;
    for (; i < kafka->n && i < replay->n; i++) {
        const demo_out *a = &kafka->v[i], *b = &replay->v[i];
        if (a->kind != b->kind || strcmp(a->order_id, b->order_id) != 0 ||
            strcmp(a->line, b->line) != 0)
            break;
    }
    if (i == kafka->n && i == replay->n)
        return true;
    char ka[1024], rb[1024];
    describe_out(kafka, i, "kafka:", ka, sizeof ka);
    describe_out(replay, i, "replay:", rb, sizeof rb);
    snprintf(diff, difflen,
             "first difference (output %zu of %zu from Kafka, %zu replayed; "
             "source_partition/source_offset are not compared and show as 0):\n%.900s%.900s",
             i + 1, kafka->n, replay->n, ka, rb);
    return false;
}

/* ---- what came out of Kafka, for the report ---- */

enum { EX_ACCEPTED, EX_MULTI_REASON, EX_MULTI_REFUND, EX_DUPLICATE, EX_CARD, EX__COUNT };

static const char *const example_titles[EX__COUNT] = {"accepted", "several reasons", "multi-refund",
                                                      "duplicate", "merchant card"};

/* The first output of a kind, "first" meaning the smallest order id and,
 * within the order, the earliest: the same whatever the partitions'
 * interleaving on the way back. */
typedef struct demo_pick {
    bool set;
    char order_id[64];
    int64_t seq;
    char text[EXAMPLE_LINE_MAX];
} demo_pick;

typedef struct demo_tally {
    int64_t decisions, outcomes[ASW_OUT__COUNT], reasons[ASW_R__COUNT];
    int64_t multi_refund, duplicates;
    int64_t records, statuses[ASW_RS__COUNT], over_refunds;
    demo_pick over[OVER_EXAMPLES];
    demo_pick examples[EX__COUNT];
    int64_t dead_letters;
    int64_t late_events; /* dead letters LATE_EVENT (SPEC 7) */
    struct {
        char name[48];
        int64_t n;
    } dlq_errors[DLQ_ERROR_KINDS];
    int n_dlq_errors;
} demo_tally;

/* fen as yuan, "1234.05" / "-0.50". */
static const char *yuan(int64_t fen, char *buf, size_t len) {
    uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64, fen < 0 ? "-" : "", a / 100, a % 100);
    return buf;
}

/* Is (order_id, seq) before the pick's? */
static bool pick_wants(const demo_pick *p, const char *order_id, int64_t seq) {
    if (!p->set)
        return true;
    int c = strcmp(order_id, p->order_id);
    return c < 0 || (c == 0 && seq < p->seq);
}

static void pick_set(demo_pick *p, const char *order_id, int64_t seq) {
    p->set = true;
    snprintf(p->order_id, sizeof p->order_id, "%s", order_id);
    p->seq = seq;
}

/* One readable line for a decision: what was asked, the outcome and why,
 * then the quota and what is left (amounts in yuan). */
static void format_example(const asw_decision *d, char *buf, size_t len) {
    char reasons[256] = "", r1[32], r2[32];
    size_t at = 0;
    for (int r = 0; r < ASW_R__COUNT && at < sizeof reasons; r++)
        if (d->reasons & (1u << r))
            at += (size_t)snprintf(reasons + at, sizeof reasons - at, "%s%s", at ? "," : " ",
                                   asw_reason_name((asw_reason)r));
    char tags[96] = "";
    if (d->multi_refund)
        snprintf(tags, sizeof tags, "; multi_refund (%" PRId32 " earlier refund%s on the sku)",
                 d->sku_prior_refunds, d->sku_prior_refunds == 1 ? "" : "s");
    if (d->duplicate)
        snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "; duplicate");
    snprintf(buf, len,
             "%s (%s, shop %s, %s) %s%s; used %" PRId32 "/%" PRId32 "; left: order %s, sku %s%s",
             d->aftersale_id, d->sku_order_id, d->shop_id, asw_initiator_name(d->initiator),
             asw_outcome_name(d->outcome), reasons, d->applications_used, d->applications_limit,
             yuan(d->order_remaining, r1, sizeof r1), yuan(d->sku_remaining, r2, sizeof r2), tags);
}

static int popcount16(unsigned v) {
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static void tally_decision(demo_tally *t, const asw_decision *d, int64_t seq) {
    t->decisions++;
    if (d->outcome < ASW_OUT__COUNT)
        t->outcomes[d->outcome]++;
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (d->reasons & (1u << r))
            t->reasons[r]++;
    if (d->multi_refund)
        t->multi_refund++;
    if (d->duplicate)
        t->duplicates++;

    bool is[EX__COUNT] = {
        [EX_ACCEPTED] = d->outcome == ASW_OUT_ACCEPTED && d->initiator == ASW_INIT_BUYER &&
                        !d->duplicate && !d->multi_refund,
        [EX_MULTI_REASON] =
            popcount16(d->reasons) >= 2 && d->initiator == ASW_INIT_BUYER && !d->duplicate,
        /* An accepted zero-amount application (exchange, repair) on an
         * over-refunded sub-order is a multi-refund too, but a confusing
         * first example: show one with money left. */
        [EX_MULTI_REFUND] = d->multi_refund && d->outcome == ASW_OUT_ACCEPTED && !d->duplicate &&
                            d->sku_remaining >= 0,
        [EX_DUPLICATE] = d->duplicate,
        [EX_CARD] = d->initiator == ASW_INIT_MERCHANT_CARD && !d->duplicate,
    };
    for (int k = 0; k < EX__COUNT; k++) {
        demo_pick *p = &t->examples[k];
        if (!is[k] || !pick_wants(p, d->order_id, seq))
            continue;
        pick_set(p, d->order_id, seq);
        format_example(d, p->text, sizeof p->text);
    }
}

static void tally_record(demo_tally *t, const asw_refund_record *r, int64_t seq) {
    t->records++;
    if (r->status < ASW_RS__COUNT)
        t->statuses[r->status]++;
    if (!r->over_refund)
        return;
    t->over_refunds++;
    /* Keep the OVER_EXAMPLES first over-refunded orders, one alert each. */
    int slot = -1;
    for (int i = 0; i < OVER_EXAMPLES; i++) {
        demo_pick *p = &t->over[i];
        if (p->set && strcmp(p->order_id, r->order_id) == 0) {
            slot = pick_wants(p, r->order_id, seq) ? i : -2;
            break;
        }
    }
    if (slot == -2)
        return;
    if (slot == -1) {
        for (int i = 0; i < OVER_EXAMPLES && slot < 0; i++)
            if (pick_wants(&t->over[i], r->order_id, seq))
                slot = i;
        if (slot < 0)
            return;
        memmove(&t->over[slot + 1], &t->over[slot], (OVER_EXAMPLES - 1 - slot) * sizeof *t->over);
    }
    demo_pick *p = &t->over[slot];
    pick_set(p, r->order_id, seq);
    char a[32], b[32], c[32], d[32];
    int n = snprintf(p->text, sizeof p->text, "%s %s (%s %s):", r->order_id, r->sku_order_id,
                     r->record_id, asw_record_status_name(r->status));
    if (r->sku_refunded > r->sku_paid && n > 0 && (size_t)n < sizeof p->text)
        n += snprintf(p->text + n, sizeof p->text - (size_t)n, " sku refunded %s > paid %s",
                      yuan(r->sku_refunded, a, sizeof a), yuan(r->sku_paid, b, sizeof b));
    if (r->order_refunded > r->order_paid && n > 0 && (size_t)n < sizeof p->text)
        snprintf(p->text + n, sizeof p->text - (size_t)n, "%s order refunded %s > paid %s",
                 r->sku_refunded > r->sku_paid ? ";" : "", yuan(r->order_refunded, c, sizeof c),
                 yuan(r->order_paid, d, sizeof d));
}

static void tally_dead_letter(demo_tally *t, const rd_kafka_message_t *m) {
    t->dead_letters++;
    int64_t *late = &t->late_events;
    const char *name = "?";
    char copy[48];
    rd_kafka_headers_t *h = NULL;
    const void *val = NULL;
    size_t sz = 0;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, "asw.error", &val, &sz) == RD_KAFKA_RESP_ERR_NO_ERROR && val) {
        snprintf(copy, sizeof copy, "%.*s", (int)(sz < sizeof copy ? sz : sizeof copy - 1),
                 (const char *)val);
        name = copy;
    }
    if (strcmp(name, "LATE_EVENT") == 0)
        (*late)++;
    for (int i = 0; i < t->n_dlq_errors; i++)
        if (strcmp(t->dlq_errors[i].name, name) == 0) {
            t->dlq_errors[i].n++;
            return;
        }
    if (t->n_dlq_errors < DLQ_ERROR_KINDS) {
        snprintf(t->dlq_errors[t->n_dlq_errors].name, sizeof t->dlq_errors[0].name, "%s", name);
        t->dlq_errors[t->n_dlq_errors++].n = 1;
    }
}

/* ---- the run ---- */

/* Topic names and the numbers the report prints. */
typedef struct demo_run {
    asw_demo_opts opts;
    char topic_in[TOPIC_MAX], topic_dec[TOPIC_MAX], topic_rec[TOPIC_MAX], topic_dlq[TOPIC_MAX],
        topic_cl[TOPIC_MAX];
    int32_t *partition_of; /* input partition of each generated event, by index */
    int64_t events;        /* generated events produced */
    int bad;               /* bad records produced */
    int64_t produced;      /* records produced: events + bad */
    int64_t produce_ms;
    int64_t join_ms, process_ms; /* worker: until the first record, then until drained */
    asw_worker_stats stats;
    int64_t replay_dead_letters;
    int64_t replay_late_events;
    char commit_policy[96]; /* for the report */
} demo_run;

/* Delivery reports of the input producer (the ctx owner). */
typedef struct demo_delivery {
    demo_run *run;
    int64_t delivered, failed;
    char first_error[256];
} demo_delivery;

/* @locality the thread that calls rd_kafka_poll/flush (this one). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    demo_delivery *d = ((asw_kafka_ctx *)opaque)->owner;
    if (m->err) {
        if (d->failed++ == 0)
            snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
        return;
    }
    int64_t i = (int64_t)(intptr_t)m->_private;
    if (i >= 0 && i < d->run->events) /* -1: a bad record */
        d->run->partition_of[i] = m->partition;
    d->delivered++;
}

static void setup_input_producer(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
}

/*
 * The demo's configuration: defaults, the demo's application and worker
 * ids, a fast commit interval, the rollout, and the mock's brokers.
 * Returns the config, or NULL with a message in err.
 */
static asw_config *demo_config(const char *bootstraps, asw_log_level level, char *err,
                               size_t errlen) {
    const char *const settings[][2] = {
        {"application.id", DEMO_APP_ID},
        {"worker.id", DEMO_WORKER_ID},
        {"commit.interval.ms", "100"},
        {"rules.multi_refund.shops", DEMO_SHOPS},
        {"log.level", level == ASW_LOG_INFO ? "info" : "warn"},
        {"bootstrap.servers", bootstraps},
    };
    asw_config *cfg = asw_config_new();
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (!settings[i][1])
            continue; /* no brokers yet: the handle that hosts the mock */
        char msg[256];
        if (asw_config_set(cfg, settings[i][0], settings[i][1], msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s: %s", settings[i][0], msg);
            asw_config_destroy(cfg);
            return NULL;
        }
    }
    return cfg;
}

/* Produce one record (value copied), waiting while the queue is full.
 * Delivery reports of earlier records may be served meanwhile: the caller
 * counts the record before it calls. Returns 0, or -1 with a message in err. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, const void *value,
                       size_t len, int64_t index, char *err, size_t errlen) {
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE((void *)(intptr_t)index), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(rk, 50);
    }
    if (e) {
        snprintf(err, errlen, "producing to %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* The bad input the demo mixes in, so that the dead-letter path shows: a
 * JSON event sent to the Avro topic by mistake (BAD_MAGIC), and a frame
 * naming a schema id nobody registered (UNKNOWN_SCHEMA_ID). */
static const struct {
    const char *value;
    size_t len;
} bad_records[DEMO_BAD_RECORDS] = {
#define BAD_RECORD(s)                                                                              \
    { s, sizeof(s) - 1 }
    BAD_RECORD("{\"type\":\"AfterSaleApplied\",\"event_id\":\"json-by-mistake\"}"),
    BAD_RECORD("\x00\x00\x00\x00\x63\x02\x41"),
#undef BAD_RECORD
};

/*
 * Produce the generated stream to the input topic, with the bad records
 * after events DEMO_BAD_EVERY, 2 * DEMO_BAD_EVERY (or at the end of a short
 * stream), and wait for every delivery report; records the partition each
 * event landed on. Returns 0, or -1 with a message in err.
 */
static int produce_input(demo_run *run, const asw_config *cfg, asw_log *log, asw_codec *codec,
                         char *err, size_t errlen) {
    int rc = -1;
    demo_delivery dl = {.run = run};
    asw_kafka_ctx ctx = {log, &dl};
    asw_gen *g = asw_gen_new(run->opts.seed, run->opts.orders, DEMO_ACTIVE);
    asw_buf buf = ASW_BUF_INIT;
    asw_event ev;
    asw_event_init(&ev);
    char last_key[64] = "";
    size_t cap = 0;
    int64_t t0 = now_ms();
    rd_kafka_t *rk =
        asw_kafka_new(cfg, ASW_KAFKA_TOOL_PRODUCER, &ctx, NULL, setup_input_producer, err, errlen);
    if (!rk)
        goto fail;
    while (asw_gen_next(g, &ev)) {
        if ((size_t)run->events == cap) {
            cap = cap ? cap * 2 : 4096;
            run->partition_of = asw_realloc(run->partition_of, cap * sizeof *run->partition_of);
        }
        if (asw_codec_encode_event(codec, &ev, &buf) != ASW_CODEC_OK) {
            snprintf(err, errlen, "cannot encode event %s", ev.event_id);
            goto fail;
        }
        int64_t i = run->events++;
        run->partition_of[i] = -1;
        if (produce_one(rk, run->topic_in, ev.order_id, buf.data, buf.len, i, err, errlen) != 0)
            goto fail;
        snprintf(last_key, sizeof last_key, "%s", ev.order_id);
        asw_event_clear(&ev);
        if (run->events % DEMO_BAD_EVERY == 0 && run->bad < DEMO_BAD_RECORDS) {
            int k = run->bad++;
            if (produce_one(rk, run->topic_in, last_key, bad_records[k].value, bad_records[k].len,
                            -1, err, errlen) != 0)
                goto fail;
        }
        rd_kafka_poll(rk, 0);
    }
    while (run->bad < DEMO_BAD_RECORDS) {
        int k = run->bad++;
        if (produce_one(rk, run->topic_in, last_key, bad_records[k].value, bad_records[k].len, -1,
                        err, errlen) != 0)
            goto fail;
    }
    run->produced = run->events + run->bad;
    rd_kafka_resp_err_t e = rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
    if (e) {
        snprintf(err, errlen, "flushing %s: %s", run->topic_in, rd_kafka_err2str(e));
        goto fail;
    }
    if (dl.failed || dl.delivered != run->produced) {
        snprintf(err, errlen, "%" PRId64 " of %" PRId64 " records not delivered to %s: %.200s",
                 run->produced - dl.delivered, run->produced, run->topic_in,
                 dl.failed ? dl.first_error : "no delivery report");
        goto fail;
    }
    run->produce_ms = now_ms() - t0;
    rc = 0;
fail:
    if (rk)
        rd_kafka_destroy(rk);
    asw_event_clear(&ev);
    asw_buf_free(&buf);
    asw_gen_destroy(g);
    return rc;
}

/* Every input partition assigned to the worker? */
static bool all_assigned(const asw_worker *w, int32_t partitions) {
    for (int32_t p = 0; p < partitions; p++)
        if (!asw_worker_partition(w, p))
            return false;
    return true;
}

/*
 * Run the worker until every produced event is processed and committed:
 * all partitions assigned, at least `produced` records consumed, and lag 0
 * held for DRAINED_HOLD_MS. Returns 0, or -1 with a message in err (a fatal
 * worker error, a timeout, or a stop signal).
 */
static int run_worker(demo_run *run, const asw_config *cfg, asw_log *log,
                      const volatile sig_atomic_t *stop, char *err, size_t errlen) {
    int rc = -1;
    asw_worker *w = asw_worker_new(cfg, log, err, errlen);
    if (!w)
        goto fail;
    if (asw_worker_start(w, err, errlen) != 0)
        goto fail;
    int64_t t0 = now_ms(), first = -1, drained_since = -1;
    for (;;) {
        if (*stop) {
            snprintf(err, errlen, "interrupted");
            goto fail;
        }
        if (asw_worker_step(w, STEP_MS) != 0) {
            snprintf(err, errlen, "worker: %s", asw_worker_error(w));
            goto fail;
        }
        int64_t t = now_ms();
        asw_worker_get_stats(w, &run->stats);
        if (first < 0 && run->stats.consumed > 0)
            first = t;
        int64_t lag = asw_worker_lag(w);
        bool drained = run->stats.consumed >= run->produced &&
                       all_assigned(w, run->opts.partitions) && lag == 0;
        if (!drained) {
            drained_since = -1;
        } else if (drained_since < 0) {
            drained_since = t;
        } else if (t - drained_since >= DRAINED_HOLD_MS) {
            break;
        }
        if (t - t0 > RUN_TIMEOUT_MS) {
            snprintf(err, errlen,
                     "worker did not finish within %d s: consumed %" PRId64 " of %" PRId64
                     " records, %" PRId64 " commits, %" PRId64 " aborts, lag %" PRId64
                     " (-1: unknown), all partitions assigned: %s",
                     RUN_TIMEOUT_MS / 1000, run->stats.consumed, run->produced, run->stats.commits,
                     run->stats.aborts, lag, all_assigned(w, run->opts.partitions) ? "yes" : "no");
            goto fail;
        }
    }
    run->join_ms = first - t0;
    run->process_ms = drained_since - first;
    if (asw_worker_close(w) != 0) {
        snprintf(err, errlen, "worker close: %s", asw_worker_error(w));
        goto fail;
    }
    asw_worker_get_stats(w, &run->stats);
    rc = 0;
fail:
    asw_worker_destroy(w);
    return rc;
}

/*
 * Read the decisions, refund records and dead letters back, from the
 * beginning of every partition up to its end (read_committed), into the
 * tally and the self-check's list. Returns 0, or -1 with a message in err.
 */
static int read_outputs(demo_run *run, const asw_config *cfg, asw_log *log, asw_codec *codec,
                        demo_tally *t, demo_outs *outs, char *err, size_t errlen) {
    int rc = -1;
    asw_kafka_ctx ctx = {log, NULL};
    rd_kafka_topic_partition_list_t *parts = NULL;
    const char *topics[] = {run->topic_dec, run->topic_rec, run->topic_dlq};
    int remaining = 0;
    rd_kafka_t *rk = asw_kafka_new(cfg, ASW_KAFKA_TOOL_CONSUMER, &ctx, NULL, NULL, err, errlen);
    if (!rk)
        goto fail;
    parts = rd_kafka_topic_partition_list_new(3 * run->opts.partitions);
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        int32_t n = 0;
        int r = asw_kafka_partition_count(rk, topics[i], META_TIMEOUT_MS, &n, err, errlen);
        if (r > 0)
            snprintf(err, errlen, "topic %s does not exist", topics[i]);
        if (r != 0)
            goto fail;
        for (int32_t p = 0; p < n; p++)
            rd_kafka_topic_partition_list_add(parts, topics[i], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    remaining = parts->cnt;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) {
        snprintf(err, errlen, "assigning the output topics: %s", rd_kafka_err2str(e));
        goto fail;
    }
    int64_t deadline = now_ms() + READ_TIMEOUT_MS;
    char msg[256];
    while (remaining > 0) {
        if (now_ms() > deadline) {
            snprintf(err, errlen,
                     "reading the outputs back: %d partitions not at their end after %d s",
                     remaining, READ_TIMEOUT_MS / 1000);
            goto fail;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Each partition reports its end once: nothing is produced now. */
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_find(parts, topic, m->partition);
            if (tp && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                tp->err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
                remaining--;
            }
        } else if (m->err) {
            asw_log_write(log, ASW_LOG_WARN, "demo_read_error", "topic=%s error=\"%s\"", topic,
                          rd_kafka_message_errstr(m));
        } else if (strcmp(topic, run->topic_dlq) == 0) {
            tally_dead_letter(t, m);
        } else {
            asw_codec_err ce;
            bool dec = strcmp(topic, run->topic_dec) == 0;
            if (dec) {
                asw_decision d;
                ce = asw_codec_decode_decision(codec, m->payload, m->len, &d, msg, sizeof msg);
                if (ce == ASW_CODEC_OK) {
                    tally_decision(t, &d, (int64_t)outs->n);
                    outs_add_decision(outs, &d);
                }
            } else {
                asw_refund_record r;
                ce = asw_codec_decode_record(codec, m->payload, m->len, &r, msg, sizeof msg);
                if (ce == ASW_CODEC_OK) {
                    tally_record(t, &r, (int64_t)outs->n);
                    outs_add_record(outs, &r);
                }
            }
            if (ce != ASW_CODEC_OK) {
                snprintf(err, errlen, "%s [%" PRId32 "] offset %" PRId64 " does not decode: %s: %s",
                         topic, m->partition, m->offset, asw_codec_err_name(ce), msg);
                rd_kafka_message_destroy(m);
                goto fail;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
fail:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/*
 * The offline replay of the same events: regenerated from the seed and
 * applied, one processor per input partition like the worker, to the
 * partition each event was delivered to (stream time, and so the eviction
 * of old orders, is per partition). The per-record step is the replay's
 * (src/replay.c). Returns 0, or -1 with a message in err when an event's
 * partition is unknown (its delivery report was not seen).
 */

/* Where the offline replay's outputs go: counted, and kept to compare. */
typedef struct replay_out {
    demo_run *run;
    demo_outs *outs;
} replay_out;

static void replay_dead_letter(void *opaque, const char *code, const char *error) {
    replay_out *o = opaque;
    (void)error;
    o->run->replay_dead_letters++;
    if (strcmp(code, "LATE_EVENT") == 0)
        o->run->replay_late_events++;
}

static void replay_decision(void *opaque, const asw_decision *d) {
    outs_add_decision(((replay_out *)opaque)->outs, d);
}

static void replay_record(void *opaque, const asw_refund_record *r) {
    outs_add_record(((replay_out *)opaque)->outs, r);
}

static const asw_result_sink replay_sink = {replay_dead_letter, replay_decision, replay_record};

static int replay_offline(demo_run *run, const asw_config *cfg, demo_outs *outs, char *err,
                          size_t errlen) {
    int rc = -1;
    int32_t np = run->opts.partitions;
    const asw_settings *s = asw_config_settings(cfg);
    asw_processor **procs = asw_calloc((size_t)np, sizeof *procs);
    for (int32_t p = 0; p < np; p++) {
        procs[p] = asw_processor_new(s->ruleset, &s->state, false);
        asw_processor_set_topic(procs[p], run->topic_in);
    }
    asw_gen *g = asw_gen_new(run->opts.seed, run->opts.orders, DEMO_ACTIVE);
    asw_event ev;
    run->replay_dead_letters = run->bad; /* they never decode: no event to replay */
    for (int64_t i = 0; asw_gen_next(g, &ev); i++) {
        int32_t p = i < run->events ? run->partition_of[i] : -1;
        if (p < 0 || p >= np) {
            snprintf(err, errlen, "offline replay: event %" PRId64 " has no known partition", i);
            asw_event_clear(&ev);
            goto fail;
        }
        asw_source src = {run->topic_in, p, i};
        asw_result res;
        asw_processor_apply(procs[p], &ev, &src, &res);
        replay_out o = {run, outs};
        asw_result_dispatch(&res, &replay_sink, &o);
        asw_event_clear(&ev);
    }
    rc = 0;
fail:
    asw_gen_destroy(g);
    for (int32_t p = 0; p < np; p++)
        asw_processor_destroy(procs[p]);
    free(procs);
    return rc;
}

/* ---- the report ---- */

static double per_sec(int64_t n, int64_t ms) {
    return ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0;
}

static void print_report(const demo_run *run, const demo_tally *t, FILE *out) {
    const asw_worker_stats *s = &run->stats;
    fprintf(out,
            "aftersale-worker demo: the worker on an in-process mock Kafka cluster "
            "(%d brokers); amounts in yuan\n\n",
            MOCK_BROKERS);

    fprintf(out, "run\n");
    fprintf(out,
            "  input         %" PRId64 " events of %" PRId32 " order%s (seed %" PRIu64
            ") and %d undecodable records\n"
            "                -> %s (%" PRId32 " partition%s) in %.2f s\n",
            run->events, run->opts.orders, run->opts.orders == 1 ? "" : "s", run->opts.seed,
            run->bad, run->topic_in, run->opts.partitions, run->opts.partitions == 1 ? "" : "s",
            (double)run->produce_ms / 1000.0);
    fprintf(out,
            "  worker        %s/%s: %" PRId64 " records processed, %" PRId64
            " transactions committed, %" PRId64 " aborted\n",
            DEMO_APP_ID, DEMO_WORKER_ID, s->consumed, s->commits, s->aborts);
    fprintf(out,
            "  elapsed       %.2f s processing, after %.2f s start-up (group join, changelog "
            "restore)\n",
            (double)run->process_ms / 1000.0, (double)run->join_ms / 1000.0);
    fprintf(out, "  throughput    %.0f records/s (processing, and committing %s)\n\n",
            per_sec(s->consumed, run->process_ms), run->commit_policy);

    fprintf(out, "decisions       %" PRId64 ": %" PRId64 " ACCEPTED, %" PRId64 " REJECTED\n",
            t->decisions, t->outcomes[ASW_OUT_ACCEPTED], t->outcomes[ASW_OUT_REJECTED]);
    fprintf(out, "  rejections by reason (a rejection lists every reason that applies):\n");
    for (int r = 0; r < ASW_R__COUNT; r++)
        fprintf(out, "    %-34s %7" PRId64 "\n", asw_reason_name((asw_reason)r), t->reasons[r]);
    fprintf(out, "  multi-refund tagged decisions      %7" PRId64 "\n", t->multi_refund);
    fprintf(out, "  duplicates re-emitted              %7" PRId64 "\n", t->duplicates);
    fprintf(out, "  dead letters                       %7" PRId64, t->dead_letters);
    for (int i = 0; i < t->n_dlq_errors; i++)
        fprintf(out, "%s%s %" PRId64, i ? ", " : "  (", t->dlq_errors[i].name, t->dlq_errors[i].n);
    fprintf(out, "%s\n", t->n_dlq_errors ? ")" : "");
    fprintf(out, "  late events (LATE_EVENT, SPEC 7)   %7" PRId64 "\n\n", t->late_events);

    fprintf(out, "refund records  %" PRId64 ":", t->records);
    for (int st = 0; st < ASW_RS__COUNT; st++)
        fprintf(out, "%s %s %" PRId64, st ? "," : "", asw_record_status_name((asw_record_status)st),
                t->statuses[st]);
    fprintf(out, "\n  over-refund alerts                 %7" PRId64 "\n", t->over_refunds);
    for (int i = 0; i < OVER_EXAMPLES; i++)
        if (t->over[i].set)
            fprintf(out, "    %s\n", t->over[i].text);

    fprintf(out, "\nexample decisions (the first of each kind by order id)\n");
    for (int k = 0; k < EX__COUNT; k++)
        if (t->examples[k].set)
            fprintf(out, "  %-16s %s\n", example_titles[k], t->examples[k].text);
    fputc('\n', out);
}

/* ---- the command ---- */

int asw_demo_run(const asw_demo_opts *opts) {
    demo_run run;
    memset(&run, 0, sizeof run);
    run.opts = *opts;
    int rc;

    char err[512] = "";
    asw_config *cfg = NULL;
    asw_log *log = asw_log_new(stderr, run.opts.verbose ? ASW_LOG_INFO : ASW_LOG_WARN);
    asw_kafka_ctx mock_ctx = {log, NULL};
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    asw_codec *codec = NULL;
    demo_tally *tally = asw_calloc(1, sizeof *tally);
    demo_outs from_kafka, from_replay;
    memset(&from_kafka, 0, sizeof from_kafka);
    memset(&from_replay, 0, sizeof from_replay);
    char *diff = asw_calloc(1, DIFF_MAX);
    const volatile sig_atomic_t *stop = asw_cli_stop_on_signals();
    rc = 1;

    /* The mock lives on a handle of its own, created before its brokers
     * exist (so without bootstrap.servers); it never produces. */
    cfg = demo_config(NULL, run.opts.verbose ? ASW_LOG_INFO : ASW_LOG_WARN, err, sizeof err);
    if (!cfg)
        goto fail;
    mock_rk = asw_kafka_new(cfg, ASW_KAFKA_TOOL_PRODUCER, &mock_ctx, NULL, NULL, err, sizeof err);
    if (!mock_rk)
        goto fail;
    mc = rd_kafka_mock_cluster_new(mock_rk, MOCK_BROKERS);
    if (!mc) {
        snprintf(err, sizeof err, "cannot start the librdkafka mock cluster");
        goto fail;
    }
    asw_config_destroy(cfg);
    cfg = demo_config(rd_kafka_mock_cluster_bootstraps(mc),
                      run.opts.verbose ? ASW_LOG_INFO : ASW_LOG_WARN, err, sizeof err);
    if (!cfg)
        goto fail;

    const asw_settings *s = asw_config_settings(cfg);
    snprintf(run.topic_in, TOPIC_MAX, "%s", s->topic.input);
    snprintf(run.topic_dec, TOPIC_MAX, "%s", s->topic.decisions);
    snprintf(run.topic_rec, TOPIC_MAX, "%s", s->topic.refund_records);
    snprintf(run.topic_dlq, TOPIC_MAX, "%s", s->topic.dlq);
    snprintf(run.topic_cl, TOPIC_MAX, "%s", s->topic.changelog);
    snprintf(run.commit_policy, sizeof run.commit_policy,
             "every %" PRId64 " ms or %" PRId64 " records", s->commit_interval_ms,
             s->commit_max_records);
    /* CreateTopics is not implemented by the mock: topics are made on it
     * directly. The worker finds them and creates nothing. */
    const char *topics[] = {run.topic_in, run.topic_dec, run.topic_rec, run.topic_dlq,
                            run.topic_cl};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[i], run.opts.partitions, 1);
        if (e) {
            snprintf(err, sizeof err, "mock cluster: creating %s: %s", topics[i],
                     rd_kafka_err2str(e));
            goto fail;
        }
    }

    if (!(codec = asw_codec_new(err, sizeof err)))
        goto fail;
    if (produce_input(&run, cfg, log, codec, err, sizeof err) != 0)
        goto fail;
    if (run_worker(&run, cfg, log, stop, err, sizeof err) != 0)
        goto fail;
    if (read_outputs(&run, cfg, log, codec, tally, &from_kafka, err, sizeof err) != 0)
        goto fail;
    if (replay_offline(&run, cfg, &from_replay, err, sizeof err) != 0)
        goto fail;

    print_report(&run, tally, stdout);
    int64_t n_dec = tally->decisions, n_rec = tally->records;
    bool same = outs_compare(&from_kafka, &from_replay, diff, DIFF_MAX);
    if (same && (tally->dead_letters != run.replay_dead_letters ||
                 tally->late_events != run.replay_late_events)) {
        snprintf(diff, DIFF_MAX,
                 "dead letters: %" PRId64 " (%" PRId64 " late) in Kafka, %" PRId64 " (%" PRId64
                 " late) in the offline replay\n",
                 tally->dead_letters, tally->late_events, run.replay_dead_letters,
                 run.replay_late_events);
        same = false;
    }
    if (same) {
        printf("self-check: outputs match the offline replay: yes (%" PRId64 " decisions, %" PRId64
               " records)\n",
               n_dec, n_rec);
    } else {
        printf("self-check: outputs match the offline replay: NO\n%s", diff);
        if (run.stats.aborts > 0)
            printf("  (%" PRId64 " transactions were aborted: the 2.0.2 mock shows aborted "
                   "records to read_committed readers)\n",
                   run.stats.aborts);
    }
    printf("note: mock cluster: not a real broker — exactly-once is verified by the "
           "integration tests on Apache Kafka\n");
    if (fflush(stdout) != 0) {
        snprintf(err, sizeof err, "writing stdout: %s", strerror(errno));
        goto fail;
    }
    rc = same ? 0 : 1;
fail:
    if (err[0])
        fprintf(stderr, "aftersale-worker demo: %s\n", err);
    outs_free(&from_kafka);
    outs_free(&from_replay);
    free(diff);
    free(tally);
    free(run.partition_of);
    asw_codec_destroy(codec);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (mock_rk)
        rd_kafka_destroy(mock_rk);
    asw_config_destroy(cfg);
    asw_log_destroy(log);
    return rc;
}
