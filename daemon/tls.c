/* tls.c - the certificate, its generation, and the one TLS policy.
 *
 * The context in force is published under tls_mu; readers take a reference
 * (SSL_CTX_up_ref) so a reload never frees a context a live connection
 * still uses.  Everything that can fail is built off to the side first, so
 * a failed reload leaves the old certificate, key and context untouched.
 *
 * Key type of the generated certificate: ECDSA P-256.  Every client able to
 * speak TLS 1.2 with ECDHE and AEAD (the only thing this policy accepts)
 * supports it; signing is much cheaper than RSA-2048 (handshakes per core
 * matter for a mirror), and the key and certificate are small.  An operator
 * who needs RSA brings their own pair through tls_cert/tls_key.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* -Idaemon makes <limits.h> find daemon/limits.h, so the system's TLS_DAYS_OWN
 * (used by OpenSSL's err.h) is missing; take the compiler's. */
#ifndef TLS_DAYS_OWN
#define TLS_DAYS_OWN __TLS_DAYS_OWN__
#endif
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"

#define TLS_PEM_MAX (1024 * 1024) /* certificate chain or key file */
/* 397 days: the longest validity browsers accept for a leaf (CA/Browser
 * Forum; Apple since 2020) and what TLS scanners flag beyond. */
#define TLS_DAYS 397
#define TLS_RENEW_DAYS 30   /* a generated pair this close to expiry is replaced */
#define TLS_FP_LEN (32 * 3) /* "AA:" * 32, last ':' is the NUL */

#define TLS_CIPHERS_12                                                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
#define TLS_SESSION_ID_CTX "pubmirror-ftp"

/* The same policy for GnuTLS (libmicrohttpd): versions, AEAD ciphers in the
 * same order, ECDHE only, the same groups, server order. */
static const char tls_gnutls_prio[] = "NONE:+VERS-TLS1.3:+VERS-TLS1.2:"
                                      "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD:"
                                      "+ECDHE-ECDSA:+ECDHE-RSA:+SIGN-ALL:"
                                      "+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"
                                      "+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE";

struct tls_state {
	SSL_CTX *ctx;   /* one reference held here */
	char *cert_pem; /* NUL-terminated */
	char *key_pem;  /* NUL-terminated; wiped before free */
	size_t key_len;
	char fp[TLS_FP_LEN];
};

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tls_state tls_cur;
static unsigned tls_gen;
static void (*tls_hook)(void *ssl_ctx);
static tls_pair_source *tls_source; /* set once, before threads */

/* ---- helpers ---- */

/* err <- "what: <first OpenSSL error>" and clear the queue. */
static void tls_ossl_err(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errsz, "%s: %s", what, buf);
	ERR_clear_error();
}

