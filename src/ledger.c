/*
 * ledger.c -- the pure core: the rules of SPEC section 4 applied to one
 * order's state (quota and refund ledger), and the state's storage.
 *
 * asw_order_apply() is the only entry point that changes a state as a rule
 * says. It reads no clock, does no I/O and allocates only to grow the
 * order's own storage. The reject reasons are evaluated in decide(), one
 * block per reason, in the SPEC's order. Choices the SPEC leaves open are
 * listed in docs/rules.md.
 *
 * Every lookup an event makes is a hash lookup (or a scan of at most
 * INDEX_MIN entities), and every change goes through a `will_change_*`
 * hook that tells the journal first, so per-event work never grows with an
 * order's history.
 */
#include "asw/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/varint.h"

/* ---- the string pool ---- */

/*
 * Chunks never move, so a string's address stays valid. The first
 * POOL_SMALL chunks hold POOL_CHUNK0 bytes each (most orders need a few:
 * little slack), then each chunk doubles (a busy order's pool grows
 * geometrically). An offset finds its chunk with arithmetic and one bit
 * scan. A string never straddles two chunks.
 */
#define POOL_CHUNK0    64u
#define POOL_SMALL     4u
#define POOL_SMALL_END (POOL_CHUNK0 * POOL_SMALL) /* where the doubling chunks start */

static uint32_t chunk_of(uint32_t off) {
    if (off < POOL_SMALL_END)
        return off / POOL_CHUNK0;
    /* chunk POOL_SMALL + k starts at 2 * POOL_CHUNK0 * 2^k + 2 * POOL_CHUNK0 */
    uint32_t q = (off - 2 * POOL_CHUNK0) / (2 * POOL_CHUNK0);
    return POOL_SMALL + 31u - (uint32_t)__builtin_clz(q);
}

static uint32_t chunk_start(uint32_t i) {
    if (i <= POOL_SMALL)
        return POOL_CHUNK0 * i;
    return 2 * POOL_CHUNK0 * (1u << (i - POOL_SMALL)) + 2 * POOL_CHUNK0;
}

static uint32_t chunk_size(uint32_t i) {
    return i < POOL_SMALL ? POOL_CHUNK0 : (2 * POOL_CHUNK0) << (i - POOL_SMALL);
}

static char *pool_at(const asw_pool *p, uint32_t off) {
    uint32_t c = chunk_of(off);
    return p->chunks[c] + (off - chunk_start(c));
}

static void pool_ensure_chunk(asw_pool *p, uint32_t c) {
    if (c < p->n_chunks)
        return;
    p->chunks = asw_realloc(p->chunks, (c + 1) * sizeof *p->chunks);
    for (uint32_t i = p->n_chunks; i <= c; i++)
        p->chunks[i] = asw_malloc(chunk_size(i));
    p->n_chunks = c + 1;
}

/* Room for n bytes in one chunk: returns the offset (never 0). */
static uint32_t pool_alloc(asw_pool *p, uint32_t n) {
    if (p->len == 0) {
        pool_ensure_chunk(p, 0);
        p->chunks[0][0] = '\0'; /* offset 0 is "" */
        p->len = 1;
    }
    for (;;) {
        uint32_t c = chunk_of(p->len);
        uint32_t end = chunk_start(c) + chunk_size(c);
        if (end - p->len >= n) {
            pool_ensure_chunk(p, c);
            uint32_t off = p->len;
            p->len += n;
            return off;
        }
        p->len = end; /* too little room left in this chunk: the next one */
    }
}

static asw_str pool_add(asw_pool *p, const char *s) {
    size_t n = strlen(s) + 1;
    uint32_t off = pool_alloc(p, (uint32_t)n);
    memcpy(pool_at(p, off), s, n);
    return off;
}

static void pool_free(asw_pool *p) {
    for (uint32_t i = 0; i < p->n_chunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    memset(p, 0, sizeof *p);
}

const char *asw_order_str(const asw_order *o, asw_str s) {
    return s ? pool_at(&o->pool, s) : "";
}

const char *asw_order_id(const asw_order *o) {
    return asw_order_str(o, o->order_id);
}

#define STR(o, s) asw_order_str((o), (s))

/* ---- the entity index ---- */

#define INDEX_MIN     16 /* entities an order holds before it gets an index */
#define SLOT(kind, i) (((uint32_t)(kind) << 28) | ((uint32_t)(i) + 1))
#define SLOT_KIND(v)  ((v) >> 28)
#define SLOT_INDEX(v) (((v)&0x0fffffffu) - 1)

static uint64_t hash_id(asw_entity_kind kind, const char *s) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

uint32_t asw_order_entity_count(const asw_order *o, asw_entity_kind kind) {
    switch (kind) {
    case ASW_ENT_SKU:
        return o->n_skus;
    case ASW_ENT_APP:
        return o->n_apps;
    case ASW_ENT_EXTERNAL:
        return o->n_externals;
    default:
        return o->n_seen;
    }
}

static asw_str entity_id(const asw_order *o, asw_entity_kind kind, uint32_t i) {
    switch (kind) {
    case ASW_ENT_SKU:
        return o->skus[i].sku_order_id;
    case ASW_ENT_APP:
        return o->apps[i].aftersale_id;
    case ASW_ENT_EXTERNAL:
        return o->externals[i].refund_id;
    default:
        return o->seen[i];
    }
}

const char *asw_order_entity_id(const asw_order *o, asw_entity_kind kind, uint32_t i) {
    return STR(o, entity_id(o, kind, i));
}

static uint32_t total_entities(const asw_order *o) {
    return o->n_skus + o->n_apps + o->n_externals + o->n_seen;
}

static void index_insert(asw_order *o, asw_entity_kind kind, uint32_t i) {
    uint32_t mask = o->index_cap - 1;
    uint32_t h = (uint32_t)hash_id(kind, asw_order_entity_id(o, kind, i)) & mask;
    while (o->index[h])
        h = (h + 1) & mask;
    o->index[h] = SLOT(kind, i);
}

/* Build the index from the arrays (or drop it when the order is small). */
static void index_rebuild(asw_order *o) {
    free(o->index);
    o->index = NULL;
    o->index_cap = 0;
    uint32_t n = total_entities(o);
    if (n <= INDEX_MIN)
        return;
    uint32_t cap = 32;
    while (cap < n * 2)
        cap *= 2;
    o->index = asw_calloc(cap, sizeof *o->index);
    o->index_cap = cap;
    for (int k = 0; k < ASW_ENT__COUNT; k++)
        for (uint32_t i = 0; i < asw_order_entity_count(o, (asw_entity_kind)k); i++)
            index_insert(o, (asw_entity_kind)k, i);
}

static void will_change(asw_order *o);

/* An entity was appended: keep the index right, and split the order for
 * good once it holds too many for one whole record. */
static void index_added(asw_order *o, asw_entity_kind kind, uint32_t i) {
    uint32_t n = total_entities(o);
    if (n > ASW_WHOLE_ENTITIES && !o->split) {
        will_change(o);
        o->split = true;
    }
    /* An index stays once built, even when a rollback took the order back
     * to INDEX_MIN entities or fewer: then every entity must be in it. */
    if (n <= INDEX_MIN && !o->index)
        return;
    if (!o->index || n * 2 > o->index_cap) {
        index_rebuild(o);
        return;
    }
    index_insert(o, kind, i);
}

/* Take entity i of kind out of the index (backward-shift deletion, so the
 * probe runs stay whole); the ids of every indexed entity must still be
 * readable. */
static void index_remove(asw_order *o, asw_entity_kind kind, uint32_t i) {
    if (!o->index)
        return;
    uint32_t mask = o->index_cap - 1, want = SLOT(kind, i);
    uint32_t h = (uint32_t)hash_id(kind, asw_order_entity_id(o, kind, i)) & mask;
    while (o->index[h] && o->index[h] != want)
        h = (h + 1) & mask;
    if (!o->index[h])
        return;
    o->index[h] = 0;
    for (uint32_t j = (h + 1) & mask; o->index[j]; j = (j + 1) & mask) {
        uint32_t v = o->index[j];
        asw_entity_kind k = (asw_entity_kind)SLOT_KIND(v);
        uint32_t home = (uint32_t)hash_id(k, asw_order_entity_id(o, k, SLOT_INDEX(v))) & mask;
        bool movable = (j > h) ? (home <= h || home > j) : (home <= h && home > j);
        if (movable) {
            o->index[h] = v;
            o->index[j] = 0;
            h = j;
        }
    }
}

int64_t asw_order_find_entity(const asw_order *o, asw_entity_kind kind, const char *id) {
    if (!o->index) {
        uint32_t n = asw_order_entity_count(o, kind);
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(asw_order_entity_id(o, kind, i), id) == 0)
                return i;
        return -1;
    }
    uint32_t mask = o->index_cap - 1;
    for (uint32_t h = (uint32_t)hash_id(kind, id) & mask;; h = (h + 1) & mask) {
        uint32_t v = o->index[h];
        if (!v)
            return -1;
        if (SLOT_KIND(v) == (uint32_t)kind &&
            strcmp(asw_order_entity_id(o, kind, SLOT_INDEX(v)), id) == 0)
            return SLOT_INDEX(v);
    }
}

/* ---- the journal ---- */

typedef struct jorder {
    asw_order *o;
    /* The header and the lengths as they were at begin. */
    asw_str shop_id, last_rs, last_topic;
    int64_t paid, refunded, reserved, max_event_time, deadline;
    uint32_t n_counted, n_open, n_ledger_skus;
    bool prior_success, has_deadline, split, changed;
    bool write_all; /* every entity counts as changed (see ASW_ORDER_WRITE_ALL) */
    uint32_t n_skus, n_apps, n_externals, n_seen, pool_len;
    uint32_t first_image; /* index + 1 of its newest image, 0 = none */
} jorder;

typedef struct jimage {
    uint32_t slot; /* which jorder */
    uint32_t next; /* index + 1 of the order's previous image, 0 = none */
    uint32_t index;
    asw_entity_kind kind;
    union {
        asw_sku_state sku;
        asw_app app;
    } u;
} jimage;

struct asw_order_journal {
    uint32_t txn; /* marks entities imaged in this transaction */
    jorder *orders;
    size_t n_orders, cap_orders;
    jimage *images;
    size_t n_images, cap_images;
};

/* Decisions remembered per order reuse the ruleset version and topic strings
 * of the order's previous decision; kept beside the order, not state. */
typedef struct order_extra {
    asw_str last_rs, last_topic;
} order_extra;

asw_order_journal *asw_order_journal_new(void) {
    asw_order_journal *j = asw_calloc(1, sizeof *j);
    j->txn = 1;
    return j;
}

void asw_order_journal_destroy(asw_order_journal *j) {
    if (!j)
        return;
    asw_order_journal_reset(j);
    free(j->orders);
    free(j->images);
    free(j);
}

static jorder *jorder_of(const asw_order *o) {
    return o->journal ? &o->journal->orders[o->journal_slot] : NULL;
}

/* Remembered strings of the previous decision (see order_extra). */
static asw_str *last_rs(asw_order *o);
static asw_str *last_topic(asw_order *o);

