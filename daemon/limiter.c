/* limiter.c - connection counts, byte-rate token buckets and failed-login
 * bans, shared by every protocol.
 *
 * Layout: LIMITER_SHARDS independent open-addressing tables (linear probing,
 * backward-shift deletion), each behind its own mutex, holding
 * PM_LIMITER_IPS_MAX records in total.  An address always hashes to the same
 * shard, so one address's record is only ever touched under one lock.  The
 * global connection count is an atomic; the global byte bucket has its own
 * mutex, taken only when rate_total is set, and always after a shard lock
 * (never the other way), so there is no lock-order cycle.
 *
 * Records are not deleted when their last connection closes: a record whose
 * bucket is still refilling, whose failure window is open or whose ban runs
 * still matters.  A record that has nothing left to keep at `now` is "dead"
 * and equivalent to no record at all; lookups remove dead records they meet
 * (backward-shift deletion keeps probe chains short without tombstones).
 *
 * SECURITY: when a shard is full of live records a new address cannot be
 * tracked, so its per-address limit and bans could not be enforced;
 * limiter_conn_open refuses it with LIMITER_FULL.  Live records need open
 * connections, pending failures, a ban or a draining bucket, so filling the
 * table takes tens of thousands of distinct addresses at once.
 *
 * SECURITY: the table hash is keyed with random bytes chosen at
 * limiter_new, so a client that picks its (IPv6) addresses cannot aim them
 * all at one probe chain.
 */
#include "clock.h"
#include "limiter.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "limits.h"

#define LIMITER_SHARDS 64
#define LIMITER_SLOTS (PM_LIMITER_IPS_MAX / LIMITER_SHARDS)
#define NS_PER_SEC 1000000000ull

/* When a bucket is short, callers are told to wait until at least this
 * fraction of a second of rate exists (or what they asked for, if less), so
 * a slow flow wakes about LIMITER_WAKE_HZ times a second, not per byte.
 * 10: a 1 MB/s HTTPS download cost 0.012-0.015 CPU s per s at 50 wake-ups
 * a second (each is a resume, a read, TLS records and a suspend); bursts of
 * 1/10 s of rate are still far smoother than nginx's limit_rate. */
#define LIMITER_WAKE_HZ 10

_Static_assert(PM_LIMITER_IPS_MAX % LIMITER_SHARDS == 0, "shards divide the table");
_Static_assert((LIMITER_SLOTS & (LIMITER_SLOTS - 1)) == 0, "slots per shard: power of 2");

struct limiter_bucket {
	uint64_t tokens; /* bytes available at `last` */
	uint64_t last;   /* ns: time up to which tokens were credited */
};

struct limiter_rec {
	uint8_t key[16]; /* IPv6 address; IPv4 as v4-mapped */
	uint8_t used;
	unsigned conns;
	unsigned fails;      /* failed logins since fail_start */
	uint64_t fail_start; /* ns: first failure of the current window */
	uint64_t ban_until;  /* ns: banned while now < ban_until */
	struct limiter_bucket b;
};

struct limiter_shard {
	pthread_mutex_t mu;
	unsigned used;
	struct limiter_rec rec[LIMITER_SLOTS];
};

struct limiter {
	/* Parameters: each field read atomically; a reload may be seen
	 * half-applied by one concurrent call, which is harmless. */
	_Atomic unsigned max_clients, max_per_ip, ban_after, ban_window, ban_time;
	_Atomic uint64_t rate_per_ip, rate_total;

	atomic_uint conns;
	_Atomic uint64_t rejected_full, rejected_per_ip, rejected_banned, bans;

	uint64_t seed[2];

	pthread_mutex_t gmu; /* global bucket */
	struct limiter_bucket gb;

	struct limiter_shard *shards; /* LIMITER_SHARDS */
};

static struct limiter *_Atomic limiter_the;

/* Ban hooks: registered at start-up, called after a ban starts. */
#define LIMITER_BAN_HOOKS 8
struct limiter_hook {
	limiter_ban_hook fn;
	void *arg;
};
static struct limiter_hook limiter_hooks[LIMITER_BAN_HOOKS];
static atomic_uint limiter_nhooks;
static pthread_mutex_t limiter_hooks_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- keys and hashing ---- */

/* Normalise an address to 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d so
 * that a v4-mapped IPv6 peer and the same IPv4 peer share a record.  Any
 * other family maps to the all-zero key (one shared record). */
