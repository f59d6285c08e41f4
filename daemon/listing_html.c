/* listing_html.c - directory listings as HTML (from the template in web/,
 * built into the binary) and as JSON in nginx's autoindex_format json shape.
 *
 * The HTML is shaped for people and for mirror tools at once: every entry
 * is one line holding one relative <a href>, directories end in '/', and
 * the exact byte count and full UTC timestamp are in the text (as nginx
 * autoindex and Apache print them), so lftp, rclone and MirrorBrain's
 * scanner read names, sizes and dates.  Sorting is offered by GET forms,
 * not links, so that recursive crawlers fetch each listing once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "limits.h"
#include "listing.h"
#include "sums.h"
#include "web_assets.h"

struct sort_ctx {
	const struct index *ix;
	char col; /* 'N', 'M', 'S' */
	int desc;
};

static int cmp_entries(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *s = arg;
	const struct index_entry *x = *(const struct index_entry *const *)a;
	const struct index_entry *y = *(const struct index_entry *const *)b;
	int r = 0;

	/* Directories first whatever the order, as nginx and Apache do. */
	if (x->type != y->type)
		return x->type == INDEX_DIR ? -1 : 1;
	if (s->col == 'M')
		r = x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
	else if (s->col == 'S' && x->type != INDEX_DIR)
		r = x->size < y->size ? -1 : x->size > y->size;
	if (r == 0)
		r = strcmp(x->name, y->name);
	return s->desc ? -r : r;
}

/* Parse sort ("NA", "MD", ...; NULL = name ascending). */
static void sort_parse(const char *sort, char *col, int *desc)
{
	*col = 'N';
	*desc = 0;
	if (sort && (sort[0] == 'N' || sort[0] == 'M' || sort[0] == 'S')) {
		*col = sort[0];
		*desc = sort[1] == 'D';
	}
}

/* The visible entries of d, sorted; *n set.  extra: one more entry the
 * caller adds (the root's ls-lR.gz: view_extra_child), or NULL.  NULL on
 * ENOMEM. */
static const struct index_entry **
visible_entries(const struct index *ix, const struct index_dir *d,
                int (*hidden)(const struct index_entry *e, void *arg), void *arg, const char *sort,
                const struct index_entry *extra, uint32_t *n)
{
	uint32_t cap = d->count < PM_LIST_ENTRIES_MAX ? d->count : PM_LIST_ENTRIES_MAX;
	const struct index_entry **v = malloc(sizeof(*v) * (cap + 1));
	if (v == NULL)
		return NULL;
	*n = 0;
	for (uint32_t i = 0; i < d->count && *n < cap; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		if (hidden && hidden(e, arg))
			continue;
		v[(*n)++] = e;
	}
	if (extra)
		v[(*n)++] = extra;
	struct sort_ctx s = {ix, 'N', 0};
	sort_parse(sort, &s.col, &s.desc);
	qsort_r(v, *n, sizeof(*v), cmp_entries, &s);
	return v;
}

static void utc_stamp(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, outsz, "1970-01-01 00:00:00");
}

/* href of a name: "./" before a name holding ':' (so it is never read as a
 * scheme), URI-encoded then HTML-escaped; directories end in '/'. */
static int put_href(struct buf *out, const struct index_entry *e)
{
	struct buf u;
	int rc = -1;
	buf_init(&u, 4 * PM_NAME_MAX + 8);
	if (memchr(e->name, ':', e->namelen) && buf_puts(&u, "./") != 0)
		goto fail;
	if (buf_append_enc(&u, e->name, e->namelen, BUF_ENC_URI) != 0)
		goto fail;
	if (e->type == INDEX_DIR && buf_puts(&u, "/") != 0)
		goto fail;
	rc = buf_append_enc(out, u.data, u.len, BUF_ENC_HTML);
fail:
	buf_free(&u);
	return rc;
}

/* The SHA-256 (hex) known for file e of directory d: the one its
 * SHA256SUMS states, else the one the background hasher computed for the
 * bytes served; NULL when neither.  hex: 65 bytes of room. */
