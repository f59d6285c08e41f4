/* http.c - HTTPS (and the optional plain-HTTP port) through libmicrohttpd:
 * daemons on the listeners bound by main, the request dispatcher, redirects,
 * Basic auth, connection limits, common headers and the access log.
 *
 * libmicrohttpd 0.9.75 notes that shape this file:
 * - a response queued on the first call of the access handler closes the
 *   connection, so every normal answer is queued on the second call;
 * - URLs are taken raw (no-op unescape callback) so that %2f, %00 and dot
 *   segments are judged once, by path_url_decode + path_resolve;
 * - no MHD_USE_TURBO: with TLS it lost answers to HTTP/1.0 clients;
 * - the idle timeout must be set (the default is none);
 * - certificate renewal (SIGHUP): a new daemon with the new certificate
 *   takes over the same listening socket and the old one is quiesced: it
 *   accepts nothing more, finishes its open connections (keep-alive ones
 *   keep working until their idle timeout) and is stopped when it is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "auth.h"
#include "buf.h"
#include "file.h"
#include "http.h"
#include "http_int.h"
#include "http_util.h"
#include "log.h"
#include "lslr.h"
#include "metalink.h"
#include "metrics.h"
#include "proxy_accept.h"
#include "net.h"
#include "path.h"
#include "view.h"
#include "tls.h"
#include "web_assets.h"

#define HTTP_DAEMONS_MAX 16
#define HTTP_RETIRED_MAX 64
#define ACME_PREFIX "/.well-known/acme-challenge/"
#define ASSET_PREFIX "/.pubmirror/"
#define HTTP_REALM "Basic realm=\"pubmirror\", charset=\"UTF-8\""

struct hd {
	struct MHD_Daemon *d;
	int fd;
	int tls;
	int proxied; /* PROXY protocol: our accept thread adds connections */
	unsigned tls_gen;
	char *cert, *key; /* PEM bytes given to this daemon */
};

static pthread_mutex_t hd_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hd daemons[HTTP_DAEMONS_MAX];
static int ndaemons;
static struct hd retired[HTTP_RETIRED_MAX];
static int nretired;
static pthread_t reaper;
static pthread_cond_t reaper_cv = PTHREAD_COND_INITIALIZER;
static int reaper_on;
static int acme_fd = -1;
static char acme_thumbprint[64]; /* built-in ACME; set before http_start */
static struct proxy_accept *proxies[HTTP_DAEMONS_MAX];

/* ---------- small helpers ---------- */

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
	static const char text[] = "Moved\n";
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Location", location);
	return http_queue(c, r, status, resp, sizeof(text) - 1);
}

static int safe_header_bytes(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* ---------- embedded assets under /.pubmirror/ ---------- */

struct asset {
	const char *name;
	const unsigned char *data;
	const size_t *len;
	const char *type;
};

static const struct asset assets[] = {
    {"style.css", web_style_css, &web_style_css_len, "text/css; charset=utf-8"},
    {"filter.js", web_filter_js, &web_filter_js_len, "text/javascript; charset=utf-8"},
    {"dir.svg", web_dir_svg, &web_dir_svg_len, "image/svg+xml"},
    {"file.svg", web_file_svg, &web_file_svg_len, "image/svg+xml"},
    {"up.svg", web_up_svg, &web_up_svg_len, "image/svg+xml"},
};

static enum MHD_Result serve_asset(struct MHD_Connection *c, struct http_req *r, const char *name)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		const struct asset *a = &assets[i];
		if (strcmp(name, a->name) != 0)
			continue;
		uint64_t h = 1469598103934665603ull;
		for (size_t k = 0; k < *a->len; k++)
			h = (h ^ a->data[k]) * 1099511628211ull;
		char etag[32];
		snprintf(etag, sizeof(etag), "\"a%016" PRIx64 "\"", h);
		const char *inm = http_hdr(c, "If-None-Match");
		int nm = inm && http_etag_match_list(inm, etag);
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    nm ? 0 : *a->len, nm ? (void *)"" : (void *)a->data, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		if (!nm)
			MHD_add_response_header(resp, "Content-Type", a->type);
		MHD_add_response_header(resp, "ETag", etag);
		MHD_add_response_header(resp, "Cache-Control", "public, max-age=86400");
		return http_queue(c, r, nm ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
		                  nm ? 0 : *a->len);
	}
	return http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
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

