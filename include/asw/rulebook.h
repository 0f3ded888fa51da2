/*
 * rulebook.h -- the ruleset as a function of event time: a base ruleset
 * (the properties file's rules.* keys) and the changes of the ruleset
 * control topic (docs/rules.md), each applying from a time on. An event is
 * decided by the ruleset in effect at its event_time, so the same events
 * and the same changes give the same decisions whatever order the two
 * arrive in.
 *
 * Pure: no I/O. The JSON form of a change and the topic reader are in
 * rules_codec.h and rules_topic.h.
 */
#ifndef ASW_RULEBOOK_H
#define ASW_RULEBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum asw_rule_op {
    ASW_RULE_SET,          /* set the limit, the shop list and/or the percentage */
    ASW_RULE_ENABLE_SHOP,  /* put one shop in the rollout */
    ASW_RULE_DISABLE_SHOP, /* take one shop out of it */
} asw_rule_op;

/* One change of the ruleset. `shops` (SET; NULL: unchanged) is "*" or ids
 * joined by ","; setting it also ends every exclusion. */
typedef struct asw_rule_change {
    asw_rule_op op;
    int64_t effective_time; /* event time (ms) from which it applies, as written */
    bool has_limit, has_percent;
    int32_t limit, percent; /* SET */
    char *shops;            /* SET, owned */
    char *shop_id;          /* ENABLE_SHOP / DISABLE_SHOP, owned */
} asw_rule_change;

void asw_rule_change_clear(asw_rule_change *c);
/* Apply the change to rs. Returns 0, or -1 (rs unchanged) when a value is
 * one the ruleset refuses, or a SET changes nothing. */
int asw_rule_change_apply(const asw_rule_change *c, asw_ruleset *rs);
/* Does it apply to the default ruleset (every value in range)? */
bool asw_rule_change_valid(const asw_rule_change *c);

typedef struct asw_rulebook asw_rulebook;

/* A rulebook with no change: `base` is copied. Never NULL. */
asw_rulebook *asw_rulebook_new(const asw_ruleset *base);
void asw_rulebook_destroy(asw_rulebook *rb);

/*
 * Add a change that applies from event time `from` on, `seq` ordering the
 * changes of one `from` (the control record's offset). The change is
 * copied. `key` names it (the record key): a second change under a key
 * already in the book is ignored, whatever it holds (the tool writes the
 * same key only for the same change). Returns 1 added, 0 ignored, -1
 * refused (invalid: nothing changes).
 */
int asw_rulebook_add(asw_rulebook *rb, const char *key, const asw_rule_change *c, int64_t from,
                     int64_t seq);

/* The ruleset in effect at event time t: the base with every change whose
 * `from` is at most t applied in (from, seq) order. Owned by the book; valid
 * until the next asw_rulebook_add(). */
const asw_ruleset *asw_rulebook_at(const asw_rulebook *rb, int64_t t);
const asw_ruleset *asw_rulebook_base(const asw_rulebook *rb);

/* The changes in order of effect. */
size_t asw_rulebook_count(const asw_rulebook *rb);
typedef struct asw_rulebook_entry {
    const char *key;
    const asw_rule_change *change;
    int64_t from, seq;
    const asw_ruleset *after; /* the ruleset from `from` on */
} asw_rulebook_entry;
void asw_rulebook_get(const asw_rulebook *rb, size_t i, asw_rulebook_entry *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_RULEBOOK_H */
