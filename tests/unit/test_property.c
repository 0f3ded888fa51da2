/*
 * test_property.c -- seeded random event streams against the SPEC's
 * invariants: no accepted application ever makes refunded + reserved exceed
 * paid (order or sub-order); reservations always equal the open
 * applications' amounts; replay is deterministic; every order state
 * round-trips through the changelog codec.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "asw/ledger.h"
#include "asw/processor.h"
#include "asw/store.h"

#define SEEDS           120
#define ORDERS_PER_SEED 80

/* Reservations must equal what the OPEN applications hold, and the derived
 * counters what the applications say. */
static void check_reservations(const asw_order *o, uint64_t seed) {
    int64_t total = 0;
    int32_t counted = 0, open_total = 0;
    for (size_t s = 0; s < o->n_skus; s++) {
        const asw_sku_state *sku = &o->skus[s];
        const char *sku_id = asw_order_str(o, sku->sku_order_id);
        int64_t on_sku = 0;
        int32_t open = 0;
        for (size_t a = 0; a < o->n_apps; a++)
            if (o->apps[a].counted &&
                strcmp(asw_order_str(o, o->apps[a].sku_order_id), sku_id) == 0) {
                on_sku += o->apps[a].reserved;
                open += o->apps[a].state == ASW_APP_OPEN;
            }
        cr_assert_eq(sku->reserved, on_sku, "seed %llu order %s sku %s", (unsigned long long)seed,
                     asw_order_id(o), sku_id);
        cr_assert_eq(sku->open_apps, open, "seed %llu order %s sku %s", (unsigned long long)seed,
                     asw_order_id(o), sku_id);
        cr_assert_geq(sku->refunded, 0);
        total += on_sku;
        open_total += open;
    }
    for (size_t a = 0; a < o->n_apps; a++) {
        counted += o->apps[a].counted;
        if (o->apps[a].state != ASW_APP_OPEN)
            cr_assert_eq(o->apps[a].reserved, 0);
    }
    cr_assert_eq(o->reserved, total, "seed %llu order %s", (unsigned long long)seed,
                 asw_order_id(o));
    cr_assert_eq(asw_order_applications_used(o), counted);
    cr_assert_eq((int32_t)o->n_open, open_total);
    cr_assert_geq(o->refunded, 0);
}

Test(property, accepted_application_never_makes_refunded_plus_reserved_exceed_paid) {
    asw_ruleset *rules = asw_ruleset_new();
    asw_ruleset_set_shops(rules, "s0,s1,s2,s3,s4,s5,s6");
    int64_t accepted = 0, reasons_seen[ASW_R__COUNT] = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        asw_gen *g = asw_gen_new(seed, ORDERS_PER_SEED, 8);
        asw_store *store = asw_store_new();
        asw_source src = {"events", 0, 0};
        asw_event ev;
        while (asw_gen_next(g, &ev)) {
            asw_order *o = asw_store_get_or_create(store, ev.order_id);
            asw_result res;
            asw_order_apply(o, rules, &ev, &src, &res);
            src.offset++;
            if (res.has_decision && !res.decision.duplicate) {
                for (int r = 0; r < ASW_R__COUNT; r++)
                    if (res.decision.reasons & (1u << r))
                        reasons_seen[r]++;
                if (res.decision.outcome == ASW_OUT_ACCEPTED &&
                    res.decision.initiator == ASW_INIT_BUYER && ev.amount > 0) {
                    const asw_sku_state *sku = asw_order_find_sku(o, ev.sku_order_id);
                    cr_assert_leq(o->refunded + o->reserved, o->paid, "seed %llu offset %lld",
                                  (unsigned long long)seed, (long long)src.offset - 1);
                    cr_assert_leq(sku->refunded + sku->reserved, sku->paid, "seed %llu offset %lld",
                                  (unsigned long long)seed, (long long)src.offset - 1);
                    accepted++;
                }
            }
            check_reservations(o, seed);
            asw_event_clear(&ev);
        }
        asw_store_destroy(store);
        asw_gen_destroy(g);
    }
    asw_ruleset_destroy(rules);
    /* The streams must actually exercise the rules, or the property is empty. */
    cr_assert_gt(accepted, 1000);
    for (int r = 0; r < ASW_R__COUNT; r++)
        cr_assert_gt(reasons_seen[r], 0, "no decision with %s", asw_reason_name((asw_reason)r));
}

