/*
 * test_codec.c -- unit tests of the Avro codec: round trips of every record,
 * every event against the bytes of its .avsc written here field by field,
 * one malformed frame per error code, decoding through older writer schemas,
 * refusal of unresolvable writers, and a seeded mutation loop that must only
 * ever yield OK or a clean error (run it under ASan: -DASW_SANITIZE=ON).
 *
 * Frames for older writers are built byte by byte with the small Avro
 * writer below, so that the tests do not trust the codec to write what it
 * reads.
 */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/codec.h"
#include "support.h"

/* ---- helpers ---- */

static asw_codec *codec_or_die(void) {
    char err[256] = "";
    asw_codec *c = asw_codec_new(err, sizeof err);
    cr_assert_not_null(c, "asw_codec_new: %s", err);
    return c;
}

static void set_str(char **field, const char *s) {
    free(*field);
    *field = asw_strdup(s);
}

/* An event of type t with every field set to something recognisable. */
static asw_event event_of(asw_event_type t) {
    asw_event ev;
    asw_event_init(&ev);
    ev.type = t;
    set_str(&ev.event_id, "ev-1");
    set_str(&ev.order_id, "O1");
    ev.event_time = 1700000001000;
    set_str(&ev.sku_order_id, "O1-1");
    set_str(&ev.aftersale_id, "");
    set_str(&ev.refund_id, "");
    set_str(&ev.shop_id, "");
    switch (t) {
    case ASW_EV_APPLIED:
        set_str(&ev.aftersale_id, "A1");
        set_str(&ev.shop_id, "s1");
        ev.initiator = ASW_INIT_MERCHANT_CARD;
        ev.aftersale_type = ASW_AT_REPAIR;
        ev.amount = 3000;
        ev.order.order_status = ASW_OS_CANCELLED;
        ev.order.goods_type = ASW_GT_VIRTUAL;
        ev.order.cross_border = true;
        ev.order.order_paid_amount = 10000;
        ev.order.sku_paid_amount = 6000;
        ev.order.has_deadline = true;
        ev.order.aftersale_deadline = 1701296000000;
        ev.order_paid_amount = 10000;
        ev.sku_paid_amount = 6000;
        break;
    case ASW_EV_WITHDRAWN:
        set_str(&ev.aftersale_id, "A1");
        break;
    case ASW_EV_CLOSED:
        set_str(&ev.aftersale_id, "A1");
        ev.close_reason = ASW_CR_FAILED;
        break;
    case ASW_EV_SUCCEEDED:
        set_str(&ev.aftersale_id, "A1");
        ev.amount = 2500;
        ev.order_paid_amount = 10000;
        ev.sku_paid_amount = 6000;
        break;
    case ASW_EV_CLAWED_BACK:
        set_str(&ev.refund_id, "A1");
        ev.amount = 700;
        break;
    default:
        set_str(&ev.refund_id, "R9");
        set_str(&ev.shop_id, "s1");
        ev.kind = ASW_EK_HISTORICAL;
        ev.amount = 500;
        ev.order_paid_amount = 10000;
        ev.sku_paid_amount = 6000;
        break;
    }
    return ev;
}

static void assert_event_eq(const asw_event *a, const asw_event *b) {
    cr_assert_eq(a->type, b->type);
    cr_assert_str_eq(a->event_id, b->event_id);
    cr_assert_str_eq(a->order_id, b->order_id);
    cr_assert_eq(a->event_time, b->event_time);
    cr_assert_str_eq(a->aftersale_id, b->aftersale_id);
    cr_assert_str_eq(a->refund_id, b->refund_id);
    cr_assert_str_eq(a->sku_order_id, b->sku_order_id);
    cr_assert_str_eq(a->shop_id, b->shop_id);
    cr_assert_eq(a->amount, b->amount);
    cr_assert_eq(a->order_paid_amount, b->order_paid_amount);
    cr_assert_eq(a->sku_paid_amount, b->sku_paid_amount);
    if (a->type == ASW_EV_APPLIED) {
        cr_assert_eq(a->initiator, b->initiator);
        cr_assert_eq(a->aftersale_type, b->aftersale_type);
        cr_assert_eq(a->order.order_status, b->order.order_status);
        cr_assert_eq(a->order.goods_type, b->order.goods_type);
        cr_assert_eq(a->order.cross_border, b->order.cross_border);
        cr_assert_eq(a->order.order_paid_amount, b->order.order_paid_amount);
        cr_assert_eq(a->order.sku_paid_amount, b->order.sku_paid_amount);
        cr_assert_eq(a->order.has_deadline, b->order.has_deadline);
        if (a->order.has_deadline)
            cr_assert_eq(a->order.aftersale_deadline, b->order.aftersale_deadline);
    }
    if (a->type == ASW_EV_CLOSED)
        cr_assert_eq(a->close_reason, b->close_reason);
    if (a->type == ASW_EV_EXTERNAL)
        cr_assert_eq(a->kind, b->kind);
}

static asw_decision sample_decision(void) {
    asw_decision d;
    memset(&d, 0, sizeof d);
    d.aftersale_id = "A1";
    d.order_id = "O1";
    d.sku_order_id = "O1-1";
    d.shop_id = "s1";
    d.initiator = ASW_INIT_BUYER;
    d.outcome = ASW_OUT_REJECTED;
    d.reasons = 1u << ASW_R_PRE_SHIPMENT_FULL_REFUND_ONLY | 1u << ASW_R_AFTERSALE_PERIOD_EXPIRED |
                1u << ASW_R_AMOUNT_EXCEEDS_REFUNDABLE;
    d.applications_used = 3;
    d.applications_limit = 5;
    d.order_remaining = 4000;
    d.sku_remaining = -200;
    d.multi_refund = true;
    d.sku_prior_refunds = 2;
    d.duplicate = true;
    d.event_time = 1700000005000;
    d.ruleset_version = "rs1-aa63de3c";
    d.source_topic = "aftersale.events";
    d.source_partition = 7;
    d.source_offset = 123456789012;
    return d;
}

static asw_refund_record sample_record(bool with_nulls) {
    asw_refund_record r;
    memset(&r, 0, sizeof r);
    r.record_id = "A1";
    r.order_id = "O1";
    r.sku_order_id = "O1-1";
    r.shop_id = with_nulls ? NULL : "s1";
    r.origin = with_nulls ? ASW_ORIGIN_APPLICATION : ASW_ORIGIN_EXTERNAL;
    r.has_aftersale_type = !with_nulls;
    r.aftersale_type = with_nulls ? 0 : ASW_AT_PRICE_PROTECTION;
    r.has_kind = !with_nulls;
    r.kind = with_nulls ? 0 : ASW_EK_OFFLINE;
    r.status = with_nulls ? ASW_RS_SUCCEEDED : ASW_RS_RECORDED;
    r.amount = 3000;
    r.order_paid = 10000;
    r.order_refunded = 11000;
    r.order_reserved = 0;
    r.order_remaining = -1000;
    r.sku_paid = 6000;
    r.sku_refunded = 7000;
    r.sku_reserved = 100;
    r.sku_remaining = -1100;
    r.sku_refunds = 3;
    r.over_refund = true;
    r.unmatched = with_nulls;
    r.event_time = 1700000009000;
    return r;
}

static void assert_record_eq(const asw_refund_record *a, const asw_refund_record *b) {
    cr_assert_str_eq(a->record_id, b->record_id);
    cr_assert_str_eq(a->order_id, b->order_id);
    cr_assert_str_eq(a->sku_order_id, b->sku_order_id);
    if (a->shop_id)
        cr_assert_str_eq(a->shop_id, b->shop_id);
    else
        cr_assert_null(b->shop_id);
    cr_assert_eq(a->origin, b->origin);
    cr_assert_eq(a->has_aftersale_type, b->has_aftersale_type);
    if (a->has_aftersale_type)
        cr_assert_eq(a->aftersale_type, b->aftersale_type);
    cr_assert_eq(a->has_kind, b->has_kind);
    if (a->has_kind)
        cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->amount, b->amount);
    cr_assert_eq(a->order_paid, b->order_paid);
    cr_assert_eq(a->order_refunded, b->order_refunded);
    cr_assert_eq(a->order_reserved, b->order_reserved);
    cr_assert_eq(a->order_remaining, b->order_remaining);
    cr_assert_eq(a->sku_paid, b->sku_paid);
    cr_assert_eq(a->sku_refunded, b->sku_refunded);
    cr_assert_eq(a->sku_reserved, b->sku_reserved);
    cr_assert_eq(a->sku_remaining, b->sku_remaining);
    cr_assert_eq(a->sku_refunds, b->sku_refunds);
    cr_assert_eq(a->over_refund, b->over_refund);
    cr_assert_eq(a->unmatched, b->unmatched);
    cr_assert_eq(a->event_time, b->event_time);
}

