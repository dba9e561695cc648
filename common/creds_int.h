/*
 * creds_int.h - the credentials chain's internals, shared by the chain and its cache (creds.c)
 * and the sources it fetches from (creds_source.c). Not for any other module: the chain's API
 * is creds.h.
 */
#ifndef SL_CREDS_INT_H
#define SL_CREDS_INT_H

#include "aws_http.h"
#include "creds.h"

#define CREDS_BODY_CAP ((size_t)64 * 1024)
#define CREDS_TOKEN_FILE_CAP ((size_t)16 * 1024)
#define CREDS_SESSION_TOKEN_CAP ((size_t)16 * 1024)

/* ECS task role endpoint: RELATIVE_URI is appended to this (AWS ECS developer guide). */
#define CREDS_ECS_HOST "http://169.254.170.2"
#define CREDS_IMDS_DEFAULT "http://169.254.169.254"
/* IMDSv2 session token lifetime asked for: 6 hours, the SDKs' default and IMDS's maximum. */
#define CREDS_IMDS_TOKEN_TTL "21600"

struct sl_creds_provider {
    sl_cfg_getter getenv_fn;
    void *getenv_ud;
    long long margin_ms;
    long long (*wall_ms)(void *); /* never NULL after chain_new */
    long long (*mono_ms)(void *);
    void *clock_ud;
    sl_aws_opts aws;     /* deep copy: the caller's opts are only borrowed for chain_new */
    sl_aws_creds signer; /* this provider as the transport's interface (sl_creds_signer) */

    int resolved;
    sl_creds_kind kind;
    char source[48];
    int imds_ok; /* IMDS answered once: later failures are refresh failures */

    sl_creds cached;
    int have_cached;
    long long retry_after_mono_ms; /* 0 = refresh may be tried now */

    /* AssumeRole on top: base is the chain without it, sts signs with base. */
    char *assume_arn;
    char *assume_external_id;
    char *assume_session;
    long long assume_duration_s; /* 0 = STS default */
    sl_creds_provider *base;
    sl_aws *sts; /* signed (assume role) or anonymous (web identity); created lazily */
};

/* The chain's only helpers the sources share (creds.c). */
/* An environment variable through p's getter; empty counts as unset (NULL). */
const char *sl_creds_penv(const sl_creds_provider *p, const char *name);
/* Wipes (OPENSSL_cleanse) and frees a heap string; NULL: no-op. */
void sl_creds_wipe_free(char *s);
/* Fills a fresh *out from strings, lengths checked; secrets never echoed in err. 0 or -1. */
int sl_creds_fill(sl_creds *out, const char *ak, const char *sk, const char *tok,
                  long long expires_ms, char *err, size_t errlen) SL_MUST_CHECK;
/* Trims blanks at both ends in place; returns the first non-blank byte. */
char *sl_creds_trim(char *s);

/*
 * The sources (creds_source.c). Each fetches once from what the environment configures and
 * fills a fresh *out (0), or returns -1 with err naming the source and why. They never cache:
 * the cache is sl_creds_get's.
 */
int sl_creds_fetch_env(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen);
int sl_creds_fetch_web_identity(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen);
int sl_creds_fetch_container(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen);
int sl_creds_fetch_imds(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen);
/* STS AssumeRole into p->assume_arn, signed with p->base's credentials. */
int sl_creds_fetch_assume_role(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen);

/* A generated role session name ("snaplake-<epoch s>-<8 hex>") into buf[n]. */
void sl_creds_session_name(char *buf, size_t n);
/* Role session names: 2..64 of [\w+=,.@-] (STS API reference). 1 valid, 0 not. */
int sl_creds_session_name_ok(const char *s);

#endif /* SL_CREDS_INT_H */
