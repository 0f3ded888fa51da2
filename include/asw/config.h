/*
 * config.h -- the worker's configuration: one Java-properties file
 * (`key=value`, `#` and `!` comments) shared by every subcommand.
 *
 * Keys the worker knows (rules.*, topic.*, ...) are validated here; any other
 * key must be a librdkafka property and is checked against librdkafka itself,
 * so a typo is refused at load time with `file:line: message`.
 */
#ifndef ASW_CONFIG_H
#define ASW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "asw/processor.h"
#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct asw_config asw_config;

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

/* Value of a key (the default for a known key never set), or NULL. Valid
 * until the key is set again or the config destroyed. */
const char *asw_config_get(const asw_config *cfg, const char *key);

/* Where a key was set: "path:line" (the line its entry starts on) or
 * "environment ASW_CFG_X"; NULL for a default or a key set by
 * asw_config_set() directly. Valid until the key is set again. */
const char *asw_config_origin(const asw_config *cfg, const char *key);

/* state.retention.ms and state.stream_time.max_step.ms, as numbers (the
 * keys were validated when set). */
void asw_config_state_limits(const asw_config *cfg, asw_state_limits *out);

/* The ruleset built from rules.* keys. Owned by the config. */
const asw_ruleset *asw_config_ruleset(const asw_config *cfg);

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
