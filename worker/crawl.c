/*
 * crawl.c - the crawl stage: runs the Glue crawler over the partitions the copy stage wrote
 * and waits for its result (input `copies`, output `crawls`).
 *
 * Glue runs one crawl per crawler at a time and reports a run only through GetCrawler, whose
 * LastCrawl describes the *previous* run until the current one ends. Two rules follow:
 *
 *   - StartCrawler may answer CrawlerRunningException (another copy, or an operator, started
 *     it). That run is waited for; when it ends, if it *started after this copy finished*
 *     (LastCrawl.StartTime >= copied_at) it crawled our files and its result is ours; else it
 *     may have missed them and the crawler is started again.
 *   - After our own StartCrawler, a READY crawler is only trusted when LastCrawl.StartTime is
 *     no earlier than our start: right after the call, GetCrawler can still show READY with
 *     the previous run's result (eventual consistency), which must not be mistaken for ours.
 *
 * Both comparisons allow CRAWL_CLOCK_SKEW between our clock and Glue's, in the direction that
 * can only cost a spare crawl (crawl_match.h): another run counts only from skew after the
 * copy ended, our own from skew before our start but never from before the copy ended.
 *
 * CATALOG_MODE=direct (or the cluster listed in CATALOG_DIRECT_CLUSTERS) runs no crawler: the
 * stage registers the tables itself from the export's own schema metadata (catalog.h), in
 * short steps: LIST the export's export_tables_info files (one ListObjectsV2 page a step),
 * INFO (one capped GetObject a step), DB (names, CreateDatabase), then TABLE (one
 * sl_catalog_register_table a step), then the ledger details (each table's schema version)
 * and the `crawled` message with catalog_mode "direct".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "catalog_register.h"
#include "config.h"
#include "crawl_match.h"
#include "crawl_plan.h"
#include "glue.h"
#include "kafka.h"
#include "log.h"
#include "partlock.h"
#include "s3.h"
#include "stage.h"
#include "worker.h"

/* Bounds of direct registration: the export_tables_info files read, and what the `crawled`
   message and the ledger details list (the counts stay exact). */
#define MAX_INFO_FILES 1000
#define MSG_MAX_GLUE_TABLES 500
#define DETAILS_MAX_TABLES 2000

typedef struct crawl_cfg {
    char *crawler_name;    /* template, "{cluster}" expanded */
    long long poll_ms;     /* GetCrawler interval */
    long long skew_ms;     /* allowed clock difference with Glue */
    long long timeout_ms;  /* give up on a run after this long */
    char *catalog_mode;    /* "crawler" | "direct" */
    char *direct_clusters; /* CATALOG_DIRECT_CLUSTERS: direct whatever catalog_mode; or NULL */
    char *catalog_db;      /* CATALOG_DATABASE template */
    char *catalog_table;   /* CATALOG_TABLE template */
} crawl_cfg;

static const sl_cfg_opt crawl_opts[] = {
    {"CRAWLER_NAME", SL_CFG_STRING, "snaplake-{cluster}", 0, -1, 0,
     offsetof(crawl_cfg, crawler_name),
     "Glue crawler to run; {cluster} is replaced by the run's cluster id"},
    {"CRAWL_POLL_INTERVAL", SL_CFG_DURATION, "60s", 100, 3600000, 0, offsetof(crawl_cfg, poll_ms),
     "how often GetCrawler is asked while a crawl runs"},
    {"CRAWL_CLOCK_SKEW", SL_CFG_DURATION, "2s", 0, 600000, 0, offsetof(crawl_cfg, skew_ms),
     "clock difference with Glue tolerated when matching a run to our start"},
    {"CRAWL_TIMEOUT", SL_CFG_DURATION, "6h", 1000, 172800000, 0, offsetof(crawl_cfg, timeout_ms),
     "a crawl still not finished after this fails the run"},
    {"CATALOG_MODE", SL_CFG_STRING, "crawler", 0, -1, 0, offsetof(crawl_cfg, catalog_mode),
     "crawler: run the Glue crawler; direct: register tables and partitions from the export's "
     "schema metadata, no crawler"},
    {"CATALOG_DIRECT_CLUSTERS", SL_CFG_STRING, "", 0, -1, 0, offsetof(crawl_cfg, direct_clusters),
     "comma-separated clusters registered directly even when CATALOG_MODE=crawler (to move "
     "cluster by cluster)"},
    {"CATALOG_DATABASE", SL_CFG_STRING, "snaplake_{cluster}", 0, -1, 0,
     offsetof(crawl_cfg, catalog_db), "direct mode: Glue database name template ({cluster})"},
    {"CATALOG_TABLE", SL_CFG_STRING, "{folder}", 0, -1, 0, offsetof(crawl_cfg, catalog_table),
     "direct mode: Glue table name template ({cluster} {database} {schema} {table} {folder}; "
     "{folder}, schema.table or table, is the name the crawler gives)"},
};

