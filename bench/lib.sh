# Shared by the benchmarks (sourced): wall times per label and their medians.
# shellcheck shell=bash
declare -A TIMES

timed() {  # timed <label> <log> <command...>: runs it, records and prints its wall time
  local label=$1 log=$2 start rc=0 took
  shift 2
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  TIMES[$label]="${TIMES[$label]:-} $took"
  printf '  %-34s %7.1f s  (exit %d)\n' "$label" "$took" "$rc"
  return 0
}

median() {  # median of the figures given
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

ratio() {  # ratio <label> <base label>: the median of one over the median of the other
  # shellcheck disable=SC2086 # the recorded figures are space-separated on purpose
  echo "$(median ${TIMES[$1]}) / $(median ${TIMES[$2]})" | bc -l
}
