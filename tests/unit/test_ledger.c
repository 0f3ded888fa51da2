/*
 * test_ledger.c -- the rules and the ledger of SPEC section 4, one behaviour
 * per test: each reject reason alone and in combination, counting and
 * reservation, card checks, every lifecycle transition, duplicates,
 * unmatched events, claw-backs and over-refunds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/ledger.h"
#include "support.h"

static asw_ruleset *rules;
static asw_order *order;

static void setup(void) {
    rules = asw_ruleset_new();
    order = asw_order_new("O1");
}

static void teardown(void) {
    asw_order_destroy(order);
    asw_ruleset_destroy(rules);
    t_reset();
}

TestSuite(ledger, .init = setup, .fini = teardown);

/* Apply an application and return its decision's reasons as text. */
static const char *decide_reasons(asw_event ev) {
    asw_result r = t_apply(order, rules, ev);
    cr_assert(r.has_decision);
    return t_reasons(r.decision.reasons);
}

static asw_result accept(const char *eid, const char *aid, const char *sku, int64_t amount) {
    asw_result r = t_apply(order, rules, t_applied(eid, aid, sku, amount));
    cr_assert(r.has_decision);
    cr_assert_eq(r.decision.outcome, ASW_OUT_ACCEPTED, "%s rejected: %s", aid,
                 t_reasons(r.decision.reasons));
    return r;
}

/* ---- the reject reasons, one at a time ---- */

Test(ledger, valid_application_on_fresh_order_is_accepted_and_reserved) {
    asw_result r = t_apply(order, rules, t_applied("e1", "A1", "S1", 3000));
    cr_assert_eq(r.decision.outcome, ASW_OUT_ACCEPTED);
    cr_assert_eq(r.decision.reasons, 0);
    cr_assert_eq(r.decision.applications_used, 1);
    cr_assert_eq(r.decision.applications_limit, 5);
    cr_assert_eq(r.decision.order_remaining, 7000);
    cr_assert_eq(r.decision.sku_remaining, 7000);
    cr_assert_not(r.decision.multi_refund);
    cr_assert_not(r.decision.duplicate);
    cr_assert_str_eq(r.decision.source_topic, "t");
    cr_assert_str_eq(r.decision.ruleset_version, asw_ruleset_version(rules));
    cr_assert(r.has_record);
    cr_assert_eq(r.record.status, ASW_RS_PENDING);
    cr_assert_eq(r.record.amount, 3000);
    cr_assert_eq(r.record.origin, ASW_ORIGIN_APPLICATION);
    cr_assert(r.record.has_aftersale_type);
    cr_assert_eq(r.record.aftersale_type, ASW_AT_REFUND_ONLY_SHIPPED);
    cr_assert_not(r.record.has_kind);
    cr_assert_eq(r.record.order_reserved, 3000);
    cr_assert_eq(r.record.sku_reserved, 3000);
    cr_assert_eq(r.record.order_remaining, 7000);
    cr_assert_str_eq(r.record.shop_id, "s1");
}

Test(ledger, negative_amount_is_invalid_request) {
    cr_assert_str_eq(decide_reasons(t_applied("e1", "A1", "S1", -1)), "INVALID_REQUEST");
}

Test(ledger, sku_paid_above_order_paid_is_invalid_request) {
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    ev.order.sku_paid_amount = 10001;
    cr_assert_str_eq(decide_reasons(ev), "INVALID_REQUEST");
}

Test(ledger, apply_amount_above_sku_paid_is_invalid_request) {
    asw_event ev = t_applied("e1", "A1", "S1", 5001);
    ev.order.sku_paid_amount = 5000;
    cr_assert_str_eq(decide_reasons(ev), "INVALID_REQUEST");
}

Test(ledger, negative_paid_amount_is_invalid_request) {
    asw_event ev = t_applied("e1", "A1", "S1", 0);
    ev.order.order_paid_amount = -5;
    ev.order.sku_paid_amount = -5;
    cr_assert_str_eq(decide_reasons(ev), "INVALID_REQUEST");
}

Test(ledger, every_empty_id_is_invalid_request) {
    const char *names[] = {"event_id", "aftersale_id", "sku_order_id", "shop_id"};
    for (size_t i = 0; i < 4; i++) {
        char aid[16];
        snprintf(aid, sizeof aid, "A%zu", i);
        asw_event ev = t_applied("eX", aid, "S1", 100);
        char **field[] = {&ev.event_id, &ev.aftersale_id, &ev.sku_order_id, &ev.shop_id};
        char eid[16];
        snprintf(eid, sizeof eid, "e%zu", i);
        t_set(&ev.event_id, eid);
        t_set(field[i], "");
        cr_assert_str_eq(decide_reasons(ev), "INVALID_REQUEST", "empty %s", names[i]);
    }
    cr_assert_eq(asw_order_applications_used(order), 0);
}

Test(ledger, money_for_exchange_reship_or_repair_is_invalid_request) {
    asw_aftersale_type types[] = {ASW_AT_EXCHANGE, ASW_AT_RESHIP, ASW_AT_REPAIR};
    for (int i = 0; i < 3; i++) {
        char eid[8], aid[8];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(aid, sizeof aid, "A%d", i);
        asw_event ev = t_applied(eid, aid, "S1", 1);
        ev.aftersale_type = types[i];
        cr_assert_str_eq(decide_reasons(ev), "INVALID_REQUEST");
    }
    asw_event ok = t_applied("e9", "A9", "S1", 0);
    ok.aftersale_type = ASW_AT_EXCHANGE;
    cr_assert_str_eq(decide_reasons(ok), "");
}

