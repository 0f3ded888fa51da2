/*
 * processor.c -- one partition's order states, stream time, retention and
 * change tracking around the pure core; see processor.h.
 *
 * Rollback never copies an order: the ledger's journal records what each
 * order looked like before the transaction changed it (its header and the
 * before-images of the entities it changed), and the processor keeps, per
 * transaction, the orders it created and those it dropped (moved aside,
 * not destroyed). Undoing walks those notes backwards, so an order dropped
 * and created again within one transaction comes back as it was. So does
 * the cost of a transaction: proportional to what it changed, never to an
 * order's history.
 */
#include "asw/processor.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/store.h"

/* One creation or drop of an order in the current transaction. */
typedef struct lifecycle {
    asw_order *created; /* created in this transaction (owned by the store) */
    asw_order *dropped; /* dropped in this transaction (owned here until the
                           checkpoint or the rollback) */
} lifecycle;

struct asw_processor {
    const asw_ruleset *rules;
    const asw_rulebook *book; /* when set, the ruleset at each event's time */
    asw_state_limits limits;
    bool track;
    asw_store *store;
    bool has_stream_time, committed_has_stream_time;
    bool stream_time_restored; /* the changelog had a stream time record */
    int64_t stream_time;
    int64_t committed_stream_time;
    char *topic;                /* see asw_processor_set_topic() */
    asw_order_journal *journal; /* NULL unless track */
    lifecycle *life;
    size_t n_life, cap_life;
    /* The changed orders still in state, filled on demand for the
     * changelog. */
    asw_order **changed;
    size_t n_changed, cap_changed;
    bool changed_valid;
    size_t evict_cursor; /* the store slot asw_processor_evict_step() goes on from */
};

/* The least an eviction step looks at, so that a small table is swept in
 * one step rather than a few slots at a time. */
#define EVICT_STEP_MIN_SLOTS 1024

void asw_processor_set_rulebook(asw_processor *p, const asw_rulebook *book) {
    p->book = book;
}

asw_processor *asw_processor_new(const asw_ruleset *rules, const asw_state_limits *limits,
                                 bool track_changes) {
    asw_processor *p = asw_calloc(1, sizeof *p);
    p->rules = rules;
    p->limits = *limits;
    p->track = track_changes;
    p->store = asw_store_new();
    if (track_changes)
        p->journal = asw_order_journal_new();
    return p;
}

static void note(asw_processor *p, asw_order *created, asw_order *dropped) {
    if (p->n_life == p->cap_life) {
        p->cap_life = p->cap_life ? p->cap_life * 2 : 16;
        p->life = asw_realloc(p->life, p->cap_life * sizeof *p->life);
    }
    p->life[p->n_life++] = (lifecycle){created, dropped};
    p->changed_valid = false;
}

/* Forget the transaction's notes; the dropped orders die now. */
static void forget(asw_processor *p) {
    if (p->journal)
        asw_order_journal_reset(p->journal);
    for (size_t i = 0; i < p->n_life; i++)
        asw_order_destroy(p->life[i].dropped);
    p->n_life = 0;
    p->n_changed = 0;
    p->changed_valid = false;
}

void asw_processor_destroy(asw_processor *p) {
    if (!p)
        return;
    forget(p);
    asw_order_journal_destroy(p->journal);
    free(p->life);
    free(p->changed);
    free(p->topic);
    asw_store_destroy(p->store);
    free(p);
}

/* Drop an order from state; tracked, it is kept aside for a rollback. */
static void drop(asw_processor *p, asw_order *o) {
    asw_order *taken = asw_store_take(p->store, asw_order_id(o));
    if (p->track)
        note(p, NULL, taken);
    else
        asw_order_destroy(taken);
}

/* Stream time - retention_ms into *horizon; false before any stream time
 * or when that lies below the range of int64 (nothing is that old). */
static bool retention_horizon(const asw_processor *p, int64_t *horizon) {
    return p->has_stream_time &&
           !__builtin_sub_overflow(p->stream_time, p->limits.retention_ms, horizon);
}

/* SPEC 7: an order may be dropped only when it is closed. One whose
 * deadline is unknown never is, by time. */
