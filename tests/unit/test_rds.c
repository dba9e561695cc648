/* test_rds.c - the RDS response parsers over fixtures shaped as the RDS API reference and the
 * service model (botocore rds/2014-10-31: resultWrapper *Result, list members named by their
 * locationName: DBClusterSnapshot, ExportTask, DBCluster) document them. */
#include <stdlib.h>
#include <string.h>

#include "rds.h"
#include "sl_test.h"
#include "xml.h"

#define NS "xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\""

static const char SNAPS_PAGE1[] =
    "<DescribeDBClusterSnapshotsResponse " NS ">\n"
    "  <DescribeDBClusterSnapshotsResult>\n"
    "    <Marker>page-2-token</Marker>\n"
    "    <DBClusterSnapshots>\n"
    "      <DBClusterSnapshot>\n"
    "        <AvailabilityZones><AvailabilityZone>us-east-1a</AvailabilityZone>"
    "</AvailabilityZones>\n"
    "        "
    "<DBClusterSnapshotIdentifier>rds:prod-db-2024-02-29-03-05</DBClusterSnapshotIdentifier>\n"
    "        <DBClusterIdentifier>prod-db</DBClusterIdentifier>\n"
    "        <SnapshotCreateTime>2024-02-29T03:05:41.518Z</SnapshotCreateTime>\n"
    "        <Engine>aurora-postgresql</Engine>\n"
    "        <Status>available</Status>\n"
    "        <SnapshotType>automated</SnapshotType>\n"
    "        <PercentProgress>100</PercentProgress>\n"
    "        <DBClusterSnapshotArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:"
    "prod-db-2024-02-29-03-05</DBClusterSnapshotArn>\n"
    "      </DBClusterSnapshot>\n"
    "      <DBClusterSnapshot>\n"
    "        "
    "<DBClusterSnapshotIdentifier>rds:orders-2024-02-29-04-10</DBClusterSnapshotIdentifier>\n"
    "        <DBClusterIdentifier>orders</DBClusterIdentifier>\n"
    "        <SnapshotCreateTime>2024-02-29T04:10:00Z</SnapshotCreateTime>\n"
    "        <Status>creating</Status>\n"
    "        <SnapshotType>automated</SnapshotType>\n"
    "        <DBClusterSnapshotArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:"
    "orders-2024-02-29-04-10</DBClusterSnapshotArn>\n"
    "      </DBClusterSnapshot>\n"
    "    </DBClusterSnapshots>\n"
    "  </DescribeDBClusterSnapshotsResult>\n"
    "  <ResponseMetadata><RequestId>6c3bd8d1-2a4f-4a4c-9a0e-0d1f1e2b3c4d</RequestId>"
    "</ResponseMetadata>\n"
    "</DescribeDBClusterSnapshotsResponse>\n";

/* Last page: no Marker, no namespace (some endpoints omit it). */
static const char SNAPS_PAGE2[] =
    "<DescribeDBClusterSnapshotsResponse><DescribeDBClusterSnapshotsResult>"
    "<DBClusterSnapshots><DBClusterSnapshot>"
    "<DBClusterSnapshotIdentifier>rds:billing-2024-03-01-00-00</DBClusterSnapshotIdentifier>"
    "<DBClusterIdentifier>billing</DBClusterIdentifier>"
    "<SnapshotCreateTime>2024-03-01T00:00:00+00:00</SnapshotCreateTime>"
    "<Status>available</Status><SnapshotType>automated</SnapshotType>"
    "<DBClusterSnapshotArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:billing-"
    "2024-03-01-00-00</DBClusterSnapshotArn>"
    "</DBClusterSnapshot></DBClusterSnapshots>"
    "</DescribeDBClusterSnapshotsResult></DescribeDBClusterSnapshotsResponse>";

