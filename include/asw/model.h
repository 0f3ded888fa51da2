/*
 * model.h -- the data model of aftersale-worker: input events (SPEC section 3)
 * and the outputs the core produces (SPEC section 5), as plain C values.
 *
 * These are transparent value types shared by the core (ledger), the Avro
 * codec and the JSON Lines codec. None of them knows about Kafka, Avro or
 * JSON. Amounts are integers in fen; timestamps are epoch milliseconds.
 */
#ifndef ASW_MODEL_H
#define ASW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest id or text field an event may carry, in bytes (SPEC section 4,
 * rule 1): longer makes an application INVALID_REQUEST and a fact a dead
 * letter. */
#define ASW_TEXT_MAX 128

/* ---- enums (symbol order is the Avro symbol order; never reorder) ---- */

typedef enum asw_event_type {
    ASW_EV_APPLIED = 0, /* AfterSaleApplied */
    ASW_EV_WITHDRAWN,   /* AfterSaleWithdrawn */
    ASW_EV_CLOSED,      /* AfterSaleClosed */
    ASW_EV_SUCCEEDED,   /* AfterSaleSucceeded */
    ASW_EV_CLAWED_BACK, /* RefundClawedBack */
    ASW_EV_EXTERNAL,    /* ExternalRefundRecorded */
    ASW_EV__COUNT
} asw_event_type;

typedef enum asw_initiator {
    ASW_INIT_BUYER = 0,
    ASW_INIT_MERCHANT_CARD,
    ASW_INIT__COUNT
} asw_initiator;

typedef enum asw_aftersale_type {
    ASW_AT_RETURN_AND_REFUND = 0,
    ASW_AT_REFUND_ONLY_SHIPPED,
    ASW_AT_REFUND_ONLY_UNSHIPPED,
    ASW_AT_EXCHANGE,
    ASW_AT_PRICE_PROTECTION,
    ASW_AT_RESHIP,
    ASW_AT_REPAIR,
    ASW_AT__COUNT
} asw_aftersale_type;

typedef enum asw_order_status {
    ASW_OS_PENDING_PAYMENT = 0,
    ASW_OS_STOCKING,
    ASW_OS_PARTIALLY_SHIPPED,
    ASW_OS_SHIPPED,
    ASW_OS_COMPLETED,
    ASW_OS_CANCELLED,
    ASW_OS__COUNT
} asw_order_status;

typedef enum asw_goods_type { ASW_GT_PHYSICAL = 0, ASW_GT_VIRTUAL, ASW_GT__COUNT } asw_goods_type;

typedef enum asw_close_reason {
    ASW_CR_MERCHANT_REJECTED = 0,
    ASW_CR_PLATFORM_CLOSED,
    ASW_CR_FAILED,
    ASW_CR__COUNT
} asw_close_reason;

typedef enum asw_external_kind {
    ASW_EK_SMALL_PAYMENT = 0,
    ASW_EK_PRICE_PROTECTION,
    ASW_EK_OFFLINE,
    ASW_EK_HISTORICAL,
    ASW_EK__COUNT
} asw_external_kind;

typedef enum asw_outcome { ASW_OUT_ACCEPTED = 0, ASW_OUT_REJECTED, ASW_OUT__COUNT } asw_outcome;

/* Reject reasons in the order of SPEC section 4; the bit index is the order. */
typedef enum asw_reason {
    ASW_R_INVALID_REQUEST = 0,
    ASW_R_ORDER_STATUS_NOT_ELIGIBLE,
    ASW_R_PRE_SHIPMENT_FULL_REFUND_ONLY,
    ASW_R_AFTERSALE_PERIOD_EXPIRED,
    ASW_R_APPLICATION_IN_PROGRESS,
    ASW_R_APPLICATION_LIMIT_REACHED,
    ASW_R_MULTI_REFUND_NOT_ENABLED,
    ASW_R_NOT_DOMESTIC_PHYSICAL_GOODS,
    ASW_R_NO_REFUNDABLE_AMOUNT,
    ASW_R_AMOUNT_EXCEEDS_REFUNDABLE,
    ASW_R__COUNT
} asw_reason;

