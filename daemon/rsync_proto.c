/* rsync_proto.c - rsync protocol 30 wire format; see rsync_proto.h. */
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "limits.h"
#include "rsync_proto.h"

/* Extra bytes that follow a varint's first byte, indexed by byte / 4. */
static const uint8_t rsp_extra[64] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6,
};

size_t rsp_put_int(uint8_t *out, int32_t v)
{
	uint32_t u = (uint32_t)v;
	out[0] = (uint8_t)u;
	out[1] = (uint8_t)(u >> 8);
	out[2] = (uint8_t)(u >> 16);
	out[3] = (uint8_t)(u >> 24);
	return 4;
}

size_t rsp_put_varint(uint8_t *out, int32_t v)
{
	return rsp_put_varlong(out, (int64_t)(uint32_t)v, 1);
}

/* The first byte carries as many high 1-bits as extra bytes follow, then
 * the top bits of the value; the other bytes are little-endian. */
size_t rsp_put_varlong(uint8_t *out, int64_t v, unsigned min_bytes)
{
	uint8_t b[9];
	uint64_t u = (uint64_t)v;
	unsigned cnt = 8;

	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(u >> (8 * i));
	while (cnt > min_bytes && b[cnt] == 0)
		cnt--;
	uint8_t bit = (uint8_t)(1u << (7 - cnt + min_bytes));
	if (b[cnt] >= bit) {
		cnt++;
		b[0] = (uint8_t) ~(bit - 1);
	} else if (cnt > min_bytes) {
		b[0] = (uint8_t)(b[cnt] | (uint8_t) ~(bit * 2 - 1));
	} else {
		b[0] = b[cnt];
	}
	memcpy(out, b, cnt);
	return cnt;
}

size_t rsp_put_ndx(uint8_t *out, int32_t ndx, int32_t *prev_pos, int32_t *prev_neg)
{
	size_t n = 0;
	int32_t diff;

	if (ndx == RSP_NDX_DONE) {
		out[0] = 0;
		return 1;
	}
	if (ndx >= 0) {
		diff = ndx - *prev_pos;
		*prev_pos = ndx;
	} else {
		out[n++] = 0xFF;
		ndx = -ndx;
		diff = ndx - *prev_neg;
		*prev_neg = ndx;
	}
	if (diff > 0 && diff < 0xFE) {
		out[n++] = (uint8_t)diff;
	} else if (diff < 0 || diff > 0x7FFF) {
		out[n++] = 0xFE;
		out[n++] = (uint8_t)(((uint32_t)ndx >> 24) | 0x80);
		out[n++] = (uint8_t)ndx;
		out[n++] = (uint8_t)((uint32_t)ndx >> 8);
		out[n++] = (uint8_t)((uint32_t)ndx >> 16);
	} else {
		out[n++] = 0xFE;
		out[n++] = (uint8_t)(diff >> 8);
		out[n++] = (uint8_t)diff;
	}
	return n;
}

void rsp_put_mplex(uint8_t out[4], unsigned code, uint32_t len)
{
	rsp_put_int(out, (int32_t)(((uint32_t)(RSP_MPLEX_BASE + code) << 24) | (len & 0xFFFFFFu)));
}

void rsp_in_init(struct rsp_in *in, struct rsp_src raw)
{
	memset(in, 0, sizeof(*in));
	in->raw = raw;
	in->prev_pos = -1;
	in->prev_neg = 1;
	in->s2max = RSP_SUM_MD5;
}

static int rsp_fail(struct rsp_in *in, const char *why)
{
	snprintf(in->err, sizeof(in->err), "%s", why);
	return -1;
}

