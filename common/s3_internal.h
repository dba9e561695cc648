/*
 * s3_internal.h - private to common/s3*.c: the request-building steps of s3_req.c that the
 * calls in s3.c also use for the requests that have no public builder (CreateBucket, GetObject,
 * HeadObject), and the number parser s3_parse.c shares with HeadObject. Code outside the
 * module includes s3.h only.
 */
#ifndef SL_S3_INTERNAL_H
#define SL_S3_INTERNAL_H

#include "s3.h"

/* The namespace of every S3 XML document (requests and answers). */
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Zeroes *r and starts a request: service "s3", method, bucket, headers in r->hdrs. */
void sl_s3_req_start(sl_s3_req *r, const char *method, const char *bucket);

/* Adds a header (borrowed strings that must outlive r); NULL/"" values and a full table are
   skipped. */
void sl_s3_req_header(sl_s3_req *r, const char *name, const char *value);

/* Sets r's path to the encoded key (sl_s3_key_path, owned by r). 0, or -1 with err for an empty
   bucket or key, or out of memory; r then needs sl_s3_req_cleanup. */
int sl_s3_req_key(sl_s3_req *r, const char *bucket, const char *key, char *err,
                  size_t errlen) SL_MUST_CHECK;

/* A non-negative decimal (Size, Content-Length) into *out. 0, or -1 for anything else. */
int sl_s3_parse_size(const char *s, long long *out) SL_MUST_CHECK;

#endif /* SL_S3_INTERNAL_H */
