/*
 * log.c -- key=value log lines; see log.h.
 */
#include "asw/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

struct asw_log {
    FILE *out;
    asw_log_level min;
};

static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

asw_log *asw_log_new(FILE *out, asw_log_level min) {
    asw_log *log = asw_malloc(sizeof *log);
    log->out = out;
    log->min = min;
    return log;
}

void asw_log_destroy(asw_log *log) {
    free(log);
}

int asw_log_level_parse(const char *s, asw_log_level *out) {
    for (int i = ASW_LOG_DEBUG; i <= ASW_LOG_ERROR; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (asw_log_level)i;
            return 0;
        }
    return -1;
}

void asw_log_write(asw_log *log, asw_log_level level, const char *event, const char *fmt, ...) {
    if (!log || level < log->min)
        return;
    /* One fprintf-sized line at a time; flockfile keeps threads' lines whole. */
    flockfile(log->out);
    fprintf(log->out, "level=%s event=%s", level_names[level], event);
    if (fmt && fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        fputc(' ', log->out);
        vfprintf(log->out, fmt, ap);
        va_end(ap);
    }
    fputc('\n', log->out);
    fflush(log->out);
    funlockfile(log->out);
}
