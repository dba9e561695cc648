/*
 * it_ledger.c - the run ledger against the real PostgreSQL of the local stack (PG* from
 * .stack/env): migrations, run dedupe, attempts on redelivery, transitions and history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/sl_test.h"
#include "ledger.h"
#include "pg.h"

static PGconn *conn;
static char run_id[64];

static void fill_msg(sl_msg *m)
{
    sl_msg_init(m);
    m->type = SL_MSG_SNAPSHOT;
    m->run_id = strdup(run_id);
    m->cluster = strdup("ledger-test");
    m->mode = strdup("snapshot");
    m->snapshot_id = strdup("rds:ledger-test-2024-02-29-03-05");
    m->source_arn = strdup("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:x");
    m->date = strdup("2024-02-29");
    m->source = strdup("event");
}

static long long count_for(const char *id, const char *sql)
{
    PGresult *res = NULL;
    const char *p[1] = {id};
    char err[SL_ERRLEN];
    long long n;

    if (sl_pg_exec(conn, sql, 1, p, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    n = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static long long count(const char *sql)
{
    return count_for(run_id, sql);
}

static void test_migrate_twice(void)
{
    char err[SL_ERRLEN];
    CHECK(sl_ledger_migrate(conn, err, sizeof(err)) == 0);
    CHECK(sl_ledger_migrate(conn, err, sizeof(err)) == 0);
}

static void test_run_dedupe(void)
{
    sl_msg m;
    char err[SL_ERRLEN];
    int created = -1, exists = -1;

    fill_msg(&m);
    CHECK(sl_ledger_run_exists(conn, run_id, &exists, err, sizeof(err)) == 0);
    CHECK_INT(exists, 0);
    CHECK(sl_ledger_run_ensure(conn, &m, &created, err, sizeof(err)) == 0);
    CHECK_INT(created, 1);
    CHECK(sl_ledger_run_ensure(conn, &m, &created, err, sizeof(err)) == 0);
    CHECK_INT(created, 0);
    CHECK(sl_ledger_run_exists(conn, run_id, &exists, err, sizeof(err)) == 0);
    CHECK_INT(exists, 1);
    sl_msg_cleanup(&m);
}

static void test_stage_lifecycle(void)
{
    sl_msg m;
    char err[SL_ERRLEN];
    int attempt = 0;

    fill_msg(&m);
    CHECK(sl_ledger_stage_begin(conn, &m, "export", &attempt, err, sizeof(err)) == 0);
    CHECK_INT(attempt, 1);
    CHECK(sl_ledger_stage_update(conn, run_id, "export", attempt, SL_LEDGER_WAITING, NULL, 0, NULL,
                                 "{\"reason\":\"no slot\"}", err, sizeof(err)) == 0);
    /* Same status again: no new history row. */
    CHECK(sl_ledger_stage_update(conn, run_id, "export", attempt, SL_LEDGER_WAITING, NULL, 0, NULL,
                                 NULL, err, sizeof(err)) == 0);
    CHECK(sl_ledger_stage_update(conn, run_id, "export", attempt, SL_LEDGER_RUNNING, "task-1", 0,
                                 "{\"export_task\":\"task-1\"}", NULL, err, sizeof(err)) == 0);
    CHECK(sl_ledger_stage_finish(conn, run_id, "export", attempt, SL_LEDGER_FAILED, "ExportFailed",
                                 "S3 access denied", NULL, 0, NULL, NULL, err, sizeof(err)) == 0);
    CHECK_INT(count("SELECT count(*) FROM snaplake_stage_events WHERE run_id = $1"), 4);
    CHECK_INT(count("SELECT count(*) FROM snaplake_stage_runs WHERE run_id = $1 AND"
                    " status = 'failed' AND error_code = 'ExportFailed' AND"
                    " export_task_id = 'task-1' AND finished_at IS NOT NULL AND"
                    " details->>'reason' = 'no slot'"),
              1);
    /* A redelivery begins again: attempt 2, error cleared. */
    CHECK(sl_ledger_stage_begin(conn, &m, "export", &attempt, err, sizeof(err)) == 0);
    CHECK_INT(attempt, 2);
    CHECK_INT(count("SELECT count(*) FROM snaplake_stage_runs WHERE run_id = $1 AND"
                    " status = 'running' AND error_code IS NULL AND finished_at IS NULL"),
              1);
    CHECK(sl_ledger_stage_finish(conn, run_id, "export", attempt, SL_LEDGER_SUCCEEDED, NULL, NULL,
                                 NULL, 0, NULL, "{\"objects\":3}", err, sizeof(err)) == 0);
    CHECK_INT(count("SELECT count(*) FROM snaplake_stage_runs WHERE run_id = $1 AND"
                    " status = 'succeeded' AND attempt = 2 AND details->>'objects' = '3'"),
              1);
    sl_msg_cleanup(&m);
}

static void test_rejects_bad_transitions(void)
{
    char err[SL_ERRLEN];

    CHECK(sl_ledger_stage_update(conn, run_id, "export", 2, SL_LEDGER_SUCCEEDED, NULL, 0, NULL,
                                 NULL, err, sizeof(err)) != 0);
    CHECK(sl_ledger_stage_finish(conn, run_id, "export", 2, SL_LEDGER_RUNNING, NULL, NULL, NULL, 0,
                                 NULL, NULL, err, sizeof(err)) != 0);
    /* A stage that never began cannot be finished. */
    CHECK(sl_ledger_stage_finish(conn, run_id, "crawl", 1, SL_LEDGER_SUCCEEDED, NULL, NULL, NULL, 0,
                                 NULL, NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "never begun") != NULL);
    /* Bad JSON in details is refused by the server and leaves the row unchanged. */
    CHECK(sl_ledger_stage_update(conn, run_id, "export", 2, SL_LEDGER_RUNNING, NULL, 0, NULL,
                                 "{not json", err, sizeof(err)) == -1);
    CHECK_INT(count("SELECT count(*) FROM snaplake_stage_runs WHERE run_id = $1 AND"
                    " status = 'succeeded'"),
              1);
}