static enum MHD_Result serve_acme(struct MHD_Connection *c, struct http_req *r, const char *token,
                                  const struct config *cfg)
{
	size_t n = strlen(token);
	/* SECURITY: RFC 8555 tokens are base64url; nothing else is looked up. */
	if ((acme_fd < 0 && acme_thumbprint[0] == '\0') || n == 0 || n > PM_NAME_MAX ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
	struct stat st;
	char rel[PM_NAME_MAX + 64];
	int fd = -1;
	if (acme_fd >= 0) {
		/* certbot --webroot -w DIR writes DIR/.well-known/acme-challenge/T;
		 * a directory holding the tokens themselves works too. */
		snprintf(rel, sizeof(rel), ".well-known/acme-challenge/%s", token);
		fd = file_open(acme_fd, rel, FILE_REG, &st);
		if (fd < 0)
			fd = file_open(acme_fd, token, FILE_REG, &st);
	}
	if (fd >= 0)
		return http_serve_fd(c, r, fd, &st, token, cfg);
	if (acme_thumbprint[0] != '\0') {
		/* Built-in ACME: the key authorization (RFC 8555 8.1) is the
		 * token and the account key's thumbprint, public by design. */
		snprintf(rel, sizeof(rel), "%s.%s", token, acme_thumbprint);
		return http_error(c, r, MHD_HTTP_OK, rel);
	}
	return http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
}

/* ---------- Basic auth ---------- */

static enum MHD_Result ask_login(struct MHD_Connection *c, struct http_req *r)
{
	static const char text[] = "401 login required\n";
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "WWW-Authenticate", HTTP_REALM);
	return http_queue(c, r, MHD_HTTP_UNAUTHORIZED, resp, sizeof(text) - 1);
}

/* The connection whose failed login is being counted on this thread. */
static _Thread_local struct http_conn *http_banning;

/* 1: authenticated (r->user set); 0: not, and unless quiet an answer
 * (401 or 403) was queued with its result in *ret. */
static int check_login(struct MHD_Connection *c, struct http_req *r, enum MHD_Result *ret,
                       int quiet)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	struct limiter *lim = limiter_global();
	uint64_t now = clock_now_ns();
	int ok = 0;

	if (user == NULL) {
		if (!quiet)
			*ret = ask_login(c, r);
		goto out;
	}
	/* The name tried, for the log line (not authenticated: r->authed). */
	snprintf(r->user, sizeof(r->user), "%s", user);
	if (lim && limiter_is_banned(lim, &r->hc->peer, now)) {
		if (!quiet)
			*ret =
			    http_error(c, r, MHD_HTTP_FORBIDDEN,
			               "403 too many failed logins from your address; try later\n");
		goto out;
	}
	size_t ul = strlen(user), pl = pass ? strlen(pass) : 0;
	if (ul > 0 && ul <= PM_AUTH_USER_MAX && pl <= PM_AUTH_PASS_MAX && pass &&
	    auth_check(user, pass, pl)) {
		memcpy(r->user, user, ul + 1);
		r->authed = 1;
		if (lim)
			limiter_auth_ok(lim, &r->hc->peer);
		ok = 1;
	} else {
		log_auth_fail(&r->hc->peer, r->hc->tls ? "https" : "http", user);
		metrics_auth_failure(r->hc->tls ? METRICS_HTTPS : METRICS_HTTP);
		http_banning = r->hc; /* its own 401 still goes out (http_on_ban) */
		int banned = lim && limiter_auth_fail(lim, &r->hc->peer, now);
		http_banning = NULL;
		if (banned) {
			char a[64];
			net_addr_str(&r->hc->peer, 0, a, sizeof(a));
			log_warn("http: %s banned after failed logins", a);
		}
		if (!quiet)
			*ret = ask_login(c, r);
	}
