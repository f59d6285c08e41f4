/* auth.h - htpasswd users and protected path prefixes, for both protocols.
 *
 * SECURITY: passwords are compared only through crypt_r and a constant-time
 * compare; credentials are accepted only over TLS (callers check).  Paths
 * under auth_paths are invisible to anonymous clients in every protocol.
 */
#ifndef PUBMIRROR_AUTH_H
#define PUBMIRROR_AUTH_H

#include <stddef.h>

struct config;

/* Load auth_file (if set).  Refuses plain-text passwords (file:line), warns
 * about weak hashes (apr1, {SHA}).  0, or -1 with err.  Called at start
 * and on SIGHUP (on failure the old table stays). */
int auth_load(const struct config *c, char *err, size_t errsz);
void auth_shutdown(void);

/* 1 when user/pass (pass of passlen bytes) are valid, 0 otherwise.  Uses a
 * short-lived cache of verified credentials.  Thread-safe. */
int auth_check(const char *user, const char *pass, size_t passlen);

/* 1 when rel (canonical path) lies under a protected prefix. */
int auth_path_protected(const struct config *c, const char *rel);

/* 1 when an auth_file with at least one user is loaded. */
int auth_enabled(void);

#endif
