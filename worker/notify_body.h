/*
 * notify_body.h - the webhook body of one alert (the notify stage, notify.c): pure, no I/O, so
 * the unit tests check every field and the Slack structure without a network.
 *
 * An alert is one `failure` or `dead_letter` message (docs/messages.md) plus where it was read
 * (its record on the failures or dlq topic). Two formats:
 *
 *   slack  Slack's incoming-webhook payload: `text` (the notification and fallback line) and
 *          `blocks` (a header, the ids as section fields, the error, the redo command, the
 *          record). Within Slack's documented limits: a header's plain_text at most 150
 *          characters, a section's text 3,000, at most 10 fields of 2,000 each; `&`, `<`, `>`
 *          escaped in mrkdwn (Slack, "Formatting text for app surfaces"). Slack-compatible
 *          receivers (Mattermost, Rocket.Chat, Google Chat's `text`) read `text`.
 *   json   one flat JSON object with every field by name, for a generic receiver (an
 *          Alertmanager-style relay, a ticketing hook).
 *
 * The exact command that redoes a failed stage is in both: `snaplakectl redo RUN --stage S`.
 */
#ifndef SL_NOTIFY_BODY_H
#define SL_NOTIFY_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "util.h"

typedef enum sl_notify_format {
    SL_NOTIFY_SLACK = 0,
    SL_NOTIFY_JSON,
    /* Slack's payload with `text` only: the fallback the notify stage posts once when the
       full body is refused (a 4xx such as Slack's invalid_blocks), so an alert that Block Kit
       refuses still reaches the channel as its notification line. Not a NOTIFY_FORMAT. */
    SL_NOTIFY_SLACK_TEXT
} sl_notify_format;

/* "slack" or "json" into *out. Returns 0, or -1 for anything else. */
int sl_notify_format_parse(const char *s, sl_notify_format *out) SL_MUST_CHECK;

/* Where the alert's own message was read (borrowed strings). */
typedef struct sl_notify_src {
    const char *topic;
    int32_t partition;
    long long offset;
} sl_notify_src;

/* Longest excerpt of a dead letter's payload carried in an alert (bytes, before escaping). */
#define SL_NOTIFY_PAYLOAD_EXCERPT 1024
/* Longest error message carried (Slack cuts a section at 3,000 characters anyway). */
#define SL_NOTIFY_MESSAGE_MAX 2000

/*
 * The shell command that redoes stage `stage` of run `run_id` into out[outlen]:
 * `snaplakectl redo RUN --stage STAGE`, each word single-quoted when it holds anything but
 * letters, digits and `._:-` (so a pasted command never runs what a message smuggled in).
 * Returns 0, or -1 (and out = "") when there is no run to redo: run_id or stage missing or
 * empty, or the stage is "producer" (its failures come before a run exists), or out is short.
 */
int sl_notify_redo_command(const char *run_id, const char *stage, char *out, size_t outlen);

/*
 * Builds the body of the alert for m (type SL_MSG_FAILURE or SL_MSG_DEAD_LETTER) read at src,
 * in format fmt, into *out (NUL-terminated JSON, *outlen bytes without the NUL; the caller
 * frees it). A failure's `input` (the failed stage's input message) is read for the snapshot
 * id and the export task id when the failure itself has none. Returns 0, or -1 with err (an
 * unsupported message type, out of memory); *out is set only on success.
 */
int sl_notify_body(const sl_msg *m, const sl_notify_src *src, sl_notify_format fmt, char **out,
                   size_t *outlen, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_NOTIFY_BODY_H */
