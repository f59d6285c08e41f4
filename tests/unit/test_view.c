/* test_view.c - view: resolution to the final object through symlinks,
 * hidden and protected for anonymous and users, visible children,
 * file_resolve_path.  Builds a small tree with index_build. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "file.h"
#include "index.h"
#include "unit.h"
#include "view.h"

static char top[256];

static void pathof(char *p, size_t n, const char *rel)
{
	snprintf(p, n, "%s/%s", top, rel);
}

static void mk(const char *rel)
{
	char p[600];
	pathof(p, sizeof(p), rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs("x", f) < 0 || fclose(f) != 0)
		exit(2);
}

static void mkd(const char *rel)
{
	char p[600];
	pathof(p, sizeof(p), rel);
	if (mkdir(p, 0755) < 0)
		exit(2);
}

static void ln(const char *target, const char *rel)
{
	char p[600];
	pathof(p, sizeof(p), rel);
	if (symlink(target, p) < 0)
		exit(2);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p) < 0 ? -1 : 0;
}

struct count {
	int n;
	int saw_link;
};

static int count_child(const struct index_entry *e, void *arg)
{
	struct count *c = arg;
	c->n++;
	if (strcmp(e->name, "shortcut") == 0 || strcmp(e->name, "report-link.txt") == 0)
		c->saw_link = 1;
	return 0;
}

static const struct {
	const char *rel;
	int user; /* 0 anonymous, 1 alice */
	int status;
	int kind;
	const char *real;
} cases[] = {
    {"", 0, VIEW_OK, VIEW_DIR, ""},
    {"pub/file.txt", 0, VIEW_OK, VIEW_FILE, "pub/file.txt"},
    {"pub/rel-link/1.0", 0, VIEW_OK, VIEW_FILE, "pub/releases/1.0"},
    {"pub/rel-link", 0, VIEW_OK, VIEW_DIR, "pub/releases"},
    {"pub/report-link.txt", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"pub/report-link.txt", 1, VIEW_OK, VIEW_FILE, "private/docs/report.txt"},
    {"pub/shortcut", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"pub/shortcut/docs/report.txt", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"pub/shortcut/docs/report.txt", 1, VIEW_OK, VIEW_FILE, "private/docs/report.txt"},
    {"pub/shortcut/nothing", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"private/nothing", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"private/nothing", 1, VIEW_ABSENT, VIEW_NONE, NULL},
    {"private/back-out/file.txt", 0, VIEW_LOGIN, VIEW_NONE, NULL},
    {"pub/dotlink", 0, VIEW_ABSENT, VIEW_NONE, NULL},
    {"pub/dotlink", 1, VIEW_ABSENT, VIEW_NONE, NULL},
    {".secret", 1, VIEW_ABSENT, VIEW_NONE, NULL},
    {"pub/file.txt/x", 0, VIEW_ABSENT, VIEW_NONE, NULL},
    {"pub/missing", 0, VIEW_ABSENT, VIEW_NONE, NULL},
};

