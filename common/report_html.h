/*
 * report_html.h - the run report as one self-contained HTML page (`snaplakectl report --html`):
 * per run a Gantt chart like the Step Functions execution view (one row per stage, one bar per
 * attempt coloured by its outcome, the waits inside it hatched), a timeline of every ledger
 * transition, and the failures with their causes; on top a summary of all runs.
 *
 * Self-contained: inline CSS and SVG, no script, no external asset, so it opens from a mail
 * attachment or an artifact store with no network. Everything that came from the ledger (ids,
 * error codes, AWS's failure causes, which an outside party can influence) is HTML-escaped
 * (& < > " '), and control characters are dropped, so no text can close an element or an
 * attribute. Pure apart from writing to `out`; the unit tests render tables of runs.
 */
#ifndef SL_REPORT_HTML_H
#define SL_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "timeline.h"
#include "util.h"

/* One (run, stage) row of the ledger with its history; everything borrowed. */
typedef struct sl_rh_stage {
    const char *stage, *status;
    int attempt;
    const char *export_task_id;
    long long started_ms, finished_ms; /* epoch ms; 0 = not set */
    const char *error_code, *error_message;
    const sl_tl_event *events; /* written order; may be empty (then started/finished are used) */
    size_t nevents;
} sl_rh_stage;

/* One run; stages in pipeline order. Everything borrowed. */
typedef struct sl_rh_run {
    const char *run_id, *cluster, *mode, *snapshot_id, *date;
    long long created_ms;
    const sl_rh_stage *stages;
    size_t nstages;
} sl_rh_run;

/* Writes `s` HTML-escaped (text and attribute values alike); NULL writes nothing. */
void sl_rh_escape(FILE *out, const char *s);

/*
 * Writes the page for runs[0..n) (newest first, as given) to out. now_ms closes what is still
 * running; title is the page's heading (escaped). Returns 0, or -1 when out reports a write
 * error (ferror) or memory ran out.
 */
int sl_rh_write(FILE *out, const sl_rh_run *runs, size_t n, long long now_ms,
                const char *title) SL_MUST_CHECK;

#endif /* SL_REPORT_HTML_H */