static void tls_wipe_free(char *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

/* Read a whole PEM file (bounded) from fd, which it closes, into a
 * NUL-terminated buffer; path names it in messages.  With is_key, refuse
 * files other users may read or write.  Returns the buffer (caller frees;
 * wipe it for keys) or NULL with err. */
static char *tls_read_fd(int fd, const char *path, int is_key, size_t *lenp, char *err,
                         size_t errsz)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		goto fail;
	}
	/* SECURITY: a private key others can read is already compromised and
	 * one others can write can be swapped; refuse to use either.  Group
	 * access is allowed so an operator can share it with a service group. */
	if (is_key && (st.st_mode & S_IROTH)) {
		snprintf(err, errsz, "%s: private key is readable by other users; chmod 600 it",
		         path);
		goto fail;
	}
	if (is_key && (st.st_mode & S_IWOTH)) {
		snprintf(err, errsz, "%s: private key is writable by other users; chmod 600 it",
		         path);
		goto fail;
	}
	if (is_key && (st.st_mode & S_IXOTH)) {
		snprintf(err, errsz, "%s: private key is accessible by other users; chmod 600 it",
		         path);
		goto fail;
	}
	if (st.st_size > TLS_PEM_MAX) {
		snprintf(err, errsz, "%s: larger than %d bytes", path, TLS_PEM_MAX);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break; /* shrank while reading: use what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
fail:
	if (buf != NULL)
		tls_wipe_free(buf, (size_t)st.st_size + 1);
	close(fd);
	return NULL;
}

static void tls_fingerprint_of(X509 *x, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789ABCDEF";
	if (outsz == 0)
		return;
	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || outsz < (size_t)n * 3)
		return;
	for (unsigned i = 0; i < n; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 15];
		out[i * 3 + 2] = i + 1 < n ? ':' : '\0';
	}
}

/* Log subject, expiry and fingerprint of the leaf certificate. */
static void tls_log_cert(X509 *x, const char *fp, const char *why)
{
	char subj[512] = "?", notafter[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());
	if (b != NULL) {
		X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
		int n = BIO_read(b, subj, sizeof(subj) - 1);
		subj[n > 0 ? n : 0] = '\0';
		(void)BIO_reset(b);
		ASN1_TIME_print(b, X509_get0_notAfter(x));
		n = BIO_read(b, notafter, sizeof(notafter) - 1);
		notafter[n > 0 ? n : 0] = '\0';
		BIO_free(b);
	}
	/* The subject comes from a file the operator chose; escape it anyway
	 * (RFC 2253 output may hold any byte of the certificate). */
	char esc[600];
	log_info("tls: %s certificate subject %s, expires %s, SHA-256 fingerprint %s", why,
	         log_esc(esc, sizeof(esc), subj, strlen(subj)), notafter, fp);
}

/* ---- the policy ---- */

/* A server context with the policy, but no certificate yet. */
static SSL_CTX *tls_ctx_policy(char *err, size_t errsz)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_ossl_err(err, errsz, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		tls_ossl_err(err, errsz, "TLS versions");
		goto fail;
	}
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		tls_ossl_err(err, errsz, "TLS 1.2 ciphers");
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) != 1) {
		tls_ossl_err(err, errsz, "TLS 1.3 suites");
		goto fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		tls_ossl_err(err, errsz, "TLS groups");
		goto fail;
	}
	/* SECURITY: server order (our AEAD list, not the client's), no
	 * compression (CRIME), no renegotiation (client-initiated DoS). */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	                             SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	/* The chain sent is exactly the one in tls_cert (tls_ctx_load installs
	 * it); without this, OpenSSL would try to build a chain from its empty
	 * trust store on every full handshake, finding nothing.
	 * Read-ahead: a record is read with one recv() instead of two (header,
	 * body); the event loops read until EAGAIN, so records buffered in the
	 * SSL object are never forgotten (CCC, the one case where plain text
	 * could follow TLS on a socket, is refused). */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_read_ahead(ctx, 1);
	/* FTPS: the data channel resumes the control channel's session. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SESSION_ID_CTX,
	                                   sizeof(TLS_SESSION_ID_CTX) - 1) != 1) {
		tls_ossl_err(err, errsz, "session id context");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Install the certificate chain from PEM text (leaf first, then the
 * chain, like SSL_CTX_use_certificate_chain_file) and the key.  Fills fp
 * and *leafp (a reference for the caller). */
