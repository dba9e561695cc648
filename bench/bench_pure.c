/*
 * bench_pure.c - throughput and memory of the pure hot paths, printed as figures (no
 * thresholds: targets are read off these numbers, never asserted in timed tests).
 *
 *   sigv4   header-form signatures of an S3 CopyObject request per second
 *   keymap  export keys mapped + collision-planned per second (a 10,000-file export)
 *   msg     `copied` messages encoded + decoded per second (with 200 tables listed)
 *   s3list  ListObjectsV2 pages of 1,000 keys (url-encoded, 333 KB) parsed per second
 *
 * Usage: bench_pure [seconds-per-case]   (default 2). Build: `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "keymap.h"
#include "msg.h"
#include "s3.h"
#include "sigv4.h"
#include "util.h"

static double budget_ms = 2000;

static void report(const char *name, long long n, long long ms, const char *unit)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    printf("%-8s %12.0f %s/s   (%lld in %lld ms, peak RSS %ld KiB)\n", name,
           ms ? (double)n * 1000.0 / (double)ms : 0.0, unit, n, ms, ru.ru_maxrss);
}

static int bench_sigv4(void)
{
    const sl_http_header hdrs[] = {
        {"host", "lake-bucket.s3.us-east-1.amazonaws.com"},
        {"x-amz-copy-source", "/exports/s3-export/orders/2024-02-29/orders-2024-02-29-03-05/"
                              "shop/public.orders/1/part-00000-6f1c.gz.parquet"},
        {"x-amz-server-side-encryption", "aws:kms"},
    };
    sl_sigv4_request req = {.method = "PUT",
                            .path = "/lake/orders/shop/public.orders/date%3D2024-02-29/"
                                    "part-00000-6f1c.gz.parquet",
                            .headers = hdrs,
                            .nheaders = SL_ARRAY_LEN(hdrs),
                            .payload_hash = "UNSIGNED-PAYLOAD"};
    sl_sigv4_keys keys = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          "session-token-of-a-few-hundred-bytes"};
    /* With a key cache, as every client signs: the key chain is derived once a day. */
    sl_sigv4_keycache cache = {0};
    sl_sigv4_params p = {
        .region = "us-east-1", .service = "s3", .when = 1709175900, .s3 = 1, .cache = &cache};
    long long t0 = sl_mono_ms(), n = 0;
    char err[SL_ERRLEN];

    while (sl_mono_ms() - t0 < budget_ms) {
        sl_sigv4_result r;
        if (sl_sigv4_sign(&req, &keys, &p, &r, err, sizeof(err)) != 0) {
            fprintf(stderr, "sigv4: %s\n", err);
            sl_sigv4_keycache_cleanup(&cache);
            return 1;
        }
        sl_sigv4_result_cleanup(&r);
        n++;
    }
    sl_sigv4_keycache_cleanup(&cache);
    report("sigv4", n, sl_mono_ms() - t0, "signatures");
    return 0;
}

#define EXPORT_FILES 10000

static int bench_keymap(void)
{
    sl_keymap_ctx ctx = {"s3-export/orders/2024-02-29/orders-2024-02-29-03-05", "lake", "orders",
                         "2024-02-29"};
    sl_keymap_entry *e = calloc(EXPORT_FILES, sizeof(*e));
    char key[512], err[SL_ERRLEN];
    long long t0 = sl_mono_ms(), n = 0;

    if (!e)
        return 1;
    while (sl_mono_ms() - t0 < budget_ms) {
        size_t renamed = 0;
        for (int i = 0; i < EXPORT_FILES; i++) {
            /* 40 tables x 5 partitions x 50 files, current convention, names repeating per
               partition (the collision planner's worst ordinary case). */
            snprintf(key, sizeof(key), "%s/shop/public.t%02d/%d/part-%05d-6f1c4e.gz.parquet",
                     ctx.export_root, i % 40, (i / 40) % 5 + 1, i / 200);
            if (sl_keymap_map(&ctx, key, &e[i], err, sizeof(err)) != 0) {
                fprintf(stderr, "keymap: %s\n", err);
                return 1;
            }
        }
        if (sl_keymap_plan(e, EXPORT_FILES, &renamed, err, sizeof(err)) != 0) {
            fprintf(stderr, "keymap plan: %s\n", err);
            return 1;
        }
        for (int i = 0; i < EXPORT_FILES; i++)
            sl_keymap_entry_cleanup(&e[i]);
        n += EXPORT_FILES;
    }
    report("keymap", n, sl_mono_ms() - t0, "keys");
    free(e);
    return 0;
}

