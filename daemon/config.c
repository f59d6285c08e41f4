/* config.c - the one table of tunables, its parser and the published
 * snapshot (see config.h).
 *
 * Every key lives in conf_keys[] below: name, type, offset into struct
 * config, default (as text, parsed by the same code as the file), bounds and
 * one doc line.  The defaults, the file parser, --set, the sample file, the
 * README reference and both man pages are all generated from that table, so
 * they cannot disagree.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "config_int.h"
#include "limits.h"
#include "path.h"

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const char *const http_modes[] = {"redirect", "serve", NULL};
static const char *const ftp_tls_modes[] = {"allow", "require", "off", NULL};
static const char *const reuse_modes[] = {"off", "preferred", "required", NULL};
/* Order gives the CONFIG_PROXY_* bit numbers. */
static const char *const proxy_names[] = {"ftp", "ftps", "https", "http", NULL};

#define U32MAX 4294967295ull

const struct conf_key conf_keys[] = {
    {"root", CT_PATH, FIELD(root), "mirror-root", 1, 0, NULL, CK_NONE, "Files",
     "The served tree (read-only; nothing is ever written into it)."},
    {"state_dir", CT_PATH, FIELD(state_dir), "state", 1, 0, NULL, CK_NONE, NULL,
     "Directory for state kept between runs (the generated certificate)."},
    {"tls_cert", CT_PATH, FIELD(tls_cert), "", 0, 0, NULL, CK_NONE, NULL,
     "PEM certificate (with chain); empty: a self-signed pair is generated in state_dir."},
    {"tls_key", CT_PATH, FIELD(tls_key), "", 0, 0, NULL, CK_NONE, NULL,
     "PEM private key of tls_cert (mode 0600 or stricter); set both or neither."},
    {"tls_generated_max_age", CT_SECONDS, FIELD(tls_generated_max_age), "0", 0, 34300800ull, NULL,
     CK_NONE, NULL,
     "Generated pair: also renew it (while running) at this age; 0: 30 days before its end."},
    {"auth_file", CT_PATH, FIELD(auth_file), "", 0, 0, NULL, CK_NONE, NULL,
     "htpasswd file of users for HTTPS Basic auth and FTP after AUTH TLS; empty: none."},
    {"auth_paths", CT_PREFIXES, FIELD(auth_paths), "", 0, 0, NULL, CK_NONE, NULL,
     "Comma-separated path prefixes that need a login (/: the whole site); needs auth_file."},
    {"acme_webroot", CT_PATH, FIELD(acme_webroot), "", 0, 0, NULL, CK_NONE, NULL,
     "certbot's -w directory: <dir>/.well-known/acme-challenge/<token> served over HTTP."},
    {"acme_directory", CT_STRING, FIELD(acme_directory), "", 0, 0, NULL, CK_NONE, "ACME",
     "Built-in ACME: the CA's directory URL (https://); empty: off."},
    {"acme_domains", CT_STRING, FIELD(acme_domains), "", 0, 0, NULL, CK_NONE, NULL,
     "Built-in ACME: comma-separated DNS names of the certificate (HTTP-01 on http_listen)."},
    {"acme_email", CT_STRING, FIELD(acme_email), "", 0, 0, NULL, CK_NONE, NULL,
     "Built-in ACME: contact address given to the CA; empty: none."},
    {"acme_ca_file", CT_PATH, FIELD(acme_ca_file), "", 0, 0, NULL, CK_NONE, NULL,
     "Built-in ACME: PEM CA file trusted for the ACME server; empty: the system's CAs."},
    {"acme_renew_max_age", CT_SECONDS, FIELD(acme_renew_max_age), "0", 0, 315360000ull, NULL,
     CK_NONE, NULL, "Built-in ACME: renew at this age even before 2/3 of the lifetime; 0: at 2/3."},
    {"acme_retry", CT_SECONDS, FIELD(acme_retry), "600", 1, 86400, NULL, CK_NONE, NULL,
     "Built-in ACME: seconds between attempts while the CA fails (the old certificate stays)."},
    {"error_log", CT_PATH, FIELD(error_log), "", 0, 0, NULL, CK_NONE, "Logs",
     "Error log file; empty: stderr in the foreground (-f), syslog otherwise."},
    {"access_log", CT_PATH, FIELD(access_log), "", 0, 0, NULL, CK_NONE, NULL,
     "HTTP access log in combined log format; empty: none."},
    {"xfer_log", CT_PATH, FIELD(xfer_log), "", 0, 0, NULL, CK_NONE, NULL,
     "FTP transfer log in xferlog format; empty: none."},
    {"json_log", CT_PATH, FIELD(json_log), "", 0, 0, NULL, CK_NONE, NULL,
     "One JSON object per line for requests and transfers of every protocol; empty: none."},
    {"user", CT_STRING, FIELD(user), "nobody", 1, 0, NULL, CK_USER, "Privileges",
     "Unprivileged user to run as after binding the ports (when started as root)."},
    {"ftp_listen", CT_ADDRS, FIELD(ftp_listen), "127.0.0.1:2121", 0, 0, NULL, CK_NONE, "Listeners",
     "Plain and explicit-TLS FTP addresses (host:port, [v6]:port, *:port), or off."},
    {"ftps_listen", CT_ADDRS, FIELD(ftps_listen), "127.0.0.1:9990", 0, 0, NULL, CK_NONE, NULL,
     "Implicit FTPS addresses, or off."},
    {"https_listen", CT_ADDRS, FIELD(https_listen), "127.0.0.1:8443", 0, 0, NULL, CK_NONE, NULL,
     "HTTPS addresses, or off."},
    {"http_listen", CT_ADDRS, FIELD(http_listen), "off", 0, 0, NULL, CK_NONE, NULL,
     "Plain HTTP addresses, or off."},
    {"rsync_listen", CT_ADDRS, FIELD(rsync_listen), "off", 0, 0, NULL, CK_NONE, NULL,
     "Read-only anonymous rsync daemon addresses (rsync://, port 873 in production), or off."},
    {"metrics_listen", CT_ADDRS, FIELD(metrics_listen), "off", 0, 0, NULL, CK_NONE, NULL,
     "Plain HTTP addresses for /metrics (keep it on loopback), or off."},
    {"http_mode", CT_ENUM, FIELD(http_mode), "redirect", 0, 0, http_modes, CK_NONE, NULL,
     "What plain HTTP does: redirect to HTTPS, or serve the files itself."},
    {"proxy_protocol", CT_FLAGS, FIELD(proxy_protocol), "", 0, 0, proxy_names, CK_NONE, NULL,
     "Listeners (ftp, ftps, https, http) that get a PROXY protocol header first; empty: none."},
    {"ftp_tls", CT_ENUM, FIELD(ftp_tls), "allow", 0, 0, ftp_tls_modes, CK_NONE, "FTP",
     "FTP TLS: allow (plain or TLS), require (no login or data without TLS), off."},
    {"ftp_tls_reuse", CT_ENUM, FIELD(ftp_tls_reuse), "preferred", 0, 0, reuse_modes, CK_NONE, NULL,
     "TLS session reuse on FTPS data connections: off, preferred, required."},
    {"pasv_ports", CT_PORTRANGE, FIELD(pasv_min), "40000-40999", 1024, 65535, NULL, CK_NONE, NULL,
     "Passive-mode data port range LOW-HIGH (1024-65535)."},
    {"pasv_address", CT_IPV4, FIELD(pasv_address), "", 0, 0, NULL, CK_NONE, NULL,
     "IPv4 address announced in PASV replies (NAT); empty: the control connection's."},
    {"pasv_address_map", CT_NETMAP, FIELD(pasv_address_map), "", 0, 0, NULL, CK_NONE, NULL,
     "Per-client-network PASV address: CIDR=IPv4, ... (first match wins over pasv_address)."},
    {"ftp_threads", CT_UINT, FIELD(ftp_threads), "2", 1, PM_FTP_THREADS_MAX, NULL, CK_NONE, NULL,
     "FTP event-loop threads."},
    {"hash_max_size", CT_SIZE, FIELD(hash_max_size), "4G", 0, NOMAX, NULL, CK_NONE, NULL,
     "Largest file the FTP HASH command will checksum (K, M, G, T suffixes)."},
    {"ftp_banner", CT_STRING, FIELD(ftp_banner), "pubmirror FTP server ready", 1, 0, NULL,
     CK_BANNER, NULL, "Text of the FTP 220 greeting (printable ASCII)."},
    {"rsync_module", CT_STRING, FIELD(rsync_module), "mirror", 1, 0, NULL, CK_MODULE, "rsync",
     "Name of the one rsync module (rsync://host/NAME/) that serves the whole tree."},
    {"rsync_motd", CT_PATH, FIELD(rsync_motd), "", 0, 0, NULL, CK_NONE, NULL,
     "File whose text rsync clients see before the module list (read at start); empty: none."},
    {"http_threads", CT_UINT, FIELD(http_threads), "2", 1, 64, NULL, CK_NONE, "HTTP",
     "HTTP worker threads."},
    {"hsts_max_age", CT_SECONDS, FIELD(hsts_max_age), "15552000", 0, 315360000ull, NULL, CK_NONE,
     NULL, "Strict-Transport-Security max-age in seconds on HTTPS; 0: no header."},
    {"mirrors", CT_STRING, FIELD(mirrors), "", 0, 0, NULL, CK_URLS, NULL,
     "Other mirrors' base URLs (https://, http://, ftp://), comma-separated, listed in .meta4."},
    {"show_dotfiles", CT_BOOL, FIELD(show_dotfiles), "no", 0, 0, NULL, CK_NONE, "Access",
     "Serve and list names starting with a dot."},
    {"max_clients", CT_UINT, FIELD(max_clients), "2000", 1, 1000000, NULL, CK_NONE, "Limits",
     "Connections at once, all protocols together."},
    {"max_transfers", CT_UINT, FIELD(max_transfers), "0", 0, 1000000, NULL, CK_NONE, NULL,
     "FTP data channels at once; 0: max_clients. Needs max_clients + 2 x this + 64 fds."},
    {"max_per_ip", CT_UINT, FIELD(max_per_ip), "50", 0, 1000000, NULL, CK_NONE, NULL,
     "Connections at once from one address, all protocols together; 0: no limit."},
    {"rate_per_ip", CT_RATE, FIELD(rate_per_ip), "0", 0, NOMAX, NULL, CK_NONE, NULL,
     "Bytes per second to one address, all protocols together (K, M, G); 0: unlimited."},
    {"rate_total", CT_RATE, FIELD(rate_total), "0", 0, NOMAX, NULL, CK_NONE, NULL,
     "Bytes per second in total (K, M, G suffixes); 0: unlimited."},
    {"ban_after", CT_UINT, FIELD(ban_after), "10", 0, 1000000, NULL, CK_NONE, NULL,
     "Failed logins from one address within ban_window that ban it; 0: never ban."},
    {"ban_window", CT_SECONDS, FIELD(ban_window), "600", 1, 604800, NULL, CK_NONE, NULL,
     "Seconds over which failed logins are counted (s, m, h, d suffixes)."},
    {"ban_time", CT_SECONDS, FIELD(ban_time), "900", 1, 2592000, NULL, CK_NONE, NULL,
     "Seconds a banned address stays banned, in every protocol (s, m, h, d suffixes)."},
    {"idle_timeout", CT_SECONDS, FIELD(idle_timeout), "300", 1, 86400, NULL, CK_NONE, "Timeouts",
     "Seconds an idle FTP control connection is kept (s, m, h, d suffixes)."},
    {"drain_timeout", CT_SECONDS, FIELD(drain_timeout), "30", 0, 3600, NULL, CK_NONE, NULL,
     "Seconds running transfers may finish after SIGTERM before they are cut."},
    {"index_rescan", CT_SECONDS, FIELD(index_rescan), "300", 0, 604800, NULL, CK_NONE, NULL,
     "Seconds between full rescans of the tree; 0: only on change or SIGHUP."},
};

