/* test_job_phase.c - the job phase table (job_phase.h): every phase has a name, the runtime's
 * moves are allowed, impossible ones are refused, terminal phases lead nowhere. */
#include <string.h>

#include "../../worker/job_phase.h"
#include "sl_test.h"
#include "util.h"

static void test_every_phase_has_a_distinct_name(void)
{
    for (int a = 0; a < SL_JP_COUNT; a++) {
        CHECK(strcmp(sl_job_phase_name((sl_job_phase)a), "?") != 0);
        for (int b = a + 1; b < SL_JP_COUNT; b++)
            CHECK(strcmp(sl_job_phase_name((sl_job_phase)a), sl_job_phase_name((sl_job_phase)b)));
    }
    CHECK_STR(sl_job_phase_name(SL_JP_COUNT), "?");
    CHECK_STR(sl_job_phase_name((sl_job_phase)-1), "?");
    CHECK_STR(sl_job_phase_name(SL_JP_RETRY_WAIT), "retry_wait");
}

static void test_transitions_table(void)
{
    static const struct {
        sl_job_phase from, to;
        int ok;
    } cases[] = {
        /* the paths the runtime takes */
        {SL_JP_NEW, SL_JP_BEGIN, 1},
        {SL_JP_NEW, SL_JP_PUBLISH, 1}, /* bad input: a dead letter */
        {SL_JP_BEGIN, SL_JP_RUNNING, 1},
        {SL_JP_BEGIN, SL_JP_PUBLISH, 1}, /* the ledger refuses the input */
        {SL_JP_RUNNING, SL_JP_PUBLISH, 1},
        {SL_JP_RUNNING, SL_JP_RETRY_WAIT, 1},
        {SL_JP_RETRY_WAIT, SL_JP_BEGIN, 1},
        {SL_JP_PUBLISH, SL_JP_PUBLISHING, 1},
        {SL_JP_PUBLISH, SL_JP_RECORDING, 1}, /* nothing to publish */
        {SL_JP_PUBLISHING, SL_JP_RECORDING, 1},
        {SL_JP_PUBLISHING, SL_JP_PUBLISH, 1}, /* delivery failed or timed out */
        {SL_JP_RECORDING, SL_JP_COMMITTING, 1},
        {SL_JP_COMMITTING, SL_JP_DONE, 1},
        {SL_JP_RUNNING, SL_JP_DROPPED, 1},
        {SL_JP_PUBLISHING, SL_JP_DROPPED, 1},
        {SL_JP_RECORDING, SL_JP_DROPPED, 1},
        /* impossible: skipping the ledger, publishing twice, undoing an outcome */
        {SL_JP_NEW, SL_JP_RUNNING, 0},
        {SL_JP_BEGIN, SL_JP_RECORDING, 0},
        {SL_JP_RUNNING, SL_JP_RECORDING, 0},
        {SL_JP_RUNNING, SL_JP_COMMITTING, 0},
        {SL_JP_PUBLISH, SL_JP_COMMITTING, 0},
        {SL_JP_PUBLISH, SL_JP_RUNNING, 0},
        {SL_JP_RECORDING, SL_JP_PUBLISH, 0},
        {SL_JP_RECORDING, SL_JP_RUNNING, 0},
        {SL_JP_RETRY_WAIT, SL_JP_RUNNING, 0},
        {SL_JP_COMMITTING, SL_JP_DROPPED, 0},
        {SL_JP_RUNNING, SL_JP_RUNNING, 0},
        {SL_JP_NEW, SL_JP_COUNT, 0},
        {SL_JP_COUNT, SL_JP_NEW, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_job_phase_allowed(cases[i].from, cases[i].to), cases[i].ok);
}

static void test_terminal_phases_lead_nowhere(void)
{
    for (int to = 0; to < SL_JP_COUNT; to++) {
        CHECK_INT(sl_job_phase_allowed(SL_JP_DONE, (sl_job_phase)to), 0);
        CHECK_INT(sl_job_phase_allowed(SL_JP_DROPPED, (sl_job_phase)to), 0);
    }
}

/* Every phase but the first is reachable, and every phase but the terminal ones has a way out:
 * a phase added to the enum without a row in the table fails here. */
static void test_every_phase_is_reachable_and_leaves(void)
{
    for (int p = 0; p < SL_JP_COUNT; p++) {
        int in = 0, out = 0;
        for (int q = 0; q < SL_JP_COUNT; q++) {
            in += sl_job_phase_allowed((sl_job_phase)q, (sl_job_phase)p);
            out += sl_job_phase_allowed((sl_job_phase)p, (sl_job_phase)q);
        }
        CHECK(p == SL_JP_NEW || in > 0);
        CHECK(p == SL_JP_DONE || p == SL_JP_DROPPED || out > 0);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_every_phase_has_a_distinct_name),
    SL_TEST(test_transitions_table),
    SL_TEST(test_terminal_phases_lead_nowhere),
    SL_TEST(test_every_phase_is_reachable_and_leaves),
};
SL_TEST_MAIN(tests)
