/*
 * redo.c - `snaplakectl redo RUN [--stage S]`: the Step Functions "redrive" of a run.
 *
 * Republishes the input message the ledger recorded for the failed stage (or for S) to that
 * stage's input topic, keyed by cluster like the pipeline's own messages, so the stage's
 * workers run it again (attempt + 1) and the run goes on from there. Only that stage is
 * redone: the stages before it succeeded and are not repeated (their outputs are what the
 * recorded input is). An export redone after AWS failed it gets a new task generation by the
 * export stage's own rule (ids.h: a FAILED task keeps its id for good, so the next generation
 * `<id>-g<N>` is started). There is no time window: the input lives in the ledger, not in
 * Kafka's retention.
 *
 * Refused (exit 1): a stage that succeeded, one still running on a live worker (a stale one
 * may be redone), one with no recorded input (from before migration 3001), and a stage whose
 * row changed between reading and marking it (another redo, or a worker began it).
 *
 * Order: the stage row is first marked `queued` (guarded by the status and attempt read, so
 * two redos cannot both publish), then the message is published and awaited; a failed publish
 * puts the row back as it was. Needs UPDATE/INSERT on the ledger and Kafka (KAFKA_* and
 * KAFKA_TOPIC_PREFIX, as the workers), never AWS settings.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_db.h"
#include "ctl_runs.h"
#include "kafka.h"
#include "ledger_console.h"
#include "log.h"
#include "msg.h"

#define PUBLISH_WAIT_MS 30000

/* clang-format off */
static const char rows_sql[] =
    "SELECT s.stage, s.status, s.attempt, coalesce(s.input_msg, ''), coalesce(s.generation, 0),"
    "  coalesce(s.export_task_id, ''), " SL_LEDGER_CONSOLE_STALE_SQL ","
    "  coalesce(s.owner_id, ''), coalesce(s.owner_host, '')"
    " FROM snaplake_stage_runs s LEFT JOIN snaplake_workers w ON w.worker_id = s.owner_id"
    " WHERE s.run_id = $1"
    " ORDER BY coalesce(array_position(ARRAY['export', 'copy', 'crawl', 'share'], s.stage), 99)";
/* clang-format on */

/* Sets the row to `to` when it still has status `from` and attempt `attempt`, and appends a
 * history row saying why. 0 done, 1 the row changed meanwhile, -1 with err. */
static int mark(PGconn *conn, const char *run_id, const char *stage, const char *attempt,
                const char *from, const char *to, const char *why, char *err, size_t errlen)
{
    const char *p[6] = {run_id, stage, attempt, from, to, why};
    PGresult *res = NULL;
    int rc;

    /* One statement: the guarded update and its history row commit together. */
    if (sl_pg_exec(conn,
                   "WITH u AS (UPDATE snaplake_stage_runs SET status = $5, updated_at = now()"
                   "   WHERE run_id = $1 AND stage = $2 AND attempt = $3::integer AND status = $4"
                   "   RETURNING run_id, stage, attempt, generation)"
                   " INSERT INTO snaplake_stage_events (run_id, stage, status, attempt, generation,"
                   "   details)"
                   " SELECT run_id, stage, $5, attempt, generation,"
                   "   jsonb_build_object('redo', $6::text) FROM u RETURNING 1",
                   6, p, &res, err, errlen))
        return -1;
    rc = PQntuples(res) == 1 ? 0 : 1;
    PQclear(res);
    return rc;
}

/* Picks the row to redo (index into res) or -1 after saying why on stderr. */
static int pick(PGresult *res, const char *run_id, const char *want)
{
    int failed = -1, stale = -1;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *stage = PQgetvalue(res, i, 0), *status = PQgetvalue(res, i, 1);
        int is_stale = strcmp(PQgetvalue(res, i, 6), "t") == 0;

        if (want && strcmp(stage, want) == 0) {
            if (strcmp(status, "succeeded") == 0) {
                fprintf(stderr,
                        "snaplakectl redo: stage %s of run %s succeeded; succeeded stages are "
                        "not repeated\n",
                        stage, run_id);
                return -1;
            }
            if ((strcmp(status, "running") == 0 || strcmp(status, "waiting") == 0) && !is_stale) {
                fprintf(stderr,
                        "snaplakectl redo: stage %s of run %s is %s on %s (%s), which is alive; "
                        "redo a stage once it failed or went stale\n",
                        stage, run_id, status, PQgetvalue(res, i, 7), PQgetvalue(res, i, 8));
                return -1;
            }
            return i;
        }
        if (failed < 0 && strcmp(status, "failed") == 0)
            failed = i;
        if (stale < 0 && is_stale)
            stale = i;
    }
    if (want) {
        fprintf(stderr, "snaplakectl redo: run %s has no stage \"%.64s\" in the ledger\n", run_id,
                want);
        return -1;
    }
    if (failed < 0 && stale < 0)
        fprintf(stderr,
                "snaplakectl redo: run %s has no failed or stale stage (see snaplakectl "
                "show; --stage S names one)\n",
                run_id);
    return failed >= 0 ? failed : stale;
}