static const char TASKS[] =
    "<DescribeExportTasksResponse " NS ">\n"
    "  <DescribeExportTasksResult>\n"
    "    <ExportTasks>\n"
    "      <ExportTask>\n"
    "        <ExportTaskIdentifier>prod-db-2024-02-29-03-05</ExportTaskIdentifier>\n"
    "        <SourceArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-db-2024-02-"
    "29-03-05</SourceArn>\n"
    "        <ExportOnly><member>app.public.users</member></ExportOnly>\n"
    "        <SnapshotTime>2024-02-29T03:05:41.518Z</SnapshotTime>\n"
    "        <TaskStartTime>2024-02-29T03:20:00.250Z</TaskStartTime>\n"
    "        <TaskEndTime>2024-02-29T03:41:10Z</TaskEndTime>\n"
    "        <S3Bucket>export-bucket</S3Bucket>\n"
    "        <S3Prefix>s3-export/prod-db/2024-02-29</S3Prefix>\n"
    "        <IamRoleArn>arn:aws:iam::123456789012:role/export</IamRoleArn>\n"
    "        <KmsKeyId>arn:aws:kms:us-east-1:123456789012:key/abcd</KmsKeyId>\n"
    "        <Status>COMPLETE</Status>\n"
    "        <PercentProgress>100</PercentProgress>\n"
    "        <TotalExtractedDataInGB>3</TotalExtractedDataInGB>\n"
    "        <SourceType>SNAPSHOT</SourceType>\n"
    "      </ExportTask>\n"
    "      <ExportTask>\n"
    "        <ExportTaskIdentifier>orders-2024-02-29-04-10</ExportTaskIdentifier>\n"
    "        <SourceArn>arn:aws:rds:us-east-1:123456789012:cluster:orders</SourceArn>\n"
    "        <TaskStartTime>2024-02-29T04:20:00Z</TaskStartTime>\n"
    "        <S3Bucket>export-bucket</S3Bucket>\n"
    "        <Status>FAILED</Status>\n"
    "        <PercentProgress>40</PercentProgress>\n"
    "        <FailureCause>The IAM role doesn&apos;t have access to the bucket</FailureCause>\n"
    "        <SourceType>CLUSTER</SourceType>\n"
    "      </ExportTask>\n"
    "      <ExportTask>\n"
    "        <ExportTaskIdentifier>other-team-export</ExportTaskIdentifier>\n"
    "        <Status>in_progress</Status>\n"
    "        <PercentProgress>not-a-number</PercentProgress>\n"
    "      </ExportTask>\n"
    "    </ExportTasks>\n"
    "  </DescribeExportTasksResult>\n"
    "  <ResponseMetadata><RequestId>req-42</RequestId></ResponseMetadata>\n"
    "</DescribeExportTasksResponse>\n";

static const char START_RESULT[] =
    "<StartExportTaskResponse " NS "><StartExportTaskResult>"
    "<ExportTaskIdentifier>prod-db-2024-02-29-03-05</ExportTaskIdentifier>"
    "<SourceArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-db-2024-02-29-03-05"
    "</SourceArn><S3Bucket>export-bucket</S3Bucket><S3Prefix>s3-export/prod-db/2024-02-29"
    "</S3Prefix><Status>STARTING</Status><PercentProgress>0</PercentProgress>"
    "</StartExportTaskResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>"
    "</StartExportTaskResponse>";

static const char CANCEL_RESULT[] =
    "<CancelExportTaskResponse " NS "><CancelExportTaskResult>"
    "<ExportTaskIdentifier>x1</ExportTaskIdentifier><Status>CANCELING</Status>"
    "</CancelExportTaskResult></CancelExportTaskResponse>";

static const char CLUSTERS[] =
    "<DescribeDBClustersResponse " NS "><DescribeDBClustersResult><DBClusters>"
    "<DBCluster><DBClusterIdentifier>other</DBClusterIdentifier>"
    "<DBClusterArn>arn:aws:rds:us-east-1:123456789012:cluster:other</DBClusterArn></DBCluster>"
    "<DBCluster><DBClusterIdentifier>prod-db</DBClusterIdentifier><Status>available</Status>"
    "<DBClusterArn>arn:aws:rds:us-east-1:123456789012:cluster:prod-db</DBClusterArn></DBCluster>"
    "</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>";

static xmlDoc *doc_of(const char *s)
{
    char err[SL_ERRLEN];
    return sl_xml_parse(s, strlen(s), err, sizeof(err));
}

