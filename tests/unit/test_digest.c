/* test_digest.c - digests and HMAC through OpenSSL against published
 * vectors (RFC 1321, FIPS 180, RFC 2202). */
#include <stdio.h>

#include "digest.h"
#include "unit.h"

static void hex(const unsigned char *b, int n, char *out)
{
	for (int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void one(const char *what, enum digest_algo a, const char *in, const char *want)
{
	struct digest d;
	unsigned char md[DIGEST_MAX];
	char h[2 * DIGEST_MAX + 1] = "";
	CHECK_INT(what, 0, digest_init(&d, a));
	digest_update(&d, in, strlen(in) / 2); /* in two pieces */
	digest_update(&d, in + strlen(in) / 2, strlen(in) - strlen(in) / 2);
	int n = digest_final(&d, md);
	if (n > 0)
		hex(md, n, h);
	CHECK_STR(what, want, h);
}

int main(void)
{
	one("MD5(abc)", DIGEST_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72");
	one("MD5(empty)", DIGEST_MD5, "", "d41d8cd98f00b204e9800998ecf8427e");
	one("SHA-1(abc)", DIGEST_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
	one("SHA-256(abc)", DIGEST_SHA256, "abc",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	unsigned char mac[20];
	char h[41];
	CHECK_INT("HMAC-SHA-1 runs", 0,
	          digest_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac));
	hex(mac, 20, h);
	CHECK_STR("HMAC-SHA-1 (RFC 2202 case 2)", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", h);
	return unit_done();
}
