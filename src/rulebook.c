/*
 * rulebook.c -- the ruleset as a function of event time (rulebook.h).
 *
 * The changes are kept sorted by (from, seq), each with the whole ruleset
 * in effect from its `from` on; a change added in the middle rebuilds the
 * rulesets after it. Books are small (a change per rollout step), so the
 * rebuild is a copy per later change, and a lookup is a binary search.
 */
#include "asw/rulebook.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

typedef struct entry {
    char *key;
    asw_rule_change change; /* owned copy */
    int64_t from, seq;
    asw_ruleset *after;
} entry;

struct asw_rulebook {
    asw_ruleset *base;
    entry *entries;
    size_t n, cap;
};

void asw_rule_change_clear(asw_rule_change *c) {
    free(c->shops);
    free(c->shop_id);
    memset(c, 0, sizeof *c);
}

int asw_rule_change_apply(const asw_rule_change *c, asw_ruleset *rs) {
    asw_ruleset *t = asw_ruleset_copy(rs);
    int rc = 0;
    switch (c->op) {
    case ASW_RULE_SET:
        if (!c->has_limit && !c->has_percent && !c->shops)
            rc = -1;
        if (rc == 0 && c->has_limit)
            rc = asw_ruleset_set_limit(t, c->limit);
        if (rc == 0 && c->has_percent)
            rc = asw_ruleset_set_percent(t, c->percent);
        if (rc == 0 && c->shops) {
            rc = asw_ruleset_set_shops(t, c->shops);
            if (rc == 0)
                asw_ruleset_clear_denied(t);
        }
        break;
    case ASW_RULE_ENABLE_SHOP:
        rc = asw_ruleset_enable_shop(t, c->shop_id);
        break;
    case ASW_RULE_DISABLE_SHOP:
        rc = asw_ruleset_disable_shop(t, c->shop_id);
        break;
    default:
        rc = -1;
    }
    if (rc == 0) {
        /* Swap the contents: rs takes t's, t (now rs's old) is freed. */
        asw_ruleset_swap(rs, t);
    }
    asw_ruleset_destroy(t);
    return rc;
}

bool asw_rule_change_valid(const asw_rule_change *c) {
    asw_ruleset *rs = asw_ruleset_new();
    bool ok = asw_rule_change_apply(c, rs) == 0;
    asw_ruleset_destroy(rs);
    return ok;
}

asw_rulebook *asw_rulebook_new(const asw_ruleset *base) {
    asw_rulebook *rb = asw_calloc(1, sizeof *rb);
    rb->base = asw_ruleset_copy(base);
    return rb;
}

void asw_rulebook_destroy(asw_rulebook *rb) {
    if (!rb)
        return;
    for (size_t i = 0; i < rb->n; i++) {
        free(rb->entries[i].key);
        asw_rule_change_clear(&rb->entries[i].change);
        asw_ruleset_destroy(rb->entries[i].after);
    }
    free(rb->entries);
    asw_ruleset_destroy(rb->base);
    free(rb);
}

static asw_rule_change change_copy(const asw_rule_change *c) {
    asw_rule_change d = *c;
    d.shops = asw_strdup(c->shops);
    d.shop_id = asw_strdup(c->shop_id);
    return d;
}

int asw_rulebook_add(asw_rulebook *rb, const char *key, const asw_rule_change *c, int64_t from,
                     int64_t seq) {
    for (size_t i = 0; i < rb->n; i++)
        if (strcmp(rb->entries[i].key, key) == 0)
            return 0;
    if (!asw_rule_change_valid(c))
        return -1;
    size_t at = rb->n;
    while (at > 0 && (rb->entries[at - 1].from > from ||
                      (rb->entries[at - 1].from == from && rb->entries[at - 1].seq > seq)))
        at--;
    if (rb->n == rb->cap) {
        rb->cap = rb->cap ? rb->cap * 2 : 8;
        rb->entries = asw_realloc(rb->entries, rb->cap * sizeof *rb->entries);
    }
    memmove(rb->entries + at + 1, rb->entries + at, (rb->n - at) * sizeof *rb->entries);
    rb->entries[at] = (entry){asw_strdup(key), change_copy(c), from, seq, NULL};
    rb->n++;
    /* Rebuild the rulesets from the new change on. A change that does not
     * apply where it lands (it was valid on the defaults) leaves the
     * ruleset as it was: the same for every reader of the same book. */
    for (size_t i = at; i < rb->n; i++) {
        asw_ruleset_destroy(rb->entries[i].after);
        rb->entries[i].after = asw_ruleset_copy(i == 0 ? rb->base : rb->entries[i - 1].after);
        (void)asw_rule_change_apply(&rb->entries[i].change, rb->entries[i].after);
    }
    return 1;
}

const asw_ruleset *asw_rulebook_at(const asw_rulebook *rb, int64_t t) {
    size_t lo = 0, hi = rb->n; /* the first entry with from > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rb->entries[mid].from <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? rb->base : rb->entries[lo - 1].after;
}

const asw_ruleset *asw_rulebook_base(const asw_rulebook *rb) {
    return rb->base;
}

size_t asw_rulebook_count(const asw_rulebook *rb) {
    return rb->n;
}

void asw_rulebook_get(const asw_rulebook *rb, size_t i, asw_rulebook_entry *out) {
    const entry *e = &rb->entries[i];
    *out = (asw_rulebook_entry){e->key, &e->change, e->from, e->seq, e->after};
}
