/*
 * share_consumer.h - the consumer side of the share stage, in the analytics account: accept the
 * AWS RAM invitations that Lake Formation's cross-account grants sent from the service account,
 * and create the resource links (a Glue database whose TargetDatabase is the shared database)
 * that make the shared tables visible to Athena there. Without them the tables stay invisible in
 * the analytics account until someone accepts the invitation in the console.
 *
 * Driven as small non-blocking steps, one AWS call each, so a worker stage runs it from its
 * step() (stage.h) and snaplakectl `share accept` drives it to completion:
 *
 *   1. RAM GetResourceShareInvitations, page by page (nextToken): the invitations the analytics
 *      account received. Those whose senderAccountId is the service account and whose status is
 *      PENDING are to accept; ACCEPTED ones are counted as already accepted; REJECTED and EXPIRED
 *      ones, and every other sender's, are left alone.
 *   2. RAM AcceptResourceShareInvitation, one per pending invitation.
 *      ResourceShareInvitationAlreadyAcceptedException (someone else accepted it between the
 *      listing and now) counts as already accepted; any other refusal fails with AWS's code.
 *   3. Per source database: Glue GetDatabase of the link's name in the analytics account's own
 *      catalog. Absent (EntityNotFoundException): CreateDatabase {DatabaseInput: {Name,
 *      TargetDatabase: {CatalogId, DatabaseName, Region}}}. A link to the same target is already
 *      present (nothing written); a database of that name that is a plain database, or a link to
 *      another target, fails with code "ResourceLinkConflict" naming both. An
 *      AlreadyExistsException on create (a concurrent creator) is checked again with GetDatabase,
 *      once.
 *
 * Everything is idempotent: a second run over the same state writes nothing (accepted
 * invitations are only counted, present links only read).
 *
 * The AWS client is the analytics account's: its credentials provider is usually
 * sl_creds_role_new (creds.h) with the SHARE_CONSUMER_ROLE_* settings. RAM answers about the
 * invitations the *calling* account received, so a client of the service account sees none.
 *
 * Single-threaded, like the client. Secrets never pass through here (the client holds them).
 *
 * Wiring into a worker stage (worker/share.c), once the grants are read back:
 *
 *   init():  the analytics client, once per worker: sl_creds_role_new(&(sl_creds_opts){0},
 *            &aws_opts, &(sl_creds_role){.arn = SHARE_CONSUMER_ROLE_ARN, .external_id = ...,
 *            .what = "SHARE_CONSUMER_ROLE_"}, ...), then sl_aws_new with aws_opts.max_sleep_ms
 *            set as the worker's own client has it (a step never sleeps long).
 *   start(): c = sl_share_consumer_new(&(sl_share_consumer_opts){.service_account = <own
 *            account>, .source_catalog = <policy catalog_id>, .databases = &glue_database,
 *            .ndatabases = 1, .link_template = ...}, analytics, &job->log, err, errlen);
 *   step():  long long due;
 *            switch (sl_share_consumer_step(c, &due)) {
 *            case SL_SHARE_CONSUMER_PENDING: job->next_step_ms = due; return SL_STEP_PENDING;
 *            case SL_SHARE_CONSUMER_DONE:    add sl_share_consumer_result_get(c) to job->out;
 *            case SL_SHARE_CONSUMER_RETRY:   (either) job->next_step_ms = due and PENDING while
 *                                            sl_stage_retry_note says go on, (or) return
 *                                            sl_job_fail_aws(job, "share consumer",
 *                                            sl_share_consumer_error(c)) for the runtime's
 *                                            backoff (a new start() redoes it idempotently);
 *            case SL_SHARE_CONSUMER_FAILED:  return sl_job_fail_aws(job, "share consumer",
 *                                            sl_share_consumer_error(c)); (transient is 0)
 *            }
 *   job_cleanup(): sl_share_consumer_free(c).
 */
#ifndef SL_SHARE_CONSUMER_H
#define SL_SHARE_CONSUMER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "aws_http.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define SL_SHARE_LINK_TEMPLATE_DEFAULT "{database}_link"

/*
 * The analytics-account settings every binary that runs the consumer side reads (the share
 * worker and `snaplakectl share accept`): the role assumed on top of the credentials chain, the
 * resource links' name and RAM's endpoint. `req` marks SHARE_CONSUMER_ROLE_ARN required (the
 * command) or optional (the worker: unset, it has no consumer side). Strings owned by the struct
 * that embeds this one (sl_config_cleanup).
 */
