/* rsync.h - the read-only, anonymous rsync daemon listener (rsync://).
 *
 * One module (rsync_module) serves the whole tree of the index snapshot,
 * read-only: the client may only pull (the server is always the sender).
 * Protocol 30 with SHA-1 (when the client offers it) or MD5 block and file
 * checksums (see README for why).
 * Each connection runs on its own thread with blocking I/O bounded by
 * PM_RSYNC_TIMEOUT; at most PM_RSYNC_CONNS_MAX at once, and every
 * connection is counted by the shared limiter like FTP and HTTP clients.
 */
#ifndef PUBMIRROR_RSYNC_H
#define PUBMIRROR_RSYNC_H

#include <stddef.h>

/* Start the accept thread on the bound listeners fds[0..n).  motd (may be
 * NULL) is the text sent before the module list, copied here.  0 or -1
 * (logged). */
int rsync_start(const int *fds, int n, const char *motd, size_t motdlen);
/* Stop accepting; give running connections up to drain_seconds; return. */
void rsync_stop(unsigned drain_seconds);

#endif
