#!/usr/bin/env bash
# Run molecule scenarios several at a time (each has its own container, bb-<scenario>-<distro>),
# one log per scenario. Prints a line as each ends, a summary with wall times and CPU (controller
# side, test hosts), and the whole log of every scenario that failed; exits 1 when any failed.
#   scripts/molecule-all.sh scenario...   (MOLECULE_DISTRO, MOLECULE_JOBS, MOLECULE_JOBS_MAX,
#                                           MOLECULE_IDLE_PERCENT, MOLECULE_IDLE_WINDOW,
#                                           MOLECULE_LOG_DIR, MOLECULE_SCENARIO_TIMEOUT)
# Scenarios are started in the order given: put the longest first. Test hosts share the package
# cache (scripts/pkg-cache.sh); scenarios started from the provisioned image (their molecule.yml
# names boosterbeacon/provisioned) need scripts/provisioned-image.sh, which runs beside the
# others from the start and rebuilds that image only when what goes into it changed. Until it is
# there, a free slot goes to the first scenario in the list that does not need it.
set -euo pipefail

distro=${MOLECULE_DISTRO:-trixie}
jobs=${MOLECULE_JOBS:-3}
# Past MOLECULE_JOBS, up to MOLECULE_JOBS_MAX scenarios while the CPU has time to spare: one more
# starts when the CPU stood idle (or waited on the disk) for MOLECULE_IDLE_PERCENT of the last
# MOLECULE_IDLE_WINDOW seconds with none started, as when every running scenario waits on its
# hosts. Off unless MOLECULE_JOBS_MAX is set above MOLECULE_JOBS.
jobs_max=${MOLECULE_JOBS_MAX:-$jobs}
idle_percent=${MOLECULE_IDLE_PERCENT:-25}
idle_window=${MOLECULE_IDLE_WINDOW:-60}
proc_stat=${BB_PROC_STAT:-/proc/stat}
logdir=${MOLECULE_LOG_DIR:-.cache/molecule-logs/$distro}
# A scenario still running after this many seconds is stopped and fails with its log shown, so a
# hung one is reported with where it hung instead of running into CI's own limit (the slowest
# scenario takes about 47 minutes on a loaded 2-core machine).
limit=${MOLECULE_SCENARIO_TIMEOUT:-3600}
[[ $# -gt 0 ]] || { echo "usage: $0 scenario..." >&2; exit 2; }
command -v molecule >/dev/null || { echo "ERROR: molecule is missing (run 'make venv')" >&2; exit 1; }

rm -rf "$logdir" && mkdir -p "$logdir"
# Interrupted (`make test` stops molecule when a check fails), take every scenario and the image
# build down too. A scenario runs under `timeout`, which moves itself and the scenario into a
# process group of their own, out of reach of `kill 0`; signalled, it passes the signal on to
# that group (molecule, ansible-playbook and its workers, the nested runs).
stop_all() {
  local pid_file
  trap - INT TERM
  for pid_file in "$logdir"/*.timeout-pid; do
    [[ -f $pid_file ]] && { kill -TERM "$(<"$pid_file")" 2>/dev/null || true; }
  done
  kill 0
}
trap stop_all INT TERM

BB_PKG_CACHE_ADDR=$(scripts/pkg-cache.sh up)
export BB_PKG_CACHE_ADDR

uses_snapshot() { grep -q 'image: boosterbeacon/provisioned:' "molecule/$1/molecule.yml"; }
# children_cpu: for a scenario, molecule and every ansible-playbook and worker under it on the
# controller, not what runs in its hosts.
# shellcheck source=scripts/children-cpu.sh
source scripts/children-cpu.sh
# One line of the summary: result, name, wall seconds, controller CPU seconds, CPU seconds in its
# test hosts ("-" when not known).
result_line() { printf '%s %-24s %4ss %5ss %6s\n' "$1" "$2" "$3" "$4" "${5:--}"; }
# Each scenario's test hosts go under a cgroup of their own (BB_HOST_CGROUP, which
# scripts/test-hosts.py and scripts/provisioned-image.sh pass to Docker as the cgroup parent).
# The parent's CPU counter keeps what its hosts used after they are removed, so hosts a scenario
# removes itself (deploy's and backup's lost server) are counted too. Only with Docker's cgroupfs
# driver: the systemd driver takes a slice, which goes away with its last host.
cgroup_root=${BB_CGROUP_ROOT:-/sys/fs/cgroup}
host_cgroups=false
[[ $(docker info --format '{{.CgroupDriver}}' 2>/dev/null) == cgroupfs ]] && host_cgroups=true
host_cgroup() { if $host_cgroups; then echo "/bb-test-hosts/$1"; fi; }
# CPU seconds the hosts under the cgroup $1 have used, removed ones included (cgroup v1 or v2);
# 0 when there is none yet.
host_cpu() {
  local v1=$cgroup_root/cpuacct$1/cpuacct.usage v2=$cgroup_root$1/cpu.stat
  if [[ -r $v1 ]]; then awk '{printf "%d\n", $1 / 1e9}' "$v1"
  elif [[ -r $v2 ]]; then awk '/^usage_usec/ {printf "%d\n", $2 / 1e6}' "$v2"
  else echo 0; fi
}
# In-host CPU of a command run with BB_HOST_CGROUP set: "Ns", or "-" without host cgroups. The
# cgroup is removed afterwards in every hierarchy (it stays while a host in it is left running).
with_host_cgroup() {
  local group before=0 rc=0 dir
  group=$(host_cgroup "$1")
  shift
  [[ -z $group ]] || before=$(host_cpu "$group")
  BB_HOST_CGROUP=$group "$@" || rc=$?
  host_used="-"
  if [[ -n $group ]]; then
    host_used="$(( $(host_cpu "$group") - before ))s"
    for dir in "$cgroup_root"/*"$group" "$cgroup_root$group"; do rmdir "$dir" 2>/dev/null || true; done
  fi
  return "$rc"
}
snapshot_needed=false
for scenario in "$@"; do uses_snapshot "$scenario" && snapshot_needed=true; done
# An image already up to date is known before the first slot is given (a second or two): a
# scenario started from it must not lose its place in the list to the bare scenarios behind it.
if $snapshot_needed && scripts/provisioned-image.sh "$distro" --check >"$logdir/_provisioned-image.log" 2>&1; then
  result_line PASS "(provisioned-image)" 0 0 0s >"$logdir/_provisioned-image.result"
elif $snapshot_needed; then
  ( start=$(date +%s)
    if with_host_cgroup _provisioned-image scripts/provisioned-image.sh "$distro" >"$logdir/_provisioned-image.log" 2>&1
    then result=PASS; else result=FAIL; fi
    children_cpu "$logdir/_provisioned-image.times"
    result_line "$result" "(provisioned-image)" "$(( $(date +%s) - start ))" "$cpu" "$host_used" \
      >"$logdir/_provisioned-image.result"
  ) &
fi

run_one() {
  local scenario=$1 start result cpu host_used="-"
  start=$(date +%s)
  if uses_snapshot "$scenario"; then
    if ! grep -q '^PASS' "$logdir/_provisioned-image.result"; then
      cp "$logdir/_provisioned-image.log" "$logdir/$scenario.log"
      result_line FAIL "$scenario" 0 0 | tee "$logdir/$scenario.result"
      return
    fi
  fi
  local rc=0
  with_host_cgroup "$scenario" run_scenario "$scenario" || rc=$?
  if (( rc == 0 )); then
    result=PASS
  else
    result=FAIL
    # 124: stopped at the limit; 137: killed a minute after, having ignored the stop.
    if (( rc == 124 || rc == 137 )) && (( $(date +%s) - start >= limit )); then
      echo "=== stopped: still running after ${limit}s (MOLECULE_SCENARIO_TIMEOUT)" >>"$logdir/$scenario.log"
    fi
  fi
  children_cpu "$logdir/$scenario.times"
  result_line "$result" "$scenario" "$(( $(date +%s) - start ))" "$cpu" "$host_used" | tee "$logdir/$scenario.result"
}
# molecule test for one scenario under its time limit; the exit status is molecule's (or timeout's).
run_scenario() {
  local rc=0 timeout_pid
  MOLECULE_DISTRO=$distro timeout --kill-after=60 "$limit" molecule test -s "$1" >"$logdir/$1.log" 2>&1 &
  timeout_pid=$!
  echo "$timeout_pid" >"$logdir/$1.timeout-pid"
  wait "$timeout_pid" || rc=$?
  rm -f "$logdir/$1.timeout-pid"
  return "$rc"
}
# The first scenario in the list that may start now: any before the image is there would
# hold a slot doing nothing.
next_ready() {
  local scenario
  for scenario in "${pending[@]}"; do
    if [[ -f $logdir/_provisioned-image.result ]] || ! uses_snapshot "$scenario"; then
      echo "$scenario"
      return
    fi
  done
}

# cpu_idle and cpu_total: idle (plus iowait) and all CPU time since boot, from the first line of
# /proc/stat. A line that cannot be read keeps the last figures (no time passed: none starts).
cpu_idle=0 cpu_total=0
cpu_times() {
  local _cpu user nice system idle iowait irq softirq steal
  read -r _cpu user nice system idle iowait irq softirq steal _ <"$proc_stat" || return 0
  [[ $steal =~ ^[0-9]+$ ]] || return 0
  cpu_idle=$((idle + iowait))
  cpu_total=$((user + nice + system + idle + iowait + irq + softirq + steal))
}
# Since when the CPU is watched: the last start of a scenario.
watch_from() { watch_t=$(date +%s); cpu_times; watch_idle=$cpu_idle watch_total=$cpu_total; }
# Succeeds when a whole window has passed since then with the CPU idle for idle_percent of it;
# a window that fell short starts the next.
cpu_to_spare() {
  (( $(date +%s) - watch_t >= idle_window )) || return 1
  cpu_times
  (( cpu_total > watch_total && (cpu_idle - watch_idle) * 100 >= idle_percent * (cpu_total - watch_total) )) && return 0
  watch_from
  return 1
}

started=$(date +%s)
extra=""
(( jobs_max <= jobs )) || extra=" (up to $jobs_max while the CPU idles)"
echo "=== molecule: $# scenarios on $distro, $jobs at a time$extra; logs in $logdir"
watch_from
pending=("$@")
running=()
while (( ${#pending[@]} + ${#running[@]} )); do
  alive=()
  for pid in "${running[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); else wait "$pid" || true; fi
  done
  running=("${alive[@]}")
  next=""
  if (( ${#running[@]} < jobs )) || { (( ${#running[@]} < jobs_max )) && cpu_to_spare; }; then
    next=$(next_ready)
  fi
  if [[ -n $next ]]; then
    (( ${#running[@]} < jobs )) || echo "=== $next starts as scenario $(( ${#running[@]} + 1 )): the CPU idled"
    watch_from
    run_one "$next" &
    running+=("$!")
    left=()
    for scenario in "${pending[@]}"; do [[ $scenario == "$next" ]] || left+=("$scenario"); done
    pending=("${left[@]}")
  else
    sleep 2
  fi
done
wait


echo "=== molecule summary ($distro), wall time $(( $(date +%s) - started ))s"
cat "$logdir"/*.result
scripts/pkg-cache.sh stats || true
failed=()
for scenario in "$@"; do
  grep -q '^PASS' "$logdir/$scenario.result" 2>/dev/null || failed+=("$scenario")
done
for scenario in "${failed[@]}"; do
  echo "=== log of the failed scenario $scenario"
  cat "$logdir/$scenario.log" 2>/dev/null || echo "(no log: it did not start)"
done
# The failed tasks once more, last: a CI log is often shown by its end only.
for scenario in "${failed[@]}"; do
  echo "=== failed tasks in $scenario (the last 80 lines: the one that stopped it comes last)"
  # Each failure's block up to the next task, without those the scenario expected (...ignoring);
  # failures a block rescued are not marked, so the end is kept.
  awk '/^TASK \[/{if (keep) printf "%s", block; keep=0; block=""; task=$0}
       /^(fatal|failed): /{keep=1; block=task "\n"} keep{block=block $0 "\n"} /^\.\.\.ignoring/{keep=0}
       END{if (keep) printf "%s", block}' "$logdir/$scenario.log" 2>/dev/null | cut -c1-400 | tail -80 || true
done
if (( ${#failed[@]} )); then
  echo "FAILED on $distro: ${failed[*]}"
  exit 1
fi
