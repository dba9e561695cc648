/*
 * it_partlock.c - partlock.c against the real PostgreSQL of the local stack: the partition
 * replacement lock excludes a second session (two jobs of one worker have a connection each),
 * sl_partlock_held sees the lock and its loss, and the holder record never moves to an older
 * export. Runs in a schema of its own (PGOPTIONS search_path), dropped at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "partlock.h"
#include "pg.h"
#include "../unit/sl_test.h"

static char schema[64], cluster[64];
static PGconn *admin;

static PGconn *conn(const char *app)
{
    PGconn *c = NULL;
    char err[SL_ERRLEN];

    if (sl_pg_connect(&c, app, err, sizeof err)) {
        fprintf(stderr, "connect: %s\n", err);
        return NULL;
    }
    return c;
}

static void test_key_stable_and_distinct(void)
{
    CHECK(sl_partlock_key("c1", "2024-03-05") == sl_partlock_key("c1", "2024-03-05"));
    CHECK(sl_partlock_key("c1", "2024-03-05") != sl_partlock_key("c1", "2024-03-06"));
    /* The separator keeps ("ab", "c") and ("a", "bc") apart. */
    CHECK(sl_partlock_key("ab", "c") != sl_partlock_key("a", "bc"));
}

static void test_lock_excludes_other_session(void)
{
    PGconn *a = conn("it-partlock-a"), *b = conn("it-partlock-b");
    int32_t key = sl_partlock_key(cluster, "2024-03-05");
    char err[SL_ERRLEN];
    int got = -1, held = -1;

    CHECK(a && b);
    CHECK(sl_pg_try_advisory_lock(a, SL_PARTLOCK_NS, key, &got, err, sizeof err) == 0 && got);
    CHECK(sl_partlock_held(a, key, &held, err, sizeof err) == 0 && held == 1);
    CHECK(sl_partlock_held(b, key, &held, err, sizeof err) == 0 && held == 0);
    CHECK(sl_pg_try_advisory_lock(b, SL_PARTLOCK_NS, key, &got, err, sizeof err) == 0 && !got);
    /* Another partition is free meanwhile. */
    CHECK(sl_pg_try_advisory_lock(b, SL_PARTLOCK_NS, sl_partlock_key(cluster, "2024-03-06"), &got,
                                  err, sizeof err) == 0 &&
          got);
    CHECK(sl_pg_advisory_unlock(a, SL_PARTLOCK_NS, key, err, sizeof err) == 0);
    CHECK(sl_partlock_held(a, key, &held, err, sizeof err) == 0 && held == 0);
    CHECK(sl_pg_try_advisory_lock(b, SL_PARTLOCK_NS, key, &got, err, sizeof err) == 0 && got);
    PQfinish(a);
    /* A closed session frees its lock (a worker that died). */
    a = conn("it-partlock-a2");
    CHECK(a);
    PQfinish(b);
    CHECK(sl_pg_try_advisory_lock(a, SL_PARTLOCK_NS, key, &got, err, sizeof err) == 0 && got);
    PQfinish(a);
}

static void test_holder_never_moves_back(void)
{
    PGconn *c = conn("it-partlock-holder");
    sl_partlock_holder h;
    char err[SL_ERRLEN];
    int written = -1;

    CHECK(c);
    CHECK(sl_partlock_holder_get(c, cluster, "2024-03-05", &h, err, sizeof err) == 0);
    CHECK(!h.found);
    CHECK(sl_partlock_holder_set(c, cluster, "2024-03-05", 2000, "exp-new", "run-new", NULL,
                                 &written, err, sizeof err) == 0 &&
          written == 1);
    CHECK(sl_partlock_holder_set(c, cluster, "2024-03-05", 1000, "exp-old", "run-old", "rds:x",
                                 &written, err, sizeof err) == 0 &&
          written == 0);
    /* Same time: the export id decides, bytewise ("exp-a" < "exp-new"). */
    CHECK(sl_partlock_holder_set(c, cluster, "2024-03-05", 2000, "exp-a", "run-a", NULL, &written,
                                 err, sizeof err) == 0 &&
          written == 0);
    /* The same export again (a redelivery) rewrites its own record. */
    CHECK(sl_partlock_holder_set(c, cluster, "2024-03-05", 2000, "exp-new", "run-new", NULL,
                                 &written, err, sizeof err) == 0 &&
          written == 1);
    CHECK(sl_partlock_holder_get(c, cluster, "2024-03-05", &h, err, sizeof err) == 0);
    CHECK(h.found && h.time_ms == 2000 && strcmp(h.export_task_id, "exp-new") == 0 &&
          strcmp(h.run_id, "run-new") == 0);
    sl_partlock_holder_cleanup(&h);
    CHECK(sl_partlock_holder_set(c, cluster, "2024-03-05", 3000, "exp-newer", "run-3", NULL,
                                 &written, err, sizeof err) == 0 &&
          written == 1);
    CHECK(sl_partlock_holder_get(c, cluster, "2024-03-05", &h, err, sizeof err) == 0);
    CHECK(h.found && strcmp(h.export_task_id, "exp-newer") == 0);
    sl_partlock_holder_cleanup(&h);
    /* Other dates are other partitions. */
    CHECK(sl_partlock_holder_get(c, cluster, "2024-03-06", &h, err, sizeof err) == 0 && !h.found);
    PQfinish(c);
}

static const sl_test tests[] = {
    SL_TEST(test_key_stable_and_distinct),
    SL_TEST(test_lock_excludes_other_session),
    SL_TEST(test_holder_never_moves_back),
};

static int setup(void)
{
    char err[SL_ERRLEN], opts[160], sql[128];
    const char *old = getenv("PGOPTIONS");

    sl_log_init("it_partlock", SL_LOG_WARN);
    snprintf(schema, sizeof schema, "it_partlock_%ld_%lld", (long)getpid(), sl_now_ms() % 100000);
    snprintf(cluster, sizeof cluster, "it-partlock-%ld-%lld", (long)getpid(), sl_now_ms());
    if (sl_pg_connect(&admin, "it-partlock-setup", err, sizeof err)) {
        fprintf(stderr, "it_partlock: cannot connect: %s\n", err);
        return -1;
    }
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    snprintf(opts, sizeof opts, "%s%s-c search_path=%s", old ? old : "", old ? " " : "", schema);
    setenv("PGOPTIONS", opts, 1);
    if (sl_pg_exec(admin, sql, 0, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "it_partlock: %s\n", err);
        PQfinish(admin);
        return -1;
    }
    {
        PGconn *c = conn("it-partlock-migrate");
        int rc = c ? sl_partlock_migrate(c, err, sizeof err) : -1;
        if (rc)
            fprintf(stderr, "it_partlock: migrate: %s\n", c ? err : "no connection");
        if (c)
            PQfinish(c);
        if (rc) {
            PQfinish(admin);
            return -1;
        }
    }
    return 0;
}

static void teardown(void)
{
    char err[SL_ERRLEN], sql[128];

    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    if (sl_pg_exec(admin, sql, 0, NULL, NULL, err, sizeof err))
        fprintf(stderr, "cleanup: %s\n", err);
    PQfinish(admin);
}

SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "PGHOST|DATABASE_URL")
