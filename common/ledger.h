/*
 * ledger.h - the run ledger in PostgreSQL: one row per run, one row per (run, stage) with its
 * current state, and an append-only history of every stage transition (run history for
 * operators, the demo's report, and the dedupe check of the producer).
 *
 * Ordering rule (at-least-once): a stage writes its state here *before* it stores its Kafka
 * offset, and publishes its output *before* it records success, so after a crash the ledger
 * never claims more than what Kafka holds; a redelivered message simply runs the stage again
 * (attempt + 1).
 *
 * Schema (migrations in ledger.c, applied by sl_ledger_migrate under the migration lock):
 *   snaplake_runs(run_id PK, cluster, mode, snapshot_id, source_arn, date, source,
 *                 created_at, updated_at)
 *   snaplake_stage_runs(run_id, stage, status, attempt, started_at, finished_at, updated_at,
 *                 export_task_id, generation, aws_ids jsonb, error_code, error_message,
 *                 details jsonb, PK (run_id, stage))
 *   snaplake_stage_events(id, run_id, stage, status, attempt, generation, at, error_code,
 *                 error_message, details jsonb)   -- history, one row per transition
 * status is one of queued, running, waiting, succeeded, failed. generation is the export
 * generation (ids.h, sl_ids_export_task_id_gen; NULL = not known, e.g. other stages).
 *
 * Fencing: attempt is also the writer's fence. Each sl_ledger_stage_begin increments it
 * atomically and returns it; every later write of that stage row carries it and is refused
 * (SL_LEDGER_FENCED, nothing changed) once another begin took the row, so a consumer that
 * lost its partition (a zombie after a rebalance, or a run replayed elsewhere) can never
 * overwrite the new owner's state.
 */
#ifndef SL_LEDGER_H
#define SL_LEDGER_H

#include <stdio.h>

#include <libpq-fe.h>

#include "msg.h"
#include "util.h"

#define SL_LEDGER_QUEUED "queued"
#define SL_LEDGER_RUNNING "running"
#define SL_LEDGER_WAITING "waiting"
#define SL_LEDGER_SUCCEEDED "succeeded"
#define SL_LEDGER_FAILED "failed"

/* Returned (instead of -1) by the fenced writes below when a later begin owns the stage row:
 * the caller is a stale writer and must drop the job without publishing or retrying. */
#define SL_LEDGER_FENCED 1

/* Applies the ledger's migrations (idempotent, serialised by an advisory lock). */
int sl_ledger_migrate(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Records the run described by m (any stage message: run_id, cluster, mode, snapshot_id,
 * source_arn, date, source) if it is not there yet. *created (may be NULL) is 1 when this
 * call inserted it. Returns 0 or -1 with the server's message.
 */
int sl_ledger_run_ensure(PGconn *conn, const sl_msg *m, int *created, char *err,
                         size_t errlen) SL_MUST_CHECK;

/* *exists = 1 when run_id is recorded. Returns 0 or -1. */
int sl_ledger_run_exists(PGconn *conn, const char *run_id, int *exists, char *err,
                         size_t errlen) SL_MUST_CHECK;

/*
 * A stage starts working on the run of m: ensures the run row, then sets the stage row to
 * running with attempt = previous attempt + 1 (1 when new), started_at = now, clears
 * finished_at and the error; appends a history row. *fence (may be NULL) gets the new attempt
 * number, the fence the writes below must carry. Returns 0 or -1.
 */
int sl_ledger_stage_begin(PGconn *conn, const sl_msg *m, const char *stage, int *fence, char *err,
                          size_t errlen) SL_MUST_CHECK;

/*
 * Returns 0 when `fence` still owns the stage row, SL_LEDGER_FENCED (logged at warn) when a
 * later begin took it, -1 on a database error or a row never begun. A cheap read for a
 * writer about to do something irreversible (publish its output).
 */
int sl_ledger_stage_check(PGconn *conn, const char *run_id, const char *stage, int fence, char *err,
                          size_t errlen) SL_MUST_CHECK;

/*
 * Updates a running stage without finishing it: status (running|waiting), the AWS ids known
 * so far (export_task_id may be NULL; generation 0 = unchanged; aws_ids_json/details_json
 * NULL or a JSON object text, merged into the stored object). Appends a history row only when
 * the status or the generation changes. fence: what sl_ledger_stage_begin returned. Returns
 * 0, SL_LEDGER_FENCED (nothing written, a warning logged with run id, stage and both fences)
 * or -1.
 */
int sl_ledger_stage_update(PGconn *conn, const char *run_id, const char *stage, int fence,
                           const char *status, const char *export_task_id, int generation,
                           const char *aws_ids_json, const char *details_json, char *err,
                           size_t errlen) SL_MUST_CHECK;

/*
 * Finishes a stage: status succeeded|failed, finished_at = now, error code/message (NULL on
 * success), ids, generation and details as above; appends a history row. Fenced and returns
 * as sl_ledger_stage_update.
 */
int sl_ledger_stage_finish(PGconn *conn, const char *run_id, const char *stage, int fence,
                           const char *status, const char *error_code, const char *error_message,
                           const char *export_task_id, int generation, const char *aws_ids_json,
                           const char *details_json, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Prints a human report of the runs whose run_id is in run_ids (n > 0), or of every run
 * created in the last `since_hours` hours when n == 0: per run its stages in pipeline order
 * with status, attempt, duration and error. For the demo and the ops CLI.
 */
int sl_ledger_report(PGconn *conn, FILE *out, const char *const *run_ids, size_t n, int since_hours,
                     char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_LEDGER_H */
