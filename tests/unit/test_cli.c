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

Test(cli, a_configured_schema_registry_is_refused_until_supported) {
    write_config("schema.registry.url=http://registry:8081\n");
    char err[256] = "";
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    unlink(path);
    cr_assert_null(cfg);
    cr_assert(strstr(err, "schema.registry.url: a Schema Registry is not supported yet") == err,
              "%s", err);
    cr_assert(strstr(err, "registry:8081") == NULL, "the URL may hold credentials");
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
