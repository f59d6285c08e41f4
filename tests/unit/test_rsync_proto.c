/* test_rsync_proto.c - the rsync wire format: varint, varlong and ndx
 * encodings against rsync's own byte layouts and back through the reader,
 * the demultiplexer, sum-head bounds, the argument parser's refusals, the
 * weak checksum and the file-list order. */
#include <stdlib.h>

#include "limits.h"
#include "rsync_proto.h"
#include "unit.h"

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

static void in_over(struct rsp_in *in, struct mem *m, const uint8_t *p, size_t n)
{
	m->p = p;
	m->n = n;
	m->off = 0;
	struct rsp_src s = {mem_read, m};
	rsp_in_init(in, s);
}

static void test_varint(void)
{
	static const struct {
		int32_t v;
		size_t len;
		uint8_t b[5];
	} cases[] = {
	    {0, 1, {0x00}},
	    {0x7f, 1, {0x7f}},
	    {0x80, 2, {0x80, 0x80}},
	    {0x3fff, 2, {0xbf, 0xff}},
	    {0x4000, 3, {0xc0, 0x00, 0x40}},
	    {0x12345678, 5, {0xf0, 0x78, 0x56, 0x34, 0x12}},
	    {-1, 5, {0xf0, 0xff, 0xff, 0xff, 0xff}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[9];
		size_t n = rsp_put_varint(b, cases[i].v);
		CHECK_INT("varint length", (long long)cases[i].len, (long long)n);
		CHECK_INT("varint bytes", 0, memcmp(b, cases[i].b, cases[i].len));
		struct mem m;
		struct rsp_in in;
		int32_t v = 0;
		in_over(&in, &m, b, n);
		CHECK_INT("varint read", 0, rsp_read_varint(&in, &v));
		CHECK_INT("varint round trip", cases[i].v, v);
	}
	uint8_t b[9];
	/* a file size of 5 GiB with min_bytes 3 and an mtime with 4 */
	size_t n = rsp_put_varlong(b, 5ll << 30, 3);
	CHECK_INT("varlong 5 GiB length", 5, (long long)n);
	CHECK_INT("varlong 5 GiB first byte", 0xc1, b[0]);
	n = rsp_put_varlong(b, 1700000000, 4);
	CHECK_INT("varlong mtime length", 4, (long long)n);
}

static void test_ndx(void)
{
	static const int32_t seq[] = {0, 1, 2, 300, 299, 70000, 5, -1, 6, 0x7fffffff};
	uint8_t buf[256];
	size_t n = 0;
	int32_t pp = -1, pn = 1;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		n += rsp_put_ndx(buf + n, seq[i], &pp, &pn);
	CHECK_INT("ndx 0 after -1 is one byte 1", 1, buf[0]);
	struct mem m;
	struct rsp_in in;
	in_over(&in, &m, buf, n);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		int32_t v = 0;
		CHECK_INT("ndx read", 0, rsp_read_ndx(&in, &v));
		CHECK_INT("ndx round trip", seq[i], v);
	}
	int32_t v;
	CHECK_INT("ndx past the end fails", -1, rsp_read_ndx(&in, &v));
	static const uint8_t cut[] = {0xfe, 0xff, 0xff, 0xff};
	in_over(&in, &m, cut, sizeof(cut));
	CHECK_INT("truncated 4-byte ndx refused", -1, rsp_read_ndx(&in, &v));
}

static void test_mplex(void)
{
	/* NOOP, INFO text, then 3 data bytes in two frames */
	static const uint8_t s[] = {0, 0, 0, 7 + 42, 3,   0,   0, 9, 'h', 'i', '\n',
	                            2, 0, 0, 7,      'a', 'b', 1, 0, 0,   7,   'c'};
	struct mem m;
	struct rsp_in in;
	uint8_t out[3];
	in_over(&in, &m, s, sizeof(s));
	in.mplex = 1;
	CHECK_INT("demultiplexed read", 0, rsp_read(&in, out, 3));
	CHECK_INT("data across frames", 0, memcmp(out, "abc", 3));
	static const uint8_t bad[] = {4, 0, 0, 7 + 99, 'x', 'x', 'x', 'x'};
	in_over(&in, &m, bad, sizeof(bad));
	in.mplex = 1;
	CHECK_INT("unknown message refused", -1, rsp_read(&in, out, 1));
	static const uint8_t raw[] = {4, 0, 0, 0};
	in_over(&in, &m, raw, sizeof(raw));
	in.mplex = 1;
	CHECK_INT("unmultiplexed bytes refused", -1, rsp_read(&in, out, 1));
}

