/* test_export_admit.c - the export stage's slot admission rule (sl_export_admit): exports held
 * by snaplake's live slots plus foreign ones never pass EXPORT_TASK_LIMIT, and a new slot's
 * number stays below limit - foreign. */
#include "sl_test.h"

#include "../../worker/export_admit.h"

static void test_admit_table(void)
{
    static const struct {
        long long limit, live, foreign, want;
    } cases[] = {
        /* An empty account: every slot number may be tried. */
        {5, 0, 0, 5},
        {1, 0, 0, 1},
        /* Our own exports only: one more while below the limit. */
        {5, 4, 0, 5},
        {5, 5, 0, 0},
        /* Foreign exports shrink the usable slot numbers and count against the limit. */
        {5, 0, 2, 3},
        {5, 2, 2, 3},
        {5, 3, 2, 0},
        {5, 0, 5, 0},
        {5, 0, 7, 0},
        /* The case the slot-number bound alone let through: slot 1 held (live 1), slot 0 free,
           limit 2, one foreign export: 1 + 1 >= 2, so no new slot. */
        {2, 1, 1, 0},
        /* A limit of 1 with one foreign export: wait. */
        {1, 0, 1, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(sl_export_admit(cases[i].limit, cases[i].live, cases[i].foreign), cases[i].want);
}

/* Whatever the inputs, a granted slot keeps live + foreign + 1 within the limit. */
static void test_admit_never_over_limit(void)
{
    for (long long limit = 1; limit <= 8; limit++)
        for (long long live = 0; live <= 10; live++)
            for (long long foreign = 0; foreign <= 10; foreign++) {
                long long n = sl_export_admit(limit, live, foreign);
                CHECK(n >= 0);
                if (n > 0) {
                    CHECK(live + foreign + 1 <= limit);
                    CHECK(n == limit - foreign);
                }
            }
}

static const sl_test tests[] = {
    SL_TEST(test_admit_table),
    SL_TEST(test_admit_never_over_limit),
};
SL_TEST_MAIN(tests)
