/* glue.c - see glue.h. */
#include "glue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define GLUE_MAX_BYTES ((size_t)1024 * 1024)

void sl_glue_crawler_init(sl_glue_crawler *c)
{
    memset(c, 0, sizeof(*c));
}

void sl_glue_crawler_cleanup(sl_glue_crawler *c)
{
    if (!c)
        return;
    free(c->last_error);
    sl_glue_crawler_init(c);
}

static int copy_str(const cJSON *obj, const char *name, char *out, size_t outlen)
{
    const char *s = sl_json_str(obj, name);

    out[0] = '\0';
    if (!s)
        return -1;
    snprintf(out, outlen, "%s", s);
    return 0;
}

int sl_glue_parse_crawler(const cJSON *resp, sl_glue_crawler *out, char *err, size_t errlen)
{
    const cJSON *cr, *last, *st;
    const char *em;
    sl_glue_crawler c;

    sl_glue_crawler_init(&c);
    cr = cJSON_GetObjectItemCaseSensitive(resp, "Crawler");
    if (!cJSON_IsObject(cr))
        return sl_seterr(err, errlen, "GetCrawler: response has no Crawler object");
    /* Glue never answers an empty name or state; an empty one is a broken response. */
    if (copy_str(cr, "Name", c.name, sizeof(c.name)) != 0 || !c.name[0])
        return sl_seterr(err, errlen, "GetCrawler: Crawler.Name missing or empty");
    if (copy_str(cr, "State", c.state, sizeof(c.state)) != 0 || !c.state[0])
        return sl_seterr(err, errlen, "GetCrawler: Crawler.State missing or empty");
    last = cJSON_GetObjectItemCaseSensitive(cr, "LastCrawl");
    if (cJSON_IsObject(last)) {
        c.has_last_crawl = 1;
        copy_str(last, "Status", c.last_status, sizeof(c.last_status));
        copy_str(last, "LogGroup", c.last_log_group, sizeof(c.last_log_group));
        copy_str(last, "LogStream", c.last_log_stream, sizeof(c.last_log_stream));
        st = cJSON_GetObjectItemCaseSensitive(last, "StartTime");
        if (cJSON_IsNumber(st)) {
            double v = st->valuedouble;
            /* Epoch seconds with a fraction; reject what no real clock gives. */
            if (isfinite(v) && v > 0 && v < 253402300800.0)
                c.last_start_ms = (long long)llround(v * 1000.0);
        } else if (cJSON_IsString(st) && st->valuestring) {
            long long ms;
            if (sl_time_parse_ms(st->valuestring, &ms) == 0)
                c.last_start_ms = ms;
        }
        em = sl_json_str(last, "ErrorMessage");
        if (em) {
            c.last_error = strdup(em);
            if (!c.last_error)
                return sl_seterr(err, errlen, "GetCrawler: out of memory");
        }
    }
    *out = c;
    return 0;
}

int sl_glue_parse_crawler_bytes(const char *buf, size_t len, sl_glue_crawler *out, char *err,
                                size_t errlen)
{
    cJSON *j;
    int rc;

    if (len > GLUE_MAX_BYTES)
        return sl_seterr(err, errlen, "GetCrawler: response of %zu bytes is over the cap", len);
    j = cJSON_ParseWithLength(buf, len);
    if (!j)
        return sl_seterr(err, errlen, "GetCrawler: response is not JSON");
    rc = sl_glue_parse_crawler(j, out, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static cJSON *name_body(const char *name)
{
    cJSON *b = cJSON_CreateObject();

    if (b && !cJSON_AddStringToObject(b, "Name", name)) {
        cJSON_Delete(b);
        b = NULL;
    }
    return b;
}

static void oom(sl_aws_error *err, const char *op)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "ClientError");
    snprintf(err->message, sizeof(err->message), "%s: out of memory", op);
}

int sl_glue_get_crawler(sl_aws *aws, const char *name, sl_glue_crawler *out, sl_aws_error *err)
{
    cJSON *body = name_body(name), *resp = NULL;
    char perr[SL_ERRLEN];
    int rc = -1;

    if (!body) {
        oom(err, "GetCrawler");
        return -1;
    }
    if (sl_aws_json(aws, "glue", "AWSGlue.GetCrawler", body, &resp, err) != 0)
        goto out;
    if (sl_glue_parse_crawler(resp, out, perr, sizeof(perr)) != 0) {
        memset(err, 0, sizeof(*err));
        snprintf(err->code, sizeof(err->code), "ParseError");
        snprintf(err->message, sizeof(err->message), "%s", perr);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

int sl_glue_start_crawler(sl_aws *aws, const char *name, sl_aws_error *err)
{
    cJSON *body = name_body(name), *resp = NULL;
    int rc;

    if (!body) {
        oom(err, "StartCrawler");
        return -1;
    }
    rc = sl_aws_json(aws, "glue", "AWSGlue.StartCrawler", body, &resp, err);
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

int sl_glue_crawler_name(const char *tmpl, const char *cluster, char *out, size_t outlen)
{
    static const char marker[] = "{cluster}";
    const size_t mlen = sizeof(marker) - 1;
    size_t o = 0;

    if (!tmpl || !cluster || outlen == 0)
        return -1;
    for (const char *p = tmpl; *p;) {
        const char *src = p;
        size_t n = 1;
        if (strncmp(p, marker, mlen) == 0) {
            src = cluster;
            n = strlen(cluster);
            p += mlen;
        } else {
            p++;
        }
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}
