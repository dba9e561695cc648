/*
 * main.c - snaplakectl, the operators' command line: what the runs did, and what the lake
 * holds.
 *
 *   snaplakectl runs [--since-hours N] [RUN_ID...]   the ledger's view of runs and stages
 *   snaplakectl lake                                  LAKE_BUCKET/LAKE_PREFIX per partition
 *   snaplakectl retention [--dry-run]                 LAKE_RETENTION_DAYS (ctl/retention.c)
 *
 * Thin like the other binaries: config table -> connect -> one query/listing -> print.
 *
 * `runs` is read-only: it needs no AWS settings, applies no migrations (an operator's role may
 * have SELECT only; a database the workers never migrated is named as such), and its session
 * is READ ONLY. Exit status: 0 done, 1 a failure (connection, query, an unknown run id),
 * 2 bad usage or a configuration error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"
#include "config.h"
#include "creds.h"
#include "ctl_retention.h"
#include "ctl_share_accept.h"
#include "ledger.h"
#include "log.h"
#include "pg.h"
#include "s3.h"

typedef struct ctl_cfg {
    char *log_level;
    char *lake_bucket;
    char *lake_prefix;
    sl_aws_opts aws;
    sl_pg_opts pg;
} ctl_cfg;

/* What every command reads. */
static const sl_cfg_opt ctl_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ctl_cfg, log_level),
     "debug | info | warn | error"},
    SL_PG_CFG_OPTS(ctl_cfg, pg),
};

/* What only `lake` reads: `runs` works without any AWS setting. */
static const sl_cfg_opt lake_opts[] = {
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(ctl_cfg, lake_bucket),
     "lake bucket (lake command)"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(ctl_cfg, lake_prefix),
     "lake prefix (lake command)"},
    SL_AWS_CFG_OPTS(ctl_cfg, aws),
};

/* Bounds of --since-hours: an hour to ten years. */
#define CTL_SINCE_MAX (24 * 366 * 10)

/* The tables `runs` reads; a database without them was never migrated by a worker. */
static const char *const ledger_tables[] = {"snaplake_runs", "snaplake_stage_runs"};

static void usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "usage: %s runs [--since-hours N] [RUN_ID...]\n"
        "       %s lake\n"
        "       %s retention [--dry-run]\n\n"
        "runs: reads the run ledger (DATABASE_URL or libpq's PG* environment).\n"
        "lake: lists LAKE_BUCKET/LAKE_PREFIX and sums objects and bytes per partition.\n"
        "retention: removes the partitions older than LAKE_RETENTION_DAYS from the Glue\n"
        "  catalog, then from the lake (never the newest of a table); --dry-run lists them.\n\n",
        prog, prog, prog);
    sl_config_help(out, prog, "snaplake operators' command line", ctl_opts, SL_ARRAY_LEN(ctl_opts));
    sl_config_help(out, "lake", "the lake command also reads", lake_opts, SL_ARRAY_LEN(lake_opts));
    ctl_retention_help(out);
    ctl_share_accept_help(out);
}

/* Strict decimal in 1..CTL_SINCE_MAX: "5abc", "", "+5", " 5" and overflow are refused. */
static int parse_since(const char *s, int *out)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > CTL_SINCE_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/*
 * Parses `runs` arguments into *since and ids[0..*n). Returns 0, or 2 after a usage line on
 * stderr: a flag other than --since-hours, --since-hours without a value or with a bad one.
 * "--" ends the flags (a run id may then start with '-').
 */
static int parse_runs_args(int argc, char **argv, int *since, const char **ids, size_t *n)
{
    int flags = 1;

    for (int i = 0; i < argc; i++) {
        if (flags && strcmp(argv[i], "--") == 0) {
            flags = 0;
        } else if (flags && strcmp(argv[i], "--since-hours") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "snaplakectl runs: --since-hours needs a value\n");
                return 2;
            }
            if (parse_since(argv[++i], since)) {
                fprintf(stderr,
                        "snaplakectl runs: --since-hours takes a whole number of hours "
                        "from 1 to %d, not \"%.64s\"\n",
                        CTL_SINCE_MAX, argv[i]);
                return 2;
            }
        } else if (flags && argv[i][0] == '-') {
            fprintf(stderr, "snaplakectl runs: unknown option \"%.64s\" (see --help)\n", argv[i]);
            return 2;
        } else if (!argv[i][0]) {
            fprintf(stderr, "snaplakectl runs: an empty run id\n");
            return 2;
        } else {
            ids[(*n)++] = argv[i];
        }
    }
    return 0;
}

