/* producer_metrics.c - see producer_metrics.h. */
#include "producer_metrics.h"

#include <string.h>

#include <librdkafka/rdkafka.h>

/* Prometheus label values of sl_pm_step (producer.c's step names have blanks). */
static const char *const step_labels[SL_PM_NSTEPS] = {"ledger_lookup", "publish", "ledger_record",
                                                      "dead_letter_publish"};

#define PROBE_MAX_EVERY_MS 10000
#define KAFKA_PROBE_TIMEOUT_MS 1000

int sl_pmetrics_init(sl_pmetrics *pm, const sl_endpoint_opts *o, int serve, int sqs,
                     const char *mode, char *err, size_t errlen)
{
    static const char *const l_mode[] = {"mode", NULL};
    static const char *const l_stage[] = {"stage", NULL};
    static const char *const l_step[] = {"step", NULL};
    static const char *const producer[] = {"producer", NULL};
    const char *const md[] = {mode, NULL};
    sl_endpoint_opts eo = *o;
    sl_metrics *m;

    memset(pm, 0, sizeof(*pm));
    pm->mode = mode;
    pm->ready_timeout_ms = o->ready_timeout_ms;
    if (!serve)
        eo.addr = NULL; /* a short run (discover, cluster) is not probed: no port to hold */
    if (sl_endpoint_new(&pm->ep, &eo, sqs ? SL_ENDPOINT_SQS : 0, err, errlen))
        return -1;
    m = sl_endpoint_metrics(pm->ep);
    pm->received = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_producer_events_received_total",
        "Inputs read: event-mode frames, SQS message bodies (each handled once).", l_mode, NULL, 0);
    pm->published =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_producer_published_total",
                          "Snapshot messages published (acknowledged by Kafka).", l_mode, NULL, 0);
    pm->duplicates = sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_producer_duplicates_total",
                                       "Snapshots skipped: their run was in the ledger already.",
                                       l_mode, NULL, 0);
    pm->dead_letters =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_dead_letters_total",
                          "Input messages dead-lettered to the dlq topic.", l_stage, NULL, 0);
    pm->step_failures = sl_metrics_family(
        m, SL_METRIC_COUNTER, "snaplake_producer_step_failures_total",
        "Failed tries of a Kafka or PostgreSQL step (retried up to PRODUCER_MAX_ATTEMPTS).", l_step,
        NULL, 0);
    pm->sqs_received =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_producer_sqs_received_total",
                          "SQS messages received (a redelivery counts again).", NULL, NULL, 0);
    pm->sqs_deleted =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_producer_sqs_deleted_total",
                          "SQS messages deleted after they were handled.", NULL, NULL, 0);
    if (!pm->received || !pm->published || !pm->duplicates || !pm->dead_letters ||
        !pm->step_failures || !pm->sqs_received || !pm->sqs_deleted ||
        sl_aws_metrics_init(&pm->aws, m))
        return sl_seterr(err, errlen, "metrics: out of memory");
    /* Series that exist from the start, so a rate() has a zero to begin from. */
    (void)sl_metrics_add(pm->received, md, 0);
    (void)sl_metrics_add(pm->published, md, 0);
    (void)sl_metrics_add(pm->duplicates, md, 0);
    (void)sl_metrics_add(pm->dead_letters, producer, 0);
    for (size_t i = 0; i < SL_PM_NSTEPS; i++) {
        const char *const st[] = {step_labels[i], NULL};
        (void)sl_metrics_add(pm->step_failures, st, 0);
    }
    if (sqs) {
        (void)sl_metrics_add(pm->sqs_received, NULL, 0);
        (void)sl_metrics_add(pm->sqs_deleted, NULL, 0);
    }
    return 0;
}

void sl_pmetrics_cleanup(sl_pmetrics *pm)
{
    sl_endpoint_free(pm->ep);
    memset(pm, 0, sizeof(*pm));
}

sl_endpoint *sl_pmetrics_endpoint(sl_pmetrics *pm)
{
    return pm->ep;
}

/*
 * The producer holds no consumer group, so nothing reports Kafka's state by itself: a metadata
 * request is the round trip that proves a broker answers (librdkafka keeps its connections, so
 * it costs one request; when no broker answers it costs the timeout, every probe period).
 * PostgreSQL as the worker does: an idle connection's status says nothing of a server gone.
 */
void sl_pmetrics_turn(sl_pmetrics *pm, sl_kafka_producer *prod, sl_pg_link *pg)
{
    long long now = sl_mono_ms(), every;

    if (!pm->ep)
        return;
    /* Three probes per HEALTH_READY_TIMEOUT, so one lost answer does not flap /readyz. */
    every = pm->ready_timeout_ms / 3;
    if (every > PROBE_MAX_EVERY_MS)
        every = PROBE_MAX_EVERY_MS;
    if (pm->probe_ms == 0 || now - pm->probe_ms >= every) {
        char e[SL_ERRLEN];
        pm->probe_ms = now;
        if (prod) {
            const struct rd_kafka_metadata *md = NULL;
            if (rd_kafka_metadata(sl_kafka_producer_handle(prod), 0, NULL, &md,
                                  KAFKA_PROBE_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (md->broker_cnt > 0)
                    sl_endpoint_kafka_ok(pm->ep);
                rd_kafka_metadata_destroy(md);
            }
        }
        if (pg && sl_pg_ensure(pg, NULL, e, sizeof(e)) == 0 &&
            sl_pg_ping(pg->conn, e, sizeof(e)) == 0)
            sl_endpoint_pg_ok(pm->ep);
    }
    sl_endpoint_turn(pm->ep);
}

void sl_pmetrics_count(sl_pmetrics *pm, sl_metric_family *f, double n)
{
    const char *const md[] = {pm->mode, NULL};

    (void)sl_metrics_add(f, md, n);
}

void sl_pmetrics_dead_letter(sl_pmetrics *pm)
{
    static const char *const producer[] = {"producer", NULL};

    (void)sl_metrics_add(pm->dead_letters, producer, 1);
}

void sl_pmetrics_step_failed(sl_pmetrics *pm, sl_pm_step step)
{
    const char *const st[] = {step_labels[step], NULL};

    (void)sl_metrics_add(pm->step_failures, st, 1);
}

void sl_pmetrics_aws(void *ud, const char *service, const char *operation, const char *code,
                     int retry)
{
    sl_aws_metrics_observe(&((sl_pmetrics *)ud)->aws, service, operation, code, retry);
}
