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
#include "asw/ruleset.h"

typedef struct asw_processor asw_processor;

/*
 * A processor with no orders. `rules` is borrowed (must outlive it).
 * `retention_ms`: an order is dropped once stream time is more than this
 * past both its last event and its after-sale deadline (SPEC 7, bounded
 * state). `track_changes`: remember prior states for rollback and the
 * changed orders for the changelog (the worker); the replay passes false.
 * Never NULL (OOM aborts).
 */
asw_processor *asw_processor_new(const asw_ruleset *rules, int64_t retention_ms,
                                 bool track_changes);
/* asw_processor_destroy(NULL) is a no-op. */
void asw_processor_destroy(asw_processor *p);

/*
 * Apply one event to its order (SPEC section 4). The order is dropped first
 * when it has expired by stream time. Stream time advances with every event
 * that changes a state. The result borrows from the order and the event as
 * asw_order_apply() says.
 */
void asw_processor_apply(asw_processor *p, const asw_event *ev, const asw_source *src,
                         asw_result *out);

/* The largest event_time of an event that changed a state (0 before any). */
int64_t asw_processor_stream_time(const asw_processor *p);
size_t asw_processor_order_count(const asw_processor *p);
/* The state of an order, or NULL. Owned by the processor. */
const asw_order *asw_processor_get(const asw_processor *p, const char *order_id);

/* Rebuild from the changelog: put a state (ownership taken; replaces any
 * state of the same order), or remove one (a tombstone). Not tracked as
 * changes. */
void asw_processor_restore(asw_processor *p, asw_order *state);
void asw_processor_restore_tombstone(asw_processor *p, const char *order_id);

/*
 * Drop every order expired at the current stream time (tracked as changes:
 * they become tombstones). Returns how many were dropped.
 */
size_t asw_processor_evict(asw_processor *p);

/* Changes since the last checkpoint, in the order they first happened.
 * asw_processor_changed_at() returns the order's current state, or NULL when
 * it was dropped (write a tombstone); *order_id is valid until the next
 * checkpoint or rollback. Only with track_changes. */
size_t asw_processor_changed_count(const asw_processor *p);
const asw_order *asw_processor_changed_at(const asw_processor *p, size_t i, const char **order_id);

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