/* A set of reasons; bit i is asw_reason i, so iterating bits low to high
 * yields the SPEC order. */
typedef uint16_t asw_reason_set;

typedef enum asw_origin {
    ASW_ORIGIN_APPLICATION = 0,
    ASW_ORIGIN_EXTERNAL,
    ASW_ORIGIN__COUNT
} asw_origin;

typedef enum asw_record_status {
    ASW_RS_PENDING = 0,
    ASW_RS_WITHDRAWN,
    ASW_RS_CLOSED,
    ASW_RS_SUCCEEDED,
    ASW_RS_CLAWED_BACK,
    ASW_RS_RECORDED,
    ASW_RS__COUNT
} asw_record_status;

/* State of a counted application inside an order's state. */
typedef enum asw_app_state {
    ASW_APP_OPEN = 0,
    ASW_APP_WITHDRAWN,
    ASW_APP_CLOSED,
    ASW_APP_SUCCEEDED,
    ASW_APP__COUNT
} asw_app_state;

/* Symbol of an enum value, e.g. "REFUND_ONLY_SHIPPED"; NULL when out of range.
 * The returned string is static. */
const char *asw_event_type_name(asw_event_type v);
const char *asw_initiator_name(asw_initiator v);
const char *asw_aftersale_type_name(asw_aftersale_type v);
const char *asw_order_status_name(asw_order_status v);
const char *asw_goods_type_name(asw_goods_type v);
const char *asw_close_reason_name(asw_close_reason v);
const char *asw_external_kind_name(asw_external_kind v);
const char *asw_outcome_name(asw_outcome v);
const char *asw_reason_name(asw_reason v);
const char *asw_origin_name(asw_origin v);
const char *asw_record_status_name(asw_record_status v);
const char *asw_app_state_name(asw_app_state v);

/* Parse a symbol into *out. Returns 0 on success, -1 when the symbol is
 * unknown (and *out is left untouched). */
int asw_event_type_parse(const char *s, asw_event_type *out);
int asw_initiator_parse(const char *s, asw_initiator *out);
int asw_aftersale_type_parse(const char *s, asw_aftersale_type *out);
int asw_order_status_parse(const char *s, asw_order_status *out);
int asw_goods_type_parse(const char *s, asw_goods_type *out);
int asw_close_reason_parse(const char *s, asw_close_reason *out);
int asw_external_kind_parse(const char *s, asw_external_kind *out);
int asw_outcome_parse(const char *s, asw_outcome *out);
int asw_reason_parse(const char *s, asw_reason *out);
int asw_origin_parse(const char *s, asw_origin *out);
int asw_record_status_parse(const char *s, asw_record_status *out);
int asw_app_state_parse(const char *s, asw_app_state *out);

/* ---- input events (SPEC section 3) ---- */

/* The order snapshot carried by AfterSaleApplied. */
typedef struct asw_order_snapshot {
    asw_order_status order_status;
    asw_goods_type goods_type;
    bool cross_border;
    int64_t order_paid_amount;
    int64_t sku_paid_amount;
    bool has_deadline;          /* false: aftersale_deadline is null */
    int64_t aftersale_deadline; /* epoch ms, valid when has_deadline */
} asw_order_snapshot;