static bool closed_brief(const asw_processor *p, const asw_order_brief *b) {
    if (!b->has_deadline || b->n_open > 0)
        return false;
    int64_t last = b->deadline > b->max_event_time ? b->deadline : b->max_event_time;
    int64_t horizon;
    return retention_horizon(p, &horizon) && last <= horizon;
}

static bool closed(const asw_processor *p, asw_order *o) {
    asw_order_brief b;
    asw_order_brief_of(o, &b);
    return closed_brief(p, &b);
}

/* Keep at most limits.decoded_orders decoded; past that, freeze down to
 * three quarters of it, so that the clock runs once per many events. */
static void cool(asw_processor *p) {
    size_t max = p->limits.decoded_orders;
    if (asw_store_decoded_count(p->store) > max)
        asw_store_cool(p->store, max - max / 4);
}

/* Stream time follows event time, at most max_step_ms per event, so that a
 * wild clock cannot expire anything. */
static void advance_stream_time(asw_processor *p, int64_t t) {
    if (!p->has_stream_time) {
        p->has_stream_time = true;
        p->stream_time = t;
        return;
    }
    if (t <= p->stream_time)
        return;
    int64_t cap;
    if (__builtin_add_overflow(p->stream_time, p->limits.max_step_ms, &cap))
        cap = INT64_MAX;
    p->stream_time = t < cap ? t : cap;
}

void asw_processor_apply(asw_processor *p, const asw_event *ev, const asw_source *src,
                         asw_result *out) {
    if (!p->track)
        cool(p); /* tracked, orders are frozen once committed */
    asw_order *o = asw_store_get(p->store, ev->order_id);
    if (o && closed(p, o)) {
        drop(p, o);
        o = NULL;
    }
    int64_t horizon;
    if (!o && retention_horizon(p, &horizon) && ev->event_time < horizon) {
        /* It may belong to an order already dropped: deciding it against an
         * empty ledger could forget money. */
        memset(out, 0, sizeof *out);
        out->status = ASW_APPLY_LATE;
        out->error = "event_time is more than state.retention.ms before stream time and "
                     "the order is not in state";
        return; /* earlier than stream time: it cannot move it */
    }
    bool created = o == NULL;
    if (created) {
        o = asw_order_new(ev->order_id);
        asw_store_put(p->store, o);
    }
    if (p->journal) {
        asw_order_journal_begin(p->journal, o);
        p->changed_valid = false;
    }
    asw_order_apply(o, p->book ? asw_rulebook_at(p->book, ev->event_time) : p->rules, ev, src, out);
    if (created) {
        if (out->state_changed) {
            if (p->track)
                note(p, o, NULL);
        } else {
            /* Nothing was booked: do not keep an empty order around. The
             * result borrows nothing from it (no record, and a decision not
             * remembered borrows the event's strings). */
            if (p->journal)
                asw_order_journal_forget(p->journal, o);
            asw_store_remove(p->store, ev->order_id);
        }
    }
    advance_stream_time(p, ev->event_time);
}

void asw_result_dispatch(const asw_result *res, const asw_result_sink *sink, void *opaque) {
    if (res->status == ASW_APPLY_INVALID)
        sink->dead_letter(opaque, "INVALID_EVENT", res->error);
    else if (res->status == ASW_APPLY_LATE)
        sink->dead_letter(opaque, "LATE_EVENT", res->error);
    if (res->has_decision)
        sink->decision(opaque, &res->decision);
    if (res->has_record)
        sink->record(opaque, &res->record);
}

int64_t asw_processor_stream_time(const asw_processor *p) {
    return p->stream_time;
}

bool asw_processor_has_stream_time(const asw_processor *p) {
    return p->has_stream_time;
}

bool asw_processor_stream_time_changed(const asw_processor *p) {
    return p->has_stream_time != p->committed_has_stream_time ||
           p->stream_time != p->committed_stream_time;
}

size_t asw_processor_order_count(const asw_processor *p) {
    return asw_store_count(p->store);
}

const asw_order *asw_processor_get(const asw_processor *p, const char *order_id) {
    return asw_store_get(p->store, order_id);
}

