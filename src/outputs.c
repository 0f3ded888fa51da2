/*
 * outputs.c -- the field tables of the output records; see outputs.h.
 */
#include "asw/outputs.h"

_Static_assert(sizeof(asw_initiator) == sizeof(int) && sizeof(asw_outcome) == sizeof(int) &&
                   sizeof(asw_origin) == sizeof(int) && sizeof(asw_aftersale_type) == sizeof(int) &&
                   sizeof(asw_external_kind) == sizeof(int) &&
                   sizeof(asw_record_status) == sizeof(int) &&
                   sizeof(asw_reason_set) <= sizeof(int64_t),
               "the output enums are read as int");

static const char *initiator(int v) {
    return asw_initiator_name((asw_initiator)v);
}
static const char *outcome(int v) {
    return asw_outcome_name((asw_outcome)v);
}
static const char *reason(int v) {
    return asw_reason_name((asw_reason)v);
}
static const char *origin(int v) {
    return asw_origin_name((asw_origin)v);
}
static const char *aftersale_type(int v) {
    return asw_aftersale_type_name((asw_aftersale_type)v);
}
static const char *external_kind(int v) {
    return asw_external_kind_name((asw_external_kind)v);
}
static const char *record_status(int v) {
    return asw_record_status_name((asw_record_status)v);
}

static const asw_output_enum e_initiator = {"Initiator", ASW_INIT__COUNT, initiator};
static const asw_output_enum e_outcome = {"Outcome", ASW_OUT__COUNT, outcome};
static const asw_output_enum e_reason = {"Reason", ASW_R__COUNT, reason};
static const asw_output_enum e_origin = {"Origin", ASW_ORIGIN__COUNT, origin};
static const asw_output_enum e_aftersale_type = {"AfterSaleType", ASW_AT__COUNT, aftersale_type};
static const asw_output_enum e_external_kind = {"ExternalKind", ASW_EK__COUNT, external_kind};
static const asw_output_enum e_record_status = {"RecordStatus", ASW_RS__COUNT, record_status};

#define D(name, type, member)                                                                      \
    { name, type, offsetof(asw_decision, member), 0, NULL }
#define DE(name, type, member, e)                                                                  \
    { name, type, offsetof(asw_decision, member), 0, &e }

static const asw_output_field decision_fields[] = {
    D("aftersale_id", ASW_F_STR, aftersale_id),
    D("order_id", ASW_F_STR, order_id),
    D("sku_order_id", ASW_F_STR, sku_order_id),
    D("shop_id", ASW_F_STR, shop_id),
    DE("initiator", ASW_F_ENUM, initiator, e_initiator),
    DE("outcome", ASW_F_ENUM, outcome, e_outcome),
    DE("reasons", ASW_F_REASONS, reasons, e_reason),
    D("applications_used", ASW_F_INT, applications_used),
    D("applications_limit", ASW_F_INT, applications_limit),
    D("order_remaining", ASW_F_LONG, order_remaining),
    D("sku_remaining", ASW_F_LONG, sku_remaining),
    D("multi_refund", ASW_F_BOOL, multi_refund),
    D("sku_prior_refunds", ASW_F_INT, sku_prior_refunds),
    D("duplicate", ASW_F_BOOL, duplicate),
    D("event_time", ASW_F_LONG, event_time),
    D("ruleset_version", ASW_F_STR, ruleset_version),
    D("source_topic", ASW_F_STR, source_topic),
    D("source_partition", ASW_F_INT, source_partition),
    D("source_offset", ASW_F_LONG, source_offset),
};

#define R(name, type, member)                                                                      \
    { name, type, offsetof(asw_refund_record, member), 0, NULL }
#define RE(name, type, member, e)                                                                  \
    { name, type, offsetof(asw_refund_record, member), 0, &e }
#define RO(name, member, has, e)                                                                   \
    {                                                                                              \
        name, ASW_F_OPT_ENUM, offsetof(asw_refund_record, member),                                 \
            offsetof(asw_refund_record, has), &e                                                   \
    }

static const asw_output_field record_fields[] = {
    R("record_id", ASW_F_STR, record_id),
    R("order_id", ASW_F_STR, order_id),
    R("sku_order_id", ASW_F_STR, sku_order_id),
    R("shop_id", ASW_F_OPT_STR, shop_id),
    RE("origin", ASW_F_ENUM, origin, e_origin),
    RO("aftersale_type", aftersale_type, has_aftersale_type, e_aftersale_type),
    RO("kind", kind, has_kind, e_external_kind),
    RE("status", ASW_F_ENUM, status, e_record_status),
    R("amount", ASW_F_LONG, amount),
    R("order_paid", ASW_F_LONG, order_paid),
    R("order_refunded", ASW_F_LONG, order_refunded),
    R("order_reserved", ASW_F_LONG, order_reserved),
    R("order_remaining", ASW_F_LONG, order_remaining),
    R("sku_paid", ASW_F_LONG, sku_paid),
    R("sku_refunded", ASW_F_LONG, sku_refunded),
    R("sku_reserved", ASW_F_LONG, sku_reserved),
    R("sku_remaining", ASW_F_LONG, sku_remaining),
    R("sku_refunds", ASW_F_INT, sku_refunds),
    R("over_refund", ASW_F_BOOL, over_refund),
    R("unmatched", ASW_F_BOOL, unmatched),
    R("event_time", ASW_F_LONG, event_time),
};

const asw_output_def asw_output_decision = {"Decision", decision_fields,
                                            sizeof decision_fields / sizeof *decision_fields};
const asw_output_def asw_output_record = {"RefundRecord", record_fields,
                                          sizeof record_fields / sizeof *record_fields};

int64_t asw_field_int(const void *obj, const asw_output_field *f) {
    const char *p = (const char *)obj + f->off;
    switch (f->type) {
    case ASW_F_INT:
        return *(const int32_t *)p;
    case ASW_F_LONG:
        return *(const int64_t *)p;
    case ASW_F_REASONS:
        return (int64_t) * (const asw_reason_set *)p;
    default: /* the enums */
        return *(const int *)p;
    }
}
