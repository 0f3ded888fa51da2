/*
 * codec_record.c -- the project's records to and from C: the input events,
 * the Decision and RefundRecord outputs, and the OrderState and
 * PartitionState changelog values.
 *
 * Events framed with a built-in schema id are read straight from the bytes
 * (the fast path, below); every other record is read by avro-c into a
 * reader-shaped value (asw_codec_decode_value(), codec.c) and extracted by
 * field name: a field the writer lacked takes its .avsc default, an enum is
 * mapped by symbol name. Decisions and refund records are written straight
 * from outputs.c's field tables; events and states through avro-c's generic
 * value, one reusable value per record (codec_schema.c).
 */
#include "asw/alloc.h"
#include "asw/outputs.h"
#include "asw/varint.h"
#include "codec_int.h"

#include <avro.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- events: one field table per record ---- */

/*
 * Each event record's fields are written down once, in the table below, in
 * the order of its .avsc (asw_codec_new() checks each table against its
 * .avsc: names, order, types). The table drives all three readers and
 * writers of events: the fast path (f_fields), the generic extractor
 * (x_fields) and the encoder (e_fields).
 *
 * An event framed with its built-in schema id (what producers with this
 * version's .avsc write) is read straight from the bytes, without avro-c.
 * The fast path checks everything the generic path checks (every length in
 * bounds, varints of at most 10 bytes that fit 64 bits, ints in range,
 * NUL-free strict UTF-8, booleans 0 or 1, enum and union indexes in range,
 * no trailing bytes); at the first doubt it gives up and the generic path
 * decodes the frame, so every error (and its message) is the generic path's.
 * test_codec compares the two paths on valid and corrupted frames, and both
 * with frames it writes byte by byte itself.
 */
typedef enum in_type { IN_STR, IN_LONG, IN_BOOL, IN_ENUM, IN_OPT_LONG, IN_ORDER } in_type;

typedef struct in_field {
    const char *name;
    in_type type;
    size_t off;     /* in asw_event */
    size_t has_off; /* IN_OPT_LONG: of its has_ flag */
    int e;          /* IN_ENUM: which enum */
} in_field;

_Static_assert(sizeof(asw_initiator) == sizeof(int) && sizeof(asw_aftersale_type) == sizeof(int) &&
                   sizeof(asw_order_status) == sizeof(int) &&
                   sizeof(asw_goods_type) == sizeof(int) &&
                   sizeof(asw_close_reason) == sizeof(int) &&
                   sizeof(asw_external_kind) == sizeof(int),
               "the event tables read and write event enums as int");

#define EV(name, type, member)                                                                     \
    { name, type, offsetof(asw_event, member), 0, 0 }
#define EVE(name, member, e)                                                                       \
    { name, IN_ENUM, offsetof(asw_event, member), 0, e }
#define EV_COMMON(id_name, id_member)                                                              \
    EV("event_id", IN_STR, event_id), EV("order_id", IN_STR, order_id),                            \
        EV("event_time", IN_LONG, event_time), EV(id_name, IN_STR, id_member),                     \
        EV("sku_order_id", IN_STR, sku_order_id)

static const in_field in_order[] = {
    EVE("order_status", order.order_status, E_ORDER_STATUS),
    EVE("goods_type", order.goods_type, E_GOODS_TYPE),
    EV("cross_border", IN_BOOL, order.cross_border),
    EV("order_paid_amount", IN_LONG, order.order_paid_amount),
    EV("sku_paid_amount", IN_LONG, order.sku_paid_amount),
    {"aftersale_deadline", IN_OPT_LONG, offsetof(asw_event, order.aftersale_deadline),
     offsetof(asw_event, order.has_deadline), 0},
};
static const in_field in_applied[] = {
    EV_COMMON("aftersale_id", aftersale_id),
    EV("shop_id", IN_STR, shop_id),
    EVE("initiator", initiator, E_INITIATOR),
    EVE("aftersale_type", aftersale_type, E_AFTERSALE_TYPE),
    EV("apply_amount", IN_LONG, amount),
    EV("order", IN_ORDER, order),
};
static const in_field in_withdrawn[] = {EV_COMMON("aftersale_id", aftersale_id)};
static const in_field in_closed[] = {
    EV_COMMON("aftersale_id", aftersale_id),
    EVE("close_reason", close_reason, E_CLOSE_REASON),
};
static const in_field in_succeeded[] = {
    EV_COMMON("aftersale_id", aftersale_id),
    EV("refund_amount", IN_LONG, amount),
    EV("order_paid_amount", IN_LONG, order_paid_amount),
    EV("sku_paid_amount", IN_LONG, sku_paid_amount),
};
static const in_field in_clawed_back[] = {
    EV_COMMON("refund_id", refund_id),
    EV("amount", IN_LONG, amount),
};
static const in_field in_external[] = {
    EV_COMMON("refund_id", refund_id),
    EV("shop_id", IN_STR, shop_id),
    EVE("kind", kind, E_EXTERNAL_KIND),
    EV("amount", IN_LONG, amount),
    EV("order_paid_amount", IN_LONG, order_paid_amount),
    EV("sku_paid_amount", IN_LONG, sku_paid_amount),
};

static const struct {
    const in_field *fields;
    size_t n;
} in_tables[] = {
#define T(a)                                                                                       \
    { a, sizeof a / sizeof *a }
    [RK_APPLIED] = T(in_applied),         [RK_WITHDRAWN] = T(in_withdrawn),
    [RK_CLOSED] = T(in_closed),           [RK_SUCCEEDED] = T(in_succeeded),
    [RK_CLAWED_BACK] = T(in_clawed_back), [RK_EXTERNAL] = T(in_external),
#undef T
};
#define IN_ORDER_N (sizeof in_order / sizeof *in_order)

/* Does table f[n] read what record schema `s` is? */
static bool inputs_match(const in_field *f, size_t n, avro_schema_t s, const char *record,
                         char *err, size_t errlen) {
    if (!is_avro_record(s) || avro_schema_record_size(s) != n) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                       "schema %s: the .avsc has %zu fields, codec.c %zu", record,
                       is_avro_record(s) ? avro_schema_record_size(s) : 0, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        avro_schema_t t = asw_codec_deref(avro_schema_record_field_get_by_index(s, (int)i));
        bool ok = strcmp(name, f[i].name) == 0;
        switch (f[i].type) {
        case IN_STR:
            ok = ok && is_avro_string(t);
            break;
        case IN_LONG:
            ok = ok && is_avro_int64(t);
            break;
        case IN_BOOL:
            ok = ok && is_avro_boolean(t);
            break;
        case IN_ENUM:
            ok = ok && is_avro_enum(t) &&
                 strcmp(avro_schema_name(t), asw_codec_enums[f[i].e].name) == 0;
            break;
        case IN_OPT_LONG:
            ok = ok && is_avro_union(t) && avro_schema_union_size(t) == 2 &&
                 is_avro_null(asw_codec_deref(avro_schema_union_branch(t, 0))) &&
                 is_avro_int64(asw_codec_deref(avro_schema_union_branch(t, 1)));
            break;
        default: /* IN_ORDER */
            if (!ok || !inputs_match(in_order, IN_ORDER_N, t, record, err, errlen))
                return false;
            break;
        }
        if (!ok) {
            asw_codec_fail(
                err, errlen, ASW_CODEC_E_SCHEMA,
                "schema %s: field %zu is '%s' in the .avsc, '%s' of another type in codec.c",
                record, i, name, f[i].name);
            return false;
        }
    }
    return true;
}

