#!/bin/bash
# tests/bench/run.sh - pubmirrord against nginx (HTTPS) and vsftpd (FTP, FTPS)
# on this machine, same tree, same certificate, same workloads; prints one
# table (figure, pubmirrord, peer, ratio, target) and writes it to
# tests/bench/work/results.md, with every single run in tests/bench/work/raw.txt.
#
#   sh tests/bench/run.sh            the benchmark (make bench); ~20 minutes
#   sh tests/bench/run.sh --smoke    tiny tree, one 1-second run of each
#                                    workload; prints "ok - ..." / "not ok - ..."
#                                    (make bench-smoke, tests/e2e/t_bench_smoke.sh)
#
# Environment: PUBMIRRORD (the binary; default build/pubmirrord), RUNS (default
# 3), DUR (seconds per timed run, default 10), PIN=auto|1|0 (see "Pinning"),
# BENCH_ONLY=regex runs only the figures whose key matches (e.g. 'ftp_dl|https_dl').
#
# Choices, so that the comparison is fair and reproducible:
# - every server listens on 127.0.0.1 ports picked free, serves the same tree
#   (tests/bench/work/tree) with the same P-256 certificate, logs every
#   request/transfer to a file in the work directory, and has no per-IP limit;
# - nginx: 1.22 as Debian ships it, worker_processes auto (= cores), sendfile,
#   keep-alive, autoindex, gzip on (its default level 1), TLS 1.2/1.3; its
#   workers run as nobody when the harness runs as root;
# - vsftpd: 3.0.3 as Debian ships it, standalone (listen=YES, background=NO),
#   anonymous read-only, FTPS allowed, require_ssl_reuse=NO, ssl_ciphers=HIGH
#   (its built-in default, DES-CBC3-SHA, is refused by OpenSSL 3), its own
#   default process model and sandbox; nopriv_user=nobody;
# - pubmirrord: ftp_threads = http_threads = cores, the same pasv range size;
# - clients: wrk -t2 -c50 for request rates, curl for the HTTPS download,
#   tests/bench/ftpload.c (built here with cc) for FTP; FTPS data
#   connections resume the control connection's TLS session, as FileZilla
#   and lftp do;
# - medians of RUNS runs, interleaved pubmirrord, peer, pubmirrord, peer...
#
# Every process started here is stopped by its PID on exit, error or signal.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
W="$top/tests/bench/work"
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
BUILD=${PM_BUILD:-build}
PM_BIN=${PUBMIRRORD:-$top/$BUILD/pubmirrord}  # tests/run.sh exports PUBMIRRORD
NCPU=$(nproc)

if [ "$SMOKE" = 1 ]; then
	RUNS=1; DUR=1; BIG_MIB=4; SMALL_N=20; DIR_N=100
	CONC="1 4"; CONC_TARGET=4; IDLE_N="20"; THR_SECS=2; WRK_C=4
	# Its own directory, so that make check never disturbs a running benchmark.
	W="$W/smoke"; TREE="$W/tree"; WALL_LIMIT=110
else
	RUNS=${RUNS:-3}; DUR=${DUR:-10}; BIG_MIB=1024; SMALL_N=1000; DIR_N=10000
	CONC="1 50 300"; CONC_TARGET=300; IDLE_N="1000 10000"; THR_SECS=10; WRK_C=50
	TREE="$W/tree"; WALL_LIMIT=7200
fi
ONLY=${BENCH_ONLY:-.}
T_START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$W/bin" "$W/logs"

nfail=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; nfail=$((nfail + 1)); }
say() { echo "# $*" >&2; }
die() { if [ "$SMOKE" = 1 ]; then notok "$*"; else echo "bench: $*" >&2; fi; exit 1; }

# ---- processes: every PID we start, stopped on the way out ----------------
PIDS=""
stop_pid() { # pid: TERM, then KILL after 5 s; also its descendants
	local p=$1 kids i k
	kill -0 "$p" 2>/dev/null || return 0
	kids=$(ps -o pid= --ppid "$p" 2>/dev/null)
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	for k in $kids; do kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null; done
	wait "$p" 2>/dev/null
	return 0
}
cleanup() {
	local p
	for p in $PIDS; do stop_pid "$p"; done
	PIDS=""
}
trap 'cleanup' EXIT
trap 'notok "interrupted (a signal, or the ${WALL_LIMIT} s limit)"; cleanup; exit 130' INT TERM

# Bound the whole run: a watchdog that signals this shell (smoke: < 2 min).
MAIN=$$
( trap 'kill $sp 2>/dev/null; exit 0' TERM
  sleep "$WALL_LIMIT" & sp=$!
  wait $sp && { echo "bench: wall-clock limit ${WALL_LIMIT}s reached" >&2; kill -TERM $MAIN; } ) &
WATCHDOG=$!
PIDS="$WATCHDOG"

time_left() { echo $((WALL_LIMIT - ($(date +%s) - T_START))); }

# ---- what we need ------------------------------------------------------------
need_tools() {
	local missing="" t
	for t in nginx vsftpd wrk curl openssl cc taskset; do
		command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing="$missing $t"
	done
	echo "$missing"
}
PATH="$PATH:/usr/sbin:/sbin"
missing=$(need_tools)
if [ -n "$missing" ] && [ "$SMOKE" = 0 ]; then
	pkgs=""
	for t in $missing; do
		case $t in cc) pkgs="$pkgs build-essential";; taskset) pkgs="$pkgs util-linux";;
		*) pkgs="$pkgs $t";; esac
	done
	say "installing:$pkgs"
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >"$W/logs/apt.log" 2>&1 ||
			{ apt-get update >>"$W/logs/apt.log" 2>&1 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >>"$W/logs/apt.log" 2>&1; }
	else
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs >"$W/logs/apt.log" 2>&1
	fi
	missing=$(need_tools)
fi
for t in $missing; do notok "tool $t is installed (apt-get install it)"; done
[ -n "$missing" ] && [ "$SMOKE" = 0 ] && die "missing:$missing"
HAVE_NGINX=1; HAVE_VSFTPD=1
case " $missing " in *" nginx "*) HAVE_NGINX=0;; esac
case " $missing " in *" vsftpd "*) HAVE_VSFTPD=0;; esac
case " $missing " in *" wrk "*) HAVE_WRK=0;; *) HAVE_WRK=1;; esac
if [ "$(id -u)" != 0 ] && [ "$HAVE_VSFTPD" = 1 ]; then
	# vsftpd chroots anonymous sessions: it needs root.
	notok "vsftpd needs root (run the benchmark as root)"; HAVE_VSFTPD=0
fi