static const char *entry_sha(const struct index_dir *d, const struct index_entry *e,
                             const struct sums_dir *sd, char *hex)
{
	char rel[PM_PATH_MAX];
	size_t dl = strlen(d->path);

	if (e->type != INDEX_FILE)
		return NULL;
	const char *sha = sums_dir_find(sd, e->name);
	if (sha)
		return sha;
	if (dl + 1 + e->namelen + 1 > sizeof(rel))
		return NULL;
	int n = snprintf(rel, sizeof(rel), "%s%s%s", d->path, dl ? "/" : "", e->name);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return NULL;
	return sums_cached_hex(rel, e->size, e->mtime, e->ino, hex) == 0 ? hex : NULL;
}

/* The label of a name, HTML-escaped; in a long name a <wbr> after each
 * '-', '_' and '.' lets a narrow screen break it there rather than
 * mid-word. */
static int put_label(struct buf *out, const char *name, size_t n)
{
	size_t from = 0;

	if (n <= 24)
		return buf_append_enc(out, name, n, BUF_ENC_HTML);
	for (size_t i = 0; i < n; i++) {
		if (name[i] != '-' && name[i] != '_' && name[i] != '.')
			continue;
		if (buf_append_enc(out, name + from, i + 1 - from, BUF_ENC_HTML) != 0 ||
		    (i + 1 < n && buf_puts(out, "<wbr>") != 0))
			return -1;
		from = i + 1;
	}
	return buf_append_enc(out, name + from, n - from, BUF_ENC_HTML);
}

/* One entry, one line: name link, UTC time, exact bytes, human size (the
 * exact count in its title), SHA-256 when known (a <details> that opens
 * without script; filter.js adds a copy button).  Columns are styled by
 * position (CSS nth-child) to keep a 10,000-entry page small. */
static int put_row(struct buf *out, const struct index_dir *d, const struct index_entry *e,
                   const struct sums_dir *sd)
{
	char hex[SUMS_HEX_LEN + 1];
	const char *sha = entry_sha(d, e, sd, hex);
	char date[32], human[32];
	int dir = e->type == INDEX_DIR;

	utc_stamp(e->mtime, date, sizeof(date));
	if (buf_puts(out, dir ? "<tr class=\"d\"><td><a href=\"" : "<tr><td><a href=\"") != 0 ||
	    put_href(out, e) != 0 || buf_puts(out, "\">") != 0 ||
	    put_label(out, e->name, e->namelen) != 0 ||
	    buf_printf(out, "%s</a></td><td>%s</td>", dir ? "/" : "", date) != 0)
		return -1;
	if (dir)
		return buf_puts(out, "<td>-</td><td>-</td><td></td></tr>\n");
	if (buf_printf(out, "<td>%" PRIu64 "</td><td title=\"%" PRIu64 " bytes\">%s</td><td>",
	               e->size, e->size, fmt_human_size(e->size, human, sizeof(human))) != 0)
		return -1;
	if (sha && buf_printf(out, "<details><summary>SHA-256</summary><code>%s</code></details>",
	                      sha) != 0)
		return -1;
	return buf_puts(out, "</td></tr>\n");
}

/* Breadcrumb: each ancestor of urlpath a link, the last one too. */
static int put_breadcrumb(struct buf *out, const char *urlpath)
{
	const char *p = urlpath;
	if (buf_puts(out, "<a href=\"/\">/</a>") != 0)
		return -1;
	p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		if (slash == NULL)
			slash = p + strlen(p);
		size_t upto = (size_t)(slash - urlpath) + (*slash ? 1 : 0);
		struct buf u;
		buf_init(&u, 3 * PM_PATH_MAX + 8);
		int rc = buf_append_enc(&u, urlpath, upto, BUF_ENC_URI);
		if (rc == 0)
			rc = buf_puts(out, "<a href=\"");
		if (rc == 0)
			rc = buf_append_enc(out, u.data, u.len, BUF_ENC_HTML);
		buf_free(&u);
		if (rc != 0 || buf_puts(out, "\">") != 0 ||
		    buf_append_enc(out, p, (size_t)(slash - p), BUF_ENC_HTML) != 0 ||
		    buf_puts(out, "</a>/") != 0)
			return -1;
		if (*slash == '\0')
			break;
		p = slash + 1;
	}
	return 0;
}

/* One sortable column head: a GET form whose button asks for this column,
 * in the other order when it is the current one. */
