/* test_sqs.c - SQS request bodies, ReceiveMessage / batch answers and the queue URL check. */
#include "sl_test.h"

#include <string.h>

#include "sqs.h"

static void test_receive_request(void)
{
    cJSON *b =
        sl_sqs_receive_request("https://sqs.us-east-1.amazonaws.com/123456789012/q", 10, 5, 60);
    char *s;

    CHECK(b != NULL);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],"
                 "\"QueueUrl\":\"https://sqs.us-east-1.amazonaws.com/123456789012/q\","
                 "\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":5,\"VisibilityTimeout\":60}");
    cJSON_free(s);
    cJSON_Delete(b);
    b = sl_sqs_receive_request("u", 1, 0, -1); /* queue default visibility: left out */
    CHECK(b && !cJSON_GetObjectItem(b, "VisibilityTimeout"));
    cJSON_Delete(b);
    CHECK(sl_sqs_receive_request("u", 0, 5, 60) == NULL);
    CHECK(sl_sqs_receive_request("u", 11, 5, 60) == NULL);
    CHECK(sl_sqs_receive_request("u", 10, 21, 60) == NULL);
    CHECK(sl_sqs_receive_request("u", 10, -1, 60) == NULL);
    CHECK(sl_sqs_receive_request("u", 10, 5, 43201) == NULL);
    CHECK(sl_sqs_receive_request(NULL, 10, 5, 60) == NULL);
}

typedef struct receive_case {
    const char *name;
    const char *json;
    int rc;
    size_t n;
    const char *first_body;
    long long first_count;
} receive_case;

static const receive_case receive_cases[] = {
    {"empty poll", "{}", 0, 0, NULL, 0},
    {"null list", "{\"Messages\":null}", 0, 0, NULL, 0},
    {"one message",
     "{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"rh1\",\"Body\":\"{\\\"a\\\":1}\","
     "\"Attributes\":{\"ApproximateReceiveCount\":\"3\"}}]}",
     0, 1, "{\"a\":1}", 3},
    {"two, no attributes",
     "{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"rh1\",\"Body\":\"x\"},"
     "{\"MessageId\":\"m2\",\"ReceiptHandle\":\"rh2\",\"Body\":\"\"}]}",
     0, 2, "x", 0},
    {"bad receive count is ignored",
     "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\","
     "\"Attributes\":{\"ApproximateReceiveCount\":\"3x\"}}]}",
     0, 1, "b", 0},
    {"not an object", "[]", -1, 0, NULL, 0},
    {"Messages not an array", "{\"Messages\":{}}", -1, 0, NULL, 0},
    {"no receipt handle", "{\"Messages\":[{\"MessageId\":\"m\",\"Body\":\"b\"}]}", -1, 0, NULL, 0},
    {"empty receipt handle",
     "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"\",\"Body\":\"b\"}]}", -1, 0, NULL,
     0},
    {"body not a string",
     "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":{}}]}", -1, 0, NULL, 0},
    {"second message bad after a good one",
     "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},1]}", -1, 0, NULL,
     0},
    {"eleven messages",
     "{\"Messages\":[" /* 11 copies */
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"},"
     "{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\"}]}",
     -1, 0, NULL, 0},
};

static void test_parse_receive_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(receive_cases); i++) {
        const receive_case *c = &receive_cases[i];
        cJSON *j = cJSON_Parse(c->json);
        sl_sqs_messages ms;
        char err[SL_ERRLEN] = "";
        int rc;

        CHECK(j != NULL);
        rc = sl_sqs_parse_receive(j, &ms, err, sizeof(err));
        if (rc != c->rc)
            fprintf(stderr, "  case \"%s\": rc %d (%s)\n", c->name, rc, err);
        CHECK_INT(rc, c->rc);
        CHECK_INT((long long)ms.n, (long long)c->n);
        if (rc == 0 && c->n) {
            CHECK_STR(ms.items[0].body, c->first_body);
            CHECK_INT((long long)ms.items[0].body_len, (long long)strlen(c->first_body));
            CHECK_INT(ms.items[0].receive_count, c->first_count);
            CHECK(ms.items[0].receipt_handle[0] != '\0');
        }
        if (rc)
            CHECK(err[0] != '\0');
        sl_sqs_messages_cleanup(&ms);
        cJSON_Delete(j);
    }
}

static void test_batch_request(void)
{
    const char *h[] = {"rh-a", "rh-b"};
    cJSON *b = sl_sqs_batch_request("u", h, 2, -1);
    char *s;

    CHECK(b != NULL);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"Entries\":[{\"Id\":\"0\",\"ReceiptHandle\":\"rh-a\"},"
                 "{\"Id\":\"1\",\"ReceiptHandle\":\"rh-b\"}],\"QueueUrl\":\"u\"}");
    cJSON_free(s);
    cJSON_Delete(b);
    b = sl_sqs_batch_request("u", h, 1, 120);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"Entries\":[{\"Id\":\"0\",\"ReceiptHandle\":\"rh-a\",\"VisibilityTimeout\":"
                 "120}],\"QueueUrl\":\"u\"}");
    cJSON_free(s);
    cJSON_Delete(b);
    CHECK(sl_sqs_batch_request("u", h, 0, -1) == NULL);
    CHECK(sl_sqs_batch_request("u", h, 11, -1) == NULL);
    {
        const char *bad[] = {"rh", NULL};
        CHECK(sl_sqs_batch_request("u", bad, 2, -1) == NULL);
    }
}

