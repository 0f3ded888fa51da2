/*
 * varint.h -- the compact integer encoding of the order state (in memory
 * and in the changelog): LEB128 varints, signed values zigzag-mapped, and
 * the scalar fields of a remembered decision packed once for both users.
 */
#ifndef ASW_VARINT_H
#define ASW_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "asw/model.h"

/* The most bytes asw_decision_pack() writes. */
#define ASW_DECISION_PACKED_MAX (1 + 9 * 10)

/* Write v at p (at most 10 bytes); returns the bytes written. */
static inline size_t asw_varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Read a varint from [*p, end), advancing *p. Returns 0 with *ok = 0 when
 * the bytes end first or it is longer than 10 bytes; *ok is untouched
 * otherwise. */
static inline uint64_t asw_varint_get(const uint8_t **p, const uint8_t *end, int *ok) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            break;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    *ok = 0;
    return 0;
}

static inline uint64_t asw_zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t asw_unzigzag(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * The scalar fields of a decision (initiator, outcome, multi_refund,
 * reasons, the counters, amounts and times, source partition and offset),
 * packed into out (room for ASW_DECISION_PACKED_MAX). Its strings are the
 * caller's to store. Returns the bytes written.
 */
size_t asw_decision_pack(const asw_decision *d, uint8_t *out);

/* Unpack what asw_decision_pack() wrote from [*p, end) into d's scalar
 * fields, advancing *p. Returns 0, or -1 when the bytes end first or an
 * enum is out of range. */
int asw_decision_unpack(asw_decision *d, const uint8_t **p, const uint8_t *end);

#endif /* ASW_VARINT_H */
