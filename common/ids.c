/* ids.c - see ids.h. */
#include "ids.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

static int is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}
static int is_alpha(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z');
}
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Letters/digits/hyphens, first a letter, no `--`, no trailing `-`; `lower` forbids A-Z. */
static int hyphen_id_ok(const char *s, size_t n, int lower)
{
    size_t i;

    if (n == 0 || !(lower ? is_lower(s[0]) : is_alpha(s[0])))
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') {
            if (i + 1 == n || s[i + 1] == '-')
                return 0;
        } else if (!(lower ? is_lower(c) : is_alpha(c)) && !is_digit(c)) {
            return 0;
        }
    }
    return 1;
}

int sl_ids_cluster_id_valid(const char *s)
{
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    return n <= SL_IDS_CLUSTER_MAX && hyphen_id_ok(s, n, 1);
}

int sl_ids_export_task_id_valid(const char *s)
{
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    return n <= SL_IDS_EXPORT_ID_MAX && hyphen_id_ok(s, n, 0);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* Gregorian: every 4th year is leap, except centuries not divisible by 400. */
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* s[0..10) is "YYYY-MM-DD" with a real date. */
static int date_ok(const char *s)
{
    int y, m, d;

    if (s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d))
        return 0;
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= days_in_month(y, m);
}

/* s[0..5) is "HH-MM" within a day. */
static int time_ok(const char *s)
{
    int h, mi;

    if (s[2] != '-' || digits(s, 2, &h) || digits(s + 3, 2, &mi))
        return 0;
    return h <= 23 && mi <= 59;
}

int sl_ids_date_valid(const char *s)
{
    return s && strlen(s) == 10 && date_ok(s);
}

int sl_ids_parse_snapshot(const char *id_or_arn, sl_snapshot_id *out, char *err, size_t errlen)
{
    /* "-YYYY-MM-DD-HH-MM" is 17 chars. */
    enum { SUFFIX = 17 };
    const char *id = id_or_arn, *p, *q;
    size_t n, clen;
    sl_snapshot_id r;

    if (!id || !*id)
        return sl_seterr(err, errlen, "snapshot id: empty");
    if (strncmp(id, "arn:", 4) == 0) {
        /* arn:<partition>:rds:<region>:<account>:cluster-snapshot:<id> - the id itself holds
         * a colon (`rds:`), so find the resource type, not the last colon. */
        p = strstr(id, ":cluster-snapshot:");
        q = strchr(id + 4, ':');
        if (!p || !q || strncmp(q, ":rds:", 5) != 0)
            return sl_seterr(err, errlen, "snapshot ARN: not an RDS cluster-snapshot ARN");
        id = p + strlen(":cluster-snapshot:");
    }
    if (strncmp(id, "rds:", 4) != 0)
        return sl_seterr(err, errlen,
                         "snapshot id: no `rds:` prefix (not an automated cluster snapshot)");
    id += 4;
    n = strlen(id);
    if (n < SUFFIX + 1 || n > SL_IDS_CLUSTER_MAX + SUFFIX)
        return sl_seterr(err, errlen, "snapshot id: length %zu out of range", n);
    clen = n - SUFFIX;
    p = id + clen;
    if (p[0] != '-' || p[11] != '-')
        return sl_seterr(err, errlen, "snapshot id: no -YYYY-MM-DD-HH-MM suffix");
    if (!date_ok(p + 1))
        return sl_seterr(err, errlen, "snapshot id: invalid date %.10s", p + 1);
    if (!time_ok(p + 12))
        return sl_seterr(err, errlen, "snapshot id: invalid time %.5s", p + 12);
    memset(&r, 0, sizeof(r));
    memcpy(r.cluster, id, clen);
    r.cluster[clen] = '\0';
    if (!sl_ids_cluster_id_valid(r.cluster))
        return sl_seterr(err, errlen, "snapshot id: invalid cluster id");
    memcpy(r.date, p + 1, 10);
    memcpy(r.time, p + 12, 5);
    snprintf(r.snapshot_id, sizeof(r.snapshot_id), "rds:%s", id);
    *out = r;
    return 0;
}

