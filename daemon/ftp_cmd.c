/* ftp_cmd.c - the FTP command table and its handlers.
 *
 * Dispatch is one table: verb, handler, flags (needs login, needs an
 * argument, allowed during a transfer, needs TLS).  Handlers get the
 * argument as the client sent it (after the first space) and answer with
 * exactly one reply (multi-line where the RFC says so).  Every path goes
 * through path_resolve and the shared index snapshot; files open with
 * file_open beneath the snapshot's root fd.  Nothing is ever written.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "auth.h"
#include "file.h"
#include "ftp_int.h"
#include "limiter.h"
#include "listing.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "path.h"
#include "view.h"

#define C_LOGIN 1u /* needs a logged-in session */
#define C_ARG 2u   /* needs an argument */
#define C_BUSY 4u  /* may run during a transfer */
#define C_TLS 8u   /* needs TLS on the control connection */

struct ftp_cmd {
	const char *verb;
	void (*fn)(struct ftp_sess *s, char *arg);
	unsigned flags;
	const char *help;
};

static const struct ftp_cmd *ftp_cmd_find(const char *verb, size_t n);

/* --- helpers --- */

static const struct config *cfg(void)
{
	return config_get();
}

/* The principal of s for the view: NULL for an anonymous session. */
static const char *ftp_principal(const struct ftp_sess *s)
{
	return ftp_is_anon(s) ? NULL : s->user;
}

/* Resolve arg against the cwd; replies 550 on refusal. */
static int ftp_resolve(struct ftp_sess *s, const char *arg, char *out)
{
	const char *why = "invalid path";

	if (path_resolve(s->cwd, arg, strlen(arg), out, PM_PATH_MAX, &why) != 0) {
		ftp_reply(s, 550, "Path refused: %s", why);
		return -1;
	}
	return 0;
}

enum { FT_NONE, FT_FILE, FT_DIR };

/* What rel is in ix for this session, resolved by the view (symlinks
 * followed, access decided on the final object).  SECURITY: what an
 * anonymous session may not see does not exist for it (FT_NONE, 550). */
static int ftp_kind(const struct ftp_sess *s, const struct index *ix, const char *rel,
                    struct view_obj *o)
{
	const struct config *c = cfg();

	if (c == NULL || view_resolve(ix, c, ftp_principal(s), rel, o) != VIEW_OK)
		return FT_NONE;
	return o->kind == VIEW_DIR ? FT_DIR : FT_FILE;
}

/* SECURITY: a protected file or listing travels only over a protected
 * data channel, whatever ftp_tls allows for public data.  Replies and
 * returns -1 when o may not go out on this session's data channel. */
static int ftp_prot_ok(struct ftp_sess *s, const struct view_obj *o)
{
	if (!o->prot || s->prot_p)
		return 0;
	ftp_data_clear(s);
	ftp_reply(s, 521,
	          "This path is protected: it travels only over a protected data "
	          "channel (send PBSZ 0 and PROT P)");
	return -1;
}

static void ftp_not_found(struct ftp_sess *s)
{
	ftp_reply(s, 550, "No such file or directory");
}

/* The regular file arg names (resolved into rel and *o), from the current
 * snapshot, which is returned held in *ixp for the caller to release.
 * NULL when there is none, after the reply: dircode with dirtext for a
 * directory, 550 for anything else. */
static const struct index_entry *ftp_file_entry(struct ftp_sess *s, const char *arg, char *rel,
                                                struct view_obj *o, struct index **ixp, int dircode,
                                                const char *dirtext)
{
	*ixp = NULL;
	if (ftp_resolve(s, arg, rel) != 0)
		return NULL;
	struct index *ix = index_acquire();
	int k = ftp_kind(s, ix, rel, o);
	if (k != FT_FILE) {
		index_release(ix);
		if (k == FT_DIR)
			ftp_reply(s, dircode, "%s", dirtext);
		else
			ftp_not_found(s);
		return NULL;
	}
	*ixp = ix;
	return o->e;
}

static void ftp_bad(struct ftp_sess *s)
{
	s->bad++;
	if (!ftp_is_logged_in(s) && s->bad >= PM_FTP_BAD_BEFORE_LOGIN) {
		log_info("ftp: %s: too many bad commands before login, closing", s->peer_str);
		ftp_sess_close(s, 421, "Too many bad commands before login; closing");
	} else if (s->bad >= PM_FTP_BAD_MAX) {
		log_info("ftp: %s: too many bad commands, closing", s->peer_str);
		ftp_sess_close(s, 421, "Too many bad commands; closing");
	}
}

/* Parse a decimal uint64 made only of digits.  0 or -1. */
static int ftp_u64(const char *p, uint64_t *out)
{
	uint64_t v = 0;

	if (*p == '\0')
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned dgt = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return -1;
		v = v * 10 + dgt;
	}
	*out = v;
	return 0;
}

