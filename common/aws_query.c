/*
 * aws_query.c - the query protocol (RDS, STS): a form-encoded POST of Action, Version and the
 * call's parameters, answered in XML. See sl_aws_query in aws_http.h.
 */
#include "aws_http.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "xml.h"

/* The form may carry secrets (an ExternalId, a web identity token): every copy is wiped. */
static void wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static int form_add(sl_buf *b, const char *k, const char *v)
{
    char *ek = sl_sigv4_uri_encode(k, strlen(k), 0);
    char *ev = sl_sigv4_uri_encode(v, strlen(v), 0);
    int rc = -1;

    if (ek && ev && sl_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", ek, ev) == 0)
        rc = 0;
    wipe_free(ek);
    wipe_free(ev);
    return rc;
}

int sl_aws_query_send(sl_aws *c, const char *service, const char *action, const char *version,
                      const char *const *params, int anonymous, sl_aws_response *resp,
                      sl_aws_error *err)
{
    static const sl_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sl_buf form;
    sl_aws_request req;
    int rc = -1;

    memset(err, 0, sizeof(*err));
    sl_buf_init(&form, 0);
    if (!action || !version || form_add(&form, "Action", action) ||
        form_add(&form, "Version", version)) {
        sl_aws_error_set(err, 0, 0, "InvalidRequest",
                         "aws query: bad action/version or out of memory");
        goto out;
    }
    for (size_t i = 0; params && params[i]; i += 2) {
        if (!params[i + 1]) {
            sl_aws_error_set(err, 0, 0, "InvalidRequest", "aws query: parameter %s has no value",
                             params[i]);
            goto out;
        }
        if (form_add(&form, params[i], params[i + 1])) {
            sl_aws_error_set(err, 0, 0, "InternalFailure", "aws query: out of memory");
            goto out;
        }
    }
    memset(&req, 0, sizeof(req));
    req.service = service;
    req.method = "POST";
    req.path = "/";
    req.headers = hdrs;
    req.nheaders = SL_ARRAY_LEN(hdrs);
    req.body = form.data;
    req.body_len = form.len;
    req.anonymous = anonymous;
    rc = sl_aws_call(c, &req, resp, err);
out:
    if (form.data)
        OPENSSL_cleanse(form.data, form.cap);
    sl_buf_cleanup(&form);
    return rc;
}

int sl_aws_query(sl_aws *c, const char *service, const char *action, const char *version,
                 const char *const *params, xmlDoc **doc, sl_aws_error *err)
{
    sl_aws_response resp;
    char perr[SL_ERRLEN];
    xmlDoc *d = NULL;
    int rc = -1;

    sl_aws_response_init(&resp);
    if (sl_aws_query_send(c, service, action, version, params, 0, &resp, err))
        goto out;
    d = sl_xml_parse(resp.body.data, resp.body.len, perr, sizeof(perr));
    if (!d) {
        int attempts = err->attempts;
        sl_aws_error_set(err, resp.status, 0, "ParseError", "%s %s: %s", service, action, perr);
        err->attempts = attempts;
        goto out;
    }
    *doc = d;
    rc = 0;
out:
    /* An STS answer (AssumeRole) holds a secret key and a session token. */
    if (strcmp(service, "sts") == 0 && resp.body.data)
        OPENSSL_cleanse(resp.body.data, resp.body.cap);
    sl_aws_response_cleanup(&resp);
    return rc;
}
