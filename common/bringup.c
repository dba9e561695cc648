/* bringup.c - see bringup.h. */
#include "bringup.h"

#include <string.h>

#include "backoff.h"
#include "ledger.h"
#include "log.h"
#include "signals.h"

/* The longest wait between two connect tries at start. */
#define BRINGUP_RETRY_MAX_MS 30000

int sl_bringup_aws(const sl_aws_opts *o, sl_creds_provider **creds, sl_aws **aws, char *err,
                   size_t errlen)
{
    char perr[SL_ERRLEN];
    sl_creds_opts co;
    sl_creds_provider *c;
    sl_aws *a;

    memset(&co, 0, sizeof(co));
    c = sl_creds_chain_new(&co, o, perr, sizeof(perr));
    if (!c)
        return sl_seterr(err, errlen, "credentials: %s", perr);
    a = sl_aws_new(o, sl_creds_signer(c), perr, sizeof(perr));
    if (!a) {
        sl_creds_provider_free(c);
        return sl_seterr(err, errlen, "aws client: %s", perr);
    }
    *creds = c;
    *aws = a;
    return 0;
}

int sl_bringup_ledger(sl_pg_link *l, const char *app, const sl_pg_opts *o, long long tries,
                      long long retry_base_ms, sl_bringup_nap_fn nap, void *ud, char *err,
                      size_t errlen)
{
    char e[SL_ERRLEN];

    sl_pg_link_init(l, app, o);
    for (int attempt = 1;; attempt++) {
        /* The link's own rate limit is for the loop's reconnects; the start has its own
         * tries and backoff. */
        if (sl_pg_connect_opts(&l->conn, l->app_name, &l->opts, e, sizeof(e)) == 0) {
            if (sl_ledger_migrate(l->conn, e, sizeof(e)) == 0)
                return 0;
            sl_pg_link_cleanup(l);
            return sl_seterr(err, errlen, "ledger migrations: %s", e);
        }
        l->conn = NULL;
        if (attempt >= tries)
            return tries > 1 ? sl_seterr(err, errlen, "postgres: %s (after %d tries)", e, attempt)
                             : sl_seterr(err, errlen, "postgres: %s", e);
        sl_warn(NULL, "postgres connect failed (try %d of %lld), retrying: %s", attempt, tries, e);
        long long d = sl_backoff_ms(retry_base_ms, BRINGUP_RETRY_MAX_MS, attempt, sl_random_u64());
        if (nap ? nap(ud, d) : sl_nap_ms(d))
            return sl_seterr(err, errlen, "postgres: stopped while retrying: %s", e);
    }
}

int sl_bringup_kafka(const sl_kafka_topic_opts *t, const char *client_id, sl_kafka_producer **prod,
                     char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    const char *props[] = {"client.id", client_id, NULL};

    if (t->create && sl_kafka_create_pipeline_topics(t, NULL, perr, sizeof(perr)))
        return sl_seterr(err, errlen, "creating topics: %s", perr);
    if (sl_kafka_producer_new(prod, props, NULL, perr, sizeof(perr)))
        return sl_seterr(err, errlen, "kafka producer: %s", perr);
    return 0;
}
