/*
 * bench_catalog.c - direct catalog registration of a 500-table export, printed as figures
 * (no thresholds).
 *
 *   build     export_tables_info of 500 tables x 10 columns parsed, named, and every
 *             CreateTable + BatchCreatePartition body built and serialised, per second
 *   direct    the 500 tables (one date partition each) registered one after the other with
 *             sl_catalog_register_table against MOTO_ENDPOINT (moto, signature checking on):
 *             wall time and Glue calls. Straight to moto, not through the stand-in, because
 *             the stand-in's own crawler writes its tables straight to moto too, and each
 *             request forwarded by the stand-in costs about 40 ms more (measured: 148 ms a
 *             table through it, 18 ms without), which would measure the proxy, not the path
 *   crawler   a stand-in crawler run over the same lake folders (500 table roots, one
 *             date= folder each): StartCrawler until GetCrawler says READY with this run's
 *             LastCrawl; the stand-in's run lasts its crawler_seconds (3 s by default) or
 *             until its catalog writes are done, whichever is later. A real crawler takes
 *             minutes; the stand-in only shows the floor.
 *   ratio     crawler / direct
 *
 * Without STANDIN_ENDPOINT and MOTO_ENDPOINT (source .stack/env) only `build` runs and the
 * others say skipped. Usage: bench_catalog [seconds-for-build] (default 2). Build: `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aws_http.h"
#include "catalog.h"
#include "catalog_req.h"
#include "catalog_register.h"
#include "creds.h"
#include "glue.h"
#include "s3.h"
#include "util.h"

#define NTABLES 500
#define NCOLS 10
#define DATE "2024-01-01"

static const char *const types[NCOLS] = {"int64",
                                         "int32",
                                         "int32 (INT_16)",
                                         "binary (UTF8)",
                                         "int64 (DECIMAL(12,2))",
                                         "int64 (TIMESTAMP_MICROS)",
                                         "int32 (DATE)",
                                         "boolean",
                                         "double",
                                         "binary"};

/* export_tables_info of NTABLES tables, into *out (caller frees). */
static int make_info(sl_buf *out)
{
    sl_buf_init(out, 0);
    if (sl_buf_appendf(out, "{\"perTableStatus\":[") != 0)
        return -1;
    for (int t = 0; t < NTABLES; t++) {
        if (sl_buf_appendf(out,
                           "%s{\"status\":\"COMPLETE\",\"target\":\"shop.public.t%03d\","
                           "\"schemaMetadata\":{\"originalTypeMappings\":[",
                           t ? "," : "", t) != 0)
            return -1;
        for (int c = 0; c < NCOLS; c++)
            if (sl_buf_appendf(out,
                               "%s{\"columnName\":\"c%d\",\"originalType\":\"x\","
                               "\"expectedExportedType\":\"%s\"}",
                               c ? "," : "", c, types[c]) != 0)
                return -1;
        if (sl_buf_appendf(out, "]}}") != 0)
            return -1;
    }
    return sl_buf_appendf(out, "]}");
}

