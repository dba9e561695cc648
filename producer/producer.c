/*
 * producer.c - the producer runtime (see producer.h).
 *
 * One thread, no queue of its own: each input is handled to the end (ledger check, produce
 * and wait for the broker's acknowledgement, ledger record) before the next is read, so
 * nothing is ever held only in memory. Kafka and PostgreSQL steps are retried with full-jitter
 * backoff up to PRODUCER_MAX_ATTEMPTS tries; after that the run stops with an error, since
 * every later input would fail the same way (AWS calls retry inside aws_http.c).
 */
#include "producer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backoff.h"
#include "bringup.h"
#include "creds.h"
#include "discover.h"
#include "event.h"
#include "evframe.h"
#include "ids.h"
#include "kafka.h"
#include "ledger.h"
#include "log.h"
#include "msg.h"
#include "pg.h"
#include "producer_metrics.h"
#include "rds.h"
#include "signals.h"
#include "sqs.h"

#define TOPIC_LEN 256
#define READ_CHUNK 65536
#define POLL_MS 200
/* Dead-letter payloads are cut to this: with base64 (4/3) and the envelope the record stays
 * under Kafka's default message.max.bytes (1 MB), and under msg.h's payload cap. */
#define DLQ_PAYLOAD_MAX ((size_t)256 * 1024)
#define RETRY_MAX_MS 30000
#define MAX_CLUSTERS 1000

typedef enum prod_mode { MODE_EVENT, MODE_DISCOVER, MODE_CLUSTER, MODE_SQS } prod_mode;

static const char *const mode_names[] = {"event", "discover", "cluster", "sqs"};

struct sl_producer {
    sl_producer_cfg cfg;
    prod_mode mode;
    char **clusters; /* CLUSTERS split; NULL when unset */
    size_t nclusters;
    sl_creds_provider *creds;
    sl_aws *aws;
    sl_pg_link pg; /* the ledger's connection, ensured before each use */
    sl_kafka_producer *prod;
    char snap_topic[TOPIC_LEN], dlq_topic[TOPIC_LEN];
    sl_producer_stats st;
    int test_exit_after_publish; /* SL_TEST_EXIT_AFTER_PUBLISH, read once (producer.h) */
    sl_pmetrics pm;              /* the endpoint and its metrics (producer_metrics.h) */
};

static const sl_cfg_opt producer_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "info", 0, -1, 0, offsetof(sl_producer_cfg, log_level),
     "debug|info|warn|error"},
    {"PRODUCER_MODE", SL_CFG_STRING, "event", 0, -1, 0, offsetof(sl_producer_cfg, mode),
     "event|discover|cluster|sqs, when no argument is given"},
    {"CLUSTERS", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sl_producer_cfg, clusters),
     "cluster ids, comma or space separated: event mode allowlist (prefix rule of the seed's "
     "EventBridge pattern), discover mode clusters (unset = all), cluster mode (required)"},
    {"EVENTS_FILE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sl_producer_cfg, events_file),
     "event mode input file (unset or - = stdin): JSON lines, pretty JSON objects or arrays"},
    {"EVENT_MAX_BYTES", SL_CFG_INT, "1048576", 1024, 16777216, 0,
     offsetof(sl_producer_cfg, max_frame),
     "longest input event or line; a longer one is dead-lettered, not fatal"},
    {"PRODUCER_MAX_ATTEMPTS", SL_CFG_INT, "5", 1, 100, 0, offsetof(sl_producer_cfg, max_attempts),
     "tries of each Kafka/PostgreSQL step before the run fails"},
    {"PRODUCER_RETRY_BASE", SL_CFG_DURATION, "500ms", 1, 60000, 0,
     offsetof(sl_producer_cfg, retry_base_ms), "base of the full-jitter backoff between tries"},
    {"SQS_QUEUE_URL", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sl_producer_cfg, sqs_queue_url),
     "sqs mode (required): the queue the EventBridge rule targets"},
    {"SQS_WAIT_SECONDS", SL_CFG_INT, "5", 0, 20, 0, offsetof(sl_producer_cfg, sqs_wait_s),
     "sqs mode: long-poll wait of each ReceiveMessage; also the longest a SIGTERM waits"},
    {"SQS_VISIBILITY_TIMEOUT", SL_CFG_INT, "120", 1, 43200, 0,
     offsetof(sl_producer_cfg, sqs_visibility_s),
     "sqs mode: seconds a received message stays hidden; extended while a batch is slow"},
    {"SQS_MAX_MESSAGES", SL_CFG_INT, "10", 1, 10, 0, offsetof(sl_producer_cfg, sqs_max_messages),
     "sqs mode: messages per ReceiveMessage"},
    {"AWS_ENDPOINT_URL_SQS", SL_CFG_STRING, NULL, 0, -1, 0,
     offsetof(sl_producer_cfg, aws.endpoint_sqs), "sqs mode: SQS endpoint override"},
    SL_KAFKA_TOPIC_CFG_OPTS(sl_producer_cfg, topics),
    {"DATABASE_URL", SL_CFG_SECRET, NULL, 0, -1, 0, offsetof(sl_producer_cfg, database_url),
     "PostgreSQL URL or conninfo (else libpq's PG* variables)"},
    SL_PG_CFG_OPTS(sl_producer_cfg, pg),
    SL_ENDPOINT_CFG_OPTS(sl_producer_cfg, ep),
};

static const sl_cfg_opt aws_opts[] = {SL_AWS_CFG_OPTS(sl_producer_cfg, aws)};

/* The producer's own value checks, run beside config.h's standard ones. */
static const sl_cfg_check sqs_checks[] = {{"SQS_QUEUE_URL", sl_sqs_check_queue_url}};

void sl_producer_help(FILE *out, const char *prog)
{
    fprintf(out, "usage: %s [event|discover|cluster|sqs]   (or PRODUCER_MODE)\n\n", prog);
    sl_config_help(out, prog, "producer settings", producer_opts, SL_ARRAY_LEN(producer_opts));
    fprintf(out, "\n");
    sl_config_help(out, prog, "AWS settings (discover, cluster and sqs modes)", aws_opts,
                   SL_ARRAY_LEN(aws_opts));
}

