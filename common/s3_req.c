/*
 * s3_req.c - the S3 request builders of s3.h (S3 API Reference, 2006-03-01): key paths and copy
 * sources, part ranges, the sl_s3_req of every operation (URLs, query strings, headers) and the
 * XML bodies we send (CompleteMultipartUpload, DeleteObjects), built with libxml2. Pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "s3_internal.h"

/* --- pure helpers ------------------------------------------------------------------------- */

char *sl_s3_key_path(const char *key)
{
    char *enc, *p;
    size_t n;

    if (!key || !*key)
        return NULL;
    /* S3 signs the path encoded once, not normalised: encode every byte but unreserved and
       '/', so "a b" is "a%20b" and '+' is "%2B" (a raw '+' would be read as a space by some
       proxies and by S3's legacy form handling). */
    enc = sl_sigv4_uri_encode(key, strlen(key), 1);
    if (!enc)
        return NULL;
    n = strlen(enc) + 2;
    p = malloc(n);
    if (p)
        snprintf(p, n, "/%s", enc);
    free(enc);
    return p;
}

char *sl_s3_copy_source(const char *bucket, const char *key)
{
    char *joined, *enc;
    size_t n;

    if (!bucket || !*bucket || !key || !*key)
        return NULL;
    n = strlen(bucket) + strlen(key) + 2;
    joined = malloc(n);
    if (!joined)
        return NULL;
    snprintf(joined, n, "%s/%s", bucket, key);
    enc = sl_sigv4_uri_encode(joined, n - 1, 1);
    free(joined);
    return enc;
}

int sl_s3_part_ranges(long long size, long long part_size, sl_s3_part_range **out, size_t *n,
                      char *err, size_t errlen)
{
    const long long mib = 1024 * 1024;
    long long count;
    sl_s3_part_range *r;

    if (size <= 0)
        return sl_seterr(err, errlen, "s3 part ranges: size %lld is not positive", size);
    if (part_size < SL_S3_PART_MIN)
        part_size = SL_S3_PART_MIN;
    if (part_size > SL_S3_PART_MAX)
        part_size = SL_S3_PART_MAX;
    if (size / part_size + (size % part_size ? 1 : 0) > SL_S3_MAX_PARTS) {
        /* Grow the part so 10,000 of them cover the object (S3's part-count limit). */
        part_size = size / SL_S3_MAX_PARTS + (size % SL_S3_MAX_PARTS ? 1 : 0);
        part_size = (part_size + mib - 1) / mib * mib;
        if (part_size > SL_S3_PART_MAX)
            return sl_seterr(err, errlen, "s3 part ranges: %lld bytes exceed 10000 parts of 5 GiB",
                             size);
    }
    count = size / part_size + (size % part_size ? 1 : 0);
    r = calloc((size_t)count, sizeof(*r));
    if (!r)
        return sl_seterr(err, errlen, "s3 part ranges: out of memory");
    for (long long i = 0; i < count; i++) {
        r[i].first = i * part_size;
        r[i].last = (i + 1) * part_size - 1;
        if (r[i].last > size - 1)
            r[i].last = size - 1;
    }
    *out = r;
    *n = (size_t)count;
    return 0;
}

/* --- request building --------------------------------------------------------------------------
 */

void sl_s3_req_cleanup(sl_s3_req *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->query);
    free(r->copy_source);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void sl_s3_req_start(sl_s3_req *r, const char *method, const char *bucket)
{
    memset(r, 0, sizeof(*r));
    r->req.service = "s3";
    r->req.method = method;
    r->req.bucket = bucket;
    r->req.headers = r->hdrs;
}

void sl_s3_req_header(sl_s3_req *r, const char *name, const char *value)
{
    if (!value || !*value || r->req.nheaders >= SL_ARRAY_LEN(r->hdrs))
        return;
    r->hdrs[r->req.nheaders].name = name;
    r->hdrs[r->req.nheaders].value = value;
    r->req.nheaders++;
}

