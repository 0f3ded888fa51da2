/*
 * test_whatif.c -- the what-if comparison: on the known case of
 * tests/data/whatif.* (shop s9 joins the rollout, the limit goes from 5 to
 * 2) exactly the listed decisions change, with the listed summary; a
 * ruleset compared with itself changes nothing, on that case and on a
 * generated stream; swapping the rulesets swaps every flip and negates
 * every difference of money.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/config.h"
#include "asw/gen.h"
#include "asw/replay.h"
#include "asw/ruleset.h"
#include "asw/whatif.h"

/* The path of tests/data/<name> (ctest sets ASW_SOURCE_DIR). */
static const char *data_path(const char *name) {
    static char path[4096];
    const char *dir = getenv("ASW_SOURCE_DIR");
    cr_assert_not_null(dir, "ASW_SOURCE_DIR is not set (run through ctest)");
    snprintf(path, sizeof path, "%s/tests/data/%s", dir, name);
    return path;
}

static asw_config *load(const char *name) {
    asw_config *cfg = asw_config_new();
    char err[512];
    cr_assert_eq(asw_config_load_file(cfg, data_path(name), err, sizeof err), 0, "%s", err);
    return cfg;
}

/* The known case compared in JSON Lines: the report in a new string
 * (caller frees) and the summary in *s. */
static char *compare_known(const asw_ruleset *before, const asw_ruleset *after,
                           const asw_config *cfg, asw_whatif_summary *s) {
    FILE *in = fopen(data_path("whatif.jsonl"), "r");
    cr_assert_not_null(in);
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    asw_log *log = asw_log_new(stderr, ASW_LOG_ERROR);
    char err[256];
    cr_assert_eq(
        asw_replay_compare(cfg, before, after, ASW_WHATIF_JSONL, in, o, log, s, err, sizeof err), 0,
        "%s", err);
    fclose(in);
    fclose(o);
    asw_log_destroy(log);
    return out;
}

/* Each DecisionChange line of a report as "line aftersale_id BEFORE->AFTER
 * [diverged]", where a side is its outcome and reasons joined by '+'; one
 * string, lines joined by '\n'. */
static char *changes_of(const char *report) {
    static char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
    for (const char *p = report; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        cr_assert_not_null(o, "%s", je.text);
        if (strcmp(json_string_value(json_object_get(o, "type")), "DecisionChange") == 0) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld %s ", n ? "\n" : "",
                                  (long long)json_integer_value(json_object_get(o, "line")),
                                  json_string_value(json_object_get(o, "aftersale_id")));
            const char *sides[] = {"before", "after"};
            for (int i = 0; i < 2; i++) {
                json_t *side = json_object_get(o, sides[i]);
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "->" : "",
                                      json_string_value(json_object_get(side, "outcome")));
                size_t k;
                json_t *r;
                json_array_foreach(json_object_get(side, "reasons"), k, r) {
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "+%s", json_string_value(r));
                }
            }
            if (json_is_true(json_object_get(o, "order_diverged_before")))
                n += (size_t)snprintf(buf + n, sizeof buf - n, " diverged");
        }
        json_decref(o);
        p = nl + 1;
    }
    return buf;
}

Test(whatif, the_known_case_changes_exactly_the_listed_decisions) {
    asw_config *before = load("whatif.before.properties");
    asw_config *after = load("whatif.after.properties");
    asw_whatif_summary s;
    char *out = compare_known(asw_config_settings(before)->ruleset,
                              asw_config_settings(after)->ruleset, before, &s);
    cr_assert_str_eq(changes_of(out),
                     "3 A2 REJECTED+MULTI_REFUND_NOT_ENABLED->ACCEPTED\n"
                     "7 A3 REJECTED+MULTI_REFUND_NOT_ENABLED->REJECTED+APPLICATION_LIMIT_REACHED "
                     "diverged\n"
                     "10 B3 ACCEPTED->REJECTED+APPLICATION_LIMIT_REACHED\n"
                     "12 B3 ACCEPTED->REJECTED+APPLICATION_LIMIT_REACHED diverged\n"
                     "13 C1 REJECTED+MULTI_REFUND_NOT_ENABLED->ACCEPTED",
                     "%s", out);
    cr_assert_eq(s.events, 13);
    cr_assert_eq(s.compared, 8);
    cr_assert_eq(s.changed, 5);
    cr_assert_eq(s.direct, 3);
    cr_assert_eq(s.accepted_to_rejected, 2);
    cr_assert_eq(s.rejected_to_accepted, 2);
    cr_assert_eq(s.same_outcome, 1);
    cr_assert_eq(s.one_run_only, 0);
    for (int r = 0; r < ASW_R__COUNT; r++) {
        cr_expect_eq(s.reasons_gained[r], r == ASW_R_APPLICATION_LIMIT_REACHED ? 3 : 0, "%s",
                     asw_reason_name((asw_reason)r));
        cr_expect_eq(s.reasons_lost[r], r == ASW_R_MULTI_REFUND_NOT_ENABLED ? 3 : 0, "%s",
                     asw_reason_name((asw_reason)r));
    }
    /* Reserved: A1 3000, B1 1000, B2 1000, B3 500 before; A1, A2 2000, B1,
     * B2 after. B3 stays OPEN at the end before only. */
    cr_assert_eq(s.before.reserved, 5500);
    cr_assert_eq(s.after.reserved, 7000);
    cr_assert_eq(s.before.refunded_at_end, 6000);
    cr_assert_eq(s.after.refunded_at_end, 6000);
    cr_assert_eq(s.before.reserved_at_end, 1500);
    cr_assert_eq(s.after.reserved_at_end, 1000);
    cr_assert_eq(s.before.accepted, 5);
    cr_assert_eq(s.after.accepted, 5);
    cr_assert_eq(s.before.dead_letters, 1, "the line that is not an event");
    cr_assert_eq(s.after.dead_letters, 1);
    cr_assert_str_eq(s.before_version, asw_ruleset_version(asw_config_settings(before)->ruleset));
    cr_assert_str_eq(s.after_version, asw_ruleset_version(asw_config_settings(after)->ruleset));
    free(out);
    asw_config_destroy(before);
    asw_config_destroy(after);
}

