/*
 * ledger.c -- the pure core: the rules of SPEC section 4 applied to one
 * order's state (quota and refund ledger).
 *
 * asw_order_apply() is the only entry point that changes a state. It reads
 * no clock, does no I/O and allocates only to grow the order's own arrays.
 * The reject reasons are evaluated in decide(), one block per reason, in the
 * SPEC's order. Choices the SPEC leaves open are listed in docs/rules.md.
 *
 * Every array of an order is kept sorted by its id, so that a state's
 * serialization depends only on its content.
 */
#include "asw/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

/* ---- sorted arrays keyed by a leading `char *` ---- */

/*
 * Binary search in an array whose elements start with a `char *` id.
 * Returns the index of the match (*found = true) or the insertion point.
 */
static size_t sorted_find(const void *base, size_t n, size_t size, const char *id, bool *found) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mid_id = *(char *const *)((const char *)base + mid * size);
        int c = strcmp(mid_id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Open a zeroed slot at idx, growing the array as needed. */
static void *sorted_insert(void **base, size_t *n, size_t *cap, size_t size, size_t idx) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *base = asw_realloc(*base, *cap * size);
    }
    char *b = *base;
    memmove(b + (idx + 1) * size, b + idx * size, (*n - idx) * size);
    memset(b + idx * size, 0, size);
    (*n)++;
    return b + idx * size;
}

static asw_sku_state *find_sku(const asw_order *o, const char *id) {
    bool found;
    size_t i = sorted_find(o->skus, o->n_skus, sizeof *o->skus, id, &found);
    return found ? &o->skus[i] : NULL;
}

static asw_app *find_app(const asw_order *o, const char *id) {
    bool found;
    size_t i = sorted_find(o->apps, o->n_apps, sizeof *o->apps, id, &found);
    return found ? &o->apps[i] : NULL;
}

static asw_decided *find_decided(const asw_order *o, const char *id) {
    bool found;
    size_t i = sorted_find(o->decided, o->n_decided, sizeof *o->decided, id, &found);
    return found ? &o->decided[i] : NULL;
}

static asw_external *find_external(const asw_order *o, const char *id) {
    bool found;
    size_t i = sorted_find(o->externals, o->n_externals, sizeof *o->externals, id, &found);
    return found ? &o->externals[i] : NULL;
}

static bool event_seen(const asw_order *o, const char *event_id) {
    bool found;
    sorted_find(o->event_ids, o->n_event_ids, sizeof *o->event_ids, event_id, &found);
    return found;
}

/* The sub-order's ledger, created empty (paid 0) on first use. */
static asw_sku_state *get_sku(asw_order *o, const char *id) {
    bool found;
    size_t i = sorted_find(o->skus, o->n_skus, sizeof *o->skus, id, &found);
    if (found)
        return &o->skus[i];
    asw_sku_state *s =
        sorted_insert((void **)&o->skus, &o->n_skus, &o->cap_skus, sizeof *o->skus, i);
    s->sku_order_id = asw_strdup(id);
    return s;
}

static asw_app *add_app(asw_order *o, const char *aftersale_id) {
    bool found;
    size_t i = sorted_find(o->apps, o->n_apps, sizeof *o->apps, aftersale_id, &found);
    if (found)
        return NULL;
    asw_app *a = sorted_insert((void **)&o->apps, &o->n_apps, &o->cap_apps, sizeof *o->apps, i);
    a->aftersale_id = asw_strdup(aftersale_id);
    return a;
}

static void remember_event(asw_order *o, const char *event_id) {
    bool found;
    if (event_id[0] == '\0')
        return;
    size_t i = sorted_find(o->event_ids, o->n_event_ids, sizeof *o->event_ids, event_id, &found);
    if (found)
        return;
    char **slot = sorted_insert((void **)&o->event_ids, &o->n_event_ids, &o->cap_event_ids,
                                sizeof *o->event_ids, i);
    *slot = asw_strdup(event_id);
}

static void replace_str(char **dst, const char *src) {
    if (*dst && src && strcmp(*dst, src) == 0)
        return;
    free(*dst);
    *dst = asw_strdup(src);
}

