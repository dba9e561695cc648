/*
 * share_consumer.c - the consumer side's steps (share_consumer.h for the contract): list the
 * invitations, accept the pending ones, then check or create each resource link. The phase is
 * changed in one place (set_phase) and logged by name; each step makes at most one AWS call.
 */
#include "share_consumer.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "json.h"

typedef enum phase {
    PH_LIST = 0,
    PH_ACCEPT,
    PH_GET_LINK,
    PH_CREATE_LINK,
    PH_DONE,
    PH_FAILED
} phase;

static const char *const phase_names[] = {"list-invitations", "accept", "get-link",
                                          "create-link",      "done",   "failed"};

typedef struct sc_link {
    char *database; /* the source database */
    char *name;     /* the link's name in the analytics account */
} sc_link;

struct sl_share_consumer {
    sl_aws *aws; /* borrowed */
    const sl_log_ctx *log;
    char *service_account, *catalog, *region;
    sc_link *links;
    size_t nlinks;
    sl_share_consumer_observer observer;
    void *observer_ud;

    phase ph;
    char *next_token;    /* PH_LIST: the page to read next (NULL = first) */
    char **accept;       /* PH_ACCEPT: pending invitation ARNs, collected over every page */
    char **accept_names; /* their share names */
    size_t naccept, accept_cap;
    size_t ai;    /* PH_ACCEPT: next to accept */
    size_t li;    /* PH_GET_LINK / PH_CREATE_LINK: the link in hand */
    int recheck;  /* PH_GET_LINK after an AlreadyExistsException: once only */
    int failures; /* transient failures in a row */
    sl_share_consumer_result res;
    sl_aws_error err;
};

static void set_phase(sl_share_consumer *c, phase to)
{
    if (c->ph != to)
        sl_debug(c->log, "share consumer: %s -> %s", phase_names[c->ph], phase_names[to]);
    c->ph = to;
}

static void note(sl_share_consumer *c, sl_share_consumer_event ev, const char *subject,
                 const char *detail)
{
    static const char *const what[] = {"accepted the invitation", "invitation already accepted",
                                       "created the resource link", "resource link present"};
    const char *kv[] = {"subject", subject, "detail", detail, NULL};

    sl_log_kv(SL_LOG_INFO, c->log, kv, "share consumer: %s", what[ev]);
    if (c->observer)
        c->observer(c->observer_ud, ev, subject, detail);
}

/* A failure of our own (not AWS's): permanent. */
static sl_share_consumer_status fail_own(sl_share_consumer *c, const char *code, const char *fmt,
                                         ...) SL_PRINTF(3, 4);
