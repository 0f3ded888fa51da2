/*
 * test_cmd.c -- the command table: every command answers -h with its help
 * and status 0; every option its help lists is one its parser takes (the
 * getopt tables are made from the same list, so the parser takes no other);
 * the manual page and the command list have every command and option; and
 * `version` names the libraries it runs with.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asw/cmd.h"

/* What a command printed: its stdout and stderr, NUL-terminated. */
typedef struct captured {
    int rc;
    char *out;
    char *err;
} captured;

static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    char *s = malloc((size_t)n + 1);
    rewind(f);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Run cmd on the NULL-terminated args (args[0] is its name) with stdout
 * and stderr in files. Criterion runs each test in a process of its own,
 * so moving the descriptors disturbs no other test. */
static captured run(const asw_cmd *cmd, char **args) {
    int argc = 0;
    while (args[argc])
        argc++;
    FILE *out = tmpfile(), *err = tmpfile();
    cr_assert(out && err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    captured c = {.rc = cmd->run(argc, args)};
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    fseek(out, 0, SEEK_END);
    fseek(err, 0, SEEK_END);
    c.out = slurp(out);
    c.err = slurp(err);
    return c;
}

static void captured_free(captured *c) {
    free(c->out);
    free(c->err);
}

/* Whether text's first line is in s (its later lines are indented there). */
static bool has_first_line(const char *s, const char *text) {
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(text, "\n"), text);
    return strstr(s, line) != NULL;
}

static size_t option_count(const asw_cmd *cmd) {
    size_t n = 0;
    while (cmd->options && cmd->options[n].key)
        n++;
    return n;
}

Test(cmd, every_command_answers_h_with_its_help_naming_every_option) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        const asw_cmd *cmd = *c;
        captured r = run(cmd, (char *[]){(char *)cmd->name, "-h", NULL});
        cr_assert_eq(r.rc, 0, "%s -h exited %d", cmd->name, r.rc);
        cr_assert_str_empty(r.err, "%s -h wrote to stderr: %s", cmd->name, r.err);
        char want[128];
        snprintf(want, sizeof want, "usage: aftersale-worker %s", cmd->name);
        cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s -h: %s", cmd->name, r.out);
        for (size_t i = 0; i < option_count(cmd); i++) {
            const asw_cmd_option *o = &cmd->options[i];
            if (o->key < ASW_CMD_LONG_ONLY)
                snprintf(want, sizeof want, "-%c, --%s%s%s", o->key, o->name, o->arg ? " " : "",
                         o->arg ? o->arg : "");
            else
                snprintf(want, sizeof want, "    --%s%s%s", o->name, o->arg ? " " : "",
                         o->arg ? o->arg : "");
            cr_assert(strstr(r.out, want), "%s -h does not list '%s'", cmd->name, want);
            cr_assert(has_first_line(r.out, o->help), "%s -h does not say what --%s does",
                      cmd->name, o->name);
        }
        cr_assert(strstr(r.out, "-h, --help"), "%s -h does not list -h", cmd->name);
        cr_assert(has_first_line(r.out, cmd->exit_status), "%s -h has no exit status", cmd->name);
        captured_free(&r);
    }
}

/* No line of text is wider than a terminal's 80 columns. */
static void assert_fits_80_columns(const char *what, const char *text) {
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        cr_assert_leq(n, 80, "%s: a line of %zu columns: %.*s", what, n, (int)n, line);
        line += n + (line[n] == '\n');
    }
}

Test(cmd, every_help_text_fits_80_columns) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        captured h = run(*c, (char *[]){(char *)(*c)->name, "-h", NULL});
        assert_fits_80_columns((*c)->name, h.out);
        captured usage = run(*c, (char *[]){(char *)(*c)->name, "--no-such-option", NULL});
        assert_fits_80_columns((*c)->name, usage.err);
        captured_free(&h);
        captured_free(&usage);
    }
    captured list = run(&asw_help_cmd, (char *[]){"help", NULL});
    assert_fits_80_columns("help", list.out);
    captured_free(&list);
}

