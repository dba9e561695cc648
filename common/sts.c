/*
 * sts.c - see sts.h. The calls follow the STS API reference (version 2011-06-15, query
 * protocol); AssumeRoleWithWebIdentity "does not require AWS security credentials", so it goes
 * out unsigned through sl_aws_query_send, and its raw answer is the caller's to parse.
 */
#include "sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

int sl_sts_assume_role(sl_aws *sts, const sl_sts_assume_role_req *req, xmlDoc **doc,
                       sl_aws_error *err)
{
    const char *params[9];
    char dur[24];
    size_t np = 0;

    memset(err, 0, sizeof(*err));
    if (!req || !req->role_arn || !req->session_name) {
        sl_aws_error_set(err, 0, 0, "InvalidRequest", "sts AssumeRole: no role or session name");
        return -1;
    }
    params[np++] = "RoleArn";
    params[np++] = req->role_arn;
    params[np++] = "RoleSessionName";
    params[np++] = req->session_name;
    if (req->external_id) {
        params[np++] = "ExternalId";
        params[np++] = req->external_id;
    }
    if (req->duration_s) {
        snprintf(dur, sizeof(dur), "%lld", req->duration_s);
        params[np++] = "DurationSeconds";
        params[np++] = dur;
    }
    params[np] = NULL;
    return sl_aws_query(sts, "sts", "AssumeRole", SL_STS_VERSION, params, doc, err);
}

int sl_sts_assume_role_with_web_identity(sl_aws *sts, const char *role_arn,
                                         const char *session_name, const char *token,
                                         sl_aws_response *resp, sl_aws_error *err)
{
    const char *params[] = {
        "RoleArn", role_arn, "RoleSessionName", session_name, "WebIdentityToken", token, NULL};

    if (!role_arn || !session_name || !token) {
        memset(err, 0, sizeof(*err));
        sl_aws_error_set(err, 0, 0, "InvalidRequest",
                         "sts AssumeRoleWithWebIdentity: no role, session name or token");
        return -1;
    }
    /* Unsigned, and the form holding the token is wiped by sl_aws_query_send. */
    return sl_aws_query_send(sts, "sts", "AssumeRoleWithWebIdentity", SL_STS_VERSION, params, 1,
                             resp, err);
}

int sl_sts_get_caller_identity(sl_aws *c, char *account, size_t len, sl_aws_error *err)
{
    xmlDoc *doc = NULL;
    xmlNode *n;
    char *acct = NULL;
    int rc = -1;

    if (sl_aws_query(c, "sts", "GetCallerIdentity", SL_STS_VERSION, NULL, &doc, err) != 0)
        return -1;
    n = sl_xml_find(sl_xml_root(doc), "Account");
    acct = n ? sl_xml_text(n) : NULL;
    xmlFreeDoc(doc);
    if (!acct || strlen(acct) != 12 || strspn(acct, "0123456789") != 12 || len < 13) {
        int attempts = err->attempts;
        sl_aws_error_set(err, 200, 0, "BadResponse", "no 12-digit Account");
        err->attempts = attempts;
        goto out;
    }
    snprintf(account, len, "%s", acct);
    rc = 0;
out:
    free(acct);
    return rc;
}