void asw_order_journal_begin(asw_order_journal *j, asw_order *o) {
    if (o->journal == j)
        return;
    if (j->n_orders == j->cap_orders) {
        j->cap_orders = j->cap_orders ? j->cap_orders * 2 : 64;
        j->orders = asw_realloc(j->orders, j->cap_orders * sizeof *j->orders);
    }
    jorder *r = &j->orders[j->n_orders];
    *r = (jorder){.o = o,
                  .shop_id = o->shop_id,
                  .last_rs = *last_rs(o),
                  .last_topic = *last_topic(o),
                  .paid = o->paid,
                  .refunded = o->refunded,
                  .reserved = o->reserved,
                  .max_event_time = o->max_event_time,
                  .deadline = o->deadline,
                  .n_counted = o->n_counted,
                  .n_open = o->n_open,
                  .n_ledger_skus = o->n_ledger_skus,
                  .prior_success = o->prior_success,
                  .has_deadline = o->has_deadline,
                  .split = o->split,
                  .n_skus = o->n_skus,
                  .n_apps = o->n_apps,
                  .n_externals = o->n_externals,
                  .n_seen = o->n_seen,
                  .pool_len = o->pool.len};
    r->write_all = (o->restore_flags & ASW_ORDER_WRITE_ALL) != 0;
    o->restore_flags &= (uint8_t)~ASW_ORDER_WRITE_ALL;
    o->journal = j;
    o->journal_slot = (uint32_t)j->n_orders++;
}

size_t asw_order_journal_count(const asw_order_journal *j) {
    return j->n_orders;
}

asw_order *asw_order_journal_at(const asw_order_journal *j, size_t i) {
    return j->orders[i].o;
}

bool asw_order_journal_order_changed(const asw_order_journal *j, const asw_order *o) {
    return o->journal == j && j->orders[o->journal_slot].changed;
}

bool asw_order_journal_entity_changed(const asw_order_journal *j, const asw_order *o,
                                      asw_entity_kind kind, uint32_t i) {
    if (o->journal != j)
        return false;
    const jorder *r = &j->orders[o->journal_slot];
    switch (kind) {
    case ASW_ENT_SKU:
        return i >= r->n_skus || o->skus[i].txn_mark == j->txn;
    case ASW_ENT_APP:
        return i >= r->n_apps || o->apps[i].txn_mark == j->txn;
    case ASW_ENT_EXTERNAL:
        return i >= r->n_externals;
    default:
        return i >= r->n_seen;
    }
}

static jimage *new_image(asw_order_journal *j, const asw_order *o, asw_entity_kind kind,
                         uint32_t i) {
    if (j->n_images == j->cap_images) {
        j->cap_images = j->cap_images ? j->cap_images * 2 : 64;
        j->images = asw_realloc(j->images, j->cap_images * sizeof *j->images);
    }
    jimage *im = &j->images[j->n_images++];
    jorder *r = &j->orders[o->journal_slot];
    im->next = r->first_image;
    r->first_image = (uint32_t)j->n_images;
    im->slot = o->journal_slot;
    im->index = i;
    im->kind = kind;
    return im;
}

/* Mark the order changed; every change starts here. */
static void will_change(asw_order *o) {
    jorder *r = jorder_of(o);
    if (r)
        r->changed = true;
}

static asw_sku_state *will_change_sku(asw_order *o, asw_sku_state *s) {
    will_change(o);
    asw_order_journal *j = o->journal;
    uint32_t i = (uint32_t)(s - o->skus);
    if (j && i < j->orders[o->journal_slot].n_skus && s->txn_mark != j->txn) {
        s->txn_mark = j->txn;
        new_image(j, o, ASW_ENT_SKU, i)->u.sku = *s;
    }
    return s;
}

static asw_app *will_change_app(asw_order *o, asw_app *a) {
    will_change(o);
    asw_order_journal *j = o->journal;
    uint32_t i = (uint32_t)(a - o->apps);
    if (j && i < j->orders[o->journal_slot].n_apps && a->txn_mark != j->txn) {
        a->txn_mark = j->txn;
        new_image(j, o, ASW_ENT_APP, i)->u.app = *a;
    }
    return a;
}

void asw_order_journal_each_change(const asw_order_journal *j, const asw_order *o,
                                   asw_order_change_fn *fn, void *opaque) {
    if (o->journal != j)
        return;
    const jorder *r = &j->orders[o->journal_slot];
    /* Every entity: the order was read from a whole state of an earlier
     * version, or it was split in this transaction (its entities were in
     * its whole record until now). */
    bool all = (r->write_all || (o->split && !r->split)) && r->changed;
    if (!all)
        for (uint32_t k = r->first_image; k; k = j->images[k - 1].next) {
            const jimage *im = &j->images[k - 1];
            fn(opaque, im->kind, im->index, &im->u);
        }
    for (uint32_t i = all ? 0 : r->n_skus; i < o->n_skus; i++)
        fn(opaque, ASW_ENT_SKU, i, NULL);
    for (uint32_t i = all ? 0 : r->n_apps; i < o->n_apps; i++)
        fn(opaque, ASW_ENT_APP, i, NULL);
    for (uint32_t i = all ? 0 : r->n_externals; i < o->n_externals; i++)
        fn(opaque, ASW_ENT_EXTERNAL, i, NULL);
    for (uint32_t i = all ? 0 : r->n_seen; i < o->n_seen; i++)
        fn(opaque, ASW_ENT_SEEN, i, NULL);
}

void asw_order_journal_rollback(asw_order_journal *j) {
    for (size_t k = j->n_images; k-- > 0;) {
        jimage *im = &j->images[k];
        asw_order *o = j->orders[im->slot].o;
        if (!o)
            continue; /* destroyed since */
        if (im->kind == ASW_ENT_SKU)
            o->skus[im->index] = im->u.sku;
        else
            o->apps[im->index] = im->u.app;
    }
    for (size_t k = j->n_orders; k-- > 0;) {
        jorder *r = &j->orders[k];
        asw_order *o = r->o;
        if (!o)
            continue;
        /* The entities appended in the transaction leave the index, newest
         * first, while their ids are still in the pool: O(what changed). */
        uint32_t kept[ASW_ENT__COUNT] = {r->n_skus, r->n_apps, r->n_externals, r->n_seen};
        for (int kind = 0; kind < ASW_ENT__COUNT; kind++)
            for (uint32_t i = asw_order_entity_count(o, (asw_entity_kind)kind); i-- > kept[kind];)
                index_remove(o, (asw_entity_kind)kind, i);
        o->n_skus = r->n_skus;
        o->n_apps = r->n_apps;
        o->n_externals = r->n_externals;
        o->n_seen = r->n_seen;
        o->pool.len = r->pool_len;
        o->shop_id = r->shop_id;
        *last_rs(o) = r->last_rs;
        *last_topic(o) = r->last_topic;
        o->paid = r->paid;
        o->refunded = r->refunded;
        o->reserved = r->reserved;
        o->max_event_time = r->max_event_time;
        o->deadline = r->deadline;
        o->n_counted = r->n_counted;
        o->n_open = r->n_open;
        o->n_ledger_skus = r->n_ledger_skus;
        o->prior_success = r->prior_success;
        o->has_deadline = r->has_deadline;
        o->split = r->split;
        if (r->write_all)
            o->restore_flags |= ASW_ORDER_WRITE_ALL;
    }
}

void asw_order_journal_reset(asw_order_journal *j) {
    for (size_t k = 0; k < j->n_orders; k++)
        if (j->orders[k].o)
            j->orders[k].o->journal = NULL;
    j->n_orders = 0;
    j->n_images = 0;
    j->txn++;
}

void asw_order_journal_forget(asw_order_journal *j, asw_order *o) {
    if (o->journal != j)
        return;
    j->orders[o->journal_slot].o = NULL;
    o->journal = NULL;
}

/* ---- lifetime ---- */

/* order_extra lives right after the order in the same allocation. */
typedef struct order_block {
    asw_order o;
    order_extra x;
} order_block;

static asw_str *last_rs(asw_order *o) {
    return &((order_block *)o)->x.last_rs;
}

static asw_str *last_topic(asw_order *o) {
    return &((order_block *)o)->x.last_topic;
}

asw_order *asw_order_new(const char *order_id) {
    order_block *b = asw_calloc(1, sizeof *b);
    b->o.order_id = pool_add(&b->o.pool, order_id ? order_id : "");
    return &b->o;
}

void asw_order_destroy(asw_order *o) {
    if (!o)
        return;
    if (o->journal)
        asw_order_journal_forget(o->journal, o);
    pool_free(&o->pool);
    free(o->skus);
    free(o->apps);
    free(o->externals);
    free(o->seen);
    free(o->index);
    free((order_block *)o);
}

/* ---- growing the arrays ---- */

#define GROW(o, arr, n, cap)                                                                       \
    do {                                                                                           \
        if ((o)->n == (o)->cap) {                                                                  \
            (o)->cap = (o)->cap ? (o)->cap * 2 : 2;                                                \
            (o)->arr = asw_realloc((o)->arr, (o)->cap * sizeof *(o)->arr);                         \
        }                                                                                          \
    } while (0)

static asw_sku_state *find_sku(const asw_order *o, const char *id) {
    int64_t i = asw_order_find_entity(o, ASW_ENT_SKU, id);
    return i < 0 ? NULL : &o->skus[i];
}

/* Any known application, counted or decided. */
static asw_app *find_any_app(const asw_order *o, const char *id) {
    int64_t i = asw_order_find_entity(o, ASW_ENT_APP, id);
    return i < 0 ? NULL : &o->apps[i];
}

static asw_app *find_app(const asw_order *o, const char *id) {
    asw_app *a = find_any_app(o, id);
    return a && a->counted ? a : NULL;
}

static const asw_external *find_external(const asw_order *o, const char *id) {
    int64_t i = asw_order_find_entity(o, ASW_ENT_EXTERNAL, id);
    return i < 0 ? NULL : &o->externals[i];
}

static bool event_seen(const asw_order *o, const char *event_id) {
    return asw_order_find_entity(o, ASW_ENT_SEEN, event_id) >= 0;
}

/* The sub-order's ledger, created empty (paid 0) on first use. */
static asw_sku_state *get_sku(asw_order *o, const char *id) {
    asw_sku_state *s = find_sku(o, id);
    if (s)
        return s;
    will_change(o);
    GROW(o, skus, n_skus, cap_skus);
    s = &o->skus[o->n_skus];
    memset(s, 0, sizeof *s);
    s->sku_order_id = pool_add(&o->pool, id);
    if (o->n_ledger_skus < ASW_LEDGER_SKUS) {
        s->in_ledger = 1;
        o->n_ledger_skus++;
    }
    o->n_skus++;
    index_added(o, ASW_ENT_SKU, o->n_skus - 1);
    return s;
}

/* A new application entity (neither counted nor decided yet). */
static asw_app *new_app(asw_order *o, const char *aftersale_id) {
    will_change(o);
    GROW(o, apps, n_apps, cap_apps);
    asw_app *a = &o->apps[o->n_apps];
    memset(a, 0, sizeof *a);
    a->aftersale_id = pool_add(&o->pool, aftersale_id);
    o->n_apps++;
    index_added(o, ASW_ENT_APP, o->n_apps - 1);
    return a;
}

