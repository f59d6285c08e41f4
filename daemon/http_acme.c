/* http_acme.c - answers to ACME http-01 challenges on the plain-HTTP port:
 * from certbot's webroot (acme_webroot) or, for the built-in ACME client,
 * the key authorization made from the token and the account thumbprint.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "http.h"
#include "http_int.h"
#include "limits.h"
#include "log.h"

/* The webroot's directory: its number never changes once open (a reload
 * swaps the directory behind it with dup3), so the HTTP threads may use it
 * while the main thread reloads; acme_on says whether the configuration
 * still has a webroot. */
static atomic_int acme_fd = -1;
static atomic_int acme_on;
static char acme_thumbprint[64]; /* built-in ACME; set before http_start */

enum MHD_Result http_serve_acme(struct MHD_Connection *c, struct http_req *r, const char *token,
                                const struct config *cfg)
{
	size_t n = strlen(token);
	/* SECURITY: RFC 8555 tokens are base64url; nothing else is looked up. */
	int wfd = atomic_load(&acme_on) ? atomic_load(&acme_fd) : -1;
	if ((wfd < 0 && acme_thumbprint[0] == '\0') || n == 0 || n > PM_NAME_MAX ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return http_error(c, r, MHD_HTTP_NOT_FOUND, "404 Not Found\n");
	struct stat st;
	char rel[PM_NAME_MAX + 64];
	int fd = -1;
	if (wfd >= 0) {
		/* certbot --webroot -w DIR writes DIR/.well-known/acme-challenge/T;
		 * a directory holding the tokens themselves works too. */
		snprintf(rel, sizeof(rel), ".well-known/acme-challenge/%s", token);
		fd = file_open(wfd, rel, FILE_REG, &st);
		if (fd < 0)
			fd = file_open(wfd, token, FILE_REG, &st);
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
	int fd = -1, old = atomic_load(&acme_fd);
	if (cfg->acme_webroot[0]) {
		fd = file_open_root(cfg->acme_webroot);
		if (fd < 0)
			log_warn("http: acme_webroot: cannot open: %s", strerror(errno));
	}
	if (fd >= 0 && old >= 0) {
		if (dup3(fd, old, O_CLOEXEC) < 0)
			log_warn("http: acme_webroot: cannot swap: %s", strerror(errno));
		close(fd);
	} else if (fd >= 0) {
		atomic_store(&acme_fd, fd);
	}
	/* Without a webroot now the old directory stays open, unused (closing
	 * it could pull it from under a thread reading it). */
	atomic_store(&acme_on, fd >= 0);
}

void http_acme_close(void)
{
	int fd = atomic_exchange(&acme_fd, -1);
	atomic_store(&acme_on, 0);
	if (fd >= 0)
		close(fd);
}

void http_set_acme_thumbprint(const char *tp)
{
	snprintf(acme_thumbprint, sizeof(acme_thumbprint), "%s", tp);
}
