/*
 * share.c - `snaplakectl share plan|apply [--cluster C] [--prune]`: the share stage's driver
 * (common/share_run.c) run to completion from the command line, with the same policy
 * (SHARE_POLICY_FILE), the same plan and the same ledger record as the worker.
 *
 *   plan   reads Glue and Lake Formation, prints what would be created, changed or revoked
 *          and the drift (what exists that the policy does not name), writes nothing. Exit 0
 *          when there is nothing to do, 2 when the plan has steps or holds a table back.
 *   apply  converges (apply, read back, re-plan until no step is left), records the grants
 *          made and the tables' columns, prints the plan it carried out. --prune also revokes
 *          the drift grants on the cluster's resources that snaplake did not make (an
 *          operator's explicit decision for this run; the policy's `prune` only ever covers
 *          what snaplake made). Exit 0 done, 1 a failure or a table held back.
 *
 * Without --cluster, every cluster the run ledger knows is planned or applied in turn (one whose
 * Glue database does not exist yet, its runs never crawled, is skipped and said so).
 */
#include "ctl_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"
#include "config.h"
#include "creds.h"
#include "lfpolicy_file.h"
#include "log.h"
#include "pg.h"
#include "share.h"
#include "share_run.h"
#include "share_store.h"

typedef struct sh_cfg {
    char *log_level;
    char *policy_file;
    char *account_id;
    sl_pg_opts pg;
    sl_aws_opts aws;
} sh_cfg;

static const sl_cfg_opt sh_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(sh_cfg, log_level),
     "debug | info | warn | error"},
    {"SHARE_POLICY_FILE", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(sh_cfg, policy_file),
     "the share policy (docs/share-policy.md)"},
    {"SHARE_ACCOUNT_ID", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sh_cfg, account_id),
     "the Data Catalog's account when the policy names none; unset: STS GetCallerIdentity"},
    SL_PG_CFG_OPTS(sh_cfg, pg),
    SL_AWS_CFG_OPTS(sh_cfg, aws),
};

void ctl_share_help(FILE *out)
{
    sl_config_help(out, "share", "the share command reads (and the run ledger's PostgreSQL)",
                   sh_opts, SL_ARRAY_LEN(sh_opts));
}

typedef struct sh_args {
    int apply;
    int prune;
    const char *cluster;
} sh_args;

static int parse_args(int argc, char **argv, sh_args *a)
{
    const char *use = "usage: snaplakectl share plan|apply [--cluster C] [--prune]";

    if (argc < 1 || (strcmp(argv[0], "plan") != 0 && strcmp(argv[0], "apply") != 0)) {
        fprintf(stderr, "%s\n", use);
        return 2;
    }
    a->apply = strcmp(argv[0], "apply") == 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc && argv[i + 1][0] && !a->cluster) {
            a->cluster = argv[++i];
        } else if (strcmp(argv[i], "--prune") == 0 && !a->prune) {
            a->prune = 1;
        } else {
            fprintf(stderr, "snaplakectl share: unexpected argument \"%.64s\" (%s)\n", argv[i],
                    use);
            return 2;
        }
    }
    return 0;
}

/* The clusters of the run ledger (an empty list when no worker ever migrated it). */
static int ledger_clusters(PGconn *conn, sl_lf_strv *out, char *err, size_t errlen)
{
    PGresult *res = NULL;
    const char *p[1] = {"snaplake_runs"};
    int missing;

    if (sl_pg_exec(conn, "SELECT to_regclass($1) IS NULL", 1, p, &res, err, errlen) != 0)
        return -1;
    missing = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (missing)
        return 0;
    if (sl_pg_exec(conn, "SELECT DISTINCT cluster FROM snaplake_runs ORDER BY cluster", 0, NULL,
                   &res, err, errlen) != 0)
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        if (sl_lf_strv_push(out, PQgetvalue(res, i, 0)) != 0) {
            PQclear(res);
            return sl_seterr(err, errlen, "out of memory");
        }
    PQclear(res);
    return 0;
}

