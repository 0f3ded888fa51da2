/*
 * gen.c -- the deterministic event stream generator; see gen.h.
 *
 * Each active order is a small state machine. A step picks one active order
 * at random and lets it emit one event; an order that has used its steps is
 * replaced by a fresh one until `orders` have been started.
 */
#include "asw/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

#define MAX_SKUS    3
#define MAX_PENDING 8
#define MAX_ACTIVE  64

typedef struct gen_app {
    char id[32];
    int sku;
    int64_t amount;
} gen_app;

typedef struct gen_order {
    char id[16];
    char shop[8];
    int n_skus;
    char sku_ids[MAX_SKUS][32];
    int64_t sku_paid[MAX_SKUS];
    int64_t paid;
    asw_order_status status;
    asw_goods_type goods;
    bool cross_border;
    bool has_deadline;
    int64_t deadline;
    int steps_left;
    int next_app;
    gen_app pending[MAX_PENDING]; /* applications that may still end */
    int n_pending;
    char refunded_ids[MAX_PENDING][32]; /* ids a claw-back may name */
    int n_refunded;
    bool has_last;
    asw_event last; /* for redeliveries */
} gen_order;

struct asw_gen {
    uint64_t state;
    int32_t orders_total, orders_started;
    int32_t n_active;
    gen_order active[MAX_ACTIVE];
    int64_t now;
    int64_t next_event;
    int64_t max_gap; /* ms between two events, at most */
    bool complete;   /* every order has a deadline and ends its applications */
};

