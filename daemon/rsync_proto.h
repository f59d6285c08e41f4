/* rsync_proto.h - the rsync wire format (protocol 30), pure: encoders into
 * caller buffers, a reader over a byte source, the server-argument parser
 * and the file-list sort order.  No sockets, no files, no clock: the
 * connection code (rsync.c) and the fuzz target drive it.
 *
 * SECURITY: every length read from the peer is checked against a limit of
 * limits.h before it is used; a reader error is final for the connection.
 */
#ifndef PUBMIRROR_RSYNC_PROTO_H
#define PUBMIRROR_RSYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define RSP_PROTOCOL 30  /* the version this server speaks */
#define RSP_MPLEX_BASE 7 /* multiplex tag = MPLEX_BASE + message code */
#define RSP_MSG_DATA 0
#define RSP_MSG_ERROR_XFER 1
#define RSP_MSG_INFO 2
#define RSP_MSG_ERROR 3
#define RSP_MSG_WARNING 4
#define RSP_MSG_NOOP 42
#define RSP_MSG_NO_SEND 102
#define RSP_NDX_DONE (-1)

/* Bytes of the negotiated strong checksum (block and whole-file sums). */
#define RSP_SUM_MD5 16
#define RSP_SUM_SHA1 20

/* Compatibility flags (sent by the server as a varint, protocol >= 30). */
#define RSP_CF_INC_RECURSE (1 << 0)
#define RSP_CF_SAFE_FLIST (1 << 3)
#define RSP_CF_AVOID_XATTR_OPTIM (1 << 4)
#define RSP_CF_CHKSUM_SEED_FIX (1 << 5)
#define RSP_CF_INPLACE_PARTIAL_DIR (1 << 6)
#define RSP_CF_VARINT_FLIST_FLAGS (1 << 7)
#define RSP_CF_ID0_NAMES (1 << 8)

/* File-list entry flags. */
#define RSP_XMIT_TOP_DIR (1 << 0)
#define RSP_XMIT_SAME_MODE (1 << 1)
#define RSP_XMIT_EXTENDED_FLAGS (1 << 2)
#define RSP_XMIT_SAME_UID (1 << 3)
#define RSP_XMIT_SAME_GID (1 << 4)
#define RSP_XMIT_SAME_NAME (1 << 5)
#define RSP_XMIT_LONG_NAME (1 << 6)
#define RSP_XMIT_SAME_TIME (1 << 7)
#define RSP_XMIT_NO_CONTENT_DIR (1 << 8)

/* Item flags the receiver sends with each index. */
#define RSP_ITEM_BASIS_TYPE_FOLLOWS (1 << 11)
#define RSP_ITEM_XNAME_FOLLOWS (1 << 12)
#define RSP_ITEM_TRANSFER (1 << 15)

/* Encoders: write into out (at least 9 bytes), return the length. */
size_t rsp_put_int(uint8_t *out, int32_t v);
size_t rsp_put_varint(uint8_t *out, int32_t v);
size_t rsp_put_varlong(uint8_t *out, int64_t v, unsigned min_bytes);
/* ndx with the running state *prev_pos / *prev_neg (start -1 / 1). */
size_t rsp_put_ndx(uint8_t *out, int32_t ndx, int32_t *prev_pos, int32_t *prev_neg);
/* A multiplex header: tag code, payload length (<= 0xFFFFFF). */
void rsp_put_mplex(uint8_t out[4], unsigned code, uint32_t len);

/* A source of bytes: read exactly n bytes into p; 0, or -1 (the reader
 * stops: EOF, timeout, error). */
struct rsp_src {
	int (*read)(void *ctx, void *p, size_t n);
	void *ctx;
};

/* Demultiplexing reader over a raw source: only MSG_DATA payload reaches
 * the caller; MSG_NOOP and informational messages (INFO, WARNING, ERROR
 * text from the client, at most PM_RSYNC_MSG_MAX bytes) are skipped; any
 * other tag is an error.  mplex 0: the bytes pass through. */
struct rsp_in {
	struct rsp_src raw;
	int mplex;
	uint32_t left; /* MSG_DATA bytes left in the current frame */
	int32_t prev_pos, prev_neg;
	int s2max;     /* longest block sum accepted: the negotiated digest's length */
	char err[128]; /* why the last read failed, for the log */
};
void rsp_in_init(struct rsp_in *in, struct rsp_src raw);
int rsp_read(struct rsp_in *in, void *p, size_t n);
int rsp_read_int(struct rsp_in *in, int32_t *v);
int rsp_read_varint(struct rsp_in *in, int32_t *v);
int rsp_read_ndx(struct rsp_in *in, int32_t *ndx);
/* vstring of at most max-1 bytes into buf (NUL-terminated); length or -1. */
int rsp_read_vstring(struct rsp_in *in, char *buf, size_t max);

/* The block-checksum header of a transfer request. */
struct rsp_sum_head {
	int32_t count, blength, s2length, remainder;
};
/* Read and validate: count <= PM_RSYNC_BLOCKS_MAX, blength in
 * [1, PM_RSYNC_BLOCK_MAX] (0 with count 0), s2length in [0, in->s2max],
 * remainder < blength.  0 or -1. */
int rsp_read_sum_head(struct rsp_in *in, struct rsp_sum_head *h);

/* What the client asked for in its server arguments. */
struct rsp_args {
	int sender, server, recurse, dirs, times, perms, owner, group, checksum;
	int compress, verbose, itemize, protect_args, delete_any, list_only;
	char client_info[32]; /* the -e capability letters after '.' */
	int npaths;
	const char *paths[8]; /* into the argument storage */
};
/* Parse argv (argc strings from the client).  0, or -1 with a message for
 * the client's screen in why (it starts "ERROR: ").  Read-only: anything
 * that would write (the client as sender, --remove-source-files) and any
 * option this server does not implement is refused by name. */
int rsp_parse_args(int argc, char *const *argv, struct rsp_args *a, char *why, size_t whysz);

/* The greeting "@RSYNCD: 31.0 ..." : the peer's major version, or -1. */
int rsp_parse_greeting(const char *line);

/* rsync's weak rolling checksum of a block (bytes taken as signed). */
uint32_t rsp_checksum1(const uint8_t *p, size_t n);
/* Its two running halves (s1, s2), to roll the window from. */
void rsp_checksum1_parts(const uint8_t *p, size_t n, uint32_t *s1, uint32_t *s2);

/* Order of two names inside one directory of the file list: files before
 * directories, directories compared as "name/".  <0, 0, >0. */
int rsp_name_cmp(const char *a, int a_dir, const char *b, int b_dir);

#endif
