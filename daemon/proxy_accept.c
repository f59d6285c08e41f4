/* proxy_accept.c - the accept thread of a PROXY-protocol listener (see
 * proxy_accept.h). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "limiter.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "proxy.h"
#include "proxy_accept.h"

#define PA_EVENTS 64
#define PA_TICK_MS 250
#define PA_LOGS_PER_SEC 10 /* refusal lines per second, at most */

struct pa_conn {
	int fd;
	uint64_t deadline_ns;
	struct sockaddr_storage peer;
	struct pa_conn *prev, *next; /* oldest first */
};

struct proxy_accept {
	int lfd, ep, wake;
	proxy_accept_deliver deliver;
	void *arg;
	char what[16];
	pthread_t thread;
	struct pa_conn *head, *tail;
	unsigned npending;
	uint64_t log_sec;
	unsigned log_n;
};

static socklen_t pa_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void pa_unlink(struct proxy_accept *p, struct pa_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		p->tail = c->prev;
	p->npending--;
}

static void pa_refuse(struct proxy_accept *p, struct pa_conn *c, const char *why)
{
	uint64_t sec = clock_now_ns() / 1000000000u;
	if (sec != p->log_sec) {
		p->log_sec = sec;
		p->log_n = 0;
	}
	if (p->log_n++ < PA_LOGS_PER_SEC) {
		char host[80];
		log_info("%s: connection from %s refused: %s (this listener expects a PROXY "
		         "protocol header)",
		         p->what, log_peer(host, sizeof(host), &c->peer), why);
	}
	metrics_proxy_header(0);
	pa_unlink(p, c);
	close(c->fd);
	free(c);
}

enum proxy_step proxy_accept_step(int fd, struct sockaddr_storage *peer,
                                  struct sockaddr_storage *local, const char **why)
{
	unsigned char buf[PROXY_HEADER_MAX];
	struct sockaddr_storage src, dst;
	size_t used = 0;

	*why = "malformed";
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return PROXY_STEP_WAIT;
	if (n <= 0) {
		*why = n == 0 ? "closed before a header" : strerror(errno);
		return PROXY_STEP_REFUSE;
	}
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	enum proxy_result r = proxy_parse(buf, (size_t)n, &src, &dst, &used, why);
	if (r == PROXY_NEED_MORE) {
		if ((size_t)n >= sizeof(buf)) {
			*why = "header too long";
			return PROXY_STEP_REFUSE;
		}
		return PROXY_STEP_WAIT;
	}
	if (r == PROXY_BAD) {
		if (*why == NULL)
			*why = "not a PROXY header";
		return PROXY_STEP_REFUSE;
	}
	/* Consume exactly the header: what follows is the protocol's.  The
	 * bytes were peeked, so they are there to read. */
	size_t got = 0;
	while (got < used) {
		ssize_t k = recv(fd, buf, used - got, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			*why = "read error after the header";
			return PROXY_STEP_REFUSE;
		}
		got += (size_t)k;
	}
	if (r != PROXY_OK)
		return PROXY_STEP_LOCAL;
	*peer = src;
	*local = dst;
	return PROXY_STEP_ADDR;
}

/* Peek at what arrived; deliver on a complete header.  1 when c is gone
 * (delivered or refused), 0 when more bytes are needed. */
static int pa_try(struct proxy_accept *p, struct pa_conn *c)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	const char *why = NULL;

	memset(&local, 0, sizeof(local));
	getsockname(c->fd, (struct sockaddr *)&local, &ll);
	enum proxy_step r = proxy_accept_step(c->fd, &c->peer, &local, &why);
	if (r == PROXY_STEP_WAIT)
		return 0;
	if (r == PROXY_STEP_REFUSE) {
		pa_refuse(p, c, why);
		return 1;
	}
	metrics_proxy_header(1);
	pa_unlink(p, c);
	epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
	int fd = c->fd;
	struct sockaddr_storage peer = c->peer;
	free(c);
	p->deliver(p->arg, fd, &peer, pa_len(&peer), &local);
	return 1;
}

