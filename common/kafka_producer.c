/*
 * kafka_producer.c - the idempotent producer of kafka.h: produce-and-wait (produce_sync), the
 * asynchronous produce with tickets and a delivery-report hook, poll, flush and free.
 */
#include <limits.h>
#include <stdlib.h>

#include "kafka_conf.h"
#include "log.h"

struct sl_kafka_producer {
    rd_kafka_t *rk;
    /* produce_sync waits for the delivery report of message number `seq` (`waiting` set).
     * Each message carries its number as its opaque (not a pointer), so a late report for a
     * message whose wait already timed out finds nothing to write through; async messages
     * take their numbers (tickets) from the same counter and go to the report hook. */
    uintptr_t seq;
    int waiting;
    int done;
    rd_kafka_resp_err_t dr_err;
    sl_kafka_report_fn report;
    void *report_ud;
    /* Handles of the topics warmed at start (sl_kafka_producer_warm), held until free. */
    rd_kafka_topic_t *warm[SL_KAFKA_WARM_MAX];
    size_t nwarm;
};

static void error_cb(rd_kafka_t *rk, int errc, const char *reason, void *opaque)
{
    const char *kv[] = {"client", rd_kafka_name(rk), "error",
                        rd_kafka_err2name((rd_kafka_resp_err_t)errc), NULL};

    (void)opaque;
    sl_log_kv(errc == RD_KAFKA_RESP_ERR__FATAL ? SL_LOG_ERROR : SL_LOG_WARN, NULL, kv, "kafka: %s",
              reason);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sl_kafka_producer *p = opaque;
    uintptr_t id = (uintptr_t)m->_private;

    (void)rk;
    if (p->waiting && id == p->seq) {
        p->dr_err = m->err;
        p->done = 1;
        return;
    }
    if (p->report) {
        p->report(p, (uint64_t)id, m->err, p->report_ud);
        return;
    }
    {
        if (m->err) {
            const char *kv[] = {"topic", rd_kafka_topic_name(m->rkt), "error",
                                rd_kafka_err2name(m->err), NULL};
            sl_log_kv(SL_LOG_WARN, NULL, kv, "kafka: late delivery failure: %s",
                      rd_kafka_err2str(m->err));
        }
    }
}

int sl_kafka_producer_new(sl_kafka_producer **out, const char *const *props, char *const *envp,
                          char *err, size_t errlen)
{
    /* clang-format off */
    static const char *const defaults[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "delivery.timeout.ms", "30000",
        "linger.ms", "5",
        "compression.type", "lz4",
        /* The Java client's partitioner, so a key lands on the same partition whichever
         * client produced it (librdkafka's default, consistent_random, hashes with CRC32). */
        "partitioner", "murmur2_random",
        NULL,
    };
    /* clang-format on */
    char errstr[512];
    sl_kafka_producer *p;
    rd_kafka_conf_t *conf;

    p = calloc(1, sizeof *p);
    if (!p)
        return sl_seterr(err, errlen, "kafka producer: out of memory");
    conf =
        sl_kafka_build_conf(SL_KAFKA_KIND_PRODUCER, defaults, NULL, NULL, props, envp, err, errlen);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        sl_seterr(err, errlen, "kafka producer: %s", errstr);
        goto fail;
    }
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

void sl_kafka_producer_set_report_hook(sl_kafka_producer *p, sl_kafka_report_fn fn, void *ud)
{
    p->report = fn;
    p->report_ud = ud;
}

/*
 * Enqueues one message numbered id (its opaque). A full local queue drains as reports are
 * served: until deadline (a sl_mono_ms value; 0 = do not wait) it serves them and tries
 * again. Returns RD_KAFKA_RESP_ERR_NO_ERROR or the error, with err set.
 */
static rd_kafka_resp_err_t enqueue(sl_kafka_producer *p, const char *topic, int32_t partition,
                                   const void *key, size_t keylen, const void *value, size_t len,
                                   const sl_kafka_header *hdrs, size_t nhdrs, uintptr_t id,
                                   long long deadline, char *err, size_t errlen)
{
    rd_kafka_vu_t *vu;
    rd_kafka_error_t *e;
    rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;
    size_t n = 0;

    /* Headers are capped like every count from outside: a message with more is a bug. */
    if (nhdrs > 64) {
        sl_seterr(err, errlen, "kafka produce to %s: %zu headers (at most 64)", topic, nhdrs);
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    vu = calloc(6 + nhdrs, sizeof *vu);
    if (!vu) {
        sl_seterr(err, errlen, "kafka produce to %s: out of memory", topic);
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = topic;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = partition;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = (void *)id;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)(uintptr_t)key;
    vu[n++].u.mem.size = key ? keylen : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)(uintptr_t)value;
    vu[n++].u.mem.size = value ? len : 0;
    for (size_t i = 0; i < nhdrs; i++) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADER;
        vu[n].u.header.name = hdrs[i].name;
        vu[n].u.header.val = hdrs[i].value;
        vu[n++].u.header.size = hdrs[i].value ? (ssize_t)hdrs[i].len : 0;
    }
    for (;;) {
        e = rd_kafka_produceva(p->rk, vu, n);
        if (!e) {
            rc = RD_KAFKA_RESP_ERR_NO_ERROR;
            break;
        }
        rc = rd_kafka_error_code(e);
        rd_kafka_error_destroy(e);
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL || sl_mono_ms() >= deadline) {
            sl_seterr(err, errlen, "kafka produce to %s: %s", topic, rd_kafka_err2str(rc));
            break;
        }
        rd_kafka_poll(p->rk, 50);
    }
    free(vu);
    return rc;
}

