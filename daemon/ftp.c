/* ftp.c - the FTP server's event loops: ftp_threads threads, each with its
 * own epoll, all accepting from every listener (EPOLLEXCLUSIVE); the
 * sessions of a thread stay on it.  Sockets are non-blocking and edge
 * triggered: a session runs until every operation says EAGAIN, or until its
 * turn's budget is spent (then it goes back on the ready list).  Password
 * checks and hashing run on worker threads (ftp_worker.c) so neither a
 * slow crypt nor a big file stalls a loop.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ftp.h"
#include "auth.h"
#include "ftp_int.h"
#include "metrics.h"
#include "limiter.h"
#include "log.h"
#include "net.h"
#include "proxy_accept.h"

#define FTP_ACCEPT_BATCH 64
#define FTP_OUT_PAUSE (16 * 1024) /* stop reading commands above this backlog */

static struct ftp_loop *ftp_loops;
static unsigned ftp_nloops;
static atomic_int ftp_stop_flag;

/* SECURITY: a ban ends the sessions its address already has, logged in or
 * not (a connection opened before the ban must not log in after it), as a
 * firewall rule would: 421, and a transfer in progress stops. */
static void ftp_ban_sweep(struct ftp_loop *l)
{
	struct limiter *lim = limiter_global();
	uint64_t now = clock_now_ns();
	if (lim == NULL)
		return;
	for (struct ftp_sess *s = l->all; s; s = s->next) {
		if (s->dead || s->closing || !limiter_is_banned(lim, &s->peer, now))
			continue;
		ftp_data_free(s);
		ftp_sess_close(s, 421, "Your address is banned for a while after failed logins");
	}
}

