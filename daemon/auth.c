/* auth.c - htpasswd users and protected path prefixes (see auth.h).
 *
 * Hashes: bcrypt ($2y$, $2b$, $2a$), sha512-crypt ($6$), sha256-crypt ($5$),
 * yescrypt ($y$), scrypt ($7$), gost-yescrypt ($gy$) through libc's
 * crypt_r; apr1 (Apache MD5) and {SHA} (unsalted SHA-1) are accepted with a
 * warning at load because they are weak.  Their MD5 and SHA-1 live here (a
 * few dozen lines each, from RFC 1321 and FIPS 180) because only tls*.c and
 * hash.c may include OpenSSL and hash.c works on file descriptors.  Anything
 * else, notably a plain-text password, is refused at load with its line.
 *
 * Verified credentials are cached for PM_HTTP_AUTH_CACHE_TTL seconds so
 * that bcrypt's cost is paid once per client, not once per download; the
 * cache holds an HMAC-SHA-1 under a random per-process key of
 * "user\0password", never the password.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "auth.h"
#include "config.h"
#include "limiter.h"
#include "limits.h"
#include "log.h"
#include "path.h"

/* ---------- MD5 (RFC 1321) and SHA-1 (FIPS 180-4) ----------
 * Both are Merkle-Damgard over 64-byte blocks with the same buffering and
 * padding; they differ in the block function, the state's word count and
 * byte order.  One state type and one update/final serve both. */

struct md {
	uint32_t s[5];
	uint64_t n;
	unsigned char b[64];
	void (*block)(uint32_t *s, const unsigned char *p);
	int words;  /* 4 (MD5) or 5 (SHA-1) */
	int be;	    /* SHA-1: big-endian length and digest */
};

static void md_update(struct md *m, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len) {
		size_t have = m->n % 64, take = 64 - have < len ? 64 - have : len;
		memcpy(m->b + have, p, take);
		m->n += take;
		p += take;
		len -= take;
		if (m->n % 64 == 0)
			m->block(m->s, m->b);
	}
}

/* Pads, and writes the 16- or 20-byte digest into out. */
static void md_final(struct md *m, unsigned char *out)
{
	uint64_t bits = m->n * 8;
	unsigned char pad = 0x80, zero = 0, len[8];
	md_update(m, &pad, 1);
	while (m->n % 64 != 56)
		md_update(m, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (m->be ? 56 - 8 * i : 8 * i));
	md_update(m, len, 8);
	for (int i = 0; i < m->words; i++)
		for (int k = 0; k < 4; k++)
			out[4 * i + k] = (unsigned char)(m->s[i] >> (m->be ? 24 - 8 * k : 8 * k));
}

static uint32_t rol(uint32_t x, int c)
{
	return (x << c) | (x >> (32 - c));
}

