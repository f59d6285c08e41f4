/* main.c - start-up order, signals, threads.
 *
 * Order: parse the configuration; open logs; load the certificate and the
 * auth file; raise rlimits; bind every listener (privileged ports need
 * root); build the first index; enter the sandbox (drop to `user`,
 * no_new_privs, Landlock, seccomp); start the FTP and HTTP threads; then
 * the main thread only waits for signals:
 *   HUP   reload config, certificate, auth file; rescan the index
 *   USR1  reopen log files (logrotate)
 *   USR2  reload the certificate only (sent by the privileged helper's
 *         notification thread after an ACME or generated-pair renewal)
 *   TERM  stop accepting, drain transfers up to drain_timeout, exit
 *   INT   the same with a short drain (Ctrl-C in the foreground)
 */
#include <errno.h>
#include <pwd.h>
#include <netinet/in.h>
#include <time.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ftp.h"
#include "http.h"
#include "index.h"
#include "limiter.h"
#include "log.h"
#include "lslr.h"
#include "metrics.h"
#include "net.h"
#include "privsep.h"
#include "rsync.h"
#include "sandbox.h"
#include "sums.h"
#include "tls.h"

#define PUBMIRROR_VERSION "0.1.0"
#define MAIN_SETS_MAX 256
#define MAIN_BACKLOG 511
#define MAIN_INT_DRAIN 1 /* seconds of drain on Ctrl-C */

struct main_opts {
	const char *conf;
	int check;
	int foreground;
	int nsets;
	char *sets[MAIN_SETS_MAX];
};

static void main_usage(FILE *f)
{
	fprintf(f,
	        "usage: pubmirrord [-c FILE] [-t] [-f] [--set KEY=VALUE]... [-h] [-V]\n"
	        "  -c FILE          configuration file (default: conf/pubmirror.conf when it\n"
	        "                   exists here, else /etc/pubmirror/pubmirror.conf, else none)\n"
	        "  -t               check the configuration and exit (0 good, 1 bad)\n"
	        "  -f               stay in the foreground, log to stderr\n"
	        "  --set KEY=VALUE  override a configuration key (repeatable)\n"
	        "  -h               this help\n"
	        "  -V               version\n"
	        "  --dump-config    print the sample configuration (every key and default)\n"
	        "  --production-config  print the configuration `make install` installs\n"
	        "  --reference      print the configuration reference (markdown)\n"
	        "  --man 5|8        print the pubmirror.conf(5) or pubmirrord(8) page\n");
}

static const char *main_default_conf(void)
{
	if (access("conf/pubmirror.conf", R_OK) == 0)
		return "conf/pubmirror.conf";
	if (access("/etc/pubmirror/pubmirror.conf", R_OK) == 0)
		return "/etc/pubmirror/pubmirror.conf";
	return NULL;
}

/* Parse argv; exits for -h, -V and the generators. */
static void main_parse_args(int argc, char **argv, struct main_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 && i + 1 < argc) {
			o->conf = argv[++i];
		} else if (strcmp(a, "-t") == 0) {
			o->check = 1;
		} else if (strcmp(a, "-f") == 0) {
			o->foreground = 1;
		} else if ((strcmp(a, "--set") == 0 || strcmp(a, "-s") == 0) && i + 1 < argc) {
			if (o->nsets == MAIN_SETS_MAX) {
				fprintf(stderr, "pubmirrord: more than %d --set options\n",
				        MAIN_SETS_MAX);
				exit(2);
			}
			o->sets[o->nsets++] = argv[++i];
		} else if (strncmp(a, "--set=", 6) == 0) {
			if (o->nsets == MAIN_SETS_MAX) {
				fprintf(stderr, "pubmirrord: more than %d --set options\n",
				        MAIN_SETS_MAX);
				exit(2);
			}
			o->sets[o->nsets++] = argv[i] + 6;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			main_usage(stdout);
			exit(0);
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("pubmirrord %s\n", PUBMIRROR_VERSION);
			exit(0);
		} else if (strcmp(a, "--dump-config") == 0) {
			config_write_sample(stdout);
			exit(0);
		} else if (strcmp(a, "--production-config") == 0) {
			config_write_production(stdout);
			exit(0);
		} else if (strcmp(a, "--reference") == 0) {
			config_write_reference(stdout, 0);
			exit(0);
		} else if (strcmp(a, "--man") == 0 && i + 1 < argc) {
			const char *s = argv[++i];
			if (strcmp(s, "5") != 0 && strcmp(s, "8") != 0) {
				fprintf(stderr, "pubmirrord: --man takes 5 or 8\n");
				exit(2);
			}
			config_write_man(stdout, s[0] - '0');
			exit(0);
		} else {
			fprintf(stderr, "pubmirrord: unknown or incomplete option \"%s\"\n", a);
			main_usage(stderr);
			exit(2);
		}
	}
	if (o->conf == NULL)
		o->conf = main_default_conf();
}

