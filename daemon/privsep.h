/* privsep.h - the privileged helper that opens the certificate and key.
 *
 * Started as root before the privilege drop, the helper is a second
 * process that stays uid 0 but keeps no capability except
 * CAP_DAC_READ_SEARCH (reading keys of any owner), confined
 * (sandbox_enter_helper), and does three things only: on request, re-read
 * the configuration file and open the certificate and key it names (or the
 * generated pair, or the built-in ACME pair) and pass the two descriptors
 * back over a socketpair; tell the ACME account key's thumbprint; and, when
 * acme_directory is set, run the ACME client (acme.h).  The serving process
 * never names a path to it: it can only ask "the pair in force, please".
 * SECURITY: this is how SIGHUP picks up a renewal from certbot's layout
 * (live/ and archive/ 0700 root, keys 0600 root) after the drop to `user`.
 */
#ifndef PUBMIRROR_PRIVSEP_H
#define PUBMIRROR_PRIVSEP_H

#include <stddef.h>

/* Fork the helper (before any thread and before sandbox_enter).  conf and
 * sets are what main loaded; the helper re-reads them on each request.
 * Installs the helper as tls's pair source.  Returns 0, or -1 (err). */
int privsep_start(const char *conf, char *const *sets, int nsets, char *err, size_t errsz);
/* The ACME account key's RFC 7638 thumbprint (base64url) into out; "" when
 * built-in ACME is off.  0, or -1 (err). */
int privsep_acme_thumbprint(char *out, size_t outsz, char *err, size_t errsz);

/* After SIGUSR1 reopened the logs: hand the new error log descriptor to
 * the helper, which writes its lines (ACME) to the same file and cannot
 * open it itself (it may not write others' files, and these are the service
 * user's).  0 (also when the error log is not a file), or -1 (err). */
int privsep_log_reopened(char *err, size_t errsz);

#endif
