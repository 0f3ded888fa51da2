/*
 * test_rulebook.c -- the ruleset by event time (rulebook.h), shop
 * exclusions (ruleset.h), and the JSON form of a change (rules_codec.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asw/buf.h"
#include "asw/rulebook.h"
#include "asw/rules_codec.h"
#include "asw/rules_topic.h"
#include "asw/ruleset.h"

static asw_rule_change shop_change(asw_rule_op op, const char *shop, int64_t t) {
    asw_rule_change c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.effective_time = t;
    c.shop_id = strdup(shop);
    return c;
}

static asw_rule_change parse(const char *json) {
    asw_rule_change c;
    char err[256];
    cr_assert_eq(asw_rule_change_parse(json, strlen(json), &c, err, sizeof err), 0, "%s: %s", json,
                 err);
    return c;
}

static void refused(const char *json, const char *why) {
    asw_rule_change c;
    char err[256] = "";
    cr_assert_eq(asw_rule_change_parse(json, strlen(json), &c, err, sizeof err), -1, "%s", json);
    cr_assert(strstr(err, why) != NULL, "%s: '%s' does not say '%s'", json, err, why);
    cr_assert_null(c.shops);
    cr_assert_null(c.shop_id);
}

static char *format(const asw_rule_change *c) {
    asw_buf b = ASW_BUF_INIT;
    asw_rule_change_format(c, &b);
    asw_buf_append(&b, "", 1);
    return (char *)b.data;
}

Test(ruleset, an_excluded_shop_is_out_whatever_the_list_star_or_percentage_say) {
    asw_ruleset *rs = asw_ruleset_new(); /* "*" */
    cr_assert_eq(asw_ruleset_disable_shop(rs, "s1"), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s2"));
    cr_assert_eq(asw_ruleset_set_shops(rs, ""), 0);
    cr_assert_eq(asw_ruleset_set_percent(rs, 100), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1"), "exclusion wins over 100%%");
    cr_assert(asw_ruleset_shop_enabled(rs, "s2"));
    cr_assert_eq(asw_ruleset_enable_shop(rs, "s1"), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    asw_ruleset_destroy(rs);
}

Test(ruleset, enable_joins_the_list_disable_leaves_it) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_set_shops(rs, "s9"), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s1"));
    cr_assert_eq(asw_ruleset_enable_shop(rs, "s1"), 0);
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    /* Same recipe as test_ruleset.c over "...;shops=s1,s9". */
    asw_buf b = ASW_BUF_INIT;
    asw_ruleset_shops_text(rs, &b);
    cr_assert_eq(b.len, 5);
    cr_assert_eq(memcmp(b.data, "s1,s9", 5), 0);
    asw_buf_free(&b);
    cr_assert_eq(asw_ruleset_disable_shop(rs, "s9"), 0);
    cr_assert_not(asw_ruleset_shop_enabled(rs, "s9"));
    cr_assert(asw_ruleset_shop_enabled(rs, "s1"));
    asw_ruleset_destroy(rs);
}

Test(ruleset, exclusions_have_their_documented_version_and_none_keeps_the_old_one) {
    asw_ruleset *rs = asw_ruleset_new();
    cr_assert_eq(asw_ruleset_disable_shop(rs, "s2"), 0);
    cr_assert_eq(asw_ruleset_disable_shop(rs, "s1"), 0);
    cr_assert_eq(asw_ruleset_set_shops(rs, "*"), 0);
    /* FNV-1a 32 of "reasons=v1;limit=5;percent=0;denied=2:s12:s2;shops=*"
     * (python, as in test_ruleset.c). */
    cr_assert_str_eq(asw_ruleset_version(rs), "rs1-65cde00c");
    asw_ruleset_clear_denied(rs);
    cr_assert_str_eq(asw_ruleset_version(rs), "rs1-aa63de3c", "the default's version again");
    asw_ruleset_destroy(rs);
}

Test(ruleset, bad_shop_ids_are_refused_and_change_nothing) {
    asw_ruleset *rs = asw_ruleset_new();
    const char *before = asw_ruleset_version(rs);
    char v[16];
    snprintf(v, sizeof v, "%s", before);
    char long_id[200];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const char *bad[] = {"", "*", "a,b", " s1", "s1 ", long_id};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(asw_ruleset_enable_shop(rs, bad[i]), -1, "'%s'", bad[i]);
        cr_assert_eq(asw_ruleset_disable_shop(rs, bad[i]), -1, "'%s'", bad[i]);
    }
    cr_assert_eq(asw_ruleset_enable_shop(rs, NULL), -1);
    cr_assert_str_eq(asw_ruleset_version(rs), v);
    asw_ruleset_destroy(rs);
}

