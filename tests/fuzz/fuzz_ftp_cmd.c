/* fuzz_ftp_cmd.c - FTP command-line parsing and dispatch up to the reply:
 * ftp_cmd_line (ftp_cmd.c) on a session built the way ftp.c's accept does,
 * without a socket (its output stays in s->out), over an index of a small
 * temporary tree.
 * Input: byte 0 bit 0 = log in anonymously first; then command lines split
 * on LF with a trailing CR removed, as ftp.c splits them.  Commands that
 * open sockets, start TLS or hand work to other threads (PASV, EPSV, LIST,
 * NLST, MLSD, RETR, AUTH, HASH) are answered by the e2e tests instead and
 * skipped here.
 * Invariant: every reply line ends in CRLF and holds no other CR or LF (no
 * CR/LF from the input reaches a reply); every reply starts with a 3-digit
 * code followed by ' ' or '-'; a multi-line reply ends with the same code
 * followed by ' '; every command gets at least one reply until the session
 * closes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include "clock.h"
#include "config.h"
#include "ftp_int.h"
#include "index.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ftp_loop loop;
static char root[] = "/tmp/pm-fuzz-ftp.XXXXXX";

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "we");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void cleanup(void)
{
	char p[256];
	static const char *const files[] = {"pub/docs/a b.txt", "pub/docs/colon:name",
					    "pub/README", "README", NULL};
	index_stop();
	for (int i = 0; files[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/pub/docs", root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/pub", root);
	rmdir(p);
	rmdir(root);
}

static void setup(void)
{
	char p[256], set[300], err[512];
	char *sets[3] = {set, "error_log=/dev/null", "ftp_banner=fuzz"};

	if (mkdtemp(root) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/pub", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/pub/docs", root);
	mkdir(p, 0755);
	put("README", "hello\n");
	put("pub/README", "pub\n");
	put("pub/docs/a b.txt", "a b\n");
	put("pub/docs/colon:name", "c\n");
	snprintf(set, sizeof(set), "root=%s", root);
	struct config *c = config_load(NULL, sets, 3, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	config_publish(c);
	if (log_open(config_get(), 1) != 0 || index_start(config_get()) != 0)
		abort();
	loop.ep = -1;
	loop.wakefd = -1;
	atexit(cleanup);
}

static struct ftp_sess *sess_new(void)
{
	struct ftp_sess *s = calloc(1, sizeof(*s));
	struct sockaddr_in *pe = (struct sockaddr_in *)&s->peer;
	struct sockaddr_in *lo = (struct sockaddr_in *)&s->local;

	s->loop = &loop;
	conn_init(&s->ctrl, -1);
	pe->sin_family = AF_INET;
	pe->sin_addr.s_addr = htonl(0x7f000001);
	pe->sin_port = htons(40000);
	*lo = *pe;
	lo->sin_port = htons(21);
	snprintf(s->peer_str, sizeof(s->peer_str), "127.0.0.1");
	buf_init(&s->out, 1024 * 1024);
	s->t_start = s->t_cmd = clock_now_ns();
	s->ascii = 1;
	s->halgo = HASH_SHA256;
	s->zlevel = 6;
	s->mlst_mask = FTP_FACT_ALL;
	s->cev.kind = FTP_EV_CTRL;
	s->cev.s = s;
	return s;
}

static void sess_free(struct ftp_sess *s)
{
	if (s->data)
		ftp_data_free(s);
	buf_free(&s->out);
	free(s);
}

/* Check the reply bytes out[from..len): returns the number of replies. */
static int check_replies(const struct buf *b, size_t from)
{
	const char *p = b->data + from, *end = b->data + b->len;
	int replies = 0;
	char multi[4] = "";

	if (p == end)
		return 0;
	if (end - p < 2 || end[-2] != '\r' || end[-1] != '\n') {
		fprintf(stderr, "reply does not end in CRLF\n");
		abort();
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl == p || nl[-1] != '\r') {
			fprintf(stderr, "bare LF in a reply\n");
			abort();
		}
		size_t n = (size_t)(nl - 1 - p);
		if (memchr(p, '\r', n) != NULL) {
			fprintf(stderr, "CR inside a reply line: %.*s\n", (int)n, p);
			abort();
		}
		int coded = n >= 4 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
			    p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '-');
		if (multi[0]) {
			if (coded && memcmp(p, multi, 3) == 0 && p[3] == ' ')
				multi[0] = '\0';
		} else {
			if (!coded) {
				fprintf(stderr, "reply line without a code: %.*s\n", (int)n, p);
				abort();
			}
			replies++;
			if (p[3] == '-') {
				memcpy(multi, p, 3);
				multi[3] = '\0';
			}
		}
		p = nl + 1;
	}
	if (multi[0]) {
		fprintf(stderr, "multi-line reply %s not ended\n", multi);
		abort();
	}
	return replies;
}

static int skipped(const char *line, size_t n)
{
	static const char *const verbs[] = {"PASV", "EPSV", "LIST", "NLST", "MLSD", "RETR",
					    "AUTH", "HASH", NULL};
	size_t v = 0;
	while (v < n && line[v] != ' ')
		v++;
	for (int i = 0; verbs[i]; i++)
		if (v == strlen(verbs[i]) && strncasecmp(line, verbs[i], v) == 0)
			return 1;
	return 0;
}

static int run_line(struct ftp_sess *s, const char *text, size_t n)
{
	char line[PM_FTP_LINE_MAX + 1];
	size_t from = s->out.len;

	if (n > PM_FTP_LINE_MAX - 2 || skipped(text, n))
		return 0;
	memcpy(line, text, n);
	line[n] = '\0';
	ftp_cmd_line(s, line, n);
	int r = check_replies(&s->out, from);
	if (r == 0 && !s->closing) {
		fprintf(stderr, "no reply to: %s\n", line);
		abort();
	}
	/* ftp.c sends and drops what went out */
	buf_reset(&s->out);
	return s->closing ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (loop.ep == 0)
		setup();
	struct ftp_sess *s = sess_new();
	if (data[0] & 1) {
		run_line(s, "USER anonymous", 14);
		run_line(s, "PASS fuzz@", 10);
	}
	size_t i = 1;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
		size_t m = n;
		if (m && data[i + m - 1] == '\r')
			m--;
		if (run_line(s, (const char *)data + i, m) != 0)
			break;
		i += n + 1;
	}
	sess_free(s);
	return 0;
}
