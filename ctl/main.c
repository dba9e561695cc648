/*
 * main.c - snaplakectl, the operators' command line: what the runs did, and what the lake
 * holds.
 *
 *   snaplakectl runs|show|redo|replay ...            the execution console (ctl/runs.c,
 *                                                     show.c, redo.c, replay.c; ctl_db.h)
 *   snaplakectl lake                                  LAKE_BUCKET/LAKE_PREFIX per partition
 *   snaplakectl retention [--dry-run]                 LAKE_RETENTION_DAYS (ctl/retention.c)
 *   snaplakectl slots | lag | report --html FILE      read-only views (ctl/slots.c, ...)
 *
 * Thin like the other binaries: config table -> connect -> one query/listing -> print. Each
 * command reads its own table, so the read-only ones never need an AWS setting. Exit status:
 * 0 done, 1 a failure (connection, query, an unknown run id), 2 bad usage or a configuration
 * error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"
#include "config.h"
#include "creds.h"
#include "ctl_db.h"
#include "ctl_lag.h"
#include "ctl_report.h"
#include "ctl_retention.h"
#include "ctl_runs.h"
#include "ctl_share.h"
#include "ctl_share_accept.h"
#include "ctl_slots.h"
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

/* What `lake` reads first. */
static const sl_cfg_opt ctl_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ctl_cfg, log_level),
     "debug | info | warn | error"},
    SL_PG_CFG_OPTS(ctl_cfg, pg),
};

/* What only `lake` reads. */
static const sl_cfg_opt lake_opts[] = {
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(ctl_cfg, lake_bucket),
     "lake bucket (lake command)"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(ctl_cfg, lake_prefix),
     "lake prefix (lake command)"},
    SL_AWS_CFG_OPTS(ctl_cfg, aws),
};

static void usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "usage: %s lake\n"
        "       %s retention [--dry-run]\n\n"
        "lake: lists LAKE_BUCKET/LAKE_PREFIX and sums objects and bytes per partition.\n"
        "retention: removes the partitions older than LAKE_RETENTION_DAYS from the Glue\n"
        "  catalog, then from the lake (never the newest of a table); --dry-run lists them.\n\n",
        prog, prog);
    ctl_console_usage(out, prog);
    sl_config_help(out, prog, "snaplake operators' command line", ctl_opts, SL_ARRAY_LEN(ctl_opts));
    sl_config_help(out, "lake", "the lake command also reads", lake_opts, SL_ARRAY_LEN(lake_opts));
    ctl_retention_help(out);
    ctl_slots_help(out);
    ctl_lag_help(out);
    ctl_report_help(out);
    ctl_share_accept_help(out);
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
    if (!creds || !(aws = sl_aws_new(&cfg->aws, sl_creds_signer(creds), err, sizeof(err)))) {
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
    if (strcmp(argv[1], "share") == 0)
        return ctl_share_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "slots") == 0)
        return ctl_slots_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "lag") == 0)
        return ctl_lag_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "report") == 0)
        return ctl_report_main(argc - 2, argv + 2);
    /* The execution console reads its own tables (ctl_db.h: never an AWS setting). */
    if (strcmp(argv[1], "runs") == 0)
        return ctl_runs_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "show") == 0)
        return ctl_show_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "redo") == 0)
        return ctl_redo_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return ctl_replay_main(argc - 2, argv + 2);
    lake = strcmp(argv[1], "lake") == 0;
    if (!(lake && argc == 2)) {
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
    rc = cmd_lake(&cfg);
    sl_config_cleanup(ctl_opts, SL_ARRAY_LEN(ctl_opts), &cfg);
    sl_config_cleanup(lake_opts, SL_ARRAY_LEN(lake_opts), &cfg);
    return rc;
}
