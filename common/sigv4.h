/*
 * sigv4.h - AWS Signature Version 4, pure logic on OpenSSL (no I/O).
 *
 * Reference: "Create a signed AWS API request" (AWS IAM user guide) and the SigV4 test suites
 * in ../shared/sigv4. Two path rules exist:
 *   - every service but S3: the path is normalised (RFC 3986 remove_dot_segments, "//" folded)
 *     and then URI-encoded *again* (so "%20" on the wire becomes "%2520" in the canonical URI);
 *   - S3 (sl_sigv4_params.s3 != 0): the path is used exactly as sent, encoded once, not
 *     normalised ("S3 signs the path encoded once, not normalised").
 * Header form adds X-Amz-Date, optional X-Amz-Security-Token and (S3) X-Amz-Content-Sha256 and
 * produces an Authorization header. Query (presigned) form puts the X-Amz-* parameters in the
 * query string instead.
 *
 * Secrets: the secret key, signing key, signature and string-to-sign are never logged by this
 * module; intermediate key material is wiped with OPENSSL_cleanse.
 *
 * Code: sigv4.c (the signing pipeline) and sigv4_canon.c (the canonical forms it signs), which
 * share sigv4_canon.h inside the module.
 */
#ifndef SL_SIGV4_H
#define SL_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "util.h"

typedef struct sl_http_header {
    const char *name;
    const char *value;
} sl_http_header;

/* Credentials to sign with. Borrowed for the duration of the call. */
typedef struct sl_sigv4_keys {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when none */
} sl_sigv4_keys;

typedef struct sl_sigv4_request {
    const char *method;            /* "GET", "POST", ... */
    const char *path;              /* path as sent on the wire: percent-encoded once, starts "/" */
    const char *query;             /* query as sent (no leading '?'), NULL or "" for none */
    const sl_http_header *headers; /* headers that will be sent; must include "host" */
    size_t nheaders;
    const void *body; /* payload, used when payload_hash is NULL */
    size_t body_len;
    const char *payload_hash; /* hex SHA-256 of the payload, or "UNSIGNED-PAYLOAD"; NULL =
                                 the value of an x-amz-content-sha256 header in headers
                                 (UNSIGNED-PAYLOAD, STREAMING-*, hex), else hash body */
} sl_sigv4_request;

/*
 * A signing-key cache, caller-owned (one per client, embedded; zero it with memset or = {0}).
 * The SigV4 key, HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * changes only with the UTC day, the region, the service and the secret, so a client that signs
 * thousands of requests a day derives it once per (day, region, service, secret) instead of with
 * four HMACs per request. Holds secret material: release with sl_sigv4_keycache_cleanup().
 */
#define SL_SIGV4_KEYCACHE_SLOTS 4
typedef struct sl_sigv4_keycache {
    struct {
        char date[9];
        char region[32];
        char service[32];
        unsigned char secret_md[32]; /* SHA-256 of the secret: which secret the key is for */
        unsigned char key[32];
        struct evp_mac_ctx_st *mac; /* HMAC-SHA256 keyed with key, owned; NULL = use key */
        int used;
    } slot[SL_SIGV4_KEYCACHE_SLOTS];
    unsigned next; /* slot replaced next */
    long long hits, misses;
    /* Fetched once, owned: OpenSSL 3 looks an algorithm up on every EVP_sha256()/HMAC() call,
       which cost as much as the hashing of a request. NULL until first needed. */
    struct evp_md_st *sha256;
    struct evp_mac_st *hmac;
} sl_sigv4_keycache;

/* Frees and wipes every cached key; c == NULL is a no-op. The cache can be used again
   afterwards. A cache is used by one thread at a time (its keyed MACs are reused in place). */
void sl_sigv4_keycache_cleanup(sl_sigv4_keycache *c);