static int tls_ctx_load(SSL_CTX *ctx, const char *cert_pem, size_t cert_len, const char *key_pem,
                        size_t key_len, const char *cert_name, const char *key_name, X509 **leafp,
                        char *err, size_t errsz)
{
	int rc = -1;
	X509 *leaf = NULL, *ca = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *b = BIO_new_mem_buf(cert_pem, (int)cert_len);
	if (b == NULL) {
		tls_ossl_err(err, errsz, cert_name);
		goto fail;
	}
	ERR_clear_error();
	leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
	if (leaf == NULL) {
		tls_ossl_err(err, errsz, cert_name);
		goto fail;
	}
	if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
		tls_ossl_err(err, errsz, cert_name);
		goto fail;
	}
	SSL_CTX_clear_chain_certs(ctx);
	for (int n = 0; n < 32; n++) {
		ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (ca == NULL)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			tls_ossl_err(err, errsz, cert_name);
			goto fail;
		}
		ca = NULL; /* owned by ctx */
	}
	/* The loop ends at "no start line" (end of file); anything else is a
	 * broken chain certificate. */
	unsigned long e = ERR_peek_last_error();
	if (e != 0 &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		tls_ossl_err(err, errsz, cert_name);
		goto fail;
	}
	ERR_clear_error();
	BIO_free(b);
	b = BIO_new_mem_buf(key_pem, (int)key_len);
	if (b == NULL) {
		tls_ossl_err(err, errsz, key_name);
		goto fail;
	}
	/* Empty passphrase callback: an encrypted key fails instead of
	 * prompting on the terminal. */
	static char nopass[1];
	pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, nopass);
	if (pkey == NULL) {
		tls_ossl_err(err, errsz, key_name);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		unsigned long k = ERR_peek_last_error();
		if (ERR_GET_LIB(k) == ERR_LIB_X509 &&
		    (ERR_GET_REASON(k) == X509_R_KEY_VALUES_MISMATCH ||
		     ERR_GET_REASON(k) == X509_R_KEY_TYPE_MISMATCH)) {
			ERR_clear_error();
			snprintf(err, errsz, "%s does not match the certificate %s", key_name,
			         cert_name);
		} else {
			tls_ossl_err(err, errsz, key_name);
		}
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errsz, "%s does not match the certificate %s", key_name, cert_name);
		goto fail;
	}
	*leafp = leaf;
	leaf = NULL;
	rc = 0;
fail:
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	BIO_free(b);
	return rc;
}

/* ---- generation ---- */

/* Host name usable in a DNS SAN: letters, digits, '-', '.'; else "". */
static void tls_hostname(char *out, size_t outsz)
{
	out[0] = '\0';
	if (gethostname(out, outsz) != 0) {
		out[0] = '\0';
		return;
	}
	out[outsz - 1] = '\0';
	for (char *p = out; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) {
			out[0] = '\0';
			return;
		}
	}
	if (strcmp(out, "localhost") == 0)
		out[0] = '\0'; /* already in the list */
}

static int tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

int tls_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                     size_t errsz)
{
	char tmp[PM_PATH_MAX + 16];
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	/* mkostemp: O_CREAT|O_EXCL with mode 0600 whatever the umask, so the
	 * key is never readable by others, not even for a moment. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "%s: %s", tmp,
			         n < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* The PEM text of a memory BIO as a malloc'ed, NUL-terminated string. */
static char *tls_bio_str(BIO *b, size_t *lenp)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*lenp = (size_t)n;
	return s;
}

int tls_generate(const char *cert_path, const char *key_path, char *err, size_t errsz)
{
	int rc = -1;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	BIO *kb = NULL, *cb = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	unsigned char serial[16];
	char host[256], san[400];

	pkey = EVP_EC_gen("P-256");
	if (pkey == NULL) {
		tls_ossl_err(err, errsz, "generating the P-256 key");
		goto fail;
	}
	x = X509_new();
	if (x == NULL || X509_set_version(x, 2) != 1) {
		tls_ossl_err(err, errsz, "X509_new");
		goto fail;
	}
	/* A random positive 127-bit serial (RFC 5280: unique, <= 20 bytes). */
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		tls_ossl_err(err, errsz, "RAND_bytes");
		goto fail;
	}
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		tls_ossl_err(err, errsz, "serial");
		goto fail;
	}
	/* Valid from an hour ago (clients with a slow clock), TLS_DAYS. */
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_DAYS, 0, NULL) == NULL) {
		tls_ossl_err(err, errsz, "validity");
		goto fail;
	}
	tls_hostname(host, sizeof(host));
	X509_NAME *name = X509_get_subject_name(x);
	const char *cn = host[0] != '\0' && strlen(host) <= 64 ? host : "localhost";
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pubmirror",
	                               -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1) {
		tls_ossl_err(err, errsz, "subject");
		goto fail;
	}
	if (host[0] != '\0')
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (tls_add_ext(x, NID_subject_alt_name, san) != 0 ||
	    tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    tls_add_ext(x, NID_key_usage, "critical,digitalSignature") != 0 ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth") != 0 ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") != 0) {
		tls_ossl_err(err, errsz, "certificate extensions");
		goto fail;
	}
	if (X509_sign(x, pkey, EVP_sha256()) <= 0) {
		tls_ossl_err(err, errsz, "signing the certificate");
		goto fail;
	}
	kb = BIO_new(BIO_s_secmem());
	cb = BIO_new(BIO_s_mem());
	if (kb == NULL || cb == NULL ||
	    PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, x) != 1) {
		tls_ossl_err(err, errsz, "PEM encoding");
		goto fail;
	}
	kpem = tls_bio_str(kb, &klen);
	cpem = tls_bio_str(cb, &clen);
	if (kpem == NULL || cpem == NULL) {
		snprintf(err, errsz, "PEM encoding: out of memory");
		goto fail;
	}
	/* Key first: a crash between the two leaves a key without a
	 * certificate, which tls_init regenerates. */
	if (tls_write_atomic(key_path, kpem, klen, 0600, err, errsz) != 0 ||
	    tls_write_atomic(cert_path, cpem, clen, 0644, err, errsz) != 0)
		goto fail;
	rc = 0;
