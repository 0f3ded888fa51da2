/*
 * fuzz_processor.c -- one partition's life, driven by the input: frames
 * decoded by the codec and applied to one processor (its store, stream
 * time, retention and change tracking), commits that write the changelog,
 * aborts that roll back, eviction sweeps, redeliveries.
 *
 * Input: two header bytes (the state limits and the ruleset), then
 * operations, each an opcode byte and its operands (see `run_op`):
 *   event      an event described in 9 bytes, encoded by the real encoder
 *              (ids from small pools so that events meet on orders and
 *              applications; amounts and times from tables that hold
 *              2^63 - 1, 2^63 - 2, -2^63 and other edges)
 *   raw        a length byte and that many bytes, as a Kafka value
 *   commit     the changelog of the transaction, then a checkpoint
 *   abort      a rollback
 *   evict      a whole sweep, or one step of a spread one
 *   redeliver  one of the last frames again
 * Missing bytes read as 0.
 *
 * Every frame goes through asw_codec_decode_event and, when it decodes, to
 * asw_processor_apply, as the worker does. Properties:
 *  - after every apply, every order in state keeps the ledger's invariants:
 *    paid, refunded and reserved never negative and refunded + reserved
 *    within int64, reservations equal to what the OPEN applications hold
 *    (per order and per sub-order), the derived counters right;
 *  - an accepted application of a positive amount never leaves refunded +
 *    reserved (+ the amount, for a merchant card, which reserves nothing)
 *    above paid, for the order and the sub-order (SPEC 4's invariant);
 *  - a decision is ACCEPTED exactly when it has no reason, and
 *    INVALID_REQUEST comes alone; a refund record's remaining amounts and
 *    over_refund are what SPEC 5 defines; every output encodes;
 *  - an event that changes nothing leaves its order's encoded state as it
 *    was; a dead letter (invalid, late) changes nothing;
 *  - a second processor that keeps every order decoded and never sweeps
 *    gives the same outputs, byte for byte (freezing and eviction change
 *    no output);
 *  - a rollback restores the state of the last commit: equal orders and the
 *    same encoded state (asw_order_freeze of every order, in id order) and
 *    stream time;
 *  - at each commit, a restore of the compacted changelog written so far
 *    succeeds and equals the live state; at the end so does a restore of
 *    the whole changelog, against the state of the last commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/changelog.h"
#include "asw/codec.h"
#include "asw/jsonl.h"
#include "asw/processor.h"
#include "asw/ruleset.h"
#include "fuzz.h"

#define TOPIC   "aftersale.events"
#define HISTORY 16

static asw_codec *codec;

/* ---- input ---- */

typedef struct input {
    const uint8_t *p, *end;
} input;

static uint8_t next(input *in) {
    return in->p < in->end ? *in->p++ : 0;
}

static bool more(const input *in) {
    return in->p < in->end;
}

/* ---- the changelog topic: what commits wrote ---- */

typedef struct rec {
    uint8_t *key, *value; /* value NULL: a tombstone */
    size_t keylen, len;
} rec;

typedef struct topic {
    rec *recs;
    size_t n, cap;
    size_t *latest; /* per distinct key, its latest record (compaction keeps it) */
    size_t n_keys, cap_keys;
} topic;

static int append(void *opaque, const void *key, size_t keylen, const void *value, size_t len) {
    topic *t = opaque;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->recs = realloc(t->recs, t->cap * sizeof *t->recs);
        FZ_CHECK(t->recs);
    }
    rec *r = &t->recs[t->n];
    r->key = malloc(keylen ? keylen : 1);
    FZ_CHECK(r->key);
    memcpy(r->key, key, keylen);
    r->keylen = keylen;
    r->value = NULL;
    if (value) {
        r->value = malloc(len ? len : 1);
        FZ_CHECK(r->value);
        memcpy(r->value, value, len);
    }
    r->len = len;
    for (size_t k = 0; k < t->n_keys; k++) {
        const rec *o = &t->recs[t->latest[k]];
        if (o->keylen == keylen && memcmp(o->key, key, keylen) == 0) {
            t->latest[k] = t->n++;
            return 0;
        }
    }
    if (t->n_keys == t->cap_keys) {
        t->cap_keys = t->cap_keys ? t->cap_keys * 2 : 64;
        t->latest = realloc(t->latest, t->cap_keys * sizeof *t->latest);
        FZ_CHECK(t->latest);
    }
    t->latest[t->n_keys++] = t->n++;
    return 0;
}

