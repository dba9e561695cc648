/*
 * retention.c - `snaplakectl retention [--dry-run]`.
 *
 * With LAKE_RETENTION_DAYS=N, every date= partition of a lake table that is more than N days
 * older than today's UTC date goes, except the table's newest partition (a table never
 * vanishes from the lake however old its last export is). Unset: nothing is touched.
 *
 * Order, per table: the Glue partitions first (BatchDeletePartition, 25 a call), then the
 * objects (DeleteObjects, 1,000 keys a call), and a partition whose catalog delete failed
 * keeps its objects. A crash between the two leaves orphan objects without a catalog
 * partition, which no query sees and the next run deletes; the other order would leave a
 * catalog partition pointing at nothing, which is what the old S3 lifecycle rule did. A re-run
 * is idempotent: a catalog partition already gone (EntityNotFoundException) counts as
 * removed, and a folder already empty has nothing to delete.
 *
 * Which tables: the lake listing gives `<prefix><cluster>/<db>/<table>/date=` folders. Their
 * Glue tables are the ones in CATALOG_DATABASE (the direct mode's template, `{cluster}`
 * expanded per cluster found) and RETENTION_CATALOG_DATABASES (e.g. the crawler's database)
 * whose StorageDescriptor.Location is the lake table's folder: matched by location, not by
 * name, so a crawler's tables are found too.
 *
 * Nothing outside LAKE_BUCKET/LAKE_PREFIX is deleted: every key is checked against its
 * partition folder (sl_retention_key_allowed) right before the DeleteObjects call.
 */
#include "ctl_retention.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_http.h"
#include "catalog_req.h"
#include "config.h"
#include "creds.h"
#include "glue.h"
#include "json.h"
#include "log.h"
#include "retention.h"
#include "s3.h"

typedef struct ret_cfg {
    char *log_level;
    char *lake_bucket;
    char *lake_prefix;
    long long days; /* 0 = unset */
    char *catalog_database;
    char *extra_databases;
    sl_aws_opts aws;
} ret_cfg;

static const sl_cfg_opt ret_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(ret_cfg, log_level),
     "debug | info | warn | error"},
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(ret_cfg, lake_bucket), "lake bucket"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(ret_cfg, lake_prefix), "lake prefix"},
    {"LAKE_RETENTION_DAYS", SL_CFG_INT, NULL, SL_RETENTION_DAYS_MIN, SL_RETENTION_DAYS_MAX, 0,
     offsetof(ret_cfg, days),
     "partitions more than N days old (by date=, UTC) are removed; unset = keep everything"},
    {"CATALOG_DATABASE", SL_CFG_STRING, "snaplake_{cluster}", 0, -1, 0,
     offsetof(ret_cfg, catalog_database),
     "Glue database of a cluster's tables; {cluster} is replaced by the cluster id"},
    {"RETENTION_CATALOG_DATABASES", SL_CFG_STRING, "", 0, -1, 0, offsetof(ret_cfg, extra_databases),
     "more Glue databases to look in (comma-separated, {cluster} expanded), e.g. the crawler's"},
    SL_AWS_CFG_OPTS(ret_cfg, aws),
};

/* Glue tables of one lake table; a bit per table in ret_part.cat. */
#define RET_MAX_GTABLES 32

typedef struct ret_part {
    char date[11];
    long days;
    long long objects, bytes;
    unsigned cat;      /* bit i: glue table i has this partition */
    unsigned cat_done; /* bit i: deleted from glue table i (or already gone) */
    unsigned char drop;
} ret_part;

typedef struct ret_gtable {
    char *db, *name;
} ret_gtable;

typedef struct ret_table {
    char *folder; /* "<prefix><cluster>/<db>/<table>" */
    char *cluster;
    ret_part *parts;
    size_t nparts, cap;
    ret_gtable gt[RET_MAX_GTABLES];
    size_t ngt;
} ret_table;

