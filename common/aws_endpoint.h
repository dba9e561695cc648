/*
 * aws_endpoint.h - where an AWS request goes: the client options (sl_aws_opts, one config table
 * block for every binary), and the pure resolution of a service, bucket and path into the URL,
 * Host header and signed path. No network.
 *
 * Endpoints: AWS_ENDPOINT_URL_<SERVICE> (S3, RDS, STS, GLUE, LAKEFORMATION, SQS, RAM), else
 * AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com (S3: virtual-hosted
 * https://<bucket>.s3.<region>.amazonaws.com unless path style is set or an endpoint override
 * is in force without path style ... see aws_endpoint.c). The options also carry the
 * transport's timeouts and retry settings (aws_http.h), so one struct configures a client.
 */
#ifndef SL_AWS_ENDPOINT_H
#define SL_AWS_ENDPOINT_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* Client options; strings owned by whoever owns the struct (a binary's config struct). */
typedef struct sl_aws_opts {
    char *region;                 /* AWS_REGION (required) */
    char *endpoint_url;           /* AWS_ENDPOINT_URL */
    char *endpoint_s3;            /* AWS_ENDPOINT_URL_S3 */
    char *endpoint_rds;           /* AWS_ENDPOINT_URL_RDS */
    char *endpoint_sts;           /* AWS_ENDPOINT_URL_STS */
    char *endpoint_glue;          /* AWS_ENDPOINT_URL_GLUE */
    char *endpoint_lakeformation; /* AWS_ENDPOINT_URL_LAKEFORMATION */
    /* AWS_ENDPOINT_URL_SQS: not in SL_AWS_CFG_OPTS, only the producer's sqs mode calls SQS and
     * its table has the row. */
    char *endpoint_sqs;
    /* AWS_ENDPOINT_URL_RAM: likewise only in the tables of the binaries that call RAM (the share
     * consumer side, common/share_consumer.h). */
    char *endpoint_ram;
    int s3_path_style;            /* AWS_S3_FORCE_PATH_STYLE */
    char *ca_bundle;              /* AWS_CA_BUNDLE */
    long long max_attempts;       /* AWS_MAX_ATTEMPTS (1..20, default 3) */
    long long connect_timeout_ms; /* AWS_CONNECT_TIMEOUT (default 5s) */
    long long request_timeout_ms; /* AWS_REQUEST_TIMEOUT (default 60s) */
    long long retry_base_ms;      /* AWS_RETRY_BASE_DELAY (default 100ms) */
    /* The most one call may sleep between its attempts, in ms; 0 = no bound (the producer's and
     * snaplakectl's blocking retries). Not a config row: the worker sets it, because its
     * steps must return within a few hundred ms (stage.h) and a retry there is a deadline
     * of the job, not a sleep of every job. */
    long long max_sleep_ms;
} sl_aws_opts;

/*
 * Deep-copies src into dst: the numbers as they are, each string with strdup (NULL stays NULL).
 * src NULL gives a zeroed dst. dst is overwritten, not freed first; the copy is dst's owner's
 * to release with sl_aws_opts_cleanup. Returns 0, or -1 with err ("out of memory"), dst then
 * zeroed (nothing to free).
 */
int sl_aws_opts_copy(sl_aws_opts *dst, const sl_aws_opts *src, char *err,
                     size_t errlen) SL_MUST_CHECK;
/* Frees the strings of an sl_aws_opts (as made by sl_aws_opts_copy) and zeroes it. NULL: no-op. */
void sl_aws_opts_cleanup(sl_aws_opts *o);

/*
 * Rows for a binary's config table: SL_AWS_CFG_OPTS(struct my_cfg, aws) expands to the
 * sl_cfg_opt rows above, with offsets into the embedded sl_aws_opts member.
 */
