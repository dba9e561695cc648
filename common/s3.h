/*
 * s3.h - the S3 operations the pipeline needs, as thin functions over sl_aws_call, plus
 * request builders (sl_s3_req) so the copy worker can run the same requests through
 * sl_aws_xfer on its own curl multi handle.
 *
 * Keys are raw UTF-8 bytes everywhere in this API; encoding for the wire is done here
 * (sl_s3_key_path for paths, the x-amz-copy-source rule, encoding-type=url for listings).
 * Cross-account: `expected_owner` sends x-amz-expected-bucket-owner (S3 refuses with 403
 * AccessDenied when the bucket belongs to someone else), `source_expected_owner` sends
 * x-amz-source-expected-bucket-owner for the copy source.
 *
 * One header for the module, because the copy worker uses builders, parsers and calls together;
 * the code is split by concern: s3_req.c (pure helpers, request builders, XML bodies),
 * s3_parse.c (parsers of S3's answers, fuzzed) and s3.c (the calls); s3_internal.h holds what
 * they share inside the module.
 */
#ifndef SL_S3_H
#define SL_S3_H

#include <stddef.h>

#include "aws_http.h"
#include "util.h"

/* CopyObject copies at most 5 GiB; larger objects need multipart UploadPartCopy. */
#define SL_S3_COPY_MAX ((long long)5 * 1024 * 1024 * 1024)
#define SL_S3_PART_MIN ((long long)5 * 1024 * 1024)
#define SL_S3_PART_MAX ((long long)5 * 1024 * 1024 * 1024)
#define SL_S3_MAX_PARTS 10000
#define SL_S3_DELETE_MAX 1000
/* User metadata the copy stage puts on a multipart copy: the source object's ETag (without
   quotes), so a restarted copy can tell the object is already there (its own ETag differs). */
#define SL_S3_META_SOURCE_ETAG "x-amz-meta-sl-source-etag"

/* Options shared by writes. All borrowed; NULL = not sent. */
typedef struct sl_s3_write_opts {
    const char *kms_key_id;            /* SSE-KMS key (x-amz-server-side-encryption: aws:kms) */
    const char *expected_owner;        /* destination bucket's account id */
    const char *source_expected_owner; /* copy source bucket's account id */
    /* The object's Content-Type. On CopyObject it comes with x-amz-metadata-directive REPLACE:
       the copy carries this instead of the source's metadata. */
    const char *content_type;
} sl_s3_write_opts;

/*
 * A request ready for sl_aws_call or sl_aws_xfer_new: `req` points into this struct (and at
 * the caller's body for PutObject, which must outlive it). Clean up with sl_s3_req_cleanup.
 */
typedef struct sl_s3_req {
    sl_aws_request req;
    sl_http_header hdrs[8];
    char *path;        /* heap */
    char *query;       /* heap or NULL */
    char *copy_source; /* heap or NULL */
    char *body;        /* heap or NULL (built XML bodies) */
    char range[64];
    char md5[32];
} sl_s3_req;

void sl_s3_req_cleanup(sl_s3_req *r);

/* --- pure helpers --------------------------------------------------------------------------- */

/*
 * "/" + key encoded once with AWS's UriEncode, '/' kept: the path S3 expects and signs
 * ("a b+c%/é" -> "/a%20b%2Bc%25/%C3%A9"). Heap string, NULL on OOM or NULL/empty key.
 */
char *sl_s3_key_path(const char *key);

/*
 * The x-amz-copy-source value "bucket/key", URL-encoded with the same rule as paths (botocore
 * percent-encodes it with safe "/-._~"); so '+', '%', '?', spaces and non-ASCII survive.
 * Heap string, NULL on OOM or empty names.
 */
char *sl_s3_copy_source(const char *bucket, const char *key);

/*
 * Decodes a value from a listing made with encoding-type=url: %XX and '+' (S3 writes a space
 * as '+', and '+' itself as %2B; botocore decodes with unquote_plus). Heap string, NULL on OOM
 * or a malformed escape.
 */
char *sl_s3_url_decode(const char *in);

/* One byte range of a multipart copy: bytes first..last inclusive. */
typedef struct sl_s3_part_range {
    long long first;
    long long last;
} sl_s3_part_range;

/*
 * Splits `size` bytes into parts of `part_size` (the last one shorter). When that would need
 * more than 10,000 parts the part size grows (rounded up to whole MiB) to fit, as the SDKs'
 * transfer managers do. part_size is clamped to 5 MiB..5 GiB. Returns 0 with *out (malloc'd
 * array, free()) and *n, or -1 with err (size <= 0, or too large for 10,000 parts of 5 GiB).
 */
int sl_s3_part_ranges(long long size, long long part_size, sl_s3_part_range **out, size_t *n,
                      char *err, size_t errlen) SL_MUST_CHECK;

/* --- ListObjectsV2 -------------------------------------------------------------------------- */

