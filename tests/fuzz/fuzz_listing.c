/* fuzz_listing.c - the HTML and JSON listing renderers with hostile names,
 * on a hand-built struct index (one directory).
 * Input: byte 0 picks the sort order, then a URL path up to the first NUL,
 * then entry names separated by NUL ('/' is dropped: no name holds one);
 * a name starting with 0x01 is a directory, its length picks size/mtime.
 * Invariant (HTML): no raw '<', '>', '"' or '\'' from a name or the URL
 * path: the page has exactly as many of each as the same page rendered
 * with every name and path byte replaced by 'a' (the <wbr> break points the
 * renderer puts after '-', '_', '.' of long names not counted).  Invariant
 * (JSON): the
 * output is valid JSON (checked by a strict parser below), an array of
 * exactly as many objects as entries, and no raw control byte but the CR
 * and LF between objects. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "index.h"
#include "limits.h"
#include "listing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXE 64

/* --- a strict JSON validator (RFC 8259) --- */
struct js {
	const char *p, *end;
	int depth;
};

static void ws(struct js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int value(struct js *j, int *count);

static int string(struct js *j)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (j->p >= j->end)
				return -1;
			char e = *j->p++;
			if (e == 'u') {
				for (int i = 0; i < 4; i++, j->p++)
					if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) ||
					    *j->p == '\0')
						return -1;
			} else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
				return -1;
			}
		}
	}
	return -1;
}

static int number(struct js *j)
{
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return -1;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	return j->p > s ? 0 : -1;
}

static int value(struct js *j, int *count)
{
	if (++j->depth > 8)
		return -1;
	ws(j);
	if (j->p >= j->end)
		return -1;
	int r = -1;
	if (*j->p == '"') {
		r = string(j);
	} else if (*j->p == '[' || *j->p == '{') {
		char close = *j->p == '[' ? ']' : '}';
		int obj = close == '}';
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			r = 0;
		} else {
			for (;;) {
				if (obj) {
					ws(j);
					if (string(j) != 0)
						return -1;
					ws(j);
					if (j->p >= j->end || *j->p++ != ':')
						return -1;
				}
				if (value(j, NULL) != 0)
					return -1;
				if (count)
					(*count)++;
				ws(j);
				if (j->p >= j->end)
					return -1;
				if (*j->p == ',') {
					j->p++;
					continue;
				}
				if (*j->p++ != close)
					return -1;
				break;
			}
			r = 0;
		}
	} else {
		r = number(j);
	}
	j->depth--;
	return r;
}

static void count_specials(const struct buf *b, size_t n[4])
{
	memset(n, 0, 4 * sizeof(n[0]));
	for (size_t i = 0; i < b->len; i++) {
		/* the break points put into long names are the renderer's own
		 * markup, not bytes of the name */
		if (b->len - i >= 5 && memcmp(b->data + i, "<wbr>", 5) == 0) {
			i += 4;
			continue;
		}
		switch (b->data[i]) {
		case '<': n[0]++; break;
		case '>': n[1]++; break;
		case '"': n[2]++; break;
		case '\'': n[3]++; break;
		default: break;
		}
	}
}

