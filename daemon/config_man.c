/* config_man.c - the texts generated from the table of config.c: the
 * README's reference table and the man pages pubmirror.conf(5) and
 * pubmirrord(8).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "limits.h"

static const char *type_text(const struct conf_key *k)
{
	switch (k->type) {
	case CT_STRING:
		return "text";
	case CT_PATH:
		return "path";
	case CT_BOOL:
		return "yes/no";
	case CT_UINT:
		return "number";
	case CT_SIZE:
		return "size";
	case CT_RATE:
		return "rate";
	case CT_SECONDS:
		return "seconds";
	case CT_ENUM:
		return "choice";
	case CT_FLAGS:
		return "list";
	case CT_ADDRS:
		return "addresses";
	case CT_PORTRANGE:
		return "port range";
	case CT_PREFIXES:
		return "paths";
	case CT_NETMAP:
		return "network map";
	case CT_IPV4:
		return "address";
	}
	return "?";
}

/* roff text: escape backslashes and a leading dot or quote. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* Markdown table cell: | would end the cell. */
static void md(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s, f);
	}
}

void config_write_reference(FILE *f, int man)
{
	if (!man) {
		fputs("| key | default | meaning |\n|---|---|---|\n", f);
		for (size_t i = 0; i < conf_nkeys; i++) {
			const struct conf_key *k = &conf_keys[i];
			fprintf(f, "| `%s` | %s%s%s | ", k->name, k->def[0] ? "`" : "",
			        k->def[0] ? k->def : "(empty)", k->def[0] ? "`" : "");
			md(f, k->doc);
			fputs(" |\n", f);
		}
		return;
	}
	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (k->section) {
			fputs(".SS ", f);
			roff(f, k->section);
			fputc('\n', f);
		}
		fprintf(f, ".TP\n.BI \"%s = \" \"%s\"\n", k->name, type_text(k));
		roff(f, k->doc);
		fputs("\n.br\nDefault: ", f);
		if (k->def[0]) {
			fputs("\\fB", f);
			roff(f, k->def);
			fputs("\\fR", f);
		} else {
			fputs("empty", f);
		}
		if (k->type == CT_ENUM || k->type == CT_FLAGS) {
			char list[128];
			conf_list_choices(k->choices, list, sizeof(list));
			fputs(".  Choices: ", f);
			roff(f, list);
		}
		if (k->type == CT_UINT ||
		    ((k->type == CT_SECONDS || k->type == CT_SIZE) && k->max != NOMAX)) {
			char lo[32], hi[32];
			conf_num_text(k->type, k->min, lo, sizeof(lo));
			conf_num_text(k->type, k->max, hi, sizeof(hi));
			fprintf(f, ".  Range: %s to %s", lo, hi);
		}
		fputs(".\n", f);
	}
}

