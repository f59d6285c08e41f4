/* test_log.c - escaping, the shapes of error, access (combined), xferlog
 * and JSON lines written to real temporary files, reopen after rename, and
 * whole lines under concurrent writers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "unit.h"

static char dir[] = "/tmp/pm-test-log.XXXXXX";
static char p_err[256], p_access[256], p_xfer[256], p_json[256];

/* The whole file as a string (caller frees); "" when missing. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&s, &n);
	if (f) {
		char b[4096];
		size_t k;
		while ((k = fread(b, 1, sizeof(b), f)) > 0)
			fwrite(b, 1, k, m);
		fclose(f);
	}
	fclose(m);
	return s;
}

/* Match s against pat: '9' any digit, '~' digit or space, '&' any letter,
 * '$' the rest of the line (up to '\n'); other characters literal.  One
 * trailing newline of s is ignored. */
static int shape(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '$') {
			while (*s && *s != '\n')
				s++;
			s--;
			continue;
		}
		if (*s == '\0')
			return 0;
		if (*pat == '9' && !(*s >= '0' && *s <= '9'))
			return 0;
		if (*pat == '~' && !((*s >= '0' && *s <= '9') || *s == ' '))
			return 0;
		if (*pat == '&' && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
		if (*pat != '9' && *pat != '~' && *pat != '&' && *pat != *s)
			return 0;
	}
	return *s == '\0' || (s[0] == '\n' && s[1] == '\0');
}

#define CHECK_SHAPE(what, pat, got)                                                                \
	UNIT_REPORT(shape((pat), (got)), what, "expected shape \"%s\", got \"%s\"", (pat), (got))

static void test_esc(void)
{
	static const struct {
		const char *in;
		size_t n;
		size_t outsz;
		const char *want;
	} cases[] = {
	    {"plain text", 10, 64, "plain text"},
	    {"a\"b\\c", 5, 64, "a\\x22b\\x5Cc"},
	    {"line\r\nnext\ttab", 14, 64, "line\\x0D\\x0Anext\\x09tab"},
	    {"nul\0x", 5, 64, "nul\\x00x"},
	    {"del\x7f", 4, 64, "del\\x7F"},
	    {"caf\xc3\xa9 \xe2\x82\xac", 9, 64, "caf\xc3\xa9 \xe2\x82\xac"},
	    {"", 0, 64, ""},
	    /* Truncation: whole escapes only, then "..." within outsz. */
	    {"abcdefghij", 10, 8, "abcd..."},
	    {"ab\ncdefgh", 9, 10, "ab\\x0A..."},
	    {"ab\ncdefgh", 9, 9, "ab..."},
	    /* Never half a UTF-8 sequence before the "...". */
	    {"ab\xe2\x82\xac\xe2\x82\xac", 8, 8, "ab..."},
	    {"ab\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 11, 9, "ab\xe2\x82\xac..."},
	    {"ab\xe2\x82\xac\xe2\x82\xac", 8, 9, "ab\xe2\x82\xac\xe2\x82\xac"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "log_esc case %zu", i);
		const char *r = log_esc(out, cases[i].outsz, cases[i].in, cases[i].n);
		CHECK_STR(what, cases[i].want, r);
		CHECK(what, strlen(r) < cases[i].outsz);
	}
	CHECK_STR("log_esc NULL", "", log_esc(out, sizeof(out), NULL, 3));
}

static void test_peer(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	char out[64];

	memset(&ss, 0, sizeof(ss));
	a6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a6->sin6_addr);
	CHECK_STR("ipv6 peer", "2001:db8::1", log_peer(out, sizeof(out), &ss));
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &a6->sin6_addr);
	CHECK_STR("v4-mapped peer shown as IPv4", "192.0.2.7", log_peer(out, sizeof(out), &ss));
	CHECK_STR("no peer", "-", log_peer(out, sizeof(out), NULL));
}

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a4->sin_family = AF_INET;
	inet_pton(AF_INET, a, &a4->sin_addr);
	return ss;
}

static struct config *conf_with_logs(void)
{
	char err[512];
	char a[300], b[300], c[300], d[300];
	snprintf(a, sizeof(a), "error_log=%s", p_err);
	snprintf(b, sizeof(b), "access_log=%s", p_access);
	snprintf(c, sizeof(c), "xfer_log=%s", p_xfer);
	snprintf(d, sizeof(d), "json_log=%s", p_json);
	char *sets[] = {a, b, c, d};
	struct config *cf = config_load(NULL, sets, 4, err, sizeof(err));
	if (cf == NULL)
		printf("not ok - config: %s\n", err);
	return cf;
}

