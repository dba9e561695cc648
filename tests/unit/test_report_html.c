/*
 * test_report_html.c - attempts from the ledger's history (common/timeline.h) and the HTML
 * report page (common/report_html.h): bars, waits, outcomes, and that no ledger string can
 * inject markup.
 */
#include <stdlib.h>

#include "report_html.h"
#include "timeline.h"

#include "sl_test.h"

#define EV(st, att, t)                                                                             \
    {                                                                                              \
        st, att, t, NULL, NULL                                                                     \
    }

static void test_one_attempt_with_a_wait(void)
{
    const sl_tl_event ev[] = {EV("running", 1, 1000), EV("waiting", 1, 1500),
                              EV("running", 1, 4000), EV("succeeded", 1, 9000)};
    sl_tl_attempt a[4];
    size_t n = sl_tl_attempts(ev, 4, 99999, a, 4);

    CHECK_INT(n, 1);
    CHECK_INT(a[0].attempt, 1);
    CHECK_INT(a[0].start_ms, 1000);
    CHECK_INT(a[0].end_ms, 9000);
    CHECK_INT(a[0].outcome, SL_TL_SUCCEEDED);
    CHECK_INT(a[0].nwaits, 1);
    CHECK_INT(a[0].waits[0].start_ms, 1500);
    CHECK_INT(a[0].waits[0].end_ms, 4000);
}

static void test_interrupted_then_failed_then_running(void)
{
    const sl_tl_event ev[] = {
        EV("running", 1, 1000),
        EV("running", 2, 5000), /* a redelivery: attempt 1 never ended */
        {"failed", 2, 7000, "ExportFailed", "bucket gone"},
        EV("succeeded", 1, 7500), /* a fenced-out writer's late row: ignored */
        EV("running", 3, 8000),
        EV("waiting", 3, 8500),
    };
    sl_tl_attempt a[8];
    size_t n = sl_tl_attempts(ev, 6, 20000, a, 8);

    CHECK_INT(n, 3);
    CHECK_INT(a[0].outcome, SL_TL_INTERRUPTED);
    CHECK_INT(a[0].end_ms, 5000);
    CHECK_INT(a[1].outcome, SL_TL_FAILED);
    CHECK_STR(a[1].error_code, "ExportFailed");
    CHECK_STR(a[1].error_message, "bucket gone");
    CHECK_INT(a[1].end_ms, 7000);
    CHECK_INT(a[2].outcome, SL_TL_RUNNING);
    CHECK_INT(a[2].end_ms, 20000); /* still going: up to now */
    CHECK_INT(a[2].nwaits, 1);
    CHECK_INT(a[2].waits[0].end_ms, 20000);
}

static void test_cap_and_queued_and_clock_skew(void)
{
    const sl_tl_event ev[] = {EV("queued", 0, 10), EV("running", 1, 1000), EV("succeeded", 1, 900),
                              EV("running", 2, 2000), EV("running", 3, 3000)};
    sl_tl_attempt a[2];
    size_t n = sl_tl_attempts(ev, 5, 5000, a, 2);

    CHECK_INT(n, 2); /* the third attempt does not fit */
    CHECK_INT(a[0].start_ms, 1000);
    CHECK_INT(a[0].end_ms, 1000); /* an earlier clock never makes a negative bar */
    CHECK_INT(sl_tl_attempts(ev, 0, 5000, a, 2), 0);
}

static void test_many_waits_merge_into_the_last(void)
{
    sl_tl_event ev[2 * SL_TL_MAX_WAITS + 6];
    sl_tl_attempt a[1];
    size_t k = 0, n;

    ev[k++] = (sl_tl_event)EV("running", 1, 0);
    for (int i = 0; i < SL_TL_MAX_WAITS + 2; i++) {
        ev[k++] = (sl_tl_event)EV("waiting", 1, 100 * i + 10);
        ev[k++] = (sl_tl_event)EV("running", 1, 100 * i + 50);
    }
    n = sl_tl_attempts(ev, k, 10000, a, 1);
    CHECK_INT(n, 1);
    CHECK_INT(a[0].nwaits, SL_TL_MAX_WAITS);
    CHECK_INT(a[0].waits[SL_TL_MAX_WAITS - 1].end_ms, 100 * (SL_TL_MAX_WAITS + 1) + 50);
}

