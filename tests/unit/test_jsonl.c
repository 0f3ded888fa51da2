/*
 * test_jsonl.c -- the JSON Lines forms: every event type parses from the
 * SPEC's own examples, every malformed line is refused with a message, and
 * outputs print with the SPEC field names in a fixed order.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "asw/buf.h"
#include "asw/jsonl.h"

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
