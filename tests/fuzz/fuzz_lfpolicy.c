/*
 * fuzz_lfpolicy.c - the share policy comes from an operator's file or ConfigMap: parsing must
 * never crash, every rejection says why, and what it accepts holds what the rest of the share
 * stage relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lfpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[16384];
    sl_lfpolicy p;
    size_t nerr = 0;

    if (sl_lfpolicy_parse((const char *)data, size, &p, &nerr, err, sizeof(err)) == 0) {
        if (nerr != 0 || !p.database || !p.filter_prefix || p.ntags == 0 || p.ngrants == 0)
            abort();
        for (size_t i = 0; i < p.nrules; i++) {
            const sl_lfp_rule *r = &p.rules[i];
            if (!r->match || (r->kind == SL_LFP_RULE_FILTER && !r->filter_name))
                abort();
            if (r->kind == SL_LFP_RULE_FILTER &&
                strncmp(r->filter_name, p.filter_prefix, strlen(p.filter_prefix)) != 0)
                abort();
        }
        for (size_t i = 0; i < p.ngrants; i++)
            if (!p.grants[i].principal || !p.grants[i].perms)
                abort();
        sl_lfpolicy_cleanup(&p);
    } else if (err[0] == '\0' || nerr == 0) {
        abort(); /* every rejection says why */
    }
    return 0;
}
