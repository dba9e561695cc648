/* s3.c - see s3.h. S3 API Reference (2006-03-01) for every request shape used here. */
#include "s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "xml.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* --- pure helpers ------------------------------------------------------------------------------
 */

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

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *sl_s3_url_decode(const char *in)
{
    size_t n, j = 0;
    char *out;

    if (!in)
        return NULL;
    n = strlen(in);
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hi = hexval(in[i + 1]);
            lo = hi < 0 ? -1 : hexval(in[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = in[i];
        }
    }
    out[j] = '\0';
    return out;
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

static void req_start(sl_s3_req *r, const char *method, const char *bucket)
{
    memset(r, 0, sizeof(*r));
    r->req.service = "s3";
    r->req.method = method;
    r->req.bucket = bucket;
    r->req.headers = r->hdrs;
}

static void req_header(sl_s3_req *r, const char *name, const char *value)
{
    if (!value || !*value || r->req.nheaders >= SL_ARRAY_LEN(r->hdrs))
        return;
    r->hdrs[r->req.nheaders].name = name;
    r->hdrs[r->req.nheaders].value = value;
    r->req.nheaders++;
}

static int req_key(sl_s3_req *r, const char *bucket, const char *key, char *err, size_t errlen)
{
    if (!bucket || !*bucket)
        return sl_seterr(err, errlen, "s3: empty bucket name");
    r->path = sl_s3_key_path(key);
    if (!r->path)
        return sl_seterr(err, errlen, "s3: empty key or out of memory");
    r->req.path = r->path;
    return 0;
}

static void req_write_opts(sl_s3_req *r, const sl_s3_write_opts *o, int sse)
{
    if (!o)
        return;
    if (sse && o->kms_key_id && *o->kms_key_id) {
        req_header(r, "x-amz-server-side-encryption", "aws:kms");
        req_header(r, "x-amz-server-side-encryption-aws-kms-key-id", o->kms_key_id);
    }
    req_header(r, "x-amz-expected-bucket-owner", o->expected_owner);
}

int sl_s3_put_request(sl_s3_req *r, const char *bucket, const char *key, const void *data,
                      size_t len, const sl_s3_write_opts *o, char *err, size_t errlen)
{
    req_start(r, "PUT", bucket);
    if (req_key(r, bucket, key, err, errlen)) {
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
    req_start(r, "PUT", dst_bucket);
    if (req_key(r, dst_bucket, dst_key, err, errlen))
        goto fail;
    r->copy_source = sl_s3_copy_source(src_bucket, src_key);
    if (!r->copy_source) {
        sl_seterr(err, errlen, "s3 copy: empty source or out of memory");
        goto fail;
    }
    req_header(r, "x-amz-copy-source", r->copy_source);
    req_write_opts(r, o, 1);
    if (o)
        req_header(r, "x-amz-source-expected-bucket-owner", o->source_expected_owner);
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

    req_start(r, "PUT", dst_bucket);
    if (part_number < 1 || part_number > SL_S3_MAX_PARTS || !upload_id || !*upload_id || !range ||
        range->first < 0 || range->last < range->first) {
        sl_seterr(err, errlen, "s3 upload part copy: bad part number, upload id or range");
        goto fail;
    }
    if (req_key(r, dst_bucket, dst_key, err, errlen))
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
    req_header(r, "x-amz-copy-source", r->copy_source);
    req_header(r, "x-amz-copy-source-range", r->range);
    /* SSE-KMS is fixed by CreateMultipartUpload; the parts only carry the owner checks. */
    req_write_opts(r, o, 0);
    if (o)
        req_header(r, "x-amz-source-expected-bucket-owner", o->source_expected_owner);
    return 0;
fail:
    sl_s3_req_cleanup(r);
    return -1;
}

/* --- parsers ------------------------------------------------------------------------------- */

void sl_s3_list_page_cleanup(sl_s3_list_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        free(p->objects[i].key);
    free(p->objects);
    free(p->next_token);
    memset(p, 0, sizeof(*p));
}

static int parse_ll(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int sl_s3_list_parse(const char *body, size_t len, int url_encoded, sl_s3_list_page *out, char *err,
                     size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    xmlNode *root, *n;
    sl_s3_list_page pg;
    size_t cap = 0;
    char *t = NULL;
    int rc = -1;

    memset(&pg, 0, sizeof(pg));
    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "s3 list: %s", perr);
    root = sl_xml_root(doc);
    if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
        sl_seterr(err, errlen, "s3 list: root element is not ListBucketResult");
        goto out;
    }
    for (n = sl_xml_child(root, "Contents"); n; n = sl_xml_next(n, "Contents")) {
        sl_s3_object *o;
        if (pg.count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            sl_s3_object *no = realloc(pg.objects, ncap * sizeof(*no));
            if (!no) {
                sl_seterr(err, errlen, "s3 list: out of memory");
                goto out;
            }
            pg.objects = no;
            cap = ncap;
        }
        o = &pg.objects[pg.count];
        memset(o, 0, sizeof(*o));
        t = sl_xml_child_text(n, "Key");
        if (!t || !*t) {
            sl_seterr(err, errlen, "s3 list: entry %zu has no Key", pg.count);
            goto out;
        }
        if (url_encoded) {
            o->key = sl_s3_url_decode(t);
            if (!o->key) {
                sl_seterr(err, errlen, "s3 list: entry %zu has a malformed encoded key", pg.count);
                goto out;
            }
            free(t);
        } else {
            o->key = t;
        }
        t = NULL;
        pg.count++;
        t = sl_xml_child_text(n, "Size");
        if (parse_ll(t, &o->size)) {
            sl_seterr(err, errlen, "s3 list: entry %zu has a bad Size", pg.count - 1);
            goto out;
        }
        free(t);
        t = NULL;
        (void)sl_xml_child_copy(n, "ETag", o->etag, sizeof(o->etag));
        (void)sl_xml_child_copy(n, "LastModified", o->last_modified, sizeof(o->last_modified));
    }
    t = sl_xml_child_text(root, "IsTruncated");
    pg.truncated = t && strcmp(t, "true") == 0;
    free(t);
    t = NULL;
    if (pg.truncated) {
        /* NextContinuationToken is opaque and never URL-encoded, even with encoding-type. */
        pg.next_token = sl_xml_child_text(root, "NextContinuationToken");
        if (!pg.next_token || !*pg.next_token) {
            sl_seterr(err, errlen, "s3 list: truncated page without NextContinuationToken");
            goto out;
        }
    }
    *out = pg;
    memset(&pg, 0, sizeof(pg));
    rc = 0;
out:
    free(t);
    sl_s3_list_page_cleanup(&pg);
    xmlFreeDoc(doc);
    return rc;
}

int sl_s3_copy_result_etag(const char *body, size_t len, char *etag, size_t outlen)
{
    char perr[64];
    xmlDoc *doc = sl_xml_parse(body, len, perr, sizeof(perr));
    xmlNode *e;
    int rc = -1;

    if (outlen)
        etag[0] = '\0';
    if (!doc)
        return -1;
    e = sl_xml_find(sl_xml_root(doc), "ETag");
    if (e) {
        char *t = sl_xml_text(e);
        if (t && *t) {
            snprintf(etag, outlen, "%s", t);
            rc = 0;
        }
        free(t);
    }
    xmlFreeDoc(doc);
    return rc;
}

void sl_s3_delete_failures_free(sl_s3_delete_failure *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++)
        free(f[i].key);
    free(f);
}

