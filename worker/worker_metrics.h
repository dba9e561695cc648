/*
 * worker_metrics.h - the worker runtime's metric families (README "Metrics and health"),
 * declared on its endpoint's registry, and the small updates worker.c makes at each event.
 * Internal to the runtime; stages reach the export gauges through worker.h.
 */
#ifndef SL_WORKER_METRICS_H
#define SL_WORKER_METRICS_H

#include <stddef.h>

#include "aws_metrics.h"
#include "kstats.h"
#include "metrics.h"

typedef struct sl_wmetrics {
    const char *stage; /* borrowed: the stage's name */
    sl_metric_family *in_flight, *oldest_age, *finished, *duration;
    sl_aws_metrics aws;
    sl_metric_family *slots_held, *slot_limit, *foreign, *copy_objects, *copy_bytes, *lag;
    sl_metric_family *copy_cuts; /* copy stage: a prefix's window cut on SlowDown */
    sl_metric_family *dead_letters, *failures, *kafka_up;
    sl_metric_family *phase_errors; /* worker_job.c: impossible phase changes */
    sl_metric_family *alerts_posted, *alerts_failed, *alert_retries; /* notify stage */
} sl_wmetrics;

/* Declares every family on m. Returns 0 or -1 (out of memory). */
int sl_wmetrics_init(sl_wmetrics *wm, sl_metrics *m, const char *stage) SL_MUST_CHECK;

/* Once a turn: the jobs held now and the age in ms of the oldest (since its t0, mono ms;
 * ignored when njobs is 0), for snaplake_jobs_in_flight and snaplake_job_oldest_age_seconds. */
void sl_wmetrics_jobs(sl_wmetrics *wm, size_t njobs, long long oldest_age_ms);

/* A job left the runtime: outcome "done" | "failed" | "dead_letter" | "fenced_out" after
 * seconds since it was accepted. */
void sl_wmetrics_finished(sl_wmetrics *wm, const char *outcome, double seconds);

/* Consumer lag per partition from a statistics report (the gauge is rebuilt each report). */
void sl_wmetrics_lag(sl_wmetrics *wm, const sl_kstats *ks);

/* The notify stage's counters: see sl_worker_count_alert (worker.h). sl_wmetrics_alerts_zero
 * creates their series at 0 (a worker that runs a reporter stage), so a rate() has a start. */
void sl_wmetrics_alerts_zero(sl_wmetrics *wm);
void sl_wmetrics_alert(sl_wmetrics *wm, const char *event, const char *label);

/* sl_aws_observer_fn for the worker's AWS client (ud = the sl_wmetrics). */
void sl_wmetrics_aws(void *ud, const char *service, const char *operation, const char *code,
                     int retry);

#endif /* SL_WORKER_METRICS_H */