static int name_cmp(const void *a, const void *b)
{
	const struct index_entry *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

static int render(struct index *ix, struct index_dir *d, const char *url, const char *sort,
		  struct buf *html, struct buf *json)
{
	if (listing_html(html, ix, d, url, NULL, NULL, sort, "read <me> & \"x\"", 16) != 0)
		return -1;
	if (listing_json(json, ix, d, NULL, NULL, NULL) != 0)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sorts[] = {"NA", "ND", "MA", "MD", "SA", "SD", NULL, "zz"};
	struct index_entry ents[MAXE], plain[MAXE];
	char names[MAXE][PM_NAME_MAX + 1], pnames[MAXE][PM_NAME_MAX + 1];
	char url[PM_PATH_MAX + 2], purl[PM_PATH_MAX + 2];
	struct index_dir dir = {"", 0, 0, 0};
	struct index ix, pix;
	struct buf h1, j1, h2, j2;
	size_t n = 0, i = 1, u = 0;

	if (size < 1)
		return 0;
	const char *sort = sorts[data[0] & 7];
	/* URL path: "/" + bytes up to the first NUL + "/" */
	url[u++] = '/';
	while (i < size && data[i] != 0 && u < 512) {
		url[u++] = (char)data[i];
		i++;
	}
	i++;
	if (url[u - 1] != '/')
		url[u++] = '/';
	url[u] = '\0';
	for (size_t k = 0; k < u; k++)
		purl[k] = url[k] == '/' ? '/' : 'a';
	purl[u] = '\0';

	while (i < size && n < MAXE) {
		size_t l = 0;
		int isdir = data[i] == 1;
		while (i < size && data[i] != 0) {
			if (data[i] != '/' && l < PM_NAME_MAX)
				names[n][l++] = (char)data[i];
			i++;
		}
		i++;
		if (l == 0)
			continue;
		names[n][l] = '\0';
		memset(&ents[n], 0, sizeof(ents[n]));
		ents[n].name = names[n];
		ents[n].namelen = (uint16_t)l;
		ents[n].type = isdir ? INDEX_DIR : INDEX_FILE;
		ents[n].dir = UINT32_MAX;
		ents[n].size = (uint64_t)l * 1000003u * (n + 1);
		ents[n].mtime = (int64_t)(l * 86400 * 97) - 86400;
		ents[n].ino = n;
		n++;
	}
	/* the index keeps names sorted and unique */
	qsort(ents, n, sizeof(ents[0]), name_cmp);
	size_t w = 0;
	for (size_t k = 0; k < n; k++)
		if (w == 0 || name_cmp(&ents[w - 1], &ents[k]) != 0)
			ents[w++] = ents[k];
	n = w;
	/* the same entries, every name byte replaced by 'a' */
	for (size_t k = 0; k < n; k++) {
		plain[k] = ents[k];
		memset(pnames[k], 'a', ents[k].namelen);
		pnames[k][ents[k].namelen] = '\0';
		plain[k].name = pnames[k];
	}
	dir.count = (uint32_t)n;
	memset(&ix, 0, sizeof(ix));
	ix.ndirs = 1;
	ix.nentries = n;
	ix.dirs = &dir;
	ix.entries = ents;
	ix.rootfd = -1;
	pix = ix;
	pix.entries = plain;

	buf_init(&h1, 0);
	buf_init(&j1, 0);
	buf_init(&h2, 0);
	buf_init(&j2, 0);
	int r1 = render(&ix, &dir, url, sort, &h1, &j1);
	int r2 = render(&pix, &dir, purl, sort, &h2, &j2);
	if (r1 != 0 || r2 != 0)
		abort(); /* no cap is near: 64 names of 255 bytes */
	size_t c1[4], c2[4];
	count_specials(&h1, c1);
	count_specials(&h2, c2);
	if (memcmp(c1, c2, sizeof(c1)) != 0) {
		fprintf(stderr, "raw < > \" ' from a name or the path: %zu/%zu %zu/%zu %zu/%zu "
			"%zu/%zu\n", c1[0], c2[0], c1[1], c2[1], c1[2], c2[2], c1[3], c2[3]);
		abort();
	}
	struct js j = {j1.data, j1.data + j1.len, 0};
	int count = 0;
	if (value(&j, &count) != 0) {
		fprintf(stderr, "invalid JSON: %s\n", j1.data);
		abort();
	}
	ws(&j);
	if (j.p != j.end || count != (int)n) {
		fprintf(stderr, "JSON: trailing bytes or %d objects for %zu entries\n", count, n);
		abort();
	}
	/* (control bytes inside strings were refused by the parser; CR and LF
	 * are the line ends between objects) */
	for (size_t k = 0; k < j1.len; k++)
		if ((unsigned char)j1.data[k] < 0x20 && j1.data[k] != '\n' && j1.data[k] != '\r')
			abort();
	buf_free(&h1);
	buf_free(&j1);
	buf_free(&h2);
	buf_free(&j2);
	return 0;
}
