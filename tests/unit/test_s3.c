/*
 * test_s3.c - the pure half of the S3 module: key paths and copy sources for awkward keys,
 * listing decode, part ranges, response parsers (s3_parse.c) and request builders (s3_req.c).
 */
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "xml.h"
#include "sl_test.h"

static void test_key_path(void)
{
    static const struct {
        const char *key, *want;
    } cases[] = {
        {"plain.txt", "/plain.txt"},
        {"dir/sub/file.gz.parquet", "/dir/sub/file.gz.parquet"},
        {"with space", "/with%20space"},
        {"a+b", "/a%2Bb"},
        {"100%", "/100%25"},
        {"k=v", "/k%3Dv"},
        {"~tilde-_.", "/~tilde-_."},
        {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", "/caf%C3%A9/%E6%97%A5%E6%9C%AC"},
        {"q?x#y&z", "/q%3Fx%23y%26z"},
        {"a//b/../c", "/a//b/../c"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *p = sl_s3_key_path(cases[i].key);
        int ok = p && strcmp(p, cases[i].want) == 0;
        if (!ok)
            fprintf(stderr, "key %zu: got %s\n", i, p ? p : "(null)");
        free(p);
        CHECK(ok);
    }
    CHECK(sl_s3_key_path("") == NULL);
    CHECK(sl_s3_key_path(NULL) == NULL);
}

static void test_copy_source(void)
{
    char *s = sl_s3_copy_source("src-bkt", "dir/a b+c%=~\xc3\xa9");
    int ok = s && strcmp(s, "src-bkt/dir/a%20b%2Bc%25%3D~%C3%A9") == 0;
    free(s);
    CHECK(ok);
    CHECK(sl_s3_copy_source("", "k") == NULL);
    CHECK(sl_s3_copy_source("b", "") == NULL);
}

static void test_url_decode(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"a%20b", "a b"},
        {"a+b", "a b"}, /* S3 writes spaces as '+' */
        {"a%2Bb", "a+b"},
        {"100%25", "100%"},
        {"caf%C3%A9", "caf\xc3\xa9"},
        {"%e6%97%a5", "\xe6\x97\xa5"},
        {"", ""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *d = sl_s3_url_decode(cases[i].in);
        int ok = d && strcmp(d, cases[i].want) == 0;
        free(d);
        CHECK(ok);
    }
    CHECK(sl_s3_url_decode("bad%") == NULL);
    CHECK(sl_s3_url_decode("bad%2") == NULL);
    CHECK(sl_s3_url_decode("bad%zz") == NULL);
}

static void test_key_roundtrip(void)
{
    /* What we put under a path comes back from a url-encoded listing as the same bytes. */
    static const char *const keys[] = {"a b", "a+b", "50%", "x=y", "~", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < SL_ARRAY_LEN(keys); i++) {
        char *p = sl_s3_key_path(keys[i]);
        char *d = p ? sl_s3_url_decode(p + 1) : NULL;
        int ok = d && strcmp(d, keys[i]) == 0;
        free(p);
        free(d);
        CHECK(ok);
    }
}

static void test_part_ranges(void)
{
    const long long MiB = 1024 * 1024, GiB = 1024 * MiB;
    static const struct {
        long long size, part;
        int rc;
        size_t n;
        long long last_first, last_last;
    } cases[] = {
        {1, 0, 0, 1, 0, 0},
        {10 * 1024 * 1024, 5 * 1024 * 1024, 0, 2, 5 * 1024 * 1024, 10 * 1024 * 1024 - 1},
        {11 * 1024 * 1024, 5 * 1024 * 1024, 0, 3, 10 * 1024 * 1024, 11 * 1024 * 1024 - 1},
        /* Below the 5 MiB minimum: clamped up. */
        {12 * 1024 * 1024, 1024, 0, 3, 10 * 1024 * 1024, 12 * 1024 * 1024 - 1},
        {0, 5 * 1024 * 1024, -1, 0, 0, 0},
        {-5, 5 * 1024 * 1024, -1, 0, 0, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_s3_part_range *r = NULL;
        size_t n = 0;
        char err[SL_ERRLEN];
        int rc = sl_s3_part_ranges(cases[i].size, cases[i].part, &r, &n, err, sizeof(err));
        CHECK_INT(rc, cases[i].rc);
        if (rc == 0) {
            int ok = n == cases[i].n && r[0].first == 0 && r[n - 1].first == cases[i].last_first &&
                     r[n - 1].last == cases[i].last_last;
            for (size_t k = 1; k < n; k++)
                ok = ok && r[k].first == r[k - 1].last + 1;
            free(r);
            CHECK(ok);
        }
    }
    {
        /* 6 TiB at 100 MiB parts would be 62,915 parts: the part grows to fit 10,000. */
        sl_s3_part_range *r = NULL;
        size_t n = 0;
        char err[SL_ERRLEN];
        long long size = 6LL * 1024 * GiB;
        long long psize;
        CHECK_INT(sl_s3_part_ranges(size, 100 * MiB, &r, &n, err, sizeof(err)), 0);
        psize = r[0].last + 1;
        free(r);
        CHECK(n <= SL_S3_MAX_PARTS);
        CHECK_INT(psize % MiB, 0);
        CHECK(psize * (long long)n >= size);
        /* 5 TiB + 1 byte... no: beyond 10,000 x 5 GiB is refused. */
        CHECK_INT(sl_s3_part_ranges(10000LL * 5 * GiB + 1, 5 * GiB, &r, &n, err, sizeof(err)), -1);
    }
}

static const char list_page[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
    "<Prefix>p%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>p/a+b</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>5</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>p/x%2By%25%3D~%C3%A9</Key><Size>0</Size></Contents>"
    "<Contents><Key>p/big</Key><Size>6442450944</Size></Contents>"
    "</ListBucketResult>";

static void test_list_parse(void)
{
    sl_s3_list_page pg;
    char err[SL_ERRLEN];

    CHECK_INT(sl_s3_list_parse(list_page, strlen(list_page), 1, &pg, err, sizeof(err)), 0);
    CHECK_INT(pg.count, 3);
    CHECK_INT(pg.truncated, 1);
    CHECK_STR(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    CHECK_STR(pg.objects[0].key, "p/a b");
    CHECK_INT(pg.objects[0].size, 5);
    CHECK_STR(pg.objects[0].etag, "\"9b2cf535f27731c974343645a3985328\"");
    CHECK_STR(pg.objects[0].last_modified, "2024-01-02T03:04:05.000Z");
    CHECK_STR(pg.objects[1].key, "p/x+y%=~\xc3\xa9");
    CHECK_INT(pg.objects[2].size, 6442450944LL);
    sl_s3_list_page_cleanup(&pg);
    sl_s3_list_page_cleanup(&pg); /* idempotent */
}

/* A listing with delimiter=/ : the folders come as CommonPrefixes, encoded like the keys. */
static void test_list_parse_common_prefixes(void)
{
    static const char page[] =
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<EncodingType>url</EncodingType><Delimiter>%2F</Delimiter>"
        "<Contents><Key>r/export_info_x.json</Key><Size>2</Size></Contents>"
        "<CommonPrefixes><Prefix>r/db%20one/</Prefix></CommonPrefixes>"
        "<CommonPrefixes><Prefix>r/shop/</Prefix></CommonPrefixes>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>";
    static const char *const bad[] = {
        "<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
        "<ListBucketResult><CommonPrefixes><Prefix>a%</Prefix></CommonPrefixes>"
        "</ListBucketResult>",
    };
    sl_s3_list_page pg;
    char err[SL_ERRLEN];

    CHECK_INT(sl_s3_list_parse(page, strlen(page), 1, &pg, err, sizeof(err)), 0);
    CHECK_INT(pg.count, 1);
    CHECK_INT(pg.nprefixes, 2);
    CHECK_STR(pg.prefixes[0], "r/db one/");
    CHECK_STR(pg.prefixes[1], "r/shop/");
    sl_s3_list_page_cleanup(&pg);
    CHECK(pg.prefixes == NULL && pg.nprefixes == 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        CHECK_INT(sl_s3_list_parse(bad[i], strlen(bad[i]), 1, &pg, err, sizeof(err)), -1);
        CHECK(strncmp(err, "s3 list:", 8) == 0);
    }
}

/* What the pull reader takes of a page is what a tree walk took: the first Key, Size, ETag and
   LastModified of each Contents child of the root (all the text inside each), nothing deeper. */
static void test_list_parse_reads_like_the_tree(void)
{
    static const char page[] =
        "<ListBucketResult><Contents><Key>a<!-- c --><![CDATA[+b]]></Key><Key>second</Key>"
        "<Size>7</Size><Size>8</Size><ETag/><LastModified>2024-01-02T03:04:05.000Z"
        "</LastModified></Contents>"
        "<Wrapper><Contents><Key>nested, not an entry</Key><Size>1</Size></Contents></Wrapper>"
        "<Contents><Owner><Key>not this one</Key></Owner><Key>k2</Key><Size>0</Size></Contents>"
        "<IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated></ListBucketResult>";
    static const char *const bad[] = {
        /* AWS sends no DTD: one is refused, entities and all */
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY e \"x\">]><ListBucketResult>"
        "<Contents><Key>&e;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents/></ListBucketResult>",
        "<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>x",
    };
    sl_s3_list_page pg;
    char err[SL_ERRLEN];

    CHECK_INT(sl_s3_list_parse(page, strlen(page), 1, &pg, err, sizeof(err)), 0);
    CHECK_INT(pg.count, 2);
    CHECK_STR(pg.objects[0].key, "a b");
    CHECK_INT(pg.objects[0].size, 7);
    CHECK_STR(pg.objects[0].etag, "");
    CHECK_STR(pg.objects[0].last_modified, "2024-01-02T03:04:05.000Z");
    CHECK_STR(pg.objects[1].key, "k2");
    CHECK_INT(pg.truncated, 0);
    sl_s3_list_page_cleanup(&pg);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        CHECK_INT(sl_s3_list_parse(bad[i], strlen(bad[i]), 1, &pg, err, sizeof(err)), -1);
        CHECK(strncmp(err, "s3 list:", 8) == 0);
    }
}

static void test_list_parse_rejects(void)
{
    static const char *const bad[] = {
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k%</Key><Size>1</Size></Contents></ListBucketResult>",
        "<Error><Code>NoSuchBucket</Code></Error>",
        "<ListBucketResult>",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_s3_list_page pg;
        char err[SL_ERRLEN] = "";
        CHECK_INT(sl_s3_list_parse(bad[i], strlen(bad[i]), 1, &pg, err, sizeof(err)), -1);
        CHECK(strncmp(err, "s3 list:", 8) == 0);
    }
    {
        const char *empty = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        sl_s3_list_page pg;
        char err[SL_ERRLEN];
        CHECK_INT(sl_s3_list_parse(empty, strlen(empty), 1, &pg, err, sizeof(err)), 0);
        CHECK_INT(pg.count, 0);
        CHECK_INT(pg.truncated, 0);
        CHECK(pg.next_token == NULL);
        sl_s3_list_page_cleanup(&pg);
    }
}

static void test_delete_result_parse(void)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Error><Key>a &amp; b</Key><Code>AccessDenied</Code><Message>Access Denied</Message>"
        "</Error><Error><Key>c</Key><Code>InternalError</Code><Message>oops</Message></Error>"
        "</DeleteResult>";
    sl_s3_delete_failure *f = NULL;
    size_t n = 9;
    char err[SL_ERRLEN];
    int ok;

    CHECK_INT(sl_s3_delete_result_parse(body, strlen(body), &f, &n, err, sizeof(err)), 0);
    ok = n == 2 && strcmp(f[0].key, "a & b") == 0 && strcmp(f[0].code, "AccessDenied") == 0 &&
         strcmp(f[1].message, "oops") == 0;
    sl_s3_delete_failures_free(f, n);
    CHECK(ok);
    CHECK_INT(sl_s3_delete_result_parse("<DeleteResult/>", 15, &f, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 0);
    sl_s3_delete_failures_free(f, n);
    CHECK_INT(sl_s3_delete_result_parse("<Other/>", 8, &f, &n, err, sizeof(err)), -1);
}

static void test_copy_result_etag(void)
{
    static const char body[] = "<CopyObjectResult><LastModified>2024-01-01T00:00:00Z"
                               "</LastModified><ETag>\"abc\"</ETag></CopyObjectResult>";
    char etag[80];

    CHECK_INT(sl_s3_copy_result_etag(body, strlen(body), etag, sizeof(etag)), 0);
    CHECK_STR(etag, "\"abc\"");
    CHECK_INT(sl_s3_copy_result_etag("<CopyPartResult/>", 17, etag, sizeof(etag)), -1);
}

static const char *hdr(const sl_s3_req *r, const char *name)
{
    for (size_t i = 0; i < r->req.nheaders; i++)
        if (strcmp(r->req.headers[i].name, name) == 0)
            return r->req.headers[i].value;
    return NULL;
}

static void test_request_builders(void)
{
    sl_s3_req r;
    sl_s3_write_opts o = {"arn:aws:kms:us-east-1:111122223333:key/k1", "222233334444",
                          "111122223333", "application/vnd.apache.parquet"};
    sl_s3_part_range range = {5242880, 10485759};
    char err[SL_ERRLEN];

    CHECK_INT(sl_s3_copy_request(&r, "src", "in/a b+c.gz.parquet", "dst", "out/date=2024-01-01/x y",
                                 &o, err, sizeof(err)),
              0);
    CHECK_STR(r.req.service, "s3");
    CHECK_STR(r.req.method, "PUT");
    CHECK_STR(r.req.bucket, "dst");
    CHECK_STR(r.req.path, "/out/date%3D2024-01-01/x%20y");
    CHECK_STR(hdr(&r, "x-amz-copy-source"), "src/in/a%20b%2Bc.gz.parquet");
    CHECK_STR(hdr(&r, "x-amz-server-side-encryption"), "aws:kms");
    CHECK_STR(hdr(&r, "x-amz-server-side-encryption-aws-kms-key-id"), o.kms_key_id);
    CHECK_STR(hdr(&r, "x-amz-expected-bucket-owner"), "222233334444");
    CHECK_STR(hdr(&r, "x-amz-source-expected-bucket-owner"), "111122223333");
    /* A content type replaces the source's metadata; without one the copy keeps it. */
    CHECK_STR(hdr(&r, "Content-Type"), "application/vnd.apache.parquet");
    CHECK_STR(hdr(&r, "x-amz-metadata-directive"), "REPLACE");
    sl_s3_req_cleanup(&r);
    o.content_type = NULL;
    CHECK_INT(sl_s3_copy_request(&r, "src", "k", "dst", "k2", &o, err, sizeof(err)), 0);
    CHECK(hdr(&r, "Content-Type") == NULL && hdr(&r, "x-amz-metadata-directive") == NULL);
    sl_s3_req_cleanup(&r);
    o.content_type = "application/vnd.apache.parquet";

    CHECK_INT(sl_s3_upload_part_copy_request(&r, "src", "k", "dst", "k2", "up/id+1", 2, &range, &o,
                                             err, sizeof(err)),
              0);
    CHECK_STR(r.req.query, "partNumber=2&uploadId=up%2Fid%2B1");
    CHECK_STR(hdr(&r, "x-amz-copy-source-range"), "bytes=5242880-10485759");
    CHECK(hdr(&r, "x-amz-server-side-encryption") == NULL);
    CHECK(hdr(&r, "Content-Type") == NULL && hdr(&r, "x-amz-metadata-directive") == NULL);
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_upload_part_copy_request(&r, "src", "k", "dst", "k2", "id", 10001, &range, NULL,
                                             err, sizeof(err)),
              -1);

    CHECK_INT(sl_s3_put_request(&r, "b", "k", "xy", 2, NULL, err, sizeof(err)), 0);
    CHECK_INT(r.req.body_len, 2);
    CHECK_INT(r.req.nheaders, 0);
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_put_request(&r, "b", "", "xy", 2, NULL, err, sizeof(err)), -1);
}

/* The builders the copy scheduler sends without blocking: multipart, listing, DeleteObjects. */
static void test_scheduled_request_builders(void)
{
    sl_s3_req r;
    sl_s3_write_opts o = {"k1", "222233334444", NULL, "application/vnd.apache.parquet"};
    sl_s3_list_opts lo = {"a b/", "tok+/=", NULL, 0, "999988887777", NULL};
    char *etags[2] = {"\"e1\"", "\"e2\""};
    const char *keys[2] = {"lake/x", "lake/y"};
    const char *bad[1] = {"ctl\x01"};
    char err[SL_ERRLEN];

    CHECK_INT(sl_s3_create_multipart_request(&r, "dst", "big/x", &o, "abc", err, sizeof(err)), 0);
    CHECK_STR(r.req.method, "POST");
    CHECK_STR(r.req.query, "uploads=");
    CHECK_STR(hdr(&r, "x-amz-server-side-encryption"), "aws:kms");
    CHECK_STR(hdr(&r, SL_S3_META_SOURCE_ETAG), "abc");
    CHECK_STR(hdr(&r, "x-amz-expected-bucket-owner"), "222233334444");
    CHECK_STR(hdr(&r, "Content-Type"), "application/vnd.apache.parquet");
    sl_s3_req_cleanup(&r);

    CHECK_INT(sl_s3_complete_multipart_request(&r, "dst", "big/x", "id/1", etags, 2, NULL, err,
                                               sizeof(err)),
              0);
    CHECK_STR(r.req.method, "POST");
    CHECK_STR(r.req.query, "uploadId=id%2F1");
    CHECK(r.req.body && strstr(r.req.body, "<PartNumber>2</PartNumber>") != NULL);
    CHECK_INT(r.req.body_len, strlen(r.req.body));
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_complete_multipart_request(&r, "dst", "big/x", "id", etags, 0, NULL, err,
                                               sizeof(err)),
              -1);
    sl_s3_req_cleanup(&r);

    CHECK_INT(sl_s3_abort_multipart_request(&r, "dst", "big/x", "id", "1", err, sizeof(err)), 0);
    CHECK_STR(r.req.method, "DELETE");
    CHECK_STR(r.req.query, "uploadId=id");
    CHECK(r.req.body == NULL);
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_abort_multipart_request(&r, "dst", "big/x", "", NULL, err, sizeof(err)), -1);

    CHECK_INT(
        sl_s3_get_request(&r, "b", "e/export_tables_info_x.json", "999988887777", err, sizeof(err)),
        0);
    CHECK_STR(r.req.method, "GET");
    CHECK_STR(r.req.path, "/e/export_tables_info_x.json");
    CHECK_STR(hdr(&r, "x-amz-expected-bucket-owner"), "999988887777");
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_get_request(&r, "b", "", NULL, err, sizeof(err)), -1);

    CHECK_INT(
        sl_s3_head_request(&r, "b", "l/date=d/big.gz.parquet", "999988887777", err, sizeof(err)),
        0);
    CHECK_STR(r.req.method, "HEAD");
    CHECK_STR(r.req.path, "/l/date%3Dd/big.gz.parquet");
    CHECK_STR(hdr(&r, "x-amz-expected-bucket-owner"), "999988887777");
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_head_request(&r, "b", "", NULL, err, sizeof(err)), -1);

    CHECK_INT(sl_s3_list_request(&r, "b", &lo, err, sizeof(err)), 0);
    CHECK_STR(r.req.method, "GET");
    CHECK_STR(r.req.path, "/");
    CHECK_STR(r.req.query,
              "continuation-token=tok%2B%2F%3D&encoding-type=url&list-type=2&prefix=a%20b%2F");
    CHECK_STR(hdr(&r, "x-amz-expected-bucket-owner"), "999988887777");
    sl_s3_req_cleanup(&r);
    lo.delimiter = "/";
    CHECK_INT(sl_s3_list_request(&r, "b", &lo, err, sizeof(err)), 0);
    CHECK_STR(r.req.query, "continuation-token=tok%2B%2F%3D&delimiter=%2F&encoding-type=url&"
                           "list-type=2&prefix=a%20b%2F");
    sl_s3_req_cleanup(&r);
    lo.delimiter = NULL;
    lo.max_keys = 1001;
    CHECK_INT(sl_s3_list_request(&r, "b", &lo, err, sizeof(err)), -1);
    sl_s3_req_cleanup(&r);

    CHECK_INT(sl_s3_delete_request(&r, "b", keys, 2, NULL, err, sizeof(err)), 0);
    CHECK_STR(r.req.query, "delete=");
    CHECK(hdr(&r, "Content-MD5") != NULL && strlen(hdr(&r, "Content-MD5")) == 24);
    CHECK(strstr(r.req.body, "<Key>lake/y</Key>") != NULL);
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_delete_request(&r, "b", bad, 1, NULL, err, sizeof(err)), -1);
    sl_s3_req_cleanup(&r);
    CHECK_INT(sl_s3_delete_request(&r, "b", keys, 0, NULL, err, sizeof(err)), -1);
    sl_s3_req_cleanup(&r);
}

