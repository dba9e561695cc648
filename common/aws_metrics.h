/*
 * aws_metrics.h - the AWS request counters every binary with an AWS client exports (README
 * "Metrics and health"): snaplake_aws_requests_total{service,operation,code} and
 * snaplake_aws_retries_total{service,operation}, fed by the transport's observer
 * (aws_http.h's sl_aws_set_observer). One declaration for the worker and the producer, so the
 * two expose the same families under the same help text.
 */
#ifndef SL_AWS_METRICS_H
#define SL_AWS_METRICS_H

#include "metrics.h"
#include "util.h"

typedef struct sl_aws_metrics {
    sl_metric_family *requests, *retries; /* owned by the registry */
} sl_aws_metrics;

/* Declares both families on m. Returns 0 or -1 (out of memory). */
int sl_aws_metrics_init(sl_aws_metrics *am, sl_metrics *m) SL_MUST_CHECK;

/* Counts one attempt (retry = 0: its outcome code, "OK" on success) or one retry. */
void sl_aws_metrics_observe(sl_aws_metrics *am, const char *service, const char *operation,
                            const char *code, int retry);

#endif /* SL_AWS_METRICS_H */