#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))
const size_t conf_nkeys = NKEYS;

/* set_value stores CT_ENUM as an int and CT_BOOL/CT_FLAGS as int/unsigned. */
_Static_assert(sizeof(enum config_http_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_ftp_tls) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_reuse) == sizeof(int), "enum size");

/* Where each key's value came from, for errors of the cross-key checks. */
struct conf_origin {
	const char *file; /* NULL: default or --set */
	int line;         /* > 0: file line; 0: default; -1: --set */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void say(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* A value quoted for an error message: escaped, and cut when long. */
static const char *shown(char *out, size_t outsz, const char *s)
{
	size_t n = strlen(s);
	size_t cut = n > 60 ? 60 : n;

	/* Escapes take up to 4 bytes: cut until the escaped text fits. */
	while (cut > 0 && buf_enc_len(s, cut, BUF_ENC_LOG) >= outsz - 4)
		cut--;
	if (enc_into(out, outsz - 4, s, cut, BUF_ENC_LOG) != 0)
		snprintf(out, outsz, "(unprintable)");
	else if (cut < n)
		memcpy(out + strlen(out), "...", 4);
	return out;
}

static const struct conf_key *key_find(const char *name, size_t n)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(conf_keys[i].name) == n && memcmp(conf_keys[i].name, name, n) == 0)
			return &conf_keys[i];
	return NULL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Digits only (no sign, no blanks), base 10, no overflow.  Returns the
 * count of digits read (0: none or overflow, *over set on overflow). */
static size_t parse_digits(const char *s, uint64_t *out, int *over)
{
	uint64_t v = 0;
	size_t i = 0;

	*over = 0;
	for (; is_digit(s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*over = 1;
			return 0;
		}
		v = v * 10 + d;
	}
	*out = v;
	return i;
}

/* Number with an optional one-letter suffix from sfx (case-insensitive),
 * scaled by mul[]. 0 ok, -1 malformed, -2 overflow. */
static int parse_scaled(const char *s, const char *sfx, const uint64_t *mul, uint64_t *out)
{
	uint64_t v;
	int over;
	size_t n = parse_digits(s, &v, &over);

	if (over)
		return -2;
	if (n == 0)
		return -1;
	if (s[n] == '\0') {
		*out = v;
		return 0;
	}
	if (s[n + 1] != '\0')
		return -1;
	for (size_t i = 0; sfx[i]; i++) {
		if (lower((unsigned char)s[n]) == sfx[i]) {
			if (v != 0 && mul[i] > UINT64_MAX / v)
				return -2;
			*out = v * mul[i];
			return 0;
		}
	}
	return -1;
}

static const uint64_t size_mul[] = {1024ull, 1024ull * 1024, 1024ull * 1024 * 1024,
                                    1024ull * 1024 * 1024 * 1024};
static const uint64_t secs_mul[] = {1, 60, 3600, 86400};

int config_parse_size(const char *s, uint64_t *out)
{
	return parse_scaled(s, "kmgt", size_mul, out) == 0 ? 0 : -1;
}

/* A number the way a person would write it back: 4G, 30d, 1000000. */
void conf_num_text(enum conf_type t, uint64_t v, char *out, size_t outsz)
{
	static const char size_sfx[] = "KMGT";
	static const char secs_sfx[] = "smhd";

	if (v != 0 && (t == CT_SIZE || t == CT_RATE)) {
		for (int i = 3; i >= 0; i--) {
			if (v % size_mul[i] == 0) {
				snprintf(out, outsz, "%llu%c",
				         (unsigned long long)(v / size_mul[i]), size_sfx[i]);
				return;
			}
		}
	}
	if (v != 0 && t == CT_SECONDS) {
		for (int i = 3; i >= 1; i--) {
			if (v % secs_mul[i] == 0) {
				snprintf(out, outsz, "%llu%c",
				         (unsigned long long)(v / secs_mul[i]), secs_sfx[i]);
				return;
			}
		}
	}
	snprintf(out, outsz, "%llu", (unsigned long long)v);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

static int parse_port(const char *s, unsigned *port)
{
	uint64_t v;
	int over;
	size_t n = parse_digits(s, &v, &over);

	if (n == 0 || s[n] != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* One "host:port", "[v6]:port" or "*:port" (n bytes) into a sockaddr. */
static int parse_one_addr(const char *s, size_t n, struct sockaddr_storage *ss, socklen_t *len,
                          char *err, size_t errsz)
{
	char tmp[128], sh[96];
	char *host, *port;
	unsigned p;

	if (n >= sizeof(tmp)) {
		say(err, errsz, "address is longer than %zu bytes", sizeof(tmp) - 1);
		return -1;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (tmp[0] == '[') {
		char *close = strchr(tmp, ']');
		if (close == NULL || close[1] != ':') {
			say(err, errsz, "\"%s\" is not [IPv6]:port", shown(sh, sizeof(sh), tmp));
			return -1;
		}
		*close = '\0';
		host = tmp + 1;
		port = close + 2;
	} else {
		port = strrchr(tmp, ':');
		if (port == NULL) {
			say(err, errsz, "\"%s\" has no port (host:port, [IPv6]:port or *:port)",
			    shown(sh, sizeof(sh), tmp));
			return -1;
		}
		*port++ = '\0';
		host = tmp;
		if (strchr(host, ':')) {
			say(err, errsz, "\"%s\": write an IPv6 address in brackets, [%s]:%s",
			    shown(sh, sizeof(sh), s), host, port);
			return -1;
		}
	}
	if (parse_port(port, &p) != 0) {
		say(err, errsz, "\"%s\" is not a port (1-65535)", shown(sh, sizeof(sh), port));
		return -1;
	}
	if (tmp[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			say(err, errsz, "\"%s\" is not a numeric IPv6 address",
			    shown(sh, sizeof(sh), host));
			return -1;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		if (strcmp(host, "*") == 0) {
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		} else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			/* SECURITY/robustness: no DNS at start-up or reload. */
			say(err, errsz,
			    "\"%s\" is not a numeric IPv4 address (names are not resolved)",
			    shown(sh, sizeof(sh), host));
			return -1;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof(*a4);
	}
	return 0;
}

static int addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

void config_addr_text(const struct sockaddr_storage *a, char *out, size_t outsz)
{
	char h[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *a4 = (const void *)a;
		inet_ntop(AF_INET, &a4->sin_addr, h, sizeof(h));
		snprintf(out, outsz, "%s:%u", h, ntohs(a4->sin_port));
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)a;
		inet_ntop(AF_INET6, &a6->sin6_addr, h, sizeof(h));
		snprintf(out, outsz, "[%s]:%u", h, ntohs(a6->sin6_port));
	} else {
		snprintf(out, outsz, "?");
	}
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split s at commas; call fn on each trimmed element.  Empty elements are
 * an error.  Returns 0 or -1 (fn's error, or "empty item"). */
typedef int (*item_fn)(const char *s, size_t n, void *arg, char *err, size_t errsz);
static int for_each_item(const char *s, item_fn fn, void *arg, char *err, size_t errsz)
{
	const char *p = s;

	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *q = p;
		while (n && is_blank(*q)) {
			q++;
			n--;
		}
		while (n && is_blank(q[n - 1]))
			n--;
		if (n == 0) {
			say(err, errsz, "empty item in comma-separated list");
			return -1;
		}
		if (fn(q, n, arg, err, errsz) != 0)
			return -1;
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

static int addr_push(struct config_addrs *out, const struct sockaddr_storage *a, socklen_t len,
                     char *err, size_t errsz);

static int addr_item(const char *s, size_t n, void *arg, char *err, size_t errsz)
{
	struct config_addrs *out = arg;
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_one_addr(s, n, &ss, &len, err, errsz) != 0)
		return -1;
	/* "*:port" means every address: 0.0.0.0:port here and [::]:port
	 * (IPV6_V6ONLY, see net.c) added after it, as nginx's "listen 80" and
	 * "listen [::]:80".  One dual-stack socket would show IPv4 peers as
	 * ::ffff:a.b.c.d to the limiter and the logs. */
	if (n > 2 && s[0] == '*' && s[1] == ':' && ss.ss_family == AF_INET) {
		struct sockaddr_in6 any6;
		memset(&any6, 0, sizeof(any6));
		any6.sin6_family = AF_INET6;
		any6.sin6_addr = in6addr_any;
		any6.sin6_port = ((struct sockaddr_in *)&ss)->sin_port;
		if (addr_push(out, &ss, len, err, errsz) != 0)
			return -1;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &any6, sizeof(any6));
		len = sizeof(any6);
	}
	return addr_push(out, &ss, len, err, errsz);
}

/* Append one address to out unless it is there already or out is full. */
static int addr_push(struct config_addrs *out, const struct sockaddr_storage *a, socklen_t len,
                     char *err, size_t errsz)
{
	struct sockaddr_storage ss = *a;
	char t[96];

	if (out->n >= PM_CONF_ADDRS_MAX) {
		say(err, errsz, "more than %d addresses", PM_CONF_ADDRS_MAX);
		return -1;
	}
	for (int i = 0; i < out->n; i++) {
		if (addr_equal(&out->a[i], &ss)) {
			config_addr_text(&ss, t, sizeof(t));
			say(err, errsz, "%s is listed twice", t);
			return -1;
		}
	}
	out->a[out->n] = ss;
	out->len[out->n] = len;
	out->n++;
	return 0;
}

int config_parse_addrs(const char *s, struct config_addrs *out, char *err, size_t errsz)
{
	struct config_addrs tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (strcasecmp(s, "off") == 0) {
		*out = tmp;
		return 0;
	}
	if (s[0] == '\0') {
		say(err, errsz, "empty; write off to disable");
		return -1;
	}
	if (for_each_item(s, addr_item, &tmp, err, errsz) != 0)
		return -1;
	*out = tmp;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Prefixes and the PASV network map (used by config_pasv.c)         */
/* ------------------------------------------------------------------ */

static int prefix_item(const char *s, size_t n, void *arg, char *err, size_t errsz)
{
	struct config_prefixes *out = arg;
	char canon[PM_PATH_MAX], sh[96], raw[128];
	const char *why = NULL;

	if (out->n >= PM_CONF_PREFIXES_MAX) {
		say(err, errsz, "more than %d prefixes", PM_CONF_PREFIXES_MAX);
		return -1;
	}
	snprintf(raw, sizeof(raw), "%.*s", (int)(n < 100 ? n : 100), s);
	if (path_resolve("", s, n, canon, sizeof(canon), &why) != 0) {
		say(err, errsz, "\"%s\": %s", shown(sh, sizeof(sh), raw), why ? why : "bad path");
		return -1;
	}
	if (strlen(canon) >= sizeof(out->p[0])) {
		say(err, errsz, "\"%s\" is longer than %zu bytes", shown(sh, sizeof(sh), raw),
		    sizeof(out->p[0]) - 1);
		return -1;
	}
	memcpy(out->p[out->n], canon, strlen(canon) + 1);
	out->n++;
	return 0;
}

static int netmap_item(const char *s, size_t n, void *arg, char *err, size_t errsz)
{
	struct config_netmap *out = arg;
	char tmp[160], sh[96];
	char *eq, *slash, *net, *to;
	uint64_t plen;
	int over, maxlen;
	struct in_addr to4;

	if (out->n >= PM_CONF_MAP_MAX) {
		say(err, errsz, "more than %d entries", PM_CONF_MAP_MAX);
		return -1;
	}
	if (n >= sizeof(tmp)) {
		say(err, errsz, "entry is longer than %zu bytes", sizeof(tmp) - 1);
		return -1;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	eq = strchr(tmp, '=');
	if (eq == NULL) {
		say(err, errsz, "\"%s\" is not NETWORK/LEN=ADDRESS", shown(sh, sizeof(sh), tmp));
		return -1;
	}
	*eq = '\0';
	net = tmp;
	to = eq + 1;
	while (is_blank(*to))
		to++;
	for (size_t k = strlen(net); k && is_blank(net[k - 1]); k--)
		net[k - 1] = '\0';
	slash = strchr(net, '/');
	if (slash == NULL) {
		say(err, errsz, "\"%s\" has no /prefix-length", shown(sh, sizeof(sh), net));
		return -1;
	}
	*slash = '\0';
	struct sockaddr_storage *ss = &out->m[out->n].net;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, net, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, net, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		maxlen = 128;
	} else {
		say(err, errsz, "\"%s\" is not a numeric IPv4 or IPv6 network",
		    shown(sh, sizeof(sh), net));
		return -1;
	}
	size_t d = parse_digits(slash + 1, &plen, &over);
	if (d == 0 || slash[1 + d] != '\0' || plen > (uint64_t)maxlen) {
		say(err, errsz, "\"%s\" is not a prefix length (0-%d)",
		    shown(sh, sizeof(sh), slash + 1), maxlen);
		return -1;
	}
	if (inet_pton(AF_INET, to, &to4) != 1) {
		say(err, errsz, "\"%s\" is not a numeric IPv4 address (PASV announces IPv4)",
		    shown(sh, sizeof(sh), to));
		return -1;
	}
	out->m[out->n].prefix = (int)plen;
	inet_ntop(AF_INET, &to4, out->m[out->n].addr, sizeof(out->m[out->n].addr));
	out->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* One value                                                           */
/* ------------------------------------------------------------------ */

static int check_text(const struct conf_key *k, const char *v, char *err, size_t errsz)
{
	size_t n = strlen(v);

	if (n >= k->size) {
		say(err, errsz, "value is longer than %zu bytes", k->size - 1);
		return -1;
	}
	if (n < k->min) {
		say(err, errsz, "must not be empty");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f) {
			say(err, errsz, "value contains a control character (byte %zu)", i + 1);
			return -1;
		}
		/* SECURITY: the banner goes into an FTP reply line as it is. */
		if (k->check == CK_BANNER && c > 0x7e) {
			say(err, errsz, "only printable ASCII is allowed (byte %zu is 0x%02x)",
			    i + 1, c);
			return -1;
		}
		/* SECURITY: mirror URLs go into Metalink XML: URL bytes only. */
		if (k->check == CK_URLS &&
		    (c > 0x7e || c == ' ' || c == '"' || c == '\'' || c == '<' || c == '>' ||
		     c == '\\' || c == '`' || c == '{' || c == '}' || c == '|' || c == '^')) {
			say(err, errsz, "byte %zu is not allowed in a URL", i + 1);
			return -1;
		}
		if ((k->check == CK_USER || k->check == CK_MODULE) &&
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
		      c == '_' || c == '-' || c == '.')) {
			char sh[96];
			say(err, errsz, "\"%s\" is not a %s name (letters, digits, . _ -)",
			    shown(sh, sizeof(sh), v), k->check == CK_USER ? "user" : "module");
			return -1;
		}
	}
	if (k->check == CK_URLS) {
		for (const char *p = v; *p;) {
			size_t l = strcspn(p, ",");
			if (!(l > 8 && strncmp(p, "https://", 8) == 0) &&
			    !(l > 7 && strncmp(p, "http://", 7) == 0) &&
			    !(l > 6 && strncmp(p, "ftp://", 6) == 0)) {
				say(err, errsz,
				    "each mirror must be an https://, http:// or "
				    "ftp:// URL (item at byte %zu)",
				    (size_t)(p - v) + 1);
				return -1;
			}
			p += l;
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void conf_list_choices(const char *const *ch, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; ch[i]; i++) {
		int w = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", ch[i]);
		if (w < 0 || (size_t)w >= outsz - o)
			return;
		o += (size_t)w;
	}
}

static int choice_index(const char *const *ch, const char *s, size_t n)
{
	for (int i = 0; ch[i]; i++)
		if (strlen(ch[i]) == n && strncasecmp(ch[i], s, n) == 0)
			return i;
	return -1;
}

struct flag_arg {
	const struct conf_key *k;
	unsigned bits;
};

static int flag_item(const char *s, size_t n, void *arg, char *err, size_t errsz)
{
	struct flag_arg *fa = arg;
	const struct conf_key *k = fa->k;
	char list[128], sh[96], raw[100];
	int i = choice_index(k->choices, s, n);

	if (i < 0) {
		conf_list_choices(k->choices, list, sizeof(list));
		snprintf(raw, sizeof(raw), "%.*s", (int)(n < 90 ? n : 90), s);
		say(err, errsz, "\"%s\" is not one of %s", shown(sh, sizeof(sh), raw), list);
		return -1;
	}
	fa->bits |= 1u << i;
	return 0;
}

static int set_number(const struct conf_key *k, struct config *c, const char *v, char *err,
                      size_t errsz)
{
	char sh[96], lim[32];
	uint64_t x = 0;
	int rc;

	switch (k->type) {
	case CT_UINT: {
		int over;
		size_t n = parse_digits(v, &x, &over);
		rc = over ? -2 : (n == 0 || v[n] != '\0') ? -1 : 0;
		if (rc == -1)
			say(err, errsz, "\"%s\" is not a number", shown(sh, sizeof(sh), v));
		break;
	}
	case CT_SIZE:
	case CT_RATE:
		rc = parse_scaled(v, "kmgt", size_mul, &x);
		if (rc == -1)
			say(err, errsz,
			    "\"%s\" is not a %s (a number with an optional K, M, G or T)",
			    shown(sh, sizeof(sh), v),
			    k->type == CT_SIZE ? "size in bytes" : "rate in bytes per second");
		break;
	default: /* CT_SECONDS */
		rc = parse_scaled(v, "smhd", secs_mul, &x);
		if (rc == -1)
			say(err, errsz,
			    "\"%s\" is not a duration (seconds, or a number with s, m, h or d)",
			    shown(sh, sizeof(sh), v));
		break;
	}
	if (rc == -2) {
		say(err, errsz, "%s is too large", shown(sh, sizeof(sh), v));
		return -1;
	}
	if (rc != 0)
		return -1;
	uint64_t max = k->max;
	if (k->size == sizeof(unsigned) && max > U32MAX)
		max = U32MAX;
	if (x < k->min) {
		conf_num_text(k->type, k->min, lim, sizeof(lim));
		say(err, errsz, "%s is below the minimum %s", shown(sh, sizeof(sh), v), lim);
		return -1;
	}
	if (x > max) {
		conf_num_text(k->type, max, lim, sizeof(lim));
		say(err, errsz, "%s is above the maximum %s", shown(sh, sizeof(sh), v), lim);
		return -1;
	}
	char *f = (char *)c + k->off;
	if (k->size == sizeof(uint64_t)) {
		memcpy(f, &x, sizeof(x));
	} else {
		unsigned u = (unsigned)x;
		memcpy(f, &u, sizeof(u));
	}
	return 0;
}

/* Parse v as key k into c.  On error writes "why" (no prefix) into err. */
static int set_value(const struct conf_key *k, struct config *c, const char *v, char *err,
                     size_t errsz)
{
	char *f = (char *)c + k->off;
	char sh[96], list[128];

	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		if (check_text(k, v, err, errsz) != 0)
			return -1;
		/* Whole field rewritten: equal configs compare equal bytewise. */
		memset(f, 0, k->size);
		memcpy(f, v, strlen(v) + 1);
		return 0;
	case CT_IPV4: {
		struct in_addr a;
		if (check_text(k, v, err, errsz) != 0)
			return -1;
		if (v[0] && inet_pton(AF_INET, v, &a) != 1) {
			say(err, errsz,
			    "\"%s\" is not a numeric IPv4 address (PASV announces IPv4)",
			    shown(sh, sizeof(sh), v));
			return -1;
		}
		memset(f, 0, k->size);
		memcpy(f, v, strlen(v) + 1);
		return 0;
	}
	case CT_BOOL: {
		int b;
		if (parse_bool(v, &b) != 0) {
			say(err, errsz, "\"%s\" is not yes/no/on/off/true/false/1/0",
			    shown(sh, sizeof(sh), v));
			return -1;
		}
		memcpy(f, &b, sizeof(b));
		return 0;
	}
	case CT_UINT:
	case CT_SIZE:
	case CT_RATE:
	case CT_SECONDS:
		return set_number(k, c, v, err, errsz);
	case CT_ENUM: {
		int i = choice_index(k->choices, v, strlen(v));
		if (i < 0) {
			conf_list_choices(k->choices, list, sizeof(list));
			say(err, errsz, "\"%s\" is not one of %s", shown(sh, sizeof(sh), v), list);
			return -1;
		}
		memcpy(f, &i, sizeof(i)); /* enums of config.h are int-sized */
		return 0;
	}
	case CT_FLAGS: {
		struct flag_arg fa = {k, 0};
		if (v[0] && strcasecmp(v, "off") != 0 &&
		    for_each_item(v, flag_item, &fa, err, errsz) != 0)
			return -1;
		memcpy(f, &fa.bits, sizeof(fa.bits));
		return 0;
	}
	case CT_ADDRS:
		return config_parse_addrs(v, (struct config_addrs *)(void *)f, err, errsz);
	case CT_PORTRANGE: {
		uint64_t lo, hi;
		int over;
		size_t n = parse_digits(v, &lo, &over);
		size_t m = (n && v[n] == '-') ? parse_digits(v + n + 1, &hi, &over) : 0;
		if (n == 0 || m == 0 || v[n + 1 + m] != '\0') {
			say(err, errsz, "\"%s\" is not a port range LOW-HIGH",
			    shown(sh, sizeof(sh), v));
			return -1;
		}
		if (lo < k->min || hi > k->max || lo > k->max || hi < k->min) {
			say(err, errsz, "%s is outside %llu-%llu", shown(sh, sizeof(sh), v),
			    (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		if (lo > hi) {
			say(err, errsz, "%s: low port is above high port",
			    shown(sh, sizeof(sh), v));
			return -1;
		}
		c->pasv_min = (unsigned)lo;
		c->pasv_max = (unsigned)hi;
		return 0;
	}
	case CT_PREFIXES: {
		struct config_prefixes tmp;
		memset(&tmp, 0, sizeof(tmp));
		if (v[0] && for_each_item(v, prefix_item, &tmp, err, errsz) != 0)
			return -1;
		memcpy(f, &tmp, sizeof(tmp));
		return 0;
	}
	case CT_NETMAP: {
		struct config_netmap tmp;
		memset(&tmp, 0, sizeof(tmp));
		if (v[0] && for_each_item(v, netmap_item, &tmp, err, errsz) != 0)
			return -1;
		memcpy(f, &tmp, sizeof(tmp));
		return 0;
	}
	}
	say(err, errsz, "internal error: unknown type");
	return -1;
}

/* ------------------------------------------------------------------ */
/* The file                                                            */
/* ------------------------------------------------------------------ */

/* Error with the origin's prefix: "FILE:LINE: " or "--set ". */
static void say_at(char *err, size_t errsz, const struct conf_origin *o, const char *key,
                   const char *why)
{
	if (o->line > 0)
		say(err, errsz, "%s:%d: %s: %s", o->file, o->line, key, why);
	else if (o->line < 0)
		say(err, errsz, "--set %s: %s", key, why);
	else
		say(err, errsz, "%s: %s", key, why);
}

/* Read one line (without the newline) into line[PM_CONF_LINE_MAX + 1].
 * Returns 1 for a line, 0 at EOF, -1 too long, -2 NUL byte, -3 read error. */
static int read_line(FILE *fp, char *line, size_t *len)
{
	size_t n = 0;
	int ch, any = 0;

	while ((ch = getc(fp)) != EOF) {
		any = 1;
		if (ch == '\n')
			break;
		if (ch == '\0')
			return -2;
		if (n >= PM_CONF_LINE_MAX)
			return -1;
		line[n++] = (char)ch;
	}
	if (ferror(fp))
		return -3;
	line[n] = '\0';
	*len = n;
	return any ? 1 : 0;
}

/* Split "key = value" in place.  Unquotes a double-quoted value.  0, or -1
 * with why. */
static int split_line(char *line, size_t len, char **key, size_t *keylen, char **val,
                      const char **why)
{
	char *p = line, *e = line + len;

	while (e > p && (is_blank(e[-1]) || e[-1] == '\r'))
		e--;
	*e = '\0';
	while (is_blank(*p))
		p++;
	*key = p;
	while (*p && !is_blank(*p) && *p != '=')
		p++;
	*keylen = (size_t)(p - *key);
	while (is_blank(*p))
		p++;
	if (*p != '=' || *keylen == 0) {
		*why = "expected \"key = value\"";
		return -1;
	}
	p++;
	while (is_blank(*p))
		p++;
	*val = p;
	if (*p != '"')
		return 0;
	/* Quoted: only \" and \\ are escapes; nothing may follow the quote. */
	char *o = p;
	p++;
	for (;;) {
		if (*p == '\0') {
			*why = "no closing quote";
			return -1;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p[1] != '"' && p[1] != '\\') {
				*why = "unknown escape in quoted value (only \\\" and \\\\)";
				return -1;
			}
			p++;
		}
		*o++ = *p++;
	}
	if (p[1] != '\0') {
		*why = "text after the closing quote";
		return -1;
	}
	*o = '\0';
	return 0;
}

/* A relative path written in a config file names a file beside it, as
 * nginx resolves relative paths against its prefix: `-t -c /x/conf/p.conf`
 * means the same tree from any working directory.  Leading "../" climb
 * from the file's directory, so the checkout's conf/pubmirror.conf says
 * root = ../mirror-root.  Defaults and --set values stay relative to the
 * working directory, as command-line arguments are.  0 or -1 with why. */
static int path_beside(const struct conf_key *k, struct config *c, const char *file, char *why,
                       size_t whysz)
{
	char *f = (char *)c + k->off;
	char base[PM_PATH_MAX], dir[PM_PATH_MAX], out[PM_PATH_MAX];
	const char *rel = f, *slash = strrchr(file, '/');

	if (f[0] == '\0' || f[0] == '/')
		return 0;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == file)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
	if (realpath(dir, base) == NULL) {
		say(why, whysz, "cannot resolve the directory of %s: %s", file, strerror(errno));
		return -1;
	}
	while (strncmp(rel, "../", 3) == 0 || strcmp(rel, "..") == 0) {
		char *cut = strrchr(base, '/');
		if (cut == NULL || cut == base)
			snprintf(base, sizeof(base), "/");
		else
			*cut = '\0';
		rel += rel[2] ? 3 : 2;
	}
	while (strncmp(rel, "./", 2) == 0)
		rel += 2;
	if (strcmp(rel, ".") == 0)
		rel++;
	if (rel[0] == '\0')
		snprintf(out, sizeof(out), "%s", base);
	else if ((size_t)snprintf(out, sizeof(out), "%s%s%s", base,
	                          strcmp(base, "/") == 0 ? "" : "/", rel) >= sizeof(out)) {
		say(why, whysz, "\"%s\" beside %s is longer than %zu bytes", f, file,
		    sizeof(out) - 1);
		return -1;
	}
	if (strlen(out) >= k->size) {
		say(why, whysz, "\"%s\" beside %s is longer than %zu bytes", f, file, k->size - 1);
		return -1;
	}
	memset(f, 0, k->size);
	memcpy(f, out, strlen(out) + 1);
	return 0;
}

static int load_file(struct config *c, const char *file, struct conf_origin *orig, char *err,
                     size_t errsz)
{
	char *line = NULL;
	char why[512];
	FILE *fp = fopen(file, "re");
	int lineno = 0, rc = -1;

	if (fp == NULL) {
		say(err, errsz, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	line = malloc(PM_CONF_LINE_MAX + 1);
	if (line == NULL) {
		say(err, errsz, "%s: out of memory", file);
		goto fail;
	}
	for (;;) {
		size_t len = 0, keylen;
		char *key, *val;
		const char *bad = NULL;
		int r = read_line(fp, line, &len);

		lineno++;
		if (r == 0)
			break;
		if (r == -1) {
			say(err, errsz, "%s:%d: line is longer than %d bytes", file, lineno,
			    PM_CONF_LINE_MAX);
			goto fail;
		}
		if (r == -2) {
			say(err, errsz, "%s:%d: line contains a NUL byte", file, lineno);
			goto fail;
		}
		if (r == -3) {
			say(err, errsz, "%s:%d: read error: %s", file, lineno, strerror(errno));
			goto fail;
		}
		char *p = line;
		while (is_blank(*p) || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (split_line(line, len, &key, &keylen, &val, &bad) != 0) {
			say(err, errsz, "%s:%d: %s", file, lineno, bad);
			goto fail;
		}
		const struct conf_key *k = key_find(key, keylen);
		if (k == NULL) {
			char sh[96], raw[100];
			snprintf(raw, sizeof(raw), "%.*s", (int)(keylen < 90 ? keylen : 90), key);
			say(err, errsz, "%s:%d: unknown key \"%s\"", file, lineno,
			    shown(sh, sizeof(sh), raw));
			goto fail;
		}
		struct conf_origin *o = &orig[k - conf_keys];
		if (o->line > 0) {
			say(err, errsz, "%s:%d: %s: already set on line %d", file, lineno, k->name,
			    o->line);
			goto fail;
		}
		o->file = file;
		o->line = lineno;
		if (set_value(k, c, val, why, sizeof(why)) != 0) {
			say_at(err, errsz, o, k->name, why);
			goto fail;
		}
		if (k->type == CT_PATH && path_beside(k, c, file, why, sizeof(why)) != 0) {
			say_at(err, errsz, o, k->name, why);
			goto fail;
		}
	}
	rc = 0;
fail:
	free(line);
	fclose(fp);
	return rc;
}

static int apply_set(struct config *c, const char *s, struct conf_origin *orig, char *err,
                     size_t errsz)
{
	const char *eq = strchr(s, '=');
	char why[512], sh[96];
	size_t kl = eq ? (size_t)(eq - s) : strlen(s);

	while (kl && is_blank(s[kl - 1]))
		kl--;
	const struct conf_key *k = key_find(s, kl);
	if (k == NULL) {
		char raw[100];
		snprintf(raw, sizeof(raw), "%.*s", (int)(kl < 90 ? kl : 90), s);
		say(err, errsz, "--set %s: unknown key", shown(sh, sizeof(sh), raw));
		return -1;
	}
	if (eq == NULL) {
		say(err, errsz, "--set %s: expected KEY=VALUE", k->name);
		return -1;
	}
	const char *v = eq + 1;
	while (is_blank(*v))
		v++;
	size_t vl = strlen(v);
	while (vl && is_blank(v[vl - 1]))
		vl--;
	if (vl > PM_CONF_LINE_MAX) {
		say(err, errsz, "--set %s: value is longer than %d bytes", k->name,
		    PM_CONF_LINE_MAX);
		return -1;
	}
	char val[PM_CONF_LINE_MAX + 1];
	memcpy(val, v, vl);
	val[vl] = '\0';
	v = val;
	struct conf_origin *o = &orig[k - conf_keys];
	o->file = NULL;
	o->line = -1;
	if (set_value(k, c, v, why, sizeof(why)) != 0) {
		say_at(err, errsz, o, k->name, why);
		return -1;
	}
	return 0;
}

static const struct conf_origin *origin_of(const struct conf_origin *orig, const char *name)
{
	return &orig[key_find(name, strlen(name)) - conf_keys];
}

/* Rules between keys, checked once everything is parsed. */
static int cross_check(const struct config *c, const struct conf_origin *orig, char *err,
                       size_t errsz)
{
	static const char *const listeners[] = {"ftp_listen", "ftps_listen", "https_listen",
	                                        "http_listen"};
	const struct conf_origin *o;

	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		const char *set = c->tls_cert[0] ? "tls_cert" : "tls_key";
		const char *unset = c->tls_cert[0] ? "tls_key" : "tls_cert";
		char why[128];
		snprintf(why, sizeof(why), "%s is empty; set both tls_cert and tls_key, or neither",
		         unset);
		say_at(err, errsz, origin_of(orig, set), set, why);
		return -1;
	}
	if (c->acme_directory[0] != '\0') {
		const char *why = NULL;
		if (strncmp(c->acme_directory, "https://", 8) != 0)
			why = "must be an https:// URL";
		else if (c->acme_domains[0] == '\0')
			why = "needs acme_domains (the names of the certificate)";
		else if (c->tls_cert[0] != '\0')
			why = "and tls_cert/tls_key are exclusive; unset one or the other";
		else if (c->http_listen.n == 0)
			why = "needs http_listen (HTTP-01 challenges arrive on port 80)";
		if (why != NULL) {
			say_at(err, errsz, origin_of(orig, "acme_directory"), "acme_directory",
			       why);
			return -1;
		}
	}
	if (c->auth_paths.n > 0 && c->auth_file[0] == '\0') {
		say_at(err, errsz, origin_of(orig, "auth_paths"), "auth_paths",
		       "needs auth_file (the users who may log in)");
		return -1;
	}
	if (c->ftp_listen.n == 0 && c->ftps_listen.n == 0 && c->https_listen.n == 0 &&
	    c->http_listen.n == 0 && c->rsync_listen.n == 0) {
		/* Blame the last listener set, the one most likely just changed. */
		const struct conf_origin *best = origin_of(orig, listeners[0]);
		const char *name = listeners[0];
		for (size_t i = 1; i < 4; i++) {
			o = origin_of(orig, listeners[i]);
			if ((o->line < 0 && best->line >= 0) ||
			    (o->line > best->line && best->line >= 0)) {
				best = o;
				name = listeners[i];
			}
		}
		say_at(err, errsz, best, name,
		       "no listener left: ftp_listen, ftps_listen, https_listen and http_listen "
		       "are all off");
		return -1;
	}
	if (c->pasv_min < 1024 || c->pasv_min > c->pasv_max) {
		say_at(err, errsz, origin_of(orig, "pasv_ports"), "pasv_ports",
		       "invalid passive port range");
		return -1;
	}
	if (c->http_listen.n > 0 && c->http_mode == CONFIG_HTTP_REDIRECT &&
	    c->https_listen.n == 0) {
		say_at(err, errsz, origin_of(orig, "http_listen"), "http_listen",
		       "http_mode is redirect but https_listen is off; set http_mode = serve "
		       "or turn https_listen on");
		return -1;
	}
	/* An address bound twice would fail at bind(); say which keys clash. */
	static const char *const all[] = {"ftp_listen",  "ftps_listen",    "https_listen",
	                                  "http_listen", "metrics_listen", "rsync_listen"};
	const struct config_addrs *lists[] = {&c->ftp_listen,     &c->ftps_listen,
	                                      &c->https_listen,   &c->http_listen,
	                                      &c->metrics_listen, &c->rsync_listen};
	for (size_t i = 0; i < 6; i++) {
		for (size_t j = i + 1; j < 6; j++) {
			for (int a = 0; a < lists[i]->n; a++) {
				for (int b = 0; b < lists[j]->n; b++) {
					if (!addr_equal(&lists[i]->a[a], &lists[j]->a[b]))
						continue;
					/* Blame the key that was set, not a default. */
					size_t x = j, y = i;
					if (origin_of(orig, all[j])->line == 0) {
						x = i;
						y = j;
					}
					char t[96], why[192];
					config_addr_text(&lists[j]->a[b], t, sizeof(t));
					snprintf(why, sizeof(why), "%s is also in %s", t, all[y]);
					say_at(err, errsz, origin_of(orig, all[x]), all[x], why);
					return -1;
				}
			}
		}
	}
	return 0;
}

static int apply_defaults(struct config *c, char *err, size_t errsz)
{
	char why[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		enum conf_type t = conf_keys[i].type;
		/* A table entry whose field is neither unsigned nor uint64_t
		 * would be written with the wrong width: refuse it loudly. */
		size_t w = conf_keys[i].size;
		if ((t == CT_UINT || t == CT_SIZE || t == CT_RATE || t == CT_SECONDS) &&
		    w != sizeof(unsigned) && w != sizeof(uint64_t)) {
			say(err, errsz, "internal error: %s has a field of %zu bytes",
			    conf_keys[i].name, conf_keys[i].size);
			return -1;
		}
		if (set_value(&conf_keys[i], c, conf_keys[i].def, why, sizeof(why)) != 0) {
			say(err, errsz, "default of %s: %s", conf_keys[i].name, why);
			return -1;
		}
	}
	return 0;
}

struct config *config_load(const char *file, char *const *sets, int nsets, char *err, size_t errsz)
{
	struct conf_origin orig[NKEYS];
	struct config *c = calloc(1, sizeof(*c));

	if (errsz)
		err[0] = '\0';
	if (c == NULL) {
		say(err, errsz, "out of memory");
		return NULL;
	}
	memset(orig, 0, sizeof(orig));
	if (apply_defaults(c, err, errsz) != 0)
		goto fail;
	if (file && load_file(c, file, orig, err, errsz) != 0)
		goto fail;
	for (int i = 0; i < nsets; i++)
		if (apply_set(c, sets[i], orig, err, errsz) != 0)
			goto fail;
	if (cross_check(c, orig, err, errsz) != 0)
		goto fail;
	return c;
fail:
	free(c);
	return NULL;
}

void config_free(struct config *c)
{
	free(c);
}

/* ------------------------------------------------------------------ */
/* The published snapshot                                              */
/* ------------------------------------------------------------------ */

struct retired {
	struct config *c;
	struct retired *next;
};

static _Atomic(struct config *) conf_current;
static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct retired *conf_retired;
static struct config conf_builtin; /* the defaults, before any publish */
static pthread_once_t conf_builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
	char err[256];

	if (apply_defaults(&conf_builtin, err, sizeof(err)) != 0)
		fprintf(stderr, "pubmirrord: %s\n", err);
}

const struct config *config_get(void)
{
	struct config *c = atomic_load_explicit(&conf_current, memory_order_acquire);

	if (c)
		return c;
	/* Nothing published yet (tests, early start-up): the defaults. */
	pthread_once(&conf_builtin_once, builtin_init);
	return &conf_builtin;
}

void config_publish(struct config *c)
{
	pthread_mutex_lock(&conf_lock);
	struct config *old = atomic_exchange_explicit(&conf_current, c, memory_order_acq_rel);
	if (old) {
		/* Threads may still read old: keep it until config_shutdown.  If
		 * even the list node cannot be had, leaking beats freeing early. */
		struct retired *r = malloc(sizeof(*r));
		if (r) {
			r->c = old;
			r->next = conf_retired;
			conf_retired = r;
		}
	}
	pthread_mutex_unlock(&conf_lock);
}

void config_shutdown(void)
{
	pthread_mutex_lock(&conf_lock);
	struct config *c = atomic_exchange_explicit(&conf_current, NULL, memory_order_acq_rel);
	config_free(c);
	while (conf_retired) {
		struct retired *r = conf_retired;
		conf_retired = r->next;
		config_free(r->c);
		free(r);
	}
	pthread_mutex_unlock(&conf_lock);
}

/* ------------------------------------------------------------------ */
/* Generated text: the sample files (reference, man pages: config_man.c) */
/* ------------------------------------------------------------------ */

/* A default as the sample writes it: quoted when the bare text would not
 * read back the same. */
static void write_value(FILE *f, const char *v)
{
	int quote = strchr(v, ' ') || strchr(v, '"') || strchr(v, '\\') || v[0] == '#';

	if (!quote) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

/* What `make install` puts in /etc/pubmirror/pubmirror.conf: every key of
 * the table, with these values in place of the defaults.  Kept here, next
 * to the table, so that a key added to the table reaches the production
 * file too (t_ops_install checks the installed file is this output). */
static const struct {
	const char *key, *value;
} conf_production[] = {
    {"root", "/srv/mirror"},
    {"state_dir", "/var/lib/pubmirror"},
    {"acme_webroot", "/var/lib/pubmirror/acme"},
    {"error_log", "/var/log/pubmirror/error.log"},
    {"access_log", "/var/log/pubmirror/access.log"},
    {"xfer_log", "/var/log/pubmirror/xferlog"},
    {"json_log", "/var/log/pubmirror/json.log"},
    {"user", "pubmirror"},
    {"ftp_listen", "*:21"},
    {"ftps_listen", "*:990"},
    {"https_listen", "*:443"},
    {"http_listen", "*:80"},
    {"http_mode", "redirect"},
    {"rsync_listen", "*:873"},
};

/* Keys the production file shows commented out, each after a line that
 * says why: the operator uncomments them (with the host's own names). */
static const struct {
	const char *key, *value, *why;
} conf_production_commented[] = {
    {"acme_directory", "https://acme-v02.api.letsencrypt.org/directory",
     "Built-in ACME from Let's Encrypt: uncomment this and the next two lines."},
    {"acme_domains", "mirror.example.org",
     "The host's public DNS names (port 80 must reach this host for HTTP-01)."},
    {"acme_email", "hostmaster@example.org", "Where the CA writes about expiry and problems."},
};

/* A key of conf_production_commented: its explanation and its line, both
 * commented out (the key stays at its default).  1 when written. */
static int write_commented(FILE *f, const char *key)
{
	for (size_t j = 0;
	     j < sizeof(conf_production_commented) / sizeof(conf_production_commented[0]); j++) {
		if (strcmp(conf_production_commented[j].key, key) != 0)
			continue;
		fprintf(f, "\n# %s\n# %s = ", conf_production_commented[j].why, key);
		write_value(f, conf_production_commented[j].value);
		fputc('\n', f);
		return 1;
	}
	return 0;
}

static void write_config(FILE *f, int production)
{
	if (production)
		fputs(
		    "# pubmirror.conf - configuration of pubmirrord, for production.\n"
		    "#\n"
		    "# One \"key = value\" per line; a line starting with # is a comment.  A\n"
		    "# value may be double-quoted (then \\\" and \\\\ are escapes).  Every key is\n"
		    "# listed with its doc line and default; the values set here differ from\n"
		    "# the defaults for a public host: every address (IPv4 and IPv6) on the\n"
		    "# standard ports, /srv/mirror, logs in /var/log/pubmirror, the service\n"
		    "# user pubmirror.  Relative paths are relative to this file's directory.\n"
		    "# pubmirrord -t -c FILE checks a file.\n"
		    "#\n"
		    "# Generated by pubmirrord --production-config (see pubmirror.conf(5)).\n",
		    f);
	else
		fputs(
		    "# pubmirror.conf - configuration of pubmirrord.\n"
		    "#\n"
		    "# One \"key = value\" per line; a line starting with # is a comment.  A\n"
		    "# value may be double-quoted (then \\\" and \\\\ are escapes).  Every key is\n"
		    "# listed with its doc line and default; loading this file as it is gives\n"
		    "# the built-in defaults.  A relative path here is relative to this file's\n"
		    "# directory (this sample lives in conf/ of the source tree, hence\n"
		    "# ../mirror-root).  pubmirrord --set KEY=VALUE overrides any key;\n"
		    "# pubmirrord -t -c FILE checks a file.\n"
		    "#\n"
		    "# Generated by pubmirrord --dump-config (see pubmirror.conf(5)).\n",
		    f);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *v = k->def;
		char up[PM_PATH_MAX];
		if (k->section)
			fprintf(f, "\n# ---- %s ----\n", k->section);
		fprintf(f, "\n# %s\n# default: %s", k->doc, k->def[0] ? k->def : "(empty)");
		if (k->type == CT_ENUM || k->type == CT_FLAGS) {
			char list[128];
			conf_list_choices(k->choices, list, sizeof(list));
			fprintf(f, "; %s %s", k->type == CT_ENUM ? "one of" : "any of", list);
		} else if (k->type == CT_UINT || k->type == CT_SECONDS) {
			char lo[32], hi[32];
			conf_num_text(k->type, k->min, lo, sizeof(lo));
			conf_num_text(k->type, k->max, hi, sizeof(hi));
			fprintf(f, "; range %s to %s", lo, hi);
		}
		if (k->type == CT_PATH && v[0] && v[0] != '/') {
			/* the default is relative to the working directory, the
			 * sample's line to conf/ */
			snprintf(up, sizeof(up), "../%s", v);
			v = up;
		}
		for (size_t j = 0;
		     production && j < sizeof(conf_production) / sizeof(conf_production[0]); j++)
			if (strcmp(conf_production[j].key, k->name) == 0)
				v = conf_production[j].value;
		if (production && write_commented(f, k->name))
			continue;
		fprintf(f, "\n%s =%s", k->name, v[0] ? " " : "");
		write_value(f, v);
		fputc('\n', f);
	}
}

void config_write_sample(FILE *f)
{
	write_config(f, 0);
}

void config_write_production(FILE *f)
{
	write_config(f, 1);
}
