/*
 * main.c -- the aftersale-worker command line: parses the subcommand and its
 * options, loads the configuration, runs the mode, and is the only place
 * that chooses the process's exit status.
 *
 *   aftersale-worker run -c CONFIG [--print-config]      the Kafka worker
 *   aftersale-worker replay [-c CONFIG] [-o OUT] [-q] EVENTS.jsonl|-
 *   aftersale-worker produce --topic T ... EVENTS.jsonl   JSON Lines -> Kafka
 *   aftersale-worker consume --topic T ...                Kafka -> JSON Lines
 *   aftersale-worker generate [--seed N] [--orders N]     a sample stream
 *   aftersale-worker demo [--orders N] [--seed S] ...     all of it on a mock cluster
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/cli.h"
#include "asw/config.h"
#include "asw/demo.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "asw/log.h"
#include "asw/replay.h"
#include "asw/tools.h"
#include "asw/worker.h"

#define ASW_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(out,
            "usage: aftersale-worker <command> [options]\n"
            "\n"
            "commands:\n"
            "  replay [-c CONFIG] [-o OUT] [-q] EVENTS.jsonl   run the rules over a JSON Lines\n"
            "         file of events ('-' = stdin); outputs go to OUT (default stdout) as\n"
            "         JSON Lines, a summary to stderr (-q: no summary)\n"
            "  produce --topic T [options] EVENTS.jsonl        produce JSON Lines events as Avro\n"
            "  consume --topic T [options]                     print a topic as JSON Lines\n"
            "  run -c CONFIG [--print-config]                  the Kafka worker: consume events,\n"
            "         publish decisions and refund records exactly once (SIGTERM stops it)\n"
            "  generate [--seed N] [--orders N] [--active N]   print a deterministic sample\n"
            "         stream of events (JSON Lines) covering every rule\n"
            "  demo [--orders N] [--seed S] [--partitions P]    the whole pipeline on an\n"
            "         in-process mock Kafka cluster (no broker needed), with a report\n"
            "  version                                         print the version\n"
            "  help                                            this text\n");
}

/* The effective config (-c CONFIG, environment); NULL after printing why. */
static asw_config *load_config(const char *path) {
    char err[512];
    asw_config *cfg = asw_cli_config(path, NULL, err, sizeof err);
    if (!cfg)
        fprintf(stderr, "aftersale-worker: %s\n", err);
    return cfg;
}

static int cmd_replay(int argc, char **argv) {
    const char *config_path = NULL, *out_path = NULL;
    bool quiet = false;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "c:o:qh")) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "aftersale-worker replay: exactly one EVENTS file (or -) is needed\n");
        return 2;
    }
    const char *in_path = argv[optind];

    int rc = 1;
    FILE *in = NULL, *out = NULL;
    asw_log *log = NULL;
    asw_config *cfg = load_config(config_path);
    if (!cfg)
        return 2;
    log = quiet ? asw_log_new(stderr, ASW_LOG_ERROR) : asw_cli_log(cfg);

    in = strcmp(in_path, "-") == 0 ? stdin : fopen(in_path, "r");
    if (!in) {
        fprintf(stderr, "aftersale-worker replay: %s: %s\n", in_path, strerror(errno));
        goto done;
    }
    out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "aftersale-worker replay: %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    asw_replay_stats stats;
    char err[512];
    if (asw_replay_run(cfg, in, out, log, &stats, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker replay: %s\n", err);
        goto done;
    }
    if (!quiet)
        asw_replay_print_summary(&stats, stderr);
    rc = 0;
done:
    if (in && in != stdin)
        fclose(in);
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "aftersale-worker replay: %s: %s\n", out_path, strerror(errno));
        rc = 1;
    }
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}

/* generate [--seed N] [--orders N] [--active N]: a deterministic stream. */
static int cmd_generate(int argc, char **argv) {
    static const struct option longopts[] = {{"seed", required_argument, NULL, 's'},
                                             {"orders", required_argument, NULL, 'n'},
                                             {"active", required_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    unsigned long long seed = 1;
    long orders = 1000, active = 16;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:n:a:h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 's':
            seed = strtoull(optarg, &end, 10);
            break;
        case 'n':
            orders = strtol(optarg, &end, 10);
            break;
        case 'a':
            active = strtol(optarg, &end, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (end && (*end || end == optarg)) {
            fprintf(stderr, "aftersale-worker generate: not a number: '%s'\n", optarg);
            return 2;
        }
    }
    if (orders < 1 || orders > 100000000 || active < 1 || active > 64) {
        fprintf(stderr, "aftersale-worker generate: --orders 1..1e8, --active 1..64\n");
        return 2;
    }
    asw_gen *g = asw_gen_new(seed, (int32_t)orders, (int32_t)active);
    asw_buf buf = ASW_BUF_INIT;
    asw_event ev;
    int rc = 0;
    while (asw_gen_next(g, &ev)) {
        asw_buf_reset(&buf);
        asw_jsonl_format_event(&ev, &buf);
        asw_event_clear(&ev);
        if (fwrite(buf.data, 1, buf.len, stdout) != buf.len) {
            fprintf(stderr, "aftersale-worker generate: write failed: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    asw_buf_free(&buf);
    asw_gen_destroy(g);
    return rc;
}

static int cmd_run(int argc, char **argv) {
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"print-config", no_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    bool print_config = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'P':
            print_config = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "aftersale-worker run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    asw_config *cfg = load_config(config_path);
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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "produce") == 0)
        return asw_cmd_produce(argc - 1, argv + 1);
    if (strcmp(cmd, "consume") == 0)
        return asw_cmd_consume(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return asw_cmd_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("aftersale-worker %s\n", ASW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "aftersale-worker: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
