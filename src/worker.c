/*
 * worker.c -- the consume-transform-produce loop on Kafka transactions.
 *
 * Shaped after librdkafka's examples/transactions.c: the worker is the
 * consumer's rebalance opaque; on revoke it commits the open transaction (or
 * aborts it when the assignment was lost); on an abortable error it aborts,
 * rolls every partition's in-memory state back to the last commit, rewinds
 * the consumer to the last committed offsets and goes on; a fatal error
 * (fenced, authentication, authorization) ends the loop with a reason.
 *
 * Per input partition the worker keeps a processor (order states, stream
 * time, changes since the last commit) and two offsets: `committed`, where
 * the last committed transaction left the partition (or, before any commit
 * since assignment, the first offset consumed), and `next`, the offset after
 * the last record processed. A transaction carries, for each partition, the
 * outputs of records committed..next-1, the changelog records of the orders
 * they changed, and the offset `next`.
 *
 * Lanes (num.threads): the partitions are dealt to lanes, partition p to
 * lane p % num.threads, and each lane has its own codec and buffer. The
 * calling thread polls the consumer and gathers a batch of records; the
 * lanes then process their partitions' records of the batch in parallel,
 * lane 0 on the calling thread and the others on threads of their own, and
 * the batch ends when every lane is done (fork-join). The changelog of a
 * commit is written the same way. Everything else -- polling, rebalancing,
 * restoring, committing, aborting -- runs on the calling thread while no
 * lane runs. Outputs do not depend on the number of lanes: an order's
 * records are in one partition, processed in order by one lane.
 *
 * @locality asw_worker_step() and everything it calls run on the calling
 *           thread, except the lane jobs (process_lane(), changelog_lane()
 *           and what they call); librdkafka callbacks are served from inside
 *           asw_worker_step() and, for producer callbacks, from a lane that
 *           waits on a full producer queue.
 * @locks    state_lock guards the transaction state and the fatal reason
 *           (txn_set(), set_fatal()); the pool's lock guards its job
 *           counters. A lane writes only its own partitions and its own
 *           lane struct.
 */
#include "asw/worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/changelog.h"
#include "asw/codec.h"
#include "asw/http.h"
#include "asw/jsonl.h"
#include "asw/kafka.h"
#include "asw/metrics.h"
#include "asw/registry.h"
#include "asw/rules_topic.h"

#define TOPIC_MAX              256
#define META_TIMEOUT_MS        10000
#define TXN_TIMEOUT_MS         60000
#define RESTORE_TIMEOUT_MS     300000
#define COMMIT_RETRIES         10
#define MAX_ABORTS_IN_A_ROW    10
#define MAX_FENCES_IN_A_ROW    3
#define EVICT_ROUNDS           100 /* commits per sweep of every order for retention */
#define STATS_EVERY_MS         10000
#define BATCH_MAX              4096 /* input records processed between two polls of the queue */
#define VIEW_EVERY_MS          1000 /* the HTTP view's watermarks, between commits */
#define CONSUMER_POLL_EVERY_MS 100  /* the consumer's error and statistics callbacks */
#define QUERY_OWNER_MS         2000 /* for the coordinator to name a partition's owner */
#define QUERY_WAIT_MS          5000 /* the longest a ledger query waits for a commit */
#define REGISTRY_PAUSE_MS      250  /* first pause while the Schema Registry is away; doubled */
#define REGISTRY_PAUSE_MAX_MS  2000 /* cap of those pauses */
#define BAD_IDS_MAX            64   /* schema ids of one batch that the registry refused */

/*
 * The worker's transaction state: one field, moved only by txn_set(), which
 * checks each move as librdkafka's transaction manager does
 * (rd_kafka_txn_state_transition_is_valid):
 *
 *   READY --begin--> IN_TXN --commit or abort--> READY
 *                    IN_TXN --a record failed--> ABORTABLE --abort--> READY
 *   any --fatal error--> FATAL (terminal: the worker stops with a reason)
 */
typedef enum wtxn {
    WTXN_READY = 0, /* no transaction open */
    WTXN_IN_TXN,    /* begun: records produced into it */
    WTXN_ABORTABLE, /* a record of it failed: it can only be aborted */
    WTXN_FATAL      /* the worker must stop (asw_worker_error() says why) */
} wtxn;

static const char *wtxn_name(wtxn s) {
    static const char *const names[] = {"READY", "IN_TXN", "ABORTABLE", "FATAL"};
    return names[s];
}

static bool wtxn_transition_is_valid(wtxn from, wtxn to) {
    switch (to) {
    case WTXN_READY:
        return from == WTXN_IN_TXN || from == WTXN_ABORTABLE;
    case WTXN_IN_TXN:
        return from == WTXN_READY;
    case WTXN_ABORTABLE:
        return from == WTXN_IN_TXN || from == WTXN_ABORTABLE;
    case WTXN_FATAL:
        return true;
    }
    return false;
}

typedef struct wpart {
    asw_processor *proc; /* NULL: not assigned, or quarantined */
    bool quarantined;    /* assigned, but its changelog could not be restored whole */
    int64_t committed;   /* < 0: nothing consumed since assignment */
    int64_t next;
    bool restoring;                      /* its changelog is being read */
    int64_t restore_read, restore_total; /* changelog records, while restoring */
} wpart;

/* A schema id of the batch that will not decode whatever is retried: the
 * registry does not know it (404), or its schema is not one of ours. */
typedef struct wbad_id {
    int32_t id;
    const char *code; /* the dead-letter error: UNKNOWN_SCHEMA_ID, SCHEMA_ERROR */
    char message[768];
} wbad_id;

/* What the lanes are asked to do. */
typedef enum wjob { WJOB_PROCESS, WJOB_CHANGELOG, WJOB_QUIT } wjob;

/* A lane: the partitions p with p % n_lanes == index. Only the lane writes
 * this while it runs; the calling thread reads it after the join. */
typedef struct wlane {
    struct asw_worker *w;
    int index;
    asw_codec *codec;
    asw_buf buf;
    rd_kafka_resp_err_t last_produce_error; /* of its last synchronous produce failure */
    asw_worker_stats stats;                 /* counted here, added to the worker's at the join */
    asw_counts counts;                      /* outputs since the last commit or abort */
    int64_t records;                        /* input records it added to the transaction */
    rd_kafka_message_t **msgs;              /* its records of the batch, in consumer order */
    size_t n_msgs, cap_msgs;
    size_t done_msgs;         /* of them processed; the rest wait for the rules topic */
    int64_t held_time;        /* the event time msgs[done_msgs] waits for */
    int64_t decided_max_time; /* the latest event time it decided in this batch */
    pthread_t thread;         /* lanes 1.. only */
} wlane;

struct asw_worker {
    const asw_config *cfg;
    const asw_settings *settings; /* cfg's */
    asw_log *log;
    asw_kafka_ctx ctx;
    rd_kafka_t *consumer, *producer, *restorer;
    /* With rules.topic: the ruleset by event time, followed from the control
     * topic (both NULL without: the processors decide by the config's
     * ruleset). rules_through: events up to this time
     * are decided now (asw_rules_topic_through(), or further for a batch
     * that waited rules.topic.wait.max.ms); read by the lanes. */
    asw_rulebook *book;
    asw_rules_topic *rules;
    int64_t rules_through;
    char topic_in[TOPIC_MAX], topic_dec[TOPIC_MAX], topic_rec[TOPIC_MAX], topic_dlq[TOPIC_MAX],
        topic_cl[TOPIC_MAX];
    char txn_id[512];
    int32_t n_parts;
    int32_t dlq_parts;
    wpart *parts;

    const volatile sig_atomic_t *stop; /* set by asw_worker_run(); may be NULL */
    bool started, closed;
    _Atomic(wtxn) txn;          /* moved by txn_set() and set_fatal() only */
    pthread_mutex_t state_lock; /* for txn_set() and set_fatal() */
    int aborts_in_a_row;        /* since the last successful commit */
    _Atomic bool fenced;        /* the producer was fenced: renew it (renew_producer()) */
    int fences_in_a_row;        /* producers renewed since the last successful commit */
    int64_t txn_begin_ms;
    int64_t txn_records;
    int64_t commit_interval_ms, commit_max_records;
    asw_state_limits limits;
    int64_t last_stats_ms;
    int64_t consumer_polled_ms; /* periodic(): the consumer's main queue served */

    /* The Schema Registry (NULL: the built-in ids). Unknown ids of a batch
     * are looked up before it is processed (resolve_schema_ids()); while the
     * registry is away the batch waits, unprocessed (registry_pause()). */
    asw_registry *registry;
    bool registry_wait;       /* the batch was dropped unprocessed: rewind, pause */
    int registry_pauses;      /* in a row, for the backoff */
    char registry_error[512]; /* why it waits */
    wbad_id bad_ids[BAD_IDS_MAX];
    int n_bad_ids;

    char error[512];      /* why the worker is WTXN_FATAL */
    char last_error[512]; /* the last error_cb report that was not fatal */
    asw_worker_stats stats;

    /* The lanes and their pool (lanes 1.. on threads of their own). */
    wlane *lanes;
    int n_lanes, threads_started;
    size_t batched; /* records in the lanes' batches */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_go, pool_done;
    uint64_t pool_generation; /* bumped for each job */
    wjob pool_job;
    int pool_pending; /* lanes 1.. still running the job */

    /* What the HTTP endpoint shows: published by the polling thread at each
     * commit (and now and then for the watermarks), read by the HTTP one. */
    asw_counts committed_counts;
    int64_t commit_buckets[ASW_COMMIT_BUCKETS + 1], commit_count;
    double commit_ms_sum;
    bool joined;
    asw_http *http;
    pthread_mutex_t view_lock;
    asw_worker_view view; /* view.parts: n_parts entries once started */
    int64_t view_ms;

    /* Ledger queries from the HTTP thread, answered by the polling thread
     * from committed state (between transactions); under query_lock. */
    pthread_mutex_t query_lock;
    pthread_cond_t query_done;
    struct wquery *queries;
    _Atomic int queries_pending;
};

/* GET /v1/orders/{id}: asked by the HTTP thread, answered by the polling
 * one, or given up after QUERY_WAIT_MS. */
typedef struct wquery {
    struct wquery *next;
    char order_id[ASW_TEXT_MAX + 1];
    int status;
    asw_buf body;
    bool done;
    int32_t elsewhere; /* 404: the order's partition, owned by another member; -1 */
} wquery;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_fatal(const asw_worker *w) {
    return w->txn == WTXN_FATAL;
}

/* A transaction is open (possibly only abortable). */
static bool txn_open(const asw_worker *w) {
    return w->txn == WTXN_IN_TXN || w->txn == WTXN_ABORTABLE;
}

/* Stop the worker with a reason (the first reason wins). Any thread. */
__attribute__((format(printf, 2, 3))) static void set_fatal(asw_worker *w, const char *fmt, ...) {
    pthread_mutex_lock(&w->state_lock);
    if (w->txn != WTXN_FATAL) {
        /* The reason first: the HTTP thread reads it once it sees FATAL. */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->error, sizeof w->error, fmt, ap);
        va_end(ap);
        w->txn = WTXN_FATAL;
        asw_log_write(w->log, ASW_LOG_FATAL, "worker_fatal", "reason=\"%s\"", w->error);
    }
    pthread_mutex_unlock(&w->state_lock);
}

/* The open transaction failed and can only be aborted (a delivery failed,
 * or librdkafka refuses records in it). Any thread. */
static void txn_fail(asw_worker *w) {
    pthread_mutex_lock(&w->state_lock);
    if (w->txn == WTXN_IN_TXN)
        w->txn = WTXN_ABORTABLE;
    pthread_mutex_unlock(&w->state_lock);
}

