/*
 * test_changelog.c -- the changelog's records: what a transaction writes
 * rebuilds the same partition state, stream time included; a corrupt record
 * is harmless once a later record of its key supersedes it, and otherwise
 * makes the restore fail instead of restoring a half state.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/changelog.h"
#include "asw/gen.h"
#include "asw/varint.h"
#include "support.h"

typedef struct rec {
    char *key;
    size_t keylen;
    void *value; /* NULL: tombstone */
    size_t len;
} rec;

static struct {
    const char *input_topic; /* of the partition written and restored */
    asw_ruleset *rules;
    asw_codec *codec;
    asw_state_limits limits;
    rec *recs;
    size_t n, cap;
} fx;

static void setup(void) {
    char err[256];
    fx.rules = asw_ruleset_new();
    fx.codec = asw_codec_new(err, sizeof err);
    cr_assert_not_null(fx.codec, "%s", err);
    fx.input_topic = "t";
    fx.limits.retention_ms = 90LL * 86400000;
    fx.limits.max_step_ms = 3600000;
}

/* Forget the collected records. */
static void clear_recs(void) {
    for (size_t i = 0; i < fx.n; i++) {
        free(fx.recs[i].key);
        free(fx.recs[i].value);
    }
    free(fx.recs);
    fx.recs = NULL;
    fx.n = fx.cap = 0;
}

static void teardown(void) {
    clear_recs();
    asw_codec_destroy(fx.codec);
    asw_ruleset_destroy(fx.rules);
    t_reset();
}

TestSuite(changelog, .init = setup, .fini = teardown);

static void push(const void *key, size_t keylen, const void *value, size_t len) {
    if (fx.n == fx.cap) {
        fx.cap = fx.cap ? fx.cap * 2 : 64;
        fx.recs = realloc(fx.recs, fx.cap * sizeof *fx.recs);
    }
    rec *r = &fx.recs[fx.n++];
    r->key = malloc(keylen + 1);
    memcpy(r->key, key, keylen);
    r->keylen = keylen;
    r->value = value ? malloc(len) : NULL;
    if (value)
        memcpy(r->value, value, len);
    r->len = len;
}

static int collect(void *opaque, const void *key, size_t keylen, const void *value, size_t len) {
    (void)opaque;
    push(key, keylen, value, len);
    return 0;
}

/* Give order O000001 more entities than a whole record holds (external
 * refunds of its sub-order O000001-1): it is split for good, so its
 * changelog is a ledger record and entity records. */
static void split_first_order(asw_processor *p, asw_source *src) {
    char eid[32];
    for (int i = 0; i <= ASW_WHOLE_ENTITIES; i++, src->offset++) {
        snprintf(eid, sizeof eid, "split-%d", i);
        asw_event ev = t_external(eid, eid, "O000001-1", ASW_EK_OFFLINE, 1);
        t_set(&ev.order_id, "O000001");
        asw_result res;
        asw_processor_apply(p, &ev, src, &res);
        cr_assert_eq(res.status, ASW_APPLY_OK);
        asw_event_clear(&ev);
    }
    cr_assert(asw_processor_get(p, "O000001")->split);
}

/* Feed a generated stream, writing the changelog every `every` events
 * (with O000001 split first when `split`). */
static asw_processor *feed_and_write_split(uint64_t seed, int32_t orders, int every, bool split) {
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, true);
    asw_gen *g = asw_gen_new(seed, orders, 8);
    asw_buf buf = ASW_BUF_INIT;
    asw_source src = {"t", 0, 0};
    asw_event ev;
    char err[256];
    if (split)
        split_first_order(p, &src);
    for (int i = 1; asw_gen_next(g, &ev); i++, src.offset++) {
        asw_result res;
        asw_processor_apply(p, &ev, &src, &res);
        asw_event_clear(&ev);
        if (i % every == 0) {
            cr_assert_eq(asw_changelog_write(fx.codec, p, fx.input_topic, &buf, collect, NULL, err,
                                             sizeof err),
                         0);
            asw_processor_checkpoint(p);
        }
    }
    cr_assert_eq(
        asw_changelog_write(fx.codec, p, fx.input_topic, &buf, collect, NULL, err, sizeof err), 0);
    asw_processor_checkpoint(p);
    asw_buf_free(&buf);
    asw_gen_destroy(g);
    return p;
}

