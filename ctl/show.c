/*
 * show.c - `snaplakectl show RUN`: one run whole. Every stage with each of its attempts (from
 * the history, snaplake_stage_events: who ran it, when, how it ended), its AWS ids, its error,
 * the input message it was given and the output it published, then a timeline of the run
 * drawn in the terminal. Strictly read-only (ctl_db.h).
 *
 * An attempt ends with its succeeded/failed history row; one that has none ended when the next
 * attempt began (a redelivery after a crash or a rebalance, adopted by the next owner:
 * "superseded"), or is still going (running, or stale when its owner stopped heartbeating).
 * The stage's duration runs from its first attempt's start to its end, so an adopted export
 * shows the whole time it ran, not the last owner's share.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_db.h"
#include "ctl_runs.h"
#include "log.h"

#define TIMELINE_WIDTH 50
#define MAX_ATTEMPTS 64

typedef struct attempt {
    int n;
    double start, end; /* epoch seconds */
    char status[16];   /* last status of this attempt's rows; "superseded", "stale" */
    char at[32];       /* start time, for the listing */
    int generation;
    char error[600];
    char owner[300];
    char redo_at[32]; /* a `redo` asked for this stage again after this attempt */
    struct seg {
        double t;
        char c;
    } segs[16]; /* status changes inside the attempt: '=' running, '.' waiting */
    int nsegs;
} attempt;

typedef struct stage_hist {
    char name[32];
    attempt a[MAX_ATTEMPTS];
    int n;
} stage_hist;

/* clang-format off */
static const char events_sql[] =
    "SELECT e.stage, e.attempt, e.status, extract(epoch FROM e.at)::float8,"
    "  to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "  coalesce(e.generation, 0), coalesce(e.error_code, ''), coalesce(e.error_message, ''),"
    "  coalesce(e.details->>'worker_id', ''), coalesce(e.details->>'host', '')"
    " FROM snaplake_stage_events e WHERE e.run_id = $1"
    " ORDER BY coalesce(array_position(ARRAY['export', 'copy', 'crawl', 'share'], e.stage), 99),"
    "   e.stage, e.id";

static const char stage_sql[] =
    "SELECT s.stage, coalesce(s.input_msg, ''), coalesce(s.output_msg, ''),"
    "  s.aws_ids::text, s.details::text, extract(epoch FROM now())::float8,"
    "  coalesce(extract(epoch FROM w.heartbeat_at)::float8, 0)"
    " FROM snaplake_stage_runs s LEFT JOIN snaplake_workers w ON w.worker_id = s.owner_id"
    " WHERE s.run_id = $1";
/* clang-format on */

static int terminal(const char *status)
{
    return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0;
}

/* Folds the history rows into attempts per stage. */
static int build_history(PGresult *ev, stage_hist *h, int maxh)
{
    int nh = 0;

    for (int i = 0; i < PQntuples(ev); i++) {
        const char *stage = PQgetvalue(ev, i, 0), *status = PQgetvalue(ev, i, 2);
        int n = atoi(PQgetvalue(ev, i, 1));
        double t = atof(PQgetvalue(ev, i, 3));
        stage_hist *s = nh ? &h[nh - 1] : NULL;
        attempt *a;

        if (!s || strcmp(s->name, stage) != 0) {
            if (nh == maxh)
                break;
            s = &h[nh++];
            memset(s, 0, sizeof(*s));
            snprintf(s->name, sizeof(s->name), "%s", stage);
        }
        a = s->n ? &s->a[s->n - 1] : NULL;
        if (strcmp(status, "queued") == 0) {
            if (a)
                snprintf(a->redo_at, sizeof(a->redo_at), "%s", PQgetvalue(ev, i, 4));
            continue;
        }
        if (!a || a->n != n) {
            if (s->n == MAX_ATTEMPTS)
                continue;
            if (a && !terminal(a->status)) {
                snprintf(a->status, sizeof(a->status), "superseded");
                a->end = t;
            }
            a = &s->a[s->n++];
            memset(a, 0, sizeof(*a));
            a->n = n;
            a->start = a->end = t;
            snprintf(a->at, sizeof(a->at), "%s", PQgetvalue(ev, i, 4));
        }
        snprintf(a->status, sizeof(a->status), "%s", status);
        if (atoi(PQgetvalue(ev, i, 5)) > 0)
            a->generation = atoi(PQgetvalue(ev, i, 5));
        if (*PQgetvalue(ev, i, 6))
            snprintf(a->error, sizeof(a->error), "%s: %s", PQgetvalue(ev, i, 6),
                     PQgetvalue(ev, i, 7));
        if (*PQgetvalue(ev, i, 8))
            snprintf(a->owner, sizeof(a->owner), "%s on %s", PQgetvalue(ev, i, 8),
                     PQgetvalue(ev, i, 9));
        if (terminal(status))
            a->end = t;
        else if (a->nsegs < (int)(sizeof(a->segs) / sizeof(a->segs[0])))
            a->segs[a->nsegs++] = (struct seg){t, strcmp(status, "waiting") == 0 ? '.' : '='};
    }
    return nh;
}

