/* http_sweep.c - the registry of open HTTP(S) connections and what acts on
 * all of them: the sweeper that cuts a request head sent too slowly, the
 * ban hook that cuts a newly banned address, and the count of connections
 * admitted only to hear a 503 (the refusal slots of accept_policy).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "clock.h"
#include "http_int.h"
#include "limiter.h"
#include "log.h"
#include "net.h"

_Thread_local struct http_conn *http_banning;

/* Every open connection, for the slow-request sweeper. */
static pthread_mutex_t hc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn *hc_all;
static _Atomic uint64_t hc_head_limit_ns = (uint64_t)PM_HTTP_TIMEOUT * 1000000000u;

void http_conn_link(struct http_conn *hc)
{
	pthread_mutex_lock(&hc_mu);
	hc->prev = NULL;
	hc->next = hc_all;
	if (hc_all)
		hc_all->prev = hc;
	hc_all = hc;
	pthread_mutex_unlock(&hc_mu);
}

void http_conn_unlink(struct http_conn *hc)
{
	pthread_mutex_lock(&hc_mu);
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		hc_all = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	pthread_mutex_unlock(&hc_mu);
}

/* Shut down connections whose request head has taken longer than the
 * limit.  libmicrohttpd then sees the socket fail and closes it; the fd is
 * still valid here because CLOSED is notified (and unlinks under hc_mu)
 * before libmicrohttpd closes it. */
void http_sweep(void)
{
	uint64_t now = clock_now_ns(), lim = atomic_load(&hc_head_limit_ns);
	uint64_t rlim = (uint64_t)PM_REFUSE_TIMEOUT * 1000000000u;
	pthread_mutex_lock(&hc_mu);
	for (struct http_conn *hc = hc_all; hc; hc = hc->next) {
		uint64_t since = atomic_load(&hc->head_since);
		if (since == 0 || hc->cut || hc->fd < 0 ||
		    now - since <= (hc->refusing && rlim < lim ? rlim : lim))
			continue;
		hc->cut = 1;
		shutdown(hc->fd, SHUT_RDWR);
		char a[64];
		net_addr_str(&hc->peer, 0, a, sizeof(a));
		log_info("http: %s took longer than %" PRIu64 " s to send a request head; closed",
		         a, lim / 1000000000u);
	}
	pthread_mutex_unlock(&hc_mu);
}

void http_sweep_set_limit(unsigned seconds)
{
	atomic_store(&hc_head_limit_ns, (uint64_t)seconds * 1000000000u);
}

/* Connections the limiter refused that wait for their 503 (all daemons). */
static atomic_uint hc_refusing;

void http_refusing_add(int delta)
{
	if (delta > 0)
		atomic_fetch_add(&hc_refusing, (unsigned)delta);
	else
		atomic_fetch_sub(&hc_refusing, (unsigned)-delta);
}

unsigned http_refusing_count(void)
{
	return atomic_load(&hc_refusing);
}

/* Ban hook: cut the connections of a newly banned address (its requests in
 * flight end; libmicrohttpd sees the socket fail and closes it). */
void http_on_ban(void *arg, const struct sockaddr_storage *addr)
{
	struct limiter *lim = limiter_global();
	uint64_t now = clock_now_ns();
	(void)arg;
	(void)addr;
	if (lim == NULL)
		return;
	pthread_mutex_lock(&hc_mu);
	for (struct http_conn *hc = hc_all; hc; hc = hc->next) {
		if (hc->cut || hc->fd < 0 || hc == http_banning ||
		    !limiter_is_banned(lim, &hc->peer, now))
			continue;
		hc->cut = 1;
		shutdown(hc->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&hc_mu);
}
