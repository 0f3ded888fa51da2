/*
 * make_corpus.c -- writes the seed corpora of the fuzz targets,
 * fuzz/corpus/<target>/<seed>, from the project's own encoders, so that
 * every valid seed is what the worker really writes and reads:
 *
 *   asw-fuzz-corpus fuzz/corpus
 *
 * Seeds hold every event type, amounts near 2^63 (2^63 - 1, 2^63 - 2,
 * -2^63), the older writer schemas the fuzz codec registers, changelog
 * records of whole and split orders, event streams with commits, aborts and
 * sweeps, JSON Lines and configuration files -- and truncated or broken
 * variants of them. A file it writes again is overwritten; files the
 * fuzzers added (-merge=1) are left alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "asw/changelog.h"
#include "asw/codec.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "asw/processor.h"
#include "asw/varint.h"
#include "fuzz.h"
#include "support.h"

static const char *root;
static asw_codec *codec;
static int written;

static void mkdir_p(const char *dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        exit(1);
    }
}

static void seed(const char *target, const char *name, const void *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(1);
    }
    written++;
}

static void seed_buf(const char *target, const char *name, const asw_buf *b) {
    seed(target, name, b->data, b->len);
}

static void seed_str(const char *target, const char *name, const char *s) {
    seed(target, name, s, strlen(s));
}

/* A seed and, for a frame, its truncated and broken variants. */
static void seed_variants(const char *target, const char *name, const asw_buf *b) {
    char n[256];
    seed_buf(target, name, b);
    if (b->len > 6) {
        snprintf(n, sizeof n, "%s.half", name);
        seed(target, n, b->data, b->len / 2);
        snprintf(n, sizeof n, "%s.less1", name);
        seed(target, n, b->data, b->len - 1);
    }
    asw_buf t = ASW_BUF_INIT;
    asw_buf_append(&t, b->data, b->len);
    asw_buf_append(&t, "\x00", 1);
    snprintf(n, sizeof n, "%s.trailing", name);
    seed_buf(target, n, &t);
    asw_buf_free(&t);
}

static void must(asw_codec_err rc, const char *what) {
    if (rc != ASW_CODEC_OK) {
        fprintf(stderr, "asw-fuzz-corpus: %s: %s\n", what, asw_codec_err_name(rc));
        exit(1);
    }
}

/* ---- hand-written Avro, for writers the codec does not write ---- */