typedef struct ret_run {
    const ret_cfg *cfg;
    char prefix[1024];
    sl_aws *aws;
    ret_table *tables;
    size_t ntables, cap;
    long today;
    int dry_run;
    long long malformed, other;
    /* what was done, for the summary and the error line */
    long long removed_parts, removed_objects, removed_bytes, removed_cat;
} ret_run;

void ctl_retention_help(FILE *out)
{
    sl_config_help(out, "retention", "the retention command reads (no PostgreSQL)", ret_opts,
                   SL_ARRAY_LEN(ret_opts));
}

static void run_cleanup(ret_run *r)
{
    for (size_t i = 0; i < r->ntables; i++) {
        ret_table *t = &r->tables[i];
        free(t->folder);
        free(t->cluster);
        free(t->parts);
        for (size_t j = 0; j < t->ngt; j++) {
            free(t->gt[j].db);
            free(t->gt[j].name);
        }
    }
    free(r->tables);
    sl_aws_free(r->aws);
}

/* The table of `folder` (len bytes), added when new. NULL on OOM. */
static ret_table *table_of(ret_run *r, const char *folder, size_t len, const char *cluster,
                           size_t clen)
{
    ret_table *t;

    /* Listing order is key order, so a table's keys are adjacent: check the last first. */
    for (size_t i = r->ntables; i-- > 0;)
        if (strlen(r->tables[i].folder) == len && strncmp(r->tables[i].folder, folder, len) == 0)
            return &r->tables[i];
    if (r->ntables == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        ret_table *p = realloc(r->tables, ncap * sizeof(*p));
        if (!p)
            return NULL;
        r->tables = p;
        r->cap = ncap;
    }
    t = &r->tables[r->ntables];
    memset(t, 0, sizeof(*t));
    t->folder = strndup(folder, len);
    t->cluster = strndup(cluster, clen);
    if (!t->folder || !t->cluster) {
        free(t->folder);
        free(t->cluster);
        return NULL;
    }
    r->ntables++;
    return t;
}

static ret_part *part_of(ret_table *t, const char *date)
{
    ret_part *p;
    long days;

    for (size_t i = 0; i < t->nparts; i++)
        if (strcmp(t->parts[i].date, date) == 0)
            return &t->parts[i];
    if (sl_retention_date_days(date, &days) != 0)
        return NULL;
    if (t->nparts == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        ret_part *n = realloc(t->parts, ncap * sizeof(*n));
        if (!n)
            return NULL;
        t->parts = n;
        t->cap = ncap;
    }
    p = &t->parts[t->nparts++];
    memset(p, 0, sizeof(*p));
    snprintf(p->date, sizeof(p->date), "%s", date);
    p->days = days;
    return p;
}

/* Lists the whole prefix into r->tables. 0, or -1 after saying why on stderr. */
static int list_lake(ret_run *r)
{
    char *token = NULL, last_bad[1100] = "";
    int rc = -1;

    do {
        sl_s3_list_page page;
        sl_aws_error e;
        sl_s3_list_opts lo = {.prefix = r->prefix[0] ? r->prefix : NULL,
                              .continuation_token = token};

        memset(&page, 0, sizeof(page));
        if (sl_s3_list(r->aws, r->cfg->lake_bucket, &lo, &page, &e) != 0) {
            fprintf(stderr, "snaplakectl retention: ListObjectsV2 %s: %s: %s\n",
                    r->cfg->lake_bucket, e.code, e.message);
            goto out;
        }
        for (size_t i = 0; i < page.count; i++) {
            const char *key = page.objects[i].key;
            sl_retention_key k;
            sl_retention_kind kind = sl_retention_parse_key(r->prefix, key, &k);
            ret_table *t;
            ret_part *p;

            if (kind == SL_RETENTION_MALFORMED) {
                /* Said once per folder: the part of the key up to its date= segment's end. */
                const char *d = strstr(key + strlen(r->prefix), "/date=");
                const char *end = d ? strchr(d + 1, '/') : NULL;
                size_t n = end ? (size_t)(end - key) : strlen(key);
                r->malformed++;
                if (strlen(last_bad) != n || strncmp(last_bad, key, n) != 0) {
                    snprintf(last_bad, sizeof(last_bad), "%.*s", (int)n, key);
                    fprintf(stderr,
                            "snaplakectl retention: ignored %.300s: not a date=YYYY-MM-DD "
                            "folder\n",
                            last_bad);
                }
                continue;
            }
            if (kind != SL_RETENTION_PARTITION) {
                r->other++;
                continue;
            }
            t = table_of(r, key, k.table_len, key + k.cluster_off, k.cluster_len);
            p = t ? part_of(t, k.date) : NULL;
            if (!p) {
                fprintf(stderr, "snaplakectl retention: out of memory\n");
                sl_s3_list_page_cleanup(&page);
                goto out;
            }
            p->objects++;
            p->bytes += page.objects[i].size;
        }
        free(token);
        token = page.next_token ? strdup(page.next_token) : NULL;
        sl_s3_list_page_cleanup(&page);
    } while (token);
    rc = 0;
out:
    free(token);
    return rc;
}

