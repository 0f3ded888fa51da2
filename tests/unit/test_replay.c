/*
 * test_replay.c -- the offline replay's reading of its input: line numbers,
 * blank lines, CRLF, a last line without a newline, and lines longer than
 * ASW_REPLAY_LINE_MAX (dead letters, not kept).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/config.h"
#include "asw/replay.h"

static const char event[] =
    "{\"type\": \"AfterSaleApplied\", \"event_id\": \"ev-1\", \"order_id\": \"O1\", "
    "\"event_time\": 1700000060000, \"aftersale_id\": \"A1\", \"sku_order_id\": \"O1-1\", "
    "\"shop_id\": \"s1\", \"initiator\": \"BUYER\", \"aftersale_type\": "
    "\"REFUND_ONLY_SHIPPED\", \"apply_amount\": 3000, \"order\": {\"order_status\": "
    "\"SHIPPED\", \"goods_type\": \"PHYSICAL\", \"cross_border\": false, "
    "\"order_paid_amount\": 10000, \"sku_paid_amount\": 10000, \"aftersale_deadline\": "
    "1701296000000}}";

/* Replay `in` (len bytes); the output in a new string (caller frees). */
static char *replay(const char *in, size_t len, asw_replay_stats *st) {
    asw_config *cfg = asw_config_new();
    asw_log *log = asw_log_new(stderr, ASW_LOG_ERROR);
    FILE *f = fmemopen((void *)in, len, "r");
    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    char err[256];
    cr_assert_eq(asw_replay_run(cfg, f, o, log, st, err, sizeof err), 0, "%s", err);
    fclose(f);
    fclose(o);
    asw_log_destroy(log);
    asw_config_destroy(cfg);
    return out;
}

Test(replay, a_line_longer_than_the_maximum_is_a_dead_letter_and_the_next_lines_go_on) {
    size_t big = 3 * (size_t)ASW_REPLAY_LINE_MAX + 12345;
    size_t cap = big + 4 * sizeof event + 16;
    char *in = malloc(cap);
    size_t n = 0;
    n += (size_t)sprintf(in + n, "%s\n", event);
    memset(in + n, '{', big);
    n += big;
    in[n++] = '\n';
    n += (size_t)sprintf(in + n, "\r\n%s\r\n%s", event, event); /* blank, CRLF, no newline */
    asw_replay_stats st;
    char *out = replay(in, n, &st);
    free(in);
    cr_assert_eq(st.lines, 5);
    cr_assert_eq(st.events, 4, "the blank line is not a record");
    cr_assert_eq(st.dead_letters, 1, "%s", out);
    char want[160];
    snprintf(want, sizeof want,
             "{\"type\":\"DeadLetter\",\"line\":2,\"error\":\"line of %zu bytes is longer than the "
             "maximum of %d\",\"value\":\"\"}\n",
             big, ASW_REPLAY_LINE_MAX);
    cr_assert(strstr(out, want) != NULL, "no '%s' in\n%.2000s", want, out);
    cr_assert_lt(strlen(out), 10000, "the long line's bytes must not be in the output");
    /* The same event three times: decided once, then re-emitted as duplicates. */
    cr_assert_eq(st.decisions, 3, "%s", out);
    cr_assert_eq(st.duplicates, 2, "%s", out);
    free(out);
}

Test(replay, a_line_of_exactly_the_maximum_is_parsed_not_refused_for_its_length) {
    size_t len = ASW_REPLAY_LINE_MAX;
    char *in = malloc(len + 1);
    memset(in, ' ', len);
    in[0] = '[';
    in[len - 1] = ']';
    in[len] = '\n';
    asw_replay_stats st;
    char *out = replay(in, len + 1, &st);
    free(in);
    cr_assert_eq(st.dead_letters, 1);
    cr_assert(strstr(out, "longer than the maximum") == NULL, "%.300s", out);
    free(out);
}
