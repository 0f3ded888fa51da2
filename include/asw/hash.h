/*
 * hash.h -- FNV-1a 64 over bytes: the rollout's shop bucket (part of the
 * product contract, ruleset.c), the ruleset change keys (rules_codec.c) and
 * hash tables keyed by text.
 */
#ifndef ASW_HASH_H
#define ASW_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 of n bytes: offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3. Pure. */
static inline uint64_t asw_fnv1a64(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#endif /* ASW_HASH_H */
