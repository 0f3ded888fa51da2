/*
 * ruleset.c -- the ruleset of SPEC section 4: the application limit, the
 * multi-refund rollout (every shop, a list of shop ids, and/or a percentage
 * of shops by a stable hash) and the reason order, plus the version string
 * stamped on every decision.
 *
 * The version is "rs1-" followed by the FNV-1a 32-bit hash (8 lowercase hex
 * digits) of the ruleset's canonical text:
 *
 *     reasons=<R>;limit=<L>;percent=<P>;shops=<S>
 *
 * or, when some shops are excluded (disabled by the ruleset control topic,
 * docs/rules.md),
 *
 *     reasons=<R>;limit=<L>;percent=<P>;denied=<D>;shops=<S>
 *
 * where <D> is each excluded shop id, sorted by strcmp() and without
 * duplicates, as its length in decimal, ':' and its bytes ("2:s12:s2").
 * The length prefix keeps the text injective whatever the ids hold; a
 * ruleset with no excluded shop has the text (and version) it had before
 * exclusions existed.
 *
 * where <R> is ASW_RULESET_REASONS (the version of the reason list and its
 * order in SPEC section 4; bump it whenever that order or set changes),
 * <L> and <P> are decimal integers without sign or leading zeros, and <S> is
 * "*" for every shop, or the shop ids sorted by strcmp(), without
 * duplicates, joined by "," (empty for an empty list). For example the
 * defaults give "reasons=v1;limit=5;percent=0;shops=*".
 *
 * The shop list comes last on purpose: shop ids cannot contain "," (the list
 * separator) and "*" is refused inside a list, so the text is injective --
 * two rulesets with the same text are the same ruleset, whatever bytes the
 * shop ids hold. Equal rulesets get the same version whatever order their
 * list was written in; any change of limit, list or percent changes the text.
 * (The percentage stays in the text even with "*", where it changes no
 * outcome: the version then still tells which configuration ran.)
 *
 * The shop hash is FNV-1a 64-bit of the shop id's bytes, mod 100. It is part
 * of the product contract: changing it moves shops in or out of a rollout.
 */

#include "asw/ruleset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/hash.h"

/* The version of the reason set and order (SPEC section 4). */
#define ASW_RULESET_REASONS "v1"

#define ASW_RULESET_MIN_LIMIT   1
#define ASW_RULESET_MAX_LIMIT   1000
#define ASW_RULESET_MAX_PERCENT 100

/* "rs1-" + 8 hex digits + NUL. */
#define ASW_RULESET_VERSION_LEN 13

struct asw_ruleset {
    int32_t limit;
    int32_t percent;
    bool all_shops; /* "*": every shop is in the rollout */
    char **shops;   /* sorted by strcmp, unique; owned */
    size_t nshops;
    char **denied; /* never in the rollout, whatever the rest says: sorted
                      by strcmp, unique; owned */
    size_t ndenied;
    char version[ASW_RULESET_VERSION_LEN];
};

/* ------------------------------------------------------------------------ */
/* Hashes                                                                   */
/* ------------------------------------------------------------------------ */

static uint32_t fnv1a32_update(uint32_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= UINT32_C(0x01000193);
    }
    return h;
}

/* The rollout bucket 0..99 of shop_id: FNV-1a 64 of its bytes mod 100. NULL
 * is treated as the empty id. Pure; safe from any thread. */
int32_t asw_ruleset_shop_bucket(const char *shop_id) {
    if (shop_id == NULL)
        shop_id = "";
    return (int32_t)(asw_fnv1a64(shop_id, strlen(shop_id)) % 100u);
}

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/* Hash the canonical text (see the top of this file) piece by piece: FNV-1a
 * over the concatenation equals FNV-1a over the pieces in order, so the
 * text never needs to be materialised. */
static void ruleset_update_version(asw_ruleset *rs) {
    char head[96];
    snprintf(head, sizeof(head), "reasons=%s;limit=%d;percent=%d;shops=", ASW_RULESET_REASONS,
             (int)rs->limit, (int)rs->percent);

    uint32_t h;
    if (rs->ndenied > 0) {
        head[strlen(head) - strlen("shops=")] = '\0';
        h = fnv1a32_update(UINT32_C(0x811c9dc5), head);
        h = fnv1a32_update(h, "denied=");
        for (size_t i = 0; i < rs->ndenied; i++) {
            char len[24];
            snprintf(len, sizeof len, "%zu:", strlen(rs->denied[i]));
            h = fnv1a32_update(h, len);
            h = fnv1a32_update(h, rs->denied[i]);
        }
        h = fnv1a32_update(h, ";shops=");
    } else {
        h = fnv1a32_update(UINT32_C(0x811c9dc5), head);
    }
    if (rs->all_shops) {
        h = fnv1a32_update(h, "*");
    } else {
        for (size_t i = 0; i < rs->nshops; i++) {
            if (i > 0)
                h = fnv1a32_update(h, ",");
            h = fnv1a32_update(h, rs->shops[i]);
        }
    }
    snprintf(rs->version, sizeof(rs->version), "rs1-%08x", (unsigned)h);
}