static void md5_block(uint32_t *st, const unsigned char *p)
{
	static const uint32_t K[64] = {
		0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
		0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
		0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
		0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
		0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
		0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
		0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
		0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
		0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
		0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
		0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
	static const int R[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};
	uint32_t w[16], a = st[0], b = st[1], c = st[2], d = st[3];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		uint32_t t = d;
		d = c;
		c = b;
		b = b + rol(a + f + K[i] + w[g], R[(i / 16) * 4 + i % 4]);
		a = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

static void md5_init(struct md *m)
{
	m->s[0] = 0x67452301;
	m->s[1] = 0xefcdab89;
	m->s[2] = 0x98badcfe;
	m->s[3] = 0x10325476;
	m->n = 0;
	m->block = md5_block;
	m->words = 4;
	m->be = 0;
}

static void sha1_block(uint32_t *st, const unsigned char *p)
{
	uint32_t w[80], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
}

static void sha1_init(struct md *h)
{
	static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
				       0xc3d2e1f0};
	memcpy(h->s, iv, sizeof(iv));
	h->n = 0;
	h->block = sha1_block;
	h->words = 5;
	h->be = 1;
}

/* ---------- the weak schemes ---------- */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static char *to64(char *o, uint32_t v, int n)
{
	while (n-- > 0) {
		*o++ = itoa64[v & 0x3f];
		v >>= 6;
	}
	return o;
}

/* Apache's apr1: "$apr1$salt$hash" for pw and the salt of setting.
 * out >= 40 bytes.  0 or -1 (malformed setting). */
static int apr1_hash(const char *pw, size_t pl, const char *setting, char *out, size_t outsz)
{
	const char *salt = setting + 6;
	size_t sl = 0;
	unsigned char fin[16];
	struct md ctx, alt;

	while (salt[sl] && salt[sl] != '$' && sl < 8)
		sl++;
	if (sl == 0 || outsz < 6 + sl + 1 + 22 + 1)
		return -1;
	md5_init(&ctx);
	md_update(&ctx, pw, pl);
	md_update(&ctx, "$apr1$", 6);
	md_update(&ctx, salt, sl);
	md5_init(&alt);
	md_update(&alt, pw, pl);
	md_update(&alt, salt, sl);
	md_update(&alt, pw, pl);
	md_final(&alt, fin);
	for (size_t left = pl; left > 0; left -= left > 16 ? 16 : left)
		md_update(&ctx, fin, left > 16 ? 16 : left);
	memset(fin, 0, sizeof(fin));
	for (size_t i = pl; i; i >>= 1)
		md_update(&ctx, (i & 1) ? (const void *)fin : (const void *)pw, 1);
	md_final(&ctx, fin);
	for (int i = 0; i < 1000; i++) {
		md5_init(&alt);
		if (i & 1)
			md_update(&alt, pw, pl);
		else
			md_update(&alt, fin, 16);
		if (i % 3)
			md_update(&alt, salt, sl);
		if (i % 7)
			md_update(&alt, pw, pl);
		if (i & 1)
			md_update(&alt, fin, 16);
		else
			md_update(&alt, pw, pl);
		md_final(&alt, fin);
	}
	char *o = out;
	memcpy(o, "$apr1$", 6);
	o += 6;
	memcpy(o, salt, sl);
	o += sl;
	*o++ = '$';
	o = to64(o, (uint32_t)fin[0] << 16 | (uint32_t)fin[6] << 8 | fin[12], 4);
	o = to64(o, (uint32_t)fin[1] << 16 | (uint32_t)fin[7] << 8 | fin[13], 4);
	o = to64(o, (uint32_t)fin[2] << 16 | (uint32_t)fin[8] << 8 | fin[14], 4);
	o = to64(o, (uint32_t)fin[3] << 16 | (uint32_t)fin[9] << 8 | fin[15], 4);
	o = to64(o, (uint32_t)fin[4] << 16 | (uint32_t)fin[10] << 8 | fin[5], 4);
	o = to64(o, fin[11], 2);
	*o = '\0';
	explicit_bzero(fin, sizeof(fin));
	return 0;
}

/* "{SHA}" + base64(SHA-1(pw)). out >= 34 bytes. */
static void sha_hash(const char *pw, size_t pl, char *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char d[21];
	struct md h;
	sha1_init(&h);
	md_update(&h, pw, pl);
	md_final(&h, d);
	d[20] = 0;
	char *o = out;
	memcpy(o, "{SHA}", 5);
	o += 5;
	for (int i = 0; i < 21; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < 20 ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < 20 ? b64[v & 63] : '=';
	}
	*o = '\0';
}

static void hmac_sha1(const unsigned char key[64], const void *msg, size_t n,
		      unsigned char out[20])
{
	unsigned char k[64];
	struct md h;
	for (int i = 0; i < 64; i++)
		k[i] = key[i] ^ 0x36;
	sha1_init(&h);
	md_update(&h, k, 64);
	md_update(&h, msg, n);
	md_final(&h, out);
	for (int i = 0; i < 64; i++)
		k[i] = key[i] ^ 0x5c;
	sha1_init(&h);
	md_update(&h, k, 64);
	md_update(&h, out, 20);
	md_final(&h, out);
	explicit_bzero(k, sizeof(k));
}

/* ---------- the user table ---------- */

enum scheme { SCHEME_CRYPT, SCHEME_APR1, SCHEME_SHA };

struct user {
	char *name;
	char *hash;
	enum scheme scheme;
};

struct table {
	struct user *u;
	size_t n;
	unsigned gen;
};

static pthread_mutex_t auth_mu = PTHREAD_MUTEX_INITIALIZER;
static struct table *cur;
static unsigned table_gen;

struct centry {
	unsigned char mac[20];
	uint64_t expires;
	unsigned gen;
	int used;
};
static struct centry cache[PM_HTTP_AUTH_CACHE];
static unsigned char cache_key[64];
static int cache_key_set;

static void table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->u[i].name);
		if (t->u[i].hash)
			explicit_bzero(t->u[i].hash, strlen(t->u[i].hash));
		free(t->u[i].hash);
	}
	free(t->u);
	free(t);
}

