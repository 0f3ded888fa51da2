/*
 * test_ruleset.c -- unit tests of the ruleset: limit, multi-refund rollout
 * (list, "*", percentage by stable hash) and the version string.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/ruleset.h"

static char *version_of(const asw_ruleset *rs) {
    return strdup(asw_ruleset_version(rs));
}

Test(ruleset, defaults_are_limit_5_every_shop_percent_0) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_limit(rs), ASW_RULESET_DEFAULT_LIMIT);
    cr_assert_eq(asw_ruleset_limit(rs), 5);
    cr_assert(asw_ruleset_shop_enabled(rs, "any-shop"));
    cr_assert(asw_ruleset_shop_enabled(rs, ""));
    asw_ruleset_destroy(rs);
}

Test(ruleset, destroy_null_is_a_no_op) {
    asw_ruleset_destroy(NULL);
}

Test(ruleset, default_version_is_the_hash_of_the_documented_canonical_text) {
    /* Python: FNV-1a 32 of b"reasons=v1;limit=5;percent=0;shops=*"
     *   h = 0x811c9dc5; for c in text: h = ((h ^ c) * 0x01000193) % 2**32 */
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_str_eq(asw_ruleset_version(rs), "rs1-aa63de3c");
    cr_assert_eq(asw_ruleset_set_shops(rs, "c, a ,b"), 0);
    /* Same recipe over "reasons=v1;limit=5;percent=0;shops=a,b,c". */
    cr_assert_str_eq(asw_ruleset_version(rs), "rs1-01eb0f3a");
    cr_assert_eq(asw_ruleset_set_limit(rs, 7), 0);
    cr_assert_eq(asw_ruleset_set_percent(rs, 25), 0);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s2,s1"), 0);
    /* Same recipe over "reasons=v1;limit=7;percent=25;shops=s1,s2". */
    cr_assert_str_eq(asw_ruleset_version(rs), "rs1-84d09082");
    asw_ruleset_destroy(rs);
}

Test(ruleset, version_has_prefix_and_8_hex_digits) {
    asw_ruleset *rs = asw_ruleset_new();
    const char *v = asw_ruleset_version(rs);
    cr_assert_eq(strlen(v), 12);
    cr_assert_eq(strncmp(v, "rs1-", 4), 0);
    for (size_t i = 4; i < 12; i++)
        cr_assert(strchr("0123456789abcdef", v[i]) != NULL, "bad char in %s", v);
    asw_ruleset_destroy(rs);
}

Test(ruleset, version_is_stable_across_list_order_spacing_and_duplicates) {
    asw_ruleset *a = asw_ruleset_new();
    asw_ruleset *b = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(a, "s3,s1,s2"), 0);
    cr_assert_eq(asw_ruleset_set_shops(b, "  s1 ,s2,\ts3 , s1 "), 0);
    cr_assert_str_eq(asw_ruleset_version(a), asw_ruleset_version(b));
    asw_ruleset_destroy(a);
    asw_ruleset_destroy(b);
}

Test(ruleset, version_changes_when_limit_changes) {
    asw_ruleset *rs = asw_ruleset_new();
    char *before = version_of(rs);
    cr_assert_eq(asw_ruleset_set_limit(rs, 6), 0);
    cr_assert_str_neq(asw_ruleset_version(rs), before);
    cr_assert_eq(asw_ruleset_set_limit(rs, 5), 0);
    cr_assert_str_eq(asw_ruleset_version(rs), before);
    free(before);
    asw_ruleset_destroy(rs);
}

Test(ruleset, version_changes_when_shops_change) {
    asw_ruleset *rs = asw_ruleset_new();
    char *all = version_of(rs);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1"), 0);
    char *one = version_of(rs);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1,s2"), 0);
    char *two = version_of(rs);
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    char *none = version_of(rs);
    cr_assert_str_neq(all, one);
    cr_assert_str_neq(one, two);
    cr_assert_str_neq(two, none);
    cr_assert_str_neq(all, none);
    free(all);
    free(one);
    free(two);
    free(none);
    asw_ruleset_destroy(rs);
}

Test(ruleset, version_changes_when_percent_changes) {
    asw_ruleset *rs = asw_ruleset_new();
    char *before = version_of(rs);
    cr_assert_eq(asw_ruleset_set_percent(rs, 10), 0);
    cr_assert_str_neq(asw_ruleset_version(rs), before);
    free(before);
    asw_ruleset_destroy(rs);
}

Test(ruleset, limit_outside_1_to_1000_is_refused_and_changes_nothing) {
    asw_ruleset *rs = asw_ruleset_new();
    char *before = version_of(rs);
    cr_assert_eq(asw_ruleset_set_limit(rs, 0), -1);
    cr_assert_eq(asw_ruleset_set_limit(rs, -1), -1);
    cr_assert_eq(asw_ruleset_set_limit(rs, 1001), -1);
    cr_assert_eq(asw_ruleset_limit(rs), 5);
    cr_assert_str_eq(asw_ruleset_version(rs), before);
    cr_assert_eq(asw_ruleset_set_limit(rs, 1), 0);
    cr_assert_eq(asw_ruleset_limit(rs), 1);
    cr_assert_eq(asw_ruleset_set_limit(rs, 1000), 0);
    cr_assert_eq(asw_ruleset_limit(rs), 1000);
    free(before);
    asw_ruleset_destroy(rs);
}

