/* ftpload.c - the FTP/FTPS load generator of the benchmark (tests/bench/run.sh),
 * plus the small measuring tools the harness needs (free ports, process-tree
 * memory and CPU, loopback bandwidth).
 *
 * Written so that the client is not the bottleneck: plain blocking sockets,
 * one thread per simulated client (sessions, idle), large receive buffers,
 * no per-byte work beyond counting.  Every socket has send/receive timeouts
 * and every mode has a wall-clock deadline, so nothing here can hang.
 *
 *   ftpload download  -p PORT -f PATH [-H HOST] [-t] [-d MAXSECS]
 *       one session, PASV, TYPE I, RETR PATH; prints bytes, secs, MB/s
 *       (MB = 10^6 bytes).  -t: AUTH TLS + PBSZ 0 + PROT P.
 *   ftpload sessions  -p PORT -f PATH -c N -d SECS [-H HOST] [-t] [-a ADDRS]
 *       N threads loop: connect, [AUTH TLS,] USER anonymous, PASS,
 *       [PBSZ 0, PROT P,] TYPE I, PASV, RETR PATH, QUIT; prints complete
 *       sessions per second and failures.  -a spreads client source
 *       addresses over 127.0.0.2 .. 127.0.0.(1+ADDRS).
 *   ftpload idle      -p PORT -c N -d HOLD [-H HOST] [-t] [-a ADDRS]
 *       opens N logged-in control connections, prints "ready N ..." and
 *       holds them for HOLD seconds (or until stdin reaches end of file when
 *       -d 0), then QUITs.
 *   ftpload loopback  -d SECS [-b]   single-stream TCP copy over 127.0.0.1, and
 *                                    each side's CPU per GiB; -b: writer on
 *                                    CPU 1, reader on CPU 0
 *   ftpload tlsstream -d SECS -f CERT,KEY [-b]
 *       the ceiling of one TLS stream on this machine: a server thread
 *       SSL_writes from memory (no file), the main thread SSL_reads as
 *       `download` does, over 127.0.0.1, TLS 1.3 TLS_AES_128_GCM_SHA256;
 *       server on CPU 1 and client on CPU 0 when both are allowed (as the
 *       harness pins downloads).  -b: the server writes its records
 *       through a buffer, one send per 4 records (as pubmirrord's data
 *       connections), instead of one write per record.  Prints MB/s and
 *       each side's CPU seconds per GiB.
 *   ftpload handshake -d SECS -f CERT,KEY   full TLS handshakes per CPU second,
 *                                    client and server in this process; then
 *                                    each side's CPU per full and resumed
 *                                    handshake
 *   ftpload tree      PID            VmRSS and Pss (KiB) of PID + descendants
 *   ftpload cpu       PID            CPU seconds (utime+stime+cutime+cstime)
 *                                    of PID + descendants
 *   ftpload ports     N              N distinct free TCP ports on 127.0.0.1
 *   ftpload range     N              "LO HI": N consecutive free ports
 *   ftpload wait      PORT SECS      exit 0 once 127.0.0.1:PORT accepts
 *
 * Exit status: 0 when the measurement succeeded, 1 otherwise (message on
 * stderr), 2 for usage errors.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 20          /* any single socket read or write */
#define LINE_MAX_FTP 2048        /* one reply line we accept */
#define DATA_BUF (256 * 1024)    /* receive buffer of a transfer */
#define TLS_READ_BUF (64 * 1024)  /* OpenSSL's read-ahead buffer (TLS records) */
#define SESSIONS_MAX 20000       /* clients of one run */
#define THREAD_STACK (128 * 1024)
#define HS_SESSIONS_MAX 200000  /* tickets kept by the handshake measurement */

static struct {
	const char *host;
	int port;
	const char *path;
	int tls;
	int clients;
	double secs;
	int addrs;
	int verbose;
	int batch;
} opt = { "127.0.0.1", 0, NULL, 0, 1, -1.0, 0, 0, 0 };

static SSL_CTX *g_ctx;
static atomic_ulong g_resumed; /* data connections that resumed the control's TLS session */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ftpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "ftpload: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

/* ---- connections -------------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
	char buf[LINE_MAX_FTP];
	size_t len;                /* bytes buffered in buf */
	char line[LINE_MAX_FTP];   /* last reply line, NUL-terminated */
	struct sockaddr_in local;  /* control's local address: data binds to it */
};

