/* health.c - see health.h. */
#include "health.h"

#include <stdio.h>

/* Seen within `window` of now (a timestamp of 0 = never seen). */
static int within(long long now, long long at, long long window)
{
    return at > 0 && now - at <= window;
}

sl_health sl_health_eval(const sl_health_in *in)
{
    sl_health h;
    long long kafka_since = in->kafka_ok_ms > 0 ? in->kafka_ok_ms : in->start_ms;
    long long pg_since = in->pg_ok_ms > 0 ? in->pg_ok_ms : in->start_ms;

    h.loop_ok = within(in->now_ms, in->loop_ms, in->loop_stall_ms);
    h.kafka_ok = !in->kafka_fatal && within(in->now_ms, in->kafka_ok_ms, in->ready_timeout_ms);
    h.pg_ok = within(in->now_ms, in->pg_ok_ms, in->ready_timeout_ms);
    /* A fatal consumer error never heals in this process: lost at once. */
    h.kafka_lost = in->kafka_fatal || in->now_ms - kafka_since > in->dep_timeout_ms;
    h.pg_lost = in->now_ms - pg_since > in->dep_timeout_ms;
    h.want_sqs = in->want_sqs;
    h.sqs_ok = !in->want_sqs || within(in->now_ms, in->sqs_ok_ms, in->ready_timeout_ms);
    h.sqs_lost = in->want_sqs && in->now_ms - (in->sqs_ok_ms > 0 ? in->sqs_ok_ms : in->start_ms) >
                                     in->dep_timeout_ms;
    h.live = h.loop_ok && !h.kafka_lost && !h.pg_lost && !h.sqs_lost;
    h.ready = h.live && h.kafka_ok && h.pg_ok && h.sqs_ok;
    return h;
}

int sl_health_body(const sl_health *h, int ready, char *buf, size_t buflen)
{
    int ok = ready ? h->ready : h->live;
    const char *sqs = ready ? (h->sqs_ok ? "ok" : "unreachable") : (h->sqs_lost ? "lost" : "ok");

    if (ready)
        snprintf(buf, buflen,
                 "{\"status\":\"%s\",\"checks\":{\"loop\":\"%s\",\"kafka\":\"%s\",\"postgres\":"
                 "\"%s\"%s%s%s}}\n",
                 ok ? "ok" : "fail", h->loop_ok ? "ok" : "stalled",
                 h->kafka_ok ? "ok" : "not joined", h->pg_ok ? "ok" : "unreachable",
                 h->want_sqs ? ",\"sqs\":\"" : "", h->want_sqs ? sqs : "", h->want_sqs ? "\"" : "");
    else
        snprintf(buf, buflen,
                 "{\"status\":\"%s\",\"checks\":{\"loop\":\"%s\",\"kafka\":\"%s\",\"postgres\":"
                 "\"%s\"%s%s%s}}\n",
                 ok ? "ok" : "fail", h->loop_ok ? "ok" : "stalled", h->kafka_lost ? "lost" : "ok",
                 h->pg_lost ? "lost" : "ok", h->want_sqs ? ",\"sqs\":\"" : "",
                 h->want_sqs ? sqs : "", h->want_sqs ? "\"" : "");
    return ok ? 200 : 503;
}
