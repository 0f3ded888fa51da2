/*
 * log.h -- the one logging module: levels, printf-checked formats, one line
 * per event in key=value form ("level=info event=replay_done records=12").
 *
 * With log.format = json each line is one JSON object instead, with the
 * same keys ({"level":"info","event":"replay_done","records":12}).
 *
 * A logger is an object passed explicitly (no global logger); librdkafka's
 * logs are routed into the worker's logger (event=librdkafka). Callers must never pass
 * secrets: the logger does not know which values are secret.
 */
#ifndef ASW_LOG_H
#define ASW_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum asw_log_level {
    ASW_LOG_DEBUG = 0,
    ASW_LOG_INFO,
    ASW_LOG_WARN,
    ASW_LOG_ERROR,
    ASW_LOG_FATAL
} asw_log_level;

typedef struct asw_log asw_log;

/* A logger writing lines at `min` or above to `out` (not owned). */
asw_log *asw_log_new(FILE *out, asw_log_level min);
/* asw_log_destroy(NULL) is a no-op. */
void asw_log_destroy(asw_log *log);

/* One JSON object per line instead of key=value pairs: "level" and
 * "event" first, then each pair of the format in order; a bare integer
 * value is a JSON number, every other value a string (a quoted value
 * without its quotes). Bytes that are not UTF-8 become U+FFFD. */
void asw_log_set_json(asw_log *log, bool json);

/* Parse "debug" / "info" / "warn" / "error". Returns 0 or -1. */
int asw_log_level_parse(const char *s, asw_log_level *out);

/*
 * Write one line: "level=<level> event=<event> " followed by the formatted
 * key=value pairs and a newline. A NULL log writes nothing.
 */
__attribute__((format(printf, 4, 5))) void asw_log_write(asw_log *log, asw_log_level level,
                                                         const char *event, const char *fmt, ...);

#endif /* ASW_LOG_H */
