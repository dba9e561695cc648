/*
 * httpd.h - the small HTTP endpoint of a long-running binary (/metrics, /healthz, /readyz) on
 * libmicrohttpd, which does all of HTTP.
 *
 * No thread: the daemon runs in MHD's external mode on its own epoll set (any descriptor
 * number, unlike select) and the owner's loop calls sl_httpd_run once a turn, which serves
 * whatever requests are ready (a wait with a zero timeout) and returns. So a handler runs on the
 * loop's own thread and reads the loop's state directly: no lock, no snapshot, and a stalled loop
 * shows as a stalled endpoint (which is what a liveness probe should see). A request waits at most
 * one loop turn (<= 200 ms).
 */
#ifndef SL_HTTPD_H
#define SL_HTTPD_H

#include <stddef.h>

#include "util.h"

typedef struct sl_httpd sl_httpd;

/*
 * Answers a GET of `path` (no query string): appends the body to *body and returns the HTTP
 * status (404 for an unknown path). *content_type is a static string (default text/plain).
 */
typedef int (*sl_httpd_handler)(void *ud, const char *path, sl_buf *body,
                                const char **content_type);

/*
 * Parses "host:port", "[v6]:port" or ":port" (every address) into host[hostlen] ("" for every
 * address) and *port (1..65535). Returns 0 or -1 with err. Pure.
 */
int sl_httpd_parse_addr(const char *addr, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen) SL_MUST_CHECK;

/* A config check (config.h's sl_cfg_check_fn) of METRICS_ADDR with sl_httpd_parse_addr. */
int sl_httpd_check_addr(const char *v, char *why, size_t whylen);

/*
 * Listens on addr (see sl_httpd_parse_addr) and serves through fn(ud, ...). Returns 0 with
 * *out (free with sl_httpd_free) or -1 with err (bad address, bind refused).
 */
int sl_httpd_new(sl_httpd **out, const char *addr, sl_httpd_handler fn, void *ud, char *err,
                 size_t errlen) SL_MUST_CHECK;

/* Serves the requests that are ready now, without waiting. NULL is a no-op. */
void sl_httpd_run(sl_httpd *h);

/* The port listened on (useful with port 0 in tests). */
int sl_httpd_port(const sl_httpd *h);

/* Stops listening, closes every connection, frees. NULL is a no-op. */
void sl_httpd_free(sl_httpd *h);

#endif /* SL_HTTPD_H */
