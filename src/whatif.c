/*
 * whatif.c -- the what-if comparison (whatif.h): two processors, one per
 * ruleset, fed the same events; the decisions that differ; a summary; and
 * the report of both in text or JSON Lines.
 *
 * Besides the two processors it keeps one small entry per order it has
 * seen: whether the order's two states have diverged, and the order's
 * ledger totals as the last refund record of each run left them (so that
 * the totals at the end are sums kept up to date in O(1) per record, and
 * do not depend on a walk of a hash table or on which orders a run has
 * evicted since).
 */
#include "asw/whatif.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/hash.h"

/* ---- the orders seen: an open-addressing table by order id ---- */

typedef struct order_entry {
    char *order_id; /* owned; NULL: an empty slot */
    bool diverged;
    int64_t refunded[2], reserved[2]; /* [0] before, [1] after */
} order_entry;

typedef struct order_table {
    order_entry *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} order_table;

static order_entry *table_slot(order_entry *slots, size_t cap, const char *id) {
    size_t i = (size_t)asw_fnv1a64(id, strlen(id)) & (cap - 1);
    while (slots[i].order_id && strcmp(slots[i].order_id, id) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* The entry of order `id`, created when absent. */
static order_entry *table_get(order_table *t, const char *id) {
    if (t->cap == 0 || (t->count + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        order_entry *slots = asw_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].order_id)
                *table_slot(slots, cap, t->slots[i].order_id) = t->slots[i];
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    order_entry *e = table_slot(t->slots, t->cap, id);
    if (!e->order_id) {
        e->order_id = asw_strdup(id);
        t->count++;
    }
    return e;
}

static void table_free(order_table *t) {
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].order_id);
    free(t->slots);
}

/* ---- the comparison ---- */

struct asw_whatif {
    asw_processor *proc[2]; /* [0] before, [1] after */
    order_table orders;
    asw_whatif_summary summary;
};

asw_whatif *asw_whatif_new(const asw_ruleset *before, const asw_ruleset *after,
                           const asw_state_limits *limits, const char *topic) {
    asw_whatif *w = asw_calloc(1, sizeof *w);
    const asw_ruleset *rules[2] = {before, after};
    for (int i = 0; i < 2; i++) {
        w->proc[i] = asw_processor_new(rules[i], limits, false);
        asw_processor_set_topic(w->proc[i], topic);
    }
    w->summary.before_version = asw_ruleset_version(before);
    w->summary.after_version = asw_ruleset_version(after);
    return w;
}

void asw_whatif_set_rulebooks(asw_whatif *w, const asw_rulebook *before,
                              const asw_rulebook *after) {
    const asw_rulebook *books[2] = {before, after};
    const char **versions[2] = {&w->summary.before_version, &w->summary.after_version};
    int64_t *changes[2] = {&w->summary.before_changes, &w->summary.after_changes};
    for (int i = 0; i < 2; i++) {
        if (!books[i])
            continue;
        asw_processor_set_rulebook(w->proc[i], books[i]);
        *versions[i] = asw_ruleset_version(asw_rulebook_base(books[i]));
        *changes[i] = (int64_t)asw_rulebook_count(books[i]);
    }
}

void asw_whatif_destroy(asw_whatif *w) {
    if (!w)
        return;
    asw_processor_destroy(w->proc[0]);
    asw_processor_destroy(w->proc[1]);
    table_free(&w->orders);
    free(w);
}

static asw_whatif_run_totals *run_totals(asw_whatif *w, int i) {
    return i == 0 ? &w->summary.before : &w->summary.after;
}

/* One run's result into its totals, and into the order's entry. */
static void count_run(asw_whatif *w, int i, order_entry *e, const asw_result *res) {
    asw_whatif_run_totals *t = run_totals(w, i);
    if (res->status == ASW_APPLY_INVALID || res->status == ASW_APPLY_LATE)
        t->dead_letters++;
    if (res->has_decision) {
        t->decisions++;
        t->accepted += res->decision.outcome == ASW_OUT_ACCEPTED;
    }
    if (res->has_record) {
        const asw_refund_record *r = &res->record;
        if (r->status == ASW_RS_PENDING)
            t->reserved += r->amount;
        t->refunded_at_end += r->order_refunded - e->refunded[i];
        t->reserved_at_end += r->order_reserved - e->reserved[i];
        e->refunded[i] = r->order_refunded;
        e->reserved[i] = r->order_reserved;
    }
}

