/* http_acme.c - answers to ACME http-01 challenges on the plain-HTTP port:
 * from certbot's webroot (acme_webroot) or, for the built-in ACME client,
 * the key authorization made from the token and the account thumbprint.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "http.h"
#include "http_int.h"
#include "limits.h"
#include "log.h"

static int acme_fd = -1;
static char acme_thumbprint[64]; /* built-in ACME; set before http_start */

enum MHD_Result http_serve_acme(struct MHD_Connection *c, struct http_req *r, const char *token,
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

void http_acme_open(const struct config *cfg)
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

void http_acme_close(void)
{
	if (acme_fd >= 0)
		close(acme_fd);
	acme_fd = -1;
}

void http_set_acme_thumbprint(const char *tp)
{
	snprintf(acme_thumbprint, sizeof(acme_thumbprint), "%s", tp);
}
