/* share_store.c - see share_store.h. */
#include "share_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pg.h"

static const sl_pg_migration share_migrations[] = {
    {SL_SHARE_STORE_MIGRATION, "share stage: owned grants and shared tables' columns",
     "CREATE TABLE IF NOT EXISTS snaplake_share_grants ("
     "  grant_key  text PRIMARY KEY,"
     "  database   text NOT NULL,"
     "  created_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE IF NOT EXISTS snaplake_share_tables ("
     "  database   text NOT NULL,"
     "  table_name text NOT NULL,"
     "  columns    jsonb NOT NULL,"
     "  shared_at  timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (database, table_name));"},
};

int sl_share_store_migrate(PGconn *conn, char *err, size_t errlen)
{
    return sl_pg_migrate(conn, share_migrations, SL_ARRAY_LEN(share_migrations), NULL, err, errlen);
}

/* A jsonb array of strings -> record of table. 0, -1 (shape: skipped by the caller), -2 OOM. */
static int add_record(sl_share_history *h, const char *table, const char *json)
{
    cJSON *a = cJSON_Parse(json), *c;
    const char **cols = NULL;
    size_t n = 0;
    int rc = 0;

    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return -1;
    }
    if (cJSON_GetArraySize(a) > 0 && !(cols = calloc((size_t)cJSON_GetArraySize(a), sizeof(*cols))))
        rc = -2;
    cJSON_ArrayForEach(c, a)
    {
        if (rc || !cJSON_IsString(c))
            continue;
        cols[n++] = c->valuestring;
    }
    if (rc == 0 && sl_share_history_add(h, table, cols, n) != 0)
        rc = -2;
    free(cols);
    cJSON_Delete(a);
    return rc;
}

int sl_share_store_load(PGconn *conn, const char *database, int missing_ok, sl_share_history *out,
                        char *err, size_t errlen)
{
    const char *params[1] = {database};
    PGresult *res = NULL;
    sl_share_history h;
    char e[SL_ERRLEN];

    memset(&h, 0, sizeof(h));
    memset(out, 0, sizeof(*out));
    if (missing_ok) {
        const char *p[1] = {"snaplake_share_grants"};
        int missing;
        if (sl_pg_exec(conn, "SELECT to_regclass($1) IS NULL", 1, p, &res, e, sizeof(e)) != 0)
            return sl_seterr(err, errlen, "share store: %s", e);
        missing = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (missing)
            return 0;
    }
    if (sl_pg_exec(conn, "SELECT grant_key FROM snaplake_share_grants ORDER BY grant_key", 0, NULL,
                   &res, e, sizeof(e)) != 0)
        return sl_seterr(err, errlen, "share store: %s", e);
    for (int i = 0; i < PQntuples(res); i++)
        if (sl_lf_strv_push(&h.owned, PQgetvalue(res, i, 0)) != 0)
            goto oom;
    PQclear(res);
    res = NULL;
    if (sl_pg_exec(conn,
                   "SELECT table_name, columns::text FROM snaplake_share_tables WHERE database = "
                   "$1 ORDER BY table_name",
                   1, params, &res, e, sizeof(e)) != 0) {
        sl_share_history_cleanup(&h);
        return sl_seterr(err, errlen, "share store: %s", e);
    }
    for (int i = 0; i < PQntuples(res); i++)
        if (add_record(&h, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) == -2)
            goto oom;
    PQclear(res);
    *out = h;
    return 0;
oom:
    PQclear(res);
    sl_share_history_cleanup(&h);
    return sl_seterr(err, errlen, "share store: out of memory");
}

static int columns_json(const sl_share_table_in *t, char **out)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a && i < t->ncolumns; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(t->columns[i]))) {
            cJSON_Delete(a);
            a = NULL;
        }
    *out = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return *out ? 0 : -1;
}

static int save_tables(PGconn *conn, const sl_share_desired *d, const sl_share_table_in *tables,
                       size_t ntables, char *e, size_t elen)
{
    for (size_t i = 0; i < d->ntables; i++) {
        const sl_share_table *t = &d->tables[i];
        const sl_share_table_in *in = NULL;
        char *cols = NULL;
        int rc;

        for (size_t j = 0; j < ntables && !in; j++)
            if (strcmp(tables[j].name, t->name) == 0)
                in = &tables[j];
        if (t->held || !in)
            continue;
        if (t->cls == SL_SHARE_UNSHARED) {
            const char *p[2] = {d->database, t->name};
            rc = sl_pg_exec(conn,
                            "DELETE FROM snaplake_share_tables WHERE database = $1 AND "
                            "table_name = $2",
                            2, p, NULL, e, elen);
        } else {
            const char *p[3] = {d->database, t->name, NULL};
            if (columns_json(in, &cols) != 0)
                return sl_seterr(e, elen, "out of memory");
            p[2] = cols;
            rc = sl_pg_exec(conn,
                            "INSERT INTO snaplake_share_tables (database, table_name, columns) "
                            "VALUES ($1, $2, $3::jsonb) ON CONFLICT (database, table_name) DO "
                            "UPDATE SET columns = EXCLUDED.columns, shared_at = now() WHERE "
                            "snaplake_share_tables.columns IS DISTINCT FROM EXCLUDED.columns",
                            3, p, NULL, e, elen);
            free(cols);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

int sl_share_store_save(PGconn *conn, const sl_share_desired *d, const sl_share_table_in *tables,
                        size_t ntables, const sl_lf_strv *made, const sl_lf_strv *gone, char *err,
                        size_t errlen)
{
    char e[SL_ERRLEN], ignored[SL_ERRLEN];
    int failed = 0;

    if (sl_pg_exec(conn, "BEGIN", 0, NULL, NULL, e, sizeof(e)) != 0)
        return sl_seterr(err, errlen, "share store: %s", e);
    for (size_t i = 0; !failed && made && i < made->n; i++) {
        const char *p[2] = {made->v[i], d->database};
        failed = sl_pg_exec(conn,
                            "INSERT INTO snaplake_share_grants (grant_key, database) VALUES "
                            "($1, $2) ON CONFLICT (grant_key) DO NOTHING",
                            2, p, NULL, e, sizeof(e)) != 0;
    }
    for (size_t i = 0; !failed && gone && i < gone->n; i++) {
        const char *p[1] = {gone->v[i]};
        failed = sl_pg_exec(conn, "DELETE FROM snaplake_share_grants WHERE grant_key = $1", 1, p,
                            NULL, e, sizeof(e)) != 0;
    }
    if (!failed)
        failed = save_tables(conn, d, tables, ntables, e, sizeof(e)) != 0;
    if (failed) {
        if (sl_pg_exec(conn, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored)) != 0) {
            /* the connection is broken: the caller heals it */
        }
        return sl_seterr(err, errlen, "share store: %s", e);
    }
    if (sl_pg_exec(conn, "COMMIT", 0, NULL, NULL, e, sizeof(e)) != 0)
        return sl_seterr(err, errlen, "share store: %s", e);
    return 0;
}