typedef struct fcur {
    const uint8_t *p, *end;
} fcur;

/* A varint of at most 10 bytes whose value fits 64 bits. */
static bool f_long(fcur *c, int64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end)
            return false;
        uint8_t b = *c->p++;
        if (i == 9 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = asw_unzigzag(v);
            return true;
        }
    }
    return false;
}

static bool f_index(fcur *c, int count, int *out) {
    int64_t v;
    if (!f_long(c, &v) || v < 0 || v >= count)
        return false;
    *out = (int)v;
    return true;
}

static bool f_fields(fcur *c, const in_field *f, size_t n, asw_event *ev) {
    for (size_t i = 0; i < n; i++) {
        char *at = (char *)ev + f[i].off;
        int64_t v;
        int e;
        switch (f[i].type) {
        case IN_STR:
            if (!f_long(c, &v) || v < 0 || v > c->end - c->p ||
                !asw_codec_utf8_valid(c->p, (size_t)v))
                return false;
            *(char **)at = asw_strndup((const char *)c->p, (size_t)v);
            c->p += v;
            break;
        case IN_LONG:
            if (!f_long(c, (int64_t *)at))
                return false;
            break;
        case IN_BOOL:
            if (c->p >= c->end || *c->p > 1)
                return false;
            *(bool *)at = *c->p++ == 1;
            break;
        case IN_ENUM:
            if (!f_index(c, asw_codec_enums[f[i].e].count, &e))
                return false;
            *(int *)at = e;
            break;
        case IN_OPT_LONG:
            if (!f_index(c, 2, &e))
                return false;
            *(bool *)((char *)ev + f[i].has_off) = e == 1;
            if (e == 1 && !f_long(c, (int64_t *)at))
                return false;
            if (e == 0)
                *(int64_t *)at = 0;
            break;
        default: /* IN_ORDER */
            if (!f_fields(c, in_order, IN_ORDER_N, ev))
                return false;
            break;
        }
    }
    return true;
}

/* What both decoders do once an event's fields are read: "" for each string
 * its record lacks, and an application's paid amounts, which its order
 * snapshot carries, copied up to the event (model.h). */
static void event_finish(asw_event *ev) {
    char **strs[] = {&ev->event_id,  &ev->order_id,     &ev->aftersale_id,
                     &ev->refund_id, &ev->sku_order_id, &ev->shop_id};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (!*strs[i])
            *strs[i] = asw_strdup("");
    if (ev->type == ASW_EV_APPLIED) {
        ev->order_paid_amount = ev->order.order_paid_amount;
        ev->sku_paid_amount = ev->order.sku_paid_amount;
    }
}

/* The event in a frame of a built-in event id, or false (ev cleared) when
 * the generic path must decide. */
static bool fast_event(const asw_codec *c, const void *buf, size_t len, asw_event *ev) {
    int32_t id;
    const uint8_t *body;
    size_t body_len;
    if (!c->fast || asw_codec_frame_read(buf, len, &id, &body, &body_len) != ASW_CODEC_OK)
        return false;
    const binding *b = asw_codec_binding_find(c, id, EVENT_KINDS);
    if (!b || !(EVENT_KINDS & KIND_BIT(b->kind)) || b->writer != c->readers[b->kind].schema)
        return false; /* not an event, or written with another schema */
    fcur cur = {body, body + body_len};
    ev->type = (asw_event_type)b->kind;
    if (!f_fields(&cur, in_tables[b->kind].fields, in_tables[b->kind].n, ev) || cur.p != cur.end) {
        asw_event_clear(ev);
        return false;
    }
    event_finish(ev);
    return true;
}

void asw_codec_set_fast_path(asw_codec *c, bool on) {
    c->fast = on;
}

/* ---- extraction: reader-shaped values to C ---- */

/* An extraction in progress: the reader whose defaults fill absent fields,
 * and the first error. */
typedef struct xc {
    const reader *rd;
    asw_codec_err rc;
    char *err;
    size_t errlen;
} xc;

__attribute__((format(printf, 3, 4))) static int xfail(xc *x, asw_codec_err rc, const char *fmt,
                                                       ...) {
    if (x->rc == ASW_CODEC_OK) {
        x->rc = rc;
        if (x->err && x->errlen > 0) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(x->err, x->errlen, fmt, ap);
            va_end(ap);
            for (char *p = x->err; *p; p++)
                if (*p == '\n')
                    *p = ' ';
        }
    }
    return -1;
}

/*
 * Field `name` of record value rec. Returns 1 with *v set when the value has
 * the field (a nullable field's union resolved: *v is the non-null branch, or
 * returns 2 when it is null), 0 with *def set when it lacks it and the reader
 * has a default, -1 on error.
 */
static int x_get(xc *x, avro_value_t *rec, const char *name, avro_value_t *v, json_t **def) {
    avro_schema_t s = avro_value_get_schema(rec);
    int i = avro_schema_record_field_get_index(s, name);
    if (i < 0) {
        *def = asw_codec_find_default(x->rd, avro_schema_name(s), name);
        if (!*def)
            return xfail(x, ASW_CODEC_E_MISSING_FIELD, "field %s.%s is absent and has no default",
                         avro_schema_name(s), name);
        return 0;
    }
    if (avro_value_get_by_index(rec, (size_t)i, v, NULL))
        return xfail(x, ASW_CODEC_E_BODY, "field %s: %s", name, avro_strerror());
    if (avro_value_get_type(v) == AVRO_UNION) {
        avro_value_t branch;
        if (avro_value_get_current_branch(v, &branch))
            return xfail(x, ASW_CODEC_E_MISSING_FIELD, "field %s has no value", name);
        *v = branch;
        if (avro_value_get_type(v) == AVRO_NULL)
            return 2;
    }
    return 1;
}

static int bad_default(xc *x, const char *name) {
    return xfail(x, ASW_CODEC_E_SCHEMA, "the default of field %s does not fit its type", name);
}

static int null_in_required(xc *x, const char *name) {
    return xfail(x, ASW_CODEC_E_MISSING_FIELD, "field %s is null but required", name);
}

static int x_long(xc *x, avro_value_t *rec, const char *name, int64_t *out) {
    avro_value_t v;
    json_t *def;
    int32_t i32;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (!json_is_integer(def))
            return bad_default(x, name);
        *out = json_integer_value(def);
        return 0;
    case 1:
        if (avro_value_get_type(&v) == AVRO_INT32 && !avro_value_get_int(&v, &i32)) {
            *out = i32;
            return 0;
        }
        if (avro_value_get_long(&v, out))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not a long", name);
        return 0;
    case 2:
        return null_in_required(x, name);
    default:
        return -1;
    }
}

