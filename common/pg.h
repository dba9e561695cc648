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

#include "config.h"
#include "util.h"

#define SL_PG_LOCK_NS_MIGRATE ((int32_t)0x534c0001)     /* key 0: schema migrations */
#define SL_PG_LOCK_NS_EXPORT_SLOT ((int32_t)0x534c0002) /* key = slot 0..EXPORT_TASK_LIMIT-1 */

/* One schema migration; versions are unique and applied in ascending order. */
typedef struct sl_pg_migration {
    int version;
    const char *name;
    const char *sql; /* may hold several statements; runs inside one transaction */
} sl_pg_migration;

/* Server-side bounds every statement of a connection runs under (PostgreSQL's
 * statement_timeout and lock_timeout, in ms; 0 = none). */
typedef struct sl_pg_opts {
    long long statement_timeout_ms; /* PG_STATEMENT_TIMEOUT */
    long long lock_timeout_ms;      /* PG_LOCK_TIMEOUT */
} sl_pg_opts;

#define SL_PG_DEFAULT_STATEMENT_TIMEOUT_MS 30000
#define SL_PG_DEFAULT_LOCK_TIMEOUT_MS 10000

/* The rows of a binary's config table for an sl_pg_opts member. */
/* clang-format off */
#define SL_PG_CFG_OPTS(type, member)                                                              \
    {"PG_STATEMENT_TIMEOUT", SL_CFG_DURATION, "30s", 0, 86400000, 0,                              \
     offsetof(type, member.statement_timeout_ms),                                                 \
     "PostgreSQL statement_timeout of every connection (0 = none)"},                              \
    {"PG_LOCK_TIMEOUT", SL_CFG_DURATION, "10s", 0, 86400000, 0,                                   \
     offsetof(type, member.lock_timeout_ms),                                                      \
     "PostgreSQL lock_timeout of every connection (0 = none)"}
/* clang-format on */

/*
 * Opens a connection. The target comes from DATABASE_URL when set (a postgres:// URL or a
 * key=value conninfo), else from libpq's PG* environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
 * PGPASSWORD, PGSSLMODE, ...). Always adds TCP keepalives (keepalives=1, keepalives_idle=30,
 * keepalives_interval=10, keepalives_count=3), application_name=app_name (when non-NULL), and
 * connect_timeout=10 unless PGCONNECT_TIMEOUT is set. The startup options carry
 * `-c statement_timeout=<o->statement_timeout_ms> -c lock_timeout=<o->lock_timeout_ms>` (when
 * non-zero) after the options DATABASE_URL or PGOPTIONS give, so every statement of the
 * session, also after a PQreset, is bounded by the server (a timeout fails with SQLSTATE
 * 57014, a lock wait with 55P03). o NULL = SL_PG_DEFAULT_*. On success *out owns the
 * connection (PQfinish it). Returns 0 or -1 with PQerrorMessage, with any password
 * DATABASE_URL carries replaced by "***" (libpq's parse errors quote the URL).
 */
int sl_pg_connect_opts(PGconn **out, const char *app_name, const sl_pg_opts *o, char *err,
                       size_t errlen) SL_MUST_CHECK;

/* sl_pg_connect_opts with the default timeouts. */
int sl_pg_connect(PGconn **out, const char *app_name, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * A connection that heals itself: the one mechanism every long-lived connection uses
 * (worker, producer, ctl). Call sl_pg_ensure before each use; it never sleeps and never
 * hammers a dead server.
 */
typedef struct sl_pg_link {
    PGconn *conn;          /* NULL until connected; owned by the link */
    char app_name[64];     /* application_name of (re)connects */
    sl_pg_opts opts;       /* timeouts of (re)connects */
    long long next_try_ms; /* sl_mono_ms before which no reconnect is tried (0 = any time) */
    long long gap_ms;      /* current gap between failed tries: 1 s doubling to 30 s */
} sl_pg_link;

#define SL_PG_RETRY_MIN_MS 1000
#define SL_PG_RETRY_MAX_MS 30000

/* Sets up l without connecting (app_name may be NULL; o NULL = the defaults). */
void sl_pg_link_init(sl_pg_link *l, const char *app_name, const sl_pg_opts *o);

/*
 * Makes l->conn usable if it can: when it is open (PQstatus CONNECTION_OK; a statement that
 * lost the server turns it CONNECTION_BAD) returns 0 at once, without a round trip. Otherwise,
 * unless a failed try was less than gap_ms ago, reconnects: PQreset of the broken connection
 * (same parameters) or sl_pg_connect_opts when there is none, bounded by connect_timeout.
 * Returns 0 with *reconnected (if non-NULL) 1 after a reconnect (session state such as
 * advisory locks is gone) or 0; -1 with err (libpq's text, or that the next try is not due
 * yet) when l->conn is not usable now: the caller retries its work later, with backoff.
 * Logs a failed try (warn) and a success after one (info).
 */
int sl_pg_ensure(sl_pg_link *l, int *reconnected, char *err, size_t errlen) SL_MUST_CHECK;

/* Closes l->conn (PQfinish) and resets l. */
void sl_pg_link_cleanup(sl_pg_link *l);

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
 * Ensures a usable connection with a round trip: pings, and when that fails resets it with
 * PQreset (same parameters). Returns 0 (*reconnected set to 1 when a reset happened, 0
 * otherwise; session state such as advisory locks is lost on a reset) or -1 when the server
 * is still unreachable. Blocking and not rate-limited: long-lived connections use
 * sl_pg_link / sl_pg_ensure instead.
 */
int sl_pg_reconnect(PGconn *conn, int *reconnected, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_PG_H */