out:
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
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
		return serve_acme(c, r, url + strlen(ACME_PREFIX), cfg);
	if (!tls && cfg->http_mode == CONFIG_HTTP_REDIRECT)
		return redirect_https(c, r, cfg);
	if (strncmp(url, ASSET_PREFIX, strlen(ASSET_PREFIX)) == 0)
		return serve_asset(c, r, url + strlen(ASSET_PREFIX));

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
		else if (check_login(c, r, &ret, 0))
			vs = view_resolve(ix, cfg, r->user, rel, o);
		if (!r->authed)
			goto done;
	} else if (tls && cfg->auth_paths.n > 0 && http_hdr(c, "Authorization") != NULL) {
		/* A logged-in client sees protected entries in listings above
		 * them; wrong credentials here count toward the ban (they would
		 * otherwise be a free oracle) and the answer is the anonymous
		 * one. */
		if (check_login(c, r, &ret, 1))
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
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

/* ---------- libmicrohttpd callbacks ---------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	struct http_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->uri = strdup(uri);
	if (r->uri == NULL) {
		free(r);
		return NULL;
	}
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->hc = ci ? ci->socket_context : NULL;
	r->t0 = clock_now_ns();
	if (r->hc)
		r->hc->body_sent = 0;
	return r;
}

/* The access-log and JSON lines of a request, written when it ends: the
 * status queued, the body bytes actually written (all when it completed;
 * else what the body reader saw sent, or 0 for a buffered answer), the
 * real duration.  A 401 names the user who tried, as nginx and Apache do. */
static void http_log_done(struct MHD_Connection *c, const struct http_req *r, uint64_t sent)
{
	const char *user = r->user[0] ? r->user : NULL;

	log_access(r->hc ? &r->hc->peer : NULL, user, r->method, r->uri ? r->uri : "-", r->version,
	           r->status, sent, http_hdr(c, "Referer"), http_hdr(c, "User-Agent"));
	if (log_json_enabled()) {
		struct log_event ev = {
		    .event = "request",
		    .proto = r->hc && r->hc->tls ? "https" : "http",
		    .peer = r->hc ? &r->hc->peer : NULL,
		    .user = user,
		    .method = r->method,
		    .path = r->uri,
		    .status = r->status,
		    .bytes = sent,
		    .secs = (double)(clock_now_ns() - r->t0) / 1e9,
		};
		log_json(&ev);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct http_req *r = *con_cls;
	if (r != NULL && r->hc != NULL)
		atomic_store(&r->hc->head_since, clock_now_ns()); /* keep-alive: next head */
	if (r && r->hc) {
		enum metrics_proto mp = r->hc->tls ? METRICS_HTTPS : METRICS_HTTP;
		int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		uint64_t sent = ok                            ? r->bytes
		                : r->hc->body_sent < r->bytes ? r->hc->body_sent
		                                              : r->bytes;
		metrics_bytes_sent(mp, sent);
		if (r->file && !r->head)
			metrics_transfer(mp, ok);
		if (r->queued)
			http_log_done(c, r, sent);
	}
	if (r) {
		free(r->uri);
		free(r);
		*con_cls = NULL;
	}
}

/* Every open connection, for the slow-request sweeper. */
static pthread_mutex_t hc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn *hc_all;
static _Atomic uint64_t hc_head_limit_ns = (uint64_t)PM_HTTP_TIMEOUT * 1000000000u;

static void hc_link(struct http_conn *hc)
{
	pthread_mutex_lock(&hc_mu);
	hc->prev = NULL;
	hc->next = hc_all;
	if (hc_all)
		hc_all->prev = hc;
	hc_all = hc;
	pthread_mutex_unlock(&hc_mu);
}

static void hc_unlink(struct http_conn *hc)
{
	pthread_mutex_lock(&hc_mu);
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		hc_all = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	pthread_mutex_unlock(&hc_mu);
}

/* Shut down connections whose request head has taken longer than the
 * limit.  libmicrohttpd then sees the socket fail and closes it; the fd is
 * still valid here because CLOSED is notified (and unlinks under hc_mu)
 * before libmicrohttpd closes it. */
static void hc_sweep(void)
{
	uint64_t now = clock_now_ns(), lim = atomic_load(&hc_head_limit_ns);
	uint64_t rlim = (uint64_t)PM_REFUSE_TIMEOUT * 1000000000u;
	pthread_mutex_lock(&hc_mu);
	for (struct http_conn *hc = hc_all; hc; hc = hc->next) {
		uint64_t since = atomic_load(&hc->head_since);
		if (since == 0 || hc->cut || hc->fd < 0 ||
		    now - since <= (hc->refusing && rlim < lim ? rlim : lim))
			continue;
		hc->cut = 1;
		shutdown(hc->fd, SHUT_RDWR);
		char a[64];
		net_addr_str(&hc->peer, 0, a, sizeof(a));
		log_info("http: %s took longer than %" PRIu64 " s to send a request head; closed",
		         a, lim / 1000000000u);
	}
	pthread_mutex_unlock(&hc_mu);
}

/* Connections the limiter refused that wait for their 503 (all daemons). */
static atomic_uint hc_refusing;

/* SECURITY: the per-address and global limits bite at accept.  A
 * connection the limiter would refuse costs nothing when all
 * PM_REFUSING_MAX refusal slots are busy: libmicrohttpd closes it at once,
 * before any TLS handshake.  Otherwise it is admitted to hear a 503 with a
 * reason (on_connection takes the limiter's verdict, which decides, and
 * hc_sweep cuts it after PM_REFUSE_TIMEOUT). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct limiter *lim = limiter_global();
	struct sockaddr_storage ss;
	(void)cls;
	if (lim == NULL || addr == NULL || addrlen > sizeof(ss))
		return MHD_YES;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, addrlen);
	if (limiter_conn_check(lim, &ss, clock_now_ns()) == LIMITER_OK)
		return MHD_YES;
	const struct config *cfg = config_get();
	unsigned slots = pm_refusing_max(cfg ? cfg->max_clients : 0);
	return atomic_load(&hc_refusing) < slots ? MHD_YES : MHD_NO;
}

/* Ban hook: cut the connections of a newly banned address (its requests in
 * flight end; libmicrohttpd sees the socket fail and closes it). */
static void http_on_ban(void *arg, const struct sockaddr_storage *addr)
{
	struct limiter *lim = limiter_global();
	uint64_t now = clock_now_ns();
	(void)arg;
	(void)addr;
	if (lim == NULL)
		return;
	pthread_mutex_lock(&hc_mu);
	for (struct http_conn *hc = hc_all; hc; hc = hc->next) {
		if (hc->cut || hc->fd < 0 || hc == http_banning ||
		    !limiter_is_banned(lim, &hc->peer, now))
			continue;
		hc->cut = 1;
		shutdown(hc->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&hc_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	int tls = cls != NULL; /* the daemon's TLS flag, not a pointer: daemons move */
	struct limiter *lim = limiter_global();
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct http_conn *hc = calloc(1, sizeof(*hc));
		if (hc == NULL)
			return;
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			size_t l = ci->client_addr->sa_family == AF_INET6
			               ? sizeof(struct sockaddr_in6)
			               : sizeof(struct sockaddr_in);
			memcpy(&hc->peer, ci->client_addr, l);
		}
		hc->tls = tls;
		hc->verdict = lim ? limiter_conn_open(lim, &hc->peer, clock_now_ns()) : LIMITER_OK;
		hc->counted = hc->verdict == LIMITER_OK;
		if (!hc->counted) {
			hc->refusing = 1;
			atomic_fetch_add(&hc_refusing, 1);
		}
		metrics_conn_open(tls ? METRICS_HTTPS : METRICS_HTTP);
		if (!hc->counted)
			metrics_conn_refused(tls ? METRICS_HTTPS : METRICS_HTTP,
			                     hc->verdict == LIMITER_FULL     ? "full"
			                     : hc->verdict == LIMITER_PER_IP ? "per_ip"
			                                                     : "banned");
		/* Small answers go out at once, not after the peer's delayed ACK. */
		hc->fd = -1;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci) {
			int one = 1;
			setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			hc->fd = ci->connect_fd;
		}
		if (tls) {
			ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
			if (ci && ci->tls_session)
				http_tls_attach(ci->tls_session, hc->fd);
		}
		atomic_store(&hc->head_since, clock_now_ns());
		hc_link(hc);
		*socket_context = hc;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct http_conn *hc = *socket_context;
		if (hc) {
			if (hc->tls)
				http_tls_detach(hc->fd);
			hc_unlink(hc);
			metrics_conn_close(hc->tls ? METRICS_HTTPS : METRICS_HTTP);
			if (hc->tls && hc->requests == 0)
				metrics_tls_handshake(METRICS_HTTPS,
				                      0); /* closed before any request */
			if (hc->counted && lim)
				limiter_conn_close(lim, &hc->peer);
			if (hc->refusing)
				atomic_fetch_sub(&hc_refusing, 1);
			free(hc);
			*socket_context = NULL;
		}
	}
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	char esc[600];
	log_debug("http: libmicrohttpd: %s", log_esc(esc, sizeof(esc), msg, n));
}

/* ---------- daemons ---------- */

static int hd_start(struct hd *h)
{
	const struct config *cfg = config_get();
	struct MHD_OptionItem ops[24];
	int n = 0;
	/* HTTP keeps idle connections for less than FTP does: a browser
	 * reconnects for free, an idle socket costs a slot. */
	unsigned timeout = cfg->idle_timeout && cfg->idle_timeout < PM_HTTP_TIMEOUT
	                       ? cfg->idle_timeout
	                       : PM_HTTP_TIMEOUT;
	atomic_store(&hc_head_limit_ns, (uint64_t)timeout * 1000000000u);
	/* Counted connections (max_clients, all protocols) and the refusal
	 * slots: the descriptor budget of limits.h (pm_fds_needed). */
	unsigned limit =
	    cfg->max_clients ? cfg->max_clients + pm_refusing_max(cfg->max_clients) : 10000;
	unsigned threads = cfg->http_threads ? cfg->http_threads : 2;
	unsigned flags =
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

#define OPT(o, v, p)                                                                               \
	ops[n++] = (struct MHD_OptionItem)                                                         \
	{                                                                                          \
		(o), (intptr_t)(v), (p)                                                            \
	}
	if (h->proxied)
		flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	else
		OPT(MHD_OPTION_LISTEN_SOCKET, h->fd, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL);
	/* SECURITY: the header block and buffers of one connection are
	 * bounded; a larger request header is refused by libmicrohttpd. */
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PM_HTTP_HEADER_MAX + 16 * 1024, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, limit, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h->tls ? (void *)1 : NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL);
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	if (h->tls) {
		flags |= MHD_USE_TLS;
		h->tls_gen = tls_generation();
		h->cert = tls_cert_pem();
		h->key = tls_key_pem();
		if (h->cert == NULL || h->key == NULL)
			goto fail;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->key);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_gnutls_priorities());
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	h->d = MHD_start_daemon(flags, 0, accept_policy, NULL, on_request, NULL, MHD_OPTION_ARRAY,
	                        ops, MHD_OPTION_END);
	if (h->d == NULL)
		goto fail;
	return 0;