/* Move the transaction state; a move the state machine does not allow is a
 * bug, and stops the worker rather than go on in a state nobody planned.
 * Any thread. */
static void txn_set(asw_worker *w, wtxn to) {
    pthread_mutex_lock(&w->state_lock);
    wtxn from = w->txn;
    bool valid = from == WTXN_FATAL || wtxn_transition_is_valid(from, to);
    if (from != WTXN_FATAL && valid)
        w->txn = to;
    pthread_mutex_unlock(&w->state_lock);
    if (!valid)
        set_fatal(w, "internal error: transaction state %s cannot become %s", wtxn_name(from),
                  wtxn_name(to));
}

/* The coordinator refuses our producer's epoch (it has been fenced), or
 * ended our transaction itself (INVALID_TXN_STATE to our EndTxn: it
 * aborted the transaction after transaction.timeout.ms). */
static bool is_fence_code(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR__FENCED || e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           e == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
           e == RD_KAFKA_RESP_ERR_INVALID_TXN_STATE;
}

/* The producer was fenced: its open transaction can only be dropped, and
 * the polling thread renews the producer (abort_and_rewind()) or stops.
 * Any thread. */
static void set_fenced(asw_worker *w, const char *what, const char *why) {
    pthread_mutex_lock(&w->state_lock);
    if (w->txn != WTXN_FATAL && !w->fenced) {
        w->fenced = true;
        if (w->txn == WTXN_IN_TXN)
            w->txn = WTXN_ABORTABLE;
        asw_log_write(w->log, ASW_LOG_WARN, "producer_fenced", "in=%s reason=\"%s\"", what, why);
    }
    pthread_mutex_unlock(&w->state_lock);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait before retrying a retriable error: 100 ms, 200 ms, ... up to 1 s. */
static void backoff(int attempt) {
    sleep_ms(attempt < 9 ? 100L * (attempt + 1) : 1000L);
}

/* Classify a transactional API error: a fence is recovered from
 * (set_fenced()), anything else ends the worker. */
static void fatal_from_error(asw_worker *w, const char *what, rd_kafka_error_t *error) {
    if (is_fence_code(rd_kafka_error_code(error)))
        set_fenced(w, what, rd_kafka_error_string(error));
    else
        set_fatal(w, "%s: %s: %s", what, rd_kafka_err2name(rd_kafka_error_code(error)),
                  rd_kafka_error_string(error));
}

/* ---- librdkafka callbacks ---- */

static bool is_fatal_code(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return true;
    default:
        return false;
    }
}

