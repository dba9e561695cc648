/*
 * ctl_ro.h - what snaplakectl's read-only commands (slots, lag, report) share: their small
 * config table (LOG_LEVEL and the PostgreSQL bounds), loaded and checked at once, and a
 * read-only ledger session.
 *
 * Read-only means: no AWS setting is read, no migration is run (an operator's role may have
 * SELECT only), and the session is READ ONLY, so even a bug here cannot write. A database the
 * workers never migrated is named as such instead of failing on a missing relation.
 */
#ifndef SL_CTL_RO_H
#define SL_CTL_RO_H

#include <stdio.h>

#include "config.h"
#include "pg.h"

typedef struct ctl_ro_cfg {
    char *log_level;
    sl_pg_opts pg;
} ctl_ro_cfg;

/* The table, for the commands' --help. */
void ctl_ro_help(FILE *out, const char *cmd);

/*
 * Loads and checks cfg (every error reported at once on stderr as "snaplakectl CMD: ..."),
 * and starts logging at its LOG_LEVEL. Returns 0, or 2 (a configuration error) after printing.
 * The caller frees with ctl_ro_cleanup either way.
 */
int ctl_ro_load(const char *cmd, ctl_ro_cfg *cfg);
void ctl_ro_cleanup(ctl_ro_cfg *cfg);

/*
 * Connects (DATABASE_URL or libpq's PG* environment) into pg (initialised here), makes the
 * session READ ONLY and checks that each of tables[0..n) exists. Returns 0, or -1 with err.
 * The caller cleans pg up (sl_pg_link_cleanup) either way.
 */
int ctl_ro_connect(sl_pg_link *pg, const ctl_ro_cfg *cfg, const char *const *tables, size_t n,
                   char *err, size_t errlen);

/* 1 when table exists, 0 when not, -1 with err. */
int ctl_ro_table_exists(PGconn *conn, const char *table, char *err, size_t errlen);

/* Bounds of --since-hours (an hour to ten years) and its strict parser: 0, or -1. */
#define CTL_RO_SINCE_MAX (24 * 366 * 10)
int ctl_ro_parse_hours(const char *s, int *out);

#endif /* SL_CTL_RO_H */
