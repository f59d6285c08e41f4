/* http_assets.c - the style sheet, script and icons of the listing pages,
 * compiled into the binary (web/ -> web_assets.h) and served under
 * /.pubmirror/ with a content ETag.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"
#include "http_util.h"
#include "web_assets.h"

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

enum MHD_Result http_serve_asset(struct MHD_Connection *c, struct http_req *r, const char *name)
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
