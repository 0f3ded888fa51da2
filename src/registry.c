/*
 * registry.c -- a Confluent-compatible Schema Registry client over libcurl
 * (registry.h): register a value schema under its TopicNameStrategy subject,
 * look a writer schema up by id, cache both.
 *
 * The REST calls (Confluent's API, which Apicurio's /apis/ccompat/v7 and
 * Karapace also serve):
 *
 *   POST /subjects/{subject}/versions  {"schema": "<text>"}  -> {"id": N}
 *   GET  /schemas/ids/{id}                                  -> {"schema": "<text>"}
 *
 * with Content-Type application/vnd.schemaregistry.v1+json; errors come back
 * as {"error_code": 40403, "message": "..."}.
 *
 * Each try has a connect timeout and a total timeout; a try that may pass on
 * its own (no connection, a timeout, 408, 429, 5xx) is tried again after a
 * backoff that doubles up to a cap. Anything else answers at once.
 *
 * Memory: out-of-memory aborts (alloc.h). Secrets (basic-auth user info,
 * the key password) go to libcurl only, never into a message.
 */
#include "asw/registry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/alloc.h"
#include "asw/buf.h"

/* An answer larger than this is refused: a schema is a few kilobytes. */
#define MAX_BODY (4u << 20)

typedef struct id_entry {
    int32_t id;
    char *schema;
} id_entry;

typedef struct subject_entry {
    char *subject;
    char *schema;
    int32_t id;
} subject_entry;

struct asw_registry {
    asw_registry_options o;
    char *shown_url; /* o.url without user info */
    CURL *curl;
    pthread_mutex_t lock; /* the cache, the handle, the counter */
    id_entry *ids;
    size_t n_ids, cap_ids;
    subject_entry *subjects;
    size_t n_subjects, cap_subjects;
    int64_t requests;
};

const char *asw_registry_err_name(asw_registry_err e) {
    switch (e) {
    case ASW_REGISTRY_OK:
        return "OK";
    case ASW_REGISTRY_E_NOT_FOUND:
        return "NOT_FOUND";
    case ASW_REGISTRY_E_UNAVAILABLE:
        return "UNAVAILABLE";
    case ASW_REGISTRY_E_REFUSED:
        return "REFUSED";
    }
    return "UNKNOWN";
}

/* ---- options ---- */

static char *opt_str(const char *v) {
    return v && v[0] ? asw_strdup(v) : NULL;
}

/* The schema.registry.* settings (asw_settings, validated by config.c). */
bool asw_registry_options_from_config(const asw_config *cfg, asw_registry_options *out) {
    memset(out, 0, sizeof *out);
    const asw_settings *st = asw_config_settings(cfg);
    if (!st->registry.url[0])
        return false;
    out->url = asw_strdup(st->registry.url);
    size_t n = strlen(out->url);
    while (n > 0 && out->url[n - 1] == '/')
        out->url[--n] = '\0';
    out->user_info = opt_str(st->registry.user_info);
    out->ca_location = opt_str(st->registry.ca_location);
    out->cert_location = opt_str(st->registry.certificate_location);
    out->key_location = opt_str(st->registry.key_location);
    out->key_password = opt_str(st->registry.key_password);
    out->connect_timeout_ms = (long)st->registry.connect_timeout_ms;
    out->request_timeout_ms = (long)st->registry.request_timeout_ms;
    out->retries = (int)st->registry.max_retries;
    out->retry_backoff_ms = (long)st->registry.retries_wait_ms;
    out->retry_backoff_max_ms = (long)st->registry.retries_max_wait_ms;
    return true;
}

static void free_secret(char *s) {
    if (!s)
        return;
    /* volatile: the wipe must not be optimised away before free(). */
    for (volatile char *p = s; *p; p++)
        *p = '\0';
    free(s);
}

