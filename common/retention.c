/* retention.c - see retention.h. */
#include "retention.h"

#include <string.h>

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Howard Hinnant's days_from_civil). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    long era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int digits(const char *s, size_t n, long *out)
{
    long v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sl_retention_date_days(const char *ymd, long *days)
{
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long y, m, d;

    if (!ymd || strlen(ymd) != 10 || ymd[4] != '-' || ymd[7] != '-' || digits(ymd, 4, &y) ||
        digits(ymd + 5, 2, &m) || digits(ymd + 8, 2, &d))
        return -1;
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

void sl_retention_days_date(long z, char out[11])
{
    long era, y;
    unsigned doe, yoe, doy, mp, d, m;

    /* civil_from_days, the inverse of days_from_civil. */
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = (long)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* Written digit by digit: y is 0..9999 for any date this module accepts. */
    y %= 10000;
    if (y < 0)
        y += 10000;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

/* Length of the non-empty segment at s up to the next '/', or 0 when empty or last. */
static size_t segment(const char *s)
{
    const char *slash = strchr(s, '/');

    return slash ? (size_t)(slash - s) : 0;
}

sl_retention_kind sl_retention_parse_key(const char *prefix, const char *key, sl_retention_key *out)
{
    size_t plen = strlen(prefix), off, seg[3], dlen;
    const char *p, *date;
    sl_retention_key k;
    long days;

    memset(&k, 0, sizeof(k));
    if (strncmp(key, prefix, plen) != 0 || !key[plen])
        return SL_RETENTION_OUTSIDE;
    off = plen;
    for (int i = 0; i < 3; i++) {
        seg[i] = segment(key + off);
        if (!seg[i])
            return SL_RETENTION_OTHER;
        if (i == 0) {
            k.cluster_off = off;
            k.cluster_len = seg[0];
        }
        off += seg[i] + 1;
    }
    k.table_len = off - 1;
    p = key + off;
    if (strncmp(p, "date=", 5) != 0)
        return SL_RETENTION_OTHER;
    /* A date= folder: from here on anything but a clean date is worth reporting. */
    date = p + 5;
    dlen = segment(date);
    if (dlen != 10)
        return SL_RETENTION_MALFORMED;
    memcpy(k.date, date, 10);
    k.date[10] = '\0';
    if (sl_retention_date_days(k.date, &days) != 0)
        return SL_RETENTION_MALFORMED;
    k.folder_len = off + 5 + 10 + 1;
    *out = k;
    return SL_RETENTION_PARTITION;
}

int sl_retention_key_allowed(const char *prefix, const char *folder, const char *key)
{
    sl_retention_key fk, kk;
    size_t flen = strlen(folder);

    if (sl_retention_parse_key(prefix, folder, &fk) != SL_RETENTION_PARTITION ||
        fk.folder_len != flen)
        return -1;
    if (sl_retention_parse_key(prefix, key, &kk) != SL_RETENTION_PARTITION ||
        kk.folder_len != flen || strncmp(key, folder, flen) != 0)
        return -1;
    return 0;
}

int sl_retention_expired(long date_days, long today, int days)
{
    return days > 0 && date_days < today - days;
}

size_t sl_retention_plan(const long *dates, const unsigned char *has_data, size_t n, long today,
                         int days, unsigned char *drop)
{
    long newest = 0;
    int have_newest = 0;
    size_t ndrop = 0;

    for (size_t i = 0; i < n; i++)
        if (has_data[i] && (!have_newest || dates[i] > newest)) {
            newest = dates[i];
            have_newest = 1;
        }
    for (size_t i = 0; i < n; i++) {
        drop[i] =
            sl_retention_expired(dates[i], today, days) && !(have_newest && dates[i] == newest);
        ndrop += drop[i];
    }
    return ndrop;
}