static struct config *main_load(const struct main_opts *o)
{
	char err[1024];
	struct config *c = config_load(o->conf, o->sets, o->nsets, err, sizeof(err));

	if (c == NULL)
		fprintf(stderr, "pubmirrord: %s\n", err);
	return c;
}

/* -t: the checks that need no privileges and change nothing. */
static int main_check(const struct config *c, const char *file)
{
	struct stat st;
	int rc = 0;

	if (stat(c->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pubmirrord: root \"%s\": not a directory (%s)\n", c->root,
		        strerror(errno ? errno : ENOTDIR));
		rc = 1;
	}
	if (c->tls_cert[0] && access(c->tls_cert, R_OK) != 0) {
		fprintf(stderr, "pubmirrord: tls_cert \"%s\": %s\n", c->tls_cert, strerror(errno));
		rc = 1;
	}
	if (c->tls_key[0] && access(c->tls_key, R_OK) != 0) {
		fprintf(stderr, "pubmirrord: tls_key \"%s\": %s\n", c->tls_key, strerror(errno));
		rc = 1;
	} else if (c->tls_key[0] && stat(c->tls_key, &st) == 0 && (st.st_mode & S_IRWXO)) {
		/* The rule start-up applies (tls.c): -t must not pass a key
		 * that start will refuse. */
		fprintf(stderr,
		        "pubmirrord: tls_key \"%s\": private key is accessible by other users; "
		        "chmod 600 it\n",
		        c->tls_key);
		rc = 1;
	}
	if (geteuid() == 0) {
		/* Started as root, the daemon drops to `user`: say now if it
		 * does not exist rather than at start. */
		const char *name = c->user[0] ? c->user : "nobody";
		struct passwd pw, *res = NULL;
		char pwbuf[4096];
		if (getpwnam_r(name, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL) {
			fprintf(
			    stderr,
			    "pubmirrord: user \"%s\": no such user (create it: useradd --system "
			    "--no-create-home --shell /usr/sbin/nologin %s)\n",
			    name, name);
			rc = 1;
		}
	}
	if (c->auth_file[0]) {
		char err[1024];
		if (auth_load(c, err, sizeof(err)) != 0) {
			fprintf(stderr, "pubmirrord: %s\n", err);
			rc = 1;
		}
		auth_shutdown();
	}
	if (rc == 0)
		printf("pubmirrord: configuration %s is OK\n", file ? file : "(defaults)");
	return rc;
}

static void main_limiter_params(const struct config *c, struct limiter_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_clients = c->max_clients;
	p->max_per_ip = c->max_per_ip;
	p->rate_per_ip = c->rate_per_ip;
	p->rate_total = c->rate_total;
	p->ban_after = c->ban_after;
	p->ban_window = c->ban_window;
	p->ban_time = c->ban_time;
}

/* The rsync MOTD file, at most PM_RSYNC_MOTD_MAX bytes, read before the
 * sandbox.  0 or -1 (logged). */
static int main_read_motd(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		log_err("rsync_motd %s: %s", path, strerror(errno));
		return -1;
	}
	*out = malloc(PM_RSYNC_MOTD_MAX);
	if (*out == NULL) {
		fclose(f);
		return -1;
	}
	*len = fread(*out, 1, PM_RSYNC_MOTD_MAX, f);
	fclose(f);
	return 0;
}

