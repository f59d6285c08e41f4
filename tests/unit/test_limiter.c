/* test_limiter.c - the limiter with a fake clock: connection limits, token
 * buckets, bans, address normalisation, 64-bit edges and threads. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "limiter.h"
#include "limits.h"
#include "unit.h"

#define SEC 1000000000ull
#define T0 (1000 * SEC) /* fake clock start: not 0 ("no clock") */

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	if (strchr(s, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, s, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, s, &s4->sin_addr);
	}
	return a;
}

static struct limiter *mk(unsigned max_clients, unsigned max_per_ip, uint64_t rate_ip,
                          uint64_t rate_total)
{
	struct limiter_params p = {
	    .max_clients = max_clients,
	    .max_per_ip = max_per_ip,
	    .rate_per_ip = rate_ip,
	    .rate_total = rate_total,
	    .ban_after = 3,
	    .ban_window = 60,
	    .ban_time = 600,
	};
	return limiter_new(&p);
}

/* ---- connection counts, table-driven ---- */

struct conn_case {
	const char *what;
	unsigned max_clients, max_per_ip;
	const char *addrs[8]; /* opened in order */
	enum limiter_verdict expect[8];
};

static const struct conn_case conn_cases[] = {
    {"max_clients 2 over three addresses",
     2,
     0,
     {"10.0.0.1", "10.0.0.2", "10.0.0.3"},
     {LIMITER_OK, LIMITER_OK, LIMITER_FULL}},
    {"max_per_ip 2 from one address",
     0,
     2,
     {"10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"},
     {LIMITER_OK, LIMITER_OK, LIMITER_PER_IP, LIMITER_OK}},
    {"per_ip applies before max_clients",
     3,
     1,
     {"10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"},
     {LIMITER_OK, LIMITER_PER_IP, LIMITER_OK, LIMITER_OK, LIMITER_FULL}},
    {"IPv4 and v4-mapped IPv6 are one address",
     0,
     2,
     {"192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7"},
     {LIMITER_OK, LIMITER_OK, LIMITER_PER_IP}},
    {"IPv6 addresses are distinct",
     0,
     1,
     {"2001:db8::1", "2001:db8::2", "2001:db8::1"},
     {LIMITER_OK, LIMITER_OK, LIMITER_PER_IP}},
    {"0 means unlimited",
     0,
     0,
     {"10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1"},
     {LIMITER_OK, LIMITER_OK, LIMITER_OK, LIMITER_OK}},
};

static void test_conn_cases(void)
{
	for (size_t c = 0; c < sizeof(conn_cases) / sizeof(conn_cases[0]); c++) {
		const struct conn_case *tc = &conn_cases[c];
		struct limiter *l = mk(tc->max_clients, tc->max_per_ip, 0, 0);
		unsigned opened = 0;
		char what[200];
		for (int i = 0; i < 8 && tc->addrs[i] != NULL; i++) {
			struct sockaddr_storage a = addr(tc->addrs[i]);
			enum limiter_verdict v = limiter_conn_open(l, &a, T0);
			snprintf(what, sizeof(what), "%s: open #%d (%s)", tc->what, i + 1,
			         tc->addrs[i]);
			CHECK_INT(what, tc->expect[i], v);
			if (v == LIMITER_OK)
				opened++;
		}
		snprintf(what, sizeof(what), "%s: count", tc->what);
		CHECK_INT(what, opened, limiter_conn_count(l, NULL));
		for (int i = 0; i < 8 && tc->addrs[i] != NULL; i++) {
			if (tc->expect[i] != LIMITER_OK)
				continue;
			struct sockaddr_storage a = addr(tc->addrs[i]);
			limiter_conn_close(l, &a);
		}
		snprintf(what, sizeof(what), "%s: all closed", tc->what);
		CHECK_INT(what, 0, limiter_conn_count(l, NULL));
		limiter_free(l);
	}
}