static int put_sorthead(struct buf *out, const char *label, char col, int num, char cur, int desc,
                        const char *extra_class)
{
	int active = cur == col;
	char next = active && !desc ? 'D' : 'A';
	const char *arrow = active ? (desc ? " \xe2\x86\x93" : " \xe2\x86\x91") : "";
	return buf_printf(out,
	                  "<th class=\"%s%s\"%s><form method=\"get\"><input type=\"hidden\" "
	                  "name=\"O\" value=\"%c\"><button name=\"C\" value=\"%c\" "
	                  "title=\"Sort by %s\">%s%s</button></form></th>",
	                  num ? "pm-num" : "pm-text", extra_class,
	                  active ? (desc ? " aria-sort=\"descending\"" : " aria-sort=\"ascending\"")
	                         : "",
	                  next, col, label, label, arrow);
}

int listing_html(struct buf *out, const struct index *ix, const struct index_dir *d,
                 const char *urlpath, int (*hidden)(const struct index_entry *e, void *arg),
                 void *arg, const char *sort, const char *readme, size_t readmelen)
{
	struct listing_notes nt = {NULL, 0, NULL, 0, readme, readmelen};
	return listing_html_page(out, ix, d, urlpath, hidden, arg, NULL, sort, &nt);
}

int listing_html_page(struct buf *out, const struct index *ix, const struct index_dir *d,
                      const char *urlpath, int (*hidden)(const struct index_entry *e, void *arg),
                      void *arg, const struct index_entry *extra, const char *sort,
                      const struct listing_notes *notes)
{
	uint32_t n = 0, ndirs = 0, nfiles = 0;
	uint64_t bytes = 0;
	char col;
	int desc, rc = -1;
	const struct index_entry **v = visible_entries(ix, d, hidden, arg, sort, extra, &n);
	/* The checksums the directory's SHA256SUMS states, shown per file. */
	struct sums_dir *sd = sums_dir_acquire(ix, d->path);
	const char *t = (const char *)web_listing_html;
	const char *end = t + web_listing_html_len;

	if (v == NULL)
		return -1;
	sort_parse(sort, &col, &desc);
	for (uint32_t i = 0; i < n; i++) {
		const struct index_entry *e = v[i];
		if (e->type == INDEX_DIR) {
			ndirs++;
		} else {
			nfiles++;
			bytes += e->size;
		}
	}
	while (t < end) {
		const char *m = memmem(t, (size_t)(end - t), "{{", 2);
		if (m == NULL) {
			if (buf_append(out, t, (size_t)(end - t)) != 0)
				goto fail;
			break;
		}
		if (buf_append(out, t, (size_t)(m - t)) != 0)
			goto fail;
		const char *close = memmem(m, (size_t)(end - m), "}}", 2);
		if (close == NULL)
			goto fail;
		size_t kl = (size_t)(close - m - 2);
		const char *k = m + 2;
		int r = 0;
		if (kl == 5 && memcmp(k, "title", 5) == 0) {
			r = buf_append_enc(out, urlpath, strlen(urlpath), BUF_ENC_HTML);
		} else if (kl == 10 && memcmp(k, "breadcrumb", 10) == 0) {
			r = put_breadcrumb(out, urlpath);
		} else if (kl == 5 && memcmp(k, "total", 5) == 0) {
			char human[32];
			r = buf_printf(
			    out,
			    "%" PRIu32 " director%s, %" PRIu32 " file%s, %" PRIu64 " bytes (%s)",
			    ndirs, ndirs == 1 ? "y" : "ies", nfiles, nfiles == 1 ? "" : "s", bytes,
			    fmt_human_size(bytes, human, sizeof(human)));
		} else if (kl == 9 && memcmp(k, "sortheads", 9) == 0) {
			r = put_sorthead(out, "Name", 'N', 0, col, desc, "");
			if (r == 0)
				r = put_sorthead(out, "Last modified (UTC)", 'M', 0, col, desc, "");
			if (r == 0)
				r = put_sorthead(out, "Bytes", 'S', 1, col, desc, " pm-bytes");
			if (r == 0)
				r = put_sorthead(out, "Size", 'S', 1, col, desc, " pm-size");
			if (r == 0)
				r = buf_puts(out, "<th class=\"pm-text pm-sha\">SHA-256</th>");
		} else if (kl == 4 && memcmp(k, "rows", 4) == 0) {
			if (strcmp(urlpath, "/") != 0)
				r = buf_puts(out, "<tr class=\"u\"><td><a href=\"../\">../</a></td>"
				                  "<td></td><td></td><td></td><td></td></tr>\n");
			for (uint32_t i = 0; r == 0 && i < n; i++)
				r = put_row(out, d, v[i], sd);
		} else if (kl == 6 && memcmp(k, "header", 6) == 0) {
			if (notes->header_html && notes->header_len) {
				r = buf_puts(out, "<div class=\"pm-header pm-md\">\n");
				if (r == 0)
					r = buf_append(out, notes->header_html, notes->header_len);
				if (r == 0)
					r = buf_puts(out, "</div>\n");
			}
		} else if (kl == 6 && memcmp(k, "readme", 6) == 0 && notes->readme_html &&
		           notes->readme_html_len) {
			r = buf_puts(out, "<h2 class=\"pm-readme-title\">README</h2>\n"
			                  "<div class=\"pm-readme pm-md\">\n");
			if (r == 0)
				r = buf_append(out, notes->readme_html, notes->readme_html_len);
			if (r == 0)
				r = buf_puts(out, "</div>");
		} else if (kl == 6 && memcmp(k, "readme", 6) == 0) {
			const char *readme = notes->readme_text;
			size_t readmelen = notes->readme_text_len;
			if (readme && readmelen) {
				r = buf_puts(out, "<h2 class=\"pm-readme-title\">README</h2>\n"
				                  "<pre class=\"pm-readme\">");
				if (r == 0)
					r = buf_append_enc(out, readme, readmelen, BUF_ENC_HTML);
				if (r == 0)
					r = buf_puts(out, "</pre>");
			}
		} else {
			r = buf_append(out, m, (size_t)(close + 2 - m));
		}
		if (r != 0)
			goto fail;
		t = close + 2;
	}
	rc = 0;
fail:
	sums_dir_release(sd);
	free(v);
	return rc;
}