fail:
	tls_wipe_free(kpem, klen);
	free(cpem);
	BIO_free(kb);
	BIO_free(cb);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

/* ---- loading and publishing ---- */

/* Days until the certificate in PEM file path expires (negative when it
 * has), or TLS_DAYS_UNKNOWN when it cannot be read. */
static int tls_file_days_left(const char *path)
{
	int days = TLS_DAYS_UNKNOWN, secs = 0;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return TLS_DAYS_UNKNOWN;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x != NULL && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		days = TLS_DAYS_UNKNOWN;
	X509_free(x);
	return days;
}

int tls_generated_days_left(const struct config *c)
{
	char cert[PM_PATH_MAX + 16];
	if (c->tls_cert[0] != '\0' || c->tls_key[0] != '\0')
		return TLS_DAYS_OWN;
	const char *dir = c->state_dir[0] != '\0' ? c->state_dir : ".";
	if (snprintf(cert, sizeof(cert), "%s/cert.pem", dir) >= (int)sizeof(cert))
		return TLS_DAYS_OWN;
	return tls_file_days_left(cert);
}

/* Seconds until the generated certificate at cert is due for renewal:
 * TLS_RENEW_DAYS before its end, or when its file is tls_generated_max_age
 * old (when set).  0 when due, -1 when it cannot be read. */
static long tls_due_in(const struct config *c, const char *cert)
{
	int days = 0, secs = 0;
	FILE *f = fopen(cert, "re");
	if (f == NULL)
		return -1;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	int ok = x != NULL && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1;
	X509_free(x);
	if (!ok)
		return -1;
	long in = (long)days * 86400 + secs - (long)TLS_RENEW_DAYS * 86400;
	struct stat st;
	if (c->tls_generated_max_age > 0 && stat(cert, &st) == 0) {
		long by = (long)c->tls_generated_max_age - (long)(time(NULL) - st.st_mtime);
		if (by < in)
			in = by;
	}
	return in < 0 ? 0 : in;
}

long tls_generated_renew_in(const struct config *c)
{
	char cert[PM_PATH_MAX + 16], key[PM_PATH_MAX + 16];
	struct stat st;
	if (c->tls_cert[0] != '\0' || c->tls_key[0] != '\0')
		return -1;
	/* Built-in ACME's pair, once issued, is the ACME client's to renew. */
	if (c->acme_directory[0] != '\0' && tls_acme_paths(c, cert, key, sizeof(cert)) == 0 &&
	    stat(cert, &st) == 0 && stat(key, &st) == 0)
		return -1;
	const char *dir = c->state_dir[0] != '\0' ? c->state_dir : ".";
	if (snprintf(cert, sizeof(cert), "%s/cert.pem", dir) >= (int)sizeof(cert))
		return -1;
	return tls_due_in(c, cert);
}

/* Resolve the paths in force: the configured pair, or the generated pair
 * in state_dir (created, and generated once, when missing). */
