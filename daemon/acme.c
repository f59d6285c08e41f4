/* acme.c - built-in ACME client (acme.h): RFC 8555 over libcurl, JSON with
 * json-c, keys, CSR and JWS (ES256) with OpenSSL.
 *
 * Runs in the privileged helper only (privsep.c), on one thread: nothing
 * here touches a client connection.  Every response is bounded
 * (ACME_BODY_MAX), every wait is bounded (ACME_POLL_MAX polls), every
 * failure leaves the pair in force untouched and is retried after
 * acme_retry seconds.
 */
#include "acme.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef INT_MAX
#define INT_MAX __INT_MAX__
#endif
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "limits.h"
#include "log.h"
#include "tls.h"

#define ACME_BODY_MAX (1024 * 1024) /* a response body (certificate chain) */
#define ACME_URL_MAX 2048
#define ACME_NONCE_MAX 256
#define ACME_DOMAINS_MAX 100 /* names in one certificate (as Let's Encrypt) */
#define ACME_POLL_MAX 60     /* polls of an authorization or order, 1 s apart */
#define ACME_BADNONCE_RETRIES 5
#define ACME_HTTP_TIMEOUT 30L /* seconds per request */
#define ACME_SLEEP_MAX 3600   /* re-check at least hourly */

static pthread_mutex_t acme_mu = PTHREAD_MUTEX_INITIALIZER;

void acme_lock(void)
{
	pthread_mutex_lock(&acme_mu);
}

void acme_unlock(void)
{
	pthread_mutex_unlock(&acme_mu);
}

struct acme {
	struct config *c;
	void (*notify)(void);
	EVP_PKEY *account;
	char jwk_x[64], jwk_y[64];
	char nonce[ACME_NONCE_MAX];
	char kid[ACME_URL_MAX];
	char new_nonce[ACME_URL_MAX], new_account[ACME_URL_MAX], new_order[ACME_URL_MAX];
};

static struct acme acme_st;

/* ---- encodings ---- */

/* base64url without padding of n bytes into out (outsz >= 4n/3 + 4). */
static void acme_b64url(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	size_t need = 4 * ((n + 2) / 3) + 1;
	if (outsz < need) {
		out[0] = '\0';
		return;
	}
	int k = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (k > 0 && out[k - 1] == '=')
		k--;
	out[k] = '\0';
	for (int i = 0; i < k; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
}

/* Malloc'ed base64url of n bytes. */
static char *acme_b64url_dup(const void *in, size_t n)
{
	size_t sz = 4 * ((n + 2) / 3) + 1;
	char *out = malloc(sz);
	if (out != NULL)
		acme_b64url(in, n, out, sz);
	return out;
}

/* ---- HTTP ---- */

struct acme_resp {
	long status;
	char *body;
	size_t len;
	char nonce[ACME_NONCE_MAX];
	char location[ACME_URL_MAX];
};

static size_t acme_body_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct acme_resp *r = arg;
	size_t n = sz * nm;
	if (r->len + n > ACME_BODY_MAX)
		return 0; /* SECURITY: bounded; curl fails the transfer */
	char *b = realloc(r->body, r->len + n + 1);
	if (b == NULL)
		return 0;
	memcpy(b + r->len, p, n);
	r->body = b;
	r->len += n;
	b[r->len] = '\0';
	return n;
}

/* Copy a header's value (trimmed) when line is "name: value". */
static void acme_header_value(const char *line, size_t n, const char *name, char *out, size_t outsz)
{
	size_t k = strlen(name);
	if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	const char *v = line + k + 1;
	size_t vn = n - k - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
	if (vn >= outsz)
		return; /* too long to be ours: ignored, the step fails later */
	memcpy(out, v, vn);
	out[vn] = '\0';
}

static size_t acme_header_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct acme_resp *r = arg;
	size_t n = sz * nm;
	acme_header_value(p, n, "Replay-Nonce", r->nonce, sizeof(r->nonce));
	acme_header_value(p, n, "Location", r->location, sizeof(r->location));
	return n;
}

