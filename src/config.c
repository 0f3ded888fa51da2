/*
 * config.c -- the worker's configuration: a Java-properties file of the
 * worker's own keys (validated here) and librdkafka properties (validated by
 * librdkafka itself on a scratch rd_kafka_conf_t and kept, in order, to be
 * applied to the real configuration later).
 *
 * The properties syntax accepted, a subset of java.util.Properties:
 *  - a logical line is `key=value`, `key: value` or `key value`: the key ends
 *    at the first unescaped '=', ':' or blank; blanks around the separator
 *    and around the whole line are trimmed;
 *  - lines whose first non-blank character is '#' or '!' are comments, and
 *    blank lines are skipped;
 *  - a line ending in an odd number of backslashes continues on the next
 *    line (the backslash and the line break are dropped, and so are the
 *    next line's leading blanks); a comment line never continues;
 *  - the escapes \\ \n \t \= \: \# \! (in keys and values); any other escape
 *    (\uXXXX, "\ ", \r, ...) is refused rather than guessed at;
 *  - "\n" and "\r\n" line ends. A key set twice: the last value wins.
 *
 * Errors never print the value of a librdkafka property themselves (it may
 * be a password); librdkafka's own messages are passed through as they are.
 *
 * Every value is kept as the string it was set to (for asw_config_print and
 * for librdkafka) and, for the worker's own keys and the few librdkafka
 * properties the worker reads, as a type in the asw_settings, refreshed
 * whenever a key is set. The worker's rules across keys are here too
 * (asw_config_check), so that the rest of the code never parses a value.
 */

#include "asw/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "asw/alloc.h"

/* ------------------------------------------------------------------------ */
/* The worker's own keys                                                    */
/* ------------------------------------------------------------------------ */

typedef enum {
    KIND_INT,          /* strict decimal integer in [min, max] */
    KIND_TOPIC,        /* a valid Kafka topic name */
    KIND_TOPIC_OPT,    /* empty, or a valid Kafka topic name */
    KIND_APP_ID,       /* a topic-name-safe id, short enough to derive topics from */
    KIND_ID_OPT,       /* empty, or a topic-name-safe id (worker.id) */
    KIND_URL_OPT,      /* empty, or an http:// or https:// URL */
    KIND_SHOPS,        /* "*" or a comma-separated shop list */
    KIND_LOG_LEVEL,    /* debug | info | warn | error */
    KIND_LOG_FORMAT,   /* logfmt | json */
    KIND_LISTEN_OPT,   /* empty, or host:port */
    KIND_PATH_OPT,     /* empty, or a file path (not checked for existence here) */
    KIND_USERINFO_OPT, /* empty, or user:password (a secret: never echoed) */
} key_kind;

/* Which ruleset setter a rules.* key feeds. */
typedef enum { RULE_NONE, RULE_LIMIT, RULE_SHOPS, RULE_PERCENT } key_rule;

typedef struct {
    const char *name;
    const char *def;
    key_kind kind;
    key_rule rule;
    long long min, max; /* KIND_INT only */
} known_key;

#define TOPIC_MAX_LEN 249
/* The changelog topic is derived from application.id plus a suffix; keep
 * room for it below TOPIC_MAX_LEN. */
#define APP_ID_MAX_LEN 200