fail:
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->cert);
	free(h->key);
	h->cert = h->key = NULL;
	return -1;
}

static void hd_free(struct hd *h)
{
	if (h->d)
		MHD_stop_daemon(h->d);
	h->d = NULL;
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->cert);
	free(h->key);
	h->cert = h->key = NULL;
}

static unsigned hd_conns(struct hd *h)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

/* Stop quiesced daemons once their last connection is gone. */
static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hd_mu);
	while (reaper_on) {
		for (int i = 0; i < nretired;) {
			if (hd_conns(&retired[i]) == 0) {
				struct hd h = retired[i];
				retired[i] = retired[--nretired];
				pthread_mutex_unlock(&hd_mu);
				hd_free(&h);
				pthread_mutex_lock(&hd_mu);
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&hd_mu);
		hc_sweep();
		pthread_mutex_lock(&hd_mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&reaper_cv, &hd_mu, &ts);
	}
	pthread_mutex_unlock(&hd_mu);
	return NULL;
}

static void acme_open(const struct config *cfg)
{
	if (acme_fd >= 0)
		close(acme_fd);
	acme_fd = -1;
	if (cfg->acme_webroot[0]) {
		acme_fd = file_open_root(cfg->acme_webroot);
		if (acme_fd < 0)
			log_warn("http: acme_webroot: cannot open: %s", strerror(errno));
	}
}

