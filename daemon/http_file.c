/* http_file.c - files over HTTP: types, validators, conditional requests,
 * Range (single and multipart/byteranges).
 *
 * Plain HTTP without a rate limit sends files with sendfile (libmicrohttpd's
 * fd response).  Over TLS libmicrohttpd's fd response reads 4 KiB at a time;
 * our own reader hands it large blocks instead, and the same reader applies
 * the shared limiter: when the byte budget is empty it suspends the
 * connection and the pacer thread (http_pace.c) resumes it when tokens exist again, so
 * no thread busy-waits and other connections keep flowing.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "buf.h"
#include "file.h"
#include "http_int.h"
#include "sums.h"
#include "fmt.h"
#include "http_util.h"
#include "log.h"

/* Reader block over TLS and when paced.  Measured (server CPU per GiB over
 * TLS, this machine): libmicrohttpd's own fd response, 4 KiB blocks, 1.0-1.3 s;
 * 16-256 KiB blocks 0.6-0.9 s; nginx 0.8 s.  64 KiB keeps that gain at a
 * quarter of the memory per connection of 256 KiB. */
#define HTTP_BLOCK (64 * 1024)

enum seg_kind { SEG_MEM, SEG_FILE };

struct seg {
	enum seg_kind kind;
	uint64_t off; /* SEG_FILE: file offset; SEG_MEM: offset in body->text */
	uint64_t len;
};

struct body {
	int fd;
	unsigned nseg;
	struct seg seg[2 * PM_HTTP_RANGES_MAX + 1];
	char *text; /* multipart part headers, back to back */
	uint64_t total;
	struct MHD_Connection *conn;
	struct http_conn *hc; /* lives longer than the body's reads */
	struct sockaddr_storage peer;
	int paced;
};

/* ---- the body reader ---- */

