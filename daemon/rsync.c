/* rsync.c - rsync daemon protocol 30, sender side only; see rsync.h.
 *
 * A connection: greeting and MOTD, module list or "@RSYNCD: OK", the
 * client's server arguments (refused unless it asks us to send), the
 * compatibility flags and checksum negotiation, then multiplexed output:
 * the file list, one delta per requested file (block matches against the
 * client's checksums plus literal data), statistics, goodbye.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "compress.h"
#include "config.h"
#include "file.h"
#include "digest.h"
#include "index.h"
#include "limiter.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "path.h"
#include "rsync.h"
#include "rsync_proto.h"
#include "clock.h"
#include "view.h"

/* Output is gathered into one MSG_DATA frame of up to this many bytes and
 * sent with one send(): few syscalls and few limiter calls per file. */
#define RS_OUT_MAX (256 * 1024)
/* File data is read in pieces of this size (one token per PM_RSYNC_CHUNK). */
#define RS_READ_MAX (256 * 1024)
#define RS_MAX_LISTEN 8

struct rs_file {
	char *name; /* as sent: relative to the transfer root ("." for it) */
	char *src;  /* canonical root-relative path, for file_open */
	uint64_t size;
	int64_t mtime;
	uint8_t dir, content, top;
};

struct rs_conn {
	int fd;
	struct sockaddr_storage peer;
	const struct config *cfg;
	struct index *ix;
	struct limiter *lim;
	/* output */
	uint8_t out[4 + RS_OUT_MAX]; /* [0..4) the frame header, then outlen bytes */
	size_t outlen;
	int mplex_out;
	int32_t ndx_pos, ndx_neg;
	/* input */
	uint8_t inbuf[16384];
	size_t inpos, inlen;
	struct rsp_in in;
	uint64_t bytes_in, bytes_out;
	uint64_t deadline_ns; /* 0: none (after the handshake) */
	/* session */
	struct rsp_args a;
	char *argstore;
	int xfer_varint, seed_fix, id0_names, numeric_ids;
	int32_t seed;
	struct rs_file *files;
	size_t nfiles, cap;
	uint64_t total_size;
	enum digest_algo sum_algo; /* negotiated: SHA-1 when offered, else MD5 */
	int sum_len;               /* its length: RSP_SUM_SHA1 or RSP_SUM_MD5 */
	struct digest_ctx *sum;    /* block sums and --checksum file sums */
	uint8_t *fbuf;             /* file data for the delta search */
	size_t fbufcap;
	char path[PM_PATH_MAX]; /* what the client asked for, for the logs */
	uint64_t literal, sent_files;
	const char *refuse; /* limiter refusal: say it after the greeting */
	/* -z: zlibx tokens */
	struct compress_stream *z;
	struct buf zout;
	int32_t last_run_end;
	int z_owed; /* the last sync marker was trimmed and more data follows */
	const char *fail;
};

static int rs_listen[RS_MAX_LISTEN], rs_nlisten;
static char *rs_motd;
static size_t rs_motdlen;
static pthread_t rs_accept_thread;
static int rs_stop_pipe[2] = {-1, -1};
static atomic_int rs_active;
static atomic_int rs_stopping;

/* ---- raw socket I/O, bounded in time ---- */

static int rs_wait(struct rs_conn *c, short ev)
{
	int ms = PM_RSYNC_TIMEOUT * 1000;
	if (c->deadline_ns) {
		uint64_t now = clock_now_ns();
		if (now >= c->deadline_ns)
			return -1;
		uint64_t left = (c->deadline_ns - now) / 1000000 + 1;
		if (left < (uint64_t)ms)
			ms = (int)left;
	}
	struct pollfd p = {.fd = c->fd, .events = ev};
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static int rs_raw_write(struct rs_conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		uint64_t wait = 0;
		uint64_t may = limiter_take(c->lim, &c->peer, n, clock_now_ns(), &wait);
		if (may == 0) {
			struct timespec ts = {(time_t)(wait / 1000000000u),
			                      (long)(wait % 1000000000u)};
			if (wait == 0)
				ts.tv_nsec = 1000000;
			nanosleep(&ts, NULL);
			continue;
		}
		ssize_t w = send(c->fd, p, (size_t)may, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			if (rs_wait(c, POLLOUT) != 0) {
				c->fail = "client stopped reading (timeout)";
				return -1;
			}
			continue;
		}
		if (w <= 0) {
			c->fail = "connection lost while sending";
			return -1;
		}
		p += w;
		n -= (size_t)w;
		c->bytes_out += (uint64_t)w;
	}
	return 0;
}

static int rs_flush(struct rs_conn *c);

static int rs_src_read(void *ctx, void *buf, size_t n)
{
	struct rs_conn *c = ctx;
	uint8_t *d = buf;
	while (n > 0) {
		if (c->inpos < c->inlen) {
			size_t k = c->inlen - c->inpos < n ? c->inlen - c->inpos : n;
			memcpy(d, c->inbuf + c->inpos, k);
			c->inpos += k;
			d += k;
			n -= k;
			continue;
		}
		ssize_t r = recv(c->fd, c->inbuf, sizeof(c->inbuf), 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			/* what we owe the peer goes out before we wait on it */
			if (c->outlen > 0 && rs_flush(c) != 0)
				return -1;
			if (rs_wait(c, POLLIN) != 0) {
				c->fail = "client sent nothing (timeout)";
				return -1;
			}
			continue;
		}
		if (r <= 0)
			return -1;
		c->inpos = 0;
		c->inlen = (size_t)r;
		c->bytes_in += (uint64_t)r;
	}
	return 0;
}

