/*
 * ledger.h -- the pure core: one order's state (quota and refund ledger) and
 * the function that applies one event to it (SPEC section 4).
 *
 * No I/O, no clock, no Kafka, no Avro. The state is a transparent value so
 * that the changelog codec can write it entity by entity; only this module
 * changes it.
 *
 * Layout, chosen so that per-event work does not grow with an order's
 * history (STYLE 15) and a state stays small:
 *
 * - Every string of an order lives in the order's own pool, addressed by an
 *   asw_str offset. Pool chunks never move, so a `const char *` from
 *   asw_order_str() stays valid until the order is destroyed or rolled back
 *   past the string.
 * - The entities -- sub-order ledgers, applications (counted, decided or
 *   both), external refunds and the event ids that nothing else
 *   deduplicates -- are arrays in arrival order, found through one hash
 *   index per order once it holds more than a few of them.
 * - A journal (asw_order_journal, owned by the processor) records what one
 *   transaction changed: the header and the entities' before-images, so a
 *   rollback and the changelog both touch only what changed.
 */
#ifndef ASW_LEDGER_H
#define ASW_LEDGER_H

#include "asw/buf.h"
#include "asw/model.h"
#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A string in an order's pool; 0 is "none". */
typedef uint32_t asw_str;

/* The ledger of one sub-order. */
typedef struct asw_sku_state {
    asw_str sku_order_id;
    int32_t refund_successes; /* SPEC "refund success" count (sku_refunds) */
    int32_t open_apps;        /* counted applications OPEN on it (derived) */
    uint32_t txn_mark;        /* journal bookkeeping; not state */
    uint32_t in_ledger;       /* one of the first ASW_LEDGER_SKUS: the changelog
                                 keeps it in the order's ledger record */
    int64_t paid;             /* latest sku_paid_amount of a valid event, 0 until one */
    int64_t refunded;         /* never below zero */
    int64_t reserved;         /* sum of the OPEN applications' reservations */
} asw_sku_state;

/*
 * An application the order knows of: decided (an AfterSaleApplied was
 * decided, any outcome, buyer or card; `decision` holds it for a duplicate's
 * re-emission), counted (an accepted BUYER application, or one a lifecycle
 * event named), or both.
 */
typedef struct asw_app {
    asw_str aftersale_id;
    asw_str sku_order_id; /* counted: its sub-order */
    asw_str shop_id;      /* counted: its shop; 0 when learnt from a lifecycle event */
    asw_str decision;     /* the remembered decision (encoded in the pool); 0: not decided */
    uint8_t counted;      /* bool */
    uint8_t state;        /* asw_app_state, when counted */
    uint8_t has_type;     /* false when learnt from a lifecycle event */
    uint8_t type;         /* asw_aftersale_type */
    uint32_t txn_mark;    /* journal bookkeeping; not state */
    int64_t reserved;     /* amount still reserved (0 unless OPEN) */
} asw_app;

/* An external refund already recorded (ExternalRefundRecorded). */
typedef struct asw_external {
    asw_str refund_id;
    asw_str sku_order_id;
    uint32_t kind; /* asw_external_kind */
} asw_external;

/* How many sub-orders an order's ledger record carries inline; the others
 * are records of their own (so no record grows with an order's history). */
#define ASW_LEDGER_SKUS 8

/* The most entities an order holds while the changelog keeps it as one
 * whole record; past that it is split for good (asw_order.split). */
#define ASW_WHOLE_ENTITIES 24

/* Entity kinds, as the changelog and the journal name them. */
typedef enum asw_entity_kind {
    ASW_ENT_SKU = 0,
    ASW_ENT_APP,
    ASW_ENT_EXTERNAL,
    ASW_ENT_SEEN, /* an event id remembered for deduplication */
    ASW_ENT__COUNT
} asw_entity_kind;

/* A pool of strings whose chunks never move. */
typedef struct asw_pool {
    char **chunks;
    uint32_t n_chunks;
    uint32_t len; /* bytes used, as one offset space */
} asw_pool;

typedef struct asw_order_journal asw_order_journal;

/*
 * The state of one order. Everything is owned by the order.
 */
