/*
 * share_consumer_req.c - the pure pieces of the consumer side (share_consumer.h): the link
 * name, the RAM and Glue request bodies, and the readers of their answers. No I/O.
 *
 * The answers come from the network, so every member is type-checked and bounded before it is
 * used (tests/fuzz/fuzz_share_consumer.c).
 */
#include "share_consumer.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "json.h"

#define INV_PAGE_MAX 500   /* GetResourceShareInvitations maxResults (model: 1..500) */
#define INV_ARN_MAX 2048   /* ARNs: IAM's limit, generous for RAM's */
#define INV_TOKEN_MAX 8192 /* nextToken: opaque, bounded so it is never unbounded input */
#define INV_BYTES_MAX ((size_t)4 << 20)
#define LINK_BYTES_MAX ((size_t)1 << 20)

int sl_share_link_name(const char *tmpl, const char *database, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    sl_cat_name_vars v = {.database = database};

    if (!tmpl || !*tmpl)
        tmpl = SL_SHARE_LINK_TEMPLATE_DEFAULT;
    if (!database || !*database)
        return sl_seterr(err, errlen, "link name: no source database");
    /* {database} is the only placeholder: the catalog's others mean nothing for a link. */
    for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{'))
        if (strncmp(p, "{database}", 10) != 0)
            return sl_seterr(err, errlen,
                             "link name template \"%.100s\": {database} is the "
                             "only placeholder",
                             tmpl);
    /* The catalog's own naming (lower case, [a-z0-9_]): what Glue keeps and Athena reads
       unquoted, so the link reads back under the name it was created with. */
    return sl_catalog_name(tmpl, &v, out, outlen, err, errlen);
}

/* --- bodies ---------------------------------------------------------------------------------- */

cJSON *sl_share_body_invitations(const char *next_token)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || !cJSON_AddNumberToObject(b, "maxResults", INV_PAGE_MAX) ||
        (next_token && !cJSON_AddStringToObject(b, "nextToken", next_token))) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *sl_share_body_accept(const char *invitation_arn)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || !cJSON_AddStringToObject(b, "resourceShareInvitationArn", invitation_arn)) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *sl_share_body_get_database(const char *name)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || !cJSON_AddStringToObject(b, "Name", name)) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *sl_share_body_create_link(const char *name, const char *catalog, const char *database,
                                 const char *region)
{
    cJSON *b = cJSON_CreateObject(), *in, *t;

    if (!b || !(in = cJSON_AddObjectToObject(b, "DatabaseInput")) ||
        !cJSON_AddStringToObject(in, "Name", name) ||
        !(t = cJSON_AddObjectToObject(in, "TargetDatabase")) ||
        !cJSON_AddStringToObject(t, "CatalogId", catalog) ||
        !cJSON_AddStringToObject(t, "DatabaseName", database) ||
        !cJSON_AddStringToObject(t, "Region", region)) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* --- GetResourceShareInvitations ------------------------------------------------------------ */

void sl_share_invitations_page_cleanup(sl_share_invitations_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->npending; i++) {
        free(p->pending[i]);
        free(p->pending_names[i]);
    }
    free(p->pending);
    free(p->pending_names);
    free(p->next_token);
    memset(p, 0, sizeof(*p));
}

int sl_share_parse_invitations(const cJSON *resp, const char *sender,
                               sl_share_invitations_page *out, char *err, size_t errlen)
{
    sl_share_invitations_page pg;
    const cJSON *list, *tok, *it;
    size_t n, i = 0;

    memset(&pg, 0, sizeof(pg));
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "GetResourceShareInvitations: answer is not an object");
    list = cJSON_GetObjectItemCaseSensitive(resp, "resourceShareInvitations");
    if (list && !cJSON_IsArray(list))
        return sl_seterr(err, errlen,
                         "GetResourceShareInvitations: resourceShareInvitations is not a list");
    n = list ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n > INV_PAGE_MAX)
        return sl_seterr(err, errlen,
                         "GetResourceShareInvitations: %zu entries on one page "
                         "(at most %d)",
                         n, INV_PAGE_MAX);
    tok = cJSON_GetObjectItemCaseSensitive(resp, "nextToken");
    if (tok && !cJSON_IsNull(tok) &&
        (!cJSON_IsString(tok) || !tok->valuestring[0] || strlen(tok->valuestring) > INV_TOKEN_MAX))
        return sl_seterr(err, errlen,
                         "GetResourceShareInvitations: nextToken is not a "
                         "non-empty string of at most %d bytes",
                         INV_TOKEN_MAX);
    if (n && (!(pg.pending = calloc(n, sizeof(*pg.pending))) ||
              !(pg.pending_names = calloc(n, sizeof(*pg.pending_names)))))
        goto oom;
    cJSON_ArrayForEach(it, list)
    {
        const char *arn = sl_json_str(it, "resourceShareInvitationArn");
        const char *from = sl_json_str(it, "senderAccountId");
        const char *status = sl_json_str(it, "status");
        const char *name = sl_json_str(it, "resourceShareName");
        size_t idx = i++;

        if (!cJSON_IsObject(it) || !arn || !from || !status) {
            sl_seterr(err, errlen,
                      "GetResourceShareInvitations: entry %zu lacks "
                      "resourceShareInvitationArn, senderAccountId or status "
                      "(strings)",
                      idx);
            goto fail;
        }
        if (strncmp(arn, "arn:", 4) != 0 || strlen(arn) > INV_ARN_MAX) {
            sl_seterr(err, errlen,
                      "GetResourceShareInvitations: entry %zu: "
                      "resourceShareInvitationArn is not an ARN",
                      idx);
            goto fail;
        }
        if (strcmp(status, "PENDING") != 0 && strcmp(status, "ACCEPTED") != 0 &&
            strcmp(status, "REJECTED") != 0 && strcmp(status, "EXPIRED") != 0) {
            sl_seterr(err, errlen,
                      "GetResourceShareInvitations: entry %zu: unknown status "
                      "\"%.32s\"",
                      idx, status);
            goto fail;
        }
        if (strcmp(from, sender) != 0)
            continue;
        pg.seen++;
        if (strcmp(status, "ACCEPTED") == 0) {
            pg.accepted++;
        } else if (strcmp(status, "PENDING") != 0) {
            pg.skipped++;
        } else {
            pg.pending[pg.npending] = strdup(arn);
            pg.pending_names[pg.npending] = strndup(name ? name : "", 256);
            if (!pg.pending[pg.npending] || !pg.pending_names[pg.npending]) {
                free(pg.pending[pg.npending]);
                free(pg.pending_names[pg.npending]);
                goto oom;
            }
            pg.npending++;
        }
    }
    if (cJSON_IsString(tok) && !(pg.next_token = strdup(tok->valuestring)))
        goto oom;
    *out = pg;
    return 0;
