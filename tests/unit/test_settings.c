/*
 * test_settings.c -- the configuration as types (asw_config_settings): the
 * default of every setting, each number parsed from its key, the settings
 * following every change of the config, and the worker's rules across keys
 * (asw_config_check) refused with the file:line that set the key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asw/config.h"
#include "asw/ruleset.h"

static void set(asw_config *cfg, const char *key, const char *value) {
    char err[512] = "";
    cr_assert_eq(asw_config_set(cfg, key, value, err, sizeof err), 0, "%s=%s: %s", key, value, err);
}

/* The file at the path written into `path` (unlink it). */
static void write_file(char *path, size_t len, const char *text) {
    snprintf(path, len, "/tmp/asw-test-settings-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(settings, every_setting_has_its_default) {
    asw_config *cfg = asw_config_new();
    const asw_settings *s = asw_config_settings(cfg);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->application_id, "aftersale-worker");
    cr_assert_str_eq(s->worker_id, "");
    cr_assert_str_eq(s->topic.input, "aftersale.events");
    cr_assert_str_eq(s->topic.decisions, "aftersale.decisions");
    cr_assert_str_eq(s->topic.refund_records, "aftersale.refund-records");
    cr_assert_str_eq(s->topic.dlq, "aftersale.dlq");
    cr_assert_str_eq(s->topic.changelog, "aftersale-worker-changelog");
    cr_assert_eq(s->topic.replication_factor, -1);
    cr_assert_eq(s->commit_interval_ms, 100);
    cr_assert_eq(s->commit_max_records, 10000);
    cr_assert_eq(s->num_threads, 1);
    cr_assert_eq(s->state.retention_ms, 7776000000LL);
    cr_assert_eq(s->state.max_step_ms, 3600000);
    cr_assert_eq(s->state.decoded_orders, 16384);
    cr_assert_eq(s->log_level, ASW_LOG_INFO);
    cr_assert_not(s->log_json);
    cr_assert_str_eq(s->http.listen, "");
    cr_assert_str_eq(s->registry.url, "");
    cr_assert_eq(s->kafka.transaction_timeout_ms, ASW_CONFIG_TRANSACTION_TIMEOUT_MS_DEFAULT);
    cr_assert_eq(s->kafka.session_timeout_ms, ASW_CONFIG_SESSION_TIMEOUT_MS_DEFAULT);
    cr_assert_eq(s->kafka.transaction_timeout_ms, 10000);
    cr_assert_eq(s->kafka.session_timeout_ms, 10000);
    cr_assert_eq(s->kafka.heartbeat_interval_ms, 3000);
    cr_assert_eq(asw_ruleset_limit(s->ruleset), 5);
    asw_config_destroy(cfg);
}

Test(settings, each_number_is_parsed_from_its_key) {
    asw_config *cfg = asw_config_new();
    const asw_settings *s = asw_config_settings(cfg);
    set(cfg, "commit.interval.ms", "250");
    set(cfg, "commit.max.records", "+77"); /* stored, and read, as 77 */
    set(cfg, "num.threads", "8");
    set(cfg, "topic.replication.factor", "3");
    set(cfg, "state.retention.ms", "4611686018427387904");
    set(cfg, "state.stream_time.max_step.ms", "0");
    set(cfg, "state.cache.orders", "100000000");
    set(cfg, "transaction.timeout.ms", "60000");
    set(cfg, "session.timeout.ms", "45000");
    set(cfg, "heartbeat.interval.ms", "1500");
    set(cfg, "rules.application.limit", "9");
    cr_assert_eq(s->commit_interval_ms, 250);
    cr_assert_eq(s->commit_max_records, 77);
    cr_assert_str_eq(asw_config_get(cfg, "commit.max.records"), "77");
    cr_assert_eq(s->num_threads, 8);
    cr_assert_eq(s->topic.replication_factor, 3);
    cr_assert_eq(s->state.retention_ms, 4611686018427387904LL);
    cr_assert_eq(s->state.max_step_ms, 0);
    cr_assert_eq(s->state.decoded_orders, 100000000);
    cr_assert_eq(s->kafka.transaction_timeout_ms, 60000);
    cr_assert_eq(s->kafka.session_timeout_ms, 45000);
    cr_assert_eq(s->kafka.heartbeat_interval_ms, 1500);
    cr_assert_eq(asw_ruleset_limit(s->ruleset), 9);
    asw_config_destroy(cfg);
}

Test(settings, strings_and_choices_follow_their_keys) {
    asw_config *cfg = asw_config_new();
    const asw_settings *s = asw_config_settings(cfg);
    set(cfg, "application.id", "app");
    set(cfg, "worker.id", "pod-3");
    set(cfg, "topic.input", "in");
    set(cfg, "topic.decisions", "dec");
    set(cfg, "topic.refund_records", "rr");
    set(cfg, "topic.dlq", "dlq");
    set(cfg, "log.level", "debug");
    set(cfg, "log.format", "json");
    set(cfg, "http.listen", "127.0.0.1:0");
    cr_assert_str_eq(s->application_id, "app");
    cr_assert_str_eq(s->worker_id, "pod-3");
    cr_assert_str_eq(s->topic.input, "in");
    cr_assert_str_eq(s->topic.decisions, "dec");
    cr_assert_str_eq(s->topic.refund_records, "rr");
    cr_assert_str_eq(s->topic.dlq, "dlq");
    cr_assert_eq(s->log_level, ASW_LOG_DEBUG);
    cr_assert(s->log_json);
    cr_assert_str_eq(s->http.listen, "127.0.0.1:0");
    set(cfg, "log.level", "error");
    set(cfg, "log.format", "logfmt");
    cr_assert_eq(s->log_level, ASW_LOG_ERROR);
    cr_assert_not(s->log_json);
    asw_config_destroy(cfg);
}

