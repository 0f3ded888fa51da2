/*
 * codec_schema.c -- the codec's schemas: the records it knows and their
 * built-in ids, the C counterparts of the Avro enums, the reader schemas with
 * their defaults, and the bindings of schema ids to writer schemas, built in
 * or registered (asw_codec_register_writer()).
 *
 * The reader schemas are schemas/<Record>.avsc, compiled into the binary by
 * cmake/embed_schemas.cmake. Each has one cached avro_value_iface_t and two
 * reusable avro_value_t (one encodes, one decodes), reset per record, in the
 * manner of bottledwater-pg's registry.c. Built-in ids (codec.h) bind each
 * reader schema to itself; asw_codec_register_writer() binds an id to an older
 * (or newer) writer schema, decoded through avro-c's resolved writer.
 *
 * A gap of avro-c 1.11.1 shapes this file: its resolved writer refuses reader
 * fields absent from the writer even when they have a default, and copies enum
 * indexes across without mapping symbols. So a writer is resolved into a
 * *projection* of the reader schema: the reader's fields minus those the
 * writer lacks (which must have a default in the .avsc), with each enum
 * carrying the writer's symbols. The extractors (codec_record.c) read fields
 * by name, take the .avsc default for a field the projection lacks, and map
 * enums by symbol name.
 */
#include "asw/alloc.h"
#include "codec_int.h"

#include <avro.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Generated from the .avsc files: { file stem, JSON text }, ends with NULLs. */
extern const struct asw_embedded_schema {
    const char *name;
    const char *text;
} asw_embedded_schemas[];

/* ---- the records this codec knows ---- */

const struct asw_codec_kind asw_codec_kinds[RK__COUNT] = {
    {"AfterSaleApplied", ASW_SCHEMA_ID_APPLIED},
    {"AfterSaleWithdrawn", ASW_SCHEMA_ID_WITHDRAWN},
    {"AfterSaleClosed", ASW_SCHEMA_ID_CLOSED},
    {"AfterSaleSucceeded", ASW_SCHEMA_ID_SUCCEEDED},
    {"RefundClawedBack", ASW_SCHEMA_ID_CLAWED_BACK},
    {"ExternalRefundRecorded", ASW_SCHEMA_ID_EXTERNAL},
    {"Decision", ASW_SCHEMA_ID_DECISION},
    {"RefundRecord", ASW_SCHEMA_ID_REFUND_RECORD},
    {"OrderState", ASW_SCHEMA_ID_ORDER_STATE},
    {"PartitionState", ASW_SCHEMA_ID_PARTITION_STATE},
};

/* ---- the Avro enums and their C counterparts ---- */

static const char *sym_initiator(int v) {
    return asw_initiator_name((asw_initiator)v);
}
static const char *sym_aftersale_type(int v) {
    return asw_aftersale_type_name((asw_aftersale_type)v);
}
static const char *sym_order_status(int v) {
    return asw_order_status_name((asw_order_status)v);
}
static const char *sym_goods_type(int v) {
    return asw_goods_type_name((asw_goods_type)v);
}
static const char *sym_close_reason(int v) {
    return asw_close_reason_name((asw_close_reason)v);
}
static const char *sym_external_kind(int v) {
    return asw_external_kind_name((asw_external_kind)v);
}
static const char *sym_outcome(int v) {
    return asw_outcome_name((asw_outcome)v);
}
static const char *sym_reason(int v) {
    return asw_reason_name((asw_reason)v);
}
static const char *sym_origin(int v) {
    return asw_origin_name((asw_origin)v);
}
static const char *sym_record_status(int v) {
    return asw_record_status_name((asw_record_status)v);
}
static const char *sym_app_state(int v) {
    return asw_app_state_name((asw_app_state)v);
}

/* codec_new() checks that every reader enum has exactly these symbols in this
 * order, so a reader enum index is the C value. */