static asw_processor *feed_and_write(uint64_t seed, int32_t orders, int every) {
    return feed_and_write_split(seed, orders, every, false);
}

/* Restore every collected record into a fresh processor. */
static asw_processor *restore_all(int *rc, char *err, size_t errlen) {
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, true);
    asw_changelog_restore *r = asw_changelog_restore_new(fx.codec, p, fx.input_topic);
    for (size_t i = 0; i < fx.n; i++)
        asw_changelog_restore_add(r, fx.recs[i].key, fx.recs[i].keylen, fx.recs[i].value,
                                  fx.recs[i].len, (int64_t)i);
    *rc = asw_changelog_restore_finish(r, err, errlen);
    asw_changelog_restore_destroy(r);
    return p;
}

/* Restore every collected record: it must succeed and equal p. */
static void assert_restores_equal(const asw_processor *p) {
    int rc;
    char err[512];
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(asw_processor_equal(p, back), "the restored state differs");
    asw_processor_destroy(back);
}

Test(changelog, what_transactions_write_rebuilds_the_same_state_and_stream_time) {
    asw_processor *p = feed_and_write(7, 200, 25);
    bool has_partition_record = false;
    for (size_t i = 0; i < fx.n; i++)
        if (fx.recs[i].keylen == ASW_CHANGELOG_PARTITION_KEY_LEN &&
            memcmp(fx.recs[i].key, ASW_CHANGELOG_PARTITION_KEY, fx.recs[i].keylen) == 0)
            has_partition_record = true;
    cr_assert(has_partition_record, "stream time is written");
    assert_restores_equal(p);
    asw_processor_destroy(p);
}

/* The index of the last record of order `id`. */
static size_t last_of(const char *id) {
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < fx.n; i++)
        if (fx.recs[i].keylen == strlen(id) && memcmp(fx.recs[i].key, id, fx.recs[i].keylen) == 0)
            at = i;
    cr_assert_neq(at, SIZE_MAX, "no record of %s", id);
    return at;
}

static void corrupt_value(rec *r) {
    cr_assert_not_null(r->value);
    cr_assert_gt(r->len, 8);
    memset((char *)r->value + 5, 0xff, r->len - 5); /* a body no decoder reads */
}

Test(changelog, a_corrupt_record_that_a_later_record_supersedes_is_harmless) {
    asw_processor *p = feed_and_write(3, 40, 10);
    /* Corrupt every record of order O000001 but its last one. */
    size_t last = last_of("O000001"), corrupted = 0;
    for (size_t i = 0; i < last; i++)
        if (fx.recs[i].keylen == 7 && memcmp(fx.recs[i].key, "O000001", 7) == 0) {
            corrupt_value(&fx.recs[i]);
            corrupted++;
        }
    cr_assert_gt(corrupted, 0);
    /* A record with an unknown schema id, superseded by a tombstone. */
    uint8_t unknown[] = {0, 0, 0, 0x7f, 0x7f, 1, 2, 3};
    push("O-gone", 6, unknown, sizeof unknown);
    push("O-gone", 6, NULL, 0);
    assert_restores_equal(p);
    asw_processor_destroy(p);
}

Test(changelog, a_corrupt_record_nothing_supersedes_fails_the_restore_and_names_it) {
    asw_processor *p = feed_and_write(3, 40, 10);
    size_t last = last_of("O000002");
    corrupt_value(&fx.recs[last]);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    char want[64];
    snprintf(want, sizeof want, "offset %zu, key 'O000002'", last);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "1 corrupt changelog record"), "%s", err);
    /* The earlier, valid state of the order is not kept as if current. */
    cr_assert_null(asw_processor_get(back, "O000002"));
    asw_processor_destroy(p);
    asw_processor_destroy(back);
}

Test(changelog, a_record_of_another_kind_than_its_key_or_a_foreign_key_is_corrupt) {
    asw_processor *p = feed_and_write_split(3, 10, 10, true);
    /* The order's ledger value under a sub-order key. */
    rec *r = &fx.recs[last_of("O000001")];
    push("O000001\0SO000001-9", 18, r->value, r->len);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "another kind than its key"), "%s", err);
    asw_processor_destroy(back);
    push("O000001\0SO000001-9", 18, NULL, 0);
    /* A key with a NUL byte and no entity kind after it. */
    push("\0x", 2, r->value, r->len);
    back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "key '\\x00x'"), "%s", err);
    asw_processor_destroy(back);
    asw_processor_destroy(p);
}

