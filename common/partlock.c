/*
 * partlock.c - partition replacement lock and holder record (see partlock.h).
 */
#include "partlock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pg.h"

static const sl_pg_migration partlock_migrations[] = {
    {SL_PARTLOCK_MIGRATION, "partition holders",
     "CREATE TABLE snaplake_partitions ("
     "  cluster        text NOT NULL,"
     "  date           date NOT NULL,"
     "  time_ms        bigint NOT NULL,"
     "  export_task_id text NOT NULL,"
     "  run_id         text,"
     "  snapshot_id    text,"
     "  updated_at     timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (cluster, date));"},
};

int32_t sl_partlock_key(const char *cluster, const char *date)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint32_t k = 0;

    cluster = cluster ? cluster : "";
    date = date ? date : "";
    /* On an OpenSSL failure every partition shares key 0: slower, still exclusive. */
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(c, cluster, strlen(cluster) + 1) == 1 &&
        EVP_DigestUpdate(c, date, strlen(date)) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1 &&
        mdlen >= 4)
        k = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    EVP_MD_CTX_free(c);
    return (int32_t)k;
}

int sl_partlock_migrate(PGconn *conn, char *err, size_t errlen)
{
    return sl_pg_migrate(conn, partlock_migrations, SL_ARRAY_LEN(partlock_migrations), NULL, err,
                         errlen);
}

void sl_partlock_holder_cleanup(sl_partlock_holder *h)
{
    if (!h)
        return;
    free(h->export_task_id);
    free(h->run_id);
    memset(h, 0, sizeof(*h));
}

int sl_partlock_holder_get(PGconn *conn, const char *cluster, const char *date,
                           sl_partlock_holder *out, char *err, size_t errlen)
{
    const char *p[2] = {cluster, date};
    PGresult *res = NULL;

    memset(out, 0, sizeof(*out));
    if (sl_pg_exec(conn,
                   "SELECT time_ms, export_task_id, run_id FROM snaplake_partitions"
                   " WHERE cluster = $1 AND date = $2::date",
                   2, p, &res, err, errlen))
        return -1;
    if (PQntuples(res) == 1) {
        out->found = 1;
        out->time_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        out->export_task_id = strdup(PQgetvalue(res, 0, 1));
        out->run_id = strdup(PQgetvalue(res, 0, 2));
        if (!out->export_task_id || !out->run_id) {
            PQclear(res);
            sl_partlock_holder_cleanup(out);
            return sl_seterr(err, errlen, "partlock: out of memory");
        }
    }
    PQclear(res);
    return 0;
}

int sl_partlock_holder_set(PGconn *conn, const char *cluster, const char *date, long long time_ms,
                           const char *export_task_id, const char *run_id, const char *snapshot_id,
                           int *written, char *err, size_t errlen)
{
    char t[32];
    const char *p[6] = {cluster, date, t, export_task_id, run_id, snapshot_id};
    PGresult *res = NULL;

    snprintf(t, sizeof(t), "%lld", time_ms);
    if (sl_pg_exec(conn,
                   "INSERT INTO snaplake_partitions AS p"
                   " (cluster, date, time_ms, export_task_id, run_id, snapshot_id)"
                   " VALUES ($1, $2::date, $3::bigint, $4, $5, $6)"
                   " ON CONFLICT (cluster, date) DO UPDATE SET time_ms = EXCLUDED.time_ms,"
                   "  export_task_id = EXCLUDED.export_task_id, run_id = EXCLUDED.run_id,"
                   "  snapshot_id = EXCLUDED.snapshot_id, updated_at = now()"
                   " WHERE (p.time_ms, p.export_task_id COLLATE \"C\")"
                   "    <= (EXCLUDED.time_ms, EXCLUDED.export_task_id COLLATE \"C\")",
                   6, p, &res, err, errlen))
        return -1;
    *written = atoi(PQcmdTuples(res)) > 0;
    PQclear(res);
    return 0;
}

int sl_partlock_held(PGconn *conn, int32_t key, int *held, char *err, size_t errlen)
{
    char ns[16], k[16];
    const char *p[2] = {ns, k};
    PGresult *res = NULL;

    /* The two-int form stores the first int in classid and the second in objid (as oid). */
    snprintf(ns, sizeof(ns), "%u", (unsigned)(uint32_t)SL_PARTLOCK_NS);
    snprintf(k, sizeof(k), "%u", (unsigned)(uint32_t)key);
    if (sl_pg_exec(conn,
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                   " AND pid = pg_backend_pid() AND granted AND objsubid = 2"
                   " AND classid = $1::oid AND objid = $2::oid",
                   2, p, &res, err, errlen))
        return -1;
    *held = strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0;
    PQclear(res);
    return 0;
}

int sl_partlock_ledger_details(PGconn *conn, const char *run_id, const char *stage,
                               const char *details_json, char *err, size_t errlen)
{
    const char *p[3] = {run_id, stage, details_json};

    return sl_pg_exec(conn,
                      "UPDATE snaplake_stage_runs SET details = details || $3::jsonb,"
                      " updated_at = now() WHERE run_id = $1 AND stage = $2",
                      3, p, NULL, err, errlen);
}
