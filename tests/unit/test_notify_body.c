/* test_notify_body.c - the notify stage's webhook bodies (sl_notify_body): every field an
 * operator needs in both formats, the redo command and its quoting, Slack's structure and
 * limits, mrkdwn escaping, and dead letters whose payload is binary. */
#include "sl_test.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "../../worker/notify_body.h"
#include "json.h"
#include "msg.h"

static const char FAILURE[] =
    "{\"v\":1,\"type\":\"failure\",\"run_id\":\"orders-2024-01-02-03-04\",\"cluster\":\"orders\","
    "\"stage\":\"export\",\"error_code\":\"KMSKeyNotAccessibleFault\","
    "\"error_message\":\"The key <arn> & its grant are gone\","
    "\"aws_request_id\":\"5f1c-req\",\"export_task_id\":\"orders-2024-01-02-03-04\","
    "\"attempt\":2,\"failed_at\":\"2024-01-02T03:40:00.000Z\","
    "\"input\":{\"v\":1,\"type\":\"snapshot\",\"snapshot_id\":\"rds:orders-2024-01-02-03-04\"}}";

static const sl_notify_src SRC = {"snaplake.failures", 3, 17};

static void decode(const char *json, sl_msg *m)
{
    char err[SL_ERRLEN];

    sl_msg_init(m);
    if (sl_msg_decode(json, strlen(json), m, err, sizeof(err)))
        fprintf(stderr, "decode: %s\n", err);
}

/* The body of m in fmt, parsed (NULL when the builder refused or the JSON does not parse). */
static cJSON *body_of(const sl_msg *m, sl_notify_format fmt)
{
    char *s = NULL, err[SL_ERRLEN];
    size_t n = 0;
    cJSON *o;

    if (sl_notify_body(m, &SRC, fmt, &s, &n, err, sizeof(err)))
        return NULL;
    o = sl_json_parse_exact(s, n);
    free(s);
    return o;
}

static const char *str(const cJSON *o, const char *name)
{
    const char *s = sl_json_str(o, name);
    return s ? s : "(none)";
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(n) ? n->valuedouble : -12345;
}

/*
 * Checks o against Slack's incoming-webhook structure (Block Kit): `text` a non-empty string,
 * `blocks` an array of at most 50 known blocks, header plain_text <= 150, section text <= 3000,
 * at most 10 fields of <= 2000, context elements 1..10. Byte lengths, which are >= Slack's
 * character counts. Returns the concatenated mrkdwn of every block into all[alllen].
 */
static int slack_valid(const cJSON *o, char *all, size_t alllen)
{
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(o, "blocks"), *b;
    size_t used = 0;

    all[0] = '\0';
    if (!sl_json_str(o, "text") || !*sl_json_str(o, "text") || !cJSON_IsArray(blocks) ||
        cJSON_GetArraySize(blocks) < 1 || cJSON_GetArraySize(blocks) > 50)
        return 0;
    cJSON_ArrayForEach(b, blocks)
    {
        const char *type = sl_json_str(b, "type");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(b, "fields"), *f;
        if (!type)
            return 0;
        if (strcmp(type, "header") == 0) {
            if (strcmp(str(t, "type"), "plain_text") != 0 || strlen(str(t, "text")) > 150)
                return 0;
        } else if (strcmp(type, "section") == 0) {
            if (!t && !fields)
                return 0;
            if (t && (strcmp(str(t, "type"), "mrkdwn") != 0 || strlen(str(t, "text")) > 3000))
                return 0;
            if (fields && (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) > 10))
                return 0;
            cJSON_ArrayForEach(f, fields)
            {
                if (strcmp(str(f, "type"), "mrkdwn") != 0 || strlen(str(f, "text")) > 2000)
                    return 0;
                used += (size_t)snprintf(all + used, used < alllen ? alllen - used : 0, "%s\n",
                                         str(f, "text"));
            }
            if (t)
                used += (size_t)snprintf(all + used, used < alllen ? alllen - used : 0, "%s\n",
                                         str(t, "text"));
        } else if (strcmp(type, "context") == 0) {
            const cJSON *el = cJSON_GetObjectItemCaseSensitive(b, "elements");
            if (!cJSON_IsArray(el) || cJSON_GetArraySize(el) < 1 || cJSON_GetArraySize(el) > 10)
                return 0;
        } else {
            return 0;
        }
    }
    return used < alllen;
}