static int scheme_of(const char *h, enum scheme *s, int *weak)
{
	static const char *const strong[] = {"$2y$", "$2b$", "$2a$", "$6$", "$5$",
					      "$y$",  "$7$",  "$gy$"};
	*weak = 0;
	for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++) {
		if (strncmp(h, strong[i], strlen(strong[i])) == 0) {
			*s = SCHEME_CRYPT;
			return 0;
		}
	}
	if (strncmp(h, "$apr1$", 6) == 0 && strlen(h) > 8) {
		*s = SCHEME_APR1;
		*weak = 1;
		return 0;
	}
	if (strncmp(h, "{SHA}", 5) == 0 && strlen(h) == 33) {
		*s = SCHEME_SHA;
		*weak = 1;
		return 0;
	}
	return -1;
}

int auth_load(const struct config *c, char *err, size_t errsz)
{
	struct table *t = NULL;
	FILE *f = NULL;
	char line[PM_AUTH_LINE_MAX + 2];
	unsigned lineno = 0;
	size_t cap = 0;

	if (!cache_key_set) {
		if (getrandom(cache_key, sizeof(cache_key), 0) != (ssize_t)sizeof(cache_key)) {
			snprintf(err, errsz, "auth: no randomness for the credential cache");
			return -1;
		}
		cache_key_set = 1;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	if (c->auth_file[0] == '\0')
		goto publish;
	f = fopen(c->auth_file, "re");
	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", c->auth_file, strerror(errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] != '\n' && !feof(f)) {
			snprintf(err, errsz, "%s:%u: line longer than %d bytes", c->auth_file, lineno,
				 PM_AUTH_LINE_MAX);
			goto fail;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		char *colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			snprintf(err, errsz, "%s:%u: expected user:hash", c->auth_file, lineno);
			goto fail;
		}
		*colon = '\0';
		const char *hash = colon + 1;
		size_t ul = strlen(line);
		if (ul > PM_AUTH_USER_MAX) {
			snprintf(err, errsz, "%s:%u: user name longer than %d bytes", c->auth_file,
				 lineno, PM_AUTH_USER_MAX);
			goto fail;
		}
		for (size_t i = 0; i < ul; i++) {
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
				snprintf(err, errsz, "%s:%u: control character in user name",
					 c->auth_file, lineno);
				goto fail;
			}
		}
		enum scheme s;
		int weak;
		if (scheme_of(hash, &s, &weak) != 0) {
			/* SECURITY: never keep a password we cannot tell from plain text. */
			snprintf(err, errsz, "%s:%u: password of user %s is not a supported hash "
				 "(plain text and DES crypt are refused; use bcrypt, yescrypt or "
				 "sha512-crypt)", c->auth_file, lineno, line);
			goto fail;
		}
		if (weak)
			log_warn("%s:%u: user %s has a weak %s hash; prefer bcrypt or yescrypt",
				 c->auth_file, lineno, line, s == SCHEME_APR1 ? "apr1 (MD5)" : "{SHA}");
		if (t->n >= PM_AUTH_USERS_MAX) {
			snprintf(err, errsz, "%s:%u: more than %d users", c->auth_file, lineno,
				 PM_AUTH_USERS_MAX);
			goto fail;
		}
		for (size_t i = 0; i < t->n; i++) {
			if (strcmp(t->u[i].name, line) == 0) {
				snprintf(err, errsz, "%s:%u: user %s listed twice", c->auth_file,
					 lineno, line);
				goto fail;
			}
		}
		if (t->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct user *nu = realloc(t->u, nc * sizeof(*nu));
			if (nu == NULL)
				goto nomem;
			t->u = nu;
			cap = nc;
		}
		t->u[t->n].name = strdup(line);
		t->u[t->n].hash = strdup(hash);
		t->u[t->n].scheme = s;
		t->n++;
		if (t->u[t->n - 1].name == NULL || t->u[t->n - 1].hash == NULL)
			goto nomem;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error", c->auth_file);
		goto fail;
	}
	fclose(f);
	f = NULL;
	explicit_bzero(line, sizeof(line));
publish:
	pthread_mutex_lock(&auth_mu);
	t->gen = ++table_gen;
	struct table *old = cur;
	cur = t;
	/* Changed users or passwords: forget every cached verification. */
	memset(cache, 0, sizeof(cache));
	pthread_mutex_unlock(&auth_mu);
	table_free(old);
	return 0;
nomem:
	snprintf(err, errsz, "auth: out of memory");
fail:
	explicit_bzero(line, sizeof(line));
	if (f)
		fclose(f);
	table_free(t);
	return -1;
}