/* Plans or applies one cluster. 0 nothing to do / done, 2 changes (plan), 1 a failure. */
static int one_cluster(const sh_cfg *cfg, const sh_args *a, const sl_lfpolicy *pol, sl_aws *aws,
                       PGconn *conn, const char *cluster)
{
    sl_share_history hist;
    sl_share_run_opts o;
    sl_share_run *run = NULL;
    sl_buf b;
    char db[SL_LF_NAME_MAX + 1], err[SL_ERRLEN];
    const sl_share_plan *first;
    const sl_share_desired *d;
    int rc = 1;

    memset(&hist, 0, sizeof(hist));
    sl_buf_init(&b, 0);
    if (sl_share_database(pol, cluster, db, sizeof(db), err, sizeof(err)) != 0 ||
        (a->apply && sl_share_store_migrate(conn, err, sizeof(err)) != 0) ||
        sl_share_store_load(conn, db, !a->apply, &hist, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl share: cluster %s: %s\n", cluster, err);
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.policy = pol;
    o.cluster = cluster;
    o.account_id = cfg->account_id;
    o.history = &hist;
    o.plan_only = !a->apply;
    o.prune_outside = a->prune;
    if (!(run = sl_share_run_new(aws, &o, err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl share: cluster %s: %s\n", cluster, err);
        goto out;
    }
    if (sl_share_run_finish(run) != SL_SHARE_RUN_DONE) {
        const sl_share_run_error *e = sl_share_run_error_get(run);
        /* A cluster of the ledger whose runs never got as far as the catalog (its export
           failed) has no database yet: nothing to share, not an error of the command. */
        if (!a->cluster && strcmp(e->code, "EntityNotFoundException") == 0 &&
            strstr(e->message, "GetTables")) {
            printf("cluster %s (Glue database %s): no such database yet (nothing crawled): "
                   "skipped\n",
                   cluster, db);
            rc = 0;
            goto out;
        }
        fprintf(stderr, "snaplakectl share: cluster %s: %s: %s\n", cluster, e->code, e->message);
        goto out;
    }
    first = sl_share_run_first_plan(run);
    d = sl_share_run_desired(run);
    if (a->apply) {
        size_t nt;
        const sl_share_table_in *t = sl_share_run_tables(run, &nt);
        if (sl_share_store_save(conn, d, t, nt, sl_share_run_made(run), sl_share_run_gone(run), err,
                                sizeof(err)) != 0) {
            fprintf(stderr, "snaplakectl share: cluster %s: applied, but %s\n", cluster, err);
            goto out;
        }
    }
    if (sl_share_plan_format(first, &b) != 0) {
        fprintf(stderr, "snaplakectl share: out of memory\n");
        goto out;
    }
    printf("cluster %s (Glue database %s):\n%s", cluster, db, b.data);
    if (a->apply) {
        sl_share_counts c = sl_share_plan_counts(first);
        printf("Apply complete: %zu created, %zu updated, %zu removed, in %d round(s), %lld "
               "write call(s).\n",
               c.create, c.update, c.remove, sl_share_run_rounds(run), sl_share_run_writes(run));
    }
    fflush(stdout);
    if (d->nheld) {
        for (size_t i = 0; i < d->ntables; i++)
            if (d->tables[i].held)
                fprintf(stderr, "snaplakectl share: %s\n", d->tables[i].cause);
        rc = a->apply ? 1 : 2;
    } else {
        rc = !a->apply && first->nsteps ? 2 : 0;
    }
out:
    sl_buf_cleanup(&b);
    sl_share_run_free(run);
    sl_share_history_cleanup(&hist);
    return rc;
}

int ctl_share_main(int argc, char **argv)
{
    sh_cfg cfg;
    sh_args a = {0};
    sl_lfpolicy pol;
    sl_creds_provider *creds = NULL;
    sl_aws *aws = NULL;
    sl_pg_link pg;
    sl_lf_strv clusters = {0};
    sl_log_level level = SL_LOG_WARN;
    char err[16384] = "", why[SL_ERRLEN];
    int rc = 2, have_pol = 0, pg_init = 0;

    memset(&cfg, 0, sizeof(cfg));
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    if (sl_config_load(sh_opts, SL_ARRAY_LEN(sh_opts), &cfg, NULL, NULL, err, sizeof(err)) != 0 ||
        sl_config_check(sh_opts, SL_ARRAY_LEN(sh_opts), sl_config_std_checks, sl_config_nstd_checks,
                        NULL, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl share: bad configuration:\n%s\n", err);
        goto out;
    }
    if (cfg.account_id && sl_cfg_check_account_id(cfg.account_id, why, sizeof(why)) != 0) {
        fprintf(stderr, "snaplakectl share: bad configuration:\nSHARE_ACCOUNT_ID: %s\n", why);
        goto out;
    }
    if (sl_lfpolicy_load_file(cfg.policy_file, &pol, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl share: bad configuration:\nSHARE_POLICY_FILE %s\n", err);
        goto out;
    }
    have_pol = 1;
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    rc = 1;
    sl_pg_link_init(&pg, "snaplakectl-share", &cfg.pg);
    pg_init = 1;
    creds = sl_creds_chain_new(&(sl_creds_opts){0}, &cfg.aws, err, sizeof(err));
    if (!creds || !(aws = sl_aws_new(&cfg.aws, sl_creds_signer(creds), err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl share: %s\n", err);
        goto out;
    }
    if (sl_pg_ensure(&pg, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl share: PostgreSQL: %s\n", err);
        goto out;
    }
    if (a.cluster) {
        if (sl_lf_strv_push(&clusters, a.cluster) != 0)
            goto out;
    } else if (ledger_clusters(pg.conn, &clusters, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl share: the run ledger: %s\n", err);
        goto out;
    }
    if (!clusters.n) {
        printf("No clusters in the run ledger (name one with --cluster).\n");
        rc = 0;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < clusters.n; i++) {
        int r = one_cluster(&cfg, &a, &pol, aws, pg.conn, clusters.v[i]);
        if (r == 1 || (r == 2 && rc == 0))
            rc = r;
    }
out:
    sl_lf_strv_cleanup(&clusters);
    if (pg_init)
        sl_pg_link_cleanup(&pg);
    sl_aws_free(aws);
    sl_creds_provider_free(creds);
    if (have_pol)
        sl_lfpolicy_cleanup(&pol);
    sl_config_cleanup(sh_opts, SL_ARRAY_LEN(sh_opts), &cfg);
    return rc;
}
