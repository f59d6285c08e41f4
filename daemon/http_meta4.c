/* http_meta4.c - Metalink 4 (RFC 5854) over HTTP: GET <file>.meta4, or the
 * file itself with "Accept: application/metalink4+xml", answers with the
 * file's size, SHA-256 and its URLs: this node over HTTPS and FTP, then
 * the configured mirrors.  aria2 and wget2 use it to verify the download
 * and to fall back to another source. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "http_int.h"
#include "http_util.h"
#include "metalink.h"
#include "net.h"
#include "sums.h"
#include "view.h"

#define META4_MAX (32 * 1024)

/* SECURITY: the Host header is the client's; only a name or an address
 * with an optional port is put into a URL: [A-Za-z0-9.-]+ or [v6], then
 * ":digits".  hostonly gets the part before the port.  0 or -1. */
static int meta4_host(const char *h, char *host, size_t hostsz, char *hostonly, size_t hosz)
{
	size_t n = 0;

	if (h == NULL || *h == '\0')
		return -1;
	if (h[0] == '[') {
		while (h[++n] && h[n] != ']')
			if (!strchr("0123456789abcdefABCDEF:.", h[n]))
				return -1;
		if (h[n] != ']')
			return -1;
		n++;
	} else {
		n = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
	}
	if (n == 0 || n >= hosz)
		return -1;
	if (h[n] == ':' &&
	    (h[n + 1] == '\0' || strspn(h + n + 1, "0123456789") != strlen(h + n + 1) ||
	     strlen(h + n + 1) > 5))
		return -1;
	if (h[n] != '\0' && h[n] != ':')
		return -1;
	if (strlen(h) >= hostsz)
		return -1;
	memcpy(hostonly, h, n);
	hostonly[n] = '\0';
	memcpy(host, h, strlen(h) + 1);
	return 0;
}

enum MHD_Result http_serve_meta4(struct MHD_Connection *c, struct http_req *r,
                                 const struct view_obj *o, const struct config *cfg)
{
	/* URLs name the path the client asked for; the digest is the file's
	 * it leads to. */
	const struct index_entry *e = o->e;
	const char *rel = o->asked;
	char host[300], hostonly[300], hex[SUMS_HEX_LEN + 1], dir[PM_PATH_MAX];
	struct buf urls[METALINK_URLS_MAX];
	const char *up[METALINK_URLS_MAX];
	size_t n = 0;
	struct buf out;
	enum MHD_Result ret;

	if (meta4_host(http_hdr(c, "Host"), host, sizeof(host), hostonly, sizeof(hostonly)) != 0)
		return http_error(c, r, MHD_HTTP_BAD_REQUEST,
		                  "400 a valid Host header is needed\n");
	/* The digest of the bytes served, else the publisher's SHA256SUMS. */
	const char *sha = NULL;
	if (sums_cached_hex(o->real, e->size, e->mtime, e->ino, hex) == 0) {
		sha = hex;
	} else {
		/* the SHA256SUMS beside the file itself (a link's target), under
		 * its own name */
		const char *slash = strrchr(o->real, '/');
		size_t dl = slash ? (size_t)(slash - o->real) : 0;
		memcpy(dir, o->real, dl);
		dir[dl] = '\0';
		if (sums_lookup(o->ix, dir, slash ? slash + 1 : o->real, hex) == 0)
			sha = hex;
	}
	for (size_t i = 0; i < METALINK_URLS_MAX; i++)
		buf_init(&urls[i], PM_HTTP_HEADER_MAX);
	char base[400];
	snprintf(base, sizeof(base), "https://%s", host);
	int bad = metalink_url(&urls[n++], base, rel);
	/* Anonymous FTP sees no protected path: only public files get one. */
	if (!bad && cfg->ftp_listen.n > 0 && !o->prot) {
		unsigned port = net_port(&cfg->ftp_listen.a[0]);
		if (port == 21)
			snprintf(base, sizeof(base), "ftp://%s", hostonly);
		else
			snprintf(base, sizeof(base), "ftp://%s:%u", hostonly, port);
		bad = metalink_url(&urls[n++], base, rel);
	}
	for (const char *p = cfg->mirrors; !bad && *p && n < METALINK_URLS_MAX;) {
		size_t l = strcspn(p, ",");
		if (l > 0 && l < sizeof(base)) {
			memcpy(base, p, l);
			base[l] = '\0';
			bad = metalink_url(&urls[n++], base, rel);
		}
		p += l;
		if (*p == ',')
			p++;
	}
	for (size_t i = 0; i < n; i++)
		up[i] = urls[i].data;
	buf_init(&out, META4_MAX);
	struct metalink_file f = {e->name, e->size, e->mtime, sha};
	if (bad || metalink_render(&out, &f, up, n) != 0) {
		ret = http_error(c, r, 500, "500 metalink too large\n");
		goto done;
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		ret = MHD_NO;
		goto done;
	}
	MHD_add_response_header(resp, "Content-Type", METALINK_TYPE);
	MHD_add_response_header(resp, "Vary", "Accept");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	ret = http_queue(c, r, MHD_HTTP_OK, resp, out.len);
done:
	buf_free(&out);
	for (size_t i = 0; i < METALINK_URLS_MAX; i++)
		buf_free(&urls[i]);
	return ret;
}
