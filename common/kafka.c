/* kafka.c - see kafka.h. */
#include "kafka.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

extern char **environ;

/* ---- configuration ---- */

typedef enum client_kind { KIND_PRODUCER, KIND_CONSUMER, KIND_ADMIN } client_kind;

/* Longest environment variable name we look at; longer ones cannot be librdkafka's. */
#define ENV_NAME_MAX 160

static const char *const own_vars[] = SL_KAFKA_OWN_VARS;

/*
 * KAFKA_-prefixed variables that other software puts into a container's environment and
 * that are no librdkafka property. Kubernetes service links inject <SVC>_SERVICE_HOST,
 * <SVC>_SERVICE_PORT*, <SVC>_PORT and <SVC>_PORT_<n>_<PROTO>* for every Service in the
 * namespace, so a Service named "kafka" would otherwise stop every worker at start with
 * "No such configuration property". The JVM tools' KAFKA_*_OPTS and KAFKA_HOME likewise.
 * No librdkafka property starts with "service." or "port" or ends with ".opts".
 */
static int foreign_var(const char *rest)
{
    size_t n = strlen(rest);

    if (strncmp(rest, "SERVICE_", 8) == 0 || strcmp(rest, "PORT") == 0 ||
        strncmp(rest, "PORT_", 5) == 0 || strcmp(rest, "HOME") == 0 || strcmp(rest, "OPTS") == 0)
        return 1;
    return n > 5 && strcmp(rest + n - 5, "_OPTS") == 0;
}

int sl_kafka_env_to_prop(const char *env_name, char *prop, size_t proplen)
{
    const char *rest;
    size_t n;

    if (!env_name || strncmp(env_name, "KAFKA_", 6) != 0)
        return 0;
    rest = env_name + 6;
    n = strlen(rest);
    if (n == 0)
        return 0;
    for (size_t i = 0; own_vars[i]; i++)
        if (strcmp(env_name, own_vars[i]) == 0)
            return 0;
    if (foreign_var(rest))
        return 0;
    /* Only what a shell variable can hold; anything else is not meant for us. */
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)rest[i]) && rest[i] != '_')
            return 0;
    if (n + 1 > proplen)
        return -1;
    for (size_t i = 0; i < n; i++)
        prop[i] = rest[i] == '_' ? '.' : (char)tolower((unsigned char)rest[i]);
    prop[n] = '\0';
    return 1;
}

int sl_kafka_prop_is_secret(const char *prop)
{
    static const char *const words[] = {"password", "secret", "key", "token"};
    char low[SL_KAFKA_PROP_MAX];
    size_t n;

    if (!prop)
        return 0;
    n = strlen(prop);
    if (n >= sizeof low)
        return 1; /* not a name we know: assume the worst */
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)prop[i]);
    for (size_t i = 0; i < SL_ARRAY_LEN(words); i++)
        if (strstr(low, words[i]))
            return 1;
    /* sasl.oauthbearer.config carries client secrets inline. */
    return strncmp(low, "sasl.oauthbearer.", 17) == 0;
}

/* Each comma-separated element of v is one of the eager assignors. */
static int eager_strategy(const char *v)
{
    const char *p = v;

    if (!*v)
        return 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        while (n > 0 && p[0] == ' ')
            p++, n--;
        if (!((n == 5 && strncmp(p, "range", 5) == 0) ||
              (n == 10 && strncmp(p, "roundrobin", 10) == 0)))
            return 0;
        p += n;
        if (*p == ',')
            p++;
    }
    return 1;
}

/*
 * The properties at-least-once depends on. Returns 1 when prop=value keeps them, 0 when it
 * would break one. The producer must be idempotent with acks=all, or a "durable" answer from
 * sl_kafka_produce_sync means nothing; the consumer must not store offsets by itself, or
 * messages whose work never finished get committed; and it must use an eager assignor,
 * because the rebalance callback uses rd_kafka_assign (cooperative needs incremental_assign).
 */
