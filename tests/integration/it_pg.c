/*
 * it_pg.c - pg.c against the real PostgreSQL of the local stack (libpq's PG* environment or
 * DATABASE_URL; skipped with the reason when neither is set).
 *
 * Everything runs in a schema of its own (PGOPTIONS search_path, so forked children get it
 * too), dropped at the end, so the project's real migrations in the same database are not
 * touched.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pg.h"
#include "../unit/sl_test.h"

static char schema[64];
static int32_t lock_ns;

static PGconn *connect_or_null(const char *app)
{
    PGconn *c = NULL;
    char err[SL_ERRLEN];

    if (sl_pg_connect(&c, app, err, sizeof err)) {
        fprintf(stderr, "connect: %s\n", err);
        return NULL;
    }
    return c;
}

static long long count_rows(PGconn *c, const char *sql)
{
    PGresult *r = NULL;
    char err[SL_ERRLEN];
    long long n = -1;

    if (sl_pg_exec(c, sql, 0, NULL, &r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (PQntuples(r) == 1)
        n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char *conninfo_value(PQconninfoOption *opts, const char *key)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val;
    return NULL;
}

static void test_connect_keepalives_and_app_name(void)
{
    PGconn *c = connect_or_null("it-pg");
    PQconninfoOption *ci;
    PGresult *r = NULL;
    char err[SL_ERRLEN];
    int ok;

    CHECK(c != NULL);
    ci = PQconninfo(c);
    ok = ci && conninfo_value(ci, "keepalives") &&
         strcmp(conninfo_value(ci, "keepalives"), "1") == 0 &&
         strcmp(conninfo_value(ci, "keepalives_idle"), "30") == 0 &&
         strcmp(conninfo_value(ci, "keepalives_interval"), "10") == 0 &&
         strcmp(conninfo_value(ci, "keepalives_count"), "3") == 0;
    PQconninfoFree(ci);
    if (!ok) {
        PQfinish(c);
        CHECK(!"keepalive options missing from PQconninfo");
    }
    /* The server sees our application_name. */
    if (sl_pg_exec(c, "SHOW application_name", 0, NULL, &r, err, sizeof err)) {
        PQfinish(c);
        CHECK(!"SHOW application_name");
    }
    ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "it-pg") == 0;
    PQclear(r);
    /* And over TCP the socket really has them (libpq sets them with setsockopt). */
    if (ok && PQhost(c) && PQhost(c)[0] != '/') {
        int fd = PQsocket(c), on = 0, idle = 0, intvl = 0, cnt = 0;
        socklen_t l = sizeof on;
        ok = getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &l) == 0 && on == 1;
        l = sizeof idle;
        ok = ok && getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &l) == 0 && idle == 30;
        l = sizeof intvl;
        ok = ok && getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, &l) == 0 && intvl == 10;
        l = sizeof cnt;
        ok = ok && getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, &l) == 0 && cnt == 3;
    }
    PQfinish(c);
    CHECK(ok);
}

static const sl_pg_migration migs[] = {
    /* deliberately not idempotent: applying either twice would fail */
    {1, "create widgets", "CREATE TABLE widgets (id int PRIMARY KEY, name text)"},
    {2, "seed widgets",
     "CREATE TABLE gadgets (id int); INSERT INTO widgets VALUES (1, 'one'), (2, 'two')"},
};

