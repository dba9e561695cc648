/* ctl_db.c - see ctl_db.h. */
#define _XOPEN_SOURCE 700 /* strptime */
#include "ctl_db.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ledger_console.h"
#include "log.h"

static const sl_cfg_opt db_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ctl_db, log_level),
     "debug | info | warn | error"},
    SL_PG_CFG_OPTS(ctl_db, pgo),
};

/* The tables the commands read; the last one came with the console's migration 3001. */
static const char *const ledger_tables[] = {"snaplake_runs", "snaplake_stage_runs",
                                            "snaplake_stage_events", "snaplake_workers"};

void ctl_db_help(FILE *out, const char *cmds)
{
    char title[128];

    snprintf(title, sizeof(title), "snaplakectl %s", cmds);
    sl_config_help(out, title, "the ledger commands read only these", db_opts,
                   SL_ARRAY_LEN(db_opts));
}

int ctl_db_table_exists(PGconn *conn, const char *table, char *err, size_t errlen)
{
    const char *params[] = {table};
    PGresult *res = NULL;
    int exists;

    if (sl_pg_exec(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, err, errlen))
        return -1;
    exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return exists;
}

int ctl_parse_hours(const char *s, int *out)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > CTL_SINCE_HOURS_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

int ctl_db_config(const char *cmd, ctl_db *db)
{
    char err[4096] = "";
    sl_log_level level = SL_LOG_WARN;
    int ok = 1;

    memset(db, 0, sizeof(*db));
    if (sl_config_load(db_opts, SL_ARRAY_LEN(db_opts), db, NULL, NULL, err, sizeof(err)) != 0)
        ok = 0;
    if (sl_config_check(db_opts, SL_ARRAY_LEN(db_opts), sl_config_std_checks, sl_config_nstd_checks,
                        NULL, NULL, err, sizeof(err)) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "snaplakectl %s: bad configuration:\n%s\n", cmd, err);
        sl_config_cleanup(db_opts, SL_ARRAY_LEN(db_opts), db);
        return 2;
    }
    if (sl_log_level_parse(db->log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    sl_pg_link_init(&db->pg, "snaplakectl", &db->pgo);
    return 0;
}

int ctl_db_open(const char *cmd, ctl_db *db, int read_only)
{
    char err[SL_ERRLEN];

    if (sl_pg_ensure(&db->pg, NULL, err, sizeof(err)) != 0)
        goto fail;
    if (read_only && sl_pg_exec(db->pg.conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                                0, NULL, NULL, err, sizeof(err)))
        goto fail;
    for (size_t i = 0; i < SL_ARRAY_LEN(ledger_tables); i++) {
        int missing = ctl_db_table_exists(db->pg.conn, ledger_tables[i], err, sizeof(err));

        if (missing < 0)
            goto fail;
        missing = !missing;
        if (missing && i + 1 == SL_ARRAY_LEN(ledger_tables)) {
            fprintf(stderr,
                    "snaplakectl %s: the ledger table %s does not exist in this database: the "
                    "ledger predates migration %d (a worker of this version applies it when it "
                    "starts; snaplakectl never migrates)\n",
                    cmd, ledger_tables[i], SL_LEDGER_CONSOLE_MIGRATION_FIRST);
            return 1;
        }
        if (missing) {
            fprintf(stderr,
                    "snaplakectl %s: the ledger table %s does not exist in this database (a "
                    "worker creates the tables when it first starts; snaplakectl only reads)\n",
                    cmd, ledger_tables[i]);
            return 1;
        }
    }
    return 0;
fail:
    fprintf(stderr, "snaplakectl %s: %s\n", cmd, err);
    return 1;
}

void ctl_db_close(ctl_db *db)
{
    sl_pg_link_cleanup(&db->pg);
    sl_config_cleanup(db_opts, SL_ARRAY_LEN(db_opts), db);
}

/* Builds a PostgreSQL text[] literal {"a","b"} with " and \ escaped; NULL on out of memory. */
static char *text_array(const char *const *v, size_t n)
{
    size_t len = 3;
    char *out, *o;

    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(v[i]) + 3;
    if (!(o = out = malloc(len)))
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

/* clang-format off */
static const char runs_sql[] =
    "WITH st AS ("
    "  SELECT s.*, w.heartbeat_at, " SL_LEDGER_CONSOLE_STALE_SQL " AS stale,"
    "    coalesce((SELECT min(e.at) FROM snaplake_stage_events e"
    "              WHERE e.run_id = s.run_id AND e.stage = s.stage), s.started_at) AS first_at,"
    /* The time a stage sat failed until a redo is the operator's, not the stage's. */
    "    coalesce((SELECT sum(g) FROM (SELECT CASE WHEN e.status = 'failed' THEN"
    "       lead(e.at) OVER (ORDER BY e.id) - e.at END AS g FROM snaplake_stage_events e"
    "       WHERE e.run_id = s.run_id AND e.stage = s.stage) x), interval '0') AS idle"
    "  FROM snaplake_stage_runs s LEFT JOIN snaplake_workers w ON w.worker_id = s.owner_id"
    "  WHERE s.run_id IN (SELECT run_id FROM snaplake_runs r WHERE"
    "    (cardinality($1::text[]) > 0 AND r.run_id = ANY ($1::text[]))"
    "    OR (cardinality($1::text[]) = 0 AND r.created_at >= to_timestamp($2::double precision)))"
    "), sj AS ("
    "  SELECT run_id, status, stale, stage, first_at, json_build_object("
    "    'stage', stage, 'status', status, 'stale', stale, 'attempt', attempt,"
    "    'generation', generation, 'first_at', first_at, 'started_at', started_at,"
    "    'finished_at', finished_at,"
    "    'duration_s', round(extract(epoch FROM coalesce(finished_at,"
    "       CASE WHEN stale THEN greatest(heartbeat_at, started_at) ELSE now() END)"
    "       - first_at - idle)::numeric, 1),"
    "    'export_task_id', export_task_id, 'error_code', error_code,"
    "    'error_message', error_message, 'owner_id', owner_id, 'owner_host', owner_host,"
    "    'heartbeat_at', heartbeat_at, 'aws_ids', aws_ids, 'details', details) AS j"
    "  FROM st"
    "), rj AS ("
    "  SELECT r.run_id, r.created_at, json_build_object("
    "    'run_id', r.run_id, 'cluster', r.cluster, 'date', r.date::text, 'mode', r.mode,"
    "    'snapshot_id', r.snapshot_id, 'created_at', r.created_at,"
    "    'status', CASE WHEN bool_or(sj.status = 'failed') THEN 'failed'"
    "                   WHEN bool_or(sj.stale) THEN 'stale'"
    "                   WHEN bool_or(sj.status IN ('queued', 'running', 'waiting')) THEN 'running'"
    "                   WHEN count(sj.stage) = 0 THEN 'queued' ELSE 'succeeded' END,"
    "    'stages', coalesce(json_agg(sj.j ORDER BY coalesce(array_position("
    "       ARRAY['export', 'copy', 'crawl', 'share'], sj.stage), 99), sj.first_at)"
    "       FILTER (WHERE sj.stage IS NOT NULL), '[]')) AS j,"
    "    bool_or(sj.status = 'failed') AS failed,"
    "    bool_or(sj.status IN ('queued', 'running', 'waiting')) AS running"
    "  FROM snaplake_runs r LEFT JOIN sj USING (run_id)"
    "  WHERE ((cardinality($1::text[]) > 0 AND r.run_id = ANY ($1::text[]))"
    "     OR (cardinality($1::text[]) = 0 AND r.created_at >= to_timestamp($2::double precision)))"
    "    AND ($3::text IS NULL OR r.cluster = $3)"
    "  GROUP BY r.run_id"
    ")"
    " SELECT coalesce(json_agg(j ORDER BY created_at, run_id), '[]') FROM rj"
    " WHERE (NOT $4::boolean OR coalesce(failed, false))"
    "   AND (NOT $5::boolean OR coalesce(running, false))";
/* clang-format on */

int ctl_db_runs(PGconn *conn, const ctl_runs_filter *f, cJSON **out, char *err, size_t errlen)
{
    PGresult *res = NULL;
    char since[32];
    char *arr = text_array(f->ids, f->n);
    const char *params[5];
    cJSON *v;

    if (!arr)
        return sl_seterr(err, errlen, "out of memory");
    snprintf(since, sizeof(since), "%lld", f->since_s);
    params[0] = arr;
    params[1] = since;
    params[2] = f->cluster;
    params[3] = f->failed ? "t" : "f";
    params[4] = f->running ? "t" : "f";
    if (sl_pg_exec(conn, runs_sql, 5, params, &res, err, errlen)) {
        free(arr);
        return -1;
    }
    free(arr);
    v = cJSON_Parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!v || !cJSON_IsArray(v)) {
        cJSON_Delete(v);
        return sl_seterr(err, errlen, "the ledger query returned no JSON array");
    }
    *out = v;
    return 0;
}

int ctl_db_unknown_runs(PGconn *conn, const char *cmd, const char *const *ids, size_t n, char *err,
                        size_t errlen)
{
    int unknown = 0;

    for (size_t i = 0; i < n; i++) {
        const char *params[] = {ids[i]};
        PGresult *res = NULL;

        if (sl_pg_exec(conn, "SELECT 1 FROM snaplake_runs WHERE run_id = $1", 1, params, &res, err,
                       errlen))
            return -1;
        if (PQntuples(res) == 0) {
            fprintf(stderr, "snaplakectl %s: no run \"%.200s\" in the ledger\n", cmd, ids[i]);
            unknown++;
        }
        PQclear(res);
    }
    return unknown;
}

/* "<digits><unit>" with unit s, m, h or d: seconds back from now. */
static int parse_span(const char *s, long long *secs)
{
    char *end;
    long long v, mul;

    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || !end[0] || end[1])
        return -1;
    switch (*end) {
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = 3600;
        break;
    case 'd':
        mul = 86400;
        break;
    default:
        return -1;
    }
    /* Ten years at most: anything longer is a typo. */
    if (v < 1 || v > 3660LL * 86400 / mul)
        return -1;
    *secs = v * mul;
    return 0;
}

int ctl_parse_since(const char *s, long long *epoch_s)
{
    static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                       "%Y-%m-%d %H:%M", "%Y-%m-%d"};
    long long span;

    if (!s || !*s)
        return -1;
    if (parse_span(s, &span) == 0) {
        *epoch_s = (long long)time(NULL) - span;
        return 0;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(fmts); i++) {
        struct tm tm, back;
        const char *end;
        time_t t;

        memset(&tm, 0, sizeof(tm));
        end = strptime(s, fmts[i], &tm);
        if (!end || (*end && strcmp(end, "Z") != 0))
            continue;
        /* strptime accepts 2024-02-30; a round trip through timegm refuses it. */
        back = tm;
        t = timegm(&tm);
        if (t == (time_t)-1 || tm.tm_mday != back.tm_mday || tm.tm_mon != back.tm_mon ||
            tm.tm_year < 70 || tm.tm_year > 8000)
            return -1;
        *epoch_s = (long long)t;
        return 0;
    }
    return -1;
}

void ctl_print_json(FILE *out, const cJSON *v, int pretty)
{
    char *s = pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);

    if (s) {
        fputs(s, out);
        fputc('\n', out);
    }
    free(s);
}
