/* ftp_int.h - what ftp.c (event loops, sessions, control connection),
 * ftp_sess.c (replies, scheduling, transfer slots), ftp_cmd.c (the
 * command table), ftp_data.c (data channels and transfers) and
 * ftp_worker.c (password checks and digests) share.
 * Not an interface for other modules: use ftp.h. */
#ifndef PUBMIRROR_FTP_INT_H
#define PUBMIRROR_FTP_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "hash.h"
#include "index.h"
#include "limits.h"
#include "metrics.h"
#include "tls_io.h"

struct view_obj;

struct ftp_sess;
struct ftp_loop;

enum ftp_ev_kind { FTP_EV_LISTEN, FTP_EV_WAKE, FTP_EV_CTRL, FTP_EV_DATA, FTP_EV_PASV };

/* What epoll_event.data.ptr points to. */
struct ftp_ev {
	int kind;
	int implicit; /* FTP_EV_LISTEN: implicit FTPS listener */
	int fd;
	struct ftp_sess *s;
};

struct ftp_hash_job;

struct ftp_loop {
	int ep;
	int wakefd;
	pthread_t th;
	int nlev;
	struct ftp_ev lev[16];
	struct ftp_ev wake;
	struct ftp_sess *all;       /* every session of this thread */
	struct ftp_sess *ready;     /* to run this iteration (rnext) */
	struct ftp_sess *throttled; /* waiting for the limiter (tnext) */
	struct ftp_sess *dead;      /* freed at the end of the iteration */
	pthread_mutex_t done_lock;
	struct ftp_hash_job *done; /* finished jobs from ftp_worker.c */
	unsigned nreject;
	_Atomic int ban_check; /* an address was banned: look at every session */
	int stopping;
	uint64_t drain_until;
	uint64_t accept_paused_until; /* out of descriptors: listeners off until then */
};

enum ftp_xs { XS_NONE, XS_WAIT_CONN, XS_HANDSHAKE, XS_SEND, XS_SHUT, XS_DRAIN };
enum ftp_src { SRC_FILE, SRC_LIST, SRC_NLST, SRC_MLSD };

/* A data channel: its set-up (PASV listener or PORT target), its
 * connection, and the transfer on it.  Allocated only when used. */

struct ftp_data {
	int lfd; /* passive listener, -1 when none */
	struct ftp_ev lev, dev;
	int active; /* PORT/EPRT target set */
	struct sockaddr_storage target;
	struct conn conn; /* fd -1 until connected */
	/* proxied session: accepted, PROXY header not read yet (-1: free).
	 * More than one, so that a connection that sends no header does not
	 * make the client's own, arriving next, be dropped. */
	int pfd[PM_FTP_PROXY_PENDING];
	uint64_t pfd_since[PM_FTP_PROXY_PENDING];
	int connecting;  /* active connect in progress */
	uint32_t events; /* last epoll events of conn */
	enum ftp_xs xs;
	/* the transfer */
	enum ftp_src src;
	int fd; /* SRC_FILE */
	uint64_t off, end;
	struct index *ix;            /* listings: the snapshot */
	const struct index_dir *dir; /* NULL: the one entry below */
	struct view_obj *view;       /* listings of dir: what the client may see */
	struct index_entry one;
	uint32_t pos;
	char *prefix; /* NLST: argument/ prefix */
	char *path;   /* for logs: "/rel" */
	int ascii, z;
	struct compress_stream *zs;
	int zdone, src_eof;
	struct buf raw, out;
	size_t outpos;
	uint64_t credit, bytes;
	uint64_t t_begin, t_progress, t_wait;
	uint64_t zin;   /* MODE Z: file bytes fed to the compressor (xferlog size) */
	int final_code; /* reply once the connection is closed */
	char final_text[256];
	int log_xfer; /* RETR: one xferlog line */
};

