/*
 * test_config.c -- unit tests of the configuration: defaults, validation of
 * the worker's own keys, the Java-properties syntax, librdkafka passthrough
 * and the ruleset built from rules.* keys.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asw/config.h"
#include "asw/ruleset.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Write text to a new temporary file; returns its path (free it, unlink it). */
static char *write_temp(const char *text) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/asw_test_config_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return strdup(path);
}

/* Load text as a file into cfg; returns load_file's result, message in err. */
static int load_text(asw_config *cfg, const char *text, char *err, size_t errlen, char **path_out) {
    char *path = write_temp(text);
    err[0] = '\0';
    int rc = asw_config_load_file(cfg, path, err, errlen);
    unlink(path);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}

/* Assert that load fails with exactly "path:line: " followed by msg_prefix. */
static void assert_load_error(const char *text, int line, const char *msg_prefix) {
    asw_config *cfg = asw_config_new();
    char err[1024];
    char *path;
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), &path), -1, "load of %s succeeded", text);
    char want[2048];
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg_prefix);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got '%s', want prefix '%s'", err, want);
    free(path);
    asw_config_destroy(cfg);
}

static void assert_set_ok(const char *key, const char *value, const char *stored) {
    asw_config *cfg = asw_config_new();
    char err[512] = "";
    cr_assert_eq(asw_config_set(cfg, key, value, err, sizeof(err)), 0, "%s=%s: %s", key, value,
                 err);
    cr_assert_str_eq(asw_config_get(cfg, key), stored);
    asw_config_destroy(cfg);
}

/* Assert that set fails, that err starts with msg_prefix, and that the value
 * before is kept. */
static void assert_set_refused(const char *key, const char *value, const char *msg_prefix) {
    asw_config *cfg = asw_config_new();
    char err[512] = "";
    const char *before = asw_config_get(cfg, key);
    char *saved = before ? strdup(before) : NULL;
    cr_assert_eq(asw_config_set(cfg, key, value, err, sizeof(err)), -1, "%s='%s' accepted", key,
                 value);
    cr_assert_eq(strncmp(err, msg_prefix, strlen(msg_prefix)), 0, "got '%s', want prefix '%s'", err,
                 msg_prefix);
    if (saved)
        cr_assert_str_eq(asw_config_get(cfg, key), saved);
    free(saved);
    asw_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */
/* Defaults                                                                 */
/* ------------------------------------------------------------------------ */

Test(config, defaults_hold_for_every_known_key) {
    asw_config *cfg = asw_config_new();
    cr_assert_str_eq(asw_config_get(cfg, "rules.application.limit"), "5");
    cr_assert_str_eq(asw_config_get(cfg, "rules.multi_refund.shops"), "*");
    cr_assert_str_eq(asw_config_get(cfg, "rules.multi_refund.percent"), "0");
    cr_assert_str_eq(asw_config_get(cfg, "topic.input"), "aftersale.events");
    cr_assert_str_eq(asw_config_get(cfg, "topic.decisions"), "aftersale.decisions");
    cr_assert_str_eq(asw_config_get(cfg, "topic.refund_records"), "aftersale.refund-records");
    cr_assert_str_eq(asw_config_get(cfg, "topic.dlq"), "aftersale.dlq");
    cr_assert_str_eq(asw_config_get(cfg, "topic.changelog"), "");
    cr_assert_str_eq(asw_config_get(cfg, "application.id"), "aftersale-worker");
    cr_assert_str_eq(asw_config_get(cfg, "commit.interval.ms"), "100");
    cr_assert_str_eq(asw_config_get(cfg, "commit.max.records"), "10000");
    cr_assert_str_eq(asw_config_get(cfg, "schema.registry.url"), "");
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "info");
    cr_assert_eq(asw_config_kafka_count(cfg), 0);
    asw_config_destroy(cfg);
}

Test(config, default_ruleset_is_limit_5_every_shop) {
    asw_config *cfg = asw_config_new();
    const asw_ruleset *rs = asw_config_settings(cfg)->ruleset;
    asw_ruleset *fresh = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_limit(rs), 5);
    cr_assert(asw_ruleset_shop_enabled(rs, "any"));
    cr_assert_str_eq(asw_ruleset_version(rs), asw_ruleset_version(fresh));
    asw_ruleset_destroy(fresh);
    asw_config_destroy(cfg);
}

