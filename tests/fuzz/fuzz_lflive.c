/*
 * fuzz_lflive.c - Lake Formation's answers come from the network: each page parser (the first
 * byte picks which) must never crash, must say why it refuses a page, and must leave the live state
 * as it was when it does; what it accepts is well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lflive.h"

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
    sl_lflive_cleanup(&l);
    return 0;
}
