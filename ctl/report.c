/*
 * report.c - `snaplakectl report --html FILE`.
 *
 * Reads, in one READ ONLY transaction (REPEATABLE READ, so the three reads agree), the runs
 * (given ids, or created in the last --since-hours, newest first, at most REPORT_MAX_RUNS),
 * their stage rows and their whole history, and hands them to the renderer
 * (common/report_html.c), which escapes every ledger string. The page is written to
 * FILE.tmp and renamed over FILE, so a reader never sees half a report and a failed run
 * leaves no file behind.
 */
#include "ctl_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_db.h"
#include "report_html.h"

#define REPORT_MAX_RUNS 500

/* Pipeline order of the known stages; any other stage sorts after them by name. */
#define STAGE_ORDER                                                                                \
    "CASE stage WHEN 'export' THEN 1 WHEN 'copy' THEN 2 WHEN 'crawl' THEN 3 WHEN 'share' THEN 4 "  \
    "ELSE 9 END, stage"

static const char runs_sql[] =
    "SELECT run_id, cluster, mode, snapshot_id, date::text, "
    "  (extract(epoch FROM created_at) * 1000)::bigint "
    "FROM snaplake_runs WHERE ($1::text IS NULL AND created_at > now() - make_interval(hours => "
    "$2::int)) OR run_id = ANY(string_to_array($1, chr(1))) "
    "ORDER BY created_at DESC, run_id LIMIT $3::int";

static const char stages_sql[] =
    "SELECT run_id, stage, status, attempt, export_task_id, "
    "  (extract(epoch FROM started_at) * 1000)::bigint, "
    "  (extract(epoch FROM finished_at) * 1000)::bigint, error_code, error_message "
    "FROM snaplake_stage_runs WHERE run_id = ANY($1::text[]) ORDER BY run_id, " STAGE_ORDER;

static const char events_sql[] =
    "SELECT run_id, stage, status, attempt, (extract(epoch FROM at) * 1000)::bigint, "
    "  error_code, error_message "
    "FROM snaplake_stage_events WHERE run_id = ANY($1::text[]) ORDER BY run_id, stage, id";

void ctl_report_help(FILE *out)
{
    fputs("report --html FILE [--since-hours N] [RUN_ID...]: the runs (default: created in the\n"
          "  last 24 hours) as one self-contained HTML page: a Gantt chart and a timeline per\n"
          "  run, and every failure with its cause.\n",
          out);
}

typedef struct report_data {
    PGresult *runs, *stages, *events;
    sl_rh_run *r;
    sl_rh_stage *s;
    sl_tl_event *e;
} report_data;

static void data_cleanup(report_data *d)
{
    PQclear(d->runs);
    PQclear(d->stages);
    PQclear(d->events);
    free(d->r);
    free(d->s);
    free(d->e);
}