int rsp_read(struct rsp_in *in, void *p, size_t n)
{
	uint8_t *d = p;

	if (!in->mplex)
		return in->raw.read(in->raw.ctx, p, n) == 0 ? 0 : rsp_fail(in, "connection closed");
	while (n > 0) {
		if (in->left == 0) {
			uint8_t h[4];
			if (in->raw.read(in->raw.ctx, h, 4) != 0)
				return rsp_fail(in, "connection closed");
			uint32_t w = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
			             (uint32_t)h[3] << 24;
			unsigned tag = w >> 24;
			uint32_t len = w & 0xFFFFFFu;
			if (tag < RSP_MPLEX_BASE)
				return rsp_fail(in, "unmultiplexed data from the client");
			unsigned code = tag - RSP_MPLEX_BASE;
			if (code == RSP_MSG_DATA) {
				in->left = len;
				continue;
			}
			/* SECURITY: other messages are read and dropped, bounded. */
			if ((code != RSP_MSG_NOOP && code != RSP_MSG_INFO &&
			     code != RSP_MSG_WARNING && code != RSP_MSG_ERROR &&
			     code != RSP_MSG_ERROR_XFER) ||
			    len > PM_RSYNC_MSG_MAX)
				return rsp_fail(in, "unexpected message from the client");
			uint8_t skip[PM_RSYNC_MSG_MAX];
			if (len > 0 && in->raw.read(in->raw.ctx, skip, len) != 0)
				return rsp_fail(in, "connection closed");
			if (code == RSP_MSG_ERROR || code == RSP_MSG_ERROR_XFER)
				return rsp_fail(in, "the client reported an error");
			continue;
		}
		size_t k = n < in->left ? n : in->left;
		if (in->raw.read(in->raw.ctx, d, k) != 0)
			return rsp_fail(in, "connection closed");
		in->left -= (uint32_t)k;
		d += k;
		n -= k;
	}
	return 0;
}

int rsp_read_int(struct rsp_in *in, int32_t *v)
{
	uint8_t b[4];
	if (rsp_read(in, b, 4) != 0)
		return -1;
	*v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	               (uint32_t)b[3] << 24);
	return 0;
}

int rsp_read_varint(struct rsp_in *in, int32_t *v)
{
	uint8_t c, b[5] = {0};
	if (rsp_read(in, &c, 1) != 0)
		return -1;
	unsigned extra = rsp_extra[c / 4];
	if (extra > 4)
		return rsp_fail(in, "varint overflow");
	if (extra) {
		if (rsp_read(in, b, extra) != 0)
			return -1;
		b[extra] = (uint8_t)(c & ((1u << (8 - extra)) - 1));
	} else {
		b[0] = c;
	}
	*v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	               (uint32_t)b[3] << 24);
	return 0;
}

int rsp_read_ndx(struct rsp_in *in, int32_t *ndx)
{
	uint8_t b[4];
	int32_t *prev;
	uint32_t u;

	if (rsp_read(in, b, 1) != 0)
		return -1;
	if (b[0] == 0) {
		*ndx = RSP_NDX_DONE;
		return 0;
	}
	if (b[0] == 0xFF) {
		if (rsp_read(in, b, 1) != 0)
			return -1;
		prev = &in->prev_neg;
	} else {
		prev = &in->prev_pos;
	}
	if (b[0] == 0xFE) {
		if (rsp_read(in, b, 2) != 0)
			return -1;
		if (b[0] & 0x80) {
			uint8_t r[2];
			if (rsp_read(in, r, 2) != 0)
				return -1;
			u = (uint32_t)b[1] | (uint32_t)r[0] << 8 | (uint32_t)r[1] << 16 |
			    (uint32_t)(b[0] & 0x7F) << 24;
		} else {
			u = ((uint32_t)b[0] << 8) + b[1] + (uint32_t)*prev;
		}
	} else {
		u = b[0] + (uint32_t)*prev;
	}
	if (u > 0x7FFFFFFFu)
		return rsp_fail(in, "file index out of range");
	*prev = (int32_t)u;
	*ndx = prev == &in->prev_neg ? -(int32_t)u : (int32_t)u;
	return 0;
}

int rsp_read_vstring(struct rsp_in *in, char *buf, size_t max)
{
	uint8_t c;
	size_t len;

	if (rsp_read(in, &c, 1) != 0)
		return -1;
	len = c;
	if (c & 0x80) {
		uint8_t c2;
		if (rsp_read(in, &c2, 1) != 0)
			return -1;
		len = (size_t)(c & 0x7F) * 0x100 + c2;
	}
	if (len >= max)
		return rsp_fail(in, "string too long");
	if (len && rsp_read(in, buf, len) != 0)
		return -1;
	buf[len] = '\0';
	return (int)len;
}

