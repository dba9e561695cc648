/*
 * lag.c - `snaplakectl lag`.
 *
 * For each stage: its input topic is KAFKA_TOPIC_PREFIX + the stage's input (the same
 * SL_KAFKA_TOPIC_* names and sl_kafka_topic_name the stages use, worker/stage.h) and its
 * consumer group is snaplake-<stage>, the worker's default; a Deployment that sets
 * KAFKA_GROUP_ID is named with --group STAGE=GROUP. Per partition:
 *   committed  the group's committed offset (Admin API ListConsumerGroupOffsets, which needs
 *              no group membership: it never disturbs the workers' group);
 *   end        the high watermark (ListOffsets through rd_kafka_query_watermark_offsets);
 *   lag        end - committed, or, with nothing committed, end - the low watermark: the
 *              workers start a new group at the earliest offset (kafka_consumer.c), so
 *              everything retained is still to be consumed.
 * The offsets a worker commits are the ones it stored after the work was durable (worker.c),
 * so a lag of 0 means every message was handled, not merely fetched.
 * --json prints one array instead of the table: per stage {stage, group, topic, exists,
 * partitions: [{partition, committed (null: none), end, lag}], total}.
 */
#include "ctl_lag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl_db.h"
#include "kafka.h"
#include "log.h"
#include "signals.h"
#include "util.h"

#define LAG_TIMEOUT_MS 10000
/* Pause between tries of a watermark query the broker answered "not now". */
#define LAG_RETRY_MS 100
#define LAG_MAX_GROUPS 16

/* The partition's low and high watermarks. A partition whose leader is moving (just created,
   a broker restarting) answers "not leader" or "leader not available" for a moment: those are
   tried again until LAG_TIMEOUT_MS, anything else is the answer. */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
                                      int64_t *lo, int64_t *hi)
{
    long long deadline = sl_mono_ms() + LAG_TIMEOUT_MS;
    rd_kafka_resp_err_t e;

    for (;;) {
        e = rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, LAG_TIMEOUT_MS);
        if ((e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
             e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) ||
            sl_mono_ms() + LAG_RETRY_MS >= deadline || sl_nap_ms(LAG_RETRY_MS))
            return e;
    }
}

/* Each stage and the topic it consumes (worker/export.c, copy.c, crawl.c, share.c: in_topic). */
static const struct {
    const char *stage, *in_topic;
} stages[] = {
    {"export", SL_KAFKA_TOPIC_SNAPSHOTS},
    {"copy", SL_KAFKA_TOPIC_EXPORTS},
    {"crawl", SL_KAFKA_TOPIC_COPIES},
    {"share", SL_KAFKA_TOPIC_CRAWLS},
};

typedef struct lag_cfg {
    char *log_level;
    char *prefix;
} lag_cfg;

static const sl_cfg_opt lag_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "warn", 0, -1, 0, offsetof(lag_cfg, log_level),
     "debug | info | warn | error"},
    {"KAFKA_TOPIC_PREFIX", SL_CFG_STRING, SL_KAFKA_DEFAULT_PREFIX, 0, -1, 0,
     offsetof(lag_cfg, prefix), "prefix of every topic name"},
};

typedef struct lag_args {
    const char *only; /* --stage, NULL = all */
    const char *group_of[LAG_MAX_GROUPS][2];
    size_t ngroups;
    int json; /* --json */
} lag_args;

void ctl_lag_help(FILE *out)
{
    fputs("lag [--stage S] [--group STAGE=GROUP]... [--json]: each stage's consumer lag per\n"
          "  partition (committed offset of its group vs the end of its input topic); KAFKA_*\n"
          "  as for the workers (KAFKA_BOOTSTRAP_SERVERS, SASL/TLS). --json: one JSON array,\n"
          "  an object per stage with its partitions.\n",
          out);
    sl_config_help(out, "lag", "the lag command reads (no PostgreSQL, no AWS)", lag_opts,
                   SL_ARRAY_LEN(lag_opts));
}