static int x_int(xc *x, avro_value_t *rec, const char *name, int32_t *out) {
    avro_value_t v;
    json_t *def;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (!json_is_integer(def) || json_integer_value(def) < INT32_MIN ||
            json_integer_value(def) > INT32_MAX)
            return bad_default(x, name);
        *out = (int32_t)json_integer_value(def);
        return 0;
    case 1:
        if (avro_value_get_int(&v, out))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not an int", name);
        return 0;
    case 2:
        return null_in_required(x, name);
    default:
        return -1;
    }
}

static int x_bool(xc *x, avro_value_t *rec, const char *name, bool *out) {
    avro_value_t v;
    json_t *def;
    int b;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (!json_is_boolean(def))
            return bad_default(x, name);
        *out = json_is_true(def);
        return 0;
    case 1:
        if (avro_value_get_boolean(&v, &b))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not a boolean", name);
        *out = b != 0;
        return 0;
    case 2:
        return null_in_required(x, name);
    default:
        return -1;
    }
}

/* A string borrowed from the value (or the default); with nullable, a null
 * gives *out = NULL, else a null is an error. */
static int x_string(xc *x, avro_value_t *rec, const char *name, bool nullable, const char **out) {
    avro_value_t v;
    json_t *def;
    size_t size;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (nullable && json_is_null(def)) {
            *out = NULL;
            return 0;
        }
        if (!json_is_string(def))
            return bad_default(x, name);
        *out = json_string_value(def);
        return 0;
    case 1:
        if (avro_value_get_string(&v, out, &size))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not a string", name);
        return 0;
    case 2:
        if (!nullable)
            return null_in_required(x, name);
        *out = NULL;
        return 0;
    default:
        return -1;
    }
}

static int x_str(xc *x, avro_value_t *rec, const char *name, const char **out) {
    return x_string(x, rec, name, false, out);
}

static int x_opt_str(xc *x, avro_value_t *rec, const char *name, const char **out) {
    return x_string(x, rec, name, true, out);
}

/* A nullable timestamp: *has says whether it is set. */
static int x_opt_long(xc *x, avro_value_t *rec, const char *name, bool *has, int64_t *out) {
    avro_value_t v;
    json_t *def;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (!json_is_null(def))
            return bad_default(x, name);
        *has = false, *out = 0;
        return 0;
    case 1:
        if (avro_value_get_long(&v, out))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not a long", name);
        *has = true;
        return 0;
    case 2:
        *has = false, *out = 0;
        return 0;
    default:
        return -1;
    }
}

/* The C value of a symbol of enum e; -1 when C has no such symbol. */
static int enum_value(const enum_def *e, const char *symbol) {
    for (int i = 0; symbol && i < e->count; i++)
        if (strcmp(e->symbol(i), symbol) == 0)
            return i;
    return -1;
}

/* An enum value v (not a record field) mapped to C by symbol name. */
static int x_enum_value(xc *x, avro_value_t *v, const char *name, const enum_def *e, int *out) {
    int idx;
    if (avro_value_get_enum(v, &idx))
        return xfail(x, ASW_CODEC_E_BODY, "field %s is not an enum", name);
    avro_schema_t s = avro_value_get_schema(v);
    int n = avro_schema_enum_number_of_symbols(s);
    int c = idx >= 0 && idx < n ? enum_value(e, avro_schema_enum_get(s, idx)) : -1;
    if (c < 0)
        return xfail(x, ASW_CODEC_E_ENUM, "field %s holds %s, not a %s this worker knows", name,
                     idx >= 0 && idx < n ? avro_schema_enum_get(s, idx) : "an invalid index",
                     e->name);
    *out = c;
    return 0;
}

/* An enum field; with has != NULL it is nullable. */
static int x_enum_field(xc *x, avro_value_t *rec, const char *name, const enum_def *e, bool *has,
                        int *out) {
    avro_value_t v;
    json_t *def;
    int c;
    switch (x_get(x, rec, name, &v, &def)) {
    case 0:
        if (has && json_is_null(def)) {
            *has = false, *out = 0;
            return 0;
        }
        if ((c = enum_value(e, json_string_value(def))) < 0)
            return bad_default(x, name);
        *out = c;
        break;
    case 1:
        if (x_enum_value(x, &v, name, e, out))
            return -1;
        break;
    case 2:
        if (!has)
            return null_in_required(x, name);
        *has = false, *out = 0;
        return 0;
    default:
        return -1;
    }
    if (has)
        *has = true;
    return 0;
}

static int x_enum(xc *x, avro_value_t *rec, const char *name, int e, int *out) {
    return x_enum_field(x, rec, name, &asw_codec_enums[e], NULL, out);
}

static int x_opt_enum(xc *x, avro_value_t *rec, const char *name, int e, bool *has, int *out) {
    return x_enum_field(x, rec, name, &asw_codec_enums[e], has, out);
}

/* An array field: *n items in *arr (n = 0 for an absent field defaulting to []). */
static int x_array(xc *x, avro_value_t *rec, const char *name, avro_value_t *arr, size_t *n) {
    json_t *def;
    switch (x_get(x, rec, name, arr, &def)) {
    case 0:
        if (!json_is_array(def) || json_array_size(def) != 0)
            return bad_default(x, name);
        *n = 0;
        return 0;
    case 1:
        if (avro_value_get_size(arr, n))
            return xfail(x, ASW_CODEC_E_BODY, "field %s is not an array", name);
        return 0;
    case 2:
        return null_in_required(x, name);
    default:
        return -1;
    }
}

static int x_item(xc *x, avro_value_t *arr, size_t i, const char *name, avro_value_t *item) {
    if (avro_value_get_by_index(arr, i, item, NULL))
        return xfail(x, ASW_CODEC_E_BODY, "item %zu of field %s: %s", i, name, avro_strerror());
    return 0;
}