static sl_share_consumer_status fail_own(sl_share_consumer *c, const char *code, const char *fmt,
                                         ...)
{
    va_list ap;

    memset(&c->err, 0, sizeof(c->err));
    snprintf(c->err.code, sizeof(c->err.code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
    va_end(ap);
    set_phase(c, PH_FAILED);
    return SL_SHARE_CONSUMER_FAILED;
}

/* An AWS call failed with e (already in c->err): RETRY with a backoff, or FAILED. */
static sl_share_consumer_status fail_aws(sl_share_consumer *c, const char *what,
                                         long long *next_due_ms)
{
    char msg[sizeof(c->err.message)];
    int n = snprintf(msg, sizeof(msg), "%s: ", what);

    /* "<what>: <AWS's message>", cut to the field. */
    if (n > 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, "%.*s", (int)(sizeof(msg) - (size_t)n - 1),
                 c->err.message);
    memcpy(c->err.message, msg, sizeof(msg));
    if (!c->err.code[0])
        snprintf(c->err.code, sizeof(c->err.code), "AwsError");
    if (c->err.transient) {
        long long wait;
        if (c->failures < 1000000)
            c->failures++;
        wait = sl_aws_backoff_ms(c->aws, c->failures);
        if (wait < c->err.retry_after_ms)
            wait = c->err.retry_after_ms;
        *next_due_ms = sl_mono_ms() + wait;
        return SL_SHARE_CONSUMER_RETRY;
    }
    set_phase(c, PH_FAILED);
    return SL_SHARE_CONSUMER_FAILED;
}

static int push_accept(sl_share_consumer *c, char **arn, char **name)
{
    if (c->naccept == c->accept_cap) {
        size_t ncap = c->accept_cap ? c->accept_cap * 2 : 8;
        char **a = realloc(c->accept, ncap * sizeof(*a));
        if (!a)
            return -1;
        c->accept = a;
        a = realloc(c->accept_names, ncap * sizeof(*a));
        if (!a)
            return -1;
        c->accept_names = a;
        c->accept_cap = ncap;
    }
    /* Ownership moves to c. */
    c->accept[c->naccept] = *arn;
    c->accept_names[c->naccept++] = *name;
    *arn = *name = NULL;
    return 0;
}

/*
 * Each phase is a request (req_for) and what its answer does (on_*). The dispatcher makes the
 * one call and owns both JSON objects, so every phase's cleanup is in one place. An on_*
 * returns PENDING to go on at once; fail_* set the other outcomes.
 */
typedef struct sc_req {
    const char *service; /* "ram" (REST-JSON: op is the path) or "glue" (JSON: op the target) */
    const char *op;
    cJSON *body;
    char what[2300]; /* the call, for error messages: "RAM AcceptResourceShareInvitation <arn>" */
} sc_req;

static void req_for(const sl_share_consumer *c, sc_req *r)
{
    const sc_link *l = c->li < c->nlinks ? &c->links[c->li] : NULL;

    switch (c->ph) {
    case PH_LIST:
        r->service = "ram";
        r->op = "/getresourceshareinvitations";
        r->body = sl_share_body_invitations(c->next_token);
        snprintf(r->what, sizeof(r->what), "RAM GetResourceShareInvitations");
        break;
    case PH_ACCEPT:
        r->service = "ram";
        r->op = "/acceptresourceshareinvitation";
        r->body = sl_share_body_accept(c->accept[c->ai]);
        snprintf(r->what, sizeof(r->what), "RAM AcceptResourceShareInvitation %s",
                 c->accept[c->ai]);
        break;
    case PH_GET_LINK:
        r->service = "glue";
        r->op = "AWSGlue.GetDatabase";
        r->body = sl_share_body_get_database(l->name);
        snprintf(r->what, sizeof(r->what), "Glue GetDatabase %s", l->name);
        break;
    case PH_CREATE_LINK:
        r->service = "glue";
        r->op = "AWSGlue.CreateDatabase";
        r->body = sl_share_body_create_link(l->name, c->catalog, l->database, c->region);
        snprintf(r->what, sizeof(r->what), "Glue CreateDatabase %s (resource link to %s:%s)",
                 l->name, c->catalog, l->database);
        break;
    case PH_DONE:
    case PH_FAILED:
        break;
    }
}

static sl_share_consumer_status on_list(sl_share_consumer *c, const cJSON *resp)
{
    sl_share_invitations_page pg;
    char why[SL_ERRLEN];
    sl_share_consumer_status st = SL_SHARE_CONSUMER_PENDING;

    if (sl_share_parse_invitations(resp, c->service_account, &pg, why, sizeof(why)) != 0)
        return fail_own(c, "ParseError", "%s", why);
    c->res.invitations_seen += pg.seen;
    c->res.invitations_already += pg.accepted;
    c->res.invitations_skipped += pg.skipped;
    for (size_t i = 0; i < pg.npending; i++)
        if (push_accept(c, &pg.pending[i], &pg.pending_names[i]) != 0) {
            st = fail_own(c, "InternalFailure", "GetResourceShareInvitations: out of memory");
            goto out;
        }
    /* A token that repeats would page forever; RAM's tokens move on. */
    if (pg.next_token && c->next_token && strcmp(pg.next_token, c->next_token) == 0) {
        st = fail_own(c, "ParseError", "GetResourceShareInvitations: the same nextToken twice");
        goto out;
    }
    free(c->next_token);
    c->next_token = pg.next_token;
    pg.next_token = NULL;
    if (!c->next_token)
        set_phase(c, c->naccept ? PH_ACCEPT : c->nlinks ? PH_GET_LINK : PH_DONE);
out:
    sl_share_invitations_page_cleanup(&pg);
    return st;
}

static sl_share_consumer_status on_accept(sl_share_consumer *c, int ok)
{
    const char *arn = c->accept[c->ai], *name = c->accept_names[c->ai];

    if (ok) {
        c->res.invitations_accepted++;
        note(c, SL_SHARE_EV_ACCEPTED, arn, name);
    } else {
        /* Accepted between our listing and now (another run, a person): what we wanted. */
        c->res.invitations_already++;
        note(c, SL_SHARE_EV_ALREADY_ACCEPTED, arn, name);
    }
    if (++c->ai == c->naccept)
        set_phase(c, c->nlinks ? PH_GET_LINK : PH_DONE);
    return SL_SHARE_CONSUMER_PENDING;
}

static void next_link(sl_share_consumer *c)
{
    c->recheck = 0;
    set_phase(c, ++c->li == c->nlinks ? PH_DONE : PH_GET_LINK);
}

static sl_share_consumer_status on_get_link(sl_share_consumer *c, const cJSON *resp)
{
    const sc_link *l = &c->links[c->li];
    sl_share_link_verdict v;
    char detail[512], why[SL_ERRLEN], target[300];

    snprintf(target, sizeof(target), "%s:%s", c->catalog, l->database);
    if (!resp) { /* EntityNotFoundException: no database of that name yet */
        set_phase(c, PH_CREATE_LINK);
        return SL_SHARE_CONSUMER_PENDING;
    }
    if (sl_share_parse_link(resp, c->catalog, l->database, c->region, &v, detail, sizeof(detail),
                            why, sizeof(why)) != 0)
        return fail_own(c, "ParseError", "Glue GetDatabase %s: %s", l->name, why);
    if (v == SL_SHARE_LINK_CONFLICT)
        return fail_own(c, "ResourceLinkConflict",
                        "the analytics account already has a Glue database %s, %s; it must be a "
                        "resource link to %s in %s (rename the link with the link template, or "
                        "remove that database)",
                        l->name, detail, target, c->region);
    c->res.links_present++;
    note(c, SL_SHARE_EV_LINK_PRESENT, l->name, target);
    next_link(c);
    return SL_SHARE_CONSUMER_PENDING;
}

static sl_share_consumer_status on_create_link(sl_share_consumer *c, int created)
{
    const sc_link *l = &c->links[c->li];
    char target[300];

    if (!created) {
        /* AlreadyExistsException: made between our GetDatabase and now; read it again. */
        c->recheck = 1;
        set_phase(c, PH_GET_LINK);
        return SL_SHARE_CONSUMER_PENDING;
    }
    snprintf(target, sizeof(target), "%s:%s", c->catalog, l->database);
    c->res.links_created++;
    note(c, SL_SHARE_EV_LINK_CREATED, l->name, target);
    next_link(c);
    return SL_SHARE_CONSUMER_PENDING;
}

sl_share_consumer_status sl_share_consumer_step(sl_share_consumer *c, long long *next_due_ms)
{
    sc_req r;
    cJSON *resp = NULL;
    long long dummy;
    int rc;
    const char *code;
    sl_share_consumer_status st;

    if (!next_due_ms)
        next_due_ms = &dummy;
    if (c->ph == PH_DONE)
        return SL_SHARE_CONSUMER_DONE;
    if (c->ph == PH_FAILED)
        return SL_SHARE_CONSUMER_FAILED;
    memset(&r, 0, sizeof(r));
    req_for(c, &r);
    if (!r.body)
        return fail_own(c, "InternalFailure", "%s: out of memory", r.what);
    if (strcmp(r.service, "ram") == 0)
        rc = sl_aws_rest_json(c->aws, "ram", "POST", r.op, r.body, &resp, &c->err);
    else
        rc = sl_aws_json(c->aws, "glue", r.op, r.body, &resp, &c->err);
    code = rc ? c->err.code : "";
    if (rc == 0 ||
        (c->ph == PH_ACCEPT &&
         strcmp(code, "ResourceShareInvitationAlreadyAcceptedException") == 0) ||
        (c->ph == PH_GET_LINK && strcmp(code, "EntityNotFoundException") == 0) ||
        (c->ph == PH_CREATE_LINK && !c->recheck && strcmp(code, "AlreadyExistsException") == 0)) {
        /* An answer the phase expects (the codes above are outcomes, not failures). */
        c->failures = 0;
        memset(&c->err, 0, sizeof(c->err));
        switch (c->ph) {
        case PH_LIST:
            st = on_list(c, resp);
            break;
        case PH_ACCEPT:
            st = on_accept(c, rc == 0);
            break;
        case PH_GET_LINK:
            st = on_get_link(c, rc == 0 ? resp : NULL);
            break;
        default:
            st = on_create_link(c, rc == 0);
            break;
        }
        if (st == SL_SHARE_CONSUMER_PENDING)
            *next_due_ms = sl_mono_ms();
    } else {
        st = fail_aws(c, r.what, next_due_ms);
    }
    cJSON_Delete(r.body);
    cJSON_Delete(resp);
    return st;
}

/* --- life ------------------------------------------------------------------------------------ */

static int account_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return 0;
    return n == 12;
}

sl_share_consumer *sl_share_consumer_new(const sl_share_consumer_opts *o, sl_aws *analytics,
                                         const sl_log_ctx *log, char *err, size_t errlen)
{
    sl_share_consumer *c;
    const char *catalog, *region;

    if (!o || !analytics) {
        sl_seterr(err, errlen, "share consumer: no options or no AWS client");
        return NULL;
    }
    if (!account_ok(o->service_account)) {
        sl_seterr(err, errlen,
                  "share consumer: the service account must be a 12-digit AWS "
                  "account id");
        return NULL;
    }
    catalog = o->source_catalog && *o->source_catalog ? o->source_catalog : o->service_account;
    if (!account_ok(catalog)) {
        sl_seterr(err, errlen, "share consumer: the source catalog id must be 12 digits");
        return NULL;
    }
    region = o->source_region && *o->source_region ? o->source_region : sl_aws_region(analytics);
    if (o->ndatabases > SL_SHARE_CONSUMER_MAX_DATABASES) {
        sl_seterr(err, errlen, "share consumer: %zu databases (at most %d)", o->ndatabases,
                  SL_SHARE_CONSUMER_MAX_DATABASES);
        return NULL;
    }
    if (o->ndatabases > 1 && o->link_template && *o->link_template &&
        !strstr(o->link_template, "{database}")) {
        sl_seterr(err, errlen,
                  "share consumer: the link template \"%.100s\" names one link, "
                  "but %zu databases are to be linked (add {database})",
                  o->link_template, o->ndatabases);
        return NULL;
    }
    if (!(c = calloc(1, sizeof(*c))))
        goto oom;
    c->aws = analytics;
    c->log = log;
    c->observer = o->observer;
    c->observer_ud = o->observer_ud;
    if (!(c->service_account = strdup(o->service_account)) || !(c->catalog = strdup(catalog)) ||
        !(c->region = strdup(region ? region : "")))
        goto oom;
    if (o->ndatabases && !(c->links = calloc(o->ndatabases, sizeof(*c->links))))
        goto oom;
    for (size_t i = 0; i < o->ndatabases; i++) {
        char name[256];

        if (sl_share_link_name(o->link_template, o->databases[i], name, sizeof(name), err,
                               errlen) != 0)
            goto fail;
        for (size_t j = 0; j < c->nlinks; j++)
            if (strcmp(c->links[j].name, name) == 0) {
                sl_seterr(err, errlen,
                          "share consumer: databases %.100s and %.100s would both "
                          "be linked as %s",
                          c->links[j].database, o->databases[i], name);
                goto fail;
            }
        if (!(c->links[c->nlinks].database = strdup(o->databases[i])))
            goto oom;
        if (!(c->links[c->nlinks].name = strdup(name))) {
            free(c->links[c->nlinks].database);
            goto oom;
        }
        c->nlinks++;
    }
    c->ph = PH_LIST;
    return c;
oom:
    sl_seterr(err, errlen, "share consumer: out of memory");
fail:
    sl_share_consumer_free(c);
    return NULL;
}

void sl_share_consumer_free(sl_share_consumer *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nlinks; i++) {
        free(c->links[i].database);
        free(c->links[i].name);
    }
    free(c->links);
    for (size_t i = 0; i < c->naccept; i++) {
        free(c->accept[i]);
        free(c->accept_names[i]);
    }
    free(c->accept);
    free(c->accept_names);
    free(c->next_token);
    free(c->service_account);
    free(c->catalog);
    free(c->region);
    free(c);
}