const enum_def asw_codec_enums[E__COUNT] = {
    [E_INITIATOR] = {"Initiator", ASW_INIT__COUNT, sym_initiator},
    [E_AFTERSALE_TYPE] = {"AfterSaleType", ASW_AT__COUNT, sym_aftersale_type},
    [E_ORDER_STATUS] = {"OrderStatus", ASW_OS__COUNT, sym_order_status},
    [E_GOODS_TYPE] = {"GoodsType", ASW_GT__COUNT, sym_goods_type},
    [E_CLOSE_REASON] = {"CloseReason", ASW_CR__COUNT, sym_close_reason},
    [E_EXTERNAL_KIND] = {"ExternalKind", ASW_EK__COUNT, sym_external_kind},
    [E_OUTCOME] = {"Outcome", ASW_OUT__COUNT, sym_outcome},
    [E_REASON] = {"Reason", ASW_R__COUNT, sym_reason},
    [E_ORIGIN] = {"Origin", ASW_ORIGIN__COUNT, sym_origin},
    [E_RECORD_STATUS] = {"RecordStatus", ASW_RS__COUNT, sym_record_status},
    [E_APP_STATE] = {"AppState", ASW_APP__COUNT, sym_app_state},
};

/* ---- schema helpers ---- */

static bool is_named(avro_schema_t s) {
    return is_avro_record(s) || is_avro_enum(s) || is_avro_fixed(s);
}

/* Do a writer and a reader schema name the same kind of thing? (Type, and
 * name for named types; promotions are left to avro-c.) */
bool asw_codec_same_shape(avro_schema_t a, avro_schema_t b) {
    if (avro_typeof(a) != avro_typeof(b))
        return false;
    return !is_named(a) || strcmp(avro_schema_name(a), avro_schema_name(b)) == 0;
}

/* The branch of union u shaped like s, or NULL. */
avro_schema_t asw_codec_union_match(avro_schema_t u, avro_schema_t s) {
    size_t n = avro_schema_union_size(u);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = asw_codec_deref(avro_schema_union_branch(u, (int)i));
        if (b && asw_codec_same_shape(b, s))
            return b;
    }
    return NULL;
}

/* ---- reader schemas and their defaults ---- */

static void add_default(reader *rd, const char *record, const char *field, json_t *value) {
    rd->defaults = asw_realloc(rd->defaults, (rd->n_defaults + 1) * sizeof *rd->defaults);
    rd->defaults[rd->n_defaults++] = (field_default){record, field, value};
}

static const char *short_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

/* Collect the "default" of every record field in the JSON of a type. */
static void collect_defaults(reader *rd, json_t *type, int depth) {
    if (depth > MAX_DEPTH)
        return;
    if (json_is_array(type)) { /* a union */
        size_t i;
        json_t *b;
        json_array_foreach(type, i, b) {
            collect_defaults(rd, b, depth + 1);
        }
        return;
    }
    if (!json_is_object(type))
        return;
    const char *t = json_string_value(json_object_get(type, "type"));
    if (!t)
        return;
    if (strcmp(t, "array") == 0) {
        collect_defaults(rd, json_object_get(type, "items"), depth + 1);
    } else if (strcmp(t, "map") == 0) {
        collect_defaults(rd, json_object_get(type, "values"), depth + 1);
    } else if (strcmp(t, "record") == 0) {
        const char *name = json_string_value(json_object_get(type, "name"));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(type, "fields"), i, f) {
            const char *fname = json_string_value(json_object_get(f, "name"));
            json_t *def = json_object_get(f, "default");
            if (name && fname && def)
                add_default(rd, short_name(name), fname, def);
            collect_defaults(rd, json_object_get(f, "type"), depth + 1);
        }
    }
}

json_t *asw_codec_find_default(const reader *rd, const char *record, const char *field) {
    for (size_t i = 0; i < rd->n_defaults; i++)
        if (strcmp(rd->defaults[i].record, record) == 0 &&
            strcmp(rd->defaults[i].field, field) == 0)
            return rd->defaults[i].value;
    return NULL;
}

/* Check every enum of a reader schema against its C counterpart. */
static bool check_enums(avro_schema_t s, int depth, char *err, size_t errlen) {
    s = asw_codec_deref(s);
    if (!s || depth > MAX_DEPTH)
        return true;
    switch (avro_typeof(s)) {
    case AVRO_ENUM: {
        const char *name = avro_schema_name(s);
        for (int e = 0; e < E__COUNT; e++) {
            if (strcmp(asw_codec_enums[e].name, name) != 0)
                continue;
            bool same = avro_schema_enum_number_of_symbols(s) == asw_codec_enums[e].count;
            for (int i = 0; same && i < asw_codec_enums[e].count; i++)
                same = strcmp(avro_schema_enum_get(s, i), asw_codec_enums[e].symbol(i)) == 0;
            if (!same)
                asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                               "enum %s: the schema's symbols differ from model.h's", name);
            return same;
        }
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "enum %s has no C counterpart", name);
        return false;
    }
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if (!check_enums(avro_schema_record_field_get_by_index(s, (int)i), depth + 1, err,
                             errlen))
                return false;
        return true;
    case AVRO_UNION:
        for (size_t i = 0; i < avro_schema_union_size(s); i++)
            if (!check_enums(avro_schema_union_branch(s, (int)i), depth + 1, err, errlen))
                return false;
        return true;
    case AVRO_ARRAY:
        return check_enums(avro_schema_array_items(s), depth + 1, err, errlen);
    case AVRO_MAP:
        return check_enums(avro_schema_map_values(s), depth + 1, err, errlen);
    default:
        return true;
    }
}