/* Ban hook (any thread): every loop looks at its sessions. */
static void ftp_on_ban(void *arg, const struct sockaddr_storage *addr)
{
	(void)arg;
	(void)addr;
	for (unsigned t = 0; t < ftp_nloops; t++) {
		uint64_t one = 1;
		atomic_store(&ftp_loops[t].ban_check, 1);
		if (write(ftp_loops[t].wakefd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the loop is awake anyway */
		}
	}
}

/* --- results of the worker threads (ftp_worker.c) --- */

static void ftp_job_result(struct ftp_sess *s, const struct ftp_job_result *r)
{
	if (r->auth) {
		ftp_cmd_auth_done(s, r->ok);
	} else if (!r->ok) {
		ftp_reply(s, 550, "Could not read the file to hash it");
	} else {
		char head[256];
		uint64_t last = r->len ? r->off + r->len - 1 : r->off;
		snprintf(head, sizeof(head), "%s %llu-%llu %s ",
		         hash_algo_name((enum hash_algo)r->algo), (unsigned long long)r->off,
		         (unsigned long long)last, r->hex);
		ftp_reply_path(s, 213, head, r->rel[0] ? r->rel : "/", "", 0);
	}
	ftp_ready(s);
}

/* --- transfer slots --- */

/* Give the slot back once the session's data channel holds no descriptor
 * (after every run of the session, and when it dies). */
static void ftp_xfer_sync(struct ftp_sess *s)
{
	const struct ftp_data *d = s->data;
	if (!s->xfer_slot)
		return;
	if (!s->dead && d != NULL && (ftp_data_has_setup(s) || d->xs != XS_NONE || d->fd >= 0))
		return;
	ftp_xfer_give(s);
}

/* --- sessions --- */

static void ftp_sess_kill(struct ftp_sess *s)
{
	if (s->dead)
		return;
	ftp_data_free(s);
	ftp_xfer_give(s);
	ftp_worker_cancel(s); /* SECURITY: nobody waits for its digest any more */
	conn_close(&s->ctrl);
	buf_free(&s->out);
	if (s->counted && limiter_global())
		limiter_conn_close(limiter_global(), &s->peer);
	if (s->metered)
		metrics_conn_close(s->implicit ? METRICS_FTPS : METRICS_FTP);
	if (s->reject)
		s->loop->nreject--;
	if (s->prev)
		s->prev->next = s->next;
	else
		s->loop->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->dead = 1;
	s->next = s->loop->dead;
	s->loop->dead = s;
}

static void ftp_greet(struct ftp_sess *s)
{
	const struct config *c = config_get();

	if (s->reject) {
		ftp_sess_close(s, 421, s->reject_text);
		return;
	}
	if (c && c->ftp_banner[0]) {
		ftp_reply_path(s, 220, "", c->ftp_banner, "", 0);
		return;
	}
	ftp_reply(s, 220, "pubmirror anonymous FTP server ready (read-only)");
}

/* Admit a new session: limiter verdict, then the greeting (or the TLS
 * handshake of implicit FTPS first). */
static int ftp_admit(struct ftp_sess *s)
{
	struct ftp_loop *l = s->loop;
	struct limiter *lim = limiter_global();
	enum limiter_verdict v =
	    lim ? limiter_conn_open(lim, &s->peer, clock_now_ns()) : LIMITER_OK;

	const struct config *cf = config_get();
	if (v != LIMITER_OK && l->nreject >= pm_refusing_max(cf ? cf->max_clients : 0))
		return -1;
	s->counted = v == LIMITER_OK && lim != NULL;
	s->metered = 1;
	metrics_conn_open(s->implicit ? METRICS_FTPS : METRICS_FTP);
	if (v != LIMITER_OK)
		metrics_conn_refused(s->implicit ? METRICS_FTPS : METRICS_FTP,
		                     v == LIMITER_FULL     ? "full"
		                     : v == LIMITER_PER_IP ? "per_ip"
		                                           : "banned");
	switch (v) {
	case LIMITER_OK:
		break;
	case LIMITER_FULL:
		s->reject_text = "Too many connections to this server; try again later";
		break;
	case LIMITER_PER_IP:
		s->reject_text = "Too many connections from your address; try again later";
		break;
	case LIMITER_BANNED:
		s->reject_text = "Your address is banned for a while after failed logins";
		break;
	}
	if (v != LIMITER_OK) {
		s->reject = 1;
		l->nreject++;
		log_info("ftp: %s: refused at the greeting: %s", s->peer_str, s->reject_text);
	}
	if (s->implicit) {
		if (tls_io_start(&s->ctrl, NULL) != 0) {
			log_err("ftp: %s: cannot start TLS", s->peer_str);
			return -1;
		}
		if (ftp_sess_phase(s, FTP_PHASE_TLS_GREET) != 0)
			return -1;
		/* Implicit FTPS: data is protected unless the client says
		 * PROT C. */
		s->pbsz = 1;
		s->prot_p = 1;
	} else {
		if (ftp_sess_phase(s, FTP_PHASE_OPEN) != 0)
			return -1;
		ftp_greet(s);
	}
	return 0;
}

/* Out of descriptors: the listeners stay readable, so a level-triggered
 * epoll would wake at once and accept4 would fail again, spinning the loop.
 * Take this loop's listeners out of epoll for FTP_ACCEPT_PAUSE_NS; pending
 * clients wait in the kernel's backlog meanwhile (other loops still try). */
#define FTP_ACCEPT_PAUSE_NS 250000000u

static void ftp_accept_pause(struct ftp_loop *l)
{
	if (l->accept_paused_until != 0)
		return;
	for (int i = 0; i < l->nlev; i++)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lev[i].fd, NULL);
	l->accept_paused_until = clock_now_ns() + FTP_ACCEPT_PAUSE_NS;
	log_warn("ftp: out of file descriptors (%s); accepting paused for 250 ms", strerror(errno));
}

static void ftp_accept_resume(struct ftp_loop *l, uint64_t now)
{
	if (l->accept_paused_until == 0 || now < l->accept_paused_until)
		return;
	l->accept_paused_until = 0;
	/* epoll_ctl directly: ftp_ev_add would rewrite lev[i].fd, which
	 * ftp_stop reads from the main thread */
	for (int i = 0; i < l->nlev; i++) {
		struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->lev[i]};
		epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lev[i].fd, &e);
	}
}