/* Where a session's login stands.  Set to NONE by ftp_sess_defaults (a
 * new connection, AUTH TLS), otherwise changed only by ftp_sess_login
 * (ftp_sess.c), which allows just these steps and refuses the rest:
 *   any -> NONE                       (AUTH TLS resets; USER or PASS refused)
 *   NONE, USER_* -> USER_ANON, USER_NAMED   (USER)
 *   USER_ANON -> ANON                 (PASS: an e-mail address)
 *   USER_NAMED -> CHECKING            (PASS over TLS, on the worker pool)
 *   CHECKING -> NAMED                 (the password matched) */
enum ftp_login {
	FTP_LOGIN_NONE,       /* nothing given yet */
	FTP_LOGIN_USER_ANON,  /* USER anonymous / ftp: PASS logs in */
	FTP_LOGIN_USER_NAMED, /* USER name (over TLS): PASS is checked */
	FTP_LOGIN_CHECKING,   /* the password is being checked */
	FTP_LOGIN_ANON,       /* logged in anonymously */
	FTP_LOGIN_NAMED,      /* logged in as user */
};

/* Where a session's control connection stands, before and around its
 * commands.  Changed only by ftp_sess_phase (ftp_sess.c), which allows
 * just these steps and refuses the rest:
 *   NEW -> PROXY                  (a proxy_protocol listener: header first)
 *   NEW, PROXY -> TLS_GREET       (admitted on the implicit FTPS port)
 *   NEW, PROXY -> OPEN            (admitted: greeting sent)
 *   TLS_GREET -> OPEN             (handshake done: greeting sent)
 *   OPEN -> AUTH_REPLY            (AUTH TLS answered 234)
 *   AUTH_REPLY -> TLS_AUTH        (the 234 is out: handshake)
 *   TLS_AUTH -> OPEN              (handshake done)
 * Closing (s->closing) and gone (s->dead) can come in any phase. */
enum ftp_phase {
	FTP_PHASE_NEW,        /* accepted, not admitted yet */
	FTP_PHASE_PROXY,      /* waiting for the PROXY header */
	FTP_PHASE_TLS_GREET,  /* implicit FTPS: handshake, then the greeting */
	FTP_PHASE_OPEN,       /* commands are read and run */
	FTP_PHASE_AUTH_REPLY, /* start TLS once the 234 is out */
	FTP_PHASE_TLS_AUTH,   /* the handshake AUTH TLS asked for */
};

struct ftp_sess {
	struct ftp_loop *loop;
	struct ftp_sess *next, *prev, *rnext, *tnext;
	int in_ready, in_throttle, dead;
	struct ftp_ev cev;
	struct conn ctrl;
	struct sockaddr_storage peer, local;
	char peer_str[64];
	int counted; /* limiter_conn_open said OK */
	int proxied; /* peer came from a PROXY header */
	int reject;  /* greeting is a 421 */
	const char *reject_text;
	enum ftp_phase phase; /* ftp_sess_phase */
	int metered;          /* counted in metrics_conn_open */
	int closing;          /* close once the output is out */
	uint64_t close_by;
	uint32_t cevents;
	int ctrl_drained; /* last read said EAGAIN and no event came since */
	/* control input and output */
	char in[PM_FTP_LINE_MAX];
	size_t inlen;
	struct buf out;
	size_t outpos;
	/* login */
	enum ftp_login login; /* ftp_sess_login */
	char user[PM_AUTH_USER_MAX + 1];
	char anon_id[64];
	unsigned bad;
	uint64_t t_start, t_cmd;
	uint64_t t_busy; /* last seen transferring or hashing: idle counts from then too */
	/* state */
	char cwd[PM_PATH_MAX];
	int ascii, mode_z, zlevel, epsv_all, pbsz, prot_p, implicit;
	int halgo;
	unsigned mlst_mask;
	uint64_t rest;
	uint64_t rang_end; /* RANG: end byte + 1 of the next RETR; 0 = none */
	int rnfr;
	struct ftp_data *data;
	struct ftp_hash_job *hjob;
	uint64_t wake_ns; /* throttled until */
	int xfer_slot;    /* holds one of max_transfers (ftp_xfer_take) */
};

