/*
 * store.h -- the in-memory states of the orders a worker owns, by order id.
 *
 * A hash table; nothing that reaches an output depends on its iteration
 * order (asw_store_ids() returns the ids sorted; asw_store_foreach() is for
 * work whose result does not depend on it).
 */
#ifndef ASW_STORE_H
#define ASW_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "asw/ledger.h"

typedef struct asw_store asw_store;

/*
 * An order is held decoded (an asw_order) or frozen (asw_order_freeze()
 * bytes, a fraction of the size). Getting an order thaws it; only
 * asw_store_cool() freezes. Which orders are frozen never changes what an
 * order's state is, only the memory it takes.
 */

/* An empty store. Never NULL (OOM aborts). */
asw_store *asw_store_new(void);
/* Destroys every order in the store. asw_store_destroy(NULL) is a no-op. */
void asw_store_destroy(asw_store *s);

/* The order's state, decoded (thawed if it was frozen), or NULL. Owned by
 * the store; valid until it is removed or asw_store_cool() freezes it. */
asw_order *asw_store_get(asw_store *s, const char *order_id);
/* Make room for about `orders` orders at once (a restore knows how many
 * records it will read), so that the table does not grow step by step.
 * Only a hint: the table still grows past it. */
void asw_store_reserve(asw_store *s, size_t orders);
/* Does the store hold the order (decoded or frozen)? Thaws nothing. */
bool asw_store_contains(const asw_store *s, const char *order_id);
/* Is `order` the decoded state the store holds for its id? Thaws nothing. */
bool asw_store_holds(const asw_store *s, const asw_order *order);
/* The order's state, created empty when absent. Owned by the store. */
asw_order *asw_store_get_or_create(asw_store *s, const char *order_id);
/* Put a state in, taking ownership; a state already there for the same
 * order id is destroyed. */
void asw_store_put(asw_store *s, asw_order *order);
/* Put an order in frozen: its body (asw_order_freeze_body(), checked by
 * asw_order_body_check() when it came from outside) is copied. A state
 * already there for the same order id is destroyed. */
void asw_store_put_frozen(asw_store *s, const char *order_id, uint8_t restore_flags,
                          const void *body, size_t len);
/* The topic the frozen form is told relative to (asw_order_freeze()); NULL
 * at first. Every frozen order is thawed to change it. */
void asw_store_set_topic(asw_store *s, const char *topic);
/* Remove and destroy an order's state; no-op when absent. */
void asw_store_remove(asw_store *s, const char *order_id);
/* Remove an order's state and hand it to the caller, decoded (NULL when
 * absent). */
asw_order *asw_store_take(asw_store *s, const char *order_id);

/*
 * Freeze decoded orders until at most `keep` stay decoded: those not got
 * since the clock hand last passed them first (with keep = 0, all of them).
 * An order being journaled (order->journal set: a transaction changed it)
 * is never frozen. Pointers to the frozen orders become invalid. Returns how
 * many were frozen.
 */
size_t asw_store_cool(asw_store *s, size_t keep);
/* How many orders are decoded; the bytes the frozen ones take. */
size_t asw_store_decoded_count(const asw_store *s);
size_t asw_store_frozen_bytes(const asw_store *s);

/* Call fn on every order's brief, decoded or frozen, thawing nothing, in
 * hash-table order: only for work whose result does not depend on the order
 * of the calls. fn must not add, remove, get or cool. */
void asw_store_foreach_brief(asw_store *s, void (*fn)(asw_order_brief *, void *), void *opaque);
/* The same over at most `slots` slots of the table from slot `from` (0
 * when `from` is past the end), for work spread over many calls. Returns
 * the slot to start the next call from, 0 after the last slot. A table
 * that grows or loses orders between calls moves orders between slots, so
 * a round of calls may miss or repeat some: only for work that a later
 * round can catch up on. */
size_t asw_store_foreach_brief_from(asw_store *s, size_t from, size_t slots,
                                    void (*fn)(asw_order_brief *, void *), void *opaque);
/* How many slots the table has. */
size_t asw_store_capacity(const asw_store *s);
size_t asw_store_count(const asw_store *s);

/* The ids of every order, sorted (strcmp). The caller frees the array
 * with free(); the strings belong to the store and stay valid until the
 * next call that gets, adds, removes or cools. *n receives the count. */
const char **asw_store_ids(const asw_store *s, size_t *n);

#endif /* ASW_STORE_H */
