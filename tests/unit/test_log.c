/*
 * test_log.c -- the logger's two line formats: key=value (the default) and
 * one JSON object per line (log.format = json).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/log.h"

/* Write one line with the logger and return it (caller frees). */
#define LINE(json, ...)                                                                            \
    ({                                                                                             \
        char *buf_ = NULL;                                                                         \
        size_t len_ = 0;                                                                           \
        FILE *f_ = open_memstream(&buf_, &len_);                                                   \
        asw_log *log_ = asw_log_new(f_, ASW_LOG_DEBUG);                                            \
        asw_log_set_json(log_, json);                                                              \
        asw_log_write(log_, __VA_ARGS__);                                                          \
        asw_log_destroy(log_);                                                                     \
        fclose(f_);                                                                                \
        buf_;                                                                                      \
    })

static json_t *parse(const char *line) {
    json_error_t e;
    json_t *o = json_loads(line, 0, &e);
    cr_assert_not_null(o, "not JSON (%s): %s", e.text, line);
    cr_assert(json_is_object(o));
    cr_assert_eq(line[strlen(line) - 1], '\n');
    cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "one line: %s", line);
    return o;
}

Test(log, key_value_lines_are_the_default) {
    char *l = LINE(false, ASW_LOG_WARN, "transaction_abort", "reason=\"%s\" n=%d", "a b", 3);
    cr_assert_str_eq(l, "level=warn event=transaction_abort reason=\"a b\" n=3\n");
    free(l);
    l = LINE(false, ASW_LOG_INFO, "worker_started", NULL);
    cr_assert_str_eq(l, "level=info event=worker_started\n");
    free(l);
}

Test(log, json_lines_carry_the_same_keys_with_integers_as_numbers) {
    char *l = LINE(true, ASW_LOG_INFO, "partitions_assigned", "count=%d restored_orders=%lld id=%s",
                   4, 123456789012LL, "007");
    json_t *o = parse(l);
    cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(o, "event")), "partitions_assigned");
    cr_assert_eq(json_integer_value(json_object_get(o, "count")), 4);
    cr_assert_eq(json_integer_value(json_object_get(o, "restored_orders")), 123456789012LL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "id")), "007", "not a plain integer");
    cr_assert_eq(json_object_size(o), 5);
    json_decref(o);
    free(l);
}

Test(log, json_quoted_values_keep_blanks_quotes_and_equals_signs) {
    char *l = LINE(true, ASW_LOG_ERROR, "librdkafka", "client=%s msg=\"%s\" n=\"%s\"", "c#1",
                   "a \"quoted\" word (x=1)", "5");
    json_t *o = parse(l);
    cr_assert_str_eq(json_string_value(json_object_get(o, "client")), "c#1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "a \"quoted\" word (x=1)");
    cr_assert_str_eq(json_string_value(json_object_get(o, "n")), "5", "quoted: a string");
    json_decref(o);
    free(l);
}

Test(log, json_escapes_control_bytes_and_replaces_what_is_not_utf8) {
    char *l = LINE(true, ASW_LOG_WARN, "dead_letter", "error=\"%s\"",
                   "tab\there \xff\xfe end \xe2\x82\xac");
    json_t *o = parse(l);
    cr_assert_str_eq(json_string_value(json_object_get(o, "error")),
                     "tab\there \xef\xbf\xbd\xef\xbf\xbd end \xe2\x82\xac");
    json_decref(o);
    free(l);
}

Test(log, json_keeps_text_that_is_not_pairs) {
    char *l = LINE(true, ASW_LOG_INFO, "x", "a=1 then free text");
    json_t *o = parse(l);
    cr_assert_eq(json_integer_value(json_object_get(o, "a")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(o, "text")), "then free text");
    json_decref(o);
    free(l);
}

Test(log, long_lines_are_written_whole) {
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *l = LINE(true, ASW_LOG_INFO, "x", "v=%s", big);
    json_t *o = parse(l);
    cr_assert_eq(strlen(json_string_value(json_object_get(o, "v"))), sizeof big - 1);
    json_decref(o);
    free(l);
    l = LINE(false, ASW_LOG_INFO, "x", "v=%s", big);
    cr_assert_eq(strlen(l), strlen("level=info event=x v=") + sizeof big - 1 + 1);
    free(l);
}