Test(rulebook, each_event_time_gets_the_ruleset_of_the_changes_up_to_it) {
    asw_ruleset *base = asw_ruleset_new();
    asw_ruleset_set_shops(base, "s0");
    asw_rulebook *rb = asw_rulebook_new(base);
    asw_ruleset_destroy(base);
    asw_rule_change on = shop_change(ASW_RULE_ENABLE_SHOP, "s1", 1000);
    asw_rule_change off = shop_change(ASW_RULE_DISABLE_SHOP, "s1", 2000);
    /* Added in the other order: the book orders by time, not arrival. */
    cr_assert_eq(asw_rulebook_add(rb, "k-off", &off, 2000, 1), 1);
    cr_assert_eq(asw_rulebook_add(rb, "k-on", &on, 1000, 0), 1);
    cr_assert_not(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 999), "s1"));
    cr_assert(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 1000), "s1"));
    cr_assert(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 1999), "s1"));
    cr_assert_not(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 2000), "s1"));
    cr_assert(asw_ruleset_shop_enabled(asw_rulebook_at(rb, INT64_MAX), "s0"));
    cr_assert_eq(asw_rulebook_at(rb, INT64_MIN), asw_rulebook_base(rb));
    cr_assert_eq(asw_rulebook_count(rb), 2);
    asw_rulebook_entry e;
    asw_rulebook_get(rb, 0, &e);
    cr_assert_str_eq(e.key, "k-on");
    cr_assert_eq(e.from, 1000);
    /* A key already in is ignored, whatever it holds. */
    cr_assert_eq(asw_rulebook_add(rb, "k-on", &off, 500, 9), 0);
    cr_assert_eq(asw_rulebook_count(rb), 2);
    cr_assert(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 1500), "s1"));
    asw_rule_change_clear(&on);
    asw_rule_change_clear(&off);
    asw_rulebook_destroy(rb);
}

Test(rulebook, one_time_applies_changes_in_seq_order_and_the_same_book_gives_the_same_version) {
    asw_ruleset *base = asw_ruleset_new();
    asw_rulebook *a = asw_rulebook_new(base), *b = asw_rulebook_new(base);
    asw_ruleset_destroy(base);
    asw_rule_change on = shop_change(ASW_RULE_ENABLE_SHOP, "s1", 100);
    asw_rule_change off = shop_change(ASW_RULE_DISABLE_SHOP, "s1", 100);
    cr_assert_eq(asw_rulebook_add(a, "on", &on, 100, 1), 1);
    cr_assert_eq(asw_rulebook_add(a, "off", &off, 100, 2), 1);
    cr_assert_eq(asw_rulebook_add(b, "off", &off, 100, 2), 1);
    cr_assert_eq(asw_rulebook_add(b, "on", &on, 100, 1), 1);
    cr_assert_not(asw_ruleset_shop_enabled(asw_rulebook_at(a, 100), "s1"), "off is later");
    cr_assert_str_eq(asw_ruleset_version(asw_rulebook_at(a, 100)),
                     asw_ruleset_version(asw_rulebook_at(b, 100)));
    asw_rule_change_clear(&on);
    asw_rule_change_clear(&off);
    asw_rulebook_destroy(a);
    asw_rulebook_destroy(b);
}

Test(rulebook, an_invalid_change_is_refused) {
    asw_ruleset *base = asw_ruleset_new();
    asw_rulebook *rb = asw_rulebook_new(base);
    asw_ruleset_destroy(base);
    asw_rule_change c;
    memset(&c, 0, sizeof c);
    c.op = ASW_RULE_SET; /* sets nothing */
    cr_assert_eq(asw_rulebook_add(rb, "k", &c, 0, 0), -1);
    c.has_limit = true;
    c.limit = 0;
    cr_assert_eq(asw_rulebook_add(rb, "k", &c, 0, 0), -1);
    cr_assert_eq(asw_rulebook_count(rb), 0);
    asw_rulebook_destroy(rb);
}

