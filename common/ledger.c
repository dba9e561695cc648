/*
 * ledger.c - the run ledger (see ledger.h for the schema and the ordering rule).
 *
 * Every write is one short transaction so that a crash leaves either the old or the new state,
 * never half of a transition. Statements are parameterised (PQexecParams through sl_pg_exec):
 * nothing from a message is ever spliced into SQL text.
 */
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

#include "ledger_console.h"
#include "log.h"
#include "pg.h"

static const sl_pg_migration ledger_migrations[] = {
    {1, "run ledger",
     "CREATE TABLE snaplake_runs ("
     "  run_id      text PRIMARY KEY,"
     "  cluster     text NOT NULL,"
     "  mode        text NOT NULL CHECK (mode IN ('snapshot', 'cluster')),"
     "  snapshot_id text,"
     "  source_arn  text,"
     "  date        date NOT NULL,"
     "  source      text,"
     "  created_at  timestamptz NOT NULL DEFAULT now(),"
     "  updated_at  timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX snaplake_runs_cluster_date ON snaplake_runs (cluster, date);"
     "CREATE INDEX snaplake_runs_snapshot ON snaplake_runs (snapshot_id);"
     "CREATE TABLE snaplake_stage_runs ("
     "  run_id         text NOT NULL REFERENCES snaplake_runs (run_id) ON DELETE CASCADE,"
     "  stage          text NOT NULL,"
     "  status         text NOT NULL CHECK (status IN"
     "                   ('queued', 'running', 'waiting', 'succeeded', 'failed')),"
     "  attempt        integer NOT NULL DEFAULT 1,"
     "  started_at     timestamptz,"
     "  finished_at    timestamptz,"
     "  updated_at     timestamptz NOT NULL DEFAULT now(),"
     "  export_task_id text,"
     "  aws_ids        jsonb NOT NULL DEFAULT '{}',"
     "  error_code     text,"
     "  error_message  text,"
     "  details        jsonb NOT NULL DEFAULT '{}',"
     "  PRIMARY KEY (run_id, stage));"
     "CREATE INDEX snaplake_stage_runs_status ON snaplake_stage_runs (stage, status);"
     "CREATE TABLE snaplake_stage_events ("
     "  id            bigserial PRIMARY KEY,"
     "  run_id        text NOT NULL REFERENCES snaplake_runs (run_id) ON DELETE CASCADE,"
     "  stage         text NOT NULL,"
     "  status        text NOT NULL,"
     "  attempt       integer NOT NULL,"
     "  at            timestamptz NOT NULL DEFAULT now(),"
     "  error_code    text,"
     "  error_message text,"
     "  details       jsonb);"
     "CREATE INDEX snaplake_stage_events_run ON snaplake_stage_events (run_id, at);"},
    /* The export generation (ids.h: a redo of a FAILED/CANCELED export gets `<id>-g<N>`).
     * IF NOT EXISTS: a column added by hand before this migration is not an error. */
    {2, "export generation",
     "ALTER TABLE snaplake_stage_runs ADD COLUMN IF NOT EXISTS generation integer;"
     "ALTER TABLE snaplake_stage_events ADD COLUMN IF NOT EXISTS generation integer;"},
};

int sl_ledger_migrate(PGconn *conn, char *err, size_t errlen)
{
    /* Then the execution console's (owners, heartbeats, messages; ledger_console.h). */
    if (sl_pg_migrate(conn, ledger_migrations, SL_ARRAY_LEN(ledger_migrations), NULL, err, errlen))
        return -1;
    return sl_ledger_console_migrate(conn, err, errlen);
}

/* Runs `body` statements between BEGIN and COMMIT; on any failure rolls back. */
static int tx_begin(PGconn *conn, char *err, size_t errlen)
{
    return sl_pg_exec(conn, "BEGIN", 0, NULL, NULL, err, errlen);
}

static int tx_end(PGconn *conn, int failed, char *err, size_t errlen)
{
    char ignored[SL_ERRLEN];

    if (failed) {
        /* The first error is already in err; a failing ROLLBACK adds nothing useful. */
        if (sl_pg_exec(conn, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored)) != 0)
            return -1;
        return -1;
    }
    return sl_pg_exec(conn, "COMMIT", 0, NULL, NULL, err, errlen);
}

