/* sandbox.c - the only module that changes privileges.
 *
 * sandbox_enter, in this order:
 *   1. when root: become c->user (its primary group, no supplementary
 *      groups, real = effective = saved IDs) and prove it cannot be undone;
 *   2. PR_SET_NO_NEW_PRIVS: nothing exec'd or loaded can gain privileges;
 *   3. Landlock (best effort, kernel ABI >= 1): read-only beneath the
 *      parent of root, the state and certificate directories and a few
 *      system files; read-write only in the log directories; nothing else;
 *   4. seccomp (libseccomp): an allowlist; anything else fails with EPERM.
 *
 * Threads started before sandbox_enter (the index watcher) are covered:
 * the uid change reaches every thread (glibc broadcasts set*id), seccomp
 * is installed with TSYNC, and Landlock - which only restricts the calling
 * thread - is applied in each other thread from a signal handler.
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "config.h"
#include "limits.h"
#include "log.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define SB_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define SB_LOGDIR (SB_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG)
#define SB_STATEDIR                                                                                \
	(SB_LOGDIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |                \
	 LANDLOCK_ACCESS_FS_TRUNCATE)
#define SB_FILE_RIGHTS                                                                             \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                              \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define SB_EXTRA_MAX 8
#define SB_RULES_MAX 48
#define SB_SIGNAL SANDBOX_THREAD_SIGNAL
#define SB_THREAD_WAIT_MS 2000

static char sb_extra[SB_EXTRA_MAX][PM_PATH_MAX];
static int sb_nextra;

/* ---- resource limits ---- */

int sandbox_rlimits(const struct config *c, char *err, size_t errsz)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errsz, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return -1;
	}
	/* The descriptor budget of limits.h: one per client, two per transfer
	 * (data socket and file), the refusal slots of each FTP loop and of
	 * libmicrohttpd's daemons, the PROXY headers waiting, the spare ones. */
	unsigned refusers = 0, proxied = 0;
	if (c->ftp_listen.n + c->ftps_listen.n > 0)
		refusers += c->ftp_threads ? c->ftp_threads : 1;
	if (c->https_listen.n + c->http_listen.n > 0)
		refusers++;
	if (c->proxy_protocol & CONFIG_PROXY_FTP)
		proxied += (unsigned)c->ftp_listen.n;
	if (c->proxy_protocol & CONFIG_PROXY_FTPS)
		proxied += (unsigned)c->ftps_listen.n;
	if (c->proxy_protocol & CONFIG_PROXY_HTTPS)
		proxied += (unsigned)c->https_listen.n;
	if (c->proxy_protocol & CONFIG_PROXY_HTTP)
		proxied += (unsigned)c->http_listen.n;
	unsigned long long need =
	    pm_fds_needed(c->max_clients, c->max_transfers, refusers, proxied);
	unsigned tr = pm_max_transfers(c->max_clients, c->max_transfers);
	if (need == 0)
		need = rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
		if (geteuid() == 0) {
			struct rlimit want = {need, need};
			if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
				snprintf(err, errsz,
				         "max_clients %u with max_transfers %u needs %llu file "
				         "descriptors; raising the hard limit failed: %s (see "
				         "/proc/sys/fs/nr_open)",
				         c->max_clients, tr, need, strerror(errno));
				return -1;
			}
			rl = want;
		} else {
			snprintf(err, errsz,
			         "max_clients %u with max_transfers %u needs %llu file "
			         "descriptors (one per client, two per transfer, %d per "
			         "refusing loop, %d spare) but "
			         "the hard limit is %llu; raise it (ulimit -Hn, LimitNOFILE=) or "
			         "lower max_clients or max_transfers",
			         c->max_clients, tr, need, pm_refusing_max(c->max_clients),
			         PM_FDS_SPARE, (unsigned long long)rl.rlim_max);
			return -1;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			snprintf(err, errsz, "setrlimit(RLIMIT_NOFILE, %llu): %s", need,
			         strerror(errno));
			return -1;
		}
	}
	/* SECURITY: a core file would hold the private key and client data. */
	struct rlimit core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &core) != 0) {
		snprintf(err, errsz, "setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
		return -1;
	}
	/* SECURITY: no core dumps and no ptrace/proc access by other processes
	 * of the same (unprivileged) user. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errsz, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_allow_read(const char *path)
{
	if (path == NULL || path[0] == '\0' || sb_nextra >= SB_EXTRA_MAX ||
	    strlen(path) >= PM_PATH_MAX)
		return -1;
	snprintf(sb_extra[sb_nextra++], PM_PATH_MAX, "%s", path);
	return 0;
}

/* ---- user ---- */

/* SIGUSR1 reopens the log files by name after the drop: their
 * directories must let the service user look names up (search), which a
 * root-owned 0750 directory does only when its group is the user's.  Say
 * so at start rather than at the first rotation. */
static void sb_dirname(const char *path, char *out, size_t outsz);

static void sb_check_logdirs(const struct config *c, const char *name, uid_t uid, gid_t gid)
{
	const char *logs[] = {c->error_log, c->access_log, c->xfer_log, c->json_log};

	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char dir[PM_PATH_MAX];
		struct stat st;
		if (logs[i][0] == '\0')
			continue;
		sb_dirname(logs[i], dir, sizeof(dir));
		if (stat(dir, &st) != 0)
			continue;
		if ((st.st_uid == uid && (st.st_mode & S_IXUSR)) ||
		    (st.st_uid != uid && st.st_gid == gid && (st.st_mode & S_IXGRP)) ||
		    (st.st_uid != uid && st.st_gid != gid && (st.st_mode & S_IXOTH)))
			continue;
		log_warn("log directory %s cannot be searched by user %s: SIGUSR1 will not reopen "
		         "its logs after rotation; give the directory that user's group (gid %u, "
		         "mode 0750; systemd: Group= in the unit)",
		         dir, name, (unsigned)gid);
	}
}

