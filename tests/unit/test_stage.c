/* test_stage.c - the stages' shared failure helpers (sl_job_fail, sl_job_fail_aws). */
#include <string.h>

#include "../../worker/stage.h"
#include "sl_test.h"

static void test_job_fail_formats_and_keeps_request_id(void)
{
    sl_job job;

    memset(&job, 0, sizeof(job));
    snprintf(job.aws_request_id, sizeof(job.aws_request_id), "req-1");
    CHECK_INT(sl_job_fail(&job, "BadInput", "key '%s' at %d", "a/b", 7), SL_STEP_FAILED);
    CHECK_STR(job.error_code, "BadInput");
    CHECK_STR(job.error_message, "key 'a/b' at 7");
    CHECK_STR(job.aws_request_id, "req-1");
}

static void test_job_fail_truncates(void)
{
    char big[4096];
    sl_job job;

    memset(&job, 0, sizeof(job));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(sl_job_fail(&job, big, "%s", big), SL_STEP_FAILED);
    CHECK_INT(strlen(job.error_code), sizeof(job.error_code) - 1);
    CHECK_INT(strlen(job.error_message), sizeof(job.error_message) - 1);
}

static void test_job_fail_aws_table(void)
{
    static const struct {
        const char *what, *code, *message;
        int transient;
        sl_step_result want;
        const char *want_code, *want_message;
    } cases[] = {
        {"StartExportTask", "InvalidParameterValue", "bad role", 0, SL_STEP_FAILED,
         "InvalidParameterValue", "StartExportTask: bad role"},
        {"DescribeExportTasks", "ThrottlingException", "slow down", 1, SL_STEP_RETRY,
         "ThrottlingException", "DescribeExportTasks: slow down"},
        {NULL, "EntityNotFoundException", "no crawler", 0, SL_STEP_FAILED,
         "EntityNotFoundException", "no crawler"},
        {NULL, "", "odd", 1, SL_STEP_RETRY, "AwsError", "odd"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_error e;
        sl_job job;

        memset(&e, 0, sizeof(e));
        memset(&job, 0, sizeof(job));
        snprintf(e.code, sizeof(e.code), "%s", cases[i].code);
        snprintf(e.message, sizeof(e.message), "%s", cases[i].message);
        snprintf(e.request_id, sizeof(e.request_id), "rid-%zu", i);
        e.transient = cases[i].transient;
        CHECK_INT(sl_job_fail_aws(&job, cases[i].what, &e), cases[i].want);
        CHECK_STR(job.error_code, cases[i].want_code);
        CHECK_STR(job.error_message, cases[i].want_message);
        CHECK_STR(job.aws_request_id, e.request_id);
    }
}

/*
 * The poll retry budget: a sequence of outcomes (1 = transient failure, 0 = success) and the
 * index at which it must give up (-1 = never). Failures interleaved with progress never add
 * up; only max_attempts in a row do.
 */
static void test_retry_note_counts_consecutive_failures_only(void)
{
    static const struct {
        long long max;
        const char *seq; /* '1' failure, '0' success */
        int give_up_at;
    } cases[] = {
        {5, "11110111101111011110111101111", -1}, /* 24 failures, never 5 in a row */
        {5, "1010101010101010101010101010", -1},
        {5, "11111", 4},
        {5, "0111101111100", 10},
        {1, "01", 1},
        {2, "1010110", 5},
        {3, "", -1},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int consecutive = 0, at = -1;
        for (int k = 0; cases[i].seq[k]; k++) {
            int failed = cases[i].seq[k] == '1';
            if (sl_stage_retry_note(&consecutive, failed, cases[i].max)) {
                at = k;
                break;
            }
            if (!failed)
                CHECK_INT(consecutive, 0);
        }
        CHECK_INT(at, cases[i].give_up_at);
    }
}

static void test_retry_note_reset_and_backoff_number(void)
{
    int consecutive = 0;

    CHECK_INT(sl_stage_retry_note(&consecutive, 1, 5), 0);
    CHECK_INT(consecutive, 1);
    CHECK_INT(sl_stage_retry_note(&consecutive, 1, 5), 0);
    CHECK_INT(consecutive, 2); /* the retry number the backoff doubles by */
    CHECK_INT(sl_stage_retry_note(&consecutive, 0, 5), 0);
    CHECK_INT(consecutive, 0);
}

static const sl_test tests[] = {
    SL_TEST(test_retry_note_counts_consecutive_failures_only),
    SL_TEST(test_retry_note_reset_and_backoff_number),
    SL_TEST(test_job_fail_formats_and_keeps_request_id),
    SL_TEST(test_job_fail_truncates),
    SL_TEST(test_job_fail_aws_table),
};

SL_TEST_MAIN(tests)
