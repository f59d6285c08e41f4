/* test_config.c - the config table, parser, --set, cross-key checks,
 * generated sample and the published snapshot.
 *
 * Run from the repository top (tests/run.sh does): it reads
 * conf/pubmirror.conf.  "test_config --write-sample" prints the sample (to
 * regenerate the committed file before main.c offers --dump-config).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char tmpdir[] = "/tmp/pm-test-config.XXXXXX";
static char conf_path[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

/* Load text as a config file plus sets; err filled on failure. */
static struct config *load_text(const char *text, char *const *sets, int nsets, char *err,
                                size_t errsz)
{
	write_file(conf_path, text);
	return config_load(conf_path, sets, nsets, err, errsz);
}

#define U64_AT(c, off, size)                                                                       \
	((size) == 8 ? *(const uint64_t *)(const void *)((const char *)(c) + (off))                \
	             : (uint64_t) * (const unsigned *)(const void *)((const char *)(c) + (off)))

#define NUMF(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* Good values of numeric keys: the text and the number stored. */
static const struct {
	const char *text;
	size_t off, size;
	uint64_t want;
} good_nums[] = {
    {"max_clients = 1", NUMF(max_clients), 1},
    {"max_clients = 1000000", NUMF(max_clients), 1000000},
    {"max_per_ip = 0", NUMF(max_per_ip), 0},
    {"ftp_threads = 64", NUMF(ftp_threads), 64},
    {"http_threads = 1", NUMF(http_threads), 1},
    {"hash_max_size = 0", NUMF(hash_max_size), 0},
    {"hash_max_size = 10", NUMF(hash_max_size), 10},
    {"hash_max_size = 4K", NUMF(hash_max_size), 4096},
    {"hash_max_size = 4k", NUMF(hash_max_size), 4096},
    {"hash_max_size = 2M", NUMF(hash_max_size), 2ull << 20},
    {"hash_max_size = 1G", NUMF(hash_max_size), 1ull << 30},
    {"hash_max_size = 3T", NUMF(hash_max_size), 3ull << 40},
    {"rate_per_ip = 0", NUMF(rate_per_ip), 0},
    {"rate_per_ip = 512K", NUMF(rate_per_ip), 512 * 1024},
    {"rate_total = 100M", NUMF(rate_total), 100ull << 20},
    {"rate_total = 12345", NUMF(rate_total), 12345},
    {"ban_window = 90", NUMF(ban_window), 90},
    {"ban_window = 90s", NUMF(ban_window), 90},
    {"ban_window = 10m", NUMF(ban_window), 600},
    {"ban_time = 2h", NUMF(ban_time), 7200},
    {"ban_time = 1d", NUMF(ban_time), 86400},
    {"ban_time = 30d", NUMF(ban_time), 30 * 86400},
    {"idle_timeout = 1", NUMF(idle_timeout), 1},
    {"drain_timeout = 0", NUMF(drain_timeout), 0},
    {"index_rescan = 0", NUMF(index_rescan), 0},
    {"hsts_max_age = 0", NUMF(hsts_max_age), 0},
    {"hsts_max_age = 365d", NUMF(hsts_max_age), 365ull * 86400},
    {"ban_after = 0", NUMF(ban_after), 0},
    {"show_dotfiles = yes", NUMF(show_dotfiles), 1},
    {"show_dotfiles = ON", NUMF(show_dotfiles), 1},
    {"show_dotfiles = true", NUMF(show_dotfiles), 1},
    {"show_dotfiles = 1", NUMF(show_dotfiles), 1},
    {"show_dotfiles = off", NUMF(show_dotfiles), 0},
    {"show_dotfiles = false", NUMF(show_dotfiles), 0},
    {"show_dotfiles = 0", NUMF(show_dotfiles), 0},
    {"http_mode = serve", NUMF(http_mode), CONFIG_HTTP_SERVE},
    {"ftp_tls = require", NUMF(ftp_tls), CONFIG_FTP_TLS_REQUIRE},
    {"ftp_tls = off", NUMF(ftp_tls), CONFIG_FTP_TLS_OFF},
    {"ftp_tls_reuse = required", NUMF(ftp_tls_reuse), CONFIG_REUSE_REQUIRED},
    {"ftp_tls_reuse = off", NUMF(ftp_tls_reuse), CONFIG_REUSE_OFF},
    {"pasv_ports = 1024-65535", NUMF(pasv_min), 1024},
    {"pasv_ports = 50000-50000", NUMF(pasv_max), 50000},
    {"proxy_protocol = ftp, https", NUMF(proxy_protocol), CONFIG_PROXY_FTP | CONFIG_PROXY_HTTPS},
    {"proxy_protocol = ftps,http", NUMF(proxy_protocol), CONFIG_PROXY_FTPS | CONFIG_PROXY_HTTP},
    {"proxy_protocol =", NUMF(proxy_protocol), 0},
    /* trailing blanks and CR are trimmed; blanks around '=' optional */
    {"max_clients=77   \t\r", NUMF(max_clients), 77},
    {"   max_per_ip   =   5", NUMF(max_per_ip), 5},
    {"# comment\n\n   # indented comment\nmax_per_ip = 6\n", NUMF(max_per_ip), 6},
    {"max_per_ip = \"7\"", NUMF(max_per_ip), 7},
};

