/*
 * replay.c -- `aftersale-worker replay`: the rules over a JSON Lines file
 * (src/replay.c), outputs as JSON Lines, a summary on stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "asw/cli.h"
#include "asw/cmd.h"
#include "asw/replay.h"
#include "asw/rules_codec.h"

static const asw_cmd_option options[] = {
    {'c', "config", "FILE",
     "configuration file: the ruleset (rules.*) and\n"
     "log.level; without it, the default ruleset"},
    {'o', "output", "FILE", "write the outputs to FILE (default: stdout)"},
    {'r', "rules", "FILE",
     "a ruleset file: changes of the ruleset by event\n"
     "time, one JSON object a line (`rules show --format\n"
     "jsonl` writes one; docs/rules.md)"},
    {'q', "quiet", NULL, "no summary on stderr, and only errors logged"},
    {0}};

static int replay_main(int argc, char **argv) {
    const char *config_path = NULL, *out_path = NULL, *rules_path = NULL;
    bool quiet = false;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_replay_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'r':
            rules_path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return asw_cmd_usage(&asw_replay_cmd, opt);
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
    asw_rulebook *book = NULL;
    asw_config *cfg = asw_cli_load_config("replay", config_path);
    if (!cfg)
        return 2;
    log = quiet ? asw_log_new(stderr, ASW_LOG_ERROR) : asw_cli_log(cfg);
    book = asw_rulebook_new(asw_config_settings(cfg)->ruleset);
    char err[512];
    if (rules_path && asw_rulebook_load_file(book, rules_path, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker replay: %s\n", err);
        rc = 2;
        goto done;
    }

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
    if (asw_replay_run_book(cfg, rules_path ? book : NULL, in, out, log, &stats, err, sizeof err) !=
        0) {
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
    asw_rulebook_destroy(book);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return rc;
}

const asw_cmd asw_replay_cmd = {
    .name = "replay",
    .summary = "the rules over a JSON Lines file of events, outputs as JSON Lines",
    .synopsis = "[-c CONFIG] [-r RULES.jsonl] [-o OUT] [-q]\nEVENTS.jsonl|-",
    .description = "Run the rules over a file of events in the JSON Lines form of SPEC section 3\n"
                   "('-' reads stdin) and write every output as one JSON object a line, in\n"
                   "processing order: a Decision per AfterSaleApplied, a RefundRecord per change\n"
                   "of the ledger, a DeadLetter per line that is not a valid event (processing\n"
                   "goes on). A summary of the decisions goes to stderr. The same input and\n"
                   "ruleset always give the same bytes, and the same outputs as the worker.",
    .options = options,
    .exit_status = "0 done (dead letters included), 1 I/O error, 2 usage or\n"
                   "configuration error",
    .run = replay_main,
};