Test(changelog, entity_records_without_their_orders_ledger_fail_the_restore) {
    asw_processor *p = feed_and_write_split(3, 10, 10, true);
    /* Lose every ledger record of O000001, keep its entity records. */
    size_t kept = 0;
    for (size_t i = 0; i < fx.n; i++) {
        if (fx.recs[i].keylen == 7 && memcmp(fx.recs[i].key, "O000001", 7) == 0) {
            free(fx.recs[i].key);
            free(fx.recs[i].value);
            continue;
        }
        fx.recs[kept++] = fx.recs[i];
    }
    cr_assert_lt(kept, fx.n);
    fx.n = kept;
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "without their order's record"), "%s", err);
    cr_assert_null(asw_processor_get(back, "O000001"), "no half state is kept");
    asw_processor_destroy(back);
    asw_processor_destroy(p);
}

Test(changelog, a_corrupt_partition_record_fails_unless_superseded) {
    asw_processor *p = feed_and_write(5, 20, 10);
    uint8_t junk[] = {0, 0, 0, 0, 21, 0xff, 0xff};
    push(ASW_CHANGELOG_PARTITION_KEY, ASW_CHANGELOG_PARTITION_KEY_LEN, junk, sizeof junk);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    asw_processor_destroy(back);
    asw_buf buf = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_partition_state(fx.codec, 4242, &buf), ASW_CODEC_OK);
    push(ASW_CHANGELOG_PARTITION_KEY, ASW_CHANGELOG_PARTITION_KEY_LEN, buf.data, buf.len);
    back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(asw_processor_stream_time(back), 4242);
    asw_buf_free(&buf);
    asw_processor_destroy(back);
    asw_processor_destroy(p);
}

Test(changelog, a_whole_state_written_by_an_earlier_version_is_still_restored) {
    asw_processor *p = feed_and_write(11, 30, 1000);
    /* The same orders as the Avro OrderState records an earlier version
     * wrote. */
    for (size_t i = 0; i < fx.n; i++) {
        free(fx.recs[i].key);
        free(fx.recs[i].value);
    }
    fx.n = 0;
    asw_buf buf = ASW_BUF_INIT;
    size_t legacy = 0;
    /* Every order of p, found through the ids of the same stream. */
    asw_gen *g = asw_gen_new(11, 30, 8);
    asw_event ev;
    while (asw_gen_next(g, &ev)) {
        const asw_order *o = asw_processor_get(p, ev.order_id);
        bool seen = false;
        for (size_t i = 0; i < fx.n && !seen; i++)
            seen = fx.recs[i].keylen == strlen(ev.order_id) &&
                   memcmp(fx.recs[i].key, ev.order_id, fx.recs[i].keylen) == 0;
        if (o && !seen) {
            cr_assert_eq(asw_codec_encode_state(fx.codec, o, &buf), ASW_CODEC_OK);
            push(ev.order_id, strlen(ev.order_id), buf.data, buf.len);
            legacy++;
        }
        asw_event_clear(&ev);
    }
    asw_gen_destroy(g);
    cr_assert_gt(legacy, 10);
    cr_assert_eq(asw_codec_encode_partition_state(fx.codec, asw_processor_stream_time(p), &buf),
                 ASW_CODEC_OK);
    push(ASW_CHANGELOG_PARTITION_KEY, ASW_CHANGELOG_PARTITION_KEY_LEN, buf.data, buf.len);
    asw_buf_free(&buf);
    assert_restores_equal(p);
    asw_processor_destroy(p);
}