static void put_frame(asw_buf *b, int32_t id) {
    uint8_t h[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    asw_buf_reset(b);
    asw_buf_append(b, h, sizeof h);
}

static void put_long(asw_buf *b, int64_t v) {
    uint8_t tmp[10];
    asw_buf_append(b, tmp, asw_varint_put(tmp, asw_zigzag(v)));
}

static void put_str(asw_buf *b, const char *s) {
    put_long(b, (int64_t)strlen(s));
    asw_buf_append(b, s, strlen(s));
}

static void put_byte(asw_buf *b, uint8_t v) {
    asw_buf_append(b, &v, 1);
}

/* ---- events ---- */

/* An event of type t (tests/unit/support.c's builders: order O1, shipped,
 * paid 10000), an application with a deadline. */
static asw_event event_of(asw_event_type t, const char *event_id, const char *id, const char *sku,
                          int64_t amount) {
    asw_event ev;
    switch (t) {
    case ASW_EV_APPLIED:
        ev = t_applied(event_id, id, sku, amount);
        ev.order.has_deadline = true;
        ev.order.aftersale_deadline = 1701296000000;
        return ev;
    case ASW_EV_WITHDRAWN:
        return t_withdrawn(event_id, id, sku);
    case ASW_EV_CLOSED:
        return t_closed(event_id, id, sku);
    case ASW_EV_SUCCEEDED:
        return t_succeeded(event_id, id, sku, amount);
    case ASW_EV_CLAWED_BACK:
        return t_clawed_back(event_id, id, sku, amount);
    default:
        return t_external(event_id, id, sku, ASW_EK_SMALL_PAYMENT, amount);
    }
}

/* The SPEC's example of each event type (section 3), with `amount`. */
static asw_event spec_event(asw_event_type t, int64_t amount) {
    bool refund = t == ASW_EV_CLAWED_BACK || t == ASW_EV_EXTERNAL;
    return event_of(t, "ev-1", refund ? "R9" : "A1", "O1-1", amount);
}

static void seed_event(const char *name, asw_event *ev, bool variants) {
    asw_buf b = ASW_BUF_INIT;
    must(asw_codec_encode_event(codec, ev, &b), name);
    if (variants)
        seed_variants("fuzz_event_decode", name, &b);
    else
        seed_buf("fuzz_event_decode", name, &b);
    asw_buf_free(&b);
    asw_event_clear(ev);
}

static void event_seeds(void) {
    static const char *const type_names[ASW_EV__COUNT] = {"applied",   "withdrawn",   "closed",
                                                          "succeeded", "clawed_back", "external"};
    asw_buf b = ASW_BUF_INIT;
    char name[128];
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = spec_event((asw_event_type)t, 3000);
        must(asw_codec_encode_event(codec, &ev, &b), "event");
        seed_variants("fuzz_event_decode", type_names[t], &b);
        /* The same bytes under the registry id of the same schema: the
         * generic path's resolution. */
        b.data[3] = (uint8_t)((FZ_ID_CURRENT + t + 1) >> 8);
        b.data[4] = (uint8_t)(FZ_ID_CURRENT + t + 1);
        snprintf(name, sizeof name, "%s.registry_id", type_names[t]);
        seed_buf("fuzz_event_decode", name, &b);
        asw_event_clear(&ev);
    }
    /* Amounts and times at the edges of int64. */
    static const struct {
        const char *name;
        int64_t v;
    } edges[] = {{"int64_max", INT64_MAX},
                 {"int64_max_less1", INT64_MAX - 1},
                 {"int64_min", INT64_MIN},
                 {"minus1", -1}};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        for (int t = 0; t < ASW_EV__COUNT; t++) {
            if (t == ASW_EV_WITHDRAWN || t == ASW_EV_CLOSED)
                continue;
            asw_event ev = spec_event((asw_event_type)t, edges[i].v);
            if (t == ASW_EV_APPLIED)
                ev.order.order_paid_amount = ev.order.sku_paid_amount = edges[i].v;
            else if (asw_event_carries_paid(&ev))
                ev.order_paid_amount = ev.sku_paid_amount = edges[i].v;
            snprintf(name, sizeof name, "%s.amount_%s", type_names[t], edges[i].name);
            seed_event(name, &ev, false);
        }
        asw_event ev = spec_event(ASW_EV_APPLIED, 100);
        ev.event_time = edges[i].v;
        ev.order.aftersale_deadline = edges[i].v;
        snprintf(name, sizeof name, "applied.time_%s", edges[i].name);
        seed_event(name, &ev, false);
    }
    /* Every enum value once, no deadline, a card. */
    for (int a = 0; a < ASW_AT__COUNT; a++) {
        asw_event ev = spec_event(ASW_EV_APPLIED, a == ASW_AT_EXCHANGE ? 0 : 500);
        ev.aftersale_type = (asw_aftersale_type)a;
        ev.order.order_status = (asw_order_status)(a % ASW_OS__COUNT);
        ev.order.goods_type = (asw_goods_type)(a & 1);
        ev.order.cross_border = a == 3;
        ev.order.has_deadline = a % 2 == 0;
        ev.initiator = (asw_initiator)(a == 4);
        snprintf(name, sizeof name, "applied.type%d", a);
        seed_event(name, &ev, false);
    }
    for (int k = 0; k < ASW_EK__COUNT; k++) {
        asw_event ev = spec_event(ASW_EV_EXTERNAL, 100);
        ev.kind = (asw_external_kind)k;
        snprintf(name, sizeof name, "external.kind%d", k);
        seed_event(name, &ev, false);
    }
    /* Strings: empty, the longest id, one byte more, multi-byte UTF-8. */
    char id128[129], id129[130];
    memset(id128, 'x', 128), id128[128] = '\0';
    memset(id129, 'y', 129), id129[129] = '\0';
    asw_event ev = spec_event(ASW_EV_APPLIED, 100);
    t_set(&ev.aftersale_id, id128);
    t_set(&ev.order_id, id129);
    t_set(&ev.shop_id, "");
    seed_event("applied.long_ids", &ev, false);
    ev = spec_event(ASW_EV_EXTERNAL, 100);
    t_set(&ev.order_id, "\xe5\xba\x97\xe9\x93\xba\xe5\x8d\x95"); /* 店铺单 */
    t_set(&ev.refund_id, "\xf0\x9f\x98\x80");
    seed_event("external.utf8", &ev, false);

    /* Older writers, byte by byte (fuzz/writers/). */
    put_frame(&b, FZ_ID_APPLIED_OLD);
    put_str(&b, "A7"), put_str(&b, "ev-70"), put_str(&b, "O7");
    put_long(&b, 1600000000000), put_str(&b, "app"), put_str(&b, "O7-1"), put_str(&b, "s7");
    put_long(&b, 0), put_long(&b, 2), put_long(&b, 1234); /* BUYER REFUND_ONLY_SHIPPED */
    put_long(&b, 5000), put_long(&b, 2000), put_long(&b, 0), put_long(&b, 3), put_byte(&b, 0);
    seed_variants("fuzz_event_decode", "old_applied", &b);
    put_frame(&b, FZ_ID_APPLIED_OLD);
    put_str(&b, "A8"), put_str(&b, "ev-80"), put_str(&b, "O8");
    put_long(&b, INT64_MAX), put_str(&b, ""), put_str(&b, "O8"), put_str(&b, "s8");
    put_long(&b, 1), put_long(&b, 0), put_long(&b, INT32_MAX); /* MERCHANT_CARD EXCHANGE */
    put_long(&b, INT64_MAX), put_long(&b, INT64_MIN), put_long(&b, 1), put_long(&b, 5),
        put_byte(&b, 1);
    seed_buf("fuzz_event_decode", "old_applied.edges", &b);
    for (int null = 0; null < 2; null++) {
        put_frame(&b, FZ_ID_WITHDRAWN_NULL);
        put_str(&b, "ev-2"), put_str(&b, "O1"), put_long(&b, 1700000002000);
        put_long(&b, null ? 0 : 1);
        if (!null)
            put_str(&b, "A1");
        put_str(&b, "O1-1");
        seed_buf("fuzz_event_decode", null ? "old_withdrawn.null_id" : "old_withdrawn", &b);
    }
    for (int sym = 0; sym < 4; sym++) {
        put_frame(&b, FZ_ID_CLOSED_SYMBOLS);
        put_str(&b, "ev-3"), put_str(&b, "O1"), put_long(&b, 1700000003000);
        put_str(&b, "A1"), put_str(&b, "O1-1"), put_long(&b, sym);
        snprintf(name, sizeof name, "old_closed.symbol%d", sym);
        seed_buf("fuzz_event_decode", name, &b);
    }

    /* Broken by hand: each is one error of the codec's. */
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
    } broken[] = {
        {"broken.empty", "", 0},
        {"broken.header_only", "\0\0\0\0\1", 5},
        {"broken.short", "\0\0\0", 3},
        {"broken.magic", "\1\0\0\0\1\2", 6},
        {"broken.unknown_id", "\0\0\0\3\xe7\0", 6},
        {"broken.huge_string", "\0\0\0\0\2\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 15},
        {"broken.negative_length", "\0\0\0\0\2\x01", 6},
        {"broken.long_varint", "\0\0\0\0\5\2a\2b\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 18},
        {"broken.overlong_utf8",
         "\0\0\0\0\2\4\xc0\x80"
         "ab",
         10},
        {"broken.nul_in_id", "\0\0\0\0\2\2\0", 7},
    };
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++)
        seed("fuzz_event_decode", broken[i].name, broken[i].bytes, broken[i].len);
    /* An enum index out of range and a boolean 2, in an application. */
    ev = spec_event(ASW_EV_APPLIED, 100);
    must(asw_codec_encode_event(codec, &ev, &b), "applied");
    asw_event_clear(&ev);
    size_t at = 5;
    for (int f = 0; f < 6; f++) /* past the six strings */
        at += 1 + (b.data[at] >> 1);
    asw_buf bad = ASW_BUF_INIT;
    asw_buf_append(&bad, b.data, b.len);
    bad.data[at - 0] = 0x0e; /* initiator index 7 */
    seed_buf("fuzz_event_decode", "broken.enum_index", &bad);
    asw_buf_reset(&bad);
    asw_buf_append(&bad, b.data, b.len);
    /* cross_border: after initiator, type, amount (2 bytes: 100), status, goods */
    bad.data[at + 6] = 2;
    seed_buf("fuzz_event_decode", "broken.bool_2", &bad);
    asw_buf_free(&bad);

    /* The outputs the consume tool decodes: the decision on an application
     * of 2^63 - 2 on an order paid 2^63 - 1, and its refund record; and the
     * partition state. */
    asw_ruleset *rules = asw_ruleset_new();
    asw_order *o = asw_order_new("O1");
    asw_source src = {"aftersale.events", 7, INT64_MAX};
    ev = spec_event(ASW_EV_APPLIED, INT64_MAX - 1);
    ev.order.order_paid_amount = ev.order.sku_paid_amount = INT64_MAX;
    asw_result res;
    asw_order_apply(o, rules, &ev, &src, &res);
    must(asw_codec_encode_decision(codec, &res.decision, &b), "decision");
    seed_variants("fuzz_event_decode", "decision", &b);
    must(asw_codec_encode_record(codec, &res.record, &b), "record");
    seed_variants("fuzz_event_decode", "refund_record", &b);
    asw_event_clear(&ev);
    asw_order_destroy(o);
    asw_ruleset_destroy(rules);
    must(asw_codec_encode_partition_state(codec, INT64_MAX, &b), "partition");
    seed_variants("fuzz_event_decode", "partition_state", &b);
    asw_buf_free(&b);
}