Test(settings, the_changelog_is_derived_from_application_id_unless_set) {
    asw_config *cfg = asw_config_new();
    const asw_settings *s = asw_config_settings(cfg);
    set(cfg, "application.id", "first");
    cr_assert_str_eq(s->topic.changelog, "first-changelog");
    set(cfg, "application.id", "second");
    cr_assert_str_eq(s->topic.changelog, "second-changelog");
    set(cfg, "topic.changelog", "own.changelog");
    cr_assert_str_eq(s->topic.changelog, "own.changelog");
    set(cfg, "application.id", "third");
    cr_assert_str_eq(s->topic.changelog, "own.changelog");
    set(cfg, "topic.changelog", "");
    cr_assert_str_eq(s->topic.changelog, "third-changelog");
    /* The longest application.id still derives a valid topic name. */
    char app[201];
    memset(app, 'a', 200);
    app[200] = '\0';
    set(cfg, "application.id", app);
    cr_assert_eq(strlen(s->topic.changelog), 200 + strlen("-changelog"));
    asw_config_destroy(cfg);
}

Test(settings, a_refused_value_leaves_the_setting_as_it_was) {
    asw_config *cfg = asw_config_new();
    const asw_settings *s = asw_config_settings(cfg);
    char err[512];
    set(cfg, "commit.interval.ms", "300");
    cr_assert_eq(asw_config_set(cfg, "commit.interval.ms", "600001", err, sizeof err), -1);
    cr_assert_eq(asw_config_set(cfg, "num.threads", "0", err, sizeof err), -1);
    cr_assert_eq(asw_config_set(cfg, "session.timeout.ms", "soon", err, sizeof err), -1);
    cr_assert_eq(s->commit_interval_ms, 300);
    cr_assert_eq(s->num_threads, 1);
    cr_assert_eq(s->kafka.session_timeout_ms, 10000);
    asw_config_destroy(cfg);
}

Test(settings, file_and_environment_values_reach_the_settings) {
    char path[64], err[512] = "";
    write_file(path, sizeof path,
               "commit.interval.ms=40\nnum.threads=2\nheartbeat.interval.ms=700\n");
    asw_config *cfg = asw_config_new();
    int rc = asw_config_load_file(cfg, path, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err);
    char *envp[] = {"ASW_CFG_NUM_THREADS=4", "ASW_CFG_TOPIC_REFUND__RECORDS=env.rr", NULL};
    cr_assert_eq(asw_config_apply_env(cfg, envp, err, sizeof err), 0, "%s", err);
    const asw_settings *s = asw_config_settings(cfg);
    cr_assert_eq(s->commit_interval_ms, 40);
    cr_assert_eq(s->num_threads, 4);
    cr_assert_eq(s->kafka.heartbeat_interval_ms, 700);
    cr_assert_str_eq(s->topic.refund_records, "env.rr");
    asw_config_destroy(cfg);
}

/* Load text and run the rules across keys: refused with exactly
 * "<path>:<line>: " + want at the start of the message. */
static void assert_check_refused_at(const char *text, int line, const char *want) {
    char path[64], err[1024] = "";
    write_file(path, sizeof path, text);
    asw_config *cfg = asw_config_new();
    int rc = asw_config_load_file(cfg, path, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    rc = asw_config_check(cfg, err, sizeof err);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s:%d: %s", path, line, want);
    unlink(path);
    asw_config_destroy(cfg);
    cr_assert_eq(rc, -1, "accepted:\n%s", text);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s'\nwant '%s...'", err, prefix);
}

Test(settings, a_rule_across_keys_is_refused_with_the_file_and_line) {
    assert_check_refused_at("application.id=a\ncommit.interval.ms=10000\n", 2,
                            "commit.interval.ms (10000) must be below transaction.timeout.ms "
                            "(10000, the worker's default)");
    assert_check_refused_at("session.timeout.ms=4000\nheartbeat.interval.ms=4000\n", 2,
                            "heartbeat.interval.ms (4000) must be below session.timeout.ms (4000)");
    assert_check_refused_at("application.id=x\n\ntopic.dlq=x-changelog\n", 3,
                            "topic.dlq and topic.changelog are both 'x-changelog'");
}

Test(settings, the_defaults_pass_the_rules_across_keys) {
    asw_config *cfg = asw_config_new();
    char err[512] = "";
    cr_assert_eq(asw_config_check(cfg, err, sizeof err), 0, "%s", err);
    /* Set in code, no origin: the message has none either. */
    set(cfg, "topic.decisions", "aftersale.events");
    cr_assert_eq(asw_config_check(cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "topic.input and topic.decisions are both 'aftersale.events': each "
                          "topic must have one role");
    asw_config_destroy(cfg);
}