/* splitmix64: small, fast, and good enough for test data. */
static uint64_t rnd(asw_gen *g) {
    uint64_t z = (g->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int64_t below(asw_gen *g, int64_t n) {
    return n <= 0 ? 0 : (int64_t)(rnd(g) % (uint64_t)n);
}

/* True with probability pct percent. */
static bool chance(asw_gen *g, int pct) {
    return below(g, 100) < pct;
}

static void start_order(asw_gen *g, gen_order *o) {
    if (o->has_last)
        asw_event_clear(&o->last);
    memset(o, 0, sizeof *o);
    int32_t n = g->orders_started++;
    snprintf(o->id, sizeof o->id, "O%06d", n);
    snprintf(o->shop, sizeof o->shop, "s%d", (int)below(g, 10));
    o->n_skus = 1 + (int)below(g, MAX_SKUS);
    for (int i = 0; i < o->n_skus; i++) {
        /* A sub-order id may equal its order id (SPEC glossary). */
        if (o->n_skus == 1 && chance(g, 30))
            memcpy(o->sku_ids[i], o->id, sizeof o->id);
        else
            snprintf(o->sku_ids[i], sizeof o->sku_ids[i], "O%06d-%d", (int)n, i + 1);
        o->sku_paid[i] = 100 * (1 + below(g, 500));
        o->paid += o->sku_paid[i];
    }
    int s = (int)below(g, 100);
    o->status = s < 5    ? ASW_OS_PENDING_PAYMENT
                : s < 15 ? ASW_OS_STOCKING
                : s < 25 ? ASW_OS_PARTIALLY_SHIPPED
                : s < 60 ? ASW_OS_SHIPPED
                : s < 95 ? ASW_OS_COMPLETED
                         : ASW_OS_CANCELLED;
    o->goods = chance(g, 8) ? ASW_GT_VIRTUAL : ASW_GT_PHYSICAL;
    o->cross_border = chance(g, 6);
    o->has_deadline = !chance(g, 10) || g->complete;
    /* Mostly in the future; sometimes already over. */
    o->deadline = g->now + (chance(g, 10) ? -below(g, 86400000) : 1 + below(g, 15 * 86400000LL));
    o->steps_left = 1 + (int)below(g, 14);
}

static void base_event(asw_gen *g, gen_order *o, asw_event *ev, asw_event_type type, int sku) {
    char id[32];
    asw_event_init(ev);
    ev->type = type;
    snprintf(id, sizeof id, "ev-%lld", (long long)g->next_event++);
    ev->event_id = asw_strdup(id);
    ev->order_id = asw_strdup(o->id);
    ev->event_time = g->now;
    ev->sku_order_id = asw_strdup(o->sku_ids[sku]);
    ev->aftersale_id = asw_strdup("");
    ev->refund_id = asw_strdup("");
    ev->shop_id = asw_strdup("");
    ev->order_paid_amount = o->paid;
    ev->sku_paid_amount = o->sku_paid[sku];
}

static void set_str(char **field, const char *v) {
    free(*field);
    *field = asw_strdup(v);
}

static void gen_application(asw_gen *g, gen_order *o, asw_event *ev) {
    int sku = (int)below(g, o->n_skus);
    base_event(g, o, ev, ASW_EV_APPLIED, sku);
    char id[32];
    snprintf(id, sizeof id, "%s-A%d", o->id, o->next_app++);
    set_str(&ev->aftersale_id, id);
    set_str(&ev->shop_id, o->shop);
    ev->initiator = chance(g, 12) ? ASW_INIT_MERCHANT_CARD : ASW_INIT_BUYER;
    ev->aftersale_type = (asw_aftersale_type)below(g, ASW_AT__COUNT);
    bool unshipped = o->status == ASW_OS_PENDING_PAYMENT || o->status == ASW_OS_STOCKING;
    if (unshipped && chance(g, 70))
        ev->aftersale_type = ASW_AT_REFUND_ONLY_UNSHIPPED;
    bool money_free = ev->aftersale_type == ASW_AT_EXCHANGE ||
                      ev->aftersale_type == ASW_AT_RESHIP || ev->aftersale_type == ASW_AT_REPAIR;
    int64_t sp = o->sku_paid[sku];
    if (money_free)
        ev->amount = chance(g, 4) ? 1 + below(g, 100) : 0; /* some invalid */
    else if (unshipped && chance(g, 70))
        ev->amount = sp; /* the full refund, often still the whole remaining */
    else
        ev->amount = chance(g, 50) ? 1 + below(g, sp) : sp / (1 + below(g, 4));
    if (chance(g, 2))
        ev->amount = -1 - below(g, 100);
    ev->order.order_status = o->status;
    ev->order.goods_type = o->goods;
    ev->order.cross_border = o->cross_border;
    ev->order.order_paid_amount = o->paid;
    ev->order.sku_paid_amount = sp;
    if (chance(g, 1))
        ev->order.sku_paid_amount = o->paid + 1; /* invalid */
    ev->order.has_deadline = o->has_deadline;
    ev->order.aftersale_deadline = o->deadline;
    ev->order_paid_amount = ev->order.order_paid_amount;
    ev->sku_paid_amount = ev->order.sku_paid_amount;
    if (chance(g, 1))
        set_str(&ev->shop_id, ""); /* invalid */
    if (ev->initiator == ASW_INIT_BUYER && ev->amount >= 0 && o->n_pending < MAX_PENDING) {
        gen_app *a = &o->pending[o->n_pending++];
        snprintf(a->id, sizeof a->id, "%s", id);
        a->sku = sku;
        a->amount = ev->amount;
    }
}

static void remember_refund(gen_order *o, const char *id) {
    if (o->n_refunded < MAX_PENDING)
        snprintf(o->refunded_ids[o->n_refunded++], sizeof o->refunded_ids[0], "%s", id);
}

/* End a pending application: success, withdraw or close. */
static void gen_end(asw_gen *g, gen_order *o, asw_event *ev) {
    int i = (int)below(g, o->n_pending);
    gen_app a = o->pending[i];
    o->pending[i] = o->pending[--o->n_pending];
    int r = (int)below(g, 100);
    if (r < 55) {
        base_event(g, o, ev, ASW_EV_SUCCEEDED, a.sku);
        ev->amount = chance(g, 80) ? a.amount : a.amount / 2;
        remember_refund(o, a.id);
    } else if (r < 80) {
        base_event(g, o, ev, ASW_EV_WITHDRAWN, a.sku);
    } else {
        base_event(g, o, ev, ASW_EV_CLOSED, a.sku);
        ev->close_reason = (asw_close_reason)below(g, ASW_CR__COUNT);
    }
    set_str(&ev->aftersale_id, a.id);
}

static void gen_external(asw_gen *g, gen_order *o, asw_event *ev) {
    int sku = (int)below(g, o->n_skus);
    base_event(g, o, ev, ASW_EV_EXTERNAL, sku);
    char id[32];
    snprintf(id, sizeof id, "%s-R%d", o->id, o->next_app++);
    set_str(&ev->refund_id, id);
    set_str(&ev->shop_id, o->shop);
    ev->kind = (asw_external_kind)below(g, ASW_EK__COUNT);
    ev->amount = chance(g, 10) ? 0 : 1 + below(g, o->sku_paid[sku] / 2 + 1);
    remember_refund(o, id);
}

static void gen_clawback(asw_gen *g, gen_order *o, asw_event *ev) {
    int sku = (int)below(g, o->n_skus);
    base_event(g, o, ev, ASW_EV_CLAWED_BACK, sku);
    if (o->n_refunded && !chance(g, 15))
        set_str(&ev->refund_id, o->refunded_ids[below(g, o->n_refunded)]);
    else
        set_str(&ev->refund_id, "R-unknown");
    ev->amount = 1 + below(g, o->sku_paid[sku] / 3 + 1);
}

/* A lifecycle event for an application this stream never applied for. */
static void gen_unmatched(asw_gen *g, gen_order *o, asw_event *ev) {
    int sku = (int)below(g, o->n_skus);
    asw_event_type t = chance(g, 60) ? ASW_EV_SUCCEEDED : ASW_EV_WITHDRAWN;
    base_event(g, o, ev, t, sku);
    char id[32];
    snprintf(id, sizeof id, "%s-U%d", o->id, o->next_app++);
    set_str(&ev->aftersale_id, id);
    if (t == ASW_EV_SUCCEEDED)
        ev->amount = below(g, o->sku_paid[sku] + 1);
}

static void step_order(asw_gen *g, gen_order *o, asw_event *ev) {
    if (g->complete && o->steps_left <= 0) {
        gen_end(g, o, ev); /* winding up: its open applications end */
        if (o->has_last)
            asw_event_clear(&o->last);
        asw_event_copy(&o->last, ev);
        o->has_last = true;
        return;
    }
    int r = (int)below(g, 100);
    if (g->complete && !o->has_last) {
        gen_application(g, o, ev); /* the application that tells the deadline */
    } else if (o->has_last && r < 5) {
        asw_event_copy(ev, &o->last); /* a redelivery: same event id */
        ev->event_time = g->now;
    } else if (o->n_pending && r < 45) {
        gen_end(g, o, ev);
    } else if (r < 55) {
        gen_external(g, o, ev);
    } else if (r < 61) {
        gen_clawback(g, o, ev);
    } else if (r < 64) {
        gen_unmatched(g, o, ev);
    } else {
        gen_application(g, o, ev);
    }
    if (o->has_last)
        asw_event_clear(&o->last);
    asw_event_copy(&o->last, ev);
    o->has_last = true;
    o->steps_left--;
}

asw_gen *asw_gen_new(uint64_t seed, int32_t orders, int32_t active) {
    asw_gen *g = asw_calloc(1, sizeof *g);
    g->state = seed;
    g->orders_total = orders;
    g->now = 1700000000000LL;
    g->max_gap = 600000;
    if (active < 1)
        active = 1;
    if (active > MAX_ACTIVE)
        active = MAX_ACTIVE;
    while (g->n_active < active && g->orders_started < g->orders_total)
        start_order(g, &g->active[g->n_active++]);
    return g;
}

void asw_gen_set_complete(asw_gen *g, bool complete) {
    g->complete = complete;
}

void asw_gen_set_max_gap(asw_gen *g, int64_t max_gap_ms) {
    g->max_gap = max_gap_ms > 0 ? max_gap_ms : 1;
}

void asw_gen_destroy(asw_gen *g) {
    if (!g)
        return;
    for (int32_t i = 0; i < MAX_ACTIVE; i++)
        if (g->active[i].has_last)
            asw_event_clear(&g->active[i].last);
    free(g);
}

bool asw_gen_next(asw_gen *g, asw_event *ev) {
    if (g->n_active == 0)
        return false;
    int32_t i = (int32_t)below(g, g->n_active);
    gen_order *o = &g->active[i];
    g->now += 1 + below(g, g->max_gap);
    step_order(g, o, ev);
    if (o->steps_left <= 0 && !(g->complete && o->n_pending > 0)) {
        if (g->orders_started < g->orders_total) {
            start_order(g, o);
        } else {
            if (o->has_last)
                asw_event_clear(&o->last);
            g->active[i] = g->active[--g->n_active];
            memset(&g->active[g->n_active], 0, sizeof g->active[0]);
        }
    }
    return true;
}