/* An array of Reason symbols as a set. */
static int x_reasons(xc *x, avro_value_t *rec, const char *name, asw_reason_set *out) {
    avro_value_t arr, item;
    size_t n;
    int r;
    *out = 0;
    if (x_array(x, rec, name, &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (x_item(x, &arr, i, name, &item) ||
            x_enum_value(x, &item, name, &asw_codec_enums[E_REASON], &r))
            return -1;
        *out |= (asw_reason_set)(1u << r);
    }
    return 0;
}

/* ---- events ---- */

/* The fields of table f[n], by name, from record value rec into ev: the
 * generic path's reading of the fast path's table. Strings are copied (the
 * caller clears ev on failure). */
static int x_fields(xc *x, avro_value_t *rec, const in_field *f, size_t n, asw_event *ev) {
    for (size_t i = 0; i < n; i++) {
        char *at = (char *)ev + f[i].off;
        const char *s;
        int e;
        avro_value_t order;
        json_t *def;
        switch (f[i].type) {
        case IN_STR:
            if (x_str(x, rec, f[i].name, &s))
                return -1;
            *(char **)at = asw_strdup(s);
            break;
        case IN_LONG:
            if (x_long(x, rec, f[i].name, (int64_t *)at))
                return -1;
            break;
        case IN_BOOL:
            if (x_bool(x, rec, f[i].name, (bool *)at))
                return -1;
            break;
        case IN_ENUM:
            if (x_enum(x, rec, f[i].name, f[i].e, &e))
                return -1;
            *(int *)at = e;
            break;
        case IN_OPT_LONG:
            if (x_opt_long(x, rec, f[i].name, (bool *)((char *)ev + f[i].has_off), (int64_t *)at))
                return -1;
            break;
        default: /* IN_ORDER */
            switch (x_get(x, rec, f[i].name, &order, &def)) {
            case 1:
                break;
            case 0: /* a record default is not supported: the reader gives `order` none */
                return bad_default(x, f[i].name);
            case 2:
                return null_in_required(x, f[i].name);
            default:
                return -1;
            }
            if (x_fields(x, &order, in_order, IN_ORDER_N, ev))
                return -1;
            break;
        }
    }
    return 0;
}

static int extract_event(xc *x, rec_kind k, avro_value_t *v, asw_event *ev) {
    if (!(EVENT_KINDS & KIND_BIT(k)))
        return xfail(x, ASW_CODEC_E_WRONG_RECORD, "%s is not an event", asw_codec_kinds[k].name);
    ev->type = (asw_event_type)k;
    if (x_fields(x, v, in_tables[k].fields, in_tables[k].n, ev))
        return -1;
    event_finish(ev);
    return 0;
}

/*
 * Decode one input event (any of the six event records).
 *
 * @param c            the codec.
 * @param buf, len     a Confluent-framed Avro record (the Kafka value).
 * @param ev           overwritten without being freed: pass a cleared event.
 *                     On success the caller owns its strings
 *                     (asw_event_clear); every string is non-NULL, "" for
 *                     those the event type does not carry. On failure *ev is
 *                     left cleared.
 * @param err, errlen  receives a one-line message on failure.
 * @return ASW_CODEC_OK, or: E_SHORT, E_MAGIC (framing); E_UNKNOWN_SCHEMA (id
 *         not registered); E_WRONG_RECORD (id names a Decision, RefundRecord or
 *         OrderState); E_BODY (truncated, corrupt, invalid UTF-8 or trailing
 *         bytes); E_ENUM (enum index out of range, or a writer symbol this
 *         reader lacks); E_MISSING_FIELD (null where the reader requires a
 *         value, or a field absent without default).
 */

asw_codec_err asw_codec_decode_event(asw_codec *c, const void *buf, size_t len, asw_event *ev,
                                     char *err, size_t errlen) {
    rec_kind k;
    avro_value_t *v;
    asw_event_init(ev);
    if (fast_event(c, buf, len, ev))
        return ASW_CODEC_OK;
    asw_codec_err rc = asw_codec_decode_value(c, buf, len, EVENT_KINDS, &k, &v, err, errlen);
    if (rc)
        return rc;
    xc x = {&c->readers[k], ASW_CODEC_OK, err, errlen};
    if (extract_event(&x, k, v, ev)) {
        asw_event_clear(ev);
        return x.rc;
    }
    return ASW_CODEC_OK;
}

/* ---- encoding ---- */

static const char *or_empty(const char *s) {
    return s ? s : "";
}

/* Each e_* sets one field of a reader-shaped record value; 0 on success. */
static int e_field(avro_value_t *rec, const char *name, avro_value_t *f) {
    return avro_value_get_by_name(rec, name, f, NULL);
}

static int e_long(avro_value_t *rec, const char *name, int64_t v) {
    avro_value_t f;
    return e_field(rec, name, &f) || avro_value_set_long(&f, v);
}

static int e_int(avro_value_t *rec, const char *name, int32_t v) {
    avro_value_t f;
    return e_field(rec, name, &f) || avro_value_set_int(&f, v);
}

static int e_bool(avro_value_t *rec, const char *name, bool v) {
    avro_value_t f;
    return e_field(rec, name, &f) || avro_value_set_boolean(&f, v);
}

/* A non-nullable string; NULL is written as "". */
static int e_str(avro_value_t *rec, const char *name, const char *s) {
    avro_value_t f;
    return e_field(rec, name, &f) || avro_value_set_string(&f, or_empty(s));
}

/* Select the null (want_null) or the other branch of a ["null", T] field. */
static int e_branch(avro_value_t *rec, const char *name, bool want_null, avro_value_t *branch) {
    avro_value_t f;
    if (e_field(rec, name, &f))
        return -1;
    avro_schema_t u = avro_value_get_schema(&f);
    for (size_t i = 0; i < avro_schema_union_size(u); i++)
        if (is_avro_null(asw_codec_deref(avro_schema_union_branch(u, (int)i))) == want_null)
            return avro_value_set_branch(&f, (int)i, branch);
    return -1;
}

static int e_opt_str(avro_value_t *rec, const char *name, const char *s) {
    avro_value_t b;
    if (!s)
        return e_branch(rec, name, true, &b) || avro_value_set_null(&b);
    return e_branch(rec, name, false, &b) || avro_value_set_string(&b, s);
}

static int e_opt_long(avro_value_t *rec, const char *name, bool has, int64_t v) {
    avro_value_t b;
    if (!has)
        return e_branch(rec, name, true, &b) || avro_value_set_null(&b);
    return e_branch(rec, name, false, &b) || avro_value_set_long(&b, v);
}

/* Enums are range-checked: avro-c would write any index. */
static int e_enum(avro_value_t *rec, const char *name, int e, int v) {
    avro_value_t f;
    if (v < 0 || v >= asw_codec_enums[e].count)
        return -1;
    return e_field(rec, name, &f) || avro_value_set_enum(&f, v);
}

static int e_opt_enum(avro_value_t *rec, const char *name, int e, bool has, int v) {
    avro_value_t b;
    if (!has)
        return e_branch(rec, name, true, &b) || avro_value_set_null(&b);
    if (v < 0 || v >= asw_codec_enums[e].count)
        return -1;
    return e_branch(rec, name, false, &b) || avro_value_set_enum(&b, v);
}

static int e_reasons(avro_value_t *rec, const char *name, asw_reason_set set) {
    avro_value_t arr, item;
    if (e_field(rec, name, &arr))
        return -1;
    if (set >> ASW_R__COUNT)
        return -1;
    for (int r = 0; r < ASW_R__COUNT; r++)
        if ((set & (1u << r)) &&
            (avro_value_append(&arr, &item, NULL) || avro_value_set_enum(&item, r)))
            return -1;
    return 0;
}

/* Set the fields of table f[n] of record value rec from ev, by name: the
 * encoder's reading of the fast path's table. 0 on success. */
static int e_fields(avro_value_t *rec, const in_field *f, size_t n, const asw_event *ev) {
    for (size_t i = 0; i < n; i++) {
        const char *at = (const char *)ev + f[i].off;
        avro_value_t order;
        int bad;
        switch (f[i].type) {
        case IN_STR:
            bad = e_str(rec, f[i].name, *(char *const *)at);
            break;
        case IN_LONG:
            bad = e_long(rec, f[i].name, *(const int64_t *)at);
            break;
        case IN_BOOL:
            bad = e_bool(rec, f[i].name, *(const bool *)at);
            break;
        case IN_ENUM:
            bad = e_enum(rec, f[i].name, f[i].e, *(const int *)at);
            break;
        case IN_OPT_LONG:
            bad = e_opt_long(rec, f[i].name, *(const bool *)((const char *)ev + f[i].has_off),
                             *(const int64_t *)at);
            break;
        default: /* IN_ORDER */
            bad = e_field(rec, f[i].name, &order) || e_fields(&order, in_order, IN_ORDER_N, ev);
            break;
        }
        if (bad)
            return -1;
    }
    return 0;
}

/* Frame and serialise the encode value of record k into out. */
static asw_codec_err encode_finish(asw_codec *c, rec_kind k, asw_buf *out) {
    avro_value_t *v = &c->readers[k].enc;
    size_t size;
    asw_buf_reset(out);
    if (avro_value_sizeof(v, &size))
        return ASW_CODEC_E_SCHEMA;
    asw_buf_reserve(out, FRAME_LEN + size);
    asw_codec_frame_write(out->data, c->enc_id[k]);
    avro_writer_memory_set_dest(c->out, (const char *)out->data + FRAME_LEN, (int64_t)size);
    if (avro_value_write(c->out, v))
        return ASW_CODEC_E_SCHEMA;
    out->len = FRAME_LEN + size;
    return ASW_CODEC_OK;
}

/* Start encoding record k: its reusable value, reset. */
static avro_value_t *encode_start(asw_codec *c, rec_kind k) {
    avro_value_t *v = &c->readers[k].enc;
    avro_value_reset(v);
    return v;
}

/*
 * Encode an input event in the framing of its built-in schema id (the
 * produce tool and tests use this).
 *
 * @param c    the codec.
 * @param ev   the event; NULL strings are written as "".
 * @param out  reset, then holds the frame.
 * @return ASW_CODEC_OK; ASW_CODEC_E_WRONG_RECORD for an unknown ev->type;
 *         ASW_CODEC_E_SCHEMA when an enum is out of range or avro-c refuses
 *         (out then holds nothing useful).
 */
asw_codec_err asw_codec_encode_event(asw_codec *c, const asw_event *ev, asw_buf *out) {
    if ((int)ev->type < 0 || ev->type >= ASW_EV__COUNT)
        return ASW_CODEC_E_WRONG_RECORD;
    rec_kind k = (rec_kind)ev->type;
    avro_value_t *v = encode_start(c, k);
    int bad = e_fields(v, in_tables[k].fields, in_tables[k].n, ev);
    asw_buf_reset(out);
    return bad ? ASW_CODEC_E_SCHEMA : encode_finish(c, k, out);
}

/*
 * The outputs are written straight into the buffer from their field tables
 * (outputs.h), in Avro binary: no generic value, no lookup by name.
 * asw_codec_new() checked each table against its reader schema
 * (outputs_match()), and test_codec compares the bytes with avro-c's.
 */
static void put_long(asw_buf *out, int64_t v) {
    uint8_t t[10];
    asw_buf_append(out, t, asw_varint_put(t, asw_zigzag(v)));
}

static void put_string(asw_buf *out, const char *s) {
    size_t n = strlen(s);
    put_long(out, (int64_t)n);
    asw_buf_append(out, s, n);
}

static asw_codec_err encode_output(const asw_output_def *def, int32_t id, const void *obj,
                                   asw_buf *out) {
    asw_buf_reset(out);
    asw_buf_reserve(out, 256);
    asw_codec_frame_write(out->data, id);
    out->len = FRAME_LEN;
    for (size_t i = 0; i < def->n_fields; i++) {
        const asw_output_field *f = &def->fields[i];
        int64_t v;
        switch (f->type) {
        case ASW_F_STR: {
            const char *s = asw_field_str(obj, f);
            put_string(out, s ? s : "");
            break;
        }
        case ASW_F_OPT_STR: {
            const char *s = asw_field_str(obj, f);
            put_long(out, s ? 1 : 0); /* the union's branch */
            if (s)
                put_string(out, s);
            break;
        }
        case ASW_F_BOOL: {
            uint8_t b = asw_field_bool(obj, f) ? 1 : 0;
            asw_buf_append(out, &b, 1);
            break;
        }
        case ASW_F_OPT_ENUM:
            if (!asw_field_has(obj, f)) {
                put_long(out, 0);
                break;
            }
            put_long(out, 1);
            /* fall through */
        case ASW_F_ENUM:
            v = asw_field_int(obj, f);
            if (v < 0 || v >= f->e->count)
                return ASW_CODEC_E_SCHEMA;
            put_long(out, v);
            break;
        case ASW_F_REASONS: {
            v = asw_field_int(obj, f);
            if (v >> f->e->count)
                return ASW_CODEC_E_SCHEMA;
            int n = __builtin_popcountll((unsigned long long)v);
            if (n > 0) { /* one block of n items, then the empty block */
                put_long(out, n);
                for (int r = 0; r < f->e->count; r++)
                    if (v & (1LL << r))
                        put_long(out, r);
            }
            put_long(out, 0);
            break;
        }
        default: /* ASW_F_INT, ASW_F_LONG */
            put_long(out, asw_field_int(obj, f));
            break;
        }
    }
    return ASW_CODEC_OK;
}

/* Does a field table write what reader schema `schema` reads? Else a
 * message in err. */
static bool outputs_match(const asw_output_def *def, avro_schema_t schema, char *err,
                          size_t errlen) {
    size_t n = avro_schema_record_size(schema);
    for (size_t i = 0; i < def->n_fields || i < n; i++) {
        const asw_output_field *f = i < def->n_fields ? &def->fields[i] : NULL;
        const char *name = i < n ? avro_schema_record_field_name(schema, (int)i) : NULL;
        if (!f || !name || strcmp(f->name, name) != 0) {
            asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                           "schema %s: field %zu is '%s' in the .avsc and '%s' in outputs.c",
                           def->record, i, name ? name : "(none)", f ? f->name : "(none)");
            return false;
        }
        avro_schema_t t = asw_codec_deref(avro_schema_record_field_get_by_index(schema, (int)i));
        avro_schema_t opt = NULL;
        if (is_avro_union(t) && avro_schema_union_size(t) == 2 &&
            is_avro_null(asw_codec_deref(avro_schema_union_branch(t, 0))))
            opt = asw_codec_deref(avro_schema_union_branch(t, 1));
        bool ok;
        switch (f->type) {
        case ASW_F_STR:
            ok = is_avro_string(t);
            break;
        case ASW_F_OPT_STR:
            ok = opt && is_avro_string(opt);
            break;
        case ASW_F_INT:
            ok = is_avro_int32(t);
            break;
        case ASW_F_LONG:
            ok = is_avro_int64(t);
            break;
        case ASW_F_BOOL:
            ok = is_avro_boolean(t);
            break;
        case ASW_F_ENUM:
            ok = is_avro_enum(t) && strcmp(avro_schema_name(t), f->e->avro_name) == 0;
            break;
        case ASW_F_OPT_ENUM:
            ok = opt && is_avro_enum(opt) && strcmp(avro_schema_name(opt), f->e->avro_name) == 0;
            break;
        default: { /* ASW_F_REASONS */
            avro_schema_t items =
                is_avro_array(t) ? asw_codec_deref(avro_schema_array_items(t)) : NULL;
            ok = items && is_avro_enum(items) &&
                 strcmp(avro_schema_name(items), f->e->avro_name) == 0;
            break;
        }
        }
        if (!ok) {
            asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                           "schema %s: field '%s' has another type in the .avsc than in outputs.c",
                           def->record, f->name);
            return false;
        }
    }
    return true;
}

