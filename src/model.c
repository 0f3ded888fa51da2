/*
 * model.c -- symbol tables of the data model's enums, and event lifetime.
 *
 * The symbol arrays are in enum order, which is also the Avro symbol order
 * of the .avsc files in schemas/; tests/unit/test_codec.c checks both agree.
 */
#include "asw/model.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/varint.h"

static int parse_symbol(const char *const *names, int count, const char *s) {
    if (!s)
        return -1;
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* Defines asw_<name>_name() and asw_<name>_parse() over <name>_names[]. */
#define ENUM_SYMBOLS(name, count)                                                                  \
    const char *asw_##name##_name(asw_##name v) {                                                  \
        return (int)v >= 0 && v < count ? name##_names[v] : NULL;                                  \
    }                                                                                              \
    int asw_##name##_parse(const char *s, asw_##name *out) {                                       \
        int i = parse_symbol(name##_names, count, s);                                              \
        if (i < 0)                                                                                 \
            return -1;                                                                             \
        *out = (asw_##name)i;                                                                      \
        return 0;                                                                                  \
    }

static const char *const event_type_names[] = {"AfterSaleApplied", "AfterSaleWithdrawn",
                                               "AfterSaleClosed",  "AfterSaleSucceeded",
                                               "RefundClawedBack", "ExternalRefundRecorded"};
ENUM_SYMBOLS(event_type, ASW_EV__COUNT)

static const char *const initiator_names[] = {"BUYER", "MERCHANT_CARD"};
ENUM_SYMBOLS(initiator, ASW_INIT__COUNT)

static const char *const aftersale_type_names[] = {"RETURN_AND_REFUND",
                                                   "REFUND_ONLY_SHIPPED",
                                                   "REFUND_ONLY_UNSHIPPED",
                                                   "EXCHANGE",
                                                   "PRICE_PROTECTION",
                                                   "RESHIP",
                                                   "REPAIR"};
ENUM_SYMBOLS(aftersale_type, ASW_AT__COUNT)

static const char *const order_status_names[] = {
    "PENDING_PAYMENT", "STOCKING", "PARTIALLY_SHIPPED", "SHIPPED", "COMPLETED", "CANCELLED"};
ENUM_SYMBOLS(order_status, ASW_OS__COUNT)

static const char *const goods_type_names[] = {"PHYSICAL", "VIRTUAL"};
ENUM_SYMBOLS(goods_type, ASW_GT__COUNT)

static const char *const close_reason_names[] = {"MERCHANT_REJECTED", "PLATFORM_CLOSED", "FAILED"};
ENUM_SYMBOLS(close_reason, ASW_CR__COUNT)

static const char *const external_kind_names[] = {"SMALL_PAYMENT", "PRICE_PROTECTION", "OFFLINE",
                                                  "HISTORICAL"};
ENUM_SYMBOLS(external_kind, ASW_EK__COUNT)

static const char *const outcome_names[] = {"ACCEPTED", "REJECTED"};
ENUM_SYMBOLS(outcome, ASW_OUT__COUNT)

static const char *const reason_names[] = {
    "INVALID_REQUEST",          "ORDER_STATUS_NOT_ELIGIBLE",   "PRE_SHIPMENT_FULL_REFUND_ONLY",
    "AFTERSALE_PERIOD_EXPIRED", "APPLICATION_IN_PROGRESS",     "APPLICATION_LIMIT_REACHED",
    "MULTI_REFUND_NOT_ENABLED", "NOT_DOMESTIC_PHYSICAL_GOODS", "NO_REFUNDABLE_AMOUNT",
    "AMOUNT_EXCEEDS_REFUNDABLE"};
ENUM_SYMBOLS(reason, ASW_R__COUNT)

static const char *const origin_names[] = {"APPLICATION", "EXTERNAL"};
ENUM_SYMBOLS(origin, ASW_ORIGIN__COUNT)

static const char *const record_status_names[] = {"PENDING",   "WITHDRAWN",   "CLOSED",
                                                  "SUCCEEDED", "CLAWED_BACK", "RECORDED"};
ENUM_SYMBOLS(record_status, ASW_RS__COUNT)

static const char *const app_state_names[] = {"OPEN", "WITHDRAWN", "CLOSED", "SUCCEEDED"};
ENUM_SYMBOLS(app_state, ASW_APP__COUNT)

void asw_event_init(asw_event *ev) {
    memset(ev, 0, sizeof *ev);
}

void asw_event_clear(asw_event *ev) {
    free(ev->event_id);
    free(ev->order_id);
    free(ev->aftersale_id);
    free(ev->refund_id);
    free(ev->sku_order_id);
    free(ev->shop_id);
    memset(ev, 0, sizeof *ev);
}

void asw_event_copy(asw_event *dst, const asw_event *src) {
    *dst = *src;
    dst->event_id = asw_strdup(src->event_id);
    dst->order_id = asw_strdup(src->order_id);
    dst->aftersale_id = asw_strdup(src->aftersale_id);
    dst->refund_id = asw_strdup(src->refund_id);
    dst->sku_order_id = asw_strdup(src->sku_order_id);
    dst->shop_id = asw_strdup(src->shop_id);
}

bool asw_event_carries_paid(const asw_event *ev) {
    return ev->type == ASW_EV_APPLIED || ev->type == ASW_EV_SUCCEEDED ||
           ev->type == ASW_EV_EXTERNAL;
}

size_t asw_decision_pack(const asw_decision *d, uint8_t *out) {
    size_t n = 0;
    out[n++] = (uint8_t)(d->initiator | (d->outcome << 2) | (d->multi_refund ? 0x10 : 0));
    n += asw_varint_put(out + n, d->reasons);
    n += asw_varint_put(out + n, asw_zigzag(d->applications_used));
    n += asw_varint_put(out + n, asw_zigzag(d->applications_limit));
    n += asw_varint_put(out + n, asw_zigzag(d->order_remaining));
    n += asw_varint_put(out + n, asw_zigzag(d->sku_remaining));
    n += asw_varint_put(out + n, asw_zigzag(d->sku_prior_refunds));
    n += asw_varint_put(out + n, asw_zigzag(d->event_time));
    n += asw_varint_put(out + n, asw_zigzag(d->source_partition));
    n += asw_varint_put(out + n, asw_zigzag(d->source_offset));
    return n;
}

int asw_decision_unpack(asw_decision *d, const uint8_t **p, const uint8_t *end) {
    int ok = 1;
    if (*p >= end)
        return -1;
    uint8_t flags = *(*p)++;
    d->initiator = (asw_initiator)(flags & 3);
    d->outcome = (asw_outcome)((flags >> 2) & 3);
    d->multi_refund = (flags & 0x10) != 0;
    d->reasons = (asw_reason_set)asw_varint_get(p, end, &ok);
    d->applications_used = (int32_t)asw_unzigzag(asw_varint_get(p, end, &ok));
    d->applications_limit = (int32_t)asw_unzigzag(asw_varint_get(p, end, &ok));
    d->order_remaining = asw_unzigzag(asw_varint_get(p, end, &ok));
    d->sku_remaining = asw_unzigzag(asw_varint_get(p, end, &ok));
    d->sku_prior_refunds = (int32_t)asw_unzigzag(asw_varint_get(p, end, &ok));
    d->event_time = asw_unzigzag(asw_varint_get(p, end, &ok));
    d->source_partition = (int32_t)asw_unzigzag(asw_varint_get(p, end, &ok));
    d->source_offset = asw_unzigzag(asw_varint_get(p, end, &ok));
    if (!ok || d->initiator >= ASW_INIT__COUNT || d->outcome >= ASW_OUT__COUNT)
        return -1;
    return 0;
}