enum crawl_phase {
    PHASE_START,      /* call StartCrawler */
    PHASE_WAIT_OTHER, /* someone else's run is under way: wait, then judge it */
    PHASE_WAIT_OURS,  /* our run is under way: wait for READY with a fresh LastCrawl */
    PHASE_D_LIST,     /* direct: list the export_tables_info files */
    PHASE_D_INFO,     /* direct: read one of them */
    PHASE_D_DB,       /* direct: name the tables, CreateDatabase */
    PHASE_D_TABLE,    /* direct: register one table */
    PHASE_D_DONE      /* direct: ledger details, the output */
};

typedef struct crawl_job {
    enum crawl_phase phase;
    /* direct registration */
    char *list_prefix; /* <s3_prefix>/<export_task_id>/export_tables_info_ */
    char *token;       /* ListObjectsV2 continuation */
    char **info_keys;  /* export_tables_info keys */
    size_t ninfo, info_next;
    sl_cat_export ex; /* every table of every info file */
    size_t table_next;
    char db[SL_CATALOG_NAME_MAX + 1];
    cJSON *details; /* {"<glue table>": {"columns", "schema", ...}} */
    size_t ndetails;
    char **registered; /* glue names registered */
    size_t nregistered;
    sl_msg_table_failure *failed; /* complete but not registrable */
    size_t nfailed;
    char crawler[256];
    long long copied_ms;  /* when the copy stage finished (epoch ms) */
    long long started_ms; /* our StartCrawler time (epoch ms) */
    long long deadline;   /* monotonic ms */
} crawl_job;

static int crawl_init(struct sl_worker *w, void **ctx, char *err, size_t errlen)
{
    crawl_cfg *cfg = calloc(1, sizeof(*cfg));

    (void)w;
    if (!cfg)
        return sl_seterr(err, errlen, "crawl: out of memory");
    if (sl_config_load(crawl_opts, SL_ARRAY_LEN(crawl_opts), cfg, NULL, NULL, err, errlen) != 0) {
        free(cfg);
        return -1;
    }
    *ctx = cfg;
    return 0;
}

static void crawl_cleanup(struct sl_worker *w, void *ctx)
{
    (void)w;
    if (!ctx)
        return;
    sl_config_cleanup(crawl_opts, SL_ARRAY_LEN(crawl_opts), ctx);
    free(ctx);
}

/* ---- direct registration ------------------------------------------------------------------ */

