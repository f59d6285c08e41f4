/* config.h - the one table of tunables and the immutable snapshot built
 * from it.
 *
 * The table (config.c) gives each key its name, type, default, bounds and
 * one doc line; the parser, -t, --set, the sample conf/pubmirror.conf, the
 * README reference and the man page all come from it.  After parsing the
 * configuration is a frozen `const struct config` shared by every thread.
 */
#ifndef PUBMIRROR_CONFIG_H
#define PUBMIRROR_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "limits.h"

struct config_addrs {
	int n;
	struct sockaddr_storage a[PM_CONF_ADDRS_MAX];
	socklen_t len[PM_CONF_ADDRS_MAX];
};

struct config_netmap {
	int n;
	struct {
		struct sockaddr_storage net; /* network address (port 0) */
		int prefix;                  /* prefix length */
		char addr[64];               /* address announced to that network */
	} m[PM_CONF_MAP_MAX];
};

struct config_prefixes {
	int n;
	char p[PM_CONF_PREFIXES_MAX][256]; /* canonical, relative, no leading '/'; "" = all */
};

enum config_http_mode { CONFIG_HTTP_REDIRECT, CONFIG_HTTP_SERVE };
enum config_ftp_tls { CONFIG_FTP_TLS_ALLOW, CONFIG_FTP_TLS_REQUIRE, CONFIG_FTP_TLS_OFF };
enum config_tls_reuse { CONFIG_REUSE_OFF, CONFIG_REUSE_PREFERRED, CONFIG_REUSE_REQUIRED };

/* proxy_protocol: listeners that expect a PROXY protocol header (v1 or v2)
 * before anything else.  Bit flags in struct config.proxy_protocol. */
#define CONFIG_PROXY_FTP 0x1u   /* ftp_listen */
#define CONFIG_PROXY_FTPS 0x2u  /* ftps_listen */
#define CONFIG_PROXY_HTTPS 0x4u /* https_listen */
#define CONFIG_PROXY_HTTP 0x8u  /* http_listen */

struct config {
	/* where things are */
	char root[PM_PATH_MAX];
	char state_dir[PM_PATH_MAX];    /* generated certificate lives here */
	char tls_cert[PM_PATH_MAX];     /* "" = generated */
	char tls_key[PM_PATH_MAX];      /* "" = generated */
	char auth_file[PM_PATH_MAX];    /* "" = none */
	char acme_webroot[PM_PATH_MAX]; /* "" = none */
	char error_log[PM_PATH_MAX];    /* "" = stderr in foreground, else syslog */
	char access_log[PM_PATH_MAX];   /* "" = none */
	char xfer_log[PM_PATH_MAX];     /* "" = none */
	char json_log[PM_PATH_MAX];     /* "" = none; JSON lines of both protocols */
	char user[64];                  /* drop to this user when root */

	/* built-in ACME (acme.c); "" acme_directory = off */
	char acme_directory[512];       /* https URL of the CA's directory */
	char acme_domains[1024];        /* comma-separated DNS names */
	char acme_email[256];           /* "" = no contact */
	char acme_ca_file[PM_PATH_MAX]; /* extra CA for the ACME server; "" = system */
	unsigned acme_renew_max_age;    /* seconds; 0 = renew at 2/3 of lifetime only */
	unsigned acme_retry;            /* seconds between failed attempts */
	unsigned tls_generated_max_age; /* seconds; 0 = renew 30 days before the end only */

	/* listeners */
	struct config_addrs ftp_listen;
	struct config_addrs ftps_listen;
	struct config_addrs https_listen;
	struct config_addrs http_listen;
	struct config_addrs metrics_listen;
	struct config_addrs rsync_listen;
	enum config_http_mode http_mode;
	unsigned proxy_protocol; /* CONFIG_PROXY_* bits; 0 = none */

	/* FTP */
	enum config_ftp_tls ftp_tls;
	enum config_tls_reuse ftp_tls_reuse;
	unsigned pasv_min, pasv_max; /* pasv_ports LOW-HIGH */
	char pasv_address[64];       /* "" = control connection's local addr */
	struct config_netmap pasv_address_map;
	unsigned ftp_threads;
	uint64_t hash_max_size; /* bytes; HASH above this: 556 */
	char ftp_banner[256];

	/* rsync */
	char rsync_module[64];
	char rsync_motd[PM_PATH_MAX]; /* "" = none */

	/* HTTP */
	unsigned http_threads;
	uint64_t hsts_max_age; /* seconds; 0 = no header */
	char mirrors[1024];    /* base URLs, comma-separated; "" = none */

	/* access */
	struct config_prefixes auth_paths;
	int show_dotfiles;

	/* limits */
	unsigned max_clients, max_per_ip;
	unsigned max_transfers;           /* FTP data channels at once; 0: max_clients */
	uint64_t rate_per_ip, rate_total; /* bytes/s, 0 = unlimited */
	unsigned ban_after;               /* failures ... */
	unsigned ban_window;              /* ... within this many seconds ... */
	unsigned ban_time;                /* ... ban for this many seconds */
	unsigned idle_timeout;            /* seconds */
	unsigned drain_timeout;           /* seconds on SIGTERM */
	unsigned index_rescan;            /* seconds between full rescans, 0 = never */
};

/* Build a snapshot: defaults, then the file (NULL: none), then each "KEY=VALUE"
 * of sets[0..nsets).  On error returns NULL and writes "file:line: why" (or
 * "--set KEY: why") into err.  The caller owns the result (config_free). */
struct config *config_load(const char *file, char *const *sets, int nsets, char *err, size_t errsz);
/* Free a snapshot from config_load. */
void config_free(struct config *c);

/* The snapshot in force.  Never NULL: before the first config_publish it
 * is the built-in defaults.  A snapshot stays valid for the life of the
 * process (retired snapshots are freed only by config_shutdown, at exit). */
const struct config *config_get(void);
/* Make c the snapshot in force (takes ownership). */
void config_publish(struct config *c);
/* Free every retired snapshot and the current one (exit only). */
void config_shutdown(void);

/* Write the sample configuration (every key, default, doc line) to f. */
void config_write_sample(FILE *f);
/* The production configuration that `make install` installs: the sample
 * with absolute paths and every address on the standard ports. */
void config_write_production(FILE *f);
/* config_man.c: the reference as a markdown table (README) or man(5) body. */
void config_write_reference(FILE *f, int man);
/* config_man.c: a complete roff page: section 5 = pubmirror.conf(5) (syntax and
 * every key), section 8 = pubmirrord(8) (options, signals, files).  Any
 * other section writes nothing (callers check 5 or 8 first). */
void config_write_man(FILE *f, int section);

/* Parse helpers also used by other modules and tests: 0 or -1. */
int config_parse_size(const char *s, uint64_t *out); /* 10, 4K, 2M, 1G */
int config_parse_addrs(const char *s, struct config_addrs *out, char *err, size_t errsz);
/* "1.2.3.4:21" or "[::1]:21" for address i of a list (out: >= 64 bytes). */
void config_addr_text(const struct sockaddr_storage *a, char *out, size_t outsz);

/* config_pasv.c: the address to announce in a PASV reply to a client at
 * peer: the first pasv_address_map entry whose network holds peer
 * (IPv4-mapped IPv6 peers match IPv4 networks), else pasv_address; NULL
 * when neither applies (use the control connection's local address).
 * The string lives in c. */
const char *config_pasv_address_for(const struct config *c, const struct sockaddr_storage *peer);

#endif
