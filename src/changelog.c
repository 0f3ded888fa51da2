/*
 * changelog.c -- the changelog's record layout, the records of a
 * transaction, the restore and its policy for corrupt records; see
 * changelog.h.
 *
 * Values are written for the purpose, not in Avro: a changelog record is
 * read back by this module only, at restore speed, and the order's entity
 * records must stay small. Layout of a value:
 *
 *   0xA5  kind  version=1  fields...
 *
 * with integers as zigzag varints and strings as varint length + bytes (a
 * nullable string stores length + 1, 0 = null). The first byte tells these
 * apart from the Avro OrderState of earlier versions (Confluent framing:
 * byte 0 = 0), which a restore still reads.
 *
 * An order that never held more than ASW_WHOLE_ENTITIES entities (almost
 * every one) is one record under its key: kind 'W', the order's frozen body
 * (asw_order_freeze_body(), decisions told relative to the input topic).
 * A restore checks it and keeps it frozen as it is, so restoring such an
 * order costs one record and no decoding. A bigger order is split for good:
 * its ledger ('O') and one record per entity, as above.
 */
#include "asw/changelog.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/jsonl.h"
#include "asw/varint.h"

#define MAGIC   0xA5
#define VERSION 1

/* Record kinds: the byte after the magic, and the one after the NUL in an
 * entity key. An application is two records: its counted part (changes with
 * its lifecycle) and its decision (written once). */
typedef enum rec_kind { R_ORDER, R_SKU, R_APP, R_DECISION, R_EXTERNAL, R_SEEN, R__COUNT } rec_kind;
static const char rec_char[R__COUNT] = {'O', 'S', 'A', 'D', 'X', 'E'};

/* The value kind of a whole order's record (under the order's key). */
#define WHOLE_CHAR 'W'

static int rec_kind_of(char c) {
    for (int k = 0; k < R__COUNT; k++)
        if (rec_char[k] == c)
            return k;
    return -1;
}

/* The entity an entity record is part of. */
static asw_entity_kind entity_of(rec_kind k) {
    switch (k) {
    case R_SKU:
        return ASW_ENT_SKU;
    case R_APP:
    case R_DECISION:
        return ASW_ENT_APP;
    case R_EXTERNAL:
        return ASW_ENT_EXTERNAL;
    default:
        return ASW_ENT_SEEN;
    }
}

static bool is_partition_key(const void *key, size_t keylen) {
    return keylen == ASW_CHANGELOG_PARTITION_KEY_LEN &&
           memcmp(key, ASW_CHANGELOG_PARTITION_KEY, keylen) == 0;
}

/* ---- encoding ---- */

static void put_byte(asw_buf *b, uint8_t v) {
    asw_buf_append(b, &v, 1);
}

static void put_uvar(asw_buf *b, uint64_t v) {
    uint8_t tmp[10];
    asw_buf_append(b, tmp, asw_varint_put(tmp, v));
}

static void put_var(asw_buf *b, int64_t v) {
    put_uvar(b, asw_zigzag(v));
}

static void put_str(asw_buf *b, const char *s) {
    size_t n = strlen(s);
    put_uvar(b, n);
    asw_buf_append(b, s, n);
}

static void put_opt_str(asw_buf *b, const char *s) {
    if (!s) {
        put_uvar(b, 0);
        return;
    }
    size_t n = strlen(s);
    put_uvar(b, n + 1);
    asw_buf_append(b, s, n);
}

static void start(asw_buf *b, rec_kind kind) {
    asw_buf_reset(b);
    put_byte(b, MAGIC);
    put_byte(b, (uint8_t)rec_char[kind]);
    put_byte(b, VERSION);
}

/* key = order_id (R_ORDER), or order_id NUL kind id. */
static void record_key(asw_buf *k, const asw_order *o, rec_kind kind, uint32_t i) {
    asw_buf_reset(k);
    const char *id = asw_order_id(o);
    asw_buf_append(k, id, strlen(id));
    if (kind == R_ORDER)
        return;
    char sep[2] = {'\0', rec_char[kind]};
    asw_buf_append(k, sep, 2);
    const char *e = asw_order_entity_id(o, entity_of(kind), i);
    asw_buf_append(k, e, strlen(e));
}

static void put_sku_fields(asw_buf *b, const asw_sku_state *s) {
    put_var(b, s->paid);
    put_var(b, s->refunded);
    put_var(b, s->reserved);
    put_var(b, s->refund_successes);
}

/* The order's ledger, with the sub-orders it carries inline (they are at
 * the front of the array: see asw_order_compact()). */
static void encode_ledger(asw_buf *b, const asw_order *o) {
    start(b, R_ORDER);
    put_var(b, o->paid);
    put_var(b, o->refunded);
    put_var(b, o->reserved);
    put_var(b, o->max_event_time);
    put_byte(b, (uint8_t)((o->prior_success ? 1 : 0) | (o->has_deadline ? 2 : 0)));
    if (o->has_deadline)
        put_var(b, o->deadline);
    put_opt_str(b, o->shop_id ? asw_order_str(o, o->shop_id) : NULL);
    put_uvar(b, o->n_ledger_skus);
    for (uint32_t i = 0, found = 0; i < o->n_skus && found < o->n_ledger_skus; i++) {
        const asw_sku_state *s = &o->skus[i];
        if (!s->in_ledger)
            continue;
        found++;
        put_str(b, asw_order_str(o, s->sku_order_id));
        put_sku_fields(b, s);
    }
}