static int bench_msg(void)
{
    sl_msg m;
    char err[SL_ERRLEN], name[64];
    long long t0, n = 0;

    sl_msg_init(&m);
    m.type = SL_MSG_COPIED;
    m.run_id = strdup("orders-2024-02-29-03-05");
    m.cluster = strdup("orders");
    m.mode = strdup("snapshot");
    m.snapshot_id = strdup("rds:orders-2024-02-29-03-05");
    m.source_arn = strdup("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-x");
    m.date = strdup("2024-02-29");
    m.source = strdup("event");
    m.produced_at = strdup("2024-02-29T03:06:00.000Z");
    m.export_task_id = strdup("orders-2024-02-29-03-05");
    m.s3_bucket = strdup("exports");
    m.s3_prefix = strdup("s3-export/orders/2024-02-29");
    m.lake_bucket = strdup("lake");
    m.lake_prefix = strdup("lake");
    m.copied_at = strdup("2024-02-29T03:30:00.000Z");
    m.objects = 9000;
    m.bytes = 123456789;
    m.ntables = 200;
    m.tables = calloc(m.ntables, sizeof(char *));
    for (size_t i = 0; m.tables && i < m.ntables; i++) {
        snprintf(name, sizeof(name), "shop/public.table_%03zu", i);
        m.tables[i] = strdup(name);
    }
    t0 = sl_mono_ms();
    while (sl_mono_ms() - t0 < budget_ms) {
        char *out = NULL;
        size_t len = 0;
        sl_msg back;
        if (sl_msg_encode(&m, &out, &len, err, sizeof(err)) != 0 ||
            sl_msg_decode(out, len, &back, err, sizeof(err)) != 0) {
            fprintf(stderr, "msg: %s\n", err);
            free(out);
            sl_msg_cleanup(&m);
            return 1;
        }
        sl_msg_cleanup(&back);
        free(out);
        n++;
    }
    report("msg", n, sl_mono_ms() - t0, "round trips");
    sl_msg_cleanup(&m);
    return 0;
}

/* One page as S3 answers an export's table folder: 1,000 Contents of RDS part files. */
static int bench_s3list(void)
{
    sl_buf b;
    char err[SL_ERRLEN];
    long long t0, n = 0;
    int rc = 0;

    sl_buf_init(&b, 0);
    if (sl_buf_appendf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>exports</Name>"
                           "<Prefix>s3-export/</Prefix><KeyCount>1000</KeyCount><MaxKeys>1000"
                           "</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true"
                           "</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J"
                           "</NextContinuationToken>"))
        rc = 1;
    for (int i = 0; !rc && i < 1000; i++)
        if (sl_buf_appendf(&b,
                           "<Contents><Key>s3-export/orders/2024-02-29/orders-2024-02-29-03-05/"
                           "shop/shop.orders/1/part-%05d-6f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f-"
                           "c000.gz.parquet</Key><LastModified>2024-02-29T03:20:00.000Z"
                           "</LastModified><ETag>&quot;%032x&quot;</ETag><Size>%d</Size>"
                           "<StorageClass>STANDARD</StorageClass></Contents>",
                           i, (unsigned)i * 2654435761u, 1024 + i))
            rc = 1;
    if (rc || sl_buf_append(&b, "</ListBucketResult>", 19)) {
        fprintf(stderr, "s3list: out of memory\n");
        sl_buf_cleanup(&b);
        return 1;
    }
    t0 = sl_mono_ms();
    while (sl_mono_ms() - t0 < budget_ms) {
        sl_s3_list_page pg;
        if (sl_s3_list_parse(b.data, b.len, 1, &pg, err, sizeof(err)) != 0 || pg.count != 1000) {
            fprintf(stderr, "s3list: %s\n", err);
            sl_buf_cleanup(&b);
            return 1;
        }
        sl_s3_list_page_cleanup(&pg);
        n++;
    }
    report("s3list", n, sl_mono_ms() - t0, "pages");
    sl_buf_cleanup(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        budget_ms = atof(argv[1]) * 1000.0;
    if (budget_ms <= 0)
        budget_ms = 2000;
    return bench_sigv4() || bench_keymap() || bench_msg() || bench_s3list();
}
