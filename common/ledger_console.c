/* ledger_console.c - see ledger_console.h. */
#include "ledger_console.h"

#include <stdio.h>

#include "pg.h"

static const sl_pg_migration console_migrations[] = {
    /* IF NOT EXISTS throughout: the columns are plain additions, and a ledger that another
     * branch extended by hand must not fail to start. */
    {3001, "stage owners, heartbeats and messages",
     "CREATE TABLE IF NOT EXISTS snaplake_workers ("
     "  worker_id    text PRIMARY KEY,"
     "  host         text NOT NULL,"
     "  stage        text NOT NULL,"
     "  pid          integer NOT NULL,"
     "  heartbeat_ms bigint NOT NULL,"
     "  started_at   timestamptz NOT NULL DEFAULT now(),"
     "  heartbeat_at timestamptz NOT NULL DEFAULT now(),"
     "  stopped_at   timestamptz);"
     "ALTER TABLE snaplake_stage_runs ADD COLUMN IF NOT EXISTS owner_id text,"
     "  ADD COLUMN IF NOT EXISTS owner_host text,"
     "  ADD COLUMN IF NOT EXISTS input_msg text,"
     "  ADD COLUMN IF NOT EXISTS output_msg text;"
     "CREATE INDEX IF NOT EXISTS snaplake_stage_events_run_stage"
     "  ON snaplake_stage_events (run_id, stage, attempt);"},
};

int sl_ledger_console_migrate(PGconn *conn, char *err, size_t errlen)
{
    return sl_pg_migrate(conn, console_migrations, SL_ARRAY_LEN(console_migrations), NULL, err,
                         errlen);
}

int sl_ledger_console_claim(PGconn *conn, const char *run_id, const char *stage, int fence,
                            const char *worker_id, const char *host, const char *input_json,
                            char *err, size_t errlen)
{
    char fs[16];
    const char *p[6] = {run_id, stage, fs, worker_id, host, input_json};

    snprintf(fs, sizeof(fs), "%d", fence);
    /* One statement, so the row and its history agree; the attempt = fence guard is the
     * ledger's fencing rule (ledger.h): a stale writer changes nothing. */
    return sl_pg_exec(conn,
                      "WITH s AS (UPDATE snaplake_stage_runs SET owner_id = $4, owner_host = $5,"
                      "   input_msg = COALESCE($6, input_msg), output_msg = NULL"
                      "   WHERE run_id = $1 AND stage = $2 AND attempt = $3::integer"
                      "   RETURNING 1)"
                      " UPDATE snaplake_stage_events SET details = COALESCE(details, '{}'::jsonb)"
                      "   || jsonb_build_object('worker_id', $4::text, 'host', $5::text)"
                      " WHERE id = (SELECT max(id) FROM snaplake_stage_events"
                      "   WHERE run_id = $1 AND stage = $2 AND attempt = $3::integer"
                      "   AND status = 'running') AND EXISTS (SELECT 1 FROM s)",
                      6, p, NULL, err, errlen);
}

int sl_ledger_console_output(PGconn *conn, const char *run_id, const char *stage, int fence,
                             const char *output_json, char *err, size_t errlen)
{
    char fs[16];
    const char *p[4] = {run_id, stage, fs, output_json};

    if (!output_json)
        return 0;
    snprintf(fs, sizeof(fs), "%d", fence);
    return sl_pg_exec(conn,
                      "UPDATE snaplake_stage_runs SET output_msg = $4"
                      " WHERE run_id = $1 AND stage = $2 AND attempt = $3::integer",
                      4, p, NULL, err, errlen);
}

int sl_ledger_console_stopped(PGconn *conn, const char *worker_id, char *err, size_t errlen)
{
    const char *p[1] = {worker_id};

    return sl_pg_exec(conn, "UPDATE snaplake_workers SET stopped_at = now() WHERE worker_id = $1",
                      1, p, NULL, err, errlen);
}