void asw_processor_set_topic(asw_processor *p, const char *topic) {
    free(p->topic);
    p->topic = topic ? asw_strdup(topic) : NULL;
    asw_store_set_topic(p->store, topic);
}

const char *asw_processor_topic(const asw_processor *p) {
    return p->topic;
}

void asw_processor_restore_frozen(asw_processor *p, const char *order_id, uint8_t restore_flags,
                                  const void *body, size_t len) {
    asw_store_put_frozen(p->store, order_id, restore_flags, body, len);
}

size_t asw_processor_decoded_count(const asw_processor *p) {
    return asw_store_decoded_count(p->store);
}

size_t asw_processor_frozen_bytes(const asw_processor *p) {
    return asw_store_frozen_bytes(p->store);
}

void asw_processor_restore(asw_processor *p, asw_order *state) {
    cool(p);
    asw_store_put(p->store, state);
}

void asw_processor_restore_reserve(asw_processor *p, size_t orders) {
    asw_store_reserve(p->store, orders);
}

void asw_processor_restore_tombstone(asw_processor *p, const char *order_id) {
    asw_store_remove(p->store, order_id);
}

asw_order *asw_processor_restore_get(asw_processor *p, const char *order_id) {
    cool(p);
    return asw_store_get_or_create(p->store, order_id);
}

void asw_processor_restore_stream_time(asw_processor *p, int64_t stream_time) {
    p->stream_time_restored = true;
    p->has_stream_time = true;
    p->stream_time = stream_time;
}

static void max_event_time(asw_order_brief *b, void *opaque) {
    asw_processor *p = opaque;
    if (!p->has_stream_time || b->max_event_time > p->stream_time) {
        p->has_stream_time = true;
        p->stream_time = b->max_event_time;
    }
}

void asw_processor_restore_done(asw_processor *p) {
    if (!p->stream_time_restored)
        asw_store_foreach_brief(p->store, max_event_time, p);
    p->committed_has_stream_time = p->has_stream_time;
    p->committed_stream_time = p->stream_time;
    cool(p);
}

void asw_processor_foreach_brief(asw_processor *p, void (*fn)(asw_order_brief *, void *),
                                 void *opaque) {
    asw_store_foreach_brief(p->store, fn, opaque);
}

typedef struct sweep {
    asw_processor *p;
    char **closed; /* ids: dropping thaws, which frees a frozen order's id */
    size_t n, cap;
} sweep;

static void collect_closed(asw_order_brief *b, void *opaque) {
    sweep *sw = opaque;
    if (!closed_brief(sw->p, b))
        return;
    if (sw->n == sw->cap) {
        sw->cap = sw->cap ? sw->cap * 2 : 64;
        sw->closed = asw_realloc(sw->closed, sw->cap * sizeof *sw->closed);
    }
    sw->closed[sw->n++] = asw_strdup(b->order_id);
}

static size_t drop_collected(asw_processor *p, sweep *sw) {
    for (size_t i = 0; i < sw->n; i++) {
        drop(p, asw_store_get(p->store, sw->closed[i]));
        free(sw->closed[i]);
    }
    free(sw->closed);
    return sw->n;
}

size_t asw_processor_evict(asw_processor *p) {
    /* The outputs never depend on the order in which closed orders are
     * dropped, so the table is walked in hash order, unsorted. A frozen
     * order is judged from its brief and thawed only to be dropped (the
     * changelog tombstones its entities). */
    sweep sw = {p, NULL, 0, 0};
    asw_store_foreach_brief(p->store, collect_closed, &sw);
    return drop_collected(p, &sw);
}

size_t asw_processor_evict_step(asw_processor *p, size_t rounds) {
    size_t cap = asw_store_capacity(p->store);
    size_t slots = rounds > 0 ? (cap + rounds - 1) / rounds : cap;
    if (slots < EVICT_STEP_MIN_SLOTS)
        slots = EVICT_STEP_MIN_SLOTS;
    sweep sw = {p, NULL, 0, 0};
    p->evict_cursor =
        asw_store_foreach_brief_from(p->store, p->evict_cursor, slots, collect_closed, &sw);
    return drop_collected(p, &sw);
}

size_t asw_processor_dropped_count(const asw_processor *p) {
    return p->n_life;
}