Test(config, unknown_get_returns_null_and_destroy_null_is_a_no_op) {
    asw_config *cfg = asw_config_new();
    cr_assert_null(asw_config_get(cfg, "no.such.key"));
    cr_assert_null(asw_config_get(cfg, "bootstrap.servers"));
    cr_assert_null(asw_config_get(cfg, NULL));
    asw_config_destroy(cfg);
    asw_config_destroy(NULL);
}

/* ------------------------------------------------------------------------ */
/* Known keys                                                               */
/* ------------------------------------------------------------------------ */

Test(config, application_limit_accepts_1_to_1000_and_updates_ruleset) {
    assert_set_ok("rules.application.limit", "1", "1");
    assert_set_ok("rules.application.limit", "1000", "1000");
    asw_config *cfg = asw_config_new();
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "rules.application.limit", "7", err, sizeof(err)), 0);
    cr_assert_eq(asw_ruleset_limit(asw_config_settings(cfg)->ruleset), 7);
    asw_config_destroy(cfg);
}

Test(config, application_limit_refuses_out_of_range_and_junk) {
    const char *want = "rules.application.limit: invalid value";
    assert_set_refused("rules.application.limit", "0", want);
    assert_set_refused("rules.application.limit", "1001", want);
    assert_set_refused("rules.application.limit", "-5", want);
    assert_set_refused("rules.application.limit", "abc", want);
    assert_set_refused("rules.application.limit", "5x", want);
    assert_set_refused("rules.application.limit", "5 ", want);
    assert_set_refused("rules.application.limit", " 5", want);
    assert_set_refused("rules.application.limit", "", want);
    assert_set_refused("rules.application.limit", "0x10", want);
    assert_set_refused("rules.application.limit", "5.0", want);
    assert_set_refused("rules.application.limit", "99999999999999999999999", want);
}

Test(config, integers_are_stored_in_plain_decimal) {
    assert_set_ok("rules.application.limit", "007", "7");
    assert_set_ok("rules.application.limit", "+8", "8");
}

Test(config, multi_refund_shops_accepts_star_and_lists_and_updates_ruleset) {
    assert_set_ok("rules.multi_refund.shops", "*", "*");
    asw_config *cfg = asw_config_new();
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "rules.multi_refund.shops", "s2, s1", err, sizeof(err)), 0);
    cr_assert(asw_ruleset_shop_enabled(asw_config_settings(cfg)->ruleset, "s1"));
    cr_assert(asw_ruleset_shop_enabled(asw_config_settings(cfg)->ruleset, "s2"));
    cr_assert_not(asw_ruleset_shop_enabled(asw_config_settings(cfg)->ruleset, "s3"));
    asw_config_destroy(cfg);
}

Test(config, multi_refund_shops_refuses_empty_entries) {
    const char *want = "rules.multi_refund.shops: invalid value";
    assert_set_refused("rules.multi_refund.shops", "s1,,s2", want);
    assert_set_refused("rules.multi_refund.shops", "s1,", want);
    assert_set_refused("rules.multi_refund.shops", "s1,*", want);
}

Test(config, multi_refund_percent_accepts_0_to_100_and_refuses_others) {
    assert_set_ok("rules.multi_refund.percent", "0", "0");
    assert_set_ok("rules.multi_refund.percent", "100", "100");
    const char *want = "rules.multi_refund.percent: invalid value";
    assert_set_refused("rules.multi_refund.percent", "-1", want);
    assert_set_refused("rules.multi_refund.percent", "101", want);
    assert_set_refused("rules.multi_refund.percent", "5.5", want);
    assert_set_refused("rules.multi_refund.percent", "10%", want);
}

Test(config, refused_rules_value_leaves_ruleset_version_unchanged) {
    asw_config *cfg = asw_config_new();
    char err[256];
    char *before = strdup(asw_ruleset_version(asw_config_settings(cfg)->ruleset));
    cr_assert_eq(asw_config_set(cfg, "rules.multi_refund.shops", "a,,b", err, sizeof(err)), -1);
    cr_assert_eq(asw_config_set(cfg, "rules.multi_refund.percent", "200", err, sizeof(err)), -1);
    cr_assert_eq(asw_config_set(cfg, "rules.application.limit", "0", err, sizeof(err)), -1);
    cr_assert_str_eq(asw_ruleset_version(asw_config_settings(cfg)->ruleset), before);
    free(before);
    asw_config_destroy(cfg);
}