Test(changelog, an_order_with_many_sub_orders_and_applications_round_trips) {
    /* More sub-orders than the ledger record carries inline, and enough
     * entities for the hash index: every record kind is written. */
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, true);
    asw_buf buf = ASW_BUF_INIT;
    char err[256], id[32], eid[32];
    int64_t off = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 12; i++) {
            asw_source src = {"t", 0, off++};
            asw_result res;
            snprintf(id, sizeof id, "S%02d", i);
            snprintf(eid, sizeof eid, "x%d-%d", round, i);
            asw_event ev = round % 2 ? t_clawed_back(eid, "R1", id, 1)
                                     : t_external(eid, eid, id, ASW_EK_OFFLINE, 5);
            ev.event_time += round * 1000 + i;
            asw_processor_apply(p, &ev, &src, &res);
            asw_event_clear(&ev);
            snprintf(eid, sizeof eid, "a%d-%d", round, i);
            snprintf(id, sizeof id, "A%d-%d", round, i);
            ev = t_applied(eid, id, "S03", 1);
            ev.initiator = i % 3 ? ASW_INIT_BUYER : ASW_INIT_MERCHANT_CARD;
            ev.event_time += round * 1000 + i;
            asw_processor_apply(p, &ev, &src, &res);
            asw_event_clear(&ev);
            snprintf(eid, sizeof eid, "w%d-%d", round, i);
            ev = t_withdrawn(eid, id, "S03");
            ev.event_time += round * 1000 + i;
            asw_processor_apply(p, &ev, &src, &res);
            asw_event_clear(&ev);
        }
        cr_assert_eq(
            asw_changelog_write(fx.codec, p, fx.input_topic, &buf, collect, NULL, err, sizeof err),
            0);
        asw_processor_checkpoint(p);
    }
    const asw_order *o = asw_processor_get(p, "O1");
    cr_assert_not_null(o);
    cr_assert_eq(o->n_skus, 12);
    cr_assert_eq(o->n_ledger_skus, ASW_LEDGER_SKUS);
    bool kinds[256] = {false};
    for (size_t i = 0; i < fx.n; i++) {
        const char *nul = memchr(fx.recs[i].key, '\0', fx.recs[i].keylen);
        if (nul && fx.recs[i].keylen > (size_t)(nul - fx.recs[i].key) + 1)
            kinds[(unsigned char)nul[1]] = true;
    }
    cr_assert(kinds['S'] && kinds['A'] && kinds['D'] && kinds['X'] && kinds['E'],
              "every entity record kind is written");
    int rc;
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(asw_processor_equal(p, back));
    asw_buf_free(&buf);
    asw_processor_destroy(p);
    asw_processor_destroy(back);
}

Test(changelog, a_decision_from_another_topic_keeps_its_topic) {
    /* Decisions name the input topic "t"; the partition is another's: the
     * topic is stored, and a restore for any topic gives it back. */
    fx.input_topic = "elsewhere";
    asw_processor *p = feed_and_write(9, 20, 10);
    assert_restores_equal(p);
    asw_processor_destroy(p);
}

/* What compaction leaves: the last record of each key, in log order. */
static void compact_records(void) {
    size_t kept = 0;
    for (size_t i = 0; i < fx.n; i++) {
        bool later = false;
        for (size_t j = i + 1; j < fx.n && !later; j++)
            later = fx.recs[j].keylen == fx.recs[i].keylen &&
                    memcmp(fx.recs[j].key, fx.recs[i].key, fx.recs[i].keylen) == 0;
        if (later) {
            free(fx.recs[i].key);
            free(fx.recs[i].value);
        } else {
            fx.recs[kept++] = fx.recs[i];
        }
    }
    fx.n = kept;
}

Test(changelog, an_order_read_from_a_whole_state_is_written_whole_at_its_next_change) {
    /* An earlier version's whole state of an order with 12 applications on
     * 12 sub-orders; after the upgrade one more event and a commit; then
     * compaction replaces the whole state by the new ledger record. The
     * order must come back whole. */
    asw_ruleset_set_limit(fx.rules, 100);
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, true);
    asw_source src = {"t", 0, 0};
    asw_result res;
    char eid[16], aid[16], sku[16];
    for (int i = 0; i < 12; i++) {
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(aid, sizeof aid, "A%d", i);
        snprintf(sku, sizeof sku, "S%d", i);
        asw_event ev = t_applied(eid, aid, sku, 10);
        asw_processor_apply(p, &ev, &src, &res);
        cr_assert_eq(res.decision.outcome, ASW_OUT_ACCEPTED, "%s", t_reasons(res.decision.reasons));
        asw_event_clear(&ev);
    }
    asw_processor_checkpoint(p);
    asw_buf buf = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_state(fx.codec, asw_processor_get(p, "O1"), &buf), ASW_CODEC_OK);
    push("O1", 2, buf.data, buf.len);
    int rc;
    char err[512];
    asw_processor *w = restore_all(&rc, err, sizeof err); /* the upgraded worker */
    cr_assert_eq(rc, 0, "%s", err);
    asw_event more = t_withdrawn("w1", "A3", "S3");
    asw_processor_apply(w, &more, &src, &res);
    asw_processor_apply(p, &more, &src, &res);
    asw_event_clear(&more);
    cr_assert_eq(
        asw_changelog_write(fx.codec, w, fx.input_topic, &buf, collect, NULL, err, sizeof err), 0);
    asw_processor_checkpoint(w);
    compact_records();
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(asw_order_applications_used(asw_processor_get(back, "O1")), 12);
    cr_assert(asw_processor_equal(p, back), "the restored order lost entities");
    asw_buf_free(&buf);
    asw_processor_destroy(p);
    asw_processor_destroy(w);
    asw_processor_destroy(back);
}