/* ---- states and changelog records ---- */

typedef struct records {
    const char *prefix;
    char kinds[16]; /* the record kinds seeded so far */
} records;

/* The first record of each kind a commit writes becomes a seed of
 * fuzz_state_decode, with its variants (the partition state is
 * fuzz_event_decode's). */
static int seed_record(void *opaque, const void *key, size_t keylen, const void *value,
                       size_t len) {
    records *r = opaque;
    const char *nul = memchr(key, '\0', keylen);
    char kind = nul ? nul[1] : (len > 1 ? ((const char *)value)[1] : '?');
    if (!value || nul == key || strchr(r->kinds, kind) || strlen(r->kinds) + 1 >= sizeof r->kinds)
        return 0;
    r->kinds[strlen(r->kinds)] = kind;
    char name[128];
    snprintf(name, sizeof name, "%s.%c", r->prefix, kind);
    asw_buf b = ASW_BUF_INIT;
    asw_buf_append(&b, value, len);
    seed_variants("fuzz_state_decode", name, &b);
    asw_buf_free(&b);
    return 0;
}

static void state_seeds(void) {
    asw_ruleset *rules = asw_ruleset_new();
    asw_state_limits limits = {90 * FZ_DAY, 3600000, 16};
    asw_processor *p = asw_processor_new(rules, &limits, true);
    asw_source src = {"aftersale.events", 0, 0};
    asw_buf b = ASW_BUF_INIT;
    char err[256], id[32];
    records rec = {"small", ""};

    /* O1: a little of everything, then amounts near 2^63. */
    asw_event evs[] = {
        event_of(ASW_EV_APPLIED, "e1", "A1", "O1-1", 3000),
        event_of(ASW_EV_APPLIED, "e2", "A2", "O1-2", 1000),
        event_of(ASW_EV_WITHDRAWN, "e3", "A2", "O1-2", 0),
        event_of(ASW_EV_SUCCEEDED, "e4", "A1", "O1-1", 3000),
        event_of(ASW_EV_EXTERNAL, "e5", "R1", "O1-1", 500),
        event_of(ASW_EV_CLAWED_BACK, "e6", "R1", "O1-1", 200),
        event_of(ASW_EV_CLOSED, "e7", "A9", "O1-3", 0),
        event_of(ASW_EV_APPLIED, "e8", "", "O1-1", 10),
    };
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++, src.offset++) {
        asw_result res;
        asw_processor_apply(p, &evs[i], &src, &res);
        asw_event_clear(&evs[i]);
    }
    const asw_order *o = asw_processor_get(p, "O1");
    must(asw_codec_encode_state(codec, o, &b), "state");
    seed_variants("fuzz_state_decode", "avro_state", &b);
    b.data[3] = (uint8_t)((FZ_ID_CURRENT + ASW_SCHEMA_ID_ORDER_STATE) >> 8);
    b.data[4] = (uint8_t)(FZ_ID_CURRENT + ASW_SCHEMA_ID_ORDER_STATE);
    seed_buf("fuzz_state_decode", "avro_state.registry_id", &b);
    asw_changelog_write(codec, p, "aftersale.events", &b, seed_record, &rec, err, sizeof err);
    asw_processor_checkpoint(p);

    asw_event big = event_of(ASW_EV_EXTERNAL, "e20", "R2", "O1-1", INT64_MAX - 10000);
    big.order_paid_amount = big.sku_paid_amount = INT64_MAX;
    asw_result res;
    asw_processor_apply(p, &big, &src, &res);
    asw_event_clear(&big);
    o = asw_processor_get(p, "O1");
    must(asw_codec_encode_state(codec, o, &b), "state");
    seed_variants("fuzz_state_decode", "avro_state.int64_max", &b);
    rec = (records){"near_int64_max", ""};
    asw_changelog_write(codec, p, "aftersale.events", &b, seed_record, &rec, err, sizeof err);
    asw_processor_checkpoint(p);

    /* More entities than a whole record holds: the order is split. */
    for (int i = 0; i <= ASW_WHOLE_ENTITIES; i++, src.offset++) {
        snprintf(id, sizeof id, "X%d", i);
        asw_event ev = event_of(ASW_EV_EXTERNAL, id, id, i % 2 ? "O1-1" : "O1-2", 1);
        asw_processor_apply(p, &ev, &src, &res);
        asw_event_clear(&ev);
    }
    asw_event ap = event_of(ASW_EV_APPLIED, "e30", "A30", "O1-4", 0);
    ap.aftersale_type = ASW_AT_EXCHANGE;
    asw_processor_apply(p, &ap, &src, &res);
    asw_event_clear(&ap);
    rec = (records){"split", ""};
    asw_changelog_write(codec, p, "aftersale.events", &b, seed_record, &rec, err, sizeof err);
    asw_processor_checkpoint(p);
    asw_processor_destroy(p);
    asw_ruleset_destroy(rules);

    /* Earlier writers (fuzz/writers/), byte by byte. */
    put_frame(&b, FZ_ID_STATE_MINIMAL);
    put_str(&b, "O1"), put_long(&b, INT64_MAX);
    seed_variants("fuzz_state_decode", "old_state_minimal", &b);
    put_frame(&b, FZ_ID_STATE_LEDGER);
    put_str(&b, "O1"), put_long(&b, 10000), put_long(&b, 3000), put_long(&b, 0);
    put_long(&b, 2); /* two sub-orders */
    put_str(&b, "O1-1"), put_long(&b, 6000), put_long(&b, 3000);
    put_str(&b, "O1-2"), put_long(&b, 4000), put_long(&b, INT64_MIN);
    put_long(&b, 0);
    seed_variants("fuzz_state_decode", "old_state_ledger", &b);
    /* What the fuzzer found (docs/fuzzing.md): a state whose withdrawn
     * application still reserves, a state of another order whose id holds
     * a newline, a ledger record whose remaining amount leaves int64. */
    asw_order *odd = asw_order_new("O1");
    asw_order_put_sku(odd, "O1-1", 10000, 0, 0, 0, true);
    asw_order_put_app(odd, "A1", true, "O1-1", "s1", true, ASW_AT_RETURN_AND_REFUND,
                      ASW_APP_WITHDRAWN, 4, NULL);
    must(asw_codec_encode_state(codec, odd, &b), "state");
    seed_buf("fuzz_state_decode", "regression.ended_application_reserves", &b);
    asw_order_destroy(odd);
    odd = asw_order_new("O1\n\"x\"");
    must(asw_codec_encode_state(codec, odd, &b), "state");
    seed_buf("fuzz_state_decode", "regression.state_of_an_order_named_on_two_lines", &b);
    asw_order_destroy(odd);
    asw_buf_reset(&b);
    asw_buf_append(&b, "\xa5O\x01", 3);
    put_long(&b, -25), put_long(&b, INT64_MAX - 22), put_long(&b, 0), put_long(&b, 0);
    asw_buf_append(&b, "\0\0\0", 3); /* no flag, no shop, no sub-order */
    seed_buf("fuzz_state_decode", "regression.ledger_remaining_overflows", &b);
    seed("fuzz_state_decode", "regression.application_record_ended_reserves",
         "\xa5"
         "A\x01\x05\x01\x00\x08\x02S1\x00",
         11);
    seed("fuzz_state_decode", "broken.magic_only", "\xa5", 1);
    seed("fuzz_state_decode", "broken.unknown_kind", "\xa5Z\x01", 3);
    seed("fuzz_state_decode", "broken.whole_version", "\xa5W\x02\x00", 4);
    asw_buf_free(&b);
}