static int sb_drop_user(const struct config *c, char *err, size_t errsz)
{
	const char *name = c->user[0] != '\0' ? c->user : "nobody";
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (res == NULL) {
		snprintf(err, errsz, "user %s: %s", name, e != 0 ? strerror(e) : "no such user");
		return -1;
	}
	/* SECURITY: the point is to stop being root. */
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		snprintf(err, errsz, "user %s: has uid or gid 0; choose an unprivileged user",
		         name);
		return -1;
	}
	uid_t uid = pw.pw_uid;
	gid_t gid = pw.pw_gid;
	/* The log files were opened as root: hand them to the service user so
	 * that SIGUSR1 (logrotate) can reopen them after the drop. */
	if (log_chown(uid, gid) != 0)
		log_warn("cannot hand the log files to user %s; SIGUSR1 reopen may fail", name);
	sb_check_logdirs(c, name, uid, gid);
	if (setgroups(0, NULL) != 0) {
		snprintf(err, errsz, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		snprintf(err, errsz, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(err, errsz, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	/* SECURITY: prove the change is permanent. */
	uid_t r, ef, s;
	gid_t gr, ge, gs;
	if (setuid(0) == 0 || setgid(0) == 0 || getresuid(&r, &ef, &s) != 0 ||
	    getresgid(&gr, &ge, &gs) != 0 || r != uid || ef != uid || s != uid || gr != gid ||
	    ge != gid || gs != gid || getgroups(0, NULL) != 0) {
		snprintf(err, errsz, "dropping privileges to %s did not stick", name);
		return -1;
	}
	log_info("sandbox: running as user %s (uid %u, gid %u)", name, (unsigned)uid,
	         (unsigned)gid);
	return 0;
}

/* ---- Landlock ---- */

static int sb_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v;
}

static uint64_t sb_handled(int abi)
{
	uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static void sb_dirname(const char *path, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s", path);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	char *slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, outsz, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

struct sb_rule {
	char path[PM_PATH_MAX];
	uint64_t access;
};

struct sb_rules {
	int n;
	struct sb_rule r[SB_RULES_MAX];
};

static void sb_add(struct sb_rules *rs, const char *path, uint64_t access)
{
	if (path == NULL || path[0] == '\0' || rs->n >= SB_RULES_MAX)
		return;
	snprintf(rs->r[rs->n].path, PM_PATH_MAX, "%s", path);
	rs->r[rs->n].access = access;
	rs->n++;
}

/* The directory holding file path, as written and as resolved (a
 * certificate managed by certbot is a symlink into archive/). */
static void sb_add_dir_of(struct sb_rules *rs, const char *path, uint64_t access)
{
	char dir[PM_PATH_MAX];
	if (path == NULL || path[0] == '\0')
		return;
	sb_dirname(path, dir, sizeof(dir));
	sb_add(rs, dir, access);
	char *real = realpath(path, NULL);
	if (real != NULL) {
		sb_dirname(real, dir, sizeof(dir));
		sb_add(rs, dir, access);
		free(real);
	}
}

/* The served tree: beneath root's parent, so that a root which is a
 * symlink swapped between snapshot directories keeps working.  A parent
 * of "/" would open everything; then only root itself is allowed. */
static void sb_add_root(struct sb_rules *rs, const char *root)
{
	char dir[PM_PATH_MAX];
	sb_dirname(root, dir, sizeof(dir));
	sb_add(rs, strcmp(dir, "/") == 0 ? root : dir, SB_READ);
	char *real = realpath(root, NULL);
	if (real != NULL) {
		sb_dirname(real, dir, sizeof(dir));
		sb_add(rs, strcmp(dir, "/") == 0 ? real : dir, SB_READ);
		free(real);
	}
}

static void sb_collect(const struct config *c, struct sb_rules *rs)
{
	rs->n = 0;
	sb_add_root(rs, c->root);
	sb_add(rs, c->state_dir, SB_READ);
	sb_add_dir_of(rs, c->tls_cert, SB_READ);
	sb_add_dir_of(rs, c->tls_key, SB_READ);
	sb_add_dir_of(rs, c->auth_file, SB_READ);
	sb_add(rs, c->acme_webroot, SB_READ);
	sb_add_dir_of(rs, c->error_log, SB_LOGDIR);
	sb_add_dir_of(rs, c->access_log, SB_LOGDIR);
	sb_add_dir_of(rs, c->xfer_log, SB_LOGDIR);
	sb_add_dir_of(rs, c->json_log, SB_LOGDIR);
	for (int i = 0; i < sb_nextra; i++)
		sb_add_dir_of(rs, sb_extra[i], SB_READ);
	/* System files libraries read after start: CA and OpenSSL config,
	 * locales and zoneinfo, the time zone, randomness fallback, our own
	 * /proc entries (thread stacks, status) and the CPU count. */
	sb_add(rs, "/etc/ssl", SB_READ);
	sb_add(rs, "/usr/share", SB_READ);
	sb_add(rs, "/etc/localtime", SB_READ);
	sb_add(rs, "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE);
	sb_add(rs, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
	sb_add(rs, "/proc/self", SB_READ);
	sb_add(rs, "/sys/devices/system/cpu", SB_READ);
}

/* The privileged helper (privsep.c): it reads the certificate and key the
 * configuration names - any directory, since a SIGHUP may name a new one
 * (certbot's live/ and archive/) - so it may read everywhere; it writes
 * only in state_dir (the generated pair, the ACME account and pair). */
static void sb_collect_helper(const struct config *c, struct sb_rules *rs)
{
	rs->n = 0;
	sb_add(rs, "/", SB_READ);
	sb_add(rs, c->state_dir[0] != '\0' ? c->state_dir : ".", SB_STATEDIR);
	sb_add(rs, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
}

static int sb_ruleset(const struct config *c, int helper, int abi, int *nrules)
{
	struct landlock_ruleset_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sb_handled(abi);
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -1;
	struct sb_rules *rs = malloc(sizeof(*rs));
	if (rs == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	if (helper)
		sb_collect_helper(c, rs);
	else
		sb_collect(c, rs);
	*nrules = 0;
	for (int i = 0; i < rs->n; i++) {
		/* O_PATH: a handle for the rule, no read access needed or given. */
		int pfd = open(rs->r[i].path, O_PATH | O_CLOEXEC);
		if (pfd < 0) {
			if (errno != ENOENT)
				log_warn("sandbox: landlock: %s: %s", rs->r[i].path,
				         strerror(errno));
			continue;
		}
		struct stat st;
		struct landlock_path_beneath_attr pb;
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = pfd;
		pb.allowed_access = rs->r[i].access & sb_handled(abi);
		if (fstat(pfd, &st) == 0 && !S_ISDIR(st.st_mode))
			pb.allowed_access &= SB_FILE_RIGHTS; /* directory rights are EINVAL */
		if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0)
			(*nrules)++;
		else
			log_warn("sandbox: landlock rule %s: %s", rs->r[i].path, strerror(errno));
		close(pfd);
	}
	free(rs);
	return fd;
}

static int sb_ll_fd = -1;
static atomic_int sb_ll_ok, sb_ll_fail;

static void sb_ll_handler(int sig)
{
	(void)sig;
	int saved = errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    syscall(SYS_landlock_restrict_self, sb_ll_fd, 0) == 0)
		atomic_fetch_add(&sb_ll_ok, 1);
	else
		atomic_fetch_add(&sb_ll_fail, 1);
	errno = saved;
}

/* Make every other thread of the process restrict itself with ruleset fd.
 * Returns the number of threads that could not be confined. */
static int sb_ll_other_threads(int fd)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sb_ll_handler;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	sb_ll_fd = fd;
	atomic_store(&sb_ll_ok, 0);
	atomic_store(&sb_ll_fail, 0);
	if (sigaction(SB_SIGNAL, &sa, &old) != 0)
		return -1;
	pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
	int sent = 0;
	DIR *d = opendir("/proc/self/task");
	if (d == NULL) {
		sigaction(SB_SIGNAL, &old, NULL);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || tid <= 0 || (pid_t)tid == self)
			continue;
		if (syscall(SYS_tgkill, pid, (pid_t)tid, SB_SIGNAL) == 0)
			sent++;
	}
	closedir(d);
	struct timespec ms = {0, 1000000};
	for (int i = 0; i < SB_THREAD_WAIT_MS; i++) {
		if (atomic_load(&sb_ll_ok) + atomic_load(&sb_ll_fail) >= sent)
			break;
		nanosleep(&ms, NULL);
	}
	/* A thread that blocks the signal never ran the handler: discard the
	 * pending signal (SIG_IGN) before restoring the old action, so it
	 * cannot be delivered later with the default action (terminate). */
	signal(SB_SIGNAL, SIG_IGN);
	sigaction(SB_SIGNAL, &old, NULL);
	return sent - atomic_load(&sb_ll_ok);
}

static int sb_landlock(const struct config *c, int helper, char *err, size_t errsz)
{
	int abi = sb_landlock_abi();
	if (abi < 1) {
		log_warn("sandbox: landlock unavailable in this kernel; filesystem access is "
		         "limited by file permissions and the user only");
		return 0;
	}
	int nrules = 0;
	int fd = sb_ruleset(c, helper, abi, &nrules);
	if (fd < 0) {
		snprintf(err, errsz, "landlock ruleset: %s", strerror(errno));
		return -1;
	}
	int missed = sb_ll_other_threads(fd);
	if (syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
		snprintf(err, errsz, "landlock_restrict_self: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (missed != 0)
		log_warn("sandbox: landlock: %d thread(s) started before the sandbox could not be "
		         "confined (do they block SANDBOX_THREAD_SIGNAL?); they keep full "
		         "filesystem access",
		         missed);
	log_info("sandbox%s: landlock ABI %d: %d paths allowed, everything else denied",
	         helper ? " (privileged helper)" : "", abi, nrules);
	return 0;
}

/* ---- seccomp ---- */

#ifdef HAVE_SECCOMP
/* Plain allowlist.  Names unknown on this architecture are skipped. */
static const char *const sb_syscalls[] = {
    /* I/O on descriptors */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "preadv2",
    "pwritev",
    "pwritev2",
    "sendfile",
    "sendfile64",
    "splice",
    "lseek",
    "_llseek",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "fcntl64",
    "fsync",
    "fdatasync",
    "fadvise64",
    "fadvise64_64",
    "readahead",
    "flock",
    /* ls-lR.gz lives in a sealed memory file (lslr.c) */
    "memfd_create",
    /* sockets (PASV/active data connections create sockets at run time) */
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "recvmmsg_time64",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "accept",
    "accept4",
    "bind",
    "listen",
    "connect",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "shutdown",
    "socketpair",
    /* waiting */
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "ppoll_time64",
    "select",
    "_newselect",
    "pselect6",
    "pselect6_time64",
    "eventfd",
    "eventfd2",
    "pipe",
    "pipe2",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "timerfd_settime64",
    "timerfd_gettime64",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    /* files (opens are confined by Landlock, not here) */
    "open",
    "openat",
    "openat2",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "fstatat64",
    "stat64",
    "fstat64",
    "lstat64",
    "statx",
    "statfs",
    "fstatfs",
    "statfs64",
    "fstatfs64",
    "getdents",
    "getdents64",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "getcwd",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    /* memory */
    "mmap",
    "mmap2",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "brk",
    "mincore",
    "membarrier",
    /* threads and synchronisation */
    "futex",
    "futex_time64",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "sched_yield",
    "sched_getaffinity",
    "set_tid_address",
    /* signals */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigreturn",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_sigpending",
    "rt_sigsuspend",
    "sigaltstack",
    "restart_syscall",
    /* time and randomness */
    "clock_gettime",
    "clock_gettime64",
    "clock_getres",
    "clock_getres_time64",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getrandom",
    /* identity and limits (read-only) */
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getuid32",
    "geteuid32",
    "getgid32",
    "getegid32",
    "getrlimit",
    "ugetrlimit",
    "getrusage",
    "times",
    "uname",
    "sysinfo",
    "getcpu",
    /* leaving */
    "exit",
    "exit_group",
};

static int sb_rule(scmp_filter_ctx f, const char *name, unsigned n, const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a system call on this architecture */
	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, args) == 0 ? 1 : -1;
}

/* What the privileged helper needs besides: writing the generated pair and
 * the ACME state (a temporary file renamed into place, a directory). */
static const char *const sb_helper_syscalls[] = {
    "rename",  "renameat", "renameat2", "unlink", "unlinkat",  "mkdir",
    "mkdirat", "fchmod",   "fchmodat",  "chmod",  "ftruncate", "umask",
};

static int sb_seccomp(int helper, char *err, size_t errsz)
{
#ifdef PUBMIRROR_SANDBOX_DEBUG
	/* Finding missing calls: log them (audit/dmesg) instead of failing. */
	const uint32_t deflt = SCMP_ACT_LOG;
#else
	/* SECURITY: EPERM, not kill: a library's unexpected call fails like
	 * any other error instead of taking the whole mirror down. */
	const uint32_t deflt = SCMP_ACT_ERRNO(EPERM);
#endif
	int n = 0, r, rc = -1;
	scmp_filter_ctx f = seccomp_init(deflt);
	if (f == NULL) {
		snprintf(err, errsz, "seccomp_init failed");
		return -1;
	}
	/* Threads started earlier (index, inotify) get the same filter. */
	if (seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		snprintf(err, errsz, "seccomp: thread synchronisation unavailable");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(sb_syscalls) / sizeof(sb_syscalls[0]); i++) {
		if ((r = sb_rule(f, sb_syscalls[i], 0, NULL)) < 0) {
			snprintf(err, errsz, "seccomp rule %s failed", sb_syscalls[i]);
			goto fail;
		}
		n += r;
	}
	for (size_t i = 0; helper && i < sizeof(sb_helper_syscalls) / sizeof(sb_helper_syscalls[0]);
	     i++) {
		if ((r = sb_rule(f, sb_helper_syscalls[i], 0, NULL)) < 0) {
			snprintf(err, errsz, "seccomp rule %s failed", sb_helper_syscalls[i]);
			goto fail;
		}
		n += r;
	}
	/* Arguments checked where the call is otherwise too strong. */
	struct scmp_arg_cmp a[1];
	static const int fams[] = {AF_UNIX, AF_INET, AF_INET6};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fams[i]);
		n += sb_rule(f, "socket", 1, a) > 0;
	}
	/* clone only for threads (no fork: there is nothing to exec); clone3
	 * passes its flags in memory seccomp cannot read, so it answers
	 * ENOSYS and glibc falls back to clone. */
	a[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	n += sb_rule(f, "clone", 1, a) > 0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* Sanitizer builds only (make asan/tsan): LeakSanitizer stops the
	 * world at exit from a ptrace'ing helper process. */
	n += sb_rule(f, "clone", 0, NULL) > 0;
	n += sb_rule(f, "ptrace", 0, NULL) > 0;
	n += sb_rule(f, "wait4", 0, NULL) > 0;
	n += sb_rule(f, "prctl", 0, NULL) > 0;
	n += sb_rule(f, "sched_getparam", 0, NULL) > 0;
	n += sb_rule(f, "sched_getscheduler", 0, NULL) > 0;
#endif
	int nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR && seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), nr, 0) != 0) {
		snprintf(err, errsz, "seccomp rule clone3 failed");
		goto fail;
	}
	static const unsigned long ioctls[] = {FIONREAD, FIONBIO, FIOCLEX,
	                                       FIONCLEX, TCGETS,  TIOCGWINSZ};
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		a[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t)ioctls[i]);
		n += sb_rule(f, "ioctl", 1, a) > 0;
	}
	static const int prctls[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS,
	                             PR_GET_SECCOMP};
	for (size_t i = 0; i < sizeof(prctls) / sizeof(prctls[0]); i++) {
		a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctls[i]);
		n += sb_rule(f, "prctl", 1, a) > 0;
	}
	/* Signals only to ourselves (raise, abort, pthread_kill). */
	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	n += sb_rule(f, "tgkill", 1, a) > 0;
	n += sb_rule(f, "kill", 1, a) > 0;
	/* prlimit64 to read limits only (new limit pointer NULL). */
	a[0] = SCMP_A2(SCMP_CMP_EQ, 0);
	n += sb_rule(f, "prlimit64", 1, a) > 0;
	if ((r = seccomp_load(f)) != 0) {
		snprintf(err, errsz, "seccomp_load: %s", strerror(-r));
		goto fail;
	}
	log_info("sandbox%s: seccomp: %d system call rules allowed, everything else fails with "
	         "%s",
	         helper ? " (privileged helper)" : "", n,
	         deflt == SCMP_ACT_LOG ? "a log entry (debug build)" : "EPERM");
	rc = 0;