/* Bad values: the file text and the exact error after "FILE:". */
static const struct {
	const char *text;
	const char *want; /* after "<file>:" */
} bad[] = {
    {"max_clients = 99999999", "1: max_clients: 99999999 is above the maximum 1000000"},
    {"\n\n# x\nmax_clients = 0", "4: max_clients: 0 is below the minimum 1"},
    {"max_clients = abc", "1: max_clients: \"abc\" is not a number"},
    {"max_clients = -1", "1: max_clients: \"-1\" is not a number"},
    {"max_clients = 1.5", "1: max_clients: \"1.5\" is not a number"},
    {"max_clients = 10K", "1: max_clients: \"10K\" is not a number"},
    {"max_clients =", "1: max_clients: \"\" is not a number"},
    {"max_clients = 99999999999999999999999", "1: max_clients: 99999999999999999999999 is "
                                              "too large"},
    {"ftp_threads = 65", "1: ftp_threads: 65 is above the maximum 64"},
    {"http_threads = 0", "1: http_threads: 0 is below the minimum 1"},
    {"hash_max_size = 4X", "1: hash_max_size: \"4X\" is not a size in bytes (a number with "
                           "an optional K, M, G or T)"},
    {"hash_max_size = 4GB", "1: hash_max_size: \"4GB\" is not a size in bytes (a number "
                            "with an optional K, M, G or T)"},
    {"hash_max_size = 99999999T", "1: hash_max_size: 99999999T is too large"},
    {"rate_total = fast", "1: rate_total: \"fast\" is not a rate in bytes per second (a "
                          "number with an optional K, M, G or T)"},
    {"ban_time = 5w", "1: ban_time: \"5w\" is not a duration (seconds, or a number with s, "
                      "m, h or d)"},
    {"ban_time = 31d", "1: ban_time: 31d is above the maximum 30d"},
    {"ban_window = 0", "1: ban_window: 0 is below the minimum 1"},
    {"show_dotfiles = maybe", "1: show_dotfiles: \"maybe\" is not "
                              "yes/no/on/off/true/false/1/0"},
    {"http_mode = proxy", "1: http_mode: \"proxy\" is not one of redirect, serve"},
    {"http_mode = \"re\\\\dir\\\"\"", "1: http_mode: \"re\\x5Cdir\\x22\" is not one of "
                                      "redirect, serve"},
    {"http_mode = \"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
     "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\"",
     "1: http_mode: \"\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01"
     "\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01...\" "
     "is not one of redirect, serve"},
    {"http_mode = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "1: http_mode: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" is "
     "not one of redirect, serve"},
    {"ftp_tls = always", "1: ftp_tls: \"always\" is not one of allow, require, off"},
    {"proxy_protocol = ftp,smtp", "1: proxy_protocol: \"smtp\" is not one of ftp, ftps, "
                                  "https, http"},
    {"proxy_protocol = ftp,,http", "1: proxy_protocol: empty item in comma-separated list"},
    {"ftp_listen = localhost:21", "1: ftp_listen: \"localhost\" is not a numeric IPv4 "
                                  "address (names are not resolved)"},
    {"ftp_listen = 127.0.0.1", "1: ftp_listen: \"127.0.0.1\" has no port (host:port, "
                               "[IPv6]:port or *:port)"},
    {"ftp_listen = 127.0.0.1:0", "1: ftp_listen: \"0\" is not a port (1-65535)"},
    {"ftp_listen = 127.0.0.1:65536", "1: ftp_listen: \"65536\" is not a port (1-65535)"},
    {"ftp_listen = 127.0.0.1:21x", "1: ftp_listen: \"21x\" is not a port (1-65535)"},
    {"ftp_listen = 127.0.0.1:", "1: ftp_listen: \"\" is not a port (1-65535)"},
    {"ftp_listen = 300.0.0.1:21", "1: ftp_listen: \"300.0.0.1\" is not a numeric IPv4 "
                                  "address (names are not resolved)"},
    {"ftp_listen = ::1:21", "1: ftp_listen: \"::1:21\": write an IPv6 address in brackets, "
                            "[::1]:21"},
    {"ftp_listen = [::1:21", "1: ftp_listen: \"[::1:21\" is not [IPv6]:port"},
    {"ftp_listen = [zz::1]:21", "1: ftp_listen: \"zz::1\" is not a numeric IPv6 address"},
    {"ftp_listen = [::1]", "1: ftp_listen: \"[::1]\" is not [IPv6]:port"},
    {"ftp_listen = 127.0.0.1:21,127.0.0.1:21", "1: ftp_listen: 127.0.0.1:21 is listed twice"},
    {"ftp_listen =", "1: ftp_listen: empty; write off to disable"},
    {"ftp_listen = 127.0.0.1:21,", "1: ftp_listen: empty item in comma-separated list"},
    {"ftp_listen = *:1,*:2,*:3,*:4,*:5,*:6,*:7,*:8,*:9", "1: ftp_listen: more than 8 "
                                                         "addresses"},
    {"pasv_ports = 40000", "1: pasv_ports: \"40000\" is not a port range LOW-HIGH"},
    {"pasv_ports = 1000-2000", "1: pasv_ports: 1000-2000 is outside 1024-65535"},
    {"pasv_ports = 50000-70000", "1: pasv_ports: 50000-70000 is outside 1024-65535"},
    {"pasv_ports = 50001-50000", "1: pasv_ports: 50001-50000: low port is above high port"},
    {"pasv_ports = 5-x", "1: pasv_ports: \"5-x\" is not a port range LOW-HIGH"},
    {"pasv_address = mirror.example.org", "1: pasv_address: \"mirror.example.org\" is not a "
                                          "numeric IPv4 address (PASV announces IPv4)"},
    {"pasv_address = ::1", "1: pasv_address: \"::1\" is not a numeric IPv4 address (PASV "
                           "announces IPv4)"},
    {"pasv_address_map = 10.0.0.0=1.2.3.4", "1: pasv_address_map: \"10.0.0.0\" has no "
                                            "/prefix-length"},
    {"pasv_address_map = 10.0.0.0/33=1.2.3.4", "1: pasv_address_map: \"33\" is not a prefix "
                                               "length (0-32)"},
    {"pasv_address_map = 10.0.0.0/8", "1: pasv_address_map: \"10.0.0.0/8\" is not "
                                      "NETWORK/LEN=ADDRESS"},
    {"pasv_address_map = 10.0.0.0/8=x", "1: pasv_address_map: \"x\" is not a numeric IPv4 "
                                        "address (PASV announces IPv4)"},
    {"pasv_address_map = fe80::/129=1.2.3.4", "1: pasv_address_map: \"129\" is not a prefix "
                                              "length (0-128)"},
    {"pasv_address_map = lan/8=1.2.3.4", "1: pasv_address_map: \"lan\" is not a numeric "
                                         "IPv4 or IPv6 network"},
    {"ftp_banner = caf\xc3\xa9", "1: ftp_banner: only printable ASCII is allowed (byte 4 is "
                                 "0xc3)"},
    {"ftp_banner = \"a\tb\"", "1: ftp_banner: value contains a control character (byte 2)"},
    {"ftp_banner =", "1: ftp_banner: must not be empty"},
    {"root =", "1: root: must not be empty"},
    {"user = no body", "1: user: \"no body\" is not a user name (letters, digits, . _ -)"},
    {"auth_file = /x\nauth_paths = /a/../..", "2: auth_paths: \"/a/../..\": path climbs "
                                              "above the root"},
    {"auth_file = /x\nauth_paths = /a,,/b", "2: auth_paths: empty item in comma-separated "
                                            "list"},
    /* syntax */
    {"max_clients 5", "1: expected \"key = value\""},
    {"= 5", "1: expected \"key = value\""},
    {"foo = 1", "1: unknown key \"foo\""},
    {"\nMax_Clients = 1", "2: unknown key \"Max_Clients\""},
    {"ftp_banner = \"abc", "1: no closing quote"},
    {"ftp_banner = \"abc\" x", "1: text after the closing quote"},
    {"ftp_banner = \"a\\nb\"", "1: unknown escape in quoted value (only \\\" and \\\\)"},
    {"max_clients = 5\n# x\nmax_clients = 6", "3: max_clients: already set on line 1"},
    /* cross-key checks */
    {"tls_cert = /etc/cert.pem", "1: tls_cert: tls_key is empty; set both tls_cert and "
                                 "tls_key, or neither"},
    {"\ntls_key = /etc/key.pem", "2: tls_key: tls_cert is empty; set both tls_cert and "
                                 "tls_key, or neither"},
    {"auth_paths = /private", "1: auth_paths: needs auth_file (the users who may log in)"},
    {"ftp_listen = off\nftps_listen = off\nhttps_listen = off",
     "3: https_listen: no listener left: ftp_listen, ftps_listen, https_listen and "
     "http_listen are all off"},
    {"https_listen = off\nhttp_listen = 127.0.0.1:8080",
     "2: http_listen: http_mode is redirect but https_listen is off; set http_mode = serve "
     "or turn https_listen on"},
    {"ftp_listen = 127.0.0.1:8443", "1: ftp_listen: 127.0.0.1:8443 is also in https_listen"},
    {"metrics_listen = 127.0.0.1:2121", "1: metrics_listen: 127.0.0.1:2121 is also in "
                                        "ftp_listen"},
    {"ftps_listen = *:1\nhttp_mode = serve\nhttp_listen = 0.0.0.0:1",
     "3: http_listen: 0.0.0.0:1 is also in ftps_listen"},
};