/* proxy_accept hands over a connection with the client's real address. */
static int http_proxy_deliver(void *arg, int fd, const struct sockaddr_storage *peer,
                              socklen_t peerlen, const struct sockaddr_storage *local)
{
	int i = (int)(intptr_t)arg;
	enum MHD_Result r = MHD_NO;
	(void)local;
	pthread_mutex_lock(&hd_mu);
	if (i < ndaemons && daemons[i].d)
		r = MHD_add_connection(daemons[i].d, fd, (const struct sockaddr *)peer, peerlen);
	else
		close(fd);
	pthread_mutex_unlock(&hd_mu);
	return r == MHD_YES ? 0 : -1; /* MHD closed fd on failure */
}

static int add_daemon(int fd, int tls)
{
	if (ndaemons >= HTTP_DAEMONS_MAX) {
		log_err("http: too many listeners");
		return -1;
	}
	struct hd *h = &daemons[ndaemons];
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->tls = tls;
	/* SECURITY: a PROXY header is read only on listeners configured for
	 * it, and required there. */
	h->proxied =
	    (config_get()->proxy_protocol & (tls ? CONFIG_PROXY_HTTPS : CONFIG_PROXY_HTTP)) != 0;
	if (hd_start(h) != 0) {
		log_err("http: cannot start the %s service on fd %d", tls ? "HTTPS" : "HTTP", fd);
		return -1;
	}
	ndaemons++;
	if (h->proxied) {
		proxies[ndaemons - 1] =
		    proxy_accept_start(fd, http_proxy_deliver, (void *)(intptr_t)(ndaemons - 1),
		                       tls ? "https" : "http");
		if (proxies[ndaemons - 1] == NULL)
			return -1;
	}
	return 0;
}