fail:
	seccomp_release(f);
	return rc;
}
#endif

/* The last steps of both confinements, in this order: no new privileges
 * (no way back through exec), then the file rules, then the system call
 * filter (helper: the privileged helper's sets). */
static int sb_confine(const struct config *c, int helper, char *err, size_t errsz)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errsz, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	if (sb_landlock(c, helper, err, errsz) != 0)
		return -1;
#ifdef HAVE_SECCOMP
	return sb_seccomp(helper, err, errsz);
#else
	if (!helper)
		log_warn("sandbox: built without libseccomp; system calls are not filtered");
	return 0;
#endif
}

int sandbox_enter(const struct config *c, char *err, size_t errsz)
{
	if (geteuid() == 0) {
		if (sb_drop_user(c, err, errsz) != 0)
			return -1;
	} else {
		log_info("sandbox: not started as root; user and groups are not changed");
	}
	return sb_confine(c, 0, err, errsz);
}

/* ---- the privileged helper ---- */

/* Root with one capability at most: uid 0 owns what root owns (certbot's
 * 0600 keys, the 0700 state_dir); CAP_DAC_READ_SEARCH, when the helper was
 * given it, also reads a key the operator gave to another user (e.g. the
 * service user, 0600).  It grants reading, nothing else: every other
 * capability (writing others' files, signals to other users, binding,
 * chown, setuid...) goes, from the bounding set too where CAP_SETPCAP
 * allows it (a systemd unit has bounded it already, without
 * CAP_DAC_READ_SEARCH: there only root's own files are read). */
