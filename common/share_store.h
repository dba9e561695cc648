/*
 * share_store.h - what the share stage keeps in PostgreSQL between runs (migration 2001):
 *
 *   snaplake_share_grants  (grant_key PK, database, created_at): the key (sl_lf_grant_key) of
 *                          every grant snaplake made: the only grants `prune` may revoke
 *                          besides those on its own filters (share.h's ownership rule)
 *   snaplake_share_tables  (database, table_name PK, columns jsonb, shared_at): each shared
 *                          table's columns when it was last shared: the drift guard's "before"
 *
 * Statements are parameterised; each save is one transaction.
 */
#ifndef SL_SHARE_STORE_H
#define SL_SHARE_STORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "share.h"
#include "share_run.h"
#include "util.h"

#define SL_SHARE_STORE_MIGRATION 2001

/* Applies the store's migrations (idempotent). 0, or -1 with err. */
int sl_share_store_migrate(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Reads every owned grant key and the column records of database into *out (initialised
 * here; the caller calls sl_share_history_cleanup). 0, or -1 with err (libpq's text) and *out
 * empty. A database never migrated (no tables) reads as empty when missing_ok.
 */
int sl_share_store_load(PGconn *conn, const char *database, int missing_ok, sl_share_history *out,
                        char *err, size_t errlen) SL_MUST_CHECK;

/*
 * After a run that converged: records the grant keys made, forgets the keys in gone, stores
 * the columns of each table d shares (not held; a held table keeps its old record, so the
 * guard still sees its new columns next time) and forgets the tables d does not share (one
 * shared again later counts all its columns as new). tables/ntables are the run's Glue tables
 * (their columns). One transaction. 0, or -1 with err.
 */
int sl_share_store_save(PGconn *conn, const sl_share_desired *d, const sl_share_table_in *tables,
                        size_t ntables, const sl_lf_strv *made, const sl_lf_strv *gone, char *err,
                        size_t errlen) SL_MUST_CHECK;

#endif /* SL_SHARE_STORE_H */