static void ftp_upper(char *p)
{
	for (; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

static void ftp_fmt_time(int64_t mtime, char *out, size_t outsz)
{
	struct tm tm;
	time_t t = (time_t)mtime;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, outsz, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* --- login --- */

static void cmd_user(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();

	if (ftp_is_logged_in(s)) {
		ftp_reply(s, 530, "Already logged in; the user cannot change");
		return;
	}
	if (ftp_sess_login(s, FTP_LOGIN_NONE) != 0)
		return;
	if (c && c->ftp_tls == CONFIG_FTP_TLS_REQUIRE && !s->ctrl.tls) {
		ftp_reply(s, 530, "TLS is required on this server: send AUTH TLS before USER");
		ftp_bad(s);
		return;
	}
	if (strcasecmp(arg, "anonymous") == 0 || strcasecmp(arg, "ftp") == 0) {
		if (ftp_sess_login(s, FTP_LOGIN_USER_ANON) != 0)
			return;
		ftp_reply(s, 331, "Anonymous login ok, send your e-mail address as password");
		return;
	}
	/* SECURITY: a password must never follow in clear (as vsftpd's
	 * force_local_logins_ssl): named users need TLS first.  The answer
	 * is the same for every name, so it tells nothing about who exists. */
	if (auth_enabled() && !s->ctrl.tls) {
		ftp_reply(s, 530, "Non-anonymous logins need TLS: send AUTH TLS before USER");
		ftp_bad(s);
		return;
	}
	if (auth_enabled() && strlen(arg) <= PM_AUTH_USER_MAX) {
		snprintf(s->user, sizeof(s->user), "%s", arg);
		if (ftp_sess_login(s, FTP_LOGIN_USER_NAMED) != 0)
			return;
		ftp_reply(s, 331, "Password required");
		return;
	}
	ftp_reply(s, 530, "Only anonymous logins are accepted here (USER anonymous)");
	ftp_bad(s);
}

/* The login succeeded: to is FTP_LOGIN_ANON or FTP_LOGIN_NAMED. */
static int ftp_logged_in(struct ftp_sess *s, enum ftp_login to)
{
	if (ftp_sess_login(s, to) != 0)
		return -1;
	s->cwd[0] = '\0';
	/* TLS 1.3: the tickets that bind data connections to this session */
	tls_io_issue_ticket(&s->ctrl);
	return 0;
}

static void cmd_pass(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();
	size_t plen = strlen(arg);

	if (ftp_is_logged_in(s)) {
		ftp_reply(s, 503, "Already logged in");
		return;
	}
	/* SECURITY: a connection opened before its address was banned does
	 * not log in after (the ban hook closes it too; this closes the race) */
	if (limiter_global() && limiter_is_banned(limiter_global(), &s->peer, clock_now_ns())) {
		ftp_sess_close(s, 421, "Your address is banned for a while after failed logins");
		return;
	}
	if (c && c->ftp_tls == CONFIG_FTP_TLS_REQUIRE && !s->ctrl.tls) {
		ftp_reply(s, 530, "TLS is required on this server: send AUTH TLS first");
		ftp_bad(s);
		return;
	}
	if (s->login == FTP_LOGIN_USER_ANON) {
		/* the password is an e-mail address by convention: kept for
		 * the xferlog (escaped there), never echoed */
		snprintf(s->anon_id, sizeof(s->anon_id), "%s", arg);
		if (ftp_logged_in(s, FTP_LOGIN_ANON) != 0)
			return;
		log_info("ftp: %s: anonymous login", s->peer_str);
		ftp_reply(s, 230, "Anonymous access granted; this server is read-only");
		return;
	}
	if (s->login != FTP_LOGIN_USER_NAMED) {
		ftp_reply(s, 503, "Send USER first");
		ftp_bad(s);
		return;
	}
	if (!s->ctrl.tls) {
		/* SECURITY: passwords only inside TLS */
		if (ftp_sess_login(s, FTP_LOGIN_NONE) != 0)
			return;
		ftp_reply(s, 530, "User logins are accepted only over TLS: use AUTH TLS first");
		ftp_bad(s);
		return;
	}
	if (ftp_sess_login(s, FTP_LOGIN_CHECKING) != 0)
		return;
	if (plen > PM_AUTH_PASS_MAX || ftp_auth_submit(s, s->user, arg, plen) != 0) {
		if (plen > PM_AUTH_PASS_MAX) {
			ftp_cmd_auth_done(s, 0);
			return;
		}
		ftp_sess_login(s, FTP_LOGIN_NONE);
		ftp_sess_close(s, 421, "Server busy; try again later");
		return;
	}
	/* the reply comes with ftp_cmd_auth_done, from the worker */
}

void ftp_cmd_auth_done(struct ftp_sess *s, int ok)
{
	struct limiter *lim = limiter_global();
	char esc[100];
	int banned = ok && lim && limiter_is_banned(lim, &s->peer, clock_now_ns());

	if ((!ok || banned) && ftp_sess_login(s, FTP_LOGIN_NONE) != 0)
		return;
	if (banned) {
		ftp_sess_close(s, 421, "Your address is banned for a while after failed logins");
		return;
	}
	if (ok) {
		if (lim)
			limiter_auth_ok(lim, &s->peer);
		if (ftp_logged_in(s, FTP_LOGIN_NAMED) != 0)
			return;
		log_info("ftp: %s: user %s logged in", s->peer_str,
		         log_esc(esc, sizeof(esc), s->user, strlen(s->user)));
		ftp_reply(s, 230, "Logged in; this server is read-only");
		return;
	}
	log_info("ftp: %s: failed login for user %s", s->peer_str,
	         log_esc(esc, sizeof(esc), s->user, strlen(s->user)));
	log_auth_fail(&s->peer, s->implicit || s->ctrl.tls ? "ftps" : "ftp", s->user);
	metrics_auth_failure(s->implicit || s->ctrl.tls ? METRICS_FTPS : METRICS_FTP);
	if (lim && limiter_auth_fail(lim, &s->peer, clock_now_ns())) {
		ftp_sess_close(s, 421,
		               "Too many failed logins; your address is banned for a while");
		return;
	}
	ftp_reply(s, 530, "Login incorrect");
	ftp_bad(s);
}

static void cmd_502(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 502, "Command not implemented");
}

static void cmd_quit(struct ftp_sess *s, char *arg)
{
	ftp_data_free(s); /* a running transfer ends here, logged incomplete */
	ftp_sess_close(s, 221, "Goodbye");
}

/* --- navigation --- */

static void cmd_cwd(struct ftp_sess *s, char *arg)
{
	char rel[PM_PATH_MAX];
	struct view_obj o;

	if (ftp_resolve(s, arg, rel) != 0)
		return;
	struct index *ix = index_acquire();
	int k = ftp_kind(s, ix, rel, &o);
	index_release(ix);
	if (k == FT_DIR) {
		memcpy(s->cwd, rel, strlen(rel) + 1);
		ftp_reply(s, 250, "Directory changed");
	} else if (k == FT_FILE) {
		ftp_reply(s, 550, "Not a directory");
	} else {
		ftp_reply(s, 550, "No such directory");
	}
}

static void cmd_cdup(struct ftp_sess *s, char *arg)
{
	char up[] = "..";
	/* RFC 959 4.1.1 gives CDUP the replies of CWD; the parent of the root
	 * is the root (vsftpd, ProFTPD): stay there and say so with 250. */
	if (s->cwd[0] == '\0') {
		ftp_reply(s, 250, "Already at the root directory");
		return;
	}
	cmd_cwd(s, up);
}

static void cmd_pwd(struct ftp_sess *s, char *arg)
{
	char p[PM_PATH_MAX + 2];

	snprintf(p, sizeof(p), "/%s", s->cwd);
	ftp_reply_path(s, 257, "\"", p, "\" is the current directory", 1);
}

/* --- parameters --- */

static void cmd_type(struct ftp_sess *s, char *arg)
{
	ftp_upper(arg);
	if (strcmp(arg, "I") == 0 || strcmp(arg, "L 8") == 0 || strcmp(arg, "L8") == 0) {
		s->ascii = 0;
		ftp_reply(s, 200, "Type set to I");
	} else if (strcmp(arg, "A") == 0 || strcmp(arg, "A N") == 0) {
		s->ascii = 1;
		ftp_reply(s, 200, "Type set to A");
	} else if (arg[0] == 'A' || arg[0] == 'E' || arg[0] == 'L') {
		ftp_reply(s, 504, "Type not supported (use A, I or L 8)");
	} else {
		ftp_reply(s, 501, "Unknown type");
	}
}

/* A setting that is off or on (MODE S|Z, PROT C|P): the value names, the
 * 200 reply of each, the names that exist but are not offered (answered
 * `unsup_code`) and the reply to any other word. */
struct ftp_switch {
	const char *off, *on, *off_reply, *on_reply;
	const char *unsup1, *unsup2, *unsup_reply;
	int unsup_code, bad_code;
	const char *bad_reply;
};

static void ftp_set_switch(struct ftp_sess *s, char *arg, int *flag, const struct ftp_switch *w)
{
	ftp_upper(arg);
	if (strcmp(arg, w->off) == 0 || strcmp(arg, w->on) == 0) {
		*flag = strcmp(arg, w->on) == 0;
		ftp_reply(s, 200, "%s", *flag ? w->on_reply : w->off_reply);
	} else if (strcmp(arg, w->unsup1) == 0 || strcmp(arg, w->unsup2) == 0) {
		ftp_reply(s, w->unsup_code, "%s", w->unsup_reply);
	} else {
		ftp_reply(s, w->bad_code, "%s", w->bad_reply);
	}
}

static void cmd_mode(struct ftp_sess *s, char *arg)
{
	static const struct ftp_switch w = {.off = "S",
	                                    .on = "Z",
	                                    .off_reply = "Mode set to S",
	                                    .on_reply = "Mode set to Z",
	                                    .unsup1 = "B",
	                                    .unsup2 = "C",
	                                    .unsup_reply = "Mode not supported (use S or Z)",
	                                    .unsup_code = 504,
	                                    .bad_code = 501,
	                                    .bad_reply = "Unknown mode"};
	ftp_set_switch(s, arg, &s->mode_z, &w);
}

static void cmd_stru(struct ftp_sess *s, char *arg)
{
	ftp_upper(arg);
	if (strcmp(arg, "F") == 0)
		ftp_reply(s, 200, "Structure set to F");
	else if (strcmp(arg, "R") == 0 || strcmp(arg, "P") == 0)
		ftp_reply(s, 504, "Structure not supported (use F)");
	else
		ftp_reply(s, 501, "Unknown structure");
}

static void cmd_allo(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 202, "No storage allocation necessary");
}

static void cmd_rest(struct ftp_sess *s, char *arg)
{
	uint64_t v;

	if (ftp_u64(arg, &v) != 0) {
		ftp_reply(s, 501, "REST needs a decimal byte offset");
		return;
	}
	s->rest = v;
	s->rang_end = 0; /* draft-bryan-ftp-range: REST and RANG replace each other */
	ftp_reply(s, 350, "Restarting at %" PRIu64 ". Send RETR to start the transfer", v);
}

/* RANG <start> <end> (draft-bryan-ftp-range-08 section 3): the next RETR
 * sends octets start..end inclusive; "RANG 1 0" clears the range.  Kept as
 * rest (the start) and rang_end (end + 1, 0 = no range). */
static void cmd_rang(struct ftp_sess *s, char *arg)
{
	uint64_t a, b;
	char *sp = strchr(arg, ' ');

	if (sp == NULL) {
		ftp_reply(s, 501, "RANG needs a start and an end byte: RANG <start> <end>");
		return;
	}
	*sp = '\0';
	if (ftp_u64(arg, &a) != 0 || ftp_u64(sp + 1, &b) != 0) {
		ftp_reply(s, 501, "RANG needs two decimal byte offsets");
		return;
	}
	if (a == 1 && b == 0) {
		s->rest = 0;
		s->rang_end = 0;
		ftp_reply(s, 350, "Range cleared: the next transfer sends the whole file");
		return;
	}
	if (a > b || b == UINT64_MAX) {
		ftp_reply(s, 501, "RANG start %" PRIu64 " is after its end %" PRIu64, a, b);
		return;
	}
	s->rest = a;
	s->rang_end = b + 1;
	ftp_reply(s, 350, "Restarting at %" PRIu64 ". Ending byte at %" PRIu64 ".", a, b);
}

/* --- data channel set-up --- */

static int ftp_v4(const struct sockaddr_storage *a, unsigned char out[4])
{
	if (a->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)a)->sin_addr, 4);
		return 0;
	}
	const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
	if (a->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(x)) {
		memcpy(out, x->s6_addr + 12, 4);
		return 0;
	}
	return -1;
}