typedef struct asw_order {
    asw_pool pool;
    asw_str order_id;
    asw_str shop_id;  /* last shop_id seen on a valid event, 0 if none */
    int64_t paid;     /* latest order_paid_amount of a valid event */
    int64_t refunded; /* never below zero */
    int64_t reserved;
    int64_t max_event_time; /* largest event_time applied to this order */
    int64_t deadline;       /* latest aftersale_deadline seen (when has_deadline) */
    uint32_t n_counted;     /* counted applications (derived) */
    uint32_t n_open;        /* counted applications OPEN (derived) */
    uint32_t n_ledger_skus; /* sub-orders with in_ledger set */
    bool prior_success;     /* any application succeeded or external refund recorded */
    bool has_deadline;
    bool split;            /* the changelog keeps it as entity records (it once held more
                              than ASW_WHOLE_ENTITIES entities), not as one whole record */
    uint8_t restore_flags; /* bookkeeping of a changelog restore; not state */
    uint8_t store_ref;     /* bookkeeping of the store (touched since its
                              clock last passed); not state */
    uint32_t store_hot;    /* bookkeeping of the store (position + 1 in its
                              list of decoded orders, 0 = none); not state */

    /* The journal of the transaction under way, or NULL; set by the
     * processor. Not state. */
    asw_order_journal *journal;
    uint32_t journal_slot;

    asw_sku_state *skus;
    uint32_t n_skus, cap_skus;
    asw_app *apps;
    uint32_t n_apps, cap_apps;
    asw_external *externals;
    uint32_t n_externals, cap_externals;
    asw_str *seen;
    uint32_t n_seen, cap_seen;

    /* Hash index over every entity, built once the order holds more than
     * a few: slot = kind << 28 | (index + 1), 0 = empty. */
    uint32_t *index;
    uint32_t index_cap;
} asw_order;

/* restore_flags: the order was read from a whole-state record of an earlier
 * version, so its entities have no records of their own yet: its next
 * change writes every one (a ledger record alone would supersede the whole
 * state and lose them at compaction). */
#define ASW_ORDER_WRITE_ALL 0x80

/* What one event did. */
typedef enum asw_apply_status {
    ASW_APPLY_OK = 0,  /* outputs (possibly none) are in the result */
    ASW_APPLY_IGNORED, /* a duplicate or a no-op: no output, state unchanged */
    ASW_APPLY_INVALID, /* a fact that cannot be booked (negative amount,
                          empty id): state unchanged, send to dead letters */
    ASW_APPLY_LATE     /* set by the processor, never by the core: the order
                          is not in state and the event is older than the
                          retention (SPEC 7): dead letter LATE_EVENT */
} asw_apply_status;

/*
 * The result of asw_order_apply(). The decision and record borrow strings
 * from the order and the event: valid until either is freed or rolled back.
 */
typedef struct asw_result {
    asw_apply_status status;
    bool has_decision;
    asw_decision decision;
    bool has_record;
    asw_refund_record record;
    bool state_changed; /* the order's state differs from before the call */
    const char *error;  /* static message when status is ASW_APPLY_INVALID */
} asw_result;

/*
 * Create an empty order state for `order_id` (copied).
 * Never returns NULL (out of memory aborts, see alloc.h).
 */
asw_order *asw_order_new(const char *order_id);

/* Free an order state. asw_order_destroy(NULL) is a no-op. */
void asw_order_destroy(asw_order *order);

/* Deep copy of an order state (without journal). */
asw_order *asw_order_clone(const asw_order *order);

/* Are two order states equal? Entities are compared as sets (by id), so
 * two states built in different orders compare equal. */
bool asw_order_equal(const asw_order *a, const asw_order *b);

/*
 * Apply one event to the order's state and describe its outputs.
 *
 * @param order   the state of ev->order_id; changed in place (and its
 *                journal, if any, told what changed first).
 * @param rules   the ruleset (limit, rollout, version).
 * @param ev      the event; its order_id must equal the order's.
 * @param src     where the event came from; stamped on a new decision.
 * @param out     written in full on every call.
 *
 * Never fails: an invalid application yields a REJECTED decision, an invalid
 * fact yields ASW_APPLY_INVALID with the state unchanged.
 */