/* All outputs of one stream as JSON Lines. */
static void run_stream(uint64_t seed, const asw_ruleset *rules, asw_buf *out) {
    asw_gen *g = asw_gen_new(seed, ORDERS_PER_SEED, 8);
    asw_store *store = asw_store_new();
    asw_source src = {"events", 3, 0};
    asw_event ev;
    while (asw_gen_next(g, &ev)) {
        asw_result res;
        asw_order_apply(asw_store_get_or_create(store, ev.order_id), rules, &ev, &src, &res);
        if (res.has_decision)
            asw_jsonl_format_decision(&res.decision, out);
        if (res.has_record)
            asw_jsonl_format_record(&res.record, out);
        src.offset++;
        asw_event_clear(&ev);
    }
    asw_store_destroy(store);
    asw_gen_destroy(g);
}

Test(property, same_input_from_a_fresh_state_gives_the_same_outputs) {
    asw_ruleset *rules = asw_ruleset_new();
    for (uint64_t seed = 1; seed <= 20; seed++) {
        asw_buf a = ASW_BUF_INIT, b = ASW_BUF_INIT;
        run_stream(seed, rules, &a);
        run_stream(seed, rules, &b);
        cr_assert_gt(a.len, 0);
        cr_assert_eq(a.len, b.len, "seed %llu", (unsigned long long)seed);
        cr_assert(memcmp(a.data, b.data, a.len) == 0, "seed %llu", (unsigned long long)seed);
        asw_buf_free(&a);
        asw_buf_free(&b);
    }
    asw_ruleset_destroy(rules);
}

Test(property, every_order_state_round_trips_through_the_changelog_codec) {
    char err[256];
    asw_codec *codec = asw_codec_new(err, sizeof err);
    cr_assert_not_null(codec, "%s", err);
    asw_ruleset *rules = asw_ruleset_new();
    asw_buf buf = ASW_BUF_INIT;
    int64_t checked = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        asw_gen *g = asw_gen_new(seed, 40, 6);
        asw_store *store = asw_store_new();
        asw_source src = {"events", 1, 0};
        asw_event ev;
        while (asw_gen_next(g, &ev)) {
            asw_order *o = asw_store_get_or_create(store, ev.order_id);
            asw_result res;
            asw_order_apply(o, rules, &ev, &src, &res);
            src.offset++;
            if (res.state_changed) {
                cr_assert_eq(asw_codec_encode_state(codec, o, &buf), ASW_CODEC_OK);
                asw_order *back = NULL;
                cr_assert_eq(
                    asw_codec_decode_state(codec, buf.data, buf.len, &back, err, sizeof err),
                    ASW_CODEC_OK, "%s", err);
                cr_assert(asw_order_equal(o, back), "seed %llu order %s", (unsigned long long)seed,
                          asw_order_id(o));
                asw_order_destroy(back);
                checked++;
            }
            asw_event_clear(&ev);
        }
        asw_store_destroy(store);
        asw_gen_destroy(g);
    }
    cr_assert_gt(checked, 1000);
    asw_buf_free(&buf);
    asw_ruleset_destroy(rules);
    asw_codec_destroy(codec);
}

/* ---- bounded state (SPEC 7) ---- */

typedef struct arriving {
    int64_t arrival; /* event_time + a delay of at most a day */
    int64_t seq;
    asw_event ev;
} arriving;

