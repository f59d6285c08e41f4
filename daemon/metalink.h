/* metalink.h - Metalink 4 documents (RFC 5854) for one served file: its
 * name, size, SHA-256 and the URLs it can be fetched from, so that aria2
 * and wget2 verify the download and fall back to another source.
 *
 * Pure: text in, XML out; the caller decides the URLs and the digest. */
#ifndef PUBMIRROR_METALINK_H
#define PUBMIRROR_METALINK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METALINK_SUFFIX ".meta4"
#define METALINK_TYPE "application/metalink4+xml"
#define METALINK_URLS_MAX 16 /* this node's URLs plus configured mirrors */

struct metalink_file {
	const char *name; /* the file's own name (last component) */
	uint64_t size;
	int64_t mtime;          /* seconds since the epoch: <updated> */
	const char *sha256_hex; /* 64 hex digits, or NULL when not known */
};

/* Append base + "/" + rel (URI-encoded; base's trailing '/' dropped) to
 * out as one URL.  0 or -1 (cap). */
int metalink_url(struct buf *out, const char *base, const char *rel);

/* The Metalink 4 document of f with urls[0..n) (already URI-encoded; they
 * are XML-escaped here) in that order of priority.  0 or -1. */
int metalink_render(struct buf *out, const struct metalink_file *f, const char *const *urls,
                    size_t n);

/* 1 when an Accept header names application/metalink4+xml and no "*\/\*"
 * (a client asking for anything gets the file; .meta4 is the sure way). */
int metalink_accepted(const char *accept);

#endif