static int publish(const char *topic, const sl_msg *m, const char *text, char *err, size_t errlen)
{
    const char *props[] = {"client.id", "snaplakectl-redo", NULL};
    sl_kafka_producer *p = NULL;
    int rc;

    if (sl_kafka_producer_new(&p, props, NULL, err, errlen))
        return -1;
    rc = sl_kafka_produce_sync(p, topic, RD_KAFKA_PARTITION_UA, m->cluster, strlen(m->cluster),
                               text, strlen(text), NULL, 0, PUBLISH_WAIT_MS, NULL, err, errlen);
    sl_kafka_producer_free(p);
    return rc;
}

int ctl_redo_main(int argc, char **argv)
{
    ctl_db db;
    const char *run_id = NULL, *want = NULL;
    PGresult *res = NULL;
    sl_msg m;
    char err[SL_ERRLEN] = "", topic[256], why[128], *stage, *status, *attempt, *input;
    int rc, i, mk;

    sl_msg_init(&m);
    if ((rc = ctl_db_config("redo", &db)) != 0)
        return rc;
    rc = 2;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--stage") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "snaplakectl redo: --stage needs a stage name\n");
                goto out;
            }
            want = argv[++i];
        } else if (argv[i][0] == '-' || !argv[i][0] || run_id) {
            fprintf(stderr, "snaplakectl redo: %s \"%.64s\" (usage: redo RUN_ID [--stage S])\n",
                    argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
            goto out;
        } else {
            run_id = argv[i];
        }
    }
    if (!run_id) {
        fprintf(stderr, "snaplakectl redo: which run? (usage: redo RUN_ID [--stage S])\n");
        goto out;
    }
    if ((rc = ctl_db_open("redo", &db, 0)) != 0)
        goto out;
    rc = 1;
    if (ctl_db_unknown_runs(db.pg.conn, "redo", &run_id, 1, err, sizeof(err)) != 0 ||
        sl_pg_exec(db.pg.conn, rows_sql, 1, &run_id, &res, err, sizeof(err))) {
        if (err[0])
            fprintf(stderr, "snaplakectl redo: %s\n", err);
        goto out;
    }
    if ((i = pick(res, run_id, want)) < 0)
        goto out;
    stage = PQgetvalue(res, i, 0);
    status = PQgetvalue(res, i, 1);
    attempt = PQgetvalue(res, i, 2);
    input = PQgetvalue(res, i, 3);
    if (!*input) {
        fprintf(stderr,
                "snaplakectl redo: stage %s of run %s has no recorded input (a ledger row "
                "from before migration %d); replay its topic instead (snaplakectl replay)\n",
                stage, run_id, SL_LEDGER_CONSOLE_MIGRATION_FIRST);
        goto out;
    }
    if (sl_msg_decode(input, strlen(input), &m, err, sizeof(err)) ||
        sl_kafka_topic_name(topic, sizeof(topic), NULL, sl_msg_default_topic(m.type))) {
        fprintf(stderr, "snaplakectl redo: the recorded input of stage %s does not decode: %s\n",
                stage, err);
        goto out;
    }
    snprintf(why, sizeof(why), "snaplakectl redo of attempt %s (%s)", attempt, status);
    err[0] = '\0';
    if ((mk = mark(db.pg.conn, run_id, stage, attempt, status, "queued", why, err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl redo: %s\n",
                mk > 0 ? "the stage changed meanwhile (another redo, or a worker began it); "
                         "nothing published"
                       : err);
        goto out;
    }
    if (publish(topic, &m, input, err, sizeof(err))) {
        char e2[SL_ERRLEN];
        fprintf(stderr, "snaplakectl redo: publishing to %s failed: %s\n", topic, err);
        if (mark(db.pg.conn, run_id, stage, attempt, "queued", status, "redo not published", e2,
                 sizeof(e2)) < 0)
            fprintf(stderr, "snaplakectl redo: and the stage could not be put back: %s\n", e2);
        goto out;
    }
    printf("redo: run %s stage %s (attempt %s, %s): its input (%s) republished to %s\n", run_id,
           stage, attempt, status, sl_msg_type_name(m.type), topic);
    if (strcmp(stage, "export") == 0 && *PQgetvalue(res, i, 5))
        printf("  export %s (generation %d) keeps its id in AWS; the export stage starts "
               "generation %d if it ended FAILED or CANCELED\n",
               PQgetvalue(res, i, 5),
               atoi(PQgetvalue(res, i, 4)) > 0 ? atoi(PQgetvalue(res, i, 4)) : 1,
               (atoi(PQgetvalue(res, i, 4)) > 0 ? atoi(PQgetvalue(res, i, 4)) : 1) + 1);
    printf("  follow it with: snaplakectl show %s\n", run_id);
    rc = 0;
out:
    PQclear(res);
    sl_msg_cleanup(&m);
    ctl_db_close(&db);
    return rc;
}