static int by_arrival(const void *a, const void *b) {
    const arriving *x = a, *y = b;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One generated stream, delivered out of order: each event arrives up to a
 * day after its event_time. Returns the count; *out is owned by the caller. */
static size_t late_stream(uint64_t seed, int32_t orders, arriving **out) {
    asw_gen *g = asw_gen_new(seed, orders, 64);
    size_t n = 0, cap = 1024;
    arriving *a = malloc(cap * sizeof *a);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL;
    while (asw_gen_next(g, &a[n].ev)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        a[n].arrival = a[n].ev.event_time + (int64_t)(x % 86400000ULL);
        a[n].seq = (int64_t)n;
        if (++n == cap)
            a = realloc(a, (cap *= 2) * sizeof *a);
    }
    asw_gen_destroy(g);
    qsort(a, n, sizeof *a, by_arrival);
    *out = a;
    return n;
}

/* The outputs of `proc` over the stream, as JSON Lines; when `sweep`, a
 * whole sweep every 500 events and a step of one every 50 between.
 * Counts late events. */
static void run_bounded(asw_processor *proc, arriving *a, size_t n, bool sweep, asw_buf *out,
                        int64_t *late, int64_t *dropped) {
    asw_source src = {"events", 0, 0};
    for (size_t i = 0; i < n; i++, src.offset++) {
        asw_result res;
        asw_processor_apply(proc, &a[i].ev, &src, &res);
        *late += res.status == ASW_APPLY_LATE;
        if (res.has_decision)
            asw_jsonl_format_decision(&res.decision, out);
        if (res.has_record)
            asw_jsonl_format_record(&res.record, out);
        if (sweep && i % 500 == 499)
            *dropped += (int64_t)asw_processor_evict(proc);
        else if (sweep && i % 50 == 49) /* the worker's sweep, a slice a commit */
            *dropped += (int64_t)asw_processor_evict_step(proc, 3);
    }
}

Test(property, eviction_changes_no_output_when_no_event_is_later_than_the_retention) {
    const int64_t day = 86400000;
    asw_ruleset *rules = asw_ruleset_new();
    asw_state_limits bounded = {.retention_ms = 5 * day, .max_step_ms = 3600000};
    asw_state_limits forever = {.retention_ms = INT64_MAX / 4, .max_step_ms = 3600000};
    int64_t dropped = 0, late = 0, held_bounded = 0, held_forever = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        arriving *a;
        size_t n = late_stream(seed, 800, &a);
        asw_processor *pb = asw_processor_new(rules, &bounded, false);
        asw_processor *pf = asw_processor_new(rules, &forever, false);
        asw_buf ob = ASW_BUF_INIT, of = ASW_BUF_INIT;
        run_bounded(pb, a, n, true, &ob, &late, &dropped);
        run_bounded(pf, a, n, false, &of, &late, &dropped);
        held_bounded += (int64_t)asw_processor_order_count(pb);
        held_forever += (int64_t)asw_processor_order_count(pf);
        cr_assert_gt(ob.len, 0);
        cr_assert(ob.len == of.len && memcmp(ob.data, of.data, ob.len) == 0,
                  "seed %llu: eviction changed an output", (unsigned long long)seed);
        asw_buf_free(&ob);
        asw_buf_free(&of);
        asw_processor_destroy(pb);
        asw_processor_destroy(pf);
        for (size_t i = 0; i < n; i++)
            asw_event_clear(&a[i].ev);
        free(a);
    }
    asw_ruleset_destroy(rules);
    cr_assert_eq(late, 0, "no event is more than the retention late");
    /* The property is empty unless orders were really dropped; and none
     * came back (every dropped order is one the unbounded state holds). */
    cr_assert_gt(dropped, 2000);
    cr_assert_eq(held_bounded + dropped, held_forever, "held %lld of %lld, dropped %lld",
                 (long long)held_bounded, (long long)held_forever, (long long)dropped);
}

