/* fuzz_rsync.c - the rsync protocol reader (rsync_proto): the server
 * arguments, then a multiplexed client stream read as the sender reads it
 * (ndx, item flags, vstrings, block-checksum headers, varints).
 * Invariant: reading never goes past the input, every value returned is
 * within its stated bounds (ndx >= -1 and below 2^31, sum head inside the
 * limits.h bounds, vstring shorter than its buffer and NUL-terminated),
 * a refused argument list always says why, and an accepted one is a pull. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "rsync_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n, off;
};

static int mem_read(void *ctx, void *out, size_t n)
{
	struct mem *m = ctx;
	if (n > m->n - m->off)
		return -1;
	memcpy(out, m->p + m->off, n);
	m->off += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy so that ASan sees reads past the end */
	uint8_t *b = malloc(size ? size : 1);
	if (b == NULL)
		return 0;
	memcpy(b, data, size);

	/* first part up to the first 0xff byte: NUL-separated arguments */
	size_t split = 0;
	while (split < size && b[split] != 0xff)
		split++;
	char *argbuf = malloc(split + 1);
	char *argv[PM_RSYNC_ARGS_MAX];
	int argc = 0;
	memcpy(argbuf, b, split);
	argbuf[split] = '\0';
	for (size_t i = 0; i < split && argc < PM_RSYNC_ARGS_MAX;) {
		argv[argc++] = argbuf + i;
		i += strlen(argbuf + i) + 1;
	}
	struct rsp_args a;
	char why[256];
	if (rsp_parse_args(argc, argv, &a, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort();
	} else if (!a.sender || !a.server) {
		abort();
	}
	(void)rsp_parse_greeting(argbuf);

	struct mem m = {b + split, size - split, 0};
	struct rsp_src src = {mem_read, &m};
	struct rsp_in in;
	rsp_in_init(&in, src);
	in.mplex = size > 0 && (b[0] & 1);
	for (int steps = 0; steps < 10000; steps++) {
		int32_t v;
		char s[128];
		struct rsp_sum_head h;
		uint8_t sel;
		if (rsp_read(&in, &sel, 1) != 0)
			break;
		switch (sel % 5) {
		case 0:
			if (rsp_read_ndx(&in, &v) != 0)
				goto out;
			if (v < -0x7fffffff)
				abort();
			break;
		case 1:
			if (rsp_read_varint(&in, &v) != 0)
				goto out;
			break;
		case 2: {
			int len = rsp_read_vstring(&in, s, sizeof(s));
			if (len < 0)
				goto out;
			if ((size_t)len >= sizeof(s) || strlen(s) > (size_t)len)
				abort();
			break;
		}
		case 3:
			if (rsp_read_sum_head(&in, &h) != 0)
				goto out;
			if (h.count < 0 || h.count > PM_RSYNC_BLOCKS_MAX || h.blength < 0 ||
			    h.blength > PM_RSYNC_BLOCK_MAX || h.s2length < 0 || h.s2length > 16 ||
			    h.remainder < 0 || (h.blength && h.remainder >= h.blength))
				abort();
			break;
		default:
			if (rsp_read_int(&in, &v) != 0)
				goto out;
			break;
		}
		if (m.off > m.n)
			abort();
	}
out:
	free(argbuf);
	free(b);
	return 0;
}
