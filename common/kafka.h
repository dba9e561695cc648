/*
 * kafka.h - snaplake's Kafka clients on librdkafka (2.0.2, Debian): configuration from the
 * environment, an idempotent producer with a synchronous "produce and wait for the delivery
 * report" call, a group consumer that stores offsets by hand, topic names and topic creation.
 *
 * Configuration. Every client is configured in three layers, later ones winning:
 *   1. our defaults (below, per client kind);
 *   2. the caller's `props`: a NULL-terminated list of property, value strings
 *      ({"client.id", "snaplake-export", NULL}), or NULL;
 *   3. the environment: each variable KAFKA_<NAME> sets librdkafka property <name>, lowercased
 *      with '_' turned into '.' (KAFKA_BOOTSTRAP_SERVERS -> bootstrap.servers,
 *      KAFKA_SECURITY_PROTOCOL -> security.protocol, KAFKA_SASL_MECHANISM,
 *      KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION, ...), so SASL/TLS to a
 *      managed cluster such as MSK needs no code change.
 * Exceptions to the mapping:
 *   - Variables that are snaplake's own settings, not librdkafka properties, are skipped:
 *     SL_KAFKA_OWN_VARS below (KAFKA_TOPIC_PREFIX). Add new KAFKA_-prefixed settings there.
 *   - Variables other software puts in a container's environment are skipped too:
 *     Kubernetes service links for a Service named "kafka" (KAFKA_SERVICE_*, KAFKA_PORT,
 *     KAFKA_PORT_*), the JVM tools' KAFKA_*_OPTS / KAFKA_OPTS, and KAFKA_HOME; and names with
 *     characters other than [A-Za-z0-9_].
 *   - Properties the at-least-once design depends on are locked and cannot be overridden by
 *     props or environment (a create fails naming the property): for the producer
 *     enable.idempotence=true and acks=all; for the consumer enable.auto.offset.store=false
 *     and partition.assignment.strategy (eager only: "range", "roundrobin" or both; the
 *     rebalance handler uses rd_kafka_assign, which the cooperative protocol forbids).
 *   - librdkafka property names that contain '_' (very few, none needed here) cannot be set
 *     this way; pass them in props.
 * An unknown property or invalid value fails the create with librdkafka's error text
 * (which quotes the value, so for secret properties only the property name is given). Values of
 * properties whose name contains "password", "secret", "key" or "token" (sasl.password,
 * ssl.key.password, sasl.oauthbearer.*) are never logged.
 *
 * `envp` arguments take a NULL-terminated "NAME=VALUE" array like `environ`; NULL means the
 * process environment. Tests pass a fake one.
 *
 * librdkafka's own log lines are routed to sl_log (field "source":"rdkafka") instead of
 * stderr.
 * Errors carry rd_kafka_err2str() text. None of these objects is thread-safe.
 *
 * One header for the whole module, because the stages use its topics, producer and consumer
 * together; the code is split by concern: kafka_conf.c (configuration, the conf builder that
 * kafka_conf.h shares inside the module), kafka_admin.c (admin client, topic names and
 * creation), kafka_producer.c and kafka_consumer.c.
 */
#ifndef SL_KAFKA_H
#define SL_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "util.h"

/* KAFKA_-prefixed variables that are snaplake settings, not librdkafka properties. */
#define SL_KAFKA_OWN_VARS                                                                          \
    {                                                                                              \
        "KAFKA_TOPIC_PREFIX", NULL                                                                 \
    }

/* Topic names are <prefix><stage>; the prefix comes from KAFKA_TOPIC_PREFIX or this. */
#define SL_KAFKA_DEFAULT_PREFIX "snaplake."
#define SL_KAFKA_TOPIC_SNAPSHOTS "snapshots"
#define SL_KAFKA_TOPIC_EXPORTS "exports"
#define SL_KAFKA_TOPIC_COPIES "copies"
#define SL_KAFKA_TOPIC_CRAWLS "crawls"
#define SL_KAFKA_TOPIC_SHARES "shares"
#define SL_KAFKA_TOPIC_FAILURES "failures"
#define SL_KAFKA_TOPIC_DLQ "dlq"

/* Longest librdkafka property name we map (librdkafka's longest is ~45 characters). */
#define SL_KAFKA_PROP_MAX 128

/* ---- configuration (pure, unit-tested) ---- */