const asw_order *asw_processor_dropped_at(const asw_processor *p, size_t i) {
    return p->life[i].dropped;
}

/* The orders the journal began that changed and are still in state. */
static void list_changed(asw_processor *p) {
    if (p->changed_valid || !p->journal)
        return;
    p->n_changed = 0;
    size_t n = asw_order_journal_count(p->journal);
    for (size_t i = 0; i < n; i++) {
        asw_order *o = asw_order_journal_at(p->journal, i);
        if (!o || !asw_order_journal_order_changed(p->journal, o) || !asw_store_holds(p->store, o))
            continue;
        if (p->n_changed == p->cap_changed) {
            p->cap_changed = p->cap_changed ? p->cap_changed * 2 : 64;
            p->changed = asw_realloc(p->changed, p->cap_changed * sizeof *p->changed);
        }
        p->changed[p->n_changed++] = o;
    }
    p->changed_valid = true;
}

size_t asw_processor_changed_count(const asw_processor *p) {
    list_changed((asw_processor *)p);
    return p->n_changed;
}

const asw_order *asw_processor_changed_at(const asw_processor *p, size_t i) {
    list_changed((asw_processor *)p);
    return p->changed[i];
}

bool asw_processor_entity_changed(const asw_processor *p, const asw_order *o, asw_entity_kind kind,
                                  uint32_t i) {
    return p->journal && asw_order_journal_entity_changed(p->journal, o, kind, i);
}

void asw_processor_each_change(const asw_processor *p, const asw_order *o, asw_order_change_fn *fn,
                               void *opaque) {
    if (p->journal)
        asw_order_journal_each_change(p->journal, o, fn, opaque);
}

void asw_processor_checkpoint(asw_processor *p) {
    forget(p);
    p->committed_has_stream_time = p->has_stream_time;
    p->committed_stream_time = p->stream_time;
    cool(p);
}

void asw_processor_rollback(asw_processor *p) {
    if (p->journal) {
        asw_order_journal_rollback(p->journal);
        asw_order_journal_reset(p->journal);
    }
    for (size_t i = p->n_life; i-- > 0;) {
        lifecycle *l = &p->life[i];
        if (l->created)
            asw_store_remove(p->store, asw_order_id(l->created));
        if (l->dropped) {
            asw_store_put(p->store, l->dropped);
            l->dropped = NULL;
        }
    }
    p->n_life = 0;
    p->n_changed = 0;
    p->changed_valid = false;
    p->has_stream_time = p->committed_has_stream_time;
    p->stream_time = p->committed_stream_time;
    cool(p);
}

static void clone_into(asw_order_brief *b, void *opaque) {
    asw_processor *to = opaque;
    if (b->order)
        asw_store_put(to->store, asw_order_clone(b->order));
    else
        asw_store_put(to->store, asw_order_thaw(b->frozen, b->frozen_len, to->topic));
}

asw_processor *asw_processor_clone(const asw_processor *p) {
    asw_processor *c = asw_processor_new(p->rules, &p->limits, p->track);
    c->book = p->book;
    asw_processor_set_topic(c, p->topic);
    asw_store_foreach_brief(p->store, clone_into, c);
    c->has_stream_time = c->committed_has_stream_time = p->has_stream_time;
    c->stream_time = c->committed_stream_time = p->stream_time;
    return c;
}

bool asw_processor_equal(const asw_processor *a, const asw_processor *b) {
    if (a->has_stream_time != b->has_stream_time || a->stream_time != b->stream_time ||
        asw_store_count(a->store) != asw_store_count(b->store))
        return false;
    size_t n;
    const char **ids = asw_store_ids(a->store, &n);
    char **own = asw_malloc((n ? n : 1) * sizeof *own); /* getting thaws */
    for (size_t i = 0; i < n; i++)
        own[i] = asw_strdup(ids[i]);
    free(ids);
    bool eq = true;
    for (size_t i = 0; i < n && eq; i++) {
        const asw_order *ob = asw_store_get(b->store, own[i]);
        eq = ob && asw_order_equal(asw_store_get(a->store, own[i]), ob);
    }
    for (size_t i = 0; i < n; i++)
        free(own[i]);
    free(own);
    return eq;
}
