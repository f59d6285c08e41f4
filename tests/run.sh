#!/bin/sh
# tests/run.sh - run every unit test binary and end-to-end test, count the
# results, and end with the line "N passed, N failed[, N skipped]".
#
# A test program prints lines "ok - what" / "not ok - what" (any number);
# a program that exits non-zero without a "not ok" line counts as one
# failure, one that prints neither and exits 0 as one pass.
#   ONLY=unit|e2e|tsan   run a subset        T=pattern   only tests matching
#   SANITIZERS=1         afterwards, the whole suite again on the ASan+UBSan
#                        build and the concurrency tests (marked pm-tsan) on
#                        the ThreadSanitizer build, counted in the same line
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export PM_TOP="$top"
out=$(mktemp -d "${TMPDIR:-/tmp}/pmtest.XXXXXX")
pass=0 fail=0 skip=0

run_one() { # name command...
	name=$1; shift
	log="$out/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	timeout -k 10 "${PM_TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	np=$(grep -c '^ok ' "$log"); nf=$(grep -c '^not ok ' "$log"); ns=$(grep -c '^skip ' "$log")
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then nf=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
	if [ "$np" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$ns" -eq 0 ]; then np=1; fi
	pass=$((pass + np)); fail=$((fail + nf)); skip=$((skip + ns))
	if [ "$nf" -gt 0 ]; then
		echo "FAIL $name ($np ok, $nf failed, ${secs}s)"
		grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
	else
		echo "PASS $name ($np ok, ${secs}s)"
	fi
}

match() { [ -z "$T" ] || case "$1" in *$T*) return 0;; *) return 1;; esac; }

# suite BUILD MODE PREFIX: MODE is all|unit|e2e|tsan|asan
suite() {
	b=$1 mode=$2 prefix=$3
	export PUBMIRRORD="$top/$b/pubmirrord" PM_BUILD="$b"
	if [ "$mode" != e2e ]; then
		for t in "$b"/test_*; do
			[ -x "$t" ] || continue
			match "$t" || continue
			run_one "${prefix}unit/$(basename "$t")" "$t"
		done
	fi
	[ "$mode" = unit ] && return
	for t in tests/e2e/t_*.py tests/e2e/t_*.sh; do
		[ -f "$t" ] || continue
		match "$t" || continue
		if [ "$mode" = tsan ] && ! grep -q 'pm-tsan' "$t"; then continue; fi
		# sanitizer runs: the fuzz targets are sanitizer builds already, and
		# the benchmark smoke test measures speed, not correctness
		if [ "$mode" = asan ] || [ "$mode" = tsan ]; then
			case "$t" in *t_fuzz_smoke*|*t_bench_smoke*) continue;; esac
		fi
		case "$t" in
		*.py) run_one "$prefix$t" python3 "$t" ;;
		*.sh) run_one "$prefix$t" bash "$t" ;;
		esac
	done
}

case "$ONLY" in
"") suite "$BUILD" all "" ;;
unit|e2e) suite "$BUILD" "$ONLY" "" ;;
tsan) suite "$BUILD" tsan "tsan/" ;;
asan) suite "$BUILD" asan "asan/" ;;
*) echo "run.sh: ONLY must be unit, e2e, tsan or asan" >&2; exit 2 ;;
esac

if [ "$SANITIZERS" = 1 ] && [ -z "$ONLY" ]; then
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1"
	for san in asan tsan; do
		echo "== building the $san suite"
		if make -s BUILD="build-$san" SAN="$san" "build-$san/pubmirrord" \
			$(for u in tests/unit/test_*.c; do echo "build-$san/$(basename "$u" .c)"; done) \
			>"$out/build-$san.log" 2>&1; then
			suite "build-$san" "$san" "$san/"
		else
			fail=$((fail + 1))
			echo "FAIL $san build"; tail -n 20 "$out/build-$san.log" | sed 's/^/    /'
		fi
	done
fi
rm -rf "$out"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
