#!/bin/sh
# lint.sh - rules of STYLE.md (the one at the top of the checkout) that a
# grep can prove.
# 2: foreign contact lives in named files; 3: no unsafe libc calls;
# DESIGN: visibility is decided only in view.c.
cd "$(dirname "$0")/../.." || exit 2
rc=0
bad() { echo "lint: $*"; rc=1; }
for f in daemon/*.c daemon/*.h; do
	b=$(basename "$f")
	case "$b" in tls*|digest.c|acme*) ;; *)
		grep -q '#include <openssl/' "$f" && bad "$f includes OpenSSL (only tls*.c, digest.c, acme*.c may)";;
	esac
	case "$b" in acme*) ;; *)
		grep -Eq '#include <(curl/|json-c/)' "$f" && bad "$f includes libcurl or json-c (only acme*.c may)";;
	esac
	case "$b" in http*|auth.c) ;; *)
		grep -q '#include <microhttpd.h>' "$f" && bad "$f includes microhttpd.h (only http*.c, auth.c may)";;
	esac
	case "$b" in http*) ;; *)
		grep -q '#include <gnutls/' "$f" && bad "$f includes GnuTLS (only http*.c may)";;
	esac
	# GnuTLS and every other library are linked and called by name: a
	# function looked up at run time would fail late and silently.
	grep -Eq '#include <dlfcn.h>|[^_a-z](dlsym|dlopen)\(' "$f" && bad "$f looks symbols up at run time (dlsym/dlopen)"
	case "$b" in compress*) ;; *)
		grep -q '#include <zlib.h>' "$f" && bad "$f includes zlib.h (only compress*.c may)";;
	esac
	case "$b" in markdown.c) ;; *)
		grep -q '#include <cmark.h>' "$f" && bad "$f includes cmark.h (only markdown.c may)";;
	esac
	case "$b" in sandbox.c) ;; *)
		grep -Eq '\b(setuid|setgid|setgroups|chroot|setresuid|setresgid|prctl)\(' "$f" && bad "$f changes privileges (only sandbox.c may)";;
	esac
	case "$b" in net.c) ;; *)
		grep -Eq '[^_a-z]socket\(' "$f" && bad "$f creates sockets (only net.c may)";;
	esac
	case "$b" in file.c|tls.c|log.c|config.c|auth.c|main.c|sandbox.c|acme.c) ;; *)
		grep -Eq '[^_a-z](open|openat|openat2|fopen)\(' "$f" && bad "$f opens files (only file.c opens served files)";;
	esac
	# DESIGN: only view decides what a client may see ("hidden",
	# "protected", visible children); auth.c and path.c define the tests
	# it uses, index.c leaves dot-files out of the snapshot.
	case "$b" in view.c|auth.c|path.c|*.h) ;; *)
		grep -Eq '[^_a-z](auth_path_protected|path_has_dot_component)\(' "$f" && bad "$f decides visibility itself (only view.c may: use view.h)";;
	esac
	case "$b" in view.c|index.c|config.c|main.c|*.h) ;; *)
		grep -Eq 'show_dotfiles' "$f" && bad "$f reads show_dotfiles (visibility belongs to view.c)";;
	esac
	grep -En '[^_a-z](strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|system|popen|glob|fnmatch)\(' "$f" \
		| sed "s|^|lint: $f: forbidden call: |" | grep . && rc=1
done
exit $rc
