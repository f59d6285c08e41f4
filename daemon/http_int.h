/* http_int.h - what the http*.c files share (not an interface for other
 * modules: daemon/http.h is).  Only http*.c include microhttpd.h. */
#ifndef PUBMIRROR_HTTP_INT_H
#define PUBMIRROR_HTTP_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "index.h"
#include "limiter.h"
#include "limits.h"

struct view_obj;

/* One TCP connection (MHD socket context). */
struct http_conn {
	struct sockaddr_storage peer;
	int counted;                  /* limiter_conn_open said OK */
	enum limiter_verdict verdict; /* why not, when not counted */
	int tls;
	/* SECURITY: libmicrohttpd's timeout is one of inactivity, so a request
	 * trickled a byte at a time would hold its connection for ever.  The
	 * sweeper (http.c) cuts a connection whose request head is not complete
	 * within the timeout of when it began (connection start, or the end of
	 * the previous request on a keep-alive connection). */
	int fd;
	_Atomic uint64_t head_since; /* ns; 0 = the head is complete */
	int cut;                     /* the sweeper shut it down */
	int refusing;                /* holds one of the PM_REFUSING_MAX slots */
	struct http_conn *prev, *next;
	unsigned requests; /* answered on this connection */
	/* Body bytes of the current response written to the connection: the
	 * position libmicrohttpd asks the body reader for, which it does only
	 * once everything before it is sent (http_file.c).  For the log and
	 * the byte counters of a download cut short. */
	uint64_t body_sent;
};

/* One request (MHD *con_cls), from the URI log callback to completion. */
struct http_req {
	char *uri; /* raw request-target as received */
	struct http_conn *hc;
	int calls;
	int head; /* HEAD: no body is sent */
	unsigned status;
	uint64_t bytes; /* body bytes planned */
	char user[PM_AUTH_USER_MAX + 1];
	int authed;
	uint64_t t0;                  /* request received (clock_now_ns) */
	int file;                     /* a file body (a transfer) */
	int queued;                   /* an answer was queued: log it at completion */
	char method[16], version[16]; /* for the log line written at completion */
};

/* http_reply.c: the method and version of the request this thread is
 * answering (strings owned by libmicrohttpd), for the access log. */
void http_reply_meta(const char *method, const char *version);
/* http_reply.c: a text/plain response holding a copy of text, or NULL. */
struct MHD_Response *http_text_response(const char *text);
/* Add the headers every response carries (Server, security headers). */
void http_common_headers(struct MHD_Response *resp, const struct http_req *r);
/* Queue resp with status, record it for the access log, drop our
 * reference.  bodylen: bytes of body (for the log). */
enum MHD_Result http_queue(struct MHD_Connection *c, struct http_req *r, unsigned status,
                           struct MHD_Response *resp, uint64_t bodylen);
/* http_queue for a response that already carries the common headers and
 * may be queued again (cached): the caller keeps its reference. */
enum MHD_Result http_queue_shared(struct MHD_Connection *c, struct http_req *r, unsigned status,
                                  struct MHD_Response *resp, uint64_t bodylen);
/* A short text/plain answer with one more header (Location,
 * WWW-Authenticate): text trusted, header value checked by the caller. */
enum MHD_Result http_text_with(struct MHD_Connection *c, struct http_req *r, unsigned status,
                               const char *text, const char *header, const char *value);
/* A short text/plain error (text: trusted, static). */
enum MHD_Result http_error(struct MHD_Connection *c, struct http_req *r, unsigned status,
                           const char *text);

/* http_meta4.c: the Metalink 4 document of the regular file o (VIEW_OK for
 * this client). */
enum MHD_Result http_serve_meta4(struct MHD_Connection *c, struct http_req *r,
                                 const struct view_obj *o, const struct config *cfg);

/* http_file.c: serve the regular file rel of ix: the path the view
 * resolved (no symlink on it: one swapped in since is not followed). */
