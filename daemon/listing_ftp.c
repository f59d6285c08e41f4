/* listing_ftp.c - the FTP forms of a listing: `ls -l` lines for LIST and
 * STAT, and RFC 3659 facts for MLSD/MLST (see listing.h).
 *
 * Mode strings are world-readable and never writable (r--r--r--,
 * r-xr-xr-x): mirror scanners such as MirrorBrain's skip entries that are
 * not; sizes are exact; times are UTC.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "listing.h"

static const char listing_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* The prologue both forms share: -1 when the name cannot be sent (SECURITY:
 * a name with CR/LF would forge lines or replies), else its UTC mtime in
 * *tm (zeros if out of range). */
static int listing_ftp_prepare(const struct index_entry *e, struct tm *tm)
{
	time_t t = (time_t)e->mtime;

	if (buf_enc_len(e->name, e->namelen, BUF_ENC_FTP) == SIZE_MAX)
		return -1;
	if (gmtime_r(&t, tm) == NULL)
		memset(tm, 0, sizeof(*tm));
	return 0;
}

int listing_ls_line(struct buf *out, const struct index_entry *e, time_t now)
{
	struct tm tm;
	time_t t = (time_t)e->mtime;
	char when[96];
	size_t mark = out->len;
	int dir = e->type == INDEX_DIR;

	if (listing_ftp_prepare(e, &tm) < 0)
		return -1;
	/* ls: recent (within six months, not in the future) shows the time */
	if (t <= now + 3600 && now - t < 183L * 24 * 3600)
		snprintf(when, sizeof(when), "%s %2d %02d:%02d", listing_months[tm.tm_mon % 12],
		         tm.tm_mday, tm.tm_hour, tm.tm_min);
	else
		snprintf(when, sizeof(when), "%s %2d  %04d", listing_months[tm.tm_mon % 12],
		         tm.tm_mday, tm.tm_year + 1900);
	if (buf_printf(out, "%s %3u ftp      ftp      %12" PRIu64 " %s ",
	               dir ? "dr-xr-xr-x" : "-r--r--r--", dir ? 2u : 1u, e->size, when) != 0 ||
	    buf_append_enc(out, e->name, e->namelen, BUF_ENC_FTP) != 0 ||
	    buf_append(out, "\r\n", 2) != 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, mark);
	return -1;
}

int listing_mlsx_facts(struct buf *out, const struct index_entry *e, const char *type_override)
{
	struct tm tm;
	size_t mark = out->len;
	int dir = e->type == INDEX_DIR;

	if (listing_ftp_prepare(e, &tm) < 0)
		return -1;
	if (buf_printf(out,
	               "type=%s;size=%" PRIu64 ";modify=%04d%02d%02d%02d%02d%02d;"
	               "perm=%s;unique=%" PRIx32 "U%" PRIx64 "; ",
	               type_override ? type_override
	               : dir         ? "dir"
	                             : "file",
	               e->size, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	               tm.tm_sec, dir ? "el" : "r", e->dev, e->ino) != 0 ||
	    buf_append_enc(out, e->name, e->namelen, BUF_ENC_FTP) != 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, mark);
	return -1;
}
