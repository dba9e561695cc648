/* fuzz_event.c - EventBridge event parser. Invariants: never crashes; the outcome is exactly
 * one of ok / malformed / not matching; a reason is given unless ok and starts with the
 * class's word; an accepted event's snapshot id re-parses to the same parts and derives an
 * export task id that passes AWS's rules; the allowlist only ever narrows the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const allow[] = {"orders", "b"};
    char reason[SL_ERRLEN], ierr[SL_ERRLEN], tid[SL_IDS_BUFLEN];
    sl_event ev, ev2;
    sl_snapshot_id sid;
    int rc, rc2;

    reason[0] = '\0';
    rc = sl_event_parse((const char *)data, size, NULL, 0, &ev, reason, sizeof(reason));
    if (rc == SL_EVENT_OK) {
        if (sl_ids_parse_snapshot(ev.snapshot_id, &sid, ierr, sizeof(ierr)) ||
            strcmp(sid.cluster, ev.cluster) || strcmp(sid.date, ev.date) ||
            strcmp(sid.time, ev.time))
            abort();
        if (sl_ids_export_task_id(&sid, "sl-", tid, sizeof(tid), ierr, sizeof(ierr)) ||
            !sl_ids_export_task_id_valid(tid))
            abort();
        if (!strstr(ev.snapshot_arn, ev.snapshot_id))
            abort();
    } else if (rc == SL_EVENT_MALFORMED) {
        if (strncmp(reason, "malformed: ", 11) != 0 || ev.cluster)
            abort();
    } else if (rc == SL_EVENT_NOT_MATCHING) {
        if (strncmp(reason, "not matching: ", 14) != 0 || ev.cluster)
            abort();
    } else {
        abort(); /* -1 is out of memory only */
    }
    /* With an allowlist: OK may become NOT_MATCHING, nothing else changes. */
    rc2 = sl_event_parse((const char *)data, size, allow, 2, &ev2, reason, sizeof(reason));
    if (rc2 != rc && !(rc == SL_EVENT_OK && rc2 == SL_EVENT_NOT_MATCHING))
        abort();
    if (rc2 == SL_EVENT_OK && strncmp(ev2.cluster, "orders", 6) && ev2.cluster[0] != 'b')
        abort();
    sl_event_cleanup(&ev);
    sl_event_cleanup(&ev2);

    /* The JSON-lines splitter: lines lie inside the buffer, are non-empty and in order. */
    {
        size_t pos = 0, len, last_end = 0;
        const char *line;
        while (sl_event_next_line((const char *)data, size, &pos, &line, &len)) {
            size_t off = (size_t)(line - (const char *)data);
            if (len == 0 || off < last_end || off + len > size || pos > size)
                abort();
            last_end = off + len;
        }
        if (pos != size)
            abort();
    }
    return 0;
}
