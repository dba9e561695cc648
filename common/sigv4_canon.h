/*
 * sigv4_canon.h - private to common/sigv4*.c: the canonical forms of sigv4_canon.c that the
 * signing pipeline in sigv4.c assembles into the CanonicalRequest. Code outside the module
 * includes sigv4.h only.
 */
#ifndef SL_SIGV4_CANON_H
#define SL_SIGV4_CANON_H

#include <stddef.h>

#include "sigv4.h"

#define SIGV4_MAX_PARAMS 1024
#define SIGV4_MAX_QUERY ((size_t)64 * 1024)

/* The request's headers and query parameters in canonical form, heap-owned; freed with
   sl_sigv4_canon_lists_cleanup. */
typedef struct sigv4_hdr {
    char *name;   /* lowercased */
    char *value;  /* trimmed, whitespace runs folded */
    size_t order; /* position in the request: keeps repeated names in sent order */
} sigv4_hdr;

typedef struct sigv4_param {
    char *key;   /* UriEncoded */
    char *value; /* UriEncoded */
} sigv4_param;

typedef struct sigv4_lists {
    sigv4_hdr *hdrs;
    size_t nhdrs;
    sigv4_param *params;
    size_t nparams;
    size_t capparams;
} sigv4_lists;

/* AWS UriEncode of in[0..len) appended to b ('/' kept when keep_slash). 0, or -1 when b is full. */
int sl_sigv4_canon_encode(sl_buf *b, const char *in, size_t len, int keep_slash);

/*
 * Adds the parameters of a wire query q (split on '&', empty pieces skipped, then on '='), each
 * key and value decoded and re-encoded. 0, or -1 past SIGV4_MAX_PARAMS or out of memory.
 */
int sl_sigv4_canon_query(sigv4_lists *l, const char *q);

/*
 * Adds header name: value at l->hdrs[l->nhdrs] (the caller sized l->hdrs for every header it
 * adds), the name lowercased, the value trimmed with whitespace runs folded into one space, in
 * sent order. 0, or -1 out of memory.
 */
int sl_sigv4_canon_header(sigv4_lists *l, const char *name, const char *value);

/* Frees one header (its value wiped: it may be the session token). */
void sl_sigv4_canon_header_free(sigv4_hdr *h);

/* qsort comparators: headers by name, then sent order; parameters by key, then value. */
int sl_sigv4_canon_cmp_header(const void *a, const void *b);
int sl_sigv4_canon_cmp_param(const void *a, const void *b);

/* Frees (wiping values) and zeroes what l holds. */
void sl_sigv4_canon_lists_cleanup(sigv4_lists *l);

/*
 * Appends the canonical URI of the wire path to b: as sent for S3 (s3 non-zero), else
 * normalised (unless flags has SL_SIGV4_NO_NORMALIZE) and encoded a second time. 0, or -1.
 */
int sl_sigv4_canon_uri(sl_buf *b, const char *path, int s3, unsigned flags);

/* Non-zero when a header (lowercased name) is never signed, or (header form) is one that
   signing adds itself. */
int sl_sigv4_canon_unsigned_header(const char *lname, int presign, int has_token, int s3);

#endif /* SL_SIGV4_CANON_H */
