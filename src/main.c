/*
 * main.c -- the aftersale-worker command line: parses the subcommand and its
 * options, loads the configuration, runs the mode, and is the only place
 * that chooses the process's exit status.
 *
 *   aftersale-worker replay [-c CONFIG] [-o OUT] [-q] EVENTS.jsonl|-
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/config.h"
#include "asw/log.h"
#include "asw/replay.h"

#define ASW_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(out,
            "usage: aftersale-worker <command> [options]\n"
            "\n"
            "commands:\n"
            "  replay [-c CONFIG] [-o OUT] [-q] EVENTS.jsonl   run the rules over a JSON Lines\n"
            "         file of events ('-' = stdin); outputs go to OUT (default stdout) as\n"
            "         JSON Lines, a summary to stderr (-q: no summary)\n"
            "  version                                         print the version\n"
            "  help                                            this text\n");
}

/* Load -c CONFIG (if any) into a fresh config; NULL after printing why. */
static asw_config *load_config(const char *path) {
    asw_config *cfg = asw_config_new();
    char err[512];
    if (path && asw_config_load_file(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker: %s\n", err);
        asw_config_destroy(cfg);
        return NULL;
    }
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
    asw_log_level level = ASW_LOG_INFO;
    asw_log_level_parse(asw_config_get(cfg, "log.level"), &level);
    log = asw_log_new(stderr, quiet ? ASW_LOG_ERROR : level);

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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
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