/* One text line of the handshake, without '\n'; -1 when too long or lost. */
static int rs_read_line(struct rs_conn *c, char *line, size_t max)
{
	size_t n = 0;
	for (;;) {
		char ch;
		if (rs_src_read(c, &ch, 1) != 0)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 >= max) {
			c->fail = "handshake line too long";
			return -1;
		}
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* ---- buffered (and, after the handshake, multiplexed) output ---- */

static int rs_flush(struct rs_conn *c)
{
	if (c->outlen == 0)
		return 0;
	int r;
	if (c->mplex_out) {
		rsp_put_mplex(c->out, RSP_MSG_DATA, (uint32_t)c->outlen);
		r = rs_raw_write(c, c->out, 4 + c->outlen);
	} else {
		r = rs_raw_write(c, c->out + 4, c->outlen);
	}
	c->outlen = 0;
	return r;
}

static int rs_put(struct rs_conn *c, const void *p, size_t n)
{
	const uint8_t *s = p;
	while (n > 0) {
		size_t room = RS_OUT_MAX - c->outlen;
		if (room == 0) {
			if (rs_flush(c) != 0)
				return -1;
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(c->out + 4 + c->outlen, s, k);
		c->outlen += k;
		s += k;
		n -= k;
	}
	return 0;
}

static int rs_puts(struct rs_conn *c, const char *s)
{
	return rs_put(c, s, strlen(s));
}

static int rs_put_int(struct rs_conn *c, int32_t v)
{
	uint8_t b[4];
	return rs_put(c, b, rsp_put_int(b, v));
}

static int rs_put_varint(struct rs_conn *c, int32_t v)
{
	uint8_t b[9];
	return rs_put(c, b, rsp_put_varint(b, v));
}

static int rs_put_varlong(struct rs_conn *c, int64_t v, unsigned min)
{
	uint8_t b[9];
	return rs_put(c, b, rsp_put_varlong(b, v, min));
}

static int rs_put_ndx(struct rs_conn *c, int32_t ndx)
{
	uint8_t b[6];
	return rs_put(c, b, rsp_put_ndx(b, ndx, &c->ndx_pos, &c->ndx_neg));
}

static int rs_put_byte(struct rs_conn *c, unsigned v)
{
	uint8_t b = (uint8_t)v;
	return rs_put(c, &b, 1);
}

static int rs_put_short(struct rs_conn *c, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return rs_put(c, b, 2);
}

static int rs_put_vstring(struct rs_conn *c, const char *s)
{
	size_t n = strlen(s);
	uint8_t b[2];
	if (n > 0x7F) {
		b[0] = (uint8_t)(n / 0x100 + 0x80);
		b[1] = (uint8_t)n;
		if (rs_put(c, b, 2) != 0)
			return -1;
	} else {
		b[0] = (uint8_t)n;
		if (rs_put(c, b, 1) != 0)
			return -1;
	}
	return rs_put(c, s, n);
}

/* A message other than data (an error for the client's screen). */
static int rs_msg_bytes(struct rs_conn *c, unsigned code, const void *p, size_t n)
{
	uint8_t h[4];
	if (rs_flush(c) != 0)
		return -1;
	rsp_put_mplex(h, code, (uint32_t)n);
	if (rs_raw_write(c, h, 4) != 0)
		return -1;
	return rs_raw_write(c, p, n);
}

static int rs_msg(struct rs_conn *c, unsigned code, const char *text)
{
	return rs_msg_bytes(c, code, text, strlen(text));
}

/* ---- handshake ---- */

static int rs_send_motd(struct rs_conn *c)
{
	if (rs_motd == NULL || rs_motdlen == 0)
		return 0;
	return rs_put(c, rs_motd, rs_motdlen) == 0 && rs_puts(c, "\n") == 0 ? 0 : -1;
}

/* Read the NUL-separated server arguments (ended by an empty one). */
static int rs_read_args(struct rs_conn *c, char **argv, int *argc)
{
	size_t used = 0;
	int n = 0;

	c->argstore = malloc(PM_RSYNC_ARGS_BYTES);
	if (c->argstore == NULL)
		return -1;
	for (;;) {
		char *start = c->argstore + used;
		size_t len = 0;
		for (;;) {
			char ch;
			if (rs_src_read(c, &ch, 1) != 0)
				return -1;
			if (used + len + 1 >= PM_RSYNC_ARGS_BYTES) {
				c->fail = "server arguments too long";
				return -1;
			}
			if (ch == '\0' || ch == '\n')
				break;
			start[len++] = ch;
		}
		start[len] = '\0';
		used += len + 1;
		if (len == 0)
			break;
		if (n >= PM_RSYNC_ARGS_MAX) {
			c->fail = "too many server arguments";
			return -1;
		}
		argv[n++] = start;
	}
	*argc = n;
	return 0;
}

/* 1 when name appears as a word of the space-separated list. */
static int rs_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t w = strcspn(p, " ");
		if (w == n && strncmp(p, name, n) == 0)
			return 1;
		p += w;
		p += strspn(p, " ");
	}
	return 0;
}

/* Compatibility flags, checksum (and compression) negotiation, seed.
 *
 * Each side sends its list and picks, from the other's list, the name it
 * prefers itself; a client sends its lists without waiting for ours.  So
 * the server reads the client's lists first and answers with exactly one
 * name, which both sides must then choose: SHA-1 when the client offers
 * it (OpenSSL's SHA-1 runs at about 2.4 times MD5's speed on CPUs with
 * SHA extensions, and is the stronger digest), MD5 otherwise.  Without
 * negotiation (no 'v' in the client's capabilities) protocol 30 means MD5. */
static int rs_setup_protocol(struct rs_conn *c)
{
	const char *ci = c->a.client_info;
	int32_t cf = 0;
	int negotiate = strchr(ci, 'v') != NULL;

	if (strchr(ci, 'f'))
		cf |= RSP_CF_SAFE_FLIST;
	if (strchr(ci, 'x'))
		cf |= RSP_CF_AVOID_XATTR_OPTIM;
	if (strchr(ci, 'C')) {
		cf |= RSP_CF_CHKSUM_SEED_FIX;
		c->seed_fix = 1;
	}
	if (strchr(ci, 'I'))
		cf |= RSP_CF_INPLACE_PARTIAL_DIR;
	if (strchr(ci, 'u')) {
		cf |= RSP_CF_ID0_NAMES;
		c->id0_names = 1;
	}
	if (negotiate) {
		cf |= RSP_CF_VARINT_FLIST_FLAGS;
		c->xfer_varint = 1;
	}
	if (rs_put_varint(c, cf) != 0)
		return -1;
	c->sum_algo = DIGEST_MD5;
	c->sum_len = RSP_SUM_MD5;
	if (negotiate) {
		char list[256];
		if (rs_flush(c) != 0 || rsp_read_vstring(&c->in, list, sizeof(list)) < 0)
			return -1;
		int sha1 = rs_in_list(list, "sha1"), md5 = rs_in_list(list, "md5"), zlibx = 1;
		if (sha1) {
			c->sum_algo = DIGEST_SHA1;
			c->sum_len = RSP_SUM_SHA1;
			c->seed_fix = 1; /* OpenSSL digests take the seed first */
		}
		if (c->a.compress) {
			if (rsp_read_vstring(&c->in, list, sizeof(list)) < 0)
				return -1;
			zlibx = rs_in_list(list, "zlibx");
		}
		/* On a mismatch the client reads our list and says so on its screen. */
		if (rs_put_vstring(c, sha1 ? "sha1" : "md5") != 0)
			return -1;
		if (c->a.compress && rs_put_vstring(c, "zlibx") != 0)
			return -1;
		if (!sha1 && !md5) {
			c->fail = "client offers neither sha1 nor md5 checksums";
			rs_flush(c);
			return -1;
		}
		if (!zlibx) {
			c->fail = "client offers no zlibx compression";
			rs_flush(c);
			return -1;
		}
	}
	c->in.s2max = c->sum_len;
	uint32_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint32_t)clock_now_ns();
	c->seed = (int32_t)seed;
	return rs_put_int(c, c->seed);
}

/* ---- the file list ---- */