/* ------------------------------------------------------------------------ */
/* Shop list                                                                */
/* ------------------------------------------------------------------------ */

static void shops_free(char **shops, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(shops[i]);
    free(shops);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_trim_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Parse a shop list spec into a sorted, duplicate-free array. "*" alone sets
 * *all. An empty or all-blank spec is the empty list. Returns 0, or -1 on an
 * empty entry ("a,,b", "a,") or a "*" inside a list; on -1 nothing is
 * allocated and the outputs are untouched.
 */
static int shops_parse(const char *spec, bool *all, char ***out, size_t *nout) {
    const char *s = spec;
    const char *e = spec + strlen(spec);
    while (s < e && is_trim_space(*s))
        s++;
    while (e > s && is_trim_space(e[-1]))
        e--;

    if (e - s == 1 && *s == '*') {
        *all = true;
        *out = NULL;
        *nout = 0;
        return 0;
    }
    if (s == e) {
        *all = false;
        *out = NULL;
        *nout = 0;
        return 0;
    }

    size_t cap = 1;
    for (const char *p = s; p < e; p++)
        if (*p == ',')
            cap++;
    char **shops = asw_calloc(cap, sizeof(*shops));
    size_t n = 0;

    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(e - p));
        const char *end = comma ? comma : e;
        const char *a = p;
        const char *b = end;
        while (a < b && is_trim_space(*a))
            a++;
        while (b > a && is_trim_space(b[-1]))
            b--;
        if (a == b || (b - a == 1 && *a == '*'))
            goto fail;
        shops[n++] = asw_strndup(a, (size_t)(b - a));
        if (comma == NULL)
            break;
        p = comma + 1;
    }

    qsort(shops, n, sizeof(*shops), cmp_str_ptr);
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (w > 0 && strcmp(shops[w - 1], shops[r]) == 0) {
            free(shops[r]);
            continue;
        }
        shops[w++] = shops[r];
    }

    *all = false;
    *out = shops;
    *nout = w;
    return 0;

fail:
    shops_free(shops, n);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* A ruleset with the defaults (limit 5, every shop, percent 0). Never NULL:
 * out of memory aborts. The caller owns it; free with asw_ruleset_destroy(). */
asw_ruleset *asw_ruleset_new(void) {
    asw_ruleset *rs = asw_calloc(1, sizeof(*rs));
    rs->limit = ASW_RULESET_DEFAULT_LIMIT;
    rs->percent = 0;
    rs->all_shops = true;
    ruleset_update_version(rs);
    return rs;
}

/* Free rs and its shop list. NULL is a no-op. */
void asw_ruleset_destroy(asw_ruleset *rs) {
    if (rs == NULL)
        return;
    shops_free(rs->shops, rs->nshops);
    shops_free(rs->denied, rs->ndenied);
    free(rs);
}

static char **shops_copy(char *const *shops, size_t n) {
    char **c = n ? asw_calloc(n, sizeof *c) : NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = asw_strdup(shops[i]);
    return c;
}

asw_ruleset *asw_ruleset_copy(const asw_ruleset *rs) {
    asw_ruleset *c = asw_calloc(1, sizeof(*c));
    *c = *rs;
    c->shops = shops_copy(rs->shops, rs->nshops);
    c->denied = shops_copy(rs->denied, rs->ndenied);
    return c;
}

/* Where id is in the sorted list, or where it would go (*found false). */
static size_t shops_find(char *const *shops, size_t n, const char *id, bool *found) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(shops[mid], id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void shops_insert(char ***shops, size_t *n, const char *id) {
    bool found;
    size_t at = shops_find(*shops, *n, id, &found);
    if (found)
        return;
    *shops = asw_realloc(*shops, (*n + 1) * sizeof **shops);
    memmove(*shops + at + 1, *shops + at, (*n - at) * sizeof **shops);
    (*shops)[at] = asw_strdup(id);
    (*n)++;
}

static void shops_remove(char **shops, size_t *n, const char *id) {
    bool found;
    size_t at = shops_find(shops, *n, id, &found);
    if (!found)
        return;
    free(shops[at]);
    memmove(shops + at, shops + at + 1, (*n - at - 1) * sizeof *shops);
    (*n)--;
}

/* A shop id the rollout can name: 1..ASW_RULESET_SHOP_MAX bytes, no ','
 * (the list separator), not "*", not blank at either end (a list trims). */
static bool shop_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= ASW_RULESET_SHOP_MAX && !strchr(id, ',') && strcmp(id, "*") != 0 &&
           !is_trim_space(id[0]) && !is_trim_space(id[n - 1]);
}

