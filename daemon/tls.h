/* tls.h - the certificate and the one TLS policy of both protocols.
 *
 * Only tls*.c and hash.c include OpenSSL.  FTPS uses OpenSSL contexts from
 * here; HTTPS (libmicrohttpd + GnuTLS) takes the same PEM bytes and the
 * GnuTLS priority string that matches the same policy: TLS 1.2 and 1.3
 * only, AEAD suites with forward secrecy, server order.
 */
#ifndef PUBMIRROR_TLS_H
#define PUBMIRROR_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct config;

/* Load tls_cert/tls_key, or when unset load-or-generate a self-signed pair
 * in state_dir (SAN: localhost, 127.0.0.1, ::1, host name; key mode 0600).
 * Refuses a key readable by group/others.  Builds the FTPS context and logs
 * the certificate's SHA-256 fingerprint.  0, or -1 with err filled. */
int tls_init(const struct config *c, char *err, size_t errsz);
/* Reload the certificate and key (SIGHUP).  On failure the old ones stay
 * in force.  0 or -1 (err). */
int tls_reload(const struct config *c, char *err, size_t errsz);
void tls_shutdown(void);

/* The PEM bytes in force (NUL-terminated, certificate with chain; key).
 * Copies owned by the caller: free() them. NULL on ENOMEM. */
char *tls_cert_pem(void);
char *tls_key_pem(void);
/* Generation number, increases on every successful reload. */
unsigned tls_generation(void);
/* "AA:BB:..." SHA-256 of the leaf certificate in force. */
void tls_fingerprint(char *out, size_t outsz);

/* GnuTLS priority string equal to the OpenSSL policy. */
const char *tls_gnutls_priorities(void);

/* The FTPS server context in force, as an opaque pointer (SSL_CTX *) with
 * a reference taken for the caller: release with tls_ctx_release. */
void *tls_ctx_acquire(void);
void tls_ctx_release(void *ctx);

/* Protocol-specific settings for the FTPS context (SSL_CTX *): hook runs
 * at once on the context in force and on every context a reload builds,
 * before it is published.  It runs under tls's lock: it must not call
 * tls_* functions.  Set it before serving (NULL removes it). */
void tls_set_ctx_hook(void (*hook)(void *ssl_ctx));

/* Resolve the certificate and key in force for c (the configured pair;
 * the built-in ACME pair once issued; else the generated pair in
 * state_dir, generated when may_generate and missing) and open both:
 * fds[0] certificate, fds[1] key, paths copied into cert/key (sz bytes
 * each).  Needs the privileges to read them.  0, or -1 (err). */
int tls_open_pair(const struct config *c, int may_generate, int fds[2], char *cert, char *key,
                  size_t sz, char *err, size_t errsz);
/* Where built-in ACME keeps its pair: state_dir/acme/{cert,key}.pem.  0/-1. */
int tls_acme_paths(const struct config *c, char *cert, char *key, size_t sz);
/* Who opens the pair for tls_init/tls_reload: by default tls_open_pair in
 * this process; after a privilege drop, a privileged helper (privsep.h)
 * that answers with descriptors.  Same contract as tls_open_pair (the
 * helper re-reads the configuration itself).  Set before serving. */
typedef int tls_pair_source(int may_generate, int fds[2], char *cert, char *key, size_t sz,
                            char *err, size_t errsz);
void tls_set_pair_source(tls_pair_source *src);

/* Write data to path atomically: a new file (O_EXCL, 0600 from the
 * start) beside it, fchmod mode, fsync, rename over path.  0 or -1 (err). */
int tls_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                     size_t errsz);

/* Generate a self-signed pair into cert_path/key_path (used by tls_init
 * and by tests/benchmarks).  0 or -1 (err). */
int tls_generate(const char *cert_path, const char *key_path, char *err, size_t errsz);
#define TLS_DAYS_OWN 1000000        /* tls_cert/tls_key name the admin's pair */
#define TLS_DAYS_UNKNOWN (-1000000) /* no readable certificate */
/* Days left on the generated certificate in state_dir (TLS_DAYS_OWN when
 * the configuration names its own pair, TLS_DAYS_UNKNOWN when unreadable).  A start
 * renews it when under 30 days, the privileged helper while running. */
int tls_generated_days_left(const struct config *c);
/* Seconds until the generated pair in state_dir is due for renewal (under
 * 30 days left, or tls_generated_max_age old): 0 when due now; -1 when
 * there is none to renew (the configuration names its own pair, the ACME
 * pair is in force, or the certificate cannot be read).  The next
 * tls_open_pair with may_generate replaces a due pair. */
long tls_generated_renew_in(const struct config *c);

#endif