int sl_s3_req_key(sl_s3_req *r, const char *bucket, const char *key, char *err, size_t errlen)
{
    if (!bucket || !*bucket)
        return sl_seterr(err, errlen, "s3: empty bucket name");
    r->path = sl_s3_key_path(key);
    if (!r->path)
        return sl_seterr(err, errlen, "s3: empty key or out of memory");
    r->req.path = r->path;
    return 0;
}

/* o's headers; whole: a request that makes an object (SSE and content type), not a part. */
static void req_write_opts(sl_s3_req *r, const sl_s3_write_opts *o, int whole)
{
    if (!o)
        return;
    if (whole && o->kms_key_id && *o->kms_key_id) {
        sl_s3_req_header(r, "x-amz-server-side-encryption", "aws:kms");
        sl_s3_req_header(r, "x-amz-server-side-encryption-aws-kms-key-id", o->kms_key_id);
    }
    if (whole)
        sl_s3_req_header(r, "Content-Type", o->content_type);
    sl_s3_req_header(r, "x-amz-expected-bucket-owner", o->expected_owner);
}

/* A copy's write options, plus the owner check on its source bucket. */
static void req_copy_opts(sl_s3_req *r, const sl_s3_write_opts *o, int whole)
{
    req_write_opts(r, o, whole);
    if (!o)
        return;
    sl_s3_req_header(r, "x-amz-source-expected-bucket-owner", o->source_expected_owner);
    /* Without REPLACE, S3 ignores the content type and copies the source's metadata. */
    if (whole && o->content_type && *o->content_type)
        sl_s3_req_header(r, "x-amz-metadata-directive", "REPLACE");
}

int sl_s3_put_request(sl_s3_req *r, const char *bucket, const char *key, const void *data,
                      size_t len, const sl_s3_write_opts *o, char *err, size_t errlen)
{
    sl_s3_req_start(r, "PUT", bucket);
    if (sl_s3_req_key(r, bucket, key, err, errlen)) {
        sl_s3_req_cleanup(r);
        return -1;
    }
    r->req.body = data;
    r->req.body_len = len;
    req_write_opts(r, o, 1);
    return 0;
}

int sl_s3_copy_request(sl_s3_req *r, const char *src_bucket, const char *src_key,
                       const char *dst_bucket, const char *dst_key, const sl_s3_write_opts *o,
                       char *err, size_t errlen)
{
    sl_s3_req_start(r, "PUT", dst_bucket);
    if (sl_s3_req_key(r, dst_bucket, dst_key, err, errlen))
        goto fail;
    r->copy_source = sl_s3_copy_source(src_bucket, src_key);
    if (!r->copy_source) {
        sl_seterr(err, errlen, "s3 copy: empty source or out of memory");
        goto fail;
    }
    sl_s3_req_header(r, "x-amz-copy-source", r->copy_source);
    req_copy_opts(r, o, 1);
    return 0;
fail:
    sl_s3_req_cleanup(r);
    return -1;
}

static char *query_kv(const char *k1, const char *v1, const char *k2, const char *v2)
{
    char *e1 = sl_sigv4_uri_encode(v1, strlen(v1), 0);
    char *e2 = v2 ? sl_sigv4_uri_encode(v2, strlen(v2), 0) : NULL;
    char *q = NULL;
    size_t n;

    if (!e1 || (v2 && !e2))
        goto out;
    n = strlen(k1) + strlen(e1) + (k2 ? strlen(k2) : 0) + (e2 ? strlen(e2) : 0) + 4;
    q = malloc(n);
    if (!q)
        goto out;
    if (k2)
        snprintf(q, n, "%s=%s&%s=%s", k1, e1, k2, e2 ? e2 : "");
    else
        snprintf(q, n, "%s=%s", k1, e1);
out:
    free(e1);
    free(e2);
    return q;
}