static void ftp_accept(struct ftp_loop *l, struct ftp_ev *lev)
{
	const struct config *c = config_get();

	for (int i = 0; i < FTP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen;
		int fd = net_accept(lev->fd, &peer, &plen);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				ftp_accept_pause(l);
			return;
		}
		struct ftp_sess *s = l->stopping ? NULL : calloc(1, sizeof(*s));
		if (s == NULL) {
			close(fd);
			continue;
		}
		s->loop = l;
		conn_init(&s->ctrl, fd);
		s->peer = peer;
		socklen_t llen = sizeof(s->local);
		getsockname(fd, (struct sockaddr *)&s->local, &llen);
		net_addr_str(&peer, 0, s->peer_str, sizeof(s->peer_str));
		buf_init(&s->out, 1024 * 1024);
		ftp_sess_defaults(s);
		s->t_cmd = s->t_start;
		s->cev.kind = FTP_EV_CTRL;
		s->cev.s = s;
		s->implicit = lev->implicit;
		unsigned pflag = lev->implicit ? CONFIG_PROXY_FTPS : CONFIG_PROXY_FTP;
		if ((c->proxy_protocol & pflag) != 0)
			ftp_sess_phase(s, FTP_PHASE_PROXY);
		s->next = l->all;
		if (l->all)
			l->all->prev = s;
		l->all = s;
		if (ftp_ev_add(l, fd, &s->cev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0 ||
		    (s->phase != FTP_PHASE_PROXY && ftp_admit(s) != 0)) {
			ftp_sess_kill(s);
			continue;
		}
		ftp_ready(s);
	}
}

/* Remove telnet IAC sequences in place (RFC 959 says the control connection
 * speaks Telnet; clients send IAC IP / IAC DM before ABOR). */
static size_t ftp_strip_telnet(char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c != 255) {
			p[o++] = (char)c;
			continue;
		}
		if (i + 1 >= n)
			break;
		unsigned char k = (unsigned char)p[i + 1];
		if (k == 255) {
			p[o++] = (char)255;
			i++;
		} else if (k >= 251 && k <= 254) {
			i += 2; /* WILL/WONT/DO/DONT option */
		} else if (k >= 240) {
			i++;
		}
		/* else: a lone IAC (its DM went out of band): drop the IAC */
	}
	return o;
}

static int ftp_looks_http(const char *line, size_t n)
{
	static const char *const methods[] = {"GET ",     "POST ",    "HEAD ",   "PUT ",
	                                      "OPTIONS ", "CONNECT ", "DELETE ", "PRI "};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);
		if (n > m && memcmp(line, methods[i], m) == 0 && memmem(line, n, " HTTP/", 6))
			return 1;
	}
	return 0;
}

/* While a transfer runs, an ABOR queued behind another command is taken
 * out of the input and run at once (RFC 959 4.1.3: ABOR is served ahead of
 * the transfer it ends; the commands before it run afterwards, in order).
 * 1 when one was run. */
static int ftp_sess_early_abor(struct ftp_sess *s)
{
	char *p = memchr(s->in, '\n', s->inlen);

	while (p != NULL) {
		size_t start = (size_t)(p + 1 - s->in);
		char *nl = memchr(s->in + start, '\n', s->inlen - start);
		if (nl == NULL)
			return 0;
		size_t n = (size_t)(nl - (s->in + start));
		char line[PM_FTP_LINE_MAX + 1];
		if (n > PM_FTP_LINE_MAX)
			n = PM_FTP_LINE_MAX;
		memcpy(line, s->in + start, n);
		if (n && line[n - 1] == '\r')
			n--;
		n = ftp_strip_telnet(line, n);
		line[n] = '\0';
		if (strcasecmp(line, "ABOR") == 0) {
			size_t used = (size_t)(nl + 1 - s->in);
			memmove(s->in + start, nl + 1, s->inlen - used);
			s->inlen -= used - start;
			s->t_cmd = clock_now_ns();
			ftp_cmd_line(s, line, n);
			return 1;
		}
		p = nl;
	}
	return 0;
}