# Enough descriptors for 10,000 idle sessions on each side, where the hard
# limit allows.  pubmirrord needs max_clients + 2 x max_transfers + 64
# descriptors (one per client, two per transfer), plus up to 256 refusal
# slots for each FTP loop and for the HTTP daemons (3 x 256 here: limits.h,
# pm_fds_needed), and refuses to start without them; the benchmark never has more than CONC_TARGET transfers at
# once, so max_transfers is 1,000 and max_clients takes the rest (10,000
# idle sessions fit under a hard limit of 20,000).  A pubmirrord without
# max_transfers (PUBMIRRORD=an older build) reserves three per client: its
# 10,000-session figure becomes the largest thousand that fits.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
FD_LIMIT=$(ulimit -n)
PM_MAXC=30000
PM_MAXT=1000
if [ -x "$PM_BIN" ] && ! "$PM_BIN" --dump-config 2>/dev/null | grep -q '^max_transfers'; then
	PM_MAXT=""
fi
if [ "$FD_LIMIT" != unlimited ]; then
	[ -n "$PM_MAXT" ] && [ $((3 * PM_MAXT + 64)) -gt "$FD_LIMIT" ] &&
		PM_MAXT=$(((FD_LIMIT - 64) / 3))
	if [ -n "$PM_MAXT" ]; then
		fit=$((FD_LIMIT - 64 - 3 * 256 - 2 * PM_MAXT))
	else
		fit=$(((FD_LIMIT - 64) / 3))
	fi
	[ "$fit" -lt "$PM_MAXC" ] && PM_MAXC=$fit
fi
n2=""
for n in $IDLE_N; do
	if [ "$n" -gt $((PM_MAXC - 100)) ]; then
		n=$(((PM_MAXC - 100) / 1000 * 1000))
		say "RLIMIT_NOFILE is $FD_LIMIT: pubmirrord's max_clients is $PM_MAXC, idle sessions $n"
	fi
	n2="$n2 $n"
done
IDLE_N=$n2

# ---- build ---------------------------------------------------------------------
CFLAGS_B="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
-Wmissing-prototypes -Wvla -Werror"
if ! cc $CFLAGS_B -o "$W/bin/ftpload" tests/bench/ftpload.c -lssl -lcrypto -lpthread \
		>"$W/logs/cc-ftpload.log" 2>&1; then
	cat "$W/logs/cc-ftpload.log" >&2
	die "the load generator tests/bench/ftpload.c builds"
fi
[ "$SMOKE" = 1 ] && ok "load generator builds"
FL="$W/bin/ftpload"

if [ "$SMOKE" = 0 ] && [ -z "${PUBMIRRORD:-}" ]; then
	make -s "$BUILD/pubmirrord" >"$W/logs/make.log" 2>&1 || say "make failed (see $W/logs/make.log)"
fi
HAVE_PM=0
[ -x "$PM_BIN" ] && HAVE_PM=1
[ "$HAVE_PM" = 1 ] || notok "pubmirrord is built ($PM_BIN)"

INDEX_BENCH=""
if [ -f tests/bench/index_bench.c ]; then
	[ "$SMOKE" = 0 ] && make -s "$BUILD/libpm.a" >/dev/null 2>&1
	if [ -f "$BUILD/libpm.a" ] && cc -std=c11 -D_GNU_SOURCE -O2 -g -Idaemon -I"$BUILD" \
		$(pkg-config --cflags openssl libmicrohttpd gnutls zlib 2>/dev/null) \
		-o "$W/bin/index_bench" tests/bench/index_bench.c "$BUILD/libpm.a" \
		$(pkg-config --libs openssl libmicrohttpd gnutls zlib libcurl json-c libcmark libseccomp 2>/dev/null) -lcrypt -lpthread \
		>"$W/logs/cc-index_bench.log" 2>&1; then
		INDEX_BENCH="$W/bin/index_bench"
	else
		notok "tests/bench/index_bench.c builds against $BUILD/libpm.a (see $W/logs/cc-index_bench.log)"
	fi
fi

# ---- the tree and the certificate --------------------------------------------
BIG_BYTES=$((BIG_MIB * 1024 * 1024))
BIG_T="$BIG_MIB MiB"; [ "$BIG_MIB" = 1024 ] && BIG_T="1 GiB"
stamp="$BIG_MIB $SMALL_N $DIR_N v1"
if [ "$(cat "$TREE/.stamp" 2>/dev/null)" != "$stamp" ]; then
	say "building the tree in $TREE"
	rm -rf "$TREE"
	mkdir -p "$TREE/small" "$TREE/dir"
	head -c "$BIG_BYTES" /dev/urandom >"$TREE/big.bin" || die "writing $TREE/big.bin"
	head -c $((SMALL_N * 4096)) /dev/urandom >"$W/small.tmp"
	(cd "$TREE/small" && split -a 4 -d -b 4096 "$W/small.tmp" f &&
		for f in f*; do mv "$f" "$f.bin"; done)
	rm -f "$W/small.tmp"
	(cd "$TREE/dir" && seq -f 'package-%05g.tar.gz' 1 "$DIR_N" | xargs touch)
	chmod -R a+rX "$TREE"
	echo "$stamp" >"$TREE/.stamp"
fi
# vsftpd (anon_world_readable_only) and nginx (nobody) need world-readable files.
chmod a+rX "$TREE" "$W" 2>/dev/null
SMALL_PATH=/small/f0000.bin
DIR_PATH=/dir/
[ -f "$TREE$SMALL_PATH" ] || die "tree is incomplete ($TREE$SMALL_PATH)"

CERT="$W/cert.pem"; KEY="$W/key.pem"
if [ ! -s "$CERT" ] || [ ! -s "$KEY" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$KEY" -out "$CERT" >"$W/logs/openssl-req.log" 2>&1 || die "openssl req failed"
fi
chmod 644 "$CERT"; chmod 600 "$KEY"

# ---- ports ---------------------------------------------------------------------
# Passive ranges: pubmirrord's and vsftpd's (PASV_N each, as many as
# vsftpd's sessions need under load) and the throttled instances' (100).
PASV_N=2000
[ "$SMOKE" = 1 ] && PASV_N=100
read -r PR_LO PR_HI <<EOF
$("$FL" range $((2 * PASV_N + 200)))
EOF
[ -n "${PR_LO:-}" ] || die "no free port range"
PORTS=""
for try in 1 2 3 4 5; do
	PORTS=$("$FL" ports 10) || die "no free ports"
	clash=0
	for p in $PORTS; do [ "$p" -ge "$PR_LO" ] && [ "$p" -le "$PR_HI" ] && clash=1; done
	[ "$clash" = 0 ] && break
done
set -- $PORTS
PM_FTP=$1 PM_FTPS=$2 PM_HTTPS=$3 NG_HTTPS=$4 NG_THR=$5 VS_FTP=$6
PMT_FTP=$7 PMT_FTPS=$8 PMT_HTTPS=$9 VST_FTP=${10}
PM_PASV="$PR_LO-$((PR_LO + PASV_N - 1))"
VS_PASV_LO=$((PR_LO + PASV_N)); VS_PASV_HI=$((PR_LO + 2 * PASV_N - 1))
PMT_PASV="$((PR_LO + 2 * PASV_N))-$((PR_LO + 2 * PASV_N + 99))"
VST_PASV_LO=$((PR_LO + 2 * PASV_N + 100)); VST_PASV_HI=$((PR_LO + 2 * PASV_N + 199))

# ---- configurations -----------------------------------------------------------
# Pinning (PIN=auto, the default): single-stream downloads run with the
# server on CPU 1 and the client on CPU 0, because otherwise the scheduler
# often stacks both on one core and the figure measures that (runs vary 2x);
# the many-client workloads are left to the scheduler, so that a server can
# use both cores.  PIN=1 pins every workload apart, PIN=0 none.
PIN=${PIN:-auto}
SRV=""; CLI=""
ALL_CPUS="0-$((NCPU - 1))"
pin_tree() { # pid cpus: the process, its threads and its children
	local p=$1 k
	[ "$p" != 0 ] || return 0
	taskset -a -p -c "$2" "$p" >/dev/null 2>&1
	for k in $(ps -o pid= --ppid "$p" 2>/dev/null); do taskset -a -p -c "$2" "$k" >/dev/null 2>&1; done
}
pinned_apart() { # key: whether this workload runs pinned apart
	[ "$NCPU" -ge 2 ] || return 1
	case "$PIN" in 1) return 0;; 0) return 1;; esac
	case "$1" in *_dl) return 0;; esac
	return 1
}