/* Bind every address of list into fds[]; 0 or -1 (logged). */
static int main_bind(const char *what, const struct config_addrs *list, int *fds, int *n)
{
	char err[256];

	*n = 0;
	for (int i = 0; i < list->n; i++) {
		int fd = net_listen(&list->a[i], list->len[i], MAIN_BACKLOG, err, sizeof(err));
		if (fd < 0 && errno == EAFNOSUPPORT && list->a[i].ss_family == AF_INET6 &&
		    IN6_IS_ADDR_UNSPECIFIED(
		        &((const struct sockaddr_in6 *)&list->a[i])->sin6_addr)) {
			/* A kernel without IPv6 (ipv6.disable=1): "*:PORT" still
			 * serves IPv4 rather than refusing to start. */
			log_warn("no IPv6 in this kernel: not listening for %s on %s", what, err);
			continue;
		}
		if (fd < 0) {
			log_err("cannot listen for %s on %s", what, err);
			return -1;
		}
		fds[(*n)++] = fd;
	}
	return 0;
}

static void main_describe(char *out, size_t outsz, const struct config_addrs *l)
{
	size_t used = 0;

	out[0] = '\0';
	if (l->n == 0) {
		snprintf(out, outsz, "off");
		return;
	}
	for (int i = 0; i < l->n && used < outsz; i++) {
		char a[80];
		net_addr_str(&l->a[i], 1, a, sizeof(a));
		int k = snprintf(out + used, outsz - used, "%s%s", i ? "," : "", a);
		if (k < 0 || (size_t)k >= outsz - used)
			break;
		used += (size_t)k;
	}
}

/* The listen addresses, bound once at start: a reload keeps them. */
static const size_t main_listeners[] = {
    offsetof(struct config, ftp_listen),     offsetof(struct config, ftps_listen),
    offsetof(struct config, https_listen),   offsetof(struct config, http_listen),
    offsetof(struct config, metrics_listen), offsetof(struct config, rsync_listen),
};
#define MAIN_NLISTENERS (sizeof(main_listeners) / sizeof(main_listeners[0]))

static const struct config_addrs *main_addrs(const struct config *c, size_t i)
{
	return (const struct config_addrs *)((const char *)c + main_listeners[i]);
}

static int main_same_addrs(const struct config_addrs *a, const struct config_addrs *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(&a->a[i], &b->a[i], a->len[i]) != 0)
			return 0;
	return 1;
}

/* SIGHUP: a bad new configuration is refused and the old one stays. */
static void main_reload(const struct main_opts *o)
{
	char err[1024];
	const struct config *old = config_get();
	struct config *c = config_load(o->conf, o->sets, o->nsets, err, sizeof(err));

	log_info("SIGHUP: reloading");
	if (c == NULL) {
		log_err("reload refused, the running configuration stays: %s", err);
		return;
	}
	int same = strcmp(c->user, old->user) == 0;
	for (size_t i = 0; i < MAIN_NLISTENERS; i++)
		same = same && main_same_addrs(main_addrs(c, i), main_addrs(old, i));
	if (!same)
		log_warn("listen addresses and user change only on restart; the new values "
		         "are ignored until then");
	/* Listeners stay as bound: keep the old addresses in the new snapshot
	 * so that what the snapshot says is what runs. */
	for (size_t i = 0; i < MAIN_NLISTENERS; i++)
		memcpy((char *)c + main_listeners[i], main_addrs(old, i),
		       sizeof(struct config_addrs));
	memcpy(c->user, old->user, sizeof(c->user));
	/* Which listeners expect a PROXY header is fixed when they start. */
	if (c->proxy_protocol != old->proxy_protocol)
		log_warn("proxy_protocol changes only on restart; the new value is ignored "
		         "until then");
	c->proxy_protocol = old->proxy_protocol;
	if (tls_reload(c, err, sizeof(err)) != 0)
		log_err("certificate reload failed, the old certificate stays: %s", err);
	if (auth_load(c, err, sizeof(err)) != 0)
		log_err("auth file reload failed, the old users stay: %s", err);
	config_publish(c);
	struct limiter_params p;
	main_limiter_params(c, &p);
	limiter_set_params(limiter_global(), &p);
	http_reload();
	/* a changed root or show_dotfiles applies now; always rescans */
	index_reconfigure(c);
	log_info("reload done");
}