/* Process complete command lines, then read more.  1 on progress. */
static int ftp_sess_commands(struct ftp_sess *s)
{
	int progress = 0;

	for (int rounds = 0; rounds < 64; rounds++) {
		char *nl;
		while (!s->closing && s->phase == FTP_PHASE_OPEN &&
		       s->out.len - s->outpos < FTP_OUT_PAUSE &&
		       (nl = memchr(s->in, '\n', s->inlen)) != NULL) {
			size_t linelen = (size_t)(nl - s->in);
			size_t used = linelen + 1;
			char line[PM_FTP_LINE_MAX + 1];
			memcpy(line, s->in, linelen);
			if (linelen && line[linelen - 1] == '\r')
				linelen--;
			linelen = ftp_strip_telnet(line, linelen);
			line[linelen] = '\0';
			if (ftp_busy(s) && !ftp_cmd_busy_ok(line, linelen)) {
				explicit_bzero(line, sizeof(line));
				if (ftp_sess_early_abor(s)) {
					progress = 1;
					continue;
				}
				return progress; /* waits until the transfer ends */
			}
			memmove(s->in, s->in + used, s->inlen - used);
			s->inlen -= used;
			progress = 1;
			if (ftp_looks_http(line, linelen)) {
				log_info("ftp: %s: HTTP request on the FTP port, closing",
				         s->peer_str);
				ftp_sess_close(s, 421, "This is an FTP server, not an HTTP server");
				return 1;
			}
			s->t_cmd = clock_now_ns();
			ftp_cmd_line(s, line, linelen);
			/* SECURITY: the line may have held a password */
			explicit_bzero(line, sizeof(line));
			if (s->phase == FTP_PHASE_AUTH_REPLY) {
				/* SECURITY: bytes pipelined after AUTH were sent in
				 * clear text; they must not run inside TLS. */
				explicit_bzero(s->in, s->inlen);
				s->inlen = 0;
			}
		}
		if (s->closing || s->phase != FTP_PHASE_OPEN)
			return progress;
		if (s->inlen == sizeof(s->in)) {
			if (memchr(s->in, '\n', s->inlen) == NULL) {
				log_info("ftp: %s: command line too long, closing", s->peer_str);
				ftp_sess_close(s, 500,
				               "Command line too long (the limit is 1024 bytes)");
				return 1;
			}
			return progress; /* full of waiting commands */
		}
		/* Edge-triggered: after EAGAIN nothing can be read (not even
		 * from TLS's buffer, which EAGAIN found empty) until the next
		 * event; each needless read is a syscall. */
		if (s->ctrl_drained)
			return progress;
		ssize_t r = s->ctrl.ops->read(&s->ctrl, s->in + s->inlen, sizeof(s->in) - s->inlen);
		if (r > 0) {
			s->inlen += (size_t)r;
			progress = 1;
			continue;
		}
		if (r < 0 && errno == EAGAIN) {
			s->ctrl_drained = 1;
			return progress;
		}
		/* the client went away: an unfinished transfer is logged by
		 * ftp_data_free */
		ftp_sess_kill(s);
		return 0;
	}
	ftp_ready(s);
	return 0;
}

