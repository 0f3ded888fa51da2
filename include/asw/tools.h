/*
 * tools.h -- the user tools `produce` and `consume`: JSON Lines events into a
 * Kafka topic as framed Avro, and any of the project's topics back out as
 * JSON Lines, both on the project's own codec (see docs/tools.md).
 */
#ifndef ASW_TOOLS_H
#define ASW_TOOLS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * aftersale-worker produce --topic T [-c CONFIG] [-b BROKERS] [--partitions N]
 *                          [--raw [--key K]] EVENTS.jsonl|-
 *
 * `argv[0]` is the subcommand name; options are parsed with getopt_long
 * (optind is reset first). Reads events in the JSON Lines form of SPEC
 * section 3 and produces each, Avro-encoded, keyed by order_id, through an
 * idempotent producer; waits for every delivery report. The first line that
 * does not parse stops the run: what was produced before it is flushed, and
 * `path:line: message` is printed. Ends with `produced N records to T` on
 * stderr.
 *
 * @return 0 when every record was delivered; 1 on a bad line, a failed
 *         delivery or an I/O or Kafka failure; 2 on a usage or
 *         configuration error (nothing produced).
 */
int asw_cmd_produce(int argc, char **argv);

/*
 * aftersale-worker consume --topic T [-c CONFIG] [-b BROKERS] [--from-beginning]
 *                          [--idle-exit SECONDS] [--max N]
 *
 * Reads every partition of T (read_committed, no consumer group membership)
 * from the beginning or the end and prints one JSON object a line on stdout
 * (asw_tools_format_message) until SIGINT/SIGTERM, --max records, or, with
 * --idle-exit, every partition at its end for SECONDS with nothing new. Ends
 * with `consumed N records from T` on stderr.
 *
 * @return 0 on a normal stop; 1 on a Kafka or output failure; 2 on a usage
 *         or configuration error.
 */
int asw_cmd_consume(int argc, char **argv);

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