/* The open attempt of each stage ends now, or at its owner's last heartbeat when stale. */
static void close_open(stage_hist *h, int nh, PGresult *st, const cJSON *stages)
{
    double now = PQntuples(st) ? atof(PQgetvalue(st, 0, 5)) : 0;

    for (int i = 0; i < nh; i++) {
        attempt *a = h[i].n ? &h[i].a[h[i].n - 1] : NULL;
        const cJSON *s;
        int stale = 0;

        if (!a || terminal(a->status) || strcmp(a->status, "superseded") == 0)
            continue;
        cJSON_ArrayForEach(s, stages) if (strcmp(ctl_json_str(s, "stage"), h[i].name) == 0) stale =
            ctl_json_true(s, "stale");
        a->end = now;
        for (int r = 0; stale && r < PQntuples(st); r++)
            if (strcmp(PQgetvalue(st, r, 0), h[i].name) == 0 && atof(PQgetvalue(st, r, 6)) > 0) {
                double hb = atof(PQgetvalue(st, r, 6));
                a->end = hb > a->start ? hb : a->start;
            }
        if (stale)
            snprintf(a->status, sizeof(a->status), "stale");
    }
}

static const char *stage_value(PGresult *st, const char *stage, int col)
{
    for (int r = 0; r < PQntuples(st); r++)
        if (strcmp(PQgetvalue(st, r, 0), stage) == 0)
            return PQgetvalue(st, r, col);
    return "";
}

static char end_mark(const char *status)
{
    if (strcmp(status, "succeeded") == 0)
        return '#';
    if (strcmp(status, "failed") == 0)
        return 'X';
    if (strcmp(status, "superseded") == 0)
        return '~';
    if (strcmp(status, "stale") == 0)
        return '?';
    return '>';
}

static void print_timeline(FILE *out, const stage_hist *h, int nh)
{
    double t0 = 0, t1 = 0;
    int any = 0;

    for (int i = 0; i < nh; i++)
        for (int k = 0; k < h[i].n; k++) {
            if (!any || h[i].a[k].start < t0)
                t0 = h[i].a[k].start;
            if (!any || h[i].a[k].end > t1)
                t1 = h[i].a[k].end;
            any = 1;
        }
    if (!any)
        return;
    fprintf(out, "\ntimeline (%.1f s, one column = %.2f s)\n", t1 - t0, (t1 - t0) / TIMELINE_WIDTH);
    for (int i = 0; i < nh; i++) {
        char bar[TIMELINE_WIDTH + 1];
        double span = t1 - t0 > 0 ? t1 - t0 : 1;

        memset(bar, ' ', TIMELINE_WIDTH);
        bar[TIMELINE_WIDTH] = '\0';
        for (int k = 0; k < h[i].n; k++) {
            const attempt *a = &h[i].a[k];
            int c0 = (int)((a->start - t0) / span * (TIMELINE_WIDTH - 1));
            int c1 = (int)((a->end - t0) / span * (TIMELINE_WIDTH - 1));

            for (int c = c0; c <= c1 && c < TIMELINE_WIDTH; c++) {
                double t = t0 + span * c / (TIMELINE_WIDTH - 1);
                char ch = '=';
                for (int g = 0; g < a->nsegs; g++)
                    if (a->segs[g].t <= t + span / (2.0 * TIMELINE_WIDTH))
                        ch = a->segs[g].c;
                bar[c] = ch;
            }
        }
        /* The end marks last, so a next attempt's fill never hides how one ended. */
        for (int k = 0; k < h[i].n; k++) {
            int c1 = (int)((h[i].a[k].end - t0) / span * (TIMELINE_WIDTH - 1));
            if (c1 >= 0 && c1 < TIMELINE_WIDTH)
                bar[c1] = end_mark(h[i].a[k].status);
        }
        double busy = 0;
        for (int k = 0; k < h[i].n; k++)
            busy += h[i].a[k].end - h[i].a[k].start;
        fprintf(out, "  %-6s |%s| %7.1fs in %d attempt%s\n", h[i].name, bar, busy, h[i].n,
                h[i].n == 1 ? "" : "s");
    }
    fprintf(out, "  = running  . waiting  # succeeded  X failed  ~ superseded (redelivered or "
                 "adopted)  ? stale  > still going\n");
}

