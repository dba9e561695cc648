/* config.c - see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "catalog.h"
#include "ids.h"
#include "log.h"

/* A bad value is quoted back in the error, cut to this many bytes: the operator needs to see
 * what they set, not a megabyte of it. Secret values are never quoted at all. */
#define CFG_ECHO_MAX 64

/* Values longer than this are refused: nothing we configure is that long, and the cap keeps
 * a runaway variable from becoming a runaway allocation. */
#define CFG_VALUE_MAX 8192

static const char *env_getter(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

int sl_config_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    if (!s)
        return -1;
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Strict decimal: optional '-', digits, nothing else; no overflow. */
static int parse_int(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s) || *s == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || end == s)
        return -1;
    *out = v;
    return 0;
}

int sl_config_parse_duration(const char *s, long long *ms)
{
    static const struct {
        const char *suffix;
        long long mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}, {"", 1000}};
    long long v = 0;
    const char *p = s;

    if (!s || !isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        int d = *p - '0';
        if (v > (LLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mult)
                return -1;
            *ms = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

/* Appends one error line to err; keeps going (and stays NUL-terminated) when it is full. */
static void add_err(char *err, size_t errlen, size_t *used, const char *fmt, ...) SL_PRINTF(4, 5);
static void add_err(char *err, size_t errlen, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!err || errlen == 0 || *used >= errlen - 1)
        return;
    if (*used > 0) {
        err[(*used)++] = '\n';
        err[*used] = '\0';
        if (*used >= errlen - 1)
            return;
    }
    va_start(ap, fmt);
    n = vsnprintf(err + *used, errlen - *used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *used += (size_t)n < errlen - *used ? (size_t)n : errlen - *used - 1;
}

static const char *type_name(sl_cfg_type t)
{
    switch (t) {
    case SL_CFG_STRING:
        return "string";
    case SL_CFG_SECRET:
        return "secret";
    case SL_CFG_INT:
        return "int";
    case SL_CFG_BOOL:
        return "bool";
    case SL_CFG_DURATION:
        return "duration";
    }
    return "?";
}

static char **str_field(void *cfg, const sl_cfg_opt *o)
{
    return (char **)(void *)((char *)cfg + o->offset);
}

static void free_str(char **f, int secret)
{
    if (*f && secret)
        OPENSSL_cleanse(*f, strlen(*f));
    free(*f);
    *f = NULL;
}

/*
 * Parses and stores one option. Returns 0, or -1 after adding its error line. `raw` is the
 * value as found (environment or default); `from_default` marks a table defect.
 */
static int load_one(const sl_cfg_opt *o, void *cfg, const char *raw, int from_default, char *err,
                    size_t errlen, size_t *used)
{
    const char *origin = from_default ? "default " : "";
    int secret = o->type == SL_CFG_SECRET;
    int bounded = o->min <= o->max;
    long long v;
    int b;

    if (strlen(raw) > CFG_VALUE_MAX) {
        add_err(err, errlen, used, "%s: %svalue longer than %d bytes", o->name, origin,
                CFG_VALUE_MAX);
        return -1;
    }
    switch (o->type) {
    case SL_CFG_STRING:
    case SL_CFG_SECRET: {
        char *copy = strdup(raw);
        if (!copy) {
            add_err(err, errlen, used, "%s: out of memory", o->name);
            return -1;
        }
        free_str(str_field(cfg, o), secret);
        *str_field(cfg, o) = copy;
        return 0;
    }
    case SL_CFG_INT:
        if (parse_int(raw, &v)) {
            add_err(err, errlen, used, "%s: %svalue \"%.*s\" is not an integer", o->name, origin,
                    CFG_ECHO_MAX, raw);
            return -1;
        }
        if (bounded && (v < o->min || v > o->max)) {
            add_err(err, errlen, used, "%s: %svalue %lld is out of range %lld..%lld", o->name,
                    origin, v, o->min, o->max);
            return -1;
        }
        *(long long *)(void *)((char *)cfg + o->offset) = v;
        return 0;
    case SL_CFG_DURATION:
        if (sl_config_parse_duration(raw, &v)) {
            add_err(err, errlen, used,
                    "%s: %svalue \"%.*s\" is not a duration (250ms, 10s, 5m, 1h or seconds)",
                    o->name, origin, CFG_ECHO_MAX, raw);
            return -1;
        }
        if (bounded && (v < o->min || v > o->max)) {
            add_err(err, errlen, used, "%s: %svalue %lldms is out of range %lldms..%lldms", o->name,
                    origin, v, o->min, o->max);
            return -1;
        }
        *(long long *)(void *)((char *)cfg + o->offset) = v;
        return 0;
    case SL_CFG_BOOL:
        if (sl_config_parse_bool(raw, &b)) {
            add_err(err, errlen, used,
                    "%s: %svalue \"%.*s\" is not a boolean (true/false, 1/0, yes/no, on/off)",
                    o->name, origin, CFG_ECHO_MAX, raw);
            return -1;
        }
        *(int *)(void *)((char *)cfg + o->offset) = b;
        return 0;
    }
    add_err(err, errlen, used, "%s: unknown option type %d", o->name, (int)o->type);
    return -1;
}

int sl_config_load(const sl_cfg_opt *opts, size_t nopts, void *cfg, sl_cfg_getter getter, void *ud,
                   char *err, size_t errlen)
{
    size_t used = 0;
    int failed = 0;

    if (!getter)
        getter = env_getter;
    if (err && errlen)
        err[0] = '\0';
    /* String fields start NULL so a failure can free exactly what this call set. */
    for (size_t i = 0; i < nopts; i++)
        if (opts[i].type == SL_CFG_STRING || opts[i].type == SL_CFG_SECRET)
            *str_field(cfg, &opts[i]) = NULL;

    for (size_t i = 0; i < nopts; i++) {
        const sl_cfg_opt *o = &opts[i];
        const char *raw = getter(o->name, ud);
        int from_default = 0;

        /* An empty variable counts as unset: Deployments and Compose files often carry
         * `NAME: ""` for "not configured". */
        if (!raw || !*raw) {
            raw = o->def;
            from_default = 1;
        }
        if (!raw) {
            if (o->required) {
                add_err(err, errlen, &used, "%s: required but not set (%s)", o->name,
                        o->help ? o->help : "no help");
                failed = 1;
            }
            continue;
        }
        if (load_one(o, cfg, raw, from_default, err, errlen, &used))
            failed = 1;
    }
    if (failed) {
        sl_config_cleanup(opts, nopts, cfg);
        return -1;
    }
    return 0;
}

void sl_config_cleanup(const sl_cfg_opt *opts, size_t nopts, void *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < nopts; i++)
        if (opts[i].type == SL_CFG_STRING || opts[i].type == SL_CFG_SECRET)
            free_str(str_field(cfg, &opts[i]), opts[i].type == SL_CFG_SECRET);
}

void sl_config_help(FILE *out, const char *prog, const char *summary, const sl_cfg_opt *opts,
                    size_t nopts)
{
    fprintf(out, "Usage: %s\n", prog ? prog : "snaplake");
    if (summary)
        fprintf(out, "%s\n", summary);
    fprintf(out, "\nConfigured by environment variables:\n");
    for (size_t i = 0; i < nopts; i++) {
        const sl_cfg_opt *o = &opts[i];
        fprintf(out, "  %-32s %s", o->name, type_name(o->type));
        if (o->required)
            fprintf(out, ", required");
        if (o->def && o->type == SL_CFG_SECRET)
            fprintf(out, ", default: (set)");
        else if (o->def)
            fprintf(out, ", default: %s", o->def);
        if (o->min <= o->max && o->type == SL_CFG_INT)
            fprintf(out, ", range: %lld..%lld", o->min, o->max);
        else if (o->min <= o->max && o->type == SL_CFG_DURATION)
            fprintf(out, ", range: %lldms..%lldms", o->min, o->max);
        fprintf(out, "\n      %s\n", o->help ? o->help : "");
    }
}

void sl_config_dump(const sl_cfg_opt *opts, size_t nopts, const void *cfg)
{
    /* name/value pairs plus the terminator; numbers are formatted into one arena. */
    const char **kv = calloc(nopts * 2 + 1, sizeof *kv);
    char *nums = calloc(nopts ? nopts : 1, 32);
    size_t k = 0;

    if (!kv || !nums)
        goto out;
    for (size_t i = 0; i < nopts; i++) {
        const sl_cfg_opt *o = &opts[i];
        const char *p = (const char *)cfg + o->offset;
        char *num = nums + i * 32;

        kv[k++] = o->name;
        switch (o->type) {
        case SL_CFG_STRING:
            kv[k++] = *(char *const *)(const void *)p ? *(char *const *)(const void *)p : "";
            break;
        case SL_CFG_SECRET:
            kv[k++] = *(char *const *)(const void *)p ? "(set)" : "(unset)";
            break;
        case SL_CFG_INT:
            snprintf(num, 32, "%lld", *(const long long *)(const void *)p);
            kv[k++] = num;
            break;
        case SL_CFG_DURATION:
            snprintf(num, 32, "%lldms", *(const long long *)(const void *)p);
            kv[k++] = num;
            break;
        case SL_CFG_BOOL:
            kv[k++] = *(const int *)(const void *)p ? "true" : "false";
            break;
        default:
            kv[k++] = "?";
        }
    }
    kv[k] = NULL;
    sl_log_kv(SL_LOG_INFO, NULL, kv, "configuration");
out:
    free(nums);
    free(kv);
}

/* --- validators --------------------------------------------------------------------------- */

int sl_cfg_check_log_level(const char *v, char *why, size_t whylen)
{
    sl_log_level level;

    /* The parser the binaries use, so the check and sl_log_init never disagree. */
    if (sl_log_level_parse(v, &level) == 0)
        return 0;
    return sl_seterr(why, whylen, "is not debug, info, warn or error");
}

int sl_cfg_check_aws_region(const char *v, char *why, size_t whylen)
{
    const char *p = v;
    int words = 0;

    /* [a-z]{2} */
    if (!(p[0] >= 'a' && p[0] <= 'z' && p[1] >= 'a' && p[1] <= 'z'))
        goto bad;
    p += 2;
    /* (-[a-z]+)+ */
    while (p[0] == '-' && p[1] >= 'a' && p[1] <= 'z') {
        p++;
        while (*p >= 'a' && *p <= 'z')
            p++;
        words++;
    }
    /* -[0-9]+ */
    if (!words || *p != '-' || !(p[1] >= '0' && p[1] <= '9'))
        goto bad;
    for (p++; *p >= '0' && *p <= '9'; p++)
        ;
    if (*p == '\0' && strlen(v) <= 32)
        return 0;
bad:
    return sl_seterr(why, whylen,
                     "is not an AWS region name (us-east-1, us-gov-west-1, cn-north-1)");
}

int sl_cfg_check_s3_bucket(const char *v, char *why, size_t whylen)
{
    static const char *const bad_prefix[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    static const char *const bad_suffix[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3"};
    size_t n = strlen(v);
    int dots = 0, digits_dots = 1;

    if (n < 3 || n > 63)
        return sl_seterr(why, whylen, "is not a bucket name (3 to 63 characters)");
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return sl_seterr(why, whylen,
                             "is not a bucket name (lowercase letters, digits, '.' and '-')");
        if (c == '.' && i + 1 < n && v[i + 1] == '.')
            return sl_seterr(why, whylen, "is not a bucket name (two adjacent periods)");
        dots += c == '.';
        if (!(c == '.' || (c >= '0' && c <= '9')))
            digits_dots = 0;
    }
    if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= '0' && v[0] <= '9')) ||
        !((v[n - 1] >= 'a' && v[n - 1] <= 'z') || (v[n - 1] >= '0' && v[n - 1] <= '9')))
        return sl_seterr(why, whylen,
                         "is not a bucket name (must begin and end with a letter or digit)");
    if (digits_dots && dots == 3)
        return sl_seterr(why, whylen, "is not a bucket name (formatted as an IP address)");
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_prefix); i++)
        if (strncmp(v, bad_prefix[i], strlen(bad_prefix[i])) == 0)
            return sl_seterr(why, whylen, "is not a bucket name (reserved prefix %s)",
                             bad_prefix[i]);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_suffix); i++) {
        size_t k = strlen(bad_suffix[i]);
        if (n > k && strcmp(v + n - k, bad_suffix[i]) == 0)
            return sl_seterr(why, whylen, "is not a bucket name (reserved suffix %s)",
                             bad_suffix[i]);
    }
    return 0;
}

