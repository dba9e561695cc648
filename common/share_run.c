/* share_run.c - see share_run.h: the share stage's driver, one AWS call a step. */
#include "share_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backoff.h"
#include "lflive.h"
#include "sts.h"

#define GLUE_PAGE 100
#define MAX_PAGES 10000

typedef enum run_phase {
    PH_ACCOUNT = 0,
    PH_TABLES,
    PH_LF_TAGS,
    PH_DB_TAGS,
    PH_TABLE_TAGS,
    PH_FILTERS,
    PH_PERMS,
    PH_PLAN,
    PH_APPLY,
    PH_DONE,
    PH_FAILED
} run_phase;

static const char *const phase_names[] = {"account",    "tables",  "lf_tags",     "db_tags",
                                          "table_tags", "filters", "permissions", "plan",
                                          "apply",      "done",    "failed"};

struct sl_share_run {
    sl_aws *aws;
    sl_share_run_opts o;
    char *cluster;
    char database[SL_LF_NAME_MAX + 1];
    char account[32];
    run_phase phase;
    char token[SL_LFLIVE_TOKEN_MAX];
    int paged;              /* a page of the current list was read (token "" then means the end) */
    sl_share_tables tables; /* the Glue tables */
    size_t table_next;      /* PH_TABLE_TAGS: the next table to read */
    sl_share_desired d;
    int have_d;
    sl_lf_strv owned; /* history's, plus what this run made, plus (prune_outside) the live's */
    sl_lflive live;
    sl_share_plan first, last;
    int have_first, have_last;
    size_t step_next;
    int rounds;
    int consecutive; /* transient failures in a row */
    int entry_retry; /* this round had transient per-entry failures */
    long long due;   /* monotonic ms of the next step */
    long long calls, writes;
    sl_lf_strv made, gone;
    sl_share_run_error err;
};

/* ---- failure and backoff ---------------------------------------------------------------- */

/* The one place the phase changes, logged by name. */
static void set_phase(sl_share_run *r, run_phase p)
{
    if (p != r->phase || p == PH_LF_TAGS)
        sl_log_kv(SL_LOG_DEBUG, r->o.log,
                  (const char *const[]){"from", phase_names[r->phase], "to", phase_names[p], NULL},
                  "share phase");
    r->phase = p;
}

static sl_share_run_status fail(sl_share_run *r, const char *code, int transient, const char *fmt,
                                ...) SL_PRINTF(4, 5);
