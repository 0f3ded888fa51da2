/*
 * replay.c -- the offline replay: JSON Lines in, the core, JSON Lines out.
 *
 * The same core (ledger) and the same per-record steps as the Kafka worker;
 * only the transport differs. Deterministic: the output depends only on the
 * input file and the ruleset.
 */
#include "asw/replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"
#include "asw/buf.h"
#include "asw/jsonl.h"
#include "asw/processor.h"

static void count_outputs(asw_replay_stats *st, const asw_result *res) {
    if (res->status == ASW_APPLY_IGNORED)
        st->ignored++;
    if (res->has_decision) {
        const asw_decision *d = &res->decision;
        st->decisions++;
        if (d->duplicate)
            st->duplicates++;
        if (d->outcome == ASW_OUT_ACCEPTED)
            st->accepted++;
        if (d->multi_refund)
            st->multi_refunds++;
        for (int r = 0; r < ASW_R__COUNT; r++)
            if (d->reasons & (1u << r))
                st->reasons[r]++;
    }
    if (res->has_record) {
        st->records++;
        if (res->record.over_refund)
            st->over_refunds++;
    }
}

/* Where a line's outputs go: its JSON Lines, after its dead letter. */
typedef struct line_out {
    asw_buf *buf;
    asw_replay_stats *stats;
    const char *line;
    size_t n;
} line_out;

static void out_dead_letter(void *opaque, const char *code, const char *error) {
    line_out *o = opaque;
    bool late = strcmp(code, "LATE_EVENT") == 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", late ? "LATE_EVENT" : "invalid event", error);
    asw_jsonl_format_dead_letter(o->stats->lines, msg, o->line, o->n, o->buf);
    o->stats->dead_letters++;
    o->stats->late_events += late;
}

static void out_decision(void *opaque, const asw_decision *d) {
    asw_jsonl_format_decision(d, ((line_out *)opaque)->buf);
}

static void out_record(void *opaque, const asw_refund_record *r) {
    asw_jsonl_format_record(r, ((line_out *)opaque)->buf);
}

static const asw_result_sink replay_sink = {out_dead_letter, out_decision, out_record};

/*
 * Lines of the input, read in blocks. A line longer than ASW_REPLAY_LINE_MAX
 * is not kept: its bytes are counted and dropped as they come, so memory
 * stays within the maximum and a block whatever the input.
 */
#define READ_BLOCK 65536

typedef struct line_reader {
    FILE *in;
    char *buf;
    size_t cap, pos, len; /* buf[pos..len) is read and not yet returned */
    bool eof;
} line_reader;

/* The next line, without its '\n', in *line (n bytes, writable, with room
 * for a NUL after it) and its whole length in *total (> ASW_REPLAY_LINE_MAX:
 * too long, and *line holds only its tail). Returns 1, 0 at the end of the
 * input, -1 on a read error. */
static int next_line(line_reader *r, char **line, size_t *n, size_t *total) {
    size_t scanned = 0, dropped = 0;
    if (!r->buf) { /* memchr and memmove want a buffer, even for 0 bytes */
        r->cap = READ_BLOCK + 1;
        r->buf = asw_malloc(r->cap);
    }
    for (;;) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start + scanned, '\n', r->len - r->pos - scanned);
        if (nl || (r->eof && (r->len > r->pos || dropped))) {
            *line = start;
            *n = nl ? (size_t)(nl - start) : r->len - r->pos;
            *total = dropped + *n;
            r->pos += *n + (nl ? 1 : 0);
            return 1;
        }
        if (r->eof)
            return 0;
        scanned = r->len - r->pos;
        memmove(r->buf, start, scanned);
        r->pos = 0;
        r->len = scanned;
        if (r->len > ASW_REPLAY_LINE_MAX) {
            dropped += r->len;
            r->len = scanned = 0;
        }
        if (r->cap < r->len + READ_BLOCK + 1) {
            r->cap = r->len + READ_BLOCK + 1;
            r->buf = asw_realloc(r->buf, r->cap);
        }
        size_t got = fread(r->buf + r->len, 1, READ_BLOCK, r->in);
        if (got == 0 && ferror(r->in))
            return -1;
        r->eof = got == 0;
        r->len += got;
    }
}