int sl_cfg_check_account_id(const char *v, char *why, size_t whylen)
{
    size_t n = 0;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    if (n == 12 && v[n] == '\0')
        return 0;
    return sl_seterr(why, whylen, "is not an AWS account id (12 digits)");
}

int sl_cfg_check_readable_file(const char *v, char *why, size_t whylen)
{
    if (access(v, R_OK) == 0)
        return 0;
    return sl_seterr(why, whylen, "cannot be read: %s", strerror(errno));
}

int sl_cfg_check_cluster_list(const char *v, char *why, size_t whylen)
{
    const char *p = v;
    int n = 0;

    while (*p) {
        const char *e;
        size_t len;
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        e = p + strcspn(p, ",");
        len = (size_t)(e - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (++n > 64)
            return sl_seterr(why, whylen, "has more than 64 entries");
        if (len < 1 || len > 63 || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) ||
            p[len - 1] == '-')
            return sl_seterr(why, whylen,
                             "entry %d is not a DB cluster identifier (1 to 63 letters, digits "
                             "or hyphens, starting with a letter, not ending with a hyphen)",
                             n);
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-') ||
                (c == '-' && i + 1 < len && p[i + 1] == '-'))
                return sl_seterr(why, whylen,
                                 "entry %d is not a DB cluster identifier (letters, digits, "
                                 "single hyphens)",
                                 n);
        }
        p = e;
    }
    return 0;
}