static asw_app *get_any_app(asw_order *o, const char *aftersale_id) {
    asw_app *a = find_any_app(o, aftersale_id);
    return a ? will_change_app(o, a) : new_app(o, aftersale_id);
}

static void remember_event(asw_order *o, const char *event_id) {
    if (event_id[0] == '\0' || event_seen(o, event_id))
        return;
    will_change(o);
    GROW(o, seen, n_seen, cap_seen);
    o->seen[o->n_seen++] = pool_add(&o->pool, event_id);
    index_added(o, ASW_ENT_SEEN, o->n_seen - 1);
}

/* A pool string equal to s: `hint` when it already is, else a new one. */
static asw_str reuse_or_add(asw_order *o, asw_str hint, const char *s) {
    if (hint && strcmp(STR(o, hint), s) == 0)
        return hint;
    return pool_add(&o->pool, s);
}

/* The sub-order id's string: the ledger's when the order has one. */
static asw_str sku_str(asw_order *o, const char *id) {
    const asw_sku_state *s = find_sku(o, id);
    return s ? s->sku_order_id : pool_add(&o->pool, id);
}

static asw_str shop_str(asw_order *o, const char *shop) {
    if (!shop)
        return 0;
    return reuse_or_add(o, o->shop_id, shop);
}

/* ---- remembered decisions: varints in the pool ---- */

/* Encode a decision into the pool; its strings are interned first. */
static asw_str remember_decision(asw_order *o, const asw_decision *d) {
    asw_str sku = sku_str(o, d->sku_order_id);
    asw_str shop = shop_str(o, d->shop_id);
    asw_str rs = reuse_or_add(o, *last_rs(o), d->ruleset_version ? d->ruleset_version : "");
    asw_str topic = reuse_or_add(o, *last_topic(o), d->source_topic ? d->source_topic : "");
    *last_rs(o) = rs;
    *last_topic(o) = topic;
    uint8_t buf[ASW_DECISION_PACKED_MAX + 4 * 5];
    size_t n = asw_decision_pack(d, buf);
    n += asw_varint_put(buf + n, sku);
    n += asw_varint_put(buf + n, shop);
    n += asw_varint_put(buf + n, rs);
    n += asw_varint_put(buf + n, topic);
    uint32_t off = pool_alloc(&o->pool, (uint32_t)n);
    memcpy(pool_at(&o->pool, off), buf, n);
    return off;
}

void asw_order_decision(const asw_order *o, const asw_app *a, asw_decision *d) {
    /* Written by remember_decision() in this pool: it is whole. */
    const uint8_t *p = (const uint8_t *)pool_at(&o->pool, a->decision);
    const uint8_t *end = p + ASW_DECISION_PACKED_MAX + 4 * 10;
    int ok = 1;
    memset(d, 0, sizeof *d);
    asw_decision_unpack(d, &p, end);
    d->sku_order_id = STR(o, (asw_str)asw_varint_get(&p, end, &ok));
    asw_str shop = (asw_str)asw_varint_get(&p, end, &ok);
    d->shop_id = shop ? STR(o, shop) : NULL;
    d->ruleset_version = STR(o, (asw_str)asw_varint_get(&p, end, &ok));
    d->source_topic = STR(o, (asw_str)asw_varint_get(&p, end, &ok));
    d->aftersale_id = STR(o, a->aftersale_id);
    d->order_id = asw_order_id(o);
}

/* ---- builders for decoders ---- */

void asw_order_set_shop(asw_order *o, const char *shop_id) {
    will_change(o);
    o->shop_id = shop_id ? reuse_or_add(o, o->shop_id, shop_id) : 0;
}

void asw_order_put_sku(asw_order *o, const char *sku_order_id, int64_t paid, int64_t refunded,
                       int64_t reserved, int32_t refund_successes, bool in_ledger) {
    asw_sku_state *s = will_change_sku(o, get_sku(o, sku_order_id));
    if (s->in_ledger != in_ledger) { /* as the record that holds it says */
        o->n_ledger_skus += in_ledger ? 1 : (uint32_t)-1;
        s->in_ledger = in_ledger;
    }
    s->paid = paid;
    s->refunded = refunded;
    s->reserved = reserved;
    s->refund_successes = refund_successes;
}

/* Keep the derived counters right around a change of a counted app. */
/* The per-sub-order count of OPEN applications moves with the sub-order's
 * ledger. Live events always create the ledger first; a rebuild may meet an
 * application before its sub-order's record, and must not invent one (the
 * restore recounts at its end: asw_order_compact()). */
static void count_open(asw_order *o, const asw_app *a, int32_t delta) {
    asw_sku_state *s = find_sku(o, STR(o, a->sku_order_id));
    if (s)
        will_change_sku(o, s)->open_apps += delta;
}

static void uncount(asw_order *o, const asw_app *a) {
    if (!a->counted)
        return;
    o->n_counted--;
    if (a->state == ASW_APP_OPEN) {
        o->n_open--;
        count_open(o, a, -1);
    }
}

static void count(asw_order *o, const asw_app *a) {
    if (!a->counted)
        return;
    o->n_counted++;
    if (a->state == ASW_APP_OPEN) {
        o->n_open++;
        count_open(o, a, 1);
    }
}

void asw_order_compact(asw_order *o) {
    uint32_t before = total_entities(o);
    uint32_t n = 0;
    for (uint32_t i = 0; i < o->n_skus; i++)
        if (o->skus[i].sku_order_id)
            o->skus[n++] = o->skus[i];
    o->n_skus = n;
    n = 0;
    for (uint32_t i = 0; i < o->n_apps; i++)
        if (o->apps[i].aftersale_id && (o->apps[i].counted || o->apps[i].decision))
            o->apps[n++] = o->apps[i];
    o->n_apps = n;
    n = 0;
    for (uint32_t i = 0; i < o->n_externals; i++)
        if (o->externals[i].refund_id)
            o->externals[n++] = o->externals[i];
    o->n_externals = n;
    n = 0;
    for (uint32_t i = 0; i < o->n_seen; i++)
        if (o->seen[i])
            o->seen[n++] = o->seen[i];
    o->n_seen = n;
    /* The sub-orders of the ledger record first: the writer finds them at
     * the front. */
    uint32_t front = 0;
    bool in_front = true;
    for (uint32_t i = 0; i < o->n_skus; i++) {
        if (o->skus[i].in_ledger && i != front)
            in_front = false;
        front += o->skus[i].in_ledger != 0;
    }
    o->n_ledger_skus = front;
    if (!in_front) {
        asw_sku_state *sorted = asw_malloc(o->n_skus * sizeof *sorted);
        uint32_t k = 0;
        for (uint32_t i = 0; i < o->n_skus; i++)
            sorted[o->skus[i].in_ledger ? k++ : front++] = o->skus[i];
        memcpy(o->skus, sorted, o->n_skus * sizeof *sorted);
        free(sorted);
    }
    if (!in_front || before != total_entities(o))
        index_rebuild(o);
    o->n_counted = o->n_open = 0;
    for (uint32_t i = 0; i < o->n_skus; i++)
        o->skus[i].open_apps = 0;
    for (uint32_t i = 0; i < o->n_apps; i++)
        count(o, &o->apps[i]);
}

/* Move a counted application to another state. */
static void set_state(asw_order *o, asw_app *a, asw_app_state to) {
    uncount(o, a);
    a->state = (uint8_t)to;
    count(o, a);
}

void asw_order_put_app_counted(asw_order *o, const char *aftersale_id, bool counted,
                               const char *sku_order_id, const char *shop_id, bool has_type,
                               asw_aftersale_type type, asw_app_state state, int64_t reserved) {
    asw_str sku = counted ? sku_str(o, sku_order_id) : 0;
    asw_app *a = get_any_app(o, aftersale_id);
    uncount(o, a);
    a->counted = counted;
    if (counted) {
        a->sku_order_id = sku;
        a->shop_id = shop_str(o, shop_id);
        a->has_type = has_type;
        a->type = (uint8_t)type;
        a->state = (uint8_t)state;
        a->reserved = reserved;
    } else {
        a->sku_order_id = a->shop_id = 0;
        a->has_type = 0;
        a->type = 0;
        a->state = 0;
        a->reserved = 0;
    }
    count(o, a);
}

void asw_order_put_app_decision(asw_order *o, const char *aftersale_id, const asw_decision *d) {
    asw_app *a = get_any_app(o, aftersale_id);
    a->decision = d ? remember_decision(o, d) : 0;
}

void asw_order_put_app(asw_order *o, const char *aftersale_id, bool counted,
                       const char *sku_order_id, const char *shop_id, bool has_type,
                       asw_aftersale_type type, asw_app_state state, int64_t reserved,
                       const asw_decision *d) {
    asw_order_put_app_counted(o, aftersale_id, counted, sku_order_id, shop_id, has_type, type,
                              state, reserved);
    asw_order_put_app_decision(o, aftersale_id, d);
}

void asw_order_put_external(asw_order *o, const char *refund_id, const char *sku_order_id,
                            asw_external_kind kind) {
    will_change(o);
    int64_t i = asw_order_find_entity(o, ASW_ENT_EXTERNAL, refund_id);
    asw_external *x;
    if (i >= 0) {
        x = &o->externals[i];
    } else {
        GROW(o, externals, n_externals, cap_externals);
        x = &o->externals[o->n_externals];
        x->refund_id = pool_add(&o->pool, refund_id);
        o->n_externals++;
        index_added(o, ASW_ENT_EXTERNAL, o->n_externals - 1);
    }
    x->sku_order_id = sku_str(o, sku_order_id);
    x->kind = kind;
}

void asw_order_put_seen(asw_order *o, const char *event_id) {
    remember_event(o, event_id);
}