/* A test name on one line: newlines and tabs shown as \n and \t. */
static const char *name_of(char *out, size_t outsz, const char *prefix, const char *text)
{
	size_t o = (size_t)snprintf(out, outsz, "%s", prefix);

	for (; *text && o + 3 < outsz && o < 200; text++) {
		if (*text == '\n' || *text == '\t') {
			out[o++] = '\\';
			out[o++] = *text == '\n' ? 'n' : 't';
		} else {
			out[o++] = *text;
		}
	}
	out[o] = '\0';
	return out;
}

static void test_good_numbers(void)
{
	char err[512], what[256];

	for (size_t i = 0; i < sizeof(good_nums) / sizeof(good_nums[0]); i++) {
		struct config *c = load_text(good_nums[i].text, NULL, 0, err, sizeof(err));
		name_of(what, sizeof(what), "good: ", good_nums[i].text);
		if (c == NULL) {
			CHECK_STR(what, "(loaded)", err);
			continue;
		}
		CHECK_INT(what, good_nums[i].want, U64_AT(c, good_nums[i].off, good_nums[i].size));
		config_free(c);
	}
}

static void test_bad(void)
{
	char err[512], want[512], what[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *c = load_text(bad[i].text, NULL, 0, err, sizeof(err));
		name_of(what, sizeof(what), "bad: ", bad[i].text);
		snprintf(want, sizeof(want), "%s:%s", conf_path, bad[i].want);
		if (c) {
			CHECK_STR(what, want, "(loaded without error)");
			config_free(c);
			continue;
		}
		CHECK_STR(what, want, err);
	}
}

