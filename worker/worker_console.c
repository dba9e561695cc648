/* worker_console.c - see worker_console.h. */
#include "worker_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ledger_console.h"
#include "log.h"
#include "msg.h"

int sl_wconsole_init(sl_wconsole *c, const char *stage, const char *app_name, const sl_pg_opts *pgo,
                     PGconn *main_conn, long long every_ms, char *err, size_t errlen)
{
    const char *p[5];
    char e[SL_ERRLEN];

    memset(c, 0, sizeof(*c));
    if (gethostname(c->host, sizeof(c->host) - 1) != 0 || !c->host[0])
        snprintf(c->host, sizeof(c->host), "unknown");
    snprintf(c->stage, sizeof(c->stage), "%s", stage);
    snprintf(c->pid, sizeof(c->pid), "%ld", (long)getpid());
    /* The random part tells apart two processes that reuse a pid (a restarted container). */
    snprintf(c->worker_id, sizeof(c->worker_id), "%s@%.100s:%s-%06llx", c->stage, c->host, c->pid,
             sl_random_u64() & 0xffffffULL);
    c->every_ms = every_ms;
    snprintf(c->every, sizeof(c->every), "%lld", every_ms);
    sl_pg_link_init(&c->pg, app_name, pgo);
    p[0] = c->worker_id;
    p[1] = c->host;
    p[2] = c->stage;
    p[3] = c->pid;
    p[4] = c->every;
    if (sl_pg_exec(main_conn, SL_LEDGER_CONSOLE_HEARTBEAT_SQL, 5, p, NULL, e, sizeof(e)))
        return sl_seterr(err, errlen, "worker registration: %s", e);
    c->next_ms = sl_mono_ms() + every_ms;
    return 0;
}

/* Reads what the server sent for the heartbeat in flight; clears busy once it is complete. */
static void collect(sl_wconsole *c)
{
    PGconn *conn = c->pg.conn;
    PGresult *r;

    if (!PQconsumeInput(conn) || PQflush(conn) < 0) {
        sl_warn(NULL, "heartbeat: %s", PQerrorMessage(conn));
        c->busy = 0; /* the connection is bad: sl_pg_ensure resets it next time */
        return;
    }
    while (!PQisBusy(conn)) {
        r = PQgetResult(conn);
        if (!r) {
            c->busy = 0;
            return;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            sl_warn(NULL, "heartbeat: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
}

void sl_wconsole_turn(sl_wconsole *c)
{
    const char *p[5] = {c->worker_id, c->host, c->stage, c->pid, c->every};
    char err[SL_ERRLEN];
    long long now = sl_mono_ms();

    if (c->busy) {
        collect(c);
        return;
    }
    if (now < c->next_ms)
        return;
    c->next_ms = now + c->every_ms;
    if (sl_pg_ensure(&c->pg, NULL, err, sizeof(err)))
        return; /* logged by sl_pg_ensure; the next interval tries again */
    if (PQsetnonblocking(c->pg.conn, 1) != 0 ||
        !PQsendQueryParams(c->pg.conn, SL_LEDGER_CONSOLE_HEARTBEAT_SQL, 5, NULL, p, NULL, NULL,
                           0)) {
        sl_warn(NULL, "heartbeat not sent: %s", PQerrorMessage(c->pg.conn));
        return;
    }
    c->busy = 1;
    collect(c);
}

void sl_wconsole_claim(sl_wconsole *c, PGconn *pg, const sl_job *job, int fence, const char *raw)
{
    char err[SL_ERRLEN];

    if (!pg || sl_ledger_console_claim(pg, job->in.run_id, c->stage, fence, c->worker_id, c->host,
                                       raw, err, sizeof(err)))
        sl_log_kv(SL_LOG_WARN, &job->log, NULL, "ledger owner not recorded: %s",
                  pg ? err : "no connection");
}

/* Adds s under name when it is non-empty. */
static void add_str(cJSON *o, const char *name, const char *s)
{
    if (s && *s)
        cJSON_AddStringToObject(o, name, s);
}

static void add_num(cJSON *o, const char *name, long long v)
{
    if (v)
        cJSON_AddNumberToObject(o, name, (double)v);
}

/* The object's text, or NULL when it is empty; frees o. */
static char *text_of(cJSON *o)
{
    char *s = o && o->child ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return s;
}

char *sl_wconsole_aws_ids(const sl_job *job)
{
    cJSON *o = cJSON_CreateObject();
    const sl_msg *out = &job->out;

    if (!o)
        return NULL;
    add_str(o, "export_task_id",
            job->export_task_id[0] ? job->export_task_id : job->in.export_task_id);
    add_num(o, "export_generation",
            job->export_generation ? job->export_generation : job->in.export_generation);
    add_str(o, "request_id", job->aws_request_id);
    add_str(o, "crawler", out->crawler);
    add_str(o, "crawl_started_at", out->crawl_started_at);
    return text_of(o);
}

char *sl_wconsole_details(const sl_job *job, int done)
{
    const sl_msg *out = &job->out;
    cJSON *o;

    if (!done || out->type == SL_MSG_NONE)
        return NULL;
    if (!(o = cJSON_CreateObject()))
        return NULL;
    /* Only what this stage added: each message carries every earlier stage's fields too. */
    add_str(o, "output", sl_msg_type_name(out->type));
    switch (out->type) {
    case SL_MSG_EXPORTED:
        add_str(o, "export_started_at", out->export_started_at);
        add_str(o, "export_ended_at", out->export_ended_at);
        break;
    case SL_MSG_COPIED:
        add_num(o, "objects", out->objects);
        add_num(o, "bytes", out->bytes);
        add_num(o, "removed", out->removed);
        add_num(o, "skipped", out->skipped);
        add_num(o, "tables", out->tables_total ? out->tables_total : (long long)out->ntables);
        add_num(o, "failed_tables",
                out->failed_tables_total ? out->failed_tables_total
                                         : (long long)out->nfailed_tables);
        break;
    case SL_MSG_CRAWLED:
        add_str(o, "crawl_status", out->crawl_status);
        add_str(o, "catalog_mode", out->catalog_mode);
        add_str(o, "glue_database", out->glue_database);
        add_num(o, "glue_tables",
                out->glue_tables_total ? out->glue_tables_total : (long long)out->nglue_tables);
        break;
    default:
        break;
    }
    return text_of(o);
}

void sl_wconsole_output(PGconn *pg, const char *stage, const sl_job *job, int fence)
{
    char err[SL_ERRLEN];
    char *text = NULL;

    if (!pg || job->out.type == SL_MSG_NONE)
        return;
    if (sl_msg_encode(&job->out, &text, NULL, err, sizeof(err)) ||
        sl_ledger_console_output(pg, job->in.run_id, stage, fence, text, err, sizeof(err)))
        sl_log_kv(SL_LOG_WARN, &job->log, NULL, "ledger output not recorded: %s", err);
    free(text);
}

void sl_wconsole_cleanup(sl_wconsole *c, PGconn *main_conn)
{
    char err[SL_ERRLEN];

    if (main_conn && c->worker_id[0] &&
        sl_ledger_console_stopped(main_conn, c->worker_id, err, sizeof(err)))
        sl_warn(NULL, "worker stop not recorded: %s", err);
    sl_pg_link_cleanup(&c->pg);
}
