/*
 * cmd.h -- the subcommands as one table. Each command is written down once:
 * its name, a one-line summary, its synopsis and description, its options
 * and its exit status, and the function that runs it. The getopt_long
 * tables a command parses with, its `-h` text, the command list and the
 * manual page are all made from that one definition, so what a command
 * accepts and what its help says cannot drift apart.
 *
 * The commands live in src/cmd/, built into the asw_cmd library that only
 * the executable (and the unit tests of the commands) link: the library the
 * rest links, asw_io, has no command-line code. Each command parses its
 * options and calls the module that does the work (asw_worker_*,
 * asw_replay_run, asw_tools_produce, asw_demo_run, ...).
 */
#ifndef ASW_CMD_H
#define ASW_CMD_H

#include <getopt.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An option no letter stands for gets a key from here up. */
#define ASW_CMD_LONG_ONLY 256
/* Every command takes -h / --help on top of its own options; this many at most. */
#define ASW_CMD_MAX_OPTIONS 15

/*
 * One option of a command. `key` is what the parser returns for it: the
 * option's letter (`-c`), or ASW_CMD_LONG_ONLY + n for an option with a
 * long name only. `arg` is the argument's name in the help ("FILE"), or
 * NULL for an option that takes none. `help` may hold '\n' where the help
 * text goes on a new line. A command's list ends with an entry of key 0.
 */
typedef struct asw_cmd_option {
    int key;
    const char *name; /* the long name, without "--" */
    const char *arg;
    const char *help;
} asw_cmd_option;

/*
 * One subcommand. `synopsis` is what follows "aftersale-worker NAME" in the
 * usage line ('\n' starts a continuation line); `description` is one or
 * more paragraphs of lines under 80 columns, a blank line between
 * paragraphs. `run` gets argv[0] = the command's name and returns the exit
 * status.
 */
typedef struct asw_cmd {
    const char *name;
    const char *summary;
    const char *synopsis;
    const char *description;
    const asw_cmd_option *options;
    const char *exit_status;
    int (*run)(int argc, char **argv);
} asw_cmd;

/* The commands, each defined beside the code that runs it. */
extern const asw_cmd asw_run_cmd;      /* src/cmd/run.c */
extern const asw_cmd asw_replay_cmd;   /* src/cmd/replay.c */
extern const asw_cmd asw_produce_cmd;  /* src/cmd/tools.c */
extern const asw_cmd asw_consume_cmd;  /* src/cmd/tools.c */
extern const asw_cmd asw_rules_cmd;    /* src/cmd/rules.c */
extern const asw_cmd asw_generate_cmd; /* src/cmd/generate.c */
extern const asw_cmd asw_demo_cmd;     /* src/cmd/demo.c */
extern const asw_cmd asw_version_cmd;  /* src/cmd/cmd.c */
extern const asw_cmd asw_help_cmd;     /* src/cmd/cmd.c */

/* The table, in the order the help lists it, ended by NULL. */
extern const asw_cmd *const asw_cmds[];

/* Parse a whole decimal integer in [min, max] (an option's argument).
 * Returns 0 with *out set, or -1 (*out untouched). */
int asw_cmd_parse_int(const char *s, long long min, long long max, long long *out);

/* The command called `name`, or NULL. */
const asw_cmd *asw_cmd_find(const char *name);

/*
 * getopt_long's tables for one command, made from its options plus -h /
 * --help (key 'h'). Lives on the caller's stack for one parse.
 */
typedef struct asw_cmd_parser {
    struct option longopts[ASW_CMD_MAX_OPTIONS + 2];
    char shortopts[2 * ASW_CMD_MAX_OPTIONS + 3];
} asw_cmd_parser;

/* Fill p from cmd's options and reset getopt (optind = 0), so that a
 * command may parse after another one has. Aborts if cmd has more than
 * ASW_CMD_MAX_OPTIONS options: a programming error the unit tests catch. */
void asw_cmd_parser_init(asw_cmd_parser *p, const asw_cmd *cmd);

/* getopt_long over argv with p's tables: the next option's key, '?' for an
 * unknown option or a missing argument (getopt has printed why), -1 at the
 * end of the options (optind is then the first operand). */
int asw_cmd_parser_next(asw_cmd_parser *p, int argc, char **argv);

/*
 * What every parser does with -h and with what it does not accept: for
 * key 'h', prints cmd's help to stdout and returns 0; for any other key,
 * prints the usage line and where to find the rest to stderr and returns 2.
 */
int asw_cmd_usage(const asw_cmd *cmd, int key);

/* cmd's whole help, as `-h` prints it. */
void asw_cmd_print_help(const asw_cmd *cmd, FILE *out);

/* The list of commands with their summaries, as `help` prints it. */
void asw_cmd_print_overview(FILE *out);

/* The manual page aftersale-worker(1), in troff (man macros), every
 * command in it. */
void asw_cmd_print_man(FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_CMD_H */
