/*
 * fuzz_sigv4_req.c - libFuzzer harness for the raw-request parser of the SigV4 suite
 * (tests/sigv4_reqparse.h) and the signer behind it (sl_sigv4_sign_ex): request paths, queries
 * and header values are outside input to both. Byte 0 picks S3 or not, header or query form,
 * a session token (and whether it is omitted from the signature) and path normalisation; the
 * rest is the raw HTTP request.
 *
 * Invariants: a successful sign yields a 64-hex-digit signature, a canonical request whose
 * last line is the payload hash, an Authorization header (header form) or a presigned query
 * ending in that signature (query form); signing the same request twice gives the same result
 * (no dependence on uninitialised memory); a failed sign leaves the result untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sigv4_reqparse.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rawreq req;
    sl_sigv4_result r1, r2;
    char err[SL_ERRLEN];
    unsigned mode;
    int rc1, rc2;

    if (size < 1)
        return 0;
    mode = data[0];
    if (rawreq_parse((const char *)data + 1, size - 1, &req, err, sizeof(err)))
        return 0;
    {
        sl_sigv4_request sreq = {req.method,   req.path, req.query,    req.headers,
                                 req.nheaders, req.body, req.body_len, NULL};
        sl_sigv4_keys k = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                           (mode & 4) ? "tok/+=" : NULL};
        sl_sigv4_params p = {"us-east-1",
                             (mode & 1) ? "s3" : "service",
                             (time_t)1440938160,
                             (int)(mode & 1),
                             (int)((mode >> 1) & 1),
                             3600,
                             (int)((mode >> 3) & 1),
                             NULL};
        unsigned flags = (mode & 16) ? SL_SIGV4_NO_NORMALIZE : 0;

        memset(&r1, 0x5a, sizeof(r1));
        rc1 = sl_sigv4_sign_ex(&sreq, &k, &p, flags, &r1, err, sizeof(err));
        rc2 = sl_sigv4_sign_ex(&sreq, &k, &p, flags, &r2, err, sizeof(err));
        if (rc1 != rc2)
            __builtin_trap();
        if (rc1 != 0) {
            if (((unsigned char *)&r1)[0] != 0x5a || !err[0])
                __builtin_trap();
        } else {
            const char *last = strrchr(r1.canonical_request, '\n');
            if (!is_hex64(r1.signature) || strcmp(r1.signature, r2.signature) != 0 ||
                strcmp(r1.canonical_request, r2.canonical_request) != 0 || !last ||
                strchr(r1.amz_date, 'T') != r1.amz_date + 8)
                __builtin_trap();
            if (p.presign) {
                /* Our signature is the last parameter; the request's own query may contain
                   the same text earlier, so look for the last occurrence. */
                const char *s = NULL;
                for (const char *q = r1.presigned_query;
                     q && (q = strstr(q, "X-Amz-Signature=")) != NULL; q++)
                    s = q;
                if (r1.authorization || !s || strcmp(s + 16, r1.signature) != 0)
                    __builtin_trap();
            } else if (!r1.authorization || r1.presigned_query ||
                       !strstr(r1.authorization, r1.signature)) {
                __builtin_trap();
            }
            sl_sigv4_result_cleanup(&r1);
            sl_sigv4_result_cleanup(&r2);
        }
    }
    rawreq_cleanup(&req);
    return 0;
}