void asw_order_apply(asw_order *order, const asw_ruleset *rules, const asw_event *ev,
                     const asw_source *src, asw_result *out);

/*
 * Can the ledger's arithmetic hold these amounts of an order or a sub-order
 * read from outside (a changelog record)? refunded and reserved never
 * negative, refunded + reserved and paid - (refunded + reserved) within
 * int64 (asw_order_remaining() computes both). paid alone may be below zero:
 * an earlier version's state could hold that (the order is then written
 * split, see changelog.c).
 */
bool asw_ledger_amounts_sound(int64_t paid, int64_t refunded, int64_t reserved);

/* A string of the order ("" for 0). */
const char *asw_order_str(const asw_order *order, asw_str s);
/* The order's id. */
const char *asw_order_id(const asw_order *order);

/* Remaining amounts as SPEC section 4 defines them. */
int64_t asw_order_remaining(const asw_order *order);
int64_t asw_sku_remaining(const asw_sku_state *sku);

/* Find a sub-order's ledger; NULL when the order has never seen it. */
const asw_sku_state *asw_order_find_sku(const asw_order *order, const char *sku_order_id);

/* Find a counted application; NULL when there is none. */
const asw_app *asw_order_find_app(const asw_order *order, const char *aftersale_id);

/* Number of counted applications (SPEC applications_used). */
int32_t asw_order_applications_used(const asw_order *order);

/* How many applications were decided (remembered for re-emission). */
uint32_t asw_order_decided_count(const asw_order *order);

/* The remembered decision of a decided application (a->decision != 0),
 * as first emitted (duplicate = false); strings borrowed from the order. */
void asw_order_decision(const asw_order *order, const asw_app *a, asw_decision *out);

/*
 * Builders for decoders that rebuild a state (the changelog codec). Each
 * copies its strings and inserts or replaces the entity with that id
 * (insert-or-replace: a changelog holds an entity's successive values).
 * Derived counters are kept right.
 */
void asw_order_set_shop(asw_order *order, const char *shop_id);
void asw_order_put_sku(asw_order *order, const char *sku_order_id, int64_t paid, int64_t refunded,
                       int64_t reserved, int32_t refund_successes, bool in_ledger);
/* An application; `counted` fields are used when counted, `d` when not NULL
 * (the decision to remember; its strings are copied). */
void asw_order_put_app(asw_order *order, const char *aftersale_id, bool counted,
                       const char *sku_order_id, const char *shop_id, bool has_type,
                       asw_aftersale_type type, asw_app_state state, int64_t reserved,
                       const asw_decision *d);
/* One part of an application, the other left as it is: the counted part
 * (counted = false uncounts it), or the remembered decision (NULL forgets
 * it). */
void asw_order_put_app_counted(asw_order *order, const char *aftersale_id, bool counted,
                               const char *sku_order_id, const char *shop_id, bool has_type,
                               asw_aftersale_type type, asw_app_state state, int64_t reserved);
void asw_order_put_app_decision(asw_order *order, const char *aftersale_id, const asw_decision *d);
void asw_order_put_external(asw_order *order, const char *refund_id, const char *sku_order_id,
                            asw_external_kind kind);
void asw_order_put_seen(asw_order *order, const char *event_id);

/* Recompute what is derived from the entities (open and counted
 * applications) and the index, after a rebuild that removed entities;
 * entities whose id is 0 are removed first. */
void asw_order_compact(asw_order *order);

/* Find any entity by kind and id: its index, or -1. */
int64_t asw_order_find_entity(const asw_order *order, asw_entity_kind kind, const char *id);
/* The id of entity `i` of `kind`. */
const char *asw_order_entity_id(const asw_order *order, asw_entity_kind kind, uint32_t i);
/* Entity count of a kind. */
uint32_t asw_order_entity_count(const asw_order *order, asw_entity_kind kind);

/* ---- the frozen form: an order kept as bytes ---- */