static void ftp_sess_run_once(struct ftp_sess *s)
{
	if (s->phase == FTP_PHASE_PROXY) {
		const char *why = "";
		struct sockaddr_storage src, dst;
		enum proxy_step r = proxy_accept_step(s->ctrl.fd, &src, &dst, &why);
		if (r == PROXY_STEP_WAIT)
			return;
		if (r == PROXY_STEP_REFUSE) {
			log_info("ftp: %s: refused: %s", s->peer_str, why);
			ftp_sess_kill(s);
			return;
		}
		if (r == PROXY_STEP_ADDR) {
			s->peer = src;
			s->proxied = 1;
			net_addr_str(&src, 0, s->peer_str, sizeof(s->peer_str));
		}
		if (ftp_admit(s) != 0) {
			ftp_sess_kill(s);
			return;
		}
	}
	for (int round = 0; round < 32 && !s->dead; round++) {
		int progress = 0;

		if (ftp_in_handshake(s)) {
			char why[160] = "";
			int r = tls_io_handshake(&s->ctrl, why, sizeof(why));
			if (r == 1) {
				int greet = s->phase == FTP_PHASE_TLS_GREET;
				ftp_stat_add(FTP_STAT_HS, 1);
				progress = 1;
				if (ftp_sess_phase(s, FTP_PHASE_OPEN) == 0 && greet)
					ftp_greet(s);
			} else if (errno != EAGAIN) {
				ftp_stat_add(FTP_STAT_HS_FAIL, 1);
				char esc[200];
				log_info("ftp: %s: control TLS handshake failed: %s", s->peer_str,
				         log_esc(esc, sizeof(esc), why, strlen(why)));
				ftp_sess_kill(s);
				return;
			}
		}
		if (!ftp_in_handshake(s)) {
			while (s->outpos < s->out.len) {
				ssize_t w = s->ctrl.ops->write(&s->ctrl, s->out.data + s->outpos,
				                               s->out.len - s->outpos);
				if (w > 0) {
					s->outpos += (size_t)w;
					progress = 1;
					continue;
				}
				if (errno == EAGAIN)
					break;
				ftp_sess_kill(s);
				return;
			}
			if (s->outpos == s->out.len) {
				if (s->out.cap > 4096)
					buf_free(&s->out); /* idle sessions stay small */
				else
					buf_reset(&s->out);
				s->outpos = 0;
				if (s->closing) {
					s->ctrl.ops->shutdown(&s->ctrl);
					ftp_sess_kill(s);
					return;
				}
				if (s->phase == FTP_PHASE_AUTH_REPLY) {
					if (ftp_sess_phase(s, FTP_PHASE_TLS_AUTH) != 0 ||
					    tls_io_start(&s->ctrl, NULL) != 0) {
						ftp_sess_kill(s);
						return;
					}
					progress = 1;
					continue;
				}
			}
		}
		if (s->data && ftp_data_run(s))
			progress = 1;
		if (s->dead)
			return;
		if (!ftp_in_handshake(s) && !s->closing && ftp_sess_commands(s))
			progress = 1;
		if (!progress)
			return;
	}
	if (!s->dead)
		ftp_ready(s);
}

static void ftp_sess_run(struct ftp_sess *s)
{
	ftp_sess_run_once(s);
	ftp_xfer_sync(s);
}

static void ftp_timeouts(struct ftp_loop *l, uint64_t now)
{
	const struct config *c = config_get();
	/* config_get is never NULL and the table keeps idle_timeout >= 1 */
	uint64_t idle = (uint64_t)c->idle_timeout * 1000000000u;

	for (struct ftp_sess *s = l->all, *next; s; s = next) {
		next = s->next;
		if (s->closing) {
			if (now > s->close_by)
				ftp_sess_kill(s);
			continue;
		}
		if (l->stopping && !ftp_busy(s)) {
			ftp_sess_close(s, 421, "Server shutting down");
			continue;
		}
		if (l->stopping && l->drain_until && now > l->drain_until) {
			ftp_data_free(s);
			ftp_sess_close(s, 421, "Server shutting down");
			continue;
		}
		if (s->data) {
			ftp_data_timeouts(s, now);
			ftp_xfer_sync(s);
		}
		if (s->dead || s->closing)
			continue;
		if (s->phase == FTP_PHASE_PROXY &&
		    ftp_elapsed(now, s->t_start) > 10 * 1000000000ull) {
			log_info("ftp: %s: no PROXY header within 10 seconds", s->peer_str);
			ftp_sess_kill(s);
			continue;
		}
		if (!ftp_is_logged_in(s) &&
		    ftp_elapsed(now, s->t_start) > (uint64_t)PM_FTP_LOGIN_TIMEOUT * 1000000000u) {
			if (ftp_in_handshake(s))
				ftp_sess_kill(s);
			else
				ftp_sess_close(s, 421, "Login timeout: log in within 60 seconds");
			continue;
		}
		/* Idle means no command and no transfer: a download longer than
		 * idle_timeout is not cut the moment it ends (as vsftpd). */
		if (ftp_busy(s)) {
			s->t_busy = now;
			continue;
		}
		if (ftp_elapsed(now, s->t_cmd) > idle && ftp_elapsed(now, s->t_busy) > idle) {
			char t[96];
			snprintf(t, sizeof(t), "Idle timeout (%u seconds); closing the session",
			         c->idle_timeout);
			ftp_sess_close(s, 421, t);
		}
	}
}