static int rs_add(struct rs_conn *c, const char *name, const char *src, uint64_t size,
                  int64_t mtime, int dir, int content, int top)
{
	if (c->nfiles >= PM_RSYNC_FLIST_MAX) {
		c->fail = "file list too long";
		return -1;
	}
	if (c->nfiles == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct rs_file *nf = realloc(c->files, ncap * sizeof(*nf));
		if (nf == NULL)
			return -1;
		c->files = nf;
		c->cap = ncap;
	}
	struct rs_file *f = &c->files[c->nfiles];
	f->name = strdup(name);
	f->src = strdup(src);
	if (f->name == NULL || f->src == NULL) {
		free(f->name);
		free(f->src);
		return -1;
	}
	f->size = size;
	f->mtime = mtime;
	f->dir = (uint8_t)dir;
	f->content = (uint8_t)content;
	f->top = (uint8_t)top;
	c->nfiles++;
	if (!dir)
		c->total_size += size;
	return 0;
}

struct rs_child {
	const struct index_entry *e;
};

static int rs_child_cmp(const void *x, const void *y)
{
	const struct index_entry *a = ((const struct rs_child *)x)->e;
	const struct index_entry *b = ((const struct rs_child *)y)->e;
	return rsp_name_cmp(a->name, a->type == INDEX_DIR, b->name, b->type == INDEX_DIR);
}

static void rs_join(char *out, size_t outsz, const char *dir, const char *name)
{
	if (dir[0] == '\0' || strcmp(dir, ".") == 0)
		snprintf(out, outsz, "%s", name);
	else
		snprintf(out, outsz, "%s/%s", dir, name);
}

/* SECURITY: what an anonymous rsync client may see is the view's answer
 * (view.h), as for FTP and HTTP: every path listed or sent was resolved by
 * view_resolve for the anonymous principal, and is sent from the path it
 * resolved to. */

/* Add the visible children of directory dir (sent as name) in rsync's
 * order: files, then each directory followed by its own subtree (recurse). */
static int rs_walk(struct rs_conn *c, const struct view_obj *dir, const char *name, int recurse,
                   int depth)
{
	const struct index_dir *d = dir->d;
	if (d == NULL || depth > PM_PATH_DEPTH_MAX)
		return 0;
	struct rs_child *kids = malloc((d->count ? d->count : 1) * sizeof(*kids));
	struct view_obj *o = malloc(sizeof(*o));
	if (kids == NULL || o == NULL) {
		free(kids);
		free(o);
		return -1;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < d->count; i++) {
		const struct index_entry *e = &c->ix->entries[d->first + i];
		if (view_child_visible(dir, e))
			kids[n++].e = e;
	}
	qsort(kids, n, sizeof(*kids), rs_child_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct index_entry *e = kids[i].e;
		char arel[PM_PATH_MAX], nrel[PM_PATH_MAX];
		rs_join(arel, sizeof(arel), dir->asked, e->name);
		rs_join(nrel, sizeof(nrel), name, e->name);
		if (strlen(arel) + 1 >= sizeof(arel) - 1 || strlen(nrel) + 1 >= sizeof(nrel) - 1)
			continue;
		if (view_resolve(c->ix, c->cfg, NULL, arel, o) != VIEW_OK || o->virt)
			continue;
		int isdir = o->kind == VIEW_DIR;
		/* A directory symlink to one of its own ancestors would loop:
		 * leave it out. */
		if (isdir && recurse && strcmp(o->real, arel) != 0 &&
		    path_has_prefix(dir->real, o->real))
			continue;
		uint64_t size = !isdir && o->e ? o->e->size : e->size;
		rc = rs_add(c, nrel, o->real, size, e->mtime, isdir, isdir && recurse, 0);
		if (rc == 0 && isdir && recurse)
			rc = rs_walk(c, o, nrel, recurse, depth + 1);
	}
	free(o);
	free(kids);
	return rc;
}

/* Build the list for one path argument "module[/sub[/]]". */
static int rs_build(struct rs_conn *c, const char *arg, char *why, size_t whysz)
{
	const char *mod = c->cfg->rsync_module;
	size_t ml = strlen(mod);
	const char *rest;
	char rel[PM_PATH_MAX];
	const char *pwhy = "invalid path";

	if (strncmp(arg, mod, ml) != 0 || (arg[ml] != '\0' && arg[ml] != '/')) {
		snprintf(why, whysz, "ERROR: path must start with the module name %s", mod);
		return -1;
	}
	rest = arg + ml;
	while (*rest == '/')
		rest++;
	size_t rl = strlen(rest);
	int slash = rl == 0 || rest[rl - 1] == '/' ||
	            (rl >= 2 && strcmp(rest + rl - 2, "/.") == 0) || strcmp(rest, ".") == 0;
	if (path_resolve("", rest, rl, rel, sizeof(rel), &pwhy) != 0) {
		snprintf(why, whysz, "ERROR: path refused: %s", pwhy);
		return -1;
	}
	if (snprintf(c->path, sizeof(c->path), "/%s", rel) >= (int)sizeof(c->path))
		c->path[0] = '\0';
	int recurse = c->a.recurse;
	struct view_obj *o = malloc(sizeof(*o));
	if (o == NULL) {
		snprintf(why, whysz, "ERROR: out of memory");
		return -1;
	}
	if (view_resolve(c->ix, c->cfg, NULL, rel, o) != VIEW_OK || o->virt) {
		char shown[256];
		log_esc(shown, sizeof(shown), rel, strlen(rel));
		snprintf(why, whysz, "ERROR: \"%s\" (in %s): no such file or directory", shown,
		         mod);
		free(o);
		return -1;
	}
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	int rc;
	if (o->kind == VIEW_FILE) {
		rc = rs_add(c, base, o->real, o->e->size, o->e->mtime, 0, 0, 0);
	} else {
		int64_t mt = o->e ? o->e->mtime : o->d->mtime;
		if (slash)
			rc = rs_add(c, ".", o->real, 0, mt, 1, 1, 1) != 0
			         ? -1
			         : rs_walk(c, o, ".", recurse, 0);
		else if (rs_add(c, base, o->real, 0, mt, 1, recurse, recurse) != 0)
			rc = -1;
		else
			rc = recurse ? rs_walk(c, o, base, 1, 0) : 0;
	}
	free(o);
	return rc;
}

/* The negotiated digest of a whole file, for --checksum. */
static int rs_file_sum(struct rs_conn *c, const struct rs_file *f, uint8_t *sum)
{
	struct stat st;
	int fd = file_open(c->ix->rootfd, f->src, FILE_REG_NOLINK, &st);
	static __thread uint8_t buf[256 * 1024];
	memset(sum, 0, (size_t)c->sum_len);
	if (fd < 0)
		return 0; /* vanished: a sum that will not match */
	digest_ctx_reset(c->sum);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		digest_ctx_update(c->sum, buf, (size_t)r);
	}
	close(fd);
	uint8_t out[DIGEST_MAX];
	if (digest_ctx_final(c->sum, out) == c->sum_len)
		memcpy(sum, out, (size_t)c->sum_len);
	return 0;
}

