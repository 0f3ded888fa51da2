/*
 * codec_check.c -- the validation of untrusted bytes: the walk that checks a
 * record body before anything reads it.
 *
 * A gap of avro-c 1.11.1 makes it necessary: its binary reader trusts the
 * input: a corrupt length allocates that many bytes, enum indexes are not
 * range-checked, and booleans may be any byte. So every body is first walked
 * by validate_datum(), which allocates nothing, checks every length, index
 * and discriminant against the writer schema and the bytes left, and finds
 * where the record ends (avro-c cannot tell how much of a memory buffer it
 * consumed). Only a body that passes is handed to avro_value_read()
 * (asw_codec_decode_value(), codec.c).
 *
 * The walk takes bytes and two schemas and touches no codec
 * (asw_codec_check_body()), so it can be reviewed and fuzzed on its own.
 */
#include "codec_int.h"

#include <avro.h>
#include <stdint.h>

/* The reader counterpart of a writer value of schema w, when the reader has
 * schema r (possibly a union): r itself, the matching branch, or NULL. */
static avro_schema_t reader_side(avro_schema_t r, avro_schema_t w) {
    r = asw_codec_deref(r);
    if (!r)
        return NULL;
    if (is_avro_union(r) && !is_avro_union(w))
        return asw_codec_union_match(r, w);
    return r;
}

static bool accepts_null(avro_schema_t r) {
    r = asw_codec_deref(r);
    if (is_avro_null(r))
        return true;
    for (size_t i = 0; is_avro_union(r) && i < avro_schema_union_size(r); i++)
        if (is_avro_null(asw_codec_deref(avro_schema_union_branch(r, (int)i))))
            return true;
    return false;
}

/* ---- body validation (see the file comment) ---- */

typedef struct vcur {
    const uint8_t *p;
    size_t n, pos;
    char *err;
    size_t errlen;
} vcur;

static asw_codec_err v_truncated(vcur *c, const char *field, const char *what) {
    return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                          "truncated body: %s of field %s at byte %zu", what, field, c->pos);
}

static asw_codec_err v_long(vcur *c, const char *field, int64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->pos >= c->n)
            return v_truncated(c, field, "varint");
        uint8_t b = c->p[c->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return ASW_CODEC_OK;
        }
    }
    return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                          "corrupt body: varint longer than 10 bytes in field %s", field);
}

static asw_codec_err v_skip(vcur *c, const char *field, int64_t k, const char *what) {
    if (k < 0 || (uint64_t)k > c->n - c->pos)
        return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                              "corrupt body: %s of field %s claims %lld bytes, %zu left", what,
                              field, (long long)k, c->n - c->pos);
    c->pos += (size_t)k;
    return ASW_CODEC_OK;
}

/* Strict UTF-8 (no overlong forms, surrogates or NUL: ids become C strings). */
bool asw_codec_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t k;
        uint32_t cp;
        if (b == 0)
            return false;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            k = 1, cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            k = 2, cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            k = 3, cp = b & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static asw_codec_err v_string(vcur *c, const char *field) {
    int64_t len = 0; /* gcc -O3 cannot see that v_long sets it on success */
    asw_codec_err rc = v_long(c, field, &len);
    if (rc)
        return rc;
    size_t start = c->pos;
    if ((rc = v_skip(c, field, len, "string length")))
        return rc;
    if (!asw_codec_utf8_valid(c->p + start, (size_t)len))
        return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                              "corrupt body: field %s is not NUL-free UTF-8", field);
    return ASW_CODEC_OK;
}

/* Fewest bytes a value of schema s can take (0 for null, empty records). */
static int64_t min_size(avro_schema_t s, int depth) {
    s = asw_codec_deref(s);
    if (!s || depth > MAX_DEPTH)
        return 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_FLOAT:
        return 4;
    case AVRO_DOUBLE:
        return 8;
    case AVRO_FIXED:
        return avro_schema_fixed_size(s);
    case AVRO_RECORD: {
        int64_t sum = 0;
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n && sum == 0; i++)
            sum += min_size(avro_schema_record_field_get_by_index(s, (int)i), depth + 1);
        return sum;
    }
    default:
        return 1;
    }
}

static asw_codec_err validate_datum(vcur *c, avro_schema_t w, avro_schema_t r, const char *field,
                                    int depth);

/* Arrays and maps: blocks of items, each block a count (negative: followed by
 * its byte size), ending with a zero count. */
static asw_codec_err validate_blocks(vcur *c, avro_schema_t items, avro_schema_t r_items,
                                     bool is_map, const char *field, int depth) {
    int64_t item_min = is_map ? 1 : min_size(items, 0);
    int64_t zero_size_items = 0;
    for (;;) {
        int64_t count, size;
        asw_codec_err rc = v_long(c, field, &count);
        if (rc)
            return rc;
        if (count == 0)
            return ASW_CODEC_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                                      "corrupt body: bad block count in field %s", field);
            count = -count;
            if ((rc = v_long(c, field, &size)))
                return rc;
            if (size < 0 || (uint64_t)size > c->n - c->pos)
                return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                                      "corrupt body: block of field %s claims %lld bytes, %zu left",
                                      field, (long long)size, c->n - c->pos);
        }
        bool too_many = item_min > 0 ? (uint64_t)count > (c->n - c->pos) / (uint64_t)item_min
                                     : count > MAX_ZERO_SIZE_ITEMS - zero_size_items;
        if (item_min == 0 && !too_many)
            zero_size_items += count;
        if (too_many)
            return asw_codec_fail(
                c->err, c->errlen, ASW_CODEC_E_BODY,
                "corrupt body: field %s claims %lld items, more than the bytes left", field,
                (long long)count);
        for (int64_t i = 0; i < count; i++) {
            if (is_map && (rc = v_string(c, field)))
                return rc;
            if ((rc = validate_datum(c, items, r_items, field, depth + 1)))
                return rc;
        }
    }
}