static sl_step_result d_list(sl_aws *aws, sl_job *job, crawl_job *cj)
{
    sl_s3_list_opts lo = {0};
    sl_s3_list_page page = {0};
    sl_aws_error e;
    char what[256];
    sl_step_result r = SL_STEP_PENDING;

    lo.prefix = cj->list_prefix;
    lo.continuation_token = cj->token;
    if (sl_s3_list(aws, job->in.s3_bucket, &lo, &page, &e)) {
        snprintf(what, sizeof(what), "ListObjectsV2 s3://%s/%s", job->in.s3_bucket,
                 cj->list_prefix);
        return sl_job_fail_aws(job, what, &e);
    }
    for (size_t i = 0; i < page.count; i++) {
        const char *key = page.objects[i].key;
        size_t kl = strlen(key), pl = strlen(cj->list_prefix);
        char **g;
        /* Only the export root's own files (RDS writes none deeper with this name); a key
           outside the prefix asked for is not trusted either. */
        if (kl < pl + 5 || strncmp(key, cj->list_prefix, pl) != 0 ||
            strcmp(key + kl - 5, ".json") != 0 || strchr(key + pl, '/'))
            continue;
        if (cj->ninfo >= MAX_INFO_FILES) {
            r = sl_job_fail(job, "ExportTooLarge",
                            "export %s has more than %d export_tables_info files",
                            job->in.export_task_id, MAX_INFO_FILES);
            goto out;
        }
        if (!(g = realloc(cj->info_keys, (cj->ninfo + 1) * sizeof(*g))) ||
            !(g[cj->ninfo] = strdup(key))) {
            if (g)
                cj->info_keys = g;
            r = sl_job_fail(job, "ClientError", "crawl: out of memory");
            goto out;
        }
        cj->info_keys = g;
        cj->ninfo++;
    }
    free(cj->token);
    cj->token = NULL;
    if (page.truncated && page.next_token) {
        cj->token = page.next_token;
        page.next_token = NULL;
    } else if (cj->ninfo == 0) {
        r = sl_job_fail(job, "NoTablesInfo",
                        "direct catalog registration needs the export's export_tables_info, and "
                        "s3://%s/%s* has none",
                        job->in.s3_bucket, cj->list_prefix);
        goto out;
    } else {
        cj->phase = PHASE_D_INFO;
    }
    job->next_step_ms = sl_mono_ms();
out:
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* Moves the tables of *from to the end of cj->ex (from is left empty). */
static int take_tables(crawl_job *cj, sl_cat_export *from)
{
    sl_cat_table *g;

    if (!from->ntables)
        return 0;
    if (!(g = realloc(cj->ex.tables, (cj->ex.ntables + from->ntables) * sizeof(*g))))
        return -1;
    memcpy(g + cj->ex.ntables, from->tables, from->ntables * sizeof(*g));
    cj->ex.tables = g;
    cj->ex.ntables += from->ntables;
    free(from->tables);
    from->tables = NULL;
    from->ntables = 0;
    return 0;
}

static sl_step_result d_info(sl_aws *aws, sl_job *job, crawl_job *cj)
{
    const char *key = cj->info_keys[cj->info_next];
    sl_cat_export ex;
    sl_aws_error e;
    sl_buf b;
    char err[SL_ERRLEN], what[256];
    sl_step_result r = SL_STEP_PENDING;

    sl_buf_init(&b, SL_CATALOG_INFO_MAX);
    if (sl_s3_get(aws, job->in.s3_bucket, key, &b, &e)) {
        snprintf(what, sizeof(what), "GetObject s3://%s/%s", job->in.s3_bucket, key);
        r = sl_job_fail_aws(job, what, &e);
        goto out;
    }
    if (sl_catalog_parse_tables_info(b.data ? b.data : "", b.len, &ex, err, sizeof(err))) {
        r = sl_job_fail(job, "BadTablesInfo", "s3://%s/%s: %s", job->in.s3_bucket, key, err);
        goto out;
    }
    if (take_tables(cj, &ex)) {
        sl_catalog_export_cleanup(&ex);
        r = sl_job_fail(job, "ClientError", "crawl: out of memory");
        goto out;
    }
    sl_catalog_export_cleanup(&ex);
    if (++cj->info_next == cj->ninfo)
        cj->phase = PHASE_D_DB;
    job->next_step_ms = sl_mono_ms();
out:
    sl_buf_cleanup(&b);
    return r;
}

static sl_step_result d_db(const crawl_cfg *cfg, sl_aws *aws, sl_job *job, crawl_job *cj)
{
    sl_cat_name_vars nv = {.cluster = job->in.cluster};
    sl_aws_error e;
    char err[SL_ERRLEN];
    int created = 0;

    /* Two tables on one name would be one registered over the other: never. */
    if (sl_catalog_name_tables(&cj->ex, cfg->catalog_table, job->in.cluster, err, sizeof(err)))
        return sl_job_fail(job, "TableNameCollision", "CATALOG_TABLE: %s", err);
    if (sl_catalog_name(cfg->catalog_db, &nv, cj->db, sizeof(cj->db), err, sizeof(err)))
        return sl_job_fail(job, "BadConfig", "CATALOG_DATABASE: %s", err);
    if (sl_glue_create_database(aws, cj->db, &created, &e))
        return sl_job_fail_aws(job, "Glue CreateDatabase", &e);
    if (created)
        sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"glue_database", cj->db, NULL},
                  "Glue database created");
    cj->phase = PHASE_D_TABLE;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

