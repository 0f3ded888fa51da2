/*
 * jsonl.h -- the JSON Lines forms of SPEC section 3 (input events) and of the
 * outputs (Decision, RefundRecord, DeadLetter).
 *
 * Output objects have a fixed key order ("type" first, then the SPEC
 * section 5 fields in SPEC order) so the same outputs always print the same
 * bytes.
 */
#ifndef ASW_JSONL_H
#define ASW_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/ledger.h"
#include "asw/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Parse one line (without its newline) into *ev. Returns 0 on success (the
 * caller owns the event's strings), or -1 with a one-line message in err and
 * *ev cleared. Unknown keys are ignored; a missing required key, a wrong JSON
 * type, an unknown enum symbol or an unknown "type" is an error. A line that
 * is not JSON as jansson reads it (json_loadb, JSON_REJECT_DUPLICATES) gets
 * "invalid JSON at column N: " and jansson's own message for it.
 */
int asw_jsonl_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen);

/* Append one JSON object and a '\n' to out. */
void asw_jsonl_format_event(const asw_event *ev, asw_buf *out);
void asw_jsonl_format_decision(const asw_decision *d, asw_buf *out);
void asw_jsonl_format_record(const asw_refund_record *r, asw_buf *out);
/* {"type":"DeadLetter","line":N,"error":"...","value":"<raw line>"} */
void asw_jsonl_format_dead_letter(int64_t line, const char *error, const char *raw, size_t rawlen,
                                  asw_buf *out);

/* ---- records read back from Kafka (the consume tool) ---- */

/* A Kafka record header: `value` is NULL for a null value (then len is 0). */
typedef struct asw_jsonl_header {
    const char *name;
    const void *value;
    size_t len;
} asw_jsonl_header;

/*
 * {"type":"DeadLetter","error":"...","headers":{name:value,...},"value":"..."}
 * for a Kafka record that does not decode. A value that is not UTF-8 prints
 * as "value_hex" instead of "value"; a header value that is not UTF-8 prints
 * as {"hex":"..."}, a null one as null. Of headers sharing a name the last
 * wins (a JSON object cannot hold both).
 */
void asw_jsonl_format_kafka_dead_letter(const char *error, const asw_jsonl_header *headers,
                                        size_t nheaders, const void *value, size_t len,
                                        asw_buf *out);

/* {"type":"Tombstone","key":...} for a record with a null value; the key is
 * null when absent and prints as "key_hex" when it is not UTF-8. */
void asw_jsonl_format_tombstone(const void *key, size_t keylen, asw_buf *out);

/* {"type":"PartitionState","stream_time":N}: a changelog partition's own
 * record (SPEC section 7). */
void asw_jsonl_format_partition_state(int64_t stream_time, asw_buf *out);

/*
 * {"type":"OrderState",...}: an order's state (the changelog value) with its
 * ledger, sub-orders, counted applications and external refunds in full, and
 * the decisions and event ids it remembers as counts.
 */
void asw_jsonl_format_state(const asw_order *o, asw_buf *out);

/*
 * Add keys at the end of the JSON object line that a format function above
 * just appended at out->data[start] (it must be the last thing in out):
 * "headers" when `headers` is not NULL (then nheaders may be 0: {}), then
 * "partition" and "offset". Header values print as for the dead letter.
 * Does nothing when out does not end with such a line.
 */
void asw_jsonl_add_kafka_fields(asw_buf *out, size_t start, const asw_jsonl_header *headers,
                                size_t nheaders, int32_t partition, int64_t offset);

#ifdef __cplusplus
}
#endif
#endif /* ASW_JSONL_H */
