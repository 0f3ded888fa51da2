/*
 * run.c -- `aftersale-worker run`: the Kafka worker (src/worker.c) on the
 * effective configuration, until SIGTERM / SIGINT or a fatal error.
 */
#include <stdbool.h>

#include "asw/cli.h"
#include "asw/cmd.h"
#include "asw/worker.h"

enum { OPT_PRINT_CONFIG = ASW_CMD_LONG_ONLY };

static const asw_cmd_option options[] = {{'c', "config", "FILE",
                                          "configuration file (Java properties; librdkafka\n"
                                          "properties pass through); ASW_CFG_<KEY>\n"
                                          "environment variables override its keys"},
                                         {OPT_PRINT_CONFIG, "print-config", NULL,
                                          "print the effective configuration (secrets\n"
                                          "masked) and exit"},
                                         {0}};

static int run_main(int argc, char **argv) {
    const char *config_path = NULL;
    bool print_config = false;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_run_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_PRINT_CONFIG:
            print_config = true;
            break;
        default:
            return asw_cmd_usage(&asw_run_cmd, opt);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "aftersale-worker run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    asw_config *cfg = asw_cli_load_config("run", config_path);
    if (!cfg)
        return 2;
    if (print_config) {
        asw_config_print(cfg, stdout);
        asw_config_destroy(cfg);
        return 0;
    }
    int rc = 1;
    char err[512];
    const volatile sig_atomic_t *stop = asw_cli_stop_on_signals();
    asw_log *log = asw_cli_log(cfg);
    asw_worker *w = asw_worker_new(cfg, log, err, sizeof err);
    if (!w) {
        fprintf(stderr, "aftersale-worker run: %s\n", err);
        goto done;
    }
    if (asw_worker_start(w, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker run: %s\n", err);
        goto done;
    }
    if (asw_worker_run(w, stop) != 0) {
        fprintf(stderr, "aftersale-worker run: fatal: %s\n", asw_worker_error(w));
        goto done;
    }
    rc = 0;
done:
    asw_worker_destroy(w);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}

const asw_cmd asw_run_cmd = {
    .name = "run",
    .summary = "the Kafka worker: decisions and refund records, exactly once",
    .synopsis = "[-c CONFIG] [--print-config]",
    .description =
        "A member of the consumer group named by application.id. For each batch\n"
        "(commit.interval.ms or commit.max.records, whichever comes first) it writes the\n"
        "decisions, refund records, dead letters and changelog records, and the consumed\n"
        "offsets, in one Kafka transaction. On a new partition it first restores the\n"
        "orders' state from the changelog. SIGTERM or SIGINT finishes the open\n"
        "transaction, leaves the group and exits 0; a second signal kills it.",
    .options = options,
    .exit_status = "0 stopped by a signal, 1 fatal Kafka or runtime error (one\n"
                   "line on stderr says why), 2 usage or configuration error",
    .run = run_main,
};
