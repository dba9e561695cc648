/*
 * test_tls_trust.c - the one CA store of an AWS client (tls_trust.h): loaded at the first https
 * set-up and shared by every handle after it, never for plain http, kept out of the way when
 * the CA file does not load, loaded again when a day old. That connections really verify with
 * it (and refuse what it does not trust) is tests/integration/test_tls.py, over real TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sl_test.h"
#include "tls_trust.h"
#include "util.h"

static char ca_path[64];

/* A self-signed certificate (P-256, a day) in a temporary PEM file: ca_path. 0, or -1. */
static int make_ca_file(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f = NULL;
    int fd, rc = -1;

    snprintf(ca_path, sizeof(ca_path), "/tmp/sl-tls-trust-XXXXXX");
    if (!key || !x || (fd = mkstemp(ca_path)) < 0)
        goto out;
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        goto out;
    }
    name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
        X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"snaplake-test-ca", -1, -1, 0) &&
        X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
        X509_sign(x, key, EVP_sha256()) && PEM_write_X509(f, x))
        rc = 0;
out:
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static size_t store_objects(const sl_tls_trust *t)
{
    return (size_t)sk_X509_OBJECT_num(X509_STORE_get0_objects((X509_STORE *)t->store));
}

/* The first https set-up loads the file once; every later handle shares that store. */
static void test_https_handles_share_one_store(void)
{
    sl_tls_trust t;
    char err[SL_ERRLEN];
    CURL *a = curl_easy_init(), *b = curl_easy_init();
    void *first;

    CHECK(a && b);
    CHECK_INT(make_ca_file(), 0);
    CHECK_INT(sl_tls_trust_init(&t, ca_path, err, sizeof(err)), 0);
    CHECK(t.store == NULL); /* nothing loaded before a connection needs it */
    CHECK_INT(sl_tls_trust_setup(&t, a, "https://s3.us-east-1.amazonaws.com/b/k"), 0);
    CHECK((first = t.store) != NULL);
    CHECK_INT((int)store_objects(&t), 1); /* the one certificate of the file asked for */
    CHECK_INT(sl_tls_trust_setup(&t, b, "HTTPS://glue.us-east-1.amazonaws.com/"), 0);
    CHECK(t.store == first);
    sl_tls_trust_cleanup(&t);
    CHECK(t.store == NULL && t.ca_file == NULL);
    curl_easy_cleanup(a);
    curl_easy_cleanup(b);
    unlink(ca_path);
}

/* A plain-http endpoint (the local stack) never pays for a store. */
static void test_http_loads_nothing(void)
{
    sl_tls_trust t;
    char err[SL_ERRLEN];
    CURL *h = curl_easy_init();

    CHECK(h != NULL);
    CHECK_INT(sl_tls_trust_init(&t, NULL, err, sizeof(err)), 0);
    CHECK_INT(sl_tls_trust_setup(&t, h, "http://127.0.0.1:15000/bucket/key"), 0);
    CHECK_INT(sl_tls_trust_setup(&t, h, NULL), 0);
    CHECK(t.store == NULL);
    sl_tls_trust_cleanup(&t);
    curl_easy_cleanup(h);
}

/* A CA file that does not load leaves the handle to curl (which refuses the file itself) and
   is not tried again on every request, only after SL_TLS_TRUST_RETRY_S. */
static void test_bad_file_is_left_to_curl(void)
{
    sl_tls_trust t;
    char err[SL_ERRLEN];
    CURL *h = curl_easy_init();
    long long retry;

    CHECK(h != NULL);
    CHECK_INT(sl_tls_trust_init(&t, "/nonexistent/snaplake-ca.pem", err, sizeof(err)), 0);
    CHECK_INT(sl_tls_trust_setup(&t, h, "https://s3.amazonaws.com/"), 0);
    CHECK(t.store == NULL);
    retry = t.retry_s;
    CHECK(retry > sl_mono_ms() / 1000);
    CHECK_INT(sl_tls_trust_setup(&t, h, "https://s3.amazonaws.com/"), 0);
    CHECK(t.retry_s == retry);
    sl_tls_trust_cleanup(&t);
    curl_easy_cleanup(h);
}

/* A store a day old is loaded again for the next connections; the old one stays valid for
   whoever still holds a reference (here: the test). */
static void test_day_old_store_is_reloaded(void)
{
    sl_tls_trust t;
    char err[SL_ERRLEN];
    CURL *h = curl_easy_init();
    X509_STORE *old;

    CHECK(h != NULL);
    CHECK_INT(make_ca_file(), 0);
    CHECK_INT(sl_tls_trust_init(&t, ca_path, err, sizeof(err)), 0);
    CHECK_INT(sl_tls_trust_setup(&t, h, "https://s3.amazonaws.com/"), 0);
    CHECK((old = t.store) != NULL);
    CHECK_INT(X509_STORE_up_ref(old), 1);
    t.loaded_s -= SL_TLS_TRUST_MAX_AGE_S;
    CHECK_INT(sl_tls_trust_setup(&t, h, "https://s3.amazonaws.com/"), 0);
    CHECK(t.store != NULL && t.store != (void *)old);
    CHECK_INT((int)store_objects(&t), 1);
    X509_STORE_free(old);
    sl_tls_trust_cleanup(&t);
    curl_easy_cleanup(h);
    unlink(ca_path);
}

static const sl_test tests[] = {
    SL_TEST(test_https_handles_share_one_store),
    SL_TEST(test_http_loads_nothing),
    SL_TEST(test_bad_file_is_left_to_curl),
    SL_TEST(test_day_old_store_is_reloaded),
};

SL_TEST_MAIN(tests)
