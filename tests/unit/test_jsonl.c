/*
 * test_jsonl.c -- the JSON Lines forms: every event type parses from the
 * SPEC's own examples, every malformed line is refused with a message, and
 * outputs print with the SPEC field names in a fixed order.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "jsonl_ref.h"

static int parse(const char *line, asw_event *ev, char *err) {
    return asw_jsonl_parse_event(line, strlen(line), ev, err, 256);
}

Test(jsonl, spec_example_application_parses_every_field) {
    const char *line =
        "{\"type\": \"AfterSaleApplied\", \"event_id\": \"ev-1\", \"order_id\": \"O1\", "
        "\"event_time\": 1700000001000, \"aftersale_id\": \"A1\", \"sku_order_id\": \"O1-1\", "
        "\"shop_id\": \"s1\", \"initiator\": \"BUYER\", \"aftersale_type\": "
        "\"REFUND_ONLY_SHIPPED\", \"apply_amount\": 3000, \"order\": {\"order_status\": "
        "\"SHIPPED\", \"goods_type\": \"PHYSICAL\", \"cross_border\": false, "
        "\"order_paid_amount\": 10000, \"sku_paid_amount\": 10000, \"aftersale_deadline\": "
        "1701296000000}}";
    asw_event ev;
    char err[256];
    cr_assert_eq(parse(line, &ev, err), 0, "%s", err);
    cr_assert_eq(ev.type, ASW_EV_APPLIED);
    cr_assert_str_eq(ev.event_id, "ev-1");
    cr_assert_str_eq(ev.order_id, "O1");
    cr_assert_eq(ev.event_time, 1700000001000);
    cr_assert_str_eq(ev.aftersale_id, "A1");
    cr_assert_str_eq(ev.sku_order_id, "O1-1");
    cr_assert_str_eq(ev.shop_id, "s1");
    cr_assert_eq(ev.initiator, ASW_INIT_BUYER);
    cr_assert_eq(ev.aftersale_type, ASW_AT_REFUND_ONLY_SHIPPED);
    cr_assert_eq(ev.amount, 3000);
    cr_assert_eq(ev.order.order_status, ASW_OS_SHIPPED);
    cr_assert_eq(ev.order.goods_type, ASW_GT_PHYSICAL);
    cr_assert_not(ev.order.cross_border);
    cr_assert_eq(ev.order.order_paid_amount, 10000);
    cr_assert_eq(ev.order.sku_paid_amount, 10000);
    cr_assert(ev.order.has_deadline);
    cr_assert_eq(ev.order.aftersale_deadline, 1701296000000);
    asw_event_clear(&ev);
}

Test(jsonl, spec_example_facts_parse) {
    asw_event ev;
    char err[256];
    cr_assert_eq(parse("{\"type\": \"AfterSaleSucceeded\", \"event_id\": \"ev-2\", \"order_id\": "
                       "\"O1\", \"event_time\": 1700000003000, \"aftersale_id\": \"A1\", "
                       "\"sku_order_id\": \"O1-1\", \"refund_amount\": 3000, "
                       "\"order_paid_amount\": 10000, \"sku_paid_amount\": 10000}",
                       &ev, err),
                 0, "%s", err);
    cr_assert_eq(ev.type, ASW_EV_SUCCEEDED);
    cr_assert_eq(ev.amount, 3000);
    cr_assert_eq(ev.sku_paid_amount, 10000);
    asw_event_clear(&ev);
    cr_assert_eq(parse("{\"type\": \"ExternalRefundRecorded\", \"event_id\": \"ev-3\", "
                       "\"order_id\": \"O1\", \"event_time\": 1700000004000, \"refund_id\": "
                       "\"R9\", \"sku_order_id\": \"O1-1\", \"shop_id\": \"s1\", \"kind\": "
                       "\"SMALL_PAYMENT\", \"amount\": 500, \"order_paid_amount\": 10000, "
                       "\"sku_paid_amount\": 10000}",
                       &ev, err),
                 0, "%s", err);
    cr_assert_eq(ev.type, ASW_EV_EXTERNAL);
    cr_assert_str_eq(ev.refund_id, "R9");
    cr_assert_eq(ev.kind, ASW_EK_SMALL_PAYMENT);
    asw_event_clear(&ev);
}

/* An AfterSaleApplied line whose %s is where the deadline key goes. */
#define APPLIED_FMT                                                                                \
    "{\"type\":\"AfterSaleApplied\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"       \
    "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"s\",\"initiator\":"               \
    "\"MERCHANT_CARD\",\"aftersale_type\":\"EXCHANGE\",\"apply_amount\":0,\"order\":{"             \
    "\"order_status\":\"COMPLETED\",\"goods_type\":\"VIRTUAL\",\"cross_border\":true,"             \
    "\"order_paid_amount\":1,\"sku_paid_amount\":1%s}}"

Test(jsonl, null_or_absent_deadline_means_no_deadline) {
    asw_event ev;
    char err[256];
    char line[1024];
    snprintf(line, sizeof line, APPLIED_FMT, ",\"aftersale_deadline\":null");
    cr_assert_eq(parse(line, &ev, err), 0, "%s", err);
    cr_assert_not(ev.order.has_deadline);
    cr_assert_eq(ev.initiator, ASW_INIT_MERCHANT_CARD);
    asw_event_clear(&ev);
    snprintf(line, sizeof line, APPLIED_FMT, "");
    cr_assert_eq(parse(line, &ev, err), 0, "%s", err);
    cr_assert_not(ev.order.has_deadline);
    asw_event_clear(&ev);
}