/*
 * Do the field tables (the outputs' of outputs.c, the fast path's of the
 * events) read and write what the reader schemas of c say? Else a message in
 * err.
 */
bool asw_codec_tables_match(const asw_codec *c, char *err, size_t errlen) {
    if (!outputs_match(&asw_output_decision, c->readers[RK_DECISION].schema, err, errlen) ||
        !outputs_match(&asw_output_record, c->readers[RK_RECORD].schema, err, errlen))
        return false;
    for (int k = RK_APPLIED; k <= RK_EXTERNAL; k++)
        if (!inputs_match(in_tables[k].fields, in_tables[k].n, c->readers[k].schema,
                          asw_codec_kinds[k].name, err, errlen))
            return false;
    return true;
}

/*
 * Encode a Decision under ASW_SCHEMA_ID_DECISION.
 *
 * @param d    the decision; NULL strings are written as "".
 * @param out  reset, then holds the frame.
 * @return ASW_CODEC_OK, or ASW_CODEC_E_SCHEMA when an enum or reason bit is
 *         out of range (out then holds nothing useful).
 */
asw_codec_err asw_codec_encode_decision(asw_codec *c, const asw_decision *d, asw_buf *out) {
    return encode_output(&asw_output_decision, c->enc_id[RK_DECISION], d, out);
}