static void test_close_frees_slot(void)
{
	struct limiter *l = mk(1, 1, 0, 0);
	struct sockaddr_storage a = addr("10.1.1.1"), b = addr("10.1.1.2");
	CHECK_INT("first connection", LIMITER_OK, limiter_conn_open(l, &a, T0));
	CHECK_INT("second refused (full)", LIMITER_FULL, limiter_conn_open(l, &b, T0));
	CHECK_INT("per-address count", 1, limiter_conn_count(l, &a));
	limiter_conn_close(l, &a);
	CHECK_INT("per-address count after close", 0, limiter_conn_count(l, &a));
	CHECK_INT("slot free after close", LIMITER_OK, limiter_conn_open(l, &b, T0 + 1));
	limiter_conn_close(l, &b);
	limiter_conn_close(l, &b); /* extra close must not underflow */
	CHECK_INT("extra close keeps 0", 0, limiter_conn_count(l, NULL));
	struct limiter_stats st;
	limiter_stats(l, &st);
	CHECK_INT("stats: rejected_full", 1, st.rejected_full);
	CHECK_INT("stats: conns", 0, st.conns);
	limiter_free(l);
}

/* ---- token buckets ---- */

/* Send as fast as allowed for `secs` simulated seconds from the flows'
 * addresses, in chunks of `chunk`: each flow sleeps as told and then asks
 * again; of the flows that are due, the one served longest ago goes first
 * (as woken waiters race for the tokens). */
static uint64_t pump(struct limiter *l, const struct sockaddr_storage *addrs, int naddrs,
                     uint64_t chunk, uint64_t start, uint64_t secs, uint64_t *per_flow,
                     int *max_wait_ok)
{
	uint64_t end = start + secs * SEC, total = 0;
	uint64_t due[3] = {start, start, start}, served[3] = {0, 0, 0};
	*max_wait_ok = 1;
	for (unsigned steps = 0; steps < 10000000; steps++) {
		int i = 0;
		for (int k = 1; k < naddrs; k++)
			if (due[k] < due[i] || (due[k] == due[i] && served[k] < served[i]))
				i = k;
		uint64_t now = due[i];
		if (now >= end)
			break;
		uint64_t wait = 0;
		uint64_t got = limiter_take(l, &addrs[i], chunk, now, &wait);
		if (got > chunk)
			*max_wait_ok = 0;
		total += got;
		if (per_flow != NULL)
			per_flow[i] += got;
		served[i] = steps + 1;
		if (got < chunk) {
			if (wait == 0 || wait > 2 * SEC)
				*max_wait_ok = 0;
			due[i] = now + wait;
		}
	}
	return total;
}

struct rate_case {
	const char *what;
	uint64_t rate_ip, rate_total, chunk, secs;
	int naddrs;
	const char *addrs[3];
};

static const struct rate_case rate_cases[] = {
    {"1 MB/s per IP for 10 s", 1000000, 0, 65536, 10, 1, {"10.2.0.1"}},
    {"1 MB/s per IP, small chunks", 1000000, 0, 1000, 10, 1, {"10.2.0.1"}},
    {"1 MB/s total for 10 s", 0, 1000000, 65536, 10, 1, {"10.2.0.1"}},
    {"3 KB/s odd rate, 7 s", 3001, 0, 512, 7, 1, {"10.2.0.1"}},
    {"global cap across three addresses",
     10000000,
     1000000,
     65536,
     10,
     3,
     {"10.2.0.1", "10.2.0.2", "2001:db8::9"}},
    {"two flows of one address share its rate",
     1000000,
     0,
     65536,
     10,
     2,
     {"10.2.0.5", "::ffff:10.2.0.5"}},
};

