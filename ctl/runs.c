/*
 * runs.c - `snaplakectl runs`: the ledger's view of runs and their stages, filtered.
 *
 *   runs [--failed] [--running] [--cluster C] [--since T | --since-hours N] [--json] [RUN_ID...]
 *
 * Strictly read-only (ctl_db.h). Without run ids it lists the runs created in the last 24 h
 * (or since T); with ids exactly those, and an unknown id fails the command after the known
 * ones are printed. A stage still running whose worker stopped heartbeating shows as `stale`
 * with its last owner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_db.h"
#include "ctl_runs.h"
#include "log.h"

typedef struct runs_args {
    ctl_runs_filter f;
    int json;
} runs_args;

/* The value after flag argv[*i], or NULL after a usage line. */
static const char *value_of(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc || !argv[*i + 1][0]) {
        fprintf(stderr, "snaplakectl runs: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* Parses the arguments into *a (ids point into argv). 0, or 2 after a usage line. */
static int parse_args(int argc, char **argv, runs_args *a, const char **ids)
{
    int flags = 1;
    int hours;

    a->f.since_s = (long long)time(NULL) - 24 * 3600;
    for (int i = 0; i < argc; i++) {
        const char *v;

        if (flags && strcmp(argv[i], "--") == 0) {
            flags = 0;
        } else if (flags && strcmp(argv[i], "--failed") == 0) {
            a->f.failed = 1;
        } else if (flags && strcmp(argv[i], "--running") == 0) {
            a->f.running = 1;
        } else if (flags && strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (flags && strcmp(argv[i], "--cluster") == 0) {
            if (!(v = value_of(argc, argv, &i)))
                return 2;
            a->f.cluster = v;
        } else if (flags && strcmp(argv[i], "--since") == 0) {
            if (!(v = value_of(argc, argv, &i)))
                return 2;
            if (ctl_parse_since(v, &a->f.since_s)) {
                fprintf(stderr,
                        "snaplakectl runs: --since takes an ISO date or time in UTC "
                        "(2024-01-02, 2024-01-02T03:04:05Z) or a span (90s, 30m, 24h, 7d), not "
                        "\"%.64s\"\n",
                        v);
                return 2;
            }
        } else if (flags && strcmp(argv[i], "--since-hours") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "snaplakectl runs: --since-hours needs a value\n");
                return 2;
            }
            if (ctl_parse_hours(argv[++i], &hours)) {
                fprintf(stderr,
                        "snaplakectl runs: --since-hours takes a whole number of hours "
                        "from 1 to %d, not \"%.64s\"\n",
                        CTL_SINCE_HOURS_MAX, argv[i]);
                return 2;
            }
            a->f.since_s = (long long)time(NULL) - (long long)hours * 3600;
        } else if (flags && argv[i][0] == '-') {
            fprintf(stderr, "snaplakectl runs: unknown option \"%.64s\" (see --help)\n", argv[i]);
            return 2;
        } else if (!argv[i][0]) {
            fprintf(stderr, "snaplakectl runs: an empty run id\n");
            return 2;
        } else {
            ids[a->f.n++] = argv[i];
        }
    }
    a->f.ids = ids;
    return 0;
}

const char *ctl_json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

double ctl_json_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ctl_json_true(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

void ctl_print_stage_line(FILE *out, const cJSON *s)
{
    const char *owner = ctl_json_str(s, "owner_id");
    int stale = ctl_json_true(s, "stale");

    fprintf(out, "  %-6s %-9s attempt %-2d %8.1fs", ctl_json_str(s, "stage"),
            stale ? "stale" : ctl_json_str(s, "status"), (int)ctl_json_num(s, "attempt"),
            ctl_json_num(s, "duration_s"));
    if (*ctl_json_str(s, "export_task_id"))
        fprintf(out, "  task %s", ctl_json_str(s, "export_task_id"));
    if (ctl_json_num(s, "generation") > 1)
        fprintf(out, " (generation %d)", (int)ctl_json_num(s, "generation"));
    if (*ctl_json_str(s, "error_code"))
        fprintf(out, "  error %s: %s", ctl_json_str(s, "error_code"),
                ctl_json_str(s, "error_message"));
    if (stale)
        fprintf(out, "  last owner %s on %s, last heartbeat %s", *owner ? owner : "?",
                ctl_json_str(s, "owner_host"),
                *ctl_json_str(s, "heartbeat_at") ? ctl_json_str(s, "heartbeat_at") : "never");
    fputc('\n', out);
}

static void print_human(FILE *out, const cJSON *runs)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, runs)
    {
        const cJSON *s;

        fprintf(out, "run %s  cluster %s  date %s  %s\n", ctl_json_str(r, "run_id"),
                ctl_json_str(r, "cluster"), ctl_json_str(r, "date"), ctl_json_str(r, "status"));
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "stages"))
            ctl_print_stage_line(out, s);
    }
}

int ctl_runs_main(int argc, char **argv)
{
    ctl_db db;
    runs_args a;
    const char **ids = calloc((size_t)argc + 1, sizeof(*ids));
    cJSON *runs = NULL;
    char err[SL_ERRLEN];
    int rc, unknown = 0;

    memset(&a, 0, sizeof(a));
    if (!ids)
        return 1;
    /* Configuration first (exit 2 on it), then the arguments, both before connecting. */
    if ((rc = ctl_db_config("runs", &db)) != 0) {
        free(ids);
        return rc;
    }
    if ((rc = parse_args(argc, argv, &a, ids)) != 0 || (rc = ctl_db_open("runs", &db, 1)) != 0)
        goto out;
    rc = 1;
    if ((unknown = ctl_db_unknown_runs(db.pg.conn, "runs", a.f.ids, a.f.n, err, sizeof(err))) < 0 ||
        ctl_db_runs(db.pg.conn, &a.f, &runs, err, sizeof(err))) {
        fprintf(stderr, "snaplakectl runs: %s\n", err);
        goto out;
    }
    if (a.json)
        ctl_print_json(stdout, runs, 0);
    else
        print_human(stdout, runs);
    /* The known ones are printed; an unknown one still fails the command. */
    rc = unknown ? 1 : 0;
out:
    cJSON_Delete(runs);
    ctl_db_close(&db);
    free(ids);
    return rc;
}

void ctl_console_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "execution console:\n"
            "  %s runs [--failed] [--running] [--cluster C] [--since T] [--json] [RUN_ID...]\n"
            "  %s show RUN_ID\n"
            "  %s redo RUN_ID [--stage S]\n"
            "  %s replay --stage S (--from-time T | --from-offset P:O) [--force] [--group G]"
            " [--wait D]\n\n"
            "runs: the runs of the last 24 h (or since T: 2024-01-02, 2024-01-02T03:04Z, 30m,\n"
            "  24h, 7d), or the runs named; --json for one JSON array. Stale = running, but its\n"
            "  worker stopped heartbeating (its last owner is shown).\n"
            "show: every stage with its attempts, AWS ids, error, input and output messages,\n"
            "  and a timeline.\n"
            "redo: republishes the recorded input of the failed (or stale) stage, or of S; a\n"
            "  failed export gets a new task generation. Needs ledger writes and Kafka.\n"
            "replay: moves the stage's consumer group (snaplake-S) to T or to P:O; refused while\n"
            "  the group has live members unless --force (then it waits up to --wait, 60s, for\n"
            "  them to leave). Needs Kafka only.\n\n",
            prog, prog, prog, prog);
    ctl_db_help(out, "runs|show|redo");
    fputc('\n', out);
}
