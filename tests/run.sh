#!/bin/sh
# tests/run.sh - run every unit test binary and end-to-end test, count the
# results, and end with the line "N passed, N failed[, N skipped]".
#
# A test program prints lines "ok - what" / "not ok - what" (any number);
# a program that exits non-zero without a "not ok" line counts as one
# failure, one that prints neither and exits 0 as one pass.
#   ONLY=unit|e2e|tsan   run a subset        T=pattern   only tests matching
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export PUBMIRRORD="$top/$BUILD/pubmirrord" PM_TOP="$top" PM_BUILD="$BUILD"
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

if [ "$ONLY" = "" ] || [ "$ONLY" = unit ] || [ "$ONLY" = tsan ]; then
	for t in "$BUILD"/test_*; do
		[ -x "$t" ] || continue
		match "$t" || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$ONLY" = "" ] || [ "$ONLY" = e2e ] || [ "$ONLY" = tsan ]; then
	for t in tests/e2e/t_*.py tests/e2e/t_*.sh; do
		[ -f "$t" ] || continue
		match "$t" || continue
		if [ "$ONLY" = tsan ] && ! grep -q 'pm-tsan' "$t"; then continue; fi
		case "$t" in
		*.py) run_one "$t" python3 "$t" ;;
		*.sh) run_one "$t" bash "$t" ;;
		esac
	done
fi
rm -rf "$out"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
