/*
 * creds.c - the AWS credentials chain. See creds.h for the order and the contract.
 *
 * Behaviour follows botocore's credential resolver (botocore/credentials.py) and the AWS SDKs
 * reference guide ("Standardized credential providers"):
 *   - a source is tried only when it is *configured*; once one is configured, a failure to
 *     fetch from it is an error naming that source, not a fall-through to the next one
 *     (botocore raises PartialCredentialsError / CredentialRetrievalError from the chosen
 *     provider). Only IMDS, the last link, is "configured" by default, and its failure ends the
 *     chain with "no credentials", listing why each source was passed over;
 *   - the source is chosen at the first fetch and kept for the provider's life (botocore binds
 *     the session's credentials to the provider that answered);
 *   - temporary credentials are served from the cache until less than the refresh margin is
 *     left; a refresh that fails while the cached ones are still valid keeps them in service
 *     (botocore's advisory refresh window) and the failure is reported only once they expired.
 *
 * Here: the choice of source, the cache and its refresh, and the provider's life. The pure
 * parsers of what the sources bring back (ISO 8601, the container/IMDS JSON, STS's XML, the
 * FULL_URI rule) are creds_parse.c; the sources themselves creds_source.c; the STS calls they
 * make sts.c's. Tokens and keys never reach the log.
 */
#include "creds_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "json.h"
#include "log.h"
#include "xml.h"

#define CREDS_DEFAULT_MARGIN_MS (5LL * 60 * 1000)
/* After a failed refresh while the cached credentials are still valid, wait this long before
   trying again, so a dead metadata endpoint does not add its timeout to every AWS call. */
#define CREDS_RETRY_AFTER_FAIL_MS 5000LL

/* --- small helpers ----------------------------------------------------------------------- */

static const char *env_get(sl_cfg_getter g, void *ud, const char *name)
{
    const char *v = g ? g(name, ud) : getenv(name);
    /* An empty variable counts as unset, as botocore does for the access key. */
    return (v && *v) ? v : NULL;
}

const char *sl_creds_penv(const sl_creds_provider *p, const char *name)
{
    return env_get(p->getenv_fn, p->getenv_ud, name);
}

void sl_creds_wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* Deep copy; dst must be clean. Returns 0 or -1 (OOM). */
static int creds_copy(sl_creds *dst, const sl_creds *src)
{
    char *tok = NULL;

    if (src->session_token && !(tok = strdup(src->session_token)))
        return -1;
    memcpy(dst->access_key, src->access_key, sizeof(dst->access_key));
    memcpy(dst->secret_key, src->secret_key, sizeof(dst->secret_key));
    dst->session_token = tok;
    dst->expires_ms = src->expires_ms;
    return 0;
}

/* Fills a fresh sl_creds from strings; lengths checked. Secrets are never echoed in err. */
int sl_creds_fill(sl_creds *out, const char *ak, const char *sk, const char *tok,
                  long long expires_ms, char *err, size_t errlen)
{
    sl_creds c;
    size_t akl = strlen(ak), skl = strlen(sk);

    if (akl == 0 || akl >= sizeof(c.access_key))
        return sl_seterr(err, errlen, "AccessKeyId is empty or longer than %zu bytes",
                         sizeof(c.access_key) - 1);
    if (skl == 0 || skl >= sizeof(c.secret_key))
        return sl_seterr(err, errlen, "SecretAccessKey is empty or longer than %zu bytes",
                         sizeof(c.secret_key) - 1);
    if (tok && strlen(tok) > CREDS_SESSION_TOKEN_CAP)
        return sl_seterr(err, errlen, "session token longer than %zu bytes",
                         CREDS_SESSION_TOKEN_CAP);
    memset(&c, 0, sizeof(c));
    memcpy(c.access_key, ak, akl);
    memcpy(c.secret_key, sk, skl);
    if (tok && *tok && !(c.session_token = strdup(tok))) {
        OPENSSL_cleanse(&c, sizeof(c));
        return sl_seterr(err, errlen, "out of memory");
    }
    c.expires_ms = expires_ms;
    *out = c;
    OPENSSL_cleanse(&c, sizeof(c));
    return 0;
}

