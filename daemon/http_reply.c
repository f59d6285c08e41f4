/* http_reply.c - what every HTTP answer goes through: the common headers,
 * queueing with its access-log line and metrics, short text errors.  The
 * dispatcher (http.c) and the file and listing handlers all call down to
 * it, so none of them calls back up into another. */
#include <inttypes.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"

const char *http_hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

void http_common_headers(struct MHD_Response *resp, const struct http_req *r)
{
	const struct config *cfg = config_get();
	MHD_add_response_header(resp, "Server", "pubmirror");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->hc && r->hc->tls && cfg->hsts_max_age > 0) {
		char v[48];
		snprintf(v, sizeof(v), "max-age=%" PRIu64, cfg->hsts_max_age);
		MHD_add_response_header(resp, "Strict-Transport-Security", v);
	}
}

/* Per-request strings for the access log, valid during the handler. */
struct req_meta {
	const char *method, *version;
};
static __thread struct req_meta cur_meta;

void http_reply_meta(const char *method, const char *version)
{
	cur_meta.method = method;
	cur_meta.version = version;
}

enum MHD_Result http_queue(struct MHD_Connection *c, struct http_req *r, unsigned status,
                           struct MHD_Response *resp, uint64_t bodylen)
{
	http_common_headers(resp, r);
	enum MHD_Result ret = http_queue_shared(c, r, status, resp, bodylen);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result http_queue_shared(struct MHD_Connection *c, struct http_req *r, unsigned status,
                                  struct MHD_Response *resp, uint64_t bodylen)
{
	r->status = status;
	r->bytes = r->head ? 0 : bodylen;
	if (r->hc) {
		enum metrics_proto mp = r->hc->tls ? METRICS_HTTPS : METRICS_HTTP;
		if (r->hc->tls && r->hc->requests == 0)
			metrics_tls_handshake(mp, 1); /* a request came: the handshake worked */
		r->hc->requests++;
		metrics_request(mp, status, (double)(clock_now_ns() - r->t0) / 1e9);
	}
	/* Logged at completion (http_log_done), with the bytes sent. */
	r->queued = 1;
	snprintf(r->method, sizeof(r->method), "%s", cur_meta.method ? cur_meta.method : "-");
	snprintf(r->version, sizeof(r->version), "%s", cur_meta.version ? cur_meta.version : "-");
	if (r->hc && r->hc->tls && r->bytes > 0)
		http_tls_hold(r->hc->fd); /* the header goes out with the body's start */
	return MHD_queue_response(c, status, resp);
}

struct MHD_Response *http_text_response(const char *text)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return resp;
}

enum MHD_Result http_text_with(struct MHD_Connection *c, struct http_req *r, unsigned status,
                               const char *text, const char *header, const char *value)
{
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, header, value);
	return http_queue(c, r, status, resp, strlen(text));
}

enum MHD_Result http_error(struct MHD_Connection *c, struct http_req *r, unsigned status,
                           const char *text)
{
	struct MHD_Response *resp = http_text_response(text);
	if (resp == NULL)
		return MHD_NO;
	return http_queue(c, r, status, resp, strlen(text));
}
