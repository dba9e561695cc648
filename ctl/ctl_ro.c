/*
 * ctl_ro.c - config and session of the read-only commands (see ctl_ro.h).
 */
#include "ctl_ro.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const sl_cfg_opt ro_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ctl_ro_cfg, log_level),
     "debug | info | warn | error"},
    SL_PG_CFG_OPTS(ctl_ro_cfg, pg),
};

void ctl_ro_help(FILE *out, const char *cmd)
{
    sl_config_help(out, cmd, "reads (DATABASE_URL or libpq's PG* too; no AWS setting)", ro_opts,
                   SL_ARRAY_LEN(ro_opts));
}

int ctl_ro_load(const char *cmd, ctl_ro_cfg *cfg)
{
    char err[4096] = "";
    sl_log_level level = SL_LOG_WARN;
    int bad = 0;

    memset(cfg, 0, sizeof(*cfg));
    if (sl_config_load(ro_opts, SL_ARRAY_LEN(ro_opts), cfg, NULL, NULL, err, sizeof(err)))
        bad = 1;
    if (sl_config_check(ro_opts, SL_ARRAY_LEN(ro_opts), sl_config_std_checks, sl_config_nstd_checks,
                        NULL, NULL, err, sizeof(err)))
        bad = 1;
    if (bad) {
        fprintf(stderr, "snaplakectl %s: bad configuration:\n%s\n", cmd, err);
        return 2;
    }
    if (sl_log_level_parse(cfg->log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    return 0;
}

void ctl_ro_cleanup(ctl_ro_cfg *cfg)
{
    sl_config_cleanup(ro_opts, SL_ARRAY_LEN(ro_opts), cfg);
}

int ctl_ro_table_exists(PGconn *conn, const char *table, char *err, size_t errlen)
{
    const char *params[] = {table};
    PGresult *res = NULL;
    int exists;

    if (sl_pg_exec(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, err, errlen))
        return -1;
    exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return exists;
}

int ctl_ro_connect(sl_pg_link *pg, const ctl_ro_cfg *cfg, const char *const *tables, size_t n,
                   char *err, size_t errlen)
{
    sl_pg_link_init(pg, "snaplakectl", &cfg->pg);
    if (sl_pg_ensure(pg, NULL, err, errlen) ||
        sl_pg_exec(pg->conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 0, NULL, NULL,
                   err, errlen))
        return -1;
    for (size_t i = 0; i < n; i++) {
        int e = ctl_ro_table_exists(pg->conn, tables[i], err, errlen);
        if (e < 0)
            return -1;
        if (!e)
            return sl_seterr(err, errlen,
                             "the ledger table %s does not exist in this database (a worker "
                             "creates the tables when it first starts; snaplakectl only reads)",
                             tables[i]);
    }
    return 0;
}

int ctl_ro_parse_hours(const char *s, int *out)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > CTL_RO_SINCE_MAX)
        return -1;
    *out = (int)v;
    return 0;
}