static asw_whatif_side side_of(const asw_result *res) {
    asw_whatif_side s = {.decided = res->has_decision};
    if (!res->has_decision)
        return s;
    const asw_decision *d = &res->decision;
    s.outcome = d->outcome;
    s.reasons = d->reasons;
    if (res->has_record && res->record.status == ASW_RS_PENDING)
        s.reserved = res->record.amount;
    s.applications_used = d->applications_used;
    s.order_remaining = d->order_remaining;
    s.sku_remaining = d->sku_remaining;
    s.ruleset_version = d->ruleset_version;
    return s;
}

/* Did the event move money or the quota differently in the two runs? */
static bool effects_differ(const asw_result *a, const asw_result *b) {
    if (a->status != b->status || a->has_decision != b->has_decision ||
        a->has_record != b->has_record)
        return true;
    if (a->has_decision && a->decision.outcome != b->decision.outcome)
        return true;
    if (a->has_record &&
        (a->record.status != b->record.status || a->record.amount != b->record.amount))
        return true;
    return false;
}

static void count_change(asw_whatif_summary *s, const asw_whatif_change *c) {
    s->changed++;
    s->direct += !c->order_diverged_before;
    if (!c->before.decided || !c->after.decided) {
        s->one_run_only++;
        return;
    }
    if (c->before.outcome == ASW_OUT_ACCEPTED && c->after.outcome == ASW_OUT_REJECTED)
        s->accepted_to_rejected++;
    else if (c->before.outcome == ASW_OUT_REJECTED && c->after.outcome == ASW_OUT_ACCEPTED)
        s->rejected_to_accepted++;
    else
        s->same_outcome++;
    for (int r = 0; r < ASW_R__COUNT; r++) {
        asw_reason_set bit = (asw_reason_set)(1u << r);
        if ((c->after.reasons & bit) && !(c->before.reasons & bit))
            s->reasons_gained[r]++;
        if ((c->before.reasons & bit) && !(c->after.reasons & bit))
            s->reasons_lost[r]++;
    }
}

bool asw_whatif_apply(asw_whatif *w, const asw_event *ev, const asw_source *src,
                      asw_whatif_change *change) {
    asw_result res[2];
    /* Each result borrows from its own processor's order, so the first
     * stays valid while the second processor applies the event. */
    asw_processor_apply(w->proc[0], ev, src, &res[0]);
    asw_processor_apply(w->proc[1], ev, src, &res[1]);
    order_entry *e = table_get(&w->orders, ev->order_id);
    w->summary.events++;
    count_run(w, 0, e, &res[0]);
    count_run(w, 1, e, &res[1]);

    bool diverged_before = e->diverged;
    if (effects_differ(&res[0], &res[1]))
        e->diverged = true;
    if (!res[0].has_decision && !res[1].has_decision)
        return false;
    w->summary.compared++;

    asw_whatif_side before = side_of(&res[0]), after = side_of(&res[1]);
    if (before.decided == after.decided && before.outcome == after.outcome &&
        before.reasons == after.reasons && before.reserved == after.reserved)
        return false;

    *change = (asw_whatif_change){
        .offset = src->offset,
        .order_id = ev->order_id,
        .aftersale_id = ev->aftersale_id,
        .sku_order_id = ev->sku_order_id,
        .shop_id = ev->shop_id,
        .initiator = ev->initiator,
        .event_time = ev->event_time,
        .apply_amount = ev->amount,
        .duplicate = (res[0].has_decision && res[0].decision.duplicate) ||
                     (res[1].has_decision && res[1].decision.duplicate),
        .order_diverged_before = diverged_before,
        .before = before,
        .after = after,
    };
    count_change(&w->summary, change);
    return true;
}

void asw_whatif_skip(asw_whatif *w) {
    w->summary.events++;
    w->summary.before.dead_letters++;
    w->summary.after.dead_letters++;
}

const asw_whatif_summary *asw_whatif_summary_get(const asw_whatif *w) {
    return &w->summary;
}

/* ---- the report ---- */

int asw_whatif_format_parse(const char *s, asw_whatif_format *out) {
    if (strcmp(s, "text") == 0)
        *out = ASW_WHATIF_TEXT;
    else if (strcmp(s, "jsonl") == 0)
        *out = ASW_WHATIF_JSONL;
    else
        return -1;
    return 0;
}