static void test_rates(void)
{
	for (size_t c = 0; c < sizeof(rate_cases) / sizeof(rate_cases[0]); c++) {
		const struct rate_case *tc = &rate_cases[c];
		struct limiter *l = mk(0, 0, tc->rate_ip, tc->rate_total);
		struct sockaddr_storage as[3];
		for (int i = 0; i < tc->naddrs; i++)
			as[i] = addr(tc->addrs[i]);
		uint64_t rate = tc->rate_total != 0 ? tc->rate_total : tc->rate_ip;
		if (tc->rate_ip != 0 && tc->rate_ip < rate)
			rate = tc->rate_ip;
		uint64_t flows[3] = {0, 0, 0};
		int ok;
		uint64_t total = pump(l, as, tc->naddrs, tc->chunk, T0, tc->secs, flows, &ok);
		/* The bucket starts full: one burst (one second of rate) on top
		 * of rate * secs, give or take one chunk. */
		uint64_t expect = rate * tc->secs + rate;
		char what[200];
		snprintf(what, sizeof(what),
		         "%s: %" PRIu64 " bytes, expected %" PRIu64 " +- %" PRIu64, tc->what, total,
		         expect, tc->chunk);
		CHECK(what, total + tc->chunk >= expect && total <= expect + tc->chunk);
		snprintf(what, sizeof(what), "%s: waits are positive and bounded", tc->what);
		CHECK(what, ok);
		if (tc->naddrs == 2) {
			/* round robin: neither flow gets much more than half */
			snprintf(what, sizeof(what), "%s: flows %" PRIu64 " / %" PRIu64, tc->what,
			         flows[0], flows[1]);
			CHECK(what, flows[0] > total / 3 && flows[1] > total / 3);
		}
		limiter_free(l);
	}
}

static void test_burst_cap(void)
{
	struct limiter *l = mk(0, 0, 1000, 0);
	struct sockaddr_storage a = addr("10.3.0.1");
	uint64_t wait = 0;
	CHECK_INT("fresh bucket holds one second", 1000, limiter_take(l, &a, 1000000, T0, &wait));
	CHECK("wait reported when short", wait > 0 && wait <= SEC);
	/* Idle for an hour: still only one second of rate. */
	CHECK_INT("burst cap after long idle", 1000,
	          limiter_take(l, &a, 1000000, T0 + 3600 * SEC, &wait));
	CHECK_INT("empty right after", 0, limiter_take(l, &a, 1, T0 + 3600 * SEC, &wait));
	/* 1 byte takes 1 ms at 1000 B/s. */
	CHECK_INT("wait for one byte is 1 ms", 1000000, wait);
	CHECK_INT("that byte is there after the wait", 1,
	          limiter_take(l, &a, 1, T0 + 3600 * SEC + wait, NULL));
	/* Asking for much: wait for 1/10 s of rate (100 bytes), not all of it. */
	limiter_take(l, &a, 1000000, T0 + 3600 * SEC + wait, &wait);
	CHECK_INT("wait for a large want is 100 ms", 100000000, wait);
	limiter_free(l);

	/* No slivers: at 1 MB/s a large want is served in pieces of at least
	 * 1/10 s of rate (100,000 bytes), never the few bytes that trickled in
	 * since the last call, so a throttled transfer wakes ~10 times a
	 * second instead of once per system call. */
	l = mk(0, 0, 1000000, 0);
	limiter_take(l, &a, 1ull << 30, T0, &wait); /* drain the burst */
	CHECK_INT("1 ms later: nothing (1,000 bytes is a sliver)", 0,
	          limiter_take(l, &a, 1ull << 30, T0 + SEC / 1000, &wait));
	CHECK_INT("told to wait until 100,000 bytes are there", 99000000, wait);
	CHECK_INT("after the wait: the whole piece", 100000,
	          limiter_take(l, &a, 1ull << 30, T0 + SEC / 1000 + wait, &wait));
	CHECK_INT("a small want is not held back", 10,
	          limiter_take(l, &a, 10, T0 + SEC / 1000 + 100000000 + SEC / 100000, NULL));
	limiter_free(l);

	/* The same floor for the global bucket. */
	l = mk(0, 0, 0, 1000000);
	limiter_take(l, &a, 1ull << 30, T0, &wait);
	CHECK_INT("global: 1 ms later nothing", 0,
	          limiter_take(l, &a, 1ull << 30, T0 + SEC / 1000, &wait));
	CHECK_INT("global: wait for the piece", 99000000, wait);
	limiter_free(l);

	l = mk(0, 0, 0, 0);
	wait = 7;
	CHECK_INT("unlimited: all of want", 1ull << 40, limiter_take(l, &a, 1ull << 40, T0, &wait));
	CHECK_INT("unlimited: no wait", 0, wait);
	limiter_free(l);
}