/* Whether Glue's Location names the lake folder "s3://bucket/<folder>" (trailing '/' or not). */
static int location_is(const char *loc, const char *bucket, const char *folder)
{
    size_t blen = strlen(bucket), flen = strlen(folder), n;

    if (!loc || strncmp(loc, "s3://", 5) != 0)
        return 0;
    loc += 5;
    n = strlen(loc);
    while (n && loc[n - 1] == '/')
        n--;
    return n == blen + 1 + flen && strncmp(loc, bucket, blen) == 0 && loc[blen] == '/' &&
           strncmp(loc + blen + 1, folder, flen) == 0;
}

/* A single string partition key named "date": the layout's; anything else is not ours. */
static int date_partitioned(const cJSON *gt)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(gt, "PartitionKeys");
    const char *name;

    if (!cJSON_IsArray(keys) || cJSON_GetArraySize(keys) != 1)
        return 0;
    name = sl_json_str(cJSON_GetArrayItem(keys, 0), "Name");
    return name && strcmp(name, "date") == 0;
}

/* GetPartitions of glue table gi of t into t->parts (bit gi). 0, or -1 said on stderr. */
static int load_partitions(ret_run *r, ret_table *t, size_t gi)
{
    cJSON *parts = NULL, *p;
    sl_aws_error e;

    if (sl_glue_get_partitions(r->aws, t->gt[gi].db, t->gt[gi].name, &parts, &e) != 0) {
        fprintf(stderr, "snaplakectl retention: GetPartitions %s.%s: %s: %s\n", t->gt[gi].db,
                t->gt[gi].name, e.code, e.message);
        return -1;
    }
    cJSON_ArrayForEach(p, parts)
    {
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(p, "Values");
        const cJSON *v = cJSON_IsArray(vals) ? cJSON_GetArrayItem(vals, 0) : NULL;
        long days;
        ret_part *rp;

        if (!cJSON_IsString(v) || sl_retention_date_days(v->valuestring, &days) != 0) {
            fprintf(stderr,
                    "snaplakectl retention: ignored a partition of %s.%s: its value "
                    "is not a YYYY-MM-DD date\n",
                    t->gt[gi].db, t->gt[gi].name);
            continue;
        }
        rp = part_of(t, v->valuestring);
        if (!rp) {
            cJSON_Delete(parts);
            fprintf(stderr, "snaplakectl retention: out of memory\n");
            return -1;
        }
        rp->cat |= 1u << gi;
    }
    cJSON_Delete(parts);
    return 0;
}

