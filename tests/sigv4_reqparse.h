/*
 * sigv4_reqparse.h - parser of the raw HTTP requests in the SigV4 test suites (NAME.req,
 * request.txt), shared by tests/sigv4_suite.c and the fuzz harness tests/fuzz/fuzz_sigv4_req.c.
 * Header-only and static: it is test code, not part of libsnaplake.
 *
 * Format: "METHOD SP target SP HTTP/x" line, header lines "Name:value" (a line starting with
 * a space or tab continues the previous value, RFC 7230 obs-fold), an empty line, then the body.
 * Lines end in LF or CRLF; the suite files have no final newline. The target may hold raw
 * spaces and UTF-8 ("GET /example space/ HTTP/1.1"), so the method ends at the first space and
 * the version starts after the last one. Input is outside data: it is capped (size, headers)
 * and a NUL before the body is rejected.
 */
#ifndef SL_SIGV4_REQPARSE_H
#define SL_SIGV4_REQPARSE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "util.h"

#define RAWREQ_MAX_BYTES ((size_t)1024 * 1024)
#define RAWREQ_MAX_HEADERS 256

typedef struct rawreq {
    char *method;
    char *path;              /* target up to '?', as written in the file */
    char *query;             /* after '?', or NULL */
    sl_http_header *headers; /* names and values heap-owned */
    size_t nheaders;
    char *body; /* heap, NUL-terminated, body_len bytes */
    size_t body_len;
} rawreq;

static inline char *rawreq_dup(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static inline void rawreq_cleanup(rawreq *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)(uintptr_t)r->headers[i].name);
        free((char *)(uintptr_t)r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Next line of buf[*pos..len): sets *line and *n (CR stripped), advances *pos. 0, or -1 at end. */
static inline int rawreq_line(const char *buf, size_t len, size_t *pos, const char **line,
                              size_t *n, int *had_lf)
{
    const char *start = buf + *pos, *lf;

    if (*pos >= len)
        return -1;
    lf = memchr(start, '\n', len - *pos);
    *line = start;
    *n = lf ? (size_t)(lf - start) : len - *pos;
    *pos += *n + (lf ? 1 : 0);
    *had_lf = lf != NULL;
    if (*n && start[*n - 1] == '\r')
        (*n)--;
    return 0;
}

/* Parses buf[0..len) into *out (clean up with rawreq_cleanup). 0, or -1 with err. */
static inline int rawreq_parse(const char *buf, size_t len, rawreq *out, char *err, size_t errlen)
{
    rawreq r;
    const char *line, *sp1, *sp2, *q;
    size_t n, pos = 0;
    int had_lf = 0;

    memset(&r, 0, sizeof(r));
    if (len > RAWREQ_MAX_BYTES)
        return sl_seterr(err, errlen, "request over %zu bytes", RAWREQ_MAX_BYTES);
    if (rawreq_line(buf, len, &pos, &line, &n, &had_lf))
        return sl_seterr(err, errlen, "empty request");
    if (memchr(line, '\0', n))
        goto bad_nul;
    sp1 = memchr(line, ' ', n);
    sp2 = line + n;
    while (sp2 > line && sp2[-1] != ' ')
        sp2--;
    if (!sp1 || sp1 == line || sp2 - 1 <= sp1 || (size_t)(line + n - sp2) < 5 ||
        strncmp(sp2, "HTTP/", 5) != 0)
        return sl_seterr(err, errlen, "bad request line (want METHOD SP target SP HTTP/x)");
    sp2--; /* the last space */
    q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
    r.method = rawreq_dup(line, (size_t)(sp1 - line));
    r.path = rawreq_dup(sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1));
    if (q)
        r.query = rawreq_dup(q + 1, (size_t)(sp2 - q - 1));
    r.headers = calloc(RAWREQ_MAX_HEADERS, sizeof(*r.headers));
    if (!r.method || !r.path || (q && !r.query) || !r.headers)
        goto oom;

    while (had_lf && rawreq_line(buf, len, &pos, &line, &n, &had_lf) == 0) {
        const char *colon;
        if (n == 0)
            break; /* end of the header block */
        if (memchr(line, '\0', n))
            goto bad_nul;
        if (line[0] == ' ' || line[0] == '\t') {
            /* obs-fold: the line continues the previous value (kept with a space). */
            char *prev, *joined;
            size_t plen;
            if (!r.nheaders) {
                sl_seterr(err, errlen, "continuation line before any header");
                goto fail;
            }
            prev = (char *)(uintptr_t)r.headers[r.nheaders - 1].value;
            plen = strlen(prev);
            joined = realloc(prev, plen + n + 2);
            if (!joined)
                goto oom;
            joined[plen] = ' ';
            memcpy(joined + plen + 1, line, n);
            joined[plen + n + 1] = '\0';
            r.headers[r.nheaders - 1].value = joined;
            continue;
        }
        colon = memchr(line, ':', n);
        if (!colon || colon == line) {
            sl_seterr(err, errlen, "header line without a name and ':'");
            goto fail;
        }
        if (r.nheaders == RAWREQ_MAX_HEADERS) {
            sl_seterr(err, errlen, "more than %d headers", RAWREQ_MAX_HEADERS);
            goto fail;
        }
        r.headers[r.nheaders].name = rawreq_dup(line, (size_t)(colon - line));
        r.headers[r.nheaders].value = rawreq_dup(colon + 1, (size_t)(line + n - colon - 1));
        r.nheaders++;
        if (!r.headers[r.nheaders - 1].name || !r.headers[r.nheaders - 1].value)
            goto oom;
    }
    r.body_len = pos < len ? len - pos : 0;
    r.body = rawreq_dup(buf + pos, r.body_len);
    if (!r.body)
        goto oom;
    *out = r;
    return 0;

bad_nul:
    sl_seterr(err, errlen, "NUL byte in the request head");
    goto fail;
oom:
    sl_seterr(err, errlen, "out of memory");
fail:
    rawreq_cleanup(&r);
    return -1;
}

#endif /* SL_SIGV4_REQPARSE_H */
