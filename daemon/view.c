/* view.c - what one client may see of the tree (view.h).
 *
 * Resolution walks the snapshot one component at a time from the root:
 * each name is looked up in its directory's sorted entries; a directory
 * symlink is an entry whose index_dir is its target's (so the walk goes on
 * where the target really lives) and a file symlink carries its target's
 * canonical path (index_link_target).  At every step the rules are applied
 * to the path as asked and to the path of the object reached, so a link
 * can neither uncover a hidden or protected object nor be used as a way
 * through a protected directory.
 */
#include "view.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "file.h"
#include "lslr.h"
#include "path.h"

/* SECURITY: the two rules, in one place. */
static int view_hidden(const struct config *c, const char *rel)
{
	return !c->show_dotfiles && path_has_dot_component(rel);
}

static int view_protected(const struct config *c, const char *rel)
{
	return c->auth_paths.n > 0 && auth_path_protected(c, rel);
}

/* a + "/" + name (n bytes) into out; -1 when too long. */
static int view_join(char *out, size_t outsz, const char *a, const char *name, size_t n)
{
	size_t al = strlen(a), k = al ? al + 1 : 0;

	if (k + n + 1 > outsz)
		return -1;
	memmove(out, a, al);
	if (al)
		out[al] = '/';
	memcpy(out + k, name, n);
	out[k + n] = '\0';
	return 0;
}

static int view_in_snapshot(const struct index *ix, const struct index_entry *e)
{
	return e >= ix->entries && e < ix->entries + ix->nentries;
}

/* The resolved path of entry e of directory d (d->path is resolved). */
static int view_real(char *out, size_t outsz, const struct index *ix, const struct index_dir *d,
                     const struct index_entry *e)
{
	if (view_in_snapshot(ix, e)) {
		const char *t = index_link_target(e);
		if (t != NULL) {
			size_t tl = strlen(t);
			if (tl + 1 > outsz)
				return -1;
			memcpy(out, t, tl + 1);
			return 0;
		}
		if (e->type == INDEX_DIR && e->dir < ix->ndirs) {
			const char *p = ix->dirs[e->dir].path;
			size_t pl = strlen(p);
			if (pl + 1 > outsz)
				return -1;
			memcpy(out, p, pl + 1);
			return 0;
		}
	}
	return view_join(out, outsz, d->path, e->name, e->namelen);
}

enum view_status view_resolve(const struct index *ix, const struct config *c, const char *user,
                              const char *rel, struct view_obj *o)
{
	const struct index_dir *d = index_find_dir(ix, "");
	size_t len = strlen(rel), pos = 0;
	int prot = 0;

	memset(o, 0, offsetof(struct view_obj, asked));
	o->ix = ix;
	o->cfg = c;
	o->user = user;
	o->asked[0] = o->real[0] = '\0';
	if (len >= sizeof(o->asked) || d == NULL)
		return VIEW_ABSENT;
	memcpy(o->asked, rel, len + 1);
	/* SECURITY: a protected name answers the same whether or not it
	 * exists; a hidden one does not exist. */
	if (view_hidden(c, rel))
		return VIEW_ABSENT;
	prot = view_protected(c, rel);
	o->kind = VIEW_DIR;
	o->d = d;
	while (pos < len) {
		size_t start = pos, n;
		while (pos < len && rel[pos] != '/')
			pos++;
		n = pos - start;
		int last = pos >= len;
		pos++;
		if (o->kind != VIEW_DIR)
			goto absent;
		const struct index_entry *e = index_find_name(ix, d, rel + start, n);
		if (e == NULL) {
			/* the generated ls-lR.gz, at the root only */
			if (last && d->path[0] == '\0' && lslr_is_virtual(ix, rel) &&
			    lslr_entry(ix, &o->vent) != NULL) {
				o->kind = VIEW_FILE;
				o->virt = 1;
				o->e = &o->vent;
				memcpy(o->real, rel, len + 1);
				break;
			}
			goto absent;
		}
		if (view_real(o->real, sizeof(o->real), ix, d, e) != 0)
			goto absent;
		if (view_hidden(c, o->real))
			goto absent;
		prot |= view_protected(c, o->real);
		o->e = e;
		if (e->type == INDEX_DIR) {
			if (e->dir >= ix->ndirs)
				goto absent;
			d = &ix->dirs[e->dir];
			o->d = d;
		} else {
			o->kind = VIEW_FILE;
			o->d = NULL;
		}
	}
	o->prot = prot;
	if (prot && user == NULL) {
		o->kind = VIEW_NONE;
		return VIEW_LOGIN;
	}
	return VIEW_OK;
absent:
	o->kind = VIEW_NONE;
	o->e = NULL;
	o->d = NULL;
	o->prot = prot;
	return prot && user == NULL ? VIEW_LOGIN : VIEW_ABSENT;
}

int view_child_visible(const struct view_obj *dir, const struct index_entry *e)
{
	const struct config *c = dir->cfg;
	char p[PM_PATH_MAX];

	if (dir->kind != VIEW_DIR || dir->d == NULL)
		return 0;
	/* the common case (nothing protected, nothing hidden to check)
	 * composes nothing */
	if (c->auth_paths.n == 0 &&
	    (c->show_dotfiles || !view_in_snapshot(dir->ix, e) || !index_link_target(e)))
		return 1;
	if (view_real(p, sizeof(p), dir->ix, dir->d, e) != 0 || view_hidden(c, p))
		return 0;
	if (dir->user != NULL || c->auth_paths.n == 0)
		return 1;
	if (dir->prot || view_protected(c, p))
		return 0;
	if (view_join(p, sizeof(p), dir->asked, e->name, e->namelen) != 0)
		return 0;
	return !view_protected(c, p);
}

int view_each_child(const struct view_obj *dir, int (*cb)(const struct index_entry *e, void *arg),
                    void *arg)
{
	if (dir->kind != VIEW_DIR || dir->d == NULL)
		return 0;
	const struct index_dir *d = dir->d;
	uint32_t shown = 0;
	for (uint32_t i = 0; i < d->count && shown < PM_LIST_ENTRIES_MAX; i++) {
		const struct index_entry *e = &dir->ix->entries[d->first + i];
		if (!view_child_visible(dir, e))
			continue;
		shown++;
		int r = cb(e, arg);
		if (r != 0)
			return r;
	}
	return 0;
}

const struct index_entry *view_extra_child(const struct view_obj *dir, struct index_entry *buf,
                                           uint64_t *gen)
{
	if (gen)
		*gen = 0;
	if (dir->kind != VIEW_DIR || dir->d == NULL || dir->d->path[0] != '\0')
		return NULL;
	if (gen) {
		struct lslr_blob *lb = lslr_acquire();
		*gen = lb ? lb->generation + 1 : 0;
		lslr_release(lb);
	}
	if (lslr_entry(dir->ix, buf) == NULL || !view_child_visible(dir, buf))
		return NULL;
	return buf;
}

int view_open(const struct view_obj *o, struct stat *st)
{
	if (o->kind != VIEW_FILE) {
		errno = o->kind == VIEW_DIR ? EISDIR : ENOENT;
		return -1;
	}
	if (o->virt)
		return lslr_open(st);
	return file_open(o->ix->rootfd, o->real, FILE_REG_NOLINK, st);
}