int sl_cfg_check_crawler_template(const char *v, char *why, size_t whylen)
{
    size_t n = 0;

    for (const char *p = v; *p;) {
        if (strncmp(p, "{cluster}", 9) == 0) {
            n += 63;
            p += 9;
            continue;
        }
        if (*p == '{' || *p == '}')
            return sl_seterr(why, whylen, "has a brace that is not part of {cluster}");
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sl_seterr(why, whylen, "has a control character");
        n++;
        p++;
    }
    if (n == 0 || n > 255)
        return sl_seterr(why, whylen, "expands to %zu bytes (a crawler name is 1 to 255)", n);
    return 0;
}

int sl_cfg_check_catalog_mode(const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "crawler") == 0 || strcmp(v, "direct") == 0)
        return 0;
    return sl_seterr(why, whylen, "is neither crawler nor direct");
}

/* A cluster id of the longest length RDS allows: a template that fits with it fits always. */
#define LONGEST_CLUSTER "c12345678901234567890123456789012345678901234567890123456789012"

int sl_cfg_check_catalog_db_template(const char *v, char *why, size_t whylen)
{
    char out[SL_CATALOG_NAME_MAX + 1], e2[SL_ERRLEN];
    sl_cat_name_vars nv = {.cluster = LONGEST_CLUSTER};

    /* The database is one per cluster: a table's placeholder would expand to "". */
    if (strstr(v, "{database}") || strstr(v, "{schema}") || strstr(v, "{table}") ||
        strstr(v, "{folder}"))
        return sl_seterr(why, whylen, "may only use {cluster} (one database per cluster)");
    if (sl_catalog_name(v, &nv, out, sizeof(out), e2, sizeof(e2)) != 0)
        return sl_seterr(why, whylen, "is not a usable name template: %s", e2);
    return 0;
}