Test(ruleset, percent_outside_0_to_100_is_refused_and_changes_nothing) {
    asw_ruleset *rs = asw_ruleset_new();
    char *before = version_of(rs);
    cr_assert_eq(asw_ruleset_set_percent(rs, -1), -1);
    cr_assert_eq(asw_ruleset_set_percent(rs, 101), -1);
    cr_assert_str_eq(asw_ruleset_version(rs), before);
    free(before);
    asw_ruleset_destroy(rs);
}

Test(ruleset, empty_list_entry_is_refused_and_changes_nothing) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1"), 0);
    char *before = version_of(rs);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1,,s2"), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1,"), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, ",s1"), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1, ,s2"), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, ","), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, NULL), -1);
    cr_assert_str_eq(asw_ruleset_version(rs), before);
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s2"));
    free(before);
    asw_ruleset_destroy(rs);
}

Test(ruleset, star_inside_a_list_is_refused) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "s1,*"), -1);
    cr_assert_eq(asw_ruleset_set_shops(rs, "*,*"), -1);
    asw_ruleset_destroy(rs);
}

Test(ruleset, star_enables_every_shop) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert_eq(asw_ruleset_set_shops(rs, " * "), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert(asw_ruleset_shop_enabled(rs, "anything"));
    asw_ruleset_destroy(rs);
}

Test(ruleset, listed_shops_are_enabled_and_others_are_not) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "s3, s1 ,s2,s1"), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s2"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s3"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s4"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s10"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, " s1"));
    cr_assert_not(asw_ruleset_shop_enabled(rs, ""));
    cr_assert_not(asw_ruleset_shop_enabled(rs, NULL));
    asw_ruleset_destroy(rs);
}

Test(ruleset, empty_list_enables_no_shop_by_list) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "   "), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1"));
    asw_ruleset_destroy(rs);
}

Test(ruleset, shop_bucket_is_fnv1a_64_mod_100) {
    /*
     * Expected values computed independently in Python:
     *   def fnv1a64(b):
     *       h = 0xcbf29ce484222325
     *       for c in b: h = ((h ^ c) * 0x100000001b3) % 2**64
     *       return h
     *   fnv1a64(id.encode()) % 100
     * "a" and "foobar" are the published FNV-1a 64 test vectors
     * (0xaf63dc4c8601ec8c and 0x85944171f73967e8).
     */
    cr_assert_eq(asw_ruleset_shop_bucket("a"), 96);
    cr_assert_eq(asw_ruleset_shop_bucket("foobar"), 68);
    cr_assert_eq(asw_ruleset_shop_bucket(""), 37); /* 0xcbf29ce484222325 % 100 */
    cr_assert_eq(asw_ruleset_shop_bucket("s1"), 29);
    cr_assert_eq(asw_ruleset_shop_bucket("shop-1"), 55);
    cr_assert_eq(asw_ruleset_shop_bucket("shop-2"), 66);
    cr_assert_eq(asw_ruleset_shop_bucket("12345"), 4);
    cr_assert_eq(asw_ruleset_shop_bucket("merchant-42"), 14);
}

Test(ruleset, percent_enables_shops_whose_bucket_is_below_it) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    cr_assert_eq(asw_ruleset_set_percent(rs, 30), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "12345"));       /* bucket 4 */
    cr_assert(asw_ruleset_shop_enabled(rs, "merchant-42")); /* bucket 14 */
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));          /* bucket 29 */
    cr_assert_not(asw_ruleset_shop_enabled(rs, "shop-1"));  /* bucket 55 */
    cr_assert_eq(asw_ruleset_set_percent(rs, 29), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1")); /* 29 < 29 is false */
    asw_ruleset_destroy(rs);
}

Test(ruleset, percent_adds_to_the_list) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "shop-1"), 0); /* bucket 55 */
    cr_assert_eq(asw_ruleset_set_percent(rs, 10), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "shop-1"));
    cr_assert(asw_ruleset_shop_enabled(rs, "12345"));      /* bucket 4 */
    cr_assert_not(asw_ruleset_shop_enabled(rs, "shop-2")); /* bucket 66 */
    asw_ruleset_destroy(rs);
}

Test(ruleset, percent_0_enables_no_shop_beyond_the_list) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    cr_assert_eq(asw_ruleset_set_percent(rs, 0), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "12345")); /* bucket 4 */
    cr_assert_not(asw_ruleset_shop_enabled(rs, "a"));     /* bucket 96 */
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "shop-%d", i);
        cr_assert_not(asw_ruleset_shop_enabled(rs, id), "%s enabled at 0%%", id);
    }
    asw_ruleset_destroy(rs);
}

Test(ruleset, percent_100_enables_every_shop) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    cr_assert_eq(asw_ruleset_set_percent(rs, 100), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "a")); /* bucket 96 */
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "shop-%d", i);
        cr_assert(asw_ruleset_shop_enabled(rs, id), "%s not enabled at 100%%", id);
    }
    asw_ruleset_destroy(rs);
}

Test(ruleset, shop_bucket_is_always_within_0_to_99) {
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%d", i);
        int32_t b = asw_ruleset_shop_bucket(id);
        cr_assert(b >= 0 && b <= 99, "bucket of %s is %d", id, (int)b);
    }
}
