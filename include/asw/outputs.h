/*
 * outputs.h -- one definition of each output record's fields (Decision,
 * RefundRecord): their names, types and where the C struct keeps them, in
 * the order of the .avsc. The Avro encoder (codec_record.c) and the JSON Lines
 * writer (jsonl.c) both walk these tables; asw_codec_new() refuses to start
 * when a table and its .avsc differ, so adding a field means one line here
 * (and the struct member) plus the .avsc.
 */
#ifndef ASW_OUTPUTS_H
#define ASW_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/model.h"

typedef enum asw_field_type {
    ASW_F_STR,      /* const char *; Avro "string" (NULL written as ""), JSON null */
    ASW_F_OPT_STR,  /* const char *; Avro ["null","string"] */
    ASW_F_INT,      /* int32_t; Avro "int" */
    ASW_F_LONG,     /* int64_t; Avro "long" */
    ASW_F_BOOL,     /* bool; Avro "boolean" */
    ASW_F_ENUM,     /* a C enum; Avro enum */
    ASW_F_OPT_ENUM, /* a C enum and its bool has_ flag; Avro ["null", enum] */
    ASW_F_REASONS   /* asw_reason_set; Avro array of enum Reason */
} asw_field_type;

/* A C enum as an output carries it. */
typedef struct asw_output_enum {
    const char *avro_name; /* the Avro enum's name */
    int count;             /* its C values: 0 .. count - 1 */
    const char *(*symbol)(int);
} asw_output_enum;

typedef struct asw_output_field {
    const char *name;
    asw_field_type type;
    size_t off;               /* of the value in the struct */
    size_t has_off;           /* ASW_F_OPT_ENUM: of its has_ flag */
    const asw_output_enum *e; /* ASW_F_ENUM, ASW_F_OPT_ENUM, ASW_F_REASONS */
} asw_output_field;

typedef struct asw_output_def {
    const char *record; /* the Avro record name, and the JSON "type" */
    const asw_output_field *fields;
    size_t n_fields;
} asw_output_def;

extern const asw_output_def asw_output_decision; /* of an asw_decision */
extern const asw_output_def asw_output_record;   /* of an asw_refund_record */

/* A field's value in `obj` (a struct the def describes). */
static inline const char *asw_field_str(const void *obj, const asw_output_field *f) {
    return *(const char *const *)((const char *)obj + f->off);
}
/* ASW_F_INT, ASW_F_LONG, ASW_F_ENUM, ASW_F_OPT_ENUM, ASW_F_REASONS as an integer. */
int64_t asw_field_int(const void *obj, const asw_output_field *f);
static inline bool asw_field_bool(const void *obj, const asw_output_field *f) {
    return *(const bool *)((const char *)obj + f->off);
}
/* ASW_F_OPT_ENUM: is the value there? */
static inline bool asw_field_has(const void *obj, const asw_output_field *f) {
    return *(const bool *)((const char *)obj + f->has_off);
}

#endif /* ASW_OUTPUTS_H */
