/* fuzz_copy_plan.c - the copy stage's readers of message fields: sl_copy_plan_time_ms (the
 * snapshot time that orders exports of one day, from a Kafka message) and the ETag / marker
 * helpers of the restart rule. Invariants: a parsed time formats (sl_msg_format_time) and
 * parses back to the same milliseconds; etag_bare never overruns and never grows; a marker
 * matches its own bare ETag exactly when that is not empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/copy_plan.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[32], bare[96];
    long long ms = 0, back = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (sl_copy_plan_time_ms(s, &ms) == 0 && ms >= 0 &&
        sl_msg_format_time(ms, out, sizeof(out)) == 0) {
        if (sl_copy_plan_time_ms(out, &back) != 0 || back != ms)
            abort();
    }
    sl_copy_plan_etag_bare(s, bare, sizeof(bare));
    if (strlen(bare) > strlen(s) || strlen(bare) >= sizeof(bare))
        abort();
    if (strlen(s) < sizeof(bare) - 2 && strchr(s, '"') == NULL &&
        sl_copy_plan_marker_matches(s, s) != (s[0] != '\0'))
        abort();
    free(s);
    return 0;
}