void asw_ruleset_clear_denied(asw_ruleset *rs) {
    shops_free(rs->denied, rs->ndenied);
    rs->denied = NULL;
    rs->ndenied = 0;
    ruleset_update_version(rs);
}

void asw_ruleset_swap(asw_ruleset *a, asw_ruleset *b) {
    asw_ruleset t = *a;
    *a = *b;
    *b = t;
}

int asw_ruleset_enable_shop(asw_ruleset *rs, const char *shop_id) {
    if (!shop_id_ok(shop_id))
        return -1;
    shops_remove(rs->denied, &rs->ndenied, shop_id);
    if (!rs->all_shops)
        shops_insert(&rs->shops, &rs->nshops, shop_id);
    ruleset_update_version(rs);
    return 0;
}

int asw_ruleset_disable_shop(asw_ruleset *rs, const char *shop_id) {
    if (!shop_id_ok(shop_id))
        return -1;
    shops_remove(rs->shops, &rs->nshops, shop_id);
    shops_insert(&rs->denied, &rs->ndenied, shop_id);
    ruleset_update_version(rs);
    return 0;
}

static void list_text(char *const *shops, size_t n, asw_buf *out) {
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            asw_buf_append_str(out, ",");
        asw_buf_append_str(out, shops[i]);
    }
}

void asw_ruleset_shops_text(const asw_ruleset *rs, asw_buf *out) {
    if (rs->all_shops)
        asw_buf_append_str(out, "*");
    else
        list_text(rs->shops, rs->nshops, out);
}

void asw_ruleset_denied_text(const asw_ruleset *rs, asw_buf *out) {
    list_text(rs->denied, rs->ndenied, out);
}

int32_t asw_ruleset_percent(const asw_ruleset *rs) {
    return rs->percent;
}

/* Set the per-order application limit. Returns 0, or -1 (rs unchanged)
 * when limit is outside 1..1000. */
int asw_ruleset_set_limit(asw_ruleset *rs, int32_t limit) {
    if (limit < ASW_RULESET_MIN_LIMIT || limit > ASW_RULESET_MAX_LIMIT)
        return -1;
    rs->limit = limit;
    ruleset_update_version(rs);
    return 0;
}

/* Set the rollout's shop list from spec: "*" (every shop), or ids separated
 * by "," with blanks around each id trimmed; a blank spec is the empty list.
 * The list is copied, sorted and deduplicated. Returns 0, or -1 (rs
 * unchanged) when spec is NULL, has an empty entry ("a,,b", "a,") or has
 * "*" inside a list. */
int asw_ruleset_set_shops(asw_ruleset *rs, const char *spec) {
    bool all;
    char **shops;
    size_t n;

    if (spec == NULL || shops_parse(spec, &all, &shops, &n) != 0)
        return -1;

    shops_free(rs->shops, rs->nshops);
    rs->all_shops = all;
    rs->shops = shops;
    rs->nshops = n;
    ruleset_update_version(rs);
    return 0;
}

/* Set the rollout percentage. Returns 0, or -1 (rs unchanged) when percent
 * is outside 0..100. */
int asw_ruleset_set_percent(asw_ruleset *rs, int32_t percent) {
    if (percent < 0 || percent > ASW_RULESET_MAX_PERCENT)
        return -1;
    rs->percent = percent;
    ruleset_update_version(rs);
    return 0;
}

/* The per-order application limit (1..1000). */
int32_t asw_ruleset_limit(const asw_ruleset *rs) {
    return rs->limit;
}

/* Is shop_id in the multi-refund rollout: every shop ("*"), or listed, or
 * its bucket is below the percentage? A NULL shop_id is only in with "*". */
bool asw_ruleset_shop_enabled(const asw_ruleset *rs, const char *shop_id) {
    if (rs->ndenied > 0 && shop_id) {
        bool found;
        shops_find(rs->denied, rs->ndenied, shop_id, &found);
        if (found)
            return false;
    }
    if (rs->all_shops)
        return true;
    if (shop_id == NULL)
        return false;
    if (rs->nshops > 0 &&
        bsearch(&shop_id, rs->shops, rs->nshops, sizeof(*rs->shops), cmp_str_ptr) != NULL)
        return true;
    return rs->percent > 0 && asw_ruleset_shop_bucket(shop_id) < rs->percent;
}

/* The version string ("rs1-" + 8 hex digits, see the top of this file).
 * Owned by rs; valid until the next setter call or asw_ruleset_destroy(). */
const char *asw_ruleset_version(const asw_ruleset *rs) {
    return rs->version;
}
