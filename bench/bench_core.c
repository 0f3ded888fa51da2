/*
 * bench_core.c -- in-process throughput of the core, as ratios against a
 * baseline measured in the same run (these machines are shared and noisy).
 *
 *   baseline   avro-c alone: the generic reader over the same Avro frames
 *              (avro_reader_memory + avro_value_read), nothing else
 *   decide     asw_order_apply over pre-decoded events (the rules + ledger)
 *   pipeline   decode (asw_codec) -> decide -> encode every output (asw_codec)
 *
 * Usage: asw-bench [EVENTS] [ROUNDS]   (default 200000 events, 5 rounds; the
 * best round of each stage is reported).
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asw/buf.h"
#include "asw/codec.h"
#include "asw/gen.h"
#include "asw/ledger.h"
#include "asw/store.h"

extern const struct asw_embedded_schema {
    const char *name;
    const char *text;
} asw_embedded_schemas[];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct frames {
    uint8_t **data;
    size_t *len;
    size_t n;
} frames;

/* Generic avro-c readers for the six event schemas, indexed by schema id. */
typedef struct raw_reader {
    avro_schema_t schema[7];
    avro_value_iface_t *iface[7];
    avro_value_t value[7];
} raw_reader;

static const char *event_names[7] = {NULL,
                                     "AfterSaleApplied",
                                     "AfterSaleWithdrawn",
                                     "AfterSaleClosed",
                                     "AfterSaleSucceeded",
                                     "RefundClawedBack",
                                     "ExternalRefundRecorded"};

static void raw_reader_init(raw_reader *r) {
    for (int id = 1; id <= 6; id++) {
        const char *text = NULL;
        for (int i = 0; asw_embedded_schemas[i].name; i++)
            if (strcmp(asw_embedded_schemas[i].name, event_names[id]) == 0)
                text = asw_embedded_schemas[i].text;
        if (!text || avro_schema_from_json_length(text, strlen(text), &r->schema[id]) != 0) {
            fprintf(stderr, "bench: schema %s: %s\n", event_names[id], avro_strerror());
            exit(1);
        }
        r->iface[id] = avro_generic_class_from_schema(r->schema[id]);
        avro_generic_value_new(r->iface[id], &r->value[id]);
    }
}

static void raw_reader_free(raw_reader *r) {
    for (int id = 1; id <= 6; id++) {
        avro_value_decref(&r->value[id]);
        avro_value_iface_decref(r->iface[id]);
        avro_schema_decref(r->schema[id]);
    }
}

static double stage_baseline(const frames *f, raw_reader *r) {
    double t0 = now_s();
    for (size_t i = 0; i < f->n; i++) {
        const uint8_t *p = f->data[i];
        int id = (p[1] << 24) | (p[2] << 16) | (p[3] << 8) | p[4];
        avro_reader_t rd = avro_reader_memory((const char *)p + 5, (int64_t)(f->len[i] - 5));
        avro_value_reset(&r->value[id]);
        if (avro_value_read(rd, &r->value[id]) != 0) {
            fprintf(stderr, "bench: baseline read failed: %s\n", avro_strerror());
            exit(1);
        }
        avro_reader_free(rd);
    }
    return now_s() - t0;
}

static double stage_decide(const asw_event *evs, size_t n, const asw_ruleset *rules) {
    asw_store *store = asw_store_new();
    asw_source src = {"bench", 0, 0};
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        asw_result res;
        asw_order_apply(asw_store_get_or_create(store, evs[i].order_id), rules, &evs[i], &src,
                        &res);
        src.offset++;
    }
    double t = now_s() - t0;
    asw_store_destroy(store);
    return t;
}

static double stage_pipeline(const frames *f, asw_codec *codec, const asw_ruleset *rules,
                             size_t *outputs) {
    asw_store *store = asw_store_new();
    asw_source src = {"bench", 0, 0};
    asw_buf out = ASW_BUF_INIT;
    char err[256];
    size_t n_out = 0;
    double t0 = now_s();
    for (size_t i = 0; i < f->n; i++) {
        asw_event ev;
        if (asw_codec_decode_event(codec, f->data[i], f->len[i], &ev, err, sizeof err) !=
            ASW_CODEC_OK) {
            fprintf(stderr, "bench: decode failed: %s\n", err);
            exit(1);
        }
        asw_result res;
        asw_order_apply(asw_store_get_or_create(store, ev.order_id), rules, &ev, &src, &res);
        if (res.has_decision) {
            asw_codec_encode_decision(codec, &res.decision, &out);
            n_out++;
        }
        if (res.has_record) {
            asw_codec_encode_record(codec, &res.record, &out);
            n_out++;
        }
        asw_event_clear(&ev);
        src.offset++;
    }
    double t = now_s() - t0;
    *outputs = n_out;
    asw_buf_free(&out);
    asw_store_destroy(store);
    return t;
}

static double best(double a, double b) {
    return a < b ? a : b;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    char err[256];
    asw_codec *codec = asw_codec_new(err, sizeof err);
    if (!codec) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    asw_ruleset *rules = asw_ruleset_new();

    /* The input: generated events, and the same events as Avro frames. */
    asw_event *evs = calloc(n, sizeof *evs);
    frames f = {calloc(n, sizeof(uint8_t *)), calloc(n, sizeof(size_t)), 0};
    asw_gen *g = asw_gen_new(42, (int32_t)(n / 4 + 1), 32);
    asw_buf buf = ASW_BUF_INIT;
    while (f.n < n && asw_gen_next(g, &evs[f.n])) {
        if (asw_codec_encode_event(codec, &evs[f.n], &buf) != ASW_CODEC_OK) {
            fprintf(stderr, "bench: encode failed\n");
            return 1;
        }
        f.data[f.n] = malloc(buf.len);
        memcpy(f.data[f.n], buf.data, buf.len);
        f.len[f.n] = buf.len;
        f.n++;
    }
    asw_gen_destroy(g);
    asw_buf_free(&buf);

    raw_reader raw;
    raw_reader_init(&raw);
    double t_base = 1e30, t_decide = 1e30, t_pipe = 1e30;
    size_t outputs = 0;
    for (int r = 0; r < rounds; r++) {
        t_base = best(t_base, stage_baseline(&f, &raw));
        t_decide = best(t_decide, stage_decide(evs, f.n, rules));
        t_pipe = best(t_pipe, stage_pipeline(&f, codec, rules, &outputs));
    }
    double eps_base = (double)f.n / t_base, eps_decide = (double)f.n / t_decide,
           eps_pipe = (double)f.n / t_pipe;
    printf("events=%zu rounds=%d (best round per stage)\n", f.n, rounds);
    printf("%-10s %12.0f events/s  x%.2f  (avro-c generic read of the same frames)\n", "baseline",
           eps_base, 1.0);
    printf("%-10s %12.0f events/s  x%.2f  (rules + ledger on decoded events)\n", "decide",
           eps_decide, eps_decide / eps_base);
    printf("%-10s %12.0f events/s  x%.2f  (decode -> decide -> encode %zu outputs)\n", "pipeline",
           eps_pipe, eps_pipe / eps_base, outputs);

    raw_reader_free(&raw);
    for (size_t i = 0; i < f.n; i++) {
        free(f.data[i]);
        asw_event_clear(&evs[i]);
    }
    free(f.data);
    free(f.len);
    free(evs);
    asw_ruleset_destroy(rules);
    asw_codec_destroy(codec);
    return 0;
}