Test(changelog, application_records_of_a_dropped_order_leave_nothing_behind) {
    /* A dropped order's ledger tombstone expired while an older
     * application record and its own tombstone are still in the log: the
     * restore must not invent a sub-order for it, nor call it a half
     * state. */
    asw_processor *p = feed_and_write_split(3, 10, 10, true);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < fx.n && at == SIZE_MAX; i++)
        if (fx.recs[i].keylen > 9 && memcmp(fx.recs[i].key, "O000001\0A", 9) == 0 &&
            fx.recs[i].value)
            at = i;
    cr_assert_neq(at, SIZE_MAX, "an application record of O000001");
    rec a = fx.recs[at];
    char key[256];
    memcpy(key, a.key, a.keylen);
    memcpy(key, "O-ghost", 7);
    push(key, a.keylen, a.value, a.len);
    push(key, a.keylen, NULL, 0);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_null(asw_processor_get(back, "O-ghost"));
    cr_assert(asw_processor_equal(p, back));
    asw_processor_destroy(p);
    asw_processor_destroy(back);
}

/* The records collected so far, as one byte string (key, value, lengths). */
static void flatten(asw_buf *out) {
    for (size_t i = 0; i < fx.n; i++) {
        uint64_t lens[2] = {fx.recs[i].keylen, fx.recs[i].value ? fx.recs[i].len : UINT64_MAX};
        asw_buf_append(out, lens, sizeof lens);
        asw_buf_append(out, fx.recs[i].key, fx.recs[i].keylen);
        if (fx.recs[i].value)
            asw_buf_append(out, fx.recs[i].value, fx.recs[i].len);
    }
}

Test(changelog, frozen_orders_write_and_restore_the_same_records_as_decoded_ones) {
    asw_buf frozen = ASW_BUF_INIT, decoded = ASW_BUF_INIT;
    fx.limits.decoded_orders = 0; /* every order frozen at each commit */
    asw_processor *pf = feed_and_write(11, 300, 40);
    cr_assert_eq(asw_processor_decoded_count(pf), 0);
    cr_assert_gt(asw_processor_frozen_bytes(pf), 0);
    flatten(&frozen);
    size_t n = fx.n;
    assert_restores_equal(pf); /* restored with every order frozen, too */
    teardown();
    setup();
    fx.limits.decoded_orders = SIZE_MAX; /* never frozen */
    asw_processor *pd = feed_and_write(11, 300, 40);
    cr_assert_eq(asw_processor_frozen_bytes(pd), 0);
    flatten(&decoded);
    cr_assert_eq(fx.n, n);
    cr_assert(frozen.len == decoded.len && memcmp(frozen.data, decoded.data, frozen.len) == 0,
              "freezing changed a changelog record");
    cr_assert(asw_processor_equal(pf, pd));
    assert_restores_equal(pd);
    asw_processor_destroy(pf);
    asw_processor_destroy(pd);
    asw_buf_free(&frozen);
    asw_buf_free(&decoded);
}

/* Is record i an entity record (an order id, a NUL, a kind)? */
static bool is_entity_key(size_t i) {
    const char *nul = memchr(fx.recs[i].key, '\0', fx.recs[i].keylen);
    return nul && nul != fx.recs[i].key;
}