static int rs_send_flist(struct rs_conn *c)
{
	char last[PM_PATH_MAX] = "";
	uint32_t mode = 0;
	int64_t mtime = 0;
	int first = 1;

	for (size_t i = 0; i < c->nfiles; i++) {
		const struct rs_file *f = &c->files[i];
		uint32_t fmode = f->dir ? (040000u | 0755u) : (0100000u | 0644u);
		int32_t x = 0;
		if (f->dir)
			x = f->content ? (f->top ? RSP_XMIT_TOP_DIR : 0) : RSP_XMIT_NO_CONTENT_DIR;
		if (!first && fmode == mode)
			x |= RSP_XMIT_SAME_MODE;
		mode = fmode;
		if (!c->a.owner || !first)
			x |= RSP_XMIT_SAME_UID;
		if (!c->a.group || !first)
			x |= RSP_XMIT_SAME_GID;
		if (f->mtime == mtime)
			x |= RSP_XMIT_SAME_TIME;
		mtime = f->mtime;
		size_t l1 = 0;
		while (last[l1] && f->name[l1] == last[l1] && l1 < 255)
			l1++;
		size_t l2 = strlen(f->name + l1);
		if (l1 > 0)
			x |= RSP_XMIT_SAME_NAME;
		if (l2 > 255)
			x |= RSP_XMIT_LONG_NAME;
		if (c->xfer_varint) {
			if (rs_put_varint(c, x ? x : RSP_XMIT_EXTENDED_FLAGS) != 0)
				return -1;
		} else {
			if (x == 0 && !f->dir)
				x |= RSP_XMIT_TOP_DIR;
			if ((x & 0xFF00) || x == 0) {
				x |= RSP_XMIT_EXTENDED_FLAGS;
				if (rs_put_short(c, (unsigned)x) != 0)
					return -1;
			} else if (rs_put_byte(c, (unsigned)x) != 0) {
				return -1;
			}
		}
		if ((x & RSP_XMIT_SAME_NAME) && rs_put_byte(c, (unsigned)l1) != 0)
			return -1;
		if (x & RSP_XMIT_LONG_NAME) {
			if (rs_put_varint(c, (int32_t)l2) != 0)
				return -1;
		} else if (rs_put_byte(c, (unsigned)l2) != 0) {
			return -1;
		}
		if (rs_put(c, f->name + l1, l2) != 0 || rs_put_varlong(c, (int64_t)f->size, 3) != 0)
			return -1;
		if (!(x & RSP_XMIT_SAME_TIME) && rs_put_varlong(c, f->mtime, 4) != 0)
			return -1;
		if (!(x & RSP_XMIT_SAME_MODE) && rs_put_int(c, (int32_t)fmode) != 0)
			return -1;
		if (c->a.owner && !(x & RSP_XMIT_SAME_UID) && rs_put_varint(c, 0) != 0)
			return -1;
		if (c->a.group && !(x & RSP_XMIT_SAME_GID) && rs_put_varint(c, 0) != 0)
			return -1;
		if (c->a.checksum && !f->dir) {
			uint8_t sum[DIGEST_MAX];
			rs_file_sum(c, f, sum);
			if (rs_put(c, sum, (size_t)c->sum_len) != 0)
				return -1;
		}
		snprintf(last, sizeof(last), "%s", f->name);
		first = 0;
	}
	if (c->xfer_varint) {
		if (rs_put_varint(c, 0) != 0 || rs_put_varint(c, 0) != 0)
			return -1;
	} else {
		uint8_t z = 0;
		if (rs_put(c, &z, 1) != 0)
			return -1;
	}
	/* uid and gid lists: everything is owned by id 0 ("root"). */
	if (!c->numeric_ids) {
		for (int k = 0; k < 2; k++) {
			int want = k == 0 ? c->a.owner : c->a.group;
			if (!want)
				continue;
			if (rs_put_varint(c, 0) != 0)
				return -1;
			if (c->id0_names) {
				uint8_t len = 4;
				if (rs_put(c, &len, 1) != 0 || rs_puts(c, "root") != 0)
					return -1;
			}
		}
	}
	return rs_flush(c);
}

/* ---- delta: block matching and tokens ---- */

#define RS_SAMPLE 4096 /* bytes of one compressibility sample */
#define RS_SAMPLES 16  /* samples spread over a file */

/* Whether RS_SAMPLE bytes look incompressible: a chi-square test of the
 * byte counts against a uniform spread (random or already compressed data
 * scores about 255, text and code thousands or more). */
static int rs_looks_random(const uint8_t *p, size_t n)
{
	uint32_t cnt[256] = {0};
	for (size_t i = 0; i < n; i++)
		cnt[p[i]]++;
	/* chi2 = sum (c - n/256)^2 / (n/256); compared as integers: */
	uint64_t d = 0;
	for (int i = 0; i < 256; i++) {
		int64_t e = (int64_t)cnt[i] * 256 - (int64_t)n;
		d += (uint64_t)(e * e);
	}
	return d < (uint64_t)n * 256 * 512; /* chi2 < 512 */
}

/* Whether a whole file (size bytes, sent without a basis) looks
 * incompressible: every one of up to RS_SAMPLES samples spread over it
 * does.  Files under RS_SAMPLE bytes are not sampled.  A wrong guess only
 * costs ratio; deflating random data costs about 25 ms per MiB for nothing. */
static int rs_file_random(int fd, uint64_t size)
{
	uint8_t b[RS_SAMPLE];
	uint64_t n = size / RS_SAMPLE < RS_SAMPLES ? size / RS_SAMPLE : RS_SAMPLES;
	if (n == 0)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = (size - RS_SAMPLE) / n * i;
		if (pread(fd, b, RS_SAMPLE, (off_t)off) != RS_SAMPLE ||
		    !rs_looks_random(b, RS_SAMPLE))
			return 0;
	}
	return 1;
}

/* -z level for a file: stored (0) for data that is already compressed,
 * as rsync's skip-compress list does; deflate's default otherwise. */
static int rs_zlevel(const char *name)
{
	static const char *const skip[] = {
	    "gz",   "tgz", "bz2", "tbz",  "xz",  "txz", "zst", "lz4", "lzma", "lzo",      "zip",
	    "7z",   "rar", "deb", "udeb", "rpm", "apk", "jar", "whl", "iso",  "squashfs", "jpg",
	    "jpeg", "png", "gif", "webp", "mp3", "mp4", "mkv", "ogg", "flac", NULL,
	};
	const char *dot = strrchr(name, '.');
	if (dot == NULL || strchr(dot, '/') != NULL)
		return 6;
	for (const char *const *k = skip; *k; k++)
		if (strcasecmp(dot + 1, *k) == 0)
			return 0;
	return 6;
}

struct rs_sums {
	struct rsp_sum_head h;
	uint32_t *sum1;
	uint8_t *sum2; /* count * s2length */
	int32_t *next; /* hash chains */
	int32_t *head;
	uint32_t mask;
};

static void rs_sums_free(struct rs_sums *s)
{
	free(s->sum1);
	free(s->sum2);
	free(s->next);
	free(s->head);
	memset(s, 0, sizeof(*s));
}

