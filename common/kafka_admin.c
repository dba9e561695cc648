/*
 * kafka_admin.c - the Admin API side of kafka.h: the short-lived admin client (topic creation,
 * the command line's lag), CreateTopics, and the pipeline's topic names <prefix><stage>.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"

int sl_kafka_topic_name(char *out, size_t outlen, const char *prefix, const char *stage)
{
    int n;

    if (!prefix) {
        prefix = getenv("KAFKA_TOPIC_PREFIX");
        if (!prefix)
            prefix = SL_KAFKA_DEFAULT_PREFIX;
    }
    if (!stage)
        return -1;
    n = snprintf(out, outlen, "%s%s", prefix, stage);
    /* Kafka's Topic.validate: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
    if (n <= 0 || (size_t)n >= outlen || n > 249 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        goto fail;
    for (int i = 0; i < n; i++)
        if (!isalnum((unsigned char)out[i]) && out[i] != '.' && out[i] != '_' && out[i] != '-')
            goto fail;
    return 0;
fail:
    if (outlen)
        out[0] = '\0';
    return -1;
}

int sl_kafka_admin_new(rd_kafka_t **out, const char *const *props, char *const *envp, char *err,
                       size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf =
        sl_kafka_build_conf(SL_KAFKA_KIND_ADMIN, NULL, NULL, NULL, props, envp, err, errlen);
    rd_kafka_t *rk;

    if (!conf)
        return -1;
    /* A producer handle: admin and metadata requests need no group, and a consumer handle
     * would look up the coordinator of any KAFKA_GROUP_ID in the environment. */
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return sl_seterr(err, errlen, "kafka admin client: %s", errstr);
    }
    *out = rk;
    return 0;
}

int sl_kafka_create_topics(const char *const *topics, size_t ntopics, int partitions,
                           int replication, const char *const *props, char *const *envp,
                           int timeout_ms, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_NewTopic_t **nt = NULL;
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t **tr;
    size_t ntr = 0;
    int rc = -1;

    if (ntopics == 0)
        return 0;
    if (sl_kafka_admin_new(&rk, props, envp, err, errlen))
        goto out;
    nt = calloc(ntopics, sizeof *nt);
    if (!nt) {
        sl_seterr(err, errlen, "kafka create topics: out of memory");
        goto out;
    }
    for (size_t i = 0; i < ntopics; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr, sizeof errstr);
        if (!nt[i]) {
            sl_seterr(err, errlen, "kafka create topic %s: %s", topics[i], errstr);
            goto out;
        }
    }
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (!opt || rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, errstr, sizeof errstr) ||
        rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, errstr, sizeof errstr)) {
        sl_seterr(err, errlen, "kafka create topics: options: %s", opt ? errstr : "no memory");
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, ntopics, opt, q);
    /* The result event arrives after the request timeout at the latest; a little slack. */
    ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (!ev) {
        sl_seterr(err, errlen, "kafka create topics: no answer within %d ms", timeout_ms);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        sl_seterr(err, errlen, "kafka create topics: %s", rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_event_CreateTopics_result(ev);
    tr = res ? rd_kafka_CreateTopics_result_topics(res, &ntr) : NULL;
    for (size_t i = 0; i < ntr; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char *msg = rd_kafka_topic_result_error_string(tr[i]);
            sl_seterr(err, errlen, "kafka create topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                      msg ? msg : rd_kafka_err2str(e));
            goto out;
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opt)
        rd_kafka_AdminOptions_destroy(opt);
    if (nt) {
        for (size_t i = 0; i < ntopics; i++)
            if (nt[i])
                rd_kafka_NewTopic_destroy(nt[i]);
        free(nt);
    }
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

int sl_kafka_create_pipeline_topics(const sl_kafka_topic_opts *o, char *const *envp, char *err,
                                    size_t errlen)
{
    static const char *const stages[] = {SL_KAFKA_TOPIC_SNAPSHOTS, SL_KAFKA_TOPIC_EXPORTS,
                                         SL_KAFKA_TOPIC_COPIES,    SL_KAFKA_TOPIC_CRAWLS,
                                         SL_KAFKA_TOPIC_SHARES,    SL_KAFKA_TOPIC_FAILURES,
                                         SL_KAFKA_TOPIC_DLQ};
    char names[SL_ARRAY_LEN(stages)][256];
    const char *topics[SL_ARRAY_LEN(stages)];

    for (size_t i = 0; i < SL_ARRAY_LEN(stages); i++) {
        if (sl_kafka_topic_name(names[i], sizeof(names[i]), o->prefix, stages[i]))
            return sl_seterr(err, errlen, "KAFKA_TOPIC_PREFIX makes no valid topic name for %s",
                             stages[i]);
        topics[i] = names[i];
    }
    return sl_kafka_create_topics(topics, SL_ARRAY_LEN(stages), (int)o->partitions,
                                  (int)o->replication, NULL, envp, 30000, err, errlen);
}