/* ---- processor op streams ---- */

/* One event operation of fuzz_processor (its build_event reads it). */
typedef struct pev {
    int type, order, id, sku, shop;         /* pool indexes */
    int initiator, atype, close, kind;      /* enums */
    int status, goods, cross, has_deadline; /* the order snapshot */
    int64_t amount, order_paid, sku_paid;   /* values of fz_amounts */
    int step, deadline;                     /* indexes of fz_steps, fz_deadlines */
} pev;

static uint8_t amount_index(int64_t v) {
    for (int i = 0; i < 32; i++)
        if (fz_amounts[i] == v)
            return (uint8_t)i;
    fprintf(stderr, "asw-fuzz-corpus: %lld is not in fz_amounts\n", (long long)v);
    exit(1);
}

static void op_event(asw_buf *b, const pev *e) {
    uint8_t op[1 + FZ_EVENT_BYTES] = {
        FZ_OP_EVENT,
        (uint8_t)(e->type + ASW_EV__COUNT * e->order),
        (uint8_t)(e->id | e->sku << 3 | e->shop << 5),
        (uint8_t)(e->initiator | e->atype << 1 | e->close << 4 | e->kind << 6),
        (uint8_t)(e->status | e->goods << 3 | e->cross << 4 | e->has_deadline << 5),
        amount_index(e->amount),
        amount_index(e->order_paid),
        amount_index(e->sku_paid),
        (uint8_t)e->step,
        (uint8_t)e->deadline,
    };
    asw_buf_append(b, op, sizeof op);
}

