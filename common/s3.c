/*
 * s3.c - the S3 calls of s3.h: each builds its request (s3_req.c), runs it through sl_aws_call
 * and reads the answer (s3_parse.c). S3 API Reference (2006-03-01) for every request shape.
 */
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

static void fail_local(sl_aws_error *err, const char *code, const char *msg)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "%s", code);
    snprintf(err->message, sizeof(err->message), "%s", msg);
}

/* An answer that came but does not parse: ParseError, keeping the attempts the call made. */
static void fail_parse(sl_aws_error *err, const char *msg)
{
    int attempts = err->attempts;

    fail_local(err, "ParseError", msg);
    err->attempts = attempts;
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

    sl_s3_req_start(&r, "PUT", bucket);
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

    if (sl_s3_get_request(&r, bucket, key, NULL, msg, sizeof(msg))) {
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

int sl_s3_head_parse(const sl_aws_response *resp, sl_s3_head_result *out, char *err, size_t errlen)
{
    sl_s3_head_result h;
    char len[32];

    memset(&h, 0, sizeof(h));
    if (sl_aws_response_header(resp, "Content-Length", len, sizeof(len)) ||
        sl_s3_parse_size(len, &h.size))
        return sl_seterr(err, errlen, "s3 head: no valid Content-Length");
    (void)sl_aws_response_header(resp, "ETag", h.etag, sizeof(h.etag));
    (void)sl_aws_response_header(resp, "Last-Modified", h.last_modified, sizeof(h.last_modified));
    (void)sl_aws_response_header(resp, SL_S3_META_SOURCE_ETAG, h.source_etag,
                                 sizeof(h.source_etag));
    *out = h;
    return 0;
}

int sl_s3_head(sl_aws *c, const char *bucket, const char *key, const char *expected_owner,
               sl_s3_head_result *out, sl_aws_error *err)
{
    sl_s3_req r;
    sl_aws_response resp;
    sl_s3_head_result h;
    char msg[SL_ERRLEN];
    int rc = -1;

    if (sl_s3_head_request(&r, bucket, key, expected_owner, msg, sizeof(msg))) {
        fail_local(err, "InvalidRequest", msg);
        return -1;
    }
    sl_aws_response_init(&resp);
    if (call_simple(c, &r, &resp, err)) {
        /* A HEAD answer has no body to name the error; S3's 404 on an object is NoSuchKey. */
        if (err->http_status == 404 && strcmp(err->code, "NotFound") == 0)
            snprintf(err->code, sizeof(err->code), "NoSuchKey");
        goto out;
    }
    if (sl_s3_head_parse(&resp, &h, msg, sizeof(msg))) {
        fail_local(err, "ParseError", msg);
        goto out;
    }
    *out = h;
    rc = 0;
out:
    sl_aws_response_cleanup(&resp);
    return rc;
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
        fail_parse(err, msg);
        err->http_status = resp.status;
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
        fail_parse(err, msg);
        goto out;
    }
    rc = 0;
out:
    sl_s3_req_cleanup(&r);
    sl_aws_response_cleanup(&resp);
    return rc;
}