static void test_overflow(void)
{
	const uint64_t big = 1ull << 62;
	const uint64_t late = (1ull << 63) - 5 * SEC;
	struct limiter *l = mk(0, 0, big, big);
	struct sockaddr_storage a = addr("10.4.0.1");
	uint64_t wait = 0;
	CHECK_INT("rate 2^62: first take gets the burst", big,
	          limiter_take(l, &a, UINT64_MAX, late, &wait));
	CHECK("rate 2^62: short, tiny wait", wait >= 1 && wait <= SEC);
	CHECK_INT("rate 2^62: one second later, one second of rate", big,
	          limiter_take(l, &a, UINT64_MAX, late + SEC, &wait));
	CHECK_INT("rate 2^62: half a second later, half", big / 2,
	          limiter_take(l, &a, UINT64_MAX, late + SEC + SEC / 2, &wait));
	CHECK_INT("now near 2^64 after huge idle gap", big,
	          limiter_take(l, &a, UINT64_MAX, UINT64_MAX - 1, &wait));
	CHECK_INT("clock going backwards gives nothing new", 0,
	          limiter_take(l, &a, 10, late, &wait));
	limiter_free(l);

	/* Slow rate, huge now: the wait must not overflow. */
	l = mk(0, 0, 1, 0);
	CHECK_INT("rate 1 B/s: one byte", 1, limiter_take(l, &a, 5, late, &wait));
	CHECK_INT("rate 1 B/s: wait one second", SEC, wait);
	limiter_free(l);

	/* Bans near the end of time saturate instead of wrapping. */
	struct limiter_params p = {.ban_after = 1, .ban_window = 10, .ban_time = 4000000000u};
	l = limiter_new(&p);
	CHECK_INT("ban near 2^64 is a ban", 1, limiter_auth_fail(l, &a, UINT64_MAX - SEC));
	CHECK_INT("still banned at the end of time", 1, limiter_is_banned(l, &a, UINT64_MAX - 1));
	limiter_free(l);
}

/* ---- bans ---- */

struct ban_case {
	const char *what;
	uint64_t fail_at[5]; /* seconds after T0; list ends at 0 after the first */
	int banned_after;    /* index of the failure that bans, -1: none */
};

static const struct ban_case ban_cases[] = {
    /* ban_after 3, window 60 s */
    {"3 failures in 2 s ban", {0, 1, 2}, 2},
    {"3 failures in 59 s ban", {1, 30, 59}, 2},
    {"3 failures over 61 s do not", {1, 30, 62}, -1},
    {"spread out: window restarts", {1, 70, 140, 210}, -1},
    {"window restarts then bans", {1, 70, 71, 72}, 3},
};

