/* worker_metrics.c - see worker_metrics.h. */
#include "worker_metrics.h"

#include <stdio.h>
#include <string.h>

/* Stage durations run from seconds (a copy of a few files) to hours (an export): buckets
 * spread over that range, so a histogram_quantile stays meaningful at both ends. */
static const double duration_buckets[] = {0.1, 0.5,  1,    5,    15,    60,   300,
                                          900, 1800, 3600, 7200, 14400, 28800};

int sl_wmetrics_init(sl_wmetrics *wm, sl_metrics *m, const char *stage)
{
    static const char *const l_stage[] = {"stage", NULL};
    static const char *const l_outcome[] = {"stage", "outcome", NULL};
    static const char *const l_lag[] = {"topic", "partition", NULL};
    static const char *const l_kind[] = {"kind", NULL};
    static const char *const l_cause[] = {"cause", NULL};

    memset(wm, 0, sizeof(*wm));
    wm->stage = stage;
    wm->in_flight = sl_metrics_family(m, SL_METRIC_GAUGE, "snaplake_jobs_in_flight",
                                      "Jobs this worker holds (running, waiting or retrying).",
                                      l_stage, NULL, 0);
    /* The age of the oldest job, not only the count: a count that never drops says nothing
     * of one export stuck for a day behind others that come and go, and an alert on "stuck
     * past its expected time" needs exactly that age (deploy/k8s/alerts.yaml). */
    wm->oldest_age = sl_metrics_family(
        m, SL_METRIC_GAUGE, "snaplake_job_oldest_age_seconds",
        "Age of the oldest job this worker holds, since it took its slot (0 when none).", l_stage,
        NULL, 0);
    wm->finished = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_jobs_finished_total",
        "Jobs finished, by outcome: done, failed, dead_letter, fenced_out.", l_outcome, NULL, 0);
    wm->duration = sl_metrics_family(m, SL_METRIC_HISTOGRAM, "snaplake_stage_duration_seconds",
                                     "Time from a job's message being accepted to its outcome "
                                     "being committed, retries included.",
                                     l_stage, duration_buckets, SL_ARRAY_LEN(duration_buckets));
    if (sl_aws_metrics_init(&wm->aws, m))
        return -1;
    wm->slots_held = sl_metrics_family(
        m, SL_METRIC_GAUGE, "snaplake_export_slots_held",
        "Export slots held by every snaplake worker, as this worker last saw them.", NULL, NULL, 0);
    wm->slot_limit =
        sl_metrics_family(m, SL_METRIC_GAUGE, "snaplake_export_slot_limit",
                          "EXPORT_TASK_LIMIT: concurrent exports allowed.", NULL, NULL, 0);
    wm->foreign = sl_metrics_family(
        m, SL_METRIC_GAUGE, "snaplake_export_foreign_running",
        "Running exports in the account not started by snaplake (they count against the limit).",
        NULL, NULL, 0);
    wm->copy_objects = sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_copy_objects_total",
                                         "Objects copied into the lake.", NULL, NULL, 0);
    wm->copy_bytes = sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_copy_bytes_total",
                                       "Bytes copied into the lake.", NULL, NULL, 0);
    wm->copy_cuts = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_copy_window_cuts_total",
        "Cuts of a destination prefix's window of copies in flight on S3 SlowDown.", NULL, NULL, 0);
    wm->lag = sl_metrics_family(m, SL_METRIC_GAUGE, "snaplake_consumer_lag",
                                "Messages behind the partition's end (librdkafka consumer_lag).",
                                l_lag, NULL, 0);
    wm->dead_letters =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_dead_letters_total",
                          "Input messages dead-lettered to the dlq topic.", l_stage, NULL, 0);
    wm->failures =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_failures_published_total",
                          "Failure messages published to the failures topic.", l_stage, NULL, 0);
    wm->phase_errors = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_job_phase_errors_total",
        "Impossible job phase changes (a runtime bug; the error log line names them).", l_stage,
        NULL, 0);
    wm->kafka_up = sl_metrics_family(
        m, SL_METRIC_GAUGE, "snaplake_kafka_group_joined",
        "1 when the last statistics report showed the consumer group joined.", NULL, NULL, 0);
    wm->alerts_posted =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_alerts_posted_total",
                          "Alerts the webhook accepted (2xx), by kind.", l_kind, NULL, 0);
    wm->alerts_failed = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_alerts_failed_total",
        "Alerts the webhook refused for good (a 4xx), logged in full and skipped, by kind.", l_kind,
        NULL, 0);
    wm->alert_retries = sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_alert_retries_total",
                                          "Webhook posts retried, by cause.", l_cause, NULL, 0);
    if (!wm->alerts_posted || !wm->alerts_failed || !wm->alert_retries)
        return -1;
    if (!wm->in_flight || !wm->oldest_age || !wm->finished || !wm->duration || !wm->slots_held ||
        !wm->slot_limit || !wm->foreign || !wm->copy_objects || !wm->copy_bytes || !wm->copy_cuts ||
        !wm->lag || !wm->dead_letters || !wm->failures || !wm->kafka_up || !wm->phase_errors)
        return -1;
    {
        /* Series that exist from the start, so a rate() has a zero to begin from. */
        const char *const st[] = {stage, NULL};
        static const char *const outcomes[] = {"done", "failed", "dead_letter", "fenced_out"};
        (void)sl_metrics_set(wm->in_flight, st, 0);
        (void)sl_metrics_set(wm->oldest_age, st, 0);
        (void)sl_metrics_add(wm->dead_letters, st, 0);
        (void)sl_metrics_add(wm->failures, st, 0);
        (void)sl_metrics_add(wm->phase_errors, st, 0);
        for (size_t i = 0; i < SL_ARRAY_LEN(outcomes); i++) {
            const char *const so[] = {stage, outcomes[i], NULL};
            (void)sl_metrics_add(wm->finished, so, 0);
        }
    }
    return 0;
}