static int known_stage(const char *s)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(stages); i++)
        if (strcmp(stages[i].stage, s) == 0)
            return 1;
    return 0;
}

static int parse_args(int argc, char **argv, lag_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--stage") == 0) {
            if (!v || !known_stage(v)) {
                fprintf(stderr, "snaplakectl lag: --stage takes export, copy, crawl or share\n");
                return 2;
            }
            a->only = v;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--group") == 0) {
            const char *eq = v ? strchr(v, '=') : NULL;
            char st[32];
            if (!eq || eq == v || !eq[1] || (size_t)(eq - v) >= sizeof(st) ||
                a->ngroups == LAG_MAX_GROUPS) {
                fprintf(stderr, "snaplakectl lag: --group takes STAGE=GROUP\n");
                return 2;
            }
            snprintf(st, sizeof(st), "%.*s", (int)(eq - v), v);
            if (!known_stage(st)) {
                fprintf(stderr, "snaplakectl lag: --group: no stage \"%.31s\"\n", st);
                return 2;
            }
            a->group_of[a->ngroups][0] = v;
            a->group_of[a->ngroups][1] = eq + 1;
            a->ngroups++;
            i++;
        } else {
            fprintf(stderr, "snaplakectl lag: unknown option \"%.64s\" (see --help)\n", argv[i]);
            return 2;
        }
    }
    return 0;
}

/* The group of stage: the last --group for it, else snaplake-<stage>. */
static void group_name(const lag_args *a, const char *stage, char *out, size_t outlen)
{
    size_t sl = strlen(stage);

    snprintf(out, outlen, "snaplake-%s", stage);
    for (size_t i = 0; i < a->ngroups; i++)
        if (strncmp(a->group_of[i][0], stage, sl) == 0 && a->group_of[i][0][sl] == '=')
            snprintf(out, outlen, "%s", a->group_of[i][1]);
}

/* The partitions of topic into *parts (caller destroys); 0 with *parts NULL when the topic
 * does not exist; -1 with err. */
static int topic_parts(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts,
                       char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;
    int rc = -1;

    *parts = NULL;
    if (!rkt)
        return sl_seterr(err, errlen, "topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
    e = rd_kafka_metadata(rk, 0, rkt, &md, LAG_TIMEOUT_MS);
    if (e) {
        sl_seterr(err, errlen, "metadata of %s: %s", topic, rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
    if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        goto out;
    if (md->topics[0].err) {
        rc = sl_seterr(err, errlen, "metadata of %s: %s", topic,
                       rd_kafka_err2str(md->topics[0].err));
        goto out;
    }
    *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(*parts, topic, md->topics[0].partitions[i].id);
    rd_kafka_topic_partition_list_sort(*parts, NULL, NULL);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Fills the offsets of parts with group's committed offsets (RD_KAFKA_OFFSET_INVALID when
 * none). 0 or -1 with err. */
static int committed(rd_kafka_t *rk, const char *group, rd_kafka_topic_partition_list_t *parts,
                     char *err, size_t errlen)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    char errstr[256], what[SL_ERRLEN];
    int rc = -1;

    if (!req || !opt || !q) {
        sl_seterr(err, errlen, "offsets of group %s: out of memory", group);
        goto out;
    }
    if (rd_kafka_AdminOptions_set_request_timeout(opt, LAG_TIMEOUT_MS, errstr, sizeof(errstr))) {
        sl_seterr(err, errlen, "offsets of group %s: %s", group, errstr);
        goto out;
    }
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opt, q);
    snprintf(what, sizeof(what), "offsets of group %s", group);
    ev = sl_kafka_admin_wait(q, LAG_TIMEOUT_MS, what, err, errlen);
    if (!ev)
        goto out;
    {
        const rd_kafka_ListConsumerGroupOffsets_result_t *res =
            rd_kafka_event_ListConsumerGroupOffsets_result(ev);
        size_t ng = 0;
        const rd_kafka_group_result_t **gr =
            res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &ng) : NULL;
        const rd_kafka_topic_partition_list_t *got;
        const rd_kafka_error_t *ge;

        if (ng != 1) {
            sl_seterr(err, errlen, "offsets of group %s: %zu results", group, ng);
            goto out;
        }
        if ((ge = rd_kafka_group_result_error(gr[0])) != NULL) {
            sl_seterr(err, errlen, "offsets of group %s: %s", group, rd_kafka_error_string(ge));
            goto out;
        }
        got = rd_kafka_group_result_partitions(gr[0]);
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *g =
                got ? rd_kafka_topic_partition_list_find(got, parts->elems[i].topic,
                                                         parts->elems[i].partition)
                    : NULL;
            parts->elems[i].offset = g && !g->err ? g->offset : RD_KAFKA_OFFSET_INVALID;
        }
    }
    rc = 0;
