/* http.c - HTTPS (and the optional plain-HTTP port) through libmicrohttpd:
 * daemons on the listeners bound by main (start, certificate renewal,
 * drain and stop), and libmicrohttpd's connection and request callbacks
 * (limits at accept, the access log).  The access handler is
 * http_dispatch.c; Basic login http_auth.c; embedded assets
 * http_assets.c; ACME challenges http_acme.c; the connection registry and
 * its sweeper http_sweep.c.
 *
 * libmicrohttpd 0.9.75 notes that shape this file:
 * - a response queued on the first call of the access handler closes the
 *   connection, so every normal answer is queued on the second call;
 * - URLs are taken raw (no-op unescape callback) so that %2f, %00 and dot
 *   segments are judged once, by path_url_decode + path_resolve;
 * - no MHD_USE_TURBO: with TLS it lost answers to HTTP/1.0 clients;
 * - the idle timeout must be set (the default is none);
 * - certificate renewal (SIGHUP): a new daemon with the new certificate
 *   takes over the same listening socket and the old one is quiesced: it
 *   accepts nothing more, finishes its open connections (keep-alive ones
 *   keep working until their idle timeout) and is stopped when it is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "proxy_accept.h"
#include "net.h"
#include "tls.h"

#define HTTP_DAEMONS_MAX 16
#define HTTP_RETIRED_MAX 64

struct hd {
	struct MHD_Daemon *d;
	int fd;
	int tls;
	int proxied; /* PROXY protocol: our accept thread adds connections */
	unsigned tls_gen;
	char *cert, *key; /* PEM bytes given to this daemon */
};

static pthread_mutex_t hd_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hd daemons[HTTP_DAEMONS_MAX];
static int ndaemons;
static struct hd retired[HTTP_RETIRED_MAX];
static int nretired;
static pthread_t reaper;
static pthread_cond_t reaper_cv = PTHREAD_COND_INITIALIZER;
static int reaper_on;
static struct proxy_accept *proxies[HTTP_DAEMONS_MAX];

/* ---------- libmicrohttpd callbacks ---------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	struct http_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->uri = strdup(uri);
	if (r->uri == NULL) {
		free(r);
		return NULL;
	}
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->hc = ci ? ci->socket_context : NULL;
	r->t0 = clock_now_ns();
	if (r->hc)
		r->hc->body_sent = 0;
	return r;
}

/* The access-log and JSON lines of a request, written when it ends: the
 * status queued, the body bytes actually written (all when it completed;
 * else what the body reader saw sent, or 0 for a buffered answer), the
 * real duration.  A 401 names the user who tried, as nginx and Apache do. */
