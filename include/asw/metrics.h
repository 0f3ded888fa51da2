/*
 * metrics.h -- what the worker shows on its HTTP endpoint: counts of
 * committed outputs, per-partition progress, and their Prometheus text,
 * liveness and readiness. Pure formatting of a snapshot (asw_worker_view)
 * the worker publishes at each commit; nothing here touches Kafka.
 */
#ifndef ASW_METRICS_H
#define ASW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/model.h"

/* Dead-letter error codes: the codec's, then the worker's and the rules'. */
enum {
    ASW_DL_EMPTY_VALUE = ASW_CODEC_E__COUNT,
    ASW_DL_KEY_MISMATCH,
    ASW_DL_OUTPUT_TOO_LARGE,
    ASW_DL_INVALID_EVENT,
    ASW_DL_LATE_EVENT,
    ASW_DL_OTHER,
    ASW_DL__COUNT
};
/* The index of a dead-letter code (ASW_DL_OTHER when unknown), its name. */
int asw_dead_letter_index(const char *code);
const char *asw_dead_letter_name(int index);

/* Outputs of committed transactions, by kind. All int64_t: added as such. */
typedef struct asw_counts {
    int64_t events[ASW_EV__COUNT]; /* input events decoded, by type */
    int64_t decisions[ASW_OUT__COUNT];
    int64_t reasons[ASW_R__COUNT]; /* decisions naming each reason */
    int64_t duplicates;            /* decisions re-emitted as duplicate */
    int64_t records[ASW_RS__COUNT];
    int64_t over_refunds; /* refund records with over_refund */
    int64_t dead_letters[ASW_DL__COUNT];
} asw_counts;

void asw_counts_add(asw_counts *into, const asw_counts *from);

/* Upper bounds (ms) of the commit latency histogram; +Inf follows. */
#define ASW_COMMIT_BUCKETS 10
extern const int asw_commit_bucket_ms[ASW_COMMIT_BUCKETS];

typedef struct asw_partition_view {
    bool assigned, restoring, quarantined;
    int64_t committed; /* next offset to read after the last commit; -1 unknown */
    int64_t high;      /* the partition's high watermark as last fetched; -1 unknown */
    bool has_stream_time;
    int64_t stream_time;                 /* ms */
    int64_t orders;                      /* orders held in state */
    int64_t restore_read, restore_total; /* changelog records, while restoring */
} asw_partition_view;

/* A snapshot of the worker, consistent with its last committed transaction. */
/* What /metrics shows of librdkafka's statistics (statistics.interval.ms)
 * for one client: the last report, parsed (asw_kafka_stats_parse()). */
#define ASW_STATS_BROKERS 16
typedef struct asw_kafka_broker_stats {
    char name[128]; /* "host:port/id" */
    bool up;        /* state UP */
    int64_t rtt_avg_us, rtt_p99_us;
    int64_t outbuf_cnt, waitresp_cnt; /* requests queued, in flight */
    int64_t txerrs, rxerrs, req_timeouts;
} asw_kafka_broker_stats;

typedef struct asw_kafka_stats {
    bool present;
    int64_t reports;                    /* statistics reports received */
    int64_t msg_cnt;                    /* messages in the producer's queues */
    int64_t replyq;                     /* ops waiting for the application */
    int64_t tx, tx_bytes, rx, rx_bytes; /* requests and bytes, all brokers */
    int64_t fetchq_cnt;                 /* messages fetched, not yet consumed (consumer) */
    int64_t rebalance_cnt;              /* consumer group rebalances */
    char txn_state[32];                 /* eos.txn_state (transactional producer), or "" */
    int n_brokers;
    asw_kafka_broker_stats brokers[ASW_STATS_BROKERS]; /* by name, bootstrap ones left out */
} asw_kafka_stats;

/* Parse one statistics JSON document of librdkafka into *out (reports is
 * left as it was). Returns 0, or -1 when it is not such a document. */
int asw_kafka_stats_parse(const char *json, size_t len, asw_kafka_stats *out);

typedef struct asw_worker_view {
    bool started; /* subscribed */
    bool joined;  /* the group has given it an assignment (possibly empty) */
    bool fatal;
    char fatal_reason[512];
    char topic[256];
    asw_counts counts;
    int64_t commits, aborts, producers_renewed, restored_orders, changelog_corrupt,
        quarantined_total;
    int64_t commit_buckets[ASW_COMMIT_BUCKETS + 1]; /* per bucket, not cumulative */
    int64_t commit_count;
    double commit_ms_sum;
    /* The ruleset control topic (rules.topic), when on. */
    bool rules_on;
    int64_t rules_changes, rules_invalid, rules_late, rules_waits, rules_wait_expired,
        rules_wait_ms, rules_through, rules_offset;
    char rules_version[32]; /* in effect at the last catch-up */
    /* librdkafka's statistics of the group consumer [0] and the
     * transactional producer [1], when statistics.interval.ms is on. */
    asw_kafka_stats kafka[2];
    int32_t n_parts;
    asw_partition_view *parts; /* n_parts entries, by partition number */
} asw_worker_view;

/* The Prometheus text exposition (version 0.0.4) of a view. */
void asw_metrics_format(const asw_worker_view *v, asw_buf *out);
/* /healthz: 200 while the worker is not fatal, else 503 with the reason. */
int asw_metrics_health(const asw_worker_view *v, asw_buf *out);
/* /readyz: 200 once the worker has joined its group and every assigned
 * partition is restored and processing; else 503 with what is missing. */
int asw_metrics_ready(const asw_worker_view *v, asw_buf *out);

#endif /* ASW_METRICS_H */
