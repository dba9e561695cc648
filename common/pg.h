/*
 * pg.h - PostgreSQL through libpq: connecting with keepalives, idempotent schema migrations
 * serialised by an advisory lock, session advisory locks (export slots), checked execution.
 *
 * Every function here clears every PGresult it makes, on every path; a result handed to the
 * caller says so. Error text carries PQerrorMessage / PQresultErrorMessage (trailing newline
 * removed). None of this is thread-safe per connection (libpq's rule).
 *
 * Advisory lock namespaces (the first int of the two-int form). Session-level locks: they
 * live as long as the connection, so a worker that dies frees them when the server notices
 * the connection is gone (at once on a clean close or process kill, within the keepalive
 * window (30 + 3 * 10 s) when the host vanishes). Reconnecting loses them: a holder must
 * re-acquire after sl_pg_reconnect().
 */
#ifndef SL_PG_H
#define SL_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "util.h"

#define SL_PG_LOCK_NS_MIGRATE ((int32_t)0x534c0001)     /* key 0: schema migrations */
#define SL_PG_LOCK_NS_EXPORT_SLOT ((int32_t)0x534c0002) /* key = slot 0..EXPORT_TASK_LIMIT-1 */

/* One schema migration; versions are unique and applied in ascending order. */
typedef struct sl_pg_migration {
    int version;
    const char *name;
    const char *sql; /* may hold several statements; runs inside one transaction */
} sl_pg_migration;

/*
 * Opens a connection. The target comes from DATABASE_URL when set (a postgres:// URL or a
 * key=value conninfo), else from libpq's PG* environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
 * PGPASSWORD, PGSSLMODE, ...). Always adds TCP keepalives (keepalives=1, keepalives_idle=30,
 * keepalives_interval=10, keepalives_count=3), application_name=app_name (when non-NULL), and
 * connect_timeout=10 unless PGCONNECT_TIMEOUT is set. On success *out owns the connection
 * (PQfinish it). Returns 0 or -1 with PQerrorMessage, with any password DATABASE_URL carries
 * replaced by "***" (libpq's parse errors quote the URL).
 */
int sl_pg_connect(PGconn **out, const char *app_name, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * What sl_pg_connect does to a connect error, exposed for the unit tests: replaces in msg (a
 * NUL-terminated string in a buffer of SL_ERRLEN bytes) every password DATABASE_URL value
 * `url` carries (URL userinfo, password= query parameters, conninfo password values quoted or
 * not, with blanks and escaped quotes), and every quoted piece of one libpq names, with "***".
 * url NULL or "": no-op. Pure.
 */
void sl_pg_redact_conninfo(char *msg, const char *url);

/*
 * Runs sql with nparams text parameters (params[i] NULL = SQL NULL) via PQexecParams and
 * checks that the status is PGRES_COMMAND_OK or PGRES_TUPLES_OK. When out is non-NULL and
 * the call succeeds, *out owns the result (PQclear it); otherwise the result is cleared here.
 * Returns 0, or -1 with the server's message (and SQLSTATE) in err.
 */
int sl_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
               PGresult **out, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Brings the schema up to date. Creates snaplake_schema_migrations(version int primary key,
 * name text, applied_at timestamptz) if missing, takes the session advisory lock
 * (SL_PG_LOCK_NS_MIGRATE, 0) so concurrent starters run one after another, applies each
 * migration of list[0..n) whose version is not recorded, each in its own transaction together
 * with its row in the table, then unlocks. Idempotent: a second run applies nothing.
 * *applied (if non-NULL) gets the number applied by this call. Returns 0, or -1 naming the
 * failing migration's version and name with the server's message; migrations before it stay
 * applied, the failing one is rolled back, the lock is released.
 */
int sl_pg_migrate(PGconn *conn, const sl_pg_migration *list, size_t n, int *applied, char *err,
                  size_t errlen) SL_MUST_CHECK;

/*
 * pg_try_advisory_lock(ns, key), session level: never waits. Returns 0 with *got 1 (taken,
 * or already held by this session: locks stack, unlock as many times) or 0 (held by another
 * session), or -1 on a query error.
 */
int sl_pg_try_advisory_lock(PGconn *conn, int32_t ns, int32_t key, int *got, char *err,
                            size_t errlen) SL_MUST_CHECK;

/* pg_advisory_unlock(ns, key). Returns 0, or -1 when the query failed or this session did
 * not hold the lock. */
int sl_pg_advisory_unlock(PGconn *conn, int32_t ns, int32_t key, char *err,
                          size_t errlen) SL_MUST_CHECK;

/* Checks the connection with a round trip ("SELECT 1"). Returns 0, or -1 with libpq's text. */
int sl_pg_ping(PGconn *conn, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Ensures a usable connection: pings, and when that fails resets it with PQreset (same
 * parameters). Returns 0 (*reconnected set to 1 when a reset happened, 0 otherwise; session
 * state such as advisory locks is lost on a reset) or -1 when the server is still unreachable.
 */
int sl_pg_reconnect(PGconn *conn, int *reconnected, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_PG_H */