static int locked_ok(client_kind kind, const char *prop, const char *value)
{
    if (kind == KIND_PRODUCER) {
        if (strcmp(prop, "enable.idempotence") == 0)
            return strcasecmp(value, "true") == 0;
        if (strcmp(prop, "acks") == 0 || strcmp(prop, "request.required.acks") == 0)
            return strcmp(value, "all") == 0 || strcmp(value, "-1") == 0;
    } else if (kind == KIND_CONSUMER) {
        if (strcmp(prop, "enable.auto.offset.store") == 0)
            return strcasecmp(value, "false") == 0;
        if (strcmp(prop, "partition.assignment.strategy") == 0)
            return eager_strategy(value);
    }
    return 1;
}

static int conf_set(rd_kafka_conf_t *conf, client_kind kind, const char *origin, const char *prop,
                    const char *value, char *err, size_t errlen)
{
    char errstr[512];

    if (!locked_ok(kind, prop, value))
        return sl_seterr(err, errlen,
                         "kafka config: %s sets %s, which snaplake fixes for at-least-once "
                         "delivery and cannot be changed",
                         origin, prop);
    if (rd_kafka_conf_set(conf, prop, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        /* librdkafka's text quotes the value; not for a secret one. */
        if (sl_kafka_prop_is_secret(prop))
            return sl_seterr(err, errlen, "kafka config: %s: property %s refused its value", origin,
                             prop);
        return sl_seterr(err, errlen, "kafka config: %s: %s", origin, errstr);
    }
    return 0;
}

static int apply_env(rd_kafka_conf_t *conf, client_kind kind, char *const *envp, char *err,
                     size_t errlen)
{
    char *const *env = envp ? envp : environ;

    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[ENV_NAME_MAX], prop[SL_KAFKA_PROP_MAX];
        size_t nlen;
        int m;

        if (!eq || strncmp(env[i], "KAFKA_", 6) != 0)
            continue;
        nlen = (size_t)(eq - env[i]);
        if (nlen >= sizeof name)
            return sl_seterr(err, errlen, "kafka config: variable name %.40s... too long", env[i]);
        memcpy(name, env[i], nlen);
        name[nlen] = '\0';
        m = sl_kafka_env_to_prop(name, prop, sizeof prop);
        if (m < 0)
            return sl_seterr(err, errlen, "kafka config: %s: property name too long", name);
        if (m == 0)
            continue;
        if (conf_set(conf, kind, name, prop, eq + 1, err, errlen))
            return -1;
        if (sl_log_enabled(SL_LOG_DEBUG)) {
            const char *kv[] = {"variable", name,
                                "property", prop,
                                "value",    sl_kafka_prop_is_secret(prop) ? "(redacted)" : eq + 1,
                                NULL};
            sl_log_kv(SL_LOG_DEBUG, NULL, kv, "kafka property from environment");
        }
    }
    return 0;
}

int sl_kafka_conf_apply_env(rd_kafka_conf_t *conf, char *const *envp, char *err, size_t errlen)
{
    return apply_env(conf, KIND_ADMIN, envp, err, errlen);
}