int sl_s3_upload_part_copy_request(sl_s3_req *r, const char *src_bucket, const char *src_key,
                                   const char *dst_bucket, const char *dst_key,
                                   const char *upload_id, int part_number,
                                   const sl_s3_part_range *range, const sl_s3_write_opts *o,
                                   char *err, size_t errlen)
{
    char num[16];

    sl_s3_req_start(r, "PUT", dst_bucket);
    if (part_number < 1 || part_number > SL_S3_MAX_PARTS || !upload_id || !*upload_id || !range ||
        range->first < 0 || range->last < range->first) {
        sl_seterr(err, errlen, "s3 upload part copy: bad part number, upload id or range");
        goto fail;
    }
    if (sl_s3_req_key(r, dst_bucket, dst_key, err, errlen))
        goto fail;
    snprintf(num, sizeof(num), "%d", part_number);
    /* Sorted by name, the order SigV4 canonicalises to anyway. */
    r->query = query_kv("partNumber", num, "uploadId", upload_id);
    r->copy_source = sl_s3_copy_source(src_bucket, src_key);
    if (!r->query || !r->copy_source) {
        sl_seterr(err, errlen, "s3 upload part copy: empty source or out of memory");
        goto fail;
    }
    r->req.query = r->query;
    snprintf(r->range, sizeof(r->range), "bytes=%lld-%lld", range->first, range->last);
    sl_s3_req_header(r, "x-amz-copy-source", r->copy_source);
    sl_s3_req_header(r, "x-amz-copy-source-range", r->range);
    /* SSE-KMS is fixed by CreateMultipartUpload; the parts only carry the owner checks. */
    req_copy_opts(r, o, 0);
    return 0;
fail:
    sl_s3_req_cleanup(r);
    return -1;
}

/* --- ListObjectsV2 ------------------------------------------------------------------------ */

int sl_s3_list_request(sl_s3_req *r, const char *bucket, const sl_s3_list_opts *o, char *err,
                       size_t errlen)
{
    sl_buf q;
    char *ev = NULL;
    int bad = 0;

    sl_s3_req_start(r, "GET", bucket);
    if (!bucket || !*bucket)
        return sl_seterr(err, errlen, "s3 list: empty bucket name");
    if (o && (o->max_keys < 0 || o->max_keys > 1000))
        return sl_seterr(err, errlen, "s3 list: max_keys outside 0..1000");
    sl_buf_init(&q, 64 * 1024);
    /* Parameters in sorted order (the canonical order SigV4 signs anyway). */
    if (o && o->continuation_token && *o->continuation_token) {
        ev = sl_sigv4_uri_encode(o->continuation_token, strlen(o->continuation_token), 0);
        bad |= !ev || sl_buf_appendf(&q, "continuation-token=%s&", ev);
        free(ev);
        ev = NULL;
    }
    if (o && o->delimiter && *o->delimiter) {
        ev = sl_sigv4_uri_encode(o->delimiter, strlen(o->delimiter), 0);
        bad |= !ev || sl_buf_appendf(&q, "delimiter=%s&", ev);
        free(ev);
        ev = NULL;
    }
    /* encoding-type=url: keys may hold bytes XML 1.0 cannot carry; S3 then escapes them. */
    bad |= sl_buf_appendf(&q, "encoding-type=url&list-type=2");
    if (o && o->max_keys > 0)
        bad |= sl_buf_appendf(&q, "&max-keys=%d", o->max_keys);
    if (o && o->prefix && *o->prefix) {
        ev = sl_sigv4_uri_encode(o->prefix, strlen(o->prefix), 0);
        bad |= !ev || sl_buf_appendf(&q, "&prefix=%s", ev);
        free(ev);
        ev = NULL;
    }
    if (o && o->start_after && *o->start_after) {
        ev = sl_sigv4_uri_encode(o->start_after, strlen(o->start_after), 0);
        bad |= !ev || sl_buf_appendf(&q, "&start-after=%s", ev);
        free(ev);
        ev = NULL;
    }
    if (bad) {
        sl_buf_cleanup(&q);
        return sl_seterr(err, errlen, "s3 list: query too long or out of memory");
    }
    r->query = q.data; /* taken over: sl_s3_req_cleanup frees it */
    r->req.path = "/";
    r->req.query = r->query;
    if (o)
        sl_s3_req_header(r, "x-amz-expected-bucket-owner", o->expected_owner);
    return 0;
}

