/* glue.c - see glue.h. */
#include "glue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define GLUE_MAX_BYTES ((size_t)1024 * 1024)

void sl_glue_crawler_init(sl_glue_crawler *c)
{
    memset(c, 0, sizeof(*c));
}

void sl_glue_crawler_cleanup(sl_glue_crawler *c)
{
    if (!c)
        return;
    free(c->last_error);
    sl_glue_crawler_init(c);
}

static int copy_str(const cJSON *obj, const char *name, char *out, size_t outlen)
{
    const char *s = sl_json_str(obj, name);

    out[0] = '\0';
    if (!s)
        return -1;
    snprintf(out, outlen, "%s", s);
    return 0;
}

int sl_glue_parse_crawler(const cJSON *resp, sl_glue_crawler *out, char *err, size_t errlen)
{
    const cJSON *cr, *last, *st;
    const char *em;
    sl_glue_crawler c;

    sl_glue_crawler_init(&c);
    cr = cJSON_GetObjectItemCaseSensitive(resp, "Crawler");
    if (!cJSON_IsObject(cr))
        return sl_seterr(err, errlen, "GetCrawler: response has no Crawler object");
    /* Glue never answers an empty name or state; an empty one is a broken response. */
    if (copy_str(cr, "Name", c.name, sizeof(c.name)) != 0 || !c.name[0])
        return sl_seterr(err, errlen, "GetCrawler: Crawler.Name missing or empty");
    if (copy_str(cr, "State", c.state, sizeof(c.state)) != 0 || !c.state[0])
        return sl_seterr(err, errlen, "GetCrawler: Crawler.State missing or empty");
    last = cJSON_GetObjectItemCaseSensitive(cr, "LastCrawl");
    if (cJSON_IsObject(last)) {
        c.has_last_crawl = 1;
        copy_str(last, "Status", c.last_status, sizeof(c.last_status));
        copy_str(last, "LogGroup", c.last_log_group, sizeof(c.last_log_group));
        copy_str(last, "LogStream", c.last_log_stream, sizeof(c.last_log_stream));
        st = cJSON_GetObjectItemCaseSensitive(last, "StartTime");
        if (cJSON_IsNumber(st)) {
            double v = st->valuedouble;
            /* Epoch seconds with a fraction; reject what no real clock gives. */
            if (isfinite(v) && v > 0 && v < 253402300800.0)
                c.last_start_ms = (long long)llround(v * 1000.0);
        } else if (cJSON_IsString(st) && st->valuestring) {
            long long ms;
            if (sl_time_parse_ms(st->valuestring, &ms) == 0)
                c.last_start_ms = ms;
        }
        em = sl_json_str(last, "ErrorMessage");
        if (em) {
            c.last_error = strdup(em);
            if (!c.last_error)
                return sl_seterr(err, errlen, "GetCrawler: out of memory");
        }
    }
    *out = c;
    return 0;
}

int sl_glue_parse_crawler_bytes(const char *buf, size_t len, sl_glue_crawler *out, char *err,
                                size_t errlen)
{
    cJSON *j;
    int rc;

    if (len > GLUE_MAX_BYTES)
        return sl_seterr(err, errlen, "GetCrawler: response of %zu bytes is over the cap", len);
    j = cJSON_ParseWithLength(buf, len);
    if (!j)
        return sl_seterr(err, errlen, "GetCrawler: response is not JSON");
    rc = sl_glue_parse_crawler(j, out, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static cJSON *name_body(const char *name)
{
    cJSON *b = cJSON_CreateObject();

    if (b && !cJSON_AddStringToObject(b, "Name", name)) {
        cJSON_Delete(b);
        b = NULL;
    }
    return b;
}

static void oom(sl_aws_error *err, const char *op)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "ClientError");
    snprintf(err->message, sizeof(err->message), "%s: out of memory", op);
}