pm_conf() { # file ftp ftps https pasv [extra lines]
	local f=$1
	mkdir -p "$W/pm-state"
	{
		echo "# throwaway configuration of tests/bench/run.sh"
		echo "root = $TREE"
		echo "state_dir = $W/pm-state"
		echo "tls_cert = $CERT"
		echo "tls_key = $KEY"
		echo "ftp_listen = 127.0.0.1:$2"
		echo "ftps_listen = 127.0.0.1:$3"
		echo "https_listen = 127.0.0.1:$4"
		echo "http_listen = off"
		echo "pasv_ports = $5"
		echo "max_clients = $PM_MAXC"
		if [ -n "$PM_MAXT" ]; then echo "max_transfers = $PM_MAXT"; fi
		echo "max_per_ip = $PM_MAXC"
		echo "ftp_threads = $NCPU"
		echo "http_threads = $NCPU"
		echo "access_log = $W/logs/pm-access.log"
		echo "xfer_log = $W/logs/pm-xfer.log"
		echo "error_log = $W/logs/pm-error.log"
		echo "idle_timeout = 900"
		shift 5
		for l in "$@"; do echo "$l"; done
	} >"$f"
}
pm_conf "$W/pm.conf" "$PM_FTP" "$PM_FTPS" "$PM_HTTPS" "$PM_PASV"
pm_conf "$W/pm-throttled.conf" "$PMT_FTP" "$PMT_FTPS" "$PMT_HTTPS" "$PMT_PASV" \
	"rate_per_ip = 1M"

mkdir -p "$W/nginx-tmp" "$W/vsftpd-empty"
chmod 755 "$W/vsftpd-empty"
NG_USER=""
[ "$(id -u)" = 0 ] && NG_USER="user nobody nogroup;"
cat >"$W/nginx.conf" <<EOF
# throwaway configuration of tests/bench/run.sh
$NG_USER
worker_processes auto;
daemon off;
master_process on;
pid $W/nginx.pid;
error_log $W/logs/nginx-error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log $W/logs/nginx-access.log;
	client_body_temp_path $W/nginx-tmp/body;
	proxy_temp_path $W/nginx-tmp/proxy;
	fastcgi_temp_path $W/nginx-tmp/fastcgi;
	uwsgi_temp_path $W/nginx-tmp/uwsgi;
	scgi_temp_path $W/nginx-tmp/scgi;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 65;
	keepalive_requests 1000000;
	gzip on;
	ssl_certificate $CERT;
	ssl_certificate_key $KEY;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:SSL:10m;
	server {
		listen 127.0.0.1:$NG_HTTPS ssl;
		root $TREE;
		autoindex on;
	}
	server {
		listen 127.0.0.1:$NG_THR ssl;
		root $TREE;
		autoindex on;
		limit_rate 1m;
	}
}
EOF

vs_conf() { # file port pasv_lo pasv_hi [extra lines]
	local f=$1
	{
		echo "# throwaway configuration of tests/bench/run.sh"
		echo "listen=YES"
		echo "listen_ipv6=NO"
		echo "background=NO"
		echo "listen_address=127.0.0.1"
		echo "listen_port=$2"
		echo "anonymous_enable=YES"
		echo "local_enable=NO"
		echo "write_enable=NO"
		echo "anon_upload_enable=NO"
		echo "anon_mkdir_write_enable=NO"
		echo "no_anon_password=YES"
		echo "anon_root=$TREE"
		echo "dirmessage_enable=NO"
		echo "connect_from_port_20=NO"
		echo "pasv_enable=YES"
		echo "pasv_min_port=$3"
		echo "pasv_max_port=$4"
		echo "max_clients=0"
		echo "max_per_ip=0"
		echo "idle_session_timeout=900"
		echo "data_connection_timeout=300"
		echo "ssl_enable=YES"
		echo "allow_anon_ssl=YES"
		echo "force_anon_logins_ssl=NO"
		echo "force_anon_data_ssl=NO"
		echo "require_ssl_reuse=NO"
		echo "ssl_ciphers=HIGH"
		echo "rsa_cert_file=$CERT"
		echo "rsa_private_key_file=$KEY"
		echo "secure_chroot_dir=$W/vsftpd-empty"
		echo "nopriv_user=nobody"
		# vsftpd enters the anonymous user's home before anon_root: it
		# must exist (Debian's vsftpd package creates "ftp", /srv/ftp).
		echo "ftp_username=$VS_FTP_USER"
		echo "xferlog_enable=YES"
		echo "xferlog_std_format=YES"
		echo "xferlog_file=$W/logs/vsftpd-xfer.log"
		echo "syslog_enable=NO"
		shift 4
		for l in "$@"; do echo "$l"; done
	} >"$f"
	chmod 600 "$f"
}
VS_FTP_USER=ftp
getent passwd ftp >/dev/null 2>&1 || VS_FTP_USER=nobody
vs_conf "$W/vsftpd.conf" "$VS_FTP" "$VS_PASV_LO" "$VS_PASV_HI"
vs_conf "$W/vsftpd-throttled.conf" "$VST_FTP" "$VST_PASV_LO" "$VST_PASV_HI" "anon_max_rate=1048576"

