/*
 * cli.c -- configuration and logger set-up shared by the subcommands.
 */
#include "asw/cli.h"

#include "asw/kafka.h"

#include <stdio.h>
#include <string.h>

extern char **environ;

/* Set by SIGINT / SIGTERM; read by the loops of `run` and `consume`. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

const volatile sig_atomic_t *asw_cli_stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* The first signal asks for an orderly stop; a second one takes the
     * default action, so a process stuck on an unreachable broker can still
     * be stopped from the terminal. */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

asw_config *asw_cli_config(const char *path, const char *brokers, char *err, size_t errlen) {
    asw_config *cfg = asw_config_new();
    if (path && asw_config_load_file(cfg, path, err, errlen) != 0)
        goto fail;
    if (asw_config_apply_env(cfg, environ, err, errlen) != 0)
        goto fail;
    if (brokers) {
        char msg[256];
        if (asw_config_set(cfg, "bootstrap.servers", brokers, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "-b %s: %s", brokers, msg);
            goto fail;
        }
    }
    if (asw_kafka_check_config(cfg, err, errlen) != 0)
        goto fail;
    return cfg;
fail:
    asw_config_destroy(cfg);
    return NULL;
}

asw_config *asw_cli_load_config(const char *cmd, const char *path) {
    char err[512];
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    if (!cfg)
        fprintf(stderr, "aftersale-worker %s: %s\n", cmd, err);
    return cfg;
}

asw_log *asw_cli_log(const asw_config *cfg) {
    const asw_settings *s = asw_config_settings(cfg);
    asw_log *log = asw_log_new(stderr, s->log_level);
    if (s->log_json)
        asw_log_set_json(log, true);
    return log;
}