/* 425 for a data channel refused for want of descriptors: the session
 * goes on, and may try again. */
static void ftp_no_fds(struct ftp_sess *s, const char *what, int err)
{
	ftp_fd_shortage(s, what, err);
	ftp_reply(s, 425,
	          "Cannot open a data connection now: the server is out of file "
	          "descriptors; try again later");
}

/* A slot of max_transfers, then a passive listener; replies 425 and
 * returns -1 when either is missing. */
static int ftp_pasv_listen(struct ftp_sess *s, const char *verb, unsigned *port)
{
	if (ftp_xfer_take(s) != 0) {
		ftp_data_clear(s);
		ftp_reply(s, 425,
		          "Too many transfers on this server (max_transfers); try again "
		          "later");
		return -1;
	}
	if (ftp_data_listen(s, port) != 0) {
		int e = errno;
		if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
			ftp_no_fds(s, verb, e);
		else
			ftp_reply(
			    s, 425,
			    "No free passive port (pasv_ports is exhausted); try again later");
		return -1;
	}
	return 0;
}

static void cmd_pasv(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();
	unsigned char ip[4];
	unsigned port;

	if (s->epsv_all) {
		ftp_reply(s, 503, "EPSV ALL is in effect: only EPSV is accepted");
		return;
	}
	if (ftp_v4(&s->local, ip) != 0) {
		ftp_reply(s, 522, "PASV works only over IPv4; use EPSV on this IPv6 connection");
		return;
	}
	/* NAT: the address this client must connect to (LAN clients get the
	 * inner one through pasv_address_map) */
	const char *announce = config_pasv_address_for(c, &s->peer);
	if (announce) {
		struct in_addr a4;
		if (inet_pton(AF_INET, announce, &a4) == 1)
			memcpy(ip, &a4, 4);
	}
	if (ftp_pasv_listen(s, "PASV", &port) != 0)
		return;
	ftp_reply(s, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", ip[0], ip[1], ip[2], ip[3],
	          port >> 8, port & 255);
}