Test(cmd, help_command_prints_the_same_help_as_h) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        captured h = run(*c, (char *[]){(char *)(*c)->name, "-h", NULL});
        captured help = run(&asw_help_cmd, (char *[]){"help", (char *)(*c)->name, NULL});
        cr_assert_eq(help.rc, 0);
        cr_assert_str_eq(help.out, h.out);
        captured_free(&h);
        captured_free(&help);
    }
}

/*
 * The reverse of the above: an option the help lists but the command's
 * switch forgot would fall to its default case, a usage error (2). Each
 * option is given before -h, with "1" as its argument (a valid value for
 * every option that takes a number), so a handled one leads to -h and 0.
 */
Test(cmd, every_option_the_help_lists_is_taken_by_the_parser) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        const asw_cmd *cmd = *c;
        for (size_t i = 0; i < option_count(cmd); i++) {
            const asw_cmd_option *o = &cmd->options[i];
            char longname[64], shortname[3] = {'-', (char)o->key, '\0'};
            snprintf(longname, sizeof longname, "--%s", o->name);
            for (int form = 0; form < 2; form++) {
                if (form == 1 && o->key >= ASW_CMD_LONG_ONLY)
                    break;
                char *args[5] = {(char *)cmd->name, form ? shortname : longname};
                int n = 2;
                if (o->arg)
                    args[n++] = "1";
                args[n++] = "-h";
                args[n] = NULL;
                captured r = run(cmd, args);
                cr_assert_eq(r.rc, 0, "%s %s%s -h exited %d: %s", cmd->name, args[1],
                             o->arg ? " 1" : "", r.rc, r.err);
                captured_free(&r);
            }
        }
    }
}

Test(cmd, parser_tables_are_the_option_list_plus_help) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        const asw_cmd *cmd = *c;
        asw_cmd_parser p;
        asw_cmd_parser_init(&p, cmd);
        size_t n = option_count(cmd);
        char shortopts[64] = "";
        for (size_t i = 0; i < n; i++) {
            const asw_cmd_option *o = &cmd->options[i];
            cr_assert_str_eq(p.longopts[i].name, o->name);
            cr_assert_eq(p.longopts[i].has_arg, o->arg ? required_argument : no_argument);
            cr_assert_eq(p.longopts[i].val, o->key);
            cr_assert(o->key < ASW_CMD_LONG_ONLY ? o->key > ' ' && o->key <= '~' : 1);
            for (size_t j = 0; j < i; j++) {
                cr_assert_neq(cmd->options[j].key, o->key, "%s: key used twice", cmd->name);
                cr_assert_str_neq(cmd->options[j].name, o->name, "%s: --%s twice", cmd->name,
                                  o->name);
            }
            if (o->key < ASW_CMD_LONG_ONLY)
                snprintf(shortopts + strlen(shortopts), sizeof shortopts - strlen(shortopts),
                         "%c%s", o->key, o->arg ? ":" : "");
        }
        cr_assert_str_eq(p.longopts[n].name, "help");
        cr_assert_eq(p.longopts[n].val, 'h');
        cr_assert_null(p.longopts[n + 1].name);
        strcat(shortopts, "h");
        cr_assert_str_eq(p.shortopts, shortopts);
    }
}

Test(cmd, an_unknown_option_is_a_usage_error_on_stderr) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        captured r = run(*c, (char *[]){(char *)(*c)->name, "--no-such-option", NULL});
        cr_assert_eq(r.rc, 2, "%s --no-such-option exited %d", (*c)->name, r.rc);
        cr_assert_str_empty(r.out);
        cr_assert(strstr(r.err, "usage: aftersale-worker"), "%s", r.err);
        captured_free(&r);
    }
}