const sl_share_consumer_result *sl_share_consumer_result_get(const sl_share_consumer *c)
{
    return &c->res;
}

const sl_aws_error *sl_share_consumer_error(const sl_share_consumer *c)
{
    return &c->err;
}

int sl_share_consumer_failures(const sl_share_consumer *c)
{
    return c->failures;
}

const char *sl_share_consumer_phase(const sl_share_consumer *c)
{
    return phase_names[c->ph];
}

void sl_share_consumer_summary(const sl_share_consumer_result *r, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "invitations: %d accepted, %d already accepted, %d rejected or expired; resource "
             "links: %d created, %d already present",
             r->invitations_accepted, r->invitations_already, r->invitations_skipped,
             r->links_created, r->links_present);
}

sl_aws *sl_share_consumer_aws_new(const sl_share_consumer_cfg *cfg, const sl_aws_opts *base,
                                  struct sl_creds_provider **creds, char *err, size_t errlen)
{
    sl_creds_role role = {.arn = cfg->role_arn,
                          .external_id = cfg->external_id,
                          .session_name = cfg->session_name,
                          .duration_s = cfg->duration_ms / 1000,
                          .what = "SHARE_CONSUMER_ROLE_"};
    sl_aws_opts o;
    sl_aws *aws = NULL;

    *creds = NULL;
    if (sl_aws_opts_copy(&o, base, err, errlen) != 0)
        return NULL;
    if (cfg->endpoint_ram) {
        free(o.endpoint_ram);
        if (!(o.endpoint_ram = strdup(cfg->endpoint_ram))) {
            sl_seterr(err, errlen, "out of memory");
            goto out;
        }
    }
    if (!(*creds = sl_creds_role_new(&(sl_creds_opts){0}, &o, &role, err, errlen)))
        goto out;
    if (!(aws = sl_aws_new(&o, sl_creds_signer(*creds), err, errlen))) {
        sl_creds_provider_free(*creds);
        *creds = NULL;
    }
out:
    sl_aws_opts_cleanup(&o);
    return aws;
}