oom:
    sl_seterr(err, errlen, "GetResourceShareInvitations: out of memory");
fail:
    sl_share_invitations_page_cleanup(&pg);
    return -1;
}

int sl_share_parse_invitations_bytes(const char *buf, size_t len, const char *sender,
                                     sl_share_invitations_page *out, char *err, size_t errlen)
{
    cJSON *j;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > INV_BYTES_MAX)
        return sl_seterr(err, errlen, "GetResourceShareInvitations: answer over %zu bytes",
                         INV_BYTES_MAX);
    if (!(j = cJSON_ParseWithLength(buf, len)))
        return sl_seterr(err, errlen, "GetResourceShareInvitations: answer is not JSON");
    rc = sl_share_parse_invitations(j, sender, out, err, errlen);
    cJSON_Delete(j);
    return rc;
}

/* --- GetDatabase ----------------------------------------------------------------------------- */

int sl_share_parse_link(const cJSON *resp, const char *catalog, const char *database,
                        const char *region, sl_share_link_verdict *verdict, char *detail,
                        size_t detaillen, char *err, size_t errlen)
{
    const cJSON *db, *t;
    const char *tc, *td, *tr;

    db = cJSON_IsObject(resp) ? cJSON_GetObjectItemCaseSensitive(resp, "Database") : NULL;
    if (!cJSON_IsObject(db) || !sl_json_str(db, "Name"))
        return sl_seterr(err, errlen, "GetDatabase: answer has no Database object with a Name");
    t = cJSON_GetObjectItemCaseSensitive(db, "TargetDatabase");
    if (!t || cJSON_IsNull(t)) {
        *verdict = SL_SHARE_LINK_CONFLICT;
        snprintf(detail, detaillen, "a database of its own, not a resource link");
        return 0;
    }
    tc = sl_json_str(t, "CatalogId");
    td = sl_json_str(t, "DatabaseName");
    tr = sl_json_str(t, "Region");
    if (!cJSON_IsObject(t) || !tc || !td ||
        (cJSON_GetObjectItemCaseSensitive(t, "Region") && !tr &&
         !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "Region"))))
        return sl_seterr(err, errlen,
                         "GetDatabase: TargetDatabase lacks CatalogId or "
                         "DatabaseName (strings), or its Region is not a string");
    if (strcmp(tc, catalog) == 0 && strcmp(td, database) == 0 &&
        (!tr || !*tr || strcmp(tr, region) == 0)) {
        *verdict = SL_SHARE_LINK_MATCH;
        if (detaillen)
            detail[0] = '\0';
        return 0;
    }
    *verdict = SL_SHARE_LINK_CONFLICT;
    snprintf(detail, detaillen, "a resource link to %.20s:%.255s%s%.40s", tc, td,
             tr && *tr ? " in " : "", tr ? tr : "");
    return 0;
}

int sl_share_parse_link_bytes(const char *buf, size_t len, const char *catalog,
                              const char *database, const char *region,
                              sl_share_link_verdict *verdict, char *detail, size_t detaillen,
                              char *err, size_t errlen)
{
    cJSON *j;
    int rc;

    if (len > LINK_BYTES_MAX)
        return sl_seterr(err, errlen, "GetDatabase: answer over %zu bytes", LINK_BYTES_MAX);
    if (!(j = cJSON_ParseWithLength(buf, len)))
        return sl_seterr(err, errlen, "GetDatabase: answer is not JSON");
    rc = sl_share_parse_link(j, catalog, database, region, verdict, detail, detaillen, err, errlen);
    cJSON_Delete(j);
    return rc;
}
