/*
 * offsets.h - in-order offset commit tracking for out-of-order work (pure logic, no I/O).
 *
 * A worker runs several jobs from the same partition at once (the export worker runs up to N
 * exports that may come from one partition), and they finish in any order. Kafka's committed
 * offset means "everything before this is done", so a worker may store offset X+1 only when
 * every message <= X of that partition is done. This tracker answers which offset may be
 * stored after each completion:
 *
 *   add(p, o)   when the job for offset o starts (offsets added in increasing order per
 *               partition, as the consumer delivers them; skipped messages need no add)
 *   done(p, o)  when its output is durable -> the offset to store now: the lowest offset
 *               still in flight, or (none in flight) the highest done offset + 1; or
 *               SL_OFFSETS_NONE when that is not beyond what was already returned
 *   inflight(p) to decide when to pause a partition
 *   forget(p)   on revoke (the next owner restarts from the committed offset)
 *
 * Per partition the in-flight offsets are kept in a sorted array (adds are monotonic, so
 * add appends; done is a binary search plus a short memmove): N is small (a few exports, a
 * few hundred copies). Bounded: at most max_inflight offsets per partition and
 * SL_OFFSETS_MAX_PARTITIONS partitions. Not thread-safe: the worker's consumer thread owns it.
 */
#ifndef SL_OFFSETS_H
#define SL_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SL_OFFSETS_MAX_PARTITIONS 4096
/* done() results that are not an offset to store. */
#define SL_OFFSETS_NONE ((int64_t)-1)    /* nothing advanced */
#define SL_OFFSETS_UNKNOWN ((int64_t)-2) /* offset was not in flight (caller bug) */

typedef struct sl_offsets sl_offsets;

/* New empty tracker; max_inflight per partition (1..1,000,000). NULL when out of memory or
 * max_inflight is out of range. */
sl_offsets *sl_offsets_new(size_t max_inflight);

/* Frees the tracker. NULL is a no-op. */
void sl_offsets_free(sl_offsets *o);

/*
 * Records that the job for (topic, partition, offset) started. topic is copied. Returns 0,
 * or -1 with err when offset is negative, not above every offset added before on that
 * partition (since the last forget), the partition already has max_inflight in flight, the
 * partition table is full, or memory ran out. Nothing changes on -1.
 */
int sl_offsets_add(sl_offsets *o, const char *topic, int32_t partition, int64_t offset, char *err,
                   size_t errlen) SL_MUST_CHECK;

/*
 * Records that the job for (topic, partition, offset) is durable. Returns the offset to store
 * (>= 0, strictly greater than any returned before for that partition since the last
 * forget), SL_OFFSETS_NONE when the storable position did not advance, or SL_OFFSETS_UNKNOWN
 * when the offset was not in flight (nothing changes then).
 */
int64_t sl_offsets_done(sl_offsets *o, const char *topic, int32_t partition, int64_t offset);

/* Number of offsets in flight on (topic, partition); 0 for an unknown partition. */
size_t sl_offsets_inflight(const sl_offsets *o, const char *topic, int32_t partition);

/* Drops everything known about (topic, partition) (on revoke). Unknown is a no-op. */
void sl_offsets_forget(sl_offsets *o, const char *topic, int32_t partition);

#endif /* SL_OFFSETS_H */
