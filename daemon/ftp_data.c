/* ftp_data.c - FTP data channels: passive listeners and active connects
 * (both only with the control connection's peer), TLS on the data
 * connection with the session-reuse policy, and the transfer pump:
 * sendfile for plain binary files, else read -> TYPE A -> MODE Z -> write,
 * every byte paid for with limiter_take.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "auth.h"
#include "compress.h"
#include "ftp_int.h"
#include "metrics.h"
#include "limiter.h"
#include "listing.h"
#include "log.h"
#include "view.h"
#include "net.h"
#include "path.h"
#include "proxy_accept.h"

/* --- listing helpers (MLSD here, MLST in ftp_cmd.c) --- */

int ftp_facts(struct ftp_sess *s, struct buf *out, const struct index_entry *e,
              const char *type_override)
{
	static const char *const names[] = {"type=", "size=", "modify=", "perm=", "unique="};
	size_t mark = out->len;

	/* on failure listing_mlsx_facts leaves out as it was */
	if (listing_mlsx_facts(out, e, type_override) != 0)
		return -1;
	if (s->mlst_mask == FTP_FACT_ALL)
		return 0;
	/* Keep the chosen facts in place: "f=v;...; name" only shrinks, so an
	 * MLSD under OPTS MLST needs no scratch buffer per entry. */
	char *start = out->data + mark, *end = out->data + out->len;
	char *sp = memchr(start, ' ', (size_t)(end - start)); /* facts end at the first space */
	if (sp == NULL) {
		buf_truncate(out, mark);
		return -1;
	}
	char *w = start, *p = start;
	while (p < sp) {
		char *semi = memchr(p, ';', (size_t)(sp - p));
		if (semi == NULL)
			break;
		size_t n = (size_t)(semi - p + 1);
		for (unsigned i = 0; i < 5; i++)
			if ((s->mlst_mask & (1u << i)) &&
			    strncasecmp(p, names[i], strlen(names[i])) == 0) {
				memmove(w, p, n);
				w += n;
				break; /* names are distinct: at most one matches */
			}
		p = semi + 1;
	}
	size_t tail = (size_t)(end - sp);
	memmove(w, sp, tail);
	out->len = (size_t)(w - out->data) + tail;
	out->data[out->len] = '\0';
	return 0;
}

#define FTP_DATA_CHUNK (64 * 1024)          /* listings, TYPE A, MODE Z */
#define FTP_DATA_SENDFILE (4 * 1024 * 1024) /* one sendfile call at most */
#define FTP_DATA_BUDGET (16 * 1024 * 1024)  /* bytes per turn, then yield */
#define FTP_DATA_DRAIN_SECS 3               /* wait for the client to close */
#define FTP_SEC 1000000000ull

struct ftp_data *ftp_data_get(struct ftp_sess *s)
{
	if (s->data)
		return s->data;
	struct ftp_data *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->lfd = -1;
	for (int i = 0; i < PM_FTP_PROXY_PENDING; i++)
		d->pfd[i] = -1;
	d->fd = -1;
	conn_init(&d->conn, -1);
	d->lev.kind = FTP_EV_PASV;
	d->lev.s = s;
	d->dev.kind = FTP_EV_DATA;
	d->dev.s = s;
	buf_init(&d->raw, 0);
	buf_init(&d->out, 0);
	s->data = d;
	return d;
}

int ftp_data_has_setup(const struct ftp_sess *s)
{
	const struct ftp_data *d = s->data;
	return d && (d->lfd >= 0 || d->active || d->conn.fd >= 0);
}

/* A transfer is running (command given, not finished). */
static int ftp_data_busy(const struct ftp_sess *s)
{
	return s->data && s->data->xs != XS_NONE;
}

int ftp_busy(const struct ftp_sess *s)
{
	return s->hjob != NULL || ftp_data_busy(s);
}