Test(config, topics_accept_valid_kafka_names) {
    const char *keys[] = {"topic.input", "topic.decisions", "topic.refund_records", "topic.dlq",
                          "topic.changelog"};
    char longest[250];
    memset(longest, 'x', 249);
    longest[249] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_set_ok(keys[i], "my.Topic_1-x", "my.Topic_1-x");
        assert_set_ok(keys[i], "...", "...");
        assert_set_ok(keys[i], longest, longest);
    }
}

Test(config, topics_refuse_invalid_kafka_names) {
    const char *keys[] = {"topic.input", "topic.decisions", "topic.refund_records", "topic.dlq",
                          "topic.changelog"};
    char too_long[251];
    memset(too_long, 'x', 250);
    too_long[250] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "%s: invalid topic name", keys[i]);
        assert_set_refused(keys[i], "has space", want);
        assert_set_refused(keys[i], "a/b", want);
        assert_set_refused(keys[i], ".", want);
        assert_set_refused(keys[i], "..", want);
        assert_set_refused(keys[i], too_long, want);
        assert_set_refused(keys[i], "t\xc3\xa9", want);
    }
}

Test(config, only_the_changelog_topic_may_be_empty) {
    assert_set_ok("topic.changelog", "", "");
    assert_set_refused("topic.input", "", "topic.input: invalid topic name");
    assert_set_refused("topic.dlq", "", "topic.dlq: invalid topic name");
}

Test(config, application_id_accepts_topic_safe_ids_up_to_200_chars) {
    assert_set_ok("application.id", "aftersale-worker.prod_2", "aftersale-worker.prod_2");
    char id[202];
    memset(id, 'a', 200);
    id[200] = '\0';
    assert_set_ok("application.id", id, id);
    id[200] = 'a';
    id[201] = '\0';
    assert_set_refused("application.id", id, "application.id: invalid value");
    assert_set_refused("application.id", "", "application.id: invalid value");
    assert_set_refused("application.id", "my app", "application.id: invalid value");
}

Test(config, commit_interval_accepts_1_to_600000) {
    assert_set_ok("commit.interval.ms", "1", "1");
    assert_set_ok("commit.interval.ms", "600000", "600000");
    assert_set_refused("commit.interval.ms", "0", "commit.interval.ms: invalid value");
    assert_set_refused("commit.interval.ms", "600001", "commit.interval.ms: invalid value");
    assert_set_refused("commit.interval.ms", "100ms", "commit.interval.ms: invalid value");
}

Test(config, num_threads_defaults_to_1_and_accepts_1_to_64) {
    asw_config *cfg = asw_config_new();
    cr_assert_str_eq(asw_config_get(cfg, "num.threads"), "1");
    asw_config_destroy(cfg);
    assert_set_ok("num.threads", "1", "1");
    assert_set_ok("num.threads", "64", "64");
    assert_set_refused("num.threads", "0", "num.threads: invalid value");
    assert_set_refused("num.threads", "65", "num.threads: invalid value");
    assert_set_refused("num.threads", "two", "num.threads: invalid value");
}

Test(config, commit_max_records_accepts_1_to_1000000) {
    assert_set_ok("commit.max.records", "1", "1");
    assert_set_ok("commit.max.records", "1000000", "1000000");
    assert_set_refused("commit.max.records", "0", "commit.max.records: invalid value");
    assert_set_refused("commit.max.records", "1000001", "commit.max.records: invalid value");
    assert_set_refused("commit.max.records", "1e3", "commit.max.records: invalid value");
}

Test(config, schema_registry_url_accepts_empty_and_http_urls) {
    assert_set_ok("schema.registry.url", "", "");
    assert_set_ok("schema.registry.url", "http://localhost:8081", "http://localhost:8081");
    assert_set_ok("schema.registry.url", "https://sr.example.com", "https://sr.example.com");
    assert_set_refused("schema.registry.url", "localhost:8081", "schema.registry.url: invalid");
    assert_set_refused("schema.registry.url", "http://", "schema.registry.url: invalid");
}

Test(config, schema_registry_url_error_does_not_echo_credentials) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(
        asw_config_set(cfg, "schema.registry.url", "ftp://user:s3cret@host", err, sizeof(err)), -1);
    cr_assert_null(strstr(err, "s3cret"), "secret echoed: %s", err);
    asw_config_destroy(cfg);
}