static void test_snapshots_two_pages(void)
{
    sl_rds_snapshots l = {NULL, 0};
    char marker[256], err[SL_ERRLEN], rid[64];
    xmlDoc *d1 = doc_of(SNAPS_PAGE1), *d2 = doc_of(SNAPS_PAGE2);
    int rc1, rc2;

    CHECK(d1 && d2);
    rc1 = sl_rds_parse_snapshots(d1, &l, marker, sizeof(marker), err, sizeof(err));
    sl_rds_request_id(d1, rid, sizeof(rid));
    xmlFreeDoc(d1);
    if (rc1 == 0 && strcmp(marker, "page-2-token") == 0)
        rc2 = sl_rds_parse_snapshots(d2, &l, marker, sizeof(marker), err, sizeof(err));
    else
        rc2 = -2;
    xmlFreeDoc(d2);
    if (rc1 || rc2 || l.n != 3) {
        sl_rds_snapshots_cleanup(&l);
        CHECK_INT(rc1, 0);
        CHECK_INT(rc2, 0);
        CHECK_INT(l.n, 3);
    }
    CHECK_STR(rid, "6c3bd8d1-2a4f-4a4c-9a0e-0d1f1e2b3c4d");
    CHECK_STR(marker, "");
    CHECK_STR(l.items[0].id, "rds:prod-db-2024-02-29-03-05");
    CHECK_STR(l.items[0].cluster, "prod-db");
    CHECK_STR(l.items[0].status, "available");
    CHECK_STR(l.items[0].snapshot_type, "automated");
    CHECK_STR(l.items[0].arn,
              "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-db-2024-02-29-03-05");
    CHECK_INT(l.items[0].create_ms, 1709175941518LL);
    CHECK_STR(l.items[1].status, "creating");
    CHECK_INT(l.items[1].create_ms, 1709179800000LL);
    CHECK_STR(l.items[2].cluster, "billing");
    CHECK_INT(l.items[2].create_ms, 1709251200000LL);
    sl_rds_snapshots_cleanup(&l);
    CHECK(l.items == NULL && l.n == 0);
}

static void test_export_tasks_fields(void)
{
    sl_rds_export_tasks l = {NULL, 0};
    char marker[16], err[SL_ERRLEN];
    xmlDoc *d = doc_of(TASKS);
    int rc;

    CHECK(d);
    rc = sl_rds_parse_export_tasks(d, &l, marker, sizeof(marker), err, sizeof(err));
    xmlFreeDoc(d);
    CHECK_INT(rc, 0);
    if (l.n != 3) {
        sl_rds_export_tasks_cleanup(&l);
        CHECK_INT(l.n, 3);
    }
    CHECK_STR(marker, "");
    CHECK_STR(l.items[0].id, "prod-db-2024-02-29-03-05");
    CHECK_STR(l.items[0].status, "COMPLETE");
    CHECK(sl_rds_export_complete(l.items[0].status));
    CHECK_INT(l.items[0].percent_progress, 100);
    CHECK_INT(l.items[0].start_ms, 1709176800250LL);
    CHECK_INT(l.items[0].end_ms, 1709178070000LL);
    CHECK_INT(l.items[0].snapshot_ms, 1709175941518LL);
    CHECK_STR(l.items[0].s3_bucket, "export-bucket");
    CHECK_STR(l.items[0].s3_prefix, "s3-export/prod-db/2024-02-29");
    CHECK_STR(l.items[0].source_type, "SNAPSHOT");
    CHECK_STR(l.items[0].failure_cause, "");
    CHECK(sl_rds_export_failed(l.items[1].status));
    CHECK_STR(l.items[1].failure_cause, "The IAM role doesn't have access to the bucket");
    CHECK_INT(l.items[1].end_ms, 0);
    CHECK_STR(l.items[1].source_arn, "arn:aws:rds:us-east-1:123456789012:cluster:orders");
    /* moto writes lowercase statuses; an unparsable percentage is "absent", not an error. */
    CHECK(sl_rds_export_running(l.items[2].status));
    CHECK_INT(l.items[2].percent_progress, -1);
    sl_rds_export_tasks_cleanup(&l);
}

static void test_export_result_start_and_cancel(void)
{
    sl_rds_export_task t;
    char err[SL_ERRLEN];
    xmlDoc *d = doc_of(START_RESULT);
    int rc;

    CHECK(d);
    rc = sl_rds_parse_export_result(d, &t, err, sizeof(err));
    xmlFreeDoc(d);
    CHECK_INT(rc, 0);
    CHECK_STR(t.id, "prod-db-2024-02-29-03-05");
    CHECK_STR(t.status, "STARTING");
    CHECK(sl_rds_export_running(t.status));
    CHECK_INT(t.percent_progress, 0);

    d = doc_of(CANCEL_RESULT);
    CHECK(d);
    rc = sl_rds_parse_export_result(d, &t, err, sizeof(err));
    xmlFreeDoc(d);
    CHECK_INT(rc, 0);
    CHECK_STR(t.id, "x1");
    CHECK(sl_rds_export_running(t.status)); /* CANCELING still holds an account slot */
    CHECK(!sl_rds_export_canceled(t.status));
}