static void set_timeouts(int fd)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connect to host:port, from src (when its address is set).  -1 on error. */
static int tcp_connect(const char *host, int port, const struct sockaddr_in *src)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	set_timeouts(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src && src->sin_addr.s_addr != htonl(INADDR_LOOPBACK) &&
	    src->sin_addr.s_addr != 0) {
		struct sockaddr_in b = *src;

		b.sin_port = 0;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static ssize_t conn_read(struct conn *c, void *p, size_t n)
{
	if (c->ssl) {
		size_t got = 0;

		if (SSL_read_ex(c->ssl, p, n, &got) == 1)
			return (ssize_t)got;
		return SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	for (;;) {
		ssize_t r = read(c->fd, p, n);

		if (r >= 0 || errno != EINTR)
			return r;
	}
}

static int conn_write(struct conn *c, const void *p, size_t n)
{
	const char *s = p;

	if (c->ssl) {
		size_t done = 0;

		return SSL_write_ex(c->ssl, p, n, &done) == 1 && done == n ? 0 : -1;
	}
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one reply (multi-line aware); returns its code, -1 on error.  The
 * last line is left in c->line. */
static int read_reply(struct conn *c)
{
	int code = -1;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (!nl) {
			ssize_t r;

			if (c->len >= sizeof(c->buf) - 1)
				return -1; /* line too long */
			r = conn_read(c, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
			if (r <= 0)
				return -1;
			c->len += (size_t)r;
			continue;
		}
		size_t ll = (size_t)(nl - c->buf) + 1;

		memcpy(c->line, c->buf, ll);
		c->line[ll] = '\0';
		memmove(c->buf, c->buf + ll, c->len - ll);
		c->len -= ll;
		if (ll >= 4 && c->line[0] >= '1' && c->line[0] <= '5' &&
		    c->line[1] >= '0' && c->line[1] <= '9' && c->line[2] >= '0' &&
		    c->line[2] <= '9') {
			int lc = (c->line[0] - '0') * 100 + (c->line[1] - '0') * 10 +
				 (c->line[2] - '0');

			if (code < 0)
				code = lc;
			if (lc == code && c->line[3] == ' ')
				return code;
		}
	}
}

/* Send a command; returns the reply code or -1. */
static int cmd(struct conn *c, const char *fmt, ...)
{
	char out[LINE_MAX_FTP];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, sizeof(out) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(out) - 2)
		return -1;
	out[n++] = '\r';
	out[n++] = '\n';
	if (conn_write(c, out, (size_t)n) < 0)
		return -1;
	if (opt.verbose > 1)
		fprintf(stderr, "> %.*s", n, out);
	int code = read_reply(c);

	if (opt.verbose > 1)
		fprintf(stderr, "< %s", c->line);
	return code;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* TLS client handshake on c->fd, resuming reuse_from's session if given. */
static int tls_start(struct conn *c, SSL *reuse_from)
{
	c->ssl = SSL_new(g_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (reuse_from) {
		SSL_SESSION *s = SSL_get1_session(reuse_from);

		if (s) {
			if (SSL_SESSION_is_resumable(s))
				SSL_set_session(c->ssl, s);
			SSL_SESSION_free(s);
		}
	}
	if (SSL_connect(c->ssl) != 1) {
		if (opt.verbose)
			ERR_print_errors_fp(stderr);
		return -1;
	}
	return 0;
}

static int accept_chain(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

static void tls_init(void)
{
	g_ctx = SSL_CTX_new(TLS_client_method());
	if (!g_ctx)
		die("SSL_CTX_new failed");
	/* The benchmark's certificate is self-signed: no verification, the
	 * same for every server measured. */
	SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
	/* With SSL_VERIFY_NONE OpenSSL still builds and checks the chain and
	 * only ignores the result; skipping that keeps the client's cost per
	 * handshake down (the handshake's own signature is still checked). */
	SSL_CTX_set_cert_verify_callback(g_ctx, accept_chain, NULL);
	SSL_CTX_set_min_proto_version(g_ctx, TLS1_2_VERSION);
	/* Read ahead into a large record buffer: one read() brings in many
	 * records, instead of two per 16 KiB record (header, then body), so
	 * that the client costs the least CPU per byte and a download measures
	 * the server.  The same for every server measured. */
	SSL_CTX_set_read_ahead(g_ctx, 1);
	SSL_CTX_set_default_read_buffer_len(g_ctx, TLS_READ_BUF);
	SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_CLIENT |
					      SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

/* Connect and log in (with AUTH TLS/PBSZ/PROT first when opt.tls).  0/-1. */
static int ftp_login(struct conn *c, const struct sockaddr_in *src)
{
	socklen_t sl = sizeof(c->local);
	int code;

	c->fd = tcp_connect(opt.host, opt.port, src);
	if (c->fd < 0)
		return -1;
	getsockname(c->fd, (struct sockaddr *)&c->local, &sl);
	if (read_reply(c) != 220)
		return -1;
	if (opt.tls) {
		if (cmd(c, "AUTH TLS") != 234 || c->len != 0)
			return -1;
		if (tls_start(c, NULL) < 0)
			return -1;
	}
	code = cmd(c, "USER anonymous");
	if (code == 331)
		code = cmd(c, "PASS bench@example.org");
	if (code != 230)
		return -1;
	if (opt.tls && (cmd(c, "PBSZ 0") != 200 || cmd(c, "PROT P") != 200))
		return -1;
	return 0;
}

/* PASV; connect the data connection.  Returns its fd or -1. */
static int ftp_pasv(struct conn *c)
{
	unsigned h1, h2, h3, h4, p1, p2;
	const char *p;

	if (cmd(c, "PASV") != 227)
		return -1;
	p = strchr(c->line + 4, '(');
	if (!p || sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h1, &h2, &h3, &h4, &p1, &p2) != 6 ||
	    p1 > 255 || p2 > 255)
		return -1;
	/* Like modern clients, ignore the announced host: connect to the
	 * control connection's peer, from the control's local address. */
	return tcp_connect(opt.host, (int)(p1 * 256 + p2), &c->local);
}

/* RETR path over a fresh data connection; counts bytes into *bytes.  When
 * deadline > 0, stops reading at that time (the transfer is then cut).
 * Returns 0 when the transfer completed with 226, 1 when cut, -1 on error. */
static int ftp_retr(struct conn *c, const char *path, char *buf, size_t bufsz,
		    uint64_t *bytes, double *t_first, double deadline)
{
	struct conn d;
	int code, cut = 0;

	memset(&d, 0, sizeof(d));
	d.fd = ftp_pasv(c);
	if (d.fd < 0)
		return -1;
	code = cmd(c, "RETR %s", path);
	if (code != 150 && code != 125)
		goto fail;
	if (t_first)
		*t_first = now_s();
	if (opt.tls && tls_start(&d, c->ssl) < 0)
		goto fail;
	if (d.ssl && SSL_session_reused(d.ssl))
		atomic_fetch_add(&g_resumed, 1);
	for (;;) {
		ssize_t r = conn_read(&d, buf, bufsz);

		if (r == 0)
			break;
		if (r < 0) {
			/* An unclean TLS end after all bytes is common; the 226
			 * below decides whether the transfer was complete. */
			if (d.ssl && SSL_get_error(d.ssl, 0) == SSL_ERROR_SYSCALL && errno == 0)
				break;
			goto fail;
		}
		*bytes += (uint64_t)r;
		if (deadline > 0 && now_s() >= deadline) {
			cut = 1;
			break;
		}
	}
	if (d.ssl && !cut)
		SSL_shutdown(d.ssl);
	conn_close(&d);
	if (cut)
		return 1;
	return read_reply(c) == 226 ? 0 : -1;
fail:
	conn_close(&d);
	return -1;
}

/* ---- download ------------------------------------------------------------ */

static int mode_download(void)
{
	struct conn c;
	char *buf = malloc(DATA_BUF);
	uint64_t bytes = 0;
	double t0 = 0, t1, deadline = 0;
	int rc;

	if (!buf)
		die("out of memory");
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if (ftp_login(&c, NULL) < 0)
		die("login failed: %s", c.line);
	if (cmd(&c, "TYPE I") != 200)
		die("TYPE I refused: %s", c.line);
	if (opt.secs > 0)
		deadline = now_s() + opt.secs;
	rc = ftp_retr(&c, opt.path, buf, DATA_BUF, &bytes, &t0, deadline);
	t1 = now_s();
	if (rc < 0)
		die("RETR failed after %llu bytes: %s", (unsigned long long)bytes, c.line);
	if (c.ssl && opt.verbose)
		fprintf(stderr, "tls %s %s data_resumed=%lu\n", SSL_get_version(c.ssl),
			SSL_get_cipher_name(c.ssl), atomic_load(&g_resumed));
	if (rc == 0)
		cmd(&c, "QUIT");
	conn_close(&c);
	printf("bytes=%llu secs=%.3f mbps=%.1f client_cpu_s=%.3f%s\n", (unsigned long long)bytes,
	       t1 - t0, (double)bytes / (t1 - t0) / 1e6, cpu_self_s(), rc == 1 ? " cut=1" : "");
	free(buf);
	return 0;
}

/* ---- sessions ------------------------------------------------------------ */

static atomic_ulong g_done, g_fail;
static atomic_int g_running; /* session threads not yet returned */
static double g_deadline;
static char g_first_error[256];
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_error(const char *what, const struct conn *c)
{
	pthread_mutex_lock(&g_err_lock);
	if (!g_first_error[0])
		snprintf(g_first_error, sizeof(g_first_error), "%s (%s) last reply: %.120s",
			 what, strerror(errno), c->line);
	pthread_mutex_unlock(&g_err_lock);
}

static void src_addr(int i, struct sockaddr_in *src)
{
	memset(src, 0, sizeof(*src));
	src->sin_family = AF_INET;
	if (opt.addrs > 0)
		src->sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % opt.addrs));
}

static void *session_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	char buf[16384];
	struct sockaddr_in src;

	src_addr(id, &src);
	while (now_s() < g_deadline) {
		struct conn c;
		uint64_t bytes = 0;
		int ok = 0;

		memset(&c, 0, sizeof(c));
		c.fd = -1;
		if (ftp_login(&c, &src) < 0) {
			note_error("login", &c);
		} else if (cmd(&c, "TYPE I") != 200) {
			note_error("TYPE I", &c);
		} else if (ftp_retr(&c, opt.path, buf, sizeof(buf), &bytes, NULL, 0) != 0 ||
			   bytes == 0) {
			note_error("RETR", &c);
		} else if (cmd(&c, "QUIT") != 221) {
			note_error("QUIT", &c);
		} else {
			ok = 1;
		}
		conn_close(&c);
		/* A session counts when it completed within the measured time. */
		if (now_s() <= g_deadline) {
			if (ok)
				atomic_fetch_add(&g_done, 1);
			else
				atomic_fetch_add(&g_fail, 1);
		}
		if (!ok)
			usleep(10000); /* do not spin on a refusing server */
	}
	atomic_fetch_sub(&g_running, 1);
	return NULL;
}

static pthread_t *start_threads(int n, void *(*fn)(void *))
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	pthread_attr_t attr;
	int i;

	if (!t)
		die("out of memory");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], &attr, fn, (void *)(intptr_t)i) != 0)
			die("pthread_create %d failed", i);
	pthread_attr_destroy(&attr);
	return t;
}