static void man_conf(FILE *f)
{
	fputs(".TH PUBMIRROR.CONF 5 \"\" \"pubmirror\" \"File Formats\"\n"
	      ".SH NAME\n"
	      "pubmirror.conf \\- configuration file of pubmirrord\n"
	      ".SH SYNOPSIS\n"
	      ".I /etc/pubmirror/pubmirror.conf\n"
	      ".SH DESCRIPTION\n"
	      "The file holds one setting per line, written\n"
	      ".IR key \" = \" value .\n"
	      "Blank lines and lines whose first non-blank character is\n"
	      ".B #\n"
	      "are ignored.  Blanks around the key and value are dropped.  A value may be\n"
	      "enclosed in double quotes; inside them,\n"
	      ".B \\e\"\n"
	      "stands for a quote and\n"
	      ".B \\e\\e\n"
	      "for a backslash.  A line may hold at most\n",
	      f);
	fprintf(f, "%d bytes.  A key given twice in one file is an error naming both lines;\n",
	        PM_CONF_LINE_MAX);
	fputs("an unknown key is an error.  Keys not given keep their defaults.\n"
	      ".B pubmirrord \\-\\-set\n"
	      ".IR key = value\n"
	      "overrides a key after the file is read.\n"
	      ".PP\n"
	      "Errors are reported as\n"
	      ".IR file : line \": \" key \": \" reason\n"
	      "and\n"
	      ".B pubmirrord \\-t\n"
	      "checks a file without starting.\n"
	      ".SS Value types\n"
	      ".TP\n.B yes/no\n"
	      "yes, no, on, off, true, false, 1 or 0.\n"
	      ".TP\n.B size, rate\n"
	      "Bytes (or bytes per second), with an optional suffix K, M, G or T (powers\n"
	      "of 1024).  A rate of 0 means unlimited.\n"
	      ".TP\n.B seconds\n"
	      "A number of seconds, or a number with suffix s, m, h or d.\n"
	      ".TP\n.B addresses\n"
	      ".B off\n"
	      "or a comma-separated list of\n"
	      ".IR address : port ,\n"
	      ".RI [ IPv6 ]: port\n"
	      "or\n"
	      ".RI *: port\n"
	      "(all IPv4 addresses).  Addresses are numeric; names are not resolved.\n",
	      f);
	fprintf(f, "At most %d per key.\n", PM_CONF_ADDRS_MAX);
	fputs(".TP\n.B port range\n"
	      ".IR low \\- high ,\n"
	      "within 1024\\-65535.\n"
	      ".TP\n.B paths\n"
	      "Comma-separated path prefixes below the served root;\n"
	      ".B /\n"
	      "means the whole site.\n"
	      ".TP\n.B network map\n"
	      "Comma-separated\n"
	      ".IR network / length = address\n"
	      "entries; the network may be IPv4 or IPv6, the address is IPv4.\n"
	      ".SH KEYS\n",
	      f);
	config_write_reference(f, 1);
	fputs(".SH EXAMPLE\n"
	      ".nf\n"
	      "root = /srv/mirror\n"
	      "ftp_listen = *:21\n"
	      "ftps_listen = *:990\n"
	      "https_listen = *:443\n"
	      "http_listen = *:80\n"
	      "rsync_listen = *:873\n"
	      "tls_cert = /etc/letsencrypt/live/mirror.example.org/fullchain.pem\n"
	      "tls_key = /etc/letsencrypt/live/mirror.example.org/privkey.pem\n"
	      "rate_per_ip = 10M\n"
	      ".fi\n"
	      ".SH SEE ALSO\n"
	      ".BR pubmirrord (8)\n",
	      f);
}