/* A client raised a fatal error (__FATAL): the worker stops. */
static void set_client_fatal(asw_worker *w, rd_kafka_t *rk) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    if (rd_kafka_type(rk) == RD_KAFKA_PRODUCER && is_fence_code(orig))
        set_fenced(w, "producer", buf);
    else if (orig == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
        set_fatal(w,
                  "the group fenced this worker's membership (group.instance.id %s): another "
                  "worker has this worker.id, or, after a broker outage, this one's own rejoin "
                  "replaced it (librdkafka 2.0.2 makes both fatal); each worker needs a worker.id "
                  "of its own",
                  w->txn_id);
    else
        set_fatal(w, "fatal Kafka error in %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(orig),
                  buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    asw_kafka_ctx *ctx = opaque;
    asw_worker *w = ctx->owner;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        set_client_fatal(w, rk);
        return;
    }
    if (is_fatal_code((rd_kafka_resp_err_t)err)) {
        set_fatal(w, "%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
        return;
    }
    pthread_mutex_lock(&w->state_lock);
    snprintf(w->last_error, sizeof w->last_error, "%s: %s", rd_kafka_err2name(err), reason);
    pthread_mutex_unlock(&w->state_lock);
    asw_log_write(w->log, ASW_LOG_WARN, "kafka_error", "client=%s error=%s reason=\"%s\"",
                  rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    asw_kafka_ctx *ctx = opaque;
    asw_worker *w = ctx->owner;
    if (!m->err)
        return;
    if (is_fatal_code(m->err)) {
        set_fatal(w, "producing to %s: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2name(m->err));
        return;
    }
    /* A failed delivery fails the transaction: commit will report it as an
     * abortable (or fatal) error; note it so commit aborts right away. */
    txn_fail(w);
    asw_log_write(w->log, ASW_LOG_WARN, "delivery_failed", "topic=%s error=%s",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2name(m->err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);
static int start_lanes(asw_worker *w, char *err, size_t errlen);
static void stop_lanes(asw_worker *w);
static void publish_view(asw_worker *w);
static void http_handler(void *ctx, const char *path, asw_http_reply *reply);

/* librdkafka's statistics (statistics.interval.ms), served on the polling
 * thread by its polls: parsed into the HTTP view. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    asw_worker *w = ((asw_kafka_ctx *)opaque)->owner;
    int c = rk == w->consumer ? 0 : rk == w->producer ? 1 : -1;
    if (c < 0)
        return 0;
    pthread_mutex_lock(&w->view_lock);
    asw_kafka_stats *k = &w->view.kafka[c];
    if (asw_kafka_stats_parse(json, len, k) == 0)
        k->reports++;
    pthread_mutex_unlock(&w->view_lock);
    return 0; /* librdkafka frees json */
}

static void setup_consumer(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
}

static void setup_producer(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
}

static void setup_restorer(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set_error_cb(conf, error_cb);
}

/* ---- life cycle ---- */

asw_worker *asw_worker_new(const asw_config *cfg, asw_log *log, char *err, size_t errlen) {
    asw_worker *w = asw_calloc(1, sizeof *w);
    pthread_mutex_init(&w->state_lock, NULL);
    pthread_mutex_init(&w->view_lock, NULL);
    pthread_mutex_init(&w->query_lock, NULL);
    pthread_cond_init(&w->query_done, NULL);
    pthread_mutex_init(&w->pool_lock, NULL);
    pthread_cond_init(&w->pool_go, NULL);
    pthread_cond_init(&w->pool_done, NULL);
    w->cfg = cfg;
    w->log = log;
    w->ctx.log = log;
    w->ctx.owner = w;
    const asw_settings *s = asw_config_settings(cfg);
    w->settings = s;
    snprintf(w->topic_in, TOPIC_MAX, "%s", s->topic.input);
    snprintf(w->topic_dec, TOPIC_MAX, "%s", s->topic.decisions);
    snprintf(w->topic_rec, TOPIC_MAX, "%s", s->topic.refund_records);
    snprintf(w->topic_dlq, TOPIC_MAX, "%s", s->topic.dlq);
    snprintf(w->topic_cl, TOPIC_MAX, "%s", s->topic.changelog);
    asw_kafka_transactional_id(cfg, w->txn_id, sizeof w->txn_id);
    w->commit_interval_ms = s->commit_interval_ms;
    w->commit_max_records = s->commit_max_records;
    w->limits = s->state;
    /* Loaded configs were checked already; one built in code is checked here. */
    if (asw_kafka_check_config(cfg, err, errlen) != 0)
        goto fail;

    w->n_lanes = s->num_threads;
    w->lanes = asw_calloc((size_t)w->n_lanes, sizeof *w->lanes);
    for (int i = 0; i < w->n_lanes; i++) {
        w->lanes[i].w = w;
        w->lanes[i].index = i;
        w->lanes[i].decided_max_time = INT64_MIN;
        w->lanes[i].codec = asw_codec_new(err, errlen);
        if (!w->lanes[i].codec)
            goto fail;
    }
    asw_registry_options ro;
    if (asw_registry_options_from_config(cfg, &ro)) {
        w->registry = asw_registry_new(&ro, err, errlen);
        asw_registry_options_clear(&ro);
        if (!w->registry)
            goto fail;
    }
    w->producer = asw_kafka_new(cfg, ASW_KAFKA_WORKER_PRODUCER, &w->ctx, w->txn_id, setup_producer,
                                err, errlen);
    if (!w->producer)
        goto fail;
    w->consumer =
        asw_kafka_new(cfg, ASW_KAFKA_WORKER_CONSUMER, &w->ctx, NULL, setup_consumer, err, errlen);
    if (!w->consumer)
        goto fail;
    w->restorer =
        asw_kafka_new(cfg, ASW_KAFKA_RESTORE_CONSUMER, &w->ctx, NULL, setup_restorer, err, errlen);
    if (!w->restorer)
        goto fail;
    w->rules_through = INT64_MAX;
    if (w->settings->rules.topic[0]) {
        w->book = asw_rulebook_new(w->settings->ruleset);
        w->rules = asw_rules_topic_new(cfg, &w->ctx, w->book, log, err, errlen);
        if (!w->rules)
            goto fail;
    }
    if (start_lanes(w, err, errlen) != 0)
        goto fail;
    return w;
fail:
    w->closed = true;
    asw_worker_destroy(w);
    return NULL;
}

/* Make sure a topic exists, creating it with the input's partition count
 * when missing; with must_match, an existing topic must have that count.
 * Returns the partition count, or -1 with err. */
static int32_t ensure_topic(asw_worker *w, const char *topic, bool compact, bool must_match,
                            char *err, size_t errlen) {
    int32_t n = 0;
    int rc = asw_kafka_partition_count(w->producer, topic, META_TIMEOUT_MS, &n, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (asw_kafka_create_topic(w->producer, topic, w->n_parts,
                                   w->settings->topic.replication_factor, compact, META_TIMEOUT_MS,
                                   err, errlen) != 0)
            return -1;
        asw_log_write(w->log, ASW_LOG_INFO, "topic_created",
                      "topic=%s partitions=%" PRId32 " compact=%s", topic, w->n_parts,
                      compact ? "true" : "false");
        return w->n_parts;
    }
    if (must_match && n != w->n_parts) {
        snprintf(err, errlen,
                 "changelog topic %s has %" PRId32 " partitions but input topic %s has %" PRId32
                 ": they must match (one changelog partition per input partition)",
                 topic, n, w->topic_in, w->n_parts);
        return -1;
    }
    return n;
}

/* Wait until the cluster answers, serving the producer's callbacks between
 * tries. A wrong password reaches only error_cb (RD_KAFKA_RESP_ERR__AUTHENTICATION,
 * fatal there); a metadata request would just time out as "Broker transport
 * failure", which says nothing of why. Returns 0, or -1 with the reason. */
static int await_cluster(asw_worker *w, char *err, size_t errlen) {
    int64_t deadline = now_ms() + META_TIMEOUT_MS;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(w->producer, 0, NULL, &md, 200);
        if (!e) {
            rd_kafka_metadata_destroy(md);
            return 0;
        }
        rd_kafka_poll(w->producer, 100); /* also a pause when the request fails at once */
        pthread_mutex_lock(&w->state_lock);
        bool fatal = is_fatal(w), late = now_ms() >= deadline;
        if (fatal)
            snprintf(err, errlen, "%s", w->error);
        else if (late)
            snprintf(err, errlen, "no Kafka broker answered within %d ms: %s", META_TIMEOUT_MS,
                     w->last_error[0] ? w->last_error : rd_kafka_err2str(e));
        pthread_mutex_unlock(&w->state_lock);
        if (fatal || late)
            return -1;
    }
}

/*
 * Register the output schemas (Decision under <topic.decisions>-value,
 * RefundRecord under <topic.refund_records>-value) and frame the outputs
 * with the registry's ids from now on; input ids are the registry's too.
 * Returns 0, or -1 with one line in err (the registry's URL and why).
 */
static int register_outputs(asw_worker *w, char *err, size_t errlen) {
    static const char *const records[] = {"Decision", "RefundRecord"};
    const char *topics[] = {w->topic_dec, w->topic_rec};
    int32_t ids[2];
    for (int i = 0; i < 2; i++) {
        char subject[TOPIC_MAX + 8], why[512];
        asw_registry_value_subject(topics[i], subject, sizeof subject);
        asw_registry_err re = asw_registry_register(
            w->registry, subject, asw_codec_schema_text(records[i]), &ids[i], why, sizeof why);
        if (re != ASW_REGISTRY_OK) {
            snprintf(err, errlen, "registering the %s schema under subject %s: %s", records[i],
                     subject, why);
            return -1;
        }
        asw_log_write(w->log, ASW_LOG_INFO, "schema_registered",
                      "registry=%s subject=%s record=%s id=%" PRId32, asw_registry_url(w->registry),
                      subject, records[i], ids[i]);
    }
    for (int l = 0; l < w->n_lanes; l++) {
        asw_codec_forget_builtin_ids(w->lanes[l].codec);
        for (int i = 0; i < 2; i++)
            if (asw_codec_use_id(w->lanes[l].codec, records[i], ids[i], err, errlen) !=
                ASW_CODEC_OK)
                return -1;
    }
    return 0;
}

int asw_worker_start(asw_worker *w, char *err, size_t errlen) {
    if (w->registry && register_outputs(w, err, errlen) != 0)
        return -1;
    if (await_cluster(w, err, errlen) != 0)
        return -1;
    int rc = asw_kafka_partition_count(w->producer, w->topic_in, META_TIMEOUT_MS, &w->n_parts, err,
                                       errlen);
    if (rc == 1) {
        snprintf(err, errlen, "input topic %s does not exist", w->topic_in);
        return -1;
    }
    if (rc < 0)
        return -1;
    w->parts = asw_calloc((size_t)w->n_parts, sizeof *w->parts);
    snprintf(w->view.topic, sizeof w->view.topic, "%s", w->topic_in);
    w->view.n_parts = w->n_parts;
    w->view.parts = asw_calloc((size_t)w->n_parts, sizeof *w->view.parts);
    const char *listen = w->settings->http.listen;
    if (listen[0]) {
        w->http = asw_http_start(listen, http_handler, w, err, errlen);
        if (!w->http)
            return -1;
        asw_log_write(w->log, ASW_LOG_INFO, "http_listening", "listen=%s port=%d", listen,
                      asw_http_port(w->http));
    }
    if (ensure_topic(w, w->topic_cl, true, true, err, errlen) < 0 ||
        ensure_topic(w, w->topic_dec, false, false, err, errlen) < 0 ||
        ensure_topic(w, w->topic_rec, false, false, err, errlen) < 0)
        return -1;
    w->dlq_parts = ensure_topic(w, w->topic_dlq, false, false, err, errlen);
    if (w->dlq_parts < 0)
        return -1;
    /* Every change of the ruleset before any event. */
    if (w->rules) {
        if (asw_rules_topic_start(w->rules, w->producer, META_TIMEOUT_MS, err, errlen) != 0)
            return -1;
        w->rules_through = asw_rules_topic_through(w->rules);
    }

    rd_kafka_error_t *error = rd_kafka_init_transactions(w->producer, TXN_TIMEOUT_MS);
    if (error) {
        snprintf(err, errlen, "init_transactions (transactional.id %s): %s", w->txn_id,
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, w->topic_in, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(w->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errlen, "subscribe to %s: %s", w->topic_in, rd_kafka_err2str(e));
        return -1;
    }
    w->started = true;
    w->last_stats_ms = now_ms();
    publish_view(w);
    asw_log_write(w->log, ASW_LOG_INFO, "worker_started",
                  "input=%s partitions=%" PRId32 " changelog=%s transactional_id=%s threads=%d",
                  w->topic_in, w->n_parts, w->topic_cl, w->txn_id, w->n_lanes);
    return 0;
}

/* ---- producing ---- */

/* Produce one record in the open transaction. The value is copied; headers
 * (may be NULL) are taken over. On failure the transaction is marked failed
 * (or the worker fatal). Returns 0 or -1. */
static int produce(wlane *l, const char *topic, int32_t partition, const void *key, size_t keylen,
                   const void *value, size_t len, rd_kafka_headers_t *hdrs) {
    asw_worker *w = l->w;
    for (;;) {
        rd_kafka_resp_err_t e;
        if (hdrs)
            e = rd_kafka_producev(
                w->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(w->producer, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)value, len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !is_fatal(w)) {
            rd_kafka_poll(w->producer, 50);
            continue;
        }
        if (e) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            l->last_produce_error = e;
            if (e != RD_KAFKA_RESP_ERR__FATAL &&
                (e == RD_KAFKA_RESP_ERR__STATE || w->txn == WTXN_ABORTABLE)) {
                /* After a failed delivery librdkafka refuses every further
                 * record of the transaction: abort it, not the worker. */
                txn_fail(w);
                return -1;
            }
            if (e == RD_KAFKA_RESP_ERR__FATAL) {
                set_client_fatal(w, w->producer);
            } else {
                /* Refused locally (too large, unknown partition, ...): the
                 * same record would be refused again after an abort, so
                 * retrying would only loop. The caller may handle
                 * MSG_SIZE_TOO_LARGE; anything else ends the worker. */
                if (e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
                    set_fatal(w, "producing %zu bytes to %s: %s", len, topic, rd_kafka_err2str(e));
            }
            return -1;
        }
        return 0;
    }
}

static void header_i64(rd_kafka_headers_t *h, const char *name, int64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, v);
    rd_kafka_header_add(h, name, -1, num, -1);
}

/* The input record, unchanged, to the dead-letter topic with headers that
 * say what was wrong and where it came from. */
static void dead_letter(wlane *l, const rd_kafka_message_t *m, const char *code,
                        const char *message) {
    asw_worker *w = l->w;
    l->counts.dead_letters[asw_dead_letter_index(code)]++;
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, "asw.error", -1, code, -1);
    rd_kafka_header_add(h, "asw.error.message", -1, message, -1);
    rd_kafka_header_add(h, "asw.source.topic", -1, w->topic_in, -1);
    header_i64(h, "asw.source.partition", m->partition);
    header_i64(h, "asw.source.offset", m->offset);
    /* Deterministic placement: the source partition, folded onto the DLQ. */
    int32_t part = w->dlq_parts > 0 ? m->partition % w->dlq_parts : RD_KAFKA_PARTITION_UA;
    rd_kafka_headers_t *again = rd_kafka_headers_copy(h);
    if (produce(l, w->topic_dlq, part, m->key, m->key_len, m->payload, m->len, h) == 0) {
        l->stats.dead_letters++;
    } else if (!is_fatal(w) && w->txn != WTXN_ABORTABLE &&
               l->last_produce_error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        /* Too large to copy: the dead letter points at the original, which
         * stays in the input topic at the source partition and offset. A key
         * longer than any id goes too (it may be what was too large). */
        bool drop_key = m->key_len > ASW_TEXT_MAX;
        header_i64(again, "asw.value.dropped.bytes", (int64_t)m->len);
        if (drop_key)
            header_i64(again, "asw.key.dropped.bytes", (int64_t)m->key_len);
        if (produce(l, w->topic_dlq, part, drop_key ? NULL : m->key, drop_key ? 0 : m->key_len,
                    NULL, 0, again) == 0)
            l->stats.dead_letters++;
        else if (w->txn != WTXN_ABORTABLE)
            set_fatal(w, "cannot produce a dead letter to %s", w->topic_dlq);
        again = NULL;
    }
    if (again)
        rd_kafka_headers_destroy(again);
    asw_log_write(w->log, ASW_LOG_WARN, "dead_letter",
                  "partition=%" PRId32 " offset=%" PRId64 " error=%s message=\"%s\"", m->partition,
                  m->offset, code, message);
}

/* Produce one encoded output. One the producer refuses as too large -- only
 * a decision echoing the ids of an INVALID_REQUEST of nearly a megabyte can
 * be -- becomes a dead letter OUTPUT_TOO_LARGE instead: the input stays at
 * its offset for anyone to see, and the partition goes on. */
static void produce_output(wlane *l, const rd_kafka_message_t *m, const char *topic,
                           const char *what, const char *order_id, int64_t *count) {
    asw_worker *w = l->w;
    size_t klen = strlen(order_id);
    if (produce(l, topic, RD_KAFKA_PARTITION_UA, order_id, klen, l->buf.data, l->buf.len, NULL) ==
        0) {
        (*count)++;
        return;
    }
    if (is_fatal(w) || w->txn == WTXN_ABORTABLE)
        return;
    if (l->last_produce_error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the %s (%zu bytes, key %zu bytes) is larger than the producer "
                 "or topic accepts",
                 what, l->buf.len, klen);
        dead_letter(l, m, "OUTPUT_TOO_LARGE", msg);
        return;
    }
    set_fatal(w, "cannot produce the %s for order %.200s (%zu bytes)", what, order_id, l->buf.len);
}

/* Where one input record's outputs go (asw_result_dispatch()). */
typedef struct record_out {
    wlane *l;
    const rd_kafka_message_t *m;
    const char *order_id;
} record_out;

static void out_dead_letter(void *opaque, const char *code, const char *error) {
    record_out *o = opaque;
    if (strcmp(code, "LATE_EVENT") == 0) {
        dead_letter(o->l, o->m, code, error);
        o->l->stats.late_events++;
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "invalid event: %s", error);
    dead_letter(o->l, o->m, code, msg);
}

static void out_decision(void *opaque, const asw_decision *d) {
    record_out *o = opaque;
    wlane *l = o->l;
    if (is_fatal(l->w))
        return;
    if (asw_codec_encode_decision(l->codec, d, &l->buf) != ASW_CODEC_OK) {
        set_fatal(l->w, "cannot encode a decision for order %.200s", o->order_id);
        return;
    }
    l->counts.decisions[d->outcome]++;
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (d->reasons & (1u << r))
            l->counts.reasons[r]++;
    l->counts.duplicates += d->duplicate;
    produce_output(l, o->m, l->w->topic_dec, "decision", o->order_id, &l->stats.decisions);
}

static void out_record(void *opaque, const asw_refund_record *r) {
    record_out *o = opaque;
    wlane *l = o->l;
    if (is_fatal(l->w))
        return;
    if (asw_codec_encode_record(l->codec, r, &l->buf) != ASW_CODEC_OK) {
        set_fatal(l->w, "cannot encode a refund record for order %.200s", o->order_id);
        return;
    }
    l->counts.records[r->status]++;
    l->counts.over_refunds += r->over_refund;
    produce_output(l, o->m, l->w->topic_rec, "refund record", o->order_id, &l->stats.records);
}

static const asw_result_sink worker_sink = {out_dead_letter, out_decision, out_record};

/* ---- the HTTP view ---- */

/* Copy what the HTTP endpoint shows into the view. Counts are those of
 * committed transactions only, so they match what read_committed readers
 * see. @locality the polling thread */
static void publish_view(asw_worker *w) {
    if (!w->view.parts)
        return;
    pthread_mutex_lock(&w->view_lock);
    asw_worker_view *v = &w->view;
    v->started = w->started;
    v->joined = w->joined;
    v->counts = w->committed_counts;
    v->commits = w->stats.commits;
    v->aborts = w->stats.aborts;
    v->producers_renewed = w->stats.producers_renewed;
    v->restored_orders = w->stats.restored;
    v->changelog_corrupt = w->stats.changelog_corrupt;
    v->quarantined_total = w->stats.quarantined;
    memcpy(v->commit_buckets, w->commit_buckets, sizeof v->commit_buckets);
    v->commit_count = w->commit_count;
    v->commit_ms_sum = w->commit_ms_sum;
    if (w->rules) {
        asw_rules_topic_stats rs;
        asw_rules_topic_get_stats(w->rules, &rs);
        v->rules_on = true;
        v->rules_changes = rs.changes;
        v->rules_invalid = rs.invalid;
        v->rules_late = rs.late;
        v->rules_waits = rs.waits;
        v->rules_wait_expired = rs.wait_expired;
        v->rules_wait_ms = rs.wait_ms;
        v->rules_through = rs.through;
        v->rules_offset = rs.offset;
        snprintf(
            v->rules_version, sizeof v->rules_version, "%s",
            asw_ruleset_version(asw_rulebook_at(w->book, asw_rules_topic_caught_up_at(w->rules))));
    }
    for (int32_t p = 0; p < w->n_parts; p++) {
        const wpart *wp = &w->parts[p];
        asw_partition_view *pv = &v->parts[p];
        pv->assigned = wp->proc || wp->quarantined || wp->restoring;
        pv->restoring = wp->restoring;
        pv->quarantined = wp->quarantined;
        pv->restore_read = wp->restore_read;
        pv->restore_total = wp->restore_total;
        int64_t lo = -1, hi = -1;
        if (pv->assigned)
            rd_kafka_get_watermark_offsets(w->consumer, w->topic_in, p, &lo, &hi);
        pv->high = hi;
        /* Nothing consumed since the assignment: the position is the low
         * watermark when the group had no offset, else unknown. */
        pv->committed = wp->committed >= 0 ? wp->committed : -1;
        pv->has_stream_time = wp->proc && asw_processor_has_stream_time(wp->proc);
        pv->stream_time = pv->has_stream_time ? asw_processor_stream_time(wp->proc) : 0;
        pv->orders = wp->proc ? (int64_t)asw_processor_order_count(wp->proc) : 0;
    }
    pthread_mutex_unlock(&w->view_lock);
    w->view_ms = now_ms();
}

/* A JSON string (ids are UTF-8 of at most ASW_TEXT_MAX bytes; quotes,
 * backslashes and control bytes escaped). */
static void json_str(asw_buf *b, const char *s) {
    asw_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            asw_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            asw_buf_printf(b, "\\u%04x", c);
        else
            asw_buf_append(b, s, 1);
    }
    asw_buf_append(b, "\"", 1);
}

