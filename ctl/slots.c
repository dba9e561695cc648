/*
 * slots.c - `snaplakectl slots`.
 *
 * Three reads, all SELECT on catalog views and the ledger:
 *   held     pg_locks' granted session advisory locks in the export-slot namespace
 *            (pg_try_advisory_lock(SL_PG_LOCK_NS_EXPORT_SLOT, k): the two-int4 form, shown
 *            with classid = namespace, objid = k, objsubid = 2) in this database, joined on the
 *            holding backend to pg_stat_activity, whose application_name is "sl:<task id>"
 *            (the slot connection advertises its task, export.c), then to the export stage's
 *            ledger row with that export_task_id for the run. pg_locks and the pid and
 *            application_name columns of pg_stat_activity are readable by any role.
 *   waiting  the export stage's ledger rows in `waiting`, with when they began waiting (their
 *            last `waiting` transition).
 *   foreign  what the export workers recorded at their latest admission decisions
 *            (admission.h): the limit, the slots they saw held and the foreign exports they
 *            counted, with their ids. The count needs AWS's listing, which this command never
 *            makes: it shows what the workers saw, and how long ago.
 * --json prints one object instead of the tables: {held: [...], waiting: [...], foreign:
 * {known, decisions: [...]}}, each row an object of the same columns (SQL NULL as null,
 * counts as numbers, foreign_task_ids as an array).
 */
#include "ctl_slots.h"

#include <stdlib.h>
#include <string.h>

#include "ctl_db.h"
#include "pg.h"

void ctl_slots_help(FILE *out)
{
    fputs("slots [--json]: export slots held (PostgreSQL advisory locks) and by which run, the\n"
          "  runs waiting for one, and the foreign exports the export workers counted; --json\n"
          "  for one JSON object.\n",
          out);
}

static const char held_sql[] =
    "SELECT l.objid::bigint AS slot, a.pid, "
    "  CASE WHEN a.application_name LIKE 'sl:%' THEN substr(a.application_name, 4) END, "
    "  coalesce(host(a.client_addr), 'local'), s.run_id, r.cluster, s.status, s.attempt, "
    "  to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "LEFT JOIN snaplake_stage_runs s ON s.stage = 'export' AND a.application_name LIKE 'sl:%' "
    "  AND s.export_task_id = substr(a.application_name, 4) "
    "LEFT JOIN snaplake_runs r ON r.run_id = s.run_id "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::oid "
    "  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "ORDER BY 1";

static const char waiting_sql[] =
    "SELECT s.run_id, r.cluster, s.attempt, coalesce(s.export_task_id, '-'), "
    "  to_char(w.since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "  round(extract(epoch FROM now() - w.since))::bigint "
    "FROM snaplake_stage_runs s JOIN snaplake_runs r ON r.run_id = s.run_id "
    "CROSS JOIN LATERAL (SELECT coalesce(max(e.at), s.updated_at) AS since "
    "  FROM snaplake_stage_events e WHERE e.run_id = s.run_id AND e.stage = 'export' "
    "  AND e.status = 'waiting' AND e.attempt = s.attempt) w "
    "WHERE s.stage = 'export' AND s.status = 'waiting' ORDER BY w.since, s.run_id";

static const char admission_sql[] =
    "SELECT worker, task_limit, held, foreign_count, foreign_ids::text, "
    "  round(extract(epoch FROM now() - decided_at))::bigint "
    "FROM snaplake_export_admission ORDER BY decided_at DESC, worker";

/* NULL-safe PQgetvalue: "-" for SQL NULL. */
static const char *val(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? "-" : PQgetvalue(res, row, col);
}

/*
 * --json: appends row `row` of res to arr as an object, one member per entry of cols: name,
 * column and kind ('s' string, 'n' number, 'j' JSON text). SQL NULL is null. 0 or -1 (out of
 * memory, or a 'j' column that does not parse).
 */
typedef struct col {
    const char *name;
    int col;
    char kind;
} col;

