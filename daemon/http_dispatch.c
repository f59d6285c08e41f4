/* http_dispatch.c - the access handler of libmicrohttpd: methods and
 * request bodies refused, connections over the limits answered 503, the
 * plain-HTTP port's redirect to HTTPS, then each URL decoded, resolved
 * through the view (with a login where it asks for one) and handed to
 * the handler of what it names: a listing, a file, a Metalink, ls-lR.gz,
 * an embedded asset or an ACME challenge.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_int.h"
#include "limits.h"
#include "lslr.h"
#include "metalink.h"
#include "net.h"
#include "path.h"
#include "view.h"

#define ACME_PREFIX "/.well-known/acme-challenge/"
#define ASSET_PREFIX "/.pubmirror/"

static enum MHD_Result http_error_why(struct MHD_Connection *c, struct http_req *r, unsigned status,
                                      const char *what, const char *why)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%s: %s\n", what, why);
	return http_error(c, r, status, msg);
}

static enum MHD_Result redirect(struct MHD_Connection *c, struct http_req *r, unsigned status,
                                const char *location)
{
	return http_text_with(c, r, status, "Moved\n", "Location", location);
}

static int safe_header_bytes(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* ---------- plain HTTP: redirect to HTTPS, ACME ---------- */

/* Host header without port, validated (name, IPv4, [IPv6]).  0 or -1. */
static int host_of(const char *h, char *out, size_t outsz)
{
	size_t n = 0;
	if (h == NULL || *h == '\0')
		return -1;
	if (h[0] == '[') {
		const char *e = strchr(h, ']');
		if (e == NULL)
			return -1;
		n = (size_t)(e - h) + 1;
		for (size_t i = 1; i + 1 < n; i++)
			if (!strchr("0123456789abcdefABCDEF:.", h[i]))
				return -1;
	} else {
		while (h[n] && h[n] != ':') {
			char ch = h[n];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
				return -1;
			n++;
		}
	}
	if (n == 0 || n >= outsz)
		return -1;
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}

static enum MHD_Result redirect_https(struct MHD_Connection *c, struct http_req *r,
                                      const struct config *cfg)
{
	char host[300], loc[PM_HTTP_HEADER_MAX];
	if (host_of(http_hdr(c, "Host"), host, sizeof(host)) != 0)
		return http_error(c, r, MHD_HTTP_BAD_REQUEST,
		                  "400 a valid Host header is needed\n");
	if (cfg->https_listen.n == 0)
		return http_error(c, r, MHD_HTTP_NOT_FOUND, "404 no HTTPS service\n");
	if (!safe_header_bytes(r->uri) || r->uri[0] != '/')
		return http_error(c, r, MHD_HTTP_BAD_REQUEST, "400 malformed request target\n");
	unsigned port = net_port(&cfg->https_listen.a[0]);
	char ps[16] = "";
	if (port != 443)
		snprintf(ps, sizeof(ps), ":%u", port);
	int n = snprintf(loc, sizeof(loc), "https://%s%s%s", host, ps, r->uri);
	if (n < 0 || (size_t)n >= sizeof(loc))
		return http_error(c, r, MHD_HTTP_URI_TOO_LONG, "414 request target too long\n");
	return redirect(c, r, MHD_HTTP_MOVED_PERMANENTLY, loc);
}

/* ---------- the dispatcher ---------- */

static enum MHD_Result over_limit(struct MHD_Connection *c, struct http_req *r,
                                  const struct config *cfg)
{
	const char *msg = r->hc->verdict == LIMITER_BANNED
	                      ? "503 your address is banned for a while after failed logins\n"
	                  : r->hc->verdict == LIMITER_PER_IP
	                      ? "503 too many connections from your address; retry later\n"
	                      : "503 server full; retry later\n";
	struct MHD_Response *resp = http_text_response(msg);
	char ra[24];
	if (resp == NULL)
		return MHD_NO;
	snprintf(ra, sizeof(ra), "%u",
	         r->hc->verdict == LIMITER_BANNED && cfg->ban_time ? cfg->ban_time : 5);
	MHD_add_response_header(resp, "Retry-After", ra);
	MHD_add_response_header(resp, "Connection", "close");
	return http_queue(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, resp, strlen(msg));
}

