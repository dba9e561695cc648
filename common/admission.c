/*
 * admission.c - the export stage's record of its slot decisions (see admission.h).
 */
#include "admission.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"

static const sl_pg_migration admission_migrations[] = {
    {SL_ADMISSION_MIGRATION, "export admission record",
     "CREATE TABLE snaplake_export_admission ("
     "  worker        text PRIMARY KEY,"
     "  task_limit    integer NOT NULL,"
     "  held          integer NOT NULL,"
     "  foreign_count integer NOT NULL,"
     "  foreign_ids   jsonb NOT NULL DEFAULT '[]',"
     "  decided_at    timestamptz NOT NULL DEFAULT now());"},
};

int sl_admission_migrate(PGconn *conn, char *err, size_t errlen)
{
    return sl_pg_migrate(conn, admission_migrations, SL_ARRAY_LEN(admission_migrations), NULL, err,
                         errlen);
}

void sl_admission_init(sl_admission *a)
{
    char host[64] = "";

    memset(a, 0, sizeof(*a));
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    snprintf(a->worker, sizeof(a->worker), "%s:%ld", host, (long)getpid());
}

/* The foreign ids as a JSON array text (heap, caller frees), and their count. NULL on OOM. */
static char *foreign_json(const sl_rds_export_tasks *running, const char *const *own, size_t nown,
                          long long *count)
{
    cJSON *arr = cJSON_CreateArray();
    char *txt = NULL;

    *count = 0;
    if (!arr)
        return NULL;
    for (size_t i = 0; running && i < running->n; i++) {
        sl_rds_export_tasks one = {&running->items[i], 1};
        cJSON *s;

        /* One task at a time through the rule's own function: the same verdict as the slot
         * decision, not a second copy of it. */
        if (sl_rds_count_foreign_running(&one, own, nown) == 0)
            continue;
        s = cJSON_CreateString(running->items[i].id);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            goto out;
        }
        (*count)++;
    }
    txt = cJSON_PrintUnformatted(arr);
out:
    cJSON_Delete(arr);
    return txt;
}

int sl_admission_note(sl_admission *a, PGconn *conn, long long limit, long long held,
                      const sl_rds_export_tasks *running, const char *const *own, size_t nown,
                      char *err, size_t errlen)
{
    char ls[24], hs[24], fs[24];
    long long foreign = 0, now = sl_mono_ms();
    char *ids;
    int rc;

    ids = foreign_json(running, own, nown, &foreign);
    if (!ids)
        return sl_seterr(err, errlen, "export admission record: out of memory");
    if (a->written_ms && now - a->written_ms < SL_ADMISSION_REFRESH_MS && a->limit == limit &&
        a->held == held && a->foreign == foreign) {
        free(ids);
        return 0;
    }
    snprintf(ls, sizeof(ls), "%lld", limit);
    snprintf(hs, sizeof(hs), "%lld", held);
    snprintf(fs, sizeof(fs), "%lld", foreign);
    {
        const char *params[] = {a->worker, ls, hs, fs, ids};
        rc = sl_pg_exec(conn,
                        "INSERT INTO snaplake_export_admission (worker, task_limit, held, "
                        "foreign_count, foreign_ids, decided_at) "
                        "VALUES ($1, $2, $3, $4, $5::jsonb, now()) ON CONFLICT (worker) DO "
                        "UPDATE SET task_limit = EXCLUDED.task_limit, held = EXCLUDED.held, "
                        "foreign_count = EXCLUDED.foreign_count, "
                        "foreign_ids = EXCLUDED.foreign_ids, decided_at = now()",
                        5, params, NULL, err, errlen);
    }
    free(ids);
    if (rc)
        return -1;
    a->written_ms = now;
    a->limit = limit;
    a->held = held;
    a->foreign = foreign;
    return 0;
}

int sl_admission_forget(sl_admission *a, PGconn *conn, char *err, size_t errlen)
{
    const char *params[] = {a->worker};

    a->written_ms = 0;
    return sl_pg_exec(conn, "DELETE FROM snaplake_export_admission WHERE worker = $1", 1, params,
                      NULL, err, errlen);
}
