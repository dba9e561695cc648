/*
 * timeline.h - a stage's attempts as bars over time, from the ledger's history of its
 * transitions (snaplake_stage_events, ledger.h). Pure: the report (report_html.h) draws what
 * this computes, and the unit tests feed it tables.
 *
 * The rule. Events of one (run, stage) in the order they were written. Each attempt starts at
 * its first event (the `running` a begin writes) and ends at its terminal event (succeeded or
 * failed), or, when it has none, at the first event of a later attempt (the attempt was
 * interrupted: a crash, a rebalance, a redelivery) or, for the last one, at `now` (still
 * going). Inside an attempt, each `waiting` event opens a wait that the next event of that
 * attempt closes (an export waiting for a slot). So a bar covers the whole attempt across
 * adoptions, and the waits show how much of it was spent queued.
 */
#ifndef SL_TIMELINE_H
#define SL_TIMELINE_H

#include <stddef.h>

/* One ledger transition; strings borrowed. */
typedef struct sl_tl_event {
    const char *status; /* queued, running, waiting, succeeded, failed */
    int attempt;
    long long at_ms; /* epoch ms */
    const char *error_code, *error_message;
} sl_tl_event;

typedef enum sl_tl_outcome {
    SL_TL_RUNNING,     /* last attempt, no terminal event yet */
    SL_TL_SUCCEEDED,   /* ended with succeeded */
    SL_TL_FAILED,      /* ended with failed */
    SL_TL_INTERRUPTED, /* a later attempt began before this one ended */
} sl_tl_outcome;

/* Waits per attempt kept apart; more are merged into the last one. */
#define SL_TL_MAX_WAITS 16

typedef struct sl_tl_wait {
    long long start_ms, end_ms;
} sl_tl_wait;

/* One bar. error strings borrowed from the events (the failed event's). */
typedef struct sl_tl_attempt {
    int attempt;
    long long start_ms, end_ms;
    sl_tl_outcome outcome;
    const char *error_code, *error_message;
    sl_tl_wait waits[SL_TL_MAX_WAITS];
    size_t nwaits;
} sl_tl_attempt;

/*
 * Computes the attempts of ev[0..n) (one stage, written order) into out[0..cap), now_ms closing
 * what is still open. Returns how many were written (at most cap; later ones are dropped).
 * An event whose attempt is below the current one (a fenced-out writer's late row) belongs to
 * nothing and is skipped. Pure.
 */
size_t sl_tl_attempts(const sl_tl_event *ev, size_t n, long long now_ms, sl_tl_attempt *out,
                      size_t cap);

/* "succeeded", "failed", "interrupted", "running". */
const char *sl_tl_outcome_name(sl_tl_outcome o);

#endif /* SL_TIMELINE_H */