static int mode_sessions(void)
{
	pthread_t *t;
	double t0;
	int i;

	t0 = now_s();
	g_deadline = t0 + opt.secs;
	atomic_store(&g_running, opt.clients);
	t = start_threads(opt.clients, session_thread);
	/* Sessions still running at the deadline do not count: give them a
	 * second to end, then report without waiting for stragglers (a client
	 * stuck in a SYN retry against a full backlog would hold us for tens
	 * of seconds). */
	while (now_s() < g_deadline + 1.0 && atomic_load(&g_running) > 0)
		usleep(20000);
	unsigned long done = atomic_load(&g_done), fail = atomic_load(&g_fail);

	printf("sessions=%lu failures=%lu secs=%.1f rate=%.1f client_cpu_ms_per_session=%.2f"
	       " stragglers=%d tls_resumed=%lu\n",
	       done, fail, opt.secs, (double)done / opt.secs,
	       done ? cpu_self_s() * 1e3 / (double)done : 0.0, atomic_load(&g_running),
	       atomic_load(&g_resumed));
	if (fail && g_first_error[0])
		fprintf(stderr, "ftpload: first failure: %s\n", g_first_error);
	fflush(stdout);
	fflush(stderr);
	if (atomic_load(&g_running) > 0)
		_exit(done > 0 ? 0 : 1); /* threads still blocked: no cleanup */
	for (i = 0; i < opt.clients; i++)
		pthread_join(t[i], NULL);
	free(t);
	return done > 0 ? 0 : 1;
}