# ---- starting servers ----------------------------------------------------------
start() { # var name ports logfile cmd...: starts cmd, waits until one of the
	# comma-separated ports accepts, sets var=PID (0 when it did not start)
	local var=$1 name=$2 ports=$3 log=$4 pid i p up=0
	shift 4
	"$@" >"$log" 2>&1 </dev/null &
	pid=$!
	PIDS="$PIDS $pid"
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		for p in ${ports//,/ }; do
			"$FL" wait "$p" 0 2>/dev/null && { up=1; break 2; }
		done
		sleep 0.1
	done
	if [ "$up" = 0 ] || ! kill -0 "$pid" 2>/dev/null; then
		say "$name did not start; its log:"; tail -n 20 "$log" >&2
		eval "$var=0"
		return 1
	fi
	eval "$var=$pid"
	return 0
}
port_up() { "$FL" wait "$1" 3 2>/dev/null; }

PM_PID=0; PMT_PID=0; NG_PID=0; VS_PID=0; VST_PID=0; PM_FTP_UP=0; PM_HTTPS_UP=0
if [ "$HAVE_PM" = 1 ]; then
	start PM_PID pubmirrord "$PM_FTP,$PM_HTTPS" "$W/logs/pm.out" "$PM_BIN" -f -c "$W/pm.conf"
	start PMT_PID pubmirrord-throttled "$PMT_FTP,$PMT_HTTPS" "$W/logs/pm-throttled.out" \
		"$PM_BIN" -f -c "$W/pm-throttled.conf"
	if [ "$PM_PID" = 0 ]; then
		notok "pubmirrord starts (see $W/logs/pm.out)"
	else
		port_up "$PM_FTP" && PM_FTP_UP=1
		port_up "$PM_HTTPS" && PM_HTTPS_UP=1
		[ "$PM_FTP_UP" = 1 ] || notok "pubmirrord serves FTP on 127.0.0.1:$PM_FTP"
		[ "$PM_HTTPS_UP" = 1 ] || notok "pubmirrord serves HTTPS on 127.0.0.1:$PM_HTTPS"
	fi
fi
if [ "$HAVE_NGINX" = 1 ]; then
	start NG_PID nginx "$NG_HTTPS" "$W/logs/nginx.out" nginx -c "$W/nginx.conf" -p "$W/nginx-tmp" ||
		notok "nginx starts (see $W/logs/nginx.out)"
fi
if [ "$HAVE_VSFTPD" = 1 ]; then
	start VS_PID vsftpd "$VS_FTP" "$W/logs/vsftpd.out" vsftpd "$W/vsftpd.conf" ||
		notok "vsftpd starts (see $W/logs/vsftpd.out)"
	start VST_PID vsftpd-throttled "$VST_FTP" "$W/logs/vsftpd-throttled.out" \
		vsftpd "$W/vsftpd-throttled.conf"
fi

# ---- measurements ---------------------------------------------------------------
RAW="$W/raw.txt"
: >"$RAW"
declare -A VALS NOTE FAILS
: >"$W/failures.md"
record() { # key server run value [note...]
	local k=$1 s=$2 r=$3 v=$4
	shift 4
	echo "$(date -u +%H:%M:%S) $k $s run=$r value=$v $* ${BUSY_NOTE:-}" >>"$RAW"
	VALS["$k|$s"]="${VALS["$k|$s"]:-} $v"
	[ $# -gt 0 ] && NOTE["$k|$s"]="$*"
	local f
	f=$(echo "$*" | sed -n 's/.*failures=\([0-9]*\).*/\1/p')
	if [ "$v" = fail ] || [ "${f:-0}" -gt 0 ]; then
		FAILS["$k|$s"]=$(( ${FAILS["$k|$s"]:-0} + ${f:-1} ))
		echo "- $k, $([ "$s" = pm ] && echo pubmirrord || echo peer), run $r: $*" >>"$W/failures.md"
	fi
}
# The CPU share used by anything (other servers finishing work, other
# programs on the machine) over half a second, in percent.
busy_pct() {
	local a b
	a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
	echo "$a $b" | awk '{ u = $3 - $1; i = $4 - $2; printf "%.0f\n", (u + i) ? 100 * u / (u + i) : 0 }'
}
# Before each run (not in smoke mode): wait (3 s at most) until the machine is
# quiet, so that a server still finishing the previous run does not slow
# the next one; the share found busy goes into raw.txt with the run.
quiesce() {
	local i b=100 n=6
	if [ "$SMOKE" = 1 ]; then BUSY_NOTE=""; return; fi
	for i in $(seq 1 $n); do
		b=$(busy_pct)
		[ "$b" -le 15 ] && break
	done
	BUSY_NOTE="busy_before=${b}%"
}
tmo() { timeout -k 5 "$@"; }

m_wrk() { # url [wrk args]: prints req/s or fail
	local url=$1 out rps
	shift
	out=$(tmo $((DUR + 30)) $CLI wrk -t2 -c"$WRK_C" -d"${DUR}s" --timeout 10s "$@" "$url" 2>&1)
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	if [ -z "$rps" ] || echo "$out" | grep -q 'Non-2xx'; then
		echo "fail $(echo "$out" | grep -E 'Non-2xx|errors' | tr '\n' ' ')"
		return
	fi
	echo "$rps $(echo "$out" | grep -E 'errors' | tr -s ' ' | tr '\n' ' ')"
}
m_curl() { # url: MB/s or fail
	local out
	out=$(tmo $((DUR + 120)) $CLI curl -sk --http1.1 -o /dev/null \
		-w '%{speed_download} %{http_code} %{size_download}' "$1" 2>&1)
	set -- $out
	if [ "${2:-}" = 200 ] && [ "${3:-0}" = "$BIG_BYTES" ]; then
		awk -v s="$1" 'BEGIN { printf "%.1f\n", s / 1e6 }'
	else
		echo "fail $out"
	fi
}
m_ftpdl() { # port [-t]: MB/s, then the CPU seconds per GiB of each side (raw.txt), or fail
	local out c0 c1 mbps
	c0=$(cpu_of "$spid")
	out=$(tmo $((DUR + 120)) $CLI "$FL" download -p "$1" ${2:-} -f /big.bin -v 2>&1)
	sleep 0.3 # a forked session is reaped into its parent's cutime
	c1=$(cpu_of "$spid")
	case "$out" in *"bytes=$BIG_BYTES "*)
		mbps=$(echo "$out" | sed -n 's/.*mbps=\([0-9.]*\).*/\1/p' | head -1)
		echo "$out" | grep '^tls' | head -1 >>"$W/logs/tls-versions.log"
		echo "$out" | awk -v m="$mbps" -v a="${c0:-0}" -v b="${c1:-0}" -v n="$BIG_BYTES" '
			/client_cpu_s=/ { for (i = 1; i <= NF; i++) if ($i ~ /^client_cpu_s=/) {
				sub(/client_cpu_s=/, "", $i); c = $i } }
			END { g = n / 1073741824; printf "%s server_cpu_s_per_gib=%.3f" \
				" client_cpu_s_per_gib=%.3f\n", m, (b - a) / g, c / g }';;
	*) echo "fail $(echo "$out" | tr '\n' ' ')";;
	esac
}
m_sessions() { # port conc [-t]: sessions/s, failures, server CPU ms per session
	local out rate fails done c0 c1 cms
	c0=$("$FL" cpu "$spid" | sed -n 's/cpu_s=\([0-9.]*\).*/\1/p')
	out=$(tmo $((DUR + 60)) $CLI "$FL" sessions -p "$1" -c "$2" -d "$DUR" ${3:-} -a 64 \
		-f "$SMALL_PATH" 2>&1)
	sleep 1 # forked sessions are reaped into their parent's cutime
	c1=$("$FL" cpu "$spid" | sed -n 's/cpu_s=\([0-9.]*\).*/\1/p')
	rate=$(echo "$out" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
	fails=$(echo "$out" | sed -n 's/.*failures=\([0-9]*\).*/\1/p')
	done=$(echo "$out" | sed -n 's/^sessions=\([0-9]*\).*/\1/p')
	if [ -z "$rate" ]; then echo "fail $(echo "$out" | tr '\n' ' ')"; return; fi
	cms=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v n="${done:-0}" \
		'BEGIN { if (n > 0) printf "%.3f", (b - a) * 1000 / n; else print "n/a" }')
	echo "$rate failures=$fails server_cpu_ms=$cms $(echo "$out" | grep -v '^sessions' |
		head -1) $(echo "$out" | grep -o 'client_cpu_ms_per_session=[0-9.]*')"
}
m_idle() { # pid port n: KiB per idle logged-in FTPS control connection
	local pid=$1 port=$2 n=$3 base base_pss base_all now cpid out got i rss pss ready=0
	base_all=$("$FL" tree "$pid")
	base=$(echo "$base_all" | sed -n 's/rss_kib=\([0-9]*\).*/\1/p')
	base_pss=$(echo "$base_all" | sed -n 's/.*pss_kib=\([0-9]*\).*/\1/p')
	out="$W/logs/idle.out"
	: >"$out"
	# It holds the sessions 60 s after the last one is up, and is stopped as
	# soon as the memory is read (this runs in a subshell: the hold bounds
	# it should the harness itself be stopped meanwhile).
	$CLI "$FL" idle -p "$port" -c "$n" -t -d 60 -a 64 >"$out" 2>&1 &
	cpid=$!
	for i in $(seq 1 $((6000))); do # 10 minutes at most to log them all in
		grep -q '^ready' "$out" && { ready=1; break; }
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	now=$("$FL" tree "$pid")
	stop_pid "$cpid"
	got=$(sed -n 's/^ready \([0-9]*\).*/\1/p' "$out")
	rss=$(echo "$now" | sed -n 's/rss_kib=\([0-9]*\).*/\1/p')
	# Let the server let go of the sessions before the next measurement.
	for i in $(seq 1 300); do
		[ "$("$FL" tree "$pid" | sed -n 's/.*procs=\([0-9]*\).*/\1/p')" -le 4 ] && break
		sleep 0.1
	done
	sleep 1
	if [ "$ready" = 1 ] && [ "${got:-0}" = "$n" ] && [ -n "$rss" ]; then
		pss=$(echo "$now" | sed -n 's/.*pss_kib=\([0-9]*\).*/\1/p')
		awk -v a="$rss" -v b="$base" -v p="$pss" -v pb="$base_pss" -v n="$n" \
			'BEGIN { printf "%.1f pss=%.1f\n", (a - b) / n, (p - pb) / n }'
		echo "base: $base_all loaded: $now $(head -1 "$out")" >>"$W/logs/idle-detail.log"
	else
		echo "fail $(head -3 "$out" | tr '\n' ' ')"
	fi
}
cpu_of() { "$FL" cpu "$1" | sed -n 's/cpu_s=\([0-9.]*\).*/\1/p'; }
m_thr() { # pid kind port: server CPU seconds per wall second of a 1 MB/s download
	local pid=$1 kind=$2 port=$3 c0 c1 t0 t1 out
	c0=$(cpu_of "$pid"); t0=$(date +%s.%N)
	if [ "$kind" = ftp ]; then
		out=$(tmo $((THR_SECS + 30)) $CLI "$FL" download -p "$port" -f /big.bin -d "$THR_SECS" 2>&1)
	else
		out=$(tmo $((THR_SECS + 30)) $CLI curl -sk --http1.1 -o /dev/null --max-time "$THR_SECS" \
			-w '%{speed_download} %{size_download}' "https://127.0.0.1:$port/big.bin" 2>&1)
	fi
	t1=$(date +%s.%N)
	sleep 0.5 # let forked sessions be reaped into the parent's cutime
	c1=$(cpu_of "$pid")
	if [ -z "$c0" ] || [ -z "$c1" ]; then echo "fail no cpu figures"; return; fi
	case "$out" in
	*bytes=0\ *|"0 "*|*" 0"|"") echo "fail nothing transferred: $out"; return;;
	esac
	awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v o="$out" \
		'BEGIN { printf "%.4f transfer: %s\n", (b - a) / (t1 - t0), o }'
}