static size_t trim_newline(char *line, size_t n) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    line[n] = '\0';
    return n;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* What the next input record is. */
typedef enum { REC_EVENT, REC_BAD, REC_END, REC_READ_ERROR } rec_kind;

/*
 * The next record, blank lines skipped (*lineno counts every physical
 * line): an event into *ev (REC_EVENT; the caller clears it), or a line
 * that is not one (REC_BAD, logged, why in perr; *raw and *rawlen the line,
 * or empty for a line too long to be kept), or the end, or a read error.
 */
static rec_kind next_record(line_reader *r, int64_t *lineno, asw_log *log, asw_event *ev,
                            const char **raw, size_t *rawlen, char *perr, size_t plen) {
    char *line;
    size_t n, total;
    int got;
    while ((got = next_line(r, &line, &n, &total)) > 0) {
        ++*lineno;
        if (total > ASW_REPLAY_LINE_MAX) {
            /* Not kept, so not in the dead letter: its line number says
             * where it is in the input. */
            snprintf(perr, plen, "line of %zu bytes is longer than the maximum of %d", total,
                     ASW_REPLAY_LINE_MAX);
            *raw = "";
            *rawlen = 0;
        } else {
            n = trim_newline(line, n);
            if (blank(line, n))
                continue;
            *raw = line;
            *rawlen = n;
            if (asw_jsonl_parse_event(line, n, ev, perr, plen) == 0)
                return REC_EVENT;
        }
        asw_log_write(log, ASW_LOG_WARN, "dead_letter", "line=%lld error=\"%s\"",
                      (long long)*lineno, perr);
        return REC_BAD;
    }
    return got < 0 ? REC_READ_ERROR : REC_END;
}

int asw_replay_run(const asw_config *cfg, FILE *in, FILE *out, asw_log *log,
                   asw_replay_stats *stats, char *err, size_t errlen) {
    return asw_replay_run_book(cfg, NULL, in, out, log, stats, err, errlen);
}

int asw_replay_run_book(const asw_config *cfg, const asw_rulebook *book, FILE *in, FILE *out,
                        asw_log *log, asw_replay_stats *stats, char *err, size_t errlen) {
    int rc = -1;
    const asw_settings *s = asw_config_settings(cfg);
    asw_processor *proc = asw_processor_new(s->ruleset, &s->state, false);
    asw_source src = {.topic = s->topic.input, .partition = 0, .offset = 0};
    asw_processor_set_rulebook(proc, book);
    asw_processor_set_topic(proc, src.topic);
    asw_buf buf = ASW_BUF_INIT;
    line_reader reader = {.in = in};
    const char *line;
    size_t n;
    rec_kind k;
    asw_event ev;
    char perr[256];

    memset(stats, 0, sizeof *stats);
    while ((k = next_record(&reader, &stats->lines, log, &ev, &line, &n, perr, sizeof perr)) ==
               REC_EVENT ||
           k == REC_BAD) {
        stats->events++;
        asw_buf_reset(&buf);
        if (k == REC_BAD) {
            asw_jsonl_format_dead_letter(stats->lines, perr, line, n, &buf);
            stats->dead_letters++;
        } else {
            asw_result res;
            asw_processor_apply(proc, &ev, &src, &res);
            line_out o = {&buf, stats, line, n};
            asw_result_dispatch(&res, &replay_sink, &o);
            count_outputs(stats, &res);
            asw_event_clear(&ev);
        }
        src.offset++;
        if (buf.len && fwrite(buf.data, 1, buf.len, out) != buf.len) {
            snprintf(err, errlen, "write failed: %s", strerror(errno));
            goto fail;
        }
    }
    if (k == REC_READ_ERROR) {
        snprintf(err, errlen, "read failed: %s", strerror(errno));
        goto fail;
    }
    if (fflush(out) != 0) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    free(reader.buf);
    asw_buf_free(&buf);
    asw_processor_destroy(proc);
    return rc;
}

