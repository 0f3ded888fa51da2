/*
 * store.c -- order states by order id: an open-addressing hash table with
 * linear probing and backward-shift deletion (no tombstones).
 *
 * A slot holds a decoded order (asw_order *) or a frozen one: a block
 * holding its asw_order_freeze() bytes, tagged by the pointer's low bit
 * (malloc aligns to 8 or more, so the bit is free). The decoded orders are
 * also listed, in no particular order, for asw_store_cool(): a clock hand
 * walks the list and freezes every order not touched since it last passed
 * (second chance), so a busy order stays decoded and a quiet one does not.
 */
#include "asw/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

typedef struct frozen {
    uint32_t len;
    uint8_t bytes[]; /* asw_order_freeze(); starts with the order id */
} frozen;

struct asw_store {
    void **slots;     /* NULL = empty */
    uint32_t *hashes; /* the low bits of each slot's id hash: a probe
                         compares them before it reads an id */
    size_t cap;       /* a power of two */
    size_t count;
    asw_order **hot; /* the decoded orders */
    size_t n_hot, cap_hot, hand;
    size_t frozen_bytes;
    char *topic; /* the frozen form's topic (asw_order_freeze()) */
    asw_buf scratch;
};

static bool is_frozen(const void *v) {
    return ((uintptr_t)v & 1u) != 0;
}

static frozen *as_frozen(const void *v) {
    return (frozen *)((uintptr_t)v & ~(uintptr_t)1u);
}

static const char *slot_id(const void *v) {
    return is_frozen(v) ? (const char *)as_frozen(v)->bytes : asw_order_id(v);
}

static uint64_t hash_id(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void hot_list(asw_store *s, asw_order *o) {
    if (s->n_hot == s->cap_hot) {
        s->cap_hot = s->cap_hot ? s->cap_hot * 2 : 64;
        s->hot = asw_realloc(s->hot, s->cap_hot * sizeof *s->hot);
    }
    s->hot[s->n_hot++] = o;
    o->store_hot = (uint32_t)s->n_hot;
    o->store_ref = 1;
}

static void hot_unlist(asw_store *s, asw_order *o) {
    if (!o->store_hot)
        return;
    size_t i = o->store_hot - 1;
    asw_order *last = s->hot[--s->n_hot];
    s->hot[i] = last;
    last->store_hot = (uint32_t)i + 1;
    o->store_hot = 0;
}

/* Free what a slot holds. */
static void slot_destroy(asw_store *s, void *v) {
    if (!v)
        return;
    if (is_frozen(v)) {
        s->frozen_bytes -= as_frozen(v)->len;
        free(as_frozen(v));
        return;
    }
    hot_unlist(s, v);
    asw_order_destroy(v);
}

asw_store *asw_store_new(void) {
    asw_store *s = asw_calloc(1, sizeof *s);
    s->cap = 64;
    s->slots = asw_calloc(s->cap, sizeof *s->slots);
    s->hashes = asw_calloc(s->cap, sizeof *s->hashes);
    return s;
}

void asw_store_destroy(asw_store *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        slot_destroy(s, s->slots[i]);
    free(s->slots);
    free(s->hashes);
    free(s->hot);
    free(s->topic);
    asw_buf_free(&s->scratch);
    free(s);
}

/* Index of the slot holding id (of hash h), or of the empty slot where it
 * would go. */
static size_t probe_h(const asw_store *s, const char *id, uint64_t h) {
    size_t mask = s->cap - 1;
    size_t i = h & mask;
    while (s->slots[i] && (s->hashes[i] != (uint32_t)h || strcmp(slot_id(s->slots[i]), id) != 0))
        i = (i + 1) & mask;
    return i;
}

static size_t probe(const asw_store *s, const char *id) {
    return probe_h(s, id, hash_id(id));
}

/* Put v (of hash h) in slot i. */
static void set_slot(asw_store *s, size_t i, void *v, uint64_t h) {
    s->slots[i] = v;
    s->hashes[i] = (uint32_t)h;
}

static void grow(asw_store *s) {
    void **old = s->slots;
    uint32_t *old_h = s->hashes;
    size_t old_cap = s->cap;
    s->cap *= 2;
    s->slots = asw_calloc(s->cap, sizeof *s->slots);
    s->hashes = asw_calloc(s->cap, sizeof *s->hashes);
    /* The new home of an entry needs bits of its hash above the 32 kept:
     * ids are hashed again only past 2^32 slots, never in practice. */
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        uint64_t h = s->cap > UINT32_MAX ? hash_id(slot_id(old[i])) : old_h[i];
        size_t j = h & (s->cap - 1);
        while (s->slots[j])
            j = (j + 1) & (s->cap - 1);
        set_slot(s, j, old[i], h);
    }
    free(old);
    free(old_h);
}