static void http_log_done(struct MHD_Connection *c, const struct http_req *r, uint64_t sent)
{
	const char *user = r->user[0] ? r->user : NULL;

	log_access(r->hc ? &r->hc->peer : NULL, user, r->method, r->uri ? r->uri : "-", r->version,
	           r->status, sent, http_hdr(c, "Referer"), http_hdr(c, "User-Agent"));
	if (log_json_enabled()) {
		struct log_event ev = {
		    .event = "request",
		    .proto = r->hc && r->hc->tls ? "https" : "http",
		    .peer = r->hc ? &r->hc->peer : NULL,
		    .user = user,
		    .method = r->method,
		    .path = r->uri,
		    .status = r->status,
		    .bytes = sent,
		    .secs = (double)(clock_now_ns() - r->t0) / 1e9,
		};
		log_json(&ev);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct http_req *r = *con_cls;
	if (r != NULL && r->hc != NULL)
		atomic_store(&r->hc->head_since, clock_now_ns()); /* keep-alive: next head */
	if (r && r->hc) {
		enum metrics_proto mp = r->hc->tls ? METRICS_HTTPS : METRICS_HTTP;
		int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		uint64_t sent = ok                            ? r->bytes
		                : r->hc->body_sent < r->bytes ? r->hc->body_sent
		                                              : r->bytes;
		metrics_bytes_sent(mp, sent);
		if (r->file && !r->head)
			metrics_transfer(mp, ok);
		if (r->queued)
			http_log_done(c, r, sent);
	}
	if (r) {
		free(r->uri);
		free(r);
		*con_cls = NULL;
	}
}

/* SECURITY: the per-address and global limits bite at accept.  A
 * connection the limiter would refuse costs nothing when all
 * PM_REFUSING_MAX refusal slots are busy: libmicrohttpd closes it at once,
 * before any TLS handshake.  Otherwise it is admitted to hear a 503 with a
 * reason (on_connection takes the limiter's verdict, which decides, and
 * http_sweep cuts it after PM_REFUSE_TIMEOUT). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct limiter *lim = limiter_global();
	struct sockaddr_storage ss;
	(void)cls;
	if (lim == NULL || addr == NULL || addrlen > sizeof(ss))
		return MHD_YES;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, addrlen);
	if (limiter_conn_check(lim, &ss, clock_now_ns()) == LIMITER_OK)
		return MHD_YES;
	const struct config *cfg = config_get();
	unsigned slots = pm_refusing_max(cfg ? cfg->max_clients : 0);
	return http_refusing_count() < slots ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	int tls = cls != NULL; /* the daemon's TLS flag, not a pointer: daemons move */
	struct limiter *lim = limiter_global();
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct http_conn *hc = calloc(1, sizeof(*hc));
		if (hc == NULL)
			return;
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			size_t l = ci->client_addr->sa_family == AF_INET6
			               ? sizeof(struct sockaddr_in6)
			               : sizeof(struct sockaddr_in);
			memcpy(&hc->peer, ci->client_addr, l);
		}
		hc->tls = tls;
		hc->verdict = lim ? limiter_conn_open(lim, &hc->peer, clock_now_ns()) : LIMITER_OK;
		hc->counted = hc->verdict == LIMITER_OK;
		if (!hc->counted) {
			hc->refusing = 1;
			http_refusing_add(1);
		}
		metrics_conn_open(tls ? METRICS_HTTPS : METRICS_HTTP);
		if (!hc->counted)
			metrics_conn_refused(tls ? METRICS_HTTPS : METRICS_HTTP,
			                     hc->verdict == LIMITER_FULL     ? "full"
			                     : hc->verdict == LIMITER_PER_IP ? "per_ip"
			                                                     : "banned");
		/* Small answers go out at once, not after the peer's delayed ACK. */
		hc->fd = -1;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci) {
			int one = 1;
			setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			hc->fd = ci->connect_fd;
		}
		if (tls) {
			ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
			if (ci && ci->tls_session)
				http_tls_attach(ci->tls_session, hc->fd);
		}
		atomic_store(&hc->head_since, clock_now_ns());
		http_conn_link(hc);
		*socket_context = hc;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct http_conn *hc = *socket_context;
		if (hc) {
			if (hc->tls)
				http_tls_detach(hc->fd);
			http_conn_unlink(hc);
			metrics_conn_close(hc->tls ? METRICS_HTTPS : METRICS_HTTP);
			if (hc->tls && hc->requests == 0)
				metrics_tls_handshake(METRICS_HTTPS,
				                      0); /* closed before any request */
			if (hc->counted && lim)
				limiter_conn_close(lim, &hc->peer);
			if (hc->refusing)
				http_refusing_add(-1);
			free(hc);
			*socket_context = NULL;
		}
	}
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	char esc[600];
	log_debug("http: libmicrohttpd: %s", log_esc(esc, sizeof(esc), msg, n));
}

/* ---------- daemons ---------- */

