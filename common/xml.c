/* xml.c - see xml.h. */
#include "xml.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

xmlDoc *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDoc *doc = NULL;
    /*
     * NONET: never fetch a DTD or entity over the network. NOENT is deliberately absent, so
     * entity references are not substituted (XXE, billion laughs). NOERROR/NOWARNING keep
     * libxml2 from writing to stderr; we report lastError ourselves.
     */
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;

    if (!data || len == 0) {
        sl_seterr(err, errlen, "xml: empty document");
        goto out;
    }
    if (len > SL_XML_MAX_BYTES || len > (size_t)INT_MAX) {
        sl_seterr(err, errlen, "xml: document of %zu bytes exceeds the %zu-byte cap", len,
                  SL_XML_MAX_BYTES);
        goto out;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        sl_seterr(err, errlen, "xml: out of memory");
        goto out;
    }
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, options);
    if (!doc || !ctxt->wellFormed) {
        const char *m = ctxt->lastError.message;
        size_t ml = m ? strlen(m) : 0;
        while (ml && (m[ml - 1] == '\n' || m[ml - 1] == '\r'))
            ml--;
        sl_seterr(err, errlen, "xml: malformed document: %.*s", (int)(ml > 300 ? 300 : ml),
                  m ? m : "unknown error");
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