int sl_kafka_conf_check_env(char *const *envp, char *err, size_t errlen)
{
    static const client_kind kinds[] = {KIND_PRODUCER, KIND_CONSUMER};
    char *const *env = envp ? envp : environ;
    size_t used = err && errlen ? strnlen(err, errlen - 1) : 0;
    int failed = 0;

    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[ENV_NAME_MAX], prop[SL_KAFKA_PROP_MAX], e1[SL_ERRLEN];
        size_t nlen;
        int m, bad = 0;

        if (!eq || strncmp(env[i], "KAFKA_", 6) != 0)
            continue;
        nlen = (size_t)(eq - env[i]);
        if (nlen >= sizeof name) {
            snprintf(e1, sizeof e1, "kafka config: variable name %.40s... too long", env[i]);
            bad = 1;
        } else {
            memcpy(name, env[i], nlen);
            name[nlen] = '\0';
            m = sl_kafka_env_to_prop(name, prop, sizeof prop);
            if (m < 0) {
                snprintf(e1, sizeof e1, "kafka config: %s: property name too long", name);
                bad = 1;
            }
            /* One scratch conf per kind: a property is refused once, with the first reason. */
            for (size_t k = 0; m > 0 && !bad && k < SL_ARRAY_LEN(kinds); k++) {
                rd_kafka_conf_t *scratch = rd_kafka_conf_new();
                if (!scratch) {
                    snprintf(e1, sizeof e1, "kafka config: out of memory");
                    bad = 1;
                    break;
                }
                bad = conf_set(scratch, kinds[k], name, prop, eq + 1, e1, sizeof e1) != 0;
                rd_kafka_conf_destroy(scratch);
            }
        }
        if (bad && err && errlen && used < errlen - 1) {
            int n = snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", e1);
            if (n > 0)
                used += (size_t)n < errlen - used ? (size_t)n : errlen - used - 1;
        }
        failed |= bad;
    }
    return failed ? -1 : 0;
}

/* librdkafka's log lines (syslog levels) as our JSON lines. Called from its threads too. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    sl_log_level l = level <= 3   ? SL_LOG_ERROR
                     : level == 4 ? SL_LOG_WARN
                     : level <= 6 ? SL_LOG_INFO
                                  : SL_LOG_DEBUG;
    const char *kv[] = {
        "source", "rdkafka", "facility", fac, "client", rk ? rd_kafka_name(rk) : NULL, NULL};

    sl_log_kv(l, NULL, kv, "%s", buf);
}

static void error_cb(rd_kafka_t *rk, int errc, const char *reason, void *opaque)
{
    const char *kv[] = {"client", rd_kafka_name(rk), "error",
                        rd_kafka_err2name((rd_kafka_resp_err_t)errc), NULL};

    (void)opaque;
    sl_log_kv(errc == RD_KAFKA_RESP_ERR__FATAL ? SL_LOG_ERROR : SL_LOG_WARN, NULL, kv, "kafka: %s",
              reason);
}

/*
 * Builds a conf: defaults, then name_prop=name_val (group.id), then props, then env.
 * Returns the conf (caller owns) or NULL with err.
 */
static rd_kafka_conf_t *build_conf(client_kind kind, const char *const *defaults,
                                   const char *name_prop, const char *name_val,
                                   const char *const *props, char *const *envp, char *err,
                                   size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (!conf) {
        sl_seterr(err, errlen, "kafka config: out of memory");
        return NULL;
    }
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (conf_set(conf, kind, "default", defaults[i], defaults[i + 1], err, errlen))
            goto fail;
    if (name_prop && conf_set(conf, kind, "argument", name_prop, name_val, err, errlen))
        goto fail;
    for (size_t i = 0; props && props[i]; i += 2) {
        if (!props[i + 1]) {
            sl_seterr(err, errlen, "kafka config: property %s has no value", props[i]);
            goto fail;
        }
        if (conf_set(conf, kind, props[i], props[i], props[i + 1], err, errlen))
            goto fail;
    }
    if (apply_env(conf, kind, envp, err, errlen))
        goto fail;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

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
    rd_kafka_conf_t *conf = build_conf(KIND_ADMIN, NULL, NULL, NULL, props, envp, err, errlen);
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

/* ---- producer ---- */

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
};

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
    conf = build_conf(KIND_PRODUCER, defaults, NULL, NULL, props, envp, err, errlen);
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
    rd_kafka_destroy(p->rk);
    free(p);
}

/* ---- consumer ---- */

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
    conf = build_conf(KIND_CONSUMER, defaults, "group.id", group_id, props, envp, err, errlen);
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
