/*
 * jsonl.c -- the JSON Lines forms of events and outputs.
 *
 * Parsing is strict about what an event needs (types, required keys, enum
 * symbols) and lenient about what it does not (unknown keys are ignored, so
 * a producer that adds a field does not break the replay). It is one
 * hand-written pass over the line, the replay's hot path, that allocates
 * the event's strings and nothing else unless a string has escapes, an
 * object has keys the event does not use or a real number is longer than
 * 63 characters. As JSON it accepts exactly what jansson (json_loadb with
 * JSON_REJECT_DUPLICATES, which the replay used before) accepts, duplicate
 * keys refused at every depth, and refuses the rest with jansson's message
 * and column; test_jsonl holds the two side by side.
 *
 * Formatting: the outputs of the replay (decisions, refund records) are
 * written straight into the buffer; the rest builds jansson objects in a
 * fixed key order and prints them compact.
 */
#include "asw/jsonl.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/outputs.h"

/* ---- parsing: JSON ---- */

/*
 * A single-pass reader of one JSON text that accepts exactly what jansson
 * 2.14's json_loadb(JSON_REJECT_DUPLICATES) accepts, and refuses the rest
 * with jansson's own message and column, so that a dead letter reads as it
 * did when jansson parsed the line. It mirrors jansson's lexer (load.c): a
 * token's text is what jansson would have "saved" when it stopped, and a
 * byte jansson reads ahead (after a number or a word) is read here too, so
 * that a bad byte there is found at the same moment. Where it deliberately
 * copies a jansson quirk, the comment says so. test_jsonl holds jansson next
 * to it on every line, prefix and one-byte mutation of real events.
 *
 * Values of the keys an event uses are kept as they pass (jval slots); every
 * other value is checked and dropped.
 */

#define JSON_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define JSON_TEXT_MAX  160  /* jansson's JSON_ERROR_TEXT_LENGTH */
#define JSON_CONTEXT   20   /* the longest token text jansson quotes in a message */

enum {
    TK_INVALID = -1,
    TK_EOF = 0,
    /* '{' '}' '[' ']' ':' ',' stand for themselves */
    TK_STRING = 256,
    TK_INTEGER,
    TK_REAL,
    TK_TRUE,
    TK_FALSE,
    TK_NULL
};

/* A value seen under a key the event uses. */
typedef struct jval {
    bool seen;     /* the key was there (its value is being or has been read) */
    int kind;      /* the value's token: TK_STRING ..., '{' or '[' */
    const char *s; /* TK_STRING: decoded bytes, not NUL-terminated */
    size_t len;
    int64_t i; /* TK_INTEGER */
} jval;

/* The keys of an event, and of the order snapshot under "order", in the
 * order asw_jsonl_format_event writes them. */
#define EVENT_KEYS(X)                                                                              \
    X(EK_TYPE, "type")                                                                             \
    X(EK_EVENT_ID, "event_id")                                                                     \
    X(EK_ORDER_ID, "order_id")                                                                     \
    X(EK_EVENT_TIME, "event_time")                                                                 \
    X(EK_AFTERSALE_ID, "aftersale_id")                                                             \
    X(EK_SKU_ORDER_ID, "sku_order_id")                                                             \
    X(EK_SHOP_ID, "shop_id")                                                                       \
    X(EK_INITIATOR, "initiator")                                                                   \
    X(EK_AFTERSALE_TYPE, "aftersale_type")                                                         \
    X(EK_APPLY_AMOUNT, "apply_amount")                                                             \
    X(EK_ORDER, "order")                                                                           \
    X(EK_REFUND_AMOUNT, "refund_amount")                                                           \
    X(EK_ORDER_PAID_AMOUNT, "order_paid_amount")                                                   \
    X(EK_SKU_PAID_AMOUNT, "sku_paid_amount")                                                       \
    X(EK_CLOSE_REASON, "close_reason")                                                             \
    X(EK_REFUND_ID, "refund_id")                                                                   \
    X(EK_AMOUNT, "amount")                                                                         \
    X(EK_KIND, "kind")

#define ORDER_KEYS(X)                                                                              \
    X(OK_ORDER_STATUS, "order_status")                                                             \
    X(OK_GOODS_TYPE, "goods_type")                                                                 \
    X(OK_CROSS_BORDER, "cross_border")                                                             \
    X(OK_ORDER_PAID_AMOUNT, "order_paid_amount")                                                   \
    X(OK_SKU_PAID_AMOUNT, "sku_paid_amount")                                                       \
    X(OK_AFTERSALE_DEADLINE, "aftersale_deadline")

#define KEY_ENUM(id, name) id,
enum { EVENT_KEYS(KEY_ENUM) EK__COUNT };
enum { ORDER_KEYS(KEY_ENUM) OK__COUNT };
#undef KEY_ENUM

typedef struct key_def {
    const char *name;
    size_t len;
} key_def;

#define KEY_DEF(id, name) {name, sizeof name - 1},
static const key_def event_keys[EK__COUNT] = {EVENT_KEYS(KEY_DEF)};
static const key_def order_keys[OK__COUNT] = {ORDER_KEYS(KEY_DEF)};
#undef KEY_DEF

/* Which object a value is: the event, its order snapshot, or anything else. */
typedef enum obj_ctx { CTX_OTHER = 0, CTX_EVENT, CTX_ORDER } obj_ctx;

/* Keys no slot holds, per object, for JSON_REJECT_DUPLICATES: an open
 * addressing set of (object number, decoded key), allocated on first use. */
typedef struct key_entry {
    const char *key; /* NULL: free */
    size_t len;
    uint32_t object;
} key_entry;

typedef struct key_set {
    key_entry *e;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} key_set;