Test(ledger, invalid_request_stops_every_other_check_and_changes_no_paid_amount) {
    asw_event ev = t_applied("e1", "A1", "S1", -1);
    ev.order.order_status = ASW_OS_CANCELLED;
    ev.order.order_paid_amount = 50;
    ev.order.sku_paid_amount = 50;
    ev.order.has_deadline = true;
    ev.order.aftersale_deadline = 0;
    asw_result r = t_apply(order, rules, ev);
    cr_assert_str_eq(t_reasons(r.decision.reasons), "INVALID_REQUEST");
    cr_assert_not(r.has_record);
    cr_assert_eq(order->paid, 0);
    cr_assert_null(asw_order_find_sku(order, "S1"));
    cr_assert_eq(r.decision.sku_remaining, 0);
}

Test(ledger, cancelled_order_is_not_eligible) {
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    ev.order.order_status = ASW_OS_CANCELLED;
    cr_assert_str_eq(decide_reasons(ev), "ORDER_STATUS_NOT_ELIGIBLE");
}

Test(ledger, before_shipping_only_full_unshipped_refund_is_accepted) {
    asw_event partial = t_applied("e1", "A1", "S1", 9999);
    partial.order.order_status = ASW_OS_STOCKING;
    partial.aftersale_type = ASW_AT_REFUND_ONLY_UNSHIPPED;
    cr_assert_str_eq(decide_reasons(partial), "PRE_SHIPMENT_FULL_REFUND_ONLY");

    asw_event wrong_type = t_applied("e2", "A2", "S1", 10000);
    wrong_type.order.order_status = ASW_OS_PENDING_PAYMENT;
    cr_assert_str_eq(decide_reasons(wrong_type), "PRE_SHIPMENT_FULL_REFUND_ONLY");

    asw_event full = t_applied("e3", "A3", "S1", 10000);
    full.order.order_status = ASW_OS_STOCKING;
    full.aftersale_type = ASW_AT_REFUND_ONLY_UNSHIPPED;
    cr_assert_str_eq(decide_reasons(full), "");
}

Test(ledger, deadline_passes_strictly_after_it) {
    asw_event at = t_applied("e1", "A1", "S1", 100);
    at.order.has_deadline = true;
    at.order.aftersale_deadline = at.event_time;
    cr_assert_str_eq(decide_reasons(at), "");

    asw_event after = t_applied("e2", "A2", "S2", 100);
    after.order.has_deadline = true;
    after.order.aftersale_deadline = after.event_time - 1;
    cr_assert_str_eq(decide_reasons(after), "AFTERSALE_PERIOD_EXPIRED");
}

Test(ledger, second_application_on_a_sub_order_waits_for_the_open_one) {
    accept("e1", "A1", "S1", 100);
    cr_assert_str_eq(decide_reasons(t_applied("e2", "A2", "S1", 100)), "APPLICATION_IN_PROGRESS");
    asw_event other_sku = t_applied("e3", "A3", "S2", 100);
    cr_assert_str_eq(decide_reasons(other_sku), "");
}

Test(ledger, sixth_application_after_shipping_reaches_the_limit_withdrawn_ones_count) {
    char eid[16], aid[16];
    for (int i = 0; i < 5; i++) {
        snprintf(eid, sizeof eid, "a%d", i);
        snprintf(aid, sizeof aid, "A%d", i);
        accept(eid, aid, "S1", 100);
        snprintf(eid, sizeof eid, "w%d", i);
        cr_assert_eq(t_apply(order, rules, t_withdrawn(eid, aid, "S1")).status, ASW_APPLY_OK);
    }
    asw_result r = t_apply(order, rules, t_applied("a5", "A5", "S1", 100));
    cr_assert_str_eq(t_reasons(r.decision.reasons), "APPLICATION_LIMIT_REACHED");
    cr_assert_eq(r.decision.applications_used, 5);
    cr_assert_eq(order->reserved, 0);
}

Test(ledger, limit_does_not_apply_before_shipping) {
    asw_ruleset_set_limit(rules, 1);
    accept("e1", "A1", "S1", 100);
    t_apply(order, rules, t_withdrawn("e2", "A1", "S1"));
    asw_event ev = t_applied("e3", "A2", "S1", 10000);
    ev.order.order_status = ASW_OS_STOCKING;
    ev.aftersale_type = ASW_AT_REFUND_ONLY_UNSHIPPED;
    cr_assert_str_eq(decide_reasons(ev), "");
}

Test(ledger, configured_limit_is_used_and_reported) {
    asw_ruleset_set_limit(rules, 2);
    accept("e1", "A1", "S1", 100);
    accept("e2", "A2", "S2", 100);
    asw_result r = t_apply(order, rules, t_applied("e3", "A3", "S3", 100));
    cr_assert_str_eq(t_reasons(r.decision.reasons), "APPLICATION_LIMIT_REACHED");
    cr_assert_eq(r.decision.applications_limit, 2);
}

