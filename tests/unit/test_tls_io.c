/* test_tls_io.c - the connection that hides TLS, over real sockets: the
 * plain operations, then a real OpenSSL client against tls_io on a
 * non-blocking socket (handshake, read, write, sendfile through TLS,
 * close_notify), and the data-connection binding: a data connection
 * counts as resumed only with the session of its own control connection. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* -Idaemon makes <limits.h> find daemon/limits.h, so the system's INT_MAX
 * (used by OpenSSL's err.h) is missing; take the compiler's. */
#ifndef INT_MAX
#define INT_MAX __INT_MAX__
#endif
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"
#include "tls_io.h"
#include "unit.h"

#define FILE_BYTES 200000u
#define WAIT_MS 10000 /* whole-step bound; only a broken build waits this long */

static char tmpdir[256];
static char file_path[300];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int make_file(void)
{
	snprintf(file_path, sizeof(file_path), "%s/data.bin", tmpdir);
	FILE *f = fopen(file_path, "wb");
	if (f == NULL)
		return -1;
	for (unsigned i = 0; i < FILE_BYTES; i++)
		fputc((int)((i * 7u + i / 251u) & 0xff), f);
	return fclose(f);
}

static int file_byte_ok(const unsigned char *b, size_t n)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i] != (unsigned char)((i * 7u + i / 251u) & 0xff))
			return 0;
	return 1;
}

static void wait_fd(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	poll(&p, 1, 100);
}

/* Drive an operation that says -1/EAGAIN until it gives something else,
 * within WAIT_MS. */
static int hs_loop(struct conn *c, char *why, size_t whysz)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		int r = tls_io_handshake(c, why, whysz);
		if (r == 1 || errno != EAGAIN)
			return r;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		poll(&p, 1, 10);
	}
	return -1;
}

static int write_all(struct conn *c, const char *p, size_t n)
{
	size_t done = 0;
	for (int i = 0; done < n && i < WAIT_MS / 10; i++) {
		ssize_t w = c->ops->write(c, p + done, n - done);
		if (w > 0)
			done += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			return -1;
		else
			wait_fd(c->fd);
	}
	return done == n ? 0 : -1;
}

static int read_exact(struct conn *c, char *p, size_t n)
{
	size_t got = 0;
	for (int i = 0; got < n && i < WAIT_MS / 10; i++) {
		ssize_t r = c->ops->read(c, p + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EAGAIN)
			return -1;
		else
			wait_fd(c->fd);
	}
	return got == n ? 0 : -1;
}

static int sendfile_all(struct conn *c, int fd, uint64_t size)
{
	uint64_t off = 0;
	for (int i = 0; off < size && i < WAIT_MS; i++) {
		ssize_t w = c->ops->sendfile(c, fd, &off, (size_t)(size - off));
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w <= 0)
			wait_fd(c->fd);
	}
	return off == size ? 0 : -1;
}

static int shutdown_all(struct conn *c)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		int r = c->ops->shutdown(c);
		if (r == 1)
			return 0;
		if (errno != EAGAIN)
			return -1;
		wait_fd(c->fd);
	}
	return -1;
}

