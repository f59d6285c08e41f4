/* acme.h - built-in ACME client (RFC 8555), HTTP-01, run by the privileged
 * helper (privsep.h), never by the sandboxed serving process.
 *
 * State in state_dir/acme/: account.key (ECDSA P-256, 0600), key.pem and
 * cert.pem of the certificate in force (tls.h: tls_acme_paths).  The HTTP
 * listener answers /.well-known/acme-challenge/<token> with
 * "<token>.<thumbprint>" (the key authorization of RFC 8555 section 8.1,
 * which depends on nothing else), so no per-challenge state crosses from
 * the helper to the serving process: only the account thumbprint, once.
 */
#ifndef PUBMIRROR_ACME_H
#define PUBMIRROR_ACME_H

#include <stddef.h>
#include <sys/types.h>

struct config;

/* Load or create the account key; its RFC 7638 thumbprint (base64url)
 * into tp.  0, or -1 (err). */
int acme_init(const struct config *c, char *tp, size_t tpsz, char *err, size_t errsz);
/* Start the thread that obtains the certificate and renews it at 2/3 of
 * its lifetime (or at acme_renew_max_age), retrying every acme_retry
 * seconds while the CA fails; after each new pair it calls notify (the
 * helper tells the serving process, which reloads the certificate as for
 * SIGUSR2).  Takes ownership of c.  0 or -1. */
int acme_start(struct config *c, void (*notify)(void));
/* Held while the pair files change (the helper opens them under it). */
void acme_lock(void);
void acme_unlock(void);

#endif
