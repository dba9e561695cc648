/*
 * fuzz_s3_results.c - the S3 answers the copy stage reads besides the listing: DeleteObjects
 * results (partition replacement), CopyObject/UploadPartCopy results (the ETag),
 * CreateMultipartUpload (the UploadId), and the CompleteMultipartUpload
 * body we build from those ETags (parsers in common/s3_parse.c, the body in common/s3_req.c).
 * All of it comes off the network; parsing must never crash,
 * what it accepts must be consistent, and the body we send must say exactly what we meant.
 *
 * The first input byte picks the parser, the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "xml.h"

#define MAX_ETAGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Occurrences of needle in buf[0..len) (buf need not be NUL-terminated). */
static size_t count_in(const char *buf, size_t len, const char *needle)
{
    size_t n = 0, nl = strlen(needle);

    for (size_t i = 0; nl && i + nl <= len; i++)
        if (memcmp(buf + i, needle, nl) == 0)
            n++;
    return n;
}

static void delete_result(const char *b, size_t len)
{
    sl_s3_delete_failure *f = NULL, *g = NULL;
    size_t n = 0, m = 0;
    char err[SL_ERRLEN] = "";
    int rc = sl_s3_delete_result_parse(b, len, &f, &n, err, sizeof(err));

    if (rc != 0) {
        if (!err[0])
            abort(); /* every rejection says why */
        return;
    }
    /* Every failure came from an <Error> element under a DeleteResult root. */
    if ((n == 0) != (f == NULL) || n > count_in(b, len, "Error") ||
        !count_in(b, len, "DeleteResult"))
        abort();
    for (size_t i = 0; i < n; i++)
        if (!f[i].key || strlen(f[i].code) >= sizeof(f[i].code) ||
            strlen(f[i].message) >= sizeof(f[i].message))
            abort();
    /* Deterministic: the same body gives the same failures. */
    if (sl_s3_delete_result_parse(b, len, &g, &m, err, sizeof(err)) != 0 || m != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].key, g[i].key) != 0 || strcmp(f[i].code, g[i].code) != 0)
            abort();
    sl_s3_delete_failures_free(f, n);
    sl_s3_delete_failures_free(g, m);
}

static void copy_etag(const char *b, size_t len)
{
    char big[1024], small[8];
    int rb = sl_s3_copy_result_etag(b, len, big, sizeof(big));
    int rs = sl_s3_copy_result_etag(b, len, small, sizeof(small));

    if (rb != rs)
        abort();
    if (rb == 0) {
        /* An ETag was found: non-empty, the small copy a terminated prefix of the big one. */
        if (!big[0] || strlen(small) >= sizeof(small) || strncmp(big, small, strlen(small)) != 0 ||
            !count_in(b, len, "ETag"))
            abort();
    } else if (big[0] || small[0]) {
        abort(); /* failure leaves the output empty */
    }
}

static void upload_id(const char *b, size_t len)
{
    char *id = NULL, err[SL_ERRLEN] = "";

    if (sl_s3_parse_upload_id(b, len, &id, err, sizeof(err)) == 0) {
        if (!id || !id[0] || !count_in(b, len, "UploadId"))
            abort();
        free(id);
    } else if (id || !err[0]) {
        abort();
    }
}

/* Splits the input into ETags on '\n', builds the completion body, reads it back. */
static void complete_body(const char *b, size_t len)
{
    char *etags[MAX_ETAGS];
    size_t n = 0, start = 0;
    int printable = 1;
    char *body;

    for (size_t i = 0; i <= len && n < MAX_ETAGS; i++) {
        if (i == len || b[i] == '\n') {
            etags[n] = malloc(i - start + 1);
            if (!etags[n])
                goto out;
            memcpy(etags[n], b + start, i - start);
            etags[n][i - start] = '\0';
            for (size_t k = start; k < i; k++)
                if ((unsigned char)b[k] < 0x20 || (unsigned char)b[k] > 0x7e)
                    printable = 0;
            n++;
            start = i + 1;
        }
    }
    body = sl_s3_complete_body(etags, n);
    if (printable) {
        /* Printable ASCII is always expressible: the body must carry each ETag verbatim. */
        char err[SL_ERRLEN];
        xmlDoc *doc;
        xmlNode *root, *part;
        size_t i = 0;

        if (!body)
            abort();
        doc = sl_xml_parse(body, strlen(body), err, sizeof(err));
        if (!doc)
            abort();
        root = sl_xml_root(doc);
        if (!root || strcmp((const char *)root->name, "CompleteMultipartUpload") != 0)
            abort();
        for (part = sl_xml_child(root, "Part"); part; part = sl_xml_next(part, "Part"), i++) {
            char num[16], *et = sl_xml_child_text(part, "ETag");
            if (i >= n || sl_xml_child_copy(part, "PartNumber", num, sizeof(num)) != 0 ||
                strtoul(num, NULL, 10) != i + 1 || !et || strcmp(et, etags[i]) != 0)
                abort();
            free(et);
        }
        if (i != n)
            abort();
        xmlFreeDoc(doc);
    }
    free(body);
out:
    while (n)
        free(etags[--n]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data + 1;

    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        delete_result(b, size - 1);
        break;
    case 1:
        copy_etag(b, size - 1);
        break;
    case 2:
        upload_id(b, size - 1);
        break;
    default:
        complete_body(b, size - 1);
        break;
    }
    return 0;
}
