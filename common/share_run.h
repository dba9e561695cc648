/*
 * share_run.h - the share stage's I/O driver: the loop share.h describes, as small
 * non-blocking steps (one AWS call each), shared by `snaplake-worker share` (worker/share.c,
 * one step per job turn, waits as job->next_step_ms) and `snaplakectl share plan|apply`
 * (ctl/share.c, sl_share_run_finish sleeps between the steps).
 *
 *   ACCOUNT   STS GetCallerIdentity, only when neither the policy nor the caller names the
 *             catalog (the account is the Data Catalog's id)
 *   TABLES    Glue GetTables of the cluster's database, one page a step; a table's columns
 *             are its StorageDescriptor columns and its partition keys
 *   LIVE      ListLFTags (pages), GetResourceLFTags of the database, then of each table
 *             (ShowAssignedLFTags), ListDataCellsFilter (pages), ListPermissions (pages, the
 *             whole catalog: the plan picks what concerns it)
 *   PLAN      sl_share_desire + sl_share_plan_make; plan_only ends here
 *   APPLY     one step of the plan a call (sl_share_step_request). The batch calls and
 *             Add/RemoveLFTags* report per-entry Failures inside a 200: a transient entry
 *             is left for the next round, a permanent one fails the run with the entry's own
 *             code and message
 *   then LIVE again and PLAN again: done only when the re-plan has no steps (a write
 *   reported failed may have succeeded, and the reverse), after at most max_rounds rounds.
 *
 * A transient error of a read is retried with backoff (a deadline in *next_ms); of a write
 * (ConcurrentModificationException above all) it sends the run back to LIVE after the backoff,
 * because another writer changed what the plan was made from (a filter's VersionId, a tag
 * another cluster's run created). So does AlreadyExistsException on CreateLFTag and
 * CreateDataCellsFilter (a job of the same cluster, or a redelivery, made it first): the fresh
 * plan makes it an update or nothing. max_retries transient failures in a row end the run with
 * the last one, marked transient (the worker's RETRY).
 *
 * What was made and what the tables' columns are is the caller's to record (share_store.h):
 * the driver reads nothing from PostgreSQL and writes nothing there.
 */
#ifndef SL_SHARE_RUN_H
#define SL_SHARE_RUN_H

#include <stddef.h>

#include "aws_http.h"
#include "log.h"
#include "lf.h"
#include "lfpolicy.h"
#include "lfpolicy_file.h"
#include "share.h"
#include "share_tables.h"
#include "util.h"

typedef struct sl_share_run_opts {
    const sl_lfpolicy *policy;       /* borrowed for the run's life */
    const char *cluster;             /* copied */
    const char *account_id;          /* NULL: the policy's catalog_id, else GetCallerIdentity */
    const sl_share_history *history; /* borrowed; NULL: nothing recorded */
    int plan_only;                   /* stop after the first plan (`share plan`) */
    int prune_outside;               /* `apply --prune`: every grant the plan finds on the
                                        cluster's resources that the policy does not name is
                                        revoked, whoever made it (prune for one run) */
    long long retry_base_ms;         /* backoff base (full jitter), default 200 */
    long long retry_max_ms;          /* backoff cap, default 10000 */
    int max_retries;                 /* transient failures in a row, default 8 */
    int max_rounds;                  /* apply + read-back rounds, default 8 */
    const sl_log_ctx *log;           /* borrowed; NULL: no context on the run's log lines */
} sl_share_run_opts;

typedef enum sl_share_run_status {
    SL_SHARE_RUN_PENDING = 0, /* call sl_share_run_step again at *next_ms */
    SL_SHARE_RUN_DONE,        /* converged (or planned, with plan_only) */
    SL_SHARE_RUN_FAILED       /* sl_share_run_error says why */
} sl_share_run_status;

typedef struct sl_share_run sl_share_run;

/* A new run; aws is borrowed and must outlive it. NULL with err (bad options, OOM). */
sl_share_run *sl_share_run_new(sl_aws *aws, const sl_share_run_opts *o, char *err, size_t errlen);
void sl_share_run_free(sl_share_run *r);

/*
 * One step: at most one AWS call. now_ms is sl_mono_ms(); *next_ms gets the monotonic time
 * the next step is due (PENDING only). Once DONE or FAILED, further calls return the same.
 */
sl_share_run_status sl_share_run_step(sl_share_run *r, long long now_ms, long long *next_ms);

/* Drives the run to its end, sleeping between steps (the command line only). */
sl_share_run_status sl_share_run_finish(sl_share_run *r);

/* After FAILED: AWS's or our own code, the message, AWS's request id ("" when none), and
   whether a later attempt may succeed. */
typedef struct sl_share_run_error {
    char code[128];
    char message[1024];
    char request_id[128];
    int transient;
    long long retry_after_ms;
} sl_share_run_error;
const sl_share_run_error *sl_share_run_error_get(const sl_share_run *r);

/* After DONE (borrowed from the run): */
/* The first plan: what the run found to do (its text is the run's summary). */
const sl_share_plan *sl_share_run_first_plan(const sl_share_run *r);
/* The last plan (no steps when converged; its drift is what is left). */
const sl_share_plan *sl_share_run_last_plan(const sl_share_run *r);
/* The desired state (tables shared, held, and why). */
const sl_share_desired *sl_share_run_desired(const sl_share_run *r);
/* The Glue tables read, with their columns (same order as desired->tables). */
const sl_share_table_in *sl_share_run_tables(const sl_share_run *r, size_t *n);
/* Grant keys (sl_lf_grant_key) this run granted, and the owned keys no live grant has now
   (revoked, by this run or anyone): the caller records and forgets them. made is also valid
   after FAILED (the grants written before the failure; desired then names their database). */
const sl_lf_strv *sl_share_run_made(const sl_share_run *r);
const sl_lf_strv *sl_share_run_gone(const sl_share_run *r);
/* Rounds of apply + read-back, AWS calls made, write calls made. */
int sl_share_run_rounds(const sl_share_run *r);
long long sl_share_run_calls(const sl_share_run *r);
long long sl_share_run_writes(const sl_share_run *r);

#endif /* SL_SHARE_RUN_H */
