/*
 * cli.h -- what every subcommand does the same way: load the configuration
 * (-c FILE, then ASW_CFG_* environment overrides, then -b BROKERS) and make
 * the logger it asks for.
 */
#ifndef ASW_CLI_H
#define ASW_CLI_H

#include <signal.h>
#include <stddef.h>

#include "asw/config.h"
#include "asw/log.h"

/*
 * The effective configuration: defaults, then `path` (may be NULL), then the
 * environment (`environ`), then `brokers` as bootstrap.servers (may be NULL).
 * Returns the config (caller destroys), or NULL with a one-line message
 * ("file:line: ...", "environment ASW_CFG_X: ...") in err.
 */
asw_config *asw_cli_config(const char *path, const char *brokers, char *err, size_t errlen);

/*
 * asw_cli_config() for the command `cmd` (no -b): on failure prints
 * "aftersale-worker CMD: message" to stderr and returns NULL, a
 * configuration error the command exits 2 for. Caller destroys the config.
 */
asw_config *asw_cli_load_config(const char *cmd, const char *path);

/*
 * Install SIGINT and SIGTERM handlers (sigaction) that set a flag, and return
 * the flag. The flag is the program's one piece of global mutable state.
 */
const volatile sig_atomic_t *asw_cli_stop_on_signals(void);

/* A logger to stderr at the config's log.level. Caller destroys. */
asw_log *asw_cli_log(const asw_config *cfg);

#endif /* ASW_CLI_H */
