/*
 * fuzz_share_tables.c - Glue's GetTables answers come from the network: the share stage's page
 * parser must never crash, must say why it refuses a page and leave what it read before as it
 * was; what it accepts has a name per table and per column, and plans (desired state, drift
 * guard) without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "share.h"
#include "share_tables.h"

static const sl_lfpolicy *policy(void)
{
    static const char doc[] =
        "{\"version\":1,\"tags\":{\"c\":[\"private\",\"public\"]},\"database\":{\"name\":"
        "\"db\",\"tags\":{\"c\":\"private\"}},\"tables\":[{\"match\":\"db.f\",\"filter\":"
        "{\"name\":\"snaplake_f\",\"include\":[\"a\"]}},{\"match\":\"*\",\"tags\":{\"c\":"
        "\"public\"}}],\"grants\":[{\"principal\":\"444455556666\",\"tags\":{\"c\":"
        "\"public\"},\"permissions\":[\"SELECT\"]}],\"sensitive_columns\":[\"*email*\"]}";
    static sl_lfpolicy p;
    static int ready;
    char err[16384];

    if (!ready) {
        if (sl_lfpolicy_parse(doc, sizeof(doc) - 1, &p, NULL, err, sizeof(err)) != 0)
            abort();
        ready = 1;
    }
    return &p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seed[] = "{\"TableList\":[{\"Name\":\"seen\"}]}";
    sl_share_tables t = {0};
    sl_share_desired d;
    char next[4096], err[SL_ERRLEN];

    /* A page read before: a refused page must leave it as it was. */
    if (sl_share_tables_parse_bytes(&t, seed, sizeof(seed) - 1, next, sizeof(next), err,
                                    sizeof(err)) != 0 ||
        t.n != 1)
        abort();
    err[0] = '\0';
    if (sl_share_tables_parse_bytes(&t, (const char *)data, size, next, sizeof(next), err,
                                    sizeof(err)) != 0) {
        if (err[0] == '\0' || t.n != 1 || strcmp(t.v[0].name, "seen") != 0)
            abort();
    } else {
        if (strlen(next) >= sizeof(next))
            abort();
        for (size_t i = 0; i < t.n; i++) {
            if (!t.v[i].name || !t.v[i].name[0] || (t.v[i].ncolumns && !t.v[i].columns))
                abort();
            for (size_t j = 0; j < t.v[i].ncolumns; j++)
                if (!t.v[i].columns[j] || !t.v[i].columns[j][0])
                    abort();
        }
        /* Names Glue would refuse are the desired state's to refuse, never a crash. */
        if (sl_share_desire(policy(), "x", "111122223333", t.v, t.n, &d, err, sizeof(err)) == 0)
            sl_share_desired_cleanup(&d);
    }
    sl_share_tables_cleanup(&t);
    return 0;
}
