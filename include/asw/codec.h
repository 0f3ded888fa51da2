/*
 * codec.h -- Avro binary in the Confluent framing (SPEC section 6):
 * byte 0 = 0, bytes 1-4 = schema id (big-endian), then the Avro body.
 *
 * A codec holds every schema in schemas/ (compiled into the binary)
 * under a built-in id table, one cached avro_value_iface_t and one reusable
 * avro_value_t per schema. Writer schemas older than the reader's can be
 * registered under their own ids; records written with them are resolved into
 * the current reader schema (Avro schema resolution).
 *
 * A codec is not thread safe: use one per thread.
 */
#ifndef ASW_CODEC_H
#define ASW_CODEC_H

#include "asw/buf.h"
#include "asw/ledger.h"
#include "asw/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Built-in schema ids (used when no Schema Registry is configured). */
enum {
    ASW_SCHEMA_ID_APPLIED = 1,
    ASW_SCHEMA_ID_WITHDRAWN = 2,
    ASW_SCHEMA_ID_CLOSED = 3,
    ASW_SCHEMA_ID_SUCCEEDED = 4,
    ASW_SCHEMA_ID_CLAWED_BACK = 5,
    ASW_SCHEMA_ID_EXTERNAL = 6,
    ASW_SCHEMA_ID_DECISION = 10,
    ASW_SCHEMA_ID_REFUND_RECORD = 11,
    ASW_SCHEMA_ID_ORDER_STATE = 20,
    ASW_SCHEMA_ID_PARTITION_STATE = 21
};

/* Every way decoding can fail; each has a name for dead-letter headers. */
typedef enum asw_codec_err {
    ASW_CODEC_OK = 0,
    ASW_CODEC_E_SHORT,          /* fewer than 5 bytes: no room for the framing */
    ASW_CODEC_E_MAGIC,          /* byte 0 is not 0 */
    ASW_CODEC_E_UNKNOWN_SCHEMA, /* schema id not in the table */
    ASW_CODEC_E_WRONG_RECORD,   /* schema id names a record of another kind */
    ASW_CODEC_E_BODY,           /* truncated or corrupt Avro body, or trailing bytes */
    ASW_CODEC_E_ENUM,           /* enum symbol index out of range */
    ASW_CODEC_E_MISSING_FIELD,  /* a required field is absent from the writer schema */
    ASW_CODEC_E_SCHEMA,         /* a schema could not be parsed or resolved */
    ASW_CODEC_E__COUNT
} asw_codec_err;

/* Stable upper-case name of an error, e.g. "UNKNOWN_SCHEMA_ID". Static. */
const char *asw_codec_err_name(asw_codec_err e);

typedef struct asw_codec asw_codec;

/*
 * Create a codec with the built-in schemas. On failure returns NULL and
 * writes a message to err (if errlen > 0).
 */
asw_codec *asw_codec_new(char *err, size_t errlen);
/* asw_codec_destroy(NULL) is a no-op. */
void asw_codec_destroy(asw_codec *c);

/*
 * Register a writer schema (JSON text) under `schema_id`. Its full name must
 * be one of the project's records; records framed with this id are resolved
 * into the current reader schema of that name. Returns ASW_CODEC_OK, or
 * ASW_CODEC_E_SCHEMA with a message when the schema does not parse, names an
 * unknown record or cannot be resolved (e.g. a field without default added).
 * Registering an id again replaces nothing and fails with ASW_CODEC_E_SCHEMA
 * unless the text is identical.
 */
asw_codec_err asw_codec_register_writer(asw_codec *c, int32_t schema_id, const char *schema_json,
                                        char *err, size_t errlen);

/*
 * Schema Registry ids (registry.h). With a registry, ids are the registry's:
 * asw_codec_forget_builtin_ids() drops the built-in ids of the wire
 * contract's records (events, Decision, RefundRecord; the changelog's records
 * keep theirs, whatever the registry numbers), asw_codec_use_id() binds the
 * id a record's current schema was registered under and frames that record
 * with it, and asw_codec_register_writer() binds any other id looked up. A
 * writer schema equal to the current one (avro_schema_equal) is read as the
 * current one is.
 */
void asw_codec_forget_builtin_ids(asw_codec *c);
asw_codec_err asw_codec_use_id(asw_codec *c, const char *record, int32_t id, char *err,
                               size_t errlen);
/* The compiled-in .avsc text of a record ("Decision"), or NULL. Static. */
const char *asw_codec_schema_text(const char *record);
/* The record name of an event type ("AfterSaleApplied"), or NULL. Static. */
const char *asw_codec_event_record(asw_event_type t);
/* The record a schema id is bound to in c ("Decision", ...), or NULL when
 * the codec does not know the id. Static. */
const char *asw_codec_id_record(const asw_codec *c, int32_t id);

/* The schema id a frame declares, without decoding the body.
 * Returns ASW_CODEC_E_SHORT / ASW_CODEC_E_MAGIC on a bad frame. */
asw_codec_err asw_codec_peek_id(const void *buf, size_t len, int32_t *schema_id);

/*
 * Decode one input event. On success *ev is filled (the caller owns its
 * strings: asw_event_clear()); on failure *ev is left cleared (zeroed) and
 * err holds a one-line message.
 */
asw_codec_err asw_codec_decode_event(asw_codec *c, const void *buf, size_t len, asw_event *ev,
                                     char *err, size_t errlen);

/* Events framed with a built-in id are read straight from the bytes (on by
 * default; the generic avro-c path decides whatever the fast path doubts,
 * so the results are the same). Off: every event takes the generic path
 * (for tests that compare the two). */
void asw_codec_set_fast_path(asw_codec *c, bool on);

/* Encode an input event (for the produce tool and tests). `out` is reset
 * first. Returns ASW_CODEC_OK, or ASW_CODEC_E_SCHEMA if avro-c refuses. */
asw_codec_err asw_codec_encode_event(asw_codec *c, const asw_event *ev, asw_buf *out);

asw_codec_err asw_codec_encode_decision(asw_codec *c, const asw_decision *d, asw_buf *out);
asw_codec_err asw_codec_encode_record(asw_codec *c, const asw_refund_record *r, asw_buf *out);

/*
 * Decode a Decision / RefundRecord. Strings in *out point into memory owned
 * by the codec, valid until the next decode call on this codec.
 */
asw_codec_err asw_codec_decode_decision(asw_codec *c, const void *buf, size_t len,
                                        asw_decision *out, char *err, size_t errlen);
asw_codec_err asw_codec_decode_record(asw_codec *c, const void *buf, size_t len,
                                      asw_refund_record *out, char *err, size_t errlen);

/* The order state (changelog value). decode returns a new order in *out
 * (caller owns: asw_order_destroy); *out is written only on success. */
asw_codec_err asw_codec_encode_state(asw_codec *c, const asw_order *o, asw_buf *out);
asw_codec_err asw_codec_decode_state(asw_codec *c, const void *buf, size_t len, asw_order **out,
                                     char *err, size_t errlen);

/* A changelog partition's own state (the stream time, SPEC section 7).
 * *stream_time is written on success only. */
asw_codec_err asw_codec_encode_partition_state(asw_codec *c, int64_t stream_time, asw_buf *out);
asw_codec_err asw_codec_decode_partition_state(asw_codec *c, const void *buf, size_t len,
                                               int64_t *stream_time, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* ASW_CODEC_H */