Test(cmd, man_page_has_every_command_and_option) {
    captured r = run(&asw_help_cmd, (char *[]){"help", "--man", NULL});
    cr_assert_eq(r.rc, 0);
    cr_assert(strncmp(r.out, ".\\\"", 3) == 0);
    cr_assert(strstr(r.out, "\n.TH AFTERSALE\\-WORKER 1 "));
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        char want[160];
        snprintf(want, sizeof want, "\n.SS %s\n", (*c)->name);
        cr_assert(strstr(r.out, want), "no section for %s", (*c)->name);
        for (size_t i = 0; i < option_count(*c); i++) {
            /* the page escapes hyphens: \-\-from\-beginning */
            char name[64] = "", *w = name;
            for (const char *s = (*c)->options[i].name; *s; s++)
                w += sprintf(w, *s == '-' ? "\\-" : "%c", *s);
            snprintf(want, sizeof want, "\\fB\\-\\-%s\\fR", name);
            cr_assert(strstr(r.out, want), "no %s in the man page", want);
        }
    }
    /* No text line may start a request by accident. */
    for (const char *line = r.out; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (*line == '\'')
            cr_assert_fail("a line starts with a quote: %.40s", line);
    captured_free(&r);
}

Test(cmd, overview_lists_every_command) {
    captured r = run(&asw_help_cmd, (char *[]){"help", NULL});
    cr_assert_eq(r.rc, 0);
    for (const asw_cmd *const *c = asw_cmds; *c; c++) {
        char want[64];
        snprintf(want, sizeof want, "\n  %-10s %s\n", (*c)->name, (*c)->summary);
        cr_assert(strstr(r.out, want), "no %s in: %s", (*c)->name, r.out);
    }
    captured_free(&r);
}

Test(cmd, help_of_an_unknown_command_is_a_usage_error) {
    captured r = run(&asw_help_cmd, (char *[]){"help", "nope", NULL});
    cr_assert_eq(r.rc, 2);
    cr_assert(strstr(r.err, "unknown command 'nope'"));
    captured_free(&r);
}

Test(cmd, version_names_the_running_librdkafka_and_jansson_and_the_built_avro_c) {
    captured r = run(&asw_version_cmd, (char *[]){"version", NULL});
    cr_assert_eq(r.rc, 0);
    cr_assert(strncmp(r.out, "aftersale-worker ", 17) == 0, "%s", r.out);
    char want[64];
    snprintf(want, sizeof want, "\nlibrdkafka %s (running;", rd_kafka_version_str());
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "\njansson 2."), "%s", r.out);
    cr_assert(strstr(r.out, "\navro-c 1."), "%s", r.out);
    cr_assert(strstr(r.out, "(built with;"), "avro-c's version is the one built with: %s", r.out);
    captured_free(&r);
}

Test(cmd, find_knows_every_command_by_name_and_nothing_else) {
    for (const asw_cmd *const *c = asw_cmds; *c; c++)
        cr_assert_eq(asw_cmd_find((*c)->name), *c);
    cr_assert_null(asw_cmd_find("nope"));
    cr_assert_null(asw_cmd_find(""));
}

Test(cmd, replay_compare_refuses_a_bad_key_in_other_with_its_file_and_line) {
    char path[] = "/tmp/asw-test-whatif-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char text[] = "rules.application.limit = 2\nrules.multi_refund.shop = s9\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    captured r = run(&asw_replay_cmd, (char *[]){"replay", "--compare", path, "-", NULL});
    unlink(path);
    cr_assert_eq(r.rc, 2, "%s", r.err);
    char want[128];
    snprintf(want, sizeof want, "--compare %s:2: unknown key 'rules.multi_refund.shop'", path);
    cr_assert(strstr(r.err, want), "no '%s' in: %s", want, r.err);
    cr_assert_str_empty(r.out);
    captured_free(&r);
}

Test(cmd, replay_format_and_exit_code_without_compare_are_usage_errors) {
    captured f = run(&asw_replay_cmd, (char *[]){"replay", "--format", "jsonl", "-", NULL});
    cr_assert_eq(f.rc, 2);
    captured e = run(&asw_replay_cmd, (char *[]){"replay", "--exit-code", "-", NULL});
    cr_assert_eq(e.rc, 2);
    captured bad =
        run(&asw_replay_cmd, (char *[]){"replay", "--compare", "x", "--format", "yaml", "-", NULL});
    cr_assert_eq(bad.rc, 2);
    cr_assert(strstr(bad.err, "--format yaml: text or jsonl"), "%s", bad.err);
    captured_free(&f);
    captured_free(&e);
    captured_free(&bad);
}