/* Facts of MLSx (OPTS MLST). */
#define FTP_FACT_TYPE 1u
#define FTP_FACT_SIZE 2u
#define FTP_FACT_MODIFY 4u
#define FTP_FACT_PERM 8u
#define FTP_FACT_UNIQUE 16u
#define FTP_FACT_ALL 31u

/* 1 when s is logged in (anonymously or as a user). */
static inline int ftp_is_logged_in(const struct ftp_sess *s)
{
	return s->login == FTP_LOGIN_ANON || s->login == FTP_LOGIN_NAMED;
}
/* 1 when s is logged in anonymously. */
static inline int ftp_is_anon(const struct ftp_sess *s)
{
	return s->login == FTP_LOGIN_ANON;
}
/* Move s's login to state to (see enum ftp_login).  0, or -1 when the step
 * is not one of those allowed: logged, and the session is closed (421). */
int ftp_sess_login(struct ftp_sess *s, enum ftp_login to);
/* Move s's control connection to phase to (see enum ftp_phase).  0, or
 * -1 when the step is not one of those allowed: logged, and the session
 * is closed (421). */
int ftp_sess_phase(struct ftp_sess *s, enum ftp_phase to);
/* 1 while the control connection's TLS handshake runs. */
static inline int ftp_in_handshake(const struct ftp_sess *s)
{
	return s->phase == FTP_PHASE_TLS_GREET || s->phase == FTP_PHASE_TLS_AUTH;
}
/* A session's settings as a new connection has them (login, directory,
 * TYPE, MODE, PROT, HASH algorithm, MLST facts...): at accept and after
 * AUTH TLS. */
void ftp_sess_defaults(struct ftp_sess *s);
/* ftp_sess.c: replies, close, scheduling on the loop, transfer slots
 * (called by everything below; it calls none of the other FTP files).
 * ftp.c: the event loop and sessions' lifecycle.
 * ftp_busy (a transfer or a worker job running) is ftp_data.c's. */