static void test_bans(void)
{
	for (size_t c = 0; c < sizeof(ban_cases) / sizeof(ban_cases[0]); c++) {
		const struct ban_case *tc = &ban_cases[c];
		struct limiter *l = mk(0, 0, 0, 0);
		struct sockaddr_storage a = addr("10.5.0.1");
		int banned_at = -1;
		for (int i = 0; i < 5; i++) {
			if (i > 0 && tc->fail_at[i] == 0)
				break;
			if (limiter_auth_fail(l, &a, T0 + tc->fail_at[i] * SEC) && banned_at < 0)
				banned_at = i;
		}
		CHECK_INT(tc->what, tc->banned_after, banned_at);
		limiter_free(l);
	}

	struct limiter *l = mk(0, 0, 0, 0);
	struct sockaddr_storage a = addr("10.5.0.2"), a6 = addr("::ffff:10.5.0.2");
	struct sockaddr_storage other = addr("10.5.0.3");
	limiter_auth_fail(l, &a, T0);
	limiter_auth_fail(l, &a6, T0 + SEC);
	CHECK_INT("v4 and mapped v6 failures add up", 1, limiter_auth_fail(l, &a, T0 + 2 * SEC));
	CHECK_INT("banned address refused", LIMITER_BANNED,
	          limiter_conn_open(l, &a6, T0 + 3 * SEC));
	CHECK_INT("other address fine", LIMITER_OK, limiter_conn_open(l, &other, T0 + 3 * SEC));
	limiter_auth_ok(l, &a);
	CHECK_INT("auth_ok does not lift a ban", 1, limiter_is_banned(l, &a, T0 + 4 * SEC));
	CHECK_INT("still banned just before expiry", 1,
	          limiter_is_banned(l, &a, T0 + 2 * SEC + 600 * SEC - 1));
	CHECK_INT("ban expires", 0, limiter_is_banned(l, &a, T0 + 2 * SEC + 600 * SEC));
	CHECK_INT("connect after expiry", LIMITER_OK,
	          limiter_conn_open(l, &a, T0 + 2 * SEC + 600 * SEC));
	struct limiter_stats st;
	limiter_stats(l, &st);
	CHECK_INT("stats: bans", 1, st.bans);
	CHECK_INT("stats: rejected_banned", 1, st.rejected_banned);
	CHECK_INT("stats: conns", 2, st.conns);

	/* auth_ok clears the failure count. */
	struct sockaddr_storage b = addr("2001:db8::77");
	uint64_t t = T0 + 1000 * SEC;
	limiter_auth_fail(l, &b, t);
	limiter_auth_fail(l, &b, t + 1);
	limiter_auth_ok(l, &b);
	CHECK_INT("after auth_ok two more failures do not ban", 0,
	          limiter_auth_fail(l, &b, t + 2) + limiter_auth_fail(l, &b, t + 3));
	CHECK_INT("the third does", 1, limiter_auth_fail(l, &b, t + 4));

	/* set_params keeps counts and bans. */
	struct limiter_params p = {
	    .max_clients = 10, .max_per_ip = 1, .ban_after = 5, .ban_window = 10, .ban_time = 10};
	limiter_set_params(l, &p);
	CHECK_INT("set_params keeps the count", 2, limiter_conn_count(l, NULL));
	CHECK_INT("set_params keeps per-address counts (max_per_ip 1 now)", LIMITER_PER_IP,
	          limiter_conn_open(l, &other, t + 5));
	CHECK_INT("set_params keeps the ban", 1, limiter_is_banned(l, &b, t + 6));
	limiter_free(l);

	struct limiter_params never = {.ban_after = 0, .ban_window = 60, .ban_time = 60};
	l = limiter_new(&never);
	int any = 0;
	for (int i = 0; i < 100; i++)
		any |= limiter_auth_fail(l, &a, T0 + (uint64_t)i);
	CHECK_INT("ban_after 0 never bans", 0, any);
	limiter_free(l);
}

/* ---- many addresses: records are recycled, full table refuses ---- */

static struct sockaddr_storage addr_n(unsigned n)
{
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
	s6->sin6_family = AF_INET6;
	s6->sin6_addr.s6_addr[0] = 0x20;
	s6->sin6_addr.s6_addr[1] = 0x01;
	s6->sin6_addr.s6_addr[12] = (uint8_t)(n >> 24);
	s6->sin6_addr.s6_addr[13] = (uint8_t)(n >> 16);
	s6->sin6_addr.s6_addr[14] = (uint8_t)(n >> 8);
	s6->sin6_addr.s6_addr[15] = (uint8_t)n;
	return a;
}

