/* xml.c - see xml.h. */
#include "xml.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlversion.h>

/*
 * NONET: never fetch a DTD or entity over the network. NOENT is deliberately absent, so
 * entity references are not substituted (XXE, billion laughs). NOERROR/NOWARNING keep
 * libxml2 from writing to stderr; we report its error ourselves. IGNORE_ENC: AWS answers
 * in UTF-8 (and says so in its declarations), so a declared encoding is not obeyed: a
 * document is UTF-8 (or UTF-16 by its first bytes) and libxml2 never switches to another
 * decoder (iconv's) for what an answer claims. The element names of a document without
 * NUL bytes are then its bytes, which sl_aws_s3_body_is_error relies on.
 */
#define PARSE_OPTIONS                                                                              \
    (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC)

/* The checks every document passes before libxml2 sees it: 0, or -1 with err set. */
static int input_ok(const char *data, size_t len, char *err, size_t errlen)
{
    if (!data || len == 0)
        return sl_seterr(err, errlen, "xml: empty document");
    if (len > SL_XML_MAX_BYTES || len > (size_t)INT_MAX)
        return sl_seterr(err, errlen, "xml: document of %zu bytes exceeds the %zu-byte cap", len,
                         SL_XML_MAX_BYTES);
    return 0;
}

/* libxml2's message m (may be NULL) as our error, its trailing newline cut. */
static void malformed(const char *m, char *err, size_t errlen)
{
    size_t ml = m ? strlen(m) : 0;

    while (ml && (m[ml - 1] == '\n' || m[ml - 1] == '\r'))
        ml--;
    sl_seterr(err, errlen, "xml: malformed document: %.*s", (int)(ml > 300 ? 300 : ml),
              m ? m : "unknown error");
}

xmlDoc *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDoc *doc = NULL;
    const int options = PARSE_OPTIONS;

    if (input_ok(data, len, err, errlen))
        goto out;
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        sl_seterr(err, errlen, "xml: out of memory");
        goto out;
    }
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, options);
    if (!doc || !ctxt->wellFormed) {
        malformed(ctxt->lastError.message, err, errlen);
        xmlFreeDoc(doc);
        doc = NULL;
        goto out;
    }
    if (!xmlDocGetRootElement(doc)) {
        sl_seterr(err, errlen, "xml: document has no root element");
        xmlFreeDoc(doc);
        doc = NULL;
    }
out:
    xmlFreeParserCtxt(ctxt);
    return doc;
}

xmlNode *sl_xml_root(const xmlDoc *doc)
{
    return doc ? xmlDocGetRootElement(doc) : NULL;
}

static int name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

xmlNode *sl_xml_find(xmlNode *node, const char *name)
{
    /*
     * Iterative pre-order walk: a recursive one would let a deeply nested hostile document
     * exhaust the stack (libxml2 itself caps depth at 256 without XML_PARSE_HUGE).
     */
    xmlNode *n = node;

    if (!node || !name)
        return NULL;
    while (n) {
        if (name_is(n, name))
            return n;
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n && n != node && !n->next)
            n = n->parent;
        if (!n || n == node)
            return NULL;
        n = n->next;
    }
    return NULL;
}

xmlNode *sl_xml_child(const xmlNode *parent, const char *name)
{
    if (!parent || !name)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (name_is(n, name))
            return n;
    return NULL;
}

xmlNode *sl_xml_next(const xmlNode *node, const char *name)
{
    if (!node || !name)
        return NULL;
    for (xmlNode *n = node->next; n; n = n->next)
        if (name_is(n, name))
            return n;
    return NULL;
}

char *sl_xml_text(const xmlNode *node)
{
    xmlChar *t;
    char *s;

    if (!node)
        return NULL;
    t = xmlNodeGetContent(node);
    /* Hand back malloc'd memory so callers free() it like every other string here. */
    s = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

char *sl_xml_child_text(const xmlNode *parent, const char *name)
{
    return sl_xml_text(sl_xml_child(parent, name));
}

int sl_xml_child_copy(const xmlNode *parent, const char *name, char *out, size_t outlen)
{
    xmlNode *n = sl_xml_child(parent, name);
    xmlChar *t;

    if (outlen)
        out[0] = '\0';
    if (!n)
        return -1;
    t = xmlNodeGetContent(n);
    if (t && outlen) {
        size_t l = strlen((const char *)t);
        if (l >= outlen)
            l = outlen - 1;
        memcpy(out, t, l);
        out[l] = '\0';
    }
    xmlFree(t);
    return 0;
}

/*
 * The reader's errors. Only a fatal one ends the document (xmlTextReaderRead -1): a namespace
 * error (an xmlns that is not a URI) is reported and parsing goes on, as it does for
 * sl_xml_parse, which accepts such a document. The first fatal error is kept, else the first.
 */
#if LIBXML_VERSION >= 21200 /* the callback's error became const in libxml2 2.12 */
static void reader_error(void *arg, const xmlError *e)
#else
static void reader_error(void *arg, xmlErrorPtr e)
#endif
{
    sl_xml_reader *xr = arg;

    if (!e || e->level < XML_ERR_ERROR || xr->fatal)
        return;
    if (e->level == XML_ERR_FATAL || !xr->error[0])
        malformed(e->message, xr->error, sizeof(xr->error));
    xr->fatal = e->level == XML_ERR_FATAL;
}

int sl_xml_reader_open(sl_xml_reader *xr, const char *data, size_t len, char *err, size_t errlen)
{
    xr->r = NULL;
    xr->error[0] = '\0';
    xr->fatal = 0;
    if (input_ok(data, len, err, errlen))
        return -1;
    xr->r = xmlReaderForMemory(data, (int)len, NULL, NULL, PARSE_OPTIONS);
    if (!xr->r)
        return sl_seterr(err, errlen, "xml: out of memory");
    xmlTextReaderSetStructuredErrorHandler(xr->r, reader_error, xr);
    return 0;
}

void sl_xml_reader_close(sl_xml_reader *xr)
{
    if (xr->r)
        xmlFreeTextReader(xr->r);
    xr->r = NULL;
}
