/*
 * test_tools.c -- unit tests of the produce / consume tools that need no
 * broker: argument and configuration errors (exit status 2 before any Kafka
 * client exists), and the JSON line `consume` prints for every kind of
 * record (events, Decision, RefundRecord, OrderState, undecodable values,
 * tombstones), with its headers, partition and offset.
 */

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/cmd.h"
#include "asw/codec.h"
#include "asw/jsonl.h"
#include "asw/ledger.h"
#include "asw/tools.h"
#include "support.h"

/* ---- helpers ---- */

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
/* Run a tool on a writable copy of literal arguments. */
#define PRODUCE(...) asw_produce_cmd.run(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))
#define CONSUME(...) asw_consume_cmd.run(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static const char applied_line[] =
    "{\"type\": \"AfterSaleApplied\", \"event_id\": \"ev-1\", \"order_id\": \"O1\", "
    "\"event_time\": 1700000001000, \"aftersale_id\": \"A1\", \"sku_order_id\": \"O1-1\", "
    "\"shop_id\": \"s1\", \"initiator\": \"BUYER\", \"aftersale_type\": "
    "\"REFUND_ONLY_SHIPPED\", \"apply_amount\": 3000, \"order\": {\"order_status\": "
    "\"SHIPPED\", \"goods_type\": \"PHYSICAL\", \"cross_border\": false, "
    "\"order_paid_amount\": 10000, \"sku_paid_amount\": 10000, \"aftersale_deadline\": "
    "1701296000000}}";

static asw_codec *codec;

static void setup(void) {
    char err[256] = "";
    codec = asw_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "asw_codec_new: %s", err);
}

static void teardown(void) {
    asw_codec_destroy(codec);
    t_reset();
}

/* Format one record as consume does; returns the parsed line (caller
 * decrefs) after checking it is exactly one JSON object and a newline. */
static json_t *consume_line(const void *key, const void *value, size_t len,
                            const rd_kafka_headers_t *hdrs, int32_t partition, int64_t offset) {
    asw_buf out = ASW_BUF_INIT;
    asw_tools_format_message(codec, key, key ? strlen(key) : 0, value, len, hdrs, partition, offset,
                             &out);
    cr_assert_gt(out.len, 1);
    cr_assert_eq(out.data[out.len - 1], '\n');
    cr_assert_null(memchr(out.data, '\n', out.len - 1), "one line");
    json_error_t jerr;
    json_t *o = json_loadb((const char *)out.data, out.len - 1,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(o, "not JSON (%s): %.*s", jerr.text, (int)out.len, out.data);
    asw_buf_free(&out);
    return o;
}

static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

static json_int_t int_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "\"%s\" is not an integer", key);
    return json_integer_value(v);
}

/* The last two keys are "partition" and "offset", with these values. */
static void assert_position(json_t *o, int32_t partition, int64_t offset) {
    cr_assert_eq(int_of(o, "partition"), partition);
    cr_assert_eq(int_of(o, "offset"), offset);
    const char *keys[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        (void)v;
        if (n < 64)
            keys[n++] = k;
    }
    cr_assert_geq(n, 3);
    cr_assert_str_eq(keys[n - 2], "partition");
    cr_assert_str_eq(keys[n - 1], "offset");
}

/* ---- argument and configuration errors ---- */

Test(tools, produce_refuses_bad_arguments_with_status_2) {
    cr_assert_eq(PRODUCE("produce", "events.jsonl"), 2, "no --topic");
    cr_assert_eq(PRODUCE("produce", "--topic", "t"), 2, "no file");
    cr_assert_eq(PRODUCE("produce", "--topic", "t", "a.jsonl", "b.jsonl"), 2, "two files");
    cr_assert_eq(PRODUCE("produce", "--topic", "t", "--partitions", "0", "-"), 2);
    cr_assert_eq(PRODUCE("produce", "--topic", "t", "--partitions", "3x", "-"), 2);
    cr_assert_eq(PRODUCE("produce", "--topic", "t", "--key", "K", "-"), 2, "--key without --raw");
    cr_assert_eq(PRODUCE("produce", "--topic", "t", "--no-such-option", "-"), 2);
}