static void addrs_text(const struct config_addrs *a, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	if (a->n == 0)
		snprintf(out, outsz, "off");
	for (int i = 0; i < a->n; i++) {
		char t[96];
		config_addr_text(&a->a[i], t, sizeof(t));
		o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? "," : "", t);
	}
}

static void test_addrs(void)
{
	static const struct {
		const char *in, *want;
		int len6;
	} cases[] = {
	    {"127.0.0.1:2121", "127.0.0.1:2121", 0},
	    {"[::1]:21", "[::1]:21", 1},
	    /* every address: IPv4 and IPv6 (two sockets, see net.c) */
	    {"*:21", "0.0.0.0:21,[::]:21", 0},
	    {"[::]:443", "[::]:443", 1},
	    {"off", "off", 0},
	    {"OFF", "off", 0},
	    {" 10.1.2.3:1 , [2001:db8::7]:65535 ", "10.1.2.3:1,[2001:db8::7]:65535", 0},
	    {"*:1,*:2,*:3,*:4",
	     "0.0.0.0:1,[::]:1,0.0.0.0:2,[::]:2,0.0.0.0:3,[::]:3,0.0.0.0:4,[::]:4", 0},
	    {"127.0.0.1:1,*:1", "127.0.0.1:1,0.0.0.0:1,[::]:1", 0},
	};
	char err[256], got[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_addrs a;
		memset(&a, 0xff, sizeof(a));
		int rc = config_parse_addrs(cases[i].in, &a, err, sizeof(err));
		CHECK_INT(cases[i].in, 0, rc);
		if (rc != 0)
			continue;
		addrs_text(&a, got, sizeof(got));
		CHECK_STR(cases[i].in, cases[i].want, got);
		if (a.n > 0)
			CHECK_INT("sockaddr length",
			          cases[i].len6 ? sizeof(struct sockaddr_in6)
			                        : sizeof(struct sockaddr_in),
			          a.len[0]);
	}
	struct config_addrs a;
	CHECK_INT("bad addrs refused", -1, config_parse_addrs("[::1]:99999", &a, err, sizeof(err)));
	CHECK_STR("bad addrs why", "\"99999\" is not a port (1-65535)", err);
	CHECK_INT("*:5 makes a ninth address", -1,
	          config_parse_addrs("*:1,*:2,*:3,*:4,*:5", &a, err, sizeof(err)));
	CHECK_INT("[::]:1 after *:1 is listed twice", -1,
	          config_parse_addrs("*:1,[::]:1", &a, err, sizeof(err)));
}

static void test_size(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t v;
	} cases[] = {
	    {"10", 0, 10},
	    {"4K", 0, 4096},
	    {"2M", 0, 2 << 20},
	    {"1G", 0, 1u << 30},
	    {"1t", 0, 1ull << 40},
	    {"", -1, 0},
	    {"K", -1, 0},
	    {"1KB", -1, 0},
	    {"-1", -1, 0},
	    {" 1", -1, 0},
	    {"16777216T", -1, 0},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int rc = config_parse_size(cases[i].in, &v);
		CHECK_INT(cases[i].in, cases[i].rc, rc);
		if (rc == 0)
			CHECK_INT(cases[i].in, cases[i].v, v);
	}
}

