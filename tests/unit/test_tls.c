/* test_tls.c - certificate generation, loading rules, reload, and real
 * handshakes against the policy over a socketpair. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* -Idaemon makes <limits.h> find daemon/limits.h, so the system's INT_MAX
 * (used by OpenSSL's err.h) is missing; take the compiler's. */
#ifndef INT_MAX
#define INT_MAX __INT_MAX__
#endif
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"
#include "unit.h"

static char tmpdir[256];

static void path_in(char *out, size_t sz, const char *name)
{
	snprintf(out, sz, "%s/%s", tmpdir, name);
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* 1 when the certificate's SAN holds this DNS name or IP text. */
static int san_has(X509 *x, int type, const char *want)
{
	int found = 0;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != type)
			continue;
		if (type == GEN_DNS) {
			const char *s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			if (strcmp(s, want) == 0)
				found = 1;
		} else {
			unsigned char ip[16];
			int len = strchr(want, ':') ? 16 : 4;
			if (inet_pton(len == 16 ? AF_INET6 : AF_INET, want, ip) == 1 &&
			    ASN1_STRING_length(g->d.iPAddress) == len &&
			    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)len) == 0)
				found = 1;
		}
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static int fp_format_ok(const char *fp)
{
	if (strlen(fp) != 95)
		return 0;
	for (int i = 0; i < 95; i++) {
		char c = fp[i];
		if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

static void test_generate_and_init(struct config *c)
{
	char err[512] = "", cert[512], key[512], fp1[128], fp2[128];
	snprintf(c->state_dir, sizeof(c->state_dir), "%s/state", tmpdir);
	CHECK_INT("tls_init generates into a missing state_dir", 0, tls_init(c, err, sizeof(err)));
	if (err[0])
		printf("# %s\n", err);
	struct stat st;
	CHECK("state_dir created with mode 0700",
	      stat(c->state_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	path_in(cert, sizeof(cert), "state/cert.pem");
	path_in(key, sizeof(key), "state/key.pem");
	CHECK("key.pem mode 0600", stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK("cert.pem mode 0644", stat(cert, &st) == 0 && (st.st_mode & 0777) == 0644);
	X509 *x = read_cert(cert);
	CHECK("cert.pem parses", x != NULL);
	if (x != NULL) {
		char host[256] = "";
		gethostname(host, sizeof(host));
		CHECK("SAN has DNS:localhost", san_has(x, GEN_DNS, "localhost"));
		CHECK("SAN has IP:127.0.0.1", san_has(x, GEN_IPADD, "127.0.0.1"));
		CHECK("SAN has IP:::1", san_has(x, GEN_IPADD, "::1"));
		CHECK("SAN has DNS:<hostname>", san_has(x, GEN_DNS, host));
		CHECK_INT("X509 v3", 2, X509_get_version(x));
		CHECK("not a CA", X509_check_ca(x) == 0);
		CHECK("serverAuth", (X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);
		EVP_PKEY *pk = X509_get0_pubkey(x);
		CHECK("ECDSA P-256 key",
		      pk != NULL && EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_bits(pk) == 256);
		int days = 0, secs = 0;
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
		CHECK("valid 397 days (browsers' limit)", days >= 396 && days <= 397);
		X509_free(x);
	}
	tls_fingerprint(fp1, sizeof(fp1));
	CHECK("fingerprint format AA:BB:... (32 bytes)", fp_format_ok(fp1));
	unsigned g = tls_generation();
	CHECK("generation set", g >= 1);
	char *pem = tls_cert_pem(), *kpem = tls_key_pem();
	CHECK("cert PEM in force", pem != NULL && strstr(pem, "BEGIN CERTIFICATE") != NULL);
	CHECK("key PEM in force", kpem != NULL && strstr(kpem, "PRIVATE KEY") != NULL);
	free(pem);
	free(kpem);

	CHECK_INT("second tls_init reuses the pair", 0, tls_init(c, err, sizeof(err)));
	tls_fingerprint(fp2, sizeof(fp2));
	CHECK_STR("same fingerprint after second init", fp1, fp2);

	/* Group-readable is allowed, others-readable is not. */
	chmod(key, 0640);
	CHECK_INT("group-readable key accepted", 0, tls_init(c, err, sizeof(err)));
	chmod(key, 0644);
	err[0] = '\0';
	CHECK_INT("others-readable key refused", -1, tls_init(c, err, sizeof(err)));
	CHECK("message says chmod 600",
	      strstr(err, "key.pem: private key is readable by other users; chmod 600 it") != NULL);
	printf("# %s\n", err);
	chmod(key, 0602);
	err[0] = '\0';
	CHECK_INT("others-writable key refused", -1, tls_init(c, err, sizeof(err)));
	CHECK("message says writable", strstr(err, "writable by other users") != NULL);
	tls_fingerprint(fp2, sizeof(fp2));
	CHECK_STR("refused key keeps the pair in force", fp1, fp2);
	chmod(key, 0600);

	/* A key without certificate (interrupted generation): regenerate. */
	unlink(cert);
	CHECK_INT("missing cert.pem is generated again", 0, tls_init(c, err, sizeof(err)));
	tls_fingerprint(fp2, sizeof(fp2));
	CHECK("new pair, new fingerprint", strcmp(fp1, fp2) != 0);
	/* A certificate without its key: refused, not replaced. */
	unlink(key);
	err[0] = '\0';
	CHECK_INT("cert without key refused", -1, tls_init(c, err, sizeof(err)));
	printf("# %s\n", err);
	CHECK_INT("tls_generate restores a pair", 0, tls_generate(cert, key, err, sizeof(err)));
}

static void test_explicit_and_reload(struct config *c)
{
	char err[512] = "", ca[512], ka[512], cb[512], kb[512], fpa[128], fpb[128], fp[128];
	path_in(ca, sizeof(ca), "a.crt");
	path_in(ka, sizeof(ka), "a.key");
	path_in(cb, sizeof(cb), "b.crt");
	path_in(kb, sizeof(kb), "b.key");
	CHECK_INT("generate pair a", 0, tls_generate(ca, ka, err, sizeof(err)));
	CHECK_INT("generate pair b", 0, tls_generate(cb, kb, err, sizeof(err)));

	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", ca);
	snprintf(c->tls_key, sizeof(c->tls_key), "%s", kb);
	err[0] = '\0';
	CHECK_INT("mismatched cert and key refused", -1, tls_init(c, err, sizeof(err)));
	CHECK("message says does not match", strstr(err, "does not match") != NULL);
	printf("# %s\n", err);

	snprintf(c->tls_key, sizeof(c->tls_key), "%s", ka);
	CHECK_INT("explicit pair a loads", 0, tls_init(c, err, sizeof(err)));
	tls_fingerprint(fpa, sizeof(fpa));
	unsigned g = tls_generation();

	/* A chain: leaf b followed by an extra certificate (a) is accepted
	 * and served as leaf b (chain-file semantics). */
	char chain[512];
	path_in(chain, sizeof(chain), "b-chain.crt");
	FILE *out = fopen(chain, "w"), *in1 = fopen(cb, "r"), *in2 = fopen(ca, "r");
	char buf[8192];
	size_t n;
	while (in1 && out && (n = fread(buf, 1, sizeof(buf), in1)) > 0)
		fwrite(buf, 1, n, out);
	while (in2 && out && (n = fread(buf, 1, sizeof(buf), in2)) > 0)
		fwrite(buf, 1, n, out);
	if (in1)
		fclose(in1);
	if (in2)
		fclose(in2);
	if (out)
		fclose(out);
	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", chain);
	snprintf(c->tls_key, sizeof(c->tls_key), "%s", kb);
	CHECK_INT("reload with pair b (with chain)", 0, tls_reload(c, err, sizeof(err)));
	tls_fingerprint(fpb, sizeof(fpb));
	CHECK("reload changes the fingerprint", strcmp(fpa, fpb) != 0);
	CHECK_INT("reload increments generation", g + 1, tls_generation());
	char *pem = tls_cert_pem();
	const char *second = pem ? strstr(pem + 1, "BEGIN CERTIFICATE") : NULL;
	CHECK("cert PEM in force includes the chain", second != NULL);
	free(pem);
	SSL_CTX *ctx = tls_ctx_acquire();
	STACK_OF(X509) *chainsk = NULL;
	CHECK("context carries one chain certificate",
	      ctx && SSL_CTX_get0_chain_certs(ctx, &chainsk) == 1 && chainsk &&
	          sk_X509_num(chainsk) == 1);
	tls_ctx_release(ctx);

	/* Broken certificate: the old pair stays. */
	char broken[512];
	path_in(broken, sizeof(broken), "broken.crt");
	out = fopen(broken, "w");
	if (out) {
		fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
		      out);
		fclose(out);
	}
	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", broken);
	err[0] = '\0';
	CHECK_INT("reload with a broken cert fails", -1, tls_reload(c, err, sizeof(err)));
	printf("# %s\n", err);
	tls_fingerprint(fp, sizeof(fp));
	CHECK_STR("broken reload keeps the old fingerprint", fpb, fp);
	CHECK_INT("broken reload keeps the generation", g + 1, tls_generation());
	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s/missing.crt", tmpdir);
	CHECK_INT("reload with a missing cert fails", -1, tls_reload(c, err, sizeof(err)));
	CHECK("message names the file", strstr(err, "missing.crt") != NULL);
	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", ca);
	c->tls_key[0] = '\0';
	CHECK_INT("tls_cert without tls_key refused", -1, tls_reload(c, err, sizeof(err)));
	snprintf(c->tls_key, sizeof(c->tls_key), "%s", ka);
}

/* ---- handshakes ---- */

static int hook_calls;
static void hook(void *ssl_ctx)
{
	hook_calls++;
	SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
}

struct server_arg {
	SSL_CTX *ctx;
	int fd;
	int ok;
	char version[32], cipher[64];
};

static void *serve_one(void *p)
{
	struct server_arg *a = p;
	SSL *s = SSL_new(a->ctx);
	SSL_set_fd(s, a->fd);
	a->ok = SSL_accept(s) == 1;
	if (a->ok) {
		snprintf(a->version, sizeof(a->version), "%s", SSL_get_version(s));
		snprintf(a->cipher, sizeof(a->cipher), "%s", SSL_get_cipher_name(s));
		char b[5];
		int n = SSL_read(s, b, sizeof(b));
		if (n > 0)
			SSL_write(s, b, n);
		SSL_shutdown(s);
	}
	SSL_free(s);
	close(a->fd);
	return NULL;
}

/* One handshake between the server context in force and a client limited
 * to [minv, maxv] and (optionally) a TLS 1.2 cipher list. Returns 1 when
 * it succeeded and echoed data. */
static int handshake(int minv, int maxv, const char *ciphers, struct server_arg *sa)
{
	int sv[2], ok = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	memset(sa, 0, sizeof(*sa));
	sa->ctx = tls_ctx_acquire();
	sa->fd = sv[0];
	pthread_t th;
	pthread_create(&th, NULL, serve_one, sa);

	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	/* Level 0 so this client really offers TLS 1.1: the refusal must
	 * come from the server's policy, not the client library. */
	SSL_CTX_set_security_level(cctx, 0);
	SSL_CTX_set_min_proto_version(cctx, minv);
	SSL_CTX_set_max_proto_version(cctx, maxv);
	SSL_CTX_set_cipher_list(cctx, ciphers ? ciphers : "ALL:@SECLEVEL=0");
	SSL *s = SSL_new(cctx);
	SSL_set_fd(s, sv[1]);
	if (SSL_connect(s) == 1) {
		char b[5];
		ok = SSL_write(s, "ping", 4) == 4 && SSL_read(s, b, sizeof(b)) == 4 &&
		     memcmp(b, "ping", 4) == 0;
	}
	ERR_clear_error();
	SSL_free(s);
	SSL_CTX_free(cctx);
	close(sv[1]);
	pthread_join(th, NULL);
	tls_ctx_release(sa->ctx);
	ERR_clear_error();
	return ok && sa->ok;
}

static void test_handshakes(void)
{
	struct server_arg sa;
	int before = hook_calls;
	tls_set_ctx_hook(hook);
	CHECK_INT("hook applied to the context in force", before + 1, hook_calls);
	SSL_CTX *ctx = tls_ctx_acquire();
	CHECK("hook's setting is in the context",
	      ctx && (SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE) != 0);
	CHECK("server preference, no compression, no renegotiation",
	      ctx &&
	          (SSL_CTX_get_options(ctx) & (SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                       SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION)) ==
	              (SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	               SSL_OP_NO_RENEGOTIATION));
	CHECK_INT("minimum TLS 1.2", TLS1_2_VERSION, ctx ? SSL_CTX_get_min_proto_version(ctx) : 0);
	CHECK_INT("maximum TLS 1.3", TLS1_3_VERSION, ctx ? SSL_CTX_get_max_proto_version(ctx) : 0);
	tls_ctx_release(ctx);

	CHECK_INT("TLS 1.1 client refused", 0,
	          handshake(TLS1_1_VERSION, TLS1_1_VERSION, NULL, &sa));
	CHECK_INT("TLS 1.0 client refused", 0, handshake(TLS1_VERSION, TLS1_VERSION, NULL, &sa));
	CHECK_INT("TLS 1.2 client accepted", 1,
	          handshake(TLS1_2_VERSION, TLS1_2_VERSION, NULL, &sa));
	CHECK_STR("TLS 1.2 negotiated", "TLSv1.2", sa.version);
	CHECK_STR("TLS 1.2: server's first AEAD suite", "ECDHE-ECDSA-AES128-GCM-SHA256", sa.cipher);
	CHECK_INT("TLS 1.2 CBC-only client refused", 0,
	          handshake(TLS1_2_VERSION, TLS1_2_VERSION,
	                    "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", &sa));
	CHECK_INT("TLS 1.2 ChaCha20-only client accepted", 1,
	          handshake(TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", &sa));
	CHECK_INT("TLS 1.3 client accepted", 1,
	          handshake(TLS1_3_VERSION, TLS1_3_VERSION, NULL, &sa));
	CHECK_STR("TLS 1.3 negotiated", "TLSv1.3", sa.version);
	CHECK_STR("TLS 1.3: server's first suite", "TLS_AES_128_GCM_SHA256", sa.cipher);

	/* The hook also runs for contexts built by a reload, and a context
	 * acquired before the reload stays usable. */
	SSL_CTX *old = tls_ctx_acquire();
	struct config *c = calloc(1, sizeof(*c));
	char err[512];
	snprintf(c->tls_cert, sizeof(c->tls_cert), "%s/a.crt", tmpdir);
	snprintf(c->tls_key, sizeof(c->tls_key), "%s/a.key", tmpdir);
	before = hook_calls;
	CHECK_INT("reload", 0, tls_reload(c, err, sizeof(err)));
	CHECK_INT("hook applied to the reloaded context", before + 1, hook_calls);
	ctx = tls_ctx_acquire();
	CHECK("reload published a new context", ctx != old);
	CHECK("new context has the hook's setting",
	      ctx && (SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE) != 0);
	tls_ctx_release(ctx);
	SSL *s = SSL_new(old);
	CHECK("old context still usable after reload", s != NULL);
	SSL_free(s);
	tls_ctx_release(old);
	CHECK_INT("handshake after reload", 1,
	          handshake(TLS1_2_VERSION, TLS1_3_VERSION, NULL, &sa));
	tls_set_ctx_hook(NULL);
	free(c);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	/* OpenSSL writes alerts with write(); a peer that already closed
	 * would raise SIGPIPE (the daemon ignores it too). */
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "%s/pm-tls.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("not ok - mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	struct config *c = calloc(1, sizeof(*c));
	CHECK_STR("GnuTLS priorities match the policy",
	          "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
	          "+AEAD:+ECDHE-ECDSA:+ECDHE-RSA:+SIGN-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
	          "+GROUP-SECP384R1:+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE",
	          tls_gnutls_priorities());
	test_generate_and_init(c);
	test_explicit_and_reload(c);
	test_handshakes();
	tls_shutdown();
	CHECK("no context after shutdown", tls_ctx_acquire() == NULL);
	free(c);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