static void test_table(void)
{
	struct limiter *l = mk(0, 1, 0, 0);
	/* Open and close 4x the table's worth of addresses: recycled. */
	int bad = 0;
	for (unsigned n = 0; n < 4 * PM_LIMITER_IPS_MAX; n++) {
		struct sockaddr_storage a = addr_n(n);
		if (limiter_conn_open(l, &a, T0 + n) != LIMITER_OK)
			bad++;
		limiter_conn_close(l, &a);
	}
	CHECK_INT("closed records are recycled", 0, bad);

	/* Hold connections from many addresses until the table refuses. */
	unsigned held = 0;
	enum limiter_verdict v = LIMITER_OK;
	for (unsigned n = 0; n < 2 * PM_LIMITER_IPS_MAX; n++) {
		struct sockaddr_storage a = addr_n(n);
		v = limiter_conn_open(l, &a, T0 + SEC);
		if (v != LIMITER_OK)
			break;
		held++;
	}
	CHECK_INT("full table refuses new addresses with LIMITER_FULL", LIMITER_FULL, v);
	CHECK("full table held most of its capacity",
	      held > PM_LIMITER_IPS_MAX / 2 && held <= PM_LIMITER_IPS_MAX);
	printf("# table filled after %u addresses (capacity %u)\n", held, PM_LIMITER_IPS_MAX);
	struct sockaddr_storage a0 = addr_n(0);
	CHECK_INT("tracked address still limited per IP", LIMITER_PER_IP,
	          limiter_conn_open(l, &a0, T0 + SEC));
	for (unsigned n = 0; n < held; n++) {
		struct sockaddr_storage a = addr_n(n);
		limiter_conn_close(l, &a);
	}
	CHECK_INT("all released", 0, limiter_conn_count(l, NULL));
	struct sockaddr_storage fresh = addr_n(3u * PM_LIMITER_IPS_MAX);
	CHECK_INT("room again once connections close", LIMITER_OK,
	          limiter_conn_open(l, &fresh, T0 + 2 * SEC));
	limiter_free(l);
}

/* ---- threads ---- */

#define THREADS 4
#define THREAD_OPS 200000

struct thr {
	struct limiter *l;
	int id;
	unsigned spread; /* distinct addresses per thread (1: all share one) */
	unsigned refused;
	uint64_t bytes;
};

static void *hammer(void *arg)
{
	struct thr *t = arg;
	for (unsigned i = 0; i < THREAD_OPS; i++) {
		/* Threads share some addresses (contention on one record). */
		struct sockaddr_storage a =
		    addr_n(t->spread == 1 ? 0 : (i % t->spread) + (unsigned)(t->id % 2) * 32);
		uint64_t now = clock_now_ns();
		if (limiter_conn_open(t->l, &a, now) == LIMITER_OK) {
			t->bytes += limiter_take(t->l, &a, 1500, now, NULL);
			limiter_conn_close(t->l, &a);
		} else {
			t->refused++;
		}
	}
	return NULL;
}