/* ---- small helpers ------------------------------------------------------------------------ */

static void free_clusters(sl_producer *p)
{
    for (size_t i = 0; i < p->nclusters; i++)
        free(p->clusters[i]);
    free(p->clusters);
    p->clusters = NULL;
    p->nclusters = 0;
}

/* Splits CLUSTERS on commas and blanks; every entry must be a valid cluster id. */
static int parse_clusters(sl_producer *p, const char *s, char *err, size_t errlen)
{
    const char *q = s;

    while (*q) {
        size_t n;
        char *id;
        char **grown;

        while (*q == ',' || *q == ' ' || *q == '\t' || *q == '\n')
            q++;
        n = strcspn(q, ", \t\n");
        if (n == 0)
            break;
        if (p->nclusters >= MAX_CLUSTERS)
            return sl_seterr(err, errlen, "CLUSTERS: more than %d entries", MAX_CLUSTERS);
        id = strndup(q, n);
        if (!id)
            return sl_seterr(err, errlen, "CLUSTERS: out of memory");
        if (!sl_ids_cluster_id_valid(id)) {
            sl_seterr(err, errlen,
                      "CLUSTERS: \"%.80s\" is not a cluster id (lowercase letters, digits, "
                      "single hyphens, 1-63 chars, starting with a letter)",
                      id);
            free(id);
            return -1;
        }
        grown = realloc(p->clusters, (p->nclusters + 1) * sizeof(*grown));
        if (!grown) {
            free(id);
            return sl_seterr(err, errlen, "CLUSTERS: out of memory");
        }
        p->clusters = grown;
        p->clusters[p->nclusters++] = id;
        q += n;
    }
    return 0;
}

/* A turn of the loop: the endpoint serves its requests and proves what answers. */
static void turn(sl_producer *p)
{
    sl_pmetrics_turn(&p->pm, p->prod, p->pg.conn ? &p->pg : NULL);
}

/* Sleeps ms milliseconds in short naps, serving the endpoint between them, returning early
 * (-1) when a stop was requested. */
static int nap(sl_producer *p, long long ms)
{
    while (ms > 0 && !sl_should_stop()) {
        long long step = ms < 100 ? ms : 100;
        if (sl_nap_ms(step))
            break;
        ms -= step;
        turn(p);
    }
    return sl_should_stop() ? -1 : 0;
}

/* nap() as the bring-up's wait between PostgreSQL tries (bringup.h): the endpoint is served
 * while PostgreSQL is not there yet. */
static int start_nap(void *ud, long long ms)
{
    return nap(ud, ms);
}

/* Full-jitter backoff before try number `attempt` + 1 (attempt >= 1). */
static long long backoff(const sl_producer *p, int attempt)
{
    return sl_backoff_ms(p->cfg.retry_base_ms, RETRY_MAX_MS, attempt, sl_random_u64());
}

static char *dup_time(long long ms)
{
    char t[32];

    if (sl_msg_format_time(ms, t, sizeof(t)))
        return NULL;
    return strdup(t);
}

/*
 * Builds the snapshot message of sid into *m (initialised here): mode "snapshot", or "cluster"
 * when sid->snapshot_id is empty (cluster mode exports the cluster itself), with run_id, the
 * source ARN, where it came from (source: "event", "discovery", "cluster"), produced_at now and
 * snapshot_time when snapshot_ms is non-NULL. The one place the three modes build it. Returns
 * 0, or -1 with err (out of memory; *m is then cleaned up).
 */
static int snapshot_msg(const sl_snapshot_id *sid, const char *run_id, const char *source_arn,
                        const char *source, const long long *snapshot_ms, sl_msg *m, char *err,
                        size_t errlen)
{
    int whole_cluster = sid->snapshot_id[0] == '\0';

    sl_msg_init(m);
    m->type = SL_MSG_SNAPSHOT;
    m->run_id = strdup(run_id);
    m->cluster = strdup(sid->cluster);
    m->mode = strdup(whole_cluster ? "cluster" : "snapshot");
    m->snapshot_id = whole_cluster ? NULL : strdup(sid->snapshot_id);
    m->source_arn = strdup(source_arn);
    m->date = strdup(sid->date);
    m->source = strdup(source);
    m->produced_at = dup_time(sl_now_ms());
    m->snapshot_time = snapshot_ms ? dup_time(*snapshot_ms) : NULL;
    if (!m->run_id || !m->cluster || !m->mode || (!whole_cluster && !m->snapshot_id) ||
        !m->source_arn || !m->date || !m->source || !m->produced_at) {
        sl_msg_cleanup(m);
        return sl_seterr(err, errlen, "snapshot message: out of memory");
    }
    return 0;
}

/* ---- the ledger check, publish, record sequence ------------------------------------------ */

/* In sl_pm_step's order (producer_metrics.h): a failed try is counted by this value. */
typedef enum step_kind { STEP_EXISTS, STEP_PRODUCE, STEP_ENSURE, STEP_DLQ } step_kind;
_Static_assert(STEP_DLQ == (int)SL_PM_STEP_DLQ && STEP_PRODUCE == (int)SL_PM_STEP_PUBLISH,
               "step_kind and sl_pm_step must match");

static const char *const step_names[] = {"ledger run lookup", "publish", "ledger run record",
                                         "dead-letter publish"};

typedef struct step_args {
    step_kind kind;
    const char *run_id;
    const sl_msg *m;
    const char *topic;
    const char *key;
    const char *text;
    size_t len;
    int exists;  /* STEP_EXISTS result */
    int created; /* STEP_ENSURE result */
} step_args;

