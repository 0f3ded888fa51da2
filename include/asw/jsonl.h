/*
 * jsonl.h -- the JSON Lines forms of SPEC section 3 (input events) and of the
 * outputs (Decision, RefundRecord, DeadLetter), built on jansson.
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
#include "asw/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Parse one line (without its newline) into *ev. Returns 0 on success (the
 * caller owns the event's strings), or -1 with a one-line message in err and
 * *ev cleared. Unknown keys are ignored; a missing required key, a wrong JSON
 * type, an unknown enum symbol or an unknown "type" is an error.
 */
int asw_jsonl_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen);

/* Append one JSON object and a '\n' to out. */
void asw_jsonl_format_event(const asw_event *ev, asw_buf *out);
void asw_jsonl_format_decision(const asw_decision *d, asw_buf *out);
void asw_jsonl_format_record(const asw_refund_record *r, asw_buf *out);
/* {"type":"DeadLetter","line":N,"error":"...","value":"<raw line>"} */
void asw_jsonl_format_dead_letter(int64_t line, const char *error, const char *raw, size_t rawlen,
                                  asw_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_JSONL_H */
