/*
 * fuzz_aws_error.c - libFuzzer harness for sl_aws_parse_error, the parser of every AWS error
 * answer (query XML, S3 XML, JSON, headers). Input layout: byte 0 picks the protocol and the
 * status, then the raw header block and the body split at the first "\n\n".
 */
#include <stdint.h>
#include <string.h>

#include "aws_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 403, 404, 429, 500, 503};
    sl_aws_error e;
    const char *p, *split;
    size_t n, hlen;

    if (size < 1)
        return 0;
    p = (const char *)data + 1;
    n = size - 1;
    split = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '\n' && p[i + 1] == '\n') {
            split = p + i;
            break;
        }
    hlen = split ? (size_t)(split - p) : 0;
    (void)sl_aws_parse_error((sl_aws_protocol)(data[0] % 4), statuses[(data[0] >> 2) % 7],
                             split ? split + 2 : p, split ? n - hlen - 2 : n, split ? p : NULL,
                             hlen, &e);
    /* Every field must stay NUL-terminated within its array. */
    if (!memchr(e.code, 0, sizeof(e.code)) || !memchr(e.message, 0, sizeof(e.message)) ||
        !memchr(e.request_id, 0, sizeof(e.request_id)) || !e.code[0])
        __builtin_trap();
    return 0;
}