static int step_once(sl_producer *p, step_args *a, char *err, size_t errlen)
{
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;

    switch (a->kind) {
    case STEP_EXISTS:
        if (sl_pg_ensure(&p->pg, NULL, err, errlen))
            return -1;
        return sl_ledger_run_exists(p->pg.conn, a->run_id, &a->exists, err, errlen);
    case STEP_ENSURE:
        if (sl_pg_ensure(&p->pg, NULL, err, errlen))
            return -1;
        return sl_ledger_run_ensure(p->pg.conn, a->m, &a->created, err, errlen);
    case STEP_PRODUCE:
    case STEP_DLQ:
        return sl_kafka_produce_sync(p->prod, a->topic, RD_KAFKA_PARTITION_UA, a->key,
                                     a->key ? strlen(a->key) : 0, a->text, a->len, NULL, 0,
                                     (int)p->cfg.topics.publish_timeout_ms, &code, err, errlen);
    }
    return sl_seterr(err, errlen, "unknown step");
}

/* Runs one step with retries. Returns 0, or -1 with err after the last try (or a stop). */
static int step_retry(sl_producer *p, step_args *a, const sl_log_ctx *ctx, char *err, size_t errlen)
{
    char e[SL_ERRLEN];

    for (int attempt = 1;; attempt++) {
        if (step_once(p, a, e, sizeof(e)) == 0) {
            if (a->kind == STEP_PRODUCE || a->kind == STEP_DLQ)
                sl_endpoint_kafka_ok(sl_pmetrics_endpoint(&p->pm)); /* acknowledged */
            return 0;
        }
        sl_pmetrics_step_failed(&p->pm, (sl_pm_step)a->kind);
        if (attempt >= p->cfg.max_attempts)
            return sl_seterr(err, errlen, "%s failed after %d tries: %s", step_names[a->kind],
                             attempt, e);
        sl_log_kv(SL_LOG_WARN, ctx, NULL, "%s failed (try %d of %lld), retrying: %s",
                  step_names[a->kind], attempt, p->cfg.max_attempts, e);
        if (nap(p, backoff(p, attempt)))
            return sl_seterr(err, errlen, "%s: stopped while retrying: %s", step_names[a->kind], e);
    }
}

/*
 * The dedupe-then-publish sequence for one snapshot message m. Returns 0 when handled
 * (published or duplicate), 1 when m does not encode (a permanent fault of this input; reason
 * in err), -1 on an infrastructure failure (err).
 */
static int publish_snapshot(sl_producer *p, const sl_msg *m, char *err, size_t errlen)
{
    sl_log_ctx ctx = {m->run_id, m->cluster, "producer"};
    step_args a;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    memset(&a, 0, sizeof(a));
    a.kind = STEP_EXISTS;
    a.run_id = m->run_id;
    if (step_retry(p, &a, &ctx, err, errlen))
        goto out;
    if (a.exists) {
        const char *kv[] = {"event",  "duplicate", "snapshot_id", m->snapshot_id,
                            "source", m->source,   NULL};
        sl_log_kv(SL_LOG_INFO, &ctx, kv, "duplicate snapshot, run exists");
        p->st.duplicates++;
        sl_pmetrics_count(&p->pm, p->pm.duplicates, 1);
        rc = 0;
        goto out;
    }
    if (sl_msg_encode(m, &text, &len, err, errlen)) {
        rc = 1;
        goto out;
    }
    a.kind = STEP_PRODUCE;
    a.topic = p->snap_topic;
    a.key = m->cluster;
    a.text = text;
    a.len = len;
    if (step_retry(p, &a, &ctx, err, errlen))
        goto out;
    p->st.published++;
    sl_pmetrics_count(&p->pm, p->pm.published, 1);
    {
        const char *kv[] = {"event",  "published", "topic",       p->snap_topic,
                            "mode",   m->mode,     "snapshot_id", m->snapshot_id,
                            "source", m->source,   "source_arn",  m->source_arn,
                            NULL};
        sl_log_kv(SL_LOG_INFO, &ctx, kv, "published snapshot");
    }
    /* Only now, with the message durable in Kafka, is the run recorded: the ledger never
     * claims a run that Kafka does not hold. */
    a.kind = STEP_ENSURE;
    a.m = m;
    if (step_retry(p, &a, &ctx, err, errlen))
        goto out;
    rc = 0;
out:
    free(text);
    return rc;
}

/*
 * Publishes a dead letter for producer input: topic "" (the input had no topic), no key,
 * partition/offset -1, payload = the raw bytes (cut to DLQ_PAYLOAD_MAX, which the reason then
 * says). Returns 0, or -1 with err on an infrastructure failure.
 */
static int dead_letter(sl_producer *p, const char *raw, size_t len, const char *where,
                       const char *reason, char *err, size_t errlen)
{
    sl_msg d;
    step_args a;
    char full[1024], *text = NULL;
    size_t tlen = 0, keep = len < DLQ_PAYLOAD_MAX ? len : DLQ_PAYLOAD_MAX;
    int rc = -1;

    if (keep < len)
        snprintf(full, sizeof(full), "%s (%s; payload cut to its first %zu bytes)", reason, where,
                 keep);
    else
        snprintf(full, sizeof(full), "%s (%s)", reason, where);
    sl_msg_init(&d);
    d.type = SL_MSG_DEAD_LETTER;
    d.reason = strdup(full);
    d.topic = strdup("");
    d.payload = malloc(keep ? keep : 1);
    if (!d.reason || !d.topic || !d.payload) {
        sl_seterr(err, errlen, "dead letter: out of memory");
        goto out;
    }
    if (keep)
        memcpy(d.payload, raw, keep);
    d.payload_len = keep;
    if (sl_msg_encode(&d, &text, &tlen, err, errlen))
        goto out;
    memset(&a, 0, sizeof(a));
    a.kind = STEP_DLQ;
    a.topic = p->dlq_topic;
    a.text = text;
    a.len = tlen;
    if (step_retry(p, &a, NULL, err, errlen))
        goto out;
    p->st.dead_lettered++;
    sl_pmetrics_dead_letter(&p->pm);
    {
        const char *kv[] = {"event", "dead_letter", "topic", p->dlq_topic, "where", where, NULL};
        sl_log_kv(SL_LOG_WARN, NULL, kv, "dead-lettered input: %s", full);
    }
    rc = 0;
out:
    free(text);
    sl_msg_cleanup(&d);
    return rc;
}

/* ---- event mode --------------------------------------------------------------------------- */

