/*
 * ruleset.h -- the ruleset of SPEC section 4: the application limit, the
 * multi-refund rollout and the reason order, with a version that changes
 * whenever any of them changes.
 */
#ifndef ASW_RULESET_H
#define ASW_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASW_RULESET_DEFAULT_LIMIT 5
/* The longest shop id a rollout change names (SPEC section 4: text fields
 * are at most 128 bytes). */
#define ASW_RULESET_SHOP_MAX 128

typedef struct asw_buf asw_buf;

typedef struct asw_ruleset asw_ruleset;

/* A ruleset with the defaults: limit 5, every shop in the rollout.
 * Never returns NULL (out of memory aborts). */
asw_ruleset *asw_ruleset_new(void);
void asw_ruleset_destroy(asw_ruleset *rs);

/* Setters; each recomputes the version. Return 0, or -1 on a bad value
 * (and change nothing). */
int asw_ruleset_set_limit(asw_ruleset *rs, int32_t limit); /* 1..1000 */
/* "*" (every shop) or a comma-separated list of shop ids; spaces around
 * ids are trimmed; an empty list means no shop by list. */
int asw_ruleset_set_shops(asw_ruleset *rs, const char *spec);
/* 0..100: shops whose stable hash falls below the percentage are in the
 * rollout too (in addition to the list). */
int asw_ruleset_set_percent(asw_ruleset *rs, int32_t percent);

/* A deep copy. Never NULL. */
asw_ruleset *asw_ruleset_copy(const asw_ruleset *rs);

/* Put a shop in the rollout: it is no longer excluded, and it joins the
 * list unless every shop is in ("*"). Take one out: it leaves the list and
 * is excluded, which wins over "*" and the percentage. The id must be
 * 1..ASW_RULESET_SHOP_MAX bytes, without ',' or blanks at either end, and
 * not "*"; returns 0, or -1 (rs unchanged). */
int asw_ruleset_enable_shop(asw_ruleset *rs, const char *shop_id);
int asw_ruleset_disable_shop(asw_ruleset *rs, const char *shop_id);

/* End every exclusion. */
void asw_ruleset_clear_denied(asw_ruleset *rs);
/* Exchange the contents of two rulesets. */
void asw_ruleset_swap(asw_ruleset *a, asw_ruleset *b);

int32_t asw_ruleset_limit(const asw_ruleset *rs);
int32_t asw_ruleset_percent(const asw_ruleset *rs);
/* Append the shop list ("*", or the ids joined by ",") / the excluded
 * shops (ids joined by ",", empty for none). */
void asw_ruleset_shops_text(const asw_ruleset *rs, asw_buf *out);
void asw_ruleset_denied_text(const asw_ruleset *rs, asw_buf *out);
/* Is the shop in the multi-refund rollout? */
bool asw_ruleset_shop_enabled(const asw_ruleset *rs, const char *shop_id);
/* The version string, e.g. "rs1-5d41402a"; valid until the next setter. */
const char *asw_ruleset_version(const asw_ruleset *rs);

/* The stable hash bucket (0..99) of a shop id: FNV-1a 64 of its bytes mod 100. */
int32_t asw_ruleset_shop_bucket(const char *shop_id);

#ifdef __cplusplus
}
#endif
#endif /* ASW_RULESET_H */