/*
 * Encode a RefundRecord under its schema id (ASW_SCHEMA_ID_REFUND_RECORD,
 * or the registry's: asw_codec_use_id()). A NULL shop_id,
 * and aftersale_type / kind whose has_ flag is false, are written as null.
 *
 * @return ASW_CODEC_OK, or ASW_CODEC_E_SCHEMA when an enum is out of range.
 */
asw_codec_err asw_codec_encode_record(asw_codec *c, const asw_refund_record *r, asw_buf *out) {
    return encode_output(&asw_output_record, c->enc_id[RK_RECORD], r, out);
}

/* ---- outputs: decode ---- */

/*
 * Decode a Decision.
 *
 * @param out  written on success only. Its strings point into memory owned by
 *             the codec, valid until the next decode call on this codec (or
 *             its destruction).
 * @return ASW_CODEC_OK or an error as for asw_codec_decode_event
 *         (E_WRONG_RECORD: the id names another record).
 */
asw_codec_err asw_codec_decode_decision(asw_codec *c, const void *buf, size_t len,
                                        asw_decision *out, char *err, size_t errlen) {
    rec_kind k;
    avro_value_t *v;
    asw_codec_err rc =
        asw_codec_decode_value(c, buf, len, KIND_BIT(RK_DECISION), &k, &v, err, errlen);
    if (rc)
        return rc;
    xc x = {&c->readers[k], ASW_CODEC_OK, err, errlen};
    asw_decision d;
    int initiator, outcome;
    memset(&d, 0, sizeof d);
    if (x_str(&x, v, "aftersale_id", &d.aftersale_id) || x_str(&x, v, "order_id", &d.order_id) ||
        x_str(&x, v, "sku_order_id", &d.sku_order_id) || x_str(&x, v, "shop_id", &d.shop_id) ||
        x_enum(&x, v, "initiator", E_INITIATOR, &initiator) ||
        x_enum(&x, v, "outcome", E_OUTCOME, &outcome) || x_reasons(&x, v, "reasons", &d.reasons) ||
        x_int(&x, v, "applications_used", &d.applications_used) ||
        x_int(&x, v, "applications_limit", &d.applications_limit) ||
        x_long(&x, v, "order_remaining", &d.order_remaining) ||
        x_long(&x, v, "sku_remaining", &d.sku_remaining) ||
        x_bool(&x, v, "multi_refund", &d.multi_refund) ||
        x_int(&x, v, "sku_prior_refunds", &d.sku_prior_refunds) ||
        x_bool(&x, v, "duplicate", &d.duplicate) || x_long(&x, v, "event_time", &d.event_time) ||
        x_str(&x, v, "ruleset_version", &d.ruleset_version) ||
        x_str(&x, v, "source_topic", &d.source_topic) ||
        x_int(&x, v, "source_partition", &d.source_partition) ||
        x_long(&x, v, "source_offset", &d.source_offset))
        return x.rc;
    d.initiator = (asw_initiator)initiator;
    d.outcome = (asw_outcome)outcome;
    *out = d;
    return ASW_CODEC_OK;
}

/*
 * Decode a RefundRecord.
 *
 * @param out  written on success only; strings as for
 *             asw_codec_decode_decision. shop_id is NULL when null;
 *             has_aftersale_type / has_kind say whether those are set.
 * @return as asw_codec_decode_decision.
 */
asw_codec_err asw_codec_decode_record(asw_codec *c, const void *buf, size_t len,
                                      asw_refund_record *out, char *err, size_t errlen) {
    rec_kind k;
    avro_value_t *v;
    asw_codec_err rc =
        asw_codec_decode_value(c, buf, len, KIND_BIT(RK_RECORD), &k, &v, err, errlen);
    if (rc)
        return rc;
    xc x = {&c->readers[k], ASW_CODEC_OK, err, errlen};
    asw_refund_record r;
    int origin, type, kind, status;
    memset(&r, 0, sizeof r);
    if (x_str(&x, v, "record_id", &r.record_id) || x_str(&x, v, "order_id", &r.order_id) ||
        x_str(&x, v, "sku_order_id", &r.sku_order_id) || x_opt_str(&x, v, "shop_id", &r.shop_id) ||
        x_enum(&x, v, "origin", E_ORIGIN, &origin) ||
        x_opt_enum(&x, v, "aftersale_type", E_AFTERSALE_TYPE, &r.has_aftersale_type, &type) ||
        x_opt_enum(&x, v, "kind", E_EXTERNAL_KIND, &r.has_kind, &kind) ||
        x_enum(&x, v, "status", E_RECORD_STATUS, &status) || x_long(&x, v, "amount", &r.amount) ||
        x_long(&x, v, "order_paid", &r.order_paid) ||
        x_long(&x, v, "order_refunded", &r.order_refunded) ||
        x_long(&x, v, "order_reserved", &r.order_reserved) ||
        x_long(&x, v, "order_remaining", &r.order_remaining) ||
        x_long(&x, v, "sku_paid", &r.sku_paid) || x_long(&x, v, "sku_refunded", &r.sku_refunded) ||
        x_long(&x, v, "sku_reserved", &r.sku_reserved) ||
        x_long(&x, v, "sku_remaining", &r.sku_remaining) ||
        x_int(&x, v, "sku_refunds", &r.sku_refunds) ||
        x_bool(&x, v, "over_refund", &r.over_refund) || x_bool(&x, v, "unmatched", &r.unmatched) ||
        x_long(&x, v, "event_time", &r.event_time))
        return x.rc;
    r.origin = (asw_origin)origin;
    r.aftersale_type = (asw_aftersale_type)type;
    r.kind = (asw_external_kind)kind;
    r.status = (asw_record_status)status;
    *out = r;
    return ASW_CODEC_OK;
}

/* ---- order state ---- */