Test(ledger, shop_outside_rollout_cannot_apply_again_after_a_success) {
    asw_ruleset_set_shops(rules, "s2,s3");
    accept("e1", "A1", "S1", 100); /* no prior success yet: rollout not checked */
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 100));
    cr_assert_str_eq(decide_reasons(t_applied("e3", "A2", "S1", 100)), "MULTI_REFUND_NOT_ENABLED");
}

Test(ledger, shop_in_rollout_list_can_apply_again) {
    asw_ruleset_set_shops(rules, "s1");
    accept("e1", "A1", "S1", 100);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 100));
    cr_assert_str_eq(decide_reasons(t_applied("e3", "A2", "S1", 100)), "");
}

Test(ledger, virtual_or_cross_border_goods_cannot_apply_again_after_a_success) {
    t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_SMALL_PAYMENT, 0));
    asw_event virt = t_applied("e1", "A1", "S1", 100);
    virt.order.goods_type = ASW_GT_VIRTUAL;
    cr_assert_str_eq(decide_reasons(virt), "NOT_DOMESTIC_PHYSICAL_GOODS");
    asw_event cross = t_applied("e2", "A2", "S1", 100);
    cross.order.cross_border = true;
    cr_assert_str_eq(decide_reasons(cross), "NOT_DOMESTIC_PHYSICAL_GOODS");
}

Test(ledger, virtual_goods_may_apply_once_without_prior_success) {
    asw_event virt = t_applied("e1", "A1", "S1", 100);
    virt.order.goods_type = ASW_GT_VIRTUAL;
    virt.order.cross_border = true;
    cr_assert_str_eq(decide_reasons(virt), "");
}

Test(ledger, nothing_left_after_a_success_is_no_refundable_amount) {
    accept("e1", "A1", "S1", 10000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 10000));
    asw_event ex = t_applied("e3", "A2", "S1", 0);
    ex.aftersale_type = ASW_AT_EXCHANGE;
    cr_assert_str_eq(decide_reasons(ex), "NO_REFUNDABLE_AMOUNT");
}

Test(ledger, amount_above_sub_order_or_order_remaining_exceeds_refundable) {
    accept("e1", "A1", "S1", 6000);
    /* S2: sku paid 10000 but the order has only 4000 left. */
    cr_assert_str_eq(decide_reasons(t_applied("e2", "A2", "S2", 4001)),
                     "AMOUNT_EXCEEDS_REFUNDABLE");
    asw_event small_sku = t_applied("e3", "A3", "S3", 3000);
    small_sku.order.sku_paid_amount = 3000;
    t_apply(order, rules, t_external("x1", "R1", "S3", ASW_EK_OFFLINE, 1));
    small_sku.event_time += 1;
    /* S3 has 2999 left of 3000 */
    cr_assert_str_eq(decide_reasons(small_sku), "AMOUNT_EXCEEDS_REFUNDABLE");
}

/* ---- reasons together ---- */

Test(ledger, every_applicable_reason_is_listed_in_spec_order) {
    asw_ruleset_set_shops(rules, "other");
    asw_ruleset_set_limit(rules, 1);
    accept("e1", "A1", "S1", 9000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 1000)); /* success, keeps nothing open */
    asw_event ev = t_applied("e3", "A2", "S1", 9500);
    ev.order.order_status = ASW_OS_CANCELLED;
    ev.order.goods_type = ASW_GT_VIRTUAL;
    ev.order.has_deadline = true;
    ev.order.aftersale_deadline = 0;
    cr_assert_str_eq(decide_reasons(ev), "ORDER_STATUS_NOT_ELIGIBLE AFTERSALE_PERIOD_EXPIRED "
                                         "MULTI_REFUND_NOT_ENABLED NOT_DOMESTIC_PHYSICAL_GOODS "
                                         "AMOUNT_EXCEEDS_REFUNDABLE");
}

Test(ledger, all_ten_reasons_but_invalid_can_apply_at_once) {
    asw_ruleset_set_shops(rules, "other");
    asw_ruleset_set_limit(rules, 1);
    accept("e1", "A1", "S1", 0); /* open, counted: in progress + limit */
    t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_HISTORICAL, 10000));
    asw_event ev = t_applied("e3", "A2", "S1", 1);
    ev.order.order_status = ASW_OS_STOCKING;
    ev.order.goods_type = ASW_GT_VIRTUAL;
    ev.order.has_deadline = true;
    ev.order.aftersale_deadline = 0;
    /* CANCELLED and STOCKING cannot hold at once, nor STOCKING and the limit
     * (limit is for shipped statuses): check both halves. */
    cr_assert_str_eq(decide_reasons(ev),
                     "PRE_SHIPMENT_FULL_REFUND_ONLY AFTERSALE_PERIOD_EXPIRED "
                     "APPLICATION_IN_PROGRESS MULTI_REFUND_NOT_ENABLED "
                     "NOT_DOMESTIC_PHYSICAL_GOODS NO_REFUNDABLE_AMOUNT AMOUNT_EXCEEDS_REFUNDABLE");
    asw_event shipped = t_applied("e4", "A3", "S1", 1);
    shipped.order.order_status = ASW_OS_CANCELLED;
    shipped.order.goods_type = ASW_GT_VIRTUAL;
    cr_assert_str_eq(decide_reasons(shipped),
                     "ORDER_STATUS_NOT_ELIGIBLE APPLICATION_IN_PROGRESS MULTI_REFUND_NOT_ENABLED "
                     "NOT_DOMESTIC_PHYSICAL_GOODS NO_REFUNDABLE_AMOUNT AMOUNT_EXCEEDS_REFUNDABLE");
    asw_event limited = t_applied("e5", "A4", "S2", 0);
    limited.aftersale_type = ASW_AT_EXCHANGE;
    cr_assert_str_eq(decide_reasons(limited),
                     "APPLICATION_LIMIT_REACHED MULTI_REFUND_NOT_ENABLED NO_REFUNDABLE_AMOUNT");
}