static void test_plain(void)
{
	int sv[2];
	char b[16];
	struct conn c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
		CHECK("socketpair", 0);
		return;
	}
	conn_init(&c, sv[0]);
	CHECK_INT("plain: not TLS", 0, c.tls);
	CHECK_INT("plain: write", 0, write_all(&c, "hello", 5));
	CHECK_INT("plain: the peer reads it", 5, read(sv[1], b, sizeof(b)));
	CHECK_INT("plain: read says EAGAIN when empty", -1, c.ops->read(&c, b, sizeof(b)));
	CHECK_INT("plain: errno EAGAIN", EAGAIN, errno);
	CHECK_INT("plain: peer writes", 4, write(sv[1], "ping", 4));
	CHECK_INT("plain: read", 0, read_exact(&c, b, 4));
	CHECK("plain: read bytes", memcmp(b, "ping", 4) == 0);

	int fd = open(file_path, O_RDONLY);
	uint64_t off = 1000;
	ssize_t w = c.ops->sendfile(&c, fd, &off, 100);
	CHECK_INT("plain: sendfile sends", 100, w);
	CHECK_INT("plain: sendfile advances the offset", 1100, off);
	unsigned char fb[100];
	CHECK_INT("plain: peer reads the file bytes", 100, read(sv[1], fb, sizeof(fb)));
	unsigned char want[100];
	for (unsigned i = 0; i < 100; i++)
		want[i] = (unsigned char)(((1000 + i) * 7u + (1000 + i) / 251u) & 0xff);
	CHECK("plain: file bytes right", memcmp(fb, want, 100) == 0);
	close(fd);

	char d[64];
	tls_io_describe(&c, d, sizeof(d));
	CHECK_STR("plain: described", "plain", d);
	CHECK_INT("plain: shutdown", 0, shutdown_all(&c));
	CHECK_INT("plain: the peer sees the end", 0, read(sv[1], b, sizeof(b)));
	conn_close(&c);
	CHECK_INT("plain: closed", -1, c.fd);
	conn_close(&c); /* safe twice */
	close(sv[1]);
}

/* The client side: a blocking OpenSSL client in its own thread. */
struct client {
	int ctrl_fd, data_fd, data2_fd;
	/* results */
	int hs_ok, got_reply, resumable, file_ok, close_notify;
	int data_reused, data2_reused;
};

static void *client_main(void *p)
{
	struct client *cl = p;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_SESSION *sess = NULL;
	char b[16];

	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT);
	SSL *s = SSL_new(cctx);
	SSL_set_fd(s, cl->ctrl_fd);
	cl->hs_ok = SSL_connect(s) == 1;
	if (cl->hs_ok) {
		cl->got_reply = SSL_read(s, b, 8) == 8 && memcmp(b, "230 ok\r\n", 8) == 0;
		sess = SSL_get1_session(s);
		cl->resumable = sess != NULL && SSL_SESSION_is_resumable(sess);
		SSL_write(s, "RETR\r\n", 6);
		unsigned char *fb = malloc(FILE_BYTES);
		size_t got = 0;
		while (fb && got < FILE_BYTES) {
			int n = SSL_read(s, fb + got, (int)(FILE_BYTES - got));
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		cl->file_ok = fb && got == FILE_BYTES && file_byte_ok(fb, got);
		free(fb);
		int n = SSL_read(s, b, sizeof(b));
		cl->close_notify = n == 0 && SSL_get_error(s, n) == SSL_ERROR_ZERO_RETURN;
		/* answer it: OpenSSL marks the session of a connection freed
		 * without a shutdown as not resumable */
		SSL_shutdown(s);
	}
	SSL_free(s);

	/* a data connection resuming the control connection's session */
	s = SSL_new(cctx);
	SSL_set_fd(s, cl->data_fd);
	if (sess)
		SSL_set_session(s, sess);
	if (SSL_connect(s) == 1) {
		cl->data_reused = SSL_session_reused(s);
		SSL_write(s, "x", 1); /* the server reads it after its check */
	}
	SSL_free(s);
	close(cl->data_fd);

	/* one with a fresh session: not bound to the control connection */
	s = SSL_new(cctx);
	SSL_set_fd(s, cl->data2_fd);
	if (SSL_connect(s) == 1) {
		cl->data2_reused = SSL_session_reused(s);
		SSL_write(s, "x", 1);
	}
	SSL_free(s);
	close(cl->data2_fd);
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return NULL;
}