static void op(asw_buf *b, uint8_t code) {
    asw_buf_append(b, &code, 1);
}

/* A buyer's REFUND_ONLY_SHIPPED application on a shipped order. */
static pev applied(int order, int id, int sku, int64_t amount, int64_t paid) {
    return (pev){ASW_EV_APPLIED,
                 order,
                 id,
                 sku,
                 0,
                 0,
                 ASW_AT_REFUND_ONLY_SHIPPED,
                 0,
                 0,
                 ASW_OS_SHIPPED,
                 0,
                 0,
                 1,
                 amount,
                 paid,
                 paid,
                 2,
                 5};
}

static pev fact(asw_event_type t, int order, int id, int sku, int64_t amount, int64_t paid) {
    return (pev){(int)t, order, id, sku, 0,      0,    0,    0, ASW_EK_OFFLINE,
                 0,      0,     0,  0,   amount, paid, paid, 2, 0};
}

static void processor_seeds(void) {
    asw_buf b = ASW_BUF_INIT;
    const uint8_t header[2] = {0x20 | 0x02, 0x04}; /* 90 days, 1 h steps, 3 decoded; limit 5 */
    pev e;

    /* The SPEC's life of an order, committed step by step. */
    asw_buf_append(&b, header, 2);
    op_event(&b, (e = applied(0, 0, 0, 3000, 10000), &e));
    op(&b, FZ_OP_COMMIT);
    op_event(&b, (e = fact(ASW_EV_SUCCEEDED, 0, 0, 0, 3000, 10000), &e));
    op_event(&b, (e = fact(ASW_EV_EXTERNAL, 0, 4, 0, 500, 10000), &e));
    op(&b, FZ_OP_COMMIT);
    op_event(&b, (e = applied(0, 1, 0, 6000, 10000), &e));
    op_event(&b, (e = applied(0, 2, 1, 1, 10000), &e));
    op(&b, FZ_OP_ABORT);
    op_event(&b, (e = fact(ASW_EV_CLAWED_BACK, 0, 4, 0, 100, 0), &e));
    op(&b, FZ_OP_MORE | FZ_MORE_REDELIVER << 3);
    op(&b, FZ_OP_COMMIT);
    seed_buf("fuzz_processor", "spec_life", &b);

    /* Amounts near 2^63: facts that overflow the ledger, applications that
     * ask for all of it. */
    asw_buf_reset(&b);
    asw_buf_append(&b, header, 2);
    op_event(&b, (e = fact(ASW_EV_EXTERNAL, 0, 4, 0, INT64_MAX, INT64_MAX), &e));
    op_event(&b, (e = fact(ASW_EV_SUCCEEDED, 0, 0, 0, INT64_MAX - 1, INT64_MAX), &e));
    op_event(&b, (e = applied(0, 1, 0, INT64_MAX, INT64_MAX), &e));
    op(&b, FZ_OP_COMMIT);
    op_event(&b, (e = fact(ASW_EV_CLAWED_BACK, 0, 4, 0, INT64_MAX, 0), &e));
    op_event(&b, (e = applied(1, 0, 0, INT64_MAX - 1, INT64_MAX), &e));
    op_event(&b, (e = applied(1, 1, 1, 1, INT64_MAX), &e));
    op_event(&b, (e = fact(ASW_EV_EXTERNAL, 1, 5, 0, INT64_MAX, INT64_MAX), &e));
    op_event(&b, (e = applied(1, 2, 0, INT64_MIN, INT64_MAX), &e));
    op(&b, FZ_OP_COMMIT);
    op(&b, FZ_OP_ABORT);
    seed_buf("fuzz_processor", "near_int64_max", &b);

    /* Retention: a deadline, then stream time far past it; sweeps, a late
     * event, a wild clock. */
    asw_buf_reset(&b);
    const uint8_t short_retention[2] = {0x01 | 0x0c, 0x04}; /* 1 day, unbounded steps */
    asw_buf_append(&b, short_retention, 2);
    op_event(&b, (e = applied(0, 0, 0, 3000, 10000), &e));
    op_event(&b, (e = fact(ASW_EV_CLOSED, 0, 0, 0, 0, 0), &e));
    op(&b, FZ_OP_COMMIT);
    e = applied(1, 0, 0, 100, 10000), e.step = 9; /* 180 days on */
    op_event(&b, &e);
    op(&b, FZ_OP_MORE | FZ_MORE_EVICT_STEP << 3);
    op(&b, FZ_OP_MORE | FZ_MORE_EVICT << 3);
    op(&b, FZ_OP_COMMIT);
    e = fact(ASW_EV_SUCCEEDED, 0, 0, 0, 3000, 10000), e.step = 12; /* late */
    op_event(&b, &e);
    e = applied(2, 0, 0, 1, 10000), e.step = 13; /* INT64_MAX */
    op_event(&b, &e);
    op(&b, FZ_OP_ABORT);
    op(&b, FZ_OP_MORE | FZ_MORE_EVICT << 3);
    op(&b, FZ_OP_COMMIT);
    seed_buf("fuzz_processor", "retention", &b);

    /* One order past ASW_WHOLE_ENTITIES: split, then aborted, then split for
     * good; with every order frozen after each commit. */
    asw_buf_reset(&b);
    const uint8_t freeze_all[2] = {0x02, 0x04};
    asw_buf_append(&b, freeze_all, 2);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 30; i++) {
            e = fact(i % 3 ? ASW_EV_CLAWED_BACK : ASW_EV_EXTERNAL, 0, i % 8, i % 4, 1, 10000);
            op_event(&b, &e);
        }
        op(&b, round ? FZ_OP_COMMIT : FZ_OP_ABORT);
    }
    for (int i = 0; i < 8; i++)
        op_event(&b, (e = applied(0, i, i % 3, 100, 10000), &e));
    op(&b, FZ_OP_COMMIT);
    seed_buf("fuzz_processor", "split_order", &b);

    /* Raw frames: a real one, a truncated one; every event type once. */
    asw_buf_reset(&b);
    asw_buf_append(&b, header, 2);
    asw_buf frame = ASW_BUF_INIT;
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = spec_event((asw_event_type)t, 100);
        must(asw_codec_encode_event(codec, &ev, &frame), "event");
        asw_event_clear(&ev);
        op(&b, FZ_OP_RAW);
        op(&b, (uint8_t)frame.len);
        asw_buf_append(&b, frame.data, frame.len);
    }
    op(&b, FZ_OP_RAW);
    op(&b, (uint8_t)(frame.len / 2));
    asw_buf_append(&b, frame.data, frame.len / 2);
    op(&b, FZ_OP_COMMIT);
    op(&b, FZ_OP_MORE | FZ_MORE_REDELIVER << 3 | 2 << 5);
    op(&b, FZ_OP_ABORT);
    seed_buf("fuzz_processor", "raw_frames", &b);
    asw_buf_free(&frame);

    /* The rules: cards, unshipped full refunds, the limit, the rollout,
     * virtual goods, invalid requests, under each ruleset header. */
    for (int h = 0; h < 4; h++) {
        asw_buf_reset(&b);
        const uint8_t rules[2] = {(uint8_t)(h << 4 | 2), (uint8_t)(h << 3 | (h == 3 ? 0 : 4))};
        asw_buf_append(&b, rules, 2);
        for (int i = 0; i < 7; i++) {
            e = applied(i % 2, i, i % 2, i == 6 ? -1 : 1000, 10000);
            e.initiator = i == 1;
            e.atype = i;
            e.status = i % ASW_OS__COUNT;
            e.goods = i == 5;
            e.cross = i == 4;
            e.shop = i % 4;
            e.deadline = i == 3 ? 6 : 5; /* one expired */
            op_event(&b, &e);
        }
        op(&b, FZ_OP_COMMIT);
        op_event(&b, (e = fact(ASW_EV_SUCCEEDED, 0, 0, 0, 1000, 10000), &e));
        op_event(&b, (e = applied(0, 3, 0, 8000, 10000), &e));
        op_event(&b, (e = applied(0, 3, 0, 8000, 10000), &e)); /* a duplicate */
        op(&b, FZ_OP_COMMIT);
        char name[32];
        snprintf(name, sizeof name, "rules%d", h);
        seed_buf("fuzz_processor", name, &b);
    }

    /* Deterministic noise, for the fuzzer to start from. */
    uint64_t x = 88172645463325252ULL;
    for (int s = 0; s < 6; s++) {
        asw_buf_reset(&b);
        for (int i = 0; i < 400; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint8_t byte = (uint8_t)x;
            asw_buf_append(&b, &byte, 1);
        }
        char name[32];
        snprintf(name, sizeof name, "noise%d", s);
        seed_buf("fuzz_processor", name, &b);
    }
    asw_buf_free(&b);
}

