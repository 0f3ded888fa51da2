/*
 * codec_int.h -- the codec's private header: what its parts share. The
 * public interface is include/asw/codec.h; only src/codec*.c include this.
 *
 *   codec.c         the framing, the errors, the codec's lifetime and the
 *                   decode pipeline every decoder shares (frame -> schema
 *                   id -> validation walk -> avro-c read)
 *   codec_schema.c  the records this codec knows and their built-in ids, the
 *                   C counterparts of the Avro enums, the reader schemas and
 *                   their defaults, writer registration and resolution
 *   codec_check.c   the validation of untrusted bytes (the walk that checks a
 *                   body before anything reads it)
 *   codec_record.c  records to and from C: the events' fast path and generic
 *                   extractor, the output encoder, the order and partition
 *                   state
 *
 * The framing, asw_codec_deref() and the binding lookup are static inline
 * here: the events' fast path (codec_record.c) runs them on every record.
 */
#ifndef ASW_CODEC_INT_H
#define ASW_CODEC_INT_H

#include "asw/codec.h"

#include <avro.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC 0
#define FRAME_LEN   5
/* Deepest nesting accepted in a schema or a body; ours nest 4 deep. */
#define MAX_DEPTH 32
/* Items of a zero-byte type (null, empty record) cost avro-c an allocation
 * each but no input, so their count cannot be bounded by the bytes left. */
#define MAX_ZERO_SIZE_ITEMS 4096

/* ---- the records this codec knows ---- */

/* The first six are in asw_event_type order. */
typedef enum rec_kind {
    RK_APPLIED = 0,
    RK_WITHDRAWN,
    RK_CLOSED,
    RK_SUCCEEDED,
    RK_CLAWED_BACK,
    RK_EXTERNAL,
    RK_DECISION,
    RK_RECORD,
    RK_STATE,
    RK_PARTITION,
    RK__COUNT
} rec_kind;

_Static_assert(RK_EXTERNAL == (int)ASW_EV_EXTERNAL && RK_APPLIED == (int)ASW_EV_APPLIED,
               "event record kinds follow asw_event_type");

/* A record this codec knows: asw_codec_kinds[k] for each rec_kind k, in
 * codec_schema.c. */
struct asw_codec_kind {
    const char *name; /* record name = schema file stem */
    int32_t id;       /* built-in schema id */
};
extern const struct asw_codec_kind asw_codec_kinds[RK__COUNT];

#define KIND_BIT(k) (1u << (k))
#define ALL_KINDS   ((1u << RK__COUNT) - 1)
/* The changelog's own records: never in a Schema Registry. */
#define STATE_KINDS (KIND_BIT(RK_STATE) | KIND_BIT(RK_PARTITION))
/* The records of the wire contract: input events and outputs. */
#define CONTRACT_KINDS (ALL_KINDS & ~STATE_KINDS)
/* The id space a record's schema ids live in. */
#define KIND_SPACE(k) ((KIND_BIT(k) & STATE_KINDS) ? STATE_KINDS : CONTRACT_KINDS)
#define EVENT_KINDS                                                                                \
    (KIND_BIT(RK_APPLIED) | KIND_BIT(RK_WITHDRAWN) | KIND_BIT(RK_CLOSED) |                         \
     KIND_BIT(RK_SUCCEEDED) | KIND_BIT(RK_CLAWED_BACK) | KIND_BIT(RK_EXTERNAL))

/* ---- the Avro enums and their C counterparts ---- */

typedef struct enum_def {
    const char *name; /* Avro enum name */
    int count;        /* number of C values */
    const char *(*symbol)(int);
} enum_def;

enum {
    E_INITIATOR,
    E_AFTERSALE_TYPE,
    E_ORDER_STATUS,
    E_GOODS_TYPE,
    E_CLOSE_REASON,
    E_EXTERNAL_KIND,
    E_OUTCOME,
    E_REASON,
    E_ORIGIN,
    E_RECORD_STATUS,
    E_APP_STATE,
    E__COUNT
};