static void *main_http_stop(void *arg)
{
	http_stop(*(const unsigned *)arg);
	return NULL;
}

static int main_daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct main_opts o;
	char err[1024];
	struct ftp_listeners fl;
	struct http_listeners hl;
	int mfds[PM_CONF_ADDRS_MAX], nmfds = 0;
	int rfds[PM_CONF_ADDRS_MAX], nrfds = 0;
	char *motd = NULL;
	size_t motdlen = 0;
	sigset_t sigs;

	memset(&o, 0, sizeof(o));
	memset(&fl, 0, sizeof(fl));
	memset(&hl, 0, sizeof(hl));
	main_parse_args(argc, argv, &o);

	struct config *c = main_load(&o);
	if (c == NULL)
		return 1;
	if (o.check) {
		int rc = main_check(c, o.conf);
		config_free(c);
		return rc;
	}
	config_publish(c);
	const struct config *cfg = config_get();

	/* Signals are handled by sigwaitinfo on this thread only: block them
	 * before any thread exists so that every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!o.foreground && main_daemonize() != 0) {
		fprintf(stderr, "pubmirrord: cannot become a daemon: %s\n", strerror(errno));
		return 1;
	}
	if (log_open(cfg, o.foreground) != 0)
		return 1;
	log_info("pubmirrord %s starting (configuration %s)", PUBMIRROR_VERSION,
	         o.conf ? o.conf : "(defaults)");

	struct limiter_params lp;
	main_limiter_params(cfg, &lp);
	struct limiter *lim = limiter_new(&lp);
	if (lim == NULL) {
		log_err("out of memory for the limiter");
		return 1;
	}
	limiter_set_global(lim);

	/* SECURITY: the certificate and key are opened by a helper that keeps
	 * the privileges this process gives up (privsep.h), so that a reload
	 * can still read root-only files such as certbot's. */
	if (privsep_start(o.conf, o.sets, o.nsets, err, sizeof(err)) != 0) {
		log_err("privileged helper: %s", err);
		return 1;
	}
	if (tls_init(cfg, err, sizeof(err)) != 0) {
		log_err("TLS: %s", err);
		return 1;
	}
	if (auth_load(cfg, err, sizeof(err)) != 0) {
		log_err("auth: %s", err);
		return 1;
	}
	if (sandbox_rlimits(cfg, err, sizeof(err)) != 0) {
		log_err("limits: %s", err);
		return 1;
	}
	if (main_bind("FTP", &cfg->ftp_listen, fl.plain, &fl.nplain) != 0 ||
	    main_bind("implicit FTPS", &cfg->ftps_listen, fl.implicit, &fl.nimplicit) != 0 ||
	    main_bind("HTTPS", &cfg->https_listen, hl.https, &hl.nhttps) != 0 ||
	    main_bind("HTTP", &cfg->http_listen, hl.http, &hl.nhttp) != 0 ||
	    main_bind("metrics", &cfg->metrics_listen, mfds, &nmfds) != 0 ||
	    main_bind("rsync", &cfg->rsync_listen, rfds, &nrfds) != 0)
		return 1;
	if (cfg->rsync_motd[0] && main_read_motd(cfg->rsync_motd, &motd, &motdlen) != 0)
		return 1;
	if (index_start(cfg) != 0)
		return 1;
	/* Before the sandbox: the first ls-lR.gz memory file is made here. */
	if (lslr_start() != 0 || sums_start() != 0)
		return 1;
	/* SIGHUP re-reads the configuration: keep its directory readable. */
	if (o.conf != NULL)
		sandbox_allow_read(o.conf);
	if (sandbox_enter(cfg, err, sizeof(err)) != 0) {
		log_err("sandbox: %s", err);
		return 1;
	}
	if (cfg->acme_directory[0] != '\0') {
		char tp[128];
		if (privsep_acme_thumbprint(tp, sizeof(tp), err, sizeof(err)) != 0) {
			log_err("acme: %s", err);
			return 1;
		}
		http_set_acme_thumbprint(tp);
	}
	if ((fl.nplain + fl.nimplicit > 0 && ftp_start(&fl) != 0) ||
	    (hl.nhttps + hl.nhttp > 0 && http_start(&hl) != 0)) {
		log_err("cannot start the protocol threads");
		return 1;
	}
	if (nmfds > 0 && metrics_start(mfds, nmfds) != 0)
		return 1;
	if (nrfds > 0 && rsync_start(rfds, nrfds, motd, motdlen) != 0)
		return 1;
	free(motd);

	char a1[256], a2[256], a3[256], a4[256], a5[256], fp[128];
	main_describe(a1, sizeof(a1), &cfg->ftp_listen);
	main_describe(a2, sizeof(a2), &cfg->ftps_listen);
	main_describe(a3, sizeof(a3), &cfg->https_listen);
	main_describe(a4, sizeof(a4), &cfg->http_listen);
	main_describe(a5, sizeof(a5), &cfg->rsync_listen);
	tls_fingerprint(fp, sizeof(fp));
	log_info("ready: root %s; ftp %s; ftps %s; https %s; http %s; rsync %s", cfg->root, a1, a2,
	         a3, a4, a5);
	log_info("certificate SHA-256 fingerprint %s", fp);

	int drain = -1;
	time_t next_cert_check = 0;
	while (drain < 0) {
		siginfo_t si;
		/* Once a day: a generated certificate is renewed by the
		 * privileged helper 30 days before its end; one still this close
		 * means that failed (its error is logged).  Say so. */
		if (time(NULL) >= next_cert_check) {
			int left = tls_generated_days_left(config_get());
			if (left != TLS_DAYS_OWN && left != TLS_DAYS_UNKNOWN && left < 29)
				log_warn(
				    "tls: the generated certificate expires in %d days and was "
				    "not renewed (see the errors above); a restart generates a "
				    "new one",
				    left);
			next_cert_check = time(NULL) + 86400;
		}
		struct timespec tick = {3600, 0};
		int s = sigtimedwait(&sigs, &si, &tick);
		if (s < 0)
			continue;
		switch (s) {
		case SIGHUP:
			main_reload(&o);
			break;
		case SIGUSR1:
			if (log_reopen() == 0)
				log_info("log files reopened");
			else
				log_err("some log files could not be reopened; the old ones stay");
			if (privsep_log_reopened(err, sizeof(err)) != 0)
				log_err("the privileged helper keeps the old error log: %s", err);
			break;
		case SIGUSR2:
			if (tls_reload(config_get(), err, sizeof(err)) != 0)
				log_err("certificate reload failed, the old certificate stays: %s",
				        err);
			else
				http_reload();
			break;
		case SIGINT:
			drain = MAIN_INT_DRAIN;
			break;
		default: /* TERM, QUIT */
			drain = (int)config_get()->drain_timeout;
			break;
		}
	}
	log_info("stopping: draining transfers for up to %d s", drain);
	metrics_set_draining(1);
	/* Both protocols stop accepting at once and drain side by side. */
	unsigned dsecs = (unsigned)drain;
	pthread_t hstop;
	int hthread = pthread_create(&hstop, NULL, main_http_stop, &dsecs) == 0;
	rsync_stop(dsecs);
	ftp_stop(dsecs);
	if (hthread)
		pthread_join(hstop, NULL);
	else
		http_stop(dsecs);
	metrics_stop();
	sums_stop();
	lslr_stop();
	index_stop();
	auth_shutdown();
	tls_shutdown();
	log_info("stopped");
	log_close();
	limiter_set_global(NULL);
	limiter_free(lim);
	config_shutdown();
	return 0;
}