static void test_migrate_applies_once(void)
{
    PGconn *c = connect_or_null("it-pg");
    sl_pg_migration more[3];
    char err[SL_ERRLEN];
    int applied = -1;

    CHECK(c != NULL);
    if (sl_pg_migrate(c, migs, 2, &applied, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        PQfinish(c);
        CHECK(!"first migrate");
    }
    if (applied != 2) {
        PQfinish(c);
        CHECK_INT(applied, 2);
    }
    applied = -1;
    if (sl_pg_migrate(c, migs, 2, &applied, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        PQfinish(c);
        CHECK(!"second migrate");
    }
    if (applied != 0) {
        PQfinish(c);
        CHECK_INT(applied, 0);
    }
    /* a new migration appended later is the only one applied */
    memcpy(more, migs, sizeof migs);
    more[2] = (sl_pg_migration){3, "add column", "ALTER TABLE widgets ADD COLUMN color text"};
    if (sl_pg_migrate(c, more, 3, &applied, err, sizeof err) || applied != 1) {
        fprintf(stderr, "%s applied %d\n", err, applied);
        PQfinish(c);
        CHECK(!"third migrate");
    }
    CHECK_INT(count_rows(c, "SELECT count(*) FROM snaplake_schema_migrations"), 3);
    CHECK_INT(count_rows(c, "SELECT count(*) FROM widgets"), 2);
    CHECK_INT(count_rows(c, "SELECT count(*) FROM snaplake_schema_migrations "
                            "WHERE applied_at IS NOT NULL AND name <> ''"),
              3);
    PQfinish(c);
}

static void test_migrate_failure_rolls_back_and_unlocks(void)
{
    PGconn *c = connect_or_null("it-pg"), *other = NULL;
    sl_pg_migration bad[] = {
        migs[0],
        migs[1],
        {3, "add column", "ALTER TABLE widgets ADD COLUMN color text"},
        {4, "broken", "CREATE TABLE half_done (id int); SELEC 1"},
    };
    sl_pg_migration unordered[] = {{5, "b", "SELECT 1"}, {4, "a", "SELECT 1"}};
    char err[SL_ERRLEN];
    int applied = -1, got = 0;

    CHECK(c != NULL);
    CHECK_INT(sl_pg_migrate(c, bad, 4, &applied, err, sizeof err), -1);
    CHECK_INT(applied, -1);
    CHECK(strstr(err, "migration 4 (broken)") != NULL);
    CHECK(strstr(err, "SQLSTATE 42601") != NULL);
    /* the failed migration's own statements were rolled back with it */
    CHECK_INT(count_rows(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'half_done' "
                            "AND schemaname = current_schema()"),
              0);
    CHECK_INT(count_rows(c, "SELECT count(*) FROM snaplake_schema_migrations"), 3);
    CHECK_INT(sl_pg_migrate(c, unordered, 2, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "ascend") != NULL);
    /* and the migration lock was released: another session can take it at once */
    other = connect_or_null("it-pg-other");
    if (!other) {
        PQfinish(c);
        CHECK(!"connect other");
    }
    if (sl_pg_try_advisory_lock(other, SL_PG_LOCK_NS_MIGRATE, 0, &got, err, sizeof err) || !got) {
        PQfinish(other);
        PQfinish(c);
        CHECK(!"migration lock still held");
    }
    CHECK_INT(sl_pg_advisory_unlock(other, SL_PG_LOCK_NS_MIGRATE, 0, err, sizeof err), 0);
    PQfinish(other);
    PQfinish(c);
}

/* Child of the concurrency test: migrate a slow list, exit with 10 + how many it applied. */
static void concurrent_child(void)
{
    static const sl_pg_migration slow[] = {
        {10, "slow one", "CREATE TABLE race_a (id int); SELECT pg_sleep(0.3)"},
        {11, "slow two", "CREATE TABLE race_b (id int); SELECT pg_sleep(0.2)"},
    };
    char err[SL_ERRLEN];
    PGconn *c = NULL;
    int applied = -1;

    if (sl_pg_connect(&c, "it-pg-child", err, sizeof err)) {
        fprintf(stderr, "child: %s\n", err);
        _exit(1);
    }
    if (sl_pg_migrate(c, slow, 2, &applied, err, sizeof err)) {
        fprintf(stderr, "child: %s\n", err);
        PQfinish(c);
        _exit(2);
    }
    PQfinish(c);
    _exit(10 + applied);
}

static void test_migrate_concurrent_starters(void)
{
    enum { N = 4 };
    pid_t kids[N];
    int total = 0, failed = 0;
    PGconn *c;

    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0);
        if (kids[i] == 0)
            concurrent_child();
    }
    for (int i = 0; i < N; i++) {
        int st = 0;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) < 10)
            failed++;
        else
            total += WEXITSTATUS(st) - 10;
    }
    CHECK_INT(failed, 0);
    /* each migration applied by exactly one of the starters */
    CHECK_INT(total, 2);
    c = connect_or_null("it-pg");
    CHECK(c != NULL);
    CHECK_INT(count_rows(c, "SELECT count(*) FROM snaplake_schema_migrations "
                            "WHERE version IN (10, 11)"),
              2);
    PQfinish(c);
}