asw_order *asw_order_clone(const asw_order *src) {
    asw_order *o = asw_order_new(asw_order_id(src));
    if (src->shop_id)
        asw_order_set_shop(o, STR(src, src->shop_id));
    o->paid = src->paid;
    o->refunded = src->refunded;
    o->reserved = src->reserved;
    o->prior_success = src->prior_success;
    o->max_event_time = src->max_event_time;
    o->has_deadline = src->has_deadline;
    o->deadline = src->deadline;
    o->split = src->split;
    for (uint32_t i = 0; i < src->n_skus; i++) {
        const asw_sku_state *s = &src->skus[i];
        asw_order_put_sku(o, STR(src, s->sku_order_id), s->paid, s->refunded, s->reserved,
                          s->refund_successes, s->in_ledger);
    }
    for (uint32_t i = 0; i < src->n_apps; i++) {
        const asw_app *a = &src->apps[i];
        asw_decision d;
        if (a->decision)
            asw_order_decision(src, a, &d);
        asw_order_put_app(o, STR(src, a->aftersale_id), a->counted, STR(src, a->sku_order_id),
                          a->shop_id ? STR(src, a->shop_id) : NULL, a->has_type,
                          (asw_aftersale_type)a->type, (asw_app_state)a->state, a->reserved,
                          a->decision ? &d : NULL);
    }
    for (uint32_t i = 0; i < src->n_externals; i++) {
        const asw_external *x = &src->externals[i];
        asw_order_put_external(o, STR(src, x->refund_id), STR(src, x->sku_order_id),
                               (asw_external_kind)x->kind);
    }
    for (uint32_t i = 0; i < src->n_seen; i++)
        asw_order_put_seen(o, STR(src, src->seen[i]));
    return o;
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool decision_eq(const asw_decision *a, const asw_decision *b) {
    return str_eq(a->aftersale_id, b->aftersale_id) && str_eq(a->sku_order_id, b->sku_order_id) &&
           str_eq(a->shop_id, b->shop_id) && str_eq(a->ruleset_version, b->ruleset_version) &&
           str_eq(a->source_topic, b->source_topic) && a->initiator == b->initiator &&
           a->outcome == b->outcome && a->reasons == b->reasons &&
           a->applications_used == b->applications_used &&
           a->applications_limit == b->applications_limit &&
           a->order_remaining == b->order_remaining && a->sku_remaining == b->sku_remaining &&
           a->multi_refund == b->multi_refund && a->sku_prior_refunds == b->sku_prior_refunds &&
           a->event_time == b->event_time && a->source_partition == b->source_partition &&
           a->source_offset == b->source_offset;
}

static bool app_eq(const asw_order *oa, const asw_app *a, const asw_order *ob, const asw_app *b) {
    if (a->counted != b->counted || (a->decision != 0) != (b->decision != 0))
        return false;
    if (a->counted && (!str_eq(STR(oa, a->sku_order_id), STR(ob, b->sku_order_id)) ||
                       (a->shop_id != 0) != (b->shop_id != 0) ||
                       (a->shop_id && !str_eq(STR(oa, a->shop_id), STR(ob, b->shop_id))) ||
                       a->has_type != b->has_type || (a->has_type && a->type != b->type) ||
                       a->state != b->state || a->reserved != b->reserved))
        return false;
    if (a->decision) {
        asw_decision da, db;
        asw_order_decision(oa, a, &da);
        asw_order_decision(ob, b, &db);
        da.order_id = db.order_id = NULL;
        if (!decision_eq(&da, &db))
            return false;
    }
    return true;
}

bool asw_order_equal(const asw_order *a, const asw_order *b) {
    if (!str_eq(asw_order_id(a), asw_order_id(b)) || (a->shop_id != 0) != (b->shop_id != 0) ||
        (a->shop_id && !str_eq(STR(a, a->shop_id), STR(b, b->shop_id))) || a->paid != b->paid ||
        a->refunded != b->refunded || a->reserved != b->reserved ||
        a->prior_success != b->prior_success || a->max_event_time != b->max_event_time ||
        a->has_deadline != b->has_deadline || (a->has_deadline && a->deadline != b->deadline) ||
        a->split != b->split || a->n_counted != b->n_counted)
        return false;
    for (int k = 0; k < ASW_ENT__COUNT; k++)
        if (asw_order_entity_count(a, (asw_entity_kind)k) !=
            asw_order_entity_count(b, (asw_entity_kind)k))
            return false;
    for (uint32_t i = 0; i < a->n_skus; i++) {
        const asw_sku_state *x = &a->skus[i], *y = find_sku(b, STR(a, x->sku_order_id));
        if (!y || x->paid != y->paid || x->refunded != y->refunded || x->reserved != y->reserved ||
            x->refund_successes != y->refund_successes || x->open_apps != y->open_apps)
            return false;
    }
    for (uint32_t i = 0; i < a->n_apps; i++) {
        const asw_app *y = find_any_app(b, STR(a, a->apps[i].aftersale_id));
        if (!y || !app_eq(a, &a->apps[i], b, y))
            return false;
    }
    for (uint32_t i = 0; i < a->n_externals; i++) {
        const asw_external *x = &a->externals[i], *y = find_external(b, STR(a, x->refund_id));
        if (!y || x->kind != y->kind || !str_eq(STR(a, x->sku_order_id), STR(b, y->sku_order_id)))
            return false;
    }
    for (uint32_t i = 0; i < a->n_seen; i++)
        if (!event_seen(b, STR(a, a->seen[i])))
            return false;
    return true;
}

/* ---- the frozen form ---- */

/*
 * Layout (asw_order_freeze()): order_id NUL, restore_flags (1 byte, at a
 * fixed place: it is changed in place), then the body, which is also the
 * value of the changelog's whole-order record (so a restore keeps it as it
 * comes, after asw_order_body_check()):
 *
 *   flags (has_deadline 1, prior_success 2, has shop 4, split 8),
 *   zz max_event_time, [zz (deadline - max_event_time)], n_open,
 *   [shop: str], zz paid, zz refunded, zz reserved,
 *   n skus      { id, (zz refund_successes) << 1 | in_ledger,
 *                 zz paid, zz refunded, zz reserved }   (in_ledger first)
 *   n apps      { id, bits (counted 1, has_type 2, decided 4, state << 3,
 *                 type << 5), [counted: sku, shop, [OPEN: zz reserved]],
 *                 [decided: decision] }
 *   n externals { id, sku, kind }
 *   n seen      { id }
 *
 * decision = initiator | outcome << 2 | multi_refund << 4 | (its sub-order
 * and shop are the counted part's) << 5 | reasons << 6,
 * zz applications_used, zz applications_limit, zz order_remaining,
 * zz sku_remaining, zz sku_prior_refunds, zz (event_time - the previous
 * decision's; the first's from max_event_time), zz source_partition,
 * zz (source_offset - the previous decision's; the first's from 0),
 * [unless the counted part's: sku, shop], ruleset version, source topic.
 *
 * Numbers are varints (zz: zigzag); a str is its bytes, NUL-terminated. An
 * entity id is the length of the prefix it shares with the previous entity
 * id of the body (the order id before the first), then the rest as a str:
 * "O1-A1" after "O1-A0" is 4, "1". A sub-order reference `sku` is k > 0 for
 * the k-th sub-order's id, or 0 then an id told from the order id; a shop
 * is 0 (none), 1 (the order's shop) or 2 then a str; a ruleset version is
 * 0 (the previous decision's; "" before the first), 1 then a str, or 2 then
 * the 4 bytes (big-endian) of an "rs1-xxxxxxxx" version's hex; a topic is
 * 0 (the previous decision's; the `topic` given before the first) or 1 then
 * a str.
 *
 * Derived fields (counts of counted and open applications, the index) are
 * made again by asw_order_thaw(); n_open is kept for asw_order_brief.
 * Entities a restore removed (id 0) and applications neither counted nor
 * decided are left out, as asw_order_compact() would.
 */

#define BODY_DEADLINE 1
#define BODY_PRIOR    2
#define BODY_SHOP     4
#define BODY_SPLIT    8

#define APP_COUNTED 1
#define APP_TYPED   2
#define APP_DECIDED 4

#define DEC_SAME_REFS 0x20 /* the decision's sub-order and shop: the counted part's */

static void put_u(asw_buf *b, uint64_t v) {
    uint8_t t[10];
    asw_buf_append(b, t, asw_varint_put(t, v));
}

static void put_z(asw_buf *b, int64_t v) {
    put_u(b, asw_zigzag(v));
}

static void put_byte(asw_buf *b, uint8_t v) {
    asw_buf_append(b, &v, 1);
}

static void put_cstr(asw_buf *b, const char *s) {
    asw_buf_append(b, s, strlen(s) + 1);
}

/* An id told from `*prev`, which becomes it (when prev is not NULL). */
static void put_id_from(asw_buf *b, const char *from, const char *s) {
    size_t k = 0;
    while (from[k] && from[k] == s[k])
        k++;
    put_u(b, k);
    put_cstr(b, s + k);
}

static void put_id(asw_buf *b, const char **prev, const char *s) {
    put_id_from(b, *prev, s);
    *prev = s;
}

/* A sub-order reference: its position + 1 among the written sub-orders. */
static void put_sku_ref(asw_buf *b, const asw_order *o, const uint32_t *written, const char *id) {
    int64_t i = asw_order_find_entity(o, ASW_ENT_SKU, id);
    if (i >= 0 && written[i]) {
        put_u(b, written[i]);
        return;
    }
    put_u(b, 0);
    put_id_from(b, asw_order_id(o), id);
}

static void put_shop_ref(asw_buf *b, const asw_order *o, const char *shop) {
    if (!shop) {
        put_u(b, 0);
    } else if (o->shop_id && strcmp(shop, STR(o, o->shop_id)) == 0) {
        put_u(b, 1);
    } else {
        put_u(b, 2);
        put_cstr(b, shop);
    }
}

static void put_same_or_str(asw_buf *b, const char **prev, const char *s) {
    if (strcmp(*prev, s) == 0) {
        put_u(b, 0);
        return;
    }
    put_u(b, 1);
    put_cstr(b, s);
    *prev = s;
}

/* "rs1-" and 8 lowercase hex digits (asw_ruleset_version()): its value. */
static bool ruleset_hash(const char *s, uint32_t *h) {
    if (strncmp(s, "rs1-", 4) != 0 || strlen(s) != 12)
        return false;
    uint32_t v = 0;
    for (int i = 4; i < 12; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint32_t)(c - 'a' + 10);
        else
            return false;
    }
    *h = v;
    return true;
}

