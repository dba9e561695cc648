/* offsets.c - see offsets.h. */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

typedef struct part {
    char *topic;
    int32_t partition;
    int64_t *inflight; /* sorted ascending, n entries, capacity o->max_inflight */
    size_t n;
    int64_t last_added; /* highest offset added; -1 = none yet */
    int64_t max_done;   /* highest offset done; -1 = none yet */
    int64_t stored;     /* last position returned (or the first added offset); -1 = none */
} part;

struct sl_offsets {
    size_t max_inflight;
    part *parts;
    size_t nparts, cap;
};

sl_offsets *sl_offsets_new(size_t max_inflight)
{
    sl_offsets *o;

    if (max_inflight == 0 || max_inflight > 1000000)
        return NULL;
    o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->max_inflight = max_inflight;
    return o;
}

static void part_cleanup(part *p)
{
    free(p->topic);
    free(p->inflight);
}

void sl_offsets_free(sl_offsets *o)
{
    size_t i;

    if (!o)
        return;
    for (i = 0; i < o->nparts; i++)
        part_cleanup(&o->parts[i]);
    free(o->parts);
    free(o);
}

static part *find(const sl_offsets *o, const char *topic, int32_t partition)
{
    size_t i;

    if (!o || !topic)
        return NULL;
    for (i = 0; i < o->nparts; i++)
        if (o->parts[i].partition == partition && strcmp(o->parts[i].topic, topic) == 0)
            return &o->parts[i];
    return NULL;
}

static part *create(sl_offsets *o, const char *topic, int32_t partition)
{
    part *p;

    if (o->nparts == SL_OFFSETS_MAX_PARTITIONS)
        return NULL;
    if (o->nparts == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 8;
        part *np = realloc(o->parts, ncap * sizeof(*np));
        if (!np)
            return NULL;
        o->parts = np;
        o->cap = ncap;
    }
    p = &o->parts[o->nparts];
    memset(p, 0, sizeof(*p));
    p->topic = strdup(topic);
    p->inflight = malloc(o->max_inflight * sizeof(int64_t));
    if (!p->topic || !p->inflight) {
        part_cleanup(p);
        return NULL;
    }
    p->partition = partition;
    p->last_added = p->max_done = p->stored = -1;
    o->nparts++;
    return p;
}

int sl_offsets_add(sl_offsets *o, const char *topic, int32_t partition, int64_t offset, char *err,
                   size_t errlen)
{
    part *p;

    if (!o || !topic)
        return sl_seterr(err, errlen, "offsets add: no tracker or topic");
    if (offset < 0)
        return sl_seterr(err, errlen, "offsets add: negative offset %lld", (long long)offset);
    p = find(o, topic, partition);
    if (p && offset <= p->last_added)
        return sl_seterr(err, errlen, "offsets add: %s [%d] offset %lld not above last added %lld",
                         topic, (int)partition, (long long)offset, (long long)p->last_added);
    if (p && p->n == o->max_inflight)
        return sl_seterr(err, errlen, "offsets add: %s [%d] has %zu in flight (the maximum)", topic,
                         (int)partition, p->n);
    if (!p && !(p = create(o, topic, partition)))
        return sl_seterr(err, errlen, "offsets add: partition table full or out of memory");
    /* Adds are monotonic, so appending keeps the array sorted. */
    p->inflight[p->n++] = offset;
    p->last_added = offset;
    /* The consumer started here, so storing this offset would be a no-op: it is the floor
     * every later answer must exceed. */
    if (p->stored < 0)
        p->stored = offset;
    return 0;
}

int64_t sl_offsets_done(sl_offsets *o, const char *topic, int32_t partition, int64_t offset)
{
    part *p = find(o, topic, partition);
    size_t lo = 0, hi, mid;
    int64_t pos;

    if (!p || p->n == 0)
        return SL_OFFSETS_UNKNOWN;
    hi = p->n;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (p->inflight[mid] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n || p->inflight[lo] != offset)
        return SL_OFFSETS_UNKNOWN;
    memmove(&p->inflight[lo], &p->inflight[lo + 1], (p->n - lo - 1) * sizeof(int64_t));
    p->n--;
    if (offset > p->max_done)
        p->max_done = offset;
    /* Everything below the lowest in-flight offset is done (or was never a job); with nothing
     * in flight, everything up to the highest done offset is. */
    pos = p->n ? p->inflight[0] : p->max_done + 1;
    if (pos <= p->stored)
        return SL_OFFSETS_NONE;
    p->stored = pos;
    return pos;
}

size_t sl_offsets_inflight(const sl_offsets *o, const char *topic, int32_t partition)
{
    const part *p = find(o, topic, partition);
    return p ? p->n : 0;
}

void sl_offsets_forget(sl_offsets *o, const char *topic, int32_t partition)
{
    part *p = find(o, topic, partition);
    size_t i;

    if (!p)
        return;
    i = (size_t)(p - o->parts);
    part_cleanup(p);
    o->parts[i] = o->parts[o->nparts - 1];
    o->nparts--;
}