static void test_advisory_lock_exclusive(void)
{
    PGconn *a = connect_or_null("it-pg-a"), *b = connect_or_null("it-pg-b");
    char err[SL_ERRLEN];
    int got_a = 0, got_b = 1, again = 0;
    int ok;

    ok = a && b && sl_pg_try_advisory_lock(a, lock_ns, 1, &got_a, err, sizeof err) == 0 &&
         got_a == 1 && sl_pg_try_advisory_lock(b, lock_ns, 1, &got_b, err, sizeof err) == 0 &&
         got_b == 0 &&
         /* a different key in the namespace is independent */
         sl_pg_try_advisory_lock(b, lock_ns, 2, &again, err, sizeof err) == 0 && again == 1 &&
         sl_pg_advisory_unlock(b, lock_ns, 2, err, sizeof err) == 0 &&
         /* unlocking what B does not hold is an error */
         sl_pg_advisory_unlock(b, lock_ns, 1, err, sizeof err) == -1 &&
         strstr(err, "not held") != NULL &&
         sl_pg_advisory_unlock(a, lock_ns, 1, err, sizeof err) == 0 &&
         sl_pg_try_advisory_lock(b, lock_ns, 1, &got_b, err, sizeof err) == 0 && got_b == 1 &&
         sl_pg_advisory_unlock(b, lock_ns, 1, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "last error: %s\n", err);
    PQfinish(a);
    PQfinish(b);
    CHECK(ok);
}