/*
 * Maps one environment variable name to a librdkafka property name into prop[proplen].
 * Returns 1 when mapped, 0 when the variable is not for librdkafka (no KAFKA_ prefix, nothing
 * after it, or listed in SL_KAFKA_OWN_VARS), -1 when the result does not fit in prop.
 * Pure; prop is written only when 1 is returned.
 */
int sl_kafka_env_to_prop(const char *env_name, char *prop, size_t proplen) SL_MUST_CHECK;

/* Non-zero when a property's value must never be logged (name contains password, secret,
 * key or token, case-insensitively). */
int sl_kafka_prop_is_secret(const char *prop);

/*
 * Applies the KAFKA_* variables of envp (NULL = the process environment) to conf with
 * rd_kafka_conf_set(). Each applied property is logged at debug level, its value replaced by
 * "(redacted)" when sl_kafka_prop_is_secret(). Returns 0, or -1 naming the variable and
 * carrying librdkafka's error for the first one librdkafka refuses (no locked properties
 * here: those are enforced by the client constructors).
 * conf stays owned by the caller and may be partly updated on failure.
 */
int sl_kafka_conf_apply_env(rd_kafka_conf_t *conf, char *const *envp, char *err,
                            size_t errlen) SL_MUST_CHECK;

/*
 * Checks every KAFKA_* variable of envp (NULL = the process environment) before anything
 * connects: each is set on a scratch conf with rd_kafka_conf_set() and checked against the
 * properties snaplake fixes for its producer and its consumer. Appends one line per refused
 * variable after what err holds (NUL-terminated on entry), so a binary reports all of them
 * with its other configuration errors. Secret values are never quoted. Returns 0 or -1.
 */
int sl_kafka_conf_check_env(char *const *envp, char *err, size_t errlen);

/*
 * Builds a topic name "<prefix><stage>" into out[outlen]. prefix NULL means KAFKA_TOPIC_PREFIX
 * from the environment, or SL_KAFKA_DEFAULT_PREFIX when that is unset. Returns 0, or -1 when
 * it does not fit or the result is not a legal Kafka topic name (1-249 characters of
 * [A-Za-z0-9._-]).
 */
int sl_kafka_topic_name(char *out, size_t outlen, const char *prefix,
                        const char *stage) SL_MUST_CHECK;

/*
 * A short-lived client for Admin API and metadata requests (topic creation, the command
 * line's lag), configured as described above from props and envp (no locked properties).
 * On success *out owns it (rd_kafka_destroy). Returns 0 or -1 with librdkafka's text.
 */
int sl_kafka_admin_new(rd_kafka_t **out, const char *const *props, char *const *envp, char *err,
                       size_t errlen) SL_MUST_CHECK;

/*
 * Waits on q for the answer to an Admin API request sent with a timeout_ms request timeout
 * (plus slack: the answer comes by then at the latest). Returns the result event (the caller
 * destroys it), or NULL with "<what>: no answer within N ms" or "<what>: <the event's error>".
 */
rd_kafka_event_t *sl_kafka_admin_wait(rd_kafka_queue_t *q, int timeout_ms, const char *what,
                                      char *err, size_t errlen);

/* Frees what an Admin API call made; each may be NULL. */
void sl_kafka_admin_release(rd_kafka_event_t *ev, rd_kafka_queue_t *q,
                            rd_kafka_AdminOptions_t *opt);

/*
 * Creates topics with the Admin API (CreateTopics), `partitions` partitions and replication
 * factor `replication` each; a topic that already exists counts as success. Connects with a
 * short-lived client configured as described above from props and envp, and waits up to
 * timeout_ms. Returns 0, or -1 naming the first topic that failed with the broker's error.
 */
