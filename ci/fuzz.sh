#!/usr/bin/env bash
# Fuzzing campaigns on framespec's targets (the list: fuzz/targets.txt).
#
#   ci/fuzz.sh [--engine libfuzzer|afl] [--seconds N] [--jobs N] [--family F] [--merge] TARGET|all
#
# libfuzzer: builds build-fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and runs TARGET for
#            N seconds with -jobs=N -workers=N (default: all cores), corpus in out/fuzz/TARGET/.
# afl:       builds build-afl/ (afl-clang-fast, ASan) and build-afl-cmplog/ (CMPLOG), runs one -M
#            main instance and -S secondaries (the first with -c CMPLOG) on all cores for N s,
#            output in out/afl/TARGET/ (sync it between machines: docs/fuzzing.md).
# Every crash is minimized and stored as corpus/regressions/TARGET/<sha1>; ctest replays those
# (fuzz.regress.TARGET) with any compiler. Commit them with the fix. Exit 1 when a crash was found,
# or when an engine did not start or executed nothing (its log is printed): a fuzzer that never
# ran must not read as a clean run. Each run prints its executions and execs/s.
# --family erlang|length|varint: the codec targets (decode, roundtrip, conn) use only that family
# of framings (fuzz/fuzz_framings.h; FRAMESPEC_FUZZ_FAMILY); default all of them.
# --merge folds the new corpus into corpus/TARGET/ (minimized, files named by content hash).
set -euo pipefail
cd "$(dirname "$0")/.."

engine=libfuzzer seconds=60 jobs=$(nproc) merge=0 target=""
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --family)
      case "$2" in erlang|length|varint) export FRAMESPEC_FUZZ_FAMILY=$2 ;;
        *) echo "ci/fuzz.sh: --family: '$2' is not erlang, length or varint" >&2; exit 2 ;; esac
      shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "ci/fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) target=$1; shift ;;
  esac
done
# the targets: the first word of each line of fuzz/targets.txt that is not blank or a comment
all=$(awk '!/^[ \t]*(#|$)/ {print $1}' fuzz/targets.txt | tr '\n' ' ')
all=${all% }
[ -n "$all" ] || { echo "ci/fuzz.sh: fuzz/targets.txt lists no target" >&2; exit 2; }
if [ "$target" = all ]; then
  targets=$all
elif [ -n "$target" ] && [[ " $all " == *" $target "* ]]; then
  targets=$target
else
  echo "ci/fuzz.sh: give a target: $all or all (see --help)" >&2; exit 2
fi
case "$engine" in libfuzzer|afl) ;; *) echo "ci/fuzz.sh: --engine libfuzzer|afl" >&2; exit 2 ;; esac

# libFuzzer options per target (OSS-Fuzz style .options files are read by ClusterFuzzLite too)
opts_for() { # target -> extra libFuzzer flags
  local f=fuzz/$1.options
  [ -f "$f" ] && sed -n 's/^\([a-z_]*\) *= *\(.*\)$/-\1=\2/p' "$f" | tr '\n' ' '
  return 0
}

store_crash() { # target crash-file -> stores the minimized crash as a regression
  local t=$1 crash=$2 min sha dest
  min=$(mktemp)
  # a minimization that fails is reported and the crash is stored as found: it is never lost
  local minimized=0
  if [ "$engine" = libfuzzer ]; then
    build-fuzz/bin/"$t" -minimize_crash=1 -runs=20000 -exact_artifact_path="$min" "$crash" \
      >/dev/null 2>&1 && minimized=1
  else
    env -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS AFL_SKIP_CPUFREQ=1 \
      afl-tmin -i "$crash" -o "$min" -- build-afl/bin/"$t" >/dev/null 2>&1 && minimized=1
  fi
  if [ "$minimized" = 0 ] || [ ! -s "$min" ]; then
    echo "ci/fuzz.sh: could not minimize $crash; storing it as found" >&2
    cp "$crash" "$min"
  fi
  sha=$(sha1sum "$min" | cut -c1-40)
  dest=corpus/regressions/$t/$sha
  mv "$min" "$dest"
  echo "ci/fuzz.sh: CRASH in $t -> $dest (from $crash)"
  echo "ci/fuzz.sh: reproduce: build/bin/${t}_replay $dest    (fix the bug, commit the file)"
}