typedef struct sl_share_consumer_cfg {
    char *role_arn;
    char *external_id; /* a secret */
    char *session_name;
    long long duration_ms; /* 0 = STS default */
    char *link_tmpl;
    char *endpoint_ram;
} sl_share_consumer_cfg;

#define SL_SHARE_CONSUMER_CFG_OPTS(type, member, req)                                              \
    {"SHARE_CONSUMER_ROLE_ARN",                                                                    \
     SL_CFG_STRING,                                                                                \
     NULL,                                                                                         \
     0,                                                                                            \
     -1,                                                                                           \
     req,                                                                                          \
     offsetof(type, member.role_arn),                                                              \
     "role in the analytics account assumed (on top of the credentials chain) for RAM and Glue"},  \
        {"SHARE_CONSUMER_ROLE_EXTERNAL_ID",                                                        \
         SL_CFG_SECRET,                                                                            \
         NULL,                                                                                     \
         0,                                                                                        \
         -1,                                                                                       \
         0,                                                                                        \
         offsetof(type, member.external_id),                                                       \
         "ExternalId the role's trust policy requires"},                                           \
        {"SHARE_CONSUMER_ROLE_SESSION_NAME",                                                       \
         SL_CFG_STRING,                                                                            \
         NULL,                                                                                     \
         0,                                                                                        \
         -1,                                                                                       \
         0,                                                                                        \
         offsetof(type, member.session_name),                                                      \
         "role session name (default snaplake-<time>-<hex>)"},                                     \
        {"SHARE_CONSUMER_ROLE_DURATION",                                                           \
         SL_CFG_DURATION,                                                                          \
         NULL,                                                                                     \
         900000,                                                                                   \
         43200000,                                                                                 \
         0,                                                                                        \
         offsetof(type, member.duration_ms),                                                       \
         "session length (STS default 1h; a role assumed from an assumed role: at most 1h)"},      \
        {"SHARE_CONSUMER_LINK_NAME",                                                               \
         SL_CFG_STRING,                                                                            \
         SL_SHARE_LINK_TEMPLATE_DEFAULT,                                                           \
         0,                                                                                        \
         -1,                                                                                       \
         0,                                                                                        \
         offsetof(type, member.link_tmpl),                                                         \
         "name of each resource link in the analytics account; {database} = the shared database"}, \
    {                                                                                              \
        "AWS_ENDPOINT_URL_RAM", SL_CFG_STRING, NULL, 0, -1, 0,                                     \
            offsetof(type, member.endpoint_ram), "RAM endpoint override"                           \
    }

/*
 * The analytics account's client: a copy of base (the binary's own AWS settings) with RAM's
 * endpoint from cfg, signed with the chain plus AssumeRole into cfg->role_arn. On success
 * *creds and the returned client are the caller's (sl_aws_free, then
 * sl_creds_provider_free); NULL with err otherwise (nothing to free).
 */
struct sl_creds_provider;
sl_aws *sl_share_consumer_aws_new(const sl_share_consumer_cfg *cfg, const sl_aws_opts *base,
                                  struct sl_creds_provider **creds, char *err, size_t errlen);
#define SL_SHARE_CONSUMER_MAX_DATABASES 1000

/* What the consumer side did, reported to an optional observer as it happens. */
typedef enum sl_share_consumer_event {
    SL_SHARE_EV_ACCEPTED = 0,     /* subject: invitation ARN; detail: resource share name */
    SL_SHARE_EV_ALREADY_ACCEPTED, /* the same, accepted by another between our listing and our
                                     accept (ones ACCEPTED when listed are only counted) */
    SL_SHARE_EV_LINK_CREATED,     /* subject: link name; detail: "<catalog>:<database>" */
    SL_SHARE_EV_LINK_PRESENT      /* the same, already there */
} sl_share_consumer_event;

/* Strings borrowed for the call; subject and detail never NULL. */
typedef void (*sl_share_consumer_observer)(void *ud, sl_share_consumer_event ev,
                                           const char *subject, const char *detail);

