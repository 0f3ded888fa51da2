/*
 * cmd.c -- the command table and what is made from it: each command's
 * getopt_long tables, its `-h` text, the command list, and the manual page
 * aftersale-worker(1) (troff, generated at build time by `help --man`).
 * Also the two commands that only report: `version` and `help`.
 */
#include "asw/cmd.h"

#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Both come from CMakeLists.txt: the project's version, and avro-c's as
 * pkg-config reported it when this was built. */
#ifndef ASW_VERSION
#error "ASW_VERSION is defined by the build"
#endif
#ifndef ASW_AVRO_BUILD_VERSION
#error "ASW_AVRO_BUILD_VERSION is defined by the build"
#endif

#define PROG     "aftersale-worker"
#define PROG_MAN "aftersale\\-worker" /* the same in troff */

const asw_cmd *const asw_cmds[] = {
    &asw_run_cmd,      &asw_replay_cmd, &asw_produce_cmd, &asw_consume_cmd, &asw_rules_cmd,
    &asw_generate_cmd, &asw_demo_cmd,   &asw_version_cmd, &asw_help_cmd,    NULL};

/* What -h / --help says; every command takes it. */
static const asw_cmd_option help_option = {'h', "help", NULL, "print this help and exit"};

int asw_cmd_parse_int(const char *s, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

const asw_cmd *asw_cmd_find(const char *name) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

/* cmd's i-th option, counting -h / --help last; NULL past the end. */
static const asw_cmd_option *option_at(const asw_cmd *cmd, size_t i) {
    size_t n = 0;
    while (cmd->options && cmd->options[n].key)
        n++;
    if (i < n)
        return &cmd->options[i];
    return i == n ? &help_option : NULL;
}

/* ---- parsing ---- */

void asw_cmd_parser_init(asw_cmd_parser *p, const asw_cmd *cmd) {
    size_t n = 0, s = 0;
    for (const asw_cmd_option *o; (o = option_at(cmd, n)); n++) {
        if (n > ASW_CMD_MAX_OPTIONS || (o->key == 'h' && o != &help_option)) {
            fprintf(stderr, "%s %s: option table: more than %d options, or a second -h\n", PROG,
                    cmd->name, ASW_CMD_MAX_OPTIONS);
            abort();
        }
        p->longopts[n] =
            (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->key};
        if (o->key < ASW_CMD_LONG_ONLY) {
            p->shortopts[s++] = (char)o->key;
            if (o->arg)
                p->shortopts[s++] = ':';
        }
    }
    p->longopts[n] = (struct option){NULL, 0, NULL, 0};
    p->shortopts[s] = '\0';
    optind = 0; /* full re-initialisation: a command may have parsed before */
}

int asw_cmd_parser_next(asw_cmd_parser *p, int argc, char **argv) {
    return getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
}

/* ---- help ---- */

/* "-c, --config FILE" or "    --raw": the option as the help names it. */
static int option_label(const asw_cmd_option *o, char *buf, size_t len) {
    char shortname[5] = "    ";
    if (o->key < ASW_CMD_LONG_ONLY)
        snprintf(shortname, sizeof shortname, "-%c, ", o->key);
    return snprintf(buf, len, "%s--%s%s%s", shortname, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
}

/* Each line of text after the first starts `indent` columns in. */
static void print_indented(FILE *out, const char *text, int indent) {
    for (const char *nl; (nl = strchr(text, '\n')); text = nl + 1)
        fprintf(out, "%.*s\n%*s", (int)(nl - text), text, indent, "");
    fprintf(out, "%s\n", text);
}

/* "usage: aftersale-worker NAME SYNOPSIS", its continuation lines aligned. */
static void print_usage_line(const asw_cmd *cmd, FILE *out) {
    int head = fprintf(out, "usage: %s %s%s", PROG, cmd->name, cmd->synopsis[0] ? " " : "");
    print_indented(out, cmd->synopsis, head);
}

void asw_cmd_print_help(const asw_cmd *cmd, FILE *out) {
    char label[96];
    print_usage_line(cmd, out);
    fprintf(out, "\n%s\n\noptions:\n", cmd->description);
    int width = 20;
    const asw_cmd_option *o;
    for (size_t i = 0; (o = option_at(cmd, i)); i++) {
        int w = option_label(o, label, sizeof label);
        if (w > width)
            width = w;
    }
    for (size_t i = 0; (o = option_at(cmd, i)); i++) {
        option_label(o, label, sizeof label);
        fprintf(out, "  %-*s  ", width, label);
        print_indented(out, o->help, width + 4);
    }
    int head = fprintf(out, "\nexit status: ") - 1; /* the column after it */
    print_indented(out, cmd->exit_status, head);
}

void asw_cmd_print_overview(FILE *out) {
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", PROG);
    for (const asw_cmd *const *c = asw_cmds; *c; c++)
        fprintf(out, "  %-10s %s\n", (*c)->name, (*c)->summary);
    fprintf(out, "\nOptions: '%s <command> -h'; all of it: 'man %s'.\n", PROG, PROG);
}

int asw_cmd_usage(const asw_cmd *cmd, int key) {
    if (key == 'h') {
        asw_cmd_print_help(cmd, stdout);
        return 0;
    }
    print_usage_line(cmd, stderr);
    fprintf(stderr, "'%s %s -h' lists the options.\n", PROG, cmd->name);
    return 2;
}

/* ---- the manual page ---- */

/* One character into troff: backslashes and hyphens escaped (a bare '-' may
 * print as a hyphen that cannot be pasted into a shell). */
static void man_char(FILE *out, char c) {
    if (c == '\\')
        fputs("\\e", out);
    else if (c == '-')
        fputs("\\-", out);
    else
        fputc(c, out);
}

/* Text inside a line (an option's name): escaped, nothing else. */
static void man_inline(FILE *out, const char *text) {
    for (const char *c = text; *c; c++)
        man_char(out, *c == '\n' ? ' ' : *c);
}

/*
 * Lines of text into troff: each line's leading blanks dropped and a
 * leading '.' or '\'' guarded, so that no line turns into a request; a
 * blank line starts a new paragraph. Ends with a newline.
 */
static void man_text(FILE *out, const char *text) {
    bool line_start = true;
    for (const char *c = text; *c; c++) {
        if (line_start) {
            while (*c == ' ')
                c++;
            if (*c == '\n') {
                fputs(".PP\n", out);
                continue;
            }
            if (!*c)
                break;
            if (*c == '.' || *c == '\'')
                fputs("\\&", out);
        }
        man_char(out, *c);
        line_start = *c == '\n';
    }
    if (!line_start)
        fputc('\n', out);
}

static void man_command(FILE *out, const asw_cmd *cmd) {
    fprintf(out, ".SS %s\n.B " PROG_MAN " %s\n", cmd->name, cmd->name);
    man_text(out, cmd->synopsis);
    fputs(".PP\n", out);
    man_text(out, cmd->description);
    const asw_cmd_option *o;
    for (size_t i = 0; (o = option_at(cmd, i)); i++) {
        fputs(".TP\n", out);
        if (o->key < ASW_CMD_LONG_ONLY)
            fprintf(out, "\\fB\\-%c\\fR, ", o->key);
        fputs("\\fB\\-\\-", out);
        man_inline(out, o->name);
        if (o->arg) {
            fputs("\\fR \\fI", out);
            man_inline(out, o->arg);
        }
        fputs("\\fR\n", out);
        man_text(out, o->help);
    }
    fputs(".PP\nExit status: ", out);
    man_text(out, cmd->exit_status);
}

void asw_cmd_print_man(FILE *out) {
    fputs(".\\\" Generated by `" PROG " help --man` from the command table (include/asw/cmd.h);\n"
          ".\\\" edit the table, not this page.\n"
          ".TH AFTERSALE\\-WORKER 1 \"\" \"" PROG_MAN " " ASW_VERSION "\" \"User Commands\"\n"
          ".nh\n.ad l\n" /* no hyphenation, no justification: options stay pasteable */
          ".SH NAME\n" PROG_MAN " \\- decide repeated after\\-sale applications against each\n"
          "order's quota and refund ledger, exactly once on Kafka\n"
          ".SH SYNOPSIS\n"
          ".B " PROG_MAN "\n\\fIcommand\\fR [\\fIoptions\\fR]\n",
          out);
    fputs(".SH DESCRIPTION\n", out);
    man_text(out, "aftersale-worker decides after-sale applications (refund, return, exchange)\n"
                  "filed more than once on the same order, against each order's quota of\n"
                  "applications and its refund ledger, and publishes accept/reject decisions\n"
                  "with machine-readable reasons and a refund record for every change of the\n"
                  "ledger, exactly once, on Kafka transactions. The offline replay runs the\n"
                  "same rules over a JSON Lines file.\n");
    fputs(".SH COMMANDS\n", out);
    for (const asw_cmd *const *c = asw_cmds; *c; c++)
        man_command(out, *c);
    fputs(".SH CONFIGURATION\n", out);
    man_text(out, "One Java-properties file (-c), shared by every command: the worker's own\n"
                  "keys (rules.*, topic.*, application.id, worker.id, commit.*, state.*,\n"
                  "log.level, ...) and any librdkafka property, which passes through. An\n"
                  "unknown key or a bad value is refused with file:line: message.\n");
    fputs(".SH ENVIRONMENT\n.TP\n.B ASW_CFG_\\fIKEY\\fR\n", out);
    man_text(out, "overrides configuration key KEY, written in capitals with '.' as '_'\n"
                  "and '_' as '__' (ASW_CFG_SASL_PASSWORD sets sasl.password).\n");
    fputs(".SH EXIT STATUS\n", out);
    man_text(out, "0 success; 1 a runtime or fatal Kafka error, with a one-line reason on\n"
                  "stderr; 2 a usage or configuration error. Each command above says what\n"
                  "its statuses mean for it.\n");
    fputs(".SH FILES\nUnder the installation prefix (/usr for the Debian package):\n", out);
    static const char *const files[][2] = {
        {"share/aftersale-worker/schemas/*.avsc",
         "the Avro schemas of every input event and output, as compiled into the binary\n"
         "(for other producers and consumers of the topics)"},
        {"share/aftersale-worker/examples/",
         "worker.properties, an example configuration for a real cluster; sample.jsonl,\n"
         "sample.properties and sample.expected.jsonl, a sample stream, its ruleset and\n"
         "its replay"},
        {"share/doc/aftersale-worker/", "the README and the documentation"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        fputs(".TP\n.I ", out);
        man_inline(out, files[i][0]);
        fputc('\n', out);
        man_text(out, files[i][1]);
    }
    fputs(".SH SEE ALSO\n", out);
    man_text(out, "README.md and docs/ in share/doc/aftersale-worker: configuration.md, rules.md,\n"
                  "tools.md, wire-format.md.\n");
}

/* ---- version and help ---- */

static int version_main(int argc, char **argv) {
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_version_cmd);
    int opt = asw_cmd_parser_next(&p, argc, argv);
    if (opt != -1) /* -h, or an option it does not take */
        return asw_cmd_usage(&asw_version_cmd, opt);
    if (optind != argc) {
        fprintf(stderr, "%s version: unexpected argument '%s'\n", PROG, argv[optind]);
        return asw_cmd_usage(&asw_version_cmd, '?');
    }
    printf("%s %s\n", PROG, ASW_VERSION);
    printf("librdkafka %s (running; built with %d.%d.%d)\n", rd_kafka_version_str(),
           (RD_KAFKA_VERSION >> 24) & 0xff, (RD_KAFKA_VERSION >> 16) & 0xff,
           (RD_KAFKA_VERSION >> 8) & 0xff);
    printf("jansson %s (running; built with %s)\n", jansson_version_str(), JANSSON_VERSION);
    printf("avro-c %s (built with; avro-c has no call that reports the running version)\n",
           ASW_AVRO_BUILD_VERSION);
    return 0;
}

const asw_cmd asw_version_cmd = {
    .name = "version",
    .summary = "the version, and the library versions it runs with",
    .synopsis = "",
    .description = "Print the version of aftersale-worker, then of each library: librdkafka and\n"
                   "jansson as the running process reports them (and the version built with), and\n"
                   "avro-c as it was when aftersale-worker was built, since avro-c has no call\n"
                   "that reports its version. '--version' is the same command.",
    .options = NULL,
    .exit_status = "0",
    .run = version_main,
};

enum { OPT_MAN = ASW_CMD_LONG_ONLY };
static const asw_cmd_option help_options[] = {
    {OPT_MAN, "man", NULL, "print the manual page (troff) instead: every command"}, {0}};

static int help_main(int argc, char **argv) {
    bool man = false;
    asw_cmd_parser p;
    asw_cmd_parser_init(&p, &asw_help_cmd);
    int opt;
    while ((opt = asw_cmd_parser_next(&p, argc, argv)) != -1) {
        switch (opt) {
        case OPT_MAN:
            man = true;
            break;
        default:
            return asw_cmd_usage(&asw_help_cmd, opt);
        }
    }
    if (optind < argc - 1 || (man && optind != argc)) {
        fprintf(stderr, "%s help: --man or one COMMAND\n", PROG);
        return asw_cmd_usage(&asw_help_cmd, '?');
    }
    if (man) {
        asw_cmd_print_man(stdout);
        return 0;
    }
    if (optind == argc) {
        asw_cmd_print_overview(stdout);
        return 0;
    }
    const asw_cmd *cmd = asw_cmd_find(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "%s help: unknown command '%s'\n", PROG, argv[optind]);
        asw_cmd_print_overview(stderr);
        return 2;
    }
    asw_cmd_print_help(cmd, stdout);
    return 0;
}

const asw_cmd asw_help_cmd = {
    .name = "help",
    .summary = "this list, or a command's help",
    .synopsis = "[--man | COMMAND]",
    .description = "Print the list of commands, or with COMMAND that command's help (what\n"
                   "'aftersale-worker COMMAND -h' prints). '--help' and '-h' are the same command.",
    .options = help_options,
    .exit_status = "0, or 2 for an unknown command",
    .run = help_main,
};