static void *ftp_loop_main(void *arg)
{
	struct ftp_loop *l = arg;
	struct epoll_event evs[256];
	uint64_t next_tick = clock_now_ns() + 1000000000u;
	int stop_seen = 0;

	for (;;) {
		uint64_t now = clock_now_ns();
		int timeout = 1000;
		ftp_accept_resume(l, now);
		if (l->ready) {
			timeout = 0;
		} else {
			uint64_t until = next_tick;
			if (l->accept_paused_until != 0 && l->accept_paused_until < until)
				until = l->accept_paused_until;
			for (struct ftp_sess *s = l->throttled; s; s = s->tnext)
				if (s->wake_ns < until)
					until = s->wake_ns;
			timeout = until <= now ? 0 : (int)((until - now + 999999) / 1000000);
		}
		int n = epoll_wait(l->ep, evs, 256, timeout);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct ftp_ev *ev = evs[i].data.ptr;
			switch (ev->kind) {
			case FTP_EV_LISTEN:
				if (!l->stopping)
					ftp_accept(l, ev);
				break;
			case FTP_EV_WAKE: {
				uint64_t v;
				if (read(l->wakefd, &v, sizeof(v)) < 0) {
					/* nothing pending */
				}
				ftp_worker_done(l, ftp_job_result);
				if (atomic_exchange(&l->ban_check, 0))
					ftp_ban_sweep(l);
				break;
			}
			case FTP_EV_CTRL:
				ev->s->cevents |= evs[i].events;
				ev->s->ctrl_drained = 0;
				ftp_ready(ev->s);
				break;
			case FTP_EV_DATA:
				if (ev->s->data)
					ev->s->data->events |= evs[i].events;
				ftp_ready(ev->s);
				break;
			case FTP_EV_PASV:
				ftp_ready(ev->s);
				break;
			}
		}
		now = clock_now_ns();
		/* throttled sessions whose wait is over */
		struct ftp_sess **tp = &l->throttled;
		while (*tp) {
			struct ftp_sess *s = *tp;
			if (s->dead || s->wake_ns <= now) {
				*tp = s->tnext;
				s->in_throttle = 0;
				s->wake_ns = 0;
				if (!s->dead)
					ftp_ready(s);
			} else {
				tp = &s->tnext;
			}
		}
		/* run the ready sessions; those that come back wait for the
		 * next turn */
		struct ftp_sess *r = l->ready;
		l->ready = NULL;
		while (r) {
			struct ftp_sess *s = r;
			r = s->rnext;
			s->in_ready = 0;
			if (!s->dead && !s->in_throttle)
				ftp_sess_run(s);
		}
		if (atomic_load(&ftp_stop_flag) && !stop_seen) {
			stop_seen = 1;
			l->stopping = 1;
			for (int i = 0; i < l->nlev; i++)
				epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lev[i].fd, NULL);
			int secs = atomic_load(&ftp_stop_flag);
			l->drain_until =
			    now + (uint64_t)(secs > 0 ? secs - 1 : 0) * 1000000000u + 1;
			next_tick = 0;
		}
		if (now >= next_tick) {
			next_tick = now + 1000000000u;
			ftp_timeouts(l, now);
			if (l->stopping)
				next_tick = now + 100000000u;
		}
		/* free the sessions closed in this turn */
		struct ftp_sess **tq = &l->throttled;
		while (*tq) {
			if ((*tq)->dead) {
				(*tq)->in_throttle = 0;
				*tq = (*tq)->tnext;
			} else {
				tq = &(*tq)->tnext;
			}
		}
		struct ftp_sess **rq = &l->ready;
		while (*rq) {
			if ((*rq)->dead)
				*rq = (*rq)->rnext;
			else
				rq = &(*rq)->rnext;
		}
		while (l->dead) {
			struct ftp_sess *s = l->dead;
			l->dead = s->next;
			free(s);
		}
		if (l->stopping && l->all == NULL)
			break;
	}
	return NULL;
}

