/*
 * jsonl_ref.c -- the jansson-based event parser, the reference of
 * asw_jsonl_parse_event; see jsonl_ref.h.
 */
#include "jsonl_ref.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "asw/alloc.h"

typedef struct ref_parser {
    json_t *obj;
    char *err;
    size_t errlen;
    bool failed;
} ref_parser;

__attribute__((format(printf, 2, 3))) static void ref_fail(ref_parser *p, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = true;
    if (p->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

static json_t *ref_need(ref_parser *p, json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        ref_fail(p, "missing field '%s'", key);
    return v;
}

static char *ref_get_str(ref_parser *p, json_t *obj, const char *key) {
    json_t *v = ref_need(p, obj, key);
    if (!v)
        return asw_strdup("");
    if (!json_is_string(v)) {
        ref_fail(p, "field '%s' must be a string", key);
        return asw_strdup("");
    }
    return asw_strndup(json_string_value(v), json_string_length(v));
}

static int64_t ref_get_int(ref_parser *p, json_t *obj, const char *key) {
    json_t *v = ref_need(p, obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        ref_fail(p, "field '%s' must be an integer", key);
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

static bool ref_get_bool(ref_parser *p, json_t *obj, const char *key) {
    json_t *v = ref_need(p, obj, key);
    if (v && !json_is_boolean(v))
        ref_fail(p, "field '%s' must be a boolean", key);
    return v && json_is_true(v);
}

/* An enum field: its symbol parsed by `parse` into *out. */
#define REF_GET_ENUM(p, obj, key, parse, out)                                                      \
    do {                                                                                           \
        json_t *v_ = ref_need((p), (obj), (key));                                                  \
        if (!v_)                                                                                   \
            break;                                                                                 \
        if (!json_is_string(v_))                                                                   \
            ref_fail((p), "field '%s' must be a string", (key));                                   \
        else if (parse(json_string_value(v_), (out)) != 0)                                         \
            ref_fail((p), "field '%s': unknown symbol '%s'", (key), json_string_value(v_));        \
    } while (0)

static void ref_parse_snapshot(ref_parser *p, json_t *obj, asw_order_snapshot *s) {
    json_t *o = ref_need(p, obj, "order");
    if (!o)
        return;
    if (!json_is_object(o)) {
        ref_fail(p, "field 'order' must be an object");
        return;
    }
    REF_GET_ENUM(p, o, "order_status", asw_order_status_parse, &s->order_status);
    REF_GET_ENUM(p, o, "goods_type", asw_goods_type_parse, &s->goods_type);
    s->cross_border = ref_get_bool(p, o, "cross_border");
    s->order_paid_amount = ref_get_int(p, o, "order_paid_amount");
    s->sku_paid_amount = ref_get_int(p, o, "sku_paid_amount");
    json_t *d = json_object_get(o, "aftersale_deadline");
    if (d && !json_is_null(d)) {
        s->has_deadline = true;
        s->aftersale_deadline = ref_get_int(p, o, "aftersale_deadline");
    }
}

int ref_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen) {
    asw_event_init(ev);
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        if (errlen)
            snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return -1;
    }
    ref_parser p = {.obj = obj, .err = err, .errlen = errlen};
    if (!json_is_object(obj)) {
        ref_fail(&p, "an event must be a JSON object");
        goto done;
    }
    REF_GET_ENUM(&p, obj, "type", asw_event_type_parse, &ev->type);
    if (p.failed)
        goto done;

    ev->event_id = ref_get_str(&p, obj, "event_id");
    ev->order_id = ref_get_str(&p, obj, "order_id");
    ev->event_time = ref_get_int(&p, obj, "event_time");
    ev->sku_order_id = ref_get_str(&p, obj, "sku_order_id");
    switch (ev->type) {
    case ASW_EV_APPLIED:
        ev->aftersale_id = ref_get_str(&p, obj, "aftersale_id");
        ev->shop_id = ref_get_str(&p, obj, "shop_id");
        REF_GET_ENUM(&p, obj, "initiator", asw_initiator_parse, &ev->initiator);
        REF_GET_ENUM(&p, obj, "aftersale_type", asw_aftersale_type_parse, &ev->aftersale_type);
        ev->amount = ref_get_int(&p, obj, "apply_amount");
        ref_parse_snapshot(&p, obj, &ev->order);
        ev->order_paid_amount = ev->order.order_paid_amount;
        ev->sku_paid_amount = ev->order.sku_paid_amount;
        break;
    case ASW_EV_WITHDRAWN:
        ev->aftersale_id = ref_get_str(&p, obj, "aftersale_id");
        break;
    case ASW_EV_CLOSED:
        ev->aftersale_id = ref_get_str(&p, obj, "aftersale_id");
        REF_GET_ENUM(&p, obj, "close_reason", asw_close_reason_parse, &ev->close_reason);
        break;
    case ASW_EV_SUCCEEDED:
        ev->aftersale_id = ref_get_str(&p, obj, "aftersale_id");
        ev->amount = ref_get_int(&p, obj, "refund_amount");
        ev->order_paid_amount = ref_get_int(&p, obj, "order_paid_amount");
        ev->sku_paid_amount = ref_get_int(&p, obj, "sku_paid_amount");
        break;
    case ASW_EV_CLAWED_BACK:
        ev->refund_id = ref_get_str(&p, obj, "refund_id");
        ev->amount = ref_get_int(&p, obj, "amount");
        break;
    case ASW_EV_EXTERNAL:
        ev->refund_id = ref_get_str(&p, obj, "refund_id");
        ev->shop_id = ref_get_str(&p, obj, "shop_id");
        REF_GET_ENUM(&p, obj, "kind", asw_external_kind_parse, &ev->kind);
        ev->amount = ref_get_int(&p, obj, "amount");
        ev->order_paid_amount = ref_get_int(&p, obj, "order_paid_amount");
        ev->sku_paid_amount = ref_get_int(&p, obj, "sku_paid_amount");
        break;
    default:
        break;
    }
    /* Fields a type does not carry are "", never NULL. */
    if (!ev->aftersale_id)
        ev->aftersale_id = asw_strdup("");
    if (!ev->refund_id)
        ev->refund_id = asw_strdup("");
    if (!ev->shop_id)
        ev->shop_id = asw_strdup("");
done:
    json_decref(obj);
    if (p.failed) {
        asw_event_clear(ev);
        return -1;
    }
    return 0;
}
