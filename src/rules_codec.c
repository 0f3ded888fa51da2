/*
 * rules_codec.c -- a ruleset change to and from its JSON form
 * (rules_codec.h).
 */
#include "asw/rules_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/hash.h"
#include "asw/ruleset.h"

static const char *const op_names[] = {"set", "enable_shop", "disable_shop"};

const char *asw_rule_op_name(asw_rule_op op) {
    return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* An integer field in [min, max] into *out. */
static int get_int(json_t *o, const char *name, long long min, long long max, int64_t *out,
                   char *err, size_t errlen) {
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return fail(err, errlen, "\"%s\" must be an integer", name);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return fail(err, errlen, "\"%s\" must be in %lld..%lld, not %lld", name, min, max,
                    (long long)x);
    *out = (int64_t)x;
    return 0;
}

static int get_str(json_t *o, const char *name, size_t max, char **out, char *err, size_t errlen) {
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return fail(err, errlen, "\"%s\" must be a string", name);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return fail(err, errlen, "\"%s\" must be at most %zu bytes, without NUL", name, max);
    *out = asw_strdup(json_string_value(v));
    return 0;
}

/* The longest shop list a change may carry. */
#define SHOPS_MAX (1u << 20)

static int parse_obj(json_t *o, asw_rule_change *c, char *err, size_t errlen) {
    if (!json_is_object(o))
        return fail(err, errlen, "a change is a JSON object");
    json_t *op = json_object_get(o, "op");
    if (!json_is_string(op))
        return fail(err, errlen, "\"op\" must be one of set, enable_shop, disable_shop");
    size_t nop = sizeof op_names / sizeof op_names[0], i;
    for (i = 0; i < nop && strcmp(json_string_value(op), op_names[i]) != 0; i++)
        ;
    if (i == nop)
        return fail(err, errlen, "\"op\" must be one of set, enable_shop, disable_shop, not '%s'",
                    json_string_value(op));
    c->op = (asw_rule_op)i;
    if (get_int(o, "effective_time", 0, INT64_MAX / 2, &c->effective_time, err, errlen))
        return -1;
    static const char *const set_keys[] = {"op", "effective_time", "limit", "percent", "shops"};
    static const char *const shop_keys[] = {"op", "effective_time", "shop_id"};
    const char *const *keys = c->op == ASW_RULE_SET ? set_keys : shop_keys;
    size_t nkeys = c->op == ASW_RULE_SET ? 5 : 3;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        size_t j;
        for (j = 0; j < nkeys && strcmp(k, keys[j]) != 0; j++)
            ;
        if (j == nkeys)
            return fail(err, errlen, "unknown key \"%s\" for op %s", k, op_names[c->op]);
    }
    int64_t x = 0;
    if (c->op == ASW_RULE_SET) {
        if (json_object_get(o, "limit")) {
            if (get_int(o, "limit", 1, 1000, &x, err, errlen))
                return -1;
            c->has_limit = true;
            c->limit = (int32_t)x;
        }
        if (json_object_get(o, "percent")) {
            if (get_int(o, "percent", 0, 100, &x, err, errlen))
                return -1;
            c->has_percent = true;
            c->percent = (int32_t)x;
        }
        if (json_object_get(o, "shops") && get_str(o, "shops", SHOPS_MAX, &c->shops, err, errlen))
            return -1;
        if (!c->has_limit && !c->has_percent && !c->shops)
            return fail(err, errlen, "a set changes at least one of limit, percent, shops");
    } else if (get_str(o, "shop_id", ASW_RULESET_SHOP_MAX, &c->shop_id, err, errlen)) {
        return -1;
    }
    if (!asw_rule_change_valid(c))
        return fail(err, errlen,
                    c->op == ASW_RULE_SET
                        ? "\"shops\" must be * or shop ids separated by ','"
                        : "\"shop_id\" must be 1..128 bytes, without ',' or blanks "
                          "at either end, and not *");
    return 0;
}

