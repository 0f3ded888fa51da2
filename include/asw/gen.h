/*
 * gen.h -- a deterministic generator of after-sale event streams.
 *
 * Seeded (no clock, no global random state): the same seed and size always
 * give the same events. Orders are interleaved, and each order's events
 * follow a plausible life (applications, card checks, withdrawals, closes,
 * successes, external refunds, claw-backs) salted with what a real stream
 * also carries: redeliveries, invalid requests, lifecycle events of unseen
 * applications, expired deadlines, unshipped and cancelled orders, virtual
 * and cross-border goods, shops outside a rollout. Used by the property
 * test, the benchmark and the sample data, and later by the demo.
 */
#ifndef ASW_GEN_H
#define ASW_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "asw/model.h"

typedef struct asw_gen asw_gen;

/* A generator of the events of `orders` orders, at most `active` of them
 * interleaved at a time (1..64). Never NULL (OOM aborts). */
asw_gen *asw_gen_new(uint64_t seed, int32_t orders, int32_t active);
/* Events are 1..max_gap_ms apart in event time (default 600000, ten
 * minutes); a smaller gap packs more orders into a span of days. Call
 * before the first asw_gen_next(). */
void asw_gen_set_max_gap(asw_gen *g, int64_t max_gap_ms);
/* Complete lives: every order has an after-sale deadline and starts with an
 * application (the only event that carries the deadline), and one whose
 * steps are over ends its open applications before it leaves the stream
 * (so that, as in a real platform, orders close). Call before the first
 * asw_gen_next(). */
void asw_gen_set_complete(asw_gen *g, bool complete);
/* asw_gen_destroy(NULL) is a no-op. */
void asw_gen_destroy(asw_gen *g);

/* Write the next event into *ev (the caller owns it: asw_event_clear()).
 * Returns false, writing nothing, when every order is done. */
bool asw_gen_next(asw_gen *g, asw_event *ev);

#endif /* ASW_GEN_H */
