/* aws_metrics.c - see aws_metrics.h. */
#include "aws_metrics.h"

int sl_aws_metrics_init(sl_aws_metrics *am, sl_metrics *m)
{
    static const char *const l_aws[] = {"service", "operation", "code", NULL};
    static const char *const l_awsr[] = {"service", "operation", NULL};

    am->requests =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_aws_requests_total",
                          "AWS request attempts, by error code (OK on success).", l_aws, NULL, 0);
    am->retries =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_aws_retries_total",
                          "AWS request attempts that were retried in the call.", l_awsr, NULL, 0);
    return am->requests && am->retries ? 0 : -1;
}

void sl_aws_metrics_observe(sl_aws_metrics *am, const char *service, const char *operation,
                            const char *code, int retry)
{
    if (retry) {
        const char *const v[] = {service, operation, NULL};
        (void)sl_metrics_add(am->retries, v, 1);
    } else {
        const char *const v[] = {service, operation, code, NULL};
        (void)sl_metrics_add(am->requests, v, 1);
    }
}
