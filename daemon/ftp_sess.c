/* ftp_sess.c - what a session offers the command and data code (ftp_cmd.c,
 * ftp_data.c) and the event loop (ftp.c): its replies, its close, its
 * place on its loop's ready and throttled lists, and the max_transfers
 * slots.  Calls nothing of the other FTP files, so that they all call
 * down to it and no cycle goes through the loop.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "ftp_int.h"
#include "log.h"
#include "metrics.h"

#define FTP_CLOSE_GRACE 10 /* seconds to flush the last reply */

static atomic_uint ftp_xfers;              /* sessions holding a transfer slot */
static atomic_uint_fast64_t ftp_fd_warned; /* clock_now_ns() of the last shortage logged */

/* --- small helpers --- */

void ftp_stat_add(int which, uint64_t n)
{
	switch (which) {
	case FTP_STAT_HS:
		metrics_tls_handshake(METRICS_FTPS, 1);
		break;
	case FTP_STAT_HS_FAIL:
		metrics_tls_handshake(METRICS_FTPS, 0);
		break;
	default:
		break;
	}
}

int ftp_ev_add(struct ftp_loop *l, int fd, struct ftp_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	ev->fd = fd;
	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e);
}

void ftp_ready(struct ftp_sess *s)
{
	if (s->in_ready || s->dead)
		return;
	s->in_ready = 1;
	s->rnext = s->loop->ready;
	s->loop->ready = s;
}

void ftp_throttle(struct ftp_sess *s, uint64_t when)
{
	s->wake_ns = when;
	if (s->in_throttle)
		return;
	s->in_throttle = 1;
	s->tnext = s->loop->throttled;
	s->loop->throttled = s;
}

/* --- replies --- */

static void ftp_out_fail(struct ftp_sess *s)
{
	/* The reply backlog passed its cap: the client does not read. */
	s->closing = 1;
	s->close_by = clock_now_ns();
}

void ftp_reply_raw(struct ftp_sess *s, const char *text, size_t n)
{
	if (buf_append(&s->out, text, n) != 0)
		ftp_out_fail(s);
}

/* requests_total and the latency histogram count FTP commands answered:
 * every final reply (2xx-5xx; not 1xx, which a final one follows), under
 * ftps when the control connection is TLS (implicit or AUTH TLS). */
static void ftp_reply_counted(struct ftp_sess *s, int code)
{
	if (code < 200)
		return;
	metrics_request(ftp_metrics_proto(s), (unsigned)code,
	                (double)(clock_now_ns() - s->t_cmd) / 1e9);
}

void ftp_reply(struct ftp_sess *s, int code, const char *fmt, ...)
{
	char line[PM_FTP_REPLY_MAX];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%03d ", code);

	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len =
	    (size_t)n +
	    ((size_t)m < sizeof(line) - (size_t)n - 2 ? (size_t)m : sizeof(line) - (size_t)n - 3);
	/* SECURITY: formats carry no client text; still, never let a CR/LF
	 * through. */
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\r' || line[i] == '\n')
			line[i] = ' ';
	line[len++] = '\r';
	line[len++] = '\n';
	ftp_reply_raw(s, line, len);
	ftp_reply_counted(s, code);
}

enum metrics_proto ftp_metrics_proto(const struct ftp_sess *s)
{
	return s->implicit || s->ctrl.tls ? METRICS_FTPS : METRICS_FTP;
}

void ftp_reply_path(struct ftp_sess *s, int code, const char *pre, const char *path,
                    const char *post, int quote)
{
	struct buf b;
	size_t plen = strlen(path);

	buf_init(&b, PM_FTP_REPLY_MAX);
	if (buf_printf(&b, "%03d %s", code, pre) != 0)
		goto fail;
	if (quote) {
		/* RFC 959 257: a '"' inside the name is doubled */
		for (size_t i = 0; i < plen; i++) {
			const char *q = memchr(path + i, '"', plen - i);
			size_t run = q ? (size_t)(q - (path + i)) : plen - i;
			if (buf_append_enc(&b, path + i, run, BUF_ENC_FTP) != 0)
				goto fail;
			i += run;
			if (q && buf_append(&b, "\"\"", 2) != 0)
				goto fail;
		}
	} else if (buf_append_enc(&b, path, plen, BUF_ENC_FTP) != 0) {
		goto fail;
	}
	if (buf_puts(&b, post) != 0 || buf_append(&b, "\r\n", 2) != 0)
		goto fail;
	ftp_reply_raw(s, b.data, b.len);
	ftp_reply_counted(s, code);
	buf_free(&b);
	return;
fail:
	buf_free(&b);
	ftp_reply(s, code >= 400 ? code : 550,
	          "Name refused: it holds CR, LF or NUL or is too long");
}

void ftp_sess_close(struct ftp_sess *s, int code, const char *text)
{
	if (s->closing)
		return;
	if (code)
		ftp_reply(s, code, "%s", text);
	s->closing = 1;
	s->close_by = clock_now_ns() + (uint64_t)FTP_CLOSE_GRACE * 1000000000u;
	ftp_ready(s);
}