Test(rules_codec, canonical_form_and_key_do_not_depend_on_how_it_was_written) {
    asw_rule_change a = parse("{\"shops\":\"s2, s1,s1\",\"op\":\"set\",\"limit\":3,"
                              "\"effective_time\":1767225600000}");
    asw_rule_change b = parse("{\"op\":\"set\",\"effective_time\":1767225600000,\"limit\":3,"
                              "\"shops\":\"s1,s2\"}");
    char *fa = format(&a), *fb = format(&b);
    cr_assert_str_eq(fa, "{\"op\":\"set\",\"effective_time\":1767225600000,\"limit\":3,"
                         "\"shops\":\"s1,s2\"}");
    cr_assert_str_eq(fa, fb);
    char ka[ASW_RULE_KEY_LEN], kb[ASW_RULE_KEY_LEN];
    asw_rule_change_key(&a, ka);
    asw_rule_change_key(&b, kb);
    cr_assert_str_eq(ka, kb);
    cr_assert_eq(strlen(ka), 19);
    cr_assert_eq(strncmp(ka, "rc-", 3), 0);
    /* A different time is a different change. */
    b.effective_time++;
    asw_rule_change_key(&b, kb);
    cr_assert_str_neq(ka, kb);
    /* Round trip. */
    asw_rule_change c = parse(fa);
    char *fc = format(&c);
    cr_assert_str_eq(fa, fc);
    free(fa);
    free(fb);
    free(fc);
    asw_rule_change_clear(&a);
    asw_rule_change_clear(&b);
    asw_rule_change_clear(&c);
}

Test(rules_codec, what_the_worker_refuses) {
    refused("not json", "invalid JSON");
    refused("[1]", "JSON object");
    refused("{\"op\":\"drop\",\"effective_time\":1}", "\"op\" must be one of");
    refused("{\"op\":\"set\",\"limit\":5}", "\"effective_time\" must be an integer");
    refused("{\"op\":\"set\",\"effective_time\":-1,\"limit\":5}", "\"effective_time\" must be in");
    refused("{\"op\":\"set\",\"effective_time\":1}", "at least one of");
    refused("{\"op\":\"set\",\"effective_time\":1,\"limit\":0}", "\"limit\" must be in 1..1000");
    refused("{\"op\":\"set\",\"effective_time\":1,\"percent\":101}", "\"percent\" must be in");
    refused("{\"op\":\"set\",\"effective_time\":1,\"shops\":\"a,,b\"}", "\"shops\" must be");
    refused("{\"op\":\"set\",\"effective_time\":1,\"limit\":5,\"shop_id\":\"s1\"}",
            "unknown key \"shop_id\"");
    refused("{\"op\":\"enable_shop\",\"effective_time\":1}", "\"shop_id\" must be a string");
    refused("{\"op\":\"enable_shop\",\"effective_time\":1,\"shop_id\":\"*\"}", "\"shop_id\"");
    refused("{\"op\":\"disable_shop\",\"effective_time\":1,\"shop_id\":\"s1\",\"limit\":3}",
            "unknown key \"limit\"");
    refused("{\"op\":\"set\",\"effective_time\":1,\"limit\":5,\"limit\":6}", "invalid JSON");
}

Test(rules_codec, a_change_applies_from_its_time_but_never_before_its_record_plus_the_lead) {
    asw_rule_change c = shop_change(ASW_RULE_ENABLE_SHOP, "s1", 10000);
    cr_assert_eq(asw_rules_applies_from(&c, 5000, 2000), 10000);
    cr_assert_eq(asw_rules_applies_from(&c, 9000, 2000), 11000, "written late: from T + lead");
    cr_assert_eq(asw_rules_applies_from(&c, -1, 2000), 10000, "no timestamp: as written");
    asw_rule_change_clear(&c);
}

Test(rules_codec, a_ruleset_file_reads_changes_and_show_entries) {
    char path[] = "/tmp/asw-rules-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# a comment\n"
          "{\"op\":\"enable_shop\",\"effective_time\":1000,\"shop_id\":\"s1\"}\n"
          "\n"
          "{\"key\":\"x\",\"offset\":7,\"applies_from\":3000,\"change\":{\"op\":\"disable_shop\","
          "\"effective_time\":2000,\"shop_id\":\"s1\"},\"version\":\"ignored\"}\n",
          f);
    fclose(f);
    asw_ruleset *base = asw_ruleset_new();
    asw_ruleset_set_shops(base, "");
    asw_rulebook *rb = asw_rulebook_new(base);
    asw_ruleset_destroy(base);
    char err[256];
    cr_assert_eq(asw_rulebook_load_file(rb, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(asw_rulebook_count(rb), 2);
    cr_assert(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 2999), "s1"), "applies_from wins");
    cr_assert_not(asw_ruleset_shop_enabled(asw_rulebook_at(rb, 3000), "s1"));
    asw_rulebook_entry e;
    asw_rulebook_get(rb, 1, &e);
    cr_assert_eq(e.seq, 7);

    f = fopen(path, "w");
    fputs("{\"op\":\"enable_shop\",\"effective_time\":1000,\"shop_id\":\"s1\"}\n{\"op\":\"x\"}\n",
          f);
    fclose(f);
    cr_assert_eq(asw_rulebook_load_file(rb, path, err, sizeof err), -1);
    char want[64];
    snprintf(want, sizeof want, "%s:2: ", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "'%s'", err);
    unlink(path);
    asw_rulebook_destroy(rb);
}