/* ---- idle ----------------------------------------------------------------- */

static struct conn **g_idle;
static atomic_int g_next;

/* Each worker logs in connections from a shared counter until all are up. */
static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int i = atomic_fetch_add(&g_next, 1);
		struct sockaddr_in src;
		struct conn *c;

		if (i >= opt.clients || now_s() > g_deadline)
			break;
		c = calloc(1, sizeof(*c));
		if (!c) {
			atomic_fetch_add(&g_fail, 1);
			continue;
		}
		c->fd = -1;
		src_addr(i, &src);
		if (ftp_login(c, &src) < 0) {
			note_error("login", c);
			conn_close(c);
			free(c);
			atomic_fetch_add(&g_fail, 1);
			continue;
		}
		g_idle[i] = c;
		atomic_fetch_add(&g_done, 1);
	}
	return NULL;
}

static int mode_idle(void)
{
	int workers = opt.clients < 16 ? opt.clients : 16, i;
	unsigned long up;
	pthread_t *t;
	double t0 = now_s();

	g_idle = calloc((size_t)opt.clients, sizeof(*g_idle));
	if (!g_idle)
		die("out of memory");
	g_deadline = t0 + 600; /* opening must finish within 10 minutes */
	t = start_threads(workers, idle_thread);
	for (i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	free(t);
	up = atomic_load(&g_done);
	printf("ready %lu failures=%lu open_secs=%.1f\n", up, atomic_load(&g_fail),
	       now_s() - t0);
	fflush(stdout);
	if (g_first_error[0])
		fprintf(stderr, "ftpload: first failure: %s\n", g_first_error);
	if (opt.secs > 0) {
		double end = now_s() + opt.secs;

		while (now_s() < end)
			usleep(50000);
	} else {
		char b[64];

		while (read(0, b, sizeof(b)) > 0)
			;
	}
	for (i = 0; i < opt.clients; i++) {
		if (!g_idle[i])
			continue;
		conn_close(g_idle[i]); /* no QUIT: closing 10,000 fast */
		free(g_idle[i]);
	}
	free(g_idle);
	printf("done\n");
	return up == (unsigned long)opt.clients ? 0 : 1;
}

/* ---- loopback bandwidth --------------------------------------------------- */

static int g_lb_fd;
static double g_lb_secs;
static double g_lb_cpu; /* the writer thread's CPU seconds */
static int g_lb_pin;

static double cpu_thread_s(void);
static int can_pin(void);
static int pin_self(int cpu);

static void *lb_writer(void *arg)
{
	char *buf = malloc(DATA_BUF);
	double end = now_s() + g_lb_secs;

	(void)arg;
	if (g_lb_pin)
		pin_self(1);
	if (!buf)
		return NULL;
	memset(buf, 0x5a, DATA_BUF);
	while (now_s() < end)
		if (write(g_lb_fd, buf, DATA_BUF) <= 0)
			break;
	g_lb_cpu = cpu_thread_s();
	shutdown(g_lb_fd, SHUT_WR);
	free(buf);
	return NULL;
}


/* A connected loopback pair: *cfd the client end, *sfd the accepted one;
 * returns the listening socket (dies on failure). */
static int loopback_pair(int *cfd, int *sfd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("listen: %s", strerror(errno));
	*cfd = tcp_connect("127.0.0.1", ntohs(sa.sin_port), NULL);
	*sfd = accept(lfd, NULL, NULL);
	if (*cfd < 0 || *sfd < 0)
		die("connect: %s", strerror(errno));
	return lfd;
}

static int mode_loopback(void)
{
	int lfd, rfd;
	pthread_t th;
	char *buf = malloc(DATA_BUF);
	uint64_t bytes = 0;
	double t0, t1;

	if (!buf)
		die("out of memory");
	lfd = loopback_pair(&rfd, &g_lb_fd);
	g_lb_secs = opt.secs;
	/* -b: writer on CPU 1, reader on CPU 0, as the downloads */
	g_lb_pin = opt.batch && can_pin() && pin_self(0);
	t0 = now_s();
	double c0 = cpu_thread_s();
	if (pthread_create(&th, NULL, lb_writer, NULL) != 0)
		die("pthread_create");
	for (;;) {
		ssize_t r = read(rfd, buf, DATA_BUF);

		if (r <= 0)
			break;
		bytes += (uint64_t)r;
	}
	t1 = now_s();
	double rcpu = cpu_thread_s() - c0;
	pthread_join(th, NULL);
	double gib = (double)bytes / 1073741824.0;
	printf("bytes=%llu secs=%.3f mbps=%.1f writer_cpu_s_per_gib=%.3f reader_cpu_s_per_gib=%.3f"
	       " pinned=%s\n",
	       (unsigned long long)bytes, t1 - t0, (double)bytes / (t1 - t0) / 1e6,
	       gib > 0 ? g_lb_cpu / gib : 0.0, gib > 0 ? rcpu / gib : 0.0,
	       g_lb_pin ? "writer:1,reader:0" : "no");
	close(rfd);
	close(g_lb_fd);
	close(lfd);
	free(buf);
	return 0;
}

/* ---- TLS stream ceiling --------------------------------------------------- */

/* CPU seconds of the calling thread. */
static double cpu_thread_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether this process may run on CPUs 0 and 1 (asked before pinning). */
static int can_pin(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(0, &set) &&
	       CPU_ISSET(1, &set);
}

/* Pin the calling thread to cpu. */
static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

struct ts_server {
	SSL_CTX *ctx;
	int fd;
	double secs;
	int pin;
	double cpu; /* out: the thread's CPU seconds */
	uint64_t bytes;
	const char *err;
};

static void *ts_server_thread(void *arg)
{
	struct ts_server *sv = arg;
	char *buf = malloc(DATA_BUF);
	SSL *ssl = SSL_new(sv->ctx);
	double end;

	if (sv->pin)
		pin_self(1);
	if (!buf || !ssl || SSL_set_fd(ssl, sv->fd) != 1) {
		sv->err = "SSL_new";
		goto out;
	}
	if (opt.batch) {
		BIO *sock = BIO_new_socket(sv->fd, BIO_NOCLOSE), *wb = BIO_new(BIO_f_buffer());

		if (!sock || !wb || BIO_set_write_buffer_size(wb, 4 * (16384 + 128)) != 1 ||
		    BIO_up_ref(sock) != 1) {
			sv->err = "BIO_new";
			goto out;
		}
		BIO_push(wb, sock);
		SSL_set_bio(ssl, sock, wb);
	}
	for (size_t i = 0; i < DATA_BUF; i++) /* not all zeros; AES-GCM does not care */
		buf[i] = (char)(i * 131u + (i >> 9));
	if (SSL_accept(ssl) != 1) {
		sv->err = "server handshake";
		goto out;
	}
	end = now_s() + sv->secs;
	while (now_s() < end) {
		size_t put = 0;

		if (SSL_write_ex(ssl, buf, DATA_BUF, &put) != 1) {
			sv->err = "SSL_write";
			goto out;
		}
		sv->bytes += put;
		if (opt.batch && BIO_flush(SSL_get_wbio(ssl)) <= 0) {
			sv->err = "flush";
			goto out;
		}
	}
	SSL_shutdown(ssl);
	if (opt.batch)
		BIO_flush(SSL_get_wbio(ssl));
out:
	sv->cpu = cpu_thread_s();
	shutdown(sv->fd, SHUT_WR);
	SSL_free(ssl);
	free(buf);
	return NULL;
}

static int mode_tlsstream(const char *cert, const char *key)
{
	struct ts_server sv = { 0 };
	struct conn c;
	pthread_t th;
	char *buf = malloc(DATA_BUF);
	uint64_t bytes = 0;
	double t0, t1, c0, ccpu;
	int lfd, pinned;

	if (!buf)
		die("out of memory");
	sv.ctx = SSL_CTX_new(TLS_server_method());
	if (!sv.ctx || SSL_CTX_use_certificate_chain_file(sv.ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sv.ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_set_min_proto_version(sv.ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(sv.ctx, "TLS_AES_128_GCM_SHA256") != 1)
		die("cannot load %s / %s", cert, key);
	SSL_CTX_set_num_tickets(sv.ctx, 0);
	memset(&c, 0, sizeof(c));
	lfd = loopback_pair(&c.fd, &sv.fd);
	if (c.fd < 0 || sv.fd < 0)
		die("connect: %s", strerror(errno));
	set_timeouts(sv.fd);
	sv.secs = opt.secs;
	pinned = can_pin() && pin_self(0);
	sv.pin = pinned;
	if (pthread_create(&th, NULL, ts_server_thread, &sv) != 0)
		die("pthread_create");
	if (tls_start(&c, NULL) < 0)
		die("client handshake failed");
	t0 = now_s();
	c0 = cpu_thread_s();
	for (;;) {
		ssize_t r = conn_read(&c, buf, DATA_BUF);

		if (r <= 0)
			break;
		bytes += (uint64_t)r;
	}
	t1 = now_s();
	ccpu = cpu_thread_s() - c0;
	pthread_join(th, NULL);
	if (sv.err)
		die("server: %s", sv.err);
	if (bytes != sv.bytes)
		die("received %llu of %llu bytes", (unsigned long long)bytes,
		    (unsigned long long)sv.bytes);
	double gib = (double)bytes / 1073741824.0;
	printf("bytes=%llu secs=%.3f mbps=%.1f server_cpu_s_per_gib=%.3f "
	       "client_cpu_s_per_gib=%.3f %s %s server_write=%s pinned=%s\n",
	       (unsigned long long)bytes, t1 - t0, (double)bytes / (t1 - t0) / 1e6,
	       gib > 0 ? sv.cpu / gib : 0.0, gib > 0 ? ccpu / gib : 0.0, SSL_get_version(c.ssl),
	       SSL_get_cipher_name(c.ssl), opt.batch ? "batched" : "records",
	       pinned ? "server:1,client:0" : "no");
	conn_close(&c);
	close(lfd);
	SSL_CTX_free(sv.ctx);
	free(buf);
	return 0;
}

/* ---- TLS handshake cost --------------------------------------------------- */

/* One handshake over a BIO pair, client and server in this thread; the CPU
 * of each side (SSL_new .. SSL_free) is added to *cli and *srv.  With
 * resume, the client offers that session; with keep, the client's session
 * (after reading its ticket) is returned there.  0 or -1. */
static int hs_once(SSL_CTX *sctx, SSL_SESSION *resume, SSL_SESSION **keep, int *reused,
		   double *cli, double *srv)
{
	double t = cpu_thread_s(), u;
	SSL *sv = SSL_new(sctx);
	BIO *bs = NULL, *bc = NULL;
	int k, rc = 0, rs = 0;
	char b[1];

	u = cpu_thread_s();
	*srv += u - t;
	SSL *cl = SSL_new(g_ctx);
	if (!sv || !cl || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		die("SSL_new failed");
	SSL_set_bio(sv, bs, bs);
	SSL_set_bio(cl, bc, bc);
	SSL_set_accept_state(sv);
	SSL_set_connect_state(cl);
	if (resume)
		SSL_set_session(cl, resume);
	t = cpu_thread_s();
	*cli += t - u;
	for (k = 0; k < 20 && !(rc == 1 && rs == 1); k++) {
		u = cpu_thread_s();
		if (rc != 1)
			rc = SSL_do_handshake(cl);
		t = cpu_thread_s();
		*cli += t - u;
		if (rs != 1)
			rs = SSL_do_handshake(sv);
		u = cpu_thread_s();
		*srv += u - t;
	}
	if (rc != 1 || rs != 1)
		return -1;
	/* The client takes its ticket (TLS 1.3 sends it after the handshake). */
	t = cpu_thread_s();
	(void)SSL_read(cl, b, sizeof(b));
	*reused = SSL_session_reused(cl);
	if (keep)
		*keep = SSL_get1_session(cl);
	/* A clean end: SSL_free of an unfinished connection would mark its
	 * session not resumable. */
	SSL_set_shutdown(cl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(cl);
	u = cpu_thread_s();
	*cli += u - t;
	SSL_free(sv);
	*srv += cpu_thread_s() - u;
	return 0;
}

/* Full and resumed TLS 1.3 handshakes, client and server in this process over
 * a BIO pair, with the benchmark's certificate and pubmirrord's choices (one
 * ticket per full handshake, as after an FTPS login; none on a resumption, as
 * on a data connection; PSK with (EC)DHE): the CPU floor of every FTPS
 * session on this machine with this OpenSSL.  Line 1: full handshakes per CPU
 * second, both sides counted.  Line 2: each side's CPU per full and resumed
 * handshake, in microseconds. */
static int mode_handshake(const char *cert, const char *key)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_SESSION **sess = calloc(HS_SESSIONS_MAX, sizeof(*sess));
	double t0, c0, end, fcli = 0, fsrv = 0, rcli = 0, rsrv = 0, cpu;
	unsigned long n = 0, nr = 0, i;
	int reused = 0;

	if (!sctx || !sess || SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load %s / %s", cert, key);
	SSL_CTX_set_session_id_context(sctx, (const unsigned char *)"hs", 2);
	SSL_CTX_set_num_tickets(sctx, 1);
	t0 = now_s();
	c0 = cpu_self_s();
	end = t0 + opt.secs / 2;
	while (now_s() < end && n < HS_SESSIONS_MAX) {
		if (hs_once(sctx, NULL, &sess[n], &reused, &fcli, &fsrv) != 0 || !sess[n])
			die("handshake did not complete");
		n++;
	}
	cpu = cpu_self_s() - c0;
	printf("handshakes=%lu cpu_s=%.2f per_cpu_s=%.0f %s\n", n, cpu, (double)n / cpu,
	       OpenSSL_version(OPENSSL_VERSION));
	/* Each ticket is offered once, as a data connection offers its
	 * control connection's (OpenSSL clients use a TLS 1.3 ticket once). */
	SSL_CTX_set_num_tickets(sctx, 0);
	end = now_s() + opt.secs / 2;
	c0 = cpu_self_s();
	while (now_s() < end && nr < n) {
		if (hs_once(sctx, sess[nr], NULL, &reused, &rcli, &rsrv) != 0 || !reused)
			die("resumption did not complete");
		nr++;
	}
	cpu = cpu_self_s() - c0;
	if (nr == 0)
		die("no resumption");
	printf("sides full_client_us=%.0f full_server_us=%.0f resumed_client_us=%.0f"
	       " resumed_server_us=%.0f resumed=%lu resumed_rate=%.0f\n",
	       fcli * 1e6 / (double)n, fsrv * 1e6 / (double)n, rcli * 1e6 / (double)nr,
	       rsrv * 1e6 / (double)nr, nr, (double)nr / cpu);
	for (i = 0; i < n; i++)
		SSL_SESSION_free(sess[i]);
	free(sess);
	SSL_CTX_free(sctx);
	return 0;
}

/* ---- process trees -------------------------------------------------------- */

/* Fields of /proc/PID/stat after the command: state is field 3. */
static int read_stat(int pid, int *ppid, unsigned long long cpu[4])
{
	char path[64], b[2048];
	FILE *f;
	char *p;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = '\0';
	p = strrchr(b, ')');
	if (!p)
		return -1;
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 *  utime stime cutime cstime" */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
		   ppid, &cpu[0], &cpu[1], &cpu[2], &cpu[3]) != 5)
		return -1;
	return 0;
}

/* Collect root and all its descendants into out (max n); returns count. */
static int tree_pids(int root, int *out, int n)
{
	static int pids[65536], ppids[65536];
	int np = 0, count = 0, i, changed;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)) && np < 65536) {
		unsigned long long cpu[4];
		int pid, ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = (int)strtol(e->d_name, NULL, 10);
		if (read_stat(pid, &ppid, cpu) < 0)
			continue;
		pids[np] = pid;
		ppids[np] = ppid;
		np++;
	}
	closedir(d);
	/* Fixed point over a membership map indexed by pid (pid_max <= 2^22). */
	static unsigned char in[1 << 22];
	memset(in, 0, sizeof(in));
	if (root <= 0 || root >= (1 << 22))
		return 0;
	in[root] = 1;
	out[count++] = root;
	do {
		changed = 0;
		for (i = 0; i < np; i++) {
			if (pids[i] >= (1 << 22) || ppids[i] <= 0 || ppids[i] >= (1 << 22))
				continue;
			if (in[ppids[i]] && !in[pids[i]] && count < n) {
				in[pids[i]] = 1;
				out[count++] = pids[i];
				changed = 1;
			}
		}
	} while (changed);
	return count;
}