static void run_threads(const char *what, unsigned spread, unsigned max_per_ip)
{
	struct limiter *l = mk(100, max_per_ip, 50000000, 100000000);
	pthread_t th[THREADS];
	struct thr t[THREADS];
	char msg[200];
	uint64_t start = clock_now_ns();
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct thr){.l = l, .id = i, .spread = spread};
		pthread_create(&th[i], NULL, hammer, &t[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	uint64_t ns = clock_now_ns() - start;
	snprintf(msg, sizeof(msg), "threads (%s): count back to zero", what);
	CHECK_INT(msg, 0, limiter_conn_count(l, NULL));
	int zero = 1;
	for (unsigned n = 0; n < 96; n++) {
		struct sockaddr_storage a = addr_n(n);
		if (limiter_conn_count(l, &a) != 0)
			zero = 0;
	}
	snprintf(msg, sizeof(msg), "threads (%s): every address back to zero", what);
	CHECK(msg, zero);
	struct limiter_stats st;
	limiter_stats(l, &st);
	unsigned refused = 0;
	for (int i = 0; i < THREADS; i++)
		refused += t[i].refused;
	snprintf(msg, sizeof(msg), "threads (%s): refusals counted once each", what);
	CHECK_INT(msg, refused, st.rejected_full + st.rejected_per_ip + st.rejected_banned);
	/* open + take + close = 3 operations per iteration */
	double ops = 3.0 * THREADS * THREAD_OPS / ((double)ns / 1e9);
	printf("# limiter, %s: %d threads, %.0f operations/s (open+take+close)\n", what, THREADS,
	       ops);
	limiter_free(l);
}

/* Bans group IPv6 by /64; IPv4 stays per address. */
static int hook_calls;
static struct sockaddr_storage hook_addr;
static void hook(void *arg, const struct sockaddr_storage *a)
{
	(void)arg;
	hook_calls++;
	hook_addr = *a;
}

static void test_ban_groups(void)
{
	struct limiter *l = mk(0, 2, 0, 0);
	struct sockaddr_storage a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:2:ffff::9"),
	                        c = addr("2001:db8:1:3::1"), v4a = addr("192.0.2.1"),
	                        v4b = addr("192.0.2.2");
	CHECK_INT("hook registered", 0, limiter_add_ban_hook(hook, NULL));
	limiter_auth_fail(l, &a, T0);
	limiter_auth_fail(l, &b, T0 + 1);
	CHECK_INT("failures from one /64 add up", 1, limiter_auth_fail(l, &a, T0 + 2));
	CHECK_INT("the hook ran once for the ban", 1, hook_calls);
	CHECK("the hook got the banning address",
	      memcmp(&hook_addr, &a, sizeof(struct sockaddr_in6)) == 0);
	CHECK_INT("another address of the /64 is banned", 1, limiter_is_banned(l, &b, T0 + 3));
	CHECK_INT("it cannot connect", LIMITER_BANNED, limiter_conn_open(l, &b, T0 + 3));
	CHECK_INT("conn_check says so too", LIMITER_BANNED, limiter_conn_check(l, &b, T0 + 3));
	CHECK_INT("the next /64 is not", 0, limiter_is_banned(l, &c, T0 + 3));
	limiter_auth_fail(l, &v4a, T0);
	limiter_auth_fail(l, &v4a, T0 + 1);
	limiter_auth_fail(l, &v4a, T0 + 2);
	CHECK_INT("IPv4: the banned address", 1, limiter_is_banned(l, &v4a, T0 + 3));
	CHECK_INT("IPv4: its neighbour is not", 0, limiter_is_banned(l, &v4b, T0 + 3));
	/* conn_check counts nothing and agrees with conn_open */
	CHECK_INT("check: room", LIMITER_OK, limiter_conn_check(l, &c, T0));
	CHECK_INT("open 1", LIMITER_OK, limiter_conn_open(l, &c, T0));
	CHECK_INT("open 2", LIMITER_OK, limiter_conn_open(l, &c, T0));
	CHECK_INT("check: per-IP full", LIMITER_PER_IP, limiter_conn_check(l, &c, T0));
	CHECK_INT("check counted nothing", 2, (int)limiter_conn_count(l, &c));
	limiter_free(l);
}

static void test_threads(void)
{
	run_threads("64 addresses per thread", 64, 3);
	run_threads("one shared address", 1, 0);
}

int main(void)
{
	test_conn_cases();
	test_close_frees_slot();
	test_rates();
	test_burst_cap();
	test_overflow();
	test_bans();
	test_ban_groups();
	test_table();
	test_threads();
	return unit_done();
}