Test(ledger, rejected_application_is_not_counted_and_reserves_nothing) {
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    ev.order.order_status = ASW_OS_CANCELLED;
    asw_result r = t_apply(order, rules, ev);
    cr_assert_eq(r.decision.outcome, ASW_OUT_REJECTED);
    cr_assert_eq(r.decision.applications_used, 0);
    cr_assert_not(r.has_record);
    cr_assert_eq(order->reserved, 0);
    cr_assert_eq(order->paid, 10000, "a valid rejected application still books paid amounts");
}

/* ---- card checks ---- */

Test(ledger, merchant_card_is_decided_but_never_counted_nor_reserved) {
    asw_event card = t_applied("e1", "C1", "S1", 3000);
    card.initiator = ASW_INIT_MERCHANT_CARD;
    asw_result r = t_apply(order, rules, card);
    cr_assert_eq(r.decision.outcome, ASW_OUT_ACCEPTED);
    cr_assert_eq(r.decision.initiator, ASW_INIT_MERCHANT_CARD);
    cr_assert_eq(r.decision.applications_used, 0);
    cr_assert_eq(r.decision.sku_remaining, 10000);
    cr_assert_not(r.has_record);
    cr_assert_eq(order->reserved, 0);
}

Test(ledger, merchant_card_follows_the_same_rules) {
    accept("e1", "A1", "S1", 100);
    asw_event card = t_applied("e2", "C1", "S1", 100);
    card.initiator = ASW_INIT_MERCHANT_CARD;
    cr_assert_str_eq(decide_reasons(card), "APPLICATION_IN_PROGRESS");
}

/* ---- lifecycle ---- */

Test(ledger, withdraw_releases_the_reservation_and_still_counts) {
    accept("e1", "A1", "S1", 3000);
    asw_result r = t_apply(order, rules, t_withdrawn("e2", "A1", "S1"));
    cr_assert(r.has_record);
    cr_assert_eq(r.record.status, ASW_RS_WITHDRAWN);
    cr_assert_eq(r.record.amount, 3000);
    cr_assert_eq(r.record.order_reserved, 0);
    cr_assert_eq(r.record.sku_remaining, 10000);
    cr_assert_not(r.record.unmatched);
    cr_assert_eq(asw_order_applications_used(order), 1);
    cr_assert_eq(asw_order_find_app(order, "A1")->state, ASW_APP_WITHDRAWN);
}

Test(ledger, close_releases_the_reservation) {
    accept("e1", "A1", "S1", 3000);
    asw_result r = t_apply(order, rules, t_closed("e2", "A1", "S1"));
    cr_assert_eq(r.record.status, ASW_RS_CLOSED);
    cr_assert_eq(r.record.amount, 3000);
    cr_assert_eq(order->reserved, 0);
    cr_assert_eq(asw_order_find_app(order, "A1")->state, ASW_APP_CLOSED);
}

Test(ledger, withdraw_or_close_of_an_ended_application_changes_nothing) {
    accept("e1", "A1", "S1", 3000);
    t_apply(order, rules, t_withdrawn("e2", "A1", "S1"));
    asw_order *before = asw_order_clone(order);
    cr_assert_eq(t_apply(order, rules, t_closed("e3", "A1", "S1")).status, ASW_APPLY_IGNORED);
    cr_assert_eq(t_apply(order, rules, t_withdrawn("e4", "A1", "S1")).status, ASW_APPLY_IGNORED);
    cr_assert(asw_order_equal(before, order));
    asw_order_destroy(before);
}

Test(ledger, success_books_the_refund_and_releases_the_reservation) {
    accept("e1", "A1", "S1", 3000);
    asw_result r = t_apply(order, rules, t_succeeded("e2", "A1", "S1", 2500));
    cr_assert_eq(r.record.status, ASW_RS_SUCCEEDED);
    cr_assert_eq(r.record.amount, 2500);
    cr_assert_eq(r.record.order_refunded, 2500);
    cr_assert_eq(r.record.order_reserved, 0);
    cr_assert_eq(r.record.order_remaining, 7500);
    cr_assert_eq(r.record.sku_refunds, 1);
    cr_assert_not(r.record.over_refund);
    cr_assert(order->prior_success);
}

Test(ledger, success_after_withdraw_still_books_the_money) {
    accept("e1", "A1", "S1", 3000);
    t_apply(order, rules, t_withdrawn("e2", "A1", "S1"));
    asw_result r = t_apply(order, rules, t_succeeded("e3", "A1", "S1", 3000));
    cr_assert(r.has_record);
    cr_assert_eq(r.record.order_refunded, 3000);
    cr_assert_eq(r.record.order_reserved, 0);
    cr_assert_eq(asw_order_find_app(order, "A1")->state, ASW_APP_SUCCEEDED);
}