static const char *embedded_text(const char *name) {
    for (const struct asw_embedded_schema *e = asw_embedded_schemas; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->text;
    return NULL;
}

static bool reader_init(reader *rd, rec_kind k, char *err, size_t errlen) {
    const char *text = embedded_text(asw_codec_kinds[k].name);
    json_error_t jerr;
    if (!text) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema %s.avsc is not compiled in",
                       asw_codec_kinds[k].name);
        return false;
    }
    if (avro_schema_from_json_length(text, strlen(text), &rd->schema)) {
        rd->schema = NULL;
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema %s.avsc: %s",
                       asw_codec_kinds[k].name, avro_strerror());
        return false;
    }
    if (!is_avro_record(rd->schema) ||
        strcmp(avro_schema_name(rd->schema), asw_codec_kinds[k].name) != 0) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema %s.avsc does not define record %s",
                       asw_codec_kinds[k].name, asw_codec_kinds[k].name);
        return false;
    }
    if (!check_enums(rd->schema, 0, err, errlen))
        return false;
    rd->json = json_loads(text, 0, &jerr);
    if (!rd->json) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema %s.avsc: %s",
                       asw_codec_kinds[k].name, jerr.text);
        return false;
    }
    collect_defaults(rd, rd->json, 0);
    rd->iface = avro_generic_class_from_schema(rd->schema);
    if (!rd->iface || avro_generic_value_new(rd->iface, &rd->enc)) {
        rd->enc.self = NULL;
        goto avro_fail;
    }
    if (avro_generic_value_new(rd->iface, &rd->dec)) {
        rd->dec.self = NULL;
        goto avro_fail;
    }
    return true;
avro_fail:
    asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema %s.avsc: %s", asw_codec_kinds[k].name,
                   avro_strerror());
    return false;
}

static void reader_done(reader *rd) {
    if (rd->dec.self)
        avro_value_decref(&rd->dec);
    if (rd->enc.self)
        avro_value_decref(&rd->enc);
    if (rd->iface)
        avro_value_iface_decref(rd->iface);
    if (rd->schema)
        avro_schema_decref(rd->schema);
    free(rd->defaults);
    json_decref(rd->json);
}

/* ---- bindings ---- */

static binding *binding_add(asw_codec *c) {
    if (c->n_bindings == c->cap_bindings) {
        c->cap_bindings = c->cap_bindings ? 2 * c->cap_bindings : 16;
        c->bindings = asw_realloc(c->bindings, c->cap_bindings * sizeof *c->bindings);
    }
    binding *b = &c->bindings[c->n_bindings++];
    memset(b, 0, sizeof *b);
    return b;
}

static void binding_done(binding *b) {
    if (b->resolved.self)
        avro_value_decref(&b->resolved);
    if (b->resolver)
        avro_value_iface_decref(b->resolver);
    if (b->proj_value.self)
        avro_value_decref(&b->proj_value);
    if (b->proj_iface)
        avro_value_iface_decref(b->proj_iface);
    if (b->projected)
        avro_schema_decref(b->projected);
    if (b->writer)
        avro_schema_decref(b->writer);
    free(b->text);
}

/*
 * Load every built-in schema into c->readers and bind it to its built-in id.
 * On failure err holds why; what was loaded is freed by
 * asw_codec_schemas_free().
 */