static int json_row(cJSON *arr, const PGresult *res, int row, const col *cols, size_t ncols)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return -1;
    }
    for (size_t i = 0; i < ncols; i++) {
        const char *v = PQgetvalue(res, row, cols[i].col);
        cJSON *item = PQgetisnull(res, row, cols[i].col) ? cJSON_CreateNull()
                      : cols[i].kind == 'n'              ? cJSON_CreateNumber(strtod(v, NULL))
                      : cols[i].kind == 'j'              ? cJSON_Parse(v)
                                                         : cJSON_CreateString(v);
        if (!item || !cJSON_AddItemToObject(o, cols[i].name, item)) {
            cJSON_Delete(item);
            return -1;
        }
    }
    return 0;
}

/* --json: every row of res as an array member name of out. 0, or -1 with err. */
static int json_rows(cJSON *out, const char *name, const PGresult *res, const col *cols,
                     size_t ncols, char *err, size_t errlen)
{
    cJSON *arr = cJSON_AddArrayToObject(out, name);

    for (int i = 0; arr && i < PQntuples(res); i++)
        if (json_row(arr, res, i, cols, ncols))
            arr = NULL;
    return arr ? 0 : sl_seterr(err, errlen, "%s: out of memory", name);
}

static int print_held(PGconn *conn, cJSON *out, char *err, size_t errlen)
{
    static const col cols[] = {{"slot", 0, 'n'},    {"run_id", 4, 's'},      {"cluster", 5, 's'},
                               {"status", 6, 's'},  {"attempt", 7, 'n'},     {"started_at", 8, 's'},
                               {"task_id", 2, 's'}, {"backend_pid", 1, 'n'}, {"client", 3, 's'}};
    char ns[16];
    const char *params[] = {ns};
    PGresult *res = NULL;
    int n, rc;

    snprintf(ns, sizeof(ns), "%ld", (long)SL_PG_LOCK_NS_EXPORT_SLOT);
    if (sl_pg_exec(conn, held_sql, 1, params, &res, err, errlen))
        return -1;
    if (out) {
        rc = json_rows(out, "held", res, cols, SL_ARRAY_LEN(cols), err, errlen);
        PQclear(res);
        return rc;
    }
    n = PQntuples(res);
    printf("export slots held: %d\n", n);
    if (n)
        printf("  %-4s  %-44s  %-20s  %-9s  %-7s  %-20s  %s\n", "SLOT", "RUN", "CLUSTER", "STATUS",
               "ATTEMPT", "STARTED", "TASK (BACKEND)");
    for (int i = 0; i < n; i++)
        printf("  %-4s  %-44s  %-20s  %-9s  %-7s  %-20s  %s (pid %s, %s)\n", val(res, i, 0),
               PQgetisnull(res, i, 4) ? "(no run in the ledger)" : val(res, i, 4), val(res, i, 5),
               val(res, i, 6), val(res, i, 7), val(res, i, 8),
               PQgetisnull(res, i, 2) ? "(not named yet)" : val(res, i, 2), val(res, i, 1),
               val(res, i, 3));
    PQclear(res);
    return 0;
}

static int print_waiting(PGconn *conn, cJSON *out, char *err, size_t errlen)
{
    static const col cols[] = {{"run_id", 0, 's'},          {"cluster", 1, 's'},
                               {"attempt", 2, 'n'},         {"waiting_since", 4, 's'},
                               {"waiting_seconds", 5, 'n'}, {"task_id", 3, 's'}};
    PGresult *res = NULL;
    int n, rc;

    if (sl_pg_exec(conn, waiting_sql, 0, NULL, &res, err, errlen))
        return -1;
    if (out) {
        rc = json_rows(out, "waiting", res, cols, SL_ARRAY_LEN(cols), err, errlen);
        PQclear(res);
        return rc;
    }
    n = PQntuples(res);
    printf("runs waiting for a slot: %d\n", n);
    if (n)
        printf("  %-44s  %-20s  %-7s  %-20s  %-8s  %s\n", "RUN", "CLUSTER", "ATTEMPT",
               "WAITING SINCE", "FOR (s)", "TASK");
    for (int i = 0; i < n; i++)
        printf("  %-44s  %-20s  %-7s  %-20s  %-8s  %s\n", val(res, i, 0), val(res, i, 1),
               val(res, i, 2), val(res, i, 4), val(res, i, 5), val(res, i, 3));
    PQclear(res);
    return 0;
}

