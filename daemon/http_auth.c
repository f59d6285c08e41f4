/* http_auth.c - Basic login over HTTPS: the credentials of a request
 * (decoded here, the password with its length) checked against the users
 * of auth.c, failed logins counted toward the limiter's ban, the 401 that
 * asks for a login.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "clock.h"
#include "http_int.h"
#include "http_util.h"
#include "limiter.h"
#include "log.h"
#include "metrics.h"
#include "net.h"

#define HTTP_REALM "Basic realm=\"pubmirror\", charset=\"UTF-8\""

static enum MHD_Result ask_login(struct MHD_Connection *c, struct http_req *r)
{
	return http_text_with(c, r, MHD_HTTP_UNAUTHORIZED, "401 login required\n",
	                      "WWW-Authenticate", HTTP_REALM);
}

/* 1: authenticated (r->user set); 0: not, and unless quiet an answer
 * (401 or 403) was queued with its result in *ret. */
int http_auth_login(struct MHD_Connection *c, struct http_req *r, enum MHD_Result *ret, int quiet)
{
	const char *hdr = http_hdr(c, "Authorization");
	struct http_basic cred;
	const char *why = NULL;
	struct limiter *lim = limiter_global();
	uint64_t now = clock_now_ns();
	int ok = 0;

	if (hdr == NULL || strncasecmp(hdr, "Basic", 5) != 0 || (hdr[5] != ' ' && hdr[5] != '\t')) {
		if (!quiet)
			*ret = ask_login(c, r);
		return 0;
	}
	/* SECURITY: decoded here, bounded, with the password's length: a
	 * password is never cut at a NUL (libmicrohttpd's helper returns C
	 * strings), and a user name with a NUL or control byte is refused. */
	int decoded = http_basic_decode(hdr, &cred, &why) == 0;
	/* The name tried, for the log line (not authenticated: r->authed). */
	snprintf(r->user, sizeof(r->user), "%s", decoded ? cred.user : "");
	if (lim && limiter_is_banned(lim, &r->hc->peer, now)) {
		if (!quiet)
			*ret =
			    http_error(c, r, MHD_HTTP_FORBIDDEN,
			               "403 too many failed logins from your address; try later\n");
		goto out;
	}
	if (decoded && auth_check(cred.user, cred.pass, cred.passlen)) {
		r->authed = 1;
		if (lim)
			limiter_auth_ok(lim, &r->hc->peer);
		ok = 1;
	} else {
		/* Malformed credentials count as a failed login too. */
		if (!decoded)
			log_debug("http: malformed Basic credentials: %s", why);
		log_auth_fail(&r->hc->peer, r->hc->tls ? "https" : "http",
		              decoded ? cred.user : "");
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
	explicit_bzero(&cred, sizeof(cred));
	return ok;
}
