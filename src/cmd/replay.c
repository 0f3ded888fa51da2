/*
 * replay.c -- `aftersale-worker replay`: the rules over a JSON Lines file
 * (src/replay.c), outputs as JSON Lines, a summary on stderr; or, with
 * --compare, the what-if report of two rulesets over it (src/whatif.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "asw/cli.h"
#include "asw/cmd.h"
#include "asw/replay.h"
#include "asw/rules_codec.h"
#include "asw/whatif.h"

enum { OPT_COMPARE = ASW_CMD_LONG_ONLY, OPT_FORMAT, OPT_EXIT_CODE };

/* The exit status of --compare --exit-code when some decision differs:
 * not 1, which an I/O error already means. */
#define EXIT_DECISIONS_DIFFER 3

static const asw_cmd_option options[] = {
    {'c', "config", "FILE",
     "configuration file: the ruleset (rules.*) and\n"
     "log.level; without it, the default ruleset"},
    {'o', "output", "FILE",
     "write the outputs (or the --compare report) to\n"
     "FILE (default: stdout)"},
    {'r', "rules", "FILE",
     "a ruleset file: changes of the ruleset by event\n"
     "time, one JSON object a line (`rules show --format\n"
     "jsonl` writes one; docs/rules.md)"},
    {'q', "quiet", NULL, "no summary on stderr, and only errors logged"},
    {OPT_COMPARE, "compare", "OTHER",
     "what-if: run the events under the ruleset of -c\n"
     "and under OTHER -- the rules.* keys of a\n"
     "properties file, or a ruleset file of changes\n"
     "by event time -- and report the decisions that\n"
     "differ instead of the outputs"},
    {OPT_FORMAT, "format", "FORMAT",
     "the --compare report: text (default), or jsonl\n"
     "(one object a changed decision, then a summary)"},
    {OPT_EXIT_CODE, "exit-code", NULL, "with --compare: exit 3 when a decision differs"},
    {0}};

/*
 * The ruleset of OTHER: its file alone on the defaults (the environment's
 * ASW_CFG_* overrides apply to -c's configuration, and would hide what
 * OTHER changes if they applied to both). Every key is checked as -c's are,
 * so a typo is refused with file:line; only the rules.* keys are used.
 */
static asw_config *load_other(const char *path) {
    char err[512];
    asw_config *other = asw_config_new();
    if (asw_config_load_file(other, path, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker replay: --compare %s\n", err);
        asw_config_destroy(other);
        return NULL;
    }
    return other;
}

/* Is OTHER a ruleset file (its first line that is not blank or a '#'
 * comment starts with '{') rather than a properties file? */
static bool is_ruleset_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    int c;
    bool bol = true, comment = false, found = false;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            bol = true;
            comment = false;
        } else if (comment || c == ' ' || c == '\t' || c == '\r') {
            continue;
        } else if (bol && c == '#') {
            comment = true;
        } else {
            found = c == '{';
            break;
        }
    }
    fclose(f);
    return found;
}

