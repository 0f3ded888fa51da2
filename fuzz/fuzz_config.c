/*
 * fuzz_config.c -- untrusted configuration files through the properties
 * parser: the input is the whole file, loaded with asw_config_load_file
 * into a fresh config (every key the worker does not know is checked
 * against librdkafka, as `run -c` does).
 *
 * Properties:
 *  - a file that loads gives a config whose typed values are in their
 *    bounds (state limits, the ruleset), whose every known key has a value,
 *    whose librdkafka properties can be listed, and which prints;
 *  - a file that does not load is refused with "path:line: message", the
 *    line one of the file's, the message not empty.
 *
 * One input is skipped: any that could name librdkafka's
 * plugin.library.paths, which would dlopen() whatever library the fuzzer
 * names (letters of a key never come from an escape, so the word survives
 * in the bytes once line continuations and blanks are taken out).
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asw/config.h"
#include "fuzz.h"

static char path[64];
static int fd = -1;

static void remove_file(void) {
    unlink(path);
}

static bool may_load_a_plugin(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FZ_CHECK(s);
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        if (!strchr("\\\r\n \t\f", data[i]) || data[i] == '\0')
            s[n++] = data[i] ? (char)data[i] : '\x01';
    s[n] = '\0';
    bool found = strcasestr(s, "plugin") != NULL;
    free(s);
    return found;
}

/* The number of lines of the file (the last one may lack its '\n'). */
static long lines_of(const uint8_t *data, size_t size) {
    long n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

static void check_loaded(const asw_config *cfg) {
    static const char *const keys[] = {
        "rules.application.limit",
        "rules.multi_refund.shops",
        "rules.multi_refund.percent",
        "topic.input",
        "topic.decisions",
        "topic.refund_records",
        "topic.dlq",
        "topic.changelog",
        "application.id",
        "commit.interval.ms",
        "commit.max.records",
        "num.threads",
        "worker.id",
        "state.retention.ms",
        "state.stream_time.max_step.ms",
        "state.cache.orders",
        "topic.replication.factor",
        "schema.registry.url",
        "log.level",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        FZ_CHECK(asw_config_get(cfg, keys[i]) != NULL);
    /* The typed settings hold every key within its bounds. */
    const asw_settings *s = asw_config_settings(cfg);
    asw_state_limits lim = s->state;
    FZ_CHECK(lim.retention_ms >= 1 && lim.retention_ms <= INT64_C(1) << 62);
    FZ_CHECK(lim.max_step_ms >= 0 && lim.max_step_ms <= INT64_C(1) << 62);
    FZ_CHECK(lim.decoded_orders <= 100000000);
    FZ_CHECK(s->commit_interval_ms >= 1 && s->commit_interval_ms <= 600000);
    FZ_CHECK(s->commit_max_records >= 1 && s->commit_max_records <= 1000000);
    FZ_CHECK(s->num_threads >= 1 && s->num_threads <= 64);
    FZ_CHECK(s->topic.replication_factor >= -1 && s->topic.replication_factor <= 32767);
    FZ_CHECK(s->topic.changelog[0] && strlen(s->topic.changelog) <= 249);
    const asw_ruleset *rs = s->ruleset;
    FZ_CHECK(asw_ruleset_limit(rs) >= 1 && asw_ruleset_limit(rs) <= 1000);
    FZ_CHECK(asw_ruleset_version(rs)[0] != '\0');
    size_t n = asw_config_kafka_count(cfg);
    const char *k, *v;
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(asw_config_kafka_at(cfg, i, &k, &v) == 0 && k[0] && v);
    FZ_CHECK(asw_config_kafka_at(cfg, n, &k, &v) == -1);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    FZ_CHECK(out);
    asw_config_print(cfg, out);
    fclose(out);
    FZ_CHECK(len > 0 && strncmp(text, "rules.application.limit=", 24) == 0);
    free(text);
}

static void check_refused(const char *err, long lines) {
    size_t plen = strlen(path);
    FZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
    char *end;
    long line = strtol(err + plen + 1, &end, 10);
    FZ_CHECK(end != err + plen + 1 && line >= 1 && line <= lines);
    FZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%.40s/fuzz_config.XXXXXX", dir && dir[0] ? dir : "/tmp");
        fd = mkstemp(path);
        FZ_CHECK(fd >= 0);
        atexit(remove_file);
    }
    if (may_load_a_plugin(data, size))
        return 0;
    FZ_CHECK(ftruncate(fd, 0) == 0);
    FZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

    asw_config *cfg = asw_config_new();
    char err[1024] = "";
    if (asw_config_load_file(cfg, path, err, sizeof err) == 0)
        check_loaded(cfg);
    else
        check_refused(err, lines_of(data, size));
    asw_config_destroy(cfg);
    return 0;
}