/* Builds the snapshot message of a matching event. 0, or -1 with err (a bad id: permanent). */
static int event_msg(const sl_event *ev, sl_msg *m, char *err, size_t errlen)
{
    sl_snapshot_id sid;
    char run_id[SL_IDS_BUFLEN];
    long long t;

    sl_msg_init(m);
    if (sl_ids_parse_snapshot(ev->snapshot_id, &sid, err, errlen) ||
        sl_ids_run_id(&sid, run_id, sizeof(run_id), err, errlen))
        return -1;
    /* The event's time is when RDS announced the snapshot, minutes after it was taken at
     * most; kept normalised to our RFC 3339 form, and left out when it is not one. */
    return snapshot_msg(&sid, run_id, ev->snapshot_arn, "event",
                        ev->event_time && sl_time_parse_ms(ev->event_time, &t) == 0 ? &t : NULL, m,
                        err, errlen);
}

/*
 * Handles one input frame: event mode's frames, and sqs mode's message bodies (where says
 * which message; NULL = "input line N" of the frame). Returns 0 when handled (published,
 * skipped as a duplicate or dead-lettered), -1 with err on an infrastructure failure.
 */
static int handle_frame(sl_producer *p, const sl_evframe_item *it, const char *where, char *err,
                        size_t errlen)
{
    char reason[SL_ERRLEN], wbuf[64];
    sl_event ev;
    sl_msg m;
    int rc;

    if (!where) {
        snprintf(wbuf, sizeof(wbuf), "input line %llu", it->line);
        where = wbuf;
    }
    if (it->reason) {
        snprintf(reason, sizeof(reason), "malformed: %s", it->reason);
        return dead_letter(p, it->data, it->len, where, reason, err, errlen);
    }
    if (it->oversize) {
        snprintf(reason, sizeof(reason),
                 "malformed: input event of %zu bytes exceeds EVENT_MAX_BYTES (%lld)", it->total,
                 p->cfg.max_frame);
        return dead_letter(p, it->data, it->len, where, reason, err, errlen);
    }
    rc = sl_event_parse(it->data, it->len, (const char *const *)p->clusters, p->nclusters, &ev,
                        reason, sizeof(reason));
    if (rc < 0)
        return sl_seterr(err, errlen, "event parse: %s", reason);
    if (rc != SL_EVENT_OK)
        return dead_letter(p, it->data, it->len, where, reason, err, errlen);
    rc = event_msg(&ev, &m, reason, sizeof(reason));
    sl_event_cleanup(&ev);
    if (rc) {
        char r2[SL_ERRLEN + 16];
        snprintf(r2, sizeof(r2), "malformed: %s", reason);
        return dead_letter(p, it->data, it->len, where, r2, err, errlen);
    }
    rc = publish_snapshot(p, &m, reason, sizeof(reason));
    sl_msg_cleanup(&m);
    if (rc == 1) {
        char r2[SL_ERRLEN + 32];
        snprintf(r2, sizeof(r2), "malformed: snapshot message: %s", reason);
        return dead_letter(p, it->data, it->len, where, r2, err, errlen);
    }
    if (rc)
        return sl_seterr(err, errlen, "%s", reason);
    return 0;
}