static void put_ruleset(asw_buf *b, const char **prev, const char *s) {
    uint32_t h;
    if (strcmp(*prev, s) == 0) {
        put_u(b, 0);
    } else if (ruleset_hash(s, &h)) {
        uint8_t be[4] = {(uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
        put_u(b, 2);
        asw_buf_append(b, be, 4);
    } else {
        put_u(b, 1);
        put_cstr(b, s);
    }
    *prev = s;
}

static bool app_live(const asw_app *a) {
    return a->aftersale_id && (a->counted || a->decision);
}

/* What consecutive decisions of a body are told relative to. */
typedef struct decision_ctx {
    int64_t time, offset;
    const char *rs, *topic;
} decision_ctx;

static void put_decision(asw_buf *b, const asw_order *o, const uint32_t *written, const asw_app *a,
                         decision_ctx *c) {
    asw_decision d;
    asw_order_decision(o, a, &d);
    bool same =
        a->counted && strcmp(d.sku_order_id, STR(o, a->sku_order_id)) == 0 &&
        (d.shop_id ? a->shop_id && strcmp(d.shop_id, STR(o, a->shop_id)) == 0 : !a->shop_id);
    put_u(b, (uint64_t)d.initiator | (uint64_t)d.outcome << 2 | (d.multi_refund ? 0x10u : 0) |
                 (same ? DEC_SAME_REFS : 0) | (uint64_t)d.reasons << 6);
    put_z(b, d.applications_used);
    put_z(b, d.applications_limit);
    put_z(b, d.order_remaining);
    put_z(b, d.sku_remaining);
    put_z(b, d.sku_prior_refunds);
    put_z(b, (int64_t)((uint64_t)d.event_time - (uint64_t)c->time));
    put_z(b, d.source_partition);
    put_z(b, (int64_t)((uint64_t)d.source_offset - (uint64_t)c->offset));
    c->time = d.event_time;
    c->offset = d.source_offset;
    if (!same) {
        put_sku_ref(b, o, written, d.sku_order_id);
        put_shop_ref(b, o, d.shop_id);
    }
    put_ruleset(b, &c->rs, d.ruleset_version);
    put_same_or_str(b, &c->topic, d.source_topic);
}

void asw_order_freeze_body(const asw_order *o, const char *topic, asw_buf *out) {
    const char *prev = asw_order_id(o);
    put_byte(out,
             (uint8_t)((o->has_deadline ? BODY_DEADLINE : 0) | (o->prior_success ? BODY_PRIOR : 0) |
                       (o->shop_id ? BODY_SHOP : 0) | (o->split ? BODY_SPLIT : 0)));
    put_z(out, o->max_event_time);
    if (o->has_deadline)
        put_z(out, (int64_t)((uint64_t)o->deadline - (uint64_t)o->max_event_time));
    put_u(out, o->n_open);
    if (o->shop_id)
        put_cstr(out, STR(o, o->shop_id));
    put_z(out, o->paid);
    put_z(out, o->refunded);
    put_z(out, o->reserved);

    /* Sub-orders: those of the ledger record first, as compaction orders
     * them; written[i] = position + 1 of sub-order i, 0 when left out. */
    uint32_t few[16] = {0};
    uint32_t *written = o->n_skus <= 16 ? few : asw_calloc(o->n_skus, sizeof *written);
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < o->n_skus; i++)
            if (o->skus[i].sku_order_id && (o->skus[i].in_ledger != 0) == (pass == 0))
                written[i] = ++n;
    put_u(out, n);
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < o->n_skus; i++) {
            const asw_sku_state *s = &o->skus[i];
            if (!s->sku_order_id || (s->in_ledger != 0) != (pass == 0))
                continue;
            put_id(out, &prev, STR(o, s->sku_order_id));
            put_u(out, asw_zigzag(s->refund_successes) << 1 | (s->in_ledger ? 1 : 0));
            put_z(out, s->paid);
            put_z(out, s->refunded);
            put_z(out, s->reserved);
        }

    n = 0;
    for (uint32_t i = 0; i < o->n_apps; i++)
        n += app_live(&o->apps[i]);
    put_u(out, n);
    decision_ctx c = {o->max_event_time, 0, "", topic ? topic : ""};
    for (uint32_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (!app_live(a))
            continue;
        put_id(out, &prev, STR(o, a->aftersale_id));
        put_byte(out,
                 (uint8_t)((a->counted ? APP_COUNTED : 0) | (a->has_type ? APP_TYPED : 0) |
                           (a->decision ? APP_DECIDED : 0) | (a->state << 3) | (a->type << 5)));
        if (a->counted) {
            put_sku_ref(out, o, written, STR(o, a->sku_order_id));
            put_shop_ref(out, o, a->shop_id ? STR(o, a->shop_id) : NULL);
            if (a->state == ASW_APP_OPEN)
                put_z(out, a->reserved);
        }
        if (a->decision)
            put_decision(out, o, written, a, &c);
    }

    n = 0;
    for (uint32_t i = 0; i < o->n_externals; i++)
        n += o->externals[i].refund_id != 0;
    put_u(out, n);
    for (uint32_t i = 0; i < o->n_externals; i++) {
        const asw_external *x = &o->externals[i];
        if (!x->refund_id)
            continue;
        put_id(out, &prev, STR(o, x->refund_id));
        put_sku_ref(out, o, written, STR(o, x->sku_order_id));
        put_byte(out, (uint8_t)x->kind);
    }

    n = 0;
    for (uint32_t i = 0; i < o->n_seen; i++)
        n += o->seen[i] != 0;
    put_u(out, n);
    for (uint32_t i = 0; i < o->n_seen; i++)
        if (o->seen[i])
            put_id(out, &prev, STR(o, o->seen[i]));
    if (written != few)
        free(written);
}

void asw_order_freeze(const asw_order *o, const char *topic, asw_buf *out) {
    asw_buf_reset(out);
    put_cstr(out, asw_order_id(o));
    put_byte(out, o->restore_flags);
    asw_order_freeze_body(o, topic, out);
}

/* ---- thawing: trusted bytes (frozen here, or checked) ---- */

typedef struct thaw_reader {
    const uint8_t *p, *end;
} thaw_reader;

static uint64_t get_u(thaw_reader *r) {
    int ok = 1;
    return asw_varint_get(&r->p, r->end, &ok);
}

static int64_t get_z(thaw_reader *r) {
    return asw_unzigzag(get_u(r));
}

static uint8_t get_byte(thaw_reader *r) {
    return *r->p++;
}

static const char *get_cstr(thaw_reader *r) {
    const char *s = (const char *)r->p;
    r->p += strlen(s) + 1;
    return s;
}

static asw_str get_pool_str(asw_order *o, thaw_reader *r) {
    return pool_add(&o->pool, get_cstr(r));
}

/* An id: the prefix it shares with `from` (a pool string), then the rest. */
static asw_str get_id_from(asw_order *o, thaw_reader *r, asw_str from) {
    size_t k = (size_t)get_u(r);
    const char *rest = get_cstr(r);
    size_t n = strlen(rest);
    uint32_t off = pool_alloc(&o->pool, (uint32_t)(k + n + 1));
    char *dst = pool_at(&o->pool, off);
    memcpy(dst, STR(o, from), k); /* the pool's chunks never move */
    memcpy(dst + k, rest, n + 1);
    return off;
}

static asw_str get_id(asw_order *o, thaw_reader *r, asw_str *prev) {
    return *prev = get_id_from(o, r, *prev);
}

static asw_str get_sku_ref(asw_order *o, thaw_reader *r) {
    uint64_t k = get_u(r);
    return k ? o->skus[k - 1].sku_order_id : get_id_from(o, r, o->order_id);
}

static asw_str get_shop_ref(asw_order *o, thaw_reader *r) {
    switch (get_u(r)) {
    case 0:
        return 0;
    case 1:
        return o->shop_id;
    default:
        return get_pool_str(o, r);
    }
}

static asw_str get_same_or_str(asw_order *o, thaw_reader *r, asw_str prev) {
    return get_u(r) ? get_pool_str(o, r) : prev;
}

static asw_str get_ruleset(asw_order *o, thaw_reader *r, asw_str prev) {
    switch (get_u(r)) {
    case 0:
        return prev;
    case 1:
        return get_pool_str(o, r);
    default: {
        const uint8_t *be = r->p;
        r->p += 4;
        char s[16];
        snprintf(s, sizeof s, "rs1-%08x",
                 (unsigned)((uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 |
                            be[3]));
        return pool_add(&o->pool, s);
    }
    }
}

/* A decision, into the pool as remember_decision() encodes it. */
static asw_str get_decision(asw_order *o, thaw_reader *r, const asw_app *a, decision_ctx *c,
                            asw_str *rs, asw_str *topic) {
    asw_decision d;
    memset(&d, 0, sizeof d);
    uint64_t bits = get_u(r);
    d.initiator = (asw_initiator)(bits & 3);
    d.outcome = (asw_outcome)((bits >> 2) & 3);
    d.multi_refund = (bits & 0x10) != 0;
    d.reasons = (asw_reason_set)(bits >> 6);
    d.applications_used = (int32_t)get_z(r);
    d.applications_limit = (int32_t)get_z(r);
    d.order_remaining = get_z(r);
    d.sku_remaining = get_z(r);
    d.sku_prior_refunds = (int32_t)get_z(r);
    d.event_time = c->time = (int64_t)((uint64_t)c->time + (uint64_t)get_z(r));
    d.source_partition = (int32_t)get_z(r);
    d.source_offset = c->offset = (int64_t)((uint64_t)c->offset + (uint64_t)get_z(r));
    asw_str sku, shop;
    if (bits & DEC_SAME_REFS) {
        sku = a->sku_order_id;
        shop = a->shop_id;
    } else {
        sku = get_sku_ref(o, r);
        shop = get_shop_ref(o, r);
    }
    *rs = get_ruleset(o, r, *rs);
    *topic = get_same_or_str(o, r, *topic);
    uint8_t buf[ASW_DECISION_PACKED_MAX + 4 * 5];
    size_t n = asw_decision_pack(&d, buf);
    n += asw_varint_put(buf + n, sku);
    n += asw_varint_put(buf + n, shop);
    n += asw_varint_put(buf + n, *rs);
    n += asw_varint_put(buf + n, *topic);
    asw_str off = pool_alloc(&o->pool, (uint32_t)n);
    memcpy(pool_at(&o->pool, off), buf, n);
    return off;
}

asw_order *asw_order_thaw(const void *bytes, size_t len, const char *topic) {
    thaw_reader r = {bytes, (const uint8_t *)bytes + len};
    asw_order *o = asw_order_new(get_cstr(&r));
    asw_str prev = o->order_id;
    o->restore_flags = get_byte(&r);
    uint8_t flags = get_byte(&r);
    o->has_deadline = flags & BODY_DEADLINE;
    o->prior_success = (flags & BODY_PRIOR) != 0;
    o->split = (flags & BODY_SPLIT) != 0;
    o->max_event_time = get_z(&r);
    if (o->has_deadline)
        o->deadline = (int64_t)((uint64_t)o->max_event_time + (uint64_t)get_z(&r));
    (void)get_u(&r); /* n_open: derived below */
    if (flags & BODY_SHOP)
        o->shop_id = get_pool_str(o, &r);
    o->paid = get_z(&r);
    o->refunded = get_z(&r);
    o->reserved = get_z(&r);

    o->n_skus = o->cap_skus = (uint32_t)get_u(&r);
    o->skus = o->n_skus ? asw_calloc(o->n_skus, sizeof *o->skus) : NULL;
    for (uint32_t i = 0; i < o->n_skus; i++) {
        asw_sku_state *s = &o->skus[i];
        s->sku_order_id = get_id(o, &r, &prev);
        uint64_t v = get_u(&r);
        s->in_ledger = v & 1;
        s->refund_successes = (int32_t)asw_unzigzag(v >> 1);
        o->n_ledger_skus += s->in_ledger;
        s->paid = get_z(&r);
        s->refunded = get_z(&r);
        s->reserved = get_z(&r);
    }

    o->n_apps = o->cap_apps = (uint32_t)get_u(&r);
    o->apps = o->n_apps ? asw_calloc(o->n_apps, sizeof *o->apps) : NULL;
    decision_ctx c = {o->max_event_time, 0, NULL, NULL};
    asw_str rs = pool_add(&o->pool, ""), tp = pool_add(&o->pool, topic ? topic : "");
    for (uint32_t i = 0; i < o->n_apps; i++) {
        asw_app *a = &o->apps[i];
        a->aftersale_id = get_id(o, &r, &prev);
        uint8_t bits = get_byte(&r);
        a->counted = bits & APP_COUNTED;
        a->has_type = (bits & APP_TYPED) != 0;
        a->state = (uint8_t)((bits >> 3) & 3);
        a->type = (uint8_t)(bits >> 5);
        if (a->counted) {
            a->sku_order_id = get_sku_ref(o, &r);
            a->shop_id = get_shop_ref(o, &r);
            if (a->state == ASW_APP_OPEN)
                a->reserved = get_z(&r);
        }
        if (bits & APP_DECIDED)
            a->decision = get_decision(o, &r, a, &c, &rs, &tp);
    }
    *last_rs(o) = rs;
    *last_topic(o) = tp;

    o->n_externals = o->cap_externals = (uint32_t)get_u(&r);
    o->externals = o->n_externals ? asw_calloc(o->n_externals, sizeof *o->externals) : NULL;
    for (uint32_t i = 0; i < o->n_externals; i++) {
        asw_external *x = &o->externals[i];
        x->refund_id = get_id(o, &r, &prev);
        x->sku_order_id = get_sku_ref(o, &r);
        x->kind = get_byte(&r);
    }

    o->n_seen = o->cap_seen = (uint32_t)get_u(&r);
    o->seen = o->n_seen ? asw_calloc(o->n_seen, sizeof *o->seen) : NULL;
    for (uint32_t i = 0; i < o->n_seen; i++)
        o->seen[i] = get_id(o, &r, &prev);
    index_rebuild(o); /* before counting: that finds sub-orders */
    for (uint32_t i = 0; i < o->n_apps; i++)
        count(o, &o->apps[i]);
    return o;
}

/* ---- checking a body from outside ---- */

typedef struct checker {
    const uint8_t *p, *end;
    const char *why;
    /* Every id read, whole, to tell the next one from and to refuse an
     * entity seen twice. At most ASW_WHOLE_ENTITIES entities. */
    char ids[ASW_WHOLE_ENTITIES + 1][ASW_TEXT_MAX + 1];
    size_t lens[ASW_WHOLE_ENTITIES + 1];
    int kinds[ASW_WHOLE_ENTITIES + 1];
    uint32_t n_ids;
    const char *prev, *order_id;
    size_t prev_len, order_id_len;
} checker;

/* The first failure is the answer; from then on every read fails fast
 * (nothing is left to read). */
static bool c_fail(checker *c, const char *why) {
    if (!c->why)
        c->why = why;
    c->p = c->end;
    return false;
}

static uint64_t c_u(checker *c) {
    if (c->p < c->end && *c->p < 0x80) /* most are one byte */
        return *c->p++;
    int ok = 1;
    uint64_t v = asw_varint_get(&c->p, c->end, &ok);
    if (!ok)
        c_fail(c, "a truncated number");
    return v;
}

static int64_t c_z(checker *c) {
    return asw_unzigzag(c_u(c));
}

static uint8_t c_byte(checker *c) {
    if (c->p >= c->end) {
        c_fail(c, "truncated");
        return 0;
    }
    return *c->p++;
}

/* A topic name: Kafka allows up to 249 characters. */
#define TOPIC_MAX 255

/* A str of at most `max` bytes; its length. */
static size_t c_str_max(checker *c, const char **s, size_t max) {
    *s = "";
    const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));
    if (!nul) {
        c_fail(c, "a string without its end");
        return 0;
    }
    size_t n = (size_t)(nul - c->p);
    if (n > max) {
        c_fail(c, "a string longer than any id");
        return 0;
    }
    *s = (const char *)c->p;
    c->p = nul + 1;
    return n;
}

