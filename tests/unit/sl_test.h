/*
 * sl_test.h - the small assert header of the unit tests.
 *
 * A test file defines `static void test_name(void)` functions and a table:
 *     static const sl_test tests[] = { SL_TEST(test_name), ... };
 *     SL_TEST_MAIN(tests)
 * A failed check prints file:line and the expression, marks the current test failed and
 * returns from it. main prints "ok - name" / "not ok - name" per test and a last line
 * "<file>: N passed, M failed"; the exit status is non-zero when anything failed.
 *
 * Integration tests that need the local stack use instead
 *     SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "MOTO_ENDPOINT", "PGHOST|DATABASE_URL")
 * Each string names an environment variable that must be set and non-empty ("A|B": either
 * one will do). When one is missing, every test prints "skip - name (<why>)", the last line is
 * "<file>: 0 passed, 0 failed, N skipped" and the exit status is 0, so a developer's run without
 * the stack says what it did not test instead of failing. Under CI=true a missing variable is a
 * failure instead: every test prints "not ok - name (<why>)", the last line is
 * "<file>: 0 passed, N failed" and the exit status is 1, because CI must never pass on tests it
 * did not run. Otherwise setup (NULL, or int (*)(void)
 * returning 0 to go on; on non-zero it has said why on stderr and main prints
 * "<file>: 0 passed, 1 failed" and exits 1) runs first, then the tests, then teardown (NULL, or
 * void (*)(void)).
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sl_test {
    const char *name;
    void (*fn)(void);
} sl_test;

static int sl_test_failed_;

/*
 * A fake environment for code that takes an sl_cfg_getter-style lookup (config tables, the
 * credentials chain): ud is a NULL-terminated array of name, value strings (or a struct whose
 * first member is such an array). Returns the value of the first pair named `name`, or NULL.
 */
static inline const char *sl_test_env_get(const char *name, void *ud)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

#define SL_TEST(fn)                                                                                \
    {                                                                                              \
#fn, fn                                                                                    \
    }

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            sl_test_failed_ = 1;                                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    a_, #b, b_);                                                                   \
            sl_test_failed_ = 1;                                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            sl_test_failed_ = 1;                                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Non-zero when environment variable spec "A" or "A|B|..." has one set, non-empty name. */
static inline int sl_test_env_present_(const char *spec)
{
    char name[128];

    while (*spec) {
        size_t n = strcspn(spec, "|");
        const char *v;
        if (n < sizeof(name)) {
            memcpy(name, spec, n);
            name[n] = '\0';
            v = getenv(name);
            if (v && *v)
                return 1;
        }
        spec += n;
        if (*spec == '|')
            spec++;
    }
    return 0;
}

/* The main() of SL_TEST_MAIN and SL_TEST_MAIN_REQUIRE; need is NULL-terminated or NULL. */
static inline int sl_test_run_(const char *file, const sl_test *t, size_t n,
                               const char *const *need, int (*setup)(void), void (*teardown)(void))
{
    int passed = 0, failed = 0;

    for (size_t k = 0; need && need[k]; k++) {
        const char *spec = need[k];
        const char *ci = getenv("CI");
        int must_run = ci && strcmp(ci, "true") == 0;
        if (sl_test_env_present_(spec))
            continue;
        for (size_t i = 0; i < n; i++) {
            printf("%s - %s (", must_run ? "not ok" : "skip", t[i].name);
            for (const char *p = spec; *p; p++) {
                if (*p == '|')
                    fputs(" or ", stdout);
                else
                    putchar(*p);
            }
            printf(" is not set; source .stack/env%s)\n",
                   must_run ? "; CI=true: a skip fails" : "");
        }
        if (must_run) {
            printf("%s: 0 passed, %zu failed\n", file, n);
            return 1;
        }
        printf("%s: 0 passed, 0 failed, %zu skipped\n", file, n);
        return 0;
    }
    if (setup && setup() != 0) {
        printf("%s: 0 passed, 1 failed\n", file);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        sl_test_failed_ = 0;
        t[i].fn();
        if (sl_test_failed_) {
            failed++;
            printf("not ok - %s\n", t[i].name);
        } else {
            passed++;
            printf("ok - %s\n", t[i].name);
        }
        fflush(stdout);
    }
    if (teardown)
        teardown();
    printf("%s: %d passed, %d failed\n", file, passed, failed);
    return failed ? 1 : 0;
}

#define SL_TEST_MAIN(table)                                                                        \
    int main(void)                                                                                 \
    {                                                                                              \
        return sl_test_run_(__FILE__, table, sizeof(table) / sizeof((table)[0]), NULL, NULL,       \
                            NULL);                                                                 \
    }

#define SL_TEST_MAIN_REQUIRE(table, setup, teardown, ...)                                          \
    int main(void)                                                                                 \
    {                                                                                              \
        static const char *const sl_test_need_[] = {__VA_ARGS__, NULL};                            \
        return sl_test_run_(__FILE__, table, sizeof(table) / sizeof((table)[0]), sl_test_need_,    \
                            setup, teardown);                                                      \
    }

#endif /* SL_TEST_H */