static void test_sum_head(void)
{
	static const struct {
		int32_t h[4];
		int ok;
	} cases[] = {
	    {{0, 0, 16, 0}, 0},
	    {{10, 700, 16, 100}, 0},
	    {{PM_RSYNC_BLOCKS_MAX + 1, 700, 16, 0}, -1},
	    {{10, PM_RSYNC_BLOCK_MAX + 1, 16, 0}, -1},
	    {{10, 700, 17, 0}, -1},
	    {{10, 700, 16, 700}, -1},
	    {{-1, 700, 16, 0}, -1},
	    {{10, 0, 16, 0}, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[16];
		for (int k = 0; k < 4; k++)
			rsp_put_int(b + 4 * k, cases[i].h[k]);
		struct mem m;
		struct rsp_in in;
		struct rsp_sum_head h;
		in_over(&in, &m, b, sizeof(b));
		CHECK_INT("sum head bounds", cases[i].ok, rsp_read_sum_head(&in, &h));
	}
	/* SHA-1 negotiated: block sums up to 20 bytes, not 21 */
	for (int32_t len = 20; len <= 21; len++) {
		uint8_t b[16];
		int32_t v[4] = {10, 700, len, 0};
		for (int k = 0; k < 4; k++)
			rsp_put_int(b + 4 * k, v[k]);
		struct mem m;
		struct rsp_in in;
		struct rsp_sum_head h;
		in_over(&in, &m, b, sizeof(b));
		CHECK_INT("20-byte sums refused by default", -1, rsp_read_sum_head(&in, &h));
		in_over(&in, &m, b, sizeof(b));
		in.s2max = RSP_SUM_SHA1;
		CHECK_INT("sum head bounds with SHA-1", len == 20 ? 0 : -1,
		          rsp_read_sum_head(&in, &h));
	}
}

static void test_args(void)
{
	static const struct {
		const char *argv[8];
		int ok;
		const char *why;
	} cases[] = {
	    {{"--server", "--sender", "-vlogDtpre.iLsfxCIvu", ".", "mirror/"}, 0, ""},
	    {{"--server", "-vlogDtpre.iLsfxCIvu", ".", "mirror/"}, -1, "module is read only"},
	    {{"--server", "--sender", "--remove-source-files", "-re.iLsfxCIvu", ".", "mirror/"},
	     -1,
	     "--remove-source-files is refused"},
	    {{"--server", "--sender", "-vAe.iLsfxCIvu", ".", "mirror/"}, -1, "option -A"},
	    {{"--server", "--sender", "--write-batch=x", ".", "mirror/"}, -1, "--write-batch"},
	    {{"--server", "--sender", "-e.iLsfxCIvu\x01", ".", "mirror/"}, 0, ""},
	    {{"--sender", "-r", ".", "mirror/"}, -1, "no --server"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;
		while (argc < 8 && cases[i].argv[argc])
			argc++;
		struct rsp_args a;
		char why[256];
		int r = rsp_parse_args(argc, (char *const *)cases[i].argv, &a, why, sizeof(why));
		CHECK_INT("argument verdict", cases[i].ok, r);
		if (r != 0)
			UNIT_REPORT(strstr(why, cases[i].why) != NULL, "refusal names the reason",
			            "expected \"%s\" in \"%s\"", cases[i].why, why);
	}
	struct rsp_args a;
	char why[256];
	const char *argv[] = {"--server", "--sender", "-vlogDtprze.iLsfxCIvu", ".", "mirror/x"};
	CHECK_INT("pull parsed", 0, rsp_parse_args(5, (char *const *)argv, &a, why, sizeof(why)));
	CHECK_INT("recurse", 1, a.recurse);
	CHECK_INT("compress", 1, a.compress);
	CHECK_STR("client info", ".iLsfxCIvu", a.client_info);
	CHECK_INT("one path", 1, a.npaths);
	CHECK_STR("the path", "mirror/x", a.paths[0]);
	/* Each short flag sets its own field, and only that one. */
	const char *one[] = {"--server", "--sender", "-d", ".", "m/"};
	CHECK_INT("-d parsed", 0, rsp_parse_args(5, (char *const *)one, &a, why, sizeof(why)));
	CHECK_INT("-d: dirs", 1, a.dirs);
	CHECK_INT("-d: not recurse", 0, a.recurse);
	const char *all[] = {"--server", "--sender", "-rdtpogczisvv", ".", "m/"};
	CHECK_INT("all flags parsed", 0,
	          rsp_parse_args(5, (char *const *)all, &a, why, sizeof(why)));
	int flags = a.recurse + a.dirs + a.times + a.perms + a.owner + a.group + a.checksum +
	            a.compress + a.itemize + a.protect_args;
	CHECK_INT("ten flags set", 10, flags);
	CHECK_INT("-vv counts", 2, a.verbose);
	CHECK_INT("list-only untouched", 0, a.list_only);
	CHECK_INT("greeting 31", 31, rsp_parse_greeting("@RSYNCD: 31.0 md5"));
	CHECK_INT("greeting garbage", -1, rsp_parse_greeting("GET / HTTP/1.1"));
	CHECK_INT("greeting without digits", -1, rsp_parse_greeting("@RSYNCD: x"));
}

static void test_checksum_order(void)
{
	/* rsync's get_checksum1 on "abcd" (s1 = 394, s2 = 97*4+98*3+99*2+100) */
	CHECK_INT("weak checksum", (394 & 0xffff) + ((97 * 4 + 98 * 3 + 99 * 2 + 100) << 16),
	          rsp_checksum1((const uint8_t *)"abcd", 4));
	uint8_t hi[2] = {0xff, 0x80}; /* bytes count as signed */
	uint32_t s1 = (uint32_t)(-1 + -128), s2 = (uint32_t)(-1) + s1;
	CHECK_INT("weak checksum of high bytes", (long long)((s1 & 0xffff) + (s2 << 16)),
	          (long long)rsp_checksum1(hi, 2));
	/* the four-bytes-a-step sum equals the byte-by-byte definition */
	uint8_t r[67];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(r); i++) {
		x = x * 1103515245u + 12345u;
		r[i] = (uint8_t)(x >> 16);
	}
	int same = 1;
	for (size_t n = 0; n <= sizeof(r); n++) {
		uint32_t a = 0, b = 0, p1, p2;
		for (size_t i = 0; i < n; i++) {
			a += (uint32_t)(int32_t)(int8_t)r[i];
			b += a;
		}
		rsp_checksum1_parts(r, n, &p1, &p2);
		if (p1 != a || p2 != b || rsp_checksum1(r, n) != (a & 0xffff) + (b << 16))
			same = 0;
	}
	CHECK("unrolled weak checksum matches the definition for lengths 0-67", same);
	CHECK_INT("files before directories", -1, rsp_name_cmp("zz", 0, "a", 1) < 0 ? -1 : 1);
	CHECK_INT("a-b/ before a/", 1, rsp_name_cmp("a", 1, "a-b", 1) > 0 ? 1 : -1);
	CHECK_INT("file a before file a-b", -1, rsp_name_cmp("a", 0, "a-b", 0) < 0 ? -1 : 1);
	CHECK_INT("same name", 0, rsp_name_cmp("x", 1, "x", 1));
}

int main(void)
{
	test_varint();
	test_ndx();
	test_mplex();
	test_sum_head();
	test_args();
	test_checksum_order();
	return unit_done();
}
