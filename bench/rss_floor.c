/*
 * rss_floor.c - the memory a copy worker cannot go below: a program that links exactly the
 * worker's libraries (the Makefile's PKGS: librdkafka, libcurl, OpenSSL, cJSON, libpq, libxml2,
 * libmicrohttpd, with everything Debian's builds of them pull in) and starts them the way the
 * worker does before its first message, and holds no data of its own. Its VmRSS is the floor
 * under the worker's steady RSS (issue 10's figure): bench/copy_peers.py prints it beside the
 * worker's, so the part of the figure that is snaplake's own is the difference.
 *
 *   rss_floor            prints one JSON line: {"rss_kb":..,"anon_kb":..,"file_kb":..,"libs":..}
 *
 * What it starts, as the worker does: libcurl's global state (OpenSSL's configuration and
 * providers), a multi handle with one easy handle, libxml2's parser, one SHA-256 through EVP,
 * a Kafka consumer and a producer connected to KAFKA_BOOTSTRAP_SERVERS (it waits for the
 * cluster's metadata, so the broker threads are up), and a PostgreSQL connection from the
 * libpq environment (PGHOST, PGPORT, ...). Without KAFKA_BOOTSTRAP_SERVERS or PGHOST those
 * two are made but not connected (a lower floor; "connected" says which).
 *
 * Not part of the product; bench only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <libxml/parser.h>
#include <openssl/evp.h>

/* Sums a field ("Rss:", "Anonymous:") over /proc/self/smaps, in kB; -1 when unreadable. */
static long smaps_sum(const char *field, long *libs)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], last[256] = "";
    size_t fl = strlen(field);
    long sum = 0;

    if (!f)
        return -1;
    if (libs)
        *libs = 0;
    while (fgets(line, sizeof(line), f)) {
        char path[256] = "";
        long kb;
        /* A mapping's header: "start-end perms offset dev inode [path]". */
        if (sscanf(line, "%*x-%*x %*s %*s %*s %*s %255s", path) == 1 && path[0] == '/') {
            if (libs && strstr(path, ".so") && strcmp(path, last) != 0)
                (*libs)++;
            snprintf(last, sizeof(last), "%s", path);
        } else if (strncmp(line, field, fl) == 0 && sscanf(line + fl, "%ld", &kb) == 1) {
            sum += kb;
        }
    }
    fclose(f);
    return sum;
}

static rd_kafka_t *kafka(rd_kafka_type_t type, const char *servers)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    if (servers && rd_kafka_conf_set(conf, "bootstrap.servers", servers, err, sizeof(err)))
        fprintf(stderr, "rss_floor: %s\n", err);
    if (type == RD_KAFKA_CONSUMER)
        (void)rd_kafka_conf_set(conf, "group.id", "snaplake-rss-floor", err, sizeof(err));
    (void)rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    if (!(rk = rd_kafka_new(type, conf, err, sizeof(err)))) {
        fprintf(stderr, "rss_floor: rd_kafka_new: %s\n", err);
        exit(1);
    }
    return rk;
}

/* Waits (up to 30 s) for the cluster's metadata: the broker connections and threads are up. */
static int metadata(rd_kafka_t *rk)
{
    const struct rd_kafka_metadata *meta = NULL;

    if (rd_kafka_metadata(rk, 1, NULL, &meta, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    rd_kafka_metadata_destroy(meta);
    return 1;
}

int main(void)
{
    const char *servers = getenv("KAFKA_BOOTSTRAP_SERVERS");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    rd_kafka_t *consumer, *producer;
    CURLM *multi;
    CURL *easy;
    PGconn *pg;
    cJSON *j;
    long libs, rss, anon;
    int kafka_up = 0, pg_up;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    multi = curl_multi_init();
    easy = curl_easy_init();
    if (!multi || !easy)
        return 1;
    curl_multi_add_handle(multi, easy);
    xmlInitParser();
    if (!EVP_Digest("floor", 5, md, &mdlen, EVP_sha256(), NULL))
        return 1;
    j = cJSON_Parse("{\"v\":1}");
    consumer = kafka(RD_KAFKA_CONSUMER, servers);
    producer = kafka(RD_KAFKA_PRODUCER, servers);
    if (servers)
        kafka_up = metadata(consumer) && metadata(producer);
    pg = PQconnectdb(getenv("PGHOST") ? "" : "host=/nonexistent connect_timeout=1");
    pg_up = PQstatus(pg) == CONNECTION_OK;

    rss = smaps_sum("Rss:", &libs);
    anon = smaps_sum("Anonymous:", NULL);
    printf("{\"rss_kb\":%ld,\"anon_kb\":%ld,\"file_kb\":%ld,\"libs\":%ld,"
           "\"connected\":{\"kafka\":%s,\"postgresql\":%s}}\n",
           rss, anon, rss - anon, libs, kafka_up ? "true" : "false", pg_up ? "true" : "false");

    PQfinish(pg);
    rd_kafka_destroy(producer);
    rd_kafka_destroy(consumer);
    cJSON_Delete(j);
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