static void topic_free(topic *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->recs[i].key);
        free(t->recs[i].value);
    }
    free(t->recs);
    free(t->latest);
}

static int by_index(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- one run ---- */

typedef struct run {
    asw_ruleset *rules;
    asw_state_limits limits;
    asw_processor *main;      /* the processor under test */
    asw_processor *shadow;    /* every order decoded, never swept */
    asw_processor *committed; /* main as of the last commit */
    asw_buf committed_bytes;  /* its encoded state */
    topic log;
    asw_buf history[HISTORY];
    size_t n_history;
    int64_t time;
    uint32_t events;
    int64_t offset;
    asw_buf out_main, out_shadow, scratch;
} run;

/* ---- the encoded state of a processor ---- */

typedef struct ids {
    char **id;
    size_t n, cap;
} ids;

static void collect_id(asw_order_brief *b, void *opaque) {
    ids *l = opaque;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        FZ_CHECK(l->id);
    }
    l->id[l->n] = strdup(b->order_id);
    FZ_CHECK(l->id[l->n]);
    l->n++;
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stream time, then every order's id and frozen form, in id order. */
static void encode_processor(asw_processor *p, asw_buf *out) {
    ids l = {NULL, 0, 0};
    asw_buf one = ASW_BUF_INIT;
    asw_buf_reset(out);
    int64_t t = asw_processor_has_stream_time(p) ? asw_processor_stream_time(p) : INT64_MIN;
    asw_buf_append(out, &t, sizeof t);
    asw_processor_foreach_brief(p, collect_id, &l);
    if (l.n > 1)
        qsort(l.id, l.n, sizeof *l.id, by_string);
    for (size_t i = 0; i < l.n; i++) {
        const asw_order *o = asw_processor_get(p, l.id[i]);
        FZ_CHECK(o);
        asw_order_freeze(o, TOPIC, &one);
        asw_buf_append(out, &one.len, sizeof one.len);
        asw_buf_append(out, one.data, one.len);
        free(l.id[i]);
    }
    free(l.id);
    asw_buf_free(&one);
}

/* ---- invariants ---- */

static bool sum_fits(int64_t a, int64_t b) {
    int64_t s;
    return !__builtin_add_overflow(a, b, &s);
}

/* The ledger's invariants on one order's state. */
static void check_order(const asw_order *o) {
    FZ_CHECK(o->paid >= 0 && o->refunded >= 0 && o->reserved >= 0);
    FZ_CHECK(sum_fits(o->refunded, o->reserved));
    int64_t open_total = 0;
    uint32_t open = 0, counted = 0;
    for (uint32_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (!a->counted || a->state != ASW_APP_OPEN) {
            FZ_CHECK(a->reserved == 0);
        } else {
            FZ_CHECK(a->reserved >= 0 && sum_fits(open_total, a->reserved));
            FZ_CHECK(asw_order_find_sku(o, asw_order_str(o, a->sku_order_id)) != NULL);
            open_total += a->reserved;
            open++;
        }
        counted += a->counted;
    }
    FZ_CHECK(open == o->n_open && counted == o->n_counted);
    FZ_CHECK(open_total == o->reserved);
    for (uint32_t s = 0; s < o->n_skus; s++) {
        const asw_sku_state *sku = &o->skus[s];
        FZ_CHECK(sku->paid >= 0 && sku->refunded >= 0 && sku->reserved >= 0);
        FZ_CHECK(sum_fits(sku->refunded, sku->reserved) && sku->refund_successes >= 0);
        const char *id = asw_order_str(o, sku->sku_order_id);
        int64_t on_sku = 0;
        int32_t open_on_sku = 0;
        for (uint32_t i = 0; i < o->n_apps; i++) {
            const asw_app *a = &o->apps[i];
            if (a->counted && a->state == ASW_APP_OPEN &&
                strcmp(asw_order_str(o, a->sku_order_id), id) == 0) {
                on_sku += a->reserved;
                open_on_sku++;
            }
        }
        FZ_CHECK(on_sku == sku->reserved && open_on_sku == sku->open_apps);
    }
}

/* refunded + reserved + extra <= paid, without overflow. */
static bool within_paid(int64_t paid, int64_t refunded, int64_t reserved, int64_t extra) {
    return (__int128)refunded + reserved + extra <= paid;
}

static void check_decision(const asw_event *ev, const asw_result *res, const asw_order *o) {
    const asw_decision *d = &res->decision;
    FZ_CHECK(ev->type == ASW_EV_APPLIED);
    FZ_CHECK((d->outcome == ASW_OUT_ACCEPTED) == (d->reasons == 0));
    FZ_CHECK(!(d->reasons & (1u << ASW_R_INVALID_REQUEST)) ||
             d->reasons == (1u << ASW_R_INVALID_REQUEST));
    FZ_CHECK((d->reasons >> ASW_R__COUNT) == 0);
    if (d->duplicate || d->outcome != ASW_OUT_ACCEPTED || ev->amount <= 0)
        return;
    /* Accepted: what it reserved (a buyer's record PENDING) or would have
     * (a card, or an application a lifecycle event counted before) fits. */
    bool reserved = res->has_record && res->record.status == ASW_RS_PENDING;
    int64_t extra = reserved ? 0 : ev->amount;
    const asw_sku_state *sku = o ? asw_order_find_sku(o, ev->sku_order_id) : NULL;
    FZ_CHECK(o && sku);
    FZ_CHECK(within_paid(o->paid, o->refunded, o->reserved, extra));
    FZ_CHECK(within_paid(sku->paid, sku->refunded, sku->reserved, extra));
}

static void check_record(const asw_refund_record *r) {
    FZ_CHECK((__int128)r->order_paid - r->order_refunded - r->order_reserved == r->order_remaining);
    FZ_CHECK((__int128)r->sku_paid - r->sku_refunded - r->sku_reserved == r->sku_remaining);
    FZ_CHECK(r->over_refund ==
             (r->order_refunded > r->order_paid || r->sku_refunded > r->sku_paid));
}

/* ---- applying: both processors, outputs as JSON Lines ---- */

static void out_dead_letter(void *opaque, const char *code, const char *error) {
    asw_buf *b = opaque;
    asw_buf_append_str(b, code);
    asw_buf_append_str(b, ": ");
    asw_buf_append_str(b, error);
    asw_buf_append_str(b, "\n");
}

static void out_decision(void *opaque, const asw_decision *d) {
    asw_jsonl_format_decision(d, opaque);
}

static void out_record(void *opaque, const asw_refund_record *r) {
    asw_jsonl_format_record(r, opaque);
}

static const asw_result_sink sink = {out_dead_letter, out_decision, out_record};

static void apply(run *r, const asw_event *ev) {
    asw_source src = {TOPIC, 0, r->offset};
    asw_buf before = ASW_BUF_INIT, after = ASW_BUF_INIT;
    const asw_order *o = asw_processor_get(r->main, ev->order_id);
    bool had = o != NULL;
    if (had)
        asw_order_freeze(o, TOPIC, &before);

    asw_result res;
    asw_processor_apply(r->main, ev, &src, &res);
    FZ_CHECK(res.status == ASW_APPLY_OK || !res.state_changed);
    FZ_CHECK(res.status != ASW_APPLY_INVALID || (res.error && !res.has_decision));
    FZ_CHECK(res.status != ASW_APPLY_LATE || !res.has_decision);
    asw_buf_reset(&r->out_main);
    asw_result_dispatch(&res, &sink, &r->out_main);
    if (res.has_decision) {
        FZ_CHECK(asw_codec_encode_decision(codec, &res.decision, &r->scratch) == ASW_CODEC_OK);
    }
    if (res.has_record) {
        check_record(&res.record);
        FZ_CHECK(asw_codec_encode_record(codec, &res.record, &r->scratch) == ASW_CODEC_OK);
    }
    o = asw_processor_get(r->main, ev->order_id);
    if (res.has_decision)
        check_decision(ev, &res, o);
    if (o) {
        check_order(o);
        if (!res.state_changed) {
            /* Unchanged: it was there, as it was (an order created for an
             * event that booked nothing is not kept). */
            FZ_CHECK(had);
            asw_order_freeze(o, TOPIC, &after);
            FZ_CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
        }
    }

    asw_processor_apply(r->shadow, ev, &src, &res);
    asw_buf_reset(&r->out_shadow);
    asw_result_dispatch(&res, &sink, &r->out_shadow);
    FZ_CHECK(r->out_main.len == r->out_shadow.len &&
             memcmp(r->out_main.data, r->out_shadow.data, r->out_main.len) == 0);
    asw_buf_free(&before);
    asw_buf_free(&after);
}

/* A Kafka value: decoded as the worker decodes it, applied when it decodes
 * (the worker dead-letters it otherwise), and kept for a redelivery. */
static void feed(run *r, const uint8_t *frame, size_t len, bool keep) {
    if (keep) {
        asw_buf *h = &r->history[r->n_history++ % HISTORY];
        asw_buf_reset(h);
        asw_buf_append(h, frame, len);
    }
    asw_event ev;
    char err[256];
    if (asw_codec_decode_event(codec, frame, len, &ev, err, sizeof err) == ASW_CODEC_OK) {
        apply(r, &ev);
        asw_event_clear(&ev);
    }
    r->offset++;
}

/* ---- building an event from 9 bytes ---- */

static int64_t add_sat(int64_t a, int64_t b) {
    int64_t s;
    if (!__builtin_add_overflow(a, b, &s))
        return s;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

static void set(char **field, const char *s) {
    free(*field);
    *field = strdup(s);
    FZ_CHECK(*field);
}

static void build_event(run *r, input *in, asw_event *ev) {
    /* The longest id an event may carry, and one byte more. */
    static char longest[ASW_TEXT_MAX + 1], too_long[ASW_TEXT_MAX + 2];
    if (!longest[0]) {
        memset(longest, 'O', ASW_TEXT_MAX);
        memset(too_long, 'A', ASW_TEXT_MAX + 1);
    }
    const char *const orders[4] = {"O1", "O2", "O3", longest};
    const char *const app_ids[8] = {"A1", "A2", "A3", "A4", "R1", "R2", "", too_long};
    static const char *const shops[4] = {"s1", "s2", "s3", ""};
    uint8_t b[FZ_EVENT_BYTES];
    for (int i = 0; i < FZ_EVENT_BYTES; i++)
        b[i] = next(in);

    asw_event_init(ev);
    ev->type = (asw_event_type)(b[0] % ASW_EV__COUNT);
    const char *order = orders[(b[0] / ASW_EV__COUNT) % 4];
    set(&ev->order_id, order);
    const char *id = app_ids[b[1] & 7];
    bool refund = ev->type == ASW_EV_CLAWED_BACK || ev->type == ASW_EV_EXTERNAL;
    set(&ev->aftersale_id, refund ? "" : id);
    set(&ev->refund_id, refund ? id : "");
    char sku[256];
    static const char *const sku_suffix[4] = {"-1", "-2", "", NULL};
    const char *suffix = sku_suffix[(b[1] >> 3) & 3];
    snprintf(sku, sizeof sku, "%s%s", suffix ? order : "", suffix ? suffix : "");
    set(&ev->sku_order_id, sku);
    bool has_shop = ev->type == ASW_EV_APPLIED || ev->type == ASW_EV_EXTERNAL;
    set(&ev->shop_id, has_shop ? shops[(b[1] >> 5) & 3] : "");

    ev->initiator = (asw_initiator)(b[2] & 1);
    ev->aftersale_type = (asw_aftersale_type)(((b[2] >> 1) & 7) % ASW_AT__COUNT);
    ev->close_reason = (asw_close_reason)(((b[2] >> 4) & 3) % ASW_CR__COUNT);
    ev->kind = (asw_external_kind)((b[2] >> 6) & 3);
    ev->order.order_status = (asw_order_status)((b[3] & 7) % ASW_OS__COUNT);
    ev->order.goods_type = (asw_goods_type)((b[3] >> 3) & 1);
    ev->order.cross_border = (b[3] >> 4) & 1;

    ev->amount = fz_amounts[b[4] % 32];
    int64_t order_paid = fz_amounts[b[5] % 32], sku_paid = fz_amounts[b[6] % 32];
    if (ev->type == ASW_EV_APPLIED) {
        ev->order.order_paid_amount = order_paid;
        ev->order.sku_paid_amount = sku_paid;
    }
    if (asw_event_carries_paid(ev)) {
        ev->order_paid_amount = order_paid;
        ev->sku_paid_amount = sku_paid;
    }
    int s = b[7] & 15;
    r->time = fz_steps[s].absolute ? fz_steps[s].v : add_sat(r->time, fz_steps[s].v);
    ev->event_time = r->time;
    if (ev->type == ASW_EV_APPLIED && (b[3] >> 5) & 1) {
        ev->order.has_deadline = true;
        ev->order.aftersale_deadline = add_sat(r->time, fz_deadlines[b[8] & 15]);
    }
    char eid[32];
    snprintf(eid, sizeof eid, "e%u", (b[3] >> 6) & 1 ? (unsigned)(b[8] >> 4) : r->events++);
    set(&ev->event_id, eid);
}

/* ---- commits and aborts ---- */

/* Restore records (all of them, or the compacted topic) into a fresh
 * processor: it must succeed and equal `want`. */
static void check_restore(run *r, const asw_processor *want, bool compacted) {
    asw_processor *p = asw_processor_new(r->rules, &r->limits, true);
    asw_changelog_restore *rs = asw_changelog_restore_new(codec, p, TOPIC);
    size_t n = compacted ? r->log.n_keys : r->log.n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    FZ_CHECK(order);
    for (size_t i = 0; i < n; i++)
        order[i] = compacted ? r->log.latest[i] : i;
    if (n > 1)
        qsort(order, n, sizeof *order, by_index);
    for (size_t i = 0; i < n; i++) {
        const rec *c = &r->log.recs[order[i]];
        if (compacted && !c->value)
            continue; /* compaction removed the tombstone too */
        asw_changelog_restore_add(rs, c->key, c->keylen, c->value, c->len, (int64_t)order[i]);
    }
    char err[512] = "";
    int rc = asw_changelog_restore_finish(rs, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "fuzz: restore failed: %s\n", err);
    FZ_CHECK(rc == 0);
    FZ_CHECK(asw_processor_equal(p, want));
    asw_changelog_restore_destroy(rs);
    asw_processor_destroy(p);
    free(order);
}

static void commit(run *r) {
    char err[256] = "";
    FZ_CHECK(asw_changelog_write(codec, r->main, TOPIC, &r->scratch, append, &r->log, err,
                                 sizeof err) == 0);
    asw_processor_checkpoint(r->main);
    asw_processor_checkpoint(r->shadow);
    asw_processor_destroy(r->committed);
    r->committed = asw_processor_clone(r->main);
    encode_processor(r->main, &r->committed_bytes);
    check_restore(r, r->main, true);
}

static void abort_txn(run *r) {
    asw_buf now = ASW_BUF_INIT;
    asw_processor_rollback(r->main);
    asw_processor_rollback(r->shadow);
    FZ_CHECK(asw_processor_equal(r->main, r->committed));
    encode_processor(r->main, &now);
    FZ_CHECK(now.len == r->committed_bytes.len &&
             memcmp(now.data, r->committed_bytes.data, now.len) == 0);
    asw_buf_free(&now);
}

/* ---- the run ---- */

static void run_op(run *r, input *in) {
    uint8_t op = next(in);
    switch (op & 7) {
    case FZ_OP_RAW: {
        size_t len = next(in);
        size_t have = (size_t)(in->end - in->p);
        if (len > have)
            len = have;
        feed(r, in->p, len, true);
        in->p += len;
        break;
    }
    case FZ_OP_COMMIT:
        commit(r);
        break;
    case FZ_OP_ABORT:
        abort_txn(r);
        break;
    case FZ_OP_MORE:
        switch ((op >> 3) & 3) {
        case FZ_MORE_EVICT:
            asw_processor_evict(r->main);
            FZ_CHECK(asw_processor_evict(r->main) == 0); /* nothing closed is left */
            break;
        case FZ_MORE_EVICT_STEP:
            asw_processor_evict_step(r->main, 1 + (op >> 5));
            break;
        default: /* FZ_MORE_REDELIVER */
            if (r->n_history > 0) {
                size_t n = r->n_history < HISTORY ? r->n_history : HISTORY;
                asw_buf copy = ASW_BUF_INIT;
                asw_buf_append(&copy, r->history[(op >> 5) % n].data,
                               r->history[(op >> 5) % n].len);
                feed(r, copy.data, copy.len, false);
                asw_buf_free(&copy);
            }
            break;
        }
        break;
    default: { /* FZ_OP_EVENT and the three codes after it */
        asw_event ev;
        build_event(r, in, &ev);
        FZ_CHECK(asw_codec_encode_event(codec, &ev, &r->scratch) == ASW_CODEC_OK);
        asw_event_clear(&ev);
        asw_buf frame = ASW_BUF_INIT;
        asw_buf_append(&frame, r->scratch.data, r->scratch.len);
        feed(r, frame.data, frame.len, true);
        asw_buf_free(&frame);
        break;
    }
    }
}

static void setup(run *r, uint8_t h0, uint8_t h1) {
    static const int64_t retention[4] = {3600000, FZ_DAY, 90 * FZ_DAY, 1};
    static const int64_t max_step[4] = {3600000, 0, 1000, INT64_MAX};
    static const size_t decoded[4] = {0, 1, 3, 16384};
    static const char *const shops[4] = {"*", "s1", "", "s1,s3"};
    memset(r, 0, sizeof *r);
    r->rules = asw_ruleset_new();
    FZ_CHECK(asw_ruleset_set_limit(r->rules, 1 + (h1 & 7)) == 0);
    FZ_CHECK(asw_ruleset_set_shops(r->rules, shops[(h1 >> 3) & 3]) == 0);
    FZ_CHECK(asw_ruleset_set_percent(r->rules, (h1 >> 5) & 1 ? 50 : 0) == 0);
    r->limits.retention_ms = retention[h0 & 3];
    r->limits.max_step_ms = max_step[(h0 >> 2) & 3];
    r->limits.decoded_orders = decoded[(h0 >> 4) & 3];
    r->main = asw_processor_new(r->rules, &r->limits, true);
    asw_state_limits all = r->limits;
    all.decoded_orders = SIZE_MAX;
    r->shadow = asw_processor_new(r->rules, &all, true);
    asw_processor_set_topic(r->main, TOPIC);
    asw_processor_set_topic(r->shadow, TOPIC);
    r->committed = asw_processor_clone(r->main);
    encode_processor(r->main, &r->committed_bytes);
    r->time = 1700000000000;
}

static void teardown(run *r) {
    asw_processor_destroy(r->main);
    asw_processor_destroy(r->shadow);
    asw_processor_destroy(r->committed);
    asw_ruleset_destroy(r->rules);
    topic_free(&r->log);
    for (int i = 0; i < HISTORY; i++)
        asw_buf_free(&r->history[i]);
    asw_buf_free(&r->committed_bytes);
    asw_buf_free(&r->out_main);
    asw_buf_free(&r->out_shadow);
    asw_buf_free(&r->scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!codec)
        codec = fz_codec_new(true);
    input in = {data, data + size};
    run r;
    uint8_t h0 = next(&in), h1 = next(&in);
    setup(&r, h0, h1);
    while (more(&in))
        run_op(&r, &in);
    check_restore(&r, r.committed, false);
    teardown(&r);
    return 0;
}