static void encode_record(asw_buf *b, const asw_order *o, rec_kind kind, uint32_t i,
                          const char *input_topic) {
    start(b, kind);
    switch (kind) {
    case R_SKU:
        put_sku_fields(b, &o->skus[i]);
        break;
    case R_APP: {
        const asw_app *a = &o->apps[i];
        put_byte(b, (uint8_t)((a->counted ? 1 : 0) | (a->has_type ? 4 : 0)));
        if (a->counted) {
            put_byte(b, a->state);
            put_byte(b, a->type);
            put_var(b, a->reserved);
            put_str(b, asw_order_str(o, a->sku_order_id));
            put_opt_str(b, a->shop_id ? asw_order_str(o, a->shop_id) : NULL);
        }
        break;
    }
    case R_DECISION: {
        asw_decision d;
        uint8_t packed[ASW_DECISION_PACKED_MAX];
        asw_order_decision(o, &o->apps[i], &d);
        asw_buf_append(b, packed, asw_decision_pack(&d, packed));
        put_str(b, d.sku_order_id);
        put_opt_str(b, d.shop_id);
        put_str(b, d.ruleset_version);
        /* null: the input topic of this partition (almost every decision) */
        put_opt_str(b, input_topic && strcmp(d.source_topic, input_topic) == 0 ? NULL
                                                                               : d.source_topic);
        break;
    }
    case R_EXTERNAL: {
        const asw_external *x = &o->externals[i];
        put_byte(b, (uint8_t)x->kind);
        put_str(b, asw_order_str(o, x->sku_order_id));
        break;
    }
    default: /* R_SEEN: the key says it all */
        break;
    }
}

typedef struct writer {
    const char *input_topic; /* decisions from it store no topic */
    const asw_order *o;
    asw_buf *key, *val;
    asw_changelog_emit_fn *emit;
    void *opaque;
    int rc;
} writer;

static void emit_record(writer *w, rec_kind kind, uint32_t i) {
    if (w->rc)
        return;
    record_key(w->key, w->o, kind, i);
    encode_record(w->val, w->o, kind, i, w->input_topic);
    w->rc = w->emit(w->opaque, w->key->data, w->key->len, w->val->data, w->val->len);
}

/* One changed entity: the records of the parts that changed. */
static void write_change(void *opaque, asw_entity_kind kind, uint32_t i, const void *before) {
    writer *w = opaque;
    switch (kind) {
    case ASW_ENT_SKU:
        if (!w->o->skus[i].in_ledger) /* else in the ledger record */
            emit_record(w, R_SKU, i);
        break;
    case ASW_ENT_APP: {
        const asw_app *a = &w->o->apps[i], *b = before;
        bool counted_changed = !b || a->counted != b->counted || a->state != b->state ||
                               a->reserved != b->reserved || a->type != b->type ||
                               a->has_type != b->has_type || a->sku_order_id != b->sku_order_id ||
                               a->shop_id != b->shop_id;
        if ((a->counted || (b && b->counted)) && counted_changed)
            emit_record(w, R_APP, i);
        if (a->decision && (!b || a->decision != b->decision))
            emit_record(w, R_DECISION, i);
        break;
    }
    case ASW_ENT_EXTERNAL:
        emit_record(w, R_EXTERNAL, i);
        break;
    default:
        emit_record(w, R_SEEN, i);
        break;
    }
}

static int emit_tombstone(writer *w, const asw_order *o, rec_kind kind, uint32_t i) {
    record_key(w->key, o, kind, i);
    return w->emit(w->opaque, w->key->data, w->key->len, NULL, 0);
}

/* Tombstones for every key of a dropped order: its ledger first, so that a
 * restore that meets it forgets the whole order at once (see restore). A
 * whole order has one key. */
static int write_tombstones(writer *w, const asw_order *o) {
    int rc = emit_tombstone(w, o, R_ORDER, 0);
    if (!o->split)
        return rc;
    for (uint32_t i = 0; i < o->n_skus && !rc; i++)
        if (!o->skus[i].in_ledger)
            rc = emit_tombstone(w, o, R_SKU, i);
    for (uint32_t i = 0; i < o->n_apps && !rc; i++) {
        if (o->apps[i].counted)
            rc = emit_tombstone(w, o, R_APP, i);
        if (!rc && o->apps[i].decision)
            rc = emit_tombstone(w, o, R_DECISION, i);
    }
    for (uint32_t i = 0; i < o->n_externals && !rc; i++)
        rc = emit_tombstone(w, o, R_EXTERNAL, i);
    for (uint32_t i = 0; i < o->n_seen && !rc; i++)
        rc = emit_tombstone(w, o, R_SEEN, i);
    return rc;
}

