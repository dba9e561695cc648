/*
 * creds.h - the AWS credentials chain, in the SDKs' order:
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *   2. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME),
 *      exchanged through STS AssumeRoleWithWebIdentity (EKS IRSA);
 *   3. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2 + uri) or
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (ECS tasks, EKS Pod Identity);
 *   4. EC2 IMDSv2: PUT /latest/api/token, then the role's credentials
 *      (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address; AWS_EC2_METADATA_DISABLED).
 * On top, optionally, STS AssumeRole into another account (ASSUME_ROLE_ARN,
 * ASSUME_ROLE_EXTERNAL_ID, ASSUME_ROLE_SESSION_NAME) using the chain's credentials.
 *
 * Temporary credentials are cached and refreshed when less than the refresh margin (default
 * 5 minutes) is left before they expire. Single-threaded, like the rest of the client.
 * Secrets are wiped with OPENSSL_cleanse when dropped and never logged.
 */
#ifndef SL_CREDS_H
#define SL_CREDS_H

#include "aws_http.h"
#include "config.h"
#include "util.h"

/* A copy of the current credentials; clean up with sl_creds_cleanup (wipes them). */
typedef struct sl_creds {
    char access_key[128];
    char secret_key[128];
    char *session_token; /* heap or NULL */
    long long expires_ms; /* epoch ms; 0 = does not expire */
} sl_creds;

typedef struct sl_creds_opts {
    sl_cfg_getter getenv_fn; /* NULL = getenv; lets tests give their own environment */
    void *getenv_ud;
    long long refresh_margin_ms; /* 0 = 5 minutes */
} sl_creds_opts;

typedef struct sl_creds_provider sl_creds_provider;

/*
 * Builds the chain. aws_opts (borrowed for the call) gives region, STS endpoint, CA and
 * timeouts for the STS calls the chain makes. Nothing is fetched yet: the first
 * sl_creds_get() resolves the source. Returns NULL with err on bad settings.
 */
sl_creds_provider *sl_creds_chain_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                      char *err, size_t errlen);
void sl_creds_provider_free(sl_creds_provider *p);

/*
 * Current credentials, refreshed first when they expire within the margin. Fills *out (the
 * caller's copy) and returns 0, or -1 with err naming each source tried and why it failed.
 */
int sl_creds_get(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen) SL_MUST_CHECK;

/* Drops any cached credentials so the next get fetches anew (after an ExpiredToken answer). */
void sl_creds_invalidate(sl_creds_provider *p);

/* Name of the source in use: "env", "web-identity", "container", "imds", plus "+assume-role". */
const char *sl_creds_source(const sl_creds_provider *p);

void sl_creds_cleanup(sl_creds *c);

#endif /* SL_CREDS_H */