static void test_redo_command(void)
{
    char out[256];

    CHECK_INT(sl_notify_redo_command("orders-2024-01-02-03-04", "export", out, sizeof(out)), 0);
    CHECK_STR(out, "snaplakectl redo orders-2024-01-02-03-04 --stage export");
    /* Anything a shell would read otherwise is quoted; a ' inside is written '\''. */
    CHECK_INT(sl_notify_redo_command("a b;$(x)'y", "copy", out, sizeof(out)), 0);
    CHECK_STR(out, "snaplakectl redo 'a b;$(x)'\\''y' --stage copy");
    CHECK_INT(sl_notify_redo_command("r1", "producer", out, sizeof(out)), -1);
    CHECK_STR(out, "");
    CHECK_INT(sl_notify_redo_command(NULL, "export", out, sizeof(out)), -1);
    CHECK_INT(sl_notify_redo_command("", "export", out, sizeof(out)), -1);
    CHECK_INT(sl_notify_redo_command("r1", NULL, out, sizeof(out)), -1);
    CHECK_INT(sl_notify_redo_command("r1", "export", out, 10), -1); /* too short: nothing */
    CHECK_STR(out, "");
}

static void test_format_parse(void)
{
    sl_notify_format f = SL_NOTIFY_JSON;

    CHECK_INT(sl_notify_format_parse("slack", &f), 0);
    CHECK(f == SL_NOTIFY_SLACK);
    CHECK_INT(sl_notify_format_parse("json", &f), 0);
    CHECK(f == SL_NOTIFY_JSON);
    CHECK_INT(sl_notify_format_parse("Slack", &f), -1);
    CHECK_INT(sl_notify_format_parse(NULL, &f), -1);
}

static void test_failure_json_has_every_field(void)
{
    sl_msg m;
    cJSON *o, *rec;

    decode(FAILURE, &m);
    o = body_of(&m, SL_NOTIFY_JSON);
    sl_msg_cleanup(&m);
    CHECK(o != NULL);
    CHECK_STR(str(o, "kind"), "failure");
    CHECK_STR(str(o, "cluster"), "orders");
    CHECK_STR(str(o, "stage"), "export");
    CHECK_STR(str(o, "run_id"), "orders-2024-01-02-03-04");
    CHECK_STR(str(o, "error_code"), "KMSKeyNotAccessibleFault");
    CHECK_STR(str(o, "error_message"), "The key <arn> & its grant are gone"); /* not escaped */
    CHECK_STR(str(o, "aws_request_id"), "5f1c-req");
    CHECK_STR(str(o, "export_task_id"), "orders-2024-01-02-03-04");
    CHECK_STR(str(o, "snapshot_id"), "rds:orders-2024-01-02-03-04"); /* from the input */
    CHECK_STR(str(o, "failed_at"), "2024-01-02T03:40:00.000Z");
    CHECK_STR(str(o, "redo"), "snaplakectl redo orders-2024-01-02-03-04 --stage export");
    CHECK(num(o, "attempt") == 2);
    rec = cJSON_GetObjectItemCaseSensitive(o, "record");
    CHECK_STR(str(rec, "topic"), "snaplake.failures");
    CHECK(num(rec, "partition") == 3 && num(rec, "offset") == 17);
    cJSON_Delete(o);
}

static void test_failure_slack_structure_and_content(void)
{
    static char all[16384];
    sl_msg m;
    cJSON *o;
    const char *text;

    decode(FAILURE, &m);
    o = body_of(&m, SL_NOTIFY_SLACK);
    sl_msg_cleanup(&m);
    CHECK(o != NULL);
    CHECK(slack_valid(o, all, sizeof(all)));
    text = str(o, "text");
    CHECK(strstr(text, "export failed for orders") != NULL);
    CHECK(strstr(text, "KMSKeyNotAccessibleFault") != NULL);
    CHECK(strstr(text, "redo: snaplakectl redo orders-2024-01-02-03-04 --stage export") != NULL);
    /* mrkdwn's three control characters are escaped, in text and blocks alike */
    CHECK(strstr(text, "The key &lt;arn&gt; &amp; its grant") != NULL);
    CHECK(strstr(all, "```snaplakectl redo orders-2024-01-02-03-04 --stage export```") != NULL);
    CHECK(strstr(all, "`orders`") != NULL && strstr(all, "`5f1c-req`") != NULL);
    CHECK(strstr(all, "`rds:orders-2024-01-02-03-04`") != NULL);
    CHECK(strstr(all, "*attempt*\n`2`") != NULL);
    CHECK(strstr(all, "&lt;arn&gt;") != NULL && strstr(all, "<arn>") == NULL);
    cJSON_Delete(o);
}

/* The fallback after a refused body: Slack's payload with its notification line only. */
static void test_slack_text_only_fallback(void)
{
    sl_msg m;
    cJSON *o;

    decode(FAILURE, &m);
    o = body_of(&m, SL_NOTIFY_SLACK_TEXT);
    sl_msg_cleanup(&m);
    CHECK(o != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "blocks") == NULL);
    CHECK(cJSON_GetArraySize(o) == 1);
    CHECK(strstr(str(o, "text"), "KMSKeyNotAccessibleFault") != NULL);
    CHECK(strstr(str(o, "text"), "snaplakectl redo orders-2024-01-02-03-04 --stage export"));
    cJSON_Delete(o);
}