/* ---- lifetime ---- */

asw_order *asw_order_new(const char *order_id) {
    asw_order *o = asw_calloc(1, sizeof *o);
    o->order_id = asw_strdup(order_id ? order_id : "");
    return o;
}

static void free_decided(asw_decided *d) {
    free(d->aftersale_id);
    free(d->sku_order_id);
    free(d->shop_id);
    free(d->ruleset_version);
    free(d->source_topic);
}

void asw_order_destroy(asw_order *o) {
    if (!o)
        return;
    for (size_t i = 0; i < o->n_skus; i++)
        free(o->skus[i].sku_order_id);
    for (size_t i = 0; i < o->n_apps; i++) {
        free(o->apps[i].aftersale_id);
        free(o->apps[i].sku_order_id);
        free(o->apps[i].shop_id);
    }
    for (size_t i = 0; i < o->n_decided; i++)
        free_decided(&o->decided[i]);
    for (size_t i = 0; i < o->n_externals; i++) {
        free(o->externals[i].refund_id);
        free(o->externals[i].sku_order_id);
    }
    for (size_t i = 0; i < o->n_event_ids; i++)
        free(o->event_ids[i]);
    free(o->skus);
    free(o->apps);
    free(o->decided);
    free(o->externals);
    free(o->event_ids);
    free(o->order_id);
    free(o->shop_id);
    free(o);
}

/* ---- insertion helpers for decoders ---- */

int asw_order_put_sku(asw_order *o, const asw_sku_state *sku) {
    bool found;
    size_t i = sorted_find(o->skus, o->n_skus, sizeof *o->skus, sku->sku_order_id, &found);
    if (found)
        return -1;
    asw_sku_state *s =
        sorted_insert((void **)&o->skus, &o->n_skus, &o->cap_skus, sizeof *o->skus, i);
    *s = *sku;
    s->sku_order_id = asw_strdup(sku->sku_order_id);
    return 0;
}

int asw_order_put_app(asw_order *o, const asw_app *app) {
    asw_app *a = add_app(o, app->aftersale_id);
    if (!a)
        return -1;
    char *id = a->aftersale_id;
    *a = *app;
    a->aftersale_id = id;
    a->sku_order_id = asw_strdup(app->sku_order_id);
    a->shop_id = asw_strdup(app->shop_id);
    return 0;
}

int asw_order_put_decided(asw_order *o, const asw_decided *d) {
    bool found;
    size_t i = sorted_find(o->decided, o->n_decided, sizeof *o->decided, d->aftersale_id, &found);
    if (found)
        return -1;
    asw_decided *n =
        sorted_insert((void **)&o->decided, &o->n_decided, &o->cap_decided, sizeof *o->decided, i);
    *n = *d;
    n->aftersale_id = asw_strdup(d->aftersale_id);
    n->sku_order_id = asw_strdup(d->sku_order_id);
    n->shop_id = asw_strdup(d->shop_id);
    n->ruleset_version = asw_strdup(d->ruleset_version);
    n->source_topic = asw_strdup(d->source_topic);
    return 0;
}

int asw_order_put_external(asw_order *o, const asw_external *e) {
    bool found;
    size_t i =
        sorted_find(o->externals, o->n_externals, sizeof *o->externals, e->refund_id, &found);
    if (found)
        return -1;
    asw_external *n = sorted_insert((void **)&o->externals, &o->n_externals, &o->cap_externals,
                                    sizeof *o->externals, i);
    n->refund_id = asw_strdup(e->refund_id);
    n->sku_order_id = asw_strdup(e->sku_order_id);
    n->kind = e->kind;
    return 0;
}

int asw_order_put_event_id(asw_order *o, const char *event_id) {
    if (event_id[0] == '\0' || event_seen(o, event_id))
        return -1;
    remember_event(o, event_id);
    return 0;
}

void asw_order_set_shop(asw_order *o, const char *shop_id) {
    replace_str(&o->shop_id, shop_id);
}