/* ---- JSON Lines ---- */

static void jsonl_seeds(void) {
    asw_buf b = ASW_BUF_INIT;
    char name[32];
    /* Generated streams, as `generate` prints them. */
    for (int s = 1; s <= 4; s++) {
        asw_gen *g = asw_gen_new((uint64_t)s, 3, 2);
        asw_event ev;
        asw_buf_reset(&b);
        for (int i = 0; i < 24 && asw_gen_next(g, &ev); i++) {
            asw_jsonl_format_event(&ev, &b);
            asw_event_clear(&ev);
        }
        asw_gen_destroy(g);
        snprintf(name, sizeof name, "generated%d", s);
        seed_buf("fuzz_jsonl", name, &b);
    }
    /* The SPEC's examples as the SPEC writes them (a blank after each ':'
     * and ','), one line ending in CR LF, blank lines between. */
    asw_buf_reset(&b);
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = spec_event((asw_event_type)t, 3000);
        asw_buf line = ASW_BUF_INIT;
        asw_jsonl_format_event(&ev, &line);
        asw_event_clear(&ev);
        bool in_string = false;
        for (size_t i = 0; i < line.len - 1; i++) {
            uint8_t c = line.data[i];
            asw_buf_append(&b, &c, 1);
            if (c == '"' && line.data[i - 1] != '\\')
                in_string = !in_string;
            else if (!in_string && (c == ':' || c == ','))
                asw_buf_append(&b, " ", 1);
        }
        asw_buf_append_str(&b, t == 0 ? "\r\n" : t == 2 ? "\n\n   \t\n" : "\n");
        asw_buf_free(&line);
    }
    seed_buf("fuzz_jsonl", "spec_example", &b);
    for (int t = 0; t < ASW_EV__COUNT; t++) {
        asw_event ev = spec_event((asw_event_type)t, INT64_MAX);
        ev.event_time = INT64_MIN;
        asw_buf_reset(&b);
        asw_jsonl_format_event(&ev, &b);
        asw_event_clear(&ev);
        snprintf(name, sizeof name, "int64_edges%d", t);
        seed_buf("fuzz_jsonl", name, &b);
    }
    asw_buf_free(&b);
    static const struct {
        const char *name, *text;
    } lines[] = {
        {"integers",
         "{\"type\":\"RefundClawedBack\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":"
         "-9223372036854775808,\"refund_id\":\"R\",\"sku_order_id\":\"S\",\"amount\":"
         "9223372036854775807}\n"
         "{\"type\":\"RefundClawedBack\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":0,"
         "\"refund_id\":\"R\",\"sku_order_id\":\"S\",\"amount\":9223372036854775808}\n"
         "{\"type\":\"RefundClawedBack\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":-0,"
         "\"refund_id\":\"R\",\"sku_order_id\":\"S\",\"amount\":1e3}\n"
         "{\"type\":\"RefundClawedBack\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":01,"
         "\"refund_id\":\"R\",\"sku_order_id\":\"S\",\"amount\":1.0}\n"},
        {"strings",
         "{\"type\":\"AfterSaleWithdrawn\",\"event_id\":\"\\u00e9\\ud83d\\ude00\\n\\\"\","
         "\"order_id\":\"\xe5\xba\x97\",\"event_time\":1,\"aftersale_id\":\"\\ud800\","
         "\"sku_order_id\":\"a\\u0000b\",\"extra\":[1,{\"k\":null},true,\"\\/\"]}\n"
         "{\"type\":\"AfterSaleWithdrawn\",\"event_id\":\"\xc0\x80\",\"order_id\":\"O\","
         "\"event_time\":1,\"aftersale_id\":\"A\",\"sku_order_id\":\"\xff\"}\n"},
        {"refused",
         "{\"type\":\"AfterSaleClosed\",\"event_id\":\"e\",\"event_id\":\"f\"}\n"
         "{\"type\":\"AfterSaleClosed\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"
         "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"close_reason\":\"TIMED_OUT\"}\n"
         "{\"type\":\"AfterSaleClosed\",\"event_id\":1}\n"
         "{\"type\":\"Refund\"}\n"
         "[1,2,3]\n"
         "{\"type\":\"AfterSaleClosed\"} trailing\n"
         "{\"type\":\"AfterSaleClosed\",\n"
         "\xef\xbb\xbf{\"type\":\"AfterSaleClosed\"}\n"
         "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n"
         "nul\0byte\n"},
        {"applied_wrong_types",
         "{\"type\":\"AfterSaleApplied\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"
         "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"s\",\"initiator\":"
         "\"MERCHANT_CARD\",\"aftersale_type\":\"EXCHANGE\",\"apply_amount\":0,\"order\":"
         "{\"order_status\":\"CANCELLED\",\"goods_type\":\"VIRTUAL\",\"cross_border\":1,"
         "\"order_paid_amount\":1,\"sku_paid_amount\":1,\"aftersale_deadline\":null}}\n"
         "{\"type\":\"AfterSaleApplied\",\"event_id\":\"e\",\"order_id\":\"O\",\"event_time\":1,"
         "\"aftersale_id\":\"A\",\"sku_order_id\":\"S\",\"shop_id\":\"s\",\"initiator\":"
         "\"BUYER\",\"aftersale_type\":\"RESHIP\",\"apply_amount\":0,\"order\":[]}\n"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        size_t len = strlen(lines[i].text);
        if (strcmp(lines[i].name, "refused") == 0)
            len += strlen(lines[i].text + len + 1) + 1; /* past the NUL byte */
        seed("fuzz_jsonl", lines[i].name, lines[i].text, len);
    }
}