int asw_changelog_write(asw_codec *codec, const asw_processor *proc, const char *input_topic,
                        asw_buf *scratch, asw_changelog_emit_fn *emit, void *opaque, char *err,
                        size_t errlen) {
    asw_buf key = ASW_BUF_INIT;
    writer w = {input_topic, NULL, &key, scratch, emit, opaque, 0};
    for (size_t i = 0; i < asw_processor_dropped_count(proc) && !w.rc; i++) {
        const asw_order *d = asw_processor_dropped_at(proc, i);
        if (d)
            w.rc = write_tombstones(&w, d);
    }
    for (size_t i = 0; i < asw_processor_changed_count(proc) && !w.rc; i++) {
        w.o = asw_processor_changed_at(proc, i);
        if (!w.o->split) {
            record_key(&key, w.o, R_ORDER, 0);
            asw_buf_reset(scratch);
            put_byte(scratch, MAGIC);
            put_byte(scratch, WHOLE_CHAR);
            put_byte(scratch, VERSION);
            asw_order_freeze_body(w.o, input_topic, scratch);
            w.rc = emit(opaque, key.data, key.len, scratch->data, scratch->len);
            continue;
        }
        asw_processor_each_change(proc, w.o, write_change, &w);
        if (w.rc)
            break;
        record_key(&key, w.o, R_ORDER, 0);
        encode_ledger(scratch, w.o);
        w.rc = emit(opaque, key.data, key.len, scratch->data, scratch->len);
    }
    asw_buf_free(&key);
    if (w.rc)
        return w.rc;
    if (asw_processor_stream_time_changed(proc) && asw_processor_has_stream_time(proc)) {
        if (asw_codec_encode_partition_state(codec, asw_processor_stream_time(proc), scratch) !=
            ASW_CODEC_OK) {
            snprintf(err, errlen, "cannot encode the partition state");
            return -1;
        }
        return emit(opaque, ASW_CHANGELOG_PARTITION_KEY, ASW_CHANGELOG_PARTITION_KEY_LEN,
                    scratch->data, scratch->len);
    }
    return 0;
}

/* ---- decoding ---- */

typedef struct reader {
    const uint8_t *p, *end;
    bool bad;
} reader;

static uint64_t get_uvar(reader *r) {
    int ok = 1;
    uint64_t v = asw_varint_get(&r->p, r->end, &ok);
    r->bad = r->bad || !ok;
    return v;
}

static int64_t get_var(reader *r) {
    return asw_unzigzag(get_uvar(r));
}