static void test_defaults(void)
{
	char err[256];
	struct config *c = config_load(NULL, NULL, 0, err, sizeof(err));

	CHECK("defaults load", c != NULL);
	if (c == NULL)
		return;
	CHECK_STR("root", "mirror-root", c->root);
	CHECK_STR("state_dir", "state", c->state_dir);
	CHECK_STR("tls_cert", "", c->tls_cert);
	CHECK_STR("user", "nobody", c->user);
	CHECK_STR("ftp_banner", "pubmirror FTP server ready", c->ftp_banner);
	char t[512];
	addrs_text(&c->ftp_listen, t, sizeof(t));
	CHECK_STR("ftp_listen", "127.0.0.1:2121", t);
	addrs_text(&c->ftps_listen, t, sizeof(t));
	CHECK_STR("ftps_listen", "127.0.0.1:9990", t);
	addrs_text(&c->https_listen, t, sizeof(t));
	CHECK_STR("https_listen", "127.0.0.1:8443", t);
	CHECK_INT("http_listen off", 0, c->http_listen.n);
	CHECK_INT("metrics_listen off", 0, c->metrics_listen.n);
	CHECK_INT("http_mode", CONFIG_HTTP_REDIRECT, c->http_mode);
	CHECK_INT("ftp_tls", CONFIG_FTP_TLS_ALLOW, c->ftp_tls);
	CHECK_INT("ftp_tls_reuse", CONFIG_REUSE_PREFERRED, c->ftp_tls_reuse);
	CHECK_INT("pasv_min", 40000, c->pasv_min);
	CHECK_INT("pasv_max", 40999, c->pasv_max);
	CHECK_INT("ftp_threads", 2, c->ftp_threads);
	CHECK_INT("hash_max_size", 4ull << 30, c->hash_max_size);
	CHECK_INT("http_threads", 2, c->http_threads);
	CHECK_INT("hsts_max_age", 15552000, c->hsts_max_age);
	CHECK_INT("show_dotfiles", 0, c->show_dotfiles);
	CHECK_INT("max_clients", 2000, c->max_clients);
	CHECK_INT("max_per_ip", 50, c->max_per_ip);
	CHECK_INT("rate_per_ip", 0, c->rate_per_ip);
	CHECK_INT("rate_total", 0, c->rate_total);
	CHECK_INT("ban_after", 10, c->ban_after);
	CHECK_INT("ban_window", 600, c->ban_window);
	CHECK_INT("ban_time", 900, c->ban_time);
	CHECK_INT("idle_timeout", 300, c->idle_timeout);
	CHECK_INT("drain_timeout", 30, c->drain_timeout);
	CHECK_INT("index_rescan", 300, c->index_rescan);
	CHECK_INT("proxy_protocol", 0, c->proxy_protocol);
	CHECK_INT("auth_paths", 0, c->auth_paths.n);
	CHECK_INT("pasv_address_map", 0, c->pasv_address_map.n);
	config_free(c);
}

static void test_strings_and_quotes(void)
{
	char err[512];
	struct config *c = load_text("# a\n"
	                             "root = /srv/my mirror   \n"
	                             "ftp_banner = \"  Welcome, \\\"friend\\\" \\\\o/  \"\n"
	                             "user=_pm-user.1\n"
	                             "error_log = \"\"\n"
	                             "pasv_address = 192.0.2.10\n",
	                             NULL, 0, err, sizeof(err));
	CHECK("strings load", c != NULL);
	if (c == NULL) {
		CHECK_STR("strings error", "", err);
		return;
	}
	CHECK_STR("unquoted value keeps inner blanks", "/srv/my mirror", c->root);
	CHECK_STR("quoted value with escapes", "  Welcome, \"friend\" \\o/  ", c->ftp_banner);
	CHECK_STR("user", "_pm-user.1", c->user);
	CHECK_STR("empty quoted", "", c->error_log);
	CHECK_STR("pasv_address", "192.0.2.10", c->pasv_address);
	config_free(c);

	/* Length limits: user is char[64]. */
	char text[256];
	snprintf(text, sizeof(text), "user = %0*d", 64, 0);
	c = load_text(text, NULL, 0, err, sizeof(err));
	char want[512];
	snprintf(want, sizeof(want), "%s:1: user: value is longer than 63 bytes", conf_path);
	CHECK_STR("user too long", want, c ? "(loaded)" : err);
	config_free(c);
	snprintf(text, sizeof(text), "user = %0*d", 63, 0);
	c = load_text(text, NULL, 0, err, sizeof(err));
	CHECK("user of 63 bytes fits", c != NULL && strlen(c->user) == 63);
	config_free(c);
}