static void pa_accept(struct proxy_accept *p)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = net_accept(p->lfd, &peer, &pl);
		if (fd < 0)
			return; /* EAGAIN, or an error the next round retries */
		if (p->npending >= PROXY_ACCEPT_PENDING) {
			/* SECURITY: waiting connections are bounded; past the
			 * bound new ones are closed at once (the waiting ones
			 * time out within PROXY_ACCEPT_TIMEOUT). */
			metrics_proxy_header(0);
			close(fd);
			continue;
		}
		struct pa_conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->deadline_ns = clock_now_ns() + (uint64_t)PROXY_ACCEPT_TIMEOUT * 1000000000u;
		c->prev = p->tail;
		if (p->tail)
			p->tail->next = c;
		else
			p->head = c;
		p->tail = c;
		p->npending++;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
		if (epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			pa_refuse(p, c, "cannot watch the connection");
			continue;
		}
		/* The header often arrives with the connection. */
		pa_try(p, c);
	}
}

static void *pa_main(void *arg)
{
	struct proxy_accept *p = arg;
	struct epoll_event evs[PA_EVENTS];

	for (;;) {
		int n = epoll_wait(p->ep, evs, PA_EVENTS, PA_TICK_MS);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &p->wake)
				return NULL;
			if (evs[i].data.ptr == &p->lfd)
				pa_accept(p);
			else
				pa_try(p, evs[i].data.ptr);
		}
		uint64_t now = clock_now_ns();
		while (p->head && p->head->deadline_ns <= now)
			pa_refuse(p, p->head, "no header within the time limit");
	}
}

struct proxy_accept *proxy_accept_start(int lfd, proxy_accept_deliver deliver, void *arg,
                                        const char *what)
{
	struct proxy_accept *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->lfd = lfd;
	p->deliver = deliver;
	p->arg = arg;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->ep < 0 || p->wake < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->lfd};
	struct epoll_event ew = {.events = EPOLLIN, .data.ptr = &p->wake};
	if (epoll_ctl(p->ep, EPOLL_CTL_ADD, lfd, &ev) != 0 ||
	    epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake, &ew) != 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, pa_main, p) != 0)
		goto fail;
	return p;
fail:
	log_err("%s: cannot start the PROXY protocol accept thread: %s", what, strerror(errno));
	if (p->ep >= 0)
		close(p->ep);
	if (p->wake >= 0)
		close(p->wake);
	free(p);
	return NULL;
}

void proxy_accept_stop(struct proxy_accept *p)
{
	uint64_t one = 1;
	if (p == NULL)
		return;
	if (write(p->wake, &one, sizeof(one)) < 0)
		log_warn("%s: cannot wake the PROXY accept thread", p->what);
	pthread_join(p->thread, NULL);
	while (p->head) {
		struct pa_conn *c = p->head;
		pa_unlink(p, c);
		close(c->fd);
		free(c);
	}
	close(p->ep);
	close(p->wake);
	free(p);
}

int proxy_accept_read_header(int fd, int timeout_ms, struct sockaddr_storage *peer,
                             struct sockaddr_storage *local, const char **why)
{
	uint64_t end = clock_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (int round = 0; round < 10000; round++) {
		enum proxy_step r = proxy_accept_step(fd, peer, local, why);
		if (r != PROXY_STEP_WAIT)
			return r == PROXY_STEP_REFUSE ? -1 : 0;
		uint64_t now = clock_now_ns();
		if (now >= end)
			break;
		/* Peeked bytes stay readable, so poll would return at once
		 * once some arrived: nap briefly instead of spinning. */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char b;
		if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
			usleep(5000);
		else
			poll(&pfd, 1, (int)((end - now) / 1000000u) + 1);
	}
	*why = "no header within the time limit";
	return -1;
}
