/*
 * bringup.h - what the producer and the worker each bring up before their loop, once: the
 * credentials chain and the AWS client, the ledger's PostgreSQL connection with its
 * migrations, the pipeline topics (SL_CREATE_TOPICS) and the Kafka producer. Each function
 * names the piece that failed in err the way the binaries report it ("credentials: ...",
 * "postgres: ...", "ledger migrations: ...", "creating topics: ...", "kafka producer: ...").
 */
#ifndef SL_BRINGUP_H
#define SL_BRINGUP_H

#include <stddef.h>

#include "aws_http.h"
#include "creds.h"
#include "kafka.h"
#include "pg.h"
#include "util.h"

/*
 * Builds the credentials chain (default options) and the AWS client over it from o. On
 * success *creds and *aws are the caller's (sl_aws_free, then sl_creds_provider_free); on
 * failure both are left NULL and err says which failed.
 */
int sl_bringup_aws(const sl_aws_opts *o, sl_creds_provider **creds, sl_aws **aws, char *err,
                   size_t errlen) SL_MUST_CHECK;

/* Waits ms between two tries; returns non-zero when a stop was requested (ud: the caller's). */
typedef int (*sl_bringup_nap_fn)(void *ud, long long ms);

/*
 * Sets up *l (application_name app, timeouts o), connects, trying up to tries times (>= 1)
 * with full-jitter backoff from retry_base_ms between tries, waited by nap(ud, ms) (NULL =
 * sl_nap_ms: a binary that serves an endpoint meanwhile passes its own); a stop request ends
 * the tries. Then applies the ledger migrations. The caller owns *l in every case
 * (sl_pg_link_cleanup); on failure l->conn is NULL.
 */
int sl_bringup_ledger(sl_pg_link *l, const char *app, const sl_pg_opts *o, long long tries,
                      long long retry_base_ms, sl_bringup_nap_fn nap, void *ud, char *err,
                      size_t errlen) SL_MUST_CHECK;

/*
 * Creates the pipeline topics when t->create is set, then the Kafka producer with client.id
 * client_id. *prod is the caller's on success (sl_kafka_producer_free).
 */
int sl_bringup_kafka(const sl_kafka_topic_opts *t, const char *client_id, sl_kafka_producer **prod,
                     char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_BRINGUP_H */