typedef struct sl_s3_object {
    char *key; /* decoded, heap */
    long long size;
    char etag[80]; /* as S3 sends it, with quotes */
    char last_modified[40];
} sl_s3_object;

typedef struct sl_s3_list_page {
    sl_s3_object *objects;
    size_t count;
    char **prefixes; /* CommonPrefixes (a listing with a delimiter), decoded, heap */
    size_t nprefixes;
    char *next_token; /* heap; NULL when not truncated */
    int truncated;
} sl_s3_list_page;

void sl_s3_list_page_cleanup(sl_s3_list_page *p);

/*
 * Parses one ListObjectsV2 response body (len bytes). `url_encoded` says the request asked for
 * encoding-type=url, so keys are decoded. Returns 0 with *out filled (caller cleans up), or
 * -1 with err (malformed XML, bad size, bad escape, IsTruncated without a token). Pure; fuzzed.
 */
int sl_s3_list_parse(const char *body, size_t len, int url_encoded, sl_s3_list_page *out, char *err,
                     size_t errlen) SL_MUST_CHECK;

typedef struct sl_s3_list_opts {
    const char *prefix;             /* NULL = whole bucket */
    const char *continuation_token; /* NextContinuationToken of the previous page, or NULL */
    const char *start_after;        /* NULL = from the start */
    int max_keys;                   /* 1..1000; 0 = S3's default (1000) */
    const char *expected_owner;
    const char *delimiter; /* NULL = none; "/" lists one folder level (CommonPrefixes) */
} sl_s3_list_opts;

/*
 * One page of ListObjectsV2 with encoding-type=url. 0 with *out filled (caller cleans up), or
 * -1 with err (AWS's code, e.g. NoSuchBucket; "ParseError" for a bad body).
 */
int sl_s3_list(sl_aws *c, const char *bucket, const sl_s3_list_opts *o, sl_s3_list_page *out,
               sl_aws_error *err) SL_MUST_CHECK;

/* Builds that ListObjectsV2 request (parse the answer with sl_s3_list_parse, url_encoded 1).
   0, or -1 with err (r then needs no cleanup, though sl_s3_req_cleanup is harmless). */
int sl_s3_list_request(sl_s3_req *r, const char *bucket, const sl_s3_list_opts *o, char *err,
                       size_t errlen) SL_MUST_CHECK;

/*
 * The CompleteMultipartUpload request body for parts 1..n with the given ETags (as S3 sent
 * them, quotes included), built with libxml2 so every value is escaped. A heap string
 * (free()), or NULL when n is 0 or above SL_S3_MAX_PARTS, an ETag is NULL, or memory ran out.
 */
char *sl_s3_complete_body(char *const *etags, size_t n);

/*
 * Reads the UploadId out of a CreateMultipartUpload answer. 0 with *out a heap string
 * (free()), or -1 with err for malformed XML or a missing/empty UploadId. Pure.
 */
int sl_s3_parse_upload_id(const char *body, size_t len, char **out, char *err,
                          size_t errlen) SL_MUST_CHECK;

/* --- objects ---------------------------------------------------------------------------------- */

/* CreateBucket (LocationConstraint unless the region is us-east-1). For tests and the demo. */
int sl_s3_create_bucket(sl_aws *c, const char *bucket, sl_aws_error *err) SL_MUST_CHECK;

/* Builds PutObject; data is borrowed and must outlive r. 0, or -1 with err. */
int sl_s3_put_request(sl_s3_req *r, const char *bucket, const char *key, const void *data,
                      size_t len, const sl_s3_write_opts *o, char *err,
                      size_t errlen) SL_MUST_CHECK;

/* PutObject of len bytes. 0, or -1 with err. */
int sl_s3_put(sl_aws *c, const char *bucket, const char *key, const void *data, size_t len,
              const sl_s3_write_opts *o, sl_aws_error *err) SL_MUST_CHECK;

/*
 * GetObject appended to *out (caller-initialised; its limit caps the body, failing with
 * "ResponseTooLarge"). 0, or -1 with err (NoSuchKey, ...); *out unchanged on failure.
 */
int sl_s3_get(sl_aws *c, const char *bucket, const char *key, sl_buf *out,
              sl_aws_error *err) SL_MUST_CHECK;

/* Builds that GetObject request (expected_owner: x-amz-expected-bucket-owner, or NULL) for a
   caller that sends it without blocking; the answer's body is the object. 0, or -1 with err
   (r then needs no cleanup, though sl_s3_req_cleanup is harmless). */
int sl_s3_get_request(sl_s3_req *r, const char *bucket, const char *key, const char *expected_owner,
                      char *err, size_t errlen) SL_MUST_CHECK;

typedef struct sl_s3_head_result {
    long long size;
    char etag[80];
    char last_modified[64];
    char source_etag[80]; /* SL_S3_META_SOURCE_ETAG, "" when absent */
} sl_s3_head_result;

