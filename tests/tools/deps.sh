#!/bin/sh
# deps.sh - install the build dependencies that are missing, through the
# system package manager; does nothing when all are present.
#   deps.sh          build dependencies (what `make` needs)
#   deps.sh --test   also what `make check` needs (clients used by the tests)
set -e
BUILD_DEBS="build-essential pkg-config libssl-dev libmicrohttpd-dev libgnutls28-dev zlib1g-dev libcrypt-dev libseccomp-dev libcurl4-openssl-dev libjson-c-dev libcmark-dev"
TEST_DEBS="openssl pebble certbot curl wget lftp python3 apt-utils clang clang-format libclang-rt-14-dev chromium fonts-dejavu-core procps iproute2 psmisc rclone nginx vsftpd wrk rsync fail2ban systemd logrotate groff-base man-db haproxy prometheus util-linux aria2"
BUILD_RPMS="gcc make pkgconf-pkg-config openssl-devel libmicrohttpd-devel gnutls-devel zlib-devel libxcrypt-devel libseccomp-devel libcurl-devel json-c-devel cmark-devel"
want=$BUILD_DEBS
[ "$1" = "--test" ] && want="$BUILD_DEBS $TEST_DEBS"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if command -v dpkg-query >/dev/null 2>&1; then
	missing=""
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
		echo "deps.sh: missing Debian packages:$missing" >&2
		echo "deps.sh: install them as root with: apt-get install -y$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
elif command -v dnf >/dev/null 2>&1; then
	$sudo dnf install -y $BUILD_RPMS
else
	echo "deps.sh: install by hand: OpenSSL, libmicrohttpd, GnuTLS, zlib, libcrypt, libseccomp, libcurl, json-c, cmark headers, pkg-config" >&2
	exit 1
fi
