/* ftp.h - the anonymous FTP / FTPS server: event loops on epoll, sessions,
 * data channels, transfers. */
#ifndef PUBMIRROR_FTP_H
#define PUBMIRROR_FTP_H

/* Listening sockets bound by main (before privileges are dropped). */
struct ftp_listeners {
	int nplain; /* plain + explicit AUTH TLS */
	int plain[8];
	int nimplicit; /* implicit FTPS */
	int implicit[8];
};

/* Start the FTP threads on these listeners.  0 or -1 (logged). */
int ftp_start(const struct ftp_listeners *l);
/* Stop accepting; let transfers finish up to drain_seconds; close all;
 * join threads. */
void ftp_stop(unsigned drain_seconds);

#endif