int rsp_read_sum_head(struct rsp_in *in, struct rsp_sum_head *h)
{
	if (rsp_read_int(in, &h->count) != 0 || rsp_read_int(in, &h->blength) != 0 ||
	    rsp_read_int(in, &h->s2length) != 0 || rsp_read_int(in, &h->remainder) != 0)
		return -1;
	if (h->count < 0 || h->count > PM_RSYNC_BLOCKS_MAX)
		return rsp_fail(in, "block count out of range");
	if (h->blength < 0 || h->blength > PM_RSYNC_BLOCK_MAX || (h->count > 0 && h->blength == 0))
		return rsp_fail(in, "block length out of range");
	if (h->s2length < 0 || h->s2length > in->s2max)
		return rsp_fail(in, "checksum length out of range");
	if (h->remainder < 0 || (h->blength > 0 && h->remainder >= h->blength) ||
	    (h->blength == 0 && h->remainder != 0))
		return rsp_fail(in, "block remainder out of range");
	return 0;
}

int rsp_parse_greeting(const char *line)
{
	static const char pfx[] = "@RSYNCD: ";
	int v = 0, digits = 0;

	if (strncmp(line, pfx, sizeof(pfx) - 1) != 0)
		return -1;
	for (const char *p = line + sizeof(pfx) - 1; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 4)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return digits ? v : -1;
}

/* Options that change nothing on the sending side of a read-only pull. */
static const char *const rsp_long_ok[] = {
    "--delete",
    "--delete-before",
    "--delete-during",
    "--delete-after",
    "--delete-delay",
    "--delete-excluded",
    "--del",
    "--no-inc-recursive",
    "--no-i-r",
    "--ignore-errors",
    "--force",
    "--numeric-ids",
    "--size-only",
    "--ignore-times",
    "--existing",
    "--ignore-existing",
    "--partial",
    "--inplace",
    "--append",
    "--max-delete",
    "--safe-links",
    "--copy-unsafe-links",
    "--copy-dirlinks",
    "--keep-dirlinks",
    "--one-file-system",
    "--prune-empty-dirs",
    "--omit-dir-times",
    "--omit-link-times",
    "--no-implied-dirs",
    "--fake-super",
    "--compress-level",
    "--modify-window",
    "--max-size",
    "--min-size",
    "--timeout",
    "--contimeout",
    "--bwlimit",
    "--log-format",
    "--out-format",
    "--info",
    "--debug",
    "--stats",
    "--human-readable",
    "--progress",
    "--msgs2stderr",
    "--no-msgs2stderr",
    "--partial-dir",
    "--delay-updates",
    "--whole-file",
    "--no-whole-file",
    "--checksum-seed",
    NULL,
};

static int rsp_long_known(const char *arg)
{
	size_t n = strcspn(arg, "=");
	for (const char *const *k = rsp_long_ok; *k; k++)
		if (strlen(*k) == n && strncmp(*k, arg, n) == 0)
			return 1;
	return 0;
}

static int rsp_refuse(char *why, size_t whysz, const char *pre, const char *what, const char *post)
{
	if (why[0] != '\0')
		return -1; /* the first reason stands */
	char safe[64];
	size_t j = 0;
	/* SECURITY: the option goes back to the client's screen; printable only. */
	for (size_t i = 0; what[i] && j + 1 < sizeof(safe); i++)
		safe[j++] = (what[i] >= 0x20 && what[i] < 0x7f) ? what[i] : '?';
	safe[j] = '\0';
	snprintf(why, whysz, "%s%s%s", pre, safe, post);
	return -1;
}

/* The short options that set one flag of struct rsp_args. */
struct rsp_short {
	char letter;
	size_t field; /* offsetof an int of struct rsp_args */
};
static const struct rsp_short rsp_shorts[] = {
    {'r', offsetof(struct rsp_args, recurse)},  {'d', offsetof(struct rsp_args, dirs)},
    {'t', offsetof(struct rsp_args, times)},    {'p', offsetof(struct rsp_args, perms)},
    {'o', offsetof(struct rsp_args, owner)},    {'g', offsetof(struct rsp_args, group)},
    {'c', offsetof(struct rsp_args, checksum)}, {'z', offsetof(struct rsp_args, compress)},
    {'i', offsetof(struct rsp_args, itemize)},  {'s', offsetof(struct rsp_args, protect_args)},
};
/* Receiver-side or meaningless here: accepted, change nothing. */
static const char rsp_short_ignored[] = "lDnxHSWuIOJmkKLbqyh8";

static const struct rsp_short *rsp_short_find(char letter)
{
	for (size_t i = 0; i < sizeof(rsp_shorts) / sizeof(rsp_shorts[0]); i++)
		if (rsp_shorts[i].letter == letter)
			return &rsp_shorts[i];
	return NULL;
}

