/*
 * test_processor.c -- the per-partition step around the core: rollback to
 * the last checkpoint restores exactly the committed states, the change list
 * names what the changelog must carry, and orders expire by stream time.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "asw/gen.h"
#include "asw/processor.h"
#include "support.h"

static asw_ruleset *rules;

static void setup(void) {
    rules = asw_ruleset_new();
}

static void teardown(void) {
    asw_ruleset_destroy(rules);
    t_reset();
}

TestSuite(processor, .init = setup, .fini = teardown);

static void feed(asw_processor *p, asw_gen *g, int n) {
    asw_source src = {"t", 0, 0};
    asw_event ev;
    for (int i = 0; i < n && asw_gen_next(g, &ev); i++) {
        asw_result res;
        asw_processor_apply(p, &ev, &src, &res);
        asw_event_clear(&ev);
    }
}

Test(processor, rollback_returns_every_order_to_the_last_checkpoint) {
    for (uint64_t seed = 1; seed <= 25; seed++) {
        /* `p` commits after k events then applies m more and aborts;
         * `ref` only ever saw the first k. They must be equal. */
        asw_gen *g1 = asw_gen_new(seed, 60, 6), *g2 = asw_gen_new(seed, 60, 6);
        asw_processor *p = asw_processor_new(rules, 1000LL * 86400000, true);
        asw_processor *ref = asw_processor_new(rules, 1000LL * 86400000, false);
        int k = 50 + (int)(seed * 7 % 100), m = 1 + (int)(seed * 13 % 200);
        feed(p, g1, k);
        asw_processor_checkpoint(p);
        feed(ref, g2, k);
        cr_assert(asw_processor_equal(p, ref), "seed %llu before", (unsigned long long)seed);
        feed(p, g1, m);
        cr_assert_gt(asw_processor_changed_count(p), 0);
        asw_processor_rollback(p);
        cr_assert(asw_processor_equal(p, ref), "seed %llu after rollback",
                  (unsigned long long)seed);
        cr_assert_eq(asw_processor_changed_count(p), 0);
        asw_processor_destroy(p);
        asw_processor_destroy(ref);
        asw_gen_destroy(g1);
        asw_gen_destroy(g2);
    }
}

Test(processor, rolled_back_processor_decides_the_redelivered_events_as_before) {
    asw_gen *g = asw_gen_new(5, 40, 4);
    asw_event evs[400];
    int n = 0;
    while (n < 400 && asw_gen_next(g, &evs[n]))
        n++;
    asw_gen_destroy(g);
    asw_processor *p = asw_processor_new(rules, 1000LL * 86400000, true);
    asw_source src = {"t", 0, 0};
    asw_result res;
    for (int i = 0; i < 150; i++)
        asw_processor_apply(p, &evs[i], &src, &res);
    asw_processor_checkpoint(p);
    /* First attempt of events 150..: remember each decision's outcome. */
    int outcome[400], used[400], dup[400];
    for (int i = 150; i < n; i++) {
        asw_processor_apply(p, &evs[i], &src, &res);
        outcome[i] = res.has_decision ? (int)res.decision.outcome : -1;
        used[i] = res.has_decision ? res.decision.applications_used : -1;
        dup[i] = res.has_decision && res.decision.duplicate;
    }
    asw_processor_rollback(p);
    for (int i = 150; i < n; i++) {
        asw_processor_apply(p, &evs[i], &src, &res);
        cr_assert_eq(res.has_decision ? (int)res.decision.outcome : -1, outcome[i], "event %d", i);
        cr_assert_eq(res.has_decision ? res.decision.applications_used : -1, used[i]);
        cr_assert_eq(res.has_decision && res.decision.duplicate, dup[i], "event %d", i);
    }
    for (int i = 0; i < n; i++)
        asw_event_clear(&evs[i]);
    asw_processor_destroy(p);
}