/* The decoded order in slot i, thawed when frozen. */
static asw_order *thaw_slot(asw_store *s, size_t i) {
    void *v = s->slots[i];
    if (!is_frozen(v))
        return v;
    frozen *f = as_frozen(v);
    asw_order *o = asw_order_thaw(f->bytes, f->len, s->topic);
    s->frozen_bytes -= f->len;
    free(f);
    s->slots[i] = o;
    hot_list(s, o);
    return o;
}

asw_order *asw_store_get(asw_store *s, const char *order_id) {
    size_t i = probe(s, order_id);
    if (!s->slots[i])
        return NULL;
    asw_order *o = thaw_slot(s, i);
    o->store_ref = 1;
    return o;
}

bool asw_store_contains(const asw_store *s, const char *order_id) {
    return s->slots[probe(s, order_id)] != NULL;
}

void asw_store_reserve(asw_store *s, size_t orders) {
    /* Grow to hold `orders` under the 3/4 load, a slot array of at most
     * 2^22 (64 MB with the hashes) for a hint that is only a guess. */
    size_t want = s->cap;
    while (want < (size_t)1 << 22 && want * 3 / 4 < orders)
        want *= 2;
    while (s->cap < want)
        grow(s);
}

bool asw_store_holds(const asw_store *s, const asw_order *order) {
    return s->slots[probe(s, asw_order_id(order))] == order;
}

/* Put v (an order or a tagged frozen block) under id, destroying what the
 * id held. */
static void put_slot(asw_store *s, const char *id, void *v) {
    uint64_t h = hash_id(id);
    size_t i = probe_h(s, id, h);
    bool added = !s->slots[i];
    if (!added)
        slot_destroy(s, s->slots[i]);
    set_slot(s, i, v, h);
    if (added && ++s->count * 4 > s->cap * 3) /* keep the load under 3/4 */
        grow(s);
}

void asw_store_put(asw_store *s, asw_order *order) {
    if (!order->store_hot)
        hot_list(s, order);
    put_slot(s, asw_order_id(order), order);
}

asw_order *asw_store_get_or_create(asw_store *s, const char *order_id) {
    asw_order *o = asw_store_get(s, order_id);
    if (!o) {
        o = asw_order_new(order_id);
        asw_store_put(s, o);
    }
    return o;
}

/* Empty slot i, keeping every remaining entry reachable from its home
 * slot; returns what it held. */
static void *remove_slot(asw_store *s, size_t i) {
    size_t mask = s->cap - 1;
    void *taken = s->slots[i];
    s->slots[i] = NULL;
    s->count--;
    for (size_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        size_t home =
            s->cap > UINT32_MAX ? hash_id(slot_id(s->slots[j])) & mask : s->hashes[j] & mask;
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            set_slot(s, i, s->slots[j], s->hashes[j]);
            s->slots[j] = NULL;
            i = j;
        }
    }
    return taken;
}

asw_order *asw_store_take(asw_store *s, const char *order_id) {
    size_t i = probe(s, order_id);
    if (!s->slots[i])
        return NULL;
    asw_order *o = thaw_slot(s, i);
    hot_unlist(s, o);
    remove_slot(s, i);
    return o;
}

