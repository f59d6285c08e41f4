/* http_listing.c - directory listings over HTTP: format and sort from the
 * query (Apache's ?C=N;O=D and ?format=json) or Accept, the README under
 * the list, gzip, and a cache so that a large directory is rendered and
 * compressed once per index generation, not once per request.
 *
 * Cache key: (path asked for, index generation, format, sort, anonymous or
 * authenticated).  Bounded in slots and bytes; entries of an older
 * generation are dropped as soon as a newer snapshot is seen.  Entries are
 * reference-counted: a response being sent keeps its entry alive.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "compress.h"
#include "file.h"
#include "http_int.h"
#include "http_util.h"
#include "listing.h"
#include "markdown.h"
#include "path.h"
#include "sums.h"
#include "view.h"

#define LCACHE_SLOTS 64
#define LCACHE_BYTES (128u * 1024 * 1024) /* all cached listings together */
#define LISTING_MAX (256u * 1024 * 1024)  /* one rendered listing */
#define README_MAX (64 * 1024)

struct lentry {
	int refs;
	uint64_t gen;
	char key[PM_PATH_MAX + 64]; /* format, sort, anon, generations, the path asked for */
	struct buf raw, gz;         /* gz.len == 0: not worth compressing */
	uint64_t used;              /* LRU tick */
};

static pthread_mutex_t lc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lentry *lc[LCACHE_SLOTS];
static uint64_t lc_tick, lc_gen, lc_bytes;

static void lentry_unref_locked(struct lentry *e)
{
	if (--e->refs == 0) {
		buf_free(&e->raw);
		buf_free(&e->gz);
		free(e);
	}
}

static void lentry_unref(void *cls)
{
	pthread_mutex_lock(&lc_mu);
	lentry_unref_locked(cls);
	pthread_mutex_unlock(&lc_mu);
}

static void lc_drop_locked(int i)
{
	lc_bytes -= lc[i]->raw.len + lc[i]->gz.len;
	lentry_unref_locked(lc[i]);
	lc[i] = NULL;
}

void http_listing_cache_clear(void)
{
	pthread_mutex_lock(&lc_mu);
	for (int i = 0; i < LCACHE_SLOTS; i++)
		if (lc[i])
			lc_drop_locked(i);
	pthread_mutex_unlock(&lc_mu);
}

/* A new snapshot gen was published: every older listing is stale. */
static void lc_advance_locked(uint64_t gen)
{
	if (gen > lc_gen) {
		lc_gen = gen;
		for (int i = 0; i < LCACHE_SLOTS; i++)
			if (lc[i] && lc[i]->gen < gen)
				lc_drop_locked(i);
	}
}

void http_listing_publish(uint64_t gen)
{
	pthread_mutex_lock(&lc_mu);
	lc_advance_locked(gen);
	pthread_mutex_unlock(&lc_mu);
}

/* A referenced entry for key at gen, or NULL. */
static struct lentry *lc_get(const char *key, uint64_t gen)
{
	struct lentry *e = NULL;
	pthread_mutex_lock(&lc_mu);
	lc_advance_locked(gen);
	for (int i = 0; i < LCACHE_SLOTS; i++) {
		if (lc[i] && lc[i]->gen == gen && strcmp(lc[i]->key, key) == 0) {
			e = lc[i];
			e->refs++;
			e->used = ++lc_tick;
			break;
		}
	}
	pthread_mutex_unlock(&lc_mu);
	return e;
}

/* Offer e (with one reference held by the caller) to the cache. */
static void lc_put(struct lentry *e)
{
	uint64_t sz = e->raw.len + e->gz.len;
	/* Even the largest directory (PM_LIST_ENTRIES_MAX entries, ~30 MiB of
	 * HTML) is cached rather than rendered again for every request. */
	if (sz > LCACHE_BYTES / 2)
		return;
	pthread_mutex_lock(&lc_mu);
	if (e->gen >= lc_gen) {
		for (;;) {
			int free_slot = -1, lru = -1;
			for (int i = 0; i < LCACHE_SLOTS; i++) {
				if (lc[i] == NULL) {
					if (free_slot < 0)
						free_slot = i;
				} else if (lru < 0 || lc[i]->used < lc[lru]->used) {
					lru = i;
				}
			}
			if (free_slot >= 0 && lc_bytes + sz <= LCACHE_BYTES) {
				e->refs++;
				e->used = ++lc_tick;
				lc[free_slot] = e;
				lc_bytes += sz;
				break;
			}
			if (lru < 0)
				break;
			lc_drop_locked(lru);
		}
	}
	pthread_mutex_unlock(&lc_mu);
}

