/*
 * main.c - snaplakectl, the operators' command line: what the runs did, and what the lake
 * holds.
 *
 *   snaplakectl runs [--since-hours N] [RUN_ID...]   the ledger's view of runs and stages
 *   snaplakectl lake                                  LAKE_BUCKET/LAKE_PREFIX per partition
 *
 * Thin like the other binaries: config table -> connect -> one query/listing -> print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"
#include "config.h"
#include "creds.h"
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

static const sl_cfg_opt ctl_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ctl_cfg, log_level),
     "debug | info | warn | error"},
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(ctl_cfg, lake_bucket),
     "lake bucket (lake command)"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(ctl_cfg, lake_prefix),
     "lake prefix (lake command)"},
    SL_AWS_CFG_OPTS(ctl_cfg, aws),
    SL_PG_CFG_OPTS(ctl_cfg, pg),
};

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s runs [--since-hours N] [RUN_ID...]\n"
            "       %s lake\n\n"
            "runs: reads the run ledger (DATABASE_URL or libpq's PG* environment).\n"
            "lake: lists LAKE_BUCKET/LAKE_PREFIX and sums objects and bytes per partition.\n\n",
            prog, prog);
    sl_config_help(out, prog, "snaplake operators' command line", ctl_opts,
                   SL_ARRAY_LEN(ctl_opts));
}

static int cmd_runs(const ctl_cfg *cfg, int argc, char **argv)
{
    sl_pg_link pg;
    char err[SL_ERRLEN];
    const char **ids = NULL;
    size_t n = 0;
    int since = 24, rc = 1;

    sl_pg_link_init(&pg, "snaplakectl", &cfg->pg);
    ids = calloc((size_t)argc + 1, sizeof(*ids));
    if (!ids)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--since-hours") == 0 && i + 1 < argc) {
            since = atoi(argv[++i]);
            if (since <= 0) {
                fprintf(stderr, "snaplakectl: --since-hours takes a positive number\n");
                goto out;
            }
        } else {
            ids[n++] = argv[i];
        }
    }
    if (sl_pg_ensure(&pg, NULL, err, sizeof(err)) != 0 ||
        sl_ledger_migrate(pg.conn, err, sizeof(err)) != 0 ||
        sl_pg_ensure(&pg, NULL, err, sizeof(err)) != 0 ||
        sl_ledger_report(pg.conn, stdout, ids, n, since, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl runs: %s\n", err);
        goto out;
    }
    rc = 0;
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

    if (!cfg->lake_bucket) {
        fprintf(stderr, "snaplakectl lake: LAKE_BUCKET is not set\n");
        return 1;
    }
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
        sl_s3_list_opts lo = {.prefix = prefix[0] ? prefix : NULL,
                              .continuation_token = token};

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

int main(int argc, char **argv)
{
    ctl_cfg cfg;
    char err[4096];
    sl_log_level level = SL_LOG_WARN;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout, argv[0]);
        return argc < 2 ? 2 : 0;
    }
    memset(&cfg, 0, sizeof(cfg));
    if (sl_config_load(ctl_opts, SL_ARRAY_LEN(ctl_opts), &cfg, NULL, NULL, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "%s: bad configuration:\n%s\n", argv[0], err);
        return 1;
    }
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    if (strcmp(argv[1], "runs") == 0) {
        rc = cmd_runs(&cfg, argc - 2, argv + 2);
    } else if (strcmp(argv[1], "lake") == 0 && argc == 2) {
        rc = cmd_lake(&cfg);
    } else {
        usage(stderr, argv[0]);
        rc = 2;
    }
    sl_config_cleanup(ctl_opts, SL_ARRAY_LEN(ctl_opts), &cfg);
    return rc;
}
