/*
 * support.c -- event builders and helpers for the unit tests; see support.h.
 */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

static asw_event base(asw_event_type type, const char *event_id, const char *sku) {
    asw_event ev;
    asw_event_init(&ev);
    ev.type = type;
    ev.event_id = asw_strdup(event_id);
    ev.order_id = asw_strdup(T_ORDER);
    ev.event_time = 1700000000000;
    ev.sku_order_id = asw_strdup(sku);
    ev.aftersale_id = asw_strdup("");
    ev.refund_id = asw_strdup("");
    ev.shop_id = asw_strdup("");
    ev.order_paid_amount = 10000;
    ev.sku_paid_amount = 10000;
    return ev;
}

asw_event t_applied(const char *event_id, const char *aftersale_id, const char *sku,
                    int64_t amount) {
    asw_event ev = base(ASW_EV_APPLIED, event_id, sku);
    t_set(&ev.aftersale_id, aftersale_id);
    t_set(&ev.shop_id, "s1");
    ev.initiator = ASW_INIT_BUYER;
    ev.aftersale_type = ASW_AT_REFUND_ONLY_SHIPPED;
    ev.amount = amount;
    ev.order.order_status = ASW_OS_SHIPPED;
    ev.order.goods_type = ASW_GT_PHYSICAL;
    ev.order.cross_border = false;
    ev.order.order_paid_amount = 10000;
    ev.order.sku_paid_amount = 10000;
    ev.order.has_deadline = false;
    return ev;
}

asw_event t_withdrawn(const char *event_id, const char *aftersale_id, const char *sku) {
    asw_event ev = base(ASW_EV_WITHDRAWN, event_id, sku);
    t_set(&ev.aftersale_id, aftersale_id);
    return ev;
}

asw_event t_closed(const char *event_id, const char *aftersale_id, const char *sku) {
    asw_event ev = base(ASW_EV_CLOSED, event_id, sku);
    t_set(&ev.aftersale_id, aftersale_id);
    ev.close_reason = ASW_CR_MERCHANT_REJECTED;
    return ev;
}

asw_event t_succeeded(const char *event_id, const char *aftersale_id, const char *sku,
                      int64_t refund) {
    asw_event ev = base(ASW_EV_SUCCEEDED, event_id, sku);
    t_set(&ev.aftersale_id, aftersale_id);
    ev.amount = refund;
    return ev;
}

asw_event t_clawed_back(const char *event_id, const char *refund_id, const char *sku,
                        int64_t amount) {
    asw_event ev = base(ASW_EV_CLAWED_BACK, event_id, sku);
    t_set(&ev.refund_id, refund_id);
    ev.amount = amount;
    return ev;
}

asw_event t_external(const char *event_id, const char *refund_id, const char *sku,
                     asw_external_kind kind, int64_t amount) {
    asw_event ev = base(ASW_EV_EXTERNAL, event_id, sku);
    t_set(&ev.refund_id, refund_id);
    t_set(&ev.shop_id, "s1");
    ev.kind = kind;
    ev.amount = amount;
    return ev;
}

void t_set(char **field, const char *value) {
    free(*field);
    *field = asw_strdup(value);
}

static asw_event *kept;
static size_t n_kept, cap_kept;
static int64_t next_offset;

asw_result t_apply(asw_order *o, const asw_ruleset *rules, asw_event ev) {
    if (n_kept == cap_kept) {
        cap_kept = cap_kept ? cap_kept * 2 : 16;
        kept = asw_realloc(kept, cap_kept * sizeof *kept);
    }
    kept[n_kept] = ev;
    asw_source src = {.topic = "t", .partition = 0, .offset = next_offset++};
    asw_result res;
    asw_order_apply(o, rules, &kept[n_kept++], &src, &res);
    return res;
}

void t_reset(void) {
    for (size_t i = 0; i < n_kept; i++)
        asw_event_clear(&kept[i]);
    free(kept);
    kept = NULL;
    n_kept = cap_kept = 0;
    next_offset = 0;
}

const char *t_reasons(asw_reason_set set) {
    static char buf[512];
    buf[0] = '\0';
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (set & (1u << r)) {
            if (buf[0])
                strcat(buf, " ");
            strcat(buf, asw_reason_name((asw_reason)r));
        }
    return buf;
}