static void on_publish(struct index *ix, void *arg)
{
	(void)arg;
	http_listing_publish(ix->generation);
}

int http_start(const struct http_listeners *l)
{
	static int registered;
	acme_open(config_get());
	if (l->nhttps > 0)
		http_tls_init();
	if (!registered) {
		/* Cached listings of an older tree are freed as soon as a new
		 * snapshot exists (lookups also ignore them by generation). */
		index_on_publish(on_publish, NULL);
		limiter_add_ban_hook(http_on_ban, NULL);
		registered = 1;
	}
	if (http_pace_start() != 0) {
		log_err("http: cannot start the pacer thread");
		return -1;
	}
	for (int i = 0; i < l->nhttps; i++)
		if (add_daemon(l->https[i], 1) != 0)
			goto fail;
	for (int i = 0; i < l->nhttp; i++)
		if (add_daemon(l->http[i], 0) != 0)
			goto fail;
	reaper_on = 1;
	if (pthread_create(&reaper, NULL, reaper_main, NULL) != 0) {
		reaper_on = 0;
		goto fail;
	}
	return 0;
fail:
	http_pace_stop();
	for (int i = 0; i < ndaemons; i++)
		hd_free(&daemons[i]);
	ndaemons = 0;
	return -1;
}

void http_set_acme_thumbprint(const char *tp)
{
	snprintf(acme_thumbprint, sizeof(acme_thumbprint), "%s", tp);
}

