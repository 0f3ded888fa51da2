/*
 * store.h -- the in-memory states of the orders a worker owns, by order id.
 *
 * A hash table; nothing that reaches an output depends on its iteration
 * order (asw_store_ids() returns the ids sorted; asw_store_foreach() is for
 * work whose result does not depend on it).
 */
#ifndef ASW_STORE_H
#define ASW_STORE_H

#include <stddef.h>

#include "asw/ledger.h"

typedef struct asw_store asw_store;

/* An empty store. Never NULL (OOM aborts). */
asw_store *asw_store_new(void);
/* Destroys every order in the store. asw_store_destroy(NULL) is a no-op. */
void asw_store_destroy(asw_store *s);

/* The order's state, or NULL. Owned by the store. */
asw_order *asw_store_get(const asw_store *s, const char *order_id);
/* The order's state, created empty when absent. Owned by the store. */
asw_order *asw_store_get_or_create(asw_store *s, const char *order_id);
/* Put a state in, taking ownership; a state already there for the same
 * order id is destroyed. */
void asw_store_put(asw_store *s, asw_order *order);
/* Remove and destroy an order's state; no-op when absent. */
void asw_store_remove(asw_store *s, const char *order_id);
/* Remove an order's state and hand it to the caller (NULL when absent). */
asw_order *asw_store_take(asw_store *s, const char *order_id);
/* Call fn on every order, in hash-table order: only for work whose result
 * does not depend on the order of the calls. fn must not add or remove. */
void asw_store_foreach(const asw_store *s, void (*fn)(asw_order *, void *), void *opaque);
size_t asw_store_count(const asw_store *s);

/* The ids of every order, sorted (strcmp). The caller frees the array
 * with free(); the strings belong to the orders and stay valid until they
 * are removed. *n receives the count. */
const char **asw_store_ids(const asw_store *s, size_t *n);

#endif /* ASW_STORE_H */
