/*
 * sigv4_suite.c - runs the public SigV4 test vectors against common/sigv4.c, and signs JSON
 * request descriptions for the differential test against botocore.
 *
 *   tests/sigv4-suite DIR...      walk each DIR (recursively) for cases in either layout:
 *     - botocore's aws4_testsuite: a folder NAME holding NAME.req/.creq/.sts/.authz. Fixed
 *       inputs: AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z; the
 *       session token is the x-amz-security-token line of NAME.creq, as botocore's own
 *       test_sigv4.py does (the .req files do not carry it). Header form only.
 *     - aws-c-auth's: context.json + request.txt + header-* and query-* expected files. Both
 *       forms are signed and counted as separate cases.
 *   Every artifact is compared: canonical request, string to sign, signature, and the whole
 *   signed request (request line, every header line, X-Amz-Date, X-Amz-Security-Token,
 *   X-Amz-Content-SHA256 and Authorization included, and the body; header order and query
 *   order are not signed and not compared, the order of repeated headers is). aws-c-auth
 *   context.json may also carry "signed_body_value" (the payload hash to sign, e.g.
 *   UNSIGNED-PAYLOAD), "algorithm" (anything but SigV4 is skipped) and, in our own vectors,
 *   "forms": ["header"] (a header-form-only case: its query form is not a case). A case, or
 *   one form of it, whose files are all absent is skipped, with a SKIP line.
 *   Prints one line per differing artifact or skip, then "sigv4: N passed, M failed, K
 *   skipped"; exits 1 when anything failed (2 on usage or I/O errors).
 *
 *   tests/sigv4-suite --sign-json  reads one JSON request description (or an array of them)
 *     on stdin and prints the signer's output as JSON (see sign_json_one for the fields).
 *
 * Paths: the suites write the request-line path raw ("/example space/", UTF-8 bytes) and their
 * reference signers encode it once into the canonical URI (botocore: quote(path, safe='/~');
 * aws-c-auth: its "double encode" step). For sl_sigv4_sign that raw path is exactly the path
 * "as sent": the non-S3 rule encodes it once more. Pre-encoding it here would encode it twice
 * and fail get-space and get-utf8, so it is passed through unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "sigv4.h"
#include "sigv4_reqparse.h"
#include "util.h"

#define SUITE_MAX_FILE ((size_t)1024 * 1024)
#define SUITE_MAX_DEPTH 16
#define SUITE_MAX_ENTRIES 4096
/* The published example credentials and time of both suites. */
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME ((time_t)1440938160) /* 2015-08-30T12:36:00Z */

static int is_file(const char *p);

typedef struct suite_counts {
    int passed;
    int failed;
    int skipped;
    int io_errors;
} suite_counts;

/* Reads a whole file (capped). Returns a NUL-terminated heap buffer, or NULL. */
static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    sl_buf b;
    char chunk[8192];
    size_t n;

    if (!f)
        return NULL;
    sl_buf_init(&b, SUITE_MAX_FILE);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (sl_buf_append(&b, chunk, n)) {
            fclose(f);
            sl_buf_cleanup(&b);
            return NULL;
        }
    }
    if (ferror(f)) {
        fclose(f);
        sl_buf_cleanup(&b);
        return NULL;
    }
    fclose(f);
    if (len_out)
        *len_out = b.len;
    return sl_buf_steal(&b);
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, *a && *b ? "/" : "", b);
    return p;
}

/* Prints where two texts first differ, line by line (canonical request / string to sign). */
static void print_diff(const char *expected, const char *actual)
{
    int line = 1;
    const char *e = expected, *a = actual;

    while (*e || *a) {
        size_t el = strcspn(e, "\n"), al = strcspn(a, "\n");
        if (el != al || memcmp(e, a, el) != 0) {
            printf("    line %d: expected \"%.*s\"\n", line, (int)el, e);
            printf("    line %d: actual   \"%.*s\"\n", line, (int)al, a);
            return;
        }
        e += el + (e[el] == '\n');
        a += al + (a[al] == '\n');
        line++;
    }
    printf("    (texts differ only in a final newline)\n");
}