found=0
broken=0
# did_not_run TARGET LOG WHY: report an engine that did not start or executed nothing
did_not_run() {
  echo "ci/fuzz.sh: $engine did not run $1: $3; the end of $2:" >&2
  tail -n 15 "$2" >&2 || echo "(no log)" >&2
  broken=1
}
if [ "$engine" = libfuzzer ]; then
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFRAMESPEC_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target $targets >/dev/null
  for t in $targets; do
    out=out/fuzz/$t
    mkdir -p "$out/corpus" "$out/artifacts"
    echo "== libFuzzer: $t for ${seconds}s on $jobs job(s)"
    rm -f "$out"/fuzz-*.log "$out"/run.log
    rc=0
    # shellcheck disable=SC2046
    (cd "$out" && ../../../build-fuzz/bin/"$t" $(cd ../../.. && opts_for "$t") \
        -dict=../../../fuzz/"$t".dict -max_total_time="$seconds" -print_final_stats=1 \
        -jobs="$jobs" -workers="$jobs" -artifact_prefix=artifacts/ \
        corpus ../../../corpus/"$t" >run.log 2>&1) || rc=$?
    crashes=0
    for c in "$out"/artifacts/crash-* "$out"/artifacts/leak-* "$out"/artifacts/timeout-* "$out"/artifacts/oom-*; do
      [ -e "$c" ] || continue
      store_crash "$t" "$c"; rm -f "$c"; found=1; crashes=$((crashes + 1))
    done
    # the executions of every job (-print_final_stats=1): the job logs (fuzz-N.log) when there
    # are jobs, else run.log (run.log repeats the job logs: reading both would count twice)
    logs=("$out"/fuzz-*.log)
    [ -e "${logs[0]}" ] || logs=("$out/run.log")
    execs=$(awk '/stat::number_of_executed_units:/ {n += $2} END {print n + 0}' "${logs[@]}")
    rate=$(awk '/stat::average_exec_per_sec:/ {r += $2} END {print r + 0}' "${logs[@]}")
    echo "libFuzzer $t: $execs executions, $rate exec/s, $crashes crash(es), exit status $rc"
    if [ "$execs" -eq 0 ]; then
      did_not_run "$t" "$out/run.log" "no executions counted"
    elif [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
      did_not_run "$t" "$out/run.log" "exit status $rc without a crash artifact"
    fi
    if [ "$merge" = 1 ]; then
      tmp=$(mktemp -d)
      build-fuzz/bin/"$t" -merge=1 "$tmp" corpus/"$t" "$out"/corpus >/dev/null 2>&1
      for f in "$tmp"/*; do cp "$f" corpus/"$t"/"$(sha1sum "$f" | cut -c1-40)"; done
      rm -rf "$tmp"
      echo "merged: corpus/$t now has $(ls corpus/"$t" | wc -l) inputs"
    fi
  done
else
  command -v afl-fuzz >/dev/null || { echo "ci/fuzz.sh: afl-fuzz not found: apt-get install afl++" >&2; exit 2; }
  CC=afl-clang-fast AFL_USE_ASAN=1 AFL_USE_UBSAN=1 cmake -S . -B build-afl \
     -DFRAMESPEC_FUZZ=ON -DFRAMESPEC_FUZZ_ENGINE=afl >/dev/null
  AFL_USE_ASAN=1 AFL_USE_UBSAN=1 cmake --build build-afl -j"$(nproc)" --target $targets >/dev/null 2>&1
  CC=afl-clang-fast AFL_LLVM_CMPLOG=1 cmake -S . -B build-afl-cmplog \
     -DFRAMESPEC_FUZZ=ON -DFRAMESPEC_FUZZ_ENGINE=afl >/dev/null
  AFL_LLVM_CMPLOG=1 cmake --build build-afl-cmplog -j"$(nproc)" --target $targets >/dev/null 2>&1
  export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
  # afl-fuzz refuses custom sanitizer options without abort_on_error=1 and symbolize=0 (ci/test.sh
  # exports its own for ctest): let AFL++ set the ones it needs
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS MSAN_OPTIONS
  for t in $targets; do
    out=out/afl/$t
    rm -rf "$out"
    mkdir -p "$out"
    echo "== AFL++: $t for ${seconds}s: -M main + $((jobs - 1)) -S (first with CMPLOG)"
    pids=() names=(main)
    afl-fuzz -M main -i corpus/"$t" -o "$out" -x fuzz/"$t".dict -V "$seconds" \
      -- build-afl/bin/"$t" >"$out/main.log" 2>&1 & pids+=($!)
    for i in $(seq 1 $((jobs - 1))); do
      extra=()
      [ "$i" = 1 ] && extra=(-c build-afl-cmplog/bin/"$t")
      afl-fuzz -S "s$i" "${extra[@]}" -i corpus/"$t" -o "$out" -x fuzz/"$t".dict -V "$seconds" \
        -- build-afl/bin/"$t" >"$out/s$i.log" 2>&1 & pids+=($!)
      names+=("s$i")
    done
    for k in "${!pids[@]}"; do
      rc=0
      wait "${pids[$k]}" || rc=$?
      name=${names[$k]} st="$out/${names[$k]}/fuzzer_stats"
      if [ "$rc" -ne 0 ]; then
        did_not_run "$t" "$out/$name.log" "afl-fuzz $name exited with status $rc"
      elif [ ! -f "$st" ]; then
        did_not_run "$t" "$out/$name.log" "afl-fuzz $name wrote no fuzzer_stats"
      else
        execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$st")
        echo "AFL++ $t $name: $(grep -E '^(execs_done|execs_per_sec|bitmap_cvg|saved_crashes)' "$st" | tr -s ' ' | tr '\n' ' ')"
        [ "${execs:-0}" -gt 0 ] || did_not_run "$t" "$out/$name.log" "execs_done is ${execs:-missing}"
      fi
    done
    for c in "$out"/*/crashes/id:*; do
      [ -e "$c" ] || continue
      store_crash "$t" "$c"; found=1
    done
  done
fi
exit $((found | broken))