/* The Avro enums and their C counterparts, indexed by E_* (codec_schema.c).
 * asw_codec_new() checks that every reader enum has exactly these symbols in
 * this order, so a reader enum index is the C value. */
extern const enum_def asw_codec_enums[E__COUNT];

/* ---- codec state ---- */

/* A field default of a reader schema, borrowed from its parsed JSON. */
typedef struct field_default {
    const char *record; /* short record name */
    const char *field;
    json_t *value;
} field_default;

/* One reader schema: the current layout of one record. */
typedef struct reader {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t enc; /* reused by every encode of this record */
    avro_value_t dec; /* reused by every native decode of this record */
    json_t *json;     /* the parsed .avsc, owner of the defaults */
    field_default *defaults;
    size_t n_defaults;
} reader;

/*
 * A schema id and how to read bodies framed with it. A built-in binding reads
 * straight into its reader's dec value; a registered one reads through
 * `resolved`, which fills `proj_value`, an instance of `projected`.
 */
typedef struct binding {
    int32_t id;
    rec_kind kind;
    char *text;           /* the schema text, to compare on re-registration */
    avro_schema_t writer; /* the schema the bytes were written with */
    avro_schema_t projected;
    avro_value_iface_t *proj_iface;
    avro_value_t proj_value;
    avro_value_iface_t *resolver;
    avro_value_t resolved;
} binding;

struct asw_codec {
    reader readers[RK__COUNT];
    binding *bindings;
    size_t n_bindings, cap_bindings;
    avro_reader_t in;          /* re-pointed at each body */
    avro_writer_t out;         /* re-pointed at each output buffer */
    bool fast;                 /* events of built-in ids are read without avro-c */
    int32_t enc_id[RK__COUNT]; /* the id each record is framed with when encoded */
};

/* ---- shared between the parts ---- */

/* codec.c */

/*
 * Write a one-line message to err (when there is room; newlines, carriage
 * returns and tabs become spaces) and return rc. err may be NULL, errlen 0.
 */
__attribute__((format(printf, 4, 5))) asw_codec_err
asw_codec_fail(char *err, size_t errlen, asw_codec_err rc, const char *fmt, ...);

/*
 * Read the body of a frame whose record is one of `kinds_allowed` (a set of
 * KIND_BIT()s): the framing, the schema id's binding, the validation walk,
 * then avro-c's read. On success *kind is its record and *value the decoded
 * value (reader-shaped, owned by the codec, valid until the next decode). On
 * failure returns the codec.h error (E_SHORT, E_MAGIC, E_UNKNOWN_SCHEMA,
 * E_WRONG_RECORD, or the walk's and avro-c's E_BODY / E_ENUM /
 * E_MISSING_FIELD / E_SCHEMA) with a one-line message in err.
 */
asw_codec_err asw_codec_decode_value(asw_codec *c, const void *buf, size_t len,
                                     unsigned kinds_allowed, rec_kind *kind, avro_value_t **value,
                                     char *err, size_t errlen);

/* codec_schema.c */

/*
 * Load every built-in schema into c->readers and bind it to its built-in id.
 * Returns false with a message in err when a schema is not compiled in, does
 * not parse, or has an enum whose symbols differ from model.h's. Whatever was
 * loaded, also on failure, is freed by asw_codec_schemas_free().
 */
bool asw_codec_schemas_load(asw_codec *c, char *err, size_t errlen);
/* Free the readers and bindings of c (those loaded so far, too). */
void asw_codec_schemas_free(asw_codec *c);

/* Do a writer and a reader schema name the same kind of thing? (Type, and
 * name for named types; promotions are left to avro-c.) */
