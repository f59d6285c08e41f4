#!/bin/sh
# unused.sh BUILD - no dead exports (STYLE.md, "Rules a script checks"):
# every function or variable a daemon object exports is used by another
# object, or by a unit test, fuzz target or benchmark that drives it.
# What only its own file uses is static; what nothing uses is deleted.
cd "$(dirname "$0")/../.." || exit 2
B=${1:-build}
[ -d "$B/obj" ] || { echo "unused: no $B/obj: build first"; exit 2; }

# Exported on purpose although nothing else calls them yet, with the reason.
#   proxy_accept_step: the one PROXY header reader, for every protocol.
ALLOW="main proxy_accept_step"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unused.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
for o in "$B"/obj/*.o; do
	m=$(basename "$o" .o)
	nm "$o" | awk -v m="$m" '$2 ~ /^[TDBR]$/ {print $3, m}' >>"$tmp/def"
	nm "$o" | awk -v m="$m" '$1 == "U" {print $2, m}' >>"$tmp/use"
done
sort -u "$tmp/use" >"$tmp/use.s"
cat tests/unit/*.c tests/fuzz/*.c tests/bench/*.c 2>/dev/null >"$tmp/tests"
rc=0
while read -r sym mod; do
	case " $ALLOW " in *" $sym "*) continue ;; esac
	awk -v s="$sym" -v m="$mod" '$1 == s && $2 != m {f = 1} END {exit !f}' "$tmp/use.s" && continue
	grep -qw "$sym" "$tmp/tests" && continue
	echo "unused: daemon/$mod.c exports $sym, which nothing else uses (make it static or delete it)"
	rc=1
done <"$tmp/def"
exit $rc
