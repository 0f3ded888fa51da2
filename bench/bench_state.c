/*
 * bench_state.c -- the per-order state (issue 6), each figure beside the
 * baseline it is judged against, measured in the same run:
 *
 *   busy       one order fed N events (withdrawals of N distinct unseen
 *              applications, ids ascending then descending; N card
 *              checks), events/s; baseline: N events of fresh orders
 *              (one application each). Target: within 2x of the baseline.
 *   memory     RSS per live order with M orders of the `generate` mix held
 *              (no eviction), the default state.cache.orders decoded and the
 *              others frozen, and events/s; baseline: the same with every
 *              order decoded. Target: at most 400 bytes per order.
 *   changelog  bytes written to the changelog per input event, key + value
 *              + Kafka's per-record overhead, committing every C events;
 *              baseline: the whole order's state per changed order per
 *              commit (the Avro OrderState earlier versions wrote).
 *              Target: half the baseline or less.
 *   restore    orders restored per second from those records, in process
 *              (decode + rebuild; the broker's share is measured by
 *              bench/restore_kafka.py); baseline: decoding the Avro
 *              OrderState records.
 *   flat       ever-new orders over D days of event time through a
 *              processor with the default retention, swept every commit
 *              (the generator's complete lives: every order has a deadline
 *              and its applications end, or SPEC 7 would keep it forever):
 *              orders held and RSS at a quarter of the way and at the end.
 *              Target: the end within 20% of the quarter.
 *
 *   fill       (for bench/restore_kafka.py) writes the changelog of N orders
 *              to a real broker, as compaction leaves it.
 *
 * Usage: asw-bench-state [busy N] [memory M] [changelog EVENTS] [flat DAYS]
 *        asw-bench-state fill BROKERS INPUT_TOPIC CHANGELOG_TOPIC ORDERS
 * (no argument: busy 1000000, memory 1000000, changelog 500000, flat 480: at
 * a quarter of 480 days the 90-day retention past deadlines of up to 15 days
 * has reached its steady state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asw/buf.h"
#include "asw/changelog.h"
#include "asw/codec.h"
#include "asw/config.h"
#include "asw/gen.h"
#include "asw/kafka.h"
#include "asw/ledger.h"
#include "asw/processor.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static asw_ruleset *rules;
static const asw_state_limits forever = {
    .retention_ms = INT64_MAX / 4, .max_step_ms = 3600000, .decoded_orders = 16384};

static asw_event base_event(asw_event_type type, const char *order_id, int64_t t) {
    asw_event ev;
    asw_event_init(&ev);
    ev.type = type;
    ev.order_id = strdup(order_id);
    ev.event_id = strdup("");
    ev.aftersale_id = strdup("");
    ev.refund_id = strdup("");
    ev.sku_order_id = strdup("S1");
    ev.shop_id = strdup("s1");
    ev.event_time = t;
    ev.order.order_status = ASW_OS_SHIPPED;
    ev.order.order_paid_amount = ev.order.sku_paid_amount = 100000;
    ev.order_paid_amount = ev.sku_paid_amount = 100000;
    return ev;
}

static void set(char **field, const char *v) {
    free(*field);
    *field = strdup(v);
}

/* Apply every event of g; returns how many. */
static long feed_all(asw_processor *p, asw_gen *g, asw_source *src) {
    asw_event ev;
    long n = 0;
    while (asw_gen_next(g, &ev)) {
        asw_result res;
        asw_processor_apply(p, &ev, src, &res);
        asw_event_clear(&ev);
        src->offset++;
        n++;
    }
    return n;
}

/* ---- busy ---- */

typedef enum { BUSY_FRESH, BUSY_ASC, BUSY_DESC, BUSY_CARDS } busy_kind;

/* Events/s of n events of one kind, through a processor as the worker runs
 * it (change tracking, a commit every 4000 events). */