void asw_store_remove(asw_store *s, const char *order_id) {
    size_t i = probe(s, order_id);
    if (s->slots[i])
        slot_destroy(s, remove_slot(s, i));
}

/* Freeze the decoded order at position k of the hot list. */
static void freeze_hot(asw_store *s, size_t k) {
    asw_order *o = s->hot[k];
    size_t i = probe(s, asw_order_id(o));
    asw_order_freeze(o, s->topic, &s->scratch);
    frozen *f = asw_malloc(sizeof *f + s->scratch.len);
    f->len = (uint32_t)s->scratch.len;
    memcpy(f->bytes, s->scratch.data, s->scratch.len);
    s->frozen_bytes += f->len;
    hot_unlist(s, o);
    asw_order_destroy(o);
    s->slots[i] = (void *)((uintptr_t)f | 1u);
}

void asw_store_set_topic(asw_store *s, const char *topic) {
    /* Thaw with the old topic; they freeze with the new. */
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] && is_frozen(s->slots[i]))
            thaw_slot(s, i);
    free(s->topic);
    s->topic = topic ? asw_strdup(topic) : NULL;
}

void asw_store_put_frozen(asw_store *s, const char *order_id, uint8_t restore_flags,
                          const void *body, size_t len) {
    size_t idlen = strlen(order_id);
    frozen *f = asw_malloc(sizeof *f + idlen + 2 + len);
    f->len = (uint32_t)(idlen + 2 + len);
    memcpy(f->bytes, order_id, idlen + 1);
    f->bytes[idlen + 1] = restore_flags;
    memcpy(f->bytes + idlen + 2, body, len);
    s->frozen_bytes += f->len;
    put_slot(s, order_id, (void *)((uintptr_t)f | 1u));
}

size_t asw_store_cool(asw_store *s, size_t keep) {
    size_t frozen_now = 0;
    /* Each step clears a mark and moves on, or freezes: two rounds are
     * enough to freeze every order that may be. */
    for (size_t steps = 2 * s->n_hot + 1; s->n_hot > keep && steps > 0; steps--) {
        if (s->hand >= s->n_hot)
            s->hand = 0;
        asw_order *o = s->hot[s->hand];
        if (o->journal) {
            s->hand++; /* in a transaction: it must stay decoded */
        } else if (o->store_ref && keep > 0) {
            o->store_ref = 0;
            s->hand++;
        } else {
            freeze_hot(s, s->hand); /* the list's last order moves here */
            frozen_now++;
        }
    }
    return frozen_now;
}

size_t asw_store_decoded_count(const asw_store *s) {
    return s->n_hot;
}

size_t asw_store_frozen_bytes(const asw_store *s) {
    return s->frozen_bytes;
}

void asw_store_foreach_brief(asw_store *s, void (*fn)(asw_order_brief *, void *), void *opaque) {
    asw_store_foreach_brief_from(s, 0, s->cap, fn, opaque);
}

size_t asw_store_foreach_brief_from(asw_store *s, size_t from, size_t slots,
                                    void (*fn)(asw_order_brief *, void *), void *opaque) {
    if (from >= s->cap)
        from = 0;
    size_t end = slots < s->cap - from ? from + slots : s->cap;
    for (size_t i = from; i < end; i++) {
        void *v = s->slots[i];
        if (!v)
            continue;
        asw_order_brief b;
        if (is_frozen(v))
            asw_order_frozen_brief(as_frozen(v)->bytes, as_frozen(v)->len, &b);
        else
            asw_order_brief_of(v, &b);
        fn(&b, opaque);
    }
    return end < s->cap ? end : 0;
}

size_t asw_store_capacity(const asw_store *s) {
    return s->cap;
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
            ids[k++] = slot_id(s->slots[i]);
    qsort(ids, k, sizeof *ids, cmp_str);
    *n = k;
    return ids;
}