/*
 * Encode an order's state under ASW_SCHEMA_ID_ORDER_STATE (the changelog
 * value). Arrays are written in the order's (sorted) order.
 *
 * @return ASW_CODEC_OK, or ASW_CODEC_E_SCHEMA when an enum is out of range or
 *         avro-c refuses.
 */
asw_codec_err asw_codec_encode_state(asw_codec *c, const asw_order *o, asw_buf *out) {
    avro_value_t *v = encode_start(c, RK_STATE);
    avro_value_t arr, it;
    const char *shop = o->shop_id ? asw_order_str(o, o->shop_id) : NULL;
    int bad = e_int(v, "version", 1) || e_str(v, "order_id", asw_order_id(o)) ||
              e_opt_str(v, "shop_id", shop) || e_long(v, "paid", o->paid) ||
              e_long(v, "refunded", o->refunded) || e_long(v, "reserved", o->reserved) ||
              e_bool(v, "prior_success", o->prior_success) ||
              e_long(v, "max_event_time", o->max_event_time) ||
              e_opt_long(v, "deadline", o->has_deadline, o->deadline);

    bad = bad || e_field(v, "skus", &arr);
    for (size_t i = 0; !bad && i < o->n_skus; i++) {
        const asw_sku_state *s = &o->skus[i];
        bad = avro_value_append(&arr, &it, NULL) ||
              e_str(&it, "sku_order_id", asw_order_str(o, s->sku_order_id)) ||
              e_long(&it, "paid", s->paid) || e_long(&it, "refunded", s->refunded) ||
              e_long(&it, "reserved", s->reserved) ||
              e_int(&it, "refund_successes", s->refund_successes);
    }
    bad = bad || e_field(v, "apps", &arr);
    for (size_t i = 0; !bad && i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (!a->counted)
            continue;
        bad = avro_value_append(&arr, &it, NULL) ||
              e_str(&it, "aftersale_id", asw_order_str(o, a->aftersale_id)) ||
              e_str(&it, "sku_order_id", asw_order_str(o, a->sku_order_id)) ||
              e_opt_str(&it, "shop_id", a->shop_id ? asw_order_str(o, a->shop_id) : NULL) ||
              e_opt_enum(&it, "type", E_AFTERSALE_TYPE, a->has_type, (int)a->type) ||
              e_enum(&it, "state", E_APP_STATE, (int)a->state) ||
              e_long(&it, "reserved", a->reserved);
    }
    bad = bad || e_field(v, "decided", &arr);
    for (size_t i = 0; !bad && i < o->n_apps; i++) {
        if (!o->apps[i].decision)
            continue;
        asw_decision d;
        asw_order_decision(o, &o->apps[i], &d);
        bad = avro_value_append(&arr, &it, NULL) || e_str(&it, "aftersale_id", d.aftersale_id) ||
              e_str(&it, "sku_order_id", d.sku_order_id) || e_opt_str(&it, "shop_id", d.shop_id) ||
              e_opt_str(&it, "ruleset_version", d.ruleset_version) ||
              e_opt_str(&it, "source_topic", d.source_topic) ||
              e_enum(&it, "initiator", E_INITIATOR, (int)d.initiator) ||
              e_enum(&it, "outcome", E_OUTCOME, (int)d.outcome) ||
              e_reasons(&it, "reasons", d.reasons) ||
              e_int(&it, "applications_used", d.applications_used) ||
              e_int(&it, "applications_limit", d.applications_limit) ||
              e_long(&it, "order_remaining", d.order_remaining) ||
              e_long(&it, "sku_remaining", d.sku_remaining) ||
              e_bool(&it, "multi_refund", d.multi_refund) ||
              e_int(&it, "sku_prior_refunds", d.sku_prior_refunds) ||
              e_long(&it, "event_time", d.event_time) ||
              e_int(&it, "source_partition", d.source_partition) ||
              e_long(&it, "source_offset", d.source_offset);
    }
    bad = bad || e_field(v, "externals", &arr);
    for (size_t i = 0; !bad && i < o->n_externals; i++) {
        const asw_external *e = &o->externals[i];
        bad = avro_value_append(&arr, &it, NULL) ||
              e_str(&it, "refund_id", asw_order_str(o, e->refund_id)) ||
              e_str(&it, "sku_order_id", asw_order_str(o, e->sku_order_id)) ||
              e_enum(&it, "kind", E_EXTERNAL_KIND, (int)e->kind);
    }
    bad = bad || e_field(v, "event_ids", &arr);
    for (size_t i = 0; !bad && i < o->n_seen; i++)
        bad = avro_value_append(&arr, &it, NULL) ||
              avro_value_set_string(&it, asw_order_str(o, o->seen[i]));
    asw_buf_reset(out);
    return bad ? ASW_CODEC_E_SCHEMA : encode_finish(c, RK_STATE, out);
}

/* A duplicate or empty id in a state array means the record is corrupt. */
static int x_new_id(xc *x, const asw_order *o, asw_entity_kind kind, const char *id,
                    const char *what) {
    if (!id[0] || asw_order_find_entity(o, kind, id) >= 0)
        return xfail(x, ASW_CODEC_E_BODY, "corrupt state: duplicate or empty %s", what);
    return 0;
}

