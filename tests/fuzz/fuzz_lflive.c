/*
 * fuzz_lflive.c - Lake Formation's answers come from the network: each page parser (the first
 * byte picks which) must never crash, must say why it refuses a page, and must leave the live state
 * as it was when it does; what it accepts is well formed and plans (text and requests included)
 * without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lflive.h"
#include "share.h"

/* The desired state every accepted live state is planned against (built once, kept). */
static const sl_share_desired *desired(void)
{
    static const char doc[] =
        "{\"version\":1,\"tags\":{\"c\":[\"private\",\"public\"]},\"database\":{\"name\":"
        "\"db\",\"tags\":{\"c\":\"private\"}},\"tables\":[{\"match\":\"db.f\",\"filter\":"
        "{\"name\":\"snaplake_f\",\"include\":[\"a\"]}},{\"match\":\"*\",\"tags\":{\"c\":"
        "\"public\"}}],\"grants\":[{\"principal\":\"444455556666\",\"tags\":{\"c\":"
        "\"public\"},\"permissions\":[\"SELECT\"]},{\"principal\":\"444455556666\","
        "\"filters\":[\"*\"],\"permissions\":[\"SELECT\"],\"grant_option\":true}],"
        "\"sensitive_columns\":[\"*email*\"],\"prune\":true}";
    static const char *const cols[] = {"a", "b"};
    static const sl_share_table_in tables[] = {{"f", cols, 2, NULL, 0, 0},
                                               {"t", cols, 2, NULL, 0, 0}};
    static sl_lfpolicy p;
    static sl_share_desired d;
    static int ready;
    char err[16384];

    if (!ready) {
        if (sl_lfpolicy_parse(doc, sizeof(doc) - 1, &p, NULL, err, sizeof(err)) != 0 ||
            sl_share_desire(&p, "x", "111122223333", tables, 2, &d, err, sizeof(err)) != 0)
            abort();
        ready = 1;
    }
    return &d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SL_ERRLEN];
    sl_lflive l;
    size_t before;
    sl_lflive_kind kind;

    if (size < 1)
        return 0;
    kind = (sl_lflive_kind)(data[0] % 7);
    sl_lflive_init(&l);
    err[0] = '\0';
    before = l.ntag_defs + l.ntables + l.nfilters + l.ngrants;
    if (sl_lflive_parse_bytes(kind, (const char *)data + 1, size - 1, &l, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            abort();
        if (l.ntag_defs + l.ntables + l.nfilters + l.ngrants != before || l.ndb_tags)
            abort(); /* a refused page adds nothing */
    }
    for (size_t i = 0; i < l.ngrants; i++) {
        char desc[1024];
        if (!l.grants[i].principal)
            abort();
        sl_lf_resource_describe(&l.grants[i].res, desc, sizeof(desc));
        free(sl_lf_grant_key(l.grants[i].principal, &l.grants[i].res));
    }
    for (size_t i = 0; i < l.nfilters; i++)
        for (size_t j = 1; j < l.filters[i].columns.n; j++)
            if (strcmp(l.filters[i].columns.v[j - 1], l.filters[i].columns.v[j]) >= 0)
                abort(); /* sorted, no duplicates */
    {
        /* Whatever was accepted plans without crashing, and its text and requests build. */
        sl_lf_strv owned = {0};
        sl_share_plan plan;
        sl_buf text;
        if (l.ngrants && sl_lf_strv_push(&owned, "[\"444455556666\",\"Table\",\"db\",\"t\"]") != 0)
            abort();
        if (sl_share_plan_make(desired(), &l, &owned, &plan, err, sizeof(err)) == 0) {
            sl_buf_init(&text, 0);
            if (sl_share_plan_format(&plan, &text) != 0)
                abort();
            sl_buf_cleanup(&text);
            for (size_t i = 0; i < plan.nsteps; i++) {
                const char *path = NULL;
                cJSON_Delete(sl_share_step_request(&plan.steps[i], NULL, &path));
                if (!path)
                    abort();
            }
            sl_share_plan_cleanup(&plan);
        }
        sl_lf_strv_cleanup(&owned);
    }
    sl_lflive_cleanup(&l);
    return 0;
}
