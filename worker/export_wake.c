/*
 * export_wake.c - LISTEN/NOTIFY for freed export slots (export_wake.h says why and when).
 */
#include "export_wake.h"

#include <string.h>

void sl_export_wake_init(sl_export_wake *wk, const sl_pg_link *link)
{
    memset(wk, 0, sizeof(*wk));
    wk->link = *link;
}

void sl_export_wake_cleanup(sl_export_wake *wk)
{
    sl_pg_link_cleanup(&wk->link);
    wk->listening = 0;
}

int sl_export_wake_fd(const sl_export_wake *wk)
{
    if (!wk->listening || !wk->link.conn || PQstatus(wk->link.conn) != CONNECTION_OK)
        return -1;
    return PQsocket(wk->link.conn);
}

/* LISTEN on a fresh session. 0, or -1 (logged; the next poll tries again). */
static int listen_now(sl_export_wake *wk)
{
    char err[SL_ERRLEN];

    if (sl_pg_exec(wk->link.conn, "LISTEN " SL_EXPORT_WAKE_CHANNEL, 0, NULL, NULL, err,
                   sizeof(err))) {
        sl_warn(NULL,
                "export: LISTEN for freed slots failed (waiting jobs retry on their own "
                "interval): %s",
                err);
        return -1;
    }
    wk->listening = 1;
    return 0;
}

int sl_export_wake_poll(sl_export_wake *wk)
{
    char err[SL_ERRLEN];
    int reconnected = 0, wake = 0;
    PGnotify *n;

    if (!wk->listening || !wk->link.conn || PQstatus(wk->link.conn) != CONNECTION_OK) {
        /* A new or healed session has no LISTEN: its first one counts as a wake-up, since a
           slot may have been freed while nobody listened. */
        if (sl_pg_ensure(&wk->link, &reconnected, err, sizeof(err)))
            return 0;
        wk->listening = 0;
        if (listen_now(wk))
            return 0;
        return 1;
    }
    /* Never blocks: libpq's socket is non-blocking, and this reads only what has arrived. */
    if (!PQconsumeInput(wk->link.conn)) {
        sl_warn(NULL, "export: the connection listening for freed slots broke: %s",
                PQerrorMessage(wk->link.conn));
        wk->listening = 0;
        return 0;
    }
    while ((n = PQnotifies(wk->link.conn)) != NULL) {
        wk->heard++;
        wake = 1;
        PQfreemem(n);
    }
    return wake;
}

void sl_export_wake_notify(PGconn *conn, const sl_log_ctx *log)
{
    char err[SL_ERRLEN];

    if (sl_pg_exec(conn, "NOTIFY " SL_EXPORT_WAKE_CHANNEL, 0, NULL, NULL, err, sizeof(err)))
        sl_debug(log, "export: NOTIFY of the freed slot failed (waiters retry on their own): %s",
                 err);
}