static int rs_recv_sums(struct rs_conn *c, struct rs_sums *s)
{
	memset(s, 0, sizeof(*s));
	if (rsp_read_sum_head(&c->in, &s->h) != 0)
		return -1;
	int32_t n = s->h.count;
	if (n == 0)
		return 0;
	uint32_t tsize = 1;
	while (tsize < (uint32_t)n * 2)
		tsize <<= 1;
	s->sum1 = malloc((size_t)n * sizeof(*s->sum1));
	s->sum2 = malloc((size_t)n * (size_t)(s->h.s2length ? s->h.s2length : 1));
	s->next = malloc((size_t)n * sizeof(*s->next));
	s->head = malloc((size_t)tsize * sizeof(*s->head));
	if (!s->sum1 || !s->sum2 || !s->next || !s->head) {
		rs_sums_free(s);
		return -1;
	}
	s->mask = tsize - 1;
	for (uint32_t i = 0; i < tsize; i++)
		s->head[i] = -1;
	for (int32_t i = 0; i < n; i++) {
		int32_t v;
		if (rsp_read_int(&c->in, &v) != 0 ||
		    rsp_read(&c->in, s->sum2 + (size_t)i * (size_t)s->h.s2length,
		             (size_t)s->h.s2length) != 0) {
			rs_sums_free(s);
			return -1;
		}
		s->sum1[i] = (uint32_t)v;
	}
	/* Chains in reverse so that the lowest block index is found first. */
	for (int32_t i = n - 1; i >= 0; i--) {
		uint32_t b = (s->sum1[i] ^ (s->sum1[i] >> 16)) & s->mask;
		s->next[i] = s->head[b];
		s->head[b] = i;
	}
	return 0;
}

#define RS_DEFLATED_DATA 0x40
#define RS_TOKEN_LONG 0x20
#define RS_TOKEN_REL 0x80
#define RS_DEFLATED_MAX 16383 /* 14-bit length of one deflated-data record */

/* Literal bytes as tokens: plain (length, bytes) or, with -z, the deflated
 * bytes up to a sync flush whose 4-byte marker the receiver adds back. */
static int rs_literal(struct rs_conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k = n < PM_RSYNC_CHUNK ? n : PM_RSYNC_CHUNK;
		if (c->z == NULL) {
			if (rs_put_int(c, (int32_t)k) != 0 || rs_put(c, p, k) != 0)
				return -1;
		} else {
			buf_reset(&c->zout);
			if (compress_raw_sync(c->z, p, k, &c->zout) != 0 || c->zout.len < 4 ||
			    memcmp(c->zout.data + c->zout.len - 4, "\0\0\xff\xff", 4) != 0)
				return -1;
			size_t zl = c->zout.len - 4;
			/* The receiver adds the trimmed marker only before a
			 * token; between two data runs it is sent as data. */
			if (c->z_owed) {
				static const uint8_t mark[6] = {
				    RS_DEFLATED_DATA, 4, 0, 0, 0xff, 0xff};
				if (rs_put(c, mark, sizeof(mark)) != 0)
					return -1;
			}
			c->z_owed = 1;
			for (size_t off = 0; off < zl;) {
				size_t m = zl - off < RS_DEFLATED_MAX ? zl - off : RS_DEFLATED_MAX;
				uint8_t h[2] = {(uint8_t)(RS_DEFLATED_DATA + (m >> 8)), (uint8_t)m};
				if (rs_put(c, h, 2) != 0 || rs_put(c, c->zout.data + off, m) != 0)
					return -1;
				off += m;
			}
		}
		p += k;
		n -= k;
	}
	return 0;
}

/* A matched block of the client's file. */
static int rs_match_token(struct rs_conn *c, int32_t i)
{
	if (c->z == NULL)
		return rs_put_int(c, -(i + 1));
	c->z_owed = 0;
	int32_t r = i - c->last_run_end;
	c->last_run_end = i;
	if (r >= 0 && r <= 63)
		return rs_put_byte(c, (unsigned)(RS_TOKEN_REL + r));
	return rs_put_byte(c, RS_TOKEN_LONG) == 0 && rs_put_int(c, i) == 0 ? 0 : -1;
}

/* End of one file's tokens. */
static int rs_end_tokens(struct rs_conn *c)
{
	if (c->z == NULL)
		return rs_put_int(c, 0);
	c->z_owed = 0;
	return rs_put_byte(c, 0);
}

static int rs_strong(struct rs_conn *c, const uint8_t *p, size_t n, uint8_t *out)
{
	uint8_t seed[4];
	rsp_put_int(seed, c->seed);
	if (digest_ctx_reset(c->sum) != 0)
		return -1;
	if (c->seed_fix && c->seed)
		digest_ctx_update(c->sum, seed, 4);
	digest_ctx_update(c->sum, p, n);
	if (!c->seed_fix && c->seed)
		digest_ctx_update(c->sum, seed, 4);
	return digest_ctx_final(c->sum, out) == c->sum_len ? 0 : -1;
}

/* Which block (or -1) matches the window p[0..len) with weak sum w. */
static int32_t rs_find(struct rs_conn *c, const struct rs_sums *s, uint32_t w, const uint8_t *p,
                       size_t len)
{
	uint8_t strong[DIGEST_MAX];
	int have = 0;
	for (int32_t i = s->head[(w ^ (w >> 16)) & s->mask]; i >= 0; i = s->next[i]) {
		if (s->sum1[i] != w)
			continue;
		size_t blen = (i == s->h.count - 1 && s->h.remainder) ? (size_t)s->h.remainder
		                                                      : (size_t)s->h.blength;
		if (blen != len)
			continue;
		if (!have) {
			if (rs_strong(c, p, len, strong) != 0)
				return -1;
			have = 1;
		}
		if (memcmp(strong, s->sum2 + (size_t)i * (size_t)s->h.s2length,
		           (size_t)s->h.s2length) == 0)
			return i;
	}
	return -1;
}

/* A file the client has no basis for, without -z: read straight into the
 * output frame behind each literal token's length (no copy, no search). */
static int rs_send_whole(struct rs_conn *c, int fd, struct digest_ctx *fsum, uint64_t *literal)
{
	_Static_assert(RS_OUT_MAX >= 4 + PM_RSYNC_CHUNK, "a whole token fits in the frame");
	for (;;) {
		if (RS_OUT_MAX - c->outlen < 4 + PM_RSYNC_CHUNK && rs_flush(c) != 0)
			return -1;
		size_t room = RS_OUT_MAX - c->outlen - 4; /* >= PM_RSYNC_CHUNK after the flush */
		uint8_t *d = c->out + 4 + c->outlen;
		ssize_t r = read(fd, d + 4, room < PM_RSYNC_CHUNK ? room : PM_RSYNC_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) /* an unreadable file ends short: its sum fails, the client says so */
			break;
		digest_ctx_update(fsum, d + 4, (size_t)r);
		rsp_put_int(d, (int32_t)r);
		c->outlen += 4 + (size_t)r;
		*literal += (uint64_t)r;
	}
	return rs_end_tokens(c);
}