int sl_s3_delete_result_parse(const char *body, size_t len, sl_s3_delete_failure **out, size_t *n,
                              char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    xmlNode *root, *e;
    sl_s3_delete_failure *f = NULL;
    size_t count = 0, cap = 0;
    int rc = -1;

    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "s3 delete: %s", perr);
    root = sl_xml_root(doc);
    if (strcmp((const char *)root->name, "DeleteResult") != 0) {
        sl_seterr(err, errlen, "s3 delete: root element is not DeleteResult");
        goto out;
    }
    for (e = sl_xml_child(root, "Error"); e; e = sl_xml_next(e, "Error")) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sl_s3_delete_failure *nf = realloc(f, ncap * sizeof(*nf));
            if (!nf) {
                sl_seterr(err, errlen, "s3 delete: out of memory");
                goto out;
            }
            f = nf;
            cap = ncap;
        }
        memset(&f[count], 0, sizeof(f[count]));
        f[count].key = sl_xml_child_text(e, "Key");
        if (!f[count].key) {
            sl_seterr(err, errlen, "s3 delete: error entry without Key");
            goto out;
        }
        (void)sl_xml_child_copy(e, "Code", f[count].code, sizeof(f[count].code));
        (void)sl_xml_child_copy(e, "Message", f[count].message, sizeof(f[count].message));
        count++;
    }
    *out = f;
    *n = count;
    f = NULL;
    count = 0;
    rc = 0;
out:
    sl_s3_delete_failures_free(f, count);
    xmlFreeDoc(doc);
    return rc;
}

/* --- calls -------------------------------------------------------------------------------------
 */

static void fail_local(sl_aws_error *err, const char *code, const char *msg)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "%s", code);
    snprintf(err->message, sizeof(err->message), "%s", msg);
}

