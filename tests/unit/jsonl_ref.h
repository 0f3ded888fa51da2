/*
 * jsonl_ref.h -- the reference the JSON Lines event parser is held to: the
 * jansson-based parser it replaced (json_loadb with JSON_REJECT_DUPLICATES,
 * then the fields), kept verbatim but for its names. It lives with the
 * tests rather than in src/ so that no jansson parse path ships and it
 * cannot drift with the code it checks; test_jsonl and fuzz/fuzz_jsonl.c
 * compare asw_jsonl_parse_event with it.
 */
#ifndef ASW_TEST_JSONL_REF_H
#define ASW_TEST_JSONL_REF_H

#include <stddef.h>

#include "asw/model.h"

/* As asw_jsonl_parse_event: 0 and the event (the caller owns its strings),
 * or -1 with a message in err and *ev cleared. */
int ref_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen);

#endif
