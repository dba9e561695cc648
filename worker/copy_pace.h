/*
 * copy_pace.h - the copy stage's pacing of requests across destination prefixes. Pure: no
 * I/O, no clock of its own (the caller passes monotonic ms); unit-tested in
 * tests/unit/test_copy_pace.c.
 *
 * S3 scales by key prefix: about 3,500 PUT/COPY/POST/DELETE per second per prefix, and a
 * 503 SlowDown above that (S3 User Guide, "Best practices design patterns: optimizing Amazon
 * S3 performance"). A copy writes into one `<lake>/<cluster>/<db>/<table>/date=<d>/` folder
 * per table, so the throttling is per table, and so is the pacing:
 *
 *   lane     one per destination prefix: a range [first, end) of the job's objects (the
 *            listing is sorted by source key and a table's keys are contiguous, so a table's
 *            objects are one range), with the units of that range waiting outside it (the
 *            parts and completions of its multipart copies, `ready`), the requests it has in
 *            flight, and an AIMD window.
 *   pick     round robin over the lanes that have work and room, so the requests in flight
 *            are spread over every table's prefix instead of crowding the first table's.
 *
 * The window of a lane (AIMD, as the AWS SDKs' adaptive retry mode):
 *   - it starts at the cap (the job's COPY_CONCURRENCY, which the scheduler's queue enforces
 *     over all lanes together). With no throttling every lane may use the whole cap, so the
 *     job runs at the cap whatever the number of tables. Starting lower (slow start) was not
 *     chosen: a lane at the default cap of 64 with a CopyObject taking ~20 ms or more asks
 *     ~3,200/s at most, under S3's per-prefix ceiling, so a lower start would only slow every
 *     job's first rounds; a SlowDown brings the window down within one round trip anyway.
 *     Probing above COPY_CONCURRENCY is not done: the cap is also what the queue allocates
 *     (slots, connections) and its default is being measured separately.
 *   - a SlowDown cuts it to half of what the lane had in flight (TCP's FlightSize / 2, RFC
 *     5681: halving a window the lane was not using would not slow it down), never below 1;
 *     at most once per round trip: a SlowDown for a request sent before the last cut is the
 *     same burst (it was in flight when the cut was decided) and does not cut again.
 *   - each success adds 1/window (one more request per round of answers), up to the cap,
 *     and only while the lane is using its window (a lane held back by the cap or by its
 *     own lack of work has not shown that a larger window is fine). This is the probe upward
 *     once the throttling stops.
 * Under throttling the throttled lane holds at most its window and the cap's remaining slots
 * go to the other lanes, so they are not slowed to the throttled lane's rate.
 *
 * Ownership: sl_copy_pace is embedded (init / cleanup); it owns its lane arrays.
 */
#ifndef SL_COPY_PACE_H
#define SL_COPY_PACE_H

#include <stddef.h>

#include "util.h"

typedef struct sl_copy_lane {
    size_t first, end;   /* the lane's objects: [first, end) */
    size_t next;         /* the next object not handed out yet (first <= next <= end) */
    size_t ready;        /* units of the lane waiting outside the range (multipart steps) */
    size_t inflight;     /* requests of the lane on the wire */
    double window;       /* requests it may have in flight: floor, at least 1 */
    long long last_cut;  /* ms of the last cut, -1 = never */
    long long slowdowns; /* SlowDown answers seen */
    long long cuts;      /* window cuts made */
    int active;          /* on the pick list */
    int limited;         /* its latest request filled the window (successes may grow it) */
} sl_copy_lane;

typedef struct sl_copy_pace {
    sl_copy_lane *lanes; /* in object order: lanes[i].end == lanes[i + 1].first */
    size_t n, cap;
    size_t *act; /* lanes that may have work (pick order); a lane with none is dropped lazily */
    size_t nact, capact;
    size_t rr;  /* position in act of the next pick */
    size_t max; /* a window's ceiling (the job's cap), >= 1 */
} sl_copy_pace;

/* The outcome of one request, for sl_copy_pace_end. */
typedef enum sl_copy_pace_outcome {
    SL_PACE_OK,        /* answered 2xx */
    SL_PACE_SLOWDOWN,  /* 503 SlowDown: the prefix is over its rate */
    SL_PACE_OTHER_FAIL /* any other failure: says nothing of the prefix's rate */
} sl_copy_pace_outcome;

void sl_copy_pace_init(sl_copy_pace *p, size_t max);
void sl_copy_pace_cleanup(sl_copy_pace *p);

/*
 * Objects [first, end) join the pacer: a new lane when new_lane, else the last lane grows
 * (the caller's objects of the same prefix that follow it). Ranges come in object order
 * without gaps: first is the previous range's end (0 for the first). 0, or -1 when memory
 * ran out or the range does not follow (nothing changed).
 */
int sl_copy_pace_add(sl_copy_pace *p, size_t first, size_t end, int new_lane) SL_MUST_CHECK;

/* The lane of object obj (obj < the last lane's end). */
size_t sl_copy_pace_lane_of(const sl_copy_pace *p, size_t obj);

/* The next lane, round robin, that has work (next < end or ready > 0) and room (inflight
   below its window): 0 with *lane, or -1 when none has both. */
int sl_copy_pace_pick(sl_copy_pace *p, size_t *lane);

/* 1 when lane may start one more request now (a retry of its own, say), else 0. */
int sl_copy_pace_room(const sl_copy_pace *p, size_t lane);

/* A lane's count of units waiting outside its range went up (+1) or down (-1). */
void sl_copy_pace_ready(sl_copy_pace *p, size_t lane, int delta);

/* A request of lane went on the wire / came back with outcome. started_ms is when that
   request was sent, now_ms the clock now (monotonic ms). Returns 1 when the window was cut
   by this answer, else 0. A lane counts as using its window when its latest request filled
   it; only then do successes grow the window. */
void sl_copy_pace_start(sl_copy_pace *p, size_t lane);
int sl_copy_pace_end(sl_copy_pace *p, size_t lane, sl_copy_pace_outcome outcome,
                     long long started_ms, long long now_ms);

/* The lane's window now (requests it may have in flight), >= 1. */
size_t sl_copy_pace_window(const sl_copy_pace *p, size_t lane);

#endif /* SL_COPY_PACE_H */