static void test_cluster_arn(void)
{
    char arn[128], err[SL_ERRLEN];
    xmlDoc *d = doc_of(CLUSTERS);
    int rc1, rc2, rc3;

    CHECK(d);
    rc1 = sl_rds_parse_cluster_arn(d, "prod-db", arn, sizeof(arn), err, sizeof(err));
    rc2 = sl_rds_parse_cluster_arn(d, "missing", arn, sizeof(arn), err, sizeof(err));
    rc3 = sl_rds_parse_cluster_arn(d, "prod-db", arn, 10, err, sizeof(err));
    xmlFreeDoc(d);
    CHECK_INT(rc1, 0);
    CHECK_INT(rc2, -1);
    CHECK_INT(rc3, -1);
}

/* Table of documents every parser must refuse (wrong response, ids that would be cut). */
static void test_rejects(void)
{
    static const struct {
        const char *xml;
        int which; /* 0 snapshots, 1 tasks, 2 result */
    } cases[] = {
        {"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", 0},
        {"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", 1},
        {"<DescribeExportTasksResponse/>", 0},
        {"<DescribeDBClusterSnapshotsResponse/>", 1},
        {"<DescribeExportTasksResponse><DescribeExportTasksResult><ExportTasks><ExportTask>"
         "<Status>COMPLETE</Status></ExportTask></ExportTasks></DescribeExportTasksResult>"
         "</DescribeExportTasksResponse>",
         1},
        {"<DescribeExportTasksResponse><DescribeExportTasksResult><ExportTasks><ExportTask>"
         "<ExportTaskIdentifier>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaa</ExportTaskIdentifier></ExportTask></ExportTasks>"
         "</DescribeExportTasksResult></DescribeExportTasksResponse>",
         1},
        {"<StartExportTaskResponse><StartExportTaskResult><Status>STARTING</Status>"
         "</StartExportTaskResult></StartExportTaskResponse>",
         2},
        {"<DescribeExportTasksResponse/>", 2},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char err[SL_ERRLEN], marker[64] = "unchanged";
        xmlDoc *d = doc_of(cases[i].xml);
        sl_rds_snapshots s = {NULL, 0};
        sl_rds_export_tasks t = {NULL, 0};
        sl_rds_export_task one;
        int rc;

        CHECK(d);
        err[0] = '\0';
        if (cases[i].which == 0)
            rc = sl_rds_parse_snapshots(d, &s, marker, sizeof(marker), err, sizeof(err));
        else if (cases[i].which == 1)
            rc = sl_rds_parse_export_tasks(d, &t, marker, sizeof(marker), err, sizeof(err));
        else
            rc = sl_rds_parse_export_result(d, &one, err, sizeof(err));
        xmlFreeDoc(d);
        if (rc != -1)
            fprintf(stderr, "case %zu accepted\n", i);
        CHECK_INT(rc, -1);
        CHECK(err[0] != '\0');
        CHECK_STR(marker, "unchanged");
        CHECK(s.items == NULL && t.items == NULL);
    }
}

/* A failing later page leaves earlier pages intact. */
static void test_failure_keeps_earlier_pages(void)
{
    sl_rds_export_tasks l = {NULL, 0};
    char marker[64], err[SL_ERRLEN];
    xmlDoc *good = doc_of(TASKS);
    xmlDoc *bad = doc_of("<DescribeExportTasksResponse><DescribeExportTasksResult><ExportTasks>"
                         "<ExportTask><Status>x</Status></ExportTask></ExportTasks>"
                         "</DescribeExportTasksResult></DescribeExportTasksResponse>");
    int rc1, rc2;

    CHECK(good && bad);
    rc1 = sl_rds_parse_export_tasks(good, &l, marker, sizeof(marker), err, sizeof(err));
    rc2 = sl_rds_parse_export_tasks(bad, &l, marker, sizeof(marker), err, sizeof(err));
    xmlFreeDoc(good);
    xmlFreeDoc(bad);
    {
        size_t n = l.n;
        sl_rds_export_tasks_cleanup(&l);
        CHECK_INT(rc1, 0);
        CHECK_INT(rc2, -1);
        CHECK_INT(n, 3);
    }
}

/* The list cap counts every page together, and a Marker must fit the caller's buffer; both
 * failures leave the list as it was. */