Test(jsonl, malformed_lines_are_refused_with_a_reason) {
    static const struct {
        const char *line;
        const char *msg;
    } cases[] = {
        {"not json", "invalid JSON"},
        {"[1,2]", "must be a JSON object"},
        {"{\"event_id\":\"e\"}", "missing field 'type'"},
        {"{\"type\":\"Nope\"}", "unknown symbol 'Nope'"},
        {"{\"type\":\"AfterSaleWithdrawn\",\"event_id\":\"e\",\"order_id\":\"O\","
         "\"event_time\":1,\"sku_order_id\":\"S\"}",
         "missing field 'aftersale_id'"},
        {"{\"type\":\"AfterSaleWithdrawn\",\"event_id\":7,\"order_id\":\"O\","
         "\"event_time\":1,\"sku_order_id\":\"S\",\"aftersale_id\":\"A\"}",
         "field 'event_id' must be a string"},
        {"{\"type\":\"RefundClawedBack\",\"event_id\":\"e\",\"order_id\":\"O\","
         "\"event_time\":1,\"sku_order_id\":\"S\",\"refund_id\":\"R\",\"amount\":1.5}",
         "field 'amount' must be an integer"},
        {"{\"type\":\"AfterSaleClosed\",\"event_id\":\"e\",\"order_id\":\"O\","
         "\"event_time\":1,\"sku_order_id\":\"S\",\"aftersale_id\":\"A\","
         "\"close_reason\":\"BORED\"}",
         "field 'close_reason': unknown symbol 'BORED'"},
        {"{\"type\":\"AfterSaleApplied\",\"event_id\":\"e\",\"order_id\":\"O\","
         "\"event_time\":1,\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"s\","
         "\"initiator\":\"BUYER\",\"aftersale_type\":\"EXCHANGE\",\"apply_amount\":0,"
         "\"order\":[]}",
         "field 'order' must be an object"},
        {"{\"type\":\"AfterSaleWithdrawn\",\"type\":\"AfterSaleClosed\"}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asw_event ev;
        char err[256] = "";
        cr_assert_eq(parse(cases[i].line, &ev, err), -1, "case %zu accepted", i);
        cr_assert(strstr(err, cases[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                  cases[i].msg);
        cr_assert_null(ev.event_id, "a refused line leaves the event cleared");
    }
}

Test(jsonl, events_print_back_to_an_equal_event) {
    const char *line = "{\"type\":\"ExternalRefundRecorded\",\"event_id\":\"e\",\"order_id\":\"O\","
                       "\"event_time\":5,\"refund_id\":\"R\",\"sku_order_id\":\"S\","
                       "\"shop_id\":\"s\",\"kind\":\"HISTORICAL\",\"amount\":7,"
                       "\"order_paid_amount\":9,\"sku_paid_amount\":8}";
    asw_event ev;
    char err[256];
    cr_assert_eq(parse(line, &ev, err), 0);
    asw_buf out = ASW_BUF_INIT;
    asw_jsonl_format_event(&ev, &out);
    cr_assert_eq(out.data[out.len - 1], '\n');
    cr_assert_eq(out.len - 1, strlen(line));
    cr_assert(memcmp(out.data, line, out.len - 1) == 0, "%.*s", (int)out.len, out.data);
    asw_event_clear(&ev);
    asw_buf_free(&out);
}

Test(jsonl, decision_prints_spec_fields_in_order_with_reasons_array) {
    asw_decision d = {.aftersale_id = "A1",
                      .order_id = "O1",
                      .sku_order_id = "S1",
                      .shop_id = "s1",
                      .initiator = ASW_INIT_BUYER,
                      .outcome = ASW_OUT_REJECTED,
                      .reasons = (1u << ASW_R_APPLICATION_IN_PROGRESS) |
                                 (1u << ASW_R_AMOUNT_EXCEEDS_REFUNDABLE),
                      .applications_used = 2,
                      .applications_limit = 5,
                      .order_remaining = -3,
                      .sku_remaining = 4,
                      .multi_refund = true,
                      .sku_prior_refunds = 1,
                      .duplicate = false,
                      .event_time = 9,
                      .ruleset_version = "rs1-x",
                      .source_topic = "t",
                      .source_partition = 2,
                      .source_offset = 77};
    asw_buf out = ASW_BUF_INIT;
    asw_jsonl_format_decision(&d, &out);
    const char *want =
        "{\"type\":\"Decision\",\"aftersale_id\":\"A1\",\"order_id\":\"O1\",\"sku_order_id\":"
        "\"S1\",\"shop_id\":\"s1\",\"initiator\":\"BUYER\",\"outcome\":\"REJECTED\",\"reasons\":"
        "[\"APPLICATION_IN_PROGRESS\",\"AMOUNT_EXCEEDS_REFUNDABLE\"],\"applications_used\":2,"
        "\"applications_limit\":5,\"order_remaining\":-3,\"sku_remaining\":4,\"multi_refund\":"
        "true,\"sku_prior_refunds\":1,\"duplicate\":false,\"event_time\":9,\"ruleset_version\":"
        "\"rs1-x\",\"source_topic\":\"t\",\"source_partition\":2,\"source_offset\":77}\n";
    cr_assert_eq(out.len, strlen(want), "%.*s", (int)out.len, out.data);
    cr_assert(memcmp(out.data, want, out.len) == 0, "%.*s", (int)out.len, out.data);
    asw_buf_free(&out);
}

Test(jsonl, record_prints_null_for_unknown_shop_type_and_kind) {
    asw_refund_record r = {.record_id = "A9",
                           .order_id = "O1",
                           .sku_order_id = "S1",
                           .shop_id = NULL,
                           .origin = ASW_ORIGIN_APPLICATION,
                           .status = ASW_RS_SUCCEEDED,
                           .amount = 5,
                           .unmatched = true};
    asw_buf out = ASW_BUF_INIT;
    asw_jsonl_format_record(&r, &out);
    json_t *o = json_loadb((const char *)out.data, out.len, 0, NULL);
    cr_assert_not_null(o);
    cr_assert(json_is_null(json_object_get(o, "shop_id")));
    cr_assert(json_is_null(json_object_get(o, "aftersale_type")));
    cr_assert(json_is_null(json_object_get(o, "kind")));
    cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "SUCCEEDED");
    cr_assert(json_is_true(json_object_get(o, "unmatched")));
    const char *keys[] = {"type",           "record_id",       "order_id",       "sku_order_id",
                          "shop_id",        "origin",          "aftersale_type", "kind",
                          "status",         "amount",          "order_paid",     "order_refunded",
                          "order_reserved", "order_remaining", "sku_paid",       "sku_refunded",
                          "sku_reserved",   "sku_remaining",   "sku_refunds",    "over_refund",
                          "unmatched",      "event_time"};
    cr_assert_eq(json_object_size(o), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(json_object_get(o, keys[i]), "missing %s", keys[i]);
    json_decref(o);
    asw_buf_free(&out);
}

Test(jsonl, dead_letter_keeps_bytes_that_are_not_utf8_as_hex) {
    asw_buf out = ASW_BUF_INIT;
    asw_jsonl_format_dead_letter(3, "invalid JSON", "\xff\x01", 2, &out);
    json_t *o = json_loadb((const char *)out.data, out.len, 0, NULL);
    cr_assert_not_null(o);
    cr_assert_eq(json_integer_value(json_object_get(o, "line")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(o, "value_hex")), "ff01");
    json_decref(o);
    asw_buf_free(&out);
}

/* What jansson's compact dump makes of an object: the reference the
 * hand-written output writer must equal byte for byte. */
static void dump_ref(json_t *o, asw_buf *out) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_not_null(s);
    asw_buf_append(out, s, strlen(s));
    asw_buf_append(out, "\n", 1);
    free(s);
    json_decref(o);
}

Test(jsonl, outputs_are_the_bytes_jansson_would_write_for_any_string) {
    /* Every ASCII byte (controls, quote, backslash, slash, DEL) and UTF-8
     * of 2, 3 and 4 bytes, U+2028 included. */
    char s[256];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        s[n++] = (char)c;
    const char *utf8 = "\xc2\xa5\xe9\x80\x80\xe2\x80\xa8\xf0\x9f\x98\x80";
    memcpy(s + n, utf8, strlen(utf8) + 1);
    asw_decision d = {.aftersale_id = s,
                      .order_id = "O\"1\\",
                      .sku_order_id = s,
                      .shop_id = NULL,
                      .initiator = ASW_INIT_MERCHANT_CARD,
                      .outcome = ASW_OUT_REJECTED,
                      .reasons = (1u << ASW_R__COUNT) - 1,
                      .applications_used = -3,
                      .applications_limit = 5,
                      .order_remaining = INT64_MIN,
                      .sku_remaining = INT64_MAX,
                      .multi_refund = true,
                      .sku_prior_refunds = 2,
                      .duplicate = true,
                      .event_time = 1700000000000,
                      .ruleset_version = "rs1-00000000",
                      .source_topic = s,
                      .source_partition = 7,
                      .source_offset = 123456789};
    asw_buf got = ASW_BUF_INIT, want = ASW_BUF_INIT;
    asw_jsonl_format_decision(&d, &got);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("Decision"));
    json_object_set_new(o, "aftersale_id", json_string(s));
    json_object_set_new(o, "order_id", json_string(d.order_id));
    json_object_set_new(o, "sku_order_id", json_string(s));
    json_object_set_new(o, "shop_id", json_null());
    json_object_set_new(o, "initiator", json_string("MERCHANT_CARD"));
    json_object_set_new(o, "outcome", json_string("REJECTED"));
    json_t *reasons = json_array();
    for (int r = 0; r < ASW_R__COUNT; r++)
        json_array_append_new(reasons, json_string(asw_reason_name((asw_reason)r)));
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "applications_used", json_integer(-3));
    json_object_set_new(o, "applications_limit", json_integer(5));
    json_object_set_new(o, "order_remaining", json_integer(INT64_MIN));
    json_object_set_new(o, "sku_remaining", json_integer(INT64_MAX));
    json_object_set_new(o, "multi_refund", json_true());
    json_object_set_new(o, "sku_prior_refunds", json_integer(2));
    json_object_set_new(o, "duplicate", json_true());
    json_object_set_new(o, "event_time", json_integer(1700000000000));
    json_object_set_new(o, "ruleset_version", json_string("rs1-00000000"));
    json_object_set_new(o, "source_topic", json_string(s));
    json_object_set_new(o, "source_partition", json_integer(7));
    json_object_set_new(o, "source_offset", json_integer(123456789));
    dump_ref(o, &want);
    cr_assert(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
              "decision:\n%.*s\n%.*s", (int)got.len, got.data, (int)want.len, want.data);

    asw_refund_record r = {.record_id = s,
                           .order_id = "O1",
                           .sku_order_id = "O1-1",
                           .shop_id = s,
                           .origin = ASW_ORIGIN_EXTERNAL,
                           .has_aftersale_type = false,
                           .has_kind = true,
                           .kind = ASW_EK_HISTORICAL,
                           .status = ASW_RS_RECORDED,
                           .amount = -1,
                           .order_paid = 1,
                           .order_refunded = 2,
                           .order_reserved = 3,
                           .order_remaining = 4,
                           .sku_paid = 5,
                           .sku_refunded = 6,
                           .sku_reserved = 7,
                           .sku_remaining = 8,
                           .sku_refunds = 9,
                           .over_refund = true,
                           .unmatched = false,
                           .event_time = 10};
    asw_buf_reset(&got);
    asw_buf_reset(&want);
    asw_jsonl_format_record(&r, &got);
    o = json_object();
    json_object_set_new(o, "type", json_string("RefundRecord"));
    json_object_set_new(o, "record_id", json_string(s));
    json_object_set_new(o, "order_id", json_string("O1"));
    json_object_set_new(o, "sku_order_id", json_string("O1-1"));
    json_object_set_new(o, "shop_id", json_string(s));
    json_object_set_new(o, "origin", json_string("EXTERNAL"));
    json_object_set_new(o, "aftersale_type", json_null());
    json_object_set_new(o, "kind", json_string("HISTORICAL"));
    json_object_set_new(o, "status", json_string("RECORDED"));
    const char *ints[] = {"amount",          "order_paid", "order_refunded", "order_reserved",
                          "order_remaining", "sku_paid",   "sku_refunded",   "sku_reserved",
                          "sku_remaining",   "sku_refunds"};
    for (int i = 0; i < 10; i++)
        json_object_set_new(o, ints[i], json_integer(i == 0 ? -1 : i));
    json_object_set_new(o, "over_refund", json_true());
    json_object_set_new(o, "unmatched", json_false());
    json_object_set_new(o, "event_time", json_integer(10));
    dump_ref(o, &want);
    cr_assert(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
              "record:\n%.*s\n%.*s", (int)got.len, got.data, (int)want.len, want.data);
    asw_buf_free(&got);
    asw_buf_free(&want);
}