static int tls_paths(const struct config *c, char *cert, char *key, size_t sz, int may_generate,
                     char *err, size_t errsz)
{
	if (c->tls_cert[0] != '\0' || c->tls_key[0] != '\0') {
		if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0') {
			snprintf(err, errsz, "tls_cert and tls_key must be set together");
			return -1;
		}
		snprintf(cert, sz, "%s", c->tls_cert);
		snprintf(key, sz, "%s", c->tls_key);
		return 0;
	}
	const char *dir = c->state_dir[0] != '\0' ? c->state_dir : ".";
	/* Built-in ACME: its pair once issued, the generated one until then. */
	struct stat ast;
	if (c->acme_directory[0] != '\0' && tls_acme_paths(c, cert, key, sz) == 0 &&
	    stat(cert, &ast) == 0 && stat(key, &ast) == 0)
		return 0;
	if (snprintf(cert, sz, "%s/cert.pem", dir) >= (int)sz ||
	    snprintf(key, sz, "%s/key.pem", dir) >= (int)sz) {
		snprintf(err, errsz, "%s: path too long", dir);
		return -1;
	}
	if (!may_generate)
		return 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	int have_cert = stat(cert, &st) == 0, cert_errno = errno;
	int have_key = stat(key, &st) == 0, key_errno = errno;
	if (have_cert && have_key) {
		/* The generated pair is ours to renew: at start, and while
		 * running by the privileged helper (privsep.c), one that is due
		 * is replaced (the new fingerprint is logged when it loads). */
		if (tls_due_in(c, cert) != 0)
			return 0;
		log_info("tls: the generated certificate in %s expires in %d days (renewed when "
		         "under %d, or at tls_generated_max_age); generating a new one",
		         dir, tls_file_days_left(cert), TLS_RENEW_DAYS);
		return tls_generate(cert, key, err, errsz);
	}
	if (!have_cert && cert_errno != ENOENT) {
		snprintf(err, errsz, "%s: %s", cert, strerror(cert_errno));
		return -1;
	}
	if (!have_key && key_errno != ENOENT) {
		snprintf(err, errsz, "%s: %s", key, strerror(key_errno));
		return -1;
	}
	/* A key without its certificate is what an interrupted generation
	 * leaves (the key is written first): generate again.  A certificate
	 * without its key is someone's doing: say so rather than replace it. */
	if (have_cert) {
		snprintf(err, errsz,
		         "%s exists but %s does not; restore the key or remove the "
		         "certificate to generate a new pair",
		         cert, key);
		return -1;
	}
	log_info("tls: no certificate in %s; generating a self-signed one (ECDSA P-256)", dir);
	return tls_generate(cert, key, err, errsz);
}

int tls_acme_paths(const struct config *c, char *cert, char *key, size_t sz)
{
	const char *dir = c->state_dir[0] != '\0' ? c->state_dir : ".";
	if (snprintf(cert, sz, "%s/acme/cert.pem", dir) >= (int)sz ||
	    snprintf(key, sz, "%s/acme/key.pem", dir) >= (int)sz)
		return -1;
	return 0;
}

int tls_open_pair(const struct config *c, int may_generate, int fds[2], char *cert, char *key,
                  size_t sz, char *err, size_t errsz)
{
	if (tls_paths(c, cert, key, sz, may_generate, err, errsz) != 0)
		return -1;
	fds[0] = open(cert, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fds[0] < 0) {
		snprintf(err, errsz, "%s: %s", cert, strerror(errno));
		return -1;
	}
	fds[1] = open(key, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fds[1] < 0) {
		snprintf(err, errsz, "%s: %s", key, strerror(errno));
		close(fds[0]);
		return -1;
	}
	return 0;
}

void tls_set_pair_source(tls_pair_source *src)
{
	tls_source = src;
}

