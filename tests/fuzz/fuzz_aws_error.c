/*
 * fuzz_aws_error.c - libFuzzer harness for sl_aws_parse_error, the parser of every AWS error
 * answer (query XML, S3 XML, JSON, headers). Input layout: byte 0 picks the protocol and the
 * status, then the raw header block and the body split at the first "\n\n".
 *
 * The body also goes through sl_aws_s3_body_is_error (the check of every CopyObject answer),
 * which reads only up to the root element: it says 0 or 1, and 1 only for an XML body. It
 * also skips the parse of a body without the bytes "Error", so a whole parse of the same text
 * (sl_xml_parse) is its check: when that finds a root element named Error in a body without
 * NUL bytes, it must say 1.
 *
 * The same bytes then go through sl_aws_scrub twice: as they are (the output must stay a C
 * string of the returned length within its buffer), and with a session token planted in the
 * middle behind an x-amz-security-token header ("<fuzz>x-amz-security-token:<TOKEN>\n<fuzz>"):
 * whatever surrounds it, the token must never reach the output.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_error.h"
#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PLANTED "FQoGZXIvYXdzPLANTEDsessionTOKEN0123456789+/="
#define PLANT_AT "x-amz-security-token:"

static void check_scrub(const char *p, size_t n, size_t outlen)
{
    static char out[8192];
    static char in[8192];
    size_t half = n / 2, k = 0, w;

    if (n > sizeof(in) - 128 || outlen > sizeof(out))
        return;
    w = sl_aws_scrub(p, n, out, outlen);
    if (outlen && (w >= outlen || out[w] != '\0' || strlen(out) != w))
        __builtin_trap();
    /* A token already in the input is the fuzzer's, not a leak. */
    if (memmem(p, n, PLANTED, sizeof(PLANTED) - 1))
        return;
    memcpy(in, p, half);
    k = half;
    memcpy(in + k, PLANT_AT PLANTED "\n", sizeof(PLANT_AT PLANTED "\n") - 1);
    k += sizeof(PLANT_AT PLANTED "\n") - 1;
    memcpy(in + k, p + half, n - half);
    k += n - half;
    /* Only when the text up to the token has no NUL: a NUL ends the text (and the token). */
    (void)sl_aws_scrub(in, k, out, sizeof(out));
    if (strstr(out, PLANTED))
        __builtin_trap();
}

/* What sl_aws_s3_body_is_error said of body, against a whole parse of the text it reads (after
   a UTF-8 byte order mark and blanks). */
static void check_root(const char *body, size_t len, int is_err)
{
    size_t i = 0;
    char err[256];
    xmlDoc *doc;
    xmlNode *root;

    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (body[i] == ' ' || (body[i] >= '\t' && body[i] <= '\r')))
        i++;
    /* Not with a NUL byte: libxml2's whole parse takes it for the document's end, while the
       reader fails on it. */
    if (i >= len || body[i] != '<' || memchr(body + i, '\0', len - i) ||
        !(doc = sl_xml_parse(body + i, len - i, err, sizeof(err))))
        return;
    root = xmlDocGetRootElement(doc);
    if (root && root->name && strcmp((const char *)root->name, "Error") == 0 && !is_err)
        __builtin_trap();
    xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 403, 404, 429, 500, 503};
    sl_aws_error e;
    const char *p, *split, *body;
    size_t n, hlen, blen;
    int is_err;

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
    body = split ? split + 2 : p;
    blen = split ? n - hlen - 2 : n;
    (void)sl_aws_parse_error((sl_aws_protocol)(data[0] % 4), statuses[(data[0] >> 2) % 7], body,
                             blen, split ? p : NULL, hlen, &e);
    is_err = sl_aws_s3_body_is_error(body, blen);
    if (is_err != 0 && is_err != 1)
        __builtin_trap();
    if (is_err && !memchr(body, '<', blen))
        __builtin_trap();
    check_root(body, blen, is_err);
    /* Every field must stay NUL-terminated within its array. */
    if (!memchr(e.code, 0, sizeof(e.code)) || !memchr(e.message, 0, sizeof(e.message)) ||
        !memchr(e.request_id, 0, sizeof(e.request_id)) || !e.code[0])
        __builtin_trap();
    check_scrub((const char *)data, size, (size_t)data[0] * 17 % 600);
    return 0;
}