/* SECURITY: a listing shows exactly what the view lets this client see. */
static int hide_unseen(const struct index_entry *e, void *arg)
{
	return !view_child_visible(arg, e);
}

/* Read the first of names[0..nn) that directory dir holds (and the client
 * may see) into out, bounded, opening it as the client would.  The index
 * of the name read, or -1. */
static int read_note(const struct view_obj *dir, struct buf *out, const char *const *names,
                     size_t nn)
{
	char rel[PM_PATH_MAX];
	const struct index_dir *d = dir->d;
	for (size_t k = 0; k < nn; k++) {
		int found = 0;
		for (uint32_t i = 0; i < d->count; i++) {
			const struct index_entry *e = &dir->ix->entries[d->first + i];
			if (e->type == INDEX_FILE && strcmp(e->name, names[k]) == 0) {
				found = view_child_visible(dir, e);
				break;
			}
		}
		if (!found)
			continue;
		int n = snprintf(rel, sizeof(rel), "%s%s%s", dir->asked, dir->asked[0] ? "/" : "",
		                 names[k]);
		struct view_obj *f = malloc(sizeof(*f));
		if (n < 0 || (size_t)n >= sizeof(rel) || f == NULL) {
			free(f);
			continue;
		}
		struct stat st;
		int fd = -1;
		if (view_resolve(dir->ix, dir->cfg, dir->user, rel, f) == VIEW_OK)
			fd = view_open(f, &st);
		free(f);
		if (fd < 0)
			continue;
		size_t want = st.st_size > README_MAX ? README_MAX : (size_t)st.st_size;
		if (buf_reserve(out, want) == 0) {
			ssize_t got = pread(fd, out->data, want, 0);
			if (got > 0) {
				out->len = (size_t)got;
				out->data[out->len] = '\0';
				if ((uint64_t)st.st_size > README_MAX)
					buf_printf(out, "\n[%s shortened to its first %d bytes]\n",
					           names[k], README_MAX);
			}
		}
		close(fd);
		return (int)k;
	}
	return -1;
}

/* The page's notes: HEADER.md (rendered) above the table; README.md
 * (rendered), else README or README.txt (text) below it.  The buffers
 * hold what notes points into. */
static void read_notes(const struct view_obj *dir, struct buf *hdr, struct buf *readme,
                       struct buf *tmp, struct listing_notes *nt)
{
	static const char *const hnames[] = {"HEADER.md"};
	static const char *const rnames[] = {"README.md", "README", "README.txt"};

	memset(nt, 0, sizeof(*nt));
	if (read_note(dir, tmp, hnames, 1) == 0 && markdown_render(hdr, tmp->data, tmp->len) == 0) {
		nt->header_html = hdr->data;
		nt->header_len = hdr->len;
	}
	buf_reset(tmp);
	int k = read_note(dir, tmp, rnames, 3);
	if (k == 0 && markdown_render(readme, tmp->data, tmp->len) == 0) {
		nt->readme_html = readme->data;
		nt->readme_html_len = readme->len;
	} else if (k > 0) {
		nt->readme_text = tmp->data;
		nt->readme_text_len = tmp->len;
	}
}

/* Query: C=N|M|S, O=A|D (separated by ';' or '&', as Apache), format=json. */
static void parse_query(const char *q, char sort[3], int *json)
{
	sort[0] = 'N';
	sort[1] = 'A';
	sort[2] = '\0';
	while (q && *q) {
		size_t l = strcspn(q, "&;");
		if (l == 3 && q[0] == 'C' && q[1] == '=' && strchr("NMS", q[2]) && q[2])
			sort[0] = q[2];
		else if (l == 3 && q[0] == 'O' && q[1] == '=' && strchr("AD", q[2]) && q[2])
			sort[1] = q[2];
		else if (l == 11 && memcmp(q, "format=json", 11) == 0)
			*json = 1;
		q += l;
		if (*q)
			q++;
	}
}

