/*
 * it_aws_moto.c - the AWS client core and the S3 module against moto (scripts/stack.sh).
 *
 * Environment (.stack/env): MOTO_ENDPOINT (signature checking ON; AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY are a moto IAM user's keys, so moto verifies our SigV4),
 * MOTO_NOAUTH_ENDPOINT (checking off), AWS_REGION. Credentials come through the real chain
 * (env provider). Without MOTO_ENDPOINT every test is skipped and the run still exits 0.
 *
 * Keys with '+', '%' or non-ASCII characters run against the no-auth moto only: moto's
 * signature check wrongly rejects even botocore's valid signatures for them; our signing of
 * such keys is covered by the differential test against botocore instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "aws_http.h"
#include "creds.h"
#include "s3.h"
#include "../unit/sl_test.h"
#include "xml.h"

static char run_id[32];

/* A client on `endpoint` with credentials from the chain (getter NULL = real environment). */
typedef struct client {
    sl_creds_provider *creds;
    sl_aws *aws;
} client;

static int client_open(client *cl, const char *endpoint, sl_cfg_getter getter, void *ud)
{
    sl_aws_opts o;
    sl_creds_opts co;
    char err[SL_ERRLEN];

    memset(cl, 0, sizeof(*cl));
    memset(&o, 0, sizeof(o));
    memset(&co, 0, sizeof(co));
    o.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    o.endpoint_url = (char *)endpoint;
    o.max_attempts = 3;
    o.retry_base_ms = 50;
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 60000;
    co.getenv_fn = getter;
    co.getenv_ud = ud;
    cl->creds = sl_creds_chain_new(&co, &o, err, sizeof(err));
    if (!cl->creds) {
        fprintf(stderr, "creds: %s\n", err);
        return -1;
    }
    cl->aws = sl_aws_new(&o, sl_creds_signer(cl->creds), err, sizeof(err));
    if (!cl->aws) {
        fprintf(stderr, "aws: %s\n", err);
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

static void show(const char *what, const sl_aws_error *e)
{
    fprintf(stderr, "%s: %s (%ld): %s [attempts %d]\n", what, e->code, e->http_status, e->message,
            e->attempts);
}

/* --- many requests on one multi handle ------------------------------------------------------ */

typedef int (*build_fn)(int i, sl_s3_req *r, void *ud);

/*
 * Runs n requests, at most `conc` at once, through sl_aws_xfer on our own multi handle;
 * transient failures are rebuilt (re-signed) and retried up to 3 times. Returns the number
 * that failed; *peak is the most transfers seen in flight at once.
 */
static int run_xfers(sl_aws *c, int n, int conc, build_fn build, void *ud, int *peak)
{
    CURLM *m = curl_multi_init();
    int *tries = calloc((size_t)n, sizeof(int));
    int next = 0, inflight = 0, finished = 0, failed = 0;
    int *queue = calloc((size_t)n, sizeof(int)); /* retries to start */
    int nqueue = 0;

    *peak = 0;
    if (!m || !tries || !queue) {
        failed = n;
        goto out;
    }
    while (finished < n) {
        int still = 0;
        CURLMsg *msg;
        int left;

        while (inflight < conc && (nqueue || next < n)) {
            int i = nqueue ? queue[--nqueue] : next++;
            sl_s3_req r;
            sl_aws_xfer *x = NULL;
            sl_aws_error e;
            if (build(i, &r, ud)) {
                failed++;
                finished++;
                continue;
            }
            if (sl_aws_xfer_new(c, &r.req, &x, &e)) {
                show("xfer_new", &e);
                sl_s3_req_cleanup(&r);
                failed++;
                finished++;
                continue;
            }
            sl_s3_req_cleanup(&r); /* the xfer holds its own deep copy */
            sl_aws_xfer_set_user(x, &tries[i]);
            curl_multi_add_handle(m, sl_aws_xfer_handle(x));
            inflight++;
        }
        if (inflight > *peak)
            *peak = inflight;
        curl_multi_perform(m, &still);
        while ((msg = curl_multi_info_read(m, &left))) {
            sl_aws_xfer *x = NULL;
            sl_aws_error e;
            int *t, idx;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(m, msg->easy_handle);
            inflight--;
            t = sl_aws_xfer_user(x);
            idx = (int)(t - tries);
            if (sl_aws_xfer_finish(x, msg->data.result, &e) == 0) {
                finished++;
            } else if (e.transient && ++*t < 3) {
                queue[nqueue++] = idx;
            } else {
                show("xfer", &e);
                failed++;
                finished++;
            }
            sl_aws_xfer_free(x);
        }
        if (finished < n)
            curl_multi_poll(m, NULL, 0, 500, NULL);
    }
out:
    curl_multi_cleanup(m);
    free(tries);
    free(queue);
    return failed;
}

typedef struct put_job {
    const char *bucket;
    const char *prefix;
    char bodies[1100][48];
    char keys[1100][64];
} put_job;

static int build_put(int i, sl_s3_req *r, void *ud)
{
    put_job *j = ud;
    char err[SL_ERRLEN];

    snprintf(j->keys[i], sizeof(j->keys[i]), "%sobj-%05d", j->prefix, i);
    snprintf(j->bodies[i], sizeof(j->bodies[i]), "body of object %d", i);
    return sl_s3_put_request(r, j->bucket, j->keys[i], j->bodies[i], strlen(j->bodies[i]), NULL,
                             err, sizeof(err));
}

typedef struct copy_job {
    const char *src_bucket, *dst_bucket;
    put_job *g_puts;
    char dst_keys[64][80];
} copy_job;

static int build_copy(int i, sl_s3_req *r, void *ud)
{
    copy_job *j = ud;
    char err[SL_ERRLEN];

    snprintf(j->dst_keys[i], sizeof(j->dst_keys[i]), "copied/%s", j->g_puts->keys[i]);
    return sl_s3_copy_request(r, j->src_bucket, j->g_puts->keys[i], j->dst_bucket, j->dst_keys[i],
                              NULL, err, sizeof(err));
}

/* --- RDS (query protocol) ----------------------------------------------------------------- */

static void test_rds_cluster_snapshot(void)
{
    client cl;
    sl_aws_error e;
    xmlDoc *doc = NULL;
    char cluster[64], snap[80];
    int found = 0;

    snprintf(cluster, sizeof(cluster), "it-aws-%s", run_id);
    snprintf(snap, sizeof(snap), "%s-snap", cluster);
    CHECK(client_open(&cl, getenv("MOTO_ENDPOINT"), NULL, NULL) == 0);
    {
        const char *const p[] = {"DBClusterIdentifier", cluster,          "Engine",
                                 "aurora-postgresql",   "MasterUsername", "snaplake",
                                 "MasterUserPassword",  "not-a-secret-1", NULL};
        int rc = sl_aws_query(cl.aws, "rds", "CreateDBCluster", "2014-10-31", p, &doc, &e);
        if (rc)
            show("CreateDBCluster", &e);
        xmlFreeDoc(doc);
        doc = NULL;
        if (rc)
            client_close(&cl);
        CHECK_INT(rc, 0);
    }
    {
        const char *const p[] = {"DBClusterIdentifier", cluster, "DBClusterSnapshotIdentifier",
                                 snap, NULL};
        int rc = sl_aws_query(cl.aws, "rds", "CreateDBClusterSnapshot", "2014-10-31", p, &doc, &e);
        if (rc)
            show("CreateDBClusterSnapshot", &e);
        xmlFreeDoc(doc);
        doc = NULL;
        if (rc)
            client_close(&cl);
        CHECK_INT(rc, 0);
    }
    {
        const char *const p[] = {"DBClusterIdentifier", cluster, NULL};
        int rc =
            sl_aws_query(cl.aws, "rds", "DescribeDBClusterSnapshots", "2014-10-31", p, &doc, &e);
        if (rc)
            show("DescribeDBClusterSnapshots", &e);
        client_close(&cl);
        CHECK_INT(rc, 0);
    }
    {
        xmlNode *list = sl_xml_find(sl_xml_root(doc), "DBClusterSnapshots");
        for (xmlNode *s = sl_xml_child(list, "DBClusterSnapshot"); s;
             s = sl_xml_next(s, "DBClusterSnapshot")) {
            char id[128], cid[128];
            (void)sl_xml_child_copy(s, "DBClusterSnapshotIdentifier", id, sizeof(id));
            (void)sl_xml_child_copy(s, "DBClusterIdentifier", cid, sizeof(cid));
            if (strcmp(id, snap) == 0 && strcmp(cid, cluster) == 0)
                found++;
        }
    }
    xmlFreeDoc(doc);
    CHECK_INT(found, 1);
}

/* --- S3 with signature checking on ----------------------------------------------------------- */

static put_job g_puts;
static copy_job g_copies;

static void test_s3_put_list_copy_get(void)
{
    client cl;
    sl_aws_error e;
    char bucket[64], bucket2[64];
    int peak = 0, failed, pages = 0;
    size_t total = 0;
    char *token = NULL;
    unsigned char *seen = calloc(1050, 1);
    int dup = 0, bad = 0;

    CHECK(seen != NULL);
    snprintf(bucket, sizeof(bucket), "it-aws-%s", run_id);
    snprintf(bucket2, sizeof(bucket2), "it-aws-%s-dst", run_id);
    if (client_open(&cl, getenv("MOTO_ENDPOINT"), NULL, NULL)) {
        free(seen);
        CHECK(0);
    }
    if (sl_s3_create_bucket(cl.aws, bucket, &e) || sl_s3_create_bucket(cl.aws, bucket2, &e)) {
        show("CreateBucket", &e);
        client_close(&cl);
        free(seen);
        CHECK(0);
    }

    /* 1,050 PutObjects, 50 at a time on our own multi handle. */
    g_puts.bucket = bucket;
    g_puts.prefix = "data/";
    failed = run_xfers(cl.aws, 1050, 50, build_put, &g_puts, &peak);
    if (failed) {
        client_close(&cl);
        free(seen);
    }
    CHECK_INT(failed, 0);
    fprintf(stderr, "put 1050 objects, peak %d transfers in flight\n", peak);

    /* ListObjectsV2 past 1,000 keys: two pages, every key exactly once. */
    for (;;) {
        sl_s3_list_opts lo;
        sl_s3_list_page pg;
        memset(&lo, 0, sizeof(lo));
        lo.prefix = "data/";
        lo.continuation_token = token;
        if (sl_s3_list(cl.aws, bucket, &lo, &pg, &e)) {
            show("ListObjectsV2", &e);
            bad = 1;
            break;
        }
        pages++;
        for (size_t i = 0; i < pg.count; i++) {
            int k = -1;
            if (sscanf(pg.objects[i].key, "data/obj-%d", &k) != 1 || k < 0 || k >= 1050 ||
                pg.objects[i].size != (long long)strlen(g_puts.bodies[k]))
                bad = 1;
            else if (seen[k]++)
                dup = 1;
        }
        total += pg.count;
        free(token);
        token = pg.truncated ? strdup(pg.next_token) : NULL;
        sl_s3_list_page_cleanup(&pg);
        if (!token)
            break;
    }
    free(seen);
    free(token);
    if (bad || dup || total != 1050 || pages != 2)
        client_close(&cl);
    CHECK_INT(bad, 0);
    CHECK_INT(dup, 0);
    CHECK_INT(total, 1050);
    CHECK_INT(pages, 2);

    /* One CopyObject to the other bucket, read back byte for byte, and HEAD agrees. */
    {
        char etag[80];
        sl_buf got;
        sl_s3_head_result h;
        int rc = sl_s3_copy(cl.aws, bucket, g_puts.keys[7], bucket2, "one/copy", NULL, etag,
                            sizeof(etag), &e);
        if (rc)
            show("CopyObject", &e);
        sl_buf_init(&got, 1024);
        if (rc == 0 && (rc = sl_s3_get(cl.aws, bucket2, "one/copy", &got, &e)))
            show("GetObject", &e);
        if (rc == 0 && (rc = sl_s3_head(cl.aws, bucket2, "one/copy", NULL, &h, &e)))
            show("HeadObject", &e);
        rc = rc || got.len != strlen(g_puts.bodies[7]) ||
             memcmp(got.data, g_puts.bodies[7], got.len) != 0 || h.size != (long long)got.len ||
             etag[0] != '"' || strcmp(etag, h.etag) != 0;
        sl_buf_cleanup(&got);
        if (rc)
            client_close(&cl);
        CHECK_INT(rc, 0);
    }

    /* 50 CopyObjects at once through xfers (the copy worker's path). */
    g_copies.src_bucket = bucket;
    g_copies.dst_bucket = bucket2;
    g_copies.g_puts = &g_puts;
    failed = run_xfers(cl.aws, 50, 50, build_copy, &g_copies, &peak);
    if (failed == 0) {
        sl_s3_list_opts lo;
        sl_s3_list_page pg;
        memset(&lo, 0, sizeof(lo));
        lo.prefix = "copied/";
        if (sl_s3_list(cl.aws, bucket2, &lo, &pg, &e) == 0) {
            total = pg.count;
            sl_s3_list_page_cleanup(&pg);
        } else {
            total = 0;
        }
    }
    client_close(&cl);
    CHECK_INT(failed, 0);
    CHECK_INT(total, 50);
    CHECK(peak > 1);
}

/* Sends one built request; the answer body into *body (heap, NULL when none) if asked. */
static int send_req(sl_aws *aws, sl_s3_req *r, char **body, sl_aws_error *e)
{
    sl_aws_response resp;
    int rc;

    sl_aws_response_init(&resp);
    rc = sl_aws_call(aws, &r->req, &resp, e);
    sl_s3_req_cleanup(r);
    if (rc == 0 && body)
        *body = strndup(resp.body.data ? resp.body.data : "", resp.body.len);
    sl_aws_response_cleanup(&resp);
    return rc;
}

/* CreateMultipartUpload, UploadPartCopy of each SL_S3_PART_MIN range, Complete. */
static int multipart_copy(sl_aws *aws, const char *bucket, const char *src, const char *dst,
                          long long size, sl_aws_error *e)
{
    sl_s3_part_range *ranges = NULL;
    size_t nparts = 0;
    char *etags[8] = {0}, *body = NULL, *upload_id = NULL, err[SL_ERRLEN];
    sl_s3_req r;
    int rc = -1;

    memset(e, 0, sizeof(*e));
    if (sl_s3_part_ranges(size, SL_S3_PART_MIN, &ranges, &nparts, err, sizeof(err)) || nparts > 8 ||
        sl_s3_create_multipart_request(&r, bucket, dst, NULL, "src-etag", err, sizeof(err)))
        goto out;
    if (send_req(aws, &r, &body, e) ||
        sl_s3_parse_upload_id(body, strlen(body), &upload_id, err, sizeof(err)))
        goto out;
    for (size_t i = 0; i < nparts; i++) {
        char etag[128];
        free(body);
        body = NULL;
        if (sl_s3_upload_part_copy_request(&r, bucket, src, bucket, dst, upload_id, (int)i + 1,
                                           &ranges[i], NULL, err, sizeof(err)) ||
            send_req(aws, &r, &body, e) ||
            sl_s3_copy_result_etag(body, strlen(body), etag, sizeof(etag)) ||
            !(etags[i] = strdup(etag)))
            goto out;
    }
    if (sl_s3_complete_multipart_request(&r, bucket, dst, upload_id, etags, nparts, NULL, err,
                                         sizeof(err)) ||
        send_req(aws, &r, NULL, e))
        goto out;
    rc = 0;
out:
    if (rc && upload_id &&
        sl_s3_abort_multipart_request(&r, bucket, dst, upload_id, NULL, err, sizeof(err)) == 0) {
        sl_aws_error ae;
        (void)send_req(aws, &r, NULL, &ae);
    }
    for (size_t i = 0; i < 8; i++)
        free(etags[i]);
    free(ranges);
    free(body);
    free(upload_id);
    return rc;
}

static void test_s3_multipart_copy_and_delete(void)
{
    client cl;
    sl_aws_error e;
    char bucket[64];
    size_t size = 6 * 1024 * 1024 + 123;
    char *data = malloc(size);
    sl_buf got;
    int rc;

    CHECK(data != NULL);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    snprintf(bucket, sizeof(bucket), "it-aws-%s-mpu", run_id);
    if (client_open(&cl, getenv("MOTO_ENDPOINT"), NULL, NULL)) {
        free(data);
        CHECK(0);
    }
    sl_buf_init(&got, 16 * 1024 * 1024);
    rc = sl_s3_create_bucket(cl.aws, bucket, &e);
    if (rc == 0)
        rc = sl_s3_put(cl.aws, bucket, "big/source", data, size, NULL, &e);
    /* Two parts: 5 MiB and the rest, via CreateMultipartUpload/UploadPartCopy/Complete built
       by the same request builders the copy stage's scheduler sends. */
    if (rc == 0)
        rc = multipart_copy(cl.aws, bucket, "big/source", "big/copy", (long long)size, &e);
    if (rc == 0)
        rc = sl_s3_get(cl.aws, bucket, "big/copy", &got, &e);
    if (rc)
        show("multipart", &e);
    rc = rc || got.len != size || memcmp(got.data, data, size) != 0;
    sl_buf_cleanup(&got);
    free(data);
    if (rc)
        client_close(&cl);
    CHECK_INT(rc, 0);

    /* DeleteObjects (Content-MD5 checked by S3) removes both; the listing is then empty. */
    {
        const char *keys[] = {"big/source", "big/copy"};
        sl_s3_delete_failure *f = NULL;
        size_t nf = 0;
        sl_s3_list_opts lo;
        sl_s3_list_page pg;
        rc = sl_s3_delete_objects(cl.aws, bucket, keys, 2, NULL, &f, &nf, &e);
        if (rc)
            show("DeleteObjects", &e);
        sl_s3_delete_failures_free(f, nf);
        memset(&lo, 0, sizeof(lo));
        if (rc == 0 && (rc = sl_s3_list(cl.aws, bucket, &lo, &pg, &e)) == 0) {
            rc = pg.count != 0;
            sl_s3_list_page_cleanup(&pg);
        }
        client_close(&cl);
        CHECK_INT(nf, 0);
        CHECK_INT(rc, 0);
    }
}

/* --- Glue (JSON protocol) ------------------------------------------------------------------ */

static void test_glue_crawler(void)
{
    client cl;
    sl_aws_error e;
    char db[64], crawler[64], path[96];
    cJSON *in, *out = NULL;
    const cJSON *c;
    int rc;

    snprintf(db, sizeof(db), "it_aws_%s", run_id);
    snprintf(crawler, sizeof(crawler), "it-aws-%s", run_id);
    snprintf(path, sizeof(path), "s3://it-aws-%s/lake/", run_id);
    CHECK(client_open(&cl, getenv("MOTO_ENDPOINT"), NULL, NULL) == 0);

    in = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "DatabaseInput"), "Name", db);
    rc = sl_aws_json(cl.aws, "glue", "AWSGlue.CreateDatabase", in, &out, &e);
    cJSON_Delete(in);
    cJSON_Delete(out);
    out = NULL;
    if (rc)
        show("CreateDatabase", &e);

    if (rc == 0) {
        cJSON *t;
        in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "Name", crawler);
        cJSON_AddStringToObject(in, "Role", "arn:aws:iam::123456789012:role/crawler");
        cJSON_AddStringToObject(in, "DatabaseName", db);
        t = cJSON_AddArrayToObject(cJSON_AddObjectToObject(in, "Targets"), "S3Targets");
        cJSON_AddItemToArray(t, cJSON_CreateObject());
        cJSON_AddStringToObject(cJSON_GetArrayItem(t, 0), "Path", path);
        rc = sl_aws_json(cl.aws, "glue", "AWSGlue.CreateCrawler", in, &out, &e);
        cJSON_Delete(in);
        cJSON_Delete(out);
        out = NULL;
        if (rc)
            show("CreateCrawler", &e);
    }
    if (rc == 0) {
        in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "Name", crawler);
        rc = sl_aws_json(cl.aws, "glue", "AWSGlue.GetCrawler", in, &out, &e);
        cJSON_Delete(in);
        if (rc)
            show("GetCrawler", &e);
    }
    /* A missing crawler is Glue's EntityNotFoundException, '#' prefix stripped. */
    if (rc == 0) {
        cJSON *none = NULL;
        in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "Name", "no-such-crawler-xyz");
        if (sl_aws_json(cl.aws, "glue", "AWSGlue.GetCrawler", in, &none, &e) == 0 ||
            strcmp(e.code, "EntityNotFoundException") != 0) {
            show("GetCrawler(missing)", &e);
            rc = -1;
        }
        cJSON_Delete(none);
        cJSON_Delete(in);
    }
    client_close(&cl);
    c = cJSON_GetObjectItemCaseSensitive(out, "Crawler");
    rc = rc || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "Name")) ||
         strcmp(cJSON_GetObjectItemCaseSensitive(c, "Name")->valuestring, crawler) != 0 ||
         !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "DatabaseName")) ||
         strcmp(cJSON_GetObjectItemCaseSensitive(c, "DatabaseName")->valuestring, db) != 0;
    cJSON_Delete(out);
    CHECK_INT(rc, 0);
}

