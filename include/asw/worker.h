/*
 * worker.h -- the Kafka worker: a consumer-group member that reads
 * after-sale events, runs the core on them and writes decisions, refund
 * records, dead letters and changelog records together with the consumed
 * offsets in one Kafka transaction (SPEC sections 5 and 7).
 *
 * One consumer (cooperative-sticky, read_committed), one transactional
 * producer whose commits carry the consumer group metadata (KIP-447 fencing),
 * one restore consumer that rebuilds a partition's order states from its
 * changelog partition before the partition is processed. Every function is
 * called from one thread; librdkafka callbacks run from inside
 * asw_worker_step(). With num.threads = N > 1 the worker also runs N - 1
 * threads of its own, which process their partitions' share of each polled
 * batch while asw_worker_step() waits for them (src/worker.c says how).
 */
#ifndef ASW_WORKER_H
#define ASW_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "asw/config.h"
#include "asw/log.h"
#include "asw/processor.h"

typedef struct asw_worker asw_worker;

typedef struct asw_worker_stats {
    int64_t consumed; /* input records processed (including re-processing after an abort) */
    int64_t decisions;
    int64_t records;
    int64_t dead_letters;
    int64_t late_events;       /* dead letters LATE_EVENT (SPEC 7), among dead_letters */
    int64_t changelog;         /* changelog records written */
    int64_t commits;           /* committed transactions */
    int64_t aborts;            /* aborted transactions */
    int64_t producers_renewed; /* fenced producers replaced (a transaction the coordinator
                                  aborted after transaction.timeout.ms) */
    int64_t restored;          /* orders rebuilt from the changelog */
    int64_t changelog_corrupt; /* changelog records that could not be decoded */
    int64_t quarantined;       /* times a partition was left unprocessed because its
                                  changelog could not be restored whole */
    int64_t registry_pauses;   /* batches left unprocessed while the Schema Registry did
                                  not answer (each read again after a pause) */
} asw_worker_stats;

/*
 * Create a worker: its Kafka clients, but no contact with the cluster yet.
 * `cfg` and `log` are borrowed and must outlive the worker.
 * Returns NULL with a one-line message in err.
 */
asw_worker *asw_worker_new(const asw_config *cfg, asw_log *log, char *err, size_t errlen);

/*
 * Prepare the cluster and join the group: check the input topic, create the
 * changelog (compacted, one partition per input partition) and any missing
 * output topic, check the changelog's partition count, initialise
 * transactions (fencing an older producer with the same transactional id),
 * and subscribe. Returns 0, or -1 with a one-line message in err.
 */
int asw_worker_start(asw_worker *w, char *err, size_t errlen);

/*
 * One turn of the loop: poll one record (waiting up to timeout_ms) -- with
 * num.threads > 1 also the records already queued, up to 4,096 -- process
 * them, serve producer events, and commit when commit.interval.ms has passed
 * or commit.max.records were processed. Returns 0, or -1 once a fatal error
 * happened (asw_worker_error() says which).
 */
int asw_worker_step(asw_worker *w, int timeout_ms);

/* Commit the open transaction now (if any). Returns 0, 1 when it had to be
 * aborted (state rolled back, consumer rewound), -1 on a fatal error. */
int asw_worker_commit(asw_worker *w);

/*
 * Run until *stop is set or a fatal error, then close. Returns 0 after an
 * orderly stop, -1 after a fatal error.
 */
int asw_worker_run(asw_worker *w, const volatile sig_atomic_t *stop);

/* Finish (commit, or abort after an error) the open transaction and leave
 * the group. Returns 0, or -1 if a fatal error happened. Idempotent. */
int asw_worker_close(asw_worker *w);

/* The fatal error, "" when there is none. Valid while the worker lives. */
const char *asw_worker_error(const asw_worker *w);
void asw_worker_get_stats(const asw_worker *w, asw_worker_stats *out);

/* The processor of an assigned input partition, NULL when not assigned.
 * For tests and the demo. */
const asw_processor *asw_worker_partition(const asw_worker *w, int32_t partition);
/* How many input partitions the topic has (0 before start). */
int32_t asw_worker_partition_count(const asw_worker *w);
/* Records of the assigned partitions not yet committed, from the consumer's
 * cached high watermarks; -1 while unknown (no assignment, a transaction
 * open, or a partition with records none of which was consumed yet). */
int64_t asw_worker_lag(const asw_worker *w);

/* Destroy the worker (closing it first if needed). NULL is a no-op. */
void asw_worker_destroy(asw_worker *w);

#endif /* ASW_WORKER_H */
