/*
 * store.c -- order states by order id: an open-addressing hash table with
 * linear probing and backward-shift deletion (no tombstones).
 */
#include "asw/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

struct asw_store {
    asw_order **slots; /* NULL = empty */
    size_t cap;        /* a power of two */
    size_t count;
};

static uint64_t hash_id(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

asw_store *asw_store_new(void) {
    asw_store *s = asw_calloc(1, sizeof *s);
    s->cap = 64;
    s->slots = asw_calloc(s->cap, sizeof *s->slots);
    return s;
}

void asw_store_destroy(asw_store *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        asw_order_destroy(s->slots[i]);
    free(s->slots);
    free(s);
}

/* Index of the slot holding id, or of the empty slot where it would go. */
static size_t probe(const asw_store *s, const char *id) {
    size_t mask = s->cap - 1;
    size_t i = hash_id(id) & mask;
    while (s->slots[i] && strcmp(asw_order_id(s->slots[i]), id) != 0)
        i = (i + 1) & mask;
    return i;
}

static void grow(asw_store *s) {
    asw_order **old = s->slots;
    size_t old_cap = s->cap;
    s->cap *= 2;
    s->slots = asw_calloc(s->cap, sizeof *s->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            s->slots[probe(s, asw_order_id(old[i]))] = old[i];
    free(old);
}

asw_order *asw_store_get(const asw_store *s, const char *order_id) {
    return s->slots[probe(s, order_id)];
}

void asw_store_put(asw_store *s, asw_order *order) {
    size_t i = probe(s, asw_order_id(order));
    if (s->slots[i]) {
        asw_order_destroy(s->slots[i]);
        s->slots[i] = order;
        return;
    }
    s->slots[i] = order;
    s->count++;
    if (s->count * 4 > s->cap * 3) /* keep the load under 3/4 */
        grow(s);
}

asw_order *asw_store_get_or_create(asw_store *s, const char *order_id) {
    asw_order *o = asw_store_get(s, order_id);
    if (!o) {
        o = asw_order_new(order_id);
        asw_store_put(s, o);
    }
    return o;
}

asw_order *asw_store_take(asw_store *s, const char *order_id) {
    size_t mask = s->cap - 1;
    size_t i = probe(s, order_id);
    asw_order *taken = s->slots[i];
    if (!taken)
        return NULL;
    s->slots[i] = NULL;
    s->count--;
    /* Shift back the entries of the probe run that follows, so that every
     * remaining entry stays reachable from its home slot. */
    for (size_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        size_t home = hash_id(asw_order_id(s->slots[j])) & mask;
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            s->slots[i] = s->slots[j];
            s->slots[j] = NULL;
            i = j;
        }
    }
    return taken;
}

void asw_store_remove(asw_store *s, const char *order_id) {
    asw_order_destroy(asw_store_take(s, order_id));
}

void asw_store_foreach(const asw_store *s, void (*fn)(asw_order *, void *), void *opaque) {
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            fn(s->slots[i], opaque);
}

size_t asw_store_count(const asw_store *s) {
    return s->count;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **asw_store_ids(const asw_store *s, size_t *n) {
    const char **ids = asw_malloc((s->count ? s->count : 1) * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            ids[k++] = asw_order_id(s->slots[i]);
    qsort(ids, k, sizeof *ids, cmp_str);
    *n = k;
    return ids;
}
