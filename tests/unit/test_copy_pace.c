/* test_copy_pace.c - the copy stage's pacing per destination prefix (worker/copy_pace.c):
 * lanes as object ranges, the round-robin pick of a lane with work and room, and each lane's
 * AIMD window (cut to half its flight on SlowDown, once per burst, probed up by successes
 * while the window is what holds the lane back, between 1 and the cap). */
#include "sl_test.h"

#include "../../worker/copy_pace.h"

/* What the copy stage does with a picked lane: hands out its next object and sends it. */
static size_t take(sl_copy_pace *p)
{
    size_t li = (size_t)-1;

    if (sl_copy_pace_pick(p, &li) != 0)
        return (size_t)-1;
    if (p->lanes[li].next < p->lanes[li].end)
        p->lanes[li].next++;
    else
        p->lanes[li].ready--;
    sl_copy_pace_start(p, li);
    return li;
}

/* Lanes of the given sizes (objects in order), each a lane of its own. */
static void lanes(sl_copy_pace *p, size_t max, const size_t *sizes, size_t n)
{
    size_t at = 0;

    sl_copy_pace_init(p, max);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(sl_copy_pace_add(p, at, at + sizes[i], 1), 0);
        at += sizes[i];
    }
}

/* Lane li sends flight requests at `at`; the first answers SlowDown at now, the rest fail
   otherwise: the lane is left empty with the window that one cut gave. Returns the cut. */
static int cut_at(sl_copy_pace *p, size_t li, size_t flight, long long at, long long now)
{
    int cut;

    for (size_t i = 0; i < flight; i++)
        sl_copy_pace_start(p, li);
    cut = sl_copy_pace_end(p, li, SL_PACE_SLOWDOWN, at, now);
    while (p->lanes[li].inflight)
        (void)sl_copy_pace_end(p, li, SL_PACE_OTHER_FAIL, at, now);
    return cut;
}

static void test_lane_of_ranges(void)
{
    static const size_t sizes[] = {3, 1, 5, 2};
    static const struct {
        size_t obj, lane;
    } cases[] = {{0, 0}, {2, 0}, {3, 1}, {4, 2}, {8, 2}, {9, 3}, {10, 3}};
    sl_copy_pace p;

    lanes(&p, 8, sizes, 4);
    CHECK_INT(p.n, 4);
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_copy_pace_lane_of(&p, cases[i].obj), cases[i].lane);
    sl_copy_pace_cleanup(&p);
}

static void test_add_follows_or_is_refused(void)
{
    sl_copy_pace p;

    sl_copy_pace_init(&p, 4);
    CHECK_INT(sl_copy_pace_add(&p, 1, 3, 1), -1); /* a gap before the first range */
    CHECK_INT(sl_copy_pace_add(&p, 0, 2, 1), 0);
    CHECK_INT(sl_copy_pace_add(&p, 2, 5, 0), 0); /* the same prefix goes on: one lane */
    CHECK_INT(p.n, 1);
    CHECK_INT(p.lanes[0].end, 5);
    CHECK_INT(sl_copy_pace_add(&p, 4, 6, 1), -1); /* overlaps */
    CHECK_INT(sl_copy_pace_add(&p, 5, 4, 1), -1); /* backwards */
    CHECK_INT(sl_copy_pace_add(&p, 5, 6, 1), 0);
    CHECK_INT(p.n, 2);
    CHECK_INT(sl_copy_pace_window(&p, 1), 4); /* starts at the cap */
    sl_copy_pace_cleanup(&p);
    sl_copy_pace_init(&p, 0); /* a zero cap means one at a time */
    CHECK_INT(p.max, 1);
    sl_copy_pace_cleanup(&p);
}

/* Round robin across lanes, and a lane whose objects ran out leaves the rotation. */
static void test_pick_round_robin(void)
{
    static const size_t sizes[] = {3, 1, 2};
    static const size_t want[] = {0, 1, 2, 0, 2, 0};
    sl_copy_pace p;

    lanes(&p, 64, sizes, 3);
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++)
        CHECK_INT(take(&p), want[i]);
    CHECK_INT(take(&p), (size_t)-1); /* every object handed out */
    CHECK_INT(p.nact, 0);
    sl_copy_pace_cleanup(&p);
}