Test(ledger, second_success_of_an_application_changes_nothing) {
    accept("e1", "A1", "S1", 3000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 3000));
    asw_result r = t_apply(order, rules, t_succeeded("e3", "A1", "S1", 3000));
    cr_assert_eq(r.status, ASW_APPLY_IGNORED);
    cr_assert_not(r.has_record);
    cr_assert_eq(order->refunded, 3000);
}

Test(ledger, success_without_money_is_a_prior_success_but_not_a_refund_success) {
    asw_event ex = t_applied("e1", "A1", "S1", 0);
    ex.aftersale_type = ASW_AT_EXCHANGE;
    t_apply(order, rules, ex);
    asw_result r = t_apply(order, rules, t_succeeded("e2", "A1", "S1", 0));
    cr_assert_eq(r.record.sku_refunds, 0);
    cr_assert(order->prior_success);
    asw_result d = t_apply(order, rules, t_applied("e3", "A2", "S1", 100));
    cr_assert_not(d.decision.multi_refund);
    cr_assert_eq(d.decision.sku_prior_refunds, 0);
}

Test(ledger, claw_back_reduces_refunded_but_never_below_zero) {
    t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_OFFLINE, 500));
    asw_result r = t_apply(order, rules, t_clawed_back("c1", "R1", "S1", 200));
    cr_assert_eq(r.record.status, ASW_RS_CLAWED_BACK);
    cr_assert_eq(r.record.amount, 200);
    cr_assert_eq(r.record.order_refunded, 300);
    cr_assert_eq(r.record.origin, ASW_ORIGIN_EXTERNAL);
    cr_assert(r.record.has_kind);
    cr_assert_eq(r.record.kind, ASW_EK_OFFLINE);
    cr_assert_not(r.record.unmatched);
    r = t_apply(order, rules, t_clawed_back("c2", "R1", "S1", 1000));
    cr_assert_eq(r.record.order_refunded, 0);
    cr_assert_eq(r.record.sku_refunded, 0);
    cr_assert_eq(r.record.sku_refunds, 1, "a claw-back does not undo the success tag");
}

Test(ledger, claw_backs_of_one_refund_are_told_apart_by_event_id) {
    accept("e1", "A1", "S1", 1000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 1000));
    cr_assert_eq(t_apply(order, rules, t_clawed_back("c1", "A1", "S1", 100)).status, ASW_APPLY_OK);
    cr_assert_eq(t_apply(order, rules, t_clawed_back("c2", "A1", "S1", 100)).status, ASW_APPLY_OK);
    asw_result dup = t_apply(order, rules, t_clawed_back("c2", "A1", "S1", 100));
    cr_assert_eq(dup.status, ASW_APPLY_IGNORED);
    cr_assert_eq(order->refunded, 800);
}

Test(ledger, claw_back_of_an_application_refund_names_the_application) {
    accept("e1", "A1", "S1", 1000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 1000));
    asw_result r = t_apply(order, rules, t_clawed_back("c1", "A1", "S1", 100));
    cr_assert_eq(r.record.origin, ASW_ORIGIN_APPLICATION);
    cr_assert(r.record.has_aftersale_type);
    cr_assert_str_eq(r.record.record_id, "A1");
}

Test(ledger, claw_back_of_an_unknown_refund_is_booked_and_marked_unmatched) {
    asw_result r = t_apply(order, rules, t_clawed_back("c1", "R?", "S1", 100));
    cr_assert(r.has_record);
    cr_assert(r.record.unmatched);
    cr_assert_eq(r.record.order_refunded, 0);
    cr_assert_eq(asw_order_applications_used(order), 0);
}

Test(ledger, external_refund_is_booked_once_per_refund_id) {
    asw_result r = t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_SMALL_PAYMENT, 500));
    cr_assert_eq(r.record.status, ASW_RS_RECORDED);
    cr_assert_eq(r.record.origin, ASW_ORIGIN_EXTERNAL);
    cr_assert_eq(r.record.kind, ASW_EK_SMALL_PAYMENT);
    cr_assert_not(r.record.has_aftersale_type);
    cr_assert_eq(r.record.order_refunded, 500);
    cr_assert_eq(r.record.sku_refunds, 1);
    cr_assert(order->prior_success);
    asw_result again =
        t_apply(order, rules, t_external("x2", "R1", "S1", ASW_EK_SMALL_PAYMENT, 500));
    cr_assert_eq(again.status, ASW_APPLY_IGNORED);
    cr_assert_eq(order->refunded, 500);
}

Test(ledger, every_external_kind_with_money_is_a_refund_success) {
    asw_external_kind kinds[] = {ASW_EK_SMALL_PAYMENT, ASW_EK_PRICE_PROTECTION, ASW_EK_OFFLINE,
                                 ASW_EK_HISTORICAL};
    for (int i = 0; i < 4; i++) {
        char eid[8], rid[8];
        snprintf(eid, sizeof eid, "x%d", i);
        snprintf(rid, sizeof rid, "R%d", i);
        asw_result r = t_apply(order, rules, t_external(eid, rid, "S1", kinds[i], 10));
        cr_assert_eq(r.record.sku_refunds, i + 1);
    }
    asw_result zero = t_apply(order, rules, t_external("x9", "R9", "S1", ASW_EK_OFFLINE, 0));
    cr_assert_eq(zero.record.sku_refunds, 4, "amount 0 is no refund success");
}

