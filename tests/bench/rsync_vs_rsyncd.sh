#!/bin/sh
# rsync_vs_rsyncd.sh - pubmirrord's rsync:// listener beside Debian's rsyncd
# (read-only module, same tree, same machine, one run each): full pull of
# the tree (wall seconds, server CPU seconds), then the delta case (1 MiB
# changed inside a 100 MiB file), then -z.  Loopback only; ports picked free.
# A current client picks xxh128 and zstd from rsyncd, which pubmirrord does
# not offer (OpenSSL digests, zlib): the rows marked (sha1) and (zlibx)
# pull from rsyncd with the same choices pubmirrord makes, for a
# like-for-like comparison.
# Usage: sh tests/bench/rsync_vs_rsyncd.sh   (from the checkout, after make)
# PUBMIRRORD=path picks another binary (to compare builds).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PUBMIRRORD:-$TOP/build/pubmirrord}
W=$(mktemp -d /tmp/pm-rsync-bench.XXXXXX)
chmod 755 "$W"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# utime+stime of a process and its reaped children, in seconds
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15+$16+$17)/hz}' "/proc/$1/stat"; }
now() { date +%s.%N; }

echo "# building the tree"
mkdir -p "$W/root/big" "$W/root/small"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$W/root/big/big.bin"
i=0
while [ $i -lt 2000 ]; do
	head -c $(( (i % 50 + 1) * 2048 )) /dev/urandom > "$W/root/small/f$i.dat"
	i=$((i + 1))
done
chmod -R a+rX "$W/root"

P1=$(port); P2=$(port)
mkdir -p "$W/state"
cat > "$W/pm.conf" <<CONF
root = $W/root
state_dir = $W/state
ftp_listen = off
ftps_listen = off
https_listen = off
rsync_listen = 127.0.0.1:$P1
CONF
"$BIN" -f -c "$W/pm.conf" > "$W/pm.log" 2>&1 &
PM=$!; PIDS="$PIDS $PM"
cat > "$W/rsyncd.conf" <<CONF
use chroot = no
max connections = 10
[mirror]
path = $W/root
read only = yes
CONF
rsync --daemon --no-detach --config="$W/rsyncd.conf" --port="$P2" --address=127.0.0.1 \
	--log-file="$W/rsyncd.log" &
RD=$!; PIDS="$PIDS $RD"
sleep 2

run() { # name pid url dst [opts]
	name=$1 pid=$2 url=$3 dst=$4; shift 4
	c0=$(cpu "$pid"); t0=$(now)
	rsync -a --stats "$@" "$url" "$dst/" > "$W/out.$name" 2>&1
	t1=$(now); sleep 1; c1=$(cpu "$pid")  # rsyncd counts a child once it is reaped
	lit=$(awk -F': ' '/^Literal data/ {print $2}' "$W/out.$name" | awk '{print $1}')
	printf "%-28s %8.2f s wall %8.2f s server CPU   literal %s\n" "$name" \
		"$(echo "$t1 - $t0" | bc)" "$(echo "$c1 - $c0" | bc)" "$lit"
}

echo "# full pull: a 100 MiB file + 2,000 files of 2-100 KiB (200 MiB)"
run "pubmirrord full" "$PM" "rsync://127.0.0.1:$P1/mirror/" "$W/d1"
run "rsyncd full" "$RD" "rsync://127.0.0.1:$P2/mirror/" "$W/d2"
run "rsyncd full (sha1)" "$RD" "rsync://127.0.0.1:$P2/mirror/" "$W/d3" --checksum-choice=sha1
diff -r "$W/root" "$W/d1" > /dev/null && diff -r "$W/root" "$W/d2" > /dev/null &&
	diff -r "$W/root" "$W/d3" > /dev/null && echo "# all copies byte-exact"
python3 -c "
import os
f = open('$W/root/big/big.bin', 'r+b'); f.seek(37 << 20); f.write(os.urandom(1 << 20)); f.close()"
sleep 2
echo "# delta: 1 MiB changed inside the 100 MiB file"
run "pubmirrord delta" "$PM" "rsync://127.0.0.1:$P1/mirror/big/" "$W/d1/big"
run "rsyncd delta" "$RD" "rsync://127.0.0.1:$P2/mirror/big/" "$W/d2/big"
run "rsyncd delta (sha1)" "$RD" "rsync://127.0.0.1:$P2/mirror/big/" "$W/d3/big" --checksum-choice=sha1
echo "# -z full pull of the small files"
run "pubmirrord -z small" "$PM" "rsync://127.0.0.1:$P1/mirror/small/" "$W/z1" -z
run "rsyncd -z small" "$RD" "rsync://127.0.0.1:$P2/mirror/small/" "$W/z2" -z
run "rsyncd -z small (zlibx)" "$RD" "rsync://127.0.0.1:$P2/mirror/small/" "$W/z3" -z \
	--compress-choice=zlibx
