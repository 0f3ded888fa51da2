/*
 * config.h -- the worker's configuration: one Java-properties file
 * (`key=value`, `#` and `!` comments) shared by every subcommand.
 *
 * Keys the worker knows (rules.*, topic.*, ...) are validated here; any other
 * key must be a librdkafka property and is checked against librdkafka itself,
 * so a typo is refused at load time with `file:line: message`.
 *
 * The rest of the code reads the values as types, from asw_config_settings()
 * (settings->commit_interval_ms, settings->topic.input), never as strings:
 * every key is parsed here, once, and the rules across keys are checked
 * here too (asw_config_check).
 */
#ifndef ASW_CONFIG_H
#define ASW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <stdint.h>

#include "asw/log.h"
#include "asw/processor.h"
#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct asw_config asw_config;

/*
 * The configuration as types: every key of the worker's own, each parsed
 * once when it is set, plus the few librdkafka properties the worker itself
 * reads. Strings are owned by the config and valid until that key is set
 * again or the config is destroyed.
 */
typedef struct asw_settings {
    const char *application_id; /* names the group, the ids and the changelog */
    const char *worker_id;      /* "" when the worker has no stable identity */
    struct {
        const char *input;
        const char *decisions;
        const char *refund_records;
        const char *dlq;
        /* topic.changelog, or "<application.id>-changelog" when that is empty */
        const char *changelog;
        int32_t replication_factor; /* topic.replication.factor; -1 = the broker's default */
    } topic;
    int64_t commit_interval_ms;
    int64_t commit_max_records;
    int num_threads;
    asw_state_limits state;     /* state.retention.ms, state.stream_time.max_step.ms,
                                   state.cache.orders */
    const asw_ruleset *ruleset; /* from the rules.* keys */
    asw_log_level log_level;
    bool log_json; /* log.format = json (else logfmt) */
    struct {
        const char *listen; /* http.listen: "host:port", or "" for no HTTP view */
    } http;
    /* The ruleset control topic (docs/rules.md). */
    struct {
        const char *topic;   /* rules.topic, or "" when off */
        int64_t lead_ms;     /* rules.topic.lead.ms */
        int64_t wait_max_ms; /* rules.topic.wait.max.ms */
    } rules;
    /* The Schema Registry client (schema.registry.*; src/registry.c). */
    struct {
        const char *url;       /* "" when none; a secret (may carry credentials) */
        const char *user_info; /* basic.auth.user.info "user:password", or ""; a secret */
        const char *ca_location, *certificate_location, *key_location; /* "" when unset */
        const char *key_password;                                      /* a secret */
        int64_t connect_timeout_ms, request_timeout_ms;
        int64_t max_retries, retries_wait_ms, retries_max_wait_ms;
    } registry;
    /* librdkafka properties the worker's own logic depends on: the value
     * set, else the default the worker gives its clients (transaction and
     * session: 10 s) or librdkafka's own (heartbeat: 3 s). */
    struct {
        int64_t transaction_timeout_ms;
        int64_t session_timeout_ms;
        int64_t heartbeat_interval_ms;
    } kafka;
} asw_settings;

/* The worker's default transaction.timeout.ms and session.timeout.ms, for
 * its clients when the config sets none. */
#define ASW_CONFIG_TRANSACTION_TIMEOUT_MS_DEFAULT 10000
#define ASW_CONFIG_SESSION_TIMEOUT_MS_DEFAULT     10000

/* A config with every default. Never NULL (OOM aborts). */
asw_config *asw_config_new(void);
/* asw_config_destroy(NULL) is a no-op. */
void asw_config_destroy(asw_config *cfg);

/*
 * Load a properties file on top of the current values. Returns 0, or -1 with
 * "path:line: message" in err (the config may then hold the keys before the
 * bad line; callers exit on error).
 */
int asw_config_load_file(asw_config *cfg, const char *path, char *err, size_t errlen);

/* Set one key. Returns 0, or -1 with a message (without file:line). */
int asw_config_set(asw_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Value of a key as a string (the default for a known key never set), or
 * NULL. Valid until the key is set again or the config destroyed. For
 * printing and for librdkafka properties; the worker's own keys are read
 * from asw_config_settings(). */
const char *asw_config_get(const asw_config *cfg, const char *key);

/* Where a key was set: "path:line" (the line its entry starts on) or
 * "environment ASW_CFG_X"; NULL for a default or a key set by
 * asw_config_set() directly. Valid until the key is set again. */
const char *asw_config_origin(const asw_config *cfg, const char *key);

/*
 * The typed settings: always those of the config's current values (defaults
 * included), each key within its bounds. Never NULL; owned by the config,
 * valid until it is changed or destroyed.
 */
const asw_settings *asw_config_settings(const asw_config *cfg);

/*
 * The worker's rules across keys: commit.interval.ms below
 * transaction.timeout.ms, heartbeat.interval.ms below session.timeout.ms,
 * and five distinct topics (the changelog's name derived when not set).
 * Returns 0, or -1 with "origin: message" in err, the origin being where the
 * first key the message names was set (file:line, or the environment
 * variable), and where the others were set at the end. librdkafka's own
 * rules across its properties are checked by asw_kafka_check_config().
 */
int asw_config_check(const asw_config *cfg, char *err, size_t errlen);

/*
 * The librdkafka properties of the config (every key that is not the
 * worker's own), in the order they were first set; a key set again keeps its
 * place and takes the new value. For applying them to a real rd_kafka_conf_t.
 */
size_t asw_config_kafka_count(const asw_config *cfg);
/* The i-th librdkafka property (0-based). Returns 0 and sets *key and *value
 * (owned by the config, valid until that key is set again or the config is
 * destroyed), or -1 when i >= asw_config_kafka_count() (outputs untouched). */
int asw_config_kafka_at(const asw_config *cfg, size_t i, const char **key, const char **value);

/*
 * Apply overrides from the environment (envp as main's third argument or
 * `environ`): every ASW_CFG_<NAME>=value sets the key made of NAME in lower
 * case with '_' read as '.' and "__" as '_' (ASW_CFG_BOOTSTRAP_SERVERS ->
 * bootstrap.servers, ASW_CFG_TOPIC_REFUND__RECORDS -> topic.refund_records).
 * Returns 0, or -1 with "environment ASW_CFG_X: message" in err.
 */
int asw_config_apply_env(asw_config *cfg, char *const *envp, char *err, size_t errlen);

/* Does the key hold a secret (password, secret, JAAS, key PEM, token,
 * credentials, registry URL)? Such values never reach a log or a print. */
bool asw_config_is_secret(const char *key);

/* Print the effective configuration, one key=value a line: every worker key
 * (defaults included) then the librdkafka properties in the order set.
 * Secret values print as ********. */
void asw_config_print(const asw_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_CONFIG_H */
