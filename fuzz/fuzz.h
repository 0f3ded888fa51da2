/*
 * fuzz.h -- what the fuzz targets share (docs/fuzzing.md): the check that
 * reports a broken property to the fuzzer, event equality, the codec every
 * target decodes with (older writer schemas registered, so schema
 * resolution is fuzzed too) and the ids it registers them under.
 *
 * Each target is one LLVMFuzzerTestOneInput over the project's real APIs.
 * Built with libFuzzer (-DASW_FUZZ=ON, clang) it fuzzes; linked with
 * replay_main.c it replays a corpus (what CI does, with gcc and ASan).
 */
#ifndef ASW_FUZZ_H
#define ASW_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asw/codec.h"
#include "asw/model.h"

/* A broken property: print what broke, then abort so that the fuzzer
 * (or the replay) reports the input. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(#cond, __FILE__, __LINE__);                                                    \
    } while (0)

__attribute__((noreturn)) void fz_fail(const char *what, const char *file, int line);

/* Every field of two events equal (strings by content, NULL only to NULL)? */
bool fz_event_equal(const asw_event *a, const asw_event *b);

/* Is the event as asw_event_init() leaves it (what a refused input must
 * leave)? */
bool fz_event_cleared(const asw_event *ev);

/* Is every byte of err[] up to its NUL a one-line message (no newline)? */
bool fz_one_line(const char *err);

/*
 * Writer schemas registered besides the built-in ids, as a Schema Registry
 * would hand them out: every current schema again under FZ_ID_CURRENT + its
 * built-in id (the generic, resolving path on today's bytes), and the older
 * writers of fuzz/writers/ (.avsc files) under their own ids.
 */
#define FZ_ID_CURRENT        1000
#define FZ_ID_APPLIED_OLD    2001 /* writers/applied_old.avsc */
#define FZ_ID_WITHDRAWN_NULL 2002 /* writers/withdrawn_nullable.avsc */
#define FZ_ID_CLOSED_SYMBOLS 2003 /* writers/closed_symbols.avsc */
#define FZ_ID_STATE_MINIMAL  2020 /* writers/state_minimal.avsc */
#define FZ_ID_STATE_LEDGER   2021 /* writers/state_ledger_only.avsc */

/* A codec with every writer above registered; fast = false takes every
 * event through avro-c's generic path. Aborts when it cannot be made. */
asw_codec *fz_codec_new(bool fast);

/* ---- fuzz_processor's input (its file comment says how it reads) ---- */

/* Opcodes: the low 3 bits of an operation's first byte. FZ_OP_MORE's bits
 * 3-4 choose among FZ_MORE_*, bits 5-7 are its operand. */
enum {
    FZ_OP_EVENT = 0, /* 0..3: an event in the next FZ_EVENT_BYTES bytes */
    FZ_OP_RAW = 4,   /* a length byte, then that many bytes */
    FZ_OP_COMMIT = 5,
    FZ_OP_ABORT = 6,
    FZ_OP_MORE = 7
};
enum { FZ_MORE_EVICT = 0, FZ_MORE_EVICT_STEP = 1, FZ_MORE_REDELIVER = 2 };
#define FZ_EVENT_BYTES 9
#define FZ_DAY         86400000LL

/* The amounts an event byte picks from (index: byte % 32), 2^63 - 1 and
 * -2^63 among them; the steps of event time (byte % 16: relative, or a jump
 * to an absolute time); the after-sale deadlines relative to event time. */
extern const int64_t fz_amounts[32];
typedef struct fz_step {
    bool absolute;
    int64_t v;
} fz_step;
extern const fz_step fz_steps[16];
extern const int64_t fz_deadlines[16];

#endif /* ASW_FUZZ_H */
