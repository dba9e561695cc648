/* pg.c - see pg.h. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

/*
 * libpq's messages span lines ("ERROR: ...\nLINE 1: ...\n        ^\n"); ours are one line
 * (util.h). Copies msg into out[outlen] with each run of newlines/tabs and the indentation
 * after them folded into one space, and no trailing space.
 */
static void chomp_copy(char *out, size_t outlen, const char *msg)
{
    size_t o = 0;

    if (!outlen)
        return;
    for (const char *p = msg ? msg : ""; *p && o + 1 < outlen; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            while (p[1] == '\n' || p[1] == '\r' || p[1] == '\t' || p[1] == ' ')
                p++;
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
            continue;
        }
        out[o++] = *p;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* Server notices (NOTICE, WARNING) as log lines instead of libpq's default stderr print. */
static void notice_cb(void *arg, const char *message)
{
    char msg[SL_ERRLEN];

    (void)arg;
    chomp_copy(msg, sizeof msg, message);
    sl_log_kv(strncmp(msg, "WARNING", 7) == 0 ? SL_LOG_WARN : SL_LOG_DEBUG, NULL, NULL, "pg: %s",
              msg);
}

/* Replaces every occurrence of secret[0..slen) in msg (a NUL-terminated string in a buffer
 * of SL_ERRLEN bytes) with "***". */
static void redact_one(char *msg, const char *secret, size_t slen)
{
    char out[SL_ERRLEN];
    size_t o = 0;
    const char *p = msg;

    if (!slen)
        return;
    while (*p && o + 1 < sizeof out) {
        if (strncmp(p, secret, slen) == 0) {
            for (const char *r = "***"; *r && o + 1 < sizeof out; r++)
                out[o++] = *r;
            p += slen;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(msg, out, o + 1);
    OPENSSL_cleanse(out, sizeof out);
}

/*
 * Replaces the text of every double-quoted token of msg ('missing "=" after "<word>"',
 * 'invalid sslmode value: "<word>"', libpq's way of naming what it could not parse) that is a
 * piece of secret[0..slen) with "***". libpq splits a password with an unquoted blank, or a
 * quote inside quotes, into several such tokens, none of them the whole password, so a token
 * is matched as a substring of the password's text, not as the whole of it.
 */
static void redact_quoted_pieces(char *msg, const char *secret, size_t slen)
{
    char out[SL_ERRLEN];
    size_t o = 0;
    const char *p = msg;

    if (!slen)
        return;
    while (*p && o + 1 < sizeof out) {
        const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
        size_t n = close ? (size_t)(close - p - 1) : 0;
        int hit = 0;

        for (size_t i = 0; n && n <= slen && i + n <= slen && !hit; i++)
            hit = memcmp(secret + i, p + 1, n) == 0;
        if (!hit) {
            out[o++] = *p++;
            continue;
        }
        for (const char *r = "\"***\""; *r && o + 1 < sizeof out; r++)
            out[o++] = *r;
        p = close + 1;
    }
    out[o] = '\0';
    memcpy(msg, out, o + 1);
    OPENSSL_cleanse(out, sizeof out);
}

/* Past one conninfo value starting at v, by libpq's rules (conninfo_parse): a quoted value
   runs to the next unescaped quote (or the end), an unquoted one to a blank; '\' escapes. */
static const char *conninfo_value_end(const char *v)
{
    const char *e = v;

    if (*e == '\'') {
        for (e++; *e && *e != '\''; e++)
            if (*e == '\\' && e[1])
                e++;
        return *e ? e + 1 : e;
    }
    for (; *e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r'; e++)
        if (*e == '\\' && e[1])
            e++;
    return e;
}

/* Non-zero when w starts a "keyword =" entry. */
static int conninfo_is_keyword(const char *w)
{
    const char *k = w;

    while ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
           *k == '_')
        k++;
    while (*k == ' ' || *k == '\t')
        k++;
    return k > w && *k == '=';
}

/*
 * Where the password that starts at v in a key=value conninfo string ends, as its owner meant
 * it: the value by libpq's rules, and after it every blank-separated word up to the next
 * "keyword=" entry. "password=a b c" is the password "a b c" to whoever wrote it, although
 * libpq reads "a" and then fails on the keyword "b"; "password='it's x'" is "it's x".
 */
static const char *conninfo_password_end(const char *v)
{
    const char *e = conninfo_value_end(v);

    for (;;) {
        const char *w = e;
        while (*w == ' ' || *w == '\t' || *w == '\n' || *w == '\r')
            w++;
        if (!*w || conninfo_is_keyword(w))
            return e;
        e = conninfo_value_end(w);
        if (e == w) /* cannot happen (w is not a blank), but never loop forever */
            return e;
    }
}

/* Cuts one password (text v..e of DATABASE_URL) out of msg: the text itself, its unquoted
   and unescaped value, and any quoted piece of it libpq names. */
static void redact_password(char *msg, const char *v, const char *e)
{
    char plain[SL_ERRLEN];
    size_t n = 0;
    const char *p = v;
    int quoted = *p == '\'';

    if (e <= v)
        return;
    redact_one(msg, v, (size_t)(e - v));
    if (quoted) {
        p++;
        /* The text between the quotes, escapes as written. */
        redact_one(msg, p, (size_t)(e - p) - (e > p && e[-1] == '\'' ? 1 : 0));
    }
    for (; p < e && n + 1 < sizeof plain; p++) {
        if (quoted && *p == '\'' && p + 1 == e)
            break;
        if (*p == '\\' && p + 1 < e)
            p++;
        plain[n++] = *p;
    }
    plain[n] = '\0';
    redact_one(msg, plain, n);
    redact_quoted_pieces(msg, v, (size_t)(e - v));
    redact_quoted_pieces(msg, plain, n);
    OPENSSL_cleanse(plain, sizeof plain);
}

/*
 * libpq's conninfo/URI parse errors quote the offending text, and that can be the password,
 * a piece of it or the whole URL ('invalid percent-encoded token: "<password>"', 'end of
 * string reached when looking for matching "]" in IPv6 host address in URI: "<url>"', 'missing
 * "=" after "<second word of the password>" in connection info string'; libpq 15
 * fe-connect.c). So every password DATABASE_URL carries is cut out of a connect error: the
 * userinfo password of a postgres[ql]:// URL and its password= query parameters, or the value
 * of each password keyword of a key=value conninfo (quoted or not, with blanks and escaped
 * quotes: conninfo_password_end). msg holds SL_ERRLEN bytes.
 */
static void redact_conninfo(char *msg, const char *url)
{
    const char *p, *at, *colon;
    int is_uri;

    if (!url || !*url)
        return;
    is_uri = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
    if (is_uri) {
        p = strstr(url, "://") + 3;
        /* The last '@' ends the userinfo: a malformed URL may carry an unescaped one. */
        at = strrchr(p, '@');
        colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
        if (colon)
            redact_password(msg, colon + 1, at);
    }
    for (p = strstr(url, "password"); p; p = strstr(p + 8, "password")) {
        const char *v = p + 8;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        if (is_uri) {
            redact_password(msg, v, v + strcspn(v, "&#"));
            continue;
        }
        while (*v == ' ' || *v == '\t')
            v++;
        /* libpq's value, then all its owner meant (the two differ when blanks split it). */
        redact_password(msg, v, conninfo_value_end(v));
        redact_password(msg, v, conninfo_password_end(v));
    }
}

/*
 * The startup options of a connection into out[outlen]: the options the target already gives
 * (DATABASE_URL's `options`, read with libpq's own parser, else PGOPTIONS: libpq uses one or
 * the other, never both), then our timeouts, so they are the server's defaults for every
 * statement of the session and survive PQreset (a SET after connecting would not). Ours come
 * last: the config table is where snaplake's bounds are set. Returns 0, or -1 when it does
 * not fit.
 */
static int startup_options(char *out, size_t outlen, const char *url, const sl_pg_opts *o)
{
    PQconninfoOption *parsed = NULL;
    const char *given = NULL;
    char *perr = NULL;
    size_t n = 0;
    int w, fits = 1;

    if (url && *url) {
        /* A parse error is left to the connect, which reports it with the password cut. */
        parsed = PQconninfoParse(url, &perr);
        for (PQconninfoOption *c = parsed; c && c->keyword; c++)
            if (strcmp(c->keyword, "options") == 0 && c->val && *c->val)
                given = c->val;
    }
    if (!given)
        given = getenv("PGOPTIONS");
    w = snprintf(out, outlen, "%s", given ? given : "");
    fits = w >= 0 && (size_t)w < outlen;
    if (fits && o->statement_timeout_ms > 0) {
        n = strlen(out);
        w = snprintf(out + n, outlen - n, "%s-c statement_timeout=%lld", n ? " " : "",
                     o->statement_timeout_ms);
        fits = w >= 0 && (size_t)w < outlen - n;
    }
    if (fits && o->lock_timeout_ms > 0) {
        n = strlen(out);
        w = snprintf(out + n, outlen - n, "%s-c lock_timeout=%lld", n ? " " : "",
                     o->lock_timeout_ms);
        fits = w >= 0 && (size_t)w < outlen - n;
    }
    if (perr)
        PQfreemem(perr);
    PQconninfoFree(parsed);
    return fits ? 0 : -1;
}

void sl_pg_redact_conninfo(char *msg, const char *url)
{
    redact_conninfo(msg, url);
}

int sl_pg_connect(PGconn **out, const char *app_name, char *err, size_t errlen)
{
    return sl_pg_connect_opts(out, app_name, NULL, err, errlen);
}

int sl_pg_connect_opts(PGconn **out, const char *app_name, const sl_pg_opts *o, char *err,
                       size_t errlen)
{
    static const sl_pg_opts defaults = {SL_PG_DEFAULT_STATEMENT_TIMEOUT_MS,
                                        SL_PG_DEFAULT_LOCK_TIMEOUT_MS};
    const char *keys[12], *vals[12];
    const char *url = getenv("DATABASE_URL");
    char msg[SL_ERRLEN], options[1024];
    PGconn *conn;
    int n = 0;

    if (startup_options(options, sizeof options, url, o ? o : &defaults))
        return sl_seterr(err, errlen,
                         "pg connect: startup options (PGOPTIONS or the URL's options) and "
                         "the timeouts exceed %zu bytes",
                         sizeof options - 1);

    /* Without a bound a connect to a black-holed address hangs for the kernel's SYN retries
     * (minutes); libpq only applies PGCONNECT_TIMEOUT when the parameter is absent. */
    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[n] = "connect_timeout";
        vals[n++] = "10";
    }
    /* expand_dbname=1: a URL or key=value string here is expanded in place; "" (or absent)
     * leaves every parameter to libpq's PG* environment. */
    keys[n] = "dbname";
    vals[n++] = url && *url ? url : "";
    /* Keepalives after the target so they hold even when the URL sets its own: a worker
     * holding an export slot must notice a dead server, and the server must notice a dead
     * worker (freeing its slot), within idle + count * interval = 60 s, not the kernel's
     * two hours. */
    keys[n] = "keepalives";
    vals[n++] = "1";
    keys[n] = "keepalives_idle";
    vals[n++] = "30";
    keys[n] = "keepalives_interval";
    vals[n++] = "10";
    keys[n] = "keepalives_count";
    vals[n++] = "3";
    if (app_name) {
        keys[n] = "application_name";
        vals[n++] = app_name;
    }
    if (options[0]) {
        keys[n] = "options";
        vals[n++] = options;
    }
    keys[n] = NULL;
    vals[n] = NULL;

    conn = PQconnectdbParams(keys, vals, 1);
    if (!conn)
        return sl_seterr(err, errlen, "pg connect: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        chomp_copy(msg, sizeof msg, PQerrorMessage(conn));
        PQfinish(conn);
        redact_conninfo(msg, url);
        return sl_seterr(err, errlen, "pg connect: %s", msg);
    }
    PQsetNoticeProcessor(conn, notice_cb, NULL);
    *out = conn;
    return 0;
}

/* Fills err from a failed result (or the connection when there is none). */
static int result_err(PGconn *conn, const PGresult *res, const char *sql, char *err, size_t errlen)
{
    char msg[SL_ERRLEN];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    chomp_copy(msg, sizeof msg, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    if (!msg[0])
        chomp_copy(msg, sizeof msg, PQerrorMessage(conn));
    if (!msg[0] && res)
        snprintf(msg, sizeof msg, "unexpected status %s", PQresStatus(PQresultStatus(res)));
    /* The message is cut, not the SQLSTATE after it: callers tell a refusal of the data
     * (classes 22, 23, 54) from a lost connection by it (worker.c's ledger writes), and
     * PostgreSQL's DETAIL/HINT/CONTEXT lines can fill err on their own. 96 bytes hold
     * `pg "<60>": ` and ` (SQLSTATE xxxxx)`. */
    return sl_seterr(err, errlen, "pg \"%.60s\": %.*s%s%s%s", sql,
                     errlen > 96 && state ? (int)(errlen - 96) : (int)sizeof(msg), msg,
                     state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

static int ok_status(const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int sl_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
               PGresult **out, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

    if (!ok_status(res)) {
        result_err(conn, res, sql, err, errlen);
        PQclear(res);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

/* Runs sql as a simple query (several statements allowed, no parameters). */
static int exec_simple(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;

    if (!ok_status(res))
        rc = result_err(conn, res, sql, err, errlen);
    PQclear(res);
    return rc;
}

/* Runs a query that answers one boolean; *out gets it. */
static int query_bool(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      int *out, char *err, size_t errlen)
{
    PGresult *res = NULL;
    int rc = -1;

    if (sl_pg_exec(conn, sql, nparams, params, &res, err, errlen))
        return -1;
    if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0)) {
        sl_seterr(err, errlen, "pg \"%.60s\": expected one boolean, got %d rows", sql,
                  PQntuples(res));
        goto out;
    }
    *out = PQgetvalue(res, 0, 0)[0] == 't';
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int sl_pg_try_advisory_lock(PGconn *conn, int32_t ns, int32_t key, int *got, char *err,
                            size_t errlen)
{
    char a[16], b[16];
    const char *params[] = {a, b};

    snprintf(a, sizeof a, "%d", (int)ns);
    snprintf(b, sizeof b, "%d", (int)key);
    return query_bool(conn, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, params, got, err,
                      errlen);
}

int sl_pg_advisory_unlock(PGconn *conn, int32_t ns, int32_t key, char *err, size_t errlen)
{
    char a[16], b[16];
    const char *params[] = {a, b};
    int released = 0;

    snprintf(a, sizeof a, "%d", (int)ns);
    snprintf(b, sizeof b, "%d", (int)key);
    if (query_bool(conn, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, params, &released, err,
                   errlen))
        return -1;
    if (!released)
        return sl_seterr(err, errlen, "pg advisory unlock (%d, %d): not held by this session",
                         (int)ns, (int)key);
    return 0;
}

/* Applies one migration with its ledger row in one transaction. */
static int apply_one(PGconn *conn, const sl_pg_migration *m, char *err, size_t errlen)
{
    char ver[16], msg[SL_ERRLEN];
    const char *params[] = {ver, m->name};

    snprintf(ver, sizeof ver, "%d", m->version);
    if (exec_simple(conn, "BEGIN", msg, sizeof msg))
        goto fail;
    if (exec_simple(conn, m->sql, msg, sizeof msg) ||
        sl_pg_exec(conn,
                   "INSERT INTO snaplake_schema_migrations (version, name, applied_at) "
                   "VALUES ($1::int4, $2, now())",
                   2, params, NULL, msg, sizeof msg) ||
        exec_simple(conn, "COMMIT", msg, sizeof msg)) {
        char ignore[SL_ERRLEN];
        (void)!exec_simple(conn, "ROLLBACK", ignore, sizeof ignore);
        goto fail;
    }
    return 0;
fail:
    return sl_seterr(err, errlen, "pg migration %d (%s): %s", m->version, m->name, msg);
}

int sl_pg_migrate(PGconn *conn, const sl_pg_migration *list, size_t n, int *applied, char *err,
                  size_t errlen)
{
    char ns[16], ver[16], ignore[SL_ERRLEN];
    const char *lock_params[] = {ns, "0"};
    const char *ver_params[] = {ver};
    int locked = 0, count = 0, rc = -1, done;

    for (size_t i = 1; i < n; i++)
        if (list[i].version <= list[i - 1].version)
            return sl_seterr(err, errlen, "pg migrate: versions must ascend (%d after %d)",
                             list[i].version, list[i - 1].version);
    snprintf(ns, sizeof ns, "%d", (int)SL_PG_LOCK_NS_MIGRATE);
    /* Serialise starters before even creating the table: two concurrent CREATE TABLE IF NOT
     * EXISTS can both pass the check and one then fails on pg_type's unique index. The lock
     * is session-level so it also spans the per-migration transactions. */
    if (sl_pg_exec(conn, "SELECT pg_advisory_lock($1::int4, $2::int4)", 2, lock_params, NULL, err,
                   errlen))
        goto out;
    locked = 1;
    if (exec_simple(conn,
                    "CREATE TABLE IF NOT EXISTS snaplake_schema_migrations ("
                    "version int PRIMARY KEY, name text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())",
                    err, errlen))
        goto out;
    for (size_t i = 0; i < n; i++) {
        snprintf(ver, sizeof ver, "%d", list[i].version);
        if (query_bool(conn,
                       "SELECT EXISTS (SELECT 1 FROM snaplake_schema_migrations "
                       "WHERE version = $1::int4)",
                       1, ver_params, &done, err, errlen))
            goto out;
        if (done)
            continue;
        if (apply_one(conn, &list[i], err, errlen))
            goto out;
        count++;
        {
            const char *kv[] = {"version", ver, "name", list[i].name, NULL};
            sl_log_kv(SL_LOG_INFO, NULL, kv, "schema migration applied");
        }
    }
    rc = 0;
out:
    if (locked && sl_pg_exec(conn, "SELECT pg_advisory_unlock($1::int4, $2::int4)", 2, lock_params,
                             NULL, ignore, sizeof ignore))
        sl_warn(NULL, "pg migrate: unlock failed: %s", ignore);
    if (rc == 0 && applied)
        *applied = count;
    return rc;
}

int sl_pg_ping(PGconn *conn, char *err, size_t errlen)
{
    char msg[SL_ERRLEN];

    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        chomp_copy(msg, sizeof msg, conn ? PQerrorMessage(conn) : "no connection");
        return sl_seterr(err, errlen, "pg ping: connection is not open: %s", msg);
    }
    return sl_pg_exec(conn, "SELECT 1", 0, NULL, NULL, err, errlen);
}

int sl_pg_reconnect(PGconn *conn, int *reconnected, char *err, size_t errlen)
{
    char msg[SL_ERRLEN];

    if (!conn)
        return sl_seterr(err, errlen, "pg reconnect: no connection");
    if (sl_pg_ping(conn, msg, sizeof msg) == 0) {
        *reconnected = 0;
        return 0;
    }
    sl_warn(NULL, "pg: connection lost (%s), reconnecting", msg);
    /* Same parameters, including keepalives and application_name. */
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        chomp_copy(msg, sizeof msg, PQerrorMessage(conn));
        return sl_seterr(err, errlen, "pg reconnect: %s", msg);
    }
    *reconnected = 1;
    return 0;
}

void sl_pg_link_init(sl_pg_link *l, const char *app_name, const sl_pg_opts *o)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->app_name, sizeof l->app_name, "%s", app_name ? app_name : "");
    if (o) {
        l->opts = *o;
    } else {
        l->opts.statement_timeout_ms = SL_PG_DEFAULT_STATEMENT_TIMEOUT_MS;
        l->opts.lock_timeout_ms = SL_PG_DEFAULT_LOCK_TIMEOUT_MS;
    }
}

int sl_pg_ensure(sl_pg_link *l, int *reconnected, char *err, size_t errlen)
{
    char msg[SL_ERRLEN];
    long long now;
    int had = l->conn != NULL;

    if (reconnected)
        *reconnected = 0;
    if (l->conn && PQstatus(l->conn) == CONNECTION_OK)
        return 0;
    now = sl_mono_ms();
    /* A dead server is tried at most once per gap, whoever asks and however often: callers
     * ask before every use, from a loop that must not wait on connects that cannot work. */
    if (l->next_try_ms && now < l->next_try_ms)
        return sl_seterr(err, errlen, "pg %s: connection down, next reconnect in %lld ms",
                         l->app_name, l->next_try_ms - now);
    if (l->conn) {
        /* Same parameters, including keepalives, application_name and the timeouts. */
        PQreset(l->conn);
        if (PQstatus(l->conn) != CONNECTION_OK) {
            /* As in sl_pg_connect_opts: libpq's text may quote DATABASE_URL's password. */
            chomp_copy(msg, sizeof msg, PQerrorMessage(l->conn));
            redact_conninfo(msg, getenv("DATABASE_URL"));
            goto fail;
        }
    } else if (sl_pg_connect_opts(&l->conn, l->app_name[0] ? l->app_name : NULL, &l->opts, msg,
                                  sizeof msg)) {
        l->conn = NULL;
        goto fail;
    }
    if (l->gap_ms || had)
        sl_info(NULL, "pg %s: connection re-established", l->app_name);
    l->gap_ms = 0;
    l->next_try_ms = 0;
    if (reconnected)
        *reconnected = 1;
    return 0;
fail:
    l->gap_ms = l->gap_ms ? l->gap_ms * 2 : SL_PG_RETRY_MIN_MS;
    if (l->gap_ms > SL_PG_RETRY_MAX_MS)
        l->gap_ms = SL_PG_RETRY_MAX_MS;
    l->next_try_ms = sl_mono_ms() + l->gap_ms;
    sl_warn(NULL, "pg %s: reconnect failed, next try in %lld ms: %s", l->app_name, l->gap_ms, msg);
    return sl_seterr(err, errlen, "pg %s: %s", l->app_name, msg);
}

void sl_pg_link_cleanup(sl_pg_link *l)
{
    if (l->conn)
        PQfinish(l->conn);
    memset(l, 0, sizeof(*l));
}
