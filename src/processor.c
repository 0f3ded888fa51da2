/*
 * processor.c -- one partition's order states, stream time, retention and
 * change tracking around the pure core; see processor.h.
 *
 * Rollback keeps, per transaction, a copy of each order as it was before the
 * transaction first changed it (or a note that it did not exist). Undoing
 * walks those notes backwards, so an order dropped and created again within
 * one transaction comes back as it was.
 */
#include "asw/processor.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/store.h"

typedef struct saved {
    char *order_id;
    asw_order *before; /* NULL: the order did not exist */
} saved;

struct asw_processor {
    const asw_ruleset *rules;
    asw_state_limits limits;
    bool track;
    asw_store *store;
    bool has_stream_time, committed_has_stream_time;
    bool stream_time_restored; /* the changelog had a stream time record */
    int64_t stream_time;
    int64_t committed_stream_time;
    uint64_t txn; /* current transaction number, for asw_order.txn_mark */
    saved *saved;
    size_t n_saved, cap_saved;
};

asw_processor *asw_processor_new(const asw_ruleset *rules, const asw_state_limits *limits,
                                 bool track_changes) {
    asw_processor *p = asw_calloc(1, sizeof *p);
    p->rules = rules;
    p->limits = *limits;
    p->track = track_changes;
    p->store = asw_store_new();
    p->txn = 1;
    return p;
}

static void forget_saved(asw_processor *p) {
    for (size_t i = 0; i < p->n_saved; i++) {
        free(p->saved[i].order_id);
        asw_order_destroy(p->saved[i].before);
    }
    p->n_saved = 0;
}

void asw_processor_destroy(asw_processor *p) {
    if (!p)
        return;
    forget_saved(p);
    free(p->saved);
    asw_store_destroy(p->store);
    free(p);
}

/* Before the first change of an order in this transaction, keep its prior
 * state (o == NULL: it does not exist yet). */
static void save(asw_processor *p, const char *order_id, asw_order *o) {
    if (!p->track || (o && o->txn_mark == p->txn))
        return;
    if (p->n_saved == p->cap_saved) {
        p->cap_saved = p->cap_saved ? p->cap_saved * 2 : 16;
        p->saved = asw_realloc(p->saved, p->cap_saved * sizeof *p->saved);
    }
    saved *s = &p->saved[p->n_saved++];
    s->order_id = asw_strdup(order_id);
    s->before = o ? asw_order_clone(o) : NULL;
    if (o)
        o->txn_mark = p->txn;
}

/* Stream time - retention_ms into *horizon; false before any stream time
 * or when that lies below the range of int64 (nothing is that old). */
static bool retention_horizon(const asw_processor *p, int64_t *horizon) {
    return p->has_stream_time &&
           !__builtin_sub_overflow(p->stream_time, p->limits.retention_ms, horizon);
}

static bool has_open_application(const asw_order *o) {
    for (size_t i = 0; i < o->n_apps; i++)
        if (o->apps[i].state == ASW_APP_OPEN)
            return true;
    return false;
}

/* SPEC 7: an order may be dropped only when it is closed. One whose
 * deadline is unknown never is, by time. */
static bool closed(const asw_processor *p, const asw_order *o) {
    if (!o->has_deadline || has_open_application(o))
        return false;
    int64_t last = o->deadline > o->max_event_time ? o->deadline : o->max_event_time;
    int64_t horizon;
    return retention_horizon(p, &horizon) && last <= horizon;
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

static void drop(asw_processor *p, const char *order_id, asw_order *o) {
    save(p, order_id, o);
    asw_store_remove(p->store, order_id);
}

void asw_processor_apply(asw_processor *p, const asw_event *ev, const asw_source *src,
                         asw_result *out) {
    asw_order *o = asw_store_get(p->store, ev->order_id);
    if (o && closed(p, o)) {
        drop(p, ev->order_id, o);
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
    /* The copy for rollback must be taken before the change; for an order
     * that turns out unchanged it is harmless (restoring it is a no-op). */
    save(p, ev->order_id, created ? NULL : o);
    if (created)
        o->txn_mark = p->txn;
    asw_order_apply(o, p->rules, ev, src, out);
    if (!out->state_changed && created) {
        /* Nothing was booked: do not keep an empty order around. */
        if (p->track && p->n_saved && p->saved[p->n_saved - 1].before == NULL &&
            strcmp(p->saved[p->n_saved - 1].order_id, ev->order_id) == 0) {
            free(p->saved[--p->n_saved].order_id);
        }
        asw_store_remove(p->store, ev->order_id);
    }
    advance_stream_time(p, ev->event_time);
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

void asw_processor_restore(asw_processor *p, asw_order *state) {
    if (!p->stream_time_restored &&
        (!p->has_stream_time || state->max_event_time > p->stream_time)) {
        p->has_stream_time = true;
        p->stream_time = state->max_event_time;
    }
    p->committed_has_stream_time = p->has_stream_time;
    p->committed_stream_time = p->stream_time;
    asw_store_put(p->store, state);
}

void asw_processor_restore_stream_time(asw_processor *p, int64_t stream_time) {
    p->stream_time_restored = true;
    p->has_stream_time = p->committed_has_stream_time = true;
    p->stream_time = p->committed_stream_time = stream_time;
}

void asw_processor_restore_tombstone(asw_processor *p, const char *order_id) {
    asw_store_remove(p->store, order_id);
}

size_t asw_processor_evict(asw_processor *p) {
    size_t n, dropped = 0;
    const char **ids = asw_store_ids(p->store, &n);
    for (size_t i = 0; i < n; i++) {
        asw_order *o = asw_store_get(p->store, ids[i]);
        if (!closed(p, o))
            continue;
        char *id = asw_strdup(ids[i]); /* ids[i] dies with the order */
        drop(p, id, o);
        free(id);
        dropped++;
    }
    free(ids);
    return dropped;
}

size_t asw_processor_changed_count(const asw_processor *p) {
    return p->n_saved;
}

const asw_order *asw_processor_changed_at(const asw_processor *p, size_t i, const char **order_id) {
    *order_id = p->saved[i].order_id;
    return asw_store_get(p->store, p->saved[i].order_id);
}

void asw_processor_checkpoint(asw_processor *p) {
    forget_saved(p);
    p->committed_has_stream_time = p->has_stream_time;
    p->committed_stream_time = p->stream_time;
    p->txn++;
}

void asw_processor_rollback(asw_processor *p) {
    for (size_t i = p->n_saved; i-- > 0;) {
        saved *s = &p->saved[i];
        if (s->before) {
            asw_store_put(p->store, s->before);
            s->before = NULL;
        } else {
            asw_store_remove(p->store, s->order_id);
        }
    }
    forget_saved(p);
    p->has_stream_time = p->committed_has_stream_time;
    p->stream_time = p->committed_stream_time;
    p->txn++;
}

asw_processor *asw_processor_clone(const asw_processor *p) {
    asw_processor *c = asw_processor_new(p->rules, &p->limits, p->track);
    size_t n;
    const char **ids = asw_store_ids(p->store, &n);
    for (size_t i = 0; i < n; i++)
        asw_store_put(c->store, asw_order_clone(asw_store_get(p->store, ids[i])));
    free(ids);
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
    bool eq = true;
    for (size_t i = 0; i < n && eq; i++) {
        const asw_order *ob = asw_store_get(b->store, ids[i]);
        eq = ob && asw_order_equal(asw_store_get(a->store, ids[i]), ob);
    }
    free(ids);
    return eq;
}