static void test_long_line(void)
{
	char err[512], want[512];
	size_t n = PM_CONF_LINE_MAX + 10;
	char *text = malloc(n + 32);

	/* Exactly PM_CONF_LINE_MAX bytes: accepted (a comment). */
	memset(text, 'x', PM_CONF_LINE_MAX);
	text[0] = '#';
	memcpy(text + PM_CONF_LINE_MAX, "\nmax_clients = 3\n", 18);
	struct config *c = load_text(text, NULL, 0, err, sizeof(err));
	CHECK("line of PM_CONF_LINE_MAX bytes accepted", c != NULL && c->max_clients == 3);
	config_free(c);
	/* One more byte: refused. */
	memset(text, 'x', PM_CONF_LINE_MAX + 2);
	memcpy(text, "\n#", 2);
	memcpy(text + PM_CONF_LINE_MAX + 2, "\n", 2);
	c = load_text(text, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: line is longer than %d bytes", conf_path,
	         PM_CONF_LINE_MAX);
	CHECK_STR("long line refused", want, c ? "(loaded)" : err);
	config_free(c);
	free(text);

	/* A NUL byte in a line. */
	FILE *f = fopen(conf_path, "w");
	fwrite("max_clients = 1\0 0\n", 1, 19, f);
	fclose(f);
	c = config_load(conf_path, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1: line contains a NUL byte", conf_path);
	CHECK_STR("NUL byte refused", want, c ? "(loaded)" : err);
	config_free(c);

	c = config_load("/nonexistent/pubmirror.conf", NULL, 0, err, sizeof(err));
	CHECK_STR("missing file",
	          "/nonexistent/pubmirror.conf: cannot open: No such file or "
	          "directory",
	          c ? "(loaded)" : err);
	config_free(c);
}

static void test_sets(void)
{
	char err[512];
	char *s1[] = {"max_clients=10", "rate_total = 1M", "ftp_listen=[::1]:2121",
	              "max_clients=11"};
	struct config *c = load_text("max_clients = 5\nmax_per_ip = 3\n", s1, 4, err, sizeof(err));

	CHECK("--set loads", c != NULL);
	if (c) {
		CHECK_INT("--set overrides file, last wins", 11, c->max_clients);
		CHECK_INT("file value kept", 3, c->max_per_ip);
		CHECK_INT("--set rate", 1 << 20, c->rate_total);
		CHECK_INT("--set ipv6 listen", AF_INET6, c->ftp_listen.a[0].ss_family);
		config_free(c);
	}
	static const struct {
		char *set;
		const char *want;
	} badsets[] = {
	    {"foo=1", "--set foo: unknown key"},
	    {"max_clients", "--set max_clients: expected KEY=VALUE"},
	    {"max_clients=0", "--set max_clients: 0 is below the minimum 1"},
	    {"ftp_listen=nowhere", "--set ftp_listen: \"nowhere\" has no port (host:port, "
	                           "[IPv6]:port or *:port)"},
	    {"auth_paths=/x", "--set auth_paths: needs auth_file (the users who may log in)"},
	    {"tls_key=/k", "--set tls_key: tls_cert is empty; set both tls_cert and "
	                   "tls_key, or neither"},
	};
	for (size_t i = 0; i < sizeof(badsets) / sizeof(badsets[0]); i++) {
		char *one[] = {badsets[i].set};
		c = config_load(NULL, one, 1, err, sizeof(err));
		CHECK_STR(badsets[i].set, badsets[i].want, c ? "(loaded)" : err);
		config_free(c);
	}
	/* Cross-key checks see file and --set together. */
	char *s2[] = {"tls_key=/k"};
	c = load_text("tls_cert = /c\n", s2, 1, err, sizeof(err));
	CHECK("tls pair from file + --set", c != NULL);
	config_free(c);
	char *s3[] = {"https_listen=off"};
	c = load_text("ftp_listen = off\nftps_listen = off\n", s3, 1, err, sizeof(err));
	CHECK_STR("no listener blames --set",
	          "--set https_listen: no listener left: ftp_listen, "
	          "ftps_listen, https_listen and http_listen are all off",
	          c ? "(loaded)" : err);
	config_free(c);
}

static void test_prefixes(void)
{
	char err[512];
	struct config *c = load_text("auth_file = /etc/htpasswd\n"
	                             "auth_paths = /private/, secret//x/./y, /a/b/../c , /\n",
	                             NULL, 0, err, sizeof(err));
	CHECK("prefixes load", c != NULL);
	if (c == NULL) {
		CHECK_STR("prefixes error", "", err);
		return;
	}
	CHECK_INT("prefix count", 4, c->auth_paths.n);
	CHECK_STR("trailing slash dropped", "private", c->auth_paths.p[0]);
	CHECK_STR("relative, doubled slash and dot", "secret/x/y", c->auth_paths.p[1]);
	CHECK_STR("dot-dot resolved", "a/c", c->auth_paths.p[2]);
	CHECK_STR("/ is the whole site", "", c->auth_paths.p[3]);
	config_free(c);
}

static void test_netmap(void)
{
	char err[512];
	struct config *c = load_text("pasv_address = 203.0.113.1\n"
	                             "pasv_address_map = 10.0.0.0/8=10.0.0.5, "
	                             "192.168.0.0/16=192.168.1.2,"
	                             " fd00::/8 = 10.9.9.9\n",
	                             NULL, 0, err, sizeof(err));
	CHECK("netmap loads", c != NULL);
	if (c == NULL) {
		CHECK_STR("netmap error", "", err);
		return;
	}
	CHECK_INT("netmap entries", 3, c->pasv_address_map.n);
	struct sockaddr_storage p;
	struct sockaddr_in *p4 = (struct sockaddr_in *)&p;
	struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)&p;

	memset(&p, 0, sizeof(p));
	p4->sin_family = AF_INET;
	inet_pton(AF_INET, "10.20.30.40", &p4->sin_addr);
	CHECK_STR("10/8 maps", "10.0.0.5", config_pasv_address_for(c, &p));
	inet_pton(AF_INET, "192.168.200.1", &p4->sin_addr);
	CHECK_STR("192.168/16 maps", "192.168.1.2", config_pasv_address_for(c, &p));
	inet_pton(AF_INET, "192.169.0.1", &p4->sin_addr);
	CHECK_STR("outside: pasv_address", "203.0.113.1", config_pasv_address_for(c, &p));
	memset(&p, 0, sizeof(p));
	p6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.1.1", &p6->sin6_addr);
	CHECK_STR("v4-mapped peer matches v4 net", "10.0.0.5", config_pasv_address_for(c, &p));
	inet_pton(AF_INET6, "fd12::1", &p6->sin6_addr);
	CHECK_STR("v6 net", "10.9.9.9", config_pasv_address_for(c, &p));
	inet_pton(AF_INET6, "2001:db8::1", &p6->sin6_addr);
	CHECK_STR("v6 outside", "203.0.113.1", config_pasv_address_for(c, &p));
	config_free(c);

	c = config_load(NULL, NULL, 0, err, sizeof(err));
	CHECK("no pasv_address: NULL", c && config_pasv_address_for(c, &p) == NULL);
	config_free(c);
}

