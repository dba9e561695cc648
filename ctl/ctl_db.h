/*
 * ctl_db.h - what snaplakectl's ledger commands (runs, show, redo) share: their config table
 * (LOG_LEVEL and the PostgreSQL bounds; never an AWS setting), the session, the check that the
 * ledger exists, the one query that describes runs and their stages, and the time arguments.
 *
 * Read-only commands open the session READ ONLY and never migrate: an operator's role may
 * have SELECT only (on snaplake_runs, snaplake_stage_runs, snaplake_stage_events,
 * snaplake_workers). Exit statuses of every command: 0 done, 1 a failure (connection, query,
 * an unknown run id, a refused redo/replay), 2 bad usage or a configuration error.
 */
#ifndef SL_CTL_DB_H
#define SL_CTL_DB_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "pg.h"

typedef struct ctl_db {
    char *log_level;
    sl_pg_opts pgo;
    sl_pg_link pg;
} ctl_db;

/* Loads LOG_LEVEL and PG_* for command `cmd` and sets up logging. 0, or 2 after printing
 * every configuration error to stderr. */
int ctl_db_config(const char *cmd, ctl_db *db);

/* Connects; read_only: a READ ONLY session. Checks that the ledger's tables exist (naming the
 * missing one). 0, or 1 after printing the reason to stderr. */
int ctl_db_open(const char *cmd, ctl_db *db, int read_only);

/* Closes and frees what ctl_db_config/ctl_db_open made. */
void ctl_db_close(ctl_db *db);

/* Prints the table of ctl_db_config, headed by the commands that read it ("runs|show|redo"). */
void ctl_db_help(FILE *out, const char *cmds);

/* 1 when the table exists, 0 when not, -1 with err on a query error. */
int ctl_db_table_exists(PGconn *conn, const char *table, char *err, size_t errlen);

/* --since-hours: strict decimal in 1..CTL_SINCE_HOURS_MAX ("5abc", "", "+5", " 5" and overflow
   are refused). Returns 0, or -1. */
#define CTL_SINCE_HOURS_MAX (24 * 366 * 10)
int ctl_parse_hours(const char *s, int *out);

/* Which runs ctl_db_runs selects. */
typedef struct ctl_runs_filter {
    const char *const *ids; /* n > 0: exactly these runs (the other filters still apply) */
    size_t n;
    long long since_s;   /* else: runs created at or after this epoch second */
    const char *cluster; /* NULL = any */
    int failed;          /* only runs with a failed stage */
    int running;         /* only runs with a stage queued, running or waiting (stale too) */
} ctl_runs_filter;

/*
 * The runs f selects, oldest first, as a JSON array (*out, the caller's: cJSON_Delete) of
 * {run_id, cluster, date, mode, snapshot_id, created_at, status, stages: [{stage, status,
 * stale, attempt, generation, first_at, started_at, finished_at, duration_s, export_task_id,
 * error_code, error_message, owner_id, owner_host, heartbeat_at, aws_ids, details}]}, stages in
 * pipeline order. A run's status: failed, else stale, else running, else succeeded (queued
 * when no stage began). A stage's duration covers it whole: from its first attempt's start
 * (the history) to its end, across retries, redeliveries and adoptions, less the time it sat
 * failed before a redo; a stale stage ends at its owner's last heartbeat. 0, or -1 with err.
 */
int ctl_db_runs(PGconn *conn, const ctl_runs_filter *f, cJSON **out, char *err, size_t errlen);

/* Names each of ids[0..n) that has no run (stderr, "snaplakectl <cmd>: no run ..."); returns
 * how many, or -1 with err. */
int ctl_db_unknown_runs(PGconn *conn, const char *cmd, const char *const *ids, size_t n, char *err,
                        size_t errlen);

/*
 * --since: an ISO date or date-time in UTC (2024-01-02, 2024-01-02T03:04, 2024-01-02 03:04:05,
 * an optional trailing Z) or a span back from now (90s, 30m, 24h, 7d). *epoch_s gets the
 * epoch second. 0 or -1 (bad text). Pure but for the clock.
 */
int ctl_parse_since(const char *s, long long *epoch_s);

/* Prints a JSON value compactly or indented on out, with a newline. */
void ctl_print_json(FILE *out, const cJSON *v, int pretty);

#endif /* SL_CTL_DB_H */