Test(changelog, a_whole_order_is_one_record_and_a_split_one_writes_every_entity_once_split) {
    asw_processor *p = feed_and_write_split(9, 30, 50, true);
    size_t whole = 0, entity_of_split = 0, entity_of_others = 0;
    for (size_t i = 0; i < fx.n; i++) {
        bool first = fx.recs[i].keylen >= 7 && memcmp(fx.recs[i].key, "O000001", 7) == 0;
        if (is_entity_key(i))
            *(first ? &entity_of_split : &entity_of_others) += 1;
        else if (fx.recs[i].value && fx.recs[i].len > 1 && ((uint8_t *)fx.recs[i].value)[1] == 'W')
            whole++;
    }
    cr_assert_gt(whole, 30);
    cr_assert_eq(entity_of_others, 0, "whole orders write no entity record");
    /* The transaction that split it wrote each of its entities. */
    cr_assert_geq(entity_of_split, ASW_WHOLE_ENTITIES + 1);
    assert_restores_equal(p);
    asw_processor_destroy(p);
}

Test(changelog, a_restored_whole_order_stays_frozen_until_an_event_needs_it) {
    fx.limits.decoded_orders = SIZE_MAX; /* nothing is frozen but what the restore keeps so */
    asw_processor *p = feed_and_write(4, 50, 30);
    int rc;
    char err[256];
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_gt(asw_processor_order_count(back), 40);
    cr_assert_eq(asw_processor_decoded_count(back), 0);
    cr_assert(asw_processor_equal(p, back));
    asw_processor_destroy(p);
    asw_processor_destroy(back);
}

Test(changelog, no_change_to_a_whole_record_crashes_its_check_or_thaw) {
    /* Every truncation and many one-byte changes of real whole records:
     * the check refuses the change, or the body thaws to an order whose
     * own body passes the check (run under the sanitizers in CI). */
    asw_processor *p = feed_and_write(6, 12, 40);
    asw_buf frozen = ASW_BUF_INIT, again = ASW_BUF_INIT;
    size_t refused = 0, passed = 0;
    for (size_t i = 0; i < fx.n; i++) {
        rec *r = &fx.recs[i];
        if (is_entity_key(i) || !r->value || r->len < 4 || ((uint8_t *)r->value)[1] != 'W')
            continue;
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)r->keylen, r->key);
        const uint8_t *body = (const uint8_t *)r->value + 3;
        size_t len = r->len - 3;
        cr_assert_null(asw_order_body_check(id, body, len));
        uint8_t *m = malloc(len);
        for (size_t cut = 0; cut < len; cut++) /* truncated: always refused */
            cr_assert_not_null(asw_order_body_check(id, body, cut), "%s cut at %zu", id, cut);
        for (size_t at = 0; at < len; at++)
            for (unsigned v = 0; v < 256; v += 37) {
                memcpy(m, body, len);
                m[at] = (uint8_t)(m[at] ^ (v | 1));
                if (asw_order_body_check(id, m, len)) {
                    refused++;
                    continue;
                }
                passed++;
                asw_buf_reset(&frozen);
                asw_buf_append(&frozen, id, strlen(id) + 1);
                asw_buf_append(&frozen, "", 1);
                asw_buf_append(&frozen, m, len);
                asw_order *o = asw_order_thaw(frozen.data, frozen.len, "t");
                asw_buf_reset(&again);
                asw_order_freeze_body(o, "t", &again);
                cr_assert_null(asw_order_body_check(id, again.data, again.len));
                cr_assert_geq(asw_order_remaining(o), INT64_MIN / 2);
                asw_order_destroy(o);
            }
        free(m);
    }
    cr_assert_gt(refused, 100);
    cr_assert_gt(passed, 100); /* changed amounts and times are still sound */
    asw_buf_free(&frozen);
    asw_buf_free(&again);
    asw_processor_destroy(p);
}