/*
 * An order not touched for a while is kept frozen: its state as compact
 * bytes (about a fifth of its decoded size), decoded again when an event
 * arrives. Freezing and thawing are exact: asw_order_equal() holds between
 * an order and the thaw of its freeze, and the changelog writes the same
 * records for both. The bytes never leave the process (the changelog has
 * its own, versioned format).
 */

/*
 * The frozen form of `order` into `out` (reset first): its id, NUL, its
 * restore_flags, then its body. `topic` is the topic most decisions came
 * from (NULL: none): the body stores it only where a decision's differs.
 * Thawing must be given the same topic.
 */
void asw_order_freeze(const asw_order *order, const char *topic, asw_buf *out);
/* The body alone, appended to `out` (the changelog's whole-order record). */
void asw_order_freeze_body(const asw_order *order, const char *topic, asw_buf *out);
/* A new order from asw_order_freeze() bytes. Never NULL (OOM aborts). */
asw_order *asw_order_thaw(const void *bytes, size_t len, const char *topic);
/*
 * Check a body read from outside (the changelog) before it is used: every
 * length, reference, enum and count in range, no entity id twice, at most
 * ASW_WHOLE_ENTITIES entities, amounts that keep the ledger's invariants,
 * nothing after its end. Returns NULL when it is sound, else why not (a
 * static string). A sound body thaws without surprises.
 */
const char *asw_order_body_check(const char *order_id, const void *body, size_t len);

/* What retention and the end of a restore need of an order, read without
 * thawing it. */
typedef struct asw_order_brief {
    const char *order_id;
    int64_t max_event_time;
    int64_t deadline; /* when has_deadline */
    bool has_deadline;
    uint32_t n_open;
    uint8_t *restore_flags; /* the order's, writable in place */
    asw_order *order;       /* the decoded order, or NULL when frozen */
    const void *frozen;     /* when frozen: its bytes */
    size_t frozen_len;
} asw_order_brief;

void asw_order_brief_of(asw_order *order, asw_order_brief *out);
/* Of frozen bytes; the pointers point into them. */
void asw_order_frozen_brief(void *bytes, size_t len, asw_order_brief *out);

/* ---- journal: what a transaction changed, for rollback and the changelog ---- */

/*
 * A journal records, per order touched in a transaction, its header and
 * array lengths as they were, and the before-image of each entity changed
 * (once per transaction). It lets the processor roll an order back and the
 * changelog write only the entities that changed.
 */
asw_order_journal *asw_order_journal_new(void);
void asw_order_journal_destroy(asw_order_journal *j);

/* Start journaling `order` in the current transaction (no-op when it is
 * already). */
void asw_order_journal_begin(asw_order_journal *j, asw_order *order);
/* How many orders were begun since the last reset, and the i-th. */
size_t asw_order_journal_count(const asw_order_journal *j);
asw_order *asw_order_journal_at(const asw_order_journal *j, size_t i);
/* Is entity `i` of `kind` new or changed in this transaction? (The header is
 * changed whenever the order was begun and anything changed.) */
bool asw_order_journal_entity_changed(const asw_order_journal *j, const asw_order *order,
                                      asw_entity_kind kind, uint32_t i);
/* Did anything of the order change since it was begun? */
bool asw_order_journal_order_changed(const asw_order_journal *j, const asw_order *order);
/* Call fn for every entity of `order` new or changed since begin: O(what
 * changed), whatever the order's size. `before` is the entity as it was
 * (an asw_sku_state or asw_app), or NULL for one new in the transaction. */
typedef void(asw_order_change_fn)(void *opaque, asw_entity_kind kind, uint32_t i,
                                  const void *before);
void asw_order_journal_each_change(const asw_order_journal *j, const asw_order *order,
                                   asw_order_change_fn *fn, void *opaque);
/* Undo every change since begin, on every order begun, newest first. */
void asw_order_journal_rollback(asw_order_journal *j);
/* Forget what was recorded (the transaction committed, or was rolled back);
 * detaches the orders. */
void asw_order_journal_reset(asw_order_journal *j);
/* Stop journaling one order (it is being destroyed). */
void asw_order_journal_forget(asw_order_journal *j, asw_order *order);

#ifdef __cplusplus
}
#endif
#endif /* ASW_LEDGER_H */