static void acme_resp_free(struct acme_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* GET (body NULL, head 0), HEAD (head 1) or POST body as application/jose+json. */
static int acme_http(struct acme *a, const char *url, const char *body, int head,
                     struct acme_resp *r, char *err, size_t errsz)
{
	memset(r, 0, sizeof(*r));
	CURL *h = curl_easy_init();
	if (h == NULL) {
		snprintf(err, errsz, "curl_easy_init failed");
		return -1;
	}
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* SECURITY: the CA is spoken to over verified HTTPS only. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (a->c->acme_ca_file[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_CAINFO, a->c->acme_ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, ACME_HTTP_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pubmirrord-acme");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, acme_body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, acme_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (head) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		snprintf(err, errsz, "%s: %s", url, curl_easy_strerror(cc));
		acme_resp_free(r);
		return -1;
	}
	if (r->nonce[0] != '\0')
		snprintf(a->nonce, sizeof(a->nonce), "%s", r->nonce);
	return 0;
}

/* Parse a JSON body (bounded by ACME_BODY_MAX already). */
static json_object *acme_json(const struct acme_resp *r)
{
	if (r->body == NULL)
		return NULL;
	json_tokener *t = json_tokener_new();
	if (t == NULL)
		return NULL;
	json_object *o = json_tokener_parse_ex(t, r->body, (int)r->len);
	if (json_tokener_get_error(t) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(t);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static const char *acme_str(json_object *o, const char *key)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* err <- what the CA said (an RFC 7807 problem document) or the status. */
static void acme_problem(const struct acme_resp *r, const char *what, char *err, size_t errsz)
{
	json_object *o = acme_json(r);
	const char *type = acme_str(o, "type"), *detail = acme_str(o, "detail");
	snprintf(err, errsz, "%s: HTTP %ld%s%s%s%s", what, r->status, type ? " " : "",
	         type ? type : "", detail ? ": " : "", detail ? detail : "");
	json_object_put(o);
}

/* ---- JWS ---- */

static int acme_sign(EVP_PKEY *k, const char *data, size_t n, char *out, size_t outsz)
{
	unsigned char der[160], raw[64];
	size_t dlen = sizeof(der);
	int rc = -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig = NULL;
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)data, n) != 1)
		goto out;
	const unsigned char *p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (sig == NULL)
		goto out;
	/* JWS ES256 wants r || s, 32 bytes each, not DER (RFC 7518 3.4). */
	if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
		goto out;
	acme_b64url(raw, sizeof(raw), out, outsz);
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

static json_object *acme_jwk(const struct acme *a)
{
	json_object *j = json_object_new_object();
	json_object_object_add(j, "crv", json_object_new_string("P-256"));
	json_object_object_add(j, "kty", json_object_new_string("EC"));
	json_object_object_add(j, "x", json_object_new_string(a->jwk_x));
	json_object_object_add(j, "y", json_object_new_string(a->jwk_y));
	return j;
}

#define ACME_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A flattened JWS of payload (NULL: POST-as-GET) for url; malloc'ed. */
static char *acme_jws(struct acme *a, const char *url, json_object *payload, int use_jwk)
{
	char *out = NULL, *ph = NULL, *pp = NULL, *input = NULL;
	char sig[128];
	json_object *prot = json_object_new_object();
	json_object_object_add(prot, "alg", json_object_new_string("ES256"));
	json_object_object_add(prot, "nonce", json_object_new_string(a->nonce));
	json_object_object_add(prot, "url", json_object_new_string(url));
	if (use_jwk)
		json_object_object_add(prot, "jwk", acme_jwk(a));
	else
		json_object_object_add(prot, "kid", json_object_new_string(a->kid));
	const char *ps = json_object_to_json_string_ext(prot, ACME_JSON_FLAGS);
	const char *pl =
	    payload != NULL ? json_object_to_json_string_ext(payload, ACME_JSON_FLAGS) : "";
	ph = acme_b64url_dup(ps, strlen(ps));
	pp = acme_b64url_dup(pl, strlen(pl));
	if (ph == NULL || pp == NULL)
		goto out;
	size_t n = strlen(ph) + strlen(pp) + 2;
	input = malloc(n);
	if (input == NULL)
		goto out;
	snprintf(input, n, "%s.%s", ph, pp);
	if (acme_sign(a->account, input, strlen(input), sig, sizeof(sig)) != 0)
		goto out;
	json_object *jws = json_object_new_object();
	json_object_object_add(jws, "protected", json_object_new_string(ph));
	json_object_object_add(jws, "payload", json_object_new_string(pp));
	json_object_object_add(jws, "signature", json_object_new_string(sig));
	out = strdup(json_object_to_json_string_ext(jws, ACME_JSON_FLAGS));
	json_object_put(jws);
out:
	json_object_put(prot);
	free(ph);
	free(pp);
	free(input);
	return out;
}

/* POST a JWS to url; retries a badNonce rejection with the fresh nonce the
 * CA sent.  Success is any 2xx; otherwise err holds the CA's problem. */
static int acme_post(struct acme *a, const char *url, json_object *payload, int use_jwk,
                     struct acme_resp *r, const char *what, char *err, size_t errsz)
{
	for (int i = 0; i <= ACME_BADNONCE_RETRIES; i++) {
		if (a->nonce[0] == '\0') {
			struct acme_resp nr;
			if (acme_http(a, a->new_nonce, NULL, 1, &nr, err, errsz) != 0)
				return -1;
			acme_resp_free(&nr);
			if (a->nonce[0] == '\0') {
				snprintf(err, errsz, "%s: no Replay-Nonce from newNonce", what);
				return -1;
			}
		}
		char *body = acme_jws(a, url, payload, use_jwk);
		a->nonce[0] = '\0'; /* a nonce is used once */
		if (body == NULL) {
			snprintf(err, errsz, "%s: cannot sign the request", what);
			return -1;
		}
		int rc = acme_http(a, url, body, 0, r, err, errsz);
		free(body);
		if (rc != 0)
			return -1;
		if (r->status >= 200 && r->status < 300)
			return 0;
		json_object *o = acme_json(r);
		const char *type = acme_str(o, "type");
		int bad_nonce =
		    type != NULL && strcmp(type, "urn:ietf:params:acme:error:badNonce") == 0;
		json_object_put(o);
		if (!bad_nonce)
			break;
		acme_resp_free(r);
	}
	acme_problem(r, what, err, errsz);
	acme_resp_free(r);
	return -1;
}

/* ---- keys ---- */

static EVP_PKEY *acme_new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int acme_write_key(const char *path, EVP_PKEY *k, char *err, size_t errsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	int rc = -1;
	if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
		snprintf(err, errsz, "%s: cannot encode the key", path);
		goto out;
	}
	long n = BIO_get_mem_data(b, &data);
	rc = tls_write_atomic(path, data, (size_t)n, 0600, err, errsz);
out:
	BIO_free_all(b);
	return rc;
}

static EVP_PKEY *acme_read_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	if (b == NULL)
		return NULL;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return k;
}

