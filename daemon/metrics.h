/* metrics.h - process-wide counters and their Prometheus text rendering.
 *
 * The protocols push events here (lock-free atomic counters, cheap enough
 * for every request and every data block); gauges that other modules own
 * (the limiter's counts and bans, the index snapshot) are read when the
 * page is rendered.  http_metrics.c serves the page on metrics_listen.
 */
#ifndef PUBMIRROR_METRICS_H
#define PUBMIRROR_METRICS_H

#include <stdint.h>
#include "buf.h"

/* Connections count by listener; bytes, transfers and requests of FTP count
 * under METRICS_FTPS once the control connection is TLS (ftp_metrics_proto). */
enum metrics_proto {
	METRICS_FTP,   /* connections to ftp_listen (plain or explicit AUTH TLS) */
	METRICS_FTPS,  /* connections to ftps_listen (implicit FTPS) */
	METRICS_HTTP,  /* plain HTTP port */
	METRICS_HTTPS, /* HTTPS */
	METRICS_RSYNC, /* rsync_listen (rsync://) */
	METRICS_NPROTO
};

/* Latency histogram upper bounds in seconds (the last bucket is +Inf). */
#define METRICS_BUCKETS 12

/* A client connection was accepted (counted by the limiter or not) / closed.
 * Pair every open with one close for the same proto. */
void metrics_conn_open(enum metrics_proto p);
void metrics_conn_close(enum metrics_proto p);
/* A connection refused before it was served (limiter verdict, bad PROXY
 * header, ...).  reason: a short static token ("full", "per_ip", "banned",
 * "proxy"); unknown tokens count as "other". */
void metrics_conn_refused(enum metrics_proto p, const char *reason);
/* Body / data-channel bytes written to clients. */
void metrics_bytes_sent(enum metrics_proto p, uint64_t n);
/* A file transfer ended: complete (all bytes sent) or not. */
void metrics_transfer(enum metrics_proto p, int complete);
/* A TLS handshake ended, successfully or not. */
void metrics_tls_handshake(enum metrics_proto p, int ok);
/* A request answered (HTTP request, FTP command reply): its status (HTTP
 * status or FTP reply code) and its latency in seconds (request received
 * to answer queued; for HTTP transfers, to the first byte; for FTP, to the
 * final reply, which for RETR is the 226 at the end). */
void metrics_request(enum metrics_proto p, unsigned status, double secs);
/* A PROXY protocol header accepted (ok) or a connection refused for the
 * lack of a valid one. */
void metrics_proxy_header(int ok);
/* A failed login (any protocol). */
void metrics_auth_failure(enum metrics_proto p);

/* Healthz: 1 while serving; metrics_set_draining(1) on SIGTERM makes
 * /healthz answer 503 so a load balancer stops sending new clients. */
void metrics_set_draining(int draining);
int metrics_draining(void);

/* Record the start time (pubmirror_start_time_seconds); metrics_start
 * calls it, and the first render does when nothing did. */
void metrics_init(void);

/* Render every metric in the Prometheus text exposition format (0.0.4)
 * into out.  Reads limiter_global() and the current index snapshot when
 * they exist.  0 or -1 (cap of out). */
int metrics_render(struct buf *out);

/* Zero every counter (tests only). */
void metrics_reset(void);

/* The plain-HTTP server for /metrics and /healthz (http_metrics.c), on
 * sockets main bound from metrics_listen.  The fds are taken over (closed
 * by metrics_stop).  0 or -1 (logged). */
int metrics_start(const int *fds, int nfds);
void metrics_stop(void);

#endif