static void limiter_key(const struct sockaddr_storage *a, uint8_t key[16])
{
	memset(key, 0, 16);
	if (a == NULL)
		return;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
		memcpy(key, &s6->sin6_addr, 16);
	} else if (a->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
	}
}

static uint64_t limiter_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t limiter_hash(const struct limiter *l, const uint8_t key[16])
{
	uint64_t a, b;
	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return limiter_mix(limiter_mix(a ^ l->seed[0]) ^ b ^ l->seed[1]);
}

/* ---- token buckets (caller holds the bucket's lock) ---- */

/* Credit tokens for the time since b->last, capped at one second of rate.
 * 64-bit safe: the product of two u64 fits in 128 bits; credits beyond the
 * cap are never computed as u64. */
static void limiter_refill(struct limiter_bucket *b, uint64_t rate, uint64_t now)
{
	uint64_t burst = rate;
	if (b->tokens >= burst) {
		b->tokens = burst;
		b->last = now;
		return;
	}
	if (now <= b->last)
		return; /* clock did not advance (or a caller's clock is behind) */
	unsigned __int128 credit = (unsigned __int128)(now - b->last) * rate / NS_PER_SEC;
	if (credit >= burst - b->tokens) {
		b->tokens = burst;
		b->last = now;
		return;
	}
	/* Advance last only by the time those whole tokens represent, so the
	 * fractional remainder is not lost between calls (exact long-run rate). */
	b->tokens += (uint64_t)credit;
	b->last += (uint64_t)(((unsigned __int128)credit * NS_PER_SEC + rate - 1) / rate);
	if (b->last > now)
		b->last = now;
}

/* Nanoseconds from now until the bucket holds n tokens (n <= burst). */
static uint64_t limiter_wait(const struct limiter_bucket *b, uint64_t rate, uint64_t n,
                             uint64_t now)
{
	if (b->tokens >= n)
		return 0;
	unsigned __int128 need = (unsigned __int128)(n - b->tokens) * NS_PER_SEC;
	unsigned __int128 t = (need + rate - 1) / rate; /* since b->last */
	uint64_t elapsed = now > b->last ? now - b->last : 0;
	if (t <= elapsed)
		return 1;
	t -= elapsed;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/* How many tokens a short flow should wait for: what it still wants, but at
 * most 1/LIMITER_WAKE_HZ of a second of rate, at least one byte. */
static uint64_t limiter_wake_amount(uint64_t rate, uint64_t missing)
{
	uint64_t chunk = rate / LIMITER_WAKE_HZ;
	if (chunk == 0)
		chunk = 1;
	return missing < chunk ? missing : chunk;
}

/* Takes got tokens from a bucket (rate per second) that held them; when
 * that is less than want, raises *wait to the time until the bucket holds
 * the next amount worth waking for (floor when nothing was got). */
static void limiter_spend(struct limiter_bucket *b, uint64_t rate, uint64_t got, uint64_t want,
                          uint64_t floor, uint64_t now, uint64_t *wait)
{
	b->tokens -= got;
	if (got < want) {
		uint64_t n = got == 0 ? floor : limiter_wake_amount(rate, want - got);
		uint64_t w = limiter_wait(b, rate, n, now);
		if (w > *wait)
			*wait = w;
	}
}

/* ---- records (caller holds the shard lock) ---- */

static int limiter_rec_dead(const struct limiter *l, const struct limiter_rec *r, uint64_t now)
{
	if (r->conns > 0 || now < r->ban_until)
		return 0;
	if (r->fails > 0) {
		uint64_t win = (uint64_t)atomic_load(&l->ban_window) * NS_PER_SEC;
		if (now < r->fail_start || now - r->fail_start < win)
			return 0;
	}
	uint64_t rate = atomic_load(&l->rate_per_ip);
	if (rate != 0) {
		struct limiter_bucket b = r->b;
		limiter_refill(&b, rate, now);
		if (b.tokens < rate)
			return 0;
	}
	return 1;
}

/* Remove slot i (linear probing, backward-shift deletion: later members of
 * the chain move back so that no lookup ever stops early at a hole). */
static void limiter_remove(const struct limiter *l, struct limiter_shard *s, unsigned i)
{
	const unsigned mask = LIMITER_SLOTS - 1;
	unsigned j = i;
	for (;;) {
		s->rec[i].used = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!s->rec[j].used) {
				s->used--;
				return;
			}
			unsigned home = (unsigned)(limiter_hash(l, s->rec[j].key) >> 6) & mask;
			/* j may move to i when home is not cyclically in (i, j]. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		s->rec[i] = s->rec[j];
		i = j;
	}
}

static void limiter_rec_init(struct limiter *l, struct limiter_rec *r, const uint8_t key[16],
                             uint64_t now)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->key, key, 16);
	r->used = 1;
	r->b.tokens = atomic_load(&l->rate_per_ip);
	r->b.last = now;
}

/* Find the record for key, creating it when create is set.  Dead records
 * met on the way are removed; now == 0 means "no clock" (calls without a
 * time): nothing is judged dead then.  NULL when absent (or shard full). */
static struct limiter_rec *limiter_find(struct limiter *l, struct limiter_shard *s, uint64_t h,
                                        const uint8_t key[16], uint64_t now, int create)
{
	const unsigned mask = LIMITER_SLOTS - 1;
	unsigned i = (unsigned)(h >> 6) & mask;
	/* Each step either advances or removes a record: bounded. */
	for (unsigned steps = 0; steps < 2 * LIMITER_SLOTS; steps++) {
		struct limiter_rec *r = &s->rec[i];
		if (!r->used) {
			if (!create)
				return NULL;
			if (s->used >= LIMITER_SLOTS - 1)
				return NULL; /* keep one hole so probes terminate */
			limiter_rec_init(l, r, key, now);
			s->used++;
			return r;
		}
		if (memcmp(r->key, key, 16) == 0) {
			if (now != 0 && limiter_rec_dead(l, r, now))
				limiter_rec_init(l, r, key, now); /* same as fresh */
			return r;
		}
		if (now != 0 && limiter_rec_dead(l, r, now)) {
			limiter_remove(l, s, i);
			continue; /* slot i now holds the next chain member, or a hole */
		}
		i = (i + 1) & mask;
	}
	return NULL;
}

/* SECURITY: bans group an IPv6 address with its /64 (one host or one
 * customer line routinely owns a whole /64, 2^64 addresses): the ban and
 * failure counts live in the record of the prefix with its interface bits
 * zeroed.  IPv4 (and v4-mapped) addresses are their own group. */
static void limiter_ban_key(uint8_t key[16])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(key, v4mapped, 12) != 0)
		memset(key + 8, 0, 8);
}