Test(ledger, multi_refund_tag_counts_the_sub_orders_refund_successes) {
    accept("e1", "A1", "S1", 1000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 1000));
    t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_PRICE_PROTECTION, 200));
    asw_result r = t_apply(order, rules, t_applied("e3", "A2", "S1", 100));
    cr_assert(r.decision.multi_refund);
    cr_assert_eq(r.decision.sku_prior_refunds, 2);
    asw_result other = t_apply(order, rules, t_applied("e4", "A3", "S2", 100));
    cr_assert_not(other.decision.multi_refund, "the tag is per sub-order");
}

Test(ledger, facts_beyond_paid_are_booked_and_flag_over_refund) {
    accept("e1", "A1", "S1", 8000);
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 8000));
    asw_result r = t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_OFFLINE, 5000));
    cr_assert_eq(r.status, ASW_APPLY_OK);
    cr_assert_eq(r.record.order_refunded, 13000);
    cr_assert_eq(r.record.order_remaining, -3000);
    cr_assert(r.record.over_refund);
    asw_result d = t_apply(order, rules, t_applied("e3", "A2", "S1", 1));
    cr_assert_str_eq(t_reasons(d.decision.reasons),
                     "NO_REFUNDABLE_AMOUNT AMOUNT_EXCEEDS_REFUNDABLE");
}

Test(ledger, over_refund_on_a_sub_order_alone_is_flagged) {
    asw_event ev = t_external("x1", "R1", "S1", ASW_EK_OFFLINE, 3000);
    ev.sku_paid_amount = 2000;
    asw_result r = t_apply(order, rules, ev);
    cr_assert(r.record.over_refund);
    cr_assert_eq(r.record.sku_remaining, -1000);
}

/* ---- unmatched ---- */

Test(ledger, lifecycle_of_an_unseen_application_is_booked_counted_and_unmatched) {
    asw_result s = t_apply(order, rules, t_succeeded("e1", "A9", "S1", 700));
    cr_assert(s.record.unmatched);
    cr_assert_eq(s.record.order_refunded, 700);
    cr_assert_not(s.record.has_aftersale_type);
    cr_assert_eq(asw_order_applications_used(order), 1);

    asw_result w = t_apply(order, rules, t_withdrawn("e2", "A8", "S1"));
    cr_assert(w.record.unmatched);
    cr_assert_eq(w.record.status, ASW_RS_WITHDRAWN);
    cr_assert_eq(w.record.amount, 0);
    asw_result c = t_apply(order, rules, t_closed("e3", "A7", "S2"));
    cr_assert(c.record.unmatched);
    cr_assert_eq(asw_order_applications_used(order), 3);
}

Test(ledger, lifecycle_of_a_rejected_application_counts_it_as_unmatched) {
    /* Only counted applications are matched: a rejected one was decided but
     * never counted, so its lifecycle events are booked as unmatched. */
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    ev.order.order_status = ASW_OS_CANCELLED;
    t_apply(order, rules, ev);
    asw_result w = t_apply(order, rules, t_withdrawn("e2", "A1", "S1"));
    cr_assert_eq(w.status, ASW_APPLY_OK);
    cr_assert(w.record.unmatched);
    cr_assert_eq(w.record.amount, 0);
    cr_assert_eq(asw_order_applications_used(order), 1);
    asw_result again = t_apply(order, rules, t_closed("e3", "A1", "S1"));
    cr_assert_eq(again.status, ASW_APPLY_IGNORED, "no longer OPEN: nothing changes");
}

Test(ledger, application_counted_by_an_earlier_lifecycle_event_does_not_count_twice) {
    asw_ruleset_set_limit(rules, 2);
    accept("e1", "A1", "S1", 100);
    t_apply(order, rules, t_closed("e2", "A2", "S2")); /* unmatched: counted */
    cr_assert_eq(asw_order_applications_used(order), 2);
    /* A2's application arrives late: the quota holds A1 and A2 itself. */
    asw_result r = t_apply(order, rules, t_applied("e3", "A2", "S2", 100));
    cr_assert_str_eq(t_reasons(r.decision.reasons), "");
    cr_assert_eq(r.decision.applications_used, 2);
    cr_assert_not(r.has_record, "its lifecycle is over: nothing is reserved");
}

Test(ledger, fact_that_would_overflow_the_refunded_total_is_refused) {
    t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_OFFLINE, INT64_MAX - 5));
    asw_order *before = asw_order_clone(order);
    asw_result r = t_apply(order, rules, t_external("x2", "R2", "S1", ASW_EK_OFFLINE, 10));
    cr_assert_eq(r.status, ASW_APPLY_INVALID);
    cr_assert(asw_order_equal(before, order));
    asw_order_destroy(before);
}