/* --- failures ------------------------------------------------------------------------------ */

static const char *wrong_secret_env(const char *name, void *ud)
{
    (void)ud;
    if (strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
        return "wrongwrongwrongwrongwrongwrongwrongwrong";
    return getenv(name);
}

static void test_errors_surface_aws_code(void)
{
    client cl, bad;
    sl_aws_error e;
    sl_s3_list_page pg;
    sl_s3_head_result h;
    char bucket[64];
    int rc1, rc2, rc3;
    sl_aws_error e2, e3;

    snprintf(bucket, sizeof(bucket), "it-aws-%s-missing", run_id);
    CHECK(client_open(&cl, getenv("MOTO_ENDPOINT"), NULL, NULL) == 0);
    rc1 = sl_s3_list(cl.aws, bucket, NULL, &pg, &e);
    /* HEAD has no body: the 404 becomes NoSuchKey in sl_s3_head. */
    snprintf(bucket, sizeof(bucket), "it-aws-%s", run_id);
    rc2 = sl_s3_head(cl.aws, bucket, "no/such/key", NULL, &h, &e2);
    client_close(&cl);
    CHECK_INT(rc1, -1);
    CHECK_STR(e.code, "NoSuchBucket");
    CHECK(strstr(e.message, "does not exist") != NULL);
    CHECK_INT(e.http_status, 404);
    CHECK_INT(e.transient, 0);
    CHECK_INT(e.attempts, 1);
    CHECK_INT(rc2, -1);
    CHECK_STR(e2.code, "NoSuchKey");

    /* A wrong secret key: moto (checking on) refuses the signature. */
    CHECK(client_open(&bad, getenv("MOTO_ENDPOINT"), wrong_secret_env, NULL) == 0);
    rc3 = sl_s3_list(bad.aws, bucket, NULL, &pg, &e3);
    client_close(&bad);
    if (rc3 == 0)
        sl_s3_list_page_cleanup(&pg);
    show("wrong secret", &e3);
    CHECK_INT(rc3, -1);
    CHECK_STR(e3.code, "SignatureDoesNotMatch");
    CHECK_INT(e3.http_status, 403);
    CHECK_INT(e3.transient, 0);
}

/* --- awkward keys, checking off ------------------------------------------------------------- */

static void test_awkward_keys_noauth(void)
{
    static const char *const names[] = {
        "with space.gz.parquet",
        "plus+sign",
        "per%cent",
        "k=v/date=2024-01-01/x",
        "tilde~ok",
        "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
        "a+b c%20d=e~f\xc3\xb1",
        "q?x#y&z",
    };
    const char *ep = getenv("MOTO_NOAUTH_ENDPOINT");
    client cl;
    sl_aws_error e;
    char bucket[64];
    int rc = 0;

    if (!ep || !*ep) {
        fprintf(stderr, "MOTO_NOAUTH_ENDPOINT unset\n");
        CHECK(0);
    }
    snprintf(bucket, sizeof(bucket), "it-aws-%s-keys", run_id);
    CHECK(client_open(&cl, ep, NULL, NULL) == 0);
    rc = sl_s3_create_bucket(cl.aws, bucket, &e);
    for (size_t i = 0; rc == 0 && i < SL_ARRAY_LEN(names); i++) {
        char key[128], body[160];
        snprintf(key, sizeof(key), "src/%s", names[i]);
        snprintf(body, sizeof(body), "bytes of <%s>", names[i]);
        rc = sl_s3_put(cl.aws, bucket, key, body, strlen(body), NULL, &e);
    }
    if (rc)
        show("put", &e);
    /* The listing (encoding-type=url) gives back each exact key, once. */
    if (rc == 0) {
        sl_s3_list_opts lo;
        sl_s3_list_page pg;
        memset(&lo, 0, sizeof(lo));
        lo.prefix = "src/";
        rc = sl_s3_list(cl.aws, bucket, &lo, &pg, &e);
        if (rc)
            show("list", &e);
        if (rc == 0) {
            rc = pg.count != SL_ARRAY_LEN(names);
            for (size_t i = 0; rc == 0 && i < SL_ARRAY_LEN(names); i++) {
                int hits = 0;
                for (size_t k = 0; k < pg.count; k++)
                    hits += strncmp(pg.objects[k].key, "src/", 4) == 0 &&
                            strcmp(pg.objects[k].key + 4, names[i]) == 0;
                if (hits != 1) {
                    fprintf(stderr, "key %zu found %d times\n", i, hits);
                    rc = -1;
                }
            }
            sl_s3_list_page_cleanup(&pg);
        }
    }
    /* Copy each (x-amz-copy-source encoding) and get the copy: bytes intact. */
    for (size_t i = 0; rc == 0 && i < SL_ARRAY_LEN(names); i++) {
        char src[128], dst[128], body[160];
        sl_buf got;
        snprintf(src, sizeof(src), "src/%s", names[i]);
        snprintf(dst, sizeof(dst), "dst/%s", names[i]);
        snprintf(body, sizeof(body), "bytes of <%s>", names[i]);
        sl_buf_init(&got, 4096);
        rc = sl_s3_copy(cl.aws, bucket, src, bucket, dst, NULL, NULL, 0, &e);
        if (rc == 0)
            rc = sl_s3_get(cl.aws, bucket, dst, &got, &e);
        if (rc)
            show(names[i], &e);
        else if (got.len != strlen(body) || memcmp(got.data, body, got.len) != 0)
            rc = -1;
        sl_buf_cleanup(&got);
    }
    client_close(&cl);
    CHECK_INT(rc, 0);
}

static const sl_test tests[] = {
    SL_TEST(test_rds_cluster_snapshot),         SL_TEST(test_s3_put_list_copy_get),
    SL_TEST(test_s3_multipart_copy_and_delete), SL_TEST(test_glue_crawler),
    SL_TEST(test_errors_surface_aws_code),      SL_TEST(test_awkward_keys_noauth),
};

static int setup(void)
{
    /* Unique names per run: buckets, clusters and crawlers outlive the test in moto. */
    snprintf(run_id, sizeof(run_id), "%llx", sl_random_u64() & 0xffffffffffULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static void teardown(void)
{
    curl_global_cleanup();
}

SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "MOTO_ENDPOINT")
