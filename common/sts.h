/*
 * sts.h - the STS calls snaplake makes, on an sl_aws client: AssumeRole (signed),
 * AssumeRoleWithWebIdentity (unsigned: the token is the proof) and GetCallerIdentity.
 *
 * This module sits above the transport (aws_http.h) and below the credentials chain (creds.h),
 * whose web-identity and assume-role sources call it: it sends the requests and hands back
 * STS's answer; reading <Credentials> out of it is the chain's (sl_creds_from_sts_doc,
 * sl_creds_parse_sts_xml), so nothing here includes creds.h. Errors are the transport's
 * sl_aws_error (AWS's code and message, scrubbed), never a secret: the web identity token and
 * the external id are not echoed.
 */
#ifndef SL_STS_H
#define SL_STS_H

#include <stddef.h>

#include <libxml/tree.h>

#include "aws_http.h"
#include "util.h"

/* The STS API version of every call (query protocol). */
#define SL_STS_VERSION "2011-06-15"

/* AssumeRole's parameters; strings borrowed for the call. */
typedef struct sl_sts_assume_role_req {
    const char *role_arn;     /* required */
    const char *session_name; /* required (2..64 of [\w+=,.@-]; the caller checks) */
    const char *external_id;  /* NULL = none; a secret */
    long long duration_s;     /* 0 = STS default (1 h) */
} sl_sts_assume_role_req;

/*
 * STS AssumeRole on sts, signed with sts's credentials. On success *doc is STS's answer,
 * owned by the caller (xmlFreeDoc; it holds the new secret key). -1 with err otherwise
 * (err->code "InvalidRequest" when role_arn or session_name is missing).
 */
int sl_sts_assume_role(sl_aws *sts, const sl_sts_assume_role_req *req, xmlDoc **doc,
                       sl_aws_error *err) SL_MUST_CHECK;

/*
 * STS AssumeRoleWithWebIdentity for role_arn as session_name with the web identity token,
 * sent unsigned (req.anonymous; sts may have no credentials at all). resp must have been set
 * up with sl_aws_response_init; on success (0) resp->body holds STS's XML answer, which holds
 * secrets: the caller parses it (sl_creds_parse_sts_xml) and wipes it. -1 with err otherwise.
 * The form body carrying the token is wiped before return.
 */
int sl_sts_assume_role_with_web_identity(sl_aws *sts, const char *role_arn,
                                         const char *session_name, const char *token,
                                         sl_aws_response *resp, sl_aws_error *err) SL_MUST_CHECK;

/*
 * STS GetCallerIdentity: the 12-digit account of whoever c signs as, into account[len]
 * (len >= 13). -1 with err otherwise; an answer without a 12-digit <Account> is err->code
 * "BadResponse", not transient.
 */
int sl_sts_get_caller_identity(sl_aws *c, char *account, size_t len,
                               sl_aws_error *err) SL_MUST_CHECK;

#endif /* SL_STS_H */