Test(config, log_level_accepts_the_four_levels_only) {
    assert_set_ok("log.level", "debug", "debug");
    assert_set_ok("log.level", "info", "info");
    assert_set_ok("log.level", "warn", "warn");
    assert_set_ok("log.level", "error", "error");
    assert_set_refused("log.level", "verbose", "log.level: invalid value 'verbose'");
    assert_set_refused("log.level", "INFO", "log.level: invalid value");
    assert_set_refused("log.level", "", "log.level: invalid value");
}

Test(config, empty_or_null_key_is_refused) {
    asw_config *cfg = asw_config_new();
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "", "x", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "empty key");
    cr_assert_eq(asw_config_set(cfg, NULL, "x", err, sizeof(err)), -1);
    cr_assert_eq(asw_config_set(cfg, "log.level", NULL, err, sizeof(err)), -1);
    cr_assert_eq(asw_config_set(cfg, "log.level", "bad", NULL, 0), -1);
    asw_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */
/* librdkafka passthrough                                                   */
/* ------------------------------------------------------------------------ */

Test(config, unknown_key_is_refused) {
    assert_set_refused("bootstrap.server", "x", "unknown key 'bootstrap.server'");
    assert_set_refused("topic.inptu", "x", "unknown key 'topic.inptu'");
    assert_set_refused("rules.application.limt", "5", "unknown key 'rules.application.limt'");
}

Test(config, librdkafka_property_is_passed_through_in_insertion_order) {
    asw_config *cfg = asw_config_new();
    char err[256] = "";
    cr_assert_eq(asw_config_set(cfg, "bootstrap.servers", "k1:9092,k2:9092", err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(asw_config_set(cfg, "client.id", "w1", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(asw_config_set(cfg, "auto.offset.reset", "earliest", err, sizeof(err)), 0,
                 "topic-level property: %s", err);
    cr_assert_str_eq(asw_config_get(cfg, "bootstrap.servers"), "k1:9092,k2:9092");

    cr_assert_eq(asw_config_kafka_count(cfg), 3);
    const char *k = NULL, *v = NULL;
    cr_assert_eq(asw_config_kafka_at(cfg, 0, &k, &v), 0);
    cr_assert_str_eq(k, "bootstrap.servers");
    cr_assert_str_eq(v, "k1:9092,k2:9092");
    cr_assert_eq(asw_config_kafka_at(cfg, 1, &k, &v), 0);
    cr_assert_str_eq(k, "client.id");
    cr_assert_eq(asw_config_kafka_at(cfg, 2, &k, &v), 0);
    cr_assert_str_eq(k, "auto.offset.reset");
    cr_assert_str_eq(v, "earliest");

    k = v = "untouched";
    cr_assert_eq(asw_config_kafka_at(cfg, 3, &k, &v), -1);
    cr_assert_str_eq(k, "untouched");
    cr_assert_str_eq(v, "untouched");
    asw_config_destroy(cfg);
}

Test(config, known_keys_are_not_passed_to_librdkafka) {
    asw_config *cfg = asw_config_new();
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "topic.input", "in", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_set(cfg, "log.level", "debug", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_kafka_count(cfg), 0);
    asw_config_destroy(cfg);
}

Test(config, invalid_librdkafka_value_is_refused_with_librdkafka_message) {
    asw_config *cfg = asw_config_new();
    char err[512] = "";
    cr_assert_eq(asw_config_set(cfg, "acks", "sometimes", err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "acks"), "message does not name the key: %s", err);
    cr_assert_not_null(strstr(err, "nvalid"), "not librdkafka's message: %s", err);
    cr_assert_eq(asw_config_set(cfg, "session.timeout.ms", "abc", err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "session.timeout.ms"), "%s", err);
    cr_assert_eq(asw_config_kafka_count(cfg), 0);
    asw_config_destroy(cfg);
}

Test(config, key_set_twice_takes_the_last_value_and_keeps_its_place) {
    asw_config *cfg = asw_config_new();
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "client.id", "a", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_set(cfg, "bootstrap.servers", "k:9092", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_set(cfg, "client.id", "b", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_set(cfg, "log.level", "warn", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_set(cfg, "log.level", "error", err, sizeof(err)), 0);
    cr_assert_eq(asw_config_kafka_count(cfg), 2);
    const char *k, *v;
    cr_assert_eq(asw_config_kafka_at(cfg, 0, &k, &v), 0);
    cr_assert_str_eq(k, "client.id");
    cr_assert_str_eq(v, "b");
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "error");
    asw_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */
/* Properties file                                                          */
/* ------------------------------------------------------------------------ */

Test(config, file_sets_known_and_librdkafka_keys) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "# worker\n"
                       "topic.input=orders.in\n"
                       "bootstrap.servers=localhost:9092\n"
                       "rules.application.limit=3\n";
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "topic.input"), "orders.in");
    cr_assert_str_eq(asw_config_get(cfg, "bootstrap.servers"), "localhost:9092");
    cr_assert_eq(asw_ruleset_limit(asw_config_settings(cfg)->ruleset), 3);
    cr_assert_str_eq(asw_config_get(cfg, "topic.dlq"), "aftersale.dlq"); /* untouched */
    asw_config_destroy(cfg);
}

Test(config, file_separators_equals_colon_and_blank_all_work) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "topic.input = a.in\n"
                       "topic.dlq: a.dlq\n"
                       "topic.decisions   a.dec\n"
                       "topic.refund_records\t=\ta.rr\n"
                       "   log.level=warn   \n"
                       "client.id:=x\n";
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "topic.input"), "a.in");
    cr_assert_str_eq(asw_config_get(cfg, "topic.dlq"), "a.dlq");
    cr_assert_str_eq(asw_config_get(cfg, "topic.decisions"), "a.dec");
    cr_assert_str_eq(asw_config_get(cfg, "topic.refund_records"), "a.rr");
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "warn");
    /* Only the first separator is one; the rest is the value (Java). */
    cr_assert_str_eq(asw_config_get(cfg, "client.id"), "=x");
    asw_config_destroy(cfg);
}

