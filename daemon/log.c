/* log.c - error log, HTTP access log (combined format), FTP transfer log
 * (xferlog format) and the JSON-lines log (see log.h).
 *
 * Every line is built in a bounded buffer and written with one write() on
 * an O_APPEND descriptor, so lines of different threads never interleave.
 * Descriptors are swapped (log_open again, log_reopen) under a write lock;
 * writers hold the read lock, so no thread ever writes to a descriptor that
 * was closed and perhaps reused for a client socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "limits.h"
#include "log.h"

enum { LF_ERR, LF_ACCESS, LF_XFER, LF_JSON, LF_N };
enum log_target { TARGET_STDERR, TARGET_FILE, TARGET_SYSLOG };

struct log_file {
	char path[PM_PATH_MAX]; /* "" = not configured */
	int fd;                 /* -1 = closed */
};

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct log_file log_files[LF_N] = {
    {"", STDERR_FILENO},
    {"", -1},
    {"", -1},
    {"", -1},
};
static enum log_target log_target = TARGET_STDERR;
static int log_syslog_open;
static _Atomic int log_min = LOG_LVL_INFO;

static const char *const log_names[LF_N] = {"error_log", "access_log", "xfer_log", "json_log"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
}

/* The whole of p[0..n) to fd; a short write (disk full, signal) retries. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Write one finished line to log i (nothing when it is not open). */
static void emit(int i, const char *line, size_t n)
{
	pthread_rwlock_rdlock(&log_lock);
	if (log_files[i].fd >= 0)
		write_all(log_files[i].fd, line, n);
	pthread_rwlock_unlock(&log_lock);
}

static int is_open(int i)
{
	pthread_rwlock_rdlock(&log_lock);
	int r = log_files[i].fd >= 0;
	pthread_rwlock_unlock(&log_lock);
	return r;
}

int log_access_enabled(void)
{
	return is_open(LF_ACCESS);
}

int log_xfer_enabled(void)
{
	return is_open(LF_XFER);
}

int log_json_enabled(void)
{
	return is_open(LF_JSON);
}

