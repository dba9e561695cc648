/*
 * creds_source.c - the chain's sources (creds.h, in order): environment, web identity (STS
 * AssumeRoleWithWebIdentity), container agent, EC2 IMDSv2, and STS AssumeRole on top. Each
 * fetches once; choosing the source and caching what it returns are creds.c's. The metadata
 * endpoints are asked through the transport's plain request (sl_aws_plain_call: no signing, no
 * retry policy of the AWS client, no proxy), with capped bodies and short timeouts so that a
 * machine outside AWS passes through the chain quickly; the STS calls are sts.c's. Tokens and
 * keys never reach the log.
 */
#include "creds_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "sts.h"

/* --- metadata requests (container agent, IMDS) ------------------------------------------ */

/* Wipes a response that may hold credentials, and releases it. */
static void wipe_resp(sl_aws_response *r)
{
    if (r->body.data)
        OPENSSL_cleanse(r->body.data, r->body.cap);
    sl_aws_response_cleanup(r);
}

/*
 * One metadata request through the transport's plain path, into a fresh *resp whose body is
 * capped at cap. 0 with resp->status when an HTTP answer arrived (any status), -1 with err on
 * transport failure. Proxies are bypassed (sl_aws_plain_call): these endpoints are link-local
 * or loopback and the answer must come from them.
 */
static int meta_http(const char *method, const char *url, const sl_http_header *hdrs, size_t nhdrs,
                     long connect_ms, long total_ms, size_t cap, sl_aws_response *resp, char *err,
                     size_t errlen)
{
    const sl_aws_plain_request req = {method, url, hdrs, nhdrs, connect_ms, total_ms};

    wipe_resp(resp);
    sl_aws_response_init(resp);
    resp->body.limit = cap;
    return sl_aws_plain_call(&req, resp, err, errlen);
}

/* Reads a small secret file (token), trailing whitespace trimmed. Heap, wipe_free it. */
static char *read_secret_file(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    sl_buf b;
    char chunk[1024];
    size_t n;
    char *s = NULL;

    sl_buf_init(&b, CREDS_TOKEN_FILE_CAP);
    if (!f) {
        sl_seterr(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (sl_buf_append(&b, chunk, n)) {
            sl_seterr(err, errlen, "%s %s is larger than %zu bytes", what, path,
                      CREDS_TOKEN_FILE_CAP);
            goto out;
        }
    }
    if (ferror(f)) {
        sl_seterr(err, errlen, "cannot read %s %s", what, path);
        goto out;
    }
    while (b.len && isspace((unsigned char)b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        sl_seterr(err, errlen, "%s %s is empty", what, path);
        goto out;
    }
    s = sl_buf_steal(&b);
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (b.data)
        OPENSSL_cleanse(b.data, b.cap);
    sl_buf_cleanup(&b);
    if (f)
        fclose(f);
    return s;
}

/* --- providers --------------------------------------------------------------------------- */

int sl_creds_fetch_env(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *ak = sl_creds_penv(p, "AWS_ACCESS_KEY_ID");
    const char *sk = sl_creds_penv(p, "AWS_SECRET_ACCESS_KEY");

    if (!ak)
        return sl_seterr(err, errlen, "env: AWS_ACCESS_KEY_ID is not set");
    /* botocore raises PartialCredentialsError here rather than trying the next source. */
    if (!sk)
        return sl_seterr(err, errlen,
                         "env: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    {
        char why[SL_ERRLEN] = "";
        if (sl_creds_fill(out, ak, sk, sl_creds_penv(p, "AWS_SESSION_TOKEN"), 0, why, sizeof(why)))
            return sl_seterr(err, errlen, "env: %s", why);
    }
    return 0;
}

/* botocore names unnamed sessions "botocore-session-<epoch>"; ours add randomness so two
   workers started in the same second do not share a session name in CloudTrail. */
void sl_creds_session_name(char *buf, size_t n)
{
    snprintf(buf, n, "snaplake-%lld-%08llx", sl_now_ms() / 1000, sl_random_u64() & 0xffffffffULL);
}

/* Role session names: 2..64 of [\w+=,.@-] (STS API reference). */
int sl_creds_session_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
            return 0;
    return 1;
}

/* The provider's STS client, made on first use; signer NULL = anonymous only. */
static int sts_client(sl_creds_provider *p, sl_creds_provider *signer, char *err, size_t errlen)
{
    if (p->sts)
        return 0;
    p->sts = sl_aws_new(&p->aws, sl_creds_signer(signer), err, errlen);
    return p->sts ? 0 : -1;
}

static void aws_err_text(const sl_aws_error *ae, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s (HTTP %ld)", ae->code[0] ? ae->code : "Error", ae->message,
             ae->http_status);
}