/*
 * One input event. Which fields are meaningful depends on `type`:
 *
 *   APPLIED      aftersale_id sku_order_id shop_id initiator aftersale_type
 *                amount(=apply_amount) order
 *   WITHDRAWN    aftersale_id sku_order_id
 *   CLOSED       aftersale_id sku_order_id close_reason
 *   SUCCEEDED    aftersale_id sku_order_id amount(=refund_amount)
 *                order_paid_amount sku_paid_amount
 *   CLAWED_BACK  refund_id sku_order_id amount
 *   EXTERNAL     refund_id sku_order_id shop_id kind amount
 *                order_paid_amount sku_paid_amount
 *
 * Every string is owned by the event (heap, NUL-terminated, never NULL once
 * set by a decoder: an absent string is ""). asw_event_clear() frees them.
 * For APPLIED the paid amounts live in `order` (the core reads them there);
 * decoders also copy them to the top-level order_paid_amount /
 * sku_paid_amount, so that every event carrying paid amounts shows them in
 * one place to code outside the core.
 */
typedef struct asw_event {
    asw_event_type type;
    char *event_id;
    char *order_id;
    int64_t event_time;

    char *aftersale_id; /* APPLIED WITHDRAWN CLOSED SUCCEEDED */
    char *refund_id;    /* CLAWED_BACK EXTERNAL */
    char *sku_order_id;
    char *shop_id; /* APPLIED EXTERNAL */

    asw_initiator initiator;
    asw_aftersale_type aftersale_type;
    asw_close_reason close_reason;
    asw_external_kind kind;

    int64_t amount; /* apply_amount / refund_amount / amount */
    int64_t order_paid_amount;
    int64_t sku_paid_amount;
    asw_order_snapshot order; /* APPLIED */
} asw_event;

/* Zero an event so that asw_event_clear() is safe on it. */
void asw_event_init(asw_event *ev);
/* Free the strings of an event and zero it. Safe on an initialised or
 * zeroed event. */
void asw_event_clear(asw_event *ev);
/* Deep copy of src into *dst (which is overwritten, not freed). */
void asw_event_copy(asw_event *dst, const asw_event *src);
/* Does this event type carry order_paid_amount / sku_paid_amount? */
bool asw_event_carries_paid(const asw_event *ev);

/* Where an input record came from (SPEC section 5, Decision). */
typedef struct asw_source {
    const char *topic; /* borrowed */
    int32_t partition;
    int64_t offset;
} asw_source;

/* ---- outputs (SPEC section 5) ---- */

/*
 * A decision on one AfterSaleApplied. Strings are borrowed from the order
 * state that produced the decision: they stay valid until the next call that
 * changes or frees that order's state.
 */
typedef struct asw_decision {
    const char *aftersale_id;
    const char *order_id;
    const char *sku_order_id;
    const char *shop_id;
    asw_initiator initiator;
    asw_outcome outcome;
    asw_reason_set reasons;
    int32_t applications_used;
    int32_t applications_limit;
    int64_t order_remaining;
    int64_t sku_remaining;
    bool multi_refund;
    int32_t sku_prior_refunds;
    bool duplicate;
    int64_t event_time;
    const char *ruleset_version;
    const char *source_topic;
    int32_t source_partition;
    int64_t source_offset;
} asw_decision;

/*
 * A refund record: one change of the ledger. Strings are borrowed as for
 * asw_decision. shop_id is NULL when no event of the order ever named the
 * shop. has_aftersale_type / has_kind say whether aftersale_type / kind are
 * known (the Avro fields are nullable).
 */
typedef struct asw_refund_record {
    const char *record_id;
    const char *order_id;
    const char *sku_order_id;
    const char *shop_id;
    asw_origin origin;
    bool has_aftersale_type;
    asw_aftersale_type aftersale_type;
    bool has_kind;
    asw_external_kind kind;
    asw_record_status status;
    int64_t amount;
    int64_t order_paid;
    int64_t order_refunded;
    int64_t order_reserved;
    int64_t order_remaining;
    int64_t sku_paid;
    int64_t sku_refunded;
    int64_t sku_reserved;
    int64_t sku_remaining;
    int32_t sku_refunds;
    bool over_refund;
    bool unmatched;
    int64_t event_time;
} asw_refund_record;

#ifdef __cplusplus
}
#endif
#endif /* ASW_MODEL_H */
