#!/usr/bin/env bash
# fuzz/run.sh BIN SECONDS JOBS MAX_LEN OUT [extra libFuzzer flags...]
# Runs the libFuzzer target for SECONDS (JOBS independent processes when JOBS > 1, sharing the working corpus),
# seeded with fuzz/corpus; new inputs go to the working corpus ($FUZZ_CORPUS, default OUT/corpus; libFuzzer
# replays all of it before the SECONDS start), crash inputs to OUT/crashes/. Prints libFuzzer's progress and a
# summary (executions, exec/s, findings). Exit status: 0 when nothing was found.
set -uo pipefail
bin=$1 secs=$2 jobs=$3 maxlen=$4 out=$5
shift 5
work=${FUZZ_CORPUS:-$out/corpus}
mkdir -p "$work" "$out/crashes"
rm -f "$out"/fuzz-*.log "$out/last.log"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1:allocator_may_return_null=1}
echo "fuzz: $secs s, $jobs process(es), XENT_EXP=${XENT_EXP:-sleef}, max_len $maxlen; isa: library built for $(uname -m)"
start=$(date +%s)
common=(-max_total_time="$secs" -max_len="$maxlen" -detect_leaks=0 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="$out/crashes/" "$@" "$work" fuzz/corpus)
if [ "$jobs" -gt 1 ]; then
  # -jobs writes one log per worker, fuzz-N.log, into the current directory: run inside $out (absolute paths),
  # so that two runs at once never share (and truncate) each other's logs.
  abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
  common=(-max_total_time="$secs" -max_len="$maxlen" -detect_leaks=0 -timeout=30 -rss_limit_mb=4096
          -print_final_stats=1 -artifact_prefix="$(abs "$out")/crashes/" "$@" "$(abs "$work")" "$(abs fuzz/corpus)")
  rm -f "$out"/fuzz-*.log
  absbin=$(abs "$bin")
  (cd "$out" && "$absbin" -jobs="$jobs" -workers="$jobs" "${common[@]}" >/dev/null 2>&1)
  rc=$?
  cat "$out"/fuzz-*.log > "$out/last.log" 2>/dev/null
else
  "$bin" "${common[@]}" > "$out/last.log" 2>&1
  rc=$?
fi
end=$(date +%s)
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE|pulse)' "$out/last.log" | tail -6
if [ "$rc" -ne 0 ] || grep -qE 'FUZZ INVARIANT VIOLATED|ERROR: (AddressSanitizer|libFuzzer)|runtime failure' "$out/last.log"; then
  echo "---- finding (full log: $out/last.log) ----"
  grep -E -A4 'FUZZ INVARIANT VIOLATED|ERROR: (AddressSanitizer|libFuzzer)|runtime failure|Test unit written' "$out/last.log" | head -40
  [ "$rc" -ne 0 ] || rc=1
fi
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/last.log" | awk '{s+=$2} END {print s+0}')
secs_run=$((end - start)); [ "$secs_run" -gt 0 ] || secs_run=1
echo "fuzz summary: $execs executions in $secs_run s ($((execs / secs_run)) exec/s), $(ls "$work" | wc -l) inputs in $work, $( [ "$rc" -eq 0 ] && echo 'no finding' || echo 'FINDING: see above; the input is in '"$out"'/crashes/')"
exit "$rc"