static int add_failure(crawl_job *cj, const char *target, const char *reason)
{
    sl_msg_table_failure *g = realloc(cj->failed, (cj->nfailed + 1) * sizeof(*g));
    const char *dot = strchr(target, '.');
    size_t n = strlen(target) + 1;

    if (!g)
        return -1;
    cj->failed = g;
    g[cj->nfailed].table = malloc(n);
    g[cj->nfailed].reason = strdup(reason);
    cj->nfailed++;
    if (!g[cj->nfailed - 1].table || !g[cj->nfailed - 1].reason)
        return -1;
    /* The messages' `db/schema.table` form (the first '.' becomes '/'). */
    snprintf(g[cj->nfailed - 1].table, n, "%s", target);
    if (dot)
        g[cj->nfailed - 1].table[dot - target] = '/';
    return 0;
}

/* The table's schema version into the ledger details: columns, their digest, what changed. */
static int note_version(crawl_job *cj, const sl_cat_table *t, const sl_cat_register_result *res)
{
    char digest[17];
    cJSON *o;

    if (cj->ndetails >= DETAILS_MAX_TABLES)
        return 0;
    if (sl_crawl_plan_schema_digest(t->cols, t->ncols, digest, sizeof(digest)) ||
        !(o = cJSON_AddObjectToObject(cj->details, t->glue_name)) ||
        !cJSON_AddNumberToObject(o, "columns", (double)res->ncolumns) ||
        !cJSON_AddStringToObject(o, "schema", digest) ||
        !cJSON_AddBoolToObject(o, "created", res->table_created) ||
        !cJSON_AddNumberToObject(o, "columns_added", (double)res->columns_added) ||
        !cJSON_AddNumberToObject(o, "partitions_created", (double)res->partitions_created) ||
        !cJSON_AddNumberToObject(o, "partitions_updated", (double)res->partitions_updated))
        return -1;
    cj->ndetails++;
    return 0;
}

static sl_step_result d_table(sl_aws *aws, sl_job *job, crawl_job *cj)
{
    const sl_cat_table *t;
    sl_cat_register_result res = {0};
    sl_cat_partition part;
    sl_aws_error e;
    char *loc = NULL, *ploc = NULL;
    size_t n;
    sl_step_result r = SL_STEP_PENDING;

    /* Skip the tables the copy did not make a partition of: reported, not registered. */
    while (cj->table_next < cj->ex.ntables) {
        t = &cj->ex.tables[cj->table_next];
        if (t->complete && !t->error)
            break;
        /* Not COMPLETE: the copy stage's failed_tables has it already. */
        if (t->complete && add_failure(cj, t->target, t->error))
            return sl_job_fail(job, "ClientError", "crawl: out of memory");
        if (t->complete)
            sl_log_kv(SL_LOG_WARN, &job->log,
                      (const char *const[]){"table", t->target, "reason", t->error, NULL},
                      "table not registrable; reported as failed");
        cj->table_next++;
    }
    if (cj->table_next == cj->ex.ntables) {
        cj->phase = PHASE_D_DONE;
        job->next_step_ms = sl_mono_ms();
        return SL_STEP_PENDING;
    }
    t = &cj->ex.tables[cj->table_next];
    if (!(loc = sl_crawl_plan_location(job->in.lake_bucket, job->in.lake_prefix, job->in.cluster,
                                       t->target)))
        return sl_job_fail(job, "BadInput", "table %s: no lake location", t->target);
    n = strlen(loc) + strlen(job->in.date) + 8;
    if (!(ploc = malloc(n))) {
        r = sl_job_fail(job, "ClientError", "crawl: out of memory");
        goto out;
    }
    snprintf(ploc, n, "%sdate=%s/", loc, job->in.date);
    part.value = job->in.date;
    part.location = ploc;
    if (sl_catalog_register_table(aws, cj->db, t, loc, &part, 1, &res, &e)) {
        char what[256];
        snprintf(what, sizeof(what), "registering %.70s as %.70s.%.70s", t->target, cj->db,
                 t->glue_name);
        /* SchemaIncompatible, PartitionFailed (unless transient) and InvalidInput are
           permanent: the message names table, column and types. */
        r = sl_job_fail_aws(job, what, &e);
        goto out;
    }
    if (note_version(cj, t, &res)) {
        r = sl_job_fail(job, "ClientError", "crawl: out of memory");
        goto out;
    }
    {
        char **g = realloc(cj->registered, (cj->nregistered + 1) * sizeof(*g));
        if (!g || !(g[cj->nregistered] = strdup(t->glue_name))) {
            if (g)
                cj->registered = g;
            r = sl_job_fail(job, "ClientError", "crawl: out of memory");
            goto out;
        }
        cj->registered = g;
        cj->nregistered++;
    }
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"table", t->target, "glue_table", t->glue_name,
                                    res.table_created ? "created" : "existing",
                                    res.table_updated ? "columns appended" : "same columns", NULL},
              "table registered");
    cj->table_next++;
    job->next_step_ms = sl_mono_ms();
