/* kstats.c - see kstats.h (cJSON does the parsing). */
#include "kstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static int str_is(const cJSON *o, const char *member, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, member);
    return cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, want) == 0;
}

int sl_kstats_parse(const char *json, size_t len, sl_kstats *out, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *cg, *brokers, *topics, *b, *t;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sl_seterr(err, errlen, "kafka statistics: not a JSON object");
    }
    cg = cJSON_GetObjectItemCaseSensitive(root, "cgrp");
    out->group_up =
        cJSON_IsObject(cg) && str_is(cg, "state", "up") && str_is(cg, "join_state", "steady");
    brokers = cJSON_GetObjectItemCaseSensitive(root, "brokers");
    cJSON_ArrayForEach(b, (cJSON_IsObject(brokers) ? brokers : NULL))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "nodeid");
        /* Bootstrap entries have nodeid -1; the coordinator's own link is "GroupCoordinator". */
        if (cJSON_IsNumber(id) && id->valuedouble >= 0 && str_is(b, "state", "UP"))
            out->brokers_up++;
    }
    topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
    cJSON_ArrayForEach(t, (cJSON_IsObject(topics) ? topics : NULL))
    {
        const cJSON *parts = cJSON_GetObjectItemCaseSensitive(t, "partitions"), *p;
        if (!t->string)
            continue;
        cJSON_ArrayForEach(p, (cJSON_IsObject(parts) ? parts : NULL))
        {
            const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "partition");
            const cJSON *lag = cJSON_GetObjectItemCaseSensitive(p, "consumer_lag");
            sl_kstats_part *o;
            /* Partition -1 is librdkafka's unassigned queue; lag -1 means not known (not
             * fetched by this consumer). */
            if (!cJSON_IsNumber(pid) || pid->valuedouble < 0 || pid->valuedouble > INT32_MAX ||
                !cJSON_IsNumber(lag) || lag->valuedouble < 0 || lag->valuedouble > 9e18)
                continue;
            if (out->nparts >= SL_KSTATS_MAX_PARTS)
                break;
            o = &out->parts[out->nparts++];
            snprintf(o->topic, sizeof(o->topic), "%s", t->string);
            o->partition = (int32_t)pid->valuedouble;
            o->lag = (long long)lag->valuedouble;
        }
    }
    cJSON_Delete(root);
    return 0;
}
