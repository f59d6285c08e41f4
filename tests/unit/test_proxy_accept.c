/* test_proxy_accept.c - the one PROXY header reader (proxy_accept_step,
 * used by HTTPS's accept thread and by FTP's control and data connections)
 * on socket pairs, fed in pieces: partial headers wait, over-long and
 * malformed ones and control bytes are refused, v1 and v2 name the client,
 * LOCAL names none, and the bytes after the header stay in the socket.
 * Then the accept thread over real loopback sockets: v1 and v2 headers
 * name the client, the bytes after the header reach the protocol
 * untouched, a connection without a header is closed, a LOCAL header
 * keeps the socket's peer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "net.h"
#include "proxy.h"
#include "proxy_accept.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int delivered_fd = -1;
static struct sockaddr_storage delivered_peer, delivered_local;

static int deliver(void *arg, int fd, const struct sockaddr_storage *peer, socklen_t peerlen,
                   const struct sockaddr_storage *local)
{
	(void)arg;
	(void)peerlen;
	pthread_mutex_lock(&mu);
	delivered_fd = fd;
	delivered_peer = *peer;
	delivered_local = *local;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

static int wait_delivery(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000 + 1;
	pthread_mutex_lock(&mu);
	while (delivered_fd < 0 && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		;
	int fd = delivered_fd;
	delivered_fd = -1;
	pthread_mutex_unlock(&mu);
	return fd;
}

static int dial(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		exit(2);
	return fd;
}

/* Read what the protocol would see after the header. */
static void read_rest(int fd, char *out, size_t outsz, size_t want)
{
	size_t got = 0;
	for (int i = 0; i < 100 && got < want; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, 100);
		ssize_t r = read(fd, out + got, outsz - 1 - got);
		if (r > 0)
			got += (size_t)r;
	}
	out[got] = '\0';
}

/* 1 when the server closed the connection within ms. */
static int closed_by_server(int fd, int ms)
{
	char b[16];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return 0;
	return read(fd, b, sizeof(b)) <= 0; /* EOF, or a reset (unread bytes) */
}

static const char *host(const struct sockaddr_storage *a, char *out, size_t n)
{
	net_addr_str(a, 1, out, n);
	return out;
}

/* One reader case: the bytes are written in the given pieces, the reader
 * steps after each; "want" is its answer after the last piece, every
 * earlier piece must leave it waiting.  Then what is left in the socket
 * must be exactly "rest". */
struct step_case {
	const char *what;
	const char *piece[3];
	size_t len[3]; /* 0: strlen(piece) */
	enum proxy_step want;
	const char *peer; /* net_addr_str(..., 1) of *peer after ADDR */
	const char *rest; /* left for the protocol (ADDR and LOCAL) */
	int close_after;  /* the client closes after the last piece */
};

static void step_case_run(const struct step_case *t)
{
	int sv[2];
	char h[80], what[160], rest[PROXY_HEADER_MAX + 64];
	struct sockaddr_storage peer, local;
	const char *why = NULL;
	enum proxy_step r = PROXY_STEP_WAIT;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		exit(2);
	memset(&peer, 0, sizeof(peer));
	memset(&local, 0, sizeof(local));
	peer.ss_family = AF_UNIX; /* "untouched" is visible */
	for (int i = 0; i < 3 && t->piece[i]; i++) {
		size_t n = t->len[i] ? t->len[i] : strlen(t->piece[i]);
		if (write(sv[0], t->piece[i], n) != (ssize_t)n)
			exit(2);
		if (i == 2 || t->piece[i + 1] == NULL) {
			if (t->close_after)
				shutdown(sv[0], SHUT_WR);
			break;
		}
		r = proxy_accept_step(sv[1], &peer, &local, &why);
		snprintf(what, sizeof(what), "%s: piece %d waits", t->what, i + 1);
		CHECK_INT(what, PROXY_STEP_WAIT, r);
	}
	r = proxy_accept_step(sv[1], &peer, &local, &why);
	snprintf(what, sizeof(what), "%s: answer (why: %s)", t->what, why ? why : "-");
	CHECK_INT(what, t->want, r);
	if (r == PROXY_STEP_REFUSE) {
		snprintf(what, sizeof(what), "%s: says why", t->what);
		CHECK(what, why != NULL && why[0] != '\0');
	}
	if (t->want == PROXY_STEP_ADDR && r == PROXY_STEP_ADDR) {
		snprintf(what, sizeof(what), "%s: client address", t->what);
		CHECK_STR(what, t->peer, host(&peer, h, sizeof(h)));
	}
	if (t->want == PROXY_STEP_LOCAL) {
		snprintf(what, sizeof(what), "%s: peer untouched", t->what);
		CHECK_INT(what, AF_UNIX, peer.ss_family);
	}
	if (t->rest && r == t->want) {
		shutdown(sv[0], SHUT_WR);
		ssize_t got = recv(sv[1], rest, sizeof(rest) - 1, MSG_WAITALL);
		rest[got > 0 ? got : 0] = '\0';
		snprintf(what, sizeof(what), "%s: bytes after the header left in the socket",
		         t->what);
		CHECK_STR(what, t->rest, rest);
	}
	close(sv[0]);
	close(sv[1]);
}