/* Answer one ledger query from the state of the last commit: the order's
 * ledger, sub-orders, applications and external refunds
 * (asw_jsonl_format_state), or a 404 naming its partition.
 * @locality the polling thread, no transaction open */
static void answer_query(asw_worker *w, wquery *q) {
    for (int32_t p = 0; p < w->n_parts; p++) {
        const wpart *wp = &w->parts[p];
        const asw_order *o = wp->proc ? asw_processor_get(wp->proc, q->order_id) : NULL;
        if (!o)
            continue;
        q->status = 200;
        asw_buf_printf(&q->body, "{\"order_id\":");
        json_str(&q->body, q->order_id);
        asw_buf_printf(&q->body,
                       ",\"topic\":\"%s\",\"partition\":%" PRId32 ",\"committed_offset\":%" PRId64
                       ",\"state\":",
                       w->topic_in, p, wp->committed);
        size_t at = q->body.len;
        asw_jsonl_format_state(o, &q->body);
        while (q->body.len > at && q->body.data[q->body.len - 1] == '\n')
            q->body.len--;
        asw_buf_append_str(&q->body, "}\n");
        return;
    }
    /* Where the Java client (and the worker's own tools) put the key. */
    int32_t p = rd_kafka_msg_partitioner_murmur2(NULL, q->order_id, strlen(q->order_id), w->n_parts,
                                                 NULL, NULL);
    bool here = p >= 0 && p < w->n_parts && w->parts[p].proc;
    q->status = 404;
    q->elsewhere = here ? -1 : p;
    asw_buf_printf(&q->body, "{\"error\":");
    json_str(&q->body, here ? "the order is not in the state of its partition, which this worker "
                              "owns: no event of it, or dropped after its retention"
                            : "the order's partition is not assigned to this worker: ask the "
                              "worker that owns it");
    asw_buf_printf(&q->body, ",\"order_id\":");
    json_str(&q->body, q->order_id);
    asw_buf_printf(&q->body, ",\"topic\":\"%s\",\"partition\":%" PRId32 ",\"assigned\":[",
                   w->topic_in, p);
    const char *sep = "";
    for (int32_t i = 0; i < w->n_parts; i++)
        if (w->parts[i].proc) {
            asw_buf_printf(&q->body, "%s%" PRId32, sep, i);
            sep = ",";
        }
    asw_buf_append_str(&q->body, "]}\n");
}

/* Answer the pending ledger queries. @locality the polling thread, between
 * transactions */
static void serve_queries(asw_worker *w) {
    if (!w->queries_pending || txn_open(w))
        return;
    pthread_mutex_lock(&w->query_lock);
    for (wquery *q = w->queries; q; q = q->next) {
        answer_query(w, q);
        q->done = true;
    }
    w->queries = NULL;
    w->queries_pending = 0;
    pthread_cond_broadcast(&w->query_done);
    pthread_mutex_unlock(&w->query_lock);
}

/* The group member that owns topic.input's partition p, from the group
 * coordinator (ListGroups/DescribeGroups: one round trip, so on the HTTP
 * thread, never the polling one) as a JSON object appended to b; false
 * when it is not known (no member has it: a rebalance; or no answer). */
static bool append_owner(asw_worker *w, int32_t p, asw_buf *b) {
    const struct rd_kafka_group_list *gl = NULL;
    if (rd_kafka_list_groups(w->consumer, w->settings->application_id, &gl, QUERY_OWNER_MS) || !gl)
        return false;
    bool found = false;
    for (int g = 0; g < gl->group_cnt && !found; g++)
        for (int m = 0; m < gl->groups[g].member_cnt && !found; m++) {
            const struct rd_kafka_group_member_info *mi = &gl->groups[g].members[m];
            if (asw_kafka_assignment_has(mi->member_assignment, (size_t)mi->member_assignment_size,
                                         w->topic_in, p) != 1)
                continue;
            found = true;
            asw_buf_append_str(b, "{\"member_id\":");
            json_str(b, mi->member_id);
            asw_buf_append_str(b, ",\"client_id\":");
            json_str(b, mi->client_id);
            asw_buf_append_str(b, ",\"client_host\":");
            json_str(b, mi->client_host);
            asw_buf_append_str(b, "}");
        }
    rd_kafka_group_list_destroy(gl);
    return found;
}

/* Ask the polling thread and wait for its answer. @locality the HTTP thread */
static void query_order(asw_worker *w, const char *id, asw_http_reply *reply) {
    reply->content_type = "application/json";
    if (!id[0] || strlen(id) > ASW_TEXT_MAX || strchr(id, '/')) {
        reply->status = 400;
        asw_buf_append_str(&reply->body, "{\"error\":\"an order id is 1..128 bytes\"}\n");
        return;
    }
    wquery q = {.status = 503, .elsewhere = -1};
    snprintf(q.order_id, sizeof q.order_id, "%s", id);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += QUERY_WAIT_MS / 1000;
    pthread_mutex_lock(&w->query_lock);
    q.next = w->queries;
    w->queries = &q;
    w->queries_pending = 1;
    while (!q.done && !is_fatal(w))
        if (pthread_cond_timedwait(&w->query_done, &w->query_lock, &until) != 0)
            break;
    if (!q.done) { /* still queued: take it out */
        for (wquery **at = &w->queries; *at; at = &(*at)->next)
            if (*at == &q) {
                *at = q.next;
                break;
            }
        w->queries_pending = w->queries != NULL;
    }
    pthread_mutex_unlock(&w->query_lock);
    if (!q.done) {
        reply->status = 503;
        asw_buf_append_str(&reply->body,
                           "{\"error\":\"no commit within 5 s to answer from: try again\"}\n");
        return;
    }
    reply->status = q.status;
    if (q.elsewhere >= 0 && q.body.len >= 2) {
        /* Name the member that owns the partition, where the coordinator
         * knows it: the body's closing "}\n" goes after the owner. */
        q.body.len -= 2;
        size_t at = q.body.len;
        asw_buf_append_str(&q.body, ",\"owner\":");
        if (!append_owner(w, q.elsewhere, &q.body)) {
            q.body.len = at;
            asw_buf_append_str(&q.body, ",\"owner\":null");
        }
        asw_buf_append_str(&q.body, "}\n");
    }
    asw_buf_append(&reply->body, q.body.data, q.body.len);
    asw_buf_free(&q.body);
}

/* @locality the HTTP thread */
static void http_handler(void *ctx, const char *path, asw_http_reply *reply) {
    asw_worker *w = ctx;
    static const char orders[] = "/v1/orders/";
    if (strncmp(path, orders, sizeof orders - 1) == 0) {
        query_order(w, path + sizeof orders - 1, reply);
        return;
    }
    bool metrics = strcmp(path, "/metrics") == 0, health = strcmp(path, "/healthz") == 0,
         ready = strcmp(path, "/readyz") == 0;
    if (!metrics && !health && !ready) {
        reply->status = 404;
        asw_buf_append_str(&reply->body,
                           "not found: /metrics, /healthz, /readyz, /v1/orders/{order_id}\n");
        return;
    }
    pthread_mutex_lock(&w->view_lock);
    asw_worker_view v = w->view;
    v.parts = asw_malloc((size_t)(v.n_parts > 0 ? v.n_parts : 1) * sizeof *v.parts);
    memcpy(v.parts, w->view.parts, (size_t)v.n_parts * sizeof *v.parts);
    pthread_mutex_unlock(&w->view_lock);
    v.fatal = is_fatal(w);
    if (v.fatal)
        snprintf(v.fatal_reason, sizeof v.fatal_reason, "%s", w->error);
    if (metrics) {
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        asw_metrics_format(&v, &reply->body);
    } else if (health) {
        reply->status = asw_metrics_health(&v, &reply->body);
    } else {
        reply->status = asw_metrics_ready(&v, &reply->body);
    }
    free(v.parts);
}

/* Outputs of the lanes since the last commit: kept, or forgotten. */
static void settle_counts(asw_worker *w, bool committed) {
    for (int i = 0; i < w->n_lanes; i++) {
        if (committed)
            asw_counts_add(&w->committed_counts, &w->lanes[i].counts);
        memset(&w->lanes[i].counts, 0, sizeof w->lanes[i].counts);
    }
}

/* ---- transactions ---- */

static int begin_txn(asw_worker *w) {
    if (txn_open(w))
        return 0;
    rd_kafka_error_t *error = rd_kafka_begin_transaction(w->producer);
    if (error) {
        fatal_from_error(w, "begin_transaction", error);
        rd_kafka_error_destroy(error);
        return -1;
    }
    txn_set(w, WTXN_IN_TXN);
    w->txn_begin_ms = now_ms();
    w->txn_records = 0;
    return 0;
}

/* Seek every assigned partition that processed records back to its last
 * committed offset. */
