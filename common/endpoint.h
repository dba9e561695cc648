/*
 * endpoint.h - what a long-running binary serves on METRICS_ADDR: /metrics (its sl_metrics
 * registry in the Prometheus text format), /healthz and /readyz (health.h's decision over the
 * timestamps the owner reports). Built on httpd.h (libmicrohttpd, no thread): the owner calls
 * sl_endpoint_turn once per loop turn, which marks the loop alive and serves what is pending.
 *
 * Adopting it in a binary (the worker and the producer do exactly this):
 *   1. SL_ENDPOINT_CFG_OPTS(my_cfg, ep) in the config table, sl_endpoint_checks in the
 *      sl_config_check call;
 *   2. sl_endpoint_new(&ep, &cfg.ep, ...) after the config is loaded (METRICS_ADDR unset: no
 *      listener, the registry still works);
 *   3. sl_endpoint_turn(ep) each turn; sl_endpoint_kafka_ok / _pg_ok when a dependency is seen
 *      working (a binary without Kafka or PostgreSQL sets SL_ENDPOINT_NO_KAFKA / _NO_PG; one
 *      that also reads SQS sets SL_ENDPOINT_SQS and calls sl_endpoint_sqs_ok);
 *   4. declare families on sl_endpoint_metrics(ep) and update them; sl_endpoint_free at exit.
 */
#ifndef SL_ENDPOINT_H
#define SL_ENDPOINT_H

#include <stddef.h>

#include "config.h"
#include "health.h"
#include "metrics.h"
#include "util.h"

typedef struct sl_endpoint_opts {
    char *addr;                 /* METRICS_ADDR: host:port, ":port"; NULL = no listener */
    long long loop_stall_ms;    /* HEALTH_LOOP_STALL */
    long long ready_timeout_ms; /* HEALTH_READY_TIMEOUT */
    long long dep_timeout_ms;   /* HEALTH_DEPENDENCY_TIMEOUT */
} sl_endpoint_opts;

/* clang-format off */
#define SL_ENDPOINT_CFG_OPTS(type, member)                                                        \
    {"METRICS_ADDR", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(type, member.addr),                  \
     "serve /metrics, /healthz, /readyz on host:port (\":9464\" = every address; unset = off)"},   \
    {"HEALTH_LOOP_STALL", SL_CFG_DURATION, "60s", 1000, 86400000, 0,                              \
     offsetof(type, member.loop_stall_ms), "/healthz fails when the main loop has not turned for this long"}, \
    {"HEALTH_READY_TIMEOUT", SL_CFG_DURATION, "30s", 1000, 86400000, 0,                           \
     offsetof(type, member.ready_timeout_ms), "/readyz fails when Kafka or PostgreSQL was lost this long"},    \
    {"HEALTH_DEPENDENCY_TIMEOUT", SL_CFG_DURATION, "5m", 1000, 86400000, 0,                       \
     offsetof(type, member.dep_timeout_ms), "/healthz fails (restart) when Kafka or PostgreSQL was lost this long"}
/* clang-format on */

/* The value checks of those rows (METRICS_ADDR's syntax), for sl_config_check. */
extern const sl_cfg_check sl_endpoint_checks[];
extern const size_t sl_endpoint_nchecks;

/* Flags for sl_endpoint_new: dependencies this binary does not have (always "ok"). */
#define SL_ENDPOINT_NO_KAFKA 1
#define SL_ENDPOINT_NO_PG 2
/* ... and one it has on top of those: SQS (the producer's sqs mode), judged like them. */
#define SL_ENDPOINT_SQS 4

typedef struct sl_endpoint sl_endpoint;

/*
 * Builds the endpoint: a registry, and a listener on o->addr when set (o is copied). Returns
 * 0 with *out (sl_endpoint_free) or -1 with err (out of memory, the address refused).
 */
int sl_endpoint_new(sl_endpoint **out, const sl_endpoint_opts *o, int flags, char *err,
                    size_t errlen) SL_MUST_CHECK;
void sl_endpoint_free(sl_endpoint *e);

/* The registry (owned by e). */
sl_metrics *sl_endpoint_metrics(sl_endpoint *e);

/* The loop turned: records it and serves the pending requests without waiting. */
void sl_endpoint_turn(sl_endpoint *e);

/* A dependency was seen working now (Kafka: group joined; PostgreSQL: a round trip). */
void sl_endpoint_kafka_ok(sl_endpoint *e);
void sl_endpoint_pg_ok(sl_endpoint *e);
void sl_endpoint_sqs_ok(sl_endpoint *e); /* an SQS call answered (SL_ENDPOINT_SQS) */
/* Kafka's client raised a fatal error: not live from now on. */
void sl_endpoint_kafka_fatal(sl_endpoint *e);

/* The decision now. */
sl_health sl_endpoint_health(const sl_endpoint *e);

/* The port listened on, 0 when none. */
int sl_endpoint_port(const sl_endpoint *e);

#endif /* SL_ENDPOINT_H */
