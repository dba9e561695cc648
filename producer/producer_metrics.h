/*
 * producer_metrics.h - the producer's endpoint (README "Metrics and health"): /healthz,
 * /readyz and /metrics on METRICS_ADDR in the long-running modes (event, sqs), built on
 * endpoint.h like the worker's, and the metric families producer.c updates at each event.
 *
 * No thread: producer.c calls sl_pmetrics_turn from every place its loop waits (the input
 * poll, each SQS batch and message, the naps between retries), which serves the pending
 * requests and, every so often, proves Kafka (a metadata round trip) and PostgreSQL (SELECT 1)
 * reachable for /readyz. What cannot be cut short is one blocking call: a ReceiveMessage long
 * poll (SQS_WAIT_SECONDS) or a publish's wait (PUBLISH_TIMEOUT), so a probe's timeout must be
 * longer than SQS_WAIT_SECONDS (deploy/ecs sets 10 s against the default 5 s).
 */
#ifndef SL_PRODUCER_METRICS_H
#define SL_PRODUCER_METRICS_H

#include <stddef.h>

#include "aws_metrics.h"
#include "endpoint.h"
#include "kafka.h"
#include "metrics.h"
#include "pg.h"

/* The producer's steps that are retried (producer.c's step_kind, in its order). */
typedef enum sl_pm_step {
    SL_PM_STEP_LOOKUP,
    SL_PM_STEP_PUBLISH,
    SL_PM_STEP_RECORD,
    SL_PM_STEP_DLQ,
    SL_PM_NSTEPS
} sl_pm_step;

typedef struct sl_pmetrics {
    sl_endpoint *ep;
    const char *mode; /* borrowed: the mode's name, the `mode` label */
    sl_metric_family *received, *published, *duplicates, *dead_letters, *step_failures;
    sl_metric_family *sqs_received, *sqs_deleted;
    sl_aws_metrics aws;
    long long probe_ms;         /* last Kafka/PostgreSQL round trip for /readyz */
    long long ready_timeout_ms; /* HEALTH_READY_TIMEOUT: the probes' period is a third */
} sl_pmetrics;

/*
 * Builds the endpoint (a listener on o->addr only when `serve`: the long-running modes) and
 * declares the families, their series at 0. sqs: /readyz also requires SQS (sl_endpoint_sqs_ok
 * on sl_pmetrics_endpoint). Returns 0, or -1 with err (out of memory, the address refused);
 * sl_pmetrics_cleanup either way.
 */
int sl_pmetrics_init(sl_pmetrics *pm, const sl_endpoint_opts *o, int serve, int sqs,
                     const char *mode, char *err, size_t errlen) SL_MUST_CHECK;
void sl_pmetrics_cleanup(sl_pmetrics *pm);

/* The endpoint (owned by pm; NULL before init), for the sl_endpoint_*_ok calls. */
sl_endpoint *sl_pmetrics_endpoint(sl_pmetrics *pm);

/*
 * A loop turn: every min(HEALTH_READY_TIMEOUT / 3, 10 s) a Kafka metadata request (up to 1 s)
 * and a PostgreSQL round trip through pg (healed by sl_pg_ensure) mark what answered; then the
 * pending requests are served. prod/pg may be NULL (not connected yet: nothing to prove).
 */
void sl_pmetrics_turn(sl_pmetrics *pm, sl_kafka_producer *prod, sl_pg_link *pg);

/* Counts n on a family of pm labelled by the mode (received, published, duplicates). */
void sl_pmetrics_count(sl_pmetrics *pm, sl_metric_family *f, double n);
/* An input dead-lettered: snaplake_dead_letters_total{stage="producer"}, the workers' family,
 * so the dead-letter alert covers the producer too. */
void sl_pmetrics_dead_letter(sl_pmetrics *pm);
/* A try of a step failed (retried or not). */
void sl_pmetrics_step_failed(sl_pmetrics *pm, sl_pm_step step);

/* sl_aws_observer_fn for the producer's AWS client (ud = the sl_pmetrics). */
void sl_pmetrics_aws(void *ud, const char *service, const char *operation, const char *code,
                     int retry);

#endif /* SL_PRODUCER_METRICS_H */