Test(tools, consume_refuses_bad_arguments_with_status_2) {
    cr_assert_eq(CONSUME("consume", "--from-beginning"), 2, "no --topic");
    cr_assert_eq(CONSUME("consume", "--topic", "t", "--max", "0"), 2);
    cr_assert_eq(CONSUME("consume", "--topic", "t", "--max", "-4"), 2);
    cr_assert_eq(CONSUME("consume", "--topic", "t", "--idle-exit", "soon"), 2);
    cr_assert_eq(CONSUME("consume", "--topic", "t", "--idle-exit", "-1"), 2);
    cr_assert_eq(CONSUME("consume", "--topic", "t", "extra"), 2, "positional argument");
}

Test(tools, help_exits_0_without_touching_kafka) {
    cr_assert_eq(PRODUCE("produce", "-h"), 0);
    cr_assert_eq(CONSUME("consume", "--help"), 0);
}

Test(tools, a_config_file_that_does_not_load_is_status_2) {
    cr_assert_eq(PRODUCE("produce", "-t", "t", "-c", "/nonexistent/asw.properties", "-"), 2);
    cr_assert_eq(CONSUME("consume", "-t", "t", "-c", "/nonexistent/asw.properties"), 2);
}

/* ---- what consume prints ---- */

Test(tools, an_event_prints_its_jsonl_form_plus_partition_and_offset, .init = setup,
     .fini = teardown) {
    asw_event ev;
    char err[256];
    cr_assert_eq(asw_jsonl_parse_event(applied_line, strlen(applied_line), &ev, err, sizeof err), 0,
                 "%s", err);
    asw_buf frame = ASW_BUF_INIT, expected = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_event(codec, &ev, &frame), ASW_CODEC_OK);
    asw_jsonl_format_event(&ev, &expected);

    json_t *o = consume_line("O1", frame.data, frame.len, NULL, 2, 41);
    assert_position(o, 2, 41);
    json_object_del(o, "partition");
    json_object_del(o, "offset");
    json_t *want = json_loadb((const char *)expected.data, expected.len, 0, NULL);
    cr_assert(json_equal(o, want), "the event does not print as replay prints it");

    json_decref(want);
    json_decref(o);
    asw_buf_free(&frame);
    asw_buf_free(&expected);
    asw_event_clear(&ev);
}

Test(tools, decisions_records_and_order_states_decode_by_schema_id, .init = setup,
     .fini = teardown) {
    asw_ruleset *rules = asw_ruleset_new();
    asw_order *order = asw_order_new("O1");
    asw_result r = t_apply(order, rules, t_applied("ev-1", "A1", "O1-1", 3000));
    cr_assert(r.has_decision && r.has_record);
    asw_buf d = ASW_BUF_INIT, rec = ASW_BUF_INIT, st = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_decision(codec, &r.decision, &d), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_encode_record(codec, &r.record, &rec), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_encode_state(codec, order, &st), ASW_CODEC_OK);

    json_t *o = consume_line("O1", d.data, d.len, NULL, 0, 7);
    cr_assert_str_eq(str_of(o, "type"), "Decision");
    cr_assert_str_eq(str_of(o, "aftersale_id"), "A1");
    cr_assert_str_eq(str_of(o, "outcome"), "ACCEPTED");
    assert_position(o, 0, 7);
    json_decref(o);

    o = consume_line("O1", rec.data, rec.len, NULL, 0, 8);
    cr_assert_str_eq(str_of(o, "type"), "RefundRecord");
    cr_assert_str_eq(str_of(o, "status"), "PENDING");
    cr_assert_eq(int_of(o, "amount"), 3000);
    assert_position(o, 0, 8);
    json_decref(o);

    o = consume_line("O1", st.data, st.len, NULL, 1, 9);
    cr_assert_str_eq(str_of(o, "type"), "OrderState");
    cr_assert_str_eq(str_of(o, "order_id"), "O1");
    cr_assert_eq(int_of(o, "reserved"), 3000);
    cr_assert_eq(int_of(o, "applications_used"), 1);
    json_t *skus = json_object_get(o, "skus");
    cr_assert_eq(json_array_size(skus), 1);
    cr_assert_str_eq(str_of(json_array_get(skus, 0), "sku_order_id"), "O1-1");
    json_t *apps = json_object_get(o, "applications");
    cr_assert_eq(json_array_size(apps), 1);
    cr_assert_str_eq(str_of(json_array_get(apps, 0), "state"), "OPEN");
    assert_position(o, 1, 9);
    json_decref(o);

    asw_buf_free(&d);
    asw_buf_free(&rec);
    asw_buf_free(&st);
    asw_order_destroy(order);
    asw_ruleset_destroy(rules);
}

