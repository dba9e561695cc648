/*
 * notify_policy.h - what a webhook's answer means for an alert (the notify stage, notify.c):
 * pure, static inline (like sl_worker_retry_delay_ms) so the unit tests reach it without the
 * stage's I/O. README "Alerts" has the table and the reasons.
 */
#ifndef SL_NOTIFY_POLICY_H
#define SL_NOTIFY_POLICY_H

typedef enum sl_notify_verdict {
    SL_NOTIFY_POSTED = 0, /* 2xx: the offset may be stored */
    SL_NOTIFY_RETRY,      /* back off and post again, without limit: the offset waits */
    SL_NOTIFY_REFUSED     /* this body is refused for good: skip it, loudly */
} sl_notify_verdict;

/*
 * The verdict on one post: transport_ok is 0 when curl failed (connect, TLS, timeout: no
 * usable answer), else status is the HTTP status. *cause is the metric label of a retry
 * ("network", "http_429", "http_408", "webhook_refused", "http_5xx"), or of a refusal
 * ("http_4xx"), "" after a 2xx. Static strings.
 *
 * 401/403/404/410 say the webhook itself is gone (a revoked token, a deleted hook, an archived
 * channel): every alert would get the same answer, so they wait for an operator instead of
 * draining the backlog. A 1xx/3xx (curl follows no redirect: a webhook that moved is a
 * configuration to fix) is retried like a 5xx.
 */
static inline sl_notify_verdict sl_notify_classify(int transport_ok, long status,
                                                   const char **cause)
{
    if (!transport_ok) {
        *cause = "network";
        return SL_NOTIFY_RETRY;
    }
    if (status >= 200 && status < 300) {
        *cause = "";
        return SL_NOTIFY_POSTED;
    }
    if (status == 429 || status == 408) {
        *cause = status == 429 ? "http_429" : "http_408";
        return SL_NOTIFY_RETRY;
    }
    if (status == 401 || status == 403 || status == 404 || status == 410) {
        *cause = "webhook_refused";
        return SL_NOTIFY_RETRY;
    }
    if (status >= 400 && status < 500) {
        *cause = "http_4xx";
        return SL_NOTIFY_REFUSED;
    }
    *cause = "http_5xx";
    return SL_NOTIFY_RETRY;
}

#endif /* SL_NOTIFY_POLICY_H */