static void rewind_consumer(asw_worker *w) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->n_parts);
    for (int32_t p = 0; p < w->n_parts; p++)
        if (w->parts[p].proc && w->parts[p].committed >= 0)
            rd_kafka_topic_partition_list_add(l, w->topic_in, p)->offset = w->parts[p].committed;
    if (l->cnt > 0) {
        rd_kafka_error_t *error = rd_kafka_seek_partitions(w->consumer, l, META_TIMEOUT_MS);
        if (error) {
            fatal_from_error(w, "seek after abort", error);
            rd_kafka_error_destroy(error);
        }
        for (int i = 0; i < l->cnt && !is_fatal(w); i++)
            if (l->elems[i].err)
                set_fatal(w, "seek %s [%" PRId32 "] after abort: %s", w->topic_in,
                          l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* The worker's consumer was fenced by a member with its group.instance.id. */
static bool instance_fenced(asw_worker *w) {
    return rd_kafka_fatal_error(w->consumer, NULL, 0) == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

/*
 * A fenced producer: the coordinator bumped the epoch of our transactional
 * id, for one of two reasons.
 *  - It aborted a transaction of ours that outlived transaction.timeout.ms
 *    (the broker was away that long, or this process stood still). Nobody
 *    else has the id: a new producer with it goes on from the last commit.
 *  - Another worker started with our worker.id. It also joins the group
 *    with our group.instance.id, and the coordinator then fences our
 *    consumer (FENCED_INSTANCE_ID) at its next heartbeat: the worker stops,
 *    and the newer one goes on. That is waited for here, two heartbeats and
 *    a second; librdkafka 2.0.2 cannot ask the coordinator why it fenced us.
 * Without a worker.id the transactional id holds our host name and pid, so
 * only the first can be. Either way exactly-once holds: a fenced producer
 * can commit nothing, and a fenced member can commit no offsets; the wait
 * only keeps two workers with one worker.id from fencing each other in
 * turn. Returns 0 with a fresh producer, or -1 when fatal.
 * @locality the polling thread, no lane running
 */
static int renew_producer(asw_worker *w) {
    if (++w->fences_in_a_row > MAX_FENCES_IN_A_ROW) {
        set_fatal(w, "the producer was fenced %d times without a commit in between",
                  w->fences_in_a_row - 1);
        return -1;
    }
    if (w->settings->worker_id[0]) {
        int64_t wait = 2 * w->settings->kafka.heartbeat_interval_ms + 1000;
        for (int64_t t0 = now_ms(); !instance_fenced(w) && now_ms() - t0 < wait;)
            sleep_ms(50);
        if (instance_fenced(w)) {
            set_client_fatal(w, w->consumer);
            return -1;
        }
    }
    char err[512];
    rd_kafka_t *fresh = asw_kafka_new(w->cfg, ASW_KAFKA_WORKER_PRODUCER, &w->ctx, w->txn_id,
                                      setup_producer, err, sizeof err);
    if (!fresh) {
        set_fatal(w, "renewing the fenced producer: %s", err);
        return -1;
    }
    rd_kafka_destroy(w->producer);
    w->producer = fresh;
    /* Aborts whatever the coordinator still holds open of ours. */
    rd_kafka_error_t *error = rd_kafka_init_transactions(w->producer, TXN_TIMEOUT_MS);
    if (error) {
        set_fatal(w, "init_transactions of the renewed producer (transactional.id %s): %s",
                  w->txn_id, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    w->fenced = false;
    w->stats.producers_renewed++;
    asw_log_write(w->log, ASW_LOG_WARN, "producer_renewed", "transactional_id=%s", w->txn_id);
    return 0;
}

/*
 * What became of the transaction a fenced producer left: read the group's
 * committed offsets back (read_committed: the coordinator has completed it
 * by now) and compare them with where the transaction began and where it
 * would have ended. Returns 1 committed, 0 aborted, -1 fatal. A partition
 * whose offset is neither has been processed by another worker since: its
 * state is dropped, and the others decide.
 * @locality the polling thread
 */
static int lost_txn_outcome(asw_worker *w) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->n_parts);
    for (int32_t p = 0; p < w->n_parts; p++)
        if (w->parts[p].proc && w->parts[p].next >= 0 && w->parts[p].next != w->parts[p].committed)
            rd_kafka_topic_partition_list_add(l, w->topic_in, p);
    int outcome = 0;
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_committed(w->consumer, l, RESTORE_TIMEOUT_MS);
        if (e) {
            set_fatal(w, "reading back the committed offsets of %s: %s", w->topic_in,
                      rd_kafka_err2str(e));
            outcome = -1;
        }
        int committed = 0, aborted = 0;
        for (int i = 0; i < l->cnt && outcome == 0; i++) {
            int32_t p = l->elems[i].partition;
            wpart *wp = &w->parts[p];
            int64_t o = l->elems[i].offset < 0 ? -1 : l->elems[i].offset;
            if (o == wp->next) {
                committed++;
            } else if (o == wp->committed || (o < 0 && wp->committed >= 0)) {
                aborted++;
            } else {
                /* Another worker has committed this partition since (the
                 * group moved it while this one stood still, and the
                 * revocation is yet to be served): its state here is stale
                 * whatever became of the lost transaction. Dropped; if the
                 * partition comes back, it is restored from the changelog. */
                asw_log_write(w->log, ASW_LOG_WARN, "partition_moved",
                              "topic=%s partition=%" PRId32 " committed_offset=%" PRId64
                              " expected=%" PRId64 "|%" PRId64,
                              w->topic_in, p, o, wp->committed, wp->next);
                asw_processor_destroy(wp->proc);
                wp->proc = NULL;
                wp->committed = wp->next = -1;
            }
        }
        if (outcome == 0 && committed && aborted) {
            set_fatal(w, "the fenced transaction is committed in %d partitions and not in %d",
                      committed, aborted);
            outcome = -1;
        }
        if (outcome == 0)
            outcome = committed ? 1 : 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return outcome;
}

static void transaction_committed(asw_worker *w);

/* Abort the open transaction (with a fenced producer: drop it and renew the
 * producer), roll back every partition's state to the last commit and
 * rewind the consumer there. Returns 1, or -1 when fatal. */
static int abort_and_rewind(asw_worker *w, const char *why) {
    asw_log_write(w->log, ASW_LOG_WARN, "transaction_abort", "reason=\"%s\"", why);
    for (int attempt = 0; !w->fenced; attempt++) {
        rd_kafka_error_t *error = rd_kafka_abort_transaction(w->producer, TXN_TIMEOUT_MS);
        if (!error)
            break;
        bool retry = rd_kafka_error_is_retriable(error) && attempt < COMMIT_RETRIES;
        if (!retry) {
            fatal_from_error(w, "abort_transaction", error);
            rd_kafka_error_destroy(error);
            if (!w->fenced)
                return -1;
            break;
        }
        rd_kafka_error_destroy(error);
        backoff(attempt);
    }
    if (w->fenced) {
        if (renew_producer(w) != 0)
            return -1;
        int outcome = lost_txn_outcome(w);
        if (outcome < 0)
            return -1;
        asw_log_write(w->log, ASW_LOG_WARN, "transaction_outcome", "committed=%s",
                      outcome ? "true" : "false");
        if (outcome == 1) {
            /* Its commit went through before the fence: keep it. */
            if (txn_open(w))
                txn_set(w, WTXN_READY);
            transaction_committed(w);
            return 1;
        }
    }
    if (txn_open(w))
        txn_set(w, WTXN_READY);
    for (int32_t p = 0; p < w->n_parts; p++) {
        wpart *wp = &w->parts[p];
        if (!wp->proc)
            continue;
        asw_processor_rollback(wp->proc);
        wp->next = wp->committed;
    }
    w->stats.aborts++;
    settle_counts(w, false);
    rewind_consumer(w);
    publish_view(w);
    /* An error that comes back on every retry of the same records would
     * abort forever: give up with the reason instead. */
    if (++w->aborts_in_a_row >= MAX_ABORTS_IN_A_ROW)
        set_fatal(w, "%d transactions aborted in a row, the last because: %s", w->aborts_in_a_row,
                  why);
    return is_fatal(w) ? -1 : 1;
}

typedef struct changelog_target {
    wlane *l;
    int32_t partition;
} changelog_target;

static int emit_changelog(void *opaque, const void *key, size_t keylen, const void *value,
                          size_t len) {
    changelog_target *t = opaque;
    asw_worker *w = t->l->w;
    if (produce(t->l, w->topic_cl, t->partition, key, keylen, value, len, NULL) != 0) {
        if (w->txn == WTXN_ABORTABLE)
            return -1; /* the commit aborts it */
        bool order = keylen > 0 && ((const char *)key)[0] != '\0';
        set_fatal(w,
                  "cannot write the state of %s%.*s (%zu bytes) to %s [%" PRId32
                  "]: raise message.max.bytes (producer and topic)",
                  order ? "order " : "the partition", order ? (int)keylen : 0,
                  order ? (const char *)key : "", len, w->topic_cl, t->partition);
        return -1;
    }
    t->l->stats.changelog++;
    return 0;
}

/* What each of a lane's partitions changed in this transaction, to the
 * changelog partition of the same number (src/changelog.c says how).
 * @locality a lane */
static void changelog_lane(wlane *l) {
    asw_worker *w = l->w;
    char err[256];
    for (int32_t p = l->index; p < w->n_parts && !is_fatal(w); p += w->n_lanes) {
        asw_processor *proc = w->parts[p].proc;
        if (!proc)
            continue;
        /* A slice of the sweep each commit: a whole sweep at once would
         * hold one commit up by as long as the state is large. */
        asw_processor_evict_step(proc, EVICT_ROUNDS);
        changelog_target t = {l, p};
        if (asw_changelog_write(l->codec, proc, w->topic_in, &l->buf, emit_changelog, &t, err,
                                sizeof err) < 0 &&
            w->txn != WTXN_ABORTABLE)
            set_fatal(w, "%s", err);
    }
}

static void run_lanes(asw_worker *w, wjob job);

static void write_changelog(asw_worker *w) {
    run_lanes(w, WJOB_CHANGELOG);
}

/* The offsets to commit: `next` of every assigned partition that moved. */
static rd_kafka_topic_partition_list_t *txn_offsets(asw_worker *w) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->n_parts);
    for (int32_t p = 0; p < w->n_parts; p++) {
        wpart *wp = &w->parts[p];
        if (wp->proc && wp->next >= 0 && wp->next != wp->committed)
            rd_kafka_topic_partition_list_add(l, w->topic_in, p)->offset = wp->next;
    }
    return l;
}

/* Send the offsets and commit, retrying what is retriable. Returns NULL on
 * success, else the error (caller destroys). */
static rd_kafka_error_t *send_and_commit(asw_worker *w) {
    rd_kafka_error_t *error = NULL;
    rd_kafka_topic_partition_list_t *offsets = txn_offsets(w);
    if (offsets->cnt > 0) {
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(w->consumer);
        for (int attempt = 0;; attempt++) {
            error =
                rd_kafka_send_offsets_to_transaction(w->producer, offsets, cgmd, TXN_TIMEOUT_MS);
            if (!error || !rd_kafka_error_is_retriable(error) || attempt >= COMMIT_RETRIES)
                break;
            rd_kafka_error_destroy(error);
            backoff(attempt);
        }
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    if (error)
        return error;
    for (int attempt = 0;; attempt++) {
        error = rd_kafka_commit_transaction(w->producer, TXN_TIMEOUT_MS);
        if (!error || !rd_kafka_error_is_retriable(error) || attempt >= COMMIT_RETRIES)
            return error;
        rd_kafka_error_destroy(error);
        backoff(attempt);
    }
}

/* The open transaction is committed: its state and offsets become the
 * ones to roll back to. */
static void transaction_committed(asw_worker *w) {
    w->aborts_in_a_row = 0;
    w->fences_in_a_row = 0;
    for (int32_t p = 0; p < w->n_parts; p++) {
        wpart *wp = &w->parts[p];
        if (!wp->proc)
            continue;
        asw_processor_checkpoint(wp->proc);
        wp->committed = wp->next;
    }
    w->stats.commits++;
    settle_counts(w, true);
    publish_view(w);
    serve_queries(w);
}

int asw_worker_commit(asw_worker *w) {
    if (is_fatal(w))
        return -1;
    if (w->fenced)
        return abort_and_rewind(w, "the producer was fenced");
    if (!txn_open(w))
        return 0;
    if (w->txn == WTXN_ABORTABLE)
        return abort_and_rewind(w, "a record of the transaction could not be produced");
    int64_t t0 = now_ms();
    write_changelog(w);
    if (is_fatal(w))
        return -1;
    if (w->txn == WTXN_ABORTABLE)
        return abort_and_rewind(w, "a record of the transaction could not be produced");
    int64_t t1 = now_ms();
    rd_kafka_error_t *error = send_and_commit(w);
    int64_t t2 = now_ms();
    if (error) {
        int rc;
        if (is_fence_code(rd_kafka_error_code(error)))
            set_fenced(w, "commit_transaction", rd_kafka_error_string(error));
        if (rd_kafka_error_txn_requires_abort(error) || w->fenced) {
            char why[512];
            snprintf(why, sizeof why, "%s: %s", rd_kafka_err2name(rd_kafka_error_code(error)),
                     rd_kafka_error_string(error));
            rc = abort_and_rewind(w, why);
        } else {
            fatal_from_error(w, "commit_transaction", error);
            rc = -1;
        }
        rd_kafka_error_destroy(error);
        return rc;
    }
    txn_set(w, WTXN_READY);
    int b = 0;
    while (b < ASW_COMMIT_BUCKETS && t2 - t0 > asw_commit_bucket_ms[b])
        b++;
    w->commit_buckets[b]++;
    w->commit_count++;
    w->commit_ms_sum += (double)(t2 - t0);
    transaction_committed(w);
    asw_log_write(w->log, ASW_LOG_DEBUG, "transaction_commit",
                  "records=%" PRId64 " open_ms=%" PRId64 " changelog_ms=%" PRId64
                  " commit_ms=%" PRId64,
                  w->txn_records, t0 - w->txn_begin_ms, t1 - t0, t2 - t1);
    return 0;
}

/* ---- processing ---- */

/* One input record of a lane's partition, in the open transaction.
 * Returns false, with nothing done, for an event later than the rules
 * topic is known to be complete (w->rules_through): it waits for the
 * reader to catch up (flush_batch()).
 * @locality a lane */
static bool process(wlane *l, const rd_kafka_message_t *m) {
    asw_worker *w = l->w;
    if (!w->parts[m->partition].proc)
        return true; /* a record of a partition no longer assigned */
    wpart *wp = &w->parts[m->partition];
    if (wp->committed < 0)
        wp->committed = wp->next = m->offset; /* where this assignment started */
    if (m->offset < wp->next)
        return true; /* already processed in this transaction */
    wp->next = m->offset + 1;
    l->records++;
    l->stats.consumed++;

    char err[256];
    if (!m->payload || m->len == 0) {
        dead_letter(l, m, "EMPTY_VALUE", "record has no value");
        return true;
    }
    int32_t id;
    if (w->n_bad_ids > 0 && asw_codec_peek_id(m->payload, m->len, &id) == ASW_CODEC_OK)
        for (int i = 0; i < w->n_bad_ids; i++)
            if (w->bad_ids[i].id == id) {
                dead_letter(l, m, w->bad_ids[i].code, w->bad_ids[i].message);
                return true;
            }
    asw_event ev;
    asw_event_init(&ev);
    asw_codec_err ce = asw_codec_decode_event(l->codec, m->payload, m->len, &ev, err, sizeof err);
    if (ce != ASW_CODEC_OK) {
        dead_letter(l, m, asw_codec_err_name(ce), err);
        return true;
    }
    if (ev.event_time > w->rules_through) {
        /* Undo the count and the position: the record is taken again. */
        wp->next = m->offset;
        l->records--;
        l->stats.consumed--;
        l->held_time = ev.event_time;
        asw_event_clear(&ev);
        return false;
    }
    if (ev.event_time > l->decided_max_time)
        l->decided_max_time = ev.event_time;
    l->counts.events[ev.type]++;
    if (m->key_len != strlen(ev.order_id) ||
        (m->key_len > 0 && memcmp(m->key, ev.order_id, m->key_len) != 0)) {
        /* State lives with the partition of the key: an event keyed by
         * something else would be decided on the wrong order state. */
        dead_letter(l, m, "KEY_MISMATCH", "record key is not the event's order_id");
        asw_event_clear(&ev);
        return true;
    }
    asw_source src = {w->topic_in, m->partition, m->offset};
    asw_result res;
    asw_processor_apply(wp->proc, &ev, &src, &res);
    record_out o = {l, m, ev.order_id};
    asw_result_dispatch(&res, &worker_sink, &o);
    asw_event_clear(&ev);
    return true;
}

/* The lane's records of the batch, in order; the transaction is open.
 * @locality a lane */
static void process_lane(wlane *l) {
    for (; l->done_msgs < l->n_msgs && !is_fatal(l->w); l->done_msgs++)
        if (!process(l, l->msgs[l->done_msgs]))
            return;
}

/* ---- the lanes ---- */

static void run_job(wlane *l, wjob job) {
    if (job == WJOB_PROCESS)
        process_lane(l);
    else if (job == WJOB_CHANGELOG)
        changelog_lane(l);
}

static void *lane_thread(void *arg) {
    wlane *l = arg;
    asw_worker *w = l->w;
    /* SIGINT and SIGTERM are for the polling thread (its flag stops the
     * loop). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&w->pool_lock);
        while (w->pool_generation == seen)
            pthread_cond_wait(&w->pool_go, &w->pool_lock);
        seen = w->pool_generation;
        wjob job = w->pool_job;
        pthread_mutex_unlock(&w->pool_lock);
        if (job == WJOB_QUIT)
            return NULL;
        run_job(l, job);
        pthread_mutex_lock(&w->pool_lock);
        if (--w->pool_pending == 0)
            pthread_cond_signal(&w->pool_done);
        pthread_mutex_unlock(&w->pool_lock);
    }
}

/* Add what the lanes counted to the worker's figures. */
static void join_counts(asw_worker *w) {
    for (int i = 0; i < w->n_lanes; i++) {
        wlane *l = &w->lanes[i];
        asw_worker_stats *a = &w->stats, *b = &l->stats;
        a->consumed += b->consumed;
        a->decisions += b->decisions;
        a->records += b->records;
        a->dead_letters += b->dead_letters;
        a->late_events += b->late_events;
        a->changelog += b->changelog;
        memset(b, 0, sizeof *b);
        w->txn_records += l->records;
        l->records = 0;
    }
}

/* Run a job on every lane -- lane 0 here, the others on their threads --
 * and return when all are done. */
static void run_lanes(asw_worker *w, wjob job) {
    if (w->threads_started > 0) {
        pthread_mutex_lock(&w->pool_lock);
        w->pool_job = job;
        w->pool_pending = w->threads_started;
        w->pool_generation++;
        pthread_cond_broadcast(&w->pool_go);
        pthread_mutex_unlock(&w->pool_lock);
    }
    run_job(&w->lanes[0], job);
    if (w->threads_started > 0) {
        pthread_mutex_lock(&w->pool_lock);
        while (w->pool_pending > 0)
            pthread_cond_wait(&w->pool_done, &w->pool_lock);
        pthread_mutex_unlock(&w->pool_lock);
    }
    join_counts(w);
}

/* Start lanes 1.. on threads. Returns 0, or -1 with err. */
static int start_lanes(asw_worker *w, char *err, size_t errlen) {
    for (int i = 1; i < w->n_lanes; i++) {
        int e = pthread_create(&w->lanes[i].thread, NULL, lane_thread, &w->lanes[i]);
        if (e) {
            snprintf(err, errlen, "cannot start processing thread %d: %s", i, strerror(e));
            return -1;
        }
        w->threads_started++;
    }
    return 0;
}

static void stop_lanes(asw_worker *w) {
    if (w->threads_started == 0)
        return;
    pthread_mutex_lock(&w->pool_lock);
    w->pool_job = WJOB_QUIT;
    w->pool_generation++;
    pthread_cond_broadcast(&w->pool_go);
    pthread_mutex_unlock(&w->pool_lock);
    for (int i = 1; i <= w->threads_started; i++)
        pthread_join(w->lanes[i].thread, NULL);
    w->threads_started = 0;
}

/* Deal a polled record to its partition's lane (the batch takes it over). */
static void batch_add(asw_worker *w, rd_kafka_message_t *m) {
    wlane *l = &w->lanes[m->partition % w->n_lanes];
    if (l->n_msgs == l->cap_msgs) {
        l->cap_msgs = l->cap_msgs ? l->cap_msgs * 2 : 256;
        l->msgs = asw_realloc(l->msgs, l->cap_msgs * sizeof *l->msgs);
    }
    l->msgs[l->n_msgs++] = m;
    w->batched++;
}

/* ---- the ruleset control topic ---- */

/* Did a lane stop at an event the rules topic is not known complete for? */
static bool lanes_held(const asw_worker *w) {
    for (int i = 0; i < w->n_lanes; i++)
        if (w->lanes[i].done_msgs < w->lanes[i].n_msgs)
            return true;
    return false;
}

/* Read the rules topic to its end until it is complete up to the latest
 * event a lane waits for, for at most rules.topic.wait.max.ms; past that
 * the events are decided with the changes known (counted, and logged: a
 * change written later that applies before them would make a replay
 * decide them otherwise). Inside the open transaction (the configuration
 * keeps the wait below half its timeout). */
static void wait_for_rules(asw_worker *w) {
    int64_t need = INT64_MIN;
    for (int i = 0; i < w->n_lanes; i++)
        if (w->lanes[i].done_msgs < w->lanes[i].n_msgs && w->lanes[i].held_time > need)
            need = w->lanes[i].held_time;
    int64_t t0 = now_ms(), deadline = t0 + asw_rules_topic_wait_max_ms(w->rules);
    char err[256] = "";
    for (;;) {
        int64_t left = deadline - now_ms();
        if (asw_rules_topic_catch_up(w->rules, left > 200 ? (int)left : 200, err, sizeof err) == 0)
            w->rules_through = asw_rules_topic_through(w->rules);
        if (w->rules_through >= need) {
            asw_rules_topic_count_wait(w->rules, now_ms() - t0, false);
            return;
        }
        left = deadline - now_ms();
        if (left <= 0)
            break;
        sleep_ms(left < 100 ? left : 100);
    }
    asw_rules_topic_count_wait(w->rules, now_ms() - t0, true);
    asw_log_write(w->log, ASW_LOG_WARN, "rules_wait_expired",
                  "event_time=%" PRId64 " rules_through=%" PRId64 " waited_ms=%" PRId64
                  " error=\"%s\"",
                  need, w->rules_through, now_ms() - t0, err[0] ? err : "event time ahead");
    w->rules_through = need;
}

/* After a batch: the latest event time decided, and the bound back to what
 * the reader knows. */
static void rules_decided(asw_worker *w) {
    for (int i = 0; i < w->n_lanes; i++) {
        if (w->lanes[i].decided_max_time > INT64_MIN)
            asw_rules_topic_decided(w->rules, w->lanes[i].decided_max_time);
        w->lanes[i].decided_max_time = INT64_MIN;
    }
    w->rules_through = asw_rules_topic_through(w->rules);
}

/* Between batches (periodic(), at time t): take the changes that arrived,
 * and read to the end now and then, so that events of the present never
 * wait. How often changes are taken does not change a decision: one that
 * arrives after a read to the end applies after the bound that read set. */
static void follow_rules(asw_worker *w, int64_t t) {
    if (!w->rules)
        return;
    asw_rules_topic_poll(w->rules);
    int64_t every = asw_rules_topic_lead_ms(w->rules) / 4;
    if (t - asw_rules_topic_caught_up_at(w->rules) < (every > 100 ? every : 100))
        return;
    char err[256];
    if (asw_rules_topic_catch_up(w->rules, 1000, err, sizeof err) == 0)
        w->rules_through = asw_rules_topic_through(w->rules);
    else
        asw_log_write(w->log, ASW_LOG_WARN, "rules_topic_behind", "error=\"%s\"", err);
}

/* Note a schema id of the batch that no retry will decode. */
static void bad_id(asw_worker *w, int32_t id, const char *code, const char *message) {
    if (w->n_bad_ids == BAD_IDS_MAX)
        return; /* decoding says UNKNOWN_SCHEMA_ID for it, without the details */
    wbad_id *b = &w->bad_ids[w->n_bad_ids++];
    b->id = id;
    b->code = code;
    snprintf(b->message, sizeof b->message, "%s", message);
}

/*
 * Look up, in the Schema Registry, every schema id of the batch that the
 * codecs do not know, and bind what it answers in every lane's codec. An id
 * the registry does not have (404), or whose schema is not ours, is noted in
 * bad_ids: its records become dead letters. Returns 0, or -1 when the
 * registry did not answer (or refused us: a credential, a certificate):
 * nothing of the batch may be processed then, its records are fine.
 * @locality the polling thread, no lane running
 */
static int resolve_schema_ids(asw_worker *w) {
    w->n_bad_ids = 0;
    for (int i = 0; i < w->n_lanes; i++) {
        wlane *l = &w->lanes[i];
        for (size_t k = 0; k < l->n_msgs; k++) {
            const rd_kafka_message_t *m = l->msgs[k];
            int32_t id;
            if (!w->parts[m->partition].proc ||
                asw_codec_peek_id(m->payload, m->len, &id) != ASW_CODEC_OK ||
                asw_codec_id_record(w->lanes[0].codec, id))
                continue;
            bool noted = false;
            for (int b = 0; b < w->n_bad_ids && !noted; b++)
                noted = w->bad_ids[b].id == id;
            if (noted)
                continue;
            const char *schema;
            char why[512];
            asw_registry_err re = asw_registry_lookup(w->registry, id, &schema, why, sizeof why);
            if (re == ASW_REGISTRY_E_NOT_FOUND) {
                char msg[700];
                snprintf(msg, sizeof msg, "schema id %" PRId32 " is not in the registry: %s", id,
                         why);
                bad_id(w, id, "UNKNOWN_SCHEMA_ID", msg);
                continue;
            }
            if (re != ASW_REGISTRY_OK) {
                snprintf(w->registry_error, sizeof w->registry_error, "%s", why);
                return -1;
            }
            for (int c = 0; c < w->n_lanes; c++)
                if (asw_codec_register_writer(w->lanes[c].codec, id, schema, why, sizeof why) !=
                    ASW_CODEC_OK) {
                    bad_id(w, id, "SCHEMA_ERROR", why);
                    break;
                }
            asw_log_write(w->log, ASW_LOG_INFO, "schema_resolved",
                          "registry=%s id=%" PRId32 " record=%s", asw_registry_url(w->registry), id,
                          asw_codec_id_record(w->lanes[0].codec, id)
                              ? asw_codec_id_record(w->lanes[0].codec, id)
                              : "-");
        }
    }
    return 0;
}

/*
 * The registry did not answer for a batch, which was dropped unprocessed:
 * commit what the open transaction holds (records before the batch, all
 * decoded), rewind the consumer to the first record not processed, and
 * pause, longer each time up to REGISTRY_PAUSE_MAX_MS. The next step polls
 * the same records again. Nothing is dead-lettered or committed past them.
 * @locality the polling thread
 */
static void registry_pause(asw_worker *w) {
    w->registry_wait = false;
    long pause = REGISTRY_PAUSE_MS;
    for (int i = 0; i < w->registry_pauses && pause < REGISTRY_PAUSE_MAX_MS; i++)
        pause *= 2;
    if (pause > REGISTRY_PAUSE_MAX_MS)
        pause = REGISTRY_PAUSE_MAX_MS;
    w->registry_pauses++;
    w->stats.registry_pauses++;
    asw_log_write(w->log, ASW_LOG_WARN, "schema_registry_unavailable", "error=\"%s\" pause_ms=%ld",
                  w->registry_error, pause);
    if (txn_open(w) && asw_worker_commit(w) != 0)
        return;
    if (!txn_open(w))
        rewind_consumer(w);
    sleep_ms(pause);
}

/* Process the batch: every lane its records, in parallel. Called before
 * anything else touches partitions or the transaction (a commit, a
 * rebalance), so that records are processed in the order they were polled
 * relative to those. */
static void flush_batch(asw_worker *w) {
    if (w->batched == 0)
        return;
    bool any = false;
    for (int i = 0; i < w->n_lanes && !any; i++)
        for (size_t k = 0; k < w->lanes[i].n_msgs && !any; k++)
            any = w->parts[w->lanes[i].msgs[k]->partition].proc != NULL;
    if (any && w->registry && !is_fatal(w)) {
        if (resolve_schema_ids(w) != 0) {
            any = false;
            w->registry_wait = true;
        } else {
            w->registry_pauses = 0;
        }
    }
    if (any && !is_fatal(w) && begin_txn(w) == 0) {
        run_lanes(w, WJOB_PROCESS);
        while (w->rules && lanes_held(w) && !is_fatal(w)) {
            wait_for_rules(w);
            run_lanes(w, WJOB_PROCESS);
        }
        if (w->rules)
            rules_decided(w);
    }
    for (int i = 0; i < w->n_lanes; i++) {
        wlane *l = &w->lanes[i];
        for (size_t k = 0; k < l->n_msgs; k++) {
            /* Records not processed (no transaction could begin) are read
             * again after the rewind: it must know where this partition's
             * records since its assignment began. */
            wpart *wp = &w->parts[l->msgs[k]->partition];
            if (wp->proc && wp->committed < 0)
                wp->committed = wp->next = l->msgs[k]->offset;
            rd_kafka_message_destroy(l->msgs[k]);
        }
        l->n_msgs = 0;
        l->done_msgs = 0;
    }
    w->batched = 0;
}

/* ---- rebalancing ---- */

/* A partition whose state cannot be rebuilt whole decides nothing: no
 * processor, so its records are neither processed nor committed, and the
 * next owner meets the same record. The worker and its other partitions go
 * on (SPEC 5: bad data never crashes the worker). */
static void quarantine(asw_worker *w, int32_t p, const char *why) {
    asw_processor_destroy(w->parts[p].proc);
    w->parts[p].proc = NULL;
    w->parts[p].quarantined = true;
    w->stats.quarantined++;
    asw_log_write(w->log, ASW_LOG_ERROR, "partition_quarantined",
                  "topic=%s partition=%" PRId32 " changelog=%s reason=\"%s\"", w->topic_in, p,
                  w->topic_cl, why);
}

/* Rebuild the order states of newly assigned partitions from their
 * changelog partitions, read_committed, up to the end (src/changelog.c has
 * the policy for corrupt records). A partition whose restore is not whole
 * is quarantined: left without a processor (and paused), so it decides
 * nothing, while the others go on. Returns 0, 1 when a stop was requested
 * first, -1 when fatal. */
/* One partition's changelog has been read to its end. */
static void restore_done(asw_worker *w, asw_changelog_restore **rs, int32_t p) {
    char err[512];
    asw_changelog_restore_stats st;
    asw_changelog_restore_get_stats(rs[p], &st);
    w->stats.changelog_corrupt += st.corrupt;
    if (asw_changelog_restore_finish(rs[p], err, sizeof err) != 0)
        quarantine(w, p, err);
    else
        w->stats.restored += (int64_t)asw_processor_order_count(w->parts[p].proc);
    asw_changelog_restore_destroy(rs[p]);
    rs[p] = NULL;
}

#define RESTORE_BATCH 4096

static int restore(asw_worker *w, const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    asw_changelog_restore **rs = asw_calloc((size_t)w->n_parts, sizeof *rs);
    rd_kafka_message_t **batch = asw_malloc(RESTORE_BATCH * sizeof *batch);
    rd_kafka_queue_t *q = NULL;
    int remaining = 0, rc = -1;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        rs[p] = asw_changelog_restore_new(w->lanes[0].codec, w->parts[p].proc, w->topic_in);
        /* An empty changelog partition (a new application, or a partition
         * that never held an order) needs no fetch: its watermarks say so. */
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(w->restorer, w->topic_cl, p, &lo, &hi,
                                             META_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            lo == hi) {
            restore_done(w, rs, p);
            continue;
        }
        /* From the log start offset the watermarks gave, not the logical
         * BEGINNING: librdkafka would first look that up, and wait 500 ms
         * for the partition's leader to do so (a quarter of a restore of a
         * million orders). Past it (retention moved it), the fetch resets to
         * the earliest. */
        rd_kafka_topic_partition_list_add(l, w->topic_cl, p)->offset =
            lo >= 0 ? lo : RD_KAFKA_OFFSET_BEGINNING;
        remaining++;
        w->parts[p].restoring = true;
        w->parts[p].restore_read = 0;
        w->parts[p].restore_total = hi > lo && lo >= 0 ? hi - lo : 0;
        /* A compacted changelog holds about one record per order. */
        if (hi > lo && lo >= 0)
            asw_processor_restore_reserve(w->parts[p].proc, (size_t)(hi - lo));
    }
    if (remaining == 0) {
        rc = 0;
        goto done;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(w->restorer, l);
    if (e) {
        set_fatal(w, "restore: assign %s: %s", w->topic_cl, rd_kafka_err2str(e));
        goto done;
    }
    q = rd_kafka_queue_get_consumer(w->restorer);
    int64_t deadline = now_ms() + RESTORE_TIMEOUT_MS;
    while (remaining > 0 && !is_fatal(w)) {
        if (w->stop && *w->stop) {
            rc = 1; /* interrupted: the caller leaves these partitions idle */
            goto done;
        }
        if (now_ms() > deadline) {
            set_fatal(w, "restore of %s timed out", w->topic_cl);
            goto done;
        }
        /* Batches: a large changelog restores at the rate of its decoding. */
        ssize_t n = rd_kafka_consume_batch_queue(q, 10, batch, RESTORE_BATCH);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            bool ours = m->partition >= 0 && m->partition < w->n_parts && rs[m->partition];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (ours) {
                    restore_done(w, rs, m->partition);
                    remaining--;
                }
            } else if (m->err) {
                asw_log_write(w->log, ASW_LOG_WARN, "restore_error", "topic=%s error=%s",
                              w->topic_cl, rd_kafka_message_errstr(m));
                if (is_fatal_code(m->err))
                    set_fatal(w, "restore %s: %s", w->topic_cl, rd_kafka_message_errstr(m));
            } else if (ours) {
                asw_changelog_restore_add(rs[m->partition], m->key, m->key_len, m->payload, m->len,
                                          m->offset);
                w->parts[m->partition].restore_read++;
            }
            rd_kafka_message_destroy(m);
        }
        if (now_ms() - w->view_ms >= VIEW_EVERY_MS)
            publish_view(w);
    }
    rc = is_fatal(w) ? -1 : 0;
done:
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_assign(w->restorer, NULL);
    for (int32_t p = 0; p < w->n_parts; p++) {
        asw_changelog_restore_destroy(rs[p]);
        w->parts[p].restoring = false;
    }
    free(rs);
    free(batch);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void on_assign(asw_worker *w, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts) {
    /* A restore can take long; the open transaction of the partitions
     * already owned must not run into transaction.timeout.ms meanwhile. */
    if (txn_open(w))
        asw_worker_commit(w);
    /* Fetching the committed offsets read_committed waits until no
     * transaction of a previous owner is pending on them; only then is the
     * end of the changelog the state those offsets belong to. */
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t ce = rd_kafka_committed(rk, offsets, RESTORE_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (ce) {
        set_fatal(w, "fetching committed offsets of %s: %s", w->topic_in, rd_kafka_err2str(ce));
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= w->n_parts) {
            set_fatal(w,
                      "assigned %s [%" PRId32 "] but the topic had %" PRId32
                      " partitions at start: restart the worker after adding partitions",
                      w->topic_in, p, w->n_parts);
            return;
        }
        wpart *wp = &w->parts[p];
        asw_processor_destroy(wp->proc);
        wp->proc = asw_processor_new(w->settings->ruleset, &w->limits, true);
        asw_processor_set_rulebook(wp->proc, w->book); /* NULL without rules.topic */
        asw_processor_set_topic(wp->proc, w->topic_in);
        wp->quarantined = false;
        wp->committed = wp->next = -1;
    }
    int64_t t0 = now_ms();
    int64_t before = w->stats.restored;
    publish_view(w);
    int rc = restore(w, parts);
    if (rc != 0) {
        /* Half-restored state must never decide anything: the partitions
         * are assigned (librdkafka expects it) but have no processor, so
         * their records are skipped until the worker stops. */
        for (int i = 0; i < parts->cnt; i++) {
            wpart *wp = &w->parts[parts->elems[i].partition];
            asw_processor_destroy(wp->proc);
            wp->proc = NULL;
        }
        if (rc < 0)
            return;
    }
    asw_log_write(w->log, ASW_LOG_INFO, "partitions_assigned",
                  "count=%d restored_orders=%" PRId64 " restore_ms=%" PRId64, parts->cnt,
                  w->stats.restored - before, now_ms() - t0);
    rd_kafka_error_t *error = rd_kafka_incremental_assign(rk, parts);
    if (error) {
        fatal_from_error(w, "incremental_assign", error);
        rd_kafka_error_destroy(error);
        return;
    }
    /* A quarantined partition is not even fetched. */
    rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (w->parts[parts->elems[i].partition].quarantined)
            rd_kafka_topic_partition_list_add(q, w->topic_in, parts->elems[i].partition);
    if (q->cnt > 0)
        rd_kafka_pause_partitions(rk, q);
    rd_kafka_topic_partition_list_destroy(q);
}

static void on_revoke(asw_worker *w, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts) {
    if (txn_open(w)) {
        if (rd_kafka_assignment_lost(rk))
            abort_and_rewind(w, "assignment lost");
        else
            asw_worker_commit(w);
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= w->n_parts)
            continue;
        asw_processor_destroy(w->parts[p].proc);
        w->parts[p].proc = NULL;
        w->parts[p].quarantined = false;
    }
    asw_log_write(w->log, ASW_LOG_INFO, "partitions_revoked", "count=%d lost=%s", parts->cnt,
                  rd_kafka_assignment_lost(rk) ? "true" : "false");
    rd_kafka_error_t *error = rd_kafka_incremental_unassign(rk, parts);
    if (error) {
        fatal_from_error(w, "incremental_unassign", error);
        rd_kafka_error_destroy(error);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    asw_kafka_ctx *ctx = opaque;
    asw_worker *w = ctx->owner;
    /* What was polled before this event is processed before it. */
    flush_batch(w);
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        on_assign(w, rk, parts);
        w->joined = true;
        publish_view(w);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        on_revoke(w, rk, parts);
        publish_view(w);
        break;
    default:
        set_fatal(w, "rebalance failed: %s", rd_kafka_err2str(err));
        break;
    }
}

/* ---- the loop ---- */

/* What is due now and then, on one clock read per step: the HTTP view's
 * watermarks, then the stats line. */
static void periodic(asw_worker *w) {
    int64_t t = now_ms();
    if (t - w->consumer_polled_ms >= CONSUMER_POLL_EVERY_MS) {
        /* The consumer's main queue: its error_cb and stats_cb (records and
         * rebalances come through rd_kafka_consumer_poll()); and the rules
         * topic. Now and then, not on every step. */
        w->consumer_polled_ms = t;
        rd_kafka_poll(w->consumer, 0);
        follow_rules(w, t);
    }
    if (t - w->view_ms >= VIEW_EVERY_MS)
        publish_view(w);
    if (t - w->last_stats_ms < STATS_EVERY_MS)
        return;
    w->last_stats_ms = t;
    asw_worker_stats *s = &w->stats;
    int64_t quarantined = 0;
    for (int32_t p = 0; p < w->n_parts; p++)
        quarantined += w->parts[p].quarantined;
    asw_log_write(w->log, ASW_LOG_INFO, "worker_stats",
                  "consumed=%" PRId64 " decisions=%" PRId64 " records=%" PRId64
                  " dead_letters=%" PRId64 " late_events=%" PRId64 " commits=%" PRId64
                  " aborts=%" PRId64 " quarantined_partitions=%" PRId64 " registry_pauses=%" PRId64,
                  s->consumed, s->decisions, s->records, s->dead_letters, s->late_events,
                  s->commits, s->aborts, quarantined, s->registry_pauses);
}

int asw_worker_step(asw_worker *w, int timeout_ms) {
    if (is_fatal(w))
        return -1;
    /* Never wait past the open transaction's commit time: when the input
     * goes quiet, its last records would otherwise become visible up to a
     * whole timeout late. */
    if (txn_open(w)) {
        int64_t due = w->txn_begin_ms + w->commit_interval_ms - now_ms();
        if (timeout_ms < 0 || due < timeout_ms)
            timeout_ms = due > 0 ? (int)due : 0;
    }
    /* A batch: the first record waited for, then, with several lanes, what
     * is already queued, up to what the transaction may still take. One
     * lane processes each record as it is polled: batching would only
     * delay it. */
    int64_t room = w->commit_max_records - (txn_open(w) ? w->txn_records : 0);
    size_t max = w->n_lanes == 1 || room < 1 ? 1 : room < BATCH_MAX ? (size_t)room : BATCH_MAX;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, timeout_ms);
    while (m) {
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                set_client_fatal(w, w->consumer);
            else if (is_fatal_code(m->err))
                set_fatal(w, "consume: %s", rd_kafka_message_errstr(m));
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                asw_log_write(w->log, ASW_LOG_WARN, "consume_error", "error=%s",
                              rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        } else if (m->partition < 0 || m->partition >= w->n_parts) {
            rd_kafka_message_destroy(m); /* not of the topic the worker started with */
        } else {
            batch_add(w, m);
        }
        if (w->batched >= max || is_fatal(w))
            break;
        m = rd_kafka_consumer_poll(w->consumer, 0);
    }
    flush_batch(w);
    if (w->registry_wait && !is_fatal(w))
        registry_pause(w);
    rd_kafka_poll(w->producer, 0);
    if (w->fenced ||
        (txn_open(w) && (w->txn == WTXN_ABORTABLE || w->txn_records >= w->commit_max_records ||
                         now_ms() - w->txn_begin_ms >= w->commit_interval_ms)))
        asw_worker_commit(w);
    periodic(w);
    serve_queries(w); /* between transactions only */
    return is_fatal(w) ? -1 : 0;
}

