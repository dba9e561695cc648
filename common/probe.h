/*
 * probe.h - the client side of a binary's health endpoint, for a container health check
 * that has no shell or curl in its image (ECS runs `snaplake-worker --probe /healthz` or
 * `snaplake-producer --probe /healthz` in the task; Kubernetes probes the port itself).
 */
#ifndef SL_PROBE_H
#define SL_PROBE_H

#include <stddef.h>

#include "util.h"

/*
 * The URL that reaches a server listening on addr (httpd.h's "host:port", "[v6]:port" or
 * ":port") from the same host: every-address listeners ("", 0.0.0.0, ::) are reached on
 * loopback. path must start with '/'. Writes url[urllen]; 0, or -1 with err. Pure.
 */
int sl_probe_url(const char *addr, const char *path, char *url, size_t urllen, char *err,
                 size_t errlen) SL_MUST_CHECK;

/*
 * GET url (libcurl, timeout_ms for the whole request, no proxy, no redirects). Returns the
 * HTTP status (200 = healthy), or -1 with err when no answer came.
 */
int sl_probe_get(const char *url, long timeout_ms, char *err, size_t errlen);

/*
 * `<prog> --probe PATH` of a binary that serves the endpoint (the worker, the producer): GET
 * PATH of METRICS_ADDR (this environment's), printing "URL STATUS" on stdout. Returns the exit
 * status: 0 on a 200, 1 otherwise (no answer: the reason on stderr), 2 when METRICS_ADDR is
 * unset or bad. The whole check ends within SL_PROBE_TIMEOUT_MS, well within an orchestrator's
 * health-check timeout (ECS: 2..60 s).
 */
#define SL_PROBE_TIMEOUT_MS 3000
int sl_probe_main(const char *prog, const char *path);

#endif /* SL_PROBE_H */
