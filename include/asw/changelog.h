/*
 * changelog.h -- the internal compacted changelog (SPEC section 5): how one
 * partition's state is laid out as records, how a transaction's changes
 * become records, and how a partition is rebuilt from them.
 *
 * Layout of one changelog partition (the same number as its input
 * partition). An order that never held more than ASW_WHOLE_ENTITIES
 * entities is one record, its whole state (its frozen body: a restore keeps
 * it as it comes). A bigger one is split for good: one record per entity,
 * so that no record grows with its history and a transaction writes only
 * what it changed.
 *
 *   key = order_id                   the whole order; or a split order's
 *                                    ledger (totals, deadline, shop, its
 *                                    first ASW_LEDGER_SKUS sub-orders'
 *                                    ledgers)
 *   key = order_id NUL 'S' sku id    a later sub-order's ledger
 *   key = order_id NUL 'A' id        a counted application
 *   key = order_id NUL 'D' id        the decision an application got
 *   key = order_id NUL 'X' refund id an external refund
 *   key = order_id NUL 'E' event id  an event id kept for deduplication
 *   key = ASW_CHANGELOG_PARTITION_KEY  PartitionState (Avro, id 21): the
 *                                    stream time
 *
 * A null value is a tombstone; a dropped order tombstones its key first,
 * then (when split) each entity key. Order ids hold no NUL byte (an input record
 * whose key holds one never matches its event's order_id), so the layout
 * is unambiguous. Values: see src/changelog.c. A restore also reads the
 * Avro OrderState (id 20) that earlier versions wrote under the order key.
 *
 * Kafka-free: the worker produces the records this module encodes and feeds
 * it the records it consumes, so the format and the restore policy are
 * tested on their own.
 */
#ifndef ASW_CHANGELOG_H
#define ASW_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/processor.h"

#define ASW_CHANGELOG_PARTITION_KEY     "\0partition"
#define ASW_CHANGELOG_PARTITION_KEY_LEN 10

/*
 * Called once per changelog record to write; `value` NULL means a
 * tombstone. Returns 0, or non-zero to stop the write (the caller's
 * failure, passed back by asw_changelog_write()).
 */
typedef int(asw_changelog_emit_fn)(void *opaque, const void *key, size_t keylen, const void *value,
                                   size_t len);

/*
 * Write the changes of one partition since its last checkpoint: each changed
 * order's state (or a tombstone when it was dropped), then the stream time
 * when it moved. `scratch` is reused for the values. A remembered decision
 * whose source_topic is `input_topic` stores none (a restore given the same
 * topic puts it back).
 *
 * @return 0; -1 when a state cannot be encoded (message in err); or the
 *         non-zero value `emit` returned.
 */
int asw_changelog_write(asw_codec *codec, const asw_processor *proc, const char *input_topic,
                        asw_buf *scratch, asw_changelog_emit_fn *emit, void *opaque, char *err,
                        size_t errlen);

/*
 * Rebuilding one partition. Records are fed in offset order; each replaces
 * what an earlier record of the same key said. A record that cannot be
 * decoded is **corrupt**: it removes what its key held before (its key's
 * state is unknown from there on) and is remembered until a later record of
 * the same key (a valid state, or a tombstone) supersedes it. The restore is
 * whole only when no corrupt record is left unsuperseded: a half state must
 * never decide anything.
 */
typedef struct asw_changelog_restore asw_changelog_restore;

/* A restore into `proc` (borrowed; it should be empty) of the partition of
 * `input_topic` (copied). Never NULL. */
asw_changelog_restore *asw_changelog_restore_new(asw_codec *codec, asw_processor *proc,
                                                 const char *input_topic);
/* asw_changelog_restore_destroy(NULL) is a no-op. */
void asw_changelog_restore_destroy(asw_changelog_restore *r);

/* One record (value NULL: a tombstone) at `offset`. */
void asw_changelog_restore_add(asw_changelog_restore *r, const void *key, size_t keylen,
                               const void *value, size_t len, int64_t offset);

/* Counts of what the records did. */
typedef struct asw_changelog_restore_stats {
    int64_t records;    /* records fed */
    int64_t states;     /* order ledgers and whole orders (any version) put */
    int64_t wholes;     /* of which whole-order records (kept frozen as they came) */
    int64_t entities;   /* entity records put */
    int64_t tombstones; /* tombstones applied */
    int64_t corrupt;    /* corrupt records, superseded or not */
    int64_t superseded; /* corrupt records a later record replaced */
    int64_t removed;    /* parts of entities a tombstone or a corrupt record removed */
} asw_changelog_restore_stats;

void asw_changelog_restore_get_stats(const asw_changelog_restore *r,
                                     asw_changelog_restore_stats *out);

/*
 * After the last record: 0 when the state is whole; -1 when a corrupt record
 * was not superseded, with "N corrupt record(s) not superseded, the first
 * at offset O key K: ERROR" in err. Then the partition must not be
 * processed.
 */
int asw_changelog_restore_finish(asw_changelog_restore *r, char *err, size_t errlen);

/* Is a value one of this module's records (not Avro)? */
bool asw_changelog_is_record(const void *value, size_t len);

/*
 * One changelog record as a JSON line (for the consume tool):
 * {"type":"Order"|"OrderLedger"|"SkuLedger"|"Application"|"Decision"|
 * "ExternalRefund"|"SeenEvent","order_id":...,"id":...,...}. Returns 0, or -1 with
 * "CORRUPT_RECORD: why" in err.
 */
int asw_changelog_describe(const void *key, size_t keylen, const void *value, size_t len,
                           asw_buf *out, char *err, size_t errlen);

#endif /* ASW_CHANGELOG_H */