void http_reload(void)
{
	acme_open(config_get());
	/* Auth paths or users may have changed what anonymous clients see. */
	http_listing_cache_clear();
	http_small_clear();
	pthread_mutex_lock(&hd_mu);
	unsigned gen = tls_generation();
	for (int i = 0; i < ndaemons; i++) {
		struct hd *h = &daemons[i];
		if (!h->tls || h->tls_gen == gen)
			continue;
		if (nretired >= HTTP_RETIRED_MAX) {
			log_warn("http: too many daemons still draining; certificate not swapped");
			break;
		}
		struct hd fresh;
		memset(&fresh, 0, sizeof(fresh));
		fresh.fd = h->fd;
		fresh.tls = 1;
		fresh.proxied = h->proxied;
		if (hd_start(&fresh) != 0) {
			log_err("http: new certificate not taken: cannot start a daemon with it");
			continue;
		}
		/* Both daemons poll the socket for a moment; then the old one
		 * stops accepting and drains. */
		if (!h->proxied)
			MHD_quiesce_daemon(h->d);
		retired[nretired++] = *h;
		*h = fresh;
		log_info("http: serving the renewed certificate to new connections");
	}
	pthread_mutex_unlock(&hd_mu);
}

void http_stop(unsigned drain_seconds)
{
	for (int i = 0; i < HTTP_DAEMONS_MAX; i++) {
		proxy_accept_stop(proxies[i]);
		proxies[i] = NULL;
	}
	pthread_mutex_lock(&hd_mu);
	for (int i = 0; i < ndaemons; i++) {
		if (daemons[i].d && !daemons[i].proxied)
			MHD_quiesce_daemon(daemons[i].d);
		/* New connections are refused from now on (RST), not queued
		 * in the backlog while the open ones drain. */
		shutdown(daemons[i].fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&hd_mu);
	uint64_t end = clock_now_ns() + (uint64_t)drain_seconds * 1000000000ull;
	while (clock_now_ns() < end) {
		unsigned open = 0;
		pthread_mutex_lock(&hd_mu);
		for (int i = 0; i < ndaemons; i++)
			open += hd_conns(&daemons[i]);
		for (int i = 0; i < nretired; i++)
			open += hd_conns(&retired[i]);
		pthread_mutex_unlock(&hd_mu);
		if (open == 0)
			break;
		usleep(50000);
	}
	if (reaper_on) {
		pthread_mutex_lock(&hd_mu);
		reaper_on = 0;
		pthread_cond_signal(&reaper_cv);
		pthread_mutex_unlock(&hd_mu);
		pthread_join(reaper, NULL);
	}
	http_pace_stop();
	for (int i = 0; i < nretired; i++)
		hd_free(&retired[i]);
	nretired = 0;
	for (int i = 0; i < ndaemons; i++) {
		hd_free(&daemons[i]);
		close(daemons[i].fd);
	}
	ndaemons = 0;
	http_listing_cache_clear();
	http_small_clear();
	if (acme_fd >= 0)
		close(acme_fd);
	acme_fd = -1;
}