bool asw_codec_schemas_load(asw_codec *c, char *err, size_t errlen) {
    for (int k = 0; k < RK__COUNT; k++) {
        if (!reader_init(&c->readers[k], (rec_kind)k, err, errlen))
            return false;
        c->enc_id[k] = asw_codec_kinds[k].id;
        binding *b = binding_add(c);
        b->id = asw_codec_kinds[k].id;
        b->kind = (rec_kind)k;
        b->text = asw_strdup(embedded_text(asw_codec_kinds[k].name));
        b->writer = avro_schema_incref(c->readers[k].schema);
    }
    return true;
}

/* Free the readers and bindings of c (those loaded so far, too). */
void asw_codec_schemas_free(asw_codec *c) {
    for (size_t i = 0; i < c->n_bindings; i++)
        binding_done(&c->bindings[i]);
    free(c->bindings);
    for (int k = 0; k < RK__COUNT; k++)
        reader_done(&c->readers[k]);
}

/* ---- writer registration ---- */

static avro_schema_t project(const reader *rd, avro_schema_t w, avro_schema_t r, int depth,
                             char *err, size_t errlen);

/* A reader record with only the fields the writer record has. */
static avro_schema_t project_record(const reader *rd, avro_schema_t w, avro_schema_t r, int depth,
                                    char *err, size_t errlen) {
    const char *name = avro_schema_name(r);
    avro_schema_t p = avro_schema_record(name, avro_schema_namespace(r));
    if (!p) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "avro-c: %s", avro_strerror());
        return NULL;
    }
    for (size_t i = 0; i < avro_schema_record_size(r); i++) {
        const char *fname = avro_schema_record_field_name(r, (int)i);
        int wi = avro_schema_record_field_get_index(w, fname);
        if (wi < 0) {
            if (asw_codec_find_default(rd, name, fname))
                continue; /* the extractors supply the default */
            asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                           "the writer lacks field %s.%s, which has no default", name, fname);
            goto fail;
        }
        avro_schema_t pf =
            project(rd, avro_schema_record_field_get_by_index(w, wi),
                    avro_schema_record_field_get_by_index(r, (int)i), depth + 1, err, errlen);
        if (!pf)
            goto fail;
        int rc = avro_schema_record_field_append(p, fname, pf);
        avro_schema_decref(pf);
        if (rc) {
            asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "avro-c: %s", avro_strerror());
            goto fail;
        }
    }
    return p;
fail:
    avro_schema_decref(p);
    return NULL;
}

/* A reader enum renumbered with the writer's symbols, so that avro-c's
 * index-copying resolver stays correct; extractors map by symbol name. */
static avro_schema_t project_enum(avro_schema_t w, avro_schema_t r, char *err, size_t errlen) {
    avro_schema_t p = avro_schema_enum_ns(avro_schema_name(r), avro_schema_namespace(r));
    int n = avro_schema_enum_number_of_symbols(w);
    for (int i = 0; p && i < n; i++) {
        if (avro_schema_enum_symbol_append(p, avro_schema_enum_get(w, i))) {
            avro_schema_decref(p);
            p = NULL;
        }
    }
    if (!p)
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "avro-c: %s", avro_strerror());
    return p;
}

/*
 * The reader schema r reshaped for the writer schema w (see the file comment).
 * Where the two do not correspond, r is returned as is and avro-c's resolver
 * has the last word. Returns a new reference, or NULL with err set.
 */
static avro_schema_t project(const reader *rd, avro_schema_t w, avro_schema_t r, int depth,
                             char *err, size_t errlen) {
    w = asw_codec_deref(w);
    r = asw_codec_deref(r);
    if (!w || !r || depth > MAX_DEPTH) {
        asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA, "schema nests deeper than %d", MAX_DEPTH);
        return NULL;
    }
    if (is_avro_union(w) && !is_avro_union(r)) {
        avro_schema_t wb = asw_codec_union_match(w, r);
        if (wb)
            w = wb;
    }
    switch (avro_typeof(r)) {
    case AVRO_RECORD:
        if (is_avro_record(w) && asw_codec_same_shape(w, r))
            return project_record(rd, w, r, depth, err, errlen);
        break;
    case AVRO_ENUM:
        if (is_avro_enum(w) && asw_codec_same_shape(w, r))
            return project_enum(w, r, err, errlen);
        break;
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (avro_typeof(w) == avro_typeof(r)) {
            bool arr = is_avro_array(r);
            avro_schema_t items =
                project(rd, arr ? avro_schema_array_items(w) : avro_schema_map_values(w),
                        arr ? avro_schema_array_items(r) : avro_schema_map_values(r), depth + 1,
                        err, errlen);
            if (!items)
                return NULL;
            avro_schema_t p = arr ? avro_schema_array(items) : avro_schema_map(items);
            avro_schema_decref(items);
            return p;
        }
        break;
    case AVRO_UNION: {
        avro_schema_t u = avro_schema_union();
        for (size_t i = 0; i < avro_schema_union_size(r); i++) {
            avro_schema_t rb = asw_codec_deref(avro_schema_union_branch(r, (int)i));
            avro_schema_t wb = is_avro_union(w)              ? asw_codec_union_match(w, rb)
                               : asw_codec_same_shape(w, rb) ? w
                                                             : NULL;
            avro_schema_t pb =
                wb ? project(rd, wb, rb, depth + 1, err, errlen) : avro_schema_incref(rb);
            if (!pb) {
                avro_schema_decref(u);
                return NULL;
            }
            avro_schema_union_append(u, pb);
            avro_schema_decref(pb);
        }
        return u;
    }
    default:
        break;
    }
    return avro_schema_incref(r);
}

