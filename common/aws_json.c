/*
 * aws_json.c - the JSON protocol, versions 1.0 (SQS) and 1.1 (Glue): a POST to "/" naming the
 * operation in X-Amz-Target, and the JSON call the REST-JSON protocol shares (aws_rest_json.c).
 * See aws_http.h.
 */
#include "aws_http.h"

#include <stdlib.h>
#include <string.h>

int sl_aws_json_call(sl_aws *c, const char *service, const char *method, const char *path,
                     const sl_http_header *hdrs, size_t nhdrs, const cJSON *body, cJSON **out,
                     sl_aws_error *err)
{
    sl_aws_request req;
    sl_aws_response resp;
    char *text = NULL;
    cJSON *j = NULL;
    int rc = -1;

    memset(err, 0, sizeof(*err));
    sl_aws_response_init(&resp);
    text = body ? cJSON_PrintUnformatted(body) : strdup("{}");
    if (!text) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws json: cannot serialise the request");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.service = service;
    req.method = method;
    req.path = path;
    req.headers = hdrs;
    req.nheaders = nhdrs;
    /* GET/DELETE REST-JSON calls carry no body. */
    if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0 &&
        strcmp(method, "HEAD") != 0) {
        req.body = text;
        req.body_len = strlen(text);
    }
    if (sl_aws_call(c, &req, &resp, err))
        goto out;
    if (resp.body.len == 0) {
        j = cJSON_CreateObject();
    } else {
        j = cJSON_ParseWithLength(resp.body.data, resp.body.len);
    }
    if (!j) {
        int attempts = err->attempts;
        sl_aws_error_set(err, resp.status, 0, "ParseError", "%s %s: response is not JSON", service,
                         path);
        err->attempts = attempts;
        goto out;
    }
    *out = j;
    rc = 0;
out:
    free(text);
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_aws_json(sl_aws *c, const char *service, const char *target, const cJSON *body, cJSON **out,
                sl_aws_error *err)
{
    return sl_aws_json_version(c, service, "1.1", target, body, out, err);
}

int sl_aws_json_version(sl_aws *c, const char *service, const char *version, const char *target,
                        const cJSON *body, cJSON **out, sl_aws_error *err)
{
    sl_http_header hdrs[2];

    hdrs[0].name = "Content-Type";
    /* The two versions differ on the wire only in this header (and SQS answers 1.0 alone). */
    hdrs[0].value = version && strcmp(version, "1.0") == 0 ? "application/x-amz-json-1.0"
                                                           : "application/x-amz-json-1.1";
    hdrs[1].name = "X-Amz-Target";
    hdrs[1].value = target ? target : "";
    return sl_aws_json_call(c, service, "POST", "/", hdrs, 2, body, out, err);
}