typedef struct jparser {
    const char *s;
    size_t end;        /* reading stops here: the line's end or its first non-UTF-8 byte */
    bool bad_utf8;     /* end is a byte jansson cannot decode, not the end of the line */
    size_t pos;        /* the next byte to read */
    size_t line_start; /* columns count from here (after the last '\n' read) */
    int dropped;       /* NUL bytes dropped since line_start (see drop_nul) */

    int tok;          /* the current token */
    size_t ts, te;    /* its text, [ts, te): what jansson calls the saved text */
    const char *str;  /* TK_STRING: decoded, not NUL-terminated */
    size_t slen;      /* its length */
    bool snul;        /* it holds a NUL (from \u0000) */
    int64_t ival;     /* TK_INTEGER */
    uint32_t objects; /* objects opened so far: each one's number for the key set */

    char *scratch; /* decoded strings that had escapes; as long as the line */
    size_t used;
    key_set keys;

    jval ev[EK__COUNT];
    jval ord[OK__COUNT];

    char *err;
    size_t errlen;
} jparser;

static bool key_set_add(key_set *ks, uint32_t object, const char *key, size_t len) {
    if (2 * (ks->n + 1) > ks->cap) {
        size_t cap = ks->cap ? 2 * ks->cap : 16;
        key_entry *e = asw_calloc(cap, sizeof *e);
        for (size_t i = 0; i < ks->cap; i++) {
            if (!ks->e[i].key)
                continue;
            size_t h = ks->e[i].object * 0x9E3779B1u;
            for (size_t j = 0; j < ks->e[i].len; j++)
                h = (h ^ (unsigned char)ks->e[i].key[j]) * 0x01000193u;
            size_t k = h & (cap - 1);
            while (e[k].key)
                k = (k + 1) & (cap - 1);
            e[k] = ks->e[i];
        }
        free(ks->e);
        ks->e = e;
        ks->cap = cap;
    }
    size_t h = object * 0x9E3779B1u;
    for (size_t j = 0; j < len; j++)
        h = (h ^ (unsigned char)key[j]) * 0x01000193u;
    size_t k = h & (ks->cap - 1);
    for (; ks->e[k].key; k = (k + 1) & (ks->cap - 1))
        if (ks->e[k].object == object && ks->e[k].len == len && memcmp(ks->e[k].key, key, len) == 0)
            return false;
    ks->e[k] = (key_entry){.key = key ? key : "", .len = len, .object = object};
    ks->n++;
    return true;
}

/* jansson's column: characters (UTF-8 lead bytes) read on the current line,
 * less the NUL bytes it dropped there. Newlines are read between tokens
 * (where scan() moves line_start) and, once, as the last byte read: the
 * bad character of an escape. */
static int column(const jparser *jp) {
    if (jp->pos > jp->line_start && jp->s[jp->pos - 1] == '\n')
        return 0;
    int col = 0;
    for (size_t i = jp->line_start; i < jp->pos; i++)
        col += ((unsigned char)jp->s[i] & 0xC0) != 0x80;
    return col - jp->dropped;
}

/*
 * Refuse the line as jansson's error_set() would: the message, then the
 * token text [ts, te) as context when it is short, or "near end of file"
 * when there is none (but no context at all for a byte that is not UTF-8).
 * jansson prints the text with %s, so a token that is one NUL byte counts as
 * none. Always returns -1.
 */
__attribute__((format(printf, 5, 6))) static int json_fail(jparser *jp, size_t ts, size_t te,
                                                           bool utf8, const char *fmt, ...) {
    if (jp->errlen == 0)
        return -1;
    char msg[JSON_TEXT_MAX], text[2 * JSON_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (te > ts && jp->s[ts] != '\0') {
        if (te - ts <= JSON_CONTEXT)
            snprintf(text, sizeof text, "%s near '%.*s'", msg, (int)(te - ts), jp->s + ts);
        else
            snprintf(text, sizeof text, "%s", msg);
    } else if (utf8) {
        snprintf(text, sizeof text, "%s", msg);
    } else {
        snprintf(text, sizeof text, "%s near end of file", msg);
    }
    /* jansson keeps JSON_TEXT_MAX - 2 bytes of it (the messages are shorter) */
    snprintf(jp->err, jp->errlen, "invalid JSON at column %d: %.*s", column(jp), JSON_TEXT_MAX - 2,
             text);
    return -1;
}

/* An error about the current token. */
#define FAIL_TOK(jp, msg) json_fail((jp), (jp)->ts, (jp)->te, false, "%s", (msg))

/* Reading reached jp->end inside the token that started at ts (ts == pos
 * between tokens): the end of the line (returns 0) or a byte that is not
 * UTF-8 (returns -1, the line refused). */
static int at_end(jparser *jp, size_t ts) {
    if (!jp->bad_utf8)
        return 0;
    jp->pos = jp->end;
    return json_fail(jp, ts, jp->end, true, "unable to decode byte 0x%x",
                     (unsigned char)jp->s[jp->end]);
}

/*
 * jansson quirk: it puts back the byte it read past a number or a word, and
 * a put-back NUL byte is lost (its stream buffer uses NUL as "empty"), so
 * `{"a":1\0}` is accepted. The byte is skipped here too, and not counted in
 * columns.
 */
static size_t drop_nul(jparser *jp, size_t pos) {
    if (pos < jp->end && jp->s[pos] == '\0') {
        jp->dropped++;
        return pos + 1;
    }
    return pos;
}

/* The first byte jansson cannot decode (utf.c: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len. */
static size_t utf8_valid_prefix(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t v;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            v = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            v = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            v = c & 0x07;
        } else {
            return i;
        }
        if (n > len - i)
            return i;
        for (size_t k = 1; k < n; k++) {
            unsigned char u = (unsigned char)s[i + k];
            if (u < 0x80 || u > 0xBF)
                return i;
            v = (v << 6) | (u & 0x3F);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 2 && v < 0x80) ||
            (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
            return i;
        i += n;
    }
    return len;
}

