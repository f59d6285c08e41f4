/* test_sandbox.c - sandbox_rlimits and sandbox_enter in forked children:
 * no_new_privs, seccomp mode, Landlock confinement (also of a thread
 * started before), refused system calls, and the user change when root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sandbox.h"
#include "unit.h"

static char tmpdir[256];
static int have_landlock;

/* Value of a "Key:" line of /proc/self/status, or "" */
static void status_field(const char *key, char *out, size_t outsz)
{
	char buf[8192];
	out[0] = '\0';
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(out, outsz, "(open: %s)", strerror(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	size_t kl = strlen(key);
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			size_t len = strcspn(v, "\n");
			snprintf(out, outsz, "%.*s", (int)len, v);
			return;
		}
	}
}

static int open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

/* ---- a thread started before sandbox_enter ---- */

static int early_pipe[2];
static int early_result = -1;

static void *early_thread(void *arg)
{
	(void)arg;
	char ch;
	/* Blocks until the main thread has entered the sandbox; the
	 * sandbox's signal interrupts this read (restarted). */
	while (read(early_pipe[0], &ch, 1) < 0 && errno == EINTR)
		;
	early_result = open_errno((const char *)arg == NULL ? "/etc/passwd" : arg, O_RDONLY);
	return NULL;
}

static void *late_thread(void *arg)
{
	(void)arg;
	return (void *)1;
}

static const char *outside_file(void)
{
	return access("/etc/hostname", R_OK) == 0 ? "/etc/hostname" : "/etc/passwd";
}