out:
    sl_kafka_admin_release(ev, q, opt);
    if (req)
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
    return rc;
}

/* The column heading, once, before the first row (not before an error). */
static void heading(int *shown)
{
    if (*shown)
        return;
    printf("%-7s %-28s %-32s %9s %10s %10s %8s\n", "STAGE", "GROUP", "TOPIC", "PARTITION",
           "COMMITTED", "END", "LAG");
    *shown = 1;
}

/* The JSON object of one stage, added to arr (owned by it); NULL when out of memory. */
static cJSON *stage_json(cJSON *arr, const char *stage, const char *group, const char *topic,
                         int exists)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    if (!cJSON_AddStringToObject(o, "stage", stage) ||
        !cJSON_AddStringToObject(o, "group", group) ||
        !cJSON_AddStringToObject(o, "topic", topic) || !cJSON_AddBoolToObject(o, "exists", exists))
        return NULL;
    return o;
}

/* A partition's row, as a line of the table or (parts_json non-NULL) an object there. */
static int part_row(cJSON *parts_json, const char *stage, const char *group, const char *topic,
                    int partition, int64_t c, int64_t hi, long long lag)
{
    char cs[24];
    cJSON *o;

    if (!parts_json) {
        if (c >= 0)
            snprintf(cs, sizeof(cs), "%lld", (long long)c);
        else
            snprintf(cs, sizeof(cs), "-");
        printf("%-7s %-28s %-32s %9d %10s %10lld %8lld\n", stage, group, topic, partition, cs,
               (long long)hi, lag);
        return 0;
    }
    o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(parts_json, o)) {
        cJSON_Delete(o);
        return -1;
    }
    if (!cJSON_AddNumberToObject(o, "partition", partition) ||
        !(c >= 0 ? cJSON_AddNumberToObject(o, "committed", (double)c)
                 : cJSON_AddNullToObject(o, "committed")) ||
        !cJSON_AddNumberToObject(o, "end", (double)hi) ||
        !cJSON_AddNumberToObject(o, "lag", (double)lag))
        return -1;
    return 0;
}