int log_open(const struct config *c, int foreground)
{
	const char *paths[LF_N] = {c->error_log, c->access_log, c->xfer_log, c->json_log};
	int fds[LF_N] = {-1, -1, -1, -1};
	enum log_target target;

	for (int i = 0; i < LF_N; i++) {
		if (paths[i][0] == '\0')
			continue;
		fds[i] = open_log(paths[i]);
		if (fds[i] < 0) {
			fprintf(stderr, "pubmirrord: %s: cannot open %s: %s\n", log_names[i],
			        paths[i], strerror(errno));
			goto fail;
		}
	}
	if (c->error_log[0])
		target = TARGET_FILE;
	else if (foreground)
		target = TARGET_STDERR;
	else
		target = TARGET_SYSLOG;
	if (target == TARGET_SYSLOG && !log_syslog_open) {
		openlog("pubmirrord", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog_open = 1;
	}

	pthread_rwlock_wrlock(&log_lock);
	for (int i = 0; i < LF_N; i++) {
		if (log_files[i].fd >= 0 && !(i == LF_ERR && log_target == TARGET_STDERR))
			close(log_files[i].fd);
		log_files[i].fd = fds[i];
		snprintf(log_files[i].path, sizeof(log_files[i].path), "%s", paths[i]);
	}
	if (target == TARGET_STDERR)
		log_files[LF_ERR].fd = STDERR_FILENO;
	log_target = target;
	pthread_rwlock_unlock(&log_lock);
	return 0;
fail:
	for (int i = 0; i < LF_N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

int log_reopen(void)
{
	char failed[LF_N][1200];
	int nfailed = 0;

	pthread_rwlock_wrlock(&log_lock);
	for (int i = 0; i < LF_N; i++) {
		if (log_files[i].path[0] == '\0' || log_files[i].fd < 0)
			continue;
		int fd = open_log(log_files[i].path);
		if (fd < 0) {
			int e = errno;
			snprintf(failed[nfailed++], sizeof(failed[0]),
			         "%s: cannot reopen %.1000s: %.100s", log_names[i],
			         log_files[i].path, strerror(e));
			continue;
		}
		close(log_files[i].fd);
		log_files[i].fd = fd;
	}
	pthread_rwlock_unlock(&log_lock);
	/* Reported after the lock is released: log_msg takes it too. */
	for (int i = 0; i < nfailed; i++)
		log_err("%s", failed[i]);
	return nfailed ? -1 : 0;
}

int log_chown(uid_t uid, gid_t gid)
{
	int rc = 0, first = 0;

	pthread_rwlock_rdlock(&log_lock);
	for (int i = 0; i < LF_N; i++) {
		if (log_files[i].fd < 0 || (i == LF_ERR && log_target != TARGET_FILE))
			continue;
		if (fchown(log_files[i].fd, uid, gid) != 0 && rc == 0) {
			rc = -1;
			first = errno;
		}
	}
	pthread_rwlock_unlock(&log_lock);
	if (rc)
		errno = first;
	return rc;
}

int log_error_fd(void)
{
	int fd = -1;

	pthread_rwlock_rdlock(&log_lock);
	if (log_target == TARGET_FILE && log_files[LF_ERR].fd >= 0)
		fd = fcntl(log_files[LF_ERR].fd, F_DUPFD_CLOEXEC, 0);
	pthread_rwlock_unlock(&log_lock);
	return fd;
}

void log_adopt_error_fd(int fd)
{
	pthread_rwlock_wrlock(&log_lock);
	if (log_target == TARGET_FILE && fd >= 0) {
		if (log_files[LF_ERR].fd >= 0)
			close(log_files[LF_ERR].fd);
		log_files[LF_ERR].fd = fd;
		fd = -1;
	}
	pthread_rwlock_unlock(&log_lock);
	if (fd >= 0)
		close(fd);
}

void log_close(void)
{
	pthread_rwlock_wrlock(&log_lock);
	for (int i = 0; i < LF_N; i++) {
		if (log_files[i].fd >= 0 && !(i == LF_ERR && log_target == TARGET_STDERR))
			close(log_files[i].fd);
		log_files[i].fd = -1;
		log_files[i].path[0] = '\0';
	}
	log_files[LF_ERR].fd = STDERR_FILENO;
	log_target = TARGET_STDERR;
	if (log_syslog_open) {
		closelog();
		log_syslog_open = 0;
	}
	pthread_rwlock_unlock(&log_lock);
}

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_min, (int)lvl);
}

static void now_utc(struct tm *tm, long *msec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, tm);
	if (msec)
		*msec = ts.tv_nsec / 1000000;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char line[PM_LOG_LINE_MAX + 1]; /* a whole line, newline included, + NUL */
	struct tm tm;
	va_list ap;

	if ((int)lvl > atomic_load(&log_min) || (unsigned)lvl > LOG_LVL_DEBUG)
		return;
	now_utc(&tm, NULL);
	int pre =
	    snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02dZ [%s] ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, names[lvl]);
	if (pre < 0)
		return;
	/* Room for the message: PM_LOG_LINE_MAX minus prefix and newline. */
	size_t room = PM_LOG_LINE_MAX - (size_t)pre - 1;
	char *msg = line + pre;
	va_start(ap, fmt);
	int n = vsnprintf(msg, room + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n;
	if (len > room) {
		len = room;
		memcpy(msg + len - 3, "...", 3);
	}
	/* SECURITY: a line break in a message (from unescaped text that slipped
	 * through) must not forge a second log line. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch < 0x20 || ch == 0x7f)
			msg[i] = '?';
	}
	msg[len] = '\n';
	msg[len + 1] = '\0';

	pthread_rwlock_rdlock(&log_lock);
	if (log_target == TARGET_SYSLOG) {
		msg[len] = '\0';
		syslog(prio[lvl], "%s", msg);
	} else if (log_files[LF_ERR].fd >= 0) {
		write_all(log_files[LF_ERR].fd, line, (size_t)pre + len + 1);
	}
	pthread_rwlock_unlock(&log_lock);
}

const char *log_esc(char *out, size_t outsz, const char *s, size_t n)
{
	if (outsz == 0)
		return out;
	out[0] = '\0';
	if (s == NULL)
		return out;
	if (enc_into(out, outsz, s, n, BUF_ENC_LOG) == 0)
		return out;
	if (outsz < 4) {
		memset(out, '.', outsz - 1);
		out[outsz - 1] = '\0';
		return out;
	}
	/* Too long: as many whole escapes as fit before "...". */
	size_t o = 0, i = 0;
	for (; i < n; i++) {
		char tmp[8];
		size_t k = buf_enc_len(s + i, 1, BUF_ENC_LOG);
		if (o + k + 4 > outsz)
			break;
		enc_into(tmp, sizeof(tmp), s + i, 1, BUF_ENC_LOG);
		memcpy(out + o, tmp, k);
		o += k;
	}
	/* Do not leave half a UTF-8 sequence before the "...": if the next
	 * input byte continues a sequence, drop the sequence's start too. */
	if (i < n && ((unsigned char)s[i] & 0xc0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
			o--;
	}
	memcpy(out + o, "...", 4);
	return out;
}

/* Escaped string, or "-" when NULL or empty (the log formats' convention). */
static const char *esc_or_dash(char *out, size_t outsz, const char *s)
{
	if (s == NULL || s[0] == '\0') {
		snprintf(out, outsz, "-");
		return out;
	}
	return log_esc(out, outsz, s, strlen(s));
}

const char *log_peer(char *out, size_t outsz, const struct sockaddr_storage *peer)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	snprintf(out, outsz, "-");
	if (peer == NULL)
		return out;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)peer;
		if (inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)outsz) == NULL)
			snprintf(out, outsz, "-");
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)peer;
		const void *p = &a->sin6_addr;
		int fam = AF_INET6;
		if (memcmp(p, v4mapped, 12) == 0) {
			p = (const unsigned char *)p + 12;
			fam = AF_INET;
		}
		if (inet_ntop(fam, p, out, (socklen_t)outsz) == NULL)
			snprintf(out, outsz, "-");
	}
	return out;
}

