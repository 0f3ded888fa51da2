/*
 * whatif.h -- the what-if comparison: the same stream of events run under
 * two rulesets, by two independent processors, and the decisions that
 * differ between the two runs, with a summary (by flip, by reason, and the
 * money reserved differently).
 *
 * "before" is the ruleset in force, "after" the one being considered. The
 * comparison is built on two `const asw_ruleset *`, not on configuration
 * files: the command reads them from properties files today, and a
 * timeline of rulesets (one ruleset per event) can feed the same code
 * later.
 *
 * Once a decision on an order differs (in outcome, or in what it reserved),
 * the two runs hold different states for that order, and its later
 * decisions may differ because of that state rather than because of the
 * rules. A change on an order whose state had not diverged yet is
 * *direct*: the two rulesets decided the same state differently.
 */
#ifndef ASW_WHATIF_H
#define ASW_WHATIF_H

#include <stdbool.h>
#include <stdint.h>

#include "asw/buf.h"
#include "asw/model.h"
#include "asw/processor.h"
#include "asw/rulebook.h"
#include "asw/ruleset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct asw_whatif asw_whatif;

/* One run's side of a changed decision. */
typedef struct asw_whatif_side {
    bool decided; /* false: this run sent the event to the dead letters
                     (LATE_EVENT), so it made no decision */
    asw_outcome outcome;
    asw_reason_set reasons;
    int64_t reserved; /* what the decision reserved (its PENDING record), 0 if none */
    int32_t applications_used;
    int64_t order_remaining;
    int64_t sku_remaining;
    const char *ruleset_version;
} asw_whatif_side;

/*
 * A decision that differs between the two runs: its outcome, its reasons,
 * what it reserved, or whether it was made at all. Strings are borrowed
 * from the event and from the processors' states: valid until the next
 * asw_whatif_apply() or asw_whatif_destroy().
 */
typedef struct asw_whatif_change {
    int64_t line;   /* 1-based line of the input; set by the caller (0: unknown) */
    int64_t offset; /* the event's source offset */
    const char *order_id;
    const char *aftersale_id;
    const char *sku_order_id;
    const char *shop_id;
    asw_initiator initiator;
    int64_t event_time;
    int64_t apply_amount;
    bool duplicate; /* re-emitted as a duplicate in either run */
    /* An earlier event of the order already had a different effect in the
     * two runs (a decision with another outcome or reservation, or an
     * event one run could not apply), so this change may come from the
     * diverged state. false: a direct change. */
    bool order_diverged_before;
    asw_whatif_side before;
    asw_whatif_side after;
} asw_whatif_change;

/* What one run did over the whole stream. */
typedef struct asw_whatif_run_totals {
    int64_t decisions;
    int64_t accepted;
    int64_t dead_letters; /* the lines neither run could read, and its LATE_EVENTs */
    int64_t reserved;     /* the sum of the reservations of accepted applications */
    /* The orders' ledgers as their last refund records left them, summed. */
    int64_t refunded_at_end;
    int64_t reserved_at_end;
} asw_whatif_run_totals;

typedef struct asw_whatif_summary {
    int64_t events;   /* records handed over, dead letters included */
    int64_t compared; /* events with a decision in at least one run */
    int64_t changed;
    int64_t direct; /* changes on orders that had not diverged before */
    int64_t accepted_to_rejected;
    int64_t rejected_to_accepted;
    int64_t same_outcome;                 /* same outcome, other reasons (or reservation) */
    int64_t one_run_only;                 /* decided in one run, LATE_EVENT in the other */
    int64_t reasons_gained[ASW_R__COUNT]; /* among the changes: in after, not before */
    int64_t reasons_lost[ASW_R__COUNT];   /* in before, not after */
    asw_whatif_run_totals before;
    asw_whatif_run_totals after;
    const char *before_version; /* the rulesets' versions, borrowed */
    const char *after_version;
    /* With rulebooks (asw_whatif_set_rulebooks()): the versions above are
     * their bases', and these the changes by event time on top. */
    int64_t before_changes, after_changes;
} asw_whatif_summary;

/*
 * A comparison of `before` and `after` (borrowed: both must outlive it),
 * each run by a processor of its own with `limits` (copied) and input
 * topic `topic` (copied; the source_topic of the decisions). Never NULL
 * (OOM aborts).
 */
asw_whatif *asw_whatif_new(const asw_ruleset *before, const asw_ruleset *after,
                           const asw_state_limits *limits, const char *topic);
/* Decide each run's events by the ruleset its book has at the event's time
 * (replay --rules, a ruleset file as OTHER): NULL keeps that run's ruleset.
 * Borrowed; before the first event. */
void asw_whatif_set_rulebooks(asw_whatif *w, const asw_rulebook *before, const asw_rulebook *after);
/* asw_whatif_destroy(NULL) is a no-op. */
void asw_whatif_destroy(asw_whatif *w);

/*
 * Apply one event to both runs. Returns true and fills *change when the
 * event's decision differs between them (*change untouched otherwise).
 * Work per event is O(1) in the stream's length: one lookup of the order.
 */
bool asw_whatif_apply(asw_whatif *w, const asw_event *ev, const asw_source *src,
                      asw_whatif_change *change);

/* A record neither run can read (not an event): counted as a dead letter
 * of both. */
void asw_whatif_skip(asw_whatif *w);

/* The summary so far. Owned by w; valid until the next call on w. */
const asw_whatif_summary *asw_whatif_summary_get(const asw_whatif *w);

/* The two formats of the report. */
typedef enum asw_whatif_format {
    ASW_WHATIF_TEXT = 0, /* readable, for a person */
    ASW_WHATIF_JSONL,    /* one JSON object a change, then the summary */
} asw_whatif_format;

/* Parse "text" or "jsonl". Returns 0, or -1 (*out untouched). */
int asw_whatif_format_parse(const char *s, asw_whatif_format *out);

/* Append one change (one JSON line, or a few lines of text) to out. */
void asw_whatif_format_change(const asw_whatif_change *c, asw_whatif_format f, asw_buf *out);
/* Append the summary (one JSON line, or a block of text) to out. */
void asw_whatif_format_summary(const asw_whatif_summary *s, asw_whatif_format f, asw_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* ASW_WHATIF_H */
