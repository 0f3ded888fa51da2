/*
 * changelog.c -- the changelog's record layout, the records of a
 * transaction, and the restore policy for corrupt records; see changelog.h.
 */
#include "asw/changelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

static bool is_partition_key(const void *key, size_t keylen) {
    return keylen == ASW_CHANGELOG_PARTITION_KEY_LEN &&
           memcmp(key, ASW_CHANGELOG_PARTITION_KEY, keylen) == 0;
}

int asw_changelog_write(asw_codec *codec, const asw_processor *proc, asw_buf *scratch,
                        asw_changelog_emit_fn *emit, void *opaque, char *err, size_t errlen) {
    size_t n = asw_processor_changed_count(proc);
    for (size_t i = 0; i < n; i++) {
        const char *id;
        const asw_order *o = asw_processor_changed_at(proc, i, &id);
        if (o && asw_codec_encode_state(codec, o, scratch) != ASW_CODEC_OK) {
            snprintf(err, errlen, "cannot encode the state of order %s", id);
            return -1;
        }
        int rc = emit(opaque, id, strlen(id), o ? scratch->data : NULL, o ? scratch->len : 0);
        if (rc)
            return rc;
    }
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

/* ---- restore ---- */

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

asw_changelog_restore *asw_changelog_restore_new(asw_codec *codec, asw_processor *proc) {
    asw_changelog_restore *r = asw_calloc(1, sizeof *r);
    r->codec = codec;
    r->proc = proc;
    return r;
}

void asw_changelog_restore_destroy(asw_changelog_restore *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n_keys; i++)
        free(r->keys[i].key);
    free(r->keys);
    free(r->slots);
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

void asw_changelog_restore_add(asw_changelog_restore *r, const void *key, size_t keylen,
                               const void *value, size_t len, int64_t offset) {
    char err[160];
    r->stats.records++;
    if (!key)
        key = "", keylen = 0;
    if (is_partition_key(key, keylen)) {
        int64_t t;
        asw_codec_err e =
            value ? asw_codec_decode_partition_state(r->codec, value, len, &t, err, sizeof err)
                  : ASW_CODEC_E_BODY;
        if (!value)
            snprintf(err, sizeof err, "a tombstone for the partition state");
        if (e != ASW_CODEC_OK) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s: %s", asw_codec_err_name(e), err);
            mark_corrupt(r, key, keylen, offset, msg);
            return;
        }
        asw_processor_restore_stream_time(r->proc, t);
        supersede(r, key, keylen);
        return;
    }
    /* Order ids never hold a NUL byte: a key that does was not written by
     * a worker. */
    if (memchr(key, '\0', keylen)) {
        mark_corrupt(r, key, keylen, offset, "a key with a NUL byte is no order id");
        return;
    }
    char *id = asw_strndup(key, keylen);
    if (!value) {
        asw_processor_restore_tombstone(r->proc, id);
        r->stats.tombstones++;
        supersede(r, key, keylen);
        free(id);
        return;
    }
    asw_order *o = NULL;
    asw_codec_err e = asw_codec_decode_state(r->codec, value, len, &o, err, sizeof err);
    if (e == ASW_CODEC_OK && strcmp(o->order_id, id) != 0) {
        snprintf(err, sizeof err, "the state is of order %.60s, not of its key", o->order_id);
        asw_order_destroy(o);
        e = ASW_CODEC_E_BODY;
    }
    if (e != ASW_CODEC_OK) {
        /* What the key held before is not its state any more. */
        asw_processor_restore_tombstone(r->proc, id);
        char msg[200];
        snprintf(msg, sizeof msg, "%s: %s", asw_codec_err_name(e), err);
        mark_corrupt(r, key, keylen, offset, msg);
    } else {
        asw_processor_restore(r->proc, o);
        r->stats.states++;
        supersede(r, key, keylen);
    }
    free(id);
}

void asw_changelog_restore_get_stats(const asw_changelog_restore *r,
                                     asw_changelog_restore_stats *out) {
    *out = r->stats;
}

/* A key for a message: printable ASCII as it is, other bytes as \xNN. */
static void printable_key(const corrupt_key *c, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < c->keylen && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)c->key[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

int asw_changelog_restore_finish(asw_changelog_restore *r, char *err, size_t errlen) {
    if (r->n_open == 0)
        return 0;
    for (size_t i = 0; i < r->n_keys; i++) {
        const corrupt_key *c = &r->keys[i];
        if (!c->open)
            continue;
        char key[100];
        printable_key(c, key, sizeof key);
        snprintf(err, errlen,
                 "%zu corrupt changelog record(s) not superseded by a later record of the "
                 "same key; the first at offset %lld, key '%s': %s",
                 r->n_open, (long long)c->offset, key, c->error);
        break;
    }
    return -1;
}