int asw_worker_close(asw_worker *w) {
    if (w->closed)
        return is_fatal(w) ? -1 : 0;
    w->closed = true;
    if (w->started) {
        if (txn_open(w))
            asw_worker_commit(w);
        /* Leaving the group revokes every partition (on_revoke commits
         * whatever is still open) and lets the others take them over now. */
        rd_kafka_consumer_close(w->consumer);
        if (txn_open(w))
            abort_and_rewind(w, "shutting down");
    }
    if (!w->started)
        return is_fatal(w) ? -1 : 0; /* nothing ran: the caller reports why */
    asw_worker_stats *s = &w->stats;
    asw_log_write(w->log, ASW_LOG_INFO, "worker_stopped",
                  "consumed=%" PRId64 " decisions=%" PRId64 " records=%" PRId64
                  " dead_letters=%" PRId64 " late_events=%" PRId64 " commits=%" PRId64
                  " aborts=%" PRId64 " producers_renewed=%" PRId64 " fatal=%s",
                  s->consumed, s->decisions, s->records, s->dead_letters, s->late_events,
                  s->commits, s->aborts, s->producers_renewed, is_fatal(w) ? "true" : "false");
    return is_fatal(w) ? -1 : 0;
}

int asw_worker_run(asw_worker *w, const volatile sig_atomic_t *stop) {
    w->stop = stop;
    while (!*stop && !is_fatal(w))
        asw_worker_step(w, 100);
    return asw_worker_close(w);
}