/* --- multipart copy ------------------------------------------------------------------------ */

int sl_s3_create_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                   const sl_s3_write_opts *o, const char *marker, char *err,
                                   size_t errlen)
{
    sl_s3_req_start(r, "POST", bucket);
    if (sl_s3_req_key(r, bucket, key, err, errlen)) {
        sl_s3_req_cleanup(r);
        return -1;
    }
    r->req.query = "uploads=";
    req_write_opts(r, o, 1);
    sl_s3_req_header(r, SL_S3_META_SOURCE_ETAG, marker);
    return 0;
}

/* POST (complete, with body, taken over) or DELETE (abort) on key?uploadId=. */
static int upload_request(sl_s3_req *r, const char *method, const char *bucket, const char *key,
                          const char *upload_id, char *body, const char *expected_owner, char *err,
                          size_t errlen)
{
    sl_s3_req_start(r, method, bucket);
    r->body = body;
    if (!upload_id || !*upload_id) {
        sl_seterr(err, errlen, "s3 multipart: empty upload id");
        goto fail;
    }
    if (sl_s3_req_key(r, bucket, key, err, errlen))
        goto fail;
    r->query = query_kv("uploadId", upload_id, NULL, NULL);
    if (!r->query) {
        sl_seterr(err, errlen, "s3 multipart: out of memory");
        goto fail;
    }
    r->req.query = r->query;
    if (body) {
        r->req.body = body;
        r->req.body_len = strlen(body);
    }
    sl_s3_req_header(r, "x-amz-expected-bucket-owner", expected_owner);
    return 0;
fail:
    sl_s3_req_cleanup(r);
    return -1;
}

int sl_s3_complete_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                     const char *upload_id, char *const *etags, size_t n,
                                     const char *expected_owner, char *err, size_t errlen)
{
    char *body = sl_s3_complete_body(etags, n);

    if (!body) {
        sl_s3_req_start(r, "POST", bucket);
        return sl_seterr(err, errlen, "s3 multipart: cannot build the completion body");
    }
    return upload_request(r, "POST", bucket, key, upload_id, body, expected_owner, err, errlen);
}

int sl_s3_head_request(sl_s3_req *r, const char *bucket, const char *key,
                       const char *expected_owner, char *err, size_t errlen)
{
    sl_s3_req_start(r, "HEAD", bucket);
    if (sl_s3_req_key(r, bucket, key, err, errlen)) {
        sl_s3_req_cleanup(r);
        return -1;
    }
    sl_s3_req_header(r, "x-amz-expected-bucket-owner", expected_owner);
    return 0;
}

int sl_s3_get_request(sl_s3_req *r, const char *bucket, const char *key, const char *expected_owner,
                      char *err, size_t errlen)
{
    sl_s3_req_start(r, "GET", bucket);
    if (sl_s3_req_key(r, bucket, key, err, errlen)) {
        sl_s3_req_cleanup(r);
        return -1;
    }
    sl_s3_req_header(r, "x-amz-expected-bucket-owner", expected_owner);
    return 0;
}

int sl_s3_abort_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                  const char *upload_id, const char *expected_owner, char *err,
                                  size_t errlen)
{
    return upload_request(r, "DELETE", bucket, key, upload_id, NULL, expected_owner, err, errlen);
}

/* --- XML request bodies (built with libxml2, so every value is escaped) ---------------------- */