/* Compares one artifact; prints a failure line. Returns 1 when equal. */
static int check_artifact(const char *casename, const char *form, const char *what,
                          const char *expected, const char *actual, int show_diff)
{
    if (expected && actual && strcmp(expected, actual) == 0)
        return 1;
    printf("FAIL %s [%s]: %s differs\n", casename, form, what);
    if (show_diff && expected && actual)
        print_diff(expected, actual);
    else if (!expected)
        printf("    (expected value not found in the case files)\n");
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Splits a query on '&' and sorts the pieces, so two orderings of one query compare equal. */
static char *sorted_query(const char *q)
{
    char *copy = sl_strdup0(q ? q : ""), **parts = NULL, *tok, *save = NULL;
    size_t n = 0, cap = 0;
    sl_buf b;
    char *res = NULL;

    sl_buf_init(&b, SUITE_MAX_FILE);
    if (!copy)
        goto out;
    for (tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
        if (n == cap) {
            char **np = realloc(parts, (cap = cap ? cap * 2 : 16) * sizeof(*np));
            if (!np)
                goto out;
            parts = np;
        }
        parts[n++] = tok;
    }
    if (n)
        qsort(parts, n, sizeof(*parts), cmp_str);
    for (size_t i = 0; i < n; i++)
        if (sl_buf_appendf(&b, "%s%s", i ? "&" : "", parts[i]))
            goto out;
    if (sl_buf_append(&b, "", 0))
        goto out;
    res = sl_buf_steal(&b);
out:
    sl_buf_cleanup(&b);
    free(parts);
    free(copy);
    return res;
}

/* "...Signature=<hex>" at the end of an Authorization value. */
static const char *authz_signature(const char *authz)
{
    const char *p = authz ? strstr(authz, "Signature=") : NULL;
    return p ? p + 10 : NULL;
}

static char *trim_dup(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    return s ? rawreq_dup(s, n) : NULL;
}

/* --- whole signed requests -------------------------------------------------------------- */

typedef struct norm_hdr {
    char *line; /* "lowercased-name:trimmed value" */
    size_t name_len;
    size_t order; /* position as sent: repeated names keep their order */
} norm_hdr;

static int cmp_norm_hdr(const void *a, const void *b)
{
    const norm_hdr *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->line, y->line, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * A signed request as compared: "METHOD path[?query]" (the query's pieces sorted: neither
 * suite signs their order), every header line as "name:value" with the name lowercased and the
 * value trimmed (the suites write "Authorization: x" and "Authorization:x"), sorted by name
 * with repeated names in the order sent (header order is not signed, but the order of
 * repeated values is), an empty line, and the body. Returns a heap string, or NULL on OOM.
 */
static char *normal_request(const char *method, const char *path, const char *query,
                            const sl_http_header *h, size_t nh, const char *body, size_t blen)
{
    norm_hdr *v = calloc(nh + 1, sizeof(*v));
    char *q = query && *query ? sorted_query(query) : NULL, *res = NULL;
    sl_buf b;

    sl_buf_init(&b, SUITE_MAX_FILE);
    if (!v || (query && *query && !q))
        goto out;
    for (size_t i = 0; i < nh; i++) {
        const char *val = h[i].value;
        size_t nl = strlen(h[i].name), vl;
        while (*val == ' ' || *val == '\t')
            val++;
        vl = strlen(val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t' || val[vl - 1] == '\r'))
            vl--;
        v[i].line = malloc(nl + vl + 2);
        if (!v[i].line)
            goto out;
        for (size_t k = 0; k < nl; k++)
            v[i].line[k] =
                (char)((h[i].name[k] >= 'A' && h[i].name[k] <= 'Z') ? h[i].name[k] - 'A' + 'a'
                                                                    : h[i].name[k]);
        v[i].line[nl] = ':';
        memcpy(v[i].line + nl + 1, val, vl);
        v[i].line[nl + 1 + vl] = '\0';
        v[i].name_len = nl;
        v[i].order = i;
    }
    if (nh)
        qsort(v, nh, sizeof(*v), cmp_norm_hdr);
    if (sl_buf_appendf(&b, "%s %s%s%s\n", method, path, q ? "?" : "", q ? q : ""))
        goto out;
    for (size_t i = 0; i < nh; i++)
        if (sl_buf_appendf(&b, "%s\n", v[i].line))
            goto out;
    if (sl_buf_append(&b, "\n", 1) || (blen && sl_buf_append(&b, body, blen)) ||
        sl_buf_append(&b, "", 0))
        goto out;
    res = sl_buf_steal(&b);
out:
    for (size_t i = 0; v && i < nh; i++)
        free(v[i].line);
    free(v);
    free(q);
    sl_buf_cleanup(&b);
    return res;
}

/* The expected signed request file, normalised (normal_request). NULL when it does not parse. */
static char *normal_expected(const char *sreq, size_t len)
{
    rawreq r;
    char err[SL_ERRLEN];
    char *t;

    if (rawreq_parse(sreq, len, &r, err, sizeof(err)))
        return NULL;
    t = normal_request(r.method, r.path, r.query, r.headers, r.nheaders, r.body, r.body_len);
    rawreq_cleanup(&r);
    return t;
}

/*
 * The request we would send, normalised: the input's headers, minus the ones the signer
 * replaces (an add_headers name), plus add_headers, plus Authorization (header form) and a
 * token sent but not signed (extra, or NULL); in query form the presigned query.
 */
static char *normal_ours(const rawreq *req, const sl_http_header *hdrs, size_t nh,
                         const sl_sigv4_result *res, const char *extra_token)
{
    sl_http_header *all = calloc(nh + res->nadd_headers + 3, sizeof(*all));
    size_t n = 0;
    char *t;

    if (!all)
        return NULL;
    for (size_t i = 0; i < nh; i++) {
        int replaced = 0;
        for (size_t k = 0; k < res->nadd_headers && !replaced; k++)
            replaced = strcasecmp(hdrs[i].name, res->add_headers[k].name) == 0;
        if (!replaced)
            all[n++] = hdrs[i];
    }
    for (size_t k = 0; k < res->nadd_headers; k++)
        all[n++] = res->add_headers[k];
    if (res->authorization) {
        all[n].name = "Authorization";
        all[n++].value = res->authorization;
    }
    if (extra_token) {
        all[n].name = "X-Amz-Security-Token";
        all[n++].value = extra_token;
    }
    t = normal_request(req->method, req->path,
                       res->presigned_query ? res->presigned_query : req->query, all, n, req->body,
                       req->body_len);
    free(all);
    return t;
}

/* --- botocore layout -------------------------------------------------------------------- */

/*
 * The botocore layout's NAME.sreq, normalised, into *out (NULL when it does not parse), and
 * the X-Amz-Security-Token it sends into *token (NULL when none): when NAME.creq does not sign
 * one, it was "added to the request after you calculate the signature" (post-sts-header-after).
 * One file of the suite contradicts itself: get-vanilla-with-session-token.sreq carries
 * get-vanilla's signature while its .authz (and aws-c-auth's copy of the case) carry the right
 * one. Where the .sreq's Authorization differs from the .authz, the .authz is the suite's
 * answer: it is put in the .sreq's place, with a NOTE line, and every other line still
 * compared. Returns 0, or -1 when out of memory.
 */
static int botocore_expected(const char *casename, const char *sreq, size_t len, const char *authz,
                             char **out, char **token)
{
    rawreq r;
    char err[SL_ERRLEN];
    char *want = trim_dup(authz);

    *out = NULL;
    *token = NULL;
    if (!want)
        return -1;
    if (rawreq_parse(sreq, len, &r, err, sizeof(err))) {
        free(want);
        return 0;
    }
    for (size_t i = 0; i < r.nheaders; i++) {
        const char *v = r.headers[i].value;
        while (*v == ' ')
            v++;
        if (strcasecmp(r.headers[i].name, "x-amz-security-token") == 0 && !*token) {
            *token = sl_strdup0(v);
        } else if (strcasecmp(r.headers[i].name, "authorization") == 0 && strcmp(v, want) != 0) {
            printf("NOTE %s [header]: the suite's .sreq Authorization differs from its .authz; "
                   "comparing with the .authz\n",
                   casename);
            free((char *)(uintptr_t)r.headers[i].value);
            r.headers[i].value = want;
            want = NULL;
        }
    }
    *out = normal_request(r.method, r.path, r.query, r.headers, r.nheaders, r.body, r.body_len);
    rawreq_cleanup(&r);
    free(want);
    return *out ? 0 : -1;
}

static void run_botocore_case(const char *dir, const char *casename, const char *base,
                              suite_counts *c)
{
    const char *ext[] = {".req", ".creq", ".sts", ".authz", ".sreq"};
    char *text[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t lens[5] = {0, 0, 0, 0, 0};
    char *token = NULL, *theirs = NULL, *ours = NULL, *extra_token = NULL;
    rawreq req;
    sl_sigv4_result res;
    char err[SL_ERRLEN];
    int ok = 1, parsed = 0;

    memset(&res, 0, sizeof(res));
    for (size_t i = 0; i < 5; i++) {
        char *name = malloc(strlen(base) + 8), *p;
        if (!name)
            goto ioerr;
        snprintf(name, strlen(base) + 8, "%s%s", base, ext[i]);
        p = path_join(dir, name);
        free(name);
        if (p && !is_file(p)) {
            /* A case the suite did not finish is not ours to pass or fail: counted. */
            printf("SKIP %s [header]: no %s%s\n", casename, base, ext[i]);
            free(p);
            c->skipped++;
            goto out;
        }
        text[i] = p ? read_file(p, &lens[i]) : NULL;
        free(p);
        if (!text[i])
            goto ioerr;
    }
    /* The token comes from the expected canonical request, as in botocore's test_sigv4.py. */
    {
        const char *t = strstr(text[1], "\nx-amz-security-token:");
        if (t) {
            t += strlen("\nx-amz-security-token:");
            token = rawreq_dup(t, strcspn(t, "\n"));
            if (!token)
                goto ioerr;
        }
    }
    if (rawreq_parse(text[0], lens[0], &req, err, sizeof(err))) {
        printf("FAIL %s [header]: cannot parse %s.req: %s\n", casename, base, err);
        c->failed++;
        goto out;
    }
    parsed = 1;
    {
        sl_sigv4_request r = {req.method,   req.path, req.query,    req.headers,
                              req.nheaders, req.body, req.body_len, NULL};
        sl_sigv4_keys k = {SUITE_AKID, SUITE_SECRET, token};
        sl_sigv4_params p = {"us-east-1", "service", SUITE_TIME, 0, 0, 0, 0, NULL};
        if (sl_sigv4_sign(&r, &k, &p, &res, err, sizeof(err))) {
            printf("FAIL %s [header]: sign: %s\n", casename, err);
            c->failed++;
            goto out;
        }
    }
    if (botocore_expected(casename, text[4], lens[4], text[3], &theirs, &extra_token) != 0)
        goto ioerr;
    ours = normal_ours(&req, req.headers, req.nheaders, &res, token ? NULL : extra_token);
    if (!ours)
        goto ioerr;
    ok &=
        check_artifact(casename, "header", "canonical request", text[1], res.canonical_request, 1);
    ok &= check_artifact(casename, "header", "string to sign", text[2], res.string_to_sign, 1);
    ok &=
        check_artifact(casename, "header", "signature", authz_signature(text[3]), res.signature, 0);
    ok &= check_artifact(casename, "header", "authorization", text[3], res.authorization, 0);
    ok &= check_artifact(casename, "header", "signed request", theirs, ours, 1);
    if (ok)
        c->passed++;
    else
        c->failed++;
    goto out;
ioerr:
    printf("FAIL %s: cannot read the case files\n", casename);
    c->failed++;
    c->io_errors++;
out:
    if (parsed)
        rawreq_cleanup(&req);
    sl_sigv4_result_cleanup(&res);
    for (size_t i = 0; i < 5; i++)
        free(text[i]);
    free(token);
    free(theirs);
    free(ours);
    free(extra_token);
}

/* --- aws-c-auth layout ------------------------------------------------------------------ */

typedef struct cac_context {
    const char *akid, *secret, *token, *region, *service;
    time_t when;
    long expires;
    int normalize, sign_body, omit_token;
    const char *signed_body_value; /* aws-c-auth's "signed_body_value" (UNSIGNED-PAYLOAD) */
    const char *algorithm;         /* aws-c-auth's "algorithm"; only SigV4 is ours to run */
    int header_only;               /* ours: "forms": ["header"], no query form to run */
} cac_context;

static int json_bool(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "2015-08-30T12:36:00Z" -> epoch seconds. */
static int parse_iso8601(const char *s, time_t *out)
{
    struct tm tm;
    char z = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &z) != 7 ||
        z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

static int parse_context(const cJSON *j, cac_context *ctx)
{
    const cJSON *cred = cJSON_GetObjectItemCaseSensitive(j, "credentials");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expiration_in_seconds");

    memset(ctx, 0, sizeof(*ctx));
    ctx->akid = json_str(cred, "access_key_id");
    ctx->secret = json_str(cred, "secret_access_key");
    ctx->token = json_str(cred, "token");
    ctx->region = json_str(j, "region");
    ctx->service = json_str(j, "service");
    ctx->normalize = json_bool(j, "normalize", 1);
    ctx->sign_body = json_bool(j, "sign_body", 0);
    ctx->omit_token = json_bool(j, "omit_session_token", 0);
    ctx->expires = cJSON_IsNumber(exp) ? (long)exp->valuedouble : 3600;
    ctx->signed_body_value = json_str(j, "signed_body_value");
    ctx->algorithm = json_str(j, "algorithm");
    {
        const cJSON *forms = cJSON_GetObjectItemCaseSensitive(j, "forms"), *f;
        int query = !cJSON_IsArray(forms);
        cJSON_ArrayForEach(f, forms) query |=
            cJSON_IsString(f) && strcmp(f->valuestring, "query") == 0;
        ctx->header_only = !query;
    }
    if (!ctx->akid || !ctx->secret || !ctx->region || !ctx->service ||
        parse_iso8601(json_str(j, "timestamp"), &ctx->when))
        return -1;
    return 0;
}

static char *read_in(const char *dir, const char *name)
{
    char *p = path_join(dir, name), *t = p ? read_file(p, NULL) : NULL;
    free(p);
    return t;
}

static void run_cac_form(const char *dir, const char *casename, const cac_context *ctx,
                         const rawreq *req, int presign, suite_counts *c)
{
    const char *form = presign ? "query" : "header";
    char fname[64], *creq = NULL, *sts = NULL, *sig = NULL, *sreq = NULL, *want = NULL,
                    *ours = NULL, *theirs = NULL;
    sl_http_header *hdrs = NULL;
    size_t nh = req->nheaders;
    char body_hash[65];
    sl_sigv4_result res;
    char err[SL_ERRLEN];
    int ok = 1, s3 = strcmp(ctx->service, "s3") == 0;

    memset(&res, 0, sizeof(res));
    snprintf(fname, sizeof(fname), "%s-canonical-request.txt", form);
    creq = read_in(dir, fname);
    snprintf(fname, sizeof(fname), "%s-string-to-sign.txt", form);
    sts = read_in(dir, fname);
    snprintf(fname, sizeof(fname), "%s-signature.txt", form);
    sig = read_in(dir, fname);
    snprintf(fname, sizeof(fname), "%s-signed-request.txt", form);
    sreq = read_in(dir, fname);
    if (!creq && !sts && !sig && !sreq) {
        /* The case has no files for this form (some vectors are header-only): counted. */
        snprintf(fname, sizeof(fname), "%s-signed-request.txt", form);
        printf("SKIP %s [%s]: no %s-* files\n", casename, form, form);
        c->skipped++;
        goto out;
    }
    if (!creq || !sts || !sig || !sreq) {
        printf("FAIL %s [%s]: cannot read the expected files\n", casename, form);
        c->failed++;
        c->io_errors++;
        goto out;
    }

    /* aws-c-auth's sign_body: header form sends the body hash as x-amz-content-sha256 (S3
       adds it itself). */
    hdrs = calloc(nh + 1, sizeof(*hdrs));
    if (!hdrs)
        goto oom;
    if (nh)
        memcpy(hdrs, req->headers, nh * sizeof(*hdrs));
    if (!presign && ctx->sign_body && !s3) {
        sl_sigv4_sha256_hex(req->body, req->body_len, body_hash);
        hdrs[nh].name = "x-amz-content-sha256";
        hdrs[nh++].value = body_hash;
    }
    {
        sl_sigv4_request r = {req->method, req->path, req->query,    hdrs,
                              nh,          req->body, req->body_len, ctx->signed_body_value};
        /* Header form with omit_session_token: the token is added after signing, so it is
           not part of what is signed at all. */
        sl_sigv4_keys k = {ctx->akid, ctx->secret,
                           (!presign && ctx->omit_token) ? NULL : ctx->token};
        sl_sigv4_params p = {ctx->region, ctx->service, ctx->when,       s3,
                             presign,     ctx->expires, ctx->omit_token, NULL};
        if (sl_sigv4_sign_ex(&r, &k, &p, ctx->normalize ? 0 : SL_SIGV4_NO_NORMALIZE, &res, err,
                             sizeof(err))) {
            printf("FAIL %s [%s]: sign: %s\n", casename, form, err);
            c->failed++;
            goto out;
        }
    }
    want = trim_dup(sig);
    if (!want)
        goto oom;
    ok &= check_artifact(casename, form, "canonical request", creq, res.canonical_request, 1);
    ok &= check_artifact(casename, form, "string to sign", sts, res.string_to_sign, 1);
    ok &= check_artifact(casename, form, "signature", want, res.signature, 0);
    /* The whole signed request: request line (the presigned query as a set: aws-c-auth
       orders the X-Amz-* fields differently from botocore, and the order is not signed), every
       header line, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256 and Authorization
       included, and the body. Header form with omit_session_token sends the token unsigned. */
    theirs = normal_expected(sreq, strlen(sreq));
    ours = normal_ours(req, hdrs, nh, &res, !presign && ctx->omit_token ? ctx->token : NULL);
    if (!ours)
        goto oom;
    ok &= check_artifact(casename, form, "signed request", theirs, ours, 1);
    if (ok)
        c->passed++;
    else
        c->failed++;
    goto out;
oom:
    printf("FAIL %s [%s]: out of memory\n", casename, form);
    c->failed++;
out:
    sl_sigv4_result_cleanup(&res);
    free(hdrs);
    free(creq);
    free(sts);
    free(sig);
    free(sreq);
    free(want);
    free(ours);
    free(theirs);
}

static void run_cac_case(const char *dir, const char *casename, suite_counts *c)
{
    char *ctxtext = read_in(dir, "context.json"), *reqtext = NULL;
    cJSON *j = NULL;
    cac_context ctx;
    rawreq req;
    char err[SL_ERRLEN];
    size_t reqlen = 0;

    if (!ctxtext || !(j = cJSON_Parse(ctxtext)) || parse_context(j, &ctx)) {
        printf("FAIL %s: cannot read or parse context.json\n", casename);
        c->failed += 2;
        c->io_errors++;
        goto out;
    }
    {
        char *p = path_join(dir, "request.txt");
        reqtext = p ? read_file(p, &reqlen) : NULL;
        free(p);
    }
    if (!reqtext || rawreq_parse(reqtext, reqlen, &req, err, sizeof(err))) {
        printf("FAIL %s: cannot read or parse request.txt: %s\n", casename,
               reqtext ? err : strerror(errno));
        c->failed += 2;
        goto out;
    }
    if (ctx.algorithm && strcmp(ctx.algorithm, "AWS4-HMAC-SHA256") != 0 &&
        strcmp(ctx.algorithm, "SigV4") != 0) {
        /* SigV4a (ECDSA) vectors share the layout; this signer does not do SigV4a. */
        printf("SKIP %s: algorithm %s is not SigV4\n", casename, ctx.algorithm);
        c->skipped += 2;
    } else {
        run_cac_form(dir, casename, &ctx, &req, 0, c);
        if (!ctx.header_only)
            run_cac_form(dir, casename, &ctx, &req, 1, c);
    }
    rawreq_cleanup(&req);
out:
    cJSON_Delete(j);
    free(ctxtext);
    free(reqtext);
}

/* --- directory walk --------------------------------------------------------------------- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void walk(const char *dir, const char *casename, int depth, suite_counts *c)
{
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char *probe;

    if (depth > SUITE_MAX_DEPTH)
        return;
    /* A case folder? */
    probe = path_join(dir, "context.json");
    if (probe && is_file(probe)) {
        free(probe);
        run_cac_case(dir, casename, c);
        return;
    }
    free(probe);
    {
        size_t bl = strlen(base) + 5;
        char *reqname = malloc(bl);
        if (reqname) {
            snprintf(reqname, bl, "%s.req", base);
            probe = path_join(dir, reqname);
            free(reqname);
            if (probe && is_file(probe))
                run_botocore_case(dir, casename, base, c);
            free(probe);
        }
    }

    d = opendir(dir);
    if (!d) {
        printf("FAIL %s: cannot open directory: %s\n", dir, strerror(errno));
        c->io_errors++;
        return;
    }
    while ((e = readdir(d)) != NULL && n < SUITE_MAX_ENTRIES) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **np = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*np));
            if (!np)
                break;
            names = np;
        }
        names[n] = sl_strdup0(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *sub = path_join(dir, names[i]);
        char *subcase = path_join(casename, names[i]);
        if (sub && subcase && is_dir(sub))
            walk(sub, subcase, depth + 1, c);
        free(sub);
        free(subcase);
        free(names[i]);
    }
    free(names);
}

/* --- --sign-json ------------------------------------------------------------------------ */

/* Joins [[k, v], ...] into an encoded query with sl_sigv4_uri_encode. NULL on bad input. */
static char *encode_params(const cJSON *arr)
{
    sl_buf b;
    const cJSON *kv;
    int first = 1;

    sl_buf_init(&b, SUITE_MAX_FILE);
    if (sl_buf_append(&b, "", 0))
        return NULL;
    cJSON_ArrayForEach(kv, arr)
    {
        const cJSON *k = cJSON_GetArrayItem(kv, 0), *v = cJSON_GetArrayItem(kv, 1);
        char *ek, *ev;
        int bad;
        if (!cJSON_IsString(k) || !cJSON_IsString(v))
            goto fail;
        ek = sl_sigv4_uri_encode(k->valuestring, strlen(k->valuestring), 0);
        ev = sl_sigv4_uri_encode(v->valuestring, strlen(v->valuestring), 0);
        bad = !ek || !ev || sl_buf_appendf(&b, "%s%s=%s", first ? "" : "&", ek, ev);
        free(ek);
        free(ev);
        if (bad)
            goto fail;
        first = 0;
    }
    return sl_buf_steal(&b);
fail:
    sl_buf_cleanup(&b);
    return NULL;
}

/*
 * Input fields: method, path (wire path, encoded once) or raw_path (encoded here with
 * sl_sigv4_uri_encode, '/' kept), query (wire query) or params ([[key, value], ...] raw, encoded
 * here), headers ([[name, value], ...]), body, payload_hash, service, region, s3, presign,
 * expires, access_key, secret_key, token, omit_token, no_normalize, time (epoch seconds).
 * Output: canonical_request, string_to_sign, signature, authorization, presigned_query,
 * amz_date, add_headers, path, query; or {"error": "..."}.
 */
static cJSON *sign_json_one(const cJSON *in)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(in, "headers"), *h;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(in, "time");
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(in, "expires");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(in, "params");
    sl_http_header *hv = NULL;
    size_t nh = 0;
    char *path = NULL, *query = NULL;
    const char *body = json_str(in, "body");
    sl_sigv4_result res;
    char err[SL_ERRLEN] = "bad request description";
    int ok = 0;

    memset(&res, 0, sizeof(res));
    if (!o)
        return NULL;
    if (json_str(in, "raw_path")) {
        const char *rp = json_str(in, "raw_path");
        path = sl_sigv4_uri_encode(rp, strlen(rp), 1);
    } else {
        path = sl_strdup0(json_str(in, "path") ? json_str(in, "path") : "/");
    }
    if (jp)
        query = cJSON_IsArray(jp) ? encode_params(jp) : NULL;
    else
        query = sl_strdup0(json_str(in, "query") ? json_str(in, "query") : "");
    if (!path || !query || !cJSON_IsNumber(jt))
        goto out;
    nh = cJSON_IsArray(hdrs) ? (size_t)cJSON_GetArraySize(hdrs) : 0;
    hv = calloc(nh + 1, sizeof(*hv));
    if (!hv)
        goto out;
    nh = 0;
    cJSON_ArrayForEach(h, hdrs)
    {
        const cJSON *n = cJSON_GetArrayItem(h, 0), *v = cJSON_GetArrayItem(h, 1);
        if (!cJSON_IsString(n) || !cJSON_IsString(v))
            goto out;
        hv[nh].name = n->valuestring;
        hv[nh++].value = v->valuestring;
    }
    {
        sl_sigv4_request r = {
            json_str(in, "method"),      path, query, hv, nh, body, body ? strlen(body) : 0,
            json_str(in, "payload_hash")};
        sl_sigv4_keys k = {json_str(in, "access_key") ? json_str(in, "access_key") : SUITE_AKID,
                           json_str(in, "secret_key") ? json_str(in, "secret_key") : SUITE_SECRET,
                           json_str(in, "token")};
        sl_sigv4_params p = {json_str(in, "region") ? json_str(in, "region") : "us-east-1",
                             json_str(in, "service"),
                             (time_t)jt->valuedouble,
                             json_bool(in, "s3", 0),
                             json_bool(in, "presign", 0),
                             cJSON_IsNumber(je) ? (long)je->valuedouble : 3600,
                             json_bool(in, "omit_token", 0),
                             NULL};
        if (sl_sigv4_sign_ex(&r, &k, &p,
                             json_bool(in, "no_normalize", 0) ? SL_SIGV4_NO_NORMALIZE : 0, &res,
                             err, sizeof(err)))
            goto out;
    }
    {
        cJSON *add = cJSON_AddArrayToObject(o, "add_headers");
        for (size_t i = 0; add && i < res.nadd_headers; i++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(res.add_headers[i].name));
            cJSON_AddItemToArray(pair, cJSON_CreateString(res.add_headers[i].value));
            cJSON_AddItemToArray(add, pair);
        }
    }
    cJSON_AddStringToObject(o, "canonical_request", res.canonical_request);
    cJSON_AddStringToObject(o, "string_to_sign", res.string_to_sign);
    cJSON_AddStringToObject(o, "signature", res.signature);
    cJSON_AddStringToObject(o, "amz_date", res.amz_date);
    if (res.authorization)
        cJSON_AddStringToObject(o, "authorization", res.authorization);
    else
        cJSON_AddNullToObject(o, "authorization");
    if (res.presigned_query)
        cJSON_AddStringToObject(o, "presigned_query", res.presigned_query);
    else
        cJSON_AddNullToObject(o, "presigned_query");
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "query", query);
    ok = 1;