enum limiter_by { LIMITER_BY_ADDR, LIMITER_BY_BAN_GROUP };

/* The prologue of every per-address operation: locks the shard of the
 * record of addr (or of its ban group, limiter_ban_key) into *sp, then
 * finds the record (create: makes it); NULL if there is none.  The caller
 * unlocks (*sp)->mu. */
static struct limiter_rec *limiter_get(struct limiter *l, const struct sockaddr_storage *addr,
                                       enum limiter_by by, uint64_t now_ns, int create,
                                       struct limiter_shard **sp)
{
	uint8_t key[16];
	limiter_key(addr, key);
	if (by == LIMITER_BY_BAN_GROUP)
		limiter_ban_key(key);
	uint64_t h = limiter_hash(l, key);
	struct limiter_shard *s = &l->shards[h % LIMITER_SHARDS];
	pthread_mutex_lock(&s->mu);
	*sp = s;
	return limiter_find(l, s, h, key, now_ns, create);
}

/* ---- public interface ---- */

void limiter_set_params(struct limiter *l, const struct limiter_params *p)
{
	atomic_store(&l->max_clients, p->max_clients);
	atomic_store(&l->max_per_ip, p->max_per_ip);
	atomic_store(&l->ban_after, p->ban_after);
	atomic_store(&l->ban_window, p->ban_window);
	atomic_store(&l->ban_time, p->ban_time);
	atomic_store(&l->rate_per_ip, p->rate_per_ip);
	atomic_store(&l->rate_total, p->rate_total);
}

struct limiter *limiter_new(const struct limiter_params *p)
{
	struct limiter *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->shards = calloc(LIMITER_SHARDS, sizeof(*l->shards));
	if (l->shards == NULL)
		goto fail;
	if (getrandom(l->seed, sizeof(l->seed), 0) != (ssize_t)sizeof(l->seed)) {
		/* Not a secret that matters much; fall back to the clock. */
		l->seed[0] = limiter_mix(clock_now_ns());
		l->seed[1] = limiter_mix(l->seed[0] ^ (uintptr_t)l);
	}
	pthread_mutex_init(&l->gmu, NULL);
	for (unsigned i = 0; i < LIMITER_SHARDS; i++)
		pthread_mutex_init(&l->shards[i].mu, NULL);
	limiter_set_params(l, p);
	l->gb.tokens = p->rate_total;
	l->gb.last = clock_now_ns();
	return l;
fail:
	free(l);
	return NULL;
}

