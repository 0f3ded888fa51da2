/*
 * test_cli.c -- the configuration every subcommand starts from: file, then
 * environment, then -b; and what it refuses before any client starts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asw/cli.h"

static char path[64];

static void write_config(const char *text) {
    snprintf(path, sizeof path, "/tmp/asw-test-cli-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(cli, file_then_environment_then_brokers_option) {
    write_config("bootstrap.servers=file:1\napplication.id=from-file\ncommit.interval.ms=5\n");
    setenv("ASW_CFG_APPLICATION_ID", "from-env", 1);
    char err[256];
    asw_config *cfg = asw_cli_config(path, "cli:9", err, sizeof err);
    unsetenv("ASW_CFG_APPLICATION_ID");
    unlink(path);
    cr_assert_not_null(cfg, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "application.id"), "from-env");
    cr_assert_str_eq(asw_config_get(cfg, "bootstrap.servers"), "cli:9");
    cr_assert_str_eq(asw_config_get(cfg, "commit.interval.ms"), "5");
    asw_config_destroy(cfg);
}

Test(cli, schema_registry_keys_load_and_their_secrets_are_masked) {
    write_config("schema.registry.url=https://u:pw@registry:8081\n"
                 "schema.registry.basic.auth.user.info=alice:s3cret\n"
                 "schema.registry.ssl.ca.location=/etc/ca.pem\n"
                 "schema.registry.ssl.key.password=kpw\n"
                 "schema.registry.max.retries=5\n");
    char err[256] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    unlink(path);
    cr_assert_not_null(cfg, "%s", err);
    cr_assert_str_eq(asw_config_get(cfg, "schema.registry.basic.auth.user.info"), "alice:s3cret");
    cr_assert_str_eq(asw_config_get(cfg, "schema.registry.max.retries"), "5");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    asw_config_print(cfg, out);
    fclose(out);
    cr_assert(strstr(text, "s3cret") == NULL && strstr(text, "kpw") == NULL &&
                  strstr(text, "pw@") == NULL,
              "%s", text);
    cr_assert(strstr(text, "schema.registry.ssl.ca.location=/etc/ca.pem\n") != NULL, "%s", text);
    free(text);
    asw_config_destroy(cfg);
}

Test(cli, a_registry_user_info_without_a_colon_is_refused_without_echo) {
    write_config("schema.registry.basic.auth.user.info=alicepw\n");
    char err[256] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    unlink(path);
    cr_assert_null(cfg);
    cr_assert(strstr(err, "expected empty or user:password") != NULL, "%s", err);
    cr_assert(strstr(err, "alicepw") == NULL, "%s", err);
}

Test(cli, bad_file_is_refused_with_file_and_line) {
    write_config("application.id=ok\nno.such.key=1\n");
    char err[512] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    cr_assert_null(cfg);
    char want[128];
    snprintf(want, sizeof want, "%s:2: unknown key 'no.such.key'", path);
    unlink(path);
    cr_assert_str_eq(err, want);
}

/* The config text must be refused with exactly "<path>:<line>: " + want. */
static void assert_refused_at(const char *text, int line, const char *want) {
    write_config(text);
    char err[1024] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s:%d: %s", path, line, want);
    unlink(path);
    cr_assert_null(cfg, "accepted:\n%s", text);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "got '%s'\nwant '%s...'", err, prefix);
}

Test(cli, commit_interval_at_or_above_the_transaction_timeout_is_refused_with_its_line) {
    assert_refused_at("application.id=a\ncommit.interval.ms=10000\n", 2,
                      "commit.interval.ms (10000) must be below transaction.timeout.ms (10000, "
                      "the worker's default)");
    assert_refused_at("transaction.timeout.ms=5000\n# c\ncommit.interval.ms=6000\n", 3,
                      "commit.interval.ms (6000) must be below transaction.timeout.ms (5000); "
                      "transaction.timeout.ms set at ");
    /* An entry continued over lines is named by its first line. */
    assert_refused_at("commit.interval.ms=\\\n  5000\ntransaction.timeout.ms=4000\n", 1,
                      "commit.interval.ms (5000) must be below transaction.timeout.ms (4000)");
}

Test(cli, a_rule_broken_from_the_environment_names_the_variable) {
    write_config("application.id=a\n");
    setenv("ASW_CFG_COMMIT_INTERVAL_MS", "20000", 1);
    char err[512] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    unsetenv("ASW_CFG_COMMIT_INTERVAL_MS");
    unlink(path);
    cr_assert_null(cfg);
    cr_assert(
        strncmp(err, "environment ASW_CFG_COMMIT_INTERVAL_MS: commit.interval.ms (20000)", 60) == 0,
        "%s", err);
}

Test(cli, heartbeat_at_or_above_the_session_timeout_is_refused) {
    assert_refused_at("heartbeat.interval.ms=10000\n", 1,
                      "heartbeat.interval.ms (10000) must be below session.timeout.ms (10000)");
    assert_refused_at(
        "session.timeout.ms=6000\nheartbeat.interval.ms=3000\nsession.timeout.ms=3000\n", 2,
        "heartbeat.interval.ms (3000) must be below session.timeout.ms (3000)");
}

Test(cli, two_roles_for_one_topic_are_refused) {
    assert_refused_at("topic.input=t\ntopic.dlq=t\n", 2,
                      "topic.input and topic.dlq are both 't': each topic must have one role");
    assert_refused_at("application.id=app\ntopic.refund_records=app-changelog\n", 2,
                      "topic.refund_records and topic.changelog are both 'app-changelog'");
    assert_refused_at("topic.decisions=d\ntopic.changelog=d\n", 2,
                      "topic.decisions and topic.changelog are both 'd'");
}

Test(cli, librdkafka_rules_across_properties_are_refused_with_the_line_of_the_key_set) {
    /* message.timeout.ms above the worker's transaction.timeout.ms default. */
    assert_refused_at("application.id=a\nmessage.timeout.ms=60000\n", 2,
                      "`message.timeout.ms` must be set <= `transaction.timeout.ms`");
    assert_refused_at("linger.ms=20000\n", 1,
                      "`message.timeout.ms` must be greater than `linger.ms`");
    assert_refused_at("a.b=c\n", 1, "unknown key 'a.b'");
}

Test(cli, the_defaults_and_a_consistent_file_pass_every_rule) {
    write_config(
        "transaction.timeout.ms=60000\ncommit.interval.ms=30000\nsession.timeout.ms=30000\n"
        "heartbeat.interval.ms=1000\nmessage.timeout.ms=60000\nlinger.ms=50\n");
    char err[512] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    unlink(path);
    cr_assert_not_null(cfg, "%s", err);
    asw_config_destroy(cfg);
    cfg = asw_cli_config(NULL, NULL, err, sizeof err);
    cr_assert_not_null(cfg, "%s", err);
    asw_config_destroy(cfg);
}