static void cmd_epsv(struct ftp_sess *s, char *arg)
{
	int fam = s->local.ss_family == AF_INET6 ? 2 : 1;
	unsigned char ip[4];
	unsigned port;

	if (ftp_v4(&s->local, ip) == 0)
		fam = 1;
	if (strcasecmp(arg, "ALL") == 0) {
		s->epsv_all = 1;
		ftp_reply(s, 200, "EPSV ALL ok: only EPSV will be accepted from now on");
		return;
	}
	if (arg[0] && !(arg[0] == '1' && arg[1] == '\0') && !(arg[0] == '2' && arg[1] == '\0')) {
		ftp_reply(s, 501, "EPSV takes 1, 2, ALL or nothing");
		return;
	}
	if (arg[0] && arg[0] - '0' != fam) {
		ftp_reply(s, 522, "Network protocol not supported, use (%d)", fam);
		return;
	}
	if (ftp_pasv_listen(s, "EPSV", &port) != 0)
		return;
	ftp_reply(s, 229, "Entering Extended Passive Mode (|||%u|)", port);
}

/* SECURITY: active mode only to the control peer and unprivileged ports,
 * so the server cannot be bounced at third parties (RFC 2577). */
static void ftp_set_active(struct ftp_sess *s, const struct sockaddr_storage *a, const char *verb)
{
	if (!net_same_host(a, &s->peer)) {
		char t[80];
		net_addr_str(a, 1, t, sizeof(t));
		log_warn("ftp: %s: %s to %s refused: not the client's address", s->peer_str, verb,
		         t);
		ftp_reply(s, 500, "Illegal %s: the address must be your own", verb);
		return;
	}
	if (net_port(a) < 1024) {
		ftp_reply(s, 500, "Illegal %s: the port must be 1024 or above", verb);
		return;
	}
	if (ftp_xfer_take(s) != 0) {
		ftp_data_clear(s);
		ftp_reply(s, 425,
		          "Too many transfers on this server (max_transfers); try again "
		          "later");
		return;
	}
	struct ftp_data *d = ftp_data_get(s);
	if (d == NULL) {
		ftp_reply(s, 451, "Out of memory");
		return;
	}
	ftp_data_clear(s);
	d->active = 1;
	d->target = *a;
	ftp_reply(s, 200, "%s command successful", verb);
}

static void cmd_port(struct ftp_sess *s, char *arg)
{
	unsigned v[6];
	int k = 0;
	const char *p = arg;

	if (s->epsv_all) {
		ftp_reply(s, 503, "EPSV ALL is in effect: only EPSV is accepted");
		return;
	}
	while (k < 6) {
		unsigned x = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 4) {
			x = x * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || x > 255)
			break;
		v[k++] = x;
		if (k < 6 && *p++ != ',')
			break;
	}
	if (k != 6 || *p != '\0') {
		ftp_reply(s, 501, "PORT needs h1,h2,h3,h4,p1,p2");
		return;
	}
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in *in = (struct sockaddr_in *)&a;
	in->sin_family = AF_INET;
	unsigned char ip[4] = {(unsigned char)v[0], (unsigned char)v[1], (unsigned char)v[2],
	                       (unsigned char)v[3]};
	memcpy(&in->sin_addr, ip, 4);
	in->sin_port = htons((uint16_t)(v[4] * 256 + v[5]));
	ftp_set_active(s, &a, "PORT");
}

static void cmd_eprt(struct ftp_sess *s, char *arg)
{
	char delim = arg[0];
	char *f[4];
	int n = 0;

	if (s->epsv_all) {
		ftp_reply(s, 503, "EPSV ALL is in effect: only EPSV is accepted");
		return;
	}
	if (delim < 33 || delim > 126) {
		ftp_reply(s, 501, "EPRT needs |proto|address|port|");
		return;
	}
	char *p = arg + 1;
	while (n < 4) {
		f[n++] = p;
		char *q = strchr(p, delim);
		if (q == NULL)
			break;
		*q = '\0';
		p = q + 1;
	}
	if (n != 4 || f[3][0] != '\0') {
		ftp_reply(s, 501, "EPRT needs |proto|address|port|");
		return;
	}
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	uint64_t port;
	if (ftp_u64(f[2], &port) != 0 || port == 0 || port > 65535) {
		ftp_reply(s, 501, "EPRT: bad port");
		return;
	}
	if (strcmp(f[0], "1") == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a;
		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, f[1], &in->sin_addr) != 1) {
			ftp_reply(s, 501, "EPRT: bad IPv4 address");
			return;
		}
	} else if (strcmp(f[0], "2") == 0) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, f[1], &in6->sin6_addr) != 1) {
			ftp_reply(s, 501, "EPRT: bad IPv6 address");
			return;
		}
	} else {
		ftp_reply(s, 522, "Network protocol not supported, use (1,2)");
		return;
	}
	net_set_port(&a, (unsigned)port);
	ftp_set_active(s, &a, "EPRT");
}

/* Checks common to every transfer: a data channel, and the PROT policy.
 * Replies and returns -1 when the transfer cannot go on. */
static int ftp_xfer_ready(struct ftp_sess *s)
{
	const struct config *c = cfg();

	if (!ftp_data_has_setup(s)) {
		ftp_reply(s, 425, "Use PASV, EPSV, PORT or EPRT first");
		return -1;
	}
	if (c && c->ftp_tls == CONFIG_FTP_TLS_REQUIRE && !s->prot_p) {
		ftp_data_clear(s);
		ftp_reply(s, 521, "Data connections must be protected: send PBSZ 0 and PROT P");
		return -1;
	}
	return 0;
}

/* --- transfers --- */

