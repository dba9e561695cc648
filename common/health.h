/*
 * health.h - the liveness and readiness decision of a long-running binary, as a pure function
 * of timestamps (unit-tested with tables), and its JSON body for /healthz and /readyz.
 *
 * Liveness says "restart me": the main loop has stalled, or a dependency has been lost for so
 * long (dep_timeout) that a fresh process is the better bet (a consumer wedged on a fatal
 * error, a connection that never heals). Readiness says "I am doing my work": Kafka's group
 * joined and PostgreSQL reachable, each seen within ready_timeout.
 */
#ifndef SL_HEALTH_H
#define SL_HEALTH_H

#include <stddef.h>

typedef struct sl_health_in {
    long long now_ms;        /* sl_mono_ms() */
    long long start_ms;      /* when the process began (a dependency never seen counts from it) */
    long long loop_ms;       /* last turn of the main loop */
    long long kafka_ok_ms;   /* last time Kafka's group was seen joined; 0 = never */
    long long pg_ok_ms;      /* last time PostgreSQL answered; 0 = never */
    int kafka_fatal;         /* librdkafka raised a fatal error: the consumer is dead */
    long long loop_stall_ms; /* HEALTH_LOOP_STALL */
    long long ready_timeout_ms; /* HEALTH_READY_TIMEOUT */
    long long dep_timeout_ms;   /* HEALTH_DEPENDENCY_TIMEOUT */
    /* A third dependency some binaries have (the producer's sqs mode reads its queue): judged
       like Kafka and PostgreSQL when want_sqs is set, absent from the decision otherwise. */
    int want_sqs;
    long long sqs_ok_ms; /* last time SQS answered; 0 = never */
} sl_health_in;

typedef struct sl_health {
    int live, ready;
    int loop_ok;             /* the loop turned within loop_stall */
    int kafka_ok;            /* joined within ready_timeout and not fatal */
    int pg_ok;               /* answered within ready_timeout */
    int kafka_lost, pg_lost; /* gone (or never seen) for longer than dep_timeout */
    int want_sqs;            /* copied from the input: the body names an "sqs" check */
    int sqs_ok, sqs_lost;    /* as pg_ok/pg_lost; 1/0 when !want_sqs */
} sl_health;

/* The decision. Pure. */
sl_health sl_health_eval(const sl_health_in *in);

/*
 * The body of /healthz (ready = 0) or /readyz (ready = 1) into buf[buflen]: a one-line JSON
 * object naming each check, e.g. {"status":"ok","checks":{"loop":"ok","kafka":"ok",...}}
 * ("sqs" is named only when want_sqs).
 * Returns the HTTP status for it: 200 or 503.
 */
int sl_health_body(const sl_health *h, int ready, char *buf, size_t buflen);

#endif /* SL_HEALTH_H */