void limiter_free(struct limiter *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < LIMITER_SHARDS; i++)
		pthread_mutex_destroy(&l->shards[i].mu);
	pthread_mutex_destroy(&l->gmu);
	free(l->shards);
	free(l);
}

struct limiter *limiter_global(void)
{
	return atomic_load(&limiter_the);
}

void limiter_set_global(struct limiter *l)
{
	atomic_store(&limiter_the, l);
}

enum limiter_verdict limiter_conn_open(struct limiter *l, const struct sockaddr_storage *addr,
                                       uint64_t now_ns)
{
	enum limiter_verdict v = LIMITER_OK;
	if (limiter_is_banned(l, addr, now_ns)) {
		atomic_fetch_add(&l->rejected_banned, 1);
		return LIMITER_BANNED;
	}
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_ADDR, now_ns, 1, &s);
	if (r == NULL) {
		v = LIMITER_FULL; /* untrackable: see SECURITY note at the top */
		atomic_fetch_add(&l->rejected_full, 1);
		goto out;
	}
	unsigned per_ip = atomic_load(&l->max_per_ip);
	if (per_ip != 0 && r->conns >= per_ip) {
		v = LIMITER_PER_IP;
		atomic_fetch_add(&l->rejected_per_ip, 1);
		goto out;
	}
	unsigned max = atomic_load(&l->max_clients);
	unsigned cur = atomic_load(&l->conns);
	do {
		if (max != 0 && cur >= max) {
			v = LIMITER_FULL;
			atomic_fetch_add(&l->rejected_full, 1);
			goto out;
		}
	} while (!atomic_compare_exchange_weak(&l->conns, &cur, cur + 1));
	r->conns++;
out:
	pthread_mutex_unlock(&s->mu);
	return v;
}

void limiter_conn_close(struct limiter *l, const struct sockaddr_storage *addr)
{
	struct limiter_shard *s;
	/* now = 0: no time-based removal here (no clock passed in); a record
	 * with connections is never dead anyway. */
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_ADDR, 0, 0, &s);
	if (r != NULL && r->conns > 0) {
		r->conns--;
		atomic_fetch_sub(&l->conns, 1);
	}
	pthread_mutex_unlock(&s->mu);
}

enum limiter_verdict limiter_conn_check(struct limiter *l, const struct sockaddr_storage *addr,
                                        uint64_t now_ns)
{
	enum limiter_verdict v = LIMITER_OK;
	if (limiter_is_banned(l, addr, now_ns))
		return LIMITER_BANNED;
	unsigned max = atomic_load(&l->max_clients), per_ip = atomic_load(&l->max_per_ip);
	if (max != 0 && atomic_load(&l->conns) >= max)
		return LIMITER_FULL;
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_ADDR, now_ns, 0, &s);
	if (r != NULL && per_ip != 0 && r->conns >= per_ip)
		v = LIMITER_PER_IP;
	pthread_mutex_unlock(&s->mu);
	return v;
}

unsigned limiter_conn_count(struct limiter *l, const struct sockaddr_storage *addr)
{
	if (addr == NULL)
		return atomic_load(&l->conns);
	unsigned n = 0;
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_ADDR, 0, 0, &s);
	if (r != NULL)
		n = r->conns;
	pthread_mutex_unlock(&s->mu);
	return n;
}

