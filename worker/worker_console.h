/*
 * worker_console.h - what the worker runtime tells the execution console through the ledger
 * (ledger_console.h): which worker owns each job (claim), that it is alive (heartbeat), the
 * AWS ids and counts a job ended with, and the messages it read and wrote. Internal to the
 * runtime (worker.c).
 *
 * The heartbeat has a PostgreSQL connection of its own and is sent asynchronously
 * (PQsendQueryParams, then PQconsumeInput each turn), so a slow or hung server never holds
 * the loop; the server bounds the statement (PG_STATEMENT_TIMEOUT). A reconnect is the
 * rate-limited sl_pg_ensure every long-lived connection uses.
 */
#ifndef SL_WORKER_CONSOLE_H
#define SL_WORKER_CONSOLE_H

#include <libpq-fe.h>

#include "pg.h"
#include "stage.h"

typedef struct sl_wconsole {
    char worker_id[192]; /* "<stage>@<host>:<pid>-<random>": unique per process */
    char host[128];
    char stage[32];
    char pid[16];
    char every[24]; /* WORKER_HEARTBEAT in ms, as text for the statement */
    long long every_ms;
    long long next_ms; /* sl_mono_ms of the next heartbeat */
    int busy;          /* a heartbeat is in flight on pg */
    sl_pg_link pg;     /* the heartbeat's own connection */
} sl_wconsole;

/*
 * Names the worker of stage `stage` and registers it with a first (synchronous, start-up)
 * heartbeat on main_conn. The heartbeat's own connection uses app_name and pgo (borrowed for
 * the console's life). every_ms: WORKER_HEARTBEAT. Returns 0 or -1 with err. The runtime
 * passes what it knows, so this module needs nothing of worker.h (no include cycle).
 */
int sl_wconsole_init(sl_wconsole *c, const char *stage, const char *app_name, const sl_pg_opts *pgo,
                     PGconn *main_conn, long long every_ms, char *err, size_t errlen) SL_MUST_CHECK;

/* Once a loop turn: collects the heartbeat in flight, or sends the next one when due. Never
 * waits for the server. Failures are logged (warn) and the next turn tries again. */
void sl_wconsole_turn(sl_wconsole *c);

/* Records this worker as the owner of the job's attempt `fence`, with its input bytes (raw).
 * Informational: a failure is logged, never retried (the stage runs anyway). */
void sl_wconsole_claim(sl_wconsole *c, PGconn *pg, const sl_job *job, int fence, const char *raw);

/*
 * The JSON objects the ledger's aws_ids and details get for a job (heap strings the caller
 * frees; NULL when empty or out of memory). aws_ids: the export task id and generation, AWS's
 * request id of a failure, the crawler and its run's start. details (done != 0 only, from the
 * output message, only what this stage added to it): the export's times; the copy's counts
 * (objects, bytes, removed, skipped, tables, failed tables); the crawl's status, catalog mode
 * and database.
 */
char *sl_wconsole_aws_ids(const sl_job *job);
char *sl_wconsole_details(const sl_job *job, int done);

/* Records the job's output message (encoded again from job->out) for attempt `fence`.
 * Informational like the claim. */
void sl_wconsole_output(PGconn *pg, const char *stage, const sl_job *job, int fence);

/* Marks the worker stopped (best effort, at shutdown) and closes the heartbeat connection. */
void sl_wconsole_cleanup(sl_wconsole *c, PGconn *main_conn);

#endif /* SL_WORKER_CONSOLE_H */