int sl_creds_fetch_web_identity(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *role = sl_creds_penv(p, "AWS_ROLE_ARN");
    const char *file = sl_creds_penv(p, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *sess = sl_creds_penv(p, "AWS_ROLE_SESSION_NAME");
    char gen[64], why[SL_ERRLEN] = "", aetext[800];
    char *token = NULL;
    sl_aws_response resp;
    sl_aws_error ae;
    int rc = -1;

    memset(&ae, 0, sizeof(ae));
    sl_aws_response_init(&resp);
    if (!role) {
        sl_seterr(err, errlen,
                  "web-identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
        goto out;
    }
    if (!sess) {
        sl_creds_session_name(gen, sizeof(gen));
        sess = gen;
    } else if (!sl_creds_session_name_ok(sess)) {
        sl_seterr(err, errlen, "web-identity: AWS_ROLE_SESSION_NAME must be 2-64 of [\\w+=,.@-]");
        goto out;
    }
    /* Read on every refresh: EKS rotates the projected token file (hourly by default). */
    token = read_secret_file(file, "web identity token file", why, sizeof(why));
    if (!token) {
        sl_seterr(err, errlen, "web-identity: %s", why);
        goto out;
    }
    /* AssumeRoleWithWebIdentity is not signed: the token is the proof (STS API reference).
       It goes on a client that has no credentials at all, so nothing can sign it by
       accident. */
    if (sts_client(p, NULL, why, sizeof(why))) {
        sl_seterr(err, errlen, "web-identity: STS client: %s", why);
        goto out;
    }
    if (sl_sts_assume_role_with_web_identity(p->sts, role, sess, token, &resp, &ae)) {
        aws_err_text(&ae, aetext, sizeof(aetext));
        sl_seterr(err, errlen, "web-identity: STS AssumeRoleWithWebIdentity for %s: %s", role,
                  aetext);
        goto out;
    }
    if (sl_creds_parse_sts_xml(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "web-identity: %s", why);
        goto out;
    }
    rc = 0;
out:
    sl_creds_wipe_free(token);
    wipe_resp(&resp);
    return rc;
}

static int token_has_crlf(const char *t)
{
    return strchr(t, '\r') || strchr(t, '\n');
}

int sl_creds_fetch_container(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *rel = sl_creds_penv(p, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = sl_creds_penv(p, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tokfile = sl_creds_penv(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tokenv = sl_creds_penv(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *url = NULL, *token = NULL, why[SL_ERRLEN] = "";
    sl_http_header hdrs[2];
    size_t nh = 0;
    sl_aws_response resp;
    long status = 0;
    int rc = -1;

    sl_aws_response_init(&resp);
    /* RELATIVE_URI wins over FULL_URI (botocore ContainerProvider, SDK reference guide). */
    if (rel) {
        size_t n = strlen(CREDS_ECS_HOST) + strlen(rel) + 2;
        if (!(url = malloc(n)))
            goto oom;
        snprintf(url, n, "%s%s%s", CREDS_ECS_HOST, rel[0] == '/' ? "" : "/", rel);
    } else {
        /* Only the agent's own addresses or TLS: a FULL_URI pointing anywhere else would hand
           the authorization token and the credentials to an arbitrary host. */
        if (!sl_creds_full_uri_allowed(full)) {
            sl_seterr(err, errlen,
                      "container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to "
                      "a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23");
            goto out;
        }
        if (!(url = strdup(full)))
            goto oom;
    }
    /* The token file is preferred and re-read each time: EKS Pod Identity rotates it. */
    if (tokfile) {
        token = read_secret_file(tokfile, "container authorization token file", why, sizeof(why));
        if (!token) {
            sl_seterr(err, errlen, "container: %s", why);
            goto out;
        }
    } else if (tokenv && !(token = strdup(tokenv))) {
        goto oom;
    }
    if (token) {
        /* A CR or LF would let the token inject headers (botocore _validate_auth_token). */
        if (token_has_crlf(token)) {
            sl_seterr(err, errlen, "container: authorization token contains CR or LF");
            goto out;
        }
        hdrs[nh].name = "Authorization";
        hdrs[nh++].value = token;
    }
    hdrs[nh].name = "Accept";
    hdrs[nh++].value = "application/json";
    /* botocore: 2 s timeout, 3 attempts. Transport errors and 5xx are retried; 4xx are not. */
    for (int attempt = 1; attempt <= 3; attempt++) {
        status = meta_http("GET", url, hdrs, nh, 1000, 2000, CREDS_BODY_CAP, &resp, why,
                           sizeof(why)) == 0
                     ? resp.status
                     : 0;
        if (status && status < 500)
            break;
        if (attempt < 3) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (status == 0) {
        sl_seterr(err, errlen, "container: %s", why);
        goto out;
    }
    if (status != 200) {
        sl_seterr(err, errlen, "container: GET %s answered HTTP %ld", url, status);
        goto out;
    }
    if (sl_creds_parse_json(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "container: %s", why);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    sl_seterr(err, errlen, "container: out of memory");
out:
    wipe_resp(&resp);
    sl_creds_wipe_free(token);
    free(url);
    return rc;
}

/* IAM role names: [\w+=,.@-]{1,64}; anything else in the listing is not put into a URL. */
static int role_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
            return 0;
    return 1;
}

int sl_creds_fetch_imds(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *ep = sl_creds_penv(p, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char base[512], url[768], role[80], why[SL_ERRLEN] = "";
    sl_http_header hdr;
    char *token = NULL;
    sl_aws_response resp;
    size_t n;
    int rc = -1;

    sl_aws_response_init(&resp);
    if (!ep)
        ep = CREDS_IMDS_DEFAULT;
    n = strlen(ep);
    while (n && ep[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(base)) {
        sl_seterr(err, errlen, "imds: AWS_EC2_METADATA_SERVICE_ENDPOINT is empty or too long");
        goto out;
    }
    memcpy(base, ep, n);
    base[n] = '\0';

    /* IMDSv2 (EC2 user guide, "Use IMDSv2"): a session token from PUT /latest/api/token, sent
       back as X-aws-ec2-metadata-token. No IMDSv1 fallback: instances should require v2.
       1 s timeouts, one attempt: botocore's defaults, so a non-EC2 host passes quickly. */
    hdr.name = "X-aws-ec2-metadata-token-ttl-seconds";
    hdr.value = CREDS_IMDS_TOKEN_TTL;
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    if (meta_http("PUT", url, &hdr, 1, 1000, 1000, 4096, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status != 200 || resp.body.len == 0) {
        sl_seterr(err, errlen, "imds: PUT %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    token = sl_buf_steal(&resp.body);
    {
        char *t = sl_creds_trim(token);
        memmove(token, t, strlen(t) + 1);
    }
    if (token_has_crlf(token) || !*token) {
        sl_seterr(err, errlen, "imds: malformed session token");
        goto out;
    }
    hdr.name = "X-aws-ec2-metadata-token";
    hdr.value = token;

    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
    if (meta_http("GET", url, &hdr, 1, 1000, 1000, 4096, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status == 404) {
        sl_seterr(err, errlen, "imds: the instance has no IAM role (HTTP 404 on %s)", url);
        goto out;
    }
    if (resp.status != 200 || resp.body.len == 0) {
        sl_seterr(err, errlen, "imds: GET %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    /* One role per instance profile; the listing has it on its first line. */
    {
        size_t rl = strcspn(resp.body.data, "\r\n");
        if (rl >= sizeof(role))
            rl = sizeof(role) - 1;
        memcpy(role, resp.body.data, rl);
        role[rl] = '\0';
    }
    if (!role_name_ok(sl_creds_trim(role))) {
        sl_seterr(err, errlen, "imds: role name in %s is not a valid IAM role name", url);
        goto out;
    }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
             sl_creds_trim(role));
    if (meta_http("GET", url, &hdr, 1, 1000, 1000, CREDS_BODY_CAP, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status != 200) {
        sl_seterr(err, errlen, "imds: GET %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    if (sl_creds_parse_json(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    rc = 0;
out:
    wipe_resp(&resp);
    sl_creds_wipe_free(token);
    return rc;
}

int sl_creds_fetch_assume_role(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    char why[SL_ERRLEN] = "", aetext[800];
    sl_sts_assume_role_req req;
    xmlDoc *doc = NULL;
    sl_aws_error ae;
    int rc = -1;

    memset(&ae, 0, sizeof(ae));
    /* Signed with the base chain's credentials; the client asks base for them per request,
       so base refreshes on its own schedule. */
    if (sts_client(p, p->base, why, sizeof(why))) {
        sl_seterr(err, errlen, "assume-role: STS client: %s", why);
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.role_arn = p->assume_arn;
    req.session_name = p->assume_session;
    req.external_id = p->assume_external_id;
    req.duration_s = p->assume_duration_s;
    if (sl_sts_assume_role(p->sts, &req, &doc, &ae)) {
        aws_err_text(&ae, aetext, sizeof(aetext));
        sl_seterr(err, errlen, "assume-role: STS AssumeRole %s (base %s): %s", p->assume_arn,
                  sl_creds_source(p->base), aetext);
        goto out;
    }
    if (sl_creds_from_sts_doc(doc, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "assume-role: %s", why);
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}
