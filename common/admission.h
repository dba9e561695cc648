/*
 * admission.h - the export stage's record of its slot decisions, for operators.
 *
 * Which slot a run holds is visible in PostgreSQL itself (pg_locks and the slot connection's
 * application_name, export.c), but the foreign exports a worker counts against
 * EXPORT_TASK_LIMIT are known only to that worker: they come from its own
 * DescribeExportTasks listing. So each export worker writes what it saw at its admission
 * decisions into one row of its own, snaplake_export_admission, which `snaplakectl slots`
 * reads with nothing but SELECT rights and no AWS settings:
 *
 *   snaplake_export_admission(worker PK "host:pid", task_limit, held, foreign_count,
 *                             foreign_ids jsonb array, decided_at)
 *
 * Migration version SL_ADMISSION_MIGRATION (the 4001.. range, in the shared migrations
 * table). A row of a worker that died stays until the same host:pid writes again; readers
 * show decided_at so an old row reads as old. The record is advice for people, never an
 * input of a decision: a failed write is logged by the caller and changes nothing.
 */
#ifndef SL_ADMISSION_H
#define SL_ADMISSION_H

#include <stddef.h>

#include <libpq-fe.h>

#include "rds.h"
#include "util.h"

#define SL_ADMISSION_MIGRATION 4001
/* An unchanged decision is written again this often, so decided_at shows the worker lives. */
#define SL_ADMISSION_REFRESH_MS 5000

/* A worker's last written decision, embedded in the export stage's context. */
typedef struct sl_admission {
    char worker[128];     /* "host:pid" */
    long long written_ms; /* monotonic; 0 = never */
    long long limit, held, foreign;
} sl_admission;

/* Creates snaplake_export_admission when missing (serialised by sl_pg_migrate). 0 or -1. */
int sl_admission_migrate(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/* Fills a->worker with "host:pid" and clears the rest. */
void sl_admission_init(sl_admission *a);

/*
 * Notes one decision: limit, held (task ids of live slots, |L|) and the foreign exports,
 * which are the running tasks of `running` that are none of own[0..nown) (as
 * sl_rds_count_foreign_running counts them; their ids are recorded). Writes (upserts the
 * worker's row) when the numbers changed or SL_ADMISSION_REFRESH_MS passed, else does
 * nothing. Everything borrowed. Returns 0, or -1 with the server's message.
 */
int sl_admission_note(sl_admission *a, PGconn *conn, long long limit, long long held,
                      const sl_rds_export_tasks *running, const char *const *own, size_t nown,
                      char *err, size_t errlen) SL_MUST_CHECK;

/* Deletes the worker's row (clean shutdown). 0 or -1. */
int sl_admission_forget(sl_admission *a, PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_ADMISSION_H */