int sl_creds_needs_refresh(const sl_creds *c, long long now_ms, long long margin_ms)
{
    if (!c || c->expires_ms == 0)
        return 0;
    /* Written as a comparison of differences so huge margins cannot overflow. */
    return c->expires_ms - now_ms < margin_ms;
}

int sl_creds_expired(const sl_creds *c, long long now_ms)
{
    return c && c->expires_ms != 0 && now_ms >= c->expires_ms;
}

/* --- source selection and FULL_URI rules ------------------------------------------------- */

const char *sl_creds_kind_name(sl_creds_kind k)
{
    switch (k) {
    case SL_CREDS_ENV:
        return "env";
    case SL_CREDS_WEB_IDENTITY:
        return "web-identity";
    case SL_CREDS_CONTAINER:
        return "container";
    case SL_CREDS_IMDS:
        return "imds";
    case SL_CREDS_NONE:
        break;
    }
    return "none";
}

static int imds_disabled(sl_cfg_getter g, void *ud)
{
    const char *v = env_get(g, ud, "AWS_EC2_METADATA_DISABLED");
    return v && strcasecmp(v, "true") == 0;
}

sl_creds_kind sl_creds_select(sl_cfg_getter g, void *ud)
{
    if (env_get(g, ud, "AWS_ACCESS_KEY_ID"))
        return SL_CREDS_ENV;
    if (env_get(g, ud, "AWS_WEB_IDENTITY_TOKEN_FILE"))
        return SL_CREDS_WEB_IDENTITY;
    if (env_get(g, ud, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        env_get(g, ud, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return SL_CREDS_CONTAINER;
    if (!imds_disabled(g, ud))
        return SL_CREDS_IMDS;
    return SL_CREDS_NONE;
}

/* Resolves the source once, then fetches from it. */
static int fetch(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    if (p->assume_arn) {
        int rc = sl_creds_fetch_assume_role(p, out, err, errlen);
        if (!p->resolved && p->base->resolved) {
            snprintf(p->source, sizeof(p->source), "%.32s+assume-role", sl_creds_source(p->base));
            p->resolved = 1;
        }
        return rc;
    }
    if (!p->resolved) {
        p->kind = sl_creds_select(p->getenv_fn, p->getenv_ud);
        if (p->kind == SL_CREDS_NONE)
            return sl_seterr(err, errlen,
                             "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web-identity: "
                             "AWS_WEB_IDENTITY_TOKEN_FILE not set; container: neither "
                             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI set; imds: "
                             "disabled by AWS_EC2_METADATA_DISABLED");
        p->resolved = 1;
        snprintf(p->source, sizeof(p->source), "%s", sl_creds_kind_name(p->kind));
    }
    switch (p->kind) {
    case SL_CREDS_ENV:
        return sl_creds_fetch_env(p, out, err, errlen);
    case SL_CREDS_WEB_IDENTITY:
        return sl_creds_fetch_web_identity(p, out, err, errlen);
    case SL_CREDS_CONTAINER:
        return sl_creds_fetch_container(p, out, err, errlen);
    case SL_CREDS_IMDS: {
        /* IMDS is the default last link: when it fails nothing was configured at all, so the
           message lists each source (botocore's "Unable to locate credentials"). */
        char why[SL_ERRLEN] = "";
        if (sl_creds_fetch_imds(p, out, why, sizeof(why)) == 0) {
            p->imds_ok = 1;
            return 0;
        }
        if (p->imds_ok) /* it worked before: this is a refresh failure, not a missing source */
            return sl_seterr(err, errlen, "%s", why);
        return sl_seterr(err, errlen,
                         "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web-identity: "
                         "AWS_WEB_IDENTITY_TOKEN_FILE not set; container: no container URI "
                         "set; %s",
                         why);
    }
    case SL_CREDS_NONE:
        break;
    }
    return sl_seterr(err, errlen, "no AWS credentials source");
}

/* --- the provider ------------------------------------------------------------------------ */

/* Bare seconds, or the config module's duration forms ("1h", "900s"). STS: 900..43200 s. */
static int parse_assume_duration(const char *s, long long *secs)
{
    long long ms;
    if (sl_config_parse_duration(s, &ms))
        return -1;
    if (ms % 1000 || ms / 1000 < 900 || ms / 1000 > 43200)
        return -1;
    *secs = ms / 1000;
    return 0;
}

static long long real_wall_ms(void *ud)
{
    (void)ud;
    return sl_now_ms();
}

static long long real_mono_ms(void *ud)
{
    (void)ud;
    return sl_mono_ms();
}

/*
 * Sets up AssumeRole on top of p: the role's settings are copied, and base (owned by p from
 * here on, freed with it) is the chain whose credentials sign the AssumeRole call. where names
 * the settings' origin in errors (the variables' prefix: "ASSUME_ROLE_" + "SESSION_NAME"). 0, or -1
 * with err (base is freed either way on failure, through p).
 */
static int set_assume(sl_creds_provider *p, const char *arn, const char *external_id,
                      const char *session, long long duration_s, sl_creds_provider *base,
                      const char *where, char *err, size_t errlen)
{
    p->base = base;
    if (!base)
        return -1;
    if (duration_s && (duration_s < 900 || duration_s > 43200))
        return sl_seterr(err, errlen, "creds: %sDURATION must be 900..43200 seconds", where);
    if (session && !sl_creds_session_name_ok(session))
        return sl_seterr(err, errlen, "creds: %sSESSION_NAME must be 2-64 of [\\w+=,.@-]", where);
    if (!(p->assume_arn = strdup(arn)))
        goto oom;
    if (external_id && *external_id && !(p->assume_external_id = strdup(external_id)))
        goto oom;
    if (session) {
        p->assume_session = strdup(session);
    } else {
        char gen[64];
        sl_creds_session_name(gen, sizeof(gen));
        p->assume_session = strdup(gen);
    }
    if (!p->assume_session)
        goto oom;
    p->assume_duration_s = duration_s;
    return 0;
oom:
    return sl_seterr(err, errlen, "creds: out of memory");
}

/* The transport's interface (aws_creds.h) over sl_creds_get / sl_creds_invalidate. */
static int signer_get(void *ud, sl_creds *out, char *err, size_t errlen)
{
    return sl_creds_get(ud, out, err, errlen);
}

static void signer_invalidate(void *ud)
{
    sl_creds_invalidate(ud);
}

/* The provider without a source yet: options, clocks and a copy of aws_opts. NULL with err. */
static sl_creds_provider *provider_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                       char *err, size_t errlen)
{
    sl_creds_provider *p = calloc(1, sizeof(*p));

    if (!p) {
        sl_seterr(err, errlen, "creds: out of memory");
        return NULL;
    }
    if (opts) {
        p->getenv_fn = opts->getenv_fn;
        p->getenv_ud = opts->getenv_ud;
        p->margin_ms = opts->refresh_margin_ms;
        p->wall_ms = opts->wall_ms;
        p->mono_ms = opts->mono_ms;
        p->clock_ud = opts->clock_ud;
    }
    if (!p->wall_ms)
        p->wall_ms = real_wall_ms;
    if (!p->mono_ms)
        p->mono_ms = real_mono_ms;
    if (p->margin_ms < 0) {
        sl_seterr(err, errlen, "creds: refresh_margin_ms must not be negative");
        goto fail;
    }
    if (p->margin_ms == 0)
        p->margin_ms = CREDS_DEFAULT_MARGIN_MS;
    snprintf(p->source, sizeof(p->source), "none");
    p->signer.get = signer_get;
    p->signer.invalidate = signer_invalidate;
    p->signer.ud = p;
    if (sl_aws_opts_copy(&p->aws, aws_opts, err, errlen))
        goto fail;
    return p;
fail:
    sl_creds_provider_free(p);
    return NULL;
}

static sl_creds_provider *chain_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                    int with_assume, char *err, size_t errlen)
{
    sl_creds_provider *p = provider_new(opts, aws_opts, err, errlen);
    const char *arn, *v;
    long long duration_s = 0;

    if (!p || !with_assume || !(arn = sl_creds_penv(p, "ASSUME_ROLE_ARN")))
        return p;
    if ((v = sl_creds_penv(p, "ASSUME_ROLE_DURATION")) && parse_assume_duration(v, &duration_s)) {
        sl_seterr(err, errlen,
                  "creds: ASSUME_ROLE_DURATION must be 900..43200 seconds (\"3600\", \"1h\")");
        goto fail;
    }
    if (set_assume(p, arn, sl_creds_penv(p, "ASSUME_ROLE_EXTERNAL_ID"),
                   sl_creds_penv(p, "ASSUME_ROLE_SESSION_NAME"), duration_s,
                   chain_new(opts, aws_opts, 0, err, errlen), "ASSUME_ROLE_", err, errlen))
        goto fail;
    return p;
fail:
    sl_creds_provider_free(p);
    return NULL;
}

sl_creds_provider *sl_creds_chain_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                      char *err, size_t errlen)
{
    return chain_new(opts, aws_opts, 1, err, errlen);
}

