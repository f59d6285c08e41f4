/* metrics.c - atomic counters and the Prometheus text page (see metrics.h).
 *
 * Every counter is a relaxed atomic: the page is a statistical view, a
 * counter read a few nanoseconds before another one moves is fine, and no
 * serving thread ever waits on a lock for it.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "index.h"
#include "limiter.h"
#include "metrics.h"

#define METRICS_REASONS 5 /* full, per_ip, banned, proxy, other */

static const char *const metrics_proto_names[METRICS_NPROTO] = {"ftp", "ftps", "http", "https",
                                                                "rsync"};
static const char *const metrics_reason_names[METRICS_REASONS] = {"full", "per_ip", "banned",
                                                                  "proxy", "other"};
/* Upper bounds of the latency buckets, seconds; the last one is +Inf. */
static const double metrics_bounds[METRICS_BUCKETS - 1] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};

struct metrics_proto_ctr {
	_Atomic uint64_t conns, closed, bytes, xfer_ok, xfer_bad, tls_ok, tls_bad, auth_fail;
	_Atomic uint64_t refused[METRICS_REASONS];
	_Atomic uint64_t status[6]; /* 1xx..5xx by first digit; [0]: anything else */
	_Atomic uint64_t bucket[METRICS_BUCKETS];
	_Atomic uint64_t lat_count, lat_sum_us;
};

static struct metrics_proto_ctr metrics_ctr[METRICS_NPROTO];
static _Atomic uint64_t metrics_proxy_ok, metrics_proxy_bad;
static _Atomic int metrics_drain;
static _Atomic int64_t metrics_started;

#define M_ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define M_GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

static struct metrics_proto_ctr *metrics_of(enum metrics_proto p)
{
	return (unsigned)p < METRICS_NPROTO ? &metrics_ctr[p] : NULL;
}

static void metrics_mark_start(void)
{
	int64_t zero = 0;
	atomic_compare_exchange_strong(&metrics_started, &zero, (int64_t)time(NULL));
}

void metrics_conn_open(enum metrics_proto p)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m)
		M_ADD(m->conns, 1);
}

void metrics_conn_close(enum metrics_proto p)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m)
		M_ADD(m->closed, 1);
}

void metrics_conn_refused(enum metrics_proto p, const char *reason)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	unsigned i = METRICS_REASONS - 1;
	if (m == NULL)
		return;
	for (unsigned k = 0; reason && k < METRICS_REASONS - 1; k++)
		if (strcmp(reason, metrics_reason_names[k]) == 0)
			i = k;
	M_ADD(m->refused[i], 1);
}

void metrics_bytes_sent(enum metrics_proto p, uint64_t n)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m && n)
		M_ADD(m->bytes, n);
}

/* One more on *good when ok, else on *bad. */
static void metrics_ok_bad(_Atomic uint64_t *good, _Atomic uint64_t *bad, int ok)
{
	M_ADD(*(ok ? good : bad), 1);
}

void metrics_transfer(enum metrics_proto p, int complete)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m)
		metrics_ok_bad(&m->xfer_ok, &m->xfer_bad, complete);
}

void metrics_tls_handshake(enum metrics_proto p, int ok)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m)
		metrics_ok_bad(&m->tls_ok, &m->tls_bad, ok);
}

void metrics_request(enum metrics_proto p, unsigned status, double secs)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	unsigned b = 0;
	if (m == NULL)
		return;
	unsigned cls = status / 100;
	M_ADD(m->status[cls >= 1 && cls <= 5 ? cls : 0], 1);
	if (!(secs >= 0)) /* also NaN */
		secs = 0;
	while (b < METRICS_BUCKETS - 1 && secs > metrics_bounds[b])
		b++;
	M_ADD(m->bucket[b], 1);
	M_ADD(m->lat_count, 1);
	/* Microseconds; a latency over ~584000 years would wrap. */
	M_ADD(m->lat_sum_us, (uint64_t)(secs * 1e6 + 0.5));
}

void metrics_proxy_header(int ok)
{
	metrics_ok_bad(&metrics_proxy_ok, &metrics_proxy_bad, ok);
}