Test(changelog, the_consume_tool_prints_a_whole_record_with_every_entity) {
    asw_processor *p = feed_and_write(3, 10, 1000);
    size_t at = last_of("O000003");
    asw_buf out = ASW_BUF_INIT;
    char err[256];
    cr_assert_eq(asw_changelog_describe(fx.recs[at].key, fx.recs[at].keylen, fx.recs[at].value,
                                        fx.recs[at].len, &out, err, sizeof err),
                 0, "%s", err);
    asw_buf_append(&out, "", 1);
    const char *line = (const char *)out.data;
    cr_assert(strstr(line, "{\"type\":\"Order\",\"order_id\":\"O000003\""), "%s", line);
    const asw_order *o = asw_processor_get(p, "O000003");
    for (uint32_t i = 0; i < o->n_apps; i++) {
        char want[160];
        snprintf(want, sizeof want, "\"aftersale_id\":\"%s\"",
                 asw_order_str(o, o->apps[i].aftersale_id));
        cr_assert(strstr(line, want), "%s in %s", want, line);
    }
    cr_assert(strstr(line, "\"skus\":[{\"sku_order_id\":\"O000003-"), "%s", line);
    cr_assert(strstr(line, "\"source_topic\":\"(the input topic)\"") || o->n_apps == 0, "%s", line);
    /* A corrupt one is named as such. */
    corrupt_value(&fx.recs[at]);
    asw_buf_reset(&out);
    cr_assert_eq(asw_changelog_describe(fx.recs[at].key, fx.recs[at].keylen, fx.recs[at].value,
                                        fx.recs[at].len, &out, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "CORRUPT_RECORD"), "%s", err);
    asw_buf_free(&out);
    asw_processor_destroy(p);
}

/* The body of an order's whole record, as the writer makes it. */
static const char *check_of(const asw_order *o, const char *topic) {
    asw_buf b = ASW_BUF_INIT;
    asw_order_freeze_body(o, topic, &b);
    const char *why = asw_order_body_check(asw_order_id(o), b.data, b.len);
    asw_buf_free(&b);
    return why;
}

Test(changelog, the_check_refuses_reservations_no_open_application_holds_and_empty_ids) {
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, false);
    asw_source src = {"a-topic-name-longer-than-any-id-"
                      "...................................................................."
                      "...................................................................."
                      "........................................",
                      0, 0};
    cr_assert_gt(strlen(src.topic), ASW_TEXT_MAX);
    asw_result res;
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    asw_processor_apply(p, &ev, &src, &res);
    asw_event_clear(&ev);
    cr_assert_eq(res.decision.outcome, ASW_OUT_ACCEPTED);
    asw_order *o = (asw_order *)asw_processor_get(p, T_ORDER);
    /* Sound, a decision from a topic of Kafka's longest names included. */
    cr_assert_null(check_of(o, "t"));
    o->reserved += 1;
    cr_assert_not_null(check_of(o, "t"), "an order's reserved its open applications do not hold");
    o->reserved -= 1;
    o->skus[0].reserved += 1;
    cr_assert_not_null(check_of(o, "t"), "a sub-order's reserved");
    o->skus[0].reserved -= 1;
    cr_assert_null(check_of(o, "t"));
    asw_order_put_external(o, "", "S1", ASW_EK_OFFLINE);
    const char *why = check_of(o, "t");
    cr_assert(why && strstr(why, "empty id"), "%s", why ? why : "(sound)");
    asw_processor_destroy(p);
}

/* Found by fuzz/fuzz_state_decode (there on the Avro state; the entity
 * record is the same hole): an application record that is no longer OPEN
 * but reserves money rebuilt a state that the frozen form cannot hold (it
 * keeps reservations of OPEN applications only), so freezing changed it. */
Test(changelog, an_application_record_that_reserves_once_ended_is_corrupt) {
    /* A split order's ledger (all zero, no sub-order inline), then its
     * application A1: counted and typed, WITHDRAWN, reserving 4 on S1. */
    static const uint8_t ledger[] = {0xA5, 'O', 1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t app[] = {0xA5, 'A', 1, 1 | 4, ASW_APP_WITHDRAWN, 0, 8, 2, 'S', '1', 0};
    push("O1", 2, ledger, sizeof ledger);
    push("O1\0AA1", 6, app, sizeof app);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1, "restored an application that is WITHDRAWN but reserves");
    cr_assert(strstr(err, "reserv"), "%s", err);
    asw_processor_destroy(back);

    /* Without the reservation it restores, and freezes exactly. */
    static const uint8_t ended[] = {0xA5, 'A', 1, 1 | 4, ASW_APP_WITHDRAWN, 0, 0, 2, 'S', '1', 0};
    push("O1\0AA1", 6, ended, sizeof ended);
    back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    const asw_order *o = asw_processor_get(back, "O1");
    cr_assert_not_null(o);
    asw_buf frozen = ASW_BUF_INIT;
    asw_order_freeze(o, "t", &frozen);
    asw_order *thawed = asw_order_thaw(frozen.data, frozen.len, "t");
    cr_assert(asw_order_equal(o, thawed));
    asw_order_destroy(thawed);
    asw_buf_free(&frozen);
    asw_processor_destroy(back);
}