sl_creds_provider *sl_creds_role_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                     const sl_creds_role *role, char *err, size_t errlen)
{
    sl_creds_provider *p;

    if (!role || !role->arn || !*role->arn) {
        sl_seterr(err, errlen, "creds: %sARN is not set", role && role->what ? role->what : "");
        return NULL;
    }
    if (!(p = provider_new(opts, aws_opts, err, errlen)))
        return NULL;
    /* The base is the whole chain, its own ASSUME_ROLE_ARN included: the role trusts whoever
       the worker is once that chain has run (role chaining, as the SDKs' source_profile). */
    if (set_assume(p, role->arn, role->external_id, role->session_name, role->duration_s,
                   chain_new(opts, aws_opts, 1, err, errlen), role->what ? role->what : "", err,
                   errlen)) {
        sl_creds_provider_free(p);
        return NULL;
    }
    return p;
}

void sl_creds_provider_free(sl_creds_provider *p)
{
    if (!p)
        return;
    /* The STS client borrows base, so it goes first. */
    sl_aws_free(p->sts);
    sl_creds_provider_free(p->base);
    sl_creds_cleanup(&p->cached);
    free(p->assume_arn);
    sl_creds_wipe_free(p->assume_external_id);
    free(p->assume_session);
    sl_aws_opts_cleanup(&p->aws);
    free(p);
}