bool asw_codec_same_shape(avro_schema_t a, avro_schema_t b);
/* The branch of union u shaped like s (asw_codec_same_shape), or NULL. */
avro_schema_t asw_codec_union_match(avro_schema_t u, avro_schema_t s);

/* The .avsc default of field `field` of record `record` (short name) in the
 * reader schema rd, or NULL when it has none. Borrowed from rd->json. */
json_t *asw_codec_find_default(const reader *rd, const char *record, const char *field);

/* codec_check.c */

/*
 * The validation walk: check a record body of writer schema w against the
 * bytes before anything reads it, allocating nothing. r is the reader's
 * schema for it (a projection for a registered writer), consulted to report
 * a null where the reader needs a value. On success *used is how many bytes
 * the record takes (the caller decides about the rest). On failure returns
 * E_BODY (truncated or corrupt), E_ENUM (index out of range),
 * E_MISSING_FIELD (null where r requires a value) or E_SCHEMA (a type the
 * walk does not know), with a one-line message in err.
 */
asw_codec_err asw_codec_check_body(const uint8_t *body, size_t len, avro_schema_t w,
                                   avro_schema_t r, size_t *used, char *err, size_t errlen);

/* Is s[0..n) strict UTF-8 (no overlong forms, surrogates or NUL: ids become
 * C strings)? */
bool asw_codec_utf8_valid(const uint8_t *s, size_t n);

/* codec_record.c */

/*
 * Do the field tables (the outputs' of outputs.c, the events' of the fast
 * path) write and read what the reader schemas of c say? Else false with a
 * message in err. asw_codec_new() refuses to start on a mismatch.
 */
bool asw_codec_tables_match(const asw_codec *c, char *err, size_t errlen);

/* ---- on every record: inline ---- */

/* ---- the Confluent framing ---- */

/*
 * Split a frame into its schema id and Avro body. The one place that reads the
 * framing: byte 0 is FRAME_MAGIC, bytes 1-4 the schema id, big-endian.
 */
static inline asw_codec_err asw_codec_frame_read(const void *buf, size_t len, int32_t *id,
                                                 const uint8_t **body, size_t *body_len) {
    const uint8_t *p = buf;
    if (!p || len < FRAME_LEN)
        return ASW_CODEC_E_SHORT;
    if (p[0] != FRAME_MAGIC)
        return ASW_CODEC_E_MAGIC;
    *id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
                    (uint32_t)p[4]);
    *body = p + FRAME_LEN;
    *body_len = len - FRAME_LEN;
    return ASW_CODEC_OK;
}

/* The one place that writes the framing, into the first FRAME_LEN bytes. */
static inline void asw_codec_frame_write(uint8_t *p, int32_t id) {
    uint32_t u = (uint32_t)id;
    p[0] = FRAME_MAGIC;
    p[1] = (uint8_t)(u >> 24);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 8);
    p[4] = (uint8_t)u;
}

/* ---- schema helpers ---- */

/* The schema a named-type link stands for (s itself when it is no link). */
static inline avro_schema_t asw_codec_deref(avro_schema_t s) {
    for (int i = 0; s && is_avro_link(s) && i < MAX_DEPTH; i++)
        s = avro_schema_link_target(s);
    return s;
}

/* ---- bindings ---- */

/* The binding of schema id `id` to one of the records in `kinds` (a set of
 * KIND_BIT()s), or NULL. Linear: a codec holds ten built-in ids and the few
 * registered. The changelog's records keep their built-in ids whatever a
 * Schema Registry numbers the others, so an id may be bound twice, once in
 * each space (STATE_KINDS, CONTRACT_KINDS). */
static inline binding *asw_codec_binding_find(const asw_codec *c, int32_t id, unsigned kinds) {
    for (size_t i = 0; i < c->n_bindings; i++)
        if (c->bindings[i].id == id && (kinds & KIND_BIT(c->bindings[i].kind)))
            return &c->bindings[i];
    return NULL;
}

#endif /* ASW_CODEC_INT_H */