/* Relative paths in a file are relative to the file's directory; --set
 * values to the working directory. */
static void test_beside(void)
{
	static const struct {
		const char *value, *want; /* want: after tmpdir ("" = tmpdir itself) */
	} cases[] = {
	    {"tree", "/tree"}, {"./tree", "/tree"}, {"a/b/c", "/a/b/c"}, {"..", "/.."},
	    {"../x", "/../x"}, {".", "/."},         {"/abs/path", NULL},
	};
	char err[512], expect[PM_PATH_MAX + 16], real[PM_PATH_MAX], parent[PM_PATH_MAX];

	CHECK("realpath tmpdir", realpath(tmpdir, real) != NULL);
	snprintf(parent, sizeof(parent), "%s", real);
	*strrchr(parent, '/') = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "auth_file = %s\n", cases[i].value);
		struct config *c = load_text(text, NULL, 0, err, sizeof(err));
		CHECK(cases[i].value, c != NULL);
		if (c == NULL)
			continue;
		if (cases[i].want == NULL)
			snprintf(expect, sizeof(expect), "%s", cases[i].value);
		else if (strcmp(cases[i].value, "..") == 0)
			snprintf(expect, sizeof(expect), "%s", parent);
		else if (strcmp(cases[i].value, "../x") == 0)
			snprintf(expect, sizeof(expect), "%s/x", parent);
		else if (strcmp(cases[i].value, ".") == 0)
			snprintf(expect, sizeof(expect), "%s", real);
		else
			snprintf(expect, sizeof(expect), "%s%s", real, cases[i].want);
		CHECK_STR(cases[i].value, expect, c->auth_file);
		config_free(c);
	}
	/* --set stays relative to the working directory. */
	char *sets[] = {"auth_file=rel/x"};
	struct config *c = load_text("auth_file = other\n", sets, 1, err, sizeof(err));
	CHECK_STR("--set keeps its relative path", "rel/x", c ? c->auth_file : "(null)");
	config_free(c);
}