static void test_lock_freed_when_holder_killed(void)
{
    int fds[2];
    pid_t kid;
    char byte = 0, err[SL_ERRLEN];
    PGconn *b;
    int got = 1, st;
    long long t0, waited;

    CHECK(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    kid = fork();
    CHECK(kid >= 0);
    if (kid == 0) {
        PGconn *c = NULL;
        int g = 0;
        close(fds[0]);
        if (sl_pg_connect(&c, "it-pg-holder", err, sizeof err) ||
            sl_pg_try_advisory_lock(c, lock_ns, 7, &g, err, sizeof err) || !g)
            _exit(1);
        if (write(fds[1], "L", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    if (read(fds[0], &byte, 1) != 1 || byte != 'L') {
        kill(kid, SIGKILL);
        waitpid(kid, &st, 0);
        close(fds[0]);
        CHECK(!"holder did not take the lock");
    }
    close(fds[0]);
    b = connect_or_null("it-pg-b");
    if (!b || sl_pg_try_advisory_lock(b, lock_ns, 7, &got, err, sizeof err) || got != 0) {
        kill(kid, SIGKILL);
        waitpid(kid, &st, 0);
        PQfinish(b);
        CHECK(!"lock not held by the child");
    }
    /* The holder dies without a word: the kernel closes its socket, the backend ends, the
     * session's advisory locks go with it. */
    kill(kid, SIGKILL);
    waitpid(kid, &st, 0);
    t0 = sl_mono_ms();
    while (sl_mono_ms() - t0 < 5000) {
        if (sl_pg_try_advisory_lock(b, lock_ns, 7, &got, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            break;
        }
        if (got)
            break;
        struct timespec d = {0, 50 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    waited = sl_mono_ms() - t0;
    if (got)
        (void)!sl_pg_advisory_unlock(b, lock_ns, 7, err, sizeof err);
    PQfinish(b);
    fprintf(stderr, "lock freed %lld ms after SIGKILL\n", waited);
    CHECK_INT(got, 1);
    CHECK(waited < 5000);
}

static void test_reconnect_after_backend_killed(void)
{
    PGconn *a = connect_or_null("it-pg-a"), *b = connect_or_null("it-pg-b");
    char err[SL_ERRLEN], pid[16];
    const char *params[] = {pid};
    int got = 0, re = -1;

    CHECK(a && b);
    CHECK_INT(sl_pg_try_advisory_lock(a, lock_ns, 9, &got, err, sizeof err), 0);
    CHECK_INT(got, 1);
    snprintf(pid, sizeof pid, "%d", PQbackendPID(a));
    CHECK_INT(
        sl_pg_exec(b, "SELECT pg_terminate_backend($1::int)", 1, params, NULL, err, sizeof err), 0);
    CHECK(sl_pg_ping(a, err, sizeof err) == -1);
    CHECK_INT(sl_pg_reconnect(a, &re, err, sizeof err), 0);
    CHECK_INT(re, 1);
    CHECK_INT(sl_pg_ping(a, err, sizeof err), 0);
    CHECK_INT(sl_pg_reconnect(a, &re, err, sizeof err), 0);
    CHECK_INT(re, 0);
    /* the lock did not survive the reset: B takes it */
    CHECK_INT(sl_pg_try_advisory_lock(b, lock_ns, 9, &got, err, sizeof err), 0);
    CHECK_INT(got, 1);
    CHECK_INT(sl_pg_advisory_unlock(b, lock_ns, 9, err, sizeof err), 0);
    PQfinish(a);
    PQfinish(b);
}

static void test_exec_params_and_errors(void)
{
    PGconn *c = connect_or_null("it-pg");
    const char *params[] = {"O'Brien; DROP TABLE widgets", NULL};
    PGresult *r = NULL;
    char err[SL_ERRLEN];
    int ok;

    CHECK(c != NULL);
    ok = sl_pg_exec(c, "SELECT $1::text, $2::text IS NULL", 2, params, &r, err, sizeof err) == 0;
    ok = ok && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), params[0]) == 0 &&
         strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    r = (PGresult *)1;
    ok = ok && sl_pg_exec(c, "SELEC 1", 0, NULL, &r, err, sizeof err) == -1 && r == (PGresult *)1 &&
         strstr(err, "SQLSTATE 42601") != NULL && strchr(err, '\n') == NULL;
    ok = ok && sl_pg_exec(c, "SELECT 1/0", 0, NULL, NULL, err, sizeof err) == -1 &&
         strstr(err, "22012") != NULL;
    PQfinish(c);
    CHECK(ok);
}

static void test_connect_failure_reports_libpq_text(void)
{
    char err[SL_ERRLEN];
    char *saved = getenv("DATABASE_URL") ? strdup(getenv("DATABASE_URL")) : NULL;
    PGconn *c = NULL;
    int rc;

    setenv("DATABASE_URL", "postgresql://nobody:pw-not-shown@127.0.0.1:1/none", 1);
    rc = sl_pg_connect(&c, "it-pg", err, sizeof err);
    if (saved) {
        setenv("DATABASE_URL", saved, 1);
        free(saved);
    } else
        unsetenv("DATABASE_URL");
    CHECK_INT(rc, -1);
    CHECK(c == NULL);
    CHECK(strstr(err, "pg connect:") != NULL);
    CHECK(strstr(err, "pw-not-shown") == NULL);
    CHECK(strstr(err, "127.0.0.1") != NULL || strstr(err, "refused") != NULL);
}

/*
 * The SQLSTATE sql failed with ("" when it succeeded or carried none, "wait" when it ran
 * past 5 s, when it is cancelled: the test fails instead of hanging on a missing bound).
 */
static const char *sqlstate_of(PGconn *c, const char *sql, char *buf, size_t len)
{
    long long deadline = sl_mono_ms() + 5000;
    PGresult *r, *last = NULL;

    snprintf(buf, len, "%s", "");
    if (!PQsendQuery(c, sql))
        return buf;
    while (PQisBusy(c)) {
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        if (sl_mono_ms() >= deadline) {
            PGcancel *cn = PQgetCancel(c);
            char e[256];
            if (cn) {
                (void)PQcancel(cn, e, sizeof e);
                PQfreeCancel(cn);
            }
            snprintf(buf, len, "%s", "wait");
            deadline = sl_mono_ms() + 60000;
        }
        (void)poll(&pfd, 1, 100);
        if (!PQconsumeInput(c))
            break;
    }
    while ((r = PQgetResult(c))) {
        PQclear(last);
        last = r;
    }
    if (!buf[0] && last && PQresultStatus(last) == PGRES_FATAL_ERROR &&
        PQresultErrorField(last, PG_DIAG_SQLSTATE))
        snprintf(buf, len, "%s", PQresultErrorField(last, PG_DIAG_SQLSTATE));
    PQclear(last);
    return buf;
}

static void test_statement_and_lock_timeouts_on_every_connection(void)
{
    sl_pg_opts o = {300, 200};
    PGconn *c = NULL, *d = connect_or_null("it-pg-default"), *holder = NULL;
    char err[SL_ERRLEN], st[8];
    int got = 0;

    CHECK_INT(sl_pg_connect_opts(&c, "it-pg-timeouts", &o, err, sizeof err), 0);
    CHECK(c && d);
    /* The server ends a statement past statement_timeout: query_canceled. */
    CHECK_STR(sqlstate_of(c, "SELECT pg_sleep(10)", st, sizeof st), "57014");
    /* PGOPTIONS (setup's search_path) is kept next to the timeouts. */
    CHECK_INT(count_rows(c, "SELECT count(*) FROM pg_namespace WHERE nspname = "
                            "current_schema()"),
              1);
    {
        PGresult *r = PQexec(c, "SELECT current_setting('statement_timeout'), "
                                "current_setting('lock_timeout'), current_schema()");
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
        if (PQntuples(r) == 1) {
            CHECK_STR(PQgetvalue(r, 0, 0), "300ms");
            CHECK_STR(PQgetvalue(r, 0, 1), "200ms");
            CHECK_STR(PQgetvalue(r, 0, 2), schema);
        }
        PQclear(r);
    }
    /* The bounds survive a reset (startup options, not a SET). */
    PQreset(c);
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK_STR(sqlstate_of(c, "SELECT pg_sleep(10)", st, sizeof st), "57014");
    /* lock_timeout: waiting on a lock another session holds fails with lock_not_available. */
    CHECK_INT(sl_pg_connect(&holder, "it-pg-holder", err, sizeof err), 0);
    CHECK_INT(sl_pg_try_advisory_lock(holder, lock_ns, 11, &got, err, sizeof err), 0);
    CHECK_INT(got, 1);
    {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, 11)", (int)lock_ns);
        CHECK_STR(sqlstate_of(c, sql, st, sizeof st), "55P03");
    }
    /* sl_pg_connect: the defaults (30 s, 10 s). */
    {
        PGresult *r = PQexec(d, "SELECT current_setting('statement_timeout'), "
                                "current_setting('lock_timeout')");
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
        if (PQntuples(r) == 1) {
            CHECK_STR(PQgetvalue(r, 0, 0), "30s");
            CHECK_STR(PQgetvalue(r, 0, 1), "10s");
        }
        PQclear(r);
    }
    if (holder)
        PQfinish(holder);
    if (c)
        PQfinish(c);
    if (d)
        PQfinish(d);
}

static void test_link_heals_and_rate_limits(void)
{
    sl_pg_link l;
    PGconn *b = connect_or_null("it-pg-b");
    char err[SL_ERRLEN], pid[16];
    const char *params[] = {pid};
    int re = -1;

    CHECK(b != NULL);
    sl_pg_link_init(&l, "it-pg-link", NULL);
    CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), 0);
    CHECK_INT(re, 1);
    CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), 0);
    CHECK_INT(re, 0);
    /* The server ends the session: the next statement fails, the next ensure heals. */
    snprintf(pid, sizeof pid, "%d", PQbackendPID(l.conn));
    CHECK_INT(
        sl_pg_exec(b, "SELECT pg_terminate_backend($1::int)", 1, params, NULL, err, sizeof err), 0);
    CHECK(sl_pg_exec(l.conn, "SELECT 1", 0, NULL, NULL, err, sizeof err) == -1);
    CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), 0);
    CHECK_INT(re, 1);
    CHECK_INT(sl_pg_exec(l.conn, "SELECT 1", 0, NULL, NULL, err, sizeof err), 0);
    sl_pg_link_cleanup(&l);
    CHECK(l.conn == NULL);

    /* A dead server: one try, then none until the gap passed (no hammering, no sleep). */
    {
        char *saved = getenv("DATABASE_URL") ? strdup(getenv("DATABASE_URL")) : NULL;
        long long gap;

        setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", 1);
        sl_pg_link_init(&l, "it-pg-dead", NULL);
        CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), -1);
        CHECK(strstr(err, "127.0.0.1") != NULL || strstr(err, "refused") != NULL);
        CHECK(l.conn == NULL);
        gap = l.gap_ms;
        CHECK_INT(gap, SL_PG_RETRY_MIN_MS);
        CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), -1);
        CHECK(strstr(err, "next reconnect in") != NULL);
        CHECK_INT(l.gap_ms, gap); /* not tried again */
        l.next_try_ms = 1;        /* the gap passed: tried, and the gap doubles */
        CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), -1);
        CHECK_INT(l.gap_ms, 2 * SL_PG_RETRY_MIN_MS);
        for (int i = 0; i < 10; i++) {
            l.next_try_ms = 1;
            CHECK_INT(sl_pg_ensure(&l, &re, err, sizeof err), -1);
        }
        CHECK_INT(l.gap_ms, SL_PG_RETRY_MAX_MS);
        sl_pg_link_cleanup(&l);
        if (saved) {
            setenv("DATABASE_URL", saved, 1);
            free(saved);
        } else
            unsetenv("DATABASE_URL");
    }
    if (b)
        PQfinish(b);
}