/* Read-only session, ledger present: 0, or -1 with err (a clear word for missing tables). */
static int runs_session(PGconn *conn, char *err, size_t errlen)
{
    char e[SL_ERRLEN];

    if (sl_pg_exec(conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 0, NULL, NULL, e,
                   sizeof(e)))
        return sl_seterr(err, errlen, "%s", e);
    for (size_t i = 0; i < SL_ARRAY_LEN(ledger_tables); i++) {
        const char *params[] = {ledger_tables[i]};
        PGresult *res = NULL;
        int missing;

        if (sl_pg_exec(conn, "SELECT to_regclass($1) IS NULL", 1, params, &res, e, sizeof(e)))
            return sl_seterr(err, errlen, "%s", e);
        missing = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (missing)
            return sl_seterr(err, errlen,
                             "the ledger table %s does not exist in this database (a worker "
                             "creates the tables when it first starts; snaplakectl only reads)",
                             ledger_tables[i]);
    }
    return 0;
}

/* Names each id that has no run; returns how many. -1 with err on a query error. */
static int unknown_runs(PGconn *conn, const char **ids, size_t n, char *err, size_t errlen)
{
    int unknown = 0;

    for (size_t i = 0; i < n; i++) {
        const char *params[] = {ids[i]};
        PGresult *res = NULL;
        char e[SL_ERRLEN];

        if (sl_pg_exec(conn, "SELECT 1 FROM snaplake_runs WHERE run_id = $1", 1, params, &res, e,
                       sizeof(e)))
            return sl_seterr(err, errlen, "%s", e);
        if (PQntuples(res) == 0) {
            fprintf(stderr, "snaplakectl runs: no run \"%.200s\" in the ledger\n", ids[i]);
            unknown++;
        }
        PQclear(res);
    }
    return unknown;
}