void asw_registry_options_clear(asw_registry_options *o) {
    if (!o)
        return;
    free(o->url);
    free_secret(o->user_info);
    free(o->ca_location);
    free(o->cert_location);
    free(o->key_location);
    free_secret(o->key_password);
    memset(o, 0, sizeof *o);
}

static char *dup_opt(const char *s) {
    return s ? asw_strdup(s) : NULL;
}

/* The URL with any "user:password@" dropped: what messages show. */
static char *shown(const char *url) {
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return asw_strdup(url);
    size_t head = (size_t)(host - url);
    char *s = asw_malloc(strlen(url) + 1);
    memcpy(s, url, head);
    strcpy(s + head, at + 1);
    return s;
}

/* ---- lifetime ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

asw_registry *asw_registry_new(const asw_registry_options *o, char *err, size_t errlen) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (!o || !o->url || !o->url[0]) {
        snprintf(err, errlen, "schema registry: no URL");
        return NULL;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "libcurl: cannot create a handle");
        return NULL;
    }
    asw_registry *r = asw_calloc(1, sizeof *r);
    r->curl = curl;
    r->o = *o;
    r->o.url = asw_strdup(o->url);
    r->o.user_info = dup_opt(o->user_info);
    r->o.ca_location = dup_opt(o->ca_location);
    r->o.cert_location = dup_opt(o->cert_location);
    r->o.key_location = dup_opt(o->key_location);
    r->o.key_password = dup_opt(o->key_password);
    r->shown_url = shown(o->url);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void asw_registry_destroy(asw_registry *r) {
    if (!r)
        return;
    curl_easy_cleanup(r->curl);
    for (size_t i = 0; i < r->n_ids; i++)
        free(r->ids[i].schema);
    free(r->ids);
    for (size_t i = 0; i < r->n_subjects; i++) {
        free(r->subjects[i].subject);
        free(r->subjects[i].schema);
    }
    free(r->subjects);
    pthread_mutex_destroy(&r->lock);
    free(r->shown_url);
    asw_registry_options_clear(&r->o);
    free(r);
}

const char *asw_registry_url(const asw_registry *r) {
    return r->shown_url;
}

int64_t asw_registry_requests(const asw_registry *r) {
    asw_registry *m = (asw_registry *)r;
    pthread_mutex_lock(&m->lock);
    int64_t n = m->requests;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void asw_registry_value_subject(const char *topic, char *out, size_t outlen) {
    snprintf(out, outlen, "%s-value", topic);
}

/* ---- one request, with retries ---- */

typedef struct answer {
    asw_buf body;
    bool too_large;
} answer;

