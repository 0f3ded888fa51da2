/*
 * rules_codec.h -- the JSON form of a ruleset change, as the ruleset control
 * topic holds it (docs/rules.md), and its record key.
 *
 *   {"op":"set","effective_time":1767225600000,"limit":5,"percent":10,"shops":"s1,s2"}
 *   {"op":"enable_shop","effective_time":1767225600000,"shop_id":"s3"}
 *   {"op":"disable_shop","effective_time":1767225600000,"shop_id":"s1"}
 */
#ifndef ASW_RULES_CODEC_H
#define ASW_RULES_CODEC_H

#include <stddef.h>

#include "asw/buf.h"
#include "asw/rulebook.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "rc-" + 16 hex digits + NUL. */
#define ASW_RULE_KEY_LEN 20

/*
 * Parse a change. Strict: a JSON object with "op" and "effective_time" (an
 * integer, ms), the fields of its op and no other key; values in the
 * ruleset's ranges (asw_rule_change_valid()). Returns 0 (the caller owns
 * *c), or -1 with a one-line message in err and *c cleared.
 */
int asw_rule_change_parse(const char *json, size_t len, asw_rule_change *c, char *err,
                          size_t errlen);

/*
 * One line of a ruleset file (replay --rules): a change as above, applying
 * from its effective_time, or an entry as `rules show --format jsonl`
 * prints it ({"key":...,"offset":N,"applies_from":T,"change":{...},...}),
 * applying from applies_from; its other keys are not read. *seq is the
 * entry's offset, or -1 (the caller orders by line). Returns 0 or -1 with
 * err, as asw_rule_change_parse().
 */
int asw_rule_line_parse(const char *line, size_t len, asw_rule_change *c, int64_t *from,
                        int64_t *seq, char *err, size_t errlen);

/* Add every change of a ruleset file (lines as asw_rule_line_parse()
 * reads them; blank lines and lines starting with '#' are skipped) to
 * book. Returns 0, or -1 with "path:line: message". */
int asw_rulebook_load_file(asw_rulebook *book, const char *path, char *err, size_t errlen);

/* Append the canonical JSON (no newline): keys in the order above, only the
 * fields set, the shop list sorted and without duplicates. */
void asw_rule_change_format(const asw_rule_change *c, asw_buf *out);

/* The record key: "rc-" and FNV-1a 64 of the canonical JSON in hex. The
 * same change always gets the same key (the tool is idempotent, and
 * compaction keeps one record of each). */
void asw_rule_change_key(const asw_rule_change *c, char key[ASW_RULE_KEY_LEN]);

/* "set", "enable_shop", "disable_shop". */
const char *asw_rule_op_name(asw_rule_op op);

#ifdef __cplusplus
}
#endif
#endif /* ASW_RULES_CODEC_H */
