/*
 * registry.h -- a client of a Confluent-compatible Schema Registry (SPEC
 * section 6): registers the project's value schemas under the subject
 * `<topic>-value` (TopicNameStrategy) and looks writer schemas up by id.
 * Keys are plain UTF-8 strings (the order id), never Avro: no key subject is
 * registered.
 *
 * Over libcurl, with a connect and a total timeout per request, retries with
 * capped exponential backoff for what may pass (no answer, a timeout, HTTP
 * 408, 429 and 5xx), HTTP basic auth and TLS (CA, client certificate and
 * key). Every answer is cached: id -> schema text, and (subject, schema) ->
 * id, so a record needs the registry only the first time its id is seen.
 *
 * The basic-auth user info and the key password are secrets: no message of
 * this module carries them, and the URL is shown without its user info.
 *
 * A client is thread safe (one lock around the cache and the connection).
 */
#ifndef ASW_REGISTRY_H
#define ASW_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a registry call ended. */
typedef enum asw_registry_err {
    ASW_REGISTRY_OK = 0,
    ASW_REGISTRY_E_NOT_FOUND,   /* the registry answered 404: no such id (or subject) */
    ASW_REGISTRY_E_UNAVAILABLE, /* no answer, a timeout, 408/429/5xx, after every retry:
                                   may pass, try again later */
    ASW_REGISTRY_E_REFUSED      /* any other answer (401/403 auth, 409 incompatible, 422
                                   invalid, a malformed body): retrying will not help */
} asw_registry_err;

/* Stable upper-case name: "OK", "NOT_FOUND", "UNAVAILABLE", "REFUSED". */
const char *asw_registry_err_name(asw_registry_err e);

/* Every setting of the client; the strings are owned (asw_registry_options_clear). */
typedef struct asw_registry_options {
    char *url;           /* base URL, without a trailing '/' */
    char *user_info;     /* "user:password" for basic auth, or NULL; a secret */
    char *ca_location;   /* CA bundle (PEM) to verify the registry, or NULL: system CAs */
    char *cert_location; /* client certificate (PEM), or NULL */
    char *key_location;  /* client key (PEM), or NULL */
    char *key_password;  /* the key's password, or NULL; a secret */
    long connect_timeout_ms;
    long request_timeout_ms; /* the whole request, connect included */
    int retries;             /* further tries after the first, for UNAVAILABLE only */
    long retry_backoff_ms;   /* before the first retry; doubled each time */
    long retry_backoff_max_ms;
} asw_registry_options;

/*
 * Read every schema.registry.* key of cfg (the one place that does; the keys
 * were validated when set). Returns true when schema.registry.url is set
 * (*out filled, the caller owns it: asw_registry_options_clear), false when it
 * is empty (no registry: the built-in ids; *out zeroed).
 */
bool asw_registry_options_from_config(const asw_config *cfg, asw_registry_options *out);
/* Free the strings of *o and zero it. NULL is a no-op. */
void asw_registry_options_clear(asw_registry_options *o);

typedef struct asw_registry asw_registry;

/*
 * A client for o (copied). Sends nothing yet. Returns NULL with a message
 * when libcurl cannot be set up.
 */
asw_registry *asw_registry_new(const asw_registry_options *o, char *err, size_t errlen);
/* asw_registry_destroy(NULL) is a no-op. */
void asw_registry_destroy(asw_registry *r);

/* The base URL without user info, for messages. Valid until destroy. */
const char *asw_registry_url(const asw_registry *r);

/*
 * Register schema_json under `subject` (POST /subjects/{subject}/versions);
 * the registry answers with the id, the existing one when it holds that
 * schema already. Cached: the same (subject, schema) asks once. *id is written
 * on success only; on failure err holds one line naming the URL and why.
 */
asw_registry_err asw_registry_register(asw_registry *r, const char *subject,
                                       const char *schema_json, int32_t *id, char *err,
                                       size_t errlen);

/*
 * The schema text of id (GET /schemas/ids/{id}). Cached. On success *schema
 * points at text owned by the client, valid until asw_registry_destroy(). A
 * 404 (not cached: the id may be registered later) is E_NOT_FOUND.
 */
asw_registry_err asw_registry_lookup(asw_registry *r, int32_t id, const char **schema, char *err,
                                     size_t errlen);

/* The TopicNameStrategy subject of a topic's values: "<topic>-value". */
void asw_registry_value_subject(const char *topic, char *out, size_t outlen);

/* Requests sent so far (every try counts), for tests and the stats line. */
int64_t asw_registry_requests(const asw_registry *r);

#ifdef __cplusplus
}
#endif
#endif /* ASW_REGISTRY_H */