static size_t c_cstr(checker *c, const char **s) {
    return c_str_max(c, s, ASW_TEXT_MAX);
}

/* An id told from `from` (of from_len bytes), whole into `out` (room for
 * ASW_TEXT_MAX); its length. */
static size_t c_id_from(checker *c, const char *from, size_t from_len, char *out) {
    size_t prefix = (size_t)c_u(c);
    const char *rest;
    size_t n = c_cstr(c, &rest);
    out[0] = '\0';
    if (c->why)
        return 0;
    if (prefix > from_len || prefix + n > ASW_TEXT_MAX) {
        c_fail(c, "an id longer than the one it is told from, or than any id");
        return 0;
    }
    memcpy(out, from, prefix);
    memcpy(out + prefix, rest, n + 1);
    return prefix + n;
}

/* An entity id of `kind`. */
static void c_id(checker *c, int kind) {
    if (c->why)
        return;
    if (c->n_ids == ASW_WHOLE_ENTITIES) {
        c_fail(c, "more entities than a whole record holds");
        return;
    }
    char *id = c->ids[c->n_ids];
    size_t len = c_id_from(c, c->prev, c->prev_len, id);
    if (!c->why && len == 0)
        c_fail(c, "an empty id");
    if (c->why)
        return;
    for (uint32_t i = 0; i < c->n_ids; i++)
        if (c->kinds[i] == kind && c->lens[i] == len && memcmp(c->ids[i], id, len) == 0) {
            c_fail(c, "an entity twice");
            return;
        }
    c->kinds[c->n_ids] = kind;
    c->lens[c->n_ids++] = len;
    c->prev = id;
    c->prev_len = len;
}

/* A sub-order reference: k (1..n_skus), or 0 for one told by its id. */
static uint64_t c_sku_ref(checker *c, uint64_t n_skus) {
    uint64_t k = c_u(c);
    if (k > n_skus) {
        c_fail(c, "a reference to no sub-order");
        return 0;
    }
    if (k == 0) /* into the scratch id */
        c_id_from(c, c->order_id, c->order_id_len, c->ids[ASW_WHOLE_ENTITIES]);
    return k;
}

static void c_shop_ref(checker *c, bool has_shop) {
    const char *s;
    switch (c_u(c)) {
    case 0:
        break;
    case 1:
        if (!has_shop)
            c_fail(c, "a reference to no shop");
        break;
    case 2:
        c_cstr(c, &s);
        break;
    default:
        c_fail(c, "a bad shop reference");
    }
}

static void c_ruleset_or_topic(checker *c, bool ruleset) {
    const char *s;
    uint64_t v = c_u(c);
    if (v == 1) {
        c_str_max(c, &s, ruleset ? ASW_TEXT_MAX : TOPIC_MAX);
    } else if (v == 2 && ruleset) {
        for (int i = 0; i < 4; i++)
            c_byte(c);
    } else if (v != 0) {
        c_fail(c, "a bad string reference");
    }
}

/* paid >= 0, refunded >= 0, reserved >= 0 and refunded + reserved fits:
 * what asw_order_remaining() relies on. Returns reserved. */
bool asw_ledger_amounts_sound(int64_t paid, int64_t refunded, int64_t reserved) {
    int64_t sum, remaining;
    return refunded >= 0 && reserved >= 0 && !__builtin_add_overflow(refunded, reserved, &sum) &&
           !__builtin_sub_overflow(paid, sum, &remaining);
}

static int64_t c_amounts(checker *c) {
    int64_t paid = c_z(c), refunded = c_z(c), reserved = c_z(c);
    if (paid < 0 || !asw_ledger_amounts_sound(paid, refunded, reserved))
        c_fail(c, "amounts out of range");
    return reserved;
}

/* to += v, refusing an overflow. */
static void c_add(checker *c, int64_t *to, int64_t v) {
    if (__builtin_add_overflow(*to, v, to))
        c_fail(c, "amounts out of range");
}

static void c_count(checker *c, uint64_t *n) {
    *n = c_u(c);
    if (*n > ASW_WHOLE_ENTITIES)
        c_fail(c, "more entities than a whole record holds");
}

const char *asw_order_body_check(const char *order_id, const void *body, size_t len) {
    checker cs, *c = &cs; /* about 3 KB: on the stack, at restore speed */
    c->p = body;
    c->end = (const uint8_t *)body + len;
    c->why = NULL;
    c->n_ids = 0;
    c->prev = c->order_id = order_id;
    c->prev_len = c->order_id_len = strlen(order_id);
    if (c->order_id_len > ASW_TEXT_MAX)
        c_fail(c, "an order id longer than any id");

    uint8_t flags = c_byte(c);
    if (flags & ~(BODY_DEADLINE | BODY_PRIOR | BODY_SHOP | BODY_SPLIT))
        c_fail(c, "unknown flags");
    if (flags & BODY_SPLIT)
        c_fail(c, "a split order in a whole record");
    (void)c_z(c);
    if (flags & BODY_DEADLINE)
        (void)c_z(c);
    uint64_t n_open = c_u(c), open = 0;
    const char *s;
    if (flags & BODY_SHOP)
        c_cstr(c, &s);
    int64_t order_reserved = c_amounts(c), open_total = 0;

    uint64_t n_skus, n_apps, n_ext, n_seen;
    c_count(c, &n_skus);
    bool ledger_part = true;
    uint32_t in_ledger = 0;
    /* Reserved per sub-order, and what its OPEN applications hold: equal in
     * any state the rules made (and in sum, the order's). */
    int64_t sku_reserved[ASW_WHOLE_ENTITIES] = {0}, sku_open[ASW_WHOLE_ENTITIES] = {0};
    for (uint64_t i = 0; i < n_skus && !c->why; i++) {
        c_id(c, ASW_ENT_SKU);
        uint64_t v = c_u(c);
        bool l = v & 1;
        if ((l && !ledger_part) || (l && ++in_ledger > ASW_LEDGER_SKUS))
            c_fail(c, "a bad ledger flag");
        ledger_part = l;
        if (asw_unzigzag(v >> 1) < 0 || asw_unzigzag(v >> 1) > INT32_MAX)
            c_fail(c, "a count out of range");
        sku_reserved[i] = c_amounts(c);
    }

    c_count(c, &n_apps);
    for (uint64_t i = 0; i < n_apps && !c->why; i++) {
        c_id(c, ASW_ENT_APP);
        uint8_t bits = c_byte(c);
        if ((bits >> 5) >= ASW_AT__COUNT || !(bits & (APP_COUNTED | APP_DECIDED)))
            c_fail(c, "a bad application");
        if (bits & APP_COUNTED) {
            bool is_open = ((bits >> 3) & 3) == ASW_APP_OPEN;
            open += is_open;
            uint64_t k = c_sku_ref(c, n_skus);
            c_shop_ref(c, flags & BODY_SHOP);
            if (is_open) {
                int64_t r = c_z(c);
                if (r < 0 || k == 0) {
                    c_fail(c, "an open application with a negative amount or no sub-order");
                } else if (!c->why) {
                    c_add(c, &sku_open[k - 1], r);
                    c_add(c, &open_total, r);
                }
            }
        }
        if (bits & APP_DECIDED) {
            uint64_t d = c_u(c);
            if ((d & 3) >= ASW_INIT__COUNT || ((d >> 2) & 3) >= ASW_OUT__COUNT ||
                (d >> 6) >> ASW_R__COUNT || ((d & DEC_SAME_REFS) && !(bits & APP_COUNTED)))
                c_fail(c, "a bad decision");
            for (int k = 0; k < 8; k++)
                (void)c_z(c);
            if (!(d & DEC_SAME_REFS)) {
                c_sku_ref(c, n_skus);
                c_shop_ref(c, flags & BODY_SHOP);
            }
            c_ruleset_or_topic(c, true);
            c_ruleset_or_topic(c, false);
        }
    }
    if (!c->why && open != n_open)
        c_fail(c, "a count of open applications that is not theirs");
    for (uint64_t i = 0; i < n_skus && !c->why; i++)
        if (sku_open[i] != sku_reserved[i])
            c_fail(c, "a sub-order's reserved amount that its open applications do not hold");
    if (!c->why && open_total != order_reserved)
        c_fail(c, "an order's reserved amount that its open applications do not hold");

    c_count(c, &n_ext);
    for (uint64_t i = 0; i < n_ext && !c->why; i++) {
        c_id(c, ASW_ENT_EXTERNAL);
        c_sku_ref(c, n_skus);
        if (c_byte(c) >= ASW_EK__COUNT)
            c_fail(c, "a bad external refund kind");
    }
    c_count(c, &n_seen);
    for (uint64_t i = 0; i < n_seen && !c->why; i++)
        c_id(c, ASW_ENT_SEEN);
    if (!c->why && c->p != c->end)
        c_fail(c, "trailing bytes");
    return c->why;
}

