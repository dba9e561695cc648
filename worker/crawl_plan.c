/* crawl_plan.c - see crawl_plan.h. */
#include "crawl_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

int sl_crawl_plan_direct(const char *mode, const char *list, const char *cluster)
{
    size_t cl;

    if (mode && strcmp(mode, "direct") == 0)
        return 1;
    if (!list || !cluster || !*cluster)
        return 0;
    cl = strlen(cluster);
    for (const char *p = list; *p;) {
        const char *e;
        size_t len;
        while (*p == ' ' || *p == ',')
            p++;
        e = p + strcspn(p, ",");
        len = (size_t)(e - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len == cl && strncasecmp(p, cluster, cl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

char *sl_crawl_plan_location(const char *lake_bucket, const char *lake_prefix, const char *cluster,
                             const char *target)
{
    const char *dot = target ? strchr(target, '.') : NULL;
    size_t plen = lake_prefix ? strlen(lake_prefix) : 0, n;
    char *s;

    if (!lake_bucket || !cluster || !dot)
        return NULL;
    /* A prefix written with a trailing '/' must not give "prefix//cluster". */
    while (plen && lake_prefix[plen - 1] == '/')
        plen--;
    n = strlen(lake_bucket) + plen + strlen(cluster) + strlen(target) + 16;
    if (!(s = malloc(n)))
        return NULL;
    snprintf(s, n, "s3://%s/%.*s%s%s/%.*s/%s/", lake_bucket, (int)plen, plen ? lake_prefix : "",
             plen ? "/" : "", cluster, (int)(dot - target), target, dot + 1);
    return s;
}

int sl_crawl_plan_schema_digest(const sl_cat_column *cols, size_t n, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c;
    int ok;

    if (outlen < 17)
        return -1;
    if (!(c = EVP_MD_CTX_new()))
        return -1;
    ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, cols[i].name, strlen(cols[i].name)) == 1 &&
             EVP_DigestUpdate(c, ":", 1) == 1 &&
             EVP_DigestUpdate(c, cols[i].type, strlen(cols[i].type)) == 1 &&
             EVP_DigestUpdate(c, "\n", 1) == 1;
    ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 8;
    EVP_MD_CTX_free(c);
    if (!ok)
        return -1;
    for (size_t i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}
