/* lfpolicy_file.c - see lfpolicy_file.h. */
#include "lfpolicy_file.h"

#include <stdio.h>
#include <stdlib.h>

int sl_lfpolicy_load_file(const char *path, sl_lfpolicy *out, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    char *buf = NULL, *e = NULL;
    size_t len = 0, nerr = 0;
    int rc = -1;

    if (!f)
        return sl_seterr(err, errlen, "%s: cannot open the share policy", path ? path : "(unset)");
    if (!(buf = malloc(SL_LFP_MAX_BYTES + 1)) || !(e = malloc(16384))) {
        sl_seterr(err, errlen, "%s: out of memory", path);
        goto out;
    }
    len = fread(buf, 1, SL_LFP_MAX_BYTES + 1, f);
    if (ferror(f)) {
        sl_seterr(err, errlen, "%s: cannot read the share policy", path);
        goto out;
    }
    if (len > SL_LFP_MAX_BYTES) {
        sl_seterr(err, errlen, "%s: the share policy is over %zu bytes", path,
                  (size_t)SL_LFP_MAX_BYTES);
        goto out;
    }
    if (sl_lfpolicy_parse(buf, len, out, &nerr, e, 16384) != 0) {
        sl_seterr(err, errlen, "%s: %zu error(s) in the share policy:\n%s", path, nerr, e);
        goto out;
    }
    rc = 0;
out:
    fclose(f);
    free(buf);
    free(e);
    return rc;
}