typedef struct batch_case {
    const char *name;
    const char *json;
    size_t n;
    int rc;
    size_t nfailed;
    int failed1; /* entry 1 failed? */
    const char *code1;
} batch_case;

static const batch_case batch_cases[] = {
    {"all done", "{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"}]}", 2, 0, 0, 0, ""},
    {"one failed",
     "{\"Successful\":[{\"Id\":\"0\"}],\"Failed\":[{\"Id\":\"1\",\"Code\":"
     "\"ReceiptHandleIsInvalid\",\"SenderFault\":true,\"Message\":\"x\"}]}",
     2, 0, 1, 1, "ReceiptHandleIsInvalid"},
    {"missing from both lists", "{\"Successful\":[{\"Id\":\"0\"}]}", 2, 0, 1, 1, "Missing"},
    {"empty answer: nothing known done", "{}", 2, 0, 2, 1, "Missing"},
    {"in both lists: failed wins",
     "{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"1\"}],\"Failed\":[{\"Id\":\"1\"}]}", 2, 0, 1, 1,
     "Unknown"},
    {"empty code", "{\"Successful\":[{\"Id\":\"0\"}],\"Failed\":[{\"Id\":\"1\",\"Code\":\"\"}]}", 2,
     0, 1, 1, "Unknown"},
    {"unknown id", "{\"Successful\":[{\"Id\":\"2\"}]}", 2, -1, 0, 0, ""},
    {"two-digit id", "{\"Successful\":[{\"Id\":\"01\"}]}", 2, -1, 0, 0, ""},
    {"id not a string", "{\"Failed\":[{\"Id\":1}]}", 2, -1, 0, 0, ""},
    {"Failed not an array", "{\"Failed\":{}}", 2, -1, 0, 0, ""},
    {"not an object", "\"x\"", 2, -1, 0, 0, ""},
    {"n out of range", "{}", 0, -1, 0, 0, ""},
};

static void test_parse_batch_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(batch_cases); i++) {
        const batch_case *c = &batch_cases[i];
        cJSON *j = cJSON_Parse(c->json);
        sl_sqs_batch_result r;
        char err[SL_ERRLEN] = "";
        int rc = sl_sqs_parse_batch(j, c->n, &r, err, sizeof(err));

        if (rc != c->rc)
            fprintf(stderr, "  case \"%s\": rc %d (%s)\n", c->name, rc, err);
        CHECK_INT(rc, c->rc);
        if (rc == 0) {
            CHECK_INT((long long)r.nfailed, (long long)c->nfailed);
            CHECK_INT(r.failed[1], c->failed1);
            CHECK_STR(r.code[1], c->code1);
        }
        cJSON_Delete(j);
    }
}

typedef struct url_case {
    const char *url;
    int ok;
} url_case;

static const url_case url_cases[] = {
    {"https://sqs.us-east-1.amazonaws.com/123456789012/snaplake-snapshot-events", 1},
    {"http://127.0.0.1:21000/123456789012/sl-abc_1", 1},
    {"https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo", 1},
    {"https://sqs.us-east-1.amazonaws.com/123456789012/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     1}, /* 80 */
    {"https://sqs.us-east-1.amazonaws.com/123456789012/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     0}, /* 81 */
    {"sqs.us-east-1.amazonaws.com/123456789012/q", 0},
    {"ftp://h/123456789012/q", 0},
    {"https:///123456789012/q", 0},
    {"https://h/12345678901/q", 0},
    {"https://h/123456789012", 0},
    {"https://h/123456789012/", 0},
    {"https://h/123456789012/q/extra", 0},
    {"https://h/123456789012/q?x=1", 0},
    {"https://h/123456789012/.fifo", 0},
    {"https://h/123456789012/q name", 0},
    {"arn:aws:sqs:us-east-1:123456789012:q", 0},
};

static void test_queue_url_check(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(url_cases); i++) {
        char why[SL_ERRLEN] = "";
        int rc = sl_sqs_check_queue_url(url_cases[i].url, why, sizeof(why));

        if ((rc == 0) != url_cases[i].ok)
            fprintf(stderr, "  url \"%s\": rc %d (%s)\n", url_cases[i].url, rc, why);
        CHECK_INT(rc == 0, url_cases[i].ok);
        if (rc)
            CHECK(why[0] != '\0');
    }
}

static const sl_test tests[] = {
    SL_TEST(test_receive_request),   SL_TEST(test_parse_receive_table), SL_TEST(test_batch_request),
    SL_TEST(test_parse_batch_table), SL_TEST(test_queue_url_check),
};

SL_TEST_MAIN(tests)
