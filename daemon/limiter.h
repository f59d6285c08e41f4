/* limiter.h - connection counts, byte-rate token buckets and failed-login
 * bans, shared by every protocol so that a client is one client whichever
 * protocol it uses.
 *
 * Pure logic with an injected clock (every call that depends on time takes
 * `now_ns`, a CLOCK_MONOTONIC reading in nanoseconds); thread-safe.
 */
#ifndef PUBMIRROR_LIMITER_H
#define PUBMIRROR_LIMITER_H

#include <stdint.h>
#include <sys/socket.h>

struct limiter;

struct limiter_params {
	unsigned max_clients; /* connections, all protocols; 0 = unlimited */
	unsigned max_per_ip;  /* connections per address; 0 = unlimited */
	uint64_t rate_per_ip; /* bytes/s per address; 0 = unlimited */
	uint64_t rate_total;  /* bytes/s in total; 0 = unlimited */
	unsigned ban_after;   /* failed logins ... 0 = never ban */
	unsigned ban_window;  /* ... within this many seconds ... */
	unsigned ban_time;    /* ... ban for this many seconds */
};

enum limiter_verdict {
	LIMITER_OK = 0,
	LIMITER_FULL,   /* max_clients reached, or the address table is full of
	                 * live records (an untracked address could not be
	                 * held to max_per_ip or bans, so it is refused) */
	LIMITER_PER_IP, /* max_per_ip reached for this address */
	LIMITER_BANNED, /* address banned after failed logins */
};

/* Create / destroy an instance (tests make their own). */
struct limiter *limiter_new(const struct limiter_params *p);
void limiter_free(struct limiter *l);
/* Change parameters (SIGHUP); counts, buckets and bans are kept. */
void limiter_set_params(struct limiter *l, const struct limiter_params *p);

/* The daemon's instance (set once at start-up). */
struct limiter *limiter_global(void);
void limiter_set_global(struct limiter *l);

/* A new connection from addr: LIMITER_OK counts it (pair with
 * limiter_conn_close), anything else does not. */
enum limiter_verdict limiter_conn_open(struct limiter *l, const struct sockaddr_storage *addr,
                                       uint64_t now_ns);
void limiter_conn_close(struct limiter *l, const struct sockaddr_storage *addr);
/* The verdict limiter_conn_open would give now, counting nothing: for an
 * accept-time filter that drops a connection before it costs anything.
 * Advisory (another thread may change it before limiter_conn_open, which
 * stays the one that decides). */
enum limiter_verdict limiter_conn_check(struct limiter *l, const struct sockaddr_storage *addr,
                                        uint64_t now_ns);
/* Connections currently counted (all, and for addr). */
unsigned limiter_conn_count(struct limiter *l, const struct sockaddr_storage *addr);

/* Byte budget: ask to send up to want bytes for addr.  Returns how many may
 * be sent now (0..want; want when unlimited).  When it returns less than
 * want, *wait_ns (if not NULL) is how long until more tokens exist; callers
 * sleep/suspend that long rather than poll.  Buckets hold at most one
 * second of rate (the burst cap). */
uint64_t limiter_take(struct limiter *l, const struct sockaddr_storage *addr, uint64_t want,
                      uint64_t now_ns, uint64_t *wait_ns);

/* Failed and successful logins.  limiter_auth_fail returns 1 when this
 * failure banned the address.  SECURITY: failures and bans count per
 * IPv4 address and per IPv6 /64 (limiter_is_banned answers for every
 * address of a banned /64). */
int limiter_auth_fail(struct limiter *l, const struct sockaddr_storage *addr, uint64_t now_ns);
void limiter_auth_ok(struct limiter *l, const struct sockaddr_storage *addr);
int limiter_is_banned(struct limiter *l, const struct sockaddr_storage *addr, uint64_t now_ns);

/* Ban hooks: fn(arg, addr) runs after each new ban (on the thread whose
 * failed login caused it, outside the limiter's locks) so that every
 * protocol ends the sessions the banned address already has: it should
 * look at its open connections and close those for which
 * limiter_is_banned is now true (which covers a /64 as a whole).  Register
 * at start-up, before connections are served; at most 8 hooks, never
 * removed.  0, or -1 when the table is full. */
typedef void (*limiter_ban_hook)(void *arg, const struct sockaddr_storage *addr);
int limiter_add_ban_hook(limiter_ban_hook fn, void *arg);

/* Counters for metrics. */
struct limiter_stats {
	uint64_t rejected_full, rejected_per_ip, rejected_banned, bans;
	unsigned conns;
};
void limiter_stats(struct limiter *l, struct limiter_stats *out);

#endif