void metrics_auth_failure(enum metrics_proto p)
{
	struct metrics_proto_ctr *m = metrics_of(p);
	if (m)
		M_ADD(m->auth_fail, 1);
}

void metrics_set_draining(int draining)
{
	atomic_store(&metrics_drain, draining ? 1 : 0);
}

int metrics_draining(void)
{
	return atomic_load(&metrics_drain);
}

void metrics_reset(void)
{
	for (int p = 0; p < METRICS_NPROTO; p++) {
		struct metrics_proto_ctr *m = &metrics_ctr[p];
		atomic_store(&m->conns, 0);
		atomic_store(&m->closed, 0);
		atomic_store(&m->bytes, 0);
		atomic_store(&m->xfer_ok, 0);
		atomic_store(&m->xfer_bad, 0);
		atomic_store(&m->tls_ok, 0);
		atomic_store(&m->tls_bad, 0);
		atomic_store(&m->auth_fail, 0);
		for (int i = 0; i < METRICS_REASONS; i++)
			atomic_store(&m->refused[i], 0);
		for (int i = 0; i < 6; i++)
			atomic_store(&m->status[i], 0);
		for (int i = 0; i < METRICS_BUCKETS; i++)
			atomic_store(&m->bucket[i], 0);
		atomic_store(&m->lat_count, 0);
		atomic_store(&m->lat_sum_us, 0);
	}
	atomic_store(&metrics_proxy_ok, 0);
	atomic_store(&metrics_proxy_bad, 0);
	atomic_store(&metrics_drain, 0);
}

/* ---------- rendering ---------- */

