/* markdown.c - CommonMark to safe HTML through libcmark (see markdown.h). */
#include <cmark.h>
#include <stdlib.h>
#include <string.h>

#include "markdown.h"

int markdown_render(struct buf *out, const char *text, size_t n)
{
	/* SECURITY: never CMARK_OPT_UNSAFE; CMARK_OPT_SAFE is stated for
	 * libcmark builds older than 0.29, where safe was not the default. */
	char *html = cmark_markdown_to_html(text, n, CMARK_OPT_SAFE | CMARK_OPT_NOBREAKS);
	if (html == NULL)
		return -1;
	int rc = buf_append(out, html, strlen(html));
	free(html);
	return rc;
}