int sl_kafka_create_topics(const char *const *topics, size_t ntopics, int partitions,
                           int replication, const char *const *props, char *const *envp,
                           int timeout_ms, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * The pipeline-topic settings every binary shares, embedded in its config struct and read
 * through its table with SL_KAFKA_TOPIC_CFG_OPTS(type, member). Strings owned by that struct.
 */
typedef struct sl_kafka_topic_opts {
    char *prefix;                 /* KAFKA_TOPIC_PREFIX */
    int create;                   /* SL_CREATE_TOPICS */
    long long partitions;         /* TOPIC_PARTITIONS */
    long long replication;        /* TOPIC_REPLICATION */
    long long publish_timeout_ms; /* PUBLISH_TIMEOUT */
} sl_kafka_topic_opts;

/* clang-format off */
#define SL_KAFKA_TOPIC_CFG_OPTS(type, member)                                                     \
    {"KAFKA_TOPIC_PREFIX", SL_CFG_STRING, SL_KAFKA_DEFAULT_PREFIX, 0, -1, 0,                      \
     offsetof(type, member.prefix), "prefix of every topic name"},                                \
    {"SL_CREATE_TOPICS", SL_CFG_BOOL, "false", 0, -1, 0, offsetof(type, member.create),           \
     "create the six pipeline topics at start (local stack, tests, demo)"},                       \
    {"TOPIC_PARTITIONS", SL_CFG_INT, "12", 1, 10000, 0, offsetof(type, member.partitions),        \
     "partitions of topics created at start"},                                                    \
    {"TOPIC_REPLICATION", SL_CFG_INT, "1", 1, 32, 0, offsetof(type, member.replication),          \
     "replication factor of topics created at start (3 on a production cluster)"},                \
    {"PUBLISH_TIMEOUT", SL_CFG_DURATION, "30s", 100, 600000, 0,                                   \
     offsetof(type, member.publish_timeout_ms), "wait for a delivery report this long"}
/* clang-format on */

/*
 * Creates the pipeline topics (<prefix>snapshots, exports, copies, crawls, shares, failures, dlq)
 * with o->partitions and o->replication, through sl_kafka_create_topics (existing topics are
 * fine; envp as there). Returns 0, or -1 with err naming the topic or the broker's error.
 */
int sl_kafka_create_pipeline_topics(const sl_kafka_topic_opts *o, char *const *envp, char *err,
                                    size_t errlen) SL_MUST_CHECK;

/* ---- producer ---- */

/*
 * Idempotent producer. Defaults: enable.idempotence=true, acks=all (locked),
 * delivery.timeout.ms=30000, linger.ms=5, compression.type=lz4, partitioner=murmur2_random
 * (the Java client's, so a key maps to the same partition whichever client produced it).
 */
typedef struct sl_kafka_producer sl_kafka_producer;

/* One message header; value may be NULL (a null header value), len bytes otherwise. */
typedef struct sl_kafka_header {
    const char *name;
    const void *value;
    size_t len;
} sl_kafka_header;

/*
 * Creates a producer (see the configuration layers above). On success *out owns it; free
 * with sl_kafka_producer_free(). Returns 0 or -1 with librdkafka's text.
 */
int sl_kafka_producer_new(sl_kafka_producer **out, const char *const *props, char *const *envp,
                          char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Produces one message and waits for its delivery report: when this returns 0 the broker has
 * the message on all in-sync replicas (acks=all), so the caller may now store its input
 * offset. key/value are copied (key may be NULL; value may be NULL for a tombstone); hdrs is
 * NULL or nhdrs headers, copied. partition is RD_KAFKA_PARTITION_UA to let the partitioner
 * hash the key. Waits up to timeout_ms (<= 0: until the delivery report, which librdkafka
 * bounds by delivery.timeout.ms).
 * Returns 0, or -1 with err and (if code is non-NULL) *code set: the delivery error, the
 * enqueue error, or RD_KAFKA_RESP_ERR__TIMED_OUT when timeout_ms passed first (the message may
 * still be delivered later: treat as "not known durable" and retry; the idempotent producer
 * keeps a retry from duplicating within the session, consumers must still be idempotent).
 * Transient: __TIMED_OUT, __MSG_TIMED_OUT, __QUEUE_FULL, broker-side retriable errors
 * (rd_kafka_err2name for logs). Permanent: __UNKNOWN_TOPIC, MSG_SIZE_TOO_LARGE, fatal errors.
 */
int sl_kafka_produce_sync(sl_kafka_producer *p, const char *topic, int32_t partition,
                          const void *key, size_t keylen, const void *value, size_t len,
                          const sl_kafka_header *hdrs, size_t nhdrs, int timeout_ms,
                          rd_kafka_resp_err_t *code, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Called from sl_kafka_producer_poll (and from the waits of produce_sync and flush) with the
 * delivery report of each message sl_kafka_produce_async enqueued: its ticket and the
 * delivery error (RD_KAFKA_RESP_ERR_NO_ERROR = on every in-sync replica, acks=all).
 */
typedef void (*sl_kafka_report_fn)(sl_kafka_producer *p, uint64_t ticket, rd_kafka_resp_err_t e,
                                   void *ud);

/* Registers (or with fn NULL, removes) the delivery-report hook of async produces. */
void sl_kafka_producer_set_report_hook(sl_kafka_producer *p, sl_kafka_report_fn fn, void *ud);

/*
 * Enqueues one message like sl_kafka_produce_sync without waiting for it: the outcome arrives
 * later as a call of the report hook with *ticket (non-zero, unique per producer), from
 * sl_kafka_producer_poll. key/value/hdrs are copied. Never blocks: a full local queue is
 * RD_KAFKA_RESP_ERR__QUEUE_FULL, to be retried later. Returns 0 with *ticket set, or -1 with
 * err and (if non-NULL) *code (enqueue errors; the classes as for produce_sync).
 */
int sl_kafka_produce_async(sl_kafka_producer *p, const char *topic, int32_t partition,
                           const void *key, size_t keylen, const void *value, size_t len,
                           const sl_kafka_header *hdrs, size_t nhdrs, uint64_t *ticket,
                           rd_kafka_resp_err_t *code, char *err, size_t errlen) SL_MUST_CHECK;

/* Serves delivery reports (and client events) for up to timeout_ms (0 = what is there, no
 * wait). Returns the number of events served. */
int sl_kafka_producer_poll(sl_kafka_producer *p, int timeout_ms);

/*
 * Waits up to timeout_ms for every outstanding message. Returns 0, or -1 when some are still
 * in flight (their count in err).
 */
int sl_kafka_producer_flush(sl_kafka_producer *p, int timeout_ms, char *err,
                            size_t errlen) SL_MUST_CHECK;

/* The underlying handle (borrowed), for rd_kafka_conf() checks and metadata in tests. */
rd_kafka_t *sl_kafka_producer_handle(sl_kafka_producer *p);

/*
 * Asks for the leaders of the topics the caller will produce to, in the background, at start:
 * a first produce to a topic the producer has not seen waits in librdkafka's unassigned queue
 * until its metadata arrives and the once-a-second topic scan places it (a worker's first
 * output after a start took 0.6-1 s). Holds a handle per topic (up to SL_KAFKA_WARM_MAX) until
 * sl_kafka_producer_free; NULL or "" entries are skipped. Never blocks; failures only cost
 * the first produce that wait.
 */
#define SL_KAFKA_WARM_MAX 8
void sl_kafka_producer_warm(sl_kafka_producer *p, const char *const *topics, size_t n);

/* Flushes for up to 10 s (logging a warning with the count left undelivered), then destroys.
 * NULL is a no-op. */
void sl_kafka_producer_free(sl_kafka_producer *p);

/* ---- consumer ---- */

/*
 * Group consumer. Defaults: enable.auto.offset.store=false (locked: offsets are stored by hand
 * only after the work is durable), enable.auto.commit=true (every auto.commit.interval.ms,
 * committing only what was stored), auto.offset.reset=earliest,
 * partition.assignment.strategy=range,roundrobin (eager, locked), max.poll.interval.ms=600000
 * (the worker polls while long jobs run, so this only catches a stuck loop),
 * session.timeout.ms=45000, enable.partition.eof=false; prefetch bounded for small messages:
 * queued.min.messages=1000, queued.max.messages.kbytes=1024, fetch.max.bytes=1048576,
 * max.partition.fetch.bytes=262144 (librdkafka's are 100000, 65536, 52428800, 1048576).
 */
typedef struct sl_kafka_consumer sl_kafka_consumer;

/*
 * Called from inside sl_kafka_consumer_poll() (and from sl_kafka_consumer_close()) on each
 * eager rebalance. `assigned` non-zero: parts were just assigned (rd_kafka_assign already
 * done and every partition of parts resumed, whatever pause the client kept from before), so
 * the worker sets each partition's pause state to what it wants now. `assigned` zero: parts are
 * being revoked; the hook runs before the consumer commits stored offsets and gives them up
 * (resuming them, so no pause outlives the assignment), so the worker stores what is durable and
 * drops work for them. parts is borrowed for the duration of the call.
 */
typedef void (*sl_kafka_rebalance_fn)(sl_kafka_consumer *c, int assigned,
                                      const rd_kafka_topic_partition_list_t *parts, void *ud);

/*
 * Creates a consumer in group group_id (required; the environment's KAFKA_GROUP_ID, if set,
 * wins as for any property). On success *out owns it; free with sl_kafka_consumer_free().
 * Returns 0 or -1 with librdkafka's text.
 */
int sl_kafka_consumer_new(sl_kafka_consumer **out, const char *group_id, const char *const *props,
                          char *const *envp, char *err, size_t errlen) SL_MUST_CHECK;

/* Registers (or with fn NULL, removes) the rebalance hook. Call before subscribing. */
void sl_kafka_consumer_set_rebalance_hook(sl_kafka_consumer *c, sl_kafka_rebalance_fn fn, void *ud);

/*
 * Called from inside sl_kafka_consumer_poll() with librdkafka's statistics JSON (json[len],
 * borrowed for the call) every statistics.interval.ms (a consumer property; off by default).
 */
typedef void (*sl_kafka_stats_fn)(sl_kafka_consumer *c, const char *json, size_t len, void *ud);

/* Registers (or with fn NULL, removes) the statistics hook. */
void sl_kafka_consumer_set_stats_hook(sl_kafka_consumer *c, sl_kafka_stats_fn fn, void *ud);

/* Subscribes to ntopics topics (copied). Returns 0 or -1 with librdkafka's text. */
int sl_kafka_consumer_subscribe(sl_kafka_consumer *c, const char *const *topics, size_t ntopics,
                                char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Polls once for up to timeout_ms, serving rebalances and the hook. Returns 0 with *out set
 * to a message the caller owns (free with rd_kafka_message_destroy) or to NULL on timeout or
 * partition EOF (not an error). Returns -1 with *out NULL, err and (if non-NULL) *code set on
 * a consumer error: these are mostly transient (broker down, transport) and librdkafka
 * recovers by itself, so the worker logs and keeps polling, unless
 * sl_kafka_consumer_fatal(c) reports a fatal error, in which case it should shut down.
 */
int sl_kafka_consumer_poll(sl_kafka_consumer *c, int timeout_ms, rd_kafka_message_t **out,
                           rd_kafka_resp_err_t *code, char *err, size_t errlen) SL_MUST_CHECK;

/* Non-zero when librdkafka raised a fatal error on this consumer (it must be recreated). */
int sl_kafka_consumer_fatal(sl_kafka_consumer *c);

/*
 * Marks message m processed: stores offset m->offset + 1 (Kafka's committed offset is the
 * next one to read) for its partition, to be committed by the next auto-commit or at close.
 * Call only once the work for m (and for every earlier offset of that partition) is durable.
 * Returns 0, or -1 with librdkafka's text (e.g. the partition is no longer assigned).
 */
int sl_kafka_consumer_store(sl_kafka_consumer *c, const rd_kafka_message_t *m, char *err,
                            size_t errlen) SL_MUST_CHECK;

/* As sl_kafka_consumer_store for the message at `offset` of topic/partition (stores
 * offset + 1), for workers that finish jobs after the message was freed. */
int sl_kafka_consumer_store_offset(sl_kafka_consumer *c, const char *topic, int32_t partition,
                                   int64_t offset, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Commits the stored offsets synchronously. Nothing stored since the last commit is success.
 * Returns 0 or -1 with librdkafka's text.
 */
int sl_kafka_consumer_commit(sl_kafka_consumer *c, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Pauses / resumes fetching from one assigned partition. While paused the consumer keeps
 * polling (and so stays in the group); no messages arrive from that partition. An eager
 * rebalance resumes everything: re-pause from the rebalance hook. Returns 0 or -1.
 */
int sl_kafka_consumer_pause(sl_kafka_consumer *c, const char *topic, int32_t partition, char *err,
                            size_t errlen) SL_MUST_CHECK;
int sl_kafka_consumer_resume(sl_kafka_consumer *c, const char *topic, int32_t partition, char *err,
                             size_t errlen) SL_MUST_CHECK;

/* The underlying handle (borrowed), for rd_kafka_conf() checks and assignment queries. */
rd_kafka_t *sl_kafka_consumer_handle(sl_kafka_consumer *c);

/*
 * Clean shutdown (SIGTERM): commits stored offsets synchronously, then leaves the group with
 * rd_kafka_consumer_close() (which revokes through the hook). Idempotent. Returns 0, or -1
 * when the commit or close failed (the consumer is closed anyway).
 */
int sl_kafka_consumer_close(sl_kafka_consumer *c, char *err, size_t errlen) SL_MUST_CHECK;

/* Closes (if not yet closed; errors logged) and destroys. NULL is a no-op. */
void sl_kafka_consumer_free(sl_kafka_consumer *c);

#endif /* SL_KAFKA_H */
