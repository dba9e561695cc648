/*
 * fuzz_share_consumer.c - RAM's and Glue's answers come from the network: the consumer side's
 * readers (share_consumer.h; the first byte picks which) must never crash, must say why they
 * refuse an answer and hand out nothing when they do; what they accept is well formed (every
 * pending ARN an "arn:" string, counts that add up).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "share_consumer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SL_ERRLEN];

    if (size < 1)
        return 0;
    err[0] = '\0';
    if (data[0] & 1) {
        sl_share_invitations_page pg;
        if (sl_share_parse_invitations_bytes((const char *)data + 1, size - 1, "123456789012", &pg,
                                             err, sizeof(err)) != 0) {
            if (err[0] == '\0' || pg.npending || pg.next_token || pg.seen)
                abort();
            return 0;
        }
        if ((size_t)pg.seen < pg.npending + (size_t)pg.accepted + (size_t)pg.skipped)
            abort();
        for (size_t i = 0; i < pg.npending; i++)
            if (strncmp(pg.pending[i], "arn:", 4) != 0 || !pg.pending_names[i])
                abort();
        if (pg.next_token && !pg.next_token[0])
            abort();
        sl_share_invitations_page_cleanup(&pg);
    } else {
        sl_share_link_verdict v = SL_SHARE_LINK_MATCH;
        char detail[512];
        detail[0] = '\0';
        if (sl_share_parse_link_bytes((const char *)data + 1, size - 1, "123456789012", "db",
                                      "us-east-1", &v, detail, sizeof(detail), err,
                                      sizeof(err)) != 0) {
            if (err[0] == '\0')
                abort();
            return 0;
        }
        if (v == SL_SHARE_LINK_CONFLICT && detail[0] == '\0')
            abort();
    }
    return 0;
}