static int replay_main(int argc, char **argv) {
    const char *config_path = NULL, *out_path = NULL, *other_path = NULL, *rules_path = NULL;
    bool quiet = false, exit_code = false;
    asw_whatif_format format = ASW_WHATIF_TEXT;
    const char *format_arg = NULL;
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
        case OPT_COMPARE:
            other_path = optarg;
            break;
        case OPT_FORMAT:
            format_arg = optarg;
            break;
        case OPT_EXIT_CODE:
            exit_code = true;
            break;
        default:
            return asw_cmd_usage(&asw_replay_cmd, opt);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "aftersale-worker replay: exactly one EVENTS file (or -) is needed\n");
        return 2;
    }
    if (!other_path && (format_arg || exit_code)) {
        fprintf(stderr, "aftersale-worker replay: --format and --exit-code go with --compare\n");
        return 2;
    }
    if (format_arg && asw_whatif_format_parse(format_arg, &format) != 0) {
        fprintf(stderr, "aftersale-worker replay: --format %s: text or jsonl\n", format_arg);
        return 2;
    }
    const char *in_path = argv[optind];

    int rc = 1;
    FILE *in = NULL, *out = NULL;
    asw_log *log = NULL;
    asw_rulebook *book = NULL;
    asw_config *other = NULL;
    asw_rulebook *other_book = NULL;
    bool other_rules = other_path && is_ruleset_file(other_path);
    asw_config *cfg = asw_cli_load_config("replay", config_path);
    if (!cfg)
        return 2;
    if (other_path && !other_rules && !(other = load_other(other_path))) {
        asw_config_destroy(cfg);
        return 2;
    }
    log = quiet ? asw_log_new(stderr, ASW_LOG_ERROR) : asw_cli_log(cfg);
    book = asw_rulebook_new(asw_config_settings(cfg)->ruleset);
    char err[512];
    if (rules_path && asw_rulebook_load_file(book, rules_path, err, sizeof err) != 0) {
        fprintf(stderr, "aftersale-worker replay: %s\n", err);
        rc = 2;
        goto done;
    }
    /* The after run: OTHER's changes on -c's base, or OTHER's base with the
     * same changes as before (-r) when it is a properties file. */
    if (other_rules || (other && rules_path)) {
        other_book = asw_rulebook_new(asw_config_settings(other ? other : cfg)->ruleset);
        const char *from = other_rules ? other_path : rules_path;
        if (asw_rulebook_load_file(other_book, from, err, sizeof err) != 0) {
            fprintf(stderr, "aftersale-worker replay: --compare %s\n", err);
            rc = 2;
            goto done;
        }
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
    if (other_path) {
        asw_whatif_summary summary;
        if (asw_replay_compare_books(cfg, asw_config_settings(cfg)->ruleset,
                                     asw_config_settings(other ? other : cfg)->ruleset,
                                     rules_path ? book : NULL, other_book, format, in, out, log,
                                     &summary, err, sizeof err) != 0) {
            fprintf(stderr, "aftersale-worker replay: %s\n", err);
            goto done;
        }
        rc = exit_code && summary.changed ? EXIT_DECISIONS_DIFFER : 0;
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
    if (out && out != stdout && fclose(out) != 0 && rc != 1) {
        fprintf(stderr, "aftersale-worker replay: %s: %s\n", out_path, strerror(errno));
        rc = 1;
    }
    asw_rulebook_destroy(book);
    asw_rulebook_destroy(other_book);
    asw_log_destroy(log);
    asw_config_destroy(other);
    asw_config_destroy(cfg);
    return rc;
}

const asw_cmd asw_replay_cmd = {
    .name = "replay",
    .summary = "the rules over a JSON Lines file of events, outputs as JSON Lines",
    .synopsis = "[-c CONFIG] [-r RULES.jsonl] [-o OUT] [-q]\n"
                "[--compare OTHER [--format FORMAT] [--exit-code]]\n"
                "EVENTS.jsonl|-",
    .description = "Run the rules over a file of events in the JSON Lines form of SPEC section 3\n"
                   "('-' reads stdin) and write every output as one JSON object a line, in\n"
                   "processing order: a Decision per AfterSaleApplied, a RefundRecord per change\n"
                   "of the ledger, a DeadLetter per line that is not a valid event (processing\n"
                   "goes on). A summary of the decisions goes to stderr. The same input and\n"
                   "ruleset always give the same bytes, and the same outputs as the worker.\n"
                   "\n"
                   "With --compare OTHER (what-if), the events run twice, by two independent\n"
                   "processors: under the ruleset of -c (before) and under the one of the\n"
                   "properties file OTHER (after). OTHER is read on the defaults alone, without\n"
                   "the ASW_CFG_* environment; every key in it is checked as -c's are (a bad\n"
                   "one is refused with file:line), but only its rules.* keys are used: state\n"
                   "limits and topic.input come from -c for both runs. The report lists, in\n"
                   "input order, each decision whose outcome, reasons or reservation differ,\n"
                   "with both sides and their ruleset versions, and whether the order had\n"
                   "already diverged earlier (then the change may come from the diverged\n"
                   "state, not from the rules); then a summary: flips, reasons gained and\n"
                   "lost, and the money reserved and refunded in each run. See docs/rules.md.\n"
                   "\n"
                   "With -r RULES.jsonl the events are decided by the ruleset in effect at each\n"
                   "event's time: -c's rules.* keys, then the file's changes (the ruleset\n"
                   "control topic's, from `rules show --format jsonl`). With --compare, -r is\n"
                   "the before run's; OTHER may itself be a ruleset file (its first line is a\n"
                   "JSON object), whose changes then go on -c's keys for the after run -- the\n"
                   "current schedule against a proposed one; a properties file as OTHER gets\n"
                   "-r's changes on its own keys.",
    .options = options,
    .exit_status = "0 done (dead letters included; with --compare, whether or not\n"
                   "decisions differ, unless --exit-code), 1 I/O error, 2 usage or\n"
                   "configuration error, 3 with --compare --exit-code: a decision\n"
                   "differs",
    .run = replay_main,
};
