/* limits.h - every hard limit and timeout of pubmirrord, in one place.
 *
 * SECURITY: work and memory per client are bounded by these numbers.  A
 * client string longer than its limit is refused with an error that names
 * the limit; nothing is truncated silently.
 */
#ifndef PUBMIRROR_LIMITS_H
#define PUBMIRROR_LIMITS_H

/* Paths */
#define PM_PATH_MAX 4096     /* canonical root-relative path, bytes */
#define PM_NAME_MAX 255      /* one path component, bytes */
#define PM_PATH_DEPTH_MAX 64 /* components in one path */

/* Config */
#define PM_CONF_LINE_MAX 4096   /* one line of the config file */
#define PM_CONF_ADDRS_MAX 8     /* addresses in one *_listen list */
#define PM_CONF_PREFIXES_MAX 64 /* auth_paths entries */
#define PM_CONF_MAP_MAX 32      /* pasv_address_map entries */

/* FTP */
#define PM_FTP_LINE_MAX 1024       /* command line incl. CRLF (RFC 959 allows 512) */
#define PM_FTP_BAD_BEFORE_LOGIN 10 /* bad commands before login closes session */
#define PM_FTP_BAD_MAX 100         /* bad commands in a session closes it */
#define PM_FTP_REPLY_MAX 8192      /* one (multi-line) reply */
#define PM_FTP_THREADS_MAX 64
#define PM_FTP_PROXY_PENDING 4         /* proxied data connections awaiting their PROXY header */
#define PM_FTP_IO_BUF (256 * 1024)     /* data-channel buffer for TLS/MODE Z */
#define PM_FTP_LOGIN_TIMEOUT 60        /* seconds to log in */
#define PM_FTP_DATA_CONNECT_TIMEOUT 30 /* seconds for the data connection */
#define PM_FTP_STALL_TIMEOUT 120       /* seconds without progress on a transfer */
/* FTP's worker threads: password checks (crypt) and HASH digests each have
 * their own queue and threads, so a login never waits behind a digest. */
#define PM_FTP_AUTH_WORKERS 2
#define PM_FTP_AUTH_QUEUE 256 /* password checks waiting */
#define PM_FTP_HASH_WORKERS 2
#define PM_FTP_HASH_QUEUE 256 /* digests waiting */
#define PM_HASH_PER_ADDR 2    /* digests queued or running per IPv4 address / IPv6 /64 */

/* Descriptors: one per client (its control connection or HTTP socket), two
 * per transfer (the data connection or passive listener, and the file),
 * plus PM_FDS_SPARE (listeners, logs, epoll, inotify, eventfds).
 * max_transfers 0 means one transfer per client (three descriptors each);
 * max_clients 0 (unlimited) takes the whole hard limit. */
#define PM_FDS_SPARE 64

/* The transfers (FTP data channels) allowed at once: the smaller of the
 * two, 0 for no bound. */
static inline unsigned pm_max_transfers(unsigned max_clients, unsigned max_transfers)
{
	if (max_transfers == 0 || (max_clients != 0 && max_transfers > max_clients))
		return max_clients;
	return max_transfers;
}

/* Connections the limiter refused that may stay open at once to hear why
 * (421 / 503), per refusing unit: each FTP event loop, and all HTTP
 * daemons together; beyond that a refused connection is closed at accept.
 * Each gets PM_REFUSE_TIMEOUT seconds. */
#define PM_REFUSING_MAX 256
#define PM_REFUSE_TIMEOUT 5
/* Connections waiting for their PROXY header, per proxied listener. */
#define PM_PROXY_PENDING 1024

/* Refusal slots per unit: an eighth of max_clients (at least 1), at most
 * PM_REFUSING_MAX, so that a small server's budget stays small. */
static inline unsigned pm_refusing_max(unsigned max_clients)
{
	unsigned r = max_clients / 8;
	if (max_clients == 0 || r > PM_REFUSING_MAX)
		return PM_REFUSING_MAX;
	return r ? r : 1;
}

/* RLIMIT_NOFILE needed, 0 when max_clients is 0 (take what there is):
 * every descriptor the process can hold.  Counted connections of all
 * protocols (max_clients), two per transfer, the refusal slots of
 * `refusers` units, PM_PROXY_PENDING per proxied listener, and the spare
 * ones. */
static inline unsigned long long pm_fds_needed(unsigned max_clients, unsigned max_transfers,
                                               unsigned refusers, unsigned proxied)
{
	if (max_clients == 0)
		return 0;
	return (unsigned long long)max_clients +
	       2ull * pm_max_transfers(max_clients, max_transfers) +
	       (unsigned long long)refusers * pm_refusing_max(max_clients) +
	       (unsigned long long)proxied * PM_PROXY_PENDING + PM_FDS_SPARE;
}

/* HTTP */
#define PM_HTTP_HEADER_MAX (16 * 1024) /* whole request header block */
#define PM_HTTP_RANGES_MAX 16          /* ranges in one multipart request */
#define PM_FD_TABLE_MAX (1 << 20)      /* per-fd TLS transport states (virtual) */
#define PM_HTTP_SMALL_MAX (16 * 1024)  /* files answered from memory, bytes */
#define PM_HTTP_SMALL_SLOTS 1024       /* ... at most this many (16 MiB) */
#define PM_HTTP_TIMEOUT 30             /* idle/slow request seconds */
#define PM_HTTP_AUTH_CACHE 256         /* verified credentials cached */
#define PM_HTTP_AUTH_CACHE_TTL 300     /* seconds a verified credential stays */

/* Listings */
#define PM_LIST_ENTRIES_MAX 200000 /* entries rendered for one directory */

/* Index */
#define PM_INDEX_ENTRIES_MAX 20000000 /* entries in one snapshot */
#define PM_INDEX_SETTLE_MS 300        /* wait for a burst of changes to settle */

/* Limiter */
#define PM_LIMITER_IPS_MAX 65536 /* tracked addresses (counts, bans) */

/* Auth */
#define PM_AUTH_USERS_MAX 10000
#define PM_AUTH_LINE_MAX 1024
#define PM_AUTH_USER_MAX 64
#define PM_AUTH_PASS_MAX 256

/* rsync */
#define PM_RSYNC_LINE_MAX 1024          /* greeting / module line */
#define PM_RSYNC_ARGS_MAX 64            /* server arguments */
#define PM_RSYNC_ARGS_BYTES 8192        /* their total length */
#define PM_RSYNC_MSG_MAX 4096           /* one informational message from the client */
#define PM_RSYNC_MOTD_MAX 8192          /* bytes of rsync_motd sent */
#define PM_RSYNC_CONNS_MAX 256          /* rsync connections at once (a thread each) */
#define PM_RSYNC_FLIST_MAX 2000000      /* entries in one file list */
#define PM_RSYNC_BLOCKS_MAX (1 << 20)   /* block checksums of one file */
#define PM_RSYNC_BLOCK_MAX (128 * 1024) /* block length (protocol 30) */
#define PM_RSYNC_CHUNK (32 * 1024)      /* literal data per token */
#define PM_RSYNC_TIMEOUT 60             /* seconds without progress either way */
#define PM_RSYNC_HANDSHAKE_TIMEOUT 30   /* seconds to reach the file list */

/* Logs */
#define PM_LOG_LINE_MAX 4096

#endif
