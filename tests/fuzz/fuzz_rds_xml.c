/*
 * fuzz_rds_xml.c - arbitrary bytes through every RDS response parser (rds.h). The first byte
 * picks how pages are fed (one document, or the same one twice to exercise appending).
 * Invariants: no crash or leak; a success yields NUL-terminated fields within their buffers,
 * ids never empty, percentages in -1..100, list sizes within SL_RDS_MAX_ITEMS; a failure
 * leaves the list as it was and the marker untouched, with an error message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rds.h"
#include "xml.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_task(const sl_rds_export_task *t)
{
    ASSERT(memchr(t->id, '\0', sizeof(t->id)) && t->id[0] != '\0');
    ASSERT(memchr(t->status, '\0', sizeof(t->status)));
    ASSERT(memchr(t->source_arn, '\0', sizeof(t->source_arn)));
    ASSERT(memchr(t->failure_cause, '\0', sizeof(t->failure_cause)));
    ASSERT(memchr(t->s3_prefix, '\0', sizeof(t->s3_prefix)));
    ASSERT(t->percent_progress >= -1 && t->percent_progress <= 100);
    ASSERT(t->start_ms >= 0 && t->end_ms >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SL_ERRLEN], marker[64], arn[128];
    xmlDoc *doc;
    int twice;

    if (size < 1)
        return 0;
    twice = data[0] & 1;
    doc = sl_xml_parse((const char *)data + 1, size - 1, err, sizeof(err));
    if (!doc)
        return 0;
    {
        sl_rds_snapshots s = {NULL, 0};
        for (int i = 0; i <= twice; i++) {
            size_t before = s.n;
            strcpy(marker, "x");
            err[0] = '\0';
            if (sl_rds_parse_snapshots(doc, &s, marker, sizeof(marker), err, sizeof(err))) {
                ASSERT(s.n == before && err[0] != '\0' && strcmp(marker, "x") == 0);
                break;
            }
            ASSERT(s.n >= before && s.n <= SL_RDS_MAX_ITEMS && strlen(marker) < sizeof(marker));
            for (size_t k = 0; k < s.n; k++)
                ASSERT(s.items[k].id[0] != '\0' && memchr(s.items[k].arn, '\0', 512));
        }
        sl_rds_snapshots_cleanup(&s);
    }
    {
        sl_rds_export_tasks t = {NULL, 0};
        for (int i = 0; i <= twice; i++) {
            size_t before = t.n;
            strcpy(marker, "x");
            err[0] = '\0';
            if (sl_rds_parse_export_tasks(doc, &t, marker, sizeof(marker), err, sizeof(err))) {
                ASSERT(t.n == before && err[0] != '\0' && strcmp(marker, "x") == 0);
                break;
            }
            for (size_t k = 0; k < t.n; k++)
                check_task(&t.items[k]);
        }
        sl_rds_export_tasks_cleanup(&t);
    }
    {
        sl_rds_export_task one;
        if (sl_rds_parse_export_result(doc, &one, err, sizeof(err)) == 0)
            check_task(&one);
    }
    if (sl_rds_parse_cluster_arn(doc, "prod-db", arn, sizeof(arn), err, sizeof(err)) == 0)
        ASSERT(arn[0] != '\0' && strlen(arn) < sizeof(arn));
    sl_rds_request_id(doc, marker, sizeof(marker));
    ASSERT(strlen(marker) < sizeof(marker));
    xmlFreeDoc(doc);
    return 0;
}
