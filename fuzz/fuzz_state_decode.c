/*
 * fuzz_state_decode.c -- untrusted changelog values through the state
 * decoders: the input is the value of one changelog record, as a worker
 * taking over a partition reads it. Its key is the order "O1" (for an
 * entity record, byte 1 its kind: "O1" NUL kind "e1").
 *
 * Properties, on every input:
 *  - asw_codec_decode_state (the Avro OrderState of earlier versions) returns
 *    OK or a clean error; a state it decodes re-encodes, decodes again to an
 *    equal state, and encodes again to the same bytes; its frozen form thaws
 *    to an equal state;
 *  - a restore of the record (asw_changelog_restore_add: the whole-order
 *    body check, the entity records, the legacy state) never crashes, and
 *    fails (finish) rather than restore a half state; a state it restores
 *    freezes and thaws to an equal one, and one kept whole is written whole
 *    again as a record that restores to an equal state;
 *  - the consume tool's description of the record is a JSON object or a
 *    CORRUPT_RECORD error.
 */
#include <jansson.h>
#include <string.h>

#include "asw/changelog.h"
#include "asw/codec.h"
#include "asw/ledger.h"
#include "asw/processor.h"
#include "asw/ruleset.h"
#include "fuzz.h"

#define TOPIC "aftersale.events"

static asw_codec *codec;
static asw_ruleset *rules;
static const asw_state_limits limits = {90LL * 86400000, 3600000, 16};

static void check_freeze_thaw(const asw_order *o) {
    asw_buf a = ASW_BUF_INIT, b = ASW_BUF_INIT;
    asw_order_freeze(o, TOPIC, &a);
    asw_order *back = asw_order_thaw(a.data, a.len, TOPIC);
    FZ_CHECK(asw_order_equal(o, back));
    asw_order_freeze(back, TOPIC, &b);
    FZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    asw_order_destroy(back);
    asw_buf_free(&a);
    asw_buf_free(&b);
}

static void check_avro_state(const uint8_t *data, size_t size) {
    asw_order *o = NULL, *back = NULL;
    char err[256] = "";
    asw_codec_err rc = asw_codec_decode_state(codec, data, size, &o, err, sizeof err);
    if (rc != ASW_CODEC_OK) {
        FZ_CHECK(o == NULL && err[0] != '\0' && fz_one_line(err));
        return;
    }
    asw_buf a = ASW_BUF_INIT, b = ASW_BUF_INIT;
    FZ_CHECK(asw_codec_encode_state(codec, o, &a) == ASW_CODEC_OK);
    FZ_CHECK(asw_codec_decode_state(codec, a.data, a.len, &back, err, sizeof err) == ASW_CODEC_OK);
    FZ_CHECK(asw_order_equal(o, back));
    FZ_CHECK(asw_codec_encode_state(codec, back, &b) == ASW_CODEC_OK);
    FZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    check_freeze_thaw(o);
    asw_order_destroy(back);
    asw_order_destroy(o);
    asw_buf_free(&a);
    asw_buf_free(&b);
}

/* A fresh processor with the record restored into it; *rc the finish. */
static asw_processor *restore_one(const void *key, size_t keylen, const void *value, size_t len,
                                  int *rc) {
    asw_processor *p = asw_processor_new(rules, &limits, true);
    asw_changelog_restore *r = asw_changelog_restore_new(codec, p, TOPIC);
    char err[512] = "";
    asw_changelog_restore_add(r, key, keylen, value, len, 0);
    asw_changelog_restore_stats st;
    asw_changelog_restore_get_stats(r, &st);
    FZ_CHECK(st.records == 1);
    *rc = asw_changelog_restore_finish(r, err, sizeof err);
    FZ_CHECK(*rc == 0 || (err[0] != '\0' && fz_one_line(err)));
    FZ_CHECK(*rc != 0 || (st.corrupt == 0 || st.superseded == st.corrupt));
    asw_changelog_restore_destroy(r);
    return p;
}

/* A restored order kept whole: written as a whole record again, it
 * restores to an equal state. */
static void check_whole_again(const asw_order *o) {
    asw_buf rec = ASW_BUF_INIT;
    static const uint8_t head[3] = {0xA5, 'W', 1}; /* changelog.c: magic, kind, version */
    asw_buf_append(&rec, head, sizeof head);
    asw_order_freeze_body(o, TOPIC, &rec);
    int rc;
    asw_processor *p = restore_one("O1", 2, rec.data, rec.len, &rc);
    FZ_CHECK(rc == 0);
    const asw_order *back = asw_processor_get(p, "O1");
    FZ_CHECK(back && asw_order_equal(o, back));
    asw_processor_destroy(p);
    asw_buf_free(&rec);
}

static void check_restore(const uint8_t *data, size_t size) {
    char key[8] = "O1";
    size_t keylen = 2;
    if (size >= 2 && data[0] == 0xA5 && strchr("SADXE", data[1]) && data[1]) {
        memcpy(key, "O1\0?e1", 6);
        key[3] = (char)data[1];
        keylen = 6;
    }
    int rc;
    asw_processor *p = restore_one(key, keylen, data, size, &rc);
    const asw_order *o = rc == 0 ? asw_processor_get(p, "O1") : NULL;
    if (o) {
        check_freeze_thaw(o);
        asw_buf body = ASW_BUF_INIT;
        asw_order_freeze_body(o, TOPIC, &body);
        bool whole = !o->split && !asw_order_body_check("O1", body.data, body.len);
        asw_buf_free(&body);
        if (whole)
            check_whole_again(o);
    }
    /* Only the order's own records restore anything. */
    FZ_CHECK(rc != 0 || asw_processor_order_count(p) <= 1);
    asw_processor_destroy(p);

    asw_buf out = ASW_BUF_INIT;
    char err[256] = "";
    if (asw_changelog_describe(key, keylen, data, size, &out, err, sizeof err) == 0) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)out.data, out.len,
                               JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        FZ_CHECK(j && json_is_object(j));
        json_decref(j);
    } else {
        FZ_CHECK(strncmp(err, "CORRUPT_RECORD: ", 16) == 0 && fz_one_line(err));
    }
    asw_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!codec) {
        codec = fz_codec_new(true);
        rules = asw_ruleset_new();
    }
    check_avro_state(data, size);
    check_restore(data, size);
    return 0;
}