static const known_key known_keys[] = {
    {"rules.application.limit", "5", KIND_INT, RULE_LIMIT, 1, 1000},
    {"rules.multi_refund.shops", "*", KIND_SHOPS, RULE_SHOPS, 0, 0},
    {"rules.multi_refund.percent", "0", KIND_INT, RULE_PERCENT, 0, 100},
    {"rules.topic", "", KIND_TOPIC_OPT, RULE_NONE, 0, 0},
    {"rules.topic.lead.ms", "60000", KIND_INT, RULE_NONE, 0, 86400000},
    {"rules.topic.wait.max.ms", "1000", KIND_INT, RULE_NONE, 0, 60000},
    {"topic.input", "aftersale.events", KIND_TOPIC, RULE_NONE, 0, 0},
    {"topic.decisions", "aftersale.decisions", KIND_TOPIC, RULE_NONE, 0, 0},
    {"topic.refund_records", "aftersale.refund-records", KIND_TOPIC, RULE_NONE, 0, 0},
    {"topic.dlq", "aftersale.dlq", KIND_TOPIC, RULE_NONE, 0, 0},
    {"topic.changelog", "", KIND_TOPIC_OPT, RULE_NONE, 0, 0},
    {"application.id", "aftersale-worker", KIND_APP_ID, RULE_NONE, 0, 0},
    {"commit.interval.ms", "100", KIND_INT, RULE_NONE, 1, 600000},
    {"commit.max.records", "10000", KIND_INT, RULE_NONE, 1, 1000000},
    {"num.threads", "1", KIND_INT, RULE_NONE, 1, 64},
    {"worker.id", "", KIND_ID_OPT, RULE_NONE, 0, 0},
    {"state.retention.ms", "7776000000", KIND_INT, RULE_NONE, 1, 4611686018427387904LL},
    {"state.stream_time.max_step.ms", "3600000", KIND_INT, RULE_NONE, 0, 4611686018427387904LL},
    {"state.cache.orders", "16384", KIND_INT, RULE_NONE, 0, 100000000},
    {"topic.replication.factor", "-1", KIND_INT, RULE_NONE, -1, 32767},
    {"schema.registry.url", "", KIND_URL_OPT, RULE_NONE, 0, 0},
    {"schema.registry.basic.auth.user.info", "", KIND_USERINFO_OPT, RULE_NONE, 0, 0},
    {"schema.registry.ssl.ca.location", "", KIND_PATH_OPT, RULE_NONE, 0, 0},
    {"schema.registry.ssl.certificate.location", "", KIND_PATH_OPT, RULE_NONE, 0, 0},
    {"schema.registry.ssl.key.location", "", KIND_PATH_OPT, RULE_NONE, 0, 0},
    {"schema.registry.ssl.key.password", "", KIND_PATH_OPT, RULE_NONE, 0, 0},
    {"schema.registry.connect.timeout.ms", "2000", KIND_INT, RULE_NONE, 1, 600000},
    {"schema.registry.request.timeout.ms", "10000", KIND_INT, RULE_NONE, 1, 600000},
    {"schema.registry.max.retries", "3", KIND_INT, RULE_NONE, 0, 100},
    {"schema.registry.retries.wait.ms", "200", KIND_INT, RULE_NONE, 0, 600000},
    {"schema.registry.retries.max.wait.ms", "2000", KIND_INT, RULE_NONE, 0, 600000},
    {"log.level", "info", KIND_LOG_LEVEL, RULE_NONE, 0, 0},
    {"log.format", "logfmt", KIND_LOG_FORMAT, RULE_NONE, 0, 0},
    {"http.listen", "", KIND_LISTEN_OPT, RULE_NONE, 0, 0},
};

#define N_KNOWN (sizeof(known_keys) / sizeof(known_keys[0]))

typedef struct {
    char *key;
    char *value;
    char *origin; /* where it was set ("file:line", "environment ASW_CFG_X"), or NULL */
} kv;

struct asw_config {
    asw_settings settings;             /* the values below as types (settings_refresh) */
    char changelog[TOPIC_MAX_LEN + 1]; /* the derived changelog topic name */
    char *values[N_KNOWN];             /* current value of each known key; owned */
    char *origins[N_KNOWN];            /* where each was set, NULL for a default; owned */
    const char *setting_from;          /* the origin of the asw_config_set() calls under way */
    asw_ruleset *rs;
    kv *kafka; /* librdkafka properties in first-set order; owned */
    size_t nkafka, capkafka;
    rd_kafka_conf_t *scratch; /* only to let librdkafka validate properties */
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Format a message into err (if err is not NULL and errlen > 0). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\f';
}

static const known_key *find_known(const char *key, size_t *index) {
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (strcmp(known_keys[i].name, key) == 0) {
            *index = i;
            return &known_keys[i];
        }
    }
    return NULL;
}

/* Strict base-10 integer: the whole string, no leading blank, in range. */
static int parse_int(const char *s, long long min, long long max, long long *out) {
    if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' ||
        *s == '\v')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Kafka's rule: 1..249 characters of [A-Za-z0-9._-], and not "." or "..". */
