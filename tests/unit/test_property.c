/*
 * test_property.c -- seeded random event streams against the SPEC's
 * invariants: no accepted application ever makes refunded + reserved exceed
 * paid (order or sub-order); reservations always equal the open
 * applications' amounts; replay is deterministic; every order state
 * round-trips through the changelog codec.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/gen.h"
#include "asw/jsonl.h"
#include "asw/ledger.h"
#include "asw/store.h"

#define SEEDS           120
#define ORDERS_PER_SEED 80

/* Reservations must equal what the OPEN applications hold. */
static void check_reservations(const asw_order *o, uint64_t seed) {
    int64_t total = 0;
    for (size_t s = 0; s < o->n_skus; s++) {
        const asw_sku_state *sku = &o->skus[s];
        int64_t on_sku = 0;
        for (size_t a = 0; a < o->n_apps; a++)
            if (strcmp(o->apps[a].sku_order_id, sku->sku_order_id) == 0)
                on_sku += o->apps[a].reserved;
        cr_assert_eq(sku->reserved, on_sku, "seed %llu order %s sku %s", (unsigned long long)seed,
                     o->order_id, sku->sku_order_id);
        cr_assert_geq(sku->refunded, 0);
        total += on_sku;
    }
    for (size_t a = 0; a < o->n_apps; a++)
        if (o->apps[a].state != ASW_APP_OPEN)
            cr_assert_eq(o->apps[a].reserved, 0);
    cr_assert_eq(o->reserved, total, "seed %llu order %s", (unsigned long long)seed, o->order_id);
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
                          o->order_id);
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
