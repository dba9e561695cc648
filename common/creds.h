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
 * ASSUME_ROLE_EXTERNAL_ID, ASSUME_ROLE_SESSION_NAME, ASSUME_ROLE_DURATION 900..43200 s) using
 * the chain's credentials.
 *
 * The first *configured* source wins (botocore): once chosen, a failure to fetch from it is an
 * error naming it, never a silent fall-through to the next source. IMDS is the exception only
 * in that it is configured by default, so its failure reads "no AWS credentials" and lists
 * why each source was passed over. IMDS is v2 only (no IMDSv1 fallback).
 *
 * Temporary credentials are cached and refreshed when less than the refresh margin (default
 * 5 minutes) is left before they expire. Single-threaded, like the rest of the client.
 * Secrets are wiped with OPENSSL_cleanse when dropped and never logged.
 */
#ifndef SL_CREDS_H
#define SL_CREDS_H

#include <stddef.h>

#include <libxml/tree.h>

#include "aws_creds.h"
#include "aws_endpoint.h"
#include "config.h"
#include "util.h"

/* sl_creds, the value every source yields, and sl_creds_cleanup are in aws_creds.h: the
   transport releases the copies it signs with and must not include this header. The chain
   calls STS (sts.h) through the transport, so the include graph runs creds -> sts -> aws_http
   -> aws_creds, never back. */

/*
 * getenv_fn/getenv_ud are borrowed for the provider's whole life: variables are read at each
 * fetch (token files re-read, AssumeRole settings read once at chain_new).
 */
typedef struct sl_creds_opts {
    sl_cfg_getter getenv_fn; /* NULL = getenv; lets tests give their own environment */
    void *getenv_ud;
    long long refresh_margin_ms; /* 0 = 5 minutes */
    /* The clocks the cache reads: wall time (epoch ms, compared with an expiry) and monotonic
       time (ms, for the wait after a failed refresh). NULL = sl_now_ms / sl_mono_ms; tests
       give their own so that expiry is a step of the test, not a sleep. clock_ud is borrowed
       for the provider's life. */
    long long (*wall_ms)(void *clock_ud);
    long long (*mono_ms)(void *clock_ud);
    void *clock_ud;
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
 * An explicit role to assume, for a second provider next to the environment's chain (the share
 * stage's analytics account: SHARE_CONSUMER_ROLE_*). Strings are borrowed for the call.
 */
typedef struct sl_creds_role {
    const char *arn;          /* required: the role to assume */
    const char *external_id;  /* NULL or "" = none (sent as ExternalId; a secret, never logged) */
    const char *session_name; /* NULL = generated "snaplake-<time>-<hex>"; else 2..64 [\w+=,.@-] */
    long long duration_s;     /* 0 = STS default (1 h); else 900..43200 */
    const char *what; /* prefix of the settings in errors ("SHARE_CONSUMER_ROLE_"); NULL "" */
} sl_creds_role;

/*
 * The chain sl_creds_chain_new builds (its own ASSUME_ROLE_ARN included, so the role is assumed
 * by whoever the process is once that chain has run), plus STS AssumeRole into role->arn. The
 * AssumeRole settings come from role, never from the environment. Same caching, refresh and
 * errors as the chain; sl_creds_source says "<base>+assume-role". NULL with err on bad
 * settings (err names them with role->what). Free with sl_creds_provider_free.
 */
sl_creds_provider *sl_creds_role_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                     const sl_creds_role *role, char *err, size_t errlen);

/*
 * Current credentials, refreshed first when they expire within the margin. Fills *out (the
 * caller's copy: it is overwritten, so clean up an earlier copy first; release it with
 * sl_creds_cleanup) and returns 0, or -1 with err naming the source and why it failed (or,
 * when none is configured, each source passed over). A refresh that fails while the cached
 * credentials have not yet expired is logged and the cached ones are returned (the SDKs'
 * advisory refresh); the failure is reported only once they have expired. After such a
 * failure the next refresh attempt waits 5 s, so a dead endpoint does not slow every call.
 */
int sl_creds_get(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen) SL_MUST_CHECK;

/* Drops any cached credentials so the next get fetches anew (after an ExpiredToken answer). */
void sl_creds_invalidate(sl_creds_provider *p);

