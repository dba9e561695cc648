/*
 * kafka_conf.c - client configuration (see kafka.h, "Configuration"): the KAFKA_* -> librdkafka
 * property mapping and the variables it skips, secret redaction, the properties at-least-once
 * locks, the start-up check of the environment, and the rd_kafka_conf_t every constructor
 * (kafka_admin.c, kafka_producer.c, kafka_consumer.c) starts from, with librdkafka's log
 * routed to sl_log. Pure but for librdkafka's conf object; unit-tested by test_kafka_conf.
 */
#include "kafka_conf.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "log.h"

extern char **environ;

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
static int locked_ok(sl_kafka_kind kind, const char *prop, const char *value)
{
    if (kind == SL_KAFKA_KIND_PRODUCER) {
        if (strcmp(prop, "enable.idempotence") == 0)
            return strcasecmp(value, "true") == 0;
        if (strcmp(prop, "acks") == 0 || strcmp(prop, "request.required.acks") == 0)
            return strcmp(value, "all") == 0 || strcmp(value, "-1") == 0;
    } else if (kind == SL_KAFKA_KIND_CONSUMER) {
        if (strcmp(prop, "enable.auto.offset.store") == 0)
            return strcasecmp(value, "false") == 0;
        if (strcmp(prop, "partition.assignment.strategy") == 0)
            return eager_strategy(value);
    }
    return 1;
}

static int conf_set(rd_kafka_conf_t *conf, sl_kafka_kind kind, const char *origin, const char *prop,
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

static int apply_env(rd_kafka_conf_t *conf, sl_kafka_kind kind, char *const *envp, char *err,
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
    return apply_env(conf, SL_KAFKA_KIND_ADMIN, envp, err, errlen);
}

int sl_kafka_conf_check_env(char *const *envp, char *err, size_t errlen)
{
    static const sl_kafka_kind kinds[] = {SL_KAFKA_KIND_PRODUCER, SL_KAFKA_KIND_CONSUMER};
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

rd_kafka_conf_t *sl_kafka_build_conf(sl_kafka_kind kind, const char *const *defaults,
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