/* now - then, or 0 when then is later (stamps taken after now was read). */
static inline uint64_t ftp_elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}
void ftp_reply(struct ftp_sess *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Take one of the max_transfers data-channel slots for s (kept until its
 * data channel is gone; a session holds at most one).  0, or -1 when all
 * are in use: the descriptors they need were reserved at start-up
 * (limits.h), so a bounded number of transfers never runs out of them. */
int ftp_xfer_take(struct ftp_sess *s);
/* Give s's transfer slot back (nothing when it holds none). */
void ftp_xfer_give(struct ftp_sess *s);
/* Out of descriptors (EMFILE/ENFILE) for s doing what: logged, at most
 * once a second for the whole server. */
void ftp_fd_shortage(const struct ftp_sess *s, const char *what, int err);
/* Reply "code pre<path>post" with path FTP-encoded (and '"' doubled when
 * quote).  A path holding CR/LF is replaced by a refusal. */
void ftp_reply_path(struct ftp_sess *s, int code, const char *pre, const char *path,
                    const char *post, int quote);
/* Append raw (already safe) reply bytes. */
void ftp_reply_raw(struct ftp_sess *s, const char *text, size_t n);
/* The metrics protocol of a session: ftps once its control connection is
 * TLS (implicit or AUTH TLS), else ftp. */
enum metrics_proto ftp_metrics_proto(const struct ftp_sess *s);
/* Reply (if code) then close once the reply is out. */
void ftp_sess_close(struct ftp_sess *s, int code, const char *text);
/* Run s again in this loop iteration. */
void ftp_ready(struct ftp_sess *s);
/* Suspend s until when (limiter). */
void ftp_throttle(struct ftp_sess *s, uint64_t when);
int ftp_ev_add(struct ftp_loop *l, int fd, struct ftp_ev *ev, uint32_t events);
int ftp_busy(const struct ftp_sess *s);
void ftp_stat_add(int which, uint64_t n);
enum { FTP_STAT_BYTES, FTP_STAT_XFERS, FTP_STAT_HS, FTP_STAT_HS_FAIL, FTP_STAT_REUSE_REFUSED };

/* ftp_cmd.c */
/* Handle one command line (NUL-terminated, CRLF removed). */
void ftp_cmd_line(struct ftp_sess *s, char *line, size_t n);
/* 1 when the line may run while a transfer or digest is busy. */
int ftp_cmd_busy_ok(const char *line, size_t n);
/* The result of ftp_auth_submit (ok: the password matched). */
void ftp_cmd_auth_done(struct ftp_sess *s, int ok);

/* ftp_worker.c: password checks and digests off the loops */
/* What a finished job gives back to its session. */
struct ftp_job_result {
	int auth;          /* 1: password check, 0: digest */
	int ok;            /* the password matched / the digest is in hex */
	int algo;          /* digest: enum hash_algo */
	uint64_t off, len; /* digest: the range */
	const char *rel;   /* digest: the file, root-relative */
	const char *hex;
};
typedef void (*ftp_worker_deliver_fn)(struct ftp_sess *s, const struct ftp_job_result *r);
/* Start / stop the worker threads (stop: after the loops, once no
 * session is left). */
void ftp_worker_start(void);
void ftp_worker_stop(void);
/* Check a user's password on the password-check threads; the result
 * comes back through ftp_worker_done.  0, or -1 (queue full). */
int ftp_auth_submit(struct ftp_sess *s, const char *user, const char *pass, size_t passlen);
/* Digest [off, off+len) of the open file fd (taken over on success) on the
 * digest threads.  0, or -1 with the reason in why (450's text): the queue
 * is full, or the client's address has PM_HASH_PER_ADDR digests already. */
int ftp_hash_submit(struct ftp_sess *s, int fd, const char *rel, uint64_t size, int64_t mtime,
                    int algo, uint64_t off, uint64_t len, char *why, size_t whysz);
/* s leaves: its job (s->hjob) is dropped from the queue, or stopped when
 * running; no result comes back. */
void ftp_worker_cancel(struct ftp_sess *s);
/* ABOR: when s waits for a digest, cancel it (as ftp_worker_cancel) and
 * return 1; 0 when its job is a password check (kept) or it has none. */
int ftp_worker_abort_digest(struct ftp_sess *s);
/* On loop l's thread: hand each finished job to deliver (when its session
 * is still there) and free it. */
void ftp_worker_done(struct ftp_loop *l, ftp_worker_deliver_fn deliver);

/* ftp_data.c */
/* MLSx facts of e restricted to the facts chosen by OPTS MLST. 0 or -1. */
int ftp_facts(struct ftp_sess *s, struct buf *out, const struct index_entry *e,
              const char *type_override);
struct ftp_data *ftp_data_get(struct ftp_sess *s);
/* Close the data set-up (listener, target, idle connection). */
void ftp_data_clear(struct ftp_sess *s);
/* Free everything; a running transfer is logged as incomplete. */
void ftp_data_free(struct ftp_sess *s);
/* 1 when PASV/EPSV/PORT/EPRT set up a channel. */
int ftp_data_has_setup(const struct ftp_sess *s);
/* Open a passive listener; the port chosen.  0, or -1 (errno). */
int ftp_data_listen(struct ftp_sess *s, unsigned *port);
/* Start a transfer whose source is filled in s->data (src, fd, ...):
 * replies 150 and runs it. */
void ftp_data_begin(struct ftp_sess *s, const char *what);
/* Progress: 1 when something happened. */
int ftp_data_run(struct ftp_sess *s);
/* ABOR. */
void ftp_data_abort(struct ftp_sess *s);
/* Timeout check (once a second). */
void ftp_data_timeouts(struct ftp_sess *s, uint64_t now);
/* STAT without argument: one line about the transfer, or nothing. */
void ftp_data_status(struct ftp_sess *s, struct buf *b);

#endif