static void man_daemon(FILE *f)
{
	fputs(".TH PUBMIRRORD 8 \"\" \"pubmirror\" \"System Administration\"\n"
	      ".SH NAME\n"
	      "pubmirrord \\- anonymous public-download mirror server (FTP, FTPS, HTTPS, rsync)\n"
	      ".SH SYNOPSIS\n"
	      ".B pubmirrord\n"
	      ".RB [ \\-c\n"
	      ".IR file ]\n"
	      ".RB [ \\-t ]\n"
	      ".RB [ \\-f ]\n"
	      ".RB [ \\-\\-set\n"
	      ".IR key = value ]...\n"
	      ".RB [ \\-h ]\n"
	      ".RB [ \\-V ]\n"
	      ".SH DESCRIPTION\n"
	      ".B pubmirrord\n"
	      "serves one read-only tree to anonymous FTP clients (plain, explicit\n"
	      "AUTH TLS and implicit FTPS), to HTTPS clients (directory listings,\n"
	      "Range, conditional GET, optional Basic auth on chosen paths) and to\n"
	      "rsync clients (one read-only module), from one process that shares one\n"
	      "view of the tree, one file index and one rate limiter between the\n"
	      "protocols.  It binds its ports, then drops to an unprivileged user\n"
	      "inside a file-system and system-call sandbox; a small helper that\n"
	      "keeps root (without capabilities under the systemd unit) reads the\n"
	      "certificate and key and runs the built-in ACME client.\n"
	      ".SH OPTIONS\n"
	      ".TP\n.BI \\-c \" file\"\n"
	      "Read the configuration from\n"
	      ".I file\n"
	      "(default: conf/pubmirror.conf when run from the source tree).\n"
	      ".TP\n.B \\-t\n"
	      "Check the configuration and exit: status 0 when good; otherwise the\n"
	      "error as\n"
	      ".IR file : line \": \" key \": \" reason\n"
	      "and a non-zero status.\n"
	      ".TP\n.B \\-f\n"
	      "Stay in the foreground; with an empty error_log, errors go to stderr.\n"
	      ".TP\n.BI \\-\\-set \" key\" = value\n"
	      "Override one configuration key after the file is read (repeatable).\n"
	      ".TP\n.B \\-h\n"
	      "Print a short usage and exit.\n"
	      ".TP\n.B \\-V\n"
	      "Print the version and exit.\n"
	      ".TP\n.B \\-\\-dump\\-config\n"
	      "Print the sample configuration (every key, its default and doc line).\n"
	      ".TP\n.B \\-\\-production\\-config\n"
	      "Print the configuration installed by make install: every protocol on\n"
	      "its standard port over IPv4 and IPv6, the service user, logs under\n"
	      "/var/log/pubmirror, and the ACME keys commented out.\n"
	      ".TP\n.B \\-\\-reference\n"
	      "Print the configuration reference as a markdown table.\n"
	      ".TP\n.BI \\-\\-man \" section\"\n"
	      "Print this page (8) or\n"
	      ".BR pubmirror.conf (5).\n"
	      ".SH SIGNALS\n"
	      ".TP\n.B SIGHUP\n"
	      "Reload the configuration, the certificate and the users file and rescan\n"
	      "the tree.  A configuration with errors is refused and the old one stays\n"
	      "in force.  Listening addresses are kept from start-up.\n"
	      ".TP\n.B SIGTERM\n"
	      "Stop accepting, let running transfers finish for up to drain_timeout\n"
	      "seconds, then exit.\n"
	      ".TP\n.B SIGINT\n"
	      "As SIGTERM, but running transfers get only 1 second to finish\n"
	      "(an interactive Ctrl-C should not wait for drain_timeout).\n"
	      ".TP\n.B SIGUSR1\n"
	      "Reopen the log files (after rotation); the helper's too.\n"
	      ".TP\n.B SIGUSR2\n"
	      "Reload the certificate and key only (sent by the built-in ACME client\n"
	      "and the generated certificate's renewal after they write a new pair).\n"
	      ".SH FILES\n"
	      ".TP\n.I /etc/pubmirror/pubmirror.conf\n"
	      "The configuration; see\n"
	      ".BR pubmirror.conf (5).\n"
	      ".TP\n.IB state_dir /cert.pem \", \" state_dir /key.pem\n"
	      "The self-signed certificate and key generated when tls_cert and tls_key\n"
	      "are not set.\n"
	      ".TP\n.IR error_log \", \" access_log \", \" xfer_log \", \" json_log\n"
	      "Logs: errors (or syslog), HTTP requests in combined log format, FTP\n"
	      "transfers in xferlog format, and JSON lines for both protocols.\n"
	      "Passwords are never logged.\n"
	      ".SH EXIT STATUS\n"
	      "0 on a clean stop or a good\n"
	      ".BR \\-t ;\n"
	      "non-zero on a configuration or start-up error.\n"
	      ".SH SEE ALSO\n"
	      ".BR pubmirror.conf (5),\n"
	      ".BR ftp (1),\n"
	      ".BR curl (1)\n",
	      f);
}

void config_write_man(FILE *f, int section)
{
	if (section == 5)
		man_conf(f);
	else if (section == 8)
		man_daemon(f);
}