# Figures: key | title | unit | peer name | target op | target value
FIGS=(
"https_4k|HTTPS 4 KiB file, keep-alive (wrk -t2 -c$WRK_C)|req/s|nginx|>=|1.0"
"https_dir|HTTPS listing, $DIR_N entries|req/s|nginx|>=|10"
"https_dir_gz|HTTPS listing, $DIR_N entries, gzip|req/s|nginx|>=|10"
"https_dl|HTTPS $BIG_T download (curl)|MB/s|nginx|>=|0.95"
"ftp_dl|FTP $BIG_T download|MB/s|vsftpd|>=|0.95"
"ftps_dl|FTPS (PROT P) $BIG_T download|MB/s|vsftpd|>=|2.5"
)
for c in $CONC; do
	if [ "$c" = "$CONC_TARGET" ]; then t=">=|10"; else t="|"; fi
	FIGS+=("ftp_sess_$c|FTP sessions/s, $c concurrent|sess/s|vsftpd||")
	FIGS+=("ftps_sess_$c|FTPS sessions/s, $c concurrent|sess/s|vsftpd|$t")
done
FIGS+=("ftp_cpu|Server CPU per FTP session ($CONC_TARGET concurrent)|ms|vsftpd||")
FIGS+=("ftps_cpu|Server CPU per FTPS session ($CONC_TARGET concurrent)|ms|vsftpd||")
for n in $IDLE_N; do
	FIGS+=("idle_$n|Memory per idle FTPS session, $n sessions (VmRSS sum)|KiB|vsftpd|abs<=|32")
	FIGS+=("idlepss_$n|Memory per idle FTPS session, $n sessions (Pss sum)|KiB|vsftpd||")
done
FIGS+=("thr_ftp|CPU of a 1 MB/s throttled FTP download|CPU s/s|vsftpd|abs<=|0.01")
FIGS+=("thr_https|CPU of a 1 MB/s throttled HTTPS download|CPU s/s|nginx|abs<=|0.01")
INDEX_T=$([ "$SMOKE" = 1 ] && echo 1,000 || echo 1,000,000)
FIGS+=("index_s|Index build, $INDEX_T entries (index_bench, median of 3)|s|-||")
FIGS+=("index_mib|Index memory, $INDEX_T entries (index_memory)|MiB|-||")
FIGS+=("index_rss|Index memory, $INDEX_T entries (RSS growth)|MiB|-||")

# A fresh pubmirrord, so that the idle-session memory is not hidden by heap
# that earlier workloads grew and the allocator kept (vsftpd's sessions are
# fresh processes anyway).
restart_pm() {
	local old=$PM_PID
	stop_pid "$old"
	PIDS=$(echo " $PIDS " | sed "s/ $old / /")
	start PM_PID pubmirrord "$PM_FTP,$PM_HTTPS" "$W/logs/pm.out" "$PM_BIN" -f -c "$W/pm.conf" &&
		port_up "$PM_FTP" || PM_FTP_UP=0
}