enum MHD_Result http_serve_file(struct MHD_Connection *c, struct http_req *r,
                                const struct index *ix, int dirfd, const char *rel,
                                const struct config *cfg);
/* http_file.c: an open fd (regular file) with its stat, e.g. ACME. */
enum MHD_Result http_serve_fd(struct MHD_Connection *c, struct http_req *r, int fd,
                              const struct stat *st, const char *name, const struct config *cfg);
/* http_file.c: drop the small files' answers kept in memory (shutdown). */
void http_small_clear(void);
/* http_pace.c: the rate pacer thread: start (0 or -1); stop: resume
 * everyone now and refuse to suspend again (before MHD_stop_daemon). */
int http_pace_start(void);
void http_pace_stop(void);
/* http_pace.c: suspend conn until due (clock_now_ns); 0, or -1 when it
 * cannot (stopping, queue full: the caller then sends anyway). */
int http_pace_suspend(struct MHD_Connection *conn, uint64_t due);

/* http_listing.c: serve the listing of dir (a VIEW_DIR from view_resolve
 * for this request's principal); urlpath is the decoded URL path asked
 * for, ending in '/'; query: raw query string or NULL. */
enum MHD_Result http_serve_listing(struct MHD_Connection *c, struct http_req *r,
                                   const struct view_obj *dir, const char *urlpath,
                                   const char *query, const struct config *cfg);
/* A snapshot of generation gen was published: drop older listings. */
void http_listing_publish(uint64_t gen);
/* Drop every cached listing (shutdown). */
void http_listing_cache_clear(void);

/* http_tls.c: the transport under GnuTLS sessions (read-ahead, a header
 * sent with its body, the handshake ACK hook).  init once before daemons
 * start; attach when a TLS connection starts, detach when it closes; hold:
 * the next TLS record waits to go out with the one after it. */
void http_tls_init(void);
void http_tls_attach(void *session, int fd);
void http_tls_detach(int fd);
void http_tls_hold(int fd);

/* http_dispatch.c: libmicrohttpd's access handler (every daemon). */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls);

/* http_auth.c: check the request's Basic credentials.  1: authenticated
 * (r->user set, r->authed); 0: not, and unless quiet an answer (401 or
 * 403) was queued with its result in *ret.  Failed logins count toward
 * the ban. */
int http_auth_login(struct MHD_Connection *c, struct http_req *r, enum MHD_Result *ret, int quiet);

/* http_assets.c: the embedded asset name (under /.pubmirror/), or 404. */
enum MHD_Result http_serve_asset(struct MHD_Connection *c, struct http_req *r, const char *name);

/* http_acme.c: the ACME http-01 answer for token (plain HTTP only). */
enum MHD_Result http_serve_acme(struct MHD_Connection *c, struct http_req *r, const char *token,
                                const struct config *cfg);
/* http_acme.c: (re)open acme_webroot (start, reload); close it (stop). */
void http_acme_open(const struct config *cfg);
void http_acme_close(void);

/* http_sweep.c: the registry of open connections.  link when one starts,
 * unlink when it closes (before libmicrohttpd closes its fd). */
void http_conn_link(struct http_conn *hc);
void http_conn_unlink(struct http_conn *hc);
/* http_sweep.c: cut connections whose request head is late (called
 * about once a second); the limit in seconds (set at daemon start). */
void http_sweep(void);
void http_sweep_set_limit(unsigned seconds);
/* http_sweep.c: connections admitted only to hear a 503 (all daemons). */
void http_refusing_add(int delta);
unsigned http_refusing_count(void);
/* http_sweep.c: the limiter's ban hook: cut the banned address's
 * connections, except http_banning (the one whose failed login is being
 * counted on this thread: its own answer still goes out). */
void http_on_ban(void *arg, const struct sockaddr_storage *addr);
extern _Thread_local struct http_conn *http_banning;

/* Header value or NULL. */
const char *http_hdr(struct MHD_Connection *c, const char *name);

#endif