static void test_item_cap_and_marker_length(void)
{
    char marker[64] = "unchanged", small[12] = "unchanged", err[SL_ERRLEN];
    sl_rds_snapshots s = {NULL, 0};
    sl_rds_export_tasks t = {NULL, 0};
    xmlDoc *snaps = doc_of(SNAPS_PAGE1), *tasks = doc_of(TASKS);
    int rc_small, rc_snaps, rc_tasks;
    char err_small[SL_ERRLEN], err_snaps[SL_ERRLEN], err_tasks[SL_ERRLEN];
    size_t n_snaps, n_tasks;

    CHECK(snaps && tasks);
    rc_small = sl_rds_parse_snapshots(snaps, &s, small, sizeof(small), err, sizeof(err));
    snprintf(err_small, sizeof(err_small), "%s", err);
    s.n = SL_RDS_MAX_ITEMS - 1; /* two more on the page: one over the cap */
    s.items = calloc(s.n, sizeof(*s.items));
    t.n = SL_RDS_MAX_ITEMS - 2; /* three more on the page */
    t.items = calloc(t.n, sizeof(*t.items));
    rc_snaps = s.items ? sl_rds_parse_snapshots(snaps, &s, marker, sizeof(marker), err_snaps,
                                                sizeof(err_snaps))
                       : 0;
    rc_tasks = t.items ? sl_rds_parse_export_tasks(tasks, &t, marker, sizeof(marker), err_tasks,
                                                   sizeof(err_tasks))
                       : 0;
    n_snaps = s.n;
    n_tasks = t.n;
    sl_rds_snapshots_cleanup(&s);
    sl_rds_export_tasks_cleanup(&t);
    xmlFreeDoc(snaps);
    xmlFreeDoc(tasks);
    CHECK_INT(rc_small, -1);
    CHECK_STR(err_small, "rds: Marker too long");
    CHECK_STR(small, "unchanged");
    CHECK_INT(rc_snaps, -1);
    CHECK_STR(err_snaps, "rds: more than 10000 snapshots");
    CHECK_INT(n_snaps, SL_RDS_MAX_ITEMS - 1);
    CHECK_INT(rc_tasks, -1);
    CHECK_STR(err_tasks, "rds: more than 10000 export tasks");
    CHECK_INT(n_tasks, SL_RDS_MAX_ITEMS - 2);
    CHECK_STR(marker, "unchanged");
}

static void test_status_predicates(void)
{
    static const struct {
        const char *s;
        int running, complete, failed, canceled;
    } cases[] = {
        {"STARTING", 1, 0, 0, 0},  {"starting", 1, 0, 0, 0}, {"IN_PROGRESS", 1, 0, 0, 0},
        {"CANCELING", 1, 0, 0, 0}, {"COMPLETE", 0, 1, 0, 0}, {"complete", 0, 1, 0, 0},
        {"FAILED", 0, 0, 1, 0},    {"CANCELED", 0, 0, 0, 1}, {"", 0, 0, 0, 0},
        {NULL, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        CHECK_INT(sl_rds_export_running(cases[i].s), cases[i].running);
        CHECK_INT(sl_rds_export_complete(cases[i].s), cases[i].complete);
        CHECK_INT(sl_rds_export_failed(cases[i].s), cases[i].failed);
        CHECK_INT(sl_rds_export_canceled(cases[i].s), cases[i].canceled);
    }
}

/* The slot rule's count: running tasks not held by a live snaplake slot. */
static void test_count_foreign_running(void)
{
    sl_rds_export_task items[5];
    sl_rds_export_tasks l = {items, 5};
    static const struct {
        const char *id, *status;
    } t[] = {{"ours-1", "IN_PROGRESS"},
             {"ours-2", "starting"},
             {"theirs", "IN_PROGRESS"},
             {"done", "COMPLETE"},
             {"orphan", "CANCELING"}};
    const char *own[] = {"ours-1", NULL, "ours-2", "not-running"};
    static const struct {
        size_t nown;
        size_t want;
    } cases[] = {{0, 4}, {1, 3}, {2, 3}, {3, 2}, {4, 2}};

    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < 5; i++) {
        snprintf(items[i].id, sizeof(items[i].id), "%s", t[i].id);
        snprintf(items[i].status, sizeof(items[i].status), "%s", t[i].status);
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_rds_count_foreign_running(&l, own, cases[i].nown), cases[i].want);
    CHECK_INT(sl_rds_count_foreign_running(NULL, own, 4), 0);
}

static const sl_test tests[] = {
    SL_TEST(test_count_foreign_running),
    SL_TEST(test_snapshots_two_pages),
    SL_TEST(test_export_tasks_fields),
    SL_TEST(test_export_result_start_and_cancel),
    SL_TEST(test_cluster_arn),
    SL_TEST(test_rejects),
    SL_TEST(test_failure_keeps_earlier_pages),
    SL_TEST(test_status_predicates),
    SL_TEST(test_item_cap_and_marker_length),
};
SL_TEST_MAIN(tests)