int ftp_start(const struct ftp_listeners *ls)
{
	const struct config *c = config_get();
	/* the table keeps ftp_threads within 1..PM_FTP_THREADS_MAX */
	unsigned n = c->ftp_threads;

	if (n > PM_FTP_THREADS_MAX)
		n = PM_FTP_THREADS_MAX;
	if (ls->nplain + ls->nimplicit == 0)
		return 0;
	if (tls_io_init() != 0) {
		log_err("ftp: cannot set up the FTPS context");
		return -1;
	}
	ftp_loops = calloc(n, sizeof(*ftp_loops));
	if (ftp_loops == NULL)
		return -1;
	ftp_worker_start();
	atomic_store(&ftp_stop_flag, 0);
	for (unsigned t = 0; t < n; t++) {
		struct ftp_loop *l = &ftp_loops[t];
		pthread_mutex_init(&l->done_lock, NULL);
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->ep < 0 || l->wakefd < 0) {
			log_err("ftp: epoll/eventfd: %s", strerror(errno));
			return -1;
		}
		l->wake.kind = FTP_EV_WAKE;
		ftp_ev_add(l, l->wakefd, &l->wake, EPOLLIN);
		for (int k = 0; k < ls->nplain + ls->nimplicit && l->nlev < 16; k++) {
			struct ftp_ev *ev = &l->lev[l->nlev++];
			ev->kind = FTP_EV_LISTEN;
			ev->implicit = k >= ls->nplain;
			int fd = ev->implicit ? ls->implicit[k - ls->nplain] : ls->plain[k];
			if (ftp_ev_add(l, fd, ev, EPOLLIN | EPOLLEXCLUSIVE) != 0) {
				log_err("ftp: epoll_ctl listener: %s", strerror(errno));
				return -1;
			}
		}
		if (pthread_create(&l->th, NULL, ftp_loop_main, l) != 0) {
			log_err("ftp: cannot start thread %u", t);
			return -1;
		}
		ftp_nloops = t + 1;
	}
	static int ban_hooked;
	if (!ban_hooked && limiter_add_ban_hook(ftp_on_ban, NULL) == 0)
		ban_hooked = 1;
	log_info("ftp: %u thread(s), %d plain/explicit and %d implicit listener(s)", n, ls->nplain,
	         ls->nimplicit);
	return 0;
}

void ftp_stop(unsigned drain_seconds)
{
	if (ftp_loops == NULL)
		return;
	atomic_store(&ftp_stop_flag, (int)drain_seconds + 1);
	/* New connections are refused from now on (the kernel answers RST)
	 * instead of waiting in the backlog while transfers drain.  The fds
	 * stay open (closed by the loops' owner later), so no reuse race. */
	for (int i = 0; i < ftp_loops[0].nlev; i++)
		shutdown(ftp_loops[0].lev[i].fd, SHUT_RDWR);
	for (unsigned t = 0; t < ftp_nloops; t++) {
		uint64_t one = 1;
		if (write(ftp_loops[t].wakefd, &one, sizeof(one)) < 0) {
			/* already awake */
		}
	}
	for (unsigned t = 0; t < ftp_nloops; t++) {
		pthread_join(ftp_loops[t].th, NULL);
		close(ftp_loops[t].ep);
	}
	ftp_worker_stop();
	for (unsigned t = 0; t < ftp_nloops; t++) {
		ftp_worker_done(&ftp_loops[t], ftp_job_result); /* sessions are gone: just frees */
		close(ftp_loops[t].wakefd);
		pthread_mutex_destroy(&ftp_loops[t].done_lock);
	}
	free(ftp_loops);
	ftp_loops = NULL;
	ftp_nloops = 0;
}
