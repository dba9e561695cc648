/*
 * aws_http_int.h - the transport's internals, shared by its two drivers: the blocking call with
 * retries (aws_http.c) and the transfers a caller drives on its own multi handle (aws_xfer.c).
 * Not for any other module: the client's API is aws_http.h.
 */
#ifndef SL_AWS_HTTP_INT_H
#define SL_AWS_HTTP_INT_H

#include "aws_http.h"
#include "sigv4.h"
#include "tls_trust.h"

/* Services one client resolves endpoints for and remembers (snaplake calls eight). */
#define AWS_BASES_MAX 8
/* Easy handles a client keeps for reuse, at most: transfers end and start one for one
   (xsched.c's reap), so a few cover any number in flight; each is about 10 KB. */
#define AWS_IDLE_EASY 16

struct sl_aws {
    sl_aws_opts o;      /* deep copy; strings owned */
    sl_aws_creds creds; /* copy; creds.ud borrowed. get NULL = anonymous requests only */
    CURL *easy;
    sl_aws_observer_fn observe; /* NULL = none (metrics.h is never included here) */
    void *observe_ud;
    sl_sigv4_keycache keys; /* signing keys per (day, region, service, secret); wiped by free */
    sl_tls_trust trust;     /* the CA store all of this client's TLS connections verify with */
    /* Bumped each time an ExpiredToken answer drops the credentials' cache, so the answers of
       many transfers signed with the same expired credentials drop it once (aws_xfer.c). */
    unsigned long creds_gen;
    /* Each service's endpoint base, resolved at its first request (the options do not change
       after sl_aws_new); owned. */
    sl_aws_endpoint_base bases[AWS_BASES_MAX];
    size_t nbases;
    /* Easy handles of finished xfers, reset, for the next ones (aws_xfer.c): a copy worker
       starts a request as each one ends, and curl_easy_init / curl_easy_cleanup for each
       was 4% of its CPU. Owned. */
    CURL *idle[AWS_IDLE_EASY];
    size_t nidle;
};

/* Non-zero for the codes of an answer to a request signed with expired credentials. */
int sl_aws_expired_code(const char *code);

/* Drops the credentials' cache after an ExpiredToken answer (creds.invalidate) and bumps
   creds_gen. */
void sl_aws_creds_expired(sl_aws *c);

/* Where curl writes one response. overflow records that the body cap stopped the transfer. */
typedef struct aws_io {
    sl_aws_response *resp;
    int overflow;
} aws_io;

/* A resolved, signed request ready to hand to an easy handle. */
typedef struct aws_prepared {
    sl_aws_endpoint ep;
    struct curl_slist *hdrs;
} aws_prepared;

/* Resolves and signs req into p (credentials fetched now). On failure err is filled and p
   holds nothing; on success release p with sl_aws_prepared_cleanup (wipes the headers). */
int sl_aws_prepare(sl_aws *c, const sl_aws_request *req, aws_prepared *p,
                   sl_aws_error *err) SL_MUST_CHECK;
void sl_aws_prepared_cleanup(aws_prepared *p);

/* Applies p and the client's transport settings to h; body is borrowed for the transfer.
   0, or -1 when a setopt failed. */
int sl_aws_setup_easy(sl_aws *c, CURL *h, const aws_prepared *p, const char *method,
                      const void *body, size_t body_len, aws_io *io, char *curl_err) SL_MUST_CHECK;

/* Turns a finished transfer on h into success (0) or a classified error (-1, err filled). */
int sl_aws_classify(CURL *h, CURLcode cc, const aws_io *io, const char *service, const char *method,
                    const char *curl_err, sl_aws_error *err);

/* Reports one attempt to the observer, if any (ok: "OK", else err's code). */
void sl_aws_observe(const sl_aws *c, const char *service, const char *operation, int ok,
                    const sl_aws_error *err, int retry);

#endif /* SL_AWS_HTTP_INT_H */