/* "<file>.meta4" with no such name in the tree asks for the Metalink of
 * <file>: strip the suffix from rel in place (1), else leave it (0).  The
 * stripped path then goes through the view like any other. */
static int meta4_strip(char *rel)
{
	size_t n = strlen(rel), sl = strlen(METALINK_SUFFIX);
	if (n <= sl || strcmp(rel + n - sl, METALINK_SUFFIX) != 0 || rel[n - sl - 1] == '/')
		return 0;
	rel[n - sl] = '\0';
	return 1;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, struct http_req *r, const char *url)
{
	const struct config *cfg = config_get();
	int tls = r->hc && r->hc->tls;
	char dec[PM_PATH_MAX + 1], rel[PM_PATH_MAX];
	const char *why = NULL;
	const char *q = strchr(r->uri, '?');
	enum MHD_Result ret;

	if (strncmp(url, ACME_PREFIX, strlen(ACME_PREFIX)) == 0 && !tls)
		return http_serve_acme(c, r, url + strlen(ACME_PREFIX), cfg);
	if (!tls && cfg->http_mode == CONFIG_HTTP_REDIRECT)
		return redirect_https(c, r, cfg);
	if (strncmp(url, ASSET_PREFIX, strlen(ASSET_PREFIX)) == 0)
		return http_serve_asset(c, r, url + strlen(ASSET_PREFIX));

	if (url[0] != '/')
		return http_error(c, r, MHD_HTTP_BAD_REQUEST,
		                  "400 request target must start with /\n");
	if (path_url_decode(url, strlen(url), dec, sizeof(dec), &why) != 0)
		return http_error_why(c, r, MHD_HTTP_BAD_REQUEST, "400 bad URL", why);
	size_t dl = strlen(dec);
	int slash = dl > 0 && dec[dl - 1] == '/';
	if (path_resolve("", dec, dl, rel, sizeof(rel), &why) != 0)
		return http_error_why(c, r, MHD_HTTP_BAD_REQUEST, "400 bad path", why);
	/* SECURITY: what this client may see is the view's answer, on the
	 * object the path leads to (symlinks followed): hidden names do not
	 * exist, protected ones need a login. */
	struct index *ix = index_acquire();
	struct view_obj *o = malloc(sizeof(*o));
	if (o == NULL) {
		index_release(ix);
		return http_error(c, r, 500, "500 out of memory\n");
	}
	enum view_status vs = view_resolve(ix, cfg, NULL, rel, o);
	/* "<file>.meta4" that the tree does not hold for anyone asks for the
	 * Metalink of <file>, which then goes through the view itself.  (An
	 * anonymous VIEW_LOGIN does not say whether a protected name exists:
	 * the view's answer for a user, who sees every protected entry, does;
	 * the client still has to log in for either.) */
	int m4 = 0;
	if (vs != VIEW_OK && !slash) {
		if (view_resolve(ix, cfg, "", rel, o) == VIEW_ABSENT && meta4_strip(rel))
			m4 = 1;
		vs = view_resolve(ix, cfg, NULL, rel, o);
	}
	if (vs == VIEW_LOGIN) {
		/* SECURITY: credentials only ever travel inside TLS. */
		if (!tls)
			ret = http_error(c, r, MHD_HTTP_FORBIDDEN,
			                 "403 this path needs a login over HTTPS\n");
		else if (http_auth_login(c, r, &ret, 0))
			vs = view_resolve(ix, cfg, r->user, rel, o);
		if (!r->authed)
			goto done;
	} else if (tls && cfg->auth_paths.n > 0 && http_hdr(c, "Authorization") != NULL) {
		/* A logged-in client sees protected entries in listings above
		 * them; wrong credentials here count toward the ban (they would
		 * otherwise be a free oracle) and the answer is the anonymous
		 * one. */
		if (http_auth_login(c, r, &ret, 1))
			vs = view_resolve(ix, cfg, r->user, rel, o);
	}

	if (vs != VIEW_OK || (m4 && (o->kind != VIEW_FILE || o->virt))) {
		ret = http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
	} else if (o->kind == VIEW_DIR) {
		char up[PM_PATH_MAX + 2];
		snprintf(up, sizeof(up), "/%s%s", rel, rel[0] ? "/" : "");
		/* A listing is served only at its canonical URL ("/dir/"): other
		 * spellings ("/dir", "//dir/", "/dir/x/..") are redirected there,
		 * so that the page's relative links resolve as they should. */
		if (strcmp(dec, up) != 0) {
			struct buf loc;
			buf_init(&loc, PM_HTTP_HEADER_MAX);
			int bad = buf_append_enc(&loc, up, strlen(up), BUF_ENC_URI);
			if (!bad && q && safe_header_bytes(q))
				bad = buf_puts(&loc, q);
			ret = bad ? http_error(c, r, MHD_HTTP_URI_TOO_LONG, "414 too long\n")
			          : redirect(c, r, MHD_HTTP_MOVED_PERMANENTLY, loc.data);
			buf_free(&loc);
		} else {
			ret = http_serve_listing(c, r, o, up, q ? q + 1 : NULL, cfg);
		}
	} else if (slash) {
		ret = http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
	} else if (m4 || (!o->virt && metalink_accepted(http_hdr(c, "Accept")) &&
	                  http_hdr(c, "Range") == NULL)) {
		ret = http_serve_meta4(c, r, o, cfg);
	} else if (o->virt) {
		struct stat vst;
		int vfd = view_open(o, &vst);
		if (vfd < 0) {
			ret = http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
		} else {
			r->file = 1;
			ret = http_serve_fd(c, r, vfd, &vst, LSLR_NAME, cfg);
		}
	} else {
		r->file = 1;
		/* the resolved path: the file the decision was taken on */
		ret = http_serve_file(c, r, ix, ix->rootfd, o->real, cfg);
	}
done:
	free(o);
	index_release(ix);
	return ret;
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	(void)cls;
	(void)upload_data;

	if (r == NULL || r->hc == NULL)
		return MHD_NO; /* out of memory at accept or request start: drop */
	http_reply_meta(method, version);
	int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
	int options = strcmp(method, "OPTIONS") == 0;
	r->head = head;
	if (r->calls++ == 0) {
		atomic_store(&r->hc->head_since, 0); /* the head is complete */
		/* Answering on this first call would close the connection
		 * (libmicrohttpd 0.9.75); do so only when we mean to. */
		if (r->hc && !r->hc->counted)
			return over_limit(c, r, config_get());
		const char *cl = http_hdr(c, "Content-Length");
		int has_body = (cl != NULL && strcmp(cl, "0") != 0) ||
		               http_hdr(c, "Transfer-Encoding") != NULL;
		/* SECURITY: never read a body we do not want; answering now
		 * closes the connection, which is what we want then. */
		if (has_body && !get && !head && !options)
			goto refuse_method;
		if (has_body)
			return http_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE,
			                  "413 request bodies are not accepted\n");
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* not reached: bodies are refused above */
		return MHD_YES;
	}
	if (options) {
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, "Allow", "GET, HEAD, OPTIONS");
		return http_queue(c, r, MHD_HTTP_NO_CONTENT, resp, 0);
	}
	if (get || head)
		return dispatch(c, r, url);
refuse_method:;
	static const char text[] = "405 only GET, HEAD and OPTIONS are served\n";
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Allow", "GET, HEAD, OPTIONS");
	return http_queue(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, sizeof(text) - 1);
}