static void test_complete_body(void)
{
    char *etags[3] = {"\"e1\"", "\"a<b&c\"", "\"e3\""};
    char *body = sl_s3_complete_body(etags, 3);
    char err[SL_ERRLEN];
    xmlDoc *doc;
    xmlNode *root, *p;
    size_t i = 0;

    CHECK(body != NULL);
    /* Escaped on the wire, not written raw. */
    CHECK(strstr(body, "a&lt;b&amp;c") != NULL);
    doc = sl_xml_parse(body, strlen(body), err, sizeof(err));
    free(body);
    CHECK(doc != NULL);
    root = sl_xml_root(doc);
    CHECK(root && strcmp((const char *)root->name, "CompleteMultipartUpload") == 0);
    CHECK(root->ns &&
          strcmp((const char *)root->ns->href, "http://s3.amazonaws.com/doc/2006-03-01/") == 0);
    for (p = sl_xml_child(root, "Part"); p; p = sl_xml_next(p, "Part"), i++) {
        char num[16], etag[32], want[16];
        if (i >= 3)
            break;
        snprintf(want, sizeof(want), "%zu", i + 1);
        if (sl_xml_child_copy(p, "PartNumber", num, sizeof(num)) ||
            sl_xml_child_copy(p, "ETag", etag, sizeof(etag)) || strcmp(num, want) != 0 ||
            strcmp(etag, etags[i]) != 0) {
            xmlFreeDoc(doc);
            CHECK(!"part number or etag wrong");
        }
    }
    xmlFreeDoc(doc);
    CHECK_INT(i, 3);
}