int main(void)
{
	char p[600], out[PM_PATH_MAX];
	struct config *c = calloc(1, sizeof(*c));
	struct view_obj *o = malloc(sizeof(*o));

	if (c == NULL || o == NULL)
		return 2;
	snprintf(top, sizeof(top), "%s/pm-test-view.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 2;
	mkd("root");
	mkd("root/pub");
	mkd("root/pub/releases");
	mkd("root/private");
	mkd("root/private/docs");
	mk("root/pub/file.txt");
	mk("root/pub/releases/1.0");
	mk("root/private/docs/report.txt");
	mk("root/.secret");
	ln("../private", "root/pub/shortcut");
	ln("../private/docs/report.txt", "root/pub/report-link.txt");
	ln("../.secret", "root/pub/dotlink");
	ln("releases", "root/pub/rel-link");
	ln("../pub", "root/private/back-out");
	ln("../../etc/passwd", "root/pub/escape");

	/* file_resolve_path: links resolved beneath the root */
	pathof(p, sizeof(p), "root");
	int rootfd = file_open_root(p);
	CHECK_INT("resolve a file link", 0,
	          file_resolve_path(rootfd, "pub/report-link.txt", out, sizeof(out)));
	CHECK_STR("to its target", "private/docs/report.txt", out);
	CHECK_INT("resolve through a directory link", 0,
	          file_resolve_path(rootfd, "pub/shortcut/docs/report.txt", out, sizeof(out)));
	CHECK_STR("to the target's path", "private/docs/report.txt", out);
	CHECK_INT("an escape is refused", -1,
	          file_resolve_path(rootfd, "pub/escape", out, sizeof(out)));
	close(rootfd);

	struct index *ix = index_build(p, 0);
	CHECK("index built", ix != NULL);
	if (ix == NULL)
		return unit_done();
	const struct index_entry *le = index_lookup(ix, "pub/report-link.txt");
	CHECK_STR("the index records a file link's target", "private/docs/report.txt",
	          le ? index_link_target(le) : NULL);
	CHECK("a plain file has no target",
	      index_link_target(index_lookup(ix, "pub/file.txt")) == NULL);

	c->auth_paths.n = 1;
	snprintf(c->auth_paths.p[0], sizeof(c->auth_paths.p[0]), "private");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[300];
		enum view_status st =
		    view_resolve(ix, c, cases[i].user ? "alice" : NULL, cases[i].rel, o);
		snprintf(what, sizeof(what), "%s as %s: status", cases[i].rel,
		         cases[i].user ? "alice" : "anonymous");
		CHECK_INT(what, cases[i].status, st);
		snprintf(what, sizeof(what), "%s as %s: kind", cases[i].rel,
		         cases[i].user ? "alice" : "anonymous");
		CHECK_INT(what, cases[i].kind, o->kind);
		if (cases[i].real) {
			snprintf(what, sizeof(what), "%s: resolved path", cases[i].rel);
			CHECK_STR(what, cases[i].real, o->real);
			snprintf(what, sizeof(what), "%s: asked path kept", cases[i].rel);
			CHECK_STR(what, cases[i].rel, o->asked);
		}
	}

	/* visible children of pub/ */
	struct count n = {0, 0};
	CHECK_INT("resolve pub as anonymous", VIEW_OK, view_resolve(ix, c, NULL, "pub", o));
	view_each_child(o, count_child, &n);
	CHECK_INT("anonymous sees file, releases, rel-link", 3, n.n);
	CHECK("anonymous sees no link into private", !n.saw_link);
	memset(&n, 0, sizeof(n));
	CHECK_INT("resolve pub as alice", VIEW_OK, view_resolve(ix, c, "alice", "pub", o));
	view_each_child(o, count_child, &n);
	CHECK_INT("alice also sees shortcut and report-link.txt", 5, n.n);
	CHECK("alice sees the links", n.saw_link);

	/* the open goes to the resolved file */
	struct stat st;
	CHECK_INT("resolve the link as alice", VIEW_OK,
	          view_resolve(ix, c, "alice", "pub/report-link.txt", o));
	int fd = view_open(o, &st);
	CHECK("view_open opens the target", fd >= 0 && S_ISREG(st.st_mode));
	if (fd >= 0)
		close(fd);

	/* nothing protected: the links lead to a public file */
	c->auth_paths.n = 0;
	CHECK_INT("no auth_paths: the link is served", VIEW_OK,
	          view_resolve(ix, c, NULL, "pub/report-link.txt", o));
	CHECK_INT("no auth_paths: a link to a dot-file is still hidden", VIEW_ABSENT,
	          view_resolve(ix, c, NULL, "pub/dotlink", o));
	/* everything protected */
	c->auth_paths.n = 1;
	c->auth_paths.p[0][0] = '\0';
	CHECK_INT("auth_paths = /: the root needs a login", VIEW_LOGIN,
	          view_resolve(ix, c, NULL, "", o));

	index_release(ix);
	free(o);
	free(c);
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