void asw_order_brief_of(asw_order *o, asw_order_brief *b) {
    b->order_id = asw_order_id(o);
    b->max_event_time = o->max_event_time;
    b->has_deadline = o->has_deadline;
    b->deadline = o->deadline;
    b->n_open = o->n_open;
    b->restore_flags = &o->restore_flags;
    b->order = o;
    b->frozen = NULL;
    b->frozen_len = 0;
}

void asw_order_frozen_brief(void *bytes, size_t len, asw_order_brief *b) {
    thaw_reader r = {bytes, (const uint8_t *)bytes + len};
    b->order_id = get_cstr(&r);
    b->restore_flags = (uint8_t *)r.p;
    r.p++;
    uint8_t flags = get_byte(&r);
    b->max_event_time = get_z(&r);
    b->has_deadline = flags & BODY_DEADLINE;
    b->deadline =
        b->has_deadline ? (int64_t)((uint64_t)b->max_event_time + (uint64_t)get_z(&r)) : 0;
    b->n_open = (uint32_t)get_u(&r);
    b->order = NULL;
    b->frozen = bytes;
    b->frozen_len = len;
}

/* ---- queries ---- */

/* paid - (refunded + reserved): exact, by the invariant refund_overflows()
 * keeps (refunded + reserved fits int64, paid >= 0). */
int64_t asw_order_remaining(const asw_order *o) {
    return o->paid - (o->refunded + o->reserved);
}

int64_t asw_sku_remaining(const asw_sku_state *s) {
    return s->paid - (s->refunded + s->reserved);
}

const asw_sku_state *asw_order_find_sku(const asw_order *o, const char *id) {
    return find_sku(o, id);
}

const asw_app *asw_order_find_app(const asw_order *o, const char *id) {
    return find_app(o, id);
}

int32_t asw_order_applications_used(const asw_order *o) {
    return (int32_t)o->n_counted;
}

uint32_t asw_order_decided_count(const asw_order *o) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < o->n_apps; i++)
        n += o->apps[i].decision != 0;
    return n;
}

/* ---- applying events ---- */

static bool is_money_free_type(asw_aftersale_type t) {
    return t == ASW_AT_EXCHANGE || t == ASW_AT_RESHIP || t == ASW_AT_REPAIR;
}

static bool is_shipped_status(asw_order_status s) {
    return s == ASW_OS_PARTIALLY_SHIPPED || s == ASW_OS_SHIPPED || s == ASW_OS_COMPLETED;
}

static bool too_long(const char *s) {
    return strlen(s) > ASW_TEXT_MAX;
}

/* Does an application carry a text field longer than ASW_TEXT_MAX bytes?
 * Such a one is INVALID_REQUEST and is not remembered, so that no string in
 * a state is longer than that. */
static bool application_oversized(const asw_event *ev) {
    return too_long(ev->event_id) || too_long(ev->order_id) || too_long(ev->aftersale_id) ||
           too_long(ev->sku_order_id) || too_long(ev->shop_id);
}

/* Rule 1: is the application malformed? Checked on the event alone. */
static bool application_invalid(const asw_event *ev) {
    const asw_order_snapshot *s = &ev->order;
    if (ev->amount < 0 || s->order_paid_amount < 0 || s->sku_paid_amount < 0)
        return true;
    if (s->sku_paid_amount > s->order_paid_amount || ev->amount > s->sku_paid_amount)
        return true;
    if (!ev->event_id[0] || !ev->order_id[0] || !ev->aftersale_id[0] || !ev->sku_order_id[0] ||
        !ev->shop_id[0] || application_oversized(ev))
        return true;
    return is_money_free_type(ev->aftersale_type) && ev->amount != 0;
}

/* Another counted application on the same sub-order still OPEN? */
static bool open_application_on_sku(const asw_order *o, const asw_sku_state *sku,
                                    const char *self) {
    if (!sku || sku->open_apps == 0)
        return false;
    const asw_app *a = find_app(o, self);
    bool self_open_here = a && a->state == ASW_APP_OPEN &&
                          strcmp(STR(o, a->sku_order_id), STR(o, sku->sku_order_id)) == 0;
    return sku->open_apps > (self_open_here ? 1 : 0);
}

#define REASON(r) ((asw_reason_set)(1u << (r)))

/*
 * Rules 2-10 of SPEC section 4, in order, on a valid application whose paid
 * amounts are already booked. Every reason that applies is collected.
 */
static asw_reason_set decide(const asw_order *o, const asw_sku_state *sku, const asw_ruleset *rules,
                             const asw_event *ev) {
    const asw_order_snapshot *s = &ev->order;
    asw_reason_set r = 0;

    /* 2: a cancelled order takes no application. */
    if (s->order_status == ASW_OS_CANCELLED)
        r |= REASON(ASW_R_ORDER_STATUS_NOT_ELIGIBLE);

    /* 3: before shipping, only a full refund of what remains (§1.1). */
    if ((s->order_status == ASW_OS_PENDING_PAYMENT || s->order_status == ASW_OS_STOCKING) &&
        !(ev->aftersale_type == ASW_AT_REFUND_ONLY_UNSHIPPED &&
          ev->amount == asw_sku_remaining(sku)))
        r |= REASON(ASW_R_PRE_SHIPMENT_FULL_REFUND_ONLY);

    /* 4: the after-sale period is over, by the event's own time. */
    if (s->has_deadline && ev->event_time > s->aftersale_deadline)
        r |= REASON(ASW_R_AFTERSALE_PERIOD_EXPIRED);

    /* 5: one open application per sub-order. */
    if (open_application_on_sku(o, sku, ev->aftersale_id))
        r |= REASON(ASW_R_APPLICATION_IN_PROGRESS);

    /* 6: the per-order quota, once goods shipped (§1.2 rule 1). An
     * application a lifecycle event already counted is not counted twice. */
    int32_t others = asw_order_applications_used(o) - (find_app(o, ev->aftersale_id) ? 1 : 0);
    if (is_shipped_status(s->order_status) && others >= asw_ruleset_limit(rules))
        r |= REASON(ASW_R_APPLICATION_LIMIT_REACHED);

    /* 7-9: the multi-refund conditions, once something succeeded. */
    if (o->prior_success) {
        if (!asw_ruleset_shop_enabled(rules, ev->shop_id))
            r |= REASON(ASW_R_MULTI_REFUND_NOT_ENABLED);
        if (s->goods_type == ASW_GT_VIRTUAL || s->cross_border)
            r |= REASON(ASW_R_NOT_DOMESTIC_PHYSICAL_GOODS);
        if (asw_order_remaining(o) <= 0)
            r |= REASON(ASW_R_NO_REFUNDABLE_AMOUNT);
    }

    /* 10: never reserve more than remains, on the sub-order or the order. */
    if (ev->amount > 0 &&
        (ev->amount > asw_sku_remaining(sku) || ev->amount > asw_order_remaining(o)))
        r |= REASON(ASW_R_AMOUNT_EXCEEDS_REFUNDABLE);

    return r;
}

/* The ledger after a change, on the record's sub-order. */
static void fill_record(asw_refund_record *r, const asw_order *o, const asw_sku_state *sku,
                        asw_record_status status, int64_t amount, const asw_event *ev) {
    r->order_id = asw_order_id(o);
    r->sku_order_id = STR(o, sku->sku_order_id);
    r->status = status;
    r->amount = amount;
    r->order_paid = o->paid;
    r->order_refunded = o->refunded;
    r->order_reserved = o->reserved;
    r->order_remaining = asw_order_remaining(o);
    r->sku_paid = sku->paid;
    r->sku_refunded = sku->refunded;
    r->sku_reserved = sku->reserved;
    r->sku_remaining = asw_sku_remaining(sku);
    r->sku_refunds = sku->refund_successes;
    r->over_refund = o->refunded > o->paid || sku->refunded > sku->paid;
    r->event_time = ev->event_time;
}

static const char *order_shop(const asw_order *o) {
    return o->shop_id ? STR(o, o->shop_id) : NULL;
}

/* Origin, type and shop of a record about a counted application. */
static void record_from_app(asw_refund_record *r, const asw_order *o, const asw_app *a) {
    r->record_id = STR(o, a->aftersale_id);
    r->origin = ASW_ORIGIN_APPLICATION;
    r->has_aftersale_type = a->has_type;
    r->aftersale_type = (asw_aftersale_type)a->type;
    r->shop_id = a->shop_id ? STR(o, a->shop_id) : order_shop(o);
}

/* Book the paid amounts an event carries (SPEC: the latest valid event). */
static asw_sku_state *book_paid(asw_order *o, const asw_event *ev) {
    asw_sku_state *sku = will_change_sku(o, get_sku(o, ev->sku_order_id));
    bool snapshot = ev->type == ASW_EV_APPLIED;
    o->paid = snapshot ? ev->order.order_paid_amount : ev->order_paid_amount;
    sku->paid = snapshot ? ev->order.sku_paid_amount : ev->sku_paid_amount;
    return sku;
}

static void release(asw_order *o, asw_app *a) {
    asw_sku_state *sku = will_change_sku(o, get_sku(o, STR(o, a->sku_order_id)));
    o->reserved -= a->reserved;
    sku->reserved -= a->reserved;
    a->reserved = 0;
}

/* A counted application learnt of from a lifecycle event only (it may have
 * been decided, but was never counted). */
static asw_app *add_unmatched_app(asw_order *o, const asw_event *ev, asw_app_state state) {
    asw_str sku = get_sku(o, ev->sku_order_id)->sku_order_id;
    asw_app *a = get_any_app(o, ev->aftersale_id);
    a->sku_order_id = sku;
    a->shop_id = 0;
    a->has_type = 0;
    a->state = (uint8_t)state;
    a->reserved = 0;
    a->counted = 1;
    count(o, a);
    return a;
}

static void touch(asw_order *o, const asw_event *ev, asw_result *out) {
    will_change(o);
    if (ev->event_time > o->max_event_time)
        o->max_event_time = ev->event_time;
    out->state_changed = true;
}

