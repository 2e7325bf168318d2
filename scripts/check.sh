#!/usr/bin/env bash
# make check's two runs (the Makefile builds both binaries first), and one last line that
# sums them, "N passed, M failed":
#  1. build/sanitize/run_tests: the tests under AddressSanitizer and UBSan, but those that
#     run the programs and the CUDA suite beyond the emulator's own tests ($2);
#  2. build/run_tests_hazards: the CUDA suite with the emulated device's memcheck,
#     racecheck, initcheck (+ UBSan on the kernels) and synccheck, and cfm2d built with
#     them ($3; engine/cuda/emu/hazards.cpp).
# Usage: scripts/check.sh JOBS ASAN_TESTS HAZARD_TESTS HAZARD_BIN HAZARD_PROGRAMS_DIR PROGRAM_ONLY_TESTS
set -uo pipefail
jobs=$1 asan_tests=$2 hazard_tests=$3 hazard_bin=$4 hazard_programs=$5 program_only=$6
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The sanitizer build leaves out the files whose every case runs a program: each must
# still have no case without [app], [apps], [examples] or [mpi].
for f in $program_only; do
  other=$(grep -A1 '^TEST_CASE' "$f" | tr '\n' ' ' | sed 's/TEST_CASE/\n&/g' | grep '^TEST_CASE' |
          grep -v -e '\[app\]' -e '\[apps\]' -e '\[examples\]' -e '\[mpi\]' | head -1)
  if [ -n "$other" ]; then
    echo "make check: $f has a case that runs no program, which the sanitizer build would miss: ${other:0:120}"
    echo "(take $f out of PROGRAM_ONLY_TESTS in the Makefile)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

# "N passed, M failed" of a run's last line, as "N M" (0 1 when the run printed none).
counts() { tail -1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | grep . || echo "0 1"; }

echo "make check 1/2: the tests but those that run the programs ([app], [apps], [examples], [mpi]: make test's, on the same programs) and the CUDA suite (run 2), under AddressSanitizer and UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 build/sanitize/run_tests --jobs "$jobs" "$asan_tests" | tee "$log"
status1=${PIPESTATUS[0]}
read -r passed1 failed1 <<< "$(counts)"

echo "make check 2/2: the CUDA suite and cfm2d on the emulated device with its memcheck, racecheck, initcheck and synccheck ($hazard_bin)"
FC_EMULATED_DIR="$hazard_programs" "$hazard_bin" --jobs "$jobs" "$hazard_tests" | tee "$log"
status2=${PIPESTATUS[0]}
read -r passed2 failed2 <<< "$(counts)"

echo "make check: $passed1 + $passed2 passed, $failed1 + $failed2 failed in the two runs"
echo "$((passed1 + passed2)) passed, $((failed1 + failed2)) failed"
(( status1 == 0 && status2 == 0 ))