void sl_wmetrics_jobs(sl_wmetrics *wm, size_t njobs, long long oldest_age_ms)
{
    const char *const st[] = {wm->stage, NULL};

    (void)sl_metrics_set(wm->in_flight, st, (double)njobs);
    (void)sl_metrics_set(wm->oldest_age, st,
                         njobs && oldest_age_ms > 0 ? (double)oldest_age_ms / 1000.0 : 0);
}

void sl_wmetrics_finished(sl_wmetrics *wm, const char *outcome, double seconds)
{
    const char *const st[] = {wm->stage, NULL};
    const char *const so[] = {wm->stage, outcome, NULL};

    (void)sl_metrics_add(wm->finished, so, 1);
    (void)sl_metrics_observe(wm->duration, st, seconds < 0 ? 0 : seconds);
}

void sl_wmetrics_lag(sl_wmetrics *wm, const sl_kstats *ks)
{
    sl_metrics_reset(wm->lag);
    for (size_t i = 0; i < ks->nparts; i++) {
        char p[16];
        const char *const v[] = {ks->parts[i].topic, p, NULL};
        snprintf(p, sizeof(p), "%d", (int)ks->parts[i].partition);
        (void)sl_metrics_set(wm->lag, v, (double)ks->parts[i].lag);
    }
    (void)sl_metrics_set(wm->kafka_up, NULL, ks->group_up ? 1 : 0);
}

void sl_wmetrics_alerts_zero(sl_wmetrics *wm)
{
    static const char *const kinds[] = {"failure", "dead_letter"};

    for (size_t i = 0; i < SL_ARRAY_LEN(kinds); i++) {
        const char *const v[] = {kinds[i], NULL};
        (void)sl_metrics_add(wm->alerts_posted, v, 0);
        (void)sl_metrics_add(wm->alerts_failed, v, 0);
    }
}

void sl_wmetrics_alert(sl_wmetrics *wm, const char *event, const char *label)
{
    const char *const v[] = {label, NULL};
    sl_metric_family *f = strcmp(event, "posted") == 0   ? wm->alerts_posted
                          : strcmp(event, "failed") == 0 ? wm->alerts_failed
                                                         : wm->alert_retries;

    (void)sl_metrics_add(f, v, 1);
}

void sl_wmetrics_aws(void *ud, const char *service, const char *operation, const char *code,
                     int retry)
{
    sl_aws_metrics_observe(&((sl_wmetrics *)ud)->aws, service, operation, code, retry);
}
