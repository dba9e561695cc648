/*
 * outcome_msg.h - the pure decisions of the worker's outcome path (worker_outcome.c): which
 * message a finished job publishes, the failure and dead-letter messages themselves, fitting a
 * dead letter into the topic, and whether a ledger error is the server refusing the data.
 * No I/O and no worker state, so tests/unit/test_outcome_msg.c reaches every branch.
 */
#ifndef SL_OUTCOME_MSG_H
#define SL_OUTCOME_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "job_phase.h"
#include "msg.h"
#include "stage.h"

typedef enum sl_outcome_pub {
    SL_PUB_NOTHING = 0, /* last stage, an output of SL_MSG_NONE, or a reporter's failure */
    SL_PUB_OUTPUT,      /* job.out to the stage's out topic */
    SL_PUB_FAILURE,     /* a failure message to the failures topic */
    SL_PUB_DEAD_LETTER  /* a dead letter to the dlq topic */
} sl_outcome_pub;

/*
 * What a job with this outcome publishes: has_out_topic = the stage has an out_topic,
 * out_type = job.out.type, reporter = the stage is SL_STAGE_REPORTER (its failures are logged
 * and counted by the stage itself: a failure message about a failed alert would loop).
 */
sl_outcome_pub sl_outcome_pick(sl_job_outcome o, int has_out_topic, sl_msg_type out_type,
                               int reporter);

/*
 * Builds the failure message of a FAILED job into *f (initialised here; the caller cleans it
 * up on success): stage = the failed stage's name, raw = the input's bytes (NUL-terminated),
 * failed_at = now_ms. Returns 0, or -1 with err (clock out of range, out of memory; *f is then
 * cleaned up).
 */
int sl_outcome_failure_msg(const sl_job *job, const char *stage, const char *raw, long long now_ms,
                           sl_msg *f, char *err, size_t errlen) SL_MUST_CHECK;

/* The input a dead letter is about (all borrowed). key may be NULL (no key). */
typedef struct sl_dead_letter_src {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const unsigned char *key;
    size_t keylen;
    const char *raw;
    size_t rawlen;
    const char *reason;
} sl_dead_letter_src;

/*
 * Builds the dead letter of s into *d (initialised here): key and payload cut to
 * SL_MSG_MAX_BYTES / 2 each (docs/messages.md), and the reason says so when it cut. Returns 0,
 * or -1 with err (out of memory; *d is then cleaned up).
 */
int sl_outcome_dead_letter_msg(const sl_dead_letter_src *s, sl_msg *d, char *err,
                               size_t errlen) SL_MUST_CHECK;

/*
 * Encodes m into *text and *len (the caller frees *text). A dead letter (dead_letter != 0, m then
 * ours to edit) whose JSON grows past SL_MSG_MAX_BYTES (control characters are written as
 * \u00XX, six bytes each) is cut further, halving key and payload, until it fits, and its reason
 * says so: the input must reach the dead-letter topic, not vanish. Returns 0, or sl_msg_encode's -1
 * with err when nothing fits.
 */
int sl_outcome_encode(sl_msg *m, int dead_letter, char **text, size_t *len, char *err,
                      size_t errlen) SL_MUST_CHECK;

/*
 * Non-zero when err (sl_pg_exec's text, which ends with "(SQLSTATE xxxxx)" when the server
 * answered) says the server refused the statement because of the data it was given: class 22
 * data exception (a date like 2024-02-30, bad UTF-8), 23 integrity constraint violation, 54
 * program limit exceeded (a value too large for a btree index row). PostgreSQL Appendix A.
 * Retrying such a write can never succeed; connection failures carry no SQLSTATE (or class
 * 08/57) and serialization failures class 40, so those are still retried.
 */
int sl_outcome_ledger_refused_data(const char *err);

#endif /* SL_OUTCOME_MSG_H */