/* A new document whose root element `name` declares S3's namespace. NULL on out of memory. */
static xmlDoc *body_new(const char *name, xmlNode **root)
{
    xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *r;

    if (!doc)
        return NULL;
    r = xmlNewNode(NULL, BAD_CAST name);
    if (!r) {
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlDocSetRootElement(doc, r);
    xmlNewNs(r, BAD_CAST S3_NS, NULL);
    *root = r;
    return doc;
}

/* Serialises doc as UTF-8 and frees it. The text (free()), or NULL on out of memory. */
static char *body_finish(xmlDoc *doc)
{
    xmlChar *mem = NULL;
    int size = 0;
    char *out = NULL;

    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    if (mem)
        out = strndup((const char *)mem, (size_t)size);
    xmlFree(mem);
    xmlFreeDoc(doc);
    return out;
}

char *sl_s3_complete_body(char *const *etags, size_t n)
{
    xmlNode *root;
    xmlDoc *doc;

    if (n == 0 || n > SL_S3_MAX_PARTS || !etags)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!etags[i])
            return NULL;
    doc = body_new("CompleteMultipartUpload", &root);
    if (!doc)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char num[24];
        xmlNode *p = xmlNewChild(root, NULL, BAD_CAST "Part", NULL);
        snprintf(num, sizeof(num), "%zu", i + 1);
        /* xmlNewTextChild escapes the ETag's quotes and anything else. */
        if (!p || !xmlNewTextChild(p, NULL, BAD_CAST "PartNumber", BAD_CAST num) ||
            !xmlNewTextChild(p, NULL, BAD_CAST "ETag", BAD_CAST etags[i]))
            goto fail;
    }
    return body_finish(doc);
fail:
    xmlFreeDoc(doc);
    return NULL;
}

/* --- DeleteObjects ------------------------------------------------------------------------- */

static int xml_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return 0;
    return 1;
}

static char *delete_body(const char *const *keys, size_t nkeys)
{
    xmlNode *root;
    xmlDoc *doc = body_new("Delete", &root);

    if (!doc)
        return NULL;
    /* Quiet: the answer lists only the keys that failed. */
    if (!xmlNewTextChild(root, NULL, BAD_CAST "Quiet", BAD_CAST "true"))
        goto fail;
    for (size_t i = 0; i < nkeys; i++) {
        xmlNode *o = xmlNewChild(root, NULL, BAD_CAST "Object", NULL);
        if (!o || !xmlNewTextChild(o, NULL, BAD_CAST "Key", BAD_CAST keys[i]))
            goto fail;
    }
    return body_finish(doc);
fail:
    xmlFreeDoc(doc);
    return NULL;
}

int sl_s3_delete_request(sl_s3_req *r, const char *bucket, const char *const *keys, size_t nkeys,
                         const char *expected_owner, char *err, size_t errlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    sl_s3_req_start(r, "POST", bucket);
    if (!bucket || !*bucket || nkeys == 0 || nkeys > SL_S3_DELETE_MAX)
        return sl_seterr(err, errlen, "s3 delete: need a bucket and 1..1000 keys");
    for (size_t i = 0; i < nkeys; i++)
        if (!keys[i] || !*keys[i] || !xml_safe(keys[i]))
            return sl_seterr(err, errlen, "s3 delete: key %zu is empty or not XML 1.0 text", i);
    r->body = delete_body(keys, nkeys);
    if (!r->body)
        return sl_seterr(err, errlen, "s3 delete: cannot build the request body");
    /* DeleteObjects requires an integrity header (S3 API: Content-MD5 or x-amz-checksum-*). */
    if (EVP_Digest(r->body, strlen(r->body), md, &mdlen, EVP_md5(), NULL) != 1) {
        sl_s3_req_cleanup(r);
        return sl_seterr(err, errlen, "s3 delete: MD5 failed");
    }
    EVP_EncodeBlock((unsigned char *)r->md5, md, (int)mdlen);
    r->req.path = "/";
    r->req.query = "delete=";
    r->req.body = r->body;
    r->req.body_len = strlen(r->body);
    sl_s3_req_header(r, "Content-MD5", r->md5);
    sl_s3_req_header(r, "Content-Type", "application/xml");
    sl_s3_req_header(r, "x-amz-expected-bucket-owner", expected_owner);
    return 0;
}
