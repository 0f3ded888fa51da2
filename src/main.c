/*
 * main.c -- the aftersale-worker command line: finds the subcommand in the
 * command table (include/asw/cmd.h) and runs it, and is the only place that
 * ends the process, with the status the command returned: 0 ok, 1 runtime
 * or fatal Kafka error, 2 usage or configuration error.
 *
 *   aftersale-worker <command> [options]     'aftersale-worker help' lists them
 */
#include <stdio.h>
#include <string.h>

#include "asw/cmd.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        asw_cmd_print_overview(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0)
        name = "version";
    else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    const asw_cmd *cmd = asw_cmd_find(name);
    if (!cmd) {
        fprintf(stderr, "aftersale-worker: unknown command '%s'\n", name);
        asw_cmd_print_overview(stderr);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