static double run_busy(busy_kind kind, long n) {
    asw_processor *p = asw_processor_new(rules, &forever, true);
    asw_source src = {"events", 0, 0};
    char id[48], eid[48];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        long k = kind == BUSY_DESC ? n - 1 - i : i;
        asw_event ev;
        switch (kind) {
        case BUSY_FRESH:
            snprintf(id, sizeof id, "O%09ld", k);
            ev = base_event(ASW_EV_APPLIED, id, 1700000000000 + i);
            snprintf(id, sizeof id, "A%09ld", k);
            set(&ev.aftersale_id, id);
            ev.amount = 100;
            break;
        case BUSY_CARDS:
            ev = base_event(ASW_EV_APPLIED, "BUSY", 1700000000000 + i);
            snprintf(id, sizeof id, "C%09ld", k);
            set(&ev.aftersale_id, id);
            ev.initiator = ASW_INIT_MERCHANT_CARD;
            ev.amount = 100;
            break;
        default:
            ev = base_event(ASW_EV_WITHDRAWN, "BUSY", 1700000000000 + i);
            snprintf(id, sizeof id, "A%09ld", k);
            set(&ev.aftersale_id, id);
            break;
        }
        snprintf(eid, sizeof eid, "e%09ld", k);
        set(&ev.event_id, eid);
        asw_result res;
        asw_processor_apply(p, &ev, &src, &res);
        asw_event_clear(&ev);
        src.offset++;
        if (i % 4000 == 3999) {
            /* What a commit does: read the changes, then forget them. */
            size_t nc = asw_processor_changed_count(p);
            for (size_t c = 0; c < nc; c++)
                (void)asw_processor_changed_at(p, c);
            asw_processor_checkpoint(p);
        }
    }
    double dt = now_s() - t0;
    asw_processor_destroy(p);
    return (double)n / dt;
}

static void bench_busy(long n) {
    double fresh = run_busy(BUSY_FRESH, n);
    printf("busy      %ld events: fresh orders (baseline) %.0f events/s\n", n, fresh);
    const char *names[] = {"", "one order, ascending ids ", "one order, descending ids",
                           "one order, card checks    "};
    for (int k = BUSY_ASC; k <= BUSY_CARDS; k++) {
        double r = run_busy((busy_kind)k, n);
        printf("          %s %10.0f events/s  x%.2f of the baseline (target >= x0.50)\n", names[k],
               r, r / fresh);
    }
}

/* ---- memory ---- */

/* RSS per live order and events/s with `decoded` orders kept decoded
 * (SIZE_MAX: none frozen). */
static void memory_run(long orders, size_t decoded, double *per_order, double *rate, size_t *live) {
    long before = rss_bytes();
    asw_state_limits limits = forever;
    limits.decoded_orders = decoded;
    asw_processor *p = asw_processor_new(rules, &limits, false);
    asw_gen *g = asw_gen_new(42, (int32_t)orders, 64);
    asw_source src = {"events", 0, 0};
    double t0 = now_s();
    long events = feed_all(p, g, &src);
    double dt = now_s() - t0;
    *live = asw_processor_order_count(p);
    *per_order = (double)(rss_bytes() - before) / (double)*live;
    *rate = (double)events / dt;
    asw_gen_destroy(g);
    asw_processor_destroy(p);
}

static void bench_memory(long orders) {
    /* Each in a process of its own, the baseline first. */
    int fds[2];
    double r[2][2];
    size_t live = 0;
    for (int k = 0; k < 2; k++) {
        if (pipe(fds) != 0)
            exit(1);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            double v[2];
            memory_run(orders, k == 0 ? SIZE_MAX : forever.decoded_orders, &v[0], &v[1], &live);
            if (write(fds[1], v, sizeof v) != (ssize_t)sizeof v ||
                write(fds[1], &live, sizeof live) != (ssize_t)sizeof live)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        if (read(fds[0], r[k], sizeof r[k]) != (ssize_t)sizeof r[k] ||
            read(fds[0], &live, sizeof live) != (ssize_t)sizeof live)
            exit(1);
        close(fds[0]);
        waitpid(pid, NULL, 0);
    }
    printf("memory    %zu live orders of the generate mix: every order decoded (baseline) %.0f "
           "bytes per order, %.0f events/s; frozen but the %zu most recent: %.0f bytes per order "
           "(x%.2f, target <= 400), %.0f events/s (x%.2f)\n",
           live, r[0][0], r[0][1], forever.decoded_orders, r[1][0], r[1][0] / r[0][0], r[1][1],
           r[1][1] / r[0][1]);
}

/* ---- changelog and restore ---- */

#define RECORD_OVERHEAD 8 /* Kafka record: attributes, deltas, lengths, headers */

typedef struct sink {
    long records, bytes;
    long by_kind[256], n_by_kind[256]; /* by the record kind byte (this version's records) */
    asw_buf *keep_keys, *keep_values;  /* every record, for the restore */
    asw_buf *lens;
} sink;

