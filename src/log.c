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
    bool json;
};

static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

asw_log *asw_log_new(FILE *out, asw_log_level min) {
    asw_log *log = asw_malloc(sizeof *log);
    log->out = out;
    log->min = min;
    log->json = false;
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

void asw_log_set_json(asw_log *log, bool json) {
    log->json = json;
}

/* ---- JSON lines ---- */

/* Length of the UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || len > n || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((len == 3 && c == 0xE0 && s[1] < 0xA0) || (len == 3 && c == 0xED && s[1] >= 0xA0) ||
        (len == 4 && c == 0xF0 && s[1] < 0x90) || (len == 4 && c == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

static void json_string(FILE *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                fputs("\\ufffd", out);
                i++;
            } else {
                fwrite(p + i, 1, len, out);
                i += len;
            }
        }
    }
    fputc('"', out);
}

static bool key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Does s start with "key="? */
static bool at_key(const char *s) {
    size_t i = 0;
    while (key_char(s[i]))
        i++;
    return i > 0 && s[i] == '=';
}

static bool is_integer(const char *s, size_t n) {
    size_t i = n > 0 && s[0] == '-';
    if (i == n || n - i > 18 || (s[i] == '0' && n - i > 1))
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The key=value text of a line as JSON members. A quoted value ends at the
 * quote followed by the end or by " key=", so a quote inside it is kept. */
static void json_members(FILE *out, const char *s) {
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t k = i;
        while (i < n && key_char(s[i]))
            i++;
        if (i == k || i >= n || s[i] != '=') { /* not a pair: the rest as text */
            fputs(",\"text\":", out);
            json_string(out, s + k, n - k);
            return;
        }
        size_t klen = i - k, v = ++i, vlen;
        if (i < n && s[i] == '"') {
            size_t j = i + 1;
            while (j < n &&
                   !(s[j] == '"' && (j + 1 == n || (s[j + 1] == ' ' && at_key(s + j + 2)))))
                j++;
            v = i + 1;
            vlen = j - v;
            i = j < n ? j + 1 : n;
        } else {
            while (i < n && s[i] != ' ')
                i++;
            vlen = i - v;
        }
        fputc(',', out);
        json_string(out, s + k, klen);
        fputc(':', out);
        if (s[v - 1] != '"' && is_integer(s + v, vlen))
            fwrite(s + v, 1, vlen, out);
        else
            json_string(out, s + v, vlen);
    }
}

void asw_log_write(asw_log *log, asw_log_level level, const char *event, const char *fmt, ...) {
    if (!log || level < log->min)
        return;
    char stack[1024], *text = stack;
    text[0] = '\0';
    if (fmt && fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(stack, sizeof stack, fmt, ap);
        va_end(ap);
        if (len >= (int)sizeof stack) {
            text = asw_malloc((size_t)len + 1);
            va_start(ap, fmt);
            vsnprintf(text, (size_t)len + 1, fmt, ap);
            va_end(ap);
        }
    }
    /* One line at a time; flockfile keeps threads' lines whole. */
    flockfile(log->out);
    if (log->json) {
        fprintf(log->out, "{\"level\":\"%s\",\"event\":", level_names[level]);
        json_string(log->out, event, strlen(event));
        json_members(log->out, text);
        fputs("}\n", log->out);
    } else {
        fprintf(log->out, "level=%s event=%s%s%s\n", level_names[level], event, text[0] ? " " : "",
                text);
    }
    fflush(log->out);
    funlockfile(log->out);
    if (text != stack)
        free(text);
}