static void test_tls(void)
{
	int cv[2], dv[2], ev[2];
	char why[256] = "", b[16], d[96];
	struct conn ctrl, data, data2;
	struct client cl;
	pthread_t th;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, dv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ev) != 0) {
		CHECK("socketpairs", 0);
		return;
	}
	/* the server's ends are non-blocking, as in the daemon */
	fcntl(cv[0], F_SETFL, O_NONBLOCK);
	fcntl(dv[0], F_SETFL, O_NONBLOCK);
	fcntl(ev[0], F_SETFL, O_NONBLOCK);
	memset(&cl, 0, sizeof(cl));
	cl.ctrl_fd = cv[1];
	cl.data_fd = dv[1];
	cl.data2_fd = ev[1];
	pthread_create(&th, NULL, client_main, &cl);

	conn_init(&ctrl, cv[0]);
	CHECK_INT("tls: start on the control connection", 0, tls_io_start(&ctrl, NULL));
	CHECK_INT("tls: marked TLS", 1, ctrl.tls);
	CHECK_INT("tls: handshake over a non-blocking socket", 1, hs_loop(&ctrl, why, sizeof(why)));
	if (why[0])
		printf("# %s\n", why);
	tls_io_describe(&ctrl, d, sizeof(d));
	CHECK("tls: described with version and cipher",
	      strncmp(d, "TLSv1.", 6) == 0 && strchr(d, ' '));
	tls_io_issue_ticket(&ctrl); /* as after login */
	CHECK_INT("tls: write a reply", 0, write_all(&ctrl, "230 ok\r\n", 8));
	CHECK_INT("tls: read a command", 0, read_exact(&ctrl, b, 6));
	CHECK("tls: command bytes", memcmp(b, "RETR\r\n", 6) == 0);
	int fd = open(file_path, O_RDONLY);
	CHECK_INT("tls: sendfile through TLS", 0, sendfile_all(&ctrl, fd, FILE_BYTES));
	close(fd);
	CHECK_INT("tls: close_notify sent", 0, shutdown_all(&ctrl));

	conn_init(&data, dv[0]);
	CHECK_INT("tls: start a data connection", 0, tls_io_start(&data, &ctrl));
	CHECK_INT("tls: data handshake", 1, hs_loop(&data, why, sizeof(why)));
	CHECK_INT("tls: data connection resumed its control's session", 1,
	          tls_io_reused(&data, &ctrl));
	read_exact(&data, b, 1);

	conn_init(&data2, ev[0]);
	CHECK_INT("tls: start a second data connection", 0, tls_io_start(&data2, &ctrl));
	CHECK_INT("tls: second data handshake", 1, hs_loop(&data2, why, sizeof(why)));
	CHECK_INT("tls: a fresh session is not taken for the control's", 0,
	          tls_io_reused(&data2, &ctrl));
	read_exact(&data2, b, 1);

	pthread_join(th, NULL);
	CHECK_INT("client: handshake", 1, cl.hs_ok);
	CHECK_INT("client: read the reply", 1, cl.got_reply);
	CHECK_INT("client: got a resumable session (the ticket)", 1, cl.resumable);
	CHECK_INT("client: the file arrived whole and right", 1, cl.file_ok);
	CHECK_INT("client: saw close_notify", 1, cl.close_notify);
	CHECK_INT("client: data connection resumed", 1, cl.data_reused);
	CHECK_INT("client: second data connection not resumed", 0, cl.data2_reused);

	conn_close(&data2);
	conn_close(&data);
	conn_close(&ctrl);
	CHECK_INT("tls: closed", -1, ctrl.fd);
	close(cv[1]);
}

int main(void)
{
	char err[512] = "";

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "%s/pm-tlsio.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL || make_file() != 0) {
		printf("not ok - set-up: %s\n", strerror(errno));
		return 1;
	}
	struct config *c = calloc(1, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "%s/state", tmpdir);
	CHECK_INT("tls_init", 0, tls_init(c, err, sizeof(err)));
	if (err[0])
		printf("# %s\n", err);
	CHECK_INT("tls_io_init", 0, tls_io_init());
	test_plain();
	test_tls();
	tls_shutdown();
	free(c);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