run_fig() { # key run server: one measurement
	local k=$1 r=$2 s=$3 v spid
	case "$k|$s" in idle_*\|pm) restart_pm;; esac
	spid=$(server_pid "$k" "$s")
	CLI=""
	if pinned_apart "$k"; then
		pin_tree "$spid" 1; CLI="taskset -c 0"
	fi
	case "$k|$s" in
	https_4k\|pm) v=$(m_wrk "https://127.0.0.1:$PM_HTTPS$SMALL_PATH");;
	https_4k\|peer) v=$(m_wrk "https://127.0.0.1:$NG_HTTPS$SMALL_PATH");;
	https_dir\|pm) v=$(m_wrk "https://127.0.0.1:$PM_HTTPS$DIR_PATH");;
	https_dir\|peer) v=$(m_wrk "https://127.0.0.1:$NG_HTTPS$DIR_PATH");;
	https_dir_gz\|pm) v=$(m_wrk "https://127.0.0.1:$PM_HTTPS$DIR_PATH" -H 'Accept-Encoding: gzip');;
	https_dir_gz\|peer) v=$(m_wrk "https://127.0.0.1:$NG_HTTPS$DIR_PATH" -H 'Accept-Encoding: gzip');;
	https_dl\|pm) v=$(m_curl "https://127.0.0.1:$PM_HTTPS/big.bin");;
	https_dl\|peer) v=$(m_curl "https://127.0.0.1:$NG_HTTPS/big.bin");;
	ftp_dl\|pm) v=$(m_ftpdl "$PM_FTP");;
	ftp_dl\|peer) v=$(m_ftpdl "$VS_FTP");;
	ftps_dl\|pm) v=$(m_ftpdl "$PM_FTP" -t);;
	ftps_dl\|peer) v=$(m_ftpdl "$VS_FTP" -t);;
	ftp_sess_*\|pm) v=$(m_sessions "$PM_FTP" "${k#ftp_sess_}");;
	ftp_sess_*\|peer) v=$(m_sessions "$VS_FTP" "${k#ftp_sess_}");;
	ftps_sess_*\|pm) v=$(m_sessions "$PM_FTP" "${k#ftps_sess_}" -t);;
	ftps_sess_*\|peer) v=$(m_sessions "$VS_FTP" "${k#ftps_sess_}" -t);;
	idle_*\|pm) v=$(m_idle "$PM_PID" "$PM_FTP" "${k#idle_}");;
	idle_*\|peer) v=$(m_idle "$VS_PID" "$VS_FTP" "${k#idle_}");;
	thr_ftp\|pm) v=$(m_thr "$PMT_PID" ftp "$PMT_FTP");;
	thr_ftp\|peer) v=$(m_thr "$VST_PID" ftp "$VST_FTP");;
	thr_https\|pm) v=$(m_thr "$PMT_PID" https "$PMT_HTTPS");;
	thr_https\|peer) v=$(m_thr "$NG_PID" https "$NG_THR");;
	*) v="fail unknown";;
	esac
	if [ -n "$CLI" ]; then pin_tree "$spid" "$ALL_CPUS"; CLI=""; fi
	set -- $v
	record "$k" "$s" "$r" "${1:-fail}" "${*:2}"
	case "$k ${2:-}" in idle_*\ pss=*) # the same runs, counted by proportional share
		record "idlepss_${k#idle_}" "$s" "$r" "${2#pss=}";;
	esac
	case "$k" in ftp_sess_$CONC_TARGET|ftps_sess_$CONC_TARGET) # and the server's CPU
		record "${k%%_*}_cpu" "$s" "$r" "$(echo "$v" |
			sed -n 's/.*server_cpu_ms=\([0-9.]*\).*/\1/p')";;
	esac
}

server_pid() { # key side
	case "$2|$1" in
	pm\|thr_*) echo "$PMT_PID";; pm\|*) echo "$PM_PID";;
	peer\|thr_ftp) echo "$VST_PID";; peer\|https_*|peer\|thr_https) echo "$NG_PID";;
	*) echo "$VS_PID";;
	esac
}

# Which server of a figure is up (pm: the throttled instance for thr_*).
server_up() { # key side
	local k=$1 s=$2
	if [ "$s" = pm ]; then
		case $k in thr_*) [ "$PMT_PID" != 0 ];; index_*) [ -n "$INDEX_BENCH" ];;
		https_*) [ "$PM_PID" != 0 ] && [ "$PM_HTTPS_UP" = 1 ];;
		*) [ "$PM_PID" != 0 ] && [ "$PM_FTP_UP" = 1 ];; esac
		return
	fi
	case $k in
	index_*) false;;
	https_*) [ "$NG_PID" != 0 ] && [ "$HAVE_WRK" = 1 -o "$k" = https_dl ];;
	thr_https) [ "$NG_PID" != 0 ];;
	thr_ftp) [ "$VST_PID" != 0 ];;
	*) [ "$VS_PID" != 0 ];;
	esac
}

# vsftpd forks two processes per session: 10,000 idle FTPS sessions are
# 20,000 processes.  Measure it only when the pid space and memory allow.
peer_idle_ok() { # n
	local n=$1 pidmax avail
	pidmax=$(cat /proc/sys/kernel/pid_max)
	avail=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
	[ $((n * 3 + 5000)) -lt "$pidmax" ] && [ $((n * 1024)) -lt $((avail / 2)) ]
}

for f in "${FIGS[@]}"; do
	IFS='|' read -r key title unit peer op tv <<<"$f"
	echo "$key" | grep -Eq "$ONLY" || continue
	case $key in idlepss_*|index_*|ftp_cpu|ftps_cpu) continue;; esac # measured with others
	for r in $(seq 1 "$RUNS"); do
		for s in pm peer; do
			if [ "$(time_left)" -lt 20 ]; then
				say "out of time before $key $s run $r"
				break 3
			fi
			server_up "$key" "$s" || continue
			case "$key|$s" in idle_*\|peer)
				peer_idle_ok "${key#idle_}" || { record "$key" peer "$r" skip \
					"$((${key#idle_} * 3)) processes, pid_max $(cat /proc/sys/kernel/pid_max)"
					record "idlepss_${key#idle_}" peer "$r" skip "as above"; continue; };;
			esac
			quiesce
			say "$key $s run $r ${BUSY_NOTE:-}"
			run_fig "$key" "$r" "$s"
		done
	done
done

