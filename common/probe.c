/*
 * probe.c - GET of the local health endpoint (probe.h). libcurl does the HTTP.
 */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "httpd.h"

int sl_probe_url(const char *addr, const char *path, char *url, size_t urllen, char *err,
                 size_t errlen)
{
    char host[256];
    int port, n;
    const char *h;

    if (!addr || !path || path[0] != '/')
        return sl_seterr(err, errlen, "probe: an address and a path starting with '/' are needed");
    if (sl_httpd_parse_addr(addr, host, sizeof(host), &port, err, errlen))
        return -1;
    if (port == 0) /* the kernel's pick: nothing outside the process knows it */
        return sl_seterr(err, errlen, "probe: %s listens on a port the kernel picked", addr);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        h = "[::1]";
    else
        h = host;
    /* A literal IPv6 address goes in brackets (RFC 3986 section 3.2.2). */
    if (strchr(h, ':') && h[0] != '[')
        n = snprintf(url, urllen, "http://[%s]:%d%s", h, port, path);
    else
        n = snprintf(url, urllen, "http://%s:%d%s", h, port, path);
    if (n < 0 || (size_t)n >= urllen)
        return sl_seterr(err, errlen, "probe: URL too long");
    return 0;
}

/* The body is not needed: the status says it all. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

int sl_probe_get(const char *url, long timeout_ms, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    CURLcode rc;
    long status = -1;

    if (!c)
        return sl_seterr(err, errlen, "probe: curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* The endpoint is local: an HTTP_PROXY of the task must not route the check elsewhere. */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        sl_seterr(err, errlen, "probe %s: %s", url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? (int)status : -1;
}

int sl_probe_main(const char *prog, const char *path)
{
    const char *addr = getenv("METRICS_ADDR");
    char url[512], err[512];
    int status;

    if (!addr || !*addr) {
        fprintf(stderr, "%s --probe: METRICS_ADDR is not set: no endpoint is served\n", prog);
        return 2;
    }
    if (sl_probe_url(addr, path, url, sizeof(url), err, sizeof(err))) {
        fprintf(stderr, "%s --probe: %s\n", prog, err);
        return 2;
    }
    status = sl_probe_get(url, SL_PROBE_TIMEOUT_MS, err, sizeof(err));
    if (status < 0) {
        fprintf(stderr, "%s --probe: %s\n", prog, err);
        return 1;
    }
    printf("%s %d\n", url, status);
    return status == 200 ? 0 : 1;
}