/* Release the transfer's source and buffers (not the set-up). */
static void ftp_data_release_src(struct ftp_data *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->ix)
		index_release(d->ix);
	d->ix = NULL;
	d->dir = NULL;
	compress_stream_free(d->zs);
	d->zs = NULL;
	free(d->prefix);
	d->prefix = NULL;
	free(d->view);
	d->view = NULL;
	free(d->path);
	d->path = NULL;
	buf_free(&d->raw);
	buf_free(&d->out);
	d->outpos = 0;
}

void ftp_data_clear(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;

	if (d == NULL)
		return;
	if (d->lfd >= 0)
		close(d->lfd);
	d->lfd = -1;
	for (int i = 0; i < PM_FTP_PROXY_PENDING; i++) {
		if (d->pfd[i] >= 0)
			close(d->pfd[i]);
		d->pfd[i] = -1;
	}
	d->active = 0;
	d->connecting = 0;
	conn_close(&d->conn);
	d->events = 0;
}

static void ftp_data_xferlog(struct ftp_sess *s, int complete)
{
	struct ftp_data *d = s->data;

	if (!d->log_xfer)
		return;
	d->log_xfer = 0;
	uint64_t secs = (clock_now_ns() - d->t_begin) / FTP_SEC;
	/* xferlog's size is the file's bytes (as wu-ftpd and vsftpd log it),
	 * not the compressed count of MODE Z; the JSON line keeps the wire. */
	log_xfer(&s->peer, (unsigned)secs, d->z ? d->zin : d->bytes, d->path ? d->path : "?",
	         !d->ascii, ftp_is_anon(s), ftp_is_anon(s) ? s->anon_id : s->user,
	         complete ? 'c' : 'i');
	if (log_json_enabled()) {
		struct log_event ev = {
		    .event = "transfer",
		    .proto = s->implicit || s->ctrl.tls ? "ftps" : "ftp",
		    .peer = &s->peer,
		    .user = ftp_is_anon(s) ? NULL : s->user,
		    .method = "RETR",
		    .path = d->path,
		    .status = complete ? 226 : 426,
		    .bytes = d->bytes,
		    .secs = (double)(clock_now_ns() - d->t_begin) / 1e9,
		};
		log_json(&ev);
	}
}

void ftp_data_free(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;

	if (d == NULL)
		return;
	if (d->xs != XS_NONE) {
		ftp_data_xferlog(s, 0);
		ftp_stat_add(FTP_STAT_XFERS, 1);
	}
	ftp_data_clear(s);
	ftp_data_release_src(d);
	free(d);
	s->data = NULL;
}

/* End the transfer: close the connection, reply, log. */
static void ftp_data_finish(struct ftp_sess *s, int code, const char *text)
{
	if (s->data->log_xfer)
		metrics_transfer(ftp_metrics_proto(s), code == 226);
	ftp_data_xferlog(s, code == 226);
	ftp_stat_add(FTP_STAT_XFERS, 1);
	ftp_reply(s, code, "%s", text);
	s->data->xs = XS_NONE;
	ftp_data_free(s);
}

/* Begin the orderly end, then reply code/text once the client closed. */
static void ftp_data_end(struct ftp_sess *s, int code, const char *text)
{
	struct ftp_data *d = s->data;

	d->final_code = code;
	snprintf(d->final_text, sizeof(d->final_text), "%s", text);
	d->xs = XS_SHUT;
	d->t_wait = clock_now_ns();
}