/* ---- the parser against jansson ----
 *
 * asw_jsonl_parse_event is a hand-written reader that must accept exactly
 * the lines the jansson-based parser it replaced accepted, into the same
 * event, and refuse the others with the same message. That parser is kept
 * in jsonl_ref.c as the reference (fuzz/fuzz_jsonl.c holds it to the same).
 * Every case runs both and compares the return code, the message and every
 * field of the event.
 */

static long diff_cases;

/* The bytes of a line, printable, for a failure message (static buffer). */
static const char *shown(const char *s, size_t n) {
    static char out[4096];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < sizeof out; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

static bool same_str(const char *a, const char *b) {
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static void same_events(const asw_event *got, const asw_event *want, const char *line, size_t n) {
    const char *l = shown(line, n);
    cr_assert_eq(got->type, want->type, "type: %s", l);
    cr_assert(same_str(got->event_id, want->event_id), "event_id: %s", l);
    cr_assert(same_str(got->order_id, want->order_id), "order_id: %s", l);
    cr_assert(same_str(got->aftersale_id, want->aftersale_id), "aftersale_id: %s", l);
    cr_assert(same_str(got->refund_id, want->refund_id), "refund_id: %s", l);
    cr_assert(same_str(got->sku_order_id, want->sku_order_id), "sku_order_id: %s", l);
    cr_assert(same_str(got->shop_id, want->shop_id), "shop_id: %s", l);
    cr_assert_eq(got->event_time, want->event_time, "event_time: %s", l);
    cr_assert_eq(got->initiator, want->initiator, "initiator: %s", l);
    cr_assert_eq(got->aftersale_type, want->aftersale_type, "aftersale_type: %s", l);
    cr_assert_eq(got->close_reason, want->close_reason, "close_reason: %s", l);
    cr_assert_eq(got->kind, want->kind, "kind: %s", l);
    cr_assert_eq(got->amount, want->amount, "amount: %s", l);
    cr_assert_eq(got->order_paid_amount, want->order_paid_amount, "order_paid_amount: %s", l);
    cr_assert_eq(got->sku_paid_amount, want->sku_paid_amount, "sku_paid_amount: %s", l);
    const asw_order_snapshot *g = &got->order, *w = &want->order;
    cr_assert_eq(g->order_status, w->order_status, "order_status: %s", l);
    cr_assert_eq(g->goods_type, w->goods_type, "goods_type: %s", l);
    cr_assert_eq(g->cross_border, w->cross_border, "cross_border: %s", l);
    cr_assert_eq(g->order_paid_amount, w->order_paid_amount, "order.order_paid_amount: %s", l);
    cr_assert_eq(g->sku_paid_amount, w->sku_paid_amount, "order.sku_paid_amount: %s", l);
    cr_assert_eq(g->has_deadline, w->has_deadline, "has_deadline: %s", l);
    cr_assert_eq(g->aftersale_deadline, w->aftersale_deadline, "aftersale_deadline: %s", l);
}

/* Both parsers on one line: the same verdict, message and event. Returns
 * whether the line was accepted. */
static bool check_same(const char *line, size_t n) {
    asw_event got, want, quiet;
    char gerr[256] = "", werr[256] = "";
    int g = asw_jsonl_parse_event(line, n, &got, gerr, sizeof gerr);
    int w = ref_parse_event(line, n, &want, werr, sizeof werr);
    diff_cases++;
    cr_assert_eq(g, w, "verdicts differ (new %d '%s', jansson %d '%s') on: %s", g, gerr, w, werr,
                 shown(line, n));
    if (g == 0) {
        same_events(&got, &want, line, n);
    } else {
        cr_assert_str_eq(gerr, werr, "messages differ (new '%s', jansson '%s') on: %s", gerr, werr,
                         shown(line, n));
        asw_event zero;
        asw_event_init(&zero);
        cr_assert(memcmp(&got, &zero, sizeof got) == 0, "a refused line leaves the event cleared");
    }
    /* Without room for a message the verdict is the same. */
    cr_assert_eq(asw_jsonl_parse_event(line, n, &quiet, NULL, 0), g, "errlen 0: %s",
                 shown(line, n));
    asw_event_clear(&quiet);
    asw_event_clear(&got);
    asw_event_clear(&want);
    return g == 0;
}

static bool check_str(const char *line) {
    return check_same(line, strlen(line));
}

/* The lines of tests/data/sample.jsonl (ctest sets ASW_SOURCE_DIR). */
static size_t sample_lines(char lines[][1024], size_t max) {
    const char *dir = getenv("ASW_SOURCE_DIR");
    cr_assert_not_null(dir, "ASW_SOURCE_DIR is not set (run through ctest)");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/sample.jsonl", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = 0;
    while (n < max && fgets(lines[n], 1024, f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        n++;
    }
    fclose(f);
    return n;
}

/* Lines as `generate` prints them: one of each event type from seed 3. */
static size_t generated_lines(char lines[][1024], size_t max) {
    asw_gen *g = asw_gen_new(3, 200, 16);
    asw_event ev;
    bool have[ASW_EV__COUNT] = {false};
    size_t n = 0;
    asw_buf b = ASW_BUF_INIT;
    while (n < max && asw_gen_next(g, &ev)) {
        if (!have[ev.type]) {
            have[ev.type] = true;
            asw_buf_reset(&b);
            asw_jsonl_format_event(&ev, &b);
            cr_assert_lt(b.len, 1024);
            memcpy(lines[n], b.data, b.len - 1);
            lines[n][b.len - 1] = '\0';
            n++;
        }
        asw_event_clear(&ev);
    }
    asw_buf_free(&b);
    asw_gen_destroy(g);
    return n;
}

/* A line with escapes, non-ASCII text and unknown keys of every JSON type. */
static const char rich_line[] =
    "{\"x0\":null,\"type\":\"AfterSaleApplied\",\"event_id\":\"e\\\"\\\\\\/\\b\\f\\n\\r\\t\","
    "\"order_id\":\"\\u004f\\u00e9\\u20AC\\uD83D\\uDE00\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
    "\"event_time\":-0,\"\\u0061ftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"\","
    "\"x1\":[1,-2.5e+3,true,false,null,\"s\",{},[],{\"k\":[{\"k\":1}]}],\"x2\":{\"a\":{\"b\":"
    "{}}},\"initiator\":\"BUYER\",\"aftersale_type\":\"EXCHANGE\",\"apply_amount\":"
    "9223372036854775807,\"order\":{\"type\":1,\"order_status\":\"SHIPPED\",\"goods_type\":"
    "\"PHYSICAL\",\"cross_border\":true,\"order_paid_amount\":-9223372036854775808,"
    "\"sku_paid_amount\":0,\"aftersale_deadline\":1,\"x\":1E-400},\"x3\":0.0 ,\r\t\n\"x4\":\"\"}";

/* The base lines of the prefix and mutation tests. */
static size_t base_lines(char lines[][1024], size_t max) {
    static char sample[64][1024];
    size_t ns = sample_lines(sample, 64), n = 0;
    /* the sample's first of each type (spaced JSON) and its broken line */
    bool have[ASW_EV__COUNT + 1] = {false};
    for (size_t i = 0; i < ns && n < max; i++) {
        asw_event ev;
        char err[256];
        int t = asw_jsonl_parse_event(sample[i], strlen(sample[i]), &ev, err, sizeof err) == 0
                    ? (int)ev.type
                    : ASW_EV__COUNT;
        asw_event_clear(&ev);
        if (!have[t]) {
            have[t] = true;
            memcpy(lines[n++], sample[i], 1024);
        }
    }
    n += generated_lines(lines + n, max - n);
    cr_assert_lt(n, max);
    memcpy(lines[n++], rich_line, sizeof rich_line);
    return n;
}

Test(jsonl_diff, every_sample_and_generated_line_parses_as_jansson_parses_it) {
    static char sample[64][1024];
    size_t ns = sample_lines(sample, 64);
    cr_assert_gt(ns, 30);
    for (size_t i = 0; i < ns; i++)
        check_str(sample[i]);
    asw_gen *g = asw_gen_new(3, 3000, 16);
    asw_event ev;
    asw_buf b = ASW_BUF_INIT;
    long accepted = 0;
    while (asw_gen_next(g, &ev)) {
        asw_buf_reset(&b);
        asw_jsonl_format_event(&ev, &b);
        accepted += check_same((const char *)b.data, b.len - 1);
        asw_event_clear(&ev);
    }
    asw_buf_free(&b);
    asw_gen_destroy(g);
    cr_assert_gt(accepted, 20000, "every generated line is an event");
    cr_log_info("jsonl_diff: %ld sample and generated lines", diff_cases);
}

Test(jsonl_diff, every_prefix_of_a_line_is_judged_as_jansson_judges_it) {
    static char lines[32][1024];
    size_t n = base_lines(lines, 32);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        for (size_t k = 0; k <= len; k++)
            check_same(lines[i], k);
    }
    cr_log_info("jsonl_diff: %ld prefixes of %zu lines", diff_cases, n);
}

/* The bytes each position is replaced with, or has inserted before it:
 * every character that means something to JSON, and bytes that start,
 * continue or spoil UTF-8. */
static const char mutation_bytes[] = "{}[]:,\" \\/\t\n\r\0\x01\x1f\x7f"
                                     "019-+.eEu"
                                     "abfnrtlsxADF"
                                     "\x80\xbf\xc0\xc2\xc3\xdf\xe0\xed\xef\xf0\xf4\xf5\xff";

Test(jsonl_diff, every_one_byte_change_is_judged_as_jansson_judges_it) {
    static char lines[32][1024];
    size_t n = base_lines(lines, 32);
    char buf[1100];
    long accepted = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        for (size_t k = 0; k < len; k++) {
            /* replaced */
            for (size_t m = 0; m < sizeof mutation_bytes - 1; m++) {
                memcpy(buf, lines[i], len);
                buf[k] = mutation_bytes[m];
                accepted += check_same(buf, len);
            }
            /* deleted */
            memcpy(buf, lines[i], k);
            memcpy(buf + k, lines[i] + k + 1, len - k - 1);
            accepted += check_same(buf, len - 1);
            /* inserted before */
            for (size_t m = 0; m < sizeof mutation_bytes - 1; m++) {
                memcpy(buf, lines[i], k);
                buf[k] = mutation_bytes[m];
                memcpy(buf + k + 1, lines[i] + k, len - k);
                accepted += check_same(buf, len + 1);
            }
        }
    }
    cr_assert_gt(accepted, 1000, "some changes keep a valid event");
    cr_log_info("jsonl_diff: %ld one-byte changes of %zu lines, %ld accepted", diff_cases, n,
                accepted);
}

Test(jsonl_diff, random_changes_are_judged_as_jansson_judges_them) {
    static char lines[32][1024];
    size_t n = base_lines(lines, 32);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char buf[1100];
    for (int round = 0; round < 60000; round++) {
        size_t i = (size_t)round % n, len = strlen(lines[i]);
        memcpy(buf, lines[i], len);
        int changes = 2 + round % 4;
        for (int c = 0; c < changes && len > 1; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t k = (size_t)(x >> 8) % len;
            char byte =
                (x & 1) ? mutation_bytes[(x >> 40) % (sizeof mutation_bytes - 1)] : (char)(x >> 48);
            switch ((x >> 4) % 3) {
            case 0:
                buf[k] = byte;
                break;
            case 1:
                memmove(buf + k, buf + k + 1, len - k - 1);
                len--;
                break;
            default:
                if (len + 1 < sizeof buf) {
                    memmove(buf + k + 1, buf + k, len - k);
                    buf[k] = byte;
                    len++;
                }
            }
        }
        check_same(buf, len);
    }
    cr_log_info("jsonl_diff: %ld random changes", diff_cases);
}

/* A withdrawn event with %s where more top-level members go. */
#define WITHDRAWN_FMT                                                                              \
    "{%s\"type\":\"AfterSaleWithdrawn\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"   \
    "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\"}"

/* An applied event with %s where more members of "order" go. */
#define APPLIED_ORDER_FMT                                                                          \
    "{\"type\":\"AfterSaleApplied\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"       \
    "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"s\",\"initiator\":\"BUYER\","     \
    "\"aftersale_type\":\"EXCHANGE\",\"apply_amount\":0,\"order\":{%s\"order_status\":"            \
    "\"SHIPPED\",\"goods_type\":\"PHYSICAL\",\"cross_border\":false,\"order_paid_amount\":1,"      \
    "\"sku_paid_amount\":1}}"

typedef struct bytes {
    const char *s;
    size_t n;
} bytes;

#define B(lit)                                                                                     \
    { (lit), sizeof(lit) - 1 }

/* JSON values, valid or not, with NULs and bad bytes where they matter. */
static const bytes tricky_values[] = {
    B("0"),
    B("-0"),
    B("01"),
    B("-01"),
    B("00"),
    B("1.0"),
    B("1e3"),
    B("1E+3"),
    B("1e-3"),
    B("-"),
    B("-a"),
    B("1."),
    B("1.e5"),
    B(".5"),
    B("+1"),
    B("1e"),
    B("1e+"),
    B("1ee"),
    B("9223372036854775807"),
    B("9223372036854775808"),
    B("-9223372036854775808"),
    B("-9223372036854775809"),
    B("18446744073709551616"),
    B("123456789012345678901234567890"),
    B("1e400"),
    B("-1e400"),
    B("1e-400"),
    B("1.7976931348623157e308"),
    B("1.8e308"),
    B("0x10"),
    B("Infinity"),
    B("NaN"),
    B("-Infinity"),
    B("true"),
    B("false"),
    B("null"),
    B("True"),
    B("nul"),
    B("truefalse"),
    B("tru"),
    B("nulll"),
    B("t"),
    B("1\0"),
    B("true\0"),
    B("1.5\0"),
    B("1\0\0"),
    B("null\0 "),
    B("1 \0"),
    B("1e5\0"),
    B("-\0"),
    B("0\0"),
    B("\0"),
    B("\"\0\""),
    B("\"\""),
    B("\"a\""),
    B("\"\\u0000\""),
    B("\"a\\u0000b\""),
    B("\"\\u00\""),
    B("\"\\u12G4\""),
    B("\"\\x\""),
    B("\"\\'\""),
    B("\"\\\""),
    B("\"\\"),
    B("\"\\u"),
    B("\"\\uD800\""),
    B("\"\\uDC00\""),
    B("\"\\uD800\\u0041\""),
    B("\"\\uD800\\uD800\""),
    B("\"\\uD800\\uDC00\""),
    B("\"\\ud83d\\ude00\""),
    B("\"\\uDBFF\\uDFFF\""),
    B("\"\\uD800\\\\u0041\""),
    B("\"\\uD800x\""),
    B("\"\\uD800\\n\""),
    B("\"\\uD800"),
    B("\"\\uDC00 \xff\""),
    B("\"\\uDC00\"\xff"),
    B("\"\\uD800\\u"),
    B("\"\\uD800\\uZ\""),
    B("\"\\u00e9\\u20ac\""),
    B("\"\xc3\xa9\""),
    B("\"\xe2\x82\xac\""),
    B("\"\xf0\x9f\x98\x80\""),
    B("\"\xc3\""),
    B("\"\xc3\xc3\""),
    B("\"\xc0\x80\""),
    B("\"\xe0\x80\x80\""),
    B("\"\xed\xa0\x80\""),
    B("\"\xf4\x90\x80\x80\""),
    B("\"\xf5\x80\x80\x80\""),
    B("\"\x80\""),
    B("\"\xff\""),
    B("\"\xef\xbf\xbf\""),
    B("\xc3\xa9"),
    B("\xc2\xa0"),
    B("\xff"),
    B("\"\t\""),
    B("\"\n\""),
    B("\"\x01\""),
    B("\"\x1f\""),
    B("\"\x7f\""),
    B("\"abcdefghijklmnopqrstuvwxyz\\q\""),
    B("\"abcdefghijklmnopqrstuvwxyz"),
    B("\"0123456789012345678\\uD800\""),
    B("\"012345678901234567\\uD800\""),
    B("123456789012345678901234567890.5e400"),
    B("[]"),
    B("{}"),
    B("[1,2]"),
    B("[1,]"),
    B("[,1]"),
    B("[1 2]"),
    B("[1,,2]"),
    B("["),
    B("[1"),
    B("[1,"),
    B("]"),
    B("{"),
    B("}"),
    B(":"),
    B(","),
    B("{\"a\"}"),
    B("{\"a\":}"),
    B("{\"a\" 1}"),
    B("{\"a\":1,}"),
    B("{,}"),
    B("{1:1}"),
    B("{\"a\":1 \"b\":2}"),
    B("{\"a\":1,\"a\":2}"),
    B("{\"a\":1,\"\\u0061\":2}"),
    B("{\"a\":1,\"b\":{\"a\":1}}"),
    B("[{\"a\":1},{\"a\":1}]"),
    B("[{\"a\":1,\"a\":1}]"),
    B("{\"\":1,\"\":2}"),
    B("{\"a\\u0000\":1}"),
    B("{\"a\":[{\"b\":[{\"c\":1,\"c\":2}]}]}"),
    B("{\"type\":1,\"type\":2}"),
    B("{\"\xc3\xa9\":1,\"\\u00e9\":2}"),
    B("[\"a\" \xff]"),
    B(" \f1"),
    B("\v1"),
    B("[\n1\n,\nx]"),
    B("[1,\n\"\xc3\xa9\xc3\xa9\"\n,\n@]"),
    B("[1\0,\nx]"),
};

/* Key texts (inside the quotes), valid or not. */
static const bytes tricky_keys[] = {
    B("type"),
    B("\\u0074ype"),
    B("event_id"),
    B("order"),
    B("order_status"),
    B("x"),
    B(""),
    B("\\u0000"),
    B("a\\u0000"),
    B("\\uD800"),
    B("\xc3\xa9"),
    B("\xff"),
    B("a\"b"),
    B("\\"),
    B("a\nb"),
    B("sku_paid_amount"),
    B("aftersale_deadline"),
    B("kind"),
    B("amount"),
};

Test(jsonl_diff, tricky_values_keys_and_members_are_judged_as_jansson_judges_them) {
    char buf[4096], member[512];
    long before = diff_cases;
    for (size_t i = 0; i < sizeof tricky_values / sizeof tricky_values[0]; i++) {
        const bytes *v = &tricky_values[i];
        /* alone, in an array, under an unknown key, and as a known field */
        check_same(v->s, v->n);
        int n = snprintf(buf, sizeof buf, "[%.*s]", (int)v->n, v->s);
        memcpy(buf + 1, v->s, v->n); /* %.*s stops at a NUL */
        check_same(buf, (size_t)n);
        static const char *const keys[] = {"x",    "event_id", "event_time",
                                           "type", "order",    "aftersale_id"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            int m = snprintf(member, sizeof member, "\"%s\":", keys[k]);
            memcpy(member + m, v->s, v->n);
            m += (int)v->n;
            member[m++] = ',';
            member[m] = '\0';
            /* a member before the event's own, at the top and in "order" */
            const char *fmts[] = {WITHDRAWN_FMT, APPLIED_ORDER_FMT};
            for (int f = 0; f < 2; f++) {
                const char *fmt = fmts[f], *at = strstr(fmt, "%s");
                size_t pre = (size_t)(at - fmt), post = strlen(at + 2);
                memcpy(buf, fmt, pre);
                memcpy(buf + pre, member, (size_t)m);
                memcpy(buf + pre + m, at + 2, post);
                check_same(buf, pre + (size_t)m + post);
            }
            /* the only member */
            int t = snprintf(buf, sizeof buf, "{\"%s\":", keys[k]);
            memcpy(buf + t, v->s, v->n);
            buf[t + (int)v->n] = '}';
            check_same(buf, (size_t)t + v->n + 1);
        }
    }
    for (size_t i = 0; i < sizeof tricky_keys / sizeof tricky_keys[0]; i++) {
        const bytes *k = &tricky_keys[i];
        for (int f = 0; f < 2; f++) {
            char m[128];
            int mn = snprintf(m, sizeof m, "\"%.*s\":1,", (int)k->n, k->s);
            const char *fmt = f ? APPLIED_ORDER_FMT : WITHDRAWN_FMT, *at = strstr(fmt, "%s");
            size_t pre = (size_t)(at - fmt), post = strlen(at + 2);
            memcpy(buf, fmt, pre);
            memcpy(buf + pre, m, (size_t)mn);
            memcpy(buf + pre + mn, at + 2, post);
            check_same(buf, pre + (size_t)mn + post);
            /* twice: a duplicate wherever it is */
            memcpy(buf + pre + mn, m, (size_t)mn);
            memcpy(buf + pre + 2 * mn, at + 2, post);
            check_same(buf, pre + 2 * (size_t)mn + post);
        }
    }
    cr_log_info("jsonl_diff: %ld tricky cases", diff_cases - before);
}

Test(jsonl_diff, fields_of_every_wrong_type_are_refused_as_before) {
    static const char *const values[] = {"\"s\"", "1",    "-1", "1.0", "1e3",       "true",
                                         "false", "null", "{}", "[]",  "\"BUYER\"", "\"\""};
    static const char *const keys[] = {"type",
                                       "event_id",
                                       "order_id",
                                       "event_time",
                                       "aftersale_id",
                                       "sku_order_id",
                                       "shop_id",
                                       "initiator",
                                       "aftersale_type",
                                       "apply_amount",
                                       "order",
                                       "refund_amount",
                                       "order_paid_amount",
                                       "sku_paid_amount",
                                       "close_reason",
                                       "refund_id",
                                       "amount",
                                       "kind",
                                       "order_status",
                                       "goods_type",
                                       "cross_border",
                                       "aftersale_deadline"};
    static const char *const types[] = {"AfterSaleApplied", "AfterSaleWithdrawn",
                                        "AfterSaleClosed",  "AfterSaleSucceeded",
                                        "RefundClawedBack", "ExternalRefundRecorded"};
    /* a full line of each type, with one key's value replaced or the key
     * left out; the order keys inside "order" */
    char line[2048];
    long accepted = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            for (size_t v = 0; v <= sizeof values / sizeof values[0]; v++) {
                size_t o = 0;
                o += (size_t)snprintf(line + o, sizeof line - o, "{");
                for (size_t j = 0; j < 18; j++) {
                    const char *val = "\"x\"";
                    if (strstr("event_time apply_amount refund_amount order_paid_amount "
                               "sku_paid_amount amount",
                               keys[j]))
                        val = "5";
                    if (j == 0)
                        val = NULL;
                    if (strcmp(keys[j], "initiator") == 0)
                        val = "\"MERCHANT_CARD\"";
                    if (strcmp(keys[j], "aftersale_type") == 0)
                        val = "\"RESHIP\"";
                    if (strcmp(keys[j], "close_reason") == 0)
                        val = "\"FAILED\"";
                    if (strcmp(keys[j], "kind") == 0)
                        val = "\"OFFLINE\"";
                    char typebuf[64];
                    if (j == 0) {
                        snprintf(typebuf, sizeof typebuf, "\"%s\"", types[t]);
                        val = typebuf;
                    }
                    char orderbuf[512];
                    if (strcmp(keys[j], "order") == 0) {
                        size_t p = 0;
                        p += (size_t)snprintf(orderbuf, sizeof orderbuf, "{");
                        static const char *const ok[] = {"order_status",    "goods_type",
                                                         "cross_border",    "order_paid_amount",
                                                         "sku_paid_amount", "aftersale_deadline"};
                        static const char *const ov[] = {
                            "\"CANCELLED\"", "\"VIRTUAL\"", "true", "7", "8", "9"};
                        for (size_t q = 0; q < 6; q++) {
                            bool target = k >= 18 && strcmp(keys[k], ok[q]) == 0;
                            if (target && v == sizeof values / sizeof values[0])
                                continue;
                            p += (size_t)snprintf(orderbuf + p, sizeof orderbuf - p, "%s\"%s\":%s",
                                                  p > 1 ? "," : "", ok[q],
                                                  target ? values[v] : ov[q]);
                        }
                        snprintf(orderbuf + p, sizeof orderbuf - p, "}");
                        val = orderbuf;
                    }
                    if (k == j) {
                        if (v == sizeof values / sizeof values[0])
                            continue; /* left out */
                        val = values[v];
                    }
                    o += (size_t)snprintf(line + o, sizeof line - o, "%s\"%s\":%s",
                                          o > 1 ? "," : "", keys[j], val);
                }
                snprintf(line + o, sizeof line - o, "}");
                accepted += check_str(line);
            }
        }
    }
    cr_assert_gt(accepted, 50);
    cr_log_info("jsonl_diff: %ld lines with a field of each type or missing, %ld accepted",
                diff_cases, accepted);
    /* and the long unknown symbol */
    check_str("{\"type\":\"AfterSaleClosed\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\""
              ":1,\"sku_order_id\":\"S\",\"aftersale_id\":\"A\",\"close_reason\":\""
              "MERCHANT_REJECTEDMERCHANT_REJECTEDMERCHANT_REJECTEDMERCHANT_REJECTEDMERCHANT\"}");
    check_str("{\"type\":\"AfterSaleApplied\\u0000\"}");
    check_str("{\"type\":\"AfterSale\\u0041pplied\"}");
}

