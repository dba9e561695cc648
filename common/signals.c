/* signals.c - see signals.h. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* The process-wide stop flag (signals.h): written by the handler, read by every loop. */
static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int sl_signals_install(char *err, size_t errlen)
{
    struct sigaction sa;
    static const int stop_sigs[] = {SIGTERM, SIGINT};

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking poll()/nanosleep returns EINTR so the loop sees the flag. */
    sa.sa_flags = 0;
    sa.sa_handler = on_stop_signal;
    for (size_t i = 0; i < SL_ARRAY_LEN(stop_sigs); i++) {
        if (sigaction(stop_sigs[i], &sa, NULL) != 0)
            return sl_seterr(err, errlen, "sigaction(%s): %s",
                             stop_sigs[i] == SIGTERM ? "SIGTERM" : "SIGINT", strerror(errno));
    }
    /* A peer closing a socket (broker, S3, PostgreSQL) must be an EPIPE write error that the
     * client library reports, not a signal that kills the worker mid-commit. */
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return sl_seterr(err, errlen, "sigaction(SIGPIPE): %s", strerror(errno));
    return 0;
}

int sl_should_stop(void)
{
    return stop_flag != 0;
}

void sl_request_stop(void)
{
    stop_flag = 1;
}

void sl_signals_reset(void)
{
    stop_flag = 0;
}

int sl_nap_ms(long long ms)
{
    while (ms > 0 && !sl_should_stop()) {
        long long step = ms < 100 ? ms : 100;
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return sl_should_stop() ? -1 : 0;
}