static size_t utf8_put(char *o, uint32_t v) {
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        o[0] = (char)(0xC0 | (v >> 6));
        o[1] = (char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        o[0] = (char)(0xE0 | (v >> 12));
        o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[2] = (char)(0x80 | (v & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (v >> 18));
    o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
    o[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_digit(int c) {
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The end of the run of bytes from pos that a string holds as they are
 * (not a control character, '"' or '\\'), eight at a time where it can:
 * a byte b is flagged when b < 0x20, b ^ '"' == 0 or b ^ '\\' == 0, by the
 * "has a byte less than n" bit trick, which flags no byte >= 0x80 and no
 * byte before the first one that matches. */
static size_t plain_run(const char *s, size_t pos, size_t end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (pos + 8 <= end) {
        uint64_t w;
        memcpy(&w, s + pos, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
        hit &= highs;
        if (hit)
            return pos + (size_t)__builtin_ctzll(hit) / 8;
        pos += 8;
    }
#endif
    while (pos < end) {
        unsigned char c = (unsigned char)s[pos];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
        pos++;
    }
    return pos;
}

/* A string token from the '"' at jp->ts. jansson reads the whole string
 * before it decodes \u escapes, so a bad surrogate is reported only when
 * the rest of the string lexes. */
static int scan_string(jparser *jp) {
    const char *s = jp->s;
    size_t ts = jp->ts, pos = ts + 1, end = jp->end;
    size_t run = pos; /* raw bytes not yet copied to out */
    char *out = NULL; /* the decoded copy, once there is an escape */
    size_t olen = 0;
    int32_t hi = -1; /* a high surrogate, its low half next */
    bool nul = false;
    char bad[48] = ""; /* the first bad surrogate */
    for (;;) {
        pos = plain_run(s, pos, end);
        if (pos == end) {
            if (at_end(jp, ts))
                return -1;
            jp->pos = pos;
            return json_fail(jp, ts, pos, false, "premature end of input");
        }
        unsigned char c = (unsigned char)s[pos];
        if (c == '"')
            break;
        if (c < 0x20) {
            jp->pos = pos;
            if (c == '\n')
                return json_fail(jp, ts, pos, false, "unexpected newline");
            return json_fail(jp, ts, pos, false, "control character 0x%x", c);
        }
        /* a backslash */
        if (!out) {
            if (!jp->scratch)
                jp->scratch = asw_malloc(jp->end + 1);
            out = jp->scratch + jp->used;
        }
        memcpy(out + olen, s + run, pos - run);
        olen += pos - run;
        pos++;
        if (pos == end) {
            if (at_end(jp, ts))
                return -1;
            jp->pos = pos;
            return json_fail(jp, ts, pos, false, "invalid escape");
        }
        c = (unsigned char)s[pos];
        if (c == 'u') {
            pos++;
            int32_t v = 0;
            for (int i = 0; i < 4; i++, pos++) {
                if (pos == end) {
                    if (at_end(jp, ts))
                        return -1;
                    jp->pos = pos;
                    return json_fail(jp, ts, pos, false, "invalid escape");
                }
                int h = hex_digit(s[pos]);
                if (h < 0) {
                    jp->pos = pos + 1; /* jansson has read the bad byte */
                    return json_fail(jp, ts, pos + 1, false, "invalid escape");
                }
                v = v * 16 + h;
            }
            if (bad[0]) {
                /* the string is refused already; only lexing goes on */
            } else if (hi >= 0) {
                if (v >= 0xDC00 && v <= 0xDFFF)
                    olen += utf8_put(out + olen,
                                     (uint32_t)(((hi - 0xD800) << 10) + (v - 0xDC00) + 0x10000));
                else
                    snprintf(bad, sizeof bad, "invalid Unicode '\\u%04X\\u%04X'", hi, v);
                hi = -1;
            } else if (v >= 0xD800 && v <= 0xDBFF) {
                if (pos + 1 < end && s[pos] == '\\' && s[pos + 1] == 'u')
                    hi = v;
                else
                    snprintf(bad, sizeof bad, "invalid Unicode '\\u%04X'", v);
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                snprintf(bad, sizeof bad, "invalid Unicode '\\u%04X'", v);
            } else {
                nul |= v == 0;
                olen += utf8_put(out + olen, (uint32_t)v);
            }
        } else {
            char d;
            switch (c) {
            case '"':
            case '\\':
            case '/':
                d = (char)c;
                break;
            case 'b':
                d = '\b';
                break;
            case 'f':
                d = '\f';
                break;
            case 'n':
                d = '\n';
                break;
            case 'r':
                d = '\r';
                break;
            case 't':
                d = '\t';
                break;
            default:
                jp->pos = pos + 1; /* jansson has read the bad byte */
                return json_fail(jp, ts, pos + 1, false, "invalid escape");
            }
            out[olen++] = d;
            pos++;
        }
        run = pos;
    }
    /* pos is at the closing quote */
    jp->pos = jp->te = pos + 1;
    if (bad[0])
        return json_fail(jp, ts, pos + 1, false, "%s", bad);
    if (out) {
        memcpy(out + olen, s + run, pos - run);
        olen += pos - run;
        jp->str = out;
        jp->slen = olen;
        jp->used += olen;
    } else {
        jp->str = s + ts + 1;
        jp->slen = pos - ts - 1;
    }
    jp->snul = nul;
    jp->tok = TK_STRING;
    return 0;
}

/* Read the byte at pos of the token at ts: its value, -1 at the end of the
 * line, or -2 (the line refused) at a byte that is not UTF-8. */
static int peek(jparser *jp, size_t pos, size_t ts) {
    if (pos < jp->end)
        return (unsigned char)jp->s[pos];
    return at_end(jp, ts) ? -2 : -1;
}

#define PEEK(c, pos)                                                                               \
    do {                                                                                           \
        (c) = peek(jp, (pos), ts);                                                                 \
        if ((c) == -2)                                                                             \
            return -1;                                                                             \
    } while (0)

/* A token that jansson's lexer refuses without a message of its own: the
 * parser names it ("invalid token", "string or '}' expected", ...). */
static int scan_invalid(jparser *jp, size_t pos) {
    jp->pos = jp->te = pos;
    jp->tok = TK_INVALID;
    return 0;
}

/* A number from the '-' or digit at jp->ts: jansson's grammar (no leading
 * zeros, a digit after '.' and after the exponent), an integer when it has
 * neither '.' nor exponent and fits int64_t, else a real that must not
 * overflow a double. */
static int scan_number(jparser *jp) {
    const char *s = jp->s;
    size_t ts = jp->ts, pos = ts;
    bool neg = s[pos] == '-';
    int c;
    if (neg)
        pos++;
    PEEK(c, pos);
    uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool over = false;
    if (c == '0') {
        pos++;
        PEEK(c, pos);
        if (is_digit(c))
            return scan_invalid(jp, pos);
    } else if (is_digit(c)) {
        do {
            unsigned d = (unsigned)(c - '0');
            if (mag > (limit - d) / 10)
                over = true;
            else
                mag = mag * 10 + d;
            pos++;
            PEEK(c, pos);
        } while (is_digit(c));
    } else {
        return scan_invalid(jp, pos);
    }
    if (c != '.' && c != 'e' && c != 'E') {
        jp->te = pos;
        jp->pos = drop_nul(jp, pos);
        if (over)
            return json_fail(jp, ts, jp->te, false,
                             neg ? "too big negative integer" : "too big integer");
        jp->ival = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        jp->tok = TK_INTEGER;
        return 0;
    }
    if (c == '.') {
        pos++;
        PEEK(c, pos);
        if (!is_digit(c))
            return scan_invalid(jp, pos);
        do {
            pos++;
            PEEK(c, pos);
        } while (is_digit(c));
    }
    if (c == 'e' || c == 'E') {
        pos++;
        PEEK(c, pos);
        if (c == '+' || c == '-') {
            pos++;
            PEEK(c, pos);
        }
        if (!is_digit(c))
            return scan_invalid(jp, pos);
        do {
            pos++;
            PEEK(c, pos);
        } while (is_digit(c));
    }
    jp->te = pos;
    jp->pos = drop_nul(jp, pos);
    /* jansson's jsonp_strtod: strtod, refused only when it overflows (the
     * process runs in the C locale, so '.' is the decimal point). */
    size_t n = jp->te - ts;
    char tmp[64];
    char *text = n < sizeof tmp ? tmp : asw_malloc(n + 1);
    memcpy(text, s + ts, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    bool overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    if (text != tmp)
        free(text);
    if (overflow)
        return json_fail(jp, ts, jp->te, false, "real number overflow");
    jp->tok = TK_REAL;
    return 0;
}

#undef PEEK

/* A word from the letter at jp->ts: true, false, null or an invalid token. */
static int scan_word(jparser *jp) {
    const char *s = jp->s;
    size_t ts = jp->ts, pos = ts + 1;
    while (pos < jp->end && is_alpha((unsigned char)s[pos]))
        pos++;
    if (pos == jp->end && at_end(jp, ts))
        return -1;
    size_t n = pos - ts;
    jp->te = pos;
    jp->pos = drop_nul(jp, pos);
    if (n == 4 && memcmp(s + ts, "true", 4) == 0)
        jp->tok = TK_TRUE;
    else if (n == 5 && memcmp(s + ts, "false", 5) == 0)
        jp->tok = TK_FALSE;
    else if (n == 4 && memcmp(s + ts, "null", 4) == 0)
        jp->tok = TK_NULL;
    else
        jp->tok = TK_INVALID;
    return 0;
}

/* The next token into jp->tok (jansson's lex_scan). Returns 0, or -1 with
 * the line refused. */
static int scan(jparser *jp) {
    const char *s = jp->s;
    size_t pos = jp->pos;
    for (;;) {
        if (pos == jp->end) {
            jp->pos = jp->ts = jp->te = pos;
            if (at_end(jp, pos))
                return -1;
            jp->tok = TK_EOF;
            return 0;
        }
        char c = s[pos];
        if (c == ' ' || c == '\t' || c == '\r') {
            pos++;
        } else if (c == '\n') {
            pos++;
            jp->line_start = pos;
            jp->dropped = 0;
        } else {
            break;
        }
    }
    jp->ts = pos;
    unsigned char c = (unsigned char)s[pos];
    switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
        jp->tok = c;
        jp->pos = jp->te = pos + 1;
        return 0;
    case '"':
        return scan_string(jp);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return scan_number(jp);
    default:
        if (is_alpha(c))
            return scan_word(jp);
        /* anything else is invalid, its text the whole UTF-8 character (the
         * bytes before jp->end are valid UTF-8) */
        return scan_invalid(jp, pos + (c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4));
    }
}

/* The index of key k in keys[n], or -1. The search starts at *hint, just
 * after the previous key found, so that keys in table order (the order the
 * event writers use) are found at the first try. */
static int key_index(const key_def *keys, int n, int *hint, const char *k, size_t len) {
    for (int i = 0, j = *hint; i < n; i++, j = j + 1 < n ? j + 1 : 0)
        if (keys[j].len == len && memcmp(keys[j].name, k, len) == 0) {
            *hint = j + 1 < n ? j + 1 : 0;
            return j;
        }
    return -1;
}

static int parse_value(jparser *jp, size_t depth, jval *slot, obj_ctx ctx);

/* jansson's parse_object, from just after its '{'. */
static int parse_object(jparser *jp, size_t depth, obj_ctx ctx) {
    uint32_t object = jp->objects++;
    int hint = 0;
    if (scan(jp))
        return -1;
    if (jp->tok == '}')
        return 0;
    for (;;) {
        if (jp->tok != TK_STRING)
            return FAIL_TOK(jp, "string or '}' expected");
        if (jp->snul)
            return FAIL_TOK(jp, "NUL byte in object key not supported");
        jval *slot = NULL;
        obj_ctx sub = CTX_OTHER;
        int k = -1;
        if (ctx == CTX_EVENT &&
            (k = key_index(event_keys, EK__COUNT, &hint, jp->str, jp->slen)) >= 0) {
            slot = &jp->ev[k];
            sub = k == EK_ORDER ? CTX_ORDER : CTX_OTHER;
        } else if (ctx == CTX_ORDER &&
                   (k = key_index(order_keys, OK__COUNT, &hint, jp->str, jp->slen)) >= 0) {
            slot = &jp->ord[k];
        }
        if (slot ? slot->seen : !key_set_add(&jp->keys, object, jp->str, jp->slen))
            return FAIL_TOK(jp, "duplicate object key");
        if (slot)
            slot->seen = true;
        if (scan(jp))
            return -1;
        if (jp->tok != ':')
            return FAIL_TOK(jp, "':' expected");
        if (scan(jp) || parse_value(jp, depth + 1, slot, sub) || scan(jp))
            return -1;
        if (jp->tok != ',')
            break;
        if (scan(jp))
            return -1;
    }
    if (jp->tok != '}')
        return FAIL_TOK(jp, "'}' expected");
    return 0;
}

/* jansson's parse_array, from just after its '['. */
static int parse_array(jparser *jp, size_t depth) {
    if (scan(jp))
        return -1;
    if (jp->tok == ']')
        return 0;
    while (jp->tok != TK_EOF) {
        if (parse_value(jp, depth + 1, NULL, CTX_OTHER) || scan(jp))
            return -1;
        if (jp->tok != ',')
            break;
        if (scan(jp))
            return -1;
    }
    if (jp->tok != ']')
        return FAIL_TOK(jp, "']' expected");
    return 0;
}

/* jansson's parse_value on the current token, at nesting depth `depth`
 * (the top level is 1); kept in *slot when there is one. */
static int parse_value(jparser *jp, size_t depth, jval *slot, obj_ctx ctx) {
    if (depth > JSON_MAX_DEPTH)
        return FAIL_TOK(jp, "maximum parsing depth reached");
    int kind = jp->tok;
    switch (kind) {
    case TK_STRING:
        if (jp->snul)
            return FAIL_TOK(jp, "\\u0000 is not allowed without JSON_ALLOW_NUL");
        if (slot) {
            slot->s = jp->str;
            slot->len = jp->slen;
        }
        break;
    case TK_INTEGER:
        if (slot)
            slot->i = jp->ival;
        break;
    case TK_REAL:
    case TK_TRUE:
    case TK_FALSE:
    case TK_NULL:
        break;
    case '{':
        if (parse_object(jp, depth, ctx))
            return -1;
        break;
    case '[':
        if (parse_array(jp, depth))
            return -1;
        break;
    case TK_INVALID:
        return FAIL_TOK(jp, "invalid token");
    default:
        return FAIL_TOK(jp, "unexpected token");
    }
    if (slot)
        slot->kind = kind;
    return 0;
}

/* jansson's parse_json: one object or array, then only whitespace. On
 * success *top is its first token ('{' or '['). */
static int parse_json(jparser *jp, int *top) {
    if (scan(jp))
        return -1;
    if (jp->tok != '[' && jp->tok != '{')
        return FAIL_TOK(jp, "'[' or '{' expected");
    *top = jp->tok;
    if (parse_value(jp, 1, NULL, CTX_EVENT) || scan(jp))
        return -1;
    if (jp->tok != TK_EOF)
        return FAIL_TOK(jp, "end of file expected");
    return 0;
}

/* ---- parsing: the event ---- */

typedef struct parser {
    char *err;
    size_t errlen;
    bool failed;
} parser;

__attribute__((format(printf, 2, 3))) static void fail(parser *p, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = true;
    if (p->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

static const jval *need(parser *p, const jval *v, const char *key) {
    if (!v->seen) {
        fail(p, "missing field '%s'", key);
        return NULL;
    }
    return v;
}

/* A string field as a new heap string, or NULL when it fails. */
static char *get_str(parser *p, const jval *v, const char *key) {
    if (!need(p, v, key))
        return NULL;
    if (v->kind != TK_STRING) {
        fail(p, "field '%s' must be a string", key);
        return NULL;
    }
    return asw_strndup(v->s, v->len);
}

static int64_t get_int(parser *p, const jval *v, const char *key) {
    if (!need(p, v, key))
        return 0;
    if (v->kind != TK_INTEGER) {
        fail(p, "field '%s' must be an integer", key);
        return 0;
    }
    return v->i;
}

static bool get_bool(parser *p, const jval *v, const char *key) {
    if (!need(p, v, key))
        return false;
    if (v->kind != TK_TRUE && v->kind != TK_FALSE)
        fail(p, "field '%s' must be a boolean", key);
    return v->kind == TK_TRUE;
}

/* An enum field: its symbol parsed by `parse` into *out. A string too long
 * for `sym` is no symbol (the longest is 22 bytes). */
#define GET_ENUM(p, v, key, parse, out)                                                            \
    do {                                                                                           \
        const jval *v_ = need((p), (v), (key));                                                    \
        if (!v_)                                                                                   \
            break;                                                                                 \
        char sym_[64];                                                                             \
        if (v_->kind != TK_STRING) {                                                               \
            fail((p), "field '%s' must be a string", (key));                                       \
            break;                                                                                 \
        }                                                                                          \
        bool fits_ = v_->len < sizeof sym_;                                                        \
        if (fits_) {                                                                               \
            memcpy(sym_, v_->s, v_->len);                                                          \
            sym_[v_->len] = '\0';                                                                  \
        }                                                                                          \
        if (!fits_ || parse(sym_, (out)) != 0)                                                     \
            fail((p), "field '%s': unknown symbol '%.*s'", (key), (int)v_->len, v_->s);            \
    } while (0)

static void parse_snapshot(parser *p, const jparser *jp, asw_order_snapshot *s) {
    const jval *o = need(p, &jp->ev[EK_ORDER], "order");
    if (!o)
        return;
    if (o->kind != '{') {
        fail(p, "field 'order' must be an object");
        return;
    }
    const jval *f = jp->ord;
    GET_ENUM(p, &f[OK_ORDER_STATUS], "order_status", asw_order_status_parse, &s->order_status);
    GET_ENUM(p, &f[OK_GOODS_TYPE], "goods_type", asw_goods_type_parse, &s->goods_type);
    s->cross_border = get_bool(p, &f[OK_CROSS_BORDER], "cross_border");
    s->order_paid_amount = get_int(p, &f[OK_ORDER_PAID_AMOUNT], "order_paid_amount");
    s->sku_paid_amount = get_int(p, &f[OK_SKU_PAID_AMOUNT], "sku_paid_amount");
    const jval *d = &f[OK_AFTERSALE_DEADLINE];
    if (d->seen && d->kind != TK_NULL) {
        s->has_deadline = true;
        s->aftersale_deadline = get_int(p, d, "aftersale_deadline");
    }
}

/* The event's fields from a line that is valid JSON, in the order (and so
 * with the first error) of the jansson-based parser this replaced. */
static void build_event(parser *p, const jparser *jp, int top, asw_event *ev) {
    const jval *f = jp->ev;
    if (top != '{') {
        fail(p, "an event must be a JSON object");
        return;
    }
    GET_ENUM(p, &f[EK_TYPE], "type", asw_event_type_parse, &ev->type);
    if (p->failed)
        return;
    ev->event_id = get_str(p, &f[EK_EVENT_ID], "event_id");
    ev->order_id = get_str(p, &f[EK_ORDER_ID], "order_id");
    ev->event_time = get_int(p, &f[EK_EVENT_TIME], "event_time");
    ev->sku_order_id = get_str(p, &f[EK_SKU_ORDER_ID], "sku_order_id");
    switch (ev->type) {
    case ASW_EV_APPLIED:
        ev->aftersale_id = get_str(p, &f[EK_AFTERSALE_ID], "aftersale_id");
        ev->shop_id = get_str(p, &f[EK_SHOP_ID], "shop_id");
        GET_ENUM(p, &f[EK_INITIATOR], "initiator", asw_initiator_parse, &ev->initiator);
        GET_ENUM(p, &f[EK_AFTERSALE_TYPE], "aftersale_type", asw_aftersale_type_parse,
                 &ev->aftersale_type);
        ev->amount = get_int(p, &f[EK_APPLY_AMOUNT], "apply_amount");
        parse_snapshot(p, jp, &ev->order);
        ev->order_paid_amount = ev->order.order_paid_amount;
        ev->sku_paid_amount = ev->order.sku_paid_amount;
        break;
    case ASW_EV_WITHDRAWN:
        ev->aftersale_id = get_str(p, &f[EK_AFTERSALE_ID], "aftersale_id");
        break;
    case ASW_EV_CLOSED:
        ev->aftersale_id = get_str(p, &f[EK_AFTERSALE_ID], "aftersale_id");
        GET_ENUM(p, &f[EK_CLOSE_REASON], "close_reason", asw_close_reason_parse, &ev->close_reason);
        break;
    case ASW_EV_SUCCEEDED:
        ev->aftersale_id = get_str(p, &f[EK_AFTERSALE_ID], "aftersale_id");
        ev->amount = get_int(p, &f[EK_REFUND_AMOUNT], "refund_amount");
        ev->order_paid_amount = get_int(p, &f[EK_ORDER_PAID_AMOUNT], "order_paid_amount");
        ev->sku_paid_amount = get_int(p, &f[EK_SKU_PAID_AMOUNT], "sku_paid_amount");
        break;
    case ASW_EV_CLAWED_BACK:
        ev->refund_id = get_str(p, &f[EK_REFUND_ID], "refund_id");
        ev->amount = get_int(p, &f[EK_AMOUNT], "amount");
        break;
    case ASW_EV_EXTERNAL:
        ev->refund_id = get_str(p, &f[EK_REFUND_ID], "refund_id");
        ev->shop_id = get_str(p, &f[EK_SHOP_ID], "shop_id");
        GET_ENUM(p, &f[EK_KIND], "kind", asw_external_kind_parse, &ev->kind);
        ev->amount = get_int(p, &f[EK_AMOUNT], "amount");
        ev->order_paid_amount = get_int(p, &f[EK_ORDER_PAID_AMOUNT], "order_paid_amount");
        ev->sku_paid_amount = get_int(p, &f[EK_SKU_PAID_AMOUNT], "sku_paid_amount");
        break;
    default:
        break;
    }
    if (p->failed)
        return;
    /* Fields a type does not carry are "", never NULL. */
    if (!ev->aftersale_id)
        ev->aftersale_id = asw_strdup("");
    if (!ev->refund_id)
        ev->refund_id = asw_strdup("");
    if (!ev->shop_id)
        ev->shop_id = asw_strdup("");
}

int asw_jsonl_parse_event(const char *line, size_t len, asw_event *ev, char *err, size_t errlen) {
    asw_event_init(ev);
    if (!line) {
        if (errlen)
            snprintf(err, errlen, "invalid JSON at column -1: wrong arguments");
        return -1;
    }
    jparser jp = {.s = line, .err = err, .errlen = errlen};
    jp.end = utf8_valid_prefix(line, len);
    jp.bad_utf8 = jp.end < len;
    int top = 0;
    int rc = parse_json(&jp, &top);
    if (rc == 0) {
        parser p = {.err = err, .errlen = errlen};
        build_event(&p, &jp, top, ev);
        if (p.failed) {
            asw_event_clear(ev);
            rc = -1;
        }
    }
    free(jp.scratch);
    free(jp.keys.e);
    return rc;
}

/* ---- formatting ---- */

static void put_str(json_t *o, const char *key, const char *v) {
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static void put_int(json_t *o, const char *key, int64_t v) {
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void put_bool(json_t *o, const char *key, bool v) {
    json_object_set_new(o, key, json_boolean(v));
}

static void dump(json_t *o, asw_buf *out) {
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    asw_buf_reserve(out, n + 1);
    json_dumpb(o, (char *)out->data + out->len, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    out->len += n;
    out->data[out->len++] = '\n';
    json_decref(o);
}

static json_t *object_of_type(const char *type) {
    json_t *o = json_object();
    put_str(o, "type", type);
    return o;
}

void asw_jsonl_format_event(const asw_event *ev, asw_buf *out) {
    json_t *o = object_of_type(asw_event_type_name(ev->type));
    put_str(o, "event_id", ev->event_id);
    put_str(o, "order_id", ev->order_id);
    put_int(o, "event_time", ev->event_time);
    switch (ev->type) {
    case ASW_EV_APPLIED: {
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "shop_id", ev->shop_id);
        put_str(o, "initiator", asw_initiator_name(ev->initiator));
        put_str(o, "aftersale_type", asw_aftersale_type_name(ev->aftersale_type));
        put_int(o, "apply_amount", ev->amount);
        json_t *s = json_object();
        put_str(s, "order_status", asw_order_status_name(ev->order.order_status));
        put_str(s, "goods_type", asw_goods_type_name(ev->order.goods_type));
        put_bool(s, "cross_border", ev->order.cross_border);
        put_int(s, "order_paid_amount", ev->order.order_paid_amount);
        put_int(s, "sku_paid_amount", ev->order.sku_paid_amount);
        if (ev->order.has_deadline)
            put_int(s, "aftersale_deadline", ev->order.aftersale_deadline);
        else
            json_object_set_new(s, "aftersale_deadline", json_null());
        json_object_set_new(o, "order", s);
        break;
    }
    case ASW_EV_WITHDRAWN:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        break;
    case ASW_EV_CLOSED:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "close_reason", asw_close_reason_name(ev->close_reason));
        break;
    case ASW_EV_SUCCEEDED:
        put_str(o, "aftersale_id", ev->aftersale_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_int(o, "refund_amount", ev->amount);
        put_int(o, "order_paid_amount", ev->order_paid_amount);
        put_int(o, "sku_paid_amount", ev->sku_paid_amount);
        break;
    case ASW_EV_CLAWED_BACK:
        put_str(o, "refund_id", ev->refund_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_int(o, "amount", ev->amount);
        break;
    case ASW_EV_EXTERNAL:
        put_str(o, "refund_id", ev->refund_id);
        put_str(o, "sku_order_id", ev->sku_order_id);
        put_str(o, "shop_id", ev->shop_id);
        put_str(o, "kind", asw_external_kind_name(ev->kind));
        put_int(o, "amount", ev->amount);
        put_int(o, "order_paid_amount", ev->order_paid_amount);
        put_int(o, "sku_paid_amount", ev->sku_paid_amount);
        break;
    default:
        break;
    }
    dump(o, out);
}

/*
 * The outputs written straight into the buffer, the hottest path of the
 * replay: the same bytes as jansson's compact dump of the same object
 * (JSON_COMPACT | JSON_PRESERVE_ORDER, no JSON_ENSURE_ASCII): `"` and `\`
 * escaped, \b \f \n \r \t by name, other bytes below 0x20 as \u00XX,
 * everything else (UTF-8 included) as it is. Their strings are UTF-8 already
 * (every input is checked when decoded). test_jsonl compares the two.
 */
static void w_raw(asw_buf *b, const char *s, size_t n) {
    asw_buf_append(b, s, n);
}

#define W_LIT(b, lit) w_raw((b), (lit), sizeof(lit) - 1)

static void w_string(asw_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    asw_buf_reserve(b, strlen(s) * 6 + 2);
    char *o = (char *)b->data + b->len, *start = o;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
}

/* ,"key": (the first member of an object writes its own brace) */
static void w_key(asw_buf *b, const char *key) {
    size_t n = strlen(key);
    asw_buf_reserve(b, n + 4);
    char *o = (char *)b->data + b->len;
    o[0] = ',';
    o[1] = '"';
    memcpy(o + 2, key, n);
    o[n + 2] = '"';
    o[n + 3] = ':';
    b->len += n + 4;
}

static void w_str(asw_buf *b, const char *key, const char *v) {
    w_key(b, key);
    if (v)
        w_string(b, v);
    else
        W_LIT(b, "null");
}

/* The digits "%lld" prints, without printf's format parsing (which was a
 * quarter of the replay's time). */
static void w_int(asw_buf *b, const char *key, int64_t v) {
    w_key(b, key);
    char tmp[20]; /* INT64_MIN has 19 digits and a sign */
    char *end = tmp + sizeof tmp, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    w_raw(b, p, (size_t)(end - p));
}

static void w_bool(asw_buf *b, const char *key, bool v) {
    w_key(b, key);
    if (v)
        W_LIT(b, "true");
    else
        W_LIT(b, "false");
}

/* An output record from its field table (outputs.h). */
static void format_output(const asw_output_def *def, const void *obj, asw_buf *out) {
    W_LIT(out, "{\"type\":");
    w_string(out, def->record);
    for (size_t i = 0; i < def->n_fields; i++) {
        const asw_output_field *f = &def->fields[i];
        switch (f->type) {
        case ASW_F_STR:
        case ASW_F_OPT_STR:
            w_str(out, f->name, asw_field_str(obj, f));
            break;
        case ASW_F_BOOL:
            w_bool(out, f->name, asw_field_bool(obj, f));
            break;
        case ASW_F_ENUM:
            w_str(out, f->name, f->e->symbol((int)asw_field_int(obj, f)));
            break;
        case ASW_F_OPT_ENUM:
            w_str(out, f->name,
                  asw_field_has(obj, f) ? f->e->symbol((int)asw_field_int(obj, f)) : NULL);
            break;
        case ASW_F_REASONS: {
            int64_t set = asw_field_int(obj, f);
            w_key(out, f->name);
            W_LIT(out, "[");
            bool first = true;
            for (int r = 0; r < f->e->count; r++)
                if (set & (1LL << r)) {
                    if (!first)
                        W_LIT(out, ",");
                    first = false;
                    w_string(out, f->e->symbol(r));
                }
            W_LIT(out, "]");
            break;
        }
        default: /* ASW_F_INT, ASW_F_LONG */
            w_int(out, f->name, asw_field_int(obj, f));
            break;
        }
    }
    W_LIT(out, "}\n");
}

void asw_jsonl_format_decision(const asw_decision *d, asw_buf *out) {
    format_output(&asw_output_decision, d, out);
}

void asw_jsonl_format_record(const asw_refund_record *r, asw_buf *out) {
    format_output(&asw_output_record, r, out);
}

void asw_jsonl_format_dead_letter(int64_t line, const char *error, const char *raw, size_t rawlen,
                                  asw_buf *out) {
    json_t *o = object_of_type("DeadLetter");
    put_int(o, "line", line);
    put_str(o, "error", error);
    /* The raw bytes may not be UTF-8, which JSON strings cannot hold: then
     * they go out as hex, so that nothing is lost. */
    json_t *v = json_stringn(raw, rawlen);
    if (v) {
        json_object_set_new(o, "value", v);
    } else {
        static const char digits[] = "0123456789abcdef";
        char *hex = asw_malloc(rawlen * 2 + 1);
        for (size_t i = 0; i < rawlen; i++) {
            hex[2 * i] = digits[(unsigned char)raw[i] >> 4];
            hex[2 * i + 1] = digits[(unsigned char)raw[i] & 15];
        }
        hex[rawlen * 2] = '\0';
        put_str(o, "value_hex", hex);
        free(hex);
    }
    dump(o, out);
}

/* ---- records read back from Kafka ---- */

/* Bytes as lower-case hex in a new string (caller frees). */
static char *hex_of(const void *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    char *hex = asw_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[n * 2] = '\0';
    return hex;
}

/* Bytes as a JSON string when they are UTF-8, else NULL. */
static json_t *utf8_string(const void *p, size_t n) {
    return json_stringn(n ? p : "", n);
}

/* Put bytes under `key` when they are UTF-8, else as hex under `hexkey`;
 * NULL bytes put null under `key`. */
static void put_bytes(json_t *o, const char *key, const char *hexkey, const void *p, size_t n) {
    if (!p) {
        json_object_set_new(o, key, json_null());
        return;
    }
    json_t *v = utf8_string(p, n);
    if (v) {
        json_object_set_new(o, key, v);
        return;
    }
    char *hex = hex_of(p, n);
    put_str(o, hexkey, hex);
    free(hex);
}

static json_t *headers_object(const asw_jsonl_header *h, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = h[i].value ? utf8_string(h[i].value, h[i].len) : json_null();
        if (!v) {
            char *hex = hex_of(h[i].value, h[i].len);
            v = json_object();
            put_str(v, "hex", hex);
            free(hex);
        }
        json_object_set_new(o, h[i].name ? h[i].name : "", v);
    }
    return o;
}

void asw_jsonl_format_kafka_dead_letter(const char *error, const asw_jsonl_header *headers,
                                        size_t nheaders, const void *value, size_t len,
                                        asw_buf *out) {
    json_t *o = object_of_type("DeadLetter");
    put_str(o, "error", error);
    json_object_set_new(o, "headers", headers_object(headers, nheaders));
    put_bytes(o, "value", "value_hex", value ? value : "", len);
    dump(o, out);
}

void asw_jsonl_format_tombstone(const void *key, size_t keylen, asw_buf *out) {
    json_t *o = object_of_type("Tombstone");
    put_bytes(o, "key", "key_hex", key, keylen);
    dump(o, out);
}

void asw_jsonl_format_partition_state(int64_t stream_time, asw_buf *out) {
    json_t *j = object_of_type("PartitionState");
    put_int(j, "stream_time", stream_time);
    dump(j, out);
}

void asw_jsonl_format_state(const asw_order *o, asw_buf *out) {
    json_t *j = object_of_type("OrderState");
    put_str(j, "order_id", asw_order_id(o));
    put_str(j, "shop_id", o->shop_id ? asw_order_str(o, o->shop_id) : NULL);
    put_int(j, "paid", o->paid);
    put_int(j, "refunded", o->refunded);
    put_int(j, "reserved", o->reserved);
    put_int(j, "remaining", asw_order_remaining(o));
    put_bool(j, "prior_success", o->prior_success);
    put_int(j, "applications_used", asw_order_applications_used(o));
    put_int(j, "max_event_time", o->max_event_time);
    if (o->has_deadline)
        put_int(j, "aftersale_deadline", o->deadline);
    else
        json_object_set_new(j, "aftersale_deadline", json_null());

    json_t *skus = json_array();
    for (size_t i = 0; i < o->n_skus; i++) {
        const asw_sku_state *s = &o->skus[i];
        json_t *e = json_object();
        put_str(e, "sku_order_id", asw_order_str(o, s->sku_order_id));
        put_int(e, "paid", s->paid);
        put_int(e, "refunded", s->refunded);
        put_int(e, "reserved", s->reserved);
        put_int(e, "remaining", asw_sku_remaining(s));
        put_int(e, "refund_successes", s->refund_successes);
        json_array_append_new(skus, e);
    }
    json_object_set_new(j, "skus", skus);

    json_t *apps = json_array();
    for (size_t i = 0; i < o->n_apps; i++) {
        const asw_app *a = &o->apps[i];
        if (!a->counted)
            continue;
        json_t *e = json_object();
        put_str(e, "aftersale_id", asw_order_str(o, a->aftersale_id));
        put_str(e, "sku_order_id", asw_order_str(o, a->sku_order_id));
        put_str(e, "shop_id", a->shop_id ? asw_order_str(o, a->shop_id) : NULL);
        put_str(e, "aftersale_type",
                a->has_type ? asw_aftersale_type_name((asw_aftersale_type)a->type) : NULL);
        put_str(e, "state", asw_app_state_name((asw_app_state)a->state));
        put_int(e, "reserved", a->reserved);
        json_array_append_new(apps, e);
    }
    json_object_set_new(j, "applications", apps);

    json_t *ext = json_array();
    for (size_t i = 0; i < o->n_externals; i++) {
        const asw_external *x = &o->externals[i];
        json_t *e = json_object();
        put_str(e, "refund_id", asw_order_str(o, x->refund_id));
        put_str(e, "sku_order_id", asw_order_str(o, x->sku_order_id));
        put_str(e, "kind", asw_external_kind_name((asw_external_kind)x->kind));
        json_array_append_new(ext, e);
    }
    json_object_set_new(j, "external_refunds", ext);
    put_int(j, "decisions", (int64_t)asw_order_decided_count(o));
    put_int(j, "event_ids", (int64_t)o->n_seen);
    dump(j, out);
}

void asw_jsonl_add_kafka_fields(asw_buf *out, size_t start, const asw_jsonl_header *headers,
                                size_t nheaders, int32_t partition, int64_t offset) {
    /* The line is compact JSON ending in "}\n": splice the new keys in
     * before the brace instead of re-parsing what was just printed. */
    if (start >= out->len || out->len - start < 3 || out->data[out->len - 1] != '\n' ||
        out->data[out->len - 2] != '}')
        return;
    bool empty = out->data[out->len - 3] == '{';
    json_t *o = json_object();
    if (headers)
        json_object_set_new(o, "headers", headers_object(headers, nheaders));
    put_int(o, "partition", partition);
    put_int(o, "offset", offset);
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *extra = asw_malloc(n);
    json_dumpb(o, extra, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    /* extra is {"k":v,...}: keep what is between its braces. */
    out->len -= 2;
    if (!empty)
        asw_buf_append(out, ",", 1);
    asw_buf_append(out, extra + 1, n - 2);
    asw_buf_append(out, "}\n", 2);
    free(extra);
}