Test(whatif, a_ruleset_compared_with_itself_changes_no_decision_of_the_known_case) {
    asw_config *before = load("whatif.before.properties");
    asw_whatif_summary s;
    char *out = compare_known(asw_config_settings(before)->ruleset,
                              asw_config_settings(before)->ruleset, before, &s);
    cr_assert_str_eq(changes_of(out), "");
    cr_assert_eq(s.compared, 8);
    cr_assert_eq(s.changed, 0);
    cr_assert_eq(s.before.reserved, s.after.reserved);
    cr_assert_eq(s.before.reserved_at_end, s.after.reserved_at_end);
    free(out);
    asw_config_destroy(before);
}

Test(whatif, swapping_the_rulesets_swaps_the_flips_and_negates_the_money) {
    asw_config *before = load("whatif.before.properties");
    asw_config *after = load("whatif.after.properties");
    asw_whatif_summary s;
    char *out = compare_known(asw_config_settings(after)->ruleset,
                              asw_config_settings(before)->ruleset, before, &s);
    cr_assert_eq(s.changed, 5);
    cr_assert_eq(s.accepted_to_rejected, 2);
    cr_assert_eq(s.rejected_to_accepted, 2);
    cr_assert_eq(s.reasons_gained[ASW_R_MULTI_REFUND_NOT_ENABLED], 3);
    cr_assert_eq(s.reasons_lost[ASW_R_APPLICATION_LIMIT_REACHED], 3);
    cr_assert_eq(s.before.reserved, 7000);
    cr_assert_eq(s.after.reserved, 5500);
    cr_assert_eq(s.before.reserved_at_end, 1000);
    cr_assert_eq(s.after.reserved_at_end, 1500);
    free(out);
    asw_config_destroy(before);
    asw_config_destroy(after);
}

/* A generated stream through asw_whatif_apply(): `after` against the
 * defaults; returns the summary. */
static asw_whatif_summary compare_generated(const asw_ruleset *before, const asw_ruleset *after) {
    asw_state_limits limits = {.retention_ms = 7776000000LL, .max_step_ms = 3600000};
    asw_whatif *w = asw_whatif_new(before, after, &limits, "aftersale.events");
    asw_gen *g = asw_gen_new(7, 400, 16);
    asw_source src = {.topic = "aftersale.events"};
    asw_event ev;
    int64_t changes = 0;
    while (asw_gen_next(g, &ev)) {
        asw_whatif_change c;
        if (asw_whatif_apply(w, &ev, &src, &c)) {
            changes++;
            cr_assert_str_eq(c.order_id, ev.order_id);
            cr_assert_eq(c.offset, src.offset);
        }
        src.offset++;
        asw_event_clear(&ev);
    }
    asw_whatif_summary s = *asw_whatif_summary_get(w);
    cr_assert_eq(s.changed, changes, "every change is returned once");
    asw_gen_destroy(g);
    asw_whatif_destroy(w);
    return s;
}

Test(whatif, a_ruleset_compared_with_itself_changes_nothing_on_a_generated_stream) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1,s2"), 0);
    asw_whatif_summary s = compare_generated(rs, rs);
    cr_assert_gt(s.compared, 100, "the stream decides something");
    cr_assert_eq(s.changed, 0);
    cr_assert_eq(s.before.reserved, s.after.reserved);
    cr_assert_eq(s.before.refunded_at_end, s.after.refunded_at_end);
    cr_assert_eq(s.before.reserved_at_end, s.after.reserved_at_end);
    cr_assert_eq(s.before.dead_letters, s.after.dead_letters);
    asw_ruleset_destroy(rs);
}

Test(whatif, a_limit_of_one_on_a_generated_stream_rejects_more_and_reserves_less) {
    asw_ruleset *before = asw_ruleset_new(), *after = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_limit(after, 1), 0);
    asw_whatif_summary s = compare_generated(before, after);
    cr_assert_gt(s.changed, 0);
    cr_assert_gt(s.accepted_to_rejected, 0);
    cr_assert_gt(s.reasons_gained[ASW_R_APPLICATION_LIMIT_REACHED], 0);
    cr_assert_lt(s.after.accepted, s.before.accepted);
    cr_assert_lt(s.after.reserved, s.before.reserved);
    cr_assert_leq(s.direct, s.changed);
    asw_ruleset_destroy(before);
    asw_ruleset_destroy(after);
}