int listing_json(struct buf *out, const struct index *ix, const struct index_dir *d,
                 int (*hidden)(const struct index_entry *e, void *arg), void *arg,
                 const struct index_entry *extra)
{
	uint32_t n = 0;
	int rc = -1;
	const struct index_entry **v = visible_entries(ix, d, hidden, arg, "NA", extra, &n);
	struct sums_dir *sd = sums_dir_acquire(ix, d->path);

	if (v == NULL) {
		sums_dir_release(sd);
		return -1;
	}
	/* Byte for byte what nginx's autoindex_format json writes (CRLF line
	 * ends, no newline after the closing bracket), so tools written for
	 * nginx parse it unchanged. */
	if (buf_puts(out, "[\r\n") != 0)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		const struct index_entry *e = v[i];
		char date[40];
		fmt_http_date((time_t)e->mtime, date, sizeof(date));
		if (buf_puts(out, "{ \"name\":\"") != 0 ||
		    buf_append_enc(out, e->name, e->namelen, BUF_ENC_JSON) != 0)
			goto fail;
		if (e->type == INDEX_DIR) {
			if (buf_printf(out, "\", \"type\":\"directory\", \"mtime\":\"%s\" }",
			               date) != 0)
				goto fail;
		} else if (buf_printf(out,
		                      "\", \"type\":\"file\", \"mtime\":\"%s\", \"size\":%" PRIu64,
		                      date, e->size) != 0) {
			goto fail;
		} else {
			/* nginx's fields, then the SHA-256 when known */
			char hex[SUMS_HEX_LEN + 1];
			const char *sha = entry_sha(d, e, sd, hex);
			if ((sha && buf_printf(out, ", \"sha256\":\"%s\"", sha) != 0) ||
			    buf_puts(out, " }") != 0)
				goto fail;
		}
		if (buf_puts(out, i + 1 < n ? ",\r\n" : "\r\n") != 0)
			goto fail;
	}
	if (buf_puts(out, "]") != 0)
		goto fail;
	rc = 0;
fail:
	sums_dir_release(sd);
	free(v);
	return rc;
}