void log_access(const struct sockaddr_storage *peer, const char *user, const char *method,
                const char *uri, const char *proto, unsigned status, uint64_t bytes,
                const char *referer, const char *agent)
{
	/* Field sizes keep the whole line under PM_LOG_LINE_MAX. */
	char host[64], u[192], m[48], r[1800], p[32], ref[900], ag[640], req[1900];
	char line[PM_LOG_LINE_MAX];
	struct tm tm;

	if (!log_access_enabled())
		return;
	now_utc(&tm, NULL);
	log_peer(host, sizeof(host), peer);
	esc_or_dash(u, sizeof(u), user);
	if ((method == NULL || !method[0]) && (uri == NULL || !uri[0])) {
		snprintf(req, sizeof(req), "-");
	} else {
		esc_or_dash(m, sizeof(m), method);
		esc_or_dash(r, sizeof(r), uri);
		if (proto && proto[0])
			snprintf(req, sizeof(req), "%s %s %s", m, r,
			         log_esc(p, sizeof(p), proto, strlen(proto)));
		else
			snprintf(req, sizeof(req), "%s %s", m, r);
	}
	esc_or_dash(ref, sizeof(ref), referer);
	esc_or_dash(ag, sizeof(ag), agent);
	int n = snprintf(line, sizeof(line),
	                 "%s - %s [%02d/%s/%04d:%02d:%02d:%02d +0000] \"%s\" %u %llu "
	                 "\"%s\" \"%s\"\n",
	                 host, u, tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	                 tm.tm_min, tm.tm_sec, req, status, (unsigned long long)bytes, ref, ag);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	emit(LF_ACCESS, line, (size_t)n);
}

/* wu-ftpd writes names with spaces as '_' so that fields split on blanks;
 * then the name is escaped like every client string. */
static const char *xfer_field(char *out, size_t outsz, const char *s, int rooted)
{
	/* Larger than any out: a cut input always shows as "..." in out. */
	char tmp[PM_PATH_MAX + 2];
	size_t n = 0;

	if (s == NULL)
		s = "";
	if (rooted && s[0] != '/')
		tmp[n++] = '/';
	for (; *s && n < sizeof(tmp) - 1; s++)
		tmp[n++] = (*s == ' ') ? '_' : *s;
	tmp[n] = '\0';
	if (n == 0)
		return esc_or_dash(out, outsz, "");
	return log_esc(out, outsz, tmp, n);
}

