/*
 * processor.h -- the states of one input partition and the per-record step
 * shared by the offline replay and the Kafka worker: apply an event to its
 * order (the core), keep stream time, drop expired orders, and remember
 * what changed since the last commit so it can be written to the changelog
 * or rolled back.
 */
#ifndef ASW_PROCESSOR_H
#define ASW_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/ledger.h"
#include "asw/rulebook.h"
#include "asw/ruleset.h"

typedef struct asw_processor asw_processor;

/* How state is bounded (SPEC section 7); see docs/configuration.md. */
typedef struct asw_state_limits {
    int64_t retention_ms;  /* state.retention.ms, >= 1 */
    int64_t max_step_ms;   /* state.stream_time.max_step.ms, >= 0 */
    size_t decoded_orders; /* state.cache.orders: orders kept decoded
                              between transactions (the others are frozen,
                              see asw_order_freeze()); 0 freezes each one as
                              soon as it may be */
} asw_state_limits;

/*
 * A processor with no orders. `rules` is borrowed (must outlive it);
 * `limits` is copied. `track_changes`: remember prior states for rollback
 * and the changed orders for the changelog (the worker); the replay passes
 * false. Never NULL (OOM aborts).
 */
asw_processor *asw_processor_new(const asw_ruleset *rules, const asw_state_limits *limits,
                                 bool track_changes);
/* Decide each event by the ruleset `book` has in effect at its event_time
 * instead of `rules` (borrowed; NULL goes back to `rules`). The book may
 * change between calls of asw_processor_apply(), never during one. */
void asw_processor_set_rulebook(asw_processor *p, const asw_rulebook *book);
/* asw_processor_destroy(NULL) is a no-op. */
void asw_processor_destroy(asw_processor *p);

/*
 * Apply one event to its order (SPEC sections 4 and 7), in three steps:
 *
 *  1. the order is dropped when it is closed at the current stream time
 *     (its deadline is set, stream time is at least retention_ms past both
 *     the deadline and its latest event_time, and no application is OPEN);
 *  2. an event whose order is not in state and whose event_time is earlier
 *     than stream time - retention_ms is not applied: out->status is
 *     ASW_APPLY_LATE (a dead letter `LATE_EVENT`) and no state changes;
 *  3. otherwise the core applies it.
 *
 * Then stream time advances with the event's time, by at most max_step_ms
 * (the first event of a partition sets it). Every event handed here moves
 * it, whatever its outcome. The result borrows from the order and the event
 * as asw_order_apply() says, and is valid until the next call of
 * asw_processor_apply(), checkpoint or rollback (each may freeze the order,
 * limits.decoded_orders).
 */
void asw_processor_apply(asw_processor *p, const asw_event *ev, const asw_source *src,
                         asw_result *out);

/*
 * What a result asks its caller to write, in this order: a dead letter (an
 * invalid fact: code "INVALID_EVENT"; an event too late for the retention:
 * "LATE_EVENT"; `error` says why), the decision, the refund record. The one
 * place that reads a result for its outputs, for the worker, the replay and
 * the demo alike.
 */
typedef struct asw_result_sink {
    void (*dead_letter)(void *opaque, const char *code, const char *error);
    void (*decision)(void *opaque, const asw_decision *d);
    void (*record)(void *opaque, const asw_refund_record *r);
} asw_result_sink;

void asw_result_dispatch(const asw_result *res, const asw_result_sink *sink, void *opaque);

/* Stream time (SPEC section 7); 0 before the first event. */
int64_t asw_processor_stream_time(const asw_processor *p);
/* Has an event (or a restore) set stream time yet? */
bool asw_processor_has_stream_time(const asw_processor *p);
/* Did stream time move since the last checkpoint (the changelog then
 * carries it)? Only with track_changes. */
bool asw_processor_stream_time_changed(const asw_processor *p);
size_t asw_processor_order_count(const asw_processor *p);
/* The state of an order (thawed when frozen), or NULL. Owned by the
 * processor; valid until the next apply, checkpoint, rollback or restore
 * call. */
const asw_order *asw_processor_get(const asw_processor *p, const char *order_id);
/* The topic most decisions of the partition come from (its input topic):
 * frozen orders and whole changelog records store it once, not per order
 * (asw_order_freeze()). Copied; NULL at first. */