int asw_replay_compare(const asw_config *cfg, const asw_ruleset *before, const asw_ruleset *after,
                       asw_whatif_format format, FILE *in, FILE *out, asw_log *log,
                       asw_whatif_summary *summary, char *err, size_t errlen) {
    return asw_replay_compare_books(cfg, before, after, NULL, NULL, format, in, out, log, summary,
                                    err, errlen);
}

int asw_replay_compare_books(const asw_config *cfg, const asw_ruleset *before,
                             const asw_ruleset *after, const asw_rulebook *before_book,
                             const asw_rulebook *after_book, asw_whatif_format format, FILE *in,
                             FILE *out, asw_log *log, asw_whatif_summary *summary, char *err,
                             size_t errlen) {
    int rc = -1;
    const asw_settings *s = asw_config_settings(cfg);
    asw_source src = {.topic = s->topic.input, .partition = 0, .offset = 0};
    asw_whatif *w = asw_whatif_new(before, after, &s->state, src.topic);
    asw_whatif_set_rulebooks(w, before_book, after_book);
    asw_buf buf = ASW_BUF_INIT;
    line_reader reader = {.in = in};
    const char *line;
    size_t n;
    rec_kind k;
    asw_event ev;
    int64_t lineno = 0;
    char perr[256];

    while ((k = next_record(&reader, &lineno, log, &ev, &line, &n, perr, sizeof perr)) ==
               REC_EVENT ||
           k == REC_BAD) {
        asw_buf_reset(&buf);
        if (k == REC_BAD) {
            /* Not an event in either run: a dead letter of both, as the
             * replay writes it; no decision to compare. */
            asw_whatif_skip(w);
        } else {
            asw_whatif_change change;
            if (asw_whatif_apply(w, &ev, &src, &change)) {
                change.line = lineno;
                asw_whatif_format_change(&change, format, &buf);
            }
            asw_event_clear(&ev);
        }
        src.offset++;
        if (buf.len && fwrite(buf.data, 1, buf.len, out) != buf.len) {
            snprintf(err, errlen, "write failed: %s", strerror(errno));
            goto fail;
        }
    }
    if (k == REC_READ_ERROR) {
        snprintf(err, errlen, "read failed: %s", strerror(errno));
        goto fail;
    }
    asw_buf_reset(&buf);
    if (format == ASW_WHATIF_TEXT && asw_whatif_summary_get(w)->changed)
        asw_buf_append_str(&buf, "\n");
    asw_whatif_format_summary(asw_whatif_summary_get(w), format, &buf);
    if (fwrite(buf.data, 1, buf.len, out) != buf.len || fflush(out) != 0) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        goto fail;
    }
    if (summary)
        *summary = *asw_whatif_summary_get(w);
    rc = 0;
fail:
    free(reader.buf);
    asw_buf_free(&buf);
    asw_whatif_destroy(w);
    return rc;
}

void asw_replay_print_summary(const asw_replay_stats *st, FILE *out) {
    fprintf(out,
            "replay: %lld events -> %lld decisions (%lld accepted, %lld rejected, "
            "%lld duplicates), %lld refund records, %lld dead letters (%lld late events), "
            "%lld ignored\n",
            (long long)st->events, (long long)st->decisions, (long long)st->accepted,
            (long long)(st->decisions - st->accepted), (long long)st->duplicates,
            (long long)st->records, (long long)st->dead_letters, (long long)st->late_events,
            (long long)st->ignored);
    for (int r = 0; r < ASW_R__COUNT; r++)
        if (st->reasons[r])
            fprintf(out, "  %-32s %lld\n", asw_reason_name((asw_reason)r),
                    (long long)st->reasons[r]);
    fprintf(out, "  multi-refund tagged decisions    %lld\n", (long long)st->multi_refunds);
    fprintf(out, "  over-refund records              %lld\n", (long long)st->over_refunds);
}
