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
#include "config.h"

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Open the logs named by c (foreground: errors to stderr). 0 or -1. */
int log_open(const struct config *c, int foreground);
/* Reopen files after rotation (SIGUSR1). */
void log_reopen(void);
void log_close(void);

/* Error log line. Format arguments are trusted text; pass client strings
 * through log_esc() or use %s only with escaped text. */
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Escape an untrusted string for a log line into out (truncated with "..."
 * when too long).  Returns out. */
const char *log_esc(char *out, size_t outsz, const char *s, size_t n);

/* One access-log line in combined log format. Strings are raw; this escapes
 * them. user may be NULL ("-"). */
void log_access(const struct sockaddr_storage *peer, const char *user,
		const char *method, const char *uri, const char *proto,
		unsigned status, uint64_t bytes, const char *referer,
		const char *agent);

/* One xferlog line. secs: duration; complete: 'c' or 'i'. anon_id: the
 * anonymous password (an e-mail by convention) or user name, escaped here. */
void log_xfer(const struct sockaddr_storage *peer, unsigned secs, uint64_t bytes,
	      const char *path, int binary, int anonymous, const char *anon_id,
	      int complete);

#endif
