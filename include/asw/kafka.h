/*
 * kafka.h -- building librdkafka handles from the worker's configuration,
 * and the few cluster queries the worker and the tools need.
 *
 * Every handle gets the passthrough properties of the config file first, then
 * the settings its role needs (which the config refuses to take from users,
 * see config.c), and routes librdkafka's logs into the project's logger.
 */
#ifndef ASW_KAFKA_H
#define ASW_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "asw/config.h"
#include "asw/log.h"

/* The opaque of every handle the project creates. librdkafka's log lines go
 * to `log`; `owner` is the object that created the handle (the worker, a
 * tool), for its own callbacks. Must outlive the handle. */
typedef struct asw_kafka_ctx {
    asw_log *log;
    void *owner;
} asw_kafka_ctx;

typedef enum asw_kafka_role {
    ASW_KAFKA_WORKER_CONSUMER,  /* group member: read_committed, cooperative-sticky,
                                   no auto commit, group.id = application.id */
    ASW_KAFKA_WORKER_PRODUCER,  /* transactional (transactional_id required) */
    ASW_KAFKA_RESTORE_CONSUMER, /* assign-only, read_committed, partition EOF */
    ASW_KAFKA_RULES_CONSUMER,   /* the ruleset control topic: assign-only, partition EOF,
                                   librdkafka's long-poll fetches (it idles for hours) */
    ASW_KAFKA_TOOL_PRODUCER,    /* idempotent */
    ASW_KAFKA_TOOL_CONSUMER     /* assign-only, read_committed, partition EOF */
} asw_kafka_role;

/*
 * Create a configured handle for a role. `transactional_id` is used by
 * ASW_KAFKA_WORKER_PRODUCER only. Callbacks a caller needs beyond logging
 * (rebalance, delivery reports, errors) are set through `setup`, called on
 * the conf before the handle is created (may be NULL).
 * Returns the handle, or NULL with a one-line message in err.
 */
rd_kafka_t *asw_kafka_new(const asw_config *cfg, asw_kafka_role role, asw_kafka_ctx *ctx,
                          const char *transactional_id, void (*setup)(rd_kafka_conf_t *conf),
                          char *err, size_t errlen);

/*
 * The rules across keys, checked when a config is loaded: the worker's own
 * (asw_config_check: commit.interval.ms below transaction.timeout.ms,
 * heartbeat.interval.ms below session.timeout.ms, five distinct topics)
 * and then librdkafka's, as rd_kafka_new() applies them to each client the
 * worker builds (without connecting). Returns 0, or -1 with "origin: message" in err, the origin
 * being the file:line (or environment variable) that set the first key
 * the message names.
 */
int asw_kafka_check_config(const asw_config *cfg, char *err, size_t errlen);

/*
 * Partition count of a topic, from fresh metadata.
 * Returns 0 (count written), 1 when the topic does not exist, -1 on error
 * (message in err).
 */
int asw_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int32_t *count,
                              char *err, size_t errlen);

/*
 * Create a topic (CreateTopics, waits for the result). `compact` sets
 * cleanup.policy=compact. A topic that already exists is success.
 * Returns 0, or -1 with a message in err.
 */
int asw_kafka_create_topic(rd_kafka_t *rk, const char *topic, int32_t partitions,
                           int32_t replication_factor, bool compact, int timeout_ms, char *err,
                           size_t errlen);
/* The same with topic configs: name, value, ..., NULL (conf may be NULL). */
int asw_kafka_create_topic_conf(rd_kafka_t *rk, const char *topic, int32_t partitions,
                                int32_t replication_factor, const char *const *conf, int timeout_ms,
                                char *err, size_t errlen);

/* Does a consumer group member's assignment (the ConsumerProtocol
 * Assignment bytes of rd_kafka_group_member_info.member_assignment) hold
 * topic's partition? 1 yes, 0 no, -1 not such bytes. */
int asw_kafka_assignment_has(const void *buf, size_t len, const char *topic, int32_t partition);

/* The transactional id of a worker: "<application.id>-<worker.id>", or with
 * "<hostname>-<pid>" when worker.id is empty. Written into buf. */
void asw_kafka_transactional_id(const asw_config *cfg, char *buf, size_t len);

#endif /* ASW_KAFKA_H */
