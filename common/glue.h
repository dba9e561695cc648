/*
 * glue.h - the AWS Glue calls of the crawl stage (JSON 1.1 protocol, target "AWSGlue.<Op>").
 *
 * A crawler run is observed only through GetCrawler: State goes RUNNING -> STOPPING -> READY,
 * and once READY, LastCrawl describes the run that just ended (Status SUCCEEDED | FAILED |
 * CANCELLED, ErrorMessage, StartTime in epoch seconds). While a run is under way LastCrawl
 * still describes the *previous* run, which is why callers compare LastCrawl.StartTime with
 * their own start before trusting the status (see worker/crawl.c).
 */
#ifndef SL_GLUE_H
#define SL_GLUE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "aws_http.h"
#include "util.h"

/* What GetCrawler says about a crawler. Plain data except last_error (heap). */
typedef struct sl_glue_crawler {
    char name[256];
    char state[16];            /* READY | RUNNING | STOPPING */
    int has_last_crawl;        /* LastCrawl present */
    char last_status[16];      /* SUCCEEDED | FAILED | CANCELLED */
    long long last_start_ms;   /* LastCrawl.StartTime, epoch ms; 0 when absent */
    char *last_error;          /* LastCrawl.ErrorMessage or NULL */
    char last_log_group[256];  /* LastCrawl.LogGroup, "" when absent */
    char last_log_stream[256]; /* LastCrawl.LogStream, "" when absent */
} sl_glue_crawler;

void sl_glue_crawler_init(sl_glue_crawler *c);
void sl_glue_crawler_cleanup(sl_glue_crawler *c);

/*
 * Reads a GetCrawler response object ({"Crawler": {...}}). Pure. Fills *out (initialised
 * here) and returns 0, or -1 with err when Crawler, Name or State is missing or mistyped.
 * StartTime is accepted as a number of epoch seconds (Glue's JSON) or an ISO-8601 string.
 */
int sl_glue_parse_crawler(const cJSON *resp, sl_glue_crawler *out, char *err,
                          size_t errlen) SL_MUST_CHECK;

/* As sl_glue_parse_crawler over raw bytes (at most 1 MiB): the fuzzers' entry point. */
int sl_glue_parse_crawler_bytes(const char *buf, size_t len, sl_glue_crawler *out, char *err,
                                size_t errlen) SL_MUST_CHECK;

/* GetCrawler. Returns 0 with *out filled (caller cleans up), or -1 with *err. */
int sl_glue_get_crawler(sl_aws *aws, const char *name, sl_glue_crawler *out,
                        sl_aws_error *err) SL_MUST_CHECK;

/*
 * StartCrawler. Returns 0, or -1 with *err; err->code is "CrawlerRunningException" when a run
 * is already under way (the caller decides whether that run covers its data).
 */
int sl_glue_start_crawler(sl_aws *aws, const char *name, sl_aws_error *err) SL_MUST_CHECK;

/*
 * Expands a crawler name template: every "{cluster}" becomes cluster. Returns 0, or -1 when
 * the result does not fit out or is empty. Pure.
 */
int sl_glue_crawler_name(const char *tmpl, const char *cluster, char *out,
                         size_t outlen) SL_MUST_CHECK;

/* --- the Data Catalog calls of direct registration (CATALOG_MODE=direct) ---------------------
 * Request bodies come from catalog.h's builders and are borrowed. Every call returns 0, or -1
 * with *err as sl_aws_json fills it (AWS's code and message, err->transient set); a response
 * that is not of the expected shape is code "ParseError". Objects handed out are the caller's
 * to cJSON_Delete.
 */

/* CreateDatabase {DatabaseInput: {Name}}. An existing database is success (*created 0). */
int sl_glue_create_database(sl_aws *aws, const char *name, int *created,
                            sl_aws_error *err) SL_MUST_CHECK;

/*
 * GetTable. On 0 *table is the response's Table object (detached, caller's), or NULL when
 * Glue answered EntityNotFoundException (the table does not exist: not an error).
 */
int sl_glue_get_table(sl_aws *aws, const char *database, const char *name, cJSON **table,
                      sl_aws_error *err) SL_MUST_CHECK;

/* CreateTable / UpdateTable with a body from sl_catalog_create/update_table_req. */
int sl_glue_create_table(sl_aws *aws, const cJSON *req, sl_aws_error *err) SL_MUST_CHECK;
int sl_glue_update_table(sl_aws *aws, const cJSON *req, sl_aws_error *err) SL_MUST_CHECK;

/*
 * BatchCreatePartition with a body from sl_catalog_batch_create_partition_req. The call can
 * succeed while single partitions fail: *resp is the whole response, for
 * sl_catalog_parse_partition_errors.
 */
int sl_glue_batch_create_partition(sl_aws *aws, const cJSON *req, cJSON **resp,
                                   sl_aws_error *err) SL_MUST_CHECK;

/* UpdatePartition with a body from sl_catalog_update_partition_req. */
int sl_glue_update_partition(sl_aws *aws, const cJSON *req, sl_aws_error *err) SL_MUST_CHECK;

/* GetPartition of one value. On 0 *partition is the Partition object, or NULL when absent. */
int sl_glue_get_partition(sl_aws *aws, const char *database, const char *table, const char *value,
                          cJSON **partition, sl_aws_error *err) SL_MUST_CHECK;

/*
 * GetPartitions, every page (NextToken followed, at most 10,000 pages). On 0 *partitions is
 * an array of Partition objects (empty when there are none).
 */
int sl_glue_get_partitions(sl_aws *aws, const char *database, const char *table, cJSON **partitions,
                           sl_aws_error *err) SL_MUST_CHECK;

/* GetTables of a database, every page (MaxResults 100). On 0 *tables is an array of Tables. */
int sl_glue_get_tables(sl_aws *aws, const char *database, cJSON **tables,
                       sl_aws_error *err) SL_MUST_CHECK;

/* BatchDeletePartition takes at most 25 partitions per call (BatchDeletePartitionValueList). */
#define SL_GLUE_DELETE_PARTITIONS_MAX 25

/*
 * BatchDeletePartition of the single-key partitions values[0..n) (1..25) of database.table.
 * The call can succeed while single partitions fail: *resp is the whole response (caller's to
 * cJSON_Delete), for sl_catalog_parse_partition_errors (the same Errors shape as
 * BatchCreatePartition). -1 with *err when the call failed or n is out of range.
 */
int sl_glue_batch_delete_partition(sl_aws *aws, const char *database, const char *table,
                                   const char *const *values, size_t n, cJSON **resp,
                                   sl_aws_error *err) SL_MUST_CHECK;

#endif /* SL_GLUE_H */