int rsp_parse_args(int argc, char *const *argv, struct rsp_args *a, char *why, size_t whysz)
{
	int opts_done = 0, bad = 0;

	memset(a, 0, sizeof(*a));
	why[0] = '\0';
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (opts_done || s[0] != '-' || s[1] == '\0') {
			if (strcmp(s, ".") == 0 && a->npaths == 0 && !opts_done) {
				opts_done = 1; /* the "." that ends the options */
				continue;
			}
			opts_done = 1;
			if (a->npaths >= (int)(sizeof(a->paths) / sizeof(a->paths[0])))
				bad = rsp_refuse(why, whysz, "ERROR: too many paths", "", "");
			else
				a->paths[a->npaths++] = s;
			continue;
		}
		if (s[1] == '-') {
			if (strcmp(s, "--server") == 0)
				a->server = 1;
			else if (strcmp(s, "--sender") == 0)
				a->sender = 1;
			else if (strcmp(s, "--list-only") == 0)
				a->list_only = 1;
			else if (strcmp(s, "--remove-source-files") == 0 ||
			         strcmp(s, "--remove-sent-files") == 0)
				bad = rsp_refuse(why, whysz, "ERROR: module is read only: ", s,
				                 " is refused");
			else if (strncmp(s, "--del", 5) == 0 && rsp_long_known(s))
				a->delete_any = 1;
			else if (!rsp_long_known(s))
				bad = rsp_refuse(why, whysz, "ERROR: option ", s,
				                 " is not supported by this server");
			continue;
		}
		for (const char *c = s + 1; *c; c++) {
			const struct rsp_short *k = rsp_short_find(*c);
			if (*c == 'e') {
				snprintf(a->client_info, sizeof(a->client_info), "%s", c + 1);
				c += strlen(c) - 1; /* the rest is the argument */
			} else if (*c == 'v') {
				a->verbose++;
			} else if (k != NULL) {
				*(int *)((char *)a + k->field) = 1;
			} else if (strchr(rsp_short_ignored, *c) == NULL) {
				char o[3] = {'-', *c, '\0'};
				bad = rsp_refuse(why, whysz, "ERROR: option ", o,
				                 " is not supported by this server");
			}
		}
	}
	if (!a->sender)
		bad = rsp_refuse(why, whysz, "ERROR: module is read only", "", "");
	if (bad)
		return -1;
	if (!a->server)
		return rsp_refuse(why, whysz, "ERROR: protocol startup error: no --server", "", "");
	if (!a->protect_args && a->npaths == 0)
		return rsp_refuse(why, whysz, "ERROR: no path given", "", "");
	return 0;
}

void rsp_checksum1_parts(const uint8_t *p, size_t n, uint32_t *s1p, uint32_t *s2p)
{
	uint32_t s1 = 0, s2 = 0;
	size_t i = 0;
	/* four bytes a step: s2 gains 4*s1 and the bytes weighted 4, 3, 2, 1 */
	for (; i + 4 <= n; i += 4) {
		uint32_t a = (uint32_t)(int32_t)(int8_t)p[i];
		uint32_t b = (uint32_t)(int32_t)(int8_t)p[i + 1];
		uint32_t c = (uint32_t)(int32_t)(int8_t)p[i + 2];
		uint32_t d = (uint32_t)(int32_t)(int8_t)p[i + 3];
		s2 += 4 * s1 + 4 * a + 3 * b + 2 * c + d;
		s1 += a + b + c + d;
	}
	for (; i < n; i++) {
		s1 += (uint32_t)(int32_t)(int8_t)p[i];
		s2 += s1;
	}
	*s1p = s1;
	*s2p = s2;
}

uint32_t rsp_checksum1(const uint8_t *p, size_t n)
{
	uint32_t s1, s2;
	rsp_checksum1_parts(p, n, &s1, &s2);
	return (s1 & 0xffff) + (s2 << 16);
}

int rsp_name_cmp(const char *a, int a_dir, const char *b, int b_dir)
{
	if (a_dir != b_dir)
		return a_dir ? 1 : -1;
	for (;; a++, b++) {
		unsigned ca = *a ? (unsigned char)*a : (a_dir ? '/' : 0);
		unsigned cb = *b ? (unsigned char)*b : (b_dir ? '/' : 0);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!*a || !*b)
			return 0;
	}
}