static ssize_t body_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct body *b = cls;
	uint64_t at = 0;

	if (pos >= b->total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	b->hc->body_sent = pos; /* all before pos is written (see http_int.h) */
	if (b->paced) {
		uint64_t wait = 0, now = clock_now_ns();
		uint64_t ok = limiter_take(limiter_global(), &b->peer, max, now, &wait);
		if (ok == 0) {
			if (wait < 1000000)
				wait = 1000000;
			if (http_pace_suspend(b->conn, now + wait) == 0)
				return 0;
			ok = max < 16384 ? max : 16384; /* pacer full: trickle */
		}
		max = (size_t)ok;
	}
	for (unsigned i = 0; i < b->nseg; i++) {
		const struct seg *s = &b->seg[i];
		if (pos >= at + s->len) {
			at += s->len;
			continue;
		}
		uint64_t in = pos - at, n = s->len - in;
		if (n > max)
			n = max;
		if (s->kind == SEG_MEM) {
			memcpy(out, b->text + s->off + in, (size_t)n);
			return (ssize_t)n;
		}
		ssize_t got;
		do {
			got = pread(b->fd, out, (size_t)n, (off_t)(s->off + in));
		} while (got < 0 && errno == EINTR);
		if (got <= 0) /* error, or the file shrank under us */
			return MHD_CONTENT_READER_END_WITH_ERROR;
		return got;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void body_free(void *cls)
{
	struct body *b = cls;
	if (b->fd >= 0)
		close(b->fd);
	free(b->text);
	free(b);
}

static int rate_limited(const struct config *cfg)
{
	return cfg->rate_per_ip != 0 || cfg->rate_total != 0;
}

/* A response for body b: sendfile when possible, else our reader. */
static struct MHD_Response *body_response(struct body *b, struct http_req *r,
                                          const struct config *cfg)
{
	struct MHD_Response *resp;
	b->paced = rate_limited(cfg) && !r->head;
	if (!r->hc->tls && !b->paced && b->nseg == 1 && b->seg[0].kind == SEG_FILE) {
		/* Zero-copy: libmicrohttpd uses sendfile on plain sockets. */
		resp = MHD_create_response_from_fd_at_offset64(b->seg[0].len, b->fd, b->seg[0].off);
		if (resp) {
			b->fd = -1;
			body_free(b);
		}
		return resp;
	}
	size_t block = HTTP_BLOCK;
	if (b->total < block)
		block = b->total < 4096 ? 4096 : (size_t)b->total;
	return MHD_create_response_from_callback(b->total, block, body_read, b, body_free);
}

static struct body *body_new(int fd, struct MHD_Connection *c, const struct http_req *r)
{
	struct body *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->fd = fd;
	b->conn = c;
	b->hc = r->hc;
	b->peer = r->hc->peer;
	return b;
}

/* Multipart body for n ranges (RFC 7233 appendix A). */
static int body_multipart(struct body *b, const struct http_range *rg, unsigned n, uint64_t size,
                          const char *type, const char *boundary)
{
	struct buf t;
	buf_init(&t, 64 * 1024);
	for (unsigned i = 0; i < n; i++) {
		uint64_t start = t.len;
		if (buf_printf(&t,
		               "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64
		               "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
		               i ? "\r\n" : "", boundary, type, rg[i].first, rg[i].last, size) != 0)
			goto fail;
		b->seg[b->nseg++] = (struct seg){SEG_MEM, start, t.len - start};
		b->seg[b->nseg++] =
		    (struct seg){SEG_FILE, rg[i].first, rg[i].last - rg[i].first + 1};
	}
	uint64_t start = t.len;
	if (buf_printf(&t, "\r\n--%s--\r\n", boundary) != 0)
		goto fail;
	b->seg[b->nseg++] = (struct seg){SEG_MEM, start, t.len - start};
	b->text = t.data;
	b->total = 0;
	for (unsigned i = 0; i < b->nseg; i++)
		b->total += b->seg[i].len;
	return 0;
fail:
	buf_free(&t);
	return -1;
}

static enum MHD_Result respond_304(struct MHD_Connection *c, struct http_req *r, const char *etag,
                                   const char *lastmod)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Last-Modified", lastmod);
	return http_queue(c, r, MHD_HTTP_NOT_MODIFIED, resp, 0);
}

/* The headers of a file's answer (200 or 206): ctype is the Content-Type
 * sent, type the file's own.  Returns 1 when Repr-Digest was added. */
static int file_headers(struct MHD_Response *resp, const char *ctype, const char *type,
                        const char *lastmod, const char *etag, const char *name,
                        const struct stat *st)
{
	int digest = 0;
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Last-Modified", lastmod);
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	/* RFC 9530: the digest of the whole representation, also on 206;
	 * only when the background hasher already has it. */
	char rd[96];
	if (sums_repr_digest(name, (uint64_t)st->st_size, (int64_t)st->st_mtime,
	                     (uint64_t)st->st_ino, rd, sizeof(rd)) == 0) {
		MHD_add_response_header(resp, "Repr-Digest", rd);
		/* RFC 3230's older field, the one aria2 and wget2 check:
		 * the same digest, "SHA-256=<base64>". */
		char od[96];
		size_t bl = strlen(rd) - 10; /* between "sha-256=:" and ":" */
		if (bl < sizeof(od) - 8) {
			memcpy(od, "SHA-256=", 8);
			memcpy(od + 8, rd + 9, bl);
			od[8 + bl] = '\0';
			MHD_add_response_header(resp, "Digest", od);
		}
		digest = 1;
	}
	/* SECURITY: a served document must not run with the listing's origin
	 * privileges: sandbox it. */
	if (http_mime_active(type))
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "sandbox; default-src 'none'; img-src 'self'; "
		                        "style-src 'self' 'unsafe-inline'");
	return digest;
}

/* A conditional GET/HEAD that the validators satisfy (RFC 7232 section 6
 * order): If-None-Match wins over If-Modified-Since. */
static int not_modified(struct MHD_Connection *c, const char *etag, time_t mtime)
{
	const char *inm = http_hdr(c, "If-None-Match");
	const char *ims = http_hdr(c, "If-Modified-Since");
	time_t t;
	return inm ? http_etag_match_list(inm, etag)
	           : (ims && http_date_parse(ims, &t) == 0 && mtime <= t);
}

