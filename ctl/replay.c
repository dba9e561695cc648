/*
 * replay.c - `snaplakectl replay --stage S (--from-time T | --from-offset P:O) [--force]
 * [--group G] [--wait D]`: moves a stage's consumer group back (or forward) so its workers
 * consume the input topic again from there. Through the Kafka Admin API, no Kafka tools:
 * DescribeConsumerGroups (who is in the group), ListConsumerGroupOffsets (where it is),
 * rd_kafka_offsets_for_times (the first offset at or after T per partition; none = the end)
 * and AlterConsumerGroupOffsets (the move).
 *
 * Live members. A member holds its position in memory and commits over any reset, and Kafka's
 * group coordinator refuses an offset change to a group that has members (UNKNOWN_MEMBER_ID),
 * so replay refuses (exit 1, naming the members) while the group has any. --force does not
 * refuse: it waits, up to --wait (default 60s), for the members to leave (scale the stage to
 * zero, or wait out the session timeout of a killed worker), then resets. Every redone message
 * begins its stage again (attempt + 1); each stage is idempotent, so the redo is safe.
 *
 * Topics and group as the workers name them: <KAFKA_TOPIC_PREFIX><input topic of S>, group
 * snaplake-<S> unless --group. Needs Kafka only (KAFKA_*), no PostgreSQL, no AWS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctl_db.h"
#include "ctl_runs.h"
#include "kafka.h"
#include "log.h"

#define ADMIN_WAIT_MS 15000

/* Each stage's input topic (stage.h in_topic; the worker's stages.c is not linked here). */
static const struct {
    const char *stage, *topic;
} stage_topics[] = {{"export", SL_KAFKA_TOPIC_SNAPSHOTS},
                    {"copy", SL_KAFKA_TOPIC_EXPORTS},
                    {"crawl", SL_KAFKA_TOPIC_COPIES},
                    {"share", SL_KAFKA_TOPIC_CRAWLS}};

typedef struct replay_args {
    const char *stage, *group;
    long long from_ms; /* --from-time, epoch ms; -1 = unset */
    int part;          /* --from-offset P:O */
    long long offset;  /* -1 = unset */
    int force;
    long long wait_ms;
} replay_args;

/* "P:O", both non-negative decimals. */
static int parse_part_offset(const char *s, int *p, long long *o)
{
    char *end;
    long v;

    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtol(s, &end, 10);
    if (errno || *end != ':' || v > 100000 || end[1] < '0' || end[1] > '9')
        return -1;
    *p = (int)v;
    *o = strtoll(end + 1, &end, 10);
    return errno || *end ? -1 : 0;
}

static int parse_args(int argc, char **argv, replay_args *a)
{
    long long s;

    a->from_ms = a->offset = -1;
    a->wait_ms = 60000;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(f, "--stage") == 0 || strcmp(f, "--group") == 0 ||
                    strcmp(f, "--from-time") == 0 || strcmp(f, "--from-offset") == 0 ||
                    strcmp(f, "--wait") == 0;

        if (strcmp(f, "--force") == 0) {
            a->force = 1;
            continue;
        }
        if (!takes) {
            fprintf(stderr, "snaplakectl replay: %s \"%.64s\" (see --help)\n",
                    f[0] == '-' ? "unknown option" : "unexpected argument", f);
            return 2;
        }
        if (!v || !v[0]) {
            fprintf(stderr, "snaplakectl replay: %s needs a value\n", f);
            return 2;
        }
        i++;
        if (strcmp(f, "--stage") == 0) {
            a->stage = v;
        } else if (strcmp(f, "--group") == 0) {
            a->group = v;
        } else if (strcmp(f, "--from-time") == 0) {
            if (ctl_parse_since(v, &s)) {
                fprintf(stderr,
                        "snaplakectl replay: --from-time takes an ISO date or time in UTC "
                        "or a span back from now (30m, 24h), not \"%.64s\"\n",
                        v);
                return 2;
            }
            a->from_ms = s * 1000;
        } else if (strcmp(f, "--from-offset") == 0) {
            if (parse_part_offset(v, &a->part, &a->offset)) {
                fprintf(stderr,
                        "snaplakectl replay: --from-offset takes PARTITION:OFFSET, not "
                        "\"%.64s\"\n",
                        v);
                return 2;
            }
        } else if (sl_config_parse_duration(v, &a->wait_ms) || a->wait_ms < 0) {
            fprintf(stderr,
                    "snaplakectl replay: --wait takes a duration (30s, 5m), not \"%.64s\"\n", v);
            return 2;
        }
    }
    if (!a->stage || (a->from_ms < 0) == (a->offset < 0)) {
        fprintf(stderr, "snaplakectl replay: usage: replay --stage S (--from-time T | "
                        "--from-offset P:O) [--force] [--group G] [--wait D]\n");
        return 2;
    }
    return 0;
}