out:
    free(loc);
    free(ploc);
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static sl_step_result d_done(struct sl_worker *w, sl_job *job, crawl_job *cj)
{
    char started[32], msg[SL_ERRLEN], *text = NULL, *enc = NULL;
    cJSON *d = NULL;
    PGconn *pg = sl_worker_pg(w);
    sl_msg *o = &job->out;

    /* The schema versions first: the runtime's final write keeps what is merged here. */
    if (!pg) {
        job->next_step_ms = sl_mono_ms() + 1000; /* PostgreSQL unreachable: try again */
        return SL_STEP_PENDING;
    }
    if (!(d = cJSON_CreateObject()) || !cJSON_AddStringToObject(d, "catalog_mode", "direct") ||
        !cJSON_AddStringToObject(d, "glue_database", cj->db) ||
        !cJSON_AddNumberToObject(d, "tables_registered", (double)cj->nregistered) ||
        !cJSON_AddItemReferenceToObject(d, "schema_versions", cj->details) ||
        !(text = cJSON_PrintUnformatted(d))) {
        cJSON_Delete(d);
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    }
    cJSON_Delete(d);
    if (sl_partlock_ledger_details(pg, job->in.run_id, sl_stage_crawl.name, text, msg,
                                   sizeof(msg))) {
        free(text);
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"error", msg, NULL},
                  "ledger details not written; trying again");
        job->next_step_ms = sl_mono_ms() + 1000;
        return SL_STEP_PENDING;
    }
    free(text);

    if (sl_msg_format_time(cj->started_ms, started, sizeof(started)) != 0)
        return sl_job_fail(job, "ClientError", "crawl: clock out of range");
    if (sl_msg_copy(o, &job->in, msg, sizeof(msg)) != 0)
        return sl_job_fail(job, "ClientError", "%s", msg);
    o->type = SL_MSG_CRAWLED;
    o->catalog_mode = strdup("direct");
    o->glue_database = strdup(cj->db);
    o->crawl_started_at = strdup(started);
    o->crawl_status = strdup("SUCCEEDED");
    if (!o->catalog_mode || !o->glue_database || !o->crawl_started_at || !o->crawl_status)
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    if (cj->nregistered)
        qsort(cj->registered, cj->nregistered, sizeof(*cj->registered), cmp_str);
    o->glue_tables_total = (long long)cj->nregistered;
    o->nglue_tables = cj->nregistered < MSG_MAX_GLUE_TABLES ? cj->nregistered : MSG_MAX_GLUE_TABLES;
    o->glue_tables = cj->registered; /* moved; the rest beyond nglue_tables freed below */
    for (size_t i = o->nglue_tables; i < cj->nregistered; i++)
        free(cj->registered[i]);
    cj->registered = NULL;
    cj->nregistered = 0;
    if (cj->nfailed) {
        sl_msg_table_failure *g =
            realloc(o->failed_tables, (o->nfailed_tables + cj->nfailed) * sizeof(*g));
        if (!g)
            return sl_job_fail(job, "ClientError", "crawl: out of memory");
        memcpy(g + o->nfailed_tables, cj->failed, cj->nfailed * sizeof(*g));
        o->failed_tables = g;
        o->nfailed_tables += cj->nfailed;
        if (o->failed_tables_total)
            o->failed_tables_total += (long long)cj->nfailed;
        free(cj->failed);
        cj->failed = NULL;
        cj->nfailed = 0;
    }
    /* Keep the message under the cap: halve the table list until it fits. */
    for (;;) {
        size_t len = 0;
        if (sl_msg_encode(o, &enc, &len, msg, sizeof(msg)) == 0) {
            free(enc);
            break;
        }
        if (!o->nglue_tables)
            return sl_job_fail(job, "MessageTooLarge", "crawled message: %s", msg);
        for (size_t i = o->nglue_tables / 2; i < o->nglue_tables; i++)
            free(o->glue_tables[i]);
        o->nglue_tables /= 2;
    }
    return SL_STEP_DONE;
}

