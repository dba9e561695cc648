/*
 * kafka_consumer.c - the group consumer of kafka.h: eager rebalances with the worker's hook,
 * offsets stored by hand once work is durable, pause/resume, commit and close.
 */
#include <stdlib.h>

#include "kafka_conf.h"
#include "log.h"

struct sl_kafka_consumer {
    rd_kafka_t *rk;
    sl_kafka_rebalance_fn hook;
    void *hook_ud;
    sl_kafka_stats_fn stats_hook;
    void *stats_ud;
    int closed;
};

/* statistics.interval.ms's callback, served from consumer_poll (one queue): hands the JSON to
 * the hook; returning 0 lets librdkafka free it. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    sl_kafka_consumer *c = opaque;

    (void)rk;
    if (c->stats_hook)
        c->stats_hook(c, json, len, c->stats_ud);
    return 0;
}

void sl_kafka_consumer_set_stats_hook(sl_kafka_consumer *c, sl_kafka_stats_fn fn, void *ud)
{
    c->stats_hook = fn;
    c->stats_ud = ud;
}

static int commit_stored(rd_kafka_t *rk, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);

    /* Nothing stored since the last commit is not a failure. */
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return sl_seterr(err, errlen, "kafka commit: %s", rd_kafka_err2str(e));
    return 0;
}

/*
 * Resumes every partition of parts: librdkafka keeps a partition's pause flag on its
 * partition object across unassign and assign (2.0.2 does; the flag is only cleared on
 * resume), so a partition paused before a rebalance would come back paused and never fetch
 * again while its consumer believes it unpaused.
 */
static void resume_all(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, const char *when)
{
    rd_kafka_resp_err_t e = rd_kafka_resume_partitions(rk, parts);

    if (e)
        sl_warn(NULL, "kafka resume %d partitions (%s): %s", parts->cnt, when, rd_kafka_err2str(e));
}

/*
 * Eager rebalance (KIP-62 era protocol): every rebalance revokes the whole assignment and
 * then assigns the new one. On revoke the hook runs first so the worker can store what is
 * durable, then stored offsets are committed so the next owner starts after them, then the
 * revoked partitions are resumed (no pause outlives the assignment); on assign the partitions
 * are resumed and the hook runs after rd_kafka_assign, so an assignment starts every partition
 * unpaused whatever happened before and the hook's pauses apply to the new assignment.
 */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sl_kafka_consumer *c = opaque;
    char err[SL_ERRLEN];
    rd_kafka_resp_err_t ae;

    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        ae = rd_kafka_assign(rk, parts);
        if (ae) {
            sl_error(NULL, "kafka assign: %s", rd_kafka_err2str(ae));
            return;
        }
        resume_all(rk, parts, "on assign");
        if (c->hook)
            c->hook(c, 1, parts, c->hook_ud);
        return;
    }
    if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        if (c->hook)
            c->hook(c, 0, parts, c->hook_ud);
        if (commit_stored(rk, err, sizeof err))
            sl_warn(NULL, "%s (on revoke)", err);
        resume_all(rk, parts, "on revoke");
    } else
        sl_error(NULL, "kafka rebalance: %s", rd_kafka_err2str(e));
    ae = rd_kafka_assign(rk, NULL);
    if (ae)
        sl_error(NULL, "kafka unassign: %s", rd_kafka_err2str(ae));
}

int sl_kafka_consumer_new(sl_kafka_consumer **out, const char *group_id, const char *const *props,
                          char *const *envp, char *err, size_t errlen)
{
    /* clang-format off */
    static const char *const defaults[] = {
        "enable.auto.offset.store", "false",
        "enable.auto.commit", "true",
        "auto.commit.interval.ms", "5000",
        "auto.offset.reset", "earliest",
        "partition.assignment.strategy", "range,roundrobin",
        "max.poll.interval.ms", "600000",
        "session.timeout.ms", "45000",
        "enable.partition.eof", "false",
        /* Prefetch: librdkafka fetches ahead until queued.min.messages (100,000) or
           queued.max.messages.kbytes (64 MiB) per partition queue. A stage's messages are a
           few KB and each starts a job of seconds to hours, so with a backlog that buffer was
           the worker's largest heap (tens of MB per worker, idle in the queue). 1,000
           messages / 1 MiB is hundreds of jobs ahead; fetch.max.bytes and
           max.partition.fetch.bytes cap one fetch response alike (a larger message is still
           fetched: librdkafka returns the first even when over the cap). KAFKA_* overrides. */
        "queued.min.messages", "1000",
        "queued.max.messages.kbytes", "1024",
        "fetch.max.bytes", "1048576",
        "max.partition.fetch.bytes", "262144",
        NULL,
    };
    /* clang-format on */
    char errstr[512];
    sl_kafka_consumer *c;
    rd_kafka_conf_t *conf;

    if (!group_id || !*group_id)
        return sl_seterr(err, errlen, "kafka consumer: a group id is required");
    c = calloc(1, sizeof *c);
    if (!c)
        return sl_seterr(err, errlen, "kafka consumer: out of memory");
    conf = sl_kafka_build_conf(SL_KAFKA_KIND_CONSUMER, defaults, "group.id", group_id, props, envp,
                               err, errlen);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        sl_seterr(err, errlen, "kafka consumer: %s", errstr);
        goto fail;
    }
    /* One queue for everything, so consumer_poll also serves rebalances and logs. */
    rd_kafka_poll_set_consumer(c->rk);
    *out = c;
    return 0;
