/*
 * ledger.h -- the pure core: one order's state (quota and refund ledger) and
 * the function that applies one event to it (SPEC section 4).
 *
 * No I/O, no clock, no Kafka, no Avro. The state is a transparent value so
 * that the codec can serialize it to the changelog; only this module changes
 * it. Every array below is kept sorted by its id (strcmp order) so that a
 * serialized state never depends on arrival order or hash-table order.
 */
#ifndef ASW_LEDGER_H
#define ASW_LEDGER_H

#include "asw/model.h"
#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ledger of one sub-order. */
typedef struct asw_sku_state {
    char *sku_order_id;
    int64_t paid;             /* latest sku_paid_amount of a valid event, 0 until one */
    int64_t refunded;         /* never below zero */
    int64_t reserved;         /* sum of the OPEN applications' reservations */
    int32_t refund_successes; /* SPEC "refund success" count (sku_refunds) */
} asw_sku_state;

/* A counted application: an accepted BUYER application, or one the worker
 * learnt of from a lifecycle event only (unmatched). */
typedef struct asw_app {
    char *aftersale_id;
    char *sku_order_id;
    char *shop_id; /* NULL for an unmatched application */
    bool has_type; /* false for an unmatched application */
    asw_aftersale_type type;
    asw_app_state state;
    int64_t reserved; /* amount still reserved (0 unless OPEN) */
} asw_app;

/* A decision already made on this order (buyer or card, any outcome), kept
 * to re-emit it on a duplicate. Strings are owned. */
typedef struct asw_decided {
    char *aftersale_id;
    char *sku_order_id;
    char *shop_id;
    char *ruleset_version;
    char *source_topic;
    asw_initiator initiator;
    asw_outcome outcome;
    asw_reason_set reasons;
    int32_t applications_used;
    int32_t applications_limit;
    int64_t order_remaining;
    int64_t sku_remaining;
    bool multi_refund;
    int32_t sku_prior_refunds;
    int64_t event_time;
    int32_t source_partition;
    int64_t source_offset;
} asw_decided;

/* An external refund already recorded (ExternalRefundRecorded). */
typedef struct asw_external {
    char *refund_id;
    char *sku_order_id;
    asw_external_kind kind;
} asw_external;

/*
 * The state of one order. All strings and arrays are owned by the order.
 */
typedef struct asw_order {
    char *order_id;
    char *shop_id;    /* last shop_id seen on a valid event, NULL if none */
    int64_t paid;     /* latest order_paid_amount of a valid event */
    int64_t refunded; /* never below zero */
    int64_t reserved;
    bool prior_success;     /* any application succeeded or external refund recorded */
    int64_t max_event_time; /* largest event_time applied to this order */
    bool has_deadline;      /* latest aftersale_deadline seen, for retention */
    int64_t deadline;

    /* Transient bookkeeping of the processor (which transaction last saved
     * this order for rollback). Not state: never serialized, cloned or
     * compared. */
    uint64_t txn_mark;

    asw_sku_state *skus;
    size_t n_skus, cap_skus;
    asw_app *apps;
    size_t n_apps, cap_apps;
    asw_decided *decided;
    size_t n_decided, cap_decided;
    asw_external *externals;
    size_t n_externals, cap_externals;
    char **event_ids;
    size_t n_event_ids, cap_event_ids;
} asw_order;

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
 * from the order and the event: valid until either is changed or freed.
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

/* Deep copy of an order state (used to roll back to a committed state). */
asw_order *asw_order_clone(const asw_order *order);

/* Are two order states equal, field by field? */
bool asw_order_equal(const asw_order *a, const asw_order *b);

/*
 * Apply one event to the order's state and describe its outputs.
 *
 * @param order   the state of ev->order_id; changed in place.
 * @param rules   the ruleset (limit, rollout, version).
 * @param ev      the event; its order_id must equal order->order_id.
 * @param src     where the event came from; stamped on a new decision.
 * @param out     written in full on every call.
 *
 * Never fails: an invalid application yields a REJECTED decision, an invalid
 * fact yields ASW_APPLY_INVALID with the state unchanged.
 */
void asw_order_apply(asw_order *order, const asw_ruleset *rules, const asw_event *ev,
                     const asw_source *src, asw_result *out);

/* Remaining amounts as SPEC section 4 defines them. */
int64_t asw_order_remaining(const asw_order *order);
int64_t asw_sku_remaining(const asw_sku_state *sku);

/* Find a sub-order's ledger; NULL when the order has never seen it. */
const asw_sku_state *asw_order_find_sku(const asw_order *order, const char *sku_order_id);

/* Find a counted application; NULL when there is none. */
const asw_app *asw_order_find_app(const asw_order *order, const char *aftersale_id);

/* Number of counted applications (SPEC applications_used). */
int32_t asw_order_applications_used(const asw_order *order);

/*
 * Insertion helpers for decoders that rebuild a state (the changelog codec).
 * Each copies its strings and keeps the array sorted; a duplicate id replaces
 * nothing and returns -1, success returns 0.
 */
int asw_order_put_sku(asw_order *order, const asw_sku_state *sku);
int asw_order_put_app(asw_order *order, const asw_app *app);
int asw_order_put_decided(asw_order *order, const asw_decided *d);
int asw_order_put_external(asw_order *order, const asw_external *e);
int asw_order_put_event_id(asw_order *order, const char *event_id);
/* Set the shop id (copied; NULL clears it). */
void asw_order_set_shop(asw_order *order, const char *shop_id);

#ifdef __cplusplus
}
#endif
#endif /* ASW_LEDGER_H */