/* A state with several of everything, including the NULLs the ledger may
 * hold (unknown shop, unmatched application without type). */
static asw_order *sample_state(void) {
    asw_order *o = asw_order_new("O1");
    asw_order_set_shop(o, "s1");
    o->paid = 10000;
    o->refunded = 3500;
    o->reserved = 1200;
    o->prior_success = true;
    o->max_event_time = 1700000009000;
    o->has_deadline = true;
    o->deadline = 1701296000000;

    asw_order_put_sku(o, "O1-2", 4000, 500, 0, 1, true);
    asw_order_put_sku(o, "O1-1", 6000, 3000, 1200, 2, true);

    asw_decision d1;
    memset(&d1, 0, sizeof d1);
    d1.sku_order_id = "O1-1";
    d1.shop_id = "s1";
    d1.ruleset_version = "rs1-aa63de3c";
    d1.source_topic = "aftersale.events";
    d1.outcome = ASW_OUT_ACCEPTED;
    d1.applications_used = 1;
    d1.applications_limit = 5;
    d1.order_remaining = 7000;
    d1.sku_remaining = 3000;
    d1.event_time = 1700000001000;
    d1.source_partition = 3;
    d1.source_offset = 42;
    asw_decision d2 = d1;
    d2.shop_id = NULL;
    d2.ruleset_version = "";
    d2.source_topic = "";
    d2.initiator = ASW_INIT_MERCHANT_CARD;
    d2.outcome = ASW_OUT_REJECTED;
    d2.reasons = 1u << ASW_R_INVALID_REQUEST | 1u << ASW_R_NO_REFUNDABLE_AMOUNT;
    d2.multi_refund = true;
    d2.sku_prior_refunds = 4;
    d2.source_partition = -1;
    d2.source_offset = -1;

    /* Counted and decided; counted only (open); counted from a lifecycle
     * event only (no shop, no type); decided only (a card check). */
    asw_order_put_app(o, "A1", true, "O1-1", "s1", true, ASW_AT_REFUND_ONLY_SHIPPED,
                      ASW_APP_SUCCEEDED, 0, &d1);
    asw_order_put_app(o, "A2", true, "O1-1", "s1", true, ASW_AT_RETURN_AND_REFUND, ASW_APP_OPEN,
                      1200, NULL);
    asw_order_put_app(o, "A0", true, "O1-2", NULL, false, 0, ASW_APP_CLOSED, 0, NULL);
    asw_order_put_app(o, "C9", false, NULL, NULL, false, 0, 0, 0, &d2);

    asw_order_put_external(o, "R9", "O1-2", ASW_EK_SMALL_PAYMENT);
    asw_order_put_external(o, "R1", "O1-1", ASW_EK_HISTORICAL);

    asw_order_put_seen(o, "ev-3");
    asw_order_put_seen(o, "ev-1");
    asw_order_put_seen(o, "ev-2");
    return o;
}

/* ---- a minimal Avro writer, for frames the codec did not write ---- */

