/*
 * ledger_console.h - what the run ledger keeps for the execution console (snaplakectl show,
 * redo, stale runs) beyond the stage states of ledger.h: who owns each running stage, that
 * owner's heartbeat, and each stage's input and output messages.
 *
 * Schema (migrations 3001.., applied by sl_ledger_migrate after the ledger's own):
 *   snaplake_workers(worker_id PK, host, stage, pid, heartbeat_ms, started_at, heartbeat_at,
 *                    stopped_at)            -- one row per worker process, heartbeated
 *   snaplake_stage_runs + owner_id, owner_host  the worker that began the current attempt
 *                       + input_msg            the input message of the current attempt, as
 *                                              received (what `redo` republishes)
 *                       + output_msg           the message it published on success
 * Each attempt's "running" history row gets {"worker_id", "host"} in its details.
 *
 * Heartbeats: one cheap UPDATE per worker every WORKER_HEARTBEAT (not per message), so a
 * worker with a thousand jobs costs the same as one with a single job. A stage row still
 * running or waiting is stale when its owner's heartbeat is older than three intervals (at
 * least 3 s), or the owner stopped, or has no row: SL_LEDGER_CONSOLE_STALE_SQL, the one
 * definition every reader uses.
 *
 * Every statement is parameterised; nothing from a message is spliced into SQL text.
 */
#ifndef SL_LEDGER_CONSOLE_H
#define SL_LEDGER_CONSOLE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "util.h"

/* The migration versions this module owns (the range 3001..3009). */
#define SL_LEDGER_CONSOLE_MIGRATION_FIRST 3001

/*
 * The stale test as an SQL boolean over a stage row aliased `s` LEFT JOINed to its owner's
 * snaplake_workers row aliased `w` (ON w.worker_id = s.owner_id).
 */
#define SL_LEDGER_CONSOLE_STALE_SQL                                                                \
    "(s.status IN ('running', 'waiting') AND s.owner_id IS NOT NULL AND"                           \
    " (w.worker_id IS NULL OR w.stopped_at IS NOT NULL OR"                                         \
    "  w.heartbeat_at < now() - make_interval(secs => greatest(3 * w.heartbeat_ms, 3000) / "       \
    "1000.0)))"

/* The UPSERT a worker heartbeats with: $1 worker_id, $2 host, $3 stage, $4 pid, $5 interval
 * ms. Exposed so the worker can send it asynchronously (PQsendQueryParams). */
#define SL_LEDGER_CONSOLE_HEARTBEAT_SQL                                                            \
    "INSERT INTO snaplake_workers (worker_id, host, stage, pid, heartbeat_ms)"                     \
    " VALUES ($1, $2, $3, $4::integer, $5::bigint)"                                                \
    " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL"

/* Applies this module's migrations (idempotent; sl_ledger_migrate calls it). 0 or -1. */
int sl_ledger_console_migrate(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Records that worker_id on host owns attempt `fence` of the stage (the attempt
 * sl_ledger_stage_begin returned) with input message input_json (the bytes as received,
 * NUL-terminated; may be NULL), clears the previous attempt's output, and names the owner in
 * that attempt's "running" history row. Nothing is written when a later begin took the row.
 * Returns 0 or -1 with the server's message.
 */
int sl_ledger_console_claim(PGconn *conn, const char *run_id, const char *stage, int fence,
                            const char *worker_id, const char *host, const char *input_json,
                            char *err, size_t errlen) SL_MUST_CHECK;

/* Records the output message text of attempt `fence` (NULL: nothing published). 0 or -1. */
int sl_ledger_console_output(PGconn *conn, const char *run_id, const char *stage, int fence,
                             const char *output_json, char *err, size_t errlen) SL_MUST_CHECK;

/* Marks a worker stopped (a clean shutdown: its abandoned jobs show as stale at once). */
int sl_ledger_console_stopped(PGconn *conn, const char *worker_id, char *err,
                              size_t errlen) SL_MUST_CHECK;

#endif /* SL_LEDGER_CONSOLE_H */