/* --- transfer slots --- */

int ftp_xfer_take(struct ftp_sess *s)
{
	if (s->xfer_slot)
		return 0;
	const struct config *c = config_get();
	unsigned max = c ? pm_max_transfers(c->max_clients, c->max_transfers) : 0;
	unsigned cur = atomic_load(&ftp_xfers);
	do {
		if (max != 0 && cur >= max)
			return -1;
	} while (!atomic_compare_exchange_weak(&ftp_xfers, &cur, cur + 1));
	s->xfer_slot = 1;
	return 0;
}
void ftp_xfer_give(struct ftp_sess *s)
{
	if (!s->xfer_slot)
		return;
	s->xfer_slot = 0;
	atomic_fetch_sub(&ftp_xfers, 1);
}

void ftp_fd_shortage(const struct ftp_sess *s, const char *what, int err)
{
	uint64_t now = clock_now_ns(), last = atomic_load(&ftp_fd_warned);
	if (ftp_elapsed(now, last) < 1000000000u && last != 0)
		return;
	if (!atomic_compare_exchange_strong(&ftp_fd_warned, &last, now))
		return;
	const struct config *c = config_get();
	log_warn("ftp: %s: %s refused: %s (max_clients %u, max_transfers %u, %u transfers "
	         "open); raise RLIMIT_NOFILE or lower max_clients or max_transfers",
	         s->peer_str, what, strerror(err), c->max_clients,
	         pm_max_transfers(c->max_clients, c->max_transfers), atomic_load(&ftp_xfers));
}

/* --- login state, control phase and defaults --- */

/* May a state machine go from state from to state to, by its table of
 * allowed steps (one bit per target state)?  When not: logged, and the
 * session closes.  SECURITY: a step the table does not name is a bug
 * (commands before the PROXY header, in clear text after AUTH TLS, a
 * login nobody checked): the session ends rather than guess. */
static int ftp_sess_step(struct ftp_sess *s, const char *what, const unsigned *allowed, size_t n,
                         unsigned from, unsigned to)
{
	if (from < n && (allowed[from] & (1u << to)) != 0)
		return 0;
	log_err("ftp: %s: %s %u cannot go to %u; closing", s->peer_str, what, from, to);
	ftp_sess_close(s, 421, "Internal error; closing");
	return -1;
}

int ftp_sess_login(struct ftp_sess *s, enum ftp_login to)
{
#define L(x) (1u << FTP_LOGIN_##x)
	static const unsigned allowed[] = {
	    [FTP_LOGIN_NONE] = L(NONE) | L(USER_ANON) | L(USER_NAMED),
	    [FTP_LOGIN_USER_ANON] = L(NONE) | L(USER_ANON) | L(USER_NAMED) | L(ANON),
	    [FTP_LOGIN_USER_NAMED] = L(NONE) | L(USER_ANON) | L(USER_NAMED) | L(CHECKING),
	    [FTP_LOGIN_CHECKING] = L(NONE) | L(NAMED),
	    [FTP_LOGIN_ANON] = L(NONE),
	    [FTP_LOGIN_NAMED] = L(NONE),
	};
#undef L
	if (ftp_sess_step(s, "login state", allowed, sizeof(allowed) / sizeof(allowed[0]),
	                  (unsigned)s->login, (unsigned)to) != 0)
		return -1;
	s->login = to;
	return 0;
}

int ftp_sess_phase(struct ftp_sess *s, enum ftp_phase to)
{
#define P(x) (1u << FTP_PHASE_##x)
	static const unsigned allowed[] = {
	    [FTP_PHASE_NEW] = P(PROXY) | P(TLS_GREET) | P(OPEN),
	    [FTP_PHASE_PROXY] = P(TLS_GREET) | P(OPEN),
	    [FTP_PHASE_TLS_GREET] = P(OPEN),
	    [FTP_PHASE_OPEN] = P(AUTH_REPLY),
	    [FTP_PHASE_AUTH_REPLY] = P(TLS_AUTH),
	    [FTP_PHASE_TLS_AUTH] = P(OPEN),
	};
#undef P
	if (ftp_sess_step(s, "control phase", allowed, sizeof(allowed) / sizeof(allowed[0]),
	                  (unsigned)s->phase, (unsigned)to) != 0)
		return -1;
	s->phase = to;
	return 0;
}

void ftp_sess_defaults(struct ftp_sess *s)
{
	s->login = FTP_LOGIN_NONE;
	s->user[0] = '\0';
	s->anon_id[0] = '\0';
	s->cwd[0] = '\0';
	s->ascii = 1;
	s->mode_z = 0;
	s->zlevel = 6;
	s->epsv_all = 0;
	s->pbsz = 0;
	s->prot_p = 0;
	s->rest = 0;
	s->rang_end = 0;
	s->rnfr = 0;
	s->halgo = HASH_SHA256;
	s->mlst_mask = FTP_FACT_ALL;
	s->t_start = clock_now_ns();
}