static const char *str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static long long num(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A PostgreSQL text[] literal of the run ids in runs (column 0), quoted and escaped. */
static char *id_array(const PGresult *runs)
{
    size_t len = 3;
    char *out, *p;

    for (int i = 0; i < PQntuples(runs); i++)
        len += 2 * strlen(PQgetvalue(runs, i, 0)) + 3;
    out = p = malloc(len);
    if (!out)
        return NULL;
    *p++ = '{';
    for (int i = 0; i < PQntuples(runs); i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = PQgetvalue(runs, i, 0); *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Builds the model: the runs in their order, each with its stages and their events (all three
 * results sorted by run id, so a run's rows are found by a scan). */
static int build(report_data *d, char *err, size_t errlen)
{
    int nr = PQntuples(d->runs), ns = PQntuples(d->stages), ne = PQntuples(d->events);

    d->r = calloc((size_t)nr + 1, sizeof(*d->r));
    d->s = calloc((size_t)ns + 1, sizeof(*d->s));
    d->e = calloc((size_t)ne + 1, sizeof(*d->e));
    if (!d->r || !d->s || !d->e)
        return sl_seterr(err, errlen, "report: out of memory");
    for (int i = 0; i < ne; i++) {
        d->e[i].status = str(d->events, i, 2);
        d->e[i].attempt = (int)num(d->events, i, 3);
        d->e[i].at_ms = num(d->events, i, 4);
        d->e[i].error_code = str(d->events, i, 5);
        d->e[i].error_message = str(d->events, i, 6);
    }
    for (int i = 0; i < ns; i++) {
        sl_rh_stage *s = &d->s[i];
        s->stage = str(d->stages, i, 1);
        s->status = str(d->stages, i, 2);
        s->attempt = (int)num(d->stages, i, 3);
        s->export_task_id = str(d->stages, i, 4);
        s->started_ms = num(d->stages, i, 5);
        s->finished_ms = num(d->stages, i, 6);
        s->error_code = str(d->stages, i, 7);
        s->error_message = str(d->stages, i, 8);
        for (int k = 0; k < ne; k++)
            if (strcmp(PQgetvalue(d->events, k, 0), PQgetvalue(d->stages, i, 0)) == 0 &&
                strcmp(PQgetvalue(d->events, k, 1), s->stage) == 0) {
                if (!s->events)
                    s->events = &d->e[k];
                s->nevents++;
            }
    }
    for (int i = 0; i < nr; i++) {
        sl_rh_run *r = &d->r[i];
        r->run_id = str(d->runs, i, 0);
        r->cluster = str(d->runs, i, 1);
        r->mode = str(d->runs, i, 2);
        r->snapshot_id = str(d->runs, i, 3);
        r->date = str(d->runs, i, 4);
        r->created_ms = num(d->runs, i, 5);
        for (int k = 0; k < ns; k++)
            if (strcmp(PQgetvalue(d->stages, k, 0), r->run_id) == 0) {
                if (!r->stages)
                    r->stages = &d->s[k];
                r->nstages++;
            }
    }
    return 0;
}

static int load(PGconn *conn, const char *ids, int since, report_data *d, char *err, size_t errlen)
{
    char hs[16], ms[16], *arr;
    const char *p1[] = {ids, hs, ms};
    int rc;

    snprintf(hs, sizeof(hs), "%d", since);
    snprintf(ms, sizeof(ms), "%d", REPORT_MAX_RUNS);
    if (sl_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, err,
                   errlen) ||
        sl_pg_exec(conn, runs_sql, 3, p1, &d->runs, err, errlen))
        return -1;
    arr = id_array(d->runs);
    if (!arr)
        return sl_seterr(err, errlen, "report: out of memory");
    {
        const char *p2[] = {arr};
        rc = sl_pg_exec(conn, stages_sql, 1, p2, &d->stages, err, errlen) ||
             sl_pg_exec(conn, events_sql, 1, p2, &d->events, err, errlen) ||
             sl_pg_exec(conn, "COMMIT", 0, NULL, NULL, err, errlen);
    }
    free(arr);
    return rc ? -1 : build(d, err, errlen);
}

/* Writes the page to path via path.tmp and a rename. 0 or -1 with err. */
static int write_page(const char *path, const report_data *d, int n, char *err, size_t errlen)
{
    char tmp[4096];
    struct timespec now;
    FILE *f;
    int bad;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return sl_seterr(err, errlen, "report: path too long");
    f = fopen(tmp, "w");
    if (!f)
        return sl_seterr(err, errlen, "report: cannot write %s: %s", tmp, strerror(errno));
    clock_gettime(CLOCK_REALTIME, &now);
    bad = sl_rh_write(f, d->r, (size_t)n, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                      "snaplake runs");
    if (fclose(f) != 0 || bad) {
        unlink(tmp);
        return sl_seterr(err, errlen, "report: writing %s failed", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return sl_seterr(err, errlen, "report: cannot rename %s to %s: %s", tmp, path,
                         strerror(errno));
    }
    return 0;
}

int ctl_report_main(int argc, char **argv)
{
    const char *html = NULL;
    char *ids = NULL, err[SL_ERRLEN];
    size_t idlen = 0, nids = 0;
    int since = 24, rc = 2, flags = 1;
    ctl_db db;
    report_data d;

    memset(&d, 0, sizeof(d));
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (flags && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            ctl_report_help(stdout);
            ctl_db_help(stdout, "report");
            free(ids);
            return 0;
        } else if (flags && strcmp(argv[i], "--") == 0) {
            flags = 0;
        } else if (flags && strcmp(argv[i], "--html") == 0) {
            if (!v || !v[0]) {
                fprintf(stderr, "snaplakectl report: --html needs a file name\n");
                goto out;
            }
            html = argv[++i];
        } else if (flags && strcmp(argv[i], "--since-hours") == 0) {
            if (ctl_parse_hours(v, &since)) {
                fprintf(stderr,
                        "snaplakectl report: --since-hours takes a whole number of hours from "
                        "1 to %d\n",
                        CTL_SINCE_HOURS_MAX);
                goto out;
            }
            i++;
        } else if (flags && argv[i][0] == '-') {
            fprintf(stderr, "snaplakectl report: unknown option \"%.64s\" (see --help)\n", argv[i]);
            goto out;
        } else if (!argv[i][0] || strchr(argv[i], '\1')) {
            fprintf(stderr, "snaplakectl report: a bad run id\n");
            goto out;
        } else {
            /* Run ids joined by \1 (no run id holds it), split again by the query. */
            size_t l = strlen(argv[i]);
            char *p = realloc(ids, idlen + l + 2);
            if (!p) {
                rc = 1;
                goto out;
            }
            ids = p;
            if (nids++)
                ids[idlen++] = '\1';
            memcpy(ids + idlen, argv[i], l + 1);
            idlen += l;
        }
    }
    if (!html) {
        fprintf(stderr, "snaplakectl report: --html FILE is required (the only format)\n");
        goto out;
    }
    rc = ctl_db_config("report", &db);
    if (rc)
        goto out;
    rc = 1;
    if (ctl_db_open("report", &db, 1)) {
        /* ctl_db_open said why. */
    } else if (load(db.pg.conn, ids, since, &d, err, sizeof(err)) ||
               write_page(html, &d, PQntuples(d.runs), err, sizeof(err))) {
        fprintf(stderr, "snaplakectl report: %s\n", err);
    } else if ((size_t)PQntuples(d.runs) < nids) {
        fprintf(stderr,
                "snaplakectl report: %zu of the %zu run ids given are not in the ledger "
                "(the report holds the others)\n",
                nids - (size_t)PQntuples(d.runs), nids);
    } else {
        printf("report of %d runs written to %s\n", PQntuples(d.runs), html);
        rc = 0;
    }
    ctl_db_close(&db);
out:
    data_cleanup(&d);
    free(ids);
    return rc;
}