/* An event built by hand for the stream below. */
static asw_event wild_application(const char *event_id, const char *order_id, int64_t t,
                                  int64_t amount) {
    asw_event ev;
    asw_event_init(&ev);
    ev.type = ASW_EV_APPLIED;
    ev.event_id = strdup(event_id);
    ev.order_id = strdup(order_id);
    ev.aftersale_id = strdup(event_id);
    ev.sku_order_id = strdup("W-1");
    ev.shop_id = strdup("s1");
    ev.refund_id = strdup("");
    ev.event_time = t;
    ev.amount = amount; /* negative: INVALID_REQUEST */
    ev.aftersale_type = ASW_AT_REFUND_ONLY_SHIPPED;
    ev.order.order_status = ASW_OS_SHIPPED;
    ev.order.order_paid_amount = ev.order.sku_paid_amount = 1000;
    return ev;
}

Test(property, default_retention_forgets_nothing_with_slow_upstreams_and_wild_clocks) {
    /* 200 days of the generate mix; shops s3 and s7 arrive 30 days late (a
     * slow upstream); mid-stream, wild clocks five years ahead: one valid
     * application, one invalid, then a burst of 20. With the default
     * state.retention.ms (90 days) and step (1 hour), every output equals
     * that of a state that keeps every order, and nothing is late. */
    const int64_t day = 86400000;
    asw_ruleset *rules = asw_ruleset_new();
    asw_state_limits defaults = {.retention_ms = 90 * day, .max_step_ms = 3600000};
    asw_state_limits forever = {.retention_ms = INT64_MAX / 4, .max_step_ms = 3600000};
    asw_gen *g = asw_gen_new(77, 6000, 64);
    size_t n = 0, cap = 1 << 16;
    arriving *a = malloc(cap * sizeof *a);
    int64_t first = 0;
    while (asw_gen_next(g, &a[n].ev)) {
        asw_event *ev = &a[n].ev;
        if (!first)
            first = ev->event_time;
        bool slow = strcmp(ev->shop_id, "s3") == 0 || strcmp(ev->shop_id, "s7") == 0;
        a[n].arrival = ev->event_time + (slow ? 30 * day : 0);
        a[n].seq = (int64_t)n;
        if (++n == cap)
            a = realloc(a, (cap *= 2) * sizeof *a);
    }
    asw_gen_destroy(g);
    cr_assert_gt(a[n - 1].ev.event_time - first, 150 * day, "a long span");
    int64_t mid = first + 100 * day, wild = first + 5 * 365 * day;
    char id[32];
    for (int i = 0; i < 22; i++) {
        if (n + 1 >= cap)
            a = realloc(a, (cap *= 2) * sizeof *a);
        snprintf(id, sizeof id, "wild-%d", i);
        a[n].ev =
            wild_application(id, i == 1 ? "W-invalid" : "W-order", wild + i, i == 1 ? -5 : 100);
        a[n].arrival = mid + i;
        a[n].seq = (int64_t)n;
        n++;
    }
    qsort(a, n, sizeof *a, by_arrival);
    asw_processor *pd = asw_processor_new(rules, &defaults, false);
    asw_processor *pf = asw_processor_new(rules, &forever, false);
    asw_buf od = ASW_BUF_INIT, of = ASW_BUF_INIT;
    int64_t late = 0, dropped = 0;
    run_bounded(pd, a, n, true, &od, &late, &dropped);
    run_bounded(pf, a, n, false, &of, &late, &dropped);
    cr_assert_eq(late, 0, "nothing is more than the retention late");
    cr_assert(od.len == of.len && memcmp(od.data, of.data, od.len) == 0,
              "the default retention changed an output");
    cr_assert_gt(dropped, 100, "closed orders were dropped along the way");
    /* 22 wild events moved stream time by at most 22 hours past the real
     * clock of the stream. */
    cr_assert_leq(asw_processor_stream_time(pd), a[n - 1].arrival + 22 * 3600000);
    asw_buf_free(&od);
    asw_buf_free(&of);
    asw_processor_destroy(pd);
    asw_processor_destroy(pf);
    for (size_t i = 0; i < n; i++)
        asw_event_clear(&a[i].ev);
    free(a);
    asw_ruleset_destroy(rules);
}

/* ---- the frozen form ---- */