/* "REJECTED MULTI_REFUND_NOT_ENABLED", "ACCEPTED", or "LATE_EVENT (not decided)". */
static void text_side(asw_buf *b, const char *label, const asw_whatif_side *s) {
    asw_buf_printf(b, "  %-6s ", label);
    if (!s->decided) {
        asw_buf_append_str(b, "LATE_EVENT (not decided)\n");
        return;
    }
    asw_buf_printf(b, "%s  %s", s->ruleset_version, asw_outcome_name(s->outcome));
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (s->reasons & (1u << r))
            asw_buf_printf(b, " %s", asw_reason_name((asw_reason)r));
    if (s->reserved)
        asw_buf_printf(b, "  reserved %lld", (long long)s->reserved);
    asw_buf_append_str(b, "\n");
}

static json_t *reasons_array(asw_reason_set set) {
    json_t *a = json_array();
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (set & (1u << r))
            json_array_append_new(a, json_string(asw_reason_name((asw_reason)r)));
    return a;
}

static json_t *json_side(const asw_whatif_side *s) {
    json_t *o = json_object();
    if (!s->decided) {
        json_object_set_new(o, "outcome", json_null());
        json_object_set_new(o, "dead_letter", json_string("LATE_EVENT"));
        return o;
    }
    json_object_set_new(o, "ruleset_version", json_string(s->ruleset_version));
    json_object_set_new(o, "outcome", json_string(asw_outcome_name(s->outcome)));
    json_object_set_new(o, "reasons", reasons_array(s->reasons));
    json_object_set_new(o, "reserved", json_integer(s->reserved));
    json_object_set_new(o, "applications_used", json_integer(s->applications_used));
    json_object_set_new(o, "order_remaining", json_integer(s->order_remaining));
    json_object_set_new(o, "sku_remaining", json_integer(s->sku_remaining));
    return o;
}

