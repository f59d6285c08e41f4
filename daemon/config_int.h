/* config_int.h - the table of tunables, shared by config.c (the table and
 * its parser) and config_man.c (the reference and man pages written from
 * it).  Not an interface for other modules: daemon/config.h is.
 */
#ifndef PUBMIRROR_CONFIG_INT_H
#define PUBMIRROR_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

enum conf_type {
	CT_STRING,    /* text, length-checked; printable (no control chars) */
	CT_PATH,      /* a file system path; same checks as CT_STRING */
	CT_BOOL,      /* yes/no/on/off/true/false/1/0 -> int */
	CT_UINT,      /* plain number -> unsigned */
	CT_SIZE,      /* bytes, K/M/G/T suffixes (1024) -> uint64_t */
	CT_RATE,      /* bytes per second, as CT_SIZE; 0 = unlimited */
	CT_SECONDS,   /* number with optional s/m/h/d -> unsigned or uint64_t */
	CT_ENUM,      /* one of choices[] -> its index, stored as an int enum */
	CT_FLAGS,     /* comma-separated subset of choices[] -> bit i = 1 << i */
	CT_ADDRS,     /* off, or host:port,[v6]:port,*:port -> config_addrs */
	CT_PORTRANGE, /* LOW-HIGH -> pasv_min, pasv_max */
	CT_PREFIXES,  /* comma-separated path prefixes -> config_prefixes */
	CT_NETMAP,    /* CIDR=ADDR, ... -> config_netmap */
	CT_IPV4,      /* empty, or one numeric IPv4 address -> char[] */
};

/* Extra rule for a text value, beyond length and control characters. */
enum conf_check { CK_NONE, CK_USER, CK_BANNER, CK_URLS, CK_MODULE };

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;                 /* offsetof(struct config, field) */
	size_t size;                /* sizeof the field */
	const char *def;            /* default, as text */
	uint64_t min, max;          /* numbers: bounds; text: min = minimum length */
	const char *const *choices; /* CT_ENUM, CT_FLAGS: NULL-terminated */
	enum conf_check check;
	const char *section; /* starts a group in the sample file */
	const char *doc;     /* one line */
};

/* No upper bound (max of a key). */
#define NOMAX UINT64_MAX

/* The table (config.c) and its number of rows. */
extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

/* A number the way a person would write it back: 4G, 30d, 1000000. */
void conf_num_text(enum conf_type t, uint64_t v, char *out, size_t outsz);
/* The choices of an enum or flags key, ", "-separated, into out. */
void conf_list_choices(const char *const *ch, char *out, size_t outsz);

#endif
