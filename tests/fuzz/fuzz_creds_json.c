/*
 * fuzz_creds_json.c - libFuzzer harness for the credentials chain's parsers of outside input:
 * the container agent / IMDS JSON (sl_creds_parse_json), STS <Credentials> XML
 * (sl_creds_parse_sts_xml), ISO 8601 expirations (sl_creds_parse_iso8601) and the FULL_URI
 * host rule (sl_creds_full_uri_allowed). Byte 0 picks the parser (mod 4); the rest is the
 * input. On success the result must be well-formed: keys non-empty and NUL-terminated inside
 * their arrays, and an expiry that parses back to the same instant is not checked (lossy by
 * design: fractions below a millisecond are dropped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(const sl_creds *c)
{
    if (!c->access_key[0] || !c->secret_key[0] ||
        !memchr(c->access_key, '\0', sizeof(c->access_key)) ||
        !memchr(c->secret_key, '\0', sizeof(c->secret_key)) || c->expires_ms < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SL_ERRLEN];
    sl_creds c;
    const char *p;
    size_t n;

    if (size < 1)
        return 0;
    p = (const char *)data + 1;
    n = size - 1;
    memset(&c, 0, sizeof(c));
    switch (data[0] % 4) {
    case 0:
        if (sl_creds_parse_json(p, n, &c, err, sizeof(err)) == 0) {
            check_creds(&c);
            sl_creds_cleanup(&c);
        }
        break;
    case 1:
        if (sl_creds_parse_sts_xml(p, n, &c, err, sizeof(err)) == 0) {
            check_creds(&c);
            if (!c.session_token || c.expires_ms <= 0)
                abort(); /* STS always returns both; the parser requires them */
            sl_creds_cleanup(&c);
        }
        break;
    default: {
        /* The string forms need a NUL; copy and terminate (inputs are small). */
        char *s = malloc(n + 1);
        long long ms;
        if (!s)
            return 0;
        memcpy(s, p, n);
        s[n] = '\0';
        if (data[0] % 4 == 2) {
            if (sl_creds_parse_iso8601(s, &ms) == 0 && (ms < 0 || ms > 253402300800999LL))
                abort();
        } else {
            (void)sl_creds_full_uri_allowed(s);
        }
        free(s);
        break;
    }
    }
    return 0;
}