Test(property, freezing_an_order_changes_neither_its_state_nor_any_output) {
    const int64_t day = 86400000;
    asw_ruleset *rules = asw_ruleset_new();
    asw_ruleset_set_shops(rules, "s0,s1,s2,s3,s4,s5,s6");
    /* Every order frozen at each event, a few kept by the clock, none. */
    asw_state_limits always = {.retention_ms = 5 * day, .max_step_ms = 3600000};
    asw_state_limits some = always, never = always;
    some.decoded_orders = 3;
    never.decoded_orders = SIZE_MAX;
    asw_buf bytes = ASW_BUF_INIT, again = ASW_BUF_INIT;
    int64_t round_trips = 0, frozen_bytes = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        arriving *a;
        size_t n = late_stream(seed, 300, &a);
        asw_processor *p[3] = {asw_processor_new(rules, &always, false),
                               asw_processor_new(rules, &some, false),
                               asw_processor_new(rules, &never, false)};
        asw_buf out[3] = {ASW_BUF_INIT, ASW_BUF_INIT, ASW_BUF_INIT};
        int64_t late = 0, dropped = 0;
        for (int k = 0; k < 3; k++)
            run_bounded(p[k], a, n, true, &out[k], &late, &dropped);
        for (int k = 0; k < 2; k++)
            cr_assert(out[k].len == out[2].len && memcmp(out[k].data, out[2].data, out[2].len) == 0,
                      "seed %llu: freezing (%d) changed an output", (unsigned long long)seed, k);
        /* three, and the order of the last event (comparing thaws all) */
        cr_assert_leq(asw_processor_decoded_count(p[1]), 4);
        frozen_bytes += (int64_t)asw_processor_frozen_bytes(p[0]);
        cr_assert(asw_processor_equal(p[0], p[2]));
        cr_assert(asw_processor_equal(p[1], p[2]));

        /* Each order: its thaw equals it, and freezing that gives the same
         * bytes again. */
        for (size_t i = 0; i < n; i++) {
            const asw_order *o = asw_processor_get(p[2], a[i].ev.order_id);
            if (!o)
                continue;
            /* told relative to the decisions' topic, and to none */
            const char *topic = i % 2 ? "events" : NULL;
            asw_order_freeze(o, topic, &bytes);
            asw_order *back = asw_order_thaw(bytes.data, bytes.len, topic);
            cr_assert(asw_order_equal(o, back), "seed %llu order %s", (unsigned long long)seed,
                      asw_order_id(o));
            cr_assert(asw_order_equal(back, o));
            asw_order_freeze(back, topic, &again);
            cr_assert(again.len == bytes.len && memcmp(again.data, bytes.data, bytes.len) == 0);
            check_reservations(back, seed);
            /* What retention reads of a frozen order is what it holds. */
            asw_order_brief fb, db;
            asw_order_frozen_brief(bytes.data, bytes.len, &fb);
            asw_order_brief_of((asw_order *)o, &db);
            cr_assert_str_eq(fb.order_id, db.order_id);
            cr_assert(fb.max_event_time == db.max_event_time &&
                      fb.has_deadline == db.has_deadline &&
                      (!fb.has_deadline || fb.deadline == db.deadline) && fb.n_open == db.n_open &&
                      *fb.restore_flags == *db.restore_flags);
            /* The body as the changelog would carry it passes the check. */
            size_t head = strlen(asw_order_id(o)) + 2;
            const char *why =
                asw_order_body_check(asw_order_id(o), bytes.data + head, bytes.len - head);
            cr_assert(o->split || why == NULL, "order %s: %s", asw_order_id(o), why);
            asw_order_destroy(back);
            round_trips++;
        }
        for (int k = 0; k < 3; k++) {
            asw_buf_free(&out[k]);
            asw_processor_destroy(p[k]);
        }
        for (size_t i = 0; i < n; i++)
            asw_event_clear(&a[i].ev);
        free(a);
    }
    cr_assert_gt(round_trips, 10000);
    cr_assert_gt(frozen_bytes, 0);
    asw_buf_free(&bytes);
    asw_buf_free(&again);
    asw_ruleset_destroy(rules);
}
