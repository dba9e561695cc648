/* test_xml.c - the libxml2 helpers: namespace-blind lookups, text copies, hardened parsing. */
#include <stdlib.h>
#include <string.h>

#include "sl_test.h"
#include "xml.h"

static const char doc_ns[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Contents><Key>a&amp;b</Key><Size>1</Size></Contents>"
    "<Other/><Contents><Key>k2</Key></Contents><Contents><Key></Key></Contents>"
    "<Deep><Deeper><Target>found</Target></Deeper></Deep></ListBucketResult>";

static void test_find_ignores_namespace(void)
{
    char err[SL_ERRLEN];
    xmlDoc *d = sl_xml_parse(doc_ns, strlen(doc_ns), err, sizeof(err));
    xmlNode *root, *t;
    char *s;

    CHECK(d != NULL);
    root = sl_xml_root(d);
    CHECK_STR((const char *)root->name, "ListBucketResult");
    t = sl_xml_find(root, "Target");
    CHECK(t != NULL);
    s = sl_xml_text(t);
    CHECK_STR(s, "found");
    free(s);
    CHECK(sl_xml_find(root, "ListBucketResult") == root);
    CHECK(sl_xml_find(root, "Missing") == NULL);
    /* Search stays inside the subtree it was given. */
    CHECK(sl_xml_find(sl_xml_child(root, "Other"), "Target") == NULL);
    CHECK(sl_xml_find(NULL, "x") == NULL);
    xmlFreeDoc(d);
}

static void test_iterate_children(void)
{
    static const char *const want[] = {"a&b", "k2", ""};
    char err[SL_ERRLEN];
    xmlDoc *d = sl_xml_parse(doc_ns, strlen(doc_ns), err, sizeof(err));
    size_t i = 0;

    CHECK(d != NULL);
    for (xmlNode *n = sl_xml_child(sl_xml_root(d), "Contents"); n; n = sl_xml_next(n, "Contents")) {
        char *k = sl_xml_child_text(n, "Key");
        int ok = i < 3 && k && strcmp(k, want[i]) == 0;
        free(k);
        if (!ok)
            xmlFreeDoc(d);
        CHECK(ok);
        i++;
    }
    xmlFreeDoc(d);
    CHECK_INT(i, 3);
}

static void test_child_copy_truncates(void)
{
    char err[SL_ERRLEN], out[4];
    xmlDoc *d = sl_xml_parse(doc_ns, strlen(doc_ns), err, sizeof(err));
    xmlNode *root;
    int rc1, rc2;

    CHECK(d != NULL);
    root = sl_xml_root(d);
    rc1 = sl_xml_child_copy(sl_xml_child(root, "Contents"), "Key", out, sizeof(out));
    CHECK_INT(rc1, 0);
    CHECK_STR(out, "a&b");
    rc1 = sl_xml_child_copy(root, "Deep", out, 3);
    CHECK_STR(out, "fo");
    rc2 = sl_xml_child_copy(root, "Nope", out, sizeof(out));
    xmlFreeDoc(d);
    CHECK_INT(rc1, 0);
    CHECK_INT(rc2, -1);
    CHECK_STR(out, "");
    CHECK(sl_xml_child_text(NULL, "x") == NULL);
}

static void test_rejects_bad_input(void)
{
    static const struct {
        const char *in;
        const char *err_has;
    } cases[] = {
        {"", "empty"},
        {"<a><b></a>", "malformed"},
        {"not xml", "malformed"},
        {"<a>&undefined;</a>", "malformed"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char err[SL_ERRLEN] = "";
        xmlDoc *d = sl_xml_parse(cases[i].in, strlen(cases[i].in), err, sizeof(err));
        CHECK(d == NULL);
        CHECK(strstr(err, cases[i].err_has) != NULL);
    }
}

static void test_no_entity_expansion(void)
{
    /* Internal entities are not substituted and external ones are never loaded (XXE). */
    static const char xxe[] = "<?xml version=\"1.0\"?>"
                              "<!DOCTYPE r [<!ENTITY big \"EXPANDED\">"
                              "<!ENTITY ext SYSTEM \"file:///etc/passwd\">]>"
                              "<r><a>&big;</a><b>&ext;</b></r>";
    char err[SL_ERRLEN];
    xmlDoc *d = sl_xml_parse(xxe, strlen(xxe), err, sizeof(err));
    xmlNode *a;
    char *b;
    int ok;

    CHECK(d != NULL);
    /* Without XML_PARSE_NOENT the reference stays a reference node in the tree. */
    a = sl_xml_child(sl_xml_root(d), "a");
    b = sl_xml_child_text(sl_xml_root(d), "b");
    ok = a && a->children && a->children->type == XML_ENTITY_REF_NODE && b && !strstr(b, "root:");
    free(b);
    xmlFreeDoc(d);
    CHECK(ok);
}

static void test_size_cap(void)
{
    char err[SL_ERRLEN] = "";
    /* The cap is checked before libxml2 reads anything, so a bogus pointer is never read. */
    xmlDoc *d = sl_xml_parse("<a/>", SL_XML_MAX_BYTES + 1, err, sizeof(err));
    CHECK(d == NULL);
    CHECK(strstr(err, "cap") != NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_find_ignores_namespace), SL_TEST(test_iterate_children),
    SL_TEST(test_child_copy_truncates),   SL_TEST(test_rejects_bad_input),
    SL_TEST(test_no_entity_expansion),    SL_TEST(test_size_cap),
};
SL_TEST_MAIN(tests)