/* Matches database db's tables to the lake tables by location. 0, or -1 said on stderr. */
static int load_database(ret_run *r, const char *db)
{
    cJSON *tables = NULL, *gt;
    sl_aws_error e;
    int rc = -1;

    if (sl_glue_get_tables(r->aws, db, &tables, &e) != 0) {
        if (strcmp(e.code, "EntityNotFoundException") == 0)
            return 0; /* no database: no catalog partitions to remove there */
        fprintf(stderr, "snaplakectl retention: GetTables %s: %s: %s\n", db, e.code, e.message);
        return -1;
    }
    cJSON_ArrayForEach(gt, tables)
    {
        const char *name = sl_json_str(gt, "Name");
        const char *loc =
            sl_json_str(cJSON_GetObjectItemCaseSensitive(gt, "StorageDescriptor"), "Location");

        if (!name)
            continue;
        for (size_t i = 0; i < r->ntables; i++) {
            ret_table *t = &r->tables[i];
            int seen = 0;

            if (!location_is(loc, r->cfg->lake_bucket, t->folder))
                continue;
            if (!date_partitioned(gt)) {
                fprintf(stderr,
                        "snaplakectl retention: %s.%s is at s3://%s/%s but not partitioned by "
                        "date alone: its catalog is left alone\n",
                        db, name, r->cfg->lake_bucket, t->folder);
                continue;
            }
            for (size_t j = 0; j < t->ngt; j++)
                seen |= strcmp(t->gt[j].db, db) == 0 && strcmp(t->gt[j].name, name) == 0;
            if (seen)
                continue;
            if (t->ngt == RET_MAX_GTABLES) {
                fprintf(stderr, "snaplakectl retention: over %d Glue tables at s3://%s/%s\n",
                        RET_MAX_GTABLES, r->cfg->lake_bucket, t->folder);
                goto out;
            }
            t->gt[t->ngt].db = strdup(db);
            t->gt[t->ngt].name = strdup(name);
            if (!t->gt[t->ngt].db || !t->gt[t->ngt].name) {
                free(t->gt[t->ngt].db);
                free(t->gt[t->ngt].name);
                fprintf(stderr, "snaplakectl retention: out of memory\n");
                goto out;
            }
            if (load_partitions(r, t, t->ngt++) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(tables);
    return rc;
}

/* Expands tmpl for cluster and loads it unless done already (names kept in *done). */
static int load_db_once(ret_run *r, const char *tmpl, const char *cluster, char ***done,
                        size_t *ndone)
{
    char db[256];
    char **d;

    if (sl_glue_crawler_name(tmpl, cluster, db, sizeof(db)) != 0) {
        fprintf(stderr, "snaplakectl retention: database template \"%.100s\" gives no name\n",
                tmpl);
        return -1;
    }
    for (size_t i = 0; i < *ndone; i++)
        if (strcmp((*done)[i], db) == 0)
            return 0;
    d = realloc(*done, (*ndone + 1) * sizeof(*d));
    if (!d)
        return -1;
    *done = d;
    if (!(d[*ndone] = strdup(db)))
        return -1;
    (*ndone)++;
    return load_database(r, db);
}

/* Every configured database of every cluster in the lake. 0, or -1 said on stderr. */
static int load_catalog(ret_run *r)
{
    char **done = NULL;
    size_t ndone = 0;
    int rc = -1;

    for (size_t i = 0; i < r->ntables; i++) {
        char extra[1024], *save = NULL, *tok;

        if (load_db_once(r, r->cfg->catalog_database, r->tables[i].cluster, &done, &ndone))
            goto out;
        snprintf(extra, sizeof(extra), "%s", r->cfg->extra_databases);
        for (tok = strtok_r(extra, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
            if (load_db_once(r, tok, r->tables[i].cluster, &done, &ndone))
                goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < ndone; i++)
        free(done[i]);
    free(done);
    return rc;
}

/* Marks the partitions to drop in every table; returns how many. */
static size_t plan(ret_run *r)
{
    size_t total = 0;

    for (size_t i = 0; i < r->ntables; i++) {
        ret_table *t = &r->tables[i];
        long *days = calloc(t->nparts + 1, sizeof(*days));
        unsigned char *data = calloc(t->nparts + 1, 1), *drop = calloc(t->nparts + 1, 1);

        if (!days || !data || !drop) {
            free(days);
            free(data);
            free(drop);
            return (size_t)-1;
        }
        for (size_t j = 0; j < t->nparts; j++) {
            days[j] = t->parts[j].days;
            data[j] = t->parts[j].objects > 0;
        }
        total += sl_retention_plan(days, data, t->nparts, r->today, (int)r->cfg->days, drop);
        for (size_t j = 0; j < t->nparts; j++)
            t->parts[j].drop = drop[j];
        free(days);
        free(data);
        free(drop);
    }
    return total;
}

/* The catalog side of one table: every dropped partition of every glue table, 25 a call. */
static int delete_catalog(ret_run *r, ret_table *t)
{
    int rc = 0;

    for (size_t g = 0; g < t->ngt; g++) {
        const char *vals[SL_GLUE_DELETE_PARTITIONS_MAX];
        ret_part *which[SL_GLUE_DELETE_PARTITIONS_MAX];
        size_t n = 0;

        for (size_t j = 0; j <= t->nparts; j++) {
            cJSON *resp = NULL;
            sl_cat_part_error *errs = NULL;
            size_t nerr = 0;
            sl_aws_error e;
            char perr[SL_ERRLEN];

            if (j < t->nparts && t->parts[j].drop && (t->parts[j].cat & (1u << g))) {
                vals[n] = t->parts[j].date;
                which[n++] = &t->parts[j];
            }
            if (n == 0 || (n < SL_GLUE_DELETE_PARTITIONS_MAX && j < t->nparts))
                continue;
            if (sl_glue_batch_delete_partition(r->aws, t->gt[g].db, t->gt[g].name, vals, n, &resp,
                                               &e) != 0) {
                fprintf(stderr, "snaplakectl retention: BatchDeletePartition %s.%s: %s: %s\n",
                        t->gt[g].db, t->gt[g].name, e.code, e.message);
                return -1;
            }
            if (sl_catalog_parse_partition_errors(resp, &errs, &nerr, perr, sizeof(perr)) != 0) {
                fprintf(stderr, "snaplakectl retention: BatchDeletePartition %s.%s: %s\n",
                        t->gt[g].db, t->gt[g].name, perr);
                cJSON_Delete(resp);
                return -1;
            }
            for (size_t x = 0; x < nerr; x++) {
                /* Already gone (an earlier, interrupted run): what we wanted. */
                if (strcmp(errs[x].code, "EntityNotFoundException") == 0)
                    continue;
                fprintf(stderr,
                        "snaplakectl retention: BatchDeletePartition %s.%s date=%.20s: "
                        "%s: %.300s\n",
                        t->gt[g].db, t->gt[g].name, errs[x].value, errs[x].code, errs[x].message);
                rc = -1;
            }
            for (size_t k = 0; k < n; k++) {
                int failed = 0;
                for (size_t x = 0; x < nerr; x++)
                    failed |= strcmp(errs[x].code, "EntityNotFoundException") != 0 &&
                              strcmp(which[k]->date, errs[x].value) == 0;
                if (!failed) {
                    which[k]->cat_done |= 1u << g;
                    r->removed_cat++;
                }
            }
            sl_catalog_part_errors_free(errs, nerr);
            cJSON_Delete(resp);
            n = 0;
        }
    }
    return rc;
}

/* Every object of one partition folder, listed afresh and checked key by key. */
static int delete_objects(ret_run *r, const char *folder, long long *objects, long long *bytes)
{
    char *token = NULL;
    int rc = -1;

    *objects = *bytes = 0;
    do {
        sl_s3_list_page page;
        sl_s3_delete_failure *fails = NULL;
        size_t nfails = 0;
        const char **keys;
        sl_aws_error e;
        sl_s3_list_opts lo = {.prefix = folder, .continuation_token = token};

        memset(&page, 0, sizeof(page));
        if (sl_s3_list(r->aws, r->cfg->lake_bucket, &lo, &page, &e) != 0) {
            fprintf(stderr, "snaplakectl retention: ListObjectsV2 %s/%s: %s: %s\n",
                    r->cfg->lake_bucket, folder, e.code, e.message);
            goto out;
        }
        keys = calloc(page.count + 1, sizeof(*keys));
        if (!keys) {
            sl_s3_list_page_cleanup(&page);
            goto out;
        }
        for (size_t i = 0; i < page.count; i++) {
            if (sl_retention_key_allowed(r->prefix, folder, page.objects[i].key) != 0) {
                fprintf(stderr,
                        "snaplakectl retention: refusing to delete %.300s: not an object "
                        "of %.300s\n",
                        page.objects[i].key, folder);
                free(keys);
                sl_s3_list_page_cleanup(&page);
                goto out;
            }
            keys[i] = page.objects[i].key;
        }
        /* A listing page holds at most 1,000 keys: one DeleteObjects call (SL_S3_DELETE_MAX). */
        if (page.count && sl_s3_delete_objects(r->aws, r->cfg->lake_bucket, keys, page.count, NULL,
                                               &fails, &nfails, &e) != 0) {
            fprintf(stderr, "snaplakectl retention: DeleteObjects %s: %s: %s\n", folder, e.code,
                    e.message);
            free(keys);
            sl_s3_list_page_cleanup(&page);
            goto out;
        }
        for (size_t i = 0; i < nfails; i++)
            fprintf(stderr, "snaplakectl retention: DeleteObjects %.300s: %s: %.200s\n",
                    fails[i].key, fails[i].code, fails[i].message);
        for (size_t i = 0; i < page.count; i++) {
            int failed = 0;
            for (size_t x = 0; x < nfails; x++)
                failed |= strcmp(fails[x].key, page.objects[i].key) == 0;
            if (!failed) {
                (*objects)++;
                *bytes += page.objects[i].size;
            }
        }
        sl_s3_delete_failures_free(fails, nfails);
        free(keys);
        free(token);
        token = page.next_token ? strdup(page.next_token) : NULL;
        sl_s3_list_page_cleanup(&page);
        if (nfails)
            goto out;
    } while (token);
    rc = 0;
out:
    r->removed_objects += *objects;
    r->removed_bytes += *bytes;
    free(token);
    return rc;
}

/* Prints the catalog partitions of p, "db.table,db.table" or "-". */
static void print_cat(const ret_table *t, const ret_part *p)
{
    int any = 0;

    for (size_t g = 0; g < t->ngt; g++)
        if (p->cat & (1u << g)) {
            printf("%s%s.%s", any ? "," : "", t->gt[g].db, t->gt[g].name);
            any = 1;
        }
    if (!any)
        printf("-");
}

/* Removes (or, dry, lists) the dropped partitions of every table. 0, or -1. */
static int apply(ret_run *r)
{
    for (size_t i = 0; i < r->ntables; i++) {
        ret_table *t = &r->tables[i];
        int cat_rc = 0;

        if (!r->dry_run)
            cat_rc = delete_catalog(r, t);
        for (size_t j = 0; j < t->nparts; j++) {
            ret_part *p = &t->parts[j];
            char folder[1200];
            long long objects = p->objects, bytes = p->bytes;

            if (!p->drop)
                continue;
            snprintf(folder, sizeof(folder), "%s/date=%s/", t->folder, p->date);
            if (!r->dry_run) {
                /* A catalog partition that is still there (its delete failed, or was never
                   tried after an earlier failure) keeps its objects: it must not point at
                   nothing. */
                if (p->cat & ~p->cat_done)
                    continue;
                if (delete_objects(r, folder, &objects, &bytes) != 0)
                    return -1;
                r->removed_parts++;
            }
            printf("%s s3://%s/%s objects=%lld bytes=%lld catalog=",
                   r->dry_run ? "would remove" : "removed", r->cfg->lake_bucket, folder, objects,
                   bytes);
            print_cat(t, p);
            printf("\n");
            fflush(stdout);
        }
        if (cat_rc != 0)
            return -1;
    }
    return 0;
}

/* Strict: only --dry-run (once) and "--". 0, or 2 said on stderr. */
static int parse_args(int argc, char **argv, int *dry_run)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0 && !*dry_run) {
            *dry_run = 1;
        } else if (strcmp(argv[i], "--") == 0 && i == argc - 1) {
            break;
        } else {
            fprintf(stderr,
                    "snaplakectl retention: unexpected argument \"%.64s\" (usage: snaplakectl "
                    "retention [--dry-run])\n",
                    argv[i]);
            return 2;
        }
    }
    return 0;
}

int ctl_retention_main(int argc, char **argv)
{
    ret_cfg cfg;
    ret_run r;
    sl_creds_provider *creds = NULL;
    sl_log_level level = SL_LOG_WARN;
    char err[4096] = "";
    char today[11], cutoff[11];
    size_t ndrop;
    int dry_run = 0, rc = 2;
    const char *p;

    memset(&cfg, 0, sizeof(cfg));
    memset(&r, 0, sizeof(r));
    if (parse_args(argc, argv, &dry_run) != 0)
        return 2;
    if (sl_config_load(ret_opts, SL_ARRAY_LEN(ret_opts), &cfg, NULL, NULL, err, sizeof(err)) != 0 ||
        sl_config_check(ret_opts, SL_ARRAY_LEN(ret_opts), sl_config_std_checks,
                        sl_config_nstd_checks, NULL, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "snaplakectl retention: bad configuration:\n%s\n", err);
        goto out;
    }
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    if (cfg.days == 0) {
        printf("retention: LAKE_RETENTION_DAYS is unset: keeping everything, nothing done\n");
        rc = 0;
        goto out;
    }
    p = cfg.lake_prefix;
    if (strlen(p) > 900) {
        fprintf(stderr, "snaplakectl retention: LAKE_PREFIX is too long\n");
        goto out;
    }
    snprintf(r.prefix, sizeof(r.prefix), "%s%s", p, p[0] && p[strlen(p) - 1] != '/' ? "/" : "");
    r.cfg = &cfg;
    r.dry_run = dry_run;
    /* time() counts seconds since the epoch in UTC: whole days of it are today's UTC date. */
    r.today = (long)(time(NULL) / 86400);
    sl_retention_days_date(r.today, today);
    sl_retention_days_date(r.today - (long)cfg.days, cutoff);
    rc = 1;
    creds = sl_creds_chain_new(&(sl_creds_opts){0}, &cfg.aws, err, sizeof(err));
    if (!creds || !(r.aws = sl_aws_new(&cfg.aws, sl_creds_signer(creds), err, sizeof(err)))) {
        fprintf(stderr, "snaplakectl retention: %s\n", err);
        goto out;
    }
    if (list_lake(&r) != 0 || load_catalog(&r) != 0)
        goto done;
    ndrop = plan(&r);
    if (ndrop == (size_t)-1) {
        fprintf(stderr, "snaplakectl retention: out of memory\n");
        goto done;
    }
    printf("retention: s3://%s/%s, %lld days, today %s (UTC): partitions dated before %s go, "
           "the newest of each table stays%s\n",
           cfg.lake_bucket, r.prefix, cfg.days, today, cutoff, dry_run ? " (dry run)" : "");
    if (apply(&r) != 0)
        goto done;
    if (dry_run)
        printf("retention: would remove %zu partitions of %zu tables; nothing changed\n", ndrop,
               r.ntables);
    rc = 0;
done:
    if (!dry_run)
        printf("retention: %s%lld partitions removed (%lld objects, %lld bytes, %lld catalog "
               "partitions) of %zu tables\n",
               rc ? "FAILED after " : "", r.removed_parts, r.removed_objects, r.removed_bytes,
               r.removed_cat, r.ntables);
    if (r.malformed)
        printf("retention: %lld objects in malformed date= folders ignored\n", r.malformed);
out:
    run_cleanup(&r);
    sl_creds_provider_free(creds);
    sl_config_cleanup(ret_opts, SL_ARRAY_LEN(ret_opts), &cfg);
    return rc;
}
