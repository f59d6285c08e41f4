/* path.c - the one path resolver (see path.h).  Pure: no I/O, no globals.
 *
 * The canonical form is built in place in the caller's buffer: a stack of
 * component start offsets lets ".." drop the last component without
 * rescanning.  Every refusal names the problem; nothing is clamped.
 */
#include "buf.h"
#include "path.h"

#include <string.h>

#include "limits.h"

struct path_state {
	char *out;
	size_t outsz;
	size_t len;                      /* bytes in out, excluding NUL */
	size_t depth;                    /* components in out */
	size_t start[PM_PATH_DEPTH_MAX]; /* offset of each component */
};

/* SECURITY: the byte rules apply to the whole string before any
 * component is looked at, so the reason does not depend on position. */
static const char *path_check_bytes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			return "path contains a NUL byte";
		if (c < 0x20 || c == 0x7f)
			return "path contains a control character";
		if (c == '\\')
			return "path contains a backslash";
	}
	return NULL;
}

/* Apply one component (not containing '/') to the state. */
static const char *path_push(struct path_state *ps, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return NULL;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		/* SECURITY: refuse rather than clamp to the root, so that a
		 * client probing for an escape learns it is seen. */
		if (ps->depth == 0)
			return "path climbs above the root";
		ps->depth--;
		ps->len = ps->start[ps->depth];
		if (ps->len > 0)
			ps->len--; /* the '/' before the dropped component */
		ps->out[ps->len] = '\0';
		return NULL;
	}
	if (n > PM_NAME_MAX)
		return "path component is too long";
	if (ps->depth >= PM_PATH_DEPTH_MAX)
		return "path has too many components";
	size_t need = ps->len + (ps->len > 0) + n;
	if (need >= PM_PATH_MAX || need >= ps->outsz)
		return "path is too long";
	if (ps->len > 0)
		ps->out[ps->len++] = '/';
	ps->start[ps->depth++] = ps->len;
	memcpy(ps->out + ps->len, c, n);
	ps->len += n;
	ps->out[ps->len] = '\0';
	return NULL;
}

static const char *path_feed(struct path_state *ps, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != '/')
			j++;
		const char *why = path_push(ps, s + i, j - i);
		if (why)
			return why;
		i = j + 1;
	}
	return NULL;
}

int path_resolve(const char *cwd, const char *arg, size_t n, char *out, size_t outsz,
                 const char **why)
{
	static const char *dummy;
	struct path_state ps;
	const char *w;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!out || outsz == 0) {
		*why = "path is too long";
		return -1;
	}
	out[0] = '\0';
	if (!arg && n > 0) {
		*why = "path is missing";
		return -1;
	}
	/* SECURITY: bound the work before looking at the bytes. */
	if (n >= PM_PATH_MAX) {
		w = "path is too long";
		goto fail;
	}
	w = path_check_bytes(arg, n);
	if (w)
		goto fail;

	ps.out = out;
	ps.outsz = outsz;
	ps.len = 0;
	ps.depth = 0;
	if (n == 0 || arg[0] != '/') {
		size_t cn = cwd ? strnlen(cwd, PM_PATH_MAX) : 0;

		/* cwd comes from an earlier call, but it passes the same
		 * rules: a bad cwd is refused, never trusted. */
		if (cn >= PM_PATH_MAX) {
			w = "path is too long";
			goto fail;
		}
		w = path_check_bytes(cwd, cn);
		if (!w)
			w = path_feed(&ps, cwd, cn);
		if (w)
			goto fail;
	}
	w = path_feed(&ps, arg, n);
	if (w)
		goto fail;
	return 0;
fail:
	out[0] = '\0';
	*why = w;
	return -1;
}

int path_url_decode(const char *in, size_t n, char *out, size_t outsz, const char **why)
{
	static const char *dummy;
	const char *w = NULL;
	size_t o = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!out || outsz == 0) {
		*why = "path is too long";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == 0) {
			w = "path contains a NUL byte";
			goto fail;
		}
		if (c == '%') {
			if (n - i < 3) {
				w = "malformed percent-escape in path";
				goto fail;
			}
			int hi = buf_hexval((unsigned char)in[i + 1]);
			int lo = buf_hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0) {
				w = "malformed percent-escape in path";
				goto fail;
			}
			c = (unsigned char)(hi * 16 + lo);
			/* SECURITY: an encoded NUL, '/' or '\' would change
			 * the meaning of the path after decoding. */
			if (c == 0) {
				w = "path contains an encoded NUL byte (%00)";
				goto fail;
			}
			if (c == '/') {
				w = "path contains an encoded slash (%2F)";
				goto fail;
			}
			if (c == '\\') {
				w = "path contains an encoded backslash (%5C)";
				goto fail;
			}
			i += 2;
		}
		if (o + 1 >= outsz || o + 1 >= PM_PATH_MAX) {
			w = "path is too long";
			goto fail;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
fail:
	out[0] = '\0';
	*why = w;
	return -1;
}

int path_has_prefix(const char *rel, const char *prefix)
{
	size_t pn = strlen(prefix);

	/* Tolerate "/pub/" style prefixes: compare the canonical core. */
	while (pn > 0 && prefix[0] == '/') {
		prefix++;
		pn--;
	}
	while (pn > 0 && prefix[pn - 1] == '/')
		pn--;
	if (pn == 0)
		return 1;
	if (strncmp(rel, prefix, pn) != 0)
		return 0;
	return rel[pn] == '\0' || rel[pn] == '/';
}

int path_has_dot_component(const char *rel)
{
	const char *p = rel;

	while (*p) {
		if (*p == '.')
			return 1;
		p = strchr(p, '/');
		if (!p)
			break;
		p++;
	}
	return 0;
}
