/*
 * support.h -- event builders shared by the unit tests.
 *
 * Builders return events with sensible defaults (a shipped, domestic,
 * physical order paid 10000 fen on one sub-order, shop "s1", buyer-initiated
 * REFUND_ONLY_SHIPPED, no deadline); tests change the fields they are about.
 * Events handed to t_apply() are kept until t_reset() so that results that
 * borrow their strings stay valid for the whole test.
 */
#ifndef ASW_TEST_SUPPORT_H
#define ASW_TEST_SUPPORT_H

#include "asw/ledger.h"
#include "asw/model.h"
#include "asw/ruleset.h"

/* The order of every event the t_* builders make. */
#define T_ORDER "O1"

asw_event t_applied(const char *event_id, const char *aftersale_id, const char *sku,
                    int64_t amount);
asw_event t_withdrawn(const char *event_id, const char *aftersale_id, const char *sku);
asw_event t_closed(const char *event_id, const char *aftersale_id, const char *sku);
asw_event t_succeeded(const char *event_id, const char *aftersale_id, const char *sku,
                      int64_t refund);
asw_event t_clawed_back(const char *event_id, const char *refund_id, const char *sku,
                        int64_t amount);
asw_event t_external(const char *event_id, const char *refund_id, const char *sku,
                     asw_external_kind kind, int64_t amount);

/* Replace a string field of an event (frees the old one). */
void t_set(char **field, const char *value);

/* Apply ev to o with rules; ev is kept (see above). Source: "t", 0, offset++. */
asw_result t_apply(asw_order *o, const asw_ruleset *rules, asw_event ev);
/* Free the kept events. */
void t_reset(void);

/* The reasons of a decision as one space-separated string, e.g.
 * "APPLICATION_IN_PROGRESS AMOUNT_EXCEEDS_REFUNDABLE"; "" when accepted.
 * Static buffer, valid until the next call. */
const char *t_reasons(asw_reason_set set);

#endif
