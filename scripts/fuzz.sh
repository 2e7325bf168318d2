#!/usr/bin/env bash
# Coverage-guided fuzzing of every file format flowcpp reads (fuzz/targets.cpp), with
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (clang-14).
#   scripts/fuzz.sh [SECONDS] [TARGET...]    (`make fuzz`, FUZZ_SECONDS=N for make)
# runs each target (all by default) for SECONDS (default 60) from its seeds (written by
# build/fuzz/make_seeds), its kept corpus (build/fuzz/corpus/TARGET, grown run after
# run) and the inputs of tests/fuzz_regressions/TARGET, then prints one line per target:
# the seconds it ran, executions, coverage (edges, features), corpus size and findings.
# A finding (crash, leak, timeout, out-of-memory, a check that failed) stops that target
# and is left in build/fuzz/findings/TARGET/; fix the bug, then copy the file to
# tests/fuzz_regressions/TARGET/ so that `make test` replays it. Exit status 1 when
# anything was found. FUZZ_SKIP_BUILD=1 runs the binaries already in build/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[[ $# -gt 0 ]] && shift
if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  bash scripts/install_deps.sh --fuzz
  make --no-print-directory -f fuzz/fuzz.mk -j"$(nproc)" >/dev/null
fi
all=$(make --no-print-directory -f fuzz/fuzz.mk targets)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && read -r -a targets <<<"$all"

out=build/fuzz
rm -rf "$out/seeds"
"$out/make_seeds" "$out/seeds"

dict_of() {
  case "$1" in
    safetensors | unet_config | train_state) echo fuzz/dict/json.dict ;;
    npy) echo fuzz/dict/npy.dict ;;
    idx | idx_gz) echo fuzz/dict/idx.dict ;;
    points) echo fuzz/dict/csv.dict ;;
    pth) echo fuzz/dict/pth.dict ;;
    tar) echo fuzz/dict/tar.dict ;;
    zip) echo fuzz/dict/zip.dict ;;
  esac
}

found=0
summary=()
for t in "${targets[@]}"; do
  [[ " $all " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (targets: $all)" >&2; exit 2; }
  mkdir -p "$out/corpus/$t" "$out/findings/$t" "$out/logs"
  dirs=("$out/corpus/$t" "$out/seeds/$t")
  [[ -d tests/fuzz_regressions/$t ]] && dirs+=("tests/fuzz_regressions/$t")
  dict=$(dict_of "$t")
  log="$out/logs/$t.log"
  touch "$out/logs/$t.start"
  echo "fuzz.sh: $t for ${seconds}s (log: $log)"
  # A well-formed input never needs 256 MB: more is a memory bomb, reported as a finding.
  began=$SECONDS
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=1 \
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 -artifact_prefix="$out/findings/$t/" ${dict:+-dict=$dict} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  took=$((SECONDS - began))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  n=$(find "$out/findings/$t" -type f -newer "$out/logs/$t.start" | wc -l)
  line=$(printf '%-12s %4ss  execs %-9s cov %-6s ft %-6s corpus %-5s findings %s' \
    "$t" "$took" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$n")
  if [[ $rc -ne 0 || $n -gt 0 ]]; then
    found=1
    line+="  (exit $rc; see $log and $out/findings/$t/)"
  fi
  echo "$line"
  summary+=("$line")
done
echo "fuzz.sh: summary"
printf '  %s\n' "${summary[@]}"
exit $found