static rd_kafka_AdminOptions_t *admin_opts(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char e[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);

    if (o)
        (void)rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_WAIT_MS, e, sizeof(e));
    return o;
}

/* The group's members: *members (printed to out when verbose), 0 or -1 with err. */
static int describe(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, size_t *members,
                    FILE *out, char *err, size_t errlen)
{
    const char *groups[1] = {group};
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_event_t *ev;
    const rd_kafka_ConsumerGroupDescription_t **gs;
    const rd_kafka_error_t *ge;
    size_t n = 0;

    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    if (!(ev = sl_kafka_admin_wait(q, ADMIN_WAIT_MS, "DescribeConsumerGroups", err, errlen)))
        return -1;
    gs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1) {
        rd_kafka_event_destroy(ev);
        return sl_seterr(err, errlen, "DescribeConsumerGroups: %zu groups in the answer", n);
    }
    if ((ge = rd_kafka_ConsumerGroupDescription_error(gs[0]))) {
        sl_seterr(err, errlen, "DescribeConsumerGroups %s: %s", group, rd_kafka_error_string(ge));
        rd_kafka_event_destroy(ev);
        return -1;
    }
    *members = rd_kafka_ConsumerGroupDescription_member_count(gs[0]);
    if (out) {
        fprintf(out, "group %s: %s, %zu member%s\n", group,
                rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gs[0])),
                *members, *members == 1 ? "" : "s");
        for (size_t i = 0; i < *members; i++) {
            const rd_kafka_MemberDescription_t *m =
                rd_kafka_ConsumerGroupDescription_member(gs[0], i);
            fprintf(out, "  member %s (client %s, host %s)\n",
                    rd_kafka_MemberDescription_consumer_id(m),
                    rd_kafka_MemberDescription_client_id(m), rd_kafka_MemberDescription_host(m));
        }
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

/* The group's committed offset of topic/partition p, or -1 (none). */
static long long committed_of(const rd_kafka_topic_partition_list_t *l, const char *topic, int p)
{
    for (int i = 0; l && i < l->cnt; i++)
        if (l->elems[i].partition == p && strcmp(l->elems[i].topic, topic) == 0)
            return l->elems[i].offset;
    return -1;
}

/* The group's committed offsets (a copy the caller destroys), or NULL with err. */
static rd_kafka_topic_partition_list_t *list_offsets(rd_kafka_t *rk, rd_kafka_queue_t *q,
                                                     const char *group, char *err, size_t errlen)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_topic_partition_list_t *copy = NULL;
    const rd_kafka_group_result_t **gr;
    rd_kafka_event_t *ev;
    size_t n = 0;

    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    if (!(ev = sl_kafka_admin_wait(q, ADMIN_WAIT_MS, "ListConsumerGroupOffsets", err, errlen)))
        return NULL;
    gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    if (n == 1 && rd_kafka_group_result_error(gr[0]))
        sl_seterr(err, errlen, "ListConsumerGroupOffsets %s: %s", group,
                  rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
    else if (n == 1)
        copy = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
    else
        sl_seterr(err, errlen, "ListConsumerGroupOffsets: %zu groups in the answer", n);
    rd_kafka_event_destroy(ev);
    return copy;
}

/* Errors of a topic just created or moving leaders: asked again, within ADMIN_WAIT_MS. */
static int retriable(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
           e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a command-line tool, not a loop serving others */
}

/* rd_kafka_query_watermark_offsets, asked again on a retriable error. */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const char *topic, int32_t p, int64_t *lo,
                                      int64_t *hi)
{
    long long until = sl_mono_ms() + ADMIN_WAIT_MS;
    rd_kafka_resp_err_t e;

    while ((e = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, ADMIN_WAIT_MS)) &&
           retriable(e) && sl_mono_ms() < until)
        pause_ms(250);
    return e;
}