static sl_step_result direct_start(sl_job *job, crawl_job *cj)
{
    size_t plen = job->in.s3_prefix ? strlen(job->in.s3_prefix) : 0, n;

    if (!job->in.s3_bucket || !job->in.export_task_id || !job->in.lake_bucket)
        return sl_job_fail(job, "BadInput", "copied message without export or lake location");
    while (plen && job->in.s3_prefix[plen - 1] == '/')
        plen--;
    n = plen + strlen(job->in.export_task_id) + 32;
    if (!(cj->list_prefix = malloc(n)) || !(cj->details = cJSON_CreateObject()))
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    snprintf(cj->list_prefix, n, "%.*s%s%s/export_tables_info_", (int)plen,
             plen ? job->in.s3_prefix : "", plen ? "/" : "", job->in.export_task_id);
    cj->started_ms = sl_now_ms();
    cj->phase = PHASE_D_LIST;
    return SL_STEP_PENDING;
}

static sl_step_result direct_step(struct sl_worker *w, const crawl_cfg *cfg, sl_job *job,
                                  crawl_job *cj)
{
    sl_aws *aws = sl_worker_aws(w);

    switch (cj->phase) {
    case PHASE_D_LIST:
        return d_list(aws, job, cj);
    case PHASE_D_INFO:
        return d_info(aws, job, cj);
    case PHASE_D_DB:
        return d_db(cfg, aws, job, cj);
    case PHASE_D_TABLE:
        return d_table(aws, job, cj);
    case PHASE_D_DONE:
        return d_done(w, job, cj);
    default:
        return sl_job_fail(job, "ClientError", "crawl: bad phase %d", (int)cj->phase);
    }
}

static sl_step_result crawl_start(struct sl_worker *w, void *ctx, sl_job *job)
{
    crawl_cfg *cfg = ctx;
    crawl_job *cj;

    (void)w;
    cj = calloc(1, sizeof(*cj));
    if (!cj)
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    job->state = cj;
    if (sl_crawl_plan_direct(cfg->catalog_mode, cfg->direct_clusters, job->in.cluster)) {
        cj->deadline = sl_mono_ms() + cfg->timeout_ms;
        job->next_step_ms = sl_mono_ms();
        return direct_start(job, cj);
    }
    if (sl_glue_crawler_name(cfg->crawler_name, job->in.cluster, cj->crawler,
                             sizeof(cj->crawler)) != 0)
        return sl_job_fail(job, "BadConfig", "CRAWLER_NAME '%s' gives no usable crawler name",
                           cfg->crawler_name);
    if (!job->in.copied_at || sl_time_parse_ms(job->in.copied_at, &cj->copied_ms) != 0)
        return sl_job_fail(job, "BadInput", "copied_at '%s' is not an RFC 3339 UTC time",
                           job->in.copied_at ? job->in.copied_at : "");
    cj->phase = PHASE_START;
    cj->deadline = sl_mono_ms() + cfg->timeout_ms;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/* The run described by c ended and is ours (or covers our data): turn it into the outcome. */
static sl_step_result crawl_outcome(sl_job *job, const crawl_job *cj, const sl_glue_crawler *c)
{
    char started[32];
    char msg[SL_ERRLEN];

    if (strcmp(c->last_status, "SUCCEEDED") != 0) {
        const char *code =
            strcmp(c->last_status, "CANCELLED") == 0 ? "CrawlCancelled" : "CrawlFailed";
        snprintf(msg, sizeof(msg), "crawler %s run %s: %s", cj->crawler,
                 c->last_status[0] ? c->last_status : "(no status)",
                 c->last_error ? c->last_error : "no ErrorMessage");
        return sl_job_fail(job, code, "%s", msg);
    }
    if (sl_msg_format_time(c->last_start_ms, started, sizeof(started)) != 0)
        return sl_job_fail(job, "BadResponse", "crawler LastCrawl.StartTime out of range");
    if (sl_msg_copy(&job->out, &job->in, msg, sizeof(msg)) != 0)
        return sl_job_fail(job, "ClientError", "%s", msg);
    job->out.type = SL_MSG_CRAWLED;
    job->out.crawler = strdup(cj->crawler);
    job->out.crawl_started_at = strdup(started);
    job->out.crawl_status = strdup(c->last_status);
    job->out.catalog_mode = strdup("crawler");
    if (!job->out.crawler || !job->out.crawl_started_at || !job->out.crawl_status ||
        !job->out.catalog_mode)
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    return SL_STEP_DONE;
}

static sl_step_result crawl_step(struct sl_worker *w, void *ctx, sl_job *job)
{
    crawl_cfg *cfg = ctx;
    crawl_job *cj = job->state;
    sl_aws *aws = sl_worker_aws(w);
    sl_aws_error e;
    sl_glue_crawler c;
    sl_step_result r = SL_STEP_PENDING;

    if (sl_mono_ms() > cj->deadline)
        return sl_job_fail(job, "CrawlTimeout", "crawler %s did not finish within CRAWL_TIMEOUT",
                           cj->crawler[0] ? cj->crawler : "(direct registration)");
    if (cj->phase >= PHASE_D_LIST)
        return direct_step(w, cfg, job, cj);

    if (cj->phase == PHASE_START) {
        long long t = sl_now_ms();
        if (sl_glue_start_crawler(aws, cj->crawler, &e) == 0) {
            cj->started_ms = t;
            cj->phase = PHASE_WAIT_OURS;
            sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                      "crawler started");
        } else if (strcmp(e.code, "CrawlerRunningException") == 0) {
            cj->phase = PHASE_WAIT_OTHER;
            sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                      "crawler already running; waiting to see whether that run covers this copy");
        } else {
            return sl_job_fail_aws(job, NULL, &e);
        }
        job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
        return SL_STEP_PENDING;
    }

    sl_glue_crawler_init(&c);
    if (sl_glue_get_crawler(aws, cj->crawler, &c, &e) != 0) {
        /* The client already retried; a still-transient error is polled again later. */
        if (e.transient) {
            sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"error", e.code, NULL},
                      "GetCrawler failed, polling again");
            job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
            return SL_STEP_PENDING;
        }
        return sl_job_fail_aws(job, NULL, &e);
    }
    if (strcmp(c.state, "READY") != 0 || !c.has_last_crawl)
        goto wait;

    /* sl_crawl_match: a run begun before the copy ended never covers it, whatever the skew;
     * the skew only leans to crawling again, a spare run, never a missed file. */
    switch (sl_crawl_match(cj->phase == PHASE_WAIT_OURS, c.last_start_ms, cj->copied_ms,
                           cj->started_ms, cfg->skew_ms)) {
    case SL_CRAWL_TRUST:
        r = crawl_outcome(job, cj, &c);
        goto out;
    case SL_CRAWL_RESTART:
        sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                  cj->phase == PHASE_WAIT_OTHER
                      ? "the other run started before this copy finished; starting the crawler "
                        "again"
                      : "the last run cannot be told from one before this copy finished; "
                        "starting the crawler again");
        cj->phase = PHASE_START;
        job->next_step_ms = sl_mono_ms();
        goto out;
    case SL_CRAWL_WAIT:
        break;
    }
    /* PHASE_WAIT_OURS and READY with an older LastCrawl: our run is not visible yet. */