/* Send file fd as tokens against the client's block sums; the file's sum into fsum. */
static int rs_send_delta(struct rs_conn *c, int fd, const char *name, uint64_t size,
                         const struct rs_sums *s, struct digest_ctx *fsum, uint64_t *literal)
{
	size_t bl = (size_t)s->h.blength;
	size_t cap = 4 * bl + 2 * PM_RSYNC_CHUNK + RS_READ_MAX;
	size_t end = 0, k = 0, lit = 0; /* positions in buf */
	size_t matched = 0;             /* file bytes matched since the last flush */
	int eof = 0;
	uint32_t s1 = 0, s2 = 0;
	size_t wl = 0; /* window length; 0: sums must be recomputed */

	if (c->z == NULL && s->h.count == 0)
		return rs_send_whole(c, fd, fsum, literal);
	if (c->fbufcap < cap) { /* kept for the connection: one allocation, not one per file */
		uint8_t *nb = realloc(c->fbuf, cap);
		if (nb == NULL)
			return -1;
		c->fbuf = nb;
		c->fbufcap = cap;
	}
	uint8_t *buf = c->fbuf;
	/* without a basis, content that looks random is sent stored too */
	if (c->z != NULL) {
		int level = s->h.count == 0 && rs_file_random(fd, size) ? 0 : rs_zlevel(name);
		if (compress_raw_reset(c->z, level) != 0)
			return -1;
	}
	c->last_run_end = 0;
	c->z_owed = 0;
	for (;;) {
		/* keep at least one full window (plus one byte) buffered */
		while (!eof && end - k < bl + 1) {
			if (end == cap) {
				size_t keep = lit < k ? lit : k;
				memmove(buf, buf + keep, end - keep);
				end -= keep;
				k -= keep;
				lit -= keep;
			}
			ssize_t r = read(fd, buf + end, cap - end);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = 1;
				break;
			}
			digest_ctx_update(fsum, buf + end, (size_t)r);
			end += (size_t)r;
		}
		if (k >= end)
			break;
		if (s->h.count == 0) {
			/* no basis: everything is literal */
			if (rs_literal(c, buf + lit, end - lit) != 0)
				return -1;
			*literal += end - lit;
			k = lit = end;
			continue;
		}
		size_t avail = end - k;
		size_t want = avail < bl ? avail : bl;
		if (wl != want) {
			rsp_checksum1_parts(buf + k, want, &s1, &s2);
			wl = want;
		}
		uint32_t w = (s1 & 0xffff) + (s2 << 16);
		int32_t m = rs_find(c, s, w, buf + k, wl);
		if (m >= 0) {
			if (k > lit) {
				if (rs_literal(c, buf + lit, k - lit) != 0)
					return -1;
				*literal += k - lit;
			}
			if (rs_match_token(c, m) != 0)
				return -1;
			k += wl;
			lit = k;
			/* Matches are 4 bytes each: without this a whole file's
			 * tokens would wait in the frame while the client, which
			 * copies the blocks, idles. */
			matched += wl;
			if (matched >= RS_OUT_MAX) {
				if (rs_flush(c) != 0)
					return -1;
				matched = 0;
			}
			wl = 0;
			continue;
		}
		/* slide one byte */
		uint32_t out = (uint32_t)(int32_t)(int8_t)buf[k];
		s1 -= out;
		s2 -= (uint32_t)wl * out;
		if (k + wl < end) {
			s1 += (uint32_t)(int32_t)(int8_t)buf[k + wl];
			s2 += s1;
		} else {
			wl--;
		}
		k++;
		/* bound the pending literal */
		if (k - lit >= PM_RSYNC_CHUNK) {
			if (rs_literal(c, buf + lit, k - lit) != 0)
				return -1;
			*literal += k - lit;
			lit = k;
		}
	}
	if (end > lit) {
		if (rs_literal(c, buf + lit, end - lit) != 0)
			return -1;
		*literal += end - lit;
	}
	return rs_end_tokens(c);
}

/* ---- the sender loop ---- */

/* ndx, item flags and what followed them, echoed to the receiver. */
static int rs_put_header(struct rs_conn *c, int32_t ndx, unsigned iflags, uint8_t ftype,
                         const char *xname)
{
	if (rs_put_ndx(c, ndx) != 0 || rs_put_short(c, iflags) != 0)
		return -1;
	if ((iflags & RSP_ITEM_BASIS_TYPE_FOLLOWS) && rs_put(c, &ftype, 1) != 0)
		return -1;
	if (xname != NULL && rs_put_vstring(c, xname) != 0)
		return -1;
	return 0;
}

static int rs_send_files(struct rs_conn *c)
{
	int phase = 0;
	struct digest_ctx *fsum = digest_ctx_new(c->sum_algo);
	char xname[PM_PATH_MAX];
	int rc = -1;

	if (fsum == NULL)
		return -1;
	for (;;) {
		int32_t ndx;
		if (rsp_read_ndx(&c->in, &ndx) != 0)
			goto out;
		if (ndx == RSP_NDX_DONE) {
			if (++phase > 2)
				break;
			if (rs_put_ndx(c, RSP_NDX_DONE) != 0 || rs_flush(c) != 0)
				goto out;
			continue;
		}
		if (ndx < 0 || (size_t)ndx >= c->nfiles) {
			c->fail = "file index out of range";
			goto out;
		}
		uint8_t ib[2];
		if (rsp_read(&c->in, ib, 2) != 0)
			goto out;
		unsigned iflags = ib[0] | (unsigned)ib[1] << 8;
		uint8_t ftype = 0;
		int xlen = -1;
		if ((iflags & RSP_ITEM_BASIS_TYPE_FOLLOWS) && rsp_read(&c->in, &ftype, 1) != 0)
			goto out;
		if ((iflags & RSP_ITEM_XNAME_FOLLOWS) &&
		    (xlen = rsp_read_vstring(&c->in, xname, sizeof(xname))) < 0)
			goto out;
		const struct rs_file *f = &c->files[ndx];
		if (!(iflags & RSP_ITEM_TRANSFER)) {
			if (rs_put_header(c, ndx, iflags, ftype, xlen >= 0 ? xname : NULL) != 0)
				goto out;
			continue;
		}
		if (f->dir || phase == 2) {
			c->fail = "transfer requested of a directory or in the last phase";
			goto out;
		}
		struct rs_sums s;
		if (rs_recv_sums(c, &s) != 0)
			goto out;
		struct stat st;
		int fd = file_open(c->ix->rootfd, f->src, FILE_REG_NOLINK, &st);
		if (fd < 0) {
			char m[PM_PATH_MAX + 64];
			uint8_t nb[4];
			rs_sums_free(&s);
			snprintf(m, sizeof(m), "file has vanished: \"%s\" (in %s)\n", f->name,
			         c->cfg->rsync_module);
			if (rs_msg(c, RSP_MSG_WARNING, m) != 0 ||
			    rs_msg_bytes(c, RSP_MSG_NO_SEND, nb, rsp_put_int(nb, ndx)) != 0)
				goto out;
			continue;
		}
		if (rs_put_header(c, ndx, iflags, ftype, xlen >= 0 ? xname : NULL) != 0 ||
		    rs_put_int(c, s.h.count) != 0 || rs_put_int(c, s.h.blength) != 0 ||
		    rs_put_int(c, s.h.s2length) != 0 || rs_put_int(c, s.h.remainder) != 0) {
			rs_sums_free(&s);
			close(fd);
			goto out;
		}
		uint64_t literal = 0;
		digest_ctx_reset(fsum);
		int r = rs_send_delta(c, fd, f->name, (uint64_t)st.st_size, &s, fsum, &literal);
		rs_sums_free(&s);
		close(fd);
		c->literal += literal;
		c->sent_files++;
		uint8_t sum[DIGEST_MAX];
		if (r != 0 || digest_ctx_final(fsum, sum) != c->sum_len ||
		    rs_put(c, sum, (size_t)c->sum_len) != 0)
			goto out;
	}
	rc = rs_put_ndx(c, RSP_NDX_DONE);
out:
	digest_ctx_free(fsum);
	return rc;
}