/* Renders runs into a heap string (caller frees). */
static char *render(const sl_rh_run *runs, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    if (sl_rh_write(f, runs, n, 100000, "t<itle>") != 0) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t c = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        c++;
    return c;
}

static void test_page_has_bars_failures_and_escapes(void)
{
    static const char hostile[] =
        "</td></style><script>alert(1)</script><img src=x onerror=\"alert(2)\"> & 'q'\x01";
    const sl_tl_event ex[] = {EV("running", 1, 1000),
                              EV("waiting", 1, 1200),
                              EV("running", 1, 3000),
                              {"failed", 1, 6000, "Export<Failed>", hostile}};
    const sl_tl_event cp[] = {EV("running", 1, 6500), EV("succeeded", 1, 8000)};
    const sl_rh_stage st[] = {
        {"export", "failed", 1, "tid", 1000, 6000, "Export<Failed>", hostile, ex, 4},
        {"co\"py", "succeeded", 1, NULL, 6500, 8000, NULL, NULL, cp, 2},
        /* no history: one bar from the row's own times */
        {"crawl", "running", 2, NULL, 8000, 0, NULL, NULL, NULL, 0},
    };
    const sl_rh_run runs[] = {
        {"run-<1>", "cl&x", "snapshot", "rds:cl-2024-01-01-00-00", "2024-01-01", 900, st, 3},
        {"run-2", "cl", "cluster", NULL, "2024-01-02", 800, NULL, 0},
    };
    char *page = render(runs, 2);

    CHECK(page != NULL);
    CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(page, "</html>") != NULL);
    /* Nothing from the ledger becomes markup. */
    CHECK_INT(count(page, "<script"), 0);
    CHECK_INT(count(page, "<img"), 0);
    CHECK_INT(count(page, "\x01"), 0);
    CHECK(strstr(page, "&lt;/td&gt;&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    CHECK(strstr(page, "onerror=&quot;alert(2)&quot;&gt; &amp; &#39;q&#39;") != NULL);
    CHECK(strstr(page, "Export&lt;Failed&gt;") != NULL);
    CHECK(strstr(page, "data-stage=\"co&quot;py\"") != NULL);
    CHECK(strstr(page, "t&lt;itle&gt;") != NULL);
    CHECK(strstr(page, "run-&lt;1&gt;") != NULL);
    /* One bar per attempt, coloured by outcome, and the wait inside the export. */
    CHECK_INT(count(page, "<rect class=\"bar "), 3);
    CHECK_INT(count(page, "class=\"bar failed\""), 1);
    CHECK_INT(count(page, "class=\"bar succeeded\""), 1);
    CHECK_INT(count(page, "class=\"bar running\""), 1);
    CHECK_INT(count(page, "<rect class=\"wait\""), 1);
    /* The failure is listed once, with its cause; a run with no stage says so. */
    CHECK_INT(count(page, "<tr class=\"failure\">"), 1);
    CHECK(strstr(page, "Failures (1)") != NULL);
    CHECK(strstr(page, "No stage has started yet.") != NULL);
    /* Self-contained: no script, no external reference. */
    CHECK_INT(count(page, "http://") - count(page, "http://www.w3.org/2000/svg"), 0);
    CHECK_INT(count(page, "https://"), 0);
    CHECK_INT(count(page, "<link"), 0);
    free(page);
}

static void test_empty_report(void)
{
    char *page = render(NULL, 0);

    CHECK(page != NULL);
    CHECK(strstr(page, "0 runs") != NULL);
    CHECK(strstr(page, "Failures (0)") != NULL);
    CHECK_INT(count(page, "<svg"), 0);
    free(page);
}

static const sl_test tests[] = {
    SL_TEST(test_one_attempt_with_a_wait),
    SL_TEST(test_interrupted_then_failed_then_running),
    SL_TEST(test_cap_and_queued_and_clock_skew),
    SL_TEST(test_many_waits_merge_into_the_last),
    SL_TEST(test_page_has_bars_failures_and_escapes),
    SL_TEST(test_empty_report),
};

SL_TEST_MAIN(tests)