uint64_t limiter_take(struct limiter *l, const struct sockaddr_storage *addr, uint64_t want,
                      uint64_t now_ns, uint64_t *wait_ns)
{
	uint64_t rate_ip = atomic_load(&l->rate_per_ip);
	uint64_t rate_all = atomic_load(&l->rate_total);
	uint64_t got = want, wait = 0, floor = 0;

	if (wait_ns != NULL)
		*wait_ns = 0;
	if (want == 0 || (rate_ip == 0 && rate_all == 0))
		return want;

	struct limiter_shard *s = NULL;
	struct limiter_rec *r = NULL;
	if (rate_ip != 0) {
		/* A counted connection always has a record; an address that
		 * cannot be tracked (full table) is held to the global rate
		 * only — it could not have opened a counted connection. */
		r = limiter_get(l, addr, LIMITER_BY_ADDR, now_ns, 1, &s);
		if (r != NULL) {
			limiter_refill(&r->b, rate_ip, now_ns);
			if (r->b.tokens < got)
				got = r->b.tokens;
			floor = limiter_wake_amount(rate_ip, want);
		}
	}
	if (rate_all != 0) {
		pthread_mutex_lock(&l->gmu);
		limiter_refill(&l->gb, rate_all, now_ns);
		if (l->gb.tokens < got)
			got = l->gb.tokens;
		uint64_t f = limiter_wake_amount(rate_all, want);
		if (f > floor)
			floor = f;
	}
	/* Never hand out a sliver: a caller woken early (a writable socket)
	 * would otherwise send a few bytes per wake-up, tens of thousands of
	 * system calls a second for a throttled transfer.  Below the floor
	 * (1/LIMITER_WAKE_HZ of a second of rate, or all that is wanted) the
	 * answer is "nothing yet, wait this long". */
	if (got < floor)
		got = 0;
	if (rate_all != 0) {
		limiter_spend(&l->gb, rate_all, got, want, floor, now_ns, &wait);
		pthread_mutex_unlock(&l->gmu);
	}
	if (r != NULL)
		limiter_spend(&r->b, rate_ip, got, want, floor, now_ns, &wait);
	if (s != NULL)
		pthread_mutex_unlock(&s->mu);
	if (got < want && wait == 0)
		wait = 1; /* the other bucket was short; never report "now" */
	if (wait_ns != NULL && got < want)
		*wait_ns = wait;
	return got;
}

int limiter_auth_fail(struct limiter *l, const struct sockaddr_storage *addr, uint64_t now_ns)
{
	unsigned after = atomic_load(&l->ban_after);
	if (after == 0)
		return 0;
	uint64_t win = (uint64_t)atomic_load(&l->ban_window) * NS_PER_SEC;
	uint64_t len = (uint64_t)atomic_load(&l->ban_time) * NS_PER_SEC;
	int banned = 0;
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_BAN_GROUP, now_ns, 1, &s);
	if (r == NULL)
		goto out; /* untrackable; such an address cannot hold a connection */
	/* A fixed window opened by the first failure: after failures spread
	 * wider than ban_window nothing is banned; ban_after inside one is. */
	if (r->fails == 0 || now_ns < r->fail_start || now_ns - r->fail_start >= win) {
		r->fails = 0;
		r->fail_start = now_ns;
	}
	r->fails++;
	if (r->fails >= after) {
		r->fails = 0;
		r->ban_until = now_ns > UINT64_MAX - len ? UINT64_MAX : now_ns + len;
		atomic_fetch_add(&l->bans, 1);
		banned = 1;
	}
out:
	pthread_mutex_unlock(&s->mu);
	if (banned) {
		/* Outside the shard lock: hooks walk their sessions and call
		 * limiter_is_banned. */
		unsigned n = atomic_load(&limiter_nhooks);
		for (unsigned i = 0; i < n && i < LIMITER_BAN_HOOKS; i++)
			limiter_hooks[i].fn(limiter_hooks[i].arg, addr);
	}
	return banned;
}

int limiter_add_ban_hook(limiter_ban_hook fn, void *arg)
{
	int rc = -1;
	pthread_mutex_lock(&limiter_hooks_mu);
	unsigned n = atomic_load(&limiter_nhooks);
	if (n < LIMITER_BAN_HOOKS) {
		limiter_hooks[n].fn = fn;
		limiter_hooks[n].arg = arg;
		atomic_store(&limiter_nhooks, n + 1); /* published after the entry */
		rc = 0;
	}
	pthread_mutex_unlock(&limiter_hooks_mu);
	return rc;
}

void limiter_auth_ok(struct limiter *l, const struct sockaddr_storage *addr)
{
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_BAN_GROUP, 0, 0, &s);
	if (r != NULL)
		r->fails = 0; /* an active ban stays */
	pthread_mutex_unlock(&s->mu);
}

int limiter_is_banned(struct limiter *l, const struct sockaddr_storage *addr, uint64_t now_ns)
{
	int banned = 0;
	struct limiter_shard *s;
	struct limiter_rec *r = limiter_get(l, addr, LIMITER_BY_BAN_GROUP, now_ns, 0, &s);
	if (r != NULL && now_ns < r->ban_until)
		banned = 1;
	pthread_mutex_unlock(&s->mu);
	return banned;
}

void limiter_stats(struct limiter *l, struct limiter_stats *out)
{
	out->rejected_full = atomic_load(&l->rejected_full);
	out->rejected_per_ip = atomic_load(&l->rejected_per_ip);
	out->rejected_banned = atomic_load(&l->rejected_banned);
	out->bans = atomic_load(&l->bans);
	out->conns = atomic_load(&l->conns);
}
