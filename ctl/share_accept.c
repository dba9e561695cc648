/*
 * share_accept.c - `snaplakectl share accept [--cluster C]... [--database D]...`.
 *
 * Drives the consumer side (common/share_consumer.h) to completion with an AWS client of the
 * analytics account: the chain's credentials, then STS AssumeRole into SHARE_CONSUMER_ROLE_ARN
 * (with SHARE_CONSUMER_ROLE_EXTERNAL_ID, the confused-deputy guard of the role's trust policy).
 * Each --cluster links the database SHARE_CONSUMER_DATABASE names for it (the share policy's
 * database.name), each --database links that database; with neither, only the invitations are
 * accepted.
 *
 * A command line may wait, so transient failures are retried here with the module's backoff,
 * up to SHARE_CONSUMER_MAX_ATTEMPTS in a row. Every action is printed as it happens, then the
 * summary; on a failure what was done before it is printed too.
 */
#include "ctl_share_accept.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_http.h"
#include "catalog.h"
#include "config.h"
#include "creds.h"
#include "log.h"
#include "share_consumer.h"

typedef struct acc_cfg {
    char *log_level;
    char *service_account;
    char *source_catalog;
    char *source_region;
    char *database_tmpl;
    long long max_attempts;
    sl_share_consumer_cfg consumer;
    sl_aws_opts aws;
} acc_cfg;

static const sl_cfg_opt acc_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(acc_cfg, log_level),
     "debug | info | warn | error"},
    {"SHARE_CONSUMER_SERVICE_ACCOUNT", SL_CFG_STRING, NULL, 0, -1, 1,
     offsetof(acc_cfg, service_account),
     "12-digit id of the service account: only its invitations are accepted"},
    {"SHARE_CONSUMER_SOURCE_CATALOG", SL_CFG_STRING, NULL, 0, -1, 0,
     offsetof(acc_cfg, source_catalog),
     "Data Catalog id of the shared databases (the policy's catalog_id); default: the service "
     "account"},
    {"SHARE_CONSUMER_SOURCE_REGION", SL_CFG_STRING, NULL, 0, -1, 0,
     offsetof(acc_cfg, source_region),
     "region of the shared databases (TargetDatabase.Region); default: AWS_REGION"},
    {"SHARE_CONSUMER_DATABASE", SL_CFG_STRING, "snaplake_{cluster}", 0, -1, 0,
     offsetof(acc_cfg, database_tmpl),
     "the shared Glue database of a --cluster ({cluster}): the policy's database.name"},
    SL_SHARE_CONSUMER_CFG_OPTS(acc_cfg, consumer, 1),
    {"SHARE_CONSUMER_MAX_ATTEMPTS", SL_CFG_INT, "5", 1, 100, 0, offsetof(acc_cfg, max_attempts),
     "tries of each step on transient errors before the command fails"},
    SL_AWS_CFG_OPTS(acc_cfg, aws),
};

static const sl_cfg_check acc_checks[] = {
    {"SHARE_CONSUMER_SERVICE_ACCOUNT", sl_cfg_check_account_id},
    {"SHARE_CONSUMER_SOURCE_CATALOG", sl_cfg_check_account_id},
    {"SHARE_CONSUMER_SOURCE_REGION", sl_cfg_check_aws_region},
    {"SHARE_CONSUMER_DATABASE", sl_cfg_check_catalog_db_template},
};

void ctl_share_accept_help(FILE *out)
{
    sl_config_help(out, "share accept",
                   "the share accept command reads (the analytics account; no PostgreSQL)",
                   acc_opts, SL_ARRAY_LEN(acc_opts));
}

/* --cluster / --database values: borrowed from argv. */
typedef struct acc_args {
    const char **clusters;
    size_t nclusters;
    const char **databases;
    size_t ndatabases;
} acc_args;

static int parse_args(int argc, char **argv, acc_args *a)
{
    for (int i = 0; i < argc; i++) {
        int cl = strcmp(argv[i], "--cluster") == 0, db = strcmp(argv[i], "--database") == 0;

        if (!cl && !db) {
            fprintf(stderr, "snaplakectl share accept: unknown argument \"%.64s\" (see --help)\n",
                    argv[i]);
            return 2;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "snaplakectl share accept: %s needs a value\n", argv[i]);
            return 2;
        }
        if (cl)
            a->clusters[a->nclusters++] = argv[++i];
        else
            a->databases[a->ndatabases++] = argv[++i];
    }
    return 0;
}

static void print_event(void *ud, sl_share_consumer_event ev, const char *subject,
                        const char *detail)
{
    (void)ud;
    switch (ev) {
    case SL_SHARE_EV_ACCEPTED:
        printf("share accept: accepted invitation %s (%s)\n", subject, detail);
        break;
    case SL_SHARE_EV_ALREADY_ACCEPTED:
        printf("share accept: invitation %s (%s) was already accepted\n", subject, detail);
        break;
    case SL_SHARE_EV_LINK_CREATED:
        printf("share accept: created resource link %s -> %s\n", subject, detail);
        break;
    case SL_SHARE_EV_LINK_PRESENT:
        printf("share accept: resource link %s -> %s already present\n", subject, detail);
        break;
    }
    fflush(stdout);
}