Test(config, file_key_without_value_sets_empty_value) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(asw_config_set(cfg, "topic.changelog", "c", err, sizeof(err)), 0);
    cr_assert_eq(load_text(cfg, "topic.changelog\n", err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "topic.changelog"), "");
    asw_config_destroy(cfg);
}

Test(config, file_comments_and_blank_lines_are_skipped) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "# a comment\n"
                       "! another comment\n"
                       "   # indented comment\n"
                       "\n"
                       "   \t \n"
                       "# comment ending in a backslash does not continue \\\n"
                       "log.level=debug\n"
                       "client.id=a#b!c\n";
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "debug");
    cr_assert_str_eq(asw_config_get(cfg, "client.id"), "a#b!c");
    asw_config_destroy(cfg);
}

Test(config, file_backslash_continues_a_line) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "rules.multi_refund.shops = s1, \\\n"
                       "        s2,\\\n"
                       "# not a comment inside a continuation\\\n"
                       "  ,s3\n"
                       "log.level=warn\n";
    /* The third line is part of the value, so the shop list has an entry
     * "# not a comment inside a continuation". */
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    const asw_ruleset *rs = asw_config_settings(cfg)->ruleset;
    cr_assert_str_eq(asw_config_get(cfg, "rules.multi_refund.shops"),
                     "s1, s2,# not a comment inside a continuation,s3");
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s2"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s3"));
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "warn");
    asw_config_destroy(cfg);
}

Test(config, file_even_backslashes_do_not_continue) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "client.id=abc\\\\\n"
                       "log.level=error\n";
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "client.id"), "abc\\");
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "error");
    asw_config_destroy(cfg);
}

Test(config, file_continuation_at_end_of_file_ends_the_line) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(load_text(cfg, "log.level=warn\\", err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "warn");
    asw_config_destroy(cfg);
}

Test(config, file_escapes_are_decoded) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "client.id=a\\=b\\:c\\#d\\!e\\\\f\\tg\\nh\n"
                       "client.rack=tab at end\\t   \n"
                       "topic.inp\\ut=x\n";
    /* The third line uses \u, which is refused; check the first two first. */
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), -1);
    cr_assert_str_eq(asw_config_get(cfg, "client.id"), "a=b:c#d!e\\f\tg\nh");
    cr_assert_str_eq(asw_config_get(cfg, "client.rack"), "tab at end\t");
    asw_config_destroy(cfg);
}

Test(config, file_escaped_separator_belongs_to_the_key) {
    assert_load_error("topic\\=input=x\n", 1, "unknown key 'topic=input'");
    assert_load_error("topic\\:input x\n", 1, "unknown key 'topic:input'");
}