static void apply_application(asw_order *o, const asw_ruleset *rules, const asw_event *ev,
                              const asw_source *src, asw_result *out) {
    bool oversized = application_oversized(ev);
    const asw_app *prev =
        ev->aftersale_id[0] && !oversized ? find_any_app(o, ev->aftersale_id) : NULL;
    if (prev && prev->decision) {
        /* Replay or redelivery: the original decision, flagged. */
        out->has_decision = true;
        asw_order_decision(o, prev, &out->decision);
        out->decision.duplicate = true;
        return;
    }
    if (ev->event_id[0] && !oversized && event_seen(o, ev->event_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }

    asw_reason_set reasons;
    const asw_sku_state *sku;
    if (application_invalid(ev)) {
        reasons = REASON(ASW_R_INVALID_REQUEST); /* and nothing else is checked */
        sku = find_sku(o, ev->sku_order_id);
    } else {
        sku = book_paid(o, ev);
        o->shop_id = shop_str(o, ev->shop_id);
        o->has_deadline = ev->order.has_deadline;
        o->deadline = ev->order.aftersale_deadline;
        reasons = decide(o, sku, rules, ev);
    }

    bool accepted = reasons == 0;
    asw_app *counted = NULL;
    if (accepted && ev->initiator == ASW_INIT_BUYER && !find_app(o, ev->aftersale_id)) {
        /* Counted and reserved. (One a lifecycle event already counted is
         * not: its lifecycle is over, so nothing is reserved again.) */
        asw_sku_state *s = will_change_sku(o, (asw_sku_state *)sku);
        counted = get_any_app(o, ev->aftersale_id);
        counted->sku_order_id = s->sku_order_id;
        counted->shop_id = o->shop_id;
        counted->has_type = 1;
        counted->type = (uint8_t)ev->aftersale_type;
        counted->state = ASW_APP_OPEN;
        counted->reserved = ev->amount;
        counted->counted = 1;
        count(o, counted);
        o->reserved += ev->amount;
        s->reserved += ev->amount;
    }
    sku = find_sku(o, ev->sku_order_id); /* the array may have moved */

    asw_decision d = {
        .aftersale_id = ev->aftersale_id,
        .order_id = ev->order_id,
        .sku_order_id = ev->sku_order_id,
        .shop_id = ev->shop_id,
        .initiator = ev->initiator,
        .outcome = accepted ? ASW_OUT_ACCEPTED : ASW_OUT_REJECTED,
        .reasons = reasons,
        .applications_used = asw_order_applications_used(o),
        .applications_limit = asw_ruleset_limit(rules),
        .order_remaining = asw_order_remaining(o),
        .sku_remaining = sku ? asw_sku_remaining(sku) : 0,
        .multi_refund = sku && sku->refund_successes > 0,
        .sku_prior_refunds = sku ? sku->refund_successes : 0,
        .duplicate = false,
        .event_time = ev->event_time,
        .ruleset_version = asw_ruleset_version(rules),
        .source_topic = src && src->topic ? src->topic : "",
        .source_partition = src ? src->partition : 0,
        .source_offset = src ? src->offset : 0,
    };
    out->has_decision = true;
    if (oversized) {
        /* Too long to keep: decided, but the state does not change. The
         * decision borrows the event's strings and the ruleset's. */
        out->decision = d;
        return;
    }
    if (ev->aftersale_id[0]) {
        asw_app *a = get_any_app(o, ev->aftersale_id);
        a->decision = remember_decision(o, &d);
        asw_order_decision(o, a, &out->decision);
    } else {
        /* Nothing to key a re-emission on: decided, but not remembered; its
         * event id is, so a redelivery is ignored. */
        out->decision = d;
        remember_event(o, ev->event_id);
    }
    if (counted) {
        const asw_app *a = find_app(o, ev->aftersale_id);
        out->has_record = true;
        fill_record(&out->record, o, sku, ASW_RS_PENDING, ev->amount, ev);
        record_from_app(&out->record, o, a);
    }
    touch(o, ev, out);
}

/* Withdrawn and Closed: an OPEN application ends, its reservation freed. */
static void apply_end(asw_order *o, const asw_event *ev, asw_app_state to, asw_record_status rs,
                      asw_result *out) {
    asw_app *a = find_app(o, ev->aftersale_id);
    bool unmatched = a == NULL;
    if (a && a->state != ASW_APP_OPEN) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    int64_t released = 0;
    if (a) {
        will_change_app(o, a);
        released = a->reserved;
        release(o, a);
        set_state(o, a, to);
    } else {
        a = add_unmatched_app(o, ev, to);
    }
    const asw_sku_state *sku = get_sku(o, STR(o, a->sku_order_id));
    out->has_record = true;
    fill_record(&out->record, o, sku, rs, released, ev);
    record_from_app(&out->record, o, a);
    out->record.unmatched = unmatched;
    touch(o, ev, out);
}

static void book_refund(asw_order *o, asw_sku_state *sku, int64_t amount) {
    o->refunded += amount;
    sku->refunded += amount;
    if (amount > 0)
        sku->refund_successes++;
    o->prior_success = true;
}

static void apply_succeeded(asw_order *o, const asw_event *ev, asw_result *out) {
    asw_app *a = find_app(o, ev->aftersale_id);
    if (a && a->state == ASW_APP_SUCCEEDED) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    bool unmatched = a == NULL;
    /* Money that moved is a fact: booked even after a withdraw or close. */
    if (a) {
        will_change_app(o, a);
        release(o, a);
        set_state(o, a, ASW_APP_SUCCEEDED);
    } else {
        add_unmatched_app(o, ev, ASW_APP_SUCCEEDED);
    }
    asw_sku_state *sku = book_paid(o, ev);
    book_refund(o, sku, ev->amount);
    a = find_app(o, ev->aftersale_id);
    out->has_record = true;
    fill_record(&out->record, o, sku, ASW_RS_SUCCEEDED, ev->amount, ev);
    record_from_app(&out->record, o, a);
    out->record.unmatched = unmatched;
    touch(o, ev, out);
}

static void apply_clawback(asw_order *o, const asw_event *ev, asw_result *out) {
    asw_sku_state *sku = will_change_sku(o, get_sku(o, ev->sku_order_id));
    o->refunded = o->refunded > ev->amount ? o->refunded - ev->amount : 0;
    sku->refunded = sku->refunded > ev->amount ? sku->refunded - ev->amount : 0;
    /* Claw-backs are told apart by event id only (SPEC 4). */
    remember_event(o, ev->event_id);
    sku = find_sku(o, ev->sku_order_id);

    asw_refund_record *r = &out->record;
    out->has_record = true;
    fill_record(r, o, sku, ASW_RS_CLAWED_BACK, ev->amount, ev);
    const asw_app *a = find_app(o, ev->refund_id);
    const asw_external *x = a ? NULL : find_external(o, ev->refund_id);
    if (a) {
        record_from_app(r, o, a);
    } else if (x) {
        r->record_id = STR(o, x->refund_id);
        r->origin = ASW_ORIGIN_EXTERNAL;
        r->has_kind = true;
        r->kind = (asw_external_kind)x->kind;
        r->shop_id = order_shop(o);
    } else {
        /* The refund it reverses was never seen; taken as an application's. */
        r->record_id = ev->refund_id;
        r->origin = ASW_ORIGIN_APPLICATION;
        r->shop_id = order_shop(o);
        r->unmatched = true;
    }
    touch(o, ev, out);
}

static void apply_external(asw_order *o, const asw_event *ev, asw_result *out) {
    if (find_external(o, ev->refund_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    if (ev->shop_id[0])
        o->shop_id = shop_str(o, ev->shop_id);
    asw_sku_state *sku = book_paid(o, ev);
    book_refund(o, sku, ev->amount);
    asw_order_put_external(o, ev->refund_id, ev->sku_order_id, ev->kind);
    sku = find_sku(o, ev->sku_order_id);

    asw_refund_record *r = &out->record;
    out->has_record = true;
    fill_record(r, o, sku, ASW_RS_RECORDED, ev->amount, ev);
    r->record_id = STR(o, find_external(o, ev->refund_id)->refund_id);
    r->origin = ASW_ORIGIN_EXTERNAL;
    r->has_kind = true;
    r->kind = ev->kind;
    r->shop_id = order_shop(o);
    touch(o, ev, out);
}

/* A fact that cannot be booked: returns why, or NULL when it is fine. */
static const char *fact_invalid(const asw_event *ev) {
    if (!ev->event_id[0])
        return "empty event_id";
    if (!ev->order_id[0])
        return "empty order_id";
    if (!ev->sku_order_id[0])
        return "empty sku_order_id";
    const char *id = ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL
                         ? ev->refund_id
                         : ev->aftersale_id;
    if (!id[0])
        return ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL ? "empty refund_id"
                                                                             : "empty aftersale_id";
    if (too_long(ev->event_id) || too_long(ev->order_id) || too_long(ev->sku_order_id) ||
        too_long(id) || (ev->shop_id && too_long(ev->shop_id)))
        return "an id longer than 128 bytes";
    if (ev->amount < 0)
        return "negative amount";
    if (asw_event_carries_paid(ev) && (ev->order_paid_amount < 0 || ev->sku_paid_amount < 0))
        return "negative paid amount";
    return NULL;
}

/* Does refunded + reserved + amount leave int64? */
static bool ledger_overflows(int64_t refunded, int64_t reserved, int64_t amount) {
    int64_t sum;
    return __builtin_add_overflow(refunded, reserved, &sum) ||
           __builtin_add_overflow(sum, amount, &sum);
}

/*
 * Would booking `amount` more break the ledger's invariant, refunded +
 * reserved <= INT64_MAX on the order and on the sub-order? (Only absurd
 * amounts can, but facts are not checked against paid.) The invariant is
 * what makes every remaining = paid - refunded - reserved exact: paid is
 * never negative, so that difference never wraps. Reservations keep it by
 * themselves: an accepted amount is at most what remains.
 */
static bool refund_overflows(const asw_order *o, const char *sku_id, int64_t amount) {
    const asw_sku_state *sku = find_sku(o, sku_id);
    return ledger_overflows(o->refunded, o->reserved, amount) ||
           (sku && ledger_overflows(sku->refunded, sku->reserved, amount));
}

/*
 * Deduplication by event id (SPEC 4: "any other event whose event_id was
 * seen before is ignored"). Event ids are unique per event (SPEC 3), so a
 * seen id means a redelivery; for most events the state already tells a
 * redelivery by the event's own key (a lifecycle event finds its
 * application no longer OPEN, a success finds it SUCCEEDED, an external
 * refund finds its refund_id). Only the events nothing else deduplicates --
 * claw-backs, and applications without an aftersale_id -- keep their event
 * id, which bounds the set by the events that need it.
 */
void asw_order_apply(asw_order *o, const asw_ruleset *rules, const asw_event *ev,
                     const asw_source *src, asw_result *out) {
    memset(out, 0, sizeof *out);
    out->status = ASW_APPLY_OK;
    if (ev->type == ASW_EV_APPLIED) {
        apply_application(o, rules, ev, src, out);
        return;
    }
    const char *why = fact_invalid(ev);
    if (why) {
        out->status = ASW_APPLY_INVALID;
        out->error = why;
        return;
    }
    if (event_seen(o, ev->event_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    if ((ev->type == ASW_EV_SUCCEEDED || ev->type == ASW_EV_EXTERNAL) &&
        refund_overflows(o, ev->sku_order_id, ev->amount)) {
        out->status = ASW_APPLY_INVALID;
        out->error = "amount overflows the ledger (refunded + reserved above 2^63 - 1 fen)";
        return;
    }
    switch (ev->type) {
    case ASW_EV_WITHDRAWN:
        apply_end(o, ev, ASW_APP_WITHDRAWN, ASW_RS_WITHDRAWN, out);
        break;
    case ASW_EV_CLOSED:
        apply_end(o, ev, ASW_APP_CLOSED, ASW_RS_CLOSED, out);
        break;
    case ASW_EV_SUCCEEDED:
        apply_succeeded(o, ev, out);
        break;
    case ASW_EV_CLAWED_BACK:
        apply_clawback(o, ev, out);
        break;
    case ASW_EV_EXTERNAL:
        apply_external(o, ev, out);
        break;
    default:
        out->status = ASW_APPLY_INVALID;
        out->error = "unknown event type";
        break;
    }
}