static void keep(sink *s, const void *key, size_t keylen, const void *value, size_t len) {
    s->records++;
    s->bytes += (long)(keylen + len + RECORD_OVERHEAD);
    unsigned char kind = value && len > 1 && ((const uint8_t *)value)[0] == 0xA5
                             ? ((const uint8_t *)value)[1]
                             : (value ? '?' : 'T');
    s->by_kind[kind] += (long)(keylen + len + RECORD_OVERHEAD);
    s->n_by_kind[kind]++;
    if (!s->keep_keys)
        return;
    uint32_t kl = (uint32_t)keylen, vl = value ? (uint32_t)len : UINT32_MAX;
    asw_buf_append(s->lens, &kl, sizeof kl);
    asw_buf_append(s->lens, &vl, sizeof vl);
    asw_buf_append(s->keep_keys, key, keylen);
    if (value)
        asw_buf_append(s->keep_values, value, len);
}

static int emit(void *opaque, const void *key, size_t keylen, const void *value, size_t len) {
    keep(opaque, key, keylen, value, len);
    return 0;
}

static double restore_rate(asw_codec *codec, const sink *s, size_t *orders) {
    double t0 = now_s();
    asw_processor *p = asw_processor_new(rules, &forever, true);
    asw_changelog_restore *r = asw_changelog_restore_new(codec, p, "aftersale.events");
    const uint32_t *lens = (const uint32_t *)s->lens->data;
    size_t n = s->lens->len / (2 * sizeof *lens), ko = 0, vo = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t kl = lens[2 * i], vl = lens[2 * i + 1];
        const void *v = vl == UINT32_MAX ? NULL : s->keep_values->data + vo;
        asw_changelog_restore_add(r, s->keep_keys->data + ko, kl, v, vl == UINT32_MAX ? 0 : vl,
                                  (int64_t)i);
        ko += kl;
        vo += vl == UINT32_MAX ? 0 : vl;
    }
    char err[256];
    if (asw_changelog_restore_finish(r, err, sizeof err) != 0)
        fprintf(stderr, "restore failed: %s\n", err);
    asw_changelog_restore_destroy(r);
    *orders = asw_processor_order_count(p);
    double dt = now_s() - t0;
    asw_processor_destroy(p);
    return (double)*orders / dt;
}

/* `ways` generators of 64 active orders each, taken in turn: a stream with
 * 64 x ways orders active at once (order ids prefixed by the generator). */
typedef struct mix {
    asw_gen **g;
    int ways, next;
} mix;

static mix mix_new(int ways, long events) {
    mix m = {calloc((size_t)ways, sizeof(asw_gen *)), ways, 0};
    for (int i = 0; i < ways; i++)
        m.g[i] = asw_gen_new(7 + (uint64_t)i, (int32_t)(events / 7 / ways + 64), 64);
    return m;
}

static bool mix_next(mix *m, asw_event *ev) {
    for (int tries = 0; tries < m->ways; tries++) {
        int i = m->next;
        m->next = (m->next + 1) % m->ways;
        if (asw_gen_next(m->g[i], ev)) {
            if (m->ways > 1) {
                char id[64];
                snprintf(id, sizeof id, "g%03d-%s", i, ev->order_id);
                set(&ev->order_id, id);
            }
            return true;
        }
    }
    return false;
}

static void mix_free(mix *m) {
    for (int i = 0; i < m->ways; i++)
        asw_gen_destroy(m->g[i]);
    free(m->g);
}