asw_order *asw_order_clone(const asw_order *src) {
    asw_order *o = asw_order_new(src->order_id);
    o->shop_id = asw_strdup(src->shop_id);
    o->paid = src->paid;
    o->refunded = src->refunded;
    o->reserved = src->reserved;
    o->prior_success = src->prior_success;
    o->max_event_time = src->max_event_time;
    o->has_deadline = src->has_deadline;
    o->deadline = src->deadline;
    for (size_t i = 0; i < src->n_skus; i++)
        asw_order_put_sku(o, &src->skus[i]);
    for (size_t i = 0; i < src->n_apps; i++)
        asw_order_put_app(o, &src->apps[i]);
    for (size_t i = 0; i < src->n_decided; i++)
        asw_order_put_decided(o, &src->decided[i]);
    for (size_t i = 0; i < src->n_externals; i++)
        asw_order_put_external(o, &src->externals[i]);
    for (size_t i = 0; i < src->n_event_ids; i++)
        asw_order_put_event_id(o, src->event_ids[i]);
    return o;
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool sku_eq(const asw_sku_state *a, const asw_sku_state *b) {
    return str_eq(a->sku_order_id, b->sku_order_id) && a->paid == b->paid &&
           a->refunded == b->refunded && a->reserved == b->reserved &&
           a->refund_successes == b->refund_successes;
}

static bool app_eq(const asw_app *a, const asw_app *b) {
    return str_eq(a->aftersale_id, b->aftersale_id) && str_eq(a->sku_order_id, b->sku_order_id) &&
           str_eq(a->shop_id, b->shop_id) && a->has_type == b->has_type &&
           (!a->has_type || a->type == b->type) && a->state == b->state &&
           a->reserved == b->reserved;
}

static bool decided_eq(const asw_decided *a, const asw_decided *b) {
    return str_eq(a->aftersale_id, b->aftersale_id) && str_eq(a->sku_order_id, b->sku_order_id) &&
           str_eq(a->shop_id, b->shop_id) && str_eq(a->ruleset_version, b->ruleset_version) &&
           str_eq(a->source_topic, b->source_topic) && a->initiator == b->initiator &&
           a->outcome == b->outcome && a->reasons == b->reasons &&
           a->applications_used == b->applications_used &&
           a->applications_limit == b->applications_limit &&
           a->order_remaining == b->order_remaining && a->sku_remaining == b->sku_remaining &&
           a->multi_refund == b->multi_refund && a->sku_prior_refunds == b->sku_prior_refunds &&
           a->event_time == b->event_time && a->source_partition == b->source_partition &&
           a->source_offset == b->source_offset;
}

static bool external_eq(const asw_external *a, const asw_external *b) {
    return str_eq(a->refund_id, b->refund_id) && str_eq(a->sku_order_id, b->sku_order_id) &&
           a->kind == b->kind;
}

bool asw_order_equal(const asw_order *a, const asw_order *b) {
    if (!str_eq(a->order_id, b->order_id) || !str_eq(a->shop_id, b->shop_id) ||
        a->paid != b->paid || a->refunded != b->refunded || a->reserved != b->reserved ||
        a->prior_success != b->prior_success || a->max_event_time != b->max_event_time ||
        a->has_deadline != b->has_deadline || (a->has_deadline && a->deadline != b->deadline) ||
        a->n_skus != b->n_skus || a->n_apps != b->n_apps || a->n_decided != b->n_decided ||
        a->n_externals != b->n_externals || a->n_event_ids != b->n_event_ids)
        return false;
    for (size_t i = 0; i < a->n_skus; i++)
        if (!sku_eq(&a->skus[i], &b->skus[i]))
            return false;
    for (size_t i = 0; i < a->n_apps; i++)
        if (!app_eq(&a->apps[i], &b->apps[i]))
            return false;
    for (size_t i = 0; i < a->n_decided; i++)
        if (!decided_eq(&a->decided[i], &b->decided[i]))
            return false;
    for (size_t i = 0; i < a->n_externals; i++)
        if (!external_eq(&a->externals[i], &b->externals[i]))
            return false;
    for (size_t i = 0; i < a->n_event_ids; i++)
        if (strcmp(a->event_ids[i], b->event_ids[i]) != 0)
            return false;
    return true;
}

/* ---- queries ---- */

/* paid - (refunded + reserved): exact, by the invariant refund_overflows()
 * keeps (refunded + reserved fits int64, paid >= 0). */
int64_t asw_order_remaining(const asw_order *o) {
    return o->paid - (o->refunded + o->reserved);
}

int64_t asw_sku_remaining(const asw_sku_state *s) {
    return s->paid - (s->refunded + s->reserved);
}

const asw_sku_state *asw_order_find_sku(const asw_order *o, const char *id) {
    return find_sku(o, id);
}

const asw_app *asw_order_find_app(const asw_order *o, const char *id) {
    return find_app(o, id);
}

int32_t asw_order_applications_used(const asw_order *o) {
    return (int32_t)o->n_apps;
}

/* ---- applying events ---- */

static bool is_money_free_type(asw_aftersale_type t) {
    return t == ASW_AT_EXCHANGE || t == ASW_AT_RESHIP || t == ASW_AT_REPAIR;
}

static bool is_shipped_status(asw_order_status s) {
    return s == ASW_OS_PARTIALLY_SHIPPED || s == ASW_OS_SHIPPED || s == ASW_OS_COMPLETED;
}

static bool too_long(const char *s) {
    return strlen(s) > ASW_TEXT_MAX;
}

/* Does an application carry a text field longer than ASW_TEXT_MAX bytes?
 * Such a one is INVALID_REQUEST and is not remembered, so that no string in
 * a state is longer than that. */
static bool application_oversized(const asw_event *ev) {
    return too_long(ev->event_id) || too_long(ev->order_id) || too_long(ev->aftersale_id) ||
           too_long(ev->sku_order_id) || too_long(ev->shop_id);
}

/* Rule 1: is the application malformed? Checked on the event alone. */
static bool application_invalid(const asw_event *ev) {
    const asw_order_snapshot *s = &ev->order;
    if (ev->amount < 0 || s->order_paid_amount < 0 || s->sku_paid_amount < 0)
        return true;
    if (s->sku_paid_amount > s->order_paid_amount || ev->amount > s->sku_paid_amount)
        return true;
    if (!ev->event_id[0] || !ev->order_id[0] || !ev->aftersale_id[0] || !ev->sku_order_id[0] ||
        !ev->shop_id[0] || application_oversized(ev))
        return true;
    return is_money_free_type(ev->aftersale_type) && ev->amount != 0;
}

/* Another counted application on the same sub-order still OPEN? */
static bool open_application_on_sku(const asw_order *o, const char *sku, const char *self) {
    for (size_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (a->state == ASW_APP_OPEN && strcmp(a->sku_order_id, sku) == 0 &&
            strcmp(a->aftersale_id, self) != 0)
            return true;
    }
    return false;
}

#define REASON(r) ((asw_reason_set)(1u << (r)))

/*
 * Rules 2-10 of SPEC section 4, in order, on a valid application whose paid
 * amounts are already booked. Every reason that applies is collected.
 */
static asw_reason_set decide(const asw_order *o, const asw_sku_state *sku, const asw_ruleset *rules,
                             const asw_event *ev) {
    const asw_order_snapshot *s = &ev->order;
    asw_reason_set r = 0;

    /* 2: a cancelled order takes no application. */
    if (s->order_status == ASW_OS_CANCELLED)
        r |= REASON(ASW_R_ORDER_STATUS_NOT_ELIGIBLE);

    /* 3: before shipping, only a full refund of what remains (§1.1). */
    if ((s->order_status == ASW_OS_PENDING_PAYMENT || s->order_status == ASW_OS_STOCKING) &&
        !(ev->aftersale_type == ASW_AT_REFUND_ONLY_UNSHIPPED &&
          ev->amount == asw_sku_remaining(sku)))
        r |= REASON(ASW_R_PRE_SHIPMENT_FULL_REFUND_ONLY);

    /* 4: the after-sale period is over, by the event's own time. */
    if (s->has_deadline && ev->event_time > s->aftersale_deadline)
        r |= REASON(ASW_R_AFTERSALE_PERIOD_EXPIRED);

    /* 5: one open application per sub-order. */
    if (open_application_on_sku(o, ev->sku_order_id, ev->aftersale_id))
        r |= REASON(ASW_R_APPLICATION_IN_PROGRESS);

    /* 6: the per-order quota, once goods shipped (§1.2 rule 1). An
     * application a lifecycle event already counted is not counted twice. */
    int32_t others = asw_order_applications_used(o) - (find_app(o, ev->aftersale_id) ? 1 : 0);
    if (is_shipped_status(s->order_status) && others >= asw_ruleset_limit(rules))
        r |= REASON(ASW_R_APPLICATION_LIMIT_REACHED);

    /* 7-9: the multi-refund conditions, once something succeeded. */
    if (o->prior_success) {
        if (!asw_ruleset_shop_enabled(rules, ev->shop_id))
            r |= REASON(ASW_R_MULTI_REFUND_NOT_ENABLED);
        if (s->goods_type == ASW_GT_VIRTUAL || s->cross_border)
            r |= REASON(ASW_R_NOT_DOMESTIC_PHYSICAL_GOODS);
        if (asw_order_remaining(o) <= 0)
            r |= REASON(ASW_R_NO_REFUNDABLE_AMOUNT);
    }

    /* 10: never reserve more than remains, on the sub-order or the order. */
    if (ev->amount > 0 &&
        (ev->amount > asw_sku_remaining(sku) || ev->amount > asw_order_remaining(o)))
        r |= REASON(ASW_R_AMOUNT_EXCEEDS_REFUNDABLE);

    return r;
}

static void fill_decision(asw_decision *d, const asw_order *o, const asw_decided *k) {
    d->aftersale_id = k->aftersale_id;
    d->order_id = o->order_id;
    d->sku_order_id = k->sku_order_id;
    d->shop_id = k->shop_id;
    d->initiator = k->initiator;
    d->outcome = k->outcome;
    d->reasons = k->reasons;
    d->applications_used = k->applications_used;
    d->applications_limit = k->applications_limit;
    d->order_remaining = k->order_remaining;
    d->sku_remaining = k->sku_remaining;
    d->multi_refund = k->multi_refund;
    d->sku_prior_refunds = k->sku_prior_refunds;
    d->duplicate = false;
    d->event_time = k->event_time;
    d->ruleset_version = k->ruleset_version;
    d->source_topic = k->source_topic;
    d->source_partition = k->source_partition;
    d->source_offset = k->source_offset;
}

/* The ledger after a change, on the record's sub-order. */
static void fill_record(asw_refund_record *r, const asw_order *o, const asw_sku_state *sku,
                        asw_record_status status, int64_t amount, const asw_event *ev) {
    r->order_id = o->order_id;
    r->sku_order_id = sku->sku_order_id;
    r->status = status;
    r->amount = amount;
    r->order_paid = o->paid;
    r->order_refunded = o->refunded;
    r->order_reserved = o->reserved;
    r->order_remaining = asw_order_remaining(o);
    r->sku_paid = sku->paid;
    r->sku_refunded = sku->refunded;
    r->sku_reserved = sku->reserved;
    r->sku_remaining = asw_sku_remaining(sku);
    r->sku_refunds = sku->refund_successes;
    r->over_refund = o->refunded > o->paid || sku->refunded > sku->paid;
    r->event_time = ev->event_time;
}

/* Origin, type and shop of a record about a counted application. */
static void record_from_app(asw_refund_record *r, const asw_order *o, const asw_app *a) {
    r->record_id = a->aftersale_id;
    r->origin = ASW_ORIGIN_APPLICATION;
    r->has_aftersale_type = a->has_type;
    r->aftersale_type = a->type;
    r->shop_id = a->shop_id ? a->shop_id : o->shop_id;
}

/* Book the paid amounts an event carries (SPEC: the latest valid event). */
static asw_sku_state *book_paid(asw_order *o, const asw_event *ev) {
    asw_sku_state *sku = get_sku(o, ev->sku_order_id);
    bool snapshot = ev->type == ASW_EV_APPLIED;
    o->paid = snapshot ? ev->order.order_paid_amount : ev->order_paid_amount;
    sku->paid = snapshot ? ev->order.sku_paid_amount : ev->sku_paid_amount;
    return sku;
}

static void release(asw_order *o, asw_app *a) {
    asw_sku_state *sku = get_sku(o, a->sku_order_id);
    o->reserved -= a->reserved;
    sku->reserved -= a->reserved;
    a->reserved = 0;
}

/* A counted application learnt of from a lifecycle event only. */
static asw_app *add_unmatched_app(asw_order *o, const asw_event *ev, asw_app_state state) {
    asw_app *a = add_app(o, ev->aftersale_id);
    a->sku_order_id = asw_strdup(ev->sku_order_id);
    a->state = state;
    return a;
}

static void touch(asw_order *o, const asw_event *ev, asw_result *out) {
    if (ev->event_time > o->max_event_time)
        o->max_event_time = ev->event_time;
    remember_event(o, ev->event_id);
    out->state_changed = true;
}

static void apply_application(asw_order *o, const asw_ruleset *rules, const asw_event *ev,
                              const asw_source *src, asw_result *out) {
    bool oversized = application_oversized(ev);
    asw_decided *prev =
        ev->aftersale_id[0] && !oversized ? find_decided(o, ev->aftersale_id) : NULL;
    if (prev) {
        /* Replay or redelivery: the original decision, flagged. */
        out->has_decision = true;
        fill_decision(&out->decision, o, prev);
        out->decision.duplicate = true;
        return;
    }
    if (ev->event_id[0] && !oversized && event_seen(o, ev->event_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }

    asw_reason_set reasons;
    asw_sku_state *sku;
    if (application_invalid(ev)) {
        reasons = REASON(ASW_R_INVALID_REQUEST); /* and nothing else is checked */
        sku = find_sku(o, ev->sku_order_id);
    } else {
        sku = book_paid(o, ev);
        replace_str(&o->shop_id, ev->shop_id);
        o->has_deadline = ev->order.has_deadline;
        o->deadline = ev->order.aftersale_deadline;
        reasons = decide(o, sku, rules, ev);
    }

    bool accepted = reasons == 0;
    if (accepted && ev->initiator == ASW_INIT_BUYER) {
        asw_app *a = add_app(o, ev->aftersale_id);
        /* NULL: a lifecycle event already counted it (unmatched); its
         * lifecycle is over, so nothing is reserved again. */
        if (a) {
            a->sku_order_id = asw_strdup(ev->sku_order_id);
            a->shop_id = asw_strdup(ev->shop_id);
            a->has_type = true;
            a->type = ev->aftersale_type;
            a->state = ASW_APP_OPEN;
            a->reserved = ev->amount;
            o->reserved += ev->amount;
            sku->reserved += ev->amount;
            out->has_record = true;
            fill_record(&out->record, o, sku, ASW_RS_PENDING, ev->amount, ev);
            record_from_app(&out->record, o, a);
        }
    }

    asw_decided k = {
        .aftersale_id = ev->aftersale_id,
        .sku_order_id = ev->sku_order_id,
        .shop_id = ev->shop_id,
        .ruleset_version = (char *)asw_ruleset_version(rules),
        .source_topic = (char *)(src && src->topic ? src->topic : ""),
        .initiator = ev->initiator,
        .outcome = accepted ? ASW_OUT_ACCEPTED : ASW_OUT_REJECTED,
        .reasons = reasons,
        .applications_used = asw_order_applications_used(o),
        .applications_limit = asw_ruleset_limit(rules),
        .order_remaining = asw_order_remaining(o),
        .sku_remaining = sku ? asw_sku_remaining(sku) : 0,
        .multi_refund = sku && sku->refund_successes > 0,
        .sku_prior_refunds = sku ? sku->refund_successes : 0,
        .event_time = ev->event_time,
        .source_partition = src ? src->partition : 0,
        .source_offset = src ? src->offset : 0,
    };
    out->has_decision = true;
    if (oversized) {
        /* Too long to keep: decided, but the state does not change. The
         * decision borrows the event's strings and the ruleset's. */
        fill_decision(&out->decision, o, &k);
        return;
    }
    if (ev->aftersale_id[0]) {
        asw_order_put_decided(o, &k);
        fill_decision(&out->decision, o, find_decided(o, ev->aftersale_id));
    } else {
        /* Nothing to key a re-emission on: decided, but not remembered. */
        fill_decision(&out->decision, o, &k);
    }
    touch(o, ev, out);
}

/* Withdrawn and Closed: an OPEN application ends, its reservation freed. */
static void apply_end(asw_order *o, const asw_event *ev, asw_app_state to, asw_record_status rs,
                      asw_result *out) {
    asw_app *a = find_app(o, ev->aftersale_id);
    bool unmatched = a == NULL;
    if (a && a->state != ASW_APP_OPEN) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    int64_t released = 0;
    if (a) {
        released = a->reserved;
        release(o, a);
        a->state = to;
    } else {
        a = add_unmatched_app(o, ev, to);
    }
    asw_sku_state *sku = get_sku(o, a->sku_order_id);
    out->has_record = true;
    fill_record(&out->record, o, sku, rs, released, ev);
    record_from_app(&out->record, o, a);
    out->record.unmatched = unmatched;
    touch(o, ev, out);
}

static void book_refund(asw_order *o, asw_sku_state *sku, int64_t amount) {
    o->refunded += amount;
    sku->refunded += amount;
    if (amount > 0)
        sku->refund_successes++;
    o->prior_success = true;
}

static void apply_succeeded(asw_order *o, const asw_event *ev, asw_result *out) {
    asw_app *a = find_app(o, ev->aftersale_id);
    if (a && a->state == ASW_APP_SUCCEEDED) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    bool unmatched = a == NULL;
    /* Money that moved is a fact: booked even after a withdraw or close. */
    if (a) {
        release(o, a);
        a->state = ASW_APP_SUCCEEDED;
    } else {
        a = add_unmatched_app(o, ev, ASW_APP_SUCCEEDED);
    }
    asw_sku_state *sku = book_paid(o, ev);
    book_refund(o, sku, ev->amount);
    out->has_record = true;
    fill_record(&out->record, o, sku, ASW_RS_SUCCEEDED, ev->amount, ev);
    record_from_app(&out->record, o, a);
    out->record.unmatched = unmatched;
    touch(o, ev, out);
}

static void apply_clawback(asw_order *o, const asw_event *ev, asw_result *out) {
    asw_sku_state *sku = get_sku(o, ev->sku_order_id);
    o->refunded = o->refunded > ev->amount ? o->refunded - ev->amount : 0;
    sku->refunded = sku->refunded > ev->amount ? sku->refunded - ev->amount : 0;

    asw_refund_record *r = &out->record;
    out->has_record = true;
    fill_record(r, o, sku, ASW_RS_CLAWED_BACK, ev->amount, ev);
    const asw_app *a = find_app(o, ev->refund_id);
    const asw_external *x = a ? NULL : find_external(o, ev->refund_id);
    if (a) {
        record_from_app(r, o, a);
    } else if (x) {
        r->record_id = x->refund_id;
        r->origin = ASW_ORIGIN_EXTERNAL;
        r->has_kind = true;
        r->kind = x->kind;
        r->shop_id = o->shop_id;
    } else {
        /* The refund it reverses was never seen; taken as an application's. */
        r->record_id = ev->refund_id;
        r->origin = ASW_ORIGIN_APPLICATION;
        r->shop_id = o->shop_id;
        r->unmatched = true;
    }
    touch(o, ev, out);
}

static void apply_external(asw_order *o, const asw_event *ev, asw_result *out) {
    if (find_external(o, ev->refund_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    asw_external x = {
        .refund_id = ev->refund_id, .sku_order_id = ev->sku_order_id, .kind = ev->kind};
    asw_order_put_external(o, &x);
    if (ev->shop_id[0])
        replace_str(&o->shop_id, ev->shop_id);
    asw_sku_state *sku = book_paid(o, ev);
    book_refund(o, sku, ev->amount);

    asw_refund_record *r = &out->record;
    out->has_record = true;
    fill_record(r, o, sku, ASW_RS_RECORDED, ev->amount, ev);
    r->record_id = find_external(o, ev->refund_id)->refund_id;
    r->origin = ASW_ORIGIN_EXTERNAL;
    r->has_kind = true;
    r->kind = ev->kind;
    r->shop_id = o->shop_id;
    touch(o, ev, out);
}

/* A fact that cannot be booked: returns why, or NULL when it is fine. */
static const char *fact_invalid(const asw_event *ev) {
    if (!ev->event_id[0])
        return "empty event_id";
    if (!ev->order_id[0])
        return "empty order_id";
    if (!ev->sku_order_id[0])
        return "empty sku_order_id";
    const char *id = ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL
                         ? ev->refund_id
                         : ev->aftersale_id;
    if (!id[0])
        return ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL ? "empty refund_id"
                                                                             : "empty aftersale_id";
    if (too_long(ev->event_id) || too_long(ev->order_id) || too_long(ev->sku_order_id) ||
        too_long(id) || (ev->shop_id && too_long(ev->shop_id)))
        return "an id longer than 128 bytes";
    if (ev->amount < 0)
        return "negative amount";
    if (asw_event_carries_paid(ev) && (ev->order_paid_amount < 0 || ev->sku_paid_amount < 0))
        return "negative paid amount";
    return NULL;
}

/* Does refunded + reserved + amount leave int64? */
static bool ledger_overflows(int64_t refunded, int64_t reserved, int64_t amount) {
    int64_t sum;
    return __builtin_add_overflow(refunded, reserved, &sum) ||
           __builtin_add_overflow(sum, amount, &sum);
}

/*
 * Would booking `amount` more break the ledger's invariant, refunded +
 * reserved <= INT64_MAX on the order and on the sub-order? (Only absurd
 * amounts can, but facts are not checked against paid.) The invariant is
 * what makes every remaining = paid - refunded - reserved exact: paid is
 * never negative, so that difference never wraps. Reservations keep it by
 * themselves: an accepted amount is at most what remains.
 */
static bool refund_overflows(const asw_order *o, const char *sku_id, int64_t amount) {
    const asw_sku_state *sku = find_sku(o, sku_id);
    return ledger_overflows(o->refunded, o->reserved, amount) ||
           (sku && ledger_overflows(sku->refunded, sku->reserved, amount));
}

void asw_order_apply(asw_order *o, const asw_ruleset *rules, const asw_event *ev,
                     const asw_source *src, asw_result *out) {
    memset(out, 0, sizeof *out);
    out->status = ASW_APPLY_OK;
    if (ev->type == ASW_EV_APPLIED) {
        apply_application(o, rules, ev, src, out);
        return;
    }
    const char *why = fact_invalid(ev);
    if (why) {
        out->status = ASW_APPLY_INVALID;
        out->error = why;
        return;
    }
    if (event_seen(o, ev->event_id)) {
        out->status = ASW_APPLY_IGNORED;
        return;
    }
    if ((ev->type == ASW_EV_SUCCEEDED || ev->type == ASW_EV_EXTERNAL) &&
        refund_overflows(o, ev->sku_order_id, ev->amount)) {
        out->status = ASW_APPLY_INVALID;
        out->error = "amount overflows the ledger (refunded + reserved above 2^63 - 1 fen)";
        return;
    }
    switch (ev->type) {
    case ASW_EV_WITHDRAWN:
        apply_end(o, ev, ASW_APP_WITHDRAWN, ASW_RS_WITHDRAWN, out);
        break;
    case ASW_EV_CLOSED:
        apply_end(o, ev, ASW_APP_CLOSED, ASW_RS_CLOSED, out);
        break;
    case ASW_EV_SUCCEEDED:
        apply_succeeded(o, ev, out);
        break;
    case ASW_EV_CLAWED_BACK:
        apply_clawback(o, ev, out);
        break;
    case ASW_EV_EXTERNAL:
        apply_external(o, ev, out);
        break;
    default:
        out->status = ASW_APPLY_INVALID;
        out->error = "unknown event type";
        break;
    }
}