static void print_stage(FILE *out, const cJSON *s, const stage_hist *h, PGresult *st)
{
    const char *name = ctl_json_str(s, "stage");
    const char *in = stage_value(st, name, 1), *o = stage_value(st, name, 2);

    fputc('\n', out);
    ctl_print_stage_line(out, s);
    fprintf(out, "    aws ids: %s\n", stage_value(st, name, 3));
    fprintf(out, "    details: %s\n", stage_value(st, name, 4));
    for (int k = 0; h && k < h->n; k++) {
        const attempt *a = &h->a[k];
        fprintf(out, "    attempt %-2d %s  %7.1fs  %-10s", a->n, a->at, a->end - a->start,
                a->status);
        if (a->generation > 0)
            fprintf(out, "  generation %d", a->generation);
        if (a->owner[0])
            fprintf(out, "  by %s", a->owner);
        if (a->error[0])
            fprintf(out, "\n               error %s", a->error);
        if (a->redo_at[0])
            fprintf(out, "\n               redo requested %s", a->redo_at);
        fputc('\n', out);
    }
    fprintf(out, "    input:  %s\n", *in ? in : "(not recorded)");
    fprintf(out, "    output: %s\n", *o ? o : "(none)");
}

int ctl_show_main(int argc, char **argv)
{
    ctl_db db;
    ctl_runs_filter f;
    const char *id = NULL;
    PGresult *ev = NULL, *st = NULL;
    cJSON *runs = NULL;
    stage_hist *h = NULL;
    char err[SL_ERRLEN];
    int rc, nh = 0;

    if ((rc = ctl_db_config("show", &db)) != 0)
        return rc;
    rc = 2;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' || !argv[i][0] || id) {
            fprintf(stderr, "snaplakectl show: %s \"%.64s\" (usage: show RUN_ID)\n",
                    argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
            goto out;
        }
        id = argv[i];
    }
    if (!id) {
        fprintf(stderr, "snaplakectl show: which run? (usage: show RUN_ID)\n");
        goto out;
    }
    if ((rc = ctl_db_open("show", &db, 1)) != 0)
        goto out;
    rc = 1;
    memset(&f, 0, sizeof(f));
    f.ids = &id;
    f.n = 1;
    if (ctl_db_runs(db.pg.conn, &f, &runs, err, sizeof(err)) ||
        sl_pg_exec(db.pg.conn, events_sql, 1, &id, &ev, err, sizeof(err)) ||
        sl_pg_exec(db.pg.conn, stage_sql, 1, &id, &st, err, sizeof(err))) {
        fprintf(stderr, "snaplakectl show: %s\n", err);
        goto out;
    }
    if (cJSON_GetArraySize(runs) != 1) {
        fprintf(stderr, "snaplakectl show: no run \"%.200s\" in the ledger\n", id);
        goto out;
    }
    {
        const cJSON *r = cJSON_GetArrayItem(runs, 0), *s;
        const cJSON *stages = cJSON_GetObjectItemCaseSensitive(r, "stages");
        int maxh = cJSON_GetArraySize(stages) + 8;

        if (!(h = calloc((size_t)maxh, sizeof(*h))))
            goto out;
        nh = build_history(ev, h, maxh);
        close_open(h, nh, st, stages);
        printf("run %s  cluster %s  date %s  mode %s  %s\n", ctl_json_str(r, "run_id"),
               ctl_json_str(r, "cluster"), ctl_json_str(r, "date"), ctl_json_str(r, "mode"),
               ctl_json_str(r, "status"));
        printf("  snapshot %s  created %s\n", ctl_json_str(r, "snapshot_id"),
               ctl_json_str(r, "created_at"));
        cJSON_ArrayForEach(s, stages)
        {
            const stage_hist *sh = NULL;
            for (int i = 0; i < nh; i++)
                if (strcmp(h[i].name, ctl_json_str(s, "stage")) == 0)
                    sh = &h[i];
            print_stage(stdout, s, sh, st);
        }
        print_timeline(stdout, h, nh);
    }
    rc = 0;
out:
    free(h);
    PQclear(ev);
    PQclear(st);
    cJSON_Delete(runs);
    ctl_db_close(&db);
    return rc;
}