static int hd_start(struct hd *h)
{
	const struct config *cfg = config_get();
	struct MHD_OptionItem ops[24];
	int n = 0;
	/* HTTP keeps idle connections for less than FTP does: a browser
	 * reconnects for free, an idle socket costs a slot. */
	unsigned timeout = cfg->idle_timeout && cfg->idle_timeout < PM_HTTP_TIMEOUT
	                       ? cfg->idle_timeout
	                       : PM_HTTP_TIMEOUT;
	http_sweep_set_limit(timeout);
	/* Counted connections (max_clients, all protocols) and the refusal
	 * slots: the descriptor budget of limits.h (pm_fds_needed). */
	unsigned limit =
	    cfg->max_clients ? cfg->max_clients + pm_refusing_max(cfg->max_clients) : 10000;
	unsigned threads = cfg->http_threads ? cfg->http_threads : 2;
	unsigned flags =
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

#define OPT(o, v, p)                                                                               \
	ops[n++] = (struct MHD_OptionItem)                                                         \
	{                                                                                          \
		(o), (intptr_t)(v), (p)                                                            \
	}
	if (h->proxied)
		flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	else
		OPT(MHD_OPTION_LISTEN_SOCKET, h->fd, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL);
	/* SECURITY: the header block and buffers of one connection are
	 * bounded; a larger request header is refused by libmicrohttpd. */
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PM_HTTP_HEADER_MAX + 16 * 1024, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, limit, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h->tls ? (void *)1 : NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL);
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	if (h->tls) {
		flags |= MHD_USE_TLS;
		h->tls_gen = tls_generation();
		h->cert = tls_cert_pem();
		h->key = tls_key_pem();
		if (h->cert == NULL || h->key == NULL)
			goto fail;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->key);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_gnutls_priorities());
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	h->d = MHD_start_daemon(flags, 0, accept_policy, NULL, http_on_request, NULL,
	                        MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (h->d == NULL)
		goto fail;
	return 0;
fail:
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->cert);
	free(h->key);
	h->cert = h->key = NULL;
	return -1;
}

static void hd_free(struct hd *h)
{
	if (h->d)
		MHD_stop_daemon(h->d);
	h->d = NULL;
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->cert);
	free(h->key);
	h->cert = h->key = NULL;
}

static unsigned hd_conns(struct hd *h)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

/* Stop quiesced daemons once their last connection is gone. */
static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hd_mu);
	while (reaper_on) {
		for (int i = 0; i < nretired;) {
			if (hd_conns(&retired[i]) == 0) {
				struct hd h = retired[i];
				retired[i] = retired[--nretired];
				pthread_mutex_unlock(&hd_mu);
				hd_free(&h);
				pthread_mutex_lock(&hd_mu);
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&hd_mu);
		http_sweep();
		pthread_mutex_lock(&hd_mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&reaper_cv, &hd_mu, &ts);
	}
	pthread_mutex_unlock(&hd_mu);
	return NULL;
}

static int http_proxy_deliver(void *arg, int fd, const struct sockaddr_storage *peer,
                              socklen_t peerlen, const struct sockaddr_storage *local)
{
	int i = (int)(intptr_t)arg;
	enum MHD_Result r = MHD_NO;
	(void)local;
	pthread_mutex_lock(&hd_mu);
	if (i < ndaemons && daemons[i].d)
		r = MHD_add_connection(daemons[i].d, fd, (const struct sockaddr *)peer, peerlen);
	else
		close(fd);
	pthread_mutex_unlock(&hd_mu);
	return r == MHD_YES ? 0 : -1; /* MHD closed fd on failure */
}

static int add_daemon(int fd, int tls)
{
	if (ndaemons >= HTTP_DAEMONS_MAX) {
		log_err("http: too many listeners");
		return -1;
	}
	struct hd *h = &daemons[ndaemons];
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->tls = tls;
	/* SECURITY: a PROXY header is read only on listeners configured for
	 * it, and required there. */
	h->proxied =
	    (config_get()->proxy_protocol & (tls ? CONFIG_PROXY_HTTPS : CONFIG_PROXY_HTTP)) != 0;
	if (hd_start(h) != 0) {
		log_err("http: cannot start the %s service on fd %d", tls ? "HTTPS" : "HTTP", fd);
		return -1;
	}
	ndaemons++;
	if (h->proxied) {
		proxies[ndaemons - 1] =
		    proxy_accept_start(fd, http_proxy_deliver, (void *)(intptr_t)(ndaemons - 1),
		                       tls ? "https" : "http");
		if (proxies[ndaemons - 1] == NULL)
			return -1;
	}
	return 0;
}

static void on_publish(struct index *ix, void *arg)
{
	(void)arg;
	http_listing_publish(ix->generation);
}