/* Build a complete new state from c's files. */
static int tls_build(const struct config *c, int may_generate, struct tls_state *st, X509 **leafp,
                     char *err, size_t errsz)
{
	char cert[PM_PATH_MAX + 16], key[PM_PATH_MAX + 16];
	size_t clen = 0;
	int fds[2];
	memset(st, 0, sizeof(*st));
	int r = tls_source != NULL
	            ? tls_source(may_generate, fds, cert, key, sizeof(cert), err, errsz)
	            : tls_open_pair(c, may_generate, fds, cert, key, sizeof(cert), err, errsz);
	if (r != 0)
		return -1;
	st->cert_pem = tls_read_fd(fds[0], cert, 0, &clen, err, errsz);
	if (st->cert_pem == NULL) {
		close(fds[1]);
		goto fail;
	}
	st->key_pem = tls_read_fd(fds[1], key, 1, &st->key_len, err, errsz);
	if (st->key_pem == NULL)
		goto fail;
	st->ctx = tls_ctx_policy(err, errsz);
	if (st->ctx == NULL)
		goto fail;
	if (tls_ctx_load(st->ctx, st->cert_pem, clen, st->key_pem, st->key_len, cert, key, leafp,
	                 err, errsz) != 0)
		goto fail;
	tls_fingerprint_of(*leafp, st->fp, sizeof(st->fp));
	return 0;
fail:
	SSL_CTX_free(st->ctx);
	free(st->cert_pem);
	tls_wipe_free(st->key_pem, st->key_len);
	memset(st, 0, sizeof(*st));
	return -1;
}

static int tls_load_publish(const struct config *c, int may_generate, const char *why, char *err,
                            size_t errsz)
{
	struct tls_state st, old;
	X509 *leaf = NULL;
	if (tls_build(c, may_generate, &st, &leaf, err, errsz) != 0)
		return -1;
	pthread_mutex_lock(&tls_mu);
	/* The hook sees the context before anyone else can. */
	if (tls_hook != NULL)
		tls_hook(st.ctx);
	old = tls_cur;
	tls_cur = st;
	tls_gen++;
	pthread_mutex_unlock(&tls_mu);
	tls_log_cert(leaf, st.fp, why);
	X509_free(leaf);
	/* Live connections hold their own references to the old context. */
	SSL_CTX_free(old.ctx);
	free(old.cert_pem);
	tls_wipe_free(old.key_pem, old.key_len);
	return 0;
}

int tls_init(const struct config *c, char *err, size_t errsz)
{
	return tls_load_publish(c, 1, "loaded", err, errsz);
}

int tls_reload(const struct config *c, char *err, size_t errsz)
{
	/* A reload never generates: a missing file is an error to report,
	 * not a reason to replace the certificate clients have seen. */
	return tls_load_publish(c, 0, "reloaded", err, errsz);
}

void tls_shutdown(void)
{
	pthread_mutex_lock(&tls_mu);
	struct tls_state old = tls_cur;
	memset(&tls_cur, 0, sizeof(tls_cur));
	pthread_mutex_unlock(&tls_mu);
	SSL_CTX_free(old.ctx);
	free(old.cert_pem);
	tls_wipe_free(old.key_pem, old.key_len);
}

void tls_set_ctx_hook(void (*hook)(void *ssl_ctx))
{
	pthread_mutex_lock(&tls_mu);
	tls_hook = hook;
	if (hook != NULL && tls_cur.ctx != NULL)
		hook(tls_cur.ctx);
	pthread_mutex_unlock(&tls_mu);
}

char *tls_cert_pem(void)
{
	pthread_mutex_lock(&tls_mu);
	char *s = tls_cur.cert_pem != NULL ? strdup(tls_cur.cert_pem) : NULL;
	pthread_mutex_unlock(&tls_mu);
	return s;
}

char *tls_key_pem(void)
{
	pthread_mutex_lock(&tls_mu);
	char *s = tls_cur.key_pem != NULL ? strdup(tls_cur.key_pem) : NULL;
	pthread_mutex_unlock(&tls_mu);
	return s;
}

unsigned tls_generation(void)
{
	pthread_mutex_lock(&tls_mu);
	unsigned g = tls_gen;
	pthread_mutex_unlock(&tls_mu);
	return g;
}

void tls_fingerprint(char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	pthread_mutex_lock(&tls_mu);
	snprintf(out, outsz, "%s", tls_cur.fp);
	pthread_mutex_unlock(&tls_mu);
}

const char *tls_gnutls_priorities(void)
{
	return tls_gnutls_prio;
}

void *tls_ctx_acquire(void)
{
	pthread_mutex_lock(&tls_mu);
	SSL_CTX *ctx = tls_cur.ctx;
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&tls_mu);
	return ctx;
}

void tls_ctx_release(void *ctx)
{
	SSL_CTX_free(ctx);
}
