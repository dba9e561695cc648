/*
 * partlock.h - serialising partition replacement per (cluster, date) across every copy worker,
 * and the record of which export a (cluster, date) partition holds (newest snapshot wins).
 *
 * The lock is a PostgreSQL session advisory lock in a namespace of its own (pg.h lists the
 * others), keyed by a hash of cluster and date, taken with pg_try_advisory_lock on a
 * connection of the job's own: it never waits, the caller retries by its own deadline, and
 * two jobs of one worker exclude each other (locks stack within one session, so a shared
 * connection would not). The record lives in table snaplake_partitions (its own migration,
 * version SL_PARTLOCK_MIGRATION, in the shared migrations table). Every statement is
 * parameterised; every PGresult is cleared here.
 */
#ifndef SL_PARTLOCK_H
#define SL_PARTLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "util.h"

/* Advisory lock namespace of partition replacement (after pg.h's 0x534c0001/2). */
#define SL_PARTLOCK_NS ((int32_t)0x534c0003)
/* Version of this module's migration; far from the ledger's 1, 2, ... */
#define SL_PARTLOCK_MIGRATION 1001

/* Lock key of (cluster, date): the first 4 bytes of SHA-256(cluster "\0" date). A collision
   only makes two partitions wait for each other. */
int32_t sl_partlock_key(const char *cluster, const char *date);

/* Creates snaplake_partitions when missing (serialised by sl_pg_migrate). 0 or -1 with err. */
int sl_partlock_migrate(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/* The export a partition holds. Strings heap-owned (sl_partlock_holder_cleanup). */
typedef struct sl_partlock_holder {
    int found;
    long long time_ms; /* -1 = unknown */
    char *export_task_id;
    char *run_id;
} sl_partlock_holder;

void sl_partlock_holder_cleanup(sl_partlock_holder *h);

/* Reads the record of (cluster, date) into *out (found 0 when none). 0 or -1 with err. */
int sl_partlock_holder_get(PGconn *conn, const char *cluster, const char *date,
                           sl_partlock_holder *out, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Records that (cluster, date) now holds the files of export_task_id (run_id, snapshot_id may
 * be NULL) with data time time_ms. As a second guard beside the lock, a record never moves to
 * an older export: *written is 0 when the stored one is newer. 0 or -1 with err.
 */
int sl_partlock_holder_set(PGconn *conn, const char *cluster, const char *date, long long time_ms,
                           const char *export_task_id, const char *run_id, const char *snapshot_id,
                           int *written, char *err, size_t errlen) SL_MUST_CHECK;

/* *held = 1 when this session holds the lock key (pg_locks), e.g. before deleting: a
   connection reset would have dropped it silently. 0 or -1 with err. */
int sl_partlock_held(PGconn *conn, int32_t key, int *held, char *err, size_t errlen) SL_MUST_CHECK;

/* Merges details_json (a JSON object) into the ledger row of (run_id, stage): the runtime's
   own final write keeps it (details || ...). 0 or -1 with err. */
int sl_partlock_ledger_details(PGconn *conn, const char *run_id, const char *stage,
                               const char *details_json, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_PARTLOCK_H */