/*
 * Register a writer schema under a schema id, so that frames carrying that id
 * are read with it and resolved into the current reader schema of the same
 * record (Avro schema resolution: fields matched by name, writer-only fields
 * skipped, reader-only fields take their .avsc default, enums matched by
 * symbol, int/long/float promotions).
 *
 * @param c            the codec.
 * @param schema_id    the id frames will carry (e.g. from a Schema Registry).
 * @param schema_json  the writer schema, JSON text; copied.
 * @param err, errlen  receives a one-line message on failure.
 * @return ASW_CODEC_OK when registered, or when the same id is registered
 *         again with byte-identical text (a no-op). ASW_CODEC_E_SCHEMA when
 *         the text does not parse, is not a record of this project (same full
 *         name), lacks a reader field that has no default, cannot be
 *         resolved by avro-c, or the id is already bound to other text
 *         (built-in ids count as bound to the compiled-in schemas). On
 *         failure nothing is registered.
 */
asw_codec_err asw_codec_register_writer(asw_codec *c, int32_t schema_id, const char *schema_json,
                                        char *err, size_t errlen) {
    avro_schema_t w = NULL, projected = NULL;
    binding nb;
    memset(&nb, 0, sizeof nb);
    asw_codec_err rc = ASW_CODEC_E_SCHEMA;

    if (!schema_json)
        return asw_codec_fail(err, errlen, rc, "schema id %d: no schema text", (int)schema_id);
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &w)) {
        w = NULL;
        rc = asw_codec_fail(err, errlen, rc, "schema id %d does not parse: %s", (int)schema_id,
                            avro_strerror());
        goto fail;
    }
    avro_schema_t wr = asw_codec_deref(w);
    int k = -1;
    if (is_avro_record(wr)) {
        const char *ns = avro_schema_namespace(wr);
        for (int i = 0; i < RK__COUNT; i++) {
            avro_schema_t r = c->readers[i].schema;
            const char *rns = avro_schema_namespace(r);
            if (strcmp(avro_schema_name(wr), avro_schema_name(r)) == 0 &&
                strcmp(ns ? ns : "", rns ? rns : "") == 0)
                k = i;
        }
    }
    if (k < 0) {
        rc = asw_codec_fail(err, errlen, rc, "schema id %d is not a record of this project",
                            (int)schema_id);
        goto fail;
    }
    const binding *old = asw_codec_binding_find(c, schema_id, KIND_SPACE(k));
    if (old) {
        rc = strcmp(old->text, schema_json) == 0
                 ? ASW_CODEC_OK
                 : asw_codec_fail(err, errlen, rc,
                                  "schema id %d is already bound to another %s schema",
                                  (int)schema_id, asw_codec_kinds[old->kind].name);
        goto fail; /* frees w */
    }
    const reader *rd = &c->readers[k];
    if (avro_schema_equal(w, rd->schema)) {
        /* The current schema under another id (a registry's): read as a
         * built-in id is, the events by the fast path. */
        binding *b = binding_add(c);
        b->id = schema_id;
        b->kind = (rec_kind)k;
        b->text = asw_strdup(schema_json);
        b->writer = avro_schema_incref(rd->schema);
        avro_schema_decref(w);
        return ASW_CODEC_OK;
    }
    projected = project(rd, wr, rd->schema, 0, err, errlen);
    if (!projected)
        goto fail;
    nb.proj_iface = avro_generic_class_from_schema(projected);
    if (!nb.proj_iface || avro_generic_value_new(nb.proj_iface, &nb.proj_value)) {
        nb.proj_value.self = NULL;
        rc = asw_codec_fail(err, errlen, rc, "schema id %d: %s", (int)schema_id, avro_strerror());
        goto fail;
    }
    nb.resolver = avro_resolved_writer_new(w, projected);
    if (!nb.resolver || avro_resolved_writer_new_value(nb.resolver, &nb.resolved)) {
        nb.resolved.self = NULL;
        rc = asw_codec_fail(err, errlen, rc, "schema id %d cannot be resolved into %s: %s",
                            (int)schema_id, asw_codec_kinds[k].name, avro_strerror());
        goto fail;
    }
    avro_resolved_writer_set_dest(&nb.resolved, &nb.proj_value);

    binding *b = binding_add(c);
    *b = nb;
    b->id = schema_id;
    b->kind = (rec_kind)k;
    b->text = asw_strdup(schema_json);
    b->writer = w;
    b->projected = projected;
    return ASW_CODEC_OK;