static int call_simple(sl_aws *c, sl_s3_req *r, sl_aws_response *resp, sl_aws_error *err)
{
    int rc = sl_aws_call(c, &r->req, resp, err);
    sl_s3_req_cleanup(r);
    return rc;
}

int sl_s3_create_bucket(sl_aws *c, const char *bucket, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    const char *region = sl_aws_region(c);
    int rc;

    req_start(&r, "PUT", bucket);
    if (!bucket || !*bucket) {
        fail_local(err, "InvalidBucketName", "s3 create bucket: empty name");
        return -1;
    }
    /* us-east-1 is the one region that refuses a LocationConstraint naming itself. */
    if (strcmp(region, "us-east-1") != 0) {
        size_t n = strlen(region) + 200;
        r.body = malloc(n);
        if (!r.body) {
            fail_local(err, "InternalFailure", "s3 create bucket: out of memory");
            return -1;
        }
        snprintf(r.body, n,
                 "<CreateBucketConfiguration xmlns=\"" S3_NS "\"><LocationConstraint>%s"
                 "</LocationConstraint></CreateBucketConfiguration>",
                 region);
        r.req.body = r.body;
        r.req.body_len = strlen(r.body);
    }
    sl_aws_response_init(&resp);
    rc = call_simple(c, &r, &resp, err);
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_s3_put(sl_aws *c, const char *bucket, const char *key, const void *data, size_t len,
              const sl_s3_write_opts *o, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    char msg[SL_ERRLEN];
    int rc;

    if (sl_s3_put_request(&r, bucket, key, data, len, o, msg, sizeof(msg))) {
        fail_local(err, "InvalidRequest", msg);
        return -1;
    }
    sl_aws_response_init(&resp);
    rc = call_simple(c, &r, &resp, err);
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_s3_get(sl_aws *c, const char *bucket, const char *key, sl_buf *out, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    char msg[SL_ERRLEN];
    int rc = -1;

    req_start(&r, "GET", bucket);
    if (req_key(&r, bucket, key, msg, sizeof(msg))) {
        sl_s3_req_cleanup(&r);
        fail_local(err, "InvalidRequest", msg);
        return -1;
    }
    sl_aws_response_init(&resp);
    /* The caller's buffer limit caps what we accept off the wire. */
    resp.body.limit = out->limit > out->len ? out->limit - out->len : 1;
    if (call_simple(c, &r, &resp, err))
        goto out;
    if (sl_buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len)) {
        fail_local(err, "ResponseTooLarge", "s3 get: object exceeds the buffer limit");
        goto out;
    }
    rc = 0;
out:
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_s3_head(sl_aws *c, const char *bucket, const char *key, const char *expected_owner,
               sl_s3_head_result *out, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    sl_s3_head_result h;
    char msg[SL_ERRLEN], len[32];
    int rc = -1;

    req_start(&r, "HEAD", bucket);
    if (req_key(&r, bucket, key, msg, sizeof(msg))) {
        sl_s3_req_cleanup(&r);
        fail_local(err, "InvalidRequest", msg);
        return -1;
    }
    req_header(&r, "x-amz-expected-bucket-owner", expected_owner);
    sl_aws_response_init(&resp);
    if (call_simple(c, &r, &resp, err)) {
        /* A HEAD answer has no body to name the error; S3's 404 on an object is NoSuchKey. */
        if (err->http_status == 404 && strcmp(err->code, "NotFound") == 0)
            snprintf(err->code, sizeof(err->code), "NoSuchKey");
        goto out;
    }
    memset(&h, 0, sizeof(h));
    if (sl_aws_response_header(&resp, "Content-Length", len, sizeof(len)) ||
        parse_ll(len, &h.size)) {
        fail_local(err, "ParseError", "s3 head: no valid Content-Length");
        goto out;
    }
    (void)sl_aws_response_header(&resp, "ETag", h.etag, sizeof(h.etag));
    (void)sl_aws_response_header(&resp, "Last-Modified", h.last_modified, sizeof(h.last_modified));
    (void)sl_aws_response_header(&resp, SL_S3_META_SOURCE_ETAG, h.source_etag,
                                 sizeof(h.source_etag));
    *out = h;
    rc = 0;
out:
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_s3_list_request(sl_s3_req *r, const char *bucket, const sl_s3_list_opts *o, char *err,
                       size_t errlen)
{
    sl_buf q;
    char *ev = NULL;
    int bad = 0;

    req_start(r, "GET", bucket);
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
        req_header(r, "x-amz-expected-bucket-owner", o->expected_owner);
    return 0;
}

int sl_s3_list(sl_aws *c, const char *bucket, const sl_s3_list_opts *o, sl_s3_list_page *out,
               sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    char msg[SL_ERRLEN];
    int rc = -1;

    sl_aws_response_init(&resp);
    if (sl_s3_list_request(&r, bucket, o, msg, sizeof(msg))) {
        fail_local(err, "InvalidRequest", msg);
        goto out;
    }
    if (sl_aws_call(c, &r.req, &resp, err))
        goto out;
    if (sl_s3_list_parse(resp.body.data, resp.body.len, 1, out, msg, sizeof(msg))) {
        int attempts = err->attempts;
        fail_local(err, "ParseError", msg);
        err->http_status = resp.status;
        err->attempts = attempts;
        goto out;
    }
    rc = 0;
out:
    sl_s3_req_cleanup(&r);
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_s3_copy(sl_aws *c, const char *src_bucket, const char *src_key, const char *dst_bucket,
               const char *dst_key, const sl_s3_write_opts *o, char *etag, size_t etaglen,
               sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    char msg[SL_ERRLEN];
    int rc = -1;

    if (sl_s3_copy_request(&r, src_bucket, src_key, dst_bucket, dst_key, o, msg, sizeof(msg))) {
        fail_local(err, "InvalidRequest", msg);
        return -1;
    }
    sl_aws_response_init(&resp);
    if (call_simple(c, &r, &resp, err))
        goto out;
    if (etag && etaglen)
        (void)sl_s3_copy_result_etag(resp.body.data, resp.body.len, etag, etaglen);
    rc = 0;
out:
    sl_aws_response_cleanup(&resp);
    return rc;
}

/* --- multipart copy ------------------------------------------------------------------------ */

int sl_s3_create_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                   const sl_s3_write_opts *o, const char *marker, char *err,
                                   size_t errlen)
{
    req_start(r, "POST", bucket);
    if (req_key(r, bucket, key, err, errlen)) {
        sl_s3_req_cleanup(r);
        return -1;
    }
    r->req.query = "uploads=";
    req_write_opts(r, o, 1);
    req_header(r, SL_S3_META_SOURCE_ETAG, marker);
    return 0;
}

/* POST (complete, with body, taken over) or DELETE (abort) on key?uploadId=. */
static int upload_request(sl_s3_req *r, const char *method, const char *bucket, const char *key,
                          const char *upload_id, char *body, const char *expected_owner, char *err,
                          size_t errlen)
{
    req_start(r, method, bucket);
    r->body = body;
    if (!upload_id || !*upload_id) {
        sl_seterr(err, errlen, "s3 multipart: empty upload id");
        goto fail;
    }
    if (req_key(r, bucket, key, err, errlen))
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
    req_header(r, "x-amz-expected-bucket-owner", expected_owner);
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
        req_start(r, "POST", bucket);
        return sl_seterr(err, errlen, "s3 multipart: cannot build the completion body");
    }
    return upload_request(r, "POST", bucket, key, upload_id, body, expected_owner, err, errlen);
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

int sl_s3_parse_upload_id(const char *body, size_t len, char **out, char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    char *id;

    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "CreateMultipartUpload answer: %s", perr);
    id = sl_xml_text(sl_xml_find(sl_xml_root(doc), "UploadId"));
    xmlFreeDoc(doc);
    if (!id || !*id) {
        free(id);
        return sl_seterr(err, errlen, "CreateMultipartUpload answer has no UploadId");
    }
    *out = id;
    return 0;
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

    req_start(r, "POST", bucket);
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
    req_header(r, "Content-MD5", r->md5);
    req_header(r, "Content-Type", "application/xml");
    req_header(r, "x-amz-expected-bucket-owner", expected_owner);
    return 0;
}

int sl_s3_delete_objects(sl_aws *c, const char *bucket, const char *const *keys, size_t nkeys,
                         const char *expected_owner, sl_s3_delete_failure **failures,
                         size_t *nfailures, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    char msg[SL_ERRLEN];
    int rc = -1;

    sl_aws_response_init(&resp);
    if (sl_s3_delete_request(&r, bucket, keys, nkeys, expected_owner, msg, sizeof(msg))) {
        fail_local(err, "InvalidRequest", msg);
        goto out;
    }
    if (sl_aws_call(c, &r.req, &resp, err))
        goto out;
    if (sl_s3_delete_result_parse(resp.body.data, resp.body.len, failures, nfailures, msg,
                                  sizeof(msg))) {
        int attempts = err->attempts;
        fail_local(err, "ParseError", msg);
        err->attempts = attempts;
        goto out;
    }
    rc = 0;
out:
    sl_s3_req_cleanup(&r);
    sl_aws_response_cleanup(&resp);
    return rc;
}