static const sl_test tests[] = {
    SL_TEST(test_connect_keepalives_and_app_name),
    SL_TEST(test_migrate_applies_once),
    SL_TEST(test_migrate_failure_rolls_back_and_unlocks),
    SL_TEST(test_migrate_concurrent_starters),
    SL_TEST(test_advisory_lock_exclusive),
    SL_TEST(test_lock_freed_when_holder_killed),
    SL_TEST(test_reconnect_after_backend_killed),
    SL_TEST(test_exec_params_and_errors),
    SL_TEST(test_connect_failure_reports_libpq_text),
    SL_TEST(test_statement_and_lock_timeouts_on_every_connection),
    SL_TEST(test_link_heals_and_rate_limits),
};

/* The connection that made the run's schema; it drops the schema after the tests. */
static PGconn *admin;

static int setup(void)
{
    char err[SL_ERRLEN], opts[160], sql[128];
    const char *old = getenv("PGOPTIONS");

    sl_log_init("it_pg", SL_LOG_WARN);
    snprintf(schema, sizeof schema, "it_pg_%ld_%lld", (long)getpid(), sl_now_ms() % 100000);
    lock_ns = (int32_t)(0x49540000 | (getpid() & 0xffff)); /* unique per run */
    if (sl_pg_connect(&admin, "it-pg-setup", err, sizeof err)) {
        fprintf(stderr, "it_pg: cannot connect: %s\n", err);
        return -1;
    }
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    if (sl_pg_exec(admin, sql, 0, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "it_pg: %s\n", err);
        PQfinish(admin);
        return -1;
    }
    snprintf(opts, sizeof opts, "%s%s-c search_path=%s", old ? old : "", old ? " " : "", schema);
    setenv("PGOPTIONS", opts, 1);
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