fail:
    binding_done(&nb);
    if (projected)
        avro_schema_decref(projected);
    if (w)
        avro_schema_decref(w);
    return rc;
}

/* ---- ids from a Schema Registry ---- */

static int kind_by_name(const char *record) {
    for (int k = 0; k < RK__COUNT; k++)
        if (strcmp(asw_codec_kinds[k].name, record) == 0)
            return k;
    return -1;
}

/*
 * The compiled-in .avsc text of a record ("Decision", "AfterSaleApplied",
 * ...), to register with a Schema Registry. Static; NULL for an unknown name.
 */
const char *asw_codec_schema_text(const char *record) {
    int k = kind_by_name(record);
    return k < 0 ? NULL : embedded_text(asw_codec_kinds[k].name);
}

/* The record name of an input event type (the .avsc stem), or NULL. */
const char *asw_codec_event_record(asw_event_type t) {
    if ((int)t < 0 || t >= ASW_EV__COUNT)
        return NULL;
    return asw_codec_kinds[(rec_kind)t].name;
}

/*
 * Forget the built-in ids of the wire contract's records (events, Decision,
 * RefundRecord): with a Schema Registry, ids mean the registry's. The
 * changelog's records keep theirs.
 */
void asw_codec_forget_builtin_ids(asw_codec *c) {
    size_t kept = 0;
    for (size_t i = 0; i < c->n_bindings; i++) {
        binding *b = &c->bindings[i];
        bool builtin = !b->resolver && b->writer == c->readers[b->kind].schema &&
                       b->id == asw_codec_kinds[b->kind].id;
        if (builtin && (KIND_BIT(b->kind) & CONTRACT_KINDS))
            binding_done(b);
        else
            c->bindings[kept++] = *b;
    }
    c->n_bindings = kept;
}

/*
 * Bind `id` to the current schema of `record` and frame that record with it
 * from now on (the id a Schema Registry gave it).
 *
 * @return ASW_CODEC_OK; ASW_CODEC_E_SCHEMA when the name is unknown, names a
 *         changelog record, or the id is bound to another schema already.
 */
asw_codec_err asw_codec_use_id(asw_codec *c, const char *record, int32_t id, char *err,
                               size_t errlen) {
    int k = kind_by_name(record);
    if (k < 0 || !(KIND_BIT(k) & CONTRACT_KINDS))
        return asw_codec_fail(err, errlen, ASW_CODEC_E_SCHEMA,
                              "%s is not a record of the wire "
                              "contract",
                              record);
    asw_codec_err rc = asw_codec_register_writer(c, id, embedded_text(record), err, errlen);
    if (rc == ASW_CODEC_OK)
        c->enc_id[k] = id;
    return rc;
}

/*
 * The record a schema id is bound to ("Decision", ...), or NULL. The wire
 * contract's records are looked at before the changelog's.
 */
const char *asw_codec_id_record(const asw_codec *c, int32_t id) {
    const binding *b = asw_codec_binding_find(c, id, CONTRACT_KINDS);
    if (!b)
        b = asw_codec_binding_find(c, id, STATE_KINDS);
    return b ? asw_codec_kinds[b->kind].name : NULL;
}