static void cmd_retr(struct ftp_sess *s, char *arg)
{
	char rel[PM_PATH_MAX];
	struct index *ix;
	uint64_t rest = s->rest, rang_end = s->rang_end;

	s->rest = 0;
	s->rang_end = 0;
	struct view_obj o;
	if (ftp_xfer_ready(s) != 0 ||
	    ftp_file_entry(s, arg, rel, &o, &ix, 550, "Not a regular file") == NULL)
		return;
	if (ftp_prot_ok(s, &o) != 0) {
		index_release(ix);
		return;
	}
	struct stat st;
	int fd = view_open(&o, &st);
	int err = errno; /* the last release of a replaced snapshot closes files */
	index_release(ix);
	if (fd < 0 && (err == EMFILE || err == ENFILE)) {
		ftp_fd_shortage(s, "RETR", err);
		ftp_data_clear(s);
		ftp_reply(s, 451,
		          "Cannot open the file now: the server is out of file "
		          "descriptors; try again later");
		return;
	}
	if (fd < 0) {
		ftp_reply(s, 550, "%s",
		          err == ENOENT ? "No such file or directory" : "Cannot open the file");
		return;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (rest > size) {
		close(fd);
		ftp_reply(s, 554,
		          "REST offset %" PRIu64 " is past the end of the file (%" PRIu64 " bytes)",
		          rest, size);
		return;
	}
	struct ftp_data *dd = s->data;
	dd->src = SRC_FILE;
	dd->fd = fd;
	dd->off = rest;
	/* A range past the end of the file stops at the end (as HTTP does). */
	dd->end = rang_end && rang_end < size ? rang_end : size;
	dd->ascii = s->ascii;
	dd->log_xfer = 1;
	size_t plen = strlen(rel) + 2;
	dd->path = malloc(plen);
	if (dd->path)
		snprintf(dd->path, plen, "/%s", rel);
	char what[160];
	snprintf(what, sizeof(what), "Opening %s mode data connection (%" PRIu64 " bytes)",
	         s->ascii ? "ASCII" : "BINARY", dd->end - rest);
	ftp_data_begin(s, what);
}

/* Skip ls options ("-la", "-R") at the front of a LIST/NLST argument: they
 * are accepted and ignored; the rest is the path (never globbed). */
static char *ftp_skip_opts(char *arg)
{
	while (arg[0] == '-' && arg[1] != '\0' && arg[1] != ' ') {
		char *sp = strchr(arg, ' ');
		if (sp == NULL)
			return arg + strlen(arg);
		arg = sp + 1;
		while (*arg == ' ')
			arg++;
	}
	return arg;
}

static void ftp_list_common(struct ftp_sess *s, char *arg, enum ftp_src src)
{
	char rel[PM_PATH_MAX];
	struct view_obj *o = malloc(sizeof(*o));

	s->rest = 0;
	if (src != SRC_MLSD)
		arg = ftp_skip_opts(arg);
	if (o == NULL) {
		ftp_reply(s, 451, "Out of memory; try again later");
		return;
	}
	if (ftp_xfer_ready(s) != 0 || ftp_resolve(s, arg, rel) != 0) {
		free(o);
		return;
	}
	struct index *ix = index_acquire();
	int k = ftp_kind(s, ix, rel, o);
	const struct index_entry *e = o->e;
	const struct index_dir *d = o->d;
	if (k != FT_NONE && ftp_prot_ok(s, o) != 0) {
		index_release(ix);
		free(o);
		return;
	}
	if (k == FT_NONE || (k == FT_FILE && src == SRC_MLSD)) {
		free(o);
		index_release(ix);
		if (k == FT_FILE)
			ftp_reply(s, 501, "MLSD needs a directory; use MLST for a file");
		else
			ftp_not_found(s);
		return;
	}
	struct ftp_data *dd = s->data;
	dd->src = src;
	dd->ix = ix; /* held for the transfer: listings come from one snapshot */
	dd->dir = k == FT_DIR ? d : NULL;
	/* SECURITY: over a clear data channel a listing names only what
	 * anonymous clients may see (protected names are protected data). */
	if (!s->prot_p)
		o->user = NULL;
	free(dd->view);
	dd->view = o;
	if (k == FT_FILE)
		dd->one = *e;
	dd->pos = 0;
	dd->ascii = 0;
	dd->log_xfer = 0;
	if (src == SRC_NLST && arg[0]) {
		size_t n = strlen(arg);
		dd->prefix = malloc(n + 2);
		if (dd->prefix) {
			memcpy(dd->prefix, arg, n + 1);
			if (k == FT_DIR && arg[n - 1] != '/') {
				dd->prefix[n] = '/';
				dd->prefix[n + 1] = '\0';
			}
		}
	}
	ftp_data_begin(s, "Opening ASCII mode data connection for the listing");
}

static void cmd_list(struct ftp_sess *s, char *arg)
{
	ftp_list_common(s, arg, SRC_LIST);
}

static void cmd_nlst(struct ftp_sess *s, char *arg)
{
	ftp_list_common(s, arg, SRC_NLST);
}

static void cmd_mlsd(struct ftp_sess *s, char *arg)
{
	ftp_list_common(s, arg, SRC_MLSD);
}

static void cmd_mlst(struct ftp_sess *s, char *arg)
{
	char rel[PM_PATH_MAX];
	struct view_obj o;
	struct buf b;

	if (ftp_resolve(s, arg, rel) != 0)
		return;
	struct index *ix = index_acquire();
	int k = ftp_kind(s, ix, rel, &o);
	const struct index_entry *e = o.e;
	const struct index_dir *d = o.d;
	if (k == FT_NONE) {
		index_release(ix);
		ftp_not_found(s);
		return;
	}
	char name[PM_PATH_MAX + 2];
	snprintf(name, sizeof(name), "/%s", rel);
	struct index_entry one;
	if (e) {
		one = *e;
	} else {
		memset(&one, 0, sizeof(one));
		one.type = INDEX_DIR;
		one.mtime = d->mtime;
	}
	one.name = name;
	one.namelen = (uint16_t)strlen(name);
	buf_init(&b, PM_FTP_REPLY_MAX);
	if (buf_puts(&b, "250-Listing\r\n ") != 0 || ftp_facts(s, &b, &one, NULL) != 0 ||
	    buf_puts(&b, "\r\n250 End\r\n") != 0) {
		ftp_reply(s, 550, "Name cannot be sent (it holds CR or LF)");
	} else {
		ftp_reply_raw(s, b.data, b.len);
	}
	buf_free(&b);
	index_release(ix);
}

static void cmd_size(struct ftp_sess *s, char *arg)
{
	char rel[PM_PATH_MAX];
	struct index *ix;
	struct view_obj o;
	const struct index_entry *e =
	    ftp_file_entry(s, arg, rel, &o, &ix, 550, "Not a regular file");

	if (e == NULL)
		return;
	ftp_reply(s, 213, "%" PRIu64, e->size);
	index_release(ix);
}

static void cmd_mdtm(struct ftp_sess *s, char *arg)
{
	char rel[PM_PATH_MAX];

	/* "MDTM YYYYMMDDHHMMSS path" sets a time: a write, refused */
	size_t digits = strspn(arg, "0123456789");
	if (digits == 14 && arg[14] == ' ') {
		ftp_reply(s, 550,
		          "Permission denied: this server is read-only (MDTM cannot set times)");
		return;
	}
	struct index *ix;
	struct view_obj o;
	const struct index_entry *e =
	    ftp_file_entry(s, arg, rel, &o, &ix, 550, "Not a regular file");
	if (e == NULL)
		return;
	char t[32];
	ftp_fmt_time(e->mtime, t, sizeof(t));
	ftp_reply(s, 213, "%s", t);
	index_release(ix);
}

static void cmd_hash(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();
	char rel[PM_PATH_MAX];
	struct index *ix;
	uint64_t rest = s->rest, rang_end = s->rang_end;

	s->rest = 0;
	s->rang_end = 0;
	struct view_obj o;
	if (ftp_file_entry(s, arg, rel, &o, &ix, 553, "HASH needs a regular file") == NULL)
		return;
	struct stat st;
	int fd = view_open(&o, &st);
	int err = errno;
	index_release(ix);
	if (fd < 0 && (err == EMFILE || err == ENFILE)) {
		ftp_fd_shortage(s, "HASH", err);
		ftp_reply(s, 451,
		          "Cannot open the file now: the server is out of file "
		          "descriptors; try again later");
		return;
	}
	if (fd < 0) {
		ftp_not_found(s);
		return;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (rest > size) {
		close(fd);
		ftp_reply(s, 554, "REST offset is past the end of the file");
		return;
	}
	/* draft-bryan-ftp-hash: a RANG before HASH hashes that range only. */
	uint64_t hend = rang_end && rang_end < size ? rang_end : size;
	if (c && c->hash_max_size && hend - rest > c->hash_max_size) {
		close(fd);
		ftp_reply(s, 556,
		          "File too large to hash here (hash_max_size is %" PRIu64 " bytes)",
		          c->hash_max_size);
		return;
	}
	char why[160];
	if (ftp_hash_submit(s, fd, rel, size, (int64_t)st.st_mtime, s->halgo, rest, hend - rest,
	                    why, sizeof(why)) != 0) {
		close(fd);
		ftp_reply(s, 450, "%s", why);
		return;
	}
	/* the reply comes from the worker (ftp_worker.c, delivered by ftp.c) */
}

/* --- informational --- */

static void cmd_stat(struct ftp_sess *s, char *arg)
{
	struct buf b;

	buf_init(&b, PM_FTP_REPLY_MAX);
	if (arg[0] == '\0' || ftp_busy(s)) {
		char tls[96];
		tls_io_describe(&s->ctrl, tls, sizeof(tls));
		buf_puts(&b, "211-pubmirror FTP server status:\r\n");
		buf_printf(&b, " Connected from %s\r\n", s->peer_str);
		buf_printf(&b, " %s\r\n",
		           ftp_is_logged_in(s)
		               ? (ftp_is_anon(s) ? "Logged in anonymously" : "Logged in as a user")
		               : "Not logged in");
		buf_printf(&b, " TYPE: %s, MODE: %s, STRUcture: F, control: %s, data: %s\r\n",
		           s->ascii ? "ASCII" : "BINARY", s->mode_z ? "Z" : "S", tls,
		           s->prot_p ? "protected" : "clear");
		ftp_data_status(s, &b);
		buf_puts(&b, "211 End of status\r\n");
		ftp_reply_raw(s, b.data, b.len);
		buf_free(&b);
		return;
	}
	if (!ftp_is_logged_in(s)) {
		buf_free(&b);
		ftp_reply(s, 530, "Please log in with USER and PASS first");
		return;
	}
	char rel[PM_PATH_MAX];
	struct view_obj o;
	arg = ftp_skip_opts(arg);
	if (ftp_resolve(s, arg, rel) != 0) {
		buf_free(&b);
		return;
	}
	struct index *ix = index_acquire();
	int k = ftp_kind(s, ix, rel, &o);
	const struct index_entry *e = o.e;
	const struct index_dir *d = o.d;
	if (k == FT_NONE) {
		index_release(ix);
		buf_free(&b);
		ftp_not_found(s);
		return;
	}
	time_t now = time(NULL);
	buf_puts(&b, "213-Status follows:\r\n");
	size_t room = PM_FTP_REPLY_MAX - 64;
	if (k == FT_FILE) {
		listing_ls_line(&b, e, now);
	} else {
		for (uint32_t i = 0; i < d->count; i++) {
			const struct index_entry *x = &ix->entries[d->first + i];
			if (!view_child_visible(&o, x))
				continue;
			size_t mark = b.len;
			if (listing_ls_line(&b, x, now) != 0 || b.len > room) {
				buf_truncate(&b, mark);
				buf_puts(&b, " (listing truncated: use LIST or MLSD)\r\n");
				break;
			}
		}
	}
	index_release(ix);
	buf_puts(&b, "213 End of status\r\n");
	ftp_reply_raw(s, b.data, b.len);
	buf_free(&b);
}

static void cmd_syst(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 215, "UNIX Type: L8");
}

static void cmd_noop(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 200, "NOOP ok");
}