static int acme_dir(const struct config *c, char *out, size_t outsz)
{
	const char *sd = c->state_dir[0] != '\0' ? c->state_dir : ".";
	if (snprintf(out, outsz, "%s/acme", sd) >= (int)outsz)
		return -1;
	if (mkdir(sd, 0700) != 0 && errno != EEXIST)
		return -1;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int acme_init(const struct config *c, char *tp, size_t tpsz, char *err, size_t errsz)
{
	struct acme *a = &acme_st;
	char dir[PM_PATH_MAX], path[PM_PATH_MAX + 32];
	unsigned char x[32], y[32], md[32];
	BIGNUM *bx = NULL, *by = NULL;
	int rc = -1;

	if (acme_dir(c, dir, sizeof(dir)) != 0) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/account.key", dir);
	a->account = acme_read_key(path);
	if (a->account == NULL) {
		ERR_clear_error();
		a->account = acme_new_key();
		if (a->account == NULL || acme_write_key(path, a->account, err, errsz) != 0) {
			if (a->account == NULL)
				snprintf(err, errsz, "cannot generate the ACME account key");
			goto out;
		}
		log_info("acme: new account key %s", path);
	}
	if (EVP_PKEY_get_bn_param(a->account, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(a->account, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32) {
		snprintf(err, errsz, "%s: not an ECDSA P-256 key", path);
		goto out;
	}
	acme_b64url(x, 32, a->jwk_x, sizeof(a->jwk_x));
	acme_b64url(y, 32, a->jwk_y, sizeof(a->jwk_y));
	/* RFC 7638: the required members in lexicographic order, no spaces;
	 * json-c keeps insertion order. */
	json_object *j = acme_jwk(a);
	const char *s = json_object_to_json_string_ext(j, ACME_JSON_FLAGS);
	EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL);
	json_object_put(j);
	acme_b64url(md, sizeof(md), tp, tpsz);
	rc = 0;
out:
	BN_free(bx);
	BN_free(by);
	return rc;
}

/* ---- the protocol ---- */

static int acme_directory(struct acme *a, char *err, size_t errsz)
{
	struct acme_resp r;
	if (acme_http(a, a->c->acme_directory, NULL, 0, &r, err, errsz) != 0)
		return -1;
	json_object *o = acme_json(&r);
	const char *nn = acme_str(o, "newNonce"), *na = acme_str(o, "newAccount"),
	           *no = acme_str(o, "newOrder");
	int rc = -1;
	if (r.status != 200 || nn == NULL || na == NULL || no == NULL) {
		snprintf(err, errsz, "%s: HTTP %ld, not an ACME directory", a->c->acme_directory,
		         r.status);
	} else {
		snprintf(a->new_nonce, sizeof(a->new_nonce), "%s", nn);
		snprintf(a->new_account, sizeof(a->new_account), "%s", na);
		snprintf(a->new_order, sizeof(a->new_order), "%s", no);
		rc = 0;
	}
	json_object_put(o);
	acme_resp_free(&r);
	return rc;
}

static int acme_account(struct acme *a, char *err, size_t errsz)
{
	struct acme_resp r;
	json_object *p = json_object_new_object();
	json_object_object_add(p, "termsOfServiceAgreed", json_object_new_boolean(1));
	if (a->c->acme_email[0] != '\0') {
		char mail[300];
		snprintf(mail, sizeof(mail), "mailto:%s", a->c->acme_email);
		json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(mail));
		json_object_object_add(p, "contact", arr);
	}
	int rc = acme_post(a, a->new_account, p, 1, &r, "newAccount", err, errsz);
	json_object_put(p);
	if (rc != 0)
		return -1;
	if (r.location[0] == '\0') {
		snprintf(err, errsz, "newAccount: no Location (account URL)");
		rc = -1;
	} else {
		snprintf(a->kid, sizeof(a->kid), "%s", r.location);
	}
	acme_resp_free(&r);
	return rc;
}

/* POST-as-GET url and parse the object. */
static json_object *acme_fetch(struct acme *a, const char *url, const char *what, char *err,
                               size_t errsz)
{
	struct acme_resp r;
	if (acme_post(a, url, NULL, 0, &r, what, err, errsz) != 0)
		return NULL;
	json_object *o = acme_json(&r);
	if (o == NULL)
		snprintf(err, errsz, "%s: not a JSON object", what);
	acme_resp_free(&r);
	return o;
}

/* Poll url until its status leaves the pending/processing states. */
static json_object *acme_poll(struct acme *a, const char *url, const char *what, char *err,
                              size_t errsz)
{
	for (int i = 0; i < ACME_POLL_MAX; i++) {
		json_object *o = acme_fetch(a, url, what, err, errsz);
		if (o == NULL)
			return NULL;
		const char *st = acme_str(o, "status");
		if (st == NULL || (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0))
			return o;
		json_object_put(o);
		sleep(1);
	}
	snprintf(err, errsz, "%s: still pending after %d s", what, ACME_POLL_MAX);
	return NULL;
}

static int acme_authorize(struct acme *a, const char *url, char *err, size_t errsz)
{
	json_object *z = acme_fetch(a, url, "authorization", err, errsz);
	json_object *ch, *res = NULL;
	int rc = -1;
	const char *st = acme_str(z, "status");
	if (z == NULL)
		return -1;
	if (st != NULL && strcmp(st, "valid") == 0) {
		json_object_put(z);
		return 0;
	}
	const char *curl_ = NULL;
	if (json_object_object_get_ex(z, "challenges", &ch) &&
	    json_object_is_type(ch, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(ch); i++) {
			json_object *e = json_object_array_get_idx(ch, i);
			const char *t = acme_str(e, "type");
			if (t != NULL && strcmp(t, "http-01") == 0)
				curl_ = acme_str(e, "url");
		}
	}
	if (curl_ == NULL) {
		snprintf(err, errsz, "authorization %s: no http-01 challenge offered", url);
		goto out;
	}
	struct acme_resp r;
	json_object *empty = json_object_new_object();
	rc = acme_post(a, curl_, empty, 0, &r, "challenge", err, errsz);
	json_object_put(empty);
	if (rc != 0)
		goto out;
	acme_resp_free(&r);
	rc = -1;
	res = acme_poll(a, url, "authorization", err, errsz);
	st = acme_str(res, "status");
	if (res != NULL && (st == NULL || strcmp(st, "valid") != 0)) {
		json_object *cs, *e, *er;
		const char *why = NULL;
		if (json_object_object_get_ex(res, "challenges", &cs) &&
		    json_object_is_type(cs, json_type_array) && json_object_array_length(cs) > 0 &&
		    (e = json_object_array_get_idx(cs, 0)) != NULL &&
		    json_object_object_get_ex(e, "error", &er))
			why = acme_str(er, "detail");
		snprintf(err, errsz, "authorization %s: %s%s%s", url, st ? st : "no status",
		         why ? ": " : "", why ? why : "");
	} else if (res != NULL) {
		rc = 0;
	}
out:
	json_object_put(res);
	json_object_put(z);
	return rc;
}

/* A CSR for the domains, signed by k, as base64url DER (malloc'ed). */
static char *acme_csr(const struct config *c, EVP_PKEY *k)
{
	X509_REQ *q = X509_REQ_new();
	char san[sizeof(c->acme_domains) * 2], first[256] = "";
	size_t used = 0;
	char *out = NULL;
	unsigned char *der = NULL;
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	const char *p = c->acme_domains;

	san[0] = '\0';
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (first[0] == '\0' && n < sizeof(first)) {
			memcpy(first, p, n);
			first[n] = '\0';
		}
		int w = snprintf(san + used, sizeof(san) - used, "%sDNS:%.*s", used ? "," : "",
		                 (int)n, p);
		if (w < 0 || (size_t)w >= sizeof(san) - used)
			goto out;
		used += (size_t)w;
		p += n;
	}
	if (q == NULL || exts == NULL || first[0] == '\0')
		goto out;
	X509_NAME *nm = X509_REQ_get_subject_name(q);
	if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)first, -1, -1,
	                               0) != 1)
		goto out;
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	if (ext == NULL)
		goto out;
	sk_X509_EXTENSION_push(exts, ext);
	if (X509_REQ_add_extensions(q, exts) != 1 || X509_REQ_set_pubkey(q, k) != 1 ||
	    X509_REQ_sign(q, k, EVP_sha256()) <= 0)
		goto out;
	int n = i2d_X509_REQ(q, &der);
	if (n <= 0)
		goto out;
	out = acme_b64url_dup(der, (size_t)n);
