/*
 * export_wake.h - how an export slot's release reaches the jobs waiting for one, in this
 * worker and in every other: PostgreSQL LISTEN/NOTIFY on one channel.
 *
 * A job that finds no slot free waits (ledger `waiting`) and looks again every
 * EXPORT_SLOT_RETRY (2 s by default): on its own, a slot freed in another worker was taken
 * up to that long after. Now the job that releases a slot sends NOTIFY on its slot connection
 * right after the unlock (so a woken waiter finds the lock free), and each export worker
 * keeps one more connection that LISTENs; the stage's io hook drains it every loop turn and
 * makes every waiting job due at once. The periodic retry stays as the fallback: a worker
 * that dies frees its slots by losing its connections, which notifies no one, and a
 * notification sent while the listening connection was down is lost (its reconnect counts
 * as a wake-up, since the state may have changed meanwhile).
 *
 * The listening connection is drained on every turn, waiters or not: a session that never
 * reads its notifications holds back the server's notification queue for every session.
 *
 * Ownership: sl_export_wake is embedded in the stage context (init / cleanup) and owns its
 * connection (an sl_pg_link: reconnects with backoff).
 */
#ifndef SL_EXPORT_WAKE_H
#define SL_EXPORT_WAKE_H

#include <libpq-fe.h>

#include "log.h"
#include "pg.h"
#include "util.h"

/* The channel (one per database, like the slots' advisory-lock namespace). */
#define SL_EXPORT_WAKE_CHANNEL "snaplake_export_slot_freed"

typedef struct sl_export_wake {
    sl_pg_link link;
    int listening;   /* LISTEN was sent on link.conn */
    long long heard; /* notifications received so far (log and tests) */
} sl_export_wake;

/* Sets up *wk (no connection yet: the first poll connects). link from sl_worker_pg_link_init. */
void sl_export_wake_init(sl_export_wake *wk, const sl_pg_link *link);
void sl_export_wake_cleanup(sl_export_wake *wk);

/* The listening connection's socket to wait on for reading, or -1 when there is none now. */
int sl_export_wake_fd(const sl_export_wake *wk);

/*
 * Connects (rate-limited by the link) and LISTENs when needed, then reads whatever arrived
 * without blocking. Returns 1 when a waiting job should look again now (a notification, or a
 * (re)connect that may have missed some), else 0. Failures are logged and retried later.
 */
int sl_export_wake_poll(sl_export_wake *wk);

/*
 * Tells every listener that a slot was freed: NOTIFY on conn (the slot's own connection,
 * after its unlock). A failure is logged at debug level (the waiters' retry finds the slot).
 */
void sl_export_wake_notify(PGconn *conn, const sl_log_ctx *log);

#endif /* SL_EXPORT_WAKE_H */