/* Name of the source in use: "env", "web-identity", "container", "imds", plus "+assume-role". */
const char *sl_creds_source(const sl_creds_provider *p);

/*
 * The provider as the transport's credentials interface (aws_creds.h): get is sl_creds_get,
 * invalidate sl_creds_invalidate, ud p. The struct lives in p (valid as long as p is), so a
 * call site reads sl_aws_new(&opts, sl_creds_signer(p), err, errlen). p NULL gives NULL (an
 * anonymous-only client).
 */
const sl_aws_creds *sl_creds_signer(sl_creds_provider *p);

/* --- pure pieces, exported for the unit tests and the fuzzer ------------------------------ */

/* The base source the environment configures, in the chain's order (see creds_select). */
typedef enum sl_creds_kind {
    SL_CREDS_NONE = 0, /* nothing configured and IMDS disabled */
    SL_CREDS_ENV,
    SL_CREDS_WEB_IDENTITY,
    SL_CREDS_CONTAINER,
    SL_CREDS_IMDS
} sl_creds_kind;

/*
 * Which base source wins for this environment (getter NULL = getenv; empty values count as
 * unset). Pure: reads variables only, no files, no network. The first *configured* source wins
 * even if fetching from it will fail (botocore's rule): env when AWS_ACCESS_KEY_ID is set, web
 * identity when AWS_WEB_IDENTITY_TOKEN_FILE is set, container when either container URI is
 * set, else IMDS unless AWS_EC2_METADATA_DISABLED=true.
 */
sl_creds_kind sl_creds_select(sl_cfg_getter getter, void *ud);

/* "env", "web-identity", "container", "imds" or "none". Static strings. */
const char *sl_creds_kind_name(sl_creds_kind k);

/*
 * Parses ISO 8601 / RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM|+HHMM)" (the forms
 * STS, ECS and IMDS use) into epoch milliseconds. Returns 0, or -1 on anything else (no
 * partial results; years 1970..9999).
 */
int sl_creds_parse_iso8601(const char *s, long long *epoch_ms) SL_MUST_CHECK;

/*
 * Parses the JSON the ECS/EKS container agent and EC2 IMDS return: {AccessKeyId,
 * SecretAccessKey, Token, Expiration[, Code]}. AccessKeyId and SecretAccessKey are required;
 * Token and Expiration are optional (no Expiration = never expires); a Code other than
 * "Success" is an error. Bodies over 64 KiB are refused. On success fills *out (caller
 * cleans it up with sl_creds_cleanup); on error *out is untouched and err says why.
 */
int sl_creds_parse_json(const char *body, size_t len, sl_creds *out, char *err,
                        size_t errlen) SL_MUST_CHECK;

/*
 * Reads <Credentials>{AccessKeyId, SecretAccessKey, SessionToken, Expiration} out of an STS
 * AssumeRole / AssumeRoleWithWebIdentity response (any namespace; all four required). doc is
 * borrowed. Fills *out on success (caller cleans up); -1 with err otherwise.
 */
int sl_creds_from_sts_doc(const xmlDoc *doc, sl_creds *out, char *err, size_t errlen) SL_MUST_CHECK;

/* The same from raw bytes (parsed with libxml2, no network, no entities; capped at 64 KiB). */
int sl_creds_parse_sts_xml(const char *body, size_t len, sl_creds *out, char *err,
                           size_t errlen) SL_MUST_CHECK;

/*
 * The SDKs' rule for AWS_CONTAINER_CREDENTIALS_FULL_URI: https to any host, or http only to
 * a loopback address (127.0.0.0/8, ::1, "localhost"), the ECS agent 169.254.170.2 or the EKS
 * Pod Identity agent 169.254.170.23 / fd00:ec2::23. Returns 1 allowed, 0 not (or unparsable).
 */
int sl_creds_full_uri_allowed(const char *url);

/*
 * Refresh arithmetic. needs_refresh: c expires (expires_ms != 0) and less than margin_ms is
 * left at now_ms. expired: c expires and now_ms is at or past its expiry.
 */
int sl_creds_needs_refresh(const sl_creds *c, long long now_ms, long long margin_ms);
int sl_creds_expired(const sl_creds *c, long long now_ms);

#endif /* SL_CREDS_H */