static int load(const sl_buf *info, sl_cat_export *e)
{
    char err[SL_ERRLEN];

    if (sl_catalog_parse_tables_info(info->data, info->len, e, err, sizeof(err)) != 0 ||
        sl_catalog_name_tables(e, "{database}_{schema}_{table}", "bench", err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_catalog: %s\n", err);
        return -1;
    }
    return 0;
}

static int bench_build(const sl_buf *info, double budget_ms)
{
    long long t0 = sl_mono_ms(), n = 0, bytes = 0;
    struct rusage ru;

    while (sl_mono_ms() - t0 < budget_ms) {
        sl_cat_export e;
        if (load(info, &e) != 0)
            return 1;
        for (size_t i = 0; i < e.ntables; i++) {
            sl_cat_table *t = &e.tables[i];
            char loc[400], ploc[450];
            snprintf(loc, sizeof(loc), "s3://lake/bench/%s/", t->glue_name);
            snprintf(ploc, sizeof(ploc), "%sdate=" DATE "/", loc);
            sl_cat_partition p = {DATE, ploc};
            cJSON *a = sl_catalog_create_table_req("db", t->glue_name, loc, t->cols, t->ncols);
            cJSON *b =
                sl_catalog_batch_create_partition_req("db", t->glue_name, &p, 1, t->cols, t->ncols);
            char *sa = a ? cJSON_PrintUnformatted(a) : NULL;
            char *sb = b ? cJSON_PrintUnformatted(b) : NULL;
            if (!sa || !sb) {
                fprintf(stderr, "bench_catalog: out of memory\n");
                return 1;
            }
            bytes += (long long)(strlen(sa) + strlen(sb));
            cJSON_free(sa);
            cJSON_free(sb);
            cJSON_Delete(a);
            cJSON_Delete(b);
        }
        sl_catalog_export_cleanup(&e);
        n++;
    }
    getrusage(RUSAGE_SELF, &ru);
    long long ms = sl_mono_ms() - t0;
    printf("build    %10.1f exports/s  (%d tables each: %.2f ms per export, %lld request bytes "
           "per export, peak RSS %ld KiB)\n",
           ms ? (double)n * 1000.0 / (double)ms : 0.0, NTABLES, n ? (double)ms / (double)n : 0.0,
           n ? bytes / n : 0, ru.ru_maxrss);
    return 0;
}

typedef struct client {
    sl_creds_provider *creds;
    sl_aws *aws;
} client;

static int client_open(client *cl, const char *endpoint)
{
    sl_aws_opts o;
    sl_creds_opts co;
    char err[SL_ERRLEN];

    memset(cl, 0, sizeof(*cl));
    memset(&o, 0, sizeof(o));
    memset(&co, 0, sizeof(co));
    o.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    o.endpoint_url = (char *)endpoint;
    o.s3_path_style = 1;
    o.max_attempts = 3;
    o.retry_base_ms = 50;
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 120000;
    cl->creds = sl_creds_chain_new(&co, &o, err, sizeof(err));
    if (cl->creds)
        cl->aws = sl_aws_new(&o, sl_creds_signer(cl->creds), err, sizeof(err));
    if (!cl->aws) {
        fprintf(stderr, "bench_catalog: client: %s\n", err);
        sl_creds_provider_free(cl->creds);
        return -1;
    }
    return 0;
}

static void client_close(client *cl)
{
    sl_aws_free(cl->aws);
    sl_creds_provider_free(cl->creds);
}

static void fail(const char *what, const sl_aws_error *e)
{
    fprintf(stderr, "bench_catalog: %s: %s: %s\n", what, e->code, e->message);
}

/* Registers every table directly; returns the wall time in ms, or -1. */
static long long bench_direct(client *cl, const sl_buf *info, const char *db, const char *bucket)
{
    sl_cat_export e;
    sl_aws_error ae;
    int created, calls = 1;
    long long t0;

    if (load(info, &e) != 0)
        return -1;
    t0 = sl_mono_ms();
    if (sl_glue_create_database(cl->aws, db, &created, &ae) != 0) {
        fail("CreateDatabase", &ae);
        sl_catalog_export_cleanup(&e);
        return -1;
    }
    for (size_t i = 0; i < e.ntables; i++) {
        sl_cat_table *t = &e.tables[i];
        sl_cat_register_result r;
        char loc[400], ploc[450];
        snprintf(loc, sizeof(loc), "s3://%s/lake/direct/shop/public.%s/", bucket, t->table);
        snprintf(ploc, sizeof(ploc), "%sdate=" DATE "/", loc);
        sl_cat_partition p = {DATE, ploc};
        if (sl_catalog_register_table(cl->aws, db, t, loc, &p, 1, &r, &ae) != 0) {
            fail(t->target, &ae);
            sl_catalog_export_cleanup(&e);
            return -1;
        }
        calls += r.calls;
    }
    long long ms = sl_mono_ms() - t0;
    sl_catalog_export_cleanup(&e);
    printf("direct   %10lld ms  (%d tables, %d Glue calls, %.1f ms per table)\n", ms, NTABLES,
           calls, (double)ms / NTABLES);
    return ms;
}

static long long count_tables(client *cl, const char *db)
{
    cJSON *ts = NULL;
    sl_aws_error ae;
    long long n;

    if (sl_glue_get_tables(cl->aws, db, &ts, &ae) != 0) {
        fail("GetTables", &ae);
        return -1;
    }
    n = cJSON_GetArraySize(ts);
    cJSON_Delete(ts);
    return n;
}

/* One stand-in crawler run over the same folders (written as S3 objects); ms, or -1. */
static long long bench_crawler(client *cl, const char *db, const char *bucket, const char *name)
{
    static const char body[] = "PAR1 stand-in bytes PAR1";
    cJSON *req = NULL, *resp = NULL, *targets, *s3t;
    sl_aws_error ae;
    sl_glue_crawler c;
    char key[256], path[256];
    int created;
    long long t0, ms = -1;

    for (int t = 0; t < NTABLES; t++) {
        snprintf(key, sizeof(key),
                 "lake/crawl/shop/public.t%03d/date=" DATE "/part-00000.gz.parquet", t);
        if (sl_s3_put(cl->aws, bucket, key, body, sizeof(body) - 1, NULL, &ae) != 0) {
            fail("PutObject", &ae);
            return -1;
        }
    }
    if (sl_glue_create_database(cl->aws, db, &created, &ae) != 0) {
        fail("CreateDatabase", &ae);
        return -1;
    }
    snprintf(path, sizeof(path), "s3://%s/lake/crawl/", bucket);
    req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "Name", name) ||
        !cJSON_AddStringToObject(req, "Role", "arn:aws:iam::123456789012:role/bench-crawler") ||
        !cJSON_AddStringToObject(req, "DatabaseName", db) ||
        !(targets = cJSON_AddObjectToObject(req, "Targets")) ||
        !(s3t = cJSON_AddArrayToObject(targets, "S3Targets"))) {
        cJSON_Delete(req);
        return -1;
    }
    {
        cJSON *one = cJSON_CreateObject();
        if (!one || !cJSON_AddItemToArray(s3t, one) ||
            !cJSON_AddStringToObject(one, "Path", path)) {
            cJSON_Delete(req);
            return -1;
        }
    }
    if (sl_aws_json(cl->aws, "glue", "AWSGlue.CreateCrawler", req, &resp, &ae) != 0) {
        fail("CreateCrawler", &ae);
        goto out;
    }
    t0 = sl_mono_ms();
    if (sl_glue_start_crawler(cl->aws, name, &ae) != 0) {
        fail("StartCrawler", &ae);
        goto out;
    }
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (sl_glue_get_crawler(cl->aws, name, &c, &ae) != 0) {
            fail("GetCrawler", &ae);
            goto out;
        }
        int done = strcmp(c.state, "READY") == 0 && c.has_last_crawl;
        int ok = strcmp(c.last_status, "SUCCEEDED") == 0;
        sl_glue_crawler_cleanup(&c);
        if (done) {
            if (!ok) {
                fprintf(stderr, "bench_catalog: crawler run did not succeed\n");
                goto out;
            }
            break;
        }
        if (sl_mono_ms() - t0 > 600000) {
            fprintf(stderr, "bench_catalog: crawler still running after 10 min\n");
            goto out;
        }
        nanosleep(&ts, NULL); /* a benchmark polling a run, not a test waiting */
    }
    ms = sl_mono_ms() - t0;
    printf("crawler  %10lld ms  (stand-in crawler run, %lld tables in the catalog after it)\n", ms,
           count_tables(cl, db));