static void sleep_until(long long due_ms)
{
    long long left = due_ms - sl_mono_ms();

    if (left > 0) {
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Steps c to the end. 0 done, 1 failed (said on stderr). */
static int drive(sl_share_consumer *c, long long max_attempts)
{
    for (;;) {
        long long due = sl_mono_ms();
        const sl_aws_error *e;

        switch (sl_share_consumer_step(c, &due)) {
        case SL_SHARE_CONSUMER_PENDING:
            sleep_until(due);
            continue;
        case SL_SHARE_CONSUMER_DONE:
            return 0;
        case SL_SHARE_CONSUMER_RETRY:
            e = sl_share_consumer_error(c);
            if (sl_share_consumer_failures(c) >= max_attempts) {
                fprintf(stderr, "snaplakectl share accept: %s: %s (gave up after %d tries)\n",
                        e->code, e->message, sl_share_consumer_failures(c));
                return 1;
            }
            fprintf(stderr, "snaplakectl share accept: %s: %s; retrying in %lld ms\n", e->code,
                    e->message, due - sl_mono_ms() > 0 ? due - sl_mono_ms() : 0);
            sleep_until(due);
            continue;
        case SL_SHARE_CONSUMER_FAILED:
            e = sl_share_consumer_error(c);
            fprintf(stderr, "snaplakectl share accept: %s: %s%s%s\n", e->code, e->message,
                    e->request_id[0] ? " (request id " : "", e->request_id[0] ? ")" : "");
            return 1;
        }
    }
}

/* The databases to link: SHARE_CONSUMER_DATABASE per cluster, then the --database ones. */
static char **databases_of(const acc_cfg *cfg, const acc_args *a, size_t *n, char *err,
                           size_t errlen)
{
    char **dbs = calloc(a->nclusters + a->ndatabases + 1, sizeof(*dbs));

    *n = 0;
    if (!dbs) {
        sl_seterr(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < a->nclusters; i++) {
        char name[SL_CATALOG_NAME_MAX + 1], why[SL_ERRLEN];
        sl_cat_name_vars v = {.cluster = a->clusters[i]};

        if (sl_catalog_name(cfg->database_tmpl, &v, name, sizeof(name), why, sizeof(why)) != 0) {
            sl_seterr(err, errlen, "SHARE_CONSUMER_DATABASE for cluster %.64s: %s", a->clusters[i],
                      why);
            goto fail;
        }
        if (!(dbs[(*n)++] = strdup(name)))
            goto oom;
    }
    for (size_t i = 0; i < a->ndatabases; i++)
        if (!(dbs[(*n)++] = strdup(a->databases[i])))
            goto oom;
    return dbs;
oom:
    sl_seterr(err, errlen, "out of memory");
fail:
    for (size_t i = 0; i < *n; i++)
        free(dbs[i]);
    free(dbs);
    *n = 0;
    return NULL;
}

int ctl_share_accept_main(int argc, char **argv)
{
    acc_cfg cfg;
    acc_args args = {0};
    sl_creds_provider *creds = NULL;
    sl_aws *aws = NULL;
    sl_share_consumer *c = NULL;
    sl_log_level level = SL_LOG_WARN;
    char err[4096] = "", summary[512];
    char **dbs = NULL;
    size_t ndbs = 0;
    int rc = 2;

    memset(&cfg, 0, sizeof(cfg));
    args.clusters = calloc((size_t)argc + 1, sizeof(*args.clusters));
    args.databases = calloc((size_t)argc + 1, sizeof(*args.databases));
    if (!args.clusters || !args.databases) {
        rc = 1;
        goto out;
    }
    if (parse_args(argc, argv, &args) != 0)
        goto out;
    if (sl_config_load(acc_opts, SL_ARRAY_LEN(acc_opts), &cfg, NULL, NULL, err, sizeof(err)) != 0 ||
        (sl_config_check(acc_opts, SL_ARRAY_LEN(acc_opts), sl_config_std_checks,
                         sl_config_nstd_checks, NULL, NULL, err, sizeof(err)) |
         sl_config_check(acc_opts, SL_ARRAY_LEN(acc_opts), acc_checks, SL_ARRAY_LEN(acc_checks),
                         NULL, NULL, err, sizeof(err))) != 0) {
        fprintf(stderr, "snaplakectl share accept: bad configuration:\n%s\n", err);
        goto out;
    }
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    if (!(dbs = databases_of(&cfg, &args, &ndbs, err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl share accept: %s\n", err);
        goto out;
    }
    {
        sl_share_consumer_opts o = {.service_account = cfg.service_account,
                                    .source_catalog = cfg.source_catalog,
                                    .source_region = cfg.source_region,
                                    .databases = (const char *const *)dbs,
                                    .ndatabases = ndbs,
                                    .link_template = cfg.consumer.link_tmpl,
                                    .observer = print_event};

        if (!(aws = sl_share_consumer_aws_new(&cfg.consumer, &cfg.aws, &creds, err, sizeof(err))) ||
            !(c = sl_share_consumer_new(&o, aws, NULL, err, sizeof(err)))) {
            fprintf(stderr, "snaplakectl share accept: %s\n", err);
            goto out;
        }
    }
    if (ndbs == 0)
        printf("share accept: no --cluster or --database given: accepting invitations only\n");
    rc = drive(c, cfg.max_attempts);
    sl_share_consumer_summary(sl_share_consumer_result_get(c), summary, sizeof(summary));
    printf("share accept: %s%s\n", rc ? "FAILED after " : "", summary);
out:
    sl_share_consumer_free(c);
    sl_aws_free(aws);
    sl_creds_provider_free(creds);
    for (size_t i = 0; i < ndbs; i++)
        free(dbs[i]);
    free(dbs);
    free(args.clusters);
    free(args.databases);
    sl_config_cleanup(acc_opts, SL_ARRAY_LEN(acc_opts), &cfg);
    return rc;
}