static int print_foreign(PGconn *conn, cJSON *out, char *err, size_t errlen)
{
    static const col cols[] = {{"worker", 0, 's'},
                               {"limit", 1, 'n'},
                               {"held", 2, 'n'},
                               {"foreign", 3, 'n'},
                               {"foreign_task_ids", 4, 'j'},
                               {"decided_seconds_ago", 5, 'n'}};
    PGresult *res = NULL;
    cJSON *fo = NULL;
    int n, rc, e = ctl_db_table_exists(conn, "snaplake_export_admission", err, errlen);

    if (e < 0)
        return -1;
    if (out &&
        (!(fo = cJSON_AddObjectToObject(out, "foreign")) || !cJSON_AddBoolToObject(fo, "known", e)))
        return sl_seterr(err, errlen, "foreign: out of memory");
    if (!e && out)
        return cJSON_AddArrayToObject(fo, "decisions") ? 0
                                                       : sl_seterr(err, errlen, "out of memory");
    if (!e) {
        printf("foreign exports counted: unknown (no export worker has recorded an admission "
               "decision in this database)\n");
        return 0;
    }
    if (sl_pg_exec(conn, admission_sql, 0, NULL, &res, err, errlen))
        return -1;
    n = PQntuples(res);
    if (out) {
        /* "known": a decision recorded; without one the count is unknown, as the text says. */
        cJSON_ReplaceItemInObject(fo, "known", cJSON_CreateBool(n > 0));
        rc = json_rows(fo, "decisions", res, cols, SL_ARRAY_LEN(cols), err, errlen);
        PQclear(res);
        return rc;
    }
    if (n == 0)
        printf("foreign exports counted: unknown (no export worker has decided on a slot yet)\n");
    else
        printf("foreign exports counted: %s of EXPORT_TASK_LIMIT %s (latest decision, worker %s, "
               "%ss ago)\n",
               val(res, 0, 3), val(res, 0, 1), val(res, 0, 0), val(res, 0, 5));
    if (n)
        printf("  %-32s  %-5s  %-4s  %-7s  %-8s  %s\n", "WORKER", "LIMIT", "HELD", "FOREIGN",
               "AGO (s)", "FOREIGN TASKS");
    for (int i = 0; i < n; i++)
        printf("  %-32s  %-5s  %-4s  %-7s  %-8s  %s\n", val(res, i, 0), val(res, i, 1),
               val(res, i, 2), val(res, i, 3), val(res, i, 5), val(res, i, 4));
    PQclear(res);
    return 0;
}

int ctl_slots_main(int argc, char **argv)
{
    ctl_db db;
    char err[SL_ERRLEN];
    cJSON *out = NULL;
    int rc, json = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ctl_slots_help(stdout);
            ctl_db_help(stdout, "slots");
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        fprintf(stderr, "snaplakectl slots: unexpected argument \"%.64s\" (only --json)\n",
                argv[i]);
        return 2;
    }
    rc = ctl_db_config("slots", &db);
    if (rc)
        return rc;
    rc = 1;
    if (ctl_db_open("slots", &db, 1)) {
        /* ctl_db_open said why. */
    } else if (json && !(out = cJSON_CreateObject())) {
        fprintf(stderr, "snaplakectl slots: out of memory\n");
    } else if (print_held(db.pg.conn, out, err, sizeof(err)) ||
               print_waiting(db.pg.conn, out, err, sizeof(err)) ||
               print_foreign(db.pg.conn, out, err, sizeof(err))) {
        fprintf(stderr, "snaplakectl slots: %s\n", err);
    } else {
        if (out)
            ctl_print_json(stdout, out, 0);
        rc = 0;
    }
    cJSON_Delete(out);
    ctl_db_close(&db);
    return rc;
}