int sl_ids_from_cluster(const char *cluster, long long epoch_s, sl_snapshot_id *out, char *err,
                        size_t errlen)
{
    /* 1970-01-01 .. 9999-12-31T23:59:59Z */
    const long long max_s = 253402300799LL;
    sl_snapshot_id r;
    struct tm tm;
    time_t t;

    if (!sl_ids_cluster_id_valid(cluster))
        return sl_seterr(err, errlen, "cluster id: invalid");
    if (epoch_s < 0 || epoch_s > max_s)
        return sl_seterr(err, errlen, "cluster mode: time %lld out of range", epoch_s);
    t = (time_t)epoch_s;
    if (!gmtime_r(&t, &tm))
        return sl_seterr(err, errlen, "cluster mode: time %lld not representable", epoch_s);
    memset(&r, 0, sizeof(r));
    snprintf(r.cluster, sizeof(r.cluster), "%s", cluster);
    /* Ranges are guaranteed by gmtime_r and the bound above; the unsigned modulo only tells
     * the compiler the widths. */
    snprintf(r.date, sizeof(r.date), "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    snprintf(r.time, sizeof(r.time), "%02u-%02u", (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u);
    *out = r;
    return 0;
}

int sl_ids_parse_cluster_run(const char *cluster, const char *run_id, sl_snapshot_id *out,
                             char *err, size_t errlen)
{
    /* "-YYYY-MM-DD-HH-MM" is 17 chars, a shortened id's "-<8 hex>" 9. */
    enum { SUFFIX = 17, HASH = 9 };
    char again[SL_IDS_BUFLEN], e2[SL_ERRLEN];
    const char *p;
    size_t n;
    sl_snapshot_id r;

    if (!sl_ids_cluster_id_valid(cluster))
        return sl_seterr(err, errlen, "cluster run: invalid cluster id");
    if (!run_id || !*run_id)
        return sl_seterr(err, errlen, "cluster run: empty run id");
    n = strlen(run_id);
    /* A plain run id ends with the minute's two digits, a shortened one with 8 hex chars:
     * their last 8 chars ("DD-HH-MM" against the hash) never look alike. */
    if (n > HASH && run_id[n - HASH] == '-' &&
        strspn(run_id + n - HASH + 1, "0123456789abcdef") == HASH - 1)
        n -= HASH;
    if (n < SUFFIX + 1)
        return sl_seterr(err, errlen, "cluster run: run id %.64s has no -YYYY-MM-DD-HH-MM", run_id);
    p = run_id + n - SUFFIX;
    if (p[0] != '-' || p[11] != '-' || !date_ok(p + 1) || !time_ok(p + 12))
        return sl_seterr(err, errlen, "cluster run: run id %.64s has no -YYYY-MM-DD-HH-MM", run_id);
    memset(&r, 0, sizeof(r));
    snprintf(r.cluster, sizeof(r.cluster), "%s", cluster);
    memcpy(r.date, p + 1, 10);
    memcpy(r.time, p + 12, 5);
    /* The date and time were found by position only: the run id derived from them and the
     * cluster must be the one given, or the message's cluster and run id disagree. */
    if (sl_ids_run_id(&r, again, sizeof(again), e2, sizeof(e2)))
        return sl_seterr(err, errlen, "cluster run: %s", e2);
    if (strcmp(again, run_id) != 0)
        return sl_seterr(err, errlen, "cluster run: run id %.64s is not cluster %s's (%s)", run_id,
                         cluster, again);
    *out = r;
    return 0;
}

static int prefix_ok(const char *prefix)
{
    size_t n, i;

    if (!prefix || !*prefix)
        return 1;
    n = strlen(prefix);
    if (n > SL_IDS_PREFIX_MAX || !is_alpha(prefix[0]))
        return 0;
    for (i = 0; i < n; i++)
        if (!is_alpha(prefix[i]) && !is_digit(prefix[i]) && prefix[i] != '-')
            return 0;
    /* A prefix ending in `-` is fine ("sl-"): the cluster id after it starts with a letter.
     * A `--` inside the prefix is not. */
    return strstr(prefix, "--") == NULL;
}

int sl_ids_export_task_id(const sl_snapshot_id *id, const char *prefix, char *out, size_t outlen,
                          char *err, size_t errlen)
{
    char full[SL_IDS_BUFLEN], res[SL_IDS_BUFLEN];
    unsigned char md[SHA256_DIGEST_LENGTH];
    size_t plen, keep;

    if (!id || !sl_ids_cluster_id_valid(id->cluster) || !sl_ids_date_valid(id->date) ||
        strlen(id->time) != 5 || !time_ok(id->time))
        return sl_seterr(err, errlen, "export task id: invalid snapshot parts");
    if (!prefix_ok(prefix))
        return sl_seterr(err, errlen,
                         "export task id: invalid prefix (1-%d letters, digits, hyphens, "
                         "first a letter, no `--`)",
                         SL_IDS_PREFIX_MAX);
    if (outlen < SL_IDS_EXPORT_ID_MAX + 1)
        return sl_seterr(err, errlen, "export task id: output buffer too small");
    plen = prefix ? strlen(prefix) : 0;
    snprintf(full, sizeof(full), "%s-%s-%s", id->cluster, id->date, id->time);
    if (plen + strlen(full) <= SL_IDS_EXPORT_ID_MAX) {
        snprintf(res, sizeof(res), "%s%s", prefix ? prefix : "", full);
    } else {
        /* Over AWS's 60-char limit: keep the date and time readable, cut the cluster id, and
         * append a hash of the full id so that two long cluster ids sharing their first
         * characters still get distinct export ids (and distinct runs). */
        SHA256((const unsigned char *)full, strlen(full), md);
        keep = SL_IDS_EXPORT_ID_MAX - plen - 1 - 16 - 1 - 8;
        while (keep > 1 && id->cluster[keep - 1] == '-')
            keep--;
        snprintf(res, sizeof(res), "%s%.*s-%s-%s-%02x%02x%02x%02x", prefix ? prefix : "", (int)keep,
                 id->cluster, id->date, id->time, md[0], md[1], md[2], md[3]);
    }
    if (!sl_ids_export_task_id_valid(res))
        return sl_seterr(err, errlen, "export task id: derived id breaks AWS's rules");
    memcpy(out, res, strlen(res) + 1);
    return 0;
}

int sl_ids_export_task_id_gen(const char *base, int gen, char *out, size_t outlen, char *err,
                              size_t errlen)
{
    char suffix[16], res[SL_IDS_BUFLEN];
    unsigned char md[SHA256_DIGEST_LENGTH];
    size_t blen, slen, keep;

    if (!sl_ids_export_task_id_valid(base))
        return sl_seterr(err, errlen, "export task id: invalid base id");
    if (gen < 1 || gen > SL_IDS_EXPORT_GEN_MAX)
        return sl_seterr(err, errlen, "export task id: generation %d out of range 1..%d", gen,
                         SL_IDS_EXPORT_GEN_MAX);
    if (outlen < SL_IDS_EXPORT_ID_MAX + 1)
        return sl_seterr(err, errlen, "export task id: output buffer too small");
    blen = strlen(base);
    if (gen == 1) {
        memcpy(out, base, blen + 1);
        return 0;
    }
    snprintf(suffix, sizeof(suffix), "-g%d", gen);
    slen = strlen(suffix);
    if (blen + slen <= SL_IDS_EXPORT_ID_MAX) {
        snprintf(res, sizeof(res), "%s%s", base, suffix);
    } else {
        /* Cutting alone could merge two bases (two long cluster ids already cut to 60 differ
         * only in their hash tail), so the cut base is followed by a hash of the whole. */
        SHA256((const unsigned char *)base, blen, md);
        keep = SL_IDS_EXPORT_ID_MAX - slen - 1 - 8;
        while (keep > 1 && base[keep - 1] == '-')
            keep--;
        snprintf(res, sizeof(res), "%.*s-%02x%02x%02x%02x%s", (int)keep, base, md[0], md[1], md[2],
                 md[3], suffix);
    }
    if (!sl_ids_export_task_id_valid(res))
        return sl_seterr(err, errlen, "export task id: derived id breaks AWS's rules");
    memcpy(out, res, strlen(res) + 1);
    return 0;
}

int sl_ids_run_id(const sl_snapshot_id *id, char *out, size_t outlen, char *err, size_t errlen)
{
    return sl_ids_export_task_id(id, NULL, out, outlen, err, errlen);
}

int sl_ids_export_s3_prefix(const char *root, const char *cluster, const char *date, char *out,
                            size_t outlen, char *err, size_t errlen)
{
    size_t rlen;
    int n;

    if (!sl_ids_cluster_id_valid(cluster) || !sl_ids_date_valid(date))
        return sl_seterr(err, errlen, "export S3 prefix: invalid cluster id or date");
    if (!root)
        root = SL_IDS_DEFAULT_EXPORT_ROOT;
    rlen = strlen(root);
    while (rlen > 0 && root[rlen - 1] == '/')
        rlen--;
    if (rlen > SL_ERRLEN)
        return sl_seterr(err, errlen, "export S3 prefix: root too long");
    if (rlen)
        n = snprintf(out, outlen, "%.*s/%s/%s", (int)rlen, root, cluster, date);
    else
        n = snprintf(out, outlen, "%s/%s", cluster, date);
    if (n < 0 || (size_t)n >= outlen)
        return sl_seterr(err, errlen, "export S3 prefix: output buffer too small");
    return 0;
}