# Index engine: build time and memory for 1,000,000 entries (its own program,
# on its own tree of empty files, created once under the work directory).
INDEX_N=1000000
[ "$SMOKE" = 1 ] && INDEX_N=1000
if [ -n "$INDEX_BENCH" ] && echo index | grep -Eq "$ONLY"; then
	say "index_bench $INDEX_N entries"
	tmo 1200 "$INDEX_BENCH" "$W/index-tree" "$INDEX_N" >"$W/logs/index_bench.out" 2>&1
	sed 's/^/index_bench: /' "$W/logs/index_bench.out" >>"$RAW"
	# "index_build        median 1.234 s (min ..." / "index_memory       95.3 MiB, ..."
	v=$(awk '/^index_build/ { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }' \
		"$W/logs/index_bench.out")
	record index_s pm 1 "${v:-fail}"
	v=$(awk '/^index_memory/ { print $2 }' "$W/logs/index_bench.out")
	record index_mib pm 1 "${v:-fail}"
	v=$(awk '/^RSS growth/ { print $3 }' "$W/logs/index_bench.out")
	record index_rss pm 1 "${v:-fail}"
fi

cleanup

# ---- the table -------------------------------------------------------------------
median() { # values...: median of the numeric ones, or n/a
	printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "n/a"; exit }
		      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt() { # number: at most 4 significant figures, or as is
	case "$1" in
	n/a|"") echo "n/a";;
	*) awk -v x="$1" 'BEGIN { if (x >= 100) printf "%.0f\n", x; else if (x >= 1) printf "%.2f\n", x;
			else printf "%.4f\n", x }';;
	esac
}
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
cpu_flags=$(awk -F': ' '/^flags/ { n = split($2, f, " "); for (i = 1; i <= n; i++)
	if (f[i] ~ /^(aes|avx2|avx512f|vaes|vpclmulqdq|sha_ni)$/) printf "%s ", f[i]; exit }' \
	/proc/cpuinfo)
aes=$(openssl speed -evp aes-128-gcm -bytes 16384 -seconds 1 2>/dev/null |
	awk '/^AES-128-GCM/ { v = $NF; sub(/k$/, "", v); printf "%.0f MB/s", v * 1000 / 1e6 }')
# pinned as the downloads: writer on CPU 1, reader on CPU 0
lb_out=$("$FL" loopback -b -d 2)
echo "loopback: $lb_out" >>"$RAW"
lb=$(echo "$lb_out" | sed -n 's/.*mbps=\([0-9.]*\).*/\1 MB\/s/p')
lb_w=$(echo "$lb_out" | sed -n 's/.*writer_cpu_s_per_gib=\([0-9.]*\).*/\1/p')
lb_r=$(echo "$lb_out" | sed -n 's/.*reader_cpu_s_per_gib=\([0-9.]*\).*/\1/p')
gaes=""
# pubmirrord's HTTPS encrypts with GnuTLS (its first figure comes within 6 s)
if [ "$SMOKE" = 0 ] && command -v gnutls-cli >/dev/null 2>&1; then
	gaes=$(timeout 6 gnutls-cli --benchmark-ciphers 2>/dev/null |
		awk '$1 == "AES-128-GCM" { print $2, $3; exit }')
fi
hs=$("$FL" handshake -d 2 -f "$CERT,$KEY" | sed -n 's/.*per_cpu_s=\([0-9]*\).*/\1/p')
# The ceiling of one TLS stream here: memory to memory over loopback, TLS 1.3
# AES-128-GCM, records batched into one send as pubmirrord does, server
# thread on CPU 1 and client on CPU 0 as the downloads; median of 3.
ts_runs=3; ts_secs=2
[ "$SMOKE" = 1 ] && { ts_runs=1; ts_secs=1; }
: >"$W/logs/tlsstream.out"
for r in $(seq 1 "$ts_runs"); do
	"$FL" tlsstream -b -d "$ts_secs" -f "$CERT,$KEY" >>"$W/logs/tlsstream.out" 2>&1
done
sed 's/^/tlsstream: /' "$W/logs/tlsstream.out" >>"$RAW"
ts_med() { # field: median of that field over the tlsstream runs
	median $(sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$W/logs/tlsstream.out")
}
ceil=$(ts_med mbps)
ceil_srv=$(ts_med server_cpu_s_per_gib)
ceil_cli=$(ts_med client_cpu_s_per_gib)
[ "$SMOKE" = 1 ] && { case "$ceil" in n/a) notok "smoke: ftpload tlsstream measures" \
	"($(head -c 300 "$W/logs/tlsstream.out"))";; *) ok "smoke: tlsstream = $ceil MB/s";; esac; }
# The FTPS sessions/s ceiling of this machine: every FTPS session is one
# full TLS 1.3 handshake (control) and one resumed one (data), each paid by
# client and server on the same cores.  With nothing else costing anything,
# NCPU cores complete at most NCPU / (their CPU per session) sessions/s.
sess_ceiling() { # prints "full_us resumed_us ceiling_per_s" or nothing
	"$FL" handshake -d 4 -f "$CERT,$KEY" 2>/dev/null | awk -v n="$NCPU" '
		/^sides / {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			f = v["full_client_us"] + v["full_server_us"]
			r = v["resumed_client_us"] + v["resumed_server_us"]
			if (f + r > 0) printf "%.0f %.0f %.0f\n", f, r, n * 1e6 / (f + r)
		}'
}
CEIL=$(sess_ceiling)
echo "session ceiling (full_us resumed_us sessions_per_s): ${CEIL:-?}" >>"$RAW"
RES="$W/results.md"
mode=full; [ "$SMOKE" = 1 ] && mode=smoke
case "$PIN" in
1) pinning="every workload: server on CPU 1, client on CPU 0";;
0) pinning=none;;
*) pinning="single-stream downloads: server on CPU 1, client on CPU 0; others unpinned";;
esac
v_nginx=$(nginx -v 2>&1 | sed 's/.*\///')
v_vsftpd=$(vsftpd -v 0>&1 2>&1 | sed 's/.*version //')
v_mhd=$(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?')
v_gnutls=$(pkg-config --modversion gnutls 2>/dev/null || echo '?')
v_wrk=$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
{
	echo "### pubmirrord against nginx and vsftpd"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); mode: $mode, medians of $RUNS run(s)," \
		"${DUR} s each; pinning: $pinning"
	echo "- CPU: $cpu_model, $NCPU cores (flags: ${cpu_flags% }); kernel $(uname -r); $mem RAM"
	echo "- nginx $v_nginx, vsftpd $v_vsftpd, $(openssl version | cut -d' ' -f1-2)," \
		"libmicrohttpd $v_mhd, GnuTLS $v_gnutls, wrk $v_wrk"
	echo "- one core: openssl speed -evp aes-128-gcm (16 KiB): ${aes:-?};" \
		"${gaes:+GnuTLS AES-128-GCM (gnutls-cli --benchmark-ciphers): $gaes;}" \
		"loopback TCP copy, one stream, pinned as the downloads: ${lb:-?} (CPU per GiB:" \
		"writer ${lb_w:-?} s, reader ${lb_r:-?} s); full TLS 1.3 handshakes" \
		"(P-256 certificate, client and server both counted, OpenSSL): ${hs:-?} per CPU second"
	echo "- one TLS stream, the ceiling of a TLS download here (ftpload tlsstream: TLS 1.3" \
		"AES-128-GCM over loopback, memory to memory, no file, pinned as the downloads," \
		"median of $ts_runs): $(fmt "$ceil") MB/s; CPU per GiB: sender $ceil_srv s," \
		"receiver $ceil_cli s"
	echo
	echo "| figure | pubmirrord | peer | ratio | target | met |"
	echo "|---|---:|---:|---:|---|---|"
} >"$RES"
for f in "${FIGS[@]}"; do
	IFS='|' read -r key title unit peer op tv <<<"$f"
	echo "$key" | grep -Eq "$ONLY" || continue
	a=$(median ${VALS["$key|pm"]:-}); b=$(median ${VALS["$key|peer"]:-})
	ratio="n/a"
	[ "$peer" = "-" ] && ratio="-"
	if [ "$a" != n/a ] && [ "$b" != n/a ]; then
		ratio=$(awk -v a="$a" -v b="$b" \
			'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }')
	fi
	target="-"; met="-"
	case "$op" in
	">=") target="ratio >= $tv"
		[ "$ratio" != n/a ] &&
			met=$(awk -v r="$ratio" -v t="$tv" 'BEGIN { print (r >= t) ? "yes" : "NO" }');;
	"abs<=") target="<= $tv $unit"
		[ "$a" != n/a ] && met=$(awk -v r="$a" -v t="$tv" 'BEGIN { print (r <= t) ? "yes" : "NO" }');;
	esac
	[ "$met" = "-" ] && [ -n "$op" ] && met="n/a"
	pa="$(fmt "$a")"
	[ -n "${FAILS["$key|pm"]:-}" ] && pa="$pa (${FAILS["$key|pm"]} failed)"
	pk="$(fmt "$b")"
	[ -n "${FAILS["$key|peer"]:-}" ] && pk="$pk (${FAILS["$key|peer"]} failed)"
	[ "$peer" = "-" ] && pk=""
	case "${VALS["$key|peer"]:-}" in *skip*) pk="not run (${NOTE["$key|peer"]:-skipped})";; esac
	echo "| $title, $unit | $pa | $peer $pk | $ratio | $target | $met |" >>"$RES"
	if [ "$SMOKE" = 1 ]; then
		for s in pm peer; do
			sv=${VALS["$key|$s"]:-}
			name=pubmirrord; [ "$s" = peer ] && name=$peer
			server_up "$key" "$s" || { [ "$s" = pm ] && [ "$HAVE_PM" = 1 ] &&
				notok "smoke: $key: $name is not serving"; continue; }
			m=$(median $sv)
			if [ "$m" != n/a ] && awk -v m="$m" 'BEGIN { exit !(m > 0) }'; then
				ok "smoke: $key $name = $m $unit"
			elif [ "$m" != n/a ] && case $key in thr_*|idle*) true;; *) false;; esac; then
				# A throttled download may cost no clock tick, and 20 idle
				# sessions may weigh less than what the server freed meanwhile.
				ok "smoke: $key $name = $m $unit"
			else
				notok "smoke: $key $name produced a number ($sv ${NOTE["$key|$s"]:-})"
			fi
		done
	fi