const char *asw_worker_error(const asw_worker *w) {
    return w->error;
}

void asw_worker_get_stats(const asw_worker *w, asw_worker_stats *out) {
    *out = w->stats;
}

const asw_processor *asw_worker_partition(const asw_worker *w, int32_t partition) {
    if (partition < 0 || partition >= w->n_parts)
        return NULL;
    return w->parts[partition].proc;
}

int32_t asw_worker_partition_count(const asw_worker *w) {
    return w->n_parts;
}

int64_t asw_worker_lag(const asw_worker *w) {
    if (txn_open(w))
        return -1;
    int64_t lag = 0;
    int assigned = 0;
    for (int32_t p = 0; p < w->n_parts; p++) {
        const wpart *wp = &w->parts[p];
        if (!wp->proc)
            continue;
        assigned++;
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(w->consumer, w->topic_in, p, &lo, &hi) || hi < 0)
            return -1;
        int64_t at = wp->committed >= 0 ? wp->committed : lo;
        if (hi > at)
            lag += hi - at;
        if (hi > 0 && wp->committed < 0)
            return -1; /* records exist but none consumed yet */
    }
    return assigned ? lag : -1;
}

void asw_worker_destroy(asw_worker *w) {
    if (!w)
        return;
    asw_http_stop(w->http); /* no request may read the worker past this */
    w->http = NULL;
    if (!w->closed)
        asw_worker_close(w);
    /* A batch is never left pending; its messages would have to go before
     * the consumer that owns them. */
    for (int i = 0; i < w->n_lanes; i++) {
        for (size_t k = 0; k < w->lanes[i].n_msgs; k++)
            rd_kafka_message_destroy(w->lanes[i].msgs[k]);
        w->lanes[i].n_msgs = 0;
    }
    if (w->restorer) {
        rd_kafka_consumer_close(w->restorer);
        rd_kafka_destroy(w->restorer);
    }
    asw_rules_topic_destroy(w->rules);
    if (w->consumer)
        rd_kafka_destroy(w->consumer);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    stop_lanes(w);
    for (int32_t p = 0; p < w->n_parts; p++)
        asw_processor_destroy(w->parts[p].proc);
    free(w->parts);
    asw_rulebook_destroy(w->book);
    for (int i = 0; i < w->n_lanes; i++) {
        wlane *l = &w->lanes[i];
        free(l->msgs);
        asw_buf_free(&l->buf);
        asw_codec_destroy(l->codec);
    }
    free(w->lanes);
    asw_registry_destroy(w->registry);
    pthread_cond_destroy(&w->pool_done);
    pthread_cond_destroy(&w->pool_go);
    pthread_mutex_destroy(&w->pool_lock);
    pthread_mutex_destroy(&w->state_lock);
    pthread_mutex_destroy(&w->view_lock);
    pthread_mutex_destroy(&w->query_lock);
    pthread_cond_destroy(&w->query_done);
    free(w->view.parts);
    free(w);
}