static int child_enter(struct config *c)
{
	char err[512] = "", v[256], path[PM_PATH_MAX + 64];
	const char *outside = outside_file();
	pthread_t early;
	if (pipe(early_pipe) != 0)
		return 1;
	pthread_create(&early, NULL, early_thread, (void *)outside);

	int rc = sandbox_enter(c, err, sizeof(err));
	CHECK_INT("sandbox_enter succeeds", 0, rc);
	if (rc != 0)
		printf("# %s\n", err);

	status_field("NoNewPrivs", v, sizeof(v));
	CHECK_STR("NoNewPrivs 1", "1", v);
	status_field("Seccomp", v, sizeof(v));
#ifdef HAVE_SECCOMP
	CHECK_STR("Seccomp 2 (filter)", "2", v);
#else
	printf("not ok - built without libseccomp: Seccomp is %s\n", v);
#endif
	if (geteuid() == 0 || getuid() == 0) {
		printf("not ok - still root after sandbox_enter\n");
	}
	struct passwd *nobody = getpwnam("nobody");
	(void)nobody; /* looked up in the parent; NSS may be confined now */

	snprintf(path, sizeof(path), "%s/hello.txt", c->root);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[16] = "";
	CHECK("reading a file inside root works",
	      fd >= 0 && read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s", c->root);
	CHECK_INT("listing root works", 0, open_errno(path, O_RDONLY | O_DIRECTORY));

	if (have_landlock) {
		CHECK_INT("opening a file outside everything allowed: EACCES", EACCES,
		          open_errno(outside, O_RDONLY));
		snprintf(path, sizeof(path), "%s/new.txt", c->root);
		CHECK_INT("creating a file in a world-writable root: EACCES", EACCES,
		          open_errno(path, O_WRONLY | O_CREAT | O_EXCL));
		snprintf(path, sizeof(path), "%s/hello.txt", c->root);
		CHECK_INT("writing a served file: EACCES", EACCES, open_errno(path, O_WRONLY));
		snprintf(path, sizeof(path), "%s/logs/other.log", tmpdir);
		CHECK_INT("creating a file in the log directory works", 0,
		          open_errno(path, O_WRONLY | O_CREAT | O_APPEND));
		CHECK_INT("opening /dev/urandom works", 0, open_errno("/dev/urandom", O_RDONLY));
		CHECK_INT("/usr/share readable", 0,
		          open_errno("/usr/share", O_RDONLY | O_DIRECTORY));
	} else {
		printf("skip - landlock unavailable: filesystem confinement not tested\n");
	}

	/* The thread started before the sandbox is confined too. */
	if (write(early_pipe[1], "x", 1) != 1)
		printf("not ok - pipe write\n");
	pthread_join(early, NULL);
#ifdef __SANITIZE_THREAD__
	/* ThreadSanitizer's interceptors delay the signal that makes an earlier
	 * thread confine itself; the daemon logs that such a thread could not
	 * be confined.  The plain and ASan builds check it. */
	if (have_landlock)
		printf("skip - TSan build: confinement of an earlier thread not checked\n");
#else
	if (have_landlock)
		CHECK_INT("thread started before sandbox_enter is confined (EACCES)", EACCES,
		          early_result);
#endif

#ifdef HAVE_SECCOMP
	errno = 0;
	CHECK("getpriority (unlisted, normally allowed) refused with EPERM",
	      syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1 && errno == EPERM);
	errno = 0;
	CHECK("mount refused with EPERM",
	      mount("none", tmpdir, "tmpfs", 0, NULL) == -1 && errno == EPERM);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	printf("# sanitizer build: ptrace and fork stay allowed for LeakSanitizer\n");
#else
	errno = 0;
	CHECK("ptrace(TRACEME) refused with EPERM",
	      ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM);
	errno = 0;
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	CHECK("fork refused with EPERM", p == -1 && errno == EPERM);
#endif
	errno = 0;
	char *const argv[] = {"/bin/true", NULL};
	CHECK("execve refused with EPERM", execve("/bin/true", argv, NULL) == -1 && errno == EPERM);
	errno = 0;
	CHECK("unlisted socket family refused",
	      socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM);
	struct rlimit rl = {1, 1};
	CHECK("setrlimit refused", setrlimit(RLIMIT_NOFILE, &rl) != 0);
	CHECK("getrlimit allowed", getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 1);
#endif
	CHECK("setuid(0) fails", setuid(0) != 0);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK("TCP socket for data connections allowed", s >= 0);
	if (s >= 0)
		close(s);
	s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK("IPv6 socket allowed", s >= 0 || errno == EAFNOSUPPORT);
	if (s >= 0)
		close(s);
	pthread_t late;
	void *res = NULL;
	int prc = pthread_create(&late, NULL, late_thread, NULL);
	CHECK_INT("threads can be created after sandbox_enter", 0, prc);
	if (prc == 0)
		pthread_join(late, &res);
	CHECK("the late thread ran", res == (void *)1);
	return 0;
}

static int child_root_ids(uid_t uid, gid_t gid)
{
	char v[256], want[128];
	status_field("Uid", v, sizeof(v));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
	CHECK_STR("Uid is the user's (real, effective, saved, fs)", want, v);
	status_field("Gid", v, sizeof(v));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", gid, gid, gid, gid);
	CHECK_STR("Gid is the user's group", want, v);
	status_field("Groups", v, sizeof(v));
	CHECK_STR("no supplementary groups", "", v);
	return 0;
}

static int run_child(struct config *c, const char *what, uid_t uid, gid_t gid)
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		child_enter(c);
		if (uid != (uid_t)-1)
			child_root_ids(uid, gid);
		fflush(stdout);
		_exit(unit_failed ? 1 : 0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	CHECK(what, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}

static void test_rlimits(void)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		struct config *c = calloc(1, sizeof(*c));
		char err[512] = "";
		c->max_clients = 100;
		CHECK_INT("sandbox_rlimits", 0, sandbox_rlimits(c, err, sizeof(err)));
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		CHECK("RLIMIT_NOFILE >= max_clients * 3 + 64", rl.rlim_cur >= 364);
		getrlimit(RLIMIT_CORE, &rl);
		CHECK("RLIMIT_CORE 0", rl.rlim_cur == 0 && rl.rlim_max == 0);
		CHECK_INT("not dumpable", 0, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		/* More than the kernel allows (fs.nr_open is at most 2^30). */
		c->max_clients = 2000000000u;
		err[0] = '\0';
		CHECK_INT("impossible max_clients refused", -1,
		          sandbox_rlimits(c, err, sizeof(err)));
		CHECK("message names max_clients", strstr(err, "max_clients 2000000000") != NULL);
		printf("# %s\n", err);
		free(c);
		fflush(stdout);
		_exit(unit_failed ? 1 : 0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	CHECK("rlimits child passed", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int main(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	have_landlock = abi >= 1;
	printf("# landlock ABI %ld\n", abi);

	test_rlimits();

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pm-sandbox.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		printf("not ok - mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	struct config *c = calloc(1, sizeof(*c));
	char path[PM_PATH_MAX + 64];
	snprintf(c->root, sizeof(c->root), "%s/tree", tmpdir);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s/state", tmpdir);
	snprintf(c->error_log, sizeof(c->error_log), "%s/logs/error.log", tmpdir);
	snprintf(c->user, sizeof(c->user), "nobody");
	mkdir(c->root, 0777);
	mkdir(c->state_dir, 0700);
	snprintf(path, sizeof(path), "%s/logs", tmpdir);
	mkdir(path, 0777);
	/* Reachable by the unprivileged user when the test runs as root;
	 * root world-writable so that only Landlock can refuse writes. */
	chmod(tmpdir, 0755);
	chmod(c->root, 0777);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/hello.txt", c->root);
	write_file(path, "hello\n");
	chmod(path, 0666);

	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		CHECK("user nobody exists (needed when run as root)", pw != NULL);
		if (pw != NULL) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
	} else {
		printf("# not root: user change not tested\n");
	}
	run_child(c, "sandboxed child passed", uid, gid);

	if (geteuid() == 0) {
		snprintf(c->user, sizeof(c->user), "no-such-user-pm");
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			char err[256] = "";
			int rc = sandbox_enter(c, err, sizeof(err));
			_exit(rc == -1 && strstr(err, "no-such-user-pm") != NULL ? 0 : 1);
		}
		int st = 0;
		waitpid(p, &st, 0);
		CHECK("unknown user refused with its name", WIFEXITED(st) && WEXITSTATUS(st) == 0);
		snprintf(c->user, sizeof(c->user), "root");
		fflush(stdout);
		p = fork();
		if (p == 0) {
			char err[256] = "";
			int rc = sandbox_enter(c, err, sizeof(err));
			_exit(rc == -1 && geteuid() == 0 ? 0 : 1);
		}
		waitpid(p, &st, 0);
		CHECK("user root refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
	return unit_done();
}