/* A lane that ran out of objects comes back when a multipart step of its own waits. */
static void test_ready_brings_a_lane_back(void)
{
    static const size_t sizes[] = {1, 1};
    sl_copy_pace p;
    size_t li;

    lanes(&p, 8, sizes, 2);
    CHECK_INT(take(&p), 0);
    CHECK_INT(take(&p), 1);
    CHECK_INT(sl_copy_pace_pick(&p, &li), -1);
    sl_copy_pace_ready(&p, 0, +1);
    CHECK_INT(take(&p), 0);
    CHECK_INT(sl_copy_pace_pick(&p, &li), -1);
    sl_copy_pace_ready(&p, 1, +1);
    sl_copy_pace_ready(&p, 1, -1); /* handed out some other way: nothing left */
    CHECK_INT(sl_copy_pace_pick(&p, &li), -1);
    sl_copy_pace_cleanup(&p);
}

/*
 * Filling a cap of C over L lanes: with no throttling the lanes share it evenly (within 1);
 * with one lane cut to a small window the others take the slots it cannot use.
 */
static void test_cap_spreads_over_lanes(void)
{
    static const struct {
        size_t cap, nlanes, cut_to; /* cut_to 0: no throttling; else lane 0's flight at the cut */
        size_t want0, want_min_other, want_max_other;
    } cases[] = {
        {64, 4, 0, 16, 16, 16},
        {64, 3, 0, 22, 21, 21},
        {64, 1, 0, 64, 0, 64},
        {8, 16, 0, 1, 0, 1},
        /* Lane 0 had 8 in flight when SlowDown came: window 4, the other 60 to lanes 1..3. */
        {64, 4, 8, 4, 20, 20},
        {64, 2, 2, 1, 63, 63},
    };

    for (size_t c = 0; c < SL_ARRAY_LEN(cases); c++) {
        size_t sizes[16], total = 0, lo = (size_t)-1, hi = 0;
        sl_copy_pace p;

        for (size_t i = 0; i < cases[c].nlanes; i++)
            sizes[i] = 1000;
        lanes(&p, cases[c].cap, sizes, cases[c].nlanes);
        if (cases[c].cut_to)
            CHECK_INT(cut_at(&p, 0, cases[c].cut_to, 10, 20), 1);
        while (total < cases[c].cap && take(&p) != (size_t)-1)
            total++;
        CHECK_INT(total, cases[c].cap);
        CHECK_INT(p.lanes[0].inflight, cases[c].want0);
        for (size_t i = 1; i < cases[c].nlanes; i++) {
            lo = p.lanes[i].inflight < lo ? p.lanes[i].inflight : lo;
            hi = p.lanes[i].inflight > hi ? p.lanes[i].inflight : hi;
        }
        if (cases[c].nlanes > 1) {
            CHECK_INT(lo, cases[c].want_min_other);
            CHECK_INT(hi, cases[c].want_max_other);
        }
        sl_copy_pace_cleanup(&p);
    }
}

/*
 * The AIMD rules, one event at a time on one lane with a cap of 64: 's' sends a request at
 * `at`, 'k' an answer OK, 'd' a SlowDown for a request sent at `at`, 'f' another failure.
 * Each row checks whether the answer cut the window and the window after it.
 */
