/* test_outcome_msg.c - the pure parts of the worker's outcome path (outcome_msg.h): what a
 * finished job publishes, the failure and dead-letter messages, cutting a dead letter until it
 * fits, and which ledger errors are the server refusing the data. */
#include <stdlib.h>
#include <string.h>

#include "../../worker/outcome_msg.h"
#include "sl_test.h"

static void test_pick_table(void)
{
    static const struct {
        sl_job_outcome o;
        int has_out;
        sl_msg_type out_type;
        int reporter;
        sl_outcome_pub want;
    } cases[] = {
        {SL_JOB_SUCCEEDED, 1, SL_MSG_EXPORTED, 0, SL_PUB_OUTPUT},
        {SL_JOB_SUCCEEDED, 1, SL_MSG_NONE, 0, SL_PUB_NOTHING},   /* e.g. a superseded copy */
        {SL_JOB_SUCCEEDED, 0, SL_MSG_SHARED, 0, SL_PUB_NOTHING}, /* last stage */
        {SL_JOB_SUCCEEDED, 0, SL_MSG_NONE, 1, SL_PUB_NOTHING},
        {SL_JOB_FAILED, 1, SL_MSG_EXPORTED, 0, SL_PUB_FAILURE},
        {SL_JOB_FAILED, 0, SL_MSG_NONE, 0, SL_PUB_FAILURE},
        {SL_JOB_FAILED, 0, SL_MSG_NONE, 1, SL_PUB_NOTHING}, /* a reporter's failure */
        {SL_JOB_DEAD_LETTER, 1, SL_MSG_NONE, 0, SL_PUB_DEAD_LETTER},
        {SL_JOB_DEAD_LETTER, 0, SL_MSG_NONE, 1, SL_PUB_DEAD_LETTER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(
            sl_outcome_pick(cases[i].o, cases[i].has_out, cases[i].out_type, cases[i].reporter),
            cases[i].want);
}

static void job_init(sl_job *job)
{
    memset(job, 0, sizeof(*job));
    sl_msg_init(&job->in);
    sl_msg_init(&job->out);
    job->in.type = SL_MSG_SNAPSHOT;
    job->in.run_id = strdup("run-1");
    job->in.cluster = strdup("appdb");
    job->in.export_task_id = strdup("task-from-input");
    job->attempt = 3;
}

static void test_failure_msg_fields(void)
{
    sl_job job;
    sl_msg f;
    char err[256], *text = NULL;

    job_init(&job);
    snprintf(job.error_code, sizeof(job.error_code), "ExportFailed");
    CHECK_INT(sl_outcome_failure_msg(&job, "export", "{\"raw\":1}", 1700000000000LL, &f, err,
                                     sizeof(err)),
              0);
    CHECK_INT(f.type, SL_MSG_FAILURE);
    CHECK_STR(f.run_id, "run-1");
    CHECK_STR(f.cluster, "appdb");
    CHECK_STR(f.stage, "export");
    CHECK_STR(f.error_code, "ExportFailed");
    CHECK_STR(f.error_message, "ExportFailed"); /* no message: the code stands in */
    CHECK(f.aws_request_id == NULL);
    CHECK_STR(f.export_task_id, "task-from-input"); /* the input's, the job knew none */
    CHECK_INT(f.attempt, 3);
    CHECK_STR(f.failed_at, "2023-11-14T22:13:20.000Z");
    CHECK_STR(f.input_json, "{\"raw\":1}");
    CHECK_INT(sl_msg_encode(&f, &text, NULL, err, sizeof(err)), 0);
    free(text);
    sl_msg_cleanup(&f);

    /* The job's own texts win over the input's. */
    snprintf(job.error_message, sizeof(job.error_message), "it broke");
    snprintf(job.aws_request_id, sizeof(job.aws_request_id), "req-9");
    snprintf(job.export_task_id, sizeof(job.export_task_id), "task-own");
    CHECK_INT(sl_outcome_failure_msg(&job, "export", "{}", 1700000000000LL, &f, err, sizeof(err)),
              0);
    CHECK_STR(f.error_message, "it broke");
    CHECK_STR(f.aws_request_id, "req-9");
    CHECK_STR(f.export_task_id, "task-own");
    sl_msg_cleanup(&f);
    sl_msg_cleanup(&job.in);
}

static void test_dead_letter_small_input_is_copied(void)
{
    static const unsigned char key[] = {'k', 0, 'y'};
    sl_dead_letter_src s = {"snapshots", 2, 41, key, sizeof(key), "not json", 8, "undecodable"};
    sl_msg d;
    char err[256];

    CHECK_INT(sl_outcome_dead_letter_msg(&s, &d, err, sizeof(err)), 0);
    CHECK_INT(d.type, SL_MSG_DEAD_LETTER);
    CHECK_STR(d.reason, "undecodable");
    CHECK_STR(d.topic, "snapshots");
    CHECK_INT(d.partition, 2);
    CHECK_INT(d.offset, 41);
    CHECK_INT(d.key_len, 3);
    CHECK(memcmp(d.key, key, 3) == 0);
    CHECK_INT(d.payload_len, 8);
    CHECK(memcmp(d.payload, "not json", 8) == 0);
    sl_msg_cleanup(&d);

    s.key = NULL;
    s.keylen = 0;
    CHECK_INT(sl_outcome_dead_letter_msg(&s, &d, err, sizeof(err)), 0);
    CHECK(d.key == NULL);
    sl_msg_cleanup(&d);
}

/* n bytes of c, NUL-terminated (the caller frees). */
static char *filled(size_t n, int c)
{
    char *raw = malloc(n + 1);

    if (!raw)
        abort(); /* out of memory in a test: nothing to check */
    memset(raw, c, n);
    raw[n] = '\0';
    return raw;
}

static void test_dead_letter_oversize_input_is_cut_and_says_so(void)
{
    size_t n = SL_MSG_MAX_BYTES + 10, cap = SL_MSG_MAX_BYTES / 2;
    char *raw = filled(n, 'a'), *text = NULL;
    sl_dead_letter_src s = {"exports", 0, 7, NULL, 0, raw, n, "too large"};
    sl_msg d;
    char err[256];
    size_t len = 0;

    CHECK_INT(sl_outcome_dead_letter_msg(&s, &d, err, sizeof(err)), 0);
    CHECK_INT(d.payload_len, cap);
    CHECK(strstr(d.reason, "too large (key and payload cut to their first") == d.reason);
    CHECK_INT(sl_outcome_encode(&d, 1, &text, &len, err, sizeof(err)), 0);
    CHECK(len <= SL_MSG_MAX_BYTES);
    free(text);
    sl_msg_cleanup(&d);
    free(raw);
}

/* Control characters grow six-fold in JSON: the dead letter is halved until it fits. */
static void test_encode_cuts_a_dead_letter_until_it_fits(void)
{
    size_t n = SL_MSG_MAX_BYTES / 2;
    char *raw = filled(n, 0x01), *text = NULL;
    sl_dead_letter_src s = {"exports", 0, 7, NULL, 0, raw, n, "undecodable"};
    sl_msg d;
    char err[256];
    size_t len = 0;

    CHECK_INT(sl_outcome_dead_letter_msg(&s, &d, err, sizeof(err)), 0);
    CHECK_INT(sl_outcome_encode(&d, 1, &text, &len, err, sizeof(err)), 0);
    CHECK(len <= SL_MSG_MAX_BYTES);
    CHECK(d.payload_len < n);
    CHECK(strstr(d.reason, "(payload cut to fit the dead-letter topic)") != NULL);
    free(text);
    text = NULL;
    sl_msg_cleanup(&d);

    /* Not a dead letter: nothing is cut, the encode error is the caller's. */
    CHECK_INT(sl_outcome_dead_letter_msg(&s, &d, err, sizeof(err)), 0);
    CHECK_INT(sl_outcome_encode(&d, 0, &text, &len, err, sizeof(err)), -1);
    CHECK_INT(d.payload_len, n);
    CHECK(text == NULL);
    sl_msg_cleanup(&d);
    free(raw);
}

static void test_ledger_refused_data_table(void)
{
    static const struct {
        const char *err;
        int want;
    } cases[] = {
        {"insert: invalid input syntax for type date (SQLSTATE 22007)", 1},
        {"insert: invalid byte sequence for encoding \"UTF8\" (SQLSTATE 22021)", 1},
        {"insert: duplicate key (SQLSTATE 23505)", 1},
        {"insert: index row size exceeds maximum (SQLSTATE 54000)", 1},
        {"insert: could not serialize access (SQLSTATE 40001)", 0},
        {"insert: terminating connection (SQLSTATE 57P01)", 0},
        {"connection to server lost", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(sl_outcome_ledger_refused_data(cases[i].err), cases[i].want);
}

static const sl_test tests[] = {
    SL_TEST(test_pick_table),
    SL_TEST(test_failure_msg_fields),
    SL_TEST(test_dead_letter_small_input_is_copied),
    SL_TEST(test_dead_letter_oversize_input_is_cut_and_says_so),
    SL_TEST(test_encode_cuts_a_dead_letter_until_it_fits),
    SL_TEST(test_ledger_refused_data_table),
};
SL_TEST_MAIN(tests)