static uint8_t get_byte(reader *r) {
    if (r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

/* A string into `out` (NUL-terminated, room for max bytes); NULL for a null
 * one. */
static const char *get_str_max(reader *r, char *out, size_t max, bool nullable) {
    uint64_t n = get_uvar(r);
    if (nullable) {
        if (n == 0)
            return NULL;
        n--;
    }
    if (r->bad || n > max || (uint64_t)(r->end - r->p) < n) {
        r->bad = true;
        out[0] = '\0';
        return out;
    }
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
    return out;
}

/* An id: at most ASW_TEXT_MAX bytes, the longest a state ever holds. */
#define get_str(r, out, nullable) get_str_max((r), (out), ASW_TEXT_MAX, (nullable))

/* A sub-order's ledger as a record holds it. */
typedef struct sku_fields {
    int64_t paid, refunded, reserved;
    int32_t refund_successes;
    char id[ASW_TEXT_MAX + 1];
} sku_fields;

/* A decoded record, strings in its buffers. */
typedef struct entry {
    rec_kind kind;
    /* R_ORDER */
    int64_t paid, refunded, reserved, max_event_time, deadline;
    bool prior_success, has_deadline;
    const char *shop;
    uint32_t n_skus; /* inline */
    sku_fields skus[ASW_LEDGER_SKUS];
    /* R_SKU */
    sku_fields sku_fields;
    /* R_APP */
    bool counted, has_type;
    uint8_t state, type;
    const char *sku;
    /* R_DECISION */
    asw_decision d;
    /* R_EXTERNAL */
    uint8_t ext_kind;
    char s1[ASW_TEXT_MAX + 1], s2[ASW_TEXT_MAX + 1], s3[ASW_TEXT_MAX + 1], s4[ASW_TEXT_MAX + 1],
        s5[ASW_TEXT_MAX + 1], topic[256];
} entry;

static void get_sku_fields(reader *r, sku_fields *f) {
    f->paid = get_var(r);
    f->refunded = get_var(r);
    f->reserved = get_var(r);
    f->refund_successes = (int32_t)get_var(r);
}

/* Amounts the ledger cannot compute with (asw_ledger_amounts_sound()):
 * never put into a state, nor printed by the consume tool. */
#define AMOUNTS_UNSOUND "amounts the ledger cannot hold"

static bool sku_sound(const sku_fields *f) {
    return asw_ledger_amounts_sound(f->paid, f->refunded, f->reserved);
}

/* Decode a value. Returns NULL, or why it is corrupt. */
static const char *decode_entry(const void *value, size_t len, entry *e) {
    reader r = {value, (const uint8_t *)value + len, false};
    memset(e, 0, offsetof(entry, s1));
    if (len < 3 || get_byte(&r) != MAGIC)
        return "not a changelog record";
    int kind = rec_kind_of((char)get_byte(&r));
    if (kind < 0)
        return "an unknown record kind";
    e->kind = (rec_kind)kind;
    if (get_byte(&r) != VERSION)
        return "unknown record version";
    switch (e->kind) {
    case R_ORDER: {
        e->paid = get_var(&r);
        e->refunded = get_var(&r);
        e->reserved = get_var(&r);
        e->max_event_time = get_var(&r);
        uint8_t f = get_byte(&r);
        e->prior_success = f & 1;
        e->has_deadline = (f & 2) != 0;
        if (e->has_deadline)
            e->deadline = get_var(&r);
        e->shop = get_str(&r, e->s1, true);
        uint64_t n = get_uvar(&r);
        if (n > ASW_LEDGER_SKUS)
            return "too many sub-orders in a ledger record";
        e->n_skus = (uint32_t)n;
        if (!asw_ledger_amounts_sound(e->paid, e->refunded, e->reserved))
            return AMOUNTS_UNSOUND;
        for (uint32_t i = 0; i < e->n_skus && !r.bad; i++) {
            get_str(&r, e->skus[i].id, false);
            get_sku_fields(&r, &e->skus[i]);
            if (!sku_sound(&e->skus[i]))
                return AMOUNTS_UNSOUND;
        }
        break;
    }
    case R_SKU:
        get_sku_fields(&r, &e->sku_fields);
        if (!sku_sound(&e->sku_fields))
            return AMOUNTS_UNSOUND;
        break;
    case R_APP: {
        uint8_t f = get_byte(&r);
        e->counted = f & 1;
        e->has_type = (f & 4) != 0;
        if (e->counted) {
            e->state = get_byte(&r);
            e->type = get_byte(&r);
            e->reserved = get_var(&r);
            e->sku = get_str(&r, e->s1, false);
            e->shop = get_str(&r, e->s2, true);
            if (e->state >= ASW_APP__COUNT || e->type >= ASW_AT__COUNT)
                return "an enum out of range";
            if (e->reserved < 0)
                return AMOUNTS_UNSOUND;
            /* Only an OPEN application reserves; the frozen form keeps no
             * reservation for another (asw_order_freeze() is exact only on
             * states the rules can make). */
            if (e->state != ASW_APP_OPEN && e->reserved != 0)
                return "a reservation on an application that is not OPEN";
        }
        break;
    }
    case R_DECISION: {
        asw_decision *d = &e->d;
        if (asw_decision_unpack(d, &r.p, r.end) != 0)
            return "a truncated decision or an enum out of range";
        d->sku_order_id = get_str(&r, e->s3, false);
        d->shop_id = get_str(&r, e->s4, true);
        d->ruleset_version = get_str(&r, e->s5, false);
        d->source_topic = get_str_max(&r, e->topic, sizeof e->topic - 1, true);
        break;
    }
    case R_EXTERNAL:
        e->ext_kind = get_byte(&r);
        e->sku = get_str(&r, e->s1, false);
        if (e->ext_kind >= ASW_EK__COUNT)
            return "an enum out of range";
        break;
    default: /* R_SEEN */
        break;
    }
    if (r.bad)
        return "a truncated or corrupt record";
    if (r.p != r.end)
        return "trailing bytes";
    return NULL;
}

/* ---- restore ---- */

/* asw_order.restore_flags while a restore runs. */
#define RF_HEADER 1 /* its ledger record was read */

/* A key whose latest record was corrupt. Keys are compared as bytes. */
typedef struct corrupt_key {
    char *key;
    size_t keylen;
    int64_t offset; /* of the latest corrupt record of this key */
    char error[200];
    bool open; /* false once a later record superseded it */
} corrupt_key;

struct asw_changelog_restore {
    asw_codec *codec;
    char *input_topic; /* what a Decision record without a topic came from */
    asw_processor *proc;
    asw_changelog_restore_stats stats;
    /* Corrupt keys: an open-addressing table of indexes (+1; 0 = empty)
     * into `keys`. Empty unless the changelog holds corrupt records. */
    corrupt_key *keys;
    size_t n_keys, cap_keys;
    uint32_t *slots;
    size_t n_slots; /* a power of two, or 0 */
    size_t n_open;
};

asw_changelog_restore *asw_changelog_restore_new(asw_codec *codec, asw_processor *proc,
                                                 const char *input_topic) {
    asw_changelog_restore *r = asw_calloc(1, sizeof *r);
    r->codec = codec;
    r->input_topic = asw_strdup(input_topic ? input_topic : "");
    r->proc = proc;
    /* Whole records are kept frozen as they come: told relative to the
     * same topic as the processor's frozen orders. */
    asw_processor_set_topic(proc, r->input_topic);
    return r;
}

void asw_changelog_restore_destroy(asw_changelog_restore *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n_keys; i++)
        free(r->keys[i].key);
    free(r->keys);
    free(r->slots);
    free(r->input_topic);
    free(r);
}

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot of key, or of the empty slot where it would go. */
static size_t key_slot(const asw_changelog_restore *r, const void *key, size_t keylen) {
    size_t mask = r->n_slots - 1;
    for (size_t i = hash_bytes(key, keylen) & mask;; i = (i + 1) & mask) {
        uint32_t k = r->slots[i];
        if (!k)
            return i;
        const corrupt_key *c = &r->keys[k - 1];
        if (c->keylen == keylen && memcmp(c->key, key, keylen) == 0)
            return i;
    }
}

static corrupt_key *find_corrupt(const asw_changelog_restore *r, const void *key, size_t keylen) {
    if (!r->n_slots)
        return NULL;
    uint32_t k = r->slots[key_slot(r, key, keylen)];
    return k ? &r->keys[k - 1] : NULL;
}

static corrupt_key *add_corrupt(asw_changelog_restore *r, const void *key, size_t keylen) {
    corrupt_key *c = find_corrupt(r, key, keylen);
    if (c)
        return c;
    if ((r->n_keys + 1) * 2 > r->n_slots) { /* keep the load at most 1/2 */
        free(r->slots);
        r->n_slots = r->n_slots ? r->n_slots * 2 : 16;
        r->slots = asw_calloc(r->n_slots, sizeof *r->slots);
        for (size_t i = 0; i < r->n_keys; i++)
            r->slots[key_slot(r, r->keys[i].key, r->keys[i].keylen)] = (uint32_t)i + 1;
    }
    if (r->n_keys == r->cap_keys) {
        r->cap_keys = r->cap_keys ? r->cap_keys * 2 : 4;
        r->keys = asw_realloc(r->keys, r->cap_keys * sizeof *r->keys);
    }
    c = &r->keys[r->n_keys++];
    memset(c, 0, sizeof *c);
    c->key = asw_malloc(keylen + 1);
    memcpy(c->key, key, keylen);
    c->key[keylen] = '\0';
    c->keylen = keylen;
    r->slots[key_slot(r, key, keylen)] = (uint32_t)r->n_keys;
    return c;
}

static void mark_corrupt(asw_changelog_restore *r, const void *key, size_t keylen, int64_t offset,
                         const char *error) {
    corrupt_key *c = add_corrupt(r, key, keylen);
    if (!c->open)
        r->n_open++;
    c->open = true;
    c->offset = offset;
    snprintf(c->error, sizeof c->error, "%s", error);
    r->stats.corrupt++;
}

static void supersede(asw_changelog_restore *r, const void *key, size_t keylen) {
    corrupt_key *c = find_corrupt(r, key, keylen);
    if (c && c->open) {
        c->open = false;
        r->n_open--;
        r->stats.superseded++;
    }
}

/* Forget what one record of an order being rebuilt said. A whole entity
 * whose id becomes 0 is removed when the restore compacts the order at its
 * end. */
static void remove_part(asw_changelog_restore *r, asw_order *o, rec_kind kind, const char *id) {
    int64_t i = asw_order_find_entity(o, entity_of(kind), id);
    if (i < 0)
        return;
    switch (kind) {
    case R_SKU:
        o->skus[i].sku_order_id = 0;
        break;
    case R_APP:
        asw_order_put_app_counted(o, id, false, NULL, NULL, false, 0, 0, 0);
        break;
    case R_DECISION:
        asw_order_put_app_decision(o, id, NULL);
        break;
    case R_EXTERNAL:
        o->externals[i].refund_id = 0;
        break;
    default:
        o->seen[i] = 0;
        break;
    }
    r->stats.removed++;
}

static bool is_whole(const void *value, size_t len) {
    const uint8_t *v = value;
    return len >= 2 && v[0] == MAGIC && v[1] == WHOLE_CHAR;
}

/* The body of a whole order's record, checked; NULL and why in err if it
 * is not sound. */
static const uint8_t *whole_body(const char *order_id, const void *value, size_t len, char *err,
                                 size_t errlen) {
    const uint8_t *v = value;
    const char *why = len < 3 || v[2] != VERSION ? "an unknown version"
                                                 : asw_order_body_check(order_id, v + 3, len - 3);
    if (why) {
        snprintf(err, errlen, "CORRUPT_RECORD: %s", why);
        return NULL;
    }
    return v + 3;
}

/* A whole order: kept frozen as it comes, replacing any state of the order
 * (it was whole: no entity record of it is live). */
static const char *restore_whole(asw_changelog_restore *r, const char *order_id, const void *value,
                                 size_t len, char *err, size_t errlen) {
    const uint8_t *body = whole_body(order_id, value, len, err, errlen);
    if (!body)
        return err;
    asw_processor_restore_frozen(r->proc, order_id, RF_HEADER, body,
                                 len - (size_t)(body - (const uint8_t *)value));
    return NULL;
}

/* A key (or id) for a message: printable ASCII as it is, other bytes as
 * \xNN. */
static void printable(const char *key, size_t keylen, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < keylen && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

/* A legacy (Avro OrderState) value: the order's whole state. */
static const char *restore_legacy(asw_changelog_restore *r, const char *order_id, const void *value,
                                  size_t len, char *err, size_t errlen) {
    asw_order *o = NULL;
    char msg[160];
    asw_codec_err e = asw_codec_decode_state(r->codec, value, len, &o, msg, sizeof msg);
    if (e == ASW_CODEC_OK && strcmp(asw_order_id(o), order_id) != 0) {
        /* Bytes of the record: printed as keys are, so that the message
         * stays one line (it ends up in a log line). */
        char id[64];
        printable(asw_order_id(o), strlen(asw_order_id(o)), id, sizeof id);
        snprintf(err, errlen, "the state is of order %s, not of its key", id);
        asw_order_destroy(o);
        return err;
    }
    if (e != ASW_CODEC_OK) {
        snprintf(err, errlen, "%s: %s", asw_codec_err_name(e), msg);
        return err;
    }
    o->restore_flags |= RF_HEADER | ASW_ORDER_WRITE_ALL;
    /* An earlier version's state may hold what a whole record may not (a
     * longer id, a negative amount): such an order is written split. */
    asw_buf body = ASW_BUF_INIT;
    asw_order_freeze_body(o, r->input_topic, &body);
    if (!o->split && asw_order_body_check(order_id, body.data, body.len))
        o->split = true;
    asw_buf_free(&body);
    asw_processor_restore(r->proc, o);
    return NULL;
}

static void apply_record(asw_order *o, const char *id, const entry *e) {
    switch (e->kind) {
    case R_ORDER:
        o->paid = e->paid;
        o->refunded = e->refunded;
        o->reserved = e->reserved;
        o->max_event_time = e->max_event_time;
        o->prior_success = e->prior_success;
        o->has_deadline = e->has_deadline;
        o->deadline = e->has_deadline ? e->deadline : 0;
        asw_order_set_shop(o, e->shop);
        for (uint32_t i = 0; i < e->n_skus; i++) {
            const sku_fields *f = &e->skus[i];
            asw_order_put_sku(o, f->id, f->paid, f->refunded, f->reserved, f->refund_successes,
                              true);
        }
        /* A ledger record is only ever written with (or after) records of
         * every entity: a whole state read before it is superseded. Only a
         * split order has one (or an order an earlier version wrote, which
         * stays split). */
        o->restore_flags = (uint8_t)((o->restore_flags | RF_HEADER) & ~ASW_ORDER_WRITE_ALL);
        o->split = true;
        break;
    case R_SKU:
        asw_order_put_sku(o, id, e->sku_fields.paid, e->sku_fields.refunded, e->sku_fields.reserved,
                          e->sku_fields.refund_successes, false);
        break;
    case R_APP:
        asw_order_put_app_counted(o, id, e->counted, e->sku, e->shop, e->has_type,
                                  (asw_aftersale_type)e->type, (asw_app_state)e->state,
                                  e->reserved);
        break;
    case R_DECISION:
        asw_order_put_app_decision(o, id, &e->d);
        break;
    case R_EXTERNAL:
        asw_order_put_external(o, id, e->sku, (asw_external_kind)e->ext_kind);
        break;
    default:
        asw_order_put_seen(o, id);
        break;
    }
}

void asw_changelog_restore_add(asw_changelog_restore *r, const void *key, size_t keylen,
                               const void *value, size_t len, int64_t offset) {
    char err[200];
    r->stats.records++;
    if (!key)
        key = "", keylen = 0;
    if (is_partition_key(key, keylen)) {
        int64_t t;
        char msg[160];
        asw_codec_err e =
            value ? asw_codec_decode_partition_state(r->codec, value, len, &t, msg, sizeof msg)
                  : ASW_CODEC_E_BODY;
        if (!value)
            snprintf(msg, sizeof msg, "a tombstone for the partition state");
        if (e != ASW_CODEC_OK) {
            snprintf(err, sizeof err, "%s: %s", asw_codec_err_name(e), msg);
            mark_corrupt(r, key, keylen, offset, err);
            return;
        }
        asw_processor_restore_stream_time(r->proc, t);
        supersede(r, key, keylen);
        return;
    }
    /* order_id, or order_id NUL kind id: order ids hold no NUL. */
    const char *nul = memchr(key, '\0', keylen);
    size_t idlen = nul ? (size_t)(nul - (const char *)key) : keylen;
    int kind = R_ORDER;
    if (nul) {
        kind = keylen > idlen + 1 ? rec_kind_of(nul[1]) : -1;
        if (kind <= R_ORDER || idlen == 0 || memchr(nul + 1, '\0', keylen - idlen - 1)) {
            mark_corrupt(r, key, keylen, offset, "a key that is no order's");
            return;
        }
    }
    char order_id[ASW_TEXT_MAX + 1], entity_id[ASW_TEXT_MAX + 1];
    size_t elen = nul ? keylen - idlen - 2 : 0;
    if (idlen > ASW_TEXT_MAX || elen > ASW_TEXT_MAX) {
        mark_corrupt(r, key, keylen, offset, "a key longer than any id");
        return;
    }
    memcpy(order_id, key, idlen);
    order_id[idlen] = '\0';
    if (nul) {
        memcpy(entity_id, nul + 2, elen);
        entity_id[elen] = '\0';
    }

    const char *why = NULL;
    if (!value) {
        if (kind == R_ORDER) {
            asw_processor_restore_tombstone(r->proc, order_id);
            r->stats.tombstones++;
        } else {
            asw_order *o = (asw_order *)asw_processor_get(r->proc, order_id);
            if (o)
                remove_part(r, o, (rec_kind)kind, entity_id);
        }
        supersede(r, key, keylen);
        return;
    }
    if (kind == R_ORDER && is_whole(value, len)) {
        why = restore_whole(r, order_id, value, len, err, sizeof err);
        if (!why) {
            r->stats.states++;
            r->stats.wholes++;
            supersede(r, key, keylen);
            return;
        }
    } else if (kind == R_ORDER && len > 0 && ((const uint8_t *)value)[0] == 0) {
        why = restore_legacy(r, order_id, value, len, err, sizeof err);
        if (!why) {
            r->stats.states++;
            supersede(r, key, keylen);
            return;
        }
    } else {
        entry *e = asw_malloc(sizeof *e);
        why = decode_entry(value, len, e);
        if (!why && (int)e->kind != kind)
            why = "a record of another kind than its key";
        if (!why && e->kind == R_DECISION && !e->d.source_topic)
            e->d.source_topic = r->input_topic;
        if (!why) {
            asw_order *o = asw_processor_restore_get(r->proc, order_id);
            apply_record(o, entity_id, e);
            if (kind == R_ORDER)
                r->stats.states++;
            else
                r->stats.entities++;
            free(e);
            supersede(r, key, keylen);
            return;
        }
        snprintf(err, sizeof err, "CORRUPT_RECORD: %s", why);
        why = err;
        free(e);
    }
    /* What the key held before is not its state any more. For the order's
     * ledger record: the ledger is unknown until a later one (its entities
     * stay; without a ledger at the end they make the restore fail). */
    asw_order *o = (asw_order *)asw_processor_get(r->proc, order_id);
    if (o && kind == R_ORDER)
        o->restore_flags &= (uint8_t)~RF_HEADER;
    else if (o)
        remove_part(r, o, (rec_kind)kind, entity_id);
    mark_corrupt(r, key, keylen, offset, why);
}

void asw_changelog_restore_get_stats(const asw_changelog_restore *r,
                                     asw_changelog_restore_stats *out) {
    *out = r->stats;
}

typedef struct finishing {
    asw_changelog_restore *r;
    char **orphans; /* ids of entities without a header: dropped, then reported */
    size_t n_orphans, cap_orphans;
} finishing;

static void finish_order(asw_order_brief *b, void *opaque) {
    finishing *f = opaque;
    /* Always: an application may have come before its sub-order's record,
     * so the counts of open applications are made again from the entities
     * (a frozen order's are when it is thawed). */
    if (b->order)
        asw_order_compact(b->order);
    bool header = *b->restore_flags & RF_HEADER;
    *b->restore_flags &= ASW_ORDER_WRITE_ALL;
    if (header)
        return;
    if (f->n_orphans == f->cap_orphans) {
        f->cap_orphans = f->cap_orphans ? f->cap_orphans * 2 : 8;
        f->orphans = asw_realloc(f->orphans, f->cap_orphans * sizeof *f->orphans);
    }
    f->orphans[f->n_orphans++] = asw_strdup(b->order_id);
}

int asw_changelog_restore_finish(asw_changelog_restore *r, char *err, size_t errlen) {
    finishing f = {r, NULL, 0, 0};
    /* Orders restored from whole records alone (every order of almost every
     * changelog) have their ledger and nothing to compact: then no order
     * needs looking at. (Their RF_HEADER stays set: it means nothing after
     * a restore.) */
    const asw_changelog_restore_stats *st = &r->stats;
    if (st->entities || st->corrupt || st->removed || st->states != st->wholes)
        asw_processor_foreach_brief(r->proc, finish_order, &f);
    for (size_t i = 0; i < f.n_orphans; i++) {
        const char *id = f.orphans[i];
        asw_order *o = (asw_order *)asw_processor_get(r->proc, id);
        asw_order_compact(o);
        bool live = false;
        for (int k = 0; k < ASW_ENT__COUNT; k++)
            live = live || asw_order_entity_count(o, (asw_entity_kind)k) > 0;
        const corrupt_key *c = find_corrupt(r, id, strlen(id));
        if (live && !(c && c->open)) {
            /* Entities whose order's ledger record is missing (and not
             * already reported corrupt): part of a state. */
            mark_corrupt(r, id, strlen(id), -1, "entity records without their order's record");
        }
        asw_processor_restore_tombstone(r->proc, id);
        free(f.orphans[i]);
    }
    free(f.orphans);
    asw_processor_restore_done(r->proc);
    if (r->n_open == 0)
        return 0;
    for (size_t i = 0; i < r->n_keys; i++) {
        const corrupt_key *c = &r->keys[i];
        if (!c->open)
            continue;
        char key[100];
        printable(c->key, c->keylen, key, sizeof key);
        snprintf(err, errlen,
                 "%zu corrupt changelog record(s) not superseded by a later record of the "
                 "same key; the first at offset %lld, key '%s': %s",
                 r->n_open, (long long)c->offset, key, c->error);
        break;
    }
    return -1;
}

/* ---- printing (the consume tool) ---- */

static void jput_str(json_t *o, const char *k, const char *v) {
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void jput_int(json_t *o, const char *k, int64_t v) {
    json_object_set_new(o, k, json_integer(v));
}

static void jput_sku(json_t *j, const sku_fields *f) {
    jput_int(j, "paid", f->paid);
    jput_int(j, "refunded", f->refunded);
    jput_int(j, "reserved", f->reserved);
    jput_int(j, "remaining", f->paid - (f->refunded + f->reserved));
    jput_int(j, "refund_successes", f->refund_successes);
}

static void jput_line(asw_buf *out, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    asw_buf_append(out, text, strlen(text));
    asw_buf_append(out, "\n", 1);
    free(text);
}

/* The Decision's own JSON form, without what the key or the record says. */
static void jput_decision(json_t *j, asw_decision *d) {
    asw_buf tmp = ASW_BUF_INIT;
    asw_jsonl_format_decision(d, &tmp);
    json_t *dj = json_loadb((const char *)tmp.data, tmp.len, 0, NULL);
    asw_buf_free(&tmp);
    const char *k;
    json_t *v;
    json_object_foreach(dj, k, v) {
        if (strcmp(k, "type") && strcmp(k, "aftersale_id") && strcmp(k, "order_id") &&
            strcmp(k, "duplicate"))
            json_object_set(j, k, v);
    }
    json_decref(dj);
}

/* A whole order's record: its ledger and every entity. */
static int describe_whole(const char *key, size_t idlen, const void *value, size_t len,
                          asw_buf *out, char *err, size_t errlen) {
    char id[ASW_TEXT_MAX + 1];
    if (idlen > ASW_TEXT_MAX || memchr(key, '\0', idlen)) {
        snprintf(err, errlen, "CORRUPT_RECORD: a key that is no order's");
        return -1;
    }
    memcpy(id, key, idlen);
    id[idlen] = '\0';
    const uint8_t *body = whole_body(id, value, len, err, errlen);
    if (!body)
        return -1;
    asw_buf frozen = ASW_BUF_INIT;
    asw_buf_append(&frozen, id, idlen + 1);
    asw_buf_append(&frozen, "", 1); /* restore_flags */
    asw_buf_append(&frozen, body, len - (size_t)(body - (const uint8_t *)value));
    asw_order *o = asw_order_thaw(frozen.data, frozen.len, "(the input topic)");
    asw_buf_free(&frozen);

    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("Order"));
    json_object_set_new(j, "order_id", json_string(id));
    jput_int(j, "paid", o->paid);
    jput_int(j, "refunded", o->refunded);
    jput_int(j, "reserved", o->reserved);
    jput_int(j, "remaining", asw_order_remaining(o));
    json_object_set_new(j, "prior_success", json_boolean(o->prior_success));
    jput_int(j, "max_event_time", o->max_event_time);
    json_object_set_new(j, "aftersale_deadline",
                        o->has_deadline ? json_integer(o->deadline) : json_null());
    jput_str(j, "shop_id", o->shop_id ? asw_order_str(o, o->shop_id) : NULL);
    json_t *arr = json_array();
    for (uint32_t i = 0; i < o->n_skus; i++) {
        const asw_sku_state *s = &o->skus[i];
        sku_fields f = {s->paid, s->refunded, s->reserved, s->refund_successes, {0}};
        json_t *k = json_object();
        jput_str(k, "sku_order_id", asw_order_str(o, s->sku_order_id));
        jput_sku(k, &f);
        json_array_append_new(arr, k);
    }
    json_object_set_new(j, "skus", arr);
    arr = json_array();
    for (uint32_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        json_t *k = json_object();
        jput_str(k, "aftersale_id", asw_order_str(o, a->aftersale_id));
        json_object_set_new(k, "counted", json_boolean(a->counted));
        if (a->counted) {
            jput_str(k, "sku_order_id", asw_order_str(o, a->sku_order_id));
            jput_str(k, "shop_id", a->shop_id ? asw_order_str(o, a->shop_id) : NULL);
            jput_str(k, "aftersale_type",
                     a->has_type ? asw_aftersale_type_name((asw_aftersale_type)a->type) : NULL);
            jput_str(k, "state", asw_app_state_name((asw_app_state)a->state));
            jput_int(k, "reserved", a->reserved);
        }
        if (a->decision) {
            asw_decision d;
            asw_order_decision(o, a, &d);
            json_t *dj = json_object();
            jput_decision(dj, &d);
            json_object_set_new(k, "decision", dj);
        }
        json_array_append_new(arr, k);
    }
    json_object_set_new(j, "applications", arr);
    arr = json_array();
    for (uint32_t i = 0; i < o->n_externals; i++) {
        const asw_external *x = &o->externals[i];
        json_t *k = json_object();
        jput_str(k, "refund_id", asw_order_str(o, x->refund_id));
        jput_str(k, "sku_order_id", asw_order_str(o, x->sku_order_id));
        jput_str(k, "kind", asw_external_kind_name((asw_external_kind)x->kind));
        json_array_append_new(arr, k);
    }
    json_object_set_new(j, "external_refunds", arr);
    arr = json_array();
    for (uint32_t i = 0; i < o->n_seen; i++)
        json_array_append_new(arr, json_string(asw_order_str(o, o->seen[i])));
    json_object_set_new(j, "seen_event_ids", arr);
    asw_order_destroy(o);
    jput_line(out, j);
    return 0;
}

int asw_changelog_describe(const void *key, size_t keylen, const void *value, size_t len,
                           asw_buf *out, char *err, size_t errlen) {
    const char *nul = key ? memchr(key, '\0', keylen) : NULL;
    size_t idlen = nul ? (size_t)(nul - (const char *)key) : keylen;
    if (is_whole(value, len))
        return describe_whole(key, idlen, value, len, out, err, errlen);
    entry *e = asw_malloc(sizeof *e);
    const char *why = decode_entry(value, len, e);
    if (why) {
        snprintf(err, errlen, "CORRUPT_RECORD: %s", why);
        free(e);
        return -1;
    }
    static const char *const names[R__COUNT] = {"OrderLedger", "SkuLedger",      "Application",
                                                "Decision",    "ExternalRefund", "SeenEvent"};
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string(names[e->kind]));
    json_object_set_new(j, "order_id", json_stringn(key ? key : "", idlen));
    if (nul && keylen >= idlen + 2)
        json_object_set_new(j, "id", json_stringn(nul + 2, keylen - idlen - 2));
    switch (e->kind) {
    case R_ORDER: {
        jput_int(j, "paid", e->paid);
        jput_int(j, "refunded", e->refunded);
        jput_int(j, "reserved", e->reserved);
        jput_int(j, "remaining", e->paid - (e->refunded + e->reserved));
        json_object_set_new(j, "prior_success", json_boolean(e->prior_success));
        jput_int(j, "max_event_time", e->max_event_time);
        json_object_set_new(j, "aftersale_deadline",
                            e->has_deadline ? json_integer(e->deadline) : json_null());
        jput_str(j, "shop_id", e->shop);
        json_t *skus = json_array();
        for (uint32_t i = 0; i < e->n_skus; i++) {
            json_t *k = json_object();
            jput_str(k, "sku_order_id", e->skus[i].id);
            jput_sku(k, &e->skus[i]);
            json_array_append_new(skus, k);
        }
        json_object_set_new(j, "skus", skus);
        break;
    }
    case R_SKU:
        jput_sku(j, &e->sku_fields);
        break;
    case R_APP:
        json_object_set_new(j, "counted", json_boolean(e->counted));
        if (e->counted) {
            jput_str(j, "sku_order_id", e->sku);
            jput_str(j, "shop_id", e->shop);
            jput_str(j, "aftersale_type",
                     e->has_type ? asw_aftersale_type_name((asw_aftersale_type)e->type) : NULL);
            jput_str(j, "state", asw_app_state_name((asw_app_state)e->state));
            jput_int(j, "reserved", e->reserved);
        }
        break;
    case R_DECISION:
        e->d.aftersale_id = "";
        e->d.order_id = "";
        if (!e->d.source_topic)
            e->d.source_topic = "(the input topic)";
        jput_decision(j, &e->d);
        break;
    case R_EXTERNAL:
        jput_str(j, "sku_order_id", e->sku);
        jput_str(j, "kind", asw_external_kind_name((asw_external_kind)e->ext_kind));
        break;
    default:
        break;
    }
    free(e);
    jput_line(out, j);
    return 0;
}

bool asw_changelog_is_record(const void *value, size_t len) {
    return value && len >= 3 && ((const uint8_t *)value)[0] == MAGIC;
}
