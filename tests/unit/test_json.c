/* test_json.c - exact-length JSON parsing and the string-member getter. */
#include "sl_test.h"

#include <string.h>

#include "json.h"

typedef struct exact_case {
    const char *name;
    const char *in;
    size_t len; /* 0 = strlen(in) */
    int ok;
    int type; /* cJSON type bits of the value when ok */
} exact_case;

static const exact_case exact_cases[] = {
    {"object", "{\"a\":1}", 0, 1, cJSON_Object},
    {"array", "[1,2]", 0, 1, cJSON_Array},
    {"bare string", "\"x\"", 0, 1, cJSON_String},
    {"number", "12", 0, 1, cJSON_Number},
    {"leading and trailing JSON whitespace", " \t\r\n{} \t\r\n", 0, 1, cJSON_Object},
    {"trailing junk", "{} x", 0, 0, 0},
    {"two values", "{}{}", 0, 0, 0},
    {"trailing form feed is not JSON whitespace", "{}\f", 0, 0, 0},
    {"trailing vertical tab is not JSON whitespace", "{}\v", 0, 0, 0},
    {"trailing NUL inside len", "{}\0", 3, 0, 0},
    {"len stops before the junk", "{\"a\":1}junk", 7, 1, cJSON_Object},
    {"len cuts the value", "{\"a\":1}", 5, 0, 0},
    {"unterminated", "{\"a\":", 0, 0, 0},
    {"empty", "", 0, 0, 0},
    {"blanks only", "  \n", 0, 0, 0},
    /* cJSON would hand these out cut short at the NUL: refused */
    {"escaped NUL in a value", "{\"b\":\"lake\\u0000evil\"}", 0, 0, 0},
    {"escaped NUL in a name", "{\"a\\u0000b\":1}", 0, 0, 0},
    {"escaped backslash then u0000 is text", "{\"b\":\"x\\\\u0000\"}", 0, 1, cJSON_Object},
    {"other escapes", "[\"\\u0001\\n\\\"\"]", 0, 1, cJSON_Array},
};

static void test_parse_exact_table(void)
{
    for (size_t i = 0; i < sizeof(exact_cases) / sizeof(exact_cases[0]); i++) {
        const exact_case *c = &exact_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        cJSON *j = sl_json_parse_exact(c->in, len);
        int ok = j != NULL, type = j ? (j->type & 0xFF) : 0;

        cJSON_Delete(j);
        if (ok != c->ok)
            fprintf(stderr, "case \"%s\"\n", c->name);
        CHECK_INT(ok, c->ok);
        CHECK_INT(type, c->type);
    }
    CHECK(sl_json_parse_exact(NULL, 0) == NULL);
}

static void test_str_member(void)
{
    static const char doc[] = "{\"s\":\"v\",\"n\":1,\"z\":null,\"e\":\"\",\"o\":{\"s\":\"in\"}}";
    cJSON *j = sl_json_parse_exact(doc, strlen(doc));

    CHECK(j != NULL);
    CHECK_STR(sl_json_str(j, "s"), "v");
    CHECK_STR(sl_json_str(j, "e"), "");
    CHECK(sl_json_str(j, "n") == NULL);
    CHECK(sl_json_str(j, "z") == NULL);
    CHECK(sl_json_str(j, "o") == NULL);
    CHECK(sl_json_str(j, "missing") == NULL);
    CHECK(sl_json_str(j, "S") == NULL); /* case-sensitive */
    CHECK_STR(sl_json_str(cJSON_GetObjectItemCaseSensitive(j, "o"), "s"), "in");
    CHECK(sl_json_str(NULL, "s") == NULL);
    cJSON_Delete(j);
}

static const sl_test tests[] = {
    SL_TEST(test_parse_exact_table),
    SL_TEST(test_str_member),
};

SL_TEST_MAIN(tests)
