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

int32_t asw_ruleset_limit(const asw_ruleset *rs);
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