int sl_cfg_check_catalog_table_template(const char *v, char *why, size_t whylen)
{
    char out[SL_CATALOG_NAME_MAX + 1], e2[SL_ERRLEN];
    sl_cat_name_vars nv = {LONGEST_CLUSTER, "db", "schema", "table", "schema.table"};

    if (sl_catalog_name(v, &nv, out, sizeof(out), e2, sizeof(e2)) != 0)
        return sl_seterr(why, whylen, "is not a usable name template: %s", e2);
    return 0;
}

int sl_cfg_check_task_prefix(const char *v, char *why, size_t whylen)
{
    sl_snapshot_id id;
    char tid[SL_IDS_EXPORT_ID_MAX + 1], e2[SL_ERRLEN];

    /* A sample id, as the export stage builds them (sl_ids_export_task_id keeps the result
       within RDS's 60 characters whatever the cluster). */
    if (sl_ids_parse_snapshot("rds:a-2024-01-01-00-00", &id, e2, sizeof(e2)) == 0 &&
        sl_ids_export_task_id(&id, v, tid, sizeof(tid), e2, sizeof(e2)) == 0)
        return 0;
    return sl_seterr(why, whylen, "is not a usable export task prefix: %s", e2);
}

int sl_cfg_check_notify_format(const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "slack") == 0 || strcmp(v, "json") == 0)
        return 0;
    return sl_seterr(why, whylen, "is neither slack nor json");
}

