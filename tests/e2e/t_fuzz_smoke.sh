#!/bin/bash
# t_fuzz_smoke.sh - build every libFuzzer target of tests/fuzz (clang,
# ASan+UBSan) and run each for a few seconds on its seed corpus, so that
# every parser's invariant is exercised on each check.  Fails when clang or
# libFuzzer is missing, when a target does not build, or when one finds a
# crash, a leak or a broken invariant.  (make fuzz runs them longer.)
set -u
top=${PM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
secs=${FUZZ_SMOKE_SECONDS:-8}
fz="$top/tests/fuzz"
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; fail=1; }
fail=0

clang=${CLANG:-clang}
if ! command -v "$clang" >/dev/null 2>&1; then
	nok "clang is installed (needed for the fuzz targets)"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-fuzz-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$tmp/t.c"
if "$clang" -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" 2>"$tmp/err"; then
	ok "clang links libFuzzer with ASan and UBSan"
else
	nok "clang links libFuzzer with ASan and UBSan: $(head -c 300 "$tmp/err")"
	exit 1
fi

if make -s -C "$fz" build >"$tmp/build.log" 2>&1; then
	ok "fuzz targets build"
else
	nok "fuzz targets build"
	tail -n 30 "$tmp/build.log" | sed 's/^/# /'
	exit 1
fi
for src in "$fz"/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	bin="$fz/build/fuzz_$t"
	if [ ! -x "$bin" ]; then
		nok "fuzz_$t built (is the module it drives on this branch?)"
		continue
	fi
	[ -d "$fz/corpus/$t" ] || nok "fuzz_$t has a seed corpus"
	[ -f "$fz/$t.dict" ] || nok "fuzz_$t has a dictionary"
	mkdir -p "$tmp/corpus-$t"
	dict=()
	[ -f "$fz/$t.dict" ] && dict=(-dict="$fz/$t.dict")
	log="$tmp/$t.log"
	( cd "$tmp" && ASAN_OPTIONS=detect_leaks=1 timeout -k 5 $((secs + 30)) "$bin" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"${dict[@]}" "$tmp/corpus-$t" "$fz/corpus/$t" >"$log" 2>&1 )
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ] && grep -q '^Done' "$log"; then
		ok "fuzz_$t: ${secs}s, ${runs:-?} runs, no finding"
	else
		nok "fuzz_$t: exit $rc"
		grep -E 'ERROR|SUMMARY|abort|^    #[0-9]+ .* in ' "$log" | head -n 20 | sed 's/^/# /'
		for c in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-*; do
			[ -f "$c" ] && echo "# input (base64): $(head -c 600 "$c" | base64 -w0)"
		done
	fi
done
exit $fail