static int run_insert(PGconn *conn, const sl_msg *m, int *created, char *err, size_t errlen)
{
    PGresult *res = NULL;
    const char *params[7];

    if (!m->run_id || !m->cluster || !m->date)
        return sl_seterr(err, errlen, "ledger: run needs run_id, cluster and date");
    params[0] = m->run_id;
    params[1] = m->cluster;
    params[2] = m->mode ? m->mode : "snapshot";
    params[3] = m->snapshot_id;
    params[4] = m->source_arn;
    params[5] = m->date;
    params[6] = m->source;
    if (sl_pg_exec(conn,
                   "INSERT INTO snaplake_runs (run_id, cluster, mode, snapshot_id, source_arn,"
                   " date, source) VALUES ($1, $2, $3, $4, $5, $6::date, $7)"
                   " ON CONFLICT (run_id) DO NOTHING RETURNING run_id",
                   7, params, &res, err, errlen) != 0)
        return -1;
    if (created)
        *created = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

int sl_ledger_run_ensure(PGconn *conn, const sl_msg *m, int *created, char *err, size_t errlen)
{
    return run_insert(conn, m, created, err, errlen);
}

int sl_ledger_run_exists(PGconn *conn, const char *run_id, int *exists, char *err, size_t errlen)
{
    PGresult *res = NULL;
    const char *params[1] = {run_id};

    if (sl_pg_exec(conn, "SELECT 1 FROM snaplake_runs WHERE run_id = $1", 1, params, &res, err,
                   errlen) != 0)
        return -1;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

/* Appends a history row carrying the stage row's current attempt and generation (inside the
   caller's transaction). error_code, error_message and details_json may be NULL. */
static int append_event(PGconn *conn, const char *run_id, const char *stage, const char *status,
                        const char *error_code, const char *error_message, const char *details_json,
                        char *err, size_t errlen)
{
    const char *ev[6] = {run_id, stage, status, error_code, error_message, details_json};

    return sl_pg_exec(conn,
                      "INSERT INTO snaplake_stage_events (run_id, stage, status, attempt,"
                      " generation, error_code, error_message, details)"
                      " SELECT $1, $2, $3, attempt, generation, $4, $5, $6::jsonb"
                      " FROM snaplake_stage_runs"
                      " WHERE run_id = $1 AND stage = $2",
                      6, ev, NULL, err, errlen);
}

/* Marks the run as touched by this transition. */
static int touch_run(PGconn *conn, const char *run_id, char *err, size_t errlen)
{
    const char *p[1] = {run_id};

    return sl_pg_exec(conn, "UPDATE snaplake_runs SET updated_at = now() WHERE run_id = $1", 1, p,
                      NULL, err, errlen);
}

int sl_ledger_stage_begin(PGconn *conn, const sl_msg *m, const char *stage, int *fence, char *err,
                          size_t errlen)
{
    PGresult *res = NULL;
    const char *params[2];
    int failed = 1, got = 0;

    if (tx_begin(conn, err, errlen) != 0)
        return -1;
    if (run_insert(conn, m, NULL, err, errlen) != 0)
        goto out;
    params[0] = m->run_id;
    params[1] = stage;
    /* A redelivered or replayed message begins the stage again: attempt + 1. The increment
     * happens under the row lock of ON CONFLICT DO UPDATE, so two writers beginning at once
     * get distinct attempts, and the later one's is the fence every write must carry. */
    if (sl_pg_exec(conn,
                   "INSERT INTO snaplake_stage_runs (run_id, stage, status, attempt, started_at)"
                   " VALUES ($1, $2, 'running', 1, now())"
                   " ON CONFLICT (run_id, stage) DO UPDATE SET status = 'running',"
                   "   attempt = snaplake_stage_runs.attempt + 1, started_at = now(),"
                   "   finished_at = NULL, error_code = NULL, error_message = NULL,"
                   "   updated_at = now()"
                   " RETURNING attempt",
                   2, params, &res, err, errlen) != 0)
        goto out;
    got = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (append_event(conn, m->run_id, stage, SL_LEDGER_RUNNING, NULL, NULL, NULL, err, errlen) !=
            0 ||
        touch_run(conn, m->run_id, err, errlen) != 0)
        goto out;
    failed = 0;
out:
    PQclear(res);
    if (tx_end(conn, failed, err, errlen) != 0)
        return -1;
    if (fence)
        *fence = got;
    return 0;
}

/* The stale writer's refusal: logged here so that no caller can forget it. */
static int fenced_out(const char *run_id, const char *stage, int fence, const char *current,
                      char *err, size_t errlen)
{
    char mine[16];
    const char *kv[] = {"event", "fenced_out", "fence", mine, "current_fence", current, NULL};
    sl_log_ctx log = {run_id, NULL, stage};

    snprintf(mine, sizeof(mine), "%d", fence);
    sl_log_kv(SL_LOG_WARN, &log, kv,
              "ledger write refused: stage %s of run %s was begun again (my fence %d, current %s)",
              stage, run_id, fence, current);
    sl_seterr(err, errlen, "ledger: fenced out: stage %s of run %s has fence %s, mine is %d", stage,
              run_id, current, fence);
    return SL_LEDGER_FENCED;
}

int sl_ledger_stage_check(PGconn *conn, const char *run_id, const char *stage, int fence, char *err,
                          size_t errlen)
{
    PGresult *res = NULL;
    const char *params[2] = {run_id, stage};
    int rc;

    if (sl_pg_exec(conn, "SELECT attempt FROM snaplake_stage_runs WHERE run_id = $1 AND stage = $2",
                   2, params, &res, err, errlen) != 0)
        return -1;
    if (PQntuples(res) != 1)
        rc = sl_seterr(err, errlen, "ledger: stage %s of run %s was never begun", stage, run_id);
    else if (atoi(PQgetvalue(res, 0, 0)) != fence)
        rc = fenced_out(run_id, stage, fence, PQgetvalue(res, 0, 0), err, errlen);
    else
        rc = 0;
    PQclear(res);
    return rc;
}

/*
 * Shared by update and finish: sets the stage row and appends a history row when `finished`,
 * the status or the generation changed. Fenced: only the writer whose begin produced the row's
 * current attempt may write (an UPDATE ... WHERE attempt = fence); any other gets
 * SL_LEDGER_FENCED and changes nothing. generation 0 leaves it as it is.
 */
static int stage_write(PGconn *conn, const char *run_id, const char *stage, int fence,
                       const char *status, int finished, const char *error_code,
                       const char *error_message, const char *export_task_id, int generation,
                       const char *aws_ids_json, const char *details_json, char *err, size_t errlen)
{
    PGresult *res = NULL;
    const char *params[11];
    char fs[16], gs[16], current[16] = "";
    int failed = 1, rc = -1;
    int changed;

    if (tx_begin(conn, err, errlen) != 0)
        return -1;
    params[0] = run_id;
    params[1] = stage;
    if (sl_pg_exec(conn,
                   "SELECT status, attempt, coalesce(generation, 0) FROM snaplake_stage_runs"
                   " WHERE run_id = $1 AND stage = $2 FOR UPDATE",
                   2, params, &res, err, errlen) != 0)
        goto out;
    if (PQntuples(res) != 1) {
        sl_seterr(err, errlen, "ledger: stage %s of run %s was never begun", stage, run_id);
        goto out;
    }
    changed = strcmp(PQgetvalue(res, 0, 0), status) != 0 ||
              (generation > 0 && atoi(PQgetvalue(res, 0, 2)) != generation);
    snprintf(current, sizeof(current), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    res = NULL;

    snprintf(fs, sizeof(fs), "%d", fence);
    snprintf(gs, sizeof(gs), "%d", generation);
    params[2] = status;
    params[3] = finished ? "t" : "f";
    params[4] = error_code;
    params[5] = error_message;
    params[6] = export_task_id;
    params[7] = aws_ids_json;
    params[8] = details_json;
    params[9] = fs;
    params[10] = generation > 0 ? gs : NULL;
    if (sl_pg_exec(conn,
                   "UPDATE snaplake_stage_runs SET status = $3,"
                   "  finished_at = CASE WHEN $4::boolean THEN now() ELSE finished_at END,"
                   "  error_code = CASE WHEN $4::boolean THEN $5 ELSE error_code END,"
                   "  error_message = CASE WHEN $4::boolean THEN $6 ELSE error_message END,"
                   "  export_task_id = COALESCE($7, export_task_id),"
                   "  generation = COALESCE($11::integer, generation),"
                   "  aws_ids = aws_ids || COALESCE($8::jsonb, '{}'::jsonb),"
                   "  details = details || COALESCE($9::jsonb, '{}'::jsonb),"
                   "  updated_at = now()"
                   " WHERE run_id = $1 AND stage = $2 AND attempt = $10::integer",
                   11, params, &res, err, errlen) != 0)
        goto out;
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        /* A later begin owns the row: this writer lost its partition (or was replayed over)
         * and must not overwrite the new owner's state. */
        rc = fenced_out(run_id, stage, fence, current, err, errlen);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if ((finished || changed) && append_event(conn, run_id, stage, status, error_code,
                                              error_message, details_json, err, errlen) != 0)
        goto out;
    if (touch_run(conn, run_id, err, errlen) != 0)
        goto out;
    failed = 0;
    rc = 0;
out:
    PQclear(res);
    if (failed) {
        char ignored[SL_ERRLEN];
        /* The refusal (or the first error) is already in err. */
        if (sl_pg_exec(conn, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored)) != 0)
            return -1;
        return rc == SL_LEDGER_FENCED ? SL_LEDGER_FENCED : -1;
    }
    return tx_end(conn, 0, err, errlen);
}

static int status_ok(const char *status, int finished)
{
    if (finished)
        return strcmp(status, SL_LEDGER_SUCCEEDED) == 0 || strcmp(status, SL_LEDGER_FAILED) == 0;
    return strcmp(status, SL_LEDGER_RUNNING) == 0 || strcmp(status, SL_LEDGER_WAITING) == 0 ||
           strcmp(status, SL_LEDGER_QUEUED) == 0;
}

int sl_ledger_stage_update(PGconn *conn, const char *run_id, const char *stage, int fence,
                           const char *status, const char *export_task_id, int generation,
                           const char *aws_ids_json, const char *details_json, char *err,
                           size_t errlen)
{
    if (!status_ok(status, 0))
        return sl_seterr(err, errlen, "ledger: '%s' is not an in-progress status", status);
    return stage_write(conn, run_id, stage, fence, status, 0, NULL, NULL, export_task_id,
                       generation, aws_ids_json, details_json, err, errlen);
}

int sl_ledger_stage_finish(PGconn *conn, const char *run_id, const char *stage, int fence,
                           const char *status, const char *error_code, const char *error_message,
                           const char *export_task_id, int generation, const char *aws_ids_json,
                           const char *details_json, char *err, size_t errlen)
{
    if (!status_ok(status, 1))
        return sl_seterr(err, errlen, "ledger: '%s' is not a final status", status);
    return stage_write(conn, run_id, stage, fence, status, 1, error_code, error_message,
                       export_task_id, generation, aws_ids_json, details_json, err, errlen);
}

/* Builds a PostgreSQL text[] literal {"a","b"} with " and \ escaped. */
static char *text_array(const char *const *v, size_t n)
{
    sl_buf b;

    sl_buf_init(&b, 1024 * 1024);
    if (sl_buf_append(&b, "{", 1) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (i && sl_buf_append(&b, ",", 1) != 0)
            goto fail;
        if (sl_buf_append(&b, "\"", 1) != 0)
            goto fail;
        for (const char *p = v[i]; *p; p++) {
            if ((*p == '"' || *p == '\\') && sl_buf_append(&b, "\\", 1) != 0)
                goto fail;
            if (sl_buf_append(&b, p, 1) != 0)
                goto fail;
        }
        if (sl_buf_append(&b, "\"", 1) != 0)
            goto fail;
    }
    if (sl_buf_append(&b, "}", 1) != 0)
        goto fail;
    return sl_buf_steal(&b);
fail:
    sl_buf_cleanup(&b);
    return NULL;
}

int sl_ledger_report(PGconn *conn, FILE *out, const char *const *run_ids, size_t n, int since_hours,
                     char *err, size_t errlen)
{
    PGresult *res = NULL;
    char hours[32];
    char *arr;
    const char *params[2];
    const char *last_run = "";
    int rc = -1;

    arr = text_array(run_ids, n);
    if (!arr)
        return sl_seterr(err, errlen, "ledger report: out of memory");
    snprintf(hours, sizeof(hours), "%d", since_hours);
    params[0] = arr;
    params[1] = hours;
    if (sl_pg_exec(conn,
                   "SELECT r.run_id, r.cluster, r.date::text, coalesce(s.stage, '-'),"
                   "  coalesce(s.status, 'queued'), coalesce(s.attempt, 0),"
                   "  coalesce(round(extract(epoch FROM coalesce(s.finished_at, now())"
                   "    - s.started_at)::numeric, 1)::text, '-'),"
                   "  coalesce(s.error_code, ''), coalesce(s.error_message, ''),"
                   "  coalesce(s.export_task_id, ''), coalesce(s.generation, 0)"
                   " FROM snaplake_runs r LEFT JOIN snaplake_stage_runs s USING (run_id)"
                   " WHERE (cardinality($1::text[]) > 0 AND r.run_id = ANY ($1::text[]))"
                   "    OR (cardinality($1::text[]) = 0"
                   "        AND r.created_at > now() - make_interval(hours => $2::int))"
                   " ORDER BY r.cluster, r.run_id,"
                   "  array_position(ARRAY['export', 'copy', 'crawl', 'share'], s.stage)",
                   2, params, &res, err, errlen) != 0)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *run = PQgetvalue(res, i, 0);
        if (strcmp(run, last_run) != 0) {
            fprintf(out, "run %s  cluster %s  date %s\n", run, PQgetvalue(res, i, 1),
                    PQgetvalue(res, i, 2));
            last_run = run;
        }
        fprintf(out, "  %-6s %-9s attempt %-2s %8ss", PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
        if (*PQgetvalue(res, i, 9))
            fprintf(out, "  task %s", PQgetvalue(res, i, 9));
        if (atoi(PQgetvalue(res, i, 10)) > 1)
            fprintf(out, " (generation %s)", PQgetvalue(res, i, 10));
        if (*PQgetvalue(res, i, 7))
            fprintf(out, "  error %s: %s", PQgetvalue(res, i, 7), PQgetvalue(res, i, 8));
        fputc('\n', out);
    }
    rc = 0;
out:
    PQclear(res);
    free(arr);
    return rc;
}