void log_xfer(const struct sockaddr_storage *peer, unsigned secs, uint64_t bytes, const char *path,
              int binary, int anonymous, const char *anon_id, int complete)
{
	char host[64], pe[2600], id[400], line[PM_LOG_LINE_MAX];
	struct tm tm;

	if (!log_xfer_enabled())
		return;
	now_utc(&tm, NULL);
	log_peer(host, sizeof(host), peer);
	xfer_field(pe, sizeof(pe), path, 1);
	xfer_field(id, sizeof(id), anon_id, 0);
	int n = snprintf(line, sizeof(line),
	                 "%s %s %2d %02d:%02d:%02d %04d %u %s %llu %s %c _ o %c %s ftp 0 * %c\n",
	                 wdays[tm.tm_wday], months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, tm.tm_year + 1900, secs ? secs : 1, host,
	                 (unsigned long long)bytes, pe, binary ? 'b' : 'a', anonymous ? 'a' : 'r',
	                 id, (complete == 0 || complete == 'i') ? 'i' : 'c');
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	emit(LF_XFER, line, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t k;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

/* ,"key":"value" with JSON escapes; invalid UTF-8 as U+FFFD; at most cap
 * input bytes (then "..."). */
static void json_str(struct buf *b, const char *key, const char *s, size_t cap)
{
	if (s == NULL)
		return;
	buf_printf(b, ",\"%s\":\"", key);
	size_t n = strlen(s), i = 0;
	for (; i < n && i < cap;) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t k = utf8_len(u, n - i);
		if (k == 0) {
			buf_puts(b, "\\ufffd");
			i++;
		} else if (k == 1) {
			buf_append_enc(b, s + i, 1, BUF_ENC_JSON);
			i++;
		} else {
			if (i + k > cap)
				break;
			buf_append(b, s + i, k);
			i += k;
		}
	}
	if (i < n)
		buf_puts(b, "...");
	buf_puts(b, "\"");
}

void log_json(const struct log_event *ev)
{
	char host[64];
	struct tm tm;
	long ms;
	struct buf b;

	if (ev == NULL || !log_json_enabled())
		return;
	/* Worst case: every input byte of every field as \u00XX (6 bytes). */
	buf_init(&b, 6 * (64 + 16 + 16 + 256 + 64 + 2048) + 512);
	now_utc(&tm, &ms);
	buf_printf(&b, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm.tm_year + 1900,
	           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	json_str(&b, "event", ev->event, 64);
	json_str(&b, "proto", ev->proto, 16);
	if (ev->peer)
		json_str(&b, "peer", log_peer(host, sizeof(host), ev->peer), 64);
	json_str(&b, "user", ev->user, 256);
	json_str(&b, "method", ev->method, 64);
	json_str(&b, "path", ev->path, 2048);
	if (ev->status)
		buf_printf(&b, ",\"status\":%u", ev->status);
	buf_printf(&b, ",\"bytes\":%llu,\"secs\":%.3f}\n", (unsigned long long)ev->bytes,
	           (ev->secs >= 0 && ev->secs < 1e12) ? ev->secs : 0.0);
	if (b.data && b.len && b.data[b.len - 1] == '\n')
		emit(LF_JSON, b.data, b.len);
	buf_free(&b);
}

void log_auth_fail(const struct sockaddr_storage *peer, const char *proto, const char *user)
{
	char host[64], u[200], pr[32];
	int http = proto && strncmp(proto, "http", 4) == 0;

	log_peer(host, sizeof(host), peer);
	log_esc(pr, sizeof(pr), proto ? proto : "-", strlen(proto ? proto : "-"));
	log_esc(u, sizeof(u), user ? user : "", strlen(user ? user : ""));
	log_warn("auth: failure from %s proto=%s user=\"%s\"", host, pr, u);
	struct log_event ev = {
	    .event = "login",
	    .proto = proto,
	    .peer = peer,
	    .user = user,
	    .status = http ? 401 : 530,
	};
	log_json(&ev);
}