static void dump(json_t *o, asw_buf *out) {
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    asw_buf_reserve(out, n + 1);
    json_dumpb(o, (char *)out->data + out->len, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    out->len += n;
    out->data[out->len++] = '\n';
    json_decref(o);
}

void asw_whatif_format_change(const asw_whatif_change *c, asw_whatif_format f, asw_buf *out) {
    if (f == ASW_WHATIF_TEXT) {
        asw_buf_printf(out, "line %lld: order %s, application %s (sub-order %s, shop %s, %s)\n",
                       (long long)c->line, c->order_id, c->aftersale_id, c->sku_order_id,
                       c->shop_id, asw_initiator_name(c->initiator));
        asw_buf_printf(out, "  event_time %lld, apply_amount %lld%s%s\n", (long long)c->event_time,
                       (long long)c->apply_amount, c->duplicate ? ", a duplicate" : "",
                       c->order_diverged_before ? ", the order had diverged earlier" : "");
        text_side(out, "before", &c->before);
        text_side(out, "after", &c->after);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("DecisionChange"));
    json_object_set_new(o, "line", json_integer(c->line));
    json_object_set_new(o, "source_offset", json_integer(c->offset));
    json_object_set_new(o, "order_id", json_string(c->order_id));
    json_object_set_new(o, "aftersale_id", json_string(c->aftersale_id));
    json_object_set_new(o, "sku_order_id", json_string(c->sku_order_id));
    json_object_set_new(o, "shop_id", json_string(c->shop_id));
    json_object_set_new(o, "initiator", json_string(asw_initiator_name(c->initiator)));
    json_object_set_new(o, "event_time", json_integer(c->event_time));
    json_object_set_new(o, "apply_amount", json_integer(c->apply_amount));
    json_object_set_new(o, "duplicate", json_boolean(c->duplicate));
    json_object_set_new(o, "order_diverged_before", json_boolean(c->order_diverged_before));
    json_object_set_new(o, "before", json_side(&c->before));
    json_object_set_new(o, "after", json_side(&c->after));
    dump(o, out);
}

static json_t *json_pair(int64_t before, int64_t after) {
    json_t *o = json_object();
    json_object_set_new(o, "before", json_integer(before));
    json_object_set_new(o, "after", json_integer(after));
    json_object_set_new(o, "difference", json_integer(after - before));
    return o;
}

static json_t *json_reason_counts(const int64_t *counts) {
    json_t *o = json_object();
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (counts[r])
            json_object_set_new(o, asw_reason_name((asw_reason)r), json_integer(counts[r]));
    return o;
}

static void text_reason_counts(asw_buf *b, const char *label, const int64_t *counts) {
    asw_buf_printf(b, "  %s:", label);
    bool any = false;
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (counts[r]) {
            asw_buf_printf(b, "%s %s %lld", any ? "," : "", asw_reason_name((asw_reason)r),
                           (long long)counts[r]);
            any = true;
        }
    asw_buf_append_str(b, any ? "\n" : " none\n");
}

static void text_pair(asw_buf *b, const char *label, int64_t before, int64_t after) {
    asw_buf_printf(b, "  %-36s before %lld, after %lld, difference %+lld\n", label,
                   (long long)before, (long long)after, (long long)(after - before));
}

void asw_whatif_format_summary(const asw_whatif_summary *s, asw_whatif_format f, asw_buf *out) {
    const asw_whatif_run_totals *b = &s->before, *a = &s->after;
    if (f == ASW_WHATIF_TEXT) {
        asw_buf_printf(out, "summary: before %s", s->before_version);
        if (s->before_changes > 0)
            asw_buf_printf(out, " and %lld change(s) by event time", (long long)s->before_changes);
        asw_buf_printf(out, ", after %s", s->after_version);
        if (s->after_changes > 0)
            asw_buf_printf(out, " and %lld change(s) by event time", (long long)s->after_changes);
        asw_buf_printf(out, "\n");
        asw_buf_printf(out,
                       "  %lld events, %lld decisions compared, %lld changed (%lld direct, "
                       "%lld on orders that had diverged earlier)\n",
                       (long long)s->events, (long long)s->compared, (long long)s->changed,
                       (long long)s->direct, (long long)(s->changed - s->direct));
        asw_buf_printf(out,
                       "  ACCEPTED -> REJECTED %lld, REJECTED -> ACCEPTED %lld, same outcome "
                       "%lld, decided in one run only %lld\n",
                       (long long)s->accepted_to_rejected, (long long)s->rejected_to_accepted,
                       (long long)s->same_outcome, (long long)s->one_run_only);
        text_reason_counts(out, "reasons gained", s->reasons_gained);
        text_reason_counts(out, "reasons lost", s->reasons_lost);
        text_pair(out, "accepted decisions", b->accepted, a->accepted);
        text_pair(out, "dead letters", b->dead_letters, a->dead_letters);
        text_pair(out, "reserved by accepted applications", b->reserved, a->reserved);
        text_pair(out, "refunded at the end", b->refunded_at_end, a->refunded_at_end);
        text_pair(out, "reserved at the end", b->reserved_at_end, a->reserved_at_end);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("WhatIfSummary"));
    json_t *v = json_object();
    json_object_set_new(v, "before", json_string(s->before_version));
    json_object_set_new(v, "after", json_string(s->after_version));
    json_object_set_new(o, "ruleset_version", v);
    if (s->before_changes > 0 || s->after_changes > 0) {
        json_t *c = json_object();
        json_object_set_new(c, "before", json_integer(s->before_changes));
        json_object_set_new(c, "after", json_integer(s->after_changes));
        json_object_set_new(o, "ruleset_changes", c);
    }
    json_object_set_new(o, "events", json_integer(s->events));
    json_object_set_new(o, "decisions_compared", json_integer(s->compared));
    json_object_set_new(o, "changed", json_integer(s->changed));
    json_object_set_new(o, "direct", json_integer(s->direct));
    json_object_set_new(o, "on_diverged_orders", json_integer(s->changed - s->direct));
    json_object_set_new(o, "accepted_to_rejected", json_integer(s->accepted_to_rejected));
    json_object_set_new(o, "rejected_to_accepted", json_integer(s->rejected_to_accepted));
    json_object_set_new(o, "same_outcome", json_integer(s->same_outcome));
    json_object_set_new(o, "one_run_only", json_integer(s->one_run_only));
    json_object_set_new(o, "reasons_gained", json_reason_counts(s->reasons_gained));
    json_object_set_new(o, "reasons_lost", json_reason_counts(s->reasons_lost));
    json_object_set_new(o, "decisions", json_pair(b->decisions, a->decisions));
    json_object_set_new(o, "accepted", json_pair(b->accepted, a->accepted));
    json_object_set_new(o, "dead_letters", json_pair(b->dead_letters, a->dead_letters));
    json_object_set_new(o, "reserved_by_applications", json_pair(b->reserved, a->reserved));
    json_object_set_new(o, "refunded_at_end", json_pair(b->refunded_at_end, a->refunded_at_end));
    json_object_set_new(o, "reserved_at_end", json_pair(b->reserved_at_end, a->reserved_at_end));
    dump(o, out);
}
