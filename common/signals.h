/*
 * signals.h - the process-wide stop flag and the signal handlers that set it.
 *
 * Kubernetes and ECS stop a container with SIGTERM, then SIGKILL after a grace period. A
 * worker must use that window to finish or abandon its current step, store and commit its
 * Kafka offsets, flush its producer and close its connections, so the handler only sets a
 * flag (the one async-signal-safe thing to do) and every loop checks sl_should_stop().
 *
 * The flag is the one global the house style allows besides the logger: a
 * `volatile sig_atomic_t` private to signals.c, read through sl_should_stop().
 */
#ifndef SL_SIGNALS_H
#define SL_SIGNALS_H

#include <stddef.h>

#include "util.h"

/*
 * Installs handlers for SIGTERM and SIGINT that set the stop flag, and ignores SIGPIPE (a
 * peer closing a socket must surface as EPIPE from the write, not kill the process). The
 * handlers are installed without SA_RESTART so a blocking call returns EINTR and the loop
 * notices the flag promptly. Safe to call more than once.
 * Returns 0, or -1 with the failing sigaction's strerror text in err.
 */
int sl_signals_install(char *err, size_t errlen) SL_MUST_CHECK;

/* Non-zero once SIGTERM/SIGINT arrived or sl_request_stop() was called. Async-signal-safe. */
int sl_should_stop(void);

/* Sets the stop flag as a signal would (tests, and a main loop giving up on a fatal error). */
void sl_request_stop(void);

/*
 * Sleeps ms milliseconds in naps of at most 100 ms, returning early when a stop is requested.
 * For start-up and one-shot tries only (the producer, a binary's bring-up): a worker's loop
 * never sleeps, it sets a deadline. Returns 0, or -1 when the stop flag is set.
 */
int sl_nap_ms(long long ms);

/* Clears the stop flag. For tests that exercise stopping more than once in one process. */
void sl_signals_reset(void);

#endif /* SL_SIGNALS_H */