/*
 * Two writers of one stage row: A begins, loses its partition, B begins (a later fence); every
 * write of A is refused with SL_LEDGER_FENCED and changes nothing, B's go through.
 */
static void test_stale_writer_is_fenced_out(void)
{
    sl_msg m;
    char err[SL_ERRLEN], rid[80];
    int a = 0, b = 0;

    fill_msg(&m);
    snprintf(rid, sizeof(rid), "%s-fence", run_id);
    free(m.run_id);
    m.run_id = strdup(rid);
    CHECK(sl_ledger_stage_begin(conn, &m, "export", &a, err, sizeof(err)) == 0);
    CHECK(sl_ledger_stage_update(conn, rid, "export", a, SL_LEDGER_RUNNING, "task-a", 1, NULL, NULL,
                                 err, sizeof(err)) == 0);
    CHECK(sl_ledger_stage_begin(conn, &m, "export", &b, err, sizeof(err)) == 0);
    CHECK(b > a);
    CHECK_INT(sl_ledger_stage_check(conn, rid, "export", a, err, sizeof(err)), SL_LEDGER_FENCED);
    CHECK(strstr(err, "fenced out") != NULL);
    CHECK_INT(sl_ledger_stage_check(conn, rid, "export", b, err, sizeof(err)), 0);
    CHECK(sl_ledger_stage_update(conn, rid, "export", b, SL_LEDGER_RUNNING, "task-b", 2, NULL, NULL,
                                 err, sizeof(err)) == 0);
    /* The zombie's interim and final writes are refused... */
    CHECK_INT(sl_ledger_stage_update(conn, rid, "export", a, SL_LEDGER_WAITING, "task-a", 1, NULL,
                                     NULL, err, sizeof(err)),
              SL_LEDGER_FENCED);
    CHECK_INT(sl_ledger_stage_finish(conn, rid, "export", a, SL_LEDGER_FAILED, "ExportFailed",
                                     "old cause", "task-a", 1, NULL, NULL, err, sizeof(err)),
              SL_LEDGER_FENCED);
    /* ... and leave no trace: B's state stands, and the connection is usable (rolled back). */
    {
        PGresult *res = NULL;
        const char *p[1] = {rid};
        CHECK(sl_pg_exec(conn,
                         "SELECT status, export_task_id, generation, attempt, error_code IS NULL"
                         " FROM snaplake_stage_runs WHERE run_id = $1 AND stage = 'export'",
                         1, p, &res, err, sizeof(err)) == 0);
        CHECK_INT(PQntuples(res), 1);
        if (PQntuples(res) == 1) {
            CHECK_STR(PQgetvalue(res, 0, 0), "running");
            CHECK_STR(PQgetvalue(res, 0, 1), "task-b");
            CHECK_STR(PQgetvalue(res, 0, 2), "2");
            CHECK_INT(atoi(PQgetvalue(res, 0, 3)), b);
            CHECK_STR(PQgetvalue(res, 0, 4), "t");
        }
        PQclear(res);
    }
    CHECK_INT(count_for(rid, "SELECT count(*) FROM snaplake_stage_events WHERE run_id = $1 AND"
                             " status IN ('failed', 'waiting')"),
              0);
    /* History carries attempt and generation: A's gen 1 and B's gen 2 both show. */
    {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM snaplake_stage_events WHERE run_id = $1 AND status ="
                 " 'running' AND ((attempt = %d AND generation = 1) OR (attempt = %d AND"
                 " generation = 2))",
                 a, b);
        CHECK_INT(count_for(rid, sql), 2);
    }
    CHECK(sl_ledger_stage_finish(conn, rid, "export", b, SL_LEDGER_SUCCEEDED, NULL, NULL, NULL, 0,
                                 NULL, NULL, err, sizeof(err)) == 0);
    sl_msg_cleanup(&m);
}

static void test_report(void)
{
    char err[SL_ERRLEN];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *ids[1] = {run_id};

    CHECK(f != NULL);
    CHECK(sl_ledger_report(conn, f, ids, 1, 0, err, sizeof(err)) == 0);
    fclose(f);
    CHECK(strstr(buf, run_id) != NULL);
    CHECK(strstr(buf, "export") != NULL);
    CHECK(strstr(buf, "succeeded") != NULL);
    free(buf);
}

static const sl_test tests[] = {
    SL_TEST(test_migrate_twice),
    SL_TEST(test_run_dedupe),
    SL_TEST(test_stage_lifecycle),
    SL_TEST(test_rejects_bad_transitions),
    SL_TEST(test_stale_writer_is_fenced_out),
    SL_TEST(test_report),
};

static int setup(void)
{
    char err[SL_ERRLEN];

    if (sl_pg_connect(&conn, "it_ledger", err, sizeof(err)) != 0) {
        fprintf(stderr, "it_ledger: %s\n", err);
        return -1;
    }
    snprintf(run_id, sizeof(run_id), "ledger-test-%d-%lld", (int)getpid(), sl_now_ms());
    return 0;
}

static void teardown(void)
{
    PQfinish(conn);
}

SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "PGHOST|DATABASE_URL")