static size_t on_body(char *data, size_t size, size_t n, void *opaque) {
    answer *a = opaque;
    size_t len = size * n;
    if (a->body.len + len > MAX_BODY) {
        a->too_large = true;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    asw_buf_append(&a->body, data, len);
    return len;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Errors of our own settings (a bad path, a malformed URL): no retry helps. */
static bool curl_error_is_final(CURLcode c) {
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_LOGIN_DENIED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
        return true;
    default:
        return false;
    }
}

static bool status_may_pass(long status) {
    return status == 408 || status == 429 || status >= 500;
}

/* The "message" of a registry's error body, or a short excerpt of the body. */
static void error_text(const asw_buf *body, char *out, size_t outlen) {
    json_error_t jerr;
    json_t *j = body->len ? json_loadb((const char *)body->data, body->len, 0, &jerr) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
    if (msg)
        snprintf(out, outlen, "%s", msg);
    else
        snprintf(out, outlen, "%.*s", (int)(body->len < 120 ? body->len : 120),
                 body->len ? (const char *)body->data : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    json_decref(j);
}

/*
 * Send one call (method GET, or POST with `post` as its body) to path, trying
 * again while the failure may pass. On ASW_REGISTRY_OK *status is 2xx and
 * a->body the answer. err names the URL, the call and why.
 * @locks r->lock held by the caller
 */
static asw_registry_err call(asw_registry *r, const char *path, const char *post, answer *a,
                             char *err, size_t errlen) {
    char url[2048];
    snprintf(url, sizeof url, "%s%s", r->o.url, path);
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Accept: application/vnd.schemaregistry.v1+json, "
                                   "application/vnd.schemaregistry+json, application/json");
    if (post)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
    long backoff = r->o.retry_backoff_ms;
    asw_registry_err rc = ASW_REGISTRY_E_UNAVAILABLE;
    for (int attempt = 0;; attempt++) {
        CURL *c = r->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->o.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->o.request_timeout_ms);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "aftersale-worker");
        if (post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
        }
        if (r->o.user_info) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERPWD, r->o.user_info);
        }
        if (r->o.ca_location)
            curl_easy_setopt(c, CURLOPT_CAINFO, r->o.ca_location);
        if (r->o.cert_location)
            curl_easy_setopt(c, CURLOPT_SSLCERT, r->o.cert_location);
        if (r->o.key_location)
            curl_easy_setopt(c, CURLOPT_SSLKEY, r->o.key_location);
        if (r->o.key_password)
            curl_easy_setopt(c, CURLOPT_KEYPASSWD, r->o.key_password);
        asw_buf_reset(&a->body);
        a->too_large = false;
        r->requests++;
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        bool again;
        if (cc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 200 && status < 300) {
                rc = ASW_REGISTRY_OK;
                break;
            }
            char why[256];
            error_text(&a->body, why, sizeof why);
            snprintf(err, errlen, "schema registry %s: %s %s: HTTP %ld: %s", r->shown_url,
                     post ? "POST" : "GET", path, status, why);
            again = status_may_pass(status);
            rc = status == 404 ? ASW_REGISTRY_E_NOT_FOUND
                 : again       ? ASW_REGISTRY_E_UNAVAILABLE
                               : ASW_REGISTRY_E_REFUSED;
        } else {
            snprintf(err, errlen, "schema registry %s: %s %s: %s", r->shown_url,
                     post ? "POST" : "GET", path,
                     a->too_large ? "answer larger than 4 MiB" : curl_easy_strerror(cc));
            again = !a->too_large && !curl_error_is_final(cc);
            rc = again ? ASW_REGISTRY_E_UNAVAILABLE : ASW_REGISTRY_E_REFUSED;
        }
        if (!again || attempt >= r->o.retries) {
            if (again && attempt > 0) {
                size_t n = strlen(err);
                snprintf(err + n, errlen > n ? errlen - n : 0, " (%d tries)", attempt + 1);
            }
            break;
        }
        sleep_ms(backoff);
        backoff = backoff * 2 > r->o.retry_backoff_max_ms ? r->o.retry_backoff_max_ms : backoff * 2;
    }
    curl_slist_free_all(hdrs);
    return rc;
}

/* ---- the calls ---- */

static const char *cached_id(const asw_registry *r, int32_t id) {
    for (size_t i = 0; i < r->n_ids; i++)
        if (r->ids[i].id == id)
            return r->ids[i].schema;
    return NULL;
}

static void cache_id(asw_registry *r, int32_t id, const char *schema) {
    if (cached_id(r, id))
        return;
    if (r->n_ids == r->cap_ids) {
        r->cap_ids = r->cap_ids ? 2 * r->cap_ids : 16;
        r->ids = asw_realloc(r->ids, r->cap_ids * sizeof *r->ids);
    }
    r->ids[r->n_ids].id = id;
    r->ids[r->n_ids].schema = asw_strdup(schema);
    r->n_ids++;
}

/* The JSON body of an answer, or NULL with err set (REFUSED). */
static json_t *answer_json(const asw_registry *r, const char *what, const answer *a, char *err,
                           size_t errlen) {
    json_error_t jerr;
    json_t *j = json_loadb((const char *)a->body.data, a->body.len, 0, &jerr);
    if (!j || !json_is_object(j)) {
        snprintf(err, errlen, "schema registry %s: %s: the answer is not a JSON object",
                 r->shown_url, what);
        json_decref(j);
        return NULL;
    }
    return j;
}