enum MHD_Result http_serve_fd(struct MHD_Connection *c, struct http_req *r, int fd,
                              const struct stat *st, const char *name, const struct config *cfg)
{
	char etag[80], lastmod[40], cr[96];
	const char *type = http_mime_type(name);
	uint64_t size = (uint64_t)st->st_size;
	struct http_range rg[PM_HTTP_RANGES_MAX];
	unsigned n = 0;
	unsigned status = MHD_HTTP_OK;
	struct MHD_Response *resp = NULL;
	struct body *b = NULL;

	http_etag((uint64_t)st->st_dev, (uint64_t)st->st_ino, size, (int64_t)st->st_mtime, etag,
	          sizeof(etag));
	fmt_http_date(st->st_mtime, lastmod, sizeof(lastmod));

	if (not_modified(c, etag, st->st_mtime)) {
		close(fd);
		return respond_304(c, r, etag, lastmod);
	}

	enum http_range_result rr = HTTP_RANGE_NONE;
	const char *range = http_hdr(c, "Range");
	const char *ifr = http_hdr(c, "If-Range");
	if (range && (ifr == NULL || http_if_range_ok(ifr, etag, (int64_t)st->st_mtime)))
		rr = http_range_parse(range, size, rg, &n);
	if (rr == HTTP_RANGE_UNSAT) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		MHD_add_response_header(resp, "Content-Range", cr);
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
		return http_queue(c, r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, 0);
	}

	b = body_new(fd, c, r);
	if (b == NULL) {
		close(fd);
		return http_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	char ctype[128];
	snprintf(ctype, sizeof(ctype), "%s", type);
	if (rr == HTTP_RANGE_OK && n == 1) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		b->seg[0] = (struct seg){SEG_FILE, rg[0].first, rg[0].last - rg[0].first + 1};
		b->nseg = 1;
		b->total = b->seg[0].len;
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rg[0].first,
		         rg[0].last, size);
	} else if (rr == HTTP_RANGE_OK) {
		char boundary[40];
		static unsigned counter;
		unsigned k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		snprintf(boundary, sizeof(boundary), "pm%08x%08x", (unsigned)st->st_ino ^ k,
		         (unsigned)(clock_now_ns() & 0xffffffffu));
		status = MHD_HTTP_PARTIAL_CONTENT;
		if (body_multipart(b, rg, n, size, type, boundary) != 0) {
			body_free(b);
			return http_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		}
		snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
	} else {
		b->seg[0] = (struct seg){SEG_FILE, 0, size};
		b->nseg = 1;
		b->total = size;
	}
	uint64_t total = b->total;
	resp = body_response(b, r, cfg);
	if (resp == NULL) {
		body_free(b);
		return http_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	file_headers(resp, ctype, type, lastmod, etag, name, st);
	if (status == MHD_HTTP_PARTIAL_CONTENT && n == 1)
		MHD_add_response_header(resp, "Content-Range", cr);
	return http_queue(c, r, status, resp, total);
}

/* ---- small files answered from memory ----
 * A small file's whole 200 answer (headers and bytes) is built once and
 * queued again for later GET/HEADs of it: one stat instead of open, stat,
 * read and close, and no header allocations per request.  Each use first
 * stats the path and compares device, inode, size, mtime and ctime (to the
 * nanosecond) with the kept answer's, so a file rewritten in place or
 * replaced by rename is never served from memory, not even before the index
 * has seen the change.  (The stat follows the path without RESOLVE_BENEATH,
 * but only to compare: a path that now leads elsewhere has another inode,
 * and the normal, confined open then answers.)  An answer belongs to one
 * configuration and one scheme (HSTS is sent over TLS only).  Ranges, paced
 * (rate-limited) answers and files larger than PM_HTTP_SMALL_MAX take the
 * normal path.  Direct-mapped slots bound the memory to
 * PM_HTTP_SMALL_SLOTS * PM_HTTP_SMALL_MAX. */
struct small {
	_Atomic unsigned refs; /* the slot's reference and those of requests */
	struct MHD_Response *resp;
	const struct config *cfg;
	int tls;
	int digest; /* Repr-Digest included */
	uint64_t size;
	struct stat st;
	char etag[80], lastmod[40];
	char rel[];
};

#define SMALL_LOCKS 64
static struct small *small_slot[PM_HTTP_SMALL_SLOTS];
static pthread_mutex_t small_mu[SMALL_LOCKS] = {[0 ... SMALL_LOCKS - 1] =
                                                    PTHREAD_MUTEX_INITIALIZER};

static void small_put(struct small *sm)
{
	if (sm && atomic_fetch_sub(&sm->refs, 1) == 1) {
		MHD_destroy_response(sm->resp);
		free(sm);
	}
}

static size_t small_index(const char *rel)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % PM_HTTP_SMALL_SLOTS);
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
	       S_ISREG(b->st_mode);
}

/* The kept answer for rel, if the file under dirfd is still the same. */
static struct small *small_get(int dirfd, const char *rel, const struct config *cfg, int tls)
{
	size_t i = small_index(rel);
	struct small *sm;
	struct stat st;
	pthread_mutex_lock(&small_mu[i % SMALL_LOCKS]);
	sm = small_slot[i];
	if (sm && sm->cfg == cfg && sm->tls == tls && strcmp(sm->rel, rel) == 0)
		atomic_fetch_add(&sm->refs, 1);
	else
		sm = NULL;
	pthread_mutex_unlock(&small_mu[i % SMALL_LOCKS]);
	if (sm && (fstatat(dirfd, rel, &st, 0) != 0 || !same_file(&sm->st, &st))) {
		small_put(sm);
		sm = NULL;
	}
	return sm;
}