static int run_event(sl_producer *p, char *err, size_t errlen)
{
    const char *path = p->cfg.events_file;
    int use_stdin = !path || strcmp(path, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : -1, rc = -1, eof = 0;
    sl_evframe *fr = NULL;
    char *buf = NULL;

    if (!use_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return sl_seterr(err, errlen, "EVENTS_FILE %s: %s", path, strerror(errno));
    }
    fr = sl_evframe_new((size_t)p->cfg.max_frame);
    buf = malloc(READ_CHUNK);
    if (!fr || !buf) {
        sl_seterr(err, errlen, "event input: out of memory");
        goto out;
    }
    sl_info(NULL, "reading events from %s", use_stdin ? "stdin" : path);
    while (!eof && !sl_should_stop()) {
        struct pollfd pfd = {fd, POLLIN, 0};
        sl_evframe_item it;
        ssize_t n;
        int r;

        /* poll first, so a SIGTERM is noticed within POLL_MS even on an idle pipe (and the
         * endpoint is served as often). */
        turn(p);
        r = poll(&pfd, 1, POLL_MS);
        if (r < 0 && errno != EINTR) {
            sl_seterr(err, errlen, "event input: poll: %s", strerror(errno));
            goto out;
        }
        if (r <= 0)
            continue;
        n = read(fd, buf, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            sl_seterr(err, errlen, "event input: read: %s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            eof = 1;
            sl_evframe_finish(fr);
        } else if (sl_evframe_feed(fr, buf, (size_t)n)) {
            sl_seterr(err, errlen, "event input: framer refused input");
            goto out;
        }
        while ((r = sl_evframe_next(fr, &it)) != 0) {
            if (r < 0) {
                /* Out of memory for one frame: what was lost cannot be dead-lettered, so
                 * this is the process failing, not the input. */
                sl_seterr(err, errlen, "event input: out of memory framing line %llu",
                          sl_evframe_lines(fr));
                goto out;
            }
            sl_pmetrics_count(&p->pm, p->pm.received, 1);
            if (handle_frame(p, &it, NULL, err, errlen))
                goto out;
        }
    }
    if (!eof) {
        const char *kv[] = {"event", "stop", NULL};
        sl_log_kv(SL_LOG_INFO, NULL, kv,
                  "stop requested: input left unread, %zu bytes of a partial event dropped",
                  sl_evframe_pending(fr));
    }
    rc = 0;
out:
    free(buf);
    sl_evframe_free(fr);
    if (!use_stdin && fd >= 0)
        close(fd);
    return rc;
}

/* ---- sqs mode ----------------------------------------------------------------------------- */

static void log_sqs_error(const char *what, const sl_aws_error *e)
{
    const char *kv[] = {"event", "aws_error",      "error_code",
                        e->code, "aws_request_id", e->request_id[0] ? e->request_id : NULL,
                        NULL};

    sl_log_kv(SL_LOG_WARN, NULL, kv, "%s failed after %d attempts: %s: %s", what, e->attempts,
              e->code, e->message);
}

/*
 * One batch call (delete, visibility_s < 0; or change visibility) over the messages of ms
 * whose pick[] is set. Failures are logged, not returned: a message that stays in the queue
 * comes back after its visibility timeout, and the ledger's duplicate check makes the second
 * delivery harmless, so nothing here is worth stopping the loop for.
 */
static size_t sqs_batch(sl_producer *p, const sl_sqs_messages *ms, const int *pick,
                        int visibility_s, const char *what)
{
    const char *handles[SL_SQS_MAX_BATCH];
    size_t idx[SL_SQS_MAX_BATCH], n = 0;
    sl_sqs_batch_result res;
    sl_aws_error ae;

    for (size_t i = 0; i < ms->n; i++)
        if (pick[i]) {
            idx[n] = i;
            handles[n++] = ms->items[i].receipt_handle;
        }
    if (n == 0)
        return 0;
    if (sl_sqs_batch(p->aws, p->cfg.sqs_queue_url, handles, n, visibility_s, &res, &ae)) {
        log_sqs_error(what, &ae);
        return 0;
    }
    sl_endpoint_sqs_ok(sl_pmetrics_endpoint(&p->pm));
    if (visibility_s < 0)
        (void)sl_metrics_add(p->pm.sqs_deleted, NULL, (double)(n - res.nfailed));
    for (size_t k = 0; k < n; k++) {
        if (!res.failed[k])
            continue;
        {
            const char *kv[] = {
                "event",      "sqs_batch_failed", "message_id", ms->items[idx[k]].id,
                "error_code", res.code[k],        NULL};
            sl_log_kv(SL_LOG_WARN, NULL, kv, "%s: entry failed (%s fault): %s", what,
                      res.sender_fault[k] ? "sender" : "service", res.code[k]);
        }
    }
    sl_debug(NULL, "%s: %zu of %zu entries done", what, n - res.nfailed, n);
    return n - res.nfailed;
}

/*
 * Handles one received batch: each body as an event-mode frame, then one DeleteMessageBatch
 * of the handled messages. Before each message, when the batch has been held longer than half
 * the visibility timeout (a slow publish: Kafka or PostgreSQL retries), the visibility of the
 * messages still held is extended by a full timeout, so SQS does not hand them to another
 * producer meanwhile. On a stop or a failure, the unhandled messages are made visible again
 * at once. The check runs between messages: a single publish that outlasts the whole timeout
 * (PUBLISH_TIMEOUT times PRODUCER_MAX_ATTEMPTS can) lets SQS redeliver the batch, which the
 * ledger check turns into duplicates (before the ledger record, into a republish the export
 * stage adopts). Returns 0, or -1 with err on an infrastructure failure (the handled messages
 * are still deleted).
 */
static int sqs_handle_batch(sl_producer *p, const sl_sqs_messages *ms, char *err, size_t errlen)
{
    int handled[SL_SQS_MAX_BATCH] = {0}, rest[SL_SQS_MAX_BATCH] = {0}, all[SL_SQS_MAX_BATCH];
    long long held_since = sl_now_ms(), half = p->cfg.sqs_visibility_s * 1000 / 2;
    long long published = p->st.published;
    int rc = 0;
    size_t i;

    for (i = 0; i < ms->n; i++)
        all[i] = 1;
    for (i = 0; i < ms->n && !sl_should_stop(); i++) {
        const sl_sqs_message *m = &ms->items[i];
        sl_evframe_item it;
        char where[160];

        if (sl_now_ms() - held_since > half) {
            long long held = sl_now_ms() - held_since;
            size_t done =
                sqs_batch(p, ms, all, (int)p->cfg.sqs_visibility_s, "ChangeMessageVisibilityBatch");
            char nd[24], hm[24];
            const char *kv[] = {"event", "sqs_visibility_extended", "messages", nd, "held_ms", hm,
                                NULL};

            snprintf(nd, sizeof(nd), "%zu", done);
            snprintf(hm, sizeof(hm), "%lld", held);
            sl_log_kv(SL_LOG_INFO, NULL, kv,
                      "batch held %lld ms: visibility of %zu messages "
                      "extended by %llds",
                      held, done, p->cfg.sqs_visibility_s);
            held_since = sl_now_ms();
        }
        turn(p);
        sl_pmetrics_count(&p->pm, p->pm.received, 1);
        memset(&it, 0, sizeof(it));
        it.data = m->body;
        it.total = m->body_len;
        it.len = m->body_len;
        if (m->body_len > (size_t)p->cfg.max_frame) {
            it.len = (size_t)p->cfg.max_frame;
            it.oversize = 1;
        }
        snprintf(where, sizeof(where), "SQS message %.100s, receive %lld", m->id, m->receive_count);
        if (handle_frame(p, &it, where, err, errlen)) {
            rc = -1;
            break;
        }
        handled[i] = 1;
    }
    if (p->test_exit_after_publish && p->st.published > published) {
        /* Fault injection for the tests only (SL_TEST_EXIT_AFTER_PUBLISH, producer.h): die
         * as a crash would, published and recorded but not deleted. */
        sl_warn(NULL, "SL_TEST_EXIT_AFTER_PUBLISH: killing the producer before the delete");
        raise(SIGKILL);
    }
    (void)sqs_batch(p, ms, handled, -1, "DeleteMessageBatch");
    for (size_t k = i; k < ms->n; k++)
        rest[k] = !handled[k];
    /* A stop or a failure leaves messages unhandled: visible again now, not after the
     * timeout, so another producer (or this one, restarted) takes them at once. */
    if (i < ms->n)
        (void)sqs_batch(p, ms, rest, 0, "ChangeMessageVisibilityBatch (release)");
    return rc;
}

/*
 * Long-polls SQS_QUEUE_URL until a stop. Each ReceiveMessage waits up to SQS_WAIT_SECONDS,
 * and the AWS call cannot be interrupted, so that is also how long a SIGTERM may wait to be
 * noticed: a short wait costs more empty receives (each billed), a long one a slower stop.
 * Receive failures (after the AWS client's own retries) are retried with backoff up to
 * PRODUCER_MAX_ATTEMPTS times in a row, then the run fails.
 */
static int run_sqs(sl_producer *p, char *err, size_t errlen)
{
    int failures = 0;

    sl_info(NULL, "polling %s", p->cfg.sqs_queue_url);
    while (!sl_should_stop()) {
        sl_sqs_messages ms;
        sl_aws_error ae;
        int r;

        turn(p);
        if (sl_sqs_receive(p->aws, p->cfg.sqs_queue_url, (int)p->cfg.sqs_max_messages,
                           (int)p->cfg.sqs_wait_s, (int)p->cfg.sqs_visibility_s, &ms, &ae)) {
            log_sqs_error("ReceiveMessage", &ae);
            if (++failures >= p->cfg.max_attempts)
                return sl_seterr(err, errlen, "SQS ReceiveMessage: %s: %s (%d times in a row)",
                                 ae.code, ae.message, failures);
            if (nap(p, backoff(p, failures)))
                break;
            continue;
        }
        failures = 0;
        sl_endpoint_sqs_ok(sl_pmetrics_endpoint(&p->pm));
        (void)sl_metrics_add(p->pm.sqs_received, NULL, (double)ms.n);
        if (ms.n)
            sl_debug(NULL, "received %zu SQS messages", ms.n);
        r = sqs_handle_batch(p, &ms, err, errlen);
        sl_sqs_messages_cleanup(&ms);
        if (r)
            return -1;
    }
    {
        const char *kv[] = {"event", "stop", NULL};
        sl_log_kv(SL_LOG_INFO, NULL, kv, "stop requested: SQS polling ended");
    }
    return 0;
}

/* ---- discover mode ------------------------------------------------------------------------ */

static int snap_list_append(sl_rds_snapshots *all, sl_rds_snapshots *more)
{
    sl_rds_snapshot *grown;

    if (more->n == 0)
        return 0;
    grown = realloc(all->items, (all->n + more->n) * sizeof(*grown));
    if (!grown)
        return -1;
    memcpy(grown + all->n, more->items, more->n * sizeof(*grown));
    all->items = grown;
    all->n += more->n;
    return 0;
}

static void log_aws_error(const char *what, const char *cluster, const sl_aws_error *e)
{
    sl_log_ctx ctx = {NULL, cluster, "producer"};
    const char *kv[] = {"event", "aws_error",      "error_code",
                        e->code, "aws_request_id", e->request_id[0] ? e->request_id : NULL,
                        NULL};

    sl_log_kv(SL_LOG_ERROR, &ctx, kv, "%s failed after %d attempts: %s: %s", what, e->attempts,
              e->code, e->message);
}

static int run_discover(sl_producer *p, char *err, size_t errlen)
{
    sl_rds_snapshots all = {NULL, 0};
    sl_discover_result res;
    size_t ncalls = p->nclusters ? p->nclusters : 1;
    int rc = -1;

    memset(&res, 0, sizeof(res));
    for (size_t i = 0; i < ncalls && !sl_should_stop(); i++) {
        const char *cluster = p->nclusters ? p->clusters[i] : NULL;
        sl_rds_snapshots l = {NULL, 0};
        sl_aws_error ae;

        memset(&ae, 0, sizeof(ae));
        if (sl_rds_describe_cluster_snapshots(p->aws, cluster, &l, &ae)) {
            log_aws_error("DescribeDBClusterSnapshots", cluster, &ae);
            p->st.errors++;
            continue;
        }
        sl_debug(NULL, "%zu automated snapshots listed for %s", l.n, cluster ? cluster : "all");
        if (snap_list_append(&all, &l)) {
            sl_rds_snapshots_cleanup(&l);
            sl_seterr(err, errlen, "discover: out of memory");
            goto out;
        }
        free(l.items);
    }
    if (sl_discover_select(all.items, all.n, (const char *const *)p->clusters, p->nclusters, &res,
                           err, errlen))
        goto out;
    for (size_t i = 0; i < all.n; i++) {
        sl_discover_verdict v = res.verdicts[i];
        sl_log_ctx ctx = {NULL, all.items[i].cluster, "producer"};
        const char *kv[] = {
            "event",  "discovered",        "snapshot_id", all.items[i].id,
            "status", all.items[i].status, "verdict",     sl_discover_verdict_name(v),
            NULL};

        /* Snapshots whose name we cannot read are worth an operator's look; the rest are
         * the normal course of things. */
        sl_log_kv(v == SL_DISCOVER_BAD_ID || v == SL_DISCOVER_CLUSTER_MISMATCH ? SL_LOG_WARN
                                                                               : SL_LOG_DEBUG,
                  &ctx, kv, "snapshot %s", sl_discover_verdict_name(v));
    }
    for (size_t i = 0; i < p->nclusters; i++) {
        size_t k;
        for (k = 0; k < res.npicks; k++)
            if (strcmp(res.picks[k].id.cluster, p->clusters[i]) == 0)
                break;
        if (k == res.npicks) {
            sl_log_ctx ctx = {NULL, p->clusters[i], "producer"};
            sl_log_kv(SL_LOG_WARN, &ctx, NULL, "no available automated snapshot for cluster");
        }
    }
    for (size_t k = 0; k < res.npicks && !sl_should_stop(); k++) {
        const sl_rds_snapshot *s = &all.items[res.picks[k].index];
        const sl_snapshot_id *sid = &res.picks[k].id;
        char run_id[SL_IDS_BUFLEN], perr[SL_ERRLEN];
        sl_msg m;
        int r;

        if (sl_ids_run_id(sid, run_id, sizeof(run_id), perr, sizeof(perr))) {
            sl_log_ctx ctx = {NULL, sid->cluster, "producer"};
            sl_log_kv(SL_LOG_ERROR, &ctx, NULL, "snapshot %s: %s", s->id, perr);
            p->st.errors++;
            continue;
        }
        if (snapshot_msg(sid, run_id, s->arn, "discovery", s->create_ms ? &s->create_ms : NULL, &m,
                         err, errlen))
            goto out;
        r = publish_snapshot(p, &m, perr, sizeof(perr));
        sl_msg_cleanup(&m);
        if (r == 1) {
            sl_log_ctx ctx = {run_id, sid->cluster, "producer"};
            sl_log_kv(SL_LOG_ERROR, &ctx, NULL, "snapshot %s: %s", s->id, perr);
            p->st.errors++;
        } else if (r) {
            sl_seterr(err, errlen, "%s", perr);
            goto out;
        }
    }
    rc = 0;
out:
    sl_discover_result_cleanup(&res);
    sl_rds_snapshots_cleanup(&all);
    return rc;
}

/* ---- cluster mode ------------------------------------------------------------------------- */

static int run_cluster(sl_producer *p, char *err, size_t errlen)
{
    long long now_s = sl_now_ms() / 1000;

    for (size_t i = 0; i < p->nclusters && !sl_should_stop(); i++) {
        const char *cluster = p->clusters[i];
        sl_log_ctx ctx = {NULL, cluster, "producer"};
        char arn[512], run_id[SL_IDS_BUFLEN], perr[SL_ERRLEN];
        sl_snapshot_id sid;
        sl_aws_error ae;
        sl_msg m;
        int r;

        memset(&ae, 0, sizeof(ae));
        if (sl_rds_cluster_arn(p->aws, cluster, arn, sizeof(arn), &ae)) {
            log_aws_error("DescribeDBClusters", cluster, &ae);
            p->st.errors++;
            continue;
        }
        /* One `now` for the whole run: every cluster of one invocation gets the same date and
         * minute in its ids. */
        if (sl_ids_from_cluster(cluster, now_s, &sid, perr, sizeof(perr)) ||
            sl_ids_run_id(&sid, run_id, sizeof(run_id), perr, sizeof(perr))) {
            sl_log_kv(SL_LOG_ERROR, &ctx, NULL, "cluster ids: %s", perr);
            p->st.errors++;
            continue;
        }
        if (snapshot_msg(&sid, run_id, arn, "cluster", NULL, &m, err, errlen))
            return -1;
        r = publish_snapshot(p, &m, perr, sizeof(perr));
        sl_msg_cleanup(&m);
        if (r == 1) {
            sl_log_kv(SL_LOG_ERROR, &ctx, NULL, "cluster message: %s", perr);
            p->st.errors++;
        } else if (r) {
            return sl_seterr(err, errlen, "%s", perr);
        }
    }
    return 0;
}

/* ---- life cycle --------------------------------------------------------------------------- */

/*
 * Loads and validates the configuration before anything connects, every error at once: the
 * tables, the mode, the value checks every binary runs (config.h), each KAFKA_* property
 * against librdkafka, CLUSTERS and the topic prefix. Fills p->cfg, p->mode, the clusters,
 * *lvl and *need_aws; returns 0, or -1 with err.
 */
static int load_config(sl_producer *p, const char *mode, sl_log_level *lvl, int *need_aws,
                       char *err, size_t errlen)
{
    char e1[4096] = "", e2[4096] = "";
    int ok, mode_ok = 0;

    err[0] = '\0';
    ok = sl_config_load(producer_opts, SL_ARRAY_LEN(producer_opts), &p->cfg, NULL, NULL, e1,
                        sizeof(e1)) == 0;
    if (!ok)
        sl_err_append(err, errlen, e1);
    if (!mode)
        mode = p->cfg.mode ? p->cfg.mode : "event";
    for (size_t i = 0; i < SL_ARRAY_LEN(mode_names); i++)
        if (strcmp(mode, mode_names[i]) == 0) {
            p->mode = (prod_mode)i;
            mode_ok = 1;
        }
    if (!mode_ok) {
        snprintf(e2, sizeof(e2), "unknown mode \"%.64s\" (event|discover|cluster|sqs)", mode);
        sl_err_append(err, errlen, e2);
        ok = 0;
    }
    *need_aws = mode_ok && p->mode != MODE_EVENT;
    if (*need_aws &&
        sl_config_load(aws_opts, SL_ARRAY_LEN(aws_opts), &p->cfg, NULL, NULL, e2, sizeof(e2))) {
        sl_err_append(err, errlen, e2);
        ok = 0;
    }
    e1[0] = '\0';
    if (sl_config_check(producer_opts, SL_ARRAY_LEN(producer_opts), sl_config_std_checks,
                        sl_config_nstd_checks, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (*need_aws && sl_config_check(aws_opts, SL_ARRAY_LEN(aws_opts), sl_config_std_checks,
                                     sl_config_nstd_checks, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (sl_config_check(producer_opts, SL_ARRAY_LEN(producer_opts), sqs_checks,
                        SL_ARRAY_LEN(sqs_checks), NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (sl_config_check(producer_opts, SL_ARRAY_LEN(producer_opts), sl_endpoint_checks,
                        sl_endpoint_nchecks, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (sl_kafka_conf_check_env(NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    sl_err_append(err, errlen, e1);
    if (ok && sl_log_level_parse(p->cfg.log_level, lvl))
        ok = 0; /* sl_cfg_check_log_level said so already */
    e2[0] = '\0';
    if (p->cfg.clusters && parse_clusters(p, p->cfg.clusters, e2, sizeof(e2))) {
        sl_err_append(err, errlen, e2);
        ok = 0;
    }
    /* Read from the environment, not p->cfg: after a failed table load the struct is empty,
     * and this error belongs with the others. Empty counts as unset, as in the load. */
    if (mode_ok && p->mode == MODE_SQS && !(getenv("SQS_QUEUE_URL") && *getenv("SQS_QUEUE_URL"))) {
        sl_err_append(err, errlen, "SQS_QUEUE_URL: required in sqs mode");
        ok = 0;
    }
    if (mode_ok && p->mode == MODE_CLUSTER && p->nclusters == 0 && !e2[0]) {
        sl_err_append(err, errlen, "CLUSTERS: required in cluster mode");
        ok = 0;
    }
    if (sl_kafka_topic_name(p->snap_topic, TOPIC_LEN, p->cfg.topics.prefix,
                            SL_KAFKA_TOPIC_SNAPSHOTS) ||
        sl_kafka_topic_name(p->dlq_topic, TOPIC_LEN, p->cfg.topics.prefix, SL_KAFKA_TOPIC_DLQ)) {
        sl_err_append(err, errlen, "KAFKA_TOPIC_PREFIX: makes an invalid topic name");
        ok = 0;
    }
    return ok ? 0 : -1;
}

int sl_producer_config_check(const char *mode, char *err, size_t errlen)
{
    sl_producer *p = calloc(1, sizeof(*p));
    sl_log_level lvl = SL_LOG_INFO;
    int need_aws = 0, rc;

    if (!p)
        return sl_seterr(err, errlen, "out of memory");
    rc = load_config(p, mode, &lvl, &need_aws, err, errlen);
    sl_producer_free(p);
    return rc;
}

sl_producer *sl_producer_new(const char *mode, char *err, size_t errlen)
{
    sl_producer *p = calloc(1, sizeof(*p));
    char perr[SL_ERRLEN];
    sl_log_level lvl = SL_LOG_INFO;
    int need_aws = 0;

    if (!p) {
        sl_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (load_config(p, mode, &lvl, &need_aws, err, errlen) != 0)
        goto fail;
    sl_log_init("snaplake-producer", lvl);
    {
        /* Read once, here, so a test cannot flip it mid-run; not a config row, since no
         * deployment may set it. */
        const char *t = getenv("SL_TEST_EXIT_AFTER_PUBLISH");
        int on = 0;
        p->test_exit_after_publish = t && *t && sl_config_parse_bool(t, &on) == 0 && on;
        if (p->test_exit_after_publish)
            sl_warn(NULL, "SL_TEST_EXIT_AFTER_PUBLISH is set: test fault injection in force");
    }
    sl_config_dump(producer_opts, SL_ARRAY_LEN(producer_opts), &p->cfg);
    /* The endpoint first, so probes answer (not ready) while the rest connects. */
    if (sl_pmetrics_init(&p->pm, &p->cfg.ep, p->mode == MODE_EVENT || p->mode == MODE_SQS,
                         p->mode == MODE_SQS, mode_names[p->mode], perr, sizeof(perr))) {
        sl_seterr(err, errlen, "metrics endpoint: %s", perr);
        goto fail;
    }
    if (need_aws) {
        sl_config_dump(aws_opts, SL_ARRAY_LEN(aws_opts), &p->cfg);
        if (sl_bringup_aws(&p->cfg.aws, &p->creds, &p->aws, err, errlen))
            goto fail;
        sl_aws_set_observer(p->aws, sl_pmetrics_aws, &p->pm);
    }
    if (sl_bringup_ledger(&p->pg, "snaplake-producer", &p->cfg.pg, p->cfg.max_attempts,
                          p->cfg.retry_base_ms, start_nap, p, err, errlen) ||
        sl_bringup_kafka(&p->cfg.topics, "snaplake-producer", &p->prod, err, errlen))
        goto fail;
    {
        /* Their leaders arrive while the events are read or the snapshots listed, so the
           first publish does not wait for librdkafka's topic scan (kafka.h). */
        const char *const out[] = {p->snap_topic, p->dlq_topic};
        sl_kafka_producer_warm(p->prod, out, SL_ARRAY_LEN(out));
    }
    {
        char nc[24];
        const char *kv[] = {"mode",       mode_names[p->mode], "topic", p->snap_topic, "dlq_topic",
                            p->dlq_topic, "clusters",          nc,      NULL};
        snprintf(nc, sizeof(nc), "%zu", p->nclusters);
        sl_log_kv(SL_LOG_INFO, NULL, kv, "producer ready");
    }
    return p;
fail:
    sl_producer_free(p);
    return NULL;
}

int sl_producer_run(sl_producer *p, sl_producer_stats *stats, char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    int rc;

    switch (p->mode) {
    case MODE_DISCOVER:
        rc = run_discover(p, err, errlen);
        break;
    case MODE_CLUSTER:
        rc = run_cluster(p, err, errlen);
        break;
    case MODE_SQS:
        rc = run_sqs(p, err, errlen);
        break;
    case MODE_EVENT:
    default:
        rc = run_event(p, err, errlen);
        break;
    }
    if (rc == 0 && p->st.errors > 0) {
        sl_seterr(err, errlen, "%lld cluster(s) could not be handled (see the error lines)",
                  p->st.errors);
        rc = -1;
    }
    if (rc)
        sl_error(NULL, "producer failed: %s", err);
    /* Every publish already waited for its acknowledgement; the flush only covers what a
     * stop interrupted. */
    if (sl_kafka_producer_flush(p->prod, 10000, perr, sizeof(perr)))
        sl_warn(NULL, "producer flush: %s", perr);
    {
        char a[24], b[24], c[24], d[24];
        const char *kv[] = {"event",
                            "summary",
                            "mode",
                            mode_names[p->mode],
                            "published",
                            a,
                            "duplicates",
                            b,
                            "dead_lettered",
                            c,
                            "errors",
                            d,
                            "status",
                            rc ? "failed" : "ok",
                            NULL};
        snprintf(a, sizeof(a), "%lld", p->st.published);
        snprintf(b, sizeof(b), "%lld", p->st.duplicates);
        snprintf(c, sizeof(c), "%lld", p->st.dead_lettered);
        snprintf(d, sizeof(d), "%lld", p->st.errors);
        sl_log_kv(SL_LOG_INFO, NULL, kv, "summary");
    }
    if (stats)
        *stats = p->st;
    return rc ? -1 : 0;
}

void sl_producer_free(sl_producer *p)
{
    if (!p)
        return;
    sl_kafka_producer_free(p->prod);
    sl_pmetrics_cleanup(&p->pm);
    sl_pg_link_cleanup(&p->pg);
    sl_aws_free(p->aws);
    sl_creds_provider_free(p->creds);
    free_clusters(p);
    sl_config_cleanup(producer_opts, SL_ARRAY_LEN(producer_opts), &p->cfg);
    sl_config_cleanup(aws_opts, SL_ARRAY_LEN(aws_opts), &p->cfg);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}