/* One stage's rows, printed, or (out non-NULL) added to the array out. 0 or -1 with err. */
static int stage_lag(rd_kafka_t *rk, const lag_cfg *cfg, const lag_args *a, size_t si, int *shown,
                     cJSON *out, char *err, size_t errlen)
{
    char topic[256], group[256];
    rd_kafka_topic_partition_list_t *parts = NULL;
    cJSON *so = NULL, *pj = NULL;
    long long total = 0;
    int rc = -1;

    if (sl_kafka_topic_name(topic, sizeof(topic), cfg->prefix, stages[si].in_topic))
        return sl_seterr(err, errlen, "KAFKA_TOPIC_PREFIX \"%.64s\" makes no valid topic name",
                         cfg->prefix);
    group_name(a, stages[si].stage, group, sizeof(group));
    if (topic_parts(rk, topic, &parts, err, errlen))
        return -1;
    if (!parts) {
        if (out)
            return stage_json(out, stages[si].stage, group, topic, 0)
                       ? 0
                       : sl_seterr(err, errlen, "out of memory");
        heading(shown);
        printf("%-7s %-28s %-32s (topic does not exist)\n", stages[si].stage, group, topic);
        return 0;
    }
    if (committed(rk, group, parts, err, errlen))
        goto out;
    if (out && (!(so = stage_json(out, stages[si].stage, group, topic, 1)) ||
                !(pj = cJSON_AddArrayToObject(so, "partitions")))) {
        sl_seterr(err, errlen, "out of memory");
        goto out;
    }
    if (!out)
        heading(shown);
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo = 0, hi = 0, c = parts->elems[i].offset;
        long long lag;
        rd_kafka_resp_err_t e = watermarks(rk, topic, parts->elems[i].partition, &lo, &hi);

        if (e) {
            sl_seterr(err, errlen, "end offset of %s [%d]: %s", topic, parts->elems[i].partition,
                      rd_kafka_err2str(e));
            goto out;
        }
        lag = c >= 0 ? (hi > c ? hi - c : 0) : hi - lo;
        total += lag;
        if (part_row(pj, stages[si].stage, group, topic, parts->elems[i].partition, c, hi, lag)) {
            sl_seterr(err, errlen, "out of memory");
            goto out;
        }
    }
    if (so && !cJSON_AddNumberToObject(so, "total", (double)total)) {
        sl_seterr(err, errlen, "out of memory");
        goto out;
    }
    if (!so)
        printf("%-7s %-28s %-32s %9s %10s %10s %8lld\n", stages[si].stage, group, topic, "total",
               "", "", total);
    rc = 0;
out:
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

int ctl_lag_main(int argc, char **argv)
{
    lag_cfg cfg;
    lag_args a;
    char err[4096] = "";
    rd_kafka_t *rk = NULL;
    cJSON *arr = NULL;
    sl_log_level level = SL_LOG_WARN;
    int rc, shown = 0;

    memset(&a, 0, sizeof(a));
    memset(&cfg, 0, sizeof(cfg));
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        ctl_lag_help(stdout);
        return 0;
    }
    rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (sl_config_load(lag_opts, SL_ARRAY_LEN(lag_opts), &cfg, NULL, NULL, err, sizeof(err)) |
        sl_config_check(lag_opts, SL_ARRAY_LEN(lag_opts), sl_config_std_checks,
                        sl_config_nstd_checks, NULL, NULL, err, sizeof(err)) |
        sl_kafka_conf_check_env(NULL, err, sizeof(err))) {
        fprintf(stderr, "snaplakectl lag: bad configuration:\n%s\n", err);
        sl_config_cleanup(lag_opts, SL_ARRAY_LEN(lag_opts), &cfg);
        return 2;
    }
    if (sl_log_level_parse(cfg.log_level, &level) != 0)
        level = SL_LOG_WARN;
    sl_log_init("snaplakectl", level);
    rc = 1;
    if (sl_kafka_admin_new(&rk, NULL, NULL, err, sizeof(err)))
        goto out;
    if (a.json && !(arr = cJSON_CreateArray())) {
        sl_seterr(err, sizeof(err), "out of memory");
        goto out;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(stages); i++)
        if ((!a.only || strcmp(a.only, stages[i].stage) == 0) &&
            stage_lag(rk, &cfg, &a, i, &shown, arr, err, sizeof(err)))
            goto out;
    if (arr)
        ctl_print_json(stdout, arr, 0);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "snaplakectl lag: %s\n", err);
    cJSON_Delete(arr);
    if (rk)
        rd_kafka_destroy(rk);
    sl_config_cleanup(lag_opts, SL_ARRAY_LEN(lag_opts), &cfg);
    return rc;
}
