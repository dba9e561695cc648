/*
 * aws_operation.c - sl_aws_operation_name (aws_http.h): which AWS operation a request is, for
 * the metrics observer. Pure: it reads the request as the protocols build it (aws_query.c puts
 * Action first, aws_json.c names the target in X-Amz-Target, REST-JSON puts it in the path,
 * S3 is told apart by method, bucket, key, query and copy headers).
 */
#include "aws_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The value of header `name` among req's extra headers, or NULL. */
static const char *req_header_value(const sl_aws_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void sl_aws_operation_name(const sl_aws_request *req, char *out, size_t outlen)
{
    const char *v, *m = req->method ? req->method : "";
    size_t n;

    if ((v = req_header_value(req, "X-Amz-Target")) && *v) {
        const char *dot = strrchr(v, '.');
        snprintf(out, outlen, "%s", dot ? dot + 1 : v);
    } else if (req->body && req->body_len > 7 && memcmp(req->body, "Action=", 7) == 0) {
        /* The query protocol's first form field (sl_aws_query writes it first). */
        const char *b = (const char *)req->body + 7;
        for (n = 0; n < req->body_len - 7 && b[n] != '&'; n++)
            ;
        snprintf(out, outlen, "%.*s", (int)(n < 63 ? n : 63), b);
    } else if (req->service && strcmp(req->service, "s3") == 0) {
        const char *q = req->query ? req->query : "";
        int object = req->path && strcmp(req->path, "/") != 0 && *req->path;
        const char *op = !req->bucket                                       ? "ListBuckets"
                         : req_header_value(req, "x-amz-copy-source-range") ? "UploadPartCopy"
                         : req_header_value(req, "x-amz-copy-source")       ? "CopyObject"
                         : strstr(q, "uploads=")                        ? "CreateMultipartUpload"
                         : strstr(q, "uploadId=") && !strcmp(m, "POST") ? "CompleteMultipartUpload"
                         : strstr(q, "uploadId=") && !strcmp(m, "DELETE") ? "AbortMultipartUpload"
                         : strstr(q, "uploadId=")                         ? "UploadPart"
                         : strstr(q, "delete=")                           ? "DeleteObjects"
                         : !object && !strcmp(m, "GET")                   ? "ListObjectsV2"
                         : !object && !strcmp(m, "HEAD")                  ? "HeadBucket"
                         : !strcmp(m, "GET")                              ? "GetObject"
                         : !strcmp(m, "PUT")                              ? "PutObject"
                         : !strcmp(m, "HEAD")                             ? "HeadObject"
                         : !strcmp(m, "DELETE")                           ? "DeleteObject"
                                                                          : m;
        snprintf(out, outlen, "%s", op);
    } else if (req->path && req->path[0] == '/' && req->path[1]) {
        /* REST-JSON (Lake Formation): the operation is the path, "/GrantPermissions". */
        const char *p = req->path + 1;
        for (n = 0; p[n] && p[n] != '/' && p[n] != '?'; n++)
            ;
        snprintf(out, outlen, "%.*s", (int)(n < 63 ? n : 63), p);
    } else {
        snprintf(out, outlen, "%s", m);
    }
}