static long status_kib(int pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0) {
			v = strtol(line + kl, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int mode_tree(int root)
{
	static int set[65536];
	int n = tree_pids(root, set, 65536), i;
	long rss = 0, pss = 0;

	for (i = 0; i < n; i++) {
		long r = status_kib(set[i], "status", "VmRSS:");
		long p = status_kib(set[i], "smaps_rollup", "Pss:");

		if (r > 0)
			rss += r;
		if (p > 0)
			pss += p;
	}
	if (n == 0 || status_kib(root, "status", "VmRSS:") < 0)
		die("no process %d", root);
	printf("rss_kib=%ld pss_kib=%ld procs=%d\n", rss, pss, n);
	return 0;
}

static int mode_cpu(int root)
{
	static int set[65536];
	int n = tree_pids(root, set, 65536), i;
	unsigned long long total = 0;
	long hz = sysconf(_SC_CLK_TCK);

	for (i = 0; i < n; i++) {
		unsigned long long cpu[4];
		int ppid;

		if (read_stat(set[i], &ppid, cpu) < 0)
			continue;
		/* cutime/cstime hold the children already reaped. */
		total += cpu[0] + cpu[1] + cpu[2] + cpu[3];
	}
	if (n == 0)
		die("no process %d", root);
	printf("cpu_s=%.2f procs=%d\n", (double)total / (double)hz, n);
	return 0;
}

/* ---- ports ---------------------------------------------------------------- */

static int try_bind(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok, one = 1;

	/* As the servers bind: a port whose old connections linger in
	 * TIME_WAIT is free for them. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (ok && port == 0) {
		socklen_t sl = sizeof(sa);

		getsockname(fd, (struct sockaddr *)&sa, &sl);
		ok = ntohs(sa.sin_port);
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int mode_ports(int n)
{
	int got[64], k = 0, tries = 0, i;

	/* Ports below the ephemeral range, so that clients' own connections
	 * cannot take them between this check and the servers' bind. */
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	while (k < n && tries++ < 10000) {
		int p = 10000 + rand() % 20000, dup = 0;

		for (i = 0; i < k; i++)
			dup |= got[i] == p;
		if (!dup && try_bind(p))
			got[k++] = p;
	}
	if (k < n)
		die("no free ports");
	for (i = 0; i < k; i++)
		printf("%d\n", got[i]);
	return 0;
}

static int mode_range(int n)
{
	int tries;

	srand((unsigned)getpid() ^ (unsigned)time(NULL) ^ 0x5555u);
	for (tries = 0; tries < 500; tries++) {
		int lo = 10000 + rand() % (30000 - 10000 - n), p;

		for (p = lo; p < lo + n; p++)
			if (!try_bind(p))
				break;
		if (p == lo + n) {
			printf("%d %d\n", lo, lo + n - 1);
			return 0;
		}
	}
	die("no free range of %d ports", n);
	return 1;
}

static int mode_wait(int port, double secs)
{
	double end = now_s() + secs;

	for (;;) { /* at least one try, even with SECS 0 */
		int fd = tcp_connect("127.0.0.1", port, NULL);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (now_s() >= end)
			break;
		usleep(50000);
	}
	fprintf(stderr, "ftpload: nothing accepts on port %d after %.0f s\n", port, secs);
	return 1;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: ftpload download|sessions|idle -p PORT [-H HOST] [-f PATH] [-t]\n"
	      "               [-c CLIENTS] [-d SECS] [-a ADDRS] [-v]\n"
	      "       ftpload loopback -d SECS [-b] | handshake -d SECS -f CERT,KEY\n"
	      "       ftpload tlsstream -d SECS -f CERT,KEY [-b]\n"
	      "       ftpload tree PID | cpu PID | ports N | range N\n"
	      "       ftpload wait PORT SECS\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode;
	int c;

	if (argc < 2)
		usage();
	mode = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "tree") && argc == 3)
		return mode_tree((int)parse_long(argv[2], 1, 1 << 30, "pid"));
	if (!strcmp(mode, "cpu") && argc == 3)
		return mode_cpu((int)parse_long(argv[2], 1, 1 << 30, "pid"));
	if (!strcmp(mode, "ports") && argc == 3)
		return mode_ports((int)parse_long(argv[2], 1, 64, "count"));
	if (!strcmp(mode, "range") && argc == 3)
		return mode_range((int)parse_long(argv[2], 1, 5000, "count"));
	if (!strcmp(mode, "wait") && argc == 4)
		return mode_wait((int)parse_long(argv[2], 1, 65535, "port"),
				 (double)parse_long(argv[3], 0, 3600, "seconds"));
	optind = 2;
	while ((c = getopt(argc, argv, "H:p:f:tc:d:a:vb")) != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = (int)parse_long(optarg, 1, 65535, "port"); break;
		case 'f': opt.path = optarg; break;
		case 't': opt.tls = 1; break;
		case 'c': opt.clients = (int)parse_long(optarg, 1, SESSIONS_MAX, "clients"); break;
		case 'd': opt.secs = (double)parse_long(optarg, 0, 3600, "seconds"); break;
		case 'a': opt.addrs = (int)parse_long(optarg, 0, 250, "addresses"); break;
		case 'v': opt.verbose++; break;
		case 'b': opt.batch = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.secs < 0) /* defaults: download unbounded, others 10 s */
		opt.secs = strcmp(mode, "download") ? 10.0 : 0.0;
	if (!strcmp(mode, "loopback"))
		return mode_loopback();
	tls_init();
	if (!strcmp(mode, "handshake") || !strcmp(mode, "tlsstream"))
		opt.port = 1; /* no network */
	if (!opt.port)
		usage();
	if (!strcmp(mode, "download") && opt.path)
		return mode_download();
	if (!strcmp(mode, "sessions") && opt.path)
		return mode_sessions();
	if (!strcmp(mode, "idle"))
		return mode_idle();
	if (!strcmp(mode, "handshake") && opt.path && optind == argc) {
		char *comma = strchr(opt.path, ',');

		if (!comma)
			usage();
		*comma = '\0';
		return mode_handshake(opt.path, comma + 1);
	}
	if (!strcmp(mode, "tlsstream") && opt.path) {
		char *comma = strchr(opt.path, ',');

		if (!comma)
			usage();
		*comma = '\0';
		return mode_tlsstream(opt.path, comma + 1);
	}
	usage();
	return 2;
}
