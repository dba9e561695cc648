/*
 * test_pg.c - the redaction of DATABASE_URL passwords from libpq's connect errors
 * (sl_pg_redact_conninfo). The messages are libpq 15's own, as it printed them for these
 * DATABASE_URLs.
 */
#include <string.h>

#include "pg.h"
#include "sl_test.h"

static void test_redact_conninfo(void)
{
    static const struct {
        const char *url, *msg, *want;
    } cases[] = {
        /* A blank in an unquoted password: libpq names the second word as a keyword. */
        {"host=127.0.0.1 port=1 password=pwone pwtwo pwthree",
         "missing \"=\" after \"pwtwo\" in connection info string",
         "missing \"=\" after \"***\" in connection info string"},
        {"host=127.0.0.1 password = pw\\ one two port=1",
         "missing \"=\" after \"two\" in connection info string",
         "missing \"=\" after \"***\" in connection info string"},
        /* An unescaped quote inside quotes splits the password ("it", then "s ..."). */
        {"host=127.0.0.1 port=1 password='it's a b' dbname=x",
         "missing \"=\" after \"s\" in connection info string",
         "missing \"=\" after \"***\" in connection info string"},
        {"host=127.0.0.1 port=1 password='a b c'd e",
         "missing \"=\" after \"d\" in connection info string",
         "missing \"=\" after \"***\" in connection info string"},
        /* A quoted password with blanks and an escaped quote, wherever a message quotes it:
           its text as written and its value. */
        {"host=h password='pw one two' dbname", "x 'pw one two' y pw one two z", "x *** y *** z"},
        {"host=h password='pw\\'s one' sslmode=bogus", "got pw's one and pw\\'s one",
         "got *** and ***"},
        /* The last entry ends the password; what follows a keyword= is not part of it. */
        {"password='pw one' host=127.0.0.1 port=1 sslmode=pwx", "invalid sslmode value: \"pwx\"",
         "invalid sslmode value: \"pwx\""},
        /* A bare word after the password may be a piece of it: hidden, though it may be a
           keyword missing its '=' (a hidden keyword costs less than a shown password). */
        {"host=h password=secret dbname",
         "missing \"=\" after \"dbname\" in connection info string",
         "missing \"=\" after \"***\" in connection info string"},
        /* URLs: the userinfo password and password= query parameters. */
        {"postgresql://u:pw%zz@127.0.0.1:1/db", "invalid percent-encoded token: \"pw%zz\"",
         "invalid percent-encoded token: \"***\""},
        {"postgresql://u:pw@[::1/db",
         "end of string reached when looking for matching \"]\" in IPv6 host address in URI: "
         "\"postgresql://u:pw@[::1/db\"",
         "end of string reached when looking for matching \"]\" in IPv6 host address in URI: "
         "\"postgresql://u:***@[::1/db\""},
        {"postgresql://u@h:1/db?password=qpw&nope=1", "invalid URI query parameter: \"nope\" qpw",
         "invalid URI query parameter: \"nope\" ***"},
        /* Nothing to cut. */
        {"host=h dbname=d", "could not connect", "could not connect"},
        {"", "could not connect \"x\"", "could not connect \"x\""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char msg[SL_ERRLEN];
        snprintf(msg, sizeof msg, "%s", cases[i].msg);
        sl_pg_redact_conninfo(msg, cases[i].url);
        fprintf(stderr, "redact case %zu\n", i);
        CHECK_STR(msg, cases[i].want);
    }
}

/* A message as long as the buffer, quotes unbalanced: stays a C string within it. */
static void test_redact_bounds(void)
{
    char msg[SL_ERRLEN];
    memset(msg, '"', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    sl_pg_redact_conninfo(msg, "password=\" x");
    CHECK(strlen(msg) < sizeof msg);
    sl_pg_redact_conninfo(msg, "password='unterminated with blanks");
    CHECK(strlen(msg) < sizeof msg);
}

static const sl_test tests[] = {
    SL_TEST(test_redact_conninfo),
    SL_TEST(test_redact_bounds),
};
SL_TEST_MAIN(tests)