/* ---- configuration files ---- */

static void config_seeds(void) {
    static const struct {
        const char *name, *text;
    } files[] = {
        {"every_key", "# every key the worker knows\n"
                      "rules.application.limit = 5\n"
                      "rules.multi_refund.shops = s1, s2,s3\n"
                      "rules.multi_refund.percent = 100\n"
                      "topic.input = aftersale.events\n"
                      "topic.decisions: aftersale.decisions\n"
                      "topic.refund_records aftersale.refund-records\n"
                      "topic.dlq=aftersale.dlq\n"
                      "topic.changelog =\n"
                      "application.id = aftersale-prod\n"
                      "commit.interval.ms = 600000\n"
                      "commit.max.records = 1000000\n"
                      "num.threads = 64\n"
                      "worker.id = aftersale-0\n"
                      "state.retention.ms = 4611686018427387904\n"
                      "state.stream_time.max_step.ms = 0\n"
                      "state.cache.orders = 100000000\n"
                      "topic.replication.factor = -1\n"
                      "schema.registry.url = https://user:pass@registry:8081\n"
                      "log.level = debug\n"},
        {"kafka_properties", "! librdkafka's own keys pass through\n"
                             "bootstrap.servers = kafka-1:9093,kafka-2:9093\n"
                             "security.protocol = SASL_SSL\n"
                             "sasl.mechanisms = SCRAM-SHA-512\n"
                             "sasl.username = aftersale\n"
                             "sasl.password = change-me\n"
                             "message.max.bytes = 2000000\n"
                             "bootstrap.servers = kafka-3:9093\n"},
        {"syntax", "  key.with.escapes\\=x = 1\n"
                   "rules.multi_refund.shops = s1,\\\n"
                   "    s2,\\\n"
                   "\ts3\r\n"
                   "topic.input = a\\\\b\n"
                   "\n"
                   "   # comment \\\n"
                   "log.level = warn\\\n"},
        {"bad_int_too_big", "state.retention.ms = 9223372036854775807\n"},
        {"bad_int_past_max", "state.retention.ms = 4611686018427387905\n"},
        {"bad_int_negative", "\n\nstate.stream_time.max_step.ms = -1\n"},
        {"bad_int_blank", "rules.application.limit =  5x\n"},
        {"bad_escape", "topic.input = a\\u0041\n"},
        {"bad_backslash_end", "topic.input = a\\"},
        {"bad_unknown_key", "rules.application.limit = 5\nno.such.key = 1\n"},
        {"bad_managed", "group.id = mine\n"},
        {"bad_empty_key", "= value\n"},
        {"bad_topic", "topic.dlq = bad topic!\n"},
        {"bad_kafka_value", "security.protocol = carrier-pigeon\n"},
        {"bad_shops", "rules.multi_refund.shops = s1,,s2\n"},
        {"bad_url", "schema.registry.url = ftp://x\n"},
        {"bad_continuation_last", "rules.application.limit = 1\\\n000\\\n0\\\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        seed_str("fuzz_config", files[i].name, files[i].text);
    seed("fuzz_config", "bad_nul", "log.level = info\nlog.level = de\0bug\n", 35);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    mkdir_p(root);
    codec = fz_codec_new(true);
    event_seeds();
    state_seeds();
    processor_seeds();
    jsonl_seeds();
    config_seeds();
    asw_codec_destroy(codec);
    printf("asw-fuzz-corpus: %d seeds written under %s\n", written, root);
    return 0;
}
