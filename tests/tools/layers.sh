#!/bin/sh
# layers.sh BUILD - the layer rules of STYLE.md ("Layers"), proved on the
# objects the compiler made (nm), so that a call hidden behind a shared
# header or a prototype written by hand is seen too:
#   1. a module calls only modules of its own layer or of a lower one;
#   2. a protocol module never calls or includes another protocol's modules;
#   3. the calls between modules form no cycle (except the ones named in
#      KNOWN_CYCLES below, which may only shrink).
cd "$(dirname "$0")/../.." || exit 2
B=${1:-build}
[ -d "$B/obj" ] || { echo "layers: no $B/obj: build first"; exit 2; }

# Lowest first.  A module is a daemon/*.c file without its suffix.
LAYER_base="limits clock buf fmt path digest hash compress net proxy config config_pasv config_man log tls tls_io file markdown metalink"
LAYER_tree="index limiter metrics auth sums sums_hasher lslr lslr_store view listing_ftp listing_html proxy_accept"
LAYER_proto="ftp ftp_cmd ftp_data ftp_sess ftp_worker http http_dispatch http_auth http_assets http_acme http_sweep http_reply http_file http_pace http_listing http_tls http_metrics http_util http_meta4
	rsync rsync_proto"
LAYER_top="main sandbox privsep acme"
LAYERS="base tree proto top"

# Cycles allowed for now, as "a>b>a" starting at the smallest name (none:
# inside FTP the loop calls the commands, which call the data code, and all
# call down to ftp_sess.c and ftp_worker.c).
KNOWN_CYCLES=""

tmp=$(mktemp -d "${TMPDIR:-/tmp}/layers.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
rc=0
bad() { echo "layers: $*"; rc=1; }

rank() { # module -> layer index (0 = lowest), or nothing
	i=0
	for l in $LAYERS; do
		eval "mods=\$LAYER_$l"
		for m in $mods; do [ "$m" = "$1" ] && { echo "$i $l"; return; }; done
		i=$((i + 1))
	done
}
proto_of() { # protocol of a module in the proto layer: ftp, http, rsync
	case "$1" in ftp|ftp_*) echo ftp ;; http|http_*) echo http ;; rsync|rsync_*) echo rsync ;; esac
}

for c in daemon/*.c; do
	m=$(basename "$c" .c)
	[ -n "$(rank "$m")" ] || bad "daemon/$m.c is in no layer: add it to a LAYER_ list of $0"
done
# STYLE.md's layer table, which a reader sees, names the same modules.
for l in $LAYERS; do
	eval "mods=\$LAYER_$l"
	row=$l
	[ "$l" = proto ] && row=protocols
	sed -n "s/^| $row | \(.*\) |\$/\1/p" STYLE.md | tr ',;' '  ' | tr -s ' ' '\n' |
		grep . | sort >"$tmp/doc"
	echo $mods | tr ' ' '\n' | sort >"$tmp/code"
	if ! cmp -s "$tmp/doc" "$tmp/code"; then
		bad "STYLE.md's \"$row\" row and LAYER_$l differ: only in STYLE.md: $(comm -23 "$tmp/doc" "$tmp/code" | tr '\n' ' ')only here: $(comm -13 "$tmp/doc" "$tmp/code" | tr '\n' ' ')"
	fi
done
[ $rc -eq 0 ] || exit $rc

# Defined and undefined symbols per module -> edges "caller callee".
for o in "$B"/obj/*.o; do
	m=$(basename "$o" .o)
	nm "$o" | awk -v m="$m" '$2 ~ /^[TDBR]$/ {print $3, m}' >>"$tmp/def"
	nm "$o" | awk -v m="$m" '$1 == "U" {print $2, m}' >>"$tmp/use"
done
sort -u "$tmp/def" >"$tmp/def.s"
sort -u "$tmp/use" >"$tmp/use.s"
# sym callee / sym caller -> caller callee sym
join "$tmp/use.s" "$tmp/def.s" | awk '$2 != $3 {print $2, $3, $1}' | sort -u >"$tmp/edges"

while read -r from to sym; do
	rf=$(rank "$from"); rt=$(rank "$to")
	[ -n "$rf" ] && [ -n "$rt" ] || continue
	if [ "${rt%% *}" -gt "${rf%% *}" ]; then
		bad "$from (${rf#* }) calls $sym of $to (${rt#* }): a lower layer calls up"
	fi
	pf=$(proto_of "$from"); pt=$(proto_of "$to")
	if [ -n "$pf" ] && [ -n "$pt" ] && [ "$pf" != "$pt" ]; then
		bad "$from calls $sym of $to: a protocol module calls another protocol"
	fi
done <"$tmp/edges"

# Includes: a protocol's file names no header of another protocol.
for f in daemon/ftp*.[ch] daemon/http*.[ch] daemon/rsync*.[ch]; do
	pf=$(proto_of "$(basename "$f" | sed 's/\.[ch]$//')")
	for h in $(sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f"); do
		ph=$(proto_of "$h")
		[ -n "$ph" ] && [ "$ph" != "$pf" ] && bad "$f includes $h.h of another protocol"
	done
done

# Cycles: from each module, walk the call graph; a path back to it is a
# cycle, reported as "a>b>...>a" starting at its smallest name.
awk '{print $1, $2}' "$tmp/edges" | sort -u >"$tmp/graph"
awk '
	{ adj[$1] = adj[$1] " " $2; nodes[$1] = 1; nodes[$2] = 1 }
	function walk(start, at, path, depth,   n, i, next_, parts) {
		if (depth > 12) return
		n = split(adj[at], parts, " ")
		for (i = 1; i <= n; i++) {
			next_ = parts[i]
			if (next_ == start) { found[path ">" start] = 1; continue }
			if (next_ < start || index(" " path ">", ">" next_ ">") || index(path ">", next_ ">") == 1) continue
			walk(start, next_, path ">" next_, depth + 1)
		}
	}
	END { for (s in nodes) walk(s, s, s, 0); for (c in found) print c }
' "$tmp/graph" | sort >"$tmp/cycles"
while read -r cyc; do
	known=0
	for k in $KNOWN_CYCLES; do [ "$k" = "$cyc" ] && known=1; done
	[ $known -eq 1 ] || bad "calls go round in a cycle: $cyc"
done <"$tmp/cycles"
for k in $KNOWN_CYCLES; do
	grep -qx "$k" "$tmp/cycles" || bad "the cycle $k is gone: remove it from KNOWN_CYCLES in $0"
done
exit $rc