static void test_lines(void)
{
	struct config *cf = conf_with_logs();
	struct sockaddr_storage peer = v4("127.0.0.1");

	if (cf == NULL)
		return;
	CHECK_INT("log_open", 0, log_open(cf, 1));
	CHECK("access log enabled", log_access_enabled());
	CHECK("xfer log enabled", log_xfer_enabled());
	CHECK("json log enabled", log_json_enabled());

	log_access(&peer, NULL, "GET", "/x", "HTTP/1.1", 200, 1234, NULL, "curl/8.0");
	log_access(&peer, "bob", "GET", "/a \"b\"\n\\c", "HTTP/1.0", 404, 0, "http://r/?q=\x01",
	           "");
	log_access(&peer, NULL, NULL, NULL, NULL, 400, 0, NULL, NULL);
	char *t = slurp(p_access);
	char *l2 = strchr(t, '\n'), *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
	if (l2)
		*l2++ = '\0';
	if (l3)
		*l3++ = '\0';
	CHECK_SHAPE("combined line",
	            "127.0.0.1 - - [~9/&&&/9999:99:99:99 +0000] \"GET /x HTTP/1.1\" 200 1234 \"-\" "
	            "\"curl/8.0\"",
	            t);
	CHECK_SHAPE("combined line, escaped",
	            "127.0.0.1 - bob [~9/&&&/9999:99:99:99 +0000] \"GET /a \\x22b\\x22\\x0A\\x5Cc "
	            "HTTP/1.0\" 404 0 \"http://r/?q=\\x01\" \"-\"",
	            l2 ? l2 : "");
	CHECK_SHAPE("combined line, no request", "127.0.0.1 - - [$", l3 ? l3 : "");
	CHECK("combined line, no request: \"-\"", l3 && strstr(l3, "] \"-\" 400 0 \"-\" \"-\""));
	free(t);

	log_xfer(&peer, 0, 1234, "pub/my file.txt", 1, 1, "you@example.org", 'c');
	log_xfer(&peer, 7, 5, "/a\nb", 0, 0, "alice smith", 'i');
	t = slurp(p_xfer);
	l2 = strchr(t, '\n');
	if (l2)
		*l2++ = '\0';
	CHECK_SHAPE("xferlog line",
	            "&&& &&& ~9 99:99:99 9999 1 127.0.0.1 1234 /pub/my_file.txt b _ o a "
	            "you@example.org ftp 0 * c",
	            t);
	CHECK_SHAPE("xferlog line, escaped, incomplete",
	            "&&& &&& ~9 99:99:99 9999 7 127.0.0.1 5 /a\\x0Ab a _ o r alice_smith ftp 0 * i",
	            l2 ? l2 : "");
	free(t);

	/* Over-long client strings are cut with "...", the line stays whole. */
	char *huge = malloc(6001);
	memset(huge, 'a', 6000);
	huge[6000] = '\0';
	unlink(p_xfer);
	unlink(p_access);
	log_reopen();
	log_xfer(&peer, 1, 1, huge, 1, 1, huge, 'c');
	log_access(&peer, huge, "GET", huge, "HTTP/1.1", 200, 1, huge, huge);
	free(huge);
	t = slurp(p_xfer);
	CHECK("long xferlog line: one line", strchr(t, '\n') == t + strlen(t) - 1);
	CHECK("long xferlog line: bounded", strlen(t) <= PM_LOG_LINE_MAX);
	CHECK("long xferlog line: path cut with ...", strstr(t, "aaa... b _ o a aaa") != NULL);
	CHECK("long xferlog line: id cut, fields after it kept", strstr(t, "aaa... ftp 0 * "
	                                                                   "c\n") != NULL);
	free(t);
	t = slurp(p_access);
	CHECK("long access line: one line", strchr(t, '\n') == t + strlen(t) - 1);
	CHECK("long access line: bounded", strlen(t) <= PM_LOG_LINE_MAX);
	CHECK("long access line: fields cut, quotes kept", strstr(t, "aaa... HTTP/1.1\" 200 1 "
	                                                             "\"aaa") != NULL &&
	                                                       strstr(t, "aaa...\"\n") != NULL);
	free(t);

	struct log_event ev = {
	    .event = "transfer",
	    .proto = "ftps",
	    .peer = &peer,
	    .user = NULL,
	    .method = "RETR",
	    .path = "/p\"q\x01\xff\xc3\xa9",
	    .status = 226,
	    .bytes = 42,
	    .secs = 0.25,
	};
	log_json(&ev);
	t = slurp(p_json);
	CHECK_SHAPE("json line",
	            "{\"time\":\"9999-99-99T99:99:99.999Z\","
	            "\"event\":\"transfer\",\"proto\":\"ftps\","
	            "\"peer\":\"127.0.0.1\",\"method\":\"RETR\","
	            "\"path\":\"/p\\\"q\\u0001\\ufffd\xc3\xa9\","
	            "\"status\":226,\"bytes\":42,\"secs\":0.250}\n",
	            t);
	free(t);

	log_err("disk %s is %d%% full", "sda", 93);
	log_info("line\nbreak");
	log_debug("not shown at the default level");
	char big[PM_LOG_LINE_MAX * 2];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warn("%s", big);
	t = slurp(p_err);
	l2 = strchr(t, '\n');
	l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
	if (l2)
		*l2++ = '\0';
	if (l3)
		*l3++ = '\0';
	CHECK_SHAPE("error line", "9999-99-99T99:99:99Z [error] disk sda is 93% full", t);
	CHECK_SHAPE("control chars cannot split a line", "9999-99-99T99:99:99Z [info] line?break",
	            l2 ? l2 : "");
	CHECK("debug not shown", strstr(l3 ? l3 : "", "not shown") == NULL);
	CHECK_SHAPE("long message truncated", "9999-99-99T99:99:99Z [warn] yyy$", l3 ? l3 : "");
	size_t l3len = l3 ? strlen(l3) : 0;
	CHECK_INT("truncated line fills PM_LOG_LINE_MAX with the newline", PM_LOG_LINE_MAX, l3len);
	CHECK("truncated line ends with ...\\n", l3len > 4 && strcmp(l3 + l3len - 4, "...\n") == 0);
	free(t);
	struct sockaddr_storage p6;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p6;
	memset(&p6, 0, sizeof(p6));
	a6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::5", &a6->sin6_addr);
	log_auth_fail(&p6, "https", "eve\" x=\n");
	t = slurp(p_err);
	CHECK("auth failure line for fail2ban",
	      strstr(t, "Z [warn] auth: failure from 2001:db8::5 proto=https "
	                "user=\"eve\\x22 x=\\x0A\"\n") != NULL);
	free(t);
	t = slurp(p_json);
	CHECK("auth failure json event",
	      strstr(t, "\"event\":\"login\",\"proto\":\"https\",\"peer\":\"2001:db8::5\","
	                "\"user\":\"eve\\\" x=\\n\",\"status\":401,\"bytes\":0,") != NULL);
	free(t);
	log_set_level(LOG_LVL_DEBUG);
	log_debug("now shown");
	log_set_level(LOG_LVL_INFO);
	t = slurp(p_err);
	CHECK("debug shown at debug level", strstr(t, "[debug] now shown\n") != NULL);
	free(t);

	/* log_chown gives the files to the service user (as root: nobody). */
	uid_t to = getuid() == 0 ? 65534 : getuid();
	gid_t tg = getuid() == 0 ? 65534 : getgid();
	CHECK_INT("log_chown", 0, log_chown(to, tg));
	struct stat st;
	CHECK("access log owned by the service user",
	      stat(p_access, &st) == 0 && st.st_uid == to && st.st_gid == tg);
	CHECK("error log owned by the service user",
	      stat(p_err, &st) == 0 && st.st_uid == to && st.st_gid == tg);
	CHECK("log files are at most 0640", stat(p_xfer, &st) == 0 && (st.st_mode & 0137) == 0);

	/* Reopen after rename (logrotate): new lines go to a new file. */
	char rotated[300];
	snprintf(rotated, sizeof(rotated), "%s.1", p_access);
	CHECK_INT("rename", 0, rename(p_access, rotated));
	log_access(&peer, NULL, "GET", "/before-reopen", "HTTP/1.1", 200, 1, NULL, NULL);
	CHECK_INT("log_reopen", 0, log_reopen());
	log_access(&peer, NULL, "GET", "/after-reopen", "HTTP/1.1", 200, 1, NULL, NULL);
	char *old = slurp(rotated), *cur = slurp(p_access);
	CHECK("line before reopen went to the renamed file", strstr(old, "/before-reopen") != NULL);
	CHECK("line after reopen went to the new file",
	      strstr(cur, "/after-reopen") != NULL && strstr(cur, "/before-reopen") == NULL);
	CHECK("renamed file has no new lines", strstr(old, "/after-reopen") == NULL);
	free(old);
	free(cur);
	unlink(rotated);

	/* A log that cannot be reopened keeps its old descriptor. */
	char moved[300];
	snprintf(moved, sizeof(moved), "%s.1", p_xfer);
	rename(p_xfer, moved);
	mkdir(p_xfer, 0700);
	CHECK_INT("log_reopen reports a file it could not reopen", -1, log_reopen());
	log_xfer(&peer, 1, 1, "/kept", 1, 1, "x", 'c');
	rmdir(p_xfer);
	rename(moved, p_xfer);
	cur = slurp(p_xfer);
	CHECK("failed reopen: old descriptor still written", strstr(cur, " /kept ") != NULL);
	free(cur);
	t = slurp(p_err);
	CHECK("failed reopen: error logged",
	      strstr(t, "[error] xfer_log: cannot reopen ") && strstr(t, ": Is a directory\n"));
	free(t);

	/* A process that shares the error log (the privileged helper) takes
	 * over the descriptor its parent reopened: its lines follow. */
	int efd = log_error_fd();
	CHECK("log_error_fd: a descriptor of the error log file", efd >= 0);
	char errmoved[300];
	snprintf(errmoved, sizeof(errmoved), "%s.1", p_err);
	CHECK_INT("rename error log", 0, rename(p_err, errmoved));
	FILE *nf = fopen(p_err, "a");
	int nfd = nf ? dup(fileno(nf)) : -1;
	if (nf)
		fclose(nf);
	log_adopt_error_fd(nfd);
	log_info("after adopting");
	cur = slurp(p_err);
	old = slurp(errmoved);
	CHECK("adopted descriptor: the line goes to the new file",
	      strstr(cur, "[info] after adopting\n") != NULL);
	CHECK("adopted descriptor: nothing more in the old one",
	      strstr(old, "after adopting") == NULL);
	free(cur);
	free(old);
	if (efd >= 0)
		close(efd);
	unlink(errmoved);

	/* A log that cannot be opened: -1, and the old logs stay in force. */
	char err[512];
	char *bad[] = {"access_log=/nonexistent-dir/access.log"};
	struct config *cb = config_load(NULL, bad, 1, err, sizeof(err));
	fprintf(stderr, "(an error about /nonexistent-dir is expected next)\n");
	CHECK_INT("log_open of a bad path fails", -1, cb ? log_open(cb, 1) : 0);
	log_access(&peer, NULL, "GET", "/still-logged", "HTTP/1.1", 200, 1, NULL, NULL);
	cur = slurp(p_access);
	CHECK("old access log still in force", strstr(cur, "/still-logged") != NULL);
	free(cur);
	config_free(cb);
	config_free(cf);
}