/* rd_kafka_offsets_for_times over l (timestamps in, offsets out), asked again while it or a
 * partition fails retriably: l is rebuilt from the timestamp each time. */
static rd_kafka_resp_err_t offsets_for_time(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                                            long long ts_ms, const char **which, int *part)
{
    long long until = sl_mono_ms() + ADMIN_WAIT_MS;

    for (;;) {
        rd_kafka_resp_err_t e;
        for (int i = 0; i < l->cnt; i++) {
            l->elems[i].offset = ts_ms;
            l->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        e = rd_kafka_offsets_for_times(rk, l, ADMIN_WAIT_MS);
        *which = "offsets for time";
        *part = -1;
        for (int i = 0; !e && i < l->cnt; i++)
            if (l->elems[i].err) {
                e = l->elems[i].err;
                *which = "offset for time";
                *part = l->elems[i].partition;
            }
        if (!e || !retriable(e) || sl_mono_ms() >= until)
            return e;
        pause_ms(250);
    }
}

/* The new offsets: one partition (--from-offset, checked against its range) or every
 * partition of the topic (--from-time). NULL with err. */
static rd_kafka_topic_partition_list_t *targets(rd_kafka_t *rk, const char *topic,
                                                const replay_args *a, char *err, size_t errlen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t e;
    int np = 0;

    if (!rkt || (e = rd_kafka_metadata(rk, 0, rkt, &md, ADMIN_WAIT_MS)) != 0) {
        sl_seterr(err, errlen, "metadata of %s: %s", topic,
                  rkt ? rd_kafka_err2str(e) : "out of memory");
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err) {
        sl_seterr(err, errlen, "topic %s: %s", topic,
                  md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not in the metadata");
        goto out;
    }
    np = md->topics[0].partition_cnt;
    l = rd_kafka_topic_partition_list_new(np ? np : 1);
    if (a->offset >= 0) {
        int64_t lo = 0, hi = 0;
        if (a->part >= np) {
            sl_seterr(err, errlen, "topic %s has %d partitions, no partition %d", topic, np,
                      a->part);
            goto fail;
        }
        if ((e = watermarks(rk, topic, a->part, &lo, &hi))) {
            sl_seterr(err, errlen, "offsets of %s[%d]: %s", topic, a->part, rd_kafka_err2str(e));
            goto fail;
        }
        if (a->offset < lo || a->offset > hi) {
            sl_seterr(err, errlen, "%s[%d] holds offsets %lld..%lld, not %lld", topic, a->part,
                      (long long)lo, (long long)hi, a->offset);
            goto fail;
        }
        rd_kafka_topic_partition_list_add(l, topic, a->part)->offset = a->offset;
        goto out;
    }
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[p].id)->offset =
            a->from_ms;
    {
        const char *which;
        int part;
        if ((e = offsets_for_time(rk, l, a->from_ms, &which, &part))) {
            sl_seterr(err, errlen, "%s on %s[%d]: %s", which, topic, part, rd_kafka_err2str(e));
            goto fail;
        }
    }
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = 0, hi = 0;
        /* No message at or after T: the partition's end (nothing to redo there). */
        if (l->elems[i].offset < 0) {
            if ((e = watermarks(rk, topic, l->elems[i].partition, &lo, &hi))) {
                sl_seterr(err, errlen, "offsets of %s[%d]: %s", topic, l->elems[i].partition,
                          rd_kafka_err2str(e));
                goto fail;
            }
            l->elems[i].offset = hi;
        }
    }
    goto out;
fail:
    rd_kafka_topic_partition_list_destroy(l);
    l = NULL;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return l;
}