static int sb_drop_caps(char *err, size_t errsz)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0) {
		snprintf(err, errsz, "capget: %s", strerror(errno));
		return -1;
	}
	const uint32_t keep = d[0].permitted & (1u << CAP_DAC_READ_SEARCH);
	int bounded = 1;
	for (int cap = 0; cap < 64; cap++) {
		if (keep && cap == CAP_DAC_READ_SEARCH)
			continue;
		int have = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (have < 0)
			break; /* past the kernel's last capability */
		if (have == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			bounded = 0;
	}
	/* SECURITY: no way back to full root through exec (also barred by
	 * no_new_privs and seccomp); best effort, the unit may lock them. */
	prctl(PR_SET_SECUREBITS,
	      SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
	          SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
	          SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
	      0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = keep;
	if (syscall(SYS_capset, &h, d) != 0) {
		snprintf(err, errsz, "capset: %s", strerror(errno));
		return -1;
	}
	/* SECURITY: prove it (capabilities are per thread: this runs before
	 * the helper starts any, so its threads inherit exactly this). */
	if (syscall(SYS_capget, &h, d) != 0 || d[0].effective != keep || d[0].permitted != keep ||
	    d[0].inheritable || d[1].effective || d[1].permitted || d[1].inheritable) {
		snprintf(err, errsz, "dropping the capabilities did not stick");
		return -1;
	}
	log_info("sandbox (privileged helper): uid 0 %s%s",
	         keep ? "with CAP_DAC_READ_SEARCH only" : "without capabilities",
	         bounded ? ", bounding set the same"
	                 : "; the bounding set is the service manager's");
	return 0;
}

int sandbox_enter_helper(const struct config *c, char *err, size_t errsz)
{
	/* Its rule needs the directory to exist; tls.c would make it too. */
	if (mkdir(c->state_dir[0] != '\0' ? c->state_dir : ".", 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "state_dir %s: %s", c->state_dir, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && sb_drop_caps(err, errsz) != 0)
		return -1;
	/* SECURITY: the helper holds private keys: no core file, no ptrace by
	 * another process of the same uid. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errsz, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	return sb_confine(c, 1, err, errsz);
}