static void step_cases(void)
{
	static char longv1[PROXY_HEADER_MAX + 1], v2long[16];
	static const char v2sig[] = "\r\n\r\n\0\r\nQUIT\n";
	/* v2 TCP4 198.51.100.9:5000 -> 192.0.2.1:21, then "USER" */
	static const char v2tcp4[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
	                             "\xc6\x33\x64\x09\xc0\x00\x02\x01\x13\x88\x00\x15USER";
	/* v2 LOCAL (a health check), no address block */
	static const char v2local[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00PING";

	memset(longv1, 'A', sizeof(longv1) - 1);
	memcpy(longv1, "PROXY TCP4 ", 11);
	memcpy(v2long, v2sig, 12);
	v2long[12] = 0x21;
	v2long[13] = 0x11;
	v2long[14] = 0x02; /* 16 + 0x200 + 0x10 > PROXY_HEADER_MAX */
	v2long[15] = 0x10;
	const struct step_case cases[] = {
	    {"v1 whole",
	     {"PROXY TCP4 203.0.113.7 192.0.2.1 40000 21\r\nUSER x\r\n"},
	     {0},
	     PROXY_STEP_ADDR,
	     "203.0.113.7:40000",
	     "USER x\r\n",
	     0},
	    {"v1 in three pieces",
	     {"PROX", "Y TCP6 2001:db8::7 2001:db8::1 ", "1 21\r\nAUTH"},
	     {0},
	     PROXY_STEP_ADDR,
	     "[2001:db8::7]:1",
	     "AUTH",
	     0},
	    {"v1 cut before CRLF",
	     {"PROXY TCP4 203.0.113.7 192.0.2.1 40000 21", "\r", "\n"},
	     {0},
	     PROXY_STEP_ADDR,
	     "203.0.113.7:40000",
	     "",
	     0},
	    {"v1 UNKNOWN", {"PROXY UNKNOWN\r\n220?"}, {0}, PROXY_STEP_LOCAL, NULL, "220?", 0},
	    /* peeked bytes hide the end of the stream: the reader waits and
	     * the caller's time limit ends the connection */
	    {"v1 partial, then closed",
	     {"PROXY TCP4 203.0.113.7"},
	     {0},
	     PROXY_STEP_WAIT,
	     NULL,
	     NULL,
	     1},
	    {"closed before any byte", {""}, {0}, PROXY_STEP_REFUSE, NULL, NULL, 1},
	    {"v1 over-long", {longv1}, {0}, PROXY_STEP_REFUSE, NULL, NULL, 0},
	    {"v1 with a NUL in an address",
	     {"PROXY TCP4 1.2.3.4\0x 192.0.2.1 1 21\r\n"},
	     {sizeof("PROXY TCP4 1.2.3.4\0x 192.0.2.1 1 21\r\n") - 1},
	     PROXY_STEP_REFUSE,
	     NULL,
	     NULL,
	     0},
	    {"v1 with a control byte",
	     {"PROXY TCP4 1.2.3.4 192.0.2.1\x01 1 21\r\n"},
	     {0},
	     PROXY_STEP_REFUSE,
	     NULL,
	     NULL,
	     0},
	    {"v1 with a non-ASCII byte",
	     {"PROXY TCP4 1.2.3.4 192.0.2.1 1 21\xff\r\n"},
	     {0},
	     PROXY_STEP_REFUSE,
	     NULL,
	     NULL,
	     0},
	    {"no header at all", {"USER anonymous\r\n"}, {0}, PROXY_STEP_REFUSE, NULL, NULL, 0},
	    {"v2 TCP4 in two pieces",
	     {v2tcp4, v2tcp4 + 7},
	     {7, sizeof(v2tcp4) - 1 - 7},
	     PROXY_STEP_ADDR,
	     "198.51.100.9:5000",
	     "USER",
	     0},
	    {"v2 LOCAL", {v2local}, {sizeof(v2local) - 1}, PROXY_STEP_LOCAL, NULL, "PING", 0},
	    {"v2 length over the limit",
	     {v2long},
	     {sizeof(v2long)},
	     PROXY_STEP_REFUSE,
	     NULL,
	     NULL,
	     0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		step_case_run(&cases[i]);
}

int main(void)
{
	struct sockaddr_storage a;
	struct sockaddr_in *in = (struct sockaddr_in *)&a;
	char err[128], rest[256], h[80];

	step_cases();
	memset(&a, 0, sizeof(a));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int lfd = net_listen(&a, sizeof(*in), 64, err, sizeof(err));
	CHECK("listen", lfd >= 0);
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	getsockname(lfd, (struct sockaddr *)&bound, &bl);
	unsigned port = net_port(&bound);
	struct proxy_accept *pa = proxy_accept_start(lfd, deliver, NULL, "test");
	CHECK("start", pa != NULL);

	/* v1, header and payload in one segment */
	int c = dial(port);
	const char *v1 = "PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\nhello";
	CHECK("send v1", write(c, v1, strlen(v1)) == (ssize_t)strlen(v1));
	int fd = wait_delivery(3000);
	CHECK("v1 delivered", fd >= 0);
	CHECK_STR("v1 client address", "203.0.113.7:40000", host(&delivered_peer, h, sizeof(h)));
	CHECK_STR("v1 local address", "192.0.2.1:443", host(&delivered_local, h, sizeof(h)));
	if (fd >= 0) {
		read_rest(fd, rest, sizeof(rest), 5);
		CHECK_STR("bytes after the header untouched", "hello", rest);
		close(fd);
	}
	close(c);

	/* v2 (binary), the header split over two segments, IPv6 */
	c = dial(port);
	unsigned char v2[16 + 36] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
	                             0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 36};
	inet_pton(AF_INET6, "2001:db8::42", v2 + 16);
	inet_pton(AF_INET6, "2001:db8::1", v2 + 32);
	v2[48] = 0x1f;
	v2[49] = 0x90; /* 8080 */
	v2[50] = 0x01;
	v2[51] = 0xbb; /* 443 */
	CHECK("send v2 part 1", write(c, v2, 10) == 10);
	usleep(100000);
	CHECK("nothing delivered on half a header", wait_delivery(0) < 0);
	CHECK("send v2 part 2", write(c, v2 + 10, sizeof(v2) - 10) == (ssize_t)(sizeof(v2) - 10));
	CHECK("send payload", write(c, "\x16\x03\x01", 3) == 3);
	fd = wait_delivery(3000);
	CHECK("v2 delivered", fd >= 0);
	CHECK_STR("v2 client address", "[2001:db8::42]:8080", host(&delivered_peer, h, sizeof(h)));
	if (fd >= 0) {
		read_rest(fd, rest, sizeof(rest), 3);
		CHECK("TLS record start untouched", memcmp(rest, "\x16\x03\x01", 3) == 0);
		close(fd);
	}
	close(c);

	/* v1 UNKNOWN (LOCAL): the socket's own peer stays */
	c = dial(port);
	const char *loc = "PROXY UNKNOWN\r\n";
	CHECK("send LOCAL", write(c, loc, strlen(loc)) == (ssize_t)strlen(loc));
	fd = wait_delivery(3000);
	CHECK("LOCAL delivered", fd >= 0);
	net_addr_str(&delivered_peer, 0, h, sizeof(h));
	CHECK_STR("LOCAL keeps the real peer", "127.0.0.1", h);
	if (fd >= 0)
		close(fd);
	close(c);

	/* No header: closed, never delivered */
	c = dial(port);
	const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK("send request without header", write(c, get, strlen(get)) == (ssize_t)strlen(get));
	CHECK("no header: closed by the server", closed_by_server(c, 3000));
	CHECK("no header: not delivered", wait_delivery(0) < 0);
	close(c);

	/* Silence: closed after the time limit */
	c = dial(port);
	CHECK("silent connection closed after the limit",
	      closed_by_server(c, (PROXY_ACCEPT_TIMEOUT + 2) * 1000));
	close(c);

	proxy_accept_stop(pa);

	/* The blocking helper, on a socket pair. */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct sockaddr_storage peer, local;
	const char *why = NULL;
	memset(&peer, 0, sizeof(peer));
	if (write(sv[0], "PROXY TCP4 198.51.100.5 192.0.2.1 1234 21\r\nUSER", 47) != 47)
		exit(2);
	CHECK_INT("read_header", 0, proxy_accept_read_header(sv[1], 1000, &peer, &local, &why));
	CHECK_STR("read_header client", "198.51.100.5:1234", host(&peer, h, sizeof(h)));
	read_rest(sv[1], rest, sizeof(rest), 4);
	CHECK_STR("read_header leaves the rest", "USER", rest);
	if (write(sv[0], "USER anonymous\r\n", 16) != 16)
		exit(2);
	CHECK_INT("read_header refuses other bytes", -1,
	          proxy_accept_read_header(sv[1], 1000, &peer, &local, &why));
	close(sv[0]);
	close(sv[1]);
	close(lfd);
	return unit_done();
}