Test(config, file_unsupported_escape_is_refused_with_file_and_line) {
    assert_load_error("log.level=info\nclient.id=C:\\path\n", 2, "unsupported escape '\\p'");
    assert_load_error("client.id=\\u0041\n", 1, "unsupported escape '\\u'");
    assert_load_error("client.id=a\\ \n", 1, "unsupported escape '\\ '");
}

Test(config, file_crlf_line_ends_are_accepted) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *text = "log.level=warn\r\n"
                       "topic.input=in\\\r\n"
                       "  put\r\n";
    cr_assert_eq(load_text(cfg, text, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "warn");
    cr_assert_str_eq(asw_config_get(cfg, "topic.input"), "input");
    asw_config_destroy(cfg);
}

Test(config, unknown_key_is_refused_with_file_and_line) {
    assert_load_error("# header\n"
                      "\n"
                      "log.level=info\n"
                      "bootstrap.server=localhost:9092\n",
                      4, "unknown key 'bootstrap.server'");
}

Test(config, error_on_a_continued_line_names_the_line_of_its_key) {
    assert_load_error("log.level=info\n"
                      "rules.application.limit=\\\n"
                      "   2000\n",
                      2, "rules.application.limit: invalid value '2000'");
}

Test(config, invalid_known_value_in_file_is_refused_with_file_and_line) {
    assert_load_error("topic.input=bad topic\n", 1, "topic.input: invalid topic name");
    assert_load_error("\n\nrules.multi_refund.percent=150\n", 3,
                      "rules.multi_refund.percent: invalid value '150'");
}

Test(config, invalid_librdkafka_value_in_file_is_refused_with_file_and_line) {
    assert_load_error("bootstrap.servers=k:9092\nacks=sometimes\n", 2, "");
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(load_text(cfg, "acks=sometimes\n", err, sizeof(err), NULL), -1);
    cr_assert_not_null(strstr(err, "acks"), "%s", err);
    asw_config_destroy(cfg);
}

Test(config, empty_key_in_file_is_refused) {
    assert_load_error("=value\n", 1, "empty key");
    assert_load_error("log.level=info\n  : value\n", 2, "empty key");
}

Test(config, keys_before_a_bad_line_stay_set) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(
        load_text(cfg, "log.level=warn\nnope=1\nlog.level=error\n", err, sizeof(err), NULL), -1);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "warn");
    asw_config_destroy(cfg);
}

Test(config, file_key_set_twice_takes_the_last_value) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(load_text(cfg, "log.level=warn\nlog.level=debug\n", err, sizeof(err), NULL), 0,
                 "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "debug");
    asw_config_destroy(cfg);
}

Test(config, file_rules_keys_rebuild_the_ruleset_version) {
    asw_config *cfg = asw_config_new();
    char err[512];
    char *before = strdup(asw_ruleset_version(asw_config_settings(cfg)->ruleset));
    cr_assert_eq(load_text(cfg,
                           "rules.application.limit=3\n"
                           "rules.multi_refund.shops=b,a\n"
                           "rules.multi_refund.percent=10\n",
                           err, sizeof(err), NULL),
                 0, "%s", err);
    const asw_ruleset *rs = asw_config_settings(cfg)->ruleset;
    cr_assert_str_neq(asw_ruleset_version(rs), before);

    asw_ruleset *same = asw_ruleset_new();
    asw_ruleset_set_limit(same, 3);
    asw_ruleset_set_shops(same, "a,b");
    asw_ruleset_set_percent(same, 10);
    cr_assert_str_eq(asw_ruleset_version(rs), asw_ruleset_version(same));
    asw_ruleset_destroy(same);
    free(before);
    asw_config_destroy(cfg);
}

Test(config, missing_file_is_refused_with_path_and_strerror) {
    asw_config *cfg = asw_config_new();
    char err[512];
    const char *path = "/nonexistent/asw/worker.properties";
    cr_assert_eq(asw_config_load_file(cfg, path, err, sizeof(err)), -1);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
    cr_assert_str_eq(err, want);
    asw_config_destroy(cfg);
}

Test(config, directory_is_refused_with_path_and_strerror) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(asw_config_load_file(cfg, "/", err, sizeof(err)), -1);
    char want[512];
    snprintf(want, sizeof(want), "/: %s", strerror(EISDIR));
    cr_assert_str_eq(err, want);
    asw_config_destroy(cfg);
}

