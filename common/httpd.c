/* httpd.c - see httpd.h. libmicrohttpd in external (epoll) mode, driven by sl_httpd_run. */
#include "httpd.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"

/* Bounds on what outsiders may hold: a scrape and two probes need a handful of connections,
 * and a client that stalls mid-request is dropped after this long. */
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 5

struct sl_httpd {
    struct MHD_Daemon *d;
    sl_httpd_handler fn;
    void *ud;
    int port;
};

int sl_httpd_parse_addr(const char *addr, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
    const char *colon, *h = addr;
    size_t hl;
    char *end;
    long p;

    if (!addr || !*addr)
        return sl_seterr(err, errlen, "empty address (want host:port or :port)");
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return sl_seterr(err, errlen, "bad [v6]:port address");
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return sl_seterr(err, errlen, "want host:port or :port (IPv6 in brackets)");
        hl = (size_t)(colon - addr);
    }
    if (hl >= hostlen)
        return sl_seterr(err, errlen, "host too long");
    if (!colon[1])
        return sl_seterr(err, errlen, "missing port");
    p = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '-' || colon[1] == '+' || p < 0 || p > 65535)
        return sl_seterr(err, errlen, "port must be 0..65535");
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

int sl_httpd_check_addr(const char *v, char *why, size_t whylen)
{
    char host[256];
    int port;

    return sl_httpd_parse_addr(v, host, sizeof(host), &port, why, whylen);
}

/* MHD's own errors (bind, accept, a broken client) go to the JSON log, not raw stderr. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    sl_warn(NULL, "http endpoint: %s", buf);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    sl_httpd *h = cls;
    struct MHD_Response *resp;
    const char *ctype = "text/plain; charset=utf-8";
    enum MHD_Result ret;
    sl_buf body;
    unsigned status;
    size_t len;
    char *data;

    (void)version;
    (void)upload_data;
    /* MHD calls first with the headers only; answering on the first call is fine for GET, but
     * a body is never read, so any upload is refused by the method check below. */
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        if (*upload_data_size)
            *upload_data_size = 0;
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        sl_buf_init(&body, 0);
        if (sl_buf_appendf(&body, "method not allowed\n"))
            return MHD_NO;
    } else {
        sl_buf_init(&body, 0);
        status = (unsigned)h->fn(h->ud, url, &body, &ctype);
        if (sl_buf_append(&body, "", 0)) {
            sl_buf_cleanup(&body);
            return MHD_NO;
        }
    }
    len = body.len;
    data = sl_buf_steal(&body);
    /* MHD frees data with free() once sent. */
    resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int sl_httpd_new(sl_httpd **out, const char *addr, sl_httpd_handler fn, void *ud, char *err,
                 size_t errlen)
{
    char host[256], port_s[8], why[SL_ERRLEN];
    struct addrinfo hints, *res = NULL;
    const union MHD_DaemonInfo *info;
    /* epoll, not select: a worker copying with thousands of sockets open accepts a scrape on a
       descriptor past FD_SETSIZE, which MHD's select mode would refuse (a failed probe). */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_EPOLL;
    sl_httpd *h = NULL;
    int port, gai;

    if (sl_httpd_parse_addr(addr, host, sizeof(host), &port, why, sizeof(why)))
        return sl_seterr(err, errlen, "METRICS_ADDR \"%s\": %s", addr, why);
    snprintf(port_s, sizeof(port_s), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((gai = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &res)) != 0)
        return sl_seterr(err, errlen, "METRICS_ADDR \"%s\": %s", addr, gai_strerror(gai));
    if (!(h = calloc(1, sizeof(*h)))) {
        freeaddrinfo(res);
        return sl_seterr(err, errlen, "out of memory");
    }
    h->fn = fn;
    h->ud = ud;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* No MHD_USE_INTERNAL_POLLING_THREAD: an external loop, driven by sl_httpd_run. */
    /* The logger must be the first option, or MHD logs the options before it itself. */
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                            res->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                            MHD_OPTION_END);
    freeaddrinfo(res);
    if (!h->d) {
        free(h);
        return sl_seterr(err, errlen,
                         "METRICS_ADDR \"%s\": cannot listen (see the log line before)", addr);
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : port;
    *out = h;
    return 0;
}

void sl_httpd_run(sl_httpd *h)
{
    if (h)
        (void)MHD_run(h->d);
}

int sl_httpd_port(const sl_httpd *h)
{
    return h ? h->port : 0;
}

void sl_httpd_free(sl_httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
