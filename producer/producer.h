/*
 * producer.h - the producer runtime: `snaplake-producer event|discover|cluster` turns
 * snapshots into `snapshot` messages on <KAFKA_TOPIC_PREFIX>snapshots (key = cluster).
 *
 *   event     EventBridge "RDS DB Cluster Snapshot Event"s from stdin or EVENTS_FILE, framed
 *             by evframe.h (JSON lines, pretty objects or arrays), read as they arrive so a
 *             long-running pipe works. Malformed or non-matching input goes to
 *             <prefix>dlq as a `dead_letter` with the reason and the raw bytes, and the
 *             producer goes on.
 *   discover  DescribeDBClusterSnapshots (automated) for each cluster of CLUSTERS, or all;
 *             the newest usable snapshot per cluster (discover.h) is published unless its run
 *             exists. For a Kubernetes CronJob.
 *   cluster   for each cluster of CLUSTERS, DescribeDBClusters for its ARN; an export
 *             straight from the cluster (mode=cluster, ids from sl_ids_from_cluster at now).
 *   sqs       long-polls SQS_QUEUE_URL (sqs.h), the queue an EventBridge rule with the seed's
 *             pattern targets, until SIGTERM. Each message body is handled as event mode
 *             handles one event (published, duplicate, or dead-lettered with its reason);
 *             the batch's handled messages are deleted (DeleteMessageBatch) only after that,
 *             so a crash before the delete redelivers them after SQS_VISIBILITY_TIMEOUT and
 *             the duplicate check below makes the redelivery harmless. A batch held longer
 *             than half the timeout gets its visibility extended. For a Deployment or ECS
 *             service. Test fault injection: SL_TEST_EXIT_AFTER_PUBLISH=true (read once at
 *             start, never in a deployment) makes the producer SIGKILL itself after a batch
 *             that published something, before its delete.
 *
 * Endpoint: the long-running modes (event, sqs) serve /healthz, /readyz (Kafka and PostgreSQL
 * answering; SQS too in sqs mode) and /metrics on METRICS_ADDR, like the workers
 * (producer_metrics.h); `snaplake-producer --probe PATH` is the container health check.
 *
 * Dedupe: run ids are deterministic (ids.h). Before publishing, the ledger is asked whether
 * the run exists: if so the snapshot is logged as a duplicate and skipped; else the message is
 * produced and acknowledged (produce_sync, acks=all) and only then the run is recorded
 * (sl_ledger_run_ensure). A crash between the two republishes the snapshot, which the export
 * stage handles idempotently (it adopts the export task by id).
 *
 * Exit: 0 when every input was handled (published, skipped as a duplicate, or dead-lettered)
 * or after a clean SIGTERM/SIGINT stop; non-zero for infrastructure failures (Kafka,
 * PostgreSQL or AWS failing after PRODUCER_MAX_ATTEMPTS tries) and bad configuration,
 * including a CLUSTERS entry that RDS does not know (cluster mode) or whose listing failed
 * (discover mode). A final log line "summary" carries the counts.
 */
#ifndef SL_PRODUCER_H
#define SL_PRODUCER_H

#include <stddef.h>
#include <stdio.h>

#include "aws_http.h"
#include "endpoint.h"
#include "kafka.h"
#include "pg.h"
#include "util.h"

/* The producer's settings (its config table; --help prints it). */
typedef struct sl_producer_cfg {
    char *log_level;            /* LOG_LEVEL */
    char *mode;                 /* PRODUCER_MODE (the command-line argument wins) */
    char *clusters;             /* CLUSTERS: comma/space separated cluster ids */
    char *events_file;          /* EVENTS_FILE: event mode input; unset or "-" = stdin */
    char *sqs_queue_url;        /* SQS_QUEUE_URL: sqs mode (required there) */
    long long sqs_wait_s;       /* SQS_WAIT_SECONDS: ReceiveMessage WaitTimeSeconds */
    long long sqs_visibility_s; /* SQS_VISIBILITY_TIMEOUT: seconds */
    long long sqs_max_messages; /* SQS_MAX_MESSAGES: 1..10 */
    long long max_frame;        /* EVENT_MAX_BYTES: cap on one input event/line */
    sl_kafka_topic_opts topics; /* KAFKA_TOPIC_PREFIX, SL_CREATE_TOPICS, TOPIC_*, PUBLISH_TIMEOUT */
    long long max_attempts;     /* PRODUCER_MAX_ATTEMPTS: tries of Kafka/PostgreSQL steps */
    long long retry_base_ms;    /* PRODUCER_RETRY_BASE */
    char *database_url;         /* DATABASE_URL (else libpq's PG* environment) */
    sl_pg_opts pg;              /* PG_STATEMENT_TIMEOUT, PG_LOCK_TIMEOUT */
    sl_aws_opts aws;            /* AWS_* rows; read in discover, cluster and sqs modes only
                                   (AWS_ENDPOINT_URL_SQS is a row of the producer's table) */
    sl_endpoint_opts ep;        /* METRICS_ADDR, HEALTH_* (served in event and sqs modes) */
} sl_producer_cfg;

typedef struct sl_producer sl_producer;

/* The counts of one run (also in the summary log line). */
typedef struct sl_producer_stats {
    long long published;     /* snapshot messages produced */
    long long duplicates;    /* skipped: the run existed */
    long long dead_lettered; /* dead_letter messages produced (event mode) */
    long long errors;        /* clusters that could not be handled (AWS/config) */
} sl_producer_stats;

/* Prints usage and the config tables. */
void sl_producer_help(FILE *out, const char *prog);

/*
 * Builds a producer for `mode` ("event", "discover", "cluster" or "sqs"; NULL = PRODUCER_MODE, else
 * "event"): loads and validates the config (all errors at once), initialises logging, builds
 * the AWS client (discover/cluster/sqs), connects to PostgreSQL (with retries) and applies the
 * ledger migrations, creates the topics when SL_CREATE_TOPICS is set, and creates the
 * idempotent Kafka producer. Returns the producer (free with sl_producer_free), or NULL with
 * err saying everything that was wrong.
 */
sl_producer *sl_producer_new(const char *mode, char *err, size_t errlen);

/*
 * What sl_producer_new checks of the configuration, alone, before anything connects. Returns
 * 0, or -1 with every error in err (main exits 2 on it: a configuration error).
 */
int sl_producer_config_check(const char *mode, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Runs the mode to its end (event mode: end of input; sqs mode: never) or until SIGTERM/SIGINT,
 * then flushes the Kafka producer and logs the summary. Returns 0 when every input was handled (or
 * on a clean stop), -1 with err on an infrastructure failure or when some cluster could not be
 * handled. *stats (may be NULL) gets the counts either way.
 */
int sl_producer_run(sl_producer *p, sl_producer_stats *stats, char *err,
                    size_t errlen) SL_MUST_CHECK;

/* Closes everything and frees. NULL is a no-op. */
void sl_producer_free(sl_producer *p);

#endif /* SL_PRODUCER_H */