asw_registry_err asw_registry_register(asw_registry *r, const char *subject,
                                       const char *schema_json, int32_t *id, char *err,
                                       size_t errlen) {
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_subjects; i++)
        if (strcmp(r->subjects[i].subject, subject) == 0 &&
            strcmp(r->subjects[i].schema, schema_json) == 0) {
            *id = r->subjects[i].id;
            pthread_mutex_unlock(&r->lock);
            return ASW_REGISTRY_OK;
        }
    char *esc = curl_easy_escape(r->curl, subject, 0);
    char path[1024];
    snprintf(path, sizeof path, "/subjects/%s/versions", esc ? esc : subject);
    curl_free(esc);
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *post = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!post)
        abort(); /* out of memory (alloc.h's policy) */
    answer a = {ASW_BUF_INIT, false};
    asw_registry_err rc = call(r, path, post, &a, err, errlen);
    free(post);
    if (rc == ASW_REGISTRY_OK) {
        json_t *j = answer_json(r, path, &a, err, errlen);
        json_t *jid = j ? json_object_get(j, "id") : NULL;
        json_int_t v = json_is_integer(jid) ? json_integer_value(jid) : -1;
        if (!j) {
            rc = ASW_REGISTRY_E_REFUSED;
        } else if (v < 0 || v > INT32_MAX) {
            snprintf(err, errlen, "schema registry %s: POST %s: the answer has no valid \"id\"",
                     r->shown_url, path);
            rc = ASW_REGISTRY_E_REFUSED;
        } else {
            if (r->n_subjects == r->cap_subjects) {
                r->cap_subjects = r->cap_subjects ? 2 * r->cap_subjects : 16;
                r->subjects = asw_realloc(r->subjects, r->cap_subjects * sizeof *r->subjects);
            }
            subject_entry *e = &r->subjects[r->n_subjects++];
            e->subject = asw_strdup(subject);
            e->schema = asw_strdup(schema_json);
            e->id = (int32_t)v;
            cache_id(r, e->id, schema_json);
            *id = e->id;
        }
        json_decref(j);
    }
    asw_buf_free(&a.body);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

asw_registry_err asw_registry_lookup(asw_registry *r, int32_t id, const char **schema, char *err,
                                     size_t errlen) {
    pthread_mutex_lock(&r->lock);
    const char *hit = cached_id(r, id);
    if (hit) {
        *schema = hit;
        pthread_mutex_unlock(&r->lock);
        return ASW_REGISTRY_OK;
    }
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%" PRId32, id);
    answer a = {ASW_BUF_INIT, false};
    asw_registry_err rc = call(r, path, NULL, &a, err, errlen);
    if (rc == ASW_REGISTRY_OK) {
        json_t *j = answer_json(r, path, &a, err, errlen);
        const char *text = j ? json_string_value(json_object_get(j, "schema")) : NULL;
        const char *type = j ? json_string_value(json_object_get(j, "schemaType")) : NULL;
        if (!text) {
            if (j)
                snprintf(err, errlen, "schema registry %s: GET %s: the answer has no \"schema\"",
                         r->shown_url, path);
            rc = ASW_REGISTRY_E_REFUSED;
        } else if (type && strcmp(type, "AVRO") != 0) {
            snprintf(err, errlen, "schema registry %s: schema id %" PRId32 " is %s, not AVRO",
                     r->shown_url, id, type);
            rc = ASW_REGISTRY_E_REFUSED;
        } else {
            cache_id(r, id, text);
            *schema = cached_id(r, id);
        }
        json_decref(j);
    }
    asw_buf_free(&a.body);
    pthread_mutex_unlock(&r->lock);
    return rc;
}