/* ---- one connection ---- */

static void rs_session(struct rs_conn *c)
{
	char line[PM_RSYNC_LINE_MAX];
	char why[512] = "";
	char *argv[PM_RSYNC_ARGS_MAX];
	int argc = 0;
	const char *mod = c->cfg->rsync_module;
	uint64_t t0 = clock_now_ns();

	c->deadline_ns = t0 + (uint64_t)PM_RSYNC_HANDSHAKE_TIMEOUT * 1000000000u;
	if (rs_puts(c, "@RSYNCD: 30.0\n") != 0 || rs_send_motd(c) != 0 || rs_flush(c) != 0)
		return;
	if (rs_read_line(c, line, sizeof(line)) != 0)
		return;
	int v = rsp_parse_greeting(line);
	if (v < 0) {
		rs_puts(c, "@ERROR: protocol startup error\n");
		rs_flush(c);
		c->fail = "bad greeting";
		return;
	}
	if (v < RSP_PROTOCOL) {
		rs_puts(c, "@ERROR: this server needs protocol 30 or newer (rsync 3.0 or later)\n");
		rs_flush(c);
		c->fail = "protocol too old";
		return;
	}
	if (rs_read_line(c, line, sizeof(line)) != 0)
		return;
	if (line[0] == '\0' || strcmp(line, "#list") == 0) {
		char l[320];
		snprintf(l, sizeof(l), "%-15s\t%s\n", mod, "pubmirror read-only mirror");
		rs_puts(c, l);
		rs_puts(c, "@RSYNCD: EXIT\n");
		rs_flush(c);
		snprintf(c->path, sizeof(c->path), "(module list)");
		c->fail = NULL;
		return;
	}
	if (strcmp(line, mod) != 0) {
		char safe[128];
		size_t j = 0;
		for (size_t i = 0; line[i] && j + 1 < sizeof(safe); i++)
			safe[j++] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
		safe[j] = '\0';
		snprintf(why, sizeof(why), "@ERROR: Unknown module '%s'\n", safe);
		rs_puts(c, why);
		rs_flush(c);
		c->fail = "unknown module";
		return;
	}
	if (rs_puts(c, "@RSYNCD: OK\n") != 0 || rs_flush(c) != 0)
		return;
	if (rs_read_args(c, argv, &argc) != 0)
		return;
	int bad = rsp_parse_args(argc, argv, &c->a, why, sizeof(why));
	if (bad == 0 && c->a.compress && strchr(c->a.client_info, 'v') == NULL) {
		bad = -1;
		snprintf(why, sizeof(why),
		         "ERROR: -z needs a client that negotiates zlibx (rsync 3.2 or later)");
	}
	if (bad == 0 && c->a.protect_args) {
		bad = -1;
		snprintf(why, sizeof(why), "ERROR: option -s is not supported by this server");
	}
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--numeric-ids") == 0)
			c->numeric_ids = 1;
	if (rs_setup_protocol(c) != 0 || rs_flush(c) != 0)
		return;
	c->mplex_out = 1;
	if (bad) {
		strncat(why, "\n", sizeof(why) - strlen(why) - 1);
		rs_msg(c, RSP_MSG_ERROR, why);
		c->fail = "refused";
		return;
	}
	c->in.mplex = 1;
	/* the filter list: refused when not empty */
	for (;;) {
		int32_t len;
		if (rsp_read_int(&c->in, &len) != 0)
			return;
		if (len == 0)
			break;
		rs_msg(c, RSP_MSG_ERROR,
		       "ERROR: filter rules (--exclude, --include, --filter) are not supported by "
		       "this server\n");
		c->fail = "filter rules";
		return;
	}
	c->ix = index_acquire();
	c->sum = digest_ctx_new(c->sum_algo);
	if (c->sum == NULL)
		return;
	if (c->a.compress) {
		c->z = compress_raw_new(6);
		buf_init(&c->zout, 0);
		if (c->z == NULL)
			return;
	}
	for (int i = 0; i < c->a.npaths; i++) {
		if (rs_build(c, c->a.paths[i], why, sizeof(why)) != 0) {
			strncat(why, "\n", sizeof(why) - strlen(why) - 1);
			rs_msg(c, RSP_MSG_ERROR, why);
			c->fail = "path refused";
			return;
		}
	}
	uint64_t t1 = clock_now_ns();
	if (rs_send_flist(c) != 0)
		return;
	uint64_t t2 = clock_now_ns();
	c->deadline_ns = 0;
	if (rs_send_files(c) != 0)
		return;
	/* statistics, then the client's goodbye */
	if (rs_put_varlong(c, (int64_t)c->bytes_in, 3) != 0 ||
	    rs_put_varlong(c, (int64_t)c->bytes_out, 3) != 0 ||
	    rs_put_varlong(c, (int64_t)c->total_size, 3) != 0 ||
	    rs_put_varlong(c, (int64_t)((t1 - t0) / 1000000u), 3) != 0 ||
	    rs_put_varlong(c, (int64_t)((t2 - t1) / 1000000u), 3) != 0 || rs_flush(c) != 0)
		return;
	int32_t bye;
	if (rsp_read_ndx(&c->in, &bye) != 0 || bye != RSP_NDX_DONE) {
		c->fail = "no goodbye";
		return;
	}
	c->fail = NULL;
}

/* A connection the limiter refused: the reason goes where the client
 * prints it (after its greeting and module line, as rsyncd does). */
static void rs_refuse_session(struct rs_conn *c)
{
	char line[PM_RSYNC_LINE_MAX], msg[256];

	c->deadline_ns = clock_now_ns() + 5000000000u;
	c->fail = c->refuse;
	if (rs_puts(c, "@RSYNCD: 30.0\n") != 0 || rs_flush(c) != 0)
		return;
	if (rs_read_line(c, line, sizeof(line)) != 0 || rs_read_line(c, line, sizeof(line)) != 0)
		return;
	snprintf(msg, sizeof(msg), "@ERROR: %s\n", c->refuse);
	rs_puts(c, msg);
	rs_flush(c);
}

