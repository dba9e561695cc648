/*
 * tls_trust.c - see tls_trust.h.
 */
#include "tls_trust.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "log.h"

/* CURLINFO_CAINFO / CURLINFO_CAPATH (curl's built-in CA locations) came with 7.84.0. */
#if LIBCURL_VERSION_NUM >= 0x075400
#define HAVE_CURL_CA_DEFAULTS 1
#endif

int sl_tls_trust_init(sl_tls_trust *t, const char *ca_file, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (ca_file && *ca_file && !(t->ca_file = strdup(ca_file)))
        return sl_seterr(err, errlen, "tls trust: out of memory");
    return 0;
}

void sl_tls_trust_cleanup(sl_tls_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    free(t->ca_file);
    memset(t, 0, sizeof(*t));
}

/*
 * The store curl would build for a connection of h: ca_file (else curl's built-in CA file)
 * and curl's built-in CA path (a hashed directory: looked up lazily, as curl's own lookup
 * is), with the flags curl sets on it (trusted certificates first; an intermediate in the
 * store is an anchor). NULL when a location does not load, or there is none at all.
 */
static X509_STORE *load_store(CURL *h, const char *ca_file)
{
#ifdef HAVE_CURL_CA_DEFAULTS
    char *file = NULL, *path = NULL;
    X509_STORE *st;

    if (curl_easy_getinfo(h, CURLINFO_CAINFO, &file) != CURLE_OK)
        file = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CAPATH, &path) != CURLE_OK)
        path = NULL;
    if (ca_file)
        file = (char *)ca_file;
    if (!file && !path)
        return NULL;
    if (!(st = X509_STORE_new()))
        return NULL;
    if ((file && !X509_STORE_load_file(st, file)) || (path && !X509_STORE_load_path(st, path))) {
        char why[256];
        /* Requests go on with curl's own CA handling, which refuses a bad file with its own
           error; the log says why they pay a store per connection meanwhile. */
        ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
        ERR_clear_error();
        sl_log_kv(SL_LOG_WARN, NULL,
                  (const char *const[]){"ca_file", file ? file : "", "ca_path", path ? path : "",
                                        "error", why, NULL},
                  "TLS trust store not loaded; curl loads its own per connection");
        X509_STORE_free(st);
        return NULL;
    }
    X509_STORE_set_flags(st, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
    return st;
#else
    (void)h;
    (void)ca_file;
    return NULL;
#endif
}

/* The store, loaded now if it is missing or a day old; NULL while it cannot be had. */
static X509_STORE *current_store(sl_tls_trust *t, CURL *h)
{
    long long now = sl_mono_ms() / 1000;
    X509_STORE *st;

    if (t->store && now - t->loaded_s < SL_TLS_TRUST_MAX_AGE_S)
        return t->store;
    if (now < t->retry_s)
        return t->store; /* a reload failed lately: keep the one we have (maybe none) */
    if (!(st = load_store(h, t->ca_file))) {
        t->retry_s = now + SL_TLS_TRUST_RETRY_S;
        return t->store;
    }
    X509_STORE_free(t->store);
    t->store = st;
    t->loaded_s = now;
    return st;
}

/* CURLOPT_SSL_CTX_FUNCTION: a new connection's SSL_CTX verifies against the shared store.
   curl then finds no CA file or path of its own to load, and only sets the flags above. */
static CURLcode on_ssl_ctx(CURL *h, void *ssl_ctx, void *ud)
{
    sl_tls_trust *t = ud;

    (void)h;
    if (!t->store)
        return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set1_cert_store(ssl_ctx, t->store); /* takes a reference of the SSL_CTX's own */
    return CURLE_OK;
}

/* curl's own CA handling for h (fresh or reset): its built-in CA file and path, or ca_file
   instead of the file. */
static int curl_own(CURL *h, const char *ca_file)
{
    CURLcode cc = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, NULL);

    if (cc != CURLE_OK && cc != CURLE_NOT_BUILT_IN && cc != CURLE_UNKNOWN_OPTION)
        return -1;
    if (ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, ca_file) != CURLE_OK)
        return -1;
    return 0;
}

int sl_tls_trust_setup(sl_tls_trust *t, CURL *h, const char *url)
{
    CURLcode cc;

    if (!url || strncasecmp(url, "https://", 8) != 0 || !current_store(t, h))
        return curl_own(h, t->ca_file);
    /* The callback first: where curl lacks it, the handle keeps curl's own CA handling. */
    cc = curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, t);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    if (cc == CURLE_NOT_BUILT_IN || cc == CURLE_UNKNOWN_OPTION)
        return curl_own(h, t->ca_file);
    if (cc != CURLE_OK || curl_easy_setopt(h, CURLOPT_CAINFO, NULL) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK)
        return -1;
#if LIBCURL_VERSION_NUM >= 0x075700
    /* With no CA file or path, curl would cache the store the callback set in its multi
       handle and hand that cached one to later connections for a day, past our reload: this
       module is the one cache. */
    if (curl_easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 0L) != CURLE_OK)
        return -1;
#endif
    return 0;
}