out:
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(q);
	return out;
}

/* Check that the first certificate of pem belongs to key k. */
static int acme_cert_matches(const char *pem, size_t n, EVP_PKEY *k)
{
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int ok = x != NULL && X509_check_private_key(x, k) == 1;
	X509_free(x);
	BIO_free(b);
	return ok;
}

/* One complete issuance: order, authorize, finalize, download, install. */
static int acme_issue(struct acme *a, char *err, size_t errsz)
{
	json_object *order = NULL, *ids = NULL, *fin = NULL, *done = NULL, *az;
	EVP_PKEY *k = NULL;
	char *csr = NULL;
	char order_url[ACME_URL_MAX] = "";
	struct acme_resp r;
	int rc = -1, count = 0;

	memset(&r, 0, sizeof(r));
	if (acme_directory(a, err, errsz) != 0 || acme_account(a, err, errsz) != 0)
		return -1;
	json_object *p = json_object_new_object();
	ids = json_object_new_array();
	const char *d = a->c->acme_domains;
	while (*d) {
		while (*d == ',' || *d == ' ')
			d++;
		size_t n = strcspn(d, ", ");
		if (n == 0)
			break;
		if (++count > ACME_DOMAINS_MAX) {
			snprintf(err, errsz, "acme_domains: more than %d names", ACME_DOMAINS_MAX);
			json_object_put(p);
			json_object_put(ids);
			return -1;
		}
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(n < 255 ? n : 255), d);
		json_object *id = json_object_new_object();
		json_object_object_add(id, "type", json_object_new_string("dns"));
		json_object_object_add(id, "value", json_object_new_string(name));
		json_object_array_add(ids, id);
		d += n;
	}
	json_object_object_add(p, "identifiers", ids);
	rc = acme_post(a, a->new_order, p, 0, &r, "newOrder", err, errsz);
	json_object_put(p);
	if (rc != 0)
		return -1;
	rc = -1;
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	order = acme_json(&r);
	acme_resp_free(&r);
	const char *finalize = acme_str(order, "finalize");
	if (order == NULL || finalize == NULL || order_url[0] == '\0' ||
	    !json_object_object_get_ex(order, "authorizations", &az) ||
	    !json_object_is_type(az, json_type_array)) {
		snprintf(err, errsz, "newOrder: not an order object");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(az); i++) {
		json_object *u = json_object_array_get_idx(az, i);
		if (!json_object_is_type(u, json_type_string) ||
		    acme_authorize(a, json_object_get_string(u), err, errsz) != 0)
			goto out;
	}
	k = acme_new_key();
	csr = k != NULL ? acme_csr(a->c, k) : NULL;
	if (csr == NULL) {
		snprintf(err, errsz, "cannot make the key and CSR");
		goto out;
	}
	fin = json_object_new_object();
	json_object_object_add(fin, "csr", json_object_new_string(csr));
	if (acme_post(a, finalize, fin, 0, &r, "finalize", err, errsz) != 0)
		goto out;
	acme_resp_free(&r);
	done = acme_poll(a, order_url, "order", err, errsz);
	const char *st = acme_str(done, "status"), *cert_url = acme_str(done, "certificate");
	if (done == NULL)
		goto out;
	if (st == NULL || strcmp(st, "valid") != 0 || cert_url == NULL) {
		snprintf(err, errsz, "order %s: %s", order_url, st ? st : "no status");
		goto out;
	}
	if (acme_post(a, cert_url, NULL, 0, &r, "certificate", err, errsz) != 0)
		goto out;
	if (r.body == NULL || !acme_cert_matches(r.body, r.len, k)) {
		snprintf(err, errsz, "certificate %s: not a PEM chain for our key", cert_url);
		goto out;
	}
	char cpath[PM_PATH_MAX + 16], kpath[PM_PATH_MAX + 16];
	if (tls_acme_paths(a->c, cpath, kpath, sizeof(cpath)) != 0) {
		snprintf(err, errsz, "state_dir: path too long");
		goto out;
	}
	/* Key first, then its certificate, both under the lock the helper
	 * takes to open them: it never sees one without the other. */
	acme_lock();
	rc = acme_write_key(kpath, k, err, errsz);
	if (rc == 0)
		rc = tls_write_atomic(cpath, r.body, r.len, 0644, err, errsz);
	acme_unlock();
