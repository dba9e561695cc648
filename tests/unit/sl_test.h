/*
 * sl_test.h - the small assert header of the unit tests.
 *
 * A test file defines `static void test_name(void)` functions and a table:
 *     static const sl_test tests[] = { SL_TEST(test_name), ... };
 *     SL_TEST_MAIN(tests)
 * A failed check prints file:line and the expression, marks the current test failed and
 * returns from it. main prints "ok - name" / "not ok - name" per test and a last line
 * "<file>: N passed, M failed"; the exit status is non-zero when anything failed.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdio.h>
#include <string.h>

typedef struct sl_test {
    const char *name;
    void (*fn)(void);
} sl_test;

static int sl_test_failed_;

#define SL_TEST(fn) {#fn, fn}

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);              \
            sl_test_failed_ = 1;                                                                  \
            return;                                                                               \
        }                                                                                         \
    } while (0)

#define CHECK_INT(a, b)                                                                           \
    do {                                                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);                                       \
        if (a_ != b_) {                                                                           \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,   \
                    a_, #b, b_);                                                                  \
            sl_test_failed_ = 1;                                                                  \
            return;                                                                               \
        }                                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                           \
    do {                                                                                          \
        const char *a_ = (a), *b_ = (b);                                                          \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                  \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,     \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                      \
            sl_test_failed_ = 1;                                                                  \
            return;                                                                               \
        }                                                                                         \
    } while (0)

#define SL_TEST_MAIN(table)                                                                       \
    int main(void)                                                                                \
    {                                                                                             \
        int passed = 0, failed = 0;                                                               \
        for (size_t i = 0; i < sizeof(table) / sizeof((table)[0]); i++) {                         \
            sl_test_failed_ = 0;                                                                  \
            (table)[i].fn();                                                                      \
            if (sl_test_failed_) {                                                                \
                failed++;                                                                         \
                printf("not ok - %s\n", (table)[i].name);                                         \
            } else {                                                                              \
                passed++;                                                                         \
                printf("ok - %s\n", (table)[i].name);                                             \
            }                                                                                     \
        }                                                                                         \
        printf("%s: %d passed, %d failed\n", __FILE__, passed, failed);                           \
        return failed ? 1 : 0;                                                                    \
    }

#endif /* SL_TEST_H */