/*
 * Walk one value of writer schema w, checking it against the bytes left.
 * r is the reader's schema for the same value, or NULL when the reader drops
 * it; it is consulted only to report a null where the reader needs a value.
 */
static asw_codec_err validate_datum(vcur *c, avro_schema_t w, avro_schema_t r, const char *field,
                                    int depth) {
    asw_codec_err rc = ASW_CODEC_OK;
    int64_t v = 0; /* as in v_string */
    w = asw_codec_deref(w);
    if (!w || depth > MAX_DEPTH)
        return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                              "corrupt body: nesting deeper than %d", MAX_DEPTH);
    switch (avro_typeof(w)) {
    case AVRO_NULL:
        return ASW_CODEC_OK;
    case AVRO_BOOLEAN:
        if (c->pos >= c->n)
            return v_truncated(c, field, "boolean");
        if (c->p[c->pos] > 1)
            return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                                  "corrupt body: boolean field %s holds %u", field, c->p[c->pos]);
        c->pos++;
        return ASW_CODEC_OK;
    case AVRO_INT32:
        if ((rc = v_long(c, field, &v)))
            return rc;
        if (v < INT32_MIN || v > INT32_MAX)
            return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                                  "corrupt body: int field %s out of range", field);
        return ASW_CODEC_OK;
    case AVRO_INT64:
        return v_long(c, field, &v);
    case AVRO_FLOAT:
        return v_skip(c, field, 4, "float");
    case AVRO_DOUBLE:
        return v_skip(c, field, 8, "double");
    case AVRO_FIXED:
        return v_skip(c, field, avro_schema_fixed_size(w), "fixed");
    case AVRO_BYTES:
        if ((rc = v_long(c, field, &v)))
            return rc;
        return v_skip(c, field, v, "bytes length");
    case AVRO_STRING:
        return v_string(c, field);
    case AVRO_ENUM:
        if ((rc = v_long(c, field, &v)))
            return rc;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(w))
            return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_ENUM,
                                  "enum field %s holds index %lld, %s has %d symbols", field,
                                  (long long)v, avro_schema_name(w),
                                  avro_schema_enum_number_of_symbols(w));
        return ASW_CODEC_OK;
    case AVRO_UNION: {
        if ((rc = v_long(c, field, &v)))
            return rc;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(w))
            return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_BODY,
                                  "corrupt body: union field %s selects branch %lld of %zu", field,
                                  (long long)v, avro_schema_union_size(w));
        avro_schema_t branch = asw_codec_deref(avro_schema_union_branch(w, (int)v));
        if (r && is_avro_null(branch) && !accepts_null(r))
            return asw_codec_fail(
                c->err, c->errlen, ASW_CODEC_E_MISSING_FIELD,
                "field %s is null in the writer's data but required by the reader", field);
        return validate_datum(c, branch, r ? reader_side(r, branch) : NULL, field, depth + 1);
    }
    case AVRO_ARRAY: {
        avro_schema_t rr = r ? reader_side(r, w) : NULL;
        return validate_blocks(c, avro_schema_array_items(w),
                               is_avro_array(rr) ? avro_schema_array_items(rr) : NULL, false, field,
                               depth);
    }
    case AVRO_MAP: {
        avro_schema_t rr = r ? reader_side(r, w) : NULL;
        return validate_blocks(c, avro_schema_map_values(w),
                               is_avro_map(rr) ? avro_schema_map_values(rr) : NULL, true, field,
                               depth);
    }
    case AVRO_RECORD: {
        avro_schema_t rr = r ? reader_side(r, w) : NULL;
        size_t n = avro_schema_record_size(w);
        for (size_t i = 0; i < n; i++) {
            const char *name = avro_schema_record_field_name(w, (int)i);
            avro_schema_t rf = NULL;
            if (is_avro_record(rr)) {
                int ri = avro_schema_record_field_get_index(rr, name);
                rf = ri >= 0 ? avro_schema_record_field_get_by_index(rr, ri) : NULL;
            }
            rc = validate_datum(c, avro_schema_record_field_get_by_index(w, (int)i), rf, name,
                                depth + 1);
            if (rc)
                return rc;
        }
        return ASW_CODEC_OK;
    }
    default:
        return asw_codec_fail(c->err, c->errlen, ASW_CODEC_E_SCHEMA,
                              "unsupported Avro type in field %s", field);
    }
}

/*
 * Walk a record body of writer schema w before anything reads it (see
 * the file comment). r is the schema it will be read into. On success
 * *used is how many bytes the record takes (the caller decides about the
 * rest); on failure err holds why.
 */
asw_codec_err asw_codec_check_body(const uint8_t *body, size_t len, avro_schema_t w,
                                   avro_schema_t r, size_t *used, char *err, size_t errlen) {
    vcur cur = {body, len, 0, err, errlen};
    asw_codec_err rc = validate_datum(&cur, w, r, "(record)", 0);
    if (rc == ASW_CODEC_OK)
        *used = cur.pos;
    return rc;
}