Test(ledger, refund_that_would_overflow_remaining_with_a_reservation_is_refused) {
    /* The reservation of an accepted application plus a refund just below
     * 2^63 would make paid - refunded - reserved wrap round. */
    accept("e1", "A1", "S1", 100);
    asw_order *before = asw_order_clone(order);
    asw_result r =
        t_apply(order, rules, t_external("x1", "R1", "S1", ASW_EK_OFFLINE, INT64_MAX - 50));
    cr_assert_eq(r.status, ASW_APPLY_INVALID);
    cr_assert(asw_order_equal(before, order));
    asw_result s = t_apply(order, rules, t_succeeded("x2", "A1", "S1", INT64_MAX - 50));
    cr_assert_eq(s.status, ASW_APPLY_INVALID);
    cr_assert(asw_order_equal(before, order));
    asw_order_destroy(before);
    /* Just within the range: booked, and remaining is exact. */
    asw_result ok =
        t_apply(order, rules, t_external("x3", "R3", "S1", ASW_EK_OFFLINE, INT64_MAX - 100));
    cr_assert_eq(ok.status, ASW_APPLY_OK);
    cr_assert_eq(ok.record.order_remaining, 10000 - (INT64_MAX - 100) - 100);
    cr_assert(ok.record.over_refund);
}

/* ---- text limits (rule 1) ---- */

static char *long_text(size_t n) {
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    return s;
}

Test(ledger, application_with_a_text_field_over_128_bytes_is_invalid_and_not_kept) {
    char *ok = long_text(ASW_TEXT_MAX), *over = long_text(ASW_TEXT_MAX + 1);
    asw_result r = t_apply(order, rules, t_applied("e1", ok, "S1", 100));
    cr_assert_str_eq(t_reasons(r.decision.reasons), "", "128 bytes is allowed");
    const char *fields[] = {"event_id", "aftersale_id", "sku_order_id", "shop_id", "order_id"};
    for (int f = 0; f < 5; f++) {
        /* The order's own id: that order's state, empty. */
        asw_order *target = f == 4 ? asw_order_new(over) : order;
        asw_order *before = asw_order_clone(target);
        asw_event ev = t_applied("e2", "A2", "S2", 100);
        char **field[] = {&ev.event_id, &ev.aftersale_id, &ev.sku_order_id, &ev.shop_id,
                          &ev.order_id};
        t_set(field[f], over);
        r = t_apply(target, rules, ev);
        cr_assert_str_eq(t_reasons(r.decision.reasons), "INVALID_REQUEST", "%s", fields[f]);
        cr_assert_not(r.state_changed, "%s: nothing that long is kept", fields[f]);
        cr_assert(asw_order_equal(before, target), "%s", fields[f]);
        asw_order_destroy(before);
        if (target != order)
            asw_order_destroy(target);
    }
    free(ok);
    free(over);
}

Test(ledger, fact_with_an_id_over_128_bytes_is_refused_unchanged) {
    char *over = long_text(ASW_TEXT_MAX + 1);
    accept("e1", "A1", "S1", 100);
    asw_order *before = asw_order_clone(order);
    asw_result r = t_apply(order, rules, t_external("x1", over, "S1", ASW_EK_OFFLINE, 1));
    cr_assert_eq(r.status, ASW_APPLY_INVALID);
    cr_assert_str_eq(r.error, "an id longer than 128 bytes");
    r = t_apply(order, rules, t_withdrawn(over, "A1", "S1"));
    cr_assert_eq(r.status, ASW_APPLY_INVALID);
    r = t_apply(order, rules, t_clawed_back("c1", "A1", over, 1));
    cr_assert_eq(r.status, ASW_APPLY_INVALID);
    cr_assert(asw_order_equal(before, order));
    asw_order_destroy(before);
    free(over);
}

/* ---- duplicates ---- */

Test(ledger, redelivered_application_re_emits_the_original_decision_as_duplicate) {
    asw_result first = t_apply(order, rules, t_applied("e1", "A1", "S1", 3000));
    asw_decision orig = first.decision;
    t_apply(order, rules, t_succeeded("e2", "A1", "S1", 3000));
    asw_order *before = asw_order_clone(order);
    asw_event again = t_applied("e9", "A1", "S1", 9999);
    again.event_time += 5;
    asw_result dup = t_apply(order, rules, again);
    cr_assert(dup.has_decision);
    cr_assert_not(dup.has_record);
    cr_assert(dup.decision.duplicate);
    cr_assert_eq(dup.decision.outcome, orig.outcome);
    cr_assert_eq(dup.decision.applications_used, orig.applications_used);
    cr_assert_eq(dup.decision.order_remaining, orig.order_remaining);
    cr_assert_eq(dup.decision.event_time, orig.event_time);
    cr_assert_eq(dup.decision.source_offset, orig.source_offset);
    cr_assert(asw_order_equal(before, order), "a duplicate changes no state");
    asw_order_destroy(before);
}

Test(ledger, redelivered_rejection_and_card_check_are_re_emitted_too) {
    asw_event bad = t_applied("e1", "A1", "S1", -5);
    t_apply(order, rules, bad);
    asw_result dup = t_apply(order, rules, t_applied("e1", "A1", "S1", -5));
    cr_assert(dup.decision.duplicate);
    cr_assert_str_eq(t_reasons(dup.decision.reasons), "INVALID_REQUEST");

    asw_event card = t_applied("e2", "C1", "S1", 0);
    card.initiator = ASW_INIT_MERCHANT_CARD;
    t_apply(order, rules, card);
    asw_event card2 = t_applied("e3", "C1", "S1", 0);
    card2.initiator = ASW_INIT_MERCHANT_CARD;
    asw_result cdup = t_apply(order, rules, card2);
    cr_assert(cdup.decision.duplicate);
    cr_assert_eq(cdup.decision.initiator, ASW_INIT_MERCHANT_CARD);
}