static void bench_changelog(asw_codec *codec, long events, long commit_every, int ways) {
    asw_buf k = ASW_BUF_INIT, v = ASW_BUF_INIT, l = ASW_BUF_INIT;
    asw_buf lk = ASW_BUF_INIT, lv = ASW_BUF_INIT, ll = ASW_BUF_INIT;
    sink now = {.keep_keys = &k, .keep_values = &v, .lens = &l};
    sink legacy = {.keep_keys = &lk, .keep_values = &lv, .lens = &ll};
    asw_processor *p = asw_processor_new(rules, &forever, true);
    mix g = mix_new(ways, events);
    asw_source src = {"aftersale.events", 0, 0};
    asw_buf scratch = ASW_BUF_INIT;
    char err[256];
    asw_event ev;
    long n = 0;
    while (n < events && mix_next(&g, &ev)) {
        asw_result res;
        asw_processor_apply(p, &ev, &src, &res);
        asw_event_clear(&ev);
        src.offset++;
        if (++n % commit_every == 0) {
            asw_changelog_write(codec, p, "aftersale.events", &scratch, emit, &now, err,
                                sizeof err);
            /* The baseline: each changed order's whole state. */
            for (size_t c = 0; c < asw_processor_changed_count(p); c++) {
                const asw_order *o = asw_processor_changed_at(p, c);
                asw_codec_encode_state(codec, o, &scratch);
                keep(&legacy, asw_order_id(o), strlen(asw_order_id(o)), scratch.data, scratch.len);
            }
            asw_processor_checkpoint(p);
        }
    }
    printf("changelog %ld events, %d orders active at once, a commit every %ld: whole-state "
           "records (baseline) %.1f bytes per event (%ld records); this version %.1f bytes per "
           "event (%ld records): x%.2f of the baseline (target <= x0.50)\n",
           n, 64 * ways, commit_every, (double)legacy.bytes / (double)n, legacy.records,
           (double)now.bytes / (double)n, now.records, (double)now.bytes / (double)legacy.bytes);
    printf("          by record kind (bytes per event, records):");
    for (int c = 0; c < 256; c++)
        if (now.n_by_kind[c])
            printf(" %c %.1f (%ld)", c, (double)now.by_kind[c] / (double)n, now.n_by_kind[c]);
    printf("\n");

    /* Restore: the legacy records go through the same restore (it reads
     * both formats). */
    size_t on = 0, ol = 0;
    double rl = restore_rate(codec, &legacy, &ol);
    double rn = restore_rate(codec, &now, &on);
    printf("restore   in process: whole Avro states (baseline) %.0f orders/s (%zu orders); "
           "this version %.0f orders/s (%zu orders): x%.2f\n",
           rl, ol, rn, on, rn / rl);
    asw_buf_free(&k), asw_buf_free(&v), asw_buf_free(&l);
    asw_buf_free(&lk), asw_buf_free(&lv), asw_buf_free(&ll);
    asw_buf_free(&scratch);
    mix_free(&g);
    asw_processor_destroy(p);
}

/* ---- flat ---- */

static void bench_flat(long days) {
    asw_state_limits limits = {
        .retention_ms = 90LL * 86400000, .max_step_ms = 3600000, .decoded_orders = 16384};
    asw_processor *p = asw_processor_new(rules, &limits, true);
    /* About 10 events a minute. */
    asw_gen *g = asw_gen_new(99, INT32_MAX, 64);
    asw_gen_set_max_gap(g, 12000);
    asw_gen_set_complete(g, true); /* orders that close, as real ones do */
    asw_source src = {"events", 0, 0};
    asw_event ev;
    int64_t start = 0, span = days * 86400000LL;
    long n = 0, at_quarter_orders = -1, at_quarter_rss = 0, dropped = 0, late = 0;
    while (asw_gen_next(g, &ev)) {
        if (!start)
            start = ev.event_time;
        int64_t t = ev.event_time - start;
        asw_result res;
        asw_processor_apply(p, &ev, &src, &res);
        late += res.status == ASW_APPLY_LATE;
        asw_event_clear(&ev);
        src.offset++;
        if (++n % 10000 == 0) {
            dropped += (long)asw_processor_evict(p);
            asw_processor_checkpoint(p);
            if (at_quarter_orders < 0 && t >= span / 4) {
                at_quarter_orders = (long)asw_processor_order_count(p);
                at_quarter_rss = rss_bytes();
            }
        }
        if (t >= span)
            break;
    }
    long end_orders = (long)asw_processor_order_count(p), end_rss = rss_bytes();
    printf("flat      %ld days of ever-new orders (%ld events, %ld orders dropped, %ld late): "
           "at a quarter %ld orders, RSS %.1f MB (baseline); at the end %ld orders (x%.2f), "
           "RSS %.1f MB (x%.2f) (target within x0.80..x1.20)\n",
           days, n, dropped, late, at_quarter_orders, at_quarter_rss / 1e6, end_orders,
           (double)end_orders / (double)at_quarter_orders, end_rss / 1e6,
           (double)end_rss / (double)at_quarter_rss);
    asw_gen_destroy(g);
    asw_processor_destroy(p);
}

/* ---- fill: a changelog on a real broker, for bench/restore_kafka.py ---- */

typedef struct filler {
    rd_kafka_t *rk;
    const char *topic;
    long records, bytes;
    int failed;
} filler;

