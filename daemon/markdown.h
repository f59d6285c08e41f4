/* markdown.h - CommonMark (libcmark) to HTML for README.md and HEADER.md
 * shown on listing pages.  The only file that includes cmark.h.
 *
 * SECURITY: the text is the publisher's, not ours to trust: rendering is
 * cmark's safe mode (CMARK_OPT_SAFE semantics, the default since 0.29):
 * raw HTML blocks and inline HTML are replaced by a comment, and links or
 * images whose URL is javascript:, vbscript:, file: or data: (other than
 * data:image/png|gif|jpeg|webp) get an empty URL.  The page's CSP (no
 * inline script, images from 'self') is the second wall. */
#ifndef PUBMIRROR_MARKDOWN_H
#define PUBMIRROR_MARKDOWN_H

#include <stddef.h>

#include "buf.h"

/* Append the HTML of the CommonMark text[0..n) to out.  0 or -1 (memory,
 * cap). */
int markdown_render(struct buf *out, const char *text, size_t n);

#endif