static int metrics_head(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One counter family with a value per protocol, read by get(m). */
static int metrics_per_proto(struct buf *out, const char *name, const char *type, const char *help,
                             uint64_t (*get)(struct metrics_proto_ctr *m))
{
	if (metrics_head(out, name, type, help) != 0)
		return -1;
	for (int p = 0; p < METRICS_NPROTO; p++)
		if (buf_printf(out, "%s{proto=\"%s\"} %" PRIu64 "\n", name, metrics_proto_names[p],
		               get(&metrics_ctr[p])) != 0)
			return -1;
	return 0;
}

static uint64_t g_conns(struct metrics_proto_ctr *m)
{
	return M_GET(m->conns);
}
static uint64_t g_open(struct metrics_proto_ctr *m)
{
	uint64_t o = M_GET(m->conns), c = M_GET(m->closed);
	return o > c ? o - c : 0;
}
static uint64_t g_bytes(struct metrics_proto_ctr *m)
{
	return M_GET(m->bytes);
}
static uint64_t g_tls_ok(struct metrics_proto_ctr *m)
{
	return M_GET(m->tls_ok);
}
static uint64_t g_tls_bad(struct metrics_proto_ctr *m)
{
	return M_GET(m->tls_bad);
}
static uint64_t g_auth(struct metrics_proto_ctr *m)
{
	return M_GET(m->auth_fail);
}

static int metrics_render_protocols(struct buf *out)
{
	if (metrics_per_proto(out, "pubmirror_connections_total", "counter",
	                      "Client connections accepted, by protocol.", g_conns) != 0 ||
	    metrics_per_proto(out, "pubmirror_connections_open", "gauge",
	                      "Client connections open now, by protocol.", g_open) != 0 ||
	    metrics_per_proto(out, "pubmirror_sent_bytes_total", "counter",
	                      "Response body and data-channel bytes sent to clients.",
	                      g_bytes) != 0 ||
	    metrics_per_proto(out, "pubmirror_tls_handshakes_total", "counter",
	                      "TLS handshakes completed.", g_tls_ok) != 0 ||
	    metrics_per_proto(out, "pubmirror_tls_handshake_failures_total", "counter",
	                      "TLS handshakes that failed.", g_tls_bad) != 0 ||
	    metrics_per_proto(out, "pubmirror_auth_failures_total", "counter", "Failed logins.",
	                      g_auth) != 0)
		return -1;

	if (metrics_head(out, "pubmirror_connections_refused_total", "counter",
	                 "Connections refused before being served, by reason.") != 0)
		return -1;
	for (int p = 0; p < METRICS_NPROTO; p++)
		for (int i = 0; i < METRICS_REASONS; i++)
			if (buf_printf(
			        out,
			        "pubmirror_connections_refused_total{proto=\"%s\",reason=\"%s\"} "
			        "%" PRIu64 "\n",
			        metrics_proto_names[p], metrics_reason_names[i],
			        M_GET(metrics_ctr[p].refused[i])) != 0)
				return -1;

	if (metrics_head(out, "pubmirror_transfers_total", "counter",
	                 "File transfers ended, complete or not.") != 0)
		return -1;
	for (int p = 0; p < METRICS_NPROTO; p++)
		if (buf_printf(
		        out,
		        "pubmirror_transfers_total{proto=\"%s\",result=\"complete\"} %" PRIu64
		        "\npubmirror_transfers_total{proto=\"%s\",result=\"incomplete\"} "
		        "%" PRIu64 "\n",
		        metrics_proto_names[p], M_GET(metrics_ctr[p].xfer_ok),
		        metrics_proto_names[p], M_GET(metrics_ctr[p].xfer_bad)) != 0)
			return -1;

	if (metrics_head(out, "pubmirror_requests_total", "counter",
	                 "Requests answered (HTTP requests, FTP commands), by status class.") != 0)
		return -1;
	static const char *const cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (int p = 0; p < METRICS_NPROTO; p++)
		for (int i = 1; i <= 6; i++)
			if (buf_printf(out,
			               "pubmirror_requests_total{proto=\"%s\",code=\"%s\"} %" PRIu64
			               "\n",
			               metrics_proto_names[p], cls[i % 6],
			               M_GET(metrics_ctr[p].status[i % 6])) != 0)
				return -1;

	if (metrics_head(out, "pubmirror_request_duration_seconds", "histogram",
	                 "Time from a request to its answer (for transfers: the first byte).") != 0)
		return -1;
	for (int p = 0; p < METRICS_NPROTO; p++) {
		struct metrics_proto_ctr *m = &metrics_ctr[p];
		uint64_t cum = 0;
		for (int b = 0; b < METRICS_BUCKETS; b++) {
			char le[32];
			cum += M_GET(m->bucket[b]);
			if (b < METRICS_BUCKETS - 1)
				snprintf(le, sizeof(le), "%g", metrics_bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			if (buf_printf(
			        out,
			        "pubmirror_request_duration_seconds_bucket{proto=\"%s\",le=\"%s\"} "
			        "%" PRIu64 "\n",
			        metrics_proto_names[p], le, cum) != 0)
				return -1;
		}
		uint64_t us = M_GET(m->lat_sum_us);
		/* The +Inf bucket is the count: use it so that both agree even
		 * while another thread adds a sample. */
		if (buf_printf(out,
		               "pubmirror_request_duration_seconds_sum{proto=\"%s\"} %" PRIu64
		               ".%06" PRIu64 "\n"
		               "pubmirror_request_duration_seconds_count{proto=\"%s\"} %" PRIu64
		               "\n",
		               metrics_proto_names[p], us / 1000000, us % 1000000,
		               metrics_proto_names[p], cum) != 0)
			return -1;
	}

	if (metrics_head(out, "pubmirror_proxy_headers_total", "counter",
	                 "PROXY protocol headers accepted, and connections refused without one.") !=
	        0 ||
	    buf_printf(out,
	               "pubmirror_proxy_headers_total{result=\"ok\"} %" PRIu64 "\n"
	               "pubmirror_proxy_headers_total{result=\"refused\"} %" PRIu64 "\n",
	               M_GET(metrics_proxy_ok), M_GET(metrics_proxy_bad)) != 0)
		return -1;
	return 0;
}

static int metrics_render_limiter(struct buf *out)
{
	struct limiter *lim = limiter_global();
	struct limiter_stats st;

	if (lim == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	limiter_stats(lim, &st);
	if (metrics_head(out, "pubmirror_limiter_connections", "gauge",
	                 "Connections the shared limiter counts now (all protocols).") != 0 ||
	    buf_printf(out, "pubmirror_limiter_connections %u\n", st.conns) != 0 ||
	    metrics_head(out, "pubmirror_limiter_rejections_total", "counter",
	                 "Connections the limiter refused, by reason.") != 0 ||
	    buf_printf(out,
	               "pubmirror_limiter_rejections_total{reason=\"full\"} %" PRIu64 "\n"
	               "pubmirror_limiter_rejections_total{reason=\"per_ip\"} %" PRIu64 "\n"
	               "pubmirror_limiter_rejections_total{reason=\"banned\"} %" PRIu64 "\n",
	               st.rejected_full, st.rejected_per_ip, st.rejected_banned) != 0 ||
	    metrics_head(out, "pubmirror_limiter_bans_total", "counter",
	                 "Addresses banned after repeated failed logins.") != 0 ||
	    buf_printf(out, "pubmirror_limiter_bans_total %" PRIu64 "\n", st.bans) != 0)
		return -1;
	return 0;
}

static int metrics_render_index(struct buf *out, time_t now)
{
	struct index *ix = index_acquire();
	int rc = -1;

	if (ix == NULL)
		return 0;
	int64_t age = (int64_t)now - (int64_t)ix->built;
	if (metrics_head(out, "pubmirror_index_entries", "gauge",
	                 "Files and directories in the index snapshot served now.") != 0 ||
	    buf_printf(out, "pubmirror_index_entries %" PRIu64 "\n", ix->nentries) != 0 ||
	    metrics_head(out, "pubmirror_index_directories", "gauge",
	                 "Directories in the index snapshot.") != 0 ||
	    buf_printf(out, "pubmirror_index_directories %" PRIu32 "\n", ix->ndirs) != 0 ||
	    metrics_head(out, "pubmirror_index_generation", "gauge",
	                 "Generation of the snapshot served now (1 + swaps since start).") != 0 ||
	    buf_printf(out, "pubmirror_index_generation %" PRIu64 "\n", ix->generation) != 0 ||
	    metrics_head(out, "pubmirror_index_age_seconds", "gauge",
	                 "Seconds since the snapshot served now was built.") != 0 ||
	    buf_printf(out, "pubmirror_index_age_seconds %" PRId64 "\n", age > 0 ? age : 0) != 0 ||
	    metrics_head(out, "pubmirror_index_build_seconds", "gauge",
	                 "How long building the snapshot served now took.") != 0 ||
	    buf_printf(out, "pubmirror_index_build_seconds %.6f\n", ix->build_seconds) != 0 ||
	    metrics_head(out, "pubmirror_index_memory_bytes", "gauge",
	                 "Memory held by the snapshot served now.") != 0 ||
	    buf_printf(out, "pubmirror_index_memory_bytes %" PRIu64 "\n", index_memory(ix)) != 0)
		goto fail;
	rc = 0;
fail:
	index_release(ix);
	return rc;
}

int metrics_render(struct buf *out)
{
	time_t now = time(NULL);
	size_t mark = out->len;

	metrics_mark_start();
	if (metrics_head(out, "pubmirror_up", "gauge",
	                 "1 while serving, 0 while draining after SIGTERM.") != 0 ||
	    buf_printf(out, "pubmirror_up %d\n", metrics_draining() ? 0 : 1) != 0 ||
	    metrics_head(out, "pubmirror_start_time_seconds", "gauge",
	                 "When the metrics were first read or the server started (Unix time).") !=
	        0 ||
	    buf_printf(out, "pubmirror_start_time_seconds %" PRId64 "\n",
	               (int64_t)atomic_load(&metrics_started)) != 0 ||
	    metrics_render_protocols(out) != 0 || metrics_render_limiter(out) != 0 ||
	    metrics_render_index(out, now) != 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, mark);
	return -1;
}

void metrics_init(void)
{
	metrics_mark_start();
}
