#!/bin/bash
# t_bench_smoke.sh - the benchmark harness (tests/bench/run.sh) in its smoke
# mode: builds the load generator, starts pubmirrord, nginx and vsftpd on a
# tiny tree, runs every workload once for a second and checks that each
# produced a number.  It needs nginx, vsftpd and wrk installed (it fails,
# naming them, when they are not).  Performance is not asserted here.
top=$(cd "$(dirname "$0")/../.." && pwd)
exec timeout -k 10 170 bash "$top/tests/bench/run.sh" --smoke