static void cmd_feat(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();
	struct buf b;

	buf_init(&b, PM_FTP_REPLY_MAX);
	buf_puts(&b, "211-Features:\r\n");
	if (c == NULL || c->ftp_tls != CONFIG_FTP_TLS_OFF)
		buf_puts(&b, " AUTH TLS\r\n PBSZ\r\n PROT\r\n");
	buf_puts(&b, " CLNT\r\n EPRT\r\n EPSV\r\n HOST\r\n MDTM\r\n");
	buf_puts(&b, " MLST ");
	static const char *const facts[] = {"type", "size", "modify", "perm", "unique"};
	for (unsigned i = 0; i < 5; i++)
		buf_printf(&b, "%s%s;", facts[i], (s->mlst_mask & (1u << i)) ? "*" : "");
	buf_puts(
	    &b, "\r\n MODE Z\r\n RANG STREAM\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n HASH ");
	for (int a = HASH_SHA256; a <= HASH_MD5; a++)
		buf_printf(&b, "%s%s%s", a ? ";" : "", hash_algo_name((enum hash_algo)a),
		           a == s->halgo ? "*" : "");
	buf_puts(&b, "\r\n211 End\r\n");
	ftp_reply_raw(s, b.data, b.len);
	buf_free(&b);
}

static void cmd_opts(struct ftp_sess *s, char *arg)
{
	char *sp = strchr(arg, ' ');
	char *rest = sp ? sp + 1 : arg + strlen(arg);

	if (sp)
		*sp = '\0';
	ftp_upper(arg);
	if (strcmp(arg, "UTF8") == 0 || strcmp(arg, "UTF-8") == 0) {
		ftp_upper(rest);
		if (rest[0] == '\0' || strcmp(rest, "ON") == 0)
			ftp_reply(s, 200, "UTF8 is always on");
		else
			ftp_reply(s, 504, "UTF8 cannot be turned off: names are sent as stored");
	} else if (strcmp(arg, "MLST") == 0) {
		unsigned mask = 0;
		static const char *const facts[] = {"type", "size", "modify", "perm", "unique"};
		char *p = rest;
		while (*p) {
			char *semi = strchr(p, ';');
			size_t n = semi ? (size_t)(semi - p) : strlen(p);
			for (unsigned i = 0; i < 5; i++)
				if (strlen(facts[i]) == n && strncasecmp(p, facts[i], n) == 0)
					mask |= 1u << i;
			p += n + (semi ? 1 : 0);
		}
		s->mlst_mask = mask;
		char out[128] = "";
		size_t o = 0;
		for (unsigned i = 0; i < 5; i++)
			if (mask & (1u << i))
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s;", facts[i]);
		ftp_reply(s, 200, "MLST OPTS %s", out);
	} else if (strcmp(arg, "HASH") == 0) {
		if (rest[0] == '\0') {
			ftp_reply(s, 200, "%s", hash_algo_name((enum hash_algo)s->halgo));
			return;
		}
		int a = hash_algo_parse(rest);
		if (a < 0) {
			ftp_reply(s, 501, "Unknown algorithm (SHA-256, SHA-512, SHA-1, MD5)");
			return;
		}
		s->halgo = a;
		ftp_reply(s, 200, "%s", hash_algo_name((enum hash_algo)a));
	} else if (strcmp(arg, "MODE") == 0) {
		/* OPTS MODE Z LEVEL n */
		char *q = rest;
		ftp_upper(q);
		if (strncmp(q, "Z", 1) != 0) {
			ftp_reply(s, 501, "OPTS MODE: only Z has options");
			return;
		}
		q++;
		while (*q == ' ')
			q++;
		if (*q == '\0') {
			ftp_reply(s, 200, "MODE Z LEVEL %d", s->zlevel);
			return;
		}
		if (strncmp(q, "LEVEL ", 6) == 0 && q[6] >= '0' && q[6] <= '9' && q[7] == '\0') {
			s->zlevel = q[6] - '0';
			ftp_reply(s, 200, "MODE Z LEVEL set to %d", s->zlevel);
			return;
		}
		ftp_reply(s, 501, "OPTS MODE Z LEVEL takes 0 to 9");
	} else {
		ftp_reply(s, 501, "Unknown option");
	}
}

