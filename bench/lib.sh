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

column_median() {  # column_median NAME COLUMN: the median of a column of $WORK/NAME.figures (one line per round)
  # shellcheck disable=SC2046 # one figure per round
  median $(awk -v c="$2" '{print $c}' "$WORK/$1.figures")
}

ratio() {  # ratio <label> <base label>: the median of one over the median of the other
  # shellcheck disable=SC2086 # the recorded figures are space-separated on purpose
  echo "$(median ${TIMES[$1]}) / $(median ${TIMES[$2]})" | bc -l
}

start_host() {  # start_host NAME IMAGE [docker run options...]: a systemd test host as the scenarios run them, booted
  local name=$1 image=$2 state
  shift 2
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --add-host "bb-pkg-cache:${BB_PKG_CACHE_ADDR:-127.0.0.1}" "$@" "$image" /lib/systemd/systemd >/dev/null
  for _ in $(seq 1 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && return 0
    sleep 1
  done
}

cgroup_cpu() {  # CPU seconds the container's cgroup has used (cgroup v2 or v1)
  local id
  id=$(docker inspect -f '{{.Id}}' "$1")
  for f in "/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat" "/sys/fs/cgroup/unified/docker/$id/cpu.stat" \
           "/sys/fs/cgroup/docker/$id/cpu.stat"; do
    [[ -r $f ]] && { awk '/^usage_usec/ {printf "%.1f", $2 / 1e6}' "$f"; return; }
  done
  echo "ERROR: no cgroup CPU figures for $1" >&2
  exit 1
}

cpu_seconds() {  # cpu_seconds FILE LOG COMMAND...: runs it (output to LOG, errors to LOG.err); writes to FILE
  local file=$1 log=$2 TIMEFORMAT='%U %S' rc=0  # the CPU seconds it and its children used (bash's time)
  shift 2
  { time "$@" >"$log" 2>"$log.err" || rc=$?; } 2>"$file.raw"
  awk '{print $1 + $2}' "$file.raw" >"$file"
  return "$rc"
}

reprovision() {  # reprovision NAME [VAR=value...]: provision.yml again on the host NAME (a copy of the
  # provisioned image, started), with those variables in ansible-playbook's environment; appends
  # "host controller wall" (CPU seconds inside the host, the controller's, seconds) to $WORK/NAME.figures
  local name=$1 before after start
  shift
  sleep 20  # the boot's own work settles first
  before=$(cgroup_cpu "$name")
  start=$(date +%s.%N)
  cpu_seconds "$WORK/$name.cpu" "$WORK/$name.log" \
    env "$@" ansible-playbook -i molecule/_provisioned/hosts.yml -e "ansible_host=$name" playbooks/provision.yml \
    || { tail -30 "$WORK/$name.log" "$WORK/$name.log.err" >&2; echo "ERROR: provision.yml failed on $name" >&2; return 1; }
  after=$(cgroup_cpu "$name")
  echo "$(echo "$after - $before" | bc) $(cat "$WORK/$name.cpu") $(echo "$(date +%s.%N) - $start" | bc)" \
    >>"$WORK/$name.figures"
}

pair_table() {  # pair_table LABEL_A NAME_A LABEL_B NAME_B: medians of two reprovision series and A / B
  local column a b ratios=()
  printf '  %-22s %10s %12s %8s\n' "" "host CPU" "controller" "wall"
  printf '  %-22s %10.1f %12.1f %8.1f\n' "$1" "$(column_median "$2" 1)" "$(column_median "$2" 2)" "$(column_median "$2" 3)"
  printf '  %-22s %10.1f %12.1f %8.1f\n' "$3" "$(column_median "$4" 1)" "$(column_median "$4" 2)" "$(column_median "$4" 3)"
  for column in 1 2 3; do
    a=$(column_median "$2" "$column")
    b=$(column_median "$4" "$column")
    ratios+=("$(printf '%.2f' "$(echo "$a / $b" | bc -l)")")
  done
  echo "  $1 / $3: host CPU ${ratios[0]}, controller ${ratios[1]}, wall ${ratios[2]}"
}
