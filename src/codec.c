/*
 * codec.c -- Avro binary in the Confluent framing (SPEC section 6): the input
 * events, the Decision and RefundRecord outputs and the OrderState changelog
 * value, to and from bytes.
 *
 * This part holds the errors, the framing, the codec's lifetime and the
 * decode pipeline every decoder shares: frame, schema id, validation walk,
 * avro-c read. The others, behind codec_int.h:
 *
 *   codec_schema.c  the records this codec knows, the C counterparts of the
 *                   Avro enums, reader schemas and their defaults, writer
 *                   registration and resolution (avro-c's resolver, worked
 *                   around: see its file comment)
 *   codec_check.c   the validation of untrusted bytes (avro-c's binary
 *                   reader trusts its input: see its file comment)
 *   codec_record.c  records to and from C: the events' fast path and generic
 *                   extractor, the output encoder, the order and partition
 *                   state
 *
 * Memory: out-of-memory aborts (alloc.h); avro-c's own allocation failures
 * surface as errors. A codec is not thread safe: use one per thread.
 */
#include "asw/codec.h"

#include "asw/alloc.h"
#include "codec_int.h"

#include <avro.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static const char *const err_names[ASW_CODEC_E__COUNT] = {
    [ASW_CODEC_OK] = "OK",
    [ASW_CODEC_E_SHORT] = "SHORT_FRAME",
    [ASW_CODEC_E_MAGIC] = "BAD_MAGIC",
    [ASW_CODEC_E_UNKNOWN_SCHEMA] = "UNKNOWN_SCHEMA_ID",
    [ASW_CODEC_E_WRONG_RECORD] = "WRONG_RECORD",
    [ASW_CODEC_E_BODY] = "CORRUPT_BODY",
    [ASW_CODEC_E_ENUM] = "ENUM_OUT_OF_RANGE",
    [ASW_CODEC_E_MISSING_FIELD] = "MISSING_FIELD",
    [ASW_CODEC_E_SCHEMA] = "SCHEMA_ERROR",
};

/*
 * Name of an error for logs and dead-letter headers.
 *
 * @param e  an error code.
 * @return   a static upper-case name; "UNKNOWN_ERROR" for a value outside the
 *           enum. Never NULL.
 */
const char *asw_codec_err_name(asw_codec_err e) {
    if ((int)e < 0 || e >= ASW_CODEC_E__COUNT)
        return "UNKNOWN_ERROR";
    return err_names[e];
}

__attribute__((format(printf, 4, 5))) asw_codec_err
asw_codec_fail(char *err, size_t errlen, asw_codec_err rc, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* avro-c messages may carry newlines; a log line must not. */
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
    }
    return rc;
}

/* ---- the Confluent framing ---- */

/*
 * The schema id a frame declares, without decoding the body.
 *
 * @param buf, len   the Kafka message value.
 * @param schema_id  written on success only.
 * @return ASW_CODEC_OK, ASW_CODEC_E_SHORT (fewer than 5 bytes or buf NULL) or
 *         ASW_CODEC_E_MAGIC (byte 0 is not 0).
 */
asw_codec_err asw_codec_peek_id(const void *buf, size_t len, int32_t *schema_id) {
    const uint8_t *body;
    size_t body_len;
    int32_t id;
    asw_codec_err rc = asw_codec_frame_read(buf, len, &id, &body, &body_len);
    if (rc == ASW_CODEC_OK)
        *schema_id = id;
    return rc;
}

/* ---- lifetime ---- */

/*
 * Create a codec holding every built-in schema under its built-in id.
 *
 * Fails when a schema is not compiled in, does not parse, or has an enum
 * whose symbols differ from model.h's (so a drift between the .avsc files and
 * the C enums stops the worker at start-up, not on the first record).
 *
 * @param err, errlen  receives a one-line message on failure (errlen may be 0).
 * @return a codec the caller owns (asw_codec_destroy), or NULL on failure.
 */
asw_codec *asw_codec_new(char *err, size_t errlen) {
    static const char nothing[1];
    asw_codec *c = asw_calloc(1, sizeof *c);
    if (!asw_codec_schemas_load(c, err, errlen) || !asw_codec_tables_match(c, err, errlen))
        goto fail;
    c->fast = true;
    c->in = avro_reader_memory(nothing, 0);
    c->out = avro_writer_memory(nothing, 0);
    if (!c->in || !c->out) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "avro-c: %s", avro_strerror());
        goto fail;
    }
    return c;
fail:
    asw_codec_destroy(c);
    return NULL;
}

/*
 * Free a codec and everything it holds. Strings returned by its decoders are
 * invalid afterwards. asw_codec_destroy(NULL) is a no-op.
 */
void asw_codec_destroy(asw_codec *c) {
    if (!c)
        return;
    asw_codec_schemas_free(c);
    if (c->in)
        avro_reader_free(c->in);
    if (c->out)
        avro_writer_free(c->out);
    free(c);
}

/* ---- decoding: frame, validate, read ---- */

/*
 * Read the body of a frame whose record is one of `kinds_allowed`. On success
 * *kind is its record and *value the decoded value (reader-shaped, owned by
 * the codec, valid until the next decode).
 */
asw_codec_err asw_codec_decode_value(asw_codec *c, const void *buf, size_t len,
                                     unsigned kinds_allowed, rec_kind *kind, avro_value_t **value,
                                     char *err, size_t errlen) {
    int32_t id;
    const uint8_t *body;
    size_t body_len;
    asw_codec_err rc = asw_codec_frame_read(buf, len, &id, &body, &body_len);
    if (rc == ASW_CODEC_E_SHORT)
        return asw_codec_fail(err, errlen, rc,
                              "frame of %zu bytes is shorter than the 5-byte header", len);
    if (rc == ASW_CODEC_E_MAGIC)
        return asw_codec_fail(err, errlen, rc,
                              "frame starts with byte 0x%02x, not the magic byte 0",
                              ((const uint8_t *)buf)[0]);

    binding *b = asw_codec_binding_find(c, id, kinds_allowed);
    if (!b)
        b = asw_codec_binding_find(c, id, ALL_KINDS);
    if (!b)
        return asw_codec_fail(err, errlen, ASW_CODEC_E_UNKNOWN_SCHEMA,
                              "schema id %d is not registered", (int)id);
    if (!(kinds_allowed & KIND_BIT(b->kind)))
        return asw_codec_fail(err, errlen, ASW_CODEC_E_WRONG_RECORD,
                              "schema id %d is a %s, not a record this call decodes", (int)id,
                              asw_codec_kinds[b->kind].name);

    reader *rd = &c->readers[b->kind];
    size_t used;
    rc = asw_codec_check_body(body, body_len, b->writer, b->projected ? b->projected : rd->schema,
                              &used, err, errlen);
    if (rc)
        return rc;
    if (used != body_len)
        return asw_codec_fail(err, errlen, ASW_CODEC_E_BODY,
                              "corrupt body: %zu trailing bytes after the %s record",
                              body_len - used, asw_codec_kinds[b->kind].name);

    avro_value_t *target = b->resolver ? &b->resolved : &rd->dec;
    avro_reader_memory_set_source(c->in, (const char *)body, (int64_t)body_len);
    if (avro_value_read(c->in, target))
        return asw_codec_fail(err, errlen, ASW_CODEC_E_BODY, "corrupt body: %s", avro_strerror());
    *kind = b->kind;
    *value = b->resolver ? &b->proj_value : &rd->dec;
    return ASW_CODEC_OK;
}
