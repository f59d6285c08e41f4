/* auth.c - htpasswd users and protected path prefixes (see auth.h).
 *
 * Hashes: bcrypt ($2y$, $2b$, $2a$), sha512-crypt ($6$), sha256-crypt ($5$),
 * yescrypt ($y$), scrypt ($7$), gost-yescrypt ($gy$) through libc's
 * crypt_r; apr1 (Apache MD5) and {SHA} (unsalted SHA-1) are accepted with a
 * warning at load because they are weak; their MD5 and SHA-1 come from
 * digest.h (OpenSSL EVP).  Anything
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
#include "digest.h"
#include "limiter.h"
#include "limits.h"
#include "log.h"
#include "path.h"

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
	struct digest ctx, alt;
	unsigned char md[DIGEST_MAX];
	int rc = 0;

	while (salt[sl] && salt[sl] != '$' && sl < 8)
		sl++;
	if (sl == 0 || outsz < 6 + sl + 1 + 22 + 1)
		return -1;
	digest_init(&ctx, DIGEST_MD5);
	digest_update(&ctx, pw, pl);
	digest_update(&ctx, "$apr1$", 6);
	digest_update(&ctx, salt, sl);
	digest_init(&alt, DIGEST_MD5);
	digest_update(&alt, pw, pl);
	digest_update(&alt, salt, sl);
	digest_update(&alt, pw, pl);
	if (digest_final(&alt, md) != 16)
		rc = -1;
	memcpy(fin, md, 16);
	for (size_t left = pl; left > 0; left -= left > 16 ? 16 : left)
		digest_update(&ctx, fin, left > 16 ? 16 : left);
	memset(fin, 0, sizeof(fin));
	for (size_t i = pl; i; i >>= 1)
		digest_update(&ctx, (i & 1) ? (const void *)fin : (const void *)pw, 1);
	if (digest_final(&ctx, md) != 16)
		rc = -1;
	memcpy(fin, md, 16);
	for (int i = 0; i < 1000; i++) {
		digest_init(&alt, DIGEST_MD5);
		if (i & 1)
			digest_update(&alt, pw, pl);
		else
			digest_update(&alt, fin, 16);
		if (i % 3)
			digest_update(&alt, salt, sl);
		if (i % 7)
			digest_update(&alt, pw, pl);
		if (i & 1)
			digest_update(&alt, fin, 16);
		else
			digest_update(&alt, pw, pl);
		if (digest_final(&alt, md) != 16)
			rc = -1;
		memcpy(fin, md, 16);
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
	explicit_bzero(md, sizeof(md));
	return rc; /* -1: a digest failed; the result matches nothing */
}

/* "{SHA}" + base64(SHA-1(pw)). out >= 34 bytes.  On a digest failure out
 * is "!", which matches no stored hash. */
static void sha_hash(const char *pw, size_t pl, char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char d[DIGEST_MAX + 1];
	struct digest h;
	digest_init(&h, DIGEST_SHA1);
	digest_update(&h, pw, pl);
	if (digest_final(&h, d) != 20) {
		memcpy(out, "!", 2);
		return;
	}
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
	char *dummy; /* a crypt user's hash (scheme and cost of the file), or NULL */
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
	free(t->dummy);
	free(t);
}

static int scheme_of(const char *h, enum scheme *s, int *weak)
{
	static const char *const strong[] = {"$2y$", "$2b$", "$2a$", "$6$",
	                                     "$5$",  "$y$",  "$7$",  "$gy$"};
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
			snprintf(err, errsz, "%s:%u: line longer than %d bytes", c->auth_file,
			         lineno, PM_AUTH_LINE_MAX);
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
			snprintf(err, errsz,
			         "%s:%u: password of user %s is not a supported hash "
			         "(plain text and DES crypt are refused; use bcrypt, yescrypt or "
			         "sha512-crypt)",
			         c->auth_file, lineno, line);
			goto fail;
		}
		if (weak)
			log_warn("%s:%u: user %s has a weak %s hash; prefer bcrypt or yescrypt",
			         c->auth_file, lineno, line,
			         s == SCHEME_APR1 ? "apr1 (MD5)" : "{SHA}");
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
	/* SECURITY: failed logins cost the same whatever the user: an unknown
	 * name, or a user with a cheap weak hash, pays one verification
	 * against a real crypt user's hash (same scheme, same cost). */
	for (size_t i = 0; i < t->n; i++) {
		if (t->u[i].scheme == SCHEME_CRYPT) {
			t->dummy = strdup(t->u[i].hash);
			if (t->dummy == NULL)
				goto nomem;
			break;
		}
	}
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
	int mac_ok =
	    digest_hmac_sha1(cache_key, sizeof(cache_key), msg, ul + 1 + passlen, mac) == 0;
	explicit_bzero(msg, sizeof(msg));
	if (!mac_ok)
		return 0; /* fail closed */
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
	char *hash = NULL, *dummy = cur->dummy ? strdup(cur->dummy) : NULL;
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
	}
	if (hash == NULL || s != SCHEME_CRYPT) {
		/* the result is ignored: this is only the cost of a real check */
		if (dummy)
			(void)verify(dummy, SCHEME_CRYPT, pw, passlen);
		else
			(void)verify("$6$pubmirrorsalt$", SCHEME_CRYPT, pw, passlen);
	}
	if (dummy) {
		explicit_bzero(dummy, strlen(dummy));
		free(dummy);
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
			cache[slot].expires =
			    now + (uint64_t)PM_HTTP_AUTH_CACHE_TTL * 1000000000ull;
			cache[slot].gen = gen;
			cache[slot].used = 1;
		}
		pthread_mutex_unlock(&auth_mu);
	}
	return ok;
}