static void rs_conn_free(struct rs_conn *c)
{
	for (size_t i = 0; i < c->nfiles; i++) {
		free(c->files[i].name);
		free(c->files[i].src);
	}
	free(c->files);
	free(c->argstore);
	digest_ctx_free(c->sum);
	free(c->fbuf);
	if (c->z != NULL) {
		compress_stream_free(c->z);
		buf_free(&c->zout);
	}
	if (c->ix)
		index_release(c->ix);
	free(c);
}

static void *rs_conn_main(void *arg)
{
	struct rs_conn *c = arg;
	uint64_t t0 = clock_now_ns();
	struct rsp_src src = {rs_src_read, c};

	rsp_in_init(&c->in, src);
	c->ndx_pos = -1;
	c->ndx_neg = 1;
	c->fail = "connection closed";
	if (c->refuse)
		rs_refuse_session(c);
	else
		rs_session(c);
	/* let the client read what we sent before the socket closes */
	rs_flush(c);
	shutdown(c->fd, SHUT_WR);
	{
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		char sink[512];
		for (int i = 0; i < 8 && poll(&p, 1, 500) > 0; i++)
			if (recv(c->fd, sink, sizeof(sink), 0) <= 0)
				break;
	}
	close(c->fd);
	double secs = (double)(clock_now_ns() - t0) / 1e9;
	if (log_json_enabled()) {
		struct log_event ev = {.event = "transfer",
		                       .proto = "rsync",
		                       .peer = &c->peer,
		                       .method = "pull",
		                       .path = c->path[0] ? c->path : NULL,
		                       .status = c->fail ? 500 : 200,
		                       .bytes = c->bytes_out,
		                       .secs = secs};
		log_json(&ev);
	}
	if (log_access_enabled())
		log_access(&c->peer, NULL, "RSYNC", c->path[0] ? c->path : "-", "rsync/30",
		           c->fail ? 500 : 200, c->bytes_out, NULL, NULL);
	if (c->fail) {
		char p[64];
		log_msg(LOG_LVL_INFO, "rsync: %s: %s%s%s", log_peer(p, sizeof(p), &c->peer),
		        c->fail, c->in.err[0] ? ": " : "", c->in.err);
	}
	if (!c->refuse)
		limiter_conn_close(c->lim, &c->peer);
	metrics_bytes_sent(METRICS_RSYNC, c->bytes_out);
	for (uint64_t i = 0; i < c->sent_files; i++)
		metrics_transfer(METRICS_RSYNC, 1);
	if (c->fail && c->sent_files == 0 && c->nfiles > 0)
		metrics_transfer(METRICS_RSYNC, 0);
	metrics_conn_close(METRICS_RSYNC);
	rs_conn_free(c);
	atomic_fetch_sub(&rs_active, 1);
	return NULL;
}

static void *rs_accept_main(void *arg)
{
	(void)arg;
	struct pollfd p[RS_MAX_LISTEN + 1];
	for (int i = 0; i < rs_nlisten; i++)
		p[i] = (struct pollfd){.fd = rs_listen[i], .events = POLLIN};
	p[rs_nlisten] = (struct pollfd){.fd = rs_stop_pipe[0], .events = POLLIN};
	while (!atomic_load(&rs_stopping)) {
		if (poll(p, (nfds_t)rs_nlisten + 1, -1) <= 0)
			continue;
		if (p[rs_nlisten].revents)
			break;
		for (int i = 0; i < rs_nlisten; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);
			int fd = net_accept(rs_listen[i], &peer, &pl);
			if (fd < 0)
				continue;
			struct limiter *lim = limiter_global();
			/* SECURITY: threads are capped, refused ones included; past
			 * the cap a connection is closed at once. */
			if (atomic_load(&rs_active) >= PM_RSYNC_CONNS_MAX) {
				close(fd);
				continue;
			}
			enum limiter_verdict v = limiter_conn_open(lim, &peer, clock_now_ns());
			struct rs_conn *c = calloc(1, sizeof(*c));
			if (c == NULL) {
				if (v == LIMITER_OK)
					limiter_conn_close(lim, &peer);
				close(fd);
				continue;
			}
			metrics_conn_open(METRICS_RSYNC);
			if (v != LIMITER_OK)
				metrics_conn_refused(METRICS_RSYNC, v == LIMITER_BANNED   ? "banned"
				                                    : v == LIMITER_PER_IP ? "per_ip"
				                                                          : "full");
			if (v != LIMITER_OK)
				c->refuse =
				    v == LIMITER_BANNED   ? "your address is banned for a while"
				    : v == LIMITER_PER_IP ? "too many connections from your address"
				                          : "server full, try again later";
			c->fd = fd;
			c->peer = peer;
			c->cfg = config_get();
			c->lim = lim;
			atomic_fetch_add(&rs_active, 1);
			pthread_t t;
			pthread_attr_t at;
			pthread_attr_init(&at);
			pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &at, rs_conn_main, c) != 0) {
				atomic_fetch_sub(&rs_active, 1);
				if (!c->refuse)
					limiter_conn_close(lim, &peer);
				close(fd);
				free(c);
			}
			pthread_attr_destroy(&at);
		}
	}
	return NULL;
}

int rsync_start(const int *fds, int n, const char *motd, size_t motdlen)
{
	if (n > RS_MAX_LISTEN)
		n = RS_MAX_LISTEN;
	for (int i = 0; i < n; i++)
		rs_listen[i] = fds[i];
	rs_nlisten = n;
	if (motd != NULL && motdlen > 0) {
		/* SECURITY: the MOTD is shown as lines before the module list;
		 * a line starting with '@' would be taken for a protocol
		 * line, and control characters are dropped. */
		size_t cap = motdlen * 2 + 2;
		rs_motd = malloc(cap);
		if (rs_motd == NULL)
			return -1;
		size_t j = 0;
		int bol = 1;
		for (size_t i = 0; i < motdlen && i < PM_RSYNC_MOTD_MAX; i++) {
			unsigned char ch = (unsigned char)motd[i];
			if (ch == '\r')
				continue;
			if (ch != '\n' && ch != '\t' && (ch < 0x20 || ch == 0x7f))
				continue;
			if (bol && ch == '@')
				rs_motd[j++] = ' ';
			rs_motd[j++] = (char)ch;
			bol = ch == '\n';
		}
		if (j > 0 && rs_motd[j - 1] == '\n')
			j--;
		rs_motdlen = j;
	}
	if (pipe(rs_stop_pipe) != 0)
		return -1;
	if (pthread_create(&rs_accept_thread, NULL, rs_accept_main, NULL) != 0) {
		log_err("rsync: cannot start the accept thread");
		return -1;
	}
	return 0;
}

void rsync_stop(unsigned drain_seconds)
{
	if (rs_stop_pipe[1] < 0)
		return;
	atomic_store(&rs_stopping, 1);
	(void)!write(rs_stop_pipe[1], "x", 1);
	pthread_join(rs_accept_thread, NULL);
	for (int i = 0; i < rs_nlisten; i++)
		close(rs_listen[i]);
	for (unsigned ms = 0; atomic_load(&rs_active) > 0 && ms < drain_seconds * 1000u; ms += 50) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
}