void sl_creds_invalidate(sl_creds_provider *p)
{
    if (!p)
        return;
    sl_creds_cleanup(&p->cached);
    p->have_cached = 0;
    p->retry_after_mono_ms = 0;
    /* An ExpiredToken on assumed credentials may come from stale base credentials too. */
    sl_creds_invalidate(p->base);
}

const sl_aws_creds *sl_creds_signer(sl_creds_provider *p)
{
    return p ? &p->signer : NULL;
}

const char *sl_creds_source(const sl_creds_provider *p)
{
    return p ? p->source : "none";
}

int sl_creds_get(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    sl_creds fresh;
    char why[SL_ERRLEN] = "";
    long long now, mono;

    if (!p || !out)
        return sl_seterr(err, errlen, "sl_creds_get: NULL argument");
    now = p->wall_ms(p->clock_ud);
    mono = p->mono_ms(p->clock_ud);
    if (p->have_cached && !sl_creds_needs_refresh(&p->cached, now, p->margin_ms))
        goto serve;
    /* Inside the margin but still valid, and a refresh failed a moment ago: keep serving. */
    if (p->have_cached && !sl_creds_expired(&p->cached, now) && p->retry_after_mono_ms &&
        mono < p->retry_after_mono_ms)
        goto serve;

    memset(&fresh, 0, sizeof(fresh));
    if (fetch(p, &fresh, why, sizeof(why)) == 0) {
        sl_creds_cleanup(&p->cached);
        p->cached = fresh;
        OPENSSL_cleanse(&fresh, sizeof(fresh));
        p->have_cached = 1;
        p->retry_after_mono_ms = 0;
        goto serve;
    }
    if (p->have_cached && !sl_creds_expired(&p->cached, now)) {
        /* The SDKs' advisory refresh: the old credentials still work, so a flaky metadata
           endpoint must not fail the caller's request. The failure is logged (no secrets). */
        const char *kv[] = {"source", p->source, NULL};
        sl_log_kv(SL_LOG_WARN, NULL, kv, "credentials refresh failed, using cached ones: %s", why);
        p->retry_after_mono_ms = mono + CREDS_RETRY_AFTER_FAIL_MS;
        goto serve;
    }
    /* Expired and not renewable: drop them so nothing can serve them again. */
    sl_creds_cleanup(&p->cached);
    p->have_cached = 0;
    return sl_seterr(err, errlen, "%s", why);
serve:
    if (creds_copy(out, &p->cached))
        return sl_seterr(err, errlen, "creds: out of memory");
    return 0;
}