out:
    if (!ok)
        cJSON_AddStringToObject(o, "error", err);
    sl_sigv4_result_cleanup(&res);
    free(hv);
    free(path);
    free(query);
    return o;
}

static int sign_json(void)
{
    sl_buf b;
    char chunk[8192];
    size_t n;
    cJSON *in = NULL, *out = NULL;
    char *text = NULL;
    int rc = 2;

    sl_buf_init(&b, SUITE_MAX_FILE);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (sl_buf_append(&b, chunk, n)) {
            fprintf(stderr, "sigv4-suite: input over %zu bytes\n", SUITE_MAX_FILE);
            goto out;
        }
    if (!b.data || !(in = cJSON_ParseWithLength(b.data, b.len))) {
        fprintf(stderr, "sigv4-suite: stdin is not JSON\n");
        goto out;
    }
    if (cJSON_IsArray(in)) {
        const cJSON *it;
        out = cJSON_CreateArray();
        cJSON_ArrayForEach(it, in) cJSON_AddItemToArray(out, sign_json_one(it));
    } else {
        out = sign_json_one(in);
    }
    text = out ? cJSON_PrintUnformatted(out) : NULL;
    if (!text) {
        fprintf(stderr, "sigv4-suite: out of memory\n");
        goto out;
    }
    printf("%s\n", text);
    rc = 0;
    if (cJSON_IsObject(out) && cJSON_GetObjectItemCaseSensitive(out, "error"))
        rc = 1;
out:
    free(text);
    cJSON_Delete(in);
    cJSON_Delete(out);
    sl_buf_cleanup(&b);
    return rc;
}

int main(int argc, char **argv)
{
    suite_counts c = {0, 0, 0, 0};

    if (argc == 2 && strcmp(argv[1], "--sign-json") == 0)
        return sign_json();
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: %s DIR...   (SigV4 test-suite folders)\n"
                "       %s --sign-json < request.json\n",
                argv[0], argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        if (!is_dir(argv[i])) {
            printf("FAIL %s: not a directory\n", argv[i]);
            c.io_errors++;
            c.failed++;
            continue;
        }
        base = base && base[1] ? base + 1 : argv[i];
        walk(argv[i], base, 0, &c);
    }
    printf("sigv4: %d passed, %d failed, %d skipped\n", c.passed, c.failed, c.skipped);
    if (c.passed == 0 && c.failed == 0)
        printf("sigv4: no cases found\n");
    return (c.failed || c.io_errors || c.passed == 0) ? 1 : 0;
}