out:
	acme_resp_free(&r);
	free(csr);
	EVP_PKEY_free(k);
	json_object_put(fin);
	json_object_put(done);
	json_object_put(order);
	return rc;
}

/* Seconds until the pair in force should be renewed (0: now). */
static long acme_renew_in(const struct config *c)
{
	char cpath[PM_PATH_MAX + 16], kpath[PM_PATH_MAX + 16];
	struct stat st;
	if (tls_acme_paths(c, cpath, kpath, sizeof(cpath)) != 0 || stat(cpath, &st) != 0 ||
	    stat(kpath, &st) != 0)
		return 0;
	stat(cpath, &st);
	BIO *b = BIO_new_file(cpath, "r");
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (x == NULL) {
		ERR_clear_error();
		return 0;
	}
	int d1 = 0, s1 = 0, d2 = 0, s2 = 0;
	/* from notBefore to now, and from now to notAfter */
	int ok = ASN1_TIME_diff(&d1, &s1, X509_get0_notBefore(x), NULL) == 1 &&
	         ASN1_TIME_diff(&d2, &s2, NULL, X509_get0_notAfter(x)) == 1;
	X509_free(x);
	if (!ok)
		return 0;
	long age = (long)d1 * 86400 + s1, left = (long)d2 * 86400 + s2;
	long life = age + left;
	long in = life * 2 / 3 - age; /* renew at 2/3 of the lifetime */
	if (c->acme_renew_max_age > 0) {
		/* age of our copy, from when it was written */
		long mine = (long)(time(NULL) - st.st_mtime);
		long by = (long)c->acme_renew_max_age - mine;
		if (by < in)
			in = by;
	}
	return in < 0 ? 0 : in;
}

static void *acme_main(void *arg)
{
	struct acme *a = arg;
	char err[1024];
	for (;;) {
		long in = acme_renew_in(a->c);
		if (in > 0) {
			sleep((unsigned)(in < ACME_SLEEP_MAX ? in : ACME_SLEEP_MAX));
			continue;
		}
		log_info("acme: requesting a certificate for %s from %s", a->c->acme_domains,
		         a->c->acme_directory);
		if (acme_issue(a, err, sizeof(err)) == 0) {
			log_info("acme: new certificate installed for %s", a->c->acme_domains);
			a->notify();
		} else {
			ERR_clear_error();
			log_err("acme: %s; the certificate in force stays; next attempt in %u s",
			        err, a->c->acme_retry);
			sleep(a->c->acme_retry);
		}
	}
	return NULL;
}

int acme_start(struct config *c, void (*notify)(void))
{
	pthread_t t;
	struct acme *a = &acme_st;
	a->c = c;
	a->notify = notify;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	if (pthread_create(&t, NULL, acme_main, a) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}
