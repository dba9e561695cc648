/*
 * aws_xfer.c - see aws_http.h ("many requests at once"). Each transfer is a signed easy handle
 * of its own, set up exactly as sl_aws_call's (aws_http_int.h), for a multi handle the caller
 * drives (the copy worker); retrying is the caller's, with sl_aws_backoff_ms. A freed xfer's
 * handle is reset and kept by the client (sl_aws.idle) for the next xfer.
 */
#include "aws_http.h"

#include <stdlib.h>
#include <string.h>

#include "aws_http_int.h"

struct sl_aws_xfer {
    sl_aws *c;
    CURL *easy;
    aws_prepared p;
    char *service;
    char *method;
    char *body; /* our copy: CURLOPT_POSTFIELDS does not copy */
    size_t body_len;
    sl_aws_response resp;
    aws_io io;
    char curl_err[CURL_ERROR_SIZE];
    void *user;
    char operation[64];      /* for the observer */
    int signed_req;          /* signed with the client's credentials (not anonymous) */
    unsigned long creds_gen; /* the client's creds_gen when it was signed */
};

int sl_aws_xfer_new(sl_aws *c, const sl_aws_request *req, sl_aws_xfer **out, sl_aws_error *err)
{
    sl_aws_xfer *x;
    sl_aws_request copy;

    memset(err, 0, sizeof(*err));
    x = calloc(1, sizeof(*x));
    if (!x) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws xfer: out of memory");
        return -1;
    }
    x->c = c;
    sl_aws_response_init(&x->resp);
    x->io.resp = &x->resp;
    x->service = sl_strdup0(req->service);
    x->method = sl_strdup0(req->method);
    sl_aws_operation_name(req, x->operation, sizeof(x->operation));
    x->body_len = req->body ? req->body_len : 0;
    x->body = malloc(x->body_len + 1);
    if (!x->service || !x->method || !x->body) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws xfer: out of memory");
        goto fail;
    }
    if (x->body_len)
        memcpy(x->body, req->body, x->body_len);
    x->body[x->body_len] = '\0';
    copy = *req;
    copy.body = x->body;
    copy.body_len = x->body_len;
    x->signed_req = !req->anonymous && c->creds.get;
    x->creds_gen = c->creds_gen;
    if (sl_aws_prepare(c, &copy, &x->p, err))
        goto fail;
    x->easy = c->nidle ? c->idle[--c->nidle] : curl_easy_init();
    if (!x->easy) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws xfer: curl_easy_init failed");
        goto fail;
    }
    if (sl_aws_setup_easy(c, x->easy, &x->p, x->method, x->body, x->body_len, &x->io,
                          x->curl_err) ||
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws xfer: curl_easy_setopt failed");
        goto fail;
    }
    err->attempts = 0;
    *out = x;
    return 0;
fail:
    sl_aws_xfer_free(x);
    return -1;
}

CURL *sl_aws_xfer_handle(sl_aws_xfer *x)
{
    return x->easy;
}

void sl_aws_xfer_set_user(sl_aws_xfer *x, void *user)
{
    x->user = user;
}

void *sl_aws_xfer_user(const sl_aws_xfer *x)
{
    return x->user;
}

int sl_aws_xfer_finish(sl_aws_xfer *x, CURLcode cc, sl_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    err->attempts = 1;
    if (sl_aws_classify(x->easy, cc, &x->io, x->service, x->method, x->curl_err, err) == 0) {
        sl_aws_observe(x->c, x->service, x->operation, 1, err, 0);
        return 0;
    }
    err->attempts = 1;
    /* sl_aws_call's rule for expired credentials, for transfers: drop the cache and let the
       caller's retry sign again with fresh ones (transient). Only the first answer of those
       signed with the same credentials drops it: 1,024 copies in flight are one refetch. */
    if (x->signed_req && sl_aws_expired_code(err->code)) {
        if (x->creds_gen == x->c->creds_gen)
            sl_aws_creds_expired(x->c);
        err->transient = 1;
    }
    sl_aws_observe(x->c, x->service, x->operation, 0, err, 0);
    return -1;
}

const sl_aws_response *sl_aws_xfer_response(const sl_aws_xfer *x)
{
    return &x->resp;
}

void sl_aws_xfer_free(sl_aws_xfer *x)
{
    if (!x)
        return;
    /* Off every multi handle by now (aws_http.h), so it can be reset and kept: the next xfer
       sets every option it needs again. */
    if (x->easy && x->c->nidle < AWS_IDLE_EASY) {
        curl_easy_reset(x->easy);
        x->c->idle[x->c->nidle++] = x->easy;
    } else if (x->easy) {
        curl_easy_cleanup(x->easy);
    }
    sl_aws_prepared_cleanup(&x->p);
    sl_aws_response_cleanup(&x->resp);
    free(x->service);
    free(x->method);
    free(x->body);
    free(x);
}
