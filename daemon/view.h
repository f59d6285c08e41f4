/* view.h - what one client may see of the tree: the only place that knows
 * what "hidden" and "protected" mean.
 *
 * A client path (canonical, from path_resolve) is resolved here, in the
 * index snapshot, to its final object: every symlink on the way is
 * followed (the index records where each one leads, beneath the root),
 * and the access decision is taken on every object crossed and on the
 * final one, not on the name asked for.  The principal is anonymous
 * (user NULL) or a user who has logged in (over TLS: callers check).
 *
 * Rules, for the principal:
 * - hidden: a path with a dot component (show_dotfiles off), asked or
 *   resolved, does not exist for anyone;
 * - protected: under an auth_paths prefix, as asked or as resolved (or any
 *   directory crossed on the way): an anonymous client gets VIEW_LOGIN, a
 *   user sees it;
 * - visible children of a directory: the same two rules for each child.
 *
 * Every listing (HTML, JSON, LIST, NLST, MLSD/MLST, STAT, ls-lR.gz), every
 * GET/HEAD/RETR/SIZE/MDTM/HASH and the rsync file lists ask view_resolve,
 * then view_child_visible / view_each_child for directories, and open
 * files with view_open (the resolved path, beneath the root).
 */
#ifndef PUBMIRROR_VIEW_H
#define PUBMIRROR_VIEW_H

#include <sys/stat.h>

#include "index.h"
#include "limits.h"

struct config;

enum view_kind { VIEW_NONE = 0, VIEW_FILE = 1, VIEW_DIR = 2 };

enum view_status {
	VIEW_OK = 0,      /* exists, and the principal may have it */
	VIEW_ABSENT = -1, /* does not exist (or is hidden) for anyone */
	VIEW_LOGIN = -2,  /* protected, and the principal is anonymous:
	                   * HTTP asks for a login, FTP says "no such file" */
};

/* A resolved object.  Holds pointers into ix: valid while ix is held. */
struct view_obj {
	const struct index *ix;
	const struct config *cfg;
	const char *user; /* principal: NULL = anonymous */
	enum view_kind kind;
	const struct index_entry *e; /* FILE: its entry; DIR: NULL for the root */
	const struct index_dir *d;   /* DIR: its listing (path = resolved path) */
	int virt;                    /* FILE: the generated ls-lR.gz (lslr.h) */
	struct index_entry vent;     /* virt: its entry (e points here: do not copy o) */
	int prot;                    /* protected (see above) */
	char asked[PM_PATH_MAX];     /* canonical path as asked: titles, logs */
	char real[PM_PATH_MAX];      /* canonical path of the final object */
};

/* Resolve rel (canonical) in ix for user (NULL: anonymous) under config c.
 * Fills *o on VIEW_OK; on VIEW_LOGIN o->kind may be VIEW_NONE (a protected
 * name that does not exist answers the same as one that does).  Pure: no
 * I/O.  Thread-safe. */
enum view_status view_resolve(const struct index *ix, const struct config *c, const char *user,
                              const char *rel, struct view_obj *o);

/* 1 when entry e of the directory dir (a VIEW_DIR from view_resolve; e one
 * of its entries, or the virtual ls-lR.gz entry of the root from
 * lslr_entry) exists for dir's principal: not hidden, and not protected
 * unless the principal is a user. */
int view_child_visible(const struct view_obj *dir, const struct index_entry *e);

/* Call cb for each visible child of dir, in name order (at most
 * PM_LIST_ENTRIES_MAX; the virtual ls-lR.gz is not included).  Stops
 * early when cb returns non-zero and returns that value; else 0. */
int view_each_child(const struct view_obj *dir, int (*cb)(const struct index_entry *e, void *arg),
                    void *arg);

/* The generated entries that dir holds besides its snapshot's (the
 * root's ls-lR.gz, lslr.h), for listings: fills *buf and returns it when
 * dir is the root, the file exists, the tree has none of that name and
 * dir's principal may see it; else NULL.  gen: a number that changes
 * whenever that answer does (part of a listing cache key), or NULL. */
const struct index_entry *view_extra_child(const struct view_obj *dir, struct index_entry *buf,
                                           uint64_t *gen);

/* Open the file o (VIEW_FILE, VIEW_OK) for reading: the resolved path
 * beneath the snapshot's root (file_open), or the ls-lR.gz memory file.
 * Fills *st.  Returns the fd (the caller owns it) or -1 with errno (ENOSYS
 * for an ls-lR.gz to be served from memory: lslr_acquire). */
int view_open(const struct view_obj *o, struct stat *st);

#endif