static void put_frame(asw_buf *b, int32_t id) {
    uint8_t h[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    asw_buf_reset(b);
    asw_buf_append(b, h, sizeof h);
}

static void put_long(asw_buf *b, int64_t v) {
    uint64_t n = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (n & ~(uint64_t)0x7f) {
        uint8_t byte = (uint8_t)((n & 0x7f) | 0x80);
        asw_buf_append(b, &byte, 1);
        n >>= 7;
    }
    uint8_t last = (uint8_t)n;
    asw_buf_append(b, &last, 1);
}

static void put_str(asw_buf *b, const char *s) {
    put_long(b, (int64_t)strlen(s));
    asw_buf_append(b, s, strlen(s));
}

static void put_bool(asw_buf *b, bool v) {
    uint8_t byte = v;
    asw_buf_append(b, &byte, 1);
}

/* Withdrawn as written by a producer whose aftersale_id may be null. */
static const char withdrawn_nullable_id[] =
    "{\"type\":\"record\",\"name\":\"AfterSaleWithdrawn\",\"namespace\":\"com.aftersale.worker\","
    "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"order_id\",\"type\":\"string\"},"
    "{\"name\":\"event_time\",\"type\":\"long\"},"
    "{\"name\":\"aftersale_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"sku_order_id\",\"type\":\"string\"}]}";

/* An older AfterSaleApplied: fields in another order, apply_amount an int, a
 * field the reader dropped (channel), no aftersale_deadline in the order,
 * and the AfterSaleType symbols in another order. */
static const char applied_v0[] =
    "{\"type\":\"record\",\"name\":\"AfterSaleApplied\",\"namespace\":\"com.aftersale.worker\","
    "\"fields\":["
    "{\"name\":\"order_id\",\"type\":\"string\"},"
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"channel\",\"type\":\"string\"},"
    "{\"name\":\"event_time\",\"type\":\"long\"},"
    "{\"name\":\"shop_id\",\"type\":\"string\"},"
    "{\"name\":\"aftersale_id\",\"type\":\"string\"},"
    "{\"name\":\"sku_order_id\",\"type\":\"string\"},"
    "{\"name\":\"initiator\",\"type\":{\"type\":\"enum\",\"name\":\"Initiator\","
    "\"symbols\":[\"BUYER\",\"MERCHANT_CARD\"]}},"
    "{\"name\":\"aftersale_type\",\"type\":{\"type\":\"enum\",\"name\":\"AfterSaleType\","
    "\"symbols\":[\"REPAIR\",\"RETURN_AND_REFUND\",\"REFUND_ONLY_SHIPPED\"]}},"
    "{\"name\":\"apply_amount\",\"type\":\"int\"},"
    "{\"name\":\"order\",\"type\":{\"type\":\"record\",\"name\":\"OrderSnapshot\",\"fields\":["
    "{\"name\":\"goods_type\",\"type\":{\"type\":\"enum\",\"name\":\"GoodsType\","
    "\"symbols\":[\"PHYSICAL\",\"VIRTUAL\"]}},"
    "{\"name\":\"order_status\",\"type\":{\"type\":\"enum\",\"name\":\"OrderStatus\","
    "\"symbols\":[\"PENDING_PAYMENT\",\"STOCKING\",\"PARTIALLY_SHIPPED\",\"SHIPPED\","
    "\"COMPLETED\",\"CANCELLED\"]}},"
    "{\"name\":\"cross_border\",\"type\":\"boolean\"},"
    "{\"name\":\"order_paid_amount\",\"type\":\"long\"},"
    "{\"name\":\"sku_paid_amount\",\"type\":\"long\"}]}}]}";

/* A frame of applied_v0 under id. */
static void put_applied_v0(asw_buf *b, int32_t id) {
    put_frame(b, id);
    put_str(b, "O7");           /* order_id */
    put_str(b, "ev-70");        /* event_id */
    put_str(b, "app");          /* channel: dropped */
    put_long(b, 1600000000000); /* event_time */
    put_str(b, "s7");           /* shop_id */
    put_str(b, "A7");           /* aftersale_id */
    put_str(b, "O7-1");         /* sku_order_id */
    put_long(b, 0);             /* initiator BUYER */
    put_long(b, 2);             /* aftersale_type: writer symbol 2 = REFUND_ONLY_SHIPPED */
    put_long(b, 1234);          /* apply_amount (int) */
    put_long(b, 0);             /* goods_type PHYSICAL */
    put_long(b, 3);             /* order_status SHIPPED */
    put_bool(b, false);         /* cross_border */
    put_long(b, 5000);          /* order_paid_amount */
    put_long(b, 2000);          /* sku_paid_amount */
}

/* ---- round trips ---- */

Test(codec, every_event_type_round_trips) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event in = event_of((asw_event_type)t), out;
        char err[256] = "";
        cr_assert_eq(asw_codec_encode_event(c, &in, &b), ASW_CODEC_OK);
        cr_assert_eq(asw_codec_decode_event(c, b.data, b.len, &out, err, sizeof err), ASW_CODEC_OK,
                     "%s: %s", asw_event_type_name((asw_event_type)t), err);
        assert_event_eq(&in, &out);
        asw_event_clear(&in);
        asw_event_clear(&out);
    }
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, applied_without_deadline_round_trips_as_null) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    asw_event in = event_of(ASW_EV_APPLIED), out;
    in.order.has_deadline = false;
    cr_assert_eq(asw_codec_encode_event(c, &in, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_event(c, b.data, b.len, &out, NULL, 0), ASW_CODEC_OK);
    cr_assert_not(out.order.has_deadline);
    assert_event_eq(&in, &out);
    asw_event_clear(&in);
    asw_event_clear(&out);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, frames_carry_the_builtin_id_of_their_record) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    static const int32_t ids[ASW_EV__COUNT] = {ASW_SCHEMA_ID_APPLIED,     ASW_SCHEMA_ID_WITHDRAWN,
                                               ASW_SCHEMA_ID_CLOSED,      ASW_SCHEMA_ID_SUCCEEDED,
                                               ASW_SCHEMA_ID_CLAWED_BACK, ASW_SCHEMA_ID_EXTERNAL};
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = event_of((asw_event_type)t);
        int32_t id = -1;
        cr_assert_eq(asw_codec_encode_event(c, &ev, &b), ASW_CODEC_OK);
        cr_assert_eq(b.data[0], 0);
        cr_assert_eq(asw_codec_peek_id(b.data, b.len, &id), ASW_CODEC_OK);
        cr_assert_eq(id, ids[t]);
        asw_event_clear(&ev);
    }
    asw_decision d = sample_decision();
    asw_refund_record r = sample_record(false);
    asw_order *o = sample_state();
    int32_t id;
    cr_assert_eq(asw_codec_encode_decision(c, &d, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_peek_id(b.data, b.len, &id), ASW_CODEC_OK);
    cr_assert_eq(id, ASW_SCHEMA_ID_DECISION);
    cr_assert_eq(asw_codec_encode_record(c, &r, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_peek_id(b.data, b.len, &id), ASW_CODEC_OK);
    cr_assert_eq(id, ASW_SCHEMA_ID_REFUND_RECORD);
    cr_assert_eq(asw_codec_encode_state(c, o, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_peek_id(b.data, b.len, &id), ASW_CODEC_OK);
    cr_assert_eq(id, ASW_SCHEMA_ID_ORDER_STATE);
    asw_order_destroy(o);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

/* event_of(t) as its .avsc lays it out, written here field by field, so that
 * the codec's one field table per event is checked against a listing it
 * does not share. */
static void put_event(asw_buf *b, const asw_event *ev) {
    static const int32_t ids[ASW_EV__COUNT] = {ASW_SCHEMA_ID_APPLIED,     ASW_SCHEMA_ID_WITHDRAWN,
                                               ASW_SCHEMA_ID_CLOSED,      ASW_SCHEMA_ID_SUCCEEDED,
                                               ASW_SCHEMA_ID_CLAWED_BACK, ASW_SCHEMA_ID_EXTERNAL};
    bool refund = ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL;
    put_frame(b, ids[ev->type]);
    put_str(b, ev->event_id);
    put_str(b, ev->order_id);
    put_long(b, ev->event_time);
    put_str(b, refund ? ev->refund_id : ev->aftersale_id);
    put_str(b, ev->sku_order_id);
    switch (ev->type) {
    case ASW_EV_APPLIED:
        put_str(b, ev->shop_id);
        put_long(b, ev->initiator);
        put_long(b, ev->aftersale_type);
        put_long(b, ev->amount); /* apply_amount */
        put_long(b, ev->order.order_status);
        put_long(b, ev->order.goods_type);
        put_bool(b, ev->order.cross_border);
        put_long(b, ev->order.order_paid_amount);
        put_long(b, ev->order.sku_paid_amount);
        put_long(b, ev->order.has_deadline); /* the union's branch */
        if (ev->order.has_deadline)
            put_long(b, ev->order.aftersale_deadline);
        break;
    case ASW_EV_WITHDRAWN:
        break;
    case ASW_EV_CLOSED:
        put_long(b, ev->close_reason);
        break;
    case ASW_EV_SUCCEEDED:
        put_long(b, ev->amount); /* refund_amount */
        put_long(b, ev->order_paid_amount);
        put_long(b, ev->sku_paid_amount);
        break;
    case ASW_EV_CLAWED_BACK:
        put_long(b, ev->amount);
        break;
    default:
        put_str(b, ev->shop_id);
        put_long(b, ev->kind);
        put_long(b, ev->amount);
        put_long(b, ev->order_paid_amount);
        put_long(b, ev->sku_paid_amount);
        break;
    }
}

Test(codec, events_are_the_bytes_of_their_avsc_both_ways) {
    asw_codec *fast = codec_or_die(), *slow = codec_or_die();
    asw_codec_set_fast_path(slow, false);
    asw_buf mine = ASW_BUF_INIT, theirs = ASW_BUF_INIT;
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        for (int deadline = 0; deadline < (t == ASW_EV_APPLIED ? 2 : 1); deadline++) {
            asw_event in = event_of((asw_event_type)t), a, b;
            in.order.has_deadline = in.order.has_deadline && deadline == 0;
            char err[256] = "";
            put_event(&theirs, &in);
            cr_assert_eq(asw_codec_encode_event(fast, &in, &mine), ASW_CODEC_OK);
            cr_assert(mine.len == theirs.len && memcmp(mine.data, theirs.data, mine.len) == 0,
                      "%s: the encoder writes other bytes", asw_event_type_name((asw_event_type)t));
            cr_assert_eq(asw_codec_decode_event(fast, theirs.data, theirs.len, &a, err, sizeof err),
                         ASW_CODEC_OK, "%s", err);
            cr_assert_eq(asw_codec_decode_event(slow, theirs.data, theirs.len, &b, err, sizeof err),
                         ASW_CODEC_OK, "%s", err);
            assert_event_eq(&in, &a);
            assert_event_eq(&in, &b);
            asw_event_clear(&in);
            asw_event_clear(&a);
            asw_event_clear(&b);
        }
    }
    asw_buf_free(&mine);
    asw_buf_free(&theirs);
    asw_codec_destroy(fast);
    asw_codec_destroy(slow);
}

Test(codec, decision_with_several_reasons_round_trips) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    asw_decision in = sample_decision(), out;
    char err[256] = "";
    cr_assert_eq(asw_codec_encode_decision(c, &in, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_decision(c, b.data, b.len, &out, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    cr_assert_str_eq(out.aftersale_id, in.aftersale_id);
    cr_assert_str_eq(out.order_id, in.order_id);
    cr_assert_str_eq(out.sku_order_id, in.sku_order_id);
    cr_assert_str_eq(out.shop_id, in.shop_id);
    cr_assert_eq(out.initiator, in.initiator);
    cr_assert_eq(out.outcome, in.outcome);
    cr_assert_eq(out.reasons, in.reasons);
    cr_assert_eq(out.applications_used, in.applications_used);
    cr_assert_eq(out.applications_limit, in.applications_limit);
    cr_assert_eq(out.order_remaining, in.order_remaining);
    cr_assert_eq(out.sku_remaining, in.sku_remaining);
    cr_assert_eq(out.multi_refund, in.multi_refund);
    cr_assert_eq(out.sku_prior_refunds, in.sku_prior_refunds);
    cr_assert_eq(out.duplicate, in.duplicate);
    cr_assert_eq(out.event_time, in.event_time);
    cr_assert_str_eq(out.ruleset_version, in.ruleset_version);
    cr_assert_str_eq(out.source_topic, in.source_topic);
    cr_assert_eq(out.source_partition, in.source_partition);
    cr_assert_eq(out.source_offset, in.source_offset);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, accepted_decision_has_no_reasons) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    asw_decision in = sample_decision(), out;
    in.outcome = ASW_OUT_ACCEPTED;
    in.reasons = 0;
    cr_assert_eq(asw_codec_encode_decision(c, &in, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_decision(c, b.data, b.len, &out, NULL, 0), ASW_CODEC_OK);
    cr_assert_eq(out.reasons, 0);
    cr_assert_eq(out.outcome, ASW_OUT_ACCEPTED);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, refund_record_round_trips_with_nulls_and_with_values) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    for (int nulls = 0; nulls < 2; nulls++) {
        asw_refund_record in = sample_record(nulls), out;
        char err[256] = "";
        cr_assert_eq(asw_codec_encode_record(c, &in, &b), ASW_CODEC_OK);
        cr_assert_eq(asw_codec_decode_record(c, b.data, b.len, &out, err, sizeof err), ASW_CODEC_OK,
                     "%s", err);
        assert_record_eq(&in, &out);
    }
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, order_state_round_trips_equal) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT, again = ASW_BUF_INIT;
    asw_order *in = sample_state(), *out = NULL;
    char err[256] = "";
    cr_assert_eq(asw_codec_encode_state(c, in, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &out, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    cr_assert(asw_order_equal(in, out));
    /* The bytes of a state depend on the state only. */
    cr_assert_eq(asw_codec_encode_state(c, out, &again), ASW_CODEC_OK);
    cr_assert_eq(again.len, b.len);
    cr_assert_eq(memcmp(again.data, b.data, b.len), 0);
    asw_order_destroy(in);
    asw_order_destroy(out);
    asw_buf_free(&b);
    asw_buf_free(&again);
    asw_codec_destroy(c);
}

Test(codec, empty_order_state_round_trips_equal) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    asw_order *in = asw_order_new("O2"), *out = NULL;
    cr_assert_eq(asw_codec_encode_state(c, in, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &out, NULL, 0), ASW_CODEC_OK);
    cr_assert(asw_order_equal(in, out));
    cr_assert_eq(out->shop_id, 0, "no shop: the pool's none");
    asw_order_destroy(in);
    asw_order_destroy(out);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, encode_refuses_an_out_of_range_enum) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    asw_event ev = event_of(ASW_EV_APPLIED);
    ev.initiator = (asw_initiator)ASW_INIT__COUNT;
    cr_assert_eq(asw_codec_encode_event(c, &ev, &b), ASW_CODEC_E_SCHEMA);
    asw_decision d = sample_decision();
    d.reasons = (asw_reason_set)(1u << ASW_R__COUNT);
    cr_assert_eq(asw_codec_encode_decision(c, &d, &b), ASW_CODEC_E_SCHEMA);
    asw_event_clear(&ev);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

/* ---- malformed input: one case per error code ---- */

typedef enum { DEC_EVENT, DEC_DECISION, DEC_RECORD, DEC_STATE } decoder;

/* Decode with one of the decoders, freeing whatever it returns. */
static asw_codec_err decode_with(asw_codec *c, decoder d, const void *p, size_t n, char *err,
                                 size_t errlen) {
    asw_codec_err rc;
    switch (d) {
    case DEC_EVENT: {
        asw_event ev;
        rc = asw_codec_decode_event(c, p, n, &ev, err, errlen);
        if (rc != ASW_CODEC_OK)
            cr_assert_null(ev.event_id, "a failed decode leaves the event cleared");
        asw_event_clear(&ev);
        return rc;
    }
    case DEC_DECISION: {
        asw_decision dec;
        return asw_codec_decode_decision(c, p, n, &dec, err, errlen);
    }
    case DEC_RECORD: {
        asw_refund_record r;
        return asw_codec_decode_record(c, p, n, &r, err, errlen);
    }
    default: {
        asw_order *o = NULL;
        rc = asw_codec_decode_state(c, p, n, &o, err, errlen);
        cr_assert((rc == ASW_CODEC_OK) == (o != NULL));
        asw_order_destroy(o);
        return rc;
    }
    }
}

Test(codec, each_malformed_frame_gets_its_own_error) {
    asw_codec *c = codec_or_die();
    asw_event ev;
    asw_decision d = sample_decision();
    asw_buf applied = ASW_BUF_INIT, closed = ASW_BUF_INIT, decision = ASW_BUF_INIT;
    asw_buf w = ASW_BUF_INIT;
    ev = event_of(ASW_EV_APPLIED);
    cr_assert_eq(asw_codec_encode_event(c, &ev, &applied), ASW_CODEC_OK);
    asw_event_clear(&ev);
    ev = event_of(ASW_EV_CLOSED);
    cr_assert_eq(asw_codec_encode_event(c, &ev, &closed), ASW_CODEC_OK);
    asw_event_clear(&ev);
    cr_assert_eq(asw_codec_encode_decision(c, &d, &decision), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_register_writer(c, 100, withdrawn_nullable_id, NULL, 0), ASW_CODEC_OK);

    enum { MAX = 512 };
    struct {
        const char *what;
        decoder dec;
        uint8_t bytes[MAX];
        size_t len;
        asw_codec_err want;
    } cases[16];
    size_t n = 0;
#define CASE(w_, d_, src_, len_, want_)                                                            \
    do {                                                                                           \
        cr_assert_leq((size_t)(len_), (size_t)MAX);                                                \
        cases[n].what = (w_);                                                                      \
        cases[n].dec = (d_);                                                                       \
        memcpy(cases[n].bytes, (src_), (len_));                                                    \
        cases[n].len = (len_);                                                                     \
        cases[n].want = (want_);                                                                   \
        n++;                                                                                       \
    } while (0)

    CASE("empty frame", DEC_EVENT, "", 0, ASW_CODEC_E_SHORT);
    CASE("four bytes", DEC_EVENT, applied.data, 4, ASW_CODEC_E_SHORT);
    CASE("bad magic", DEC_EVENT, applied.data, applied.len, ASW_CODEC_E_MAGIC);
    cases[n - 1].bytes[0] = 1;
    CASE("unknown id", DEC_EVENT, applied.data, applied.len, ASW_CODEC_E_UNKNOWN_SCHEMA);
    cases[n - 1].bytes[4] = 99;
    CASE("decision as event", DEC_EVENT, decision.data, decision.len, ASW_CODEC_E_WRONG_RECORD);
    CASE("event as decision", DEC_DECISION, applied.data, applied.len, ASW_CODEC_E_WRONG_RECORD);
    CASE("event as state", DEC_STATE, applied.data, applied.len, ASW_CODEC_E_WRONG_RECORD);
    CASE("event as record", DEC_RECORD, closed.data, closed.len, ASW_CODEC_E_WRONG_RECORD);
    CASE("truncated body", DEC_EVENT, applied.data, applied.len - 3, ASW_CODEC_E_BODY);
    CASE("header only", DEC_EVENT, applied.data, 5, ASW_CODEC_E_BODY);
    CASE("trailing byte", DEC_EVENT, applied.data, applied.len, ASW_CODEC_E_BODY);
    cases[n - 1].bytes[cases[n - 1].len++] = 0;
    /* event_id's length becomes 2^62: must fail without allocating it */
    CASE("huge string length", DEC_EVENT, applied.data, applied.len, ASW_CODEC_E_BODY);
    memcpy(cases[n - 1].bytes + 5, "\xfe\xff\xff\xff\xff\xff\xff\xff\x7f", 9);
    /* Closed ends with close_reason; index 5 of 3 symbols */
    CASE("enum index 5 of 3", DEC_EVENT, closed.data, closed.len, ASW_CODEC_E_ENUM);
    cases[n - 1].bytes[closed.len - 1] = 10;
    CASE("negative enum index", DEC_EVENT, closed.data, closed.len, ASW_CODEC_E_ENUM);
    cases[n - 1].bytes[closed.len - 1] = 1;
    /* aftersale_id null through a writer where it is nullable */
    put_frame(&w, 100);
    put_str(&w, "ev-1");
    put_str(&w, "O1");
    put_long(&w, 5);
    put_long(&w, 0); /* union branch 0: null */
    put_str(&w, "O1-1");
    CASE("null required field", DEC_EVENT, w.data, w.len, ASW_CODEC_E_MISSING_FIELD);
#undef CASE

    bool seen[ASW_CODEC_E__COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        asw_codec_err rc =
            decode_with(c, cases[i].dec, cases[i].bytes, cases[i].len, err, sizeof err);
        cr_expect_eq(rc, cases[i].want, "%s: got %s (%s), want %s", cases[i].what,
                     asw_codec_err_name(rc), err, asw_codec_err_name(cases[i].want));
        cr_expect_neq(err[0], '\0', "%s: no message", cases[i].what);
        cr_expect_null(strchr(err, '\n'), "%s: message spans lines", cases[i].what);
        seen[rc] = true;
    }
    /* Every decode error has a case (E_SCHEMA is register_writer's). */
    for (int e = ASW_CODEC_E_SHORT; e < ASW_CODEC_E__COUNT; e++)
        if (e != ASW_CODEC_E_SCHEMA)
            cr_expect(seen[e], "no case for %s", asw_codec_err_name((asw_codec_err)e));

    /* The same frame, valid, decodes: the failures above are about the bytes. */
    put_frame(&w, 100);
    put_str(&w, "ev-1");
    put_str(&w, "O1");
    put_long(&w, 5);
    put_long(&w, 1);
    put_str(&w, "A1");
    put_str(&w, "O1-1");
    asw_event ok;
    cr_assert_eq(asw_codec_decode_event(c, w.data, w.len, &ok, NULL, 0), ASW_CODEC_OK);
    cr_assert_str_eq(ok.aftersale_id, "A1");
    cr_assert_eq(ok.type, ASW_EV_WITHDRAWN);
    asw_event_clear(&ok);

    asw_buf_free(&applied);
    asw_buf_free(&closed);
    asw_buf_free(&decision);
    asw_buf_free(&w);
    asw_codec_destroy(c);
}

Test(codec, peek_id_reads_the_framing_only) {
    int32_t id = 0;
    const uint8_t frame[] = {0, 0x01, 0x02, 0x03, 0x04};
    cr_assert_eq(asw_codec_peek_id(frame, sizeof frame, &id), ASW_CODEC_OK);
    cr_assert_eq(id, 0x01020304);
    cr_assert_eq(asw_codec_peek_id(frame, 4, &id), ASW_CODEC_E_SHORT);
    cr_assert_eq(asw_codec_peek_id(NULL, 0, &id), ASW_CODEC_E_SHORT);
    const uint8_t bad[] = {1, 0, 0, 0, 1};
    cr_assert_eq(asw_codec_peek_id(bad, sizeof bad, &id), ASW_CODEC_E_MAGIC);
    cr_assert_eq(id, 0x01020304, "id is written on success only");
}

Test(codec, every_error_has_a_distinct_name) {
    for (int a = 0; a < ASW_CODEC_E__COUNT; a++) {
        cr_assert_not_null(asw_codec_err_name((asw_codec_err)a));
        for (int b = a + 1; b < ASW_CODEC_E__COUNT; b++)
            cr_assert_str_neq(asw_codec_err_name((asw_codec_err)a),
                              asw_codec_err_name((asw_codec_err)b));
    }
    cr_assert_str_eq(asw_codec_err_name(ASW_CODEC_E_UNKNOWN_SCHEMA), "UNKNOWN_SCHEMA_ID");
    cr_assert_str_eq(asw_codec_err_name(ASW_CODEC_E__COUNT), "UNKNOWN_ERROR");
}

/* ---- schema resolution ---- */

Test(codec, older_applied_writer_decodes_by_field_name_with_defaults) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    char err[256] = "";
    cr_assert_eq(asw_codec_register_writer(c, 1001, applied_v0, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    put_applied_v0(&b, 1001);
    asw_event ev;
    cr_assert_eq(asw_codec_decode_event(c, b.data, b.len, &ev, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    cr_assert_eq(ev.type, ASW_EV_APPLIED);
    cr_assert_str_eq(ev.event_id, "ev-70");
    cr_assert_str_eq(ev.order_id, "O7");
    cr_assert_eq(ev.event_time, 1600000000000);
    cr_assert_str_eq(ev.shop_id, "s7");
    cr_assert_str_eq(ev.aftersale_id, "A7");
    cr_assert_str_eq(ev.sku_order_id, "O7-1");
    cr_assert_str_eq(ev.refund_id, "");
    cr_assert_eq(ev.initiator, ASW_INIT_BUYER);
    cr_assert_eq(ev.aftersale_type, ASW_AT_REFUND_ONLY_SHIPPED, "enums map by symbol");
    cr_assert_eq(ev.amount, 1234, "int promoted to long");
    cr_assert_eq(ev.order.goods_type, ASW_GT_PHYSICAL);
    cr_assert_eq(ev.order.order_status, ASW_OS_SHIPPED);
    cr_assert_not(ev.order.cross_border);
    cr_assert_eq(ev.order.order_paid_amount, 5000);
    cr_assert_eq(ev.order.sku_paid_amount, 2000);
    cr_assert_eq(ev.order_paid_amount, 5000);
    cr_assert_eq(ev.sku_paid_amount, 2000);
    cr_assert_not(ev.order.has_deadline, "aftersale_deadline takes its default, null");
    asw_event_clear(&ev);

    /* Current frames still decode alongside. */
    asw_event cur = event_of(ASW_EV_APPLIED), back;
    cr_assert_eq(asw_codec_encode_event(c, &cur, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_event(c, b.data, b.len, &back, NULL, 0), ASW_CODEC_OK);
    assert_event_eq(&cur, &back);
    asw_event_clear(&cur);
    asw_event_clear(&back);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, writer_symbol_unknown_to_the_reader_is_an_enum_error) {
    static const char closed_v2[] =
        "{\"type\":\"record\",\"name\":\"AfterSaleClosed\",\"namespace\":\"com.aftersale.worker\","
        "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"order_id\",\"type\":\"string\"},"
        "{\"name\":\"event_time\",\"type\":\"long\"},"
        "{\"name\":\"aftersale_id\",\"type\":\"string\"},"
        "{\"name\":\"sku_order_id\",\"type\":\"string\"},"
        "{\"name\":\"close_reason\",\"type\":{\"type\":\"enum\",\"name\":\"CloseReason\","
        "\"symbols\":[\"FAILED\",\"MERCHANT_REJECTED\",\"PLATFORM_CLOSED\",\"TIMED_OUT\"]}}]}";
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    char err[256] = "";
    cr_assert_eq(asw_codec_register_writer(c, 300, closed_v2, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    asw_event ev;
    for (int sym = 0; sym < 4; sym++) {
        put_frame(&b, 300);
        put_str(&b, "ev-1");
        put_str(&b, "O1");
        put_long(&b, 5);
        put_str(&b, "A1");
        put_str(&b, "O1-1");
        put_long(&b, sym);
        asw_codec_err rc = asw_codec_decode_event(c, b.data, b.len, &ev, err, sizeof err);
        if (sym == 3) {
            cr_assert_eq(rc, ASW_CODEC_E_ENUM, "TIMED_OUT: %s", asw_codec_err_name(rc));
        } else {
            static const asw_close_reason want[] = {ASW_CR_FAILED, ASW_CR_MERCHANT_REJECTED,
                                                    ASW_CR_PLATFORM_CLOSED};
            cr_assert_eq(rc, ASW_CODEC_OK, "%s", err);
            cr_assert_eq(ev.close_reason, want[sym]);
        }
        asw_event_clear(&ev);
    }
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, register_writer_refuses_what_cannot_be_resolved) {
    static const struct {
        const char *what;
        const char *json;
    } bad[] = {
        {"not JSON", "{\"type\":"},
        {"not a record", "\"string\""},
        {"unknown record",
         "{\"type\":\"record\",\"name\":\"Refund\",\"namespace\":\"com.aftersale.worker\","
         "\"fields\":[]}"},
        {"other namespace",
         "{\"type\":\"record\",\"name\":\"AfterSaleWithdrawn\",\"namespace\":\"com.example\","
         "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
         "{\"name\":\"order_id\",\"type\":\"string\"},{\"name\":\"event_time\",\"type\":\"long\"},"
         "{\"name\":\"aftersale_id\",\"type\":\"string\"},"
         "{\"name\":\"sku_order_id\",\"type\":\"string\"}]}"},
        {"lacks a field without default",
         "{\"type\":\"record\",\"name\":\"AfterSaleWithdrawn\",\"namespace\":\"com.aftersale."
         "worker\","
         "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
         "{\"name\":\"order_id\",\"type\":\"string\"},{\"name\":\"event_time\",\"type\":\"long\"},"
         "{\"name\":\"sku_order_id\",\"type\":\"string\"}]}"},
        {"incompatible field type",
         "{\"type\":\"record\",\"name\":\"AfterSaleWithdrawn\",\"namespace\":\"com.aftersale."
         "worker\","
         "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
         "{\"name\":\"order_id\",\"type\":\"string\"},{\"name\":\"event_time\",\"type\":\"long\"},"
         "{\"name\":\"aftersale_id\",\"type\":\"long\"},"
         "{\"name\":\"sku_order_id\",\"type\":\"string\"}]}"},
    };
    asw_codec *c = codec_or_die();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        cr_expect_eq(asw_codec_register_writer(c, 500 + (int32_t)i, bad[i].json, err, sizeof err),
                     ASW_CODEC_E_SCHEMA, "%s", bad[i].what);
        cr_expect_neq(err[0], '\0', "%s: no message", bad[i].what);
        /* Nothing was registered. */
        const uint8_t frame[] = {0, 0, 0, (uint8_t)((500 + i) >> 8), (uint8_t)(500 + i), 0};
        cr_expect_eq(decode_with(c, DEC_EVENT, frame, sizeof frame, NULL, 0),
                     ASW_CODEC_E_UNKNOWN_SCHEMA, "%s", bad[i].what);
    }
    asw_codec_destroy(c);
}

Test(codec, an_id_is_bound_once) {
    asw_codec *c = codec_or_die();
    cr_assert_eq(asw_codec_register_writer(c, 77, applied_v0, NULL, 0), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_register_writer(c, 77, applied_v0, NULL, 0), ASW_CODEC_OK,
                 "identical text again is a no-op");
    cr_assert_eq(asw_codec_register_writer(c, 77, withdrawn_nullable_id, NULL, 0),
                 ASW_CODEC_E_SCHEMA);
    cr_assert_eq(asw_codec_register_writer(c, ASW_SCHEMA_ID_APPLIED, applied_v0, NULL, 0),
                 ASW_CODEC_E_SCHEMA, "built-in ids are bound too");
    asw_codec_destroy(c);
}

/* The text of schemas/<name>.avsc (ctest sets ASW_SOURCE_DIR). */
static char *read_schema(const char *name) {
    const char *dir = getenv("ASW_SOURCE_DIR");
    char path[1024];
    cr_assert_not_null(dir, "ASW_SOURCE_DIR is not set (run through ctest)");
    snprintf(path, sizeof path, "%s/schemas/%s.avsc", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    cr_assert_gt(n, 0);
    return text;
}

/* Re-frame b under another id. */
static void reframe(asw_buf *b, int32_t id) {
    b->data[1] = (uint8_t)(id >> 24);
    b->data[2] = (uint8_t)(id >> 16);
    b->data[3] = (uint8_t)(id >> 8);
    b->data[4] = (uint8_t)id;
}

Test(codec, current_schemas_under_registry_ids_decode_like_builtin_ones) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    char err[256] = "";
    static const char *const events[ASW_EV__COUNT] = {"AfterSaleApplied", "AfterSaleWithdrawn",
                                                      "AfterSaleClosed",  "AfterSaleSucceeded",
                                                      "RefundClawedBack", "ExternalRefundRecorded"};
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        char *text = read_schema(events[t]);
        cr_assert_eq(asw_codec_register_writer(c, 2000 + t, text, err, sizeof err), ASW_CODEC_OK,
                     "%s: %s", events[t], err);
        free(text);
        asw_event in = event_of((asw_event_type)t), out;
        cr_assert_eq(asw_codec_encode_event(c, &in, &b), ASW_CODEC_OK);
        reframe(&b, 2000 + t);
        cr_assert_eq(asw_codec_decode_event(c, b.data, b.len, &out, err, sizeof err), ASW_CODEC_OK,
                     "%s: %s", events[t], err);
        assert_event_eq(&in, &out);
        asw_event_clear(&in);
        asw_event_clear(&out);
    }

    char *text = read_schema("Decision");
    cr_assert_eq(asw_codec_register_writer(c, 2010, text, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    free(text);
    asw_decision d = sample_decision(), dout;
    cr_assert_eq(asw_codec_encode_decision(c, &d, &b), ASW_CODEC_OK);
    reframe(&b, 2010);
    cr_assert_eq(asw_codec_decode_decision(c, b.data, b.len, &dout, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    cr_assert_eq(dout.reasons, d.reasons);
    cr_assert_str_eq(dout.source_topic, d.source_topic);

    text = read_schema("RefundRecord");
    cr_assert_eq(asw_codec_register_writer(c, 2011, text, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    free(text);
    for (int nulls = 0; nulls < 2; nulls++) {
        asw_refund_record r = sample_record(nulls), rout;
        cr_assert_eq(asw_codec_encode_record(c, &r, &b), ASW_CODEC_OK);
        reframe(&b, 2011);
        cr_assert_eq(asw_codec_decode_record(c, b.data, b.len, &rout, err, sizeof err),
                     ASW_CODEC_OK, "%s", err);
        assert_record_eq(&r, &rout);
    }

    text = read_schema("OrderState");
    cr_assert_eq(asw_codec_register_writer(c, 2020, text, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    free(text);
    asw_order *o = sample_state(), *oout = NULL;
    cr_assert_eq(asw_codec_encode_state(c, o, &b), ASW_CODEC_OK);
    reframe(&b, 2020);
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &oout, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    cr_assert(asw_order_equal(o, oout));
    asw_order_destroy(o);
    asw_order_destroy(oout);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

Test(codec, state_from_a_writer_with_only_the_required_fields_takes_defaults) {
    /* The smallest OrderState a writer could have sent: every other field
     * of the reader has a default. */
    static const char state_v0[] =
        "{\"type\":\"record\",\"name\":\"OrderState\",\"namespace\":\"com.aftersale.worker\","
        "\"fields\":[{\"name\":\"order_id\",\"type\":\"string\"},"
        "{\"name\":\"paid\",\"type\":\"long\"}]}";
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    char err[256] = "";
    cr_assert_eq(asw_codec_register_writer(c, 3000, state_v0, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    put_frame(&b, 3000);
    put_str(&b, "O5");
    put_long(&b, 9900);
    asw_order *o = NULL;
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &o, err, sizeof err), ASW_CODEC_OK, "%s",
                 err);
    asw_order *want = asw_order_new("O5");
    want->paid = 9900;
    cr_assert(asw_order_equal(o, want));
    asw_order_destroy(o);
    asw_order_destroy(want);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

/* Found by fuzz/fuzz_state_decode: a state whose application is no longer
 * OPEN but still reserves money was decoded, and its frozen form (which
 * keeps a reservation for OPEN applications only) thawed to another state,
 * so what the worker decided depended on whether the order had been frozen.
 * The schema says such a reservation is 0; a state that holds one is
 * corrupt. */
Test(codec, a_state_whose_ended_application_still_reserves_is_corrupt) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    char err[256] = "";
    asw_order *o = asw_order_new("O1");
    o->paid = 10000;
    asw_order_put_sku(o, "O1-1", 10000, 0, 0, 0, true);
    asw_order_put_app(o, "A1", true, "O1-1", "s1", true, ASW_AT_RETURN_AND_REFUND,
                      ASW_APP_WITHDRAWN, 4, NULL);
    cr_assert_eq(asw_codec_encode_state(c, o, &b), ASW_CODEC_OK);
    asw_order *back = NULL;
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &back, err, sizeof err), ASW_CODEC_E_BODY,
                 "decoded: %s", err);
    cr_assert_null(back);
    cr_assert(strstr(err, "WITHDRAWN reserves 4"), "%s", err);

    /* The same application without the reservation is sound, and freezes
     * exactly. */
    asw_order_put_app(o, "A1", true, "O1-1", "s1", true, ASW_AT_RETURN_AND_REFUND,
                      ASW_APP_WITHDRAWN, 0, NULL);
    cr_assert_eq(asw_codec_encode_state(c, o, &b), ASW_CODEC_OK);
    cr_assert_eq(asw_codec_decode_state(c, b.data, b.len, &back, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    asw_buf frozen = ASW_BUF_INIT;
    asw_order_freeze(back, "t", &frozen);
    asw_order *thawed = asw_order_thaw(frozen.data, frozen.len, "t");
    cr_assert(asw_order_equal(back, thawed));
    asw_order_destroy(thawed);
    asw_order_destroy(back);
    asw_order_destroy(o);
    asw_buf_free(&frozen);
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

/* With fuzz/fuzz_state_decode's finding on the changelog's own records:
 * an Avro state whose amounts the ledger cannot compute with is corrupt
 * too (paid below zero alone is not: an earlier version could write it). */
Test(codec, a_state_whose_amounts_the_ledger_cannot_hold_is_corrupt) {
    asw_codec *c = codec_or_die();
    asw_buf b = ASW_BUF_INIT;
    static const struct {
        int64_t paid, refunded, reserved;
        bool sound;
    } cases[] = {
        {-1, 0, 0, true},         {10000, 20000, 0, true},   {INT64_MAX, INT64_MAX, 0, true},
        {0, INT64_MAX, 1, false}, {-2, INT64_MAX, 0, false}, {0, -1, 0, false},
        {0, 0, INT64_MIN, false},
    };
    for (int on_sku = 0; on_sku < 2; on_sku++) {
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            asw_order *o = asw_order_new("O1"), *back = NULL;
            if (on_sku) {
                asw_order_put_sku(o, "O1-1", cases[i].paid, cases[i].refunded, cases[i].reserved, 0,
                                  true);
            } else {
                o->paid = cases[i].paid;
                o->refunded = cases[i].refunded;
                o->reserved = cases[i].reserved;
            }
            char err[256] = "";
            cr_assert_eq(asw_codec_encode_state(c, o, &b), ASW_CODEC_OK);
            asw_codec_err rc = asw_codec_decode_state(c, b.data, b.len, &back, err, sizeof err);
            cr_assert_eq(rc, cases[i].sound ? ASW_CODEC_OK : ASW_CODEC_E_BODY, "case %zu%s: %s", i,
                         on_sku ? " (sub-order)" : "", err);
            asw_order_destroy(back);
            asw_order_destroy(o);
        }
    }
    asw_buf_free(&b);
    asw_codec_destroy(c);
}

/* ---- robustness ---- */

static uint64_t rng_state;

static uint64_t rng(void) {
    /* xorshift64*: deterministic across platforms */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

Test(codec, mutated_frames_decode_or_fail_cleanly, .timeout = 120) {
    asw_codec *c = codec_or_die();
    cr_assert_eq(asw_codec_register_writer(c, 1001, applied_v0, NULL, 0), ASW_CODEC_OK);

    /* Valid frames of every record, with the decoder each belongs to. */
    enum { N_SEEDS = ASW_EV__COUNT + 5 };
    asw_buf seeds[N_SEEDS];
    decoder seed_dec[N_SEEDS];
    for (int i = 0; i < N_SEEDS; i++)
        seeds[i] = (asw_buf)ASW_BUF_INIT;
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = event_of((asw_event_type)t);
        cr_assert_eq(asw_codec_encode_event(c, &ev, &seeds[t]), ASW_CODEC_OK);
        seed_dec[t] = DEC_EVENT;
        asw_event_clear(&ev);
    }
    asw_decision d = sample_decision();
    asw_refund_record r0 = sample_record(false), r1 = sample_record(true);
    asw_order *o = sample_state();
    cr_assert_eq(asw_codec_encode_decision(c, &d, &seeds[ASW_EV__COUNT]), ASW_CODEC_OK);
    seed_dec[ASW_EV__COUNT] = DEC_DECISION;
    cr_assert_eq(asw_codec_encode_record(c, &r0, &seeds[ASW_EV__COUNT + 1]), ASW_CODEC_OK);
    seed_dec[ASW_EV__COUNT + 1] = DEC_RECORD;
    cr_assert_eq(asw_codec_encode_record(c, &r1, &seeds[ASW_EV__COUNT + 2]), ASW_CODEC_OK);
    seed_dec[ASW_EV__COUNT + 2] = DEC_RECORD;
    cr_assert_eq(asw_codec_encode_state(c, o, &seeds[ASW_EV__COUNT + 3]), ASW_CODEC_OK);
    seed_dec[ASW_EV__COUNT + 3] = DEC_STATE;
    put_applied_v0(&seeds[ASW_EV__COUNT + 4], 1001);
    seed_dec[ASW_EV__COUNT + 4] = DEC_EVENT;
    asw_order_destroy(o);

    rng_state = 0x5eed0fa57e11ULL;
    uint8_t frame[2048];
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        int s = (int)(rng() % N_SEEDS);
        size_t len = seeds[s].len;
        cr_assert_leq(len, sizeof frame - 16);
        memcpy(frame, seeds[s].data, len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = 5 + (size_t)(rng() % (len - 5)); /* keep the header mostly */
            switch (rng() % 6) {
            case 0: /* flip a bit */
                frame[at] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1: /* random byte */
                frame[at] = (uint8_t)rng();
                break;
            case 2: /* a long varint: huge lengths and counts */
                frame[at] = 0xff;
                break;
            case 3: /* truncate */
                len = at;
                break;
            case 4: /* insert a byte */
                memmove(frame + at + 1, frame + at, len - at);
                frame[at] = (uint8_t)rng();
                len++;
                break;
            default: /* any byte, header included */
                frame[rng() % len] = (uint8_t)rng();
                break;
            }
            if (len <= 5)
                break;
        }
        /* Both the decoder the seed belongs to and the event decoder. */
        decoder decs[2] = {seed_dec[s], DEC_EVENT};
        for (int k = 0; k < 2; k++) {
            char err[256] = "";
            if (decs[k] == DEC_EVENT) {
                asw_event ev;
                asw_codec_err rc = asw_codec_decode_event(c, frame, len, &ev, err, sizeof err);
                cr_assert((int)rc >= 0 && rc < ASW_CODEC_E__COUNT);
                if (rc == ASW_CODEC_OK) {
                    /* Whatever decodes is a well-formed event. */
                    cr_assert((int)ev.type >= 0 && ev.type < ASW_EV__COUNT);
                    cr_assert((int)ev.initiator >= 0 && ev.initiator < ASW_INIT__COUNT);
                    cr_assert((int)ev.aftersale_type >= 0 && ev.aftersale_type < ASW_AT__COUNT);
                    cr_assert((int)ev.close_reason >= 0 && ev.close_reason < ASW_CR__COUNT);
                    cr_assert((int)ev.kind >= 0 && ev.kind < ASW_EK__COUNT);
                    cr_assert((int)ev.order.order_status >= 0 &&
                              ev.order.order_status < ASW_OS__COUNT);
                    cr_assert((int)ev.order.goods_type >= 0 && ev.order.goods_type < ASW_GT__COUNT);
                    cr_assert(ev.event_id && ev.order_id && ev.aftersale_id && ev.refund_id &&
                              ev.sku_order_id && ev.shop_id);
                    ok++;
                } else {
                    cr_assert_null(ev.event_id);
                    cr_assert_null(strchr(err, '\n'));
                    failed++;
                }
                asw_event_clear(&ev);
            } else {
                asw_codec_err rc = decode_with(c, decs[k], frame, len, err, sizeof err);
                cr_assert((int)rc >= 0 && rc < ASW_CODEC_E__COUNT);
                if (rc == ASW_CODEC_OK)
                    ok++;
                else
                    failed++;
            }
        }
    }
    cr_log_info("mutations: %d decoded, %d failed", ok, failed);
    /* The loop exercised both outcomes. */
    cr_assert_gt(ok, 100);
    cr_assert_gt(failed, 100);
    for (int i = 0; i < N_SEEDS; i++)
        asw_buf_free(&seeds[i]);
    asw_codec_destroy(c);
}

Test(codec, random_bytes_after_a_valid_header_fail_cleanly) {
    asw_codec *c = codec_or_die();
    uint8_t frame[64];
    rng_state = 42;
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = 5 + (size_t)(rng() % (sizeof frame - 5));
        for (size_t i = 0; i < len; i++)
            frame[i] = (uint8_t)rng();
        frame[0] = 0;
        frame[1] = frame[2] = frame[3] = 0;
        static const uint8_t ids[] = {1, 2, 3, 4, 5, 6, 10, 11, 20};
        frame[4] = ids[rng() % sizeof ids];
        for (int d = DEC_EVENT; d <= DEC_STATE; d++) {
            asw_codec_err rc = decode_with(c, (decoder)d, frame, len, NULL, 0);
            cr_assert((int)rc >= 0 && rc < ASW_CODEC_E__COUNT);
        }
    }
    asw_codec_destroy(c);
}

/* ---- the outputs' bytes against avro-c's generic writer ---- */

#include <avro.h>

#include "asw/gen.h"
#include "asw/ledger.h"
#include "asw/outputs.h"
#include "asw/store.h"

extern const struct asw_embedded_schema {
    const char *name;
    const char *text;
} asw_embedded_schemas[];

/* The body avro-c writes for `obj` with the generic value API, setting each
 * field of the .avsc by name (the way the codec wrote outputs before it
 * wrote them from its field tables). */
static void generic_body(const char *schema_name, const asw_output_def *def, const void *obj,
                         asw_buf *out) {
    const char *text = NULL;
    for (int i = 0; asw_embedded_schemas[i].name; i++)
        if (strcmp(asw_embedded_schemas[i].name, schema_name) == 0)
            text = asw_embedded_schemas[i].text;
    cr_assert_not_null(text, "%s", schema_name);
    avro_schema_t schema;
    cr_assert_eq(avro_schema_from_json_length(text, strlen(text), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    cr_assert_eq(avro_generic_value_new(iface, &v), 0);
    for (size_t i = 0; i < def->n_fields; i++) {
        const asw_output_field *f = &def->fields[i];
        avro_value_t fv, b, item;
        cr_assert_eq(avro_value_get_by_name(&v, f->name, &fv, NULL), 0, "%s", f->name);
        const char *s;
        int64_t x;
        switch (f->type) {
        case ASW_F_STR:
            s = asw_field_str(obj, f);
            avro_value_set_string(&fv, s ? s : "");
            break;
        case ASW_F_OPT_STR:
            s = asw_field_str(obj, f);
            avro_value_set_branch(&fv, s ? 1 : 0, &b);
            if (s)
                avro_value_set_string(&b, s);
            else
                avro_value_set_null(&b);
            break;
        case ASW_F_INT:
            avro_value_set_int(&fv, (int32_t)asw_field_int(obj, f));
            break;
        case ASW_F_LONG:
            avro_value_set_long(&fv, asw_field_int(obj, f));
            break;
        case ASW_F_BOOL:
            avro_value_set_boolean(&fv, asw_field_bool(obj, f));
            break;
        case ASW_F_ENUM:
            avro_value_set_enum(&fv, (int)asw_field_int(obj, f));
            break;
        case ASW_F_OPT_ENUM:
            avro_value_set_branch(&fv, asw_field_has(obj, f) ? 1 : 0, &b);
            if (asw_field_has(obj, f))
                avro_value_set_enum(&b, (int)asw_field_int(obj, f));
            else
                avro_value_set_null(&b);
            break;
        default:
            x = asw_field_int(obj, f);
            for (int r = 0; r < f->e->count; r++)
                if (x & (1LL << r)) {
                    avro_value_append(&fv, &item, NULL);
                    avro_value_set_enum(&item, r);
                }
            break;
        }
    }
    size_t size;
    cr_assert_eq(avro_value_sizeof(&v, &size), 0);
    asw_buf_reset(out);
    asw_buf_reserve(out, size);
    avro_writer_t w = avro_writer_memory((char *)out->data, (int64_t)size);
    cr_assert_eq(avro_value_write(w, &v), 0);
    out->len = size;
    avro_writer_free(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}

Test(codec, outputs_are_the_bytes_avro_c_writes) {
    /* Every decision and refund record of generated streams (every reason,
     * origin, status, null and non-null union), encoded from the field
     * tables, equals avro-c's generic encoding of the same values. */
    asw_codec *codec = codec_or_die();
    asw_ruleset *rules = asw_ruleset_new();
    asw_ruleset_set_shops(rules, "s0,s1,s2,s3");
    asw_buf mine = ASW_BUF_INIT, theirs = ASW_BUF_INIT;
    long decisions = 0, records = 0, null_shops = 0, reasons = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        asw_gen *g = asw_gen_new(seed, 200, 8);
        asw_store *store = asw_store_new();
        asw_source src = {"events", 2, 0};
        asw_event ev;
        while (asw_gen_next(g, &ev)) {
            asw_result res;
            asw_order_apply(asw_store_get_or_create(store, ev.order_id), rules, &ev, &src, &res);
            src.offset += 977;
            if (res.has_decision) {
                cr_assert_eq(asw_codec_encode_decision(codec, &res.decision, &mine), ASW_CODEC_OK);
                generic_body("Decision", &asw_output_decision, &res.decision, &theirs);
                cr_assert(mine.len == theirs.len + 5 &&
                          memcmp(mine.data + 5, theirs.data, theirs.len) == 0);
                decisions++;
                reasons += res.decision.reasons != 0;
            }
            if (res.has_record) {
                cr_assert_eq(asw_codec_encode_record(codec, &res.record, &mine), ASW_CODEC_OK);
                generic_body("RefundRecord", &asw_output_record, &res.record, &theirs);
                cr_assert(mine.len == theirs.len + 5 &&
                          memcmp(mine.data + 5, theirs.data, theirs.len) == 0);
                records++;
                null_shops += res.record.shop_id == NULL;
            }
            asw_event_clear(&ev);
        }
        asw_store_destroy(store);
        asw_gen_destroy(g);
    }
    cr_assert_gt(decisions, 500);
    cr_assert_gt(records, 500);
    cr_assert_gt(reasons, 50);
    cr_assert_gt(null_shops, 0, "the null branch of RefundRecord.shop_id is covered");
    asw_buf_free(&mine);
    asw_buf_free(&theirs);
    asw_ruleset_destroy(rules);
    asw_codec_destroy(codec);
}

/* ---- events: the fast path against the generic one ---- */

#include "asw/jsonl.h"

/* rc, the message and the event (as JSON) of one decode. */
static void decode_as_text(asw_codec *c, const void *buf, size_t len, asw_buf *out) {
    asw_event ev;
    char err[256] = "";
    asw_codec_err rc = asw_codec_decode_event(c, buf, len, &ev, err, sizeof err);
    asw_buf_reset(out);
    char head[300];
    int n = snprintf(head, sizeof head, "%d %s\n", (int)rc, rc ? err : "");
    asw_buf_append(out, head, (size_t)n);
    if (rc == ASW_CODEC_OK) {
        asw_jsonl_format_event(&ev, out);
        /* what the JSON form does not show */
        n = snprintf(head, sizeof head, "%s|%s|%s|%lld|%lld\n", ev.aftersale_id, ev.refund_id,
                     ev.shop_id, (long long)ev.order_paid_amount, (long long)ev.sku_paid_amount);
        asw_buf_append(out, head, (size_t)n);
    }
    asw_event_clear(&ev);
}

Test(codec, the_fast_path_decodes_every_frame_as_the_generic_path_does) {
    /* Every event of generated streams, then every truncation and many
     * one-byte changes of each frame: the same rc, message and event. */
    asw_codec *fast = codec_or_die(), *slow = codec_or_die();
    asw_codec_set_fast_path(slow, false);
    asw_buf frame = ASW_BUF_INIT, a = ASW_BUF_INIT, b = ASW_BUF_INIT;
    long frames = 0, ok = 0, refused = 0;
    int types_seen = 0;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        asw_gen *g = asw_gen_new(seed, 60, 8);
        asw_event ev;
        while (asw_gen_next(g, &ev)) {
            types_seen |= 1 << ev.type;
            cr_assert_eq(asw_codec_encode_event(fast, &ev, &frame), ASW_CODEC_OK);
            asw_event_clear(&ev);
            uint8_t *m = malloc(frame.len);
            for (size_t variant = 0; variant <= frame.len * 6; variant++) {
                size_t n = frame.len;
                memcpy(m, frame.data, n);
                if (variant > 0 && variant <= frame.len) {
                    n = variant - 1; /* truncated */
                } else if (variant > frame.len) {
                    size_t k = variant - frame.len - 1;
                    size_t at = 5 + k % (frame.len - 5);
                    static const uint8_t flips[] = {0x01, 0x02, 0x40, 0x80, 0xff};
                    m[at] ^= flips[(k / (frame.len - 5)) % 5];
                }
                decode_as_text(fast, m, n, &a);
                decode_as_text(slow, m, n, &b);
                cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                          "fast:\n%.*s\ngeneric:\n%.*s", (int)a.len, a.data, (int)b.len, b.data);
                frames++;
                if (a.data[0] == '0')
                    ok++;
                else
                    refused++;
            }
            free(m);
        }
        asw_gen_destroy(g);
    }
    cr_assert_eq(types_seen, (1 << ASW_EV__COUNT) - 1, "every event type");
    cr_assert_gt(ok, 1000);
    cr_assert_gt(refused, 1000);
    asw_buf_free(&frame);
    asw_buf_free(&a);
    asw_buf_free(&b);
    asw_codec_destroy(fast);
    asw_codec_destroy(slow);
}

/* With a Schema Registry: the contract's built-in ids are gone, the outputs
 * are framed with the registry's, and a registry id equal to a changelog
 * record's built-in id does not confuse the two. */
Test(codec, registry_ids_replace_the_builtin_ones_but_not_the_changelogs) {
    char err[256];
    asw_codec *c = asw_codec_new(err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    asw_codec_forget_builtin_ids(c);
    cr_assert_null(asw_codec_id_record(c, ASW_SCHEMA_ID_DECISION));
    cr_assert_null(asw_codec_id_record(c, ASW_SCHEMA_ID_APPLIED));
    cr_assert_eq(asw_codec_use_id(c, "Decision", ASW_SCHEMA_ID_PARTITION_STATE, err, sizeof err),
                 ASW_CODEC_OK, "%s", err);
    cr_assert_neq(asw_codec_use_id(c, "OrderState", 99, err, sizeof err), ASW_CODEC_OK,
                  "the changelog's records are not the registry's");
    cr_assert_str_eq(asw_codec_id_record(c, ASW_SCHEMA_ID_PARTITION_STATE), "Decision");

    asw_decision d = sample_decision();
    asw_buf buf = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_decision(c, &d, &buf), ASW_CODEC_OK);
    int32_t id;
    cr_assert_eq(asw_codec_peek_id(buf.data, buf.len, &id), ASW_CODEC_OK);
    cr_assert_eq(id, ASW_SCHEMA_ID_PARTITION_STATE);
    asw_decision back;
    cr_assert_eq(asw_codec_decode_decision(c, buf.data, buf.len, &back, err, sizeof err),
                 ASW_CODEC_OK, "%s", err);
    cr_assert_str_eq(back.aftersale_id, d.aftersale_id);

    /* The changelog's PartitionState keeps id 21, in its own space. */
    cr_assert_eq(asw_codec_encode_partition_state(c, 12345, &buf), ASW_CODEC_OK);
    int64_t t = 0;
    cr_assert_eq(asw_codec_decode_partition_state(c, buf.data, buf.len, &t, err, sizeof err),
                 ASW_CODEC_OK, "%s", err);
    cr_assert_eq(t, 12345);

    /* An event framed with a forgotten built-in id is unknown now. */
    asw_codec *plain = asw_codec_new(err, sizeof err);
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    cr_assert_eq(asw_codec_encode_event(plain, &ev, &buf), ASW_CODEC_OK);
    asw_event out;
    cr_assert_eq(asw_codec_decode_event(c, buf.data, buf.len, &out, err, sizeof err),
                 ASW_CODEC_E_UNKNOWN_SCHEMA);
    /* Bound again under a registry id with the current text: decodes. */
    cr_assert_eq(asw_codec_register_writer(c, 501, asw_codec_schema_text("AfterSaleApplied"), err,
                                           sizeof err),
                 ASW_CODEC_OK, "%s", err);
    buf.data[1] = 0, buf.data[2] = 0, buf.data[3] = 501 >> 8, buf.data[4] = 501 & 0xff;
    cr_assert_eq(asw_codec_decode_event(c, buf.data, buf.len, &out, err, sizeof err), ASW_CODEC_OK,
                 "%s", err);
    cr_assert_str_eq(out.aftersale_id, "A1");
    asw_event_clear(&out);
    asw_event_clear(&ev);
    asw_buf_free(&buf);
    asw_codec_destroy(plain);
    asw_codec_destroy(c);
}