/* Event ids are unique per event (SPEC 3): a seen one is a redelivery, and
 * each event's own key tells it (docs/rules.md, "Deduplication"). */
Test(ledger, every_redelivered_fact_is_ignored_and_changes_nothing) {
    accept("e1", "A1", "S1", 3000);
    asw_event facts[] = {
        t_external("x1", "R1", "S2", ASW_EK_OFFLINE, 100),
        t_withdrawn("w1", "A1", "S1"),
        t_succeeded("s1", "A1", "S1", 3000),
        t_closed("c1", "A9", "S1"),          /* unmatched: counted as CLOSED */
        t_succeeded("s2", "A8", "S1", 200),  /* unmatched success */
        t_clawed_back("k1", "R1", "S2", 30), /* claw-backs keep their event id */
    };
    int n = (int)(sizeof facts / sizeof facts[0]);
    for (int i = 0; i < n; i++) {
        asw_event copy;
        asw_event_copy(&copy, &facts[i]);
        asw_result first = t_apply(order, rules, facts[i]);
        cr_assert_eq(first.status, ASW_APPLY_OK, "fact %d", i);
        asw_order *before = asw_order_clone(order);
        asw_result again = t_apply(order, rules, copy);
        cr_assert_eq(again.status, ASW_APPLY_IGNORED, "fact %d redelivered", i);
        cr_assert_not(again.has_record);
        cr_assert(asw_order_equal(before, order), "fact %d changed the state", i);
        asw_order_destroy(before);
    }
    /* A claw-back of the same refund under another event id is another
     * claw-back (SPEC 4: told apart by event id only). */
    cr_assert_eq(t_apply(order, rules, t_clawed_back("k2", "R1", "S2", 30)).status, ASW_APPLY_OK);
}

Test(ledger, redelivered_application_without_aftersale_id_is_ignored_by_event_id) {
    asw_event a = t_applied("e1", "", "S1", 100);
    asw_result r = t_apply(order, rules, a);
    cr_assert_str_eq(t_reasons(r.decision.reasons), "INVALID_REQUEST");
    asw_result again = t_apply(order, rules, t_applied("e1", "", "S1", 100));
    cr_assert_eq(again.status, ASW_APPLY_IGNORED);
    cr_assert_not(again.has_decision);
}

Test(ledger, per_event_state_is_bounded_by_the_events_that_need_it) {
    /* Withdrawals, closes, successes and external refunds keep no event id:
     * their own keys deduplicate them. */
    for (int i = 0; i < 50; i++) {
        char eid[16], aid[16];
        snprintf(eid, sizeof eid, "w%d", i);
        snprintf(aid, sizeof aid, "U%d", i);
        t_apply(order, rules, t_withdrawn(eid, aid, "S1"));
        snprintf(eid, sizeof eid, "x%d", i);
        snprintf(aid, sizeof aid, "R%d", i);
        t_apply(order, rules, t_external(eid, aid, "S1", ASW_EK_OFFLINE, 1));
    }
    cr_assert_eq(order->n_seen, 0);
    cr_assert_eq(order->n_apps, 50);
    cr_assert_eq(order->n_externals, 50);
}

/* ---- invalid facts ---- */

Test(ledger, fact_with_negative_amount_or_empty_id_is_refused_unchanged) {
    accept("e1", "A1", "S1", 100);
    asw_order *before = asw_order_clone(order);
    asw_result neg = t_apply(order, rules, t_succeeded("e2", "A1", "S1", -1));
    cr_assert_eq(neg.status, ASW_APPLY_INVALID);
    cr_assert_str_eq(neg.error, "negative amount");
    asw_result noid = t_apply(order, rules, t_external("", "R1", "S1", ASW_EK_OFFLINE, 1));
    cr_assert_eq(noid.status, ASW_APPLY_INVALID);
    asw_result norid = t_apply(order, rules, t_clawed_back("c1", "", "S1", 1));
    cr_assert_eq(norid.status, ASW_APPLY_INVALID);
    cr_assert(asw_order_equal(before, order));
    asw_order_destroy(before);
}

/* ---- paid amounts ---- */

Test(ledger, paid_amounts_follow_the_latest_valid_event) {
    accept("e1", "A1", "S1", 100);
    asw_event s = t_succeeded("e2", "A1", "S1", 100);
    s.order_paid_amount = 8000;
    s.sku_paid_amount = 6000;
    asw_result r = t_apply(order, rules, s);
    cr_assert_eq(r.record.order_paid, 8000);
    cr_assert_eq(r.record.sku_paid, 6000);
    cr_assert_eq(r.record.sku_remaining, 5900);
}

/* ---- the store ---- */

Test(ledger, clone_is_equal_and_independent) {
    accept("e1", "A1", "S1", 100);
    t_apply(order, rules, t_external("x1", "R1", "S2", ASW_EK_OFFLINE, 100));
    asw_order *copy = asw_order_clone(order);
    cr_assert(asw_order_equal(copy, order));
    t_apply(order, rules, t_withdrawn("w1", "A1", "S1"));
    cr_assert_not(asw_order_equal(copy, order));
    asw_order_destroy(copy);
}