/* Put sm in its slot (the slot takes one reference). */
static void small_insert(struct small *sm)
{
	size_t i = small_index(sm->rel);
	atomic_fetch_add(&sm->refs, 1);
	pthread_mutex_lock(&small_mu[i % SMALL_LOCKS]);
	struct small *old = small_slot[i];
	small_slot[i] = sm;
	pthread_mutex_unlock(&small_mu[i % SMALL_LOCKS]);
	small_put(old);
}

void http_small_clear(void)
{
	for (size_t i = 0; i < PM_HTTP_SMALL_SLOTS; i++) {
		pthread_mutex_lock(&small_mu[i % SMALL_LOCKS]);
		struct small *sm = small_slot[i];
		small_slot[i] = NULL;
		pthread_mutex_unlock(&small_mu[i % SMALL_LOCKS]);
		small_put(sm);
	}
}

/* Build the answer of the open small file fd; NULL when it cannot be read
 * whole (the normal path then answers). */
static struct small *small_make(int fd, const struct stat *st, const char *rel,
                                const struct config *cfg, const struct http_req *r)
{
	size_t size = (size_t)st->st_size, len = strlen(rel), got = 0;
	char *data = malloc(size ? size : 1);
	struct small *sm = calloc(1, sizeof(*sm) + len + 1);
	if (data == NULL || sm == NULL)
		goto fail;
	while (got < size) {
		ssize_t n = pread(fd, data + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail; /* error, or the file shrank under us */
		got += (size_t)n;
	}
	sm->resp = MHD_create_response_from_buffer(size, data, MHD_RESPMEM_MUST_FREE);
	if (sm->resp == NULL)
		goto fail;
	data = NULL; /* the response owns it */
	const char *type = http_mime_type(rel);
	http_etag((uint64_t)st->st_dev, (uint64_t)st->st_ino, size, (int64_t)st->st_mtime, sm->etag,
	          sizeof(sm->etag));
	fmt_http_date(st->st_mtime, sm->lastmod, sizeof(sm->lastmod));
	sm->digest = file_headers(sm->resp, type, type, sm->lastmod, sm->etag, rel, st);
	http_common_headers(sm->resp, r);
	atomic_init(&sm->refs, 1);
	sm->cfg = cfg;
	sm->tls = r->hc->tls;
	sm->size = size;
	sm->st = *st;
	memcpy(sm->rel, rel, len + 1);
	return sm;
fail:
	free(data);
	if (sm && sm->resp)
		MHD_destroy_response(sm->resp);
	free(sm);
	return NULL;
}

static enum MHD_Result small_serve(struct MHD_Connection *c, struct http_req *r, struct small *sm)
{
	enum MHD_Result ret;
	if (not_modified(c, sm->etag, sm->st.st_mtime))
		ret = respond_304(c, r, sm->etag, sm->lastmod);
	else
		ret = http_queue_shared(c, r, MHD_HTTP_OK, sm->resp, sm->size);
	small_put(sm);
	return ret;
}

enum MHD_Result http_serve_file(struct MHD_Connection *c, struct http_req *r,
                                const struct index *ix, int dirfd, const char *rel,
                                const struct config *cfg)
{
	struct stat st;
	(void)ix;
	/* Only whole, unpaced answers are kept. */
	int small = r->hc != NULL && !rate_limited(cfg) && http_hdr(c, "Range") == NULL;
	if (small) {
		struct small *sm = small_get(dirfd, rel, cfg, r->hc->tls);
		/* The hasher may have finished since: then build it again. */
		if (sm && !sm->digest) {
			char rd[96];
			if (sums_repr_digest(rel, sm->size, (int64_t)sm->st.st_mtime,
			                     (uint64_t)sm->st.st_ino, rd, sizeof(rd)) == 0) {
				small_put(sm);
				sm = NULL;
			}
		}
		if (sm)
			return small_serve(c, r, sm);
	}
	int fd = file_open(dirfd, rel, FILE_REG_NOLINK, &st);
	if (fd < 0) {
		int e = errno;
		unsigned s = (unsigned)file_errno_http(e);
		return http_error(c, r, s,
		                  s == 404   ? "404 Not Found\n"
		                  : s == 403 ? "403 Forbidden\n"
		                             : "500 Internal Server Error\n");
	}
	if (small && st.st_size <= PM_HTTP_SMALL_MAX) {
		struct small *sm = small_make(fd, &st, rel, cfg, r);
		if (sm) {
			close(fd);
			small_insert(sm);
			return small_serve(c, r, sm);
		}
	}
	return http_serve_fd(c, r, fd, &st, rel, cfg);
}
