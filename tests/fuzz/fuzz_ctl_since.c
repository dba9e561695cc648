/* fuzz_ctl_since.c - snaplakectl's --since / --from-time reader (ctl/ctl_db.c), an operator's
 * text. Invariants: it never crashes or overreads; an accepted date-time (not a span) is a
 * real UTC instant from 1970 on, and that instant written back as YYYY-MM-DDTHH:MM:SSZ parses
 * to the same second. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../ctl/ctl_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[64];
    long long t = 0, back = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (ctl_parse_since(s, &t) == 0 && s[0] && s[strlen(s) - 1] != 's' && s[strlen(s) - 1] != 'm' &&
        s[strlen(s) - 1] != 'h' && s[strlen(s) - 1] != 'd') {
        time_t tt = (time_t)t;
        struct tm tm;
        if (t < 0 || !gmtime_r(&tt, &tm) ||
            strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
            ctl_parse_since(out, &back) != 0 || back != t)
            abort();
    }
    free(s);
    return 0;
}