/* Found by fuzz/fuzz_state_decode: the restore named the order of a legacy
 * state under another key as its bytes came, so a state's order id could
 * break the worker's one-line log (partition_quarantined reason="...").
 * It is printed as keys are: printable ASCII, the rest as \xNN. */
Test(changelog, a_state_under_another_orders_key_is_named_on_one_line) {
    asw_order *o = asw_order_new("O1\n\"x\"");
    asw_buf buf = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_state(fx.codec, o, &buf), ASW_CODEC_OK);
    push("O1", 2, buf.data, buf.len);
    asw_buf_free(&buf);
    asw_order_destroy(o);
    int rc;
    char err[512] = "";
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, -1);
    cr_assert_null(strchr(err, '\n'), "%s", err);
    cr_assert(strstr(err, "the state is of order O1\\x0a\"x\", not of its key"), "%s", err);
    asw_processor_destroy(back);
}

/* Found by fuzz/fuzz_state_decode: an order's ledger record whose amounts
 * leave int64 when the remaining amount is computed (paid - (refunded +
 * reserved)) was restored as it came, and the consume tool computed that
 * remaining amount with a signed overflow. Such a record is corrupt. */
Test(changelog, a_record_whose_amounts_the_ledger_cannot_hold_is_corrupt) {
    for (int sound = 0; sound < 2; sound++) {
        /* A split order's ledger: paid -25 (which an earlier version's
         * state may hold), refunded 2^63 - 23 (or 23), nothing reserved, no
         * deadline, no shop, no sub-order inline. */
        uint8_t v[64];
        size_t n = 0;
        v[n++] = 0xA5, v[n++] = 'O', v[n++] = 1;
        n += asw_varint_put(v + n, asw_zigzag(-25));
        n += asw_varint_put(v + n, asw_zigzag(sound ? 23 : INT64_MAX - 22));
        n += asw_varint_put(v + n, 0);
        n += asw_varint_put(v + n, 0);
        v[n++] = 0, v[n++] = 0, v[n++] = 0;
        clear_recs();
        push("O1", 2, v, n);
        int rc;
        char err[512] = "";
        asw_processor *back = restore_all(&rc, err, sizeof err);
        asw_buf out = ASW_BUF_INIT;
        int described = asw_changelog_describe("O1", 2, v, n, &out, err, sizeof err);
        if (sound) {
            cr_assert_eq(rc, 0, "%s", err);
            cr_assert_eq(described, 0, "%s", err);
        } else {
            cr_assert_eq(rc, -1, "restored amounts the ledger cannot hold");
            cr_assert(strstr(err, "amounts the ledger cannot hold"), "%s", err);
            cr_assert_eq(described, -1, "described amounts the ledger cannot hold");
        }
        asw_buf_free(&out);
        asw_processor_destroy(back);
    }
}

Test(changelog, an_earlier_versions_state_no_whole_record_may_hold_is_written_split) {
    asw_processor *p = asw_processor_new(fx.rules, &fx.limits, false);
    asw_source src = {"t", 0, 0};
    asw_result res;
    asw_event ev = t_applied("e1", "A1", "S1", 100);
    asw_processor_apply(p, &ev, &src, &res);
    asw_event_clear(&ev);
    asw_order *o = (asw_order *)asw_processor_get(p, T_ORDER);
    o->paid = -1; /* what no event may set, but an earlier version's state could hold */
    asw_buf buf = ASW_BUF_INIT;
    cr_assert_eq(asw_codec_encode_state(fx.codec, o, &buf), ASW_CODEC_OK);
    push(T_ORDER, strlen(T_ORDER), buf.data, buf.len);
    asw_buf_free(&buf);
    int rc;
    char err[256];
    asw_processor *back = restore_all(&rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(asw_processor_get(back, T_ORDER)->split);
    asw_processor_destroy(back);
    asw_processor_destroy(p);
}