static int cmd_runs(const ctl_cfg *cfg, int argc, char **argv)
{
    sl_pg_link pg;
    char err[SL_ERRLEN];
    const char **ids = NULL;
    size_t n = 0;
    int since = 24, rc = 1, unknown;

    sl_pg_link_init(&pg, "snaplakectl", &cfg->pg);
    ids = calloc((size_t)argc + 1, sizeof(*ids));
    if (!ids)
        return 1;
    rc = parse_runs_args(argc, argv, &since, ids, &n);
    if (rc)
        goto out;
    rc = 1;
    if (sl_pg_ensure(&pg, NULL, err, sizeof(err)) != 0 ||
        runs_session(pg.conn, err, sizeof(err)) != 0 ||
        (unknown = unknown_runs(pg.conn, ids, n, err, sizeof(err))) < 0 ||
        sl_ledger_report(pg.conn, stdout, ids, n, since, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl runs: %s\n", err);
        goto out;
    }
    /* The known ones are printed; an unknown one still fails the command. */
    rc = unknown ? 1 : 0;
out:
    sl_pg_link_cleanup(&pg);
    free(ids);
    return rc;
}

/* One row of the lake summary: a partition folder (everything up to the file name). */
typedef struct part_sum {
    char *folder;
    long long objects, bytes;
} part_sum;

static int cmd_lake(const ctl_cfg *cfg)
{
    sl_creds_provider *creds = NULL;
    sl_aws *aws = NULL;
    part_sum *sums = NULL;
    size_t nsums = 0, cap = 0;
    char *token = NULL;
    char prefix[1024];
    char err[SL_ERRLEN];
    long long total_objects = 0, total_bytes = 0;
    int rc = 1;

    snprintf(prefix, sizeof(prefix), "%s%s", cfg->lake_prefix,
             cfg->lake_prefix[0] && cfg->lake_prefix[strlen(cfg->lake_prefix) - 1] != '/' ? "/"
                                                                                          : "");
    creds = sl_creds_chain_new(&(sl_creds_opts){0}, &cfg->aws, err, sizeof(err));
    if (!creds || !(aws = sl_aws_new(&cfg->aws, creds, err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl lake: %s\n", err);
        goto out;
    }
    do {
        sl_s3_list_page page;
        sl_aws_error e;
        sl_s3_list_opts lo = {.prefix = prefix[0] ? prefix : NULL, .continuation_token = token};

        memset(&page, 0, sizeof(page));
        if (sl_s3_list(aws, cfg->lake_bucket, &lo, &page, &e) != 0) {
            fprintf(stderr, "snaplakectl lake: ListObjectsV2 %s: %s: %s\n", cfg->lake_bucket,
                    e.code, e.message);
            goto out;
        }
        for (size_t i = 0; i < page.count; i++) {
            const char *key = page.objects[i].key;
            const char *slash = strrchr(key, '/');
            size_t flen = slash ? (size_t)(slash - key) : 0;
            size_t j;

            /* Listing order is key order, so a folder's objects are adjacent. */
            j = nsums;
            if (nsums && strlen(sums[nsums - 1].folder) == flen &&
                strncmp(sums[nsums - 1].folder, key, flen) == 0)
                j = nsums - 1;
            if (j == nsums) {
                if (nsums == cap) {
                    size_t ncap = cap ? cap * 2 : 64;
                    part_sum *p = realloc(sums, ncap * sizeof(*p));
                    if (!p) {
                        sl_s3_list_page_cleanup(&page);
                        goto out;
                    }
                    sums = p;
                    cap = ncap;
                }
                sums[nsums].folder = strndup(key, flen);
                sums[nsums].objects = sums[nsums].bytes = 0;
                if (!sums[nsums].folder) {
                    sl_s3_list_page_cleanup(&page);
                    goto out;
                }
                nsums++;
            }
            sums[j].objects++;
            sums[j].bytes += page.objects[i].size;
            total_objects++;
            total_bytes += page.objects[i].size;
        }
        free(token);
        token = page.next_token ? strdup(page.next_token) : NULL;
        sl_s3_list_page_cleanup(&page);
    } while (token);

    printf("lake s3://%s/%s\n", cfg->lake_bucket, prefix);
    for (size_t i = 0; i < nsums; i++)
        printf("  %-70s %6lld objects %10lld bytes\n", sums[i].folder, sums[i].objects,
               sums[i].bytes);
    printf("  total: %lld partition folders, %lld objects, %lld bytes\n", (long long)nsums,
           total_objects, total_bytes);
    rc = 0;
out:
    for (size_t i = 0; i < nsums; i++)
        free(sums[i].folder);
    free(sums);
    free(token);
    sl_aws_free(aws);
    sl_creds_provider_free(creds);
    return rc;
}

/* Loads ctl_opts, and lake_opts for `lake`, with the value checks; 0, or -1 with err. */
static int load_config(ctl_cfg *cfg, int lake, char *err, size_t errlen)
{
    char e1[2048] = "", e2[2048] = "";
    int ok = 1;

    err[0] = '\0';
    if (sl_config_load(ctl_opts, SL_ARRAY_LEN(ctl_opts), cfg, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (lake &&
        sl_config_load(lake_opts, SL_ARRAY_LEN(lake_opts), cfg, NULL, NULL, e2, sizeof(e2)) != 0)
        ok = 0;
    if (e2[0])
        snprintf(err, errlen, "%s%s%s", e1, e1[0] ? "\n" : "", e2);
    else
        snprintf(err, errlen, "%s", e1);
    if (sl_config_check(ctl_opts, SL_ARRAY_LEN(ctl_opts), sl_config_std_checks,
                        sl_config_nstd_checks, NULL, NULL, err, errlen) != 0)
        ok = 0;
    if (lake && sl_config_check(lake_opts, SL_ARRAY_LEN(lake_opts), sl_config_std_checks,
                                sl_config_nstd_checks, NULL, NULL, err, errlen) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    ctl_cfg cfg;
    char err[4096];
    sl_log_level level = SL_LOG_WARN;
    int rc, lake;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout, argv[0]);
        return argc < 2 ? 2 : 0;
    }
    /* retention reads its own table (no PostgreSQL settings). */
    if (strcmp(argv[1], "retention") == 0)
        return ctl_retention_main(argc - 2, argv + 2);
    if (argc > 2 && strcmp(argv[1], "share") == 0 && strcmp(argv[2], "accept") == 0)
        return ctl_share_accept_main(argc - 3, argv + 3);
    lake = strcmp(argv[1], "lake") == 0;
    if (strcmp(argv[1], "runs") != 0 && !(lake && argc == 2)) {
        usage(stderr, argv[0]);
        return 2;
    }
    memset(&cfg, 0, sizeof(cfg));
    if (load_config(&cfg, lake, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: bad configuration:\n%s\n", argv[0], err);
        sl_config_cleanup(ctl_opts, SL_ARRAY_LEN(ctl_opts), &cfg);
        sl_config_cleanup(lake_opts, SL_ARRAY_LEN(lake_opts), &cfg);
        return 2;
    }
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    rc = lake ? cmd_lake(&cfg) : cmd_runs(&cfg, argc - 2, argv + 2);
    sl_config_cleanup(ctl_opts, SL_ARRAY_LEN(ctl_opts), &cfg);
    sl_config_cleanup(lake_opts, SL_ARRAY_LEN(lake_opts), &cfg);
    return rc;
}