static void *writer(void *arg)
{
	struct sockaddr_storage peer = v4("10.0.0.1");
	char uri[600];
	int id = (int)(long)arg;

	/* Long lines, so that an interleaving would show. */
	for (int i = 0; i < 400; i++) {
		snprintf(uri, sizeof(uri), "/t%d/%d/%0500d", id, i, 0);
		log_access(&peer, NULL, "GET", uri, "HTTP/1.1", 200, (uint64_t)i, NULL, "w");
	}
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t th[4];

	unlink(p_access);
	log_reopen();
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, writer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char *t = slurp(p_access);
	int lines = 0, whole = 0;
	for (char *p = t; *p;) {
		char *e = strchr(p, '\n');
		if (e == NULL)
			break;
		*e = '\0';
		lines++;
		size_t n = strlen(p);
		if (shape("10.0.0.1 - - [~9/&&&/9999:99:99:99 +0000] \"GET /t$", p) &&
		    strstr(p, " HTTP/1.1\" 200 ") && n > 7 && strcmp(p + n - 7, "\"-\" \"w\"") == 0)
			whole++;
		p = e + 1;
	}
	CHECK_INT("concurrent writers: every line written", 1600, lines);
	CHECK_INT("concurrent writers: every line whole", 1600, whole);
	free(t);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(p_err, sizeof(p_err), "%s/error.log", dir);
	snprintf(p_access, sizeof(p_access), "%s/access.log", dir);
	snprintf(p_xfer, sizeof(p_xfer), "%s/xfer.log", dir);
	snprintf(p_json, sizeof(p_json), "%s/json.log", dir);
	test_esc();
	test_peer();
	test_lines();
	test_concurrent();
	log_close();
	unlink(p_err);
	unlink(p_access);
	unlink(p_xfer);
	unlink(p_json);
	rmdir(dir);
	return unit_done();
}
