/* listing.h - one list of index entries rendered as HTML, JSON, LIST
 * (ls -l), NLST, MLSD/MLST facts.
 *
 * Escaping is decided where the bytes are written: links are URI-encoded
 * then HTML-escaped, labels HTML-escaped, names with ':' get a "./" prefix
 * in links; FTP lines refuse names holding CR/LF (such entries are skipped).
 * listing_ftp.c holds the FTP forms, listing_html.c the HTML/JSON forms.
 */
#ifndef PUBMIRROR_LISTING_H
#define PUBMIRROR_LISTING_H

#include <stdint.h>
#include <time.h>
#include "buf.h"
#include "index.h"

/* --- FTP forms (listing_ftp.c) --- */

/* One `ls -l` line for e (CRLF-terminated) into out; now decides the
 * "Mon dd HH:MM" vs "Mon dd  YYYY" form.  0 or -1 (name with CR/LF, cap). */
int listing_ls_line(struct buf *out, const struct index_entry *e, time_t now);
/* MLSx facts "type=file;size=..;modify=YYYYMMDDHHMMSS;perm=r;unique=..; name"
 * without CRLF (the caller adds it, with a leading space for MLST). */
int listing_mlsx_facts(struct buf *out, const struct index_entry *e, const char *type_override);

/* --- HTML / JSON forms (listing_html.c) --- */

/* Render the directory d of ix at URL path urlpath (decoded, starting and
 * ending with '/') as an HTML page; hidden(e) says which entries to leave
 * out (the caller asks view_child_visible: listing knows no rule of its
 * own).  readme: text to show under the list or NULL.  0 or -1. */
int listing_html(struct buf *out, const struct index *ix, const struct index_dir *d,
                 const char *urlpath, int (*hidden)(const struct index_entry *e, void *arg),
                 void *arg, const char *sort, const char *readme, size_t readmelen);
/* What a page shows besides the entries, any may be NULL/0: header_html
 * above the table (HEADER.md rendered, as Apache's HeaderName), below it
 * readme_html (README.md rendered) or else readme_text (README or
 * README.txt, escaped here into a <pre>).  The HTML fragments are put in
 * as they are: the caller made them safe (markdown.h). */
struct listing_notes {
	const char *header_html;
	size_t header_len;
	const char *readme_html;
	size_t readme_html_len;
	const char *readme_text;
	size_t readme_text_len;
};
/* listing_html with the notes above, and extra: one more entry to list
 * (the root's generated ls-lR.gz, view_extra_child), or NULL. */
int listing_html_page(struct buf *out, const struct index *ix, const struct index_dir *d,
                      const char *urlpath, int (*hidden)(const struct index_entry *e, void *arg),
                      void *arg, const struct index_entry *extra, const char *sort,
                      const struct listing_notes *notes);
/* Same entries (and extra) as a JSON array in nginx autoindex_format json
 * shape. */
int listing_json(struct buf *out, const struct index *ix, const struct index_dir *d,
                 int (*hidden)(const struct index_entry *e, void *arg), void *arg,
                 const struct index_entry *extra);

#endif
