/*
 * aws_creds.h - the credentials value the transport signs with, and the interface through which
 * it asks for one.
 *
 * The transport (aws_http.h) signs requests; the credentials chain (creds.h) finds the keys, and
 * its STS sources call the transport. So that layers point one way, the transport knows only
 * this header: sl_aws_new takes an sl_aws_creds (a get/invalidate pair with its user data), and
 * the chain hands one out for each provider (sl_creds_signer, creds.h). A test, or any other
 * source of keys, can fill one in without the chain.
 */
#ifndef SL_AWS_CREDS_H
#define SL_AWS_CREDS_H

#include <stddef.h>

/* A copy of the current credentials; clean up with sl_creds_cleanup (wipes them). */
typedef struct sl_creds {
    char access_key[128];
    char secret_key[128];
    char *session_token;  /* heap or NULL */
    long long expires_ms; /* epoch ms; 0 = does not expire */
} sl_creds;

/* Wipes (OPENSSL_cleanse) and frees what c holds and zeroes it. NULL: no-op. */
void sl_creds_cleanup(sl_creds *c);

/*
 * Where a client gets the keys it signs with.
 *   get:        fills *out (the caller's copy, released by the caller with sl_creds_cleanup)
 *               and returns 0, or returns -1 with err[errlen] saying why (never a secret);
 *               called once per attempt, so a refresh between retries is picked up;
 *   invalidate: drops any cached credentials, so the next get fetches anew (the transport
 *               calls it after an ExpiredToken answer); may be NULL;
 *   ud:         borrowed, passed to both; must outlive every client made with it.
 */
typedef struct sl_aws_creds {
    int (*get)(void *ud, sl_creds *out, char *err, size_t errlen);
    void (*invalidate)(void *ud);
    void *ud;
} sl_aws_creds;

#endif /* SL_AWS_CREDS_H */
