/* endpoint.c - see endpoint.h. */
#include "endpoint.h"

#include <stdlib.h>
#include <string.h>

#include "httpd.h"

struct sl_endpoint {
    sl_endpoint_opts o; /* addr not kept (only used at start) */
    int flags;
    sl_metrics *m;
    sl_httpd *h;
    long long start_ms, loop_ms, kafka_ok_ms, pg_ok_ms, sqs_ok_ms;
    int kafka_fatal;
};

const sl_cfg_check sl_endpoint_checks[] = {
    {"METRICS_ADDR", sl_httpd_check_addr},
};
const size_t sl_endpoint_nchecks = SL_ARRAY_LEN(sl_endpoint_checks);

sl_health sl_endpoint_health(const sl_endpoint *e)
{
    sl_health_in in;
    long long now = sl_mono_ms();

    memset(&in, 0, sizeof(in));
    in.now_ms = now;
    in.start_ms = e->start_ms;
    in.loop_ms = e->loop_ms;
    in.kafka_ok_ms = (e->flags & SL_ENDPOINT_NO_KAFKA) ? now : e->kafka_ok_ms;
    in.pg_ok_ms = (e->flags & SL_ENDPOINT_NO_PG) ? now : e->pg_ok_ms;
    in.kafka_fatal = e->kafka_fatal;
    in.want_sqs = (e->flags & SL_ENDPOINT_SQS) != 0;
    in.sqs_ok_ms = e->sqs_ok_ms;
    in.loop_stall_ms = e->o.loop_stall_ms;
    in.ready_timeout_ms = e->o.ready_timeout_ms;
    in.dep_timeout_ms = e->o.dep_timeout_ms;
    return sl_health_eval(&in);
}

static int handle(void *ud, const char *path, sl_buf *body, const char **ctype)
{
    sl_endpoint *e = ud;

    if (strcmp(path, "/metrics") == 0) {
        char *text = NULL;
        size_t len = 0;
        int rc;
        if (sl_metrics_render(e->m, &text, &len))
            return 500;
        rc = sl_buf_append(body, text, len);
        free(text);
        *ctype = SL_METRICS_CONTENT_TYPE;
        return rc ? 500 : 200;
    }
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
        char text[256];
        sl_health h = sl_endpoint_health(e);
        int status = sl_health_body(&h, path[1] == 'r', text, sizeof(text));
        *ctype = "application/json";
        return sl_buf_appendf(body, "%s", text) ? 500 : status;
    }
    if (sl_buf_appendf(body, "not found: try /metrics, /healthz, /readyz\n"))
        return 500;
    return 404;
}

int sl_endpoint_new(sl_endpoint **out, const sl_endpoint_opts *o, int flags, char *err,
                    size_t errlen)
{
    sl_endpoint *e = calloc(1, sizeof(*e));

    if (!e || !(e->m = sl_metrics_new())) {
        free(e);
        return sl_seterr(err, errlen, "metrics: out of memory");
    }
    e->o = *o;
    e->o.addr = NULL;
    e->flags = flags;
    e->start_ms = e->loop_ms = sl_mono_ms();
    if (o->addr && *o->addr && sl_httpd_new(&e->h, o->addr, handle, e, err, errlen)) {
        sl_metrics_free(e->m);
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void sl_endpoint_free(sl_endpoint *e)
{
    if (!e)
        return;
    sl_httpd_free(e->h);
    sl_metrics_free(e->m);
    free(e);
}

sl_metrics *sl_endpoint_metrics(sl_endpoint *e)
{
    return e->m;
}

void sl_endpoint_turn(sl_endpoint *e)
{
    if (!e)
        return;
    e->loop_ms = sl_mono_ms();
    sl_httpd_run(e->h);
}

void sl_endpoint_kafka_ok(sl_endpoint *e)
{
    if (e)
        e->kafka_ok_ms = sl_mono_ms();
}

void sl_endpoint_pg_ok(sl_endpoint *e)
{
    if (e)
        e->pg_ok_ms = sl_mono_ms();
}

void sl_endpoint_sqs_ok(sl_endpoint *e)
{
    if (e)
        e->sqs_ok_ms = sl_mono_ms();
}

void sl_endpoint_kafka_fatal(sl_endpoint *e)
{
    if (e)
        e->kafka_fatal = 1;
}

int sl_endpoint_port(const sl_endpoint *e)
{
    return e ? sl_httpd_port(e->h) : 0;
}