static sl_share_run_status fail(sl_share_run *r, const char *code, int transient, const char *fmt,
                                ...)
{
    va_list ap;

    snprintf(r->err.code, sizeof(r->err.code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
    va_end(ap);
    r->err.transient = transient;
    set_phase(r, PH_FAILED);
    return SL_SHARE_RUN_FAILED;
}

static sl_share_run_status fail_aws(sl_share_run *r, const char *what, const sl_aws_error *e,
                                    int transient)
{
    snprintf(r->err.request_id, sizeof(r->err.request_id), "%s", e->request_id);
    r->err.retry_after_ms = e->retry_after_ms;
    return fail(r, e->code[0] ? e->code : "AwsError", transient, "%s: %s", what, e->message);
}

static long long backoff(sl_share_run *r, long long min_ms)
{
    long long d =
        sl_backoff_ms(r->o.retry_base_ms, r->o.retry_max_ms, r->consecutive, sl_random_u64());

    return d < min_ms ? min_ms : d;
}

static int lf_transient(const sl_aws_error *e)
{
    return e->transient || sl_lf_error_transient(e->code);
}

/*
 * A transient failure of a call: counted (a success resets the count); past max_retries the
 * run fails with it (transient). Otherwise the run goes to `then` after a backoff.
 */
static sl_share_run_status retry_later(sl_share_run *r, const char *what, const sl_aws_error *e,
                                       run_phase then, long long now)
{
    if (++r->consecutive > r->o.max_retries)
        return fail_aws(r, what, e, 1);
    sl_log_kv(
        SL_LOG_WARN, r->o.log,
        (const char *const[]){"call", what, "error_code", e->code, "then", phase_names[then], NULL},
        "share call failed transiently; backing off");
    if (then == PH_LF_TAGS) {
        sl_lflive_cleanup(&r->live);
        sl_lflive_init(&r->live);
        r->token[0] = '\0';
        r->paged = 0;
    }
    set_phase(r, then);
    r->due = now + backoff(r, e->retry_after_ms);
    return SL_SHARE_RUN_PENDING;
}

/* ---- the reads -------------------------------------------------------------------------- */

static sl_share_run_status do_account(sl_share_run *r)
{
    sl_aws_error e;

    r->calls++;
    /* An answer without an account is e.code "BadResponse", not transient: fail_aws. */
    if (sl_sts_get_caller_identity(r->aws, r->account, sizeof(r->account), &e) != 0) {
        if (e.transient)
            return retry_later(r, "STS GetCallerIdentity", &e, PH_ACCOUNT, sl_mono_ms());
        return fail_aws(r, "STS GetCallerIdentity", &e, 0);
    }
    r->consecutive = 0;
    set_phase(r, PH_TABLES);
    return SL_SHARE_RUN_PENDING;
}

static sl_share_run_status do_tables(sl_share_run *r, long long now)
{
    cJSON *body = cJSON_CreateObject(), *resp = NULL;
    sl_aws_error e;
    char what[400], next[SL_LFLIVE_TOKEN_MAX], perr[SL_ERRLEN];
    sl_share_run_status st = SL_SHARE_RUN_PENDING;

    snprintf(what, sizeof(what), "Glue GetTables %s", r->database);
    if (!body || !cJSON_AddStringToObject(body, "DatabaseName", r->database) ||
        !cJSON_AddNumberToObject(body, "MaxResults", GLUE_PAGE) ||
        (r->token[0] && !cJSON_AddStringToObject(body, "NextToken", r->token))) {
        cJSON_Delete(body);
        return fail(r, "ClientError", 0, "share: out of memory");
    }
    r->calls++;
    if (sl_aws_json(r->aws, "glue", "AWSGlue.GetTables", body, &resp, &e) != 0) {
        cJSON_Delete(body);
        if (e.transient)
            return retry_later(r, what, &e, PH_TABLES, now);
        return fail_aws(r, what, &e, 0);
    }
    cJSON_Delete(body);
    r->consecutive = 0;
    if (sl_share_tables_add_page(&r->tables, resp, next, sizeof(next), perr, sizeof(perr)) != 0) {
        st = fail(r, "BadResponse", 0, "%s: %s", what, perr);
        goto out;
    }
    if (next[0]) {
        if (++r->paged > MAX_PAGES) {
            st = fail(r, "BadResponse", 0, "%s: NextToken never ends", what);
            goto out;
        }
        snprintf(r->token, sizeof(r->token), "%s", next);
    } else {
        r->token[0] = '\0';
        r->paged = 0;
        sl_share_tables_attach(&r->tables, r->o.history);
        set_phase(r, PH_LF_TAGS);
    }
    r->due = now;
out:
    cJSON_Delete(resp);
    return st;
}

/* The desired state, once the tables are known (before the first live read). */
static sl_share_run_status make_desired(sl_share_run *r)
{
    char err[SL_ERRLEN];

    if (r->have_d)
        return SL_SHARE_RUN_PENDING;
    if (sl_share_desire(r->o.policy, r->cluster, r->account[0] ? r->account : NULL, r->tables.v,
                        r->tables.n, &r->d, err, sizeof(err)) != 0)
        return fail(r, "BadPolicy", 0, "%s", err);
    r->have_d = 1;
    if (r->o.prune_outside)
        r->d.prune = 1;
    return SL_SHARE_RUN_PENDING;
}

/* One Lake Formation read call: body is consumed. 0 with *resp, 1 = handled (status in *st). */
static int lf_read(sl_share_run *r, const char *path, cJSON *body, cJSON **resp,
                   sl_share_run_status *st, long long now)
{
    sl_aws_error e;
    char what[300];

    if (!body) {
        *st = fail(r, "ClientError", 0, "share: cannot build the %s request", path + 1);
        return 1;
    }
    r->calls++;
    if (sl_aws_rest_json(r->aws, "lakeformation", "POST", path, body, resp, &e) != 0) {
        cJSON_Delete(body);
        snprintf(what, sizeof(what), "Lake Formation %s", path + 1);
        *st = lf_transient(&e) ? retry_later(r, what, &e, r->phase, now) : fail_aws(r, what, &e, 0);
        return 1;
    }
    cJSON_Delete(body);
    r->consecutive = 0;
    return 0;
}

/* After a page parser: token in r->token; moves on to `then` on the last page. */
static void paged(sl_share_run *r, run_phase then)
{
    if (!r->token[0]) {
        r->paged = 0;
        set_phase(r, then);
    } else {
        r->paged++;
    }
}

static sl_share_run_status do_live(sl_share_run *r, long long now)
{
    sl_share_run_status st = SL_SHARE_RUN_PENDING;
    const char *tok = r->token[0] ? r->token : NULL;
    cJSON *resp = NULL;
    char perr[SL_ERRLEN];
    int bad = 0;

    if (r->paged > MAX_PAGES)
        return fail(r, "BadResponse", 0, "Lake Formation: NextToken never ends");
    switch (r->phase) {
    case PH_LF_TAGS:
        if (lf_read(r, "/ListLFTags", sl_lf_body_list_lf_tags(r->d.catalog_id, tok), &resp, &st,
                    now))
            return st;
        bad = sl_lflive_add_lf_tags(&r->live, resp, r->token, sizeof(r->token), perr, sizeof(perr));
        paged(r, PH_DB_TAGS);
        break;
    case PH_DB_TAGS: {
        sl_lf_resource res = {.kind = SL_LF_RES_DATABASE};
        res.catalog_id = r->d.catalog_id;
        res.database = r->d.database;
        if (lf_read(r, "/GetResourceLFTags", sl_lf_body_get_resource_lf_tags(r->d.catalog_id, &res),
                    &resp, &st, now))
            return st;
        bad = sl_lflive_add_resource_tags(&r->live, NULL, resp, perr, sizeof(perr));
        r->table_next = 0;
        set_phase(r, r->tables.n ? PH_TABLE_TAGS : PH_FILTERS);
        break;
    }
    case PH_TABLE_TAGS: {
        sl_lf_resource res = {.kind = SL_LF_RES_TABLE};
        const char *t = r->tables.v[r->table_next].name;
        res.catalog_id = r->d.catalog_id;
        res.database = r->d.database;
        res.table = (char *)t;
        if (lf_read(r, "/GetResourceLFTags", sl_lf_body_get_resource_lf_tags(r->d.catalog_id, &res),
                    &resp, &st, now))
            return st;
        bad = sl_lflive_add_resource_tags(&r->live, t, resp, perr, sizeof(perr));
        if (++r->table_next >= r->tables.n)
            set_phase(r, PH_FILTERS);
        break;
    }
    case PH_FILTERS:
        if (lf_read(r, "/ListDataCellsFilter",
                    sl_lf_body_list_data_cells_filter(r->d.catalog_id, r->d.database, tok), &resp,
                    &st, now))
            return st;
        bad = sl_lflive_add_filters(&r->live, resp, r->token, sizeof(r->token), perr, sizeof(perr));
        paged(r, PH_PERMS);
        break;
    case PH_PERMS:
        if (lf_read(r, "/ListPermissions",
                    sl_lf_body_list_permissions(r->d.catalog_id, NULL, NULL, NULL, tok), &resp, &st,
                    now))
            return st;
        bad = sl_lflive_add_permissions(&r->live, resp, r->token, sizeof(r->token), perr,
                                        sizeof(perr));
        paged(r, PH_PLAN);
        break;
    default:
        break;
    }
    cJSON_Delete(resp);
    if (bad)
        return fail(r, "BadResponse", 0, "%s", perr);
    r->due = now;
    return SL_SHARE_RUN_PENDING;
}

/* ---- plan and apply --------------------------------------------------------------------- */

/* The keys of live grants (prune_outside: every one counts as snaplake's for this run). */
static int own_live(sl_share_run *r)
{
    for (size_t i = 0; i < r->live.ngrants; i++) {
        char *k = sl_lf_grant_key(r->live.grants[i].principal, &r->live.grants[i].res);
        if (!k)
            continue; /* OTHER resources have no key: never ours */
        if (sl_lf_strv_find(&r->owned, k) < 0 && sl_lf_strv_push(&r->owned, k) != 0) {
            free(k);
            return -1;
        }
        free(k);
    }
    return 0;
}

/* Owned keys no live grant carries any more. */
static int note_gone(sl_share_run *r)
{
    const sl_share_history *h = r->o.history;

    for (size_t i = 0; h && i < h->owned.n; i++) {
        int found = 0;
        for (size_t j = 0; j < r->live.ngrants && !found; j++) {
            char *k = sl_lf_grant_key(r->live.grants[j].principal, &r->live.grants[j].res);
            found = k && strcmp(k, h->owned.v[i]) == 0;
            free(k);
        }
        if (!found && sl_lf_strv_find(&r->gone, h->owned.v[i]) < 0 &&
            sl_lf_strv_push(&r->gone, h->owned.v[i]) != 0)
            return -1;
    }
    return 0;
}

static sl_share_run_status do_plan(sl_share_run *r, long long now)
{
    sl_share_plan p;
    char err[SL_ERRLEN];

    if (r->o.prune_outside && own_live(r) != 0)
        return fail(r, "ClientError", 0, "share: out of memory");
    if (sl_share_plan_make(&r->d, &r->live, &r->owned, &p, err, sizeof(err)) != 0)
        return fail(r, "ClientError", 0, "share plan: %s", err);
    if (r->have_last)
        sl_share_plan_cleanup(&r->last);
    r->last = p;
    r->have_last = 1;
    if (!r->have_first) {
        /* The first plan is kept as made (its text is the run's summary). */
        if (sl_share_plan_make(&r->d, &r->live, &r->owned, &r->first, err, sizeof(err)) != 0)
            return fail(r, "ClientError", 0, "share plan: %s", err);
        r->have_first = 1;
    }
    if (r->o.plan_only || r->last.nsteps == 0) {
        if (note_gone(r) != 0)
            return fail(r, "ClientError", 0, "share: out of memory");
        set_phase(r, PH_DONE);
        return SL_SHARE_RUN_DONE;
    }
    if (r->rounds >= r->o.max_rounds)
        return fail(r, "ShareNotConverged", 1,
                    "the plan still has %zu step(s) after %d apply round(s): the read-back does "
                    "not show what was written",
                    r->last.nsteps, r->rounds);
    r->rounds++;
    r->step_next = 0;
    r->entry_retry = 0;
    set_phase(r, PH_APPLY);
    r->due = now;
    return SL_SHARE_RUN_PENDING;
}

static const char *op_name(const char *path)
{
    return path && path[0] == '/' ? path + 1 : "?";
}

/* Records the keys of a grant step's entries that did not fail. */
static int note_made(sl_share_run *r, const sl_share_step *s, const sl_lf_failure *f, size_t nf)
{
    for (size_t i = 0; i < s->nentries; i++) {
        int failed = 0;
        char *k;
        for (size_t j = 0; j < nf && !failed; j++)
            failed = sl_lf_batch_index(f[j].id, s->nentries) == (long)i;
        if (failed)
            continue;
        if (!(k = sl_lf_grant_key(s->entries[i].principal, &s->entries[i].res)))
            continue;
        if ((sl_lf_strv_find(&r->made, k) < 0 && sl_lf_strv_push(&r->made, k) != 0) ||
            (sl_lf_strv_find(&r->owned, k) < 0 && sl_lf_strv_push(&r->owned, k) != 0)) {
            free(k);
            return -1;
        }
        free(k);
    }
    return 0;
}

/* What a Failures entry is about, for the run's error: the batch entry or the tag. */
static void entry_what(const sl_share_step *s, const sl_lf_failure *f, char *out, size_t n)
{
    long i = s->nentries ? sl_lf_batch_index(f->id, s->nentries) : -1;
    char res[600], perms[200];

    if (i >= 0) {
        sl_lf_resource_describe(&s->entries[i].res, res, sizeof(res));
        sl_lf_perms_format(s->entries[i].perms, perms, sizeof(perms));
        snprintf(out, n, "entry %.32s (%.200s %.100s on %.400s)", f->id, s->entries[i].principal,
                 perms, res);
    } else if (f->tag_key[0]) {
        sl_lf_resource_describe(&s->res, res, sizeof(res));
        snprintf(out, n, "LF-Tag %.128s on %.400s", f->tag_key, res);
    } else {
        snprintf(out, n, "entry \"%.200s\"", f->id);
    }
}

static sl_share_run_status do_apply(sl_share_run *r, long long now)
{
    const sl_share_step *s;
    const char *path = NULL;
    cJSON *body, *resp = NULL;
    sl_lf_failure *f = NULL;
    size_t nf = 0;
    sl_aws_error e;
    char what[300], perr[SL_ERRLEN];
    sl_share_run_status st = SL_SHARE_RUN_PENDING;
    int retry = 0;

    if (r->step_next >= r->last.nsteps) {
        /* Read back; after transient per-entry failures, not at once. */
        sl_lflive_cleanup(&r->live);
        sl_lflive_init(&r->live);
        r->token[0] = '\0';
        r->paged = 0;
        set_phase(r, PH_LF_TAGS);
        r->due = r->entry_retry ? now + backoff(r, 0) : now;
        return SL_SHARE_RUN_PENDING;
    }
    s = &r->last.steps[r->step_next];
    if (!(body = sl_share_step_request(s, r->d.catalog_id, &path)))
        return fail(r, "ClientError", 0, "share: cannot build the request of step %zu",
                    r->step_next);
    snprintf(what, sizeof(what), "Lake Formation %s", op_name(path));
    {
        char n[32];
        snprintf(n, sizeof(n), "%zu", s->nentries ? s->nentries : s->npairs);
        sl_log_kv(SL_LOG_INFO, r->o.log,
                  (const char *const[]){"operation", op_name(path), "entries", n, NULL},
                  "share write");
    }
    r->calls++;
    r->writes++;
    if (sl_aws_rest_json(r->aws, "lakeformation", "POST", path, body, &resp, &e) != 0) {
        cJSON_Delete(body);
        /* A tag or a filter another run created since the read (two jobs of one cluster, a
           redelivery): plan again from a fresh read, where it is an update or nothing. */
        if (lf_transient(&e) ||
            ((s->op == SL_SHARE_CREATE_LF_TAG || s->op == SL_SHARE_CREATE_FILTER) &&
             strcmp(e.code, "AlreadyExistsException") == 0))
            return retry_later(r, what, &e, PH_LF_TAGS, now);
        return fail_aws(r, what, &e, 0);
    }
    cJSON_Delete(body);
    r->consecutive = 0;
    if (s->op == SL_SHARE_GRANT || s->op == SL_SHARE_REVOKE || s->op == SL_SHARE_ADD_LF_TAGS ||
        s->op == SL_SHARE_REMOVE_LF_TAGS) {
        if (sl_lf_parse_failures(resp, &f, &nf, perr, sizeof(perr)) != 0) {
            st = fail(r, "BadResponse", 0, "%s: %s", what, perr);
            goto out;
        }
        /* The grants made are noted before any entry's failure ends the run: the caller saves
           them on the failure path too, or a later policy shrink would see a grant of ours
           as "not made by snaplake" and never revoke it. */
        if (s->op == SL_SHARE_GRANT && note_made(r, s, f, nf) != 0) {
            st = fail(r, "ClientError", 0, "share: out of memory");
            goto out;
        }
        for (size_t i = 0; i < nf; i++) {
            char ew[900];
            if (f[i].transient) {
                sl_log_kv(SL_LOG_WARN, r->o.log,
                          (const char *const[]){"operation", op_name(path), "entry", f[i].id,
                                                "error_code", f[i].code, NULL},
                          "share entry failed transiently; planned again after the read-back");
                r->entry_retry = retry = 1;
                continue;
            }
            entry_what(s, &f[i], ew, sizeof(ew));
            st = fail(r, f[i].code, 0, "%s %s: %s", what, ew, f[i].message);
            goto out;
        }
        if (retry && ++r->consecutive > r->o.max_retries) {
            st = fail(r, f[0].code, 1, "%s: entries still failing after %d tries: %s", what,
                      r->o.max_retries, f[0].message);
            goto out;
        }
    }
    r->step_next++;
    r->due = now;
out:
    free(f);
    cJSON_Delete(resp);
    return st;
}

/* ---- the machine ------------------------------------------------------------------------ */

sl_share_run *sl_share_run_new(sl_aws *aws, const sl_share_run_opts *o, char *err, size_t errlen)
{
    sl_share_run *r;

    if (!aws || !o || !o->policy || !o->cluster || !o->cluster[0]) {
        sl_seterr(err, errlen, "share: a run needs a client, a policy and a cluster");
        return NULL;
    }
    if (!(r = calloc(1, sizeof(*r)))) {
        sl_seterr(err, errlen, "share: out of memory");
        return NULL;
    }
    r->aws = aws;
    r->o = *o;
    if (r->o.retry_base_ms <= 0)
        r->o.retry_base_ms = 200;
    if (r->o.retry_max_ms <= 0)
        r->o.retry_max_ms = 10000;
    if (r->o.max_retries <= 0)
        r->o.max_retries = 8;
    if (r->o.max_rounds <= 0)
        r->o.max_rounds = 8;
    sl_lflive_init(&r->live);
    if (!(r->cluster = strdup(o->cluster)) ||
        (o->history && sl_lf_strv_copy(&r->owned, &o->history->owned) != 0)) {
        sl_seterr(err, errlen, "share: out of memory");
        sl_share_run_free(r);
        return NULL;
    }
    r->o.cluster = r->cluster;
    if (sl_share_database(o->policy, o->cluster, r->database, sizeof(r->database), err, errlen) !=
        0) {
        sl_share_run_free(r);
        return NULL;
    }
    if (o->policy->catalog_id || (o->account_id && o->account_id[0])) {
        snprintf(r->account, sizeof(r->account), "%s",
                 o->account_id && o->account_id[0] ? o->account_id : "");
        set_phase(r, PH_TABLES);
    } else {
        set_phase(r, PH_ACCOUNT);
    }
    r->due = sl_mono_ms();
    return r;
}

void sl_share_run_free(sl_share_run *r)
{
    if (!r)
        return;
    sl_share_tables_cleanup(&r->tables);
    if (r->have_d)
        sl_share_desired_cleanup(&r->d);
    sl_lflive_cleanup(&r->live);
    if (r->have_first)
        sl_share_plan_cleanup(&r->first);
    if (r->have_last)
        sl_share_plan_cleanup(&r->last);
    sl_lf_strv_cleanup(&r->owned);
    sl_lf_strv_cleanup(&r->made);
    sl_lf_strv_cleanup(&r->gone);
    free(r->cluster);
    free(r);
}

sl_share_run_status sl_share_run_step(sl_share_run *r, long long now_ms, long long *next_ms)
{
    sl_share_run_status st = SL_SHARE_RUN_PENDING;

    if (r->phase == PH_DONE)
        return SL_SHARE_RUN_DONE;
    if (r->phase == PH_FAILED)
        return SL_SHARE_RUN_FAILED;
    if (now_ms < r->due) {
        *next_ms = r->due;
        return SL_SHARE_RUN_PENDING;
    }
    switch (r->phase) {
    case PH_ACCOUNT:
        st = do_account(r);
        break;
    case PH_TABLES:
        st = do_tables(r, now_ms);
        if (st == SL_SHARE_RUN_PENDING && r->phase == PH_LF_TAGS)
            st = make_desired(r);
        break;
    case PH_LF_TAGS:
    case PH_DB_TAGS:
    case PH_TABLE_TAGS:
    case PH_FILTERS:
    case PH_PERMS:
        st = do_live(r, now_ms);
        break;
    case PH_PLAN:
        st = do_plan(r, now_ms);
        break;
    case PH_APPLY:
        st = do_apply(r, now_ms);
        break;
    default:
        /* DONE and FAILED return before the switch; anything else is a bug, named by number
           (an out-of-range phase must not index the name table). */
        st = fail(r, "ClientError", 0, "share: bad phase %d", (int)r->phase);
        break;
    }
    if (st == SL_SHARE_RUN_PENDING)
        *next_ms = r->due > now_ms ? r->due : now_ms;
    return st;
}

sl_share_run_status sl_share_run_finish(sl_share_run *r)
{
    for (;;) {
        long long now = sl_mono_ms(), next = now;
        sl_share_run_status st = sl_share_run_step(r, now, &next);
        if (st != SL_SHARE_RUN_PENDING)
            return st;
        if (next > now) {
            struct timespec ts = {(time_t)((next - now) / 1000),
                                  (long)((next - now) % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

const sl_share_run_error *sl_share_run_error_get(const sl_share_run *r)
{
    return &r->err;
}
const sl_share_plan *sl_share_run_first_plan(const sl_share_run *r)
{
    return r->have_first ? &r->first : NULL;
}
const sl_share_plan *sl_share_run_last_plan(const sl_share_run *r)
{
    return r->have_last ? &r->last : NULL;
}
const sl_share_desired *sl_share_run_desired(const sl_share_run *r)
{
    return r->have_d ? &r->d : NULL;
}
const sl_share_table_in *sl_share_run_tables(const sl_share_run *r, size_t *n)
{
    *n = r->tables.n;
    return r->tables.v;
}
const sl_lf_strv *sl_share_run_made(const sl_share_run *r)
{
    return &r->made;
}
const sl_lf_strv *sl_share_run_gone(const sl_share_run *r)
{
    return &r->gone;
}
int sl_share_run_rounds(const sl_share_run *r)
{
    return r->rounds;
}
long long sl_share_run_calls(const sl_share_run *r)
{
    return r->calls;
}
long long sl_share_run_writes(const sl_share_run *r)
{
    return r->writes;
}