const sl_cfg_check sl_config_std_checks[] = {
    {"LOG_LEVEL", sl_cfg_check_log_level},
    {"AWS_REGION", sl_cfg_check_aws_region},
    {"AWS_CA_BUNDLE", sl_cfg_check_readable_file},
    {"EXPORT_S3_BUCKET", sl_cfg_check_s3_bucket},
    {"LAKE_BUCKET", sl_cfg_check_s3_bucket},
    {"EXPORT_EXPECTED_BUCKET_OWNER", sl_cfg_check_account_id},
    {"LAKE_EXPECTED_BUCKET_OWNER", sl_cfg_check_account_id},
    {"EXPORT_ONLY", sl_cfg_check_cluster_list},
    {"CRAWLER_NAME", sl_cfg_check_crawler_template},
    {"CATALOG_MODE", sl_cfg_check_catalog_mode},
    {"CATALOG_DIRECT_CLUSTERS", sl_cfg_check_cluster_list},
    {"CATALOG_DATABASE", sl_cfg_check_catalog_db_template},
    {"CATALOG_TABLE", sl_cfg_check_catalog_table_template},
    {"EXPORT_TASK_PREFIX", sl_cfg_check_task_prefix},
    {"NOTIFY_FORMAT", sl_cfg_check_notify_format},
    {"NOTIFY_WEBHOOK_URL_FILE", sl_cfg_check_readable_file},
    {"NOTIFY_CA_BUNDLE", sl_cfg_check_readable_file},
};
const size_t sl_config_nstd_checks = SL_ARRAY_LEN(sl_config_std_checks);

int sl_config_check(const sl_cfg_opt *opts, size_t nopts, const sl_cfg_check *checks,
                    size_t nchecks, sl_cfg_getter getter, void *ud, char *err, size_t errlen)
{
    size_t used = err && errlen ? strnlen(err, errlen - 1) : 0;
    int failed = 0;

    if (!getter)
        getter = env_getter;
    for (size_t c = 0; c < nchecks; c++) {
        for (size_t i = 0; i < nopts; i++) {
            const sl_cfg_opt *o = &opts[i];
            const char *v;
            char why[SL_ERRLEN];

            if (strcmp(o->name, checks[c].name) != 0 || o->type == SL_CFG_SECRET)
                continue;
            v = getter(o->name, ud);
            if (!v || !*v)
                v = o->def;
            if (!v || strlen(v) > CFG_VALUE_MAX)
                continue; /* unset (load reports a required one), or load reports the length */
            why[0] = '\0';
            if (checks[c].check(v, why, sizeof(why)) != 0) {
                add_err(err, errlen, &used, "%s: value \"%.*s\" %s", o->name, CFG_ECHO_MAX, v, why);
                failed = 1;
            }
        }
    }
    return failed ? -1 : 0;
}
