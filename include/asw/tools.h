/*
 * tools.h -- the user tools `produce` and `consume`: JSON Lines events into a
 * Kafka topic as framed Avro, and any of the project's topics back out as
 * JSON Lines, both on the project's own codec (see docs/tools.md).
 */
#ifndef ASW_TOOLS_H
#define ASW_TOOLS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What `produce` does: src/cmd/tools.c fills it from the command line. */
typedef struct asw_produce_opts {
    const char *topic;       /* required */
    const char *config_path; /* -c, or NULL */
    const char *brokers;     /* -b, overrides bootstrap.servers; or NULL */
    const char *key;         /* with raw: the key of every record, or NULL */
    const char *in_path;     /* the events file, or "-" for stdin */
    int32_t partitions;      /* create a missing topic with this many; 0: never */
    bool raw;                /* produce each line's bytes unchanged */
} asw_produce_opts;

/*
 * aftersale-worker produce (src/cmd/tools.c parses its options). Reads
 * events in the JSON Lines form of SPEC section 3 and produces each,
 * Avro-encoded, keyed by order_id, through an idempotent producer; waits
 * for every delivery report. The first line that does not parse stops the
 * run: what was produced before it is flushed, and `path:line: message` is
 * printed. Ends with `produced N records to T` on stderr; every failure is
 * one line "aftersale-worker produce: ..." on stderr.
 *
 * @return 0 when every record was delivered; 1 on a bad line, a failed
 *         delivery or an I/O or Kafka failure; 2 on a configuration error
 *         (nothing produced).
 */
int asw_tools_produce(const asw_produce_opts *o);

/* What `consume` does: src/cmd/tools.c fills it from the command line. */
typedef struct asw_consume_opts {
    const char *topic;       /* required */
    const char *config_path; /* -c, or NULL */
    const char *brokers;     /* -b, overrides bootstrap.servers; or NULL */
    bool from_beginning;     /* else from the end */
    int64_t idle_exit_ms;    /* -1: never */
    int64_t max;             /* 0: no limit */
} asw_consume_opts;

/*
 * aftersale-worker consume (src/cmd/tools.c parses its options). Reads
 * every partition of the topic (read_committed, no consumer group
 * membership) from the beginning or the end and prints one JSON object a
 * line on stdout (asw_tools_format_message) until SIGINT/SIGTERM, `max`
 * records, or, with idle_exit_ms >= 0, every partition at its end for that
 * long with nothing new. Ends with `consumed N records from T` on stderr.
 *
 * @return 0 on a normal stop; 1 on a Kafka or output failure; 2 on a
 *         configuration error.
 */
int asw_tools_consume(const asw_consume_opts *o);

/*
 * Append the JSON line `consume` prints for one Kafka record to out:
 *
 *   - value NULL: {"type":"Tombstone","key":...}
 *   - schema id 10 / 11 / 20: the Decision / RefundRecord / OrderState;
 *   - any other id: the input event (asw_jsonl_format_event);
 *   - a value that does not decode: {"type":"DeadLetter","error":"NAME: msg",
 *     "headers":{...},"value":...};
 *
 * each followed by "partition" and "offset"; a record that decodes and has
 * headers also shows them ("headers", before "partition"), so that a
 * dead-lettered fact that does decode still shows why it was set aside.
 *
 * @param c        the codec (its decode buffers are reused).
 * @param key      the record key, or NULL.
 * @param value    the record value, or NULL for a tombstone.
 * @param headers  the record headers, or NULL when it has none.
 */
void asw_tools_format_message(asw_codec *c, const void *key, size_t keylen, const void *value,
                              size_t len, const rd_kafka_headers_t *headers, int32_t partition,
                              int64_t offset, asw_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_TOOLS_H */
