/*
 * jsonl.c -- the JSON Lines forms of events and outputs, on jansson.
 *
 * Parsing is strict about what an event needs (types, required keys, enum
 * symbols) and lenient about what it does not (unknown keys are ignored, so
 * a producer that adds a field does not break the replay). Formatting builds
 * objects in a fixed key order and prints them compact.
 */
#include "asw/jsonl.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/outputs.h"

/* ---- parsing ---- */

typedef struct parser {
    json_t *obj;
    char *err;
    size_t errlen;
    bool failed;
} parser;

__attribute__((format(printf, 2, 3))) static void fail(parser *p, const char *fmt, ...) {
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

static json_t *need(parser *p, json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        fail(p, "missing field '%s'", key);
    return v;
}

static char *get_str(parser *p, json_t *obj, const char *key) {
    json_t *v = need(p, obj, key);
    if (!v)
        return asw_strdup("");
    if (!json_is_string(v)) {
        fail(p, "field '%s' must be a string", key);
        return asw_strdup("");
    }
    return asw_strndup(json_string_value(v), json_string_length(v));
}

static int64_t get_int(parser *p, json_t *obj, const char *key) {
    json_t *v = need(p, obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        fail(p, "field '%s' must be an integer", key);
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

static bool get_bool(parser *p, json_t *obj, const char *key) {
    json_t *v = need(p, obj, key);
    if (v && !json_is_boolean(v))
        fail(p, "field '%s' must be a boolean", key);
    return v && json_is_true(v);
}

/* An enum field: its symbol parsed by `parse` into *out. */
#define GET_ENUM(p, obj, key, parse, out)                                                          \
    do {                                                                                           \
        json_t *v_ = need((p), (obj), (key));                                                      \
        if (!v_)                                                                                   \
            break;                                                                                 \
        if (!json_is_string(v_))                                                                   \
            fail((p), "field '%s' must be a string", (key));                                       \
        else if (parse(json_string_value(v_), (out)) != 0)                                         \
            fail((p), "field '%s': unknown symbol '%s'", (key), json_string_value(v_));            \
    } while (0)

static void parse_snapshot(parser *p, json_t *obj, asw_order_snapshot *s) {
    json_t *o = need(p, obj, "order");
    if (!o)
        return;
    if (!json_is_object(o)) {
        fail(p, "field 'order' must be an object");
        return;
    }
    GET_ENUM(p, o, "order_status", asw_order_status_parse, &s->order_status);
    GET_ENUM(p, o, "goods_type", asw_goods_type_parse, &s->goods_type);
    s->cross_border = get_bool(p, o, "cross_border");
    s->order_paid_amount = get_int(p, o, "order_paid_amount");
    s->sku_paid_amount = get_int(p, o, "sku_paid_amount");
    json_t *d = json_object_get(o, "aftersale_deadline");
    if (d && !json_is_null(d)) {
        s->has_deadline = true;
        s->aftersale_deadline = get_int(p, o, "aftersale_deadline");
    }
}

int asw_jsonl_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen) {
    asw_event_init(ev);
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        if (errlen)
            snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return -1;
    }
    parser p = {.obj = obj, .err = err, .errlen = errlen};
    if (!json_is_object(obj)) {
        fail(&p, "an event must be a JSON object");
        goto done;
    }
    GET_ENUM(&p, obj, "type", asw_event_type_parse, &ev->type);
    if (p.failed)
        goto done;

    ev->event_id = get_str(&p, obj, "event_id");
    ev->order_id = get_str(&p, obj, "order_id");
    ev->event_time = get_int(&p, obj, "event_time");
    ev->sku_order_id = get_str(&p, obj, "sku_order_id");
    switch (ev->type) {
    case ASW_EV_APPLIED:
        ev->aftersale_id = get_str(&p, obj, "aftersale_id");
        ev->shop_id = get_str(&p, obj, "shop_id");
        GET_ENUM(&p, obj, "initiator", asw_initiator_parse, &ev->initiator);
        GET_ENUM(&p, obj, "aftersale_type", asw_aftersale_type_parse, &ev->aftersale_type);
        ev->amount = get_int(&p, obj, "apply_amount");
        parse_snapshot(&p, obj, &ev->order);
        ev->order_paid_amount = ev->order.order_paid_amount;
        ev->sku_paid_amount = ev->order.sku_paid_amount;
        break;
    case ASW_EV_WITHDRAWN:
        ev->aftersale_id = get_str(&p, obj, "aftersale_id");
        break;
    case ASW_EV_CLOSED:
        ev->aftersale_id = get_str(&p, obj, "aftersale_id");
        GET_ENUM(&p, obj, "close_reason", asw_close_reason_parse, &ev->close_reason);
        break;
    case ASW_EV_SUCCEEDED:
        ev->aftersale_id = get_str(&p, obj, "aftersale_id");
        ev->amount = get_int(&p, obj, "refund_amount");
        ev->order_paid_amount = get_int(&p, obj, "order_paid_amount");
        ev->sku_paid_amount = get_int(&p, obj, "sku_paid_amount");
        break;
    case ASW_EV_CLAWED_BACK:
        ev->refund_id = get_str(&p, obj, "refund_id");
        ev->amount = get_int(&p, obj, "amount");
        break;
    case ASW_EV_EXTERNAL:
        ev->refund_id = get_str(&p, obj, "refund_id");
        ev->shop_id = get_str(&p, obj, "shop_id");
        GET_ENUM(&p, obj, "kind", asw_external_kind_parse, &ev->kind);
        ev->amount = get_int(&p, obj, "amount");
        ev->order_paid_amount = get_int(&p, obj, "order_paid_amount");
        ev->sku_paid_amount = get_int(&p, obj, "sku_paid_amount");
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

/* ---- formatting ---- */

static void put_str(json_t *o, const char *key, const char *v) {
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static void put_int(json_t *o, const char *key, int64_t v) {
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void put_bool(json_t *o, const char *key, bool v) {
    json_object_set_new(o, key, json_boolean(v));
}

static void dump(json_t *o, asw_buf *out) {
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    asw_buf_reserve(out, n + 1);
    json_dumpb(o, (char *)out->data + out->len, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    out->len += n;
    out->data[out->len++] = '\n';
    json_decref(o);
}

static json_t *object_of_type(const char *type) {
    json_t *o = json_object();
    put_str(o, "type", type);
    return o;
}

void asw_jsonl_format_event(const asw_event *ev, asw_buf *out) {
    json_t *o = object_of_type(asw_event_type_name(ev->type));
    put_str(o, "event_id", ev->event_id);
    put_str(o, "order_id", ev->order_id);
    put_int(o, "event_time", ev->event_time);
    switch (ev->type) {
    case ASW_EV_APPLIED: {
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "shop_id", ev->shop_id);
        put_str(o, "initiator", asw_initiator_name(ev->initiator));
        put_str(o, "aftersale_type", asw_aftersale_type_name(ev->aftersale_type));
        put_int(o, "apply_amount", ev->amount);
        json_t *s = json_object();
        put_str(s, "order_status", asw_order_status_name(ev->order.order_status));
        put_str(s, "goods_type", asw_goods_type_name(ev->order.goods_type));
        put_bool(s, "cross_border", ev->order.cross_border);
        put_int(s, "order_paid_amount", ev->order.order_paid_amount);
        put_int(s, "sku_paid_amount", ev->order.sku_paid_amount);
        if (ev->order.has_deadline)
            put_int(s, "aftersale_deadline", ev->order.aftersale_deadline);
        else
            json_object_set_new(s, "aftersale_deadline", json_null());
        json_object_set_new(o, "order", s);
        break;
    }
    case ASW_EV_WITHDRAWN:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        break;
    case ASW_EV_CLOSED:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "close_reason", asw_close_reason_name(ev->close_reason));
        break;
    case ASW_EV_SUCCEEDED:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_int(o, "refund_amount", ev->amount);
        put_int(o, "order_paid_amount", ev->order_paid_amount);
        put_int(o, "sku_paid_amount", ev->sku_paid_amount);
        break;
    case ASW_EV_CLAWED_BACK:
        put_str(o, "refund_id", ev->refund_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_int(o, "amount", ev->amount);
        break;
    case ASW_EV_EXTERNAL:
        put_str(o, "refund_id", ev->refund_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "shop_id", ev->shop_id);
        put_str(o, "kind", asw_external_kind_name(ev->kind));
        put_int(o, "amount", ev->amount);
        put_int(o, "order_paid_amount", ev->order_paid_amount);
        put_int(o, "sku_paid_amount", ev->sku_paid_amount);
        break;
    default:
        break;
    }
    dump(o, out);
}

/*
 * The outputs written straight into the buffer, the hottest path of the
 * replay: the same bytes as jansson's compact dump of the same object
 * (JSON_COMPACT | JSON_PRESERVE_ORDER, no JSON_ENSURE_ASCII): `"` and `\`
 * escaped, \b \f \n \r \t by name, other bytes below 0x20 as \u00XX,
 * everything else (UTF-8 included) as it is. Their strings are UTF-8 already
 * (every input is checked when decoded). test_jsonl compares the two.
 */
static void w_raw(asw_buf *b, const char *s, size_t n) {
    asw_buf_append(b, s, n);
}

#define W_LIT(b, lit) w_raw((b), (lit), sizeof(lit) - 1)

static void w_string(asw_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    asw_buf_reserve(b, strlen(s) * 6 + 2);
    char *o = (char *)b->data + b->len, *start = o;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
}

/* ,"key": (the first member of an object writes its own brace) */
static void w_key(asw_buf *b, const char *key) {
    asw_buf_reserve(b, strlen(key) + 4);
    char *o = (char *)b->data + b->len;
    size_t n = strlen(key);
    o[0] = ',';
    o[1] = '"';
    memcpy(o + 2, key, n);
    o[n + 2] = '"';
    o[n + 3] = ':';
    b->len += n + 4;
}

static void w_str(asw_buf *b, const char *key, const char *v) {
    w_key(b, key);
    if (v)
        w_string(b, v);
    else
        W_LIT(b, "null");
}

static void w_int(asw_buf *b, const char *key, int64_t v) {
    w_key(b, key);
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    w_raw(b, tmp, (size_t)n);
}

static void w_bool(asw_buf *b, const char *key, bool v) {
    w_key(b, key);
    if (v)
        W_LIT(b, "true");
    else
        W_LIT(b, "false");
}

/* An output record from its field table (outputs.h). */
static void format_output(const asw_output_def *def, const void *obj, asw_buf *out) {
    W_LIT(out, "{\"type\":");
    w_string(out, def->record);
    for (size_t i = 0; i < def->n_fields; i++) {
        const asw_output_field *f = &def->fields[i];
        switch (f->type) {
        case ASW_F_STR:
        case ASW_F_OPT_STR:
            w_str(out, f->name, asw_field_str(obj, f));
            break;
        case ASW_F_BOOL:
            w_bool(out, f->name, asw_field_bool(obj, f));
            break;
        case ASW_F_ENUM:
            w_str(out, f->name, f->e->symbol((int)asw_field_int(obj, f)));
            break;
        case ASW_F_OPT_ENUM:
            w_str(out, f->name,
                  asw_field_has(obj, f) ? f->e->symbol((int)asw_field_int(obj, f)) : NULL);
            break;
        case ASW_F_REASONS: {
            int64_t set = asw_field_int(obj, f);
            w_key(out, f->name);
            W_LIT(out, "[");
            bool first = true;
            for (int r = 0; r < f->e->count; r++)
                if (set & (1LL << r)) {
                    if (!first)
                        W_LIT(out, ",");
                    first = false;
                    w_string(out, f->e->symbol(r));
                }
            W_LIT(out, "]");
            break;
        }
        default: /* ASW_F_INT, ASW_F_LONG */
            w_int(out, f->name, asw_field_int(obj, f));
            break;
        }
    }
    W_LIT(out, "}\n");
}

void asw_jsonl_format_decision(const asw_decision *d, asw_buf *out) {
    format_output(&asw_output_decision, d, out);
}

void asw_jsonl_format_record(const asw_refund_record *r, asw_buf *out) {
    format_output(&asw_output_record, r, out);
}

void asw_jsonl_format_dead_letter(int64_t line, const char *error, const char *raw, size_t rawlen,
                                  asw_buf *out) {
    json_t *o = object_of_type("DeadLetter");
    put_int(o, "line", line);
    put_str(o, "error", error);
    /* The raw bytes may not be UTF-8, which JSON strings cannot hold: then
     * they go out as hex, so that nothing is lost. */
    json_t *v = json_stringn(raw, rawlen);
    if (v) {
        json_object_set_new(o, "value", v);
    } else {
        static const char digits[] = "0123456789abcdef";
        char *hex = asw_malloc(rawlen * 2 + 1);
        for (size_t i = 0; i < rawlen; i++) {
            hex[2 * i] = digits[(unsigned char)raw[i] >> 4];
            hex[2 * i + 1] = digits[(unsigned char)raw[i] & 15];
        }
        hex[rawlen * 2] = '\0';
        put_str(o, "value_hex", hex);
        free(hex);
    }
    dump(o, out);
}

/* ---- records read back from Kafka ---- */

/* Bytes as lower-case hex in a new string (caller frees). */
static char *hex_of(const void *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    char *hex = asw_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[n * 2] = '\0';
    return hex;
}

/* Bytes as a JSON string when they are UTF-8, else NULL. */
static json_t *utf8_string(const void *p, size_t n) {
    return json_stringn(n ? p : "", n);
}

/* Put bytes under `key` when they are UTF-8, else as hex under `hexkey`;
 * NULL bytes put null under `key`. */
static void put_bytes(json_t *o, const char *key, const char *hexkey, const void *p, size_t n) {
    if (!p) {
        json_object_set_new(o, key, json_null());
        return;
    }
    json_t *v = utf8_string(p, n);
    if (v) {
        json_object_set_new(o, key, v);
        return;
    }
    char *hex = hex_of(p, n);
    put_str(o, hexkey, hex);
    free(hex);
}

static json_t *headers_object(const asw_jsonl_header *h, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = h[i].value ? utf8_string(h[i].value, h[i].len) : json_null();
        if (!v) {
            char *hex = hex_of(h[i].value, h[i].len);
            v = json_object();
            put_str(v, "hex", hex);
            free(hex);
        }
        json_object_set_new(o, h[i].name ? h[i].name : "", v);
    }
    return o;
}

void asw_jsonl_format_kafka_dead_letter(const char *error, const asw_jsonl_header *headers,
                                        size_t nheaders, const void *value, size_t len,
                                        asw_buf *out) {
    json_t *o = object_of_type("DeadLetter");
    put_str(o, "error", error);
    json_object_set_new(o, "headers", headers_object(headers, nheaders));
    put_bytes(o, "value", "value_hex", value ? value : "", len);
    dump(o, out);
}

void asw_jsonl_format_tombstone(const void *key, size_t keylen, asw_buf *out) {
    json_t *o = object_of_type("Tombstone");
    put_bytes(o, "key", "key_hex", key, keylen);
    dump(o, out);
}

void asw_jsonl_format_partition_state(int64_t stream_time, asw_buf *out) {
    json_t *j = object_of_type("PartitionState");
    put_int(j, "stream_time", stream_time);
    dump(j, out);
}

void asw_jsonl_format_state(const asw_order *o, asw_buf *out) {
    json_t *j = object_of_type("OrderState");
    put_str(j, "order_id", asw_order_id(o));
    put_str(j, "shop_id", o->shop_id ? asw_order_str(o, o->shop_id) : NULL);
    put_int(j, "paid", o->paid);
    put_int(j, "refunded", o->refunded);
    put_int(j, "reserved", o->reserved);
    put_int(j, "remaining", asw_order_remaining(o));
    put_bool(j, "prior_success", o->prior_success);
    put_int(j, "applications_used", asw_order_applications_used(o));
    put_int(j, "max_event_time", o->max_event_time);
    if (o->has_deadline)
        put_int(j, "aftersale_deadline", o->deadline);
    else
        json_object_set_new(j, "aftersale_deadline", json_null());

    json_t *skus = json_array();
    for (size_t i = 0; i < o->n_skus; i++) {
        const asw_sku_state *s = &o->skus[i];
        json_t *e = json_object();
        put_str(e, "sku_order_id", asw_order_str(o, s->sku_order_id));
        put_int(e, "paid", s->paid);
        put_int(e, "refunded", s->refunded);
        put_int(e, "reserved", s->reserved);
        put_int(e, "remaining", asw_sku_remaining(s));
        put_int(e, "refund_successes", s->refund_successes);
        json_array_append_new(skus, e);
    }
    json_object_set_new(j, "skus", skus);

    json_t *apps = json_array();
    for (size_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (!a->counted)
            continue;
        json_t *e = json_object();
        put_str(e, "aftersale_id", asw_order_str(o, a->aftersale_id));
        put_str(e, "sku_order_id", asw_order_str(o, a->sku_order_id));
        put_str(e, "shop_id", a->shop_id ? asw_order_str(o, a->shop_id) : NULL);
        put_str(e, "aftersale_type",
                a->has_type ? asw_aftersale_type_name((asw_aftersale_type)a->type) : NULL);
        put_str(e, "state", asw_app_state_name((asw_app_state)a->state));
        put_int(e, "reserved", a->reserved);
        json_array_append_new(apps, e);
    }
    json_object_set_new(j, "applications", apps);

    json_t *ext = json_array();
    for (size_t i = 0; i < o->n_externals; i++) {
        const asw_external *x = &o->externals[i];
        json_t *e = json_object();
        put_str(e, "refund_id", asw_order_str(o, x->refund_id));
        put_str(e, "sku_order_id", asw_order_str(o, x->sku_order_id));
        put_str(e, "kind", asw_external_kind_name((asw_external_kind)x->kind));
        json_array_append_new(ext, e);
    }
    json_object_set_new(j, "external_refunds", ext);
    put_int(j, "decisions", (int64_t)asw_order_decided_count(o));
    put_int(j, "event_ids", (int64_t)o->n_seen);
    dump(j, out);
}

void asw_jsonl_add_kafka_fields(asw_buf *out, size_t start, const asw_jsonl_header *headers,
                                size_t nheaders, int32_t partition, int64_t offset) {
    /* The line is compact JSON ending in "}\n": splice the new keys in
     * before the brace instead of re-parsing what was just printed. */
    if (start >= out->len || out->len - start < 3 || out->data[out->len - 1] != '\n' ||
        out->data[out->len - 2] != '}')
        return;
    bool empty = out->data[out->len - 3] == '{';
    json_t *o = json_object();
    if (headers)
        json_object_set_new(o, "headers", headers_object(headers, nheaders));
    put_int(o, "partition", partition);
    put_int(o, "offset", offset);
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *extra = asw_malloc(n);
    json_dumpb(o, extra, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    /* extra is {"k":v,...}: keep what is between its braces. */
    out->len -= 2;
    if (!empty)
        asw_buf_append(out, ",", 1);
    asw_buf_append(out, extra + 1, n - 2);
    asw_buf_append(out, "}\n", 2);
    free(extra);
}