done
echo >>"$RES"
# The FTPS download target against the machine's ceiling for one TLS stream.
tv=$(printf '%s\n' "${FIGS[@]}" | awk -F'|' '$1 == "ftps_dl" { print $6 }')
b=$(median ${VALS["ftps_dl|peer"]:-})
if echo ftps_dl | grep -Eq "$ONLY" && [ "$b" != n/a ] && [ "$ceil" != n/a ]; then
	awk -v b="$b" -v t="$tv" -v c="$ceil" -v a="$(median ${VALS["ftps_dl|pm"]:-})" \
		-v aes="${aes%% *}" -v lw="${lb_w:-}" 'BEGIN {
		x = b * t
		printf "FTPS download: %s x vsftpd = %.0f MB/s vs ceiling %.0f MB/s (one TLS stream," \
			" memory to memory, above); pubmirrord %s = %s of the ceiling.", t, x, c,
			(a ~ /^[0-9.]+$/) ? sprintf("%.0f MB/s", a) : "n/a",
			(a ~ /^[0-9.]+$/) ? sprintf("%.0f%%", 100 * a / c) : "n/a"
		if (x > c)
			printf "  The target is above what one TLS stream can carry on this machine."
		# The floor of a sender per GiB: sending over loopback TCP plus
		# AES-128-GCM at the rate of openssl speed (no file, no TLS framing).
		if (aes > 0 && lw > 0) {
			e = 1073.741824 / aes
			printf "  A TLS sender needs about %.2f s (loopback TCP) + %.2f s" \
				" (AES-128-GCM) = %.2f s of one core per GiB, i.e. about %.0f MB/s;" \
				" %.0f MB/s leaves it %.2f s per GiB.", lw, e, lw + e,
				1073.741824 / (lw + e), x, 1073.741824 / x
		}
		printf "\n"
	}' >>"$RES"
	echo >>"$RES"
fi
if [ -n "$CEIL" ] && echo "ftps_sess_$CONC_TARGET" | grep -Eq "$ONLY"; then
	read -r c_full c_res c_max <<<"$CEIL"
	vs=$(median ${VALS["ftps_sess_$CONC_TARGET|peer"]:-})
	ten="n/a"
	[ "$vs" != n/a ] && ten=$(awk -v v="$vs" 'BEGIN { printf "%.0f", v * 10 }')
	# What the sessions themselves cost (medians of the runs in raw.txt).
	pat="s/.* ftps_sess_$CONC_TARGET pm run=.*client_cpu_ms_per_session=\([0-9.]*\).*/\1/p"
	cli=$(median $(sed -n "$pat" "$RAW"))
	srv=$(median ${VALS["ftps_cpu|pm"]:-})
	meas=""
	if [ "$cli" != n/a ] && [ "$srv" != n/a ]; then
		meas=$(awk -v c="$cli" -v s="$srv" -v n="$NCPU" 'BEGIN { if (c + s > 0)
			printf " Measured in the sessions runs: client %.2f ms + pubmirrord %.2f ms of" \
			" CPU per session, so at most %.0f sessions/s on %d cores.", c, s,
			n * 1000 / (c + s), n }')
	fi
	{ echo "FTPS sessions/s ceiling of this machine: a session is one full and one resumed" \
		"TLS 1.3 handshake, ${c_full} + ${c_res} us of CPU (client and server together," \
		"\`ftpload handshake\`), so $NCPU cores complete at most ${c_max} sessions/s even if" \
		"TCP, FTP and the file cost nothing: 10 x vsftpd ($CONC_TARGET concurrent) =" \
		"${ten}/s vs ceiling ${c_max}/s.$meas"; echo; } >>"$RES"
fi
if [ -s "$W/failures.md" ]; then
	{ echo "Failed runs and sessions (first error of each run):"; echo
	  head -c 6000 "$W/failures.md"; echo; } >>"$RES"
fi
echo "Load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$RES"
echo "Raw runs: ${RAW#$top/}.  Ratios are pubmirrord / peer" \
	"(for memory and CPU, lower is better)." >>"$RES"
cat "$RES"
kill "$WATCHDOG" 2>/dev/null
if [ "$SMOKE" = 1 ]; then
	[ "$nfail" = 0 ] && exit 0 || exit 1
fi
exit 0