int sl_glue_get_crawler(sl_aws *aws, const char *name, sl_glue_crawler *out, sl_aws_error *err)
{
    cJSON *body = name_body(name), *resp = NULL;
    char perr[SL_ERRLEN];
    int rc = -1;

    if (!body) {
        oom(err, "GetCrawler");
        return -1;
    }
    if (sl_aws_json(aws, "glue", "AWSGlue.GetCrawler", body, &resp, err) != 0)
        goto out;
    if (sl_glue_parse_crawler(resp, out, perr, sizeof(perr)) != 0) {
        memset(err, 0, sizeof(*err));
        snprintf(err->code, sizeof(err->code), "ParseError");
        snprintf(err->message, sizeof(err->message), "%s", perr);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

int sl_glue_start_crawler(sl_aws *aws, const char *name, sl_aws_error *err)
{
    cJSON *body = name_body(name), *resp = NULL;
    int rc;

    if (!body) {
        oom(err, "StartCrawler");
        return -1;
    }
    rc = sl_aws_json(aws, "glue", "AWSGlue.StartCrawler", body, &resp, err);
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

int sl_glue_crawler_name(const char *tmpl, const char *cluster, char *out, size_t outlen)
{
    static const char marker[] = "{cluster}";
    const size_t mlen = sizeof(marker) - 1;
    size_t o = 0;

    if (!tmpl || !cluster || outlen == 0)
        return -1;
    for (const char *p = tmpl; *p;) {
        const char *src = p;
        size_t n = 1;
        if (strncmp(p, marker, mlen) == 0) {
            src = cluster;
            n = strlen(cluster);
            p += mlen;
        } else {
            p++;
        }
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

/* ============================================================================================
 * Data Catalog calls of direct registration
 * ========================================================================================== */

static void parse_fail(sl_aws_error *err, const char *op, const char *what)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "ParseError");
    snprintf(err->message, sizeof(err->message), "%s: %s", op, what);
}

/* A body {k1: v1, k2: v2} of strings (k2 NULL: one member). NULL on OOM. */
static cJSON *str_body(const char *k1, const char *v1, const char *k2, const char *v2)
{
    cJSON *b = cJSON_CreateObject();

    if (b && (!cJSON_AddStringToObject(b, k1, v1) || (k2 && !cJSON_AddStringToObject(b, k2, v2)))) {
        cJSON_Delete(b);
        b = NULL;
    }
    return b;
}

/* A call whose answer carries nothing the caller needs. */
static int call_void(sl_aws *aws, const char *target, const cJSON *body, sl_aws_error *err)
{
    cJSON *resp = NULL;
    int rc = sl_aws_json(aws, "glue", target, body, &resp, err);

    cJSON_Delete(resp);
    return rc;
}

int sl_glue_create_database(sl_aws *aws, const char *name, int *created, sl_aws_error *err)
{
    cJSON *body = cJSON_CreateObject(), *in;
    int rc = -1;

    *created = 0;
    if (!body || !(in = cJSON_AddObjectToObject(body, "DatabaseInput")) ||
        !cJSON_AddStringToObject(in, "Name", name)) {
        oom(err, "CreateDatabase");
        goto out;
    }
    if (call_void(aws, "AWSGlue.CreateDatabase", body, err) == 0) {
        *created = 1;
        rc = 0;
    } else if (strcmp(err->code, "AlreadyExistsException") == 0) {
        rc = 0; /* another worker, or an earlier run, made it: what we wanted */
    }
out:
    cJSON_Delete(body);
    return rc;
}

/*
 * Calls `target` and detaches member `member` (an object) of the answer into *out; an
 * EntityNotFoundException leaves *out NULL and is success.
 */
static int get_one(sl_aws *aws, const char *target, const char *op, cJSON *body, const char *member,
                   cJSON **out, sl_aws_error *err)
{
    cJSON *resp = NULL, *obj;
    int rc = -1;

    *out = NULL;
    if (!body) {
        oom(err, op);
        return -1;
    }
    if (sl_aws_json(aws, "glue", target, body, &resp, err) != 0) {
        if (strcmp(err->code, "EntityNotFoundException") == 0)
            rc = 0;
        goto out;
    }
    obj = cJSON_DetachItemFromObjectCaseSensitive(resp, member);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        parse_fail(err, op, "response has no object of that name");
        goto out;
    }
    *out = obj;
    rc = 0;
out:
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

int sl_glue_get_table(sl_aws *aws, const char *database, const char *name, cJSON **table,
                      sl_aws_error *err)
{
    return get_one(aws, "AWSGlue.GetTable", "GetTable",
                   str_body("DatabaseName", database, "Name", name), "Table", table, err);
}

int sl_glue_get_partition(sl_aws *aws, const char *database, const char *table, const char *value,
                          cJSON **partition, sl_aws_error *err)
{
    cJSON *body = str_body("DatabaseName", database, "TableName", table), *vals;

    if (body && (!(vals = cJSON_AddArrayToObject(body, "PartitionValues")) ||
                 !cJSON_AddItemToArray(vals, cJSON_CreateString(value)))) {
        cJSON_Delete(body);
        body = NULL;
    }
    return get_one(aws, "AWSGlue.GetPartition", "GetPartition", body, "Partition", partition, err);
}

int sl_glue_create_table(sl_aws *aws, const cJSON *req, sl_aws_error *err)
{
    return call_void(aws, "AWSGlue.CreateTable", req, err);
}

int sl_glue_update_table(sl_aws *aws, const cJSON *req, sl_aws_error *err)
{
    return call_void(aws, "AWSGlue.UpdateTable", req, err);
}

int sl_glue_update_partition(sl_aws *aws, const cJSON *req, sl_aws_error *err)
{
    return call_void(aws, "AWSGlue.UpdatePartition", req, err);
}

int sl_glue_batch_create_partition(sl_aws *aws, const cJSON *req, cJSON **resp, sl_aws_error *err)
{
    cJSON *r = NULL;

    *resp = NULL;
    if (sl_aws_json(aws, "glue", "AWSGlue.BatchCreatePartition", req, &r, err) != 0) {
        cJSON_Delete(r);
        return -1;
    }
    *resp = r;
    return 0;
}

/* A paginated Get*: calls target with body (+ NextToken) until no token, moving every item
 * of `list` into one array. Takes ownership of body. */
#define GLUE_MAX_PAGES 10000
static int get_all(sl_aws *aws, const char *target, const char *op, cJSON *body, const char *list,
                   cJSON **out, sl_aws_error *err)
{
    cJSON *all = cJSON_CreateArray(), *resp = NULL;
    char *token = NULL;
    int rc = -1;

    *out = NULL;
    if (!body || !all) {
        oom(err, op);
        goto out;
    }
    for (int page = 0;; page++) {
        cJSON *items, *it, *tok;
        if (page >= GLUE_MAX_PAGES) {
            parse_fail(err, op, "over 10000 pages: NextToken never ends");
            goto out;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, "NextToken");
        if (token && !cJSON_AddStringToObject(body, "NextToken", token)) {
            oom(err, op);
            goto out;
        }
        cJSON_Delete(resp);
        resp = NULL;
        if (sl_aws_json(aws, "glue", target, body, &resp, err) != 0)
            goto out;
        items = cJSON_GetObjectItemCaseSensitive(resp, list);
        if (items && !cJSON_IsArray(items)) {
            parse_fail(err, op, "the list member is not a list");
            goto out;
        }
        while (items && (it = cJSON_DetachItemFromArray(items, 0)) != NULL)
            cJSON_AddItemToArray(all, it);
        free(token);
        token = NULL;
        tok = cJSON_GetObjectItemCaseSensitive(resp, "NextToken");
        if (!cJSON_IsString(tok) || !tok->valuestring || !tok->valuestring[0])
            break;
        token = strdup(tok->valuestring);
        if (!token) {
            oom(err, op);
            goto out;
        }
    }
    *out = all;
    all = NULL;
    rc = 0;
out:
    free(token);
    cJSON_Delete(resp);
    cJSON_Delete(body);
    cJSON_Delete(all);
    return rc;
}

int sl_glue_get_partitions(sl_aws *aws, const char *database, const char *table, cJSON **partitions,
                           sl_aws_error *err)
{
    return get_all(aws, "AWSGlue.GetPartitions", "GetPartitions",
                   str_body("DatabaseName", database, "TableName", table), "Partitions", partitions,
                   err);
}

int sl_glue_get_tables(sl_aws *aws, const char *database, cJSON **tables, sl_aws_error *err)
{
    cJSON *body = str_body("DatabaseName", database, NULL, NULL);

    /* GetTables pages hold at most 100 tables (CatalogGetterPageSize). */
    if (body && !cJSON_AddNumberToObject(body, "MaxResults", 100)) {
        cJSON_Delete(body);
        body = NULL;
    }
    return get_all(aws, "AWSGlue.GetTables", "GetTables", body, "TableList", tables, err);
}

int sl_glue_batch_delete_partition(sl_aws *aws, const char *database, const char *table,
                                   const char *const *values, size_t n, cJSON **resp,
                                   sl_aws_error *err)
{
    cJSON *body = str_body("DatabaseName", database, "TableName", table), *list, *r = NULL;
    int rc = -1;

    *resp = NULL;
    if (n == 0 || n > SL_GLUE_DELETE_PARTITIONS_MAX) {
        memset(err, 0, sizeof(*err));
        snprintf(err->code, sizeof(err->code), "ClientError");
        snprintf(err->message, sizeof(err->message),
                 "BatchDeletePartition: %zu partitions (Glue takes 1..25 per call)", n);
        goto out;
    }
    if (!body || !(list = cJSON_AddArrayToObject(body, "PartitionsToDelete"))) {
        oom(err, "BatchDeletePartition");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *pv = cJSON_CreateObject(), *vals;
        if (!pv || !cJSON_AddItemToArray(list, pv) ||
            !(vals = cJSON_AddArrayToObject(pv, "Values")) ||
            !cJSON_AddItemToArray(vals, cJSON_CreateString(values[i]))) {
            oom(err, "BatchDeletePartition");
            goto out;
        }
    }
    if (sl_aws_json(aws, "glue", "AWSGlue.BatchDeletePartition", body, &r, err) != 0)
        goto out;
    *resp = r;
    r = NULL;
    rc = 0;
out:
    cJSON_Delete(r);
    cJSON_Delete(body);
    return rc;
}
