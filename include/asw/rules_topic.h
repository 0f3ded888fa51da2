/*
 * rules_topic.h -- the ruleset control topic (rules.topic, docs/rules.md):
 * one compacted partition of ruleset changes, read whole at start-up and
 * followed while the worker runs, like a Kafka Streams GlobalKTable.
 *
 * A change written at (record) time T applies from max(effective_time,
 * T + rules.topic.lead.ms): the tool writes changes at least the lead ahead
 * of their effective time, so that after the reader has read the topic to
 * the end it looked up at wall-clock time W, no change still to come can
 * apply before W + lead/2 (half the lead absorbs clock skew between the
 * brokers and the worker). An event whose event_time is at most that
 * (asw_rules_topic_through()) can be decided now, the same way it will be
 * in any replay; a later one waits for the reader to catch up.
 */
#ifndef ASW_RULES_TOPIC_H
#define ASW_RULES_TOPIC_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "asw/config.h"
#include "asw/kafka.h"
#include "asw/log.h"
#include "asw/rulebook.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct asw_rules_topic asw_rules_topic;

typedef struct asw_rules_topic_stats {
    int64_t changes;      /* changes added to the book */
    int64_t duplicates;   /* records of a change already in the book */
    int64_t invalid;      /* records that are not a valid change (skipped) */
    int64_t late;         /* changes applying at or before an event time already decided */
    int64_t catch_ups;    /* reads to the end */
    int64_t waits;        /* batches that waited for the topic */
    int64_t wait_expired; /* ... and were decided after rules.topic.wait.max.ms anyway */
    int64_t wait_ms;      /* time spent waiting */
    int64_t through;      /* asw_rules_topic_through() */
    int64_t offset;       /* the next offset to read */
} asw_rules_topic_stats;

/* A reader of cfg's rules.topic adding to `book` (borrowed). NULL with err
 * when the consumer cannot be made. */
asw_rules_topic *asw_rules_topic_new(const asw_config *cfg, asw_kafka_ctx *ctx, asw_rulebook *book,
                                     asw_log *log, char *err, size_t errlen);
void asw_rules_topic_destroy(asw_rules_topic *t);

/* Create the topic when it is missing (one partition, compacted,
 * LogAppendTime; `admin` makes it), refuse one with more partitions, and
 * read it to the end. Returns 0, or -1 with err. */
int asw_rules_topic_start(asw_rules_topic *t, rd_kafka_t *admin, int timeout_ms, char *err,
                          size_t errlen);
/* Add what has arrived, without waiting. */
void asw_rules_topic_poll(asw_rules_topic *t);
/* Look up the end and read to it, within timeout_ms. Returns 0 (through()
 * moved on), or -1 (it did not; why in err). */
int asw_rules_topic_catch_up(asw_rules_topic *t, int timeout_ms, char *err, size_t errlen);
/* The event time up to which the book is complete. */
int64_t asw_rules_topic_through(const asw_rules_topic *t);
/* Wall-clock ms of the last catch-up. */
int64_t asw_rules_topic_caught_up_at(const asw_rules_topic *t);
int64_t asw_rules_topic_lead_ms(const asw_rules_topic *t);
int64_t asw_rules_topic_wait_max_ms(const asw_rules_topic *t);
/* An event of time t was decided: a change arriving later that applies
 * at or before t is counted as late. */
void asw_rules_topic_decided(asw_rules_topic *t, int64_t event_time);
void asw_rules_topic_count_wait(asw_rules_topic *t, int64_t ms, bool expired);
void asw_rules_topic_get_stats(const asw_rules_topic *t, asw_rules_topic_stats *out);

/* When a record of time `timestamp` (ms, -1 unknown) holding c applies. */
int64_t asw_rules_applies_from(const asw_rule_change *c, int64_t timestamp, int64_t lead_ms);

#ifdef __cplusplus
}
#endif
#endif /* ASW_RULES_TOPIC_H */