enum MHD_Result http_serve_listing(struct MHD_Connection *c, struct http_req *r,
                                   const struct view_obj *dir, const char *urlpath,
                                   const char *query, const struct config *cfg)
{
	char sort[3], key[PM_PATH_MAX + 64], etag[96];
	int json = http_wants_json(http_hdr(c, "Accept"));
	int anon = dir->user == NULL;
	const struct index *ix = dir->ix;
	const struct index_dir *d = dir->d;

	parse_query(query, sort, &json);
	/* The root lists the generated ls-lR.gz, which is rebuilt just after
	 * each publish: its generation is part of the root's key. */
	uint64_t lgen = 0;
	struct index_entry xbuf;
	const struct index_entry *extra = view_extra_child(dir, &xbuf, &lgen);
	/* Keyed by the path asked for, not the directory reached: a listing
	 * reached through a symlink names the path the client asked for in
	 * its title and breadcrumb, and what it shows depends on that path
	 * too (view_child_visible).  Pages show the digests the hasher has
	 * computed: a finished pass makes a new page. */
	uint64_t sgen = sums_done_gen();
	int n = snprintf(key, sizeof(key), "%c%s%c%" PRIu64 ".%" PRIu64 ":%s", json ? 'j' : 'h',
	                 sort, anon ? 'a' : 'u', lgen, sgen, dir->asked);
	if (n < 0 || (size_t)n >= sizeof(key))
		return http_error(c, r, MHD_HTTP_URI_TOO_LONG, "414 path too long\n");

	struct lentry *e = lc_get(key, ix->generation);
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return http_error(c, r, 500, "500 out of memory\n");
		e->refs = 1;
		e->gen = ix->generation;
		memcpy(e->key, key, (size_t)n + 1);
		buf_init(&e->raw, LISTING_MAX);
		buf_init(&e->gz, LISTING_MAX);
		int rc;
		if (json) {
			rc = listing_json(&e->raw, ix, d, hide_unseen, (void *)dir, extra);
		} else {
			struct buf hdr, readme, tmp;
			struct listing_notes nt;
			buf_init(&hdr, 8 * README_MAX);
			buf_init(&readme, 8 * README_MAX);
			buf_init(&tmp, README_MAX + 128);
			read_notes(dir, &hdr, &readme, &tmp, &nt);
			rc = listing_html_page(&e->raw, ix, d, urlpath, hide_unseen, (void *)dir,
			                       extra, sort, &nt);
			buf_free(&hdr);
			buf_free(&readme);
			buf_free(&tmp);
		}
		if (rc != 0) {
			lentry_unref(e);
			return http_error(c, r, 500, "500 listing too large to render\n");
		}
		if (e->raw.len > 1024 && compress_gzip(&e->gz, e->raw.data, e->raw.len, 6) != 0)
			buf_reset(&e->gz);
		lc_put(e);
	}

	/* SECURITY (BREACH): an anonymous page holds no secret (no token, no
	 * cookie, nothing a third party could not fetch itself), so its size
	 * under gzip tells an attacker nothing.  A logged-in page lists names
	 * that anonymous clients must not learn: it goes uncompressed, so
	 * no length can be probed even where part of the page echoes the
	 * request. */
	int gz = anon && e->gz.len > 0 && http_accepts_gzip(http_hdr(c, "Accept-Encoding"));
	/* The tag names the generation and a hash of the key (which holds the
	 * client's path, so it is not copied into a header). */
	uint64_t h = 1469598103934665603ull;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(etag, sizeof(etag), "\"L%" PRIx64 "-%016" PRIx64 "%s\"", ix->generation, h,
	         gz ? "-gz" : "");
	const char *inm = http_hdr(c, "If-None-Match");
	struct MHD_Response *resp;
	unsigned status = MHD_HTTP_OK;
	uint64_t len = 0;
	if (inm && http_etag_match_list(inm, etag)) {
		lentry_unref(e);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_MODIFIED;
	} else {
		struct buf *body = gz ? &e->gz : &e->raw;
		len = body->len;
		resp = MHD_create_response_from_buffer_with_free_callback_cls(body->len, body->data,
		                                                              lentry_unref, e);
		if (resp == NULL)
			lentry_unref(e);
	}
	if (resp == NULL)
		return MHD_NO;
	if (status == MHD_HTTP_OK) {
		MHD_add_response_header(resp, "Content-Type",
		                        json ? "application/json; charset=utf-8"
		                             : "text/html; charset=utf-8");
		if (gz)
			MHD_add_response_header(resp, "Content-Encoding", "gzip");
	}
	MHD_add_response_header(resp, "Vary", "Accept-Encoding, Accept");
	/* Search engines need not index listings; mirror tools must still
	 * follow them (wget obeys a robots meta "nofollow" in the page, not
	 * this header), so the page itself carries no robots meta. */
	MHD_add_response_header(resp, "X-Robots-Tag", "noindex");
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Cache-Control", anon ? "no-cache" : "private, no-cache");
	/* SECURITY: the page runs no inline code; only our own CSS/JS/icons. */
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'self'; script-src 'self'; "
	                        "img-src 'self'; form-action 'self'; base-uri 'none'; "
	                        "frame-ancestors 'none'");
	return http_queue(c, r, status, resp, len);
}