Test(config, empty_file_changes_nothing) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(load_text(cfg, "", err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "log.level"), "info");
    asw_config_destroy(cfg);
}

Test(config, settings_exactly_once_depends_on_are_refused) {
    const char *keys[] = {"group.id",
                          "transactional.id",
                          "group.instance.id",
                          "enable.auto.commit",
                          "isolation.level",
                          "enable.idempotence",
                          "partition.assignment.strategy"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "'%s' is managed by the worker", keys[i]);
        assert_set_refused(keys[i], "x", want);
    }
    assert_load_error("bootstrap.servers=a:1\nenable.auto.commit=true\n", 2,
                      "'enable.auto.commit' is managed by the worker");
}

Test(config, worker_keys_have_defaults_and_checks) {
    asw_config *cfg = asw_config_new();
    cr_assert_str_eq(asw_config_get(cfg, "worker.id"), "");
    cr_assert_str_eq(asw_config_get(cfg, "state.retention.ms"), "7776000000");
    cr_assert_str_eq(asw_config_get(cfg, "state.stream_time.max_step.ms"), "3600000");
    asw_state_limits limits = asw_config_settings(cfg)->state;
    cr_assert_eq(limits.retention_ms, 90LL * 86400000);
    cr_assert_eq(limits.max_step_ms, 3600000);
    cr_assert_eq(limits.decoded_orders, 16384);
    cr_assert_str_eq(asw_config_get(cfg, "topic.replication.factor"), "-1");
    asw_config_destroy(cfg);
    assert_set_ok("worker.id", "pod-3", "pod-3");
    assert_set_refused("worker.id", "pod 3", "worker.id: invalid value 'pod 3'");
    assert_set_refused("state.retention.ms", "0", "state.retention.ms: invalid value '0'");
    assert_set_ok("state.stream_time.max_step.ms", "0", "0");
    assert_set_refused("state.stream_time.max_step.ms", "-1",
                       "state.stream_time.max_step.ms: invalid value '-1'");
    assert_set_refused("topic.replication.factor", "-2", "topic.replication.factor: invalid value");
    assert_set_ok("state.cache.orders", "0", "0");
    assert_set_refused("state.cache.orders", "-1", "state.cache.orders: invalid value '-1'");
}

Test(config, environment_overrides_keys_with_asw_cfg_prefix) {
    asw_config *cfg = asw_config_new();
    char *env[] = {"PATH=/bin",
                   "ASW_CFG_BOOTSTRAP_SERVERS=h1:9092,h2:9092",
                   "ASW_CFG_TOPIC_REFUND__RECORDS=rr",
                   "ASW_CFG_RULES_APPLICATION_LIMIT=7",
                   "ASW_OTHER=ignored",
                   NULL};
    char err[512] = "";
    cr_assert_eq(asw_config_apply_env(cfg, env, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "bootstrap.servers"), "h1:9092,h2:9092");
    cr_assert_str_eq(asw_config_get(cfg, "topic.refund_records"), "rr");
    cr_assert_eq(asw_ruleset_limit(asw_config_settings(cfg)->ruleset), 7);
    asw_config_destroy(cfg);
}

Test(config, bad_environment_override_names_the_variable) {
    asw_config *cfg = asw_config_new();
    char *env[] = {"ASW_CFG_RULES_APPLICATION_LIMIT=zero", NULL};
    char err[512] = "";
    cr_assert_eq(asw_config_apply_env(cfg, env, err, sizeof err), -1);
    cr_assert(strstr(err, "environment ASW_CFG_RULES_APPLICATION_LIMIT: ") == err, "%s", err);
    asw_config_destroy(cfg);
}

Test(config, print_masks_secrets_and_shows_defaults) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(asw_config_set(cfg, "sasl.password", "hunter2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(asw_config_set(cfg, "sasl.username", "alice", err, sizeof err), 0, "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    asw_config_print(cfg, out);
    fclose(out);
    cr_assert(strstr(text, "sasl.password=********\n") != NULL, "%s", text);
    cr_assert(strstr(text, "hunter2") == NULL);
    cr_assert(strstr(text, "sasl.username=alice\n") != NULL);
    cr_assert(strstr(text, "commit.interval.ms=100\n") != NULL);
    free(text);
    asw_config_destroy(cfg);
}