static void cmd_help(struct ftp_sess *s, char *arg);

static void cmd_site(struct ftp_sess *s, char *arg)
{
	char *sp = strchr(arg, ' ');
	if (sp)
		*sp = '\0';
	ftp_upper(arg);
	if (strcmp(arg, "HELP") == 0) {
		ftp_reply(s, 214, "The only SITE command is HELP");
	} else if (strcmp(arg, "CHMOD") == 0 || strcmp(arg, "UMASK") == 0 ||
	           strcmp(arg, "UTIME") == 0 || strcmp(arg, "SYMLINK") == 0) {
		ftp_reply(s, 550, "Permission denied: this server is read-only");
	} else {
		ftp_reply(s, 500, "Unknown SITE command (only SITE HELP)");
	}
}

static void cmd_host(struct ftp_sess *s, char *arg)
{
	if (s->login != FTP_LOGIN_NONE) {
		ftp_reply(s, 503, "HOST must come before USER");
		return;
	}
	ftp_reply(s, 220, "Host accepted");
}

static void cmd_clnt(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 200, "Noted");
}

static void cmd_abor(struct ftp_sess *s, char *arg)
{
	if (s->hjob) {
		/* a digest stops (nobody waits for it); a password check
		 * still answers its PASS */
		if (ftp_worker_abort_digest(s)) {
			ftp_reply(s, 426, "HASH aborted");
			ftp_reply(s, 226, "ABOR successful");
		} else {
			ftp_reply(s, 225, "No transfer to abort");
		}
		return;
	}
	ftp_data_abort(s);
}

/* --- TLS --- */

/* Reset the session to its just-connected state (AUTH TLS). */
static void ftp_cmd_reset(struct ftp_sess *s)
{
	ftp_data_free(s);
	ftp_sess_defaults(s);
}

static void cmd_auth(struct ftp_sess *s, char *arg)
{
	const struct config *c = cfg();

	if (c && c->ftp_tls == CONFIG_FTP_TLS_OFF) {
		ftp_reply(s, 502, "TLS is disabled on this server (ftp_tls = off)");
		return;
	}
	if (s->ctrl.tls) {
		ftp_reply(s, 503, "TLS is already on");
		return;
	}
	ftp_upper(arg);
	if (strcmp(arg, "TLS") != 0 && strcmp(arg, "SSL") != 0 && strcmp(arg, "TLS-C") != 0 &&
	    strcmp(arg, "TLS-P") != 0) {
		ftp_reply(s, 504, "Unknown AUTH mechanism: use AUTH TLS");
		return;
	}
	/* RFC 4217: AUTH resets the session */
	ftp_cmd_reset(s);
	ftp_reply(s, 234, "AUTH %s ok: start the TLS negotiation",
	          strcmp(arg, "SSL") == 0 ? "SSL" : "TLS");
	ftp_sess_phase(s, FTP_PHASE_AUTH_REPLY);
}

static void cmd_pbsz(struct ftp_sess *s, char *arg)
{
	uint64_t v;

	if (ftp_u64(arg, &v) != 0) {
		ftp_reply(s, 501, "PBSZ needs a decimal number");
		return;
	}
	s->pbsz = 1;
	ftp_reply(s, 200, "PBSZ=0");
}

static void cmd_prot(struct ftp_sess *s, char *arg)
{
	if (!s->pbsz) {
		ftp_reply(s, 503, "Send PBSZ 0 before PROT");
		return;
	}
	static const struct ftp_switch w = {.off = "C",
	                                    .on = "P",
	                                    .off_reply = "Protection level set to Clear",
	                                    .on_reply = "Protection level set to Private",
	                                    .unsup1 = "S",
	                                    .unsup2 = "E",
	                                    .unsup_reply =
	                                        "Protection level not supported (use C or P)",
	                                    .unsup_code = 536,
	                                    .bad_code = 504,
	                                    .bad_reply = "Unknown protection level"};
	ftp_set_switch(s, arg, &s->prot_p, &w);
}

static void cmd_ccc(struct ftp_sess *s, char *arg)
{
	/* RFC 4217 section 6 (and 12.3): CCC on a control connection that is
	 * not protected answers 533. */
	if (!s->ctrl.tls) {
		ftp_reply(s, 533, "CCC needs a TLS-protected control connection (send AUTH TLS)");
		return;
	}
	ftp_reply(s, 534, "CCC refused: the control connection stays encrypted");
}

/* --- writes: recognised and refused --- */

static void cmd_write(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 550, "Permission denied: this server is read-only");
}

static void cmd_rnto(struct ftp_sess *s, char *arg)
{
	ftp_reply(s, 503, "RNTO needs a successful RNFR first");
}

/* --- the table --- */

