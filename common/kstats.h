/*
 * kstats.h - what the worker reads from librdkafka's statistics JSON (statistics.interval.ms;
 * STATISTICS.md of librdkafka): whether the consumer group is joined, how many brokers are up,
 * and the consumer lag of each partition this consumer fetches. Pure (fuzzed: tests/fuzz/
 * fuzz_kstats.c): the JSON is outside input.
 */
#ifndef SL_KSTATS_H
#define SL_KSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SL_KSTATS_MAX_PARTS 256

typedef struct sl_kstats_part {
    char topic[128];
    int32_t partition;
    long long lag; /* consumer_lag: high watermark - committed/fetch position */
} sl_kstats_part;

typedef struct sl_kstats {
    int group_up;   /* cgrp.state == "up" and cgrp.join_state == "steady" */
    int brokers_up; /* brokers (not the bootstrap placeholders) in state "UP" */
    sl_kstats_part parts[SL_KSTATS_MAX_PARTS]; /* lag known (>= 0), in the JSON's order */
    size_t nparts; /* partitions past SL_KSTATS_MAX_PARTS are left out */
} sl_kstats;

/*
 * Parses json[len] (need not be NUL-terminated) into *out (overwritten). Returns 0, or -1 with
 * err when it is not a JSON object. Missing members read as "not up" / no partitions.
 */
int sl_kstats_parse(const char *json, size_t len, sl_kstats *out, char *err,
                    size_t errlen) SL_MUST_CHECK;

#endif /* SL_KSTATS_H */