int sl_kafka_produce_sync(sl_kafka_producer *p, const char *topic, int32_t partition,
                          const void *key, size_t keylen, const void *value, size_t len,
                          const sl_kafka_header *hdrs, size_t nhdrs, int timeout_ms,
                          rd_kafka_resp_err_t *code, char *err, size_t errlen)
{
    rd_kafka_resp_err_t rc;
    long long deadline = sl_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    p->seq++;
    p->done = 0;
    p->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* <= 0 waits for a full queue as long as for the report (delivery.timeout.ms bounds it). */
    rc = enqueue(p, topic, partition, key, keylen, value, len, hdrs, nhdrs, p->seq,
                 timeout_ms > 0 ? deadline : LLONG_MAX, err, errlen);
    if (rc)
        goto out;
    p->waiting = 1;
    while (!p->done) {
        int slice = 100;
        if (timeout_ms > 0) {
            long long left = deadline - sl_mono_ms();
            if (left <= 0) {
                rc = RD_KAFKA_RESP_ERR__TIMED_OUT;
                sl_seterr(err, errlen,
                          "kafka produce to %s: no delivery report within %d ms (not known "
                          "durable)",
                          topic, timeout_ms);
                goto out;
            }
            if (left < slice)
                slice = (int)left;
        }
        rd_kafka_poll(p->rk, slice);
    }
    if (p->dr_err) {
        rc = p->dr_err;
        sl_seterr(err, errlen, "kafka produce to %s: delivery failed: %s", topic,
                  rd_kafka_err2str(rc));
        goto out;
    }
out:
    p->waiting = 0;
    if (code)
        *code = rc;
    return rc ? -1 : 0;
}

int sl_kafka_produce_async(sl_kafka_producer *p, const char *topic, int32_t partition,
                           const void *key, size_t keylen, const void *value, size_t len,
                           const sl_kafka_header *hdrs, size_t nhdrs, uint64_t *ticket,
                           rd_kafka_resp_err_t *code, char *err, size_t errlen)
{
    rd_kafka_resp_err_t rc;
    uintptr_t id;

    /* 0 is never a ticket, so a caller can use it for "none". */
    if (++p->seq == 0)
        p->seq++;
    id = p->seq;
    rc = enqueue(p, topic, partition, key, keylen, value, len, hdrs, nhdrs, id, 0, err, errlen);
    if (code)
        *code = rc;
    if (rc)
        return -1;
    *ticket = (uint64_t)id;
    return 0;
}

int sl_kafka_producer_poll(sl_kafka_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

int sl_kafka_producer_flush(sl_kafka_producer *p, int timeout_ms, char *err, size_t errlen)
{
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sl_seterr(err, errlen, "kafka flush: %d message(s) still undelivered after %d ms",
                         rd_kafka_outq_len(p->rk), timeout_ms);
    return 0;
}

void sl_kafka_producer_warm(sl_kafka_producer *p, const char *const *topics, size_t n)
{
    for (size_t i = 0; i < n && p->nwarm < SL_KAFKA_WARM_MAX; i++) {
        rd_kafka_topic_t *t;

        if (!topics[i] || !topics[i][0])
            continue;
        /* A new handle asks the cluster for the topic's leaders in the background. */
        if ((t = rd_kafka_topic_new(p->rk, topics[i], NULL)) != NULL)
            p->warm[p->nwarm++] = t;
        else
            sl_debug(NULL, "kafka producer: no handle for %s to warm: %s", topics[i],
                     rd_kafka_err2str(rd_kafka_last_error()));
    }
}

rd_kafka_t *sl_kafka_producer_handle(sl_kafka_producer *p)
{
    return p->rk;
}

void sl_kafka_producer_free(sl_kafka_producer *p)
{
    char err[SL_ERRLEN];

    if (!p)
        return;
    if (sl_kafka_producer_flush(p, 10000, err, sizeof err))
        sl_warn(NULL, "%s", err);
    for (size_t i = 0; i < p->nwarm; i++)
        rd_kafka_topic_destroy(p->warm[i]);
    rd_kafka_destroy(p->rk);
    free(p);
}