int http_start(const struct http_listeners *l)
{
	static int registered;
	http_acme_open(config_get());
	if (l->nhttps > 0)
		http_tls_init();
	if (!registered) {
		/* Cached listings of an older tree are freed as soon as a new
		 * snapshot exists (lookups also ignore them by generation). */
		index_on_publish(on_publish, NULL);
		limiter_add_ban_hook(http_on_ban, NULL);
		registered = 1;
	}
	if (http_pace_start() != 0) {
		log_err("http: cannot start the pacer thread");
		return -1;
	}
	for (int i = 0; i < l->nhttps; i++)
		if (add_daemon(l->https[i], 1) != 0)
			goto fail;
	for (int i = 0; i < l->nhttp; i++)
		if (add_daemon(l->http[i], 0) != 0)
			goto fail;
	reaper_on = 1;
	if (pthread_create(&reaper, NULL, reaper_main, NULL) != 0) {
		reaper_on = 0;
		goto fail;
	}
	return 0;
fail:
	http_pace_stop();
	for (int i = 0; i < ndaemons; i++)
		hd_free(&daemons[i]);
	ndaemons = 0;
	return -1;
}

void http_reload(void)
{
	http_acme_open(config_get());
	/* Auth paths or users may have changed what anonymous clients see. */
	http_listing_cache_clear();
	http_small_clear();
	pthread_mutex_lock(&hd_mu);
	unsigned gen = tls_generation();
	for (int i = 0; i < ndaemons; i++) {
		struct hd *h = &daemons[i];
		if (!h->tls || h->tls_gen == gen)
			continue;
		if (nretired >= HTTP_RETIRED_MAX) {
			log_warn("http: too many daemons still draining; certificate not swapped");
			break;
		}
		struct hd fresh;
		memset(&fresh, 0, sizeof(fresh));
		fresh.fd = h->fd;
		fresh.tls = 1;
		fresh.proxied = h->proxied;
		if (hd_start(&fresh) != 0) {
			log_err("http: new certificate not taken: cannot start a daemon with it");
			continue;
		}
		/* Both daemons poll the socket for a moment; then the old one
		 * stops accepting and drains. */
		if (!h->proxied)
			MHD_quiesce_daemon(h->d);
		retired[nretired++] = *h;
		*h = fresh;
		log_info("http: serving the renewed certificate to new connections");
	}
	pthread_mutex_unlock(&hd_mu);
}

void http_stop(unsigned drain_seconds)
{
	for (int i = 0; i < HTTP_DAEMONS_MAX; i++) {
		proxy_accept_stop(proxies[i]);
		proxies[i] = NULL;
	}
	pthread_mutex_lock(&hd_mu);
	for (int i = 0; i < ndaemons; i++) {
		if (daemons[i].d && !daemons[i].proxied)
			MHD_quiesce_daemon(daemons[i].d);
		/* New connections are refused from now on (RST), not queued
		 * in the backlog while the open ones drain. */
		shutdown(daemons[i].fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&hd_mu);
	uint64_t end = clock_now_ns() + (uint64_t)drain_seconds * 1000000000ull;
	while (clock_now_ns() < end) {
		unsigned open = 0;
		pthread_mutex_lock(&hd_mu);
		for (int i = 0; i < ndaemons; i++)
			open += hd_conns(&daemons[i]);
		for (int i = 0; i < nretired; i++)
			open += hd_conns(&retired[i]);
		pthread_mutex_unlock(&hd_mu);
		if (open == 0)
			break;
		usleep(50000);
	}
	if (reaper_on) {
		pthread_mutex_lock(&hd_mu);
		reaper_on = 0;
		pthread_cond_signal(&reaper_cv);
		pthread_mutex_unlock(&hd_mu);
		pthread_join(reaper, NULL);
	}
	http_pace_stop();
	for (int i = 0; i < nretired; i++)
		hd_free(&retired[i]);
	nretired = 0;
	for (int i = 0; i < ndaemons; i++) {
		hd_free(&daemons[i]);
		close(daemons[i].fd);
	}
	ndaemons = 0;
	http_listing_cache_clear();
	http_small_clear();
	http_acme_close();
}
