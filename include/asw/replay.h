/*
 * replay.h -- the offline mode: the core run over a JSON Lines file of
 * events, its outputs written as JSON Lines (SPEC sections 3 and 5).
 */
#ifndef ASW_REPLAY_H
#define ASW_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "asw/config.h"
#include "asw/log.h"
#include "asw/model.h"
#include "asw/rulebook.h"
#include "asw/ruleset.h"
#include "asw/whatif.h"

/* The longest input line replay keeps, in bytes (without its newline). An
 * event's strings are at most ASW_TEXT_MAX bytes each, so a valid event is
 * a few kilobytes at most; this leaves room for anything plausible. */
#define ASW_REPLAY_LINE_MAX 1048576

/* What a replay did, for the summary. */
typedef struct asw_replay_stats {
    int64_t lines;  /* physical lines read */
    int64_t events; /* records (non-blank lines) */
    int64_t decisions;
    int64_t accepted;
    int64_t duplicates; /* decisions re-emitted as duplicate */
    int64_t reasons[ASW_R__COUNT];
    int64_t records;
    int64_t over_refunds;  /* records with over_refund */
    int64_t multi_refunds; /* decisions with multi_refund */
    int64_t dead_letters;
    int64_t late_events; /* dead letters LATE_EVENT (SPEC 7), among dead_letters */
    int64_t ignored;     /* duplicates and no-op lifecycle events */
} asw_replay_stats;

/*
 * Replay `in` (JSON Lines events) into `out` (JSON Lines outputs).
 *
 * Each non-blank line is one input record; its 0-based index among them is
 * the source_offset of its decision, on partition 0 of topic.input. A line
 * that is not a valid event becomes a DeadLetter and processing goes on;
 * so does a line longer than ASW_REPLAY_LINE_MAX bytes, which is not kept
 * (memory stays bounded): its dead letter has the line number, not the bytes.
 *
 * Returns 0, or -1 when reading or writing fails (message in err).
 */
int asw_replay_run(const asw_config *cfg, FILE *in, FILE *out, asw_log *log,
                   asw_replay_stats *stats, char *err, size_t errlen);

/* The same, deciding each event by the ruleset `book` has in effect at its
 * event_time (replay --rules; NULL: the config's ruleset). */
int asw_replay_run_book(const asw_config *cfg, const asw_rulebook *book, FILE *in, FILE *out,
                        asw_log *log, asw_replay_stats *stats, char *err, size_t errlen);
/*
 * The what-if comparison (whatif.h) over `in`: every event run under
 * `before` and under `after` (both borrowed), each by a processor of its
 * own with cfg's state limits and topic.input (cfg's own ruleset is not
 * used: pass it as `before` to compare against it). Writes to `out`, in
 * input order, each decision that differs, then the summary, in `format`.
 * Lines are read as asw_replay_run() reads them; a line that is not an
 * event is a dead letter of both runs and is not reported (the replay
 * reports it). The summary's version strings borrow from the rulesets.
 *
 * Returns 0 and copies the summary into *summary (when not NULL), or -1
 * when reading or writing fails (message in err; *summary untouched).
 */
int asw_replay_compare(const asw_config *cfg, const asw_ruleset *before, const asw_ruleset *after,
                       asw_whatif_format format, FILE *in, FILE *out, asw_log *log,
                       asw_whatif_summary *summary, char *err, size_t errlen);
/* The same with rulebooks: a run with a book decides each event by the
 * ruleset the book has at its time (asw_whatif_set_rulebooks(); NULL: the
 * run's ruleset). */
int asw_replay_compare_books(const asw_config *cfg, const asw_ruleset *before,
                             const asw_ruleset *after, const asw_rulebook *before_book,
                             const asw_rulebook *after_book, asw_whatif_format format, FILE *in,
                             FILE *out, asw_log *log, asw_whatif_summary *summary, char *err,
                             size_t errlen);

/* Print a short human-readable summary of the stats. */
void asw_replay_print_summary(const asw_replay_stats *stats, FILE *out);

#endif /* ASW_REPLAY_H */