static void test_complete_body_refuses(void)
{
    char *one[1] = {"\"x\""};
    char *with_null[2] = {"\"x\"", NULL};
    char **many = calloc(SL_S3_MAX_PARTS + 1, sizeof(*many));

    CHECK(many != NULL);
    for (size_t i = 0; i <= SL_S3_MAX_PARTS; i++)
        many[i] = one[0];
    CHECK(sl_s3_complete_body(one, 0) == NULL);
    CHECK(sl_s3_complete_body(NULL, 1) == NULL);
    CHECK(sl_s3_complete_body(with_null, 2) == NULL);
    CHECK(sl_s3_complete_body(many, SL_S3_MAX_PARTS + 1) == NULL);
    {
        char *b = sl_s3_complete_body(many, SL_S3_MAX_PARTS);
        int ok = b && strstr(b, "<PartNumber>10000</PartNumber>") != NULL;
        free(b);
        free(many);
        CHECK(ok);
    }
}

static void test_upload_id_table(void)
{
    static const struct {
        const char *body;
        const char *id; /* NULL = error */
    } cases[] = {
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
         "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
         "<UploadId>VXBsb2FkIElE-x.y_z</UploadId></InitiateMultipartUploadResult>",
         "VXBsb2FkIElE-x.y_z"},
        {"<InitiateMultipartUploadResult><UploadId>a&amp;b</UploadId>"
         "</InitiateMultipartUploadResult>",
         "a&b"},
        {"<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>",
         NULL},
        {"<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>", NULL},
        {"<InitiateMultipartUploadResult><UploadId>x</Upload", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char err[SL_ERRLEN] = "";
        char *id = NULL;
        int rc = sl_s3_parse_upload_id(cases[i].body, strlen(cases[i].body), &id, err, sizeof(err));
        int ok = cases[i].id ? rc == 0 && id && strcmp(id, cases[i].id) == 0
                             : rc == -1 && id == NULL && err[0];
        if (!ok)
            fprintf(stderr, "upload id case %zu: rc %d id '%s' err '%s'\n", i, rc,
                    id ? id : "(null)", err);
        free(id);
        CHECK(ok);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_complete_body),
    SL_TEST(test_complete_body_refuses),
    SL_TEST(test_upload_id_table),
    SL_TEST(test_key_path),
    SL_TEST(test_copy_source),
    SL_TEST(test_url_decode),
    SL_TEST(test_key_roundtrip),
    SL_TEST(test_part_ranges),
    SL_TEST(test_list_parse),
    SL_TEST(test_list_parse_common_prefixes),
    SL_TEST(test_list_parse_reads_like_the_tree),
    SL_TEST(test_list_parse_rejects),
    SL_TEST(test_delete_result_parse),
    SL_TEST(test_copy_result_etag),
    SL_TEST(test_request_builders),
    SL_TEST(test_scheduled_request_builders),
};
SL_TEST_MAIN(tests)