fail:
    free(c);
    return -1;
}

void sl_kafka_consumer_set_rebalance_hook(sl_kafka_consumer *c, sl_kafka_rebalance_fn fn, void *ud)
{
    c->hook = fn;
    c->hook_ud = ud;
}

int sl_kafka_consumer_subscribe(sl_kafka_consumer *c, const char *const *topics, size_t ntopics,
                                char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)ntopics);
    rd_kafka_resp_err_t e;

    if (!l)
        return sl_seterr(err, errlen, "kafka subscribe: out of memory");
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return sl_seterr(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
    return 0;
}

int sl_kafka_consumer_poll(sl_kafka_consumer *c, int timeout_ms, rd_kafka_message_t **out,
                           rd_kafka_resp_err_t *code, char *err, size_t errlen)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);

    *out = NULL;
    if (code)
        *code = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!m)
        return 0;
    if (!m->err) {
        *out = m;
        return 0;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        rd_kafka_message_destroy(m);
        return 0;
    }
    if (code)
        *code = m->err;
    sl_seterr(err, errlen, "kafka consume%s%s: %s", m->rkt ? " from " : "",
              m->rkt ? rd_kafka_topic_name(m->rkt) : "", rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
    return -1;
}

int sl_kafka_consumer_fatal(sl_kafka_consumer *c)
{
    char buf[256];
    return rd_kafka_fatal_error(c->rk, buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Runs one of librdkafka's partition-list calls for a single topic/partition[/offset]. */
typedef enum part_op { OP_STORE, OP_PAUSE, OP_RESUME } part_op;

static int one_partition(sl_kafka_consumer *c, part_op op, const char *topic, int32_t partition,
                         int64_t offset, char *err, size_t errlen)
{
    static const char *const names[] = {"store offset", "pause", "resume"};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp;
    rd_kafka_resp_err_t e;
    int rc = -1;

    if (!l)
        return sl_seterr(err, errlen, "kafka %s: out of memory", names[op]);
    tp = rd_kafka_topic_partition_list_add(l, topic, partition);
    tp->offset = offset;
    if (op == OP_STORE)
        e = rd_kafka_offsets_store(c->rk, l);
    else if (op == OP_PAUSE)
        e = rd_kafka_pause_partitions(c->rk, l);
    else
        e = rd_kafka_resume_partitions(c->rk, l);
    if (!e)
        e = tp->err;
    if (e) {
        sl_seterr(err, errlen, "kafka %s %s[%d]: %s", names[op], topic, (int)partition,
                  rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int sl_kafka_consumer_store(sl_kafka_consumer *c, const rd_kafka_message_t *m, char *err,
                            size_t errlen)
{
    return one_partition(c, OP_STORE, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1, err,
                         errlen);
}

int sl_kafka_consumer_store_offset(sl_kafka_consumer *c, const char *topic, int32_t partition,
                                   int64_t offset, char *err, size_t errlen)
{
    if (offset < 0)
        return sl_seterr(err, errlen, "kafka store offset %s[%d]: bad offset %lld", topic,
                         (int)partition, (long long)offset);
    return one_partition(c, OP_STORE, topic, partition, offset + 1, err, errlen);
}

int sl_kafka_consumer_commit(sl_kafka_consumer *c, char *err, size_t errlen)
{
    return commit_stored(c->rk, err, errlen);
}

int sl_kafka_consumer_pause(sl_kafka_consumer *c, const char *topic, int32_t partition, char *err,
                            size_t errlen)
{
    return one_partition(c, OP_PAUSE, topic, partition, RD_KAFKA_OFFSET_INVALID, err, errlen);
}

int sl_kafka_consumer_resume(sl_kafka_consumer *c, const char *topic, int32_t partition, char *err,
                             size_t errlen)
{
    return one_partition(c, OP_RESUME, topic, partition, RD_KAFKA_OFFSET_INVALID, err, errlen);
}

rd_kafka_t *sl_kafka_consumer_handle(sl_kafka_consumer *c)
{
    return c->rk;
}

int sl_kafka_consumer_close(sl_kafka_consumer *c, char *err, size_t errlen)
{
    char cerr[SL_ERRLEN];
    rd_kafka_resp_err_t e;
    int rc = 0;

    if (c->closed)
        return 0;
    c->closed = 1;
    if (commit_stored(c->rk, cerr, sizeof cerr))
        rc = sl_seterr(err, errlen, "%s", cerr);
    /* Leaves the group (revoking through rebalance_cb, which commits again) so the
     * partitions move to another member now rather than after session.timeout.ms. */
    e = rd_kafka_consumer_close(c->rk);
    if (e && rc == 0)
        rc = sl_seterr(err, errlen, "kafka consumer close: %s", rd_kafka_err2str(e));
    return rc;
}

void sl_kafka_consumer_free(sl_kafka_consumer *c)
{
    char err[SL_ERRLEN];

    if (!c)
        return;
    if (sl_kafka_consumer_close(c, err, sizeof err))
        sl_warn(NULL, "%s", err);
    rd_kafka_destroy(c->rk);
    free(c);
}