static bool valid_topic_chars(const char *s, size_t maxlen) {
    size_t n = strlen(s);
    if (n == 0 || n > maxlen)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/*
 * Check value for a known key; on success return a newly allocated copy in
 * its stored form (integers normalised to plain decimal) and apply a rules.*
 * value to cfg's ruleset. On failure return NULL with a message; nothing
 * changes.
 */
static char *check_known(asw_config *cfg, const known_key *k, const char *value, char *err,
                         size_t errlen) {
    long long v = 0;
    char num[32];

    switch (k->kind) {
    case KIND_INT:
        if (parse_int(value, k->min, k->max, &v) != 0) {
            set_err(err, errlen, "%s: invalid value '%s': expected an integer in %lld..%lld",
                    k->name, value, k->min, k->max);
            return NULL;
        }
        if (k->rule == RULE_LIMIT && asw_ruleset_set_limit(cfg->rs, (int32_t)v) != 0)
            goto rule_refused;
        if (k->rule == RULE_PERCENT && asw_ruleset_set_percent(cfg->rs, (int32_t)v) != 0)
            goto rule_refused;
        snprintf(num, sizeof(num), "%lld", v);
        return asw_strdup(num);

    case KIND_TOPIC_OPT:
        if (*value == '\0')
            return asw_strdup(value);
        /* fall through */
    case KIND_TOPIC:
        if (!valid_topic_chars(value, TOPIC_MAX_LEN)) {
            set_err(err, errlen,
                    "%s: invalid topic name '%s': expected 1..%d characters of "
                    "[A-Za-z0-9._-], other than '.' and '..'",
                    k->name, value, TOPIC_MAX_LEN);
            return NULL;
        }
        return asw_strdup(value);

    case KIND_APP_ID:
        if (!valid_topic_chars(value, APP_ID_MAX_LEN)) {
            set_err(err, errlen,
                    "%s: invalid value '%s': expected 1..%d characters of [A-Za-z0-9._-], "
                    "other than '.' and '..' (topic names are derived from it)",
                    k->name, value, APP_ID_MAX_LEN);
            return NULL;
        }
        return asw_strdup(value);

    case KIND_ID_OPT:
        if (*value != '\0' && !valid_topic_chars(value, APP_ID_MAX_LEN)) {
            set_err(err, errlen,
                    "%s: invalid value '%s': expected empty or 1..%d characters of "
                    "[A-Za-z0-9._-]",
                    k->name, value, APP_ID_MAX_LEN);
            return NULL;
        }
        return asw_strdup(value);

    case KIND_URL_OPT:
        /* The value is not echoed: a URL may carry credentials. */
        if (*value != '\0' && !(strncmp(value, "http://", 7) == 0 && value[7] != '\0') &&
            !(strncmp(value, "https://", 8) == 0 && value[8] != '\0')) {
            set_err(err, errlen, "%s: invalid value: expected empty or an http:// or https:// URL",
                    k->name);
            return NULL;
        }
        return asw_strdup(value);

    case KIND_SHOPS:
        if (asw_ruleset_set_shops(cfg->rs, value) != 0) {
            set_err(err, errlen,
                    "%s: invalid value '%s': expected '*' or a comma-separated list of shop "
                    "ids without empty entries",
                    k->name, value);
            return NULL;
        }
        return asw_strdup(value);

    case KIND_LOG_LEVEL:
        if (strcmp(value, "debug") != 0 && strcmp(value, "info") != 0 &&
            strcmp(value, "warn") != 0 && strcmp(value, "error") != 0) {
            set_err(err, errlen, "%s: invalid value '%s': expected one of debug, info, warn, error",
                    k->name, value);
            return NULL;
        }
        return asw_strdup(value);
    case KIND_LISTEN_OPT: {
        const char *colon = strrchr(value, ':');
        long long port;
        if (value[0] && (!colon || colon == value || parse_int(colon + 1, 0, 65535, &port) != 0 ||
                         memchr(value, ' ', (size_t)(colon - value)))) {
            set_err(err, errlen,
                    "%s: invalid value '%s': expected empty or host:port (port 0..65535, 0 for "
                    "any free one)",
                    k->name, value);
            return NULL;
        }
        return asw_strdup(value);
    }
    case KIND_PATH_OPT:
        /* Any text: a path is opened where it is used (a missing file is an
         * error there, with the key's name); a password is not echoed. */
        return asw_strdup(value);
    case KIND_USERINFO_OPT:
        if (*value != '\0' && !strchr(value, ':')) {
            set_err(err, errlen, "%s: invalid value: expected empty or user:password", k->name);
            return NULL;
        }
        return asw_strdup(value);
    case KIND_LOG_FORMAT:
        if (strcmp(value, "logfmt") != 0 && strcmp(value, "json") != 0) {
            set_err(err, errlen, "%s: invalid value '%s': expected logfmt or json", k->name, value);
            return NULL;
        }
        return asw_strdup(value);
    }
    set_err(err, errlen, "%s: internal error: unhandled key kind", k->name);
    return NULL;

rule_refused:
    /* Unreachable while the ranges above match ruleset.c; kept so the two
     * cannot drift apart silently. */
    set_err(err, errlen, "%s: invalid value '%s': refused by the ruleset", k->name, value);
    return NULL;
}

static kv *find_kafka(const asw_config *cfg, const char *key) {
    for (size_t i = 0; i < cfg->nkafka; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            return &cfg->kafka[i];
    return NULL;
}

static char *origin_copy(const asw_config *cfg) {
    return cfg->setting_from ? asw_strdup(cfg->setting_from) : NULL;
}

static void put_kafka(asw_config *cfg, const char *key, const char *value) {
    kv *e = find_kafka(cfg, key);
    if (e != NULL) {
        free(e->value);
        e->value = asw_strdup(value);
        free(e->origin);
        e->origin = origin_copy(cfg);
        return;
    }
    if (cfg->nkafka == cfg->capkafka) {
        cfg->capkafka = cfg->capkafka ? cfg->capkafka * 2 : 8;
        cfg->kafka = asw_realloc(cfg->kafka, cfg->capkafka * sizeof(*cfg->kafka));
    }
    cfg->kafka[cfg->nkafka].key = asw_strdup(key);
    cfg->kafka[cfg->nkafka].value = asw_strdup(value);
    cfg->kafka[cfg->nkafka].origin = origin_copy(cfg);
    cfg->nkafka++;
}

/* ------------------------------------------------------------------------ */
/* The typed settings                                                       */
/* ------------------------------------------------------------------------ */

/* The value of a known key. A name not in known_keys is a programming
 * error (the unit tests read every setting). */
static const char *known_value(const asw_config *cfg, const char *name) {
    size_t idx;
    if (find_known(name, &idx) == NULL) {
        fprintf(stderr, "asw: config: no key '%s' in known_keys\n", name);
        abort();
    }
    return cfg->values[idx];
}

/* A KIND_INT key's value: validated, within its bounds, when it was set. */
static long long known_number(const asw_config *cfg, const char *name) {
    return strtoll(known_value(cfg, name), NULL, 10);
}

/* librdkafka's own default of heartbeat.interval.ms, which the worker
 * leaves to it. */
#define HEARTBEAT_INTERVAL_MS_RDKAFKA_DEFAULT 3000

/* A librdkafka property the worker reads, else `def`. librdkafka accepted
 * the value as an integer when it was set. */
static long long kafka_number(const asw_config *cfg, const char *key, long long def) {
    const kv *e = find_kafka(cfg, key);
    return e && e->value[0] ? strtoll(e->value, NULL, 10) : def;
}

/* Make cfg->settings those of the current values; after every change. */
static void settings_refresh(asw_config *cfg) {
    asw_settings *s = &cfg->settings;
    s->application_id = known_value(cfg, "application.id");
    s->worker_id = known_value(cfg, "worker.id");
    s->topic.input = known_value(cfg, "topic.input");
    s->topic.decisions = known_value(cfg, "topic.decisions");
    s->topic.refund_records = known_value(cfg, "topic.refund_records");
    s->topic.dlq = known_value(cfg, "topic.dlq");
    const char *changelog = known_value(cfg, "topic.changelog");
    if (changelog[0]) {
        s->topic.changelog = changelog;
    } else {
        /* APP_ID_MAX_LEN keeps the derived name within TOPIC_MAX_LEN. */
        snprintf(cfg->changelog, sizeof cfg->changelog, "%s-changelog", s->application_id);
        s->topic.changelog = cfg->changelog;
    }
    s->topic.replication_factor = (int32_t)known_number(cfg, "topic.replication.factor");
    s->commit_interval_ms = known_number(cfg, "commit.interval.ms");
    s->commit_max_records = known_number(cfg, "commit.max.records");
    s->num_threads = (int)known_number(cfg, "num.threads");
    s->state.retention_ms = known_number(cfg, "state.retention.ms");
    s->state.max_step_ms = known_number(cfg, "state.stream_time.max_step.ms");
    s->state.decoded_orders = (size_t)known_number(cfg, "state.cache.orders");
    s->ruleset = cfg->rs;
    s->log_level = ASW_LOG_INFO;
    asw_log_level_parse(known_value(cfg, "log.level"), &s->log_level);
    s->log_json = strcmp(known_value(cfg, "log.format"), "json") == 0;
    s->http.listen = known_value(cfg, "http.listen");
    s->rules.topic = known_value(cfg, "rules.topic");
    s->rules.lead_ms = known_number(cfg, "rules.topic.lead.ms");
    s->rules.wait_max_ms = known_number(cfg, "rules.topic.wait.max.ms");
    s->registry.url = known_value(cfg, "schema.registry.url");
    s->registry.user_info = known_value(cfg, "schema.registry.basic.auth.user.info");
    s->registry.ca_location = known_value(cfg, "schema.registry.ssl.ca.location");
    s->registry.certificate_location = known_value(cfg, "schema.registry.ssl.certificate.location");
    s->registry.key_location = known_value(cfg, "schema.registry.ssl.key.location");
    s->registry.key_password = known_value(cfg, "schema.registry.ssl.key.password");
    s->registry.connect_timeout_ms = known_number(cfg, "schema.registry.connect.timeout.ms");
    s->registry.request_timeout_ms = known_number(cfg, "schema.registry.request.timeout.ms");
    s->registry.max_retries = known_number(cfg, "schema.registry.max.retries");
    s->registry.retries_wait_ms = known_number(cfg, "schema.registry.retries.wait.ms");
    s->registry.retries_max_wait_ms = known_number(cfg, "schema.registry.retries.max.wait.ms");
    s->kafka.transaction_timeout_ms =
        kafka_number(cfg, "transaction.timeout.ms", ASW_CONFIG_TRANSACTION_TIMEOUT_MS_DEFAULT);
    s->kafka.session_timeout_ms =
        kafka_number(cfg, "session.timeout.ms", ASW_CONFIG_SESSION_TIMEOUT_MS_DEFAULT);
    s->kafka.heartbeat_interval_ms =
        kafka_number(cfg, "heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS_RDKAFKA_DEFAULT);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* A config holding every default and no librdkafka property. Never NULL
 * (out of memory aborts). The caller owns it; free with asw_config_destroy(). */
asw_config *asw_config_new(void) {
    asw_config *cfg = asw_calloc(1, sizeof(*cfg));
    for (size_t i = 0; i < N_KNOWN; i++)
        cfg->values[i] = asw_strdup(known_keys[i].def);
    cfg->rs = asw_ruleset_new();
    cfg->scratch = rd_kafka_conf_new();
    if (cfg->scratch == NULL) {
        /* librdkafka allocates with abort-on-OOM too; this is belt and braces. */
        fprintf(stderr, "asw: rd_kafka_conf_new failed\n");
        abort();
    }
    settings_refresh(cfg);
    return cfg;
}

/* Free cfg, its values, its ruleset and its scratch librdkafka conf.
 * NULL is a no-op. */
void asw_config_destroy(asw_config *cfg) {
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_KNOWN; i++) {
        free(cfg->values[i]);
        free(cfg->origins[i]);
    }
    for (size_t i = 0; i < cfg->nkafka; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
        free(cfg->kafka[i].origin);
    }
    free(cfg->kafka);
    asw_ruleset_destroy(cfg->rs);
    rd_kafka_conf_destroy(cfg->scratch);
    free(cfg);
}

/* librdkafka properties the worker sets itself, because exactly-once
 * depends on them; NULL when the key is free to pass through. */
static const char *managed_reason(const char *key) {
    static const struct {
        const char *key, *why;
    } managed[] = {
        {"group.id", "set application.id, which names the consumer group"},
        {"transactional.id", "derived from application.id and worker.id"},
        {"group.instance.id", "derived from application.id and worker.id"},
        {"enable.auto.commit", "offsets commit inside each transaction"},
        {"enable.auto.offset.store", "offsets commit inside each transaction"},
        {"isolation.level", "the worker reads read_committed"},
        {"enable.idempotence", "transactions need the idempotent producer"},
        {"partition.assignment.strategy", "the worker uses cooperative-sticky"},
        {"enable.partition.eof", "set per consumer by the worker"},
    };
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (strcmp(managed[i].key, key) == 0)
            return managed[i].why;
    return NULL;
}

/*
 * Set key to value (both copied). A known key is validated and, for rules.*,
 * applied to the ruleset; any other key must be accepted by librdkafka's
 * rd_kafka_conf_set(). Returns 0, or -1 with a message in err (no file:line)
 * and nothing changed: "unknown key 'x'", librdkafka's message for a bad
 * librdkafka value, or "<key>: invalid value ..." for a known key.
 */
int asw_config_set(asw_config *cfg, const char *key, const char *value, char *err, size_t errlen) {
    if (key == NULL || value == NULL) {
        set_err(err, errlen, "key and value must not be NULL");
        return -1;
    }
    if (*key == '\0') {
        set_err(err, errlen, "empty key");
        return -1;
    }

    size_t idx;
    const known_key *k = find_known(key, &idx);
    if (k != NULL) {
        char *stored = check_known(cfg, k, value, err, errlen);
        if (stored == NULL)
            return -1;
        free(cfg->values[idx]);
        cfg->values[idx] = stored;
        free(cfg->origins[idx]);
        cfg->origins[idx] = origin_copy(cfg);
        settings_refresh(cfg);
        return 0;
    }

    const char *why = managed_reason(key);
    if (why) {
        set_err(err, errlen, "'%s' is managed by the worker: %s", key, why);
        return -1;
    }

    char rderr[512];
    rderr[0] = '\0';
    switch (rd_kafka_conf_set(cfg->scratch, key, value, rderr, sizeof(rderr))) {
    case RD_KAFKA_CONF_OK:
        put_kafka(cfg, key, value);
        settings_refresh(cfg);
        return 0;
    case RD_KAFKA_CONF_UNKNOWN:
        set_err(err, errlen, "unknown key '%s'", key);
        return -1;
    case RD_KAFKA_CONF_INVALID:
    default:
        set_err(err, errlen, "%s", rderr[0] ? rderr : "invalid value for librdkafka property");
        return -1;
    }
}

const asw_settings *asw_config_settings(const asw_config *cfg) {
    return &cfg->settings;
}

/* ------------------------------------------------------------------------ */
/* Rules across keys                                                        */
/* ------------------------------------------------------------------------ */

/* "origin: " of the first of the keys that was set, for a message about
 * them; with none set, none. The others' origins go in the text. */
static void refuse(const asw_config *cfg, const char *const *keys, char *err, size_t errlen,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void refuse(const asw_config *cfg, const char *const *keys, char *err, size_t errlen,
                   const char *fmt, ...) {
    const char *at = NULL;
    char seen[512] = "";
    size_t used = 0;
    for (const char *const *k = keys; *k; k++) {
        const char *o = asw_config_origin(cfg, *k);
        if (!o)
            continue;
        if (!at)
            at = o;
        else if (used < sizeof seen)
            used += (size_t)snprintf(seen + used, sizeof seen - used, "; %s set at %s", *k, o);
    }
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s%s%s%s", at ? at : "", at ? ": " : "", msg, seen);
}

int asw_config_check(const asw_config *cfg, char *err, size_t errlen) {
    const asw_settings *s = &cfg->settings;
    long long commit = s->commit_interval_ms, txn = s->kafka.transaction_timeout_ms;
    if (commit >= txn) {
        /* The coordinator aborts a transaction open longer than its
         * timeout: a worker that only commits later is fenced every time. */
        refuse(cfg, (const char *[]){"commit.interval.ms", "transaction.timeout.ms", NULL}, err,
               errlen, "commit.interval.ms (%lld) must be below transaction.timeout.ms (%lld%s)",
               commit, txn,
               find_kafka(cfg, "transaction.timeout.ms") ? "" : ", the worker's default");
        return -1;
    }
    long long wait = s->rules.wait_max_ms;
    if (s->rules.topic[0] && 2 * wait >= txn) {
        /* The wait happens inside the open transaction. */
        refuse(cfg, (const char *[]){"rules.topic.wait.max.ms", "transaction.timeout.ms", NULL},
               err, errlen,
               "rules.topic.wait.max.ms (%lld) must be below half of transaction.timeout.ms "
               "(%lld): events wait for the rules topic inside a transaction",
               wait, txn);
        return -1;
    }
    long long session = s->kafka.session_timeout_ms, heartbeat = s->kafka.heartbeat_interval_ms;
    if (heartbeat >= session) {
        refuse(cfg, (const char *[]){"heartbeat.interval.ms", "session.timeout.ms", NULL}, err,
               errlen,
               "heartbeat.interval.ms (%lld) must be below session.timeout.ms (%lld): the group "
               "would drop the worker between two heartbeats",
               heartbeat, session);
        return -1;
    }
    /* One role per topic: a worker reading its own outputs, or writing its
     * state into an output topic, would corrupt both. */
    static const char *const topic_keys[] = {"topic.input",          "topic.decisions",
                                             "topic.refund_records", "topic.dlq",
                                             "topic.changelog",      "rules.topic"};
    const char *const names[] = {s->topic.input, s->topic.decisions, s->topic.refund_records,
                                 s->topic.dlq,   s->topic.changelog, s->rules.topic};
    enum { N_TOPICS = sizeof topic_keys / sizeof topic_keys[0] };
    for (int i = 0; i < N_TOPICS; i++)
        for (int j = i + 1; j < N_TOPICS; j++)
            if (names[j][0] && strcmp(names[i], names[j]) == 0) { /* rules.topic may be off */
                bool derived = strcmp(topic_keys[j], "topic.changelog") == 0 &&
                               !known_value(cfg, "topic.changelog")[0];
                const char *keys[] = {topic_keys[j], topic_keys[i],
                                      derived ? "application.id" : NULL, NULL};
                refuse(cfg, keys, err, errlen,
                       "%s and %s are both '%s': each topic must have one role%s", topic_keys[i],
                       topic_keys[j], names[i],
                       derived ? " (the changelog is named <application.id>-changelog)" : "");
                return -1;
            }
    return 0;
}

const char *asw_config_get(const asw_config *cfg, const char *key) {
    if (key == NULL)
        return NULL;
    size_t idx;
    if (find_known(key, &idx) != NULL)
        return cfg->values[idx];
    const kv *e = find_kafka(cfg, key);
    return e ? e->value : NULL;
}

const char *asw_config_origin(const asw_config *cfg, const char *key) {
    size_t idx;
    if (key == NULL)
        return NULL;
    if (find_known(key, &idx) != NULL)
        return cfg->origins[idx];
    const kv *e = find_kafka(cfg, key);
    return e ? e->origin : NULL;
}

size_t asw_config_kafka_count(const asw_config *cfg) {
    return cfg->nkafka;
}

int asw_config_kafka_at(const asw_config *cfg, size_t i, const char **key, const char **value) {
    if (i >= cfg->nkafka)
        return -1;
    *key = cfg->kafka[i].key;
    *value = cfg->kafka[i].value;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Properties file                                                          */
/* ------------------------------------------------------------------------ */

/* A growable byte string for one logical line and its unescaped parts. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sbuf_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = asw_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_addc(sbuf *b, char c) {
    sbuf_add(b, &c, 1);
}

/* Decode the escape at s[*i] == '\\' into out. Returns 0, or -1 with a
 * message for a dangling backslash or an escape outside the supported set. */
static int unescape_one(const char *s, size_t len, size_t *i, sbuf *out, char *err, size_t errlen) {
    if (*i + 1 >= len) {
        set_err(err, errlen, "backslash at end of line");
        return -1;
    }
    char c = s[*i + 1];
    switch (c) {
    case '\\':
    case '=':
    case ':':
    case '#':
    case '!':
        sbuf_addc(out, c);
        break;
    case 'n':
        sbuf_addc(out, '\n');
        break;
    case 't':
        sbuf_addc(out, '\t');
        break;
    default:
        set_err(err, errlen,
                "unsupported escape '\\%c' (supported: \\\\ \\n \\t \\= \\: \\# \\!; write a "
                "literal backslash as \\\\)",
                c);
        return -1;
    }
    *i += 2;
    return 0;
}

/*
 * Split a logical line (continuations joined, no leading blanks, escapes
 * still raw) into key and value, unescaped, and set it. Returns 0, or -1
 * with a message (without file:line).
 */
static int apply_line(asw_config *cfg, const char *s, size_t len, sbuf *key, sbuf *val, char *err,
                      size_t errlen) {
    size_t i = 0;
    key->len = 0;
    val->len = 0;
    sbuf_add(key, "", 0);
    sbuf_add(val, "", 0);

    while (i < len) {
        char c = s[i];
        if (c == '\\') {
            if (unescape_one(s, len, &i, key, err, errlen) != 0)
                return -1;
            continue;
        }
        if (c == '=' || c == ':' || is_blank(c))
            break;
        sbuf_addc(key, c);
        i++;
    }
    while (i < len && is_blank(s[i]))
        i++;
    if (i < len && (s[i] == '=' || s[i] == ':'))
        i++;
    while (i < len && is_blank(s[i]))
        i++;

    /* Trailing blanks are trimmed, but only raw ones: an escaped "\t" at the
     * end is part of the value. */
    size_t keep = 0;
    while (i < len) {
        char c = s[i];
        if (c == '\\') {
            if (unescape_one(s, len, &i, val, err, errlen) != 0)
                return -1;
            keep = val->len;
            continue;
        }
        sbuf_addc(val, c);
        if (!is_blank(c))
            keep = val->len;
        i++;
    }
    val->len = keep;
    val->p[keep] = '\0';

    if (key->len == 0) {
        set_err(err, errlen, "empty key");
        return -1;
    }
    return asw_config_set(cfg, key->p, val->p, err, errlen);
}

/* apply_line(), with "path:line" as the origin of what it sets. */
static int apply_line_at(asw_config *cfg, const char *path, long line, const sbuf *logical,
                         sbuf *key, sbuf *val, char *err, size_t errlen) {
    char origin[4096];
    snprintf(origin, sizeof origin, "%s:%ld", path, line);
    cfg->setting_from = origin;
    int rc = apply_line(cfg, logical->p, logical->len, key, val, err, errlen);
    cfg->setting_from = NULL;
    return rc;
}

/* Count the backslashes that end s[0..len). */
static size_t trailing_backslashes(const char *s, size_t len) {
    size_t n = 0;
    while (n < len && s[len - 1 - n] == '\\')
        n++;
    return n;
}

/*
 * Load the properties file at path on top of cfg (see the top of this file
 * for the syntax). Returns 0, or -1 with "path:line: message" (line of the
 * bad key, 1-based) or "path: strerror" (open or read failure) in err; keys
 * before the bad line stay set.
 */
int asw_config_load_file(asw_config *cfg, const char *path, char *err, size_t errlen) {
    int rc = -1;
    char *line = NULL;
    size_t linecap = 0;
    sbuf logical = {0}, key = {0}, val = {0};
    char msg[512];
    long lineno = 0, keyline = 0;
    bool cont = false;

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &linecap, f);
        if (n < 0)
            break;
        lineno++;

        size_t len = (size_t)n;
        if (memchr(line, '\0', len) != NULL) {
            set_err(err, errlen, "%s:%ld: NUL byte in line", path, lineno);
            goto fail;
        }
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;

        size_t start = 0;
        while (start < len && is_blank(line[start]))
            start++;
        if (!cont) {
            if (start == len || line[start] == '#' || line[start] == '!')
                continue;
            keyline = lineno;
            logical.len = 0;
        }

        const char *s = line + start;
        size_t slen = len - start;
        if (trailing_backslashes(s, slen) % 2 == 1) {
            sbuf_add(&logical, s, slen - 1);
            cont = true;
            continue;
        }
        sbuf_add(&logical, s, slen);
        cont = false;
        if (apply_line_at(cfg, path, keyline, &logical, &key, &val, msg, sizeof(msg)) != 0) {
            set_err(err, errlen, "%s:%ld: %s", path, keyline, msg);
            goto fail;
        }
    }
    if (ferror(f)) {
        set_err(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
        goto fail;
    }
    /* A continuation on the last line of the file ends the logical line. */
    if (cont && apply_line_at(cfg, path, keyline, &logical, &key, &val, msg, sizeof(msg)) != 0) {
        set_err(err, errlen, "%s:%ld: %s", path, keyline, msg);
        goto fail;
    }
    rc = 0;

fail:
    free(line);
    free(logical.p);
    free(key.p);
    free(val.p);
    fclose(f);
    return rc;
}

/* Environment key: ASW_CFG_ + upper case, '_' for '.', "__" for '_'. */
static char *env_to_key(const char *name, size_t n) {
    char *key = asw_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '_' && i + 1 < n && name[i + 1] == '_') {
            key[k++] = '_';
            i++;
        } else if (c == '_') {
            key[k++] = '.';
        } else {
            key[k++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        }
    }
    key[k] = '\0';
    return key;
}

int asw_config_apply_env(asw_config *cfg, char *const *envp, char *err, size_t errlen) {
    static const char prefix[] = "ASW_CFG_";
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *name = *e + sizeof prefix - 1;
        const char *eq = strchr(name, '=');
        if (!eq || eq == name)
            continue;
        char *key = env_to_key(name, (size_t)(eq - name));
        char msg[512], origin[512];
        snprintf(origin, sizeof origin, "environment %.*s", (int)(eq - *e), *e);
        cfg->setting_from = origin;
        int rc = asw_config_set(cfg, key, eq + 1, msg, sizeof msg);
        cfg->setting_from = NULL;
        if (rc != 0)
            set_err(err, errlen, "environment %.*s: %s", (int)(eq - *e), *e, msg);
        free(key);
        if (rc != 0)
            return -1;
    }
    return 0;
}

bool asw_config_is_secret(const char *key) {
    static const char *const marks[] = {"password",
                                        "secret",
                                        "jaas",
                                        "key.pem",
                                        "token",
                                        "credential",
                                        "oauthbearer.config",
                                        "user.info",
                                        "schema.registry.url"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(key, marks[i]))
            return true;
    return false;
}

void asw_config_print(const asw_config *cfg, FILE *out) {
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *v = cfg->values[i];
        bool mask = asw_config_is_secret(known_keys[i].name) && v[0];
        fprintf(out, "%s=%s\n", known_keys[i].name, mask ? "********" : v);
    }
    for (size_t i = 0; i < cfg->nkafka; i++)
        fprintf(out, "%s=%s\n", cfg->kafka[i].key,
                asw_config_is_secret(cfg->kafka[i].key) ? "********" : cfg->kafka[i].value);
}