typedef struct sl_sigv4_params {
    const char *region;
    const char *service;
    time_t when;  /* signing time (UTC seconds) */
    int s3;       /* non-zero: S3 path rules, and add x-amz-content-sha256 (header form) */
    int presign;  /* non-zero: query form */
    long expires; /* query form: X-Amz-Expires seconds (1..604800) */
    int omit_token_from_signature; /* query form only: some services (IoT) add the token after
                                      signing; 0 for everything snaplake calls */
    sl_sigv4_keycache *cache;      /* NULL = derive the signing key on every call; borrowed */
} sl_sigv4_params;

/* What signing produced. All strings heap-owned; free with sl_sigv4_result_cleanup(). */
typedef struct sl_sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];  /* lowercase hex */
    char *authorization; /* header form: value of the Authorization header; else NULL */
    char amz_date[17];   /* YYYYMMDDTHHMMSSZ */
    /* Header form: headers the caller must add to the request (x-amz-date, and when present
       x-amz-security-token and x-amz-content-sha256), in this order. Values owned here. */
    sl_http_header add_headers[3];
    size_t nadd_headers;
    /* Query form: the full query string to send (original + X-Amz-* + X-Amz-Signature). */
    char *presigned_query;
} sl_sigv4_result;

/*
 * Signs req. Returns 0 and fills *out (caller cleans it up), or -1 with err set (bad method,
 * missing host header, path not starting with '/', OpenSSL failure). *out is untouched on error.
 *
 * Headers, as botocore does: names are lowercased, values trimmed with whitespace runs (line
 * folds included) turned into one space, repeated names joined with ','. Never signed
 * (botocore's list: hop-by-hop headers and ones proxies, curl or tracing rewrite):
 * authorization, baggage, connection, expect, keep-alive, proxy-authenticate,
 * proxy-authorization, te, traceparent, tracestate, trailer, transfer-encoding, upgrade,
 * user-agent, x-amzn-trace-id. Header form replaces any x-amz-date given, and x-amz-security-token
 * (when keys has a token) and x-amz-content-sha256 (S3): the caller sends out->add_headers instead.
 * The query is decoded and re-encoded (AWS UriEncode) before sorting, so a query that is
 * already encoded is not encoded twice. Limits: 256 headers, 1024 query parameters, 64 KiB
 * query, 8 KiB path.
 */
int sl_sigv4_sign(const sl_sigv4_request *req, const sl_sigv4_keys *keys,
                  const sl_sigv4_params *params, sl_sigv4_result *out, char *err,
                  size_t errlen) SL_MUST_CHECK;

/*
 * Flags for sl_sigv4_sign_ex(). SL_SIGV4_NO_NORMALIZE: a non-S3 path is still encoded a second
 * time but "."/".." segments and "//" are kept as sent. Only the aws-c-auth test vectors with
 * "normalize": false need it; every AWS service snaplake calls wants the default.
 */
#define SL_SIGV4_NO_NORMALIZE 0x1u

/* sl_sigv4_sign() with flags (SL_SIGV4_*); sl_sigv4_sign() is this with flags 0. Same contract. */
int sl_sigv4_sign_ex(const sl_sigv4_request *req, const sl_sigv4_keys *keys,
                     const sl_sigv4_params *params, unsigned flags, sl_sigv4_result *out, char *err,
                     size_t errlen) SL_MUST_CHECK;

/* Frees and wipes what *r holds and zeroes it; r == NULL and a zeroed result are no-ops. */
void sl_sigv4_result_cleanup(sl_sigv4_result *r);

/*
 * AWS URI encoding (UriEncode in the SigV4 docs): every byte except A-Z a-z 0-9 - . _ ~ becomes
 * %XX (uppercase hex); '/' is kept when keep_slash. Returns a heap string, or NULL on OOM.
 * Used for S3 object keys in paths (keep_slash=1) and for query keys/values (keep_slash=0).
 */
char *sl_sigv4_uri_encode(const char *in, size_t len, int keep_slash);

/* Hex SHA-256 of data into out[65]. */
void sl_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Hex SHA-256 of the empty string: the payload hash of a request with no body. */
#define SL_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#endif /* SL_SIGV4_H */