void asw_processor_set_topic(asw_processor *p, const char *topic);
const char *asw_processor_topic(const asw_processor *p);
/* How many orders are decoded, and the bytes of the frozen ones. */
size_t asw_processor_decoded_count(const asw_processor *p);
size_t asw_processor_frozen_bytes(const asw_processor *p);

/* Rebuild from the changelog: put a state (ownership taken; replaces any
 * state of the same order), remove one (a tombstone), get one to change in
 * place (created empty when absent), or set the stream time the partition
 * had. Not tracked as changes. A changelog written before stream time was
 * stored has no stream time record: then stream time is the largest
 * max_event_time of the restored orders (asw_processor_restore_done()). */
void asw_processor_restore(asw_processor *p, asw_order *state);
void asw_processor_restore_tombstone(asw_processor *p, const char *order_id);
/* Before a restore of about `orders` orders: see asw_store_reserve(). */
void asw_processor_restore_reserve(asw_processor *p, size_t orders);
/* Put an order as a checked body (asw_order_body_check()) told relative to
 * the processor's topic; it stays frozen until an event needs it. */
void asw_processor_restore_frozen(asw_processor *p, const char *order_id, uint8_t restore_flags,
                                  const void *body, size_t len);
asw_order *asw_processor_restore_get(asw_processor *p, const char *order_id);
void asw_processor_restore_stream_time(asw_processor *p, int64_t stream_time);
/* After the last restored record. */
void asw_processor_restore_done(asw_processor *p);
/* Call fn on every order's brief, decoded or frozen (hash order: for work
 * that does not depend on it); fn may change *brief->restore_flags only. */
void asw_processor_foreach_brief(asw_processor *p, void (*fn)(asw_order_brief *, void *),
                                 void *opaque);

/*
 * Drop every order closed at the current stream time (tracked as changes:
 * they become tombstones). Returns how many were dropped. The outputs never
 * depend on when this runs: step 1 of asw_processor_apply() treats a closed
 * order as dropped whether or not a sweep removed it yet.
 */
size_t asw_processor_evict(asw_processor *p);
/* The same spread over calls: each call looks at about 1/rounds of the
 * orders (at least 1,024 slots of the table), going on where the previous
 * call stopped, so that `rounds` calls sweep every order at a bounded cost
 * each. An order that the table's growth moves past the sweep is caught by
 * a later round. Returns how many were dropped. */
size_t asw_processor_evict_step(asw_processor *p, size_t rounds);

/*
 * Changes since the last checkpoint (only with track_changes), for the
 * changelog:
 *  - the orders dropped, each as it was when dropped (its keys must be
 *    tombstoned); an order dropped and then created again appears here and
 *    among the changed ones;
 *  - the orders in state that changed, and which of their entities did.
 * Pointers are valid until the next apply, checkpoint or rollback.
 */
size_t asw_processor_dropped_count(const asw_processor *p);
/* NULL when entry i is not a drop (the list also holds the creations). */
const asw_order *asw_processor_dropped_at(const asw_processor *p, size_t i);
size_t asw_processor_changed_count(const asw_processor *p);
const asw_order *asw_processor_changed_at(const asw_processor *p, size_t i);
bool asw_processor_entity_changed(const asw_processor *p, const asw_order *o, asw_entity_kind kind,
                                  uint32_t i);
/* Call fn for each entity of a changed order that changed (O(changes)). */
void asw_processor_each_change(const asw_processor *p, const asw_order *o, asw_order_change_fn *fn,
                               void *opaque);

/* The changes are committed: forget the prior states. */
void asw_processor_checkpoint(asw_processor *p);
/* The changes are aborted: every changed order and the stream time return
 * to what they were at the last checkpoint. */
void asw_processor_rollback(asw_processor *p);

/* A deep copy of the states and stream time (no pending changes). */
asw_processor *asw_processor_clone(const asw_processor *p);

/* Same orders (asw_order_equal) and the same stream time? For tests. */
bool asw_processor_equal(const asw_processor *a, const asw_processor *b);

#endif /* ASW_PROCESSOR_H */