static const struct ftp_cmd ftp_cmds[] = {
    {"ABOR", cmd_abor, C_BUSY, "abort the transfer"},
    {"ACCT", cmd_502, 0, "not implemented"},
    {"ALLO", cmd_allo, C_LOGIN, "no-op"},
    {"APPE", cmd_write, C_LOGIN, "refused: read-only"},
    {"AUTH", cmd_auth, C_ARG, "TLS (or SSL)"},
    {"CCC", cmd_ccc, 0, "refused"},
    {"CDUP", cmd_cdup, C_LOGIN, "go to the parent directory"},
    {"CLNT", cmd_clnt, 0, "client name"},
    {"CWD", cmd_cwd, C_LOGIN | C_ARG, "change directory"},
    {"DELE", cmd_write, C_LOGIN, "refused: read-only"},
    {"EPRT", cmd_eprt, C_LOGIN | C_ARG, "|proto|addr|port|"},
    {"EPSV", cmd_epsv, C_LOGIN, "[1|2|ALL]"},
    {"FEAT", cmd_feat, 0, "features"},
    {"HASH", cmd_hash, C_LOGIN | C_ARG, "digest of a file"},
    {"HELP", cmd_help, 0, "this help"},
    {"HOST", cmd_host, C_ARG, "virtual host (before USER)"},
    {"LIST", cmd_list, C_LOGIN, "[path] ls -l listing"},
    {"MDTM", cmd_mdtm, C_LOGIN | C_ARG, "modification time (UTC)"},
    {"MFF", cmd_write, C_LOGIN, "refused: read-only"},
    {"MFMT", cmd_write, C_LOGIN, "refused: read-only"},
    {"MKD", cmd_write, C_LOGIN, "refused: read-only"},
    {"MLSD", cmd_mlsd, C_LOGIN, "[dir] machine listing"},
    {"MLST", cmd_mlst, C_LOGIN, "[path] facts"},
    {"MODE", cmd_mode, C_LOGIN | C_ARG, "S or Z"},
    {"NLST", cmd_nlst, C_LOGIN, "[path] names"},
    {"NOOP", cmd_noop, 0, "no-op"},
    {"OPTS", cmd_opts, C_ARG, "UTF8, MLST, HASH, MODE Z"},
    {"PASS", cmd_pass, 0, "password"},
    {"PASV", cmd_pasv, C_LOGIN, "passive mode (IPv4)"},
    {"PBSZ", cmd_pbsz, C_ARG | C_TLS, "0"},
    {"PORT", cmd_port, C_LOGIN | C_ARG, "h1,h2,h3,h4,p1,p2"},
    {"PROT", cmd_prot, C_ARG | C_TLS, "C or P"},
    {"PWD", cmd_pwd, C_LOGIN, "current directory"},
    {"QUIT", cmd_quit, C_BUSY, "end the session"},
    {"RANG", cmd_rang, C_LOGIN | C_ARG, "<start> <end> byte range of the next RETR"},
    {"REIN", cmd_502, 0, "not implemented"},
    {"REST", cmd_rest, C_LOGIN | C_ARG, "restart offset"},
    {"RETR", cmd_retr, C_LOGIN | C_ARG, "download a file"},
    {"RMD", cmd_write, C_LOGIN, "refused: read-only"},
    {"RNFR", cmd_write, C_LOGIN, "refused: read-only"},
    {"RNTO", cmd_rnto, C_LOGIN, "refused: read-only"},
    {"SITE", cmd_site, C_LOGIN | C_ARG, "HELP"},
    {"SIZE", cmd_size, C_LOGIN | C_ARG, "size of a file"},
    {"SMNT", cmd_502, 0, "not implemented"},
    {"STAT", cmd_stat, C_BUSY, "[path] status"},
    {"STOR", cmd_write, C_LOGIN, "refused: read-only"},
    {"STOU", cmd_write, C_LOGIN, "refused: read-only"},
    {"STRU", cmd_stru, C_LOGIN | C_ARG, "F"},
    {"SYST", cmd_syst, 0, "system type"},
    {"TYPE", cmd_type, C_LOGIN | C_ARG, "A, I or L 8"},
    {"USER", cmd_user, C_ARG, "user name"},
    {"XCUP", cmd_cdup, C_LOGIN, "CDUP"},
    {"XCWD", cmd_cwd, C_LOGIN | C_ARG, "CWD"},
    {"XMKD", cmd_write, C_LOGIN, "refused: read-only"},
    {"XPWD", cmd_pwd, C_LOGIN, "PWD"},
    {"XRMD", cmd_write, C_LOGIN, "refused: read-only"},
};

static const struct ftp_cmd *ftp_cmd_find(const char *verb, size_t n)
{
	size_t lo = 0, hi = sizeof(ftp_cmds) / sizeof(ftp_cmds[0]);

	if (n == 0 || n > 4)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncasecmp(verb, ftp_cmds[mid].verb, n);
		if (c == 0 && ftp_cmds[mid].verb[n] != '\0')
			c = -1;
		if (c == 0)
			return &ftp_cmds[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void cmd_help(struct ftp_sess *s, char *arg)
{
	struct buf b;

	if (arg[0]) {
		const struct ftp_cmd *c = ftp_cmd_find(arg, strlen(arg));
		if (c == NULL) {
			ftp_reply(s, 502, "Unknown command");
			return;
		}
		ftp_reply(s, 214, "%s: %s", c->verb, c->help);
		return;
	}
	buf_init(&b, PM_FTP_REPLY_MAX);
	buf_puts(&b, "214-The following commands are recognized:\r\n");
	size_t n = sizeof(ftp_cmds) / sizeof(ftp_cmds[0]);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%-5s%s", i % 8 == 0 ? " " : "", ftp_cmds[i].verb,
		           (i % 8 == 7 || i == n - 1) ? "\r\n" : "");
	buf_puts(&b, "214 Help OK\r\n");
	ftp_reply_raw(s, b.data, b.len);
	buf_free(&b);
}

int ftp_cmd_busy_ok(const char *line, size_t n)
{
	size_t v = 0;

	while (v < n && line[v] != ' ')
		v++;
	const struct ftp_cmd *c = ftp_cmd_find(line, v);
	return c && (c->flags & C_BUSY);
}

void ftp_cmd_line(struct ftp_sess *s, char *line, size_t n)
{
	size_t v = 0;

	while (v < n && line[v] != ' ')
		v++;
	char *arg = line + v;
	if (*arg == ' ')
		arg++;
	if (memchr(line, '\0', n) != NULL) {
		ftp_reply(s, 501, "Command holds a NUL byte");
		ftp_bad(s);
		return;
	}
	const struct ftp_cmd *c = ftp_cmd_find(line, v);
	if (c == NULL) {
		ftp_reply(s, 500, "Unknown command");
		ftp_bad(s);
		return;
	}
	if ((c->flags & C_TLS) && !s->ctrl.tls) {
		ftp_reply(s, 503, "%s needs AUTH TLS first", c->verb);
		ftp_bad(s);
		return;
	}
	if ((c->flags & C_LOGIN) && !ftp_is_logged_in(s)) {
		ftp_reply(s, 530, "Please log in with USER and PASS first");
		ftp_bad(s);
		return;
	}
	if ((c->flags & C_ARG) && arg[0] == '\0') {
		ftp_reply(s, 501, "%s needs an argument", c->verb);
		ftp_bad(s);
		return;
	}
	c->fn(s, arg);
}