wait:
    job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
out:
    sl_glue_crawler_cleanup(&c);
    return r;
}

static void crawl_job_cleanup(struct sl_worker *w, void *ctx, sl_job *job)
{
    crawl_job *cj = job->state;

    (void)w;
    (void)ctx;
    if (!cj)
        return;
    free(cj->list_prefix);
    free(cj->token);
    for (size_t i = 0; i < cj->ninfo; i++)
        free(cj->info_keys[i]);
    free(cj->info_keys);
    sl_catalog_export_cleanup(&cj->ex);
    cJSON_Delete(cj->details);
    for (size_t i = 0; i < cj->nregistered; i++)
        free(cj->registered[i]);
    free(cj->registered);
    for (size_t i = 0; i < cj->nfailed; i++) {
        free(cj->failed[i].table);
        free(cj->failed[i].reason);
    }
    free(cj->failed);
    free(cj);
    job->state = NULL;
}

const sl_stage sl_stage_crawl = {
    .name = "crawl",
    .in_topic = SL_KAFKA_TOPIC_COPIES,
    .in_type = SL_MSG_COPIED,
    .out_topic = SL_KAFKA_TOPIC_CRAWLS,
    .cfg_opts = crawl_opts,
    .ncfg_opts = SL_ARRAY_LEN(crawl_opts),
    .cfg_size = sizeof(crawl_cfg),
    .init = crawl_init,
    .start = crawl_start,
    .step = crawl_step,
    .job_cleanup = crawl_job_cleanup,
    .tick = NULL,
    .cleanup = crawl_cleanup,
};
