/* http_metrics.c - the plain-HTTP side port for monitoring: GET /metrics
 * (Prometheus text) and GET /healthz, on the metrics_listen sockets.
 *
 * SECURITY: this port has no TLS and no login; it says how busy the
 * server is and how big the tree is, nothing about clients.  It is off by
 * default and meant for loopback or a management network.  Its own
 * connections are few (METRICS_CONNS_MAX) and short (METRICS_TIMEOUT),
 * are not counted by the limiter (a scraper must see a full server), and
 * it answers only GET and HEAD of the two paths.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "index.h"
#include "log.h"
#include "metrics.h"

#define METRICS_DAEMONS_MAX 8
#define METRICS_CONNS_MAX 16
#define METRICS_TIMEOUT 10 /* seconds */
#define METRICS_PAGE_MAX (1024 * 1024)
#define METRICS_CT "text/plain; version=0.0.4; charset=utf-8"

static struct MHD_Daemon *metrics_daemons[METRICS_DAEMONS_MAX];
static int metrics_fds[METRICS_DAEMONS_MAX];
static int metrics_n;

static enum MHD_Result metrics_answer(struct MHD_Connection *c, unsigned status, void *body,
                                      size_t len, enum MHD_ResponseMemoryMode mode,
                                      const char *ctype)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result metrics_text(struct MHD_Connection *c, unsigned status, const char *t)
{
	return metrics_answer(c, status, (void *)t, strlen(t), MHD_RESPMEM_PERSISTENT,
	                      "text/plain; charset=utf-8");
}

/* /healthz: 200 while serving with an index; 503 while draining (a load
 * balancer then sends new clients elsewhere) or before the first index. */
static enum MHD_Result metrics_healthz(struct MHD_Connection *c)
{
	if (metrics_draining())
		return metrics_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "draining\n");
	struct index *ix = index_acquire();
	if (ix == NULL)
		return metrics_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no index yet\n");
	index_release(ix);
	return metrics_text(c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result metrics_page(struct MHD_Connection *c)
{
	struct buf b;
	buf_init(&b, METRICS_PAGE_MAX);
	if (metrics_render(&b) != 0 || b.data == NULL) {
		buf_free(&b);
		return metrics_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
	}
	/* libmicrohttpd frees the bytes with free() once sent. */
	return metrics_answer(c, MHD_HTTP_OK, b.data, b.len, MHD_RESPMEM_MUST_FREE, METRICS_CT);
}

static enum MHD_Result metrics_request_cb(void *cls, struct MHD_Connection *c, const char *url,
                                          const char *method, const char *version,
                                          const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload;
	/* First call: headers only.  Answering now would close the
	 * connection (libmicrohttpd 0.9.75); wait for the second call. */
	if (*con_cls == NULL) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                    "405 only GET and HEAD are served here\n");
	if (strcmp(url, "/metrics") == 0)
		return metrics_page(c);
	if (strcmp(url, "/healthz") == 0)
		return metrics_healthz(c);
	return metrics_text(c, MHD_HTTP_NOT_FOUND, "404 this port serves /metrics and /healthz\n");
}

static void metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256], esc[320];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_debug("metrics: libmicrohttpd: %s", log_esc(esc, sizeof(esc), msg, n));
}

int metrics_start(const int *fds, int nfds)
{
	metrics_init();
	if (nfds > METRICS_DAEMONS_MAX) {
		log_err("metrics: more than %d listeners", METRICS_DAEMONS_MAX);
		return -1;
	}
	for (int i = 0; i < nfds; i++) {
		struct MHD_Daemon *d = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL,
		    NULL, metrics_request_cb, NULL, MHD_OPTION_LISTEN_SOCKET, fds[i],
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS_MAX,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
		    MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, NULL, MHD_OPTION_END);
		if (d == NULL) {
			log_err("metrics: cannot start the metrics service on fd %d", fds[i]);
			metrics_stop();
			return -1;
		}
		metrics_daemons[metrics_n] = d;
		metrics_fds[metrics_n] = fds[i];
		metrics_n++;
	}
	return 0;
}

void metrics_stop(void)
{
	for (int i = 0; i < metrics_n; i++) {
		MHD_stop_daemon(metrics_daemons[i]);
		close(metrics_fds[i]);
		metrics_daemons[i] = NULL;
	}
	metrics_n = 0;
}
