/*
 * fuzz_jsonl.c -- untrusted JSON Lines through the replay's parser: the
 * input is an events file, cut into lines as `replay` cuts it (at '\n',
 * trailing '\r' and '\n' trimmed, blank lines skipped).
 *
 * Properties:
 *  - every line gets the verdict, the message and the event of the
 *    jansson-based parser the hand-written one replaced (tests/unit/
 *    jsonl_ref.c; jsonl.c promises exactly that), and the same verdict
 *    without room for a message; a refused line leaves the event cleared;
 *  - a line that parses prints (asw_jsonl_format_event) as one line that
 *    parses again to an equal event and prints again to the same bytes;
 *  - the replay of the whole input (asw_replay_run) succeeds, counts every
 *    non-blank line as an event, and writes one JSON object a line, each
 *    with a "type".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/config.h"
#include "asw/jsonl.h"
#include "asw/replay.h"
#include "fuzz.h"
#include "jsonl_ref.h"

static asw_config *cfg;

static void check_print_back(const asw_event *ev) {
    asw_buf a = ASW_BUF_INIT, b = ASW_BUF_INIT;
    asw_jsonl_format_event(ev, &a);
    FZ_CHECK(a.len > 0 && a.data[a.len - 1] == '\n');
    FZ_CHECK(memchr(a.data, '\n', a.len - 1) == NULL);
    asw_event back;
    char err[256] = "";
    FZ_CHECK(asw_jsonl_parse_event((const char *)a.data, a.len - 1, &back, err, sizeof err) == 0);
    FZ_CHECK(fz_event_equal(ev, &back));
    asw_jsonl_format_event(&back, &b);
    FZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    asw_event_clear(&back);
    asw_buf_free(&a);
    asw_buf_free(&b);
}

static void check_line(const char *line, size_t n) {
    asw_event got, want, quiet;
    char gerr[256] = "", werr[256] = "";
    int g = asw_jsonl_parse_event(line, n, &got, gerr, sizeof gerr);
    int w = ref_parse_event(line, n, &want, werr, sizeof werr);
    FZ_CHECK(g == w);
    FZ_CHECK(asw_jsonl_parse_event(line, n, &quiet, NULL, 0) == g);
    asw_event_clear(&quiet);
    if (g != 0) {
        if (strcmp(gerr, werr) != 0)
            fprintf(stderr, "fuzz: messages differ:\n  jsonl.c: %s\n  jansson: %s\n", gerr, werr);
        FZ_CHECK(strcmp(gerr, werr) == 0);
        FZ_CHECK(fz_event_cleared(&got));
        return;
    }
    FZ_CHECK(fz_event_equal(&got, &want));
    check_print_back(&got);
    asw_event_clear(&got);
    asw_event_clear(&want);
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* The lines of the input as replay.c reads them; returns the non-blank
 * ones. */
static long check_lines(const uint8_t *data, size_t size) {
    long events = 0;
    size_t at = 0;
    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) + 1 : size, n = end - at;
        while (n > 0 && (data[at + n - 1] == '\n' || data[at + n - 1] == '\r'))
            n--;
        if (!blank((const char *)data + at, n)) {
            /* A copy of exactly the line: a read past it is a report. */
            char *line = malloc(n + 1);
            FZ_CHECK(line);
            memcpy(line, data + at, n);
            line[n] = '\0';
            check_line(line, n);
            free(line);
            events++;
        }
        at = end;
    }
    return events;
}

static void check_replay(const uint8_t *data, size_t size, long events) {
    FILE *in = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    FZ_CHECK(in && out);
    asw_replay_stats st;
    char err[256] = "";
    FZ_CHECK(asw_replay_run(cfg, in, out, NULL, &st, err, sizeof err) == 0);
    fclose(in);
    fclose(out);
    FZ_CHECK(st.events == events);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        FZ_CHECK(nl); /* every output ends its line */
        size_t n = (size_t)(nl - (text + at));
        json_error_t jerr;
        json_t *j = json_loadb(text + at, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        FZ_CHECK(j && json_is_object(j) && json_is_string(json_object_get(j, "type")));
        json_decref(j);
        at += n + 1;
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!cfg)
        cfg = asw_config_new();
    long events = check_lines(data, size);
    check_replay(data, size, events);
    return 0;
}