static int extract_state(xc *x, avro_value_t *v, asw_order *o) {
    avro_value_t arr, it;
    size_t n;
    int32_t version;
    const char *shop_id;
    int e1, e2;
    bool has;

    if (x_int(x, v, "version", &version))
        return -1;
    if (version < 1)
        return xfail(x, ASW_CODEC_E_BODY, "corrupt state: version %d", (int)version);
    if (x_opt_str(x, v, "shop_id", &shop_id) || x_long(x, v, "paid", &o->paid) ||
        x_long(x, v, "refunded", &o->refunded) || x_long(x, v, "reserved", &o->reserved) ||
        x_bool(x, v, "prior_success", &o->prior_success) ||
        x_long(x, v, "max_event_time", &o->max_event_time) ||
        x_opt_long(x, v, "deadline", &o->has_deadline, &o->deadline))
        return -1;
    if (!asw_ledger_amounts_sound(o->paid, o->refunded, o->reserved))
        return xfail(x, ASW_CODEC_E_BODY, "corrupt state: amounts the ledger cannot hold");
    asw_order_set_shop(o, shop_id);

    if (x_array(x, v, "skus", &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t paid, refunded, reserved;
        int32_t successes;
        const char *id;
        if (x_item(x, &arr, i, "skus", &it) || x_str(x, &it, "sku_order_id", &id) ||
            x_long(x, &it, "paid", &paid) || x_long(x, &it, "refunded", &refunded) ||
            x_long(x, &it, "reserved", &reserved) ||
            x_int(x, &it, "refund_successes", &successes) ||
            x_new_id(x, o, ASW_ENT_SKU, id, "sku_order_id"))
            return -1;
        if (!asw_ledger_amounts_sound(paid, refunded, reserved))
            return xfail(x, ASW_CODEC_E_BODY,
                         "corrupt state: amounts of a sub-order the ledger cannot hold");
        asw_order_put_sku(o, id, paid, refunded, reserved, successes, i < ASW_LEDGER_SKUS);
    }

    if (x_array(x, v, "apps", &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id, *sku, *shop;
        int64_t reserved;
        if (x_item(x, &arr, i, "apps", &it) || x_str(x, &it, "aftersale_id", &id) ||
            x_str(x, &it, "sku_order_id", &sku) || x_opt_str(x, &it, "shop_id", &shop) ||
            x_opt_enum(x, &it, "type", E_AFTERSALE_TYPE, &has, &e1) ||
            x_enum(x, &it, "state", E_APP_STATE, &e2) || x_long(x, &it, "reserved", &reserved) ||
            x_new_id(x, o, ASW_ENT_APP, id, "aftersale_id"))
            return -1;
        /* Only an OPEN application reserves (the .avsc: 0 unless OPEN); the
         * frozen form keeps no reservation for another, so such a state
         * would change when the store freezes it. */
        if (reserved < 0)
            return xfail(x, ASW_CODEC_E_BODY, "corrupt state: a negative reservation");
        if (e2 != ASW_APP_OPEN && reserved != 0)
            return xfail(x, ASW_CODEC_E_BODY,
                         "corrupt state: an application that is %s reserves %lld",
                         asw_app_state_name((asw_app_state)e2), (long long)reserved);
        asw_order_put_app(o, id, true, sku, shop, has, (asw_aftersale_type)e1, (asw_app_state)e2,
                          reserved, NULL);
    }

    if (x_array(x, v, "decided", &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        asw_decision d;
        const char *id;
        memset(&d, 0, sizeof d);
        if (x_item(x, &arr, i, "decided", &it) || x_str(x, &it, "aftersale_id", &id) ||
            x_str(x, &it, "sku_order_id", &d.sku_order_id) ||
            x_opt_str(x, &it, "shop_id", &d.shop_id) ||
            x_opt_str(x, &it, "ruleset_version", &d.ruleset_version) ||
            x_opt_str(x, &it, "source_topic", &d.source_topic) ||
            x_enum(x, &it, "initiator", E_INITIATOR, &e1) ||
            x_enum(x, &it, "outcome", E_OUTCOME, &e2) || x_reasons(x, &it, "reasons", &d.reasons) ||
            x_int(x, &it, "applications_used", &d.applications_used) ||
            x_int(x, &it, "applications_limit", &d.applications_limit) ||
            x_long(x, &it, "order_remaining", &d.order_remaining) ||
            x_long(x, &it, "sku_remaining", &d.sku_remaining) ||
            x_bool(x, &it, "multi_refund", &d.multi_refund) ||
            x_int(x, &it, "sku_prior_refunds", &d.sku_prior_refunds) ||
            x_long(x, &it, "event_time", &d.event_time) ||
            x_int(x, &it, "source_partition", &d.source_partition) ||
            x_long(x, &it, "source_offset", &d.source_offset))
            return -1;
        d.initiator = (asw_initiator)e1;
        d.outcome = (asw_outcome)e2;
        if (!d.ruleset_version)
            d.ruleset_version = "";
        if (!d.source_topic)
            d.source_topic = "";
        int64_t k = id[0] ? asw_order_find_entity(o, ASW_ENT_APP, id) : -1;
        if (!id[0] || (k >= 0 && o->apps[k].decision))
            return xfail(x, ASW_CODEC_E_BODY, "corrupt state: duplicate or empty %s",
                         "decided aftersale_id");
        /* The counted part, if any, is kept: an application is one entity. */
        const asw_app *a = k >= 0 ? &o->apps[k] : NULL;
        asw_order_put_app(o, id, a != NULL, a ? asw_order_str(o, a->sku_order_id) : NULL,
                          a && a->shop_id ? asw_order_str(o, a->shop_id) : NULL, a && a->has_type,
                          a ? (asw_aftersale_type)a->type : ASW_AT__COUNT,
                          a ? (asw_app_state)a->state : ASW_APP_OPEN, a ? a->reserved : 0, &d);
    }

    if (x_array(x, v, "externals", &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id, *sku;
        if (x_item(x, &arr, i, "externals", &it) || x_str(x, &it, "refund_id", &id) ||
            x_str(x, &it, "sku_order_id", &sku) || x_enum(x, &it, "kind", E_EXTERNAL_KIND, &e1) ||
            x_new_id(x, o, ASW_ENT_EXTERNAL, id, "refund_id"))
            return -1;
        asw_order_put_external(o, id, sku, (asw_external_kind)e1);
    }

    if (x_array(x, v, "event_ids", &arr, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id;
        size_t size;
        if (x_item(x, &arr, i, "event_ids", &it))
            return -1;
        if (avro_value_get_string(&it, &id, &size))
            return xfail(x, ASW_CODEC_E_BODY, "event_ids item %zu is not a string", i);
        if (x_new_id(x, o, ASW_ENT_SEEN, id, "event_id"))
            return -1;
        asw_order_put_seen(o, id);
    }
    return 0;
}

/*
 * Decode an order's state (the changelog value).
 *
 * @param out  on success a new order the caller owns (asw_order_destroy);
 *             written on success only.
 * @return ASW_CODEC_OK or an error as for asw_codec_decode_event; also
 *         ASW_CODEC_E_BODY for a state holding a duplicate or empty id.
 */
asw_codec_err asw_codec_decode_state(asw_codec *c, const void *buf, size_t len, asw_order **out,
                                     char *err, size_t errlen) {
    rec_kind k;
    avro_value_t *v;
    asw_order *o = NULL;
    const char *order_id;
    asw_codec_err rc = asw_codec_decode_value(c, buf, len, KIND_BIT(RK_STATE), &k, &v, err, errlen);
    if (rc)
        return rc;
    xc x = {&c->readers[k], ASW_CODEC_OK, err, errlen};
    if (x_str(&x, v, "order_id", &order_id))
        goto fail;
    o = asw_order_new(order_id);
    if (extract_state(&x, v, o))
        goto fail;
    *out = o;
    return ASW_CODEC_OK;
fail:
    asw_order_destroy(o);
    return x.rc;
}

/* ---- partition state ---- */

asw_codec_err asw_codec_encode_partition_state(asw_codec *c, int64_t stream_time, asw_buf *out) {
    avro_value_t *v = encode_start(c, RK_PARTITION);
    int bad = e_int(v, "version", 1) || e_long(v, "stream_time", stream_time);
    asw_buf_reset(out);
    return bad ? ASW_CODEC_E_SCHEMA : encode_finish(c, RK_PARTITION, out);
}

asw_codec_err asw_codec_decode_partition_state(asw_codec *c, const void *buf, size_t len,
                                               int64_t *stream_time, char *err, size_t errlen) {
    rec_kind k;
    avro_value_t *v;
    asw_codec_err rc =
        asw_codec_decode_value(c, buf, len, KIND_BIT(RK_PARTITION), &k, &v, err, errlen);
    if (rc)
        return rc;
    xc x = {&c->readers[k], ASW_CODEC_OK, err, errlen};
    int64_t t;
    int32_t version;
    if (x_int(&x, v, "version", &version) || x_long(&x, v, "stream_time", &t))
        return x.rc;
    if (version != 1)
        return asw_codec_fail(err, errlen, ASW_CODEC_E_BODY, "corrupt partition state: version %d",
                              (int)version);
    *stream_time = t;
    return ASW_CODEC_OK;
}
