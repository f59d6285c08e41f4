/* path.h - the one path resolver.  Pure: no I/O, no global state.
 *
 * A client's string (an FTP argument joined to the session's directory, or
 * a percent-decoded URL path) becomes a canonical root-relative path: no
 * leading or trailing '/', no empty, "." or ".." components; "" is the root.
 */
#ifndef PUBMIRROR_PATH_H
#define PUBMIRROR_PATH_H

#include <stddef.h>

/* Resolve arg (n bytes, may hold anything) against cwd (a canonical path
 * from an earlier call, "" for root).  An absolute arg ('/'...) starts at the
 * root.  On success writes the canonical path into out and returns 0.  On
 * refusal returns -1 and sets *why to a static reason ("path contains a NUL
 * byte", "path climbs above the root", ...); out is then "".
 * SECURITY: refuses NUL, control characters (< 0x20, 0x7f), backslash,
 * components over PM_NAME_MAX, paths over PM_PATH_MAX or PM_PATH_DEPTH_MAX
 * components, and any ".." that would climb above the root. */
int path_resolve(const char *cwd, const char *arg, size_t n, char *out, size_t outsz,
                 const char **why);

/* Percent-decode a URL path (n bytes) into out.  Refuses (returns -1, *why)
 * malformed escapes, %00, and an encoded '/' (%2f) or '\' (%5c). */
int path_url_decode(const char *in, size_t n, char *out, size_t outsz, const char **why);

/* 1 when rel equals prefix or lies beneath it ("" prefix matches all). */
int path_has_prefix(const char *rel, const char *prefix);

/* 1 when any component of rel starts with '.'. */
int path_has_dot_component(const char *rel);

#endif
