/*
 * xml.h - the small libxml2 helpers every XML reader in snaplake uses (query-protocol
 * responses from RDS and STS, S3's REST-XML, AWS error bodies).
 *
 * Parsing is locked down for input that comes off the network: no network access
 * (XML_PARSE_NONET), no entity substitution (XML_PARSE_NOENT is *not* passed, so "billion
 * laughs" expansions never happen), no DTD loading, libxml2's own size limits kept (no
 * XML_PARSE_HUGE), and an input cap of SL_XML_MAX_BYTES. libxml2 never prints to stderr: its
 * error text is returned through err instead.
 *
 * AWS answers carry a default namespace (xmlns="http://s3.amazonaws.com/doc/2006-03-01/",
 * "http://rds.amazonaws.com/doc/2014-10-31/") that some endpoints omit, so every lookup
 * here compares local names only and ignores namespaces.
 */
#ifndef SL_XML_H
#define SL_XML_H

#include <stddef.h>

#include <libxml/tree.h>
#include <libxml/xmlreader.h>

#include "util.h"

/* Larger documents are refused before libxml2 sees them (same cap as an HTTP body). */
#define SL_XML_MAX_BYTES ((size_t)64 * 1024 * 1024)

/*
 * Parses len bytes of data (need not be NUL-terminated). Returns the document, owned by the
 * caller (xmlFreeDoc), or NULL with err set: empty or oversized input, or libxml2's message
 * for malformed XML.
 */
xmlDoc *sl_xml_parse(const char *data, size_t len, char *err, size_t errlen);

/* Root element of doc, or NULL (doc NULL or empty). Borrowed from doc. */
xmlNode *sl_xml_root(const xmlDoc *doc);

/*
 * First element named `name` (local name, namespace ignored) among node and its descendants,
 * in document order. NULL when none or node is NULL. Borrowed.
 */
xmlNode *sl_xml_find(xmlNode *node, const char *name);

/* First direct child element of parent named `name`; NULL when none. Borrowed. */
xmlNode *sl_xml_child(const xmlNode *parent, const char *name);

/*
 * Next sibling element after `node` with the same local name as `name`; NULL at the end.
 * Iterate: for (n = sl_xml_child(p, "Contents"); n; n = sl_xml_next(n, "Contents")).
 */
xmlNode *sl_xml_next(const xmlNode *node, const char *name);

/*
 * Text content of node (all descendant text, entities left as written) as a malloc'd string
 * the caller free()s. "" for an empty element; NULL when node is NULL or memory ran out.
 */
char *sl_xml_text(const xmlNode *node);

/* sl_xml_text of the first child element named `name`; NULL when absent (or OOM). */
char *sl_xml_child_text(const xmlNode *parent, const char *name);

/*
 * Copies the text of the first child element named `name` into out (NUL-terminated,
 * truncated to outlen - 1 bytes). Returns 0, or -1 when the child is absent (out set to "").
 */
int sl_xml_child_copy(const xmlNode *parent, const char *name, char *out, size_t outlen);

/*
 * A pull reader (libxml2's xmlTextReader) over len bytes of data, for a large document read
 * once, front to back, without building its tree: a ListObjectsV2 page of 1,000 entries is
 * read one node at a time instead of as some 9,000 nodes held at once. Locked down like
 * sl_xml_parse (no network, no entity substitution, no DTD loading, the same cap); a caller
 * should also refuse a document type node (XML_READER_TYPE_DOCUMENT_TYPE): AWS sends none.
 * The data is not copied: it must outlive the reader. Embedded, and must not move while open
 * (libxml2's error callback writes into it).
 *
 *   sl_xml_reader xr;
 *   if (sl_xml_reader_open(&xr, body, len, err, errlen)) ...;
 *   while ((rc = xmlTextReaderRead(xr.r)) == 1) ...;
 *   if (rc < 0) ... xr.error ...;      (a fatal error: the document is not well-formed)
 *   sl_xml_reader_close(&xr);
 */
typedef struct sl_xml_reader {
    xmlTextReaderPtr r;    /* owned */
    char error[SL_ERRLEN]; /* "xml: malformed document: ..." of libxml2's first fatal error
                              (else its first error); "" if none */
    int fatal;             /* error is a fatal one */
} sl_xml_reader;

/* Returns 0, or -1 with err set (empty or oversized input, out of memory). */
int sl_xml_reader_open(sl_xml_reader *xr, const char *data, size_t len, char *err, size_t errlen);
void sl_xml_reader_close(sl_xml_reader *xr);

#endif /* SL_XML_H */