int ftp_data_listen(struct ftp_sess *s, unsigned *port)
{
	const struct config *c = config_get();
	struct ftp_data *d = ftp_data_get(s);

	if (d == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ftp_data_clear(s);
	int fd = net_listen_range(&s->local, c->pasv_min, c->pasv_max, port);
	if (fd < 0)
		return -1;
	if (ftp_ev_add(s->loop, fd, &d->lev, EPOLLIN | EPOLLET) != 0) {
		close(fd);
		return -1;
	}
	d->lfd = fd;
	return 0;
}

/* Accept pending connections on the passive listener.  SECURITY: only the
 * control connection's peer may connect (no port theft); others are
 * dropped and logged, and we keep waiting for the right one. */
static int ftp_data_accept(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;
	int progress = 0;

	for (int i = 0; i < 16 && d->lfd >= 0 && d->conn.fd < 0; i++) {
		struct sockaddr_storage peer;
		socklen_t plen;
		int fd = net_accept(d->lfd, &peer, &plen);
		if (fd < 0) {
			/* Linux says EMFILE before it looks for a connection.  When
			 * one is queued and a transfer waits for it, it would never
			 * be signalled again (edge-triggered): give up this data
			 * channel (its client sees a reset) and say why.  Before
			 * the transfer command it stays queued for a later try. */
			struct pollfd pl = {.fd = d->lfd, .events = POLLIN};
			if ((errno == EMFILE || errno == ENFILE) && d->xs == XS_WAIT_CONN &&
			    poll(&pl, 1, 0) == 1) {
				ftp_fd_shortage(s, "data connection", errno);
				close(d->lfd);
				d->lfd = -1;
				ftp_data_finish(s, 425,
				                "Cannot open the data connection: the server "
				                "is out of file descriptors; try again later");
				return 1;
			}
			break;
		}
		progress = 1;
		if (s->proxied) {
			/* behind a proxy the data connection names its client in
			 * its own PROXY header (ftp_data_proxy); when every slot
			 * waits for one, the oldest waiter gives way. */
			int k = 0;
			for (int j = 0; j < PM_FTP_PROXY_PENDING; j++) {
				if (d->pfd[j] < 0) {
					k = j;
					break;
				}
				if (d->pfd_since[j] < d->pfd_since[k])
					k = j;
			}
			if (d->pfd[k] >= 0)
				close(d->pfd[k]);
			d->pfd[k] = -1;
			if (ftp_ev_add(s->loop, fd, &d->dev,
			               EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
				close(fd);
				continue;
			}
			d->pfd[k] = fd;
			d->pfd_since[k] = clock_now_ns();
			continue;
		}
		if (!net_same_host(&peer, &s->peer)) {
			char a[80];
			net_addr_str(&peer, 1, a, sizeof(a));
			log_warn("ftp: %s: data connection from %s refused: not the control "
			         "connection's peer",
			         s->peer_str, a);
			close(fd);
			continue;
		}
		close(d->lfd);
		d->lfd = -1;
		conn_init(&d->conn, fd);
		d->events = 0;
		if (ftp_ev_add(s->loop, fd, &d->dev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) !=
		    0) {
			conn_close(&d->conn);
			break;
		}
	}
	return progress;
}

void ftp_data_begin(struct ftp_sess *s, const char *what)
{
	struct ftp_data *d = s->data;

	d->xs = XS_WAIT_CONN;
	d->t_begin = d->t_progress = d->t_wait = clock_now_ns();
	d->bytes = 0;
	d->zin = 0;
	d->credit = 0;
	d->src_eof = 0;
	d->zdone = 0;
	d->outpos = 0;
	d->final_code = 0;
	d->z = s->mode_z;
	if (d->z) {
		d->zs = compress_stream_new(s->zlevel);
		if (d->zs == NULL) {
			ftp_data_finish(s, 451, "Out of memory for MODE Z");
			return;
		}
	}
	ftp_reply(s, 150, "%s", what);
	ftp_ready(s);
}

/* Fill d->raw with the next chunk of the source; sets src_eof at the end. */
static int ftp_data_produce(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;

	buf_reset(&d->raw);
	if (d->src == SRC_FILE) {
		if (buf_reserve(&d->raw, FTP_DATA_CHUNK) != 0)
			return -1;
		uint64_t left = d->end - d->off;
		size_t want = left > FTP_DATA_CHUNK ? FTP_DATA_CHUNK : (size_t)left;
		if (want == 0) {
			d->src_eof = 1;
			return 0;
		}
		ssize_t r = pread(d->fd, d->raw.data, want, (off_t)d->off);
		if (r <= 0)
			return -1;
		d->raw.len = (size_t)r;
		d->off += (uint64_t)r;
		if (d->off >= d->end)
			d->src_eof = 1;
		return 0;
	}
	/* listings: the entry of a file, or a directory's entries */
	time_t now = time(NULL); /* for ls dates; file chunks need no clock */
	for (;;) {
		const struct index_entry *e;
		struct index_entry ve;
		if (d->dir == NULL) {
			if (d->pos > 0)
				break;
			e = &d->one;
		} else if (d->pos == d->dir->count && d->view != NULL &&
		           view_extra_child(d->view, &ve, NULL) != NULL) {
			e = &ve; /* the generated entries (ls-lR.gz), last */
		} else {
			if (d->pos >= d->dir->count || d->pos >= PM_LIST_ENTRIES_MAX)
				break;
			e = &d->ix->entries[d->dir->first + d->pos];
			/* SECURITY: only what this session may see (view.h) */
			if (d->view == NULL || !view_child_visible(d->view, e)) {
				d->pos++;
				continue;
			}
		}
		d->pos++;
		switch (d->src) {
		case SRC_LIST:
			listing_ls_line(&d->raw, e, now); /* names with CR/LF are skipped */
			break;
		case SRC_NLST:
			if (buf_enc_len(e->name, e->namelen, BUF_ENC_FTP) == SIZE_MAX)
				break;
			if (d->dir && d->prefix)
				buf_puts(&d->raw, d->prefix);
			if (d->dir)
				buf_append(&d->raw, e->name, e->namelen);
			else
				buf_puts(&d->raw, d->prefix ? d->prefix : e->name);
			buf_append(&d->raw, "\r\n", 2);
			break;
		case SRC_MLSD: {
			size_t mark = d->raw.len;
			if (ftp_facts(s, &d->raw, e, NULL) == 0 &&
			    buf_append(&d->raw, "\r\n", 2) != 0) {
				buf_truncate(&d->raw, mark);
			}
			break;
		}
		case SRC_FILE:
			break;
		}
		if (d->raw.len >= FTP_DATA_CHUNK)
			return 0;
	}
	d->src_eof = 1;
	return 0;
}

/* TYPE A: LF -> CRLF, appended to out. */
static int ftp_data_ascii(struct buf *out, const char *p, size_t n)
{
	size_t extra = 0;

	for (size_t i = 0; i < n; i++)
		extra += p[i] == '\n';
	if (buf_reserve(out, n + extra) != 0)
		return -1;
	char *o = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			*o++ = '\r';
		*o++ = p[i];
	}
	out->len += n + extra;
	out->data[out->len] = '\0';
	return 0;
}

/* Refill d->out from the source through TYPE A and MODE Z. */
static int ftp_data_refill(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;

	buf_reset(&d->out);
	d->outpos = 0;
	if (d->src_eof) {
		if (d->z && !d->zdone) {
			d->zdone = 1;
			return compress_stream_write(d->zs, "", 0, 1, &d->out);
		}
		return 0;
	}
	if (ftp_data_produce(s) != 0)
		return -1;
	const char *p = d->raw.data ? d->raw.data : "";
	size_t n = d->raw.len;
	struct buf conv;
	d->zin += n;
	buf_init(&conv, 0);
	if (d->ascii && d->src == SRC_FILE) {
		if (ftp_data_ascii(d->z ? &conv : &d->out, p, n) != 0)
			goto fail;
		if (d->z) {
			p = conv.data;
			n = conv.len;
		}
	} else if (!d->z) {
		/* hand the chunk over without a copy */
		struct buf t = d->out;
		d->out = d->raw;
		d->raw = t;
		buf_reset(&d->raw);
	}
	if (d->z) {
		if (compress_stream_write(d->zs, p, n, 0, &d->out) != 0)
			goto fail;
		if (d->src_eof) {
			d->zdone = 1;
			if (compress_stream_write(d->zs, "", 0, 1, &d->out) != 0)
				goto fail;
		}
	}
	buf_free(&conv);
	return 0;
fail:
	buf_free(&conv);
	return -1;
}

/* Bytes we may send now; 0 means throttled (the session sleeps). */
static uint64_t ftp_data_credit(struct ftp_sess *s, uint64_t want)
{
	struct ftp_data *d = s->data;
	struct limiter *lim = limiter_global();

	if (lim == NULL)
		return want;
	if (d->credit > 0)
		return d->credit < want ? d->credit : want;
	uint64_t wait = 0, now = clock_now_ns();
	uint64_t got = limiter_take(lim, &s->peer, want, now, &wait);
	if (got == 0) {
		d->t_progress = now; /* waiting for tokens is not a stall */
		ftp_throttle(s, now + (wait ? wait : 1000000));
		return 0;
	}
	d->credit = got;
	return got;
}

static void ftp_data_spent(struct ftp_sess *s, uint64_t n)
{
	struct ftp_data *d = s->data;

	if (limiter_global())
		d->credit -= n < d->credit ? n : d->credit;
	d->bytes += n;
	d->t_progress = clock_now_ns();
	ftp_stat_add(FTP_STAT_BYTES, n);
	metrics_bytes_sent(ftp_metrics_proto(s), n);
}

/* Move bytes; returns 1 on progress.  Ends in XS_SHUT at the end. */
static int ftp_data_pump(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;
	uint64_t sent = 0;
	int progress = 0;

	while (sent < FTP_DATA_BUDGET) {
		if (d->src == SRC_FILE && !d->ascii && !d->z) {
			if (d->off >= d->end) {
				ftp_data_end(s, 226, "Transfer complete");
				return 1;
			}
			uint64_t left = d->end - d->off;
			uint64_t want =
			    ftp_data_credit(s, left < FTP_DATA_SENDFILE ? left : FTP_DATA_SENDFILE);
			if (want == 0)
				return progress;
			ssize_t w = d->conn.ops->sendfile(&d->conn, d->fd, &d->off, (size_t)want);
			if (w < 0) {
				if (errno == EAGAIN)
					return progress;
				goto broken;
			}
			ftp_data_spent(s, (uint64_t)w);
			sent += (uint64_t)w;
			progress = 1;
			continue;
		}
		if (d->outpos >= d->out.len) {
			if (d->src_eof && (!d->z || d->zdone)) {
				ftp_data_end(s, 226, "Transfer complete");
				return 1;
			}
			if (ftp_data_refill(s) != 0) {
				ftp_data_finish(s, 451,
				                "Local error while reading the file; transfer "
				                "aborted");
				return 1;
			}
			continue;
		}
		uint64_t want = ftp_data_credit(s, d->out.len - d->outpos);
		if (want == 0)
			return progress;
		ssize_t w = d->conn.ops->write(&d->conn, d->out.data + d->outpos, (size_t)want);
		if (w < 0) {
			if (errno == EAGAIN)
				return progress;
			goto broken;
		}
		d->outpos += (size_t)w;
		ftp_data_spent(s, (uint64_t)w);
		sent += (uint64_t)w;
		progress = 1;
	}
	ftp_ready(s); /* budget spent: let the other sessions run */
	return 0;
broken:
	log_info("ftp: %s: data connection broken after %llu bytes: %s", s->peer_str,
	         (unsigned long long)d->bytes, strerror(errno));
	ftp_data_finish(s, 426, "Data connection closed by the client; transfer aborted");
	return 1;
}

/* A proxied passive data connection: its PROXY header must name the
 * session's client.  SECURITY: the same no-port-theft rule as without a
 * proxy. */
static int ftp_data_proxy(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;
	int progress = 0;

	for (int i = 0; i < PM_FTP_PROXY_PENDING && d->conn.fd < 0; i++) {
		struct sockaddr_storage src, dst;
		const char *why = "";
		if (d->pfd[i] < 0)
			continue;
		enum proxy_step r = proxy_accept_step(d->pfd[i], &src, &dst, &why);
		if (r == PROXY_STEP_WAIT)
			continue;
		progress = 1;
		if (r != PROXY_STEP_REFUSE &&
		    !(r == PROXY_STEP_ADDR && net_same_host(&src, &s->peer))) {
			r = PROXY_STEP_REFUSE;
			why = "its PROXY header names another client";
		}
		if (r == PROXY_STEP_REFUSE) {
			log_warn("ftp: %s: proxied data connection refused: %s", s->peer_str, why);
			close(d->pfd[i]);
			d->pfd[i] = -1;
			continue;
		}
		if (d->lfd >= 0)
			close(d->lfd);
		d->lfd = -1;
		conn_init(&d->conn, d->pfd[i]);
		d->pfd[i] = -1;
		d->events = 0;
		/* the transfer has its connection: other waiters are done */
		for (int j = 0; j < PM_FTP_PROXY_PENDING; j++) {
			if (d->pfd[j] >= 0)
				close(d->pfd[j]);
			d->pfd[j] = -1;
		}
	}
	return progress;
}

int ftp_data_run(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;
	const struct config *c = config_get();
	int progress = 0;

	if (d->conn.fd < 0)
		progress |= ftp_data_proxy(s);
	if (d->lfd >= 0 && d->conn.fd < 0) {
		progress |= ftp_data_accept(s);
		if (s->data == NULL)
			return 1; /* refused for want of descriptors: finished */
	}
	switch (d->xs) {
	case XS_NONE:
		if (d->conn.fd >= 0 && (d->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
			/* an idle data connection that the client closed */
			conn_close(&d->conn);
		}
		return progress;
	case XS_WAIT_CONN:
		if (d->active && d->conn.fd < 0 && !d->connecting) {
			struct sockaddr_storage local = s->local;
			net_set_port(&local, 0);
			int fd = net_connect(&d->target, &local);
			if (fd < 0) {
				ftp_data_finish(s, 425, "Cannot open the data connection");
				return 1;
			}
			conn_init(&d->conn, fd);
			d->connecting = 1;
			d->events = 0;
			if (ftp_ev_add(s->loop, fd, &d->dev,
			               EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
				ftp_data_finish(s, 425, "Cannot open the data connection");
				return 1;
			}
			return 1;
		}
		if (d->connecting) {
			if (!(d->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
				return progress;
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(d->conn.fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err != 0) {
				ftp_data_finish(s, 425,
				                "Cannot open the data connection: connection "
				                "refused");
				return 1;
			}
			d->connecting = 0;
		}
		if (d->conn.fd < 0)
			return progress;
		if (s->prot_p) {
			if (tls_io_start(&d->conn, &s->ctrl) != 0) {
				ftp_data_finish(s, 425, "Cannot start TLS on the data connection");
				return 1;
			}
			d->xs = XS_HANDSHAKE;
		} else {
			d->xs = XS_SEND;
		}
		d->t_progress = clock_now_ns();
		return 1;
	case XS_HANDSHAKE: {
		char why[160] = "";
		int r = tls_io_handshake(&d->conn, why, sizeof(why));
		if (r != 1) {
			if (errno == EAGAIN)
				return progress;
			ftp_stat_add(FTP_STAT_HS_FAIL, 1);
			char esc[200];
			log_info("ftp: %s: data TLS handshake failed: %s", s->peer_str,
			         log_esc(esc, sizeof(esc), why, strlen(why)));
			ftp_data_finish(s, 425, "TLS handshake on the data connection failed");
			return 1;
		}
		ftp_stat_add(FTP_STAT_HS, 1);
		enum config_tls_reuse pol = c ? c->ftp_tls_reuse : CONFIG_REUSE_PREFERRED;
		if (pol != CONFIG_REUSE_OFF && !tls_io_reused(&d->conn, &s->ctrl)) {
			if (pol == CONFIG_REUSE_REQUIRED) {
				ftp_stat_add(FTP_STAT_REUSE_REFUSED, 1);
				log_info("ftp: %s: data connection refused: it did not resume the "
				         "control connection's TLS session",
				         s->peer_str);
				ftp_data_end(s, 522,
				             "Data connection refused: it must resume the TLS "
				             "session of the control connection "
				             "(ftp_tls_reuse=required), and your client did "
				             "not resume it");
				return 1;
			}
			log_debug("ftp: %s: data connection without TLS session reuse",
			          s->peer_str);
		}
		d->xs = XS_SEND;
		return 1;
	}
	case XS_SEND:
		return ftp_data_pump(s) | progress;
	case XS_SHUT: {
		int r = d->conn.ops->shutdown(&d->conn);
		if (r < 0 && errno == EAGAIN)
			return progress;
		d->xs = XS_DRAIN;
		d->t_wait = clock_now_ns();
		return 1;
	}
	case XS_DRAIN: {
		/* wait for the client's close (or close_notify) so that the
		 * last bytes are never cut by a reset */
		char sink[4096];
		for (int i = 0; i < 16; i++) {
			ssize_t r = d->conn.ops->read(&d->conn, sink, sizeof(sink));
			if (r > 0)
				continue;
			if (r < 0 && errno == EAGAIN)
				return progress;
			break;
		}
		char text[sizeof(d->final_text)];
		memcpy(text, d->final_text, sizeof(text));
		ftp_data_finish(s, d->final_code, text);
		return 1;
	}
	}
	return progress;
}

void ftp_data_abort(struct ftp_sess *s)
{
	struct ftp_data *d = s->data;

	if (d == NULL || d->xs == XS_NONE) {
		if (d)
			ftp_data_free(s);
		ftp_reply(s, 225, "No transfer to abort");
		return;
	}
	ftp_data_xferlog(s, 0);
	ftp_reply(s, 426, "Transfer aborted");
	ftp_data_free(s);
	ftp_reply(s, 226, "ABOR successful");
}

void ftp_data_timeouts(struct ftp_sess *s, uint64_t now)
{
	struct ftp_data *d = s->data;

	for (int i = 0; i < PM_FTP_PROXY_PENDING; i++) {
		if (d->pfd[i] >= 0 && ftp_elapsed(now, d->pfd_since[i]) > 10 * FTP_SEC) {
			log_info("ftp: %s: proxied data connection sent no PROXY header",
			         s->peer_str);
			close(d->pfd[i]);
			d->pfd[i] = -1;
		}
	}
	switch (d->xs) {
	case XS_NONE:
		return;
	case XS_WAIT_CONN:
	case XS_HANDSHAKE:
		if (ftp_elapsed(now, d->t_wait) > (uint64_t)PM_FTP_DATA_CONNECT_TIMEOUT * FTP_SEC) {
			ftp_data_finish(s, 425,
			                "Data connection not established within 30 "
			                "seconds");
			ftp_ready(s);
		}
		return;
	case XS_SEND:
		if (ftp_elapsed(now, d->t_progress) > (uint64_t)PM_FTP_STALL_TIMEOUT * FTP_SEC) {
			ftp_data_finish(s, 426, "Transfer stalled for 120 seconds; aborted");
			ftp_ready(s);
		}
		return;
	case XS_SHUT:
	case XS_DRAIN:
		if (ftp_elapsed(now, d->t_wait) > (uint64_t)FTP_DATA_DRAIN_SECS * FTP_SEC) {
			char text[sizeof(d->final_text)];
			memcpy(text, d->final_text, sizeof(text));
			ftp_data_finish(s, d->final_code, text);
			ftp_ready(s);
		}
		return;
	}
}

void ftp_data_status(struct ftp_sess *s, struct buf *b)
{
	struct ftp_data *d = s->data;

	if (d == NULL || d->xs == XS_NONE) {
		buf_puts(b, " No data transfer in progress\r\n");
		return;
	}
	buf_printf(b, " Transfer in progress: %llu bytes sent\r\n", (unsigned long long)d->bytes);
}