int asw_rule_change_parse(const char *json, size_t len, asw_rule_change *c, char *err,
                          size_t errlen) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return fail(err, errlen, "invalid JSON at column %d: %s", je.column, je.text);
    int rc = parse_obj(o, c, err, errlen);
    json_decref(o);
    if (rc != 0)
        asw_rule_change_clear(c);
    return rc;
}

int asw_rule_line_parse(const char *line, size_t len, asw_rule_change *c, int64_t *from,
                        int64_t *seq, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return fail(err, errlen, "invalid JSON at column %d: %s", je.column, je.text);
    int rc = 0;
    json_t *change = json_object_get(o, "change");
    *seq = -1;
    if (change) {
        /* An entry of `rules show --format jsonl`. */
        int64_t x = 0;
        rc = parse_obj(change, c, err, errlen);
        if (rc == 0)
            rc = get_int(o, "applies_from", 0, INT64_MAX / 2, from, err, errlen);
        if (rc == 0 && json_object_get(o, "offset")) {
            rc = get_int(o, "offset", 0, INT64_MAX / 2, &x, err, errlen);
            *seq = x;
        }
    } else {
        rc = parse_obj(o, c, err, errlen);
        *from = c->effective_time;
    }
    json_decref(o);
    if (rc != 0)
        asw_rule_change_clear(c);
    return rc;
}

void asw_rule_change_format(const asw_rule_change *c, asw_buf *out) {
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(asw_rule_op_name(c->op)));
    json_object_set_new(o, "effective_time", json_integer(c->effective_time));
    if (c->op == ASW_RULE_SET) {
        if (c->has_limit)
            json_object_set_new(o, "limit", json_integer(c->limit));
        if (c->has_percent)
            json_object_set_new(o, "percent", json_integer(c->percent));
        if (c->shops) {
            asw_ruleset *rs = asw_ruleset_new();
            asw_buf b = {0};
            if (asw_ruleset_set_shops(rs, c->shops) == 0)
                asw_ruleset_shops_text(rs, &b);
            else
                asw_buf_append_str(&b, c->shops);
            asw_buf_append(&b, "", 1);
            json_object_set_new(o, "shops", json_string((const char *)b.data));
            asw_buf_free(&b);
            asw_ruleset_destroy(rs);
        }
    } else {
        json_object_set_new(o, "shop_id", json_string(c->shop_id ? c->shop_id : ""));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) {
        fputs("aftersale-worker: out of memory\n", stderr);
        abort();
    }
    asw_buf_append_str(out, s);
    free(s);
    json_decref(o);
}

void asw_rule_change_key(const asw_rule_change *c, char key[ASW_RULE_KEY_LEN]) {
    asw_buf b = {0};
    asw_rule_change_format(c, &b);
    uint64_t h = asw_fnv1a64(b.data, b.len);
    asw_buf_free(&b);
    snprintf(key, ASW_RULE_KEY_LEN, "rc-%016" PRIx64, h);
}

int asw_rulebook_load_file(asw_rulebook *book, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        size_t i = 0;
        while (i < (size_t)n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == (size_t)n || line[i] == '#')
            continue;
        asw_rule_change c;
        int64_t from, seq;
        char why[256];
        if (asw_rule_line_parse(line, (size_t)n, &c, &from, &seq, why, sizeof why) != 0) {
            rc = fail(err, errlen, "%s:%" PRId64 ": %s", path, lineno, why);
            break;
        }
        char key[ASW_RULE_KEY_LEN];
        asw_rule_change_key(&c, key);
        if (asw_rulebook_add(book, key, &c, from, seq >= 0 ? seq : lineno) < 0)
            rc = fail(err, errlen, "%s:%" PRId64 ": the change does not apply", path, lineno);
        asw_rule_change_clear(&c);
    }
    if (rc == 0 && ferror(f))
        rc = fail(err, errlen, "%s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}
