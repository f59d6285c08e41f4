/* http_auth.c - Basic login over HTTPS: the credentials of a request
 * checked against the users of auth.c, failed logins counted toward the
 * limiter's ban, the 401 that asks for a login.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "http_int.h"
#include "limiter.h"
#include "log.h"
#include "metrics.h"
#include "net.h"

#define HTTP_REALM "Basic realm=\"pubmirror\", charset=\"UTF-8\""

static enum MHD_Result ask_login(struct MHD_Connection *c, struct http_req *r)
{
	static const char text[] = "401 login required\n";
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "WWW-Authenticate", HTTP_REALM);
	return http_queue(c, r, MHD_HTTP_UNAUTHORIZED, resp, sizeof(text) - 1);
}

/* 1: authenticated (r->user set); 0: not, and unless quiet an answer
 * (401 or 403) was queued with its result in *ret. */
int http_auth_login(struct MHD_Connection *c, struct http_req *r, enum MHD_Result *ret, int quiet)
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
