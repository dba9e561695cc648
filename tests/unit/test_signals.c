/* test_signals.c - signals.c: SIGTERM/SIGINT set the stop flag, SIGPIPE is ignored. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "sl_test.h"

static void test_flag_starts_clear_and_request_sets_it(void)
{
    sl_signals_reset();
    CHECK(!sl_should_stop());
    sl_request_stop();
    CHECK(sl_should_stop());
    sl_signals_reset();
    CHECK(!sl_should_stop());
}

static void test_stop_signals_set_flag(void)
{
    static const int sigs[] = {SIGTERM, SIGINT};
    char err[SL_ERRLEN];

    CHECK_INT(sl_signals_install(err, sizeof err), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(sigs); i++) {
        sl_signals_reset();
        CHECK(raise(sigs[i]) == 0);
        /* still alive, and the flag is up */
        CHECK(sl_should_stop());
    }
    sl_signals_reset();
}

static void test_sigpipe_ignored(void)
{
    int fds[2];
    char err[SL_ERRLEN];
    ssize_t n;

    CHECK_INT(sl_signals_install(err, sizeof err), 0);
    CHECK(pipe(fds) == 0);
    close(fds[0]);
    /* Writing to a pipe without reader raises SIGPIPE; ignored, it is EPIPE instead. */
    n = write(fds[1], "x", 1);
    close(fds[1]);
    CHECK_INT(n, -1);
    CHECK_INT(errno, EPIPE);
    CHECK(!sl_should_stop());
}

static void test_signal_interrupts_sleep(void)
{
    /* No SA_RESTART: a blocking sleep returns early with EINTR so loops see the flag. */
    struct timespec ts = {5, 0};
    char err[SL_ERRLEN];
    pid_t me = getpid();
    pid_t child;

    CHECK_INT(sl_signals_install(err, sizeof err), 0);
    sl_signals_reset();
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct timespec d = {0, 100 * 1000 * 1000};
        nanosleep(&d, NULL);
        kill(me, SIGTERM);
        _exit(0);
    }
    CHECK_INT(nanosleep(&ts, &ts), -1);
    CHECK_INT(errno, EINTR);
    CHECK(sl_should_stop());
    CHECK(ts.tv_sec >= 3);
    sl_signals_reset();
}

static const sl_test tests[] = {
    SL_TEST(test_flag_starts_clear_and_request_sets_it),
    SL_TEST(test_stop_signals_set_flag),
    SL_TEST(test_sigpipe_ignored),
    SL_TEST(test_signal_interrupts_sleep),
};
SL_TEST_MAIN(tests)