/* AlterConsumerGroupOffsets; 0, 1 when the group still had members, -1 with err. */
static int alter(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group,
                 const rd_kafka_topic_partition_list_t *l, char *err, size_t errlen)
{
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    const rd_kafka_group_result_t **gr;
    const rd_kafka_topic_partition_list_t *got;
    rd_kafka_event_t *ev;
    size_t n = 0;
    int rc = -1;

    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    if (!(ev = sl_kafka_admin_wait(q, ADMIN_WAIT_MS, "AlterConsumerGroupOffsets", err, errlen)))
        return -1;
    gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
    if (n != 1) {
        sl_seterr(err, errlen, "AlterConsumerGroupOffsets: %zu groups in the answer", n);
        goto out;
    }
    if (rd_kafka_group_result_error(gr[0])) {
        sl_seterr(err, errlen, "AlterConsumerGroupOffsets %s: %s", group,
                  rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
        goto out;
    }
    got = rd_kafka_group_result_partitions(gr[0]);
    for (int i = 0; got && i < got->cnt; i++) {
        if (got->elems[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
            rc = 1;
            goto out;
        }
        if (got->elems[i].err) {
            sl_seterr(err, errlen, "AlterConsumerGroupOffsets %s[%d]: %s", got->elems[i].topic,
                      got->elems[i].partition, rd_kafka_err2str(got->elems[i].err));
            goto out;
        }
    }
    rc = 0;
out:
    rd_kafka_event_destroy(ev);
    return rc;
}

int ctl_replay_main(int argc, char **argv)
{
    replay_args a;
    const char *props[] = {"client.id", "snaplakectl-replay", NULL};
    sl_kafka_producer *p = NULL;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_topic_partition_list_t *before = NULL, *want = NULL;
    char err[SL_ERRLEN] = "", topic[256], group[256];
    const char *in = NULL;
    long long deadline;
    size_t members = 0;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = parse_args(argc, argv, &a)) != 0)
        return rc;
    for (size_t i = 0; i < SL_ARRAY_LEN(stage_topics); i++)
        if (strcmp(stage_topics[i].stage, a.stage) == 0)
            in = stage_topics[i].topic;
    if (!in || sl_kafka_topic_name(topic, sizeof(topic), NULL, in)) {
        fprintf(stderr,
                "snaplakectl replay: unknown stage \"%.64s\" (export, copy, crawl, share)\n",
                a.stage);
        return 2;
    }
    snprintf(group, sizeof(group), "%s%s", a.group ? "" : "snaplake-", a.group ? a.group : a.stage);
    sl_log_init("snaplakectl", SL_LOG_WARN);
    rc = 1;
    if (sl_kafka_producer_new(&p, props, NULL, err, sizeof(err)))
        goto fail;
    rk = sl_kafka_producer_handle(p);
    q = rd_kafka_queue_new(rk);
    if (describe(rk, q, group, &members, stdout, err, sizeof(err)))
        goto fail;
    if (members && !a.force) {
        fprintf(stderr,
                "snaplakectl replay: group %s has %zu live member%s: stop the stage's workers "
                "first (their positions would overwrite the reset), or give --force to wait "
                "for them to leave\n",
                group, members, members == 1 ? "" : "s");
        goto out;
    }
    if (!(want = targets(rk, topic, &a, err, sizeof(err))) ||
        !(before = list_offsets(rk, q, group, err, sizeof(err))))
        goto fail;
    deadline = sl_mono_ms() + a.wait_ms;
    for (;;) {
        int r = members ? 1 : alter(rk, q, group, want, err, sizeof(err));
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (!a.force) {
            fprintf(stderr,
                    "snaplakectl replay: group %s gained members meanwhile; nothing "
                    "changed (--force waits for them to leave)\n",
                    group);
            goto out;
        }
        if (sl_mono_ms() >= deadline) {
            fprintf(stderr,
                    "snaplakectl replay: group %s still has members after %lld ms; "
                    "nothing changed\n",
                    group, a.wait_ms);
            goto out;
        }
        if (members) {
            printf("waiting for %zu member%s of %s to leave\n", members, members == 1 ? "" : "s",
                   group);
            fflush(stdout);
        }
        pause_ms(1000);
        if (describe(rk, q, group, &members, NULL, err, sizeof(err)))
            goto fail;
    }
    printf("replay: group %s on %s reset\n", group, topic);
    for (int i = 0; i < want->cnt; i++) {
        long long was = committed_of(before, topic, want->elems[i].partition);
        if (was >= 0)
            printf("  partition %d: %lld -> %lld\n", want->elems[i].partition, was,
                   (long long)want->elems[i].offset);
        else
            printf("  partition %d: (none) -> %lld\n", want->elems[i].partition,
                   (long long)want->elems[i].offset);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "snaplakectl replay: %s\n", err);
out:
    if (before)
        rd_kafka_topic_partition_list_destroy(before);
    if (want)
        rd_kafka_topic_partition_list_destroy(want);
    if (q)
        rd_kafka_queue_destroy(q);
    sl_kafka_producer_free(p);
    return rc;
}