Test(processor, changes_list_each_changed_order_once_in_first_change_order) {
    asw_processor *p = asw_processor_new(rules, 1000LL * 86400000, true);
    asw_source src = {"t", 0, 0};
    asw_result res;
    asw_event a = t_applied("e1", "A1", "S1", 100);
    asw_event b = t_applied("e2", "B1", "S1", 100);
    t_set(&b.order_id, "O2");
    asw_event a2 = t_withdrawn("e3", "A1", "S1");
    asw_processor_apply(p, &a, &src, &res);
    asw_processor_apply(p, &b, &src, &res);
    asw_processor_apply(p, &a2, &src, &res);
    cr_assert_eq(asw_processor_changed_count(p), 2);
    const char *id;
    cr_assert_not_null(asw_processor_changed_at(p, 0, &id));
    cr_assert_str_eq(id, "O1");
    cr_assert_not_null(asw_processor_changed_at(p, 1, &id));
    cr_assert_str_eq(id, "O2");
    asw_processor_checkpoint(p);
    cr_assert_eq(asw_processor_changed_count(p), 0);
    asw_event_clear(&a);
    asw_event_clear(&b);
    asw_event_clear(&a2);
    asw_processor_destroy(p);
}

Test(processor, event_that_changes_nothing_leaves_no_empty_order) {
    asw_processor *p = asw_processor_new(rules, 1000LL * 86400000, true);
    asw_source src = {"t", 0, 0};
    asw_result res;
    asw_event bad = t_succeeded("e1", "A1", "S1", -5); /* invalid fact */
    asw_processor_apply(p, &bad, &src, &res);
    cr_assert_eq(res.status, ASW_APPLY_INVALID);
    cr_assert_eq(asw_processor_order_count(p), 0);
    cr_assert_eq(asw_processor_changed_count(p), 0);
    asw_event_clear(&bad);
    asw_processor_destroy(p);
}

Test(processor, order_expires_by_stream_time_and_starts_afresh) {
    const int64_t day = 86400000;
    asw_processor *p = asw_processor_new(rules, 30 * day, true);
    asw_source src = {"t", 0, 0};
    asw_result res;
    asw_event a = t_applied("e1", "A1", "S1", 100);
    a.order.has_deadline = true;
    a.order.aftersale_deadline = a.event_time + 10 * day;
    asw_processor_apply(p, &a, &src, &res);
    cr_assert_eq(res.decision.applications_used, 1);
    asw_processor_checkpoint(p);

    /* Another order moves stream time 41 days on: O1 is 31 days past its
     * deadline. The sweep drops it and lists it as a tombstone. */
    asw_event other = t_applied("e2", "B1", "S1", 100);
    t_set(&other.order_id, "O2");
    other.event_time = a.event_time + 41 * day;
    asw_processor_apply(p, &other, &src, &res);
    cr_assert_eq(asw_processor_evict(p), 1);
    cr_assert_null(asw_processor_get(p, "O1"));
    const char *id = NULL;
    bool tombstone = false;
    for (size_t i = 0; i < asw_processor_changed_count(p); i++)
        if (!asw_processor_changed_at(p, i, &id) && strcmp(id, "O1") == 0)
            tombstone = true;
    cr_assert(tombstone, "the dropped order must be written as a tombstone");

    /* Rolling back brings it back; without a sweep, the next event of O1
     * finds it expired all the same and starts a fresh order. */
    asw_processor_rollback(p);
    cr_assert_not_null(asw_processor_get(p, "O1"));
    asw_processor_apply(p, &other, &src, &res);
    asw_event again = t_applied("e3", "A2", "S1", 100);
    again.event_time = other.event_time;
    asw_processor_apply(p, &again, &src, &res);
    cr_assert_eq(res.decision.applications_used, 1, "a fresh order has only this application");
    asw_event_clear(&a);
    asw_event_clear(&other);
    asw_event_clear(&again);
    asw_processor_destroy(p);
}

Test(processor, restore_sets_stream_time_from_the_states) {
    asw_processor *p = asw_processor_new(rules, 1000, true);
    asw_order *o = asw_order_new("O9");
    o->max_event_time = 12345;
    asw_processor_restore(p, o);
    cr_assert_eq(asw_processor_stream_time(p), 12345);
    cr_assert_eq(asw_processor_changed_count(p), 0, "a restored state is not a change");
    asw_processor_restore_tombstone(p, "O9");
    cr_assert_eq(asw_processor_order_count(p), 0);
    asw_processor_destroy(p);
}