out:
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return ms;
}

int main(int argc, char **argv)
{
    double budget_ms = (argc > 1 ? atof(argv[1]) : 2.0) * 1000.0;
    const char *ep = getenv("STANDIN_ENDPOINT"), *moto = getenv("MOTO_ENDPOINT");
    char db[96], db2[96], bucket[96], crawler[96];
    sl_buf info;
    client cl, cm;
    long long direct, crawl;
    int rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* figures show as they come, even when cut short */
    if (budget_ms <= 0)
        budget_ms = 2000;
    if (make_info(&info) != 0) {
        fprintf(stderr, "bench_catalog: out of memory\n");
        return 1;
    }
    if (bench_build(&info, budget_ms) != 0)
        goto out;
    if (!ep || !*ep || !moto || !*moto) {
        printf("direct   skipped (STANDIN_ENDPOINT / MOTO_ENDPOINT not set: source .stack/env)\n");
        printf("crawler  skipped\n");
        rc = 0;
        goto out;
    }
    if (client_open(&cl, ep) != 0)
        goto out;
    if (client_open(&cm, moto) != 0) {
        client_close(&cl);
        goto out;
    }
    {
        sl_aws_error ae;
        long stamp = (long)time(NULL) % 1000000;
        snprintf(db, sizeof(db), "snaplake_bench_direct_%ld_%ld", (long)getpid(), stamp);
        snprintf(db2, sizeof(db2), "snaplake_bench_crawl_%ld_%ld", (long)getpid(), stamp);
        snprintf(bucket, sizeof(bucket), "snaplake-bench-%ld-%ld", (long)getpid(), stamp);
        snprintf(crawler, sizeof(crawler), "snaplake-bench-%ld-%ld", (long)getpid(), stamp);
        if (sl_s3_create_bucket(cl.aws, bucket, &ae) != 0) {
            fail("CreateBucket", &ae);
            client_close(&cl);
            client_close(&cm);
            goto out;
        }
    }
    direct = bench_direct(&cm, &info, db, bucket);
    crawl = direct >= 0 ? bench_crawler(&cl, db2, bucket, crawler) : -1;
    if (direct > 0 && crawl > 0)
        printf("ratio    %10.1fx  (crawler / direct)\n", (double)crawl / (double)direct);
    rc = direct >= 0 && crawl >= 0 ? 0 : 1;
    client_close(&cl);
    client_close(&cm);
out:
    sl_buf_cleanup(&info);
    return rc;
}
