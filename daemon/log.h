/* log.h - error log, HTTP access log (combined format), FTP transfer log
 * (xferlog format).
 *
 * SECURITY: every string that may come from a client is escaped here
 * (BUF_ENC_LOG) before it reaches a file; passwords are never passed in.
 */
#ifndef PUBMIRROR_LOG_H
#define PUBMIRROR_LOG_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "config.h"

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Open the logs named by c: error_log (a file; or stderr when empty and
 * foreground; or syslog LOG_DAEMON "pubmirrord" when empty otherwise),
 * access_log, xfer_log, json_log (each O_APPEND, mode 0640, none when
 * empty).  May be called again (SIGHUP) with a new config: logs are swapped
 * only when every file opened.  0, or -1 with a message on stderr (the logs
 * in force stay).  Before log_open, log_msg writes to stderr. */
int log_open(const struct config *c, int foreground);
/* Reopen every log file by its path (SIGUSR1, after rotation).  A file that
 * cannot be reopened keeps its old descriptor (and an error is logged).
 * Returns 0 when every file was reopened, -1 otherwise.
 * Not async-signal-safe: call it from the main loop, not a handler.
 * After privileges are dropped the service user must be able to open the
 * files: give them to it with log_chown (logrotate's default "create" then
 * keeps that owner), or let it write to the log directory. */
int log_reopen(void);
/* Give every open log file (not stderr) to uid:gid, so that the service
 * user can reopen them after rotation.  Call it as root, before dropping
 * privileges (sandbox).  0, or -1 with errno from the first fchown that
 * failed (the others are still tried). */
int log_chown(uid_t uid, gid_t gid);
/* A duplicate of the error log's descriptor when the error log is a file
 * (for a process forked after log_open that writes to the same file: the
 * privileged helper), else -1.  The caller closes it. */
int log_error_fd(void);
/* Write the error log to fd from now on (taking it over; the old
 * descriptor is closed), when the error log is a file; else fd is closed.
 * How that process follows a SIGUSR1 reopen done by its parent, without
 * itself having to open files in the log directory. */
void log_adopt_error_fd(int fd);
/* Close everything; later log_msg calls go to stderr. */
void log_close(void);
/* Lowest level written to the error log (default LOG_LVL_INFO). */
void log_set_level(enum log_level lvl);

/* Error log line. Format arguments are trusted text; pass client strings
 * through log_esc() or use %s only with escaped text. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Escape an untrusted string for a log line into out (truncated with "..."
 * when too long).  Returns out. */
const char *log_esc(char *out, size_t outsz, const char *s, size_t n);

/* One access-log line in combined log format. Strings are raw; this escapes
 * them. user may be NULL ("-"). */
void log_access(const struct sockaddr_storage *peer, const char *user, const char *method,
                const char *uri, const char *proto, unsigned status, uint64_t bytes,
                const char *referer, const char *agent);

/* One xferlog line. secs: duration; complete: 'c' or 'i'. anon_id: the
 * anonymous password (an e-mail by convention) or user name, escaped here. */
void log_xfer(const struct sockaddr_storage *peer, unsigned secs, uint64_t bytes, const char *path,
              int binary, int anonymous, const char *anon_id, int complete);
/* The xferlog format, as wu-ftpd writes it (times in UTC):
 *   Sun Nov 22 05:01:02 2026 1 127.0.0.1 1234 /pub/file b _ o a you@example.org ftp 0 * c
 * time, seconds (at least 1), host, bytes, path (rooted with '/', spaces
 * as '_', escaped), a/b, '_', 'o', a(nonymous)/r(eal), id, "ftp", 0, '*',
 * c/i.  The combined access log is nginx's:
 *   host - user [22/Nov/2026:05:01:02 +0000] "GET /x HTTP/1.1" 200 1234 "ref" "agent"
 */

/* One JSON-lines event (json_log), for either protocol.  Every string may
 * be NULL (the member is then omitted) and is escaped here (invalid UTF-8
 * becomes U+FFFD).  One line:
 *   {"time":"2026-11-22T05:01:02.123Z","event":"transfer","proto":"ftps",
 *    "peer":"127.0.0.1","user":"alice","method":"RETR","path":"/pub/f",
 *    "status":226,"bytes":1234,"secs":0.004}
 * status 0 is omitted. */
struct log_event {
	const char *event; /* "request", "transfer", "login", "ban", ... */
	const char *proto; /* "ftp", "ftps", "http", "https" */
	const struct sockaddr_storage *peer;
	const char *user;   /* NULL: anonymous.  Never a password. */
	const char *method; /* HTTP method or FTP command */
	const char *path;   /* URI or path as the client named it */
	unsigned status;    /* HTTP status or FTP reply code */
	uint64_t bytes;     /* body / file bytes sent */
	double secs;        /* duration */
};
void log_json(const struct log_event *ev);

/* A failed login, as one warn line of the error log in a fixed shape that
 * conf/fail2ban/filter.d/pubmirrord.conf matches (user escaped; never the password):
 *   2026-11-22T05:01:02Z [warn] auth: failure from 192.0.2.7 proto=ftps user="alice"
 * Also a "login" event (status 530 for FTP, 401 for HTTP) in json_log. */
void log_auth_fail(const struct sockaddr_storage *peer, const char *proto, const char *user);

/* 1 when that log is open (callers may skip building a line). */
int log_access_enabled(void);
int log_xfer_enabled(void);
int log_json_enabled(void);

/* The numeric host of a peer ("1.2.3.4", "::1"; IPv4-mapped IPv6 shown as
 * IPv4) into out (>= 64 bytes).  Returns out. */
const char *log_peer(char *out, size_t outsz, const struct sockaddr_storage *peer);

#endif
