/*
 * fuzz_event_decode.c -- untrusted Kafka values through the Avro codec: the
 * input is one record value, as the worker's consumer (the events) and the
 * consume tool (decisions, refund records) hand it to the codec.
 *
 * Properties, on every input:
 *  - asw_codec_decode_event returns OK or a clean error: on an error the
 *    event is left cleared and the message is one line;
 *  - the fast path and the generic avro-c path (a second codec with the
 *    fast path off) agree: the same error code and message, or equal events;
 *  - a decoded event is encodable, its frame decodes to an equal event, and
 *    encoding that gives the same bytes again;
 *  - a decoded event's frame carries a registered id (asw_codec_peek_id);
 *  - the other decoders of untrusted bytes (Decision, RefundRecord,
 *    PartitionState) return OK or a clean error, and a decoded Decision or
 *    RefundRecord re-encodes.
 */
#include <stdlib.h>
#include <string.h>

#include "asw/codec.h"
#include "fuzz.h"

static asw_codec *fast, *generic;

static void check_event_round_trip(const asw_event *ev) {
    asw_buf a = ASW_BUF_INIT, b = ASW_BUF_INIT;
    asw_event back;
    char err[256] = "";
    FZ_CHECK(asw_codec_encode_event(fast, ev, &a) == ASW_CODEC_OK);
    FZ_CHECK(asw_codec_decode_event(fast, a.data, a.len, &back, err, sizeof err) == ASW_CODEC_OK);
    FZ_CHECK(fz_event_equal(ev, &back));
    FZ_CHECK(asw_codec_encode_event(fast, &back, &b) == ASW_CODEC_OK);
    FZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    asw_event_clear(&back);
    asw_buf_free(&a);
    asw_buf_free(&b);
}

static void check_events(const uint8_t *data, size_t size) {
    asw_event f, g;
    char ferr[256] = "", gerr[256] = "";
    asw_codec_err fr = asw_codec_decode_event(fast, data, size, &f, ferr, sizeof ferr);
    asw_codec_err gr = asw_codec_decode_event(generic, data, size, &g, gerr, sizeof gerr);
    FZ_CHECK(fr == gr);
    if (fr != ASW_CODEC_OK) {
        FZ_CHECK(fz_event_cleared(&f) && fz_event_cleared(&g));
        FZ_CHECK(ferr[0] != '\0' && fz_one_line(ferr));
        FZ_CHECK(strcmp(ferr, gerr) == 0);
        return;
    }
    FZ_CHECK(fz_event_equal(&f, &g));
    int32_t id = -1;
    FZ_CHECK(asw_codec_peek_id(data, size, &id) == ASW_CODEC_OK);
    FZ_CHECK((id >= ASW_SCHEMA_ID_APPLIED && id <= ASW_SCHEMA_ID_EXTERNAL) ||
             (id >= FZ_ID_CURRENT + ASW_SCHEMA_ID_APPLIED &&
              id <= FZ_ID_CURRENT + ASW_SCHEMA_ID_EXTERNAL) ||
             (id >= FZ_ID_APPLIED_OLD && id <= FZ_ID_CLOSED_SYMBOLS));
    /* Strings are never NULL once decoded (model.h). */
    FZ_CHECK(f.event_id && f.order_id && f.aftersale_id && f.refund_id && f.sku_order_id &&
             f.shop_id);
    check_event_round_trip(&f);
    asw_event_clear(&f);
    asw_event_clear(&g);
}

static void check_outputs(const uint8_t *data, size_t size) {
    char err[256] = "";
    asw_buf out = ASW_BUF_INIT;
    asw_decision d;
    asw_codec_err rc = asw_codec_decode_decision(fast, data, size, &d, err, sizeof err);
    if (rc == ASW_CODEC_OK)
        FZ_CHECK(asw_codec_encode_decision(fast, &d, &out) == ASW_CODEC_OK);
    else
        FZ_CHECK(err[0] != '\0' && fz_one_line(err));
    asw_refund_record r;
    err[0] = '\0';
    rc = asw_codec_decode_record(fast, data, size, &r, err, sizeof err);
    if (rc == ASW_CODEC_OK)
        FZ_CHECK(asw_codec_encode_record(fast, &r, &out) == ASW_CODEC_OK);
    else
        FZ_CHECK(err[0] != '\0' && fz_one_line(err));
    int64_t t = 0;
    err[0] = '\0';
    rc = asw_codec_decode_partition_state(fast, data, size, &t, err, sizeof err);
    if (rc != ASW_CODEC_OK)
        FZ_CHECK(err[0] != '\0' && fz_one_line(err));
    asw_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fast) {
        fast = fz_codec_new(true);
        generic = fz_codec_new(false);
    }
    check_events(data, size);
    check_outputs(data, size);
    return 0;
}