/* Builds HeadObject of key (the answer: sl_s3_head_parse). 0, or -1 with err. */
int sl_s3_head_request(sl_s3_req *r, const char *bucket, const char *key,
                       const char *expected_owner, char *err, size_t errlen) SL_MUST_CHECK;

/* Reads a HeadObject answer's headers into *out. 0, or -1 with err (no valid Content-Length). */
int sl_s3_head_parse(const sl_aws_response *resp, sl_s3_head_result *out, char *err,
                     size_t errlen) SL_MUST_CHECK;

/* HeadObject. 0 with *out, or -1 with err; a missing key is code "NoSuchKey" (HEAD answers
   have no body, so the 404 is translated here). */
int sl_s3_head(sl_aws *c, const char *bucket, const char *key, const char *expected_owner,
               sl_s3_head_result *out, sl_aws_error *err) SL_MUST_CHECK;

/* Builds CopyObject src -> dst (up to 5 GiB) with o's SSE-KMS, owner and content type
   headers (a content type replaces the source's metadata, see sl_s3_write_opts). */
int sl_s3_copy_request(sl_s3_req *r, const char *src_bucket, const char *src_key,
                       const char *dst_bucket, const char *dst_key, const sl_s3_write_opts *o,
                       char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Reads the ETag out of a CopyObject / UploadPartCopy result body into etag (outlen bytes).
 * 0, or -1 when the body has no ETag.
 */
int sl_s3_copy_result_etag(const char *body, size_t len, char *etag, size_t outlen);

/* CopyObject (S3's 200-with-<Error> counts as a failure). etag may be NULL. 0 or -1. */
int sl_s3_copy(sl_aws *c, const char *src_bucket, const char *src_key, const char *dst_bucket,
               const char *dst_key, const sl_s3_write_opts *o, char *etag, size_t etaglen,
               sl_aws_error *err) SL_MUST_CHECK;

/* Builds UploadPartCopy of range into part part_number (1..10000) of upload_id. */
int sl_s3_upload_part_copy_request(sl_s3_req *r, const char *src_bucket, const char *src_key,
                                   const char *dst_bucket, const char *dst_key,
                                   const char *upload_id, int part_number,
                                   const sl_s3_part_range *range, const sl_s3_write_opts *o,
                                   char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Builds CreateMultipartUpload of dst_key with o's SSE-KMS and owner headers, and `marker`
 * (NULL = none) as SL_S3_META_SOURCE_ETAG. The answer's UploadId: sl_s3_parse_upload_id.
 */
int sl_s3_create_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                   const sl_s3_write_opts *o, const char *marker, char *err,
                                   size_t errlen) SL_MUST_CHECK;

/* Builds CompleteMultipartUpload of upload_id with parts 1..n (sl_s3_complete_body). S3 may
   answer 200 with an <Error> body; sl_aws_call and sl_aws_xfer_finish count it an error. */
int sl_s3_complete_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                     const char *upload_id, char *const *etags, size_t n,
                                     const char *expected_owner, char *err,
                                     size_t errlen) SL_MUST_CHECK;

/* Builds AbortMultipartUpload of upload_id (uploaded parts are billed until it is sent). */
int sl_s3_abort_multipart_request(sl_s3_req *r, const char *bucket, const char *key,
                                  const char *upload_id, const char *expected_owner, char *err,
                                  size_t errlen) SL_MUST_CHECK;

/* One key DeleteObjects could not delete. */
typedef struct sl_s3_delete_failure {
    char *key; /* heap */
    char code[64];
    char message[256];
} sl_s3_delete_failure;

void sl_s3_delete_failures_free(sl_s3_delete_failure *f, size_t n);

/*
 * Parses a DeleteObjects result: every <Error> entry becomes a failure. 0 with *out (array,
 * free with sl_s3_delete_failures_free; NULL when none) and *n, or -1 with err.
 */
int sl_s3_delete_result_parse(const char *body, size_t len, sl_s3_delete_failure **out, size_t *n,
                              char *err, size_t errlen) SL_MUST_CHECK;

/*
 * DeleteObjects of up to 1,000 keys in quiet mode (only failures are reported), XML body
 * with Content-MD5. Returns 0 when the call succeeded, with per-key failures in *failures /
 * *nfailures (may be 0 entries); -1 with err when the call itself failed or a key cannot be
 * written in XML 1.0 (control characters).
 */
int sl_s3_delete_objects(sl_aws *c, const char *bucket, const char *const *keys, size_t nkeys,
                         const char *expected_owner, sl_s3_delete_failure **failures,
                         size_t *nfailures, sl_aws_error *err) SL_MUST_CHECK;

/* Builds that DeleteObjects request (the answer: sl_s3_delete_result_parse). 0, or -1 with err
   (a bad key count, a key XML 1.0 cannot carry, out of memory). */
int sl_s3_delete_request(sl_s3_req *r, const char *bucket, const char *const *keys, size_t nkeys,
                         const char *expected_owner, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_S3_H */