void auth_shutdown(void)
{
	pthread_mutex_lock(&auth_mu);
	struct table *old = cur;
	cur = NULL;
	memset(cache, 0, sizeof(cache));
	pthread_mutex_unlock(&auth_mu);
	table_free(old);
}

int auth_enabled(void)
{
	pthread_mutex_lock(&auth_mu);
	int on = cur != NULL && cur->n > 0;
	pthread_mutex_unlock(&auth_mu);
	return on;
}

int auth_path_protected(const struct config *c, const char *rel)
{
	for (int i = 0; i < c->auth_paths.n; i++)
		if (path_has_prefix(rel, c->auth_paths.p[i]))
			return 1;
	return 0;
}

/* Constant-time equality of two NUL-terminated strings (time depends only
 * on the longer length). */
static int ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
	return d == 0;
}

static int verify(const char *hash, enum scheme s, const char *pass, size_t passlen)
{
	char buf[64];
	int ok = 0;
	if (s == SCHEME_APR1) {
		if (apr1_hash(pass, passlen, hash, buf, sizeof(buf)) == 0)
			ok = ct_streq(buf, hash);
	} else if (s == SCHEME_SHA) {
		sha_hash(pass, passlen, buf);
		ok = ct_streq(buf, hash);
	} else {
		struct crypt_data *cd = calloc(1, sizeof(*cd));
		if (cd == NULL)
			return 0;
		const char *h = crypt_r(pass, hash, cd);
		ok = h != NULL && h[0] != '*' && ct_streq(h, hash);
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
	}
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

int auth_check(const char *user, const char *pass, size_t passlen)
{
	unsigned char mac[20], msg[PM_AUTH_USER_MAX + 1 + PM_AUTH_PASS_MAX];
	size_t ul = strlen(user);
	int ok = 0;

	if (ul == 0 || ul > PM_AUTH_USER_MAX || passlen > PM_AUTH_PASS_MAX ||
	    memchr(pass, '\0', passlen) != NULL || !cache_key_set)
		return 0;
	memcpy(msg, user, ul);
	msg[ul] = '\0';
	memcpy(msg + ul + 1, pass, passlen);
	hmac_sha1(cache_key, msg, ul + 1 + passlen, mac);
	explicit_bzero(msg, sizeof(msg));
	uint64_t now = clock_now_ns();

	pthread_mutex_lock(&auth_mu);
	if (cur == NULL || cur->n == 0) {
		pthread_mutex_unlock(&auth_mu);
		return 0;
	}
	unsigned gen = cur->gen;
	for (int i = 0; i < PM_HTTP_AUTH_CACHE; i++) {
		struct centry *e = &cache[i];
		if (e->used && e->gen == gen && e->expires > now &&
		    memcmp(e->mac, mac, sizeof(mac)) == 0) {
			pthread_mutex_unlock(&auth_mu);
			return 1;
		}
	}
	/* Copy what we need and verify outside the lock: bcrypt is slow. */
	char *hash = NULL;
	enum scheme s = SCHEME_CRYPT;
	for (size_t i = 0; i < cur->n; i++) {
		if (strcmp(cur->u[i].name, user) == 0) {
			hash = strdup(cur->u[i].hash);
			s = cur->u[i].scheme;
			break;
		}
	}
	pthread_mutex_unlock(&auth_mu);

	/* An unknown user costs as much as a wrong password (no user oracle). */
	char pw[PM_AUTH_PASS_MAX + 1];
	memcpy(pw, pass, passlen);
	pw[passlen] = '\0';
	if (hash) {
		ok = verify(hash, s, pw, passlen);
		explicit_bzero(hash, strlen(hash));
		free(hash);
	} else {
		verify("$6$pubmirrorsalt$", SCHEME_CRYPT, pw, passlen);
	}
	explicit_bzero(pw, sizeof(pw));
	if (ok) {
		pthread_mutex_lock(&auth_mu);
		if (cur && cur->gen == gen) {
			int slot = 0;
			for (int i = 0; i < PM_HTTP_AUTH_CACHE; i++) {
				if (!cache[i].used || cache[i].expires <= now) {
					slot = i;
					break;
				}
				if (cache[i].expires < cache[slot].expires)
					slot = i;
			}
			memcpy(cache[slot].mac, mac, sizeof(mac));
			cache[slot].expires = now + (uint64_t)PM_HTTP_AUTH_CACHE_TTL * 1000000000ull;
			cache[slot].gen = gen;
			cache[slot].used = 1;
		}
		pthread_mutex_unlock(&auth_mu);
	}
	return ok;
}