/* Settings. Every string is copied by sl_share_consumer_new: the caller keeps its own. */
typedef struct sl_share_consumer_opts {
    const char *service_account;  /* required, 12 digits: the sender of the invitations to accept */
    const char *source_catalog;   /* TargetDatabase.CatalogId; NULL or "" = service_account */
    const char *source_region;    /* TargetDatabase.Region; NULL or "" = the client's region */
    const char *const *databases; /* source databases to link (Glue names); may be 0 of them: */
    size_t ndatabases;            /* then only the invitations are accepted */
    /* Name of each link, "{database}" replaced by the source database; NULL or "" =
       SL_SHARE_LINK_TEMPLATE_DEFAULT. A template without {database} names one link, so it
       takes exactly one database. */
    const char *link_template;
    sl_share_consumer_observer observer; /* NULL = none; called from step() */
    void *observer_ud;
} sl_share_consumer_opts;

typedef enum sl_share_consumer_status {
    SL_SHARE_CONSUMER_PENDING = 0, /* more to do: call step() again at *next_due_ms */
    SL_SHARE_CONSUMER_DONE,        /* finished; the result is final */
    SL_SHARE_CONSUMER_FAILED,      /* permanent: sl_share_consumer_error says why */
    SL_SHARE_CONSUMER_RETRY        /* transient: the same call is retried by the next step() */
} sl_share_consumer_status;

/* The summary: plain counters, valid at any time (final once DONE). */
typedef struct sl_share_consumer_result {
    int invitations_seen;     /* from the service account, any status */
    int invitations_accepted; /* accepted by this run */
    int invitations_already;  /* accepted before (or concurrently) */
    int invitations_skipped;  /* from the service account but REJECTED or EXPIRED */
    int links_created;
    int links_present; /* already a link to the same target */
} sl_share_consumer_result;

typedef struct sl_share_consumer sl_share_consumer;

/*
 * Checks opts and builds the consumer (nothing is called yet). analytics is borrowed and must
 * outlive the consumer; log (borrowed too, may be NULL) is the context of its log lines (a job's
 * run id, cluster and stage). Returns NULL with err on a bad setting (service account not 12
 * digits, a link name that expands to an invalid Glue name, more than
 * SL_SHARE_CONSUMER_MAX_DATABASES databases, a template without {database} for several) or OOM.
 * Free with sl_share_consumer_free.
 */
sl_share_consumer *sl_share_consumer_new(const sl_share_consumer_opts *opts, sl_aws *analytics,
                                         const sl_log_ctx *log, char *err, size_t errlen);

/*
 * Makes one AWS call (or none, when only a decision is left) and returns:
 *   PENDING  *next_due_ms (monotonic ms, sl_mono_ms) is when to step again (now: no wait);
 *   DONE     finished; the result is final (next_due_ms untouched);
 *   FAILED   permanent; sl_share_consumer_error holds AWS's code and message, or our own
 *            ("ResourceLinkConflict", "ParseError" for an answer of the wrong shape); stepping
 *            again returns FAILED;
 *   RETRY    transient (throttling, 5xx, network, after the client's own retries);
 *            sl_share_consumer_error has it (transient set) and *next_due_ms is the backoff
 *            (full jitter on the failures in a row, never less than the sleep the client
 *            skipped). The next step() repeats the failed call; the caller bounds the retries
 *            (sl_share_consumer_failures says how many in a row), or frees the consumer and
 *            starts over (safe: everything is idempotent).
 * A worker stage maps these onto SL_STEP_* (job->next_step_ms = *next_due_ms), or on RETRY
 * hands the error to sl_job_fail_aws and lets the runtime back off.
 */
sl_share_consumer_status sl_share_consumer_step(sl_share_consumer *c,
                                                long long *next_due_ms) SL_MUST_CHECK;

/* The counters so far. */
const sl_share_consumer_result *sl_share_consumer_result_get(const sl_share_consumer *c);
/* The last failure (FAILED or RETRY); code "" when none. */
const sl_aws_error *sl_share_consumer_error(const sl_share_consumer *c);
/* Transient failures in a row (0 after any success). */
int sl_share_consumer_failures(const sl_share_consumer *c);
/* The name of the step in progress ("list-invitations", "accept", "get-link", "create-link",
   "done", "failed"), for logs and errors. Static string. */
const char *sl_share_consumer_phase(const sl_share_consumer *c);

/* One line for people: "invitations: 1 accepted, 0 already accepted, ...; links: ...". */
void sl_share_consumer_summary(const sl_share_consumer_result *r, char *out, size_t outlen);

