/*
 * tls_trust.h - one certificate store for all of an AWS client's TLS connections.
 *
 * Left alone, Debian's libcurl 7.88 (OpenSSL) gives each new TLS connection an SSL_CTX of its
 * own and loads the CA file into it: its built-in CA path (/etc/ssl/certs) rules out curl's
 * shared store cache (CURLOPT_CA_CACHE_TIMEOUT caches only a store that comes from a CA file
 * alone). The system bundle parses to about 0.9 MB, so a copy worker with 1,024 connections
 * to S3 would hold about 0.9 GB of identical stores (bench/copy_bench.py --tls at 64 in
 * flight: 85.5 MB, against 29.3 MB with one store), and it parsed the bundle per connection.
 * Here the same trust (the CA file: AWS_CA_BUNDLE or curl's built-in one, plus
 * curl's built-in CA path, as curl itself would use) is loaded once, at the first https
 * request, and every new connection's SSL_CTX takes a reference to it
 * (CURLOPT_SSL_CTX_FUNCTION); curl is told to load and cache nothing itself. Verification stays on
 * as before: the peer's chain and its host name (aws_http.c sets both).
 *
 * Like curl's own cache, the store is loaded again once it is SL_TLS_TRUST_MAX_AGE_S old (the
 * default of CURLOPT_CA_CACHE_TIMEOUT), so a long-running worker picks up an updated bundle;
 * connections already open keep the store they verified with.
 *
 * Single-threaded, like the sl_aws that embeds it.
 */
#ifndef SL_TLS_TRUST_H
#define SL_TLS_TRUST_H

#include <curl/curl.h>

#include "util.h"

#define SL_TLS_TRUST_MAX_AGE_S 86400LL
/* After a failed load, how long requests keep curl's own CA handling before the next try. */
#define SL_TLS_TRUST_RETRY_S 60LL

typedef struct sl_tls_trust {
    char *ca_file;      /* the CA file asked for (AWS_CA_BUNDLE); NULL = curl's built-in; owned */
    void *store;        /* X509_STORE *, one reference of ours; NULL until loaded */
    long long loaded_s; /* monotonic seconds of the load */
    long long retry_s;  /* after a failed load: no new try before this (monotonic seconds) */
} sl_tls_trust;

/*
 * Initialises t for ca_file (NULL or "" = curl's built-in CA file; copied). Loads nothing.
 * Returns 0, or -1 with err when memory ran out (t then holds nothing).
 */
int sl_tls_trust_init(sl_tls_trust *t, const char *ca_file, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Sets easy handle h (fresh or curl_easy_reset) up to verify TLS peers for a request to url. For an
 * https URL, with the store loaded (now, the first time: ~10 ms for the system bundle), every new
 * connection of h verifies against that one store and curl loads no CA itself. For any other URL,
 * and while the store cannot be had (a CA file that does not load, a libcurl before 7.84 or built
 * without CURLOPT_SSL_CTX_FUNCTION), h keeps curl's own CA handling with CURLOPT_CAINFO =
 * ca_file, so curl refuses a bad file with its own error, as it would without this module.
 * t must outlive h's transfers. Returns 0, or -1 when curl refused an option.
 */
int sl_tls_trust_setup(sl_tls_trust *t, CURL *h, const char *url) SL_MUST_CHECK;

/* Drops our reference to the store (connections still open keep theirs) and frees ca_file.
   Zeroes t; NULL is a no-op. */
void sl_tls_trust_cleanup(sl_tls_trust *t);

#endif /* SL_TLS_TRUST_H */