Test(tools, an_undecodable_value_prints_as_dead_letter_with_headers_and_value, .init = setup,
     .fini = teardown) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "asw.error", -1, "BAD_MAGIC", -1);
    rd_kafka_header_add(h, "bin", -1, "\xff\x00", 2);
    rd_kafka_header_add(h, "none", -1, NULL, 0);
    const char garbage[] = "not avro";

    json_t *o = consume_line(NULL, garbage, strlen(garbage), h, 1, 3);
    cr_assert_str_eq(str_of(o, "type"), "DeadLetter");
    cr_assert_str_eq(str_of(o, "error"), "BAD_MAGIC: byte 0 is 0x6e, not 0");
    cr_assert_str_eq(str_of(o, "value"), "not avro");
    json_t *hs = json_object_get(o, "headers");
    cr_assert_str_eq(str_of(hs, "asw.error"), "BAD_MAGIC");
    cr_assert_str_eq(str_of(json_object_get(hs, "bin"), "hex"), "ff00");
    cr_assert(json_is_null(json_object_get(hs, "none")));
    assert_position(o, 1, 3);
    json_decref(o);
    rd_kafka_headers_destroy(h);

    /* A frame naming a schema id nobody registered, and bytes that are not
     * UTF-8: the error names the codec's reason, the value goes out as hex. */
    const unsigned char unknown[] = {0, 0, 0, 0, 99, 0xc3};
    o = consume_line(NULL, unknown, sizeof unknown, NULL, 0, 0);
    cr_assert_eq(strncmp(str_of(o, "error"), "UNKNOWN_SCHEMA_ID: ", 19), 0);
    cr_assert_str_eq(str_of(o, "value_hex"), "0000000063c3");
    cr_assert_null(json_object_get(o, "value"));
    cr_assert_eq(json_object_size(json_object_get(o, "headers")), 0);
    json_decref(o);

    o = consume_line(NULL, "\0", 1, NULL, 0, 1);
    cr_assert_eq(strncmp(str_of(o, "error"), "SHORT_FRAME: ", 13), 0);
    json_decref(o);
}

Test(tools, a_null_value_prints_as_tombstone_with_its_key, .init = setup, .fini = teardown) {
    json_t *o = consume_line("O9", NULL, 0, NULL, 4, 12);
    cr_assert_str_eq(str_of(o, "type"), "Tombstone");
    cr_assert_str_eq(str_of(o, "key"), "O9");
    cr_assert_null(json_object_get(o, "headers"), "no headers key when there are none");
    assert_position(o, 4, 12);
    json_decref(o);

    o = consume_line(NULL, NULL, 0, NULL, 0, 0);
    cr_assert(json_is_null(json_object_get(o, "key")));
    json_decref(o);
}

Test(tools, kafka_fields_leave_a_buffer_alone_unless_it_ends_in_an_object_line) {
    asw_buf b = ASW_BUF_INIT;
    asw_buf_append_str(&b, "plain text\n");
    asw_jsonl_add_kafka_fields(&b, 0, NULL, 0, 1, 2);
    cr_assert_eq(b.len, strlen("plain text\n"));
    cr_assert_eq(memcmp(b.data, "plain text\n", b.len), 0);

    asw_buf_reset(&b);
    asw_buf_append_str(&b, "{}\n");
    asw_jsonl_add_kafka_fields(&b, 0, NULL, 0, 1, 2);
    cr_assert_eq(b.len, strlen("{\"partition\":1,\"offset\":2}\n"));
    cr_assert_eq(memcmp(b.data, "{\"partition\":1,\"offset\":2}\n", b.len), 0);
    asw_buf_free(&b);
}