void sl_share_consumer_free(sl_share_consumer *c);

/* --- pure pieces (share_consumer_req.c), exported for the unit tests and the fuzzer -------- */

/*
 * Expands the link template for database: every "{database}" (the only placeholder) becomes it,
 * then the result is made a Glue name as the catalog's own names are (catalog.h
 * sl_catalog_name: lower case, [a-z0-9_], 1..255). Returns 0, or -1 with err.
 */
int sl_share_link_name(const char *tmpl, const char *database, char *out, size_t outlen, char *err,
                       size_t errlen) SL_MUST_CHECK;

/* One page of GetResourceShareInvitations, as the consumer reads it. Owns its strings. */
typedef struct sl_share_invitations_page {
    char **pending;       /* ARNs of PENDING invitations from the sender, in answer order */
    char **pending_names; /* their resourceShareName ("" when absent) */
    size_t npending;
    int seen;         /* invitations from the sender, any status */
    int accepted;     /* ACCEPTED ones */
    int skipped;      /* REJECTED / EXPIRED ones */
    char *next_token; /* NULL on the last page */
} sl_share_invitations_page;

void sl_share_invitations_page_cleanup(sl_share_invitations_page *p);

/*
 * Reads a GetResourceShareInvitations answer {resourceShareInvitations: [...], nextToken?}
 * keeping the invitations whose senderAccountId is sender. Every entry must be an object with
 * string resourceShareInvitationArn ("arn:", at most 2048 bytes), senderAccountId and status (an
 * unknown status is an error: the model's enum is PENDING, ACCEPTED, REJECTED, EXPIRED); at most
 * 500 entries (the model's maxResults); nextToken, when present, a non-empty string of at most
 * 8192 bytes. On success fills *out (initialised here; clean up) and returns 0; on error *out is
 * empty and err says why.
 */
int sl_share_parse_invitations(const cJSON *resp, const char *sender,
                               sl_share_invitations_page *out, char *err,
                               size_t errlen) SL_MUST_CHECK;

/* The same over raw bytes (at most 4 MiB): the fuzzer's entry point. */
int sl_share_parse_invitations_bytes(const char *buf, size_t len, const char *sender,
                                     sl_share_invitations_page *out, char *err,
                                     size_t errlen) SL_MUST_CHECK;

typedef enum sl_share_link_verdict {
    SL_SHARE_LINK_MATCH = 0, /* a resource link to the wanted target */
    SL_SHARE_LINK_CONFLICT   /* a plain database, or a link elsewhere: detail says which */
} sl_share_link_verdict;

/*
 * Reads a GetDatabase answer {Database: {Name, TargetDatabase?: {CatalogId, DatabaseName,
 * Region?}}} against the wanted target. A link matches when CatalogId and DatabaseName are equal
 * and Region, when Glue gives one, is region. Returns 0 with *verdict (and on CONFLICT a
 * description of what is there in detail), or -1 with err when the answer is not of that shape.
 */
int sl_share_parse_link(const cJSON *resp, const char *catalog, const char *database,
                        const char *region, sl_share_link_verdict *verdict, char *detail,
                        size_t detaillen, char *err, size_t errlen) SL_MUST_CHECK;

/* The same over raw bytes (at most 1 MiB): the fuzzer's entry point. */
int sl_share_parse_link_bytes(const char *buf, size_t len, const char *catalog,
                              const char *database, const char *region,
                              sl_share_link_verdict *verdict, char *detail, size_t detaillen,
                              char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Request bodies, shapes as botocore's ram 2018-01-04 and glue 2017-03-31 models say; each a
 * new object the caller cJSON_Deletes, NULL on OOM.
 */
/* POST /getresourceshareinvitations {maxResults, nextToken?} */
cJSON *sl_share_body_invitations(const char *next_token);
/* POST /acceptresourceshareinvitation {resourceShareInvitationArn} */
cJSON *sl_share_body_accept(const char *invitation_arn);
/* AWSGlue.GetDatabase {Name} */
cJSON *sl_share_body_get_database(const char *name);
/* AWSGlue.CreateDatabase {DatabaseInput: {Name, TargetDatabase: {CatalogId, DatabaseName,
   Region}}} */
cJSON *sl_share_body_create_link(const char *name, const char *catalog, const char *database,
                                 const char *region);

#endif /* SL_SHARE_CONSUMER_H */
