/*
 * timeline.c - attempts from the ledger's history (see timeline.h for the rule).
 */
#include "timeline.h"

#include <string.h>

const char *sl_tl_outcome_name(sl_tl_outcome o)
{
    switch (o) {
    case SL_TL_SUCCEEDED:
        return "succeeded";
    case SL_TL_FAILED:
        return "failed";
    case SL_TL_INTERRUPTED:
        return "interrupted";
    case SL_TL_RUNNING:
    default:
        return "running";
    }
}

/* Closes the open wait of a (if any) at t. */
static void close_wait(sl_tl_attempt *a, int *waiting, long long t)
{
    if (*waiting && a->nwaits)
        a->waits[a->nwaits - 1].end_ms = t;
    *waiting = 0;
}

size_t sl_tl_attempts(const sl_tl_event *ev, size_t n, long long now_ms, sl_tl_attempt *out,
                      size_t cap)
{
    sl_tl_attempt *cur = NULL;
    size_t k = 0;
    int waiting = 0, ended = 0;

    for (size_t i = 0; i < n; i++) {
        const sl_tl_event *e = &ev[i];
        long long t = e->at_ms;

        if (!e->status || strcmp(e->status, "queued") == 0)
            continue;
        if (cur && e->attempt < cur->attempt)
            continue; /* a stale writer's row */
        if (!cur || e->attempt > cur->attempt) {
            if (cur && !ended) {
                close_wait(cur, &waiting, t);
                cur->end_ms = t;
                cur->outcome = SL_TL_INTERRUPTED;
            }
            if (k == cap)
                return k;
            cur = &out[k++];
            memset(cur, 0, sizeof(*cur));
            cur->attempt = e->attempt;
            cur->start_ms = cur->end_ms = t;
            cur->outcome = SL_TL_RUNNING;
            ended = waiting = 0;
        }
        if (ended)
            continue; /* nothing after a terminal event of the same attempt */
        if (t < cur->start_ms)
            t = cur->start_ms; /* clocks of two writers: never a negative bar */
        cur->end_ms = t;
        if (strcmp(e->status, "succeeded") == 0 || strcmp(e->status, "failed") == 0) {
            close_wait(cur, &waiting, t);
            cur->outcome = e->status[0] == 's' ? SL_TL_SUCCEEDED : SL_TL_FAILED;
            cur->error_code = e->error_code;
            cur->error_message = e->error_message;
            ended = 1;
        } else if (strcmp(e->status, "waiting") == 0) {
            if (waiting)
                continue; /* still the same wait */
            if (cur->nwaits == SL_TL_MAX_WAITS) {
                waiting = 1; /* extend the last one */
                continue;
            }
            cur->waits[cur->nwaits].start_ms = cur->waits[cur->nwaits].end_ms = t;
            cur->nwaits++;
            waiting = 1;
        } else {
            close_wait(cur, &waiting, t);
        }
    }
    if (cur && !ended) {
        long long end = now_ms > cur->end_ms ? now_ms : cur->end_ms;
        close_wait(cur, &waiting, end);
        cur->end_ms = end;
    }
    return k;
}