/* `depth` arrays around `inner`, under an unknown key of a valid event. */
static void check_nested(int depth, const char *inner) {
    size_t in = strlen(inner), n = 0;
    char *line = malloc((size_t)depth * 2 + in + 256);
    const char *head = "{\"type\":\"AfterSaleWithdrawn\",\"event_id\":\"e\",\"order_id\":\"O\","
                       "\"event_time\":1,\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"x\":";
    memcpy(line, head, strlen(head));
    n = strlen(head);
    for (int i = 0; i < depth; i++)
        line[n++] = '[';
    memcpy(line + n, inner, in);
    n += in;
    for (int i = 0; i < depth; i++)
        line[n++] = ']';
    line[n++] = '}';
    check_same(line, n);
    /* and at the top level */
    check_same(line + strlen(head), n - strlen(head) - 1);
    free(line);
}

Test(jsonl_diff, nesting_is_limited_where_jansson_limits_it) {
    /* jansson's limit is 2048 values deep, the event object being the first */
    for (int d = 2044; d <= 2050; d++) {
        check_nested(d, "");
        check_nested(d, "1");
        check_nested(d, "{}");
        check_nested(d, "{\"a\":1}");
        check_nested(d, "\"s\"");
        check_nested(d, "x");
        check_nested(d, "{\"a\":");
    }
    cr_log_info("jsonl_diff: %ld nesting cases", diff_cases);
}

Test(jsonl, integers_print_as_printf_prints_them) {
    static const int64_t values[] = {0,
                                     1,
                                     -1,
                                     9,
                                     -9,
                                     10,
                                     -10,
                                     99,
                                     100,
                                     -100,
                                     1234567890,
                                     999999999999999999,
                                     1000000000000000000,
                                     -1000000000000000000,
                                     INT64_MAX,
                                     INT64_MAX - 1,
                                     INT64_MIN,
                                     INT64_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        asw_decision d = {
            .aftersale_id = "A", .order_id = "O", .sku_order_id = "S", .source_offset = values[i]};
        asw_buf out = ASW_BUF_INIT;
        asw_jsonl_format_decision(&d, &out);
        char want[64];
        snprintf(want, sizeof want, ",\"source_offset\":%lld}\n", (long long)values[i]);
        size_t n = strlen(want);
        cr_assert(out.len > n && memcmp(out.data + out.len - n, want, n) == 0, "%.*s", (int)out.len,
                  out.data);
        asw_buf_free(&out);
    }
}