static void test_long_texts_stay_within_limits(void)
{
    static char json[32768], all[65536];
    char big[12001], cl[64];
    sl_msg m;
    cJSON *o;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[1999] = '<'; /* an entity right at the cut */
    memset(cl, 'c', 63);
    cl[63] = '\0';
    snprintf(json, sizeof(json),
             "{\"v\":1,\"type\":\"failure\",\"run_id\":\"r-1\",\"cluster\":\"%s\",\"stage\":"
             "\"copy\",\"error_code\":\"AccessDenied\",\"error_message\":\"%s\","
             "\"failed_at\":\"2024-01-02T03:40:00.000Z\"}",
             cl, big);
    decode(json, &m);
    o = body_of(&m, SL_NOTIFY_SLACK);
    CHECK(o != NULL);
    CHECK(slack_valid(o, all, sizeof(all)));
    cJSON_Delete(o);
    o = body_of(&m, SL_NOTIFY_JSON);
    sl_msg_cleanup(&m);
    CHECK(o != NULL);
    CHECK(strlen(str(o, "error_message")) <= SL_NOTIFY_MESSAGE_MAX + 3);
    CHECK(strstr(str(o, "error_message"), "...") != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "aws_request_id")));
    cJSON_Delete(o);
}

static void test_producer_failure_has_no_redo(void)
{
    static char all[16384];
    sl_msg m;
    cJSON *o;

    decode("{\"v\":1,\"type\":\"failure\",\"stage\":\"producer\",\"error_code\":\"Throttling\","
           "\"error_message\":\"Rate exceeded\",\"failed_at\":\"2024-01-02T03:40:00.000Z\"}",
           &m);
    o = body_of(&m, SL_NOTIFY_JSON);
    CHECK(o != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "redo")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "run_id")));
    cJSON_Delete(o);
    o = body_of(&m, SL_NOTIFY_SLACK);
    sl_msg_cleanup(&m);
    CHECK(o != NULL && slack_valid(o, all, sizeof(all)));
    CHECK(strstr(all, "no run to redo") != NULL && strstr(all, "snaplakectl") == NULL);
    cJSON_Delete(o);
}

static void test_dead_letter_binary_payload(void)
{
    static char all[16384];
    sl_msg m;
    cJSON *o;
    char *s = NULL, err[SL_ERRLEN];
    size_t n = 0;
    static const unsigned char pay[] = {'{', 0x00, 0xff, 0xc3, 'a', '`', '}'};

    sl_msg_init(&m);
    m.type = SL_MSG_DEAD_LETTER;
    m.reason = strdup("undecodable message: not JSON");
    m.topic = strdup("snaplake.exports");
    m.partition = 5;
    m.offset = 42;
    m.payload = malloc(sizeof(pay));
    memcpy(m.payload, pay, sizeof(pay));
    m.payload_len = sizeof(pay);
    m.key = (unsigned char *)strdup("orders");
    m.key_len = 6;
    o = body_of(&m, SL_NOTIFY_JSON);
    CHECK(o != NULL);
    CHECK_STR(str(o, "kind"), "dead_letter");
    CHECK_STR(str(o, "reason"), "undecodable message: not JSON");
    CHECK_STR(str(o, "topic"), "snaplake.exports");
    CHECK(num(o, "partition") == 5 && num(o, "offset") == 42 && num(o, "payload_bytes") == 7);
    CHECK_STR(str(o, "key"), "orders");
    CHECK_STR(str(o, "payload"), "{???a`}"); /* NUL, 0xff and the lone 0xc3 repaired */
    cJSON_Delete(o);
    o = body_of(&m, SL_NOTIFY_SLACK);
    CHECK(o != NULL && slack_valid(o, all, sizeof(all)));
    CHECK(strstr(str(o, "text"), "dead letter from snaplake.exports") != NULL);
    CHECK(strstr(str(o, "text"), "(snaplake.exports[5]@42)") != NULL);
    CHECK(strstr(all, "```{???a'}```") != NULL); /* a backtick cannot end the code block */
    cJSON_Delete(o);
    /* Not an alert: a snapshot message is refused, and nothing is handed out. */
    sl_msg_cleanup(&m);
    m.type = SL_MSG_SNAPSHOT;
    CHECK_INT(sl_notify_body(&m, &SRC, SL_NOTIFY_JSON, &s, &n, err, sizeof(err)), -1);
    CHECK(s == NULL && strstr(err, "not an alert") != NULL);
    sl_msg_cleanup(&m);
}

static const sl_test tests[] = {
    SL_TEST(test_redo_command),
    SL_TEST(test_format_parse),
    SL_TEST(test_failure_json_has_every_field),
    SL_TEST(test_failure_slack_structure_and_content),
    SL_TEST(test_slack_text_only_fallback),
    SL_TEST(test_long_texts_stay_within_limits),
    SL_TEST(test_producer_failure_has_no_redo),
    SL_TEST(test_dead_letter_binary_payload),
};
SL_TEST_MAIN(tests)
