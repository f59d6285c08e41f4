/* test_metrics.c - counters move, the text page is well-formed Prometheus
 * exposition, and the side port answers /metrics and /healthz over a real
 * loopback socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "unit.h"
#include "buf.h"
#include "limiter.h"
#include "metrics.h"
#include "net.h"

/* The value of the sample line that starts with `series ` in page, or -1. */
static double value_of(const char *page, const char *series)
{
	size_t n = strlen(series);
	const char *p = page;
	while ((p = strstr(p, series)) != NULL) {
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every line is a comment (# HELP / # TYPE) or "name{labels} value". */
static int well_formed(const char *page)
{
	const char *p = page;
	while (*p) {
		const char *e = strchr(p, '\n');
		if (e == NULL)
			return 0; /* the page ends with a newline */
		if (strncmp(p, "# HELP ", 7) != 0 && strncmp(p, "# TYPE ", 7) != 0) {
			const char *q = p;
			while (q < e && (*q == '_' || (*q >= 'a' && *q <= 'z')))
				q++;
			if (q == p)
				return 0;
			if (*q == '{') {
				const char *r = memchr(q, '}', (size_t)(e - q));
				if (r == NULL)
					return 0;
				q = r + 1;
			}
			if (*q != ' ')
				return 0;
			char *end;
			strtod(q + 1, &end);
			if (end != e)
				return 0;
		}
		p = e + 1;
	}
	return 1;
}

static void test_counters(void)
{
	struct buf b;
	buf_init(&b, 0);
	metrics_reset();
	CHECK_INT("render works without limiter or index", 0, metrics_render(&b));
	CHECK("page is well formed", well_formed(b.data));
	CHECK_INT("no connections yet", 0,
	          (int)value_of(b.data, "pubmirror_connections_total{proto=\"ftp\"}"));

	metrics_conn_open(METRICS_FTP);
	metrics_conn_open(METRICS_FTP);
	metrics_conn_close(METRICS_FTP);
	metrics_conn_open(METRICS_HTTPS);
	metrics_conn_refused(METRICS_HTTPS, "banned");
	metrics_conn_refused(METRICS_HTTPS, "no-such-reason");
	metrics_bytes_sent(METRICS_HTTPS, 1000);
	metrics_bytes_sent(METRICS_HTTPS, 234);
	metrics_transfer(METRICS_FTPS, 1);
	metrics_transfer(METRICS_FTPS, 0);
	metrics_tls_handshake(METRICS_FTPS, 1);
	metrics_tls_handshake(METRICS_FTPS, 0);
	metrics_tls_handshake(METRICS_FTPS, 0);
	metrics_request(METRICS_HTTPS, 200, 0.0005);
	metrics_request(METRICS_HTTPS, 404, 0.02);
	metrics_request(METRICS_HTTPS, 206, 30.0);
	metrics_request(METRICS_HTTPS, 999, -1.0); /* odd input lands somewhere sane */
	metrics_proxy_header(1);
	metrics_proxy_header(0);
	metrics_auth_failure(METRICS_FTP);
	metrics_conn_open((enum metrics_proto)42); /* out of range: ignored */

	buf_reset(&b);
	CHECK_INT("render", 0, metrics_render(&b));
	CHECK("page is well formed after traffic", well_formed(b.data));
	const char *p = b.data;
	CHECK_INT("ftp connections", 2,
	          (int)value_of(p, "pubmirror_connections_total{proto=\"ftp\"}"));
	CHECK_INT("ftp open", 1, (int)value_of(p, "pubmirror_connections_open{proto=\"ftp\"}"));
	CHECK_INT("https open", 1, (int)value_of(p, "pubmirror_connections_open{proto=\"https\"}"));
	CHECK_INT("refused banned", 1,
	          (int)value_of(
	              p, "pubmirror_connections_refused_total{proto=\"https\",reason=\"banned\"}"));
	CHECK_INT("refused other", 1,
	          (int)value_of(
	              p, "pubmirror_connections_refused_total{proto=\"https\",reason=\"other\"}"));
	CHECK_INT("bytes", 1234, (int)value_of(p, "pubmirror_sent_bytes_total{proto=\"https\"}"));
	CHECK_INT(
	    "transfers complete", 1,
	    (int)value_of(p, "pubmirror_transfers_total{proto=\"ftps\",result=\"complete\"}"));
	CHECK_INT(
	    "transfers incomplete", 1,
	    (int)value_of(p, "pubmirror_transfers_total{proto=\"ftps\",result=\"incomplete\"}"));
	CHECK_INT("handshakes", 1,
	          (int)value_of(p, "pubmirror_tls_handshakes_total{proto=\"ftps\"}"));
	CHECK_INT("handshake failures", 2,
	          (int)value_of(p, "pubmirror_tls_handshake_failures_total{proto=\"ftps\"}"));
	CHECK_INT("2xx", 2,
	          (int)value_of(p, "pubmirror_requests_total{proto=\"https\",code=\"2xx\"}"));
	CHECK_INT("4xx", 1,
	          (int)value_of(p, "pubmirror_requests_total{proto=\"https\",code=\"4xx\"}"));
	CHECK_INT("other status", 1,
	          (int)value_of(p, "pubmirror_requests_total{proto=\"https\",code=\"other\"}"));
	CHECK_INT(
	    "bucket 0.001 (cumulative)", 2,
	    (int)value_of(
	        p, "pubmirror_request_duration_seconds_bucket{proto=\"https\",le=\"0.001\"}"));
	CHECK_INT(
	    "bucket 0.025", 3,
	    (int)value_of(
	        p, "pubmirror_request_duration_seconds_bucket{proto=\"https\",le=\"0.025\"}"));
	CHECK_INT("bucket 10", 3,
	          (int)value_of(
	              p, "pubmirror_request_duration_seconds_bucket{proto=\"https\",le=\"10\"}"));
	CHECK_INT("bucket +Inf", 4,
	          (int)value_of(
	              p, "pubmirror_request_duration_seconds_bucket{proto=\"https\",le=\"+Inf\"}"));
	CHECK_INT("count", 4,
	          (int)value_of(p, "pubmirror_request_duration_seconds_count{proto=\"https\"}"));
	double sum = value_of(p, "pubmirror_request_duration_seconds_sum{proto=\"https\"}");
	CHECK("sum of latencies", sum > 30.0204 && sum < 30.0206);
	CHECK_INT("proxy ok", 1, (int)value_of(p, "pubmirror_proxy_headers_total{result=\"ok\"}"));
	CHECK_INT("proxy refused", 1,
	          (int)value_of(p, "pubmirror_proxy_headers_total{result=\"refused\"}"));
	CHECK_INT("auth failures", 1,
	          (int)value_of(p, "pubmirror_auth_failures_total{proto=\"ftp\"}"));
	CHECK_INT("up", 1, (int)value_of(p, "pubmirror_up"));
	CHECK("histogram typed",
	      strstr(p, "# TYPE pubmirror_request_duration_seconds histogram\n") != NULL);

	/* A full buffer fails cleanly and leaves the buffer as it was. */
	struct buf small;
	buf_init(&small, 100);
	buf_puts(&small, "keep");
	CHECK_INT("cap refused", -1, metrics_render(&small));
	CHECK_STR("buffer unchanged", "keep", small.data);
	buf_free(&small);
	buf_free(&b);
}

static void test_limiter_gauges(void)
{
	struct limiter_params lp = {
	    .max_clients = 10, .max_per_ip = 1, .ban_after = 1, .ban_window = 60, .ban_time = 60};
	struct limiter *l = limiter_new(&lp);
	struct sockaddr_storage a;
	struct sockaddr_in *in = (struct sockaddr_in *)&a;
	struct buf b;

	memset(&a, 0, sizeof(a));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.9", &in->sin_addr);
	limiter_set_global(l);
	uint64_t now = clock_now_ns();
	limiter_conn_open(l, &a, now);
	limiter_conn_open(l, &a, now); /* per-IP refusal */
	limiter_auth_fail(l, &a, now); /* ban */
	buf_init(&b, 0);
	CHECK_INT("render with limiter", 0, metrics_render(&b));
	CHECK_INT("limiter conns", 1, (int)value_of(b.data, "pubmirror_limiter_connections"));
	CHECK_INT("limiter per_ip", 1,
	          (int)value_of(b.data, "pubmirror_limiter_rejections_total{reason=\"per_ip\"}"));
	CHECK_INT("limiter bans", 1, (int)value_of(b.data, "pubmirror_limiter_bans_total"));
	buf_free(&b);
	limiter_set_global(NULL);
	limiter_free(l);
}

/* GET path over a real socket to the side port; the reply into out. */
static int http_get(unsigned port, const char *path, char *out, size_t outsz)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	char req[256];

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	for (int i = 0; i < 1000 && got + 1 < outsz; i++) {
		ssize_t r = read(fd, out + got, outsz - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	out[got] = '\0';
	close(fd);
	return 0;
}

static void test_side_port(void)
{
	struct sockaddr_storage a;
	struct sockaddr_in *in = (struct sockaddr_in *)&a;
	char err[128];
	static char page[256 * 1024];

	memset(&a, 0, sizeof(a));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = net_listen(&a, sizeof(*in), 16, err, sizeof(err));
	CHECK("listen on an ephemeral port", fd >= 0);
	if (fd < 0)
		return;
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &bl);
	unsigned port = net_port(&bound);
	CHECK_INT("metrics_start", 0, metrics_start(&fd, 1));

	metrics_reset();
	metrics_bytes_sent(METRICS_FTP, 77);
	CHECK_INT("GET /metrics", 0, http_get(port, "/metrics", page, sizeof(page)));
	CHECK("200 with the exposition type",
	      strncmp(page, "HTTP/1.1 200", 12) == 0 &&
	          strstr(page, "text/plain; version=0.0.4") != NULL);
	char *body = strstr(page, "\r\n\r\n");
	CHECK("body present", body != NULL);
	if (body)
		CHECK_INT("counter visible over HTTP", 77,
		          (int)value_of(body + 4, "pubmirror_sent_bytes_total{proto=\"ftp\"}"));
	/* No index in this process: not healthy yet. */
	CHECK_INT("GET /healthz", 0, http_get(port, "/healthz", page, sizeof(page)));
	CHECK("503 without an index", strncmp(page, "HTTP/1.1 503", 12) == 0);
	CHECK_INT("GET /other", 0, http_get(port, "/etc/passwd", page, sizeof(page)));
	CHECK("404 elsewhere", strncmp(page, "HTTP/1.1 404", 12) == 0);
	metrics_stop();
	CHECK("port closed after stop", http_get(port, "/metrics", page, sizeof(page)) != 0);
}

int main(void)
{
	test_counters();
	test_limiter_gauges();
	test_side_port();
	return unit_done();
}