static int produce_record(void *opaque, const void *key, size_t keylen, const void *value,
                          size_t len) {
    filler *f = opaque;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            f->rk, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_KEY((void *)key, keylen), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(f->rk, 10);
            continue;
        }
        if (e) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
            f->failed = 1;
            return -1;
        }
        f->records++;
        f->bytes += (long)(keylen + len);
        return 0;
    }
}

/* The changelog of `orders` orders of the generate mix, as compaction leaves
 * it (each order's records once, in their final state), on partition 0 of
 * TOPIC (created compacted); and the one-partition input topic INPUT the
 * worker will be assigned. */
static int fill(asw_codec *codec, const char *brokers, const char *input, const char *topic,
                long orders) {
    char err[512];
    asw_config *cfg = asw_config_new();
    if (asw_config_set(cfg, "bootstrap.servers", brokers, err, sizeof err) ||
        asw_config_set(cfg, "linger.ms", "20", err, sizeof err) ||
        asw_config_set(cfg, "batch.size", "1000000", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    asw_kafka_ctx ctx = {0};
    rd_kafka_t *rk = asw_kafka_new(cfg, ASW_KAFKA_TOOL_PRODUCER, &ctx, NULL, NULL, err, sizeof err);
    if (!rk || asw_kafka_create_topic(rk, input, 1, -1, false, 10000, err, sizeof err) ||
        asw_kafka_create_topic(rk, topic, 1, -1, true, 10000, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* Apply the whole stream with change tracking and write once: every
     * order's records in their final state. */
    asw_processor *p = asw_processor_new(rules, &forever, true);
    asw_gen *g = asw_gen_new(5, (int32_t)orders, 64);
    asw_source src = {input, 0, 0};
    long events = feed_all(p, g, &src);
    filler f = {rk, topic, 0, 0, 0};
    asw_buf scratch = ASW_BUF_INIT;
    double t0 = now_s();
    int rc = asw_changelog_write(codec, p, "aftersale.events", &scratch, produce_record, &f, err,
                                 sizeof err);
    rd_kafka_flush(rk, 120000);
    printf("fill      %zu orders (%ld events): %ld changelog records, %.1f MB, produced in "
           "%.1f s\n",
           asw_processor_order_count(p), events, f.records, (double)f.bytes / 1e6, now_s() - t0);
    asw_buf_free(&scratch);
    asw_gen_destroy(g);
    asw_processor_destroy(p);
    rd_kafka_destroy(rk);
    asw_config_destroy(cfg);
    return rc || f.failed ? 1 : 0;
}

/* Fork: true in the child; the parent waits for it and returns false. */
static bool in_child(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        return true;
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return false;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "fill") == 0) {
        char err[256];
        asw_codec *codec = asw_codec_new(err, sizeof err);
        rules = asw_ruleset_new();
        int rc = fill(codec, argv[2], argv[3], argv[4], strtol(argv[5], NULL, 10));
        asw_ruleset_destroy(rules);
        asw_codec_destroy(codec);
        return rc;
    }
    long busy = 1000000, memory = 1000000, changelog = 500000, flat = 480;
    bool all = argc < 2;
    bool do_busy = all, do_memory = all, do_changelog = all, do_flat = all;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "busy") == 0)
            busy = v, do_busy = true;
        else if (strcmp(argv[i], "memory") == 0)
            memory = v, do_memory = true;
        else if (strcmp(argv[i], "changelog") == 0)
            changelog = v, do_changelog = true;
        else if (strcmp(argv[i], "flat") == 0)
            flat = v, do_flat = true;
        else {
            fprintf(stderr, "usage: %s [busy N] [memory M] [changelog EVENTS] [flat DAYS]\n",
                    argv[0]);
            return 2;
        }
    }
    char err[256];
    asw_codec *codec = asw_codec_new(err, sizeof err);
    if (!codec) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rules = asw_ruleset_new();
    /* Each in a process of its own: RSS figures must not carry what an
     * earlier benchmark left in the heap. */
    fflush(stdout);
    if (do_memory && in_child())
        bench_memory(memory), exit(0);
    if (do_busy && in_child())
        bench_busy(busy), exit(0);
    if (do_changelog && in_child()) {
        /* The sample generator's 64 orders at a time, and a platform's
         * thousands: how often an order is written per commit differs. */
        bench_changelog(codec, changelog, 4000, 1);
        bench_changelog(codec, changelog, 4000, 64);
        exit(0);
    }
    if (do_flat && in_child())
        bench_flat(flat), exit(0);
    asw_ruleset_destroy(rules);
    asw_codec_destroy(codec);
    return 0;
}