static void test_window_rules(void)
{
    static const struct {
        char ev;
        int n; /* times */
        long long at, now;
        int cut;
        size_t window, inflight;
    } steps[] = {
        {'s', 16, 0, 0, 0, 64, 16},
        /* 16 in flight, window 64: the cut halves the flight, not the unused window. */
        {'d', 1, 0, 100, 1, 8, 15},
        /* The rest of the same burst (sent before the cut) does not cut again. */
        {'d', 7, 0, 110, 0, 8, 8},
        /* Other failures say nothing of the rate. */
        {'f', 1, 0, 120, 0, 8, 7},
        /* Below the window (7 of 8): successes do not grow it. */
        {'k', 3, 0, 130, 0, 8, 4},
        /* Sent after the cut and throttled again: a new cut (flight 4 -> 2). */
        {'d', 1, 150, 200, 1, 2, 3},
        {'d', 3, 150, 210, 0, 2, 0},
        /* Using its window of 2 and every answer OK: +1/window each (2.5, 2.9, 3.24, 3.57),
           about one more request per round. */
        {'s', 2, 300, 300, 0, 2, 2},
        {'k', 2, 300, 310, 0, 2, 0},
        {'s', 2, 320, 320, 0, 2, 2},
        {'k', 2, 320, 330, 0, 3, 0},
        /* A SlowDown with one request in flight: the floor is 1. */
        {'s', 1, 400, 400, 0, 3, 1},
        {'d', 1, 400, 410, 1, 1, 0},
        {'s', 1, 420, 420, 0, 1, 1},
        {'d', 1, 420, 430, 1, 1, 0},
    };
    static const size_t one[] = {1000};
    sl_copy_pace p;

    lanes(&p, 64, one, 1);
    for (size_t i = 0; i < SL_ARRAY_LEN(steps); i++) {
        int cut = 0;
        for (int k = 0; k < steps[i].n; k++) {
            if (steps[i].ev == 's') {
                sl_copy_pace_start(&p, 0);
                continue;
            }
            cut |= sl_copy_pace_end(&p, 0,
                                    steps[i].ev == 'k'   ? SL_PACE_OK
                                    : steps[i].ev == 'd' ? SL_PACE_SLOWDOWN
                                                         : SL_PACE_OTHER_FAIL,
                                    steps[i].at, steps[i].now);
        }
        CHECK_INT(cut, steps[i].cut);
        CHECK_INT(sl_copy_pace_window(&p, 0), steps[i].window);
        CHECK_INT(p.lanes[0].inflight, steps[i].inflight);
    }
    CHECK_INT(p.lanes[0].slowdowns, 14);
    CHECK_INT(p.lanes[0].cuts, 4);
    sl_copy_pace_cleanup(&p);
}

/* Probing up once the throttling stops: a lane cut to w and kept busy at its window grows
   about one request per round and stops at the cap. */
static void test_probe_up_to_the_cap(void)
{
    static const struct {
        size_t cap, flight_at_cut, rounds, want;
    } cases[] = {
        {64, 16, 0, 8},    {64, 16, 3, 10}, {64, 16, 10, 17},
        {64, 16, 200, 64}, {8, 8, 100, 8},  {64, 2, 5, 5},
    };

    for (size_t c = 0; c < SL_ARRAY_LEN(cases); c++) {
        static const size_t one[] = {1000000};
        sl_copy_pace p;
        long long t = 0;

        lanes(&p, cases[c].cap, one, 1);
        CHECK_INT(cut_at(&p, 0, cases[c].flight_at_cut, t, t + 1), 1);
        for (size_t r = 0; r < cases[c].rounds; r++) {
            size_t w = sl_copy_pace_window(&p, 0);
            t += 10;
            for (size_t i = 0; i < w; i++)
                sl_copy_pace_start(&p, 0);
            for (size_t i = 0; i < w; i++)
                (void)sl_copy_pace_end(&p, 0, SL_PACE_OK, t, t + 5);
        }
        CHECK_INT(sl_copy_pace_window(&p, 0), cases[c].want);
        sl_copy_pace_cleanup(&p);
    }
}

static void test_room(void)
{
    static const size_t one[] = {10};
    sl_copy_pace p;

    lanes(&p, 2, one, 1);
    CHECK_INT(sl_copy_pace_room(&p, 0), 1);
    sl_copy_pace_start(&p, 0);
    CHECK_INT(sl_copy_pace_room(&p, 0), 1);
    sl_copy_pace_start(&p, 0);
    CHECK_INT(sl_copy_pace_room(&p, 0), 0);
    (void)sl_copy_pace_end(&p, 0, SL_PACE_OK, 0, 1);
    CHECK_INT(sl_copy_pace_room(&p, 0), 1);
    sl_copy_pace_cleanup(&p);
}

static const sl_test tests[] = {
    SL_TEST(test_lane_of_ranges),         SL_TEST(test_add_follows_or_is_refused),
    SL_TEST(test_pick_round_robin),       SL_TEST(test_ready_brings_a_lane_back),
    SL_TEST(test_cap_spreads_over_lanes), SL_TEST(test_window_rules),
    SL_TEST(test_probe_up_to_the_cap),    SL_TEST(test_room),
};
SL_TEST_MAIN(tests)
