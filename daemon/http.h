/* http.h - HTTPS (and optional plain HTTP) through libmicrohttpd. */
#ifndef PUBMIRROR_HTTP_H
#define PUBMIRROR_HTTP_H

struct http_listeners {
	int nhttps;
	int https[8];
	int nhttp; /* plain HTTP: redirect or serve */
	int http[8];
};

/* Start the daemons on these listeners.  0 or -1 (logged). */
int http_start(const struct http_listeners *l);
/* Certificate or config changed (SIGHUP): pick up the new certificate
 * for new handshakes without dropping connections. */
void http_reload(void);
/* Built-in ACME: answer /.well-known/acme-challenge/<token> on plain HTTP
 * with "<token>.<tp>" when no acme_webroot file matches.  Before
 * http_start; "" turns it off. */
void http_set_acme_thumbprint(const char *tp);
/* Stop accepting, drain up to drain_seconds, stop. */
void http_stop(unsigned drain_seconds);

#endif