static void test_sample(void)
{
	char err[512];
	char *now = NULL, *committed = NULL;
	size_t nowlen = 0;
	FILE *m = open_memstream(&now, &nowlen);

	config_write_sample(m);
	fclose(m);

	FILE *f = fopen("conf/pubmirror.conf", "r");
	CHECK("conf/pubmirror.conf exists (run from the repository top)", f != NULL);
	if (f) {
		committed = calloc(1, nowlen + 2);
		size_t got = fread(committed, 1, nowlen + 1, f);
		fclose(f);
		CHECK_INT("committed sample size equals config_write_sample", nowlen, got);
		CHECK("committed sample equals config_write_sample",
		      got == nowlen && memcmp(committed, now, nowlen) == 0);
	}
	/* Loading the sample gives exactly the defaults, its relative paths
	 * (../mirror-root from conf/) made absolute. */
	char cwd[1024], setroot[1100], setstate[1100];
	CHECK("getcwd", getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(setroot, sizeof(setroot), "root=%s/mirror-root", cwd);
	snprintf(setstate, sizeof(setstate), "state_dir=%s/state", cwd);
	char *abs_sets[] = {setroot, setstate};
	struct config *a = config_load("conf/pubmirror.conf", NULL, 0, err, sizeof(err));
	struct config *b = config_load(NULL, abs_sets, 2, err, sizeof(err));
	CHECK("sample loads", a != NULL);
	CHECK("sample equals defaults", a && b && memcmp(a, b, sizeof(*a)) == 0);
	/* Every key appears once, uncommented. */
	static const char *const keys[] = {
	    "root",          "state_dir",      "tls_cert",     "tls_key",          "auth_file",
	    "auth_paths",    "acme_webroot",   "error_log",    "access_log",       "xfer_log",
	    "json_log",      "user",           "ftp_listen",   "ftps_listen",      "https_listen",
	    "http_listen",   "metrics_listen", "http_mode",    "proxy_protocol",   "ftp_tls",
	    "ftp_tls_reuse", "pasv_ports",     "pasv_address", "pasv_address_map", "ftp_threads",
	    "hash_max_size", "ftp_banner",     "http_threads", "hsts_max_age",     "show_dotfiles",
	    "max_clients",   "max_per_ip",     "rate_per_ip",  "rate_total",       "ban_after",
	    "ban_window",    "ban_time",       "idle_timeout", "drain_timeout",    "index_rescan",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char pat[64];
		snprintf(pat, sizeof(pat), "\n%s =", keys[i]);
		char *hit = strstr(now, pat);
		CHECK(keys[i], hit != NULL && strstr(hit + 1, pat) == NULL);
	}
	config_free(a);
	config_free(b);
	free(now);
	free(committed);
}

static void test_reference_and_man(void)
{
	char *t = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&t, &n);

	config_write_reference(m, 0);
	fclose(m);
	CHECK("markdown header", strncmp(t,
	                                 "| key | default | meaning "
	                                 "|\n|---|---|---|\n",
	                                 42) == 0);
	CHECK("markdown row", strstr(t, "| `max_clients` | `2000` | ") != NULL);
	CHECK("markdown empty default", strstr(t, "| `tls_cert` | (empty) | ") != NULL);
	free(t);

	m = open_memstream(&t, &n);
	config_write_man(m, 5);
	fclose(m);
	CHECK("man 5 title", strncmp(t, ".TH PUBMIRROR.CONF 5", 20) == 0);
	CHECK("man 5 has keys", strstr(t, ".BI \"pasv_ports = \" \"port range\"") != NULL);
	CHECK("man 5 has range", strstr(t, "Range: 1 to 1000000") != NULL);
	free(t);

	m = open_memstream(&t, &n);
	config_write_man(m, 8);
	fclose(m);
	CHECK("man 8 title", strncmp(t, ".TH PUBMIRRORD 8", 16) == 0);
	CHECK("man 8 signals", strstr(t, "SIGHUP") && strstr(t, "SIGUSR1") && strstr(t, "SIGTERM"));
	free(t);

	m = open_memstream(&t, &n);
	config_write_man(m, 3);
	fclose(m);
	CHECK_INT("man other section writes nothing", 0, n);
	free(t);
}

static void *reader(void *arg)
{
	unsigned *bad_reads = arg;

	for (int i = 0; i < 20000; i++) {
		const struct config *c = config_get();
		/* Each snapshot is self-consistent: max_per_ip = max_clients. */
		if (c->max_per_ip != c->max_clients)
			(*bad_reads)++;
	}
	return NULL;
}

static void test_publish(void)
{
	char err[256];
	const struct config *d = config_get();

	CHECK("config_get before publish: defaults", d != NULL && d->max_clients == 2000);

	char *s[] = {"max_clients=100", "max_per_ip=100"};
	struct config *c = config_load(NULL, s, 2, err, sizeof(err));
	config_publish(c);
	const struct config *held = config_get();
	CHECK("publish makes it current", held == c);

	pthread_t th[2];
	unsigned bad_reads[2] = {0, 0};
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, &bad_reads[i]);
	for (unsigned k = 1; k <= 200; k++) {
		char a[64], b[64];
		snprintf(a, sizeof(a), "max_clients=%u", 100 + k);
		snprintf(b, sizeof(b), "max_per_ip=%u", 100 + k);
		char *s2[] = {a, b};
		config_publish(config_load(NULL, s2, 2, err, sizeof(err)));
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_INT("readers saw only whole snapshots", 0, bad_reads[0] + bad_reads[1]);
	/* A retired snapshot stays readable until shutdown. */
	CHECK_INT("retired snapshot still valid", 100, held->max_clients);
	CHECK_INT("latest in force", 300, config_get()->max_clients);
	config_shutdown();
	CHECK("after shutdown: defaults again", config_get()->max_clients == 2000);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--write-sample") == 0) {
		config_write_sample(stdout);
		return 0;
	}
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmpdir);
	test_defaults();
	test_good_numbers();
	test_bad();
	test_addrs();
	test_size();
	test_strings_and_quotes();
	test_long_line();
	test_sets();
	test_prefixes();
	test_netmap();
	test_sample();
	test_beside();
	test_reference_and_man();
	test_publish();
	unlink(conf_path);
	rmdir(tmpdir);
	return unit_done();
}