/* clang-format off */
#define SL_AWS_CFG_OPTS(type, member)                                                             \
    {"AWS_REGION", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(type, member.region),                  \
     "AWS region of every call"},                                                                 \
        {"AWS_ENDPOINT_URL", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(type, member.endpoint_url),  \
         "endpoint for every service (local stacks)"},                                            \
        {"AWS_ENDPOINT_URL_S3", SL_CFG_STRING, NULL, 0, -1, 0,                                    \
         offsetof(type, member.endpoint_s3), "S3 endpoint override"},                             \
        {"AWS_ENDPOINT_URL_RDS", SL_CFG_STRING, NULL, 0, -1, 0,                                   \
         offsetof(type, member.endpoint_rds), "RDS endpoint override"},                           \
        {"AWS_ENDPOINT_URL_STS", SL_CFG_STRING, NULL, 0, -1, 0,                                   \
         offsetof(type, member.endpoint_sts), "STS endpoint override"},                           \
        {"AWS_ENDPOINT_URL_GLUE", SL_CFG_STRING, NULL, 0, -1, 0,                                  \
         offsetof(type, member.endpoint_glue), "Glue endpoint override"},                         \
        {"AWS_ENDPOINT_URL_LAKEFORMATION", SL_CFG_STRING, NULL, 0, -1, 0,                         \
         offsetof(type, member.endpoint_lakeformation), "Lake Formation endpoint override"},      \
        {"AWS_S3_FORCE_PATH_STYLE", SL_CFG_BOOL, "false", 0, -1, 0,                               \
         offsetof(type, member.s3_path_style), "address S3 buckets in the path, not the host"},   \
        {"AWS_CA_BUNDLE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(type, member.ca_bundle),        \
         "CA file for TLS verification (verification is always on)"},                            \
        {"AWS_MAX_ATTEMPTS", SL_CFG_INT, "3", 1, 20, 0, offsetof(type, member.max_attempts),      \
         "attempts per AWS call, first one included"},                                            \
        {"AWS_CONNECT_TIMEOUT", SL_CFG_DURATION, "5s", 100, 600000, 0,                            \
         offsetof(type, member.connect_timeout_ms), "TCP+TLS connect timeout"},                   \
        {"AWS_REQUEST_TIMEOUT", SL_CFG_DURATION, "60s", 1000, 3600000, 0,                         \
         offsetof(type, member.request_timeout_ms), "whole-request timeout"},                     \
    {                                                                                             \
        "AWS_RETRY_BASE_DELAY", SL_CFG_DURATION, "100ms", 1, 60000, 0,                            \
            offsetof(type, member.retry_base_ms), "base of the full-jitter exponential backoff"   \
    }

/*
 * Where a request goes. All strings heap-owned; sl_aws_endpoint_cleanup frees them.
 *   url:  what curl is given ("http://127.0.0.1:15000/bucket/key?x=y");
 *   host: the Host header, signed and sent, with ":port" unless the port is the scheme's
 *         default (curl would otherwise send a different Host than we signed);
 *   path: the path as sent and signed (endpoint base path + "/bucket" for path style + key).
 */
typedef struct sl_aws_endpoint {
    char *url;
    char *host;
    char *path;
} sl_aws_endpoint;

/*
 * Resolves service/bucket/path/query (as in sl_aws_request) against opts: per-service
 * override, then AWS_ENDPOINT_URL, then the AWS default host, with the S3 addressing rule
 * described in aws_endpoint.c. Returns 0 with *out filled (caller cleans up), or -1 with err
 * (bad override URL, path not starting with '/', no region, OOM).
 */
int sl_aws_endpoint_resolve(const sl_aws_opts *opts, const char *service, const char *bucket,
                            const char *path, const char *query, sl_aws_endpoint *out, char *err,
                            size_t errlen) SL_MUST_CHECK;
void sl_aws_endpoint_cleanup(sl_aws_endpoint *e);

/*
 * The part of a resolution that depends only on the options and the service: the scheme,
 * host[:port] and base path of its endpoint (the override URL parsed, or the AWS default
 * host). A client resolves it once per service (aws_http.c) instead of parsing its override
 * URL for every request. Strings heap-owned; sl_aws_endpoint_base_cleanup frees them.
 */
typedef struct sl_aws_endpoint_base {
    char *service;
    char *scheme;
    char *hostport;
    char *base;   /* base path, no trailing '/' ("" for none) */
    int is_s3;      /* the service is s3 (buckets allowed) */
    int path_style; /* S3 addresses every bucket in the path: AWS_S3_FORCE_PATH_STYLE, or an
                       override URL is in force */
} sl_aws_endpoint_base;

/* 0 with *b filled, or -1 with err (no service, no region, bad override URL, OOM); *b then
   holds nothing. */
int sl_aws_endpoint_base_init(const sl_aws_opts *opts, const char *service,
                              sl_aws_endpoint_base *b, char *err, size_t errlen) SL_MUST_CHECK;
void sl_aws_endpoint_base_cleanup(sl_aws_endpoint_base *b);
/* sl_aws_endpoint_resolve with the service's base already resolved. */
int sl_aws_endpoint_resolve_at(const sl_aws_endpoint_base *b, const char *bucket,
                               const char *path, const char *query, sl_aws_endpoint *out,
                               char *err, size_t errlen) SL_MUST_CHECK;

/* Non-zero when an S3 bucket name can be put in the host (virtual-hosted style over TLS). */
int sl_aws_s3_bucket_virtual_ok(const char *bucket);

/* Checks an endpoint override URL as sl_aws_endpoint_resolve would read it (http or https,
   a host). 0, or -1 with err. sl_aws_new checks every override with it at start. */
int sl_aws_endpoint_check(const char *url, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_AWS_ENDPOINT_H */
